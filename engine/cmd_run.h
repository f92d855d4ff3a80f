/* SPDX-License-Identifier: MIT */
/*
 * cmd_run.h - `flexd run`: the engine in production (engine/live.h).
 */
#ifndef FLEXD_ENGINE_CMD_RUN_H
#define FLEXD_ENGINE_CMD_RUN_H

#include <stdio.h>

int cmd_run_main(int argc, char **argv, FILE *out, FILE *err);

#endif
