/* SPDX-License-Identifier: MIT */
/*
 * correction.h - the real-time correction: adjust a step's setpoints so
 * grid import stays under the active limit (connection limit or DR cap) and
 * above any DR floor, and export under the export limit, whatever PV and
 * load do right now.
 *
 * Order of means (docs/optimisation.md, "Real-time correction"):
 *   too much import:  1. battery discharges more (down to soc_min)
 *                     2. every charger's limit is cut by the same fraction
 *                        (fair: each car keeps the same share of what it asked)
 *   too little import (under a DR floor, or, with no floor, more export than
 *                     the plan expected): battery charges more; chargers are raised
 *                     to what their cars accept; under a floor, then PV is curtailed
 *   too much export:  battery charges more, discharges less; then PV is curtailed
 * The target is max(limit, what the plan expected) so a plan that knowingly
 * breaks a soft limit is not fought by the correction.
 */
#ifndef FLEXD_ENGINE_CORRECTION_H
#define FLEXD_ENGINE_CORRECTION_H

#include "../models/station.h"
#include "controller.h"

struct correction_limits {
    double import_max_kw; /* min(connection limit, DR cap) */
    double import_min_kw; /* DR floor, 0 if none */
    double export_max_kw;
};

struct correction_measure {
    double pv_available_kw;
    double base_load_kw;
    const double *ev_accept_kw; /* [connectors] most each car would draw now (0: no car) */
    double soc;
    int soc_known;
};

/* Battery power bounds for one step from soc (kW, both >= 0). */
void correction_ess_bounds(const struct station *st,
                           double soc,
                           int step_minutes,
                           double *charge_max_kw,
                           double *discharge_max_kw);

/* Grid import (positive) or export (negative) the setpoints give with m. */
double correction_net_kw(const struct station *st,
                         const struct correction_measure *m,
                         const struct controller_output *out);

/* Adjust out in place (ess_kw, pv_limit_kw, connector_kw). */
void correction_apply(const struct station *st,
                      int step_minutes,
                      const struct correction_limits *lim,
                      const struct correction_measure *m,
                      struct controller_output *out);

#endif
