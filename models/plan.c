/* SPDX-License-Identifier: MIT */
/*
 * plan.c - the plan container and the arithmetic that checks it against
 * its scenario: costs recomputed from the flows, the largest violation of
 * any model constraint, and human-readable warnings for every soft limit
 * the plan breaks. Independent of the solver on purpose, so the tests can
 * hold the optimiser's output against a second implementation of the
 * model. Pure functions; the caller owns plans and scenarios.
 */
#include "plan.h"

#include "../common/alloc.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct plan *plan_new(int steps, int n_sessions, int flexibility_steps)
{
    struct plan *p = ALLOC_NEW(struct plan);

    p->steps = steps;
    p->n_sessions = n_sessions;
    p->flexibility_steps = flexibility_steps;
    p->step = alloc_array((size_t)steps, sizeof(*p->step));
    p->sessions = alloc_array((size_t)n_sessions, sizeof(*p->sessions));
    for (int s = 0; s < n_sessions; s++) {
        p->sessions[s].power_kw = alloc_array((size_t)steps, sizeof(double));
    }
    p->flex = alloc_array((size_t)flexibility_steps, sizeof(*p->flex));
    return p;
}

void plan_free(struct plan *p)
{
    if (!p) {
        return;
    }
    for (int s = 0; s < p->n_sessions; s++) {
        free(p->sessions[s].power_kw);
    }
    for (int i = 0; i < p->n_warnings; i++) {
        free(p->warnings[i]);
    }
    free(p->warnings);
    free(p->flex);
    free(p->sessions);
    free(p->step);
    free(p);
}

void plan_add_warning(struct plan *p, const char *fmt, ...)
{
    va_list ap;
    int len;
    char *text;

    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0) {
        /* only an invalid format gets here; keep the fact, lose the text */
        text = alloc_strdup(fmt);
    } else {
        text = alloc_array((size_t)len + 1, 1);
        va_start(ap, fmt);
        vsnprintf(text, (size_t)len + 1, fmt, ap);
        va_end(ap);
    }
    p->warnings = alloc_resize(p->warnings, (size_t)p->n_warnings + 1, sizeof(*p->warnings));
    p->warnings[p->n_warnings++] = text;
}

double plan_compute_costs(const struct scenario *sc, const struct plan *p, struct plan_costs *out)
{
    const struct scenario_penalties *pen = &sc->penalties;
    double dt = scenario_step_hours(sc);
    double tc = sc->has_ess ? sc->ess.throughput_cost_cny_per_kwh : 0.0;
    struct plan_costs c = {0};
    double peak_kw = 0.0;

    for (int t = 0; t < p->steps; t++) {
        const struct plan_step *st = &p->step[t];

        c.import_cny += dt * sc->buy_cny_per_kwh[t] * st->grid_import_kw;
        c.export_revenue_cny += dt * sc->sell_cny_per_kwh[t] * st->grid_export_kw;
        c.throughput_cny += dt * tc * (st->ess_charge_kw + st->ess_discharge_kw);
        peak_kw = fmax(peak_kw, st->grid_import_kw);
        /* reserve_short is kWh, weighted by the step length like the issue
         * specifies: the reserve price is per kWh short per hour */
        c.penalty_cny += dt * (pen->grid_limit_cny_per_kwh * st->grid_over_kw +
                               pen->dr_cny_per_kwh * (st->dr_over_kw + st->dr_under_kw) +
                               pen->reserve_cny_per_kwh * st->reserve_short_kwh);
    }
    for (int s = 0; s < p->n_sessions; s++) {
        c.penalty_cny += pen->unmet_energy_cny_per_kwh * p->sessions[s].unmet_kwh;
    }
    c.penalty_cny += pen->soc_final_cny_per_kwh * p->soc_final_short_kwh;
    if (sc->demand_charge_cny_per_kw > 0) {
        c.demand_charge_cny =
            sc->demand_charge_cny_per_kw * fmax(sc->demand_peak_floor_kw, peak_kw);
    }
    if (out) {
        *out = c;
    }
    return c.import_cny - c.export_revenue_cny + c.throughput_cny + c.demand_charge_cny +
           c.penalty_cny;
}

/* The worst violation found so far, and where. */
struct plan_viol {
    double worst;
    char *where;
    size_t n;
};

static void plan_viol(struct plan_viol *v, double amount, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record amount (how far a constraint is broken, <= 0 when kept, NaN when
 * a value is not a number at all) if it is the worst so far. */
static void plan_viol(struct plan_viol *v, double amount, const char *fmt, ...)
{
    va_list ap;

    if (isnan(amount)) {
        amount = INFINITY;
    }
    if (!(amount > v->worst)) {
        return;
    }
    v->worst = amount;
    if (v->where && v->n > 0) {
        va_start(ap, fmt);
        vsnprintf(v->where, v->n, fmt, ap);
        va_end(ap);
    }
}

static const struct {
    const char *name;
    size_t offset;
} plan_fields[] = {
    {"grid_import_kw", offsetof(struct plan_step, grid_import_kw)},
    {"grid_export_kw", offsetof(struct plan_step, grid_export_kw)},
    {"pv_kw", offsetof(struct plan_step, pv_kw)},
    {"pv_curtailed_kw", offsetof(struct plan_step, pv_curtailed_kw)},
    {"ess_charge_kw", offsetof(struct plan_step, ess_charge_kw)},
    {"ess_discharge_kw", offsetof(struct plan_step, ess_discharge_kw)},
    {"ess_energy_kwh", offsetof(struct plan_step, ess_energy_kwh)},
    {"ev_kw", offsetof(struct plan_step, ev_kw)},
    {"grid_over_kw", offsetof(struct plan_step, grid_over_kw)},
    {"dr_over_kw", offsetof(struct plan_step, dr_over_kw)},
    {"dr_under_kw", offsetof(struct plan_step, dr_under_kw)},
    {"reserve_short_kwh", offsetof(struct plan_step, reserve_short_kwh)},
};

static double plan_field(const struct plan_step *st, int i)
{
    return *(const double *)(const void *)((const char *)st + plan_fields[i].offset);
}

/* Non-negativity, the sessions' sum, the power balance and PV at step t. */
static void
plan_check_flows(const struct scenario *sc, const struct plan *p, int t, struct plan_viol *v)
{
    const struct plan_step *st = &p->step[t];
    double ev_kw = 0.0;

    for (int i = 0; i < (int)(sizeof(plan_fields) / sizeof(plan_fields[0])); i++) {
        double x = plan_field(st, i);

        plan_viol(v, -x, "step %d: %s %g is negative", t, plan_fields[i].name, x);
    }
    for (int s = 0; s < p->n_sessions; s++) {
        ev_kw += p->sessions[s].power_kw[t];
    }
    plan_viol(v, fabs(st->ev_kw - ev_kw), "step %d: ev_kw %g, sessions %g", t, st->ev_kw, ev_kw);
    plan_viol(v,
              fabs(st->grid_import_kw - st->grid_export_kw + st->pv_kw + st->ess_discharge_kw -
                   st->ess_charge_kw - sc->base_load_kw[t] - st->ev_kw),
              "step %d: power balance off",
              t);
    plan_viol(v,
              st->pv_kw - sc->pv_available_kw[t],
              "step %d: pv_kw %g above available",
              t,
              st->pv_kw);
    plan_viol(v,
              fabs(sc->pv_available_kw[t] - st->pv_kw - st->pv_curtailed_kw),
              "step %d: pv_curtailed_kw %g is not available - used",
              t,
              st->pv_curtailed_kw);
}

/* Grid connection, export limit, DR cap and floor, and the peak at step t. */
static void
plan_check_grid(const struct scenario *sc, const struct plan *p, int t, struct plan_viol *v)
{
    const struct plan_step *st = &p->step[t];
    double imp = st->grid_import_kw;
    double cap_kw;
    double floor_kw;
    int dr = scenario_dr_at(sc, t, &cap_kw, &floor_kw);

    plan_viol(v,
              imp - st->grid_over_kw - sc->import_limit_kw[t],
              "step %d: import %g above limit + grid_over %g",
              t,
              imp,
              st->grid_over_kw);
    plan_viol(v,
              st->grid_export_kw - sc->export_limit_kw[t],
              "step %d: export %g above limit",
              t,
              st->grid_export_kw);
    if (dr & 1) {
        plan_viol(v,
                  imp - st->dr_over_kw - cap_kw,
                  "step %d: import %g above DR cap + dr_over %g",
                  t,
                  imp,
                  st->dr_over_kw);
    } else {
        plan_viol(v,
                  fabs(st->dr_over_kw),
                  "step %d: dr_over %g without a DR cap",
                  t,
                  st->dr_over_kw);
    }
    if (dr & 2) {
        plan_viol(v,
                  floor_kw - (imp - st->grid_export_kw) - st->dr_under_kw,
                  "step %d: net import %g below DR floor - dr_under %g",
                  t,
                  imp - st->grid_export_kw,
                  st->dr_under_kw);
    } else {
        plan_viol(v,
                  fabs(st->dr_under_kw),
                  "step %d: dr_under %g without a DR floor",
                  t,
                  st->dr_under_kw);
    }
    if (sc->demand_charge_cny_per_kw > 0) {
        plan_viol(v,
                  imp - p->peak_import_kw,
                  "step %d: import %g above peak %g",
                  t,
                  imp,
                  p->peak_import_kw);
    }
}

/* Without a battery every battery value must be zero. */
static void plan_check_no_ess(const struct plan *p, struct plan_viol *v)
{
    for (int t = 0; t < p->steps; t++) {
        const struct plan_step *st = &p->step[t];
        double m = fmax(fmax(fabs(st->ess_charge_kw), fabs(st->ess_discharge_kw)),
                        fmax(fabs(st->ess_energy_kwh), fabs(st->reserve_short_kwh)));

        plan_viol(v, m, "step %d: battery values without a battery", t);
    }
    plan_viol(v, fabs(p->soc_final_short_kwh), "soc_final_short without a battery");
}

/* Battery limits, energy dynamics from soc_initial, reserve, final target. */
static void plan_check_ess(const struct scenario *sc, const struct plan *p, struct plan_viol *v)
{
    const struct scenario_ess *e = &sc->ess;
    double dt = scenario_step_hours(sc);
    double prev = e->soc_initial * e->capacity_kwh;

    for (int t = 0; t < p->steps; t++) {
        const struct plan_step *st = &p->step[t];
        double kwh = st->ess_energy_kwh;
        double moved = dt * (e->charge_efficiency * st->ess_charge_kw -
                             st->ess_discharge_kw / e->discharge_efficiency);

        plan_viol(v,
                  st->ess_charge_kw - e->charge_max_kw,
                  "step %d: charge %g above max",
                  t,
                  st->ess_charge_kw);
        plan_viol(v,
                  st->ess_discharge_kw - e->discharge_max_kw,
                  "step %d: discharge %g above max",
                  t,
                  st->ess_discharge_kw);
        plan_viol(v,
                  e->soc_min * e->capacity_kwh - kwh,
                  "step %d: energy %g below soc_min",
                  t,
                  kwh);
        plan_viol(v,
                  kwh - e->soc_max * e->capacity_kwh,
                  "step %d: energy %g above soc_max",
                  t,
                  kwh);
        plan_viol(v,
                  fabs(kwh - prev - moved),
                  "step %d: battery energy %g does not follow from %g",
                  t,
                  kwh,
                  prev);
        plan_viol(v,
                  e->reserve_soc * e->capacity_kwh - kwh - st->reserve_short_kwh,
                  "step %d: energy %g below reserve - reserve_short %g",
                  t,
                  kwh,
                  st->reserve_short_kwh);
        prev = kwh;
    }
    plan_viol(v, -p->soc_final_short_kwh, "soc_final_short %g is negative", p->soc_final_short_kwh);
    plan_viol(v,
              e->soc_final_target * e->capacity_kwh - prev - p->soc_final_short_kwh,
              "final energy %g below target - soc_final_short %g",
              prev,
              p->soc_final_short_kwh);
}

/* Session power limits and window, delivered and unmet energy. */
static void
plan_check_sessions(const struct scenario *sc, const struct plan *p, struct plan_viol *v)
{
    double dt = scenario_step_hours(sc);

    for (int s = 0; s < p->n_sessions; s++) {
        const struct scenario_session *ses = &sc->sessions[s];
        const struct plan_session *ps = &p->sessions[s];
        double max_kw = fmin(ses->max_kw, sc->connectors[ses->connector].max_kw);
        double kwh = 0.0;

        for (int t = 0; t < p->steps; t++) {
            double kw = ps->power_kw[t];

            if (t < ses->arrival_step || t >= ses->departure_step) {
                plan_viol(v,
                          fabs(kw),
                          "session \"%s\": %g kW at step %d outside its window",
                          ses->id,
                          kw,
                          t);
                continue;
            }
            plan_viol(v, -kw, "session \"%s\": negative power %g at step %d", ses->id, kw, t);
            plan_viol(v,
                      kw - max_kw,
                      "session \"%s\": %g kW at step %d above max %g",
                      ses->id,
                      kw,
                      t,
                      max_kw);
            kwh += kw * dt;
        }
        plan_viol(v,
                  fabs(kwh - ps->delivered_kwh),
                  "session \"%s\": delivered %g, powers sum %g",
                  ses->id,
                  ps->delivered_kwh,
                  kwh);
        plan_viol(v,
                  -ps->unmet_kwh,
                  "session \"%s\": unmet %g is negative",
                  ses->id,
                  ps->unmet_kwh);
        plan_viol(v,
                  fabs(ps->delivered_kwh + ps->unmet_kwh - ses->energy_kwh),
                  "session \"%s\": delivered %g + unmet %g is not energy %g",
                  ses->id,
                  ps->delivered_kwh,
                  ps->unmet_kwh,
                  ses->energy_kwh);
    }
}

/* Shared cabinets: the sessions on one cabinet's connectors together. */
static void plan_check_groups(const struct scenario *sc, const struct plan *p, struct plan_viol *v)
{
    double *kw = alloc_array((size_t)(sc->n_groups > 0 ? sc->n_groups : 0), sizeof(double));

    for (int t = 0; t < p->steps && sc->n_groups > 0; t++) {
        memset(kw, 0, (size_t)sc->n_groups * sizeof(double));
        for (int s = 0; s < p->n_sessions; s++) {
            int g = sc->connectors[sc->sessions[s].connector].group;

            if (g >= 0 && g < sc->n_groups) {
                kw[g] += p->sessions[s].power_kw[t];
            }
        }
        for (int g = 0; g < sc->n_groups; g++) {
            plan_viol(v,
                      kw[g] - sc->groups[g].max_kw,
                      "step %d: cabinet \"%s\" draws %g kW of %g",
                      t,
                      sc->groups[g].id,
                      kw[g],
                      sc->groups[g].max_kw);
        }
    }
    free(kw);
}

double plan_max_violation(const struct scenario *sc, const struct plan *p, char *where, size_t n)
{
    struct plan_viol v = {0.0, where, n};

    if (where && n > 0) {
        snprintf(where, n, "none");
    }
    if (p->steps != sc->steps || p->n_sessions != sc->n_sessions) {
        plan_viol(&v,
                  INFINITY,
                  "plan has %d steps, %d sessions; scenario %d, %d",
                  p->steps,
                  p->n_sessions,
                  sc->steps,
                  sc->n_sessions);
        goto out;
    }
    for (int t = 0; t < p->steps; t++) {
        plan_check_flows(sc, p, t, &v);
        plan_check_grid(sc, p, t, &v);
    }
    if (sc->has_ess) {
        plan_check_ess(sc, p, &v);
    } else {
        plan_check_no_ess(p, &v);
    }
    plan_check_sessions(sc, p, &v);
    plan_check_groups(sc, p, &v);
out:
    return v.worst;
}

/* A run of consecutive steps whose value is above the tolerance. */
struct plan_run {
    int first;
    int last;
    double max;
    double sum;
};

/* Find the next run at or after *t in v[0..n-1]; returns 0 when none is
 * left. *t is moved past the run. */
static int plan_next_run(const double *v, int n, double tol, int *t, struct plan_run *r)
{
    while (*t < n && !(v[*t] > tol)) {
        (*t)++;
    }
    if (*t >= n) {
        return 0;
    }
    r->first = *t;
    r->max = 0.0;
    r->sum = 0.0;
    while (*t < n && v[*t] > tol) {
        r->max = fmax(r->max, v[*t]);
        r->sum += v[*t];
        (*t)++;
    }
    r->last = *t - 1;
    return 1;
}

/* Ids of the DR events of one type that overlap steps first..last, as
 * "\"a\", \"b\"" in buf. */
static void plan_event_ids(const struct scenario *sc,
                           enum scenario_dr_type type,
                           int first,
                           int last,
                           char *buf,
                           size_t n)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < sc->n_dr_events && used < n; i++) {
        const struct scenario_dr_event *ev = &sc->dr_events[i];
        int w;

        if (ev->type != type || ev->end_step <= first || ev->start_step > last) {
            continue;
        }
        w = snprintf(buf + used, n - used, "%s\"%s\"", used ? ", " : "", ev->id);
        if (w < 0) {
            break;
        }
        used += (size_t)w;
    }
}

/* Warnings for the per-step slacks (grid limit, DR cap and floor). */
static int plan_explain_slacks(const struct scenario *sc, struct plan *p, double tol, double *v)
{
    static const char *const what[] = {"grid import limit exceeded",
                                       "import above the cap",
                                       "import below the floor"};
    double dt = scenario_step_hours(sc);
    char ids[256];
    struct plan_run r;
    int added = 0;

    for (int k = 0; k < 3; k++) {
        int t = 0;

        for (int i = 0; i < p->steps; i++) {
            const struct plan_step *st = &p->step[i];

            v[i] = k == 0 ? st->grid_over_kw : k == 1 ? st->dr_over_kw : st->dr_under_kw;
        }
        while (plan_next_run(v, p->steps, tol, &t, &r)) {
            if (k == 0) {
                plan_add_warning(p,
                                 "%s at steps %d..%d by up to %.4g kW (%.4g kWh)",
                                 what[k],
                                 r.first,
                                 r.last,
                                 r.max,
                                 r.sum * dt);
            } else {
                plan_event_ids(sc,
                               k == 1 ? SCENARIO_DR_IMPORT_CAP : SCENARIO_DR_IMPORT_FLOOR,
                               r.first,
                               r.last,
                               ids,
                               sizeof(ids));
                plan_add_warning(p,
                                 "DR event %s %s: %s at steps %d..%d by up to %.4g kW (%.4g kWh)",
                                 k == 1 ? "cap" : "floor",
                                 ids,
                                 what[k],
                                 r.first,
                                 r.last,
                                 r.max,
                                 r.sum * dt);
            }
            added++;
        }
    }
    return added;
}

/* Warnings for the battery reserve and for flows that run both ways at
 * once, which the model only avoids through prices (docs/optimisation.md). */
static int plan_explain_steps(struct plan *p, double tol, double *v)
{
    struct plan_run r;
    int added = 0;
    int t = 0;

    for (int i = 0; i < p->steps; i++) {
        v[i] = p->step[i].reserve_short_kwh;
    }
    while (plan_next_run(v, p->steps, tol, &t, &r)) {
        plan_add_warning(p,
                         "battery below its reserve at steps %d..%d by up to %.4g kWh",
                         r.first,
                         r.last,
                         r.max);
        added++;
    }
    for (int k = 0; k < 2; k++) {
        t = 0;
        for (int i = 0; i < p->steps; i++) {
            const struct plan_step *st = &p->step[i];

            v[i] = k == 0 ? fmin(st->grid_import_kw, st->grid_export_kw)
                          : fmin(st->ess_charge_kw, st->ess_discharge_kw);
        }
        while (plan_next_run(v, p->steps, tol, &t, &r)) {
            plan_add_warning(p,
                             "%s at the same time at steps %d..%d (up to %.4g kW both ways)",
                             k == 0 ? "grid import and export" : "battery charge and discharge",
                             r.first,
                             r.last,
                             r.max);
            added++;
        }
    }
    return added;
}

int plan_explain(const struct scenario *sc, struct plan *p, double tol_kw)
{
    double *v = alloc_array((size_t)p->steps, sizeof(double));
    int added = plan_explain_slacks(sc, p, tol_kw, v);

    added += plan_explain_steps(p, tol_kw, v);
    for (int s = 0; s < p->n_sessions && s < sc->n_sessions; s++) {
        const struct plan_session *ps = &p->sessions[s];

        if (ps->unmet_kwh > tol_kw) {
            plan_add_warning(p,
                             "session \"%s\": %.4g kWh unmet of %.4g kWh wanted",
                             sc->sessions[s].id,
                             ps->unmet_kwh,
                             sc->sessions[s].energy_kwh);
            added++;
        }
    }
    if (p->soc_final_short_kwh > tol_kw) {
        plan_add_warning(p,
                         "battery ends %.4g kWh below its final target of %.4g kWh",
                         p->soc_final_short_kwh,
                         sc->ess.soc_final_target * sc->ess.capacity_kwh);
        added++;
    }
    free(v);
    return added;
}
