/* SPDX-License-Identifier: MIT */
/*
 * test_history.c - io/history on real SQLite files in a mkdtemp directory,
 * on a virtual clock: schema creation and idempotent reopen, file modes,
 * batched inserts and rollups checked by hand, retention pruning, resume
 * after close and reopen, and the failures: garbage file, damaged file,
 * foreign or newer database, a lock held by another connection (the batch
 * is kept for the next flush), read-only directory (run as an unprivileged
 * child when the test runs as root, since root ignores file modes).
 *
 * The test reads the database back with its own sqlite3 connection, the
 * way an operator would with the sqlite3 CLI (docs/storage.md).
 */
#include "check.h"

#include "common/clock.h"
#include "common/error.h"
#include "io/history.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

static char tmpdir[64];

/* 2026-11-23 08:00 local = 00:00 UTC: on a minute and a quarter hour */
static int64_t t0(void)
{
    return clock_from_local(2026, 11, 23, 8, 0, 0);
}

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    struct stat st;

    while (d && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
            continue;
        }
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            chmod(p, 0700);
            remove_tree(p);
        } else {
            unlink(p);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(dir);
}

/* First column of the first row of sql on path; NAN for NULL or no row. */
static double query(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    double v = NAN;
    int src = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);

    if (src == SQLITE_OK) {
        src = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    }
    if (src == SQLITE_OK) {
        src = sqlite3_step(st);
    }
    if (src == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        v = sqlite3_column_double(st, 0);
    } else if (src != SQLITE_ROW && src != SQLITE_DONE) {
        fprintf(stderr, "query %s: %s\n", sql, db ? sqlite3_errmsg(db) : "?");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;

    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

static struct history *open_db(const char *name, struct clock *c, struct history_config *cfg_in)
{
    struct history_config cfg;
    struct history *h = NULL;
    struct error_detail ed = {{0}};
    static char path[256];

    path_in(path, sizeof(path), name);
    if (cfg_in) {
        cfg = *cfg_in;
        cfg.path = path;
        cfg.clock = c;
    } else {
        history_config_init(&cfg, path, c);
    }
    if (history_open(&cfg, &h, &ed) != ERROR_OK) {
        fprintf(stderr, "history_open: %s\n", ed.text);
    }
    return h;
}

static int file_mode(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

static void test_schema(void)
{
    struct clock *c = clock_new_virtual(t0());
    struct history *h = open_db("schema.db", c, NULL);
    struct history_stats stats;
    struct error_detail ed = {{0}};
    struct history_config cfg;
    char path[256];
    char wal[300];

    path_in(path, sizeof(path), "schema.db");
    snprintf(wal, sizeof(wal), "%s-wal", path);
    CHECK(h != NULL);
    history_stats(h, &stats);
    CHECK(stats.schema_version == 1);
    CHECK(file_mode(path) == 0600);
    CHECK(file_mode(wal) == 0600);
    CHECK(query(path, "PRAGMA user_version") == 1);
    CHECK(query(path, "PRAGMA application_id") == 0x666c7864);
    CHECK(query(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'") == 12);
    CHECK(query(path, "SELECT name = 'charging' FROM connector_state WHERE code = 3") == 1);
    history_close(h);
    /* reopening runs no migration and changes nothing */
    h = open_db("schema.db", c, NULL);
    CHECK(h != NULL);
    history_close(h);
    CHECK(query(path, "PRAGMA user_version") == 1);
    CHECK(query(path, "SELECT count(*) FROM connector_state") == 9);
    CHECK(query(path, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'") == 1);

    /* an existing file with wider permissions is tightened */
    chmod(path, 0644);
    h = open_db("schema.db", c, NULL);
    history_close(h);
    CHECK(file_mode(path) == 0600);

    /* a newer schema is refused, not downgraded */
    exec_sql(path, "PRAGMA user_version = 99");
    history_config_init(&cfg, path, c);
    h = (struct history *)1;
    CHECK(history_open(&cfg, &h, &ed) == ERROR_STATE);
    CHECK(h == NULL);
    CHECK_STR_CONTAINS(ed.text, "schema version 99 is newer");

    /* another program's SQLite file is refused */
    path_in(path, sizeof(path), "other.db");
    exec_sql(path, "PRAGMA application_id = 42; CREATE TABLE t (x)");
    cfg.path = path;
    CHECK(history_open(&cfg, &h, &ed) == ERROR_IO);
    CHECK_STR_CONTAINS(ed.text, "not a flexd history database");

    /* bad configuration */
    history_config_init(&cfg, path, c);
    cfg.retention.sample_ms = 60000;
    CHECK(history_open(&cfg, &h, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "retention.sample_ms: 60000");
    cfg.retention.sample_ms = HISTORY_DEFAULT_SAMPLE_MS;
    cfg.clock = NULL;
    CHECK(history_open(&cfg, &h, &ed) == ERROR_INVALID);
    history_close(NULL);
    clock_free(c);
}

static struct history_sample sample_at(int64_t ts_ms, int i)
{
    struct history_sample s;

    s.ts_ms = ts_ms;
    s.grid_import_kw = i;
    s.grid_export_kw = 0;
    s.pv_kw = 10;
    s.pv_limit_kw = i < 30 ? 40 : NAN;
    s.battery_kw = i < 60 ? 5 : -5;
    s.battery_soc = 0.5 + 0.001 * i;
    s.ev_kw = 20;
    s.base_kw = i < 60 ? 7 : NAN; /* base meter lost in the second minute */
    s.import_limit_kw = i < 90 ? 500 : 400;
    return s;
}

static void add_connector(struct history *h,
                          int64_t ts,
                          const char *id,
                          double kw,
                          enum history_connector_state st)
{
    struct history_connector_sample cs;

    memset(&cs, 0, sizeof(cs));
    cs.ts_ms = ts;
    snprintf(cs.connector_id, sizeof(cs.connector_id), "%s", id);
    cs.power_kw = kw;
    cs.state = st;
    CHECK(history_add_connector(h, &cs, NULL) == ERROR_OK);
}

/* 120 s of samples, flushed every 5 s as the daemon does: two 1-min rows
 * and one 15-min row whose every figure can be checked by hand. */
static void test_rollups(void)
{
    struct clock *c = clock_new_virtual(t0());
    struct history *h = open_db("rollup.db", c, NULL);
    struct history_stats stats;
    struct history_sample s;
    char path[256];
    const double tol = 1e-9;

    path_in(path, sizeof(path), "rollup.db");
    for (int i = 0; i < 120; i++) {
        s = sample_at(t0() + i * 1000LL, i);
        CHECK(history_add_sample(h, &s, NULL) == ERROR_OK);
        add_connector(h, s.ts_ms, "c1", 7, HISTORY_CONNECTOR_CHARGING);
        add_connector(h,
                      s.ts_ms,
                      "c2",
                      i < 60 ? 0 : 11,
                      i < 60 ? HISTORY_CONNECTOR_AVAILABLE : HISTORY_CONNECTOR_CHARGING);
        clock_advance_ms(c, 1000);
        if (i % 5 == 4) {
            CHECK(history_flush(h, NULL) == ERROR_OK);
        }
    }
    history_stats(h, &stats);
    CHECK(stats.pending == 0);
    CHECK(stats.flushes == 24);
    CHECK(stats.rows_written == 360);
    CHECK(query(path, "SELECT count(*) FROM sample_1s") == 120);
    CHECK(query(path, "SELECT count(*) FROM connector_1s") == 240);
    CHECK(query(path, "SELECT count(*) FROM rollup_1min") == 2);
    CHECK(query(path, "SELECT count(*) FROM rollup_15min") == 1);

    /* minute 0: import 0..59 kW, minute 1: 60..119 kW */
#define M0(col) query(path, "SELECT " col " FROM rollup_1min ORDER BY bucket_ms LIMIT 1")
#define M1(col) query(path, "SELECT " col " FROM rollup_1min ORDER BY bucket_ms LIMIT 1 OFFSET 1")
#define Q(col)  query(path, "SELECT " col " FROM rollup_15min")
    CHECK(M0("bucket_ms") == (double)t0());
    CHECK(M1("bucket_ms") == (double)(t0() + 60000));
    CHECK(M0("n_samples") == 60);
    CHECK_NEAR(M0("grid_import_mean_kw"), 29.5, tol);
    CHECK_NEAR(M0("grid_import_min_kw"), 0, tol);
    CHECK_NEAR(M0("grid_import_max_kw"), 59, tol);
    CHECK_NEAR(M0("grid_import_kwh"), 1770.0 / 3600, tol); /* 0 + 1 + ... + 59 kW-s */
    CHECK_NEAR(M1("grid_import_mean_kw"), 89.5, tol);
    CHECK_NEAR(M1("grid_import_kwh"), 5370.0 / 3600, tol);
    CHECK_NEAR(M0("pv_kwh"), 10.0 / 60, tol);
    CHECK_NEAR(M0("pv_limit_min_kw"), 40, tol);
    CHECK(isnan(M1("pv_limit_min_kw"))); /* no limit in force */
    CHECK_NEAR(M0("battery_discharge_kwh"), 5.0 / 60, tol);
    CHECK_NEAR(M0("battery_charge_kwh"), 0, tol);
    CHECK_NEAR(M1("battery_charge_kwh"), 5.0 / 60, tol);
    CHECK_NEAR(M1("battery_min_kw"), -5, tol);
    CHECK_NEAR(M0("soc_min"), 0.5, tol);
    CHECK_NEAR(M0("soc_last"), 0.559, tol);
    CHECK_NEAR(M1("soc_last"), 0.619, tol);
    CHECK_NEAR(M0("ev_kwh"), 20.0 / 60, tol);
    CHECK_NEAR(M0("base_mean_kw"), 7, tol);
    CHECK(isnan(M1("base_mean_kw"))); /* not measured: NULL, not 0 */
    CHECK(isnan(M1("base_kwh")));
    CHECK_NEAR(M1("import_limit_min_kw"), 400, tol);

    CHECK(Q("bucket_ms") == (double)t0());
    CHECK(Q("n_samples") == 120);
    CHECK_NEAR(Q("grid_import_mean_kw"), 59.5, tol);
    CHECK_NEAR(Q("grid_import_max_kw"), 119, tol);
    CHECK_NEAR(Q("grid_import_kwh"), 7140.0 / 3600, tol);
    CHECK_NEAR(Q("battery_mean_kw"), 0, tol);
    CHECK_NEAR(Q("battery_charge_kwh"), 5.0 / 60, tol);
    CHECK_NEAR(Q("battery_discharge_kwh"), 5.0 / 60, tol);
    CHECK_NEAR(Q("base_mean_kw"), 7, tol);
    CHECK_NEAR(Q("base_kwh"), 7.0 / 60, tol);
    CHECK_NEAR(Q("soc_max"), 0.619, tol);

    CHECK_NEAR(query(path,
                     "SELECT energy_kwh FROM connector_1min WHERE connector_id = 'c1'"
                     " ORDER BY bucket_ms LIMIT 1"),
               7.0 / 60,
               tol);
    CHECK_NEAR(query(path,
                     "SELECT charging_s FROM connector_1min WHERE connector_id = 'c2'"
                     " ORDER BY bucket_ms LIMIT 1"),
               0,
               tol);
    CHECK_NEAR(query(path, "SELECT mean_kw FROM connector_15min WHERE connector_id = 'c2'"),
               5.5,
               tol);
    CHECK_NEAR(query(path, "SELECT energy_kwh FROM connector_15min WHERE connector_id = 'c2'"),
               11.0 / 60,
               tol);
    CHECK_NEAR(query(path, "SELECT charging_s FROM connector_15min WHERE connector_id = 'c2'"),
               60,
               tol);
    CHECK_NEAR(query(path, "SELECT sum(energy_kwh) FROM connector_1min"), 25.0 / 60, tol);

    /* a late correction of a sample already flushed replaces it and its
     * minute and quarter are recomputed */
    s = sample_at(t0() + 30000, 30);
    s.grid_import_kw = 1000;
    CHECK(history_add_sample(h, &s, NULL) == ERROR_OK);
    CHECK(history_flush(h, NULL) == ERROR_OK);
    CHECK(M0("n_samples") == 60);
    CHECK_NEAR(M0("grid_import_max_kw"), 1000, tol);
    CHECK_NEAR(M0("grid_import_kwh"), (1770.0 - 30 + 1000) / 3600, tol);
    CHECK_NEAR(Q("grid_import_max_kw"), 1000, tol);
    CHECK_NEAR(M1("grid_import_kwh"), 5370.0 / 3600, tol); /* untouched */
#undef M0
#undef M1
#undef Q
    history_close(h);
    clock_free(c);
}

static void
put_plan(struct history *h, const char *id, int64_t created, enum history_plan_status st)
{
    struct history_plan p;
    char json[128];

    memset(&p, 0, sizeof(p));
    snprintf(p.id, sizeof(p.id), "%s", id);
    p.created_ms = created;
    p.horizon_start_ms = created;
    p.step_minutes = 15;
    p.steps = 96;
    p.status = st;
    p.objective_cny = 1234.5;
    snprintf(json, sizeof(json), "{\"plan\":\"%s\",\"steps\":96}", id);
    p.json = json;
    CHECK(history_put_plan(h, &p, NULL) == ERROR_OK);
}

static void put_session(struct history *h,
                        const char *id,
                        const char *conn,
                        int64_t plugin,
                        int64_t unplug,
                        double wanted)
{
    struct history_session s;

    memset(&s, 0, sizeof(s));
    snprintf(s.id, sizeof(s.id), "%s", id);
    snprintf(s.connector_id, sizeof(s.connector_id), "%s", conn);
    s.plugin_ms = plugin;
    s.unplug_ms = unplug;
    s.energy_kwh = 3.5;
    s.departure_ms = isnan(wanted) ? 0 : plugin + 3600000;
    s.wanted_kwh = wanted;
    s.state = unplug ? HISTORY_SESSION_CLOSED : HISTORY_SESSION_OPEN;
    CHECK(history_put_session(h, &s, NULL) == ERROR_OK);
}

static void put_dr(struct history *h, const char *id, int64_t start, enum history_dr_state st)
{
    struct history_dr d;

    memset(&d, 0, sizeof(d));
    snprintf(d.id, sizeof(d.id), "%s", id);
    d.received_ms = start - 3600000;
    d.start_ms = start;
    d.end_ms = start + 7200000;
    d.state = st;
    d.json = "{\"type\":\"import_cap\",\"limit_kw\":300}";
    CHECK(history_put_dr(h, &d, NULL) == ERROR_OK);
}

static void test_resume(void)
{
    struct clock *c = clock_new_virtual(t0());
    struct history *h = open_db("resume.db", c, NULL);
    struct history_session *ss = NULL;
    struct history_dr *dr = NULL;
    struct history_plan plan;
    int n = -1;
    int found = -1;

    put_session(h, "s1", "c1", t0() - 600000, 0, 30);
    put_session(h, "s2", "c2", t0() - 1200000, 0, NAN);
    put_session(h, "s3", "c3", t0() - 900000, t0() - 60000, 10);
    put_plan(h, "p1", t0() - 900000, HISTORY_PLAN_ACTIVE);
    put_plan(h, "p2", t0(), HISTORY_PLAN_ACTIVE); /* supersedes p1 */
    put_plan(h, "p3", t0() + 1000, HISTORY_PLAN_FAILED);
    put_dr(h, "d1", t0() + 7200000, HISTORY_DR_ACCEPTED);
    put_dr(h, "d2", t0() - 600000, HISTORY_DR_ACTIVE);
    put_dr(h, "d3", t0() - 86400000, HISTORY_DR_FINISHED);
    /* nothing committed yet: resume reads committed data only */
    CHECK(history_open_sessions(h, &ss, &n, NULL) == ERROR_OK);
    CHECK(n == 0 && ss == NULL);
    history_close(h); /* flushes the batch */

    h = open_db("resume.db", c, NULL);
    CHECK(history_open_sessions(h, &ss, &n, NULL) == ERROR_OK);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(!strcmp(ss[0].id, "s2")); /* oldest plug-in first */
        CHECK(!strcmp(ss[0].connector_id, "c2"));
        CHECK(isnan(ss[0].wanted_kwh));
        CHECK(ss[0].departure_ms == 0);
        CHECK(ss[0].unplug_ms == 0);
        CHECK(!strcmp(ss[1].id, "s1"));
        CHECK(ss[1].plugin_ms == t0() - 600000);
        CHECK(ss[1].departure_ms == t0() - 600000 + 3600000);
        CHECK_NEAR(ss[1].wanted_kwh, 30, 0);
        CHECK_NEAR(ss[1].energy_kwh, 3.5, 0);
        CHECK(ss[1].state == HISTORY_SESSION_OPEN);
    }
    free(ss);

    CHECK(history_active_plan(h, &plan, &found, NULL) == ERROR_OK);
    CHECK(found == 1);
    CHECK(!strcmp(plan.id, "p2"));
    CHECK(plan.steps == 96 && plan.step_minutes == 15);
    CHECK_NEAR(plan.objective_cny, 1234.5, 0);
    CHECK(plan.json && !strcmp(plan.json, "{\"plan\":\"p2\",\"steps\":96}"));
    history_plan_clear(&plan);

    CHECK(history_active_dr(h, &dr, &n, NULL) == ERROR_OK);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(!strcmp(dr[0].id, "d2") && dr[0].state == HISTORY_DR_ACTIVE);
        CHECK(!strcmp(dr[1].id, "d1") && dr[1].state == HISTORY_DR_ACCEPTED);
        CHECK_STR_CONTAINS(dr[1].json, "\"limit_kw\":300");
        CHECK(dr[1].end_ms - dr[1].start_ms == 7200000);
    }
    history_dr_list_free(dr, n);

    /* the session closes, the plan's horizon ends, the event finishes */
    put_session(h, "s1", "c1", t0() - 600000, t0() + 1000, 30);
    CHECK(history_set_plan_status(h, "p2", HISTORY_PLAN_DONE, NULL) == ERROR_OK);
    CHECK(history_set_plan_status(h, "nosuch", HISTORY_PLAN_DONE, NULL) == ERROR_OK);
    put_dr(h, "d2", t0() - 600000, HISTORY_DR_FINISHED);
    CHECK(history_flush(h, NULL) == ERROR_OK);
    history_close(h);

    h = open_db("resume.db", c, NULL);
    CHECK(history_open_sessions(h, &ss, &n, NULL) == ERROR_OK);
    CHECK(n == 1 && !strcmp(ss[0].id, "s2"));
    free(ss);
    /* all sessions from an instant on, open or closed, oldest first */
    CHECK(history_sessions_since(h, t0() - 1000000, &ss, &n, NULL) == ERROR_OK);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(!strcmp(ss[0].id, "s3") && ss[0].state == HISTORY_SESSION_CLOSED);
        CHECK(ss[0].unplug_ms == t0() - 60000);
        CHECK(!strcmp(ss[1].id, "s1") && ss[1].state == HISTORY_SESSION_CLOSED);
        CHECK_NEAR(ss[1].energy_kwh, 3.5, 0);
    }
    free(ss);
    CHECK(history_sessions_since(h, t0() - 2000000, &ss, &n, NULL) == ERROR_OK);
    CHECK(n == 3 && !strcmp(ss[0].id, "s2") && ss[0].state == HISTORY_SESSION_OPEN);
    free(ss);
    CHECK(history_sessions_since(h, t0(), &ss, &n, NULL) == ERROR_OK);
    CHECK(n == 0 && ss == NULL);
    CHECK(history_active_plan(h, &plan, &found, NULL) == ERROR_OK);
    CHECK(found == 0 && plan.json == NULL);
    CHECK(history_active_dr(h, &dr, &n, NULL) == ERROR_OK);
    CHECK(n == 1 && !strcmp(dr[0].id, "d1"));
    history_dr_list_free(dr, n);
    /* an older plan made active again supersedes the others */
    CHECK(history_set_plan_status(h, "p1", HISTORY_PLAN_ACTIVE, NULL) == ERROR_OK);
    CHECK(history_flush(h, NULL) == ERROR_OK);
    CHECK(history_active_plan(h, &plan, &found, NULL) == ERROR_OK);
    CHECK(found == 1 && !strcmp(plan.id, "p1"));
    history_plan_clear(&plan);
    history_close(h);
    clock_free(c);
}

static void test_retention(void)
{
    struct clock *c = clock_new_virtual(t0());
    struct history_config cfg;
    struct history *h;
    struct history_setpoint sp;
    struct history_alarm al;
    struct history_sample s;
    struct error_detail ed = {{0}};
    int64_t deleted = -1;
    char path[256];

    history_config_init(&cfg, NULL, NULL);
    cfg.retention.sample_ms = 3600000;
    cfg.retention.minute_ms = 2 * 3600000;
    cfg.retention.quarter_ms = 4 * 3600000;
    cfg.retention.setpoint_ms = 3600000;
    cfg.retention.alarm_ms = 3600000;
    cfg.retention.plan_ms = 3600000;
    cfg.retention.closed_ms = 3600000;
    h = open_db("retention.db", c, &cfg);
    path_in(path, sizeof(path), "retention.db");
    for (int i = 0; i < 10; i++) {
        s = sample_at(t0() + i * 1000LL, i);
        CHECK(history_add_sample(h, &s, NULL) == ERROR_OK);
        add_connector(h, s.ts_ms, "c1", 7, HISTORY_CONNECTOR_CHARGING);
    }
    memset(&sp, 0, sizeof(sp));
    sp.ts_ms = t0();
    snprintf(sp.device, sizeof(sp.device), "bess1");
    snprintf(sp.point, sizeof(sp.point), "active_power_kw");
    sp.value = -50;
    sp.verified = HISTORY_VERIFY_OK;
    CHECK(history_add_setpoint(h, &sp, NULL) == ERROR_OK);
    memset(&al, 0, sizeof(al));
    al.ts_ms = t0();
    snprintf(al.device, sizeof(al.device), "charger3");
    snprintf(al.kind, sizeof(al.kind), "comm_lost");
    al.severity = HISTORY_SEV_ERROR;
    al.state = HISTORY_ALARM_RAISED;
    al.message = "no Modbus reply for 10 s";
    CHECK(history_add_alarm(h, &al, NULL) == ERROR_OK);
    put_plan(h, "old-failed", t0(), HISTORY_PLAN_FAILED);
    put_plan(h, "old-active", t0(), HISTORY_PLAN_ACTIVE);
    put_session(h, "closed", "c1", t0() - 1000, t0(), 5);
    put_session(h, "open", "c2", t0() - 1000, 0, 5);
    put_dr(h, "done", t0() - 3600000, HISTORY_DR_FINISHED);
    put_dr(h, "going", t0() - 3600000, HISTORY_DR_ACTIVE);
    CHECK(history_flush(h, NULL) == ERROR_OK);

    /* nothing is old yet */
    CHECK(history_prune(h, &deleted, NULL) == ERROR_OK);
    CHECK(deleted == 0);
    /* 1 h 14 min later the 1-s rows' quarter hour is not over an hour old */
    clock_advance_ms(c, 3600000 + 14 * 60000);
    CHECK(history_prune(h, &deleted, NULL) == ERROR_OK);
    CHECK(query(path, "SELECT count(*) FROM sample_1s") == 10);
    CHECK(query(path, "SELECT count(*) FROM setpoint") == 0);
    CHECK(query(path, "SELECT count(*) FROM alarm") == 0);
    CHECK(query(path, "SELECT count(*) FROM plan") == 1); /* the active one stays */
    CHECK(query(path, "SELECT count(*) FROM ev_session") == 1);
    CHECK(query(path, "SELECT count(*) FROM dr_event") == 1);
    CHECK(deleted == 5);
    /* at 1 h 15 min it is */
    clock_advance_ms(c, 60000);
    CHECK(history_prune(h, &deleted, NULL) == ERROR_OK);
    CHECK(deleted == 20);
    CHECK(query(path, "SELECT count(*) FROM sample_1s") == 0);
    CHECK(query(path, "SELECT count(*) FROM connector_1s") == 0);
    CHECK(query(path, "SELECT count(*) FROM rollup_1min") == 1);
    /* a sample older than the 1-s retention would make a partial rollup */
    s = sample_at(t0(), 0);
    CHECK(history_add_sample(h, &s, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "older than the 1-s retention");

    clock_advance_ms(c, 3600000);
    CHECK(history_prune(h, NULL, NULL) == ERROR_OK);
    CHECK(query(path, "SELECT count(*) FROM rollup_1min") == 0);
    CHECK(query(path, "SELECT count(*) FROM connector_1min") == 0);
    CHECK(query(path, "SELECT count(*) FROM rollup_15min") == 1);
    clock_advance_ms(c, 2 * 3600000);
    CHECK(history_prune(h, NULL, NULL) == ERROR_OK);
    CHECK(query(path, "SELECT count(*) FROM rollup_15min") == 0);
    CHECK(query(path, "SELECT count(*) FROM connector_15min") == 0);
    CHECK(query(path, "SELECT count(*) FROM ev_session WHERE id = 'open'") == 1);
    CHECK(query(path, "SELECT count(*) FROM dr_event WHERE id = 'going'") == 1);
    CHECK(query(path, "SELECT count(*) FROM plan WHERE id = 'old-active'") == 1);
    history_close(h);
    clock_free(c);
}

static void test_validation(void)
{
    struct clock *c = clock_new_virtual(t0());
    struct history_config cfg;
    struct history *h;
    struct history_sample s = sample_at(t0(), 0);
    struct history_connector_sample cs;
    struct history_plan p;
    struct history_stats stats;
    struct error_detail ed = {{0}};

    history_config_init(&cfg, NULL, NULL);
    cfg.max_pending = 3;
    h = open_db("validation.db", c, &cfg);
    s.battery_soc = 1.5;
    CHECK(history_add_sample(h, &s, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "battery_soc: 1.5");
    s.battery_soc = NAN;
    s.pv_kw = INFINITY;
    CHECK(history_add_sample(h, &s, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "sample.pv_kw: inf");
    s.pv_kw = NAN;
    s.ts_ms = 0;
    CHECK(history_add_sample(h, &s, &ed) == ERROR_INVALID);
    memset(&cs, 'x', sizeof(cs)); /* id without a NUL */
    cs.ts_ms = t0();
    cs.power_kw = 1;
    cs.state = HISTORY_CONNECTOR_CHARGING;
    CHECK(history_add_connector(h, &cs, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "connector.connector_id");
    memset(&p, 0, sizeof(p));
    snprintf(p.id, sizeof(p.id), "p");
    p.created_ms = p.horizon_start_ms = t0();
    p.step_minutes = 15;
    p.steps = 4;
    p.json = "{\"steps\": [1, 2,";
    CHECK(history_put_plan(h, &p, &ed) == ERROR_PARSE);
    CHECK_STR_CONTAINS(ed.text, "plan.json: not valid JSON");
    p.json = NULL;
    CHECK(history_put_plan(h, &p, &ed) == ERROR_INVALID);
    CHECK(history_set_plan_status(h, "p", (enum history_plan_status)9, &ed) == ERROR_INVALID);

    /* the batch is bounded: the fourth record is dropped and counted */
    s.ts_ms = t0();
    for (int i = 0; i < 3; i++) {
        s.ts_ms = t0() + i * 1000LL;
        CHECK(history_add_sample(h, &s, NULL) == ERROR_OK);
    }
    CHECK(history_add_sample(h, &s, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "batch full");
    history_stats(h, &stats);
    CHECK(stats.pending == 3 && stats.dropped == 1);
    CHECK(history_flush(h, NULL) == ERROR_OK);
    CHECK(history_add_sample(h, &s, NULL) == ERROR_OK);
    history_close(h);
    CHECK(!strcmp(history_plan_status_name(HISTORY_PLAN_SUPERSEDED), "superseded"));
    CHECK(!strcmp(history_dr_state_name(HISTORY_DR_CANCELLED), "cancelled"));
    CHECK(!strcmp(history_connector_state_name(HISTORY_CONNECTOR_SUSPENDED_EV), "suspended_ev"));
    CHECK(!strcmp(history_connector_state_name((enum history_connector_state)42), "?"));
    clock_free(c);
}

static void write_garbage(const char *path, long offset, size_t n)
{
    unsigned char buf[4096];
    int fd = open(path, O_WRONLY | O_CREAT, 0600);

    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (unsigned char)(i * 37 + 11);
    }
    CHECK(fd >= 0);
    CHECK(lseek(fd, offset, SEEK_SET) == offset);
    for (size_t done = 0; done < n; done += sizeof(buf)) {
        CHECK(write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
    }
    close(fd);
}

static void test_corrupt(void)
{
    struct clock *c = clock_new_virtual(t0());
    struct history_config cfg;
    struct history *h = NULL;
    struct history_session *ss = NULL;
    struct error_detail ed = {{0}};
    struct history_sample s;
    struct stat st;
    char path[256];
    int n = 0;
    int rc_open;
    int rc_use = ERROR_OK;

    /* garbage from the first byte: not a database */
    path_in(path, sizeof(path), "garbage.db");
    write_garbage(path, 0, 8192);
    history_config_init(&cfg, path, c);
    CHECK(history_open(&cfg, &h, &ed) == ERROR_IO);
    CHECK(h == NULL);
    CHECK_STR_CONTAINS(ed.text, "garbage.db");
    CHECK_STR_CONTAINS(ed.text, "file is not a database");

    /* a good database whose ev_session and sample_1s pages are overwritten
     * (found with the dbstat table Debian's SQLite has; else the last
     * quarter of the file): it opens, as the schema is intact, but reading
     * the data fails */
    h = open_db("damaged.db", c, NULL);
    for (int i = 0; i < 2400; i++) {
        s = sample_at(t0() + i * 1000LL, i % 120);
        CHECK(history_add_sample(h, &s, NULL) == ERROR_OK);
        add_connector(h, s.ts_ms, "c1", 7, HISTORY_CONNECTOR_CHARGING);
    }
    for (int i = 0; i < 50; i++) {
        char id[16];

        snprintf(id, sizeof(id), "s%d", i);
        put_session(h, id, "c1", t0() + i, 0, 5);
    }
    CHECK(history_flush(h, NULL) == ERROR_OK);
    history_close(h);
    path_in(path, sizeof(path), "damaged.db");
    CHECK(stat(path, &st) == 0 && st.st_size > 50 * 4096);
    for (int k = 0;; k++) {
        char sql[160];
        double page;

        snprintf(sql,
                 sizeof(sql),
                 "SELECT pageno FROM dbstat WHERE name IN ('ev_session', 'sample_1s')"
                 " ORDER BY pageno LIMIT 1 OFFSET %d",
                 k);
        page = query(path, sql);
        if (isnan(page)) {
            if (k == 0) { /* no dbstat: the last quarter */
                write_garbage(path, st.st_size / 4 * 3 / 4096 * 4096, (size_t)st.st_size / 4);
            }
            break;
        }
        write_garbage(path, ((long)page - 1) * 4096, 4096);
    }
    cfg.path = path;
    rc_open = history_open(&cfg, &h, &ed);
    if (rc_open == ERROR_OK) {
        rc_use = history_check(h, &ed);
        CHECK(rc_use == ERROR_IO);
        CHECK_STR_CONTAINS(ed.text, "damaged.db");
        CHECK(history_open_sessions(h, &ss, &n, &ed) == ERROR_IO);
        CHECK(ss == NULL && n == 0);
        CHECK_STR_CONTAINS(ed.text, "malformed");
        s = sample_at(t0() + 3600000, 0);
        CHECK(history_add_sample(h, &s, NULL) == ERROR_OK);
        CHECK(history_flush(h, &ed) == ERROR_IO);
        history_close(h);
    } else {
        CHECK(rc_open == ERROR_IO);
        CHECK_STR_CONTAINS(ed.text, "malformed");
    }
    clock_free(c);
}

/* A flush that fails on a lock keeps its batch; the next one commits it. */
static void test_busy(void)
{
    struct clock *c = clock_new_virtual(t0());
    struct history_config cfg;
    struct history *h;
    struct history_stats stats;
    struct history_sample s = sample_at(t0(), 0);
    struct error_detail ed = {{0}};
    sqlite3 *other = NULL;
    char path[256];

    history_config_init(&cfg, NULL, NULL);
    cfg.busy_timeout_ms = 0;
    h = open_db("busy.db", c, &cfg);
    path_in(path, sizeof(path), "busy.db");
    CHECK(sqlite3_open(path, &other) == SQLITE_OK);
    CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(history_add_sample(h, &s, NULL) == ERROR_OK);
    CHECK(history_flush(h, &ed) == ERROR_IO);
    CHECK_STR_CONTAINS(ed.text, "busy.db: begin flush: database is locked");
    s.ts_ms += 1000;
    CHECK(history_add_sample(h, &s, NULL) == ERROR_OK);
    CHECK(history_flush(h, &ed) == ERROR_IO);
    history_stats(h, &stats);
    CHECK(stats.pending == 2 && stats.failed_flushes == 2 && stats.dropped == 0);
    CHECK(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(other);
    CHECK(history_flush(h, NULL) == ERROR_OK);
    history_stats(h, &stats);
    CHECK(stats.pending == 0 && stats.rows_written == 2);
    CHECK(query(path, "SELECT n_samples FROM rollup_1min") == 2);
    history_close(h);
    clock_free(c);
}

/* Run fn where file modes apply: here, or in a child as nobody when we are
 * root. Returns fn's failure count. */
static int run_unprivileged(int (*fn)(void))
{
    pid_t pid;
    int status = 0;

    if (geteuid() != 0) {
        return fn();
    }
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0) {
            _exit(100);
        }
        _exit(fn());
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
        return 1;
    }
    if (WEXITSTATUS(status) == 100) {
        printf("read-only checks skipped: cannot drop root privileges\n");
        return 0;
    }
    return WEXITSTATUS(status);
}

static int readonly_checks(void)
{
    struct clock *c = clock_new_virtual(t0());
    struct history_config cfg;
    struct history *h = NULL;
    struct error_detail ed = {{0}};
    char path[256];
    int before = check_failed;

    /* a new database in a read-only directory */
    path_in(path, sizeof(path), "ro/new.db");
    history_config_init(&cfg, path, c);
    CHECK(history_open(&cfg, &h, &ed) == ERROR_IO);
    CHECK(h == NULL);
    CHECK_STR_CONTAINS(ed.text, "ro/new.db: cannot open: Permission denied");
    /* a writable database in a read-only directory: no -wal can be made */
    path_in(path, sizeof(path), "ro/existing.db");
    cfg.path = path;
    CHECK(history_open(&cfg, &h, &ed) == ERROR_IO);
    CHECK(h == NULL);
    CHECK_STR_CONTAINS(ed.text, "ro/existing.db");
    clock_free(c);
    return check_failed - before;
}

static void test_readonly(void)
{
    struct clock *c = clock_new_virtual(t0());
    struct history *h;
    char dir[256];
    char path[256];
    int failed;

    path_in(dir, sizeof(dir), "ro");
    CHECK(mkdir(dir, 0700) == 0);
    h = open_db("ro/existing.db", c, NULL);
    CHECK(h != NULL);
    history_close(h);
    path_in(path, sizeof(path), "ro/existing.db");
    if (geteuid() == 0) {
        CHECK(chown(path, NOBODY, NOBODY) == 0);
        CHECK(chmod(tmpdir, 0711) == 0);
    }
    CHECK(chmod(dir, 0555) == 0);
    failed = run_unprivileged(readonly_checks);
    CHECK(failed == 0);
    chmod(tmpdir, 0700);
    chmod(dir, 0700);
    clock_free(c);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/flexd-history-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_schema();
    test_rollups();
    test_resume();
    test_retention();
    test_validation();
    test_corrupt();
    test_busy();
    test_readonly();
    remove_tree(tmpdir);
    return CHECK_DONE();
}
