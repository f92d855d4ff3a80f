/* SPDX-License-Identifier: MIT */
/*
 * dispatch_event.c - DR events from the grid dispatcher (docs/dr.md): each
 * one is validated, given a baseline and targets per interval, committed
 * against the plan in force and accepted or rejected; then it is
 * scheduled, active and completed (or cancelled, or replaced by a
 * modification), with its performance reported step by step. The
 * commitment check also serves the import-cap command
 * (dispatch_inbound.c); the DR set built from the events is dispatch.c's.
 *
 * Each accepted event's state is written to the history ("dispatch:{id}")
 * whenever it changes, so after a crash the thread takes the events back
 * before its first tick and goes on reporting (docs/dr.md, Restart).
 *
 * Runs on the dispatcher's thread (dispatch.c), which owns the events.
 */
#define _POSIX_C_SOURCE 200809L
#include "dispatch_internal.h"

#include "../common/alloc.h"
#include "../common/logger.h"
#include "../io/history.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DS_FULL_TOL_KW 0.5 /* a commitment this close to the request is full delivery */

static const char *const ds_state_names[] = {"received",
                                             "validated",
                                             "accepted",
                                             "scheduled",
                                             "active",
                                             "completed",
                                             "rejected",
                                             "cancelled"};

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

/* What the plan in force can deliver of the targets of e (docs/dr.md
 * "Commitment"): per plan step, a cap t can be held down to max(t,
 * net_min), a floor up to min(t, net_max). */
void ds_commit(struct dispatch *d,
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

double ds_compliance(double delivered_kwh, double required_kwh)
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
void ds_restore(struct dispatch *d)
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

void ds_on_event(struct dispatch *d, const char *payload, size_t len)
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
void ds_events_tick(struct dispatch *d)
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
