/* SPDX-License-Identifier: MIT */
/*
 * world.h - the simulated station's truth, drawn once per run and shared by
 * every strategy so that `--compare` runs them all on the same random
 * draws: PV the sun and clouds would give, the base load, the cars that
 * come (with the connector each one gets, or lost), and the DR events.
 *
 * Connector assignment does not depend on the strategy: cars leave at their
 * true departure whatever they got, so occupancy is a property of the
 * world. A car takes a free connector of the kind it wants (DC or AC); if
 * none is free it waits up to max_wait_minutes for one, else it is lost.
 * Everything is on the step grid: a car occupies steps [plug_step, dep_step).
 *
 * A world is either drawn from the seeded models (world_build) or given
 * from recorded data (world_build_given, used by replay.c): both give the
 * same struct, so run.c simulates every strategy on either.
 */
#ifndef FLEXD_SIM_WORLD_H
#define FLEXD_SIM_WORLD_H

#include "../engine/controller.h"
#include "../models/station.h"
#include "demand.h"
#include "drgen.h"

#include <stdint.h>

/* The sky the weather model draws (world_options.sky). */
enum world_sky {
    WORLD_SKY_DRAWN = 0,    /* day types drawn from the monthly climate table */
    WORLD_SKY_CLEAR = 1,    /* every day clear */
    WORLD_SKY_PARTLY = 2,   /* every day partly cloudy */
    WORLD_SKY_OVERCAST = 3, /* every day overcast */
};

#define WORLD_CSI_SCALE_MAX 10.0 /* largest clear_sky_index_scale */

/* "drawn", "clear", "partly_cloudy", "overcast", NULL: by enum world_sky. */
extern const char *const world_sky_names[5];

struct world_options {
    int64_t start_ms; /* local midnight of the first day */
    int days;
    int step_minutes;
    uint64_t seed;
    int pad_steps;            /* extra steps of truth after the end, for look-ahead */
    int max_wait_minutes;     /* a car waits this long for a connector, then leaves */
    double base_noise_sd;     /* relative noise of the base load around its profile */
    double pv_forecast_csi;   /* climatological clear-sky index the PV forecast relaxes to */
    double pv_forecast_tau_h; /* persistence time constant of the PV forecast, hours */
    int sky;                  /* enum world_sky */
    double csi_scale;         /* drawn clear-sky index times this (capped at WEATHER_KC_MAX) */
    double csi_fixed;         /* > 0: this clear-sky index all the time instead; 0: drawn */
    struct demand_params demand;
    /* tourist arrivals times this every day (1: none); used when demand has
     * no visitor_flow hook of its own */
    double visitor_flow;
    int dr_generate; /* 1: draw DR events with drgen */
    struct drgen_params drgen;
    const char *dr_preset; /* a drgen preset added on every simulated day; NULL or "none": no */
    int n_dr;              /* DR events given explicitly (added to the drawn ones) */
    const struct controller_dr *dr;
};

/* One recorded car: the arrival as the demand model would draw it, the
 * energy it wants and the connector it must use (flat station connector
 * index, or -1 for any connector of its kind, ev.wants_dc). */
struct world_given_car {
    struct demand_ev ev;
    double wanted_kwh;
    int connector;
};

/* What recorded data gives a world instead of the models (replay.h). */
struct world_given {
    const double *pv_kw;   /* [days x steps per day + pad_steps] true PV of every step */
    const double *base_kw; /* [same] true base load of every step */
    int n_cars;
    const struct world_given_car *cars; /* sorted by ev.arrival_ms */
    int n_dr;                           /* DR events added to those of the options */
    const struct controller_dr *dr;
};

struct world_car {
    struct demand_ev ev;
    int connector; /* flat station connector index, -1 when lost */
    int plug_step;
    int dep_step;  /* first step it is gone */
    int decl_step; /* declared departure on the step grid */
    double max_kw; /* what the car accepts on its connector's kind */
    double wanted_kwh;
};

struct world {
    const struct station *st;
    struct world_options opt;
    int steps; /* simulated steps */
    int total; /* steps + pad_steps: length of the arrays below */
    double *pv_true_kw;
    double *pv_clear_kw; /* same sky with no cloud: the forecast's basis */
    double *base_true_kw;
    double *base_profile_kw; /* what the base-load forecast knows */
    int n_cars;
    struct world_car *cars; /* by arrival time */
    int n_dr;
    struct controller_dr *dr;
    struct demand_profile *ev_profile; /* the EV forecast's tables (demand.h) */
};

/* Defaults for the Ulanhada station (documented in docs/simulation.md). */
void world_options_default(struct world_options *o);

/* Draw the world; ERROR_INVALID with ed naming the option when one breaks
 * a rule, or when two DR events share an id. *out is owned by the caller
 * (world_free). */
int world_build(const struct station *st,
                const struct world_options *opt,
                struct world **out,
                struct error_detail *ed);

/* Build the world from given truth: PV, base load, cars and DR events come
 * from g (copied; g is borrowed only during the call), the clear-sky PV and
 * the base-load profile the forecasts know from the models as in
 * world_build(), and the DR events of opt (explicit, preset, drawn if
 * dr_generate) are added. Cars get connectors by the same rule as drawn
 * ones. Errors as for world_build(). */
int world_build_given(const struct station *st,
                      const struct world_options *opt,
                      const struct world_given *g,
                      struct world **out,
                      struct error_detail *ed);

void world_free(struct world *w);

/* Forecasts seen at step k for n steps (k+j beyond the padded end repeats
 * the last value): PV by clear-sky persistence relaxing to the
 * climatological index, base load by its profile, EV by the expected
 * profile; with perfect = 1 the true PV and base load and no EV forecast
 * (the cars themselves are known). */
void world_forecast(const struct world *w,
                    int k,
                    int n,
                    int perfect,
                    double *pv_kw,
                    double *base_kw,
                    double *ev_kw);

#endif
