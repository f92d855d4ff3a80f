/* SPDX-License-Identifier: MIT */
/*
 * report.c - the output directory of a simulation run (summary.json,
 * sessions.csv, timeseries.csv, report.html), the terminal KPI table and
 * the progress line. Each file is built in a strbuf and written with
 * fileio_write_atomic(), so a reader never sees half a file. The CSVs are
 * in report_csv.c, the page in report_html.c. Single-threaded per call;
 * borrows the traces.
 */
#include "report.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/fileio.h"
#include "report_csv.h"
#include "report_html.h"
#include "strbuf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FLEXD_VERSION
#define FLEXD_VERSION "dev"
#endif

/* summary.json numbers are rounded to this many decimals so that the last
 * bits of floating-point sums never show. */
#define REPORT_JSON_DECIMALS 4

/* mkdir -p: every missing component of dir, mode 0755. */
static int report_mkdirs(const char *dir, struct error_detail *ed)
{
    int rc = ERROR_OK;
    char *path = alloc_strdup(dir);
    size_t len = strlen(path);
    struct stat st;

    for (size_t i = 1; i <= len; i++) {
        char saved = path[i];

        if (saved != '/' && saved != '\0') {
            continue;
        }
        path[i] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            rc = error_setf(ed, ERROR_IO, "%s: cannot create directory: %s", path, strerror(errno));
            goto out;
        }
        path[i] = saved;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = error_setf(ed, ERROR_IO, "%s: not a directory", dir);
    } else if (access(dir, W_OK | X_OK) != 0) {
        rc = error_setf(ed, ERROR_IO, "%s: cannot write into directory: %s", dir, strerror(errno));
    }
out:
    free(path);
    return rc;
}

static int report_write_file(const char *dir,
                             const char *name,
                             const char *data,
                             size_t len,
                             struct error_detail *ed)
{
    char *path = alloc_printf("%s/%s", dir, name);
    int rc = fileio_write_atomic(path, data, len, ed);

    free(path);
    return rc;
}

static int report_validate(const struct report_meta *meta,
                           struct trace *const *traces,
                           int n,
                           struct error_detail *ed)
{
    int rc = ERROR_OK;
    int found = meta->plot_strategy == NULL;

    if (n < 1 || !traces) {
        rc = error_setf(ed, ERROR_INVALID, "report: no trace to report");
    }
    for (int i = 0; i < n && traces && !rc; i++) {
        for (int j = 0; j < i && !rc; j++) {
            if (strcmp(traces[i]->strategy, traces[j]->strategy) == 0) {
                rc = error_setf(ed,
                                ERROR_INVALID,
                                "report: traces[%d].strategy: \"%s\" repeats traces[%d]",
                                i,
                                traces[i]->strategy,
                                j);
            }
        }
        if (meta->plot_strategy && strcmp(meta->plot_strategy, traces[i]->strategy) == 0) {
            found = 1;
        }
    }
    if (!rc && !found) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "report: plot_strategy: \"%s\": not a simulated strategy",
                        meta->plot_strategy);
    }
    return rc;
}

static int64_t report_midnight(int64_t ts_ms)
{
    struct clock_civil c;

    clock_to_local(ts_ms, &c);
    return clock_from_local(c.year, c.month, c.day, 0, 0, 0);
}

static void report_date(int64_t ts_ms, char *buf, size_t n)
{
    struct clock_civil c;

    clock_to_local(ts_ms, &c);
    snprintf(buf, n, "%04d-%02d-%02d", c.year, c.month, c.day);
}

/* The day of a requested plot_date, checked against [first, last]. */
static int report_parse_plot_date(const char *s,
                                  int64_t first,
                                  int64_t last,
                                  int64_t *day_ms,
                                  struct error_detail *ed)
{
    int rc = ERROR_OK;
    char a[16];
    char z[16];

    if (clock_parse_date(s, day_ms) != ERROR_OK) {
        rc = error_setf(ed, ERROR_INVALID, "report: plot_date: \"%s\": not a date YYYY-MM-DD", s);
    } else if (*day_ms < first || *day_ms > last) {
        report_date(first, a, sizeof(a));
        report_date(last, z, sizeof(z));
        rc = error_setf(ed, ERROR_RANGE, "report: plot_date: %s: outside the run %s..%s", s, a, z);
    }
    return rc;
}

int report_plot_day(const struct report_meta *meta,
                    struct trace *const *traces,
                    int n,
                    int64_t *day_ms,
                    struct error_detail *ed)
{
    const struct trace *t0 = n > 0 ? traces[0] : NULL;
    int64_t first;
    int64_t last;
    int64_t best = INT64_MAX;
    int rc = ERROR_OK;

    *day_ms = 0;
    if (!t0 || t0->n_rows <= 0) {
        goto out;
    }
    first = report_midnight(t0->rows[0].ts_ms);
    last = report_midnight(t0->rows[t0->n_rows - 1].ts_ms);
    if (meta && meta->plot_date) {
        rc = report_parse_plot_date(meta->plot_date, first, last, day_ms, ed);
        goto out;
    }
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < traces[k]->n_dr; i++) {
            best = traces[k]->dr[i].start_ms < best ? traces[k]->dr[i].start_ms : best;
        }
    }
    *day_ms = best != INT64_MAX ? report_midnight(best) : first;
    if (*day_ms < first || *day_ms > last) {
        *day_ms = first;
    }
out:
    return rc;
}

void report_kpis_compute(const struct trace *t, struct report_kpis *k)
{
    kpi_total(t, &k->total);
    k->n_days = kpi_days(t, &k->days);
    k->n_months = kpi_months(t, &k->months);
}

void report_kpis_free(struct report_kpis *k)
{
    if (!k) {
        return;
    }
    free(k->days);
    free(k->months);
    k->days = NULL;
    k->months = NULL;
    k->n_days = 0;
    k->n_months = 0;
}

static double report_round(double v)
{
    double r = round(v * 1e4) / 1e4;

    return r == 0.0 ? 0.0 : r; /* no "-0" */
}

static void report_json_num(cJSON *o, const char *name, double v)
{
    cJSON_AddItemToObject(o, name, cJSON_CreateNumber(report_round(v)));
}

static cJSON *report_json_kpi(const struct kpi *k, const char *date_key, const char *date)
{
    cJSON *o = cJSON_CreateObject();

    if (date_key) {
        cJSON_AddItemToObject(o, date_key, cJSON_CreateString(date));
    }
    for (int i = 0; i < kpi_n_fields; i++) {
        if (!kpi_fields[i].wallclock) {
            report_json_num(o, kpi_fields[i].key, kpi_field_value(k, &kpi_fields[i]));
        }
    }
    return o;
}

/* timing.json: the solver times per strategy, the one output that depends
 * on the machine and its load rather than on the seed. */
static int report_write_timing(const char *dir,
                               struct trace *const *traces,
                               const struct report_kpis *k,
                               int n,
                               struct error_detail *ed)
{
    cJSON *root = cJSON_CreateObject();
    char *text;
    int rc;

    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();

        for (int j = 0; j < kpi_n_fields; j++) {
            if (kpi_fields[j].wallclock || strcmp(kpi_fields[j].key, "solve_steps") == 0) {
                report_json_num(o, kpi_fields[j].key, kpi_field_value(&k[i].total, &kpi_fields[j]));
            }
        }
        cJSON_AddItemToObject(root, traces[i]->strategy, o);
    }
    text = cJSON_Print(root);
    rc = text ? report_write_file(dir, "timing.json", text, strlen(text), ed)
              : error_setf(ed, ERROR_IO, "%s/timing.json: cannot encode JSON", dir);
    cJSON_free(text);
    cJSON_Delete(root);
    return rc;
}

static void report_json_time(cJSON *o, const char *name, int64_t ts_ms)
{
    char iso[32];

    if (clock_format_iso(ts_ms, iso, sizeof(iso)) < 0) {
        iso[0] = '\0';
    }
    cJSON_AddItemToObject(o, name, cJSON_CreateString(iso));
}

static cJSON *report_json_dr(const struct trace *t)
{
    cJSON *arr = cJSON_CreateArray();

    for (int i = 0; i < t->n_dr; i++) {
        const struct trace_dr *d = &t->dr[i];
        cJSON *o = cJSON_CreateObject();

        cJSON_AddItemToObject(o, "id", cJSON_CreateString(d->id));
        cJSON_AddItemToObject(o,
                              "type",
                              cJSON_CreateString(d->type == 1 ? "import_floor" : "import_cap"));
        report_json_time(o, "start", d->start_ms);
        report_json_time(o, "end", d->end_ms);
        report_json_num(o, "limit_kw", d->limit_kw);
        report_json_num(o, "baseline_kw", d->baseline_kw);
        report_json_num(o, "required_kw", d->required_kw);
        report_json_num(o, "delivered_kw", d->delivered_kw);
        report_json_num(o, "compliance", d->compliance);
        report_json_num(o, "shortfall_kwh", d->shortfall_kwh);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *report_json_strategy(const struct trace *t, const struct report_kpis *k)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *days = cJSON_CreateArray();
    cJSON *months = cJSON_CreateArray();
    char date[16];

    cJSON_AddItemToObject(o, "total", report_json_kpi(&k->total, NULL, NULL));
    for (int i = 0; i < k->n_days; i++) {
        report_date(k->days[i].from_ms, date, sizeof(date));
        cJSON_AddItemToArray(days, report_json_kpi(&k->days[i], "date", date));
    }
    for (int i = 0; i < k->n_months; i++) {
        report_date(k->months[i].from_ms, date, sizeof(date));
        date[7] = '\0'; /* "2026-07" */
        cJSON_AddItemToArray(months, report_json_kpi(&k->months[i], "month", date));
    }
    cJSON_AddItemToObject(o, "days", days);
    cJSON_AddItemToObject(o, "months", months);
    cJSON_AddItemToObject(o, "dr_events", report_json_dr(t));
    return o;
}

static cJSON *
report_json_config(const struct report_meta *m, struct trace *const *traces, int n, int64_t day_ms)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *names = cJSON_CreateArray();
    char seed[24];
    char date[16];

    cJSON_AddItemToObject(o, "station_id", cJSON_CreateString(m->station_id ? m->station_id : ""));
    cJSON_AddItemToObject(o, "scenario", cJSON_CreateString(m->scenario ? m->scenario : ""));
    cJSON_AddItemToObject(o, "start_date", cJSON_CreateString(m->start_date ? m->start_date : ""));
    cJSON_AddItemToObject(o, "days", cJSON_CreateNumber(m->days));
    cJSON_AddItemToObject(o, "step_minutes", cJSON_CreateNumber(m->step_minutes));
    /* raw digits: a 64-bit seed does not survive a trip through a double */
    snprintf(seed, sizeof(seed), "%llu", (unsigned long long)m->seed);
    cJSON_AddItemToObject(o, "seed", cJSON_CreateRaw(seed));
    for (int i = 0; i < n; i++) {
        cJSON_AddItemToArray(names, cJSON_CreateString(traces[i]->strategy));
    }
    cJSON_AddItemToObject(o, "strategies", names);
    cJSON_AddItemToObject(o,
                          "ev_forecast",
                          cJSON_CreateString(m->ev_forecast_learned ? "learned" : "model"));
    report_date(day_ms, date, sizeof(date));
    cJSON_AddItemToObject(o, "plot_date", cJSON_CreateString(date));
    cJSON_AddItemToObject(o, "utc_offset", cJSON_CreateString("+08:00"));
    cJSON_AddItemToObject(o, "flexd_version", cJSON_CreateString(FLEXD_VERSION));
    return o;
}

static int report_write_summary(const char *dir,
                                const struct report_meta *meta,
                                struct trace *const *traces,
                                const struct report_kpis *k,
                                int n,
                                int64_t day_ms,
                                struct error_detail *ed)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *strategies = cJSON_CreateObject();
    char *text;
    int rc;

    cJSON_AddItemToObject(root, "config", report_json_config(meta, traces, n, day_ms));
    for (int i = 0; i < n; i++) {
        cJSON_AddItemToObject(strategies,
                              traces[i]->strategy,
                              report_json_strategy(traces[i], &k[i]));
    }
    cJSON_AddItemToObject(root, "strategies", strategies);
    text = cJSON_Print(root);
    if (!text) {
        rc = error_setf(ed, ERROR_IO, "%s/summary.json: cannot encode JSON", dir);
    } else {
        rc = report_write_file(dir, "summary.json", text, strlen(text), ed);
    }
    cJSON_free(text);
    cJSON_Delete(root);
    return rc;
}

/* The four files, once dir exists and the KPIs are known. */
static int report_write_files(const char *dir,
                              const struct report_meta *meta,
                              struct trace *const *traces,
                              const struct report_kpis *k,
                              int n,
                              int64_t day_ms,
                              struct error_detail *ed)
{
    struct strbuf b = STRBUF_INIT;
    int rc;

    report_csv_timeseries(&b, traces, n);
    rc = report_write_file(dir, "timeseries.csv", b.data, b.len, ed);
    if (rc) {
        goto out;
    }
    b.len = 0;
    report_csv_sessions(&b, traces, n);
    rc = report_write_file(dir, "sessions.csv", b.data, b.len, ed);
    if (rc) {
        goto out;
    }
    rc = report_write_summary(dir, meta, traces, k, n, day_ms, ed);
    if (rc) {
        goto out;
    }
    b.len = 0;
    report_html_build(&b, meta, traces, k, n, day_ms);
    rc = report_write_file(dir, "report.html", b.data, b.len, ed);
    if (rc == ERROR_OK) {
        rc = report_write_timing(dir, traces, k, n, ed);
    }
out:
    strbuf_free(&b);
    return rc;
}

int report_write_all(const char *dir,
                     const struct report_meta *meta,
                     struct trace *const *traces,
                     int n,
                     struct error_detail *ed)
{
    static const struct report_meta no_meta;
    struct report_kpis *k = NULL;
    int64_t day_ms = 0;
    int rc;

    if (!meta) {
        meta = &no_meta;
    }
    rc = report_validate(meta, traces, n, ed);
    if (!rc) {
        rc = report_plot_day(meta, traces, n, &day_ms, ed);
    }
    if (!rc) {
        rc = report_mkdirs(dir, ed);
    }
    if (rc) {
        goto out;
    }
    k = alloc_array((size_t)n, sizeof(*k));
    for (int i = 0; i < n; i++) {
        report_kpis_compute(traces[i], &k[i]);
    }
    rc = report_write_files(dir, meta, traces, k, n, day_ms, ed);
out:
    for (int i = 0; k && i < n; i++) {
        report_kpis_free(&k[i]);
    }
    free(k);
    return rc;
}

void report_print_table(FILE *f, struct trace *const *traces, int n)
{
    struct kpi *tot = alloc_array((size_t)(n > 0 ? n : 1), sizeof(*tot));
    int label_w = 0;
    int col_w = 12;
    char label[96];

    for (int i = 0; i < n; i++) {
        int len = (int)strlen(traces[i]->strategy);

        kpi_total(traces[i], &tot[i]);
        col_w = len > col_w ? len : col_w;
    }
    for (int j = 0; j < kpi_n_fields; j++) {
        int len = snprintf(label,
                           sizeof(label),
                           "%s%s%s%s",
                           kpi_fields[j].label,
                           kpi_fields[j].unit[0] ? " (" : "",
                           kpi_fields[j].unit,
                           kpi_fields[j].unit[0] ? ")" : "");

        label_w = kpi_fields[j].brief && len > label_w ? len : label_w;
    }
    fprintf(f, "%-*s", label_w, "KPI");
    for (int i = 0; i < n; i++) {
        fprintf(f, "  %*s", col_w, traces[i]->strategy);
    }
    fputc('\n', f);
    for (int j = 0; j < kpi_n_fields; j++) {
        const struct kpi_field *kf = &kpi_fields[j];

        if (!kf->brief) {
            continue;
        }
        snprintf(label,
                 sizeof(label),
                 "%s%s%s%s",
                 kf->label,
                 kf->unit[0] ? " (" : "",
                 kf->unit,
                 kf->unit[0] ? ")" : "");
        fprintf(f, "%-*s", label_w, label);
        for (int i = 0; i < n; i++) {
            fprintf(f, "  %*.*f", col_w, kf->decimals, kpi_field_value(&tot[i], kf) * kf->scale);
        }
        fputc('\n', f);
    }
    free(tot);
}

int report_progress_format(char *buf, size_t n, double fraction, double elapsed_s)
{
    enum {
        CELLS = 30
    };

    char bar[CELLS + 1];
    int filled;
    int len;

    if (!(fraction >= 0.0)) {
        fraction = 0.0;
    }
    fraction = fraction > 1.0 ? 1.0 : fraction;
    filled = (int)floor(fraction * CELLS + 1e-9);
    for (int i = 0; i < CELLS; i++) {
        bar[i] = i < filled ? '#' : '.';
    }
    bar[CELLS] = '\0';
    len =
        snprintf(buf, n, "[%s] %3d%% %.1f s", bar, (int)floor(fraction * 100.0 + 1e-9), elapsed_s);
    return len < 0 || (size_t)len >= n ? -1 : len;
}

void report_progress(FILE *f, double fraction, double elapsed_s)
{
    char line[96];

    if (isatty(fileno(f)) && report_progress_format(line, sizeof(line), fraction, elapsed_s) > 0) {
        fprintf(f, "\r%s", line);
        fflush(f);
    }
}
