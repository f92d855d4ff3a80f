/* SPDX-License-Identifier: MIT */
/*
 * device.h - one Modbus TCP device of the station, polled by its own
 * thread so that a dead or slow device never blocks the others or the
 * control loop.
 *
 * The thread connects (with backoff), lets the driver discover the device
 * (SunSpec model chain, or a register map), then polls every poll_ms and
 * publishes the latest reading. The control loop posts setpoints with
 * device_set(); the thread writes one at once when it changed by more than
 * the deadband, and again as a heartbeat before the device's revert timer
 * runs out, and verifies every write by reading it back. Three failed
 * exchanges in a row (timeout, exception reply, bad data) mark the device
 * offline; it is closed and reconnected with exponential backoff.
 *
 * A reading is a copy: device_reading() never blocks on I/O.
 * Thread-safe: every function may be called from any thread.
 */
#ifndef FLEXD_IO_DEVICE_H
#define FLEXD_IO_DEVICE_H

#include "../common/clock.h"
#include "../common/error.h"
#include "../models/station.h"

#include <modbus.h>
#include <stdint.h>

/* Connector states (charger register maps translate their codes to these). */
enum device_connector_state {
    DEVICE_CONNECTOR_UNKNOWN = 0,
    DEVICE_CONNECTOR_AVAILABLE = 1, /* nothing plugged in */
    DEVICE_CONNECTOR_PLUGGED = 2,   /* a car is plugged in, not drawing */
    DEVICE_CONNECTOR_CHARGING = 3,
    DEVICE_CONNECTOR_FAULT = 4,
};

extern const char *const device_connector_state_names[5];

/* What one poll read. Only the fields of the device's kind are set. */
struct device_reading {
    int64_t ts_ms; /* wall time of the poll, 0 = never read */
    int online;    /* 1 while polls succeed */
    /* meter */
    double grid_kw; /* net at the connection point, import positive */
    double import_kwh;
    double export_kwh;
    /* PV */
    double pv_kw;
    double pv_rated_kw;
    double pv_limit_kw; /* the curtailment limit in force */
    /* storage */
    double ess_kw; /* discharge positive */
    double soc;    /* 0..1 */
    int soc_known;
    /* connector */
    int connector_state; /* enum device_connector_state */
    double ev_kw;
    double session_kwh; /* energy of the session so far */
    double ev_limit_kw; /* the limit in force */
    /* parking */
    int occupied; /* occupied spaces (of the spaces the controller watches) */
    int spaces_watched;
    uint32_t gate_in; /* vehicles in since the counter started */
    uint32_t gate_out;
    int64_t poll_us;              /* how long the poll took */
    char error[ERROR_DETAIL_MAX]; /* last failure, "" when fine */
};

/* One setpoint write, as done by the thread, for the history. */
struct device_write {
    int64_t ts_ms;
    double value; /* kW */
    int verified; /* read back equal */
    char error[ERROR_DETAIL_MAX];
};

struct device;

/* What a protocol driver does on an open Modbus context. The driver's
 * private state lives in *state (allocated by open, freed by close). */
struct device_driver {
    const char *name;
    /* find the device's layout (SunSpec discovery); may read. arg is what
     * device_start() was given (the parsed register map, or NULL) */
    int (*open)(const struct station_device *cfg,
                const void *arg,
                modbus_t *mb,
                void **state,
                struct error_detail *ed);
    int (*read)(void *state, modbus_t *mb, struct device_reading *r, struct error_detail *ed);
    /* write value kW (PV limit, battery power discharge positive, connector
     * limit) with the revert timer, read it back; ERROR_OK only when verified */
    int (*write)(void *state, modbus_t *mb, double value, int revert_s, struct error_detail *ed);
    void (*close)(void *state);
};

/* The driver for a device's protocol and kind (io/device_drivers.c). */
const struct device_driver *device_driver_for(const struct station_device *cfg);

struct device_options {
    const char *host; /* NULL: cfg->host */
    int port;         /* 0: cfg->port */
    double deadband_kw;
    int fail_limit;     /* failed exchanges in a row that mark it offline (3) */
    int backoff_min_ms; /* first reconnect delay (250) */
    int backoff_max_ms; /* longest reconnect delay (10000) */
};

void device_options_default(struct device_options *o);

/* Start the device's thread. cfg and arg (the driver's, e.g. a register
 * map) are borrowed and must outlive it. */
struct device *device_start(const struct station_device *cfg,
                            const void *arg,
                            const struct device_driver *drv,
                            const struct device_options *opt);

/* Stop the thread and free everything. */
void device_stop(struct device *d);

/* A copy of the latest reading. */
void device_reading(struct device *d, struct device_reading *out);

/* Ask for value kW; written at once if it moved by more than the deadband. */
void device_set(struct device *d, double value);

/* Forget the setpoint: the device is left to its own (revert) behaviour. */
void device_release(struct device *d);

/* The last write the thread did (ts_ms 0 if none); returns 1 if it is newer
 * than *since_ms and updates *since_ms. */
int device_last_write(struct device *d, int64_t *since_ms, struct device_write *out);

const struct station_device *device_config(const struct device *d);

#endif
