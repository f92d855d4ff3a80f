/* SPDX-License-Identifier: MIT */
/*
 * run.h - one simulated run of one strategy: the real controller
 * (engine/controller.c) decides every step from what it can see, the real
 * correction adjusts to the true PV and load, and the physics below turns
 * setpoints into flows, battery energy and delivered kWh.
 */
#ifndef FLEXD_SIM_RUN_H
#define FLEXD_SIM_RUN_H

#include "../engine/controller.h"
#include "trace.h"
#include "world.h"

struct run_options {
    enum controller_strategy strategy;
    int horizon_steps;    /* mpc horizon, oracle chunk */
    int perfect_forecast; /* mpc sees the truth (oracle always does) */
    int horizon_to_end;   /* horizon never reaches past the end of the run */
    /* mpc forecasts the cars still to come as flexd run does, learning
     * arrivals from the sessions it sees (engine/ev_forecast.h), instead
     * of taking the demand model's expectation */
    int ev_forecast_learned;
    double soc_initial; /* 0..1 */
    double rule_peak_fraction;
    /* progress callback (may be NULL): fraction done 0..1 */
    void (*progress)(void *ctx, double fraction);
    void *progress_ctx;
};

void run_options_default(struct run_options *o);

/* Simulate w with the strategy; the trace is the caller's (trace_free). */
int run_strategy(const struct world *w,
                 const struct run_options *opt,
                 struct trace **out,
                 struct error_detail *ed);

#endif
