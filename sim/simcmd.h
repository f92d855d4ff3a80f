/* SPDX-License-Identifier: MIT */
/*
 * simcmd.h - `flexd sim`: the energy manager's tool. Runs the station on
 * virtual devices and a virtual clock through the engine's own controller,
 * for one strategy or all of them on the same random draws.
 */
#ifndef FLEXD_SIM_SIMCMD_H
#define FLEXD_SIM_SIMCMD_H

#include <stdio.h>

int simcmd_main(int argc, char **argv, FILE *out, FILE *err);

#endif
