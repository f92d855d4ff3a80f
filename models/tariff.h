/* SPDX-License-Identifier: MIT */
/*
 * tariff.h - the station's electricity tariff: time-of-use prices in four
 * tiers (尖峰 critical peak, 高峰 peak, 平段 flat, 低谷 valley), one price
 * table and one day schedule per season (a set of months), the export
 * (feed-in) price, the monthly demand charge and the EV service fee.
 *
 * A day schedule is a list of periods [start, end) in local minutes
 * (UTC+08:00, clock.h); a period whose end is not after its start wraps
 * past midnight ("23:00"-"07:00"), and "00:00"-"24:00" is the whole day.
 * The periods of a season cover the 24 hours exactly once. Critical peak
 * applies only in seasons whose schedule uses it (in Mengxi: June-August).
 *
 * Pure data and arithmetic; no I/O. config/station_file.c reads it.
 */
#ifndef FLEXD_MODELS_TARIFF_H
#define FLEXD_MODELS_TARIFF_H

#include "../common/error.h"

#include <stdint.h>

enum tariff_tier {
    TARIFF_CRITICAL_PEAK = 0, /* 尖峰 */
    TARIFF_PEAK = 1,          /* 高峰 */
    TARIFF_FLAT = 2,          /* 平段 */
    TARIFF_VALLEY = 3,        /* 低谷 */
};

#define TARIFF_TIERS         4
#define TARIFF_ID_MAX        32
#define TARIFF_SEASONS_MAX   12
#define TARIFF_PERIODS_MAX   24
#define TARIFF_DAY_MINUTES   1440
#define TARIFF_PRICE_MAX_CNY 1e4 /* per kWh or per kW and month; bounds typos */

/* "critical_peak", "peak", "flat", "valley", NULL: the names used in files. */
extern const char *const tariff_tier_names[TARIFF_TIERS + 1];

struct tariff_period {
    int start_min; /* 0..1439, local minutes after midnight */
    int end_min;   /* 0..1440; not after start_min = wraps past midnight */
    enum tariff_tier tier;
};

struct tariff_season {
    char id[TARIFF_ID_MAX];
    unsigned months;                        /* bit m set for month m, 1..12 */
    double price_cny_per_kwh[TARIFF_TIERS]; /* indexed by enum tariff_tier */
    int n_periods;
    struct tariff_period periods[TARIFF_PERIODS_MAX];
};

struct tariff {
    int n_seasons;
    struct tariff_season seasons[TARIFF_SEASONS_MAX];
    double export_cny_per_kwh;             /* paid for energy fed into the grid */
    double demand_charge_cny_per_kw_month; /* on the month's peak import (需量电价) */
    double service_fee_cny_per_kwh;        /* charged to EV drivers on top of energy */
};

/* Name of a tier ("valley"), or "unknown". */
const char *tariff_tier_name(int tier);

/* Minutes a period lasts (1..1440; 0 when start == end). */
int tariff_period_minutes(const struct tariff_period *p);

/* 1 if local minute m (0..1439) lies in the period. */
int tariff_period_contains(const struct tariff_period *p, int minute);

/* Check every rule: 1..12 seasons with unique ids, every month in exactly
 * one season, prices in [0, TARIFF_PRICE_MAX_CNY] ordered valley <= flat
 * <= peak <= critical peak (the last only where used), periods that cover
 * 24 h with no gap and no overlap. ERROR_OK or ERROR_INVALID with ed read
 * as "tariff.seasons[1].periods[2]: 07:00-10:00: overlaps periods[0] ...". */
int tariff_validate(const struct tariff *t, struct error_detail *ed);

/* The season in force at ts_ms (ms since the epoch, UTC), or NULL. */
const struct tariff_season *tariff_season_at(const struct tariff *t, int64_t ts_ms);

/* The tier in force at ts_ms, or -1 when no season or period covers it
 * (never for a validated tariff). */
int tariff_tier_at(const struct tariff *t, int64_t ts_ms);

/* Import price at ts_ms in CNY/kWh; NAN when tariff_tier_at() is -1. */
double tariff_buy_at(const struct tariff *t, int64_t ts_ms);

/* Export (feed-in) price at ts_ms in CNY/kWh: flat all day and year. */
double tariff_sell_at(const struct tariff *t, int64_t ts_ms);

#endif
