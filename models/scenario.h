/* SPDX-License-Identifier: MIT */
/*
 * scenario.h - one planning problem: T steps of step_minutes each, with the
 * station's limits, prices, forecasts, battery, EV sessions and DR events.
 * This is the input of the optimiser, whether it comes from a scenario file
 * (`flexd solve`) or is built by the engine from live state and forecasts.
 *
 * Time-varying quantities are arrays of `steps` values owned by the
 * scenario. Units are in the names: kW (average power over a step), kWh,
 * CNY, soc as a fraction 0..1. Index t = 0 is the step that starts now.
 */
#ifndef FLEXD_MODELS_SCENARIO_H
#define FLEXD_MODELS_SCENARIO_H

#include "../common/error.h"

#define SCENARIO_ID_MAX         64
#define SCENARIO_STEPS_MAX      2880 /* 30 days at 15 min, or 2 days at 1 min */
#define SCENARIO_SESSIONS_MAX   5000
#define SCENARIO_CONNECTORS_MAX 1000
#define SCENARIO_DR_EVENTS_MAX  1000
#define SCENARIO_POWER_MAX_KW   1e6 /* 1 GW: anything above is a unit error */
#define SCENARIO_ENERGY_MAX_KWH 1e7
#define SCENARIO_PRICE_MAX_CNY  1e4 /* per kWh or per kW; bounds typos, not markets */

struct scenario_ess {
    double capacity_kwh;
    double soc_initial;      /* 0..1, within [soc_min, soc_max] */
    double soc_min;          /* hard lower bound of stored energy */
    double soc_max;          /* hard upper bound */
    double reserve_soc;      /* soft floor: emergency reserve for the community */
    double soc_final_target; /* soft floor on the energy at the end of the horizon */
    double charge_max_kw;
    double discharge_max_kw;
    double charge_efficiency;           /* (0, 1]: kWh stored per kWh drawn */
    double discharge_efficiency;        /* (0, 1]: kWh delivered per kWh taken out */
    double throughput_cost_cny_per_kwh; /* wear, charged on charge + discharge */
};

struct scenario_connector {
    char id[SCENARIO_ID_MAX];
    double max_kw;
    int group; /* index into scenario.groups, or -1: not in a shared cabinet */
};

/* A charger cabinet whose connectors share its power: at every step the
 * sessions on its connectors draw at most max_kw together. */
struct scenario_group {
    char id[SCENARIO_ID_MAX];
    double max_kw;
};

struct scenario_session {
    char id[SCENARIO_ID_MAX];
    int connector;      /* index into scenario.connectors */
    int arrival_step;   /* first step the car may draw power */
    int departure_step; /* first step it no longer can; arrival < departure <= steps */
    double energy_kwh;  /* energy still wanted */
    double max_kw;      /* what the car accepts */
};

enum scenario_dr_type {
    SCENARIO_DR_IMPORT_CAP = 0,   /* grid import <= limit_kw (peak shaving) */
    SCENARIO_DR_IMPORT_FLOOR = 1, /* grid import >= limit_kw (valley filling) */
};

struct scenario_dr_event {
    char id[SCENARIO_ID_MAX];
    enum scenario_dr_type type;
    int start_step; /* first step of the event */
    int end_step;   /* first step after it; start < end <= steps */
    double limit_kw;
};

/* Prices of breaking each soft limit (CNY per kWh of violation). */
struct scenario_penalties {
    double grid_limit_cny_per_kwh;
    double dr_cny_per_kwh;
    double reserve_cny_per_kwh;
    double unmet_energy_cny_per_kwh;
    double soc_final_cny_per_kwh;
};

/* Defaults used when a scenario does not set penalties; ordered so that the
 * connection limit outranks DR, DR the reserve, the reserve a car's energy. */
#define SCENARIO_PENALTY_GRID_LIMIT 20.0
#define SCENARIO_PENALTY_DR         10.0
#define SCENARIO_PENALTY_RESERVE    5.0
#define SCENARIO_PENALTY_UNMET      3.0
#define SCENARIO_PENALTY_SOC_FINAL  2.0

struct scenario {
    int step_minutes; /* 1..60 */
    int steps;        /* 1..SCENARIO_STEPS_MAX */

    double *import_limit_kw;         /* [steps] connection (transformer) import limit */
    double *export_limit_kw;         /* [steps] export limit, 0 = no export */
    double demand_charge_cny_per_kw; /* on the horizon's peak import; 0 = none */
    double demand_peak_floor_kw;     /* peak already reached (e.g. this month): the
                                        charge applies to max(floor, peak import) */

    double *buy_cny_per_kwh;  /* [steps] */
    double *sell_cny_per_kwh; /* [steps] */
    double *pv_available_kw;  /* [steps] what PV could produce; the rest is curtailed */
    double *base_load_kw;     /* [steps] non-EV load */

    int has_ess;
    struct scenario_ess ess;

    int n_connectors;
    struct scenario_connector *connectors;
    int n_groups;
    struct scenario_group *groups;
    int n_sessions;
    struct scenario_session *sessions;
    int n_dr_events;
    struct scenario_dr_event *dr_events;

    struct scenario_penalties penalties;
    int flexibility_steps; /* 0..steps: compute adjustable capacity for these */
};

/* A scenario of `steps` steps with every array allocated and zeroed, no
 * battery, no connectors/sessions/events, default penalties, step 15 min.
 * Returns NULL when steps is outside 1..SCENARIO_STEPS_MAX. */
struct scenario *scenario_new(int steps);

void scenario_free(struct scenario *sc);

/* Deep copy. */
struct scenario *scenario_clone(const struct scenario *sc);

/* Length of one step in hours. */
double scenario_step_hours(const struct scenario *sc);

/* Resize the connector / session / event arrays (new entries zeroed). */
void scenario_set_connectors(struct scenario *sc, int n);
void scenario_set_sessions(struct scenario *sc, int n);
void scenario_set_dr_events(struct scenario *sc, int n);

/* Resize the groups array; new connectors get group -1 from
 * scenario_set_connectors, new groups are zeroed. */
void scenario_set_groups(struct scenario *sc, int n);

/* Index of the connector with this id, or -1. */
int scenario_find_connector(const struct scenario *sc, const char *id);

/* The tightest DR import cap and the highest DR import floor active at
 * step t. Returns a bit mask: 1 if a cap applies, 2 if a floor applies. */
int scenario_dr_at(const struct scenario *sc, int t, double *cap_kw, double *floor_kw);

/* Check every value and cross-field rule. On failure returns ERROR_INVALID
 * with ed holding "json.path: value: rule", using the scenario file's field
 * names (e.g. "sessions[3].departure_step: 12 is not after arrival_step 20"). */
int scenario_validate(const struct scenario *sc, struct error_detail *ed);

#endif
