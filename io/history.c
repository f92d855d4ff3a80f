/* SPDX-License-Identifier: MIT */
/*
 * history.c - the history database on SQLite: schema migrations keyed by
 * PRAGMA user_version, an in-memory batch committed by history_flush() in
 * one transaction through statements prepared once at open, rollups
 * recomputed for the buckets a flush touched, pruning, and the resume
 * queries. Layout and policy are described in docs/storage.md.
 *
 * Rollups are recomputed for every minute and quarter hour a flush
 * touched (usually the current ones): 1-min rows from the 1-s rows, then
 * 15-min rows from the 1-min rows. They are exact whatever order samples
 * arrive in, and survive a restart with nothing held in memory. That needs
 * the rows below a bucket to be complete, hence retentions of at least an
 * hour for 1-s and 1-min rows, pruning both in whole quarter hours, and
 * refusing samples older than either retention.
 *
 * A struct history is owned by the engine's thread. SQLite's own log is
 * routed into the logger (module "sqlite") once per process.
 */
#include "history.h"

#include "sqlite_log.h"

#include "../common/alloc.h"
#include "../common/logger.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOD "history"

#define HISTORY_APPLICATION_ID 0x666c7864 /* "flxd" in the file header */
#define MINUTE_MS              60000LL
#define QUARTER_MS             900000LL

/* The rollup tables' columns in schema version 1 (both widths alike). */
#define ROLLUP_V1_COLUMNS                                                                        \
    "bucket_ms INTEGER PRIMARY KEY, n_samples INTEGER NOT NULL, grid_import_mean_kw REAL,"       \
    " grid_import_min_kw REAL, grid_import_max_kw REAL, grid_import_kwh REAL,"                   \
    " grid_export_mean_kw REAL, grid_export_max_kw REAL, grid_export_kwh REAL, pv_mean_kw REAL," \
    " pv_max_kw REAL, pv_kwh REAL, pv_limit_min_kw REAL, battery_mean_kw REAL,"                  \
    " battery_min_kw REAL, battery_max_kw REAL, battery_discharge_kwh REAL,"                     \
    " battery_charge_kwh REAL, soc_min REAL, soc_max REAL, soc_last REAL, ev_mean_kw REAL,"      \
    " ev_max_kw REAL, ev_kwh REAL, base_mean_kw REAL, base_max_kw REAL, base_kwh REAL,"          \
    " import_limit_min_kw REAL"

/* Migration i takes the schema from user_version i to i + 1. A published
 * migration is never edited: a change is a new entry at the end. */
static const char *const history_migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE sample_1s (ts_ms INTEGER PRIMARY KEY, grid_import_kw REAL, grid_export_kw REAL,"
    " pv_kw REAL, pv_limit_kw REAL, battery_kw REAL, battery_soc REAL, ev_kw REAL, base_kw REAL,"
    " import_limit_kw REAL);"
    "CREATE TABLE connector_state (code INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "INSERT INTO connector_state VALUES (0,'unknown'),(1,'available'),(2,'preparing'),"
    " (3,'charging'),(4,'suspended_ev'),(5,'suspended_evse'),(6,'finishing'),(7,'faulted'),"
    " (8,'unavailable');"
    "CREATE TABLE connector_1s (ts_ms INTEGER NOT NULL, connector_id TEXT NOT NULL, power_kw REAL,"
    " state INTEGER NOT NULL REFERENCES connector_state(code),"
    " PRIMARY KEY (ts_ms, connector_id)) WITHOUT ROWID;"
    "CREATE TABLE rollup_1min (" ROLLUP_V1_COLUMNS ");"
    "CREATE TABLE rollup_15min (" ROLLUP_V1_COLUMNS ");"
    "CREATE TABLE connector_1min (bucket_ms INTEGER NOT NULL, connector_id TEXT NOT NULL,"
    " n_samples INTEGER NOT NULL, mean_kw REAL, max_kw REAL, energy_kwh REAL, charging_s REAL,"
    " PRIMARY KEY (bucket_ms, connector_id)) WITHOUT ROWID;"
    "CREATE TABLE connector_15min (bucket_ms INTEGER NOT NULL, connector_id TEXT NOT NULL,"
    " n_samples INTEGER NOT NULL, mean_kw REAL, max_kw REAL, energy_kwh REAL, charging_s REAL,"
    " PRIMARY KEY (bucket_ms, connector_id)) WITHOUT ROWID;"
    "CREATE TABLE plan (id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL,"
    " horizon_start_ms INTEGER NOT NULL,"
    " step_minutes INTEGER NOT NULL CHECK (step_minutes BETWEEN 1 AND 60),"
    " steps INTEGER NOT NULL CHECK (steps >= 1),"
    " status TEXT NOT NULL CHECK (status IN ('active','superseded','failed','done')),"
    " objective_cny REAL, json TEXT NOT NULL);"
    "CREATE INDEX plan_by_status ON plan (status, created_ms);"
    "CREATE TABLE setpoint (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, device TEXT NOT NULL,"
    " point TEXT NOT NULL, value REAL, verified INTEGER NOT NULL CHECK (verified IN (0,1,2)));"
    "CREATE INDEX setpoint_by_time ON setpoint (ts_ms);"
    "CREATE TABLE alarm (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, device TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " severity TEXT NOT NULL CHECK (severity IN ('info','warning','error','critical')),"
    " state TEXT NOT NULL CHECK (state IN ('raised','cleared','event')), message TEXT NOT NULL);"
    "CREATE INDEX alarm_by_time ON alarm (ts_ms);"
    "CREATE TABLE ev_session (id TEXT PRIMARY KEY, connector_id TEXT NOT NULL,"
    " plugin_ms INTEGER NOT NULL, unplug_ms INTEGER, energy_kwh REAL NOT NULL,"
    " departure_ms INTEGER, wanted_kwh REAL,"
    " state TEXT NOT NULL CHECK (state IN ('open','closed')), updated_ms INTEGER NOT NULL);"
    "CREATE INDEX ev_session_by_state ON ev_session (state, plugin_ms);"
    "CREATE TABLE dr_event (id TEXT PRIMARY KEY, received_ms INTEGER NOT NULL,"
    " start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, state TEXT NOT NULL CHECK (state IN"
    " ('received','accepted','active','finished','cancelled','rejected')),"
    " json TEXT NOT NULL, updated_ms INTEGER NOT NULL);",
};

#define HISTORY_SCHEMA_VERSION ((int)(sizeof(history_migrations) / sizeof(history_migrations[0])))

/* The 1-min rollup from the 1-s rows: ?1 the width (60000), ?2 the sample
 * period ms, [?3, ?4) the minute-aligned range to recompute; energy is the
 * sum of kW times the period. soc_last is the last known SoC in the
 * minute, found in a derived table because SQLite does not allow an outer
 * aggregate inside a correlated subquery. */
#define ROLLUP_COLUMNS                                                                        \
    "bucket_ms, n_samples, grid_import_mean_kw, grid_import_min_kw, grid_import_max_kw,"      \
    " grid_import_kwh, grid_export_mean_kw, grid_export_max_kw, grid_export_kwh, pv_mean_kw," \
    " pv_max_kw, pv_kwh, pv_limit_min_kw, battery_mean_kw, battery_min_kw, battery_max_kw,"   \
    " battery_discharge_kwh, battery_charge_kwh, soc_min, soc_max, ev_mean_kw, ev_max_kw,"    \
    " ev_kwh, base_mean_kw, base_max_kw, base_kwh, import_limit_min_kw, soc_last"

#define ROLLUP_1MIN_SQL                                                                         \
    "INSERT OR REPLACE INTO rollup_1min (" ROLLUP_COLUMNS ")"                                   \
    " SELECT g.*, (SELECT l.battery_soc FROM sample_1s AS l WHERE l.ts_ms >= g.b"               \
    " AND l.ts_ms < g.b + ?1 AND l.battery_soc IS NOT NULL ORDER BY l.ts_ms DESC LIMIT 1)"      \
    " FROM (SELECT ts_ms / ?1 * ?1 AS b, count(*),"                                             \
    " avg(grid_import_kw), min(grid_import_kw), max(grid_import_kw),"                           \
    " sum(grid_import_kw) * ?2 / 3600000.0,"                                                    \
    " avg(grid_export_kw), max(grid_export_kw), sum(grid_export_kw) * ?2 / 3600000.0,"          \
    " avg(pv_kw), max(pv_kw), sum(pv_kw) * ?2 / 3600000.0, min(pv_limit_kw),"                   \
    " avg(battery_kw), min(battery_kw), max(battery_kw),"                                       \
    " sum(max(battery_kw, 0.0)) * ?2 / 3600000.0, sum(max(-battery_kw, 0.0)) * ?2 / 3600000.0," \
    " min(battery_soc), max(battery_soc),"                                                      \
    " avg(ev_kw), max(ev_kw), sum(ev_kw) * ?2 / 3600000.0,"                                     \
    " avg(base_kw), max(base_kw), sum(base_kw) * ?2 / 3600000.0, min(import_limit_kw)"          \
    " FROM sample_1s WHERE ts_ms >= ?3 AND ts_ms < ?4 GROUP BY b) AS g"

/* The 15-min rollup from the 1-min rows (at most 15 per quarter, where the
 * 1-s rows would be 900): sums, minima and maxima are exact; a mean is the
 * minutes' means weighted by their sample counts, exact unless a column
 * was NULL for only part of a minute. ?1 the width (900000), [?3, ?4). */
#define ROLLUP_15MIN_SQL                                                                           \
    "INSERT OR REPLACE INTO rollup_15min (" ROLLUP_COLUMNS ")"                                     \
    " SELECT g.*, (SELECT l.soc_last FROM rollup_1min AS l WHERE l.bucket_ms >= g.b"               \
    " AND l.bucket_ms < g.b + ?1 AND l.soc_last IS NOT NULL ORDER BY l.bucket_ms DESC LIMIT 1)"    \
    " FROM (SELECT bucket_ms / ?1 * ?1 AS b, sum(n_samples),"                                      \
    " sum(grid_import_mean_kw * n_samples)"                                                        \
    "  / sum(CASE WHEN grid_import_mean_kw IS NOT NULL THEN n_samples END),"                       \
    " min(grid_import_min_kw), max(grid_import_max_kw), sum(grid_import_kwh),"                     \
    " sum(grid_export_mean_kw * n_samples)"                                                        \
    "  / sum(CASE WHEN grid_export_mean_kw IS NOT NULL THEN n_samples END),"                       \
    " max(grid_export_max_kw), sum(grid_export_kwh),"                                              \
    " sum(pv_mean_kw * n_samples) / sum(CASE WHEN pv_mean_kw IS NOT NULL THEN n_samples END),"     \
    " max(pv_max_kw), sum(pv_kwh), min(pv_limit_min_kw),"                                          \
    " sum(battery_mean_kw * n_samples)"                                                            \
    "  / sum(CASE WHEN battery_mean_kw IS NOT NULL THEN n_samples END),"                           \
    " min(battery_min_kw), max(battery_max_kw), sum(battery_discharge_kwh),"                       \
    " sum(battery_charge_kwh), min(soc_min), max(soc_max),"                                        \
    " sum(ev_mean_kw * n_samples) / sum(CASE WHEN ev_mean_kw IS NOT NULL THEN n_samples END),"     \
    " max(ev_max_kw), sum(ev_kwh),"                                                                \
    " sum(base_mean_kw * n_samples) / sum(CASE WHEN base_mean_kw IS NOT NULL THEN n_samples END)," \
    " max(base_max_kw), sum(base_kwh), min(import_limit_min_kw)"                                   \
    " FROM rollup_1min WHERE bucket_ms >= ?3 AND bucket_ms < ?4 GROUP BY b) AS g"

#define CONNECTOR_1MIN_SQL                                                                        \
    "INSERT OR REPLACE INTO connector_1min (bucket_ms, connector_id, n_samples, mean_kw, max_kw," \
    " energy_kwh, charging_s) SELECT ts_ms / ?1 * ?1 AS b, connector_id, count(*),"               \
    " avg(power_kw), max(power_kw), sum(power_kw) * ?2 / 3600000.0,"                              \
    " sum(state = 3) * ?2 / 1000.0 FROM connector_1s WHERE ts_ms >= ?3 AND ts_ms < ?4"            \
    " GROUP BY b, connector_id"

#define CONNECTOR_15MIN_SQL                                                                        \
    "INSERT OR REPLACE INTO connector_15min (bucket_ms, connector_id, n_samples, mean_kw, max_kw," \
    " energy_kwh, charging_s) SELECT bucket_ms / ?1 * ?1 AS b, connector_id, sum(n_samples),"      \
    " sum(mean_kw * n_samples) / sum(CASE WHEN mean_kw IS NOT NULL THEN n_samples END),"           \
    " max(max_kw), sum(energy_kwh), sum(charging_s) FROM connector_1min"                           \
    " WHERE bucket_ms >= ?3 AND bucket_ms < ?4 GROUP BY b, connector_id"

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

/* What history_prune() deletes; the cutoff is now minus the retention,
 * rounded down to a quarter hour for the rows rollups are made from. */
#define RETENTION(field) offsetof(struct history_retention, field)

static const struct {
    const char *sql;
    size_t retention;
    int whole_quarters;
} prune_table[] = {
    {"DELETE FROM sample_1s WHERE ts_ms < ?1", RETENTION(sample_ms), 1},
    {"DELETE FROM connector_1s WHERE ts_ms < ?1", RETENTION(sample_ms), 1},
    {"DELETE FROM rollup_1min WHERE bucket_ms < ?1", RETENTION(minute_ms), 1},
    {"DELETE FROM connector_1min WHERE bucket_ms < ?1", RETENTION(minute_ms), 1},
    {"DELETE FROM rollup_15min WHERE bucket_ms < ?1", RETENTION(quarter_ms), 0},
    {"DELETE FROM connector_15min WHERE bucket_ms < ?1", RETENTION(quarter_ms), 0},
    {"DELETE FROM setpoint WHERE ts_ms < ?1", RETENTION(setpoint_ms), 0},
    {"DELETE FROM alarm WHERE ts_ms < ?1", RETENTION(alarm_ms), 0},
    {"DELETE FROM plan WHERE created_ms < ?1 AND status <> 'active'", RETENTION(plan_ms), 0},
    {"DELETE FROM ev_session WHERE state = 'closed' AND unplug_ms < ?1", RETENTION(closed_ms), 0},
    {"DELETE FROM dr_event WHERE state IN ('finished','cancelled','rejected')"
     " AND updated_ms < ?1",
     RETENTION(closed_ms),
     0},
};

#define N_PRUNE  ((int)(sizeof(prune_table) / sizeof(prune_table[0])))
#define ST_COUNT (ST_PRUNE_FIRST + N_PRUNE)

static const char *const stmt_sql[ST_PRUNE_FIRST] = {
    [ST_SAMPLE] = "INSERT OR REPLACE INTO sample_1s (ts_ms, grid_import_kw, grid_export_kw, pv_kw,"
                  " pv_limit_kw, battery_kw, battery_soc, ev_kw, base_kw, import_limit_kw)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_CONNECTOR] = "INSERT OR REPLACE INTO connector_1s (ts_ms, connector_id, power_kw, state)"
                     " VALUES (?1, ?2, ?3, ?4)",
    [ST_SETPOINT] = "INSERT INTO setpoint (ts_ms, device, point, value, verified)"
                    " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_ALARM] = "INSERT INTO alarm (ts_ms, device, kind, severity, state, message)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_PLAN_SUPERSEDE] = "UPDATE plan SET status = 'superseded'"
                          " WHERE status = 'active' AND id <> ?1",
    [ST_PLAN_PUT] = "INSERT OR REPLACE INTO plan (id, created_ms, horizon_start_ms, step_minutes,"
                    " steps, status, objective_cny, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_PLAN_STATUS] = "UPDATE plan SET status = ?2 WHERE id = ?1",
    [ST_SESSION] = "INSERT OR REPLACE INTO ev_session (id, connector_id, plugin_ms, unplug_ms,"
                   " energy_kwh, departure_ms, wanted_kwh, state, updated_ms)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_DR] = "INSERT OR REPLACE INTO dr_event (id, received_ms, start_ms, end_ms, state, json,"
              " updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_ROLLUP_1MIN] = ROLLUP_1MIN_SQL,
    [ST_ROLLUP_15MIN] = ROLLUP_15MIN_SQL,
    [ST_CONN_ROLLUP_1MIN] = CONNECTOR_1MIN_SQL,
    [ST_CONN_ROLLUP_15MIN] = CONNECTOR_15MIN_SQL,
    [ST_OPEN_SESSIONS] = "SELECT id, connector_id, plugin_ms, unplug_ms, energy_kwh, departure_ms,"
                         " wanted_kwh, state FROM ev_session WHERE state = 'open'"
                         " ORDER BY plugin_ms, id",
    [ST_SESSIONS_SINCE] = "SELECT id, connector_id, plugin_ms, unplug_ms, energy_kwh, departure_ms,"
                          " wanted_kwh, state FROM ev_session WHERE plugin_ms >= ?1"
                          " ORDER BY plugin_ms, id",
    [ST_ACTIVE_PLAN] = "SELECT id, created_ms, horizon_start_ms, step_minutes, steps,"
                       " objective_cny, json FROM plan WHERE status = 'active'"
                       " ORDER BY created_ms DESC, id DESC LIMIT 1",
    [ST_ACTIVE_DR] = "SELECT id, received_ms, start_ms, end_ms, state, json FROM dr_event"
                     " WHERE state IN ('received','accepted','active') ORDER BY start_ms, id",
    /* sample-weighted, so a minute the engine was down for part of counts
     * for what it holds */
    [ST_MEAN_NET] = "SELECT SUM((grid_import_mean_kw - COALESCE(grid_export_mean_kw, 0))"
                    " * n_samples), SUM(n_samples), COUNT(*) FROM rollup_1min"
                    " WHERE bucket_ms >= ?1 AND bucket_ms < ?2 AND grid_import_mean_kw IS NOT NULL",
};

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

static void *vec_push(struct vec *v, size_t size)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->items = alloc_resize(v->items, (size_t)v->cap, size);
    }
    memset(v->items + (size_t)v->n * size, 0, size);
    return v->items + (size_t)v->n++ * size;
}

#define VEC_AT(v, type, i) (&((type *)(v).items)[(i)])

/* Log an error whose text starts "history: " under the module name once. */
static void history_log_error(const char *text, const char *suffix)
{
    sqlite_log_error(MOD, text, suffix);
}

/* Record SQLite's error for what and return ERROR_IO. */
static int history_fail(struct history *h, int src, const char *what, struct error_detail *ed)
{
    h->last_sqlite_rc = src;
    return error_setf(ed,
                      ERROR_IO,
                      "history: %s: %s: %s",
                      h->path,
                      what,
                      h->db ? sqlite3_errmsg(h->db) : "");
}

static int
history_exec(struct history *h, const char *sql, const char *what, struct error_detail *ed)
{
    int src = sqlite3_exec(h->db, sql, NULL, NULL, NULL);

    return src == SQLITE_OK ? ERROR_OK : history_fail(h, src, what, ed);
}

/* Run a statement that returns no rows, then reset it. */
static int
history_step_done(struct history *h, sqlite3_stmt *st, const char *what, struct error_detail *ed)
{
    int src = sqlite3_step(st);
    int rc = ERROR_OK;

    if (src != SQLITE_DONE) {
        rc = history_fail(h, src, what, ed);
    }
    sqlite3_reset(st);
    return rc;
}

static int
history_pragma_int(struct history *h, const char *sql, int64_t *v, struct error_detail *ed)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);

    if (src == SQLITE_OK) {
        src = sqlite3_step(st);
    }
    if (src != SQLITE_ROW) {
        int rc = history_fail(h, src, sql, ed);

        sqlite3_finalize(st);
        return rc;
    }
    *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return ERROR_OK;
}

static void bind_opt_double(sqlite3_stmt *st, int i, double v)
{
    if (isnan(v)) {
        sqlite3_bind_null(st, i);
    } else {
        sqlite3_bind_double(st, i, v);
    }
}

static void bind_opt_time(sqlite3_stmt *st, int i, int64_t ms)
{
    if (ms == 0) {
        sqlite3_bind_null(st, i);
    } else {
        sqlite3_bind_int64(st, i, ms);
    }
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static double column_opt_double(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static void column_id(sqlite3_stmt *st, int i, char *dst)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    snprintf(dst, HISTORY_ID_MAX, "%s", t ? (const char *)t : "");
}

static char *column_strdup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return alloc_strdup(t ? (const char *)t : "");
}

static int name_index(const char *const *names, int n, const unsigned char *text)
{
    for (int i = 0; text && i < n; i++) {
        if (strcmp(names[i], (const char *)text) == 0) {
            return i;
        }
    }
    return -1;
}

void history_config_init(struct history_config *cfg, const char *path, const struct clock *clock)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->path = path;
    cfg->clock = clock;
    cfg->busy_timeout_ms = 5000;
    cfg->sample_period_ms = 1000;
    cfg->max_pending = 200000;
    cfg->retention.sample_ms = HISTORY_DEFAULT_SAMPLE_MS;
    cfg->retention.minute_ms = HISTORY_DEFAULT_MINUTE_MS;
    cfg->retention.quarter_ms = HISTORY_DEFAULT_QUARTER_MS;
    cfg->retention.setpoint_ms = HISTORY_DEFAULT_SETPOINT_MS;
    cfg->retention.alarm_ms = HISTORY_DEFAULT_ALARM_MS;
    cfg->retention.plan_ms = HISTORY_DEFAULT_PLAN_MS;
    cfg->retention.closed_ms = HISTORY_DEFAULT_CLOSED_MS;
}

static int history_config_check(const struct history_config *cfg, struct error_detail *ed)
{
    static const char *const names[] =
        {"sample_ms", "minute_ms", "quarter_ms", "setpoint_ms", "alarm_ms", "plan_ms", "closed_ms"};
    const int64_t *ret = &cfg->retention.sample_ms;

    if (!cfg->path || !*cfg->path || !cfg->clock) {
        return error_setf(ed, ERROR_INVALID, "history: path and clock are required");
    }
    if (cfg->busy_timeout_ms < 0 || cfg->busy_timeout_ms > 600000) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "history: busy_timeout_ms: %d: must be in [0, 600000]",
                          cfg->busy_timeout_ms);
    }
    if (cfg->sample_period_ms < 1 || cfg->sample_period_ms > 60000) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "history: sample_period_ms: %d: must be in [1, 60000]",
                          cfg->sample_period_ms);
    }
    if (cfg->max_pending < 1 || cfg->max_pending > 10000000) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "history: max_pending: %d: must be in [1, 10000000]",
                          cfg->max_pending);
    }
    for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
        int64_t min = i < 2 ? 3600000 : 1; /* rollups are made from the rows below */

        if (ret[i] < min) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "history: retention.%s: %lld: must be at least %lld ms",
                              names[i],
                              (long long)ret[i],
                              (long long)min);
        }
    }
    return ERROR_OK;
}

/* Create the file ourselves so it is 0600 from the start (SQLite gives the
 * -wal and -shm files the database's mode), and tighten an existing one. */
static int history_prepare_file(const char *path, struct error_detail *ed)
{
    struct stat st;
    int rc = ERROR_OK;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0) {
        return error_setf(ed, ERROR_IO, "history: %s: cannot open: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = error_setf(ed, ERROR_IO, "history: %s: not a regular file", path);
    } else if ((st.st_mode & 077) != 0 && fchmod(fd, 0600) != 0) {
        rc = error_setf(ed, ERROR_IO, "history: %s: cannot chmod 0600: %s", path, strerror(errno));
    }
    close(fd);
    return rc;
}

static int history_migrate(struct history *h, struct error_detail *ed)
{
    int64_t version = 0;
    int64_t app_id = 0;
    char sql[96];
    int rc = history_exec(h, "BEGIN IMMEDIATE", "begin migration", ed);

    if (rc) {
        return rc;
    }
    /* read inside the write transaction so two openers cannot both migrate */
    rc = history_pragma_int(h, "PRAGMA application_id", &app_id, ed);
    if (!rc) {
        rc = history_pragma_int(h, "PRAGMA user_version", &version, ed);
    }
    if (!rc && app_id != 0 && app_id != HISTORY_APPLICATION_ID) {
        rc = error_setf(ed,
                        ERROR_IO,
                        "history: %s: not a flexd history database (application_id 0x%llx)",
                        h->path,
                        (long long)app_id);
    } else if (!rc && version > HISTORY_SCHEMA_VERSION) {
        rc = error_setf(ed,
                        ERROR_STATE,
                        "history: %s: schema version %lld is newer than this flexd's %d",
                        h->path,
                        (long long)version,
                        HISTORY_SCHEMA_VERSION);
    }
    for (int64_t v = version; !rc && v < HISTORY_SCHEMA_VERSION; v++) {
        snprintf(sql, sizeof(sql), "migration %lld", (long long)v + 1);
        rc = history_exec(h, history_migrations[v], sql, ed);
        if (!rc) {
            snprintf(sql,
                     sizeof(sql),
                     "PRAGMA user_version = %lld; PRAGMA application_id = %d",
                     (long long)v + 1,
                     HISTORY_APPLICATION_ID);
            rc = history_exec(h, sql, "set user_version", ed);
        }
        if (!rc) {
            LOGI(MOD, "%s: schema migrated to version %lld", h->path, (long long)v + 1);
        }
    }
    if (!rc) {
        rc = history_exec(h, "COMMIT", "commit migration", ed);
    }
    if (rc) {
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    }
    h->schema_version = HISTORY_SCHEMA_VERSION;
    return rc;
}

static int history_setup(struct history *h, int busy_timeout_ms, struct error_detail *ed)
{
    int src;
    int rc;
    sqlite3_stmt *st = NULL;

    src = sqlite3_open_v2(h->path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        return history_fail(h, src, "open", ed);
    }
    sqlite3_extended_result_codes(h->db, 1);
    sqlite3_busy_timeout(h->db, busy_timeout_ms);
    /* the first statement that reads the file: garbage fails here */
    src = sqlite3_prepare_v2(h->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (src == SQLITE_OK) {
        src = sqlite3_step(st);
    }
    if (src != SQLITE_ROW) {
        rc = history_fail(h, src, "set WAL mode", ed);
    } else if (sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
        rc = error_setf(ed,
                        ERROR_IO,
                        "history: %s: journal_mode is %s, WAL is needed",
                        h->path,
                        (const char *)sqlite3_column_text(st, 0));
    } else {
        rc = ERROR_OK;
    }
    sqlite3_finalize(st);
    if (!rc) {
        /* NORMAL in WAL mode: a power cut may lose the last flushes, never
         * corrupts; 64 MiB caps what a big checkpoint leaves in the -wal */
        rc = history_exec(h,
                          "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
                          " PRAGMA journal_size_limit = 67108864",
                          "set pragmas",
                          ed);
    }
    if (!rc) {
        rc = history_migrate(h, ed);
    }
    for (int i = 0; !rc && i < ST_COUNT; i++) {
        const char *sql = i < ST_PRUNE_FIRST ? stmt_sql[i] : prune_table[i - ST_PRUNE_FIRST].sql;

        src = sqlite3_prepare_v3(h->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &h->st[i], NULL);
        if (src != SQLITE_OK) {
            rc = history_fail(h, src, "prepare statement", ed);
        }
    }
    return rc;
}

static void history_batch_reset(struct history *h)
{
    for (int i = 0; i < h->alarms.n; i++) {
        free(VEC_AT(h->alarms, struct history_alarm, i)->message);
    }
    for (int i = 0; i < h->plans.n; i++) {
        free(VEC_AT(h->plans, struct plan_op, i)->p.json);
    }
    for (int i = 0; i < h->drs.n; i++) {
        free(VEC_AT(h->drs, struct dr_rec, i)->d.json);
    }
    h->samples.n = h->connectors.n = h->setpoints.n = h->alarms.n = 0;
    h->plans.n = h->sessions.n = h->drs.n = 0;
    h->pending = 0;
    h->sample_lo = h->conn_lo = INT64_MAX;
    h->sample_hi = h->conn_hi = INT64_MIN;
}

int history_open(const struct history_config *cfg, struct history **out, struct error_detail *ed)
{
    struct error_detail local;
    struct history *h;
    int rc;

    if (!ed) {
        ed = &local;
    }
    *out = NULL;
    rc = history_config_check(cfg, ed);
    if (rc) {
        return rc;
    }
    sqlite_log_route();
    rc = history_prepare_file(cfg->path, ed);
    if (rc) {
        history_log_error(ed->text, "");
        return rc;
    }
    h = ALLOC_NEW(struct history);
    h->path = alloc_strdup(cfg->path);
    h->clock = cfg->clock;
    h->sample_period_ms = cfg->sample_period_ms;
    h->max_pending = cfg->max_pending;
    h->retention = cfg->retention;
    history_batch_reset(h);
    rc = history_setup(h, cfg->busy_timeout_ms, ed);
    if (rc) {
        history_log_error(ed->text, "");
        history_close(h);
        return rc;
    }
    h->stats.schema_version = h->schema_version;
    *out = h;
    return ERROR_OK;
}

void history_close(struct history *h)
{
    struct error_detail ed;

    if (!h) {
        return;
    }
    if (h->db && h->pending > 0 && history_flush(h, &ed) != ERROR_OK) {
        LOGE(MOD, "%s: %d records lost at close", h->path, h->pending);
    }
    history_batch_reset(h);
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(h->st[i]);
    }
    if (h->db) {
        sqlite3_exec(h->db, "PRAGMA optimize", NULL, NULL, NULL);
        sqlite3_close(h->db);
    }
    free(h->samples.items);
    free(h->connectors.items);
    free(h->setpoints.items);
    free(h->alarms.items);
    free(h->plans.items);
    free(h->sessions.items);
    free(h->drs.items);
    free(h->path);
    free(h);
}

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

static int flush_samples(struct history *h, struct error_detail *ed)
{
    sqlite3_stmt *st = h->st[ST_SAMPLE];
    int rc = ERROR_OK;

    for (int i = 0; !rc && i < h->samples.n; i++) {
        const struct history_sample *s = VEC_AT(h->samples, struct history_sample, i);

        sqlite3_bind_int64(st, 1, s->ts_ms);
        bind_opt_double(st, 2, s->grid_import_kw);
        bind_opt_double(st, 3, s->grid_export_kw);
        bind_opt_double(st, 4, s->pv_kw);
        bind_opt_double(st, 5, s->pv_limit_kw);
        bind_opt_double(st, 6, s->battery_kw);
        bind_opt_double(st, 7, s->battery_soc);
        bind_opt_double(st, 8, s->ev_kw);
        bind_opt_double(st, 9, s->base_kw);
        bind_opt_double(st, 10, s->import_limit_kw);
        rc = history_step_done(h, st, "insert sample_1s", ed);
    }
    st = h->st[ST_CONNECTOR];
    for (int i = 0; !rc && i < h->connectors.n; i++) {
        const struct history_connector_sample *c =
            VEC_AT(h->connectors, struct history_connector_sample, i);

        sqlite3_bind_int64(st, 1, c->ts_ms);
        bind_text(st, 2, c->connector_id);
        bind_opt_double(st, 3, c->power_kw);
        sqlite3_bind_int(st, 4, (int)c->state);
        rc = history_step_done(h, st, "insert connector_1s", ed);
    }
    return rc;
}

static int flush_log(struct history *h, struct error_detail *ed)
{
    sqlite3_stmt *st = h->st[ST_SETPOINT];
    int rc = ERROR_OK;

    for (int i = 0; !rc && i < h->setpoints.n; i++) {
        const struct history_setpoint *s = VEC_AT(h->setpoints, struct history_setpoint, i);

        sqlite3_bind_int64(st, 1, s->ts_ms);
        bind_text(st, 2, s->device);
        bind_text(st, 3, s->point);
        bind_opt_double(st, 4, s->value);
        sqlite3_bind_int(st, 5, (int)s->verified);
        rc = history_step_done(h, st, "insert setpoint", ed);
    }
    st = h->st[ST_ALARM];
    for (int i = 0; !rc && i < h->alarms.n; i++) {
        const struct history_alarm *a = VEC_AT(h->alarms, struct history_alarm, i);

        sqlite3_bind_int64(st, 1, a->ts_ms);
        bind_text(st, 2, a->device);
        bind_text(st, 3, a->kind);
        bind_text(st, 4, severity_names[a->severity]);
        bind_text(st, 5, alarm_state_names[a->state]);
        bind_text(st, 6, a->message);
        rc = history_step_done(h, st, "insert alarm", ed);
    }
    return rc;
}

static int flush_plans(struct history *h, struct error_detail *ed)
{
    int rc = ERROR_OK;

    for (int i = 0; !rc && i < h->plans.n; i++) {
        const struct plan_op *op = VEC_AT(h->plans, struct plan_op, i);
        const struct history_plan *p = &op->p;
        sqlite3_stmt *st;

        if (p->status == HISTORY_PLAN_ACTIVE) {
            st = h->st[ST_PLAN_SUPERSEDE];
            bind_text(st, 1, p->id);
            rc = history_step_done(h, st, "supersede plans", ed);
        }
        if (!rc && op->status_only) {
            st = h->st[ST_PLAN_STATUS];
            bind_text(st, 1, p->id);
            bind_text(st, 2, plan_status_names[p->status]);
            rc = history_step_done(h, st, "update plan status", ed);
        } else if (!rc) {
            st = h->st[ST_PLAN_PUT];
            bind_text(st, 1, p->id);
            sqlite3_bind_int64(st, 2, p->created_ms);
            sqlite3_bind_int64(st, 3, p->horizon_start_ms);
            sqlite3_bind_int(st, 4, p->step_minutes);
            sqlite3_bind_int(st, 5, p->steps);
            bind_text(st, 6, plan_status_names[p->status]);
            bind_opt_double(st, 7, p->objective_cny);
            bind_text(st, 8, p->json);
            rc = history_step_done(h, st, "insert plan", ed);
        }
    }
    return rc;
}

static int flush_state(struct history *h, struct error_detail *ed)
{
    sqlite3_stmt *st = h->st[ST_SESSION];
    int rc = ERROR_OK;

    for (int i = 0; !rc && i < h->sessions.n; i++) {
        const struct session_rec *r = VEC_AT(h->sessions, struct session_rec, i);

        bind_text(st, 1, r->s.id);
        bind_text(st, 2, r->s.connector_id);
        sqlite3_bind_int64(st, 3, r->s.plugin_ms);
        bind_opt_time(st, 4, r->s.unplug_ms);
        sqlite3_bind_double(st, 5, r->s.energy_kwh);
        bind_opt_time(st, 6, r->s.departure_ms);
        bind_opt_double(st, 7, r->s.wanted_kwh);
        bind_text(st, 8, session_state_names[r->s.state]);
        sqlite3_bind_int64(st, 9, r->updated_ms);
        rc = history_step_done(h, st, "insert ev_session", ed);
    }
    st = h->st[ST_DR];
    for (int i = 0; !rc && i < h->drs.n; i++) {
        const struct dr_rec *r = VEC_AT(h->drs, struct dr_rec, i);

        bind_text(st, 1, r->d.id);
        sqlite3_bind_int64(st, 2, r->d.received_ms);
        sqlite3_bind_int64(st, 3, r->d.start_ms);
        sqlite3_bind_int64(st, 4, r->d.end_ms);
        bind_text(st, 5, dr_state_names[r->d.state]);
        bind_text(st, 6, r->d.json);
        sqlite3_bind_int64(st, 7, r->updated_ms);
        rc = history_step_done(h, st, "insert dr_event", ed);
    }
    return rc;
}

/* Recompute the buckets of width_ms that [lo, hi] touches; the 1-min ones
 * must be done first, as the 15-min ones are made from them. */
static int history_rollup(struct history *h,
                          enum stmt_id id,
                          int64_t width_ms,
                          int64_t lo,
                          int64_t hi,
                          struct error_detail *ed)
{
    sqlite3_stmt *st = h->st[id];

    sqlite3_bind_int64(st, 1, width_ms);
    if (sqlite3_bind_parameter_count(st) == 4) { /* the 15-min ones have no ?2 */
        sqlite3_bind_int64(st, 2, h->sample_period_ms);
    }
    sqlite3_bind_int64(st, 3, lo - lo % width_ms);
    sqlite3_bind_int64(st, 4, hi - hi % width_ms + width_ms);
    return history_step_done(h, st, "update rollup", ed);
}

static int flush_rollups(struct history *h, struct error_detail *ed)
{
    int rc = ERROR_OK;

    if (h->samples.n > 0) {
        rc = history_rollup(h, ST_ROLLUP_1MIN, MINUTE_MS, h->sample_lo, h->sample_hi, ed);
        if (!rc) {
            rc = history_rollup(h, ST_ROLLUP_15MIN, QUARTER_MS, h->sample_lo, h->sample_hi, ed);
        }
    }
    if (!rc && h->connectors.n > 0) {
        rc = history_rollup(h, ST_CONN_ROLLUP_1MIN, MINUTE_MS, h->conn_lo, h->conn_hi, ed);
        if (!rc) {
            rc = history_rollup(h, ST_CONN_ROLLUP_15MIN, QUARTER_MS, h->conn_lo, h->conn_hi, ed);
        }
    }
    return rc;
}

/* Failures a later flush may get past; anything else would fail again. */
static int history_transient(int src)
{
    switch (src & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
        return 1;
    default:
        return 0;
    }
}

int history_flush(struct history *h, struct error_detail *ed)
{
    struct error_detail local;
    int rc;

    if (!ed) {
        ed = &local;
    }
    if (h->pending == 0) {
        return ERROR_OK;
    }
    rc = history_exec(h, "BEGIN IMMEDIATE", "begin flush", ed);
    if (!rc) {
        rc = flush_samples(h, ed);
    }
    if (!rc) {
        rc = flush_log(h, ed);
    }
    if (!rc) {
        rc = flush_plans(h, ed);
    }
    if (!rc) {
        rc = flush_state(h, ed);
    }
    if (!rc) {
        rc = flush_rollups(h, ed);
    }
    if (!rc) {
        rc = history_exec(h, "COMMIT", "commit flush", ed);
    }
    if (rc) {
        int keep = history_transient(h->last_sqlite_rc);

        if (sqlite3_get_autocommit(h->db) == 0) {
            sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
        }
        if (!h->failing) {
            history_log_error(ed->text, "; flushes fail from now on");
        }
        h->failing = 1;
        h->failed_run++;
        h->stats.failed_flushes++;
        if (!keep) {
            LOGE(MOD, "%s: %d records dropped: the failure is not transient", h->path, h->pending);
            h->stats.dropped += h->pending;
            history_batch_reset(h);
        }
        return rc;
    }
    if (h->failing) {
        LOGI(MOD, "%s: flush works again after %lld failures", h->path, (long long)h->failed_run);
        h->failing = 0;
        h->failed_run = 0;
    }
    h->stats.flushes++;
    h->stats.rows_written += h->pending;
    history_batch_reset(h);
    return ERROR_OK;
}

int history_prune(struct history *h, int64_t *deleted, struct error_detail *ed)
{
    struct error_detail local;
    int64_t now = clock_now_ms(h->clock);
    int64_t total = 0;
    int rc;

    if (!ed) {
        ed = &local;
    }
    rc = history_exec(h, "BEGIN IMMEDIATE", "begin prune", ed);

    for (int i = 0; !rc && i < N_PRUNE; i++) {
        sqlite3_stmt *st = h->st[ST_PRUNE_FIRST + i];
        int64_t keep_ms =
            *(const int64_t *)((const char *)&h->retention + prune_table[i].retention);
        int64_t cutoff = now - keep_ms;

        if (prune_table[i].whole_quarters) {
            cutoff -= cutoff % QUARTER_MS;
        }
        sqlite3_bind_int64(st, 1, cutoff);
        rc = history_step_done(h, st, "prune", ed);
        total += sqlite3_changes(h->db);
    }
    if (!rc) {
        rc = history_exec(h, "COMMIT", "commit prune", ed);
    }
    if (rc) {
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
        history_log_error(ed->text, "");
        total = 0;
    } else if (total > 0) {
        LOGD(MOD, "%s: pruned %lld rows", h->path, (long long)total);
    }
    if (deleted) {
        *deleted = total;
    }
    return rc;
}

int history_check(struct history *h, struct error_detail *ed)
{
    struct error_detail local;
    sqlite3_stmt *st = NULL;
    int rc = ERROR_OK;
    int src = sqlite3_prepare_v2(h->db, "PRAGMA quick_check", -1, &st, NULL);

    if (!ed) {
        ed = &local;
    }
    if (src == SQLITE_OK) {
        src = sqlite3_step(st);
    }
    if (src != SQLITE_ROW) {
        rc = history_fail(h, src, "quick_check", ed);
    } else if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
        rc = error_setf(ed,
                        ERROR_IO,
                        "history: %s: quick_check: %s",
                        h->path,
                        (const char *)sqlite3_column_text(st, 0));
        /* one line for the log: SQLite separates its findings with newlines */
        for (char *p = strchr(ed->text, '\n'); p; p = strchr(p, '\n')) {
            *p = ' ';
        }
    }
    sqlite3_finalize(st);
    if (rc) {
        history_log_error(ed->text, "");
    }
    return rc;
}

/* Step a resume query: 1 for a row, 0 at the end, -1 on error (ed set). */
static int history_next_row(struct history *h, sqlite3_stmt *st, struct error_detail *ed)
{
    int src = sqlite3_step(st);

    if (src == SQLITE_ROW) {
        return 1;
    }
    if (src != SQLITE_DONE) {
        struct error_detail local;

        history_fail(h, src, "resume query", ed ? ed : &local);
        history_log_error(ed ? ed->text : local.text, "");
        return -1;
    }
    return 0;
}

/* The rows of a session query into a new array (see history_open_sessions). */
static int history_read_sessions(struct history *h,
                                 sqlite3_stmt *st,
                                 struct history_session **out,
                                 int *n,
                                 struct error_detail *ed)
{
    struct vec v = {NULL, 0, 0};
    int row;

    while ((row = history_next_row(h, st, ed)) == 1) {
        struct history_session *s = vec_push(&v, sizeof(*s));
        const unsigned char *state = sqlite3_column_text(st, 7);

        column_id(st, 0, s->id);
        column_id(st, 1, s->connector_id);
        s->plugin_ms = sqlite3_column_int64(st, 2);
        s->unplug_ms = sqlite3_column_int64(st, 3); /* NULL reads as 0 */
        s->energy_kwh = sqlite3_column_double(st, 4);
        s->departure_ms = sqlite3_column_int64(st, 5);
        s->wanted_kwh = column_opt_double(st, 6);
        s->state = state && strcmp((const char *)state, "open") == 0 ? HISTORY_SESSION_OPEN
                                                                     : HISTORY_SESSION_CLOSED;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (row < 0) {
        free(v.items);
        v.items = NULL;
        v.n = 0;
    }
    *out = (struct history_session *)v.items;
    *n = v.n;
    return row < 0 ? ERROR_IO : ERROR_OK;
}

int history_open_sessions(struct history *h,
                          struct history_session **out,
                          int *n,
                          struct error_detail *ed)
{
    return history_read_sessions(h, h->st[ST_OPEN_SESSIONS], out, n, ed);
}

int history_sessions_since(struct history *h,
                           int64_t since_ms,
                           struct history_session **out,
                           int *n,
                           struct error_detail *ed)
{
    sqlite3_bind_int64(h->st[ST_SESSIONS_SINCE], 1, since_ms);
    return history_read_sessions(h, h->st[ST_SESSIONS_SINCE], out, n, ed);
}

int history_active_plan(struct history *h,
                        struct history_plan *out,
                        int *found,
                        struct error_detail *ed)
{
    sqlite3_stmt *st = h->st[ST_ACTIVE_PLAN];
    int row = history_next_row(h, st, ed);

    memset(out, 0, sizeof(*out));
    *found = row == 1;
    if (row == 1) {
        column_id(st, 0, out->id);
        out->created_ms = sqlite3_column_int64(st, 1);
        out->horizon_start_ms = sqlite3_column_int64(st, 2);
        out->step_minutes = sqlite3_column_int(st, 3);
        out->steps = sqlite3_column_int(st, 4);
        out->status = HISTORY_PLAN_ACTIVE;
        out->objective_cny = column_opt_double(st, 5);
        out->json = column_strdup(st, 6);
    }
    sqlite3_reset(st);
    return row < 0 ? ERROR_IO : ERROR_OK;
}

void history_plan_clear(struct history_plan *p)
{
    if (p) {
        free(p->json);
        p->json = NULL;
    }
}

int history_active_dr(struct history *h, struct history_dr **out, int *n, struct error_detail *ed)
{
    sqlite3_stmt *st = h->st[ST_ACTIVE_DR];
    struct vec v = {NULL, 0, 0};
    int row;

    while ((row = history_next_row(h, st, ed)) == 1) {
        struct history_dr *d = vec_push(&v, sizeof(*d));
        int state = name_index(dr_state_names, 6, sqlite3_column_text(st, 4));

        column_id(st, 0, d->id);
        d->received_ms = sqlite3_column_int64(st, 1);
        d->start_ms = sqlite3_column_int64(st, 2);
        d->end_ms = sqlite3_column_int64(st, 3);
        d->state = state < 0 ? HISTORY_DR_RECEIVED : (enum history_dr_state)state;
        d->json = column_strdup(st, 5);
    }
    sqlite3_reset(st);
    if (row < 0) {
        history_dr_list_free((struct history_dr *)v.items, v.n);
        v.items = NULL;
        v.n = 0;
    }
    *out = (struct history_dr *)v.items;
    *n = v.n;
    return row < 0 ? ERROR_IO : ERROR_OK;
}

int history_mean_net_kw(struct history *h,
                        int64_t from_ms,
                        int64_t to_ms,
                        double *mean_kw,
                        int *minutes,
                        struct error_detail *ed)
{
    sqlite3_stmt *st = h->st[ST_MEAN_NET];
    int row;

    *mean_kw = NAN;
    *minutes = 0;
    sqlite3_bind_int64(st, 1, from_ms);
    sqlite3_bind_int64(st, 2, to_ms);
    row = history_next_row(h, st, ed);
    if (row == 1 && sqlite3_column_type(st, 0) != SQLITE_NULL && sqlite3_column_int64(st, 1) > 0) {
        *mean_kw = sqlite3_column_double(st, 0) / (double)sqlite3_column_int64(st, 1);
        *minutes = sqlite3_column_int(st, 2);
    }
    sqlite3_reset(st);
    return row < 0 ? ERROR_IO : ERROR_OK;
}

void history_dr_list_free(struct history_dr *list, int n)
{
    for (int i = 0; list && i < n; i++) {
        free(list[i].json);
    }
    free(list);
}

void history_stats(const struct history *h, struct history_stats *out)
{
    *out = h->stats;
    out->pending = h->pending;
}

const char *history_plan_status_name(enum history_plan_status s)
{
    return NAME_OF(plan_status_names, s);
}

const char *history_dr_state_name(enum history_dr_state s)
{
    return NAME_OF(dr_state_names, s);
}

const char *history_connector_state_name(enum history_connector_state s)
{
    return NAME_OF(connector_state_names, s);
}
