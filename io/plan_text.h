/* SPDX-License-Identifier: MIT */
/*
 * plan_text.h - a plan summary for people: totals, costs, an hour-by-hour
 * table and the limits the plan could not keep. Printed by
 * `flexd solve --summary` and by the README's main command.
 */
#ifndef FLEXD_IO_PLAN_TEXT_H
#define FLEXD_IO_PLAN_TEXT_H

#include "../models/plan.h"
#include "../models/scenario.h"

#include <stdio.h>

/* Totals over the horizon, in kWh unless named otherwise. */
struct plan_text_totals {
    double import_kwh;
    double export_kwh;
    double pv_available_kwh;
    double pv_used_kwh;
    double pv_curtailed_kwh;
    double ess_charge_kwh;
    double ess_discharge_kwh;
    double ev_wanted_kwh;
    double ev_delivered_kwh;
    double ev_unmet_kwh;
    double base_load_kwh;
};

void plan_text_totals(const struct scenario *sc,
                      const struct plan *p,
                      struct plan_text_totals *out);

/* Write the summary to f. */
void plan_text_write(FILE *f, const struct scenario *sc, const struct plan *p);

#endif
