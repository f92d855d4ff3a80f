/* SPDX-License-Identifier: MIT */
/*
 * replay.c - recorded station data as a simulation world (replay.h). The
 * CSV reader is deliberately small: a header naming the columns (any
 * order), comma-separated fields trimmed of blanks, no quoting, '#'
 * comment lines, CRLF or LF. Every field is checked where it is read and
 * every rule across rows (sorted times, unique ids, no two cars on one
 * connector at once) right after the file, so a message can always name
 * the file, the line, the column and the value. The series are kept as
 * read and put on the step grid only in replay_world(), so one directory
 * replays at any step length. Times and DR events follow the rules of the
 * simulation file (simconf.h).
 *
 * Pure functions apart from replay_load()'s reads; single thread.
 */
#include "replay.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/fileio.h"
#include "../common/numparse.h"
#include "../engine/planner.h"
#include "simconf.h"

#include <dirent.h>
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RP_FIELD_MAX 128 /* longest field + 1 */
#define RP_COLS_MAX  8   /* most fields on a line */
#define RP_NAME_MAX  512 /* a file's name in messages */
#define RP_MIN_MS    60000LL

const char *const replay_file_names[REPLAY_FILES + 1] = {"pv.csv",
                                                         "base_load.csv",
                                                         "sessions.csv",
                                                         "dr_events.csv",
                                                         NULL};

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

static const struct rp_col rp_cols_pv[] = {{"time", 1}, {"pv_kw", 1}, {NULL, 0}};
static const struct rp_col rp_cols_base[] = {{"time", 1}, {"base_kw", 1}, {NULL, 0}};
static const struct rp_col rp_cols_sessions[] = {{"id", 1},
                                                 {"connector", 1},
                                                 {"arrival", 1},
                                                 {"departure", 1},
                                                 {"declared_departure", 0},
                                                 {"energy_kwh", 1},
                                                 {"max_kw", 1},
                                                 {"source", 0},
                                                 {NULL, 0}};
static const struct rp_col rp_cols_dr[] =
    {{"id", 1}, {"type", 1}, {"notice", 1}, {"start", 1}, {"end", 1}, {"limit_kw", 1}, {NULL, 0}};
static const struct rp_col *const rp_cols[REPLAY_FILES] = {rp_cols_pv,
                                                           rp_cols_base,
                                                           rp_cols_sessions,
                                                           rp_cols_dr};

static const char *const rp_dr_types[] = {"import_cap", "import_floor", NULL};

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

/* ---- messages ------------------------------------------------------------------------ */

/* s quoted for a message: printable ASCII as is, the rest '?', cut at 48. */
static void rp_quote(const char *s, char *buf, size_t n)
{
    size_t o = 0;
    size_t i;

    buf[o++] = '"';
    for (i = 0; s[i] && i < 48 && o + 5 < n; i++) {
        unsigned char c = (unsigned char)s[i];

        buf[o++] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\' ? '?' : (char)c;
    }
    if (s[i]) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

static const char *rp_field(const struct rp_ctx *c, int col)
{
    return c->map[col] >= 0 ? c->fld[c->map[col]] : "";
}

static int
rp_vfail(const struct rp_ctx *c, int line, int col, const char *value, const char *fmt, va_list ap)
{
    char rule[256];
    char shown[64];

    (void)vsnprintf(rule, sizeof(rule), fmt, ap);
    rp_quote(value, shown, sizeof(shown));
    return error_setf(c->ed,
                      ERROR_INVALID,
                      "line %d, column %d (%s): %s: %s",
                      line,
                      c->map[col] + 1,
                      c->cols[col].name,
                      shown,
                      rule);
}

/* "line L, column N (name): value: rule" for column col of another line. */
static int
rp_fail_at(const struct rp_ctx *c, int line, int col, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
rp_fail_at(const struct rp_ctx *c, int line, int col, const char *value, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = rp_vfail(c, line, col, value, fmt, ap);
    va_end(ap);
    return rc;
}

/* The same for column col of the current line. */
static int rp_bad(const struct rp_ctx *c, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rp_bad(const struct rp_ctx *c, int col, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = rp_vfail(c, c->line, col, rp_field(c, col), fmt, ap);
    va_end(ap);
    return rc;
}

static const char *rp_iso(int64_t ts, char buf[32])
{
    if (clock_format_iso(ts, buf, 32) < 0) {
        buf[0] = '\0';
    }
    return buf;
}

/* ---- fields -------------------------------------------------------------------------- */

static int rp_time(const struct rp_ctx *c, int col, int64_t *ts)
{
    const char *s = rp_field(c, col);

    if (simconf_parse_time(s, strlen(s), ts)) {
        return rp_bad(c,
                      col,
                      "must be an ISO 8601 time with its offset, e.g. 2026-07-18T13:45+08:00");
    }
    return ERROR_OK;
}

/* A number in [lo, hi]; lo_open: must be above lo. */
static int rp_number(const struct rp_ctx *c, int col, double lo, int lo_open, double hi, double *v)
{
    if (numparse_double(rp_field(c, col), -DBL_MAX, DBL_MAX, v)) {
        return rp_bad(c, col, "must be a number");
    }
    if (*v < lo && lo == 0.0 && !lo_open) {
        return rp_bad(c, col, "must not be negative");
    }
    if (*v < lo || (lo_open && *v <= lo)) {
        return rp_bad(c, col, "must be above %g", lo);
    }
    return *v > hi ? rp_bad(c, col, "must be at most %g", hi) : ERROR_OK;
}

static int rp_id(const struct rp_ctx *c, int col, char *dst, size_t size)
{
    const char *s = rp_field(c, col);

    if (!*s) {
        return rp_bad(c, col, "must not be empty");
    }
    if (strlen(s) >= size) {
        return rp_bad(c, col, "must be at most %zu bytes", size - 1);
    }
    snprintf(dst, size, "%s", s);
    return ERROR_OK;
}

/* An index into names (NULL-terminated), or an error listing them. */
static int rp_enum(const struct rp_ctx *c, int col, const char *const *names, int *out)
{
    char list[128];
    size_t o = 0;

    list[0] = '\0';
    for (int i = 0; names[i]; i++) {
        if (strcmp(rp_field(c, col), names[i]) == 0) {
            *out = i;
            return ERROR_OK;
        }
        if (o < sizeof(list)) {
            int w = snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", names[i]);

            o += w > 0 ? (size_t)w : 0;
        }
    }
    return rp_bad(c, col, "must be one of %s", list);
}

/* ---- rows ---------------------------------------------------------------------------- */

static int rp_series_row(struct rp_ctx *c)
{
    struct rp_series *s = &c->rp->series[c->f];
    const struct rp_point *prev = s->n ? &s->pts[s->n - 1] : NULL;
    struct rp_point p = {0, 0.0, c->line};
    char t[32];

    if (rp_time(c, C_TIME, &p.ts_ms) || rp_number(c, C_KW, 0.0, 0, SCENARIO_POWER_MAX_KW, &p.kw)) {
        return ERROR_INVALID;
    }
    if (prev && p.ts_ms == prev->ts_ms) {
        return rp_bad(c, C_TIME, "duplicates the time of line %d: each time once", prev->line);
    }
    if (prev && p.ts_ms < prev->ts_ms) {
        return rp_bad(c,
                      C_TIME,
                      "is before line %d's %s: rows must be sorted by time",
                      prev->line,
                      rp_iso(prev->ts_ms, t));
    }
    if (prev && p.ts_ms - prev->ts_ms > REPLAY_GAP_MAX_MIN * RP_MIN_MS) {
        return rp_bad(c,
                      C_TIME,
                      "is %lld minutes after line %d's %s: gaps must be at most %d minutes",
                      (long long)((p.ts_ms - prev->ts_ms) / RP_MIN_MS),
                      prev->line,
                      rp_iso(prev->ts_ms, t),
                      REPLAY_GAP_MAX_MIN);
    }
    s->pts = alloc_resize(s->pts, (size_t)s->n + 1, sizeof(*s->pts));
    s->pts[s->n++] = p;
    return ERROR_OK;
}

static int rp_session_times(struct rp_ctx *c, struct demand_ev *ev)
{
    char t[32];

    if (rp_time(c, S_ARRIVAL, &ev->arrival_ms) || rp_time(c, S_DEPARTURE, &ev->departure_ms)) {
        return ERROR_INVALID;
    }
    rp_iso(ev->arrival_ms, t);
    if (ev->departure_ms <= ev->arrival_ms) {
        return rp_bad(c, S_DEPARTURE, "must be after arrival %s", t);
    }
    ev->declared_departure_ms = ev->departure_ms;
    if (*rp_field(c, S_DECLARED) && rp_time(c, S_DECLARED, &ev->declared_departure_ms)) {
        return ERROR_INVALID;
    }
    if (ev->declared_departure_ms <= ev->arrival_ms) {
        return rp_bad(c, S_DECLARED, "must be after arrival %s", t);
    }
    return ERROR_OK;
}

static int rp_session_row(struct rp_ctx *c)
{
    /* trace_source_names has no NULL at its end */
    const char *const sources[] = {trace_source_names[0],
                                   trace_source_names[1],
                                   trace_source_names[2],
                                   trace_source_names[3],
                                   NULL};
    struct replay *rp = c->rp;
    struct rp_session s;
    int source = TRACE_SOURCE_THROUGH;
    double max_kw = 0.0;
    const char *conn = rp_field(c, S_CONNECTOR);

    memset(&s, 0, sizeof(s));
    s.line = c->line;
    if (rp_id(c, S_ID, s.ev.id, sizeof(s.ev.id)) || rp_session_times(c, &s.ev) ||
        rp_number(c, S_ENERGY, 0.0, 0, SCENARIO_ENERGY_MAX_KWH, &s.energy_kwh) ||
        rp_number(c, S_MAX_KW, 0.0, 1, SCENARIO_POWER_MAX_KW, &max_kw) ||
        (*rp_field(c, S_SOURCE) && rp_enum(c, S_SOURCE, sources, &source))) {
        return ERROR_INVALID;
    }
    if (strcmp(conn, "dc") == 0 || strcmp(conn, "ac") == 0) {
        s.ev.wants_dc = conn[0] == 'd';
    } else if (rp_id(c, S_CONNECTOR, s.connector, sizeof(s.connector))) {
        return ERROR_INVALID;
    }
    s.ev.source = (enum trace_source)source;
    s.ev.max_dc_kw = max_kw;
    s.ev.max_ac_kw = max_kw;
    rp->sessions = alloc_resize(rp->sessions, (size_t)rp->n_sessions + 1, sizeof(*rp->sessions));
    rp->sessions[rp->n_sessions++] = s;
    return ERROR_OK;
}

static int rp_dr_row(struct rp_ctx *c)
{
    struct replay *rp = c->rp;
    struct controller_dr d;
    int type = 0;

    memset(&d, 0, sizeof(d));
    if (rp_id(c, D_ID, d.id, sizeof(d.id)) || rp_enum(c, D_TYPE, rp_dr_types, &type) ||
        rp_time(c, D_NOTICE, &d.notice_ms) || rp_time(c, D_START, &d.start_ms) ||
        rp_time(c, D_END, &d.end_ms) ||
        rp_number(c, D_LIMIT, 0.0, 0, SCENARIO_POWER_MAX_KW, &d.limit_kw)) {
        return ERROR_INVALID;
    }
    d.type = (enum scenario_dr_type)type;
    rp->dr = alloc_resize(rp->dr, (size_t)rp->n_dr + 1, sizeof(*rp->dr));
    rp->dr_lines = alloc_resize(rp->dr_lines, (size_t)rp->n_dr + 1, sizeof(*rp->dr_lines));
    rp->dr_lines[rp->n_dr] = c->line;
    rp->dr[rp->n_dr++] = d;
    return ERROR_OK;
}

/* ---- whole-file rules ---------------------------------------------------------------- */

static int rp_line_order(int a, int b)
{
    return (a > b) - (a < b);
}

static int rp_cmp_session_id(const void *a, const void *b)
{
    const struct rp_session *x = *(const struct rp_session *const *)a;
    const struct rp_session *y = *(const struct rp_session *const *)b;
    int d = strcmp(x->ev.id, y->ev.id);

    return d ? d : rp_line_order(x->line, y->line);
}

/* By connector, then arrival, then line: overlaps on a connector sit side by side. */
static int rp_cmp_session_conn(const void *a, const void *b)
{
    const struct rp_session *x = *(const struct rp_session *const *)a;
    const struct rp_session *y = *(const struct rp_session *const *)b;
    int d = strcmp(x->connector, y->connector);

    if (d == 0 && x->ev.arrival_ms != y->ev.arrival_ms) {
        d = x->ev.arrival_ms < y->ev.arrival_ms ? -1 : 1;
    }
    return d ? d : rp_line_order(x->line, y->line);
}

static int rp_sessions_done(struct rp_ctx *c)
{
    struct replay *rp = c->rp;
    const struct rp_session **by = alloc_array((size_t)rp->n_sessions, sizeof(*by));
    char t[32], arrival[32];
    int rc = ERROR_OK;

    for (int i = 0; i < rp->n_sessions; i++) {
        by[i] = &rp->sessions[i];
    }
    qsort(by, (size_t)rp->n_sessions, sizeof(*by), rp_cmp_session_id);
    for (int i = 1; i < rp->n_sessions && !rc; i++) {
        if (strcmp(by[i - 1]->ev.id, by[i]->ev.id) == 0) {
            rc = rp_fail_at(c,
                            by[i]->line,
                            S_ID,
                            by[i]->ev.id,
                            "duplicates the id of line %d: ids must be unique",
                            by[i - 1]->line);
        }
    }
    qsort(by, (size_t)rp->n_sessions, sizeof(*by), rp_cmp_session_conn);
    for (int i = 1; i < rp->n_sessions && !rc; i++) {
        const struct rp_session *p = by[i - 1];
        const struct rp_session *s = by[i];

        if (s->connector[0] && strcmp(p->connector, s->connector) == 0 &&
            s->ev.arrival_ms < p->ev.departure_ms) {
            rc = rp_fail_at(c,
                            s->line,
                            S_ARRIVAL,
                            rp_iso(s->ev.arrival_ms, arrival),
                            "connector %s is still taken by session %s (line %d) until %s",
                            s->connector,
                            p->ev.id,
                            p->line,
                            rp_iso(p->ev.departure_ms, t));
        }
    }
    free(by);
    return rc;
}

static int rp_dr_done(struct rp_ctx *c)
{
    const struct replay *rp = c->rp;
    const char *cols[] = {"id", "type", "notice", "start", "end", "limit_kw"};
    struct simconf_dr_fault f;
    char value[64];
    int col = D_ID;

    if (!simconf_dr_check(rp->dr, rp->n_dr, &f)) {
        return ERROR_OK;
    }
    for (int k = 0; k < 6; k++) {
        col = strcmp(cols[k], f.field) == 0 ? k : col;
    }
    simconf_dr_value(&rp->dr[f.index], f.field, value, sizeof(value));
    if (f.other >= 0) {
        return rp_fail_at(c,
                          rp->dr_lines[f.index],
                          col,
                          value,
                          "%s %s (line %d)",
                          f.rule,
                          rp->dr[f.other].id,
                          rp->dr_lines[f.other]);
    }
    return rp_fail_at(c, rp->dr_lines[f.index], col, value, "%s", f.rule);
}

static int rp_done(struct rp_ctx *c)
{
    int n = c->f <= REPLAY_BASE_LOAD ? c->rp->series[c->f].n : 0;

    if (c->f == REPLAY_SESSIONS) {
        return rp_sessions_done(c);
    }
    if (c->f == REPLAY_DR_EVENTS) {
        return rp_dr_done(c);
    }
    if (n < 2) {
        return error_setf(c->ed,
                          ERROR_INVALID,
                          "%d data rows: a series needs at least 2 (the last row lasts as long "
                          "as the one before it)",
                          n);
    }
    return ERROR_OK;
}

/* ---- lines and header ---------------------------------------------------------------- */

/* Split line [p, e) into c->fld, each field trimmed of blanks. */
static int rp_split(struct rp_ctx *c, const char *p, const char *e)
{
    for (c->n = 0;; c->n++) {
        const char *q = memchr(p, ',', (size_t)(e - p));
        size_t len;

        q = q ? q : e;
        while (p < q && (*p == ' ' || *p == '\t')) {
            p++;
        }
        for (len = (size_t)(q - p); len && (p[len - 1] == ' ' || p[len - 1] == '\t'); len--) {
        }
        if (c->n == RP_COLS_MAX || len >= RP_FIELD_MAX) {
            return error_setf(c->ed,
                              ERROR_INVALID,
                              "line %d, column %d: a line holds at most %d fields of %d bytes",
                              c->line,
                              c->n + 1,
                              RP_COLS_MAX,
                              RP_FIELD_MAX - 1);
        }
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f || p[i] == '"') {
                return error_setf(c->ed,
                                  ERROR_INVALID,
                                  "line %d, column %d: %s: not allowed (fields are not quoted)",
                                  c->line,
                                  c->n + 1,
                                  p[i] == '"' ? "a quote" : "a control character");
            }
        }
        memcpy(c->fld[c->n], p, len);
        c->fld[c->n][len] = '\0';
        if (q == e) {
            c->n++;
            return ERROR_OK;
        }
        p = q + 1;
    }
}

/* The column names, the table's order, into map; every required one present. */
static int rp_header(struct rp_ctx *c)
{
    char known[128] = "";
    char shown[64];
    size_t o = 0;
    int k;

    for (k = 0; c->cols[k].name; k++) {
        int w = snprintf(known + o, sizeof(known) - o, "%s%s", k ? ", " : "", c->cols[k].name);

        o += w > 0 && (size_t)w < sizeof(known) - o ? (size_t)w : 0;
        c->map[k] = -1;
    }
    c->n_fields = c->n;
    for (int i = 0; i < c->n; i++) {
        rp_quote(c->fld[i], shown, sizeof(shown));
        for (k = 0; c->cols[k].name && strcmp(c->cols[k].name, c->fld[i]) != 0; k++) {
        }
        if (c->cols[k].name && c->map[k] >= 0) {
            return error_setf(c->ed,
                              ERROR_INVALID,
                              "line %d, column %d: %s: duplicates column %d",
                              c->line,
                              i + 1,
                              shown,
                              c->map[k] + 1);
        }
        if (c->cols[k].name) {
            c->map[k] = i;
            continue;
        }
        for (k = 0; c->cols[k].name && strcasecmp(c->cols[k].name, c->fld[i]) != 0; k++) {
        }
        return error_setf(c->ed,
                          ERROR_INVALID,
                          "line %d, column %d: %s: unknown column (%s%s%s: %s)",
                          c->line,
                          i + 1,
                          shown,
                          c->cols[k].name ? "did you mean " : "",
                          c->cols[k].name ? c->cols[k].name : "",
                          c->cols[k].name ? "? names are lower case; columns" : "columns",
                          known);
    }
    memcpy(c->rp->maps[c->f], c->map, sizeof(c->map));
    for (k = 0; c->cols[k].name; k++) {
        if (c->cols[k].required && c->map[k] < 0) {
            return error_setf(c->ed,
                              ERROR_INVALID,
                              "line %d: column \"%s\" missing: the header names %s (optional "
                              "ones may be left out)",
                              c->line,
                              c->cols[k].name,
                              known);
        }
    }
    return ERROR_OK;
}

static int rp_line(struct rp_ctx *c, int *have_header)
{
    static int (*const rows[REPLAY_FILES])(
        struct rp_ctx *) = {rp_series_row, rp_series_row, rp_session_row, rp_dr_row};

    if (!*have_header) {
        *have_header = 1;
        return rp_header(c);
    }
    if (c->n != c->n_fields) {
        return error_setf(c->ed,
                          ERROR_INVALID,
                          "line %d: %d fields: must have %d, as the header",
                          c->line,
                          c->n,
                          c->n_fields);
    }
    return rows[c->f](c);
}

static int rp_lines(struct rp_ctx *c, const char *text, size_t len)
{
    const char *p = text;
    const char *end = text + len;
    int have_header = 0;
    int rc = ERROR_OK;

    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3; /* a UTF-8 byte order mark, as spreadsheets write */
    }
    while (p < end && !rc) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        const char *next = e ? e + 1 : end;
        const char *s = p;

        e = e ? e : end;
        e = e > p && e[-1] == '\r' ? e - 1 : e;
        c->line++;
        while (s < e && (*s == ' ' || *s == '\t')) {
            s++;
        }
        if (s < e && *s != '#') {
            rc = rp_split(c, p, e);
            rc = rc ? rc : rp_line(c, &have_header);
        }
        p = next;
    }
    if (!rc && !have_header) {
        rc = error_setf(c->ed, ERROR_INVALID, "no header line: the first line names the columns");
    }
    return rc ? rc : rp_done(c);
}

static void rp_clear(struct replay *rp, enum replay_file f)
{
    if (f == REPLAY_PV || f == REPLAY_BASE_LOAD) {
        free(rp->series[f].pts);
        memset(&rp->series[f], 0, sizeof(rp->series[f]));
    } else if (f == REPLAY_SESSIONS) {
        free(rp->sessions);
        rp->sessions = NULL;
        rp->n_sessions = 0;
    } else {
        free(rp->dr);
        free(rp->dr_lines);
        rp->dr = NULL;
        rp->dr_lines = NULL;
        rp->n_dr = 0;
    }
}

/* ---- public: reading ----------------------------------------------------------------- */

struct replay *replay_new(void)
{
    return ALLOC_NEW(struct replay);
}

void replay_free(struct replay *rp)
{
    if (!rp) {
        return;
    }
    for (int f = 0; f < REPLAY_FILES; f++) {
        rp_clear(rp, (enum replay_file)f);
    }
    free(rp);
}

int replay_parse(struct replay *rp,
                 enum replay_file f,
                 const char *text,
                 size_t len,
                 const char *name,
                 struct error_detail *ed)
{
    const char *nul = len <= REPLAY_FILE_MAX_BYTES ? memchr(text, '\0', len) : NULL;
    struct rp_ctx *c;
    int rc = ERROR_OK;
    int line = 1;

    if ((int)f < 0 || (int)f >= REPLAY_FILES) {
        return error_setf(ed, ERROR_INVALID, "replay file %d: no such file kind", (int)f);
    }
    rp_clear(rp, f);
    snprintf(rp->names[f], sizeof(rp->names[f]), "%s", name ? name : replay_file_names[f]);
    for (const char *p = text; nul && p < nul; p++) {
        line += *p == '\n';
    }
    if (len > REPLAY_FILE_MAX_BYTES) {
        rc = error_setf(ed,
                        ERROR_RANGE,
                        "%zu bytes: a replay file must be at most %zu bytes",
                        len,
                        REPLAY_FILE_MAX_BYTES);
    } else if (nul) {
        rc = error_setf(ed, ERROR_INVALID, "line %d: NUL byte: a CSV file is text", line);
    } else {
        c = ALLOC_NEW(struct rp_ctx);
        c->rp = rp;
        c->f = f;
        c->cols = rp_cols[f];
        c->ed = ed;
        rc = rp_lines(c, text, len);
        free(c);
    }
    if (rc) {
        rp_clear(rp, f);
        error_prefix(ed, name);
    }
    return rc;
}

int replay_count(const struct replay *rp, enum replay_file f)
{
    switch (f) {
    case REPLAY_PV:
    case REPLAY_BASE_LOAD:
        return rp->series[f].n;
    case REPLAY_SESSIONS:
        return rp->n_sessions;
    case REPLAY_DR_EVENTS:
        return rp->n_dr;
    }
    return 0;
}

/* Which of the four files DIR holds; an unknown *.csv is an error. */
static int rp_scan(const char *dir, int found[REPLAY_FILES], struct error_detail *ed)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = ERROR_OK;

    if (!d) {
        return error_setf(ed, ERROR_IO, "%s: cannot open the replay directory", dir);
    }
    for (de = readdir(d); de && !rc; de = readdir(d)) {
        size_t len = strlen(de->d_name);
        int k = 0;

        while (replay_file_names[k] && strcmp(de->d_name, replay_file_names[k]) != 0) {
            k++;
        }
        if (replay_file_names[k]) {
            found[k] = 1;
        } else if (len >= 4 && strcmp(de->d_name + len - 4, ".csv") == 0) {
            rc = error_setf(ed,
                            ERROR_INVALID,
                            "%s/%.100s: unknown file: a replay directory holds pv.csv, "
                            "base_load.csv, sessions.csv and dr_events.csv",
                            dir,
                            de->d_name);
        }
    }
    closedir(d);
    for (int f = REPLAY_PV; f <= REPLAY_BASE_LOAD && !rc; f++) {
        if (!found[f]) {
            rc = error_setf(ed,
                            ERROR_INVALID,
                            "%s/%s: missing: a replay needs pv.csv and base_load.csv",
                            dir,
                            replay_file_names[f]);
        }
    }
    return rc;
}

int replay_load(const char *dir, struct replay **out, struct error_detail *ed)
{
    struct replay *rp = NULL;
    int found[REPLAY_FILES] = {0};
    int rc = rp_scan(dir, found, ed);

    *out = NULL;
    rp = rc ? NULL : replay_new();
    for (int f = 0; f < REPLAY_FILES && !rc; f++) {
        char *path = found[f] ? alloc_printf("%s/%s", dir, replay_file_names[f]) : NULL;
        char *text = NULL;
        size_t len = 0;

        if (path) {
            rc = fileio_read_all(path, REPLAY_FILE_MAX_BYTES, &text, &len, ed);
            rc = rc ? rc : replay_parse(rp, (enum replay_file)f, text, len, path, ed);
        }
        free(text);
        free(path);
    }
    if (rc) {
        replay_free(rp);
        rp = NULL;
    }
    *out = rp;
    return rc;
}

/* ---- the world ----------------------------------------------------------------------- */

/* The end of what a series covers: its last row lasts as long as the one before. */
static int64_t rp_end(const struct rp_series *s)
{
    return 2 * s->pts[s->n - 1].ts_ms - s->pts[s->n - 2].ts_ms;
}

static int64_t rp_midnight_ceil(int64_t ts)
{
    int64_t r = (ts + CLOCK_LOCAL_OFFSET_MS) % CLOCK_DAY_MS;

    r = r < 0 ? r + CLOCK_DAY_MS : r;
    return r ? ts - r + CLOCK_DAY_MS : ts;
}

static int rp_have_series(const struct replay *rp, struct error_detail *ed)
{
    if (rp->series[REPLAY_PV].n < 2 || rp->series[REPLAY_BASE_LOAD].n < 2) {
        return error_setf(ed, ERROR_INVALID, "replay: pv.csv and base_load.csv must be read first");
    }
    return ERROR_OK;
}

int replay_range(const struct replay *rp, int64_t *start_ms, int *days, struct error_detail *ed)
{
    const struct rp_series *pv = &rp->series[REPLAY_PV];
    const struct rp_series *base = &rp->series[REPLAY_BASE_LOAD];
    char t[4][32];
    int64_t s, e, d;
    int rc = rp_have_series(rp, ed);

    if (rc) {
        return rc;
    }
    s = rp_midnight_ceil(pv->pts[0].ts_ms);
    s = rp_midnight_ceil(base->pts[0].ts_ms) > s ? rp_midnight_ceil(base->pts[0].ts_ms) : s;
    e = rp_end(pv) < rp_end(base) ? rp_end(pv) : rp_end(base);
    d = e > s ? (e - s) / CLOCK_DAY_MS : 0;
    if (d < 1) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "%s covers %s to %s and %s %s to %s: they share no whole local day "
                          "(00:00 to 24:00 +08:00)",
                          rp->names[REPLAY_PV],
                          rp_iso(pv->pts[0].ts_ms, t[0]),
                          rp_iso(rp_end(pv), t[1]),
                          rp->names[REPLAY_BASE_LOAD],
                          rp_iso(base->pts[0].ts_ms, t[2]),
                          rp_iso(rp_end(base), t[3]));
    }
    *start_ms = s;
    *days = d > 3660 ? 3660 : (int)d;
    return ERROR_OK;
}

/* Step k is the mean of the held rows over [a, a + dt); steps the data does
 * not cover (only the look-ahead pad, the run is checked) repeat the day before. */
static void
rp_resample(const struct rp_series *s, int64_t t0, int64_t dt, int total, int day, double *out)
{
    int64_t end = rp_end(s);
    int i = 0;

    for (int k = 0; k < total; k++) {
        int64_t a = t0 + k * dt;
        int64_t b = a + dt;
        double sum = 0.0;

        if (a < s->pts[0].ts_ms || b > end) {
            out[k] = k >= day ? out[k - day] : 0.0;
            continue;
        }
        while (i + 1 < s->n && s->pts[i + 1].ts_ms <= a) {
            i++;
        }
        for (int j = i; j < s->n && s->pts[j].ts_ms < b; j++) {
            int64_t lo = s->pts[j].ts_ms > a ? s->pts[j].ts_ms : a;
            int64_t hi = j + 1 < s->n && s->pts[j + 1].ts_ms < b ? s->pts[j + 1].ts_ms : b;

            sum += (double)(hi - lo) * s->pts[j].kw;
        }
        /* one row holding the whole step gives its value exactly */
        out[k] = i + 1 == s->n || s->pts[i + 1].ts_ms >= b ? s->pts[i].kw : sum / (double)dt;
    }
}

static int
rp_covers(const struct replay *rp, int f, int64_t t0, int64_t t1, struct error_detail *ed)
{
    const struct rp_series *s = &rp->series[f];
    char t[4][32];

    if (s->pts[0].ts_ms <= t0 && rp_end(s) >= t1) {
        return ERROR_OK;
    }
    return error_setf(ed,
                      ERROR_INVALID,
                      "%s: covers %s to %s: the run needs %s to %s (choose --start and --days "
                      "inside the data)",
                      rp->names[f],
                      rp_iso(s->pts[0].ts_ms, t[0]),
                      rp_iso(rp_end(s), t[1]),
                      rp_iso(t0, t[2]),
                      rp_iso(t1, t[3]));
}

/* The flat index of connector id in st (its kind in *is_dc), or -1. */
static int rp_connector_index(const struct station *st, const char *id, int *is_dc)
{
    for (int k = 0; k < station_connector_count(st); k++) {
        int c;

        if (strcmp(planner_connector(st, k, &c)->id, id) == 0) {
            *is_dc = st->chargers[c].type == STATION_CHARGER_DC;
            return k;
        }
    }
    return -1;
}

static int rp_cmp_arrival(const void *a, const void *b)
{
    const struct rp_session *x = *(const struct rp_session *const *)a;
    const struct rp_session *y = *(const struct rp_session *const *)b;

    if (x->ev.arrival_ms != y->ev.arrival_ms) {
        return x->ev.arrival_ms < y->ev.arrival_ms ? -1 : 1;
    }
    return rp_line_order(x->line, y->line);
}

/* The sessions arriving in [t0, t1), by arrival, on st's connectors. */
static int rp_cars(const struct replay *rp,
                   const struct station *st,
                   int64_t t0,
                   int64_t t1,
                   struct world_given_car **out,
                   int *n,
                   struct error_detail *ed)
{
    const struct rp_session **by = alloc_array((size_t)rp->n_sessions, sizeof(*by));
    struct world_given_car *cars = alloc_array((size_t)rp->n_sessions, sizeof(*cars));
    struct rp_ctx c;
    int rc = ERROR_OK;
    int m = 0;

    for (int i = 0; i < rp->n_sessions; i++) {
        if (rp->sessions[i].ev.arrival_ms >= t0 && rp->sessions[i].ev.arrival_ms < t1) {
            by[m++] = &rp->sessions[i];
        }
    }
    qsort(by, (size_t)m, sizeof(*by), rp_cmp_arrival);
    memset(&c, 0, sizeof(c));
    memcpy(c.map, rp->maps[REPLAY_SESSIONS], sizeof(c.map));
    c.cols = rp_cols_sessions;
    c.ed = ed;
    for (int i = 0; i < m && !rc; i++) {
        cars[i].ev = by[i]->ev;
        cars[i].wanted_kwh = by[i]->energy_kwh;
        cars[i].connector = -1;
        if (by[i]->connector[0]) {
            cars[i].connector = rp_connector_index(st, by[i]->connector, &cars[i].ev.wants_dc);
        }
        if (by[i]->connector[0] && cars[i].connector < 0) {
            rc = rp_fail_at(&c,
                            by[i]->line,
                            S_CONNECTOR,
                            by[i]->connector,
                            "station %s has no such connector (give a connector id, or dc or ac)",
                            st->id);
            error_prefix(ed, rp->names[REPLAY_SESSIONS]);
        }
    }
    free(by);
    *out = cars;
    *n = m;
    return rc;
}

int replay_world(const struct replay *rp,
                 const struct station *st,
                 const struct world_options *opt,
                 struct world **out,
                 struct error_detail *ed)
{
    struct world_options wo = *opt;
    struct world_given g;
    struct world_given_car *cars = NULL;
    int64_t dt = (int64_t)opt->step_minutes * RP_MIN_MS;
    int64_t run_end = opt->start_ms + (int64_t)opt->days * CLOCK_DAY_MS;
    int rc = rp_have_series(rp, ed);
    int day, total;

    *out = NULL;
    memset(&g, 0, sizeof(g));
    if (!rc &&
        (opt->step_minutes < 1 || opt->step_minutes > 60 || 1440 % opt->step_minutes ||
         opt->days < 1 || opt->days > 3660 || opt->pad_steps < 0 || opt->pad_steps > 3660 * 1440)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "replay: step_minutes %d, days %d, pad_steps %d: step_minutes must "
                        "divide a day, days be in [1, 3660], pad_steps >= 0",
                        opt->step_minutes,
                        opt->days,
                        opt->pad_steps);
    }
    if (rc) {
        return rc;
    }
    day = 1440 / opt->step_minutes;
    total = opt->days * day + opt->pad_steps;
    rc = rp_covers(rp, REPLAY_PV, opt->start_ms, run_end, ed);
    rc = rc ? rc : rp_covers(rp, REPLAY_BASE_LOAD, opt->start_ms, run_end, ed);
    rc = rc ? rc : rp_cars(rp, st, opt->start_ms, opt->start_ms + total * dt, &cars, &g.n_cars, ed);
    if (!rc) {
        double *pv = alloc_array((size_t)total, sizeof(double));
        double *base = alloc_array((size_t)total, sizeof(double));

        rp_resample(&rp->series[REPLAY_PV], opt->start_ms, dt, total, day, pv);
        rp_resample(&rp->series[REPLAY_BASE_LOAD], opt->start_ms, dt, total, day, base);
        g.pv_kw = pv;
        g.base_kw = base;
        g.cars = cars;
        g.n_dr = rp->n_dr;
        g.dr = rp->dr;
        wo.dr_generate = 0; /* recorded days bring their own events */
        rc = world_build_given(st, &wo, &g, out, ed);
        free(pv);
        free(base);
    }
    free(cars);
    return rc;
}
