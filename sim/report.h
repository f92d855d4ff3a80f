/* SPDX-License-Identifier: MIT */
/*
 * report.h - the output files of a simulation run and the terminal views
 * of it. From the traces of one or more strategies run on the same
 * scenario, report_write_all() writes into a directory:
 *
 *   summary.json     run parameters and KPIs per strategy: total, per local
 *                    day, per local month, and the DR events
 *   sessions.csv     one row per EV arrival per strategy
 *   timeseries.csv   one row per step per strategy
 *   report.html      one self-contained page (inline SVG, no external
 *                    resources) with plots of one day and the KPI tables
 *
 * Every file is built in memory and written atomically; the same traces
 * and meta give byte-identical files. Columns and KPI definitions:
 * docs/simulation.md, "KPIs and output files".
 *
 * The caller owns the traces and the meta; nothing is kept after a call.
 * Single-threaded per call.
 */
#ifndef FLEXD_SIM_REPORT_H
#define FLEXD_SIM_REPORT_H

#include "../common/error.h"
#include "kpi.h"
#include "trace.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Run parameters echoed into summary.json and report.html. Strings may be
 * NULL (then written as ""/omitted as documented). */
struct report_meta {
    const char *station_id;
    const char *scenario;   /* scenario file or name, optional */
    const char *start_date; /* "YYYY-MM-DD", local */
    int days;
    int step_minutes;
    uint64_t seed;
    int ev_forecast_learned;   /* mpc's forecast of cars to come: 0 the demand model, 1 learned */
    const char *plot_date;     /* "YYYY-MM-DD" of the day to plot; NULL: the local day
                                  of the first DR event of any strategy, else the
                                  first day of the run */
    const char *plot_strategy; /* strategy for the power-flow chart; NULL: one chart
                                  per strategy */
};

/* KPIs of one trace, computed once and shared by the JSON and HTML writers. */
struct report_kpis {
    struct kpi total;
    struct kpi *days; /* kpi_days() */
    int n_days;
    struct kpi *months; /* kpi_months() */
    int n_months;
};

/* Create dir (and missing parents, like mkdir -p) and write the four files.
 * traces[0..n-1] must have distinct strategy names and n >= 1.
 * Errors: ERROR_INVALID for no trace, a repeated strategy name or an
 * unknown plot_strategy; ERROR_INVALID/ERROR_RANGE for a plot_date that is
 * not a date or lies outside the run; ERROR_IO naming the path when the
 * directory or a file cannot be created. Files already written stay. */
int report_write_all(const char *dir,
                     const struct report_meta *meta,
                     struct trace *const *traces,
                     int n,
                     struct error_detail *ed);

/* The local midnight of the day the HTML plots show (see plot_date).
 * Errors as for report_write_all(). */
int report_plot_day(const struct report_meta *meta,
                    struct trace *const *traces,
                    int n,
                    int64_t *day_ms,
                    struct error_detail *ed);

/* Fill / release the KPIs of one trace. */
void report_kpis_compute(const struct trace *t, struct report_kpis *k);
void report_kpis_free(struct report_kpis *k);

/* The KPI comparison table for a terminal: one row per KPI marked brief
 * in kpi_fields (label and unit), one column per strategy, aligned. */
void report_print_table(FILE *f, struct trace *const *traces, int n);

/* Format a progress line "[###########.........] 55% 12.3 s" (bar of 30
 * cells, fraction clamped to 0..1) into buf; returns its length, or -1 if
 * buf is too small (64 bytes always suffice). */
int report_progress_format(char *buf, size_t n, double fraction, double elapsed_s);

/* Redraw the progress line on f with a leading '\r' (no newline: the
 * caller ends the line once after the last call, so that other output
 * does not land on the bar). Prints nothing when f is not a terminal, so
 * logs and pipes stay clean; the caller decides when to start and how
 * often to call (e.g. once per simulated day, once a run has taken 2 s). */
void report_progress(FILE *f, double fraction, double elapsed_s);

#endif
