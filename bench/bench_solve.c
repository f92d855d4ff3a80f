/* SPDX-License-Identifier: MIT */
/*
 * bench_solve.c - wall time of optimizer_solve() (model build, solve,
 * read-back and warnings) on random stations of three sizes, each with a
 * battery, PV and two DR events, without and with 96 steps of adjustable
 * capacity. Prints the command, the seed, a table of milliseconds and the
 * peak resident set size. Not a test: it asserts nothing.
 *
 * Usage: bench_solve [RUNS [SEED]]   RUNS per small size (default 30; the
 * 288x200 size runs a third as often, at least 3).
 */
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/numparse.h"
#include "models/plan.h"
#include "models/scenario.h"
#include "optimizer/optimizer.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#define DEFAULT_RUNS 30
#define DEFAULT_SEED 42

static uint64_t rng_state;

/* splitmix64 */
static uint64_t rnd_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rnd_real(double lo, double hi)
{
    return lo + (hi - lo) * (double)(rnd_next() >> 11) * (1.0 / 9007199254740992.0);
}

static int rnd_int(int lo, int hi)
{
    return lo + (int)(rnd_next() % (uint64_t)(hi - lo + 1));
}

/* One day of a charging site: time-of-use prices, a PV bell curve, a load
 * that wanders, a connection sized for about 60 % of the chargers. */
static void bench_series(struct scenario *sc, double limit_kw)
{
    double load = 0.2 * limit_kw;

    for (int t = 0; t < sc->steps; t++) {
        double hour = fmod(t * sc->step_minutes / 60.0, 24.0);
        double sun = sin((hour - 6.0) / 12.0 * 3.14159265358979);

        sc->import_limit_kw[t] = limit_kw;
        sc->export_limit_kw[t] = 0.3 * limit_kw;
        load = fmin(0.5 * limit_kw, fmax(0.05 * limit_kw, load + rnd_real(-0.02, 0.02) * limit_kw));
        sc->base_load_kw[t] = load;
        sc->pv_available_kw[t] = sun > 0 ? 0.4 * limit_kw * sun * rnd_real(0.7, 1.0) : 0.0;
        if (hour >= 10 && hour < 15) {
            sc->buy_cny_per_kwh[t] = 1.2;
        } else if (hour >= 18 && hour < 21) {
            sc->buy_cny_per_kwh[t] = 1.4;
        } else if (hour >= 23 || hour < 7) {
            sc->buy_cny_per_kwh[t] = 0.35;
        } else {
            sc->buy_cny_per_kwh[t] = 0.8;
        }
        sc->sell_cny_per_kwh[t] = 0.39;
    }
}

static void bench_battery(struct scenario *sc, double limit_kw)
{
    sc->has_ess = 1;
    sc->ess.capacity_kwh = 2.0 * limit_kw;
    sc->ess.soc_initial = 0.5;
    sc->ess.soc_min = 0.1;
    sc->ess.soc_max = 0.95;
    sc->ess.reserve_soc = 0.2;
    sc->ess.soc_final_target = 0.5;
    sc->ess.charge_max_kw = 0.5 * limit_kw;
    sc->ess.discharge_max_kw = 0.5 * limit_kw;
    sc->ess.charge_efficiency = 0.95;
    sc->ess.discharge_efficiency = 0.95;
    sc->ess.throughput_cost_cny_per_kwh = 0.05;
}

static void bench_sessions(struct scenario *sc, int n)
{
    int steps_per_hour = 60 / sc->step_minutes;

    scenario_set_connectors(sc, n);
    scenario_set_sessions(sc, n);
    for (int s = 0; s < n; s++) {
        struct scenario_session *ses = &sc->sessions[s];
        int dwell = rnd_int(1 * steps_per_hour, 10 * steps_per_hour);

        snprintf(sc->connectors[s].id, sizeof(sc->connectors[s].id), "c%d", s);
        sc->connectors[s].max_kw = s % 4 == 0 ? 120 : 7;
        snprintf(ses->id, sizeof(ses->id), "s%d", s);
        ses->connector = s;
        ses->arrival_step = rnd_int(0, sc->steps - 2);
        ses->departure_step = ses->arrival_step + dwell;
        if (ses->departure_step > sc->steps) {
            ses->departure_step = sc->steps;
        }
        ses->max_kw = s % 4 == 0 ? rnd_real(50, 120) : 7;
        ses->energy_kwh = rnd_real(5, 60);
    }
}

/* An evening peak-shaving cap and a midday valley-filling floor. */
static void bench_events(struct scenario *sc, double limit_kw)
{
    int steps_per_hour = 60 / sc->step_minutes;

    scenario_set_dr_events(sc, 2);
    snprintf(sc->dr_events[0].id, sizeof(sc->dr_events[0].id), "evening-cap");
    sc->dr_events[0].type = SCENARIO_DR_IMPORT_CAP;
    sc->dr_events[0].start_step = 18 * steps_per_hour;
    sc->dr_events[0].end_step = 20 * steps_per_hour;
    sc->dr_events[0].limit_kw = 0.4 * limit_kw;
    snprintf(sc->dr_events[1].id, sizeof(sc->dr_events[1].id), "noon-floor");
    sc->dr_events[1].type = SCENARIO_DR_IMPORT_FLOOR;
    sc->dr_events[1].start_step = 12 * steps_per_hour;
    sc->dr_events[1].end_step = 13 * steps_per_hour;
    sc->dr_events[1].limit_kw = 0.3 * limit_kw;
}

static struct scenario *bench_scenario(int steps, int n_sessions, int flex_steps)
{
    struct scenario *sc = scenario_new(steps);
    double limit_kw = 100 + 12.0 * n_sessions;

    sc->step_minutes = 24 * 60 / steps; /* always one day */
    bench_series(sc, limit_kw);
    bench_battery(sc, limit_kw);
    bench_sessions(sc, n_sessions);
    bench_events(sc, limit_kw);
    sc->flexibility_steps = flex_steps;
    return sc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n-1]. */
static double percentile(const double *v, int n, double q)
{
    int k = (int)ceil(q * n) - 1;

    return v[k < 0 ? 0 : (k >= n ? n - 1 : k)];
}

static int bench_size(struct clock *clk, int steps, int n_sessions, int flex_steps, int runs)
{
    double *ms = alloc_array((size_t)runs, sizeof(double));
    double *ratio = alloc_array((size_t)runs, sizeof(double));
    long iterations = 0;
    int rc = 0;

    for (int r = 0; r < runs && !rc; r++) {
        struct scenario *sc = bench_scenario(steps, n_sessions, flex_steps);
        struct error_detail ed = {{0}};
        struct plan *p = NULL;
        int64_t t0 = clock_mono_us(clk);

        rc = optimizer_solve(sc, &p, &ed);
        ms[r] = (double)(clock_mono_us(clk) - t0) / 1000.0;
        if (rc) {
            fprintf(stderr, "bench_solve: %dx%d run %d: %s\n", steps, n_sessions, r, ed.text);
        } else {
            ratio[r] = p->solve_ms > 0 ? p->flex_ms / p->solve_ms : 0.0;
            iterations += p->simplex_iterations;
        }
        plan_free(p);
        scenario_free(sc);
    }
    if (!rc) {
        qsort(ms, (size_t)runs, sizeof(double), cmp_double);
        qsort(ratio, (size_t)runs, sizeof(double), cmp_double);
        printf("%5d x %-4d %5d %5d %9.2f %9.2f %9.2f %9.2f %7ld ",
               steps,
               n_sessions,
               flex_steps,
               runs,
               percentile(ms, runs, 0.5),
               percentile(ms, runs, 0.95),
               ms[0],
               ms[runs - 1],
               iterations / runs);
        if (flex_steps > 0) {
            printf("%10.2f\n", percentile(ratio, runs, 0.5));
        } else {
            printf("%10s\n", "-");
        }
    }
    free(ratio);
    free(ms);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct {
        int steps;
        int sessions;
        int runs_div;
    } size[] = {{96, 20, 1}, {96, 100, 1}, {288, 200, 3}};
    struct clock *clk = clock_new_real();
    struct rusage ru;
    long runs = DEFAULT_RUNS;
    long seed = DEFAULT_SEED;
    int rc = 0;

    if ((argc > 1 && numparse_long(argv[1], 1, 100000, &runs)) ||
        (argc > 2 && numparse_long(argv[2], 0, 0x7fffffffL, &seed)) || argc > 3) {
        fprintf(stderr, "usage: bench_solve [RUNS [SEED]]\n");
        rc = ERROR_USAGE;
        goto out;
    }
    printf("command:");
    for (int i = 0; i < argc; i++) {
        printf(" %s", argv[i]);
    }
    printf("\nseed %ld, %ld runs per size (288 x 200: %ld)\n",
           seed,
           runs,
           runs / 3 < 3 ? 3 : runs / 3);
    printf("time of optimizer_solve() in ms, incl. model build; flex ratio = flex_ms / solve_ms\n");
    printf("%-12s %5s %5s %9s %9s %9s %9s %7s %10s\n",
           "T x sessions",
           "flex",
           "runs",
           "median",
           "p95",
           "min",
           "max",
           "iters",
           "flex ratio");
    rng_state = (uint64_t)seed;
    for (int i = 0; i < (int)(sizeof(size) / sizeof(size[0])) && !rc; i++) {
        int n = (int)(runs / size[i].runs_div);

        n = n < 3 ? 3 : n;
        rc = bench_size(clk, size[i].steps, size[i].sessions, 0, n);
        if (!rc) {
            rc = bench_size(clk, size[i].steps, size[i].sessions, 96, n);
        }
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %ld KiB\n", ru.ru_maxrss);
out:
    clock_free(clk);
    return rc;
}
