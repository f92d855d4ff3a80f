/* SPDX-License-Identifier: MIT */
/*
 * tariff.c - time-of-use price lookup and the rules a tariff must keep.
 * Lookups convert UTC to local civil time through clock_to_local() (fixed
 * UTC+08:00) and scan the few seasons and periods linearly: a tariff has at
 * most 12 x 24 periods, and the optimiser asks once per step.
 * Pure functions, any thread.
 */
#include "tariff.h"

#include "../common/clock.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const tariff_tier_names[TARIFF_TIERS + 1] = {
    "critical_peak",
    "peak",
    "flat",
    "valley",
    NULL,
};

#define TARIFF_ALL_MONTHS 0x1ffeu /* bits 1..12 */

const char *tariff_tier_name(int tier)
{
    if (tier < 0 || tier >= TARIFF_TIERS) {
        return "unknown";
    }
    return tariff_tier_names[tier];
}

int tariff_period_minutes(const struct tariff_period *p)
{
    int end = p->end_min;

    if (end <= p->start_min) {
        end += TARIFF_DAY_MINUTES;
    }
    if (p->end_min == p->start_min) {
        return 0;
    }
    return end - p->start_min;
}

int tariff_period_contains(const struct tariff_period *p, int minute)
{
    int len = tariff_period_minutes(p);
    int off = (minute - p->start_min + TARIFF_DAY_MINUTES) % TARIFF_DAY_MINUTES;

    return off < len;
}

/* "07:00-10:00" for messages. */
static void tariff_span(const struct tariff_period *p, char *buf, size_t n)
{
    int s = p->start_min;
    int e = p->end_min;

    (void)snprintf(buf, n, "%02d:%02d-%02d:%02d", s / 60 % 100, s % 60, e / 60 % 100, e % 60);
}

static int tariff_check_price(double v, const char *path, struct error_detail *ed)
{
    if (!isfinite(v) || v < 0 || v > TARIFF_PRICE_MAX_CNY) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "%s: %g: must be in [0, %g]",
                          path,
                          v,
                          TARIFF_PRICE_MAX_CNY);
    }
    return ERROR_OK;
}

static int tariff_check_prices(const struct tariff_season *s, int i, struct error_detail *ed)
{
    const double *p = s->price_cny_per_kwh;
    int uses_critical = 0;
    char path[96];

    for (int k = 0; k < TARIFF_TIERS; k++) {
        (void)snprintf(path,
                       sizeof(path),
                       "tariff.seasons[%d].prices_cny_per_kwh.%s",
                       i,
                       tariff_tier_names[k]);
        if (tariff_check_price(p[k], path, ed)) {
            return ERROR_INVALID;
        }
    }
    for (int k = 0; k < s->n_periods && k < TARIFF_PERIODS_MAX; k++) {
        uses_critical |= s->periods[k].tier == TARIFF_CRITICAL_PEAK;
    }
    for (int k = TARIFF_FLAT; k >= (uses_critical ? TARIFF_CRITICAL_PEAK : TARIFF_PEAK); k--) {
        if (p[k] < p[k + 1]) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "tariff.seasons[%d].prices_cny_per_kwh.%s: %g: must not be below "
                              "%s %g",
                              i,
                              tariff_tier_names[k],
                              p[k],
                              tariff_tier_names[k + 1],
                              p[k + 1]);
        }
    }
    return ERROR_OK;
}

static int tariff_check_period(const struct tariff_period *p, int i, int k, struct error_detail *ed)
{
    if (p->start_min < 0 || p->start_min >= TARIFF_DAY_MINUTES) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "tariff.seasons[%d].periods[%d].start: minute %d: must be in [00:00, "
                          "23:59]",
                          i,
                          k,
                          p->start_min);
    }
    if (p->end_min < 0 || p->end_min > TARIFF_DAY_MINUTES) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "tariff.seasons[%d].periods[%d].end: minute %d: must be in [00:00, "
                          "24:00]",
                          i,
                          k,
                          p->end_min);
    }
    if (tariff_period_minutes(p) == 0) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "tariff.seasons[%d].periods[%d].end: %02d:%02d: must differ from start "
                          "(use \"00:00\"-\"24:00\" for the whole day)",
                          i,
                          k,
                          p->end_min / 60,
                          p->end_min % 60);
    }
    if ((int)p->tier < 0 || (int)p->tier >= TARIFF_TIERS) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "tariff.seasons[%d].periods[%d].tier: %d: unknown tier",
                          i,
                          k,
                          (int)p->tier);
    }
    return ERROR_OK;
}

/* The periods of season i cover every minute of the day exactly once. */
static int tariff_check_day(const struct tariff_season *s, int i, struct error_detail *ed)
{
    signed char owner[TARIFF_DAY_MINUTES];
    char a[16];
    char b[16];

    if (s->n_periods < 1 || s->n_periods > TARIFF_PERIODS_MAX) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "tariff.seasons[%d].periods: %d periods: must be 1..%d",
                          i,
                          s->n_periods,
                          TARIFF_PERIODS_MAX);
    }
    memset(owner, -1, sizeof(owner));
    for (int k = 0; k < s->n_periods; k++) {
        const struct tariff_period *p = &s->periods[k];
        int len;

        if (tariff_check_period(p, i, k, ed)) {
            return ERROR_INVALID;
        }
        len = tariff_period_minutes(p);
        for (int m = 0; m < len; m++) {
            int minute = (p->start_min + m) % TARIFF_DAY_MINUTES;

            if (owner[minute] >= 0) {
                tariff_span(p, a, sizeof(a));
                tariff_span(&s->periods[owner[minute]], b, sizeof(b));
                return error_setf(ed,
                                  ERROR_INVALID,
                                  "tariff.seasons[%d].periods[%d]: %s: overlaps periods[%d] (%s) "
                                  "at %02d:%02d",
                                  i,
                                  k,
                                  a,
                                  owner[minute],
                                  b,
                                  minute / 60,
                                  minute % 60);
            }
            owner[minute] = (signed char)k;
        }
    }
    for (int m = 0; m < TARIFF_DAY_MINUTES; m++) {
        int e = m;

        if (owner[m] >= 0) {
            continue;
        }
        while (e < TARIFF_DAY_MINUTES && owner[e] < 0) {
            e++;
        }
        return error_setf(ed,
                          ERROR_INVALID,
                          "tariff.seasons[%d].periods: %02d:%02d-%02d:%02d: not covered: the "
                          "periods must cover 24 h",
                          i,
                          m / 60,
                          m % 60,
                          e / 60,
                          e % 60);
    }
    return ERROR_OK;
}

static int tariff_check_months(const struct tariff *t, struct error_detail *ed)
{
    unsigned seen = 0;

    for (int i = 0; i < t->n_seasons; i++) {
        const struct tariff_season *s = &t->seasons[i];

        if (s->months == 0 || (s->months & ~TARIFF_ALL_MONTHS)) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "tariff.seasons[%d].months: mask 0x%x: must list months in [1, 12]",
                              i,
                              s->months);
        }
        for (int m = 1; m <= 12; m++) {
            if ((s->months & seen) & (1u << m)) {
                return error_setf(ed,
                                  ERROR_INVALID,
                                  "tariff.seasons[%d].months: %d: already in an earlier season",
                                  i,
                                  m);
            }
        }
        seen |= s->months;
    }
    for (int m = 1; m <= 12; m++) {
        if (!(seen & (1u << m))) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "tariff.seasons: month %d: in no season: every month needs one",
                              m);
        }
    }
    return ERROR_OK;
}

static int tariff_check_seasons(const struct tariff *t, struct error_detail *ed)
{
    for (int i = 0; i < t->n_seasons; i++) {
        const struct tariff_season *s = &t->seasons[i];

        if (s->id[0] == '\0' || !memchr(s->id, '\0', sizeof(s->id))) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "tariff.seasons[%d].id: must be a non-empty name",
                              i);
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(t->seasons[j].id, s->id) == 0) {
                return error_setf(ed,
                                  ERROR_INVALID,
                                  "tariff.seasons[%d].id: \"%s\": duplicates seasons[%d]",
                                  i,
                                  s->id,
                                  j);
            }
        }
        if (tariff_check_day(s, i, ed) || tariff_check_prices(s, i, ed)) {
            return ERROR_INVALID;
        }
    }
    return ERROR_OK;
}

int tariff_validate(const struct tariff *t, struct error_detail *ed)
{
    if (t->n_seasons < 1 || t->n_seasons > TARIFF_SEASONS_MAX) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "tariff.seasons: %d seasons: must be 1..%d",
                          t->n_seasons,
                          TARIFF_SEASONS_MAX);
    }
    if (tariff_check_seasons(t, ed) || tariff_check_months(t, ed) ||
        tariff_check_price(t->export_cny_per_kwh, "tariff.export_cny_per_kwh", ed) ||
        tariff_check_price(t->demand_charge_cny_per_kw_month,
                           "tariff.demand_charge_cny_per_kw_month",
                           ed) ||
        tariff_check_price(t->service_fee_cny_per_kwh, "tariff.service_fee_cny_per_kwh", ed)) {
        return ERROR_INVALID;
    }
    return ERROR_OK;
}

const struct tariff_season *tariff_season_at(const struct tariff *t, int64_t ts_ms)
{
    struct clock_civil c;

    clock_to_local(ts_ms, &c);
    for (int i = 0; i < t->n_seasons && i < TARIFF_SEASONS_MAX; i++) {
        if (t->seasons[i].months & (1u << c.month)) {
            return &t->seasons[i];
        }
    }
    return NULL;
}

int tariff_tier_at(const struct tariff *t, int64_t ts_ms)
{
    const struct tariff_season *s = tariff_season_at(t, ts_ms);
    struct clock_civil c;
    int minute;

    if (!s) {
        return -1;
    }
    clock_to_local(ts_ms, &c);
    minute = c.hour * 60 + c.minute;
    for (int k = 0; k < s->n_periods && k < TARIFF_PERIODS_MAX; k++) {
        if (tariff_period_contains(&s->periods[k], minute)) {
            return (int)s->periods[k].tier;
        }
    }
    return -1;
}

double tariff_buy_at(const struct tariff *t, int64_t ts_ms)
{
    const struct tariff_season *s = tariff_season_at(t, ts_ms);
    int tier = tariff_tier_at(t, ts_ms);

    if (!s || tier < 0 || tier >= TARIFF_TIERS) {
        return NAN;
    }
    return s->price_cny_per_kwh[tier];
}

double tariff_sell_at(const struct tariff *t, int64_t ts_ms)
{
    (void)ts_ms; /* a flat feed-in price today; time-of-use export would go here */
    return t->export_cny_per_kwh;
}
