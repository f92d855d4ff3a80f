/* SPDX-License-Identifier: MIT */
/*
 * history.h - the station's history in one SQLite file: 1-s samples of the
 * station and of every connector, their 1-min and 15-min rollups, plans,
 * setpoints written, alarms and events, EV sessions and demand-response
 * events. The schema, retention and the sqlite3 queries that read it are
 * documented in docs/storage.md.
 *
 * Writes are batched: history_add_*() and history_put_*() copy the record
 * into an in-memory batch and return at once; history_flush() commits the
 * whole batch in one transaction and brings the rollups of the minutes and
 * quarter hours it touched up to date (the daemon flushes every few
 * seconds). After a restart, history_open_sessions(), history_active_plan()
 * and history_active_dr() give back what was going on.
 *
 * Every function returns ERROR_OK or a code from common/error.h; SQLite's
 * own message lands in ed ("history: PATH: what: sqlite message"). A corrupt
 * or unwritable database is an error, never a crash.
 *
 * Times are ms since the Unix epoch (UTC); 0 means "none" where a field says
 * so. A power or SoC of NaN means "not measured" and is stored as NULL.
 *
 * Owned by one thread (the engine's); not thread-safe.
 */
#ifndef FLEXD_IO_HISTORY_H
#define FLEXD_IO_HISTORY_H

#include "../common/clock.h"
#include "../common/error.h"

#include <stddef.h>
#include <stdint.h>

#define HISTORY_ID_MAX      64                /* ids and names incl. the NUL */
#define HISTORY_MESSAGE_MAX 1024              /* alarm text, bytes without the NUL */
#define HISTORY_JSON_MAX    (8 * 1024 * 1024) /* plan and DR JSON, bytes */

/* Retention per table (ms); history_prune() deletes older rows. */
struct history_retention {
    int64_t sample_ms;   /* 1-s station and connector samples; >= 1 h */
    int64_t minute_ms;   /* 1-min rollups */
    int64_t quarter_ms;  /* 15-min rollups */
    int64_t setpoint_ms; /* setpoints written */
    int64_t alarm_ms;    /* alarms and events */
    int64_t plan_ms;     /* plans other than the active one, by creation time */
    int64_t closed_ms;   /* closed EV sessions and finished DR events */
};

#define HISTORY_DAY_MS              CLOCK_DAY_MS
#define HISTORY_DEFAULT_SAMPLE_MS   (2 * HISTORY_DAY_MS)
#define HISTORY_DEFAULT_MINUTE_MS   (60 * HISTORY_DAY_MS)
#define HISTORY_DEFAULT_QUARTER_MS  (3653 * HISTORY_DAY_MS) /* 10 years */
#define HISTORY_DEFAULT_SETPOINT_MS (14 * HISTORY_DAY_MS)
#define HISTORY_DEFAULT_ALARM_MS    (400 * HISTORY_DAY_MS)
#define HISTORY_DEFAULT_PLAN_MS     (30 * HISTORY_DAY_MS)
#define HISTORY_DEFAULT_CLOSED_MS   (3653 * HISTORY_DAY_MS)

struct history_config {
    const char *path;          /* database file; created 0600 if missing */
    const struct clock *clock; /* borrowed; "now" for retention and updated_ms */
    int busy_timeout_ms;       /* wait for a lock this long; default 5000 */
    int sample_period_ms;      /* time one sample stands for in kWh sums; default 1000 */
    int max_pending;           /* records the batch may hold; default 200000 */
    struct history_retention retention;
};

/* Fill cfg with the defaults above for path and clock (both borrowed). */
void history_config_init(struct history_config *cfg, const char *path, const struct clock *clock);

/* One 1-s reading of the whole station. Powers in kW, >= 0 unless noted. */
struct history_sample {
    int64_t ts_ms;
    double grid_import_kw;
    double grid_export_kw;
    double pv_kw;
    double pv_limit_kw; /* curtailment limit in force; NaN = none */
    double battery_kw;  /* + discharging into the station, - charging */
    double battery_soc; /* 0..1 */
    double ev_kw;       /* all connectors */
    double base_kw;     /* non-EV load */
    double import_limit_kw;
};

/* Connector states, after OCPP 1.6 StatusNotification; the codes are
 * stored and never change (table connector_state names them). */
enum history_connector_state {
    HISTORY_CONNECTOR_UNKNOWN = 0,
    HISTORY_CONNECTOR_AVAILABLE = 1,
    HISTORY_CONNECTOR_PREPARING = 2, /* plugged in, not charging yet */
    HISTORY_CONNECTOR_CHARGING = 3,
    HISTORY_CONNECTOR_SUSPENDED_EV = 4,
    HISTORY_CONNECTOR_SUSPENDED_EVSE = 5,
    HISTORY_CONNECTOR_FINISHING = 6,
    HISTORY_CONNECTOR_FAULTED = 7,
    HISTORY_CONNECTOR_UNAVAILABLE = 8,
};

#define HISTORY_CONNECTOR_NSTATES 9

struct history_connector_sample {
    int64_t ts_ms;
    char connector_id[HISTORY_ID_MAX];
    double power_kw;
    enum history_connector_state state;
};

enum history_verify {
    HISTORY_VERIFY_NONE = 0,     /* written, not read back */
    HISTORY_VERIFY_OK = 1,       /* read back equal */
    HISTORY_VERIFY_MISMATCH = 2, /* read back different */
};

/* A setpoint written to a device ("bess1", "active_power_kw", -50). */
struct history_setpoint {
    int64_t ts_ms;
    char device[HISTORY_ID_MAX];
    char point[HISTORY_ID_MAX];
    double value;
    enum history_verify verified;
};

enum history_severity {
    HISTORY_SEV_INFO = 0,
    HISTORY_SEV_WARNING = 1,
    HISTORY_SEV_ERROR = 2,
    HISTORY_SEV_CRITICAL = 3,
};

enum history_alarm_state {
    HISTORY_ALARM_RAISED = 0,
    HISTORY_ALARM_CLEARED = 1,
    HISTORY_ALARM_EVENT = 2, /* a one-off event with no clearing */
};

struct history_alarm {
    int64_t ts_ms;
    char device[HISTORY_ID_MAX];
    char kind[HISTORY_ID_MAX]; /* "comm_lost", "over_temperature", ... */
    enum history_severity severity;
    enum history_alarm_state state;
    char *message; /* borrowed by history_add_alarm() */
};

enum history_plan_status {
    HISTORY_PLAN_ACTIVE = 0,     /* the plan being followed */
    HISTORY_PLAN_SUPERSEDED = 1, /* a newer plan replaced it */
    HISTORY_PLAN_FAILED = 2,     /* solve or checks failed; never followed */
    HISTORY_PLAN_DONE = 3,       /* its horizon ended */
};

struct history_plan {
    char id[HISTORY_ID_MAX];
    int64_t created_ms;
    int64_t horizon_start_ms;
    int step_minutes; /* 1..60 */
    int steps;        /* >= 1 */
    enum history_plan_status status;
    double objective_cny;
    char *json; /* the plan (io/plan_json.h); see each function for ownership */
};

enum history_session_state {
    HISTORY_SESSION_OPEN = 0,
    HISTORY_SESSION_CLOSED = 1,
};

struct history_session {
    char id[HISTORY_ID_MAX];
    char connector_id[HISTORY_ID_MAX];
    int64_t plugin_ms;
    int64_t unplug_ms;    /* 0 = still plugged in */
    double energy_kwh;    /* delivered so far */
    int64_t departure_ms; /* declared by the driver; 0 = not declared */
    double wanted_kwh;    /* declared by the driver; NaN = not declared */
    enum history_session_state state;
};

/* Lifecycle of a grid demand-response event as the engine tracks it. */
enum history_dr_state {
    HISTORY_DR_RECEIVED = 0, /* not yet answered */
    HISTORY_DR_ACCEPTED = 1, /* answered, not started */
    HISTORY_DR_ACTIVE = 2,
    HISTORY_DR_FINISHED = 3,
    HISTORY_DR_CANCELLED = 4,
    HISTORY_DR_REJECTED = 5,
};

struct history_dr {
    char id[HISTORY_ID_MAX];
    int64_t received_ms;
    int64_t start_ms;
    int64_t end_ms;
    enum history_dr_state state;
    char *json; /* the event as received; see each function for ownership */
};

struct history;

/* Open or create the database at cfg->path (file mode 0600), switch on
 * WAL, synchronous=NORMAL, foreign keys and the busy timeout, and bring the
 * schema up to date. ERROR_INVALID for a bad cfg; ERROR_IO when the file
 * cannot be created or opened, is not a database, is corrupt, or belongs
 * to another program; ERROR_STATE when its schema is newer than this
 * program. *out is NULL on error. */
int history_open(const struct history_config *cfg, struct history **out, struct error_detail *ed);

/* Flush what is pending (a failure is logged), then close. NULL is a no-op. */
void history_close(struct history *h);

/* Append one record to the batch; nothing touches the file until
 * history_flush(). Strings and JSON are copied. ERROR_INVALID for a bad
 * field (named in ed); ERROR_RANGE when a sample is older than the 1-s
 * retention or the batch already holds max_pending records (the record is
 * dropped and counted in history_stats()). */
int history_add_sample(struct history *h, const struct history_sample *s, struct error_detail *ed);
int history_add_connector(struct history *h,
                          const struct history_connector_sample *s,
                          struct error_detail *ed);
int history_add_setpoint(struct history *h,
                         const struct history_setpoint *s,
                         struct error_detail *ed);
int history_add_alarm(struct history *h, const struct history_alarm *a, struct error_detail *ed);

/* Insert or replace a plan by id. Putting an ACTIVE plan marks every other
 * active plan SUPERSEDED in the same transaction. */
int history_put_plan(struct history *h, const struct history_plan *p, struct error_detail *ed);

/* Change a stored (or batched) plan's status; an unknown id is ignored. */
int history_set_plan_status(struct history *h,
                            const char *plan_id,
                            enum history_plan_status status,
                            struct error_detail *ed);

/* Insert or replace an EV session, or a DR event, by id: write the whole
 * record again whenever it changes. */
int history_put_session(struct history *h,
                        const struct history_session *s,
                        struct error_detail *ed);
int history_put_dr(struct history *h, const struct history_dr *d, struct error_detail *ed);

/* Commit the batch in one transaction and update the rollups of every
 * minute and quarter hour a new sample fell into. On a transient failure
 * (busy, disk full, I/O error, read-only) the batch is kept for the next
 * call; on any other failure it is dropped and counted. ERROR_IO with
 * SQLite's message. A failure is logged once when it starts and once when
 * flushing works again. */
int history_flush(struct history *h, struct error_detail *ed);

/* Delete rows older than their retention (relative to the clock's now).
 * Open sessions, unfinished DR events and active plans are kept whatever
 * their age. *deleted (may be NULL) gets the number of rows removed. */
int history_prune(struct history *h, int64_t *deleted, struct error_detail *ed);

/* PRAGMA quick_check: ERROR_IO with the first problem if the file is
 * damaged. Reads the whole file; call it at start-up, not every cycle. */
int history_check(struct history *h, struct error_detail *ed);

/* Resume after a restart; these read committed data only. */

/* Every OPEN session, oldest plug-in first: *out is a new array of *n
 * (free() it; NULL when *n is 0). */
int history_open_sessions(struct history *h,
                          struct history_session **out,
                          int *n,
                          struct error_detail *ed);

/* Every session, open or closed, plugged in at or after since_ms, oldest
 * first (closed ones as long as their retention keeps them): *out as
 * history_open_sessions(). The live engine relearns its EV forecast from
 * them after a restart. */
int history_sessions_since(struct history *h,
                           int64_t since_ms,
                           struct history_session **out,
                           int *n,
                           struct error_detail *ed);

/* The most recently created ACTIVE plan: *found is 1 and out->json a new
 * string (free() it, or history_plan_clear()), or *found is 0. */
int history_active_plan(struct history *h,
                        struct history_plan *out,
                        int *found,
                        struct error_detail *ed);

void history_plan_clear(struct history_plan *p);

/* Every DR event RECEIVED, ACCEPTED or ACTIVE, earliest start first; *out
 * is a new array of *n whose json strings it owns (history_dr_list_free()). */
int history_active_dr(struct history *h, struct history_dr **out, int *n, struct error_detail *ed);

void history_dr_list_free(struct history_dr *list, int n);

/* Mean net import (import minus export, kW) over the committed 1-min
 * rollups with buckets in [from_ms, to_ms), weighted by their samples, for
 * demand-response baselines (engine/baseline.c). *minutes gets how many
 * minutes had data; with none, *mean_kw is NaN and *minutes 0 (not an
 * error). ERROR_IO when the query fails. */
int history_mean_net_kw(struct history *h,
                        int64_t from_ms,
                        int64_t to_ms,
                        double *mean_kw,
                        int *minutes,
                        struct error_detail *ed);

struct history_stats {
    int pending;          /* records in the batch */
    int64_t dropped;      /* records refused (batch full) or lost with a failed batch */
    int64_t flushes;      /* successful flushes */
    int64_t rows_written; /* records committed */
    int64_t failed_flushes;
    int schema_version;
};

void history_stats(const struct history *h, struct history_stats *out);

/* Names stored in the database for the enums ("active", "charging", ...);
 * "?" for a value out of range. */
const char *history_plan_status_name(enum history_plan_status s);
const char *history_dr_state_name(enum history_dr_state s);
const char *history_connector_state_name(enum history_connector_state s);

#endif
