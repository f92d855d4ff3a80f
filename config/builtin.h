/* SPDX-License-Identifier: MIT */
/*
 * builtin.h - the built-in Ulanhada configuration: config/ulanhada.json is
 * compiled into the binary (CMake turns it into a byte array), so `flexd
 * sim` and `flexd run` work from any directory without a config file.
 */
#ifndef FLEXD_CONFIG_BUILTIN_H
#define FLEXD_CONFIG_BUILTIN_H

#include "../common/error.h"
#include "../models/station.h"

#define BUILTIN_NAME "built-in:ulanhada.json"

/* Parse the built-in configuration (it is validated like any file). */
int builtin_station_load(struct station **out, struct error_detail *ed);

/* The JSON text itself (NUL-terminated). */
const char *builtin_station_json(void);

#endif
