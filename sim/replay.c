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
 * This file holds the object, the file and directory loaders and the
 * world; the CSV reader is in replay_csv.c, what the two share in
 * replay_internal.h.
 *
 * Pure functions apart from replay_load()'s reads; single thread.
 */
#include "replay.h"
#include "replay_internal.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/fileio.h"
#include "../engine/planner.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const replay_file_names[REPLAY_FILES + 1] = {"pv.csv",
                                                         "base_load.csv",
                                                         "sessions.csv",
                                                         "dr_events.csv",
                                                         NULL};

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
