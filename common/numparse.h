/* SPDX-License-Identifier: MIT */
/*
 * numparse.h - the one strict number parser. The whole string must be a
 * number (no leading/trailing junk, no empty string), finite, in range.
 * Replaces atoi/atof/sscanf everywhere.
 */
#ifndef FLEXD_COMMON_NUMPARSE_H
#define FLEXD_COMMON_NUMPARSE_H

/* ERROR_OK, ERROR_PARSE (not a number / junk / not finite) or ERROR_RANGE. */
int numparse_double(const char *s, double min, double max, double *out);

/* Decimal integer in [min, max]; ERROR_OK, ERROR_PARSE or ERROR_RANGE. */
int numparse_long(const char *s, long min, long max, long *out);

#endif
