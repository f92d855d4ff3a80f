/* SPDX-License-Identifier: MIT */
/*
 * devsim.c - the device simulator (devsim.h): one libmodbus TCP server per
 * station device and a physics model in virtual time.
 *
 * This file checks the options, builds the devices, starts and stops
 * the threads and holds the API for tests and the command; the register
 * tables and server threads are in devsim_modbus.c, the physics in
 * devsim_physics.c, what they share in devsim_internal.h.
 *
 * Threads: one server thread per device owns its listening socket, its
 * clients and its libmodbus context, and serves the device's register
 * tables under the device mutex. The physics thread owns the world and the
 * physics state under ds->mu; every tick it takes each device mutex in
 * turn (lock order: ds->mu, then a device mutex; server threads never take
 * ds->mu) to read what clients wrote, run revert timers and heartbeat
 * fall-backs, and publish the new measurements. Virtual time is
 * start_ms + real monotonic time since start x speed.
 *
 * Client conventions served (io/device_drivers.c, docs/devices.md): meter
 * W import positive; storage forced operation (discharge P: OutWRte = P,
 * InWRte = -P; charge C: InWRte = C, OutWRte = -C); PV limit as
 * WMaxLimPct of WMax; connector limits in the map's unit (A through
 * 3 x 230 V for "AC..." connectors, 750 V for DC); parking-io layout.
 */
#include "devsim.h"
#include "devsim_internal.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/logger.h"
#include "../config/regmap_file.h"
#include "../models/rng.h"
#include "sunspec_image.h"
#include "world.h"

#include <math.h>
#include <modbus.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const devsim_fault_names[6] = {"none", "drop", "slow", "exception", "stuck", NULL};

void devsim_options_default(struct devsim_options *o)
{
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->speed = 1.0;
    o->seed = 1;
    o->days = 2;
    o->tick_ms = 100;
}

/* ---- start and stop ---- */

static int
ds_check(const struct station *st, const struct devsim_options *o, struct error_detail *ed)
{
    if (!(o->speed > 0.0 && o->speed <= 1e5)) {
        return error_setf(ed, ERROR_INVALID, "speed %g: must be in (0, 1e5]", o->speed);
    }
    if (o->days < 1 || o->days > 366) {
        return error_setf(ed, ERROR_INVALID, "days %d: must be in [1, 366]", o->days);
    }
    if (o->tick_ms < 5 || o->tick_ms > 10000) {
        return error_setf(ed, ERROR_INVALID, "tick_ms %d: must be in [5, 10000]", o->tick_ms);
    }
    if (o->port_base < 0 || o->port_base + st->n_devices - 1 > 65535) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "port_base %d: the %d devices need ports in [1, 65535]",
                          o->port_base,
                          st->n_devices);
    }
    if (o->host && strlen(o->host) >= 64) {
        return error_setf(ed, ERROR_INVALID, "host \"%s\": too long", o->host);
    }
    if (station_connector_count(st) > DEVSIM_CONN_MAX || st->n_devices > DEVSIM_DEV_MAX) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "%d connectors, %d devices: at most %d and %d are simulated",
                          station_connector_count(st),
                          st->n_devices,
                          DEVSIM_CONN_MAX,
                          DEVSIM_DEV_MAX);
    }
    return ERROR_OK;
}

/* The map device c names (loaded once per name), if it suits the device. */
static int ds_map(struct devsim *ds,
                  const struct station_device *c,
                  const struct regmap_file **out,
                  struct error_detail *ed)
{
    int rc = ERROR_OK;

    *out = NULL;
    for (int i = 0; i < ds->n_maps && !*out; i++) {
        if (strcmp(ds->maps[i]->id, c->map) == 0) {
            *out = ds->maps[i];
        }
    }
    if (!*out) {
        rc = regmap_file_find(ds->opt.maps_dir, c->map, &ds->maps[ds->n_maps], ed);
        if (rc) {
            error_prefix(ed, c->id);
            return rc;
        }
        *out = ds->maps[ds->n_maps++];
    }
    return regmap_file_check_device(*out, c, ed);
}

/* What device d serves: its PV array or connector, its map. */
static int ds_target(struct devsim *ds, struct ds_dev *d, struct error_detail *ed)
{
    const struct station_device *c = d->cfg;
    int want = c->kind == STATION_DEVICE_CONNECTOR ? STATION_PROTOCOL_REGMAP
               : c->kind == STATION_DEVICE_PARKING ? STATION_PROTOCOL_PARKING
                                                   : STATION_PROTOCOL_SUNSPEC;

    if (c->kind == STATION_DEVICE_METER && c->protocol == STATION_PROTOCOL_REGMAP) {
        return ds_map(ds, c, &d->map, ed); /* served through its map */
    }
    if (c->protocol != want) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "devices[%d] \"%s\": a %s device is simulated with protocol %s only",
                          d->index,
                          c->id,
                          station_device_kind_names[c->kind],
                          station_device_protocol_names[want]);
    }
    if (c->kind == STATION_DEVICE_PV) {
        for (int i = 0; i < ds->st.n_pv_arrays && d->target < 0; i++) {
            d->target = strcmp(ds->st.pv_arrays[i].id, c->target) == 0 ? i : -1;
        }
    } else if (c->kind == STATION_DEVICE_CONNECTOR) {
        for (int i = 0; i < ds->n_conn && d->target < 0; i++) {
            const struct station_charger *ch = &ds->st.chargers[ds->conn[i].charger];
            int k = i;

            for (int j = 0; j < ds->conn[i].charger; j++) {
                k -= ds->st.chargers[j].n_connectors;
            }
            d->target = strcmp(ch->connectors[k].id, c->target) == 0 ? i : -1;
        }
        if (d->target >= 0) {
            ds->conn[d->target].dev = d->index;
            return ds_map(ds, c, &d->map, ed);
        }
    } else if (c->kind == STATION_DEVICE_STORAGE && !ds->st.has_ess) {
        return error_setf(ed, ERROR_INVALID, "devices[%d] \"%s\": no ess", d->index, c->id);
    } else {
        return ERROR_OK;
    }
    if (d->target < 0) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "devices[%d] \"%s\": target \"%s\" is not in the station",
                          d->index,
                          c->id,
                          c->target);
    }
    return ERROR_OK;
}

static int ds_devices(struct devsim *ds, struct error_detail *ed)
{
    int rc = ERROR_OK;

    for (int i = 0; i < ds->st.n_devices && !rc; i++) {
        struct ds_dev *d = &ds->dev[i];

        d->ds = ds;
        d->index = i;
        d->cfg = &ds->st.devices[i];
        d->target = -1;
        d->listen_fd = d->wake[0] = d->wake[1] = -1;
        pthread_mutex_init(&d->mu, NULL);
        pthread_cond_init(&d->cv, NULL);
        ds->n_dev = i + 1;
        rc = ds_target(ds, d, ed);
        if (!rc && dsim_tables(ds, d, ed)) {
            error_prefix(ed, d->cfg->id);
            rc = ERROR_INVALID;
        }
        rc = rc ? rc : dsim_open(ds, d, ed);
    }
    return rc;
}

static void ds_world_setup(struct devsim *ds)
{
    const struct station *st = &ds->st;
    int k = 0;

    ds->step_ms = (int64_t)ds->w->opt.step_minutes * 60000;
    ds->period_ms = (int64_t)ds->w->steps * ds->step_ms;
    ds->car_done = alloc_array((size_t)ds->w->n_cars + 1, sizeof(int));
    for (int j = 0; j < ds->w->n_cars; j++) {
        ds->car_done[j] = -1;
    }
    for (int i = 0; i < st->n_chargers; i++) {
        for (int j = 0; j < st->chargers[i].n_connectors; j++, k++) {
            ds->conn[k].charger = i;
            ds->conn[k].max_kw = st->chargers[i].connectors[j].max_kw;
            ds->conn[k].limit_kw = ds->conn[k].max_kw;
            ds->conn[k].dev = -1;
            ds->conn[k].ac = strncmp(st->chargers[i].connectors[j].id, "AC", 2) == 0;
            ds->conn[k].volts_x_phases = ds->conn[k].ac ? 3.0 * DS_AC_PHASE_V : DS_DC_V;
        }
    }
    ds->n_conn = k;
    ds->spaces = st->parking.spaces < DS_PARK_BITS_MAX ? st->parking.spaces : DS_PARK_BITS_MAX;
    ds->space = alloc_array((size_t)ds->spaces + 1, 1);
    ds->rng = rng_new(rng_mix(ds->opt.seed, 0xD5u));
    ds->soc = st->has_ess ? fmin(fmax(0.5, st->ess.soc_min), st->ess.soc_max) : 0.0;
    ds->pv_factor = ds->pv_override_kw = ds->base_override_kw = -1.0;
}

int devsim_start(const struct station *st,
                 const struct devsim_options *o,
                 struct devsim **out,
                 struct error_detail *ed)
{
    struct world_options wo;
    struct devsim *ds;
    int rc;

    *out = NULL;
    rc = ds_check(st, o, ed);
    if (rc) {
        error_prefix(ed, "devsim");
        return rc;
    }
    ds = ALLOC_NEW(struct devsim);
    ds->st = *st;
    ds->opt = *o;
    snprintf(ds->host, sizeof(ds->host), "%s", o->host ? o->host : "127.0.0.1");
    ds->opt.host = ds->host;
    ds->opt.maps_dir = o->maps_dir ? o->maps_dir : FLEXD_SOURCE_DIR "/config/devices";
    pthread_mutex_init(&ds->mu, NULL);
    pthread_cond_init(&ds->cv, NULL);
    ds->clk = clock_new_real();
    ds->start_ms = o->start_ms ? o->start_ms : clock_now_ms(ds->clk);
    ds->mono0_us = clock_mono_us(ds->clk);
    world_options_default(&wo);
    wo.start_ms =
        ds->start_ms -
        ((ds->start_ms + CLOCK_LOCAL_OFFSET_MS) % CLOCK_DAY_MS + CLOCK_DAY_MS) % CLOCK_DAY_MS;
    wo.days = o->days;
    wo.seed = o->seed;
    wo.dr_generate = 0;
    ds->w0_ms = wo.start_ms;
    rc = world_build(&ds->st, &wo, &ds->w, ed);
    if (rc == ERROR_OK) {
        ds_world_setup(ds);
        rc = ds_devices(ds, ed);
    }
    if (rc) {
        error_prefix(ed, "devsim");
        devsim_stop(ds);
        return rc;
    }
    pthread_mutex_lock(&ds->mu);
    dsim_tick(ds, 1);
    pthread_mutex_unlock(&ds->mu);
    for (int i = 0; i < ds->n_dev; i++) {
        ds->dev[i].running = pthread_create(&ds->dev[i].thread, NULL, dsim_serve, &ds->dev[i]) == 0;
    }
    ds->physics_running = pthread_create(&ds->physics, NULL, dsim_physics, ds) == 0;
    LOGI("devsim",
         "%d devices on %s, ports %d..%d, speed %g",
         ds->n_dev,
         ds->host,
         ds->n_dev ? ds->dev[0].port : 0,
         ds->n_dev ? ds->dev[ds->n_dev - 1].port : 0,
         ds->opt.speed);
    *out = ds;
    return ERROR_OK;
}

static void ds_dev_free(struct ds_dev *d)
{
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (d->running) {
        dsim_wake(d);
        pthread_join(d->thread, NULL);
    }
    dsim_close_clients(d);
    if (d->listen_fd >= 0) {
        close(d->listen_fd);
    }
    for (int i = 0; i < 2; i++) {
        if (d->wake[i] >= 0) {
            close(d->wake[i]);
        }
    }
    if (d->mb) {
        modbus_free(d->mb);
    }
    if (d->img) {
        sunspec_image_free(d->img); /* owns tab_registers */
    } else {
        free(d->tab.tab_registers);
    }
    free(d->tab.tab_input_registers);
    free(d->tab.tab_input_bits);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
}

void devsim_stop(struct devsim *ds)
{
    if (!ds) {
        return;
    }
    pthread_mutex_lock(&ds->mu);
    ds->stop = 1;
    pthread_cond_broadcast(&ds->cv);
    pthread_mutex_unlock(&ds->mu);
    if (ds->physics_running) {
        pthread_join(ds->physics, NULL);
    }
    for (int i = 0; i < ds->n_dev; i++) {
        ds_dev_free(&ds->dev[i]);
    }
    for (int i = 0; i < ds->n_maps; i++) {
        regmap_file_free(ds->maps[i]);
    }
    world_free(ds->w);
    rng_free(ds->rng);
    clock_free(ds->clk);
    free(ds->car_done);
    free(ds->space);
    pthread_cond_destroy(&ds->cv);
    pthread_mutex_destroy(&ds->mu);
    free(ds);
}

/* ---- the API for tests and the command ---- */

int devsim_port(const struct devsim *ds, int device)
{
    return device >= 0 && device < ds->n_dev ? ds->dev[device].port : -1;
}

static void ds_set(struct devsim *ds, double *field, double v)
{
    pthread_mutex_lock(&ds->mu);
    *field = v < 0.0 || isnan(v) ? -1.0 : v;
    pthread_mutex_unlock(&ds->mu);
}

void devsim_set_pv_factor(struct devsim *ds, double factor)
{
    ds_set(ds, &ds->pv_factor, factor);
}

void devsim_set_pv_available_kw(struct devsim *ds, double kw)
{
    ds_set(ds, &ds->pv_override_kw, kw);
}

void devsim_set_base_kw(struct devsim *ds, double kw)
{
    ds_set(ds, &ds->base_override_kw, kw);
}

void devsim_set_soc(struct devsim *ds, double soc)
{
    pthread_mutex_lock(&ds->mu);
    ds->soc = soc >= 0.0 ? fmin(soc, 1.0) : ds->soc; /* NAN and < 0: no change */
    pthread_mutex_unlock(&ds->mu);
}

int devsim_plug(struct devsim *ds, int connector, double wanted_kwh, double car_max_kw)
{
    int rc = ERROR_OK;

    if (connector < 0 || connector >= ds->n_conn || !(wanted_kwh > 0.0) || !(car_max_kw > 0.0)) {
        return ERROR_RANGE;
    }
    pthread_mutex_lock(&ds->mu);
    if (ds->conn[connector].plugged) {
        rc = ERROR_STATE;
    } else {
        dsim_plug(ds, connector, wanted_kwh, car_max_kw, INT64_MAX);
    }
    pthread_mutex_unlock(&ds->mu);
    return rc;
}

int devsim_unplug(struct devsim *ds, int connector)
{
    int rc = ERROR_OK;

    if (connector < 0 || connector >= ds->n_conn) {
        return ERROR_RANGE;
    }
    pthread_mutex_lock(&ds->mu);
    if (!ds->conn[connector].plugged) {
        rc = ERROR_STATE;
    } else {
        dsim_unplug(ds, connector);
    }
    pthread_mutex_unlock(&ds->mu);
    return rc;
}

void devsim_fault(struct devsim *ds, int device, enum devsim_fault f, int delay_ms)
{
    struct ds_dev *d;

    if (device < 0 || device >= ds->n_dev || f < DEVSIM_FAULT_NONE || f > DEVSIM_FAULT_STUCK) {
        return;
    }
    d = &ds->dev[device];
    pthread_mutex_lock(&d->mu);
    if (d->fault != (int)f) {
        LOGI("devsim", "%s: fault %s", d->cfg->id, devsim_fault_names[f]);
    }
    d->fault = (int)f;
    d->delay_ms = delay_ms > 0 ? delay_ms : DS_SLOW_DEFAULT;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    dsim_wake(d);
}

void devsim_state(struct devsim *ds, struct devsim_state *out)
{
    pthread_mutex_lock(&ds->mu);
    *out = ds->snap;
    pthread_mutex_unlock(&ds->mu);
    out->n_devices = ds->n_dev;
    for (int i = 0; i < ds->n_dev; i++) {
        pthread_mutex_lock(&ds->dev[i].mu);
        out->writes[i] = ds->dev[i].writes;
        out->last_write_us[i] = ds->dev[i].last_write_us;
        out->clients[i] = ds->dev[i].n_clients;
        pthread_mutex_unlock(&ds->dev[i].mu);
    }
}
