/* SPDX-License-Identifier: MIT */
/*
 * cmd_solve.c - `flexd solve`: read a scenario file, run the optimiser and
 * write the plan as JSON (stdout or -o FILE, written atomically) and/or a
 * human summary. Bad input exits 2 with the file, JSON path and rule, and
 * writes no plan. Main thread.
 */
#include "cmd_solve.h"

#include "../common/error.h"
#include "../common/fileio.h"
#include "../config/scenario_file.h"
#include "../io/plan_json.h"
#include "../io/plan_text.h"
#include "../optimizer/optimizer.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

struct cmd_solve_args {
    const char *scenario_path;
    const char *plan_path;
    int summary;
    int compact;
};

static void cmd_solve_usage(FILE *f)
{
    fprintf(f,
            "usage: flexd solve SCENARIO.json [-o PLAN.json] [--summary] [--compact]\n"
            "  Optimise the scenario with the GLPK linear program (docs/optimisation.md).\n"
            "  -o PLAN.json  write the plan there (atomically) instead of stdout\n"
            "  --summary     print a human summary (to stdout; with no -o, the JSON is not "
            "printed)\n"
            "  --compact     one-line JSON\n"
            "exit codes: 0 plan written, 1 solver or I/O failure, 2 invalid scenario or usage\n");
}

static int cmd_solve_parse(int argc, char **argv, struct cmd_solve_args *a, FILE *err)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            a->plan_path = argv[++i];
        } else if (strcmp(argv[i], "--summary") == 0) {
            a->summary = 1;
        } else if (strcmp(argv[i], "--compact") == 0) {
            a->compact = 1;
        } else if (argv[i][0] == '-' || a->scenario_path) {
            fprintf(err, "flexd solve: unexpected argument \"%s\"\n", argv[i]);
            return ERROR_USAGE;
        } else {
            a->scenario_path = argv[i];
        }
    }
    if (!a->scenario_path) {
        fprintf(err, "flexd solve: missing SCENARIO.json\n");
        return ERROR_USAGE;
    }
    return ERROR_OK;
}

static int cmd_solve_output(const struct cmd_solve_args *a,
                            const struct scenario *sc,
                            const struct plan *p,
                            FILE *out,
                            FILE *err)
{
    struct error_detail ed = {{0}};
    char *json = NULL;
    int rc = ERROR_OK;

    if (a->plan_path || !a->summary) {
        json = plan_json_encode(sc, p, !a->compact);
    }
    if (a->plan_path) {
        rc = fileio_write_atomic(a->plan_path, json, strlen(json), &ed);
        if (rc) {
            fprintf(err, "flexd solve: %s\n", ed.text);
            goto out;
        }
    } else if (json) {
        fprintf(out, "%s\n", json);
    }
    if (a->summary) {
        plan_text_write(out, sc, p);
    }
out:
    free(json);
    return rc;
}

int cmd_solve_main(int argc, char **argv, FILE *out, FILE *err)
{
    struct cmd_solve_args a;
    struct error_detail ed = {{0}};
    struct scenario *sc = NULL;
    struct plan *p = NULL;
    int rc;

    if (cli_wants_help(argc, argv)) {
        cmd_solve_usage(out);
        return CLI_EXIT_OK;
    }
    rc = cmd_solve_parse(argc, argv, &a, err);
    if (rc) {
        cmd_solve_usage(err);
        goto out;
    }
    rc = scenario_file_load(a.scenario_path, &sc, &ed);
    if (rc) {
        fprintf(err, "flexd solve: %s\n", ed.text);
        goto out;
    }
    rc = optimizer_solve(sc, &p, &ed);
    if (rc) {
        fprintf(err, "flexd solve: %s: %s\n", a.scenario_path, ed.text);
        goto out;
    }
    rc = cmd_solve_output(&a, sc, p, out, err);
out:
    plan_free(p);
    scenario_free(sc);
    return cli_exit_code(rc);
}
