/* SPDX-License-Identifier: MIT */
/*
 * test_optimizer_property.c - solves a few hundred random scenarios and
 * checks what must hold for every plan: it satisfies the model (checked by
 * plan_max_violation, written independently of the LP builder), its
 * objective equals the costs recomputed from its flows, it is no worse
 * than a simple feasible schedule, flows running both ways at once are
 * always reported, and the plan lies inside its own adjustable capacity.
 *
 * The seed comes from argv[1], else FLEXD_TEST_SEED, else a fixed default;
 * it is printed first so that any failure can be replayed.
 */
#include "check.h"

#include "common/alloc.h"
#include "common/numparse.h"
#include "models/plan.h"
#include "models/scenario.h"
#include "optimizer/optimizer.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SCENARIOS  200
#define DEFAULT_SEED 20241123u

/* Relative tolerance. GLPK accepts a basic solution whose rows are kept to
 * about 1e-9 of the data's magnitude (its tol_bnd is relative), so the
 * absolute violation grows with the size of the station: 1e-6 of the
 * largest power or energy in the scenario is far above that noise and far
 * below any modelling error worth catching (a wrong coefficient shows up as
 * a whole kW or kWh). */
#define REL_TOL 1e-6

static uint64_t rng_state;

/* splitmix64: tiny, full-period, good enough for test data. */
static uint64_t rnd_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static double rnd_real(double lo, double hi)
{
    return lo + (hi - lo) * (double)(rnd_next() >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [lo, hi]. */
static int rnd_int(int lo, int hi)
{
    return lo + (int)(rnd_next() % (uint64_t)(hi - lo + 1));
}

static int rnd_chance(double p)
{
    return rnd_real(0, 1) < p;
}

static void random_series(struct scenario *sc, double limit_kw)
{
    double peak_pv = rnd_chance(0.7) ? rnd_real(0, 1.5 * limit_kw) : 0.0;
    double load = rnd_real(0.1, 0.8) * limit_kw;
    double export_kw = rnd_chance(0.3) ? 0.0 : rnd_real(0, limit_kw);
    /* selling above the buying price happens, rarely, in real tariffs */
    double arbitrage = rnd_chance(0.05) ? 0.1 : 0.0;

    for (int t = 0; t < sc->steps; t++) {
        double day = fmod(t * sc->step_minutes / 60.0, 24.0);
        double sun = sin((day - 6.0) / 12.0 * 3.14159265358979);

        sc->import_limit_kw[t] = rnd_chance(0.05) ? rnd_real(0, limit_kw) : limit_kw;
        sc->export_limit_kw[t] = export_kw;
        load = fmax(0.0, load + rnd_real(-0.1, 0.1) * limit_kw);
        sc->base_load_kw[t] = load;
        sc->pv_available_kw[t] = sun > 0 ? peak_pv * sun * rnd_real(0.6, 1.0) : 0.0;
        sc->buy_cny_per_kwh[t] = (day >= 8 && day < 22) ? rnd_real(0.8, 1.4) : rnd_real(0.2, 0.5);
        sc->sell_cny_per_kwh[t] = (arbitrage > 0 && rnd_chance(0.2))
                                      ? sc->buy_cny_per_kwh[t] + arbitrage
                                      : sc->buy_cny_per_kwh[t] * rnd_real(0.0, 0.8);
    }
}

static void random_ess(struct scenario *sc, double limit_kw)
{
    struct scenario_ess *e = &sc->ess;

    sc->has_ess = 1;
    e->capacity_kwh = rnd_real(0, 4) * limit_kw;
    e->soc_min = rnd_real(0, 0.2);
    e->soc_max = rnd_real(0.8, 1.0);
    e->soc_initial = rnd_real(e->soc_min, e->soc_max);
    e->reserve_soc = rnd_chance(0.5) ? rnd_real(0, 0.6) : 0.0;
    e->soc_final_target = rnd_chance(0.5) ? rnd_real(0, 1.0) : 0.0;
    e->charge_max_kw = rnd_real(0, 1) * limit_kw;
    e->discharge_max_kw = rnd_real(0, 1) * limit_kw;
    e->charge_efficiency = rnd_real(0.85, 1.0);
    e->discharge_efficiency = rnd_real(0.85, 1.0);
    e->throughput_cost_cny_per_kwh = rnd_chance(0.2) ? 0.0 : rnd_real(0, 0.1);
}

static void random_sessions(struct scenario *sc)
{
    int n = rnd_int(0, 30);
    double dt = scenario_step_hours(sc);

    scenario_set_connectors(sc, n);
    scenario_set_sessions(sc, n);
    for (int s = 0; s < n; s++) {
        struct scenario_session *ses = &sc->sessions[s];

        snprintf(sc->connectors[s].id, sizeof(sc->connectors[s].id), "c%d", s);
        sc->connectors[s].max_kw = rnd_chance(0.5) ? 7 : rnd_real(20, 150);
        snprintf(ses->id, sizeof(ses->id), "s%d", s);
        ses->connector = s;
        ses->arrival_step = rnd_int(0, sc->steps - 1);
        ses->departure_step = rnd_int(ses->arrival_step + 1, sc->steps);
        ses->max_kw = rnd_real(3, 120);
        /* mostly achievable, sometimes not */
        ses->energy_kwh =
            rnd_real(0, 1.3) * ses->max_kw * dt * (ses->departure_step - ses->arrival_step);
    }
}

/* Some connectors share a cabinet whose power is below their sum. */
static void random_groups(struct scenario *sc)
{
    int n = sc->n_connectors > 1 && rnd_chance(0.4) ? rnd_int(1, 3) : 0;

    scenario_set_groups(sc, n);
    for (int g = 0; g < n; g++) {
        snprintf(sc->groups[g].id, sizeof(sc->groups[g].id), "cab%d", g);
        sc->groups[g].max_kw = rnd_real(10, 200);
    }
    for (int c = 0; c < sc->n_connectors && n > 0; c++) {
        sc->connectors[c].group = rnd_chance(0.6) ? rnd_int(0, n - 1) : -1;
    }
}

static void random_events(struct scenario *sc, double limit_kw)
{
    int n = rnd_int(0, 3);

    scenario_set_dr_events(sc, n);
    for (int i = 0; i < n; i++) {
        struct scenario_dr_event *ev = &sc->dr_events[i];

        snprintf(ev->id, sizeof(ev->id), "dr%d", i);
        ev->type = rnd_chance(0.6) ? SCENARIO_DR_IMPORT_CAP : SCENARIO_DR_IMPORT_FLOOR;
        ev->start_step = rnd_int(0, sc->steps - 1);
        ev->end_step = rnd_int(ev->start_step + 1, sc->steps);
        ev->limit_kw = rnd_real(0, 0.8) * limit_kw;
    }
}

static struct scenario *random_scenario(void)
{
    static const int minutes[] = {5, 15, 30, 60};
    struct scenario *sc = scenario_new(rnd_int(4, 96));
    double limit_kw = rnd_real(20, 800);

    sc->step_minutes = minutes[rnd_int(0, 3)];
    random_series(sc, limit_kw);
    if (rnd_chance(0.6)) {
        random_ess(sc, limit_kw);
    }
    random_sessions(sc);
    random_groups(sc);
    random_events(sc, limit_kw);
    sc->demand_charge_cny_per_kw = rnd_chance(0.3) ? rnd_real(0, 50) : 0.0;
    sc->demand_peak_floor_kw = rnd_chance(0.3) ? rnd_real(0, limit_kw) : 0.0;
    sc->flexibility_steps = rnd_chance(0.3) ? rnd_int(1, sc->steps < 24 ? sc->steps : 24) : 0;
    if (rnd_chance(0.2)) {
        /* penalties in any order, including free slacks */
        sc->penalties.grid_limit_cny_per_kwh = rnd_chance(0.2) ? 0 : rnd_real(0, 30);
        sc->penalties.dr_cny_per_kwh = rnd_chance(0.2) ? 0 : rnd_real(0, 30);
        sc->penalties.reserve_cny_per_kwh = rnd_chance(0.2) ? 0 : rnd_real(0, 30);
        sc->penalties.unmet_energy_cny_per_kwh = rnd_chance(0.2) ? 0 : rnd_real(0, 30);
        sc->penalties.soc_final_cny_per_kwh = rnd_chance(0.2) ? 0 : rnd_real(0, 30);
    }
    return sc;
}

/* Largest power or energy in the scenario: the magnitude GLPK's relative
 * tolerances scale with. */
static double scenario_scale(const struct scenario *sc)
{
    double m = 1.0;

    for (int t = 0; t < sc->steps; t++) {
        m = fmax(m, fmax(sc->import_limit_kw[t], sc->export_limit_kw[t]));
        m = fmax(m, fmax(sc->base_load_kw[t], sc->pv_available_kw[t]));
    }
    for (int s = 0; s < sc->n_sessions; s++) {
        m = fmax(m, fmax(sc->sessions[s].energy_kwh, sc->sessions[s].max_kw));
    }
    if (sc->has_ess) {
        m = fmax(m, fmax(sc->ess.capacity_kwh, sc->ess.charge_max_kw));
        m = fmax(m, sc->ess.discharge_max_kw);
    }
    return m;
}

/* A feasible schedule anyone could write down: battery idle, cars charged
 * as early as possible, PV covering load first, every broken limit paid
 * through its slack. The optimum can never cost more. */
static struct plan *naive_plan(const struct scenario *sc)
{
    struct plan *p = plan_new(sc->steps, sc->n_sessions, 0);
    double dt = scenario_step_hours(sc);
    double e0 = sc->has_ess ? sc->ess.soc_initial * sc->ess.capacity_kwh : 0.0;

    /* cabinet power left at [g * steps + t] */
    double *room = alloc_array((size_t)sc->n_groups * (size_t)sc->steps + 1, sizeof(double));

    for (int i = 0; i < sc->n_groups * sc->steps; i++) {
        room[i] = sc->groups[i / sc->steps].max_kw;
    }
    for (int s = 0; s < sc->n_sessions; s++) {
        const struct scenario_session *ses = &sc->sessions[s];
        double max_kw = fmin(ses->max_kw, sc->connectors[ses->connector].max_kw);
        int g = sc->connectors[ses->connector].group;
        double left = ses->energy_kwh;

        for (int t = ses->arrival_step; t < ses->departure_step; t++) {
            double kw = fmin(max_kw, left / dt);

            if (g >= 0) {
                kw = fmin(kw, room[g * sc->steps + t]);
                room[g * sc->steps + t] -= kw;
            }
            p->sessions[s].power_kw[t] = kw;
            p->sessions[s].delivered_kwh += kw * dt;
            left -= kw * dt;
            p->step[t].ev_kw += kw;
        }
        p->sessions[s].unmet_kwh = ses->energy_kwh - p->sessions[s].delivered_kwh;
    }
    free(room);
    for (int t = 0; t < sc->steps; t++) {
        struct plan_step *st = &p->step[t];
        double need = sc->base_load_kw[t] + st->ev_kw;
        double cap_kw;
        double floor_kw;
        int dr = scenario_dr_at(sc, t, &cap_kw, &floor_kw);

        st->pv_kw = fmin(sc->pv_available_kw[t], need);
        st->pv_curtailed_kw = sc->pv_available_kw[t] - st->pv_kw;
        st->grid_import_kw = need - st->pv_kw;
        st->grid_over_kw = fmax(0.0, st->grid_import_kw - sc->import_limit_kw[t]);
        st->dr_over_kw = (dr & 1) ? fmax(0.0, st->grid_import_kw - cap_kw) : 0.0;
        st->dr_under_kw = (dr & 2) ? fmax(0.0, floor_kw - st->grid_import_kw) : 0.0;
        st->ess_energy_kwh = e0;
        if (sc->has_ess) {
            st->reserve_short_kwh = fmax(0.0, sc->ess.reserve_soc * sc->ess.capacity_kwh - e0);
        }
        p->peak_import_kw = fmax(p->peak_import_kw, st->grid_import_kw);
    }
    if (sc->has_ess) {
        p->soc_final_short_kwh = fmax(0.0, sc->ess.soc_final_target * sc->ess.capacity_kwh - e0);
    }
    return p;
}

static int has_warning(const struct plan *p, const char *text)
{
    for (int i = 0; i < p->n_warnings; i++) {
        if (strstr(p->warnings[i], text)) {
            return 1;
        }
    }
    return 0;
}

/* Every step where a flow runs both ways must sit in a warned run. */
static void check_both_ways(const struct plan *p, int k, double tol, int *missing)
{
    char text[160];
    int t = 0;

    while (t < p->steps) {
        int first;
        const struct plan_step *st = &p->step[t];
        double v = k == 0 ? fmin(st->grid_import_kw, st->grid_export_kw)
                          : fmin(st->ess_charge_kw, st->ess_discharge_kw);

        if (!(v > tol)) {
            t++;
            continue;
        }
        first = t;
        while (t < p->steps) {
            st = &p->step[t];
            v = k == 0 ? fmin(st->grid_import_kw, st->grid_export_kw)
                       : fmin(st->ess_charge_kw, st->ess_discharge_kw);
            if (!(v > tol)) {
                break;
            }
            t++;
        }
        snprintf(text,
                 sizeof(text),
                 "%s at the same time at steps %d..%d",
                 k == 0 ? "grid import and export" : "battery charge and discharge",
                 first,
                 t - 1);
        if (!has_warning(p, text)) {
            (*missing)++;
            fprintf(stderr, "no warning \"%s\"\n", text);
        }
    }
}

struct stats {
    double worst_violation; /* relative to the scenario's scale */
    double worst_cost_gap;
    int n_flex;
    int n_both_ways;
};

static void check_one(int i, const struct scenario *sc, struct stats *stats)
{
    struct error_detail ed = {{0}};
    struct plan *p = NULL;
    struct plan *naive;
    char where[256];
    double scale = scenario_scale(sc);
    double viol;
    double costs;
    int missing = 0;
    int rc = optimizer_solve(sc, &p, &ed);

    CHECK(rc == ERROR_OK);
    if (rc) {
        fprintf(stderr, "scenario %d: %s\n", i, ed.text);
        return;
    }
    viol = plan_max_violation(sc, p, where, sizeof(where));
    CHECK(viol <= REL_TOL * scale);
    if (!(viol <= REL_TOL * scale)) {
        fprintf(stderr, "scenario %d: violation %g (scale %g) at %s\n", i, viol, scale, where);
    }
    stats->worst_violation = fmax(stats->worst_violation, viol / scale);
    costs = plan_compute_costs(sc, p, NULL);
    CHECK(fabs(costs - p->objective_cny) <= 1e-6 * fmax(1.0, fabs(p->objective_cny)));
    stats->worst_cost_gap =
        fmax(stats->worst_cost_gap, fabs(costs - p->objective_cny) / fmax(1.0, fabs(costs)));

    naive = naive_plan(sc);
    CHECK(plan_max_violation(sc, naive, where, sizeof(where)) <= REL_TOL * scale);
    costs = plan_compute_costs(sc, naive, NULL);
    CHECK(p->objective_cny <= costs + 1e-6 * fmax(1.0, fabs(costs)));
    plan_free(naive);

    check_both_ways(p, 0, 1e-6, &missing);
    check_both_ways(p, 1, 1e-6, &missing);
    CHECK(missing == 0);
    stats->n_both_ways += has_warning(p, "at the same time");

    for (int t = 0; t < p->flexibility_steps; t++) {
        double net = p->step[t].grid_import_kw - p->step[t].grid_export_kw;

        CHECK(p->flex[t].net_min_kw <= net + REL_TOL * scale);
        CHECK(net <= p->flex[t].net_max_kw + REL_TOL * scale);
    }
    stats->n_flex += p->flexibility_steps > 0;
    plan_free(p);
}

static uint64_t seed_from(int argc, char **argv)
{
    const char *s = argc > 1 ? argv[1] : getenv("FLEXD_TEST_SEED");
    long v;

    if (s && numparse_long(s, 0, 0x7fffffffL, &v) == ERROR_OK) {
        return (uint64_t)v;
    }
    if (s) {
        fprintf(stderr, "ignoring seed \"%s\": not an integer in [0, 2^31)\n", s);
    }
    return DEFAULT_SEED;
}

int main(int argc, char **argv)
{
    uint64_t seed = seed_from(argc, argv);
    struct stats stats = {0};

    printf("seed %" PRIu64 " (replay: test_optimizer_property %" PRIu64 ")\n", seed, seed);
    rng_state = seed;
    for (int i = 0; i < N_SCENARIOS; i++) {
        struct scenario *sc = random_scenario();
        struct error_detail ed = {{0}};

        CHECK(scenario_validate(sc, &ed) == ERROR_OK);
        check_one(i, sc, &stats);
        scenario_free(sc);
    }
    printf("%d scenarios: worst violation %.3g x scale, worst cost gap %.3g, %d with flexibility, "
           "%d with flows both ways (all warned)\n",
           N_SCENARIOS,
           stats.worst_violation,
           stats.worst_cost_gap,
           stats.n_flex,
           stats.n_both_ways);
    return CHECK_DONE();
}
