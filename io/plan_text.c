/* SPDX-License-Identifier: MIT */
/*
 * plan_text.c - human-readable plan summary. Rows aggregate the steps of one
 * hour (or one step when steps are longer than an hour divides into) as
 * average kW, so a 96-step day reads as 24 lines. Any thread.
 */
#include "plan_text.h"

#include <math.h>

void plan_text_totals(const struct scenario *sc, const struct plan *p, struct plan_text_totals *out)
{
    double dt_h = scenario_step_hours(sc);

    *out = (struct plan_text_totals){0};
    for (int t = 0; t < p->steps; t++) {
        const struct plan_step *s = &p->step[t];

        out->import_kwh += dt_h * s->grid_import_kw;
        out->export_kwh += dt_h * s->grid_export_kw;
        out->pv_available_kwh += dt_h * sc->pv_available_kw[t];
        out->pv_used_kwh += dt_h * s->pv_kw;
        out->pv_curtailed_kwh += dt_h * s->pv_curtailed_kw;
        out->ess_charge_kwh += dt_h * s->ess_charge_kw;
        out->ess_discharge_kwh += dt_h * s->ess_discharge_kw;
        out->base_load_kwh += dt_h * sc->base_load_kw[t];
    }
    for (int i = 0; i < p->n_sessions; i++) {
        out->ev_wanted_kwh += sc->sessions[i].energy_kwh;
        out->ev_delivered_kwh += p->sessions[i].delivered_kwh;
        out->ev_unmet_kwh += p->sessions[i].unmet_kwh;
    }
}

static void plan_text_header(FILE *f, const struct scenario *sc, const struct plan *p)
{
    const struct plan_costs *c = &p->costs;

    fprintf(f,
            "flexd plan: %d steps x %d min (%.1f h), %d connectors, %d EV sessions, %d DR "
            "events\n",
            sc->steps,
            sc->step_minutes,
            sc->steps * scenario_step_hours(sc),
            sc->n_connectors,
            sc->n_sessions,
            sc->n_dr_events);
    fprintf(f,
            "status optimal: objective %.2f CNY (solve %.1f ms, %d simplex iterations",
            p->objective_cny,
            p->solve_ms,
            p->simplex_iterations);
    if (p->flexibility_steps > 0) {
        fprintf(f,
                "; adjustable capacity for %d steps in %.1f ms",
                p->flexibility_steps,
                p->flex_ms);
    }
    fprintf(f, ")\n");
    fprintf(f,
            "costs CNY: import %.2f, export revenue %.2f, battery wear %.2f, demand charge %.2f, "
            "penalties %.2f\n",
            c->import_cny,
            c->export_revenue_cny,
            c->throughput_cny,
            c->demand_charge_cny,
            c->penalty_cny);
}

static void plan_text_energy(FILE *f, const struct scenario *sc, const struct plan *p)
{
    struct plan_text_totals tt;
    double limit_max = 0.0;

    plan_text_totals(sc, p, &tt);
    for (int t = 0; t < sc->steps; t++) {
        limit_max = fmax(limit_max, sc->import_limit_kw[t]);
    }
    fprintf(f,
            "energy kWh: grid import %.1f, export %.1f; PV %.1f used of %.1f (curtailed %.1f); "
            "battery in %.1f, out %.1f\n",
            tt.import_kwh,
            tt.export_kwh,
            tt.pv_used_kwh,
            tt.pv_available_kwh,
            tt.pv_curtailed_kwh,
            tt.ess_charge_kwh,
            tt.ess_discharge_kwh);
    fprintf(f,
            "EV kWh: delivered %.1f of %.1f wanted (unmet %.1f); base load %.1f\n",
            tt.ev_delivered_kwh,
            tt.ev_wanted_kwh,
            tt.ev_unmet_kwh,
            tt.base_load_kwh);
    fprintf(f, "peak import %.1f kW (connection limit %.0f kW)\n", p->peak_import_kw, limit_max);
}

/* One table row: the mean of steps [t0, t1). */
static void plan_text_row(FILE *f, const struct scenario *sc, const struct plan *p, int t0, int t1)
{
    double sum[8] = {0};
    double n = t1 - t0;
    double fmin_kw = INFINITY;
    double fmax_kw = -INFINITY;
    double cap;
    double floor_kw;
    int dr = 0;
    int minutes = t0 * sc->step_minutes;

    for (int t = t0; t < t1; t++) {
        const struct plan_step *s = &p->step[t];

        sum[0] += s->grid_import_kw - s->grid_export_kw;
        sum[1] += s->pv_kw;
        sum[2] += s->pv_curtailed_kw;
        sum[3] += s->ess_discharge_kw - s->ess_charge_kw;
        sum[4] += s->ev_kw;
        sum[5] += sc->base_load_kw[t];
        sum[6] += sc->buy_cny_per_kwh[t];
        sum[7] += s->marginal_price_cny_per_kwh;
        dr |= scenario_dr_at(sc, t, &cap, &floor_kw);
        if (t < p->flexibility_steps) {
            fmin_kw = fmin(fmin_kw, p->flex[t].net_min_kw);
            fmax_kw = fmax(fmax_kw, p->flex[t].net_max_kw);
        }
    }
    fprintf(f,
            "+%02d:%02d %8.1f %7.1f %6.1f %8.1f %7.1f %6.1f %6.3f %8.3f  %5.1f%% %-4s",
            minutes / 60,
            minutes % 60,
            sum[0] / n,
            sum[1] / n,
            sum[2] / n,
            sum[3] / n,
            sum[4] / n,
            sum[5] / n,
            sum[6] / n,
            sum[7] / n,
            sc->has_ess && sc->ess.capacity_kwh > 0
                ? 100.0 * p->step[t1 - 1].ess_energy_kwh / sc->ess.capacity_kwh
                : 0.0,
            dr == 0 ? "" : (dr == 1 ? "cap" : (dr == 2 ? "flr" : "both")));
    if (isfinite(fmin_kw)) {
        fprintf(f, " %7.1f..%-7.1f", fmin_kw, fmax_kw);
    }
    fprintf(f, "\n");
}

void plan_text_write(FILE *f, const struct scenario *sc, const struct plan *p)
{
    int per_row = sc->step_minutes < 60 ? 60 / sc->step_minutes : 1;

    plan_text_header(f, sc, p);
    plan_text_energy(f, sc, p);
    fprintf(f,
            "\n%-6s %8s %7s %6s %8s %7s %6s %6s %8s  %6s %-4s %s\n",
            "start",
            "grid_kW",
            "pv_kW",
            "curt",
            "ess_kW",
            "ev_kW",
            "base",
            "buy",
            "marginal",
            "soc",
            "DR",
            p->flexibility_steps > 0 ? "net range kW" : "");
    for (int t0 = 0; t0 < sc->steps; t0 += per_row) {
        int t1 = t0 + per_row < sc->steps ? t0 + per_row : sc->steps;

        plan_text_row(f, sc, p, t0, t1);
    }
    fprintf(f, "(grid_kW: import positive; ess_kW: discharge positive; prices CNY/kWh)\n");
    if (p->n_warnings == 0) {
        fprintf(f, "\nevery limit kept: no soft constraint was broken\n");
        return;
    }
    fprintf(f,
            "\nwarnings (%d): limits the plan could not keep and post-solve checks\n",
            p->n_warnings);
    for (int i = 0; i < p->n_warnings; i++) {
        fprintf(f, "  - %s\n", p->warnings[i]);
    }
}
