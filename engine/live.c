/* SPDX-License-Identifier: MIT */
/*
 * live.c - the 1 s control cycle and the planner thread (see live.h).
 *
 * Threads: the caller's (cycles), the planner's (solves), and one per
 * device (io/device.c). The planner gets a copy of the controller input
 * and hands back a plan; nothing else is shared with it.
 */
#define _POSIX_C_SOURCE 200809L
#include "live.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/logger.h"
#include "../config/regmap_file.h"
#include "../io/device.h"
#include "../io/history.h"
#include "../io/plan_json.h"
#include "../optimizer/optimizer.h"
#include "correction.h"
#include "ev_forecast.h"
#include "forecast.h"
#include "planner.h"
#include "rules.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_CONNECTORS_MAX (STATION_CHARGERS_MAX * STATION_CONNECTORS_MAX)
#define LIVE_DR_MAX         32
#define LIVE_PRICES_MAX     400
/* a reading older than this many poll periods is not trusted */
#define LIVE_STALE_POLLS 3
/* a declaration for a connector with no car waits this long for one */
#define LIVE_DECLARE_HOLD_MS (15 * 60 * 1000)
/* the EV forecast relearns this many of its time constants after a restart */
#define LIVE_RELEARN_SPANS 4
/* a device not reached this long after start is alarmed as offline */
#define LIVE_CONNECT_GRACE_MS 5000
/* share of a fall in the measured base load believed per cycle */
#define LIVE_BASE_FALL 0.25

struct live_session {
    int open;
    char id[SCENARIO_ID_MAX];
    int64_t plug_ms;
    int64_t departure_ms;   /* declared, or plug + learned mean stay */
    double wanted_kwh;      /* declared, or the learned mean */
    double delivered_kwh;   /* the charger's session energy register */
    int declared_departure; /* departure_ms / wanted_kwh came from the driver */
    int declared_energy;
};

/* A driver's declaration waiting to be applied (live_declare()). */
struct live_declared {
    int set;
    int64_t received_ms;
    int64_t departure_ms; /* 0 = not declared */
    double wanted_kwh;    /* NAN = not declared */
};

/* The plan as the cycle follows it: setpoints per step. It is what the
 * history keeps as the active plan, so a restart can follow it on. */
struct live_schedule {
    char id[HISTORY_ID_MAX];
    int64_t start_ms;
    int step_minutes;
    int steps;
    double *ess_kw;       /* [steps] discharge positive */
    double *pv_limit_kw;  /* [steps] INFINITY = no curtailment */
    double *import_kw;    /* [steps] what the plan expects at the grid */
    double *connector_kw; /* [steps x n_conn] */
};

/* What the planner thread works on: a self-contained controller input. */
struct live_request {
    struct controller_input in;
    struct controller_ev evs[LIVE_CONNECTORS_MAX];
    struct controller_dr dr[LIVE_DR_MAX];
    struct controller_price prices[LIVE_PRICES_MAX];
    double *pv_fc;
    double *base_fc;
    double *ev_fc; /* cars not yet here */
};

struct live {
    const struct station *st;
    struct live_options opt;
    struct clock *clock;
    int n_conn;
    int n_dev;
    struct device *dev[STATION_DEVICES_MAX];
    struct regmap_file
        *map[STATION_DEVICES_MAX]; /* register maps: connectors and a map-read meter */
    struct device_reading rd[STATION_DEVICES_MAX];
    int was_online[STATION_DEVICES_MAX]; /* -1 before the first contact or alarm */
    int64_t start_mono_ms;
    double base_est_kw; /* base load as believed (see live_measure) */
    int meter;          /* device index, -1 = none */
    int storage;
    int parking;
    int pv_dev[STATION_PV_ARRAYS_MAX];
    int conn_dev[LIVE_CONNECTORS_MAX];
    struct live_session sess[LIVE_CONNECTORS_MAX];
    /* arrivals and sessions learned (control thread); its outlooks are
     * set from any thread and read under dr_mu */
    struct ev_forecast evf;
    struct controller_options copt;
    /* DR events, set from any thread */
    pthread_mutex_t dr_mu;
    struct controller_dr dr[LIVE_DR_MAX];
    int n_dr;
    int dr_changed;
    struct live_override ovr;
    struct controller_price prices[LIVE_PRICES_MAX];
    int n_prices;
    struct live_declared declared[LIVE_CONNECTORS_MAX];
    /* the control loop's wake-up */
    pthread_mutex_t wake_mu;
    pthread_cond_t wake_cv;
    int woken;
    /* planner thread */
    pthread_t planner;
    int planner_started;
    pthread_mutex_t plan_mu;
    pthread_cond_t plan_cv;
    int plan_stop;
    int plan_busy;
    int plan_pending; /* a request is waiting for the planner */
    struct live_request req;
    struct scenario *new_sc; /* handed back by the planner */
    struct plan *new_plan;
    int64_t new_plan_ms;
    double new_solve_ms;
    int new_failed;
    int64_t req_mono_ms; /* when the running solve was asked for */
    /* control thread's plan */
    struct live_schedule sched; /* steps 0 = none */
    struct history *hist;
    struct controller_dr dr_kept[LIVE_DR_MAX]; /* DR events as last written to the history */
    int dr_kept_state[LIVE_DR_MAX];
    int n_dr_kept;
    int dr_dirty;
    int64_t next_flush_mono_ms;
    int64_t next_prune_mono_ms;
    int64_t write_seen_ms[STATION_DEVICES_MAX];
    int64_t next_session_put_ms;
    pthread_mutex_t status_mu;
    struct live_status published;   /* status as other threads may read it */
    struct live_capacity *capacity; /* of the plan in force, under status_mu */
    int64_t last_request_mono_ms;
    int replan_wanted;
    /* modes, for logging changes only */
    int on_plan;
    int meter_ok;
    int soc_known;
    int overrun_logged;
    struct live_status status;
    double connector_kw[LIVE_CONNECTORS_MAX];
};

void live_options_default(struct live_options *o)
{
    memset(o, 0, sizeof(*o));
    o->cycle_ms = 1000;
    o->replan_s = 300;
    o->solve_timeout_ms = 20000;
    o->step_minutes = 15;
    o->horizon_steps = 96;
    o->flexibility_steps = 96;
    o->history_flush_s = 5;
}

/* ---- history ---- */

static void
live_alarm(struct live *l, const char *device, const char *kind, int raised, const char *message)
{
    struct history_alarm a;
    struct error_detail ed = {{0}};

    if (!l->hist) {
        return;
    }
    memset(&a, 0, sizeof(a));
    a.ts_ms = clock_now_ms(l->clock);
    snprintf(a.device, sizeof(a.device), "%s", device);
    snprintf(a.kind, sizeof(a.kind), "%s", kind);
    a.severity = raised ? HISTORY_SEV_WARNING : HISTORY_SEV_INFO;
    a.state = raised ? HISTORY_ALARM_RAISED : HISTORY_ALARM_CLEARED;
    a.message = (char *)message;
    if (history_add_alarm(l->hist, &a, &ed) != ERROR_OK) {
        LOGW("live", "history: %s", ed.text);
    }
}

static void live_put_session(struct live *l, int k, int64_t unplug_ms)
{
    const struct live_session *ls = &l->sess[k];
    struct history_session hs;
    struct error_detail ed = {{0}};

    if (!l->hist) {
        return;
    }
    memset(&hs, 0, sizeof(hs));
    snprintf(hs.id, sizeof(hs.id), "%s", ls->id);
    snprintf(hs.connector_id, sizeof(hs.connector_id), "%s", planner_connector(l->st, k, NULL)->id);
    hs.plugin_ms = ls->plug_ms;
    hs.unplug_ms = unplug_ms;
    hs.energy_kwh = ls->delivered_kwh;
    /* only what a driver declared: the learned defaults are not facts */
    hs.departure_ms = ls->declared_departure ? ls->departure_ms : 0;
    hs.wanted_kwh = ls->declared_energy ? ls->wanted_kwh : NAN;
    hs.state = unplug_ms ? HISTORY_SESSION_CLOSED : HISTORY_SESSION_OPEN;
    if (history_put_session(l->hist, &hs, &ed) != ERROR_OK) {
        LOGW("live", "history: %s", ed.text);
    }
}

/* ---- planner thread ---- */

static void *live_planner_main(void *arg)
{
    struct live *l = arg;
    struct error_detail ed = {{0}};
    struct controller *c = controller_new(l->st, &l->copt, &ed);

    if (!c) {
        LOGE("live", "planner: %s", ed.text);
        return NULL;
    }
    pthread_mutex_lock(&l->plan_mu);
    while (!l->plan_stop) {
        struct controller_output out;
        struct scenario *sc = NULL;
        struct plan *p;

        if (!l->plan_pending) {
            pthread_cond_wait(&l->plan_cv, &l->plan_mu);
            continue;
        }
        l->plan_pending = 0;
        l->plan_busy = 1;
        pthread_mutex_unlock(&l->plan_mu);

        memset(&out, 0, sizeof(out));
        out.connector_kw = alloc_array((size_t)l->n_conn + 1, sizeof(double));
        p = controller_plan(c, &l->req.in, &sc, &out);
        free(out.connector_kw);

        pthread_mutex_lock(&l->plan_mu);
        plan_free(l->new_plan);
        scenario_free(l->new_sc);
        l->new_plan = p;
        l->new_sc = sc;
        l->new_plan_ms = l->req.in.now_ms;
        l->new_solve_ms = out.solve_ms;
        l->new_failed = p == NULL;
        l->plan_busy = 0;
    }
    pthread_mutex_unlock(&l->plan_mu);
    controller_free(c);
    optimizer_thread_exit();
    return NULL;
}

/* ---- measured state ---- */

static int live_fresh(const struct live *l, int d, int64_t now)
{
    const struct device_reading *r = &l->rd[d];
    int64_t poll = device_config(l->dev[d])->poll_ms;

    return r->online && r->ts_ms > 0 && now - r->ts_ms <= LIVE_STALE_POLLS * poll + l->opt.cycle_ms;
}

static int live_conn_type(const struct live *l, int k)
{
    int c;

    planner_connector(l->st, k, &c);
    return l->st->chargers[c].type == STATION_CHARGER_DC ? EV_FORECAST_DC : EV_FORECAST_AC;
}

/* Connector index of a connector id, or -1. */
static int live_conn_index(const struct live *l, const char *id)
{
    for (int k = 0; k < l->n_conn; k++) {
        if (strcmp(planner_connector(l->st, k, NULL)->id, id) == 0) {
            return k;
        }
    }
    return -1;
}

/* Apply a driver's declaration waiting for connector k to its open session
 * (or drop it once it has waited too long for a car); returns 1 when
 * applied. */
static int live_apply_declared(struct live *l, int k, int64_t now)
{
    struct live_session *s = &l->sess[k];
    struct live_declared d;

    pthread_mutex_lock(&l->dr_mu);
    d = l->declared[k];
    if (d.set && (s->open || now - d.received_ms > LIVE_DECLARE_HOLD_MS)) {
        l->declared[k].set = 0;
    }
    pthread_mutex_unlock(&l->dr_mu);
    if (!d.set || !s->open) {
        return 0;
    }
    if (d.departure_ms > 0) {
        s->departure_ms = d.departure_ms;
        s->declared_departure = 1;
    }
    if (!isnan(d.wanted_kwh)) {
        s->wanted_kwh = d.wanted_kwh;
        s->declared_energy = 1;
    }
    LOGI("live",
         "session %s: declared %s%s%.1f kWh",
         s->id,
         d.departure_ms > 0 ? "departure " : "",
         d.departure_ms > 0 ? "and " : "",
         s->wanted_kwh);
    live_put_session(l, k, 0);
    return 1;
}

/* Open and close sessions from connector states; returns 1 on a change. */
static int live_sessions(struct live *l, int64_t now)
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
        changed |= live_apply_declared(l, k, now);
    }
    return changed;
}

/* The controller input for now: measured state, sessions, DR events. */
static void live_input(struct live *l,
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

static void live_measure(struct live *l, int64_t now)
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

/* ---- planning ---- */

static void live_request_plan(struct live *l, const struct controller_input *in, int64_t now)
{
    struct live_request *r = &l->req;
    int n = l->copt.horizon_steps;
    double *clear = alloc_array((size_t)n, sizeof(double));
    double csi = FORECAST_CSI_CLIMATE;

    /* the clear-sky index seen now, when there is sun to see it by */
    forecast_pv_clear_kw(l->st, now, l->copt.step_minutes, n, clear);
    if (clear[0] > 0.05 * station_pv_kwp(l->st)) {
        csi = fmin(1.2, in->pv_available_kw / clear[0]);
    }
    r->in = *in;
    memcpy(r->evs, in->evs, sizeof(*in->evs) * (size_t)in->n_evs);
    memcpy(r->dr, in->dr, sizeof(*in->dr) * (size_t)in->n_dr);
    pthread_mutex_lock(&l->dr_mu);
    r->in.n_prices = l->n_prices;
    memcpy(r->prices, l->prices, sizeof(*r->prices) * (size_t)l->n_prices);
    pthread_mutex_unlock(&l->dr_mu);
    r->in.evs = r->evs;
    r->in.dr = r->dr;
    r->in.prices = r->prices;
    forecast_pv_blend(clear,
                      n,
                      l->copt.step_minutes / 60.0,
                      csi,
                      FORECAST_CSI_CLIMATE,
                      FORECAST_TAU_H,
                      r->pv_fc);
    forecast_base_kw(l->st, now, l->copt.step_minutes, n, r->base_fc);
    r->base_fc[0] = in->base_load_kw;
    ev_forecast_advance(&l->evf, now);
    pthread_mutex_lock(&l->dr_mu);
    l->status.ev_forecast_kwh = ev_forecast_kw(&l->evf, now, l->copt.step_minutes, n, r->ev_fc);
    pthread_mutex_unlock(&l->dr_mu);
    r->in.forecast_steps = n;
    r->in.pv_forecast_kw = r->pv_fc;
    r->in.base_forecast_kw = r->base_fc;
    r->in.ev_forecast_kw = r->ev_fc;
    free(clear);
    l->plan_pending = 1;
    l->req_mono_ms = clock_mono_ms(l->clock);
    pthread_cond_signal(&l->plan_cv);
}

/* ---- the schedule ---- */

static void live_schedule_free(struct live_schedule *s)
{
    free(s->ess_kw);
    free(s->pv_limit_kw);
    free(s->import_kw);
    free(s->connector_kw);
    memset(s, 0, sizeof(*s));
}

static void live_schedule_alloc(struct live_schedule *s, int steps, int n_conn)
{
    s->steps = steps;
    s->ess_kw = alloc_array((size_t)steps, sizeof(double));
    s->pv_limit_kw = alloc_array((size_t)steps, sizeof(double));
    s->import_kw = alloc_array((size_t)steps, sizeof(double));
    s->connector_kw =
        alloc_array((size_t)steps * (size_t)(n_conn > 0 ? n_conn : 1), sizeof(double));
}

/* The setpoints of every step of plan p. */
static void live_schedule_from_plan(struct live *l,
                                    const struct scenario *sc,
                                    const struct plan *p,
                                    int64_t start_ms,
                                    struct live_schedule *out)
{
    struct controller_output o;

    live_schedule_alloc(out, sc->steps, l->n_conn);
    snprintf(out->id, sizeof(out->id), "plan-%lld", (long long)start_ms);
    out->start_ms = start_ms;
    out->step_minutes = sc->step_minutes;
    for (int k = 0; k < sc->steps; k++) {
        memset(&o, 0, sizeof(o));
        o.connector_kw = &out->connector_kw[(size_t)k * (size_t)l->n_conn];
        controller_plan_output(l->st, sc, p, k, &o);
        out->ess_kw[k] = o.ess_kw;
        out->pv_limit_kw[k] = o.pv_limit_kw;
        out->import_kw[k] = o.planned_import_kw;
    }
}

/* {"schedule": {...}, "plan": <plan_json>}: what a restart follows on. */
static char *live_schedule_json(const struct live *l,
                                const struct live_schedule *s,
                                const struct scenario *sc,
                                const struct plan *p)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *sj = cJSON_AddObjectToObject(root, "schedule");
    cJSON *steps = cJSON_AddArrayToObject(sj, "steps");
    char *plan = plan_json_encode(sc, p, 0);
    char *text;

    cJSON_AddNumberToObject(sj, "start_ms", (double)s->start_ms);
    cJSON_AddNumberToObject(sj, "step_minutes", s->step_minutes);
    for (int k = 0; k < s->steps; k++) {
        cJSON *st = cJSON_CreateObject();
        cJSON *conn = cJSON_AddObjectToObject(st, "connector_kw");

        cJSON_AddNumberToObject(st, "ess_kw", s->ess_kw[k]);
        if (isinf(s->pv_limit_kw[k])) {
            cJSON_AddNullToObject(st, "pv_limit_kw");
        } else {
            cJSON_AddNumberToObject(st, "pv_limit_kw", s->pv_limit_kw[k]);
        }
        cJSON_AddNumberToObject(st, "grid_kw", s->import_kw[k]);
        for (int c = 0; c < l->n_conn; c++) {
            cJSON_AddNumberToObject(conn,
                                    planner_connector(l->st, c, NULL)->id,
                                    s->connector_kw[(size_t)k * (size_t)l->n_conn + (size_t)c]);
        }
        cJSON_AddItemToArray(steps, st);
    }
    cJSON_AddRawToObject(root, "plan", plan ? plan : "null");
    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    free(plan);
    return text;
}

static double live_json_number(const cJSON *o, const char *key, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : fallback;
}

/* The schedule of a stored plan; ERROR_PARSE when it is not one. */
static int live_schedule_parse(struct live *l, const char *json, struct live_schedule *out)
{
    cJSON *root = cJSON_Parse(json);
    const cJSON *sj = cJSON_GetObjectItemCaseSensitive(root, "schedule");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(sj, "steps");
    int n = cJSON_GetArraySize(steps);
    int k = 0;
    const cJSON *st;

    if (!cJSON_IsArray(steps) || n < 1 || n > SCENARIO_STEPS_MAX) {
        cJSON_Delete(root);
        return ERROR_PARSE;
    }
    live_schedule_alloc(out, n, l->n_conn);
    out->start_ms = (int64_t)live_json_number(sj, "start_ms", 0);
    out->step_minutes = (int)live_json_number(sj, "step_minutes", l->copt.step_minutes);
    cJSON_ArrayForEach(st, steps)
    {
        const cJSON *conn = cJSON_GetObjectItemCaseSensitive(st, "connector_kw");

        out->ess_kw[k] = live_json_number(st, "ess_kw", 0.0);
        out->pv_limit_kw[k] = live_json_number(st, "pv_limit_kw", INFINITY);
        out->import_kw[k] = live_json_number(st, "grid_kw", 0.0);
        for (int c = 0; c < l->n_conn; c++) {
            out->connector_kw[(size_t)k * (size_t)l->n_conn + (size_t)c] =
                live_json_number(conn, planner_connector(l->st, c, NULL)->id, 0.0);
        }
        k++;
    }
    cJSON_Delete(root);
    if (out->step_minutes < 1 || out->step_minutes > 60) {
        live_schedule_free(out);
        return ERROR_PARSE;
    }
    return ERROR_OK;
}

/* Follow a new plan, and keep it as the active plan in the history. */
static void live_adopt(struct live *l, const struct scenario *sc, const struct plan *p, int64_t t0)
{
    struct live_schedule s;

    memset(&s, 0, sizeof(s));
    live_schedule_from_plan(l, sc, p, t0, &s);
    live_schedule_free(&l->sched);
    l->sched = s;
    pthread_mutex_lock(&l->status_mu);
    {
        struct live_capacity *c = l->capacity;

        c->start_ms = t0;
        c->step_minutes = sc->step_minutes;
        c->steps = sc->steps;
        c->n_flex = p->flexibility_steps;
        snprintf(c->plan_id, sizeof(c->plan_id), "%s", s.id);
        for (int k = 0; k < sc->steps; k++) {
            c->plan_kw[k] = p->step[k].grid_import_kw - p->step[k].grid_export_kw;
            c->marginal_cny_per_kwh[k] = p->step[k].marginal_price_cny_per_kwh;
            c->net_min_kw[k] = k < p->flexibility_steps ? p->flex[k].net_min_kw : NAN;
            c->net_max_kw[k] = k < p->flexibility_steps ? p->flex[k].net_max_kw : NAN;
        }
    }
    pthread_mutex_unlock(&l->status_mu);
    if (l->hist) {
        struct history_plan hp;
        struct error_detail ed = {{0}};

        memset(&hp, 0, sizeof(hp));
        snprintf(hp.id, sizeof(hp.id), "%s", s.id);
        hp.created_ms = clock_now_ms(l->clock);
        hp.horizon_start_ms = t0;
        hp.step_minutes = s.step_minutes;
        hp.steps = s.steps;
        hp.status = HISTORY_PLAN_ACTIVE;
        hp.objective_cny = p->objective_cny;
        hp.json = live_schedule_json(l, &s, sc, p);
        if (history_put_plan(l->hist, &hp, &ed) != ERROR_OK) {
            LOGW("live", "history: %s", ed.text);
        }
        free(hp.json);
    }
}

/* Take a finished plan; ask for a new one when due and the planner is free. */
static void live_plan_exchange(struct live *l, const struct controller_input *in, int64_t now)
{
    int64_t mono = clock_mono_ms(l->clock);
    struct scenario *sc = NULL;
    struct plan *p = NULL;
    int64_t t0 = 0;

    pthread_mutex_lock(&l->plan_mu);
    if (l->new_plan || l->new_failed) {
        if (l->new_plan) {
            sc = l->new_sc;
            p = l->new_plan;
            t0 = l->new_plan_ms;
            l->status.plans_solved++;
            l->status.plan_created_ms = now;
        } else {
            LOGW("live", "solve failed: keeping the last plan while it covers the step");
            live_alarm(l, "planner", "solve_failed", 0, "LP failed; last plan kept");
        }
        l->status.last_solve_ms = l->new_solve_ms;
        l->new_plan = NULL;
        l->new_sc = NULL;
        l->new_failed = 0;
        l->overrun_logged = 0;
    }
    if (l->plan_busy && !l->overrun_logged && mono - l->req_mono_ms > l->opt.solve_timeout_ms) {
        LOGW("live", "solve overran %d ms: keeping the last plan", l->opt.solve_timeout_ms);
        live_alarm(l, "planner", "solve_overrun", 1, "solve overran; last plan kept");
        l->overrun_logged = 1;
    }
    if (!l->plan_busy && !l->plan_pending &&
        (l->replan_wanted || l->last_request_mono_ms == 0 ||
         mono - l->last_request_mono_ms >= (int64_t)l->opt.replan_s * 1000)) {
        live_request_plan(l, in, now);
        l->last_request_mono_ms = mono;
        l->replan_wanted = 0;
    }
    pthread_mutex_unlock(&l->plan_mu);
    if (p) {
        live_adopt(l, sc, p, t0);
        plan_free(p);
        scenario_free(sc);
    }
}

/* Step of the schedule that covers now, or -1. */
static int live_plan_step(const struct live *l, int64_t now)
{
    int64_t dt_ms = (int64_t)l->sched.step_minutes * 60000;
    int64_t k;

    if (l->sched.steps < 1 || now < l->sched.start_ms) {
        return -1;
    }
    k = (now - l->sched.start_ms) / dt_ms;
    return k < l->sched.steps ? (int)k : -1;
}

/* ---- keeping the history ---- */

static int live_history_state(int device_state)
{
    switch (device_state) {
    case DEVICE_CONNECTOR_AVAILABLE:
        return HISTORY_CONNECTOR_AVAILABLE;
    case DEVICE_CONNECTOR_PLUGGED:
        return HISTORY_CONNECTOR_SUSPENDED_EVSE;
    case DEVICE_CONNECTOR_CHARGING:
        return HISTORY_CONNECTOR_CHARGING;
    case DEVICE_CONNECTOR_FAULT:
        return HISTORY_CONNECTOR_FAULTED;
    default:
        return HISTORY_CONNECTOR_UNKNOWN;
    }
}

static char *live_dr_json(const struct controller_dr *ev)
{
    cJSON *o = cJSON_CreateObject();
    char *text;

    cJSON_AddStringToObject(o,
                            "type",
                            ev->type == SCENARIO_DR_IMPORT_CAP ? "import_cap" : "import_floor");
    cJSON_AddNumberToObject(o, "notice_ms", (double)ev->notice_ms);
    cJSON_AddNumberToObject(o, "limit_kw", ev->limit_kw);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static void live_put_dr(struct live *l, const struct controller_dr *ev, int state)
{
    struct history_dr hd;
    struct error_detail ed = {{0}};

    memset(&hd, 0, sizeof(hd));
    snprintf(hd.id, sizeof(hd.id), "%s", ev->id);
    hd.received_ms = ev->notice_ms;
    hd.start_ms = ev->start_ms;
    hd.end_ms = ev->end_ms;
    hd.state = state;
    hd.json = live_dr_json(ev);
    if (history_put_dr(l->hist, &hd, &ed) != ERROR_OK) {
        LOGW("live", "history: %s", ed.text);
    }
    free(hd.json);
}

/* DR events: new ones accepted or active, dropped ones cancelled, ended
 * ones finished. */
static void live_record_dr(struct live *l, const struct controller_dr *dr, int n, int64_t now)
{
    int kept[LIVE_DR_MAX];

    for (int i = 0; i < l->n_dr_kept; i++) {
        int still = 0;

        for (int j = 0; j < n; j++) {
            still |= strcmp(l->dr_kept[i].id, dr[j].id) == 0;
        }
        if (!still && l->dr_kept_state[i] != HISTORY_DR_FINISHED) {
            live_put_dr(l, &l->dr_kept[i], HISTORY_DR_CANCELLED);
        }
    }
    for (int j = 0; j < n; j++) {
        int state = now >= dr[j].end_ms     ? HISTORY_DR_FINISHED
                    : now >= dr[j].start_ms ? HISTORY_DR_ACTIVE
                                            : HISTORY_DR_ACCEPTED;
        int before = -1;

        for (int i = 0; i < l->n_dr_kept; i++) {
            if (strcmp(l->dr_kept[i].id, dr[j].id) == 0 &&
                memcmp(&l->dr_kept[i], &dr[j], sizeof(dr[j])) == 0) {
                before = l->dr_kept_state[i];
            }
        }
        if (before != state) {
            live_put_dr(l, &dr[j], state);
        }
        kept[j] = state;
    }
    memcpy(l->dr_kept, dr, sizeof(*dr) * (size_t)n);
    memcpy(l->dr_kept_state, kept, sizeof(*kept) * (size_t)n);
    l->n_dr_kept = n;
}

static void live_record(struct live *l, const struct controller_input *in, int64_t now)
{
    const struct live_status *st = &l->status;
    struct history_sample hs;
    struct error_detail ed = {{0}};
    int64_t mono = clock_mono_ms(l->clock);
    int put_sessions = now >= l->next_session_put_ms;

    if (!l->hist) {
        return;
    }
    memset(&hs, 0, sizeof(hs));
    hs.ts_ms = now;
    hs.grid_import_kw = st->meter_ok ? fmax(0.0, st->grid_kw) : NAN;
    hs.grid_export_kw = st->meter_ok ? fmax(0.0, -st->grid_kw) : NAN;
    hs.pv_kw = st->pv_kw;
    hs.pv_limit_kw = isinf(st->set_pv_limit_kw) ? NAN : st->set_pv_limit_kw;
    hs.battery_kw = st->ess_kw;
    hs.battery_soc = st->soc_known ? st->soc : NAN;
    hs.ev_kw = st->ev_kw;
    hs.base_kw = st->base_kw;
    hs.import_limit_kw = st->import_max_kw;
    if (history_add_sample(l->hist, &hs, &ed) != ERROR_OK) {
        LOGD("live", "history: %s", ed.text);
    }
    for (int k = 0; k < l->n_conn; k++) {
        int d = l->conn_dev[k];
        struct history_connector_sample cs;

        if (d < 0) {
            continue;
        }
        memset(&cs, 0, sizeof(cs));
        cs.ts_ms = now;
        snprintf(cs.connector_id,
                 sizeof(cs.connector_id),
                 "%s",
                 planner_connector(l->st, k, NULL)->id);
        cs.power_kw = live_fresh(l, d, now) ? l->rd[d].ev_kw : NAN;
        cs.state = live_fresh(l, d, now) ? live_history_state(l->rd[d].connector_state)
                                         : HISTORY_CONNECTOR_UNAVAILABLE;
        history_add_connector(l->hist, &cs, &ed);
        if (put_sessions && l->sess[k].open) {
            live_put_session(l, k, 0);
        }
    }
    if (put_sessions) {
        l->next_session_put_ms = now + 60000;
    }
    for (int d = 0; d < l->n_dev; d++) {
        struct device_write w;

        if (device_last_write(l->dev[d], &l->write_seen_ms[d], &w)) {
            const struct station_device *cfg = device_config(l->dev[d]);
            struct history_setpoint sp;

            memset(&sp, 0, sizeof(sp));
            sp.ts_ms = w.ts_ms;
            snprintf(sp.device, sizeof(sp.device), "%s", cfg->id);
            snprintf(sp.point,
                     sizeof(sp.point),
                     "%s",
                     cfg->kind == STATION_DEVICE_PV        ? "pv_limit_kw"
                     : cfg->kind == STATION_DEVICE_STORAGE ? "battery_kw"
                                                           : "limit_kw");
            sp.value = w.value;
            sp.verified = w.verified ? HISTORY_VERIFY_OK : HISTORY_VERIFY_MISMATCH;
            history_add_setpoint(l->hist, &sp, &ed);
        }
    }
    if (l->dr_dirty || in->n_dr > 0) {
        live_record_dr(l, in->dr, in->n_dr, now);
        l->dr_dirty = 0;
    }
    if (mono >= l->next_flush_mono_ms) {
        if (history_flush(l->hist, &ed) != ERROR_OK) {
            LOGD("live", "history: %s", ed.text); /* history logs start and end itself */
        }
        l->next_flush_mono_ms = mono + (int64_t)l->opt.history_flush_s * 1000;
    }
    if (mono >= l->next_prune_mono_ms) {
        history_prune(l->hist, NULL, &ed);
        l->next_prune_mono_ms = mono + 3600 * 1000;
    }
}

/* After a restart: learn the EV forecast again from the sessions of the
 * last LIVE_RELEARN_SPANS time constants, counting hours from the first
 * of them (hours before it would teach that no car came). */
static void live_relearn(struct live *l, int64_t now)
{
    struct error_detail ed = {{0}};
    struct history_session *hs = NULL;
    int64_t since = now - (int64_t)(LIVE_RELEARN_SPANS * l->evf.cfg.learn_days * CLOCK_DAY_MS);
    int n = 0;

    if (history_sessions_since(l->hist, since, &hs, &n, &ed) != ERROR_OK || n == 0) {
        free(hs);
        return;
    }
    ev_forecast_init(&l->evf, l->st);
    for (int i = 0; i < n; i++) {
        int k = live_conn_index(l, hs[i].connector_id);

        if (k < 0 || hs[i].plugin_ms > now) {
            continue;
        }
        ev_forecast_arrival(&l->evf, live_conn_type(l, k), hs[i].plugin_ms);
        if (hs[i].state == HISTORY_SESSION_CLOSED && hs[i].unplug_ms > hs[i].plugin_ms) {
            ev_forecast_departure(&l->evf,
                                  live_conn_type(l, k),
                                  hs[i].energy_kwh,
                                  (double)(hs[i].unplug_ms - hs[i].plugin_ms) / 60000.0);
        }
    }
    ev_forecast_advance(&l->evf, now);
    LOGI("live",
         "EV forecast learned again from %d sessions over %lld hours",
         n,
         (long long)l->evf.hours_learned);
    free(hs);
}

/* After a restart: open sessions, the active plan, DR events. */
static void live_resume(struct live *l, int64_t now)
{
    struct error_detail ed = {{0}};
    struct history_session *hs = NULL;
    struct history_dr *hd = NULL;
    struct history_plan hp;
    int n = 0;
    int found = 0;

    live_relearn(l, now);
    if (history_open_sessions(l->hist, &hs, &n, &ed) == ERROR_OK) {
        for (int i = 0; i < n; i++) {
            int k = live_conn_index(l, hs[i].connector_id);
            struct live_session *s = k >= 0 ? &l->sess[k] : NULL;
            int type = k >= 0 ? live_conn_type(l, k) : 0;

            if (!s) {
                continue;
            }
            memset(s, 0, sizeof(*s));
            s->open = 1;
            snprintf(s->id, sizeof(s->id), "%s", hs[i].id);
            s->plug_ms = hs[i].plugin_ms;
            s->departure_ms = hs[i].departure_ms
                                  ? hs[i].departure_ms
                                  : s->plug_ms + (int64_t)(l->evf.stay_min[type] * 60000.0);
            s->wanted_kwh = isnan(hs[i].wanted_kwh) ? l->evf.kwh[type] : hs[i].wanted_kwh;
            s->declared_departure = hs[i].departure_ms != 0;
            s->declared_energy = !isnan(hs[i].wanted_kwh);
            s->delivered_kwh = hs[i].energy_kwh;
            LOGI("live", "resumed session %s on %s", s->id, hs[i].connector_id);
        }
        free(hs);
    }
    memset(&hp, 0, sizeof(hp));
    if (history_active_plan(l->hist, &hp, &found, &ed) == ERROR_OK && found) {
        struct live_schedule s;

        memset(&s, 0, sizeof(s));
        if (live_schedule_parse(l, hp.json, &s) == ERROR_OK) {
            snprintf(s.id, sizeof(s.id), "%s", hp.id);
            live_schedule_free(&l->sched);
            l->sched = s;
            LOGI("live", "resumed plan %s", hp.id);
        }
        history_plan_clear(&hp);
    }
    n = 0;
    if (history_active_dr(l->hist, &hd, &n, &ed) == ERROR_OK) {
        for (int i = 0; i < n && l->n_dr < LIVE_DR_MAX; i++) {
            cJSON *o = cJSON_Parse(hd[i].json);
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
            struct controller_dr *ev = &l->dr[l->n_dr];

            if (o && cJSON_IsString(type) && hd[i].end_ms > now) {
                memset(ev, 0, sizeof(*ev));
                snprintf(ev->id, sizeof(ev->id), "%s", hd[i].id);
                ev->type = strcmp(type->valuestring, "import_cap") == 0 ? SCENARIO_DR_IMPORT_CAP
                                                                        : SCENARIO_DR_IMPORT_FLOOR;
                ev->notice_ms = (int64_t)live_json_number(o, "notice_ms", 0);
                ev->start_ms = hd[i].start_ms;
                ev->end_ms = hd[i].end_ms;
                ev->limit_kw = live_json_number(o, "limit_kw", 0.0);
                l->n_dr++;
                LOGI("live", "resumed DR event %s", ev->id);
            }
            cJSON_Delete(o);
        }
        history_dr_list_free(hd, n);
        l->dr_changed = l->n_dr > 0;
    }
}

/* ---- commands ---- */

/* An immediate command from the dispatcher replaces the battery's setpoint;
 * the correction then keeps the limits with what is left. */
static void live_apply_override(struct live *l,
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

/* ---- the cycle ---- */

/* Meter lost: chargers share what the connection (or DR cap) leaves with no
 * PV, the base load at its highest and the battery not charging. */
static void
live_worst_case(struct live *l, const struct correction_limits *lim, struct controller_output *out)
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

static void live_post(struct live *l, const struct controller_output *out, int64_t now)
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

void live_cycle(struct live *l)
{
    int64_t now = clock_now_ms(l->clock);
    struct controller_input in;
    struct controller_ev evs[LIVE_CONNECTORS_MAX];
    struct controller_dr dr[LIVE_DR_MAX];
    double accept[LIVE_CONNECTORS_MAX];
    struct controller_output out;
    struct correction_limits lim;
    struct correction_measure m;
    int k;

    live_measure(l, now);
    if (live_sessions(l, now)) {
        l->replan_wanted = 1;
    }
    pthread_mutex_lock(&l->dr_mu);
    if (l->dr_changed) {
        l->dr_changed = 0;
        l->dr_dirty = 1;
        l->replan_wanted = 1;
    }
    pthread_mutex_unlock(&l->dr_mu);
    live_input(l, now, &in, evs, dr, accept);
    live_plan_exchange(l, &in, now);

    memset(&out, 0, sizeof(out));
    out.connector_kw = l->connector_kw;
    rules_limits(l->st, &in, &lim);
    m.pv_available_kw = l->status.pv_kw;
    m.base_load_kw = l->status.base_kw;
    m.ev_accept_kw = accept;
    m.soc = l->status.soc;
    m.soc_known = l->soc_known;
    k = live_plan_step(l, now);
    if (k >= 0) {
        out.ess_kw = l->sched.ess_kw[k];
        out.pv_limit_kw = l->sched.pv_limit_kw[k];
        out.planned_import_kw = l->sched.import_kw[k];
        memcpy(out.connector_kw,
               &l->sched.connector_kw[(size_t)k * (size_t)l->n_conn],
               sizeof(double) * (size_t)l->n_conn);
        /* a car the plan did not know yet waits for the re-plan (ms away) */
        correction_apply(l->st, l->copt.step_minutes, &lim, &m, &out);
    } else {
        /* the rules end with the same correction */
        rules_decide(l->st, &l->copt, &in, &out);
    }
    if ((k >= 0) != l->on_plan) {
        if (k >= 0) {
            LOGI("live", "following the plan");
        } else {
            LOGW("live", "no plan covers this step: rule strategy decides");
        }
        live_alarm(l, "planner", "rule_fallback", k < 0, "no plan covers the step");
        l->on_plan = k >= 0;
    }
    live_apply_override(l, now, &lim, &m, accept, &out);
    if (!l->meter_ok) {
        live_worst_case(l, &lim, &out);
    }
    l->status.now_ms = now;
    l->status.cycles++;
    l->status.on_plan = l->on_plan;
    l->status.import_max_kw = lim.import_max_kw;
    l->status.import_min_kw = lim.import_min_kw;
    l->status.sessions_open = in.n_evs;
    live_post(l, &out, now);
    live_record(l, &in, now);
    pthread_mutex_lock(&l->status_mu);
    l->published = l->status;
    pthread_mutex_unlock(&l->status_mu);
}

/* ---- life cycle ---- */

static void live_bind_devices(struct live *l)
{
    const struct station *st = l->st;

    l->meter = station_find_device(st, STATION_DEVICE_METER, NULL);
    l->storage = station_find_device(st, STATION_DEVICE_STORAGE, NULL);
    l->parking = station_find_device(st, STATION_DEVICE_PARKING, NULL);
    for (int i = 0; i < st->n_pv_arrays; i++) {
        l->pv_dev[i] = station_find_device(st, STATION_DEVICE_PV, st->pv_arrays[i].id);
    }
    for (int k = 0; k < l->n_conn; k++) {
        l->conn_dev[k] =
            station_find_device(st, STATION_DEVICE_CONNECTOR, planner_connector(st, k, NULL)->id);
    }
}

int live_new(const struct station *st,
             const struct live_options *opt,
             struct live **out,
             struct error_detail *ed)
{
    struct live *l;
    struct controller *probe;

    *out = NULL;
    l = ALLOC_NEW(struct live);
    l->st = st;
    l->opt = *opt;
    l->clock = clock_new_real();
    l->start_mono_ms = clock_mono_ms(l->clock);
    l->base_est_kw = NAN;
    l->n_conn = station_connector_count(st);
    l->copt.strategy = CONTROLLER_MPC;
    l->copt.step_minutes = opt->step_minutes;
    l->copt.horizon_steps = opt->horizon_steps;
    l->copt.rule_peak_fraction = 0.8;
    l->copt.flexibility_steps = opt->flexibility_steps;
    probe = controller_new(st, &l->copt, ed);
    if (!probe) {
        clock_free(l->clock);
        free(l);
        return ERROR_INVALID;
    }
    controller_free(probe);
    ev_forecast_init(&l->evf, st);
    ev_forecast_advance(&l->evf, clock_now_ms(l->clock));
    l->on_plan = 1;
    l->meter_ok = 1;
    l->soc_known = 1;
    pthread_mutex_init(&l->dr_mu, NULL);
    pthread_mutex_init(&l->status_mu, NULL);
    l->capacity = ALLOC_NEW(struct live_capacity);
    pthread_mutex_init(&l->wake_mu, NULL);
    pthread_cond_init(&l->wake_cv, NULL);
    pthread_mutex_init(&l->plan_mu, NULL);
    pthread_cond_init(&l->plan_cv, NULL);
    l->req.pv_fc = alloc_array((size_t)opt->horizon_steps, sizeof(double));
    l->req.base_fc = alloc_array((size_t)opt->horizon_steps, sizeof(double));
    l->req.ev_fc = alloc_array((size_t)opt->horizon_steps, sizeof(double));
    live_bind_devices(l);
    if (opt->db_path) {
        struct history_config hc;

        history_config_init(&hc, opt->db_path, l->clock);
        hc.retention.sample_ms = (int64_t)st->control.history_sample_days * CLOCK_DAY_MS;
        hc.retention.minute_ms = (int64_t)st->control.history_minute_days * CLOCK_DAY_MS;
        hc.retention.quarter_ms = (int64_t)st->control.history_quarter_days * CLOCK_DAY_MS;
        if (history_open(&hc, &l->hist, ed) != ERROR_OK) {
            live_free(l);
            return ERROR_IO;
        }
        live_resume(l, clock_now_ms(l->clock));
    }
    for (int d = 0; d < st->n_devices; d++) {
        if (st->devices[d].protocol == STATION_PROTOCOL_REGMAP &&
            (regmap_file_find(opt->maps_dir, st->devices[d].map, &l->map[d], ed) != ERROR_OK ||
             regmap_file_check_device(l->map[d], &st->devices[d], ed) != ERROR_OK)) {
            live_free(l);
            return ERROR_INVALID;
        }
    }
    l->n_dev = st->n_devices;
    for (int d = 0; d < st->n_devices; d++) {
        struct device_options dopt;
        const void *arg = st->devices[d].protocol == STATION_PROTOCOL_REGMAP
                              ? (const void *)l->map[d]
                              : (const void *)st;

        device_options_default(&dopt);
        if (opt->host) {
            dopt.host = opt->host;
            dopt.port = opt->ports ? opt->ports[d] : opt->port_base + d;
        }
        l->dev[d] = device_start(&st->devices[d], arg, device_driver_for(&st->devices[d]), &dopt);
        l->was_online[d] = -1; /* not yet known */
    }
    if (pthread_create(&l->planner, NULL, live_planner_main, l) != 0) {
        LOGE("live", "cannot start the planner thread");
        abort();
    }
    l->planner_started = 1;
    *out = l;
    return ERROR_OK;
}

void live_free(struct live *l)
{
    if (!l) {
        return;
    }
    if (l->planner_started) {
        pthread_mutex_lock(&l->plan_mu);
        l->plan_stop = 1;
        pthread_cond_signal(&l->plan_cv);
        pthread_mutex_unlock(&l->plan_mu);
        pthread_join(l->planner, NULL);
    }
    for (int d = 0; d < l->n_dev; d++) {
        device_stop(l->dev[d]);
    }
    for (int d = 0; d < STATION_DEVICES_MAX; d++) {
        regmap_file_free(l->map[d]);
    }
    history_close(l->hist);
    live_schedule_free(&l->sched);
    plan_free(l->new_plan);
    scenario_free(l->new_sc);
    free(l->req.pv_fc);
    free(l->req.base_fc);
    free(l->req.ev_fc);
    pthread_mutex_destroy(&l->dr_mu);
    pthread_mutex_destroy(&l->status_mu);
    free(l->capacity);
    pthread_mutex_destroy(&l->wake_mu);
    pthread_cond_destroy(&l->wake_cv);
    pthread_mutex_destroy(&l->plan_mu);
    pthread_cond_destroy(&l->plan_cv);
    clock_free(l->clock);
    free(l);
}

void live_run(struct live *l, volatile sig_atomic_t *stop, int64_t duration_ms)
{
    int64_t start = clock_mono_ms(l->clock);
    int64_t next = start;

    while (!*stop && (duration_ms <= 0 || clock_mono_ms(l->clock) - start < duration_ms)) {
        int64_t now;

        live_cycle(l);
        next += l->opt.cycle_ms;
        pthread_mutex_lock(&l->wake_mu);
        while (!l->woken && !*stop && (now = clock_mono_ms(l->clock)) < next) {
            clock_wait(l->clock, &l->wake_cv, &l->wake_mu, next - now);
        }
        l->woken = 0;
        pthread_mutex_unlock(&l->wake_mu);
        now = clock_mono_ms(l->clock);
        if (now - next > l->opt.cycle_ms) {
            next = now; /* fell behind: do not try to catch up in a burst */
        }
    }
}

void live_set_dr(struct live *l, const struct controller_dr *ev, int n)
{
    pthread_mutex_lock(&l->dr_mu);
    l->n_dr = n < LIVE_DR_MAX ? n : LIVE_DR_MAX;
    memcpy(l->dr, ev, sizeof(*ev) * (size_t)l->n_dr);
    l->dr_changed = 1;
    pthread_mutex_unlock(&l->dr_mu);
    live_wake(l);
}

void live_wake(struct live *l)
{
    pthread_mutex_lock(&l->wake_mu);
    l->woken = 1;
    pthread_cond_signal(&l->wake_cv);
    pthread_mutex_unlock(&l->wake_mu);
}

void live_status(struct live *l, struct live_status *out)
{
    pthread_mutex_lock(&l->status_mu);
    *out = l->published;
    pthread_mutex_unlock(&l->status_mu);
}

void live_override(struct live *l, const struct live_override *o)
{
    pthread_mutex_lock(&l->dr_mu);
    l->ovr = *o;
    l->dr_changed = 1; /* re-plan with the battery as commanded */
    pthread_mutex_unlock(&l->dr_mu);
    live_wake(l);
}

void live_set_prices(struct live *l, const struct live_price *p, int n)
{
    pthread_mutex_lock(&l->dr_mu);
    l->n_prices = n < LIVE_PRICES_MAX ? n : LIVE_PRICES_MAX;
    for (int i = 0; i < l->n_prices; i++) {
        l->prices[i].start_ms = p[i].start_ms;
        l->prices[i].end_ms = p[i].end_ms;
        l->prices[i].buy_cny_per_kwh = p[i].buy_cny_per_kwh;
        l->prices[i].sell_cny_per_kwh = p[i].sell_cny_per_kwh;
    }
    l->dr_changed = 1;
    pthread_mutex_unlock(&l->dr_mu);
    live_wake(l);
}

int live_declare(struct live *l, const char *connector_id, int64_t departure_ms, double wanted_kwh)
{
    int k = live_conn_index(l, connector_id);

    if (k < 0) {
        return ERROR_INVALID;
    }
    pthread_mutex_lock(&l->dr_mu);
    l->declared[k].set = 1;
    l->declared[k].received_ms = clock_now_ms(l->clock);
    l->declared[k].departure_ms = departure_ms;
    l->declared[k].wanted_kwh = wanted_kwh;
    pthread_mutex_unlock(&l->dr_mu);
    live_wake(l);
    return ERROR_OK;
}

void live_set_outlook(struct live *l, int kind, const struct ev_outlook_interval *iv, int n)
{
    int kept;

    pthread_mutex_lock(&l->dr_mu);
    kept = ev_forecast_set_outlook(&l->evf, (enum ev_outlook_kind)kind, iv, n);
    l->dr_changed = 1;
    pthread_mutex_unlock(&l->dr_mu);
    LOGI("live",
         "%s outlook: %d intervals; re-planning",
         kind == EV_OUTLOOK_VISITOR_FLOW ? "visitor-flow" : "road-congestion",
         kept);
    live_wake(l);
}

int live_capacity(struct live *l, struct live_capacity *out)
{
    int rc;

    pthread_mutex_lock(&l->status_mu);
    rc = l->capacity->steps > 0 ? ERROR_OK : ERROR_STATE;
    if (rc == ERROR_OK) {
        *out = *l->capacity;
    }
    pthread_mutex_unlock(&l->status_mu);
    return rc;
}
