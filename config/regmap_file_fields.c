/* SPDX-License-Identifier: MIT */
/*
 * regmap_file_fields.c - the fields of a register map file (regmap_file.c,
 * regmap_file.h): the "mask" and "address" parsers, one jsonfields table
 * per kind of field (status codes, measurements, setpoints, heartbeat,
 * error code), the roles of each kind of map (connector, meter), and the
 * rules of each field on its own: word span, word order, unit per role, a
 * signed meter power, setpoint ranges that encode into the word type,
 * code masks and state rows.
 *
 * Pure functions; any thread.
 */
#include "regmap_file_internal.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RF_REQ JSONFIELDS_REQUIRED
#define RF_F   struct regmap_file_field

_Static_assert(sizeof(enum regmap_file_state) == sizeof(int), "ENUM fields are stored as int");

static const char *const rf_order_names[] = {"big", "little", NULL};
static const char *const rf_access_names[] = {"r", "rw", "w", NULL};
static const char *const rf_mode_names[] = {"counter", "timeout", NULL};

/* ---- the mask: a number or a "0x..." string ---------------------------- */

static int rf_hex(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    size_t n = 0;

    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
        return ERROR_PARSE;
    }
    for (s += 2; *s; s++, n++) {
        int d;

        if (*s >= '0' && *s <= '9') {
            d = *s - '0';
        } else if (*s >= 'a' && *s <= 'f') {
            d = *s - 'a' + 10;
        } else if (*s >= 'A' && *s <= 'F') {
            d = *s - 'A' + 10;
        } else {
            return ERROR_PARSE;
        }
        if (n == 8) {
            return ERROR_PARSE;
        }
        v = (v << 4) | (uint32_t)d;
    }
    *out = v;
    return n ? ERROR_OK : ERROR_PARSE;
}

static int rf_parse_mask(const cJSON *item,
                         void *target,
                         const char *path,
                         void *user,
                         struct error_detail *ed)
{
    uint32_t v = 0;
    int ok = 0;
    char desc[80];

    (void)user;
    if (cJSON_IsNumber(item)) {
        double d = item->valuedouble;

        ok = isfinite(d) && d == floor(d) && d >= 0 && d <= 4294967295.0;
        v = ok ? (uint32_t)d : 0;
    } else if (cJSON_IsString(item) && item->valuestring) {
        ok = rf_hex(item->valuestring, &v) == ERROR_OK;
    }
    if (!ok || v == 0) {
        jsonfields_describe(item, desc, sizeof(desc));
        return error_setf(ed,
                          ERROR_INVALID,
                          "%s: %s: must be a nonzero integer up to 4294967295 or a hex string "
                          "such as \"0x7F00\"",
                          path,
                          desc);
    }
    *(uint32_t *)target = v;
    return ERROR_OK;
}

/* Register addresses: 0..65535 as a number, or a "0x..." string because
 * vendors print their maps in hex. */
static int rf_parse_address(const cJSON *item,
                            void *target,
                            const char *path,
                            void *user,
                            struct error_detail *ed)
{
    uint32_t v = 0;
    int ok = 0;
    char desc[80];

    (void)user;
    if (cJSON_IsNumber(item)) {
        double d = item->valuedouble;

        ok = isfinite(d) && d == floor(d) && d >= 0 && d <= 65535;
        v = ok ? (uint32_t)d : 0;
    } else if (cJSON_IsString(item) && item->valuestring) {
        ok = rf_hex(item->valuestring, &v) == ERROR_OK && v <= 65535;
    }
    if (!ok) {
        jsonfields_describe(item, desc, sizeof(desc));
        return error_setf(ed,
                          ERROR_INVALID,
                          "%s: %s: must be a register address in [0, 65535], as an integer or a "
                          "hex string such as \"0x400C\"",
                          path,
                          desc);
    }
    *(int *)target = (int)v;
    return ERROR_OK;
}

static cJSON *rf_dump_address(const void *target, void *user)
{
    (void)user;
    return cJSON_CreateNumber(*(const int *)target);
}

static cJSON *rf_dump_mask(const void *target, void *user)
{
    uint32_t v = *(const uint32_t *)target;
    char buf[16];

    (void)user;
    if (!v) {
        return NULL;
    }
    (void)snprintf(buf, sizeof(buf), v > 0xFFFFu ? "0x%08lX" : "0x%04lX", (unsigned long)v);
    return cJSON_CreateString(buf);
}

/* ---- tables ------------------------------------------------------------ */

static const struct jsonfields_field rf_code_row[] = {
    JSONFIELDS_F_NUMBER("raw",
                        struct regmap_file_code,
                        raw,
                        -2147483648.0,
                        4294967295.0,
                        RF_REQ,
                        0),
    JSONFIELDS_F_ENUM("state", struct regmap_file_code, state, regmap_file_state_names, RF_REQ, 0),
    JSONFIELDS_F_END,
};

/* Where a field lives: every table starts with these rows. */
#define RF_WHERE                                                                                  \
    JSONFIELDS_F_ENUM("table", RF_F, table, regmap_file_table_names, RF_REQ, 0),                  \
        JSONFIELDS_F_CUSTOM("address", RF_F, address, rf_parse_address, rf_dump_address, RF_REQ), \
        JSONFIELDS_F_ENUM("type", RF_F, type, regmap_file_type_names, RF_REQ, 0),                 \
        JSONFIELDS_F_ENUM("order", RF_F, order, rf_order_names, 0, REGMAP_FILE_BIG)

#define RF_SCALE                                                                            \
    JSONFIELDS_F_NUMBER("scale", RF_F, scale, JSONFIELDS_LOWEST, JSONFIELDS_HIGHEST, 0, 1), \
        JSONFIELDS_F_NUMBER("offset", RF_F, offset, JSONFIELDS_LOWEST, JSONFIELDS_HIGHEST, 0, 0)

#define RF_READ_ACCESS \
    JSONFIELDS_F_ENUM("access", RF_F, access, rf_access_names, 0, REGMAP_FILE_READ)
#define RF_MASK JSONFIELDS_F_CUSTOM("mask", RF_F, mask, rf_parse_mask, rf_dump_mask, 0)
#define RF_NOTE JSONFIELDS_F_STRING("note", RF_F, note, 0, 0, "")

/* Setpoints: writable, with the range flexd may write. */
#define RF_SETPOINT                                                                              \
    JSONFIELDS_F_ENUM("access", RF_F, access, rf_access_names, RF_REQ, 0),                       \
        JSONFIELDS_F_NUMBER("min", RF_F, min, JSONFIELDS_LOWEST, JSONFIELDS_HIGHEST, RF_REQ, 0), \
        JSONFIELDS_F_NUMBER("max", RF_F, max, JSONFIELDS_LOWEST, JSONFIELDS_HIGHEST, RF_REQ, 0), \
        JSONFIELDS_F_CUSTOM("readback", RF_F, readback, rf_parse_address, rf_dump_address, 0)

/* status (states required) and plug (states optional). */
#define RF_STATES_TABLE(name, fl)                   \
    static const struct jsonfields_field name[] = { \
        RF_WHERE,                                   \
        RF_READ_ACCESS,                             \
        RF_MASK,                                    \
        JSONFIELDS_F_ARRAY("states",                \
                           RF_F,                    \
                           states,                  \
                           n_states,                \
                           struct regmap_file_code, \
                           rf_code_row,             \
                           REGMAP_FILE_STATES_MAX,  \
                           NULL,                    \
                           fl),                     \
        JSONFIELDS_F_ENUM("unmapped",               \
                          RF_F,                     \
                          unmapped,                 \
                          regmap_file_state_names,  \
                          0,                        \
                          REGMAP_FILE_FAULT),       \
        RF_NOTE,                                    \
        JSONFIELDS_F_END,                           \
    }

RF_STATES_TABLE(rf_status, RF_REQ);
RF_STATES_TABLE(rf_plug, 0);

static const struct jsonfields_field rf_error[] = {
    RF_WHERE,
    RF_READ_ACCESS,
    RF_MASK,
    RF_NOTE,
    JSONFIELDS_F_END,
};

static const struct jsonfields_field rf_measure[] = {
    RF_WHERE,
    RF_READ_ACCESS,
    RF_SCALE,
    JSONFIELDS_F_ENUM("unit", RF_F, unit, regmap_file_unit_names, RF_REQ, 0),
    RF_NOTE,
    JSONFIELDS_F_END,
};

static const struct jsonfields_field rf_limit[] = {
    RF_WHERE,
    RF_SETPOINT,
    RF_SCALE,
    JSONFIELDS_F_ENUM("unit", RF_F, unit, regmap_file_unit_names, RF_REQ, 0),
    RF_NOTE,
    JSONFIELDS_F_END,
};

static const struct jsonfields_field rf_heartbeat[] = {
    RF_WHERE,
    RF_SETPOINT,
    RF_SCALE,
    JSONFIELDS_F_ENUM("mode", RF_F, mode, rf_mode_names, RF_REQ, 0),
    RF_NOTE,
    JSONFIELDS_F_END,
};

#define RF_ROLE(n, r, t) JSONFIELDS_F_OBJECT(n, struct regmap_file, field[r], t, RF_REQ)
#define RF_OPTIONAL_ROLE(n, r, t) \
    JSONFIELDS_F_OPTIONAL(n, struct regmap_file, field[r], present[r], t)

static const struct jsonfields_field rf_fields[] = {
    RF_ROLE("status", REGMAP_FILE_STATUS, rf_status),
    RF_ROLE("power", REGMAP_FILE_POWER, rf_measure),
    RF_ROLE("session_energy", REGMAP_FILE_SESSION_ENERGY, rf_measure),
    RF_ROLE("limit", REGMAP_FILE_LIMIT, rf_limit),
    RF_ROLE("heartbeat", REGMAP_FILE_HEARTBEAT, rf_heartbeat),
    RF_OPTIONAL_ROLE("plug", REGMAP_FILE_PLUG, rf_plug),
    RF_OPTIONAL_ROLE("voltage", REGMAP_FILE_VOLTAGE, rf_measure),
    RF_OPTIONAL_ROLE("error_code", REGMAP_FILE_ERROR_CODE, rf_error),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field rf_meter_fields[] = {
    RF_ROLE("power", REGMAP_FILE_POWER, rf_measure),
    RF_OPTIONAL_ROLE("energy_import", REGMAP_FILE_ENERGY_IMPORT, rf_measure),
    RF_OPTIONAL_ROLE("energy_export", REGMAP_FILE_ENERGY_EXPORT, rf_measure),
    RF_OPTIONAL_ROLE("voltage", REGMAP_FILE_VOLTAGE, rf_measure),
    JSONFIELDS_F_END,
};

#define RF_KIND                               \
    JSONFIELDS_F_ENUM("kind",                 \
                      struct regmap_file,     \
                      kind,                   \
                      regmap_file_kind_names, \
                      0,                      \
                      REGMAP_FILE_KIND_CONNECTOR)

/* The top level of a map whose fields are described by fields_table. */
#define RF_ROOT_TABLE(name, fields_table)                                           \
    static const struct jsonfields_field name[] = {                                 \
        JSONFIELDS_F_STRING("id", struct regmap_file, id, 1, RF_REQ, NULL),         \
        RF_KIND,                                                                    \
        JSONFIELDS_F_STRING("vendor", struct regmap_file, vendor, 1, RF_REQ, NULL), \
        JSONFIELDS_F_STRING("model", struct regmap_file, model, 1, RF_REQ, NULL),   \
        JSONFIELDS_F_STRING("source", struct regmap_file, source, 1, RF_REQ, NULL), \
        JSONFIELDS_F_STRING("note", struct regmap_file, note, 0, 0, ""),            \
        JSONFIELDS_F_INT("max_gap",                                                 \
                         struct regmap_file,                                        \
                         max_gap,                                                   \
                         0,                                                         \
                         REGMAP_FILE_READ_MAX - 2,                                  \
                         0,                                                         \
                         0),                                                        \
        JSONFIELDS_F_INT("max_read",                                                \
                         struct regmap_file,                                        \
                         max_read,                                                  \
                         1,                                                         \
                         REGMAP_FILE_READ_MAX,                                      \
                         0,                                                         \
                         REGMAP_FILE_READ_MAX),                                     \
        JSONFIELDS_F_GROUP("fields", fields_table, RF_REQ),                         \
        JSONFIELDS_F_END,                                                           \
    }

RF_ROOT_TABLE(rf_root, rf_fields);
RF_ROOT_TABLE(rf_meter_root, rf_meter_fields);

/* Read first, with every other key let through, to pick the root table. */
const struct jsonfields_field rf_kind_only[] = {
    RF_KIND,
    JSONFIELDS_F_END,
};

/* The roles of each kind of map, indexed by enum regmap_file_kind. */
const struct rf_kind rf_kinds[] = {
    [REGMAP_FILE_KIND_CONNECTOR] = {rf_root,
                                    RF_BIT(REGMAP_FILE_ERROR_CODE + 1) - 1,
                                    RF_BIT(REGMAP_FILE_HEARTBEAT + 1) - 1,
                                    "status, power, session_energy, limit, heartbeat, plug, "
                                    "voltage, error_code"},
    [REGMAP_FILE_KIND_METER] = {rf_meter_root,
                                RF_BIT(REGMAP_FILE_POWER) | RF_BIT(REGMAP_FILE_VOLTAGE) |
                                    RF_BIT(REGMAP_FILE_ENERGY_IMPORT) |
                                    RF_BIT(REGMAP_FILE_ENERGY_EXPORT),
                                RF_BIT(REGMAP_FILE_POWER),
                                "power, energy_import, energy_export, voltage"},
};

/* ---- rules ------------------------------------------------------------- */

int rf_fail(struct error_detail *ed,
            int role,
            const char *key,
            const char *value,
            const char *fmt,
            ...)
{
    char rule[ERROR_DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(rule, sizeof(rule), fmt, ap);
    va_end(ap);
    return error_setf(ed,
                      ERROR_INVALID,
                      "fields.%s%s%s: %s: %s",
                      regmap_file_role_names[role],
                      key[0] ? "." : "",
                      key,
                      value,
                      rule);
}

const char *rf_num(char *buf, size_t n, double v)
{
    (void)snprintf(buf, n, "%.10g", v);
    return buf;
}

const char *rf_str(char *buf, size_t n, const char *s)
{
    (void)snprintf(buf, n, "\"%s\"", s);
    return buf;
}

int rf_is_code(int role)
{
    return role == REGMAP_FILE_STATUS || role == REGMAP_FILE_PLUG || role == REGMAP_FILE_ERROR_CODE;
}

static int rf_is_setpoint(int role)
{
    return role == REGMAP_FILE_LIMIT || role == REGMAP_FILE_HEARTBEAT;
}

/* Range of the raw integer a type holds. */
static void rf_type_range(int type, double *lo, double *hi)
{
    static const double range[][2] = {
        [REGMAP_FILE_INT16] = {-32768.0, 32767.0},
        [REGMAP_FILE_UINT16] = {0.0, 65535.0},
        [REGMAP_FILE_INT32] = {-2147483648.0, 2147483647.0},
        [REGMAP_FILE_UINT32] = {0.0, 4294967295.0},
        [REGMAP_FILE_FLOAT32] = {-FLT_MAX, FLT_MAX},
    };

    *lo = range[type][0];
    *hi = range[type][1];
}

static int rf_trailing_zeros(uint32_t v)
{
    int n = 0;

    while (v && !(v & 1u)) {
        v >>= 1;
        n++;
    }
    return n;
}

static int rf_check_unit(const struct regmap_file_field *f, int role, struct error_detail *ed)
{
    static const struct {
        int role;
        unsigned units; /* bit per enum regmap_file_unit */
        const char *rule;
    } allowed[] = {
        {REGMAP_FILE_POWER, 1u << REGMAP_FILE_UNIT_W | 1u << REGMAP_FILE_UNIT_KW, "W or kW"},
        {REGMAP_FILE_SESSION_ENERGY,
         1u << REGMAP_FILE_UNIT_WH | 1u << REGMAP_FILE_UNIT_KWH,
         "Wh or kWh"},
        {REGMAP_FILE_VOLTAGE, 1u << REGMAP_FILE_UNIT_V, "V"},
        {REGMAP_FILE_ENERGY_IMPORT,
         1u << REGMAP_FILE_UNIT_WH | 1u << REGMAP_FILE_UNIT_KWH,
         "Wh or kWh"},
        {REGMAP_FILE_ENERGY_EXPORT,
         1u << REGMAP_FILE_UNIT_WH | 1u << REGMAP_FILE_UNIT_KWH,
         "Wh or kWh"},
        {REGMAP_FILE_LIMIT,
         1u << REGMAP_FILE_UNIT_A | 1u << REGMAP_FILE_UNIT_W | 1u << REGMAP_FILE_UNIT_KW,
         "A (a current limit), W or kW (a power limit)"},
    };

    char v[40];

    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        if (allowed[i].role == role && !(allowed[i].units & (1u << f->unit))) {
            return rf_fail(ed,
                           role,
                           "unit",
                           rf_str(v, sizeof(v), regmap_file_unit_names[f->unit]),
                           "must be %s",
                           allowed[i].rule);
        }
    }
    return ERROR_OK;
}

/* Code fields: mask width and the state rows. */
static int rf_check_codes(const struct regmap_file_field *f, int role, struct error_detail *ed)
{
    char key[48];
    char v[40];
    double lo;
    double hi;

    if (f->type == REGMAP_FILE_FLOAT32) {
        return rf_fail(ed, role, "type", "\"float32\"", "a code field must have an integer type");
    }
    if (f->mask > 0xFFFFu && regmap_file_words(f->type) == 1) {
        (void)snprintf(v, sizeof(v), "\"0x%lX\"", (unsigned long)f->mask);
        return rf_fail(ed,
                       role,
                       "mask",
                       v,
                       "must fit the 16-bit %s",
                       regmap_file_type_names[f->type]);
    }
    rf_type_range(f->type, &lo, &hi);
    if (f->mask) {
        lo = 0;
        hi = (double)(f->mask >> rf_trailing_zeros(f->mask));
    }
    if (role == REGMAP_FILE_STATUS && f->n_states == 0) {
        return rf_fail(ed, role, "states", "array of 0 values", "must map at least one code");
    }
    for (int i = 0; i < f->n_states; i++) {
        double raw = f->states[i].raw;

        (void)snprintf(key, sizeof(key), "states[%d].raw", i);
        if (raw != floor(raw)) {
            return rf_fail(ed, role, key, rf_num(v, sizeof(v), raw), "must be an integer");
        }
        if (raw < lo || raw > hi) {
            return rf_fail(ed,
                           role,
                           key,
                           rf_num(v, sizeof(v), raw),
                           "must be in [%.10g, %.10g], the codes this %s%s can hold",
                           lo,
                           hi,
                           regmap_file_type_names[f->type],
                           f->mask ? " under its mask" : "");
        }
        for (int j = 0; j < i; j++) {
            if (f->states[j].raw == raw) {
                return rf_fail(ed,
                               role,
                               key,
                               rf_num(v, sizeof(v), raw),
                               "duplicates states[%d]",
                               j);
            }
        }
    }
    return ERROR_OK;
}

/* One end of a setpoint range must encode into the word type. */
static int rf_check_end(const struct regmap_file_field *f,
                        int role,
                        const char *key,
                        double value,
                        struct error_detail *ed)
{
    double raw = (value - f->offset) / f->scale;
    char v[40];
    double lo;
    double hi;

    rf_type_range(f->type, &lo, &hi);
    if (f->type != REGMAP_FILE_FLOAT32) {
        raw = round(raw);
    }
    if (!isfinite(raw) || raw < lo || raw > hi) {
        return rf_fail(ed,
                       role,
                       key,
                       rf_num(v, sizeof(v), value),
                       "is raw %.10g after scale and offset, outside the %s range [%.10g, %.10g]",
                       raw,
                       regmap_file_type_names[f->type],
                       lo,
                       hi);
    }
    return ERROR_OK;
}

static int rf_check_setpoint(struct regmap_file_field *f, int role, struct error_detail *ed)
{
    char v[40];
    int words = regmap_file_words(f->type);

    if (f->access == REGMAP_FILE_READ) {
        return rf_fail(ed,
                       role,
                       "access",
                       "\"r\"",
                       "a setpoint must be writable (\"rw\" or \"w\")");
    }
    if (f->table != REGMAP_FILE_HOLDING) {
        return rf_fail(ed,
                       role,
                       "table",
                       "\"input\"",
                       "a setpoint must be a holding register: input registers are read-only");
    }
    if (role == REGMAP_FILE_HEARTBEAT && f->mode == REGMAP_FILE_HB_COUNTER &&
        f->type == REGMAP_FILE_FLOAT32) {
        return rf_fail(ed,
                       role,
                       "type",
                       "\"float32\"",
                       "a counter heartbeat must have an integer type");
    }
    if (f->max < f->min) {
        return rf_fail(ed,
                       role,
                       "max",
                       rf_num(v, sizeof(v), f->max),
                       "must not be below min (%.10g)",
                       f->min);
    }
    if (rf_check_end(f, role, "min", f->min, ed) || rf_check_end(f, role, "max", f->max, ed)) {
        return ERROR_INVALID;
    }
    if (f->readback < 0 && f->access == REGMAP_FILE_WRITE) {
        return rf_fail(ed,
                       role,
                       "readback",
                       "missing",
                       "a write-only setpoint needs a register to read it back from");
    }
    if (f->readback < 0) {
        f->readback = f->address;
    }
    if (f->readback + words - 1 > 65535) {
        return rf_fail(ed,
                       role,
                       "readback",
                       rf_num(v, sizeof(v), f->readback),
                       "a %s needs %d registers, so it must be at most %d",
                       regmap_file_type_names[f->type],
                       words,
                       65536 - words);
    }
    return ERROR_OK;
}

int rf_check_field(struct regmap_file *m, int role, struct error_detail *ed)
{
    struct regmap_file_field *f = &m->field[role];
    int words = regmap_file_words(f->type);
    char v[40];

    if (f->address + words - 1 > 65535) {
        return rf_fail(ed,
                       role,
                       "address",
                       rf_num(v, sizeof(v), f->address),
                       "a %s needs %d registers, so the address must be at most %d",
                       regmap_file_type_names[f->type],
                       words,
                       65536 - words);
    }
    if (words == 1 && f->order == REGMAP_FILE_LITTLE) {
        return rf_fail(ed,
                       role,
                       "order",
                       "\"little\"",
                       "word order applies to 32-bit types only, and this field is a %s",
                       regmap_file_type_names[f->type]);
    }
    if (rf_is_code(role)) {
        /* codes are compared raw: they carry no scale, offset or unit */
        f->scale = 1;
        f->offset = 0;
        f->unit = REGMAP_FILE_UNIT_NONE;
    }
    if (role == REGMAP_FILE_HEARTBEAT) {
        f->unit = f->mode == REGMAP_FILE_HB_TIMEOUT ? REGMAP_FILE_UNIT_S : REGMAP_FILE_UNIT_NONE;
    }
    if (f->scale == 0) {
        return rf_fail(ed, role, "scale", "0", "must not be 0 (value = raw * scale + offset)");
    }
    if (rf_check_unit(f, role, ed)) {
        return ERROR_INVALID;
    }
    if (m->kind == REGMAP_FILE_KIND_METER && role == REGMAP_FILE_POWER &&
        (f->type == REGMAP_FILE_UINT16 || f->type == REGMAP_FILE_UINT32)) {
        return rf_fail(ed,
                       role,
                       "type",
                       rf_str(v, sizeof(v), regmap_file_type_names[f->type]),
                       "a meter's net power must have a signed type (int16, int32 or float32): "
                       "export reads negative");
    }
    if (rf_is_setpoint(role)) {
        return rf_check_setpoint(f, role, ed);
    }
    if (f->access == REGMAP_FILE_WRITE) {
        return rf_fail(ed,
                       role,
                       "access",
                       "\"w\"",
                       "flexd reads this field, so it must be readable (\"r\" or \"rw\")");
    }
    f->readback = f->address;
    return rf_is_code(role) ? rf_check_codes(f, role, ed) : ERROR_OK;
}
