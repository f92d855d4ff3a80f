/* SPDX-License-Identifier: MIT */
/*
 * alloc.c - checked allocation wrappers. Out-of-memory is not a condition
 * flexd can recover from in a control loop, so it aborts loudly instead of
 * letting a NULL travel. Any thread.
 */
#include "alloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void alloc_die(const char *what, size_t n, size_t size)
{
    fprintf(stderr, "flexd: alloc: %s failed for %zu x %zu bytes, aborting\n", what, n, size);
    abort();
}

void *alloc_array(size_t n, size_t size)
{
    void *p;

    if (size && n > SIZE_MAX / size) {
        alloc_die("size overflow", n, size);
    }
    p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        alloc_die("calloc", n, size);
    }
    return p;
}

void *alloc_resize(void *p, size_t n, size_t size)
{
    void *q;
    size_t bytes;

    if (size && n > SIZE_MAX / size) {
        alloc_die("size overflow", n, size);
    }
    bytes = n * size;
    q = realloc(p, bytes ? bytes : 1);
    if (!q) {
        alloc_die("realloc", n, size);
    }
    return q;
}

char *alloc_strdup(const char *s)
{
    size_t len = strlen(s);
    char *p = alloc_array(len + 1, 1);

    memcpy(p, s, len);
    return p;
}

char *alloc_printf(const char *fmt, ...)
{
    va_list ap;
    int len;
    char *p;

    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0) {
        alloc_die("vsnprintf", 0, 0);
    }
    p = alloc_array((size_t)len + 1, 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)len + 1, fmt, ap);
    va_end(ap);
    return p;
}
