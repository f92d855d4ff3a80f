/* SPDX-License-Identifier: MIT */
/*
 * live_plan.c - the live engine's plans: the planner thread that solves
 * them, the request it is given (a self-contained controller input with
 * the PV, base load and EV forecasts of engine/ev_forecast.h), and the
 * schedule the cycle follows: a plan turned into setpoints per step,
 * adopted with its adjustable capacity and kept in the history as JSON so
 * that a restart can follow it on (live_history.c reads it back).
 *
 * The planner thread runs live_planner_main(); everything else here runs
 * on the control thread. They meet under plan_mu (see struct live in
 * live_internal.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "live_internal.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/logger.h"
#include "../io/history.h"
#include "../io/plan_json.h"
#include "../optimizer/optimizer.h"
#include "ev_forecast.h"
#include "forecast.h"
#include "planner.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- planner thread ---- */

void *live_planner_main(void *arg)
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

void live_schedule_free(struct live_schedule *s)
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

double live_json_number(const cJSON *o, const char *key, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : fallback;
}

/* The schedule of a stored plan; ERROR_PARSE when it is not one. */
int live_schedule_parse(struct live *l, const char *json, struct live_schedule *out)
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
void live_plan_exchange(struct live *l, const struct controller_input *in, int64_t now)
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
int live_plan_step(const struct live *l, int64_t now)
{
    int64_t dt_ms = (int64_t)l->sched.step_minutes * 60000;
    int64_t k;

    if (l->sched.steps < 1 || now < l->sched.start_ms) {
        return -1;
    }
    k = (now - l->sched.start_ms) / dt_ms;
    return k < l->sched.steps ? (int)k : -1;
}
