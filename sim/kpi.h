/* SPDX-License-Identifier: MIT */
/*
 * kpi.h - key performance indicators of one simulated run (struct trace),
 * over any time window: the whole run, each local day (Asia/Shanghai,
 * UTC+08:00, midnight to midnight) or each local calendar month. The exact
 * definitions are in docs/simulation.md, "KPIs and output files"; the
 * short version is in the comment of each field.
 *
 * Window attribution: a step belongs to the window containing its start
 * (row ts_ms), an EV session to the window containing its arrival, a DR
 * event to the window containing its start. Δt is trace->step_minutes.
 *
 * Pure functions of the trace; any thread.
 */
#ifndef FLEXD_SIM_KPI_H
#define FLEXD_SIM_KPI_H

#include "trace.h"

#include <stddef.h>
#include <stdint.h>

/* Bits of trace_row.dr_active. */
#define KPI_DR_CAP   1 /* an import cap is active (already in import_limit_kw) */
#define KPI_DR_FLOOR 2 /* an import floor is active (dr_floor_kw) */

struct kpi {
    int64_t from_ms; /* window [from_ms, to_ms) */
    int64_t to_ms;
    int n_steps;  /* rows whose start lies in the window */
    double hours; /* n_steps x step length */

    /* Grid and energy cost. */
    double grid_import_kwh;    /* Σ import·Δt */
    double grid_export_kwh;    /* Σ export·Δt */
    double import_cost_cny;    /* Σ buy·import·Δt */
    double export_revenue_cny; /* Σ sell·export·Δt */
    double demand_charge_cny;  /* accrued share of the monthly demand charge, see below */
    double energy_cost_cny;    /* import cost − export revenue + demand charge */
    double peak_import_kw;     /* highest step-mean import in the window */
    int64_t peak_import_ms;    /* start of the first step with that import (0 if none) */

    /* EV economics (sessions arriving in the window). */
    double ev_revenue_energy_cny;  /* Σ session revenue_energy_cny */
    double ev_revenue_service_cny; /* Σ session revenue_service_cny */
    double ev_revenue_cny;         /* energy + service */
    double margin_cny;             /* EV revenue − energy cost */

    /* PV. */
    double pv_available_kwh;          /* Σ pv_available·Δt */
    double pv_generated_kwh;          /* Σ pv·Δt (what the inverters delivered) */
    double pv_curtailed_kwh;          /* Σ max(0, available − pv)·Δt */
    double pv_self_consumed_kwh;      /* Σ max(0, pv − export)·Δt */
    double pv_self_consumption_ratio; /* self-consumed / generated, 0 without PV */

    /* Loads and battery. */
    double base_load_kwh;         /* Σ base_load·Δt */
    double ess_charge_kwh;        /* Σ ess_charge·Δt */
    double ess_discharge_kwh;     /* Σ ess_discharge·Δt */
    double ess_throughput_kwh;    /* charge + discharge */
    double ess_equivalent_cycles; /* discharge kWh / capacity kWh, 0 without a battery */

    /* EV service (sessions arriving in the window). */
    int ev_arrivals;                   /* every arrival, served or lost */
    int ev_sessions_served;            /* arrivals that got a connector */
    int ev_arrivals_lost;              /* arrivals that found none within the wait limit */
    double ev_energy_kwh;              /* Σ ev_kw·Δt from the rows (metered in the window) */
    double ev_wanted_kwh;              /* Σ wanted of served sessions */
    double ev_delivered_kwh;           /* Σ delivered of served sessions */
    double ev_unmet_kwh;               /* Σ max(0, wanted − delivered) of served sessions */
    double ev_wait_mean_min;           /* mean (plug − arrival) of served sessions */
    double charger_time_utilisation;   /* mean connectors_busy / n_connectors */
    double charger_energy_utilisation; /* ev_energy / (connectors_max_kw_sum × hours) */

    /* Demand response (events starting in the window) and limits. */
    int dr_events;
    double dr_compliance_mean;       /* mean of trace_dr.compliance, 1 when no event */
    double dr_compliance_min;        /* worst event, 1 when no event */
    double dr_shortfall_kwh;         /* Σ trace_dr.shortfall_kwh */
    double connection_limit_kw;      /* inferred, see kpi_connection_limit_kw() */
    double grid_limit_violation_kwh; /* Σ max(0, import − import_limit)·Δt (incl. DR caps) */
    int grid_limit_violation_steps;  /* steps with import > import_limit + 1e-6 kW */
    double connection_violation_kwh; /* Σ max(0, import − connection limit)·Δt */
    double dr_floor_shortfall_kwh;   /* Σ max(0, floor − import)·Δt while a floor is active */

    /* Controller effort: percentiles over every step's solve_ms in the window. */
    double solve_ms_p50;
    double solve_ms_p95;
    double solve_ms_p99;
    double solve_ms_max;
    double solve_ms_total;
    int solve_steps; /* steps with solve_ms > 0; 0 for a rule strategy */
};

/* KPIs of the steps, sessions and DR events of t in [from_ms, to_ms).
 *
 * Demand charge: each calendar month m of the run is billed
 * rate × P_m × (run days in m / days in m), with P_m the peak step-mean
 * import of the whole trace in month m; a full month is therefore billed
 * exactly rate × P_m and a 2-day run only its share. The charge accrues
 * evenly per step (rate × P_m × Δt / length of m), so per-day values add up
 * exactly to the total; a day's share depends on the month's peak, not on
 * its own. */
void kpi_compute(const struct trace *t, int64_t from_ms, int64_t to_ms, struct kpi *out);

/* KPIs of the whole trace (window from the first row's start to the last
 * row's end). */
void kpi_total(const struct trace *t, struct kpi *out);

/* KPIs per local day: *days gets one entry per local calendar day from the
 * day of the first row to the day of the last row (caller frees with
 * free()); each entry's from_ms is that day's local midnight. Returns the
 * count, 0 for a trace without rows (then *days is NULL). */
int kpi_days(const struct trace *t, struct kpi **days);

/* The same per local calendar month. */
int kpi_months(const struct trace *t, struct kpi **months);

/* The grid connection limit, inferred from the trace (it holds only
 * import_limit_kw = min(connection limit, DR cap)): the largest
 * import_limit_kw over steps without an active cap, or over all steps if a
 * cap was active throughout. 0 for a trace without rows. */
double kpi_connection_limit_kw(const struct trace *t);

/* Nearest-rank percentiles: out[i] = the smallest value v in values with at
 * least pcts[i] % of the values <= v (pcts in 0..100; 0 gives the minimum,
 * 100 the maximum). n == 0 gives 0 everywhere. values is not modified. */
void kpi_percentiles(const double *values, int n, const double *pcts, int n_pcts, double *out);

/* A table of every reported KPI, so the JSON summary, the terminal table
 * and the HTML tables print the same figures under the same names. */
enum kpi_kind {
    KPI_KIND_DOUBLE = 0,
    KPI_KIND_INT = 1,
};

struct kpi_field {
    const char *key;   /* JSON name, with the unit: "energy_cost_cny" */
    const char *label; /* human label: "energy cost" */
    const char *unit;  /* "CNY", "kWh", "%"... ("" for counts) */
    enum kpi_kind kind;
    size_t offset; /* into struct kpi */
    int decimals;  /* digits printed after the point */
    double scale;  /* multiply before display (100 for ratios shown in %) */
    int brief;     /* 1: also in the short terminal table and the per-day tables */
    int wallclock; /* 1: measures this machine (solver time), not the station: printed
                    * and written to timing.json only, so the other files stay
                    * byte-identical for the same seed and configuration */
};

extern const struct kpi_field kpi_fields[];
extern const int kpi_n_fields;

/* The value of one field (ints converted to double, scale NOT applied). */
double kpi_field_value(const struct kpi *k, const struct kpi_field *f);

#endif
