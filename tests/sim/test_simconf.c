/* SPDX-License-Identifier: MIT */
/*
 * test_simconf.c - the simulation file: the shipped example
 * (config/sim/ulanhada-dr-day.json) read, laid over the defaults and built
 * into a world with its two events; an empty file changing nothing; every
 * section of the format at once (weather, base load, demand sources,
 * visitor flow, generator kinds, a preset, tariff prices) and its effect on
 * the world; each class of bad input with a message naming the file, the
 * JSON path, the value and the rule; the ISO 8601 time reader shared
 * with the replay files; and `flexd sim --sim` with flags laid
 * over the file, exit code 2 for a bad file and 1 for a missing one.
 */
#include "check.h"

#include "../../common/alloc.h"
#include "../../common/clock.h"
#include "../../common/fileio.h"
#include "../../config/builtin.h"
#include "../../sim/simcmd.h"
#include "../../sim/simconf.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXAMPLE FLEXD_SOURCE_DIR "/config/sim/ulanhada-dr-day.json"

static struct simconf *parse(const char *text)
{
    struct simconf *c = NULL;
    struct error_detail ed = {{0}};

    if (simconf_parse(text, strlen(text), "test.json", &c, &ed)) {
        fprintf(stderr, "simconf_parse: %s\n", ed.text);
    }
    return c;
}

static struct world *build(const struct station *st, const struct simconf *c)
{
    struct world_options wo;
    struct world *w = NULL;
    struct error_detail ed = {{0}};

    world_options_default(&wo);
    demand_params_from_station(&wo.demand, st);
    simconf_apply(c, &wo);
    wo.pad_steps = 0;
    if (world_build(st, &wo, &w, &ed)) {
        fprintf(stderr, "world_build: %s\n", ed.text);
    }
    return w;
}

static double energy(const double *kw, int n, int step_minutes)
{
    double e = 0.0;

    for (int k = 0; k < n; k++) {
        e += kw[k] * step_minutes / 60.0;
    }
    return e;
}

static void test_example(const struct station *st)
{
    struct simconf *c = NULL;
    struct error_detail ed = {{0}};
    struct world *w;

    CHECK(simconf_load(EXAMPLE, &c, &ed) == ERROR_OK);
    if (!c) {
        fprintf(stderr, "simconf_load: %s\n", ed.text);
        return;
    }
    CHECK(strcmp(c->start, "2026-07-18") == 0);
    CHECK(c->start_ms == clock_from_local(2026, 7, 18, 0, 0, 0));
    CHECK(c->days == 1 && c->step_minutes == 15 && c->seed == 7);
    CHECK(c->sky == WORLD_SKY_CLEAR && c->visitor_flow == 1.2);
    CHECK(c->dr.generate == 0 && c->dr.n_events == 2 && !c->dr.has_kinds);
    CHECK(isnan(c->export_cny_per_kwh) && c->sharing == -1);
    w = build(st, c);
    CHECK(w && w->steps == 96 && w->n_dr == 2);
    if (w) {
        int64_t d = clock_from_local(2026, 7, 18, 0, 0, 0);
        const struct controller_dr *floor = &w->dr[0];
        const struct controller_dr *cap = &w->dr[1];
        struct clock_civil lt;

        clock_to_local(w->opt.start_ms, &lt);
        CHECK(lt.wday == 6); /* a Saturday */
        CHECK(floor->type == SCENARIO_DR_IMPORT_FLOOR && floor->limit_kw == 80.0);
        CHECK(floor->start_ms == d + 690 * 60000LL && floor->end_ms == d + 840 * 60000LL);
        CHECK(floor->notice_ms == d - 7 * 3600000LL);
        CHECK(cap->type == SCENARIO_DR_IMPORT_CAP && cap->limit_kw == 120.0);
        CHECK(cap->start_ms == d + 18 * 3600000LL && cap->end_ms == d + 21 * 3600000LL);
        /* a clear sky: the day's PV is close to the clear-sky PV */
        CHECK(energy(w->pv_true_kw, 96, 15) > 0.9 * energy(w->pv_clear_kw, 96, 15));
    }
    world_free(w);
    simconf_free(c);
}

/* An empty file sets nothing: the options stay the defaults. */
static void test_empty(const struct station *st)
{
    struct simconf *c = parse("{}");
    struct world_options a, b;

    CHECK(c != NULL);
    if (!c) {
        return;
    }
    world_options_default(&a);
    world_options_default(&b);
    demand_params_from_station(&a.demand, st);
    demand_params_from_station(&b.demand, st);
    simconf_apply(c, &b);
    CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    CHECK(c->start[0] == '\0' && c->days == -1 && c->step_minutes == -1 && c->seed == -1);
    simconf_free(c);
}

static const char *const FULL =
    "{\"description\": \"every section\", \"start\": \"2026-07-06\", \"days\": 7,"
    " \"step_minutes\": 30, \"seed\": 99,"
    " \"weather\": {\"sky\": \"overcast\", \"clear_sky_index_scale\": 0.8,"
    "   \"pv_forecast_csi\": 0.5, \"pv_forecast_tau_h\": 2},"
    " \"base_load\": {\"noise_sd\": 0},"
    " \"demand\": {\"sharing\": true, \"visitor_flow\": 3, \"max_wait_minutes\": 30,"
    "   \"sources\": {\"tourist\": {\"weekday_per_day\": 20,"
    "     \"month_factor\": [1,1,1,1,1,1,1.5,1,1,1,1,1], \"weekend_factor\": 2},"
    "   \"night\": {\"enabled\": false}, \"through\": {\"dc_share\": 0.5}}},"
    " \"dr\": {\"generate\": true, \"preset\": \"evening-cap\", \"kinds\": [{\"name\": "
    "\"noon_floor\","
    "   \"type\": \"import_floor\", \"per_month\": [0,0,0,0,0,0,28,0,0,0,0,0],"
    "   \"window\": {\"start\": \"11:00\", \"end\": \"14:00\"}, \"duration_min_min\": 60,"
    "   \"duration_max_min\": 120, \"day_ahead\": true, \"notice_min\": 1020,"
    "   \"limit_kw_min\": 50, \"limit_kw_max\": 100}]},"
    " \"tariff\": {\"service_fee_cny_per_kwh\": 0.8, \"export_cny_per_kwh\": 0.1}}";

static void test_full(const struct station *st)
{
    struct simconf *c = parse(FULL);
    struct world *w;
    struct tariff t = st->tariff;
    int presets = 0, drawn = 0, night = 0, tourists = 0;

    CHECK(c != NULL);
    if (!c) {
        return;
    }
    CHECK(strcmp(c->description, "every section") == 0);
    CHECK(c->sky == WORLD_SKY_OVERCAST && c->csi_scale == 0.8 && isnan(c->csi_fixed));
    CHECK(c->sources.tourist.weekday_per_day == 20 && c->sources.tourist.month_factor[6] == 1.5);
    CHECK(isnan(c->sources.tourist.holiday_factor) && c->sources.night.enabled == 0);
    CHECK(c->dr.has_kinds && c->dr.drgen.n_kinds == 1 && c->dr.drgen.kinds[0].align_min == 15);
    CHECK(c->dr.drgen.kinds[0].window.start_min == 660 && c->dr.drgen.kinds[0].limit_step_kw == 5);
    simconf_apply_tariff(c, &t);
    CHECK(t.service_fee_cny_per_kwh == 0.8 && t.export_cny_per_kwh == 0.1);
    CHECK(t.demand_charge_cny_per_kw_month == st->tariff.demand_charge_cny_per_kw_month);
    w = build(st, c);
    CHECK(w && w->steps == 7 * 48 && w->opt.seed == 99 && w->opt.max_wait_minutes == 30);
    for (int i = 0; w && i < w->n_dr; i++) {
        presets += strncmp(w->dr[i].id, "preset-evening-cap-202607", 25) == 0;
        drawn += strstr(w->dr[i].id, "noon_floor") != NULL;
    }
    CHECK(presets == 7); /* one a day */
    CHECK(drawn >= 3);   /* 28 a month: nearly every day, some dropped for the caps */
    for (int i = 0; w && i < w->n_cars; i++) {
        night += w->cars[i].ev.source == TRACE_SOURCE_NIGHT;
        tourists += w->cars[i].ev.source == TRACE_SOURCE_TOURIST;
    }
    CHECK(night == 0);
    /* 20 x 1.5 x 3 a workday, x 2 at the weekend: about 1000 in the week */
    CHECK(tourists > 600);
    /* overcast and scaled: well under the clear sky */
    CHECK(w && energy(w->pv_true_kw, w->steps, 30) < 0.5 * energy(w->pv_clear_kw, w->steps, 30));
    world_free(w);
    simconf_free(c);
}

/* A fixed clear-sky index replaces the drawn one at every step. */
static void test_fixed_sky(const struct station *st)
{
    struct simconf *lo = parse("{\"weather\": {\"clear_sky_index\": 0.3}}");
    struct simconf *hi = parse("{\"weather\": {\"clear_sky_index\": 1.0}}");
    struct world *a = lo ? build(st, lo) : NULL;
    struct world *b = hi ? build(st, hi) : NULL;

    CHECK(a && b);
    if (a && b) {
        double ea = energy(a->pv_true_kw, a->steps, 15);
        double eb = energy(b->pv_true_kw, b->steps, 15);

        CHECK(ea < 0.45 * eb && ea > 0.15 * eb);
        CHECK_NEAR(eb, energy(b->pv_clear_kw, b->steps, 15), 1e-6);
    }
    world_free(a);
    world_free(b);
    simconf_free(lo);
    simconf_free(hi);
}

static int64_t t_local(int y, int mo, int d, int h, int mi)
{
    return clock_from_local(y, mo, d, h, mi, 0);
}

static void test_times(void)
{
    int64_t ts = 0;
    int64_t want = t_local(2026, 7, 18, 13, 45);
    const char *good[] = {"2026-07-18T13:45+08:00",
                          "2026-07-18T13:45:00+08:00",
                          "2026-07-18T05:45Z",
                          "2026-07-18T05:45:00Z",
                          "2026-07-18T07:45+02:00",
                          "2026-07-18T00:45-05:00"};
    const char *badt[] = {"2026-07-18T13:45",
                          "2026-07-18 13:45+08:00",
                          "2026-02-30T13:45+08:00",
                          "2026-07-18T24:00+08:00",
                          "2026-07-18T13:45+8:00",
                          "2026-07-18T13:45:60+08:00",
                          "1969-12-31T23:00+08:00",
                          "2026-07-18T13:45+08:00 ",
                          "",
                          "2026-07-18T13:4+08:00"};

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CHECK(simconf_parse_time(good[i], strlen(good[i]), &ts) == ERROR_OK && ts == want);
    }
    for (size_t i = 0; i < sizeof(badt) / sizeof(badt[0]); i++) {
        CHECK(simconf_parse_time(badt[i], strlen(badt[i]), &ts) == ERROR_PARSE);
    }
    /* len bounds the text: a longer buffer is not read past len */
    CHECK(simconf_parse_time("2026-07-18T05:45Zjunk", 17, &ts) == ERROR_OK && ts == want);
}

/* text must fail with code rc and every needle in the message. */
static void bad(const char *text, int rc, const char *n1, const char *n2)
{
    struct simconf *c = (struct simconf *)&c;
    struct error_detail ed = {{0}};

    CHECK(simconf_parse(text, strlen(text), "sim.json", &c, &ed) == rc);
    CHECK(c == NULL);
    CHECK_STR_CONTAINS(ed.text, "sim.json: ");
    CHECK_STR_CONTAINS(ed.text, n1);
    if (n2) {
        CHECK_STR_CONTAINS(ed.text, n2);
    }
}

#define EV(fields) "{\"dr\": {\"events\": [" fields "]}}"
#define CAP                                                                                       \
    "{\"id\": \"cap\", \"type\": \"import_cap\", \"notice\": \"2026-07-17T17:00+08:00\","         \
    " \"start\": \"2026-07-18T18:00+08:00\", \"end\": \"2026-07-18T21:00+08:00\", \"limit_kw\": " \
    "120}"

static void test_bad(void)
{
    char *big;

    /* syntax */
    bad("{\"days\": 1,}", ERROR_PARSE, "line 1, column", "malformed JSON");
    bad("{\"days\": 1, \"days\": 2}", ERROR_INVALID, "days: duplicate key", NULL);
    bad("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        ERROR_PARSE,
        "nesting deeper than 32",
        NULL);
    big = alloc_array(SIMCONF_MAX_BYTES + 2, 1);
    memset(big, ' ', SIMCONF_MAX_BYTES + 1);
    bad(big, ERROR_RANGE, "must be at most 1048576 bytes", NULL);
    free(big);
    /* keys */
    bad("{\"dayz\": 2}", ERROR_INVALID, "dayz: unknown key", "did you mean \"days\"?");
    bad("{\"demand\": {\"sources\": {\"tourists\": {}}}}",
        ERROR_INVALID,
        "demand.sources.tourists: unknown key",
        "\"tourist\"");
    /* types and ranges */
    bad("{\"days\": \"2\"}", ERROR_INVALID, "days: \"2\": must be a number", NULL);
    bad("{\"days\": 1.5}", ERROR_INVALID, "days: 1.5: must be an integer", NULL);
    bad("{\"step_minutes\": 0}", ERROR_INVALID, "step_minutes: 0: must be in [1, 60]", NULL);
    bad("{\"step_minutes\": 7}", ERROR_INVALID, "step_minutes: 7: must divide a day", NULL);
    bad("{\"seed\": -1}", ERROR_INVALID, "seed: -1: must be in [0, ", NULL);
    bad("{\"start\": \"2026-02-30\"}",
        ERROR_INVALID,
        "start: \"2026-02-30\": must be a date",
        NULL);
    bad("{\"weather\": {\"sky\": \"sunny\"}}",
        ERROR_INVALID,
        "weather.sky: \"sunny\": must be one of \"drawn\"",
        NULL);
    bad("{\"weather\": {\"clear_sky_index\": 2}}",
        ERROR_INVALID,
        "weather.clear_sky_index: 2: must be in [0.03, 1.1]",
        NULL);
    bad("{\"demand\": {\"sources\": {\"tourist\": {\"weekday_per_day\": 2000}}}}",
        ERROR_INVALID,
        "demand.sources.tourist.weekday_per_day: 2000: must be in [0, 1000]",
        NULL);
    bad("{\"demand\": {\"sources\": {\"night\": {\"month_factor\": [1, 2]}}}}",
        ERROR_INVALID,
        "demand.sources.night.month_factor: array of 2 values",
        "must be an array of 12 numbers");
    bad("{\"demand\": {\"sources\": {\"night\": {\"month_factor\": [1,1,1,1,1,1,1,1,1,1,1,-1]}}}}",
        ERROR_INVALID,
        "demand.sources.night.month_factor[11]: -1: must be a number in [0, 100]",
        NULL);
    bad("{\"tariff\": {\"export_cny_per_kwh\": -0.1}}",
        ERROR_INVALID,
        "tariff.export_cny_per_kwh: -0.1: must be in [0, 10000]",
        NULL);
    bad("{\"dr\": {\"preset\": \"evening\"}}",
        ERROR_INVALID,
        "dr.preset: \"evening\": must be one of \"none\", \"evening-cap\"",
        NULL);
    /* events */
    bad(EV("{\"id\": \"x\", \"type\": \"import_cap\", \"notice\": \"2026-07-17T17:00+08:00\", "
           "\"start\": \"2026-07-18T18:00\", \"end\": \"2026-07-18T21:00+08:00\", \"limit_kw\": "
           "1}"),
        ERROR_INVALID,
        "dr.events[0].start: \"2026-07-18T18:00\": must be a time \"YYYY-MM-DDTHH:MM+08:00\"",
        NULL);
    bad(EV("{\"id\": \"x\", \"type\": \"import_cap\", \"notice\": \"2026-07-17T17:00+08:00\", "
           "\"start\": \"2026-07-18T18:00+08:00\", \"end\": \"2026-07-18T21:00+08:00\"}"),
        ERROR_INVALID,
        "dr.events[0].limit_kw: missing: this field is required",
        NULL);
    bad(EV("{\"id\": \"x\", \"type\": \"import_cap\", \"notice\": \"2026-07-18T19:00+08:00\", "
           "\"start\": \"2026-07-18T18:00+08:00\", \"end\": \"2026-07-18T21:00+08:00\", "
           "\"limit_kw\": 1}"),
        ERROR_INVALID,
        "dr.events[0].notice: \"2026-07-18T19:00:00+08:00\": must not be after start",
        NULL);
    bad(EV("{\"id\": \"x\", \"type\": \"import_cap\", \"notice\": \"2026-07-17T19:00+08:00\", "
           "\"start\": \"2026-07-18T18:00+08:00\", \"end\": \"2026-07-18T17:00+08:00\", "
           "\"limit_kw\": 1}"),
        ERROR_INVALID,
        "dr.events[0].end: \"2026-07-18T17:00:00+08:00\": must be after start",
        NULL);
    bad(EV(CAP ", " CAP),
        ERROR_INVALID,
        "dr.events[1].id: \"cap\": duplicates the id of \"cap\" (dr.events[0])",
        NULL);
    bad(EV(CAP ", {\"id\": \"fl\", \"type\": \"import_floor\", \"notice\": "
               "\"2026-07-17T17:00+08:00\", \"start\": \"2026-07-18T17:00+08:00\", \"end\": "
               "\"2026-07-18T18:30+08:00\", \"limit_kw\": 50}"),
        ERROR_INVALID,
        "dr.events[0].start: \"2026-07-18T18:00:00+08:00\": a grid asks for a cap or a floor",
        "overlaps the import_floor \"fl\" (dr.events[1])");
    /* generator parameters, checked by drgen as a whole */
    bad("{\"dr\": {\"kinds\": [{\"name\": \"x\", \"type\": \"import_cap\", \"per_month\": "
        "[1,1,1,1,1,1,1,1,1,1,1,1], \"window\": {\"start\": \"18:00\", \"end\": \"19:00\"}, "
        "\"duration_min_min\": 60, \"duration_max_min\": 120, \"day_ahead\": true, "
        "\"notice_min\": 1020, \"limit_kw_min\": 10, \"limit_kw_max\": 20}]}}",
        ERROR_INVALID,
        "dr.kinds[0].duration_max_min: 120: must be in [60, 60]",
        NULL);
    bad("{\"dr\": {\"kinds\": [{\"name\": \"x\"}]}}",
        ERROR_INVALID,
        "dr.kinds[0].type: missing",
        NULL);
}

/* Run `flexd sim` with args; returns the exit code, err's text in *msg. */
static int run_cli(char **argv, int argc, char **msg)
{
    FILE *out = fopen("/dev/null", "w");
    FILE *err = tmpfile();
    long n;
    int rc;

    rc = simcmd_main(argc, argv, out, err);
    n = ftell(err);
    *msg = alloc_array((size_t)n + 1, 1);
    rewind(err);
    if (fread(*msg, 1, (size_t)n, err) != (size_t)n) {
        (*msg)[0] = '\0';
    }
    fclose(err);
    fclose(out);
    return rc;
}

static void test_cli(void)
{
    char dir[] = "/tmp/flexd-test-simconf-XXXXXX";
    const char *file_text = "{\"start\": \"2026-07-18\", \"days\": 2, \"step_minutes\": 30, "
                            "\"seed\": 9, \"dr\": {\"preset\": \"mixed\"}}";
    struct error_detail ed = {{0}};
    char *file, *out_dir, *summary, *text = NULL, *msg = NULL, *rm;
    size_t len = 0;
    cJSON *root, *cfg;

    CHECK(mkdtemp(dir) != NULL);
    file = alloc_printf("%s/run.json", dir);
    out_dir = alloc_printf("%s/out", dir);
    summary = alloc_printf("%s/summary.json", out_dir);
    CHECK(fileio_write_atomic(file, file_text, strlen(file_text), &ed) == ERROR_OK);
    {
        char *argv[] = {"sim",
                        "--sim",
                        file,
                        "--days",
                        "1",
                        "--strategy",
                        "mpc",
                        "--ev-forecast",
                        "learned",
                        "--quiet",
                        "--out",
                        out_dir,
                        NULL};

        CHECK(run_cli(argv, 12, &msg) == 0);
        free(msg);
    }
    CHECK(fileio_read_all(summary, 1 << 24, &text, &len, &ed) == ERROR_OK);
    root = text ? cJSON_Parse(text) : NULL;
    cfg = cJSON_GetObjectItem(root, "config");
    /* the flag over the file, the file over the defaults */
    CHECK(cJSON_GetObjectItem(cfg, "days") && cJSON_GetObjectItem(cfg, "days")->valueint == 1);
    CHECK(cJSON_GetObjectItem(cfg, "step_minutes") &&
          cJSON_GetObjectItem(cfg, "step_minutes")->valueint == 30);
    CHECK(cJSON_GetObjectItem(cfg, "seed") && cJSON_GetObjectItem(cfg, "seed")->valueint == 9);
    CHECK(cJSON_GetObjectItem(cfg, "ev_forecast") &&
          strcmp(cJSON_GetObjectItem(cfg, "ev_forecast")->valuestring, "learned") == 0);
    CHECK(cJSON_GetObjectItem(cfg, "start_date") &&
          strcmp(cJSON_GetObjectItem(cfg, "start_date")->valuestring, "2026-07-18") == 0);
    CHECK_STR_CONTAINS(cJSON_GetObjectItem(cfg, "scenario")
                           ? cJSON_GetObjectItem(cfg, "scenario")->valuestring
                           : NULL,
                       "run.json");
    /* the preset's three events are in the run */
    CHECK_STR_CONTAINS(text, "preset-evening-cap-20260718");
    CHECK_STR_CONTAINS(text, "preset-short-notice-cap-20260718");
    cJSON_Delete(root);
    free(text);
    /* a bad file: exit 2, the message names the file and the path */
    CHECK(fileio_write_atomic(file, "{\"days\": 0}", 11, &ed) == ERROR_OK);
    {
        char *argv[] = {"sim", "--sim", file, "--quiet", NULL};

        CHECK(run_cli(argv, 4, &msg) == 2);
        CHECK_STR_CONTAINS(msg, "run.json: days: 0: must be in [1, 3660]");
        free(msg);
        argv[1] = "--ev-forecast";
        argv[2] = "guess";
        CHECK(run_cli(argv, 4, &msg) == 2);
        CHECK_STR_CONTAINS(msg, "--ev-forecast: \"guess\": must be model or learned");
        free(msg);
        argv[1] = "--sim";
        argv[2] = "/nonexistent/sim.json";
        CHECK(run_cli(argv, 4, &msg) == 1);
        CHECK_STR_CONTAINS(msg, "/nonexistent/sim.json");
        free(msg);
    }
    rm = alloc_printf("rm -rf '%s'", dir);
    CHECK(system(rm) == 0);
    free(rm);
    free(summary);
    free(out_dir);
    free(file);
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
    test_example(st);
    test_empty(st);
    test_full(st);
    test_fixed_sky(st);
    test_times();
    test_bad();
    test_cli();
    station_free(st);
    return CHECK_DONE();
}
