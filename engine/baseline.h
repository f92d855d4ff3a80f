/* SPDX-License-Identifier: MIT */
/*
 * baseline.h - demand-response baselines: what the station would have
 * imported without the event, from which "reduce by X kW" becomes a cap
 * and delivery is measured (docs/dr.md "Baselines").
 *
 * Two methods (station file mqtt.dr_baseline):
 *   similar_days  the mean net import over the same local window on the
 *                 last N days of the same kind (Monday-Friday or
 *                 Saturday-Sunday) that have data in the history's 1-min
 *                 rollups, plus a same-day adjustment: today's mean over
 *                 the 2 h before min(event start, now) minus the same
 *                 2 h on those days, limited to +-20 % of the baseline;
 *   recent_15min  the mean measured net import over the last 15 min
 *                 (a ring of 1-s samples the dispatcher keeps).
 *
 * Owned by the dispatcher's thread (engine/dispatch.c); not thread-safe.
 */
#ifndef FLEXD_ENGINE_BASELINE_H
#define FLEXD_ENGINE_BASELINE_H

#include "../common/error.h"
#include "../io/history.h"

#include <stddef.h>
#include <stdint.h>

#define BASELINE_RING_N        900 /* 15 min of 1-s samples */
#define BASELINE_RECENT_MS     (15 * 60 * 1000LL)
#define BASELINE_ADJUST_MS     (2 * 3600 * 1000LL)
#define BASELINE_ADJUST_LIMIT  0.2 /* of the baseline */
#define BASELINE_DAYS_LOOKBACK 30  /* calendar days searched for similar ones at most */

/* The last 15 min of measured net import, one sample per tick. */
struct baseline_ring {
    int64_t ts_ms[BASELINE_RING_N];
    double kw[BASELINE_RING_N];
    int head; /* next slot */
    int n;
};

void baseline_ring_add(struct baseline_ring *r, int64_t ts_ms, double kw);

/* Mean of the samples in (now_ms - window_ms, now_ms]; NAN with none. */
double baseline_ring_mean(const struct baseline_ring *r, int64_t now_ms, int64_t window_ms);

/* The similar-days baseline of [start_ms, end_ms) seen at now_ms from h:
 * *kw is NAN when no similar day has data for at least half the window
 * (not an error); *days_used gets the days averaged and *adjust_kw the
 * same-day adjustment included in *kw. ERROR_IO when the history fails. */
int baseline_similar_days(struct history *h,
                          int64_t start_ms,
                          int64_t end_ms,
                          int64_t now_ms,
                          int days,
                          double *kw,
                          int *days_used,
                          double *adjust_kw,
                          struct error_detail *ed);

#endif
