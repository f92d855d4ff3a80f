/* SPDX-License-Identifier: MIT */
/*
 * weather.h - a seeded stochastic weather generator for the simulator:
 * clear-sky index (GHI / clear-sky GHI), air temperature and wind, at the
 * simulator's step resolution, for a climate given as monthly tables.
 *
 * Each local (UTC+08:00) day is clear, partly cloudy or overcast, drawn
 * from the month's probabilities with day-to-day persistence; within the
 * day the clear-sky index follows an AR(1) process around the day type's
 * mean. Temperature is the month's mean (interpolated between mid-month
 * values) plus a day-to-day AR(1) anomaly plus a diurnal cosine whose
 * range depends on the day type. The model, its parameters and their
 * sources are described in docs/simulation.md ("PV and weather models").
 *
 * Reproducible: the weather of a given day depends only on the seed, the
 * climate and the step length, not on which days were asked for before or
 * in what order (each year's day chain restarts on 1 January and each
 * day's draws come from its own rng stream).
 */
#ifndef FLEXD_MODELS_WEATHER_H
#define FLEXD_MODELS_WEATHER_H

#include "../common/error.h"

#include <stdint.h>

enum weather_day_type {
    WEATHER_CLEAR = 0,
    WEATHER_PARTLY_CLOUDY = 1,
    WEATHER_OVERCAST = 2,
};

#define WEATHER_DAY_TYPES 3
#define WEATHER_KC_MIN    0.03 /* thickest overcast still lets ~3 % through */
#define WEATHER_KC_MAX    1.1  /* cloud-edge enhancement, averaged over a step */

/* How the clear-sky index and the diurnal temperature range behave on one
 * kind of day. */
struct weather_day_model {
    double kc_mean;           /* mean clear-sky index */
    double kc_sd;             /* standard deviation within the day */
    double kc_tau_min;        /* AR(1) correlation time, minutes */
    double temp_range_factor; /* times the month's mean daily range */
};

/* A climate: monthly tables, index 0 = January. */
struct weather_climate {
    const char *name;
    double p_clear[12];         /* probability of a clear day */
    double p_partly[12];        /* of a partly cloudy day; overcast = the rest */
    double temp_mean_c[12];     /* monthly mean air temperature */
    double temp_range_c[12];    /* mean daily max - min */
    double linke_turbidity[12]; /* for solar_clearsky() */
    double wind_m_s;            /* mean wind speed at module height */
    double temp_peak_hour;      /* local hour of the daily maximum */
    double temp_anomaly_sd_c;   /* sd of the day-to-day temperature anomaly */
    double temp_anomaly_phi;    /* its lag-1-day autocorrelation, 0..1 */
    double persistence;         /* P(day type repeats) before the monthly draw, 0..1 */
    struct weather_day_model day[WEATHER_DAY_TYPES];
};

/* What the weather is at one instant. */
struct weather_sample {
    enum weather_day_type day_type;
    double clear_sky_index; /* WEATHER_KC_MIN..WEATHER_KC_MAX; for solar_cloudy() */
    double temp_air_c;
    double wind_m_s;
    double linke_turbidity;
};

struct weather;

/* The built-in climate of the Ulanhada station (Ulanqab, Inner Mongolia);
 * static storage, never NULL. */
const struct weather_climate *weather_climate_ulanqab(void);

/* Check every field of c; returns ERROR_OK or ERROR_INVALID with
 * "field[month]: value: rule" in ed. */
int weather_climate_validate(const struct weather_climate *c, struct error_detail *ed);

/* A generator for climate c (copied; c->name is borrowed and must outlive
 * the generator), seeded with seed, producing one clear-sky index per
 * step_minutes (1..60, dividing 1440). Returns NULL when c is invalid
 * (see weather_climate_validate() for the reason) or step_minutes is. */
struct weather *weather_new(const struct weather_climate *c, uint64_t seed, int step_minutes);

/* Free w; NULL is a no-op. */
void weather_free(struct weather *w);

/* The weather at ts_ms (ms since the epoch, UTC). The clear-sky index is
 * constant over each step of the local day; temperature and turbidity are
 * continuous. Any order of calls gives the same answers; sequential calls
 * are cheapest (one day is generated at a time and cached in w). */
void weather_at(struct weather *w, int64_t ts_ms, struct weather_sample *out);

/* Short name of a day type ("clear", "partly_cloudy", "overcast"). */
const char *weather_day_type_name(enum weather_day_type t);

#endif
