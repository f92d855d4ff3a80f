/* SPDX-License-Identifier: MIT */
/*
 * test_replay.c - recorded data as a world: the example directory
 * (config/sim/replay-example) read back value for value at 15-minute steps,
 * averaged at 60 and held at 5; sessions on their connectors, the one that
 * arrived the evening before left out; the look-ahead pad; every rule a CSV
 * file can break, each message naming the line, the column, the value and
 * the rule; the directory's rules (missing and unknown files); and all four
 * strategies run on the replayed day, with the
 * replayed PV and base load found in the trace rows. Also `flexd sim
 * --replay` end to end.
 */
#include "check.h"

#include "../../common/alloc.h"
#include "../../common/clock.h"
#include "../../common/fileio.h"
#include "../../config/builtin.h"
#include "../../engine/planner.h"
#include "../../sim/replay.h"
#include "../../sim/run.h"
#include "../../sim/simcmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXAMPLE FLEXD_SOURCE_DIR "/config/sim/replay-example"
#define MIN_MS  60000LL

static int64_t t_local(int y, int mo, int d, int h, int mi)
{
    return clock_from_local(y, mo, d, h, mi, 0);
}

/* The example's pv.csv values, in order (96 rows from 00:00). */
static int example_series(const char *file, double *v, int max)
{
    char *path = alloc_printf("%s/%s", EXAMPLE, file);
    char *text = NULL;
    size_t len = 0;
    struct error_detail ed = {{0}};
    int n = 0;

    CHECK(fileio_read_all(path, 1 << 20, &text, &len, &ed) == ERROR_OK);
    for (char *p = text; p && *p && n < max;) {
        char *e = strchr(p, '\n');
        char *comma = strchr(p, ',');

        if (e) {
            *e = '\0';
        }
        if (p[0] == '2' && comma) {
            v[n++] = strtod(comma + 1, NULL);
        }
        p = e ? e + 1 : NULL;
    }
    free(text);
    free(path);
    return n;
}

static struct world *example_world(const struct replay *rp,
                                   const struct station *st,
                                   int step_minutes,
                                   struct error_detail *ed)
{
    struct world_options wo;
    struct world *w = NULL;

    world_options_default(&wo);
    demand_params_from_station(&wo.demand, st);
    wo.start_ms = t_local(2025, 8, 9, 0, 0);
    wo.days = 1;
    wo.step_minutes = step_minutes;
    wo.pad_steps = 2 * 1440 / step_minutes;
    if (replay_world(rp, st, &wo, &w, ed)) {
        fprintf(stderr, "replay_world: %s\n", ed->text);
    }
    return w;
}

static const struct world_car *find_car(const struct world *w, const char *id)
{
    for (int i = 0; i < w->n_cars; i++) {
        if (strcmp(w->cars[i].ev.id, id) == 0) {
            return &w->cars[i];
        }
    }
    return NULL;
}

static void test_example(const struct station *st)
{
    struct error_detail ed = {{0}};
    struct replay *rp = NULL;
    struct world *w;
    double pv[96], base[24];
    int64_t start = 0;
    int days = 0;
    int ok = 1;

    CHECK(example_series("pv.csv", pv, 96) == 96);
    CHECK(example_series("base_load.csv", base, 24) == 24);
    CHECK(replay_load(EXAMPLE, &rp, &ed) == ERROR_OK);
    if (!rp) {
        fprintf(stderr, "replay_load: %s\n", ed.text);
        return;
    }
    CHECK(replay_count(rp, REPLAY_PV) == 96);
    CHECK(replay_count(rp, REPLAY_BASE_LOAD) == 24);
    CHECK(replay_count(rp, REPLAY_SESSIONS) == 15);
    CHECK(replay_count(rp, REPLAY_DR_EVENTS) == 1);
    CHECK(replay_range(rp, &start, &days, &ed) == ERROR_OK);
    CHECK(start == t_local(2025, 8, 9, 0, 0) && days == 1);

    /* 15 minutes: the rows exactly; hourly base load held over 4 steps */
    w = example_world(rp, st, 15, &ed);
    CHECK(w && w->steps == 96 && w->total == 96 * 3);
    for (int k = 0; w && k < 96; k++) {
        ok &= w->pv_true_kw[k] == pv[k] && w->base_true_kw[k] == base[k / 4];
    }
    CHECK(ok);
    /* the pad beyond the data repeats the day before */
    for (int k = 96; w && k < w->total; k++) {
        ok &= w->pv_true_kw[k] == w->pv_true_kw[k - 96] && w->base_true_kw[k] == base[(k % 96) / 4];
    }
    CHECK(ok);
    if (w) {
        const struct world_car *c06 = find_car(w, "s0809-06");
        const struct world_car *c02 = find_car(w, "s0809-02");
        int dc2a = -1;

        CHECK(w->n_cars == 14); /* s0809-01 arrived the day before */
        CHECK(find_car(w, "s0809-01") == NULL);
        for (int i = 1; i < w->n_cars; i++) { /* by arrival */
            ok &= w->cars[i - 1].ev.arrival_ms <= w->cars[i].ev.arrival_ms;
        }
        CHECK(ok);
        for (int k = 0; k < station_connector_count(st); k++) {
            dc2a = strcmp(planner_connector(st, k, NULL)->id, "DC2-A") == 0 ? k : dc2a;
        }
        /* bound to DC2-A although a "dc" car arrived before it */
        CHECK(c06 && c06->connector == dc2a && c06->ev.wants_dc == 1);
        CHECK(c06 && c06->plug_step == 41 && c06->max_kw == 90.0 && c06->wanted_kwh == 38.6);
        CHECK(c02 && c02->ev.declared_departure_ms == c02->ev.departure_ms);
        CHECK(c02 && c02->ev.source == TRACE_SOURCE_NIGHT && c02->ev.wants_dc == 0);
        for (int i = 0; i < w->n_cars; i++) {
            ok &= w->cars[i].connector >= 0; /* the day has room for every car */
        }
        CHECK(ok);
        CHECK(w->n_dr == 1 && strcmp(w->dr[0].id, "mengxi-20250809-peak-shave") == 0);
        CHECK(w->dr[0].start_ms == t_local(2025, 8, 9, 18, 0) &&
              w->dr[0].notice_ms == t_local(2025, 8, 8, 17, 0) && w->dr[0].limit_kw == 100.0);
    }
    world_free(w);

    /* 60 minutes: the mean of four rows; 5 minutes: rows held */
    w = example_world(rp, st, 60, &ed);
    for (int k = 0; w && k < 24; k++) {
        double mean = (pv[4 * k] + pv[4 * k + 1] + pv[4 * k + 2] + pv[4 * k + 3]) / 4.0;

        ok &= fabs(w->pv_true_kw[k] - mean) < 1e-9 && w->base_true_kw[k] == base[k];
    }
    CHECK(w && ok);
    world_free(w);
    w = example_world(rp, st, 5, &ed);
    for (int k = 0; w && k < 288; k++) {
        ok &= w->pv_true_kw[k] == pv[k / 3] && w->base_true_kw[k] == base[k / 12];
    }
    CHECK(w && ok);
    world_free(w);
    replay_free(rp);
}

/* ---- bad input ----------------------------------------------------------------------- */

static const char *const PV_HEAD = "time,pv_kw\n";

/* text as file f must fail with every needle in the message. */
static void
bad(enum replay_file f, const char *text, const char *n1, const char *n2, const char *n3)
{
    struct replay *rp = replay_new();
    struct error_detail ed = {{0}};
    int rc = replay_parse(rp, f, text, strlen(text), replay_file_names[f], &ed);

    CHECK(rc == ERROR_INVALID);
    CHECK(replay_count(rp, f) == 0);
    CHECK_STR_CONTAINS(ed.text, replay_file_names[f]);
    CHECK_STR_CONTAINS(ed.text, n1);
    if (n2) {
        CHECK_STR_CONTAINS(ed.text, n2);
    }
    if (n3) {
        CHECK_STR_CONTAINS(ed.text, n3);
    }
    replay_free(rp);
}

static char *pv_rows(const char *extra)
{
    return alloc_printf("%s2026-07-18T00:00+08:00,0\n2026-07-18T00:15+08:00,1.5\n%s",
                        PV_HEAD,
                        extra);
}

static void test_series_rules(void)
{
    char *t;

    t = pv_rows("2026-07-18T00:30+08:00,-2\n");
    bad(REPLAY_PV, t, "line 4, column 2 (pv_kw)", "\"-2\"", "must not be negative");
    free(t);
    t = pv_rows("2026-07-18T00:30+08:00,12kW\n");
    bad(REPLAY_PV, t, "line 4, column 2 (pv_kw)", "\"12kW\"", "must be a number");
    free(t);
    t = pv_rows("2026-07-18T00:30+08:00,2e6\n");
    bad(REPLAY_PV, t, "line 4", "\"2e6\"", "must be at most 1e+06");
    free(t);
    t = pv_rows("2026-07-18T00:15+08:00,3\n");
    bad(REPLAY_PV, t, "line 4, column 1 (time)", "duplicates the time of line 3", NULL);
    free(t);
    t = pv_rows("2026-07-18T00:05+08:00,3\n");
    bad(REPLAY_PV, t, "line 4, column 1 (time)", "\"2026-07-18T00:05+08:00\"", "sorted by time");
    free(t);
    t = pv_rows("2026-07-18T01:30+08:00,3\n");
    bad(REPLAY_PV, t, "line 4", "75 minutes after line 3", "at most 60 minutes");
    free(t);
    t = pv_rows("2026-07-18 00:30,3\n");
    bad(REPLAY_PV,
        t,
        "line 4, column 1 (time)",
        "\"2026-07-18 00:30\"",
        "ISO 8601 time with its offset");
    free(t);
    t = pv_rows("2026-07-18T00:30+08:00\n");
    bad(REPLAY_PV, t, "line 4: 1 fields", "must have 2, as the header", NULL);
    free(t);
    t = pv_rows("2026-07-18T00:30+08:00,\"3\"\n");
    bad(REPLAY_PV, t, "line 4, column 2", "quote", NULL);
    free(t);
    bad(REPLAY_PV, "time,pv_kW\n", "line 1, column 2", "\"pv_kW\"", "did you mean pv_kw?");
    bad(REPLAY_PV, "time,pv_kw,pv_kw\n", "line 1, column 3", "duplicates column 2", NULL);
    bad(REPLAY_PV, "# only a comment\ntime\n", "line 2", "column \"pv_kw\" missing", NULL);
    bad(REPLAY_PV, "time,base_kw\n", "line 1, column 2", "unknown column", "time, pv_kw");
    bad(REPLAY_PV, "", "no header line", NULL, NULL);
    bad(REPLAY_PV, "time,pv_kw\n2026-07-18T00:00+08:00,1\n", "1 data rows", "at least 2", NULL);
    bad(REPLAY_PV, "time,pv_kw,a,b,c,d,e,f,g\n", "line 1, column 9", "at most 8 fields", NULL);
    bad(REPLAY_BASE_LOAD,
        "time,base_kw\n2026-07-18T00:00+08:00,1\n2026-07-18T00:60+08:00,1\n",
        "line 3, column 1 (time)",
        "\"2026-07-18T00:60+08:00\"",
        NULL);
    {
        struct replay *rp = replay_new();
        struct error_detail ed = {{0}};
        char nul[] = "time,pv_kw\n2026-07-18T00:00+08:00,1\0\n";

        CHECK(replay_parse(rp, REPLAY_PV, nul, sizeof(nul) - 1, "pv.csv", &ed) == ERROR_INVALID);
        CHECK_STR_CONTAINS(ed.text, "line 2: NUL byte");
        replay_free(rp);
    }
}

static void test_session_rules(void)
{
    const char *h = "id,connector,arrival,departure,energy_kwh,max_kw\n";
    const char *row = "a,DC1-A,2026-07-18T10:00+08:00,2026-07-18T11:00+08:00,20,60\n";
    char *t;

    t = alloc_printf("%sb,dc,2026-07-18T12:00+08:00,2026-07-18T11:00+08:00,20,60\n", h);
    bad(REPLAY_SESSIONS,
        t,
        "line 2, column 4 (departure)",
        "\"2026-07-18T11:00+08:00\"",
        "must be after arrival 2026-07-18T12:00:00+08:00");
    free(t);
    t = alloc_printf("%s%sa,ac,2026-07-18T12:00+08:00,2026-07-18T13:00+08:00,5,7\n", h, row);
    bad(REPLAY_SESSIONS, t, "line 3, column 1 (id)", "\"a\"", "duplicates the id of line 2");
    free(t);
    t = alloc_printf("%s%sb,DC1-A,2026-07-18T10:30+08:00,2026-07-18T12:00+08:00,5,60\n", h, row);
    bad(REPLAY_SESSIONS,
        t,
        "line 3, column 3 (arrival)",
        "connector DC1-A is still taken by session a (line 2)",
        NULL);
    free(t);
    t = alloc_printf("%sb,dc,2026-07-18T10:30+08:00,2026-07-18T12:00+08:00,5,0\n", h);
    bad(REPLAY_SESSIONS, t, "line 2, column 6 (max_kw)", "\"0\"", "must be above 0");
    free(t);
    t = alloc_printf("%sb,dc,2026-07-18T10:30+08:00,2026-07-18T12:00+08:00,-5,50\n", h);
    bad(REPLAY_SESSIONS, t, "line 2, column 5 (energy_kwh)", "must not be negative", NULL);
    free(t);
    t = alloc_printf("%s,dc,2026-07-18T10:30+08:00,2026-07-18T12:00+08:00,5,50\n", h);
    bad(REPLAY_SESSIONS, t, "line 2, column 1 (id)", "must not be empty", NULL);
    free(t);
    t = alloc_printf(
        "id,connector,arrival,departure,declared_departure,energy_kwh,max_kw,source\n"
        "b,ac,2026-07-18T10:30+08:00,2026-07-18T12:00+08:00,2026-07-18T10:00+08:00,5,7,"
        "night\n");
    bad(REPLAY_SESSIONS, t, "line 2, column 5 (declared_departure)", "must be after arrival", NULL);
    free(t);
    t = alloc_printf("id,connector,arrival,departure,energy_kwh,max_kw,source\n"
                     "b,ac,2026-07-18T10:30+08:00,2026-07-18T12:00+08:00,5,7,visitor\n");
    bad(REPLAY_SESSIONS,
        t,
        "line 2, column 7 (source)",
        "\"visitor\"",
        "must be one of tourist, through, night, community");
    free(t);
    bad(REPLAY_SESSIONS,
        "id,connector,arrival,energy_kwh,max_kw\n",
        "column \"departure\" missing",
        NULL,
        NULL);
}

static void test_dr_rules(void)
{
    const char *h = "id,type,notice,start,end,limit_kw\n";
    const char *cap = "cap,import_cap,2026-07-17T17:00+08:00,2026-07-18T18:00+08:00,"
                      "2026-07-18T21:00+08:00,120\n";
    char *t;

    t = alloc_printf("%sx,import_limit,2026-07-17T17:00+08:00,2026-07-18T18:00+08:00,"
                     "2026-07-18T21:00+08:00,1\n",
                     h);
    bad(REPLAY_DR_EVENTS,
        t,
        "line 2, column 2 (type)",
        "\"import_limit\"",
        "must be one of import_cap, import_floor");
    free(t);
    t = alloc_printf("%sx,import_cap,2026-07-18T19:00+08:00,2026-07-18T18:00+08:00,"
                     "2026-07-18T21:00+08:00,1\n",
                     h);
    bad(REPLAY_DR_EVENTS,
        t,
        "line 2, column 3 (notice)",
        "\"2026-07-18T19:00:00+08:00\"",
        "must not be after start");
    free(t);
    t = alloc_printf("%sx,import_cap,2026-07-18T09:00+08:00,2026-07-18T18:00+08:00,"
                     "2026-07-18T18:00+08:00,1\n",
                     h);
    bad(REPLAY_DR_EVENTS, t, "line 2, column 5 (end)", "must be after start", NULL);
    free(t);
    t = alloc_printf("%s%s%s", h, cap, cap);
    bad(REPLAY_DR_EVENTS, t, "line 3, column 1 (id)", "duplicates the id of cap (line 2)", NULL);
    free(t);
    t = alloc_printf("%s%sfloor,import_floor,2026-07-17T17:00+08:00,2026-07-18T20:00+08:00,"
                     "2026-07-18T22:00+08:00,50\n",
                     h,
                     cap);
    bad(REPLAY_DR_EVENTS,
        t,
        "line 3, column 4 (start)",
        "this import_floor overlaps the import_cap",
        "cap (line 2)");
    free(t);
    t = alloc_printf("%sx,import_cap,2026-07-18T09:00+08:00,2026-07-18T18:00+08:00,"
                     "2026-07-18T19:00+08:00,-1\n",
                     h);
    bad(REPLAY_DR_EVENTS, t, "line 2, column 6 (limit_kw)", "must not be negative", NULL);
    free(t);
}

/* ---- directories and the world ------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text)
{
    char *path = alloc_printf("%s/%s", dir, name);
    struct error_detail ed = {{0}};

    CHECK(fileio_write_atomic(path, text, strlen(text), &ed) == ERROR_OK);
    free(path);
}

static void copy_example(const char *dir, const char *name)
{
    char *src = alloc_printf("%s/%s", EXAMPLE, name);
    char *text = NULL;
    size_t len = 0;
    struct error_detail ed = {{0}};

    CHECK(fileio_read_all(src, 1 << 20, &text, &len, &ed) == ERROR_OK);
    write_file(dir, name, text ? text : "");
    free(text);
    free(src);
}

static int parse_str(struct replay *rp, enum replay_file f, const char *text)
{
    struct error_detail ed = {{0}};
    int rc = replay_parse(rp, f, text, strlen(text), replay_file_names[f], &ed);

    if (rc) {
        fprintf(stderr, "replay_parse: %s\n", ed.text);
    }
    return rc;
}

static void test_dirs(const struct station *st)
{
    char dir[] = "/tmp/flexd-test-replay-XXXXXX";
    struct error_detail ed = {{0}};
    struct replay *rp = NULL;
    struct world *w = NULL;
    struct world_options wo;
    char *p;

    CHECK(replay_load("/nonexistent/replay", &rp, &ed) == ERROR_IO && rp == NULL);
    CHECK(mkdtemp(dir) != NULL);
    copy_example(dir, "pv.csv");
    CHECK(replay_load(dir, &rp, &ed) == ERROR_INVALID && rp == NULL);
    CHECK_STR_CONTAINS(ed.text, "base_load.csv: missing");
    copy_example(dir, "base_load.csv");
    write_file(dir, "session.csv", "id\n");
    CHECK(replay_load(dir, &rp, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "session.csv: unknown file");
    p = alloc_printf("%s/session.csv", dir);
    unlink(p);
    free(p);
    /* the two series alone replay a day with no cars and no events */
    CHECK(replay_load(dir, &rp, &ed) == ERROR_OK);
    if (rp) {
        world_options_default(&wo);
        demand_params_from_station(&wo.demand, st);
        wo.start_ms = t_local(2025, 8, 9, 0, 0);
        wo.dr_generate = 1; /* ignored: recorded days bring their own events */
        CHECK(replay_world(rp, st, &wo, &w, &ed) == ERROR_OK);
        CHECK(w && w->n_cars == 0 && w->n_dr == 0);
        world_free(w);
        wo.days = 2;
        CHECK(replay_world(rp, st, &wo, &w, &ed) == ERROR_INVALID && w == NULL);
        CHECK_STR_CONTAINS(ed.text,
                           "pv.csv: covers 2025-08-09T00:00:00+08:00 to "
                           "2025-08-10T00:00:00+08:00: the run needs");
        wo.days = 1;
        /* a connector the station does not have is named with its line */
        CHECK(parse_str(rp,
                        REPLAY_SESSIONS,
                        "id,connector,arrival,departure,energy_kwh,max_kw\n"
                        "a,DC9-Z,2025-08-09T10:00+08:00,2025-08-09T11:00+08:00,5,50\n") ==
              ERROR_OK);
        CHECK(replay_world(rp, st, &wo, &w, &ed) == ERROR_INVALID && w == NULL);
        CHECK_STR_CONTAINS(ed.text,
                           "sessions.csv: line 2, column 2 (connector): \"DC9-Z\": "
                           "station ulanhada-pvess-ev-01 has no such connector");
        /* recorded and explicit events must not share an id */
        CHECK(parse_str(rp,
                        REPLAY_SESSIONS,
                        "id,connector,arrival,departure,energy_kwh,max_kw\n") == ERROR_OK);
        CHECK(parse_str(rp,
                        REPLAY_DR_EVENTS,
                        "id,type,notice,start,end,limit_kw\n"
                        "e1,import_cap,2025-08-09T08:00+08:00,2025-08-09T18:00+08:00,"
                        "2025-08-09T19:00+08:00,90\n") == ERROR_OK);
        {
            struct controller_dr twin = {"e1", SCENARIO_DR_IMPORT_FLOOR, 0, 0, 0, 10.0};

            twin.start_ms = t_local(2025, 8, 9, 1, 0);
            twin.end_ms = twin.start_ms + 60 * MIN_MS;
            wo.n_dr = 1;
            wo.dr = &twin;
            CHECK(replay_world(rp, st, &wo, &w, &ed) == ERROR_INVALID && w == NULL);
            CHECK_STR_CONTAINS(ed.text, "\"e1\": two DR events share this id");
        }
        replay_free(rp);
    }
    p = alloc_printf("rm -rf '%s'", dir);
    CHECK(system(p) == 0);
    free(p);
}

/* All four strategies on the replayed day: the trace rows carry the data. */
static void test_strategies(const struct station *st)
{
    struct error_detail ed = {{0}};
    struct replay *rp = NULL;
    struct world *w = NULL;
    double pv[96], base[24];

    example_series("pv.csv", pv, 96);
    example_series("base_load.csv", base, 24);
    CHECK(replay_load(EXAMPLE, &rp, &ed) == ERROR_OK);
    w = rp ? example_world(rp, st, 15, &ed) : NULL;
    for (int s = 0; w && s < CONTROLLER_NSTRATEGIES; s++) {
        struct run_options ro;
        struct trace *t = NULL;
        int ok = 1;
        double served = 0.0;

        run_options_default(&ro);
        ro.strategy = (enum controller_strategy)s;
        CHECK(run_strategy(w, &ro, &t, &ed) == ERROR_OK);
        if (!t) {
            fprintf(stderr, "run_strategy: %s\n", ed.text);
            continue;
        }
        CHECK(t->n_rows == 96);
        for (int k = 0; k < t->n_rows; k++) {
            const struct trace_row *r = &t->rows[k];

            ok &= r->pv_available_kw == pv[k] && r->base_load_kw == base[k / 4];
            ok &= r->ts_ms == t_local(2025, 8, 9, 0, 0) + k * 15 * MIN_MS;
            ok &= r->pv_kw <= r->pv_available_kw + 1e-9 && isfinite(r->grid_import_kw);
        }
        CHECK(ok);
        CHECK(t->n_sessions == 14 && t->n_dr == 1);
        for (int i = 0; i < t->n_sessions; i++) {
            served += t->sessions[i].delivered_kwh;
            ok &= !t->sessions[i].lost;
        }
        CHECK(ok && served > 300.0);
        printf("replay %-12s EV %.1f kWh, DR compliance %.2f\n",
               t->strategy,
               served,
               t->dr[0].compliance);
        trace_free(t);
    }
    CHECK(w != NULL);
    world_free(w);
    replay_free(rp);
}

/* `flexd sim --replay DIR`: exit codes and the files written. */
static void test_cli(void)
{
    char dir[] = "/tmp/flexd-test-replay-out-XXXXXX";
    char *argv[14];
    char *out_dir;
    char *csv;
    char *text = NULL;
    size_t len = 0;
    struct error_detail ed = {{0}};
    FILE *devnull = fopen("/dev/null", "w");
    int argc = 0;

    CHECK(mkdtemp(dir) != NULL);
    out_dir = alloc_printf("%s/out", dir);
    argv[argc++] = "sim";
    argv[argc++] = "--replay";
    argv[argc++] = EXAMPLE;
    argv[argc++] = "--strategy";
    argv[argc++] = "rule";
    argv[argc++] = "--quiet";
    argv[argc++] = "--out";
    argv[argc++] = out_dir;
    argv[argc] = NULL;
    CHECK(simcmd_main(argc, argv, devnull, devnull) == 0);
    csv = alloc_printf("%s/timeseries.csv", out_dir);
    CHECK(fileio_read_all(csv, 1 << 24, &text, &len, &ed) == ERROR_OK);
    /* the 13:00 row: PV available (field 4) and base load (field 6) as recorded */
    {
        const char *pre = "2025-08-09T13:00:00+08:00,rule,52,";
        const char *row = text ? strstr(text, pre) : NULL;
        double pv[96], base[24];
        char *end = NULL;

        example_series("pv.csv", pv, 96);
        example_series("base_load.csv", base, 24);
        CHECK(row != NULL);
        if (row) {
            double pv_av = strtod(row + strlen(pre), &end); /* pv_available_kw */

            strtod(end + 1, &end); /* pv_kw */
            CHECK_NEAR(pv_av, pv[52], 5e-4);
            CHECK_NEAR(strtod(end + 1, NULL), base[13], 5e-4); /* base_load_kw */
        }
    }
    free(text);
    /* a simulation file adds its events to the recorded ones; without a
     * start of its own the run is still the recorded day */
    {
        char *sim = alloc_printf("%s/extra.json", dir);
        const char *extra = "{\"dr\": {\"preset\": \"midday-floor\"}, \"seed\": 3}";
        char *sum = alloc_printf("%s/summary.json", out_dir);

        CHECK(fileio_write_atomic(sim, extra, strlen(extra), &ed) == ERROR_OK);
        argv[argc] = "--sim";
        argv[argc + 1] = sim;
        CHECK(simcmd_main(argc + 2, argv, devnull, devnull) == 0);
        text = NULL;
        CHECK(fileio_read_all(sum, 1 << 24, &text, &len, &ed) == ERROR_OK);
        CHECK_STR_CONTAINS(text, "preset-midday-floor-20250809");
        CHECK_STR_CONTAINS(text, "mengxi-20250809-peak-shave");
        CHECK_STR_CONTAINS(text, "\"start_date\":\t\"2025-08-09\"");
        free(text);
        free(sum);
        free(sim);
    }
    argv[2] = "/nonexistent/replay";
    CHECK(simcmd_main(argc, argv, devnull, devnull) == 1);
    argv[2] = EXAMPLE;
    argv[argc++] = "--days";
    argv[argc++] = "2";
    CHECK(simcmd_main(argc, argv, devnull, devnull) == 2);
    fclose(devnull);
    free(csv);
    free(out_dir);
    csv = alloc_printf("rm -rf '%s'", dir);
    CHECK(system(csv) == 0);
    free(csv);
}

int main(void)
{
    struct station *st = NULL;
    struct error_detail ed = {{0}};

    CHECK(builtin_station_load(&st, &ed) == ERROR_OK);
    if (!st) {
        fprintf(stderr, "builtin: %s\n", ed.text);
        return CHECK_DONE();
    }
    test_series_rules();
    test_session_rules();
    test_dr_rules();
    test_example(st);
    test_dirs(st);
    test_strategies(st);
    test_cli();
    station_free(st);
    return CHECK_DONE();
}
