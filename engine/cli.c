/* SPDX-License-Identifier: MIT */
/*
 * cli.c - subcommand dispatch for the single `flexd` binary. Each command
 * lives in its own cmd_*.c module; this file only holds the table, global
 * options and help. Runs on the main thread.
 */
#include "cli.h"

#include "../common/error.h"
#include "../common/logger.h"
#include "cmd_config.h"
#include "cmd_run.h"
#include "cmd_solve.h"

#include <string.h>

static int cli_version(int argc, char **argv, FILE *out, FILE *err);

static const struct cli_command cli_commands[] = {
    {"solve", cmd_solve_main, "optimise one scenario file and print the plan"},
    {"check-config", cmd_config_main, "validate a station configuration and print it"},
    {"run", cmd_run_main, "run the station: devices, 1 s control, planner, history"},
    {"version", cli_version, "print the version"},
};

#define CLI_NCOMMANDS ((int)(sizeof(cli_commands) / sizeof(cli_commands[0])))

static void cli_usage(FILE *f, const struct cli_command *extra, int n_extra)
{
    fprintf(f, "usage: flexd [--log-level error|warn|info|debug] COMMAND [ARGS]\n\ncommands:\n");
    for (int i = 0; i < CLI_NCOMMANDS; i++) {
        fprintf(f, "  %-14s %s\n", cli_commands[i].name, cli_commands[i].summary);
    }
    for (int i = 0; i < n_extra; i++) {
        fprintf(f, "  %-14s %s\n", extra[i].name, extra[i].summary);
    }
    fprintf(f,
            "  %-14s %s\n\n"
            "`flexd COMMAND --help` describes a command.\n"
            "exit codes: 0 success, 1 runtime failure (I/O, solver), 2 invalid input or usage\n",
            "help",
            "show this text");
}

static int cli_version(int argc, char **argv, FILE *out, FILE *err)
{
    (void)err;
    if (cli_wants_help(argc, argv)) {
        fprintf(out, "usage: flexd version\nprints the flexd version and exits 0\n");
        return CLI_EXIT_OK;
    }
    fprintf(out, "flexd %s\n", FLEXD_VERSION);
    return CLI_EXIT_OK;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            return 1;
        }
    }
    return 0;
}

int cli_exit_code(int error_code)
{
    switch (error_code) {
    case ERROR_OK:
        return CLI_EXIT_OK;
    case ERROR_PARSE:
    case ERROR_INVALID:
    case ERROR_USAGE:
    case ERROR_RANGE:
        return CLI_EXIT_INVALID;
    default:
        return CLI_EXIT_FAILURE;
    }
}

static const struct cli_command *
cli_find(const struct cli_command *extra, int n_extra, const char *name)
{
    for (int c = 0; c < CLI_NCOMMANDS; c++) {
        if (strcmp(name, cli_commands[c].name) == 0) {
            return &cli_commands[c];
        }
    }
    for (int c = 0; c < n_extra; c++) {
        if (strcmp(name, extra[c].name) == 0) {
            return &extra[c];
        }
    }
    return NULL;
}

int cli_run(const struct cli_command *extra,
            int n_extra,
            int argc,
            char **argv,
            FILE *out,
            FILE *err)
{
    const struct cli_command *cmd;
    int i = 1;
    enum logger_level level;

    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            if (logger_parse_level(argv[i + 1], &level)) {
                fprintf(err,
                        "flexd: --log-level: \"%s\": must be error, warn, info or debug\n",
                        argv[i + 1]);
                return CLI_EXIT_INVALID;
            }
            logger_set_level(level);
            i += 2;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            cli_usage(out, extra, n_extra);
            return CLI_EXIT_OK;
        } else {
            fprintf(err, "flexd: unknown option \"%s\"\n", argv[i]);
            cli_usage(err, extra, n_extra);
            return CLI_EXIT_INVALID;
        }
    }
    if (i >= argc) {
        cli_usage(err, extra, n_extra);
        return CLI_EXIT_INVALID;
    }
    if (strcmp(argv[i], "help") == 0) {
        cli_usage(out, extra, n_extra);
        return CLI_EXIT_OK;
    }
    cmd = cli_find(extra, n_extra, argv[i]);
    if (cmd) {
        return cmd->fn(argc - i, argv + i, out, err);
    }
    fprintf(err, "flexd: unknown command \"%s\"\n", argv[i]);
    cli_usage(err, extra, n_extra);
    return CLI_EXIT_INVALID;
}
