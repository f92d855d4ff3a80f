/* SPDX-License-Identifier: MIT */
/*
 * regmap_file.c - register map files (config/devices/<name>.json) of
 * charging connectors and grid meters. The format is the field tables
 * (regmap_file_fields.c): one table per kind of field, so a key that makes no sense for a
 * field (a scale on a status code, states on a power reading, a range on a
 * read-only value) is an unknown key, reported with the keys that are
 * allowed. The map's "kind" is read first and picks the set of roles
 * (rf_kinds); a role of the other kind is refused by name. jsonfields reads
 * the tables; rf_check() adds the rules no table can hold: word spans
 * inside the 16-bit address space, units per role, a signed meter power,
 * setpoint ranges that encode into the word type, code masks and state
 * rows, registers that overlap, and the read size.
 *
 * This file holds the names, the rules across fields and the entry
 * points; regmap_file_fields.c the tables and the rules of each field on
 * its own; regmap_file_internal.h what the two share.
 *
 * Pure functions apart from the file reads; any thread.
 */
#include "regmap_file.h"
#include "regmap_file_internal.h"

#include "../common/alloc.h"
#include "../common/fileio.h"
#include "../models/station.h"
#include "jsonfields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const regmap_file_role_names[REGMAP_FILE_ROLES + 1] = {
    "status",
    "power",
    "session_energy",
    "limit",
    "heartbeat",
    "plug",
    "voltage",
    "error_code",
    "energy_import",
    "energy_export",
    NULL,
};

const char *const regmap_file_kind_names[3] = {"connector", "meter", NULL};

const char *const regmap_file_state_names[6] = {
    "available",
    "occupied",
    "charging",
    "fault",
    "offline",
    NULL,
};

const char *const regmap_file_table_names[3] = {"holding", "input", NULL};
const char *const regmap_file_type_names[6] =
    {"int16", "uint16", "int32", "uint32", "float32", NULL};
const char *const regmap_file_unit_names[9] = {"none", "W", "kW", "Wh", "kWh", "A", "V", "s", NULL};

int regmap_file_words(int type)
{
    return type == REGMAP_FILE_INT16 || type == REGMAP_FILE_UINT16 ? 1 : 2;
}

/* ---- rules across fields ---------------------------------------------- */

/* A register range a field occupies. */
struct rf_span {
    int role;
    int table;
    int first;
    int last;
    const char *key; /* "address" or "readback" */
};

static int rf_spans(const struct regmap_file *m, struct rf_span *s)
{
    int n = 0;

    for (int r = 0; r < REGMAP_FILE_ROLES; r++) {
        const struct regmap_file_field *f = &m->field[r];
        int words = regmap_file_words(f->type);

        if (!m->present[r]) {
            continue;
        }
        s[n++] = (struct rf_span){r, f->table, f->address, f->address + words - 1, "address"};
        if (f->readback != f->address) {
            s[n++] =
                (struct rf_span){r, f->table, f->readback, f->readback + words - 1, "readback"};
        }
    }
    return n;
}

/* Two code fields may share one register when their masks do not meet
 * (e.g. state in the low byte, plug in the high byte). */
static int
rf_may_share(const struct regmap_file *m, const struct rf_span *a, const struct rf_span *b)
{
    const struct regmap_file_field *fa = &m->field[a->role];
    const struct regmap_file_field *fb = &m->field[b->role];

    return a->role != b->role && rf_is_code(a->role) && rf_is_code(b->role) && fa->mask &&
           fb->mask && !(fa->mask & fb->mask) && a->first == b->first && fa->type == fb->type;
}

static int rf_check_overlap(const struct regmap_file *m, struct error_detail *ed)
{
    struct rf_span s[2 * REGMAP_FILE_ROLES];
    int n = rf_spans(m, s);
    char v[40];

    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++) {
            if (s[i].table != s[j].table || s[i].first > s[j].last || s[j].first > s[i].last ||
                rf_may_share(m, &s[i], &s[j])) {
                continue;
            }
            return rf_fail(ed,
                           s[i].role,
                           s[i].key,
                           rf_num(v, sizeof(v), s[i].first),
                           "%s registers %d..%d overlap fields.%s.%s (%d..%d)",
                           regmap_file_table_names[s[i].table],
                           s[i].first,
                           s[i].last,
                           regmap_file_role_names[s[j].role],
                           s[j].key,
                           s[j].first,
                           s[j].last);
        }
    }
    return ERROR_OK;
}

/* A plain file stem: the map's id is its file name. */
static int rf_stem_ok(const char *s)
{
    if (!s[0] || s[0] == '.') {
        return 0;
    }
    for (; *s; s++) {
        int ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                 *s == '.' || *s == '_' || *s == '-';

        if (!ok) {
            return 0;
        }
    }
    return 1;
}

static int rf_check(struct regmap_file *m, struct error_detail *ed)
{
    char v[REGMAP_FILE_ID_MAX + 8];

    if (!rf_stem_ok(m->id)) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "id: %s: must be a file name stem (letters, digits, '.', '_', '-'; not "
                          "starting with '.')",
                          rf_str(v, sizeof(v), m->id));
    }
    for (int r = 0; r < REGMAP_FILE_ROLES; r++) {
        if (!(rf_kinds[m->kind].required & RF_BIT(r)) && !m->present[r]) {
            continue; /* an optional field the map leaves out, or another kind's */
        }
        m->present[r] = 1;
        if (rf_check_field(m, r, ed)) {
            return ERROR_INVALID;
        }
        if (regmap_file_words(m->field[r].type) > m->max_read) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "max_read: %d: fields.%s needs %d registers in one read",
                              m->max_read,
                              regmap_file_role_names[r],
                              regmap_file_words(m->field[r].type));
        }
    }
    return rf_check_overlap(m, ed);
}

_Static_assert(sizeof(rf_kinds) / sizeof(rf_kinds[0]) == 2, "rf_check_roles names the other kind");

/* A role of the other kind of map: refused by name, where the table walk
 * would only call it an unknown key. */
static int rf_check_roles(const cJSON *root, int kind, struct error_detail *ed)
{
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(root, "fields");
    const cJSON *item;
    char desc[80];

    if (!cJSON_IsObject(fields)) {
        return ERROR_OK; /* the table walk says what is wrong */
    }
    cJSON_ArrayForEach(item, fields)
    {
        for (int r = 0; r < REGMAP_FILE_ROLES; r++) {
            if (!item->string || strcmp(item->string, regmap_file_role_names[r]) != 0 ||
                (rf_kinds[kind].roles & RF_BIT(r))) {
                continue;
            }
            jsonfields_describe(item, desc, sizeof(desc));
            return error_setf(ed,
                              ERROR_INVALID,
                              "fields.%s: %s: a %s field, not allowed in a map of kind \"%s\" "
                              "(its fields: %s)",
                              item->string,
                              desc,
                              regmap_file_kind_names[1 - kind],
                              regmap_file_kind_names[kind],
                              rf_kinds[kind].list);
        }
    }
    return ERROR_OK;
}

/* ---- entry points ------------------------------------------------------ */

int regmap_file_parse(const char *text,
                      size_t len,
                      const char *name,
                      struct regmap_file **out,
                      struct error_detail *ed)
{
    struct jsonfields_ctx ctx = {0};
    struct regmap_file *m = ALLOC_NEW(struct regmap_file);
    cJSON *root = NULL;
    int rc;

    *out = NULL;
    for (int r = 0; r < REGMAP_FILE_ROLES; r++) {
        m->field[r].readback = -1; /* custom fields get no table default */
    }
    rc = jsonfields_load(text, len, REGMAP_FILE_MAX_BYTES, &root, ed);
    if (rc) {
        goto out;
    }
    ctx.allow_unknown = 1;
    rc = jsonfields_parse(rf_kind_only, root, m, "", &ctx, ed);
    if (rc) {
        goto out;
    }
    ctx.allow_unknown = 0;
    rc = rf_check_roles(root, m->kind, ed);
    if (rc) {
        goto out;
    }
    rc = jsonfields_parse(rf_kinds[m->kind].root, root, m, "", &ctx, ed);
    if (rc) {
        goto out;
    }
    rc = rf_check(m, ed);
out:
    if (rc) {
        regmap_file_free(m);
        m = NULL;
        if (name) {
            error_prefix(ed, name);
        }
    }
    cJSON_Delete(root);
    *out = m;
    return rc;
}

/* The file name without directory and ".json", or NULL when it has no
 * ".json" suffix (then the id is not checked against it). */
static char *rf_stem(const char *path)
{
    const char *base = strrchr(path, '/');
    size_t len;

    base = base ? base + 1 : path;
    len = strlen(base);
    if (len <= 5 || strcmp(base + len - 5, ".json") != 0) {
        return NULL;
    }
    return alloc_printf("%.*s", (int)(len - 5), base);
}

int regmap_file_load(const char *path, struct regmap_file **out, struct error_detail *ed)
{
    char *text = NULL;
    char *stem = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = fileio_read_all(path, REGMAP_FILE_MAX_BYTES, &text, &len, ed);
    if (rc) {
        goto out;
    }
    rc = regmap_file_parse(text, len, path, out, ed);
    if (rc) {
        goto out;
    }
    stem = rf_stem(path);
    if (stem && strcmp(stem, (*out)->id) != 0) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "%s: id: \"%s\": must match the file name (\"%s\"): stations name maps "
                        "by file",
                        path,
                        (*out)->id,
                        stem);
        regmap_file_free(*out);
        *out = NULL;
    }
out:
    free(stem);
    free(text);
    return rc;
}

int regmap_file_find(const char *dir,
                     const char *name,
                     struct regmap_file **out,
                     struct error_detail *ed)
{
    char *path;
    int rc;

    *out = NULL;
    if (!rf_stem_ok(name) || strlen(name) >= REGMAP_FILE_ID_MAX) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "map \"%.64s\": must be a file name stem of at most %d characters "
                          "(letters, digits, '.', '_', '-'; not starting with '.')",
                          name,
                          REGMAP_FILE_ID_MAX - 1);
    }
    path = alloc_printf("%s/%s.json", dir, name);
    rc = regmap_file_load(path, out, ed);
    free(path);
    return rc;
}

int regmap_file_check_device(const struct regmap_file *map,
                             const struct station_device *dev,
                             struct error_detail *ed)
{
    int want = dev->kind == STATION_DEVICE_METER       ? REGMAP_FILE_KIND_METER
               : dev->kind == STATION_DEVICE_CONNECTOR ? REGMAP_FILE_KIND_CONNECTOR
                                                       : -1;

    if (want < 0) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "device \"%s\": map \"%s\": a %s device is not read through a "
                          "register map",
                          dev->id,
                          map->id,
                          station_device_kind_names[dev->kind]);
    }
    if (map->kind != want) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "device \"%s\": map \"%s\": kind \"%s\": a %s device needs a map of "
                          "kind \"%s\"",
                          dev->id,
                          map->id,
                          regmap_file_kind_names[map->kind],
                          station_device_kind_names[dev->kind],
                          regmap_file_kind_names[want]);
    }
    return ERROR_OK;
}

char *regmap_file_dump(const struct regmap_file *map)
{
    struct jsonfields_ctx ctx = {0};
    cJSON *root = jsonfields_dump(rf_kinds[map->kind].root, map, &ctx);
    char *text = cJSON_Print(root);
    char *copy;

    if (!text) {
        fprintf(stderr, "flexd: regmap_file: cJSON_Print failed, aborting\n");
        abort();
    }
    copy = alloc_strdup(text);
    cJSON_free(text);
    cJSON_Delete(root);
    return copy;
}

void regmap_file_free(struct regmap_file *map)
{
    free(map);
}
