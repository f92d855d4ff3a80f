/* SPDX-License-Identifier: MIT */
/*
 * bench_forecast.c - what the EV-arrival forecast (engine/ev_forecast.c)
 * costs the live control thread, which computes it with every plan
 * request: the expected power of the cars still to come over a 24 h
 * horizon of 15-min steps, with a visitor-flow and a road-congestion
 * outlook of 96 intervals each (the most the MQTT interface accepts), on
 * the built-in Ulanhada station. Also the cost of relearning eight weeks
 * of sessions after a restart. Prints the median, p95 and worst of RUNS
 * repetitions. Not a test: it asserts nothing.
 *
 * Usage: bench_forecast [RUNS]   (default 200)
 */
#include "common/clock.h"
#include "common/error.h"
#include "common/numparse.h"
#include "config/builtin.h"
#include "engine/ev_forecast.h"

#include <stdio.h>
#include <stdlib.h>

#define BF_STEPS 96

static int bf_cmp(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

static void bf_print(const char *what, double *ms, int n)
{
    qsort(ms, (size_t)n, sizeof(*ms), bf_cmp);
    printf("%-44s median %7.3f ms  p95 %7.3f ms  max %7.3f ms\n",
           what,
           ms[n / 2],
           ms[(int)(0.95 * (n - 1))],
           ms[n - 1]);
}

/* Eight weeks of a station's sessions: 28 a day, 08:00-21:30. */
static void bf_relearn(struct ev_forecast *f, const struct station *st, int64_t now)
{
    ev_forecast_init(f, st);
    for (int d = 56; d >= 1; d--) {
        for (int i = 0; i < 28; i++) {
            int64_t plug = now - d * CLOCK_DAY_MS + i * 29 * 60000LL;

            ev_forecast_arrival(f, i % 3 == 0 ? EV_FORECAST_AC : EV_FORECAST_DC, plug);
            ev_forecast_departure(f, i % 3 == 0 ? EV_FORECAST_AC : EV_FORECAST_DC, 28.0, 50.0);
        }
    }
    ev_forecast_advance(f, now);
}

int main(int argc, char **argv)
{
    struct station *st = NULL;
    struct error_detail ed = {{0}};
    struct clock *clk = clock_new_real();
    struct ev_forecast f;
    struct ev_outlook_interval iv[BF_STEPS];
    int64_t now = clock_from_local(2026, 7, 18, 8, 0, 0);
    long runs = 200;
    double kw[BF_STEPS], kwh = 0.0, *fc_ms, *learn_ms;

    if (argc > 1 && numparse_long(argv[1], 1, 100000, &runs) != ERROR_OK) {
        fprintf(stderr, "usage: bench_forecast [RUNS 1..100000]\n");
        return 2;
    }
    if (builtin_station_load(&st, &ed) != ERROR_OK) {
        fprintf(stderr, "%s\n", ed.text);
        return 1;
    }
    fc_ms = calloc((size_t)runs, sizeof(double));
    learn_ms = calloc((size_t)runs, sizeof(double));
    printf("bench_forecast %ld: %d steps of 15 min, two outlooks of %d intervals\n",
           runs,
           BF_STEPS,
           BF_STEPS);
    for (long r = 0; r < runs; r++) {
        int64_t t0 = clock_mono_us(clk);

        bf_relearn(&f, st, now);
        learn_ms[r] = (double)(clock_mono_us(clk) - t0) / 1000.0;
    }
    for (int i = 0; i < BF_STEPS; i++) {
        iv[i].start_ms = now + i * 900000LL;
        iv[i].end_ms = iv[i].start_ms + 900000LL;
        iv[i].value = 200.0 + 10.0 * i;
    }
    ev_forecast_set_outlook(&f, EV_OUTLOOK_VISITOR_FLOW, iv, BF_STEPS);
    for (int i = 0; i < BF_STEPS; i++) {
        iv[i].value = 0.05 + 0.005 * i;
    }
    ev_forecast_set_outlook(&f, EV_OUTLOOK_ROAD_CONGESTION, iv, BF_STEPS);
    for (long r = 0; r < runs; r++) {
        int64_t t0 = clock_mono_us(clk);

        kwh = ev_forecast_kw(&f, now, 15, BF_STEPS, kw);
        fc_ms[r] = (double)(clock_mono_us(clk) - t0) / 1000.0;
    }
    bf_print("forecast, 24 h with both outlooks", fc_ms, (int)runs);
    bf_print("relearn 8 weeks (1,568 sessions)", learn_ms, (int)runs);
    printf("expected energy of the cars to come: %.0f kWh over 24 h\n", kwh);
    free(fc_ms);
    free(learn_ms);
    station_free(st);
    clock_free(clk);
    return 0;
}
