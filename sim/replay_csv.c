/* SPDX-License-Identifier: MIT */
/*
 * replay_csv.c - the CSV reader of replay.c (replay.h): the column tables
 * of pv.csv, base_load.csv, sessions.csv and dr_events.csv, the line
 * splitter and header map, the field parsers (time, number, id, enum),
 * one row parser per file and the rules across rows checked right after
 * each file (sorted times, unique ids, one car per connector at a time).
 * Every message names the line, the column and the value; replay.c adds
 * the file name.
 *
 * Pure functions; single thread.
 */
#include "replay_internal.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/numparse.h"
#include "simconf.h"

#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct rp_col rp_cols_pv[] = {{"time", 1}, {"pv_kw", 1}, {NULL, 0}};
static const struct rp_col rp_cols_base[] = {{"time", 1}, {"base_kw", 1}, {NULL, 0}};
const struct rp_col rp_cols_sessions[] = {{"id", 1},
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
const struct rp_col *const rp_cols[REPLAY_FILES] = {rp_cols_pv,
                                                    rp_cols_base,
                                                    rp_cols_sessions,
                                                    rp_cols_dr};

static const char *const rp_dr_types[] = {"import_cap", "import_floor", NULL};

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
int rp_fail_at(const struct rp_ctx *c, int line, int col, const char *value, const char *fmt, ...)
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

const char *rp_iso(int64_t ts, char buf[32])
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

int rp_line_order(int a, int b)
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

int rp_lines(struct rp_ctx *c, const char *text, size_t len)
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
