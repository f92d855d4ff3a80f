/* SPDX-License-Identifier: MIT */
/*
 * dispatch.h - the grid dispatcher's side of the live engine: DR events,
 * immediate commands, tariffs and forecasts in over MQTT (io/mqtt.h,
 * payloads io/dispatch_msg.h); acks, adjustable capacity, live data, DR
 * performance and the daily report out (docs/dr.md, docs/mqtt.md).
 *
 * Inbound messages arrive on paho's thread through dispatch_on_message(),
 * which only copies them into a queue. The dispatcher's own thread takes
 * them from the queue at once (so an ack and the new limits follow a
 * command within milliseconds) and runs the 1 s tick: event lifecycle,
 * the resolved DR set for live_set_dr(), reports. It talks to the engine
 * only through live.h's any-thread calls (live_set_dr, live_override,
 * live_set_prices, live_capacity, live_status).
 *
 * Lifecycle: dispatch_new(); mqtt_start(..., dispatch_on_message, d, ...);
 * dispatch_start(d, m); ... dispatch_free(d) (stops the thread; call it
 * before mqtt_stop()). Messages that arrive before dispatch_start() wait
 * in the queue.
 */
#ifndef FLEXD_ENGINE_DISPATCH_H
#define FLEXD_ENGINE_DISPATCH_H

#include "../common/error.h"
#include "../io/mqtt.h"
#include "../models/station.h"
#include "live.h"

#include <stddef.h>
#include <stdint.h>

struct dispatch_options {
    const struct station *st; /* borrowed; tariff, connectors, parking */
    struct live *live;        /* borrowed */
    const char *db_path;      /* the history, for similar-day baselines; NULL = none */
    int baseline;             /* enum station_dr_baseline */
    int baseline_days;        /* N similar days (5) */
    int tick_ms;              /* 1000 */
    int perf_step_ms;         /* DR performance period; 0 = the plan step (15 min) */
    int capacity_period_ms;   /* adjustable capacity re-published (15 min) */
    int snapshot_period_ms;   /* live/snapshot (60 s) */
    int queue_max;            /* inbound messages waiting at most (1024); more are dropped */
};

void dispatch_options_default(struct dispatch_options *o);

/* The topics dispatch_on_message() understands, NULL-terminated, for
 * mqtt_start()'s subscriptions. */
const char *const *dispatch_topics(void);

struct dispatch;

/* ERROR_INVALID for a bad option; ERROR_IO when the history cannot be
 * opened (ed says which). */
int dispatch_new(const struct dispatch_options *o, struct dispatch **out, struct error_detail *ed);

/* An mqtt_message_fn: user is the struct dispatch. Any thread. */
void dispatch_on_message(void *user,
                         const char *topic,
                         const char *payload,
                         size_t len,
                         int retained);

/* Start the thread, publishing through m (borrowed until dispatch_free).
 * The thread first restores the events accepted or active in the history
 * (rows "dispatch:{id}") and gives them to live. ERROR_STATE when already
 * started or the thread cannot be made. */
int dispatch_start(struct dispatch *d, struct mqtt *m, struct error_detail *ed);

/* Stop the thread (a final performance report is not forced: an active
 * event is kept in the history and dispatch_start() of the next run takes
 * it back, without a new ack), free; NULL no-op. */
void dispatch_free(struct dispatch *d);

/* Counters for tests and benchmarks. */
struct dispatch_stats {
    int64_t received;     /* inbound messages taken from the queue */
    int64_t dropped;      /* inbound messages refused by a full queue */
    int64_t acks;         /* acks published */
    int64_t rejected;     /* of which rejected */
    int64_t dr_sets;      /* live_set_dr() calls */
    int64_t overrides;    /* live_override() calls */
    int64_t price_sets;   /* live_set_prices() calls */
    int64_t perf_reports; /* dr/performance messages (final ones included) */
    int64_t capacity_reports;
    int64_t live_reports;
    int64_t daily_reports;
    int events;    /* events known (scheduled, active), commands excluded */
    int dr_pieces; /* controller_dr entries last given to live */
    int64_t ticks;
};

void dispatch_stats(struct dispatch *d, struct dispatch_stats *out);

#endif
