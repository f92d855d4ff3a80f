/* SPDX-License-Identifier: MIT */
/*
 * main.c - the flexd binary. Everything lives in the libraries so the tests
 * run the very same code through cli_run(); this file only adds the
 * commands of the layers above the engine.
 */
#include "../sim/devsim_cmd.h"
#include "../sim/simcmd.h"
#include "cli.h"

static const struct cli_command main_commands[] = {
    {"sim", simcmd_main, "simulate the station through the engine (strategies, KPIs, report)"},
    {"devsim", devsim_cmd_main, "serve the station's devices as simulated Modbus TCP servers"},
};

int main(int argc, char **argv)
{
    return cli_run(main_commands, 2, argc, argv, stdout, stderr);
}
