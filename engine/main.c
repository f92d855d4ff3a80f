/* SPDX-License-Identifier: MIT */
/*
 * main.c - the flexd binary. Everything lives in the libraries so the tests
 * run the very same code through cli_run(); this file only adds the
 * commands of the layers above the engine.
 */
#include "../sim/simcmd.h"
#include "cli.h"

static const struct cli_command main_commands[] = {
    {"sim", simcmd_main, "simulate the station through the engine (strategies, KPIs, report)"},
};

int main(int argc, char **argv)
{
    return cli_run(main_commands, 1, argc, argv, stdout, stderr);
}
