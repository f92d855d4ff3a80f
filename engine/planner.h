/* SPDX-License-Identifier: MIT */
/*
 * planner.h - turns the station, what is measured now and the forecasts
 * into the LP scenario that the optimiser solves (docs/optimisation.md).
 * Used by the mpc and oracle strategies, and by `flexd run` for the
 * adjustable capacity it reports.
 */
#ifndef FLEXD_ENGINE_PLANNER_H
#define FLEXD_ENGINE_PLANNER_H

#include "../models/scenario.h"
#include "../models/station.h"
#include "controller.h"

/* The station's connector with flat index i (chargers[].connectors[] in
 * file order) and its charger index in *charger (may be NULL); NULL if out
 * of range. */
const struct station_connector *planner_connector(const struct station *st, int i, int *charger);

/* Scenario of `steps` steps starting at in->now_ms:
 * - prices from the station's tariff calendar, or from in->prices where an
 *   interval covers the step's middle; the export price is capped
 *   at the import price of the same step, because the meter settles the net
 *   flow: exporting while importing earns nothing, and an LP that saw a
 *   higher export price would "sell" imported energy (docs/optimisation.md);
 * - PV and base load from the forecasts (the last value repeats past their
 *   end); the expected power of cars not yet arrived is added to the base
 *   load, as it cannot be scheduled before they come;
 * - cars plugged in (and, under perfect foresight, cars to come) as
 *   sessions; charger cabinets as connector groups;
 * - DR events that are known and overlap the horizon, on the steps whose
 *   middle lies inside the event;
 * - the demand charge at its full monthly price on any rise of the month's
 *   peak import above the peak so far: that is what one more kW of peak
 *   costs, whatever the horizon.
 * Returns NULL only if steps is out of range. */
struct scenario *planner_build(const struct station *st,
                               const struct controller_input *in,
                               int step_minutes,
                               int steps);

#endif
