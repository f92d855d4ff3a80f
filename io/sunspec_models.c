/* SPDX-License-Identifier: MIT */
/*
 * sunspec_models.c - point tables for the SunSpec models flexd reads and
 * writes, and the codec between register words and physical values.
 *
 * Every offset below was taken from the model definitions in
 * sunspec/models json/model_<id>.json by summing point sizes after the
 * ID,L header; the tables keep only the points flexd or its simulator use.
 * Models 101/102/103 share one layout, and so do the meters 201..204.
 * Pure functions over const tables: any thread.
 */
#include "sunspec_models.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Register counts per type, so each table row names its type once. */
#define SM_SIZE_UINT16     1
#define SM_SIZE_INT16      1
#define SM_SIZE_ACC32      2
#define SM_SIZE_UINT32     2
#define SM_SIZE_INT32      2
#define SM_SIZE_UINT64     4
#define SM_SIZE_SUNSSF     1
#define SM_SIZE_ENUM16     1
#define SM_SIZE_BITFIELD16 1
#define SM_SIZE_BITFIELD32 2

#define RO 0
#define RW 1

#define PT(name, off, type, sf, units, rw)                              \
    {                                                                   \
        name, off, SM_SIZE_##type, SUNSPEC_MODELS_##type, sf, units, rw \
    }
#define SF(name, off) PT(name, off, SUNSSF, NULL, NULL, RO)
#define STR(name, off, size)                                   \
    {                                                          \
        name, off, size, SUNSPEC_MODELS_STRING, NULL, NULL, RO \
    }

/* Model 1 Common, L 66 (65 in devices built before the trailing Pad). */
static const struct sunspec_models_point sm_common[] = {
    STR("Mn", 0, 16),
    STR("Md", 16, 16),
    STR("Opt", 32, 8),
    STR("Vr", 40, 8),
    STR("SN", 48, 16),
    PT("DA", 64, UINT16, NULL, NULL, RW),
};

/* Models 101 (1-phase), 102 (split-phase), 103 (3-phase) inverter, L 50. */
static const struct sunspec_models_point sm_inverter[] = {
    PT("A", 0, UINT16, "A_SF", "A", RO),
    PT("AphA", 1, UINT16, "A_SF", "A", RO),
    PT("AphB", 2, UINT16, "A_SF", "A", RO),
    PT("AphC", 3, UINT16, "A_SF", "A", RO),
    SF("A_SF", 4),
    PT("PPVphAB", 5, UINT16, "V_SF", "V", RO),
    PT("PPVphBC", 6, UINT16, "V_SF", "V", RO),
    PT("PPVphCA", 7, UINT16, "V_SF", "V", RO),
    PT("PhVphA", 8, UINT16, "V_SF", "V", RO),
    PT("PhVphB", 9, UINT16, "V_SF", "V", RO),
    PT("PhVphC", 10, UINT16, "V_SF", "V", RO),
    SF("V_SF", 11),
    PT("W", 12, INT16, "W_SF", "W", RO),
    SF("W_SF", 13),
    PT("Hz", 14, UINT16, "Hz_SF", "Hz", RO),
    SF("Hz_SF", 15),
    PT("VA", 16, INT16, "VA_SF", "VA", RO),
    SF("VA_SF", 17),
    PT("VAr", 18, INT16, "VAr_SF", "var", RO),
    SF("VAr_SF", 19),
    PT("PF", 20, INT16, "PF_SF", "Pct", RO),
    SF("PF_SF", 21),
    PT("WH", 22, ACC32, "WH_SF", "Wh", RO),
    SF("WH_SF", 24),
    PT("DCA", 25, UINT16, "DCA_SF", "A", RO),
    SF("DCA_SF", 26),
    PT("DCV", 27, UINT16, "DCV_SF", "V", RO),
    SF("DCV_SF", 28),
    PT("DCW", 29, INT16, "DCW_SF", "W", RO),
    SF("DCW_SF", 30),
    PT("TmpCab", 31, INT16, "Tmp_SF", "C", RO),
    PT("TmpSnk", 32, INT16, "Tmp_SF", "C", RO),
    PT("TmpTrns", 33, INT16, "Tmp_SF", "C", RO),
    PT("TmpOt", 34, INT16, "Tmp_SF", "C", RO),
    SF("Tmp_SF", 35),
    /* 1 OFF, 2 SLEEPING, 3 STARTING, 4 MPPT, 5 THROTTLED, 6 SHUTTING_DOWN, 7 FAULT, 8 STANDBY */
    PT("St", 36, ENUM16, NULL, NULL, RO),
    PT("StVnd", 37, ENUM16, NULL, NULL, RO),
    PT("Evt1", 38, BITFIELD32, NULL, NULL, RO),
    PT("Evt2", 40, BITFIELD32, NULL, NULL, RO),
};

/* Model 120 Nameplate, L 26. DERTyp: 4 PV, 82 PV_STOR. */
static const struct sunspec_models_point sm_nameplate[] = {
    PT("DERTyp", 0, ENUM16, NULL, NULL, RO),
    PT("WRtg", 1, UINT16, "WRtg_SF", "W", RO),
    SF("WRtg_SF", 2),
    PT("VARtg", 3, UINT16, "VARtg_SF", "VA", RO),
    SF("VARtg_SF", 4),
    PT("ARtg", 10, UINT16, "ARtg_SF", "A", RO),
    SF("ARtg_SF", 11),
    PT("WHRtg", 17, UINT16, "WHRtg_SF", "Wh", RO),
    SF("WHRtg_SF", 18),
    PT("AhrRtg", 19, UINT16, "AhrRtg_SF", "AH", RO),
    SF("AhrRtg_SF", 20),
    PT("MaxChaRte", 21, UINT16, "MaxChaRte_SF", "W", RO),
    SF("MaxChaRte_SF", 22),
    PT("MaxDisChaRte", 23, UINT16, "MaxDisChaRte_SF", "W", RO),
    SF("MaxDisChaRte_SF", 24),
};

/* Model 121 Basic Settings, L 30; the SFs sit at 20..29. */
static const struct sunspec_models_point sm_settings[] = {
    PT("WMax", 0, UINT16, "WMax_SF", "W", RW),
    PT("VRef", 1, UINT16, "VRef_SF", "V", RW),
    PT("VAMax", 5, UINT16, "VAMax_SF", "VA", RW),
    PT("WGra", 10, UINT16, "WGra_SF", "% WMax/sec", RW),
    SF("WMax_SF", 20),
    SF("VRef_SF", 21),
    SF("VAMax_SF", 24),
    SF("WGra_SF", 26),
};

/* Model 123 Immediate Controls, L 24: the PV curtailment path. */
static const struct sunspec_models_point sm_controls[] = {
    PT("Conn_WinTms", 0, UINT16, NULL, "Secs", RW),
    PT("Conn_RvrtTms", 1, UINT16, NULL, "Secs", RW),
    PT("Conn", 2, ENUM16, NULL, NULL, RW), /* 0 DISCONNECT, 1 CONNECT */
    PT("WMaxLimPct", 3, UINT16, "WMaxLimPct_SF", "% WMax", RW),
    PT("WMaxLimPct_WinTms", 4, UINT16, NULL, "Secs", RW),
    PT("WMaxLimPct_RvrtTms", 5, UINT16, NULL, "Secs", RW),
    PT("WMaxLimPct_RmpTms", 6, UINT16, NULL, "Secs", RW),
    PT("WMaxLim_Ena", 7, ENUM16, NULL, NULL, RW), /* 0 DISABLED, 1 ENABLED */
    PT("OutPFSet", 8, INT16, "OutPFSet_SF", "cos()", RW),
    PT("OutPFSet_Ena", 12, ENUM16, NULL, NULL, RW),
    SF("WMaxLimPct_SF", 21),
    SF("OutPFSet_SF", 22),
};

/* Model 124 Storage, L 24. */
static const struct sunspec_models_point sm_storage[] = {
    PT("WChaMax", 0, UINT16, "WChaMax_SF", "W", RW),
    PT("WChaGra", 1, UINT16, "WChaDisChaGra_SF", "% WChaMax/sec", RW),
    PT("WDisChaGra", 2, UINT16, "WChaDisChaGra_SF", "% WChaMax/sec", RW),
    PT("StorCtl_Mod", 3, BITFIELD16, NULL, NULL, RW), /* bit 0 CHARGE, bit 1 DiSCHARGE */
    PT("VAChaMax", 4, UINT16, "VAChaMax_SF", "VA", RW),
    PT("MinRsvPct", 5, UINT16, "MinRsvPct_SF", "% WChaMax", RW),
    PT("ChaState", 6, UINT16, "ChaState_SF", "% AhrRtg", RO),
    PT("StorAval", 7, UINT16, "StorAval_SF", "AH", RO),
    PT("InBatV", 8, UINT16, "InBatV_SF", "V", RO),
    /* 1 OFF, 2 EMPTY, 3 DISCHARGING, 4 CHARGING, 5 FULL, 6 HOLDING, 7 TESTING */
    PT("ChaSt", 9, ENUM16, NULL, NULL, RO),
    PT("OutWRte", 10, INT16, "InOutWRte_SF", "% WDisChaMax", RW),
    PT("InWRte", 11, INT16, "InOutWRte_SF", "% WChaMax", RW),
    PT("InOutWRte_WinTms", 12, UINT16, NULL, "Secs", RW),
    PT("InOutWRte_RvrtTms", 13, UINT16, NULL, "Secs", RW),
    PT("InOutWRte_RmpTms", 14, UINT16, NULL, "Secs", RW),
    PT("ChaGriSet", 15, ENUM16, NULL, NULL, RW), /* 0 PV, 1 GRID */
    SF("WChaMax_SF", 16),
    SF("WChaDisChaGra_SF", 17),
    SF("VAChaMax_SF", 18),
    SF("MinRsvPct_SF", 19),
    SF("ChaState_SF", 20),
    SF("StorAval_SF", 21),
    SF("InBatV_SF", 22),
    SF("InOutWRte_SF", 23),
};

/* Models 201 (1-phase), 202 (split), 203 (wye), 204 (delta) meter, L 105. */
static const struct sunspec_models_point sm_meter[] = {
    PT("A", 0, INT16, "A_SF", "A", RO),
    PT("AphA", 1, INT16, "A_SF", "A", RO),
    PT("AphB", 2, INT16, "A_SF", "A", RO),
    PT("AphC", 3, INT16, "A_SF", "A", RO),
    SF("A_SF", 4),
    PT("PhV", 5, INT16, "V_SF", "V", RO),
    PT("PhVphA", 6, INT16, "V_SF", "V", RO),
    PT("PhVphB", 7, INT16, "V_SF", "V", RO),
    PT("PhVphC", 8, INT16, "V_SF", "V", RO),
    SF("V_SF", 13),
    PT("Hz", 14, INT16, "Hz_SF", "Hz", RO),
    SF("Hz_SF", 15),
    PT("W", 16, INT16, "W_SF", "W", RO),
    PT("WphA", 17, INT16, "W_SF", "W", RO),
    PT("WphB", 18, INT16, "W_SF", "W", RO),
    PT("WphC", 19, INT16, "W_SF", "W", RO),
    SF("W_SF", 20),
    PT("TotWhExp", 36, ACC32, "TotWh_SF", "Wh", RO),
    PT("TotWhImp", 44, ACC32, "TotWh_SF", "Wh", RO),
    SF("TotWh_SF", 52),
};

/* Model 701 DER AC Measurement, L 153; the SFs sit at 111..120. */
static const struct sunspec_models_point sm_der_ac[] = {
    PT("ACType", 0, ENUM16, NULL, NULL, RO),
    PT("St", 1, ENUM16, NULL, NULL, RO),    /* 0 OFF, 1 ON */
    PT("InvSt", 2, ENUM16, NULL, NULL, RO), /* 3 MPPT, 4 THROTTLED, 6 FAULT, 7 STANDBY */
    PT("ConnSt", 3, ENUM16, NULL, NULL, RO),
    PT("Alrm", 4, BITFIELD32, NULL, NULL, RO),
    PT("W", 8, INT16, "W_SF", "W", RO),
    PT("VA", 9, INT16, "VA_SF", "VA", RO),
    PT("Var", 10, INT16, "Var_SF", "Var", RO),
    PT("PF", 11, UINT16, "PF_SF", NULL, RO),
    PT("A", 12, INT16, "A_SF", "A", RO),
    PT("LLV", 13, UINT16, "V_SF", "V", RO),
    PT("LNV", 14, UINT16, "V_SF", "V", RO),
    PT("Hz", 15, UINT32, "Hz_SF", "Hz", RO),
    PT("TotWhInj", 17, UINT64, "TotWh_SF", "Wh", RO),
    PT("TotWhAbs", 21, UINT64, "TotWh_SF", "Wh", RO),
    PT("ThrotPct", 108, UINT16, NULL, "Pct", RO),
    SF("A_SF", 111),
    SF("V_SF", 112),
    SF("Hz_SF", 113),
    SF("W_SF", 114),
    SF("PF_SF", 115),
    SF("VA_SF", 116),
    SF("Var_SF", 117),
    SF("TotWh_SF", 118),
};

/* Model 704 DER AC Controls, L 65; the SFs sit at 51..56. */
static const struct sunspec_models_point sm_der_ctl[] = {
    PT("WMaxLimPctEna", 12, ENUM16, NULL, NULL, RW),
    PT("WMaxLimPct", 13, UINT16, "WMaxLimPct_SF", "Pct", RW),
    PT("WMaxLimPctRvrt", 14, UINT16, "WMaxLimPct_SF", "Pct", RW),
    PT("WMaxLimPctEnaRvrt", 15, ENUM16, NULL, NULL, RW),
    PT("WMaxLimPctRvrtTms", 16, UINT32, NULL, "Secs", RW),
    PT("WMaxLimPctRvrtRem", 18, UINT32, NULL, "Secs", RO),
    PT("WSetEna", 20, ENUM16, NULL, NULL, RW),
    PT("WSetMod", 21, ENUM16, NULL, NULL, RW), /* 0 W_MAX_PCT, 1 WATTS */
    PT("WSet", 22, INT32, "WSet_SF", "W", RW),
    PT("WSetRvrt", 24, INT32, "WSet_SF", "W", RW),
    PT("WSetPct", 26, INT16, "WSetPct_SF", "Pct", RW),
    PT("WSetPctRvrt", 27, INT16, "WSetPct_SF", "Pct", RW),
    PT("WSetEnaRvrt", 28, ENUM16, NULL, NULL, RW),
    PT("WSetRvrtTms", 29, UINT32, NULL, "Secs", RW),
    PT("WSetRvrtRem", 31, UINT32, NULL, "Secs", RO),
    SF("PF_SF", 51),
    SF("WMaxLimPct_SF", 52),
    SF("WSet_SF", 53),
    SF("WSetPct_SF", 54),
};

/* Model 713 DER Storage Capacity, L 7 (the 2020 drafts had L 6 and no Pct_SF). */
static const struct sunspec_models_point sm_der_storage[] = {
    PT("WHRtg", 0, UINT16, "WH_SF", "WH", RO),
    PT("WHAvail", 1, UINT16, "WH_SF", "WH", RO),
    PT("SoC", 2, UINT16, "Pct_SF", "Pct", RO),
    PT("SoH", 3, UINT16, "Pct_SF", "Pct", RO),
    PT("Sta", 4, ENUM16, NULL, NULL, RO), /* 0 OK, 1 WARNING, 2 ERROR */
    SF("WH_SF", 5),
    SF("Pct_SF", 6),
};

/* Model 802 Battery Base, L 62; the SFs sit at 50..61. */
static const struct sunspec_models_point sm_battery[] = {
    PT("AHRtg", 0, UINT16, "AHRtg_SF", "Ah", RO),
    PT("WHRtg", 1, UINT16, "WHRtg_SF", "Wh", RO),
    PT("WChaRteMax", 2, UINT16, "WChaDisChaMax_SF", "W", RO),
    PT("WDisChaRteMax", 3, UINT16, "WChaDisChaMax_SF", "W", RO),
    PT("SoCMax", 5, UINT16, "SoC_SF", "%WHRtg", RO),
    PT("SoCMin", 6, UINT16, "SoC_SF", "%WHRtg", RO),
    PT("SoCRsvMax", 7, UINT16, "SoC_SF", "%WHRtg", RW),
    PT("SoCRsvMin", 8, UINT16, "SoC_SF", "%WHRtg", RW),
    PT("SoC", 9, UINT16, "SoC_SF", "%WHRtg", RO),
    PT("SoH", 11, UINT16, "SoH_SF", "%", RO),
    PT("NCyc", 12, UINT32, NULL, NULL, RO),
    PT("ChaSt", 14, ENUM16, NULL, NULL, RO),
    PT("LocRemCtl", 15, ENUM16, NULL, NULL, RO), /* 0 REMOTE, 1 LOCAL */
    PT("Hb", 16, UINT16, NULL, NULL, RO),
    PT("CtrlHb", 17, UINT16, NULL, NULL, RW),
    PT("AlmRst", 18, UINT16, NULL, NULL, RW),
    PT("Typ", 19, ENUM16, NULL, NULL, RO),   /* 4 LITHIUM_ION */
    PT("State", 20, ENUM16, NULL, NULL, RO), /* 3 CONNECTED, 99 FAULT */
    PT("V", 32, UINT16, "V_SF", "V", RO),
    PT("A", 42, INT16, "A_SF", "A", RO),
    PT("W", 45, INT16, "W_SF", "W", RO),
    PT("SetOp", 48, ENUM16, NULL, NULL, RW),       /* 1 CONNECT, 2 DISCONNECT */
    PT("SetInvState", 49, ENUM16, NULL, NULL, RW), /* 1 STOPPED, 2 STANDBY, 3 STARTED */
    SF("AHRtg_SF", 50),
    SF("WHRtg_SF", 51),
    SF("WChaDisChaMax_SF", 52),
    SF("SoC_SF", 54),
    SF("SoH_SF", 56),
    SF("V_SF", 57),
    SF("A_SF", 59),
    SF("W_SF", 61),
};

#define SM_N(a) (sizeof(a) / sizeof((a)[0]))
#define SM_MODEL(id, name, length, need, pts)  \
    {                                          \
        id, name, length, need, pts, SM_N(pts) \
    }

static const struct sunspec_models_def sm_models[] = {
    SM_MODEL(1, "common", 66, 65, sm_common),
    SM_MODEL(101, "inverter_1p", 50, 42, sm_inverter),
    SM_MODEL(102, "inverter_split", 50, 42, sm_inverter),
    SM_MODEL(103, "inverter_3p", 50, 42, sm_inverter),
    SM_MODEL(120, "nameplate", 26, 25, sm_nameplate),
    SM_MODEL(121, "settings", 30, 27, sm_settings),
    SM_MODEL(123, "controls", 24, 23, sm_controls),
    SM_MODEL(124, "storage", 24, 24, sm_storage),
    SM_MODEL(201, "meter_1p", 105, 53, sm_meter),
    SM_MODEL(202, "meter_split", 105, 53, sm_meter),
    SM_MODEL(203, "meter_wye", 105, 53, sm_meter),
    SM_MODEL(204, "meter_delta", 105, 53, sm_meter),
    SM_MODEL(701, "der_ac_measurement", 153, 119, sm_der_ac),
    SM_MODEL(704, "der_ac_controls", 65, 55, sm_der_ctl),
    SM_MODEL(713, "der_storage_capacity", 7, 7, sm_der_storage),
    SM_MODEL(802, "battery", 62, 62, sm_battery),
};

static const double sm_pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10};

const struct sunspec_models_def *sunspec_models_find(uint16_t id)
{
    for (size_t i = 0; i < SM_N(sm_models); i++) {
        if (sm_models[i].id == id) {
            return &sm_models[i];
        }
    }
    return NULL;
}

size_t sunspec_models_count(void)
{
    return SM_N(sm_models);
}

const struct sunspec_models_def *sunspec_models_at(size_t i)
{
    return i < SM_N(sm_models) ? &sm_models[i] : NULL;
}

const struct sunspec_models_point *sunspec_models_point(const struct sunspec_models_def *m,
                                                        const char *name)
{
    if (!m || !name) {
        return NULL;
    }
    for (size_t i = 0; i < m->n_points; i++) {
        if (strcmp(m->points[i].name, name) == 0) {
            return &m->points[i];
        }
    }
    return NULL;
}

const char *sunspec_models_type_name(enum sunspec_models_type type)
{
    static const char *const names[] = {
        "uint16",
        "int16",
        "acc32",
        "uint32",
        "int32",
        "uint64",
        "sunssf",
        "enum16",
        "bitfield16",
        "bitfield32",
        "string",
    };

    if ((int)type < 0 || (size_t)type >= SM_N(names)) {
        return "unknown";
    }
    return names[type];
}

/* The point, checked to exist and to lie inside the n-register block. */
static int sm_locate(const struct sunspec_models_def *m,
                     size_t n,
                     const char *name,
                     const struct sunspec_models_point **out,
                     struct error_detail *ed)
{
    const struct sunspec_models_point *p = sunspec_models_point(m, name);

    *out = NULL;
    if (!m) {
        return error_setf(ed, ERROR_INVALID, "point %s: no model table", name ? name : "(null)");
    }
    if (!p) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "model %u point %s: not in flexd's table for %s",
                          (unsigned)m->id,
                          name ? name : "(null)",
                          m->name);
    }
    if ((size_t)p->offset + p->size > n) {
        return error_setf(ed,
                          ERROR_RANGE,
                          "model %u point %s: offset %u+%u is past the model length %zu",
                          (unsigned)m->id,
                          p->name,
                          (unsigned)p->offset,
                          (unsigned)p->size,
                          n);
    }
    *out = p;
    return ERROR_OK;
}

static uint32_t sm_u32(const uint16_t *r)
{
    return ((uint32_t)r[0] << 16) | r[1];
}

/* The integer in the point's registers as a double; 0 when the registers
 * hold the type's "not implemented" value. */
static int sm_raw(const struct sunspec_models_point *p, const uint16_t *r, double *v)
{
    uint32_t u;
    uint64_t w;

    switch (p->type) {
    case SUNSPEC_MODELS_UINT16:
    case SUNSPEC_MODELS_ENUM16:
    case SUNSPEC_MODELS_BITFIELD16:
        *v = r[0];
        return r[0] != 0xFFFFu;
    case SUNSPEC_MODELS_INT16:
    case SUNSPEC_MODELS_SUNSSF:
        *v = r[0] >= 0x8000u ? (double)r[0] - 65536.0 : (double)r[0];
        return r[0] != 0x8000u;
    case SUNSPEC_MODELS_ACC32:
        u = sm_u32(r);
        *v = u;
        return u != 0;
    case SUNSPEC_MODELS_UINT32:
    case SUNSPEC_MODELS_BITFIELD32:
        u = sm_u32(r);
        *v = u;
        return u != 0xFFFFFFFFu;
    case SUNSPEC_MODELS_INT32:
        u = sm_u32(r);
        *v = u >= 0x80000000u ? (double)u - 4294967296.0 : (double)u;
        return u != 0x80000000u;
    case SUNSPEC_MODELS_UINT64:
        w = ((uint64_t)sm_u32(r) << 32) | sm_u32(r + 2);
        *v = (double)w;
        return w != UINT64_MAX;
    case SUNSPEC_MODELS_STRING:
        break;
    }
    *v = NAN;
    return 0;
}

/* The exponent for point p: *sf and *present; errors when the SF point is
 * missing from the table or the block, or out of -10..10. */
static int sm_scale(const struct sunspec_models_def *m,
                    const uint16_t *body,
                    size_t n,
                    const struct sunspec_models_point *p,
                    int *sf,
                    int *present,
                    struct error_detail *ed)
{
    const struct sunspec_models_point *s;
    double v;
    int rc;

    *sf = 0;
    *present = 1;
    if (!p->sf) {
        return ERROR_OK;
    }
    rc = sm_locate(m, n, p->sf, &s, ed);
    if (rc) {
        return rc;
    }
    *present = sm_raw(s, body + s->offset, &v);
    if (!*present) {
        return ERROR_OK;
    }
    if (v < SUNSPEC_MODELS_SF_MIN || v > SUNSPEC_MODELS_SF_MAX) {
        return error_setf(ed,
                          ERROR_RANGE,
                          "model %u point %s: scale factor %s = %d is outside -10..10",
                          (unsigned)m->id,
                          p->name,
                          s->name,
                          (int)v);
    }
    *sf = (int)v;
    return ERROR_OK;
}

int sunspec_models_decode(const struct sunspec_models_def *m,
                          const uint16_t *body,
                          size_t n,
                          const char *point,
                          struct sunspec_models_value *out,
                          struct error_detail *ed)
{
    const struct sunspec_models_point *p;
    int sf_present;
    double v;
    int rc;

    out->present = 0;
    out->value = NAN;
    out->sf = 0;
    rc = sm_locate(m, n, point, &p, ed);
    if (rc) {
        return rc;
    }
    if (p->type == SUNSPEC_MODELS_STRING) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "model %u point %s: a string, not a number",
                          (unsigned)m->id,
                          p->name);
    }
    if (!sm_raw(p, body + p->offset, &v)) {
        return ERROR_OK;
    }
    rc = sm_scale(m, body, n, p, &out->sf, &sf_present, ed);
    if (rc || !sf_present) {
        out->sf = 0;
        return rc;
    }
    out->present = 1;
    out->value = out->sf >= 0 ? v * sm_pow10[out->sf] : v / sm_pow10[-out->sf];
    return ERROR_OK;
}

/* Allowed raw range per type; the "not implemented" value is left out,
 * except for acc32 where 0 is also the only way to say "nothing counted". */
static void sm_bounds(enum sunspec_models_type t, double *lo, double *hi)
{
    switch (t) {
    case SUNSPEC_MODELS_INT16:
        *lo = -32767.0;
        *hi = 32767.0;
        return;
    case SUNSPEC_MODELS_SUNSSF:
        *lo = SUNSPEC_MODELS_SF_MIN;
        *hi = SUNSPEC_MODELS_SF_MAX;
        return;
    case SUNSPEC_MODELS_ACC32:
        *lo = 0.0;
        *hi = 4294967295.0;
        return;
    case SUNSPEC_MODELS_UINT32:
    case SUNSPEC_MODELS_BITFIELD32:
        *lo = 0.0;
        *hi = 4294967294.0;
        return;
    case SUNSPEC_MODELS_INT32:
        *lo = -2147483647.0;
        *hi = 2147483647.0;
        return;
    case SUNSPEC_MODELS_UINT64:
        *lo = 0.0;
        *hi = 9007199254740992.0; /* 2^53: exact in a double */
        return;
    default:
        *lo = 0.0;
        *hi = 65534.0;
        return;
    }
}

static void sm_words(enum sunspec_models_type t, double raw, uint16_t *w)
{
    uint64_t u;

    if (t == SUNSPEC_MODELS_UINT64) {
        u = (uint64_t)raw;
        w[0] = (uint16_t)(u >> 48);
        w[1] = (uint16_t)(u >> 32);
        w[2] = (uint16_t)(u >> 16);
        w[3] = (uint16_t)u;
        return;
    }
    /* two's complement of the signed types through a 64-bit integer */
    u = raw < 0 ? (uint64_t)(int64_t)raw : (uint64_t)raw;
    if (t == SUNSPEC_MODELS_ACC32 || t == SUNSPEC_MODELS_UINT32 || t == SUNSPEC_MODELS_BITFIELD32 ||
        t == SUNSPEC_MODELS_INT32) {
        w[0] = (uint16_t)(u >> 16);
        w[1] = (uint16_t)u;
        return;
    }
    w[0] = (uint16_t)u;
}

int sunspec_models_encode(const struct sunspec_models_def *m,
                          const uint16_t *body,
                          size_t n,
                          const char *point,
                          double value,
                          uint16_t *raw,
                          struct error_detail *ed)
{
    const struct sunspec_models_point *p;
    double r, lo, hi;
    int sf, sf_present;
    int rc;

    rc = sm_locate(m, n, point, &p, ed);
    if (rc) {
        return rc;
    }
    if (p->type == SUNSPEC_MODELS_STRING) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "model %u point %s: a string, not a number",
                          (unsigned)m->id,
                          p->name);
    }
    if (!isfinite(value)) {
        return error_setf(ed,
                          ERROR_RANGE,
                          "model %u point %s: value %g is not a finite number",
                          (unsigned)m->id,
                          p->name,
                          value);
    }
    rc = sm_scale(m, body, n, p, &sf, &sf_present, ed);
    if (rc) {
        return rc;
    }
    if (!sf_present) {
        return error_setf(ed,
                          ERROR_STATE,
                          "model %u point %s: value %g cannot be encoded, scale factor %s is "
                          "not implemented",
                          (unsigned)m->id,
                          p->name,
                          value,
                          p->sf);
    }
    if (!p->sf && value != floor(value)) {
        return error_setf(ed,
                          ERROR_RANGE,
                          "model %u point %s: value %g must be a whole number",
                          (unsigned)m->id,
                          p->name,
                          value);
    }
    r = round(sf >= 0 ? value / sm_pow10[sf] : value * sm_pow10[-sf]);
    sm_bounds(p->type, &lo, &hi);
    if (r < lo || r > hi) {
        return error_setf(ed,
                          ERROR_RANGE,
                          "model %u point %s: value %g (raw %.0f with SF %d) is outside the %s "
                          "range %.0f..%.0f",
                          (unsigned)m->id,
                          p->name,
                          value,
                          r,
                          sf,
                          sunspec_models_type_name(p->type),
                          lo,
                          hi);
    }
    sm_words(p->type, r, raw);
    return ERROR_OK;
}

int sunspec_models_put(const struct sunspec_models_def *m,
                       uint16_t *body,
                       size_t n,
                       const char *point,
                       double value,
                       struct error_detail *ed)
{
    const struct sunspec_models_point *p;
    uint16_t raw[4];
    int rc;

    rc = sm_locate(m, n, point, &p, ed);
    if (rc) {
        return rc;
    }
    rc = sunspec_models_encode(m, body, n, point, value, raw, ed);
    if (rc) {
        return rc;
    }
    memcpy(body + p->offset, raw, (size_t)p->size * sizeof(raw[0]));
    return ERROR_OK;
}

int sunspec_models_put_absent(const struct sunspec_models_def *m,
                              uint16_t *body,
                              size_t n,
                              const char *point,
                              struct error_detail *ed)
{
    const struct sunspec_models_point *p;
    uint16_t *r;
    int rc;

    rc = sm_locate(m, n, point, &p, ed);
    if (rc) {
        return rc;
    }
    r = body + p->offset;
    switch (p->type) {
    case SUNSPEC_MODELS_INT16:
    case SUNSPEC_MODELS_SUNSSF:
        r[0] = 0x8000u;
        break;
    case SUNSPEC_MODELS_INT32:
        r[0] = 0x8000u;
        r[1] = 0;
        break;
    case SUNSPEC_MODELS_ACC32:
    case SUNSPEC_MODELS_STRING:
        memset(r, 0, (size_t)p->size * sizeof(*r));
        break;
    default:
        for (uint16_t i = 0; i < p->size; i++) {
            r[i] = 0xFFFFu;
        }
        break;
    }
    return ERROR_OK;
}

int sunspec_models_get_string(const struct sunspec_models_def *m,
                              const uint16_t *body,
                              size_t n,
                              const char *point,
                              char *buf,
                              size_t buf_size,
                              struct error_detail *ed)
{
    const struct sunspec_models_point *p;
    size_t k = 0;
    int rc;

    if (buf_size > 0) {
        buf[0] = '\0';
    }
    rc = sm_locate(m, n, point, &p, ed);
    if (rc) {
        return rc;
    }
    if (p->type != SUNSPEC_MODELS_STRING) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "model %u point %s: a %s, not a string",
                          (unsigned)m->id,
                          p->name,
                          sunspec_models_type_name(p->type));
    }
    for (size_t i = 0; i < 2u * p->size && k + 1 < buf_size; i++) {
        uint16_t w = body[p->offset + i / 2];
        char c = (char)(i % 2 ? (w & 0xFF) : (w >> 8));

        if (c == '\0') {
            break;
        }
        buf[k++] = c;
    }
    if (buf_size > 0) {
        buf[k] = '\0';
    }
    return ERROR_OK;
}

int sunspec_models_put_string(const struct sunspec_models_def *m,
                              uint16_t *body,
                              size_t n,
                              const char *point,
                              const char *s,
                              struct error_detail *ed)
{
    const struct sunspec_models_point *p;
    size_t len;
    int rc;

    rc = sm_locate(m, n, point, &p, ed);
    if (rc) {
        return rc;
    }
    if (p->type != SUNSPEC_MODELS_STRING) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "model %u point %s: a %s, not a string",
                          (unsigned)m->id,
                          p->name,
                          sunspec_models_type_name(p->type));
    }
    len = strlen(s);
    if (len > 2u * p->size) {
        return error_setf(ed,
                          ERROR_RANGE,
                          "model %u point %s: \"%s\" is %zu characters, more than %u",
                          (unsigned)m->id,
                          p->name,
                          s,
                          len,
                          2u * p->size);
    }
    for (size_t i = 0; i < p->size; i++) {
        unsigned hi = 2 * i < len ? (unsigned char)s[2 * i] : 0;
        unsigned lo = 2 * i + 1 < len ? (unsigned char)s[2 * i + 1] : 0;

        body[p->offset + i] = (uint16_t)((hi << 8) | lo);
    }
    return ERROR_OK;
}
