/* SPDX-License-Identifier: MIT */
/*
 * outbox.c - the outbound MQTT queue and inbound id memory on SQLite. Every
 * call that changes the queue is one transaction with synchronous=FULL:
 * a message appended before a power cut is still there after it, which is
 * what "append before publish" promises (the traffic is a few messages a
 * second, so the fsync per commit is affordable, unlike for the history).
 * Order is the AUTOINCREMENT seq, so it survives deletes and restarts.
 * Policy and schema: outbox.h and docs/storage.md.
 *
 * A struct outbox is owned by the engine's thread.
 */
#include "outbox.h"

#include "sqlite_log.h"

#include "../common/alloc.h"
#include "../common/logger.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOD "outbox"

#define OUTBOX_APPLICATION_ID 0x666c786f /* "flxo" in the file header */

/* Migration i takes the schema from user_version i to i + 1; a published
 * migration is never edited. */
static const char *const outbox_migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE message (seq INTEGER PRIMARY KEY AUTOINCREMENT, created_ms INTEGER NOT NULL,"
    " topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL CHECK (qos IN (0,1,2)),"
    " retained INTEGER NOT NULL CHECK (retained IN (0,1)), class TEXT NOT NULL CHECK (class IN"
    " ('ack','dr_performance','daily','capacity','live')),"
    " state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued','in_flight')),"
    " mid INTEGER, sent_ms INTEGER, attempts INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX message_by_state ON message (state, seq);"
    "CREATE INDEX message_coalesced ON message (topic) WHERE class IN ('capacity','live');"
    "CREATE UNIQUE INDEX message_in_flight ON message (mid) WHERE state = 'in_flight';"
    "CREATE TABLE inbound (id TEXT PRIMARY KEY, seen_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL);"
    "CREATE INDEX inbound_by_expiry ON inbound (expires_ms);",
};

#define OUTBOX_SCHEMA_VERSION ((int)(sizeof(outbox_migrations) / sizeof(outbox_migrations[0])))

#define DURABLE_SQL   "class IN ('ack','dr_performance','daily')"
#define COALESCED_SQL "class IN ('capacity','live')"

enum stmt_id {
    ST_INSERT,
    ST_COALESCE,
    ST_BOUND,
    ST_DURABLE_SIZE,
    ST_NEXT,
    ST_MARK,
    ST_ACK,
    ST_DELETE,
    ST_REQUEUE,
    ST_SEEN,
    ST_REMEMBER,
    ST_INBOUND_BOUND,
    ST_INBOUND_EXPIRE,
    ST_STATS,
    ST_COUNT,
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_INSERT] = "INSERT INTO message (created_ms, topic, payload, qos, retained, class)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_COALESCE] =
        "DELETE FROM message WHERE topic = ?1 AND " COALESCED_SQL " AND state = 'queued'",
    /* keep the newest ?1 waiting coalesced messages */
    [ST_BOUND] = "DELETE FROM message WHERE seq IN (SELECT seq FROM message WHERE " COALESCED_SQL
                 " AND state = 'queued' ORDER BY seq DESC LIMIT -1 OFFSET ?1)",
    [ST_DURABLE_SIZE] = "SELECT count(*), total(length(payload)) FROM message WHERE " DURABLE_SQL,
    [ST_NEXT] = "SELECT seq, created_ms, topic, payload, qos, retained, class, attempts"
                " FROM message WHERE state = 'queued' ORDER BY seq LIMIT 1",
    [ST_MARK] = "UPDATE message SET state = 'in_flight', mid = ?2, sent_ms = ?3,"
                " attempts = attempts + 1 WHERE seq = ?1 AND state = 'queued'",
    [ST_ACK] = "DELETE FROM message WHERE state = 'in_flight' AND mid = ?1",
    [ST_DELETE] = "DELETE FROM message WHERE seq = ?1",
    [ST_REQUEUE] = "UPDATE message SET state = 'queued', mid = NULL WHERE state = 'in_flight'",
    [ST_SEEN] = "SELECT 1 FROM inbound WHERE id = ?1 AND expires_ms > ?2",
    [ST_REMEMBER] = "INSERT OR REPLACE INTO inbound (id, seen_ms, expires_ms) VALUES (?1, ?2, ?3)",
    [ST_INBOUND_BOUND] = "DELETE FROM inbound WHERE id IN (SELECT id FROM inbound"
                         " ORDER BY expires_ms DESC LIMIT -1 OFFSET ?1)",
    [ST_INBOUND_EXPIRE] = "DELETE FROM inbound WHERE expires_ms <= ?1",
    [ST_STATS] = "SELECT (SELECT count(*) FROM message WHERE state = 'queued'),"
                 " (SELECT count(*) FROM message WHERE state = 'in_flight'),"
                 " (SELECT count(*) FROM inbound)",
};

static const char *const class_names[OUTBOX_NCLASSES] = {"ack",
                                                         "dr_performance",
                                                         "daily",
                                                         "capacity",
                                                         "live"};

struct outbox {
    char *path;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    const struct clock *clock;
    int max_coalesced;
    int max_durable;
    int64_t max_durable_bytes;
    int64_t inbound_ttl_ms;
    int max_inbound;
    int64_t coalesced;
    int64_t dropped;
    int64_t refused;
    int refusing; /* the bound refuses never-drop messages: logged at start and end */
    int failing;  /* SQLite calls fail: logged at start and end */
};

/* Log an error whose text starts "outbox: " under the module name once. */
static void outbox_log_error(const char *text, const char *suffix)
{
    sqlite_log_error(MOD, text, suffix);
}

/* SQLite's error for what: ERROR_IO, logged when a run of failures starts
 * (outbox_end() logs its end). */
static int outbox_fail(struct outbox *ob, const char *what, struct error_detail *ed)
{
    const char *msg = ob->db ? sqlite3_errmsg(ob->db) : "out of memory";

    if (!ob->failing) {
        LOGE(MOD, "%s: %s: %s", ob->path, what, msg);
    }
    ob->failing = 1;
    return error_setf(ed, ERROR_IO, "outbox: %s: %s: %s", ob->path, what, msg);
}

static int
outbox_exec(struct outbox *ob, const char *sql, const char *what, struct error_detail *ed)
{
    return sqlite3_exec(ob->db, sql, NULL, NULL, NULL) == SQLITE_OK ? ERROR_OK
                                                                    : outbox_fail(ob, what, ed);
}

/* Run a statement that returns no rows, then reset it. */
static int
outbox_step_done(struct outbox *ob, sqlite3_stmt *st, const char *what, struct error_detail *ed)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? ERROR_OK : outbox_fail(ob, what, ed);

    sqlite3_reset(st);
    return rc;
}

/* Step a query: 1 for a row, 0 for none, -1 on error (ed set, st reset). */
static int
outbox_step_row(struct outbox *ob, sqlite3_stmt *st, const char *what, struct error_detail *ed)
{
    int src = sqlite3_step(st);

    if (src == SQLITE_ROW) {
        return 1;
    }
    if (src != SQLITE_DONE) {
        outbox_fail(ob, what, ed);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

static int outbox_begin(struct outbox *ob, struct error_detail *ed)
{
    return outbox_exec(ob, "BEGIN IMMEDIATE", "begin", ed);
}

/* COMMIT when rc is ERROR_OK, else ROLLBACK; returns the final code. */
static int outbox_end(struct outbox *ob, int rc, struct error_detail *ed)
{
    if (!rc) {
        rc = outbox_exec(ob, "COMMIT", "commit", ed);
    }
    if (rc && !sqlite3_get_autocommit(ob->db)) {
        sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL, NULL);
    }
    if (!rc && ob->failing) {
        LOGI(MOD, "%s: writes work again", ob->path);
        ob->failing = 0;
    }
    return rc;
}

void outbox_config_init(struct outbox_config *cfg, const char *path, const struct clock *clock)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->path = path;
    cfg->clock = clock;
    cfg->busy_timeout_ms = 5000;
    cfg->max_coalesced = 256;
    cfg->max_durable = 50000;
    cfg->max_durable_bytes = 64LL * 1024 * 1024;
    cfg->inbound_ttl_ms = 7 * CLOCK_DAY_MS;
    cfg->max_inbound = 100000;
}

static int outbox_config_check(const struct outbox_config *cfg, struct error_detail *ed)
{
    if (!cfg->path || !*cfg->path || !cfg->clock) {
        return error_setf(ed, ERROR_INVALID, "outbox: path and clock are required");
    }
    if (cfg->busy_timeout_ms < 0 || cfg->busy_timeout_ms > 600000) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "outbox: busy_timeout_ms: %d: must be in [0, 600000]",
                          cfg->busy_timeout_ms);
    }
    if (cfg->max_coalesced < 1 || cfg->max_durable < 1 || cfg->max_inbound < 1) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "outbox: max_coalesced %d, max_durable %d, max_inbound %d: must be >= 1",
                          cfg->max_coalesced,
                          cfg->max_durable,
                          cfg->max_inbound);
    }
    if (cfg->max_durable_bytes < OUTBOX_PAYLOAD_MAX || cfg->inbound_ttl_ms < 1) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "outbox: max_durable_bytes %lld must be >= %d and inbound_ttl_ms %lld"
                          " >= 1",
                          (long long)cfg->max_durable_bytes,
                          OUTBOX_PAYLOAD_MAX,
                          (long long)cfg->inbound_ttl_ms);
    }
    return ERROR_OK;
}

/* Create the file ourselves so it is 0600 from the start (SQLite gives the
 * -wal and -shm files the database's mode), and tighten an existing one. */
static int outbox_prepare_file(const char *path, struct error_detail *ed)
{
    struct stat st;
    int rc = ERROR_OK;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0) {
        return error_setf(ed, ERROR_IO, "outbox: %s: cannot open: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = error_setf(ed, ERROR_IO, "outbox: %s: not a regular file", path);
    } else if ((st.st_mode & 077) != 0 && fchmod(fd, 0600) != 0) {
        rc = error_setf(ed, ERROR_IO, "outbox: %s: cannot chmod 0600: %s", path, strerror(errno));
    }
    close(fd);
    return rc;
}

static int
outbox_pragma_int(struct outbox *ob, const char *sql, int64_t *v, struct error_detail *ed)
{
    sqlite3_stmt *st = NULL;
    int rc = ERROR_OK;

    if (sqlite3_prepare_v2(ob->db, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = outbox_fail(ob, sql, ed);
    } else {
        *v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return rc;
}

static int outbox_migrate(struct outbox *ob, struct error_detail *ed)
{
    int64_t version = 0;
    int64_t app_id = 0;
    char sql[96];
    int rc = outbox_begin(ob, ed);

    if (rc) {
        return rc;
    }
    rc = outbox_pragma_int(ob, "PRAGMA application_id", &app_id, ed);
    if (!rc) {
        rc = outbox_pragma_int(ob, "PRAGMA user_version", &version, ed);
    }
    if (!rc && app_id != 0 && app_id != OUTBOX_APPLICATION_ID) {
        rc = error_setf(ed,
                        ERROR_IO,
                        "outbox: %s: not a flexd outbox database (application_id 0x%llx)",
                        ob->path,
                        (long long)app_id);
    } else if (!rc && version > OUTBOX_SCHEMA_VERSION) {
        rc = error_setf(ed,
                        ERROR_STATE,
                        "outbox: %s: schema version %lld is newer than this flexd's %d",
                        ob->path,
                        (long long)version,
                        OUTBOX_SCHEMA_VERSION);
    }
    for (int64_t v = version; !rc && v < OUTBOX_SCHEMA_VERSION; v++) {
        rc = outbox_exec(ob, outbox_migrations[v], "migration", ed);
        if (!rc) {
            snprintf(sql,
                     sizeof(sql),
                     "PRAGMA user_version = %lld; PRAGMA application_id = %d",
                     (long long)v + 1,
                     OUTBOX_APPLICATION_ID);
            rc = outbox_exec(ob, sql, "set user_version", ed);
        }
    }
    return outbox_end(ob, rc, ed);
}

static int outbox_setup(struct outbox *ob, int busy_timeout_ms, struct error_detail *ed)
{
    sqlite3_stmt *st = NULL;
    int rc = ERROR_OK;

    if (sqlite3_open_v2(ob->path, &ob->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        return outbox_fail(ob, "open", ed);
    }
    sqlite3_extended_result_codes(ob->db, 1);
    sqlite3_busy_timeout(ob->db, busy_timeout_ms);
    /* the first statement that reads the file: garbage fails here */
    if (sqlite3_prepare_v2(ob->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = outbox_fail(ob, "set WAL mode", ed);
    } else if (sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
        rc = error_setf(ed, ERROR_IO, "outbox: %s: cannot switch to WAL mode", ob->path);
    }
    sqlite3_finalize(st);
    if (!rc) {
        rc = outbox_exec(ob,
                         "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON",
                         "set pragmas",
                         ed);
    }
    if (!rc) {
        rc = outbox_migrate(ob, ed);
    }
    for (int i = 0; !rc && i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(ob->db,
                               stmt_sql[i],
                               -1,
                               SQLITE_PREPARE_PERSISTENT,
                               &ob->st[i],
                               NULL) != SQLITE_OK) {
            rc = outbox_fail(ob, "prepare statement", ed);
        }
    }
    return rc;
}

int outbox_open(const struct outbox_config *cfg, struct outbox **out, struct error_detail *ed)
{
    struct error_detail local;
    struct outbox *ob;
    int rc;

    if (!ed) {
        ed = &local;
    }
    *out = NULL;
    rc = outbox_config_check(cfg, ed);
    if (rc) {
        return rc;
    }
    sqlite_log_route();
    rc = outbox_prepare_file(cfg->path, ed);
    if (rc) {
        outbox_log_error(ed->text, "");
        return rc;
    }
    ob = ALLOC_NEW(struct outbox);
    ob->path = alloc_strdup(cfg->path);
    ob->clock = cfg->clock;
    ob->max_coalesced = cfg->max_coalesced;
    ob->max_durable = cfg->max_durable;
    ob->max_durable_bytes = cfg->max_durable_bytes;
    ob->inbound_ttl_ms = cfg->inbound_ttl_ms;
    ob->max_inbound = cfg->max_inbound;
    rc = outbox_setup(ob, cfg->busy_timeout_ms, ed);
    if (!rc) {
        /* after a restart nothing is in flight: replay it in order */
        rc = outbox_requeue(ob, ed);
    }
    if (!rc) {
        rc = outbox_prune(ob, NULL, ed);
    }
    if (rc) {
        if (!ob->failing) { /* else outbox_fail() logged it */
            outbox_log_error(ed->text, "");
        }
        outbox_close(ob);
        return rc;
    }
    *out = ob;
    return ERROR_OK;
}

void outbox_close(struct outbox *ob)
{
    if (!ob) {
        return;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(ob->st[i]);
    }
    sqlite3_close(ob->db);
    free(ob->path);
    free(ob);
}

static int outbox_check_msg(const struct outbox_msg *m, struct error_detail *ed)
{
    size_t topic_len = m->topic ? strlen(m->topic) : 0;

    if (topic_len == 0 || topic_len > OUTBOX_TOPIC_MAX || strpbrk(m->topic, "+#")) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "outbox: topic \"%.64s\": must be 1 to %d bytes without + or #",
                          m->topic ? m->topic : "",
                          OUTBOX_TOPIC_MAX);
    }
    if (m->payload_len > OUTBOX_PAYLOAD_MAX || (!m->payload && m->payload_len > 0)) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "outbox: %s: payload of %zu bytes: the limit is %d",
                          m->topic,
                          m->payload_len,
                          OUTBOX_PAYLOAD_MAX);
    }
    if (m->qos < 0 || m->qos > 2 || (m->retained != 0 && m->retained != 1)) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "outbox: %s: qos %d, retained %d: need 0..2 and 0 or 1",
                          m->topic,
                          m->qos,
                          m->retained);
    }
    if ((int)m->cls < 0 || (int)m->cls >= OUTBOX_NCLASSES) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "outbox: %s: class %d: unknown",
                          m->topic,
                          (int)m->cls);
    }
    if (m->inbound_id && (!*m->inbound_id || strlen(m->inbound_id) > OUTBOX_INBOUND_ID_MAX)) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "outbox: inbound id: must be 1 to %d bytes",
                          OUTBOX_INBOUND_ID_MAX);
    }
    return ERROR_OK;
}

/* A never-drop message must fit max_durable and max_durable_bytes. */
static int outbox_check_durable(struct outbox *ob, size_t len, struct error_detail *ed)
{
    sqlite3_stmt *st = ob->st[ST_DURABLE_SIZE];
    int64_t count;
    int64_t bytes;
    int row = outbox_step_row(ob, st, "count durable", ed);

    if (row <= 0) {
        return row < 0 ? ERROR_IO : ERROR_OK;
    }
    count = sqlite3_column_int64(st, 0);
    bytes = (int64_t)sqlite3_column_double(st, 1);
    sqlite3_reset(st);
    if (count >= ob->max_durable || bytes + (int64_t)len > ob->max_durable_bytes) {
        ob->refused++;
        if (!ob->refusing) {
            LOGE(MOD,
                 "%s: full of never-drop messages (%lld, %lld bytes): refusing new ones",
                 ob->path,
                 (long long)count,
                 (long long)bytes);
        }
        ob->refusing = 1;
        return error_setf(ed,
                          ERROR_RANGE,
                          "outbox: %s: %lld never-drop messages, %lld bytes: the bound is %d,"
                          " %lld bytes",
                          ob->path,
                          (long long)count,
                          (long long)bytes,
                          ob->max_durable,
                          (long long)ob->max_durable_bytes);
    }
    if (ob->refusing) {
        LOGI(MOD, "%s: accepting never-drop messages again", ob->path);
        ob->refusing = 0;
    }
    return ERROR_OK;
}

static int outbox_remember_in_tx(struct outbox *ob, const char *id, struct error_detail *ed)
{
    sqlite3_stmt *st = ob->st[ST_REMEMBER];
    int64_t now = clock_now_ms(ob->clock);
    int rc;

    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, now + ob->inbound_ttl_ms);
    rc = outbox_step_done(ob, st, "remember inbound id", ed);
    if (!rc) {
        st = ob->st[ST_INBOUND_BOUND];
        sqlite3_bind_int(st, 1, ob->max_inbound);
        rc = outbox_step_done(ob, st, "bound inbound ids", ed);
    }
    return rc;
}

int outbox_append(struct outbox *ob,
                  const struct outbox_msg *m,
                  int64_t *seq,
                  struct error_detail *ed)
{
    int coalesced = m->cls == OUTBOX_CAPACITY || m->cls == OUTBOX_LIVE;
    sqlite3_stmt *st;
    int rc = outbox_check_msg(m, ed);

    if (rc) {
        return rc;
    }
    rc = outbox_begin(ob, ed);
    if (!rc && coalesced) {
        st = ob->st[ST_COALESCE];
        sqlite3_bind_text(st, 1, m->topic, -1, SQLITE_STATIC);
        rc = outbox_step_done(ob, st, "coalesce", ed);
        ob->coalesced += rc ? 0 : sqlite3_changes(ob->db);
    } else if (!rc) {
        rc = outbox_check_durable(ob, m->payload_len, ed);
    }
    if (!rc) {
        st = ob->st[ST_INSERT];
        sqlite3_bind_int64(st, 1, clock_now_ms(ob->clock));
        sqlite3_bind_text(st, 2, m->topic, -1, SQLITE_STATIC);
        /* a NULL pointer would bind SQL NULL, not an empty blob */
        sqlite3_bind_blob(st,
                          3,
                          m->payload_len ? m->payload : "",
                          (int)m->payload_len,
                          SQLITE_STATIC);
        sqlite3_bind_int(st, 4, m->qos);
        sqlite3_bind_int(st, 5, m->retained);
        sqlite3_bind_text(st, 6, class_names[m->cls], -1, SQLITE_STATIC);
        rc = outbox_step_done(ob, st, "insert message", ed);
    }
    if (!rc && seq) {
        *seq = sqlite3_last_insert_rowid(ob->db);
    }
    if (!rc && coalesced) {
        st = ob->st[ST_BOUND];
        sqlite3_bind_int(st, 1, ob->max_coalesced);
        rc = outbox_step_done(ob, st, "bound coalesced messages", ed);
        ob->dropped += rc ? 0 : sqlite3_changes(ob->db);
    }
    if (!rc && m->inbound_id) {
        rc = outbox_remember_in_tx(ob, m->inbound_id, ed);
    }
    return outbox_end(ob, rc, ed);
}

int outbox_next(struct outbox *ob, struct outbox_entry *out, int *found, struct error_detail *ed)
{
    sqlite3_stmt *st = ob->st[ST_NEXT];
    int row = outbox_step_row(ob, st, "next message", ed);
    const void *blob;
    const unsigned char *topic;

    memset(out, 0, sizeof(*out));
    *found = row == 1;
    if (row != 1) {
        return row < 0 ? ERROR_IO : ERROR_OK;
    }
    out->seq = sqlite3_column_int64(st, 0);
    out->created_ms = sqlite3_column_int64(st, 1);
    topic = sqlite3_column_text(st, 2);
    out->topic = alloc_strdup(topic ? (const char *)topic : "");
    blob = sqlite3_column_blob(st, 3);
    out->payload_len = (size_t)sqlite3_column_bytes(st, 3);
    out->payload = alloc_array(out->payload_len + 1, 1);
    if (out->payload_len > 0) {
        memcpy(out->payload, blob, out->payload_len);
    }
    out->qos = sqlite3_column_int(st, 4);
    out->retained = sqlite3_column_int(st, 5);
    out->cls = OUTBOX_LIVE;
    for (int i = 0; i < OUTBOX_NCLASSES; i++) {
        if (strcmp(class_names[i], (const char *)sqlite3_column_text(st, 6)) == 0) {
            out->cls = (enum outbox_class)i;
        }
    }
    out->attempts = sqlite3_column_int(st, 7);
    sqlite3_reset(st);
    return ERROR_OK;
}

void outbox_entry_clear(struct outbox_entry *e)
{
    if (e) {
        free(e->topic);
        free(e->payload);
        memset(e, 0, sizeof(*e));
    }
}

int outbox_mark_in_flight(struct outbox *ob, int64_t seq, int mid, struct error_detail *ed)
{
    sqlite3_stmt *st = ob->st[ST_MARK];
    int src;
    int rc = ERROR_OK;

    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int(st, 2, mid);
    sqlite3_bind_int64(st, 3, clock_now_ms(ob->clock));
    src = sqlite3_step(st);
    if ((src & 0xff) == SQLITE_CONSTRAINT) {
        rc = error_setf(ed,
                        ERROR_STATE,
                        "outbox: message id %d is already in flight (seq %lld)",
                        mid,
                        (long long)seq);
    } else if (src != SQLITE_DONE) {
        rc = outbox_fail(ob, "mark in flight", ed);
    } else if (sqlite3_changes(ob->db) == 0) {
        rc = error_setf(ed, ERROR_STATE, "outbox: seq %lld is not queued", (long long)seq);
    }
    sqlite3_reset(st);
    return rc;
}

int outbox_ack(struct outbox *ob, int mid, int *found, struct error_detail *ed)
{
    sqlite3_stmt *st = ob->st[ST_ACK];
    int rc;

    sqlite3_bind_int(st, 1, mid);
    rc = outbox_step_done(ob, st, "delete acknowledged", ed);
    if (found) {
        *found = !rc && sqlite3_changes(ob->db) > 0;
    }
    return rc;
}

int outbox_delete(struct outbox *ob, int64_t seq, struct error_detail *ed)
{
    sqlite3_stmt *st = ob->st[ST_DELETE];

    sqlite3_bind_int64(st, 1, seq);
    return outbox_step_done(ob, st, "delete", ed);
}

int outbox_requeue(struct outbox *ob, struct error_detail *ed)
{
    int rc = outbox_step_done(ob, ob->st[ST_REQUEUE], "requeue", ed);

    if (!rc && sqlite3_changes(ob->db) > 0) {
        LOGI(MOD, "%s: %d in-flight messages queued again", ob->path, sqlite3_changes(ob->db));
    }
    return rc;
}

static int outbox_check_id(const char *id, struct error_detail *ed)
{
    if (!id || !*id || strlen(id) > OUTBOX_INBOUND_ID_MAX) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "outbox: inbound id: must be 1 to %d bytes",
                          OUTBOX_INBOUND_ID_MAX);
    }
    return ERROR_OK;
}

int outbox_inbound_seen(struct outbox *ob, const char *id, int *seen, struct error_detail *ed)
{
    sqlite3_stmt *st = ob->st[ST_SEEN];
    int row;
    int rc = outbox_check_id(id, ed);

    *seen = 0;
    if (rc) {
        return rc;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, clock_now_ms(ob->clock));
    row = outbox_step_row(ob, st, "look up inbound id", ed);
    if (row == 1) {
        *seen = 1;
        sqlite3_reset(st);
    }
    return row < 0 ? ERROR_IO : ERROR_OK;
}

int outbox_inbound_remember(struct outbox *ob, const char *id, struct error_detail *ed)
{
    int rc = outbox_check_id(id, ed);

    if (!rc) {
        rc = outbox_begin(ob, ed);
        if (!rc) {
            rc = outbox_end(ob, outbox_remember_in_tx(ob, id, ed), ed);
        }
    }
    return rc;
}

int outbox_prune(struct outbox *ob, int64_t *deleted, struct error_detail *ed)
{
    sqlite3_stmt *st = ob->st[ST_INBOUND_EXPIRE];
    int rc;

    sqlite3_bind_int64(st, 1, clock_now_ms(ob->clock));
    rc = outbox_step_done(ob, st, "forget expired inbound ids", ed);
    if (deleted) {
        *deleted = rc ? 0 : sqlite3_changes(ob->db);
    }
    return rc;
}

int outbox_stats(struct outbox *ob, struct outbox_stats *out, struct error_detail *ed)
{
    sqlite3_stmt *st = ob->st[ST_STATS];
    int row;

    memset(out, 0, sizeof(*out));
    out->coalesced = ob->coalesced;
    out->dropped = ob->dropped;
    out->refused = ob->refused;
    row = outbox_step_row(ob, st, "stats", ed);
    if (row == 1) {
        out->queued = sqlite3_column_int(st, 0);
        out->in_flight = sqlite3_column_int(st, 1);
        out->inbound_ids = sqlite3_column_int(st, 2);
        sqlite3_reset(st);
        st = ob->st[ST_DURABLE_SIZE];
        row = outbox_step_row(ob, st, "stats", ed);
    }
    if (row == 1) {
        out->durable = sqlite3_column_int(st, 0);
        out->durable_bytes = (int64_t)sqlite3_column_double(st, 1);
        sqlite3_reset(st);
    }
    return row < 0 ? ERROR_IO : ERROR_OK;
}

const char *outbox_class_name(enum outbox_class cls)
{
    return (int)cls >= 0 && (int)cls < OUTBOX_NCLASSES ? class_names[cls] : "?";
}
