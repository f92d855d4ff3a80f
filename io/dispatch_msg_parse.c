/* SPDX-License-Identifier: MIT */
/*
 * dispatch_msg_parse.c - the public parsers of dispatch_msg.h, one section
 * per inbound message (dr/event, command, session/declare, tariff,
 * forecasts): each reads its payload through the byte and table gate
 * (dm_read() in dispatch_msg.c, with its table from dispatch_msg_wire.c),
 * then applies its own rules (ranges, interval layout, expiry) and fills
 * the public struct. Pure functions, any thread.
 */
#include "dispatch_msg_internal.h"

#include "../common/alloc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- dr/event -------------------------------------------------------------------- */

static int
dm_event_rules(const struct dm_wire *w, struct dispatch_event *out, struct dispatch_error *err)
{
    int64_t start[DISPATCH_INTERVALS_MAX];
    int64_t end[DISPATCH_INTERVALS_MAX];
    int type = w->n_desc > 0 ? w->desc[0].payload_type : 0;
    int rc;

    if (w->modification < 0 || w->priority < 0) {
        return dm_fail(err,
                       DISPATCH_OUT_OF_RANGE,
                       "%s: %d: must be >= 0",
                       w->modification < 0 ? "modificationNumber" : "priority",
                       w->modification < 0 ? w->modification : w->priority);
    }
    if (w->n_intervals == 0 && !w->cancelled) {
        return dm_fail(err,
                       DISPATCH_SCHEMA_VIOLATION,
                       "intervals: missing or empty: an event needs at least one interval "
                       "(only a cancellation may have none)");
    }
    for (int i = 0; i < w->n_intervals; i++) {
        const struct dm_payload *p = &w->interval[i].payload[0];

        if (w->interval[i].n_payloads != 1 || p->values.n != 1) {
            return dm_fail(err,
                           DISPATCH_SCHEMA_VIOLATION,
                           "intervals[%d].payloads: %d payloads, %d values: an event interval "
                           "holds exactly one payload with one value",
                           i,
                           w->interval[i].n_payloads,
                           p->values.n);
        }
        type = i == 0 && w->n_desc == 0 ? p->type : type;
        if (p->type != type) {
            return dm_fail(err,
                           DISPATCH_SCHEMA_VIOLATION,
                           "intervals[%d].payloads[0].type: \"%s\": must be %s like the "
                           "rest of the event: one payload type per event",
                           i,
                           dm_event_types[p->type],
                           dm_event_types[type]);
        }
        rc = dm_value(p, i, 0, 0, 0, DISPATCH_KW_MAX, "kW", &out->interval[i].value_kw, err);
        if (rc) {
            return rc;
        }
    }
    for (int d = 1; d < w->n_desc; d++) {
        if (w->desc[d].payload_type != type) {
            return dm_fail(err,
                           DISPATCH_SCHEMA_VIOLATION,
                           "payloadDescriptors[%d].payloadType: \"%s\": must be %s: one "
                           "payload type per event",
                           d,
                           dm_event_types[w->desc[d].payload_type],
                           dm_event_types[type]);
        }
    }
    rc = dm_resolve(w, NULL, start, end, err);
    if (rc) {
        return rc;
    }
    if (w->n_intervals > 0 && end[w->n_intervals - 1] - start[0] > DISPATCH_EVENT_SPAN_MS) {
        return dm_fail(err,
                       DISPATCH_OUT_OF_RANGE,
                       "intervals: the event spans %.2f h: an event may span at most 24 h",
                       (double)(end[w->n_intervals - 1] - start[0]) / 3600000.0);
    }
    for (int i = 0; i < w->n_intervals; i++) {
        out->interval[i].start_ms = start[i];
        out->interval[i].end_ms = end[i];
    }
    out->n_intervals = w->n_intervals;
    out->kind = (enum dispatch_event_kind)type;
    return DISPATCH_OK;
}

int dispatch_parse_event(const char *payload,
                         size_t len,
                         int64_t now_ms,
                         struct dispatch_event *out,
                         struct dispatch_error *err)
{
    struct dispatch_error local;
    struct dm_ctx ctx = {1, now_ms};
    struct dm_wire *w = NULL;
    cJSON *root = NULL;
    int rc;

    err = dm_begin(err, &local);
    memset(out, 0, sizeof(*out));
    rc = dm_read(payload, len, dm_event_fields, &ctx, &root, &w, err);
    if (rc == DISPATCH_OK && !dm_id_ok(w->program)) {
        rc = dm_fail(err,
                     DISPATCH_SCHEMA_VIOLATION,
                     "programID: must be 1 to 63 printable ASCII characters");
    }
    rc = rc ? rc : dm_event_rules(w, out, err);
    if (rc == DISPATCH_OK) {
        memcpy(out->id, w->id, sizeof(out->id));
        memcpy(out->program, w->program, sizeof(out->program));
        out->modification = w->modification;
        out->priority = w->priority;
        out->cancel = w->cancelled;
        out->created_ms = w->created.ms;
        out->notice_ms = w->modified.set ? w->modified.ms : w->created.ms;
        out->notice_ms = out->notice_ms < now_ms ? out->notice_ms : now_ms;
        out->expires_ms = w->expires.set ? w->expires.ms : 0;
        if (w->expires.set && w->expires.ms <= now_ms) {
            rc = dm_expired(err, "expires", w->expires.ms, now_ms);
        } else if (out->n_intervals > 0 && out->interval[out->n_intervals - 1].end_ms <= now_ms) {
            rc = dm_expired(err,
                            "intervals: the event's end",
                            out->interval[out->n_intervals - 1].end_ms,
                            now_ms);
        }
    }
    return dm_end(rc, out, sizeof(*out), root, w);
}

/* ---- command ---------------------------------------------------------------------- */

static int dm_command_rules(const struct dm_wire *w,
                            int64_t now_ms,
                            struct dispatch_command *out,
                            struct dispatch_error *err)
{
    int wants_value =
        w->command == DISPATCH_CMD_IMPORT_CAP || w->command == DISPATCH_CMD_BATTERY_SETPOINT;
    double lo = w->command == DISPATCH_CMD_BATTERY_SETPOINT ? -DISPATCH_KW_MAX : 0;
    const char *name = dm_command_names[w->command];

    if (wants_value != w->value_kw.set) {
        return dm_fail(err,
                       DISPATCH_SCHEMA_VIOLATION,
                       "value_kw: %s with command %s",
                       wants_value ? "missing: required" : "not allowed",
                       name);
    }
    if (w->command == DISPATCH_CMD_AUTO && w->duration.set) {
        return dm_fail(err, DISPATCH_SCHEMA_VIOLATION, "duration: not allowed with command AUTO");
    }
    if (wants_value &&
        (!isfinite(w->value_kw.v) || w->value_kw.v < lo || w->value_kw.v > DISPATCH_KW_MAX)) {
        return dm_fail(err,
                       DISPATCH_OUT_OF_RANGE,
                       "value_kw: %.10g: must be in [%g, %g] kW for %s",
                       w->value_kw.v,
                       lo,
                       DISPATCH_KW_MAX,
                       name);
    }
    if (w->duration.set && (w->duration.ms <= 0 || w->duration.ms > DISPATCH_HOLD_MAX_MS)) {
        return dm_fail(err,
                       DISPATCH_OUT_OF_RANGE,
                       "duration: %lld s: must be longer than zero and at most 24 h (leave it "
                       "out to hold until AUTO)",
                       (long long)(w->duration.ms / 1000));
    }
    if (w->expires.ms <= w->issued.ms) {
        return dm_fail(err, DISPATCH_OUT_OF_RANGE, "expires: must be after issued");
    }
    memcpy(out->id, w->id, sizeof(out->id));
    out->kind = (enum dispatch_command_kind)w->command;
    out->value_kw = wants_value ? w->value_kw.v : 0;
    out->issued_ms = w->issued.ms;
    out->expires_ms = w->expires.ms;
    out->duration_ms = w->duration.set ? w->duration.ms : 0;
    return w->expires.ms <= now_ms ? dm_expired(err, "expires", w->expires.ms, now_ms)
                                   : DISPATCH_OK;
}

int dispatch_parse_command(const char *payload,
                           size_t len,
                           int retained,
                           int64_t now_ms,
                           struct dispatch_command *out,
                           struct dispatch_error *err)
{
    struct dispatch_error local;
    struct dm_ctx ctx = {1, now_ms};
    struct dm_wire *w = NULL;
    cJSON *root = NULL;
    int rc;

    err = dm_begin(err, &local);
    memset(out, 0, sizeof(*out));
    rc = dm_read(payload, len, retained ? NULL : dm_command_fields, &ctx, &root, &w, err);
    if (retained) {
        /* whatever the payload: a retained command would act again on every reconnect */
        rc = dm_fail(err,
                     DISPATCH_RETAINED_COMMAND,
                     "(message): delivered retained: commands must be published with retain "
                     "off; clear it with an empty retained message");
    } else if (rc == DISPATCH_OK) {
        rc = dm_command_rules(w, now_ms, out, err);
    }
    return dm_end(rc, out, sizeof(*out), root, w);
}

/* ---- session/declare -------------------------------------------------------------- */

static int dm_declaration_rules(const struct dm_wire *w,
                                int64_t now_ms,
                                struct dispatch_declaration *out,
                                struct dispatch_error *err)
{
    if (!w->departure.set && !w->energy_kwh.set) {
        return dm_fail(err,
                       DISPATCH_SCHEMA_VIOLATION,
                       "(message): neither departure nor energy_kwh: a declaration needs one "
                       "or both");
    }
    if (!dm_id_ok(w->connector)) {
        return dm_fail(err,
                       DISPATCH_SCHEMA_VIOLATION,
                       "connector: must be 1 to 63 printable ASCII characters");
    }
    if (w->energy_kwh.set && (!isfinite(w->energy_kwh.v) || w->energy_kwh.v <= 0 ||
                              w->energy_kwh.v > DISPATCH_SESSION_KWH_MAX)) {
        return dm_fail(err,
                       DISPATCH_OUT_OF_RANGE,
                       "energy_kwh: %.10g: must be in (0, %g] kWh",
                       w->energy_kwh.v,
                       DISPATCH_SESSION_KWH_MAX);
    }
    if (w->departure.set && w->departure.ms > now_ms + DISPATCH_DECLARE_AHEAD_MS) {
        return dm_fail(err,
                       DISPATCH_OUT_OF_RANGE,
                       "departure: more than %lld h ahead",
                       (long long)(DISPATCH_DECLARE_AHEAD_MS / 3600000));
    }
    memcpy(out->id, w->id, sizeof(out->id));
    memcpy(out->connector, w->connector, sizeof(out->connector));
    out->issued_ms = w->issued.ms;
    out->departure_ms = w->departure.set ? w->departure.ms : 0;
    out->energy_kwh = w->energy_kwh.set ? w->energy_kwh.v : NAN;
    return w->departure.set && w->departure.ms <= now_ms
               ? dm_expired(err, "departure", w->departure.ms, now_ms)
               : DISPATCH_OK;
}

int dispatch_parse_declaration(const char *payload,
                               size_t len,
                               int64_t now_ms,
                               struct dispatch_declaration *out,
                               struct dispatch_error *err)
{
    struct dispatch_error local;
    struct dm_ctx ctx = {1, now_ms};
    struct dm_wire *w = NULL;
    cJSON *root = NULL;
    int rc;

    err = dm_begin(err, &local);
    memset(out, 0, sizeof(*out));
    rc = dm_read(payload, len, dm_declaration_fields, &ctx, &root, &w, err);
    if (rc == DISPATCH_OK) {
        rc = dm_declaration_rules(w, now_ms, out, err);
    }
    return dm_end(rc, out, sizeof(*out), root, w);
}

/* ---- tariff ------------------------------------------------------------------------ */

/* The index of the payload of type t in interval iv, or -1. */
static int dm_find(const struct dm_interval *iv, int t)
{
    for (int p = 0; p < iv->n_payloads; p++) {
        if (iv->payload[p].type == t) {
            return p;
        }
    }
    return -1;
}

/* Split interval i of [start, end) into its values (compact form) and
 * append them to out. */
static int dm_tariff_interval(const struct dm_interval *iv,
                              int i,
                              int64_t start,
                              int64_t end,
                              struct dispatch_tariff *out,
                              struct dispatch_error *err)
{
    int pb = dm_find(iv, 0);
    int ps = dm_find(iv, 1);
    int nb = pb >= 0 ? iv->payload[pb].values.n : 0;
    int ns = ps >= 0 ? iv->payload[ps].values.n : 0;
    int rc = DISPATCH_OK;

    if (pb < 0 || ps < 0 || iv->n_payloads != 2) {
        return dm_fail(err,
                       DISPATCH_SCHEMA_VIOLATION,
                       "intervals[%d].payloads: must hold one PRICE and one EXPORT_PRICE payload",
                       i);
    }
    if (ns != 1 && ns != nb) {
        return dm_fail(err,
                       DISPATCH_SCHEMA_VIOLATION,
                       "intervals[%d].payloads[%d].values: %d values: EXPORT_PRICE must have "
                       "one value or as many as PRICE (%d)",
                       i,
                       ps,
                       ns,
                       nb);
    }
    if ((end - start) % nb != 0) {
        return dm_fail(err,
                       DISPATCH_SCHEMA_VIOLATION,
                       "intervals[%d].payloads[%d].values: %d values: the interval's %lld ms "
                       "cannot be split evenly among them",
                       i,
                       pb,
                       nb,
                       (long long)(end - start));
    }
    if (out->n_prices + nb > DISPATCH_PRICES_MAX) {
        return dm_fail(err,
                       DISPATCH_OUT_OF_RANGE,
                       "intervals[%d]: more than %d prices in the tariff",
                       i,
                       DISPATCH_PRICES_MAX);
    }
    for (int k = 0; k < nb && rc == DISPATCH_OK; k++) {
        struct dispatch_price *p = &out->price[out->n_prices++];

        p->start_ms = start + (end - start) / nb * k;
        p->end_ms = start + (end - start) / nb * (k + 1);
        rc = dm_value(&iv->payload[pb],
                      i,
                      pb,
                      k,
                      DISPATCH_PRICE_MIN,
                      DISPATCH_PRICE_MAX,
                      "CNY/kWh",
                      &p->buy_cny_per_kwh,
                      err);
        rc = rc ? rc
                : dm_value(&iv->payload[ps],
                           i,
                           ps,
                           ns == 1 ? 0 : k,
                           DISPATCH_PRICE_MIN,
                           DISPATCH_PRICE_MAX,
                           "CNY/kWh",
                           &p->sell_cny_per_kwh,
                           err);
    }
    return rc;
}

static int dm_tariff_rules(const struct dm_wire *w,
                           int64_t now_ms,
                           struct dispatch_tariff *out,
                           struct dispatch_error *err)
{
    int64_t *start = alloc_array(DM_WIRE_MAX, sizeof(int64_t));
    int64_t *end = alloc_array(DM_WIRE_MAX, sizeof(int64_t));
    int64_t from = w->valid_from.ms;
    int64_t until = w->valid_until.ms;
    int n = w->n_intervals;
    char a[40];
    char b[40];
    int rc = DISPATCH_OK;

    if (until <= from || until - from > DISPATCH_TARIFF_SPAN_MS) {
        rc = dm_fail(err,
                     DISPATCH_OUT_OF_RANGE,
                     "validUntil: must be after validFrom, by at most 7 days");
    } else if (n == 0) {
        rc = dm_fail(err, DISPATCH_SCHEMA_VIOLATION, "intervals: missing or empty");
    }
    rc = rc ? rc : dm_resolve(w, &w->valid_from, start, end, err);
    for (int i = 0; rc == DISPATCH_OK && i < n; i++) {
        if ((i == 0 && start[0] != from) || (i > 0 && start[i] != end[i - 1])) {
            dm_iso(start[i], a);
            dm_iso(i == 0 ? from : end[i - 1], b);
            rc = dm_fail(err,
                         DISPATCH_OUT_OF_RANGE,
                         "intervals[%d]: starts %s, not %s: prices must cover validFrom to "
                         "validUntil without gaps",
                         i,
                         a,
                         b);
        } else {
            rc = dm_tariff_interval(&w->interval[i], i, start[i], end[i], out, err);
        }
    }
    if (rc == DISPATCH_OK && end[n - 1] != until) {
        dm_iso(end[n - 1], a);
        dm_iso(until, b);
        rc = dm_fail(err,
                     DISPATCH_OUT_OF_RANGE,
                     "intervals[%d]: ends %s, not at validUntil %s: prices must cover validFrom "
                     "to validUntil without gaps",
                     n - 1,
                     a,
                     b);
    }
    free(start);
    free(end);
    if (rc == DISPATCH_OK) {
        memcpy(out->id, w->id, sizeof(out->id));
        out->valid_from_ms = from;
        out->valid_until_ms = until;
        rc = until <= now_ms ? dm_expired(err, "validUntil", until, now_ms) : DISPATCH_OK;
    }
    return rc;
}

int dispatch_parse_tariff(const char *payload,
                          size_t len,
                          int64_t now_ms,
                          struct dispatch_tariff *out,
                          struct dispatch_error *err)
{
    struct dispatch_error local;
    struct dm_ctx ctx = {1, now_ms};
    struct dm_wire *w = NULL;
    cJSON *root = NULL;
    int rc;

    err = dm_begin(err, &local);
    memset(out, 0, sizeof(*out));
    rc = dm_read(payload, len, dm_tariff_fields, &ctx, &root, &w, err);
    rc = rc ? rc : dm_tariff_rules(w, now_ms, out, err);
    if (rc != DISPATCH_OK && rc != DISPATCH_EXPIRED) {
        out->n_prices = 0;
    }
    cJSON_Delete(root);
    free(w);
    return rc;
}

/* ---- forecasts ---------------------------------------------------------------------- */

static int dm_forecast_rules(const struct dm_wire *w,
                             int kind,
                             struct dispatch_forecast *out,
                             struct dispatch_error *err)
{
    int64_t start[DISPATCH_INTERVALS_MAX];
    int64_t end[DISPATCH_INTERVALS_MAX];
    double hi = kind == DISPATCH_FORECAST_VISITOR_FLOW ? DISPATCH_VISITORS_MAX : 1.0;
    const char *unit = kind == DISPATCH_FORECAST_VISITOR_FLOW ? "visitors/h" : "(index)";
    int rc = w->n_intervals
                 ? DISPATCH_OK
                 : dm_fail(err, DISPATCH_SCHEMA_VIOLATION, "intervals: missing or empty");

    rc = rc ? rc : dm_resolve(w, NULL, start, end, err);
    for (int i = 0; rc == DISPATCH_OK && i < w->n_intervals; i++) {
        const struct dm_payload *p = &w->interval[i].payload[0];
        int64_t span = end[i] - start[i];
        int nv = p->values.n;

        if (w->interval[i].n_payloads != 1 || p->type != kind) {
            return dm_fail(err,
                           DISPATCH_SCHEMA_VIOLATION,
                           "intervals[%d].payloads: must hold exactly one %s payload (the "
                           "topic's type)",
                           i,
                           dm_forecast_types[kind]);
        }
        if (span % nv != 0 || out->n + nv > DISPATCH_INTERVALS_MAX) {
            return dm_fail(err,
                           span % nv ? DISPATCH_SCHEMA_VIOLATION : DISPATCH_OUT_OF_RANGE,
                           "intervals[%d].payloads[0].values: %d values: %s",
                           i,
                           nv,
                           span % nv ? "the interval cannot be split evenly among them"
                                     : "more than 96 values in the forecast");
        }
        for (int k = 0; k < nv && rc == DISPATCH_OK; k++) {
            struct dispatch_interval *o = &out->interval[out->n++];

            o->start_ms = start[i] + span / nv * k;
            o->end_ms = start[i] + span / nv * (k + 1);
            rc = dm_value(p, i, 0, k, 0, hi, unit, &o->value_kw, err);
        }
    }
    return rc;
}

int dispatch_parse_forecast(const char *payload,
                            size_t len,
                            int kind,
                            struct dispatch_forecast *out,
                            struct dispatch_error *err)
{
    struct dispatch_error local;
    struct dm_ctx ctx = {0, 0};
    struct dm_wire *w = NULL;
    cJSON *root = NULL;
    int rc;

    err = dm_begin(err, &local);
    memset(out, 0, sizeof(*out));
    if (kind != DISPATCH_FORECAST_VISITOR_FLOW && kind != DISPATCH_FORECAST_ROAD_CONGESTION) {
        return dm_fail(err, DISPATCH_INTERNAL, "forecast kind %d: must be 0 or 1", kind);
    }
    out->kind = kind;
    rc = dm_read(payload, len, dm_forecast_fields, &ctx, &root, &w, err);
    rc = rc ? rc : dm_forecast_rules(w, kind, out, err);
    if (rc == DISPATCH_OK) {
        memcpy(out->id, w->id, sizeof(out->id));
    } else {
        out->n = 0;
    }
    cJSON_Delete(root);
    free(w);
    return rc;
}
