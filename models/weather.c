/* SPDX-License-Identifier: MIT */
/*
 * weather.c - seeded stochastic weather for the simulator: a Markov chain
 * of day types per local day, an AR(1) clear-sky index within the day, and
 * air temperature from monthly normals. No I/O; a generator instance is
 * owned by its caller and used from one thread.
 *
 * The built-in Ulanqab climate and the reasoning behind every number are
 * in docs/simulation.md, "PV and weather models"; the short version sits
 * next to the table below.
 */
#include "weather.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define WEATHER_PI     3.14159265358979323846
#define WEATHER_NO_DAY INT64_MIN

/* streams derived from the run seed: one for the day chain, one for the
 * intra-day series, so changing the step length leaves day types alone */
#define WEATHER_STREAM_DAY   0x0d1ULL
#define WEATHER_STREAM_STEPS 0x57eULL

/*
 * Ulanhada / Ulanqab (41.5 N, 112.6 E, ~1,470 m), semi-arid continental
 * monsoon climate (Koppen Dwb/BSk).
 *
 * Day types: calibrated so that the simulated sunshine duration (WMO: DNI
 * > 120 W/m2) matches the percent of possible sunshine published for the
 * Inner Mongolian plateau, about 77 % in January-February falling to 56 %
 * in July (Duolun County, CMA normals 1971-2000, 3,036 h/yr; West Ujimqin
 * 2,882 h/yr), i.e. ~2,900-3,100 h/yr: winter is dry and clear, the
 * July-August monsoon brings the cloud.
 *
 * Temperature: daily ranges and the seasonal shape from the CMA 1971-2000
 * table for Duolun County (plateau station, 1,245 m); shifted by a smooth
 * seasonal offset so that January and July match the Jining (Ulanqab city,
 * 1,378 m) normals of about -13 and +19 deg C. Annual mean 4.4 deg C.
 *
 * Linke turbidity: an assumption, not a measurement: ~2.8 in the dry,
 * clean winter to ~4.1 in the humid July, the range of the Remund et al.
 * (2003) climatology for the semi-arid North China plateau. Replace with the
 * SoDa monthly values for the site when they are at hand.
 *
 * Wind: the plateau's annual mean of about 3 m/s.
 */
static const struct weather_climate weather_ulanqab = {
    .name = "ulanqab",
    .p_clear = {0.62, 0.64, 0.56, 0.52, 0.50, 0.40, 0.30, 0.36, 0.48, 0.58, 0.57, 0.58},
    .p_partly = {0.30, 0.28, 0.33, 0.36, 0.38, 0.44, 0.48, 0.44, 0.38, 0.32, 0.32, 0.31},
    .temp_mean_c = {-13.0, -9.5, -2.1, 6.4, 12.3, 16.4, 19.0, 17.5, 12.3, 5.8, -2.8, -10.0},
    .temp_range_c = {12.6, 13.9, 13.6, 14.5, 15.4, 14.0, 12.1, 12.5, 14.1, 14.0, 12.5, 11.8},
    .linke_turbidity = {2.8, 3.0, 3.4, 3.8, 3.9, 4.0, 4.1, 3.9, 3.4, 3.1, 2.9, 2.8},
    .wind_m_s = 3.0,
    /* ~2.5 h after solar noon, which is ~12:30 +08:00 at 112.6 E */
    .temp_peak_hour = 15.0,
    /* synoptic systems pass every 3-5 days: anomalies of a few K that
     * decay with a ~3-day e-folding time (phi = exp(-1/3) ~ 0.7) */
    .temp_anomaly_sd_c = 3.0,
    .temp_anomaly_phi = 0.7,
    /* cloudy spells: a day keeps yesterday's type with 35 % probability
     * before the monthly draw; the monthly frequencies are unchanged */
    .persistence = 0.35,
    .day =
        {
            /* clear: thin haze only; slow drift */
            {0.98, 0.03, 120.0, 1.15},
            /* broken cloud: fast, large swings, cloud-edge enhancement */
            {0.68, 0.25, 20.0, 1.0},
            /* overcast: thick stratus, slow changes, damped diurnal cycle */
            {0.28, 0.10, 60.0, 0.6},
        },
};

struct weather {
    struct weather_climate climate;
    uint64_t seed;
    int step_minutes;
    int steps_per_day;
    /* the day chain: state at chain_day (local day index) */
    int64_t chain_day;
    enum weather_day_type chain_type;
    double chain_anomaly_c;
    /* mid-month knots of the piecewise-linear monthly curves, solved so
     * that each month's mean equals the table (weather_knots()) */
    double knot_temp_c[12];
    double knot_range_c[12];
    double knot_linke[12];
    /* the cached day: its clear-sky index per step */
    int64_t day;
    enum weather_day_type day_type;
    double day_anomaly_c;
    double *kc;
};

const struct weather_climate *weather_climate_ulanqab(void)
{
    return &weather_ulanqab;
}

const char *weather_day_type_name(enum weather_day_type t)
{
    static const char *const names[WEATHER_DAY_TYPES] = {"clear", "partly_cloudy", "overcast"};

    return (unsigned)t < WEATHER_DAY_TYPES ? names[t] : "unknown";
}

/* v in [lo, hi] (NaN fails); sets the message and returns ERROR_INVALID */
static int
weather_check(struct error_detail *ed, const char *field, int index, double v, double lo, double hi)
{
    int rc = ERROR_OK;

    if (!(v >= lo && v <= hi)) {
        if (index >= 0) {
            rc = error_setf(ed,
                            ERROR_INVALID,
                            "%s[%d]: %g: must be in [%g, %g]",
                            field,
                            index,
                            v,
                            lo,
                            hi);
        } else {
            rc = error_setf(ed, ERROR_INVALID, "%s: %g: must be in [%g, %g]", field, v, lo, hi);
        }
    }
    return rc;
}

int weather_climate_validate(const struct weather_climate *c, struct error_detail *ed)
{
    char field[64];
    const char *name;
    int rc = ERROR_OK;

    for (int m = 0; m < 12 && !rc; m++) {
        rc = weather_check(ed, "p_clear", m, c->p_clear[m], 0.0, 1.0);
        rc = rc ? rc : weather_check(ed, "p_partly", m, c->p_partly[m], 0.0, 1.0);
        rc = rc ? rc
                : weather_check(ed,
                                "p_clear + p_partly",
                                m,
                                c->p_clear[m] + c->p_partly[m],
                                0.0,
                                1.0 + 1e-12);
        /* the coldest and warmest monthly means on Earth, with margin */
        rc = rc ? rc : weather_check(ed, "temp_mean_c", m, c->temp_mean_c[m], -60.0, 50.0);
        rc = rc ? rc : weather_check(ed, "temp_range_c", m, c->temp_range_c[m], 0.0, 40.0);
        /* Ineichen-Perez is fitted for TL 1..10 */
        rc = rc ? rc : weather_check(ed, "linke_turbidity", m, c->linke_turbidity[m], 1.0, 10.0);
    }
    rc = rc ? rc : weather_check(ed, "wind_m_s", -1, c->wind_m_s, 0.0, 50.0);
    rc = rc ? rc : weather_check(ed, "temp_peak_hour", -1, c->temp_peak_hour, 0.0, 24.0);
    rc = rc ? rc : weather_check(ed, "temp_anomaly_sd_c", -1, c->temp_anomaly_sd_c, 0.0, 20.0);
    rc = rc ? rc : weather_check(ed, "temp_anomaly_phi", -1, c->temp_anomaly_phi, 0.0, 0.999);
    rc = rc ? rc : weather_check(ed, "persistence", -1, c->persistence, 0.0, 0.999);
    for (int t = 0; t < WEATHER_DAY_TYPES && !rc; t++) {
        name = weather_day_type_name((enum weather_day_type)t);
        snprintf(field, sizeof(field), "day[%s].kc_mean", name);
        rc = weather_check(ed, field, -1, c->day[t].kc_mean, WEATHER_KC_MIN, WEATHER_KC_MAX);
        snprintf(field, sizeof(field), "day[%s].kc_sd", name);
        rc = rc ? rc : weather_check(ed, field, -1, c->day[t].kc_sd, 0.0, 1.0);
        snprintf(field, sizeof(field), "day[%s].kc_tau_min", name);
        rc = rc ? rc : weather_check(ed, field, -1, c->day[t].kc_tau_min, 1.0, 1440.0);
        snprintf(field, sizeof(field), "day[%s].temp_range_factor", name);
        rc = rc ? rc : weather_check(ed, field, -1, c->day[t].temp_range_factor, 0.0, 3.0);
    }
    return rc;
}

/* Knots k for a piecewise-linear curve through mid-month points whose
 * monthly means equal table t. Averaging the linear pieces over a month
 * gives (k[m-1] + 6 k[m] + k[m+1]) / 8 (months taken as equal length), so
 * interpolating the table itself would pull January 0.8 C towards its
 * milder neighbours; a few Jacobi sweeps on the diagonally dominant system
 * remove that bias to < 0.01 C. */
static void weather_knots(const double t[12], double k[12])
{
    double next[12];

    for (int m = 0; m < 12; m++) {
        k[m] = t[m];
    }
    for (int it = 0; it < 30; it++) {
        for (int m = 0; m < 12; m++) {
            next[m] = (8.0 * t[m] - k[(m + 11) % 12] - k[(m + 1) % 12]) / 6.0;
        }
        for (int m = 0; m < 12; m++) {
            k[m] = next[m];
        }
    }
}

struct weather *weather_new(const struct weather_climate *c, uint64_t seed, int step_minutes)
{
    struct weather *w = NULL;

    if (step_minutes >= 1 && step_minutes <= 60 && 1440 % step_minutes == 0 &&
        weather_climate_validate(c, NULL) == ERROR_OK) {
        w = ALLOC_NEW(struct weather);
        w->climate = *c;
        w->seed = seed;
        w->step_minutes = step_minutes;
        w->steps_per_day = 1440 / step_minutes;
        w->chain_day = WEATHER_NO_DAY;
        w->day = WEATHER_NO_DAY;
        w->kc = alloc_array((size_t)w->steps_per_day, sizeof(double));
        weather_knots(c->temp_mean_c, w->knot_temp_c);
        weather_knots(c->temp_range_c, w->knot_range_c);
        weather_knots(c->linke_turbidity, w->knot_linke);
    }
    return w;
}

void weather_free(struct weather *w)
{
    if (w) {
        free(w->kc);
        free(w);
    }
}

/* local (UTC+08:00) day index of ts_ms: days since 1970-01-01 local */
static int64_t weather_local_day(int64_t ts_ms)
{
    int64_t local = ts_ms + CLOCK_LOCAL_OFFSET_MS;
    int64_t d = local / CLOCK_DAY_MS;

    return (local % CLOCK_DAY_MS < 0) ? d - 1 : d;
}

static int64_t weather_day_start_ms(int64_t day)
{
    return day * CLOCK_DAY_MS - CLOCK_LOCAL_OFFSET_MS;
}

static enum weather_day_type
weather_draw_type(const struct weather_climate *c, int month0, double u)
{
    enum weather_day_type t = WEATHER_OVERCAST;

    if (u < c->p_clear[month0]) {
        t = WEATHER_CLEAR;
    } else if (u < c->p_clear[month0] + c->p_partly[month0]) {
        t = WEATHER_PARTLY_CLOUDY;
    }
    return t;
}

/* Advance the day chain from the state of day-1 (or start it, when
 * anchor) to day. All of the day's draws come from its own stream. */
static void weather_chain_step(struct weather *w, int64_t day, int anchor)
{
    const struct weather_climate *c = &w->climate;
    struct clock_civil civ;
    struct rng r;
    double u_stay, u_type, z, phi;

    clock_to_local(weather_day_start_ms(day), &civ);
    rng_seed(&r, rng_mix(w->seed ^ WEATHER_STREAM_DAY, (uint64_t)day));
    u_stay = rng_uniform(&r);
    u_type = rng_uniform(&r);
    z = rng_normal(&r, 0.0, 1.0);
    if (anchor || u_stay >= c->persistence) {
        w->chain_type = weather_draw_type(c, civ.month - 1, u_type);
    }
    phi = c->temp_anomaly_phi;
    if (anchor) {
        w->chain_anomaly_c = c->temp_anomaly_sd_c * z;
    } else {
        w->chain_anomaly_c =
            phi * w->chain_anomaly_c + sqrt(1.0 - phi * phi) * c->temp_anomaly_sd_c * z;
    }
    w->chain_day = day;
}

/* Bring the chain to day: one step when moving forward by a day, else a
 * replay from 1 January of day's year (at most 365 cheap steps). */
static void weather_chain_to(struct weather *w, int64_t day)
{
    struct clock_civil civ;
    int64_t anchor;

    if (w->chain_day != day) {
        if (w->chain_day == WEATHER_NO_DAY || day < w->chain_day || day - w->chain_day > 366) {
            clock_to_local(weather_day_start_ms(day), &civ);
            anchor = weather_local_day(clock_from_local(civ.year, 1, 1, 0, 0, 0));
            weather_chain_step(w, anchor, 1);
        }
        while (w->chain_day < day) {
            clock_to_local(weather_day_start_ms(w->chain_day + 1), &civ);
            weather_chain_step(w, w->chain_day + 1, civ.month == 1 && civ.day == 1);
        }
    }
}

/* Generate the clear-sky index series of day into w->kc. */
static void weather_make_day(struct weather *w, int64_t day)
{
    const struct weather_day_model *dm;
    struct rng r;
    double phi, innov, x, kc;

    weather_chain_to(w, day);
    w->day = day;
    w->day_type = w->chain_type;
    w->day_anomaly_c = w->chain_anomaly_c;
    dm = &w->climate.day[w->day_type];
    /* AR(1) with unit variance: x' = phi x + sqrt(1 - phi^2) e, phi =
     * exp(-dt / tau), so the correlation time is the same at any step */
    phi = exp(-(double)w->step_minutes / dm->kc_tau_min);
    innov = sqrt(1.0 - phi * phi);
    rng_seed(&r, rng_mix(w->seed ^ WEATHER_STREAM_STEPS, (uint64_t)day));
    x = rng_normal(&r, 0.0, 1.0);
    for (int i = 0; i < w->steps_per_day; i++) {
        kc = dm->kc_mean + dm->kc_sd * x;
        w->kc[i] =
            kc < WEATHER_KC_MIN ? WEATHER_KC_MIN : (kc > WEATHER_KC_MAX ? WEATHER_KC_MAX : kc);
        x = phi * x + innov * rng_normal(&r, 0.0, 1.0);
    }
}

/* Linear interpolation between mid-month knots, so there is no jump at
 * month boundaries. */
static double weather_monthly(const double knots[12], const struct clock_civil *civ)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (civ->year % 4 == 0 && civ->year % 100 != 0) || civ->year % 400 == 0;
    int dim = mdays[civ->month - 1] + (civ->month == 2 ? leap : 0);
    double frac_day = (civ->hour * 3600.0 + civ->minute * 60.0 + civ->second) / 86400.0;
    double x = (civ->month - 1) + (civ->day - 1 + frac_day) / dim - 0.5;
    double i0 = floor(x);
    double f = x - i0;
    int a = ((int)i0 % 12 + 12) % 12;
    int b = (a + 1) % 12;

    return knots[a] * (1.0 - f) + knots[b] * f;
}

void weather_at(struct weather *w, int64_t ts_ms, struct weather_sample *out)
{
    const struct weather_climate *c = &w->climate;
    int64_t day = weather_local_day(ts_ms);
    int64_t in_day_ms = ts_ms - weather_day_start_ms(day);
    struct clock_civil civ;
    int step;
    double hour, range;

    if (day != w->day) {
        weather_make_day(w, day);
    }
    step = (int)(in_day_ms / (w->step_minutes * 60000LL));
    clock_to_local(ts_ms, &civ);
    hour = (double)in_day_ms / 3600000.0;
    range = weather_monthly(w->knot_range_c, &civ) * c->day[w->day_type].temp_range_factor;
    out->day_type = w->day_type;
    out->clear_sky_index = w->kc[step];
    out->temp_air_c = weather_monthly(w->knot_temp_c, &civ) + w->day_anomaly_c +
                      0.5 * range * cos(2.0 * WEATHER_PI * (hour - c->temp_peak_hour) / 24.0);
    out->wind_m_s = c->wind_m_s;
    out->linke_turbidity = fmax(weather_monthly(w->knot_linke, &civ), 1.0);
}
