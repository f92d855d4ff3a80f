/* SPDX-License-Identifier: MIT */
/*
 * dispatch_internal.h - private to the dispatch*.c files; nothing else may
 * include it (the dispatcher's API is dispatch.h). It holds the
 * dispatcher's state and the ds_ functions that one of those files calls
 * in another:
 *   dispatch.c          the object, its thread and inbound queue, routing,
 *                       acks and publishing, the DR set given to live
 *   dispatch_event.c    DR events: baselines, commitment, lifecycle,
 *                       performance, persistence across a restart
 *   dispatch_inbound.c  commands, tariffs, forecasts, session declarations
 *   dispatch_report.c   adjustable capacity, live data, the daily report
 *
 * Every function below runs on the dispatcher's thread, the only one that
 * touches the fields of struct dispatch after "the dispatcher's thread
 * only".
 */
#ifndef FLEXD_ENGINE_DISPATCH_INTERNAL_H
#define FLEXD_ENGINE_DISPATCH_INTERNAL_H

#include "../io/dispatch_msg.h"
#include "../io/outbox.h"
#include "baseline.h"
#include "dispatch.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define DS_EVENTS_MAX 32
#define DS_PIECES_MAX 32  /* LIVE_DR_MAX in live_internal.h */
#define DS_PERF_MAX   192 /* performance steps kept per event for the reports */

/* Lifecycle (docs/dr.md): received -> validated -> accepted | rejected ->
 * scheduled -> active -> completed (or cancelled). Rejected events are not
 * kept; completed and cancelled ones leave once reported. */
enum ds_state {
    DS_RECEIVED = 0,
    DS_VALIDATED,
    DS_ACCEPTED,
    DS_SCHEDULED,
    DS_ACTIVE,
    DS_COMPLETED,
    DS_REJECTED,
    DS_CANCELLED
};

struct ds_event {
    int used;
    int64_t seq; /* acceptance order: ties of priority */
    enum ds_state state;
    struct dispatch_event ev;
    double baseline_kw[DISPATCH_INTERVALS_MAX];
    double target_kw[DISPATCH_INTERVALS_MAX]; /* the cap (import cap, reduce) or floor */
    double committed_kw;
    /* performance */
    int64_t step_start_ms;
    double step_sum_kw;
    int step_n;
    struct dispatch_perf_step perf[DS_PERF_MAX];
    int n_perf;
    double delivered_kwh, required_kwh;
    int64_t counted_day_ms; /* the local day it was counted in the daily report */
    char *payload;          /* the event as received (owned), kept for a restart */
    int64_t accepted_ms;    /* when the payload was parsed: re-parsed at that time */
};

struct ds_msg;   /* dispatch.c: an inbound message in the queue */
struct ds_piece; /* dispatch.c: one interval of the DR set */

struct dispatch {
    struct dispatch_options o;
    struct clock *clock;
    struct history *hist;
    struct mqtt *m;
    pthread_t thread;
    int started;
    pthread_mutex_t mu; /* the queue, stop and stats */
    pthread_cond_t cv;
    int stop;
    struct ds_msg *head, *tail;
    int queued;
    struct dispatch_stats stats;
    int64_t next_tick_mono;

    /* the dispatcher's thread only */
    struct ds_event ev[DS_EVENTS_MAX];
    int64_t seq;
    int cmd_cap;
    char cmd_cap_id[64];
    double cmd_cap_kw;
    int64_t cmd_cap_start_ms, cmd_cap_end_ms;
    char cmd_ovr_id[64];
    struct ds_piece *raw, *placed; /* scratch [DS_RAW_MAX], [DS_RAW_MAX * 2] (dispatch.c) */
    struct controller_dr pieces[DS_PIECES_MAX];
    int n_pieces;
    struct baseline_ring ring;
    struct live_capacity *cap;
    struct dispatch_tariff *tariff; /* scratch for parsing */
    struct live_price *prices;      /* the platform prices in force */
    int n_prices;
    struct live_status ls;
    int64_t now_ms;
    /* outbound */
    char cap_plan_id[64];
    int64_t cap_next_ms;
    int live_init;
    struct dispatch_flows last_flows;
    struct dispatch_parking last_parking;
    int last_conn_state[LIVE_STATUS_CONNECTORS];
    double last_conn_kw[LIVE_STATUS_CONNECTORS];
    int64_t snapshot_next_ms;
    /* daily report */
    struct dispatch_daily day;
    int64_t day_start_ms, last_tick_ms;
    int64_t quarter_start_ms;
    double quarter_kwh;
    uint32_t gate_in0, gate_out0;
    int gates_known;
    int prev_plugged[LIVE_STATUS_CONNECTORS];
    double day_required_kwh;
};

/* ---- dispatch.c ---------------------------------------------------------- */

/* Add n to a counter of d->stats under the mutex. */
void ds_stat(struct dispatch *d, int64_t *field, int64_t n);

/* Publish json (owned: freed here) on topic through the outbox class cls;
 * a failure is logged, not returned. */
void ds_publish(struct dispatch *d,
                const char *topic,
                char *json,
                int retained,
                enum outbox_class cls,
                const char *inbound_id);

/* An ack; inbound_id (may be NULL) is remembered with it so a redelivered
 * copy is recognised. */
void ds_ack(struct dispatch *d,
            const char *id,
            const char *status,
            enum dispatch_code code,
            const char *message,
            double committed_kw,
            const char *inbound_id);

/* Recompute the DR set from the accepted events and the command cap in
 * force, and give it to live when it changed. */
void ds_resolve(struct dispatch *d);

/* ---- dispatch_event.c ---------------------------------------------------- */

struct ds_commit {
    enum dispatch_code code; /* OK, INSUFFICIENT_FLEXIBILITY */
    int none;                /* nothing deliverable: reject */
    double committed_kw;     /* NAN: no commitment possible */
    char message[256];
};

/* What the plan in force can deliver of the targets of e (docs/dr.md
 * "Commitment"); have_cap: d->cap holds live's adjustable capacity. */
void ds_commit(struct dispatch *d,
               const struct dispatch_event *e,
               const double *target,
               const double *baseline,
               int have_cap,
               struct ds_commit *out);

/* The share of the required energy delivered (a negative delivery counts
 * as none); NaN when nothing was required. */
double ds_compliance(double delivered_kwh, double required_kwh);

/* A message on DISPATCH_TOPIC_DR_EVENT: a new event, a modification or a
 * cancellation; always acknowledged. */
void ds_on_event(struct dispatch *d, const char *payload, size_t len);

/* Lifecycle and performance of every event, and the end of a command cap. */
void ds_events_tick(struct dispatch *d);

/* Take back the events the history holds from before a restart. */
void ds_restore(struct dispatch *d);

/* ---- dispatch_inbound.c -------------------------------------------------- */

/* One message each, from its topic (io/dispatch_msg.h); every one is
 * acknowledged but a tariff or forecast seen before, which is applied again
 * (a retained copy after a restart). */
void ds_on_command(struct dispatch *d, const char *payload, size_t len, int retained);
void ds_on_tariff(struct dispatch *d, const char *payload, size_t len);
/* kind: DISPATCH_FORECAST_VISITOR_FLOW or DISPATCH_FORECAST_ROAD_CONGESTION */
void ds_on_forecast(struct dispatch *d, const char *payload, size_t len, int kind);
void ds_on_declare(struct dispatch *d, const char *payload, size_t len);

/* ---- dispatch_report.c: each from the tick, with d->ls and d->now_ms fresh */

/* Adjustable capacity, on a new plan or when the capacity period is up. */
void ds_capacity(struct dispatch *d);

/* Live data: flows, connectors and parking when they change, the snapshot
 * every snapshot period. */
void ds_live(struct dispatch *d);

/* The daily report's running sums, and the report once the day is over. */
void ds_daily(struct dispatch *d);

#endif
