/* SPDX-License-Identifier: MIT */
/*
 * demand_params.h - the parameters of the EV demand model (demand.h):
 * per-source arrival rates, calendar factors, time-of-day shapes, stays,
 * SoC and connector preference, the vehicle classes, the sharing switch
 * and windows, and the visitor-flow hook; their Ulanhada defaults, their
 * validation, and the per-minute arrival/departure shares they imply.
 *
 * Plain data; no I/O, no state. The defaults and their sources are in
 * docs/simulation.md, "EV demand model".
 */
#ifndef FLEXD_SIM_DEMAND_PARAMS_H
#define FLEXD_SIM_DEMAND_PARAMS_H

#include "../common/error.h"
#include "../models/station.h"
#include "trace.h"

#define DEMAND_SOURCES        4
#define DEMAND_CLASSES_MAX    8
#define DEMAND_CLASS_NAME_MAX 16
#define DEMAND_PER_DAY_MAX    1000.0 /* expected arrivals per source and day; bounds typos */
#define DEMAND_FACTOR_MAX     100.0
#define DEMAND_DWELL_MAX_MIN  (48 * 60)
#define DEMAND_DAY_MINUTES    1440

/* A share of a day's arrivals over local minutes: flat_share spread evenly
 * over the window [start_min, end_min) (end <= start wraps past midnight,
 * 0-1440 is the whole day), the rest as a biweight (quartic) bump around
 * peak_min with the given half width (sd = half_width / sqrt(7)), cut to
 * the window. A polynomial bump rather than a Gaussian keeps the intensity
 * table free of libm, so arrivals replay bit for bit everywhere (rng.h). */
struct demand_shape {
    struct station_window window;
    int peak_min;       /* 0..1439 */
    int half_width_min; /* 1..1440 */
    double flat_share;  /* 0..1 */
};

/* One source. Triangular (min, mode, max) distributions stand in for the
 * beta-like shapes of SoC and dwell: bounded, skewable, exact to sample. */
struct demand_source_params {
    int enabled;
    double weekday_per_day;        /* expected arrivals on a workday of a month with factor 1 */
    double month_factor[12];       /* January..December */
    double weekend_factor;         /* Saturday/Sunday not worked in exchange */
    double holiday_factor;         /* public holiday periods (holidays.h) */
    double spring_festival_factor; /* the Spring Festival period */
    struct demand_shape arrive;    /* time-of-day of arrivals */
    int overnight;                 /* 1: leave at the next `depart` time instead of after a dwell */
    struct demand_shape depart;    /* time-of-day of departures (overnight only) */
    double dwell_min_min;          /* minimum stay; also for overnight sources */
    double dwell_mode_min;
    double dwell_max_min;
    double soc_arrival_min;
    double soc_arrival_mode;
    double soc_arrival_max;
    double soc_target_min; /* uniform in [min, max] */
    double soc_target_max;
    double dc_share;        /* probability a DC-capable car prefers DC */
    double declared_sd_min; /* sd of declared - true departure */
};

/* A vehicle class of the arriving fleet; each draws uniformly in its ranges. */
struct demand_vehicle_class {
    char name[DEMAND_CLASS_NAME_MAX];
    double share; /* of arrivals; the shares sum to 1 */
    double battery_kwh_min;
    double battery_kwh_max;
    double max_dc_kw_min; /* 0 and 0: no DC inlet, always charges AC */
    double max_dc_kw_max;
    double max_ac_kw_min; /* on-board charger */
    double max_ac_kw_max;
};

/* External visitor-flow multiplier for TOURIST arrivals on local date
 * y-m-d (e.g. the district platform's scenic-area forecast over its
 * typical value). Must return a finite value >= 0; 1 means no change. */
typedef double (*demand_visitor_fn)(void *ctx, int y, int m, int d);

struct demand_params {
    struct demand_source_params source[DEMAND_SOURCES]; /* by enum trace_source */
    int n_classes;
    struct demand_vehicle_class classes[DEMAND_CLASSES_MAX];
    int sharing_enabled;                    /* 0: NIGHT and COMMUNITY produce nothing */
    struct station_window sharing_charging; /* COMMUNITY arrivals only inside */
    struct station_window sharing_parking;  /* NIGHT arrivals and departures only inside */
    int declared_round_min;                 /* declared departures rounded to this, 0 = no */
    int declared_min_after_arrival_min;     /* declared departure never earlier than this */
    double dc_connector_kw;                 /* for demand_expected_kw_profile() only */
    double ac_connector_kw;
    demand_visitor_fn visitor_flow; /* NULL: no multiplier */
    void *visitor_ctx;              /* borrowed; must outlive every use of the params */
};

/* The defaults for the Ulanhada station (docs/simulation.md gives the
 * sources): sharing on, windows of config/ulanhada.json, no multiplier. */
void demand_params_ulanhada(struct demand_params *p);

/* Copy the station's sharing windows and its largest DC and AC connector
 * power into p. */
void demand_params_from_station(struct demand_params *p, const struct station *st);

/* Check every field and cross-field rule. ERROR_OK, or ERROR_INVALID with
 * ed (may be NULL) holding "field: value: rule", e.g.
 * "sources.tourist.weekday_per_day: -1: must be in [0, 1000]". */
int demand_params_validate(const struct demand_params *p, struct error_detail *ed);

/* Per-minute share w[DEMAND_DAY_MINUTES] (local minutes, sums to 1) of the
 * arrivals, or for an overnight source the departures, of source s (enum
 * trace_source), cut to the sharing windows that apply to it. Returns the
 * mass before normalisation: 0 when no minute can be drawn (w all 0). Only
 * + - * / so the tables replay bit for bit everywhere. */
double
demand_params_arrival_share(const struct demand_params *p, int s, double w[DEMAND_DAY_MINUTES]);
double
demand_params_departure_share(const struct demand_params *p, int s, double w[DEMAND_DAY_MINUTES]);

#endif
