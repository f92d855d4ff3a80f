/* SPDX-License-Identifier: MIT */
/*
 * simconf.h - the simulation file of `flexd sim --sim FILE` (JSON): the
 * run's dates, step and seed, weather and demand options, DR events (an
 * explicit list, a preset day and/or the seeded generator's parameters)
 * and overrides of the tariff's flat prices. Read with the strict
 * table-driven reader config/jsonfields.h, so unknown keys, wrong types and
 * values out of range are errors "FILE: json.path: value: rule". Format and
 * defaults: docs/simulation.md, "Simulation file".
 *
 * A simconf holds only what the file sets; simconf_apply() lays it over
 * options that already hold the defaults, so every default lives in one
 * place (world_options_default(), demand_params_ulanhada(), the station
 * file). Command-line flags are laid over the result by simcmd.c.
 *
 * Plain data, owned by the caller; any thread.
 */
#ifndef FLEXD_SIM_SIMCONF_H
#define FLEXD_SIM_SIMCONF_H

#include "../common/error.h"
#include "../engine/controller.h"
#include "../models/tariff.h"
#include "demand_params.h"
#include "drgen.h"
#include "world.h"

#include <stddef.h>
#include <stdint.h>

/* Largest simulation file read (the shipped ones are about 2 KB; 1000
 * explicit events stay under 200 KB). */
#define SIMCONF_MAX_BYTES ((size_t)1 << 20)

#define SIMCONF_DESCRIPTION_MAX 256
#define SIMCONF_EVENTS_MAX      SCENARIO_DR_EVENTS_MAX

/* Times must lie in these years (keeps step arithmetic in range). */
#define SIMCONF_YEAR_MIN 1970
#define SIMCONF_YEAR_MAX 2199

/* "Not set in the file": numbers are NaN, integers and flags -1. */

/* One demand source's rates and factors (demand_params.h). */
struct simconf_source {
    int enabled;
    double weekday_per_day;
    double month_factor[12];
    double weekend_factor;
    double holiday_factor;
    double spring_festival_factor;
    double dc_share;
    double declared_sd_min;
};

struct simconf_sources {
    struct simconf_source tourist; /* by enum trace_source */
    struct simconf_source through;
    struct simconf_source night;
    struct simconf_source community;
};

struct simconf_dr {
    int generate;              /* -1: on unless the file lists events or a preset */
    int has_kinds;             /* "kinds" given: they replace the generator's defaults */
    struct drgen_params drgen; /* kinds as given */
    int preset;                /* index into drgen_preset_names; 0 "none" */
    int n_events;
    struct controller_dr *events; /* explicit events (allocated) */
};

struct simconf {
    char description[SIMCONF_DESCRIPTION_MAX];
    char start[11]; /* "YYYY-MM-DD", "" not set */
    int64_t start_ms;
    int days;
    int step_minutes;
    int seed;
    /* weather and forecasts */
    int sky; /* enum world_sky */
    double csi_scale;
    double csi_fixed;
    double pv_forecast_csi;
    double pv_forecast_tau_h;
    double base_noise_sd;
    /* demand */
    int sharing;
    double visitor_flow;
    int max_wait_minutes;
    struct simconf_sources sources;
    struct simconf_dr dr;
    /* tariff: the flat prices; seasons and periods come from the station */
    double export_cny_per_kwh;
    double demand_charge_cny_per_kw_month;
    double service_fee_cny_per_kwh;
};

/* Parse len bytes of JSON (need not be NUL-terminated) into a new simconf
 * (*out, simconf_free). name (may be NULL) starts every message. ERROR_OK;
 * ERROR_PARSE (not JSON), ERROR_RANGE (too large) or ERROR_INVALID (a
 * field or rule: unknown key, type, range, a date, step_minutes not
 * dividing a day, an event's times or a cap overlapping a floor, demand or
 * generator parameters that do not validate), with *out NULL and ed set. */
int simconf_parse(const char *text,
                  size_t len,
                  const char *name,
                  struct simconf **out,
                  struct error_detail *ed);

/* Read and parse the file at path; as simconf_parse(), plus ERROR_IO. */
int simconf_load(const char *path, struct simconf **out, struct error_detail *ed);

void simconf_free(struct simconf *c);

/* Lay what c sets over wo (which holds defaults and the station's demand
 * windows): dates, step, seed, weather, demand, DR. wo->dr and
 * wo->dr_preset then point into c and static storage: c must outlive
 * every world built from wo. */
void simconf_apply(const struct simconf *c, struct world_options *wo);

/* Lay the file's flat prices over the station's tariff. */
void simconf_apply_tariff(const struct simconf *c, struct tariff *t);

/* Parse an ISO 8601 time "YYYY-MM-DDTHH:MM[:SS](Z|+HH:MM|-HH:MM)" of len
 * bytes (need not be NUL-terminated) into ms since the epoch. The offset
 * is required: a time without one is ambiguous. Years SIMCONF_YEAR_MIN to
 * SIMCONF_YEAR_MAX. ERROR_OK or ERROR_PARSE. Event times here and every
 * time of a replay directory (replay.h) are read with it. */
int simconf_parse_time(const char *s, size_t len, int64_t *ts_ms);

/* The first broken rule of a DR event list: which event, which field, what
 * rule; when other >= 0 the message goes on naming that event. */
struct simconf_dr_fault {
    int index;
    int other;
    const char *field; /* "id", "type", "notice", "start", "end", "limit_kw" */
    char rule[160];
};

/* Check a list of events: a known type, limit_kw in [0,
 * SCENARIO_POWER_MAX_KW], notice <= start < end, unique ids, and no import
 * cap overlapping an import floor (a grid asks for one or the other).
 * Returns 0, or 1 with *f set. Used for the file's events and for a replay's
 * dr_events.csv. */
int simconf_dr_check(const struct controller_dr *dr, int n, struct simconf_dr_fault *f);

/* Field ("id", "notice", ...) of ev as a message shows it, into buf. */
void simconf_dr_value(const struct controller_dr *ev, const char *field, char *buf, size_t n);

#endif
