/* SPDX-License-Identifier: MIT */
/*
 * baseline.c - demand-response baselines (baseline.h, docs/dr.md): a ring
 * of recent measurements and the similar-days mean over the history's
 * 1-min rollups. Runs on the dispatcher's thread only.
 */
#include "baseline.h"

#include "../common/clock.h"

#include <math.h>

void baseline_ring_add(struct baseline_ring *r, int64_t ts_ms, double kw)
{
    if (!isfinite(kw)) {
        return;
    }
    r->ts_ms[r->head] = ts_ms;
    r->kw[r->head] = kw;
    r->head = (r->head + 1) % BASELINE_RING_N;
    if (r->n < BASELINE_RING_N) {
        r->n++;
    }
}

double baseline_ring_mean(const struct baseline_ring *r, int64_t now_ms, int64_t window_ms)
{
    double sum = 0.0;
    int n = 0;

    for (int i = 0; i < r->n; i++) {
        int k = (r->head - 1 - i + BASELINE_RING_N) % BASELINE_RING_N;

        if (r->ts_ms[k] <= now_ms && r->ts_ms[k] > now_ms - window_ms) {
            sum += r->kw[k];
            n++;
        }
    }
    return n > 0 ? sum / n : NAN;
}

static int baseline_weekend(int64_t ts_ms)
{
    struct clock_civil c;

    clock_to_local(ts_ms, &c);
    return c.wday == 0 || c.wday == 6;
}

/* Mean over [from, to) if at least half of its minutes have data. */
static int baseline_window(struct history *h,
                           int64_t from_ms,
                           int64_t to_ms,
                           double *kw,
                           struct error_detail *ed)
{
    int minutes = 0;
    int need = (int)((to_ms - from_ms) / 60000 / 2);
    int rc = history_mean_net_kw(h, from_ms, to_ms, kw, &minutes, ed);

    if (rc == ERROR_OK && (minutes == 0 || minutes < need)) {
        *kw = NAN;
    }
    return rc;
}

int baseline_similar_days(struct history *h,
                          int64_t start_ms,
                          int64_t end_ms,
                          int64_t now_ms,
                          int days,
                          double *kw,
                          int *days_used,
                          double *adjust_kw,
                          struct error_detail *ed)
{
    int weekend = baseline_weekend(start_ms);
    int64_t adj_end = (start_ms < now_ms ? start_ms : now_ms) / 60000 * 60000;
    int64_t adj_start = adj_end - BASELINE_ADJUST_MS;
    double sum = 0.0, adj_sum = 0.0, today = NAN;
    int n = 0, n_adj = 0;
    int rc = ERROR_OK;

    *kw = NAN;
    *days_used = 0;
    *adjust_kw = 0.0;
    for (int k = 1; k <= BASELINE_DAYS_LOOKBACK && n < days && !rc; k++) {
        int64_t back = k * CLOCK_DAY_MS;
        double mean = NAN, adj = NAN;

        if (baseline_weekend(start_ms - back) != weekend) {
            continue;
        }
        rc = baseline_window(h, start_ms - back, end_ms - back, &mean, ed);
        if (!rc && isfinite(mean)) {
            sum += mean;
            n++;
            rc = baseline_window(h, adj_start - back, adj_end - back, &adj, ed);
            if (!rc && isfinite(adj)) {
                adj_sum += adj;
                n_adj++;
            }
        }
    }
    if (!rc && n > 0) {
        *kw = sum / n;
        *days_used = n;
        rc = baseline_window(h, adj_start, adj_end, &today, ed);
        if (!rc && isfinite(today) && n_adj > 0) {
            double limit = BASELINE_ADJUST_LIMIT * fabs(*kw);
            double a = today - adj_sum / n_adj;

            *adjust_kw = a > limit ? limit : a < -limit ? -limit : a;
            *kw += *adjust_kw;
        }
    }
    return rc;
}
