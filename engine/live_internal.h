/* SPDX-License-Identifier: MIT */
/*
 * live_internal.h - private to the live*.c files; nothing else may include
 * it (the live engine's API is live.h). It holds the engine's state
 * (struct live, with which mutex guards what) and the functions that one
 * of those files calls in another:
 *   live.c          the object's life cycle (live_new/free/run), the
 *                   1 s cycle (live_cycle) and the any-thread API
 *   live_state.c    readings, measured state and its alarms, sessions and
 *                   declarations, the controller input; the override, the
 *                   worst case without a meter and the setpoints posted
 *   live_plan.c     the planner thread, plan requests, adopting plans, the
 *                   schedule the cycle follows and its JSON
 *   live_history.c  history writes (alarms, sessions, samples, setpoints,
 *                   DR events); relearning and resuming after a restart
 */
#ifndef FLEXD_ENGINE_LIVE_INTERNAL_H
#define FLEXD_ENGINE_LIVE_INTERNAL_H

#include "../config/regmap_file.h"
#include "../io/device.h"
#include "../io/history.h"
#include "controller.h"
#include "correction.h"
#include "ev_forecast.h"
#include "live.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>

#define LIVE_CONNECTORS_MAX (STATION_CHARGERS_MAX * STATION_CONNECTORS_MAX)
#define LIVE_DR_MAX         32
#define LIVE_PRICES_MAX     400
/* a reading older than this many poll periods is not trusted */
#define LIVE_STALE_POLLS 3
/* a declaration for a connector with no car waits this long for one */
#define LIVE_DECLARE_HOLD_MS (15 * 60 * 1000)
/* the EV forecast relearns this many of its time constants after a restart */
#define LIVE_RELEARN_SPANS 4
/* a device not reached this long after start is alarmed as offline */
#define LIVE_CONNECT_GRACE_MS 5000
/* share of a fall in the measured base load believed per cycle */
#define LIVE_BASE_FALL 0.25

struct live_session {
    int open;
    char id[SCENARIO_ID_MAX];
    int64_t plug_ms;
    int64_t departure_ms;   /* declared, or plug + learned mean stay */
    double wanted_kwh;      /* declared, or the learned mean */
    double delivered_kwh;   /* the charger's session energy register */
    int declared_departure; /* departure_ms / wanted_kwh came from the driver */
    int declared_energy;
};

/* A driver's declaration waiting to be applied (live_declare()). */
struct live_declared {
    int set;
    int64_t received_ms;
    int64_t departure_ms; /* 0 = not declared */
    double wanted_kwh;    /* NAN = not declared */
};

/* The plan as the cycle follows it: setpoints per step. It is what the
 * history keeps as the active plan, so a restart can follow it on. */
struct live_schedule {
    char id[HISTORY_ID_MAX];
    int64_t start_ms;
    int step_minutes;
    int steps;
    double *ess_kw;       /* [steps] discharge positive */
    double *pv_limit_kw;  /* [steps] INFINITY = no curtailment */
    double *import_kw;    /* [steps] what the plan expects at the grid */
    double *connector_kw; /* [steps x n_conn] */
};

/* What the planner thread works on: a self-contained controller input. */
struct live_request {
    struct controller_input in;
    struct controller_ev evs[LIVE_CONNECTORS_MAX];
    struct controller_dr dr[LIVE_DR_MAX];
    struct controller_price prices[LIVE_PRICES_MAX];
    double *pv_fc;
    double *base_fc;
    double *ev_fc; /* cars not yet here */
};

struct live {
    const struct station *st;
    struct live_options opt;
    struct clock *clock;
    int n_conn;
    int n_dev;
    struct device *dev[STATION_DEVICES_MAX];
    struct regmap_file
        *map[STATION_DEVICES_MAX]; /* register maps: connectors and a map-read meter */
    struct device_reading rd[STATION_DEVICES_MAX];
    int was_online[STATION_DEVICES_MAX]; /* -1 before the first contact or alarm */
    int64_t start_mono_ms;
    double base_est_kw; /* base load as believed (see live_measure) */
    int meter;          /* device index, -1 = none */
    int storage;
    int parking;
    int pv_dev[STATION_PV_ARRAYS_MAX];
    int conn_dev[LIVE_CONNECTORS_MAX];
    struct live_session sess[LIVE_CONNECTORS_MAX];
    /* arrivals and sessions learned (control thread); its outlooks are
     * set from any thread and read under dr_mu */
    struct ev_forecast evf;
    struct controller_options copt;
    /* DR events, set from any thread */
    pthread_mutex_t dr_mu;
    struct controller_dr dr[LIVE_DR_MAX];
    int n_dr;
    int dr_changed;
    struct live_override ovr;
    struct controller_price prices[LIVE_PRICES_MAX];
    int n_prices;
    struct live_declared declared[LIVE_CONNECTORS_MAX];
    /* the control loop's wake-up */
    pthread_mutex_t wake_mu;
    pthread_cond_t wake_cv;
    int woken;
    /* planner thread */
    pthread_t planner;
    int planner_started;
    pthread_mutex_t plan_mu;
    pthread_cond_t plan_cv;
    int plan_stop;
    int plan_busy;
    int plan_pending; /* a request is waiting for the planner */
    struct live_request req;
    struct scenario *new_sc; /* handed back by the planner */
    struct plan *new_plan;
    int64_t new_plan_ms;
    double new_solve_ms;
    int new_failed;
    int64_t req_mono_ms; /* when the running solve was asked for */
    /* control thread's plan */
    struct live_schedule sched; /* steps 0 = none */
    struct history *hist;
    struct controller_dr dr_kept[LIVE_DR_MAX]; /* DR events as last written to the history */
    int dr_kept_state[LIVE_DR_MAX];
    int n_dr_kept;
    int dr_dirty;
    int64_t next_flush_mono_ms;
    int64_t next_prune_mono_ms;
    int64_t write_seen_ms[STATION_DEVICES_MAX];
    int64_t next_session_put_ms;
    pthread_mutex_t status_mu;
    struct live_status published;   /* status as other threads may read it */
    struct live_capacity *capacity; /* of the plan in force, under status_mu */
    int64_t last_request_mono_ms;
    int replan_wanted;
    /* modes, for logging changes only */
    int on_plan;
    int meter_ok;
    int soc_known;
    int overrun_logged;
    struct live_status status;
    double connector_kw[LIVE_CONNECTORS_MAX];
};

/* ---- live_state.c -------------------------------------------------------- */

/* 1 when device d's reading is recent enough to be trusted at now. */
int live_fresh(const struct live *l, int d, int64_t now);
/* EV_FORECAST_AC or EV_FORECAST_DC: the charger type of connector k. */
int live_conn_type(const struct live *l, int k);
/* Connector index of a connector id, or -1. */
int live_conn_index(const struct live *l, const char *id);
/* Open and close sessions from connector states; returns 1 on a change. */
int live_sessions(struct live *l, int64_t now);
/* The controller input for now: measured state, sessions, DR events. */
void live_input(struct live *l,
                int64_t now,
                struct controller_input *in,
                struct controller_ev *evs,
                struct controller_dr *dr,
                double *accept_kw);
/* Read the devices into l->status, raising and clearing alarms. */
void live_measure(struct live *l, int64_t now);
/* An immediate command from the dispatcher replaces the battery's setpoint in
 * out; the correction then keeps the limits with what is left. */
void live_apply_override(struct live *l,
                         int64_t now,
                         const struct correction_limits *lim,
                         const struct correction_measure *m,
                         const double *accept,
                         struct controller_output *out);
/* Meter lost: cap out for the worst case. */
void live_worst_case(struct live *l,
                     const struct correction_limits *lim,
                     struct controller_output *out);
/* Post the setpoints of out to the devices that are fresh. */
void live_post(struct live *l, const struct controller_output *out, int64_t now);

/* ---- live_plan.c --------------------------------------------------------- */

/* The planner thread (arg: the struct live). */
void *live_planner_main(void *arg);
/* Take a finished plan; ask for a new one when due and the planner is free. */
void live_plan_exchange(struct live *l, const struct controller_input *in, int64_t now);
/* Step of the schedule that covers now, or -1. */
int live_plan_step(const struct live *l, int64_t now);
void live_schedule_free(struct live_schedule *s);
/* The schedule of a stored plan; ERROR_PARSE when it is not one. */
int live_schedule_parse(struct live *l, const char *json, struct live_schedule *out);
/* The number at key in o, or fallback when there is none. */
double live_json_number(const cJSON *o, const char *key, double fallback);

/* ---- live_history.c ------------------------------------------------------ */

/* Record an alarm raised (or cleared) in the history, if there is one. */
void live_alarm(struct live *l,
                const char *device,
                const char *kind,
                int raised,
                const char *message);
/* Write session k to the history: open, or closed at unplug_ms. */
void live_put_session(struct live *l, int k, int64_t unplug_ms);
/* This cycle's samples, setpoints, sessions and DR events; flush, prune. */
void live_record(struct live *l, const struct controller_input *in, int64_t now);
/* After a restart: open sessions, the active plan, DR events. */
void live_resume(struct live *l, int64_t now);

#endif
