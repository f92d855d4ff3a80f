/* SPDX-License-Identifier: MIT */
/*
 * device_drivers.c - what each kind of device means to flexd, on top of the
 * protocol modules: SunSpec (io/sunspec.h) for the meter, PV inverters and
 * the battery's PCS, register maps (io/regmap.h) for charging connectors
 * and for a meter that does not speak SunSpec, and the parking-io layout
 * for the parking controller. Conventions (docs/devices.md):
 *   - meter W: positive = import from the grid (SunSpec or register map
 *     alike, so the engine cannot tell them apart);
 *   - battery: flexd's setpoint P (discharge positive) goes to model 124 as
 *     forced operation: discharge P is OutWRte = P and InWRte = -P (a
 *     negative rate forces the other direction, as Fronius documents),
 *     charge C is InWRte = C and OutWRte = -C;
 *   - PV: the kW limit becomes WMaxLimPct of WMax (model 123, else 704);
 *   - a connector limit in A is kW x 1000 / (3 x 230 V) for AC, and kW x
 *     1000 / 750 V for DC (the map says which unit it takes).
 * Device threads only (io/device.c).
 */
#include "device.h"

#include "../common/alloc.h"
#include "regmap.h"
#include "sunspec.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRV_AC_PHASE_V 230.0 /* three-phase 400 V, line to neutral */
#define DRV_DC_V       750.0 /* a DC charger's nominal output voltage, for A limits */

/* Parking-io layout: discrete inputs 0..spaces-1 (1 = occupied) and input
 * registers 0-1 gate-in count, 2-3 gate-out count (uint32, high word
 * first). */
#define DRV_PARKING_GATE_IN  0
#define DRV_PARKING_GATE_OUT 2

/* ---- SunSpec ---- */

struct drv_sunspec {
    struct sunspec *ss;
    int kind;
};

static int drv_sunspec_open(const struct station_device *cfg,
                            const void *arg,
                            modbus_t *mb,
                            void **state,
                            struct error_detail *ed)
{
    struct drv_sunspec *s = ALLOC_NEW(struct drv_sunspec);

    (void)arg;
    s->ss = sunspec_new_modbus(cfg->id, mb);
    s->kind = cfg->kind;
    if (sunspec_discover(s->ss, ed) != ERROR_OK) {
        sunspec_free(s->ss);
        free(s);
        return ERROR_IO;
    }
    *state = s;
    return ERROR_OK;
}

static void drv_sunspec_close(void *state)
{
    struct drv_sunspec *s = state;

    sunspec_free(s->ss);
    free(s);
}

static int
drv_sunspec_read(void *state, modbus_t *mb, struct device_reading *r, struct error_detail *ed)
{
    struct drv_sunspec *s = state;
    int rc = ERROR_STATE;

    (void)mb;
    if (s->kind == STATION_DEVICE_METER) {
        struct sunspec_meter m;

        rc = sunspec_read_meter(s->ss, &m, ed);
        if (rc == ERROR_OK && isnan(m.power_kw)) {
            return error_setf(ed, ERROR_RANGE, "%s: meter W not implemented", sunspec_name(s->ss));
        }
        r->grid_kw = m.power_kw;
        r->import_kwh = m.import_kwh;
        r->export_kwh = m.export_kwh;
    } else if (s->kind == STATION_DEVICE_PV) {
        struct sunspec_pv p;

        rc = sunspec_read_pv(s->ss, &p, ed);
        if (rc == ERROR_OK && isnan(p.power_kw)) {
            return error_setf(ed,
                              ERROR_RANGE,
                              "%s: inverter W not implemented",
                              sunspec_name(s->ss));
        }
        r->pv_kw = fmax(0.0, p.power_kw);
        r->pv_rated_kw = isnan(p.wmax_kw) ? p.rated_kw : p.wmax_kw;
        r->pv_limit_kw = isnan(p.limit_pct) ? r->pv_rated_kw : p.limit_pct / 100.0 * r->pv_rated_kw;
    } else if (s->kind == STATION_DEVICE_STORAGE) {
        struct sunspec_battery b;

        rc = sunspec_read_battery(s->ss, &b, ed);
        r->soc_known = rc == ERROR_OK && !isnan(b.soc) && b.soc >= 0.0 && b.soc <= 1.0;
        r->soc = r->soc_known ? b.soc : 0.0;
        r->ess_kw = isnan(b.power_kw) ? 0.0 : b.power_kw;
    }
    return rc;
}

static int
drv_sunspec_write(void *state, modbus_t *mb, double value, int revert_s, struct error_detail *ed)
{
    struct drv_sunspec *s = state;

    (void)mb;
    if (s->kind == STATION_DEVICE_PV) {
        struct sunspec_pv p;
        int rc = sunspec_read_pv(s->ss, &p, ed);
        double base = isnan(p.wmax_kw) ? p.rated_kw : p.wmax_kw;

        if (rc != ERROR_OK) {
            return rc;
        }
        if (!(base > 0.0)) {
            return error_setf(ed,
                              ERROR_STATE,
                              "%s: WMax and WRtg not implemented: cannot curtail",
                              sunspec_name(s->ss));
        }
        return sunspec_set_pv_limit(s->ss,
                                    fmin(100.0, fmax(0.0, 100.0 * value / base)),
                                    (unsigned)revert_s,
                                    ed);
    }
    if (s->kind == STATION_DEVICE_STORAGE) {
        struct sunspec_storage_cmd cmd;

        /* discharge P: OutWRte P, InWRte -P; charge C: InWRte C, OutWRte -C */
        cmd.charge_limit_kw = -value;
        cmd.discharge_limit_kw = value;
        cmd.min_reserve = NAN;
        cmd.revert_s = (unsigned)revert_s;
        return sunspec_set_storage(s->ss, &cmd, ed);
    }
    return error_setf(ed, ERROR_INVALID, "%s: a meter takes no setpoint", sunspec_name(s->ss));
}

static const struct device_driver drv_sunspec = {
    "sunspec",
    drv_sunspec_open,
    drv_sunspec_read,
    drv_sunspec_write,
    drv_sunspec_close,
};

/* ---- register-map connectors ---- */

struct drv_regmap {
    char id[STATION_ID_MAX]; /* first: see drv_no_write */
    const struct regmap_file *map;
    double volts_x_phases; /* kW <-> A for current limits */
    uint32_t heartbeat;
};

static int drv_regmap_open(const struct station_device *cfg,
                           const void *arg,
                           modbus_t *mb,
                           void **state,
                           struct error_detail *ed)
{
    struct drv_regmap *s;

    (void)mb;
    if (!arg) {
        return error_setf(ed, ERROR_STATE, "%s: no register map loaded", cfg->id);
    }
    if (regmap_file_check_device(arg, cfg, ed) != ERROR_OK) {
        return ERROR_INVALID;
    }
    s = ALLOC_NEW(struct drv_regmap);
    s->map = arg;
    snprintf(s->id, sizeof(s->id), "%s", cfg->id);
    /* AC connector ids in the station are "ACn-m"; the map is per connector
     * and does not say, so the unit conversion follows the target's kind */
    s->volts_x_phases = strncmp(cfg->target, "AC", 2) == 0 ? 3.0 * DRV_AC_PHASE_V : DRV_DC_V;
    *state = s;
    return ERROR_OK;
}

static void drv_regmap_close(void *state)
{
    free(state);
}

static double drv_regmap_to_kw(const struct drv_regmap *s, int unit, double v)
{
    switch (unit) {
    case REGMAP_FILE_UNIT_W:
        return v / 1000.0;
    case REGMAP_FILE_UNIT_A:
        return v * s->volts_x_phases / 1000.0;
    default:
        return v;
    }
}

static int
drv_regmap_read(void *state, modbus_t *mb, struct device_reading *r, struct error_detail *ed)
{
    struct drv_regmap *s = state;
    struct regmap_reading rr;
    int rc = regmap_read(mb, s->map, &rr, ed);

    if (rc != ERROR_OK) {
        return rc;
    }
    switch (rr.state) {
    case REGMAP_FILE_AVAILABLE:
        r->connector_state = DEVICE_CONNECTOR_AVAILABLE;
        break;
    case REGMAP_FILE_OCCUPIED:
        r->connector_state = DEVICE_CONNECTOR_PLUGGED;
        break;
    case REGMAP_FILE_CHARGING:
        r->connector_state = DEVICE_CONNECTOR_CHARGING;
        break;
    default:
        r->connector_state = DEVICE_CONNECTOR_FAULT;
        break;
    }
    r->ev_kw = fmax(0.0, rr.power_kw);
    r->session_kwh = fmax(0.0, rr.session_energy_kwh);
    r->ev_limit_kw = rr.present[REGMAP_FILE_LIMIT]
                         ? drv_regmap_to_kw(s,
                                            s->map->field[REGMAP_FILE_LIMIT].unit,
                                            rr.value[REGMAP_FILE_LIMIT])
                         : NAN;
    return ERROR_OK;
}

static int
drv_regmap_write(void *state, modbus_t *mb, double value, int revert_s, struct error_detail *ed)
{
    struct drv_regmap *s = state;
    const struct regmap_file_field *f = &s->map->field[REGMAP_FILE_LIMIT];
    const struct regmap_file_field *hb = &s->map->field[REGMAP_FILE_HEARTBEAT];
    double v = value;
    int rc;

    switch (f->unit) {
    case REGMAP_FILE_UNIT_W:
        v = value * 1000.0;
        break;
    case REGMAP_FILE_UNIT_A:
        v = value * 1000.0 / s->volts_x_phases;
        break;
    default:
        break;
    }
    /* within the map's range; a map whose least value is above 0 (a charger
     * that cannot pause) gets its least value */
    v = fmin(fmax(v, f->min), f->max);
    rc = regmap_write(mb, s->map, REGMAP_FILE_LIMIT, v, NULL, ed);
    if (rc != ERROR_OK) {
        return rc;
    }
    if (s->map->present[REGMAP_FILE_HEARTBEAT]) {
        double h = hb->mode == REGMAP_FILE_HB_TIMEOUT ? (double)revert_s
                                                      : (double)(++s->heartbeat % 1000u);

        rc = regmap_write(mb, s->map, REGMAP_FILE_HEARTBEAT, h, NULL, ed);
    }
    return rc;
}

static const struct device_driver drv_regmap = {
    "regmap",
    drv_regmap_open,
    drv_regmap_read,
    drv_regmap_write,
    drv_regmap_close,
};

/* ---- register-map meter ---- */

/* The same device_reading fields as the SunSpec meter: net kW import
 * positive, the counters (NAN when the map has none). */
static int
drv_regmap_meter_read(void *state, modbus_t *mb, struct device_reading *r, struct error_detail *ed)
{
    const struct drv_regmap *s = state;
    struct regmap_meter_reading m;
    int rc = regmap_read_meter(mb, s->map, &m, ed);

    if (rc != ERROR_OK) {
        return rc;
    }
    r->grid_kw = m.power_kw;
    r->import_kwh = m.import_kwh;
    r->export_kwh = m.export_kwh;
    return ERROR_OK;
}

/* The write of a device that only measures (a register-map meter, the
 * parking controller): its state starts with the device id. */
static int
drv_no_write(void *state, modbus_t *mb, double value, int revert_s, struct error_detail *ed)
{
    const char *id = state;

    (void)mb;
    (void)value;
    (void)revert_s;
    return error_setf(ed, ERROR_INVALID, "%s: this device measures only: it takes no setpoint", id);
}

static const struct device_driver drv_regmap_meter = {
    "regmap",
    drv_regmap_open,
    drv_regmap_meter_read,
    drv_no_write,
    drv_regmap_close,
};

/* ---- parking-io ---- */

struct drv_parking {
    char id[STATION_ID_MAX]; /* first: see drv_no_write */
    int spaces;
};

_Static_assert(offsetof(struct drv_regmap, id) == 0 && offsetof(struct drv_parking, id) == 0,
               "drv_no_write reads the id at the start of the state");

static int drv_parking_open(const struct station_device *cfg,
                            const void *arg,
                            modbus_t *mb,
                            void **state,
                            struct error_detail *ed)
{
    const struct station *st = arg;
    struct drv_parking *s;

    (void)mb;
    if (!st) {
        return error_setf(ed, ERROR_STATE, "%s: no station given", cfg->id);
    }
    s = ALLOC_NEW(struct drv_parking);
    snprintf(s->id, sizeof(s->id), "%s", cfg->id);
    s->spaces = st->parking.spaces;
    *state = s;
    return ERROR_OK;
}

static int
drv_parking_read(void *state, modbus_t *mb, struct device_reading *r, struct error_detail *ed)
{
    struct drv_parking *s = state;
    uint16_t reg[4];
    int occupied = 0;

    for (int at = 0; at < s->spaces; at += MODBUS_MAX_READ_BITS) {
        uint8_t bits[MODBUS_MAX_READ_BITS];
        int n = s->spaces - at < MODBUS_MAX_READ_BITS ? s->spaces - at : MODBUS_MAX_READ_BITS;

        if (modbus_read_input_bits(mb, at, n, bits) != n) {
            return error_setf(ed,
                              ERROR_IO,
                              "%s: discrete inputs %d..%d: %s",
                              s->id,
                              at,
                              at + n - 1,
                              modbus_strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            occupied += bits[i] != 0;
        }
    }
    if (modbus_read_input_registers(mb, DRV_PARKING_GATE_IN, 4, reg) != 4) {
        return error_setf(ed,
                          ERROR_IO,
                          "%s: input registers 0..3 (gate counters): %s",
                          s->id,
                          modbus_strerror(errno));
    }
    r->occupied = occupied;
    r->spaces_watched = s->spaces;
    r->gate_in = (uint32_t)reg[DRV_PARKING_GATE_IN] << 16 | reg[DRV_PARKING_GATE_IN + 1];
    r->gate_out = (uint32_t)reg[DRV_PARKING_GATE_OUT] << 16 | reg[DRV_PARKING_GATE_OUT + 1];
    return ERROR_OK;
}

static const struct device_driver drv_parking = {
    "parking-io",
    drv_parking_open,
    drv_parking_read,
    drv_no_write,
    drv_regmap_close, /* a plain free as well */
};

const struct device_driver *device_driver_for(const struct station_device *cfg)
{
    switch (cfg->protocol) {
    case STATION_PROTOCOL_SUNSPEC:
        return &drv_sunspec;
    case STATION_PROTOCOL_REGMAP:
        return cfg->kind == STATION_DEVICE_METER ? &drv_regmap_meter : &drv_regmap;
    default:
        return &drv_parking;
    }
}
