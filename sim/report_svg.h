/* SPDX-License-Identifier: MIT */
/*
 * report_svg.h - the few inline-SVG chart primitives report.html needs:
 * axes with nice ticks, step lines, stacked step areas, shaded bands,
 * legends and bar panels. Output is appended to a strbuf; coordinates are
 * printed with one decimal so the same data give the same bytes. No
 * external fonts, scripts or style sheets.
 */
#ifndef FLEXD_SIM_REPORT_SVG_H
#define FLEXD_SIM_REPORT_SVG_H

#include "strbuf.h"

#define REPORT_SVG_X_NUMBER 0 /* numeric x ticks */
#define REPORT_SVG_X_HOURS  1 /* x is local hours 0..24, ticks every 3 h as "06:00" */
#define REPORT_SVG_X_NONE   2 /* categories (bars): no x ticks */

/* One chart: data ranges, pixel size and texts. The plot area is the box
 * inside the margins; data outside the ranges are clipped to it. */
struct report_svg_plot {
    double x0, x1; /* data x range (hours for time charts) */
    double y0, y1; /* data y range; report_svg_begin() widens it to nice ticks */
    int width;     /* total px */
    int height;
    const char *title;
    const char *x_label;
    const char *y_label;
    int x_kind;   /* REPORT_SVG_X_... */
    int n_legend; /* rows reserved for the legend above the plot, see
                     report_svg_legend_rows() */
};

/* Palette colour i (cycles). */
const char *report_svg_color(int i);

/* Append s with &, <, >, " and ' escaped (valid in HTML and SVG text). */
void report_svg_escape(struct strbuf *b, const char *s);

/* Widen [*lo, *hi] to multiples of a 1-2-5 step giving about 5 ticks;
 * returns the step. An empty range becomes [lo - 1, lo + 1]. */
double report_svg_nice(double *lo, double *hi);

/* Open <svg>, draw the title, grid, ticks and axis labels. */
void report_svg_begin(struct strbuf *b, struct report_svg_plot *p);

/* Close the clip group and the </svg>. */
void report_svg_end(struct strbuf *b);

/* A step line: value y[i] holds on [x[i], x[i] + dx); a NaN y[i] leaves a
 * gap. dash is an SVG stroke-dasharray or NULL. */
void report_svg_step_line(struct strbuf *b,
                          const struct report_svg_plot *p,
                          const double *x,
                          const double *y,
                          int n,
                          double dx,
                          const char *color,
                          double width,
                          const char *dash);

/* A straight polyline through (x[i], y[i]), for values sampled at instants
 * (a state of charge at the end of each step); NaN leaves a gap. */
void report_svg_line(struct strbuf *b,
                     const struct report_svg_plot *p,
                     const double *x,
                     const double *y,
                     int n,
                     const char *color,
                     double width);

/* The area between two step curves lo[i]..hi[i] on [x[i], x[i] + dx). */
void report_svg_step_area(struct strbuf *b,
                          const struct report_svg_plot *p,
                          const double *x,
                          const double *lo,
                          const double *hi,
                          int n,
                          double dx,
                          const char *color);

/* A shaded vertical band over the full plot height for x in [xa, xb). */
void report_svg_band(struct strbuf *b,
                     const struct report_svg_plot *p,
                     double xa,
                     double xb,
                     const char *color,
                     double opacity);

/* A horizontal line at y (e.g. zero). */
void report_svg_hline(struct strbuf *b,
                      const struct report_svg_plot *p,
                      double y,
                      const char *color);

/* Legend rows needed for n entries in a chart width px wide. */
int report_svg_legend_rows(int width, int n);

#define REPORT_SVG_KEY_BOX  0 /* filled box (areas, bands, bars) */
#define REPORT_SVG_KEY_LINE 1 /* solid line */
#define REPORT_SVG_KEY_DASH 2 /* dashed line "6 3" */
#define REPORT_SVG_KEY_DOT  3 /* dotted line "2 2" */

/* One legend entry in the legend rows: slot i, a swatch of kind
 * REPORT_SVG_KEY_... and the text. */
void report_svg_legend(struct strbuf *b,
                       const struct report_svg_plot *p,
                       int i,
                       const char *name,
                       const char *color,
                       int key);

/* Bars for n categories: value v[i], colour colors[i], name under the bar,
 * value printed with `decimals` above (or below, if negative) it. The y
 * range of p must already include 0 and every value. */
void report_svg_bars(struct strbuf *b,
                     const struct report_svg_plot *p,
                     const char *const *names,
                     const double *v,
                     const char *const *colors,
                     int n,
                     int decimals);

#endif
