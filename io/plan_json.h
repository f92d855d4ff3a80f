/* SPDX-License-Identifier: MIT */
/*
 * plan_json.h - the plan as JSON: the output format of `flexd solve`,
 * documented in docs/optimisation.md. The same encoder feeds later uplinks.
 */
#ifndef FLEXD_IO_PLAN_JSON_H
#define FLEXD_IO_PLAN_JSON_H

#include "../models/plan.h"
#include "../models/scenario.h"

/* Newly allocated JSON text (free with free()). Session ids come from sc.
 * Numbers are rounded to 1e-6 so output is stable across platforms. */
char *plan_json_encode(const struct scenario *sc, const struct plan *p, int pretty);

#endif
