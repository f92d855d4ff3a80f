/* SPDX-License-Identifier: MIT */
/*
 * regmap.h - reads and drives a charging connector, and reads a grid meter,
 * through a register map (config/regmap_file.h, docs/devices.md). Three
 * layers, each usable alone:
 *
 *   - codec: decode one field from the registers it occupies, and encode a
 *     setpoint into registers (inverse scale, rounding, range check);
 *   - planning: the fewest contiguous reads that cover every readable field
 *     of a map (fields joined across at most map->max_gap unused registers,
 *     at most map->max_read registers per read);
 *   - transfer: read every field of a connector or a meter, or write a
 *     setpoint and read it back, through a libmodbus context the caller
 *     owns.
 *
 * No state of its own: every call works on the caller's map, context and
 * result. The libmodbus context must be used by one thread at a time (the
 * caller's); errors from libmodbus are translated here into ERROR_IO with
 * the library's text in the detail, and logged at debug level only: the
 * caller, which knows whether a fault is new, logs its start and end.
 */
#ifndef FLEXD_IO_REGMAP_H
#define FLEXD_IO_REGMAP_H

#include "../common/error.h"
#include "../config/regmap_file.h"

#include <modbus.h>
#include <stdint.h>

/* Each readable field needs at most one read, so a plan never has more. */
#define REGMAP_BLOCKS_MAX REGMAP_FILE_ROLES

/* One read request: count registers from address in one table. */
struct regmap_block {
    int table; /* enum regmap_file_table */
    int address;
    int count; /* 1..map->max_read */
};

struct regmap_plan {
    int n_blocks;
    struct regmap_block block[REGMAP_BLOCKS_MAX];
};

/* What one read of a connector found. Values are in the units the map
 * gives each field (value[REGMAP_FILE_LIMIT] is in A, W or kW as
 * map->field[REGMAP_FILE_LIMIT].unit says); codes are raw integers. */
struct regmap_reading {
    int present[REGMAP_FILE_ROLES];  /* 1 when value[] holds that field */
    double value[REGMAP_FILE_ROLES]; /* NAN when not present */
    int state;                       /* enum regmap_file_state, from status; OFFLINE
                                      * when the read failed */
    int plug_state;                  /* enum regmap_file_state from plug, or -1 when
                                      * the map has no plug states */
    double power_kw;                 /* value[POWER] in kW */
    double session_energy_kwh;       /* value[SESSION_ENERGY] in kWh */
};

/* What one read of a meter found, in kW, kWh and V; NAN when the map has
 * no such field. */
struct regmap_meter_reading {
    double power_kw;   /* net at the connection point, import positive */
    double import_kwh; /* counter of energy imported */
    double export_kwh; /* counter of energy exported */
    double voltage_v;  /* phase voltage */
};

/* Most net power a meter reading may show, kW: beyond any grid connection
 * flexd controls, so a larger value is a garbled register, not a flow. */
#define REGMAP_METER_KW_MAX 1e6

/* Decode field f from regs[0..n-1], where regs[0] is the register f is read
 * from (f->readback). value = raw * scale + offset; for a code field with a
 * mask, raw = (word & mask) >> (trailing zeros of mask), unsigned.
 * ERROR_OK; ERROR_RANGE when n is too short for the type or a float32 is
 * NaN or infinite (devices use NaN for "not available"), with ed set. */
int regmap_decode(const struct regmap_file_field *f,
                  const uint16_t *regs,
                  int n,
                  double *value,
                  struct error_detail *ed);

/* Encode value (in f's unit) into regs[0..words-1] for writing at
 * f->address: raw = (value - offset) / scale, rounded to the nearest
 * integer (halves away from zero) for integer types. ERROR_OK; ERROR_RANGE
 * when value is not finite, lies outside [f->min, f->max] (setpoints,
 * access "rw" or "w"), or the raw value does not fit the word type. */
int regmap_encode(const struct regmap_file_field *f,
                  double value,
                  uint16_t regs[2],
                  struct error_detail *ed);

/* The connector state a code of f reads as: its states row, else
 * f->unmapped. */
int regmap_state(const struct regmap_file_field *f, double code);

/* The fewest reads covering every present field of map (at its readback
 * register), in table then address order. map must be validated
 * (regmap_file_parse); plan is filled completely. */
void regmap_plan_reads(const struct regmap_file *map, struct regmap_plan *plan);

/* Read every field of map from the connected context mb (the caller has set
 * the unit id with modbus_set_slave and a response timeout) into *out.
 * ERROR_OK; ERROR_IO when a request fails (exception reply, timeout, lost
 * connection: ed names the registers and gives libmodbus' text, errno keeps
 * libmodbus' code) or ERROR_RANGE when a value cannot be decoded. On error
 * out has nothing present and state REGMAP_FILE_OFFLINE. */
int regmap_read(modbus_t *mb,
                const struct regmap_file *map,
                struct regmap_reading *out,
                struct error_detail *ed);

/* Read a meter map's fields (map->kind REGMAP_FILE_KIND_METER) from mb,
 * as regmap_read. ERROR_OK; ERROR_INVALID when map is not a meter map;
 * ERROR_IO as regmap_read; ERROR_RANGE when a value cannot be decoded (a
 * NaN or infinite float32), the power is beyond +-REGMAP_METER_KW_MAX or a
 * counter is negative (ed names the map, the field and the value). On
 * error every value of *out is NAN. */
int regmap_read_meter(modbus_t *mb,
                      const struct regmap_file *map,
                      struct regmap_meter_reading *out,
                      struct error_detail *ed);

/* Write setpoint role (REGMAP_FILE_LIMIT or REGMAP_FILE_HEARTBEAT) as value
 * in its unit: encode, write (FC06 for one register, FC16 for two), read
 * back from f->readback and compare: the read-back raw value must be
 * within one raw count of the written one (for float32, within one unit
 * in the last place). *applied (may be NULL) gets the read-back value.
 * ERROR_OK; ERROR_INVALID when role is not a setpoint of map; ERROR_RANGE
 * (nothing written) when value is outside the setpoint's range; ERROR_IO
 * when the write or read-back request fails; ERROR_STATE when the device
 * kept another value (ed says which). */
int regmap_write(modbus_t *mb,
                 const struct regmap_file *map,
                 int role,
                 double value,
                 double *applied,
                 struct error_detail *ed);

#endif
