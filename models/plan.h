/* SPDX-License-Identifier: MIT */
/*
 * plan.h - the optimiser's answer for one scenario: per-step flows, per-
 * session power, costs, the soft limits it had to break, and the station's
 * adjustable capacity. Pure data and arithmetic; no solver here, so the
 * checks below also verify plans made by other strategies.
 */
#ifndef FLEXD_MODELS_PLAN_H
#define FLEXD_MODELS_PLAN_H

#include "scenario.h"

#include <stddef.h>

struct plan_step {
    double grid_import_kw;
    double grid_export_kw;
    double pv_kw;
    double pv_curtailed_kw;
    double ess_charge_kw;
    double ess_discharge_kw;
    double ess_energy_kwh; /* at the end of the step */
    double ev_kw;          /* sum over sessions */
    double grid_over_kw;   /* import above the connection limit */
    double dr_over_kw;     /* import above a DR cap */
    double dr_under_kw;    /* import below a DR floor */
    double reserve_short_kwh;
    double marginal_price_cny_per_kwh; /* dual of the step's power balance */
};

struct plan_session {
    double delivered_kwh;
    double unmet_kwh;
    double *power_kw; /* [steps] */
};

struct plan_costs {
    double import_cny;
    double export_revenue_cny;
    double throughput_cny;
    double demand_charge_cny;
    double penalty_cny;
};

/* Adjustable capacity at one step: the least and greatest net grid power
 * (import positive) any schedule can reach that keeps every constraint and
 * breaks no soft limit more than the plan does. */
struct plan_flex {
    double net_min_kw;
    double net_max_kw;
};

struct plan {
    int steps;
    int n_sessions;
    double objective_cny;
    struct plan_costs costs;
    struct plan_step *step;        /* [steps] */
    struct plan_session *sessions; /* [n_sessions] */
    double soc_final_short_kwh;
    double peak_import_kw;
    int flexibility_steps;
    struct plan_flex *flex; /* [flexibility_steps] */

    int n_warnings;
    char **warnings;

    /* solver statistics */
    double solve_ms;
    double flex_ms;
    int simplex_iterations;
};

/* Zeroed plan with arrays for the given sizes. */
struct plan *plan_new(int steps, int n_sessions, int flexibility_steps);

void plan_free(struct plan *p);

/* Append a formatted warning (the plan owns it). */
void plan_add_warning(struct plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Recompute the cost terms from the plan's flows and the scenario's prices;
 * returns the total (import - export + throughput + demand + penalties). */
double plan_compute_costs(const struct scenario *sc, const struct plan *p, struct plan_costs *out);

/* Largest violation of any hard or soft-with-slack constraint of the model
 * (balance, bounds, battery dynamics, session energy, slack definitions).
 * Writes a description of the worst one into where (may be NULL). */
double plan_max_violation(const struct scenario *sc, const struct plan *p, char *where, size_t n);

/* Add warnings for every soft limit the plan breaks (grid limit, DR, reserve,
 * unmet energy, final SoC), grouped into runs of steps, and for any step that
 * imports and exports, or charges and discharges, at the same time (above
 * tol_kw). Returns the number of warnings added. */
int plan_explain(const struct scenario *sc, struct plan *p, double tol_kw);

#endif
