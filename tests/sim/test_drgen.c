/* SPDX-License-Identifier: MIT */
/*
 * test_drgen.c - the DR event generator: parameter validation, determinism
 * and split independence, the rules every event obeys (inside its window,
 * no zero length, notice no later than the start, limits in range, no cap
 * overlapping a floor), long-run counts per kind and month against
 * per_month, and the preset days. Seed from FLEXD_TEST_SEED (default
 * 20260715), printed; statistical tolerances are 5 standard errors.
 */
#include "check.h"

#include "common/clock.h"
#include "common/numparse.h"
#include "sim/drgen.h"

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

static int same_events(const struct drgen_event *a, int na, const struct drgen_event *b, int nb)
{
    int same = na == nb;

    for (int i = 0; same && i < na; i++) {
        same = strcmp(a[i].id, b[i].id) == 0 && a[i].type == b[i].type && a[i].kind == b[i].kind &&
               a[i].start_ms == b[i].start_ms && a[i].end_ms == b[i].end_ms &&
               a[i].notice_ms == b[i].notice_ms &&
               memcmp(&a[i].limit_kw, &b[i].limit_kw, sizeof(double)) == 0;
    }
    return same;
}

static void expect_invalid(const struct drgen_params *p, const char *a, const char *b)
{
    struct error_detail ed = {{0}};
    struct drgen_event *ev = (struct drgen_event *)&ed;
    int n = 5;

    CHECK(drgen_params_validate(p, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, a);
    CHECK_STR_CONTAINS(ed.text, b);
    CHECK(drgen_generate(p, 1, 0, CLOCK_DAY_MS, &ev, &n) == ERROR_INVALID);
    CHECK(ev == NULL && n == 0);
}

static void test_validate(void)
{
    struct drgen_params p;
    struct error_detail ed = {{0}};

    drgen_params_default(&p);
    CHECK(drgen_params_validate(&p, &ed) == ERROR_OK);
    p.kinds[1].duration_max_min = 300;
    expect_invalid(&p, "kinds[1].duration_max_min: 300:", "must be in [60, 240]");
    drgen_params_default(&p);
    p.kinds[0].per_month[6] = 40;
    expect_invalid(&p, "kinds[0].per_month[6]: 40:", "must be in [0, 28]");
    drgen_params_default(&p);
    p.kinds[2].limit_kw_max = 10;
    expect_invalid(&p, "kinds[2].limit_kw_max: 10:", "must be in [50,");
    drgen_params_default(&p);
    snprintf(p.kinds[3].name, sizeof(p.kinds[3].name), "Short cap");
    expect_invalid(&p, "kinds[3].name: \"Short cap\"", "must use only a-z 0-9 _ -");
    drgen_params_default(&p);
    snprintf(p.kinds[3].name, sizeof(p.kinds[3].name), "evening_cap");
    expect_invalid(&p, "kinds[3].name: \"evening_cap\"", "must differ from kinds[0].name");
    drgen_params_default(&p);
    p.kinds[0].duration_min_min = 0;
    expect_invalid(&p, "kinds[0].duration_min_min: 0:", "must be in [15, 180]");
    drgen_params_default(&p);
    p.kinds[3].duration_max_min = 50;
    expect_invalid(&p,
                   "kinds[3].duration_min_min/duration_max_min: 30/50",
                   "multiples of align_min 15");
    drgen_params_default(&p);
    p.kinds[0].window.end_min = p.kinds[0].window.start_min;
    expect_invalid(&p, "kinds[0].window.end_min: 1080:", "must differ from start_min");
    drgen_params_default(&p);
    p.n_kinds = 9;
    expect_invalid(&p, "n_kinds: 9:", "must be in [0, 8]");
}

static void test_determinism(uint64_t seed)
{
    struct drgen_params p;
    int64_t t0 = day_ms(2026, 1, 1), t1 = day_ms(2031, 1, 1);
    struct drgen_event *a, *b, *c, *part;
    int na, nb, nc, np, k = 0, same_split = 1;

    drgen_params_default(&p);
    CHECK(drgen_generate(&p, seed, t0, t1, &a, &na) == ERROR_OK);
    CHECK(drgen_generate(&p, seed, t0, t1, &b, &nb) == ERROR_OK);
    CHECK(drgen_generate(&p, seed + 1, t0, t1, &c, &nc) == ERROR_OK);
    CHECK(na > 100);
    CHECK(same_events(a, na, b, nb));
    CHECK(!same_events(a, na, c, nc));
    free(b);
    free(c);
    /* month by month, cut at 00:30 so wrapping night windows straddle cuts */
    for (int y = 2026; y < 2031; y++) {
        for (int m = 1; m <= 12; m++) {
            int64_t from = y == 2026 && m == 1 ? t0 : clock_from_local(y, m, 1, 0, 30, 0);
            int64_t to = m == 12 ? (y == 2030 ? t1 : clock_from_local(y + 1, 1, 1, 0, 30, 0))
                                 : clock_from_local(y, m + 1, 1, 0, 30, 0);

            CHECK(drgen_generate(&p, seed, from, to, &part, &np) == ERROR_OK);
            same_split = same_split && k + np <= na && same_events(part, np, a + k, np);
            k += np;
            free(part);
        }
    }
    CHECK(same_split && k == na);
    CHECK(drgen_generate(&p, seed, t1, t0, &part, &np) == ERROR_RANGE);
    CHECK(part == NULL && np == 0);
    printf("determinism: %d events 2026-2030, identical whole and month by month\n", na);
    free(a);
}

/* Rules one event must obey; returns 1 if all hold. */
static int event_ok(const struct drgen_params *p, const struct drgen_event *e)
{
    const struct drgen_kind *k = &p->kinds[e->kind];
    int dur = (int)((e->end_ms - e->start_ms) / MIN_MS);
    int len = k->window.end_min - k->window.start_min;
    int64_t local = e->start_ms + CLOCK_LOCAL_OFFSET_MS;
    int start_min = (int)((local % CLOCK_DAY_MS) / MIN_MS);
    int64_t window_day = (local - ((start_min - k->window.start_min + 1440) % 1440) * MIN_MS) /
                         CLOCK_DAY_MS; /* local day the event's window opened */
    int offset = (start_min - k->window.start_min + 1440) % 1440;
    int ok;

    len = len <= 0 ? len + 1440 : len;
    ok = e->end_ms > e->start_ms && e->notice_ms <= e->start_ms && e->type == k->type &&
         dur >= k->duration_min_min && dur <= k->duration_max_min && dur % k->align_min == 0 &&
         offset + dur <= len && offset % k->align_min == 0 && e->limit_kw >= k->limit_kw_min &&
         e->limit_kw <= k->limit_kw_max && fmod(e->limit_kw, k->limit_step_kw) == 0.0;
    if (k->day_ahead) {
        ok = ok && e->notice_ms == (window_day - 1) * CLOCK_DAY_MS - CLOCK_LOCAL_OFFSET_MS +
                                       k->notice_min * MIN_MS;
    } else {
        ok = ok && e->start_ms - e->notice_ms == k->notice_min * MIN_MS;
    }
    return ok;
}

static void test_rules(uint64_t seed)
{
    struct drgen_params p;
    struct drgen_event *e;
    int n, bad = 0, sorted = 1, unique = 1, clash = 0;

    drgen_params_default(&p);
    CHECK(drgen_generate(&p, seed, day_ms(2025, 1, 1), day_ms(2035, 1, 1), &e, &n) == ERROR_OK);
    for (int i = 0; i < n; i++) {
        bad += !event_ok(&p, &e[i]);
        sorted = sorted && (i == 0 || e[i - 1].start_ms <= e[i].start_ms);
        for (int j = 0; j < i; j++) {
            unique = unique && strcmp(e[i].id, e[j].id) != 0;
            clash += e[i].type != e[j].type && e[j].end_ms > e[i].start_ms &&
                     e[i].end_ms > e[j].start_ms;
        }
    }
    CHECK(n > 300);
    CHECK(bad == 0);
    CHECK(sorted && unique);
    CHECK(clash == 0);
    printf("rules: %d events 2025-2034, %d broke a rule, %d cap/floor overlaps\n", n, bad, clash);
    free(e);
}

static void test_counts(uint64_t seed)
{
    struct drgen_params p;
    struct drgen_event *e;
    int n, years = 40;
    double count[DRGEN_KINDS_MAX][12] = {{0}};

    drgen_params_default(&p);
    CHECK(drgen_generate(&p, seed, day_ms(2030, 1, 1), day_ms(2030 + years, 1, 1), &e, &n) ==
          ERROR_OK);
    for (int i = 0; i < n; i++) {
        struct clock_civil c;

        /* count by the month the window opened in (night floors may start after midnight) */
        clock_to_local(e[i].start_ms - 6 * 3600000LL, &c);
        count[e[i].kind][c.month - 1] += 1;
    }
    printf("events per year over %d years (expected from per_month):\n", years);
    for (int k = 0; k < p.n_kinds; k++) {
        double got = 0.0, want = 0.0, var = 0.0;

        for (int m = 0; m < 12; m++) {
            double days = m == 1 ? 28.25 : (m == 3 || m == 5 || m == 8 || m == 10) ? 30 : 31;
            double q = p.kinds[k].per_month[m] / days;

            got += count[k][m];
            want += p.kinds[k].per_month[m] * years;
            var += days * years * q * (1 - q);
        }
        printf("  %-13s %5.2f (%5.2f)\n", p.kinds[k].name, got / years, want / years);
        if (k < 3) {
            CHECK_NEAR(got, want, 5 * sqrt(var) + 1);
        } else {
            /* short-notice caps that fall on a midday floor are dropped */
            CHECK(got <= want + 5 * sqrt(var) && got >= 0.8 * want);
        }
    }
    free(e);
}

static void test_presets(void)
{
    int64_t d = day_ms(2026, 7, 15);
    struct drgen_event *e = NULL;
    int n = -1;

    for (int i = 0; drgen_preset_names[i]; i++) {
        CHECK(drgen_preset(drgen_preset_names[i], d, &e, &n) == ERROR_OK);
        CHECK(e != NULL && n == (i == 0 ? 0 : i == 4 ? 3 : 1));
        for (int j = 0; j < n; j++) {
            CHECK(e[j].end_ms > e[j].start_ms && e[j].notice_ms <= e[j].start_ms);
            CHECK(e[j].start_ms >= d && e[j].end_ms <= d + CLOCK_DAY_MS);
            CHECK(j == 0 || e[j - 1].start_ms <= e[j].start_ms);
        }
        free(e);
    }
    CHECK(drgen_preset("mixed", d, &e, &n) == ERROR_OK);
    CHECK(n == 3 && e[0].type == SCENARIO_DR_IMPORT_FLOOR && e[2].type == SCENARIO_DR_IMPORT_CAP);
    CHECK(n == 3 && e[2].start_ms == d + 18 * 60 * MIN_MS && e[2].limit_kw == 150.0);
    CHECK(n == 3 && e[1].start_ms - e[1].notice_ms == 30 * MIN_MS);
    free(e);
    CHECK(drgen_preset("tuesday", d, &e, &n) == ERROR_INVALID);
    CHECK(e == NULL && n == 0);
}

int main(void)
{
    uint64_t seed = test_seed();

    printf("seed %" PRIu64 " (set FLEXD_TEST_SEED to replay)\n", seed);
    test_validate();
    test_determinism(seed);
    test_rules(seed);
    test_counts(seed);
    test_presets();
    return CHECK_DONE();
}
