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
 * The wire structs are large (hundreds of intervals) and live on the heap
 * for one call. Pure functions, any thread. The builders of the outbound
 * payloads are in io/dispatch_json.c.
 */
#include "dispatch_msg.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/error.h"
#include "../config/jsonfields.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DM_ID_MAX       64                     /* ids: 1..63 printable ASCII */
#define DM_PAYLOADS_MAX 2                      /* payloads in one interval */
#define DM_VALUES_MAX   DISPATCH_INTERVALS_MAX /* values in one payload */
#define DM_DESC_MAX     4                      /* payloadDescriptors */
#define DM_WIRE_MAX     DISPATCH_PRICES_MAX    /* intervals in any wire struct */
#define DM_TARGETS_MAX  64
#define DM_UNBOUNDED_MS (INT64_C(1) << 60)       /* OpenADR's "P9999Y" */
#define DM_TIME_MAX_MS  INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */
#define DM_VALUE_SHOWN  80

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

static int dm_fail(struct dispatch_error *err, enum dispatch_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int dm_fail(struct dispatch_error *err, enum dispatch_code code, const char *fmt, ...)
{
    va_list ap;

    err->code = code;
    va_start(ap, fmt);
    (void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return (int)code;
}

static void dm_iso(int64_t ms, char buf[40])
{
    if (ms >= DM_UNBOUNDED_MS / 2) {
        (void)snprintf(buf, 40, "never (P9999Y)");
    } else if (clock_format_iso(ms, buf, 40) < 0) {
        (void)snprintf(buf, 40, "%lld ms", (long long)ms);
    }
}

/* ---- ISO 8601 times and durations ----------------------------------------- */

static int dm_digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int dm_mdays(int y, int m)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : mdays[m - 1];
}

/* Fractional digits after s[0] == '.' or ','; ms from the first three. */
static const char *dm_fraction(const char *s, int *ms)
{
    int k = 0;
    int scale = 100;

    *ms = 0;
    if (*s != '.' && *s != ',') {
        return s;
    }
    for (s++; *s >= '0' && *s <= '9'; s++, k++) {
        *ms += k < 3 ? (*s - '0') * scale : 0;
        scale /= 10;
    }
    return k >= 1 && k <= 9 ? s : NULL;
}

/* "YYYY-MM-DDThh:mm[:ss[.fff]](Z|+hh:mm|-hh:mm)" into ms UTC: 0, or 1 for
 * OpenADR's "now" (0001-01-01, with or without a time), or -1. */
static int dm_parse_instant(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec = 0, frac = 0, oh = 0, om = 0, sign = 0;
    const char *p;

    if (dm_digits(s, 4, &y) || s[4] != '-' || dm_digits(s + 5, 2, &mo) || s[7] != '-' ||
        dm_digits(s + 8, 2, &d)) {
        return -1;
    }
    if (s[10] == '\0') {
        return y == 1 && mo == 1 && d == 1 ? 1 : -1;
    }
    if ((s[10] != 'T' && s[10] != 't') || dm_digits(s + 11, 2, &h) || s[13] != ':' ||
        dm_digits(s + 14, 2, &mi)) {
        return -1;
    }
    p = s + 16;
    if (*p == ':') {
        if (dm_digits(p + 1, 2, &sec)) {
            return -1;
        }
        p = dm_fraction(p + 3, &frac);
        if (!p) {
            return -1;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        if (dm_digits(p + 1, 2, &oh) || p[3] != ':' || dm_digits(p + 4, 2, &om)) {
            return -1;
        }
        p += 6;
    } else {
        return -1;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > dm_mdays(y, mo) || h > 23 || mi > 59 || sec > 59 ||
        oh > 23 || om > 59) {
        return -1;
    }
    if (y == 1 && mo == 1 && d == 1) {
        return 1;
    }
    if (y < 1970) {
        return -1;
    }
    /* clock_from_local reads the fields as +08:00 civil time */
    *ms = clock_from_local(y, mo, d, h, mi, sec) + CLOCK_LOCAL_OFFSET_MS + frac -
          (int64_t)sign * (oh * 3600 + om * 60) * 1000;
    return 0;
}

/* "P[nW][nD][T[nH][nM][n[.fff]S]]" into ms, or "P9999Y" (unbounded); -1
 * when it is not one. Years and months have no fixed length: refused. */
static int dm_parse_duration(const char *s, int64_t *ms)
{
    static const struct {
        char unit;
        int in_time;
        int64_t ms;
    } units[] = {
        {'W', 0, 7 * 86400000LL},
        {'D', 0, 86400000LL},
        {'H', 1, 3600000LL},
        {'M', 1, 60000LL},
        {'S', 1, 1000LL},
    };

    int64_t total = 0;
    int next = 0;
    int in_time = 0;
    int parts = 0;

    if (strcmp(s, "P9999Y") == 0) {
        *ms = DM_UNBOUNDED_MS;
        return 0;
    }
    if (*s++ != 'P') {
        return -1;
    }
    while (*s) {
        int64_t v = 0;
        int nd = 0;
        int frac = 0;
        int k = next;
        const char *after;

        if (*s == 'T' && !in_time) {
            in_time = 1;
            parts = 0;
            s++;
            continue;
        }
        for (; *s >= '0' && *s <= '9'; s++) {
            if (++nd > 6) {
                return -1;
            }
            v = v * 10 + (*s - '0');
        }
        after = dm_fraction(s, &frac);
        if (nd == 0 || !after) {
            return -1;
        }
        while (k < 5 && (units[k].unit != *after || units[k].in_time != in_time)) {
            k++;
        }
        if (k == 5 || (after != s && units[k].unit != 'S')) {
            return -1;
        }
        total += v * units[k].ms + (units[k].unit == 'S' ? frac : 0);
        next = k + 1;
        parts++;
        s = after + 1;
    }
    if (parts == 0) {
        return -1; /* "P" or "PT" */
    }
    *ms = total;
    return 0;
}

/* ---- jsonfields callbacks -------------------------------------------------- */

/* Context of one parse, passed to the callbacks as jsonfields_ctx.user. */
struct dm_ctx {
    int has_now;
    int64_t now_ms;
};

struct dm_time {
    int set;
    int64_t ms;
};

struct dm_dur {
    int set;
    int64_t ms;
};

struct dm_num {
    int set;
    double v; /* may be +-inf (cJSON reads 1e999 so): the rule gate refuses it */
};

struct dm_values {
    const cJSON *first; /* the array's first element, borrowed from the tree */
    int n;
};

static int dm_bad(const cJSON *item, const char *path, const char *rule, struct error_detail *ed)
{
    char desc[DM_VALUE_SHOWN];

    jsonfields_describe(item, desc, sizeof(desc));
    return error_setf(ed, ERROR_INVALID, "%s: %s: %s", path, desc, rule);
}

static int
dm_cb_time(const cJSON *item, void *target, const char *path, void *user, struct error_detail *ed)
{
    const struct dm_ctx *ctx = user;
    struct dm_time *t = target;
    int rc = cJSON_IsString(item) ? dm_parse_instant(item->valuestring, &t->ms) : -1;

    if (rc == 1 && ctx->has_now) {
        t->ms = ctx->now_ms;
    } else if (rc != 0) {
        return dm_bad(item,
                      path,
                      "must be an ISO 8601 date-time from 1970 on with an offset, e.g. "
                      "\"2026-07-01T14:00:00+08:00\" or \"2026-07-01T06:00:00Z\"",
                      ed);
    }
    t->set = 1;
    return ERROR_OK;
}

static int dm_cb_duration(const cJSON *item,
                          void *target,
                          const char *path,
                          void *user,
                          struct error_detail *ed)
{
    struct dm_dur *d = target;

    (void)user;
    if (!cJSON_IsString(item) || dm_parse_duration(item->valuestring, &d->ms) != 0) {
        return dm_bad(item,
                      path,
                      "must be an ISO 8601 duration in weeks, days, hours, minutes and seconds, "
                      "e.g. \"PT15M\" or \"PT2H\"",
                      ed);
    }
    d->set = 1;
    return ERROR_OK;
}

static int
dm_cb_number(const cJSON *item, void *target, const char *path, void *user, struct error_detail *ed)
{
    struct dm_num *n = target;

    (void)user;
    if (!cJSON_IsNumber(item)) {
        return dm_bad(item, path, "must be a number", ed);
    }
    n->set = 1;
    n->v = item->valuedouble;
    return ERROR_OK;
}

static int
dm_cb_values(const cJSON *item, void *target, const char *path, void *user, struct error_detail *ed)
{
    struct dm_values *v = target;
    char sub[JSONFIELDS_PATH_MAX];
    int i = 0;

    (void)user;
    if (!cJSON_IsArray(item) || !item->child || cJSON_GetArraySize(item) > DM_VALUES_MAX) {
        return dm_bad(item, path, "must be an array of 1 to 96 numbers", ed);
    }
    for (const cJSON *e = item->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e)) {
            (void)snprintf(sub, sizeof(sub), "%s[%d]", path, i);
            return dm_bad(e, sub, "must be a number", ed);
        }
    }
    v->first = item->child;
    v->n = i;
    return ERROR_OK;
}

/* OpenADR 3.1 "targets": strings, read and ignored (the topic names the station). */
static int dm_cb_targets(const cJSON *item,
                         void *target,
                         const char *path,
                         void *user,
                         struct error_detail *ed)
{
    char sub[JSONFIELDS_PATH_MAX];
    int i = 0;

    (void)target;
    (void)user;
    if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) > DM_TARGETS_MAX) {
        return dm_bad(item, path, "must be an array of at most 64 strings", ed);
    }
    for (const cJSON *e = item->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e)) {
            (void)snprintf(sub, sizeof(sub), "%s[%d]", path, i);
            return dm_bad(e, sub, "must be a string", ed);
        }
    }
    return ERROR_OK;
}

/* ---- wire structs and their tables ------------------------------------------ */

struct dm_period {
    struct dm_time start;
    struct dm_dur duration;
    struct dm_dur randomize; /* randomizeStart: read, not applied */
};

struct dm_payload {
    int type; /* index into the table's names */
    struct dm_values values;
};

struct dm_interval {
    int id;
    int has_period;
    struct dm_period period;
    int n_payloads;
    struct dm_payload payload[DM_PAYLOADS_MAX];
};

struct dm_desc {
    int object_type;
    int payload_type;
    int units;
    int currency;
};

/* One struct for every inbound message; each table reads its own fields. */
struct dm_wire {
    char id[DM_ID_MAX];
    int object_type;
    char program[DM_ID_MAX];
    char name[128];
    int modification;
    int priority;
    int cancelled;
    int targets; /* unused target of the targets callback */
    struct dm_time created, modified, expires, valid_from, valid_until, issued;
    int command;
    struct dm_num value_kw;
    struct dm_dur duration;
    char connector[DM_ID_MAX];
    struct dm_time departure;
    struct dm_num energy_kwh;
    int has_period;
    struct dm_period period;
    int n_desc;
    struct dm_desc desc[DM_DESC_MAX];
    int n_intervals;
    struct dm_interval interval[DM_WIRE_MAX];
};

static const char *const dm_event_types[] = {"IMPORT_CAPACITY_LIMIT",
                                             "LOAD_SHED_DELTA",
                                             "IMPORT_CAPACITY_FLOOR",
                                             NULL};
static const char *const dm_price_types[] = {"PRICE", "EXPORT_PRICE", NULL};
static const char *const dm_forecast_types[] = {"VISITOR_FLOW", "ROAD_CONGESTION", NULL};
static const char *const dm_command_names[] =
    {"IMPORT_CAP", "BATTERY_SETPOINT", "EMERGENCY_HOLD_RESERVE", "EMERGENCY_SUPPORT", "AUTO", NULL};
static const char *const dm_event_object[] = {"EVENT", NULL};
static const char *const dm_desc_object[] = {"EVENT_PAYLOAD_DESCRIPTOR", NULL};
static const char *const dm_kw[] = {"KW", NULL};
static const char *const dm_kwh[] = {"KWH", NULL};
static const char *const dm_cny[] = {"CNY", NULL};

#define DM_REQ            JSONFIELDS_REQUIRED
#define DM_TIME(n, m, fl) JSONFIELDS_F_CUSTOM(n, struct dm_wire, m, dm_cb_time, NULL, fl)
#define DM_ID(n, m)       JSONFIELDS_F_STRING(n, struct dm_wire, m, 1, DM_REQ, NULL)
#define DM_INTERVALS(tab, mx)              \
    JSONFIELDS_F_ARRAY("intervals",        \
                       struct dm_wire,     \
                       interval,           \
                       n_intervals,        \
                       struct dm_interval, \
                       tab,                \
                       mx,                 \
                       NULL,               \
                       0)
#define DM_DESCS(tab)                        \
    JSONFIELDS_F_ARRAY("payloadDescriptors", \
                       struct dm_wire,       \
                       desc,                 \
                       n_desc,               \
                       struct dm_desc,       \
                       tab,                  \
                       DM_DESC_MAX,          \
                       NULL,                 \
                       0)
#define DM_PERIOD \
    JSONFIELDS_F_OPTIONAL("intervalPeriod", struct dm_wire, period, has_period, dm_period_fields)

static const struct jsonfields_field dm_period_fields[] = {
    JSONFIELDS_F_CUSTOM("start", struct dm_period, start, dm_cb_time, NULL, 0),
    JSONFIELDS_F_CUSTOM("duration", struct dm_period, duration, dm_cb_duration, NULL, 0),
    JSONFIELDS_F_CUSTOM("randomizeStart", struct dm_period, randomize, dm_cb_duration, NULL, 0),
    JSONFIELDS_F_END,
};

#define DM_PAYLOAD_FIELDS(name, types)                                                        \
    static const struct jsonfields_field name[] = {                                           \
        JSONFIELDS_F_ENUM("type", struct dm_payload, type, types, DM_REQ, 0),                 \
        JSONFIELDS_F_CUSTOM("values", struct dm_payload, values, dm_cb_values, NULL, DM_REQ), \
        JSONFIELDS_F_END,                                                                     \
    }

#define DM_INTERVAL_FIELDS(name, payloads)                                     \
    static const struct jsonfields_field name[] = {                            \
        JSONFIELDS_F_INT("id", struct dm_interval, id, 0, INT_MAX, DM_REQ, 0), \
        JSONFIELDS_F_OPTIONAL("intervalPeriod",                                \
                              struct dm_interval,                              \
                              period,                                          \
                              has_period,                                      \
                              dm_period_fields),                               \
        JSONFIELDS_F_ARRAY("payloads",                                         \
                           struct dm_interval,                                 \
                           payload,                                            \
                           n_payloads,                                         \
                           struct dm_payload,                                  \
                           payloads,                                           \
                           DM_PAYLOADS_MAX,                                    \
                           NULL,                                               \
                           DM_REQ),                                            \
        JSONFIELDS_F_END,                                                      \
    }

DM_PAYLOAD_FIELDS(dm_event_payload_fields, dm_event_types);
DM_PAYLOAD_FIELDS(dm_price_payload_fields, dm_price_types);
DM_PAYLOAD_FIELDS(dm_forecast_payload_fields, dm_forecast_types);
DM_INTERVAL_FIELDS(dm_event_interval_fields, dm_event_payload_fields);
DM_INTERVAL_FIELDS(dm_price_interval_fields, dm_price_payload_fields);
DM_INTERVAL_FIELDS(dm_forecast_interval_fields, dm_forecast_payload_fields);

static const struct jsonfields_field dm_event_desc_fields[] = {
    JSONFIELDS_F_ENUM("objectType", struct dm_desc, object_type, dm_desc_object, 0, 0),
    JSONFIELDS_F_ENUM("payloadType", struct dm_desc, payload_type, dm_event_types, DM_REQ, 0),
    JSONFIELDS_F_ENUM("units", struct dm_desc, units, dm_kw, 0, 0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field dm_price_desc_fields[] = {
    JSONFIELDS_F_ENUM("objectType", struct dm_desc, object_type, dm_desc_object, 0, 0),
    JSONFIELDS_F_ENUM("payloadType", struct dm_desc, payload_type, dm_price_types, DM_REQ, 0),
    JSONFIELDS_F_ENUM("units", struct dm_desc, units, dm_kwh, 0, 0),
    JSONFIELDS_F_ENUM("currency", struct dm_desc, currency, dm_cny, 0, 0),
    JSONFIELDS_F_END,
};

/* modificationNumber and priority take any int here; the rule gate wants >= 0 */
static const struct jsonfields_field dm_event_fields[] = {
    DM_ID("id", id),
    JSONFIELDS_F_ENUM("objectType", struct dm_wire, object_type, dm_event_object, 0, 0),
    DM_ID("programID", program),
    JSONFIELDS_F_STRING("eventName", struct dm_wire, name, 0, 0, NULL),
    JSONFIELDS_F_INT("modificationNumber",
                     struct dm_wire,
                     modification,
                     INT_MIN,
                     INT_MAX,
                     DM_REQ,
                     0),
    JSONFIELDS_F_INT("priority", struct dm_wire, priority, INT_MIN, INT_MAX, DM_REQ, 0),
    DM_TIME("createdDateTime", created, DM_REQ),
    DM_TIME("modificationDateTime", modified, 0),
    JSONFIELDS_F_CUSTOM("targets", struct dm_wire, targets, dm_cb_targets, NULL, 0),
    DM_PERIOD,
    DM_DESCS(dm_event_desc_fields),
    DM_INTERVALS(dm_event_interval_fields, DISPATCH_INTERVALS_MAX),
    JSONFIELDS_F_BOOL("cancelled", struct dm_wire, cancelled, 0, 0),
    DM_TIME("expires", expires, 0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field dm_command_fields[] = {
    DM_ID("id", id),
    JSONFIELDS_F_ENUM("command", struct dm_wire, command, dm_command_names, DM_REQ, 0),
    JSONFIELDS_F_CUSTOM("value_kw", struct dm_wire, value_kw, dm_cb_number, NULL, 0),
    DM_TIME("issued", issued, DM_REQ),
    DM_TIME("expires", expires, DM_REQ),
    JSONFIELDS_F_CUSTOM("duration", struct dm_wire, duration, dm_cb_duration, NULL, 0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field dm_declaration_fields[] = {
    DM_ID("id", id),
    DM_ID("connector", connector),
    DM_TIME("issued", issued, DM_REQ),
    DM_TIME("departure", departure, 0),
    JSONFIELDS_F_CUSTOM("energy_kwh", struct dm_wire, energy_kwh, dm_cb_number, NULL, 0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field dm_tariff_fields[] = {
    DM_ID("id", id),
    DM_TIME("createdDateTime", created, 0),
    DM_TIME("validFrom", valid_from, DM_REQ),
    DM_TIME("validUntil", valid_until, DM_REQ),
    DM_PERIOD,
    DM_DESCS(dm_price_desc_fields),
    DM_INTERVALS(dm_price_interval_fields, DISPATCH_PRICES_MAX),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field dm_forecast_fields[] = {
    DM_ID("id", id),
    DM_TIME("createdDateTime", created, 0),
    DM_PERIOD,
    DM_INTERVALS(dm_forecast_interval_fields, DISPATCH_INTERVALS_MAX),
    JSONFIELDS_F_END,
};

/* ---- the byte gate and the table gate ------------------------------------------ */

static int dm_id_ok(const char *s)
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
static int dm_read(const char *payload,
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

static struct dispatch_error *dm_begin(struct dispatch_error *err, struct dispatch_error *local)
{
    err = err ? err : local;
    memset(err, 0, sizeof(*err));
    return err;
}

/* ---- the rule gate --------------------------------------------------------------- */

/* Start and end of each wire interval: its own intervalPeriod.start, else
 * the compact form (after the previous one; the first one at the message's
 * intervalPeriod.start, else at first_start), with its own duration or
 * the message's. In order, disjoint, each longer than zero. */
static int dm_resolve(const struct dm_wire *w,
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
static int dm_value(const struct dm_payload *p,
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

static int dm_expired(struct dispatch_error *err, const char *what, int64_t at, int64_t now_ms)
{
    char a[40];
    char b[40];

    dm_iso(at, a);
    dm_iso(now_ms, b);
    return dm_fail(err, DISPATCH_EXPIRED, "%s: %s is not after now (%s)", what, a, b);
}

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
    if (rc != DISPATCH_OK && rc != DISPATCH_EXPIRED) {
        memset(out, 0, sizeof(*out));
    }
    cJSON_Delete(root);
    free(w);
    return rc;
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
    if (rc != DISPATCH_OK && rc != DISPATCH_EXPIRED) {
        memset(out, 0, sizeof(*out));
    }
    cJSON_Delete(root);
    free(w);
    return rc;
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
    if (rc != DISPATCH_OK && rc != DISPATCH_EXPIRED) {
        memset(out, 0, sizeof(*out));
    }
    cJSON_Delete(root);
    free(w);
    return rc;
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
