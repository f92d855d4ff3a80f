/* SPDX-License-Identifier: MIT */
/*
 * rules.c - rule-based decisions, in the manner of OpenEMS's controllers
 * (ESS self-consumption, peak shaving, time-of-use charging, EVCS power
 * limiting): each rule is a plain if-this-then-that on the present step.
 * Engine thread.
 *
 * Tuning (docs/simulation.md, "Strategies"): the battery charges from PV
 * surplus first; in the valley it tops up towards soc_max, paced to finish
 * by the end of the valley; in peak and critical-peak hours it covers the
 * load down to the reserve; at any hour it shaves import above
 * rule_peak_fraction x import limit. DR caps and floors, the connection limit
 * and the export limit are then enforced by the real-time correction.
 */
#include "rules.h"

#include "../common/clock.h"
#include "planner.h"

#include <math.h>

void rules_limits(const struct station *st,
                  const struct controller_input *in,
                  struct correction_limits *lim)
{
    lim->import_max_kw = st->grid.import_limit_kw;
    lim->import_min_kw = 0.0;
    lim->export_max_kw = st->grid.export_limit_kw;
    for (int i = 0; i < in->n_dr; i++) {
        const struct controller_dr *ev = &in->dr[i];

        if (ev->notice_ms > in->now_ms || in->now_ms < ev->start_ms || in->now_ms >= ev->end_ms) {
            continue;
        }
        if (ev->type == SCENARIO_DR_IMPORT_CAP) {
            lim->import_max_kw = fmin(lim->import_max_kw, ev->limit_kw);
        } else {
            lim->import_min_kw = fmax(lim->import_min_kw, ev->limit_kw);
        }
    }
}

void rules_ev_accept(const struct station *st,
                     const struct controller_input *in,
                     int step_minutes,
                     double *accept_kw)
{
    int n = station_connector_count(st);
    double dt_h = step_minutes / 60.0;

    for (int k = 0; k < n; k++) {
        accept_kw[k] = 0.0;
    }
    for (int i = 0; i < in->n_evs; i++) {
        const struct controller_ev *ev = &in->evs[i];
        int k = ev->connector;
        int c;
        const struct station_connector *conn = planner_connector(st, k, &c);

        if (!conn) {
            continue;
        }
        accept_kw[k] = fmax(0.0, fmin(fmin(ev->max_kw, conn->max_kw), ev->wanted_kwh / dt_h));
    }
}

static void
rules_measure(const struct controller_input *in, const double *accept, struct correction_measure *m)
{
    m->pv_available_kw =
        in->forecast_steps > 0 && in->pv_forecast_kw ? in->pv_forecast_kw[0] : in->pv_available_kw;
    m->base_load_kw =
        in->forecast_steps > 0 && in->base_forecast_kw ? in->base_forecast_kw[0] : in->base_load_kw;
    m->ev_accept_kw = accept;
    m->soc = in->soc;
    m->soc_known = in->soc_known;
}

/* Chargers at what their cars accept, PV uncapped, battery idle. */
static void
rules_full_power(const struct station *st, const double *accept, struct controller_output *out)
{
    int n = station_connector_count(st);

    for (int k = 0; k < n; k++) {
        out->connector_kw[k] = accept[k];
    }
    out->ess_kw = 0.0;
    out->pv_limit_kw = INFINITY;
    out->planned_import_kw = 0.0;
}

void rules_uncontrolled(const struct station *st,
                        const struct controller_options *opt,
                        const struct controller_input *in,
                        struct controller_output *out)
{
    double accept[STATION_CHARGERS_MAX * STATION_CONNECTORS_MAX];
    struct correction_measure m;

    rules_ev_accept(st, in, opt->step_minutes, accept);
    rules_measure(in, accept, &m);
    rules_full_power(st, accept, out);
    /* no EMS: only the inverter's anti-reverse-flow protection acts, which
     * curtails PV above the export limit */
    if (-correction_net_kw(st, &m, out) > st->grid.export_limit_kw) {
        out->pv_limit_kw =
            fmax(0.0,
                 m.pv_available_kw - (-correction_net_kw(st, &m, out) - st->grid.export_limit_kw));
    }
    out->planned_import_kw = fmax(0.0, correction_net_kw(st, &m, out));
}

/* Hours until the tariff tier in force at now_ms changes (at most 24). */
static double rules_tier_hours_left(const struct station *st, int64_t now_ms)
{
    int tier = tariff_tier_at(&st->tariff, now_ms);
    int64_t step_ms = 15 * 60000;
    int64_t t = now_ms - now_ms % step_ms + step_ms;

    while (t < now_ms + CLOCK_DAY_MS && tariff_tier_at(&st->tariff, t) == tier) {
        t += step_ms;
    }
    return (double)(t - now_ms) / 3600000.0;
}

/* Battery decision of the rules before limits are enforced (> 0 discharge). */
static double rules_battery(const struct station *st,
                            const struct controller_options *opt,
                            const struct controller_input *in,
                            double net_kw)
{
    const struct station_ess *e = &st->ess;
    double dt_h = opt->step_minutes / 60.0;
    double ch_max;
    double dis_max;
    double above_reserve;
    double threshold = opt->rule_peak_fraction * st->grid.import_limit_kw;
    int tier = tariff_tier_at(&st->tariff, in->now_ms);

    correction_ess_bounds(st, in->soc, opt->step_minutes, &ch_max, &dis_max);
    above_reserve =
        fmax(0.0, (in->soc - e->reserve_soc) * e->capacity_kwh * e->discharge_efficiency / dt_h);
    if (net_kw < 0.0) {
        return -fmin(-net_kw, ch_max); /* store PV surplus */
    }
    if (net_kw > threshold) {
        return fmin(net_kw - threshold, fmin(dis_max, above_reserve)); /* peak shaving */
    }
    if (tier == TARIFF_PEAK || tier == TARIFF_CRITICAL_PEAK) {
        return fmin(net_kw, fmin(dis_max, above_reserve)); /* cover the load at peak price */
    }
    if (tier == TARIFF_VALLEY) {
        /* pace the top-up so it ends with the valley period */
        double need_kwh = (e->soc_max - in->soc) * e->capacity_kwh / e->charge_efficiency;
        double hours_left = fmax(rules_tier_hours_left(st, in->now_ms), dt_h);

        return -fmin(fmin(ch_max, need_kwh / hours_left), fmax(0.0, threshold - net_kw));
    }
    return 0.0;
}

void rules_decide(const struct station *st,
                  const struct controller_options *opt,
                  const struct controller_input *in,
                  struct controller_output *out)
{
    double accept[STATION_CHARGERS_MAX * STATION_CONNECTORS_MAX];
    struct correction_measure m;
    struct correction_limits lim;

    rules_ev_accept(st, in, opt->step_minutes, accept);
    rules_measure(in, accept, &m);
    rules_limits(st, in, &lim);
    rules_full_power(st, accept, out);
    if (st->has_ess && in->soc_known) {
        out->ess_kw = rules_battery(st, opt, in, correction_net_kw(st, &m, out));
    }
    correction_apply(st, opt->step_minutes, &lim, &m, out);
    out->planned_import_kw = fmax(0.0, correction_net_kw(st, &m, out));
}
