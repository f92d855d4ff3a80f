/* SPDX-License-Identifier: MIT */
/*
 * report_csv.h - the two CSV files of a simulation report, built in
 * memory: sessions.csv and timeseries.csv (columns in docs/simulation.md).
 * Fixed decimals, so the same traces give the same bytes. Called by
 * report_write_all(); exported for tests and benchmarks.
 */
#ifndef FLEXD_SIM_REPORT_CSV_H
#define FLEXD_SIM_REPORT_CSV_H

#include "strbuf.h"
#include "trace.h"

/* The header lines, without the trailing newline. */
extern const char report_csv_sessions_header[];
extern const char report_csv_timeseries_header[];

/* Append sessions.csv (header + one row per session of each trace, traces
 * in order). */
void report_csv_sessions(struct strbuf *b, struct trace *const *traces, int n);

/* Append timeseries.csv (header + every row of traces[0], then of
 * traces[1]...). No allocation per row. */
void report_csv_timeseries(struct strbuf *b, struct trace *const *traces, int n);

/* Append s as one CSV field, quoted (RFC 4180) only if it holds a comma, a
 * quote or a line break. */
void report_csv_field(struct strbuf *b, const char *s);

#endif
