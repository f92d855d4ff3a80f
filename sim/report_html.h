/* SPDX-License-Identifier: MIT */
/*
 * report_html.h - report.html: one self-contained page (inline CSS and
 * SVG, no scripts, fonts or links to other resources) showing one local
 * day of the run as plots, and the KPI and DR tables of every strategy.
 * Everything shown is read from the traces and their KPIs; nothing is
 * interpolated or invented.
 */
#ifndef FLEXD_SIM_REPORT_HTML_H
#define FLEXD_SIM_REPORT_HTML_H

#include "report.h"
#include "strbuf.h"

/* Append the page to b. k[i] are the KPIs of traces[i]; day_ms is the
 * local midnight of the day to plot (report_plot_day()). The same input
 * gives the same bytes (no time stamps, fixed decimals). */
void report_html_build(struct strbuf *b,
                       const struct report_meta *meta,
                       struct trace *const *traces,
                       const struct report_kpis *k,
                       int n,
                       int64_t day_ms);

#endif
