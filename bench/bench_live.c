/* SPDX-License-Identifier: MIT */
/*
 * bench_live.c - the live engine against the device simulator over real
 * Modbus TCP on loopback, the whole Ulanhada station (meter, 3 PV
 * inverters, the PCS, 16 connectors, the parking controller) at the
 * production settings: 1 s cycle, meter polled every 500 ms, the rest
 * every 1 s.
 *
 *   bench_live [SECONDS] [STEPS]
 *
 * Part 1 (SECONDS, default 60): the simulator runs in a child process so
 * the figures are flexd's alone: the full poll cycle (per cycle, the
 * slowest device's poll: devices are polled in parallel), median and p99;
 * flexd's CPU over the window as % of one core; peak RSS.
 * Part 2 (STEPS, default 30): in one process, a 100 kW base-load step
 * under an import cap, alternately up and down; the time from the step in
 * the simulator until the simulator's meter is back under the cap with
 * corrected setpoints, in cycles: median, p99, max.
 */
#include "common/clock.h"
#include "common/numparse.h"
#include "config/builtin.h"
#include "engine/live.h"
#include "engine/planner.h"
#include "sim/devsim.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define BL_CYCLE_MS 1000

static int bl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v. */
static double bl_pct(const double *v, int n, double p)
{
    int i = (int)ceil(p / 100.0 * n) - 1;

    return n ? v[i < 0 ? 0 : (i >= n ? n - 1 : i)] : NAN;
}

static double bl_cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static int bl_connector(const struct station *st, const char *id)
{
    for (int k = 0; k < station_connector_count(st); k++) {
        if (strcmp(planner_connector(st, k, NULL)->id, id) == 0) {
            return k;
        }
    }
    abort();
}

static struct devsim *bl_devsim(const struct station *st, int port_base)
{
    struct devsim_options o;
    struct devsim *ds = NULL;
    struct error_detail ed = {{0}};
    const char *cars[6] = {"DC1-A", "DC2-A", "DC3-A", "DC4-B", "AC1-1", "AC2-1"};

    devsim_options_default(&o);
    o.port_base = port_base;
    o.cars = 0;
    o.maps_dir = FLEXD_SOURCE_DIR "/config/devices";
    o.start_ms = clock_from_local(2026, 7, 18, 12, 0, 0);
    if (devsim_start(st, &o, &ds, &ed) != ERROR_OK) {
        fprintf(stderr, "devsim: %s\n", ed.text);
        exit(1);
    }
    devsim_set_pv_available_kw(ds, 150.0);
    devsim_set_base_kw(ds, 25.0);
    devsim_set_soc(ds, 0.5);
    for (int i = 0; i < 6; i++) {
        devsim_plug(ds, bl_connector(st, cars[i]), 200.0, i < 4 ? 120.0 : 7.0);
    }
    return ds;
}

static struct live *bl_live(const struct station *st, const int *ports, int port_base)
{
    struct live_options o;
    struct live *l = NULL;
    struct error_detail ed = {{0}};

    live_options_default(&o);
    o.host = "127.0.0.1";
    o.ports = ports;
    o.port_base = port_base;
    o.maps_dir = FLEXD_SOURCE_DIR "/config/devices";
    if (live_new(st, &o, &l, &ed) != ERROR_OK) {
        fprintf(stderr, "live: %s\n", ed.text);
        exit(1);
    }
    return l;
}

/* Part 1: devsim in a child, flexd's cost in this process. */
static void bl_steady(struct station *st, int seconds)
{
    int port_base = 20000 + (int)(getpid() % 20000);
    struct clock *c = clock_new_real();
    pid_t child = fork();
    struct live *l;
    struct live_status ls;
    double *poll_ms = calloc((size_t)seconds + 1, sizeof(double));
    int n = 0;
    double cpu0;
    int64_t t0;

    if (child == 0) {
        struct devsim *ds = bl_devsim(st, port_base);

        pause(); /* until the parent kills us */
        devsim_stop(ds);
        _exit(0);
    }
    clock_sleep_ms(c, 500);
    l = bl_live(st, NULL, port_base);
    for (int i = 0; i < 15; i++) { /* connect, discover, first plan */
        live_cycle(l);
        clock_sleep_ms(c, BL_CYCLE_MS);
    }
    live_status(l, &ls);
    printf("devices online %d of %d, on plan %d\n",
           ls.devices_online,
           ls.devices_total,
           ls.on_plan);
    cpu0 = bl_cpu_s();
    t0 = clock_mono_ms(c);
    for (int i = 0; i < seconds; i++) {
        int64_t next = t0 + (int64_t)(i + 1) * BL_CYCLE_MS;

        live_cycle(l);
        live_status(l, &ls);
        poll_ms[n++] = ls.poll_max_ms;
        clock_sleep_ms(c, next - clock_mono_ms(c));
    }
    {
        double wall_s = (double)(clock_mono_ms(c) - t0) / 1000.0;
        double cpu = bl_cpu_s() - cpu0;
        struct rusage ru;

        qsort(poll_ms, (size_t)n, sizeof(double), bl_cmp);
        getrusage(RUSAGE_SELF, &ru);
        printf(
            "full poll cycle (slowest device per cycle), %d cycles: median %.2f ms, p99 %.2f ms, "
            "max %.2f ms\n",
            n,
            bl_pct(poll_ms, n, 50),
            bl_pct(poll_ms, n, 99),
            poll_ms[n - 1]);
        printf("CPU at the 1 s cycle: %.2f %% of one core (%.2f s over %.1f s)\n",
               100.0 * cpu / wall_s,
               cpu,
               wall_s);
        printf("peak RSS: %.1f MB\n", ru.ru_maxrss / 1024.0);
    }
    live_free(l);
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    free(poll_ms);
    clock_free(c);
}

/* Part 2: reaction to a load step under a cap, in cycles. */
static void bl_reaction(struct station *st, int steps)
{
    struct clock *c = clock_new_real();
    struct devsim *ds = bl_devsim(st, 0);
    int ports[STATION_DEVICES_MAX];
    struct live *l;
    struct controller_dr cap;
    double *cycles = calloc((size_t)steps, sizeof(double));
    int n = 0;
    const double cap_kw = 60.0;
    volatile sig_atomic_t stop = 0;
    struct live_status ls;

    (void)stop;
    for (int d = 0; d < st->n_devices; d++) {
        ports[d] = devsim_port(ds, d);
    }
    devsim_set_soc(ds, 0.12); /* little battery: the chargers must give way */
    l = bl_live(st, ports, 0);
    memset(&cap, 0, sizeof(cap));
    snprintf(cap.id, sizeof(cap.id), "bench-cap");
    cap.type = SCENARIO_DR_IMPORT_CAP;
    cap.notice_ms = clock_now_ms(c) - 60000;
    cap.start_ms = cap.notice_ms;
    cap.end_ms = cap.start_ms + 24LL * 3600 * 1000;
    cap.limit_kw = cap_kw;
    live_set_dr(l, &cap, 1);
    for (int i = 0; i < 15; i++) {
        live_cycle(l);
        clock_sleep_ms(c, BL_CYCLE_MS);
    }
    live_status(l, &ls);
    printf("reaction: devices online %d of %d, cap %.0f kW\n",
           ls.devices_online,
           ls.devices_total,
           ls.import_max_kw);
    for (int s = 0; s < steps; s++) {
        struct devsim_state d;
        int64_t t0;
        int64_t deadline;
        int64_t next_cycle;
        int done = 0;
        int broke = 0;

        /* settle at the low load, then step up at a random phase of the cycle */
        devsim_set_base_kw(ds, 25.0);
        for (int i = 0; i < 4; i++) {
            live_cycle(l);
            clock_sleep_ms(c, BL_CYCLE_MS);
        }
        next_cycle = clock_mono_ms(c);
        clock_sleep_ms(c, rand() % BL_CYCLE_MS);
        devsim_state(ds, &d);
        if (s == 0) {
            printf("before the step: grid %.1f kW, EV %.1f kW, PV %.1f kW, battery %.1f kW\n",
                   d.grid_kw,
                   d.ev_kw,
                   d.pv_kw,
                   d.ess_kw);
        }
        devsim_set_base_kw(ds, 125.0);
        t0 = clock_mono_ms(c);
        deadline = t0 + 10 * BL_CYCLE_MS;
        while (!done && clock_mono_ms(c) < deadline) {
            if (clock_mono_ms(c) >= next_cycle) {
                live_cycle(l);
                next_cycle += BL_CYCLE_MS;
            }
            clock_sleep_ms(c, 5);
            devsim_state(ds, &d);
            broke |= d.grid_kw > cap_kw + 2.0;
            done = broke && d.grid_kw <= cap_kw + 2.0;
        }
        if (!broke) {
            printf("step %d did not break the cap (grid %.1f kW): not counted\n", s, d.grid_kw);
            continue;
        }
        cycles[n++] = (double)(clock_mono_ms(c) - t0) / BL_CYCLE_MS;
    }
    if (n == 0) {
        printf("no step broke the cap\n");
        live_free(l);
        devsim_stop(ds);
        free(cycles);
        clock_free(c);
        return;
    }
    qsort(cycles, (size_t)n, sizeof(double), bl_cmp);
    printf("reaction to a 100 kW load step under a %.0f kW cap, %d steps: median %.2f, p99 %.2f, "
           "max %.2f cycles\n",
           cap_kw,
           n,
           bl_pct(cycles, n, 50),
           bl_pct(cycles, n, 99),
           cycles[n - 1]);
    live_free(l);
    devsim_stop(ds);
    free(cycles);
    clock_free(c);
}

int main(int argc, char **argv)
{
    struct station *st = NULL;
    struct error_detail ed = {{0}};
    long seconds = 60;
    long steps = 30;

    if ((argc > 1 && numparse_long(argv[1], 1, 86400, &seconds) != ERROR_OK) ||
        (argc > 2 && numparse_long(argv[2], 1, 10000, &steps) != ERROR_OK)) {
        fprintf(stderr, "usage: bench_live [SECONDS] [STEPS]\n");
        return 2;
    }
    if (builtin_station_load(&st, &ed) != ERROR_OK) {
        fprintf(stderr, "%s\n", ed.text);
        return 1;
    }
    printf("command: bench_live %ld %ld\n", seconds, steps);
    bl_steady(st, (int)seconds);
    bl_reaction(st, (int)steps);
    station_free(st);
    return 0;
}
