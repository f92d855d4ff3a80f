/* SPDX-License-Identifier: MIT */
/*
 * bench_history.c - what io/history costs the daemon: a whole station (one
 * station sample and one sample per connector every second) appended and
 * flushed every few seconds, as the daemon does, into a real file in a
 * temporary directory. Prints the command, the median, p99 and worst
 * flush time, rows per second of flush time (the headroom over the 1 Hz
 * load), the file size, the cost of the hourly prune once a day has aged
 * out, and the peak resident set size. Not a test: it asserts nothing.
 *
 * The samples carry virtual timestamps (a virtual clock starting
 * 2026-11-23 08:00 +08:00 steps one second per sample), so an hour of
 * station time runs in well under a second of wall time; flush durations
 * are measured on the real monotonic clock.
 *
 * Usage: bench_history [SECONDS [CONNECTORS [FLUSH_S [DB]]]]
 *        defaults 3600 s of station time, 16 connectors, flush every 5 s.
 *        With DB the database is written there and kept (and not pruned),
 *        with one plan, EV session, DR event, setpoint and alarm besides,
 *        to try the queries in docs/storage.md on it.
 */
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/numparse.h"
#include "io/history.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

static double percentile(const double *sorted, int n, double p)
{
    int i = (int)ceil(p * n) - 1;

    return sorted[i < 0 ? 0 : i];
}

/* A plausible second of a station: PV on a slow sine, EVs cycling. */
static void bench_second(struct history *h, int64_t ts, long s, long n_conn, long *rows)
{
    struct history_sample smp;
    struct history_connector_sample cs;
    double ev_kw = 0;

    memset(&cs, 0, sizeof(cs));
    for (long k = 0; k < n_conn; k++) {
        int charging = ((s / 600 + k) % 3) != 0;

        cs.ts_ms = ts;
        snprintf(cs.connector_id, sizeof(cs.connector_id), "cab%ld-%ld", k / 4 + 1, k % 4 + 1);
        cs.power_kw = charging ? 40.0 + (double)((s + 7 * k) % 80) : 0.0;
        cs.state = charging ? HISTORY_CONNECTOR_CHARGING : HISTORY_CONNECTOR_AVAILABLE;
        ev_kw += cs.power_kw;
        if (history_add_connector(h, &cs, NULL) == ERROR_OK) {
            (*rows)++;
        }
    }
    smp.ts_ms = ts;
    smp.pv_kw = 300.0 * fmax(0.0, sin((double)s / 3600.0));
    smp.pv_limit_kw = NAN;
    smp.battery_kw = s % 900 < 450 ? 100.0 : -100.0;
    smp.battery_soc = 0.5;
    smp.ev_kw = ev_kw;
    smp.base_kw = 30.0;
    smp.import_limit_kw = 1250.0;
    smp.grid_import_kw = fmax(0.0, ev_kw + smp.base_kw - smp.pv_kw - smp.battery_kw);
    smp.grid_export_kw = fmax(0.0, -(ev_kw + smp.base_kw - smp.pv_kw - smp.battery_kw));
    if (history_add_sample(h, &smp, NULL) == ERROR_OK) {
        (*rows)++;
    }
}

/* One record of each kind, for the examples in docs/storage.md. */
static int bench_examples(struct history *h, int64_t t0, struct error_detail *ed)
{
    struct history_plan plan = {.id = "plan-0001",
                                .created_ms = t0,
                                .horizon_start_ms = t0,
                                .step_minutes = 15,
                                .steps = 96,
                                .status = HISTORY_PLAN_ACTIVE,
                                .objective_cny = 1834.27,
                                .json = "{\"steps\":96,\"objective_cny\":1834.27}"};
    struct history_session ses = {.id = "sess-42",
                                  .connector_id = "cab1-2",
                                  .plugin_ms = t0 + 300000,
                                  .energy_kwh = 12.5,
                                  .departure_ms = t0 + 3 * 3600000,
                                  .wanted_kwh = 40,
                                  .state = HISTORY_SESSION_OPEN};
    struct history_dr dr = {.id = "sgcc-20261123-01",
                            .received_ms = t0 - 86400000,
                            .start_ms = t0 + 10 * 3600000,
                            .end_ms = t0 + 12 * 3600000,
                            .state = HISTORY_DR_ACCEPTED,
                            .json = "{\"type\":\"import_cap\",\"limit_kw\":600}"};
    struct history_setpoint sp = {.ts_ms = t0 + 5000,
                                  .device = "bess1",
                                  .point = "active_power_kw",
                                  .value = 100,
                                  .verified = HISTORY_VERIFY_OK};
    struct history_alarm al = {.ts_ms = t0 + 65000,
                               .device = "cab3",
                               .kind = "comm_lost",
                               .severity = HISTORY_SEV_ERROR,
                               .state = HISTORY_ALARM_RAISED,
                               .message = "no Modbus reply for 10 s"};
    int rc = history_put_plan(h, &plan, ed);

    if (!rc) {
        rc = history_put_session(h, &ses, ed);
    }
    if (!rc) {
        rc = history_put_dr(h, &dr, ed);
    }
    if (!rc) {
        rc = history_add_setpoint(h, &sp, ed);
    }
    if (!rc) {
        rc = history_add_alarm(h, &al, ed);
    }
    return rc ? rc : history_flush(h, ed);
}

int main(int argc, char **argv)
{
    struct clock *real = clock_new_real();
    struct clock *virt = clock_new_virtual(clock_from_local(2026, 11, 23, 8, 0, 0));
    struct history_config cfg;
    struct history *h = NULL;
    struct error_detail ed = {{0}};
    struct rusage ru;
    struct stat st;
    char dir[] = "/tmp/flexd-bench-history-XXXXXX";
    char path[512];
    char wal[530];
    long seconds = 3600;
    long n_conn = 16;
    long flush_s = 5;
    long rows = 0;
    double *ms = NULL;
    double total_ms = 0;
    int n_flush = 0;
    int64_t t_start;
    int64_t deleted = 0;
    int have_dir = 0;
    int rc = ERROR_OK;

    if ((argc > 1 && numparse_long(argv[1], 10, 30L * 86400, &seconds)) ||
        (argc > 2 && numparse_long(argv[2], 0, 384, &n_conn)) ||
        (argc > 3 && numparse_long(argv[3], 1, 3600, &flush_s)) || argc > 5) {
        fprintf(stderr, "usage: bench_history [SECONDS [CONNECTORS [FLUSH_S [DB]]]]\n");
        rc = ERROR_USAGE;
        goto out;
    }
    if (argc > 4) {
        snprintf(path, sizeof(path), "%s", argv[4]);
    } else if (mkdtemp(dir)) {
        have_dir = 1;
        snprintf(path, sizeof(path), "%s/history.db", dir);
    } else {
        perror("bench_history: mkdtemp");
        rc = ERROR_IO;
        goto out;
    }
    snprintf(wal, sizeof(wal), "%s-wal", path);
    history_config_init(&cfg, path, virt);
    rc = history_open(&cfg, &h, &ed);
    if (rc) {
        fprintf(stderr, "bench_history: %s\n", ed.text);
        goto out;
    }
    printf("command:");
    for (int i = 0; i < argc; i++) {
        printf(" %s", argv[i]);
    }
    printf("\n%ld s of station time, 1 station + %ld connector samples per second, flush every "
           "%ld s, file %s (WAL, synchronous=NORMAL)\n",
           seconds,
           n_conn,
           flush_s,
           path);
    ms = alloc_array((size_t)(seconds / flush_s + 1), sizeof(double));
    for (long s = 0; s < seconds && !rc; s++) {
        bench_second(h, clock_now_ms(virt), s, n_conn, &rows);
        clock_advance_ms(virt, 1000);
        if ((s + 1) % flush_s == 0 || s + 1 == seconds) {
            t_start = clock_mono_us(real);
            rc = history_flush(h, &ed);
            ms[n_flush] = (double)(clock_mono_us(real) - t_start) / 1000.0;
            total_ms += ms[n_flush++];
        }
    }
    if (rc) {
        fprintf(stderr, "bench_history: %s\n", ed.text);
        goto out;
    }
    qsort(ms, (size_t)n_flush, sizeof(double), cmp_double);
    printf("%ld rows in %d flushes of %ld rows (incl. rollups)\n",
           rows,
           n_flush,
           (1 + n_conn) * flush_s);
    printf("flush ms: median %.3f  p99 %.3f  max %.3f  total %.1f\n",
           percentile(ms, n_flush, 0.5),
           percentile(ms, n_flush, 0.99),
           ms[n_flush - 1],
           total_ms);
    printf("rows/s of flush time: %.0f (the station makes %ld rows/s: %.0fx headroom)\n",
           rows / (total_ms / 1000.0),
           1 + n_conn,
           rows / (total_ms / 1000.0) / (double)(1 + n_conn));
    if (stat(path, &st) == 0) {
        printf("file: %.1f MiB (%.0f bytes per row)",
               (double)st.st_size / 1048576.0,
               (double)st.st_size / (double)rows);
        if (stat(wal, &st) == 0) {
            printf(", -wal %.1f MiB", (double)st.st_size / 1048576.0);
        }
        printf("\n");
    }

    if (!have_dir) {
        rc = bench_examples(h, clock_from_local(2026, 11, 23, 8, 0, 0), &ed);
        if (rc) {
            fprintf(stderr, "bench_history: %s\n", ed.text);
        } else {
            printf("kept %s (not pruned), with example records\n", path);
        }
        goto out;
    }
    /* two days later every 1-s row has aged out: one prune removes them */
    clock_advance_ms(virt, HISTORY_DEFAULT_SAMPLE_MS + 900000);
    t_start = clock_mono_us(real);
    rc = history_prune(h, &deleted, &ed);
    if (rc) {
        fprintf(stderr, "bench_history: %s\n", ed.text);
        goto out;
    }
    printf("prune of %lld rows: %.1f ms\n",
           (long long)deleted,
           (double)(clock_mono_us(real) - t_start) / 1000.0);
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %ld KiB\n", ru.ru_maxrss);
out:
    history_close(h);
    if (have_dir) {
        unlink(path);
        unlink(wal);
        snprintf(wal, sizeof(wal), "%s-shm", path);
        unlink(wal);
        rmdir(dir);
    }
    free(ms);
    clock_free(virt);
    clock_free(real);
    return rc ? 1 : 0;
}
