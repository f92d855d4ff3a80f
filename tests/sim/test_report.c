/* SPDX-License-Identifier: MIT */
/*
 * test_report.c - the output directory of a simulation report, read back:
 * CSV headers and first rows, row counts, local ISO times, summary.json
 * against kpi_compute(), a self-contained report.html, byte-identical
 * output on a second write, clear errors for an unwritable directory and
 * bad arguments, the terminal table, the progress line, and a year of
 * 15-minute steps for 4 strategies (its write time is printed, not
 * asserted: timing belongs to benchmarks).
 */
#include "check.h"

#include "../../common/alloc.h"
#include "../../common/clock.h"
#include "../../common/error.h"
#include "../../common/fileio.h"
#include "../../sim/kpi.h"
#include "../../sim/report.h"
#include "../../sim/strbuf.h"
#include "../../sim/trace.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STEP_MS  (15 * 60000LL)
#define FILE_MAX (256u << 20)

static const char *const tr_files[4] = {"summary.json",
                                        "sessions.csv",
                                        "timeseries.csv",
                                        "report.html"};

/* Two local days from 2026-07-15 00:00; "mpc" differs from "rules" by a
 * battery discharge and a DR event on day 2. */
static struct trace *tr_build(const char *name, int days, int with_dr)
{
    int n = days * 96;
    struct trace *t = trace_new(name, 15, n);
    int64_t t0 = clock_from_local(2026, 7, 15, 0, 0, 0);
    struct trace_session *s;

    t->n_connectors = 4;
    t->connectors_max_kw_sum = 240.0;
    t->ess_capacity_kwh = 200.0;
    t->demand_charge_cny_per_kw_month = 33.0;
    for (int i = 0; i < n; i++) {
        struct trace_row *r = &t->rows[i];

        r->ts_ms = t0 + i * STEP_MS;
        r->step = i;
        r->pv_available_kw = 100.0;
        r->pv_kw = 90.0;
        r->base_load_kw = 40.0;
        r->ev_kw = 60.0 + (i % 4);
        r->ess_discharge_kw = with_dr ? 5.0 : 0.0;
        r->ess_soc = 0.5 + 0.25 * (i % 2);
        r->grid_import_kw = r->base_load_kw + r->ev_kw - r->pv_kw - r->ess_discharge_kw;
        r->import_limit_kw = 120.0;
        r->buy_cny_per_kwh = 0.6215;
        r->sell_cny_per_kwh = 0.2829;
        r->connectors_busy = 1;
        r->solve_ms = with_dr ? 2.5 : 0.0;
    }
    s = trace_add_session(t);
    snprintf(s->id, sizeof(s->id), "ev-1");
    snprintf(s->connector, sizeof(s->connector), "dc-1");
    s->wants_dc = 1;
    s->arrival_ms = t0 + 8 * 3600000LL;
    s->plug_ms = s->arrival_ms + 5 * 60000LL;
    s->declared_departure_ms = s->arrival_ms + 3600000LL;
    s->departure_ms = s->arrival_ms + 2 * 3600000LL;
    s->battery_kwh = 60.0;
    s->soc_arrival = 0.2;
    s->soc_target = 0.8;
    s->max_kw = 120.0;
    s->wanted_kwh = 36.0;
    s->delivered_kwh = 30.5;
    s->revenue_energy_cny = 18.955;
    s->revenue_service_cny = 12.2;
    s = trace_add_session(t);
    snprintf(s->id, sizeof(s->id), "ev,2 \"late\"");
    s->source = TRACE_SOURCE_NIGHT;
    s->arrival_ms = t0 + 22 * 3600000LL;
    s->wanted_kwh = 20.0;
    s->lost = 1;
    if (with_dr && days > 1) {
        struct trace_dr *d = trace_add_dr(t);

        snprintf(d->id, sizeof(d->id), "cap-1");
        d->start_ms = t0 + CLOCK_DAY_MS + 18 * 3600000LL;
        d->end_ms = d->start_ms + 2 * 3600000LL;
        d->limit_kw = 10.0;
        d->baseline_kw = 16.5;
        d->required_kw = 6.5;
        d->delivered_kw = 5.0;
        d->compliance = 5.0 / 6.5;
        d->shortfall_kwh = 3.0;
        for (int i = 96 + 72; i < 96 + 80 && i < n; i++) {
            t->rows[i].import_limit_kw = 10.0;
            t->rows[i].dr_active = 1;
        }
    }
    return t;
}

static char *tr_read(const char *dir, const char *name, size_t *len)
{
    struct error_detail ed = {{0}};
    char *path = alloc_printf("%s/%s", dir, name);
    char *data = NULL;

    if (fileio_read_all(path, FILE_MAX, &data, len, &ed) != ERROR_OK) {
        fprintf(stderr, "read %s: %s\n", path, ed.text);
    }
    free(path);
    return data;
}

static int tr_lines(const char *s)
{
    int n = 0;

    for (; s && *s; s++) {
        n += *s == '\n';
    }
    return n;
}

/* The line after the header, without its newline. */
static void tr_line2(const char *s, char *out, size_t n)
{
    const char *a = strchr(s, '\n');
    const char *z = a ? strchr(a + 1, '\n') : NULL;

    out[0] = '\0';
    if (a && z) {
        snprintf(out, n, "%.*s", (int)(z - a - 1), a + 1);
    }
}

static void test_csv(const char *dir)
{
    char *ts = tr_read(dir, "timeseries.csv", NULL);
    char *ss = tr_read(dir, "sessions.csv", NULL);
    char line[512];

    CHECK(ts && strncmp(ts,
                        "time,strategy,step,pv_available_kw,pv_kw,base_load_kw,ev_kw,"
                        "ess_charge_kw,ess_discharge_kw,ess_soc,grid_import_kw,grid_export_kw,"
                        "import_limit_kw,buy_cny_per_kwh,sell_cny_per_kwh,connectors_busy,"
                        "dr_active,dr_floor_kw,solved\n",
                        strlen("time,strategy,step,pv_available_kw,pv_kw,base_load_kw,ev_kw,"
                               "ess_charge_kw,ess_discharge_kw,ess_soc,grid_import_kw,"
                               "grid_export_kw,import_limit_kw,buy_cny_per_kwh,sell_cny_per_kwh,"
                               "connectors_busy,dr_active,dr_floor_kw,solved\n")) == 0);
    CHECK(tr_lines(ts) == 1 + 2 * 192);
    tr_line2(ts ? ts : "", line, sizeof(line));
    CHECK(strcmp(line,
                 "2026-07-15T00:00:00+08:00,rules,0,100.000,90.000,40.000,60.000,0.000,"
                 "0.000,0.5000,10.000,0.000,120.000,0.6215,0.2829,1,0,0.000,0") == 0);
    CHECK_STR_CONTAINS(ts, "\n2026-07-16T23:45:00+08:00,mpc,191,");
    CHECK_STR_CONTAINS(ts,
                       "\n2026-07-16T18:00:00+08:00,mpc,168,100.000,90.000,40.000,60.000,"
                       "0.000,5.000,0.5000,5.000,0.000,10.000,0.6215,0.2829,1,1,0.000,1\n");
    CHECK(ss && strncmp(ss,
                        "strategy,id,source,connector,wants_dc,arrival,plug,"
                        "declared_departure,departure,battery_kwh,soc_arrival,soc_target,"
                        "max_kw,wanted_kwh,delivered_kwh,unmet_kwh,revenue_energy_cny,"
                        "revenue_service_cny,lost\n",
                        50) == 0);
    CHECK(tr_lines(ss) == 1 + 4);
    tr_line2(ss ? ss : "", line, sizeof(line));
    CHECK(strcmp(line,
                 "rules,ev-1,tourist,dc-1,1,2026-07-15T08:00:00+08:00,"
                 "2026-07-15T08:05:00+08:00,2026-07-15T09:00:00+08:00,"
                 "2026-07-15T10:00:00+08:00,60.000,0.2000,0.8000,120.000,36.000,30.500,"
                 "5.500,18.955,12.200,0") == 0);
    /* quoted id, empty connector and plug time for a lost arrival */
    CHECK_STR_CONTAINS(ss, "\nrules,\"ev,2 \"\"late\"\"\",night,,0,2026-07-15T22:00:00+08:00,,");
    free(ss);
    free(ts);
}

static void test_summary(const char *dir, struct trace *const *traces)
{
    char *text = tr_read(dir, "summary.json", NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "strategies");

    CHECK(root != NULL);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cfg, "strategies")) == 2);
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "ev_forecast")),
                 "model") == 0);
    CHECK_STR_CONTAINS(text, "\"seed\":\t18446744073709551615");
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "plot_date")),
                 "2026-07-16") == 0);
    for (int i = 0; i < 2; i++) {
        cJSON *s = cJSON_GetObjectItemCaseSensitive(st, traces[i]->strategy);
        cJSON *tot = cJSON_GetObjectItemCaseSensitive(s, "total");
        cJSON *days = cJSON_GetObjectItemCaseSensitive(s, "days");
        struct kpi k;

        kpi_compute(traces[i],
                    traces[i]->rows[0].ts_ms,
                    traces[i]->rows[traces[i]->n_rows - 1].ts_ms + STEP_MS,
                    &k);
        CHECK(s != NULL);
        for (int f = 0; f < kpi_n_fields; f++) {
            cJSON *v = cJSON_GetObjectItemCaseSensitive(tot, kpi_fields[f].key);

            if (kpi_fields[f].wallclock) {
                CHECK(v == NULL); /* solver times live in timing.json only */
                continue;
            }
            CHECK(cJSON_IsNumber(v));
            CHECK_NEAR(cJSON_GetNumberValue(v), kpi_field_value(&k, &kpi_fields[f]), 5.1e-5);
        }
        CHECK(cJSON_GetArraySize(days) == 2);
        CHECK(strcmp(cJSON_GetStringValue(
                         cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(days, 1), "date")),
                     "2026-07-16") == 0);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "dr_events")) == i);
    }
    cJSON_Delete(root);
    free(text);
}

static int tr_count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay ? strstr(hay, needle) : NULL; p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

static void test_html(const char *dir)
{
    char *h = tr_read(dir, "report.html", NULL);

    CHECK_STR_CONTAINS(h, "<!DOCTYPE html>");
    CHECK(tr_count(h, "<svg") == 2 + 3 + 5); /* flows x 2, SoC, prices, DR, 5 bars */
    CHECK(tr_count(h, "<svg") == tr_count(h, "</svg>"));
    /* self-contained: the only "http" is the SVG namespace */
    CHECK(tr_count(h, "http") == tr_count(h, "xmlns=\"http://www.w3.org/2000/svg\""));
    CHECK(tr_count(h, "<script") == 0 && tr_count(h, "<link") == 0 && tr_count(h, "src=") == 0);
    CHECK(tr_count(h, "url(") == 0 && tr_count(h, "@import") == 0);
    CHECK_STR_CONTAINS(h, "Power flows, mpc, 2026-07-16");
    CHECK_STR_CONTAINS(h, "local time (UTC+08:00)");
    CHECK_STR_CONTAINS(h, "DR import-cap window");
    CHECK_STR_CONTAINS(h, "cap-1");
    CHECK_STR_CONTAINS(h, "KPIs per local day");
    free(h);
}

static void test_identical(const char *a, const char *b)
{
    for (int i = 0; i < 4; i++) {
        size_t la = 0;
        size_t lb = 0;
        char *x = tr_read(a, tr_files[i], &la);
        char *y = tr_read(b, tr_files[i], &lb);

        CHECK(x && y && la == lb && memcmp(x, y, la) == 0);
        free(y);
        free(x);
    }
}

static void test_errors(const char *tmp, struct trace *const *traces)
{
    struct error_detail ed = {{0}};
    struct report_meta meta = {0};
    struct trace *dup[2] = {traces[0], traces[0]};
    char *file = alloc_printf("%s/plain-file", tmp);
    char *below = alloc_printf("%s/plain-file/out", tmp);
    char *ok = alloc_printf("%s/e", tmp);
    int64_t day = 0;

    CHECK(fileio_write_atomic(file, "x", 1, &ed) == ERROR_OK);
    CHECK(report_write_all(below, &meta, traces, 2, &ed) == ERROR_IO);
    CHECK_STR_CONTAINS(ed.text, below);
    CHECK(report_write_all(file, &meta, traces, 2, &ed) == ERROR_IO);
    CHECK_STR_CONTAINS(ed.text, file);
    if (geteuid() != 0) { /* root writes anywhere */
        char *ro = alloc_printf("%s/ro", tmp);

        mkdir(ro, 0500);
        CHECK(report_write_all(ro, &meta, traces, 2, &ed) == ERROR_IO);
        CHECK_STR_CONTAINS(ed.text, ro);
        free(ro);
    }
    CHECK(report_write_all(ok, &meta, dup, 2, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "traces[1].strategy");
    CHECK(report_write_all(ok, &meta, traces, 0, &ed) == ERROR_INVALID);
    meta.plot_date = "2026-07-20";
    CHECK(report_write_all(ok, &meta, traces, 2, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "outside the run 2026-07-15..2026-07-16");
    meta.plot_date = "15.07.2026";
    CHECK(report_write_all(ok, &meta, traces, 2, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "plot_date");
    meta.plot_date = "2026-07-15";
    meta.plot_strategy = "nope";
    CHECK(report_write_all(ok, &meta, traces, 2, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "plot_strategy");
    meta.plot_strategy = NULL;
    CHECK(report_plot_day(&meta, traces, 2, &day, &ed) == ERROR_OK);
    CHECK(day == clock_from_local(2026, 7, 15, 0, 0, 0));
    meta.plot_date = NULL;
    CHECK(report_plot_day(&meta, traces, 2, &day, &ed) == ERROR_OK);
    CHECK(day == clock_from_local(2026, 7, 16, 0, 0, 0)); /* the day of the DR event */
    CHECK(report_plot_day(&meta, traces, 1, &day, &ed) == ERROR_OK);
    CHECK(day == clock_from_local(2026, 7, 15, 0, 0, 0)); /* no event: the first day */
    free(ok);
    free(below);
    free(file);
}

static void test_table_progress(struct trace *const *traces)
{
    FILE *f = tmpfile();
    char buf[4096];
    size_t n = 0;
    char line[64];

    report_print_table(f, traces, 2);
    rewind(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    CHECK_STR_CONTAINS(buf, "rules");
    CHECK_STR_CONTAINS(buf, "mpc");
    CHECK_STR_CONTAINS(buf, "energy cost (CNY)");
    CHECK_STR_CONTAINS(buf, "peak import (kW)");
    CHECK(report_progress_format(line, sizeof(line), 0.48, 12.34) > 0);
    CHECK(strcmp(line, "[##############................]  48% 12.3 s") == 0);
    CHECK(report_progress_format(line, sizeof(line), 7.0, 1.0) > 0);
    CHECK(strcmp(line, "[##############################] 100% 1.0 s") == 0);
    CHECK(report_progress_format(line, 10, 0.5, 1.0) == -1);
}

/* A year of 15-minute steps for 4 strategies: 140,160 timeseries rows. */
static void test_year(const char *tmp)
{
    static const char *const names[4] = {"rules", "greedy", "mpc", "mpc-perfect"};
    struct trace *year[4];
    struct report_meta meta = {0};
    struct error_detail ed = {{0}};
    struct clock *c = clock_new_real();
    char *dir = alloc_printf("%s/year", tmp);
    char *ts;
    int64_t t0;

    for (int i = 0; i < 4; i++) {
        year[i] = tr_build(names[i], 365, i > 1);
    }
    meta.days = 365;
    meta.step_minutes = 15;
    t0 = clock_mono_us(c);
    CHECK(report_write_all(dir, &meta, year, 4, &ed) == ERROR_OK);
    printf("year x 4 strategies (%d rows): report_write_all %.3f s\n",
           4 * year[0]->n_rows,
           (double)(clock_mono_us(c) - t0) / 1e6);
    ts = tr_read(dir, "timeseries.csv", NULL);
    CHECK(tr_lines(ts) == 1 + 4 * 35040);
    CHECK_STR_CONTAINS(ts, "\n2027-07-14T23:45:00+08:00,mpc-perfect,35039,");
    free(ts);
    ts = tr_read(dir, "report.html", NULL);
    CHECK_STR_CONTAINS(ts, "KPIs per local month");
    free(ts);
    for (int i = 0; i < 4; i++) {
        trace_free(year[i]);
    }
    free(dir);
    clock_free(c);
}

static void test_strbuf(void)
{
    struct strbuf b = STRBUF_INIT;

    strbuf_fixed(&b, 1.23456, 3);
    strbuf_putc(&b, ' ');
    strbuf_fixed(&b, -0.0004, 3); /* never "-0.000" */
    strbuf_putc(&b, ' ');
    strbuf_fixed(&b, -2.5, 1);
    strbuf_putc(&b, ' ');
    strbuf_fixed(&b, 0.99996, 4);
    strbuf_putc(&b, ' ');
    strbuf_fixed(&b, 7.0, 0);
    strbuf_putc(&b, ' ');
    strbuf_fixed(&b, 2e12, 2); /* beyond the fast path */
    strbuf_putc(&b, ' ');
    strbuf_int(&b, -42);
    strbuf_printf(&b, " %s-%d", "x", 5);
    CHECK(strcmp(b.data, "1.235 0.000 -2.5 1.0000 7 2000000000000.00 -42 x-5") == 0);
    CHECK(b.len == strlen(b.data));
    strbuf_free(&b);
    CHECK(b.data == NULL && b.len == 0);
}

/* Remove the report files and the directory (tests leave no litter). */
static void tr_remove_dir(const char *tmp, const char *sub)
{
    char *dir = alloc_printf("%s/%s", tmp, sub);

    for (int i = 0; i < 4; i++) {
        char *path = alloc_printf("%s/%s", dir, tr_files[i]);

        unlink(path);
        free(path);
    }
    rmdir(dir);
    free(dir);
}

static void tr_cleanup(const char *tmp)
{
    static const char *const dirs[5] = {"out/nested", "out", "again", "year", "ro"};
    char *file = alloc_printf("%s/plain-file", tmp);

    for (int i = 0; i < 5; i++) {
        tr_remove_dir(tmp, dirs[i]);
    }
    unlink(file);
    free(file);
    rmdir(tmp);
}

int main(void)
{
    char tmpl[] = "/tmp/flexd-test-report-XXXXXX";
    char *tmp = mkdtemp(tmpl);
    struct trace *traces[2];
    struct report_meta meta = {0};
    struct error_detail ed = {{0}};
    char *a;
    char *b;

    if (!tmp) {
        perror("mkdtemp");
        return 1;
    }
    a = alloc_printf("%s/out/nested", tmp);
    b = alloc_printf("%s/again", tmp);
    traces[0] = tr_build("rules", 2, 0);
    traces[1] = tr_build("mpc", 2, 1);
    meta.station_id = "ulanhada-1";
    meta.scenario = "test";
    meta.start_date = "2026-07-15";
    meta.days = 2;
    meta.step_minutes = 15;
    meta.seed = UINT64_MAX;
    CHECK(report_write_all(a, &meta, traces, 2, &ed) == ERROR_OK);
    CHECK(report_write_all(b, &meta, traces, 2, &ed) == ERROR_OK);
    CHECK(report_write_all(a, &meta, traces, 2, &ed) == ERROR_OK); /* over existing files */
    test_csv(a);
    test_summary(a, traces);
    test_html(a);
    test_identical(a, b);
    test_errors(tmp, traces);
    test_table_progress(traces);
    test_strbuf();
    test_year(tmp);
    if (check_failed) {
        printf("output left in %s\n", tmp);
    } else {
        tr_cleanup(tmp);
    }
    trace_free(traces[1]);
    trace_free(traces[0]);
    free(b);
    free(a);
    return CHECK_DONE();
}
