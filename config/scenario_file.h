/* SPDX-License-Identifier: MIT */
/*
 * scenario_file.h - reads a `flexd solve` scenario file (JSON, format in
 * docs/configuration.md) into a struct scenario and validates it with
 * scenario_validate(). Every error reads "FILE: json.path: value: rule".
 */
#ifndef FLEXD_CONFIG_SCENARIO_FILE_H
#define FLEXD_CONFIG_SCENARIO_FILE_H

#include "../common/error.h"
#include "../models/scenario.h"

#include <stddef.h>

/* Largest scenario file read: the biggest valid scenario (2880 steps, 5000
 * sessions, 1000 connectors and events) is about 1.5 MB of JSON. */
#define SCENARIO_FILE_MAX_BYTES ((size_t)4 << 20)

/* Parse len bytes of JSON text (need not be NUL-terminated) into a new
 * scenario (*out, caller frees with scenario_free). name (may be NULL) is
 * put in front of error messages. Returns ERROR_OK; ERROR_PARSE (not JSON,
 * nested too deeply), ERROR_RANGE (text too large) or ERROR_INVALID (a
 * field or rule), with *out NULL and ed set. */
int scenario_file_parse(const char *text,
                        size_t len,
                        const char *name,
                        struct scenario **out,
                        struct error_detail *ed);

/* Read and parse the file at path; as scenario_file_parse, plus ERROR_IO
 * when the file cannot be read. Messages start with the path. */
int scenario_file_load(const char *path, struct scenario **out, struct error_detail *ed);

#endif
