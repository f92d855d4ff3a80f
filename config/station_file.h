/* SPDX-License-Identifier: MIT */
/*
 * station_file.h - reads the station description (config/ulanhada.json,
 * format in docs/configuration.md) into a struct station, validates it
 * with station_validate(), and prints the effective configuration (every
 * default filled in) for `flexd check-config`.
 * Every error reads "FILE: json.path: value: rule".
 */
#ifndef FLEXD_CONFIG_STATION_FILE_H
#define FLEXD_CONFIG_STATION_FILE_H

#include "../common/error.h"
#include "../models/station.h"

#include <stddef.h>

/* Largest station file read. The shipped file is about 4 KB; a station at
 * every capacity limit of station.h stays under 200 KB. */
#define STATION_FILE_MAX_BYTES ((size_t)256 << 10)

/* Parse len bytes of JSON text (need not be NUL-terminated) into a new
 * station (*out, caller frees with station_free). name (may be NULL) is put
 * in front of error messages. Returns ERROR_OK; ERROR_PARSE (not JSON,
 * nested too deeply), ERROR_RANGE (text too large) or ERROR_INVALID (a
 * field or rule), with *out NULL and ed set. */
int station_file_parse(const char *text,
                       size_t len,
                       const char *name,
                       struct station **out,
                       struct error_detail *ed);

/* Read and parse the file at path; as station_file_parse, plus ERROR_IO
 * when the file cannot be read. Messages start with the path. */
int station_file_load(const char *path, struct station **out, struct error_detail *ed);

/* The effective configuration of st as indented JSON in the station file's
 * format, with every optional field present (defaults filled in); parsing
 * it gives st back. Newly allocated: the caller frees it with free(). */
char *station_file_dump(const struct station *st);

#endif
