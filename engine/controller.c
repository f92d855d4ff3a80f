/* SPDX-License-Identifier: MIT */
/*
 * controller.c - one decision per step for each strategy. The mpc strategy
 * builds the LP from the present state and forecasts, solves it and applies
 * its first step; the oracle solves a chunk (a day plus a day of look-ahead)
 * once with perfect foresight and follows it. An LP failure hands the step
 * to the rule strategy, logged once when it starts and once when it ends.
 * Engine thread only.
 */
#include "controller.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/logger.h"
#include "../optimizer/optimizer.h"
#include "planner.h"
#include "rules.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const controller_strategy_names[CONTROLLER_NSTRATEGIES] = {"uncontrolled",
                                                                       "rule",
                                                                       "mpc",
                                                                       "oracle"};

struct controller {
    const struct station *st;
    struct controller_options opt;
    struct clock *clock; /* real clock: solver time is wall time even in simulation */
    int in_fallback;
    /* oracle: the chunk plan being followed */
    struct scenario *chunk_sc;
    struct plan *chunk_plan;
    int64_t chunk_start_ms;
    int chunk_steps; /* steps of the chunk that are followed before re-solving */
};

int controller_strategy_parse(const char *name)
{
    for (int i = 0; i < CONTROLLER_NSTRATEGIES; i++) {
        if (strcmp(name, controller_strategy_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

struct controller *controller_new(const struct station *st,
                                  const struct controller_options *opt,
                                  struct error_detail *ed)
{
    struct controller *c;

    if (opt->strategy < 0 || opt->strategy >= CONTROLLER_NSTRATEGIES) {
        error_setf(ed, ERROR_INVALID, "strategy: %d: unknown", (int)opt->strategy);
        return NULL;
    }
    if (opt->step_minutes < 1 || opt->step_minutes > 60) {
        error_setf(ed, ERROR_INVALID, "step_minutes: %d: must be in [1, 60]", opt->step_minutes);
        return NULL;
    }
    if (opt->horizon_steps < 1 || opt->horizon_steps > SCENARIO_STEPS_MAX / 2) {
        error_setf(ed,
                   ERROR_INVALID,
                   "horizon_steps: %d: must be in [1, %d]",
                   opt->horizon_steps,
                   SCENARIO_STEPS_MAX / 2);
        return NULL;
    }
    if (!(opt->rule_peak_fraction > 0.0 && opt->rule_peak_fraction <= 1.0)) {
        error_setf(ed,
                   ERROR_INVALID,
                   "rule_peak_fraction: %g: must be in (0, 1]",
                   opt->rule_peak_fraction);
        return NULL;
    }
    c = ALLOC_NEW(struct controller);
    c->st = st;
    c->opt = *opt;
    c->clock = clock_new_real();
    return c;
}

static void controller_drop_chunk(struct controller *c)
{
    plan_free(c->chunk_plan);
    scenario_free(c->chunk_sc);
    c->chunk_plan = NULL;
    c->chunk_sc = NULL;
}

void controller_free(struct controller *c)
{
    if (!c) {
        return;
    }
    controller_drop_chunk(c);
    clock_free(c->clock);
    free(c);
}

void controller_plan_output(const struct station *st,
                            const struct scenario *sc,
                            const struct plan *p,
                            int k,
                            struct controller_output *out)
{
    const struct plan_step *s = &p->step[k];
    int n = station_connector_count(st);

    out->ess_kw = s->ess_discharge_kw - s->ess_charge_kw;
    out->pv_limit_kw = s->pv_curtailed_kw > 1e-6 ? s->pv_kw : INFINITY;
    out->planned_import_kw = s->grid_import_kw - s->grid_export_kw;
    for (int i = 0; i < n; i++) {
        out->connector_kw[i] = 0.0;
    }
    for (int i = 0; i < sc->n_sessions; i++) {
        const struct scenario_session *ss = &sc->sessions[i];

        if (k >= ss->arrival_step && k < ss->departure_step) {
            out->connector_kw[ss->connector] = p->sessions[i].power_kw[k];
        }
    }
}

/* Solve sc; on failure fall back to the rules for this step. */
static struct plan *controller_solve(struct controller *c,
                                     const struct scenario *sc,
                                     const struct controller_input *in,
                                     struct controller_output *out)
{
    struct error_detail ed = {{0}};
    struct plan *p = NULL;
    int64_t t0 = clock_mono_us(c->clock);
    int rc = optimizer_solve(sc, &p, &ed);

    out->solve_ms += (double)(clock_mono_us(c->clock) - t0) / 1000.0;
    out->replanned = 1;
    if (rc) {
        if (!c->in_fallback) {
            LOGW("controller", "LP failed, rule strategy takes over: %s", ed.text);
            c->in_fallback = 1;
        }
        rules_decide(c->st, &c->opt, in, out);
        out->fallback = 1;
        return NULL;
    }
    if (c->in_fallback) {
        LOGI("controller",
             "LP solved again, %s resumes",
             controller_strategy_names[c->opt.strategy]);
        c->in_fallback = 0;
    }
    return p;
}

static int
controller_horizon(const struct controller *c, const struct controller_input *in, int steps)
{
    int64_t dt_ms = (int64_t)c->opt.step_minutes * 60000;

    if (c->opt.horizon_end_ms > in->now_ms) {
        int64_t left = (c->opt.horizon_end_ms - in->now_ms + dt_ms - 1) / dt_ms;

        if (left < steps) {
            steps = (int)left;
        }
    }
    return steps < 1 ? 1 : steps;
}

struct plan *controller_plan(struct controller *c,
                             const struct controller_input *in,
                             struct scenario **sc_out,
                             struct controller_output *out)
{
    struct scenario *sc = planner_build(c->st,
                                        in,
                                        c->opt.step_minutes,
                                        controller_horizon(c, in, c->opt.horizon_steps));
    struct plan *p;

    out->solve_ms = 0.0;
    out->replanned = 0;
    out->fallback = 0;
    sc->flexibility_steps =
        c->opt.flexibility_steps < sc->steps ? c->opt.flexibility_steps : sc->steps;
    p = controller_solve(c, sc, in, out);
    if (!p) {
        scenario_free(sc);
        sc = NULL;
    }
    *sc_out = sc;
    return p;
}

static void controller_mpc(struct controller *c,
                           const struct controller_input *in,
                           struct controller_output *out)
{
    struct scenario *sc;
    struct plan *p = controller_plan(c, in, &sc, out);

    if (p) {
        controller_plan_output(c->st, sc, p, 0, out);
    }
    plan_free(p);
    scenario_free(sc);
}

static void controller_oracle(struct controller *c,
                              const struct controller_input *in,
                              struct controller_output *out)
{
    int64_t dt_ms = (int64_t)c->opt.step_minutes * 60000;
    int k = c->chunk_plan ? (int)((in->now_ms - c->chunk_start_ms) / dt_ms) : -1;

    if (!c->chunk_plan || k < 0 || k >= c->chunk_steps) {
        controller_drop_chunk(c);
        c->chunk_sc = planner_build(c->st,
                                    in,
                                    c->opt.step_minutes,
                                    controller_horizon(c, in, 2 * c->opt.horizon_steps));
        c->chunk_plan = controller_solve(c, c->chunk_sc, in, out);
        if (!c->chunk_plan) {
            scenario_free(c->chunk_sc);
            c->chunk_sc = NULL;
            return;
        }
        c->chunk_start_ms = in->now_ms;
        c->chunk_steps =
            c->opt.horizon_steps < c->chunk_sc->steps ? c->opt.horizon_steps : c->chunk_sc->steps;
        k = 0;
    }
    controller_plan_output(c->st, c->chunk_sc, c->chunk_plan, k, out);
}

int controller_step(struct controller *c,
                    const struct controller_input *in,
                    struct controller_output *out)
{
    out->solve_ms = 0.0;
    out->replanned = 0;
    out->fallback = 0;
    switch (c->opt.strategy) {
    case CONTROLLER_UNCONTROLLED:
        rules_uncontrolled(c->st, &c->opt, in, out);
        break;
    case CONTROLLER_RULE:
        rules_decide(c->st, &c->opt, in, out);
        break;
    case CONTROLLER_MPC:
        controller_mpc(c, in, out);
        break;
    case CONTROLLER_ORACLE:
        controller_oracle(c, in, out);
        break;
    }
    return ERROR_OK;
}
