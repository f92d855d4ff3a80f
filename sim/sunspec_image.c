/* SPDX-License-Identifier: MIT */
/*
 * sunspec_image.c - SunSpec register images for the device simulator.
 *
 * The image is laid out the way a real device lays out its map: marker,
 * model 1, the device's models, end marker, each model with the SunSpec
 * length L (not just the points flexd reads), so the client's chain walk
 * sees real offsets. Values go in and out through the same codec the
 * client uses (io/sunspec_models.c); the image itself never touches
 * libmodbus. Single-threaded: see the header.
 */
#include "sunspec_image.h"

#include "../common/alloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SI_MAX_MODELS 6

struct si_model {
    const struct sunspec_models_def *def;
    size_t at; /* index of the model's ID register in regs */
};

struct sunspec_image {
    uint16_t base;
    size_t n_regs;
    uint16_t *regs;
    size_t n_models;
    struct si_model models[SI_MAX_MODELS];
};

/* The models of each kind, in chain order. */
static size_t si_chain(const struct sunspec_image_config *cfg, uint16_t *ids)
{
    size_t n = 0;

    ids[n++] = 1;
    switch (cfg->kind) {
    case SUNSPEC_IMAGE_PV:
        ids[n++] = 103;
        ids[n++] = 120;
        ids[n++] = 121;
        ids[n++] = cfg->der_controls ? 704 : 123;
        break;
    case SUNSPEC_IMAGE_STORAGE:
        ids[n++] = 103;
        ids[n++] = 124;
        ids[n++] = cfg->der_storage ? 713 : 802;
        break;
    case SUNSPEC_IMAGE_METER:
        ids[n++] = 203;
        break;
    }
    return n;
}

static const struct si_model *si_model(const struct sunspec_image *img, uint16_t id)
{
    for (size_t i = 0; i < img->n_models; i++) {
        if (img->models[i].def->id == id) {
            return &img->models[i];
        }
    }
    return NULL;
}

static int si_locate(const struct sunspec_image *img,
                     uint16_t id,
                     const struct si_model **m,
                     struct error_detail *ed)
{
    *m = si_model(img, id);
    if (!*m) {
        return error_setf(ed, ERROR_INVALID, "model %u is not in this SunSpec image", id);
    }
    return ERROR_OK;
}

int sunspec_image_set(struct sunspec_image *img,
                      uint16_t id,
                      const char *point,
                      double value,
                      struct error_detail *ed)
{
    const struct si_model *m;
    int rc = si_locate(img, id, &m, ed);

    if (rc) {
        return rc;
    }
    return sunspec_models_put(m->def, img->regs + m->at + 2, m->def->length, point, value, ed);
}

int sunspec_image_set_absent(struct sunspec_image *img,
                             uint16_t id,
                             const char *point,
                             struct error_detail *ed)
{
    const struct si_model *m;
    int rc = si_locate(img, id, &m, ed);

    if (rc) {
        return rc;
    }
    return sunspec_models_put_absent(m->def, img->regs + m->at + 2, m->def->length, point, ed);
}

int sunspec_image_set_string(struct sunspec_image *img,
                             uint16_t id,
                             const char *point,
                             const char *s,
                             struct error_detail *ed)
{
    const struct si_model *m;
    int rc = si_locate(img, id, &m, ed);

    if (rc) {
        return rc;
    }
    return sunspec_models_put_string(m->def, img->regs + m->at + 2, m->def->length, point, s, ed);
}

int sunspec_image_get(const struct sunspec_image *img,
                      uint16_t id,
                      const char *point,
                      struct sunspec_models_value *out,
                      struct error_detail *ed)
{
    const struct si_model *m;
    int rc = si_locate(img, id, &m, ed);

    if (rc) {
        out->present = 0;
        out->value = NAN;
        out->sf = 0;
        return rc;
    }
    return sunspec_models_decode(m->def, img->regs + m->at + 2, m->def->length, point, out, ed);
}

/* Chained setters for the constructor: the first error sticks. */
static int si_put(struct sunspec_image *img,
                  int rc,
                  uint16_t id,
                  const char *point,
                  double value,
                  struct error_detail *ed)
{
    return rc ? rc : sunspec_image_set(img, id, point, value, ed);
}

/* Smallest exponent >= min_sf at which max_abs fits in limit raw counts. */
static int si_sf_for(double max_abs, double limit, int min_sf)
{
    int sf = min_sf;

    while (sf < SUNSPEC_MODELS_SF_MAX && max_abs / pow(10.0, sf) > limit) {
        sf++;
    }
    return sf;
}

static int si_common(struct sunspec_image *img,
                     const struct sunspec_image_config *cfg,
                     struct error_detail *ed)
{
    static const char *const models[] = {"sim-pv", "sim-storage", "sim-meter"};
    int rc;

    rc = sunspec_image_set_string(img, 1, "Mn", "flexd", ed);
    rc = rc ? rc : sunspec_image_set_string(img, 1, "Md", models[cfg->kind], ed);
    rc = rc ? rc : sunspec_image_set_string(img, 1, "Vr", FLEXD_VERSION, ed);
    rc =
        rc ? rc : sunspec_image_set_string(img, 1, "SN", cfg->serial ? cfg->serial : "SIM0001", ed);
    return si_put(img, rc, 1, "DA", 1, ed);
}

/* Model 103: a three-phase 230/400 V, 50 Hz inverter standing still. */
static int si_inverter(struct sunspec_image *img, double rated_w, int st, struct error_detail *ed)
{
    static const char *const zero[] = {"A", "AphA", "AphB", "AphC", "W", "Evt1", "Evt2"};
    int rc = ERROR_OK;

    rc = si_put(img, rc, 103, "A_SF", si_sf_for(1.2 * rated_w / 690.0, 30000.0, -2), ed);
    rc = si_put(img, rc, 103, "V_SF", -1, ed);
    rc = si_put(img, rc, 103, "W_SF", si_sf_for(1.2 * rated_w, 30000.0, 0), ed);
    rc = si_put(img, rc, 103, "Hz_SF", -2, ed);
    rc = si_put(img, rc, 103, "WH_SF", si_sf_for(rated_w * 87600.0, 4.0e9, 0), ed);
    rc = si_put(img, rc, 103, "Tmp_SF", -1, ed);
    for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
        rc = si_put(img, rc, 103, zero[i], 0, ed);
    }
    rc = si_put(img, rc, 103, "PPVphAB", 400, ed);
    rc = si_put(img, rc, 103, "PPVphBC", 400, ed);
    rc = si_put(img, rc, 103, "PPVphCA", 400, ed);
    rc = si_put(img, rc, 103, "PhVphA", 230, ed);
    rc = si_put(img, rc, 103, "PhVphB", 230, ed);
    rc = si_put(img, rc, 103, "PhVphC", 230, ed);
    rc = si_put(img, rc, 103, "Hz", 50, ed);
    rc = si_put(img, rc, 103, "WH", 0, ed);
    rc = si_put(img, rc, 103, "TmpCab", 25, ed);
    return si_put(img, rc, 103, "St", st, ed);
}

/* Models 120, 121 and 123 or 704: nameplate, WMax = rating, no limit. */
static int si_pv(struct sunspec_image *img, double rated_w, struct error_detail *ed)
{
    int wsf = si_sf_for(rated_w, 60000.0, 0);
    int rc = si_inverter(img, rated_w, 2 /* SLEEPING */, ed);

    rc = si_put(img, rc, 120, "DERTyp", 4 /* PV */, ed);
    rc = si_put(img, rc, 120, "WRtg_SF", wsf, ed);
    rc = si_put(img, rc, 120, "WRtg", rated_w, ed);
    rc = si_put(img, rc, 120, "VARtg_SF", wsf, ed);
    rc = si_put(img, rc, 120, "VARtg", rated_w, ed);
    rc = si_put(img, rc, 121, "WMax_SF", wsf, ed);
    rc = si_put(img, rc, 121, "WMax", rated_w, ed);
    if (si_model(img, 123)) {
        rc = si_put(img, rc, 123, "WMaxLimPct_SF", -2, ed);
        rc = si_put(img, rc, 123, "OutPFSet_SF", -3, ed);
        rc = si_put(img, rc, 123, "Conn_WinTms", 0, ed);
        rc = si_put(img, rc, 123, "Conn_RvrtTms", 0, ed);
        rc = si_put(img, rc, 123, "Conn", 1, ed);
        rc = si_put(img, rc, 123, "WMaxLimPct", 100, ed);
        rc = si_put(img, rc, 123, "WMaxLimPct_WinTms", 0, ed);
        rc = si_put(img, rc, 123, "WMaxLimPct_RvrtTms", 0, ed);
        rc = si_put(img, rc, 123, "WMaxLimPct_RmpTms", 0, ed);
        rc = si_put(img, rc, 123, "WMaxLim_Ena", 0, ed);
        rc = si_put(img, rc, 123, "OutPFSet", 1.0, ed);
        return si_put(img, rc, 123, "OutPFSet_Ena", 0, ed);
    }
    rc = si_put(img, rc, 704, "PF_SF", -3, ed);
    rc = si_put(img, rc, 704, "WMaxLimPct_SF", -2, ed);
    rc = si_put(img, rc, 704, "WSet_SF", si_sf_for(rated_w, 2.0e9, 0), ed);
    rc = si_put(img, rc, 704, "WSetPct_SF", -2, ed);
    rc = si_put(img, rc, 704, "WMaxLimPctEna", 0, ed);
    rc = si_put(img, rc, 704, "WMaxLimPct", 100, ed);
    rc = si_put(img, rc, 704, "WMaxLimPctRvrt", 100, ed);
    rc = si_put(img, rc, 704, "WMaxLimPctEnaRvrt", 0, ed);
    rc = si_put(img, rc, 704, "WMaxLimPctRvrtTms", 0, ed);
    rc = si_put(img, rc, 704, "WMaxLimPctRvrtRem", 0, ed);
    rc = si_put(img, rc, 704, "WSetEna", 0, ed);
    return si_put(img, rc, 704, "WSetMod", 0, ed);
}

/* Model 124: WChaMax = rating, both rates 100 %, no control bits set. */
static int si_storage_controls(struct sunspec_image *img, double rated_w, struct error_detail *ed)
{
    int rc = ERROR_OK;

    rc = si_put(img, rc, 124, "WChaMax_SF", si_sf_for(rated_w, 60000.0, 0), ed);
    rc = si_put(img, rc, 124, "WChaDisChaGra_SF", 0, ed);
    rc = si_put(img, rc, 124, "MinRsvPct_SF", 0, ed);
    rc = si_put(img, rc, 124, "ChaState_SF", -1, ed);
    rc = si_put(img, rc, 124, "InBatV_SF", -1, ed);
    rc = si_put(img, rc, 124, "InOutWRte_SF", -2, ed);
    rc = si_put(img, rc, 124, "WChaMax", rated_w, ed);
    rc = si_put(img, rc, 124, "WChaGra", 100, ed);
    rc = si_put(img, rc, 124, "WDisChaGra", 100, ed);
    rc = si_put(img, rc, 124, "StorCtl_Mod", 0, ed);
    rc = si_put(img, rc, 124, "MinRsvPct", 10, ed);
    rc = si_put(img, rc, 124, "ChaState", 50, ed);
    rc = si_put(img, rc, 124, "InBatV", 800, ed);
    rc = si_put(img, rc, 124, "ChaSt", 6 /* HOLDING */, ed);
    rc = si_put(img, rc, 124, "OutWRte", 100, ed);
    rc = si_put(img, rc, 124, "InWRte", 100, ed);
    rc = si_put(img, rc, 124, "InOutWRte_WinTms", 0, ed);
    rc = si_put(img, rc, 124, "InOutWRte_RvrtTms", 0, ed);
    rc = si_put(img, rc, 124, "InOutWRte_RmpTms", 0, ed);
    return si_put(img, rc, 124, "ChaGriSet", 1 /* GRID */, ed);
}

/* Model 802 (battery base) or 713 (DER storage capacity) at SoC 50 %. */
static int
si_battery(struct sunspec_image *img, double rated_w, double capacity_wh, struct error_detail *ed)
{
    int whsf = si_sf_for(capacity_wh, 60000.0, 0);
    int rc = ERROR_OK;

    if (si_model(img, 713)) {
        rc = si_put(img, rc, 713, "WH_SF", whsf, ed);
        rc = si_put(img, rc, 713, "Pct_SF", -1, ed);
        rc = si_put(img, rc, 713, "WHRtg", capacity_wh, ed);
        rc = si_put(img, rc, 713, "WHAvail", 0.5 * capacity_wh, ed);
        rc = si_put(img, rc, 713, "SoC", 50, ed);
        rc = si_put(img, rc, 713, "SoH", 100, ed);
        return si_put(img, rc, 713, "Sta", 0 /* OK */, ed);
    }
    rc = si_put(img, rc, 802, "WHRtg_SF", whsf, ed);
    rc = si_put(img, rc, 802, "WChaDisChaMax_SF", si_sf_for(rated_w, 60000.0, 0), ed);
    rc = si_put(img, rc, 802, "SoC_SF", -1, ed);
    rc = si_put(img, rc, 802, "SoH_SF", 0, ed);
    rc = si_put(img, rc, 802, "V_SF", -1, ed);
    rc = si_put(img, rc, 802, "A_SF", si_sf_for(1.2 * rated_w / 800.0, 30000.0, -1), ed);
    rc = si_put(img, rc, 802, "W_SF", si_sf_for(1.2 * rated_w, 30000.0, 0), ed);
    rc = si_put(img, rc, 802, "WHRtg", capacity_wh, ed);
    rc = si_put(img, rc, 802, "WChaRteMax", rated_w, ed);
    rc = si_put(img, rc, 802, "WDisChaRteMax", rated_w, ed);
    rc = si_put(img, rc, 802, "SoCMax", 100, ed);
    rc = si_put(img, rc, 802, "SoCMin", 0, ed);
    rc = si_put(img, rc, 802, "SoCRsvMax", 100, ed);
    rc = si_put(img, rc, 802, "SoCRsvMin", 10, ed);
    rc = si_put(img, rc, 802, "SoC", 50, ed);
    rc = si_put(img, rc, 802, "SoH", 100, ed);
    rc = si_put(img, rc, 802, "ChaSt", 6 /* HOLDING */, ed);
    rc = si_put(img, rc, 802, "LocRemCtl", 0 /* REMOTE */, ed);
    rc = si_put(img, rc, 802, "Hb", 0, ed);
    rc = si_put(img, rc, 802, "CtrlHb", 0, ed);
    rc = si_put(img, rc, 802, "Typ", 4 /* LITHIUM_ION */, ed);
    rc = si_put(img, rc, 802, "State", 3 /* CONNECTED */, ed);
    rc = si_put(img, rc, 802, "V", 800, ed);
    rc = si_put(img, rc, 802, "A", 0, ed);
    rc = si_put(img, rc, 802, "W", 0, ed);
    rc = si_put(img, rc, 802, "SetOp", 1 /* CONNECT */, ed);
    return si_put(img, rc, 802, "SetInvState", 3 /* STARTED */, ed);
}

/* Model 203: wye meter at 230/400 V, 50 Hz, nothing flowing. */
static int si_meter(struct sunspec_image *img, double rated_w, struct error_detail *ed)
{
    static const char *const zero[] = {"A", "AphA", "AphB", "AphC", "W", "WphA", "WphB", "WphC"};
    static const char *const volts[] = {"PhV", "PhVphA", "PhVphB", "PhVphC"};
    int rc = ERROR_OK;

    rc = si_put(img, rc, 203, "A_SF", si_sf_for(1.2 * rated_w / 690.0, 30000.0, -2), ed);
    rc = si_put(img, rc, 203, "V_SF", -1, ed);
    rc = si_put(img, rc, 203, "Hz_SF", -2, ed);
    rc = si_put(img, rc, 203, "W_SF", si_sf_for(1.2 * rated_w, 30000.0, 0), ed);
    rc = si_put(img, rc, 203, "TotWh_SF", si_sf_for(rated_w * 87600.0, 4.0e9, 0), ed);
    for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
        rc = si_put(img, rc, 203, zero[i], 0, ed);
    }
    for (size_t i = 0; i < sizeof(volts) / sizeof(volts[0]); i++) {
        rc = si_put(img, rc, 203, volts[i], 230, ed);
    }
    rc = si_put(img, rc, 203, "Hz", 50, ed);
    rc = si_put(img, rc, 203, "TotWhExp", 0, ed);
    return si_put(img, rc, 203, "TotWhImp", 0, ed);
}

static int si_check(const struct sunspec_image_config *cfg, struct error_detail *ed)
{
    if (cfg->kind != SUNSPEC_IMAGE_PV && cfg->kind != SUNSPEC_IMAGE_STORAGE &&
        cfg->kind != SUNSPEC_IMAGE_METER) {
        return error_setf(ed, ERROR_INVALID, "sunspec image: kind %d is unknown", (int)cfg->kind);
    }
    if (!(cfg->rated_kw > 0.0 && cfg->rated_kw <= 1e6)) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "sunspec image: rated_kw %g is outside (0, 1e6]",
                          cfg->rated_kw);
    }
    if (cfg->kind == SUNSPEC_IMAGE_STORAGE &&
        !(cfg->capacity_kwh > 0.0 && cfg->capacity_kwh <= 1e7)) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "sunspec image: capacity_kwh %g is outside (0, 1e7]",
                          cfg->capacity_kwh);
    }
    if (cfg->serial && strlen(cfg->serial) > 32) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "sunspec image: serial \"%s\" is longer than 32 characters",
                          cfg->serial);
    }
    return ERROR_OK;
}

/* Marker, headers with the SunSpec L, every table point "not implemented",
 * end marker. */
static void si_layout(struct sunspec_image *img, const uint16_t *ids, size_t n)
{
    size_t at = 2;

    img->regs[0] = 0x5375u; /* "Su" */
    img->regs[1] = 0x6E53u; /* "nS" */
    for (size_t i = 0; i < n; i++) {
        const struct sunspec_models_def *def = sunspec_models_find(ids[i]);

        img->models[i].def = def;
        img->models[i].at = at;
        img->regs[at] = def->id;
        img->regs[at + 1] = def->length;
        for (size_t k = 0; k < def->n_points; k++) {
            sunspec_models_put_absent(def,
                                      img->regs + at + 2,
                                      def->length,
                                      def->points[k].name,
                                      NULL);
        }
        at += 2 + (size_t)def->length;
    }
    img->n_models = n;
    img->regs[at] = 0xFFFFu;
    img->regs[at + 1] = 0;
}

int sunspec_image_new(const struct sunspec_image_config *cfg,
                      struct sunspec_image **out,
                      struct error_detail *ed)
{
    struct sunspec_image *img;
    uint16_t ids[SI_MAX_MODELS];
    double rated_w = cfg->rated_kw * 1000.0;
    size_t n, total = 4;
    int rc;

    *out = NULL;
    rc = si_check(cfg, ed);
    if (rc) {
        return rc;
    }
    n = si_chain(cfg, ids);
    for (size_t i = 0; i < n; i++) {
        total += 2 + (size_t)sunspec_models_find(ids[i])->length;
    }
    if ((size_t)cfg->base + total > 65536u) {
        return error_setf(ed,
                          ERROR_RANGE,
                          "sunspec image: %zu registers from base %u run past register 65535",
                          total,
                          (unsigned)cfg->base);
    }
    img = ALLOC_NEW(struct sunspec_image);
    img->base = cfg->base;
    img->n_regs = total;
    img->regs = alloc_array(total, sizeof(uint16_t));
    for (size_t i = 0; i < total; i++) {
        img->regs[i] = 0xFFFFu;
    }
    si_layout(img, ids, n);
    rc = si_common(img, cfg, ed);
    if (!rc && cfg->kind == SUNSPEC_IMAGE_PV) {
        rc = si_pv(img, rated_w, ed);
    } else if (!rc && cfg->kind == SUNSPEC_IMAGE_STORAGE) {
        rc = si_inverter(img, rated_w, 8 /* STANDBY */, ed);
        rc = rc ? rc : si_storage_controls(img, rated_w, ed);
        rc = rc ? rc : si_battery(img, rated_w, cfg->capacity_kwh * 1000.0, ed);
    } else if (!rc) {
        rc = si_meter(img, rated_w, ed);
    }
    if (rc) {
        error_prefix(ed, "sunspec image");
        sunspec_image_free(img);
        return rc;
    }
    *out = img;
    return ERROR_OK;
}

void sunspec_image_free(struct sunspec_image *img)
{
    if (!img) {
        return;
    }
    free(img->regs);
    free(img);
}

uint16_t sunspec_image_base(const struct sunspec_image *img)
{
    return img->base;
}

size_t sunspec_image_size(const struct sunspec_image *img)
{
    return img->n_regs;
}

uint16_t *sunspec_image_regs(struct sunspec_image *img)
{
    return img->regs;
}

int sunspec_image_model_addr(const struct sunspec_image *img, uint16_t id, uint16_t *addr)
{
    const struct si_model *m = si_model(img, id);

    if (!m) {
        return ERROR_INVALID;
    }
    *addr = (uint16_t)(img->base + m->at);
    return ERROR_OK;
}

/* A decoded value or NAN (absent or any error). */
static double si_value(const struct sunspec_image *img, uint16_t id, const char *point)
{
    struct sunspec_models_value v;

    if (sunspec_image_get(img, id, point, &v, NULL) || !v.present) {
        return NAN;
    }
    return v.value;
}

double sunspec_image_pv_limit_pct(const struct sunspec_image *img)
{
    double ena = NAN, pct = NAN;

    if (si_model(img, 123)) {
        ena = si_value(img, 123, "WMaxLim_Ena");
        pct = si_value(img, 123, "WMaxLimPct");
    } else if (si_model(img, 704)) {
        ena = si_value(img, 704, "WMaxLimPctEna");
        pct = si_value(img, 704, "WMaxLimPct");
    }
    if (ena != 1.0 || isnan(pct)) {
        return 100.0;
    }
    return pct < 0.0 ? 0.0 : pct > 100.0 ? 100.0 : pct;
}

int sunspec_image_storage_cmd(const struct sunspec_image *img,
                              struct sunspec_image_storage *out,
                              struct error_detail *ed)
{
    double max_kw, mode, in, outw, rvrt;

    *out = (struct sunspec_image_storage){0, NAN, NAN, NAN, 0};
    if (!si_model(img, 124)) {
        return error_setf(ed, ERROR_INVALID, "sunspec image: no model 124");
    }
    max_kw = si_value(img, 124, "WChaMax") / 1000.0;
    mode = si_value(img, 124, "StorCtl_Mod");
    in = si_value(img, 124, "InWRte");
    outw = si_value(img, 124, "OutWRte");
    rvrt = si_value(img, 124, "InOutWRte_RvrtTms");
    if (isnan(max_kw) || isnan(mode)) {
        return error_setf(ed,
                          ERROR_STATE,
                          "sunspec image: model 124 WChaMax or StorCtl_Mod not implemented");
    }
    out->mode = (unsigned)mode;
    out->charge_limit_kw = max_kw;
    out->discharge_limit_kw = max_kw;
    if ((out->mode & SUNSPEC_MODELS_STORCTL_CHARGE) && !isnan(in)) {
        out->charge_limit_kw = in / 100.0 * max_kw;
    }
    if ((out->mode & SUNSPEC_MODELS_STORCTL_DISCHARGE) && !isnan(outw)) {
        out->discharge_limit_kw = outw / 100.0 * max_kw;
    }
    out->min_reserve = si_value(img, 124, "MinRsvPct") / 100.0;
    out->revert_s = isnan(rvrt) ? 0 : (unsigned)rvrt;
    return ERROR_OK;
}
