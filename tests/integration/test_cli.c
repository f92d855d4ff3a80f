/* SPDX-License-Identifier: MIT */
/*
 * test_cli.c - the `flexd` command line end to end, through cli_run(): the
 * very code path of the binary, on the shipped Ulanhada files and on bad
 * files. Checks exit codes, that a plan is written (and checkable from the
 * JSON alone) on success, and that no plan is written on bad input.
 */
#include "check.h"

#include "common/alloc.h"
#include "common/fileio.h"
#include "engine/cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/flexd-test-cli-XXXXXX";

/* Run flexd with up to 6 words; captured standard output and error are returned in out and err. */
static int run(char **out, char **err, int argc, char **argv)
{
    FILE *fo = tmpfile();
    FILE *fe = tmpfile();
    int rc = cli_run(NULL, 0, argc, argv, fo, fe);
    FILE *f[2] = {fo, fe};
    char **dst[2] = {out, err};

    for (int i = 0; i < 2; i++) {
        long n;

        fflush(f[i]);
        n = ftell(f[i]);
        rewind(f[i]);
        *dst[i] = alloc_array((size_t)n + 1, 1);
        if (fread(*dst[i], 1, (size_t)n, f[i]) != (size_t)n) {
            (*dst[i])[0] = '\0';
        }
        fclose(f[i]);
    }
    return rc;
}

static const char *srcdir(void)
{
    const char *d = getenv("FLEXD_SOURCE_DIR");

    return d ? d : FLEXD_SOURCE_DIR;
}

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    CHECK(cJSON_IsNumber(v));
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void test_basics(void)
{
    char *out;
    char *err;
    char *v_argv[] = {"flexd", "version"};
    char *h_argv[] = {"flexd", "--help"};
    char *u_argv[] = {"flexd", "frobnicate"};
    char *n_argv[] = {"flexd"};
    char *sh_argv[] = {"flexd", "solve", "--help"};

    CHECK(run(&out, &err, 2, v_argv) == 0);
    CHECK_STR_CONTAINS(out, FLEXD_VERSION);
    free(out);
    free(err);
    CHECK(run(&out, &err, 2, h_argv) == 0);
    CHECK_STR_CONTAINS(out, "check-config");
    CHECK_STR_CONTAINS(out, "exit codes");
    free(out);
    free(err);
    CHECK(run(&out, &err, 2, u_argv) == 2);
    CHECK_STR_CONTAINS(err, "unknown command \"frobnicate\"");
    free(out);
    free(err);
    CHECK(run(&out, &err, 1, n_argv) == 2);
    free(out);
    free(err);
    CHECK(run(&out, &err, 3, sh_argv) == 0);
    CHECK_STR_CONTAINS(out, "usage: flexd solve");
    free(out);
    free(err);
}

/* The plan must be checkable from its JSON alone: the power balance of
 * every step against the scenario's base load, net grid power inside the
 * reported adjustable-capacity band, and the cost identity. */
static void check_plan_json(const char *text, const char *scenario_text, int steps)
{
    cJSON *root = cJSON_Parse(text);
    cJSON *scen = cJSON_Parse(scenario_text);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "steps");
    const cJSON *flex = cJSON_GetObjectItemCaseSensitive(root, "flexibility");
    const cJSON *costs = cJSON_GetObjectItemCaseSensitive(root, "costs");
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(scen, "base_load_kw");
    double worst = 0;

    CHECK(root != NULL && scen != NULL);
    CHECK_STR_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "status")),
                       "optimal");
    CHECK(cJSON_GetArraySize(st) == steps);
    CHECK(cJSON_GetArraySize(flex) == steps);
    CHECK(cJSON_IsArray(base) && cJSON_GetArraySize(base) == steps);
    for (int t = 0; t < steps && cJSON_GetArraySize(base) == steps; t++) {
        const cJSON *item = cJSON_GetArrayItem(st, t);
        const cJSON *fx = cJSON_GetArrayItem(flex, t);
        double net = num(item, "grid_import_kw") - num(item, "grid_export_kw");
        double supply =
            net + num(item, "pv_kw") + num(item, "ess_discharge_kw") - num(item, "ess_charge_kw");
        double demand = cJSON_GetArrayItem(base, t)->valuedouble + num(item, "ev_kw");

        worst = fmax(worst, fabs(supply - demand));
        CHECK(num(fx, "net_min_kw") <= net + 1e-5 && net <= num(fx, "net_max_kw") + 1e-5);
    }
    CHECK(worst < 1e-5); /* values are rounded to 1e-6 in the JSON */
    CHECK_NEAR(num(root, "objective_cny"),
               num(costs, "import_cny") - num(costs, "export_revenue_cny") +
                   num(costs, "throughput_cny") + num(costs, "demand_charge_cny") +
                   num(costs, "penalty_cny"),
               1e-4);
    cJSON_Delete(root);
    cJSON_Delete(scen);
}

static void test_solve_example(void)
{
    char scen[512];
    char plan[512];
    char *out;
    char *err;
    char *text = NULL;
    char *scen_text = NULL;
    size_t len;
    struct error_detail ed;

    snprintf(scen, sizeof(scen), "%s/config/scenarios/ulanhada-day.json", srcdir());
    snprintf(plan, sizeof(plan), "%s/plan.json", tmpdir);
    {
        char *argv[] = {"flexd", "solve", scen, "-o", plan};

        CHECK(run(&out, &err, 5, argv) == 0);
        CHECK(err[0] == '\0');
        free(out);
        free(err);
    }
    CHECK(fileio_read_all(plan, 1 << 24, &text, &len, &ed) == 0);
    CHECK(fileio_read_all(scen, 1 << 24, &scen_text, &len, &ed) == 0);
    if (text && scen_text) {
        check_plan_json(text, scen_text, 96);
    }
    free(text);
    free(scen_text);
    {
        char *argv[] = {"flexd", "solve", scen, "--summary"};

        CHECK(run(&out, &err, 4, argv) == 0);
        CHECK_STR_CONTAINS(out, "status optimal");
        CHECK_STR_CONTAINS(out, "96 steps x 15 min");
        free(out);
        free(err);
    }
}

static void test_solve_bad(void)
{
    char bad[512];
    char plan[512];
    char *out;
    char *err;
    FILE *f;

    snprintf(bad, sizeof(bad), "%s/bad.json", tmpdir);
    snprintf(plan, sizeof(plan), "%s/bad-plan.json", tmpdir);
    f = fopen(bad, "w");
    fputs("{\"step_minutes\":15,\"steps\":4,\"grid\":{\"import_limit_kw\":-1},"
          "\"tariff\":{\"buy_cny_per_kwh\":0.5}}",
          f);
    fclose(f);
    {
        char *argv[] = {"flexd", "solve", bad, "-o", plan};

        CHECK(run(&out, &err, 5, argv) == 2);
        CHECK_STR_CONTAINS(err, bad);
        CHECK_STR_CONTAINS(err, "grid.import_limit_kw");
        CHECK_STR_CONTAINS(err, "-1");
        CHECK(access(plan, F_OK) != 0); /* no plan on bad input */
        free(out);
        free(err);
    }
    {
        char *argv[] = {"flexd", "solve", "/nonexistent/flexd.json"};

        CHECK(run(&out, &err, 3, argv) == 1);
        CHECK_STR_CONTAINS(err, "/nonexistent/flexd.json");
        free(out);
        free(err);
    }
    {
        char *argv[] = {"flexd", "solve", bad, "--frobnicate"};

        CHECK(run(&out, &err, 4, argv) == 2);
        CHECK_STR_CONTAINS(err, "--frobnicate");
        free(out);
        free(err);
    }
    unlink(bad);
}

static void test_check_config(void)
{
    char conf[512];
    char bad[512];
    char *out;
    char *err;
    char *text = NULL;
    size_t len;
    struct error_detail ed;
    cJSON *root;
    FILE *f;

    snprintf(conf, sizeof(conf), "%s/config/ulanhada.json", srcdir());
    {
        char *argv[] = {"flexd", "check-config", conf};

        CHECK(run(&out, &err, 3, argv) == 0);
        root = cJSON_Parse(out);
        CHECK(root != NULL); /* the effective configuration is JSON */
        cJSON_Delete(root);
        CHECK_STR_CONTAINS(err, "valid");
        free(out);
        free(err);
    }
    /* a typo in a key must not pass silently */
    CHECK(fileio_read_all(conf, 1 << 20, &text, &len, &ed) == 0);
    snprintf(bad, sizeof(bad), "%s/typo.json", tmpdir);
    f = fopen(bad, "w");
    {
        char *p = text ? strstr(text, "\"import_limit_kw\"") : NULL;

        CHECK(p != NULL);
        if (p) {
            fwrite(text, 1, (size_t)(p - text), f);
            fputs("\"import_limt_kw\"", f);
            fputs(p + strlen("\"import_limit_kw\""), f);
        }
    }
    fclose(f);
    free(text);
    {
        char *argv[] = {"flexd", "check-config", bad};

        CHECK(run(&out, &err, 3, argv) == 2);
        CHECK_STR_CONTAINS(err, bad);
        CHECK_STR_CONTAINS(err, "import_limt_kw");
        free(out);
        free(err);
    }
    unlink(bad);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_basics();
    test_solve_example();
    test_solve_bad();
    test_check_config();
    {
        char plan[512];

        snprintf(plan, sizeof(plan), "%s/plan.json", tmpdir);
        unlink(plan);
        rmdir(tmpdir);
    }
    return CHECK_DONE();
}
