/* SPDX-License-Identifier: MIT */
/*
 * drgen.h - demand-response events for the simulator: a seeded generator
 * of day-ahead peak-shaving caps (削峰), valley-filling floors (填谷) and
 * short-notice caps, plus a few fixed preset days for repeatable runs.
 *
 * An event caps (or floors) the station's grid import at limit_kw over
 * [start_ms, end_ms); it becomes known at notice_ms <= start_ms. Each kind
 * of event has a local daily window it lies in, a duration range, a notice
 * rule and a limit range; on each local day a kind occurs at most once,
 * with probability per_month / days-in-month, so a month holds per_month
 * events on average. What Chinese programmes do and what is assumed here
 * is set out in docs/simulation.md, "DR event generator".
 *
 * Determinism: kind k on local day D draws from the stream
 * rng_mix(rng_mix(seed, D), 0x100 + k), so events are a pure function of
 * seed and parameters and any split of a range gives the same events. A
 * grid does not ask for a cap and a floor at once: an event that overlaps
 * an event of the opposite type from a kind listed earlier is dropped
 * (decided on the undropped draws of the neighbouring days, so the rule too
 * is split-independent).
 */
#ifndef FLEXD_SIM_DRGEN_H
#define FLEXD_SIM_DRGEN_H

#include "../common/error.h"
#include "../models/scenario.h"
#include "../models/station.h"

#include <stdint.h>

#define DRGEN_KINDS_MAX 8
#define DRGEN_NAME_MAX  24
#define DRGEN_ID_MAX    64
#define DRGEN_DAYS_MAX  (366 * 100)

struct drgen_kind {
    char name[DRGEN_NAME_MAX];    /* [a-z0-9_-], part of event ids */
    int type;                     /* enum scenario_dr_type: 0 import cap, 1 import floor */
    double per_month[12];         /* expected events in January..December, each <= 28 */
    struct station_window window; /* local window the whole event lies in (may wrap) */
    int duration_min_min;         /* multiples of align_min, >= align_min */
    int duration_max_min;         /* <= the window's length */
    int align_min;                /* starts and durations on this grid (1..60), e.g. 15 */
    int day_ahead;                /* 1: known on the day before, at local minute notice_min */
    int notice_min;               /* day_ahead: 0..1439 clock time; else lead time 0..1440 */
    double limit_kw_min;
    double limit_kw_max;
    double limit_step_kw; /* limits rounded to this, 0 = not rounded */
};

struct drgen_params {
    int n_kinds;
    struct drgen_kind kinds[DRGEN_KINDS_MAX];
};

struct drgen_event {
    char id[DRGEN_ID_MAX]; /* "dr-20260715-evening_cap" */
    int type;              /* enum scenario_dr_type */
    int kind;              /* index into drgen_params.kinds; -1 for presets */
    int64_t start_ms;
    int64_t end_ms;    /* > start_ms */
    int64_t notice_ms; /* <= start_ms */
    double limit_kw;
};

/* The Ulanhada defaults: day-ahead evening caps 18:00-21:00 (summer and
 * winter), day-ahead midday floors 11:00-15:00 (spring and autumn), day-ahead
 * night floors 23:00-05:00 (windy months), short-notice caps 08:00-22:00
 * with 30 min notice. */
void drgen_params_default(struct drgen_params *p);

/* Check every field. ERROR_OK, or ERROR_INVALID with ed (may be NULL) as
 * "kinds[1].duration_max_min: 300: must be in [60, 240] (duration_min_min
 * to the window's length)". */
int drgen_params_validate(const struct drgen_params *p, struct error_detail *ed);

/* The events whose start_ms lies in [start_ms, end_ms), sorted by start
 * (then kind). *out is allocated here, owned by the caller (free()), never
 * NULL on success. ERROR_INVALID when p does not validate, ERROR_RANGE when
 * the range is empty or longer than DRGEN_DAYS_MAX days; then *out = NULL,
 * *n = 0. */
int drgen_generate(const struct drgen_params *p,
                   uint64_t seed,
                   int64_t start_ms,
                   int64_t end_ms,
                   struct drgen_event **out,
                   int *n);

/* Names of the fixed preset days, NULL-terminated: "none", "evening-cap",
 * "midday-floor", "short-notice-cap", "mixed". */
extern const char *const drgen_preset_names[];

/* The events of preset `name` on the local day starting at day_start_ms
 * (a local midnight, clock_from_local(y, m, d, 0, 0, 0)). *out as for
 * drgen_generate(). ERROR_INVALID for an unknown name. */
int drgen_preset(const char *name, int64_t day_start_ms, struct drgen_event **out, int *n);

#endif
