/* SPDX-License-Identifier: MIT */
/*
 * replay_internal.h - private to replay.c and replay_csv.c; nothing else
 * may include it (the replay API is replay.h). It holds the recorded data
 * as read, the CSV columns of each file and the rp_ functions one of the
 * two files calls in the other:
 *   replay.c      the object, replay_parse()/replay_load(), and the data
 *                 put on the step grid as a world (replay_range(),
 *                 replay_world())
 *   replay_csv.c  the CSV reader: lines, header, fields, the per-file row
 *                 parsers and whole-file rules, and the messages that name
 *                 the file, line, column and value
 */
#ifndef FLEXD_SIM_REPLAY_INTERNAL_H
#define FLEXD_SIM_REPLAY_INTERNAL_H

#include "../common/error.h"
#include "replay.h"

#include <stddef.h>
#include <stdint.h>

#define RP_FIELD_MAX 128 /* longest field + 1 */
#define RP_COLS_MAX  8   /* most fields on a line */
#define RP_NAME_MAX  512 /* a file's name in messages */
#define RP_MIN_MS    60000LL

struct rp_point {
    int64_t ts_ms;
    double kw;
    int line;
};

struct rp_series {
    struct rp_point *pts;
    int n;
};

struct rp_session {
    struct demand_ev ev;
    char connector[STATION_ID_MAX]; /* a connector id, or "" for any of the kind */
    double energy_kwh;
    int line;
};

struct replay {
    struct rp_series series[2]; /* REPLAY_PV, REPLAY_BASE_LOAD */
    struct rp_session *sessions;
    int n_sessions;
    struct controller_dr *dr;
    int *dr_lines;
    int n_dr;
    char names[REPLAY_FILES][RP_NAME_MAX]; /* file names as messages show them */
    int maps[REPLAY_FILES][RP_COLS_MAX];   /* each file's header map (struct rp_ctx) */
};

/* ---- columns ------------------------------------------------------------------------- */

struct rp_col {
    const char *name;
    int required;
};

/* Column indices into the tables below. */
#define C_TIME      0
#define C_KW        1
#define S_ID        0
#define S_CONNECTOR 1
#define S_ARRIVAL   2
#define S_DEPARTURE 3
#define S_DECLARED  4
#define S_ENERGY    5
#define S_MAX_KW    6
#define S_SOURCE    7
#define D_ID        0
#define D_TYPE      1
#define D_NOTICE    2
#define D_START     3
#define D_END       4
#define D_LIMIT     5

/* The columns of each file, indexed by enum replay_file; the sessions' own. */
extern const struct rp_col *const rp_cols[REPLAY_FILES];
extern const struct rp_col rp_cols_sessions[];

/* One file being read: the header's map and the current line's fields. */
struct rp_ctx {
    struct replay *rp;
    enum replay_file f;
    const struct rp_col *cols;
    int map[RP_COLS_MAX]; /* table column -> field index on a line, -1 absent */
    int n_fields;         /* fields on the header line */
    int line;
    int n;                               /* fields on the current line */
    char fld[RP_COLS_MAX][RP_FIELD_MAX]; /* the current line's fields, trimmed */
    struct error_detail *ed;
};

/* ---- replay_csv.c ---- */

/* "line L, column N (name): value: rule" for column col of another line. */
int rp_fail_at(const struct rp_ctx *c, int line, int col, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ts as clock_format_iso() writes it, in buf; "" if it does not fit. */
const char *rp_iso(int64_t ts, char buf[32]);

/* Rows in file order: a qsort tie-break on line numbers. */
int rp_line_order(int a, int b);

/* Read text as c->f: every line, then the rules across rows; the rows
 * go into c->rp. */
int rp_lines(struct rp_ctx *c, const char *text, size_t len);

#endif
