/* SPDX-License-Identifier: MIT */
/*
 * regmap.c - register maps on the wire: the word codec, read planning,
 * reads of a connector or a meter and verified writes through libmodbus.
 * The codec and
 * the planner are pure; the transfer functions borrow the caller's
 * modbus_t and run in the caller's thread. No state lives here.
 *
 * Words: libmodbus returns each register as a host uint16_t (Modbus sends
 * it big-endian), so only the order of the two words of a 32-bit value
 * varies between vendors (map "order"). Signed values are rebuilt from the
 * unsigned pattern arithmetically, float32 through memcpy, so no conversion
 * depends on implementation-defined behaviour.
 */
#include "regmap.h"

#include "../common/logger.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(float) == sizeof(uint32_t), "float32 registers need a 32-bit float");

#define RM_TWO16 65536.0
#define RM_TWO32 4294967296.0

static int rm_trailing_zeros(uint32_t v)
{
    int n = 0;

    while (v && !(v & 1u)) {
        v >>= 1;
        n++;
    }
    return n;
}

static const char *rm_unit(const struct regmap_file_field *f)
{
    return f->unit == REGMAP_FILE_UNIT_NONE ? "" : regmap_file_unit_names[f->unit];
}

/* ---- codec ------------------------------------------------------------- */

/* The raw value of f in regs (masked codes, signed/unsigned integers,
 * float32). */
static int rm_raw(const struct regmap_file_field *f,
                  const uint16_t *regs,
                  int n,
                  double *raw,
                  struct error_detail *ed)
{
    int words = regmap_file_words(f->type);
    uint32_t u;
    float fl;

    if (n < words) {
        return error_setf(ed,
                          ERROR_RANGE,
                          "%d register(s): a %s needs %d",
                          n,
                          regmap_file_type_names[f->type],
                          words);
    }
    if (words == 1) {
        u = regs[0];
    } else if (f->order == REGMAP_FILE_BIG) {
        u = (uint32_t)regs[0] << 16 | regs[1];
    } else {
        u = (uint32_t)regs[1] << 16 | regs[0];
    }
    if (f->mask) {
        *raw = (double)((u & f->mask) >> rm_trailing_zeros(f->mask));
        return ERROR_OK;
    }
    switch (f->type) {
    case REGMAP_FILE_INT16:
        *raw = u >= 0x8000u ? (double)u - RM_TWO16 : (double)u;
        break;
    case REGMAP_FILE_INT32:
        *raw = u >= 0x80000000u ? (double)u - RM_TWO32 : (double)u;
        break;
    case REGMAP_FILE_FLOAT32:
        memcpy(&fl, &u, sizeof(fl));
        if (!isfinite(fl)) {
            return error_setf(ed,
                              ERROR_RANGE,
                              "float32 0x%08lX: not a finite number (the device may mean "
                              "\"not available\")",
                              (unsigned long)u);
        }
        *raw = fl;
        break;
    default: /* uint16, uint32 */
        *raw = (double)u;
        break;
    }
    return ERROR_OK;
}

int regmap_decode(const struct regmap_file_field *f,
                  const uint16_t *regs,
                  int n,
                  double *value,
                  struct error_detail *ed)
{
    double raw = 0;
    int rc = rm_raw(f, regs, n, &raw, ed);

    if (rc == ERROR_OK) {
        *value = raw * f->scale + f->offset;
    }
    return rc;
}

/* Range of the raw integer a type holds. */
static void rm_type_range(int type, double *lo, double *hi)
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

/* The 32-bit pattern of raw for f's type; raw is in range. */
static uint32_t rm_pattern(const struct regmap_file_field *f, double raw)
{
    uint32_t u;
    float fl;

    switch (f->type) {
    case REGMAP_FILE_FLOAT32:
        fl = (float)raw;
        memcpy(&u, &fl, sizeof(u));
        return u;
    case REGMAP_FILE_INT16:
        return (uint32_t)(raw < 0 ? raw + RM_TWO16 : raw);
    case REGMAP_FILE_INT32:
        return (uint32_t)(raw < 0 ? raw + RM_TWO32 : raw);
    default:
        return (uint32_t)raw;
    }
}

int regmap_encode(const struct regmap_file_field *f,
                  double value,
                  uint16_t regs[2],
                  struct error_detail *ed)
{
    double raw;
    double lo;
    double hi;
    uint32_t u;

    if (!isfinite(value)) {
        return error_setf(ed, ERROR_RANGE, "%g: must be a finite number", value);
    }
    if (f->access != REGMAP_FILE_READ && (value < f->min || value > f->max)) {
        return error_setf(ed,
                          ERROR_RANGE,
                          "%.10g %s: outside the setpoint range [%.10g, %.10g] %s",
                          value,
                          rm_unit(f),
                          f->min,
                          f->max,
                          rm_unit(f));
    }
    raw = (value - f->offset) / f->scale;
    if (f->type != REGMAP_FILE_FLOAT32) {
        raw = round(raw); /* to the nearest count, halves away from zero */
    }
    rm_type_range(f->type, &lo, &hi);
    if (!isfinite(raw) || raw < lo || raw > hi) {
        return error_setf(ed,
                          ERROR_RANGE,
                          "%.10g %s: raw value %.10g does not fit a %s [%.10g, %.10g]",
                          value,
                          rm_unit(f),
                          raw,
                          regmap_file_type_names[f->type],
                          lo,
                          hi);
    }
    u = rm_pattern(f, raw);
    if (regmap_file_words(f->type) == 1) {
        regs[0] = (uint16_t)u;
    } else if (f->order == REGMAP_FILE_BIG) {
        regs[0] = (uint16_t)(u >> 16);
        regs[1] = (uint16_t)(u & 0xFFFFu);
    } else {
        regs[0] = (uint16_t)(u & 0xFFFFu);
        regs[1] = (uint16_t)(u >> 16);
    }
    return ERROR_OK;
}

int regmap_state(const struct regmap_file_field *f, double code)
{
    for (int i = 0; i < f->n_states; i++) {
        if (f->states[i].raw == code) {
            return f->states[i].state;
        }
    }
    return f->unmapped;
}

/* ---- planning ---------------------------------------------------------- */

void regmap_plan_reads(const struct regmap_file *map, struct regmap_plan *plan)
{
    struct regmap_block span[REGMAP_FILE_ROLES];
    struct regmap_block *cur = NULL;
    int n = 0;

    memset(plan, 0, sizeof(*plan));
    for (int r = 0; r < REGMAP_FILE_ROLES; r++) {
        const struct regmap_file_field *f = &map->field[r];
        struct regmap_block s = {f->table, f->readback, regmap_file_words(f->type)};
        int k = n;

        if (!map->present[r]) {
            continue;
        }
        n++;
        /* insertion sort by (table, address): at most REGMAP_FILE_ROLES spans */
        while (k > 0 && (span[k - 1].table > s.table ||
                         (span[k - 1].table == s.table && span[k - 1].address > s.address))) {
            span[k] = span[k - 1];
            k--;
        }
        span[k] = s;
    }
    /* Greedy from the lowest address: a read that starts at the first
     * uncovered span and takes every later span it can is never worse than
     * any other choice, so the count is minimal. */
    for (int i = 0; i < n; i++) {
        const struct regmap_block *s = &span[i];
        int end = s->address + s->count;

        if (cur && cur->table == s->table &&
            s->address - (cur->address + cur->count) <= map->max_gap &&
            end - cur->address <= map->max_read) {
            if (end > cur->address + cur->count) {
                cur->count = end - cur->address;
            }
            continue;
        }
        cur = &plan->block[plan->n_blocks++];
        *cur = *s;
    }
}

/* ---- transfer ---------------------------------------------------------- */

static void rm_clear(struct regmap_reading *out)
{
    for (int r = 0; r < REGMAP_FILE_ROLES; r++) {
        out->present[r] = 0;
        out->value[r] = NAN;
    }
    out->state = REGMAP_FILE_OFFLINE;
    out->plug_state = -1;
    out->power_kw = NAN;
    out->session_energy_kwh = NAN;
}

/* A failed libmodbus call: ERROR_IO with the library's text; errno is left
 * as libmodbus set it. got < 0 means the call failed, else it was short. */
static int rm_modbus_fail(struct error_detail *ed,
                          const struct regmap_file *map,
                          const char *what,
                          int table,
                          int address,
                          int count,
                          int got)
{
    int err = errno;
    int exc = err - MODBUS_ENOBASE;
    char why[96];

    if (got >= 0) {
        (void)snprintf(why, sizeof(why), "short reply (%d of %d registers)", got, count);
    } else if (exc >= MODBUS_EXCEPTION_ILLEGAL_FUNCTION && exc < MODBUS_EXCEPTION_MAX) {
        (void)snprintf(why, sizeof(why), "%s (Modbus exception %d)", modbus_strerror(err), exc);
    } else {
        (void)snprintf(why, sizeof(why), "%s", modbus_strerror(err));
    }
    (void)error_setf(ed,
                     ERROR_IO,
                     "%s: %s %s registers %d..%d: %s",
                     map->id,
                     what,
                     regmap_file_table_names[table],
                     address,
                     address + count - 1,
                     why);
    LOGD("regmap", "%s", ed ? ed->text : why);
    errno = err;
    return ERROR_IO;
}

static int rm_read_block(modbus_t *mb,
                         const struct regmap_file *map,
                         const struct regmap_block *b,
                         uint16_t *buf,
                         struct error_detail *ed)
{
    int got;

    if (b->table == REGMAP_FILE_HOLDING) {
        got = modbus_read_registers(mb, b->address, b->count, buf);
    } else {
        got = modbus_read_input_registers(mb, b->address, b->count, buf);
    }
    if (got != b->count) {
        return rm_modbus_fail(ed, map, "read", b->table, b->address, b->count, got);
    }
    return ERROR_OK;
}

/* "<map>: <role>" in front of a codec message. */
static int rm_prefix(struct error_detail *ed, const struct regmap_file *map, int role, int rc)
{
    char prefix[REGMAP_FILE_ID_MAX + 32];

    (void)snprintf(prefix, sizeof(prefix), "%s: %s", map->id, regmap_file_role_names[role]);
    error_prefix(ed, prefix);
    return rc;
}

/* Decode every field whose read register lies in block b (read into buf). */
static int rm_decode_block(const struct regmap_file *map,
                           const struct regmap_block *b,
                           const uint16_t *buf,
                           struct regmap_reading *out,
                           struct error_detail *ed)
{
    for (int r = 0; r < REGMAP_FILE_ROLES; r++) {
        const struct regmap_file_field *f = &map->field[r];
        int words = regmap_file_words(f->type);
        int at = f->readback - b->address;
        int rc;

        if (!map->present[r] || f->table != b->table || at < 0 || at + words > b->count) {
            continue;
        }
        rc = regmap_decode(f, buf + at, words, &out->value[r], ed);
        if (rc) {
            return rm_prefix(ed, map, r, rc);
        }
        out->present[r] = 1;
    }
    return ERROR_OK;
}

static double rm_kilo(const struct regmap_file_field *f, double v)
{
    return f->unit == REGMAP_FILE_UNIT_W || f->unit == REGMAP_FILE_UNIT_WH ? v / 1000.0 : v;
}

/* Every present field of map into out->value[] in the planned reads; on
 * error nothing is present. */
static int rm_read_fields(modbus_t *mb,
                          const struct regmap_file *map,
                          struct regmap_reading *out,
                          struct error_detail *ed)
{
    struct regmap_plan plan;
    uint16_t buf[REGMAP_FILE_READ_MAX];
    int rc = ERROR_OK;

    rm_clear(out);
    regmap_plan_reads(map, &plan);
    for (int i = 0; i < plan.n_blocks && rc == ERROR_OK; i++) {
        rc = rm_read_block(mb, map, &plan.block[i], buf, ed);
        if (rc == ERROR_OK) {
            rc = rm_decode_block(map, &plan.block[i], buf, out, ed);
        }
    }
    if (rc) {
        rm_clear(out);
    }
    return rc;
}

int regmap_read(modbus_t *mb,
                const struct regmap_file *map,
                struct regmap_reading *out,
                struct error_detail *ed)
{
    const struct regmap_file_field *plug = &map->field[REGMAP_FILE_PLUG];
    int rc = rm_read_fields(mb, map, out, ed);

    if (rc) {
        goto out;
    }
    out->state = regmap_state(&map->field[REGMAP_FILE_STATUS], out->value[REGMAP_FILE_STATUS]);
    if (map->present[REGMAP_FILE_PLUG] && plug->n_states > 0) {
        out->plug_state = regmap_state(plug, out->value[REGMAP_FILE_PLUG]);
    }
    out->power_kw = rm_kilo(&map->field[REGMAP_FILE_POWER], out->value[REGMAP_FILE_POWER]);
    out->session_energy_kwh =
        rm_kilo(&map->field[REGMAP_FILE_SESSION_ENERGY], out->value[REGMAP_FILE_SESSION_ENERGY]);
out:
    return rc;
}

/* value[role] in kW or kWh when the map has it, else NAN. */
static double
rm_meter_value(const struct regmap_file *map, const struct regmap_reading *rr, int role)
{
    return rr->present[role] ? rm_kilo(&map->field[role], rr->value[role]) : NAN;
}

int regmap_read_meter(modbus_t *mb,
                      const struct regmap_file *map,
                      struct regmap_meter_reading *out,
                      struct error_detail *ed)
{
    static const int counters[] = {REGMAP_FILE_ENERGY_IMPORT, REGMAP_FILE_ENERGY_EXPORT};
    struct regmap_reading rr;
    int rc;

    out->power_kw = out->import_kwh = out->export_kwh = out->voltage_v = NAN;
    if (map->kind != REGMAP_FILE_KIND_METER) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "%s: a map of kind \"%s\", not a meter map",
                          map->id,
                          regmap_file_kind_names[map->kind]);
    }
    rc = rm_read_fields(mb, map, &rr, ed);
    if (rc) {
        return rc;
    }
    if (fabs(rm_meter_value(map, &rr, REGMAP_FILE_POWER)) > REGMAP_METER_KW_MAX) {
        (void)error_setf(ed,
                         ERROR_RANGE,
                         "%.10g %s: beyond +-%g kW, not a grid flow (a garbled register?)",
                         rr.value[REGMAP_FILE_POWER],
                         rm_unit(&map->field[REGMAP_FILE_POWER]),
                         REGMAP_METER_KW_MAX);
        return rm_prefix(ed, map, REGMAP_FILE_POWER, ERROR_RANGE);
    }
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        if (rr.present[counters[i]] && rr.value[counters[i]] < 0) {
            (void)error_setf(ed,
                             ERROR_RANGE,
                             "%.10g %s: an energy counter cannot be negative",
                             rr.value[counters[i]],
                             rm_unit(&map->field[counters[i]]));
            return rm_prefix(ed, map, counters[i], ERROR_RANGE);
        }
    }
    out->power_kw = rm_meter_value(map, &rr, REGMAP_FILE_POWER);
    out->import_kwh = rm_meter_value(map, &rr, REGMAP_FILE_ENERGY_IMPORT);
    out->export_kwh = rm_meter_value(map, &rr, REGMAP_FILE_ENERGY_EXPORT);
    out->voltage_v = rr.present[REGMAP_FILE_VOLTAGE] ? rr.value[REGMAP_FILE_VOLTAGE] : NAN;
    return ERROR_OK;
}

/* How far apart two raw values may be and still count as the same: one
 * count for integers, one unit in the last place for float32. */
static double rm_tolerance(const struct regmap_file_field *f, double raw)
{
    float a;

    if (f->type != REGMAP_FILE_FLOAT32) {
        return 1.0;
    }
    a = fabsf((float)raw);
    return (double)nextafterf(a, INFINITY) - (double)a;
}

static int rm_verify(const struct regmap_file *map,
                     int role,
                     const uint16_t *sent,
                     const uint16_t *back,
                     double *applied,
                     struct error_detail *ed)
{
    const struct regmap_file_field *f = &map->field[role];
    int words = regmap_file_words(f->type);
    double want = 0;
    double got = 0;
    int rc;

    (void)rm_raw(f, sent, words, &want, NULL); /* a pattern we encoded always decodes */
    rc = rm_raw(f, back, words, &got, ed);
    if (rc) {
        rc = ERROR_STATE;
        error_prefix(ed, "read back");
    } else if (fabs(got - want) > rm_tolerance(f, want)) {
        rc = error_setf(ed,
                        ERROR_STATE,
                        "wrote %.10g %s (raw %.10g) to holding register %d, read back %.10g %s "
                        "(raw %.10g) from %d: the device kept another value",
                        want * f->scale + f->offset,
                        rm_unit(f),
                        want,
                        f->address,
                        got * f->scale + f->offset,
                        rm_unit(f),
                        got,
                        f->readback);
    }
    if (rc) {
        return rm_prefix(ed, map, role, rc);
    }
    if (applied) {
        *applied = got * f->scale + f->offset;
    }
    return ERROR_OK;
}

int regmap_write(modbus_t *mb,
                 const struct regmap_file *map,
                 int role,
                 double value,
                 double *applied,
                 struct error_detail *ed)
{
    const struct regmap_file_field *f;
    uint16_t sent[2] = {0, 0};
    uint16_t back[2] = {0, 0};
    int words;
    int got;
    int rc;

    if ((role != REGMAP_FILE_LIMIT && role != REGMAP_FILE_HEARTBEAT) || !map->present[role] ||
        map->field[role].access == REGMAP_FILE_READ) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "%s: role %d is not a setpoint of this map (limit or heartbeat)",
                          map->id,
                          role);
    }
    f = &map->field[role];
    words = regmap_file_words(f->type);
    rc = regmap_encode(f, value, sent, ed);
    if (rc) {
        return rm_prefix(ed, map, role, rc);
    }
    if (words == 1) {
        got = modbus_write_register(mb, f->address, sent[0]);
    } else {
        got = modbus_write_registers(mb, f->address, words, sent);
    }
    if (got != words) { /* FC06 answers 1 register, FC16 the count written */
        return rm_modbus_fail(ed, map, "write", REGMAP_FILE_HOLDING, f->address, words, got);
    }
    got = modbus_read_registers(mb, f->readback, words, back);
    if (got != words) {
        return rm_modbus_fail(ed, map, "read back", REGMAP_FILE_HOLDING, f->readback, words, got);
    }
    return rm_verify(map, role, sent, back, applied, ed);
}
