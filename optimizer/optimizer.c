/* SPDX-License-Identifier: MIT */
/*
 * optimizer.c - solves the station's LP with GLPK and turns the solution
 * into a plan: flows, per-session power, marginal prices, costs, warnings
 * and the adjustable capacity.
 *
 * GLPK is the only third-party code here; its return codes and statuses are
 * translated to ERROR_SOLVER once, in optimizer_simplex(), and its terminal
 * output is routed into the logger at debug level. Each call owns its own
 * GLPK problem, so calls on different threads do not share solver state
 * (GLPK keeps its environment per thread). glp_free_env() is deliberately
 * never called: it would pull the environment from under any other GLPK
 * user in the same thread.
 */
#include "optimizer.h"

#include "lp.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/logger.h"

#include <math.h>
#include <string.h>

/* A slack may grow this much (relative, at least absolute) above its plan
 * value while the adjustable capacity is computed, so that round-off in
 * the warm-started re-solves cannot make the plan itself infeasible. */
#define OPTIMIZER_FLEX_SLACK_TOL 1e-7

/* Tolerance for the post-solve warnings (kW, kWh). */
#define OPTIMIZER_EXPLAIN_TOL 1e-6

static int optimizer_term_hook(void *info, const char *s)
{
    size_t len = strlen(s);

    (void)info;
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r')) {
        len--;
    }
    if (len > 0) {
        LOGD("optimizer", "glpk: %.*s", (int)len, s);
    }
    return 1; /* non-zero: GLPK must not print to stdout itself */
}

static const char *optimizer_glpk_code(int rc)
{
    switch (rc) {
    case GLP_EBADB:
        return "GLP_EBADB, invalid basis";
    case GLP_ESING:
        return "GLP_ESING, singular basis matrix";
    case GLP_ECOND:
        return "GLP_ECOND, ill-conditioned basis matrix";
    case GLP_EBOUND:
        return "GLP_EBOUND, incorrect bounds";
    case GLP_EFAIL:
        return "GLP_EFAIL, solver failure";
    case GLP_EOBJLL:
        return "GLP_EOBJLL, objective lower limit reached";
    case GLP_EOBJUL:
        return "GLP_EOBJUL, objective upper limit reached";
    case GLP_EITLIM:
        return "GLP_EITLIM, iteration limit exceeded";
    case GLP_ETMLIM:
        return "GLP_ETMLIM, time limit exceeded";
    case GLP_ENOPFS:
        return "GLP_ENOPFS, no primal feasible solution";
    case GLP_ENODFS:
        return "GLP_ENODFS, no dual feasible solution";
    default:
        return "unknown GLPK return code";
    }
}

static const char *optimizer_glpk_status(int status)
{
    switch (status) {
    case GLP_UNDEF:
        return "GLP_UNDEF, solution undefined";
    case GLP_FEAS:
        return "GLP_FEAS, feasible but not proven optimal";
    case GLP_INFEAS:
        return "GLP_INFEAS, infeasible";
    case GLP_NOFEAS:
        return "GLP_NOFEAS, no feasible solution";
    case GLP_OPT:
        return "GLP_OPT, optimal";
    case GLP_UNBND:
        return "GLP_UNBND, unbounded";
    default:
        return "unknown GLPK status";
    }
}

/* Run the simplex method and accept only a proven optimum. Every other
 * outcome is a solver failure (the model is never infeasible or unbounded
 * by construction), logged here once with GLPK's code. */
static int
optimizer_simplex(struct lp *lp, const glp_smcp *parm, const char *what, struct error_detail *ed)
{
    int rc = glp_simplex(lp->prob, parm);
    int status;

    if (rc != 0) {
        LOGE("optimizer",
             "glp_simplex failed, %s, %d rows x %d columns: code %d (%s)",
             what,
             lp->n_rows,
             lp->n_cols,
             rc,
             optimizer_glpk_code(rc));
        rc = error_setf(ed,
                        ERROR_SOLVER,
                        "GLPK: %s: glp_simplex returned %d (%s)",
                        what,
                        rc,
                        optimizer_glpk_code(rc));
        goto out;
    }
    status = glp_get_status(lp->prob);
    if (status != GLP_OPT) {
        LOGE("optimizer",
             "glp_simplex did not reach an optimum, %s, %d rows x %d columns: status "
             "%d (%s)",
             what,
             lp->n_rows,
             lp->n_cols,
             status,
             optimizer_glpk_status(status));
        rc = error_setf(ed,
                        ERROR_SOLVER,
                        "GLPK: %s: solution status %d (%s)",
                        what,
                        status,
                        optimizer_glpk_status(status));
        goto out;
    }
out:
    return rc;
}

static double optimizer_col(const struct lp *lp, int j)
{
    return j ? glp_get_col_prim(lp->prob, j) : 0.0;
}

/* Per-step flows and duals. Slacks are reported as the violation the flows
 * actually cause (max(0, activity - limit)), not as the raw column value:
 * they are equal at the optimum whenever the penalty is positive, and a
 * zero penalty would otherwise let an arbitrary slack value turn into a
 * warning about a limit that was kept. */
static void optimizer_read_steps(const struct scenario *sc, const struct lp *lp, struct plan *p)
{
    double dt = scenario_step_hours(sc);

    for (int t = 0; t < sc->steps; t++) {
        const struct lp_step *ls = &lp->step[t];
        struct plan_step *st = &p->step[t];
        double cap_kw;
        double floor_kw;
        int dr = scenario_dr_at(sc, t, &cap_kw, &floor_kw);

        st->grid_import_kw = optimizer_col(lp, ls->imp);
        st->grid_export_kw = optimizer_col(lp, ls->exp);
        st->pv_kw = optimizer_col(lp, ls->pv);
        st->pv_curtailed_kw = sc->pv_available_kw[t] - st->pv_kw;
        st->ess_charge_kw = optimizer_col(lp, ls->ch);
        st->ess_discharge_kw = optimizer_col(lp, ls->dis);
        st->ess_energy_kwh = optimizer_col(lp, ls->e);
        st->grid_over_kw = fmax(0.0, st->grid_import_kw - sc->import_limit_kw[t]);
        st->dr_over_kw = (dr & 1) ? fmax(0.0, st->grid_import_kw - cap_kw) : 0.0;
        st->dr_under_kw =
            (dr & 2) ? fmax(0.0, floor_kw - (st->grid_import_kw - st->grid_export_kw)) : 0.0;
        if (sc->has_ess) {
            double reserve_kwh = sc->ess.reserve_soc * sc->ess.capacity_kwh;

            st->reserve_short_kwh = fmax(0.0, reserve_kwh - st->ess_energy_kwh);
        }
        /* the row dual is CNY per kW of extra load held for one step */
        st->marginal_price_cny_per_kwh = glp_get_row_dual(lp->prob, ls->balance_row) / dt;
        p->peak_import_kw = fmax(p->peak_import_kw, st->grid_import_kw);
    }
}

static void optimizer_read_sessions(const struct scenario *sc, const struct lp *lp, struct plan *p)
{
    double dt = scenario_step_hours(sc);

    for (int s = 0; s < sc->n_sessions; s++) {
        const struct scenario_session *ses = &sc->sessions[s];
        struct plan_session *ps = &p->sessions[s];

        for (int t = ses->arrival_step; t < ses->departure_step; t++) {
            double kw = optimizer_col(lp, lp->session_col[s] + t - ses->arrival_step);

            ps->power_kw[t] = kw;
            ps->delivered_kwh += kw * dt;
            p->step[t].ev_kw += kw;
        }
        ps->unmet_kwh = optimizer_col(lp, lp->unmet_col[s]);
    }
    if (sc->has_ess) {
        double target_kwh = sc->ess.soc_final_target * sc->ess.capacity_kwh;

        p->soc_final_short_kwh = fmax(0.0, target_kwh - p->step[sc->steps - 1].ess_energy_kwh);
    }
    p->objective_cny = glp_get_obj_val(lp->prob);
    plan_compute_costs(sc, p, &p->costs);
}

/* Keep slack column j at or below the plan's value v. A positive value may
 * carry round-off from the solve, so it gets a little room; a zero is
 * exact (the limit was kept), so the column is fixed and GLPK leaves it
 * out of the re-solves altogether. */
static void optimizer_cap_slack(struct lp *lp, int j, double v)
{
    if (j) {
        lp_set_col_bounds(lp, j, 0.0, v > 0 ? v + OPTIMIZER_FLEX_SLACK_TOL * fmax(1.0, v) : 0.0);
    }
}

/* Turn the solved cost-minimising LP into the feasibility region of the
 * adjustable capacity: every slack capped at its plan value (the peak is
 * not a slack and stays free), the objective cleared. Bounds and costs
 * change but the basis stays, so the next simplex call warm-starts. */
static void optimizer_flex_setup(const struct scenario *sc, struct lp *lp, const struct plan *p)
{
    for (int t = 0; t < sc->steps; t++) {
        const struct lp_step *ls = &lp->step[t];
        const struct plan_step *st = &p->step[t];

        optimizer_cap_slack(lp, ls->grid_over, st->grid_over_kw);
        optimizer_cap_slack(lp, ls->dr_over, st->dr_over_kw);
        optimizer_cap_slack(lp, ls->dr_under, st->dr_under_kw);
        optimizer_cap_slack(lp, ls->reserve_short, st->reserve_short_kwh);
    }
    for (int s = 0; s < sc->n_sessions; s++) {
        optimizer_cap_slack(lp, lp->unmet_col[s], p->sessions[s].unmet_kwh);
    }
    optimizer_cap_slack(lp, lp->soc_final_short_col, p->soc_final_short_kwh);
    for (int j = 1; j <= lp->n_cols; j++) {
        glp_set_obj_coef(lp->prob, j, 0.0);
    }
}

/* Least and greatest net import (imp - exp) at each flexibility step, each
 * from the optimal basis of the previous re-solve. Presolve stays off:
 * with it GLPK would discard the basis and start from scratch. All minima
 * come first, then all maxima: neighbouring steps' optima are close, so
 * this order needs fewer pivots than alternating between the extremes. */
static int
optimizer_flex(const struct scenario *sc, struct lp *lp, struct plan *p, struct error_detail *ed)
{
    glp_smcp parm;
    int rc = ERROR_OK;

    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    parm.presolve = GLP_OFF;
    parm.meth = GLP_PRIMAL; /* the basis stays primal feasible; only costs change */
    /* a handful of pivots per re-solve do not repay setting up the
     * projected steepest edge weights each time (measured: -20 %) */
    parm.pricing = GLP_PT_STD;
    optimizer_flex_setup(sc, lp, p);
    for (int k = 0; k < 2 * p->flexibility_steps; k++) {
        int maximise = k >= p->flexibility_steps;
        int t = maximise ? k - p->flexibility_steps : k;
        const struct lp_step *ls = &lp->step[t];

        glp_set_obj_dir(lp->prob, maximise ? GLP_MAX : GLP_MIN);
        glp_set_obj_coef(lp->prob, ls->imp, 1.0);
        glp_set_obj_coef(lp->prob, ls->exp, -1.0);
        rc = optimizer_simplex(lp,
                               &parm,
                               maximise ? "adjustable capacity (maximum)"
                                        : "adjustable capacity (minimum)",
                               ed);
        if (rc) {
            goto out;
        }
        if (maximise) {
            p->flex[t].net_max_kw = glp_get_obj_val(lp->prob);
        } else {
            p->flex[t].net_min_kw = glp_get_obj_val(lp->prob);
        }
        glp_set_obj_coef(lp->prob, ls->imp, 0.0);
        glp_set_obj_coef(lp->prob, ls->exp, 0.0);
    }
out:
    return rc;
}

/* The main solve. Choices measured on the bench_solve stations (table in
 * docs/optimisation.md): the primal simplex from lp_initial_basis() needs
 * a third to a fifth of the iterations it needs from GLPK's all-slack
 * basis and runs 2-3x faster than the dual simplex from the same start;
 * presolve would throw that basis away and did not pay for itself either.
 * Scaling made no measurable difference on these stations; it stays
 * because efficiencies, step lengths and prices can span many decades. */
static int optimizer_main_solve(const struct scenario *sc, struct lp *lp, struct error_detail *ed)
{
    glp_smcp parm;

    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    parm.meth = GLP_PRIMAL;
    parm.presolve = GLP_OFF;
    glp_scale_prob(lp->prob, GLP_SF_AUTO);
    lp_initial_basis(sc, lp);
    if (glp_simplex(lp->prob, &parm) == 0 && glp_get_status(lp->prob) == GLP_OPT) {
        return ERROR_OK;
    }
    /* Rarely the crafted basis goes numerically singular on the way
     * ("unable to factorize", GLP_EFAIL: once in a simulated year of oracle
     * chunks). Start once more from GLPK's own advanced basis, which it
     * builds to be well conditioned, before calling it a failure. */
    LOGI("optimizer", "cost minimisation: retrying from GLPK's advanced basis");
    glp_adv_basis(lp->prob, 0);
    return optimizer_simplex(lp, &parm, "cost minimisation", ed);
}

int optimizer_solve(const struct scenario *sc, struct plan **out, struct error_detail *ed)
{
    struct clock *clk = clock_new_real();
    struct plan *p = NULL;
    struct lp *lp = NULL;
    int64_t t0 = clock_mono_us(clk);
    int64_t t1;
    int rc;

    *out = NULL;
    rc = scenario_validate(sc, ed);
    if (rc) {
        goto out;
    }
    glp_term_hook(optimizer_term_hook, NULL);
    lp = lp_build(sc);
    rc = optimizer_main_solve(sc, lp, ed);
    if (rc) {
        goto out;
    }
    p = plan_new(sc->steps, sc->n_sessions, sc->flexibility_steps);
    optimizer_read_steps(sc, lp, p);
    optimizer_read_sessions(sc, lp, p);
    p->simplex_iterations = glp_get_it_cnt(lp->prob);
    t1 = clock_mono_us(clk);
    p->solve_ms = (double)(t1 - t0) / 1000.0;
    if (p->flexibility_steps > 0) {
        /* a failed re-solve costs the adjustable capacity, not the plan */
        if (optimizer_flex(sc, lp, p, ed)) {
            plan_add_warning(p, "adjustable capacity not computed: %s", ed ? ed->text : "");
            p->flexibility_steps = 0;
        }
        p->flex_ms = (double)(clock_mono_us(clk) - t1) / 1000.0;
    }
    plan_explain(sc, p, OPTIMIZER_EXPLAIN_TOL);
    LOGD("optimizer",
         "solved %d steps, %d sessions: %d rows, %d columns, %d non-zeros, "
         "%d iterations, objective %.6f CNY, %.3f ms (+%.3f ms adjustable capacity)",
         sc->steps,
         sc->n_sessions,
         lp->n_rows,
         lp->n_cols,
         lp->n_nonzeros,
         p->simplex_iterations,
         p->objective_cny,
         p->solve_ms,
         p->flex_ms);
    *out = p;
    p = NULL;
out:
    plan_free(p);
    lp_free(lp);
    clock_free(clk);
    return rc;
}
