/* SPDX-License-Identifier: MIT */
/*
 * devsim_cmd.c - `flexd devsim [-c CONFIG] [--port BASE] [--speed X]
 * [--start YYYY-MM-DDTHH:MM] [--seed N] [--maps DIR] [--duration S]
 * [--fault DEVICE_ID:KIND[:AT_S[:FOR_S]]]... [--quiet]`: parse the options,
 * start the simulator (sim/devsim.h), apply the scheduled faults, print a
 * status line every few seconds, stop on SIGINT/SIGTERM or after
 * --duration. Main thread; the signal handler only sets a flag.
 */
#include "devsim_cmd.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/numparse.h"
#include "../config/builtin.h"
#include "../config/station_file.h"
#include "../engine/cli.h"
#include "devsim.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define DC_FAULTS_MAX   32
#define DC_SLOW_MS      2000 /* --fault ID:slow: beyond the 500 ms default device timeout */
#define DC_STATUS_MS    5000
#define DC_POLL_MS      100
#define DC_PORT_DEFAULT 5020

static volatile sig_atomic_t dc_stop;

static void dc_signal(int sig)
{
    (void)sig;
    dc_stop = 1;
}

struct dc_fault {
    char device[STATION_ID_MAX];
    int index; /* in st->devices, resolved after the config is read */
    int kind;  /* enum devsim_fault */
    double at_s;
    double for_s; /* < 0: until the end */
    int state;    /* 0 pending, 1 applied, 2 cleared */
};

struct dc_args {
    const char *config;
    const char *maps;
    struct devsim_options opt;
    double duration_s; /* 0: until a signal */
    int quiet;
    int n_faults;
    struct dc_fault faults[DC_FAULTS_MAX];
};

static void dc_usage(FILE *f)
{
    fprintf(f,
            "usage: flexd devsim [-c CONFIG] [--port BASE] [--speed X] [--start YYYY-MM-DDTHH:MM]\n"
            "                    [--seed N] [--maps DIR] [--duration S]\n"
            "                    [--fault DEVICE_ID:drop|slow|exception|stuck[:AT_S[:FOR_S]]]...\n"
            "                    [--quiet]\n"
            "  Serve the station's devices as Modbus TCP servers on 127.0.0.1, device i on\n"
            "  port BASE+i (default %d; 0 picks free ports), with simulated physics: PV,\n"
            "  battery, cars at the connectors, meter, parking (docs/devices.md).\n"
            "  CONFIG defaults to the built-in Ulanhada configuration, --speed (virtual s per\n"
            "  real s) to 1, --start to now, --seed to 1. --fault puts a device into a fault\n"
            "  AT_S real seconds after start (default 0) for FOR_S seconds (default: to the\n"
            "  end); slow answers after %d ms. Connect with `flexd run --loopback BASE`.\n"
            "exit codes: 0 stopped, 1 runtime failure, 2 invalid option or configuration\n",
            DC_PORT_DEFAULT,
            DC_SLOW_MS);
}

/* "YYYY-MM-DDTHH:MM" or "YYYY-MM-DD" (local time). */
static int dc_parse_start(const char *s, int64_t *ms)
{
    char date[11];
    long h, m;
    char hh[3], mm[3];

    if (strlen(s) != 10 && strlen(s) != 16) {
        return ERROR_PARSE;
    }
    memcpy(date, s, 10);
    date[10] = '\0';
    if (clock_parse_date(date, ms) != ERROR_OK) {
        return ERROR_PARSE;
    }
    if (strlen(s) == 10) {
        return ERROR_OK;
    }
    memcpy(hh, s + 11, 2);
    memcpy(mm, s + 14, 2);
    hh[2] = mm[2] = '\0';
    if (s[10] != 'T' || s[13] != ':' || numparse_long(hh, 0, 23, &h) ||
        numparse_long(mm, 0, 59, &m)) {
        return ERROR_PARSE;
    }
    *ms += (h * 60 + m) * 60000;
    return ERROR_OK;
}

/* DEVICE_ID:KIND[:AT_S[:FOR_S]] */
static int dc_parse_fault(const char *s, struct dc_fault *f, FILE *err)
{
    char buf[256], *part[4] = {buf, NULL, NULL, NULL};
    int n = 1;

    if (strlen(s) >= sizeof(buf)) {
        fprintf(err, "flexd devsim: --fault: \"%s\": too long\n", s);
        return ERROR_USAGE;
    }
    memcpy(buf, s, strlen(s) + 1);
    for (char *c = strchr(buf, ':'); c && n < 4; c = strchr(c + 1, ':')) {
        *c = '\0';
        part[n++] = c + 1;
    }
    memset(f, 0, sizeof(*f));
    f->kind = -1;
    f->for_s = -1.0;
    for (int k = DEVSIM_FAULT_DROP; n >= 2 && devsim_fault_names[k]; k++) {
        f->kind = strcmp(part[1], devsim_fault_names[k]) == 0 ? k : f->kind;
    }
    if (n < 2 || part[0][0] == '\0' || strlen(part[0]) >= sizeof(f->device) || f->kind < 0 ||
        (n >= 3 && numparse_double(part[2], 0.0, 1e9, &f->at_s)) ||
        (n >= 4 && (strchr(part[3], ':') || numparse_double(part[3], 0.0, 1e9, &f->for_s)))) {
        fprintf(err,
                "flexd devsim: --fault: \"%s\": must be DEVICE_ID:drop|slow|exception|stuck"
                "[:AT_S[:FOR_S]] with seconds >= 0\n",
                s);
        return ERROR_USAGE;
    }
    memcpy(f->device, part[0], strlen(part[0]) + 1);
    return ERROR_OK;
}

static int dc_int(const char *opt, const char *v, long lo, long hi, long *out, FILE *err)
{
    if (numparse_long(v, lo, hi, out) != ERROR_OK) {
        fprintf(err,
                "flexd devsim: %s: \"%s\": must be a whole number in [%ld, %ld]\n",
                opt,
                v,
                lo,
                hi);
        return ERROR_USAGE;
    }
    return ERROR_OK;
}

static int dc_number(const char *opt, const char *v, double lo, double hi, double *out, FILE *err)
{
    if (numparse_double(v, lo, hi, out) != ERROR_OK) {
        fprintf(err, "flexd devsim: %s: \"%s\": must be a number in [%g, %g]\n", opt, v, lo, hi);
        return ERROR_USAGE;
    }
    return ERROR_OK;
}

static int dc_option(struct dc_args *a, const char *o, const char *v, FILE *err)
{
    long n = 0;
    int rc = ERROR_OK;

    if (strcmp(o, "-c") == 0) {
        a->config = v;
    } else if (strcmp(o, "--maps") == 0) {
        a->opt.maps_dir = v;
    } else if (strcmp(o, "--port") == 0) {
        rc = dc_int(o, v, 0, 65535 - STATION_DEVICES_MAX, &n, err);
        a->opt.port_base = (int)n;
    } else if (strcmp(o, "--speed") == 0) {
        rc = dc_number(o, v, 1e-3, 1e5, &a->opt.speed, err);
    } else if (strcmp(o, "--seed") == 0) {
        rc = dc_int(o, v, 0, 2147483647L, &n, err);
        a->opt.seed = (uint64_t)n;
    } else if (strcmp(o, "--duration") == 0) {
        rc = dc_number(o, v, 0.001, 1e9, &a->duration_s, err);
    } else if (strcmp(o, "--start") == 0) {
        rc = dc_parse_start(v, &a->opt.start_ms);
        if (rc) {
            fprintf(err, "flexd devsim: --start: \"%s\": must be YYYY-MM-DDTHH:MM (local)\n", v);
            rc = ERROR_USAGE;
        }
    } else if (strcmp(o, "--fault") == 0) {
        if (a->n_faults == DC_FAULTS_MAX) {
            fprintf(err, "flexd devsim: --fault: at most %d\n", DC_FAULTS_MAX);
            return ERROR_USAGE;
        }
        rc = dc_parse_fault(v, &a->faults[a->n_faults++], err);
    } else {
        fprintf(err, "flexd devsim: unknown option \"%s\"\n", o);
        rc = ERROR_USAGE;
    }
    return rc;
}

static int dc_parse(int argc, char **argv, struct dc_args *a, FILE *err)
{
    memset(a, 0, sizeof(*a));
    devsim_options_default(&a->opt);
    a->opt.port_base = DC_PORT_DEFAULT;
    a->opt.cars = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quiet") == 0) {
            a->quiet = 1;
        } else if (i + 1 >= argc) {
            fprintf(err, "flexd devsim: \"%s\": unknown option or missing value\n", argv[i]);
            return ERROR_USAGE;
        } else if (dc_option(a, argv[i], argv[i + 1], err)) {
            return ERROR_USAGE;
        } else {
            i++;
        }
    }
    return ERROR_OK;
}

static int dc_resolve_faults(struct dc_args *a, const struct station *st, FILE *err)
{
    for (int i = 0; i < a->n_faults; i++) {
        struct dc_fault *f = &a->faults[i];

        f->index = -1;
        for (int d = 0; d < st->n_devices; d++) {
            f->index = strcmp(st->devices[d].id, f->device) == 0 ? d : f->index;
        }
        if (f->index < 0) {
            fprintf(err, "flexd devsim: --fault: \"%s\": no such device in devices[]\n", f->device);
            return ERROR_USAGE;
        }
    }
    return ERROR_OK;
}

static void dc_faults(struct dc_args *a, struct devsim *ds, double t_s, FILE *out)
{
    for (int i = 0; i < a->n_faults; i++) {
        struct dc_fault *f = &a->faults[i];

        if (f->state == 0 && t_s >= f->at_s) {
            devsim_fault(ds, f->index, (enum devsim_fault)f->kind, DC_SLOW_MS);
            f->state = 1;
            if (!a->quiet) {
                fprintf(out, "devsim: %s: %s\n", f->device, devsim_fault_names[f->kind]);
            }
        }
        if (f->state == 1 && f->for_s >= 0 && t_s >= f->at_s + f->for_s) {
            devsim_fault(ds, f->index, DEVSIM_FAULT_NONE, 0);
            f->state = 2;
            if (!a->quiet) {
                fprintf(out, "devsim: %s: fault cleared\n", f->device);
            }
        }
    }
}

static void dc_status(struct devsim *ds, FILE *out)
{
    struct devsim_state s;
    char when[32];
    int plugged = 0, clients = 0;

    devsim_state(ds, &s);
    for (int i = 0; i < s.n_conn; i++) {
        plugged += s.conn_plugged[i];
    }
    for (int i = 0; i < s.n_devices; i++) {
        clients += s.clients[i];
    }
    clock_format_iso(s.now_ms, when, sizeof(when));
    fprintf(out,
            "%s  grid %7.1f kW  PV %6.1f/%6.1f kW  battery %+7.1f kW SoC %5.1f %%  "
            "EV %6.1f kW (%d plugged)  parking %d  clients %d\n",
            when,
            s.grid_kw,
            s.pv_kw,
            s.pv_available_kw,
            s.ess_kw,
            100.0 * s.soc,
            s.ev_kw,
            plugged,
            s.parking_occupied,
            clients);
    fflush(out);
}

static void dc_ports(const struct station *st, struct devsim *ds, const char *host, FILE *out)
{
    fprintf(out, "devsim: %d devices on %s\n", st->n_devices, host);
    for (int i = 0; i < st->n_devices; i++) {
        fprintf(out,
                "  %5d  %-20s %-9s %s\n",
                devsim_port(ds, i),
                st->devices[i].id,
                station_device_kind_names[st->devices[i].kind],
                station_device_protocol_names[st->devices[i].protocol]);
    }
    fflush(out);
}

/* Run until a signal or the duration; returns when stopped. */
static void dc_loop(struct dc_args *a, struct devsim *ds, FILE *out)
{
    struct clock *clk = clock_new_real();
    int64_t t0 = clock_mono_ms(clk), next_status = t0 + DC_STATUS_MS;

    while (!dc_stop) {
        int64_t now = clock_mono_ms(clk);
        double t_s = (double)(now - t0) / 1000.0;

        if (a->duration_s > 0 && t_s >= a->duration_s) {
            break;
        }
        dc_faults(a, ds, t_s, out);
        if (!a->quiet && now >= next_status) {
            dc_status(ds, out);
            next_status += DC_STATUS_MS;
        }
        clock_sleep_ms(clk, DC_POLL_MS);
    }
    clock_free(clk);
}

int devsim_cmd_main(int argc, char **argv, FILE *out, FILE *err)
{
    struct dc_args *a;
    struct station *st = NULL;
    struct devsim *ds = NULL;
    struct error_detail ed = {{0}};
    struct sigaction sa, old_int, old_term;
    int rc;

    if (cli_wants_help(argc, argv)) {
        dc_usage(out);
        return CLI_EXIT_OK;
    }
    a = ALLOC_NEW(struct dc_args);
    if (dc_parse(argc, argv, a, err)) {
        free(a);
        return CLI_EXIT_INVALID;
    }
    rc = a->config ? station_file_load(a->config, &st, &ed) : builtin_station_load(&st, &ed);
    if (rc) {
        error_prefix(&ed, "devsim");
    } else if (dc_resolve_faults(a, st, err)) {
        rc = ERROR_USAGE;
        ed.text[0] = '\0';
    } else {
        rc = devsim_start(st, &a->opt, &ds, &ed); /* messages start with "devsim: " */
    }
    if (rc) {
        if (ed.text[0]) {
            fprintf(err, "flexd %s\n", ed.text);
        }
        station_free(st);
        free(a);
        return cli_exit_code(rc);
    }
    if (!a->quiet) {
        dc_ports(st, ds, a->opt.host, out);
    }
    dc_stop = 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = dc_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    dc_loop(a, ds, out);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    devsim_stop(ds);
    if (!a->quiet) {
        fprintf(out, "devsim: stopped\n");
    }
    station_free(st);
    free(a);
    return CLI_EXIT_OK;
}
