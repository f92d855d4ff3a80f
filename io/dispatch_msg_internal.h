/* SPDX-License-Identifier: MIT */
/*
 * dispatch_msg_internal.h - private to the io/dispatch_msg*.c files; nothing
 * else may include it (the parsers' API is dispatch_msg.h). It holds the
 * limits, the "wire" structs that the jsonfields tables read the inbound
 * text into, and the dm_ names that one of those files uses in another:
 *   dispatch_msg.c        the code names, dm_fail(), the byte and table gate
 *                         (dm_read()) and the rule gate (interval
 *                         resolution, values, expiry)
 *   dispatch_msg_wire.c   ISO 8601 instants and durations, the jsonfields
 *                         callbacks, the name lists and the tables of each
 *                         message
 *   dispatch_msg_parse.c  one section per message: dr/event, command,
 *                         session/declare, tariff, forecasts
 *
 * Pure functions, any thread.
 */
#ifndef FLEXD_IO_DISPATCH_MSG_INTERNAL_H
#define FLEXD_IO_DISPATCH_MSG_INTERNAL_H

#include "dispatch_msg.h"

#include "../config/jsonfields.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define DM_ID_MAX       64                     /* ids: 1..63 printable ASCII */
#define DM_PAYLOADS_MAX 2                      /* payloads in one interval */
#define DM_VALUES_MAX   DISPATCH_INTERVALS_MAX /* values in one payload */
#define DM_DESC_MAX     4                      /* payloadDescriptors */
#define DM_WIRE_MAX     DISPATCH_PRICES_MAX    /* intervals in any wire struct */
#define DM_TARGETS_MAX  64
#define DM_UNBOUNDED_MS (INT64_C(1) << 60)       /* OpenADR's "P9999Y" */
#define DM_TIME_MAX_MS  INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */
#define DM_VALUE_SHOWN  80

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

/* ---- wire structs (their tables: dispatch_msg_wire.c) ----------------------- */

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

/* ---- dispatch_msg_wire.c: the name lists and the tables ---------------------- */

extern const char *const dm_event_types[];
extern const char *const dm_forecast_types[];
extern const char *const dm_command_names[];
extern const struct jsonfields_field dm_event_fields[];
extern const struct jsonfields_field dm_command_fields[];
extern const struct jsonfields_field dm_declaration_fields[];
extern const struct jsonfields_field dm_tariff_fields[];
extern const struct jsonfields_field dm_forecast_fields[];

/* ---- dispatch_msg.c: errors, the byte and table gate, the rule gate ------------ */

/* Set err to code and the formatted message; returns code. */
int dm_fail(struct dispatch_error *err, enum dispatch_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ms as an ISO 8601 instant (or "never (P9999Y)") for messages. */
void dm_iso(int64_t ms, char buf[40]);

/* 1 if s is 1 to 63 printable ASCII characters. */
int dm_id_ok(const char *s);

/* The byte gate, then root read through table into a new wire struct
 * (*wire, freed by the caller, also on error). */
int dm_read(const char *payload,
            size_t len,
            const struct jsonfields_field *table,
            const struct dm_ctx *ctx,
            cJSON **root,
            struct dm_wire **wire,
            struct dispatch_error *err);

/* err itself, else local; either cleared. */
struct dispatch_error *dm_begin(struct dispatch_error *err, struct dispatch_error *local);

/* The end of a parse: out (size bytes) zeroed unless rc is OK or EXPIRED
 * (an expired message is kept whole, for the log), root and w freed;
 * returns rc. */
int dm_end(int rc, void *out, size_t size, cJSON *root, struct dm_wire *w);

/* Start and end of each of w's intervals (first_start: where the first one
 * starts when nothing else says; may be NULL). */
int dm_resolve(const struct dm_wire *w,
               const struct dm_time *first_start,
               int64_t *start,
               int64_t *end,
               struct dispatch_error *err);

/* Value k of the payload as a checked number in [lo, hi]. */
int dm_value(const struct dm_payload *p,
             int iv,
             int pl,
             int k,
             double lo,
             double hi,
             const char *unit,
             double *out,
             struct dispatch_error *err);

/* Set err to EXPIRED: what (at) is not after now_ms. */
int dm_expired(struct dispatch_error *err, const char *what, int64_t at, int64_t now_ms);

#endif
