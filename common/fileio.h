/* SPDX-License-Identifier: MIT */
/*
 * fileio.h - whole-file reads with a size cap, and atomic whole-file writes
 * (temp file + fsync + rename), so a crash never leaves half a plan or half
 * a report behind.
 */
#ifndef FLEXD_COMMON_FILEIO_H
#define FLEXD_COMMON_FILEIO_H

#include "error.h"

#include <stddef.h>

/* Read path into a new NUL-terminated buffer (*out, free with free()).
 * Files larger than max_bytes are refused with ERROR_RANGE. ERROR_IO when
 * the file cannot be read; ed names the path and the system's reason. */
int fileio_read_all(const char *path,
                    size_t max_bytes,
                    char **out,
                    size_t *len,
                    struct error_detail *ed);

/* Write len bytes to path atomically. ERROR_IO with the reason in ed. */
int fileio_write_atomic(const char *path, const void *data, size_t len, struct error_detail *ed);

#endif
