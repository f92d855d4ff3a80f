/* SPDX-License-Identifier: MIT */
/*
 * regmap_file_internal.h - private to regmap_file.c and
 * regmap_file_fields.c; nothing else may include it (the API is
 * regmap_file.h). It holds the kinds of map and the rf_ functions one of
 * the two files calls in the other:
 *   regmap_file.c         the names, the rules across fields (overlap,
 *                         id, roles of the other kind, read size) and the
 *                         entry points: parse, load, find, dump
 *   regmap_file_fields.c  the mask and address parsers, the field and
 *                         role tables jsonfields reads, and the rules of
 *                         each field on its own
 */
#ifndef FLEXD_CONFIG_REGMAP_FILE_INTERNAL_H
#define FLEXD_CONFIG_REGMAP_FILE_INTERNAL_H

#include "../common/error.h"
#include "jsonfields.h"
#include "regmap_file.h"

#include <stddef.h>

#define RF_BIT(r) (1u << (r))

/* A kind of map: the table of its top level and its roles. */
struct rf_kind {
    const struct jsonfields_field *root;
    unsigned roles;    /* bit per enum regmap_file_role the map may have */
    unsigned required; /* ... and must have */
    const char *list;  /* the roles, for messages */
};

/* The roles of each kind of map, indexed by enum regmap_file_kind. */
extern const struct rf_kind rf_kinds[2];

/* Read first, with every other key let through, to pick the root table. */
extern const struct jsonfields_field rf_kind_only[];

/* ---- regmap_file_fields.c: rules ---- */

/* "fields.<role>.<key>: <value>: <rule>" */
int rf_fail(struct error_detail *ed,
            int role,
            const char *key,
            const char *value,
            const char *fmt,
            ...) __attribute__((format(printf, 5, 6)));

/* v or "s" shown in a message, in buf. */
const char *rf_num(char *buf, size_t n, double v);
const char *rf_str(char *buf, size_t n, const char *s);

/* 1 for a field read as codes (status, plug, error_code). */
int rf_is_code(int role);

/* The rules of field role on its own, completing its defaults (codes
 * carry no scale, a read-only field is its own read-back). */
int rf_check_field(struct regmap_file *m, int role, struct error_detail *ed);

#endif
