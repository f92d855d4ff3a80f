/* SPDX-License-Identifier: MIT */
/*
 * sunspec.h - a SunSpec client for one device: discovery of the model
 * chain, block reads decoded with scale factors, and the two write paths
 * flexd needs (PV curtailment through model 123 or 704, storage
 * charge/discharge limits through model 124), each verified by reading
 * the registers back.
 *
 * Registers are read and written through a small transport, so the unit
 * tests and the simulator can serve an in-memory register image while the
 * daemon uses libmodbus (sunspec_new_modbus). Not thread-safe: one client
 * belongs to the thread that owns the device (the engine's loop).
 *
 * Every error fills the error_detail with the device name, and where they
 * apply the model, point and value ("pv1: model 123 point WMaxLimPct: ...").
 */
#ifndef FLEXD_IO_SUNSPEC_H
#define FLEXD_IO_SUNSPEC_H

#include "../common/error.h"
#include "sunspec_models.h"

#include <modbus.h>
#include <stddef.h>
#include <stdint.h>

/* Register access for one device. read fills dst with count holding
 * registers (FC 03) from addr; write stores count registers (FC 16).
 * Both return ERROR_OK or ERROR_IO with ed describing the fault (an
 * exception reply, a timeout, a dropped connection). count is at most
 * SUNSPEC_READ_MAX / SUNSPEC_WRITE_MAX. */
struct sunspec_transport {
    int (*read)(void *ctx, uint16_t addr, uint16_t count, uint16_t *dst, struct error_detail *ed);
    int (*write)(void *ctx,
                 uint16_t addr,
                 uint16_t count,
                 const uint16_t *src,
                 struct error_detail *ed);
    void *ctx;
};

#define SUNSPEC_READ_MAX   125 /* Modbus FC 03 limit */
#define SUNSPEC_WRITE_MAX  123 /* Modbus FC 16 limit */
#define SUNSPEC_MAX_MODELS 64  /* a longer chain is refused as broken */
#define SUNSPEC_END_ID     0xFFFFu

/* The bases discovery probes, in this order (pysunspec2 uses the same). */
#define SUNSPEC_BASES   \
    {                   \
        0, 40000, 50000 \
    }

struct sunspec;

/* One model found in the chain. */
struct sunspec_model_info {
    uint16_t id;
    uint16_t addr;   /* address of the model's ID register */
    uint16_t length; /* L: registers after the ID,L header */
};

/* A client for device `name` (copied; used in every message) reading
 * through t (copied; t->ctx stays the caller's). Never NULL. */
struct sunspec *sunspec_new(const char *name, const struct sunspec_transport *t);

/* A client over an open libmodbus context. mb is borrowed: the caller
 * connects it, sets the slave id and response timeout, and frees it after
 * sunspec_free(). libmodbus errors become ERROR_IO with modbus_strerror's
 * text. */
struct sunspec *sunspec_new_modbus(const char *name, modbus_t *mb);

void sunspec_free(struct sunspec *s);

const char *sunspec_name(const struct sunspec *s);

/* Find the "SunS" marker (0x5375 0x6E53) at 0, 40000 or 50000, in that
 * order; a read error (exception or timeout) at one base moves on to the
 * next. Then walk the chain of (ID, L) headers to ID 0xFFFF and record
 * every model. Errors: ERROR_IO when no base could be read, ERROR_PARSE
 * when no base holds the marker or the chain is broken (a header that
 * cannot be read, model id 0, a length that runs past register 65535,
 * more than SUNSPEC_MAX_MODELS models, a model flexd knows whose L is too
 * short for its points). On error the previous discovery is forgotten. */
int sunspec_discover(struct sunspec *s, struct error_detail *ed);

/* Base address of the marker; only valid after a successful discovery. */
uint16_t sunspec_base(const struct sunspec *s);

size_t sunspec_model_count(const struct sunspec *s);

/* The i-th model in chain order, or NULL past the end. */
const struct sunspec_model_info *sunspec_model_at(const struct sunspec *s, size_t i);

/* The first model with this id, or NULL. */
const struct sunspec_model_info *sunspec_find(const struct sunspec *s, uint16_t id);

/* Read the whole block of model id into the client's cache (several
 * requests when L > 123). Errors: ERROR_STATE before discovery or when the
 * device has no such model, ERROR_IO from the transport. */
int sunspec_read_model(struct sunspec *s, uint16_t id, struct error_detail *ed);

/* Decode one point of model id from the block cached by the last
 * sunspec_read_model (absent points have present = 0). Errors:
 * ERROR_STATE when the model was never read, else as
 * sunspec_models_decode(). */
int sunspec_point(const struct sunspec *s,
                  uint16_t id,
                  const char *point,
                  struct sunspec_models_value *out,
                  struct error_detail *ed);

/* A string point of the cached block, NUL-terminated into buf. */
int sunspec_string(const struct sunspec *s,
                   uint16_t id,
                   const char *point,
                   char *buf,
                   size_t buf_size,
                   struct error_detail *ed);

/* Encode value with the scale factor in the cached block and write the
 * point's registers; the cache is updated on success. No read-back: the
 * helpers below verify. Errors: ERROR_STATE (model not read), ERROR_RANGE
 * (value cannot be encoded), ERROR_INVALID (unknown or read-only point),
 * ERROR_IO. */
int sunspec_write_point(struct sunspec *s,
                        uint16_t id,
                        const char *point,
                        double value,
                        struct error_detail *ed);

/* PV inverter readings; absent values are NAN (or -1 for state). */
struct sunspec_pv {
    double power_kw;   /* 10x W (or 701 W): AC output */
    double energy_kwh; /* 10x WH lifetime (or 701 TotWhInj) */
    double rated_kw;   /* 120 WRtg */
    double wmax_kw;    /* 121 WMax, the base of WMaxLimPct */
    double limit_pct;  /* active limit (123 or 704), 100 when not enabled */
    int state;         /* 10x St (1 OFF .. 4 MPPT, 5 THROTTLED, 7 FAULT) */
    uint16_t model;    /* the inverter model read: 101..103 or 701 */
};

/* Read a PV inverter: model 101/102/103 (or 701), and 120, 121, 123/704
 * when present. Errors: ERROR_STATE when the device has no inverter
 * model, else from the reads. */
int sunspec_read_pv(struct sunspec *s, struct sunspec_pv *out, struct error_detail *ed);

/* Meter readings (model 201..204); absent values are NAN. */
struct sunspec_meter {
    double power_kw;   /* W, with the sign the meter reports */
    double current_a;  /* A, total */
    double export_kwh; /* TotWhExp */
    double import_kwh; /* TotWhImp */
    uint16_t model;
};

int sunspec_read_meter(struct sunspec *s, struct sunspec_meter *out, struct error_detail *ed);

/* Storage readings; absent values are NAN (or -1 for charge_state). */
struct sunspec_battery {
    double soc;           /* 0..1: 802 SoC, else 713 SoC, else 124 ChaState */
    double power_kw;      /* 802 W (DC, device's sign), else 10x W (AC, + = discharge) */
    double max_charge_kw; /* 124 WChaMax: the base of InWRte/OutWRte */
    double min_reserve;   /* 0..1: 124 MinRsvPct */
    int charge_state;     /* ChaSt: 1 OFF, 2 EMPTY, 3 DISCHARGING, 4 CHARGING, 5 FULL, 6 HOLDING */
    uint16_t soc_model;   /* where soc came from: 802, 713 or 124 (0 when absent) */
};

/* Read a storage device: 124, 802 or 713, and 101..103 for the AC side.
 * Errors: ERROR_STATE when the device has none of 124, 802, 713. */
int sunspec_read_battery(struct sunspec *s, struct sunspec_battery *out, struct error_detail *ed);

/* Limit PV output to limit_pct (0..100) of WMax. Model 123: WMaxLimPct,
 * then WMaxLimPct_RvrtTms = revert_s, then WMaxLim_Ena = 1. Without 123,
 * model 704: WMaxLimPct, WMaxLimPctRvrtTms, WMaxLimPctEna = 1. The device
 * drops the limit after revert_s seconds without a new write (0 = never),
 * so callers re-write it as a watchdog. The block is read back and every
 * written point compared. Errors: ERROR_RANGE (limit_pct), ERROR_STATE (no
 * 123/704 or a scale factor missing; a read-back that differs: "model 123
 * point WMaxLimPct: wrote 50, read back 100"), ERROR_IO (transport). */
int sunspec_set_pv_limit(struct sunspec *s,
                         double limit_pct,
                         unsigned revert_s,
                         struct error_detail *ed);

/* Disable the limit (WMaxLim_Ena or WMaxLimPctEna = 0), verified. */
int sunspec_clear_pv_limit(struct sunspec *s, struct error_detail *ed);

/* Model 124 limits. A NAN limit leaves that direction uncontrolled (its
 * StorCtl_Mod bit cleared and its rate untouched). Positive limits cap the
 * charge or discharge power; a negative one is passed through for devices
 * that read it as forced operation in the other direction (vendor
 * behaviour: verify on the device). Limits become InWRte/OutWRte in % of
 * WChaMax, |%| <= 100. */
struct sunspec_storage_cmd {
    double charge_limit_kw;    /* InWRte, CHARGE bit; NAN = none */
    double discharge_limit_kw; /* OutWRte, DiSCHARGE bit; NAN = none */
    double min_reserve;        /* 0..1 -> MinRsvPct; NAN = leave as is */
    unsigned revert_s;         /* InOutWRte_RvrtTms, 0 = never */
};

/* Write the rates, the revert time and the reserve, then StorCtl_Mod last
 * (it arms the rates), read model 124 back and compare every written
 * point. Errors: ERROR_STATE (no model 124, WChaMax or a scale factor not
 * implemented, WChaMax 0, a read-back that differs), ERROR_RANGE (a limit
 * above WChaMax, reserve outside 0..1), ERROR_IO (transport). */
int sunspec_set_storage(struct sunspec *s,
                        const struct sunspec_storage_cmd *cmd,
                        struct error_detail *ed);

#endif
