/* SPDX-License-Identifier: MIT */
/*
 * test_demand.c - the EV demand model and the holiday table: determinism
 * (same seed, same arrivals; any split of the range, same arrivals), the
 * rules every arrival obeys, long-run counts against the Poisson means,
 * season and holiday effects, the sharing switch, the visitor-flow hook,
 * the expected power profile and parameter validation. Seed from
 * FLEXD_TEST_SEED (default 20260715), printed; statistical tolerances are
 * 5 standard errors.
 */
#include "check.h"

#include "common/clock.h"
#include "common/numparse.h"
#include "config/station_file.h"
#include "sim/demand.h"
#include "sim/demand_params.h"
#include "sim/holidays.h"

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#define MIN_MS 60000LL

static uint64_t test_seed(void)
{
    const char *s = getenv("FLEXD_TEST_SEED");
    uint64_t seed = 20260715;
    long v;

    if (s && numparse_long(s, 0, LONG_MAX, &v) == 0) {
        seed = (uint64_t)v;
    }
    return seed;
}

static int64_t day_ms(int y, int m, int d)
{
    return clock_from_local(y, m, d, 0, 0, 0);
}

static int local_minute(int64_t ts)
{
    struct clock_civil c;

    clock_to_local(ts, &c);
    return c.hour * 60 + c.minute;
}

static int same_ev(const struct demand_ev *a, const struct demand_ev *b)
{
    return strcmp(a->id, b->id) == 0 && a->source == b->source &&
           a->vehicle_class == b->vehicle_class && a->wants_dc == b->wants_dc &&
           a->arrival_ms == b->arrival_ms && a->departure_ms == b->departure_ms &&
           a->declared_departure_ms == b->declared_departure_ms &&
           memcmp(&a->battery_kwh, &b->battery_kwh, sizeof(double)) == 0 &&
           memcmp(&a->soc_arrival, &b->soc_arrival, sizeof(double)) == 0 &&
           memcmp(&a->soc_target, &b->soc_target, sizeof(double)) == 0 &&
           memcmp(&a->max_dc_kw, &b->max_dc_kw, sizeof(double)) == 0 &&
           memcmp(&a->max_ac_kw, &b->max_ac_kw, sizeof(double)) == 0;
}

static int same_list(const struct demand_ev *a, int na, const struct demand_ev *b, int nb)
{
    int same = na == nb;

    for (int i = 0; same && i < na; i++) {
        same = same_ev(&a[i], &b[i]);
    }
    return same;
}

static struct demand_ev *
gen(const struct demand_params *p, uint64_t seed, int64_t t0, int64_t t1, int *n)
{
    struct demand *d = demand_new(p, seed);
    struct demand_ev *ev = NULL;

    *n = 0;
    CHECK(d != NULL);
    if (d) {
        CHECK(demand_generate(d, t0, t1, &ev, n) == ERROR_OK);
    }
    demand_free(d);
    return ev;
}

static void test_holidays(void)
{
    CHECK(holidays_is_holiday(2026, 10, 3));
    CHECK(holidays_kind(2026, 10, 3) == HOLIDAYS_HOLIDAY);
    CHECK(holidays_is_holiday(2025, 10, 8));
    CHECK(!holidays_is_holiday(2026, 10, 8));
    CHECK(holidays_kind(2026, 10, 10) == HOLIDAYS_WORKDAY); /* a Saturday worked */
    CHECK(holidays_kind(2026, 2, 15) == HOLIDAYS_SPRING_FESTIVAL);
    CHECK(holidays_kind(2026, 2, 14) == HOLIDAYS_WORKDAY);
    CHECK(holidays_kind(2025, 1, 1) == HOLIDAYS_HOLIDAY);
    CHECK(holidays_kind(2026, 3, 10) == HOLIDAYS_WORKDAY);
    CHECK(holidays_kind(2026, 7, 18) == HOLIDAYS_WEEKEND);
    CHECK(holidays_kind(2026, 7, 14) == HOLIDAYS_WORKDAY);
    CHECK(holidays_is_holiday(2027, 2, 6) && holidays_is_holiday(2028, 10, 8));
    CHECK(holidays_status(2026) == HOLIDAYS_OFFICIAL);
    CHECK(holidays_status(2027) == HOLIDAYS_PROVISIONAL);
    CHECK(holidays_status(2030) == HOLIDAYS_UNKNOWN && !holidays_is_holiday(2030, 10, 1));
    CHECK(holidays_name(2026, 10, 3) && strcmp(holidays_name(2026, 10, 3), "national_day") == 0);
    CHECK(holidays_name(2026, 10, 9) == NULL);
}

static void
expect_invalid(const struct demand_params *p, const char *a, const char *b, const char *c)
{
    struct error_detail ed = {{0}};

    CHECK(demand_params_validate(p, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, a);
    CHECK_STR_CONTAINS(ed.text, b);
    CHECK_STR_CONTAINS(ed.text, c);
    CHECK(demand_new(p, 1) == NULL);
}

static void test_validate(void)
{
    struct demand_params p;
    struct error_detail ed = {{0}};

    demand_params_ulanhada(&p);
    CHECK(demand_params_validate(&p, &ed) == ERROR_OK);
    p.source[TRACE_SOURCE_TOURIST].weekday_per_day = -1;
    expect_invalid(&p, "sources.tourist.weekday_per_day", ": -1:", "must be in [0, 1000]");
    demand_params_ulanhada(&p);
    p.source[TRACE_SOURCE_NIGHT].soc_target_min = 0.6;
    expect_invalid(&p, "sources.night.soc_target_min", "0.6", "must be above soc_arrival_max 0.7");
    demand_params_ulanhada(&p);
    p.classes[0].share = 0.5;
    expect_invalid(&p, "classes[].share", "sum 1.2", "must be 1");
    demand_params_ulanhada(&p);
    p.sharing_parking = (struct station_window){9 * 60, 17 * 60};
    expect_invalid(&p, "sources.night.arrive.window", "18:00-23:00", "inside sharing_parking");
    demand_params_ulanhada(&p);
    p.source[TRACE_SOURCE_THROUGH].dwell_mode_min = 90;
    expect_invalid(&p, "sources.through.dwell_mode_min", "90", "dwell_max_min 60");
    demand_params_ulanhada(&p);
    p.source[TRACE_SOURCE_COMMUNITY].month_factor[6] = NAN;
    expect_invalid(&p, "sources.community.month_factor[6]", "nan", "must be in");
    demand_params_ulanhada(&p);
    p.classes[3].max_ac_kw_max = 50;
    expect_invalid(&p, "classes[3].max_ac_kw_max", "50", "must be in [max_ac_kw_min 3.3, 44]");
    demand_params_ulanhada(&p);
    p.sharing_enabled = 2;
    expect_invalid(&p, "sharing_enabled", "2", "must be in [0, 1]");
}

static void test_from_station(void)
{
    const char *dir = getenv("FLEXD_SOURCE_DIR");
    char path[512];
    struct station *st = NULL;
    struct error_detail ed = {{0}};
    struct demand_params p;

    snprintf(path, sizeof(path), "%s/config/ulanhada.json", dir && *dir ? dir : FLEXD_SOURCE_DIR);
    CHECK(station_file_load(path, &st, &ed) == ERROR_OK);
    if (st) {
        demand_params_ulanhada(&p);
        p.dc_connector_kw = 1;
        p.ac_connector_kw = 1;
        demand_params_from_station(&p, st);
        CHECK_NEAR(p.dc_connector_kw, 120, 1e-9);
        CHECK_NEAR(p.ac_connector_kw, 7, 1e-9);
        CHECK(p.sharing_parking.start_min == 22 * 60 && p.sharing_parking.end_min == 8 * 60);
        CHECK(p.sharing_charging.start_min == 0 && p.sharing_charging.end_min == 1440);
        CHECK(demand_params_validate(&p, NULL) == ERROR_OK);
    }
    station_free(st);
}

static void test_determinism(uint64_t seed)
{
    struct demand_params p;
    int64_t t0 = day_ms(2026, 6, 20);
    int64_t t1 = t0 + 45 * CLOCK_DAY_MS;
    int64_t cuts[] = {t0,
                      t0 + 2 * CLOCK_DAY_MS + 49032345,
                      t0 + 19 * CLOCK_DAY_MS + 79800000,
                      t0 + 19 * CLOCK_DAY_MS + 79800001,
                      t0 + 33 * CLOCK_DAY_MS,
                      t1};
    struct demand *d;
    struct demand_ev *a, *b, *c, *all;
    int na, nb, nc, nall = 0, same_split = 1;

    demand_params_ulanhada(&p);
    a = gen(&p, seed, t0, t1, &na);
    b = gen(&p, seed, t0, t1, &nb);
    c = gen(&p, seed + 1, t0, t1, &nc);
    CHECK(na > 500);
    CHECK(same_list(a, na, b, nb));
    CHECK(!same_list(a, na, c, nc));
    /* day by day on one generator, then on odd cut points */
    all = calloc((size_t)na + 1, sizeof(*all));
    d = demand_new(&p, seed);
    for (int64_t t = t0; t < t1; t += CLOCK_DAY_MS) {
        struct demand_ev *part;
        int np;

        CHECK(demand_generate(d, t, t + CLOCK_DAY_MS, &part, &np) == ERROR_OK);
        for (int i = 0; i < np && nall < na; i++) {
            all[nall++] = part[i];
        }
        free(part);
    }
    CHECK(same_list(a, na, all, nall));
    nall = 0;
    for (int k = 0; k + 1 < (int)(sizeof(cuts) / sizeof(cuts[0])); k++) {
        struct demand_ev *part;
        int np;

        CHECK(demand_generate(d, cuts[k], cuts[k + 1], &part, &np) == ERROR_OK);
        for (int i = 0; i < np; i++) {
            same_split = same_split && nall < na && same_ev(&part[i], &a[nall]);
            nall++;
        }
        free(part);
    }
    CHECK(same_split && nall == na);
    free(c);
    CHECK(demand_generate(d, t1, t0, &c, &nc) == ERROR_RANGE);
    CHECK(c == NULL && nc == 0);
    CHECK_STR_CONTAINS(demand_last_error(d), "must be non-empty");
    printf("determinism: %d arrivals 2026-06-20 +45 d, identical whole / by day / at odd cuts\n",
           na);
    demand_free(d);
    free(all);
    free(a);
    free(b);
}

/* Rules one arrival must obey; returns 1 if all hold. */
static int ev_ok(const struct demand_params *p, const struct demand_ev *e)
{
    const struct demand_source_params *s = &p->source[e->source];
    const struct demand_vehicle_class *c = &p->classes[e->vehicle_class];
    int am = local_minute(e->arrival_ms);
    double dwell = (double)(e->departure_ms - e->arrival_ms) / MIN_MS;
    int ok = e->departure_ms > e->arrival_ms &&
             e->declared_departure_ms >= e->arrival_ms + 15 * MIN_MS &&
             e->soc_target > e->soc_arrival && e->soc_arrival >= s->soc_arrival_min &&
             e->soc_arrival <= s->soc_arrival_max && e->soc_target <= s->soc_target_max &&
             e->battery_kwh >= c->battery_kwh_min && e->battery_kwh <= c->battery_kwh_max &&
             e->max_ac_kw >= c->max_ac_kw_min && e->max_ac_kw <= c->max_ac_kw_max &&
             e->max_dc_kw >= c->max_dc_kw_min && e->max_dc_kw <= c->max_dc_kw_max &&
             (!e->wants_dc || e->max_dc_kw > 0) && station_window_contains(&s->arrive.window, am);

    if (e->source == TRACE_SOURCE_NIGHT) {
        int dm = local_minute(e->departure_ms);

        ok = ok && !e->wants_dc && station_window_contains(&p->sharing_parking, am) &&
             station_window_contains(&p->sharing_parking, dm) && dm >= 6 * 60 + 30 && dm < 8 * 60 &&
             dwell < 24 * 60;
    } else {
        ok = ok && dwell >= s->dwell_min_min - 1e-6 && dwell <= s->dwell_max_min + 1e-6;
    }
    return ok;
}

static void test_rules(uint64_t seed)
{
    struct demand_params p;
    int64_t t0 = day_ms(2026, 1, 1);
    struct demand_ev *e;
    int n, bad = 0, sorted = 1, unique = 1, dated = 1, rounded = 0;
    char date[16];

    demand_params_ulanhada(&p);
    e = gen(&p, seed, t0, day_ms(2027, 1, 1), &n);
    for (int i = 0; i < n; i++) {
        struct clock_civil c;

        bad += !ev_ok(&p, &e[i]);
        sorted = sorted && (i == 0 || e[i - 1].arrival_ms <= e[i].arrival_ms);
        unique = unique && (i == 0 || strcmp(e[i - 1].id, e[i].id) != 0);
        clock_to_local(e[i].arrival_ms, &c);
        snprintf(date, sizeof(date), "%04d%02d%02d-", c.year, c.month, c.day);
        dated = dated && strncmp(e[i].id, date, 9) == 0;
        rounded += (e[i].declared_departure_ms + CLOCK_LOCAL_OFFSET_MS) % (5 * MIN_MS) == 0;
    }
    CHECK(n > 5000);
    CHECK(bad == 0);
    CHECK(sorted);
    CHECK(unique);
    CHECK(dated);
    CHECK(rounded > n * 9 / 10); /* the rest sit on the arrival + 15 min floor */
    printf("rules: %d arrivals in 2026, %d broke a rule\n", n, bad);
    free(e);
}

struct day_case {
    const char *label;
    int y, m, d;
};

/* Mean arrivals per source on one date over k_runs seeds against the
 * Poisson means; returns the mean tourist count. */
static double
day_means(uint64_t seed, const struct demand_params *p, const struct day_case *dc, int k_runs)
{
    int64_t t0 = day_ms(dc->y, dc->m, dc->d);
    double sum[DEMAND_SOURCES] = {0}, kwh = 0.0;
    int total = 0;

    for (int k = 0; k < k_runs; k++) {
        int n;
        struct demand_ev *e = gen(p, seed + 1000003ULL * (uint64_t)k, t0, t0 + CLOCK_DAY_MS, &n);

        for (int i = 0; i < n; i++) {
            sum[e[i].source] += 1;
            kwh += (e[i].soc_target - e[i].soc_arrival) * e[i].battery_kwh;
        }
        total += n;
        free(e);
    }
    printf("  %-28s", dc->label);
    for (int s = 0; s < DEMAND_SOURCES; s++) {
        double lambda = demand_expected_count(p, s, t0 + 12 * 3600000LL);
        double mean = sum[s] / k_runs;

        printf(" %6.2f (%6.2f)", mean, lambda);
        CHECK_NEAR(mean, lambda, 5 * sqrt(lambda / k_runs) + 1e-9);
    }
    printf("  %5.1f kWh\n", total ? kwh / total : 0.0);
    return sum[TRACE_SOURCE_TOURIST] / k_runs;
}

static void test_day_effects(uint64_t seed)
{
    static const struct day_case cases[] = {
        {"2026-07-14 Tue (July)", 2026, 7, 14},
        {"2026-07-18 Sat (July)", 2026, 7, 18},
        {"2026-10-03 Sat (National Day)", 2026, 10, 3},
        {"2026-05-02 Sat (May Day)", 2026, 5, 2},
        {"2026-01-13 Tue (January)", 2026, 1, 13},
        {"2026-03-10 Tue (March)", 2026, 3, 10},
        {"2026-02-17 Tue (Spring Fest.)", 2026, 2, 17},
    };
    double tourist[7];
    struct demand_params p;

    demand_params_ulanhada(&p);
    printf("mean arrivals/day over 400 seeds (expected): tourist, through, night, community; "
           "mean wanted energy\n");
    for (int i = 0; i < 7; i++) {
        tourist[i] = day_means(seed, &p, &cases[i], 400);
    }
    CHECK(tourist[1] > 1.3 * tourist[0]); /* July weekend over weekday */
    CHECK(tourist[2] > 5 * tourist[5]);   /* Oct 3 >> a Tuesday in March */
    CHECK(tourist[3] > tourist[1]);       /* May Day over an ordinary July Saturday */
    CHECK(tourist[0] > 4 * tourist[4]);   /* season: July over January */
}

static void test_long_run(uint64_t seed)
{
    struct demand_params p;
    int64_t t0 = day_ms(2025, 1, 1), t1 = day_ms(2029, 1, 1);
    double expect[DEMAND_SOURCES] = {0}, count[DEMAND_SOURCES] = {0};
    double kwh[DEMAND_SOURCES] = {0}, dwell_h[DEMAND_SOURCES] = {0}, dc[DEMAND_SOURCES] = {0};
    struct demand_ev *e;
    int n;
    double days = (double)(t1 - t0) / CLOCK_DAY_MS;

    demand_params_ulanhada(&p);
    e = gen(&p, seed, t0, t1, &n);
    for (int64_t t = t0; t < t1; t += CLOCK_DAY_MS) {
        for (int s = 0; s < DEMAND_SOURCES; s++) {
            expect[s] += demand_expected_count(&p, s, t);
        }
    }
    for (int i = 0; i < n; i++) {
        count[e[i].source] += 1;
        kwh[e[i].source] += (e[i].soc_target - e[i].soc_arrival) * e[i].battery_kwh;
        dwell_h[e[i].source] += (double)(e[i].departure_ms - e[i].arrival_ms) / 3600000.0;
        dc[e[i].source] += e[i].wants_dc;
    }
    printf("2025-2028 (%.0f days): source, arrivals/day (expected), wanted kWh (expected), "
           "stay h, DC share\n",
           days);
    for (int s = 0; s < DEMAND_SOURCES; s++) {
        double w = demand_expected_wanted_kwh(&p, s);

        printf("  %-9s %6.2f (%6.2f)  %5.1f (%5.1f)  %5.2f  %4.2f\n",
               trace_source_names[s],
               count[s] / days,
               expect[s] / days,
               kwh[s] / count[s],
               w,
               dwell_h[s] / count[s],
               dc[s] / count[s]);
        CHECK_NEAR(count[s], expect[s], 5 * sqrt(expect[s]));
        CHECK_NEAR(kwh[s] / count[s], w, 0.03 * w);
    }
    free(e);
}

/* Hours connectors are drawn on (min(stay, energy / power)) and occupied
 * (stay) per day over 2026; a rough utilisation, not the KPI of sim/kpi.c. */
static void utilisation(const struct demand_ev *e, int n, double *charge_h, double *occ_h)
{
    *charge_h = 0.0;
    *occ_h = 0.0;
    for (int i = 0; i < n; i++) {
        double stay_h = (double)(e[i].departure_ms - e[i].arrival_ms) / 3600000.0;
        double kw = e[i].wants_dc ? fmin(e[i].max_dc_kw, 120.0) : fmin(e[i].max_ac_kw, 7.0);
        double need_h = (e[i].soc_target - e[i].soc_arrival) * e[i].battery_kwh / kw;

        *charge_h += fmin(stay_h, need_h);
        *occ_h += stay_h;
    }
}

static void test_sharing(uint64_t seed)
{
    struct demand_params on, off;
    int64_t t0 = day_ms(2026, 1, 1), t1 = day_ms(2027, 1, 1);
    struct demand_ev *a, *b, *kept;
    int na, nb, nk = 0, shared_off = 0;
    double ch_on, occ_on, ch_off, occ_off, cap_h = 16 * 365 * 24.0;

    demand_params_ulanhada(&on);
    off = on;
    off.sharing_enabled = 0;
    CHECK(demand_expected_count(&off, TRACE_SOURCE_NIGHT, t0) == 0.0);
    CHECK(demand_expected_count(&off, TRACE_SOURCE_COMMUNITY, t0) == 0.0);
    a = gen(&on, seed, t0, t1, &na);
    b = gen(&off, seed, t0, t1, &nb);
    kept = calloc((size_t)na + 1, sizeof(*kept));
    for (int i = 0; i < na; i++) {
        if (a[i].source == TRACE_SOURCE_TOURIST || a[i].source == TRACE_SOURCE_THROUGH) {
            kept[nk++] = a[i];
        }
    }
    for (int i = 0; i < nb; i++) {
        shared_off += b[i].source == TRACE_SOURCE_NIGHT || b[i].source == TRACE_SOURCE_COMMUNITY;
    }
    CHECK(shared_off == 0);
    CHECK(na > nb);
    CHECK(same_list(kept, nk, b, nb)); /* common random numbers */
    utilisation(a, na, &ch_on, &occ_on);
    utilisation(b, nb, &ch_off, &occ_off);
    printf("sharing 2026: %d sessions on, %d off (+%.0f%%); charging-hours utilisation of 16 "
           "connectors %.1f%% vs %.1f%% (+%.0f%%); occupancy %.1f%% vs %.1f%%\n",
           na,
           nb,
           100.0 * (na - nb) / nb,
           100 * ch_on / cap_h,
           100 * ch_off / cap_h,
           100 * (ch_on - ch_off) / ch_off,
           100 * occ_on / cap_h,
           100 * occ_off / cap_h);
    free(kept);
    free(a);
    free(b);
}

static double vf_double(void *ctx, int y, int m, int d)
{
    int *calls = ctx;

    (*calls)++;
    return (y == 2026 && m == 7 && d == 14) ? 2.0 : 1.0;
}

static double vf_bad(void *ctx, int y, int m, int d)
{
    (void)ctx;
    return (y == 2026 && m == 7 && d == 14) ? -1.0 : 1.0;
}

static void test_visitor_flow(uint64_t seed)
{
    struct demand_params p, base;
    int64_t jul14 = day_ms(2026, 7, 14);
    int calls = 0, n = 7;
    double plain, twice, mean = 0;
    struct demand *d;
    struct demand_ev *e;
    const int k_runs = 300;

    demand_params_ulanhada(&base);
    p = base;
    p.visitor_flow = vf_double;
    p.visitor_ctx = &calls;
    plain = demand_expected_count(&base, TRACE_SOURCE_TOURIST, jul14);
    twice = demand_expected_count(&p, TRACE_SOURCE_TOURIST, jul14);
    CHECK_NEAR(twice, 2 * plain, 1e-12);
    CHECK(calls > 0);
    CHECK_NEAR(demand_expected_count(&p, TRACE_SOURCE_THROUGH, jul14),
               demand_expected_count(&base, TRACE_SOURCE_THROUGH, jul14),
               0);
    CHECK_NEAR(demand_expected_count(&p, TRACE_SOURCE_TOURIST, jul14 + CLOCK_DAY_MS),
               demand_expected_count(&base, TRACE_SOURCE_TOURIST, jul14 + CLOCK_DAY_MS),
               0);
    for (int k = 0; k < k_runs; k++) {
        e = gen(&p, seed + 7919ULL * (uint64_t)k, jul14, jul14 + CLOCK_DAY_MS, &n);
        for (int i = 0; i < n; i++) {
            mean += e[i].source == TRACE_SOURCE_TOURIST;
        }
        free(e);
    }
    mean /= k_runs;
    printf("visitor flow x2 on 2026-07-14: %.2f tourist arrivals (expected %.2f, plain %.2f)\n",
           mean,
           twice,
           plain);
    CHECK_NEAR(mean, twice, 5 * sqrt(twice / k_runs));
    p.visitor_flow = vf_bad;
    CHECK(isnan(demand_expected_count(&p, TRACE_SOURCE_TOURIST, jul14)));
    d = demand_new(&p, seed);
    CHECK(demand_generate(d, jul14 - CLOCK_DAY_MS, jul14 + CLOCK_DAY_MS, &e, &n) == ERROR_INVALID);
    CHECK(e == NULL && n == 0);
    CHECK_STR_CONTAINS(demand_last_error(d), "visitor_flow(2026-07-14): -1: must be in [0, 100]");
    demand_free(d);
}

/* Mean EV energy on [t0, t0 + 1 d) over k_runs seeds when every car takes
 * min(wanted, power x stay) evenly over its stay. */
static double mc_day_kwh(const struct demand_params *p, uint64_t seed, int64_t t0, int k_runs)
{
    double kwh = 0.0;

    for (int k = 0; k < k_runs; k++) {
        int n;
        struct demand_ev *e =
            gen(p, seed + 104729ULL * (uint64_t)k, t0 - 2 * CLOCK_DAY_MS, t0 + CLOCK_DAY_MS, &n);

        for (int i = 0; i < n; i++) {
            double stay_h = (double)(e[i].departure_ms - e[i].arrival_ms) / 3600000.0;
            double kw = e[i].wants_dc ? fmin(e[i].max_dc_kw, p->dc_connector_kw)
                                      : fmin(e[i].max_ac_kw, p->ac_connector_kw);
            double got = fmin((e[i].soc_target - e[i].soc_arrival) * e[i].battery_kwh, kw * stay_h);
            int64_t a = e[i].arrival_ms > t0 ? e[i].arrival_ms : t0;
            int64_t b =
                e[i].departure_ms < t0 + CLOCK_DAY_MS ? e[i].departure_ms : t0 + CLOCK_DAY_MS;

            if (b > a) {
                kwh += got * (double)(b - a) / (double)(e[i].departure_ms - e[i].arrival_ms);
            }
        }
        free(e);
    }
    return kwh / k_runs;
}

static void test_profile(uint64_t seed)
{
    struct demand_params p;
    int64_t wed = day_ms(2026, 7, 15);
    double kw[96], kw2[96], sum = 0.0, want = 0.0, e_all, e_from, mc;
    int peak = 0, neg = 0, before_zero = 1, below = 1;

    demand_params_ulanhada(&p);
    e_all = demand_expected_kw_profile(&p, wed, 15, kw, 96);
    for (int i = 0; i < 96; i++) {
        sum += kw[i] * 0.25;
        neg += kw[i] < 0.0;
        peak = kw[i] > kw[peak] ? i : peak;
    }
    for (int s = 0; s < DEMAND_SOURCES; s++) {
        want += demand_expected_count(&p, s, wed) * demand_expected_energy_kwh(&p, s);
    }
    CHECK(neg == 0);
    CHECK_NEAR(sum, e_all, 1e-9 * e_all);
    CHECK_NEAR(e_all, want, 1e-6 * want); /* steady weekdays: what spills in = what spills out */
    CHECK(peak >= 40 && peak < 68);       /* tourists: 10:00-17:00 */
    mc = mc_day_kwh(&p, seed, wed, 200);
    printf("expected EV energy 2026-07-15: profile %.1f kWh, simulated cars %.1f kWh; peak %.1f kW "
           "at %02d:%02d\n  hourly kW:",
           e_all,
           mc,
           kw[peak],
           peak / 4,
           peak % 4 * 15);
    for (int h = 0; h < 24; h++) {
        printf(" %.0f", (kw[4 * h] + kw[4 * h + 1] + kw[4 * h + 2] + kw[4 * h + 3]) / 4);
    }
    printf("\n");
    CHECK_NEAR(mc, e_all, 0.15 * e_all);
    e_from = demand_expected_kw_profile_from(&p, wed + 12 * 3600000LL, wed, 15, kw2, 96);
    for (int i = 0; i < 96; i++) {
        before_zero = before_zero && (i >= 48 || kw2[i] == 0.0);
        below = below && kw2[i] <= kw[i] + 1e-9;
    }
    CHECK(e_from > 0.0 && e_from < e_all);
    CHECK(before_zero && below);
    CHECK(isnan(demand_expected_kw_profile(&p, wed, 0, kw, 96)));
    CHECK(isnan(demand_expected_kw_profile(&p, wed, 15, kw, 0)));
}

static void test_to_trace(void)
{
    struct demand_ev ev = {.id = "20260715-T001",
                           .source = TRACE_SOURCE_TOURIST,
                           .wants_dc = 1,
                           .arrival_ms = 1000,
                           .departure_ms = 5000,
                           .declared_departure_ms = 6000,
                           .battery_kwh = 60,
                           .soc_arrival = 0.2,
                           .soc_target = 0.9,
                           .max_dc_kw = 100,
                           .max_ac_kw = 7};
    struct trace_session s;

    demand_ev_to_trace(&ev, &s);
    CHECK(strcmp(s.id, ev.id) == 0 && s.source == TRACE_SOURCE_TOURIST && s.wants_dc == 1);
    CHECK(s.arrival_ms == 1000 && s.plug_ms == 1000 && s.departure_ms == 5000 &&
          s.declared_departure_ms == 6000);
    CHECK_NEAR(s.max_kw, 100, 0);
    CHECK_NEAR(s.wanted_kwh, 42, 1e-9);
    CHECK(s.connector[0] == '\0' && s.delivered_kwh == 0.0 && s.lost == 0);
    ev.wants_dc = 0;
    demand_ev_to_trace(&ev, &s);
    CHECK_NEAR(s.max_kw, 7, 0);
}

int main(void)
{
    uint64_t seed = test_seed();

    printf("seed %" PRIu64 " (set FLEXD_TEST_SEED to replay)\n", seed);
    test_holidays();
    test_validate();
    test_from_station();
    test_determinism(seed);
    test_rules(seed);
    test_day_effects(seed);
    test_long_run(seed);
    test_sharing(seed);
    test_visitor_flow(seed);
    test_profile(seed);
    test_to_trace();
    return CHECK_DONE();
}
