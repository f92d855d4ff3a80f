/* SPDX-License-Identifier: MIT */
/*
 * simcmd.c - `flexd sim` argument handling and orchestration: draw the
 * world once (or build it from recorded data, --replay), run each strategy
 * through the engine's controller, print the KPI comparison and write the
 * output files. Settings come from the built-in defaults, then the
 * simulation file (--sim), then the command line, each over the last.
 * Main thread.
 */
#include "simcmd.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/numparse.h"
#include "../config/builtin.h"
#include "../config/station_file.h"
#include "../engine/cli.h"
#include "replay.h"
#include "report.h"
#include "run.h"
#include "simconf.h"
#include "world.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What the command line sets; 0, -1 or NULL where it sets nothing. */
struct simcmd_args {
    const char *config;
    const char *sim;
    const char *replay;
    const char *start;
    const char *out_dir;
    int days;
    int step_minutes;
    int strategy; /* -1: --compare */
    long seed;
    int perfect;
    int ev_learned;
    int horizon_steps;
    int sharing;
    int quiet;
};

/* The run as resolved from defaults, the files and the command line. */
struct simcmd_run {
    struct simconf *sc;
    struct replay *rp;
    struct world_options wo;
    char start[11];
    char *scenario;
    int horizon_steps;
};

static void simcmd_usage(FILE *f)
{
    fprintf(f,
            "usage: flexd sim [-c CONFIG] [--sim FILE] [--replay DIR] [--start YYYY-MM-DD]\n"
            "                 [--days N] [--step-minutes M]\n"
            "                 [--strategy uncontrolled|rule|mpc|oracle | --compare] [--seed N]\n"
            "                 [--perfect-forecast] [--ev-forecast model|learned]\n"
            "                 [--horizon-steps H] [--no-sharing]\n"
            "                 [--out DIR] [--quiet]\n"
            "  Simulate the station through the engine's own controller (docs/simulation.md).\n"
            "  CONFIG defaults to the built-in Ulanhada configuration; --start to 2026-07-15,\n"
            "  --days to 1, --step-minutes to 15, --strategy to mpc, --seed to 1, the horizon\n"
            "  to 24 h. --compare runs every strategy on the same random draws.\n"
            "  --sim FILE reads dates, weather, demand, DR events and tariff prices from a\n"
            "  simulation file (JSON); flags given here override it.\n"
            "  --replay DIR replays recorded pv.csv, base_load.csv, sessions.csv and\n"
            "  dr_events.csv instead of drawing them; without --start it runs every whole\n"
            "  day the data covers.\n"
            "  --no-sharing switches off community night parking and shared charging.\n"
            "  --ev-forecast learned: mpc learns the cars to come from the sessions it sees,\n"
            "  as flexd run does, instead of the demand model's expectation (model).\n"
            "  --out DIR writes summary.json, sessions.csv, timeseries.csv and report.html.\n"
            "exit codes: 0 done, 1 I/O failure, 2 invalid option or configuration\n");
}

/* One option that takes a number: ERROR_USAGE naming it on a bad value. */
static int simcmd_number(const char *opt, const char *val, long lo, long hi, long *out, FILE *err)
{
    int rc = numparse_long(val, lo, hi, out);

    if (rc) {
        fprintf(err,
                "flexd sim: %s: \"%s\": must be a whole number in [%ld, %ld]\n",
                opt,
                val,
                lo,
                hi);
        return ERROR_USAGE;
    }
    return ERROR_OK;
}

static int simcmd_option(struct simcmd_args *a, const char *opt, const char *val, FILE *err)
{
    long v = 0;
    int rc = ERROR_OK;

    if (strcmp(opt, "-c") == 0) {
        a->config = val;
    } else if (strcmp(opt, "--sim") == 0) {
        a->sim = val;
    } else if (strcmp(opt, "--replay") == 0) {
        a->replay = val;
    } else if (strcmp(opt, "--start") == 0) {
        a->start = val;
    } else if (strcmp(opt, "--out") == 0) {
        a->out_dir = val;
    } else if (strcmp(opt, "--days") == 0) {
        rc = simcmd_number(opt, val, 1, 3660, &v, err);
        a->days = (int)v;
    } else if (strcmp(opt, "--step-minutes") == 0) {
        rc = simcmd_number(opt, val, 1, 60, &v, err);
        a->step_minutes = (int)v;
    } else if (strcmp(opt, "--seed") == 0) {
        rc = simcmd_number(opt, val, 0, 2147483647L, &v, err);
        a->seed = v;
    } else if (strcmp(opt, "--horizon-steps") == 0) {
        rc = simcmd_number(opt, val, 1, SCENARIO_STEPS_MAX / 2, &v, err);
        a->horizon_steps = (int)v;
    } else if (strcmp(opt, "--ev-forecast") == 0) {
        a->ev_learned = strcmp(val, "learned") == 0;
        if (!a->ev_learned && strcmp(val, "model") != 0) {
            fprintf(err, "flexd sim: --ev-forecast: \"%s\": must be model or learned\n", val);
            rc = ERROR_USAGE;
        }
    } else if (strcmp(opt, "--strategy") == 0) {
        a->strategy = controller_strategy_parse(val);
        if (a->strategy < 0) {
            fprintf(err,
                    "flexd sim: --strategy: \"%s\": must be uncontrolled, rule, mpc or oracle\n",
                    val);
            rc = ERROR_USAGE;
        }
    } else {
        fprintf(err, "flexd sim: unknown option \"%s\"\n", opt);
        rc = ERROR_USAGE;
    }
    return rc;
}

static int simcmd_parse(int argc, char **argv, struct simcmd_args *a, FILE *err)
{
    memset(a, 0, sizeof(*a));
    a->strategy = CONTROLLER_MPC;
    a->seed = -1;
    a->sharing = -1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];

        if (strcmp(o, "--compare") == 0) {
            a->strategy = -1;
        } else if (strcmp(o, "--perfect-forecast") == 0) {
            a->perfect = 1;
        } else if (strcmp(o, "--no-sharing") == 0) {
            a->sharing = 0;
        } else if (strcmp(o, "--quiet") == 0) {
            a->quiet = 1;
        } else if (i + 1 >= argc) {
            fprintf(err, "flexd sim: \"%s\": unknown option or missing value\n", o);
            return ERROR_USAGE;
        } else if (simcmd_option(a, o, argv[++i], err)) {
            return ERROR_USAGE;
        }
    }
    if (a->step_minutes && 1440 % a->step_minutes != 0) {
        fprintf(err,
                "flexd sim: --step-minutes: %d: must divide a day (1440 minutes)\n",
                a->step_minutes);
        return ERROR_USAGE;
    }
    return ERROR_OK;
}

struct simcmd_progress {
    FILE *f;
    struct clock *clock;
    int64_t t0_us;
    int index;
    int count;
};

/* The bar appears only on a terminal and once a run has taken 2 s. */
static void simcmd_progress(void *ctx, double fraction)
{
    struct simcmd_progress *p = ctx;
    double elapsed = (double)(clock_mono_us(p->clock) - p->t0_us) / 1e6;

    if (elapsed >= 2.0) {
        report_progress(p->f, (p->index + fraction) / p->count, elapsed);
    }
}

static int simcmd_load(const struct simcmd_args *a, struct station **st, struct error_detail *ed)
{
    if (a->config) {
        return station_file_load(a->config, st, ed);
    }
    return builtin_station_load(st, ed);
}

/* The simulation file over the defaults (and its prices over the station's
 * tariff), then the replay's data. */
static int simcmd_files(const struct simcmd_args *a,
                        struct station *st,
                        struct simcmd_run *r,
                        struct error_detail *ed)
{
    int days = 0;
    int rc = ERROR_OK;

    if (a->sim) {
        rc = simconf_load(a->sim, &r->sc, ed);
        if (rc) {
            return rc;
        }
        simconf_apply(r->sc, &r->wo);
        simconf_apply_tariff(r->sc, &st->tariff);
    }
    if (a->replay) {
        rc = replay_load(a->replay, &r->rp, ed);
    }
    /* without a start, replay every whole day the data covers */
    if (!rc && r->rp && !a->start && !(r->sc && r->sc->start[0])) {
        rc = replay_range(r->rp, &r->wo.start_ms, &days, ed);
        if (!rc && !a->days && !(r->sc && r->sc->days > 0)) {
            r->wo.days = days;
        }
    }
    return rc;
}

/* Defaults, then the files, then the command line, each over the last. */
static int simcmd_resolve(const struct simcmd_args *a,
                          struct station *st,
                          struct simcmd_run *r,
                          struct error_detail *ed)
{
    struct world_options *wo = &r->wo;
    struct clock_civil lt;
    int rc;

    world_options_default(wo);
    demand_params_from_station(&wo->demand, st);
    rc = simcmd_files(a, st, r, ed);
    if (rc) {
        return rc;
    }
    if (a->start && clock_parse_date(a->start, &wo->start_ms)) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "--start: \"%s\": must be a date YYYY-MM-DD",
                          a->start);
    }
    wo->days = a->days ? a->days : wo->days;
    wo->step_minutes = a->step_minutes ? a->step_minutes : wo->step_minutes;
    wo->seed = a->seed >= 0 ? (uint64_t)a->seed : wo->seed;
    wo->demand.sharing_enabled = a->sharing >= 0 ? a->sharing : wo->demand.sharing_enabled;
    r->horizon_steps = a->horizon_steps ? a->horizon_steps : 1440 / wo->step_minutes;
    wo->pad_steps = 2 * r->horizon_steps;
    clock_to_local(wo->start_ms, &lt);
    snprintf(r->start, sizeof(r->start), "%04d-%02d-%02d", lt.year % 10000, lt.month, lt.day);
    r->scenario = alloc_printf("%s%s%s%s%s",
                               a->config ? a->config : BUILTIN_NAME,
                               a->sim ? ", sim " : "",
                               a->sim ? a->sim : "",
                               a->replay ? ", replay " : "",
                               a->replay ? a->replay : "");
    return ERROR_OK;
}

static int simcmd_world(const struct simcmd_run *r,
                        const struct station *st,
                        struct world **w,
                        struct error_detail *ed)
{
    if (r->rp) {
        return replay_world(r->rp, st, &r->wo, w, ed);
    }
    return world_build(st, &r->wo, w, ed);
}

static int simcmd_runs(const struct simcmd_args *a,
                       const struct simcmd_run *r,
                       const struct world *w,
                       struct trace **traces,
                       int *n,
                       FILE *err,
                       struct error_detail *ed)
{
    struct simcmd_progress prog = {err, clock_new_real(), 0, 0, 0};
    int first = a->strategy < 0 ? 0 : a->strategy;
    int last = a->strategy < 0 ? CONTROLLER_NSTRATEGIES - 1 : a->strategy;
    int rc = ERROR_OK;

    prog.t0_us = clock_mono_us(prog.clock);
    prog.count = last - first + 1;
    *n = 0;
    for (int s = first; s <= last && !rc; s++) {
        struct run_options ro;

        run_options_default(&ro);
        ro.strategy = (enum controller_strategy)s;
        ro.horizon_steps = r->horizon_steps;
        ro.perfect_forecast = a->perfect;
        ro.ev_forecast_learned = a->ev_learned;
        if (!a->quiet && isatty(fileno(err))) {
            ro.progress = simcmd_progress;
            ro.progress_ctx = &prog;
        }
        prog.index = s - first;
        rc = run_strategy(w, &ro, &traces[*n], ed);
        if (!rc) {
            (*n)++;
        }
    }
    if (!a->quiet && isatty(fileno(err)) &&
        (double)(clock_mono_us(prog.clock) - prog.t0_us) / 1e6 >= 2.0) {
        fprintf(err, "\n"); /* end the progress bar's line */
    }
    clock_free(prog.clock);
    return rc;
}

static int simcmd_outputs(const struct simcmd_args *a,
                          const struct simcmd_run *r,
                          const struct station *st,
                          struct trace **traces,
                          int n,
                          FILE *out,
                          FILE *err)
{
    struct error_detail ed = {{0}};
    struct report_meta meta;
    int rc;

    if (!a->quiet) {
        report_print_table(out, traces, n);
    }
    if (!a->out_dir) {
        return ERROR_OK;
    }
    memset(&meta, 0, sizeof(meta));
    meta.station_id = st->id;
    meta.scenario = r->scenario;
    meta.start_date = r->start;
    meta.days = r->wo.days;
    meta.step_minutes = r->wo.step_minutes;
    meta.seed = r->wo.seed;
    meta.ev_forecast_learned = a->ev_learned;
    rc = report_write_all(a->out_dir, &meta, traces, n, &ed);
    if (rc) {
        fprintf(err, "flexd sim: %s\n", ed.text);
    } else if (!a->quiet) {
        fprintf(out,
                "wrote %s/{summary.json,sessions.csv,timeseries.csv,report.html,timing.json}\n",
                a->out_dir);
    }
    return rc;
}

int simcmd_main(int argc, char **argv, FILE *out, FILE *err)
{
    struct simcmd_args a;
    struct error_detail ed = {{0}};
    struct station *st = NULL;
    struct world *w = NULL;
    struct trace *traces[CONTROLLER_NSTRATEGIES] = {0};
    struct simcmd_run r;
    int n = 0;
    int rc;

    memset(&r, 0, sizeof(r));

    if (cli_wants_help(argc, argv)) {
        simcmd_usage(out);
        return CLI_EXIT_OK;
    }
    rc = simcmd_parse(argc, argv, &a, err);
    if (rc) {
        simcmd_usage(err);
        goto out;
    }
    rc = simcmd_load(&a, &st, &ed);
    if (!rc) {
        rc = simcmd_resolve(&a, st, &r, &ed);
    }
    if (!rc) {
        rc = simcmd_world(&r, st, &w, &ed);
    }
    if (!rc) {
        rc = simcmd_runs(&a, &r, w, traces, &n, err, &ed);
    }
    if (rc) {
        fprintf(err, "flexd sim: %s\n", ed.text);
        goto out;
    }
    rc = simcmd_outputs(&a, &r, st, traces, n, out, err);
out:
    for (int i = 0; i < n; i++) {
        trace_free(traces[i]);
    }
    world_free(w);
    replay_free(r.rp);
    simconf_free(r.sc);
    free(r.scenario);
    station_free(st);
    return cli_exit_code(rc);
}
