/* SPDX-License-Identifier: MIT */
/*
 * dispatch.c - the core of the dispatcher (dispatch.h, docs/dr.md,
 * docs/mqtt.md): the object and its thread, the inbound queue, the routing
 * of each message to its handler, acks and publishing, and the DR set
 * given to live. The handlers and reports sit beside it: DR events in
 * dispatch_event.c; commands, tariffs, forecasts and declarations in
 * dispatch_inbound.c; capacity, live data and the daily report in
 * dispatch_report.c; what they share in dispatch_internal.h.
 *
 * Threads: dispatch_on_message() runs on paho's thread and only queues a
 * copy. Everything else runs on the dispatcher's own thread, which owns
 * every field below the mutex: it handles each queued message as soon as
 * it arrives and runs the 1 s tick. The engine is reached only through
 * live.h's any-thread calls.
 *
 * The DR set given to live_set_dr() is recomputed from the accepted events
 * and the command in force whenever one changes and on every tick: each
 * interval becomes a cap or a floor, clipped where an interval of higher
 * priority (smaller number; a command above every event; at equal
 * priority the event accepted first) overlaps it, merged, past pieces
 * dropped, the earliest 32 kept (live's limit); live_set_dr() is called
 * only when the set changed.
 */
#define _POSIX_C_SOURCE 200809L
#include "dispatch.h"
#include "dispatch_internal.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/logger.h"
#include "../io/history.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DS_RAW_MAX      (DS_EVENTS_MAX * DISPATCH_INTERVALS_MAX + 1)
#define DS_TOPIC_MAX    128
#define DS_CMD_PRIORITY (-1)

struct ds_msg {
    struct ds_msg *next;
    char topic[DS_TOPIC_MAX];
    char *payload;
    size_t len;
    int retained;
};

/* One interval of the resolved DR set, before clipping and after. */
struct ds_piece {
    int priority;
    int64_t seq;
    int64_t start_ms, end_ms, notice_ms;
    enum scenario_dr_type type;
    double kw;
    char id[SCENARIO_ID_MAX];
};

static const char *const ds_topics[] = {DISPATCH_TOPIC_DR_EVENT,
                                        DISPATCH_TOPIC_COMMAND,
                                        DISPATCH_TOPIC_TARIFF,
                                        DISPATCH_TOPIC_VISITOR_FLOW,
                                        DISPATCH_TOPIC_ROAD_CONGESTION,
                                        DISPATCH_TOPIC_DECLARE,
                                        NULL};

const char *const *dispatch_topics(void)
{
    return ds_topics;
}

void dispatch_options_default(struct dispatch_options *o)
{
    memset(o, 0, sizeof(*o));
    o->baseline = STATION_BASELINE_SIMILAR_DAYS;
    o->baseline_days = 5;
    o->tick_ms = 1000;
    o->perf_step_ms = 0;
    o->capacity_period_ms = 15 * 60 * 1000;
    o->snapshot_period_ms = 60 * 1000;
    o->queue_max = 1024;
}

void ds_stat(struct dispatch *d, int64_t *field, int64_t n)
{
    pthread_mutex_lock(&d->mu);
    *field += n;
    pthread_mutex_unlock(&d->mu);
}

/* ---- outbound helpers ---------------------------------------------------- */

void ds_publish(struct dispatch *d,
                const char *topic,
                char *json,
                int retained,
                enum outbox_class cls,
                const char *inbound_id)
{
    struct error_detail ed = {{0}};

    if (mqtt_publish(d->m, topic, json, strlen(json), retained, (int)cls, inbound_id, &ed) !=
        ERROR_OK) {
        LOGE("dispatch", "publish %s: %s", topic, ed.text);
    }
    free(json);
}

/* An ack; inbound_id (may be NULL) is remembered with it so a redelivered
 * copy is recognised. */
void ds_ack(struct dispatch *d,
            const char *id,
            const char *status,
            enum dispatch_code code,
            const char *message,
            double committed_kw,
            const char *inbound_id)
{
    int rejected = strcmp(status, "rejected") == 0;

    if (rejected) {
        LOGW("dispatch",
             "%s: rejected %s: %s",
             id && *id ? id : "(no id)",
             dispatch_code_name(code),
             message ? message : "");
    } else {
        LOGI("dispatch",
             "%s: %s %s%s%s",
             id && *id ? id : "(no id)",
             status,
             dispatch_code_name(code),
             message ? ": " : "",
             message ? message : "");
    }
    ds_publish(d,
               DISPATCH_TOPIC_ACK,
               dispatch_ack_json(id, status, code, message, committed_kw, d->now_ms),
               0,
               OUTBOX_ACK,
               inbound_id);
    ds_stat(d, &d->stats.acks, 1);
    if (rejected) {
        ds_stat(d, &d->stats.rejected, 1);
    }
}

/* ---- the DR set ---------------------------------------------------------- */

static int ds_piece_cmp(const void *a, const void *b)
{
    const struct ds_piece *x = a, *y = b;

    if (x->priority != y->priority) {
        return x->priority < y->priority ? -1 : 1;
    }
    if (x->seq != y->seq) {
        return x->seq < y->seq ? -1 : 1;
    }
    return x->start_ms < y->start_ms ? -1 : x->start_ms > y->start_ms;
}

static int ds_start_cmp(const void *a, const void *b)
{
    const struct ds_piece *x = a, *y = b;

    return x->start_ms < y->start_ms ? -1 : x->start_ms > y->start_ms;
}

static int ds_collect(struct dispatch *d)
{
    int n = 0;

    if (d->cmd_cap) {
        struct ds_piece *p = &d->raw[n++];

        memset(p, 0, sizeof(*p));
        p->priority = DS_CMD_PRIORITY;
        p->start_ms = d->cmd_cap_start_ms;
        p->end_ms = d->cmd_cap_end_ms;
        p->notice_ms = d->cmd_cap_start_ms;
        p->type = SCENARIO_DR_IMPORT_CAP;
        p->kw = d->cmd_cap_kw;
        snprintf(p->id, sizeof(p->id), "cmd/%s", d->cmd_cap_id);
    }
    for (int j = 0; j < DS_EVENTS_MAX; j++) {
        const struct ds_event *e = &d->ev[j];

        if (!e->used || e->state < DS_ACCEPTED || e->state > DS_ACTIVE) {
            continue;
        }
        for (int i = 0; i < e->ev.n_intervals; i++) {
            struct ds_piece *p = &d->raw[n++];

            memset(p, 0, sizeof(*p));
            p->priority = e->ev.priority;
            p->seq = e->seq;
            p->start_ms = e->ev.interval[i].start_ms;
            p->end_ms = e->ev.interval[i].end_ms;
            p->notice_ms = e->ev.notice_ms;
            p->type = e->ev.kind == DISPATCH_IMPORT_FLOOR ? SCENARIO_DR_IMPORT_FLOOR
                                                          : SCENARIO_DR_IMPORT_CAP;
            p->kw = e->target_kw[i];
            snprintf(p->id, sizeof(p->id), "%.56s/%d", e->ev.id, i);
        }
    }
    return n;
}

/* Clip raw pieces (sorted by priority) by every piece placed before them. */
static int ds_clip(struct dispatch *d, int n_raw)
{
    int n = 0;

    for (int r = 0; r < n_raw; r++) {
        int64_t segs[2 * (DS_RAW_MAX + 1)];
        int ns = 1, first = n;

        segs[0] = d->raw[r].start_ms;
        segs[1] = d->raw[r].end_ms;
        for (int q = 0; q < first && ns > 0; q++) {
            int64_t a = d->placed[q].start_ms, b = d->placed[q].end_ms;
            int out = 0;
            int64_t tmp[2 * (DS_RAW_MAX + 1)];

            for (int s = 0; s < ns; s++) {
                int64_t s0 = segs[2 * s], s1 = segs[2 * s + 1];

                if (out >= DS_RAW_MAX) {
                    break;
                }
                if (b <= s0 || a >= s1) {
                    tmp[2 * out] = s0;
                    tmp[2 * out++ + 1] = s1;
                    continue;
                }
                if (a > s0) {
                    tmp[2 * out] = s0;
                    tmp[2 * out++ + 1] = a;
                }
                if (b < s1 && out < DS_RAW_MAX) { /* bounded: placed pieces are disjoint */
                    tmp[2 * out] = b;
                    tmp[2 * out++ + 1] = s1;
                }
            }
            memcpy(segs, tmp, sizeof(int64_t) * 2 * (size_t)out);
            ns = out;
        }
        for (int s = 0; s < ns && n < 2 * DS_RAW_MAX; s++) {
            struct ds_piece *p = &d->placed[n++];

            *p = d->raw[r];
            p->start_ms = segs[2 * s];
            p->end_ms = segs[2 * s + 1];
            if (ns > 1 || p->start_ms != d->raw[r].start_ms) {
                size_t len = strlen(p->id);

                snprintf(p->id + len, sizeof(p->id) - len, ".%d", s);
            }
        }
    }
    return n;
}

/* Recompute the DR set and give it to live when it changed. */
void ds_resolve(struct dispatch *d)
{
    struct controller_dr out[DS_PIECES_MAX];
    int n_raw = ds_collect(d);
    int n, k = 0;

    qsort(d->raw, (size_t)n_raw, sizeof(*d->raw), ds_piece_cmp);
    n = ds_clip(d, n_raw);
    qsort(d->placed, (size_t)n, sizeof(*d->placed), ds_start_cmp);
    memset(out, 0, sizeof(out));
    for (int i = 0; i < n && k < DS_PIECES_MAX; i++) {
        const struct ds_piece *p = &d->placed[i];

        if (p->end_ms <= d->now_ms || p->end_ms <= p->start_ms) {
            continue;
        }
        snprintf(out[k].id, sizeof(out[k].id), "%s", p->id);
        out[k].type = p->type;
        out[k].notice_ms = p->notice_ms < d->now_ms ? p->notice_ms : d->now_ms;
        out[k].start_ms = p->start_ms;
        out[k].end_ms = p->end_ms;
        out[k].limit_kw = p->kw;
        k++;
    }
    if (k != d->n_pieces || memcmp(out, d->pieces, sizeof(out[0]) * (size_t)k) != 0) {
        memcpy(d->pieces, out, sizeof(out));
        d->n_pieces = k;
        live_set_dr(d->o.live, d->pieces, k);
        pthread_mutex_lock(&d->mu);
        d->stats.dr_sets++;
        d->stats.dr_pieces = k;
        pthread_mutex_unlock(&d->mu);
    }
}

/* ---- message routing ---------------------------------------------------- */

static void ds_handle(struct dispatch *d, const struct ds_msg *msg)
{
    d->now_ms = clock_now_ms(d->clock);
    if (msg->len == 0) {
        /* how MQTT clears a retained message (ours on "command" too): not
         * a message to answer */
        LOGD("dispatch", "empty message on %s: a retained message cleared", msg->topic);
        return;
    }
    if (strcmp(msg->topic, DISPATCH_TOPIC_DR_EVENT) == 0) {
        ds_on_event(d, msg->payload, msg->len);
    } else if (strcmp(msg->topic, DISPATCH_TOPIC_COMMAND) == 0) {
        ds_on_command(d, msg->payload, msg->len, msg->retained);
    } else if (strcmp(msg->topic, DISPATCH_TOPIC_TARIFF) == 0) {
        ds_on_tariff(d, msg->payload, msg->len);
    } else if (strcmp(msg->topic, DISPATCH_TOPIC_VISITOR_FLOW) == 0) {
        ds_on_forecast(d, msg->payload, msg->len, DISPATCH_FORECAST_VISITOR_FLOW);
    } else if (strcmp(msg->topic, DISPATCH_TOPIC_ROAD_CONGESTION) == 0) {
        ds_on_forecast(d, msg->payload, msg->len, DISPATCH_FORECAST_ROAD_CONGESTION);
    } else if (strcmp(msg->topic, DISPATCH_TOPIC_DECLARE) == 0) {
        ds_on_declare(d, msg->payload, msg->len);
    } else {
        LOGW("dispatch", "message on unknown topic %s ignored", msg->topic);
    }
}

/* ---- the thread ----------------------------------------------------------- */

static void ds_tick(struct dispatch *d)
{
    d->now_ms = clock_now_ms(d->clock);
    live_status(d->o.live, &d->ls);
    if (d->ls.meter_ok) {
        baseline_ring_add(&d->ring, d->now_ms, d->ls.grid_kw);
    }
    ds_events_tick(d);
    ds_capacity(d);
    ds_live(d);
    ds_daily(d);
    d->last_tick_ms = d->now_ms;
    pthread_mutex_lock(&d->mu);
    d->stats.ticks++;
    d->stats.events = 0;
    for (int j = 0; j < DS_EVENTS_MAX; j++) {
        d->stats.events += d->ev[j].used;
    }
    pthread_mutex_unlock(&d->mu);
}

static void *ds_thread(void *arg)
{
    struct dispatch *d = arg;

    d->now_ms = clock_now_ms(d->clock);
    ds_restore(d);
    pthread_mutex_lock(&d->mu);
    d->next_tick_mono = clock_mono_ms(d->clock);
    while (!d->stop) {
        int64_t mono = clock_mono_ms(d->clock);

        if (d->head) {
            struct ds_msg *m = d->head;

            d->head = m->next;
            d->tail = d->head ? d->tail : NULL;
            d->queued--;
            d->stats.received++;
            pthread_mutex_unlock(&d->mu);
            ds_handle(d, m);
            free(m->payload);
            free(m);
            pthread_mutex_lock(&d->mu);
        } else if (mono >= d->next_tick_mono) {
            d->next_tick_mono += d->o.tick_ms;
            if (d->next_tick_mono <= mono) {
                d->next_tick_mono = mono + d->o.tick_ms;
            }
            pthread_mutex_unlock(&d->mu);
            ds_tick(d);
            pthread_mutex_lock(&d->mu);
        } else {
            clock_wait(d->clock, &d->cv, &d->mu, d->next_tick_mono - mono);
        }
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

void dispatch_on_message(void *user,
                         const char *topic,
                         const char *payload,
                         size_t len,
                         int retained)
{
    struct dispatch *d = user;
    struct ds_msg *m;
    size_t keep = len > DISPATCH_PAYLOAD_MAX ? DISPATCH_PAYLOAD_MAX + 1 : len;

    pthread_mutex_lock(&d->mu);
    if (d->queued >= d->o.queue_max) {
        d->stats.dropped++;
        pthread_mutex_unlock(&d->mu);
        LOGE("dispatch", "inbound queue full: message on %s dropped", topic);
        return;
    }
    pthread_mutex_unlock(&d->mu);
    /* an over-long payload is refused by its size alone: keep one byte more
     * than the parsers accept, not the whole megabyte */
    m = alloc_array(1, sizeof(*m));
    snprintf(m->topic, sizeof(m->topic), "%s", topic);
    m->payload = alloc_array(keep + 1, 1);
    memcpy(m->payload, payload, keep);
    m->len = keep;
    m->retained = retained;
    pthread_mutex_lock(&d->mu);
    if (d->tail) {
        d->tail->next = m;
    } else {
        d->head = m;
    }
    d->tail = m;
    d->queued++;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

int dispatch_new(const struct dispatch_options *o, struct dispatch **out, struct error_detail *ed)
{
    struct dispatch *d;
    int rc = ERROR_OK;

    *out = NULL;
    if (!o->st || !o->live || o->tick_ms < 10 || o->queue_max < 1 || o->baseline_days < 1 ||
        o->capacity_period_ms < 1000 || o->snapshot_period_ms < 1000 || o->perf_step_ms < 0) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "dispatch: options: a field is missing or out of range");
    }
    d = alloc_array(1, sizeof(*d));
    d->o = *o;
    d->clock = clock_new_real();
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    d->raw = alloc_array(DS_RAW_MAX, sizeof(*d->raw));
    d->placed = alloc_array(2 * DS_RAW_MAX, sizeof(*d->placed));
    d->cap = alloc_array(1, sizeof(*d->cap));
    d->tariff = alloc_array(1, sizeof(*d->tariff));
    d->prices = alloc_array(DISPATCH_PRICES_MAX, sizeof(*d->prices));
    if (o->db_path) {
        struct history_config hc;

        history_config_init(&hc, o->db_path, d->clock);
        rc = history_open(&hc, &d->hist, ed);
    }
    if (rc) {
        dispatch_free(d);
        return rc;
    }
    *out = d;
    return ERROR_OK;
}

int dispatch_start(struct dispatch *d, struct mqtt *m, struct error_detail *ed)
{
    if (d->started) {
        return error_setf(ed, ERROR_STATE, "dispatch: already started");
    }
    d->m = m;
    if (pthread_create(&d->thread, NULL, ds_thread, d) != 0) {
        return error_setf(ed, ERROR_STATE, "dispatch: cannot start the thread");
    }
    d->started = 1;
    return ERROR_OK;
}

void dispatch_free(struct dispatch *d)
{
    if (!d) {
        return;
    }
    if (d->started) {
        pthread_mutex_lock(&d->mu);
        d->stop = 1;
        pthread_cond_signal(&d->cv);
        pthread_mutex_unlock(&d->mu);
        pthread_join(d->thread, NULL);
    }
    while (d->head) {
        struct ds_msg *m = d->head;

        d->head = m->next;
        free(m->payload);
        free(m);
    }
    for (int j = 0; j < DS_EVENTS_MAX; j++) {
        free(d->ev[j].payload);
    }
    history_close(d->hist);
    free(d->raw);
    free(d->placed);
    free(d->cap);
    free(d->tariff);
    free(d->prices);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    clock_free(d->clock);
    free(d);
}

void dispatch_stats(struct dispatch *d, struct dispatch_stats *out)
{
    pthread_mutex_lock(&d->mu);
    *out = d->stats;
    pthread_mutex_unlock(&d->mu);
}
