/* SPDX-License-Identifier: MIT */
/*
 * cmd_run.c - `flexd run [-c CONFIG] [--db FILE] [--loopback PORT]
 * [--duration S]`: start the devices, the planner and the 1 s cycle, and
 * run until SIGINT or SIGTERM. Main thread.
 */
#define _POSIX_C_SOURCE 200809L
#include "cmd_run.h"

#include "../common/error.h"
#include "../common/numparse.h"
#include "../config/builtin.h"
#include "../config/station_file.h"
#include "cli.h"
#include "live.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t cmd_run_stop;

static void cmd_run_signal(int sig)
{
    (void)sig;
    cmd_run_stop = 1;
}

static void cmd_run_usage(FILE *f)
{
    fprintf(
        f,
        "usage: flexd run [-c CONFIG] [--db FILE] [--maps DIR] [--loopback PORT] [--duration S]\n"
        "  Run the station: poll its Modbus TCP devices, keep the plan current, write\n"
        "  setpoints every second, keep history (docs/operations.md).\n"
        "  CONFIG defaults to the built-in Ulanhada configuration.\n"
        "  --db FILE        history database (SQLite, WAL); default: none\n"
        "  --maps DIR       charger register maps (default: the source tree's config/devices)\n"
        "  --loopback PORT  reach device i at 127.0.0.1:PORT+i (the device simulator,\n"
        "                   `flexd devsim --port PORT`) instead of its configured address\n"
        "  --duration S     stop after S seconds (default: run until SIGINT/SIGTERM)\n"
        "exit codes: 0 stopped, 1 runtime failure, 2 invalid option or configuration\n");
}

static int cmd_run_int(const char *opt, const char *s, long lo, long hi, long *v, FILE *err)
{
    if (numparse_long(s, lo, hi, v) != ERROR_OK) {
        fprintf(err, "flexd run: %s: \"%s\": must be an integer in [%ld, %ld]\n", opt, s, lo, hi);
        return ERROR_USAGE;
    }
    return ERROR_OK;
}

int cmd_run_main(int argc, char **argv, FILE *out, FILE *err)
{
    struct live_options opt;
    const char *config = NULL;
    struct station *st = NULL;
    struct live *l = NULL;
    struct error_detail ed = {{0}};
    struct sigaction sa;
    long duration_s = 0;
    int rc;

    if (cli_wants_help(argc, argv)) {
        cmd_run_usage(out);
        return CLI_EXIT_OK;
    }
    live_options_default(&opt);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;

        if (!v) {
            cmd_run_usage(err);
            return CLI_EXIT_INVALID;
        }
        i++;
        if (strcmp(a, "-c") == 0) {
            config = v;
        } else if (strcmp(a, "--maps") == 0) {
            opt.maps_dir = v;
        } else if (strcmp(a, "--db") == 0) {
            opt.db_path = v;
        } else if (strcmp(a, "--loopback") == 0) {
            if (cmd_run_int(a, v, 1, 65535 - STATION_DEVICES_MAX, &n, err)) {
                return CLI_EXIT_INVALID;
            }
            opt.host = "127.0.0.1";
            opt.port_base = (int)n;
        } else if (strcmp(a, "--duration") == 0) {
            if (cmd_run_int(a, v, 1, 100L * 365 * 86400, &duration_s, err)) {
                return CLI_EXIT_INVALID;
            }
        } else {
            fprintf(err, "flexd run: %s: unknown option\n", a);
            cmd_run_usage(err);
            return CLI_EXIT_INVALID;
        }
    }
    if (!opt.maps_dir) {
        opt.maps_dir = FLEXD_MAPS_DIR;
    }
    rc = config ? station_file_load(config, &st, &ed) : builtin_station_load(&st, &ed);
    if (rc == ERROR_OK) {
        rc = live_new(st, &opt, &l, &ed);
    }
    if (rc) {
        fprintf(err, "flexd run: %s\n", ed.text);
        station_free(st);
        return cli_exit_code(rc);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cmd_run_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    fprintf(err,
            "flexd run: %s: %d devices, cycle %d ms\n",
            config ? config : BUILTIN_NAME,
            st->n_devices,
            opt.cycle_ms);
    live_run(l, &cmd_run_stop, duration_s * 1000);
    live_free(l);
    station_free(st);
    fprintf(err, "flexd run: stopped\n");
    return CLI_EXIT_OK;
}
