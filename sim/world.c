/* SPDX-License-Identifier: MIT */
/*
 * world.c - drawing the simulated truth. Deterministic from the seed: the
 * weather, the base-load noise, the cars and the DR events each take their
 * own stream derived with rng_mix(), so adding draws to one never shifts
 * another. A given world (recorded data, replay.c) takes its truth from
 * the caller and only the forecasts' basis from the models. Simulator
 * thread.
 */
#include "world.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../engine/forecast.h"
#include "../engine/planner.h"
#include "../models/rng.h"
#include "../models/solar.h"
#include "../models/weather.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const world_sky_names[5] = {"drawn", "clear", "partly_cloudy", "overcast", NULL};

#define WORLD_STEP_CAP (INT32_MAX / 4) /* beyond any run; keeps step arithmetic in int */

enum {
    WORLD_STREAM_WEATHER = 1,
    WORLD_STREAM_BASE = 2,
    WORLD_STREAM_CARS = 3,
    WORLD_STREAM_DR = 4
};

void world_options_default(struct world_options *o)
{
    memset(o, 0, sizeof(*o));
    o->start_ms = clock_from_local(2026, 7, 15, 0, 0, 0);
    o->days = 1;
    o->step_minutes = 15;
    o->seed = 1;
    o->pad_steps = 2 * 96;
    o->max_wait_minutes = 20;
    o->base_noise_sd = 0.05;
    o->pv_forecast_csi = 0.75;
    o->pv_forecast_tau_h = 3.0;
    o->sky = WORLD_SKY_DRAWN;
    o->csi_scale = 1.0;
    o->csi_fixed = 0.0;
    demand_params_ulanhada(&o->demand);
    o->visitor_flow = 1.0;
    o->dr_generate = 1;
    drgen_params_default(&o->drgen);
}

static int world_preset_known(const char *name)
{
    for (int i = 0; drgen_preset_names[i]; i++) {
        if (strcmp(name, drgen_preset_names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The weather and DR options that are not the models' own parameters. */
static int world_check_extra(const struct world_options *o, struct error_detail *ed)
{
    if (o->sky < WORLD_SKY_DRAWN || o->sky > WORLD_SKY_OVERCAST) {
        return error_setf(ed, ERROR_INVALID, "sky: %d: must be in [0, 3]", o->sky);
    }
    if (!(o->csi_scale >= 0.0 && o->csi_scale <= WORLD_CSI_SCALE_MAX)) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "clear_sky_index_scale: %g: must be in [0, %g]",
                          o->csi_scale,
                          WORLD_CSI_SCALE_MAX);
    }
    if (!(o->csi_fixed == 0.0 ||
          (o->csi_fixed >= WEATHER_KC_MIN && o->csi_fixed <= WEATHER_KC_MAX))) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "clear_sky_index: %g: must be 0 (drawn) or in [%g, %g]",
                          o->csi_fixed,
                          WEATHER_KC_MIN,
                          WEATHER_KC_MAX);
    }
    if (!(o->visitor_flow >= 0.0 && o->visitor_flow <= DEMAND_FACTOR_MAX)) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "visitor_flow: %g: must be in [0, %g]",
                          o->visitor_flow,
                          DEMAND_FACTOR_MAX);
    }
    if (o->dr_preset && !world_preset_known(o->dr_preset)) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "dr_preset: \"%.40s\": no such preset (none, evening-cap, midday-floor, "
                          "short-notice-cap, mixed)",
                          o->dr_preset);
    }
    if (o->n_dr < 0 || (o->n_dr > 0 && !o->dr)) {
        return error_setf(ed, ERROR_INVALID, "dr: %d events given without a list", o->n_dr);
    }
    return ERROR_OK;
}

static int world_check(const struct world_options *o, struct error_detail *ed)
{
    if (o->days < 1 || o->days > 3660) {
        return error_setf(ed, ERROR_INVALID, "days: %d: must be in [1, 3660]", o->days);
    }
    if (o->step_minutes < 1 || o->step_minutes > 60 || 1440 % o->step_minutes != 0) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "step_minutes: %d: must be in [1, 60] and divide a day",
                          o->step_minutes);
    }
    if (o->pad_steps < 0 || o->max_wait_minutes < 0 || !(o->base_noise_sd >= 0.0) ||
        !(o->pv_forecast_csi > 0.0) || !(o->pv_forecast_tau_h > 0.0)) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "simulation options: pad_steps, max_wait_minutes, base_noise_sd must be "
                          ">= 0 and pv_forecast_csi, pv_forecast_tau_h > 0");
    }
    if (demand_params_validate(&o->demand, ed) || drgen_params_validate(&o->drgen, ed)) {
        return ERROR_INVALID;
    }
    return world_check_extra(o, ed);
}

/* PV (true and clear-sky) and base load for every step, at the step's middle. */
static void world_physics(struct world *w)
{
    const struct station *st = w->st;
    struct solar_site site = {st->location.lat_deg, st->location.lon_deg, st->location.altitude_m};
    struct solar_array arrays[STATION_PV_ARRAYS_MAX];
    struct weather_climate clim = *weather_climate_ulanqab();
    struct weather *wx;
    struct rng *r = rng_new(rng_mix(w->opt.seed, WORLD_STREAM_BASE));
    int64_t dt_ms = (int64_t)w->opt.step_minutes * 60000;

    /* a forced sky: every day of that type (the chain repeats it too) */
    for (int m = 0; m < 12 && w->opt.sky != WORLD_SKY_DRAWN; m++) {
        clim.p_clear[m] = w->opt.sky == WORLD_SKY_CLEAR ? 1.0 : 0.0;
        clim.p_partly[m] = w->opt.sky == WORLD_SKY_PARTLY ? 1.0 : 0.0;
    }
    wx = weather_new(&clim, rng_mix(w->opt.seed, WORLD_STREAM_WEATHER), w->opt.step_minutes);
    for (int i = 0; i < st->n_pv_arrays; i++) {
        forecast_solar_array(&st->pv_arrays[i], &arrays[i]);
    }
    for (int k = 0; k < w->total; k++) {
        int64_t ts = w->opt.start_ms + k * dt_ms;
        struct weather_sample ws;
        struct solar_pv_output po;
        struct clock_civil lt;

        weather_at(wx, ts + dt_ms / 2, &ws);
        /* scale 1 leaves the drawn index bit for bit as it was */
        ws.clear_sky_index = w->opt.csi_fixed > 0.0
                                 ? w->opt.csi_fixed
                                 : fmin(ws.clear_sky_index * w->opt.csi_scale, WEATHER_KC_MAX);
        for (int i = 0; i < st->n_pv_arrays; i++) {
            solar_pv_at(&site,
                        &arrays[i],
                        ts + dt_ms / 2,
                        ws.clear_sky_index,
                        ws.linke_turbidity,
                        ws.temp_air_c,
                        ws.wind_m_s,
                        &po);
            w->pv_true_kw[k] += po.ac_kw;
            solar_pv_at(&site,
                        &arrays[i],
                        ts + dt_ms / 2,
                        1.0,
                        ws.linke_turbidity,
                        ws.temp_air_c,
                        ws.wind_m_s,
                        &po);
            w->pv_clear_kw[k] += po.ac_kw;
        }
        clock_to_local(ts, &lt);
        w->base_profile_kw[k] = station_base_load_kw(st, lt.hour * 60 + lt.minute);
        w->base_true_kw[k] =
            fmax(0.0, w->base_profile_kw[k] * (1.0 + rng_normal(r, 0.0, w->opt.base_noise_sd)));
    }
    rng_free(r);
    weather_free(wx);
}

/* The step ts falls in; before the start is step 0, and far beyond the end
 * is capped so a recorded departure years ahead cannot overflow an int. */
static int world_step_of(const struct world *w, int64_t ts)
{
    int64_t dt_ms = (int64_t)w->opt.step_minutes * 60000;
    int64_t k = ts <= w->opt.start_ms ? 0 : (ts - w->opt.start_ms) / dt_ms;

    return k > WORLD_STEP_CAP ? WORLD_STEP_CAP : (int)k;
}

/* The steps [from, to) a recorded car bound to one connector occupies it. */
struct world_booking {
    int from;
    int to;
};

/* Per connector: when it frees in the current pass, and the bookings of the
 * cars bound to it (by start, none overlapping), with a cursor past those
 * that end before the current arrival. */
struct world_conn {
    int free_at;
    struct world_booking *b;
    int n;
    int cursor;
};

/* The first step >= p from which [p, dep) misses every booking of c. */
static int world_fit(const struct world_conn *c, int p, int dep)
{
    for (int i = c->cursor; i < c->n && c->b[i].from < dep && p < dep; i++) {
        if (c->b[i].to > p) {
            p = c->b[i].to;
        }
    }
    return p;
}

/* Give the car a connector of its kind (or the one it must use, only >=
 * 0): the first that is free at its arrival step, else the one that frees
 * first if within the wait limit, else it is lost. Cars of a kind also fit
 * around the bookings of bound cars, which were placed before them. With
 * no bookings this is "the connector that frees first": ties go to the
 * lower index, as drawn worlds always did. */
static void world_assign(struct world *w, struct world_car *car, int only, struct world_conn *conn)
{
    const struct station *st = w->st;
    int n = station_connector_count(st);
    int wait_steps = w->opt.max_wait_minutes / w->opt.step_minutes;
    int a = world_step_of(w, car->ev.arrival_ms);
    int best = -1;
    int best_p = 0;

    /* a stop shorter than a step still occupies the step it arrived in */
    car->dep_step = world_step_of(w, car->ev.departure_ms);
    car->dep_step = car->dep_step > a ? car->dep_step : a + 1;
    car->decl_step = world_step_of(w, car->ev.declared_departure_ms);
    for (int k = 0; k < n; k++) {
        int c;
        int is_dc;
        int p;

        planner_connector(st, k, &c);
        is_dc = st->chargers[c].type == STATION_CHARGER_DC;
        if (only >= 0 ? k != only : is_dc != car->ev.wants_dc) {
            continue;
        }
        while (conn[k].cursor < conn[k].n && conn[k].b[conn[k].cursor].to <= a) {
            conn[k].cursor++;
        }
        p = conn[k].free_at > a ? conn[k].free_at : a;
        p = only >= 0 ? p : world_fit(&conn[k], p, car->dep_step);
        if (best < 0 || p < best_p || (p == best_p && conn[k].free_at < conn[best].free_at)) {
            best = k;
            best_p = p;
        }
    }
    car->connector = -1;
    car->plug_step = a;
    if (best < 0 || best_p > a + wait_steps || best_p >= car->dep_step) {
        return; /* lost: nothing of its kind free in time */
    }
    car->plug_step = best_p;
    car->connector = best;
    conn[best].free_at = car->dep_step;
    car->max_kw = fmin(car->ev.wants_dc ? car->ev.max_dc_kw : car->ev.max_ac_kw,
                       planner_connector(st, best, NULL)->max_kw);
}

static double world_visitor(void *ctx, int y, int m, int d)
{
    (void)y;
    (void)m;
    (void)d;
    return *(const double *)ctx;
}

static void world_cars(struct world *w)
{
    int64_t dt_ms = (int64_t)w->opt.step_minutes * 60000;
    int64_t end = w->opt.start_ms + w->total * dt_ms;
    struct demand *d = demand_new(&w->opt.demand, rng_mix(w->opt.seed, WORLD_STREAM_CARS));
    struct demand_ev *evs = NULL;
    int n = 0;
    struct world_conn *conn = alloc_array((size_t)station_connector_count(w->st), sizeof(*conn));

    demand_generate(d, w->opt.start_ms, end, &evs, &n);
    w->cars = alloc_array((size_t)n, sizeof(*w->cars));
    w->n_cars = n;
    for (int i = 0; i < n; i++) {
        struct world_car *car = &w->cars[i];

        car->ev = evs[i];
        car->wanted_kwh = fmax(0.0, (evs[i].soc_target - evs[i].soc_arrival) * evs[i].battery_kwh);
        world_assign(w, car, -1, conn);
    }
    free(conn);
    free(evs);
    demand_free(d);
}

/* Recorded cars bound to a connector first (they did use it), then the
 * cars recorded only by kind, fitted around them. */
static void world_given_cars(struct world *w, const struct world_given *g)
{
    int n_conn = station_connector_count(w->st);
    struct world_conn *conn = alloc_array((size_t)n_conn, sizeof(*conn));

    w->cars = alloc_array((size_t)g->n_cars, sizeof(*w->cars));
    w->n_cars = g->n_cars;
    for (int i = 0; i < g->n_cars; i++) {
        struct world_car *car = &w->cars[i];
        struct world_conn *c;

        car->ev = g->cars[i].ev;
        car->wanted_kwh = g->cars[i].wanted_kwh;
        if (g->cars[i].connector < 0) {
            continue;
        }
        world_assign(w, car, g->cars[i].connector, conn);
        if (car->connector >= 0) {
            c = &conn[car->connector];
            c->b = alloc_resize(c->b, (size_t)c->n + 1, sizeof(*c->b));
            c->b[c->n].from = car->plug_step;
            c->b[c->n++].to = car->dep_step;
        }
    }
    for (int k = 0; k < n_conn; k++) {
        conn[k].free_at = 0;
        conn[k].cursor = 0;
    }
    for (int i = 0; i < g->n_cars; i++) {
        if (g->cars[i].connector < 0) {
            world_assign(w, &w->cars[i], -1, conn);
        }
    }
    for (int k = 0; k < n_conn; k++) {
        free(conn[k].b);
    }
    free(conn);
}

/* The preset's events on every simulated day, ids suffixed with the date. */
static void world_presets(const struct world *w, struct controller_dr **out, int *n)
{
    *out = NULL;
    *n = 0;
    if (!w->opt.dr_preset) {
        return;
    }
    for (int d = 0; d < w->opt.days; d++) {
        int64_t day = w->opt.start_ms + d * CLOCK_DAY_MS;
        struct drgen_event *ev = NULL;
        struct clock_civil lt;
        int ne = 0;

        clock_to_local(day, &lt);
        drgen_preset(w->opt.dr_preset, day, &ev, &ne); /* the name was checked */
        *out = alloc_resize(*out, (size_t)(*n + ne), sizeof(**out));
        for (int i = 0; i < ne; i++) {
            struct controller_dr *c = &(*out)[(*n)++];

            memset(c, 0, sizeof(*c));
            snprintf(c->id,
                     sizeof(c->id),
                     "%.40s-%04d%02d%02d",
                     ev[i].id,
                     lt.year % 10000,
                     lt.month,
                     lt.day);
            c->type = (enum scenario_dr_type)ev[i].type;
            c->notice_ms = ev[i].notice_ms;
            c->start_ms = ev[i].start_ms;
            c->end_ms = ev[i].end_ms;
            c->limit_kw = ev[i].limit_kw;
        }
        free(ev);
    }
}

static int world_cmp_id(const void *a, const void *b)
{
    const struct controller_dr *x = *(const struct controller_dr *const *)a;
    const struct controller_dr *y = *(const struct controller_dr *const *)b;

    return strcmp(x->id, y->id);
}

/* The engine tells events apart by id, so two sources must not share one. */
static int world_unique_ids(const struct world *w, struct error_detail *ed)
{
    const struct controller_dr **by_id = alloc_array((size_t)w->n_dr, sizeof(*by_id));
    int rc = ERROR_OK;

    for (int i = 0; i < w->n_dr; i++) {
        by_id[i] = &w->dr[i];
    }
    qsort(by_id, (size_t)w->n_dr, sizeof(*by_id), world_cmp_id);
    for (int i = 1; i < w->n_dr && !rc; i++) {
        if (strcmp(by_id[i - 1]->id, by_id[i]->id) == 0) {
            rc = error_setf(ed,
                            ERROR_INVALID,
                            "dr: \"%.64s\": two DR events share this id (drawn, preset, given "
                            "and recorded events together must have unique ids)",
                            by_id[i]->id);
        }
    }
    free(by_id);
    return rc;
}

/* Drawn, preset, explicit, then given events, in that order. */
static int world_events(struct world *w, const struct world_given *g, struct error_detail *ed)
{
    int64_t dt_ms = (int64_t)w->opt.step_minutes * 60000;
    struct drgen_event *gen = NULL;
    struct controller_dr *pre = NULL;
    int ng = 0;
    int np = 0;
    int n = 0;
    int rc;

    if (w->opt.dr_generate) {
        drgen_generate(&w->opt.drgen,
                       rng_mix(w->opt.seed, WORLD_STREAM_DR),
                       w->opt.start_ms,
                       w->opt.start_ms + w->steps * dt_ms,
                       &gen,
                       &ng);
    }
    world_presets(w, &pre, &np);
    w->n_dr = ng + np + w->opt.n_dr + (g ? g->n_dr : 0);
    w->dr = alloc_array((size_t)w->n_dr, sizeof(*w->dr));
    for (int i = 0; i < ng; i++) {
        struct controller_dr *d = &w->dr[n++];

        snprintf(d->id, sizeof(d->id), "%s", gen[i].id);
        d->type = (enum scenario_dr_type)gen[i].type;
        d->notice_ms = gen[i].notice_ms;
        d->start_ms = gen[i].start_ms;
        d->end_ms = gen[i].end_ms;
        d->limit_kw = gen[i].limit_kw;
    }
    for (int i = 0; i < np; i++) {
        w->dr[n++] = pre[i];
    }
    for (int i = 0; i < w->opt.n_dr; i++) {
        w->dr[n++] = w->opt.dr[i];
    }
    for (int i = 0; g && i < g->n_dr; i++) {
        w->dr[n++] = g->dr[i];
    }
    free(pre);
    free(gen);
    rc = world_unique_ids(w, ed);
    return rc;
}

static int
world_check_given(const struct station *st, const struct world_given *g, struct error_detail *ed)
{
    int n_conn = station_connector_count(st);

    if (!g->pv_kw || !g->base_kw || g->n_cars < 0 || g->n_dr < 0 || (g->n_cars && !g->cars) ||
        (g->n_dr && !g->dr)) {
        return error_setf(ed, ERROR_INVALID, "given world: series, cars or events missing");
    }
    for (int i = 0; i < g->n_cars; i++) {
        const struct world_given_car *c = &g->cars[i];

        if (c->connector < -1 || c->connector >= n_conn ||
            (i > 0 && c->ev.arrival_ms < g->cars[i - 1].ev.arrival_ms) || !(c->wanted_kwh >= 0.0) ||
            c->ev.departure_ms <= c->ev.arrival_ms) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "given world: cars[%d] \"%.64s\": connector %d of %d, arrival order, "
                              "wanted energy or departure broken",
                              i,
                              c->ev.id,
                              c->connector,
                              n_conn);
        }
    }
    return ERROR_OK;
}

static int world_make(const struct station *st,
                      const struct world_options *opt,
                      const struct world_given *g,
                      struct world **out,
                      struct error_detail *ed)
{
    struct world *w;
    int rc = world_check(opt, ed);

    *out = NULL;
    if (!rc && g) {
        rc = world_check_given(st, g, ed);
    }
    if (rc) {
        return rc;
    }
    w = ALLOC_NEW(struct world);
    w->st = st;
    w->opt = *opt;
    if (!w->opt.demand.visitor_flow && w->opt.visitor_flow != 1.0) {
        /* the context lives in the world, as long as the params that use it */
        w->opt.demand.visitor_flow = world_visitor;
        w->opt.demand.visitor_ctx = &w->opt.visitor_flow;
    }
    w->ev_profile = demand_profile_new(&w->opt.demand);
    w->steps = opt->days * (1440 / opt->step_minutes);
    w->total = w->steps + opt->pad_steps;
    w->pv_true_kw = alloc_array((size_t)w->total, sizeof(double));
    w->pv_clear_kw = alloc_array((size_t)w->total, sizeof(double));
    w->base_true_kw = alloc_array((size_t)w->total, sizeof(double));
    w->base_profile_kw = alloc_array((size_t)w->total, sizeof(double));
    world_physics(w);
    if (g) {
        memcpy(w->pv_true_kw, g->pv_kw, (size_t)w->total * sizeof(double));
        memcpy(w->base_true_kw, g->base_kw, (size_t)w->total * sizeof(double));
        world_given_cars(w, g);
    } else {
        world_cars(w);
    }
    rc = world_events(w, g, ed);
    if (rc) {
        world_free(w);
        w = NULL;
    }
    *out = w;
    return rc;
}

int world_build(const struct station *st,
                const struct world_options *opt,
                struct world **out,
                struct error_detail *ed)
{
    return world_make(st, opt, NULL, out, ed);
}

int world_build_given(const struct station *st,
                      const struct world_options *opt,
                      const struct world_given *g,
                      struct world **out,
                      struct error_detail *ed)
{
    return world_make(st, opt, g, out, ed);
}

void world_free(struct world *w)
{
    if (!w) {
        return;
    }
    free(w->pv_true_kw);
    free(w->pv_clear_kw);
    free(w->base_true_kw);
    free(w->base_profile_kw);
    free(w->cars);
    free(w->dr);
    demand_profile_free(w->ev_profile);
    free(w);
}

void world_forecast(const struct world *w,
                    int k,
                    int n,
                    int perfect,
                    double *pv_kw,
                    double *base_kw,
                    double *ev_kw)
{
    double csi = w->opt.pv_forecast_csi;
    double dt_h = w->opt.step_minutes / 60.0;
    int64_t now_ms;

    /* clear-sky index seen over the last step: the persistence part */
    if (k > 0 && w->pv_clear_kw[k - 1] > 1.0) {
        csi = w->pv_true_kw[k - 1] / w->pv_clear_kw[k - 1];
    }
    for (int j = 0; j < n; j++) {
        int i = k + j < w->total ? k + j : w->total - 1;

        pv_kw[j] = perfect ? w->pv_true_kw[i] : w->pv_clear_kw[i];
        base_kw[j] = perfect ? w->base_true_kw[i] : w->base_profile_kw[i];
        ev_kw[j] = 0.0;
    }
    if (!perfect) {
        /* the live engine's forecast (engine/forecast.h) on the world's sky */
        forecast_pv_blend(pv_kw,
                          n,
                          dt_h,
                          csi,
                          w->opt.pv_forecast_csi,
                          w->opt.pv_forecast_tau_h,
                          pv_kw);
    }
    if (perfect) {
        return;
    }
    /* cars still to come, from the historical profile: the cars already
     * plugged in are sessions the controller knows, so they are left out */
    now_ms = w->opt.start_ms + (int64_t)k * w->opt.step_minutes * 60000;
    if (!(demand_profile_kw_from(w->ev_profile, now_ms, now_ms, w->opt.step_minutes, ev_kw, n) >=
          0.0)) {
        memset(ev_kw, 0, (size_t)n * sizeof(*ev_kw));
    }
}
