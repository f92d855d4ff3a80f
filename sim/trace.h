/* SPDX-License-Identifier: MIT */
/*
 * trace.h - what one simulated run of one strategy records: a row per step,
 * a record per EV arrival, a record per DR event. KPIs (sim/kpi.h) and the
 * output files (sim/report.h) are computed from a trace alone, so every
 * figure in a report can be re-derived from timeseries.csv/sessions.csv.
 *
 * Sign conventions: every power is a non-negative average over the step in
 * kW; charge and discharge, import and export are separate columns.
 */
#ifndef FLEXD_SIM_TRACE_H
#define FLEXD_SIM_TRACE_H

#include <stdint.h>

#define TRACE_ID_MAX 64

struct trace_row {
    int64_t ts_ms; /* start of the step, ms since the epoch (UTC) */
    int step;      /* 0.. from the start of the run */
    double pv_available_kw;
    double pv_kw;
    double base_load_kw;
    double ev_kw;
    double ess_charge_kw;
    double ess_discharge_kw;
    double ess_soc; /* at the end of the step, 0..1 (0 without a battery) */
    double grid_import_kw;
    double grid_export_kw;
    double import_limit_kw; /* min(connection limit, active DR cap) */
    double dr_floor_kw;     /* active DR floor, 0 if none */
    int dr_active;          /* bit 1: an import cap is active, bit 2: a floor is */
    double buy_cny_per_kwh;
    double sell_cny_per_kwh;
    double service_fee_cny_per_kwh;
    int connectors_busy;
    double solve_ms; /* controller time spent deciding this step (0 for rules) */
};

enum trace_source {
    TRACE_SOURCE_TOURIST = 0,   /* visitors to the volcano scenic area */
    TRACE_SOURCE_THROUGH = 1,   /* through traffic */
    TRACE_SOURCE_NIGHT = 2,     /* community night parking and charging, 22:00-08:00 */
    TRACE_SOURCE_COMMUNITY = 3, /* 24 h community shared charging */
};

extern const char *const trace_source_names[4];

struct trace_session {
    char id[TRACE_ID_MAX];
    char connector[TRACE_ID_MAX]; /* "" when lost (no free connector) */
    enum trace_source source;
    int wants_dc;
    int64_t arrival_ms;
    int64_t departure_ms;          /* the true one */
    int64_t declared_departure_ms; /* what the driver told the station */
    int64_t plug_ms;               /* arrival + wait; == arrival when no wait */
    double battery_kwh;
    double soc_arrival;
    double soc_target;
    double max_kw;     /* what the car accepts */
    double wanted_kwh; /* (soc_target - soc_arrival) * battery_kwh */
    double delivered_kwh;
    double revenue_energy_cny;  /* delivered x buy price at delivery */
    double revenue_service_cny; /* delivered x service fee */
    int lost;                   /* 1: found no free connector within the wait limit */
};

struct trace_dr {
    char id[TRACE_ID_MAX];
    int type; /* 0 import cap, 1 import floor (enum scenario_dr_type) */
    int64_t start_ms;
    int64_t end_ms;
    double limit_kw;
    double baseline_kw;   /* mean import the station would have had (docs/simulation.md) */
    double required_kw;   /* change asked for: baseline - cap (>= 0) or floor - baseline */
    double delivered_kw;  /* change achieved: baseline - mean import, or mean import - baseline */
    double compliance;    /* delivered / required, 1 when nothing was required */
    double shortfall_kwh; /* energy above the cap / below the floor during the event */
};

struct trace {
    char strategy[32];
    int step_minutes;
    int n_rows;
    struct trace_row *rows;
    int n_sessions;
    struct trace_session *sessions;
    int n_dr;
    struct trace_dr *dr;
    int n_connectors;
    double connectors_max_kw_sum; /* for utilisation against capacity */
    double ess_capacity_kwh;
    double demand_charge_cny_per_kw_month;
};

/* An empty trace for n_rows steps (rows zeroed); sessions and DR records are
 * appended with the functions below. */
struct trace *trace_new(const char *strategy, int step_minutes, int n_rows);
void trace_free(struct trace *t);
struct trace_session *trace_add_session(struct trace *t);
struct trace_dr *trace_add_dr(struct trace *t);

#endif
