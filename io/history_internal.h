/* SPDX-License-Identifier: MIT */
/*
 * history_internal.h - private to the io/history*.c files; nothing else may
 * include it (the history's API is history.h). It holds struct history and
 * its batch, the ids of the statements prepared at open, the name tables
 * of the text columns, and the history_ functions that one of those files
 * calls in another:
 *   history.c         open and close, the flush of the batch in one
 *                     transaction, rollups, prune, check, stats
 *   history_schema.c  the schema migrations and the SQL of the statements
 *   history_batch.c   the checks of the add/put functions and the batch
 *   history_query.c   the resume queries (sessions, plan, DR, mean net)
 *
 * Everything here runs on the thread that owns the struct history.
 */
#ifndef FLEXD_IO_HISTORY_INTERNAL_H
#define FLEXD_IO_HISTORY_INTERNAL_H

#include "history.h"

#include "../common/alloc.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MOD "history"

#define MINUTE_MS  60000LL
#define QUARTER_MS 900000LL

enum stmt_id {
    ST_SAMPLE,
    ST_CONNECTOR,
    ST_SETPOINT,
    ST_ALARM,
    ST_PLAN_SUPERSEDE,
    ST_PLAN_PUT,
    ST_PLAN_STATUS,
    ST_SESSION,
    ST_DR,
    ST_ROLLUP_1MIN,
    ST_ROLLUP_15MIN,
    ST_CONN_ROLLUP_1MIN,
    ST_CONN_ROLLUP_15MIN,
    ST_OPEN_SESSIONS,
    ST_SESSIONS_SINCE,
    ST_ACTIVE_PLAN,
    ST_ACTIVE_DR,
    ST_MEAN_NET,
    ST_PRUNE_FIRST, /* the prune statements follow, in prune_table order */
};

/* The prune statements: the entries of prune_table in history.c, which
 * checks this count. */
#define N_PRUNE  11
#define ST_COUNT (ST_PRUNE_FIRST + N_PRUNE)

static const char *const plan_status_names[] = {"active", "superseded", "failed", "done"};
static const char *const dr_state_names[] =
    {"received", "accepted", "active", "finished", "cancelled", "rejected"};
static const char *const connector_state_names[HISTORY_CONNECTOR_NSTATES] = {"unknown",
                                                                             "available",
                                                                             "preparing",
                                                                             "charging",
                                                                             "suspended_ev",
                                                                             "suspended_evse",
                                                                             "finishing",
                                                                             "faulted",
                                                                             "unavailable"};
static const char *const severity_names[] = {"info", "warning", "error", "critical"};
static const char *const alarm_state_names[] = {"raised", "cleared", "event"};
static const char *const session_state_names[] = {"open", "closed"};

#define NAME_OF(table, v) \
    ((int)(v) >= 0 && (size_t)(v) < sizeof(table) / sizeof(table[0]) ? table[(v)] : "?")

/* A growable array of fixed-size records. */
struct vec {
    char *items;
    int n;
    int cap;
};

struct plan_op {
    int status_only; /* history_set_plan_status(): only id and status are set */
    struct history_plan p;
};

struct session_rec {
    struct history_session s;
    int64_t updated_ms;
};

struct dr_rec {
    struct history_dr d;
    int64_t updated_ms;
};

struct history {
    char *path;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    const struct clock *clock;
    int sample_period_ms;
    int max_pending;
    struct history_retention retention;
    int schema_version;

    /* the batch, committed in this order by history_flush() */
    struct vec samples;    /* struct history_sample */
    struct vec connectors; /* struct history_connector_sample */
    struct vec setpoints;  /* struct history_setpoint */
    struct vec alarms;     /* struct history_alarm, message owned */
    struct vec plans;      /* struct plan_op, json owned */
    struct vec sessions;   /* struct session_rec */
    struct vec drs;        /* struct dr_rec, json owned */
    int pending;
    int64_t sample_lo, sample_hi, conn_lo, conn_hi; /* ts range of batched samples */

    int last_sqlite_rc;
    int failing;        /* the last flush failed: a run of failures is logged at start and end */
    int64_t failed_run; /* failures in the current run */
    struct history_stats stats;
};

static inline void *vec_push(struct vec *v, size_t size)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->items = alloc_resize(v->items, (size_t)v->cap, size);
    }
    memset(v->items + (size_t)v->n * size, 0, size);
    return v->items + (size_t)v->n++ * size;
}

#define VEC_AT(v, type, i) (&((type *)(v).items)[(i)])

/* ---- history.c ---------------------------------------------------------- */

/* Log an error whose text starts "history: " under the module name once. */
void history_log_error(const char *text, const char *suffix);

/* Record SQLite's error for what and return ERROR_IO. */
int history_fail(struct history *h, int src, const char *what, struct error_detail *ed);

/* Run sql (no rows) with sqlite3_exec; on failure history_fail() with what. */
int history_exec(struct history *h, const char *sql, const char *what, struct error_detail *ed);

/* ---- history_schema.c --------------------------------------------------- */

/* The SQL of the statements before ST_PRUNE_FIRST, by enum stmt_id. */
extern const char *const history_stmt_sql[ST_PRUNE_FIRST];

/* Bring the schema up to this flexd's version in one write transaction;
 * refuses a file of another application or of a newer schema. */
int history_migrate(struct history *h, struct error_detail *ed);

#endif
