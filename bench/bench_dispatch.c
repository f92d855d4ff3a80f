/* SPDX-License-Identifier: MIT */
/*
 * bench_dispatch.c - end-to-end dispatch latency: a client publishes an
 * import-cap command to a real mosquitto on loopback; flexd (io/mqtt.c +
 * engine/dispatch.c + engine/live.c) applies it to the whole Ulanhada
 * station simulated by sim/devsim over Modbus TCP, and acknowledges.
 *
 *   bench_dispatch [COMMANDS] [SPACING_MS]
 *
 * COMMANDS (default 1000) commands, SPACING_MS (default 200) apart, caps
 * alternating between 5 and 15 kW under the import measured at the start (at
 * least 10 and 0 kW) with three cars charging, so every
 * command changes setpoints. Per command:
 *   (a) publish -> the last of the first writes after it to the three
 *       charging cars' connectors at devsim (devsim_state.last_write_us,
 *       polled every millisecond; other devices' writes do not count);
 *   (b) publish -> the ack received by the publishing side's subscriber.
 * Prints p50, p99 and max of both. The publisher writes MQTT by hand on
 * one kept connection (QoS 0), so its own client adds nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include "../tests/mqtt_broker.h"

#include "common/clock.h"
#include "common/numparse.h"
#include "common/logger.h"
#include "config/builtin.h"
#include "engine/dispatch.h"
#include "engine/live.h"
#include "engine/planner.h"
#include "io/mqtt.h"
#include "sim/devsim.h"

#define BD_CARS 3 /* connectors 0..2 carry charging cars */

#include <MQTTAsync.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BD_PREFIX "flexd/bench"

static struct clock *bd_clock;
static pthread_mutex_t bd_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t *bd_ack_us; /* per command, 0 = not yet */
static int bd_n;

static int bd_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double bd_pct(const double *v, int n, double p)
{
    int i = (int)ceil(p / 100.0 * n) - 1;

    return n ? v[i < 0 ? 0 : (i >= n ? n - 1 : i)] : NAN;
}

static int bd_arrived(void *ctx, char *topic, int tlen, MQTTAsync_message *m)
{
    int64_t now = clock_mono_us(bd_clock);
    const char *p = m->payload;
    const char *at = m->payloadlen > 20 ? strstr(p, "\"id\":\"bench-") : NULL;

    (void)ctx;
    (void)tlen;
    if (at) {
        long k = strtol(at + 12, NULL, 10);

        pthread_mutex_lock(&bd_mu);
        if (k >= 0 && k < bd_n && !bd_ack_us[k]) {
            bd_ack_us[k] = now;
        }
        pthread_mutex_unlock(&bd_mu);
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void bd_connected(void *ctx, char *cause)
{
    (void)cause;
    MQTTAsync_subscribe(*(MQTTAsync *)ctx, BD_PREFIX "/ack", 1, NULL);
}

struct bd_run {
    struct live *l;
    volatile sig_atomic_t *stop;
};

static void *bd_thread(void *arg)
{
    struct bd_run *r = arg;

    live_run(r->l, r->stop, 0);
    return NULL;
}

static int bd_raw_connect(int port)
{
    static const unsigned char conn_pkt[] =
        {0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0, 0, 4, 'b', 'e', 'n', 'c'};
    struct sockaddr_in a;
    unsigned char ack[4];
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        write(fd, conn_pkt, sizeof(conn_pkt)) != (ssize_t)sizeof(conn_pkt) ||
        read(fd, ack, 4) != 4 || ack[0] != 0x20 || ack[3] != 0) {
        return -1;
    }
    return fd;
}

static int bd_raw_publish(int fd, const char *topic, const char *payload)
{
    unsigned char buf[1024];
    size_t tl = strlen(topic), pl = strlen(payload), n = 0, rem = 2 + tl + pl;

    buf[n++] = 0x30;
    do {
        unsigned char c = (unsigned char)(rem % 128);

        rem /= 128;
        buf[n++] = (unsigned char)(c | (rem ? 0x80 : 0));
    } while (rem);
    buf[n++] = (unsigned char)(tl >> 8);
    buf[n++] = (unsigned char)(tl & 0xff);
    memcpy(buf + n, topic, tl);
    n += tl;
    memcpy(buf + n, payload, pl);
    n += pl;
    return write(fd, buf, n) == (ssize_t)n ? 0 : -1;
}

int main(int argc, char **argv)
{
    long n_arg = 1000;
    long spacing_arg = 200;
    int n;
    int spacing;
    char dir[] = "/tmp/flexd-bench-dispatch-XXXXXX", db[300], outbox[300], maps[512];
    struct error_detail ed = {{0}};
    struct mqtt_broker b;
    struct station *st = NULL;
    struct devsim *ds = NULL;
    struct live *l = NULL;
    struct dispatch *d = NULL;
    struct mqtt *m = NULL;
    struct devsim_options dso;
    struct live_options lo;
    struct dispatch_options dopt;
    struct mqtt_options mo;
    MQTTAsync sub;
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    int ports[STATION_DEVICES_MAX];
    int car_dev[BD_CARS];
    double *wa, *wb;
    int na = 0, nb = 0, fd;
    volatile sig_atomic_t stop = 0;
    char uri[64];

    if ((argc > 1 && numparse_long(argv[1], 1, 1000000, &n_arg) != ERROR_OK) ||
        (argc > 2 && numparse_long(argv[2], 1, 60000, &spacing_arg) != ERROR_OK)) {
        fprintf(stderr, "usage: bench_dispatch [COMMANDS] [SPACING_MS]\n");
        return 2;
    }
    n = (int)n_arg;
    spacing = (int)spacing_arg;
    bd_clock = clock_new_real();
    logger_set_level(LOGGER_WARN);
    bd_n = n;
    bd_ack_us = calloc((size_t)n, sizeof(*bd_ack_us));
    wa = calloc((size_t)n, sizeof(*wa));
    wb = calloc((size_t)n, sizeof(*wb));
    if (!mkdtemp(dir) || mqtt_broker_start(&b, MQTT_BROKER_PLAIN, 0) != 0) {
        fprintf(stderr, "bench_dispatch: cannot start mosquitto\n");
        return 1;
    }
    snprintf(db, sizeof(db), "%s/history.db", dir);
    snprintf(outbox, sizeof(outbox), "%s/outbox.db", dir);
    snprintf(maps, sizeof(maps), "%s/config/devices", FLEXD_SOURCE_DIR);
    if (builtin_station_load(&st, &ed) != ERROR_OK) {
        fprintf(stderr, "%s\n", ed.text);
        return 1;
    }
    devsim_options_default(&dso);
    dso.port_base = 0;
    dso.cars = 0;
    dso.maps_dir = maps;
    dso.start_ms = clock_from_local(2026, 7, 18, 12, 0, 0);
    if (devsim_start(st, &dso, &ds, &ed) != ERROR_OK) {
        fprintf(stderr, "devsim: %s\n", ed.text);
        return 1;
    }
    for (int i = 0; i < st->n_devices; i++) {
        ports[i] = devsim_port(ds, i);
    }
    devsim_set_pv_available_kw(ds, 40.0);
    devsim_set_base_kw(ds, 25.0);
    devsim_set_soc(ds, 0.15); /* little battery: the caps bind on the chargers */
    for (int k = 0; k < BD_CARS; k++) {
        devsim_plug(ds, k, 40.0, 120.0);
        car_dev[k] =
            station_find_device(st, STATION_DEVICE_CONNECTOR, planner_connector(st, k, NULL)->id);
    }
    live_options_default(&lo); /* production cycle: 1 s */
    lo.host = "127.0.0.1";
    lo.ports = ports;
    lo.maps_dir = maps;
    lo.db_path = db;
    if (live_new(st, &lo, &l, &ed) != ERROR_OK) {
        fprintf(stderr, "live: %s\n", ed.text);
        return 1;
    }
    dispatch_options_default(&dopt);
    dopt.st = st;
    dopt.live = l;
    dopt.db_path = db;
    mqtt_options_default(&mo);
    mo.port = b.port;
    mo.client_id = "flexd-bench";
    mo.prefix = BD_PREFIX;
    mo.outbox_path = outbox;
    if (dispatch_new(&dopt, &d, &ed) != ERROR_OK ||
        mqtt_start(&mo, dispatch_topics(), dispatch_on_message, d, &m, &ed) != ERROR_OK ||
        dispatch_start(d, m, &ed) != ERROR_OK) {
        fprintf(stderr, "flexd: %s\n", ed.text);
        return 1;
    }
    snprintf(uri, sizeof(uri), "tcp://127.0.0.1:%d", b.port);
    MQTTAsync_create(&sub, uri, "bench-sub", MQTTCLIENT_PERSISTENCE_NONE, NULL);
    MQTTAsync_setCallbacks(sub, NULL, NULL, bd_arrived, NULL);
    MQTTAsync_setConnected(sub, &sub, bd_connected);
    MQTTAsync_connect(sub, &co);
    fd = bd_raw_connect(b.port);
    /* live_run() on a thread of its own, as `flexd run` runs it */
    {
        struct live_status ls;
        pthread_t t;
        struct bd_run r = {l, &stop};
        double cap_hi, cap_lo;

        pthread_create(&t, NULL, bd_thread, &r);
        for (int i = 0; i < 600; i++) { /* a plan and the cars charging */
            live_status(l, &ls);
            if (ls.on_plan && ls.ev_kw > 50.0 && ls.devices_online == ls.devices_total) {
                break;
            }
            clock_sleep_ms(bd_clock, 100);
        }
        clock_sleep_ms(bd_clock, 2000);
        live_status(l, &ls);
        cap_hi = fmax(10.0, floor(ls.grid_kw) - 5.0);
        cap_lo = cap_hi - 10.0;
        printf("station: %d devices, grid %.1f kW, EV %.1f kW; %d commands %d ms apart\n",
               ls.devices_total,
               ls.grid_kw,
               ls.ev_kw,
               n,
               spacing);
        for (int k = 0; k < n && fd >= 0; k++) {
            char payload[400], issued[40], expires[40];
            struct devsim_state s;
            int64_t changed_us[BD_CARS];
            int64_t t0, last = 0, now = clock_now_ms(bd_clock);

            clock_format_iso(now - 1000, issued, sizeof(issued));
            clock_format_iso(now + 60000, expires, sizeof(expires));
            snprintf(payload,
                     sizeof(payload),
                     "{\"id\": \"bench-%d\", \"command\": \"IMPORT_CAP\", \"value_kw\": %.0f,"
                     " \"issued\": \"%s\", \"expires\": \"%s\", \"duration\": \"PT10M\"}",
                     k,
                     k % 2 ? cap_lo : cap_hi,
                     issued,
                     expires);
            for (int c = 0; c < BD_CARS; c++) {
                changed_us[c] = 0;
            }
            t0 = clock_mono_us(bd_clock);
            if (bd_raw_publish(fd, BD_PREFIX "/command", payload) != 0) {
                fprintf(stderr, "publish failed\n");
                break;
            }
            /* the first write to each charging car's connector after the
             * publish: the setpoints the cap moves (writes to other devices,
             * heartbeats among them, do not count) */
            while (clock_mono_us(bd_clock) - t0 < (int64_t)spacing * 1000) {
                devsim_state(ds, &s);
                for (int c = 0; c < BD_CARS; c++) {
                    if (!changed_us[c] && s.last_write_us[car_dev[c]] > t0) {
                        changed_us[c] = s.last_write_us[car_dev[c]];
                    }
                }
                clock_sleep_ms(bd_clock, 1);
            }
            for (int c = 0; c < BD_CARS; c++) {
                last = changed_us[c] > last ? changed_us[c] : last;
            }
            if (last) {
                wa[na++] = (double)(last - t0) / 1000.0;
            }
            pthread_mutex_lock(&bd_mu);
            if (bd_ack_us[k]) {
                wb[nb++] = (double)(bd_ack_us[k] - t0) / 1000.0;
            }
            pthread_mutex_unlock(&bd_mu);
        }
        stop = 1;
        live_wake(l);
        pthread_join(t, NULL);
    }
    qsort(wa, (size_t)na, sizeof(*wa), bd_cmp);
    qsort(wb, (size_t)nb, sizeof(*wb), bd_cmp);
    printf("(a) publish -> car setpoints written at devsim: %d/%d samples, p50 %.1f ms, p99 %.1f"
           " ms, max %.1f ms\n",
           na,
           n,
           bd_pct(wa, na, 50),
           bd_pct(wa, na, 99),
           na ? wa[na - 1] : NAN);
    printf("(b) publish -> ack received:                    %d/%d samples, p50 %.1f ms, p99 %.1f"
           " ms, max %.1f ms\n",
           nb,
           n,
           bd_pct(wb, nb, 50),
           bd_pct(wb, nb, 99),
           nb ? wb[nb - 1] : NAN);
    if (fd >= 0) {
        close(fd);
    }
    MQTTAsync_disconnect(sub, NULL);
    MQTTAsync_destroy(&sub);
    dispatch_free(d);
    mqtt_stop(m);
    live_free(l);
    devsim_stop(ds);
    station_free(st);
    mqtt_broker_stop(&b);
    {
        char cmd[400];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", dir);
        }
    }
    free(bd_ack_us);
    free(wa);
    free(wb);
    clock_free(bd_clock);
    return 0;
}
