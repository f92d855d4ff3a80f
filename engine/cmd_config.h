/* SPDX-License-Identifier: MIT */
/*
 * cmd_config.h - `flexd check-config FILE`.
 */
#ifndef FLEXD_ENGINE_CMD_CONFIG_H
#define FLEXD_ENGINE_CMD_CONFIG_H

#include <stdio.h>

int cmd_config_main(int argc, char **argv, FILE *out, FILE *err);

#endif
