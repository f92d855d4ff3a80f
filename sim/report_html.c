/* SPDX-License-Identifier: MIT */
/*
 * report_html.c - report.html. Charts of the plotted day: power flows
 * (sources stacked above zero, uses below), battery SoC, buy/sell prices,
 * import against the import limit with the DR windows shaded, and a
 * strategy comparison; then the KPI tables (total, per day for runs up to
 * 31 days, else per month) and the DR events. Time axes are local hours
 * (UTC+08:00). Pure function of its inputs; any thread.
 */
#include "report_html.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "report_svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef FLEXD_VERSION
#define FLEXD_VERSION "dev"
#endif

#define HTML_CHART_W     900
#define HTML_CHART_H     300
#define HTML_DAYS_MAX    31 /* longer runs get monthly tables */
#define HTML_MS_PER_HOUR 3600000.0

/* The rows of one trace inside the plotted day, as local hours. */
struct html_day {
    const struct trace_row *rows;
    int n;
    double *x; /* hours since local midnight */
    double dx; /* step length, h */
};

static void html_day_init(const struct trace *t, int64_t day_ms, struct html_day *d)
{
    int i0 = 0;

    while (i0 < t->n_rows && t->rows[i0].ts_ms < day_ms) {
        i0++;
    }
    d->rows = t->rows + i0;
    d->n = 0;
    while (i0 + d->n < t->n_rows && t->rows[i0 + d->n].ts_ms < day_ms + CLOCK_DAY_MS) {
        d->n++;
    }
    d->x = alloc_array((size_t)d->n + 1, sizeof(double));
    for (int i = 0; i < d->n; i++) {
        d->x[i] = (double)(d->rows[i].ts_ms - day_ms) / HTML_MS_PER_HOUR;
    }
    d->dx = t->step_minutes / 60.0;
}

static void html_date(int64_t ts_ms, char *buf, size_t n)
{
    struct clock_civil c;

    clock_to_local(ts_ms, &c);
    snprintf(buf, n, "%04d-%02d-%02d", c.year, c.month, c.day);
}

static void html_time(int64_t ts_ms, char *buf, size_t n)
{
    struct clock_civil c;

    clock_to_local(ts_ms, &c);
    snprintf(buf, n, "%04d-%02d-%02d %02d:%02d", c.year, c.month, c.day, c.hour, c.minute);
}

static void html_head(struct strbuf *b, const struct report_meta *m)
{
    strbuf_puts(b,
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<title>flexd simulation report ");
    report_svg_escape(b, m->station_id ? m->station_id : "");
    strbuf_puts(b,
                "</title>\n<style>\n"
                "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1100px}\n"
                "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid "
                "#ccc}\n"
                "table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}\n"
                "th,td{border:1px solid #ccc;padding:2px 6px}td.n{text-align:right}\n"
                "th{background:#f3f3f3}.wrap{overflow-x:auto}\n"
                ".bars{display:flex;flex-wrap:wrap;gap:8px}p.note{font-size:0.85em;color:#555}\n"
                "</style>\n</head>\n<body>\n");
}

static void html_config(struct strbuf *b,
                        const struct report_meta *m,
                        struct trace *const *traces,
                        int n,
                        int64_t day_ms)
{
    char date[16];

    strbuf_puts(b, "<h1>flexd simulation report: ");
    report_svg_escape(b, m->station_id ? m->station_id : "");
    strbuf_puts(b, "</h1>\n<table>\n<tr><th>scenario</th><td>");
    report_svg_escape(b, m->scenario ? m->scenario : "");
    strbuf_puts(b, "</td></tr>\n<tr><th>start date</th><td>");
    report_svg_escape(b, m->start_date ? m->start_date : "");
    strbuf_printf(b,
                  "</td></tr>\n<tr><th>days</th><td>%d</td></tr>\n"
                  "<tr><th>step</th><td>%d min</td></tr>\n"
                  "<tr><th>seed</th><td>%llu</td></tr>\n<tr><th>strategies</th><td>",
                  m->days,
                  m->step_minutes,
                  (unsigned long long)m->seed);
    for (int i = 0; i < n; i++) {
        strbuf_puts(b, i ? ", " : "");
        report_svg_escape(b, traces[i]->strategy);
    }
    html_date(day_ms, date, sizeof(date));
    strbuf_printf(b, "</td></tr>\n<tr><th>plotted day</th><td>%s</td></tr>\n</table>\n", date);
    strbuf_puts(b,
                "<p class=\"note\">Times are local (Asia/Shanghai, UTC+08:00). Every figure "
                "is computed from timeseries.csv and sessions.csv of this run; definitions in "
                "docs/simulation.md, section &quot;KPIs and output files&quot;.</p>\n");
}

/* Sources stacked from 0 up, uses from 0 down: lo/hi[s * n + i] bound series s at row i. */
static void
html_flows_stack(const struct html_day *d, double *lo, double *hi, double *y0, double *y1)
{
    for (int i = 0; i < d->n; i++) {
        const struct trace_row *r = &d->rows[i];
        double v[7] = {r->pv_kw,
                       r->ess_discharge_kw,
                       r->grid_import_kw,
                       r->base_load_kw,
                       r->ev_kw,
                       r->ess_charge_kw,
                       r->grid_export_kw};
        double up = 0.0;
        double down = 0.0;

        for (int s = 0; s < 7; s++) {
            size_t j = (size_t)s * (size_t)d->n + (size_t)i;

            if (s < 3) {
                lo[j] = up;
                up += v[s];
                hi[j] = up;
            } else {
                hi[j] = down;
                down -= v[s];
                lo[j] = down;
            }
        }
        *y1 = fmax(*y1, up);
        *y0 = fmin(*y0, down);
    }
}

/* One stacked power-flow chart for trace t. */
static void html_chart_flows(struct strbuf *b, const struct trace *t, int64_t day_ms)
{
    static const char *const names[7] = {"PV",
                                         "battery discharge",
                                         "grid import",
                                         "base load",
                                         "EV charging",
                                         "battery charge",
                                         "grid export"};
    static const char *const colors[7] =
        {"#f2b701", "#2ca02c", "#7f7f7f", "#8c564b", "#1f77b4", "#98df8a", "#ff7f0e"};
    struct html_day d;
    struct report_svg_plot p = {0};
    char title[128];
    char date[16];
    double *lo;
    double *hi;

    html_day_init(t, day_ms, &d);
    lo = alloc_array((size_t)d.n * 7 + 1, sizeof(double));
    hi = alloc_array((size_t)d.n * 7 + 1, sizeof(double));
    html_flows_stack(&d, lo, hi, &p.y0, &p.y1);
    html_date(day_ms, date, sizeof(date));
    snprintf(title, sizeof(title), "Power flows, %s, %s", t->strategy, date);
    p.x1 = 24.0;
    p.width = HTML_CHART_W;
    p.height = HTML_CHART_H + 40;
    p.title = title;
    p.x_label = "local time (UTC+08:00)";
    p.y_label = "power, kW (sources > 0 > uses)";
    p.x_kind = REPORT_SVG_X_HOURS;
    p.n_legend = report_svg_legend_rows(p.width, 7);
    report_svg_begin(b, &p);
    for (int s = 0; s < 7; s++) {
        size_t off = (size_t)s * (size_t)d.n;

        report_svg_step_area(b, &p, d.x, lo + off, hi + off, d.n, d.dx, colors[s]);
        report_svg_legend(b, &p, s, names[s], colors[s], REPORT_SVG_KEY_BOX);
    }
    report_svg_hline(b, &p, 0.0, "#000");
    report_svg_end(b);
    free(hi);
    free(lo);
    free(d.x);
}

/* y[i] = scale × the double at offset in row i of the day. */
static double *html_series(const struct html_day *d, size_t offset, double scale)
{
    double *y = alloc_array((size_t)d->n + 1, sizeof(double));

    for (int i = 0; i < d->n; i++) {
        double v;

        memcpy(&v, (const char *)&d->rows[i] + offset, sizeof(v));
        y[i] = v * scale;
    }
    return y;
}

/* Largest scale × field over the day of every trace. */
static double
html_day_max(struct trace *const *traces, int n, int64_t day_ms, size_t offset, double scale)
{
    double m = 0.0;

    for (int k = 0; k < n; k++) {
        struct html_day d;
        double *y;

        html_day_init(traces[k], day_ms, &d);
        y = html_series(&d, offset, scale);
        for (int i = 0; i < d.n; i++) {
            m = fmax(m, y[i]);
        }
        free(y);
        free(d.x);
    }
    return m;
}

/* One line per trace (colour of the strategy) of one row field: a step
 * line for step means, or points at the end of each step for a state
 * (at_end). */
static void html_lines_per_trace(struct strbuf *b,
                                 const struct report_svg_plot *p,
                                 struct trace *const *traces,
                                 int n,
                                 int64_t day_ms,
                                 size_t offset,
                                 double scale,
                                 int at_end)
{
    for (int k = 0; k < n; k++) {
        struct html_day d;
        double *y;

        html_day_init(traces[k], day_ms, &d);
        y = html_series(&d, offset, scale);
        if (at_end) {
            for (int i = 0; i < d.n; i++) {
                d.x[i] += d.dx;
            }
            report_svg_line(b, p, d.x, y, d.n, report_svg_color(k), 2.0);
        } else {
            report_svg_step_line(b, p, d.x, y, d.n, d.dx, report_svg_color(k), 2.0, NULL);
        }
        report_svg_legend(b, p, k, traces[k]->strategy, report_svg_color(k), REPORT_SVG_KEY_LINE);
        free(y);
        free(d.x);
    }
}

static void
html_plot_day(struct report_svg_plot *p, const char *title, const char *y_label, int n_legend)
{
    p->x0 = 0.0;
    p->x1 = 24.0;
    p->width = HTML_CHART_W;
    p->height = HTML_CHART_H;
    p->title = title;
    p->x_label = "local time (UTC+08:00)";
    p->y_label = y_label;
    p->x_kind = REPORT_SVG_X_HOURS;
    p->n_legend = report_svg_legend_rows(p->width, n_legend);
}

static void html_chart_soc(struct strbuf *b, struct trace *const *traces, int n, int64_t day_ms)
{
    struct report_svg_plot p = {0};
    char title[64];
    char date[16];

    html_date(day_ms, date, sizeof(date));
    snprintf(title, sizeof(title), "Battery state of charge (end of step), %s", date);
    html_plot_day(&p, title, "state of charge, %", n);
    p.y1 = 100.0;
    report_svg_begin(b, &p);
    html_lines_per_trace(b, &p, traces, n, day_ms, offsetof(struct trace_row, ess_soc), 100.0, 1);
    report_svg_end(b);
}

static void html_chart_prices(struct strbuf *b, const struct trace *t, int64_t day_ms)
{
    struct report_svg_plot p = {0};
    struct html_day d;
    char title[96];
    char date[16];
    double *buy;
    double *sell;

    html_day_init(t, day_ms, &d);
    buy = html_series(&d, offsetof(struct trace_row, buy_cny_per_kwh), 1.0);
    sell = html_series(&d, offsetof(struct trace_row, sell_cny_per_kwh), 1.0);
    html_date(day_ms, date, sizeof(date));
    snprintf(title, sizeof(title), "Grid prices, %s (as seen by %s)", date, t->strategy);
    html_plot_day(&p, title, "price, CNY/kWh", 2);
    for (int i = 0; i < d.n; i++) {
        p.y1 = fmax(p.y1, fmax(buy[i], sell[i]));
        p.y0 = fmin(p.y0, fmin(buy[i], sell[i]));
    }
    report_svg_begin(b, &p);
    report_svg_step_line(b, &p, d.x, buy, d.n, d.dx, "#d62728", 2.0, NULL);
    report_svg_step_line(b, &p, d.x, sell, d.n, d.dx, "#2ca02c", 2.0, NULL);
    report_svg_legend(b, &p, 0, "buy (import)", "#d62728", REPORT_SVG_KEY_LINE);
    report_svg_legend(b, &p, 1, "sell (export)", "#2ca02c", REPORT_SVG_KEY_LINE);
    report_svg_end(b);
    free(sell);
    free(buy);
    free(d.x);
}

/* Shade each distinct DR window of any trace that overlaps the day; sets
 * bit 1/2 of *kinds for caps/floors drawn. */
static void html_dr_bands(struct strbuf *b,
                          const struct report_svg_plot *p,
                          struct trace *const *traces,
                          int n,
                          int64_t day_ms,
                          int *kinds)
{
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < traces[k]->n_dr; i++) {
            const struct trace_dr *e = &traces[k]->dr[i];
            int seen = 0;

            for (int k2 = 0; k2 <= k && !seen; k2++) {
                for (int j = 0; j < (k2 == k ? i : traces[k2]->n_dr) && !seen; j++) {
                    seen = traces[k2]->dr[j].start_ms == e->start_ms &&
                           traces[k2]->dr[j].end_ms == e->end_ms &&
                           traces[k2]->dr[j].type == e->type;
                }
            }
            if (seen || e->end_ms <= day_ms || e->start_ms >= day_ms + CLOCK_DAY_MS) {
                continue;
            }
            report_svg_band(b,
                            p,
                            (double)(e->start_ms - day_ms) / HTML_MS_PER_HOUR,
                            (double)(e->end_ms - day_ms) / HTML_MS_PER_HOUR,
                            e->type == 1 ? "#2ca02c" : "#d62728",
                            0.15);
            *kinds |= e->type == 1 ? 2 : 1;
        }
    }
}

/* Import limits of trace k differ from those of trace 0 on the day. */
static int html_limit_differs(const struct html_day *d0, const struct html_day *dk)
{
    int differs = d0->n != dk->n;

    for (int i = 0; i < d0->n && !differs; i++) {
        differs = d0->rows[i].import_limit_kw != dk->rows[i].import_limit_kw;
    }
    return differs;
}

/* Import limit of every trace (one dashed line if they agree) and the DR
 * floor of trace 0 while active. Returns the legend slots used. */
static int html_dr_limits(struct strbuf *b,
                          const struct report_svg_plot *p,
                          struct trace *const *traces,
                          int n,
                          int64_t day_ms,
                          int slot)
{
    struct html_day d0;
    double *y;
    char name[96];
    int has_floor = 0;

    html_day_init(traces[0], day_ms, &d0);
    for (int k = 0; k < n; k++) {
        struct html_day dk;

        html_day_init(traces[k], day_ms, &dk);
        if (k == 0 || html_limit_differs(&d0, &dk)) {
            const char *color = k == 0 ? "#000" : report_svg_color(k);

            y = html_series(&dk, offsetof(struct trace_row, import_limit_kw), 1.0);
            report_svg_step_line(b, p, dk.x, y, dk.n, dk.dx, color, 1.5, "6 3");
            snprintf(name,
                     sizeof(name),
                     k == 0 ? "import limit" : "import limit, %s",
                     traces[k]->strategy);
            report_svg_legend(b, p, slot++, name, color, REPORT_SVG_KEY_DASH);
            free(y);
        }
        free(dk.x);
    }
    y = html_series(&d0, offsetof(struct trace_row, dr_floor_kw), 1.0);
    for (int i = 0; i < d0.n; i++) {
        has_floor |= (d0.rows[i].dr_active & KPI_DR_FLOOR) != 0;
        y[i] = (d0.rows[i].dr_active & KPI_DR_FLOOR) ? y[i] : NAN;
    }
    if (has_floor) {
        report_svg_step_line(b, p, d0.x, y, d0.n, d0.dx, "#2ca02c", 1.5, "2 2");
        report_svg_legend(b, p, slot++, "DR import floor", "#2ca02c", REPORT_SVG_KEY_DOT);
    }
    free(y);
    free(d0.x);
    return slot;
}

static void html_chart_dr(struct strbuf *b, struct trace *const *traces, int n, int64_t day_ms)
{
    struct report_svg_plot p = {0};
    char title[96];
    char date[16];
    int kinds = 0;
    int slot;

    html_date(day_ms, date, sizeof(date));
    snprintf(title,
             sizeof(title),
             "Grid import against the import limit, DR windows shaded, %s",
             date);
    html_plot_day(&p, title, "power, kW", n + 4);
    p.y1 = fmax(html_day_max(traces, n, day_ms, offsetof(struct trace_row, grid_import_kw), 1.0),
                html_day_max(traces, n, day_ms, offsetof(struct trace_row, import_limit_kw), 1.0));
    report_svg_begin(b, &p);
    html_dr_bands(b, &p, traces, n, day_ms, &kinds);
    html_lines_per_trace(b,
                         &p,
                         traces,
                         n,
                         day_ms,
                         offsetof(struct trace_row, grid_import_kw),
                         1.0,
                         0);
    slot = html_dr_limits(b, &p, traces, n, day_ms, n);
    if (kinds & 1) {
        report_svg_legend(b, &p, slot++, "DR import-cap window", "#f4c7c7", REPORT_SVG_KEY_BOX);
    }
    if (kinds & 2) {
        report_svg_legend(b, &p, slot++, "DR import-floor window", "#c5e6c5", REPORT_SVG_KEY_BOX);
    }
    report_svg_end(b);
}

/* Strategy comparison: one small bar panel per KPI, each with its own axis. */
static void
html_chart_bars(struct strbuf *b, struct trace *const *traces, const struct report_kpis *k, int n)
{
    static const char *const keys[5] = {"energy_cost_cny",
                                        "margin_cny",
                                        "peak_import_kw",
                                        "pv_self_consumption_ratio",
                                        "ev_unmet_kwh"};
    const char **names = alloc_array((size_t)n, sizeof(*names));
    const char **colors = alloc_array((size_t)n, sizeof(*colors));
    double *v = alloc_array((size_t)n, sizeof(*v));

    for (int i = 0; i < n; i++) {
        names[i] = traces[i]->strategy;
        colors[i] = report_svg_color(i);
    }
    strbuf_puts(b, "<div class=\"bars\">\n");
    for (int q = 0; q < 5; q++) {
        const struct kpi_field *f = NULL;
        struct report_svg_plot p = {0};
        char y_label[64];

        for (int j = 0; j < kpi_n_fields && !f; j++) {
            f = strcmp(kpi_fields[j].key, keys[q]) == 0 ? &kpi_fields[j] : NULL;
        }
        if (!f) {
            continue;
        }
        for (int i = 0; i < n; i++) {
            v[i] = kpi_field_value(&k[i].total, f) * f->scale;
            p.y0 = fmin(p.y0, v[i]);
            p.y1 = fmax(p.y1, v[i]);
        }
        p.y0 *= 1.15; /* head room for the value labels */
        p.y1 *= 1.15;
        snprintf(y_label, sizeof(y_label), "%s%s%s", f->unit, f->unit[0] ? ", " : "", "total");
        p.width = n > 2 ? 90 + 72 * n : 212; /* room for the strategy names */
        p.height = 240;
        p.title = f->label;
        p.y_label = y_label;
        p.x_kind = REPORT_SVG_X_NONE;
        p.x1 = 1.0;
        report_svg_begin(b, &p);
        report_svg_hline(b, &p, 0.0, "#000");
        report_svg_bars(b, &p, names, v, colors, n, f->decimals);
        report_svg_end(b);
    }
    strbuf_puts(b, "</div>\n");
    free(v);
    free(colors);
    free(names);
}

static void html_cell(struct strbuf *b, const struct kpi *k, const struct kpi_field *f)
{
    strbuf_puts(b, "<td class=\"n\">");
    strbuf_fixed(b, kpi_field_value(k, f) * f->scale, f->decimals);
    strbuf_puts(b, "</td>");
}

static void html_field_name(struct strbuf *b, const struct kpi_field *f)
{
    report_svg_escape(b, f->label);
    if (f->unit[0]) {
        strbuf_puts(b, ", ");
        report_svg_escape(b, f->unit);
    }
}

static void
html_table_totals(struct strbuf *b, struct trace *const *traces, const struct report_kpis *k, int n)
{
    strbuf_puts(b,
                "<h2>KPIs over the whole run</h2>\n<div class=\"wrap\"><table>\n<tr><th>KPI</th>");
    for (int i = 0; i < n; i++) {
        strbuf_puts(b, "<th>");
        report_svg_escape(b, traces[i]->strategy);
        strbuf_puts(b, "</th>");
    }
    strbuf_puts(b, "</tr>\n");
    for (int j = 0; j < kpi_n_fields; j++) {
        if (kpi_fields[j].wallclock) {
            continue; /* timing.json: the page stays byte-identical for a seed */
        }
        strbuf_puts(b, "<tr><th>");
        html_field_name(b, &kpi_fields[j]);
        strbuf_puts(b, "</th>");
        for (int i = 0; i < n; i++) {
            html_cell(b, &k[i].total, &kpi_fields[j]);
        }
        strbuf_puts(b, "</tr>\n");
    }
    strbuf_puts(b, "</table></div>\n");
}

/* Per-day tables for short runs, per-month tables otherwise; brief KPIs. */
static void html_table_periods(struct strbuf *b,
                               struct trace *const *traces,
                               const struct report_kpis *k,
                               int n)
{
    int daily = k[0].n_days <= HTML_DAYS_MAX;
    char date[16];

    strbuf_printf(b, "<h2>KPIs per local %s</h2>\n", daily ? "day" : "month");
    for (int i = 0; i < n; i++) {
        const struct kpi *rows = daily ? k[i].days : k[i].months;
        int n_rows = daily ? k[i].n_days : k[i].n_months;

        strbuf_puts(b, "<h3>");
        report_svg_escape(b, traces[i]->strategy);
        strbuf_puts(b, "</h3>\n<div class=\"wrap\"><table>\n<tr><th>period</th>");
        for (int j = 0; j < kpi_n_fields; j++) {
            if (kpi_fields[j].brief && !kpi_fields[j].wallclock) {
                strbuf_puts(b, "<th>");
                html_field_name(b, &kpi_fields[j]);
                strbuf_puts(b, "</th>");
            }
        }
        strbuf_puts(b, "</tr>\n");
        for (int r = 0; r < n_rows; r++) {
            html_date(rows[r].from_ms, date, sizeof(date));
            date[daily ? 10 : 7] = '\0';
            strbuf_printf(b, "<tr><td>%s</td>", date);
            for (int j = 0; j < kpi_n_fields; j++) {
                if (kpi_fields[j].brief && !kpi_fields[j].wallclock) {
                    html_cell(b, &rows[r], &kpi_fields[j]);
                }
            }
            strbuf_puts(b, "</tr>\n");
        }
        strbuf_puts(b, "</table></div>\n");
    }
}

static void html_dr_row(struct strbuf *b, const struct trace *t, const struct trace_dr *e)
{
    char start[32];
    char end[32];
    const double v[6] = {e->limit_kw,
                         e->baseline_kw,
                         e->required_kw,
                         e->delivered_kw,
                         e->compliance * 100.0,
                         e->shortfall_kwh};

    html_time(e->start_ms, start, sizeof(start));
    html_time(e->end_ms, end, sizeof(end));
    strbuf_puts(b, "<tr><td>");
    report_svg_escape(b, t->strategy);
    strbuf_puts(b, "</td><td>");
    report_svg_escape(b, e->id);
    strbuf_printf(b,
                  "</td><td>%s</td><td>%s</td><td>%s</td>",
                  e->type == 1 ? "import floor" : "import cap",
                  start,
                  end);
    for (int q = 0; q < 6; q++) {
        strbuf_puts(b, "<td class=\"n\">");
        strbuf_fixed(b, v[q], q == 4 ? 1 : 2);
        strbuf_puts(b, "</td>");
    }
    strbuf_puts(b, "</tr>\n");
}

static void html_table_dr_rows(struct strbuf *b, struct trace *const *traces, int n)
{
    strbuf_puts(b,
                "<div class=\"wrap\"><table>\n<tr><th>strategy</th><th>event</th><th>type</th>"
                "<th>start</th><th>end</th><th>limit, kW</th><th>baseline, kW</th>"
                "<th>required change, kW</th><th>delivered change, kW</th>"
                "<th>compliance, %</th><th>shortfall, kWh</th></tr>\n");
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < traces[i]->n_dr; j++) {
            html_dr_row(b, traces[i], &traces[i]->dr[j]);
        }
    }
    strbuf_puts(b,
                "</table></div>\n<p class=\"note\">Baseline: mean import the station would "
                "have had without the event; required change: baseline − cap, or floor − "
                "baseline; compliance = delivered / required (100 % when nothing was "
                "required).</p>\n");
}

static void html_table_dr(struct strbuf *b, struct trace *const *traces, int n)
{
    int any = 0;

    strbuf_puts(b, "<h2>Demand-response events</h2>\n");
    for (int i = 0; i < n; i++) {
        any |= traces[i]->n_dr > 0;
    }
    if (!any) {
        strbuf_puts(b, "<p>No DR event in this run.</p>\n");
    } else {
        html_table_dr_rows(b, traces, n);
    }
}

void report_html_build(struct strbuf *b,
                       const struct report_meta *meta,
                       struct trace *const *traces,
                       const struct report_kpis *k,
                       int n,
                       int64_t day_ms)
{
    html_head(b, meta);
    html_config(b, meta, traces, n, day_ms);
    strbuf_puts(b, "<h2>The plotted day</h2>\n");
    for (int i = 0; i < n; i++) {
        if (!meta->plot_strategy || strcmp(meta->plot_strategy, traces[i]->strategy) == 0) {
            html_chart_flows(b, traces[i], day_ms);
        }
    }
    html_chart_soc(b, traces, n, day_ms);
    html_chart_prices(b, traces[0], day_ms);
    html_chart_dr(b, traces, n, day_ms);
    strbuf_puts(b, "<h2>Strategy comparison (whole run)</h2>\n");
    html_chart_bars(b, traces, k, n);
    html_table_totals(b, traces, k, n);
    html_table_periods(b, traces, k, n);
    html_table_dr(b, traces, n);
    strbuf_puts(b,
                "<p class=\"note\">Generated by flexd " FLEXD_VERSION ".</p>\n</body>\n</html>\n");
}
