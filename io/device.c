/* SPDX-License-Identifier: MIT */
/*
 * device.c - the per-device polling thread: connect with backoff, discover,
 * poll, write setpoints on change and as heartbeat, verify, go offline
 * after repeated failures. The thread owns the modbus_t; everything shared
 * with the control loop sits behind d->mu.
 */
#define _POSIX_C_SOURCE 200809L
#include "device.h"

#include "../common/alloc.h"
#include "../common/logger.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const device_connector_state_names[5] = {"unknown",
                                                     "available",
                                                     "plugged",
                                                     "charging",
                                                     "fault"};

struct device {
    const struct station_device *cfg;
    const void *arg;
    const struct device_driver *drv;
    struct device_options opt;
    char host[STATION_HOST_MAX];
    int port;
    struct clock *clock;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* shared, under mu */
    int stop;
    struct device_reading reading;
    int has_setpoint;
    double setpoint;
    struct device_write last_write;
    /* thread-only */
    modbus_t *mb;
    void *state;
    int fails;
    double written; /* last value written and verified, NAN = none */
    int64_t written_mono_ms;
};

void device_options_default(struct device_options *o)
{
    memset(o, 0, sizeof(*o));
    o->deadband_kw = 0.1;
    o->fail_limit = 3;
    o->backoff_min_ms = 250;
    o->backoff_max_ms = 10000;
}

static void device_close_link(struct device *d)
{
    if (d->state) {
        d->drv->close(d->state);
        d->state = NULL;
    }
    if (d->mb) {
        modbus_close(d->mb);
        modbus_free(d->mb);
        d->mb = NULL;
    }
    d->written = NAN;
}

/* Record a failure; returns 1 when the device just went offline. */
static int device_failed(struct device *d, const struct error_detail *ed)
{
    int offline = 0;

    pthread_mutex_lock(&d->mu);
    snprintf(d->reading.error, sizeof(d->reading.error), "%s", ed->text);
    if (++d->fails >= d->opt.fail_limit && d->reading.online) {
        d->reading.online = 0;
        offline = 1;
    }
    pthread_mutex_unlock(&d->mu);
    if (offline) {
        LOGW("device", "%s offline: %s", d->cfg->id, ed->text);
    }
    return d->fails >= d->opt.fail_limit;
}

static int device_connect(struct device *d, struct error_detail *ed)
{
    uint32_t sec = (uint32_t)(d->cfg->timeout_ms / 1000);
    uint32_t usec = (uint32_t)(d->cfg->timeout_ms % 1000) * 1000;

    d->mb = modbus_new_tcp(d->host, d->port);
    if (!d->mb) {
        return error_setf(ed,
                          ERROR_IO,
                          "%s: %s:%d: %s",
                          d->cfg->id,
                          d->host,
                          d->port,
                          modbus_strerror(errno));
    }
    modbus_set_response_timeout(d->mb, sec, usec);
    modbus_set_byte_timeout(d->mb, sec, usec);
    modbus_set_slave(d->mb, d->cfg->unit_id);
    if (modbus_connect(d->mb) != 0) {
        int e = errno;

        device_close_link(d);
        return error_setf(ed,
                          ERROR_IO,
                          "%s: connect %s:%d: %s",
                          d->cfg->id,
                          d->host,
                          d->port,
                          modbus_strerror(e));
    }
    if (d->drv->open(d->cfg, d->arg, d->mb, &d->state, ed) != ERROR_OK) {
        device_close_link(d);
        return ERROR_IO;
    }
    return ERROR_OK;
}

static void device_poll(struct device *d)
{
    struct device_reading r;
    struct error_detail ed = {{0}};
    int came_back;
    int64_t t0 = clock_mono_us(d->clock);

    memset(&r, 0, sizeof(r));
    if (d->drv->read(d->state, d->mb, &r, &ed) != ERROR_OK) {
        if (device_failed(d, &ed)) {
            device_close_link(d);
        }
        return;
    }
    r.ts_ms = clock_now_ms(d->clock);
    r.online = 1;
    r.poll_us = clock_mono_us(d->clock) - t0;
    pthread_mutex_lock(&d->mu);
    came_back = !d->reading.online;
    d->reading = r;
    d->fails = 0;
    pthread_mutex_unlock(&d->mu);
    if (came_back) {
        LOGI("device", "%s online", d->cfg->id);
    }
}

/* Write the setpoint if it moved or the heartbeat is due. */
static void device_write_setpoint(struct device *d, double value)
{
    struct error_detail ed = {{0}};
    int64_t now = clock_mono_ms(d->clock);
    int64_t heartbeat_ms = (int64_t)d->cfg->revert_s * 1000 / 3;
    struct device_write w;
    int rc;

    if (!isnan(d->written) && fabs(value - d->written) <= d->opt.deadband_kw &&
        now - d->written_mono_ms < heartbeat_ms) {
        return;
    }
    rc = d->drv->write(d->state, d->mb, value, d->cfg->revert_s, &ed);
    memset(&w, 0, sizeof(w));
    w.ts_ms = clock_now_ms(d->clock);
    w.value = value;
    w.verified = rc == ERROR_OK;
    snprintf(w.error, sizeof(w.error), "%s", rc == ERROR_OK ? "" : ed.text);
    pthread_mutex_lock(&d->mu);
    d->last_write = w;
    pthread_mutex_unlock(&d->mu);
    if (rc != ERROR_OK) {
        d->written = NAN;
        if (device_failed(d, &ed)) {
            device_close_link(d);
        }
        return;
    }
    d->written = value;
    d->written_mono_ms = now;
}

static void *device_main(void *arg)
{
    struct device *d = arg;
    int backoff = d->opt.backoff_min_ms;
    int64_t next_poll = 0;

    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        int64_t now = clock_mono_ms(d->clock);
        int has = d->has_setpoint;
        double sp = d->setpoint;

        if (!d->mb) {
            struct error_detail ed = {{0}};

            pthread_mutex_unlock(&d->mu);
            if (device_connect(d, &ed) != ERROR_OK) {
                device_failed(d, &ed);
                pthread_mutex_lock(&d->mu);
                clock_wait(d->clock, &d->cv, &d->mu, backoff);
                backoff = backoff * 2 < d->opt.backoff_max_ms ? backoff * 2 : d->opt.backoff_max_ms;
                continue;
            }
            backoff = d->opt.backoff_min_ms;
            next_poll = now;
            pthread_mutex_lock(&d->mu);
            continue;
        }
        pthread_mutex_unlock(&d->mu);
        if (has) {
            device_write_setpoint(d, sp);
        }
        if (d->mb && now >= next_poll) {
            device_poll(d);
            next_poll = now + d->cfg->poll_ms;
        }
        pthread_mutex_lock(&d->mu);
        if (!d->stop && d->mb && (d->has_setpoint == has && d->setpoint == sp)) {
            int64_t wait = next_poll - clock_mono_ms(d->clock);

            if (has && !isnan(d->written)) {
                int64_t hb = d->written_mono_ms + (int64_t)d->cfg->revert_s * 1000 / 3 -
                             clock_mono_ms(d->clock);

                wait = hb < wait ? hb : wait;
            }
            if (wait > 0) {
                clock_wait(d->clock, &d->cv, &d->mu, wait);
            }
        }
    }
    pthread_mutex_unlock(&d->mu);
    device_close_link(d);
    return NULL;
}

struct device *device_start(const struct station_device *cfg,
                            const void *arg,
                            const struct device_driver *drv,
                            const struct device_options *opt)
{
    struct device *d = ALLOC_NEW(struct device);

    d->cfg = cfg;
    d->arg = arg;
    d->drv = drv;
    d->opt = *opt;
    snprintf(d->host, sizeof(d->host), "%s", opt->host ? opt->host : cfg->host);
    d->port = opt->port > 0 ? opt->port : cfg->port;
    d->clock = clock_new_real();
    d->written = NAN;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    if (pthread_create(&d->thread, NULL, device_main, d) != 0) {
        LOGE("device", "%s: cannot start its thread", cfg->id);
        abort();
    }
    return d;
}

void device_stop(struct device *d)
{
    if (!d) {
        return;
    }
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    clock_free(d->clock);
    free(d);
}

void device_reading(struct device *d, struct device_reading *out)
{
    pthread_mutex_lock(&d->mu);
    *out = d->reading;
    pthread_mutex_unlock(&d->mu);
}

void device_set(struct device *d, double value)
{
    pthread_mutex_lock(&d->mu);
    if (!d->has_setpoint || fabs(d->setpoint - value) > d->opt.deadband_kw) {
        d->has_setpoint = 1;
        d->setpoint = value;
        pthread_cond_signal(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
}

void device_release(struct device *d)
{
    pthread_mutex_lock(&d->mu);
    d->has_setpoint = 0;
    pthread_mutex_unlock(&d->mu);
}

int device_last_write(struct device *d, int64_t *since_ms, struct device_write *out)
{
    int newer;

    pthread_mutex_lock(&d->mu);
    *out = d->last_write;
    pthread_mutex_unlock(&d->mu);
    newer = out->ts_ms > *since_ms;
    if (newer) {
        *since_ms = out->ts_ms;
    }
    return newer;
}

const struct station_device *device_config(const struct device *d)
{
    return d->cfg;
}
