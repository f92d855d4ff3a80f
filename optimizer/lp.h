/* SPDX-License-Identifier: MIT */
/*
 * lp.h - builds the station's linear program (docs/optimisation.md) as a
 * GLPK problem and remembers where every variable and balance row went, so
 * the optimiser can read the solution back. Private to optimizer/: only
 * optimizer.c includes it, which keeps glpk.h out of every other layer.
 */
#ifndef FLEXD_OPTIMIZER_LP_H
#define FLEXD_OPTIMIZER_LP_H

#include "../models/scenario.h"

#include <glpk.h>

/* GLPK column numbers (1-based; 0 = the variable does not exist) and the
 * power-balance row of one step. */
struct lp_step {
    int imp;
    int exp;
    int pv;
    int grid_over;
    int ch;
    int dis;
    int e;
    int reserve_short;
    int dr_over;
    int dr_under;
    int balance_row;
    int ess_row; /* battery energy dynamics; 0 without a battery */
};

struct lp {
    glp_prob *prob; /* owned; freed by lp_free */
    int steps;
    int n_sessions;
    struct lp_step *step; /* [steps] */
    int *session_col;     /* [n_sessions] column of p[s, arrival_step]; the
                             window's columns are consecutive */
    int *unmet_col;       /* [n_sessions] */
    int *session_row;     /* [n_sessions] energy row */
    int soc_final_short_col;
    int peak_col;
    int n_cols;
    int n_rows;
    int n_nonzeros;
};

/* Build the LP of sc, which must have passed scenario_validate (the builder
 * trusts every index and bound). Never fails: allocation aborts on
 * out-of-memory. The caller owns the result (lp_free). */
struct lp *lp_build(const struct scenario *sc);

/* Replace GLPK's all-slack starting basis by one that is close to the
 * optimum of a typical station, so the primal simplex needs a fraction of
 * the iterations: grid import, battery energy and unmet energy are basic in
 * the balance, dynamics and session rows, each car charges at full power
 * in the cheapest steps of its window that deliver whole steps of energy,
 * and PV is used wherever the base load takes it all. Any starting basis
 * gives the same optimum; this one only makes it faster to reach. */
void lp_initial_basis(const struct scenario *sc, struct lp *lp);

/* Free the GLPK problem and the index arrays; NULL is a no-op. */
void lp_free(struct lp *lp);

/* Bound column j to [lb, ub], choosing GLPK's bound type from which of the
 * two are finite (ub == INFINITY means no upper bound). */
void lp_set_col_bounds(struct lp *lp, int j, double lb, double ub);

#endif
