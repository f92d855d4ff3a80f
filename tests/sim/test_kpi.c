/* SPDX-License-Identifier: MIT */
/*
 * test_kpi.c - KPIs of hand-built traces whose every figure is worked out
 * in the comments: two local days of 96 15-minute steps with constant
 * flows per day, a spike and a DR cap and floor on day 2, three sessions
 * (one waiting across midnight, one lost) and two DR events. Checks costs,
 * the demand charge rule, PV, battery, EV, utilisation, violations, the
 * split at local (not UTC) midnight, months, DR aggregation and solver
 * percentiles.
 */
#include "check.h"

#include "../../common/clock.h"
#include "../../sim/kpi.h"
#include "../../sim/trace.h"

#include <stdlib.h>
#include <string.h>

#define STEP_MS (15 * 60000LL)

static void tk_day1(struct trace_row *r)
{
    /* import = base + ev + charge + export - pv - discharge = 50+60-80-10 = 20 */
    r->pv_available_kw = 100.0;
    r->pv_kw = 80.0;
    r->base_load_kw = 50.0;
    r->ev_kw = 60.0;
    r->ess_discharge_kw = 10.0;
    r->grid_import_kw = 20.0;
    r->buy_cny_per_kwh = 0.5;
    r->sell_cny_per_kwh = 0.3;
    r->connectors_busy = 2;
}

static void tk_day2(struct trace_row *r)
{
    /* import = 30 + 20 + 20 - 60 = 10 */
    r->pv_available_kw = 60.0;
    r->pv_kw = 60.0;
    r->base_load_kw = 30.0;
    r->ess_charge_kw = 20.0;
    r->grid_export_kw = 20.0;
    r->grid_import_kw = 10.0;
    r->buy_cny_per_kwh = 1.0;
    r->sell_cny_per_kwh = 0.4;
}

static void tk_session(struct trace *t,
                       int64_t arrival,
                       int wait_min,
                       double wanted,
                       double delivered,
                       double rev_e,
                       double rev_s,
                       int lost)
{
    struct trace_session *s = trace_add_session(t);

    snprintf(s->id, sizeof(s->id), "s%d", t->n_sessions);
    s->arrival_ms = arrival;
    s->plug_ms = arrival + wait_min * 60000LL;
    s->wanted_kwh = wanted;
    s->delivered_kwh = delivered;
    s->revenue_energy_cny = rev_e;
    s->revenue_service_cny = rev_s;
    s->lost = lost;
}

static void tk_dr(struct trace *t, int type, int64_t start, double compliance, double shortfall)
{
    struct trace_dr *d = trace_add_dr(t);

    snprintf(d->id, sizeof(d->id), "dr%d", t->n_dr);
    d->type = type;
    d->start_ms = start;
    d->end_ms = start + 2 * 3600000LL;
    d->compliance = compliance;
    d->shortfall_kwh = shortfall;
}

/* 2026-07-15 00:00 local, 192 steps. */
static struct trace *tk_build(void)
{
    struct trace *t = trace_new("mpc", 15, 192);
    int64_t t0 = clock_from_local(2026, 7, 15, 0, 0, 0);

    t->n_connectors = 4;
    t->connectors_max_kw_sum = 200.0;
    t->ess_capacity_kwh = 100.0;
    t->demand_charge_cny_per_kw_month = 30.0;
    for (int i = 0; i < 192; i++) {
        struct trace_row *r = &t->rows[i];

        r->ts_ms = t0 + i * STEP_MS;
        r->step = i;
        if (i < 96) {
            tk_day1(r);
        } else {
            tk_day2(r);
        }
        r->import_limit_kw = 100.0;
        r->solve_ms = i + 1; /* 1..192 */
    }
    t->rows[100].grid_import_kw = 150.0; /* 50 kW over the connection limit */
    for (int i = 120; i < 128; i++) {    /* day 2, 06:00-08:00: cap 5 kW, import 10 */
        t->rows[i].import_limit_kw = 5.0;
        t->rows[i].dr_active = 1;
    }
    for (int i = 140; i < 144; i++) { /* day 2, 11:00-12:00: floor 15 kW, import 10 */
        t->rows[i].dr_floor_kw = 15.0;
        t->rows[i].dr_active = 2;
    }
    tk_session(t, clock_from_local(2026, 7, 15, 8, 0, 0), 10, 50.0, 40.0, 20.0, 8.0, 0);
    tk_session(t, clock_from_local(2026, 7, 15, 23, 50, 0), 30, 30.0, 35.0, 30.0, 7.0, 0);
    tk_session(t, clock_from_local(2026, 7, 16, 10, 0, 0), 0, 40.0, 0.0, 0.0, 0.0, 1);
    tk_dr(t, 0, clock_from_local(2026, 7, 16, 6, 0, 0), 0.5, 10.0);
    tk_dr(t, 1, clock_from_local(2026, 7, 16, 11, 0, 0), 0.8, 5.0);
    return t;
}

static void test_total(const struct trace *t)
{
    struct kpi k;
    double demand = 30.0 * 150.0 * 2.0 / 31.0; /* July peak 150 kW, 2 of 31 days */

    kpi_total(t, &k);
    CHECK(k.n_steps == 192);
    CHECK_NEAR(k.hours, 48.0, 1e-9);
    /* import: day 1 20 kW x 24 h = 480; day 2 (95 x 10 + 150) x 0.25 = 275 */
    CHECK_NEAR(k.grid_import_kwh, 755.0, 1e-9);
    CHECK_NEAR(k.grid_export_kwh, 480.0, 1e-9);
    CHECK_NEAR(k.import_cost_cny, 480.0 * 0.5 + 275.0 * 1.0, 1e-9);
    CHECK_NEAR(k.export_revenue_cny, 480.0 * 0.4, 1e-9);
    CHECK_NEAR(k.demand_charge_cny, demand, 1e-9);
    CHECK_NEAR(k.energy_cost_cny, 515.0 - 192.0 + demand, 1e-9);
    CHECK_NEAR(k.peak_import_kw, 150.0, 1e-12);
    CHECK(k.peak_import_ms == t->rows[100].ts_ms);
    CHECK_NEAR(k.ev_revenue_energy_cny, 50.0, 1e-12);
    CHECK_NEAR(k.ev_revenue_service_cny, 15.0, 1e-12);
    CHECK_NEAR(k.margin_cny, 65.0 - (323.0 + demand), 1e-9);
    CHECK_NEAR(k.pv_available_kwh, 3840.0, 1e-9);
    CHECK_NEAR(k.pv_generated_kwh, 3360.0, 1e-9);
    CHECK_NEAR(k.pv_curtailed_kwh, 480.0, 1e-9);
    CHECK_NEAR(k.pv_self_consumed_kwh, 1920.0 + 960.0, 1e-9);
    CHECK_NEAR(k.pv_self_consumption_ratio, 2880.0 / 3360.0, 1e-12);
    CHECK_NEAR(k.ess_charge_kwh, 480.0, 1e-9);
    CHECK_NEAR(k.ess_discharge_kwh, 240.0, 1e-9);
    CHECK_NEAR(k.ess_throughput_kwh, 720.0, 1e-9);
    CHECK_NEAR(k.ess_equivalent_cycles, 2.4, 1e-12);
    CHECK_NEAR(k.base_load_kwh, 50.0 * 24 + 30.0 * 24, 1e-9);
}

static void test_total_ev_dr(const struct trace *t)
{
    struct kpi k;

    kpi_total(t, &k);
    CHECK(k.ev_arrivals == 3);
    CHECK(k.ev_sessions_served == 2);
    CHECK(k.ev_arrivals_lost == 1);
    CHECK_NEAR(k.ev_wanted_kwh, 80.0, 1e-12);
    CHECK_NEAR(k.ev_delivered_kwh, 75.0, 1e-12);
    CHECK_NEAR(k.ev_unmet_kwh, 10.0, 1e-12); /* over-delivery does not offset */
    CHECK_NEAR(k.ev_wait_mean_min, 20.0, 1e-12);
    CHECK_NEAR(k.ev_energy_kwh, 1440.0, 1e-9);
    CHECK_NEAR(k.charger_time_utilisation, 0.25, 1e-12);
    CHECK_NEAR(k.charger_energy_utilisation, 1440.0 / (200.0 * 48.0), 1e-12);
    CHECK(k.dr_events == 2);
    CHECK_NEAR(k.dr_compliance_mean, 0.65, 1e-12);
    CHECK_NEAR(k.dr_compliance_min, 0.5, 1e-12);
    CHECK_NEAR(k.dr_shortfall_kwh, 15.0, 1e-12);
    CHECK_NEAR(k.connection_limit_kw, 100.0, 1e-12);
    /* spike 50 kW x 0.25 h + cap 5 kW x 8 x 0.25 h */
    CHECK_NEAR(k.grid_limit_violation_kwh, 12.5 + 10.0, 1e-9);
    CHECK(k.grid_limit_violation_steps == 9);
    CHECK_NEAR(k.connection_violation_kwh, 12.5, 1e-9);
    CHECK_NEAR(k.dr_floor_shortfall_kwh, 5.0, 1e-9);
    /* nearest rank over 1..192 */
    CHECK_NEAR(k.solve_ms_p50, 96.0, 0);
    CHECK_NEAR(k.solve_ms_p95, 183.0, 0);
    CHECK_NEAR(k.solve_ms_p99, 191.0, 0);
    CHECK_NEAR(k.solve_ms_max, 192.0, 0);
    CHECK_NEAR(k.solve_ms_total, 192.0 * 193.0 / 2.0, 1e-9);
    CHECK(k.solve_steps == 192);
}

static void test_days(const struct trace *t)
{
    struct kpi *d = NULL;
    struct kpi tot;
    double demand_day = 30.0 * 150.0 / 31.0;
    int n = kpi_days(t, &d);

    kpi_total(t, &tot);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(d[0].from_ms == clock_from_local(2026, 7, 15, 0, 0, 0));
        CHECK(d[1].from_ms == clock_from_local(2026, 7, 16, 0, 0, 0));
        CHECK(d[0].n_steps == 96 && d[1].n_steps == 96);
        CHECK_NEAR(d[0].demand_charge_cny, demand_day, 1e-9);
        CHECK_NEAR(d[0].energy_cost_cny, 240.0 + demand_day, 1e-9);
        CHECK_NEAR(d[1].energy_cost_cny, 275.0 - 192.0 + demand_day, 1e-9);
        CHECK_NEAR(d[0].energy_cost_cny + d[1].energy_cost_cny, tot.energy_cost_cny, 1e-9);
        CHECK_NEAR(d[0].peak_import_kw, 20.0, 0);
        CHECK_NEAR(d[1].peak_import_kw, 150.0, 0);
        /* the session arriving at 23:50 belongs to day 1 although it plugs in on day 2 */
        CHECK(d[0].ev_sessions_served == 2 && d[1].ev_sessions_served == 0);
        CHECK(d[1].ev_arrivals_lost == 1);
        CHECK_NEAR(d[0].ev_revenue_cny, 65.0, 1e-12);
        CHECK_NEAR(d[0].charger_time_utilisation, 0.5, 1e-12);
        CHECK_NEAR(d[0].charger_energy_utilisation, 0.3, 1e-12);
        CHECK(d[0].dr_events == 0 && d[1].dr_events == 2);
        CHECK_NEAR(d[0].dr_compliance_mean, 1.0, 0);
        CHECK_NEAR(d[0].ess_equivalent_cycles, 2.4, 1e-12);
        CHECK_NEAR(d[1].ess_equivalent_cycles, 0.0, 0);
        CHECK_NEAR(d[0].solve_ms_p50, 48.0, 0);
        CHECK_NEAR(d[0].solve_ms_p95, 92.0, 0);
        CHECK_NEAR(d[0].solve_ms_p99, 96.0, 0);
        CHECK_NEAR(d[1].solve_ms_max, 192.0, 0);
    }
    free(d);
}

/* 96 steps from 12:00 local: the split is at local midnight (48 + 48), not
 * at UTC midnight (08:00 local, which would give 80 + 16). */
static void test_local_midnight(void)
{
    struct trace *t = trace_new("rules", 15, 96);
    int64_t t0 = clock_from_local(2026, 7, 15, 12, 0, 0);
    struct kpi *d = NULL;
    char iso[32];
    int n;

    for (int i = 0; i < 96; i++) {
        t->rows[i].ts_ms = t0 + i * STEP_MS;
        t->rows[i].grid_import_kw = 4.0;
        t->rows[i].import_limit_kw = 10.0;
    }
    n = kpi_days(t, &d);
    CHECK(n == 2);
    if (n == 2) {
        clock_format_iso(d[0].from_ms, iso, sizeof(iso));
        CHECK(strcmp(iso, "2026-07-15T00:00:00+08:00") == 0);
        clock_format_iso(d[1].from_ms, iso, sizeof(iso));
        CHECK(strcmp(iso, "2026-07-16T00:00:00+08:00") == 0);
        CHECK(d[0].n_steps == 48 && d[1].n_steps == 48);
        CHECK_NEAR(d[0].grid_import_kwh, 48.0, 1e-9);
        /* a rule strategy never solves: every percentile is 0 */
        CHECK_NEAR(d[0].solve_ms_p99, 0.0, 0);
        CHECK(d[0].solve_steps == 0);
        /* no battery, no connector: ratios stay 0 instead of dividing by 0 */
        CHECK_NEAR(d[0].ess_equivalent_cycles, 0.0, 0);
        CHECK_NEAR(d[0].charger_time_utilisation, 0.0, 0);
        CHECK_NEAR(d[0].pv_self_consumption_ratio, 0.0, 0);
    }
    free(d);
    trace_free(t);
}

/* Jul 31 + Aug 1: each month is billed on its own peak, pro rata 1/31. */
static void test_months(void)
{
    struct trace *t = trace_new("mpc", 60, 48);
    int64_t t0 = clock_from_local(2026, 7, 31, 0, 0, 0);
    struct kpi *m = NULL;
    struct kpi *d = NULL;
    struct kpi tot;
    int n;

    t->demand_charge_cny_per_kw_month = 31.0;
    for (int i = 0; i < 48; i++) {
        t->rows[i].ts_ms = t0 + i * 3600000LL;
        t->rows[i].grid_import_kw = i < 24 ? 10.0 : 20.0;
        t->rows[i].import_limit_kw = 50.0;
        t->rows[i].dr_active = 1; /* a cap all along: limit inferred from all rows */
    }
    t->rows[5].grid_import_kw = 12.0; /* July peak 12 */
    kpi_total(t, &tot);
    CHECK_NEAR(tot.demand_charge_cny, 31.0 * 12.0 / 31.0 + 31.0 * 20.0 / 31.0, 1e-9);
    CHECK_NEAR(tot.connection_limit_kw, 50.0, 0);
    n = kpi_months(t, &m);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(m[1].from_ms == clock_from_local(2026, 8, 1, 0, 0, 0));
        CHECK_NEAR(m[0].demand_charge_cny, 12.0, 1e-9);
        CHECK_NEAR(m[1].demand_charge_cny, 20.0, 1e-9);
        CHECK(m[0].n_steps == 24 && m[1].n_steps == 24);
    }
    n = kpi_days(t, &d);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_NEAR(d[0].demand_charge_cny + d[1].demand_charge_cny, tot.demand_charge_cny, 1e-9);
    }
    free(d);
    free(m);
    trace_free(t);
}

static void test_percentiles(void)
{
    const double v[5] = {5.0, 1.0, 4.0, 2.0, 3.0};
    const double p[5] = {0.0, 20.0, 50.0, 99.0, 100.0};
    double out[5];

    kpi_percentiles(v, 5, p, 5, out);
    CHECK_NEAR(out[0], 1.0, 0);
    CHECK_NEAR(out[1], 1.0, 0);
    CHECK_NEAR(out[2], 3.0, 0);
    CHECK_NEAR(out[3], 5.0, 0);
    CHECK_NEAR(out[4], 5.0, 0);
    CHECK_NEAR(v[0], 5.0, 0); /* input untouched */
    kpi_percentiles(v, 0, p, 5, out);
    CHECK_NEAR(out[2], 0.0, 0);
}

static void test_fields(const struct trace *t)
{
    struct kpi k;
    int found = 0;

    kpi_total(t, &k);
    for (int i = 0; i < kpi_n_fields; i++) {
        if (strcmp(kpi_fields[i].key, "energy_cost_cny") == 0) {
            CHECK_NEAR(kpi_field_value(&k, &kpi_fields[i]), k.energy_cost_cny, 0);
            found++;
        }
        if (strcmp(kpi_fields[i].key, "ev_arrivals_lost") == 0) {
            CHECK_NEAR(kpi_field_value(&k, &kpi_fields[i]), 1.0, 0);
            found++;
        }
        for (int j = 0; j < i; j++) {
            CHECK(strcmp(kpi_fields[i].key, kpi_fields[j].key) != 0);
        }
    }
    CHECK(found == 2);
}

int main(void)
{
    struct trace *t = tk_build();

    test_total(t);
    test_total_ev_dr(t);
    test_days(t);
    test_local_midnight();
    test_months();
    test_percentiles();
    test_fields(t);
    trace_free(t);
    return CHECK_DONE();
}
