/* SPDX-License-Identifier: MIT */
/*
 * optimizer.h - the station's linear program, solved with GLPK. This is the
 * only module that includes glpk.h. The model is documented in
 * docs/optimisation.md and is the contract of `flexd solve`; the engine's
 * own planning calls the same function.
 *
 * The LP is never infeasible: every limit a site can be forced to break is a
 * priced slack, reported in the plan's warnings.
 */
#ifndef FLEXD_OPTIMIZER_OPTIMIZER_H
#define FLEXD_OPTIMIZER_OPTIMIZER_H

#include "../common/error.h"
#include "../models/plan.h"
#include "../models/scenario.h"

/* Solve sc (which must pass scenario_validate) and return a new plan in
 * *out, owned by the caller (plan_free). When sc->flexibility_steps > 0 the
 * plan's adjustable capacity is filled in too, by re-optimising the solved
 * problem from its optimal basis.
 * Returns ERROR_OK, ERROR_INVALID (scenario breaks a rule; ed says which) or
 * ERROR_SOLVER (GLPK failed; ed holds GLPK's status, which is also logged).
 * On error *out is NULL. */
int optimizer_solve(const struct scenario *sc, struct plan **out, struct error_detail *ed);

/* Free this thread's GLPK environment; call it last in any thread other
 * than the main one that called optimizer_solve() (the live planner). */
void optimizer_thread_exit(void);

#endif
