/* SPDX-License-Identifier: MIT */
/*
 * live.h - the engine in production: the 1 s control cycle over the
 * station's Modbus devices (io/device.h), with the plan kept current by a
 * planner thread, and the history in SQLite (io/history.h).
 *
 * One cycle:
 *   1. take every device's latest reading (never waits on I/O);
 *   2. build the measured state: grid, PV, battery, connectors, parking;
 *      infer sessions from connector states and energy registers;
 *   3. take the current step of the plan (or, with no valid plan, decide
 *      by the rule strategy) and apply the real-time correction so the
 *      measured import stays inside the connection limit / DR cap and
 *      above any DR floor (engine/correction.h);
 *   4. post the setpoints to the devices, which write them on change and as
 *      a heartbeat and verify them by read-back.
 * Fail-safe (docs/operations.md): an offline device is left out of the plan
 * and alarmed; with the meter lost the chargers are capped so that the
 * connection limit holds with no PV and the highest base load; with the
 * battery's SoC unknown the battery is held idle.
 *
 * Re-plans every control.replan_s seconds and at once on plug-in, unplug,
 * DR change and tariff change, in the planner thread: the solve never
 * blocks the cycle. If the solve fails or overruns, the last plan is kept
 * while it still covers the present step, then the rule strategy decides.
 *
 * The functions are called from one thread (the daemon's main loop), except
 * live_set_dr() and live_wake(), which any thread may call.
 */
#ifndef FLEXD_ENGINE_LIVE_H
#define FLEXD_ENGINE_LIVE_H

#include "../common/error.h"
#include "../models/station.h"
#include "controller.h"
#include "ev_forecast.h"

#include <signal.h>
#include <stdint.h>

#define LIVE_STATUS_CONNECTORS 64

struct live_options {
    /* loopback testing: device i at host:port_base + i instead of its config */
    const char *host;
    int port_base;
    const int *ports;      /* with host: device i at host:ports[i] instead (tests) */
    int cycle_ms;          /* control cycle (1000) */
    int replan_s;          /* periodic re-plan (300) */
    int solve_timeout_ms;  /* a solve longer than this is an overrun (20000) */
    int step_minutes;      /* plan step (15) */
    int horizon_steps;     /* plan horizon (96 = 24 h) */
    int flexibility_steps; /* adjustable capacity computed with each plan (96) */
    const char *db_path;   /* history database, NULL = none */
    const char *maps_dir;  /* charger register maps (config/devices) */
    int history_flush_s;   /* batch commit period (5) */
};

void live_options_default(struct live_options *o);

/* What the last cycle saw and did, for tests, benchmarks and reports. */
struct live_status {
    int64_t now_ms;
    int64_t cycles;
    int meter_ok;
    int soc_known;
    int on_plan; /* 1: setpoints from the plan; 0: rule strategy */
    int64_t plan_created_ms;
    int plans_solved;
    double last_solve_ms;
    double grid_kw; /* measured, import positive (meter_ok) */
    double pv_kw;
    double ess_kw; /* measured, discharge positive */
    double soc;
    double ev_kw;
    double base_kw;
    double import_max_kw; /* the limit in force: connection or DR cap */
    double import_min_kw; /* DR floor, 0 if none */
    double set_ess_kw;    /* setpoints posted */
    double set_pv_limit_kw;
    double set_ev_kw; /* sum of connector limits */
    /* energy the last plan expects of cars not yet here, over its horizon */
    double ev_forecast_kwh;
    int sessions_open;
    int devices_online;
    int devices_total;
    double poll_max_ms; /* slowest device's last poll (they poll in parallel) */
    int override_mode;  /* enum live_override_mode in force */
    /* parking */
    int parking_ok;
    int parking_occupied;
    int parking_spaces;
    uint32_t gate_in;
    uint32_t gate_out;
    /* connectors, in chargers[].connectors[] order */
    int n_conn;
    int conn_state[LIVE_STATUS_CONNECTORS]; /* enum device_connector_state; 0 = unknown */
    double conn_kw[LIVE_STATUS_CONNECTORS];
};

/* An immediate command from the grid dispatcher (engine/dispatch_inbound.c). */
enum live_override_mode {
    LIVE_OVERRIDE_NONE = 0,
    LIVE_OVERRIDE_BATTERY = 1,      /* battery at battery_kw (discharge positive) */
    LIVE_OVERRIDE_HOLD_RESERVE = 2, /* never below the reserve; refill to it */
    LIVE_OVERRIDE_SUPPORT = 3,      /* discharge at full power for the community */
};

struct live_override {
    int mode; /* enum live_override_mode */
    double battery_kw;
    int64_t until_ms; /* 0 = until replaced */
};

/* A price interval from the platform, over the station's tariff. */
struct live_price {
    int64_t start_ms;
    int64_t end_ms;
    double buy_cny_per_kwh;
    double sell_cny_per_kwh;
};

/* The adjustable capacity of the plan being followed, per step. */
struct live_capacity {
    int64_t start_ms; /* step 0 of the plan */
    int step_minutes;
    int steps; /* of the plan; flexibility for the first n_flex */
    int n_flex;
    double plan_kw[SCENARIO_STEPS_MAX]; /* planned net import */
    double net_min_kw[SCENARIO_STEPS_MAX];
    double net_max_kw[SCENARIO_STEPS_MAX];
    double marginal_cny_per_kwh[SCENARIO_STEPS_MAX];
    char plan_id[64];
};

struct live;

/* Start the devices' threads and the planner; with db_path, open the
 * history and resume open sessions, the active plan and DR state. */
int live_new(const struct station *st,
             const struct live_options *opt,
             struct live **out,
             struct error_detail *ed);

/* Stop everything, flush the history. */
void live_free(struct live *l);

/* One control cycle now. */
void live_cycle(struct live *l);

/* Cycle every cycle_ms until *stop is set or duration_ms passes (0 = no
 * end); live_wake() runs a cycle at once (a command arrived). */
void live_run(struct live *l, volatile sig_atomic_t *stop, int64_t duration_ms);

/* Replace the DR events flexd has accepted; triggers a re-plan and a cycle. */
void live_set_dr(struct live *l, const struct controller_dr *ev, int n);

void live_wake(struct live *l);

void live_status(struct live *l, struct live_status *out);

/* Any thread. Apply an immediate command (re-plans; NONE = back to auto). */
void live_override(struct live *l, const struct live_override *o);

/* Any thread. Replace the platform's price intervals (re-plans). */
void live_set_prices(struct live *l, const struct live_price *p, int n);

/* Any thread. A driver's declaration for the car on connector_id: its
 * departure (0 = not declared) and the energy it wants (NAN = not
 * declared). Applied to the open session in the next cycle (which
 * re-plans), or to the next car plugged in there within 15 min.
 * ERROR_INVALID for a connector the station does not have. */
int live_declare(struct live *l, const char *connector_id, int64_t departure_ms, double wanted_kwh);

/* Any thread. Replace a platform outlook of the EV-arrival forecast (kind:
 * enum ev_outlook_kind; n = 0 clears it); re-plans. */
void live_set_outlook(struct live *l, int kind, const struct ev_outlook_interval *iv, int n);

/* Any thread. The capacity of the plan in force; ERROR_STATE when there is
 * no plan yet. */
int live_capacity(struct live *l, struct live_capacity *out);

#endif
