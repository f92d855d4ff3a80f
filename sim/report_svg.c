/* SPDX-License-Identifier: MIT */
/*
 * report_svg.c - inline SVG charts for report.html, drawn by hand so the
 * report needs nothing but a browser: no chart library, no fonts, no
 * scripts. Values outside the axis ranges are clamped to the plot box
 * (rather than clipped with a clipPath, whose ids would have to be unique
 * across the page). Pure functions appending to a caller's strbuf.
 */
#include "report_svg.h"

#include <math.h>
#include <stdio.h>

#define SVG_ML       64 /* left margin: y tick labels and y axis label */
#define SVG_MR       16
#define SVG_MT       30 /* title */
#define SVG_MB       42 /* x tick labels and x axis label */
#define SVG_LEGEND_H 18
#define SVG_LEGEND_W 170

static const char *const svg_palette[] = {
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
};

const char *report_svg_color(int i)
{
    int n = (int)(sizeof(svg_palette) / sizeof(svg_palette[0]));

    return svg_palette[((i % n) + n) % n];
}

void report_svg_escape(struct strbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            strbuf_puts(b, "&amp;");
            break;
        case '<':
            strbuf_puts(b, "&lt;");
            break;
        case '>':
            strbuf_puts(b, "&gt;");
            break;
        case '"':
            strbuf_puts(b, "&quot;");
            break;
        case '\'':
            strbuf_puts(b, "&#39;");
            break;
        default:
            strbuf_putc(b, *s);
            break;
        }
    }
}

double report_svg_nice(double *lo, double *hi)
{
    double span;
    double mag;
    double step;
    double f;

    if (!(*hi > *lo)) {
        *lo -= 1.0;
        *hi = *lo + 2.0;
    }
    span = (*hi - *lo) / 5.0;
    mag = pow(10.0, floor(log10(span)));
    f = span / mag;
    if (f <= 1.0) {
        step = mag;
    } else if (f <= 2.0) {
        step = 2.0 * mag;
    } else if (f <= 5.0) {
        step = 5.0 * mag;
    } else {
        step = 10.0 * mag;
    }
    *lo = floor(*lo / step + 1e-9) * step;
    *hi = ceil(*hi / step - 1e-9) * step;
    return step;
}

int report_svg_legend_rows(int width, int n)
{
    int per_row = (width - SVG_ML) / SVG_LEGEND_W;

    if (per_row < 1) {
        per_row = 1;
    }
    return (n + per_row - 1) / per_row;
}

static double svg_top(const struct report_svg_plot *p)
{
    return SVG_MT + SVG_LEGEND_H * p->n_legend;
}

static double svg_px(const struct report_svg_plot *p, double x)
{
    double w = p->width - SVG_ML - SVG_MR;
    double f = (x - p->x0) / (p->x1 - p->x0);

    f = f < 0.0 ? 0.0 : (f > 1.0 ? 1.0 : f);
    return SVG_ML + f * w;
}

static double svg_py(const struct report_svg_plot *p, double y)
{
    double top = svg_top(p);
    double h = p->height - SVG_MB - top;
    double f = (y - p->y0) / (p->y1 - p->y0);

    f = f < 0.0 ? 0.0 : (f > 1.0 ? 1.0 : f);
    return top + (1.0 - f) * h;
}

/* "x,y " with one decimal each. */
static void svg_point(struct strbuf *b, double x, double y)
{
    strbuf_fixed(b, x, 1);
    strbuf_putc(b, ',');
    strbuf_fixed(b, y, 1);
    strbuf_putc(b, ' ');
}

/* Text in the default 11 px font, or 13 px bold for titles. */
static void
svg_text(struct strbuf *b, double x, double y, const char *anchor, int title, const char *text)
{
    strbuf_puts(b, "<text x=\"");
    strbuf_fixed(b, x, 1);
    strbuf_puts(b, "\" y=\"");
    strbuf_fixed(b, y, 1);
    strbuf_printf(b,
                  "\" text-anchor=\"%s\" font-family=\"sans-serif\" font-size=\"%d\"%s>",
                  anchor,
                  title ? 13 : 11,
                  title ? " font-weight=\"bold\"" : "");
    report_svg_escape(b, text);
    strbuf_puts(b, "</text>\n");
}

static void svg_y_axis(struct strbuf *b, const struct report_svg_plot *p, double step)
{
    char label[48];
    double top = svg_top(p);
    double bottom = p->height - SVG_MB;

    for (double y = p->y0; y <= p->y1 + step * 1e-6; y += step) {
        double py = svg_py(p, y);
        double shown = fabs(y) < step * 1e-6 ? 0.0 : y;
        int dec = step >= 1.0 ? 0 : (step >= 0.1 ? 1 : 2);

        strbuf_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"", SVG_ML, p->width - SVG_MR);
        strbuf_fixed(b, py, 1);
        strbuf_puts(b, "\" y2=\"");
        strbuf_fixed(b, py, 1);
        strbuf_puts(b, "\" stroke=\"#ddd\"/>\n");
        snprintf(label, sizeof(label), "%.*f", dec, shown);
        svg_text(b, SVG_ML - 4, py + 4, "end", 0, label);
    }
    snprintf(label, sizeof(label), "rotate(-90 14 %.1f)", (top + bottom) / 2.0);
    strbuf_puts(b, "<text x=\"14\" y=\"");
    strbuf_fixed(b, (top + bottom) / 2.0, 1);
    strbuf_printf(b,
                  "\" text-anchor=\"middle\" transform=\"%s\" font-family=\"sans-serif\" "
                  "font-size=\"11\">",
                  label);
    report_svg_escape(b, p->y_label ? p->y_label : "");
    strbuf_puts(b, "</text>\n");
}

static void svg_x_axis(struct strbuf *b, const struct report_svg_plot *p)
{
    char label[32];
    double bottom = p->height - SVG_MB;
    double step = 3.0;

    if (p->x_kind == REPORT_SVG_X_NONE) {
        return;
    }
    if (p->x_kind == REPORT_SVG_X_NUMBER) {
        double lo = p->x0;
        double hi = p->x1;

        step = report_svg_nice(&lo, &hi);
    }
    for (double x = p->x0; x <= p->x1 + step * 1e-6; x += step) {
        double px = svg_px(p, x);

        strbuf_puts(b, "<line x1=\"");
        strbuf_fixed(b, px, 1);
        strbuf_puts(b, "\" x2=\"");
        strbuf_fixed(b, px, 1);
        strbuf_printf(b, "\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", svg_top(p), bottom);
        if (p->x_kind == REPORT_SVG_X_HOURS) {
            snprintf(label, sizeof(label), "%02d:00", (int)lround(x));
        } else {
            snprintf(label, sizeof(label), "%g", x);
        }
        svg_text(b, px, bottom + 14, "middle", 0, label);
    }
    svg_text(b,
             SVG_ML + (p->width - SVG_ML - SVG_MR) / 2.0,
             p->height - 8,
             "middle",
             0,
             p->x_label ? p->x_label : "");
}

void report_svg_begin(struct strbuf *b, struct report_svg_plot *p)
{
    double step;

    if (!(p->x1 > p->x0)) {
        p->x1 = p->x0 + 1.0;
    }
    step = report_svg_nice(&p->y0, &p->y1);
    strbuf_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" role=\"img\">\n",
                  p->width,
                  p->height,
                  p->width,
                  p->height);
    strbuf_puts(b, "<title>");
    report_svg_escape(b, p->title ? p->title : "");
    strbuf_puts(b, "</title>\n");
    strbuf_printf(b,
                  "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n",
                  p->width,
                  p->height);
    svg_text(b, p->width / 2.0, 18, "middle", 1, p->title ? p->title : "");
    svg_y_axis(b, p, step);
    svg_x_axis(b, p);
    strbuf_printf(b,
                  "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"none\" "
                  "stroke=\"#444\"/>\n",
                  SVG_ML,
                  svg_top(p),
                  p->width - SVG_ML - SVG_MR,
                  p->height - SVG_MB - svg_top(p));
}

void report_svg_end(struct strbuf *b)
{
    strbuf_puts(b, "</svg>\n");
}

void report_svg_step_line(struct strbuf *b,
                          const struct report_svg_plot *p,
                          const double *x,
                          const double *y,
                          int n,
                          double dx,
                          const char *color,
                          double width,
                          const char *dash)
{
    int i = 0;

    while (i < n) {
        if (!isfinite(y[i])) {
            i++;
            continue;
        }
        strbuf_puts(b, "<polyline fill=\"none\" points=\"");
        for (; i < n && isfinite(y[i]); i++) {
            double py = svg_py(p, y[i]);

            svg_point(b, svg_px(p, x[i]), py);
            svg_point(b, svg_px(p, x[i] + dx), py);
        }
        strbuf_printf(b, "\" stroke=\"%s\" stroke-width=\"%.1f\"", color, width);
        if (dash) {
            strbuf_printf(b, " stroke-dasharray=\"%s\"", dash);
        }
        strbuf_puts(b, "/>\n");
    }
}

void report_svg_line(struct strbuf *b,
                     const struct report_svg_plot *p,
                     const double *x,
                     const double *y,
                     int n,
                     const char *color,
                     double width)
{
    int i = 0;

    while (i < n) {
        if (!isfinite(y[i])) {
            i++;
            continue;
        }
        strbuf_puts(b, "<polyline fill=\"none\" points=\"");
        for (; i < n && isfinite(y[i]); i++) {
            svg_point(b, svg_px(p, x[i]), svg_py(p, y[i]));
        }
        strbuf_printf(b, "\" stroke=\"%s\" stroke-width=\"%.1f\"/>\n", color, width);
    }
}

void report_svg_step_area(struct strbuf *b,
                          const struct report_svg_plot *p,
                          const double *x,
                          const double *lo,
                          const double *hi,
                          int n,
                          double dx,
                          const char *color)
{
    if (n <= 0) {
        return;
    }
    strbuf_puts(b, "<polygon points=\"");
    for (int i = 0; i < n; i++) {
        svg_point(b, svg_px(p, x[i]), svg_py(p, hi[i]));
        svg_point(b, svg_px(p, x[i] + dx), svg_py(p, hi[i]));
    }
    for (int i = n - 1; i >= 0; i--) {
        svg_point(b, svg_px(p, x[i] + dx), svg_py(p, lo[i]));
        svg_point(b, svg_px(p, x[i]), svg_py(p, lo[i]));
    }
    strbuf_printf(b, "\" fill=\"%s\" fill-opacity=\"0.85\" stroke=\"none\"/>\n", color);
}

void report_svg_band(struct strbuf *b,
                     const struct report_svg_plot *p,
                     double xa,
                     double xb,
                     const char *color,
                     double opacity)
{
    double pa = svg_px(p, xa);
    double pb = svg_px(p, xb);
    double top = svg_top(p);

    if (pb <= pa) {
        return;
    }
    strbuf_puts(b, "<rect x=\"");
    strbuf_fixed(b, pa, 1);
    strbuf_printf(b, "\" y=\"%.1f\" width=\"", top);
    strbuf_fixed(b, pb - pa, 1);
    strbuf_printf(b,
                  "\" height=\"%.1f\" fill=\"%s\" fill-opacity=\"%.2f\"/>\n",
                  p->height - SVG_MB - top,
                  color,
                  opacity);
}

void report_svg_hline(struct strbuf *b,
                      const struct report_svg_plot *p,
                      double y,
                      const char *color)
{
    double py = svg_py(p, y);

    strbuf_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"", SVG_ML, p->width - SVG_MR);
    strbuf_fixed(b, py, 1);
    strbuf_puts(b, "\" y2=\"");
    strbuf_fixed(b, py, 1);
    strbuf_printf(b, "\" stroke=\"%s\"/>\n", color);
}

void report_svg_legend(struct strbuf *b,
                       const struct report_svg_plot *p,
                       int i,
                       const char *name,
                       const char *color,
                       int key)
{
    int per_row = (p->width - SVG_ML) / SVG_LEGEND_W;
    double x;
    double y;

    if (per_row < 1) {
        per_row = 1;
    }
    x = SVG_ML + (i % per_row) * SVG_LEGEND_W;
    y = SVG_MT + (i / per_row) * SVG_LEGEND_H + 4;
    if (key != REPORT_SVG_KEY_BOX) {
        strbuf_printf(b,
                      "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                      "stroke-width=\"2.5\"%s/>\n",
                      x,
                      x + 18,
                      y + 5,
                      y + 5,
                      color,
                      key == REPORT_SVG_KEY_DASH  ? " stroke-dasharray=\"6 3\""
                      : key == REPORT_SVG_KEY_DOT ? " stroke-dasharray=\"2 2\""
                                                  : "");
    } else {
        strbuf_printf(b,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"10\" fill=\"%s\"/>\n",
                      x,
                      y,
                      color);
    }
    svg_text(b, x + 24, y + 9, "start", 0, name);
}

void report_svg_bars(struct strbuf *b,
                     const struct report_svg_plot *p,
                     const char *const *names,
                     const double *v,
                     const char *const *colors,
                     int n,
                     int decimals)
{
    char label[48];
    double plot_w = p->width - SVG_ML - SVG_MR;
    double slot = n > 0 ? plot_w / n : plot_w;
    double zero = svg_py(p, 0.0);

    for (int i = 0; i < n; i++) {
        double xa = SVG_ML + i * slot + slot * 0.15;
        double py = svg_py(p, v[i]);
        double top = py < zero ? py : zero;
        double h = fabs(zero - py);

        strbuf_printf(b,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
                      xa,
                      top,
                      slot * 0.7,
                      h,
                      colors[i]);
        snprintf(label, sizeof(label), "%.*f", decimals, v[i]);
        svg_text(b, xa + slot * 0.35, v[i] >= 0.0 ? top - 3 : top + h + 11, "middle", 0, label);
        svg_text(b, xa + slot * 0.35, p->height - SVG_MB + 14, "middle", 0, names[i]);
    }
}
