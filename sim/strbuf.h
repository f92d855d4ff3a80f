/* SPDX-License-Identifier: MIT */
/*
 * strbuf.h - a growing, NUL-terminated text buffer for building output
 * files in memory before one atomic write (sim/report.c). Appends never
 * fail: growth goes through common/alloc.h, which aborts on out-of-memory.
 */
#ifndef FLEXD_SIM_STRBUF_H
#define FLEXD_SIM_STRBUF_H

#include <stddef.h>

struct strbuf {
    char *data; /* always NUL-terminated once anything was appended; owned */
    size_t len; /* bytes in data, excluding the NUL */
    size_t cap; /* bytes allocated */
};

/* An empty buffer; STRBUF_INIT or a zeroed struct are equally valid. */
#define STRBUF_INIT \
    {               \
        NULL, 0, 0  \
    }

/* Release the memory; the buffer is empty and reusable afterwards. */
void strbuf_free(struct strbuf *b);

/* Make room for at least extra more bytes (plus the NUL). */
void strbuf_reserve(struct strbuf *b, size_t extra);

/* Append n bytes / a NUL-terminated string / one character. */
void strbuf_append(struct strbuf *b, const char *s, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);
void strbuf_putc(struct strbuf *b, char c);

/* printf-style append. */
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append v with exactly `decimals` (0..9) digits after the point, rounded
 * half away from zero, never "-0.000". The same double always gives the
 * same bytes; for |v| < 1e12 this is a fast path without snprintf (used for
 * the 140,000-row timeseries), beyond that and for NaN/inf it falls back to
 * "%.*f". */
void strbuf_fixed(struct strbuf *b, double v, int decimals);

/* Append a signed integer in decimal. */
void strbuf_int(struct strbuf *b, long long v);

#endif
