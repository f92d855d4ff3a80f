/* SPDX-License-Identifier: MIT */
/*
 * error.h - the one project error enum, and a detail buffer for messages
 * that name the field, the value and the rule.
 *
 * Numbers never change once published: they appear in exit codes, logs
 * and (later) in MQTT/HTTP replies next to a stable UPPER_SNAKE code word.
 */
#ifndef FLEXD_COMMON_ERROR_H
#define FLEXD_COMMON_ERROR_H

#include <stddef.h>

enum error_code {
    ERROR_OK = 0,
    ERROR_IO = 1,      /* a file or socket could not be read or written */
    ERROR_PARSE = 2,   /* input is not well-formed (not JSON, bad number) */
    ERROR_INVALID = 3, /* input is well-formed but breaks a rule */
    ERROR_SOLVER = 4,  /* the LP solver failed (not infeasibility: the model is never infeasible) */
    ERROR_USAGE = 5,   /* bad command line */
    ERROR_RANGE = 6,   /* a value lies outside its allowed range */
    ERROR_STATE = 7,   /* an operation is not allowed in the current state */
};

/* Human text for a code ("invalid input"); never NULL. */
const char *error_strerror(int code);

/* Stable UPPER_SNAKE code word for a code ("INVALID"); never NULL. */
const char *error_codeword(int code);

/* A fixed-size message buffer, filled by the function that found the fault
 * with "json.path: value ...: rule" so callers can prefix a file name. */
#define ERROR_DETAIL_MAX 512

struct error_detail {
    char text[ERROR_DETAIL_MAX];
};

/* Format into ed (may be NULL, then nothing happens). Truncates safely.
 * Returns code, so callers can write `return error_setf(ed, ERROR_INVALID, ...)`. */
int error_setf(struct error_detail *ed, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Put prefix + ": " in front of the current text (used to add file names
 * and outer JSON paths). */
void error_prefix(struct error_detail *ed, const char *prefix);

#endif
