/* SPDX-License-Identifier: MIT */
/*
 * devsim_cmd.h - `flexd devsim`: run the station's devices as Modbus TCP
 * servers (sim/devsim.h) until SIGINT/SIGTERM or --duration, with faults
 * scheduled from the command line, for `flexd run --loopback PORT` and
 * for manual tests with any Modbus client.
 */
#ifndef FLEXD_SIM_DEVSIM_CMD_H
#define FLEXD_SIM_DEVSIM_CMD_H

#include <stdio.h>

/* The command (engine/cli.h's cli_command_fn): 0 stopped, 1 runtime
 * failure (a port cannot be bound, a map cannot be read), 2 invalid option
 * or configuration. */
int devsim_cmd_main(int argc, char **argv, FILE *out, FILE *err);

#endif
