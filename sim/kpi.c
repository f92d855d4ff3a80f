/* SPDX-License-Identifier: MIT */
/*
 * kpi.c - KPIs of a simulated run, per window, day and month. Reads the
 * trace only; results go into caller-owned structs. Any thread.
 *
 * Rows are assumed to be in time order (the run loop appends them step by
 * step); nothing else about the trace is assumed: windows may be empty,
 * the battery and the chargers may be absent (capacity 0).
 */
#include "kpi.h"

#include "../common/alloc.h"
#include "../common/clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A step counts as violating a limit only above this, so that solver
 * round-off (1e-9 kW) is not reported as a violation. */
#define KPI_VIOLATION_EPS_KW 1e-6

/* One local calendar month of the run with its peak import. */
struct kpi_month {
    int64_t start_ms;
    int64_t end_ms;
    double peak_import_kw;
};

/* What every window of one trace shares: computed once per kpi_days(). */
struct kpi_ctx {
    struct kpi_month *months;
    int n_months;
    double conn_kw;
};

static int64_t kpi_step_ms(const struct trace *t)
{
    return (int64_t)t->step_minutes * 60000;
}

static int64_t kpi_local_midnight(int64_t ts_ms)
{
    struct clock_civil c;

    clock_to_local(ts_ms, &c);
    return clock_from_local(c.year, c.month, c.day, 0, 0, 0);
}

static int64_t kpi_month_start(int64_t ts_ms)
{
    struct clock_civil c;

    clock_to_local(ts_ms, &c);
    return clock_from_local(c.year, c.month, 1, 0, 0, 0);
}

static int64_t kpi_next_month(int64_t month_start_ms)
{
    struct clock_civil c;

    clock_to_local(month_start_ms, &c);
    if (c.month == 12) {
        return clock_from_local(c.year + 1, 1, 1, 0, 0, 0);
    }
    return clock_from_local(c.year, c.month + 1, 1, 0, 0, 0);
}

static int64_t kpi_run_end_ms(const struct trace *t)
{
    return t->rows[t->n_rows - 1].ts_ms + kpi_step_ms(t);
}

/* The months spanned by the rows, each with its peak import over the whole
 * trace. Returns the count; *out is freed by the caller. */
static int kpi_month_table(const struct trace *t, struct kpi_month **out)
{
    struct kpi_month *m = NULL;
    int n = 0;
    int64_t start;
    int64_t end;

    *out = NULL;
    if (t->n_rows <= 0) {
        return 0;
    }
    start = kpi_month_start(t->rows[0].ts_ms);
    end = t->rows[t->n_rows - 1].ts_ms;
    while (start <= end) {
        m = alloc_resize(m, (size_t)n + 1, sizeof(*m));
        m[n].start_ms = start;
        m[n].end_ms = kpi_next_month(start);
        m[n].peak_import_kw = 0.0;
        start = m[n].end_ms;
        n++;
    }
    for (int i = 0, j = 0; i < t->n_rows; i++) {
        while (j < n - 1 && t->rows[i].ts_ms >= m[j].end_ms) {
            j++;
        }
        if (t->rows[i].grid_import_kw > m[j].peak_import_kw) {
            m[j].peak_import_kw = t->rows[i].grid_import_kw;
        }
    }
    *out = m;
    return n;
}

double kpi_connection_limit_kw(const struct trace *t)
{
    double free_max = -1.0;
    double all_max = 0.0;

    for (int i = 0; i < t->n_rows; i++) {
        const struct trace_row *r = &t->rows[i];

        if (r->import_limit_kw > all_max) {
            all_max = r->import_limit_kw;
        }
        if (!(r->dr_active & KPI_DR_CAP) && r->import_limit_kw > free_max) {
            free_max = r->import_limit_kw;
        }
    }
    return free_max >= 0.0 ? free_max : all_max;
}

static int kpi_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

void kpi_percentiles(const double *values, int n, const double *pcts, int n_pcts, double *out)
{
    double *sorted;

    if (n <= 0) {
        for (int i = 0; i < n_pcts; i++) {
            out[i] = 0.0;
        }
        return;
    }
    sorted = alloc_array((size_t)n, sizeof(*sorted));
    memcpy(sorted, values, (size_t)n * sizeof(*sorted));
    qsort(sorted, (size_t)n, sizeof(*sorted), kpi_cmp_double);
    for (int i = 0; i < n_pcts; i++) {
        /* nearest rank: ceil(p/100 · n), at least 1 */
        double rank = ceil(pcts[i] / 100.0 * (double)n - 1e-9);
        int k = rank < 1.0 ? 1 : (rank > (double)n ? n : (int)rank);

        out[i] = sorted[k - 1];
    }
    free(sorted);
}

/* Flows, cost, PV, battery, limits and charger occupancy of one row. */
static void kpi_add_row(const struct trace *t,
                        const struct trace_row *r,
                        double dt_h,
                        double conn_kw,
                        struct kpi *k)
{
    double pv_self = r->pv_kw - r->grid_export_kw;
    double over = r->grid_import_kw - r->import_limit_kw;
    double over_conn = r->grid_import_kw - conn_kw;

    k->grid_import_kwh += r->grid_import_kw * dt_h;
    k->grid_export_kwh += r->grid_export_kw * dt_h;
    k->import_cost_cny += r->buy_cny_per_kwh * r->grid_import_kw * dt_h;
    k->export_revenue_cny += r->sell_cny_per_kwh * r->grid_export_kw * dt_h;
    if (k->n_steps == 0 || r->grid_import_kw > k->peak_import_kw) {
        k->peak_import_kw = r->grid_import_kw;
        k->peak_import_ms = r->ts_ms;
    }
    k->pv_available_kwh += r->pv_available_kw * dt_h;
    k->pv_generated_kwh += r->pv_kw * dt_h;
    k->pv_curtailed_kwh += fmax(0.0, r->pv_available_kw - r->pv_kw) * dt_h;
    k->pv_self_consumed_kwh += fmax(0.0, pv_self) * dt_h;
    k->base_load_kwh += r->base_load_kw * dt_h;
    k->ess_charge_kwh += r->ess_charge_kw * dt_h;
    k->ess_discharge_kwh += r->ess_discharge_kw * dt_h;
    k->ev_energy_kwh += r->ev_kw * dt_h;
    if (t->n_connectors > 0) {
        k->charger_time_utilisation += (double)r->connectors_busy / t->n_connectors;
    }
    if (over > KPI_VIOLATION_EPS_KW) {
        k->grid_limit_violation_kwh += over * dt_h;
        k->grid_limit_violation_steps++;
    }
    if (over_conn > KPI_VIOLATION_EPS_KW) {
        k->connection_violation_kwh += over_conn * dt_h;
    }
    if ((r->dr_active & KPI_DR_FLOOR) && r->dr_floor_kw - r->grid_import_kw > 0.0) {
        k->dr_floor_shortfall_kwh += (r->dr_floor_kw - r->grid_import_kw) * dt_h;
    }
    k->solve_ms_total += r->solve_ms;
    if (r->solve_ms > 0.0) {
        k->solve_steps++;
    }
    k->n_steps++;
}

/* Index of the first row starting at or after ts_ms (rows are in time
 * order), n_rows if none. */
static int kpi_first_row(const struct trace *t, int64_t ts_ms)
{
    int lo = 0;
    int hi = t->n_rows;

    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;

        if (t->rows[mid].ts_ms < ts_ms) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Rows of [from, to): flows, demand charge share, solver percentiles. */
static void kpi_rows(const struct trace *t, const struct kpi_ctx *ctx, struct kpi *k)
{
    static const double pcts[4] = {50.0, 95.0, 99.0, 100.0};
    double dt_h = t->step_minutes / 60.0;
    const struct kpi_month *m = ctx->months;
    double *solve = alloc_array((size_t)t->n_rows, sizeof(*solve));
    double out[4];
    int n_solve = 0;
    int j = 0;

    k->connection_limit_kw = ctx->conn_kw;
    for (int i = kpi_first_row(t, k->from_ms); i < t->n_rows; i++) {
        const struct trace_row *r = &t->rows[i];

        if (r->ts_ms >= k->to_ms) {
            break;
        }
        kpi_add_row(t, r, dt_h, ctx->conn_kw, k);
        solve[n_solve++] = r->solve_ms;
        while (j < ctx->n_months - 1 && r->ts_ms >= m[j].end_ms) {
            j++;
        }
        if (ctx->n_months > 0) {
            double month_ms = (double)(m[j].end_ms - m[j].start_ms);

            k->demand_charge_cny += t->demand_charge_cny_per_kw_month * m[j].peak_import_kw *
                                    (double)kpi_step_ms(t) / month_ms;
        }
    }
    kpi_percentiles(solve, n_solve, pcts, 4, out);
    k->solve_ms_p50 = out[0];
    k->solve_ms_p95 = out[1];
    k->solve_ms_p99 = out[2];
    k->solve_ms_max = out[3];
    free(solve);
}

/* Sessions arriving in [from, to). */
static void kpi_sessions(const struct trace *t, struct kpi *k)
{
    double wait_min = 0.0;

    for (int i = 0; i < t->n_sessions; i++) {
        const struct trace_session *s = &t->sessions[i];

        if (s->arrival_ms < k->from_ms || s->arrival_ms >= k->to_ms) {
            continue;
        }
        k->ev_arrivals++;
        k->ev_revenue_energy_cny += s->revenue_energy_cny;
        k->ev_revenue_service_cny += s->revenue_service_cny;
        if (s->lost) {
            k->ev_arrivals_lost++;
            continue;
        }
        k->ev_sessions_served++;
        k->ev_wanted_kwh += s->wanted_kwh;
        k->ev_delivered_kwh += s->delivered_kwh;
        k->ev_unmet_kwh += fmax(0.0, s->wanted_kwh - s->delivered_kwh);
        wait_min += (double)(s->plug_ms - s->arrival_ms) / 60000.0;
    }
    if (k->ev_sessions_served > 0) {
        k->ev_wait_mean_min = wait_min / k->ev_sessions_served;
    }
}

/* DR events starting in [from, to). */
static void kpi_dr(const struct trace *t, struct kpi *k)
{
    double sum = 0.0;

    k->dr_compliance_min = 1.0;
    for (int i = 0; i < t->n_dr; i++) {
        const struct trace_dr *d = &t->dr[i];

        if (d->start_ms < k->from_ms || d->start_ms >= k->to_ms) {
            continue;
        }
        k->dr_events++;
        sum += d->compliance;
        k->dr_shortfall_kwh += d->shortfall_kwh;
        if (d->compliance < k->dr_compliance_min) {
            k->dr_compliance_min = d->compliance;
        }
    }
    k->dr_compliance_mean = k->dr_events > 0 ? sum / k->dr_events : 1.0;
}

/* Ratios and sums derived from the accumulated figures. */
static void kpi_finish(const struct trace *t, struct kpi *k)
{
    k->hours = k->n_steps * (t->step_minutes / 60.0);
    k->energy_cost_cny = k->import_cost_cny - k->export_revenue_cny + k->demand_charge_cny;
    k->ev_revenue_cny = k->ev_revenue_energy_cny + k->ev_revenue_service_cny;
    k->margin_cny = k->ev_revenue_cny - k->energy_cost_cny;
    if (k->pv_generated_kwh > 0.0) {
        k->pv_self_consumption_ratio = k->pv_self_consumed_kwh / k->pv_generated_kwh;
    }
    k->ess_throughput_kwh = k->ess_charge_kwh + k->ess_discharge_kwh;
    if (t->ess_capacity_kwh > 0.0) {
        k->ess_equivalent_cycles = k->ess_discharge_kwh / t->ess_capacity_kwh;
    }
    if (k->n_steps > 0) {
        k->charger_time_utilisation /= k->n_steps;
    }
    if (t->connectors_max_kw_sum > 0.0 && k->hours > 0.0) {
        k->charger_energy_utilisation = k->ev_energy_kwh / (t->connectors_max_kw_sum * k->hours);
    }
}

static void kpi_ctx_init(const struct trace *t, struct kpi_ctx *ctx)
{
    ctx->n_months = kpi_month_table(t, &ctx->months);
    ctx->conn_kw = kpi_connection_limit_kw(t);
}

static void kpi_compute_with(const struct trace *t,
                             const struct kpi_ctx *ctx,
                             int64_t from_ms,
                             int64_t to_ms,
                             struct kpi *out)
{
    memset(out, 0, sizeof(*out));
    out->from_ms = from_ms;
    out->to_ms = to_ms;
    kpi_rows(t, ctx, out);
    kpi_sessions(t, out);
    kpi_dr(t, out);
    kpi_finish(t, out);
}

void kpi_compute(const struct trace *t, int64_t from_ms, int64_t to_ms, struct kpi *out)
{
    struct kpi_ctx ctx;

    kpi_ctx_init(t, &ctx);
    kpi_compute_with(t, &ctx, from_ms, to_ms, out);
    free(ctx.months);
}

void kpi_total(const struct trace *t, struct kpi *out)
{
    if (t->n_rows <= 0) {
        kpi_compute(t, 0, 0, out);
        return;
    }
    kpi_compute(t, t->rows[0].ts_ms, kpi_run_end_ms(t), out);
}

int kpi_days(const struct trace *t, struct kpi **days)
{
    struct kpi_ctx ctx;
    struct kpi *d = NULL;
    int n = 0;

    kpi_ctx_init(t, &ctx);
    if (t->n_rows > 0) {
        int64_t first = kpi_local_midnight(t->rows[0].ts_ms);
        int64_t last = t->rows[t->n_rows - 1].ts_ms;

        n = (int)((last - first) / CLOCK_DAY_MS) + 1;
        d = alloc_array((size_t)n, sizeof(*d));
        for (int i = 0; i < n; i++) {
            int64_t from = first + (int64_t)i * CLOCK_DAY_MS;

            kpi_compute_with(t, &ctx, from, from + CLOCK_DAY_MS, &d[i]);
        }
    }
    free(ctx.months);
    *days = d;
    return n;
}

int kpi_months(const struct trace *t, struct kpi **out)
{
    struct kpi_ctx ctx;
    struct kpi *k = NULL;

    kpi_ctx_init(t, &ctx);
    if (ctx.n_months > 0) {
        k = alloc_array((size_t)ctx.n_months, sizeof(*k));
        for (int i = 0; i < ctx.n_months; i++) {
            kpi_compute_with(t, &ctx, ctx.months[i].start_ms, ctx.months[i].end_ms, &k[i]);
        }
    }
    free(ctx.months);
    *out = k;
    return ctx.n_months;
}

#define KPI_D(key, label, unit, field, dec, scale, brief)                                    \
    {                                                                                        \
        key, label, unit, KPI_KIND_DOUBLE, offsetof(struct kpi, field), dec, scale, brief, 0 \
    }
#define KPI_W(key, label, field, brief)                                                  \
    {                                                                                    \
        key, label, "ms", KPI_KIND_DOUBLE, offsetof(struct kpi, field), 2, 1.0, brief, 1 \
    }
#define KPI_I(key, label, field, brief)                                             \
    {                                                                               \
        key, label, "", KPI_KIND_INT, offsetof(struct kpi, field), 0, 1.0, brief, 0 \
    }

/* Order = order of the terminal table, the HTML total table and summary.json. */
const struct kpi_field kpi_fields[] = {
    KPI_D("energy_cost_cny", "energy cost", "CNY", energy_cost_cny, 2, 1.0, 1),
    KPI_D("import_cost_cny", "import cost", "CNY", import_cost_cny, 2, 1.0, 0),
    KPI_D("export_revenue_cny", "export revenue", "CNY", export_revenue_cny, 2, 1.0, 0),
    KPI_D("demand_charge_cny", "demand charge", "CNY", demand_charge_cny, 2, 1.0, 1),
    KPI_D("ev_revenue_energy_cny", "EV revenue, energy", "CNY", ev_revenue_energy_cny, 2, 1.0, 0),
    KPI_D("ev_revenue_service_cny",
          "EV revenue, service",
          "CNY",
          ev_revenue_service_cny,
          2,
          1.0,
          0),
    KPI_D("ev_revenue_cny", "EV revenue", "CNY", ev_revenue_cny, 2, 1.0, 1),
    KPI_D("margin_cny", "margin", "CNY", margin_cny, 2, 1.0, 1),
    KPI_D("grid_import_kwh", "grid import", "kWh", grid_import_kwh, 1, 1.0, 1),
    KPI_D("grid_export_kwh", "grid export", "kWh", grid_export_kwh, 1, 1.0, 1),
    KPI_D("peak_import_kw", "peak import", "kW", peak_import_kw, 1, 1.0, 1),
    KPI_D("pv_available_kwh", "PV available", "kWh", pv_available_kwh, 1, 1.0, 0),
    KPI_D("pv_generated_kwh", "PV generated", "kWh", pv_generated_kwh, 1, 1.0, 1),
    KPI_D("pv_curtailed_kwh", "PV curtailed", "kWh", pv_curtailed_kwh, 1, 1.0, 1),
    KPI_D("pv_self_consumed_kwh", "PV self-consumed", "kWh", pv_self_consumed_kwh, 1, 1.0, 0),
    KPI_D("pv_self_consumption_ratio",
          "PV self-consumption",
          "%",
          pv_self_consumption_ratio,
          1,
          100.0,
          1),
    KPI_D("base_load_kwh", "base load", "kWh", base_load_kwh, 1, 1.0, 0),
    KPI_D("ess_charge_kwh", "battery charge", "kWh", ess_charge_kwh, 1, 1.0, 0),
    KPI_D("ess_discharge_kwh", "battery discharge", "kWh", ess_discharge_kwh, 1, 1.0, 0),
    KPI_D("ess_throughput_kwh", "battery throughput", "kWh", ess_throughput_kwh, 1, 1.0, 1),
    KPI_D("ess_equivalent_cycles", "battery full cycles", "", ess_equivalent_cycles, 2, 1.0, 1),
    KPI_I("ev_arrivals", "EV arrivals", ev_arrivals, 0),
    KPI_I("ev_sessions_served", "EV sessions served", ev_sessions_served, 1),
    KPI_I("ev_arrivals_lost", "EV arrivals lost", ev_arrivals_lost, 1),
    KPI_D("ev_energy_kwh", "EV energy (metered)", "kWh", ev_energy_kwh, 1, 1.0, 0),
    KPI_D("ev_wanted_kwh", "EV energy wanted", "kWh", ev_wanted_kwh, 1, 1.0, 0),
    KPI_D("ev_delivered_kwh", "EV energy delivered", "kWh", ev_delivered_kwh, 1, 1.0, 1),
    KPI_D("ev_unmet_kwh", "EV energy unmet", "kWh", ev_unmet_kwh, 1, 1.0, 1),
    KPI_D("ev_wait_mean_min", "EV mean wait", "min", ev_wait_mean_min, 1, 1.0, 1),
    KPI_D("charger_time_utilisation",
          "charger time use",
          "%",
          charger_time_utilisation,
          1,
          100.0,
          1),
    KPI_D("charger_energy_utilisation",
          "charger energy use",
          "%",
          charger_energy_utilisation,
          1,
          100.0,
          1),
    KPI_I("dr_event_count", "DR events", dr_events, 0),
    KPI_D("dr_compliance_mean", "DR compliance, mean", "%", dr_compliance_mean, 1, 100.0, 1),
    KPI_D("dr_compliance_min", "DR compliance, worst", "%", dr_compliance_min, 1, 100.0, 0),
    KPI_D("dr_shortfall_kwh", "DR shortfall", "kWh", dr_shortfall_kwh, 2, 1.0, 1),
    KPI_D("dr_floor_shortfall_kwh", "DR floor shortfall", "kWh", dr_floor_shortfall_kwh, 2, 1.0, 0),
    KPI_D("connection_limit_kw", "connection limit", "kW", connection_limit_kw, 1, 1.0, 0),
    KPI_D("grid_limit_violation_kwh",
          "import over limit",
          "kWh",
          grid_limit_violation_kwh,
          2,
          1.0,
          1),
    KPI_I("grid_limit_violation_steps", "steps over limit", grid_limit_violation_steps, 0),
    KPI_D("connection_violation_kwh",
          "import over connection",
          "kWh",
          connection_violation_kwh,
          2,
          1.0,
          0),
    KPI_W("solve_ms_p50", "solve time p50", solve_ms_p50, 0),
    KPI_W("solve_ms_p95", "solve time p95", solve_ms_p95, 1),
    KPI_W("solve_ms_p99", "solve time p99", solve_ms_p99, 0),
    KPI_W("solve_ms_max", "solve time max", solve_ms_max, 1),
    KPI_W("solve_ms_total", "solve time total", solve_ms_total, 0),
    KPI_I("solve_steps", "steps solved", solve_steps, 1),
    KPI_D("hours", "hours simulated", "h", hours, 2, 1.0, 0),
    KPI_I("n_steps", "steps", n_steps, 0),
};

const int kpi_n_fields = (int)(sizeof(kpi_fields) / sizeof(kpi_fields[0]));

double kpi_field_value(const struct kpi *k, const struct kpi_field *f)
{
    const char *base = (const char *)k + f->offset;
    double v = 0.0;

    if (f->kind == KPI_KIND_INT) {
        int iv;

        memcpy(&iv, base, sizeof(iv));
        v = (double)iv;
    } else {
        memcpy(&v, base, sizeof(v));
    }
    return v;
}
