/* SPDX-License-Identifier: MIT */
/*
 * rules.h - the two strategies that need no optimiser: `uncontrolled` (the
 * station without an EMS) and `rule` (a tuned rule-based EMS, the baseline
 * users would otherwise run, and flexd's fallback when the LP fails).
 * Both end with the real-time correction, so limits are met the same way.
 */
#ifndef FLEXD_ENGINE_RULES_H
#define FLEXD_ENGINE_RULES_H

#include "../models/station.h"
#include "controller.h"
#include "correction.h"

/* The limits in force at in->now_ms: connection limit and known DR events. */
void rules_limits(const struct station *st,
                  const struct controller_input *in,
                  struct correction_limits *lim);

/* What each car could draw this step (connector rating, car, energy left). */
void rules_ev_accept(const struct station *st,
                     const struct controller_input *in,
                     int step_minutes,
                     double *accept_kw);

void rules_uncontrolled(const struct station *st,
                        const struct controller_options *opt,
                        const struct controller_input *in,
                        struct controller_output *out);

void rules_decide(const struct station *st,
                  const struct controller_options *opt,
                  const struct controller_input *in,
                  struct controller_output *out);

#endif
