/* SPDX-License-Identifier: MIT */
/*
 * alloc.h - checked allocation. Every wrapper aborts with a log line on
 * out-of-memory or on size overflow, so callers never test for NULL.
 * Memory is released with free(); free(NULL) is a no-op.
 */
#ifndef FLEXD_COMMON_ALLOC_H
#define FLEXD_COMMON_ALLOC_H

#include <stddef.h>

/* n elements of size bytes, zero-filled. n == 0 still returns a unique
 * pointer that must be freed. */
void *alloc_array(size_t n, size_t size);

/* Resize p to n elements of size bytes; new bytes are NOT zeroed. */
void *alloc_resize(void *p, size_t n, size_t size);

/* Copy of a NUL-terminated string. */
char *alloc_strdup(const char *s);

/* Newly allocated formatted string. */
char *alloc_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One zeroed object of the given type. */
#define ALLOC_NEW(type) ((type *)alloc_array(1, sizeof(type)))

#endif
