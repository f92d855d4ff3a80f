/* SPDX-License-Identifier: MIT */
/*
 * planner.c - scenario construction for the LP strategies. Pure function of
 * the station, the input and the step grid; engine thread.
 */
#include "planner.h"

#include "../common/clock.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const struct station_connector *planner_connector(const struct station *st, int i, int *charger)
{
    for (int c = 0; c < st->n_chargers; c++) {
        if (i < st->chargers[c].n_connectors) {
            if (charger) {
                *charger = c;
            }
            return &st->chargers[c].connectors[i];
        }
        i -= st->chargers[c].n_connectors;
    }
    return NULL;
}

/* Step index of instant ts on the grid starting at t0 (floor), clamped. */
static int planner_step_of(int64_t ts, int64_t t0, int64_t dt_ms, int steps)
{
    int64_t k;

    if (ts <= t0) {
        return 0;
    }
    k = (ts - t0) / dt_ms;
    return k > steps ? steps : (int)k;
}

static double planner_forecast(const double *v, int n, int t, double fallback)
{
    if (!v || n <= 0) {
        return fallback;
    }
    return v[t < n ? t : n - 1];
}

static void planner_series(struct scenario *sc,
                           const struct station *st,
                           const struct controller_input *in,
                           int64_t dt_ms)
{
    for (int t = 0; t < sc->steps; t++) {
        int64_t ts = in->now_ms + t * dt_ms;
        double buy = tariff_buy_at(&st->tariff, ts);
        double sell = tariff_sell_at(&st->tariff, ts);

        for (int i = 0; i < in->n_prices; i++) {
            if (ts + dt_ms / 2 >= in->prices[i].start_ms && ts + dt_ms / 2 < in->prices[i].end_ms) {
                buy = in->prices[i].buy_cny_per_kwh;
                sell = in->prices[i].sell_cny_per_kwh;
            }
        }

        sc->import_limit_kw[t] = st->grid.import_limit_kw;
        sc->export_limit_kw[t] = st->grid.export_limit_kw;
        sc->buy_cny_per_kwh[t] = buy;
        sc->sell_cny_per_kwh[t] = sell < buy ? sell : buy;
        sc->pv_available_kw[t] =
            planner_forecast(in->pv_forecast_kw, in->forecast_steps, t, in->pv_available_kw);
        sc->base_load_kw[t] =
            planner_forecast(in->base_forecast_kw, in->forecast_steps, t, in->base_load_kw) +
            planner_forecast(in->ev_forecast_kw, in->forecast_steps, t, 0.0);
    }
}

static void
planner_ess(struct scenario *sc, const struct station *st, const struct controller_input *in)
{
    const struct station_ess *e = &st->ess;

    sc->has_ess = st->has_ess && in->soc_known;
    if (!sc->has_ess) {
        return; /* SoC unknown: the battery is held idle, so it is not planned */
    }
    sc->ess.capacity_kwh = e->capacity_kwh;
    sc->ess.soc_min = e->soc_min;
    sc->ess.soc_max = e->soc_max;
    sc->ess.soc_initial = fmin(fmax(in->soc, e->soc_min), e->soc_max);
    sc->ess.reserve_soc = e->reserve_soc;
    sc->ess.soc_final_target = e->soc_final_target;
    sc->ess.charge_max_kw = e->charge_max_kw;
    sc->ess.discharge_max_kw = e->discharge_max_kw;
    sc->ess.charge_efficiency = e->charge_efficiency;
    sc->ess.discharge_efficiency = e->discharge_efficiency;
    sc->ess.throughput_cost_cny_per_kwh = e->throughput_cost_cny_per_kwh;
}

static void planner_connectors(struct scenario *sc, const struct station *st)
{
    int n = station_connector_count(st);
    int k = 0;

    scenario_set_connectors(sc, n);
    scenario_set_groups(sc, st->n_chargers);
    for (int c = 0; c < st->n_chargers; c++) {
        const struct station_charger *ch = &st->chargers[c];
        struct scenario_group *g = &sc->groups[c];

        snprintf(g->id, sizeof(g->id), "%s", ch->id);
        g->max_kw = ch->max_kw;
        for (int j = 0; j < ch->n_connectors; j++, k++) {
            sc->connectors[k].group = c;
            snprintf(sc->connectors[k].id,
                     sizeof(sc->connectors[k].id),
                     "%s",
                     ch->connectors[j].id);
            sc->connectors[k].max_kw = ch->connectors[j].max_kw;
        }
    }
}

/* Append cars as sessions, each due margin_ms before its departure; cars
 * whose window misses the horizon are left out, a car whose (declared)
 * departure has passed still gets one step. */
static void planner_sessions(struct scenario *sc,
                             const struct controller_ev *evs,
                             int n,
                             int64_t t0,
                             int64_t dt_ms,
                             int64_t margin_ms)
{
    for (int i = 0; i < n; i++) {
        const struct controller_ev *ev = &evs[i];
        struct scenario_session *s;
        int a = planner_step_of(ev->plug_ms, t0, dt_ms, sc->steps);
        int d = planner_step_of(ev->departure_ms - margin_ms, t0, dt_ms, sc->steps);

        if (a >= sc->steps || ev->wanted_kwh <= 0 || ev->connector < 0 ||
            ev->connector >= sc->n_connectors) {
            continue;
        }
        if (d <= a) {
            d = a + 1;
        }
        scenario_set_sessions(sc, sc->n_sessions + 1);
        s = &sc->sessions[sc->n_sessions - 1];
        snprintf(s->id, sizeof(s->id), "%s", ev->id);
        s->connector = ev->connector;
        s->arrival_step = a;
        s->departure_step = d;
        s->energy_kwh = ev->wanted_kwh;
        s->max_kw = ev->max_kw;
    }
}

static void planner_events(struct scenario *sc, const struct controller_input *in, int64_t dt_ms)
{
    for (int i = 0; i < in->n_dr; i++) {
        const struct controller_dr *ev = &in->dr[i];
        /* steps whose middle lies inside [start, end) */
        int64_t first = ev->start_ms - in->now_ms - dt_ms / 2;
        int64_t last = ev->end_ms - in->now_ms - dt_ms / 2;
        int a = first <= 0 ? 0 : (int)((first + dt_ms - 1) / dt_ms);
        int b = last <= 0 ? 0 : (int)((last + dt_ms - 1) / dt_ms);
        struct scenario_dr_event *d;

        if (ev->notice_ms > in->now_ms) {
            continue;
        }
        if (b > sc->steps) {
            b = sc->steps;
        }
        if (a >= b) {
            continue;
        }
        scenario_set_dr_events(sc, sc->n_dr_events + 1);
        d = &sc->dr_events[sc->n_dr_events - 1];
        snprintf(d->id, sizeof(d->id), "%s", ev->id);
        d->type = ev->type;
        d->start_step = a;
        d->end_step = b;
        d->limit_kw = ev->limit_kw;
    }
}

struct scenario *planner_build(const struct station *st,
                               const struct controller_input *in,
                               int step_minutes,
                               int steps)
{
    struct scenario *sc = scenario_new(steps);
    int64_t dt_ms = (int64_t)step_minutes * 60000;

    if (!sc) {
        return NULL;
    }
    sc->step_minutes = step_minutes;
    sc->penalties = st->penalties;
    sc->demand_charge_cny_per_kw = st->tariff.demand_charge_cny_per_kw_month;
    sc->demand_peak_floor_kw = fmax(in->month_peak_kw, st->grid.demand_target_kw);
    planner_series(sc, st, in, dt_ms);
    planner_ess(sc, st, in);
    planner_connectors(sc, st);
    planner_sessions(sc, in->evs, in->n_evs, in->now_ms, dt_ms, in->departure_margin_ms);
    planner_sessions(sc, in->future, in->n_future, in->now_ms, dt_ms, 0);
    planner_events(sc, in, dt_ms);
    return sc;
}
