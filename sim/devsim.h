/* SPDX-License-Identifier: MIT */
/*
 * devsim.h - the device simulator: the station's devices as real Modbus TCP
 * servers on loopback (or any IPv4 address), driven by a physics model in
 * virtual time, so that `flexd run` and the integration tests talk to the
 * same wire protocol a real station speaks (docs/devices.md, "Device
 * simulator").
 *
 * One libmodbus TCP server per station device, each on its own port
 * (port_base + device index) and thread: PV inverters, the battery's PCS
 * and the grid meter serve a SunSpec image at 40000 (sim/sunspec_image.h),
 * connectors, and a meter of protocol "regmap", serve their register map
 * (config/devices/<map>.json), the parking controller serves the
 * parking-io layout. Any unit id is
 * accepted. A physics thread advances virtual time (speed x real time)
 * every tick: PV from the world's true PV and the curtailment written,
 * the battery in forced operation with its efficiencies and SoC window,
 * each connector's car drawing what its limit allows, the meter as the
 * balance of all flows, the parking occupancy and gate counters. Revert
 * timers and heartbeat timeouts run in virtual time.
 *
 * Faults per device for tests: drop the connection, answer slowly, answer
 * exceptions, freeze the measured registers.
 *
 * Thread-safe: every function may be called from any thread while the
 * simulator runs (except devsim_stop, once).
 */
#ifndef FLEXD_SIM_DEVSIM_H
#define FLEXD_SIM_DEVSIM_H

#include "../common/error.h"
#include "../models/station.h"

#include <stdint.h>

#define DEVSIM_CONN_MAX 192                 /* connectors a simulated station may have */
#define DEVSIM_DEV_MAX  STATION_DEVICES_MAX /* devices (64) */

struct devsim_options {
    const char *host;     /* IPv4 address to listen on; NULL = "127.0.0.1" */
    int port_base;        /* device i listens on port_base + i; 0 = pick free ports,
                           * see devsim_port() */
    double speed;         /* virtual s per real s, (0, 1e5], default 1 */
    int64_t start_ms;     /* virtual wall time at start; 0 = real now */
    uint64_t seed;        /* world, cars and parking draws (default 1) */
    int cars;             /* 1: cars from the world's demand model; 0 (default): only
                           * devsim_plug() */
    int days;             /* world length for PV/base/cars, 1..366, default 2; the world
                           * repeats after it */
    const char *maps_dir; /* register maps, read during devsim_start(); NULL = the
                           * source tree's config/devices */
    int tick_ms;          /* physics period in real ms, 5..10000, default 100 */
};

struct devsim;

/* Defaults as documented on each field. */
void devsim_options_default(struct devsim_options *o);

/* Build the world (PV, base load, cars), load the register maps, open one
 * listening socket per device of st->devices and start the threads. st is
 * copied. Errors: ERROR_INVALID (an option, a device the simulator cannot
 * serve, a map of the wrong kind for its device, more than DEVSIM_CONN_MAX
 * connectors), ERROR_IO (a map cannot be
 * read, a port cannot be bound: ed names the device, address and cause),
 * others from world_build(); *out is NULL then and nothing is left
 * running. */
int devsim_start(const struct station *st,
                 const struct devsim_options *o,
                 struct devsim **out,
                 struct error_detail *ed);

/* Stop every thread, close every socket, free everything; NULL is a no-op. */
void devsim_stop(struct devsim *ds);

/* The TCP port device i (index in st->devices) listens on; -1 for a bad
 * index. */
int devsim_port(const struct devsim *ds, int device);

/* Physics overrides for tests, in force from the next tick; a negative
 * value goes back to the model. */
/* Scale every array's available PV (the model's or the override below),
 * e.g. 0.2 = a sudden cloud. */
void devsim_set_pv_factor(struct devsim *ds, double factor);
/* Available PV of the whole plant, split over the arrays by inverter rating. */
void devsim_set_pv_available_kw(struct devsim *ds, double kw);
void devsim_set_base_kw(struct devsim *ds, double kw);
/* Set the battery's state of charge now (0..1, above 1 clamped); SoC is
 * state, not an override, so a negative value changes nothing. */
void devsim_set_soc(struct devsim *ds, double soc);

/* Plug a car into connector (flat index in chargers[].connectors[] order)
 * wanting wanted_kwh and taking at most car_max_kw; it stays until
 * devsim_unplug. Errors: ERROR_RANGE (connector index, a value not > 0),
 * ERROR_STATE (a car is already plugged in there). */
int devsim_plug(struct devsim *ds, int connector, double wanted_kwh, double car_max_kw);

/* Unplug the car at connector (ERROR_RANGE bad index, ERROR_STATE none). */
int devsim_unplug(struct devsim *ds, int connector);

enum devsim_fault {
    DEVSIM_FAULT_NONE = 0,
    DEVSIM_FAULT_DROP = 1,      /* close connections and refuse new ones (port closed) */
    DEVSIM_FAULT_SLOW = 2,      /* reply after delay_ms */
    DEVSIM_FAULT_EXCEPTION = 3, /* exception 0x04 to every request */
    DEVSIM_FAULT_STUCK = 4,     /* measured registers stop updating */
};

/* "none", "drop", "slow", "exception", "stuck", NULL: by enum devsim_fault. */
extern const char *const devsim_fault_names[6];

/* Put device i into fault f (DEVSIM_FAULT_NONE clears it); delay_ms is used
 * by DEVSIM_FAULT_SLOW. Takes effect within a few ms. Bad indexes are
 * ignored. */
void devsim_fault(struct devsim *ds, int device, enum devsim_fault f, int delay_ms);

/* A consistent snapshot of the physics (as of the last tick). Powers in kW. */
struct devsim_state {
    int64_t now_ms; /* virtual wall time */
    double grid_kw; /* import positive: base + ev + charge - discharge - pv */
    double pv_available_kw;
    double pv_kw;
    double base_kw;
    double ess_kw; /* discharge + */
    double soc;    /* 0..1 */
    double ev_kw;
    int n_conn;
    double conn_kw[DEVSIM_CONN_MAX];
    double conn_limit_kw[DEVSIM_CONN_MAX]; /* limit in force (after heartbeat fallback) */
    int conn_plugged[DEVSIM_CONN_MAX];
    double pv_limit_kw;                    /* sum over inverters of the limit in force */
    double ess_cmd_kw;                     /* what model 124 asks, discharge + */
    int64_t writes[DEVSIM_DEV_MAX];        /* Modbus write requests received per device */
    int64_t last_write_us[DEVSIM_DEV_MAX]; /* clock_mono_us of a real clock at each
                                            * device's last write, 0 = none */
    /* beyond the original brief: */
    int n_devices;
    int clients[DEVSIM_DEV_MAX]; /* connected clients per device */
    double conn_session_kwh[DEVSIM_CONN_MAX];
    double import_kwh; /* the meter's counters since start */
    double export_kwh;
    int parking_occupied; /* spaces occupied (EV and non-EV) */
    uint32_t gate_in;
    uint32_t gate_out;
};

void devsim_state(struct devsim *ds, struct devsim_state *out);

#endif
