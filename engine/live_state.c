/* SPDX-License-Identifier: MIT */
/*
 * live_state.c - what the live engine (live.c) measures and what it sets:
 * device readings and their freshness, the station's measured state and
 * its alarms (device offline, meter lost, SoC unknown), charging sessions
 * inferred from connector states and drivers' declarations applied to
 * them, the controller input of the cycle; then the dispatcher's override
 * of the battery, the worst case without a meter, and the setpoints
 * posted to the devices.
 *
 * Runs on the control thread; the fields it shares with other threads are
 * read under dr_mu (see struct live in live_internal.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "live_internal.h"

#include "../common/clock.h"
#include "../common/logger.h"
#include "../io/device.h"
#include "correction.h"
#include "ev_forecast.h"
#include "planner.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* ---- measured state ---- */

int live_fresh(const struct live *l, int d, int64_t now)
{
    const struct device_reading *r = &l->rd[d];
    int64_t poll = device_config(l->dev[d])->poll_ms;

    return r->online && r->ts_ms > 0 && now - r->ts_ms <= LIVE_STALE_POLLS * poll + l->opt.cycle_ms;
}

int live_conn_type(const struct live *l, int k)
{
    int c;

    planner_connector(l->st, k, &c);
    return l->st->chargers[c].type == STATION_CHARGER_DC ? EV_FORECAST_DC : EV_FORECAST_AC;
}

/* Connector index of a connector id, or -1. */
int live_conn_index(const struct live *l, const char *id)
{
    for (int k = 0; k < l->n_conn; k++) {
        if (strcmp(planner_connector(l->st, k, NULL)->id, id) == 0) {
            return k;
        }
    }
    return -1;
}

/* Apply the drivers' declarations waiting for connectors with an open
 * session, and drop those that have waited too long for a car; one lock
 * per cycle. Returns 1 when one was applied. */
static int live_apply_declared(struct live *l, int64_t now)
{
    struct live_declared take[LIVE_CONNECTORS_MAX];
    int changed = 0;

    pthread_mutex_lock(&l->dr_mu);
    for (int k = 0; k < l->n_conn; k++) {
        struct live_declared *d = &l->declared[k];

        take[k].set = d->set && l->sess[k].open;
        if (take[k].set) {
            take[k] = *d;
        }
        if (d->set && (l->sess[k].open || now - d->received_ms > LIVE_DECLARE_HOLD_MS)) {
            d->set = 0;
        }
    }
    pthread_mutex_unlock(&l->dr_mu);
    for (int k = 0; k < l->n_conn; k++) {
        struct live_session *s = &l->sess[k];

        if (!take[k].set) {
            continue;
        }
        if (take[k].departure_ms > 0) {
            s->departure_ms = take[k].departure_ms;
            s->declared_departure = 1;
        }
        if (!isnan(take[k].wanted_kwh)) {
            s->wanted_kwh = take[k].wanted_kwh;
            s->declared_energy = 1;
        }
        LOGI("live",
             "session %s: declared%s%s",
             s->id,
             take[k].departure_ms > 0 ? " departure" : "",
             !isnan(take[k].wanted_kwh) ? " energy" : "");
        live_put_session(l, k, 0);
        changed = 1;
    }
    return changed;
}

/* Open and close sessions from connector states; returns 1 on a change. */
int live_sessions(struct live *l, int64_t now)
{
    int changed = 0;

    for (int k = 0; k < l->n_conn; k++) {
        int d = l->conn_dev[k];
        struct live_session *s = &l->sess[k];
        int car;
        int type = live_conn_type(l, k);

        if (d < 0 || !live_fresh(l, d, now)) {
            continue; /* unknown: keep what we believed */
        }
        car = l->rd[d].connector_state == DEVICE_CONNECTOR_PLUGGED ||
              l->rd[d].connector_state == DEVICE_CONNECTOR_CHARGING;
        if (car && !s->open) {
            memset(s, 0, sizeof(*s));
            s->open = 1;
            s->plug_ms = now;
            s->wanted_kwh = l->evf.kwh[type];
            s->departure_ms = now + (int64_t)(l->evf.stay_min[type] * 60000.0);
            ev_forecast_arrival(&l->evf, type, now);
            snprintf(s->id,
                     sizeof(s->id),
                     "%s-%lld",
                     planner_connector(l->st, k, NULL)->id,
                     (long long)(now / 1000));
            LOGI("live", "session %s: plugged in", s->id);
            live_put_session(l, k, 0);
            changed = 1;
        } else if (!car && s->open) {
            double stay_min = (double)(now - s->plug_ms) / 60000.0;

            ev_forecast_departure(&l->evf, type, s->delivered_kwh, stay_min);
            LOGI("live",
                 "session %s: unplugged after %.0f min with %.2f kWh",
                 s->id,
                 stay_min,
                 s->delivered_kwh);
            live_put_session(l, k, now);
            s->open = 0;
            changed = 1;
        }
        if (s->open) {
            s->delivered_kwh = l->rd[d].session_kwh;
        }
    }
    return changed | live_apply_declared(l, now);
}

/* The controller input for now: measured state, sessions, DR events. */
void live_input(struct live *l,
                int64_t now,
                struct controller_input *in,
                struct controller_ev *evs,
                struct controller_dr *dr,
                double *accept_kw)
{
    memset(in, 0, sizeof(*in));
    in->now_ms = now;
    in->soc = l->status.soc;
    in->soc_known = l->soc_known;
    in->pv_available_kw = l->status.pv_kw;
    in->base_load_kw = l->status.base_kw;
    in->evs = evs;
    for (int k = 0; k < l->n_conn; k++) {
        const struct live_session *s = &l->sess[k];
        const struct station_connector *conn = planner_connector(l->st, k, NULL);
        int d = l->conn_dev[k];
        struct controller_ev *ev;

        accept_kw[k] = 0.0;
        if (!s->open || d < 0 || !live_fresh(l, d, now)) {
            continue; /* an offline connector is left out of the plan */
        }
        ev = &evs[in->n_evs++];
        memset(ev, 0, sizeof(*ev));
        snprintf(ev->id, sizeof(ev->id), "%s", s->id);
        ev->connector = k;
        ev->plug_ms = s->plug_ms;
        ev->departure_ms = s->departure_ms;
        ev->wanted_kwh = fmax(0.0, s->wanted_kwh - s->delivered_kwh);
        ev->max_kw = conn->max_kw;
        /* a car drawing clearly less than its limit shows what it accepts */
        if (l->rd[d].ev_kw < l->rd[d].ev_limit_kw - 1.0 &&
            l->rd[d].connector_state == DEVICE_CONNECTOR_CHARGING) {
            accept_kw[k] = fmin(conn->max_kw, l->rd[d].ev_kw + 0.5);
        } else {
            accept_kw[k] = conn->max_kw;
        }
    }
    pthread_mutex_lock(&l->dr_mu);
    memcpy(dr, l->dr, sizeof(*dr) * (size_t)l->n_dr);
    in->n_dr = l->n_dr;
    pthread_mutex_unlock(&l->dr_mu);
    /* prices: copied into the planner's request under the lock (the rules
     * follow the tariff calendar) */
    in->dr = dr;
    in->departure_margin_ms = (int64_t)l->st->control.departure_margin_min * 60000;
}

void live_measure(struct live *l, int64_t now)
{
    struct live_status *s = &l->status;
    double pv = 0.0;
    double ev = 0.0;
    int online = 0;

    for (int d = 0; d < l->n_dev; d++) {
        device_reading(l->dev[d], &l->rd[d]);
        online += l->rd[d].online;
        if (l->was_online[d] < 0 && !l->rd[d].online &&
            clock_mono_ms(l->clock) - l->start_mono_ms < LIVE_CONNECT_GRACE_MS) {
            continue; /* still connecting for the first time */
        }
        if (l->rd[d].online != l->was_online[d]) {
            const char *id = device_config(l->dev[d])->id;

            if (l->was_online[d] < 0 && l->rd[d].online) {
                LOGI("live", "device %s online", id); /* first contact: no alarm to clear */
            } else if (l->rd[d].online) {
                LOGI("live", "alarm cleared: device %s online", id);
            } else {
                LOGW("live", "alarm: device %s offline: %s", id, l->rd[d].error);
            }
            if (l->was_online[d] >= 0 || !l->rd[d].online) {
                live_alarm(l, id, "comm_lost", !l->rd[d].online, l->rd[d].error);
            }
            l->was_online[d] = l->rd[d].online;
            l->replan_wanted = 1;
        }
    }
    s->devices_online = online;
    s->devices_total = l->n_dev;
    s->poll_max_ms = 0.0;
    for (int d = 0; d < l->n_dev; d++) {
        if (l->rd[d].online) {
            s->poll_max_ms = fmax(s->poll_max_ms, (double)l->rd[d].poll_us / 1000.0);
        }
    }
    for (int i = 0; i < l->st->n_pv_arrays; i++) {
        int d = l->pv_dev[i];

        if (d >= 0 && live_fresh(l, d, now)) {
            pv += l->rd[d].pv_kw;
        }
    }
    for (int k = 0; k < l->n_conn; k++) {
        int d = l->conn_dev[k];

        if (d >= 0 && live_fresh(l, d, now)) {
            ev += l->rd[d].ev_kw;
        }
    }
    s->pv_kw = pv;
    s->ev_kw = ev;
    s->ess_kw = 0.0;
    s->soc = 0.0;
    if (l->storage >= 0 && live_fresh(l, l->storage, now)) {
        s->ess_kw = l->rd[l->storage].ess_kw;
        s->soc = l->rd[l->storage].soc;
        s->soc_known = l->rd[l->storage].soc_known;
    } else {
        s->soc_known = 0;
    }
    s->n_conn = l->n_conn < LIVE_STATUS_CONNECTORS ? l->n_conn : LIVE_STATUS_CONNECTORS;
    for (int k = 0; k < s->n_conn; k++) {
        int d = l->conn_dev[k];
        int fresh = d >= 0 && live_fresh(l, d, now);

        s->conn_state[k] = fresh ? l->rd[d].connector_state : DEVICE_CONNECTOR_UNKNOWN;
        s->conn_kw[k] = fresh ? l->rd[d].ev_kw : 0.0;
    }
    s->parking_ok = l->parking >= 0 && live_fresh(l, l->parking, now);
    if (s->parking_ok) {
        s->parking_occupied = l->rd[l->parking].occupied;
        s->parking_spaces = l->rd[l->parking].spaces_watched;
        s->gate_in = l->rd[l->parking].gate_in;
        s->gate_out = l->rd[l->parking].gate_out;
    }
    s->meter_ok = l->meter >= 0 && live_fresh(l, l->meter, now);
    if (s->meter_ok) {
        s->grid_kw = l->rd[l->meter].grid_kw;
        /* what is not PV, battery or EV at the meter is the base load. The
         * devices are polled apart, so the meter may not yet show what the
         * battery or a charger just did: taken raw, such a mismatched pair
         * made the correction swing the battery every other cycle. A rise
         * is believed at once (an import cap must see a load step now), a
         * fall only gradually, which errs towards more import: the safe
         * side of every limit. */
        double raw = fmax(0.0, s->grid_kw + pv + s->ess_kw - ev);

        l->base_est_kw = raw >= l->base_est_kw || isnan(l->base_est_kw)
                             ? raw
                             : l->base_est_kw + LIVE_BASE_FALL * (raw - l->base_est_kw);
        s->base_kw = l->base_est_kw;
    } else {
        struct clock_civil lt;

        clock_to_local(now, &lt);
        s->grid_kw = NAN;
        s->base_kw = station_base_load_kw(l->st, lt.hour * 60 + lt.minute);
    }
    if (s->meter_ok != l->meter_ok) {
        if (s->meter_ok) {
            LOGI("live", "alarm cleared: meter back, chargers follow the plan again");
        } else {
            LOGW("live", "alarm: meter lost, chargers capped for the worst case");
        }
        live_alarm(l, "meter", "meter_lost", !s->meter_ok, "chargers capped for the worst case");
        l->meter_ok = s->meter_ok;
    }
    if (s->soc_known != l->soc_known && l->storage >= 0) {
        if (s->soc_known) {
            LOGI("live", "alarm cleared: battery SoC known again");
        } else {
            LOGW("live", "alarm: battery SoC unknown, battery held idle");
        }
        live_alarm(l, "storage", "soc_unknown", !s->soc_known, "battery held idle");
        l->soc_known = s->soc_known;
        l->replan_wanted = 1;
    }
}

/* ---- commands ---- */

/* An immediate command from the dispatcher replaces the battery's setpoint;
 * the correction then keeps the limits with what is left. */
void live_apply_override(struct live *l,
                         int64_t now,
                         const struct correction_limits *lim,
                         const struct correction_measure *m,
                         const double *accept,
                         struct controller_output *out)
{
    struct live_override o;
    const struct station_ess *e = &l->st->ess;

    (void)accept;
    pthread_mutex_lock(&l->dr_mu);
    if (l->ovr.mode != LIVE_OVERRIDE_NONE && l->ovr.until_ms > 0 && now >= l->ovr.until_ms) {
        LOGI("live", "command expired: back to automatic");
        l->ovr.mode = LIVE_OVERRIDE_NONE;
        l->replan_wanted = 1;
    }
    o = l->ovr;
    pthread_mutex_unlock(&l->dr_mu);
    l->status.override_mode = o.mode;
    if (o.mode == LIVE_OVERRIDE_NONE || !l->st->has_ess || !l->soc_known) {
        return;
    }
    switch (o.mode) {
    case LIVE_OVERRIDE_BATTERY:
        out->ess_kw = fmin(fmax(o.battery_kw, -e->charge_max_kw), e->discharge_max_kw);
        break;
    case LIVE_OVERRIDE_HOLD_RESERVE:
        if (l->status.soc <= e->reserve_soc) {
            out->ess_kw = -0.5 * e->charge_max_kw; /* refill towards the reserve */
        } else if (out->ess_kw > 0.0 && l->status.soc < e->reserve_soc + 0.02) {
            out->ess_kw = 0.0;
        }
        break;
    case LIVE_OVERRIDE_SUPPORT:
        out->ess_kw = e->discharge_max_kw;
        break;
    default:
        break;
    }
    /* the planned grid flow no longer holds: the limits alone decide */
    out->planned_import_kw = -INFINITY;
    correction_apply(l->st, l->copt.step_minutes, lim, m, out);
}

/* ---- setpoints ---- */

/* Meter lost: chargers share what the connection (or DR cap) leaves with no
 * PV, the base load at its highest and the battery not charging. */
void live_worst_case(struct live *l,
                     const struct correction_limits *lim,
                     struct controller_output *out)
{
    const struct station_base_load *b = &l->st->base_load;
    double base_max = fmax(b->amenity_day_kw, b->night_kw) + b->lighting_kw;
    double budget = lim->import_max_kw - base_max;
    double sum = 0.0;

    if (out->ess_kw < 0.0) {
        out->ess_kw = 0.0; /* no charging: it could only add import */
    }
    for (int k = 0; k < l->n_conn; k++) {
        sum += out->connector_kw[k];
    }
    budget = fmax(0.0, budget);
    if (sum > budget) {
        for (int k = 0; k < l->n_conn; k++) {
            out->connector_kw[k] *= budget / sum;
        }
    }
}

void live_post(struct live *l, const struct controller_output *out, int64_t now)
{
    double ev = 0.0;

    for (int i = 0; i < l->st->n_pv_arrays; i++) {
        int d = l->pv_dev[i];

        if (d < 0 || !live_fresh(l, d, now)) {
            continue;
        }
        /* the plan's PV limit is for the whole plant: share it by rating */
        if (isinf(out->pv_limit_kw)) {
            device_set(l->dev[d], l->st->pv_arrays[i].inverter_ac_kw);
        } else {
            double total = 0.0;

            for (int j = 0; j < l->st->n_pv_arrays; j++) {
                total += l->st->pv_arrays[j].inverter_ac_kw;
            }
            device_set(l->dev[d],
                       out->pv_limit_kw * l->st->pv_arrays[i].inverter_ac_kw / fmax(total, 1e-9));
        }
    }
    if (l->storage >= 0 && live_fresh(l, l->storage, now)) {
        device_set(l->dev[l->storage], l->soc_known ? out->ess_kw : 0.0);
    }
    for (int k = 0; k < l->n_conn; k++) {
        int d = l->conn_dev[k];

        if (d >= 0 && live_fresh(l, d, now)) {
            device_set(l->dev[d], out->connector_kw[k]);
            ev += out->connector_kw[k];
        }
    }
    l->status.set_ess_kw = l->soc_known ? out->ess_kw : 0.0;
    l->status.set_pv_limit_kw = out->pv_limit_kw;
    l->status.set_ev_kw = ev;
}
