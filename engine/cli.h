/* SPDX-License-Identifier: MIT */
/*
 * cli.h - the `flexd` command line: subcommand table, --help, exit codes.
 * main() is a one-line call to cli_run(); tests call cli_run() directly with
 * their own output streams.
 *
 * Exit codes (stable, documented in docs/operations.md):
 *   0 success, 1 runtime failure (I/O, solver), 2 invalid input or usage.
 */
#ifndef FLEXD_ENGINE_CLI_H
#define FLEXD_ENGINE_CLI_H

#include <stdio.h>

#define CLI_EXIT_OK      0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_INVALID 2

/* A subcommand: argv[0] is the subcommand's name. */
typedef int (*cli_command_fn)(int argc, char **argv, FILE *out, FILE *err);

struct cli_command {
    const char *name;
    cli_command_fn fn;
    const char *summary;
};

/* Run `flexd argv[1] ...`; returns the exit code. The engine's own commands
 * are built in; layers above the engine (the simulator) pass theirs in
 * extra, so the engine never depends on them. */
int cli_run(const struct cli_command *extra,
            int n_extra,
            int argc,
            char **argv,
            FILE *out,
            FILE *err);

/* Map a project error code to an exit code. */
int cli_exit_code(int error_code);

/* True if argv has -h or --help. */
int cli_wants_help(int argc, char **argv);

#endif
