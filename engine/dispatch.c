/* SPDX-License-Identifier: MIT */
/*
 * dispatch.c - DR events, commands, tariffs and forecasts from the grid
 * dispatcher and the platforms, and the reports flexd owes them
 * (dispatch.h, docs/dr.md, docs/mqtt.md).
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
 *
 * Each accepted event's state is written to the history ("dispatch:{id}")
 * whenever it changes, so after a crash the thread takes the events back
 * before its first tick and goes on reporting (docs/dr.md, Restart).
 */
#define _POSIX_C_SOURCE 200809L
#include "dispatch.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/logger.h"
#include "../io/device.h"
#include "../io/dispatch_msg.h"
#include "../io/history.h"
#include "../io/outbox.h"
#include "../models/tariff.h"
#include "baseline.h"
#include "planner.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DS_EVENTS_MAX    32
#define DS_PIECES_MAX    32 /* live.c's LIVE_DR_MAX */
#define DS_RAW_MAX       (DS_EVENTS_MAX * DISPATCH_INTERVALS_MAX + 1)
#define DS_PERF_MAX      192 /* performance steps kept per event for the reports */
#define DS_TOPIC_MAX     128
#define DS_FULL_TOL_KW   0.5 /* a commitment this close to the request is full delivery */
#define DS_WINDOW_HOURS  24
#define DS_CMD_PRIORITY  (-1)
#define DS_LIVE_ROUND_KW 0.1 /* live data changes smaller than this are not news */

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

static const char *const ds_state_names[] = {"received",
                                             "validated",
                                             "accepted",
                                             "scheduled",
                                             "active",
                                             "completed",
                                             "rejected",
                                             "cancelled"};

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
    struct ds_piece *raw, *placed; /* scratch [DS_RAW_MAX], [DS_RAW_MAX * 2] */
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

static void ds_stat(struct dispatch *d, int64_t *field, int64_t n)
{
    pthread_mutex_lock(&d->mu);
    *field += n;
    pthread_mutex_unlock(&d->mu);
}

/* ---- outbound helpers ---------------------------------------------------- */

static void ds_publish(struct dispatch *d,
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
static void ds_ack(struct dispatch *d,
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

/* ---- baselines and commitment ------------------------------------------- */

/* The baseline of [start, end) by the configured method, with fallbacks:
 * similar days -> the last 15 min measured -> the plan's import. */
static double
ds_baseline(struct dispatch *d, int64_t start_ms, int64_t end_ms, const char **how, int have_cap)
{
    double kw = NAN;

    *how = "similar_days";
    if (d->o.baseline == STATION_BASELINE_SIMILAR_DAYS && d->hist) {
        struct error_detail ed = {{0}};
        double adj = 0.0;
        int used = 0;

        if (baseline_similar_days(d->hist,
                                  start_ms,
                                  end_ms,
                                  d->now_ms,
                                  d->o.baseline_days,
                                  &kw,
                                  &used,
                                  &adj,
                                  &ed) != ERROR_OK) {
            LOGW("dispatch", "baseline: %s", ed.text);
        }
    }
    if (!isfinite(kw)) {
        *how = "recent_15min";
        kw = baseline_ring_mean(&d->ring, d->now_ms, BASELINE_RECENT_MS);
    }
    if (!isfinite(kw) && have_cap) {
        const struct live_capacity *c = d->cap;
        int64_t step_ms = (int64_t)c->step_minutes * 60000;
        double sum = 0.0;
        int n = 0;

        *how = "plan";
        for (int k = 0; k < c->steps; k++) {
            int64_t s = c->start_ms + k * step_ms;

            if (s + step_ms > start_ms && s < end_ms) {
                sum += c->plan_kw[k];
                n++;
            }
        }
        kw = n > 0 ? sum / n : NAN;
    }
    return kw;
}

struct ds_commit {
    enum dispatch_code code; /* OK, INSUFFICIENT_FLEXIBILITY */
    int none;                /* nothing deliverable: reject */
    double committed_kw;     /* NAN: no commitment possible */
    char message[256];
};

/* What the plan in force can deliver of the targets of e (docs/dr.md
 * "Commitment"): per plan step, a cap t can be held down to max(t,
 * net_min), a floor up to min(t, net_max). */
static void ds_commit(struct dispatch *d,
                      const struct dispatch_event *e,
                      const double *target,
                      const double *baseline,
                      int have_cap,
                      struct ds_commit *out)
{
    const struct live_capacity *c = d->cap;
    int64_t step_ms = have_cap ? (int64_t)c->step_minutes * 60000 : 1;
    int floor = e->kind == DISPATCH_IMPORT_FLOOR;
    double worst = floor || e->kind == DISPATCH_REDUCE ? INFINITY : -INFINITY;
    int64_t beyond_ms = 0, within_ms = 0;
    int full = 1, any_del = 0;

    for (int i = 0; i < e->n_intervals; i++) {
        const struct dispatch_interval *iv = &e->interval[i];

        for (int64_t t = iv->start_ms; t < iv->end_ms;) {
            int64_t k = have_cap ? (t - c->start_ms) / step_ms : -1;
            int64_t seg_end = have_cap && k >= 0 ? c->start_ms + (k + 1) * step_ms : iv->end_ms;
            double p, lo, hi, req, avail, held;

            seg_end = seg_end < iv->end_ms ? seg_end : iv->end_ms;
            if (!have_cap || t < c->start_ms || k >= c->n_flex) {
                beyond_ms += seg_end - t;
                t = seg_end;
                continue;
            }
            within_ms += seg_end - t;
            p = c->plan_kw[k];
            lo = fmin(c->net_min_kw[k], p);
            hi = fmax(c->net_max_kw[k], p);
            if (floor) {
                req = fmax(0.0, target[i] - p);
                avail = hi - p;
                held = fmin(target[i], hi);
                worst = fmin(worst, held);
            } else {
                req = fmax(0.0, p - target[i]);
                avail = p - lo;
                held = fmax(target[i], lo);
                worst = e->kind == DISPATCH_REDUCE ? fmin(worst, baseline[i] - held)
                                                   : fmax(worst, held);
            }
            if (fmin(req, avail) < req - DS_FULL_TOL_KW) {
                full = 0;
            }
            if (req > DS_FULL_TOL_KW && avail > DS_FULL_TOL_KW) {
                any_del = 1;
            }
            t = seg_end;
        }
    }
    memset(out, 0, sizeof(*out));
    out->code = DISPATCH_OK;
    out->committed_kw = isfinite(worst) ? worst : NAN;
    if (e->kind == DISPATCH_REDUCE && isfinite(worst)) {
        out->committed_kw = fmin(fmax(worst, 0.0), e->interval[0].value_kw);
    }
    if (within_ms == 0) {
        out->code = DISPATCH_INSUFFICIENT_FLEXIBILITY;
        snprintf(out->message,
                 sizeof(out->message),
                 "%s: no commitment: the event lies beyond the adjustable-capacity horizon",
                 have_cap ? "accepted" : "accepted without a plan yet");
        return;
    }
    if (!full && !any_del) {
        out->none = 1;
        out->code = DISPATCH_INSUFFICIENT_FLEXIBILITY;
        snprintf(out->message, sizeof(out->message), "the plan has no flexibility in the event");
        return;
    }
    if (!full) {
        out->code = DISPATCH_INSUFFICIENT_FLEXIBILITY;
        snprintf(out->message,
                 sizeof(out->message),
                 "partial: %.1f kW committed, the plan cannot reach the request in every step",
                 out->committed_kw);
    }
    if (beyond_ms > 0) {
        size_t n = strlen(out->message);

        out->code = DISPATCH_INSUFFICIENT_FLEXIBILITY;
        snprintf(out->message + n,
                 sizeof(out->message) - n,
                 "%s%lld min beyond the adjustable-capacity horizon are not committed",
                 n ? "; " : "",
                 (long long)(beyond_ms / 60000));
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
static void ds_resolve(struct dispatch *d)
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

/* ---- DR events ------------------------------------------------------------ */

static int ds_find(struct dispatch *d, const char *id)
{
    for (int j = 0; j < DS_EVENTS_MAX; j++) {
        if (d->ev[j].used && strcmp(d->ev[j].ev.id, id) == 0) {
            return j;
        }
    }
    return -1;
}

static void ds_set_state(struct ds_event *e, enum ds_state s)
{
    if (e->state != s) {
        LOGI("dispatch",
             "event %s (modification %d): %s -> %s",
             e->ev.id,
             e->ev.modification,
             ds_state_names[e->state],
             ds_state_names[s]);
        e->state = s;
    }
}

static int64_t ds_perf_step_ms(const struct dispatch *d)
{
    return d->o.perf_step_ms > 0 ? d->o.perf_step_ms : 15 * 60 * 1000;
}

/* The interval of e in force at t, or -1 between intervals. */
static int ds_interval_at(const struct dispatch_event *e, int64_t t)
{
    for (int i = 0; i < e->n_intervals; i++) {
        if (t >= e->interval[i].start_ms && t < e->interval[i].end_ms) {
            return i;
        }
    }
    return -1;
}

static double ds_compliance(double delivered_kwh, double required_kwh)
{
    return required_kwh > 1e-6 ? fmax(0.0, delivered_kwh) / required_kwh : NAN;
}

/* Close the performance step [step_start, until) of e and report it. */
static void ds_perf_close(struct dispatch *d, struct ds_event *e, int64_t until_ms, int final)
{
    int64_t s = e->step_start_ms;
    int i = ds_interval_at(&e->ev, s + (until_ms - s) / 2);
    double hours = (double)(until_ms - s) / 3.6e6;

    if (until_ms > s && i >= 0) {
        struct dispatch_perf_step st = {s, e->baseline_kw[i], NAN, e->target_kw[i]};
        int floor = e->ev.kind == DISPATCH_IMPORT_FLOOR;

        st.measured_kw = e->step_n > 0 ? e->step_sum_kw / e->step_n : NAN;
        if (isfinite(st.measured_kw) && isfinite(st.baseline_kw)) {
            double del = floor ? st.measured_kw - st.baseline_kw : st.baseline_kw - st.measured_kw;
            double req =
                fmax(0.0, floor ? st.target_kw - st.baseline_kw : st.baseline_kw - st.target_kw);

            e->delivered_kwh += del * hours;
            e->required_kwh += req * hours;
            d->day.dr_delivered_kwh += del * hours;
            d->day_required_kwh += req * hours;
        }
        if (e->n_perf < DS_PERF_MAX) {
            e->perf[e->n_perf++] = st;
        }
    }
    e->step_start_ms = until_ms;
    e->step_sum_kw = 0.0;
    e->step_n = 0;
    if (e->n_perf > 0 || final) {
        ds_publish(d,
                   DISPATCH_TOPIC_DR_PERFORMANCE,
                   dispatch_performance_json(e->ev.id,
                                             final,
                                             e->perf,
                                             e->n_perf,
                                             e->delivered_kwh,
                                             e->required_kwh,
                                             ds_compliance(e->delivered_kwh, e->required_kwh)),
                   0,
                   OUTBOX_DR_PERFORMANCE,
                   NULL);
        ds_stat(d, &d->stats.perf_reports, 1);
    }
}

/* ---- persistence: an event goes on after a restart ------------------------ */

#define DS_HIST_PREFIX "dispatch:"

static void ds_json_nums(cJSON *o, const char *k, const double *v, int n)
{
    cJSON *a = cJSON_AddArrayToObject(o, k);

    for (int i = 0; i < n; i++) {
        cJSON_AddItemToArray(a, isfinite(v[i]) ? cJSON_CreateNumber(v[i]) : cJSON_CreateNull());
    }
}

static double ds_json_num(const cJSON *v)
{
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Write e's state to the history as "dispatch:{id}" and commit it. The
 * JSON has no "type" key: live resumes only rows with one (its own). */
static void ds_persist(struct dispatch *d, const struct ds_event *e, enum history_dr_state hs)
{
    struct error_detail ed = {{0}};
    struct history_dr hd;
    cJSON *o, *perf;
    char *json;

    if (!d->hist || !e->payload) {
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "payload", e->payload);
    cJSON_AddNumberToObject(o, "accepted_ms", (double)e->accepted_ms);
    cJSON_AddNumberToObject(o, "state", e->state);
    cJSON_AddNumberToObject(o, "modification", e->ev.modification);
    cJSON_AddNumberToObject(o, "priority", e->ev.priority);
    cJSON_AddNumberToObject(o, "committed_kw", e->committed_kw);
    ds_json_nums(o, "baseline_kw", e->baseline_kw, e->ev.n_intervals);
    ds_json_nums(o, "target_kw", e->target_kw, e->ev.n_intervals);
    cJSON_AddNumberToObject(o, "step_start_ms", (double)e->step_start_ms);
    cJSON_AddNumberToObject(o, "step_sum_kw", e->step_sum_kw);
    cJSON_AddNumberToObject(o, "step_n", e->step_n);
    cJSON_AddNumberToObject(o, "delivered_kwh", e->delivered_kwh);
    cJSON_AddNumberToObject(o, "required_kwh", e->required_kwh);
    cJSON_AddNumberToObject(o, "counted_day_ms", (double)e->counted_day_ms);
    perf = cJSON_AddArrayToObject(o, "perf");
    for (int k = 0; k < e->n_perf; k++) {
        double v[4] = {(double)e->perf[k].start_ms,
                       e->perf[k].baseline_kw,
                       e->perf[k].measured_kw,
                       e->perf[k].target_kw};
        cJSON *row = cJSON_CreateObject();

        ds_json_nums(row, "v", v, 4);
        cJSON_AddItemToArray(perf, row);
    }
    json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    memset(&hd, 0, sizeof(hd));
    snprintf(hd.id, sizeof(hd.id), DS_HIST_PREFIX "%s", e->ev.id);
    hd.received_ms = e->accepted_ms;
    hd.start_ms = e->ev.interval[0].start_ms;
    hd.end_ms = e->ev.interval[e->ev.n_intervals - 1].end_ms;
    hd.state = hs;
    hd.json = json;
    if (history_put_dr(d->hist, &hd, &ed) != ERROR_OK || history_flush(d->hist, &ed) != ERROR_OK) {
        LOGW("dispatch", "event %s: state not saved: %s", e->ev.id, ed.text);
    }
    free(json);
}

/* The slot's state as the history knows it. */
static enum history_dr_state ds_hist_state(const struct ds_event *e)
{
    return e->state == DS_ACTIVE ? HISTORY_DR_ACTIVE : HISTORY_DR_ACCEPTED;
}

/* After ds_finish() and its ack: the event's last record, then its payload. */
static void ds_release(struct dispatch *d, struct ds_event *e, enum history_dr_state hs)
{
    ds_persist(d, e, hs);
    free(e->payload);
    e->payload = NULL;
}

/* One stored event back into a free slot; 0 when it could not be. */
static int ds_restore_one(struct dispatch *d, const struct history_dr *hd, struct ds_event *e)
{
    struct dispatch_error err;
    cJSON *o = cJSON_Parse(hd->json);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "payload");
    const cJSON *bl = cJSON_GetObjectItemCaseSensitive(o, "baseline_kw");
    const cJSON *tg = cJSON_GetObjectItemCaseSensitive(o, "target_kw");
    const cJSON *perf = cJSON_GetObjectItemCaseSensitive(o, "perf");
    const cJSON *r;
    int ok = 0;

    memset(&err, 0, sizeof(err));
    memset(e, 0, sizeof(*e));
    if (!cJSON_IsString(p) || !cJSON_IsArray(bl) || !cJSON_IsArray(tg)) {
        goto out;
    }
    e->accepted_ms = (int64_t)ds_json_num(cJSON_GetObjectItemCaseSensitive(o, "accepted_ms"));
    if (dispatch_parse_event(p->valuestring,
                             strlen(p->valuestring),
                             e->accepted_ms,
                             &e->ev,
                             &err) != DISPATCH_OK) {
        LOGW("dispatch", "%s: stored event not valid: %s", hd->id, err.message);
        goto out;
    }
    for (int i = 0; i < e->ev.n_intervals; i++) {
        e->baseline_kw[i] = ds_json_num(cJSON_GetArrayItem(bl, i));
        e->target_kw[i] = ds_json_num(cJSON_GetArrayItem(tg, i));
    }
    r = cJSON_GetObjectItemCaseSensitive(o, "state");
    e->state = cJSON_IsNumber(r) && r->valueint == DS_ACTIVE ? DS_ACTIVE : DS_ACCEPTED;
    e->committed_kw = ds_json_num(cJSON_GetObjectItemCaseSensitive(o, "committed_kw"));
    e->step_start_ms = (int64_t)ds_json_num(cJSON_GetObjectItemCaseSensitive(o, "step_start_ms"));
    e->step_sum_kw = ds_json_num(cJSON_GetObjectItemCaseSensitive(o, "step_sum_kw"));
    e->step_n = (int)ds_json_num(cJSON_GetObjectItemCaseSensitive(o, "step_n"));
    e->delivered_kwh = ds_json_num(cJSON_GetObjectItemCaseSensitive(o, "delivered_kwh"));
    e->required_kwh = ds_json_num(cJSON_GetObjectItemCaseSensitive(o, "required_kwh"));
    e->counted_day_ms = (int64_t)ds_json_num(cJSON_GetObjectItemCaseSensitive(o, "counted_day_ms"));
    if (!isfinite(e->step_sum_kw) || e->step_n < 0) {
        e->step_sum_kw = 0.0;
        e->step_n = 0;
    }
    cJSON_ArrayForEach(r, perf)
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "v");

        if (e->n_perf < DS_PERF_MAX && cJSON_GetArraySize(v) == 4) {
            struct dispatch_perf_step *st = &e->perf[e->n_perf++];

            st->start_ms = (int64_t)ds_json_num(cJSON_GetArrayItem(v, 0));
            st->baseline_kw = ds_json_num(cJSON_GetArrayItem(v, 1));
            st->measured_kw = ds_json_num(cJSON_GetArrayItem(v, 2));
            st->target_kw = ds_json_num(cJSON_GetArrayItem(v, 3));
        }
    }
    e->payload = alloc_printf("%s", p->valuestring);
    e->used = 1;
    e->seq = ++d->seq;
    ok = 1;
out:
    cJSON_Delete(o);
    return ok;
}

/* Take back the events accepted before a restart: no new ack, their caps
 * to live at once, performance goes on. Live's own rows are skipped. */
static void ds_restore(struct dispatch *d)
{
    struct error_detail ed = {{0}};
    struct history_dr *list = NULL;
    int n = 0, slot = 0, restored = 0;

    if (!d->hist || history_active_dr(d->hist, &list, &n, &ed) != ERROR_OK) {
        if (d->hist) {
            LOGW("dispatch", "cannot read the stored events: %s", ed.text);
        }
        return;
    }
    for (int i = 0; i < n && slot < DS_EVENTS_MAX; i++) {
        if (strncmp(list[i].id, DS_HIST_PREFIX, strlen(DS_HIST_PREFIX)) != 0 || !list[i].json) {
            continue;
        }
        if (ds_restore_one(d, &list[i], &d->ev[slot])) {
            LOGI("dispatch",
                 "event %s (modification %d) resumed %s",
                 d->ev[slot].ev.id,
                 d->ev[slot].ev.modification,
                 ds_state_names[d->ev[slot].state]);
            slot++;
            restored++;
        }
    }
    history_dr_list_free(list, n);
    if (restored > 0) {
        ds_resolve(d);
    }
}

/* Leave the event: a final report when it had started, then free the slot. */
static void ds_finish(struct dispatch *d, struct ds_event *e, enum ds_state s)
{
    if (e->state == DS_ACTIVE) {
        int64_t end = e->ev.interval[e->ev.n_intervals - 1].end_ms;

        ds_perf_close(d, e, d->now_ms < end ? d->now_ms : end, 1);
    }
    ds_set_state(e, s);
    e->used = 0;
}

/* Baselines and targets of every interval; 0, or a code with msg set. */
static int ds_targets(struct dispatch *d, struct ds_event *e, int have_cap, const char **how)
{
    *how = "";
    for (int i = 0; i < e->ev.n_intervals; i++) {
        const struct dispatch_interval *iv = &e->ev.interval[i];

        e->baseline_kw[i] = ds_baseline(d, iv->start_ms, iv->end_ms, how, have_cap);
        if (e->ev.kind == DISPATCH_REDUCE) {
            if (!isfinite(e->baseline_kw[i])) {
                return DISPATCH_INSUFFICIENT_FLEXIBILITY;
            }
            e->target_kw[i] = e->baseline_kw[i] - iv->value_kw;
        } else {
            e->target_kw[i] = iv->value_kw;
        }
    }
    return DISPATCH_OK;
}

static void ds_on_event(struct dispatch *d, const char *payload, size_t len)
{
    struct ds_event *ne = alloc_array(1, sizeof(*ne));
    struct dispatch_error err;
    struct ds_commit cm;
    char key[96], msg[400];
    const char *how = "";
    int rc, slot, have_cap;

    memset(&err, 0, sizeof(err));
    ne->state = DS_RECEIVED;
    rc = dispatch_parse_event(payload, len, d->now_ms, &ne->ev, &err);
    if (rc) {
        ds_ack(d, err.id, "rejected", (enum dispatch_code)rc, err.message, NAN, NULL);
        goto out;
    }
    ne->state = DS_VALIDATED;
    snprintf(key, sizeof(key), "event:%s:%d", ne->ev.id, ne->ev.modification);
    slot = ds_find(d, ne->ev.id);
    if (mqtt_inbound_seen(d->m, key) == 1 ||
        (slot >= 0 && d->ev[slot].ev.modification == ne->ev.modification)) {
        snprintf(msg,
                 sizeof(msg),
                 "event %s modification %d was already processed; this copy is ignored",
                 ne->ev.id,
                 ne->ev.modification);
        ds_ack(d, ne->ev.id, "rejected", DISPATCH_DUPLICATE, msg, NAN, NULL);
        goto out;
    }
    if (slot >= 0 && d->ev[slot].ev.modification > ne->ev.modification) {
        snprintf(msg,
                 sizeof(msg),
                 "modificationNumber %d: modification %d is in force",
                 ne->ev.modification,
                 d->ev[slot].ev.modification);
        ds_ack(d, ne->ev.id, "rejected", DISPATCH_CONFLICT, msg, NAN, NULL);
        goto out;
    }
    if (ne->ev.cancel) {
        if (slot < 0) {
            snprintf(msg, sizeof(msg), "id: \"%s\": no such event in force", ne->ev.id);
            ds_ack(d, ne->ev.id, "rejected", DISPATCH_UNKNOWN_EVENT, msg, NAN, NULL);
            goto out;
        }
        ds_finish(d, &d->ev[slot], DS_CANCELLED);
        ds_resolve(d);
        ds_ack(d, ne->ev.id, "cancelled", DISPATCH_OK, NULL, NAN, key);
        ds_release(d, &d->ev[slot], HISTORY_DR_CANCELLED);
        goto out;
    }
    have_cap = live_capacity(d->o.live, d->cap) == ERROR_OK;
    if (ds_targets(d, ne, have_cap, &how) != DISPATCH_OK) {
        ds_ack(d,
               ne->ev.id,
               "rejected",
               DISPATCH_INSUFFICIENT_FLEXIBILITY,
               "no baseline: no history, no measurement and no plan yet",
               NAN,
               key);
        goto out;
    }
    ds_commit(d, &ne->ev, ne->target_kw, ne->baseline_kw, have_cap, &cm);
    if (cm.none) {
        ds_set_state(ne, DS_REJECTED);
        ds_ack(d, ne->ev.id, "rejected", cm.code, cm.message, 0.0, key);
        goto out;
    }
    if (slot < 0) {
        for (int j = 0; j < DS_EVENTS_MAX && slot < 0; j++) {
            slot = d->ev[j].used ? -1 : j;
        }
        if (slot < 0) {
            ds_ack(d,
                   ne->ev.id,
                   "rejected",
                   DISPATCH_OUT_OF_RANGE,
                   "events: 32 are already in force",
                   NAN,
                   key);
            goto out;
        }
    } else {
        /* a modification: delivery so far is kept */
        struct ds_event *old = &d->ev[slot];

        ne->state = old->state;
        ne->step_start_ms = old->step_start_ms;
        ne->step_sum_kw = old->step_sum_kw;
        ne->step_n = old->step_n;
        memcpy(ne->perf, old->perf, sizeof(ne->perf));
        ne->n_perf = old->n_perf;
        ne->delivered_kwh = old->delivered_kwh;
        ne->required_kwh = old->required_kwh;
        ne->counted_day_ms = old->counted_day_ms;
        free(old->payload);
        old->payload = NULL;
    }
    ne->payload = alloc_array(len + 1, 1);
    memcpy(ne->payload, payload, len);
    ne->accepted_ms = d->now_ms;
    ne->used = 1;
    ne->seq = ++d->seq;
    ne->committed_kw = cm.committed_kw;
    if (ne->state < DS_ACCEPTED) {
        ds_set_state(ne, DS_ACCEPTED);
    }
    d->ev[slot] = *ne;
    ds_resolve(d);
    snprintf(msg, sizeof(msg), "%s%sbaseline %s", cm.message, cm.message[0] ? "; " : "", how);
    ds_ack(d, ne->ev.id, "accepted", cm.code, msg, cm.committed_kw, key);
    ds_persist(d, &d->ev[slot], ds_hist_state(&d->ev[slot]));
out:
    free(ne);
}

/* Lifecycle and performance on every tick. */
static void ds_events_tick(struct dispatch *d)
{
    int changed = 0;

    for (int j = 0; j < DS_EVENTS_MAX; j++) {
        struct ds_event *e = &d->ev[j];
        int64_t first, last;
        int save = 0;

        if (!e->used) {
            continue;
        }
        first = e->ev.interval[0].start_ms;
        last = e->ev.interval[e->ev.n_intervals - 1].end_ms;
        if (d->now_ms >= last) {
            char msg[160];

            if (e->state != DS_ACTIVE) { /* ran its course between two ticks */
                ds_set_state(e, DS_ACTIVE);
                e->step_start_ms = first;
            }
            ds_finish(d, e, DS_COMPLETED);
            snprintf(msg,
                     sizeof(msg),
                     "delivered %.2f kWh of %.2f kWh",
                     e->delivered_kwh,
                     e->required_kwh);
            ds_ack(d, e->ev.id, "completed", DISPATCH_OK, msg, e->committed_kw, NULL);
            ds_release(d, e, HISTORY_DR_FINISHED);
            changed = 1;
            continue;
        }
        if (d->now_ms < first) {
            ds_set_state(e, DS_SCHEDULED);
            continue;
        }
        if (e->state != DS_ACTIVE) {
            ds_set_state(e, DS_ACTIVE);
            e->step_start_ms = first;
            save = 1;
        }
        if (e->counted_day_ms != d->day_start_ms) {
            e->counted_day_ms = d->day_start_ms;
            d->day.dr_events++;
        }
        while (d->now_ms >= e->step_start_ms + ds_perf_step_ms(d)) {
            ds_perf_close(d, e, e->step_start_ms + ds_perf_step_ms(d), 0);
            save = 1;
        }
        if (save) {
            ds_persist(d, e, HISTORY_DR_ACTIVE);
        }
        if (d->ls.meter_ok && ds_interval_at(&e->ev, d->now_ms) >= 0) {
            e->step_sum_kw += d->ls.grid_kw;
            e->step_n++;
        }
    }
    if (d->cmd_cap && d->now_ms >= d->cmd_cap_end_ms) {
        d->cmd_cap = 0;
        changed = 1;
    }
    (void)changed;
    ds_resolve(d); /* also drops pieces that ended */
}

/* ---- commands, tariffs, forecasts ----------------------------------------- */

static void ds_on_command(struct dispatch *d, const char *payload, size_t len, int retained)
{
    struct dispatch_command c;
    struct dispatch_error err;
    struct live_override ov;
    char key[96], msg[300];
    double committed = NAN;
    enum dispatch_code code = DISPATCH_OK;
    int64_t end;
    int rc;

    memset(&err, 0, sizeof(err));
    memset(&ov, 0, sizeof(ov));
    msg[0] = '\0';
    rc = dispatch_parse_command(payload, len, retained, d->now_ms, &c, &err);
    if (rc) {
        ds_ack(d, err.id, "rejected", (enum dispatch_code)rc, err.message, NAN, NULL);
        if (rc == DISPATCH_RETAINED_COMMAND) {
            mqtt_clear_retained(d->m, DISPATCH_TOPIC_COMMAND);
        }
        return;
    }
    snprintf(key, sizeof(key), "command:%s", c.id);
    if (mqtt_inbound_seen(d->m, key) == 1) {
        ds_ack(d,
               c.id,
               "rejected",
               DISPATCH_DUPLICATE,
               "command already applied; this copy is ignored",
               NAN,
               NULL);
        return;
    }
    if (c.kind == DISPATCH_CMD_BATTERY_SETPOINT && d->o.st->has_ess &&
        (c.value_kw > d->o.st->ess.discharge_max_kw || -c.value_kw > d->o.st->ess.charge_max_kw)) {
        snprintf(msg,
                 sizeof(msg),
                 "value: %.1f: outside the battery's range [-%.1f, %.1f] kW",
                 c.value_kw,
                 d->o.st->ess.charge_max_kw,
                 d->o.st->ess.discharge_max_kw);
        ds_ack(d, c.id, "rejected", DISPATCH_OUT_OF_RANGE, msg, NAN, key);
        return;
    }
    end = c.duration_ms > 0 ? d->now_ms + c.duration_ms : 0;
    switch (c.kind) {
    case DISPATCH_CMD_IMPORT_CAP: {
        struct dispatch_event e;
        struct ds_commit cm;
        double base = NAN;

        d->cmd_cap = 1;
        snprintf(d->cmd_cap_id, sizeof(d->cmd_cap_id), "%s", c.id);
        d->cmd_cap_kw = c.value_kw;
        d->cmd_cap_start_ms = d->now_ms;
        d->cmd_cap_end_ms = end ? end : d->now_ms + DISPATCH_HOLD_MAX_MS;
        ds_resolve(d); /* the limit first, the ack after: the ack is not on the path */
        memset(&e, 0, sizeof(e));
        e.kind = DISPATCH_IMPORT_CAP;
        e.n_intervals = 1;
        e.interval[0].start_ms = d->cmd_cap_start_ms;
        e.interval[0].end_ms = d->cmd_cap_end_ms;
        ds_commit(d, &e, &c.value_kw, &base, live_capacity(d->o.live, d->cap) == ERROR_OK, &cm);
        code = cm.none ? DISPATCH_INSUFFICIENT_FLEXIBILITY : cm.code;
        committed = cm.none ? NAN : cm.committed_kw;
        snprintf(msg, sizeof(msg), "%s", cm.message);
        break;
    }
    case DISPATCH_CMD_BATTERY_SETPOINT:
    case DISPATCH_CMD_EMERGENCY_HOLD_RESERVE:
    case DISPATCH_CMD_EMERGENCY_SUPPORT:
        ov.mode = c.kind == DISPATCH_CMD_BATTERY_SETPOINT         ? LIVE_OVERRIDE_BATTERY
                  : c.kind == DISPATCH_CMD_EMERGENCY_HOLD_RESERVE ? LIVE_OVERRIDE_HOLD_RESERVE
                                                                  : LIVE_OVERRIDE_SUPPORT;
        ov.battery_kw = c.value_kw;
        ov.until_ms = end;
        snprintf(d->cmd_ovr_id, sizeof(d->cmd_ovr_id), "%s", c.id);
        live_override(d->o.live, &ov);
        ds_stat(d, &d->stats.overrides, 1);
        break;
    case DISPATCH_CMD_AUTO:
        d->cmd_cap = 0;
        d->cmd_ovr_id[0] = '\0';
        live_override(d->o.live, &ov);
        ds_stat(d, &d->stats.overrides, 1);
        ds_resolve(d);
        break;
    }
    ds_ack(d, c.id, "applied", code, msg[0] ? msg : NULL, committed, key);
}

static void ds_on_tariff(struct dispatch *d, const char *payload, size_t len)
{
    struct dispatch_tariff *t = d->tariff;
    struct dispatch_error err;
    char key[96], msg[200];
    int seen, rc;

    memset(&err, 0, sizeof(err));
    rc = dispatch_parse_tariff(payload, len, d->now_ms, t, &err);
    if (rc) {
        ds_ack(d, err.id, "rejected", (enum dispatch_code)rc, err.message, NAN, NULL);
        return;
    }
    snprintf(key, sizeof(key), "tariff:%s", t->id);
    seen = mqtt_inbound_seen(d->m, key) == 1;
    d->n_prices = t->n_prices;
    for (int i = 0; i < t->n_prices; i++) {
        d->prices[i].start_ms = t->price[i].start_ms;
        d->prices[i].end_ms = t->price[i].end_ms;
        d->prices[i].buy_cny_per_kwh = t->price[i].buy_cny_per_kwh;
        d->prices[i].sell_cny_per_kwh = t->price[i].sell_cny_per_kwh;
    }
    /* applied again when seen (a retained tariff after a restart: live
     * keeps prices in memory only), acknowledged once */
    live_set_prices(d->o.live, d->prices, d->n_prices);
    ds_stat(d, &d->stats.price_sets, 1);
    if (!seen) {
        snprintf(msg, sizeof(msg), "%d price intervals: re-planning", t->n_prices);
        ds_ack(d, t->id, "accepted", DISPATCH_OK, msg, NAN, key);
    }
}

/* A platform forecast becomes an outlook of the EV-arrival forecast
 * (engine/ev_forecast.h); the latest of each kind replaces the last, and
 * a retained one delivered again after a restart is applied again but
 * acknowledged once. */
static void ds_on_forecast(struct dispatch *d, const char *payload, size_t len, int kind)
{
    struct dispatch_forecast f;
    struct dispatch_error err;
    struct ev_outlook_interval iv[DISPATCH_INTERVALS_MAX];
    char key[96], msg[160];
    int rc;

    memset(&err, 0, sizeof(err));
    rc = dispatch_parse_forecast(payload, len, kind, &f, &err);
    if (rc) {
        ds_ack(d, err.id, "rejected", (enum dispatch_code)rc, err.message, NAN, NULL);
        return;
    }
    for (int i = 0; i < f.n; i++) {
        iv[i].start_ms = f.interval[i].start_ms;
        iv[i].end_ms = f.interval[i].end_ms;
        iv[i].value = f.interval[i].value_kw; /* the kind's unit */
    }
    live_set_outlook(d->o.live,
                     kind == DISPATCH_FORECAST_VISITOR_FLOW ? EV_OUTLOOK_VISITOR_FLOW
                                                            : EV_OUTLOOK_ROAD_CONGESTION,
                     iv,
                     f.n);
    snprintf(key, sizeof(key), "forecast:%d:%s", kind, f.id);
    if (mqtt_inbound_seen(d->m, key) != 1) {
        snprintf(msg, sizeof(msg), "%d intervals feed the EV-arrival forecast: re-planning", f.n);
        ds_ack(d, f.id, "accepted", DISPATCH_OK, msg, NAN, key);
    }
}

/* A driver's declared departure and energy for the car on a connector:
 * the planner's session then uses them instead of the learned defaults. */
static void ds_on_declare(struct dispatch *d, const char *payload, size_t len)
{
    struct dispatch_declaration x;
    struct dispatch_error err;
    char key[96], msg[200];
    int rc;

    memset(&err, 0, sizeof(err));
    rc = dispatch_parse_declaration(payload, len, d->now_ms, &x, &err);
    if (rc) {
        ds_ack(d, err.id, "rejected", (enum dispatch_code)rc, err.message, NAN, NULL);
        return;
    }
    snprintf(key, sizeof(key), "declare:%s", x.id);
    if (mqtt_inbound_seen(d->m, key) == 1) {
        ds_ack(d,
               x.id,
               "rejected",
               DISPATCH_DUPLICATE,
               "declaration already applied; this copy is ignored",
               NAN,
               NULL);
        return;
    }
    if (live_declare(d->o.live, x.connector, x.departure_ms, x.energy_kwh) != ERROR_OK) {
        snprintf(msg,
                 sizeof(msg),
                 "connector: \"%s\": not a connector of this station",
                 x.connector);
        ds_ack(d, x.id, "rejected", DISPATCH_OUT_OF_RANGE, msg, NAN, key);
        return;
    }
    snprintf(msg,
             sizeof(msg),
             "for the car on %s, or the next plugged in there within 15 min: re-planning",
             x.connector);
    ds_ack(d, x.id, "accepted", DISPATCH_OK, msg, NAN, key);
}

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

/* ---- outbound: adjustable capacity ------------------------------------------ */

/* The largest change that every plan step overlapping [start, start +
 * minutes) allows; 0 when the window leaves the flexibility horizon. */
static void
ds_window(const struct live_capacity *c, int64_t start_ms, int minutes, struct dispatch_window *w)
{
    int64_t step_ms = (int64_t)c->step_minutes * 60000;
    int64_t end_ms = start_ms + (int64_t)minutes * 60000;
    int64_t k0 = (start_ms - c->start_ms) / step_ms;
    int64_t k1 = (end_ms - 1 - c->start_ms) / step_ms;

    w->start_ms = start_ms;
    w->minutes = minutes;
    w->reduce_kw = INFINITY;
    w->increase_kw = INFINITY;
    if (k0 < 0 || k1 >= c->n_flex) {
        w->reduce_kw = w->increase_kw = 0.0;
        return;
    }
    for (int64_t k = k0; k <= k1; k++) {
        w->reduce_kw = fmin(w->reduce_kw, fmax(0.0, c->plan_kw[k] - c->net_min_kw[k]));
        w->increase_kw = fmin(w->increase_kw, fmax(0.0, c->net_max_kw[k] - c->plan_kw[k]));
    }
}

static void ds_capacity(struct dispatch *d)
{
    static const int minutes[] = {15, 30, 60, 120};
    const struct live_capacity *c = d->cap;
    struct dispatch_capacity_step *steps;
    struct dispatch_window w[4 * DS_WINDOW_HOURS];
    int64_t step_ms, first;
    int n = 0, nw = 0;

    if (live_capacity(d->o.live, d->cap) != ERROR_OK) {
        return;
    }
    if (strcmp(c->plan_id, d->cap_plan_id) == 0 && d->now_ms < d->cap_next_ms) {
        return;
    }
    snprintf(d->cap_plan_id, sizeof(d->cap_plan_id), "%s", c->plan_id);
    d->cap_next_ms = d->now_ms + d->o.capacity_period_ms;
    step_ms = (int64_t)c->step_minutes * 60000;
    first = d->now_ms > c->start_ms ? (d->now_ms - c->start_ms) / step_ms : 0;
    steps = alloc_array((size_t)(c->n_flex > 0 ? c->n_flex : 1), sizeof(*steps));
    for (int64_t k = first; k < c->n_flex && n < 24 * 60 / c->step_minutes; k++) {
        steps[n].start_ms = c->start_ms + k * step_ms;
        steps[n].net_min_kw = c->net_min_kw[k];
        steps[n].net_max_kw = c->net_max_kw[k];
        steps[n].plan_kw = c->plan_kw[k];
        steps[n].marginal_cny_per_kwh = c->marginal_cny_per_kwh[k];
        n++;
    }
    for (int h = 0; h < DS_WINDOW_HOURS; h++) {
        int64_t start = h == 0 ? d->now_ms : (d->now_ms / 3600000 + h) * 3600000;

        for (int m = 0; m < 4; m++) {
            ds_window(c, start, minutes[m], &w[nw]);
            if (w[nw].reduce_kw > 0.0 || w[nw].increase_kw > 0.0 || h == 0) {
                nw++;
            }
        }
    }
    ds_publish(d,
               DISPATCH_TOPIC_CAPACITY,
               dispatch_capacity_json(d->now_ms, steps, n, c->step_minutes, w, nw),
               1,
               OUTBOX_CAPACITY,
               NULL);
    ds_stat(d, &d->stats.capacity_reports, 1);
    free(steps);
}

/* ---- outbound: live data ------------------------------------------------- */

static enum dispatch_connector_state ds_conn_state(int s)
{
    switch (s) {
    case DEVICE_CONNECTOR_AVAILABLE:
        return DISPATCH_CONN_AVAILABLE;
    case DEVICE_CONNECTOR_PLUGGED:
        return DISPATCH_CONN_PREPARING;
    case DEVICE_CONNECTOR_CHARGING:
        return DISPATCH_CONN_CHARGING;
    case DEVICE_CONNECTOR_FAULT:
        return DISPATCH_CONN_FAULTED;
    default:
        return DISPATCH_CONN_UNKNOWN;
    }
}

static double ds_round(double kw)
{
    return isfinite(kw) ? round(kw / DS_LIVE_ROUND_KW) * DS_LIVE_ROUND_KW : kw;
}

static void ds_flows(const struct live_status *ls, struct dispatch_flows *f)
{
    f->grid_kw = ls->meter_ok ? ds_round(ls->grid_kw) : NAN;
    f->pv_kw = ds_round(ls->pv_kw);
    f->pv_limit_kw = ds_round(ls->set_pv_limit_kw);
    f->battery_kw = ds_round(ls->ess_kw);
    f->battery_soc = ls->soc_known ? round(ls->soc * 1000.0) / 1000.0 : NAN;
    f->ev_kw = ds_round(ls->ev_kw);
    f->base_kw = ds_round(ls->base_kw);
    f->import_max_kw = ds_round(ls->import_max_kw);
    f->import_min_kw = ds_round(ls->import_min_kw);
}

static void ds_parking(struct dispatch *d, struct dispatch_parking *p)
{
    const struct live_status *ls = &d->ls;

    memset(p, 0, sizeof(*p));
    p->spaces = d->o.st->parking.spaces;
    p->occupied = ls->parking_ok ? ls->parking_occupied : -1;
    p->ev_spaces = d->o.st->parking.ev_spaces;
    p->ev_occupied = 0;
    for (int k = 0; k < ls->n_conn; k++) {
        p->ev_occupied += ls->conn_state[k] == DEVICE_CONNECTOR_PLUGGED ||
                          ls->conn_state[k] == DEVICE_CONNECTOR_CHARGING;
    }
    p->accessible_spaces = d->o.st->parking.accessible_spaces;
    p->accessible_occupied = -1; /* no sensor tells */
    p->entries_today = d->gates_known ? (int)(ls->gate_in - d->gate_in0) : -1;
    p->exits_today = d->gates_known ? (int)(ls->gate_out - d->gate_out0) : -1;
}

static struct dispatch_connector *ds_connectors(struct dispatch *d)
{
    struct dispatch_connector *c = alloc_array((size_t)d->ls.n_conn + 1, sizeof(*c));

    for (int k = 0; k < d->ls.n_conn; k++) {
        const struct station_connector *sc = planner_connector(d->o.st, k, NULL);

        snprintf(c[k].id, sizeof(c[k].id), "%s", sc ? sc->id : "?");
        c[k].state = ds_conn_state(d->ls.conn_state[k]);
        c[k].power_kw = ds_round(d->ls.conn_kw[k]);
        c[k].limit_kw = NAN; /* live_status has the sum only */
        c[k].max_kw = sc ? sc->max_kw : NAN;
        c[k].session_kwh = NAN;
        c[k].soc = NAN;
    }
    return c;
}

static const char *ds_active_event(const struct dispatch *d)
{
    for (int j = 0; j < DS_EVENTS_MAX; j++) {
        if (d->ev[j].used && d->ev[j].state == DS_ACTIVE) {
            return d->ev[j].ev.id;
        }
    }
    return NULL;
}

static void ds_live(struct dispatch *d)
{
    const struct live_status *ls = &d->ls;
    struct dispatch_flows f;
    struct dispatch_parking p;
    struct dispatch_connector *c = ds_connectors(d);
    int conn_changed = !d->live_init;
    int n = 0;

    ds_flows(ls, &f);
    ds_parking(d, &p);
    for (int k = 0; k < ls->n_conn; k++) {
        conn_changed |=
            d->last_conn_state[k] != ls->conn_state[k] || d->last_conn_kw[k] != c[k].power_kw;
        d->last_conn_state[k] = ls->conn_state[k];
        d->last_conn_kw[k] = c[k].power_kw;
    }
    /* one message per topic per tick at most: the tick is the throttle */
    if (!d->live_init || memcmp(&f, &d->last_flows, sizeof(f)) != 0) {
        ds_publish(d,
                   DISPATCH_TOPIC_LIVE_FLOWS,
                   dispatch_flows_json(d->now_ms, &f),
                   0,
                   OUTBOX_LIVE,
                   NULL);
        n++;
    }
    if (conn_changed) {
        ds_publish(d,
                   DISPATCH_TOPIC_LIVE_CONNECTORS,
                   dispatch_connectors_json(d->now_ms, c, ls->n_conn),
                   0,
                   OUTBOX_LIVE,
                   NULL);
        n++;
    }
    if (!d->live_init || memcmp(&p, &d->last_parking, sizeof(p)) != 0) {
        ds_publish(d,
                   DISPATCH_TOPIC_LIVE_PARKING,
                   dispatch_parking_json(d->now_ms, &p),
                   0,
                   OUTBOX_LIVE,
                   NULL);
        n++;
    }
    if (d->now_ms >= d->snapshot_next_ms) {
        struct dispatch_snapshot s;

        memset(&s, 0, sizeof(s));
        s.mode = !ls->meter_ok                     ? DISPATCH_MODE_FAILSAFE
                 : ls->override_mode || d->cmd_cap ? DISPATCH_MODE_COMMAND
                 : ls->on_plan                     ? DISPATCH_MODE_PLAN
                                                   : DISPATCH_MODE_RULES;
        s.dr_event_id = ds_active_event(d);
        s.command_id = d->cmd_cap ? d->cmd_cap_id : d->cmd_ovr_id[0] ? d->cmd_ovr_id : NULL;
        s.devices_online = ls->devices_online;
        s.devices_total = ls->devices_total;
        s.sessions_open = ls->sessions_open;
        s.flows = f;
        s.parking = p;
        s.connectors = c;
        s.n_connectors = ls->n_conn;
        ds_publish(d,
                   DISPATCH_TOPIC_LIVE_SNAPSHOT,
                   dispatch_snapshot_json(d->now_ms, &s),
                   0,
                   OUTBOX_LIVE,
                   NULL);
        d->snapshot_next_ms = d->now_ms + d->o.snapshot_period_ms;
        n++;
    }
    d->last_flows = f;
    d->last_parking = p;
    d->live_init = 1;
    free(c);
    ds_stat(d, &d->stats.live_reports, n);
}

/* ---- outbound: the daily report ----------------------------------------- */

static int64_t ds_local_midnight(int64_t ts_ms)
{
    struct clock_civil c;

    clock_to_local(ts_ms, &c);
    return clock_from_local(c.year, c.month, c.day, 0, 0, 0);
}

/* Platform prices where they cover t, else the station's tariff. */
static void ds_prices_at(const struct dispatch *d, int64_t t, double *buy, double *sell)
{
    for (int i = 0; i < d->n_prices; i++) {
        if (t >= d->prices[i].start_ms && t < d->prices[i].end_ms) {
            *buy = d->prices[i].buy_cny_per_kwh;
            *sell = d->prices[i].sell_cny_per_kwh;
            return;
        }
    }
    *buy = tariff_buy_at(&d->o.st->tariff, t);
    *sell = tariff_sell_at(&d->o.st->tariff, t);
}

static void ds_day_reset(struct dispatch *d)
{
    struct clock_civil c;

    memset(&d->day, 0, sizeof(d->day));
    d->day_start_ms = ds_local_midnight(d->now_ms);
    clock_to_local(d->day_start_ms, &c);
    snprintf(d->day.date, sizeof(d->day.date), "%04d-%02d-%02d", c.year % 10000, c.month, c.day);
    d->day_required_kwh = 0.0;
    d->quarter_start_ms = d->now_ms / (15 * 60000) * (15 * 60000);
    d->quarter_kwh = 0.0;
    d->gates_known = d->ls.parking_ok;
    d->gate_in0 = d->ls.gate_in;
    d->gate_out0 = d->ls.gate_out;
}

static void ds_daily(struct dispatch *d)
{
    const struct live_status *ls = &d->ls;
    int64_t dt_ms = d->last_tick_ms ? d->now_ms - d->last_tick_ms : 0;
    double h, buy, sell, imp, exp;

    if (d->day_start_ms == 0) {
        ds_day_reset(d);
    }
    if (d->now_ms >= d->day_start_ms + CLOCK_DAY_MS) {
        d->day.dr_compliance = ds_compliance(d->day.dr_delivered_kwh, d->day_required_kwh);
        if (d->day.dr_events == 0) {
            d->day.dr_compliance = NAN;
        }
        d->day.pv_curtailed_kwh = NAN; /* live does not know the PV available */
        ds_publish(d,
                   DISPATCH_TOPIC_REPORT_DAILY,
                   dispatch_daily_json(d->now_ms, &d->day),
                   0,
                   OUTBOX_DAILY,
                   NULL);
        ds_stat(d, &d->stats.daily_reports, 1);
        ds_day_reset(d);
    }
    if (!d->gates_known && ls->parking_ok) {
        d->gates_known = 1;
        d->gate_in0 = ls->gate_in;
        d->gate_out0 = ls->gate_out;
    }
    for (int k = 0; k < ls->n_conn; k++) {
        int plugged = ls->conn_state[k] == DEVICE_CONNECTOR_PLUGGED ||
                      ls->conn_state[k] == DEVICE_CONNECTOR_CHARGING;

        d->day.sessions += plugged && !d->prev_plugged[k] && d->last_tick_ms;
        d->prev_plugged[k] = plugged;
    }
    if (dt_ms <= 0 || dt_ms > 5 * (int64_t)d->o.tick_ms || !ls->meter_ok) {
        return; /* a gap is not integrated */
    }
    h = (double)dt_ms / 3.6e6;
    ds_prices_at(d, d->now_ms, &buy, &sell);
    imp = fmax(0.0, ls->grid_kw);
    exp = fmax(0.0, -ls->grid_kw);
    d->day.energy_charged_kwh += ls->ev_kw * h;
    d->day.revenue_energy_cny += ls->ev_kw * h * (isfinite(buy) ? buy : 0.0);
    d->day.revenue_service_cny += ls->ev_kw * h * d->o.st->tariff.service_fee_cny_per_kwh;
    d->day.pv_generated_kwh += ls->pv_kw * h;
    d->day.pv_self_consumed_kwh += fmax(0.0, ls->pv_kw - exp) * h;
    d->day.battery_throughput_kwh += fabs(ls->ess_kw) * h;
    d->day.grid_import_kwh += imp * h;
    d->day.grid_export_kwh += exp * h;
    d->day.grid_cost_cny += (imp * (isfinite(buy) ? buy : 0.0) - exp * sell) * h;
    if (d->now_ms >= d->quarter_start_ms + 15 * 60000) {
        d->day.peak_kw = fmax(d->day.peak_kw, d->quarter_kwh * 4.0);
        d->quarter_start_ms = d->now_ms / (15 * 60000) * (15 * 60000);
        d->quarter_kwh = 0.0;
    }
    d->quarter_kwh += ls->grid_kw * h;
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
