/* SPDX-License-Identifier: MIT */
/*
 * sunspec_image.h - an in-memory SunSpec register image for one simulated
 * device: the "SunS" marker at a base address, a chain of models, the
 * 0xFFFF end marker. The device simulator serves the array over Modbus
 * (a modbus_mapping_t whose tab_registers points at it, start_registers =
 * base) and runs its physics through the setters and getters here, which
 * apply the scale factors in the image exactly as a device would.
 *
 * Device kinds and their chains:
 *   PV inverter  1, 103, 120, 121, 123 (704 instead of 123 with der_controls)
 *   storage      1, 103 (AC side), 124, 802 (713 instead of 802 with der_storage)
 *   meter        1, 203
 * Points flexd has no table for hold 0xFFFF; points in the tables start as
 * "not implemented" and the constructor fills the ones a device would have.
 *
 * Not thread-safe: whoever serves the image over Modbus from another
 * thread serialises access (the server's request handling vs. the physics).
 */
#ifndef FLEXD_SIM_SUNSPEC_IMAGE_H
#define FLEXD_SIM_SUNSPEC_IMAGE_H

#include "../common/error.h"
#include "../io/sunspec_models.h"

#include <stddef.h>
#include <stdint.h>

enum sunspec_image_kind {
    SUNSPEC_IMAGE_PV = 0,
    SUNSPEC_IMAGE_STORAGE = 1,
    SUNSPEC_IMAGE_METER = 2,
};

struct sunspec_image_config {
    enum sunspec_image_kind kind;
    uint16_t base;       /* address of the marker; SunSpec allows 0, 40000, 50000 */
    double rated_kw;     /* PV/storage AC rating, meter full scale: 0 < x <= 1e6 */
    double capacity_kwh; /* storage only: 0 < x <= 1e7 */
    int der_controls;    /* PV: model 704 instead of 123 */
    int der_storage;     /* storage: model 713 instead of 802 */
    const char *serial;  /* model 1 SN (<= 32 chars); NULL = "SIM0001" */
};

struct sunspec_image;

/* Build an image. Scale factors are chosen so the rating fits each point
 * with margin (W_SF >= 0, percentages with SF -2, SoC with SF -1).
 * Initial state: no power, SoC 50 %, no limits enabled (WMaxLimPct 100,
 * InWRte/OutWRte 100), meter counters 0 (which SunSpec reads as "not
 * accumulated"). Errors: ERROR_INVALID (kind, rating, capacity, serial),
 * ERROR_RANGE (the chain would run past register 65535). */
int sunspec_image_new(const struct sunspec_image_config *cfg,
                      struct sunspec_image **out,
                      struct error_detail *ed);

void sunspec_image_free(struct sunspec_image *img);

uint16_t sunspec_image_base(const struct sunspec_image *img);

/* Registers from base through the end marker (ID 0xFFFF, L 0). */
size_t sunspec_image_size(const struct sunspec_image *img);

/* The register array (sunspec_image_size() words, first at base). Owned
 * by the image and stable for its lifetime; a Modbus server may read and
 * write it in place. */
uint16_t *sunspec_image_regs(struct sunspec_image *img);

/* Address of model id's ID register; ERROR_INVALID when not in the image. */
int sunspec_image_model_addr(const struct sunspec_image *img, uint16_t id, uint16_t *addr);

/* Put a physical value (W, Wh, %, s, enum) into a point, encoded with the
 * scale factor currently in the image. Errors: ERROR_INVALID (model not in
 * the image, unknown point), ERROR_RANGE (value does not fit), see
 * sunspec_models_encode(). */
int sunspec_image_set(struct sunspec_image *img,
                      uint16_t id,
                      const char *point,
                      double value,
                      struct error_detail *ed);

/* Mark a point "not implemented". */
int sunspec_image_set_absent(struct sunspec_image *img,
                             uint16_t id,
                             const char *point,
                             struct error_detail *ed);

int sunspec_image_set_string(struct sunspec_image *img,
                             uint16_t id,
                             const char *point,
                             const char *s,
                             struct error_detail *ed);

/* Decode a point, e.g. a control point the client wrote. */
int sunspec_image_get(const struct sunspec_image *img,
                      uint16_t id,
                      const char *point,
                      struct sunspec_models_value *out,
                      struct error_detail *ed);

/* The active PV limit in % of WMax: WMaxLimPct of model 123 (or 704)
 * when its enable is 1, else 100. Reversion timers are the simulator's
 * business; this reads the registers as they stand. */
double sunspec_image_pv_limit_pct(const struct sunspec_image *img);

/* What model 124 currently asks of a storage device. */
struct sunspec_image_storage {
    unsigned mode;             /* StorCtl_Mod bits (SUNSPEC_MODELS_STORCTL_*) */
    double charge_limit_kw;    /* InWRte x WChaMax when CHARGE is set, else WChaMax */
    double discharge_limit_kw; /* OutWRte x WChaMax when DISCHARGE is set, else WChaMax */
    double min_reserve;        /* MinRsvPct / 100; NAN when not implemented */
    unsigned revert_s;         /* InOutWRte_RvrtTms (0 = none) */
};

/* Errors: ERROR_INVALID when the image has no model 124, ERROR_STATE when
 * a needed point is not implemented. */
int sunspec_image_storage_cmd(const struct sunspec_image *img,
                              struct sunspec_image_storage *out,
                              struct error_detail *ed);

#endif
