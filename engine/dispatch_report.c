/* SPDX-License-Identifier: MIT */
/*
 * dispatch_report.c - what flexd reports to the dispatcher and the
 * platforms on its own (docs/mqtt.md): the adjustable capacity of the plan
 * in force (retained; on a new plan and every capacity period), live data
 * (flows, connectors and parking when they change, a snapshot every
 * snapshot period) and the daily report, summed tick by tick and sent
 * once the local day is over. Acks come from dispatch.c, DR performance
 * from dispatch_event.c.
 *
 * Runs on the dispatcher's thread, from its tick (dispatch.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "dispatch_internal.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../io/device.h"
#include "../models/tariff.h"
#include "planner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DS_WINDOW_HOURS  24
#define DS_LIVE_ROUND_KW 0.1 /* live data changes smaller than this are not news */

/* ---- outbound: adjustable capacity ------------------------------------------ */

/* The largest change that every plan step overlapping [start, start +
 * minutes) allows; 0 when the window leaves the flexibility horizon. */
static void
ds_window(const struct live_capacity *c, int64_t start_ms, int minutes, struct dispatch_window *w)
{
    int64_t step_ms = (int64_t)c->step_minutes * 60000;
    int64_t end_ms = start_ms + (int64_t)minutes * 60000;
    int64_t k0 = (start_ms - c->start_ms) / step_ms;
    int64_t k1 = (end_ms - 1 - c->start_ms) / step_ms;

    w->start_ms = start_ms;
    w->minutes = minutes;
    w->reduce_kw = INFINITY;
    w->increase_kw = INFINITY;
    if (k0 < 0 || k1 >= c->n_flex) {
        w->reduce_kw = w->increase_kw = 0.0;
        return;
    }
    for (int64_t k = k0; k <= k1; k++) {
        w->reduce_kw = fmin(w->reduce_kw, fmax(0.0, c->plan_kw[k] - c->net_min_kw[k]));
        w->increase_kw = fmin(w->increase_kw, fmax(0.0, c->net_max_kw[k] - c->plan_kw[k]));
    }
}

void ds_capacity(struct dispatch *d)
{
    static const int minutes[] = {15, 30, 60, 120};
    const struct live_capacity *c = d->cap;
    struct dispatch_capacity_step *steps;
    struct dispatch_window w[4 * DS_WINDOW_HOURS];
    int64_t step_ms, first;
    int n = 0, nw = 0;

    if (live_capacity(d->o.live, d->cap) != ERROR_OK) {
        return;
    }
    if (strcmp(c->plan_id, d->cap_plan_id) == 0 && d->now_ms < d->cap_next_ms) {
        return;
    }
    snprintf(d->cap_plan_id, sizeof(d->cap_plan_id), "%s", c->plan_id);
    d->cap_next_ms = d->now_ms + d->o.capacity_period_ms;
    step_ms = (int64_t)c->step_minutes * 60000;
    first = d->now_ms > c->start_ms ? (d->now_ms - c->start_ms) / step_ms : 0;
    steps = alloc_array((size_t)(c->n_flex > 0 ? c->n_flex : 1), sizeof(*steps));
    for (int64_t k = first; k < c->n_flex && n < 24 * 60 / c->step_minutes; k++) {
        steps[n].start_ms = c->start_ms + k * step_ms;
        steps[n].net_min_kw = c->net_min_kw[k];
        steps[n].net_max_kw = c->net_max_kw[k];
        steps[n].plan_kw = c->plan_kw[k];
        steps[n].marginal_cny_per_kwh = c->marginal_cny_per_kwh[k];
        n++;
    }
    for (int h = 0; h < DS_WINDOW_HOURS; h++) {
        int64_t start = h == 0 ? d->now_ms : (d->now_ms / 3600000 + h) * 3600000;

        for (int m = 0; m < 4; m++) {
            ds_window(c, start, minutes[m], &w[nw]);
            if (w[nw].reduce_kw > 0.0 || w[nw].increase_kw > 0.0 || h == 0) {
                nw++;
            }
        }
    }
    ds_publish(d,
               DISPATCH_TOPIC_CAPACITY,
               dispatch_capacity_json(d->now_ms, steps, n, c->step_minutes, w, nw),
               1,
               OUTBOX_CAPACITY,
               NULL);
    ds_stat(d, &d->stats.capacity_reports, 1);
    free(steps);
}

/* ---- outbound: live data ------------------------------------------------- */

static enum dispatch_connector_state ds_conn_state(int s)
{
    switch (s) {
    case DEVICE_CONNECTOR_AVAILABLE:
        return DISPATCH_CONN_AVAILABLE;
    case DEVICE_CONNECTOR_PLUGGED:
        return DISPATCH_CONN_PREPARING;
    case DEVICE_CONNECTOR_CHARGING:
        return DISPATCH_CONN_CHARGING;
    case DEVICE_CONNECTOR_FAULT:
        return DISPATCH_CONN_FAULTED;
    default:
        return DISPATCH_CONN_UNKNOWN;
    }
}

static double ds_round(double kw)
{
    return isfinite(kw) ? round(kw / DS_LIVE_ROUND_KW) * DS_LIVE_ROUND_KW : kw;
}

static void ds_flows(const struct live_status *ls, struct dispatch_flows *f)
{
    f->grid_kw = ls->meter_ok ? ds_round(ls->grid_kw) : NAN;
    f->pv_kw = ds_round(ls->pv_kw);
    f->pv_limit_kw = ds_round(ls->set_pv_limit_kw);
    f->battery_kw = ds_round(ls->ess_kw);
    f->battery_soc = ls->soc_known ? round(ls->soc * 1000.0) / 1000.0 : NAN;
    f->ev_kw = ds_round(ls->ev_kw);
    f->base_kw = ds_round(ls->base_kw);
    f->import_max_kw = ds_round(ls->import_max_kw);
    f->import_min_kw = ds_round(ls->import_min_kw);
}

static void ds_parking(struct dispatch *d, struct dispatch_parking *p)
{
    const struct live_status *ls = &d->ls;

    memset(p, 0, sizeof(*p));
    p->spaces = d->o.st->parking.spaces;
    p->occupied = ls->parking_ok ? ls->parking_occupied : -1;
    p->ev_spaces = d->o.st->parking.ev_spaces;
    p->ev_occupied = 0;
    for (int k = 0; k < ls->n_conn; k++) {
        p->ev_occupied += ls->conn_state[k] == DEVICE_CONNECTOR_PLUGGED ||
                          ls->conn_state[k] == DEVICE_CONNECTOR_CHARGING;
    }
    p->accessible_spaces = d->o.st->parking.accessible_spaces;
    p->accessible_occupied = -1; /* no sensor tells */
    p->entries_today = d->gates_known ? (int)(ls->gate_in - d->gate_in0) : -1;
    p->exits_today = d->gates_known ? (int)(ls->gate_out - d->gate_out0) : -1;
}

static struct dispatch_connector *ds_connectors(struct dispatch *d)
{
    struct dispatch_connector *c = alloc_array((size_t)d->ls.n_conn + 1, sizeof(*c));

    for (int k = 0; k < d->ls.n_conn; k++) {
        const struct station_connector *sc = planner_connector(d->o.st, k, NULL);

        snprintf(c[k].id, sizeof(c[k].id), "%s", sc ? sc->id : "?");
        c[k].state = ds_conn_state(d->ls.conn_state[k]);
        c[k].power_kw = ds_round(d->ls.conn_kw[k]);
        c[k].limit_kw = NAN; /* live_status has the sum only */
        c[k].max_kw = sc ? sc->max_kw : NAN;
        c[k].session_kwh = NAN;
        c[k].soc = NAN;
    }
    return c;
}

static const char *ds_active_event(const struct dispatch *d)
{
    for (int j = 0; j < DS_EVENTS_MAX; j++) {
        if (d->ev[j].used && d->ev[j].state == DS_ACTIVE) {
            return d->ev[j].ev.id;
        }
    }
    return NULL;
}

void ds_live(struct dispatch *d)
{
    const struct live_status *ls = &d->ls;
    struct dispatch_flows f;
    struct dispatch_parking p;
    struct dispatch_connector *c = ds_connectors(d);
    int conn_changed = !d->live_init;
    int n = 0;

    ds_flows(ls, &f);
    ds_parking(d, &p);
    for (int k = 0; k < ls->n_conn; k++) {
        conn_changed |=
            d->last_conn_state[k] != ls->conn_state[k] || d->last_conn_kw[k] != c[k].power_kw;
        d->last_conn_state[k] = ls->conn_state[k];
        d->last_conn_kw[k] = c[k].power_kw;
    }
    /* one message per topic per tick at most: the tick is the throttle */
    if (!d->live_init || memcmp(&f, &d->last_flows, sizeof(f)) != 0) {
        ds_publish(d,
                   DISPATCH_TOPIC_LIVE_FLOWS,
                   dispatch_flows_json(d->now_ms, &f),
                   0,
                   OUTBOX_LIVE,
                   NULL);
        n++;
    }
    if (conn_changed) {
        ds_publish(d,
                   DISPATCH_TOPIC_LIVE_CONNECTORS,
                   dispatch_connectors_json(d->now_ms, c, ls->n_conn),
                   0,
                   OUTBOX_LIVE,
                   NULL);
        n++;
    }
    if (!d->live_init || memcmp(&p, &d->last_parking, sizeof(p)) != 0) {
        ds_publish(d,
                   DISPATCH_TOPIC_LIVE_PARKING,
                   dispatch_parking_json(d->now_ms, &p),
                   0,
                   OUTBOX_LIVE,
                   NULL);
        n++;
    }
    if (d->now_ms >= d->snapshot_next_ms) {
        struct dispatch_snapshot s;

        memset(&s, 0, sizeof(s));
        s.mode = !ls->meter_ok                     ? DISPATCH_MODE_FAILSAFE
                 : ls->override_mode || d->cmd_cap ? DISPATCH_MODE_COMMAND
                 : ls->on_plan                     ? DISPATCH_MODE_PLAN
                                                   : DISPATCH_MODE_RULES;
        s.dr_event_id = ds_active_event(d);
        s.command_id = d->cmd_cap ? d->cmd_cap_id : d->cmd_ovr_id[0] ? d->cmd_ovr_id : NULL;
        s.devices_online = ls->devices_online;
        s.devices_total = ls->devices_total;
        s.sessions_open = ls->sessions_open;
        s.flows = f;
        s.parking = p;
        s.connectors = c;
        s.n_connectors = ls->n_conn;
        ds_publish(d,
                   DISPATCH_TOPIC_LIVE_SNAPSHOT,
                   dispatch_snapshot_json(d->now_ms, &s),
                   0,
                   OUTBOX_LIVE,
                   NULL);
        d->snapshot_next_ms = d->now_ms + d->o.snapshot_period_ms;
        n++;
    }
    d->last_flows = f;
    d->last_parking = p;
    d->live_init = 1;
    free(c);
    ds_stat(d, &d->stats.live_reports, n);
}

/* ---- outbound: the daily report ----------------------------------------- */

static int64_t ds_local_midnight(int64_t ts_ms)
{
    struct clock_civil c;

    clock_to_local(ts_ms, &c);
    return clock_from_local(c.year, c.month, c.day, 0, 0, 0);
}

/* Platform prices where they cover t, else the station's tariff. */
static void ds_prices_at(const struct dispatch *d, int64_t t, double *buy, double *sell)
{
    for (int i = 0; i < d->n_prices; i++) {
        if (t >= d->prices[i].start_ms && t < d->prices[i].end_ms) {
            *buy = d->prices[i].buy_cny_per_kwh;
            *sell = d->prices[i].sell_cny_per_kwh;
            return;
        }
    }
    *buy = tariff_buy_at(&d->o.st->tariff, t);
    *sell = tariff_sell_at(&d->o.st->tariff, t);
}

static void ds_day_reset(struct dispatch *d)
{
    struct clock_civil c;

    memset(&d->day, 0, sizeof(d->day));
    d->day_start_ms = ds_local_midnight(d->now_ms);
    clock_to_local(d->day_start_ms, &c);
    snprintf(d->day.date, sizeof(d->day.date), "%04d-%02d-%02d", c.year % 10000, c.month, c.day);
    d->day_required_kwh = 0.0;
    d->quarter_start_ms = d->now_ms / (15 * 60000) * (15 * 60000);
    d->quarter_kwh = 0.0;
    d->gates_known = d->ls.parking_ok;
    d->gate_in0 = d->ls.gate_in;
    d->gate_out0 = d->ls.gate_out;
}

void ds_daily(struct dispatch *d)
{
    const struct live_status *ls = &d->ls;
    int64_t dt_ms = d->last_tick_ms ? d->now_ms - d->last_tick_ms : 0;
    double h, buy, sell, imp, exp;

    if (d->day_start_ms == 0) {
        ds_day_reset(d);
    }
    if (d->now_ms >= d->day_start_ms + CLOCK_DAY_MS) {
        d->day.dr_compliance = ds_compliance(d->day.dr_delivered_kwh, d->day_required_kwh);
        if (d->day.dr_events == 0) {
            d->day.dr_compliance = NAN;
        }
        d->day.pv_curtailed_kwh = NAN; /* live does not know the PV available */
        ds_publish(d,
                   DISPATCH_TOPIC_REPORT_DAILY,
                   dispatch_daily_json(d->now_ms, &d->day),
                   0,
                   OUTBOX_DAILY,
                   NULL);
        ds_stat(d, &d->stats.daily_reports, 1);
        ds_day_reset(d);
    }
    if (!d->gates_known && ls->parking_ok) {
        d->gates_known = 1;
        d->gate_in0 = ls->gate_in;
        d->gate_out0 = ls->gate_out;
    }
    for (int k = 0; k < ls->n_conn; k++) {
        int plugged = ls->conn_state[k] == DEVICE_CONNECTOR_PLUGGED ||
                      ls->conn_state[k] == DEVICE_CONNECTOR_CHARGING;

        d->day.sessions += plugged && !d->prev_plugged[k] && d->last_tick_ms;
        d->prev_plugged[k] = plugged;
    }
    if (dt_ms <= 0 || dt_ms > 5 * (int64_t)d->o.tick_ms || !ls->meter_ok) {
        return; /* a gap is not integrated */
    }
    h = (double)dt_ms / 3.6e6;
    ds_prices_at(d, d->now_ms, &buy, &sell);
    imp = fmax(0.0, ls->grid_kw);
    exp = fmax(0.0, -ls->grid_kw);
    d->day.energy_charged_kwh += ls->ev_kw * h;
    d->day.revenue_energy_cny += ls->ev_kw * h * (isfinite(buy) ? buy : 0.0);
    d->day.revenue_service_cny += ls->ev_kw * h * d->o.st->tariff.service_fee_cny_per_kwh;
    d->day.pv_generated_kwh += ls->pv_kw * h;
    d->day.pv_self_consumed_kwh += fmax(0.0, ls->pv_kw - exp) * h;
    d->day.battery_throughput_kwh += fabs(ls->ess_kw) * h;
    d->day.grid_import_kwh += imp * h;
    d->day.grid_export_kwh += exp * h;
    d->day.grid_cost_cny += (imp * (isfinite(buy) ? buy : 0.0) - exp * sell) * h;
    if (d->now_ms >= d->quarter_start_ms + 15 * 60000) {
        d->day.peak_kw = fmax(d->day.peak_kw, d->quarter_kwh * 4.0);
        d->quarter_start_ms = d->now_ms / (15 * 60000) * (15 * 60000);
        d->quarter_kwh = 0.0;
    }
    d->quarter_kwh += ls->grid_kw * h;
}
