/* SPDX-License-Identifier: MIT */
/*
 * world.c - drawing the simulated truth. Deterministic from the seed: the
 * weather, the base-load noise, the cars and the DR events each take their
 * own stream derived with rng_mix(), so adding draws to one never shifts
 * another. Simulator thread.
 */
#include "world.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../engine/planner.h"
#include "../models/rng.h"
#include "../models/solar.h"
#include "../models/weather.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    demand_params_ulanhada(&o->demand);
    o->dr_generate = 1;
    drgen_params_default(&o->drgen);
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
    return ERROR_OK;
}

static void world_arrays(struct station_pv_array const *a, struct solar_array *sa)
{
    solar_array_default(sa);
    sa->kwp = a->peak_kwp;
    sa->ac_max_kw = a->inverter_ac_kw;
    sa->tilt_deg = a->tilt_deg;
    sa->azimuth_deg = a->azimuth_deg;
    sa->gamma_per_c = a->temp_coeff_per_c;
    sa->losses = a->losses;
}

/* PV (true and clear-sky) and base load for every step, at the step's middle. */
static void world_physics(struct world *w)
{
    const struct station *st = w->st;
    struct solar_site site = {st->location.lat_deg, st->location.lon_deg, st->location.altitude_m};
    struct solar_array arrays[STATION_PV_ARRAYS_MAX];
    struct weather *wx = weather_new(weather_climate_ulanqab(),
                                     rng_mix(w->opt.seed, WORLD_STREAM_WEATHER),
                                     w->opt.step_minutes);
    struct rng *r = rng_new(rng_mix(w->opt.seed, WORLD_STREAM_BASE));
    int64_t dt_ms = (int64_t)w->opt.step_minutes * 60000;

    for (int i = 0; i < st->n_pv_arrays; i++) {
        world_arrays(&st->pv_arrays[i], &arrays[i]);
    }
    for (int k = 0; k < w->total; k++) {
        int64_t ts = w->opt.start_ms + k * dt_ms;
        struct weather_sample ws;
        struct solar_pv_output po;
        struct clock_civil lt;

        weather_at(wx, ts + dt_ms / 2, &ws);
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

static int world_step_of(const struct world *w, int64_t ts)
{
    int64_t dt_ms = (int64_t)w->opt.step_minutes * 60000;

    return ts <= w->opt.start_ms ? 0 : (int)((ts - w->opt.start_ms) / dt_ms);
}

/* Give car i a connector of its kind: the first free at its arrival step,
 * else the one that frees first if within the wait limit. free_at[k] is the
 * first step connector k is free. */
static void world_assign(struct world *w, struct world_car *car, int *free_at)
{
    const struct station *st = w->st;
    int n = station_connector_count(st);
    int wait_steps = w->opt.max_wait_minutes / w->opt.step_minutes;
    int a = world_step_of(w, car->ev.arrival_ms);
    int best = -1;

    /* a stop shorter than a step still occupies the step it arrived in */
    car->dep_step = world_step_of(w, car->ev.departure_ms);
    car->dep_step = car->dep_step > a ? car->dep_step : a + 1;
    car->decl_step = world_step_of(w, car->ev.declared_departure_ms);
    for (int k = 0; k < n; k++) {
        int c;
        const struct station_connector *conn = planner_connector(st, k, &c);
        int is_dc = st->chargers[c].type == STATION_CHARGER_DC;

        (void)conn;
        if (is_dc != car->ev.wants_dc) {
            continue;
        }
        if (best < 0 || free_at[k] < free_at[best]) {
            best = k;
        }
    }
    car->connector = -1;
    car->plug_step = a;
    if (best < 0 || free_at[best] > a + wait_steps ||
        (free_at[best] > a ? free_at[best] : a) >= car->dep_step) {
        return; /* lost: nothing of its kind free in time */
    }
    car->plug_step = free_at[best] > a ? free_at[best] : a;
    car->connector = best;
    free_at[best] = car->dep_step;
    car->max_kw = fmin(car->ev.wants_dc ? car->ev.max_dc_kw : car->ev.max_ac_kw,
                       planner_connector(st, best, NULL)->max_kw);
}

static void world_cars(struct world *w)
{
    int64_t dt_ms = (int64_t)w->opt.step_minutes * 60000;
    int64_t end = w->opt.start_ms + w->total * dt_ms;
    struct demand *d = demand_new(&w->opt.demand, rng_mix(w->opt.seed, WORLD_STREAM_CARS));
    struct demand_ev *evs = NULL;
    int n = 0;
    int *free_at = alloc_array((size_t)station_connector_count(w->st), sizeof(int));

    demand_generate(d, w->opt.start_ms, end, &evs, &n);
    w->cars = alloc_array((size_t)n, sizeof(*w->cars));
    w->n_cars = n;
    for (int i = 0; i < n; i++) {
        struct world_car *car = &w->cars[i];

        car->ev = evs[i];
        car->wanted_kwh = fmax(0.0, (evs[i].soc_target - evs[i].soc_arrival) * evs[i].battery_kwh);
        world_assign(w, car, free_at);
    }
    free(free_at);
    free(evs);
    demand_free(d);
}

static void world_events(struct world *w)
{
    int64_t dt_ms = (int64_t)w->opt.step_minutes * 60000;
    struct drgen_event *gen = NULL;
    int ng = 0;

    if (w->opt.dr_generate) {
        drgen_generate(&w->opt.drgen,
                       rng_mix(w->opt.seed, WORLD_STREAM_DR),
                       w->opt.start_ms,
                       w->opt.start_ms + w->steps * dt_ms,
                       &gen,
                       &ng);
    }
    w->n_dr = ng + w->opt.n_dr;
    w->dr = alloc_array((size_t)w->n_dr, sizeof(*w->dr));
    for (int i = 0; i < ng; i++) {
        struct controller_dr *d = &w->dr[i];

        snprintf(d->id, sizeof(d->id), "%s", gen[i].id);
        d->type = (enum scenario_dr_type)gen[i].type;
        d->notice_ms = gen[i].notice_ms;
        d->start_ms = gen[i].start_ms;
        d->end_ms = gen[i].end_ms;
        d->limit_kw = gen[i].limit_kw;
    }
    for (int i = 0; i < w->opt.n_dr; i++) {
        w->dr[ng + i] = w->opt.dr[i];
    }
    free(gen);
}

int world_build(const struct station *st,
                const struct world_options *opt,
                struct world **out,
                struct error_detail *ed)
{
    struct world *w;
    int rc = world_check(opt, ed);

    *out = NULL;
    if (rc) {
        return rc;
    }
    w = ALLOC_NEW(struct world);
    w->st = st;
    w->opt = *opt;
    w->steps = opt->days * (1440 / opt->step_minutes);
    w->total = w->steps + opt->pad_steps;
    w->pv_true_kw = alloc_array((size_t)w->total, sizeof(double));
    w->pv_clear_kw = alloc_array((size_t)w->total, sizeof(double));
    w->base_true_kw = alloc_array((size_t)w->total, sizeof(double));
    w->base_profile_kw = alloc_array((size_t)w->total, sizeof(double));
    world_physics(w);
    world_cars(w);
    world_events(w);
    *out = w;
    return ERROR_OK;
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
        double a = exp(-j * dt_h / w->opt.pv_forecast_tau_h);

        if (perfect) {
            pv_kw[j] = w->pv_true_kw[i];
            base_kw[j] = w->base_true_kw[i];
            ev_kw[j] = 0.0;
            continue;
        }
        pv_kw[j] = w->pv_clear_kw[i] * (a * csi + (1.0 - a) * w->opt.pv_forecast_csi);
        base_kw[j] = w->base_profile_kw[i];
    }
    if (perfect) {
        return;
    }
    /* cars still to come, from the historical profile: the cars already
     * plugged in are sessions the controller knows, so they are left out */
    now_ms = w->opt.start_ms + (int64_t)k * w->opt.step_minutes * 60000;
    if (!(demand_expected_kw_profile_from(
              &w->opt.demand, now_ms, now_ms, w->opt.step_minutes, ev_kw, n) >= 0.0)) {
        memset(ev_kw, 0, (size_t)n * sizeof(*ev_kw));
    }
}
