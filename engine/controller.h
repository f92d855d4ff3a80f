/* SPDX-License-Identifier: MIT */
/*
 * controller.h - the station controller: one decision per control step.
 * It turns what is measured and forecast now into setpoints for the
 * battery, PV curtailment and every connector. The simulator and the live
 * daemon call exactly this code; only what feeds it differs.
 *
 * Strategies:
 *   uncontrolled  EVs at full power, battery idle, PV serves load, then export,
 *                 then curtailment (the site's anti-reverse-flow protection).
 *   rule          what rule-based EMS do today (OpenEMS-style): PV self-
 *                 consumption, peak shaving at a threshold, valley charging,
 *                 and DR caps met by discharging then curtailing chargers in
 *                 proportion.
 *   mpc           plan the LP (optimizer/) on forecasts over a rolling horizon,
 *                 re-plan every step, apply the first step.
 *   oracle        the LP with perfect foresight, solved in chunks (a day with a
 *                 day of look-ahead), state carried from chunk to chunk; the
 *                 lower bound on cost.
 *
 * Owned by one thread (the engine's); not thread-safe.
 */
#ifndef FLEXD_ENGINE_CONTROLLER_H
#define FLEXD_ENGINE_CONTROLLER_H

#include "../models/plan.h"
#include "../models/scenario.h"
#include "../models/station.h"

#include <stdint.h>

enum controller_strategy {
    CONTROLLER_UNCONTROLLED = 0,
    CONTROLLER_RULE = 1,
    CONTROLLER_MPC = 2,
    CONTROLLER_ORACLE = 3,
};

#define CONTROLLER_NSTRATEGIES 4

extern const char *const controller_strategy_names[CONTROLLER_NSTRATEGIES];

/* "mpc" -> CONTROLLER_MPC; -1 if unknown. */
int controller_strategy_parse(const char *name);

/* A car on a connector (index into the station's connectors in the order
 * chargers[].connectors[] appear). */
struct controller_ev {
    char id[SCENARIO_ID_MAX];
    int connector;
    int64_t plug_ms;      /* when it plugged in (future cars: when it will) */
    int64_t departure_ms; /* declared departure (true one under perfect foresight) */
    double wanted_kwh;    /* energy still wanted */
    double max_kw;        /* what the car accepts */
};

/* A DR event as the grid sent it. */
struct controller_dr {
    char id[SCENARIO_ID_MAX];
    enum scenario_dr_type type;
    int64_t notice_ms; /* when it became known */
    int64_t start_ms;
    int64_t end_ms;
    double limit_kw;
};

struct controller_options {
    enum controller_strategy strategy;
    int step_minutes;  /* control step, 1..60 */
    int horizon_steps; /* planning horizon of mpc (and the oracle's chunk), >= 1 */
    /* if > 0: the horizon never reaches past this instant (shrinking horizon) */
    int64_t horizon_end_ms;
    /* rule strategy: peak-shaving threshold as a fraction of the import limit */
    double rule_peak_fraction;
    /* mpc: steps of adjustable capacity computed with each plan (0 = none) */
    int flexibility_steps;
};

/* A priced interval over the station's tariff. */
struct controller_price {
    int64_t start_ms;
    int64_t end_ms;
    double buy_cny_per_kwh;
    double sell_cny_per_kwh;
};

/* What the controller sees at the start of a step. Arrays are borrowed. */
struct controller_input {
    int64_t now_ms;
    double soc; /* battery state of charge 0..1 */
    int soc_known;
    double pv_available_kw; /* measured over the last step */
    double base_load_kw;    /* measured over the last step */
    int n_evs;
    const struct controller_ev *evs; /* cars plugged in now */
    int n_future;
    const struct controller_ev *future; /* cars known to come (perfect foresight only) */
    int n_dr;
    const struct controller_dr *dr; /* events known now (notice_ms <= now_ms) */
    /* forecasts for the next `forecast_steps` steps, starting with this one */
    int forecast_steps;
    const double *pv_forecast_kw;
    const double *base_forecast_kw; /* non-EV load */
    const double *ev_forecast_kw;   /* expected power of cars not yet arrived (may be NULL) */
    double month_peak_kw;           /* highest import so far this month (demand charge) */
    /* price intervals from the platform that replace the tariff (may be NULL) */
    int n_prices;
    const struct controller_price *prices;
    /* plan plugged-in cars to be served this long before their departure
     * (station control.departure_margin_min; 0 when departures are known) */
    int64_t departure_margin_ms;
};

/* Setpoints for one step (averages over the step). */
struct controller_output {
    double ess_kw;            /* > 0 discharge, < 0 charge */
    double pv_limit_kw;       /* PV may produce up to this */
    double *connector_kw;     /* [station connectors] power limit per connector (caller-owned) */
    double planned_import_kw; /* what the decision expects at the grid (for the correction) */
    double solve_ms;          /* optimiser time spent in this step */
    int replanned;            /* 1 if an LP was solved in this step */
    int fallback;             /* 1 if the LP failed and the rule strategy decided */
};

struct controller;

/* New controller for st (borrowed; must outlive the controller). Returns
 * NULL and fills ed when an option breaks a rule. */
struct controller *controller_new(const struct station *st,
                                  const struct controller_options *opt,
                                  struct error_detail *ed);

void controller_free(struct controller *c);

/* Decide the setpoints for the step starting at in->now_ms. out->connector_kw
 * must hold station_connector_count() values. Returns ERROR_OK; an LP
 * failure is not an error (the rule strategy takes over, out->fallback). */
int controller_step(struct controller *c,
                    const struct controller_input *in,
                    struct controller_output *out);

/* mpc's planning half: build the scenario for in and solve it. Returns the
 * plan and its scenario (*sc_out; both the caller's to free), or NULL with
 * *sc_out NULL when the LP failed, in which case out holds the rule
 * strategy's decision (out->fallback). out->solve_ms is set either way. */
struct plan *controller_plan(struct controller *c,
                             const struct controller_input *in,
                             struct scenario **sc_out,
                             struct controller_output *out);

/* Setpoints of step k of plan p (solved from sc). */
void controller_plan_output(const struct station *st,
                            const struct scenario *sc,
                            const struct plan *p,
                            int k,
                            struct controller_output *out);

#endif
