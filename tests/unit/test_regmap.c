/* SPDX-License-Identifier: MIT */
/*
 * test_regmap.c - register maps without a network: decoding and
 * encoding of every word type in both word orders, scale and offset,
 * rounding (halves away from zero), range errors, masks and state codes,
 * a seeded random decode/encode round trip; read planning (gaps, read
 * size, tables, read-back registers); every parser rule with its message
 * ("FILE: json.path: value: rule"), for charger maps and meter maps (the
 * kind, the meter's roles, a role of the other kind, a map of the wrong
 * kind for a station device); every shipped map in config/devices/ and the
 * worked examples in docs/devices.md load, and print back to the same map.
 */
#include "check.h"

#include "../../common/alloc.h"
#include "../../common/fileio.h"
#include "../../common/numparse.h"
#include "../../config/regmap_file.h"
#include "../../io/regmap.h"
#include "../../models/rng.h"
#include "../../models/station.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *tr_source_dir(void)
{
    const char *d = getenv("FLEXD_SOURCE_DIR");

    return d && *d ? d : FLEXD_SOURCE_DIR;
}

/* A field of the given type and order; scale 1, read-only. */
static struct regmap_file_field tr_field(int type, int order)
{
    struct regmap_file_field f;

    memset(&f, 0, sizeof(f));
    f.table = REGMAP_FILE_HOLDING;
    f.type = type;
    f.order = order;
    f.scale = 1;
    f.access = REGMAP_FILE_READ;
    f.unmapped = REGMAP_FILE_FAULT;
    return f;
}

static double tr_decode(const struct regmap_file_field *f, uint16_t w0, uint16_t w1, int *rc)
{
    uint16_t regs[2] = {w0, w1};
    double v = NAN;
    struct error_detail ed;

    *rc = regmap_decode(f, regs, 2, &v, &ed);
    return v;
}

static void test_decode_types(void)
{
    struct regmap_file_field f;
    int rc;

    f = tr_field(REGMAP_FILE_INT16, REGMAP_FILE_BIG);
    CHECK(tr_decode(&f, 0xFFFF, 0, &rc) == -1 && rc == ERROR_OK);
    CHECK(tr_decode(&f, 0x8000, 0, &rc) == -32768);
    CHECK(tr_decode(&f, 0x7FFF, 0, &rc) == 32767);
    f = tr_field(REGMAP_FILE_UINT16, REGMAP_FILE_BIG);
    CHECK(tr_decode(&f, 0xFFFF, 0, &rc) == 65535);
    CHECK(tr_decode(&f, 0, 0xFFFF, &rc) == 0); /* a 16-bit field reads one register */

    f = tr_field(REGMAP_FILE_INT32, REGMAP_FILE_BIG);
    CHECK(tr_decode(&f, 0xFFFF, 0xFFFE, &rc) == -2);
    CHECK(tr_decode(&f, 0x8000, 0x0000, &rc) == -2147483648.0);
    CHECK(tr_decode(&f, 0x0001, 0x0000, &rc) == 65536);
    f.order = REGMAP_FILE_LITTLE;
    CHECK(tr_decode(&f, 0xFFFE, 0xFFFF, &rc) == -2);
    CHECK(tr_decode(&f, 0x0000, 0x0001, &rc) == 65536);

    f = tr_field(REGMAP_FILE_UINT32, REGMAP_FILE_BIG);
    CHECK(tr_decode(&f, 0x1234, 0x5678, &rc) == 305419896.0); /* 0x12345678 */
    CHECK(tr_decode(&f, 0xFFFF, 0xFFFF, &rc) == 4294967295.0);
    f.order = REGMAP_FILE_LITTLE;
    CHECK(tr_decode(&f, 0x5678, 0x1234, &rc) == 305419896.0);

    f = tr_field(REGMAP_FILE_FLOAT32, REGMAP_FILE_BIG);
    CHECK(tr_decode(&f, 0x3FC0, 0x0000, &rc) == 1.5); /* 0x3FC00000 */
    CHECK(tr_decode(&f, 0xC366, 0x4000, &rc) == -230.25);
    f.order = REGMAP_FILE_LITTLE;
    CHECK(tr_decode(&f, 0x0000, 0x3FC0, &rc) == 1.5);
    CHECK(tr_decode(&f, 0x4000, 0xC366, &rc) == -230.25);
}

static void test_decode_errors_scale_mask(void)
{
    struct regmap_file_field f = tr_field(REGMAP_FILE_FLOAT32, REGMAP_FILE_BIG);
    struct error_detail ed;
    uint16_t regs[2] = {0x7FC0, 0x0000};
    double v = 42;
    int rc;

    CHECK(regmap_decode(&f, regs, 2, &v, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "0x7FC00000: not a finite number");
    CHECK(v == 42);   /* untouched on error */
    regs[0] = 0x7F80; /* +inf */
    CHECK(regmap_decode(&f, regs, 2, &v, &ed) == ERROR_RANGE);
    CHECK(regmap_decode(&f, regs, 1, &v, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "a float32 needs 2");

    /* value = raw * scale + offset */
    f = tr_field(REGMAP_FILE_UINT16, REGMAP_FILE_BIG);
    f.scale = 0.1;
    CHECK_NEAR(tr_decode(&f, 2305, 0, &rc), 230.5, 1e-9);
    f.scale = 0.5;
    f.offset = -40;
    CHECK(tr_decode(&f, 100, 0, &rc) == 10);
    f = tr_field(REGMAP_FILE_INT16, REGMAP_FILE_BIG);
    f.scale = -2; /* a sign-flipping scale is allowed */
    CHECK(tr_decode(&f, 0xFFFF, 0, &rc) == 2);

    /* masks pick an unsigned code out of the word (ABB Terra AC 400Dh) */
    f = tr_field(REGMAP_FILE_UINT16, REGMAP_FILE_BIG);
    f.mask = 0x7F00;
    CHECK(tr_decode(&f, 0x8400, 0, &rc) == 4);
    CHECK(tr_decode(&f, 0x00FF, 0, &rc) == 0);
    f = tr_field(REGMAP_FILE_INT16, REGMAP_FILE_BIG);
    f.mask = 0x8000;
    CHECK(tr_decode(&f, 0x8000, 0, &rc) == 1); /* masked codes are unsigned */
    f = tr_field(REGMAP_FILE_UINT32, REGMAP_FILE_LITTLE);
    f.mask = 0x00FF0000u;
    CHECK(tr_decode(&f, 0x1234, 0x00AB, &rc) == 0xAB);
}

/* Encode into fresh words; returns rc. */
static int tr_encode(const struct regmap_file_field *f, double v, uint16_t *w0, uint16_t *w1)
{
    uint16_t regs[2] = {0xDEAD, 0xBEEF};
    struct error_detail ed;
    int rc = regmap_encode(f, v, regs, &ed);

    *w0 = regs[0];
    *w1 = regs[1];
    return rc;
}

static void test_encode_types(void)
{
    struct regmap_file_field f;
    uint16_t a;
    uint16_t b;

    f = tr_field(REGMAP_FILE_INT16, REGMAP_FILE_BIG);
    CHECK(tr_encode(&f, -1, &a, &b) == ERROR_OK && a == 0xFFFF && b == 0xBEEF);
    CHECK(tr_encode(&f, -32768, &a, &b) == ERROR_OK && a == 0x8000);
    f = tr_field(REGMAP_FILE_UINT16, REGMAP_FILE_BIG);
    CHECK(tr_encode(&f, 65535, &a, &b) == ERROR_OK && a == 0xFFFF);
    f = tr_field(REGMAP_FILE_INT32, REGMAP_FILE_BIG);
    CHECK(tr_encode(&f, -2, &a, &b) == ERROR_OK && a == 0xFFFF && b == 0xFFFE);
    f.order = REGMAP_FILE_LITTLE;
    CHECK(tr_encode(&f, -2, &a, &b) == ERROR_OK && a == 0xFFFE && b == 0xFFFF);
    CHECK(tr_encode(&f, 2147483647.0, &a, &b) == ERROR_OK && a == 0xFFFF && b == 0x7FFF);
    f = tr_field(REGMAP_FILE_UINT32, REGMAP_FILE_BIG);
    CHECK(tr_encode(&f, 305419896.0, &a, &b) == ERROR_OK && a == 0x1234 && b == 0x5678);
    f.order = REGMAP_FILE_LITTLE;
    CHECK(tr_encode(&f, 305419896.0, &a, &b) == ERROR_OK && a == 0x5678 && b == 0x1234);
    f = tr_field(REGMAP_FILE_FLOAT32, REGMAP_FILE_BIG);
    CHECK(tr_encode(&f, 1.5, &a, &b) == ERROR_OK && a == 0x3FC0 && b == 0x0000);
    f.order = REGMAP_FILE_LITTLE;
    CHECK(tr_encode(&f, -230.25, &a, &b) == ERROR_OK && a == 0x4000 && b == 0xC366);
}

static void test_encode_rounding_range(void)
{
    struct regmap_file_field f = tr_field(REGMAP_FILE_INT16, REGMAP_FILE_BIG);
    struct error_detail ed;
    uint16_t regs[2];
    uint16_t a;
    uint16_t b;

    /* inverse scale with rounding to the nearest count, halves away from 0 */
    f.scale = 0.5;
    CHECK(tr_encode(&f, 1.25, &a, &b) == ERROR_OK && a == 3);       /* 2.5 -> 3 */
    CHECK(tr_encode(&f, -1.25, &a, &b) == ERROR_OK && a == 0xFFFD); /* -2.5 -> -3 */
    CHECK(tr_encode(&f, 1.2, &a, &b) == ERROR_OK && a == 2);        /* 2.4 -> 2 */
    f.offset = 10;
    CHECK(tr_encode(&f, 11.0, &a, &b) == ERROR_OK && a == 2); /* (11 - 10) / 0.5 */
    /* 16 / 0.001 is 15999.999999999998 in binary: must still give 16000 */
    f = tr_field(REGMAP_FILE_UINT32, REGMAP_FILE_BIG);
    f.scale = 0.001;
    CHECK(tr_encode(&f, 16.0, &a, &b) == ERROR_OK && a == 0 && b == 16000);

    /* the raw value must fit the type */
    f = tr_field(REGMAP_FILE_UINT16, REGMAP_FILE_BIG);
    CHECK(regmap_encode(&f, 65536, regs, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "raw value 65536 does not fit a uint16 [0, 65535]");
    CHECK(regmap_encode(&f, -0.4, regs, &ed) == ERROR_OK && regs[0] == 0); /* rounds to 0 */
    CHECK(regmap_encode(&f, -0.5, regs, &ed) == ERROR_RANGE);
    f = tr_field(REGMAP_FILE_INT32, REGMAP_FILE_BIG);
    CHECK(regmap_encode(&f, 2147483648.0, regs, &ed) == ERROR_RANGE);
    f = tr_field(REGMAP_FILE_FLOAT32, REGMAP_FILE_BIG);
    CHECK(regmap_encode(&f, 1e39, regs, &ed) == ERROR_RANGE);
    CHECK(regmap_encode(&f, NAN, regs, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "must be a finite number");
    CHECK(regmap_encode(&f, INFINITY, regs, &ed) == ERROR_RANGE);

    /* setpoints also keep to [min, max], in the field's unit */
    f = tr_field(REGMAP_FILE_UINT32, REGMAP_FILE_BIG);
    f.access = REGMAP_FILE_WRITE;
    f.scale = 0.001;
    f.unit = REGMAP_FILE_UNIT_A;
    f.min = 0;
    f.max = 32;
    regs[0] = 0x1111;
    CHECK(regmap_encode(&f, 32.0004, regs, &ed) == ERROR_RANGE && regs[0] == 0x1111);
    CHECK_STR_CONTAINS(ed.text, "32.0004 A: outside the setpoint range [0, 32] A");
    CHECK(regmap_encode(&f, -1, regs, &ed) == ERROR_RANGE);
    CHECK(regmap_encode(&f, 32, regs, &ed) == ERROR_OK && regs[1] == 32000);
}

/* Random words decode and encode back to the same words, for every type
 * and order (float32 NaN/inf patterns excluded). */
static void test_round_trip_random(uint64_t seed)
{
    struct rng *r = rng_new(seed);
    struct error_detail ed;
    int bad = 0;

    printf("test_round_trip_random: seed %" PRIu64 "\n", seed);
    for (int i = 0; i < 20000; i++) {
        struct regmap_file_field f =
            tr_field((int)rng_below(r, 5), (int)rng_below(r, 2) ? REGMAP_FILE_LITTLE : 0);
        uint16_t in[2] = {(uint16_t)rng_below(r, 65536), (uint16_t)rng_below(r, 65536)};
        uint16_t out[2] = {0, 0};
        int words = regmap_file_words(f.type);
        double v;

        if (words == 1) {
            f.order = REGMAP_FILE_BIG;
        }
        if (regmap_decode(&f, in, 2, &v, &ed) != ERROR_OK) {
            continue; /* a NaN or infinite float32 */
        }
        if (regmap_encode(&f, v, out, &ed) != ERROR_OK || out[0] != in[0] ||
            (words == 2 && out[1] != in[1])) {
            bad++;
        }
    }
    CHECK(bad == 0);
    rng_free(r);
}

static void test_state(void)
{
    struct regmap_file_field f = tr_field(REGMAP_FILE_UINT16, REGMAP_FILE_BIG);

    f.n_states = 2;
    f.states[0] = (struct regmap_file_code){0, REGMAP_FILE_AVAILABLE};
    f.states[1] = (struct regmap_file_code){7, REGMAP_FILE_CHARGING};
    f.unmapped = REGMAP_FILE_OFFLINE;
    CHECK(regmap_state(&f, 0) == REGMAP_FILE_AVAILABLE);
    CHECK(regmap_state(&f, 7) == REGMAP_FILE_CHARGING);
    CHECK(regmap_state(&f, 3) == REGMAP_FILE_OFFLINE);
}

/* ---- the parser ------------------------------------------------------- */

/* A valid map using every field; cases edit one spot. Single quotes stand
 * for double quotes. */
static const char tr_base[] =
    "{'id': 'case', 'vendor': 'V', 'model': 'M', 'source': 'S doc v1',"
    " 'fields': {"
    "  'status': {'table': 'input', 'address': 0, 'type': 'uint16',"
    "             'states': [{'raw': 0, 'state': 'available'}, {'raw': 2, 'state': 'charging'}]},"
    "  'plug': {'table': 'input', 'address': 1, 'type': 'uint16'},"
    "  'power': {'table': 'input', 'address': 2, 'type': 'int32', 'unit': 'W'},"
    "  'session_energy': {'table': 'input', 'address': 4, 'type': 'uint32', 'unit': 'Wh'},"
    "  'voltage': {'table': 'input', 'address': 6, 'type': 'uint16', 'scale': 0.1, 'unit': 'V'},"
    "  'error_code': {'table': 'input', 'address': 7, 'type': 'uint16'},"
    "  'limit': {'table': 'holding', 'address': 100, 'type': 'uint16', 'access': 'rw',"
    "            'scale': 0.1, 'unit': 'kW', 'min': 0, 'max': 600},"
    "  'heartbeat': {'table': 'holding', 'address': 101, 'type': 'uint16', 'access': 'rw',"
    "                'mode': 'counter', 'min': 0, 'max': 65535}}}";

static char *tr_json(const char *s)
{
    char *j = alloc_strdup(s);

    for (char *p = j; *p; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    return j;
}

/* s with its only occurrence of from replaced by to (a test bug if absent). */
static char *tr_edit(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);

    if (!at || strstr(at + 1, from)) {
        fprintf(stderr, "test bug: \"%s\" must occur exactly once\n", from);
        abort();
    }
    return alloc_printf("%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
}

static int tr_parse(const char *text, struct regmap_file **m, struct error_detail *ed)
{
    char *j = tr_json(text);
    int rc;

    memset(ed, 0, sizeof(*ed));
    rc = regmap_file_parse(j, strlen(j), "case.json", m, ed);
    free(j);
    return rc;
}

/* A base map with one edit must fail with rc and a message holding want. */
static void
tr_bad_in(const char *base, const char *from, const char *to, int rc_want, const char *want)
{
    char *text = tr_edit(base, from, to);
    struct regmap_file *m = NULL;
    struct error_detail ed;
    int rc = tr_parse(text, &m, &ed);

    CHECK(rc == rc_want);
    CHECK(m == NULL);
    CHECK_STR_CONTAINS(ed.text, want);
    CHECK(strncmp(ed.text, "case.json: ", 11) == 0);
    free(text);
}

static void tr_bad(const char *from, const char *to, int rc_want, const char *want)
{
    tr_bad_in(tr_base, from, to, rc_want, want);
}

static void test_parse_base(void)
{
    struct regmap_file *m = NULL;
    struct error_detail ed;

    CHECK(tr_parse(tr_base, &m, &ed) == ERROR_OK);
    if (!m) {
        fprintf(stderr, "base map: %s\n", ed.text);
        return;
    }
    for (int r = 0; r < REGMAP_FILE_ROLES; r++) {
        CHECK(m->present[r] == (r <= REGMAP_FILE_ERROR_CODE)); /* every connector role */
    }
    CHECK(m->kind == REGMAP_FILE_KIND_CONNECTOR); /* the default */
    CHECK(m->max_gap == 0 && m->max_read == 125);
    CHECK(m->field[REGMAP_FILE_POWER].order == REGMAP_FILE_BIG);
    CHECK(m->field[REGMAP_FILE_POWER].scale == 1 && m->field[REGMAP_FILE_POWER].offset == 0);
    CHECK(m->field[REGMAP_FILE_POWER].access == REGMAP_FILE_READ);
    CHECK(m->field[REGMAP_FILE_STATUS].unmapped == REGMAP_FILE_FAULT);
    CHECK(m->field[REGMAP_FILE_STATUS].scale == 1);
    CHECK(m->field[REGMAP_FILE_PLUG].n_states == 0);
    CHECK(m->field[REGMAP_FILE_LIMIT].readback == 100);
    CHECK(m->field[REGMAP_FILE_VOLTAGE].readback == 6);
    CHECK(m->field[REGMAP_FILE_HEARTBEAT].unit == REGMAP_FILE_UNIT_NONE);
    regmap_file_free(m);

    /* optional fields may be left out */
    {
        char *a =
            tr_edit(tr_base, "  'plug': {'table': 'input', 'address': 1, 'type': 'uint16'},", "");
        char *b =
            tr_edit(a, "  'error_code': {'table': 'input', 'address': 7, 'type': 'uint16'},", "");

        CHECK(tr_parse(b, &m, &ed) == ERROR_OK);
        CHECK(m && !m->present[REGMAP_FILE_PLUG] && !m->present[REGMAP_FILE_ERROR_CODE]);
        regmap_file_free(m);
        free(a);
        free(b);
    }
}

static void test_parse_rules_keys(void)
{
    tr_bad("'vendor'", "'vendr'", ERROR_INVALID, "vendr: unknown key (did you mean \"vendor\"?)");
    tr_bad("'source': 'S doc v1',", "", ERROR_INVALID, "source: missing: this field is required");
    tr_bad("'vendor': 'V'", "'vendor': 'V', 'vendor': 'W'", ERROR_INVALID, "duplicate key");
    /* keys of another kind of field are unknown keys */
    tr_bad("'address': 0, 'type': 'uint16',",
           "'address': 0, 'type': 'uint16', 'scale': 2,",
           ERROR_INVALID,
           "fields.status.scale: unknown key");
    tr_bad("'type': 'int32', 'unit': 'W'",
           "'type': 'int32', 'unit': 'W', 'states': []",
           ERROR_INVALID,
           "fields.power.states: unknown key");
    tr_bad("'type': 'uint32', 'unit': 'Wh'",
           "'type': 'uint32', 'unit': 'Wh', 'max': 5",
           ERROR_INVALID,
           "fields.session_energy.max: unknown key");
    tr_bad("'mode': 'counter',",
           "'mode': 'counter', 'unit': 's',",
           ERROR_INVALID,
           "fields.heartbeat.unit: unknown key");
    tr_bad("'fields': {", "'fieldz': {", ERROR_INVALID, "fieldz: unknown key");
    tr_bad("'limit': {'table'", "'limits': {'table'", ERROR_INVALID, "fields.limits: unknown key");
    tr_bad("'fields': {  'status'",
           "'fields': {  'plug': {}, 'status'",
           ERROR_INVALID,
           "duplicate key");
    tr_bad("  'heartbeat': {'table': 'holding', 'address': 101, 'type': 'uint16', 'access': 'rw',"
           "                'mode': 'counter', 'min': 0, 'max': 65535}",
           "  'x': 1",
           ERROR_INVALID,
           "fields.x: unknown key");
    tr_bad("'states': [{'raw': 0, 'state': 'available'}, {'raw': 2, 'state': 'charging'}]",
           "'mask': 255",
           ERROR_INVALID,
           "fields.status.states: missing: this field is required");
    tr_bad("'id': 'case', ", "", ERROR_INVALID, "id: missing");
}

static void test_parse_rules_values(void)
{
    /* where a field lives */
    tr_bad("'address': 100,",
           "'address': 65536,",
           ERROR_INVALID,
           "fields.limit.address: 65536: must be a register address in [0, 65535]");
    tr_bad("'address': 100,",
           "'address': '0x10000',",
           ERROR_INVALID,
           "fields.limit.address: \"0x10000\": must be a register address");
    tr_bad("'address': 100,", "'address': 1.5,", ERROR_INVALID, "must be a register address");
    tr_bad("'address': 100,", "'address': '100',", ERROR_INVALID, "must be a register address");
    tr_bad("'address': 4, 'type': 'uint32'",
           "'address': 65535, 'type': 'uint32'",
           ERROR_INVALID,
           "fields.session_energy.address: 65535: a uint32 needs 2 registers, so the address "
           "must be at most 65534");
    tr_bad("'table': 'input', 'address': 7",
           "'table': 'coil', 'address': 7",
           ERROR_INVALID,
           "fields.error_code.table: \"coil\"");
    tr_bad("'address': 6, 'type': 'uint16'",
           "'address': 6, 'type': 'uint16', 'order': 'little'",
           ERROR_INVALID,
           "fields.voltage.order: \"little\": word order applies to 32-bit types only, and this "
           "field is a uint16");
    tr_bad("'type': 'int32', 'unit': 'W'",
           "'type': 'int64', 'unit': 'W'",
           ERROR_INVALID,
           "fields.power.type: \"int64\"");
    /* scale and units */
    tr_bad("'scale': 0.1, 'unit': 'V'",
           "'scale': 0, 'unit': 'V'",
           ERROR_INVALID,
           "fields.voltage.scale: 0: must not be 0 (value = raw * scale + offset)");
    tr_bad("'type': 'int32', 'unit': 'W'",
           "'type': 'int32', 'unit': 'A'",
           ERROR_INVALID,
           "fields.power.unit: \"A\": must be W or kW");
    tr_bad("'unit': 'Wh'",
           "'unit': 'kW'",
           ERROR_INVALID,
           "fields.session_energy.unit: \"kW\": must be Wh or kWh");
    tr_bad("'unit': 'V'",
           "'unit': 'none'",
           ERROR_INVALID,
           "fields.voltage.unit: \"none\": must be V");
    tr_bad("'unit': 'kW', 'min'",
           "'unit': 'V', 'min'",
           ERROR_INVALID,
           "fields.limit.unit: \"V\": must be A (a current limit), W or kW (a power limit)");
    tr_bad("'unit': 'W'", "'unit': 'watt'", ERROR_INVALID, "fields.power.unit: \"watt\"");
    tr_bad("'scale': 0.1, 'unit': 'V'",
           "'scale': 1e999, 'unit': 'V'",
           ERROR_INVALID,
           "fields.voltage.scale");
}

static void test_parse_rules_codes(void)
{
    const char *st =
        "'states': [{'raw': 0, 'state': 'available'}, {'raw': 2, 'state': 'charging'}]";

    tr_bad("'address': 0, 'type': 'uint16',",
           "'address': 0, 'type': 'float32',",
           ERROR_INVALID,
           "fields.status.type: \"float32\": a code field must have an integer type");
    tr_bad(st,
           "'states': []",
           ERROR_INVALID,
           "fields.status.states: array of 0 values: must map at least one code");
    tr_bad(st,
           "'states': [{'raw': 1.5, 'state': 'occupied'}]",
           ERROR_INVALID,
           "fields.status.states[0].raw: 1.5: must be an integer");
    tr_bad(st,
           "'states': [{'raw': 70000, 'state': 'occupied'}]",
           ERROR_INVALID,
           "fields.status.states[0].raw: 70000: must be in [0, 65535], the codes this uint16 can "
           "hold");
    tr_bad(st,
           "'states': [{'raw': -1, 'state': 'occupied'}]",
           ERROR_INVALID,
           "fields.status.states[0].raw: -1: must be in [0, 65535]");
    tr_bad(
        st,
        "'mask': '0x7F00', 'states': [{'raw': 128, 'state': 'occupied'}]",
        ERROR_INVALID,
        "states[0].raw: 128: must be in [0, 127], the codes this uint16 under its mask can hold");
    tr_bad(st,
           "'states': [{'raw': 2, 'state': 'occupied'}, {'raw': 2, 'state': 'fault'}]",
           ERROR_INVALID,
           "fields.status.states[1].raw: 2: duplicates states[0]");
    tr_bad("'state': 'charging'",
           "'state': 'busy'",
           ERROR_INVALID,
           "fields.status.states[1].state: \"busy\"");
    tr_bad(st, "'states': [{'raw': 2}]", ERROR_INVALID, "fields.status.states[0].state: missing");
    tr_bad("'address': 1, 'type': 'uint16'",
           "'address': 1, 'type': 'uint16', 'mask': '0x10000'",
           ERROR_INVALID,
           "fields.plug.mask: \"0x10000\": must fit the 16-bit uint16");
    tr_bad("'address': 1, 'type': 'uint16'",
           "'address': 1, 'type': 'uint16', 'mask': 0",
           ERROR_INVALID,
           "fields.plug.mask: 0: must be a nonzero integer up to 4294967295 or a hex "
           "string such as \"0x7F00\"");
    tr_bad("'address': 1, 'type': 'uint16'",
           "'address': 1, 'type': 'uint16', 'mask': '0xZZ'",
           ERROR_INVALID,
           "fields.plug.mask: \"0xZZ\": must be a nonzero integer");
    tr_bad("'address': 7, 'type': 'uint16'",
           "'address': 7, 'type': 'uint16', 'states': []",
           ERROR_INVALID,
           "fields.error_code.states: unknown key");
    tr_bad("'address': 1, 'type': 'uint16'",
           "'address': 1, 'type': 'uint16', 'unmapped': 'idle'",
           ERROR_INVALID,
           "fields.plug.unmapped: \"idle\"");
}

static void test_parse_rules_setpoints(void)
{
    tr_bad("'address': 100, 'type': 'uint16', 'access': 'rw'",
           "'address': 100, 'type': 'uint16', 'access': 'r'",
           ERROR_INVALID,
           "fields.limit.access: \"r\": a setpoint must be writable (\"rw\" or \"w\")");
    tr_bad("'table': 'holding', 'address': 100",
           "'table': 'input', 'address': 100",
           ERROR_INVALID,
           "fields.limit.table: \"input\": a setpoint must be a holding register: input registers "
           "are read-only");
    tr_bad("'address': 100, 'type': 'uint16', 'access': 'rw',",
           "'address': 100, 'type': 'uint16',",
           ERROR_INVALID,
           "fields.limit.access: missing: this field is required");
    tr_bad("'min': 0, 'max': 600", "'min': 0", ERROR_INVALID, "fields.limit.max: missing");
    tr_bad("'min': 0, 'max': 600",
           "'min': 10, 'max': 5",
           ERROR_INVALID,
           "fields.limit.max: 5: must not be below min (10)");
    tr_bad("'min': 0, 'max': 600",
           "'min': 0, 'max': 7000",
           ERROR_INVALID,
           "fields.limit.max: 7000: is raw 70000 after scale and offset, outside the uint16 range "
           "[0, 65535]");
    tr_bad("'min': 0, 'max': 600",
           "'min': -1, 'max': 600",
           ERROR_INVALID,
           "fields.limit.min: -1: is raw -10 after scale and offset, outside the uint16 range");
    tr_bad("'address': 100, 'type': 'uint16', 'access': 'rw'",
           "'address': 100, 'type': 'uint16', 'access': 'w'",
           ERROR_INVALID,
           "fields.limit.readback: missing: a write-only setpoint needs a register to read it "
           "back from");
    tr_bad("'address': 101, 'type': 'uint16', 'access': 'rw',",
           "'address': 101, 'type': 'uint16', 'access': 'rw', 'readback': 70000,",
           ERROR_INVALID,
           "fields.heartbeat.readback: 70000: must be a register address in [0, 65535]");
    tr_bad("'address': 100, 'type': 'uint16', 'access': 'rw',",
           "'address': 100, 'type': 'uint32', 'access': 'rw', 'readback': 65535,",
           ERROR_INVALID,
           "fields.limit.readback: 65535: a uint32 needs 2 registers, so it must be at most 65534");
    tr_bad("'address': 101, 'type': 'uint16'",
           "'address': 101, 'type': 'float32'",
           ERROR_INVALID,
           "fields.heartbeat.type: \"float32\": a counter heartbeat must have an integer type");
    tr_bad("'mode': 'counter'", "'mode': 'ping'", ERROR_INVALID, "fields.heartbeat.mode: \"ping\"");
    tr_bad("'address': 2, 'type': 'int32',",
           "'address': 2, 'type': 'int32', 'access': 'w',",
           ERROR_INVALID,
           "fields.power.access: \"w\": flexd reads this field, so it must be readable");
}

static void test_parse_rules_layout(void)
{
    struct regmap_file *m = NULL;
    struct error_detail ed;
    char *a;
    char *b;

    tr_bad("'address': 2, 'type': 'int32'",
           "'address': 1, 'type': 'int32'",
           ERROR_INVALID,
           "fields.plug.address: 1: input registers 1..1 overlap fields.power.address (1..2)");
    tr_bad("'address': 101, 'type': 'uint16', 'access': 'rw',",
           "'address': 101, 'type': 'uint16', 'access': 'rw', 'readback': 100,",
           ERROR_INVALID,
           "fields.heartbeat.readback: 100: holding registers 100..100 overlap "
           "fields.limit.address (100..100)");
    /* the same address in the other table is no overlap */
    a = tr_edit(tr_base, "'table': 'holding', 'address': 100", "'table': 'holding', 'address': 0");
    CHECK(tr_parse(a, &m, &ed) == ERROR_OK);
    regmap_file_free(m);
    free(a);
    /* two code fields share a register when their masks do not meet */
    a = tr_edit(tr_base,
                "'address': 0, 'type': 'uint16',",
                "'address': 0, 'type': 'uint16', 'mask': 255,");
    b = tr_edit(a,
                "'address': 1, 'type': 'uint16'",
                "'address': 0, 'type': 'uint16', 'mask': '0xFF00'");
    CHECK(tr_parse(b, &m, &ed) == ERROR_OK);
    CHECK(m && m->field[REGMAP_FILE_PLUG].mask == 0xFF00u);
    regmap_file_free(m);
    free(b);
    b = tr_edit(a, "'address': 1, 'type': 'uint16'", "'address': 0, 'type': 'uint16', 'mask': 256");
    CHECK(tr_parse(b, &m, &ed) == ERROR_OK);
    regmap_file_free(m);
    free(b);
    b = tr_edit(a, "'address': 1, 'type': 'uint16'", "'address': 0, 'type': 'uint16', 'mask': 128");
    CHECK(tr_parse(b, &m, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text,
                       "fields.plug.address: 0: input registers 0..0 overlap fields.status");
    free(b);
    free(a);
    /* read size */
    tr_bad("'source': 'S doc v1',",
           "'source': 'S doc v1', 'max_read': 1,",
           ERROR_INVALID,
           "max_read: 1: fields.power needs 2 registers in one read");
    tr_bad("'source': 'S doc v1',",
           "'source': 'S doc v1', 'max_read': 126,",
           ERROR_INVALID,
           "max_read: 126: must be in [1, 125]");
    tr_bad("'source': 'S doc v1',",
           "'source': 'S doc v1', 'max_gap': 124,",
           ERROR_INVALID,
           "max_gap: 124: must be in [0, 123]");
    tr_bad("'id': 'case'",
           "'id': '../case'",
           ERROR_INVALID,
           "id: \"../case\": must be a file name stem");
    tr_bad("'id': 'case'", "'id': ''", ERROR_INVALID, "id: \"\": must not be empty");
}

static void test_parse_input_caps(void)
{
    struct regmap_file *m = (struct regmap_file *)1;
    struct error_detail ed;
    size_t big = REGMAP_FILE_MAX_BYTES + 1;
    char *text = alloc_array(big + 1, 1);

    CHECK(regmap_file_parse("not json", 8, "x.json", &m, &ed) == ERROR_PARSE && m == NULL);
    CHECK_STR_CONTAINS(ed.text, "x.json: line 1, column 1: malformed JSON");
    CHECK(regmap_file_parse("  ", 2, "x.json", &m, &ed) == ERROR_PARSE);
    CHECK(regmap_file_parse("[1]", 3, "x.json", &m, &ed) == ERROR_INVALID);
    memset(text, ' ', big);
    text[0] = '{';
    text[big - 1] = '}';
    CHECK(regmap_file_parse(text, big, "x.json", &m, &ed) == ERROR_RANGE);
    free(text);
}

/* ---- planning ---------------------------------------------------------- */

static struct regmap_file *tr_map(const char *from, const char *to)
{
    char *text = from ? tr_edit(tr_base, from, to) : alloc_strdup(tr_base);
    struct regmap_file *m = NULL;
    struct error_detail ed;

    if (tr_parse(text, &m, &ed) != ERROR_OK) {
        fprintf(stderr, "test bug: %s\n", ed.text);
        abort();
    }
    free(text);
    return m;
}

static int tr_block_is(const struct regmap_plan *p, int i, int table, int address, int count)
{
    return i < p->n_blocks && p->block[i].table == table && p->block[i].address == address &&
           p->block[i].count == count;
}

static void test_plan(void)
{
    struct regmap_plan p;
    struct regmap_file *m = tr_map(NULL, NULL);

    /* holding sorts before input; adjacent fields join */
    regmap_plan_reads(m, &p);
    CHECK(p.n_blocks == 2);
    CHECK(tr_block_is(&p, 0, REGMAP_FILE_HOLDING, 100, 2));
    CHECK(tr_block_is(&p, 1, REGMAP_FILE_INPUT, 0, 8));
    /* max_read splits: 8 input registers in reads of at most 5 */
    m->max_read = 5;
    regmap_plan_reads(m, &p);
    CHECK(p.n_blocks == 3);
    CHECK(tr_block_is(&p, 1, REGMAP_FILE_INPUT, 0, 4)); /* status, plug, power */
    CHECK(tr_block_is(&p, 2, REGMAP_FILE_INPUT, 4, 4)); /* energy, voltage, error */
    regmap_file_free(m);

    /* gaps: error_code 9 registers after voltage joins only when max_gap >= 9 */
    m = tr_map("'address': 7, 'type': 'uint16'", "'address': 16, 'type': 'uint16'");
    regmap_plan_reads(m, &p);
    CHECK(p.n_blocks == 3 && tr_block_is(&p, 2, REGMAP_FILE_INPUT, 16, 1));
    m->max_gap = 8;
    regmap_plan_reads(m, &p);
    CHECK(p.n_blocks == 3);
    m->max_gap = 9;
    regmap_plan_reads(m, &p);
    CHECK(p.n_blocks == 2 && tr_block_is(&p, 1, REGMAP_FILE_INPUT, 0, 17));
    regmap_file_free(m);

    /* a read of exactly max_read registers: 0..124 */
    m = tr_map("'address': 7, 'type': 'uint16'", "'address': 123, 'type': 'uint32'");
    m->max_gap = 123;
    regmap_plan_reads(m, &p);
    CHECK(p.n_blocks == 2 && tr_block_is(&p, 1, REGMAP_FILE_INPUT, 0, 125));
    m->max_read = 124;
    regmap_plan_reads(m, &p);
    CHECK(p.n_blocks == 3 && tr_block_is(&p, 2, REGMAP_FILE_INPUT, 123, 2));
    regmap_file_free(m);

    /* a write-only setpoint is read at its read-back register */
    m = tr_map("'address': 100, 'type': 'uint16', 'access': 'rw',",
               "'address': 100, 'type': 'uint16', 'access': 'w', 'readback': 200,");
    regmap_plan_reads(m, &p);
    CHECK(p.n_blocks == 3);
    CHECK(tr_block_is(&p, 0, REGMAP_FILE_HOLDING, 101, 1));
    CHECK(tr_block_is(&p, 1, REGMAP_FILE_HOLDING, 200, 1));
    regmap_file_free(m);
}

/* ---- shipped maps and the documented example ---------------------------- */

/* The map prints as JSON that parses back to a map printing the same. */
static void tr_round_trip(const struct regmap_file *m)
{
    struct regmap_file *again = NULL;
    struct error_detail ed;
    char *d1 = regmap_file_dump(m);
    char *d2 = NULL;

    CHECK(regmap_file_parse(d1, strlen(d1), "dump", &again, &ed) == ERROR_OK);
    if (again) {
        d2 = regmap_file_dump(again);
        CHECK(strcmp(d1, d2) == 0);
    }
    regmap_file_free(again);
    free(d1);
    free(d2);
}

/* ---- meter maps ---------------------------------------------------------- */

/* A valid meter map with every meter field (SDM630-like float32 words). */
static const char tr_meter[] =
    "{'id': 'case', 'kind': 'meter', 'vendor': 'V', 'model': 'M', 'source': 'S doc v1',"
    " 'fields': {"
    "  'power': {'table': 'input', 'address': 52, 'type': 'float32', 'unit': 'W'},"
    "  'energy_import': {'table': 'input', 'address': 72, 'type': 'float32', 'unit': 'kWh'},"
    "  'energy_export': {'table': 'input', 'address': 74, 'type': 'float32', 'unit': 'kWh'},"
    "  'voltage': {'table': 'input', 'address': 0, 'type': 'float32', 'unit': 'V'}}}";

static void test_parse_meter(void)
{
    struct regmap_file *m = NULL;
    struct error_detail ed;
    struct regmap_plan p;
    char *a;
    char *d;

    CHECK(tr_parse(tr_meter, &m, &ed) == ERROR_OK);
    if (!m) {
        fprintf(stderr, "meter map: %s\n", ed.text);
        return;
    }
    CHECK(m->kind == REGMAP_FILE_KIND_METER);
    for (int r = 0; r < REGMAP_FILE_ROLES; r++) {
        int meter_role = r == REGMAP_FILE_POWER || r == REGMAP_FILE_VOLTAGE ||
                         r == REGMAP_FILE_ENERGY_IMPORT || r == REGMAP_FILE_ENERGY_EXPORT;

        CHECK(m->present[r] == meter_role);
    }
    CHECK(m->field[REGMAP_FILE_ENERGY_EXPORT].readback == 74);
    regmap_plan_reads(m, &p); /* voltage, power, import + export */
    CHECK(p.n_blocks == 3 && tr_block_is(&p, 2, REGMAP_FILE_INPUT, 72, 4));
    d = regmap_file_dump(m);
    CHECK_STR_CONTAINS(d, "\"kind\":\t\"meter\"");
    CHECK_STR_CONTAINS(d, "\"energy_export\":");
    free(d);
    tr_round_trip(m);
    regmap_file_free(m);

    /* power alone will do, as int16 in 0.1 kW */
    a = tr_json("{'id': 'case', 'kind': 'meter', 'vendor': 'V', 'model': 'M', 'source': 'S',"
                " 'fields': {'power': {'table': 'holding', 'address': 0, 'type': 'int16',"
                " 'scale': 0.1, 'unit': 'kW'}}}");
    CHECK(regmap_file_parse(a, strlen(a), "case.json", &m, &ed) == ERROR_OK);
    CHECK(m && m->present[REGMAP_FILE_POWER] && !m->present[REGMAP_FILE_ENERGY_IMPORT]);
    regmap_file_free(m);
    free(a);
}

static void test_parse_meter_rules(void)
{
    const char *power = "  'power': {'table': 'input', 'address': 52, 'type': 'float32', "
                        "'unit': 'W'},";

    tr_bad_in(tr_meter, power, "", ERROR_INVALID, "fields.power: missing: this field is required");
    tr_bad_in(tr_meter,
              power,
              "  'status': {'table': 'input', 'address': 52, 'type': 'uint16',"
              "             'states': [{'raw': 0, 'state': 'available'}]},",
              ERROR_INVALID,
              "fields.status: an object: a connector field, not allowed in a map of kind "
              "\"meter\" (its fields: power, energy_import, energy_export, voltage)");
    tr_bad_in(tr_meter,
              "'fields': {",
              "'fields': {'limit': 1, ",
              ERROR_INVALID,
              "fields.limit: 1: a connector field, not allowed in a map of kind \"meter\"");
    tr_bad("'fields': {",
           "'fields': {'energy_import': {},",
           ERROR_INVALID,
           "fields.energy_import: an object: a meter field, not allowed in a map of kind "
           "\"connector\" (its fields: status, power, session_energy, limit, heartbeat, plug, "
           "voltage, error_code)");
    tr_bad_in(tr_meter,
              "'kind': 'meter'",
              "'kind': 'inverter'",
              ERROR_INVALID,
              "kind: \"inverter\"");
    tr_bad_in(tr_meter, "'kind': 'meter'", "'kind': 1", ERROR_INVALID, "kind: 1");
    tr_bad_in(tr_meter,
              "'address': 52, 'type': 'float32'",
              "'address': 52, 'type': 'uint32'",
              ERROR_INVALID,
              "fields.power.type: \"uint32\": a meter's net power must have a signed type "
              "(int16, int32 or float32): export reads negative");
    tr_bad_in(tr_meter,
              "'address': 72, 'type': 'float32', 'unit': 'kWh'",
              "'address': 72, 'type': 'float32', 'unit': 'kW'",
              ERROR_INVALID,
              "fields.energy_import.unit: \"kW\": must be Wh or kWh");
    tr_bad_in(tr_meter,
              "'address': 74,",
              "'address': 73,",
              ERROR_INVALID,
              "fields.energy_export.address: 73: input registers 73..74 overlap "
              "fields.energy_import.address (72..73)");
    tr_bad_in(tr_meter,
              "'address': 0, 'type': 'float32', 'unit': 'V'",
              "'address': 0, 'type': 'float32', 'unit': 'V', 'access': 'w'",
              ERROR_INVALID,
              "fields.voltage.access: \"w\": flexd reads this field");
    tr_bad_in(tr_meter,
              "'address': 52, 'type': 'float32', 'unit': 'W'",
              "'address': 52, 'type': 'float32', 'unit': 'W', 'states': []",
              ERROR_INVALID,
              "fields.power.states: unknown key");
}

/* A map must be of the kind its station device needs. */
static void test_map_for_device(void)
{
    struct regmap_file *meter = NULL;
    struct regmap_file *conn = NULL;
    struct station_device dev;
    struct error_detail ed;

    CHECK(tr_parse(tr_meter, &meter, &ed) == ERROR_OK);
    CHECK(tr_parse(tr_base, &conn, &ed) == ERROR_OK);
    if (!meter || !conn) {
        return;
    }
    memset(&dev, 0, sizeof(dev));
    snprintf(dev.id, sizeof(dev.id), "%s", "grid-meter");
    dev.kind = STATION_DEVICE_METER;
    dev.protocol = STATION_PROTOCOL_REGMAP;
    CHECK(regmap_file_check_device(meter, &dev, &ed) == ERROR_OK);
    CHECK(regmap_file_check_device(conn, &dev, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text,
                       "device \"grid-meter\": map \"case\": kind \"connector\": a meter "
                       "device needs a map of kind \"meter\"");
    dev.kind = STATION_DEVICE_CONNECTOR;
    CHECK(regmap_file_check_device(conn, &dev, &ed) == ERROR_OK);
    CHECK(regmap_file_check_device(meter, &dev, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "kind \"meter\": a connector device needs a map of kind");
    dev.kind = STATION_DEVICE_PV;
    CHECK(regmap_file_check_device(meter, &dev, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "a pv device is not read through a register map");
    regmap_file_free(meter);
    regmap_file_free(conn);
}

static void test_shipped_maps(void)
{
    char *dir = alloc_printf("%s/config/devices", tr_source_dir());
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    CHECK(d != NULL);
    while (d && (de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        struct regmap_file *m = NULL;
        struct error_detail ed = {{0}};
        char *path;

        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0) {
            continue;
        }
        path = alloc_printf("%s/%s", dir, de->d_name);
        CHECK(regmap_file_load(path, &m, &ed) == ERROR_OK);
        if (!m) {
            fprintf(stderr, "shipped map: %s\n", ed.text);
        } else {
            CHECK(strlen(m->source) > 10);
            tr_round_trip(m);
        }
        regmap_file_free(m);
        free(path);
        n++;
    }
    if (d) {
        closedir(d);
    }
    CHECK(n >= 3);
    free(dir);
}

static void test_shipped_contents(void)
{
    char *dir = alloc_printf("%s/config/devices", tr_source_dir());
    struct regmap_file *m = NULL;
    struct error_detail ed;
    struct regmap_plan p;
    const struct regmap_file_field *f;

    CHECK(regmap_file_find(dir, "abb-terra-ac", &m, &ed) == ERROR_OK);
    if (m) {
        f = &m->field[REGMAP_FILE_STATUS];
        CHECK(f->address == 0x400D && f->mask == 0x7F00u && f->type == REGMAP_FILE_UINT16);
        CHECK(regmap_state(f, 4) == REGMAP_FILE_CHARGING);
        f = &m->field[REGMAP_FILE_LIMIT];
        CHECK(f->address == 0x4100 && f->readback == 0x4022 && f->access == REGMAP_FILE_WRITE);
        CHECK(f->unit == REGMAP_FILE_UNIT_A && f->scale == 0.001 && f->max == 32);
        f = &m->field[REGMAP_FILE_HEARTBEAT];
        CHECK(f->mode == REGMAP_FILE_HB_TIMEOUT && f->unit == REGMAP_FILE_UNIT_S);
        regmap_plan_reads(m, &p);
        CHECK(p.n_blocks == 1 && tr_block_is(&p, 0, REGMAP_FILE_HOLDING, 0x4008, 28));
    }
    regmap_file_free(m);
    CHECK(regmap_file_find(dir, "flexd-sim-charger", &m, &ed) == ERROR_OK);
    if (m) {
        regmap_plan_reads(m, &p);
        CHECK(p.n_blocks == 2 && tr_block_is(&p, 0, REGMAP_FILE_HOLDING, 100, 2) &&
              tr_block_is(&p, 1, REGMAP_FILE_INPUT, 0, 8));
        CHECK(m->field[REGMAP_FILE_LIMIT].unit == REGMAP_FILE_UNIT_KW);
    }
    regmap_file_free(m);
    CHECK(regmap_file_find(dir, "eastron-sdm630", &m, &ed) == ERROR_OK);
    if (m) {
        CHECK(m->kind == REGMAP_FILE_KIND_METER);
        f = &m->field[REGMAP_FILE_POWER];
        CHECK(f->table == REGMAP_FILE_INPUT && f->address == 0x0034);
        CHECK(f->type == REGMAP_FILE_FLOAT32 && f->unit == REGMAP_FILE_UNIT_W);
        CHECK(m->field[REGMAP_FILE_ENERGY_IMPORT].address == 0x0048);
        CHECK(m->field[REGMAP_FILE_ENERGY_EXPORT].address == 0x004A);
        CHECK(m->field[REGMAP_FILE_ENERGY_EXPORT].unit == REGMAP_FILE_UNIT_KWH);
        regmap_plan_reads(m, &p);
        CHECK(p.n_blocks == 3 && tr_block_is(&p, 0, REGMAP_FILE_INPUT, 0, 2) &&
              tr_block_is(&p, 1, REGMAP_FILE_INPUT, 0x34, 2) &&
              tr_block_is(&p, 2, REGMAP_FILE_INPUT, 0x48, 4));
    }
    regmap_file_free(m);
    CHECK(regmap_file_find(dir, "../devices/abb-terra-ac", &m, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "must be a file name stem");
    CHECK(regmap_file_find(dir, "no-such-charger", &m, &ed) == ERROR_IO && m == NULL);
    CHECK_STR_CONTAINS(ed.text, "no-such-charger.json: cannot open");
    free(dir);
}

/* A map whose id is not its file name is refused when loaded. */
static void test_load_name(void)
{
    char tmpl[] = "/tmp/flexd-regmap-XXXXXX";
    char *dir = mkdtemp(tmpl);
    char *text = tr_json(tr_base);
    char *path;
    struct regmap_file *m = NULL;
    struct error_detail ed;

    CHECK(dir != NULL);
    if (!dir) {
        free(text);
        return;
    }
    path = alloc_printf("%s/other.json", dir);
    CHECK(fileio_write_atomic(path, text, strlen(text), &ed) == ERROR_OK);
    CHECK(regmap_file_load(path, &m, &ed) == ERROR_INVALID && m == NULL);
    CHECK_STR_CONTAINS(ed.text, "other.json: id: \"case\": must match the file name (\"other\")");
    unlink(path);
    free(path);
    path = alloc_printf("%s/case.json", dir);
    CHECK(fileio_write_atomic(path, text, strlen(text), &ed) == ERROR_OK);
    CHECK(regmap_file_load(path, &m, &ed) == ERROR_OK);
    regmap_file_free(m);
    unlink(path);
    free(path);
    rmdir(dir);
    free(text);
}

/* The map in the ```json block after marker in doc, or NULL. */
static struct regmap_file *tr_docs_map(const char *doc, const char *marker)
{
    const char *begin = doc ? strstr(doc, marker) : NULL;
    const char *end;
    struct regmap_file *m = NULL;
    struct error_detail ed;

    begin = begin ? strstr(begin, "```json\n") : NULL;
    end = begin ? strstr(begin + 8, "```") : NULL;
    CHECK(begin && end);
    if (begin && end &&
        regmap_file_parse(begin + 8, (size_t)(end - begin - 8), "docs", &m, &ed) != ERROR_OK) {
        fprintf(stderr, "docs example %s: %s\n", marker, ed.text);
    }
    CHECK(m != NULL);
    return m;
}

/* The worked examples of docs/devices.md (a charger, a meter) are valid maps. */
static void test_docs_example(void)
{
    char *path = alloc_printf("%s/docs/devices.md", tr_source_dir());
    char *doc = NULL;
    size_t len = 0;
    struct error_detail ed;
    struct regmap_file *m;
    struct regmap_plan p;

    CHECK(fileio_read_all(path, 1 << 20, &doc, &len, &ed) == ERROR_OK);
    m = tr_docs_map(doc, "<!-- regmap-example:begin -->");
    if (m) {
        CHECK(strcmp(m->id, "example-wallbox") == 0);
        regmap_plan_reads(m, &p);
        CHECK(p.n_blocks == 2 && tr_block_is(&p, 0, REGMAP_FILE_HOLDING, 10, 3) &&
              tr_block_is(&p, 1, REGMAP_FILE_INPUT, 0, 8));
        CHECK(regmap_state(&m->field[REGMAP_FILE_STATUS], -1) == REGMAP_FILE_FAULT);
    }
    regmap_file_free(m);
    m = tr_docs_map(doc, "<!-- regmap-meter-example:begin -->");
    if (m) {
        CHECK(strcmp(m->id, "example-meter") == 0 && m->kind == REGMAP_FILE_KIND_METER);
        regmap_plan_reads(m, &p);
        CHECK(p.n_blocks == 1 && tr_block_is(&p, 0, REGMAP_FILE_HOLDING, 100, 6));
    }
    regmap_file_free(m);
    free(doc);
    free(path);
}

int main(int argc, char **argv)
{
    long seed = 20270717;

    if (argc > 1 && numparse_long(argv[1], 0, 2147483647L, &seed) != ERROR_OK) {
        fprintf(stderr, "usage: %s [SEED]\n", argv[0]);
        return 2;
    }
    test_decode_types();
    test_decode_errors_scale_mask();
    test_encode_types();
    test_encode_rounding_range();
    test_round_trip_random((uint64_t)seed);
    test_state();
    test_parse_base();
    test_parse_rules_keys();
    test_parse_rules_values();
    test_parse_rules_codes();
    test_parse_rules_setpoints();
    test_parse_rules_layout();
    test_parse_input_caps();
    test_parse_meter();
    test_parse_meter_rules();
    test_map_for_device();
    test_plan();
    test_shipped_maps();
    test_shipped_contents();
    test_load_name();
    test_docs_example();
    return CHECK_DONE();
}
