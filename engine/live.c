/* SPDX-License-Identifier: MIT */
/*
 * live.c - the live engine: the 1 s control cycle over the station's devices,
 * with a planner thread beside it (see live.h).
 *
 * Threads: the caller's (cycles), the planner's (solves), and one per
 * device (io/device.c). The planner gets a copy of the controller input
 * and hands back a plan; nothing else is shared with it.
 *
 * This file holds the object's life cycle (live_new/free/run), the cycle
 * itself (live_cycle) and the API other threads call (live_set_dr,
 * live_set_prices, live_set_outlook, live_declare, live_override,
 * live_capacity, live_status). The rest of the engine is in live_state.c,
 * live_plan.c and live_history.c (see live_internal.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "live.h"
#include "live_internal.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/logger.h"
#include "../config/regmap_file.h"
#include "../io/device.h"
#include "../io/history.h"
#include "correction.h"
#include "ev_forecast.h"
#include "planner.h"
#include "rules.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- the cycle ---- */

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
