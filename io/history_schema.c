/* SPDX-License-Identifier: MIT */
/*
 * history_schema.c - what the history database holds: the schema
 * migrations keyed by PRAGMA user_version, the rollup SQL and the text of
 * every statement history_open() prepares (but the prune statements, which
 * sit with history_prune() in history.c), and history_migrate(), which
 * brings a file up to this flexd's schema. Layout and policy are described
 * in docs/storage.md. Runs on the thread that owns the struct history.
 */
#include "history_internal.h"

#include "../common/logger.h"

#include <stdio.h>

#define HISTORY_APPLICATION_ID 0x666c7864 /* "flxd" in the file header */

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

const char *const history_stmt_sql[ST_PRUNE_FIRST] = {
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

int history_migrate(struct history *h, struct error_detail *ed)
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
