/* SPDX-License-Identifier: MIT */
/*
 * numparse.c - strict wrappers around strtod/strtol. Any thread.
 */
#include "numparse.h"

#include "error.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

int numparse_double(const char *s, double min, double max, double *out)
{
    char *end = NULL;
    double v;

    if (!s || !*s || isspace((unsigned char)*s)) {
        return ERROR_PARSE;
    }
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        return ERROR_PARSE;
    }
    if (v < min || v > max) {
        return ERROR_RANGE;
    }
    *out = v;
    return ERROR_OK;
}

int numparse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    if (!s || !*s || isspace((unsigned char)*s)) {
        return ERROR_PARSE;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE) {
        return ERROR_PARSE;
    }
    if (v < min || v > max) {
        return ERROR_RANGE;
    }
    *out = v;
    return ERROR_OK;
}
