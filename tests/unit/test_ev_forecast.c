/* SPDX-License-Identifier: MIT */
/*
 * test_ev_forecast.c - the live engine's forecast of cars not yet here
 * (engine/ev_forecast.h) on the built-in Ulanhada station: the cold-start
 * rate sums to the configured arrivals a day inside the amenity hours;
 * learning follows the exponential update hour by hour, by day class, and
 * never counts an arrival twice; session energy and stay move by a tenth;
 * the expected power ramps up over one stay to rate x energy and stops at
 * the chargers' power; a
 * visitor-flow outlook replaces the tourist share and a congestion outlook
 * scales the through-traffic share, only inside their intervals; bad
 * outlook intervals are left out; the config rule on the shares.
 */
#include "check.h"

#include "../../common/clock.h"
#include "../../config/builtin.h"
#include "../../engine/ev_forecast.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS (3600LL * 1000)

static struct station *st;

static double day_sum(const struct ev_forecast *f, int weekend, int type)
{
    double s = 0.0;

    for (int h = 0; h < 24; h++) {
        s += f->rate_per_h[weekend][h][type];
    }
    return s;
}

static void test_prior(void)
{
    struct ev_forecast f;
    int64_t wed = clock_from_local(2026, 7, 15, 0, 0, 0);

    ev_forecast_init(&f, st);
    CHECK_NEAR(day_sum(&f, 0, EV_FORECAST_DC), st->ev_forecast.prior_dc_arrivals_per_day, 1e-9);
    CHECK_NEAR(day_sum(&f, 1, EV_FORECAST_AC), st->ev_forecast.prior_ac_arrivals_per_day, 1e-9);
    /* amenities 08:00-22:00: 14 open hours */
    CHECK_NEAR(ev_forecast_learned_rate(&f, EV_FORECAST_DC, wed + 10 * HOUR_MS),
               st->ev_forecast.prior_dc_arrivals_per_day / 14.0,
               1e-9);
    CHECK(ev_forecast_learned_rate(&f, EV_FORECAST_DC, wed + 3 * HOUR_MS) == 0.0);
    CHECK(ev_forecast_learned_rate(&f, EV_FORECAST_AC, wed + 23 * HOUR_MS) == 0.0);
    CHECK(f.kwh[EV_FORECAST_DC] == 30.0 && f.stay_min[EV_FORECAST_AC] == 240.0);
}

/* 60 days from Monday 2026-06-01: on workdays three DC cars in 10:00-11:00,
 * on weekends one AC car in 15:00-16:00. */
static void test_learning(void)
{
    struct ev_forecast f;
    int64_t t0 = clock_from_local(2026, 6, 1, 0, 0, 0);
    double a = 1.0 / st->ev_forecast.learn_days;
    double prior10 = st->ev_forecast.prior_dc_arrivals_per_day / 14.0;
    double prior15 = st->ev_forecast.prior_ac_arrivals_per_day / 14.0;
    int workdays = 0, weekends = 0;
    double want10, want15, want_we10;

    ev_forecast_init(&f, st);
    ev_forecast_advance(&f, t0);
    for (int d = 0; d < 60; d++) {
        int64_t day = t0 + d * CLOCK_DAY_MS;
        struct clock_civil lt;

        clock_to_local(day, &lt);
        if (lt.wday == 0 || lt.wday == 6) {
            ev_forecast_arrival(&f, EV_FORECAST_AC, day + 15 * HOUR_MS + 20 * 60000);
            weekends++;
        } else {
            for (int i = 0; i < 3; i++) {
                ev_forecast_arrival(&f, EV_FORECAST_DC, day + 10 * HOUR_MS + i * 600000);
            }
            workdays++;
        }
    }
    /* an arrival in an hour already closed is not counted */
    ev_forecast_arrival(&f, EV_FORECAST_DC, t0 + 10 * HOUR_MS);
    ev_forecast_advance(&f, t0 + 60 * CLOCK_DAY_MS);
    CHECK(f.hours_learned == 60 * 24);
    CHECK(workdays == 44 && weekends == 16); /* 8 weeks and Monday to Thursday */
    want10 = 3.0 + (prior10 - 3.0) * pow(1.0 - a, workdays);
    want15 = 1.0 + (prior15 - 1.0) * pow(1.0 - a, weekends);
    want_we10 = prior10 * pow(1.0 - a, weekends);
    CHECK_NEAR(f.rate_per_h[0][10][EV_FORECAST_DC], want10, 1e-9);
    CHECK_NEAR(f.rate_per_h[1][15][EV_FORECAST_AC], want15, 1e-9);
    CHECK_NEAR(f.rate_per_h[1][10][EV_FORECAST_DC], want_we10, 1e-9);
    CHECK(f.rate_per_h[0][10][EV_FORECAST_DC] > 2.9);
    CHECK(f.rate_per_h[0][12][EV_FORECAST_DC] < 0.1 * prior10);
    /* the clock going back changes nothing */
    ev_forecast_advance(&f, t0);
    CHECK(f.hours_learned == 60 * 24);

    ev_forecast_departure(&f, EV_FORECAST_DC, 50.0, 25.0);
    CHECK_NEAR(f.kwh[EV_FORECAST_DC], 32.0, 1e-12);
    CHECK_NEAR(f.stay_min[EV_FORECAST_DC], 43.0, 1e-12);
    ev_forecast_departure(&f, EV_FORECAST_DC, NAN, 25.0);
    ev_forecast_departure(&f, 7, 50.0, 25.0);
    CHECK(f.sessions_learned == 1 && f.kwh[EV_FORECAST_DC] == 32.0);
}

/* Every hour the same rate: the power climbs over one stay to rate x kWh. */
static void test_power(void)
{
    struct ev_forecast f;
    int64_t now = clock_from_local(2026, 7, 15, 9, 0, 0);
    double kw[16], kwh, want = 0.0;

    ev_forecast_init(&f, st);
    for (int c = 0; c < 2; c++) {
        for (int h = 0; h < 24; h++) {
            f.rate_per_h[c][h][EV_FORECAST_DC] = 4.0; /* cars/h */
            f.rate_per_h[c][h][EV_FORECAST_AC] = 0.0;
        }
    }
    f.kwh[EV_FORECAST_DC] = 30.0;
    f.stay_min[EV_FORECAST_DC] = 45.0;
    kwh = ev_forecast_kw(&f, now, 15, 16, kw);
    /* step 0: minute u holds (u+1)/60 h of arrivals at 40 kW a car */
    for (int u = 0; u < 15; u++) {
        want += 40.0 * 4.0 * (u + 1) / 60.0 / 15.0;
    }
    CHECK_NEAR(kw[0], want, 1e-9);
    CHECK(kw[1] > kw[0] && kw[2] > kw[1]);
    for (int j = 3; j < 16; j++) {
        CHECK_NEAR(kw[j], 4.0 * 30.0, 1e-9); /* 4 cars/h x 30 kWh */
    }
    want = 0.0;
    for (int j = 0; j < 16; j++) {
        want += kw[j] * 0.25;
    }
    CHECK_NEAR(kwh, want, 1e-9);

    /* a crowd the chargers cannot serve: capped at their power */
    for (int h = 0; h < 24; h++) {
        f.rate_per_h[0][h][EV_FORECAST_DC] = 400.0;
        f.rate_per_h[1][h][EV_FORECAST_DC] = 400.0;
    }
    ev_forecast_kw(&f, now, 15, 16, kw);
    CHECK(f.max_kw[EV_FORECAST_DC] > 0.0 && f.max_kw[EV_FORECAST_AC] > 0.0);
    CHECK_NEAR(kw[8], f.max_kw[EV_FORECAST_DC], 1e-9);
}

static void test_outlooks(void)
{
    const struct station_ev_forecast *c = &st->ev_forecast;
    struct ev_forecast f;
    int64_t noon = clock_from_local(2026, 7, 15, 12, 0, 0);
    struct ev_outlook_interval v[3] = {
        {noon, noon + HOUR_MS, 1500.0},
        {noon + HOUR_MS, noon, 99.0},                   /* end before start: left out */
        {noon + 2 * HOUR_MS, noon + 3 * HOUR_MS, -1.0}, /* negative: left out */
    };
    struct ev_outlook_interval jam = {noon, noon + HOUR_MS, 1.0};
    struct ev_outlook_interval usual = {noon, noon + HOUR_MS, 0.1};
    double l_dc, l_ac, mix_dc, base, kw_before[8], kw_after[8], e0, e1;

    ev_forecast_init(&f, st);
    l_dc = ev_forecast_learned_rate(&f, EV_FORECAST_DC, noon);
    l_ac = ev_forecast_learned_rate(&f, EV_FORECAST_AC, noon);
    mix_dc = c->prior_dc_arrivals_per_day /
             (c->prior_dc_arrivals_per_day + c->prior_ac_arrivals_per_day);
    CHECK_NEAR(ev_forecast_rate(&f, EV_FORECAST_DC, noon), l_dc, 1e-12);
    e0 = ev_forecast_kw(&f, noon - HOUR_MS, 15, 8, kw_before);

    CHECK(ev_forecast_set_outlook(&f, EV_OUTLOOK_VISITOR_FLOW, v, 3) == 1);
    base = l_dc * (1.0 - c->tourist_share);
    CHECK_NEAR(ev_forecast_rate(&f, EV_FORECAST_DC, noon + 60000),
               base + c->arrivals_per_1000_visitors * 1.5 * mix_dc,
               1e-12);
    CHECK_NEAR(ev_forecast_rate(&f, EV_FORECAST_AC, noon + 60000),
               l_ac * (1.0 - c->tourist_share) +
                   c->arrivals_per_1000_visitors * 1.5 * (1.0 - mix_dc),
               1e-12);
    CHECK_NEAR(ev_forecast_rate(&f, EV_FORECAST_DC, noon - 60000), l_dc, 1e-12);
    CHECK_NEAR(ev_forecast_rate(&f, EV_FORECAST_DC, noon + 2 * HOUR_MS + 60000),
               ev_forecast_learned_rate(&f, EV_FORECAST_DC, noon + 2 * HOUR_MS),
               1e-12);
    /* 1500 visitors/h is well above what the prior's tourist share implies:
     * the expected power rises from noon, not before */
    e1 = ev_forecast_kw(&f, noon - HOUR_MS, 15, 8, kw_after);
    CHECK(e1 > e0);
    CHECK_NEAR(kw_after[3], kw_before[3], 1e-12);
    CHECK(kw_after[4] > kw_before[4] && kw_after[7] > kw_before[7]);

    CHECK(ev_forecast_set_outlook(&f, EV_OUTLOOK_VISITOR_FLOW, NULL, 0) == 0);
    CHECK(ev_forecast_set_outlook(&f, EV_OUTLOOK_ROAD_CONGESTION, &jam, 1) == 1);
    CHECK_NEAR(ev_forecast_rate(&f, EV_FORECAST_DC, noon + 60000),
               l_dc * (1.0 - c->through_share),
               1e-12);
    CHECK(ev_forecast_set_outlook(&f, EV_OUTLOOK_ROAD_CONGESTION, &usual, 1) == 1);
    CHECK_NEAR(ev_forecast_rate(&f, EV_FORECAST_DC, noon + 60000), l_dc, 1e-12);
}

static void test_config_rule(void)
{
    struct station *bad = station_new();
    struct error_detail ed = {{0}};

    *bad = *st;
    bad->ev_forecast.tourist_share = 0.9;
    bad->ev_forecast.through_share = 0.2;
    CHECK(station_validate(bad, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "ev_forecast.through_share: 0.2: tourist_share + through_share");
    *bad = *st;
    bad->ev_forecast.learn_days = 0.0;
    CHECK(station_validate(bad, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "ev_forecast.learn_days: 0: must be in [1, 365]");
    station_free(bad);
}

int main(void)
{
    struct error_detail ed = {{0}};

    if (builtin_station_load(&st, &ed) != ERROR_OK) {
        fprintf(stderr, "builtin: %s\n", ed.text);
        return 1;
    }
    test_prior();
    test_learning();
    test_power();
    test_outlooks();
    test_config_rule();
    station_free(st);
    return CHECK_DONE();
}
