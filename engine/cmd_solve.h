/* SPDX-License-Identifier: MIT */
/*
 * cmd_solve.h - `flexd solve SCENARIO.json [-o PLAN.json] [--summary]`.
 */
#ifndef FLEXD_ENGINE_CMD_SOLVE_H
#define FLEXD_ENGINE_CMD_SOLVE_H

#include <stdio.h>

int cmd_solve_main(int argc, char **argv, FILE *out, FILE *err);

#endif
