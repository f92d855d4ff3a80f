/* SPDX-License-Identifier: MIT */
/*
 * history_batch.c - the add and put functions of io/history.h: each checks
 * its record field by field and appends a copy to the in-memory batch,
 * which history_flush() (history.c) commits. A 1-s sample must be young
 * enough that the rows below its rollups are still complete (see
 * history.c). Runs on the thread that owns the struct history.
 */
#include "history_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

/* Field checks shared by the append functions. */

static int check_id(const char *what, const char *field, const char *s, struct error_detail *ed)
{
    if (!memchr(s, '\0', HISTORY_ID_MAX) || s[0] == '\0') {
        return error_setf(ed,
                          ERROR_INVALID,
                          "history: %s.%s: must be 1 to %d bytes",
                          what,
                          field,
                          HISTORY_ID_MAX - 1);
    }
    return ERROR_OK;
}

static int check_time(const char *what, const char *field, int64_t ms, struct error_detail *ed)
{
    if (ms <= 0) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "history: %s.%s: %lld: must be > 0",
                          what,
                          field,
                          (long long)ms);
    }
    return ERROR_OK;
}

/* Finite, or NaN for "not measured". */
static int check_value(const char *what, const char *field, double v, struct error_detail *ed)
{
    if (isinf(v)) {
        return error_setf(ed, ERROR_INVALID, "history: %s.%s: %g: must be finite", what, field, v);
    }
    return ERROR_OK;
}

static int check_json(const char *what, const char *json, struct error_detail *ed)
{
    cJSON *doc;

    if (!json || strlen(json) > HISTORY_JSON_MAX) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "history: %s.json: missing or over %d bytes",
                          what,
                          HISTORY_JSON_MAX);
    }
    doc = cJSON_Parse(json);
    if (!doc) {
        return error_setf(ed, ERROR_PARSE, "history: %s.json: not valid JSON", what);
    }
    cJSON_Delete(doc);
    return ERROR_OK;
}

static int check_room(struct history *h, struct error_detail *ed)
{
    if (h->pending >= h->max_pending) {
        h->stats.dropped++;
        return error_setf(ed,
                          ERROR_RANGE,
                          "history: %s: batch full (%d records): flush is failing or not called",
                          h->path,
                          h->max_pending);
    }
    return ERROR_OK;
}

/* The first ts a sample may have: the 1-s and 1-min rows of its quarter
 * hour must still be complete (see the file comment). */
static int check_sample_age(struct history *h, int64_t ts_ms, struct error_detail *ed)
{
    int64_t keep_ms = h->retention.sample_ms < h->retention.minute_ms ? h->retention.sample_ms
                                                                      : h->retention.minute_ms;
    int64_t cutoff = clock_now_ms(h->clock) - keep_ms;

    cutoff -= cutoff % QUARTER_MS;
    if (ts_ms < cutoff) {
        return error_setf(ed,
                          ERROR_RANGE,
                          "history: sample ts_ms %lld: older than the 1-s retention",
                          (long long)ts_ms);
    }
    return ERROR_OK;
}

/* Batch a 1-s record (sample or connector sample) after its age and the
 * batch's room are checked, widening the [lo, hi] span its rollups cover. */
static int batch_timed(struct history *h,
                       struct vec *v,
                       const void *item,
                       size_t size,
                       int64_t ts_ms,
                       int64_t *lo,
                       int64_t *hi,
                       struct error_detail *ed)
{
    int rc = check_sample_age(h, ts_ms, ed);

    if (!rc) {
        rc = check_room(h, ed);
    }
    if (rc) {
        return rc;
    }
    memcpy(vec_push(v, size), item, size);
    *lo = ts_ms < *lo ? ts_ms : *lo;
    *hi = ts_ms > *hi ? ts_ms : *hi;
    h->pending++;
    return ERROR_OK;
}

int history_add_sample(struct history *h, const struct history_sample *s, struct error_detail *ed)
{
    static const char *const names[] = {"grid_import_kw",
                                        "grid_export_kw",
                                        "pv_kw",
                                        "pv_limit_kw",
                                        "battery_kw",
                                        "ev_kw",
                                        "base_kw",
                                        "import_limit_kw"};
    const double v[] = {s->grid_import_kw,
                        s->grid_export_kw,
                        s->pv_kw,
                        s->pv_limit_kw,
                        s->battery_kw,
                        s->ev_kw,
                        s->base_kw,
                        s->import_limit_kw};
    int rc = check_time("sample", "ts_ms", s->ts_ms, ed);

    for (int i = 0; !rc && i < (int)(sizeof(v) / sizeof(v[0])); i++) {
        rc = check_value("sample", names[i], v[i], ed);
    }
    if (!rc && !isnan(s->battery_soc) && !(s->battery_soc >= 0 && s->battery_soc <= 1)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "history: sample.battery_soc: %g: must be in [0, 1]",
                        s->battery_soc);
    }
    return rc ? rc
              : batch_timed(h,
                            &h->samples,
                            s,
                            sizeof(*s),
                            s->ts_ms,
                            &h->sample_lo,
                            &h->sample_hi,
                            ed);
}

int history_add_connector(struct history *h,
                          const struct history_connector_sample *s,
                          struct error_detail *ed)
{
    int rc = check_time("connector", "ts_ms", s->ts_ms, ed);

    if (!rc) {
        rc = check_id("connector", "connector_id", s->connector_id, ed);
    }
    if (!rc) {
        rc = check_value("connector", "power_kw", s->power_kw, ed);
    }
    if (!rc && ((int)s->state < 0 || (int)s->state >= HISTORY_CONNECTOR_NSTATES)) {
        rc = error_setf(ed, ERROR_INVALID, "history: connector.state: %d: unknown", (int)s->state);
    }
    return rc ? rc
              : batch_timed(h,
                            &h->connectors,
                            s,
                            sizeof(*s),
                            s->ts_ms,
                            &h->conn_lo,
                            &h->conn_hi,
                            ed);
}

int history_add_setpoint(struct history *h,
                         const struct history_setpoint *s,
                         struct error_detail *ed)
{
    int rc = check_time("setpoint", "ts_ms", s->ts_ms, ed);

    if (!rc) {
        rc = check_id("setpoint", "device", s->device, ed);
    }
    if (!rc) {
        rc = check_id("setpoint", "point", s->point, ed);
    }
    if (!rc) {
        rc = check_value("setpoint", "value", s->value, ed);
    }
    if (!rc && ((int)s->verified < 0 || s->verified > HISTORY_VERIFY_MISMATCH)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "history: setpoint.verified: %d: unknown",
                        (int)s->verified);
    }
    if (!rc) {
        rc = check_room(h, ed);
    }
    if (rc) {
        return rc;
    }
    *(struct history_setpoint *)vec_push(&h->setpoints, sizeof(*s)) = *s;
    h->pending++;
    return ERROR_OK;
}

int history_add_alarm(struct history *h, const struct history_alarm *a, struct error_detail *ed)
{
    struct history_alarm *rec;
    int rc = check_time("alarm", "ts_ms", a->ts_ms, ed);

    if (!rc) {
        rc = check_id("alarm", "device", a->device, ed);
    }
    if (!rc) {
        rc = check_id("alarm", "kind", a->kind, ed);
    }
    if (!rc && (!a->message || strlen(a->message) > HISTORY_MESSAGE_MAX)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "history: alarm.message: missing or over %d bytes",
                        HISTORY_MESSAGE_MAX);
    }
    if (!rc && (!strcmp(NAME_OF(severity_names, a->severity), "?") ||
                !strcmp(NAME_OF(alarm_state_names, a->state), "?"))) {
        rc = error_setf(ed, ERROR_INVALID, "history: alarm: unknown severity or state");
    }
    if (!rc) {
        rc = check_room(h, ed);
    }
    if (rc) {
        return rc;
    }
    rec = vec_push(&h->alarms, sizeof(*rec));
    *rec = *a;
    rec->message = alloc_strdup(a->message);
    h->pending++;
    return ERROR_OK;
}

static int history_push_plan(struct history *h, int status_only, const struct history_plan *p)
{
    struct plan_op *op = vec_push(&h->plans, sizeof(*op));

    op->status_only = status_only;
    op->p = *p;
    op->p.json = p->json ? alloc_strdup(p->json) : NULL;
    h->pending++;
    return ERROR_OK;
}

int history_put_plan(struct history *h, const struct history_plan *p, struct error_detail *ed)
{
    int rc = check_id("plan", "id", p->id, ed);

    if (!rc) {
        rc = check_time("plan", "created_ms", p->created_ms, ed);
    }
    if (!rc) {
        rc = check_time("plan", "horizon_start_ms", p->horizon_start_ms, ed);
    }
    if (!rc && (p->step_minutes < 1 || p->step_minutes > 60 || p->steps < 1)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "history: plan.step_minutes %d, steps %d: need 1..60 and >= 1",
                        p->step_minutes,
                        p->steps);
    }
    if (!rc && !strcmp(NAME_OF(plan_status_names, p->status), "?")) {
        rc = error_setf(ed, ERROR_INVALID, "history: plan.status: %d: unknown", (int)p->status);
    }
    if (!rc) {
        rc = check_value("plan", "objective_cny", p->objective_cny, ed);
    }
    if (!rc) {
        rc = check_json("plan", p->json, ed);
    }
    if (!rc) {
        rc = check_room(h, ed);
    }
    return rc ? rc : history_push_plan(h, 0, p);
}

int history_set_plan_status(struct history *h,
                            const char *plan_id,
                            enum history_plan_status status,
                            struct error_detail *ed)
{
    struct history_plan p;
    int rc;

    memset(&p, 0, sizeof(p));
    if (!plan_id || strlen(plan_id) >= HISTORY_ID_MAX) {
        return error_setf(ed, ERROR_INVALID, "history: plan id: missing or too long");
    }
    memcpy(p.id, plan_id, strlen(plan_id) + 1);
    p.status = status;
    rc = check_id("plan", "id", p.id, ed);
    if (!rc && !strcmp(NAME_OF(plan_status_names, status), "?")) {
        rc = error_setf(ed, ERROR_INVALID, "history: plan.status: %d: unknown", (int)status);
    }
    if (!rc) {
        rc = check_room(h, ed);
    }
    return rc ? rc : history_push_plan(h, 1, &p);
}

int history_put_session(struct history *h, const struct history_session *s, struct error_detail *ed)
{
    struct session_rec *rec;
    int rc = check_id("session", "id", s->id, ed);

    if (!rc) {
        rc = check_id("session", "connector_id", s->connector_id, ed);
    }
    if (!rc) {
        rc = check_time("session", "plugin_ms", s->plugin_ms, ed);
    }
    if (!rc &&
        (s->state == HISTORY_SESSION_CLOSED ? s->unplug_ms < s->plugin_ms
                                            : s->unplug_ms != 0 && s->unplug_ms < s->plugin_ms)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "history: session %s: unplug_ms %lld: must be >= plugin_ms %lld%s",
                        s->id,
                        (long long)s->unplug_ms,
                        (long long)s->plugin_ms,
                        s->state == HISTORY_SESSION_CLOSED ? " when closed" : "");
    }
    if (!rc && !(s->energy_kwh >= 0 && isfinite(s->energy_kwh))) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "history: session.energy_kwh: %g: must be >= 0",
                        s->energy_kwh);
    }
    if (!rc && !isnan(s->wanted_kwh) && !(s->wanted_kwh >= 0 && isfinite(s->wanted_kwh))) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "history: session.wanted_kwh: %g: must be >= 0",
                        s->wanted_kwh);
    }
    if (!rc && !strcmp(NAME_OF(session_state_names, s->state), "?")) {
        rc = error_setf(ed, ERROR_INVALID, "history: session.state: %d: unknown", (int)s->state);
    }
    if (!rc) {
        rc = check_room(h, ed);
    }
    if (rc) {
        return rc;
    }
    rec = vec_push(&h->sessions, sizeof(*rec));
    rec->s = *s;
    rec->updated_ms = clock_now_ms(h->clock);
    h->pending++;
    return ERROR_OK;
}

int history_put_dr(struct history *h, const struct history_dr *d, struct error_detail *ed)
{
    struct dr_rec *rec;
    int rc = check_id("dr", "id", d->id, ed);

    if (!rc) {
        rc = check_time("dr", "received_ms", d->received_ms, ed);
    }
    if (!rc && !(d->start_ms > 0 && d->end_ms > d->start_ms)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "history: dr %s: start_ms %lld, end_ms %lld: need 0 < start < end",
                        d->id,
                        (long long)d->start_ms,
                        (long long)d->end_ms);
    }
    if (!rc && !strcmp(NAME_OF(dr_state_names, d->state), "?")) {
        rc = error_setf(ed, ERROR_INVALID, "history: dr.state: %d: unknown", (int)d->state);
    }
    if (!rc) {
        rc = check_json("dr", d->json, ed);
    }
    if (!rc) {
        rc = check_room(h, ed);
    }
    if (rc) {
        return rc;
    }
    rec = vec_push(&h->drs, sizeof(*rec));
    rec->d = *d;
    rec->d.json = alloc_strdup(d->json);
    rec->updated_ms = clock_now_ms(h->clock);
    h->pending++;
    return ERROR_OK;
}
