/* SPDX-License-Identifier: MIT */
/*
 * sunspec.c - SunSpec client: discovery, model reads, verified writes.
 *
 * Discovery never assumes addresses: it finds the "SunS" marker at one of
 * the three bases SunSpec allows and walks the (ID, L) chain, so a device
 * with an extra vendor model or a 65-register common model still maps
 * correctly. Each model block read is cached so several points decode from
 * one request. Writes go point by point in the order the SunSpec control
 * models expect (value, timeout, then enable), and the block is read back
 * to prove the device took them.
 *
 * The libmodbus transport at the bottom is the only code here that touches
 * libmodbus; its errno becomes ERROR_IO with modbus_strerror's text.
 * Owned by the thread that owns the device; no locking.
 */
#include "sunspec.h"

#include "../common/alloc.h"
#include "../common/logger.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SS_MARKER_HI 0x5375u /* "Su" */
#define SS_MARKER_LO 0x6E53u /* "nS" */

struct sunspec {
    char *name;
    struct sunspec_transport t;
    int discovered;
    uint16_t base;
    size_t n_models;
    struct sunspec_model_info models[SUNSPEC_MAX_MODELS];
    uint16_t *cache[SUNSPEC_MAX_MODELS]; /* ID, L and body of models[i]; NULL until read */
};

/* One point written by a helper, remembered for the read-back check. */
struct ss_write {
    const char *point;
    double value;
};

struct sunspec *sunspec_new(const char *name, const struct sunspec_transport *t)
{
    struct sunspec *s = ALLOC_NEW(struct sunspec);

    s->name = alloc_strdup(name ? name : "sunspec");
    s->t = *t;
    return s;
}

static void ss_forget(struct sunspec *s)
{
    for (size_t i = 0; i < s->n_models; i++) {
        free(s->cache[i]);
        s->cache[i] = NULL;
    }
    s->n_models = 0;
    s->discovered = 0;
    s->base = 0;
}

void sunspec_free(struct sunspec *s)
{
    if (!s) {
        return;
    }
    ss_forget(s);
    free(s->name);
    free(s);
}

const char *sunspec_name(const struct sunspec *s)
{
    return s->name;
}

uint16_t sunspec_base(const struct sunspec *s)
{
    return s->base;
}

size_t sunspec_model_count(const struct sunspec *s)
{
    return s->n_models;
}

const struct sunspec_model_info *sunspec_model_at(const struct sunspec *s, size_t i)
{
    return i < s->n_models ? &s->models[i] : NULL;
}

static int ss_index(const struct sunspec *s, uint16_t id)
{
    for (size_t i = 0; i < s->n_models; i++) {
        if (s->models[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

const struct sunspec_model_info *sunspec_find(const struct sunspec *s, uint16_t id)
{
    int i = ss_index(s, id);

    return i < 0 ? NULL : &s->models[i];
}

/* Walk the chain from base + 2. Addresses only grow (each step adds 2 + L),
 * so the one way a chain can loop is a 16-bit address wrapping past 65535;
 * the arithmetic is done in 32 bits and such a length is refused. */
static int ss_walk(struct sunspec *s, uint16_t base, struct error_detail *ed)
{
    uint32_t addr = (uint32_t)base + 2;

    for (;;) {
        const struct sunspec_models_def *def;
        struct error_detail why = {{0}};
        uint16_t hdr[2];
        uint32_t next;
        int rc;

        if (addr + 2 > 65536u) {
            return error_setf(ed,
                              ERROR_PARSE,
                              "%s: chain from base %u has no end marker 0xFFFF before register "
                              "65535",
                              s->name,
                              (unsigned)base);
        }
        rc = s->t.read(s->t.ctx, (uint16_t)addr, 2, hdr, &why);
        if (rc) {
            return error_setf(ed,
                              rc,
                              "%s: model header at %u (after %zu models) cannot be read, no end "
                              "marker 0xFFFF?: %s",
                              s->name,
                              (unsigned)addr,
                              s->n_models,
                              why.text);
        }
        if (hdr[0] == SUNSPEC_END_ID) {
            return ERROR_OK;
        }
        if (hdr[0] == 0) {
            return error_setf(ed,
                              ERROR_PARSE,
                              "%s: model id 0 at %u (after %zu models) is not a model: missing "
                              "end marker 0xFFFF",
                              s->name,
                              (unsigned)addr,
                              s->n_models);
        }
        if (s->n_models == SUNSPEC_MAX_MODELS) {
            return error_setf(ed,
                              ERROR_PARSE,
                              "%s: more than %d models in the chain at %u: refused as broken",
                              s->name,
                              SUNSPEC_MAX_MODELS,
                              (unsigned)addr);
        }
        next = addr + 2 + hdr[1];
        if (next > 65536u) {
            return error_setf(ed,
                              ERROR_PARSE,
                              "%s: model %u at %u: length %u runs past register 65535 (a 16-bit "
                              "address would wrap to %u and loop)",
                              s->name,
                              (unsigned)hdr[0],
                              (unsigned)addr,
                              (unsigned)hdr[1],
                              (unsigned)(next & 0xFFFFu));
        }
        def = sunspec_models_find(hdr[0]);
        if (def && hdr[1] < def->need) {
            return error_setf(ed,
                              ERROR_PARSE,
                              "%s: model %u at %u: length %u is shorter than the %u registers its "
                              "points need (SunSpec L is %u)",
                              s->name,
                              (unsigned)hdr[0],
                              (unsigned)addr,
                              (unsigned)hdr[1],
                              (unsigned)def->need,
                              (unsigned)def->length);
        }
        s->models[s->n_models].id = hdr[0];
        s->models[s->n_models].addr = (uint16_t)addr;
        s->models[s->n_models].length = hdr[1];
        s->n_models++;
        addr = next;
    }
}

int sunspec_discover(struct sunspec *s, struct error_detail *ed)
{
    static const uint16_t bases[] = SUNSPEC_BASES;
    char tried[3][160];
    int n_failed = 0;

    ss_forget(s);
    for (size_t i = 0; i < 3; i++) {
        struct error_detail why = {{0}};
        uint16_t r[2];
        int rc;

        rc = s->t.read(s->t.ctx, bases[i], 2, r, &why);
        if (rc) {
            snprintf(tried[i], sizeof(tried[i]), "base %u: %s", (unsigned)bases[i], why.text);
            n_failed++;
            continue;
        }
        if (r[0] != SS_MARKER_HI || r[1] != SS_MARKER_LO) {
            snprintf(tried[i],
                     sizeof(tried[i]),
                     "base %u holds 0x%04X 0x%04X",
                     (unsigned)bases[i],
                     (unsigned)r[0],
                     (unsigned)r[1]);
            continue;
        }
        rc = ss_walk(s, bases[i], ed);
        if (rc) {
            ss_forget(s);
            return rc;
        }
        s->discovered = 1;
        s->base = bases[i];
        LOGI("sunspec", "%s: SunSpec base %u, %zu models", s->name, (unsigned)s->base, s->n_models);
        return ERROR_OK;
    }
    return error_setf(ed,
                      n_failed == 3 ? ERROR_IO : ERROR_PARSE,
                      "%s: no SunSpec marker \"SunS\" (0x5375 0x6E53): %s; %s; %s",
                      s->name,
                      tried[0],
                      tried[1],
                      tried[2]);
}

static int ss_need_model(const struct sunspec *s, uint16_t id, int *idx, struct error_detail *ed)
{
    *idx = ss_index(s, id);
    if (!s->discovered) {
        return error_setf(ed, ERROR_STATE, "%s: model %u: device not discovered", s->name, id);
    }
    if (*idx < 0) {
        return error_setf(ed, ERROR_STATE, "%s: model %u: not in the device's chain", s->name, id);
    }
    return ERROR_OK;
}

int sunspec_read_model(struct sunspec *s, uint16_t id, struct error_detail *ed)
{
    const struct sunspec_model_info *m;
    uint16_t *buf = NULL;
    size_t total;
    int idx;
    int rc;

    rc = ss_need_model(s, id, &idx, ed);
    if (rc) {
        goto out;
    }
    m = &s->models[idx];
    total = (size_t)m->length + 2;
    buf = alloc_array(total, sizeof(*buf));
    for (size_t off = 0; off < total; off += SUNSPEC_READ_MAX) {
        size_t count = total - off < SUNSPEC_READ_MAX ? total - off : SUNSPEC_READ_MAX;
        struct error_detail why = {{0}};

        rc = s->t.read(s->t.ctx, (uint16_t)(m->addr + off), (uint16_t)count, buf + off, &why);
        if (rc) {
            rc = error_setf(ed,
                            rc,
                            "%s: model %u at %u: %s",
                            s->name,
                            id,
                            (unsigned)m->addr,
                            why.text);
            goto out;
        }
    }
    if (buf[0] != id || buf[1] != m->length) {
        rc = error_setf(ed,
                        ERROR_STATE,
                        "%s: model %u at %u: header now reads ID %u L %u (was L %u): the "
                        "register map changed, discover again",
                        s->name,
                        id,
                        (unsigned)m->addr,
                        (unsigned)buf[0],
                        (unsigned)buf[1],
                        (unsigned)m->length);
        goto out;
    }
    free(s->cache[idx]);
    s->cache[idx] = buf;
    buf = NULL;
out:
    free(buf);
    return rc;
}

/* The model's table and cached body; ERROR_STATE when not read yet. */
static int ss_cached(const struct sunspec *s,
                     uint16_t id,
                     int *idx,
                     const struct sunspec_models_def **def,
                     struct error_detail *ed)
{
    int rc = ss_need_model(s, id, idx, ed);

    if (rc) {
        return rc;
    }
    if (!s->cache[*idx]) {
        return error_setf(ed, ERROR_STATE, "%s: model %u: block not read yet", s->name, id);
    }
    *def = sunspec_models_find(id);
    if (!*def) {
        return error_setf(ed, ERROR_INVALID, "%s: model %u: flexd has no point table", s->name, id);
    }
    return ERROR_OK;
}

int sunspec_point(const struct sunspec *s,
                  uint16_t id,
                  const char *point,
                  struct sunspec_models_value *out,
                  struct error_detail *ed)
{
    const struct sunspec_models_def *def;
    int idx;
    int rc;

    out->present = 0;
    out->value = NAN;
    out->sf = 0;
    rc = ss_cached(s, id, &idx, &def, ed);
    if (rc) {
        return rc;
    }
    rc = sunspec_models_decode(def, s->cache[idx] + 2, s->models[idx].length, point, out, ed);
    if (rc) {
        error_prefix(ed, s->name);
    }
    return rc;
}

int sunspec_string(const struct sunspec *s,
                   uint16_t id,
                   const char *point,
                   char *buf,
                   size_t buf_size,
                   struct error_detail *ed)
{
    const struct sunspec_models_def *def;
    int idx;
    int rc;

    if (buf_size > 0) {
        buf[0] = '\0';
    }
    rc = ss_cached(s, id, &idx, &def, ed);
    if (rc) {
        return rc;
    }
    rc = sunspec_models_get_string(def,
                                   s->cache[idx] + 2,
                                   s->models[idx].length,
                                   point,
                                   buf,
                                   buf_size,
                                   ed);
    if (rc) {
        error_prefix(ed, s->name);
    }
    return rc;
}

int sunspec_write_point(struct sunspec *s,
                        uint16_t id,
                        const char *point,
                        double value,
                        struct error_detail *ed)
{
    const struct sunspec_models_def *def;
    const struct sunspec_models_point *p;
    struct error_detail why = {{0}};
    uint16_t raw[4];
    uint16_t addr;
    int idx;
    int rc;

    rc = ss_cached(s, id, &idx, &def, ed);
    if (rc) {
        return rc;
    }
    p = sunspec_models_point(def, point);
    if (p && !p->writable) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "%s: model %u point %s: read-only, value %g not written",
                          s->name,
                          id,
                          point,
                          value);
    }
    rc =
        sunspec_models_encode(def, s->cache[idx] + 2, s->models[idx].length, point, value, raw, ed);
    if (rc) {
        error_prefix(ed, s->name);
        return rc;
    }
    addr = (uint16_t)(s->models[idx].addr + 2 + p->offset);
    rc = s->t.write(s->t.ctx, addr, p->size, raw, &why);
    if (rc) {
        return error_setf(ed,
                          rc,
                          "%s: model %u point %s: writing %g at %u: %s",
                          s->name,
                          id,
                          point,
                          value,
                          (unsigned)addr,
                          why.text);
    }
    memcpy(s->cache[idx] + 2 + p->offset, raw, (size_t)p->size * sizeof(raw[0]));
    return ERROR_OK;
}

/* Write the points in order, read the block back and compare the raw
 * registers of each: a device that ignores or clamps a write is caught. */
#define SS_WRITES_MAX 8

static int ss_apply(struct sunspec *s,
                    uint16_t id,
                    const struct ss_write *w,
                    size_t n,
                    struct error_detail *ed)
{
    const struct sunspec_models_def *def = sunspec_models_find(id);
    uint16_t expect[SS_WRITES_MAX][4];
    int idx = ss_index(s, id);
    int rc;

    assert(def && idx >= 0 && n <= SS_WRITES_MAX);
    /* encode everything first: a bad value must not leave half a command */
    for (size_t i = 0; i < n; i++) {
        rc = sunspec_models_encode(def,
                                   s->cache[idx] + 2,
                                   s->models[idx].length,
                                   w[i].point,
                                   w[i].value,
                                   expect[i],
                                   ed);
        if (rc) {
            error_prefix(ed, s->name);
            return rc;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct sunspec_models_point *p = sunspec_models_point(def, w[i].point);

        rc = sunspec_write_point(s, id, w[i].point, w[i].value, ed);
        if (rc) {
            return rc;
        }
        memcpy(expect[i], s->cache[idx] + 2 + p->offset, (size_t)p->size * sizeof(uint16_t));
    }
    rc = sunspec_read_model(s, id, ed);
    if (rc) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        const struct sunspec_models_point *p = sunspec_models_point(def, w[i].point);
        struct sunspec_models_value got;
        char text[48];

        if (!memcmp(expect[i], s->cache[idx] + 2 + p->offset, (size_t)p->size * sizeof(uint16_t))) {
            continue;
        }
        sunspec_point(s, id, w[i].point, &got, NULL);
        if (got.present) {
            snprintf(text, sizeof(text), "%.10g", got.value);
        } else {
            snprintf(text, sizeof(text), "%s", "\"not implemented\"");
        }
        return error_setf(ed,
                          ERROR_STATE,
                          "%s: model %u point %s: wrote %g, read back %s",
                          s->name,
                          id,
                          w[i].point,
                          w[i].value,
                          text);
    }
    return ERROR_OK;
}

/* A point of a model already read, NAN when absent; rc from decode. */
static int
ss_get(const struct sunspec *s, uint16_t id, const char *point, double *v, struct error_detail *ed)
{
    struct sunspec_models_value val;
    int rc = sunspec_point(s, id, point, &val, ed);

    *v = val.present ? val.value : NAN;
    return rc;
}

static int ss_pv_limit_now(struct sunspec *s, double *pct, struct error_detail *ed)
{
    double ena = NAN;
    int rc = ERROR_OK;

    *pct = NAN;
    if (sunspec_find(s, 123)) {
        rc = sunspec_read_model(s, 123, ed);
        rc = rc ? rc : ss_get(s, 123, "WMaxLim_Ena", &ena, ed);
        rc = rc ? rc : ss_get(s, 123, "WMaxLimPct", pct, ed);
    } else if (sunspec_find(s, 704)) {
        rc = sunspec_read_model(s, 704, ed);
        rc = rc ? rc : ss_get(s, 704, "WMaxLimPctEna", &ena, ed);
        rc = rc ? rc : ss_get(s, 704, "WMaxLimPct", pct, ed);
    }
    if (!rc && ena != 1.0 && !isnan(ena)) {
        *pct = 100.0;
    }
    return rc;
}

int sunspec_read_pv(struct sunspec *s, struct sunspec_pv *out, struct error_detail *ed)
{
    static const uint16_t inverters[] = {103, 102, 101, 701};
    uint16_t id = 0;
    double v = NAN;
    int rc;

    *out = (struct sunspec_pv){NAN, NAN, NAN, NAN, NAN, -1, 0};
    for (size_t i = 0; i < sizeof(inverters) / sizeof(inverters[0]) && !id; i++) {
        id = sunspec_find(s, inverters[i]) ? inverters[i] : 0;
    }
    if (!id) {
        return error_setf(ed, ERROR_STATE, "%s: no inverter model (101..103 or 701)", s->name);
    }
    out->model = id;
    rc = sunspec_read_model(s, id, ed);
    rc = rc ? rc : ss_get(s, id, "W", &v, ed);
    out->power_kw = v / 1000.0;
    rc = rc ? rc : ss_get(s, id, id == 701 ? "TotWhInj" : "WH", &v, ed);
    out->energy_kwh = v / 1000.0;
    /* 701 InvSt counts from 0 OFF; 10x St from 1 OFF, in the same order */
    rc = rc ? rc : ss_get(s, id, id == 701 ? "InvSt" : "St", &v, ed);
    out->state = isnan(v) ? -1 : (int)v + (id == 701);
    if (!rc && sunspec_find(s, 120)) {
        rc = sunspec_read_model(s, 120, ed);
        rc = rc ? rc : ss_get(s, 120, "WRtg", &v, ed);
        out->rated_kw = v / 1000.0;
    }
    if (!rc && sunspec_find(s, 121)) {
        rc = sunspec_read_model(s, 121, ed);
        rc = rc ? rc : ss_get(s, 121, "WMax", &v, ed);
        out->wmax_kw = v / 1000.0;
    }
    return rc ? rc : ss_pv_limit_now(s, &out->limit_pct, ed);
}

int sunspec_read_meter(struct sunspec *s, struct sunspec_meter *out, struct error_detail *ed)
{
    uint16_t id = 0;
    double v = NAN;
    int rc;

    *out = (struct sunspec_meter){NAN, NAN, NAN, NAN, 0};
    for (size_t i = 0; i < s->n_models && !id; i++) {
        id = s->models[i].id >= 201 && s->models[i].id <= 204 ? s->models[i].id : 0;
    }
    if (!id) {
        return error_setf(ed, ERROR_STATE, "%s: no meter model (201..204)", s->name);
    }
    out->model = id;
    rc = sunspec_read_model(s, id, ed);
    rc = rc ? rc : ss_get(s, id, "W", &v, ed);
    out->power_kw = v / 1000.0;
    rc = rc ? rc : ss_get(s, id, "A", &out->current_a, ed);
    rc = rc ? rc : ss_get(s, id, "TotWhExp", &v, ed);
    out->export_kwh = v / 1000.0;
    rc = rc ? rc : ss_get(s, id, "TotWhImp", &v, ed);
    out->import_kwh = v / 1000.0;
    return rc;
}

/* SoC and DC power from model 802 or 713, when present. */
static int
ss_battery_models(struct sunspec *s, struct sunspec_battery *out, struct error_detail *ed)
{
    double v = NAN;
    int rc = ERROR_OK;

    if (sunspec_find(s, 802)) {
        rc = sunspec_read_model(s, 802, ed);
        rc = rc ? rc : ss_get(s, 802, "SoC", &v, ed);
        out->soc = v / 100.0;
        out->soc_model = isnan(v) ? 0 : 802;
        rc = rc ? rc : ss_get(s, 802, "W", &v, ed);
        out->power_kw = v / 1000.0;
        rc = rc ? rc : ss_get(s, 802, "ChaSt", &v, ed);
        out->charge_state = isnan(v) ? -1 : (int)v;
    }
    if (!rc && isnan(out->soc) && sunspec_find(s, 713)) {
        rc = sunspec_read_model(s, 713, ed);
        rc = rc ? rc : ss_get(s, 713, "SoC", &v, ed);
        out->soc = v / 100.0;
        out->soc_model = isnan(v) ? 0 : 713;
    }
    return rc;
}

int sunspec_read_battery(struct sunspec *s, struct sunspec_battery *out, struct error_detail *ed)
{
    static const uint16_t inverters[] = {103, 102, 101};
    double v = NAN;
    int rc;

    *out = (struct sunspec_battery){NAN, NAN, NAN, NAN, -1, 0};
    if (!sunspec_find(s, 124) && !sunspec_find(s, 802) && !sunspec_find(s, 713)) {
        return error_setf(ed, ERROR_STATE, "%s: no storage model (124, 802 or 713)", s->name);
    }
    rc = ss_battery_models(s, out, ed);
    if (!rc && sunspec_find(s, 124)) {
        rc = sunspec_read_model(s, 124, ed);
        rc = rc ? rc : ss_get(s, 124, "WChaMax", &v, ed);
        out->max_charge_kw = v / 1000.0;
        rc = rc ? rc : ss_get(s, 124, "MinRsvPct", &v, ed);
        out->min_reserve = v / 100.0;
        rc = rc ? rc : ss_get(s, 124, "ChaState", &v, ed);
        if (!rc && isnan(out->soc) && !isnan(v)) {
            out->soc = v / 100.0;
            out->soc_model = 124;
        }
        rc = rc ? rc : ss_get(s, 124, "ChaSt", &v, ed);
        if (!rc && out->charge_state < 0 && !isnan(v)) {
            out->charge_state = (int)v;
        }
    }
    for (size_t i = 0; i < 3 && !rc && isnan(out->power_kw); i++) {
        if (sunspec_find(s, inverters[i])) {
            rc = sunspec_read_model(s, inverters[i], ed);
            rc = rc ? rc : ss_get(s, inverters[i], "W", &v, ed);
            out->power_kw = v / 1000.0;
        }
    }
    return rc;
}

/* Arm the limit (value, its timeout, then the enable that arms both) or
 * drop it (enable 0 only), through model 123 or else 704. */
static int ss_pv_limit(struct sunspec *s,
                       int enable,
                       double limit_pct,
                       unsigned revert_s,
                       struct error_detail *ed)
{
    uint16_t id = sunspec_find(s, 123) ? 123 : 704;
    struct ss_write w[3];
    size_t n = 0;
    int rc;

    if (!sunspec_find(s, id)) {
        return error_setf(ed, ERROR_STATE, "%s: PV limit: no control model (123 or 704)", s->name);
    }
    rc = sunspec_read_model(s, id, ed);
    if (rc) {
        return rc;
    }
    if (enable) {
        w[n++] = (struct ss_write){"WMaxLimPct", limit_pct};
        w[n++] =
            (struct ss_write){id == 123 ? "WMaxLimPct_RvrtTms" : "WMaxLimPctRvrtTms", revert_s};
    }
    w[n++] = (struct ss_write){id == 123 ? "WMaxLim_Ena" : "WMaxLimPctEna", enable};
    rc = ss_apply(s, id, w, n, ed);
    if (!rc) {
        LOGD("sunspec",
             "%s: model %u PV limit %.2f %% (on %d), revert %u s",
             s->name,
             id,
             limit_pct,
             enable,
             revert_s);
    }
    return rc;
}

int sunspec_set_pv_limit(struct sunspec *s,
                         double limit_pct,
                         unsigned revert_s,
                         struct error_detail *ed)
{
    if (!(limit_pct >= 0.0 && limit_pct <= 100.0)) {
        return error_setf(ed,
                          ERROR_RANGE,
                          "%s: PV limit %g %% is outside 0..100",
                          s->name,
                          limit_pct);
    }
    return ss_pv_limit(s, 1, limit_pct, revert_s, ed);
}

int sunspec_clear_pv_limit(struct sunspec *s, struct error_detail *ed)
{
    return ss_pv_limit(s, 0, NAN, 0, ed);
}

/* limit_kw as % of WChaMax into *pct; ERROR_RANGE above 100 %. */
static int ss_rate_pct(const struct sunspec *s,
                       const char *point,
                       double limit_kw,
                       double wchamax_kw,
                       double *pct,
                       struct error_detail *ed)
{
    *pct = 100.0 * limit_kw / wchamax_kw;
    if (!isfinite(limit_kw) || fabs(*pct) > 100.0 + 1e-9) {
        return error_setf(ed,
                          ERROR_RANGE,
                          "%s: model 124 point %s: limit %g kW is %g %% of WChaMax %g kW, "
                          "outside -100..100 %%",
                          s->name,
                          point,
                          limit_kw,
                          *pct,
                          wchamax_kw);
    }
    return ERROR_OK;
}

int sunspec_set_storage(struct sunspec *s,
                        const struct sunspec_storage_cmd *cmd,
                        struct error_detail *ed)
{
    struct ss_write w[5];
    unsigned mode = 0;
    double wchamax, pct;
    size_t n = 0;
    int rc;

    rc = sunspec_read_model(s, 124, ed);
    rc = rc ? rc : ss_get(s, 124, "WChaMax", &wchamax, ed);
    if (rc) {
        return rc;
    }
    if (!(wchamax > 0.0)) {
        return error_setf(ed,
                          ERROR_STATE,
                          "%s: model 124 point WChaMax: %g W cannot scale InWRte/OutWRte",
                          s->name,
                          wchamax);
    }
    if (!isnan(cmd->charge_limit_kw)) {
        rc = ss_rate_pct(s, "InWRte", cmd->charge_limit_kw, wchamax / 1000.0, &pct, ed);
        w[n++] = (struct ss_write){"InWRte", pct};
        mode |= SUNSPEC_MODELS_STORCTL_CHARGE;
    }
    if (!rc && !isnan(cmd->discharge_limit_kw)) {
        rc = ss_rate_pct(s, "OutWRte", cmd->discharge_limit_kw, wchamax / 1000.0, &pct, ed);
        w[n++] = (struct ss_write){"OutWRte", pct};
        mode |= SUNSPEC_MODELS_STORCTL_DISCHARGE;
    }
    if (!rc && !isnan(cmd->min_reserve) && !(cmd->min_reserve >= 0.0 && cmd->min_reserve <= 1.0)) {
        rc = error_setf(ed,
                        ERROR_RANGE,
                        "%s: model 124 point MinRsvPct: reserve %g is outside 0..1",
                        s->name,
                        cmd->min_reserve);
    }
    if (rc) {
        return rc;
    }
    w[n++] = (struct ss_write){"InOutWRte_RvrtTms", cmd->revert_s};
    if (!isnan(cmd->min_reserve)) {
        w[n++] = (struct ss_write){"MinRsvPct", 100.0 * cmd->min_reserve};
    }
    w[n++] = (struct ss_write){"StorCtl_Mod", mode};
    return ss_apply(s, 124, w, n, ed);
}

/* ---- libmodbus transport ---- */

/* got: libmodbus's return for a request of count registers at addr. */
static int ss_mb_result(modbus_t *mb,
                        const char *what,
                        uint16_t addr,
                        uint16_t count,
                        int got,
                        int err,
                        struct error_detail *ed)
{
    const char *cause = got >= 0 ? "short reply" : modbus_strerror(err);

    if (got == count) {
        return ERROR_OK;
    }
    /* a late reply to a timed-out request must not answer the next one */
    if (got < 0 && err == ETIMEDOUT) {
        modbus_flush(mb);
    }
    LOGD("sunspec", "modbus %s %u at %u: %s", what, (unsigned)count, (unsigned)addr, cause);
    return error_setf(ed,
                      ERROR_IO,
                      "%s %u registers at %u: %s",
                      what,
                      (unsigned)count,
                      (unsigned)addr,
                      cause);
}

static int
ss_mb_read(void *ctx, uint16_t addr, uint16_t count, uint16_t *dst, struct error_detail *ed)
{
    int got = modbus_read_registers(ctx, addr, count, dst);

    return ss_mb_result(ctx, "read", addr, count, got, errno, ed);
}

static int
ss_mb_write(void *ctx, uint16_t addr, uint16_t count, const uint16_t *src, struct error_detail *ed)
{
    int got = modbus_write_registers(ctx, addr, count, src);

    return ss_mb_result(ctx, "write", addr, count, got, errno, ed);
}

struct sunspec *sunspec_new_modbus(const char *name, modbus_t *mb)
{
    struct sunspec_transport t = {ss_mb_read, ss_mb_write, mb};

    return sunspec_new(name, &t);
}
