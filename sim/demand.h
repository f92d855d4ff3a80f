/* SPDX-License-Identifier: MIT */
/*
 * demand.h - the EV demand model of the simulator: who arrives at the
 * Ulanhada station, when, with which car, how empty, how full they want
 * it, when they leave and when they say they will leave.
 *
 * Four sources (enum trace_source): TOURIST visitors to the volcano scenic
 * area, THROUGH traffic, community NIGHT parking and COMMUNITY shared
 * charging. Each source's arrivals are a non-homogeneous Poisson process
 * over local time (UTC+08:00): a daily expected count (weekday count x
 * month factor x day-type factor x, for tourists, an optional external
 * visitor-flow multiplier) spread over the day by a piecewise-constant
 * per-minute intensity. Given a day's Poisson total, the arrival times are
 * drawn independently from that intensity, which is the same process as
 * per-minute Poisson counts (order-statistics property of Poisson
 * processes) at a fraction of the draws. Sources and defaults are argued
 * in docs/simulation.md, "EV demand model".
 *
 * Determinism: the draws of local day D and source s come from their own
 * stream rng_mix(rng_mix(seed, D), s), so a run is a pure function of the
 * seed and the parameters; generating day by day, or over any split of a
 * range, gives byte-identical arrivals; and switching sharing off removes
 * the NIGHT and COMMUNITY arrivals without changing one TOURIST or THROUGH
 * arrival (common random numbers for the sharing comparison). A day's
 * arrivals belong to the day they arrive on; their departures may fall on
 * a later day.
 */
#ifndef FLEXD_SIM_DEMAND_H
#define FLEXD_SIM_DEMAND_H

#include "../common/error.h"
#include "demand_params.h"
#include "trace.h"

#include <stdint.h>

#define DEMAND_DAYS_MAX (366 * 100) /* longest range one demand_generate() call takes */

/* One arrival. */
struct demand_ev {
    char id[TRACE_ID_MAX]; /* "20260703-T007": local date, source letter, rank in its day */
    enum trace_source source;
    int vehicle_class; /* index into demand_params.classes */
    int wants_dc;      /* 1: DC connector preferred; 0: AC */
    int64_t arrival_ms;
    int64_t departure_ms;          /* true departure, > arrival_ms */
    int64_t declared_departure_ms; /* >= arrival + declared_min_after_arrival_min */
    double battery_kwh;
    double soc_arrival; /* 0..1, < soc_target */
    double soc_target;
    double max_dc_kw; /* 0: no DC inlet */
    double max_ac_kw;
};

struct demand;

/* A generator with a copy of p and the run seed; NULL when p does not
 * validate (call demand_params_validate() for the message). Free with
 * demand_free(). */
struct demand *demand_new(const struct demand_params *p, uint64_t seed);

void demand_free(struct demand *d);

/* The arrivals with arrival_ms in [start_ms, end_ms), sorted by arrival
 * time (then source, then rank). *out is allocated here and owned by the
 * caller (free()); *n is its length. Returns ERROR_OK; ERROR_RANGE when
 * end_ms <= start_ms or the range spans more than DEMAND_DAYS_MAX days;
 * ERROR_INVALID when the visitor-flow hook returns a bad value. On error
 * *out is NULL, *n is 0 and demand_last_error() says why. */
int demand_generate(struct demand *d,
                    int64_t start_ms,
                    int64_t end_ms,
                    struct demand_ev **out,
                    int *n);

/* Message of the last failed demand_generate(), "" if none. */
const char *demand_last_error(const struct demand *d);

/* Expected number of arrivals of source (enum trace_source) on the local
 * day containing ts_ms: the Poisson mean the generator draws from. NAN
 * when the visitor-flow hook returns a bad value or source is unknown. */
double demand_expected_count(const struct demand_params *p, int source, int64_t ts_ms);

/* Mean energy a car of this source asks for, (E[soc_target] -
 * E[soc_arrival]) x E[battery_kwh], in kWh. */
double demand_expected_wanted_kwh(const struct demand_params *p, int source);

/* Mean energy a car of this source can take in its mean stay: the wanted
 * energy, cut to connector-and-car power x mean dwell, weighted over DC and
 * AC preference (first-moment approximation). */
double demand_expected_energy_kwh(const struct demand_params *p, int source);

/* The historical-profile EV forecast: mean EV power in kW for each of
 * `steps` steps of step_minutes from start_ms, implied by the rates
 * (expected arrivals per minute x demand_expected_energy_kwh() spread
 * evenly over the mean stay), including cars that arrived up to two days
 * before start_ms. Returns the expected energy over the horizon in kWh, or
 * NAN (kw untouched) for step_minutes outside 1..1440, steps < 1, a
 * horizon over 400 days, invalid params or a bad visitor-flow value. */
double demand_expected_kw_profile(const struct demand_params *p,
                                  int64_t start_ms,
                                  int step_minutes,
                                  double *kw,
                                  int steps);

/* The same for the cars still to come: only arrivals at or after from_ms
 * count (their power may fall after start_ms). A controller that knows the
 * cars already plugged in forecasts the rest with from_ms = now. */
double demand_expected_kw_profile_from(const struct demand_params *p,
                                       int64_t from_ms,
                                       int64_t start_ms,
                                       int step_minutes,
                                       double *kw,
                                       int steps);

/* The same profile from tables computed once (the simulator asks every
 * step): NULL for invalid params. demand_profile_kw_from() returns as
 * demand_expected_kw_profile_from(), NAN for a NULL profile. */
struct demand_profile;

struct demand_profile *demand_profile_new(const struct demand_params *p);
void demand_profile_free(struct demand_profile *pr);
double demand_profile_kw_from(const struct demand_profile *pr,
                              int64_t from_ms,
                              int64_t start_ms,
                              int step_minutes,
                              double *kw,
                              int steps);

/* Fill the arrival fields of a trace session from ev (id, source, wants_dc,
 * times, battery, SoC, max_kw = the preferred side's car limit, wanted_kwh;
 * plug_ms = arrival). Connector, delivery and revenue fields are zeroed. */
void demand_ev_to_trace(const struct demand_ev *ev, struct trace_session *s);

#endif
