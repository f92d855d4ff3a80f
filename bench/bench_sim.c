/* SPDX-License-Identifier: MIT */
/*
 * bench_sim.c - speed of a long `flexd sim` run: one year (2026-01-01,
 * 15-min steps, 24 h horizon, seed 1, built-in Ulanhada configuration)
 * with the mpc strategy, which solves an LP every step. Prints the wall
 * and CPU time of the run, simulated time / wall time, percentiles of the
 * time of one LP solve (optimizer_solve, wall clock, as the controller
 * records it in the trace), the number of steps that solved an LP and the
 * peak resident set size. With --compare it runs all four strategies on
 * the same world and then prints the KPI comparison table of `flexd sim`
 * (report_print_table). Not a test: it asserts nothing. Main thread.
 *
 * Usage: bench_sim [--compare] [--days N] [--seed N]
 */
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/numparse.h"
#include "config/builtin.h"
#include "engine/controller.h"
#include "sim/kpi.h"
#include "sim/report.h"
#include "sim/run.h"
#include "sim/world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define BENCH_START    "2026-01-01"
#define BENCH_DAYS     365
#define BENCH_STEP_MIN 15
#define BENCH_HORIZON  96 /* 24 h of 15-min steps */
#define BENCH_SEED     1

struct bench_args {
    int compare;
    long days;
    long seed;
};

static int bench_parse(int argc, char **argv, struct bench_args *a)
{
    a->compare = 0;
    a->days = BENCH_DAYS;
    a->seed = BENCH_SEED;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--compare") == 0) {
            a->compare = 1;
        } else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc) {
            if (numparse_long(argv[++i], 1, 3660, &a->days)) {
                return ERROR_USAGE;
            }
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            if (numparse_long(argv[++i], 0, 0x7fffffffL, &a->seed)) {
                return ERROR_USAGE;
            }
        } else {
            return ERROR_USAGE;
        }
    }
    return ERROR_OK;
}

/* The world of `flexd sim --start 2026-01-01 --days N --seed N`. */
static int bench_world(const struct bench_args *a,
                       const struct station *st,
                       struct world **w,
                       struct error_detail *ed)
{
    struct world_options wo;

    world_options_default(&wo);
    if (clock_parse_date(BENCH_START, &wo.start_ms)) {
        return error_setf(ed, ERROR_INVALID, "start: %s: not a date", BENCH_START);
    }
    wo.days = (int)a->days;
    wo.step_minutes = BENCH_STEP_MIN;
    wo.seed = (uint64_t)a->seed;
    wo.pad_steps = 2 * BENCH_HORIZON;
    demand_params_from_station(&wo.demand, st);
    wo.demand.sharing_enabled = 1;
    return world_build(st, &wo, w, ed);
}

static double bench_cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* Percentiles of the solve time over the steps that solved an LP (every
 * step for mpc, one per chunk for the oracle), with kpi_percentiles() as
 * in summary.json, whose solve_ms_p* count the other steps as zeros. */
static void bench_solves(const struct trace *t, double pct_ms[4], int *n, double *total_ms)
{
    static const double pcts[4] = {50.0, 95.0, 99.0, 100.0};
    double *ms = alloc_array((size_t)t->n_rows, sizeof(*ms));

    *n = 0;
    *total_ms = 0.0;
    for (int k = 0; k < t->n_rows; k++) {
        if (t->rows[k].solve_ms > 0.0) {
            ms[(*n)++] = t->rows[k].solve_ms;
            *total_ms += t->rows[k].solve_ms;
        }
    }
    kpi_percentiles(ms, *n, pcts, 4, pct_ms);
    free(ms);
}

/* Run one strategy and print its line of figures. */
static int bench_run(struct clock *clk,
                     const struct world *w,
                     enum controller_strategy s,
                     struct trace **t,
                     struct error_detail *ed)
{
    struct run_options ro;
    double sim_s = (double)w->steps * w->opt.step_minutes * 60.0;
    double cpu0 = bench_cpu_s();
    int64_t t0 = clock_mono_us(clk);
    double pct_ms[4];
    double total_ms;
    double wall_s;
    double cpu_s;
    int n;
    int rc;

    run_options_default(&ro);
    ro.strategy = s;
    ro.horizon_steps = BENCH_HORIZON;
    rc = run_strategy(w, &ro, t, ed);
    wall_s = (double)(clock_mono_us(clk) - t0) / 1e6;
    cpu_s = bench_cpu_s() - cpu0;
    if (rc) {
        return rc;
    }
    bench_solves(*t, pct_ms, &n, &total_ms);
    printf("%-12s %9.2f %9.2f %8.0f %6d %8.3f %8.3f %8.3f %8.3f %9.1f\n",
           controller_strategy_names[s],
           wall_s,
           cpu_s,
           sim_s / wall_s,
           n,
           pct_ms[0],
           pct_ms[1],
           pct_ms[2],
           pct_ms[3],
           total_ms / 1000.0);
    fflush(stdout);
    return ERROR_OK;
}

/* The command, the run and the column heads. */
static void bench_header(int argc, char **argv, const struct bench_args *a)
{
    printf("command:");
    for (int i = 0; i < argc; i++) {
        printf(" %s", argv[i]);
    }
    printf("\n%s: %s, %ld days from %s, %d-min steps, horizon %d steps, seed %ld\n",
           argv[0],
           BUILTIN_NAME,
           a->days,
           BENCH_START,
           BENCH_STEP_MIN,
           BENCH_HORIZON,
           a->seed);
}

static void bench_columns(void)
{
    printf(
        "speed = simulated time / wall time; p50..max = wall ms of one LP solve (optimizer_solve)"
        " over the steps that solved one\n");
    printf("%-12s %9s %9s %8s %6s %8s %8s %8s %8s %9s\n",
           "strategy",
           "wall s",
           "cpu s",
           "speed",
           "solves",
           "p50",
           "p95",
           "p99",
           "max",
           "solve s");
}

/* mpc alone, or every strategy with --compare; traces[0..*n-1] are the
 * caller's. */
static int bench_strategies(struct clock *clk,
                            const struct world *w,
                            const struct bench_args *a,
                            struct trace **traces,
                            int *n,
                            struct error_detail *ed)
{
    int first = a->compare ? 0 : CONTROLLER_MPC;
    int last = a->compare ? CONTROLLER_NSTRATEGIES - 1 : CONTROLLER_MPC;
    int rc = ERROR_OK;

    *n = 0;
    for (int s = first; s <= last && !rc; s++) {
        rc = bench_run(clk, w, (enum controller_strategy)s, &traces[*n], ed);
        if (!rc) {
            (*n)++;
        }
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct error_detail ed = {{0}};
    struct clock *clk = clock_new_real();
    struct station *st = NULL;
    struct world *w = NULL;
    struct trace *traces[CONTROLLER_NSTRATEGIES] = {0};
    struct bench_args a;
    struct rusage ru;
    int n = 0;
    int64_t t0;
    int rc;

    rc = bench_parse(argc, argv, &a);
    if (rc) {
        fprintf(stderr, "usage: bench_sim [--compare] [--days N] [--seed N]\n");
        goto out;
    }
    bench_header(argc, argv, &a);
    t0 = clock_mono_us(clk);
    rc = builtin_station_load(&st, &ed);
    if (!rc) {
        rc = bench_world(&a, st, &w, &ed);
    }
    if (rc || !w) {
        goto out;
    }
    printf("world: %d steps, %d cars, %d DR events, built in %.2f s\n",
           w->steps,
           w->n_cars,
           w->n_dr,
           (double)(clock_mono_us(clk) - t0) / 1e6);
    bench_columns();
    rc = bench_strategies(clk, w, &a, traces, &n, &ed);
    if (rc) {
        goto out;
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %ld KiB\n", ru.ru_maxrss);
    if (a.compare) {
        printf("\n");
        report_print_table(stdout, traces, n);
    }
out:
    if (rc && rc != ERROR_USAGE) {
        fprintf(stderr, "bench_sim: %s\n", ed.text);
    }
    for (int i = 0; i < n; i++) {
        trace_free(traces[i]);
    }
    world_free(w);
    station_free(st);
    clock_free(clk);
    return rc;
}
