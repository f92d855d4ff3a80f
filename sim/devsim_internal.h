/* SPDX-License-Identifier: MIT */
/*
 * devsim_internal.h - private to the devsim*.c files; nothing else may
 * include it (the simulator's API is devsim.h). It holds the simulator's
 * state and the functions that one of those files calls in another; they
 * carry the dsim_ prefix (file-local ones keep ds_), so they never meet
 * the dispatcher's ds_ internals (engine/dispatch_internal.h) at link time:
 *   devsim.c          checks, start and stop, the API for tests and the
 *                     command
 *   devsim_modbus.c   register tables (SunSpec images, register maps,
 *                     parking-io) and the server threads that serve them,
 *                     with the faults they inject
 *   devsim_physics.c  the world in virtual time: PV, battery, cars and
 *                     parking, what clients wrote, the meter as the
 *                     balance, measurements into the registers
 *
 * Locking as devsim.c says: ds->mu, then a device mutex.
 */
#ifndef FLEXD_SIM_DEVSIM_INTERNAL_H
#define FLEXD_SIM_DEVSIM_INTERNAL_H

#include "../common/clock.h"
#include "../config/regmap_file.h"
#include "../models/rng.h"
#include "devsim.h"
#include "sunspec_image.h"
#include "world.h"

#include <modbus.h>
#include <pthread.h>
#include <stdint.h>

#define DS_CLIENTS_MAX   16
#define DS_SUNSPEC_BASE  40000
#define DS_AC_PHASE_V    230.0 /* as io/device_drivers.c: kW <-> A */
#define DS_DC_V          750.0
#define DS_HB_DEFAULT_S  10    /* counter heartbeat timeout when revert_s is 0 */
#define DS_SLOW_DEFAULT  1000  /* ms, DEVSIM_FAULT_SLOW without a delay */
#define DS_PARK_STAY_H   2.0   /* mean stay of a non-EV car */
#define DS_PARK_BITS_MAX 65536 /* discrete inputs addressable by Modbus */

struct ds_conn {
    int charger; /* index in st.chargers */
    double max_kw;
    int ac;                /* "AC..." connector id, as io/device_drivers.c decides */
    double volts_x_phases; /* kW <-> A */
    int dev;               /* device serving it, -1 none */
    int plugged;
    double remaining_kwh;
    double car_max_kw;
    double session_kwh;
    int64_t dep_ms; /* INT64_MAX: until devsim_unplug */
    double kw;
    double limit_kw; /* in force */
};

struct ds_dev {
    struct devsim *ds;
    int index;
    const struct station_device *cfg; /* in ds->st */
    int target;                       /* PV array or flat connector index, -1 */
    pthread_t thread;
    int running;
    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;
    int wake[2];
    int stop;
    modbus_t *mb;
    int listen_fd;
    int port;
    int n_clients;
    int client[DS_CLIENTS_MAX];
    modbus_mapping_t tab;
    struct sunspec_image *img;
    const struct regmap_file *map;
    int fault;
    int delay_ms;
    int64_t writes;
    int64_t last_write_us;
    uint64_t requests, ctl_writes, hb_writes;  /* server side counts */
    uint64_t seen_requests, seen_ctl, seen_hb; /* physics side: last seen */
    int64_t ctl_ms;                            /* virtual time of the last control write */
    int64_t alive_ms;                          /* connector: last sign of life */
    double hb_last;
    int hb_armed;
    int fallen;
    double energy_wh; /* PV lifetime energy */
};

struct devsim {
    struct station st;
    struct devsim_options opt;
    char host[64];
    struct clock *clk; /* real */
    struct world *w;
    struct rng *rng;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    pthread_t physics;
    int physics_running;
    int64_t mono0_us, start_ms, now_ms, w0_ms, period_ms, step_ms;
    int *car_done; /* per world car: the last world cycle it was handled in */
    int n_dev;
    struct ds_dev dev[DEVSIM_DEV_MAX];
    int n_maps;
    struct regmap_file *maps[DEVSIM_DEV_MAX];
    int n_conn;
    struct ds_conn conn[DEVSIM_CONN_MAX];
    double pv_factor, pv_override_kw, base_override_kw;
    double pv_limit_kw[STATION_PV_ARRAYS_MAX];
    double pv_kw[STATION_PV_ARRAYS_MAX];
    double soc, ess_cmd_kw, import_wh, export_wh;
    int spaces;
    uint8_t *space; /* 1 = occupied; EV car at connector i is space i */
    int nonev;      /* non-EV cars parked */
    uint32_t gate_in, gate_out;
    struct devsim_state snap;
};

/* ---- devsim_modbus.c: register tables ---- */

/* A SunSpec point of d's image: set, or read (NAN when absent). */
void dsim_ss(struct ds_dev *d, uint16_t model, const char *point, double v);
double dsim_ss_get(const struct ds_dev *d, uint16_t model, const char *point);
int dsim_has_model(const struct ds_dev *d, uint16_t model);

/* A register-map field of d by role: read as a client reads it, put a
 * measurement, convert kW or kWh to its unit, store a setpoint, set a code. */
int dsim_rm_get(struct ds_dev *d, int role, double *v);
void dsim_rm_put(struct ds_dev *d, int role, double v);
double dsim_rm_kilo(const struct ds_dev *d, int role, double v);
void dsim_rm_set(struct ds_dev *d, int role, double v);
void dsim_rm_code(struct ds_dev *d, int role, int state);

/* A connector limit between the map's unit and kW. */
double dsim_conn_to_kw(const struct ds_dev *d, const struct ds_conn *c, double v);
double dsim_conn_from_kw(const struct ds_dev *d, const struct ds_conn *c, double kw);

/* Device d's register tables, before the first tick. */
int dsim_tables(struct devsim *ds, struct ds_dev *d, struct error_detail *ed);

/* ---- devsim_modbus.c: server threads ---- */

void dsim_close_clients(struct ds_dev *d);
/* The server thread of one device (arg: its struct ds_dev). */
void *dsim_serve(void *arg);
/* Wake d's server thread to look at its state again. */
void dsim_wake(struct ds_dev *d);
/* d's wake pipe and listening socket. */
int dsim_open(struct devsim *ds, struct ds_dev *d, struct error_detail *ed);

/* ---- devsim_physics.c ---- */

/* A car at connector i, or none (the gate counts it). */
void dsim_plug(struct devsim *ds, int i, double kwh, double max_kw, int64_t dep_ms);
void dsim_unplug(struct devsim *ds, int i);
/* One physics step to virtual time now; ds->mu held. */
void dsim_tick(struct devsim *ds, int init);
/* The physics thread (arg: the struct devsim). */
void *dsim_physics(void *arg);

#endif
