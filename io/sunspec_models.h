/* SPDX-License-Identifier: MIT */
/*
 * sunspec_models.h - the SunSpec models and points flexd uses, as tables
 * (offset, type, size, scale-factor point, units, access), and the pure
 * codec between a model's register block and physical values.
 *
 * Offsets count registers from the first register after the model header
 * (ID, L), so offset 0 is the first point of the body, as in the "offset"
 * column of the SunSpec model tables. Multi-register values are big-endian
 * (high word first). Sources: the model JSON files of sunspec/models
 * (json/model_<id>.json); the tables list a subset of each model's points.
 *
 * No I/O and no state: any thread. io/sunspec.c (the Modbus client) and
 * sim/sunspec_image.c (register images for the device simulator) share it.
 */
#ifndef FLEXD_IO_SUNSPEC_MODELS_H
#define FLEXD_IO_SUNSPEC_MODELS_H

#include "../common/error.h"

#include <stddef.h>
#include <stdint.h>

/* Point types, with the value SunSpec uses for "not implemented". */
enum sunspec_models_type {
    SUNSPEC_MODELS_UINT16 = 0,     /* 0xFFFF */
    SUNSPEC_MODELS_INT16 = 1,      /* 0x8000 */
    SUNSPEC_MODELS_ACC32 = 2,      /* 0 (an accumulator that never counted) */
    SUNSPEC_MODELS_UINT32 = 3,     /* 0xFFFFFFFF */
    SUNSPEC_MODELS_INT32 = 4,      /* 0x80000000 */
    SUNSPEC_MODELS_UINT64 = 5,     /* 0xFFFFFFFFFFFFFFFF */
    SUNSPEC_MODELS_SUNSSF = 6,     /* 0x8000; a power-of-ten exponent, -10..10 */
    SUNSPEC_MODELS_ENUM16 = 7,     /* 0xFFFF */
    SUNSPEC_MODELS_BITFIELD16 = 8, /* 0xFFFF */
    SUNSPEC_MODELS_BITFIELD32 = 9, /* 0xFFFFFFFF */
    SUNSPEC_MODELS_STRING = 10,    /* all registers 0 */
};

/* SunSpec allows scale factors -10..10. */
#define SUNSPEC_MODELS_SF_MIN (-10)
#define SUNSPEC_MODELS_SF_MAX 10

struct sunspec_models_point {
    const char *name; /* SunSpec point name, e.g. "WMaxLimPct" */
    uint16_t offset;  /* registers after the ID,L header */
    uint16_t size;    /* registers */
    enum sunspec_models_type type;
    const char *sf;    /* scale-factor point in the same model, or NULL */
    const char *units; /* SunSpec units ("W", "Pct", "Secs"), or NULL */
    int writable;      /* 1 when SunSpec marks the point RW */
};

struct sunspec_models_def {
    uint16_t id;
    const char *name; /* short label, e.g. "inverter_3p" */
    uint16_t length;  /* L in the current SunSpec model (body registers) */
    uint16_t need;    /* shortest L that holds every point in the table */
    const struct sunspec_models_point *points;
    size_t n_points;
};

/* Model 124 StorCtl_Mod bits (bit 0 CHARGE, bit 1 DiSCHARGE). */
#define SUNSPEC_MODELS_STORCTL_CHARGE    0x0001u
#define SUNSPEC_MODELS_STORCTL_DISCHARGE 0x0002u

/* The table for a model id, or NULL when flexd has none. */
const struct sunspec_models_def *sunspec_models_find(uint16_t id);

/* Number of models in the table and the i-th one (NULL past the end). */
size_t sunspec_models_count(void);
const struct sunspec_models_def *sunspec_models_at(size_t i);

/* A point by name, or NULL. */
const struct sunspec_models_point *sunspec_models_point(const struct sunspec_models_def *m,
                                                        const char *name);

/* "uint16", "sunssf", ... ; never NULL. */
const char *sunspec_models_type_name(enum sunspec_models_type type);

/* One decoded point. A point is absent when the device reports the type's
 * "not implemented" value, or when its scale factor is not implemented:
 * then present is 0 and value is NAN, never a number. */
struct sunspec_models_value {
    int present;
    double value; /* raw x 10^sf in the point's units; enums, bitfields and sunssf as integers */
    int sf;       /* exponent applied (0 for points without a scale factor) */
};

/* Decode `point` of model m from body (n registers after the header).
 * Errors: ERROR_INVALID for an unknown point or a string point,
 * ERROR_RANGE when the block is too short for the point or its scale
 * factor, or the scale factor lies outside -10..10. ed names model, point
 * and value. */
int sunspec_models_decode(const struct sunspec_models_def *m,
                          const uint16_t *body,
                          size_t n,
                          const char *point,
                          struct sunspec_models_value *out,
                          struct error_detail *ed);

/* The raw register value of `point` that encodes `value` with the scale
 * factor currently in body: round(value / 10^sf). Sunssf, enum and
 * bitfield points take the integer itself. Errors as for decode, plus
 * ERROR_RANGE for a value that is not finite, not a whole number where
 * one is needed, or outside the type's range (the "not implemented"
 * value is never produced), and ERROR_STATE when the scale factor is not
 * implemented. raw receives the words to write (size of the point). */
int sunspec_models_encode(const struct sunspec_models_def *m,
                          const uint16_t *body,
                          size_t n,
                          const char *point,
                          double value,
                          uint16_t *raw,
                          struct error_detail *ed);

/* Encode and store into body in place (as sunspec_models_encode). */
int sunspec_models_put(const struct sunspec_models_def *m,
                       uint16_t *body,
                       size_t n,
                       const char *point,
                       double value,
                       struct error_detail *ed);

/* Mark a point "not implemented" in body (the type's sentinel). */
int sunspec_models_put_absent(const struct sunspec_models_def *m,
                              uint16_t *body,
                              size_t n,
                              const char *point,
                              struct error_detail *ed);

/* A string point (two characters per register, high byte first, NUL
 * padded) into buf (always NUL-terminated; an all-zero point gives "").
 * Errors: ERROR_INVALID for a non-string point, ERROR_RANGE when the
 * block is too short. */
int sunspec_models_get_string(const struct sunspec_models_def *m,
                              const uint16_t *body,
                              size_t n,
                              const char *point,
                              char *buf,
                              size_t buf_size,
                              struct error_detail *ed);

/* Store s into a string point, NUL padded; ERROR_RANGE when s is longer
 * than the point. */
int sunspec_models_put_string(const struct sunspec_models_def *m,
                              uint16_t *body,
                              size_t n,
                              const char *point,
                              const char *s,
                              struct error_detail *ed);

#endif
