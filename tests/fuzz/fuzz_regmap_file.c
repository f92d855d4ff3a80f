/* SPDX-License-Identifier: MIT */
/*
 * fuzz_regmap_file.c - libFuzzer target for the register map parser
 * (connector and meter maps). Any byte string must give either a valid map
 * or an error with a terminated message; a valid map must print
 * (regmap_file_dump) as a file that parses back and prints identically,
 * have the fields its kind requires and none of the other kind's, plan
 * reads that cover every field within the Modbus read size, and encode
 * every setpoint's range ends.
 * Replayed over tests/fuzz/corpus/fuzz_regmap_file/ by ctest.
 */
#include "../../config/regmap_file.h"
#include "../../io/regmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_round_trip(const struct regmap_file *m)
{
    struct regmap_file *again = NULL;
    struct error_detail ed;
    char *d1 = regmap_file_dump(m);
    char *d2 = NULL;

    if (regmap_file_parse(d1, strlen(d1), "dump", &again, &ed) != ERROR_OK) {
        abort(); /* a valid map must print as a valid file */
    }
    d2 = regmap_file_dump(again);
    if (strcmp(d1, d2) != 0) {
        abort();
    }
    regmap_file_free(again);
    free(d1);
    free(d2);
}

/* Every present field lies inside exactly one planned read. */
static void fuzz_plan(const struct regmap_file *m)
{
    struct regmap_plan p;

    regmap_plan_reads(m, &p);
    for (int i = 0; i < p.n_blocks; i++) {
        if (p.block[i].count < 1 || p.block[i].count > m->max_read) {
            abort();
        }
    }
    for (int r = 0; r < REGMAP_FILE_ROLES; r++) {
        const struct regmap_file_field *f = &m->field[r];
        int words = regmap_file_words(f->type);
        int in = 0;

        for (int i = 0; i < p.n_blocks && m->present[r]; i++) {
            in += p.block[i].table == f->table && f->readback >= p.block[i].address &&
                  f->readback + words <= p.block[i].address + p.block[i].count;
        }
        if (m->present[r] && in != 1) {
            abort();
        }
    }
}

/* A connector map has every connector role it needs and no meter role; a
 * meter map has its power and no connector role. */
static void fuzz_kind(const struct regmap_file *m)
{
    int meter = m->kind == REGMAP_FILE_KIND_METER;

    if (!m->present[REGMAP_FILE_POWER] || (!meter && !m->present[REGMAP_FILE_HEARTBEAT])) {
        abort();
    }
    for (int r = 0; r < REGMAP_FILE_ROLES; r++) {
        int meter_role = r == REGMAP_FILE_POWER || r == REGMAP_FILE_VOLTAGE ||
                         r == REGMAP_FILE_ENERGY_IMPORT || r == REGMAP_FILE_ENERGY_EXPORT;
        int connector_role = r < REGMAP_FILE_ENERGY_IMPORT;

        if (m->present[r] && !(meter ? meter_role : connector_role)) {
            abort();
        }
    }
}

/* A validated setpoint range encodes at both ends. */
static void fuzz_setpoints(const struct regmap_file *m)
{
    uint16_t regs[2];
    struct error_detail ed;

    for (int r = REGMAP_FILE_LIMIT; r <= REGMAP_FILE_HEARTBEAT; r++) {
        const struct regmap_file_field *f = &m->field[r];

        if (!m->present[r]) {
            continue; /* a meter map has no setpoints */
        }
        if (regmap_encode(f, f->min, regs, &ed) != ERROR_OK ||
            regmap_encode(f, f->max, regs, &ed) != ERROR_OK) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct regmap_file *m = NULL;
    struct error_detail ed;
    char *text = malloc(size + 1);
    int rc;

    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    memset(&ed, 0, sizeof(ed));
    rc = regmap_file_parse(text, size, "fuzz.json", &m, &ed);
    if ((rc == ERROR_OK) != (m != NULL) || memchr(ed.text, '\0', sizeof(ed.text)) == NULL) {
        abort();
    }
    if (m) {
        fuzz_round_trip(m);
        fuzz_kind(m);
        fuzz_plan(m);
        fuzz_setpoints(m);
    }
    regmap_file_free(m);
    free(text);
    return 0;
}
