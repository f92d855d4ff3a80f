/* SPDX-License-Identifier: MIT */
/*
 * correction.c - pure arithmetic on one step's setpoints; engine thread.
 * The same function runs in the 1 s loop and at every simulated step.
 */
#include "correction.h"

#include <math.h>

void correction_ess_bounds(const struct station *st,
                           double soc,
                           int step_minutes,
                           double *charge_max_kw,
                           double *discharge_max_kw)
{
    const struct station_ess *e = &st->ess;
    double dt_h = step_minutes / 60.0;
    double energy = soc * e->capacity_kwh;

    *charge_max_kw = 0.0;
    *discharge_max_kw = 0.0;
    if (!st->has_ess) {
        return;
    }
    *charge_max_kw =
        fmax(0.0,
             fmin(e->charge_max_kw,
                  (e->soc_max * e->capacity_kwh - energy) / (e->charge_efficiency * dt_h)));
    *discharge_max_kw =
        fmax(0.0,
             fmin(e->discharge_max_kw,
                  (energy - e->soc_min * e->capacity_kwh) * e->discharge_efficiency / dt_h));
}

/* What the chargers draw: each connector takes min(limit, what its car accepts),
 * and a cabinet never gives more than its own rating. */
static double correction_ev_kw(const struct station *st,
                               const struct correction_measure *m,
                               const double *limit_kw)
{
    double total = 0.0;
    int k = 0;

    for (int c = 0; c < st->n_chargers; c++) {
        double cab = 0.0;

        for (int j = 0; j < st->chargers[c].n_connectors; j++, k++) {
            cab += fmax(0.0, fmin(limit_kw[k], m->ev_accept_kw[k]));
        }
        total += fmin(cab, st->chargers[c].max_kw);
    }
    return total;
}

double correction_net_kw(const struct station *st,
                         const struct correction_measure *m,
                         const struct controller_output *out)
{
    double pv = fmin(m->pv_available_kw, out->pv_limit_kw);

    return m->base_load_kw + correction_ev_kw(st, m, out->connector_kw) - out->ess_kw - pv;
}

/* Scale every charger limit by the same fraction so EV power drops by at
 * most `cut_kw`; limits are first lowered to what the cars actually draw so
 * that the fraction bites. */
static void correction_cut_chargers(const struct station *st,
                                    const struct correction_measure *m,
                                    struct controller_output *out,
                                    double cut_kw)
{
    int n = station_connector_count(st);
    double ev = correction_ev_kw(st, m, out->connector_kw);
    double keep;

    if (ev <= 0.0 || cut_kw <= 0.0) {
        return;
    }
    keep = fmax(0.0, (ev - cut_kw) / ev);
    for (int k = 0; k < n; k++) {
        double draw = fmax(0.0, fmin(out->connector_kw[k], m->ev_accept_kw[k]));

        out->connector_kw[k] = draw * keep;
    }
}

static void correction_raise_chargers(const struct station *st,
                                      const struct correction_measure *m,
                                      struct controller_output *out,
                                      double add_kw)
{
    int n = station_connector_count(st);

    for (int k = 0; k < n && add_kw > 1e-9; k++) {
        double room = fmax(0.0, m->ev_accept_kw[k] - out->connector_kw[k]);
        double up = fmin(room, add_kw);

        out->connector_kw[k] += up;
        add_kw -= up;
    }
}

void correction_apply(const struct station *st,
                      int step_minutes,
                      const struct correction_limits *lim,
                      const struct correction_measure *m,
                      struct controller_output *out)
{
    double ch_max = 0.0;
    double dis_max = 0.0;
    double net;
    double excess;
    double target = fmax(lim->import_max_kw, out->planned_import_kw);
    /* with a DR floor, import at least that; without one, export no more
     * than the plan expected (unforecast PV goes to the battery and cars
     * rather than to the grid at the feed-in price), and never fight a plan
     * that imports */
    double floor_kw =
        lim->import_min_kw > 0.0 ? lim->import_min_kw : fmin(out->planned_import_kw, 0.0);

    if (m->soc_known) {
        correction_ess_bounds(st, m->soc, step_minutes, &ch_max, &dis_max);
    }
    out->ess_kw = fmin(fmax(out->ess_kw, -ch_max), dis_max);
    net = correction_net_kw(st, m, out);
    if (net > target) {
        excess = net - target;
        double more = fmin(excess, dis_max - out->ess_kw);

        out->ess_kw += more;
        correction_cut_chargers(st, m, out, excess - more);
    } else if (net < floor_kw - 1e-9) {
        double want = floor_kw - net;
        double more = fmin(want, ch_max + out->ess_kw);

        out->ess_kw -= more;
        correction_raise_chargers(st, m, out, want - more);
        /* a DR floor the battery and the cars cannot fill: curtail PV */
        if (lim->import_min_kw > 0.0) {
            double short_kw = lim->import_min_kw - correction_net_kw(st, m, out);

            if (short_kw > 1e-9) {
                out->pv_limit_kw = fmax(0.0, fmin(out->pv_limit_kw, m->pv_available_kw) - short_kw);
            }
        }
    }
    net = correction_net_kw(st, m, out);
    if (-net > lim->export_max_kw) {
        excess = -net - lim->export_max_kw;
        double more = fmin(excess, ch_max + out->ess_kw);

        out->ess_kw -= more;
        excess -= more;
        if (excess > 0.0) {
            out->pv_limit_kw = fmax(0.0, fmin(out->pv_limit_kw, m->pv_available_kw) - excess);
        }
    }
}
