/* SPDX-License-Identifier: MIT */
/*
 * strbuf.c - growing text buffer with printf and fast fixed-point appends.
 * Capacity doubles, so building an N-byte file costs O(N) copies. The
 * buffer owns its memory; single-threaded use per buffer.
 */
#include "strbuf.h"

#include "../common/alloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_free(struct strbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void strbuf_reserve(struct strbuf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    size_t cap = b->cap ? b->cap : 256;

    if (need <= b->cap) {
        return;
    }
    while (cap < need) {
        cap *= 2;
    }
    b->data = alloc_resize(b->data, cap, 1);
    b->cap = cap;
}

void strbuf_append(struct strbuf *b, const char *s, size_t n)
{
    strbuf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void strbuf_puts(struct strbuf *b, const char *s)
{
    strbuf_append(b, s, strlen(s));
}

void strbuf_putc(struct strbuf *b, char c)
{
    strbuf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    strbuf_reserve(b, 64);
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->data[b->len] = '\0';
        return;
    }
    if ((size_t)n >= b->cap - b->len) {
        strbuf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

/* Digits of u (most significant first) into out, zero-padded to width. */
static size_t strbuf_udigits(unsigned long long u, int width, char *out)
{
    char tmp[24];
    size_t n = 0;
    size_t i;

    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u != 0);
    while (n < (size_t)width) {
        tmp[n++] = '0';
    }
    for (i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    return n;
}

void strbuf_int(struct strbuf *b, long long v)
{
    char out[24];
    size_t n = 0;
    unsigned long long u;

    if (v < 0) {
        out[n++] = '-';
        u = 0ULL - (unsigned long long)v;
    } else {
        u = (unsigned long long)v;
    }
    n += strbuf_udigits(u, 1, out + n);
    strbuf_append(b, out, n);
}

void strbuf_fixed(struct strbuf *b, double v, int decimals)
{
    static const double scale[10] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    static const unsigned long long iscale[10] = {1ULL,
                                                  10ULL,
                                                  100ULL,
                                                  1000ULL,
                                                  10000ULL,
                                                  100000ULL,
                                                  1000000ULL,
                                                  10000000ULL,
                                                  100000000ULL,
                                                  1000000000ULL};
    char out[48];
    size_t n = 0;
    long long r;
    unsigned long long u;

    if (decimals < 0) {
        decimals = 0;
    } else if (decimals > 9) {
        decimals = 9;
    }
    if (!isfinite(v) || fabs(v) >= 1e12) {
        strbuf_printf(b, "%.*f", decimals, v);
        return;
    }
    r = llround(v * scale[decimals]);
    if (r < 0) {
        out[n++] = '-';
        u = 0ULL - (unsigned long long)r;
    } else {
        u = (unsigned long long)r;
    }
    n += strbuf_udigits(u / iscale[decimals], 1, out + n);
    if (decimals > 0) {
        out[n++] = '.';
        n += strbuf_udigits(u % iscale[decimals], decimals, out + n);
    }
    strbuf_append(b, out, n);
}
