/* SPDX-License-Identifier: MIT */
/*
 * dispatch_msg.c - parse the inbound MQTT payloads (see the header and
 * docs/mqtt.md). Inbound text goes through three gates: the byte gate
 * (size, nesting, NUL, JSON syntax: INVALID_PAYLOAD), the table gate
 * (config/jsonfields.h reads the text into a "wire" struct, rejecting
 * unknown keys and wrong types: SCHEMA_VIOLATION) and the rule gate (kW and
 * price ranges, interval times and order: OUT_OF_RANGE, then EXPIRED),
 * which turns the wire struct into the public one. Number ranges are left
 * out of the tables on purpose, so that the rule gate can tell a value out
 * of range from a value of the wrong shape.
 *
 * This file holds the code names, the errors, the byte and table gate
 * (dm_read()) and the shared part of the rule gate; the wire structs are in
 * dispatch_msg_internal.h, their tables and the ISO 8601 parsing in
 * dispatch_msg_wire.c, and each message's own rules and parser in
 * dispatch_msg_parse.c.
 *
 * The wire structs are large (hundreds of intervals) and live on the heap
 * for one call. Pure functions, any thread. The builders of the outbound
 * payloads are in io/dispatch_json.c.
 */
#include "dispatch_msg.h"

#include "dispatch_msg_internal.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/error.h"
#include "../config/jsonfields.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dm_code_names[] = {
    "OK",
    "INVALID_PAYLOAD",
    "SCHEMA_VIOLATION",
    "EXPIRED",
    "DUPLICATE",
    "UNKNOWN_EVENT",
    "OUT_OF_RANGE",
    "INSUFFICIENT_FLEXIBILITY",
    "NOT_AUTHORISED",
    "RETAINED_COMMAND",
    "CONFLICT",
    "INTERNAL",
};

const char *dispatch_code_name(enum dispatch_code c)
{
    if ((int)c < 0 || (size_t)c >= sizeof(dm_code_names) / sizeof(dm_code_names[0])) {
        return "INTERNAL";
    }
    return dm_code_names[c];
}

int dm_fail(struct dispatch_error *err, enum dispatch_code code, const char *fmt, ...)
{
    va_list ap;

    err->code = code;
    va_start(ap, fmt);
    (void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return (int)code;
}

void dm_iso(int64_t ms, char buf[40])
{
    if (ms >= DM_UNBOUNDED_MS / 2) {
        (void)snprintf(buf, 40, "never (P9999Y)");
    } else if (clock_format_iso(ms, buf, 40) < 0) {
        (void)snprintf(buf, 40, "%lld ms", (long long)ms);
    }
}

/* ---- the byte gate and the table gate ------------------------------------------ */

int dm_id_ok(const char *s)
{
    size_t n = strlen(s);

    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            return 0;
        }
    }
    return n >= 1 && n < DM_ID_MAX;
}

/* Scan the text outside cJSON: the offset of the first bracket nested
 * deeper than DISPATCH_DEPTH_MAX (*what 1) or of a \u0000 escape (*what 2),
 * which cJSON would turn into a C string cut short; len when neither. */
static size_t dm_scan(const char *text, size_t len, int *what)
{
    int depth = 0;
    int in_str = 0;
    int esc = 0;

    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (in_str) {
            if (esc && c == 'u' && len - i > 4 && memcmp(text + i + 1, "0000", 4) == 0) {
                *what = 2;
                return i - 1;
            }
            if (esc) {
                esc = 0;
            } else if (c == '\\') {
                esc = 1;
            } else if (c == '"') {
                in_str = 0;
            }
        } else if (c == '"') {
            in_str = 1;
        } else if ((c == '[' || c == '{') && ++depth > DISPATCH_DEPTH_MAX) {
            *what = 1;
            return i;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return len;
}

/* Check the bytes, parse, take the id for the ack and read root through
 * table into a new wire struct (*wire, freed by the caller, also on error). */
int dm_read(const char *payload,
            size_t len,
            const struct jsonfields_field *table,
            const struct dm_ctx *ctx,
            cJSON **root,
            struct dm_wire **wire,
            struct dispatch_error *err)
{
    struct jsonfields_ctx jf = {.user = (void *)ctx};
    struct error_detail ed = {{0}};
    const cJSON *id;
    int what = 0;
    size_t at;

    *root = NULL;
    *wire = NULL;
    if (len > DISPATCH_PAYLOAD_MAX) {
        return dm_fail(err,
                       DISPATCH_INVALID_PAYLOAD,
                       "payload is %zu bytes: must be at most %d bytes",
                       len,
                       DISPATCH_PAYLOAD_MAX);
    }
    if (!payload || len == 0) {
        return dm_fail(err, DISPATCH_INVALID_PAYLOAD, "empty payload: expected a JSON object");
    }
    at = dm_scan(payload, len, &what);
    if (at < len && what == 1) {
        return dm_fail(err,
                       DISPATCH_INVALID_PAYLOAD,
                       "byte %zu: JSON nested deeper than %d levels",
                       at,
                       DISPATCH_DEPTH_MAX);
    }
    if (at < len) {
        return dm_fail(err,
                       DISPATCH_INVALID_PAYLOAD,
                       "byte %zu: a \\u0000 escape: strings must not contain NUL",
                       at);
    }
    if (jsonfields_load(payload, len, DISPATCH_PAYLOAD_MAX, root, &ed) != ERROR_OK) {
        return dm_fail(err, DISPATCH_INVALID_PAYLOAD, "not JSON: %s", ed.text);
    }
    id = cJSON_GetObjectItemCaseSensitive(*root, "id");
    if (cJSON_IsString(id) && dm_id_ok(id->valuestring)) {
        (void)snprintf(err->id, sizeof(err->id), "%s", id->valuestring);
    }
    if (!table) {
        return DISPATCH_OK;
    }
    *wire = alloc_array(1, sizeof(**wire));
    if (jsonfields_parse(table, *root, *wire, "", &jf, &ed) != ERROR_OK) {
        return dm_fail(err, DISPATCH_SCHEMA_VIOLATION, "%s", ed.text);
    }
    if (!dm_id_ok((*wire)->id)) {
        return dm_fail(err,
                       DISPATCH_SCHEMA_VIOLATION,
                       "id: must be 1 to 63 printable ASCII characters");
    }
    return DISPATCH_OK;
}

struct dispatch_error *dm_begin(struct dispatch_error *err, struct dispatch_error *local)
{
    err = err ? err : local;
    memset(err, 0, sizeof(*err));
    return err;
}

int dm_end(int rc, void *out, size_t size, cJSON *root, struct dm_wire *w)
{
    if (rc != DISPATCH_OK && rc != DISPATCH_EXPIRED) {
        memset(out, 0, size);
    }
    cJSON_Delete(root);
    free(w);
    return rc;
}

/* ---- the rule gate --------------------------------------------------------------- */

/* Start and end of each wire interval: its own intervalPeriod.start, else
 * the compact form (after the previous one; the first one at the message's
 * intervalPeriod.start, else at first_start), with its own duration or
 * the message's. In order, disjoint, each longer than zero. */
int dm_resolve(const struct dm_wire *w,
               const struct dm_time *first_start,
               int64_t *start,
               int64_t *end,
               struct dispatch_error *err)
{
    const struct dm_period *ev = w->has_period ? &w->period : NULL;
    char a[40];
    char b[40];

    for (int i = 0; i < w->n_intervals; i++) {
        const struct dm_interval *iv = &w->interval[i];
        const struct dm_dur *dur = NULL;

        if (iv->has_period && iv->period.start.set) {
            start[i] = iv->period.start.ms;
        } else if (i > 0) {
            start[i] = end[i - 1];
        } else if (ev && ev->start.set) {
            start[i] = ev->start.ms;
        } else if (first_start && first_start->set) {
            start[i] = first_start->ms;
        } else {
            return dm_fail(err,
                           DISPATCH_SCHEMA_VIOLATION,
                           "intervals[0]: no start: give intervalPeriod.start on the message "
                           "or on the interval");
        }
        dur = iv->has_period && iv->period.duration.set ? &iv->period.duration : NULL;
        dur = !dur && ev && ev->duration.set ? &ev->duration : dur;
        if (!dur) {
            return dm_fail(err,
                           DISPATCH_SCHEMA_VIOLATION,
                           "intervals[%d]: no duration: give intervalPeriod.duration on the "
                           "message or on the interval",
                           i);
        }
        if (dur->ms >= DM_UNBOUNDED_MS || start[i] + dur->ms > DM_TIME_MAX_MS) {
            return dm_fail(err,
                           DISPATCH_OUT_OF_RANGE,
                           "intervals[%d]: has no end (P9999Y) or ends after 9999: flexd needs "
                           "intervals with an end",
                           i);
        }
        if (dur->ms <= 0) {
            return dm_fail(err,
                           DISPATCH_OUT_OF_RANGE,
                           "intervals[%d]: lasts 0 s: an interval must last longer than zero",
                           i);
        }
        end[i] = start[i] + dur->ms;
        if (i > 0 && start[i] < end[i - 1]) {
            dm_iso(start[i], a);
            dm_iso(end[i - 1], b);
            return dm_fail(err,
                           DISPATCH_OUT_OF_RANGE,
                           "intervals[%d]: starts %s, before intervals[%d] ends (%s): intervals "
                           "must be in order and must not overlap",
                           i,
                           a,
                           i - 1,
                           b);
        }
    }
    return DISPATCH_OK;
}

/* Value k of the payload as a checked number in [lo, hi]. */
int dm_value(const struct dm_payload *p,
             int iv,
             int pl,
             int k,
             double lo,
             double hi,
             const char *unit,
             double *out,
             struct dispatch_error *err)
{
    const cJSON *e = p->values.first;

    for (int j = 0; j < k; j++) {
        e = e->next;
    }
    *out = e->valuedouble;
    if (!isfinite(*out) || *out < lo || *out > hi) {
        return dm_fail(err,
                       DISPATCH_OUT_OF_RANGE,
                       "intervals[%d].payloads[%d].values[%d]: %.10g: must be in [%.10g, %.10g] %s",
                       iv,
                       pl,
                       k,
                       *out,
                       lo,
                       hi,
                       unit);
    }
    return DISPATCH_OK;
}

int dm_expired(struct dispatch_error *err, const char *what, int64_t at, int64_t now_ms)
{
    char a[40];
    char b[40];

    dm_iso(at, a);
    dm_iso(now_ms, b);
    return dm_fail(err, DISPATCH_EXPIRED, "%s: %s is not after now (%s)", what, a, b);
}
