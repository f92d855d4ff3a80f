/* SPDX-License-Identifier: MIT */
/*
 * test_sunspec.c - SunSpec without a network: the point tables against
 * their own invariants, decode/encode with scale factors and every "not
 * implemented" value, discovery and the chain walk on crafted register
 * maps (marker at 0, 40000, 50000; exceptions while probing; loop, overrun,
 * short length, missing end marker, too many models), simulator images
 * round trips, and the client's read helpers and verified writes over an
 * in-memory transport that can drop writes.
 */
#include "check.h"

#include "../../common/alloc.h"
#include "../../io/sunspec.h"
#include "../../io/sunspec_models.h"
#include "../../sim/sunspec_image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- an in-memory device: the whole 16-bit address space ---- */

struct mem_dev {
    uint16_t *space; /* 65536 registers */
    uint32_t lo, hi; /* reads and writes outside [lo, hi) get an exception */
    int drop_writes; /* acknowledge writes without storing them */
    int n_reads;
    int n_writes;
};

static int
mem_read(void *ctx, uint16_t addr, uint16_t count, uint16_t *dst, struct error_detail *ed)
{
    struct mem_dev *d = ctx;

    d->n_reads++;
    if (addr < d->lo || (uint32_t)addr + count > d->hi) {
        return error_setf(ed, ERROR_IO, "read %u at %u: Illegal data address", count, addr);
    }
    memcpy(dst, d->space + addr, count * sizeof(*dst));
    return ERROR_OK;
}

static int
mem_write(void *ctx, uint16_t addr, uint16_t count, const uint16_t *src, struct error_detail *ed)
{
    struct mem_dev *d = ctx;

    d->n_writes++;
    if (addr < d->lo || (uint32_t)addr + count > d->hi) {
        return error_setf(ed, ERROR_IO, "write %u at %u: Illegal data address", count, addr);
    }
    if (!d->drop_writes) {
        memcpy(d->space + addr, src, count * sizeof(*src));
    }
    return ERROR_OK;
}

static void mem_init(struct mem_dev *d, uint32_t lo, uint32_t hi)
{
    memset(d, 0, sizeof(*d));
    d->space = alloc_array(65536, sizeof(uint16_t));
    d->lo = lo;
    d->hi = hi;
}

static struct sunspec *mem_client(struct mem_dev *d, const char *name)
{
    struct sunspec_transport t = {mem_read, mem_write, d};

    return sunspec_new(name, &t);
}

/* An image copied into d's address space; only its registers answer. */
static struct sunspec_image *mem_image(struct mem_dev *d, const struct sunspec_image_config *cfg)
{
    struct sunspec_image *img = NULL;
    struct error_detail ed = {{0}};

    CHECK(sunspec_image_new(cfg, &img, &ed) == ERROR_OK);
    mem_init(d, cfg->base, cfg->base + sunspec_image_size(img));
    memcpy(d->space + cfg->base, sunspec_image_regs(img), sunspec_image_size(img) * 2);
    return img;
}

/* Copy d's registers back into the image so the image getters see writes. */
static void mem_sync(struct mem_dev *d, struct sunspec_image *img)
{
    memcpy(sunspec_image_regs(img),
           d->space + sunspec_image_base(img),
           sunspec_image_size(img) * 2);
}

/* A model header plus every table point "not implemented" at addr. */
static uint32_t put_model(uint16_t *space, uint32_t addr, uint16_t id, uint16_t length)
{
    const struct sunspec_models_def *def = sunspec_models_find(id);

    space[addr] = id;
    space[addr + 1] = length;
    for (size_t k = 0; def && k < def->n_points; k++) {
        sunspec_models_put_absent(def, space + addr + 2, length, def->points[k].name, NULL);
    }
    return addr + 2 + length;
}

static double dec(const struct sunspec_models_def *m, const uint16_t *body, const char *point)
{
    struct sunspec_models_value v;

    if (sunspec_models_decode(m, body, m->length, point, &v, NULL) || !v.present) {
        return NAN;
    }
    return v.value;
}

/* ---- tables ---- */

static void test_tables(void)
{
    CHECK(sunspec_models_count() == 16);
    for (size_t i = 0; i < sunspec_models_count(); i++) {
        const struct sunspec_models_def *m = sunspec_models_at(i);
        unsigned need = 0;
        int sf_ok = 1, disjoint = 1;

        CHECK(sunspec_models_find(m->id) == m);
        for (size_t k = 0; k < m->n_points; k++) {
            const struct sunspec_models_point *p = &m->points[k];
            const struct sunspec_models_point *sf = sunspec_models_point(m, p->sf);

            need = p->offset + p->size > need ? p->offset + p->size : need;
            sf_ok &= !p->sf || (sf && sf->type == SUNSPEC_MODELS_SUNSSF);
            for (size_t j = k + 1; j < m->n_points; j++) {
                const struct sunspec_models_point *q = &m->points[j];

                disjoint &= p->offset + p->size <= q->offset || q->offset + q->size <= p->offset;
                disjoint &= strcmp(p->name, q->name) != 0;
            }
        }
        CHECK(sf_ok);
        CHECK(disjoint);
        CHECK(need == m->need);
        CHECK(m->need <= m->length);
    }
    /* spot checks against the SunSpec model JSON */
    CHECK(sunspec_models_point(sunspec_models_find(103), "W")->offset == 12);
    CHECK(sunspec_models_point(sunspec_models_find(123), "WMaxLimPct_SF")->offset == 21);
    CHECK(sunspec_models_point(sunspec_models_find(124), "InOutWRte_SF")->offset == 23);
    CHECK(sunspec_models_point(sunspec_models_find(203), "TotWh_SF")->offset == 52);
    CHECK(sunspec_models_point(sunspec_models_find(701), "W_SF")->offset == 114);
    CHECK(sunspec_models_point(sunspec_models_find(704), "WMaxLimPct_SF")->offset == 52);
    CHECK(sunspec_models_point(sunspec_models_find(713), "SoC")->offset == 2);
    CHECK(sunspec_models_point(sunspec_models_find(802), "SoC_SF")->offset == 54);
    CHECK(sunspec_models_find(999) == NULL);
    CHECK(strcmp(sunspec_models_type_name(SUNSPEC_MODELS_ACC32), "acc32") == 0);
}

/* ---- decode / encode ---- */

static void test_decode(void)
{
    const struct sunspec_models_def *inv = sunspec_models_find(103);
    const struct sunspec_models_def *ctl = sunspec_models_find(704);
    const struct sunspec_models_def *der = sunspec_models_find(701);
    uint16_t b[160];
    struct sunspec_models_value v;
    struct error_detail ed = {{0}};

    put_model(b, 0, 103, 50);
    b[2 + 13] = 0xFFFF;                    /* W_SF = -1 */
    b[2 + 12] = (uint16_t)(65536 - 12345); /* W = -12345 raw */
    CHECK_NEAR(dec(inv, b + 2, "W"), -1234.5, 1e-9);
    CHECK(sunspec_models_decode(inv, b + 2, 50, "W", &v, NULL) == ERROR_OK && v.sf == -1);
    b[2 + 22] = 0x0001; /* WH acc32 = 65536 */
    b[2 + 23] = 0x0000;
    b[2 + 24] = 2; /* WH_SF */
    CHECK_NEAR(dec(inv, b + 2, "WH"), 6553600.0, 1e-6);
    b[2 + 36] = 4;
    CHECK_NEAR(dec(inv, b + 2, "St"), 4.0, 0);

    /* the "not implemented" value of each type is absent, never a number */
    b[2 + 12] = 0x8000;
    CHECK(isnan(dec(inv, b + 2, "W")));
    CHECK(sunspec_models_decode(inv, b + 2, 50, "W", &v, NULL) == ERROR_OK && !v.present);
    b[2 + 12] = 100;
    b[2 + 13] = 0x8000; /* SF not implemented: W cannot be scaled */
    CHECK(isnan(dec(inv, b + 2, "W")));
    b[2 + 22] = 0;
    CHECK(isnan(dec(inv, b + 2, "WH"))); /* acc32 0 */
    b[2 + 36] = 0xFFFF;
    CHECK(isnan(dec(inv, b + 2, "St"))); /* enum16 */
    b[2 + 0] = 0xFFFF;
    CHECK(isnan(dec(inv, b + 2, "A"))); /* uint16 */
    b[2 + 38] = 0xFFFF;
    b[2 + 39] = 0xFFFF;
    CHECK(isnan(dec(inv, b + 2, "Evt1"))); /* bitfield32 */

    put_model(b, 0, 704, 65);
    b[2 + 16] = 0x0001; /* WMaxLimPctRvrtTms uint32 = 65538 */
    b[2 + 17] = 0x0002;
    CHECK_NEAR(dec(ctl, b + 2, "WMaxLimPctRvrtTms"), 65538.0, 0);
    b[2 + 16] = 0xFFFF;
    b[2 + 17] = 0xFFFF;
    CHECK(isnan(dec(ctl, b + 2, "WMaxLimPctRvrtTms")));
    b[2 + 53] = 1;      /* WSet_SF */
    b[2 + 22] = 0xFFFF; /* WSet int32 = -2 */
    b[2 + 23] = 0xFFFE;
    CHECK_NEAR(dec(ctl, b + 2, "WSet"), -20.0, 0);
    b[2 + 22] = 0x8000;
    b[2 + 23] = 0x0000;
    CHECK(isnan(dec(ctl, b + 2, "WSet")));

    put_model(b, 0, 701, 153);
    b[2 + 118] = 0; /* TotWh_SF */
    b[2 + 17] = 0;
    b[2 + 18] = 0;
    b[2 + 19] = 1;
    b[2 + 20] = 0;
    CHECK_NEAR(dec(der, b + 2, "TotWhInj"), 65536.0, 0);
    b[2 + 19] = 0xFFFF;
    b[2 + 17] = b[2 + 18] = b[2 + 20] = 0xFFFF;
    CHECK(isnan(dec(der, b + 2, "TotWhInj"))); /* uint64 */

    /* faults are errors that name model, point and value */
    put_model(b, 0, 103, 50);
    b[2 + 12] = 5;
    b[2 + 13] = 11;
    CHECK(sunspec_models_decode(inv, b + 2, 50, "W", &v, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "W_SF = 11");
    CHECK(sunspec_models_decode(inv, b + 2, 50, "Watts", &v, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "Watts");
    CHECK(sunspec_models_decode(inv, b + 2, 10, "W", &v, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "past the model length 10");
    CHECK(sunspec_models_decode(sunspec_models_find(1), b + 2, 66, "Mn", &v, &ed) == ERROR_INVALID);
}

static void test_encode(void)
{
    const struct sunspec_models_def *inv = sunspec_models_find(103);
    const struct sunspec_models_def *ctl = sunspec_models_find(123);
    const struct sunspec_models_def *com = sunspec_models_find(1);
    uint16_t b[80];
    uint16_t raw[4];
    char s[40];
    struct error_detail ed = {{0}};

    put_model(b, 0, 123, 24);
    CHECK(sunspec_models_put(ctl, b + 2, 24, "WMaxLimPct", 42.5, &ed) == ERROR_STATE);
    CHECK_STR_CONTAINS(ed.text, "WMaxLimPct_SF is not implemented");
    CHECK(sunspec_models_put(ctl, b + 2, 24, "WMaxLimPct_SF", -2, NULL) == ERROR_OK);
    CHECK(sunspec_models_put(ctl, b + 2, 24, "WMaxLimPct", 42.5, NULL) == ERROR_OK);
    CHECK(b[2 + 3] == 4250);
    CHECK_NEAR(dec(ctl, b + 2, "WMaxLimPct"), 42.5, 1e-12);
    CHECK(sunspec_models_put(ctl, b + 2, 24, "WMaxLimPct", 0.29, NULL) == ERROR_OK);
    CHECK(b[2 + 3] == 29);
    CHECK(sunspec_models_put(ctl, b + 2, 24, "WMaxLimPct", 655.35, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "655.35");
    CHECK(sunspec_models_put(ctl, b + 2, 24, "WMaxLimPct", NAN, &ed) == ERROR_RANGE);
    CHECK(sunspec_models_put(ctl, b + 2, 24, "WMaxLim_Ena", 0.5, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "whole number");
    CHECK(sunspec_models_put(ctl, b + 2, 24, "WMaxLimPct_SF", 11, &ed) == ERROR_RANGE);

    put_model(b, 0, 103, 50);
    CHECK(sunspec_models_put(inv, b + 2, 50, "W_SF", -1, NULL) == ERROR_OK);
    CHECK(b[2 + 13] == 0xFFFF);
    CHECK(sunspec_models_put(inv, b + 2, 50, "W", -1234.5, NULL) == ERROR_OK);
    CHECK_NEAR(dec(inv, b + 2, "W"), -1234.5, 1e-9);
    /* -3276.8 would be raw -32768, the int16 "not implemented" value */
    CHECK(sunspec_models_encode(inv, b + 2, 50, "W", -3276.8, raw, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "model 103 point W");
    CHECK(sunspec_models_put(inv, b + 2, 50, "WH_SF", 0, NULL) == ERROR_OK);
    CHECK(sunspec_models_put(inv, b + 2, 50, "WH", 4000000000.0, NULL) == ERROR_OK);
    CHECK_NEAR(dec(inv, b + 2, "WH"), 4000000000.0, 0);
    CHECK(sunspec_models_put_absent(inv, b + 2, 50, "W", NULL) == ERROR_OK);
    CHECK(b[2 + 12] == 0x8000);

    put_model(b, 0, 1, 66);
    CHECK(sunspec_models_get_string(com, b + 2, 66, "Mn", s, sizeof(s), NULL) == ERROR_OK);
    CHECK(strcmp(s, "") == 0);
    CHECK(sunspec_models_put_string(com, b + 2, 66, "Mn", "flexd", NULL) == ERROR_OK);
    CHECK(b[2] == (('f' << 8) | 'l'));
    CHECK(sunspec_models_get_string(com, b + 2, 66, "Mn", s, sizeof(s), NULL) == ERROR_OK);
    CHECK(strcmp(s, "flexd") == 0);
    CHECK(sunspec_models_get_string(com, b + 2, 66, "Mn", s, 4, NULL) == ERROR_OK);
    CHECK(strcmp(s, "fle") == 0);
    CHECK(sunspec_models_put_string(com, b + 2, 66, "Vr", "123456789012345678", &ed) ==
          ERROR_RANGE);
    CHECK(sunspec_models_get_string(com, b + 2, 66, "DA", s, sizeof(s), &ed) == ERROR_INVALID);
}

/* ---- discovery ---- */

static void test_discover_images(void)
{
    struct sunspec_image_config pv = {SUNSPEC_IMAGE_PV, 40000, 100.0, 0, 0, 0, NULL};
    struct sunspec_image_config meter = {SUNSPEC_IMAGE_METER, 50000, 200.0, 0, 0, 0, NULL};
    struct sunspec_image_config ess = {SUNSPEC_IMAGE_STORAGE, 0, 50.0, 100.0, 0, 0, NULL};
    static const uint16_t pv_ids[] = {1, 103, 120, 121, 123};
    static const uint16_t pv_addr[] = {40002, 40070, 40122, 40150, 40182};
    struct error_detail ed = {{0}};
    struct sunspec_image *img;
    struct sunspec *s;
    struct mem_dev d;

    /* 40000: base 0 answers with an exception first */
    img = mem_image(&d, &pv);
    s = mem_client(&d, "pv1");
    CHECK(sunspec_discover(s, &ed) == ERROR_OK);
    CHECK(sunspec_base(s) == 40000);
    CHECK(sunspec_model_count(s) == 5);
    for (size_t i = 0; i < 5 && i < sunspec_model_count(s); i++) {
        CHECK(sunspec_model_at(s, i)->id == pv_ids[i]);
        CHECK(sunspec_model_at(s, i)->addr == pv_addr[i]);
    }
    CHECK(sunspec_model_at(s, 5) == NULL);
    CHECK(sunspec_find(s, 123)->length == 24);
    CHECK(sunspec_find(s, 704) == NULL);
    sunspec_free(s);
    sunspec_image_free(img);
    free(d.space);

    /* 50000: exceptions at 0 and 40000 */
    img = mem_image(&d, &meter);
    s = mem_client(&d, "meter1");
    CHECK(sunspec_discover(s, &ed) == ERROR_OK);
    CHECK(sunspec_base(s) == 50000);
    CHECK(sunspec_model_count(s) == 2 && sunspec_find(s, 203)->addr == 50070);
    sunspec_free(s);
    sunspec_image_free(img);
    free(d.space);

    /* 0: found on the first probe */
    img = mem_image(&d, &ess);
    s = mem_client(&d, "ess1");
    CHECK(sunspec_discover(s, &ed) == ERROR_OK);
    CHECK(sunspec_base(s) == 0 && d.n_reads == 1 + 5);
    CHECK(sunspec_find(s, 124) && sunspec_find(s, 802) && sunspec_find(s, 103));
    sunspec_free(s);
    sunspec_image_free(img);
    free(d.space);
}

/* Run discovery on d and return rc; ed gets the message. */
static int discover(struct mem_dev *d, struct error_detail *ed)
{
    struct sunspec *s = mem_client(d, "dev");
    int rc = sunspec_discover(s, ed);

    if (rc) {
        CHECK(sunspec_model_count(s) == 0);
    }
    sunspec_free(s);
    return rc;
}

static void test_discover_broken(void)
{
    struct error_detail ed = {{0}};
    struct mem_dev d;
    uint32_t a;

    /* zeros at 0 (readable, not a marker), marker at 40000, old 65-register common */
    mem_init(&d, 0, 65536);
    d.space[40000] = 0x5375;
    d.space[40001] = 0x6E53;
    a = put_model(d.space, 40002, 1, 65);
    a = put_model(d.space, a, 203, 105);
    d.space[a] = 0xFFFF;
    CHECK(discover(&d, &ed) == ERROR_OK);

    /* end marker missing: the next "header" reads 0 */
    d.space[a] = 0;
    CHECK(discover(&d, &ed) == ERROR_PARSE);
    CHECK_STR_CONTAINS(ed.text, "missing end marker");
    /* end marker missing and the map ends there: exception on the header read */
    d.hi = a;
    CHECK(discover(&d, &ed) == ERROR_IO);
    CHECK_STR_CONTAINS(ed.text, "no end marker");
    d.hi = 65536;

    /* a length that wraps a 16-bit address back onto itself (a loop) */
    d.space[40003] = 65534;
    CHECK(discover(&d, &ed) == ERROR_PARSE);
    CHECK_STR_CONTAINS(ed.text, "wrap to 40002");

    /* a length that runs past 65535 */
    memset(d.space, 0, 65536 * 2);
    d.space[50000] = 0x5375;
    d.space[50001] = 0x6E53;
    put_model(d.space, 50002, 103, 50);
    d.space[50003] = 16000;
    CHECK(discover(&d, &ed) == ERROR_PARSE);
    CHECK_STR_CONTAINS(ed.text, "model 103 at 50002: length 16000 runs past register 65535");

    /* a known model too short for its points */
    d.space[50003] = 20;
    CHECK(discover(&d, &ed) == ERROR_PARSE);
    CHECK_STR_CONTAINS(ed.text, "length 20 is shorter than the 42 registers");

    /* a chain of empty vendor models that never ends */
    memset(d.space, 0, 65536 * 2);
    d.space[50000] = 0x5375;
    d.space[50001] = 0x6E53;
    for (a = 50002; a + 2 <= 65536; a += 2) {
        d.space[a] = 64001;
        d.space[a + 1] = 0;
    }
    CHECK(discover(&d, &ed) == ERROR_PARSE);
    CHECK_STR_CONTAINS(ed.text, "more than 64 models");

    /* no marker anywhere, and no base readable at all */
    memset(d.space, 0, 65536 * 2);
    CHECK(discover(&d, &ed) == ERROR_PARSE);
    CHECK_STR_CONTAINS(ed.text, "base 0 holds 0x0000 0x0000");
    CHECK_STR_CONTAINS(ed.text, "base 50000 holds");
    d.lo = d.hi = 0;
    CHECK(discover(&d, &ed) == ERROR_IO);
    CHECK_STR_CONTAINS(ed.text, "base 40000: read 2 at 40000: Illegal data address");
    free(d.space);
}

/* ---- images ---- */

static void test_image(void)
{
    struct sunspec_image_config cfg = {SUNSPEC_IMAGE_PV, 40000, 100.0, 0, 0, 0, "PV-7"};
    struct sunspec_image_storage st;
    struct sunspec_models_value v;
    struct error_detail ed = {{0}};
    struct sunspec_image *img = NULL;
    uint16_t addr = 0;

    CHECK(sunspec_image_new(&cfg, &img, &ed) == ERROR_OK);
    CHECK(sunspec_image_size(img) == 2 + 68 + 52 + 28 + 32 + 26 + 2);
    CHECK(sunspec_image_regs(img)[0] == 0x5375 && sunspec_image_regs(img)[1] == 0x6E53);
    CHECK(sunspec_image_model_addr(img, 123, &addr) == ERROR_OK && addr == 40182);
    CHECK(sunspec_image_model_addr(img, 124, &addr) == ERROR_INVALID);
    CHECK(sunspec_image_set(img, 103, "W", 12340, NULL) == ERROR_OK);
    CHECK(sunspec_image_get(img, 103, "W", &v, NULL) == ERROR_OK);
    CHECK(v.present && v.sf == 1 && v.value == 12340.0);
    CHECK(sunspec_image_set(img, 103, "W", 12346, NULL) == ERROR_OK);
    CHECK(sunspec_image_get(img, 103, "W", &v, NULL) == ERROR_OK && v.value == 12350.0);
    CHECK(sunspec_image_set(img, 103, "W", 1e7, &ed) == ERROR_RANGE);
    CHECK(sunspec_image_set(img, 124, "InWRte", 1, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "model 124");
    CHECK(sunspec_image_get(img, 120, "WRtg", &v, NULL) == ERROR_OK && v.value == 100000.0);
    CHECK(sunspec_image_get(img, 123, "WMaxLimPct", &v, NULL) == ERROR_OK && v.sf == -2);
    CHECK(sunspec_image_pv_limit_pct(img) == 100.0);
    CHECK(sunspec_image_set(img, 123, "WMaxLimPct", 42.5, NULL) == ERROR_OK);
    CHECK(sunspec_image_pv_limit_pct(img) == 100.0);
    CHECK(sunspec_image_set(img, 123, "WMaxLim_Ena", 1, NULL) == ERROR_OK);
    CHECK(sunspec_image_pv_limit_pct(img) == 42.5);
    CHECK(sunspec_image_set_absent(img, 103, "W", NULL) == ERROR_OK);
    CHECK(sunspec_image_get(img, 103, "W", &v, NULL) == ERROR_OK && !v.present);
    CHECK(sunspec_image_storage_cmd(img, &st, &ed) == ERROR_INVALID);
    sunspec_image_free(img);

    cfg.der_controls = 1;
    CHECK(sunspec_image_new(&cfg, &img, NULL) == ERROR_OK);
    CHECK(sunspec_image_model_addr(img, 704, &addr) == ERROR_OK && addr == 40182);
    CHECK(sunspec_image_set(img, 704, "WMaxLimPct", 30, NULL) == ERROR_OK);
    CHECK(sunspec_image_set(img, 704, "WMaxLimPctEna", 1, NULL) == ERROR_OK);
    CHECK(sunspec_image_pv_limit_pct(img) == 30.0);
    sunspec_image_free(img);

    cfg = (struct sunspec_image_config){SUNSPEC_IMAGE_STORAGE, 0, 50.0, 200.0, 0, 1, NULL};
    CHECK(sunspec_image_new(&cfg, &img, NULL) == ERROR_OK);
    CHECK(sunspec_image_model_addr(img, 802, &addr) == ERROR_INVALID);
    CHECK(sunspec_image_get(img, 713, "SoC", &v, NULL) == ERROR_OK && v.value == 50.0);
    CHECK(sunspec_image_set(img, 713, "SoC", 73.4, NULL) == ERROR_OK);
    CHECK(sunspec_image_get(img, 713, "SoC", &v, NULL) == ERROR_OK);
    CHECK_NEAR(v.value, 73.4, 1e-12);
    CHECK(sunspec_image_get(img, 713, "WHRtg", &v, NULL) == ERROR_OK && v.value == 200000.0);
    CHECK(sunspec_image_storage_cmd(img, &st, NULL) == ERROR_OK);
    CHECK(st.mode == 0 && st.charge_limit_kw == 50.0 && st.discharge_limit_kw == 50.0);
    CHECK_NEAR(st.min_reserve, 0.1, 1e-12);
    sunspec_image_free(img);

    cfg = (struct sunspec_image_config){SUNSPEC_IMAGE_METER, 50000, 400.0, 0, 0, 0, NULL};
    CHECK(sunspec_image_new(&cfg, &img, NULL) == ERROR_OK);
    CHECK(sunspec_image_get(img, 203, "TotWhImp", &v, NULL) == ERROR_OK && !v.present);
    CHECK(sunspec_image_set(img, 203, "TotWhImp", 123450, NULL) == ERROR_OK);
    CHECK(sunspec_image_get(img, 203, "TotWhImp", &v, NULL) == ERROR_OK && v.present);
    CHECK(v.value == 123450.0 && v.sf == 1);
    sunspec_image_free(img);

    cfg.rated_kw = 0;
    CHECK(sunspec_image_new(&cfg, &img, &ed) == ERROR_INVALID && img == NULL);
    CHECK_STR_CONTAINS(ed.text, "rated_kw 0");
    cfg = (struct sunspec_image_config){SUNSPEC_IMAGE_STORAGE, 0, 50.0, 0, 0, 0, NULL};
    CHECK(sunspec_image_new(&cfg, &img, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "capacity_kwh");
    cfg = (struct sunspec_image_config){SUNSPEC_IMAGE_PV, 65500, 10.0, 0, 0, 0, NULL};
    CHECK(sunspec_image_new(&cfg, &img, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "past register 65535");
    cfg.base = 0;
    cfg.serial = "0123456789012345678901234567890123";
    CHECK(sunspec_image_new(&cfg, &img, &ed) == ERROR_INVALID);
}

/* ---- client over the in-memory transport ---- */

static void test_client_pv(int der_controls)
{
    struct sunspec_image_config cfg = {SUNSPEC_IMAGE_PV, 40000, 100.0, 0, der_controls, 0, "PV-1"};
    uint16_t ctl = der_controls ? 704 : 123;
    struct error_detail ed = {{0}};
    struct sunspec_models_value v;
    struct sunspec_pv pv;
    struct sunspec_image *img;
    struct sunspec *s;
    struct mem_dev d;
    char sn[40];

    img = mem_image(&d, &cfg);
    CHECK(sunspec_image_set(img, 103, "W", 55000, NULL) == ERROR_OK);
    memcpy(d.space + 40000, sunspec_image_regs(img), sunspec_image_size(img) * 2);
    s = mem_client(&d, "pv1");
    CHECK(sunspec_read_pv(s, &pv, &ed) == ERROR_STATE);
    CHECK(sunspec_discover(s, &ed) == ERROR_OK);
    CHECK(sunspec_read_pv(s, &pv, &ed) == ERROR_OK);
    CHECK(pv.model == 103 && pv.power_kw == 55.0 && pv.state == 2);
    CHECK(isnan(pv.energy_kwh) && pv.rated_kw == 100.0 && pv.wmax_kw == 100.0);
    CHECK(pv.limit_pct == 100.0);
    CHECK(sunspec_read_model(s, 1, NULL) == ERROR_OK);
    CHECK(sunspec_string(s, 1, "SN", sn, sizeof(sn), NULL) == ERROR_OK && !strcmp(sn, "PV-1"));

    d.n_writes = 0;
    CHECK(sunspec_set_pv_limit(s, 42.5, 60, &ed) == ERROR_OK);
    CHECK(d.n_writes == 3);
    mem_sync(&d, img);
    CHECK(sunspec_image_pv_limit_pct(img) == 42.5);
    CHECK(sunspec_image_get(img,
                            ctl,
                            der_controls ? "WMaxLimPctRvrtTms" : "WMaxLimPct_RvrtTms",
                            &v,
                            NULL) == ERROR_OK);
    CHECK(v.value == 60.0);
    CHECK(sunspec_read_pv(s, &pv, NULL) == ERROR_OK && pv.limit_pct == 42.5);
    CHECK(sunspec_clear_pv_limit(s, &ed) == ERROR_OK);
    mem_sync(&d, img);
    CHECK(sunspec_image_pv_limit_pct(img) == 100.0);

    /* a 70000 s timeout fits 704's uint32 but not 123's uint16 */
    if (der_controls) {
        CHECK(sunspec_set_pv_limit(s, 10, 70000, &ed) == ERROR_OK);
    } else {
        CHECK(sunspec_set_pv_limit(s, 10, 70000, &ed) == ERROR_RANGE);
        CHECK_STR_CONTAINS(ed.text, "pv1: model 123 point WMaxLimPct_RvrtTms: value 70000");
    }
    CHECK(sunspec_set_pv_limit(s, 150, 60, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "pv1: PV limit 150 % is outside 0..100");
    CHECK(sunspec_write_point(s, 103, "W", 1, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "read-only");

    /* a device that acknowledges but ignores writes fails the read-back */
    d.drop_writes = 1;
    CHECK(sunspec_set_pv_limit(s, 33, 60, &ed) == ERROR_STATE);
    CHECK_STR_CONTAINS(ed.text, "point WMaxLimPct: wrote 33, read back");
    CHECK_STR_CONTAINS(ed.text, der_controls ? "pv1: model 704" : "pv1: model 123");

    /* the register map moved under the client */
    d.space[40183] = 25;
    CHECK(sunspec_read_model(s, 1, NULL) == ERROR_OK);
    CHECK(sunspec_read_model(s, ctl, &ed) == ERROR_STATE);
    CHECK_STR_CONTAINS(ed.text, "discover again");
    sunspec_free(s);
    sunspec_image_free(img);
    free(d.space);
}

static void test_client_storage(int der_storage)
{
    struct sunspec_image_config cfg =
        {SUNSPEC_IMAGE_STORAGE, 40000, 50.0, 100.0, 0, der_storage, NULL};
    struct sunspec_storage_cmd cmd = {25.0, NAN, 0.2, 120};
    struct sunspec_image_storage st;
    struct error_detail ed = {{0}};
    struct sunspec_battery b;
    struct sunspec_image *img;
    struct sunspec *s;
    struct mem_dev d;

    img = mem_image(&d, &cfg);
    CHECK(sunspec_image_set(img, der_storage ? 713 : 802, "SoC", 64.3, NULL) == ERROR_OK);
    CHECK(sunspec_image_set(img, 103, "W", -12000, NULL) == ERROR_OK);
    memcpy(d.space + 40000, sunspec_image_regs(img), sunspec_image_size(img) * 2);
    s = mem_client(&d, "ess1");
    CHECK(sunspec_discover(s, &ed) == ERROR_OK);
    CHECK(sunspec_read_battery(s, &b, &ed) == ERROR_OK);
    CHECK_NEAR(b.soc, 0.643, 1e-12);
    CHECK(b.soc_model == (der_storage ? 713 : 802));
    CHECK(b.max_charge_kw == 50.0 && b.charge_state == 6);
    CHECK_NEAR(b.min_reserve, 0.1, 1e-12);
    CHECK(b.power_kw == (der_storage ? -12.0 : 0.0));

    CHECK(sunspec_set_storage(s, &cmd, &ed) == ERROR_OK);
    mem_sync(&d, img);
    CHECK(sunspec_image_storage_cmd(img, &st, NULL) == ERROR_OK);
    CHECK(st.mode == SUNSPEC_MODELS_STORCTL_CHARGE && st.charge_limit_kw == 25.0);
    CHECK(st.discharge_limit_kw == 50.0 && st.revert_s == 120);
    CHECK_NEAR(st.min_reserve, 0.2, 1e-12);

    cmd = (struct sunspec_storage_cmd){NAN, 10.0, NAN, 0};
    CHECK(sunspec_set_storage(s, &cmd, &ed) == ERROR_OK);
    mem_sync(&d, img);
    CHECK(sunspec_image_storage_cmd(img, &st, NULL) == ERROR_OK);
    CHECK(st.mode == SUNSPEC_MODELS_STORCTL_DISCHARGE && st.discharge_limit_kw == 10.0);
    CHECK(st.charge_limit_kw == 50.0 && st.revert_s == 0);
    CHECK_NEAR(st.min_reserve, 0.2, 1e-12);

    cmd = (struct sunspec_storage_cmd){60.0, NAN, NAN, 0};
    CHECK(sunspec_set_storage(s, &cmd, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "ess1: model 124 point InWRte: limit 60 kW is 120 %");
    cmd = (struct sunspec_storage_cmd){10.0, NAN, 1.5, 0};
    CHECK(sunspec_set_storage(s, &cmd, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "reserve 1.5");

    d.drop_writes = 1;
    cmd = (struct sunspec_storage_cmd){5.0, 5.0, NAN, 30};
    CHECK(sunspec_set_storage(s, &cmd, &ed) == ERROR_STATE);
    CHECK_STR_CONTAINS(ed.text, "ess1: model 124 point InWRte: wrote 10, read back 50");
    d.drop_writes = 0;

    CHECK(sunspec_image_set(img, 124, "WChaMax", 0, NULL) == ERROR_OK);
    memcpy(d.space + 40000, sunspec_image_regs(img), sunspec_image_size(img) * 2);
    CHECK(sunspec_set_storage(s, &cmd, &ed) == ERROR_STATE);
    CHECK_STR_CONTAINS(ed.text, "WChaMax");
    sunspec_free(s);
    sunspec_image_free(img);
    free(d.space);
}

static void test_client_meter_and_701(void)
{
    struct sunspec_image_config cfg = {SUNSPEC_IMAGE_METER, 40000, 200.0, 0, 0, 0, NULL};
    const struct sunspec_models_def *der = sunspec_models_find(701);
    struct error_detail ed = {{0}};
    struct sunspec_meter m;
    struct sunspec_pv pv;
    struct sunspec_image *img;
    struct sunspec *s;
    struct mem_dev d;
    uint32_t a;

    img = mem_image(&d, &cfg);
    CHECK(sunspec_image_set(img, 203, "W", -15230, NULL) == ERROR_OK);
    CHECK(sunspec_image_set(img, 203, "A", 22.1, NULL) == ERROR_OK);
    CHECK(sunspec_image_set(img, 203, "TotWhImp", 123450, NULL) == ERROR_OK);
    memcpy(d.space + 40000, sunspec_image_regs(img), sunspec_image_size(img) * 2);
    s = mem_client(&d, "grid");
    CHECK(sunspec_discover(s, &ed) == ERROR_OK);
    CHECK(sunspec_read_meter(s, &m, &ed) == ERROR_OK);
    CHECK(m.model == 203 && m.power_kw == -15.23);
    CHECK_NEAR(m.current_a, 22.1, 1e-9);
    CHECK(m.import_kwh == 123.45 && isnan(m.export_kwh));
    CHECK(sunspec_read_pv(s, &pv, &ed) == ERROR_STATE);
    CHECK_STR_CONTAINS(ed.text, "grid: no inverter model");
    CHECK(sunspec_set_pv_limit(s, 50, 0, &ed) == ERROR_STATE);
    sunspec_free(s);
    sunspec_image_free(img);
    free(d.space);

    /* a 700-series inverter: model 701 (155 registers, two reads) */
    mem_init(&d, 40000, 65536);
    d.space[40000] = 0x5375;
    d.space[40001] = 0x6E53;
    a = put_model(d.space, 40002, 1, 66);
    d.space[put_model(d.space, a, 701, 153)] = 0xFFFF;
    CHECK(sunspec_models_put(der, d.space + a + 2, 153, "W_SF", 1, NULL) == ERROR_OK);
    CHECK(sunspec_models_put(der, d.space + a + 2, 153, "W", 8120, NULL) == ERROR_OK);
    CHECK(sunspec_models_put(der, d.space + a + 2, 153, "InvSt", 3, NULL) == ERROR_OK);
    s = mem_client(&d, "pv2");
    CHECK(sunspec_discover(s, &ed) == ERROR_OK);
    d.n_reads = 0;
    CHECK(sunspec_read_pv(s, &pv, &ed) == ERROR_OK);
    CHECK(d.n_reads == 2);
    CHECK(pv.model == 701 && pv.power_kw == 8.12 && pv.state == 4 /* MPPT */);
    CHECK(isnan(pv.limit_pct) && isnan(pv.rated_kw));
    sunspec_free(s);
    free(d.space);
}

int main(void)
{
    test_tables();
    test_decode();
    test_encode();
    test_discover_images();
    test_discover_broken();
    test_image();
    test_client_pv(0);
    test_client_pv(1);
    test_client_storage(0);
    test_client_storage(1);
    test_client_meter_and_701();
    return CHECK_DONE();
}
