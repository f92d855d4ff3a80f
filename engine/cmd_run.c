/* SPDX-License-Identifier: MIT */
/*
 * cmd_run.c - `flexd run [-c CONFIG] [--db FILE] [--loopback PORT]
 * [--duration S]`: start the devices, the planner and the 1 s cycle, and
 * run until SIGINT or SIGTERM. Main thread. With an "mqtt" section in
 * the station file, also the MQTT client (io/mqtt.h, paho's thread) and
 * the dispatcher (engine/dispatch.h, its own thread): DR events, commands
 * and tariffs in, acks and reports out.
 */
#define _POSIX_C_SOURCE 200809L
#include "cmd_run.h"

#include "../common/error.h"
#include "../common/fileio.h"
#include "../common/numparse.h"
#include "../config/builtin.h"
#include "../config/station_file.h"
#include "cli.h"
#include "dispatch.h"
#include "live.h"

#include <signal.h>
#include <stdlib.h>
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

/* The password is the first line of the file the config names. */
static int cmd_run_password(const char *path, char **out, struct error_detail *ed)
{
    size_t len = 0;
    int rc = fileio_read_all(path, 4096, out, &len, ed);

    if (rc) {
        error_prefix(ed, "mqtt.password_file");
        return rc;
    }
    (*out)[strcspn(*out, "\r\n")] = '\0';
    return ERROR_OK;
}

/* Start the dispatcher and the MQTT client when the station has an mqtt
 * section; *d and *m stay NULL without one. */
static int cmd_run_mqtt(const struct station *st,
                        const struct live_options *lo,
                        struct live *l,
                        struct dispatch **d,
                        struct mqtt **m,
                        struct error_detail *ed)
{
    const struct station_mqtt *c = &st->mqtt;
    struct dispatch_options dopt;
    struct mqtt_options mo;
    char prefix[STATION_NAME_MAX + STATION_ID_MAX];
    char *password = NULL;
    int rc = ERROR_OK;

    if (!st->has_mqtt) {
        return ERROR_OK;
    }
    if (c->password_file[0]) {
        rc = cmd_run_password(c->password_file, &password, ed);
    }
    dispatch_options_default(&dopt);
    dopt.st = st;
    dopt.live = l;
    dopt.db_path = lo->db_path;
    dopt.baseline = c->dr_baseline;
    dopt.baseline_days = c->dr_baseline_days;
    if (!rc) {
        rc = dispatch_new(&dopt, d, ed);
    }
    mqtt_options_default(&mo);
    snprintf(prefix, sizeof(prefix), "%s", c->topic_prefix);
    if (!prefix[0]) {
        snprintf(prefix, sizeof(prefix), "flexd/%s", st->id);
    }
    mo.host = c->host;
    mo.port = c->port;
    mo.client_id = c->client_id;
    mo.prefix = prefix;
    mo.tls = c->tls;
    mo.ca_file = c->ca_file[0] ? c->ca_file : NULL;
    mo.cert_file = c->cert_file[0] ? c->cert_file : NULL;
    mo.key_file = c->key_file[0] ? c->key_file : NULL;
    mo.username = c->username[0] ? c->username : NULL;
    mo.password = password;
    mo.keepalive_s = c->keepalive_s;
    mo.outbox_path = c->outbox_path;
    if (!rc) {
        rc = mqtt_start(&mo, dispatch_topics(), dispatch_on_message, *d, m, ed);
    }
    if (!rc) {
        rc = dispatch_start(*d, *m, ed);
    }
    if (password) {
        memset(password, 0, strlen(password));
        free(password);
    }
    return rc;
}

int cmd_run_main(int argc, char **argv, FILE *out, FILE *err)
{
    struct dispatch *d = NULL;
    struct mqtt *m = NULL;
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
        opt.replan_s = st->control.replan_s;
        opt.cycle_ms = st->control.cycle_ms;
        rc = live_new(st, &opt, &l, &ed);
    }
    if (rc == ERROR_OK) {
        rc = cmd_run_mqtt(st, &opt, l, &d, &m, &ed);
    }
    if (rc) {
        fprintf(err, "flexd run: %s\n", ed.text);
        dispatch_free(d);
        mqtt_stop(m);
        live_free(l);
        station_free(st);
        return cli_exit_code(rc);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cmd_run_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* a broker or device that closed its socket must not kill the daemon */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    fprintf(err,
            "flexd run: %s: %d devices, cycle %d ms\n",
            config ? config : BUILTIN_NAME,
            st->n_devices,
            opt.cycle_ms);
    live_run(l, &cmd_run_stop, duration_s * 1000);
    dispatch_free(d); /* before the client it publishes through */
    mqtt_stop(m);
    live_free(l);
    station_free(st);
    fprintf(err, "flexd run: stopped\n");
    return CLI_EXIT_OK;
}
