/* SPDX-License-Identifier: MIT */
/*
 * jsonfields.h - a strict, table-driven JSON reader and writer on top of
 * cJSON. A config file is described by a table of fields (name, type,
 * offset into the target struct, range, required flag, default), not by an
 * if-chain; this module walks the table and the JSON object together.
 *
 * Reading rejects, with "json.path: value: rule" in the error detail:
 * unknown keys (with a "did you mean" hint), duplicate keys (cJSON keeps
 * them; we do not), missing required fields, wrong JSON types, non-finite
 * numbers (1e999 parses to inf), non-integers for INT, values outside
 * [min, max], over-long strings, arrays of the wrong length. Absent
 * optional fields get the table's default, so a parsed struct is always
 * complete. Fields are processed in table order, not in file order, so a
 * callback may rely on earlier fields (e.g. connectors before sessions).
 *
 * Input is capped in size (by the caller) and in nesting depth
 * (JSONFIELDS_NESTING_MAX, checked before cJSON sees the text), and the
 * table walk recurses only as deep as the table, never as deep as the input.
 *
 * Pure functions; the caller owns every struct and every cJSON tree.
 */
#ifndef FLEXD_CONFIG_JSONFIELDS_H
#define FLEXD_CONFIG_JSONFIELDS_H

#include "../common/error.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <stddef.h>

/* Deepest object/array nesting accepted in any input. Our deepest file
 * (station: tariff.seasons[].periods[]) needs 6 levels. */
#define JSONFIELDS_NESTING_MAX 32

/* Longest JSON path kept in messages; longer paths are truncated. */
#define JSONFIELDS_PATH_MAX 200

/* Most fields in one table (one JSON object). */
#define JSONFIELDS_TABLE_MAX 64

enum jsonfields_type {
    JSONFIELDS_NUMBER, /* double: finite, in [min, max] */
    JSONFIELDS_INT,    /* int: integral number in [min, max] */
    JSONFIELDS_BOOL,   /* int 0/1 from true/false */
    JSONFIELDS_STRING, /* char[size]: length in [min, size - 1], no control characters */
    JSONFIELDS_SERIES, /* double * with ctx->series_len elements (allocated by the caller):
                        * an array of exactly series_len numbers, or one number for all */
    JSONFIELDS_OBJECT, /* nested object described by sub, at offset (0 = same struct) */
    JSONFIELDS_ARRAY,  /* array of objects described by sub; see alloc */
    JSONFIELDS_ENUM,   /* int: index of the string in names */
    JSONFIELDS_CLOCK,  /* int minutes since local midnight from "HH:MM", in [min, max];
                        * "24:00" (1440) is accepted where max allows it */
    JSONFIELDS_INTSET, /* unsigned bit mask from an array of distinct integers in
                        * [min, max] (0..31), e.g. months [6, 7, 8] */
    JSONFIELDS_CUSTOM, /* read by the parse callback */
};

/* Field flags. */
#define JSONFIELDS_REQUIRED 1u /* missing is an error */
#define JSONFIELDS_PRESENCE 2u /* OBJECT: int at aux_offset set to 1 when present, else 0 */

struct jsonfields_field;

/* ARRAY with an allocated element array: make room for n elements in the
 * parent struct base (e.g. scenario_set_sessions) and return the first. */
typedef void *(*jsonfields_alloc_fn)(void *base, int n);

/* CUSTOM: read item (never NULL) into target (the parent struct + offset).
 * user is jsonfields_ctx.user. Return ERROR_OK or an error with ed set to
 * "path: value: rule". */
typedef int (*jsonfields_parse_fn)(const cJSON *item,
                                   void *target,
                                   const char *path,
                                   void *user,
                                   struct error_detail *ed);

/* CUSTOM: a new cJSON value for target, or NULL to leave the field out. */
typedef cJSON *(*jsonfields_dump_fn)(const void *target, void *user);

struct jsonfields_field {
    const char *name; /* JSON key; NULL ends the table */
    enum jsonfields_type type;
    unsigned flags;                     /* JSONFIELDS_REQUIRED | JSONFIELDS_PRESENCE */
    size_t offset;                      /* offsetof() of the member in the parent struct */
    size_t size;                        /* sizeof the member; ARRAY: sizeof one element */
    double min;                         /* NUMBER/INT/CLOCK/INTSET range; STRING min length */
    double max;                         /* NUMBER/INT/CLOCK/INTSET range */
    double def;                         /* default of an absent optional scalar (INTSET: mask) */
    const char *def_str;                /* default of an absent optional STRING (NULL = "") */
    size_t aux_offset;                  /* ARRAY: offset of the int count; OBJECT: presence flag */
    int max_count;                      /* ARRAY: most elements (and capacity of an inline array) */
    const struct jsonfields_field *sub; /* OBJECT/ARRAY: nested table */
    jsonfields_alloc_fn alloc;          /* ARRAY: NULL = inline array of max_count at offset,
                                         * else the member at offset is a pointer set by alloc */
    const char *const *names;           /* ENUM: NULL-terminated list */
    jsonfields_parse_fn parse;          /* CUSTOM */
    jsonfields_dump_fn dump;            /* CUSTOM, may be NULL */
};

/* Context for one parse or dump. */
struct jsonfields_ctx {
    int series_len;    /* element count of every SERIES field */
    int allow_unknown; /* 1: ignore keys not in the table (pre-reading a few fields) */
    void *user;        /* passed to CUSTOM callbacks */
};

/* Range ends that accept any finite double. */
#define JSONFIELDS_LOWEST  (-DBL_MAX)
#define JSONFIELDS_HIGHEST DBL_MAX

#define JSONFIELDS_MEMBER_SIZE(st, m) sizeof(((st *)0)->m)

/* Table rows. fl is 0 or JSONFIELDS_REQUIRED; d is the default. */
#define JSONFIELDS_F_NUMBER(n, st, m, lo, hi, fl, d)                                      \
    {                                                                                     \
        .name = (n), .type = JSONFIELDS_NUMBER, .flags = (fl), .offset = offsetof(st, m), \
        .size = JSONFIELDS_MEMBER_SIZE(st, m), .min = (lo), .max = (hi), .def = (d)       \
    }
#define JSONFIELDS_F_INT(n, st, m, lo, hi, fl, d)                                      \
    {                                                                                  \
        .name = (n), .type = JSONFIELDS_INT, .flags = (fl), .offset = offsetof(st, m), \
        .size = JSONFIELDS_MEMBER_SIZE(st, m), .min = (lo), .max = (hi), .def = (d)    \
    }
#define JSONFIELDS_F_BOOL(n, st, m, fl, d)                                              \
    {                                                                                   \
        .name = (n), .type = JSONFIELDS_BOOL, .flags = (fl), .offset = offsetof(st, m), \
        .size = JSONFIELDS_MEMBER_SIZE(st, m), .min = 0, .max = 1, .def = (d)           \
    }
#define JSONFIELDS_F_STRING(n, st, m, minlen, fl, d)                                      \
    {                                                                                     \
        .name = (n), .type = JSONFIELDS_STRING, .flags = (fl), .offset = offsetof(st, m), \
        .size = JSONFIELDS_MEMBER_SIZE(st, m), .min = (minlen), .def_str = (d)            \
    }
#define JSONFIELDS_F_SERIES(n, st, m, lo, hi, fl, d)                                      \
    {                                                                                     \
        .name = (n), .type = JSONFIELDS_SERIES, .flags = (fl), .offset = offsetof(st, m), \
        .size = JSONFIELDS_MEMBER_SIZE(st, m), .min = (lo), .max = (hi), .def = (d)       \
    }
#define JSONFIELDS_F_ENUM(n, st, m, list, fl, d)                                        \
    {                                                                                   \
        .name = (n), .type = JSONFIELDS_ENUM, .flags = (fl), .offset = offsetof(st, m), \
        .size = JSONFIELDS_MEMBER_SIZE(st, m), .names = (list), .def = (d)              \
    }
#define JSONFIELDS_F_CLOCK(n, st, m, lo, hi, fl, d)                                      \
    {                                                                                    \
        .name = (n), .type = JSONFIELDS_CLOCK, .flags = (fl), .offset = offsetof(st, m), \
        .size = JSONFIELDS_MEMBER_SIZE(st, m), .min = (lo), .max = (hi), .def = (d)      \
    }
#define JSONFIELDS_F_INTSET(n, st, m, lo, hi, fl, d)                                      \
    {                                                                                     \
        .name = (n), .type = JSONFIELDS_INTSET, .flags = (fl), .offset = offsetof(st, m), \
        .size = JSONFIELDS_MEMBER_SIZE(st, m), .min = (lo), .max = (hi), .def = (d)       \
    }
/* A nested object stored in member m of st. */
#define JSONFIELDS_F_OBJECT(n, st, m, table, fl)                                          \
    {                                                                                     \
        .name = (n), .type = JSONFIELDS_OBJECT, .flags = (fl), .offset = offsetof(st, m), \
        .sub = (table)                                                                    \
    }
/* An optional nested object in member m whose presence is recorded in int member p. */
#define JSONFIELDS_F_OPTIONAL(n, st, m, p, table)                                \
    {                                                                            \
        .name = (n), .type = JSONFIELDS_OBJECT, .flags = JSONFIELDS_PRESENCE,    \
        .offset = offsetof(st, m), .aux_offset = offsetof(st, p), .sub = (table) \
    }
/* A JSON grouping of fields that live in the parent struct itself. */
#define JSONFIELDS_F_GROUP(n, table, fl)                                                   \
    {                                                                                      \
        .name = (n), .type = JSONFIELDS_OBJECT, .flags = (fl), .offset = 0, .sub = (table) \
    }
/* An array of element type et in member m (an inline array of maxn, or a
 * pointer set by allocator fn), with its int count in member cnt. */
#define JSONFIELDS_F_ARRAY(n, st, m, cnt, et, table, maxn, fn, fl)                                \
    {                                                                                             \
        .name = (n), .type = JSONFIELDS_ARRAY, .flags = (fl), .offset = offsetof(st, m),          \
        .size = sizeof(et), .aux_offset = offsetof(st, cnt), .max_count = (maxn), .sub = (table), \
        .alloc = (fn)                                                                             \
    }
#define JSONFIELDS_F_CUSTOM(n, st, m, pfn, dfn, fl)                                       \
    {                                                                                     \
        .name = (n), .type = JSONFIELDS_CUSTOM, .flags = (fl), .offset = offsetof(st, m), \
        .size = JSONFIELDS_MEMBER_SIZE(st, m), .parse = (pfn), .dump = (dfn)              \
    }
#define JSONFIELDS_F_END \
    {                    \
        .name = NULL     \
    }

/* Parse len bytes of text (need not be NUL-terminated) into a new cJSON
 * tree (*out, free with cJSON_Delete). Refuses more than max_bytes
 * (ERROR_RANGE), empty input, NUL bytes, nesting deeper than
 * JSONFIELDS_NESTING_MAX, malformed JSON and trailing text (ERROR_PARSE);
 * ed then reads "line L, column C: what". */
int jsonfields_load(const char *text,
                    size_t len,
                    size_t max_bytes,
                    cJSON **out,
                    struct error_detail *ed);

/* Read the object obj into base following table. path is the JSON path of
 * obj ("" for the top level). ERROR_OK, ERROR_INVALID with ed set. On
 * error base may be partly filled; the caller discards it. */
int jsonfields_parse(const struct jsonfields_field *table,
                     const cJSON *obj,
                     void *base,
                     const char *path,
                     const struct jsonfields_ctx *ctx,
                     struct error_detail *ed);

/* Write every field's default into base (presence flags 0, arrays empty). */
void jsonfields_defaults(const struct jsonfields_field *table,
                         void *base,
                         const struct jsonfields_ctx *ctx);

/* A new cJSON object holding every field of base in table order (optional
 * objects whose presence flag is 0 left out). Caller cJSON_Delete()s it. */
cJSON *jsonfields_dump(const struct jsonfields_field *table,
                       const void *base,
                       const struct jsonfields_ctx *ctx);

/* How item reads in a message: 12.5, "text" (cut at 48 characters),
 * true, null, "array of N values", "an object". */
void jsonfields_describe(const cJSON *item, char *buf, size_t n);

/* Format minutes since midnight as "HH:MM" (1440 gives "24:00"); buf needs 6 bytes. */
void jsonfields_format_clock(int minutes, char buf[6]);

/* Parse "HH:MM" (00:00..24:00) into minutes; ERROR_OK or ERROR_PARSE. */
int jsonfields_parse_clock(const char *s, int *minutes);

#endif
