/* SPDX-License-Identifier: MIT */
/*
 * error.c - error texts and the detail buffer. Pure functions, any thread.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *text;
    const char *word;
} error_table[] = {
    [ERROR_OK] = {"success", "OK"},
    [ERROR_IO] = {"input/output error", "IO_ERROR"},
    [ERROR_PARSE] = {"malformed input", "INVALID_PAYLOAD"},
    [ERROR_INVALID] = {"invalid input", "SCHEMA_VIOLATION"},
    [ERROR_SOLVER] = {"solver failure", "SOLVER_FAILURE"},
    [ERROR_USAGE] = {"bad command line", "USAGE"},
    [ERROR_RANGE] = {"value out of range", "OUT_OF_RANGE"},
    [ERROR_STATE] = {"not allowed in this state", "INVALID_STATE"},
};

#define ERROR_COUNT ((int)(sizeof(error_table) / sizeof(error_table[0])))

const char *error_strerror(int code)
{
    if (code < 0 || code >= ERROR_COUNT || !error_table[code].text) {
        return "unknown error";
    }
    return error_table[code].text;
}

const char *error_codeword(int code)
{
    if (code < 0 || code >= ERROR_COUNT || !error_table[code].word) {
        return "UNKNOWN";
    }
    return error_table[code].word;
}

int error_setf(struct error_detail *ed, int code, const char *fmt, ...)
{
    va_list ap;

    if (!ed) {
        return code;
    }
    va_start(ap, fmt);
    vsnprintf(ed->text, sizeof(ed->text), fmt, ap);
    va_end(ap);
    return code;
}

void error_prefix(struct error_detail *ed, const char *prefix)
{
    char tmp[ERROR_DETAIL_MAX];

    if (!ed || !prefix || !*prefix) {
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s: %s", prefix, ed->text);
    memcpy(ed->text, tmp, sizeof(tmp));
}
