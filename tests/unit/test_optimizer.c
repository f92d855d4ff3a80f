/* SPDX-License-Identifier: MIT */
/*
 * test_optimizer.c - small scenarios whose optimum can be worked out by
 * hand; each case derives its expected numbers in a comment and checks the
 * plan against them. Steps are one hour long (step_minutes = 60) unless a
 * case says otherwise, so kW and kWh per step are the same number.
 * Every plan is also held against the model by plan_max_violation() and
 * its objective against plan_compute_costs().
 */
#include "check.h"

#include "models/plan.h"
#include "models/scenario.h"
#include "optimizer/optimizer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TOL 1e-6

/* A scenario of `steps` one-hour steps: 1000 kW import limit, no export,
 * buy 1 CNY/kWh, sell 0, no load, no PV, no battery, default penalties. */
static struct scenario *make_scenario(int steps)
{
    struct scenario *sc = scenario_new(steps);

    sc->step_minutes = 60;
    for (int t = 0; t < steps; t++) {
        sc->import_limit_kw[t] = 1000;
        sc->buy_cny_per_kwh[t] = 1.0;
    }
    return sc;
}

/* One session on its own connector of connector_kw. */
static void add_session(struct scenario *sc,
                        const char *id,
                        double connector_kw,
                        int arrival,
                        int departure,
                        double energy_kwh,
                        double max_kw)
{
    int c = sc->n_connectors;
    int s = sc->n_sessions;

    scenario_set_connectors(sc, c + 1);
    snprintf(sc->connectors[c].id, sizeof(sc->connectors[c].id), "c%d", c);
    sc->connectors[c].max_kw = connector_kw;
    scenario_set_sessions(sc, s + 1);
    snprintf(sc->sessions[s].id, sizeof(sc->sessions[s].id), "%s", id);
    sc->sessions[s].connector = c;
    sc->sessions[s].arrival_step = arrival;
    sc->sessions[s].departure_step = departure;
    sc->sessions[s].energy_kwh = energy_kwh;
    sc->sessions[s].max_kw = max_kw;
}

static void add_event(struct scenario *sc,
                      const char *id,
                      enum scenario_dr_type type,
                      int start,
                      int end,
                      double limit_kw)
{
    int i = sc->n_dr_events;

    scenario_set_dr_events(sc, i + 1);
    snprintf(sc->dr_events[i].id, sizeof(sc->dr_events[i].id), "%s", id);
    sc->dr_events[i].type = type;
    sc->dr_events[i].start_step = start;
    sc->dr_events[i].end_step = end;
    sc->dr_events[i].limit_kw = limit_kw;
}

/* A battery of capacity_kwh with lossless conversion, full soc range, no
 * reserve or final target, and a small wear cost so that charging and
 * discharging in the same step is never free. */
static void add_battery(struct scenario *sc, double capacity_kwh, double soc, double max_kw)
{
    sc->has_ess = 1;
    sc->ess.capacity_kwh = capacity_kwh;
    sc->ess.soc_initial = soc;
    sc->ess.soc_min = 0.0;
    sc->ess.soc_max = 1.0;
    sc->ess.charge_max_kw = max_kw;
    sc->ess.discharge_max_kw = max_kw;
    sc->ess.charge_efficiency = 1.0;
    sc->ess.discharge_efficiency = 1.0;
    sc->ess.throughput_cost_cny_per_kwh = 0.01;
}

/* Solve and check what holds for every plan. */
static struct plan *solve(const struct scenario *sc)
{
    struct error_detail ed = {{0}};
    struct plan *p = NULL;
    char where[256];
    int rc = optimizer_solve(sc, &p, &ed);

    CHECK(rc == ERROR_OK);
    if (rc) {
        fprintf(stderr, "optimizer_solve: %s\n", ed.text);
        return NULL;
    }
    CHECK(p != NULL);
    CHECK(plan_max_violation(sc, p, where, sizeof(where)) <= TOL);
    CHECK_NEAR(plan_compute_costs(sc, p, NULL), p->objective_cny, TOL);
    return p;
}

static int has_warning(const struct plan *p, const char *a, const char *b)
{
    for (int i = 0; i < p->n_warnings; i++) {
        if (strstr(p->warnings[i], a) && (!b || strstr(p->warnings[i], b))) {
            return 1;
        }
    }
    return 0;
}

/* (1) Buy 1.0, 1.0, 0.3, 0.3; one car wants 20 kWh at up to 10 kW over all
 * four steps. The two cheap steps hold exactly 2 x 10 kWh, so the car
 * charges 0, 0, 10, 10 and the bill is 20 x 0.3 = 6 CNY. */
static void test_valley_charging(void)
{
    struct scenario *sc = make_scenario(4);
    struct plan *p;

    sc->buy_cny_per_kwh[2] = 0.3;
    sc->buy_cny_per_kwh[3] = 0.3;
    add_session(sc, "ev1", 22, 0, 4, 20, 10);
    p = solve(sc);
    if (p) {
        CHECK_NEAR(p->sessions[0].power_kw[0], 0, TOL);
        CHECK_NEAR(p->sessions[0].power_kw[1], 0, TOL);
        CHECK_NEAR(p->sessions[0].power_kw[2], 10, TOL);
        CHECK_NEAR(p->sessions[0].power_kw[3], 10, TOL);
        CHECK_NEAR(p->step[2].grid_import_kw, 10, TOL);
        CHECK_NEAR(p->sessions[0].delivered_kwh, 20, TOL);
        CHECK_NEAR(p->sessions[0].unmet_kwh, 0, TOL);
        CHECK_NEAR(p->objective_cny, 6.0, TOL);
        CHECK(p->n_warnings == 0);
    }
    plan_free(p);
    scenario_free(sc);
}

/* (2) One step: 100 kW of PV, 20 kW load, export capped at 30 kW (sold at
 * 0.4), a car taking 10 kWh, and a battery that wants energy (final target
 * 100 kWh, 50 stored, 2 CNY/kWh short) charging at most 15 kW with 0.9
 * efficiency. Storing is worth 0.9 x 2 = 1.8 > 0.4 per kWh, so the battery
 * charges its full 15 kW; PV used = 20 + 10 + 15 + 30 = 75 and the
 * curtailed rest is 100 - 20 - 30 - 10 - 15 = 25 kW. Energy stored
 * 50 + 0.9 x 15 = 63.5 kWh, final short 36.5, objective -0.4 x 30 +
 * 2 x 36.5 = 61 CNY. */
static void test_pv_curtailment(void)
{
    struct scenario *sc = make_scenario(1);
    struct plan *p;

    sc->pv_available_kw[0] = 100;
    sc->base_load_kw[0] = 20;
    sc->export_limit_kw[0] = 30;
    sc->sell_cny_per_kwh[0] = 0.4;
    add_session(sc, "ev1", 22, 0, 1, 10, 10);
    add_battery(sc, 100, 0.5, 15);
    sc->ess.charge_efficiency = 0.9;
    sc->ess.discharge_efficiency = 0.9;
    sc->ess.throughput_cost_cny_per_kwh = 0.0;
    sc->ess.soc_final_target = 1.0;
    p = solve(sc);
    if (p) {
        CHECK_NEAR(p->step[0].pv_curtailed_kw, 100 - 20 - 30 - 10 - 15, TOL);
        CHECK_NEAR(p->step[0].pv_kw, 75, TOL);
        CHECK_NEAR(p->step[0].grid_export_kw, 30, TOL);
        CHECK_NEAR(p->step[0].grid_import_kw, 0, TOL);
        CHECK_NEAR(p->step[0].ess_charge_kw, 15, TOL);
        CHECK_NEAR(p->step[0].ess_energy_kwh, 63.5, TOL);
        CHECK_NEAR(p->soc_final_short_kwh, 36.5, TOL);
        CHECK_NEAR(p->objective_cny, 61.0, TOL);
        CHECK(has_warning(p, "final target", NULL));
    }
    plan_free(p);
    scenario_free(sc);
}

/* (3) One step, 50 kW load, DR cap 30 kW. The battery's energy is worth
 * 2 CNY/kWh (final target = initial 50 kWh), so it only discharges to
 * avoid the DR penalty (10 + 1 CNY/kWh > 2/0.95 + 0.01): exactly 20 kW.
 * Import 30, no dr_over, energy 50 - 20/0.95 = 28.947368 kWh, final short
 * 21.052632, objective 30 + 0.01 x 20 + 2 x 21.052632 = 72.305263. */
static void test_dr_cap_discharge(void)
{
    struct scenario *sc = make_scenario(1);
    struct plan *p;

    sc->base_load_kw[0] = 50;
    add_event(sc, "peak-1", SCENARIO_DR_IMPORT_CAP, 0, 1, 30);
    add_battery(sc, 100, 0.5, 40);
    sc->ess.soc_min = 0.1;
    sc->ess.soc_max = 0.9;
    sc->ess.soc_final_target = 0.5;
    sc->ess.charge_efficiency = 0.95;
    sc->ess.discharge_efficiency = 0.95;
    p = solve(sc);
    if (p) {
        CHECK_NEAR(p->step[0].ess_discharge_kw, 50 - 30, TOL);
        CHECK_NEAR(p->step[0].ess_charge_kw, 0, TOL);
        CHECK_NEAR(p->step[0].grid_import_kw, 30, TOL);
        CHECK_NEAR(p->step[0].dr_over_kw, 0, TOL);
        CHECK_NEAR(p->step[0].ess_energy_kwh, 50 - 20 / 0.95, TOL);
        CHECK_NEAR(p->objective_cny, 30 + 0.2 + 2 * (20 / 0.95), TOL);
        CHECK(!has_warning(p, "DR event", NULL));
    }
    plan_free(p);
    scenario_free(sc);
}

/* (4) A car present for steps 1..2 at 7 kW can take 7 x 1 h x 2 = 14 kWh
 * of its 20: 6 kWh unmet, named in a warning; no power outside the window. */
static void test_unmet_energy(void)
{
    struct scenario *sc = make_scenario(4);
    struct plan *p;

    add_session(sc, "car-42", 22, 1, 3, 20, 7);
    p = solve(sc);
    if (p) {
        CHECK_NEAR(p->sessions[0].unmet_kwh, 20 - 7 * 1.0 * 2, TOL);
        CHECK_NEAR(p->sessions[0].delivered_kwh, 14, TOL);
        CHECK_NEAR(p->sessions[0].power_kw[0], 0, TOL);
        CHECK_NEAR(p->sessions[0].power_kw[1], 7, TOL);
        CHECK_NEAR(p->sessions[0].power_kw[2], 7, TOL);
        CHECK_NEAR(p->sessions[0].power_kw[3], 0, TOL);
        CHECK(has_warning(p, "\"car-42\"", "6 kWh unmet"));
    }
    plan_free(p);
    scenario_free(sc);
}

/* (5) Load 20 then 30 kW, buy 1.0 then 0.5, a car wanting 20 kWh at up to
 * 20 kW. Without a demand charge it all goes into the cheap step: import
 * 20, 50, peak 50. With 2 CNY/kW the cost of moving a kWh (0.5) is below
 * what it saves on the peak (2) until both steps are level:
 * 20 + a = 50 - a, a = 15, peak 35; objective 35 + 17.5 + 70 = 122.5. */
static void test_demand_charge(void)
{
    struct scenario *sc = make_scenario(2);
    struct plan *p;

    sc->base_load_kw[0] = 20;
    sc->base_load_kw[1] = 30;
    sc->buy_cny_per_kwh[1] = 0.5;
    add_session(sc, "ev1", 22, 0, 2, 20, 20);
    p = solve(sc);
    if (p) {
        CHECK_NEAR(p->peak_import_kw, 50, TOL);
        CHECK_NEAR(p->objective_cny, 20 + 25, TOL);
    }
    plan_free(p);

    sc->demand_charge_cny_per_kw = 2.0;
    p = solve(sc);
    if (p) {
        CHECK_NEAR(p->peak_import_kw, 35, TOL);
        CHECK_NEAR(p->sessions[0].power_kw[0], 15, TOL);
        CHECK_NEAR(p->step[1].grid_import_kw, 35, TOL);
        CHECK_NEAR(p->costs.demand_charge_cny, 70, TOL);
        CHECK_NEAR(p->objective_cny, 122.5, TOL);
    }
    plan_free(p);
    scenario_free(sc);
}

/* (6a) 20 kW load for two steps, 100 kWh battery at 50 kWh, reserve 40 kWh.
 * Without a reserve it would discharge 40 kWh (saves 0.99 CNY/kWh). Below
 * the reserve each kWh costs 5 CNY per hour it stays short, more than it
 * saves, so only 10 kWh are used: energy never below 40, no shortfall,
 * objective 30 x 1 + 10 x 0.01 = 30.1.
 * (6b) Same battery starting at 30 kWh, charging at most 5 kW: charging
 * (1.01) beats being short (5 per kWh-hour), so it charges 5 + 5: energy
 * 35 then 40, short 5 kWh at step 0 only; objective 2 x 25 + 0.1 +
 * 1 h x 5 x 5 = 75.1, and a warning names steps 0..0. */
static void test_reserve(void)
{
    struct scenario *sc = make_scenario(2);
    struct plan *p;

    sc->base_load_kw[0] = 20;
    sc->base_load_kw[1] = 20;
    add_battery(sc, 100, 0.5, 50);
    p = solve(sc);
    if (p) {
        CHECK_NEAR(p->step[1].ess_energy_kwh, 10, TOL);
    }
    plan_free(p);

    sc->ess.reserve_soc = 0.4;
    p = solve(sc);
    if (p) {
        CHECK(p->step[0].ess_energy_kwh >= 40 - TOL);
        CHECK_NEAR(p->step[1].ess_energy_kwh, 40, TOL);
        CHECK_NEAR(p->step[0].ess_discharge_kw + p->step[1].ess_discharge_kw, 10, TOL);
        CHECK_NEAR(p->step[0].reserve_short_kwh + p->step[1].reserve_short_kwh, 0, TOL);
        CHECK_NEAR(p->objective_cny, 30.1, TOL);
        CHECK(!has_warning(p, "reserve", NULL));
    }
    plan_free(p);

    sc->ess.soc_initial = 0.3;
    sc->ess.charge_max_kw = 5;
    p = solve(sc);
    if (p) {
        CHECK_NEAR(p->step[0].ess_charge_kw, 5, TOL);
        CHECK_NEAR(p->step[1].ess_charge_kw, 5, TOL);
        CHECK_NEAR(p->step[0].reserve_short_kwh, 5, TOL);
        CHECK_NEAR(p->step[1].reserve_short_kwh, 0, TOL);
        CHECK_NEAR(p->objective_cny, 75.1, TOL);
        CHECK(has_warning(p, "reserve", "steps 0..0"));
    }
    plan_free(p);
    scenario_free(sc);
}

/* (7) Load 50, 120, 50 kW under a 100 kW limit and nothing to shift:
 * 20 kW over at step 1 only; objective 220 + 20 x 20 = 620. */
static void test_grid_limit(void)
{
    struct scenario *sc = make_scenario(3);
    struct plan *p;

    sc->base_load_kw[0] = 50;
    sc->base_load_kw[1] = 120;
    sc->base_load_kw[2] = 50;
    for (int t = 0; t < 3; t++) {
        sc->import_limit_kw[t] = 100;
    }
    p = solve(sc);
    if (p) {
        CHECK_NEAR(p->step[0].grid_over_kw, 0, TOL);
        CHECK_NEAR(p->step[1].grid_over_kw, 120 - 100, TOL);
        CHECK_NEAR(p->step[2].grid_over_kw, 0, TOL);
        CHECK_NEAR(p->objective_cny, 620, TOL);
        CHECK(has_warning(p, "grid import limit exceeded at steps 1..1", "20 kW (20 kWh)"));
    }
    plan_free(p);
    scenario_free(sc);
}

/* (8a) Load 10 kW, buy 1.0 then 0.3, DR cap 20 kW at step 1, a car wanting
 * 15 kWh over both steps. The car takes 10 at step 1 (up to the cap) and 5
 * at step 0. One more kWh of load at step 0 is bought at 1.0; at step 1 it
 * pushes one kWh of charging to step 0, so it also costs 1.0, not 0.3.
 * (8b) Load 10 then 30 kW, cap 20 at step 1, nothing flexible: the extra
 * kWh at step 1 is bought at 0.3 and pays the DR penalty, 10.3. */
static void test_marginal_price(void)
{
    struct scenario *sc = make_scenario(2);
    struct plan *p;

    sc->base_load_kw[0] = 10;
    sc->base_load_kw[1] = 10;
    sc->buy_cny_per_kwh[1] = 0.3;
    add_event(sc, "cap-1", SCENARIO_DR_IMPORT_CAP, 1, 2, 20);
    add_session(sc, "ev1", 22, 0, 2, 15, 20);
    p = solve(sc);
    if (p) {
        CHECK_NEAR(p->sessions[0].power_kw[1], 10, TOL);
        CHECK_NEAR(p->step[0].marginal_price_cny_per_kwh, 1.0, TOL);
        CHECK_NEAR(p->step[1].marginal_price_cny_per_kwh, 1.0, TOL);
    }
    plan_free(p);

    scenario_set_sessions(sc, 0);
    sc->base_load_kw[1] = 30;
    p = solve(sc);
    if (p) {
        CHECK_NEAR(p->step[1].dr_over_kw, 10, TOL);
        CHECK_NEAR(p->step[0].marginal_price_cny_per_kwh, 1.0, TOL);
        CHECK_NEAR(p->step[1].marginal_price_cny_per_kwh, 0.3 + SCENARIO_PENALTY_DR, TOL);
        CHECK(has_warning(p, "DR event cap \"cap-1\"", "steps 1..1"));
    }
    plan_free(p);
    scenario_free(sc);
}

/* The same step length must not change the price per kWh: 15-minute steps,
 * one unconstrained step, marginal price = buy price. */
static void test_marginal_price_quarter_hour(void)
{
    struct scenario *sc = make_scenario(2);
    struct plan *p;

    sc->step_minutes = 15;
    sc->base_load_kw[0] = 10;
    sc->buy_cny_per_kwh[0] = 0.8;
    p = solve(sc);
    if (p) {
        CHECK_NEAR(p->step[0].marginal_price_cny_per_kwh, 0.8, TOL);
        CHECK_NEAR(p->objective_cny, 0.25 * 10 * 0.8, TOL);
    }
    plan_free(p);
    scenario_free(sc);
}

/* (9) No battery, no export, load 10 kW, PV 5 kW at step 0, buy 0.5 then
 * 1.0, a car wanting 10 kWh at up to 8 kW over both steps. The plan charges
 * 8 then 2 (net 13, 12). Keeping the car fully served, its power at each
 * step ranges over [10 - 8, 8] = [2, 8], and PV at step 0 over [0, 5]:
 * step 0 net in [10 + 2 - 5, 10 + 8] = [7, 18], step 1 in [12, 18]. */
static void test_flexibility(void)
{
    struct scenario *sc = make_scenario(2);
    struct plan *p;

    sc->base_load_kw[0] = 10;
    sc->base_load_kw[1] = 10;
    sc->pv_available_kw[0] = 5;
    sc->buy_cny_per_kwh[0] = 0.5;
    add_session(sc, "ev1", 22, 0, 2, 10, 8);
    sc->flexibility_steps = 2;
    p = solve(sc);
    if (p) {
        CHECK(p->flexibility_steps == 2);
        CHECK_NEAR(p->step[0].grid_import_kw, 13, TOL);
        CHECK_NEAR(p->step[1].grid_import_kw, 12, TOL);
        CHECK_NEAR(p->flex[0].net_min_kw, 7, TOL);
        CHECK_NEAR(p->flex[0].net_max_kw, 18, TOL);
        CHECK_NEAR(p->flex[1].net_min_kw, 12, TOL);
        CHECK_NEAR(p->flex[1].net_max_kw, 18, TOL);
        /* the plan itself is untouched by the re-solves */
        CHECK_NEAR(p->objective_cny, 13 * 0.5 + 12 * 1.0, TOL);
    }
    plan_free(p);
    scenario_free(sc);
}

/* (10) No battery: load 10 kW, PV 0 then 30 kW, export up to 50 kW sold at
 * 0.2, a car wanting 5 kWh over both steps. Charging from PV at step 1
 * gives up 0.2 of export per kWh instead of buying at 1.0, so the car
 * charges 0, 5; export 30 - 10 - 5 = 15; objective 10 - 15 x 0.2 = 7. */
static void test_no_battery(void)
{
    struct scenario *sc = make_scenario(2);
    struct plan *p;

    sc->base_load_kw[0] = 10;
    sc->base_load_kw[1] = 10;
    sc->pv_available_kw[1] = 30;
    for (int t = 0; t < 2; t++) {
        sc->export_limit_kw[t] = 50;
        sc->sell_cny_per_kwh[t] = 0.2;
    }
    add_session(sc, "ev1", 22, 0, 2, 5, 10);
    p = solve(sc);
    if (p) {
        for (int t = 0; t < 2; t++) {
            CHECK(p->step[t].ess_charge_kw == 0 && p->step[t].ess_discharge_kw == 0);
            CHECK(p->step[t].ess_energy_kwh == 0);
        }
        CHECK_NEAR(p->sessions[0].power_kw[1], 5, TOL);
        CHECK_NEAR(p->step[1].grid_export_kw, 15, TOL);
        CHECK_NEAR(p->step[1].pv_curtailed_kw, 0, TOL);
        CHECK_NEAR(p->objective_cny, 7, TOL);
        CHECK(p->n_warnings == 0);
    }
    plan_free(p);
    scenario_free(sc);
}

/* (12) Two cars on two connectors of one 30 kW cabinet, each accepting
 * 22 kW and wanting 20 kWh in a single hour: together they get the
 * cabinet's 30 kWh, 10 kWh stay unmet (the split between them is free). */
static void test_shared_cabinet(void)
{
    struct scenario *sc = make_scenario(1);
    struct plan *p;

    add_session(sc, "a", 22, 0, 1, 20, 22);
    add_session(sc, "b", 22, 0, 1, 20, 22);
    scenario_set_groups(sc, 1);
    snprintf(sc->groups[0].id, sizeof(sc->groups[0].id), "cabinet-1");
    sc->groups[0].max_kw = 30;
    sc->connectors[0].group = 0;
    sc->connectors[1].group = 0;
    p = solve(sc);
    if (p) {
        CHECK_NEAR(p->step[0].ev_kw, 30, TOL);
        CHECK_NEAR(p->sessions[0].unmet_kwh + p->sessions[1].unmet_kwh, 10, TOL);
        CHECK(p->sessions[0].power_kw[0] <= 22 + TOL && p->sessions[1].power_kw[0] <= 22 + TOL);
        CHECK_NEAR(p->objective_cny, 30 * 1.0 + 10 * SCENARIO_PENALTY_UNMET, TOL);
    }
    plan_free(p);
    scenario_free(sc);
}

/* (13) Case (5) with a peak of 45 kW already reached this month: the
 * charge is on max(45, peak), so levelling below 45 saves nothing. The car
 * moves only what keeps step 1 at 45: a = 5, import 25 and 45; objective
 * 25 + 45 x 0.5 + 2 x 45 = 137.5. */
static void test_demand_peak_floor(void)
{
    struct scenario *sc = make_scenario(2);
    struct plan *p;

    sc->base_load_kw[0] = 20;
    sc->base_load_kw[1] = 30;
    sc->buy_cny_per_kwh[1] = 0.5;
    add_session(sc, "ev1", 22, 0, 2, 20, 20);
    sc->demand_charge_cny_per_kw = 2.0;
    sc->demand_peak_floor_kw = 45;
    p = solve(sc);
    if (p) {
        CHECK_NEAR(p->step[0].grid_import_kw, 25, TOL);
        CHECK_NEAR(p->step[1].grid_import_kw, 45, TOL);
        CHECK_NEAR(p->peak_import_kw, 45, TOL);
        CHECK_NEAR(p->costs.demand_charge_cny, 90, TOL);
        CHECK_NEAR(p->objective_cny, 137.5, TOL);
    }
    plan_free(p);
    scenario_free(sc);
}

/* (11) A scenario that breaks a rule is refused before GLPK sees it. */
static void test_invalid(void)
{
    struct scenario *sc = make_scenario(2);
    struct error_detail ed = {{0}};
    struct plan *p = (struct plan *)&ed; /* must be overwritten with NULL */

    sc->step_minutes = 0;
    CHECK(optimizer_solve(sc, &p, &ed) == ERROR_INVALID);
    CHECK(p == NULL);
    CHECK_STR_CONTAINS(ed.text, "step_minutes");
    scenario_free(sc);
}

/* plan_max_violation must catch a broken plan, and name the broken row. */
static void test_violation_detected(void)
{
    struct scenario *sc = make_scenario(4);
    struct plan *p;
    char where[256];

    sc->buy_cny_per_kwh[2] = 0.3;
    add_session(sc, "ev1", 22, 0, 4, 20, 10);
    p = solve(sc);
    if (p) {
        p->step[0].grid_import_kw += 1.5;
        CHECK_NEAR(plan_max_violation(sc, p, where, sizeof(where)), 1.5, TOL);
        CHECK_STR_CONTAINS(where, "balance");
        p->step[0].grid_import_kw -= 1.5;
        p->sessions[0].power_kw[3] += 2;
        p->step[3].ev_kw += 2;
        p->step[3].grid_import_kw += 2;
        CHECK_NEAR(plan_max_violation(sc, p, where, sizeof(where)), 2, TOL);
        CHECK_STR_CONTAINS(where, "ev1");
    }
    plan_free(p);
    plan_free(NULL);
    scenario_free(sc);
}

int main(void)
{
    test_valley_charging();
    test_pv_curtailment();
    test_dr_cap_discharge();
    test_unmet_energy();
    test_demand_charge();
    test_reserve();
    test_grid_limit();
    test_marginal_price();
    test_marginal_price_quarter_hour();
    test_flexibility();
    test_no_battery();
    test_shared_cabinet();
    test_demand_peak_floor();
    test_invalid();
    test_violation_detected();
    return CHECK_DONE();
}
