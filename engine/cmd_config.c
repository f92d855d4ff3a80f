/* SPDX-License-Identifier: MIT */
/*
 * cmd_config.c - `flexd check-config FILE`: validate every field and
 * cross-field rule of a station configuration and print the effective
 * configuration (every default filled in) as JSON. Main thread.
 */
#include "cmd_config.h"

#include "../common/error.h"
#include "../config/station_file.h"
#include "../models/station.h"
#include "cli.h"

#include <stdlib.h>

static void cmd_config_usage(FILE *f)
{
    fprintf(f,
            "usage: flexd check-config FILE\n"
            "  Validate a station configuration (docs/configuration.md) and print the effective\n"
            "  configuration, defaults included, as JSON.\n"
            "exit codes: 0 valid, 1 cannot read FILE, 2 invalid (the message names the JSON path,\n"
            "the value and the rule)\n");
}

int cmd_config_main(int argc, char **argv, FILE *out, FILE *err)
{
    struct error_detail ed = {{0}};
    struct station *st = NULL;
    char *dump = NULL;
    int rc;

    if (cli_wants_help(argc, argv)) {
        cmd_config_usage(out);
        return CLI_EXIT_OK;
    }
    if (argc != 2 || argv[1][0] == '-') {
        cmd_config_usage(err);
        return CLI_EXIT_INVALID;
    }
    rc = station_file_load(argv[1], &st, &ed);
    if (rc) {
        fprintf(err, "flexd check-config: %s\n", ed.text);
        goto out;
    }
    dump = station_file_dump(st);
    fprintf(out, "%s\n", dump);
    fprintf(err, "flexd check-config: %s: valid\n", argv[1]);
out:
    free(dump);
    station_free(st);
    return cli_exit_code(rc);
}
