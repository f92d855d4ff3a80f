/* SPDX-License-Identifier: MIT */
/*
 * history.c - the history database on SQLite: open and close, the
 * in-memory batch committed by history_flush() in one transaction through
 * statements prepared once at open, rollups recomputed for the buckets a
 * flush touched, pruning and the integrity check. The schema and the SQL
 * are in history_schema.c, the checks that fill the batch in
 * history_batch.c, the resume queries in history_query.c (the shared
 * internals in history_internal.h). Layout and policy are described in
 * docs/storage.md.
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

#include "history_internal.h"
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

_Static_assert(sizeof(prune_table) / sizeof(prune_table[0]) == N_PRUNE,
               "N_PRUNE must count the entries of prune_table");

/* Log an error whose text starts "history: " under the module name once. */
void history_log_error(const char *text, const char *suffix)
{
    sqlite_log_error(MOD, text, suffix);
}

/* Record SQLite's error for what and return ERROR_IO. */
int history_fail(struct history *h, int src, const char *what, struct error_detail *ed)
{
    h->last_sqlite_rc = src;
    return error_setf(ed,
                      ERROR_IO,
                      "history: %s: %s: %s",
                      h->path,
                      what,
                      h->db ? sqlite3_errmsg(h->db) : "");
}

int history_exec(struct history *h, const char *sql, const char *what, struct error_detail *ed)
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
        const char *sql =
            i < ST_PRUNE_FIRST ? history_stmt_sql[i] : prune_table[i - ST_PRUNE_FIRST].sql;

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
