/* SPDX-License-Identifier: MIT */
/*
 * dispatch_msg_wire.c - the table gate's half of the inbound parsers
 * (dispatch_msg.c): ISO 8601 instants and durations, the jsonfields
 * callbacks that read them and the other custom fields, and the name lists
 * and jsonfields tables that read each message into its wire struct
 * (dispatch_msg_internal.h). Number ranges are not in the tables: the rule
 * gate checks them. Pure functions and constant tables, any thread.
 */
#include "dispatch_msg_internal.h"

#include "../common/clock.h"
#include "../common/error.h"
#include "../config/jsonfields.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

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

/* ---- name lists and the wire structs' tables ---------------------------------- */

const char *const dm_event_types[] = {"IMPORT_CAPACITY_LIMIT",
                                      "LOAD_SHED_DELTA",
                                      "IMPORT_CAPACITY_FLOOR",
                                      NULL};
static const char *const dm_price_types[] = {"PRICE", "EXPORT_PRICE", NULL};
const char *const dm_forecast_types[] = {"VISITOR_FLOW", "ROAD_CONGESTION", NULL};
const char *const dm_command_names[] =
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
const struct jsonfields_field dm_event_fields[] = {
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

const struct jsonfields_field dm_command_fields[] = {
    DM_ID("id", id),
    JSONFIELDS_F_ENUM("command", struct dm_wire, command, dm_command_names, DM_REQ, 0),
    JSONFIELDS_F_CUSTOM("value_kw", struct dm_wire, value_kw, dm_cb_number, NULL, 0),
    DM_TIME("issued", issued, DM_REQ),
    DM_TIME("expires", expires, DM_REQ),
    JSONFIELDS_F_CUSTOM("duration", struct dm_wire, duration, dm_cb_duration, NULL, 0),
    JSONFIELDS_F_END,
};

const struct jsonfields_field dm_declaration_fields[] = {
    DM_ID("id", id),
    DM_ID("connector", connector),
    DM_TIME("issued", issued, DM_REQ),
    DM_TIME("departure", departure, 0),
    JSONFIELDS_F_CUSTOM("energy_kwh", struct dm_wire, energy_kwh, dm_cb_number, NULL, 0),
    JSONFIELDS_F_END,
};

const struct jsonfields_field dm_tariff_fields[] = {
    DM_ID("id", id),
    DM_TIME("createdDateTime", created, 0),
    DM_TIME("validFrom", valid_from, DM_REQ),
    DM_TIME("validUntil", valid_until, DM_REQ),
    DM_PERIOD,
    DM_DESCS(dm_price_desc_fields),
    DM_INTERVALS(dm_price_interval_fields, DISPATCH_PRICES_MAX),
    JSONFIELDS_F_END,
};

const struct jsonfields_field dm_forecast_fields[] = {
    DM_ID("id", id),
    DM_TIME("createdDateTime", created, 0),
    DM_PERIOD,
    DM_INTERVALS(dm_forecast_interval_fields, DISPATCH_INTERVALS_MAX),
    JSONFIELDS_F_END,
};
