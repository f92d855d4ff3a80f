/* SPDX-License-Identifier: MIT */
/*
 * test_tariff.c - time-of-use lookup and tariff rules, on a tariff built in
 * code with the shape of config/ulanhada.json (Mengxi: big-wind and
 * small-wind seasons, critical peak 18:00-20:00 in June-August): known
 * local times map to the right tier and price in each season, month and
 * midnight boundaries, UTC vs local, and validation of gaps, overlaps,
 * wrapped periods, month cover and price order.
 */
#include "check.h"

#include "../../common/clock.h"
#include "../../models/tariff.h"

#include <math.h>
#include <string.h>

#define HM(h, m) ((h)*60 + (m))

static void tt_period(struct tariff_season *s, int start, int end, enum tariff_tier tier)
{
    struct tariff_period *p = &s->periods[s->n_periods++];

    p->start_min = start;
    p->end_min = end;
    p->tier = tier;
}

static void tt_day(struct tariff_season *s, int critical)
{
    s->n_periods = 0;
    tt_period(s, HM(23, 0), HM(7, 0), TARIFF_VALLEY);
    tt_period(s, HM(7, 0), HM(11, 0), TARIFF_FLAT);
    tt_period(s, HM(11, 0), HM(15, 0), TARIFF_VALLEY);
    tt_period(s, HM(15, 0), HM(17, 0), TARIFF_FLAT);
    if (critical) {
        tt_period(s, HM(17, 0), HM(18, 0), TARIFF_PEAK);
        tt_period(s, HM(18, 0), HM(20, 0), TARIFF_CRITICAL_PEAK);
        tt_period(s, HM(20, 0), HM(23, 0), TARIFF_PEAK);
    } else {
        tt_period(s, HM(17, 0), HM(23, 0), TARIFF_PEAK);
    }
}

static void tt_mengxi(struct tariff *t)
{
    struct tariff_season *big = &t->seasons[0];
    struct tariff_season *small = &t->seasons[1];

    memset(t, 0, sizeof(*t));
    t->n_seasons = 2;
    snprintf(big->id, sizeof(big->id), "%s", "big_wind");
    big->months = 0x1ffeu & ~((1u << 6) | (1u << 7) | (1u << 8));
    big->price_cny_per_kwh[TARIFF_PEAK] = 0.644;
    big->price_cny_per_kwh[TARIFF_FLAT] = 0.5;
    big->price_cny_per_kwh[TARIFF_VALLEY] = 0.437;
    tt_day(big, 0);
    snprintf(small->id, sizeof(small->id), "%s", "small_wind");
    small->months = (1u << 6) | (1u << 7) | (1u << 8);
    small->price_cny_per_kwh[TARIFF_CRITICAL_PEAK] = 0.7328;
    small->price_cny_per_kwh[TARIFF_PEAK] = 0.644;
    small->price_cny_per_kwh[TARIFF_FLAT] = 0.5;
    small->price_cny_per_kwh[TARIFF_VALLEY] = 0.341;
    tt_day(small, 1);
    t->export_cny_per_kwh = 0.2829;
    t->demand_charge_cny_per_kw_month = 30;
    t->service_fee_cny_per_kwh = 0.6;
}

static void
tt_at(const struct tariff *t, int y, int mo, int d, int h, int mi, int s, int tier, double price)
{
    int64_t ts = clock_from_local(y, mo, d, h, mi, s);
    int got = tariff_tier_at(t, ts);

    CHECK(got == tier);
    CHECK_NEAR(tariff_buy_at(t, ts), price, 1e-12);
    if (got != tier) {
        fprintf(stderr,
                "  %04d-%02d-%02d %02d:%02d:%02d: tier %s, want %s\n",
                y,
                mo,
                d,
                h,
                mi,
                s,
                tariff_tier_name(got),
                tariff_tier_name(tier));
    }
}

static void test_lookup(void)
{
    struct tariff t;
    struct error_detail ed;

    tt_mengxi(&t);
    CHECK(tariff_validate(&t, &ed) == ERROR_OK);
    /* small-wind season (July): critical peak 18-20, midday valley */
    tt_at(&t, 2027, 7, 17, 19, 0, 0, TARIFF_CRITICAL_PEAK, 0.7328);
    tt_at(&t, 2027, 7, 17, 18, 0, 0, TARIFF_CRITICAL_PEAK, 0.7328);
    tt_at(&t, 2027, 7, 17, 17, 59, 59, TARIFF_PEAK, 0.644);
    tt_at(&t, 2027, 7, 17, 20, 0, 0, TARIFF_PEAK, 0.644);
    tt_at(&t, 2027, 7, 17, 12, 30, 0, TARIFF_VALLEY, 0.341);
    tt_at(&t, 2027, 7, 17, 8, 15, 0, TARIFF_FLAT, 0.5);
    tt_at(&t, 2027, 7, 17, 23, 30, 0, TARIFF_VALLEY, 0.341);
    tt_at(&t, 2027, 7, 17, 0, 0, 0, TARIFF_VALLEY, 0.341);
    tt_at(&t, 2027, 7, 17, 6, 59, 59, TARIFF_VALLEY, 0.341);
    tt_at(&t, 2027, 7, 17, 7, 0, 0, TARIFF_FLAT, 0.5);
    /* big-wind season (January, October): no critical peak */
    tt_at(&t, 2027, 1, 15, 19, 0, 0, TARIFF_PEAK, 0.644);
    tt_at(&t, 2027, 1, 15, 13, 0, 0, TARIFF_VALLEY, 0.437);
    tt_at(&t, 2027, 10, 1, 16, 0, 0, TARIFF_FLAT, 0.5);
    tt_at(&t, 2027, 12, 31, 23, 59, 59, TARIFF_VALLEY, 0.437);
    /* season boundaries fall on local midnight */
    tt_at(&t, 2027, 5, 31, 19, 0, 0, TARIFF_PEAK, 0.644);
    tt_at(&t, 2027, 6, 1, 19, 0, 0, TARIFF_CRITICAL_PEAK, 0.7328);
    tt_at(&t, 2027, 5, 31, 23, 59, 0, TARIFF_VALLEY, 0.437);
    tt_at(&t, 2027, 6, 1, 0, 0, 0, TARIFF_VALLEY, 0.341);
    tt_at(&t, 2027, 8, 31, 19, 0, 0, TARIFF_CRITICAL_PEAK, 0.7328);
    tt_at(&t, 2027, 9, 1, 19, 0, 0, TARIFF_PEAK, 0.644);
    /* local is UTC+08:00: 2027-07-17 11:00 UTC is 19:00 local; 16:00 UTC
     * on 2027-05-31 is already 00:00 on 1 June locally */
    CHECK(tariff_tier_at(&t, 1815822000000LL) == TARIFF_CRITICAL_PEAK);
    CHECK(clock_from_local(2027, 7, 17, 19, 0, 0) == 1815822000000LL);
    CHECK(tariff_season_at(&t, clock_from_local(2027, 6, 1, 0, 0, 0)) == &t.seasons[1]);
    CHECK(tariff_season_at(&t, clock_from_local(2027, 5, 31, 23, 59, 59)) == &t.seasons[0]);
    CHECK_NEAR(tariff_sell_at(&t, clock_from_local(2027, 7, 17, 12, 0, 0)), 0.2829, 0);
    CHECK(strcmp(tariff_tier_name(TARIFF_CRITICAL_PEAK), "critical_peak") == 0);
    CHECK(strcmp(tariff_tier_name(TARIFF_VALLEY), "valley") == 0);
    CHECK(strcmp(tariff_tier_name(7), "unknown") == 0);
    /* a season without a period for the hour: -1 and NAN, never a guess */
    t.seasons[1].n_periods = 2;
    CHECK(tariff_tier_at(&t, clock_from_local(2027, 7, 17, 19, 0, 0)) == -1);
    CHECK(isnan(tariff_buy_at(&t, clock_from_local(2027, 7, 17, 19, 0, 0))));
    t.n_seasons = 1;
    CHECK(tariff_season_at(&t, clock_from_local(2027, 7, 17, 19, 0, 0)) == NULL);
}

static void test_periods(void)
{
    struct tariff_period wrap = {HM(23, 0), HM(7, 0), TARIFF_VALLEY};
    struct tariff_period day = {0, 1440, TARIFF_FLAT};
    struct tariff_period to_midnight = {HM(22, 0), 0, TARIFF_PEAK};
    struct tariff_period empty = {HM(5, 0), HM(5, 0), TARIFF_PEAK};

    CHECK(tariff_period_minutes(&wrap) == 8 * 60);
    CHECK(tariff_period_minutes(&day) == 1440);
    CHECK(tariff_period_minutes(&to_midnight) == 120);
    CHECK(tariff_period_minutes(&empty) == 0);
    CHECK(tariff_period_contains(&wrap, HM(23, 0)));
    CHECK(tariff_period_contains(&wrap, 0));
    CHECK(tariff_period_contains(&wrap, HM(6, 59)));
    CHECK(!tariff_period_contains(&wrap, HM(7, 0)));
    CHECK(!tariff_period_contains(&wrap, HM(22, 59)));
    CHECK(tariff_period_contains(&day, 1439));
    CHECK(tariff_period_contains(&to_midnight, 1439));
    CHECK(!tariff_period_contains(&to_midnight, 0));
    CHECK(!tariff_period_contains(&empty, HM(5, 0)));
}

static void tt_bad(const struct tariff *t, const char *n1, const char *n2)
{
    struct error_detail ed;

    memset(&ed, 0, sizeof(ed));
    CHECK(tariff_validate(t, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, n1);
    if (n2) {
        CHECK_STR_CONTAINS(ed.text, n2);
    }
}

static void test_validate_schedule(void)
{
    struct tariff t;
    struct error_detail ed;

    /* gap: 07:00-11:00 flat shortened to 07:00-10:00 */
    tt_mengxi(&t);
    t.seasons[0].periods[1].end_min = HM(10, 0);
    tt_bad(&t, "tariff.seasons[0].periods: 10:00-11:00: not covered", "must cover 24 h");
    /* gap at the end of the day when nothing wraps */
    tt_mengxi(&t);
    t.seasons[1].periods[0].start_min = 0; /* 00:00-07:00; 23:00-24:00 now empty */
    tt_bad(&t, "tariff.seasons[1].periods: 23:00-24:00: not covered", NULL);
    /* overlap: flat 07:00-11:00 stretched to 12:00 */
    tt_mengxi(&t);
    t.seasons[0].periods[1].end_min = HM(12, 0);
    tt_bad(&t,
           "tariff.seasons[0].periods[2]: 11:00-15:00: overlaps periods[1] (07:00-12:00)",
           "at 11:00");
    /* overlap across midnight with the wrapped valley */
    tt_mengxi(&t);
    t.seasons[0].periods[4].end_min = HM(23, 30);
    tt_bad(&t, "periods[4]: 17:00-23:30: overlaps periods[0] (23:00-07:00) at 23:00", NULL);
    /* empty period */
    tt_mengxi(&t);
    t.seasons[0].periods[1].end_min = HM(7, 0);
    tt_bad(&t, "tariff.seasons[0].periods[1].end: 07:00: must differ from start", NULL);
    /* start out of range */
    tt_mengxi(&t);
    t.seasons[0].periods[1].start_min = 1440;
    tt_bad(&t, "tariff.seasons[0].periods[1].start: minute 1440", NULL);
    /* no periods, too many */
    tt_mengxi(&t);
    t.seasons[0].n_periods = 0;
    tt_bad(&t, "tariff.seasons[0].periods: 0 periods: must be 1..24", NULL);
    t.seasons[0].n_periods = TARIFF_PERIODS_MAX + 1;
    tt_bad(&t, "periods: 25 periods", NULL);
    /* the whole day in one period is fine */
    tt_mengxi(&t);
    t.seasons[0].n_periods = 0;
    tt_period(&t.seasons[0], 0, 1440, TARIFF_FLAT);
    CHECK(tariff_validate(&t, &ed) == ERROR_OK);
    /* ... and so is a day that starts mid-evening and ends at 24:00 */
    t.seasons[0].n_periods = 0;
    tt_period(&t.seasons[0], HM(22, 0), 1440, TARIFF_VALLEY);
    tt_period(&t.seasons[0], 0, HM(22, 0), TARIFF_FLAT);
    CHECK(tariff_validate(&t, &ed) == ERROR_OK);
}

static void test_validate_seasons_prices(void)
{
    struct tariff t;
    struct error_detail ed;

    tt_mengxi(&t);
    t.seasons[0].months &= ~(1u << 4);
    tt_bad(&t, "tariff.seasons: month 4: in no season", NULL);
    tt_mengxi(&t);
    t.seasons[1].months |= 1u << 5;
    tt_bad(&t, "tariff.seasons[1].months: 5: already in an earlier season", NULL);
    tt_mengxi(&t);
    t.seasons[1].months = 0;
    tt_bad(&t, "tariff.seasons[1].months: mask 0x0", NULL);
    tt_mengxi(&t);
    t.seasons[1].months |= 1u << 13;
    tt_bad(&t, "tariff.seasons[1].months", "must list months in [1, 12]");
    tt_mengxi(&t);
    snprintf(t.seasons[1].id, sizeof(t.seasons[1].id), "%s", "big_wind");
    tt_bad(&t, "tariff.seasons[1].id: \"big_wind\": duplicates seasons[0]", NULL);
    tt_mengxi(&t);
    t.seasons[0].id[0] = '\0';
    tt_bad(&t, "tariff.seasons[0].id", NULL);
    tt_mengxi(&t);
    t.n_seasons = 0;
    tt_bad(&t, "tariff.seasons: 0 seasons: must be 1..12", NULL);
    /* price order: valley <= flat <= peak <= critical peak (where used) */
    tt_mengxi(&t);
    t.seasons[0].price_cny_per_kwh[TARIFF_FLAT] = 0.3;
    tt_bad(&t,
           "tariff.seasons[0].prices_cny_per_kwh.flat: 0.3: must not be below valley 0.437",
           NULL);
    tt_mengxi(&t);
    t.seasons[1].price_cny_per_kwh[TARIFF_CRITICAL_PEAK] = 0;
    tt_bad(&t,
           "tariff.seasons[1].prices_cny_per_kwh.critical_peak: 0: must not be below peak 0.644",
           NULL);
    tt_mengxi(&t);
    t.seasons[0].price_cny_per_kwh[TARIFF_CRITICAL_PEAK] = 0; /* unused there: fine */
    CHECK(tariff_validate(&t, &ed) == ERROR_OK);
    t.seasons[0].price_cny_per_kwh[TARIFF_PEAK] = -1;
    tt_bad(&t, "tariff.seasons[0].prices_cny_per_kwh.peak: -1: must be in [0, 10000]", NULL);
    tt_mengxi(&t);
    t.seasons[0].price_cny_per_kwh[TARIFF_PEAK] = INFINITY;
    tt_bad(&t, "prices_cny_per_kwh.peak: inf", NULL);
    tt_mengxi(&t);
    t.export_cny_per_kwh = NAN;
    tt_bad(&t, "tariff.export_cny_per_kwh: nan", NULL);
    tt_mengxi(&t);
    t.service_fee_cny_per_kwh = -0.1;
    tt_bad(&t, "tariff.service_fee_cny_per_kwh: -0.1: must be in [0, 10000]", NULL);
}

int main(void)
{
    test_lookup();
    test_periods();
    test_validate_schedule();
    test_validate_seasons_prices();
    return CHECK_DONE();
}
