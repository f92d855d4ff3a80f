/* SPDX-License-Identifier: MIT */
/*
 * test_dispatch.c - the dispatcher (engine/dispatch.c) end to end: a real
 * mosquitto (tests/mqtt_broker.h), the live engine against the device
 * simulator over Modbus TCP on loopback (as test_live.c), flexd's MQTT
 * client (io/mqtt.c) and a second paho client playing the grid
 * dispatcher. live_run() runs on a thread of the test; the dispatcher runs
 * on its own.
 *
 * Covers: a DR import-cap event's lifecycle (a cap that binds: the
 * simulator's meter above it when the event is sent; accepted with
 * committed kW, active, the meter under the cap, performance reports with
 * delivered energy, completed); a modification with a lower number (CONFLICT); a tariff that
 * re-plans; a visitor-flow forecast that raises the EV-arrival forecast; a
 * driver's declaration stored with its session, once (DUPLICATE), and
 * refused for an unknown connector or a past departure; every kind of bad payload rejected with its
 * code and nothing changed; the broker killed and restarted mid-event with no report lost and
 * nothing applied twice; flexd itself killed with SIGKILL mid-event and started again on the same
 * history and outbox: the event goes on without a second accepted ack, its performance steps
 * continue and it completes. The killed engine runs in a child: this binary re-executed with
 * "--child DIR PORT" (the test process has threads, so fork alone will not do).
 *
 * Then a TLS variant: a second broker with TLS 1.3 only on the port under
 * test and a CA, server and client certificates made at test time
 * (MQTT_BROKER_TLS13); flexd (tls 1, the generated CA, the client
 * certificate) and the dispatcher's client both connect over TLS, and a
 * fresh site (its own history and outbox) runs the DR lifecycle again, on
 * a shorter clock (1-s performance steps, an 8-s event) to keep the test
 * short. A plain MQTT CONNECT on that port is refused, so flexd's accepted
 * ack could only have come over TLS; its status topic says online.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "mqtt_broker.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/logger.h"
#include "config/builtin.h"
#include "engine/dispatch.h"
#include "engine/live.h"
#include "engine/planner.h"
#include "io/dispatch_msg.h"
#include "io/mqtt.h"
#include "sim/devsim.h"

#include <MQTTAsync.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define TD_CYCLE_MS 200
#define TD_PREFIX   "flexd/test-station"
#define TD_MSGS_MAX 4096

/* The plain runs: DR performance steps, the load step before the
 * lifecycle event (it weighs in the 15-minute baseline) and the event. */
#define TD_PERF_STEP_MS 2000
#define TD_LOAD_MS      12000
#define TD_EVENT_S      16

/* The TLS variant runs the same lifecycle on a shorter clock: 8 steps of
 * 1 s (test_lifecycle() wants 6 at least) after a 6-s load step, whose
 * weight still puts the baseline well above the cap (the site has run
 * only a few seconds at the lower load before it). */
#define TD_TLS_PERF_STEP_MS 1000
#define TD_TLS_LOAD_MS      6000
#define TD_TLS_EVENT_S      8

static char td_dir[] = "/tmp/flexd-test-dispatch-XXXXXX";
static char td_maps[512];
static char td_site_dir[512]; /* the history and outbox of td_start() */
static struct clock *td_clock;

/* ---- the dispatcher's client ------------------------------------------- */

struct td_msg {
    char topic[128];
    char *payload;
};

struct td_client {
    MQTTAsync c;
    pthread_mutex_t mu;
    struct td_msg msg[TD_MSGS_MAX];
    int n;
    int connected;
    int tls; /* 1: connected over TLS; publishes go through c (td_publish()) */
};

static struct td_client td_cl;

static int td_arrived(void *ctx, char *topic, int tlen, MQTTAsync_message *m)
{
    struct td_client *t = ctx;

    (void)tlen;
    pthread_mutex_lock(&t->mu);
    if (t->n < TD_MSGS_MAX && m->payloadlen > 0) {
        struct td_msg *x = &t->msg[t->n++];

        snprintf(x->topic, sizeof(x->topic), "%s", topic + strlen(TD_PREFIX) + 1);
        x->payload = calloc(1, (size_t)m->payloadlen + 1);
        memcpy(x->payload, m->payload, (size_t)m->payloadlen);
    }
    pthread_mutex_unlock(&t->mu);
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void td_connected(void *ctx, char *cause)
{
    struct td_client *t = ctx;
    static const char *const topics[] = {TD_PREFIX "/ack",
                                         TD_PREFIX "/dr/performance",
                                         TD_PREFIX "/capacity",
                                         TD_PREFIX "/status"};

    (void)cause;
    /* the status topic only in the TLS variant, which checks it; the
     * plain runs see the same messages as before it existed */
    for (int i = 0; i < (t->tls ? 4 : 3); i++) {
        MQTTAsync_subscribe(t->c, topics[i], 1, NULL);
    }
    t->connected = 1;
}

static void td_lost(void *ctx, char *cause)
{
    (void)cause;
    ((struct td_client *)ctx)->connected = 0;
}

/* Connect t to 127.0.0.1:port and wait (5 s at most): plain when tls is
 * NULL, else TLS with tls's CA and client certificate (the broker
 * requires one), the server's certificate verified. */
static void td_client_start(struct td_client *t, int port, const struct mqtt_broker *tls)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    char uri[64];

    snprintf(uri, sizeof(uri), "%s://127.0.0.1:%d", tls ? "ssl" : "tcp", port);
    pthread_mutex_init(&t->mu, NULL);
    t->tls = tls != NULL;
    CHECK(MQTTAsync_create(&t->c, uri, "test-dispatcher", MQTTCLIENT_PERSISTENCE_NONE, NULL) ==
          MQTTASYNC_SUCCESS);
    MQTTAsync_setCallbacks(t->c, t, td_lost, td_arrived, NULL);
    MQTTAsync_setConnected(t->c, t, td_connected);
    co.cleansession = 0;
    co.keepAliveInterval = 5;
    co.automaticReconnect = 1;
    co.minRetryInterval = 1;
    co.maxRetryInterval = 1;
    if (tls) {
        ssl.trustStore = tls->ca;
        ssl.keyStore = tls->client_cert;
        ssl.privateKey = tls->client_key;
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1;
        co.ssl = &ssl; /* paho copies it */
    }
    CHECK(MQTTAsync_connect(t->c, &co) == MQTTASYNC_SUCCESS);
    for (int i = 0; i < 500 && !t->connected; i++) {
        clock_sleep_ms(td_clock, 10);
    }
    CHECK(t->connected);
}

/* Disconnect and destroy t's client and drop what it received: t can be
 * started again. */
static void td_client_stop(struct td_client *t)
{
    MQTTAsync_disconnect(t->c, NULL);
    MQTTAsync_destroy(&t->c);
    for (int i = 0; i < t->n; i++) {
        free(t->msg[i].payload);
    }
    t->n = 0;
    t->connected = 0;
    pthread_mutex_destroy(&t->mu);
}

/* The dispatcher's publishes in the plain runs go over a plain socket
 * speaking MQTT 3.1.1 by hand (CONNECT, then one QoS 0 PUBLISH), one
 * connection per message, so the test controls the retain flag and the
 * bytes exactly, 1 MB included (flexd's own client, io/mqtt.h, refuses
 * such a payload). The TLS variant sends none of those and publishes with
 * the dispatcher's paho client instead, so they go over TLS too. */
static void td_varint(unsigned char *b, size_t *n, size_t v)
{
    do {
        unsigned char c = (unsigned char)(v % 128);

        v /= 128;
        b[(*n)++] = (unsigned char)(c | (v ? 0x80 : 0));
    } while (v);
}

static int td_port;

/* A plain TCP connection to 127.0.0.1:port that sent an MQTT CONNECT and
 * got a CONNACK accepting it: its descriptor. -1 when the TCP connection
 * fails; -2 when the listener takes the connection but answers no CONNACK
 * within 5 s (a TLS listener drops the plain bytes). */
static int td_raw_connect(int port)
{
    static const unsigned char conn_pkt[] =
        {0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0, 0, 4, 't', 'd', 'p', 'b'};
    struct timeval tv = {5, 0};
    unsigned char ack[4];
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rc = -1;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
        connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        rc = write(fd, conn_pkt, sizeof(conn_pkt)) == (ssize_t)sizeof(conn_pkt) &&
                     read(fd, ack, 4) == 4 && ack[0] == 0x20 && ack[3] == 0
                 ? fd
                 : -2;
    }
    if (rc < 0 && fd >= 0) {
        close(fd);
    }
    return rc;
}

/* QoS 1 through the dispatcher's client, back when the broker has it. */
static void td_publish_client(const char *full, const char *payload, size_t len, int retained)
{
    MQTTAsync_message m = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions r = MQTTAsync_responseOptions_initializer;

    m.payload = (void *)payload;
    m.payloadlen = (int)len;
    m.qos = 1;
    m.retained = retained;
    CHECK(MQTTAsync_sendMessage(td_cl.c, full, &m, &r) == MQTTASYNC_SUCCESS &&
          MQTTAsync_waitForCompletion(td_cl.c, r.token, 5000) == MQTTASYNC_SUCCESS);
}

/* One QoS 0 PUBLISH on its own plain connection to td_port. */
static void td_publish_raw(const char *full, const char *payload, size_t len, int retained)
{
    unsigned char head[16];
    size_t n = 0, tl = strlen(full);
    int fd, ok;

    head[n++] = (unsigned char)(0x30 | (retained ? 1 : 0));
    td_varint(head, &n, 2 + tl + len);
    head[n++] = (unsigned char)(tl >> 8);
    head[n++] = (unsigned char)(tl & 0xff);
    fd = td_raw_connect(td_port);
    ok = fd >= 0 && write(fd, head, n) == (ssize_t)n && write(fd, full, tl) == (ssize_t)tl;
    for (size_t off = 0; ok && off < len;) {
        ssize_t w = write(fd, payload + off, len - off);

        ok = w > 0;
        off += ok ? (size_t)w : 0;
    }
    ok = ok && write(fd, "\xe0\x00", 2) == 2;
    CHECK(ok);
    if (fd >= 0) {
        char c;

        while (read(fd, &c, 1) > 0) { /* the broker closes after DISCONNECT */
        }
        close(fd);
    }
}

static void td_publish(const char *topic, const char *payload, size_t len, int retained)
{
    char full[128];

    snprintf(full, sizeof(full), "%s/%s", TD_PREFIX, topic);
    if (td_cl.tls) {
        td_publish_client(full, payload, len, retained);
    } else {
        td_publish_raw(full, payload, len, retained);
    }
}

static void td_publish_s(const char *topic, const char *payload, int retained)
{
    td_publish(topic, payload, strlen(payload), retained);
}

static int td_count(void)
{
    int n;

    pthread_mutex_lock(&td_cl.mu);
    n = td_cl.n;
    pthread_mutex_unlock(&td_cl.mu);
    return n;
}

static const char *td_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : "";
}

/* The first message at index >= from on topic whose "id" (or "eventID")
 * is id (NULL: any) and, for acks, whose status is status (NULL: any);
 * waits up to ms. Returns its index or -1; *o (may be NULL) gets it parsed. */
static int
td_wait(int from, const char *topic, const char *id, const char *status, int ms, cJSON **o)
{
    for (int64_t end = clock_mono_ms(td_clock) + ms; clock_mono_ms(td_clock) < end;) {
        for (int i = from; i < td_count(); i++) {
            cJSON *j;
            int ok;

            if (strcmp(td_cl.msg[i].topic, topic) != 0) {
                continue;
            }
            j = cJSON_Parse(td_cl.msg[i].payload);
            ok = j &&
                 (!id || strcmp(td_str(j, strcmp(topic, "ack") ? "eventID" : "id"), id) == 0) &&
                 (!status || strcmp(td_str(j, "status"), status) == 0);
            if (ok) {
                if (o) {
                    *o = j;
                } else {
                    cJSON_Delete(j);
                }
                return i;
            }
            cJSON_Delete(j);
        }
        clock_sleep_ms(td_clock, 20);
    }
    return -1;
}

static double td_num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* ---- the station ------------------------------------------------------- */

struct td_site {
    struct station *st;
    struct devsim *ds;
    struct live *l;
    struct mqtt *m;
    struct dispatch *d;
    int ports[STATION_DEVICES_MAX];
    pthread_t run;
    volatile sig_atomic_t stop;
};

static void *td_live_thread(void *arg)
{
    struct td_site *s = arg;

    live_run(s->l, &s->stop, 0);
    return NULL;
}

static int td_connector(const struct station *st, const char *id)
{
    for (int k = 0; k < station_connector_count(st); k++) {
        if (strcmp(planner_connector(st, k, NULL)->id, id) == 0) {
            return k;
        }
    }
    abort();
}

/* Start a site on td_site_dir's history and outbox, its DR performance in
 * steps of perf_step_ms; flexd connects to b->port, over TLS with b's CA
 * and client certificate unless b is a plain broker. */
static void td_start(struct td_site *s, const struct mqtt_broker *b, int perf_step_ms)
{
    struct error_detail ed = {{0}};
    struct devsim_options o;
    struct live_options lo;
    struct dispatch_options dopt;
    struct mqtt_options mo;
    char db[300], outbox[300];

    memset(s, 0, sizeof(*s));
    CHECK(builtin_station_load(&s->st, &ed) == ERROR_OK);
    for (int d = 0; d < s->st->n_devices; d++) {
        struct station_device *dev = &s->st->devices[d];

        dev->poll_ms = dev->kind == STATION_DEVICE_METER ? TD_CYCLE_MS / 2 : TD_CYCLE_MS;
        dev->timeout_ms = dev->kind == STATION_DEVICE_METER ? 60 : 100;
    }
    devsim_options_default(&o);
    o.port_base = 0;
    o.cars = 0;
    o.seed = 7;
    o.maps_dir = td_maps;
    o.start_ms = clock_from_local(2026, 7, 18, 12, 0, 0);
    if (devsim_start(s->st, &o, &s->ds, &ed) != ERROR_OK) {
        fprintf(stderr, "devsim: %s\n", ed.text);
        abort();
    }
    for (int d = 0; d < s->st->n_devices; d++) {
        s->ports[d] = devsim_port(s->ds, d);
    }
    devsim_set_pv_available_kw(s->ds, 40.0);
    devsim_set_base_kw(s->ds, 25.0);
    devsim_set_soc(s->ds, 0.5);
    CHECK(devsim_plug(s->ds, td_connector(s->st, "DC1-A"), 60.0, 120.0) == ERROR_OK);
    CHECK(devsim_plug(s->ds, td_connector(s->st, "DC2-A"), 60.0, 120.0) == ERROR_OK);
    CHECK(devsim_plug(s->ds, td_connector(s->st, "AC1-1"), 20.0, 7.0) == ERROR_OK);

    live_options_default(&lo);
    lo.host = "127.0.0.1";
    lo.ports = s->ports;
    lo.cycle_ms = TD_CYCLE_MS;
    lo.maps_dir = td_maps;
    snprintf(db, sizeof(db), "%s/history.db", td_site_dir);
    lo.db_path = db;
    lo.history_flush_s = 1;
    if (live_new(s->st, &lo, &s->l, &ed) != ERROR_OK) {
        fprintf(stderr, "live: %s\n", ed.text);
        abort();
    }
    dispatch_options_default(&dopt);
    dopt.st = s->st;
    dopt.live = s->l;
    dopt.db_path = db;
    dopt.baseline = STATION_BASELINE_RECENT_15MIN;
    dopt.tick_ms = 250;
    dopt.perf_step_ms = perf_step_ms;
    CHECK(dispatch_new(&dopt, &s->d, &ed) == ERROR_OK);
    mqtt_options_default(&mo);
    mo.port = b->port;
    mo.client_id = "flexd-test";
    mo.prefix = TD_PREFIX;
    snprintf(outbox, sizeof(outbox), "%s/outbox.db", td_site_dir);
    mo.outbox_path = outbox;
    mo.backoff_min_ms = 200;
    mo.backoff_max_ms = 1000;
    if (b->tls != MQTT_BROKER_PLAIN) {
        mo.tls = 1;
        mo.ca_file = b->ca;
        mo.cert_file = b->client_cert;
        mo.key_file = b->client_key;
    }
    if (mqtt_start(&mo, dispatch_topics(), dispatch_on_message, s->d, &s->m, &ed) != ERROR_OK) {
        fprintf(stderr, "mqtt: %s\n", ed.text);
        abort();
    }
    CHECK(dispatch_start(s->d, s->m, &ed) == ERROR_OK);
    CHECK(pthread_create(&s->run, NULL, td_live_thread, s) == 0);
}

static void td_stop(struct td_site *s)
{
    s->stop = 1;
    live_wake(s->l);
    pthread_join(s->run, NULL);
    dispatch_free(s->d);
    mqtt_stop(s->m);
    live_free(s->l);
    devsim_stop(s->ds);
    station_free(s->st);
}

/* An import-cap event from start for dur_s seconds at cap_kw. */
static char *td_event(const char *id, int mod, int64_t start_ms, int dur_s, double cap_kw)
{
    char start[40], created[40];

    clock_format_iso(start_ms, start, sizeof(start));
    clock_format_iso(clock_now_ms(td_clock) - 1000, created, sizeof(created));
    return alloc_printf("{\"id\": \"%s\", \"programID\": \"test\", \"modificationNumber\": %d,"
                        " \"priority\": 1, \"createdDateTime\": \"%s\","
                        " \"intervalPeriod\": {\"start\": \"%s\", \"duration\": \"PT%dS\"},"
                        " \"payloadDescriptors\": [{\"payloadType\": \"IMPORT_CAPACITY_LIMIT\","
                        " \"units\": \"KW\"}], \"intervals\": [{\"id\": 0, \"payloads\":"
                        " [{\"type\": \"IMPORT_CAPACITY_LIMIT\", \"values\": [%.1f]}]}]}",
                        id,
                        mod,
                        created,
                        start,
                        dur_s,
                        cap_kw);
}

/* flexd subscribes after it connects: probe until a forecast is answered
 * (up to tries seconds), so the next event is not published into the void. */
static int td_probe(int tries)
{
    static int probes;
    int ok = 0;

    for (int i = 0; i < tries && !ok; i++) {
        char id[32], probe[400], at[40];

        snprintf(id, sizeof(id), "probe-%d", probes++);
        clock_format_iso(clock_now_ms(td_clock) / 3600000 * 3600000, at, sizeof(at));
        snprintf(probe,
                 sizeof(probe),
                 "{\"id\": \"%s\", \"createdDateTime\": \"%s\", \"intervalPeriod\":"
                 " {\"start\": \"%s\", \"duration\": \"PT1H\"}, \"intervals\": [{\"id\": 0,"
                 " \"payloads\": [{\"type\": \"VISITOR_FLOW\", \"values\": [100]}]}]}",
                 id,
                 at,
                 at);
        td_publish_s(DISPATCH_TOPIC_VISITOR_FLOW, probe, 0);
        ok = td_wait(0, "ack", id, "accepted", 1000, NULL) >= 0;
    }
    return ok;
}

/* Wait until live has a plan and the cars draw power. */
static void td_settle(struct td_site *s)
{
    struct live_status ls;
    int ok = 0;

    for (int i = 0; i < 300 && !ok; i++) {
        clock_sleep_ms(td_clock, 100);
        live_status(s->l, &ls);
        ok = ls.on_plan && ls.meter_ok && ls.ev_kw > 100.0;
    }
    ok = td_probe(20);
    printf("settled: grid %.1f kW, EV %.1f kW, plans %d\n", ls.grid_kw, ls.ev_kw, ls.plans_solved);
    CHECK(ok);
}

/* Make the cap of the lifecycle event bind. At midday the plan already
 * discharges the battery at full power and sits at its least import in the
 * present step, so a cap under the plan would rightly be rejected. Instead
 * the meter is pushed above the plan: the site's base load steps up by
 * TD_STEP_KW, which the plan in force does not know (the engine follows
 * the plan's setpoints and does not re-plan on it by itself). The event's
 * cap then lies between the plan's least import (so flexd commits it in
 * full) and the meter: the engine must cut the cars to hold it. The higher
 * load is kept long enough to weigh in the 15-minute baseline, so the
 * event also delivers a reduction against it. */
#define TD_STEP_KW 110.0

static void td_load_step(struct td_site *s, int load_ms)
{
    struct live_status ls;

    devsim_set_base_kw(s->ds, 25.0 + TD_STEP_KW);
    clock_sleep_ms(td_clock, load_ms);
    live_status(s->l, &ls);
    printf("base load up %.0f kW: grid %.1f kW, EV %.1f kW\n", TD_STEP_KW, ls.grid_kw, ls.ev_kw);
}

/* The lifecycle of an event of dur_s seconds after load_ms of the higher
 * load (td_load_step()); the site's performance step must divide dur_s
 * into 6 steps or more. */
static void test_lifecycle(struct td_site *s, int load_ms, int dur_s)
{
    struct live_status ls0;
    double cap_kw, before_kw;
    int64_t start;
    char *ev, *old;
    int from;
    struct dispatch_stats st;
    struct devsim_state ds;
    double worst = 0.0;
    cJSON *o = NULL;
    int i, n_perf = 0;

    td_load_step(s, load_ms);
    start = (clock_now_ms(td_clock) / 1000 + 3) * 1000;
    from = td_count();
    /* a cap a fifth of the way from what the plan can reach now to what
     * the meter reads: committed in full, and binding */
    {
        struct live_capacity *c = calloc(1, sizeof(*c));
        double lo_kw;
        int64_t k;

        CHECK(live_capacity(s->l, c) == ERROR_OK);
        k = (clock_now_ms(td_clock) - c->start_ms) / (c->step_minutes * 60000LL);
        live_status(s->l, &ls0);
        devsim_state(s->ds, &ds);
        before_kw = ds.grid_kw;
        /* never below what the plan can reach: that would be rightly
         * rejected INSUFFICIENT_FLEXIBILITY */
        lo_kw = fmax(c->net_min_kw[k], c->plan_kw[k]) + 0.5;
        cap_kw = lo_kw + 0.2 * (ls0.grid_kw - lo_kw);
        cap_kw = ceil(cap_kw * 10.0) / 10.0;
        printf("step %lld: plan %.1f kW, net_min %.1f kW, measured %.1f kW: cap %.1f kW\n",
               (long long)k,
               c->plan_kw[k],
               c->net_min_kw[k],
               ls0.grid_kw,
               cap_kw);
        free(c);
    }
    ev = td_event("evt-life", 1, start, dur_s, cap_kw);
    old = td_event("evt-life", 0, start, dur_s, cap_kw);
    td_publish_s("dr/event", ev, 0);
    i = td_wait(from, "ack", "evt-life", "accepted", 5000, &o);
    CHECK(i >= 0);
    if (o) {
        printf("accepted: code %s, committed %.1f kW: %s\n",
               td_str(o, "code"),
               td_num(o, "committed_kw"),
               td_str(o, "message"));
        CHECK(isfinite(td_num(o, "committed_kw")));
        CHECK(strcmp(td_str(o, "code"), "OK") == 0 ||
              strcmp(td_str(o, "code"), "INSUFFICIENT_FLEXIBILITY") == 0);
        cJSON_Delete(o);
    }
    /* an older modification of an accepted event */
    td_publish_s("dr/event", old, 0);
    CHECK(td_wait(from, "ack", "evt-life", "rejected", 5000, &o) >= 0);
    if (o) {
        CHECK(strcmp(td_str(o, "code"), "CONFLICT") == 0);
        cJSON_Delete(o);
    }
    clock_sleep_ms(td_clock, 300); /* the count is taken on the tick */
    dispatch_stats(s->d, &st);
    CHECK(st.events == 1);
    /* (a) the cap binds: when the event is sent the meter reads well above
     * it (flexd re-plans on the notice, so it may fall before start) */
    printf("before the event: meter %.1f kW, cap %.1f kW\n", before_kw, cap_kw);
    CHECK(before_kw > cap_kw + 20.0);
    /* (b) active: give the correction two cycles, then the meter stays under */
    while (clock_now_ms(td_clock) < start + 2 * TD_CYCLE_MS) {
        clock_sleep_ms(td_clock, 20);
    }
    while (clock_now_ms(td_clock) < start + (dur_s - 1) * 1000LL) {
        devsim_state(s->ds, &ds);
        worst = fmax(worst, ds.grid_kw);
        clock_sleep_ms(td_clock, 100);
    }
    devsim_set_base_kw(s->ds, 25.0);
    printf("under the %.1f kW cap: highest meter reading %.1f kW\n", cap_kw, worst);
    CHECK(worst <= cap_kw + 2.0);
    i = td_wait(from, "ack", "evt-life", "completed", 8000, NULL);
    CHECK(i >= 0);
    CHECK(td_wait(from, "dr/performance", "evt-life", NULL, 100, NULL) >= 0);
    for (int k = from; k < td_count(); k++) {
        n_perf += strcmp(td_cl.msg[k].topic, "dr/performance") == 0 &&
                  strstr(td_cl.msg[k].payload, "evt-life") != NULL;
    }
    o = NULL;
    for (int k = from; k < td_count(); k++) {
        if (strcmp(td_cl.msg[k].topic, "dr/performance") == 0 &&
            strstr(td_cl.msg[k].payload, "\"final\":true")) {
            o = cJSON_Parse(td_cl.msg[k].payload);
        }
    }
    CHECK(o != NULL);
    if (o) {
        printf("%d performance reports; final: delivered %.3f of %.3f kWh, compliance %.2f\n",
               n_perf,
               td_num(o, "deliveredKwh"),
               td_num(o, "requiredKwh"),
               td_num(o, "compliance"));
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "intervals")) >= 6);
        CHECK(td_num(o, "deliveredKwh") > 0.0);
        CHECK(td_num(o, "compliance") > 0.5);
        cJSON_Delete(o);
    }
    CHECK(n_perf >= 6);
    clock_sleep_ms(td_clock, 500);
    dispatch_stats(s->d, &st);
    CHECK(st.events == 0);
    free(ev);
    free(old);
}

static void test_tariff(struct td_site *s)
{
    struct live_status ls;
    struct dispatch_stats st;
    char from_s[40], until_s[40], *t;
    int64_t now = clock_now_ms(td_clock) / 3600000 * 3600000;
    int plans, from = td_count(), n;
    cJSON *o = NULL;

    live_status(s->l, &ls);
    plans = ls.plans_solved;
    clock_format_iso(now, from_s, sizeof(from_s));
    clock_format_iso(now + 24 * 3600000LL, until_s, sizeof(until_s));
    t = alloc_printf("{\"id\": \"tariff-test\", \"createdDateTime\": \"%s\", \"validFrom\": \"%s\","
                     " \"validUntil\": \"%s\", \"intervalPeriod\": {\"start\": \"%s\","
                     " \"duration\": \"PT24H\"}, \"payloadDescriptors\": [{\"payloadType\":"
                     " \"PRICE\", \"units\": \"KWH\", \"currency\": \"CNY\"}], \"intervals\":"
                     " [{\"id\": 0, \"payloads\": [{\"type\": \"PRICE\", \"values\": [3.5]},"
                     " {\"type\": \"EXPORT_PRICE\", \"values\": [0.2]}]}]}",
                     from_s,
                     from_s,
                     until_s,
                     from_s);
    td_publish_s("tariff", t, 0);
    CHECK(td_wait(from, "ack", "tariff-test", "accepted", 5000, &o) >= 0);
    cJSON_Delete(o);
    for (n = 0; n < 100; n++) {
        live_status(s->l, &ls);
        if (ls.plans_solved > plans) {
            break;
        }
        clock_sleep_ms(td_clock, 100);
    }
    printf("tariff: plans solved %d -> %d\n", plans, ls.plans_solved);
    CHECK(ls.plans_solved > plans);
    {
        struct live_capacity *c = calloc(1, sizeof(*c));
        double top = 0.0;

        clock_sleep_ms(td_clock, 300);
        CHECK(live_capacity(s->l, c) == ERROR_OK);
        for (int k = 0; k < c->n_flex; k++) {
            top = fmax(top, c->marginal_cny_per_kwh[k]);
        }
        printf("tariff: highest marginal price in the new plan %.2f CNY/kWh\n", top);
        CHECK(top > 3.0); /* the platform price, not the station tariff's (<= 1.3) */
        free(c);
    }
    dispatch_stats(s->d, &st);
    CHECK(st.price_sets == 1);
    free(t);
}

/* Rows the query counts in the site's history (committed rows only). */
static long td_history_count(const char *sql)
{
    char path[600];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long n = -1;

    snprintf(path, sizeof(path), "%s/history.db", td_site_dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* The platforms: a visitor-flow forecast feeds the EV-arrival forecast
 * (more cars expected, a new plan); a driver's declaration reaches the
 * session on its connector, once; an unknown connector and a departure
 * already past are refused. */
static void test_platforms(struct td_site *s)
{
    struct live_status ls;
    char start_s[40], past_s[40], issued_s[40], dep_s[40], *t;
    int64_t now = clock_now_ms(td_clock);
    double before;
    int from = td_count(), n, plans;
    cJSON *o = NULL;

    live_status(s->l, &ls);
    before = ls.ev_forecast_kwh;
    clock_format_iso(now / 60000 * 60000, start_s, sizeof(start_s));
    t = alloc_printf("{\"id\": \"vf-crowd\", \"intervalPeriod\": {\"start\": \"%s\","
                     " \"duration\": \"PT3H\"}, \"intervals\": [{\"id\": 0, \"payloads\":"
                     " [{\"type\": \"VISITOR_FLOW\", \"values\": [20000]}]}]}",
                     start_s);
    td_publish_s("forecast/visitor_flow", t, 1);
    free(t);
    CHECK(td_wait(from, "ack", "vf-crowd", "accepted", 5000, &o) >= 0);
    CHECK_STR_CONTAINS(o ? td_str(o, "message") : "", "1 intervals feed the EV-arrival forecast");
    cJSON_Delete(o);
    for (n = 0; n < 100; n++) {
        live_status(s->l, &ls);
        if (ls.ev_forecast_kwh > before + 500.0) {
            break;
        }
        clock_sleep_ms(td_clock, 100);
    }
    printf("visitor flow 20,000/h for 3 h: cars to come %.0f -> %.0f kWh\n",
           before,
           ls.ev_forecast_kwh);
    CHECK(ls.ev_forecast_kwh > before + 500.0);
    /* a later forecast, all in the past, replaces it; the retained one is cleared */
    clock_format_iso(now - 2 * 86400000LL, past_s, sizeof(past_s));
    t = alloc_printf("{\"id\": \"vf-past\", \"intervalPeriod\": {\"start\": \"%s\","
                     " \"duration\": \"PT1H\"}, \"intervals\": [{\"id\": 0, \"payloads\":"
                     " [{\"type\": \"VISITOR_FLOW\", \"values\": [100]}]}]}",
                     past_s);
    td_publish_s("forecast/visitor_flow", t, 0);
    free(t);
    CHECK(td_wait(from, "ack", "vf-past", "accepted", 5000, NULL) >= 0);
    td_publish_s("forecast/visitor_flow", "", 1);
    /* the plan made for the crowd goes: the next tests want the usual one */
    for (n = 0; n < 100 && (live_status(s->l, &ls), ls.ev_forecast_kwh > before + 50.0); n++) {
        clock_sleep_ms(td_clock, 100);
    }
    CHECK(ls.ev_forecast_kwh < before + 50.0);
    plans = ls.plans_solved;
    for (n = 0; n < 100 && (live_status(s->l, &ls), ls.plans_solved <= plans); n++) {
        clock_sleep_ms(td_clock, 100);
    }
    CHECK(ls.plans_solved > plans);

    /* DC1-A has had a car since the start: its driver declares */
    clock_format_iso(now - 1000, issued_s, sizeof(issued_s));
    clock_format_iso(now / 1000 * 1000 + 2 * 3600000LL, dep_s, sizeof(dep_s));
    t = alloc_printf("{\"id\": \"decl-1\", \"connector\": \"DC1-A\", \"issued\": \"%s\","
                     " \"departure\": \"%s\", \"energy_kwh\": 33.5}",
                     issued_s,
                     dep_s);
    td_publish_s("session/declare", t, 0);
    CHECK(td_wait(from, "ack", "decl-1", "accepted", 5000, &o) >= 0);
    CHECK_STR_CONTAINS(o ? td_str(o, "message") : "", "for the car on DC1-A");
    cJSON_Delete(o);
    td_publish_s("session/declare", t, 0); /* the same again */
    CHECK(td_wait(from, "ack", "decl-1", "rejected", 5000, &o) >= 0);
    CHECK(o && strcmp(td_str(o, "code"), "DUPLICATE") == 0);
    cJSON_Delete(o);
    free(t);
    for (n = 0; n < 50; n++) { /* the history commits every second */
        if (td_history_count("SELECT count(*) FROM ev_session WHERE connector_id = 'DC1-A'"
                             " AND state = 'open' AND wanted_kwh = 33.5") == 1) {
            break;
        }
        clock_sleep_ms(td_clock, 100);
    }
    CHECK(td_history_count("SELECT count(*) FROM ev_session WHERE connector_id = 'DC1-A'"
                           " AND state = 'open' AND wanted_kwh = 33.5") == 1);
    t = alloc_printf("{\"id\": \"decl-2\", \"connector\": \"DC9-Z\", \"issued\": \"%s\","
                     " \"energy_kwh\": 20}",
                     issued_s);
    td_publish_s("session/declare", t, 0);
    free(t);
    CHECK(td_wait(from, "ack", "decl-2", "rejected", 5000, &o) >= 0);
    CHECK(o && strcmp(td_str(o, "code"), "OUT_OF_RANGE") == 0);
    CHECK_STR_CONTAINS(o ? td_str(o, "message") : "", "DC9-Z");
    cJSON_Delete(o);
    t = alloc_printf("{\"id\": \"decl-3\", \"connector\": \"DC1-A\", \"issued\": \"%s\","
                     " \"departure\": \"%s\"}",
                     past_s,
                     past_s);
    td_publish_s("session/declare", t, 0);
    free(t);
    CHECK(td_wait(from, "ack", "decl-3", "rejected", 5000, &o) >= 0);
    CHECK(o && strcmp(td_str(o, "code"), "EXPIRED") == 0);
    cJSON_Delete(o);
}

struct td_bad {
    const char *topic;
    const char *payload; /* NULL: built by the test */
    int retained;
    const char *code;
};

static void test_bad_payloads(struct td_site *s)
{
    int64_t now = clock_now_ms(td_clock);
    char *good = td_event("evt-bad", 0, now + 600000, 60, 150.0);
    char *expired = td_event("evt-old", 0, now - 120000, 60, 150.0);
    char *dup = td_event("evt-life", 1, now + 600000, 60, 150.0); /* processed before */
    char *big = malloc(1024 * 1024 + 1);
    char *deep = malloc(2 * 200 + 1);
    char cmd_exp[400], cmd_type[400], iso_a[40], iso_b[40];
    char *wrongtype, *unknown, *missing, *range, *cancel;
    struct dispatch_stats before, after;
    struct live_status ls0, ls1;

    memset(big, ' ', 1024 * 1024);
    big[0] = '{';
    big[1024 * 1024 - 1] = '}';
    big[1024 * 1024] = '\0';
    for (int i = 0; i < 200; i++) {
        deep[i] = '[';
        deep[200 + i] = ']';
    }
    deep[400] = '\0';
    wrongtype = alloc_printf("%s", good);
    memcpy(strstr(wrongtype, "\"modificationNumber\": 0"), "\"modificationNumber\":{}", 23);
    unknown = alloc_printf("{\"bogus\": 1, %s", good + 1);
    missing = alloc_printf("{%s", strstr(good, "\"programID\""));
    range = alloc_printf("%s", good);
    memcpy(strstr(range, "[150.0]"), "[-15.0]", 7);
    cancel =
        alloc_printf("{\"id\": \"evt-nobody\", \"programID\": \"test\","
                     " \"modificationNumber\": 3, \"priority\": 1, \"createdDateTime\": \"%s\","
                     " \"cancelled\": true}",
                     (clock_format_iso(now - 1000, iso_a, sizeof(iso_a)), iso_a));
    clock_format_iso(now - 2000, iso_a, sizeof(iso_a));
    clock_format_iso(now - 1000, iso_b, sizeof(iso_b));
    snprintf(cmd_exp,
             sizeof(cmd_exp),
             "{\"id\": \"cmd-exp\", \"command\": \"IMPORT_CAP\", \"value_kw\": 50, \"issued\":"
             " \"%s\", \"expires\": \"%s\", \"duration\": \"PT30M\"}",
             iso_a,
             iso_b);
    clock_format_iso(now + 60000, iso_b, sizeof(iso_b));
    snprintf(cmd_type,
             sizeof(cmd_type),
             "{\"id\": \"cmd-type\", \"command\": \"IMPORT_CAP\", \"value_kw\": \"50\","
             " \"issued\": \"%s\", \"expires\": \"%s\", \"duration\": \"PT30M\"}",
             iso_a,
             iso_b);
    {
        const struct td_bad cases[] = {
            {"dr/event", "this is not JSON", 0, "INVALID_PAYLOAD"},
            {"dr/event", wrongtype, 0, "SCHEMA_VIOLATION"},
            {"dr/event", unknown, 0, "SCHEMA_VIOLATION"},
            {"dr/event", missing, 0, "SCHEMA_VIOLATION"},
            {"dr/event", big, 0, "INVALID_PAYLOAD"},
            {"dr/event", deep, 0, "INVALID_PAYLOAD"},
            {"dr/event", expired, 0, "EXPIRED"},
            {"dr/event", dup, 0, "DUPLICATE"},
            {"dr/event", range, 0, "OUT_OF_RANGE"},
            {"dr/event", cancel, 0, "UNKNOWN_EVENT"},
            {"command", cmd_exp, 0, "EXPIRED"},
            {"command", cmd_type, 0, "SCHEMA_VIOLATION"},
            {"command", "[1, 2", 0, "INVALID_PAYLOAD"},
            {"tariff", "{\"id\": 5}", 0, "SCHEMA_VIOLATION"},
            {"forecast/visitor_flow", "null", 0, "SCHEMA_VIOLATION"},
        };

        cJSON *r = NULL;

        /* the retained command published before flexd connected came with
         * the retain flag on subscribe: rejected, not applied, cleared */
        CHECK(td_wait(0, "ack", "cmd-ret", "rejected", 100, &r) >= 0);
        CHECK(r && strcmp(td_str(r, "code"), "RETAINED_COMMAND") == 0);
        cJSON_Delete(r);
        dispatch_stats(s->d, &before);
        CHECK(before.overrides == 0);
        live_status(s->l, &ls0);
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
            int from = td_count();
            cJSON *o = NULL;
            int i;

            td_publish_s(cases[k].topic, cases[k].payload, cases[k].retained);
            i = td_wait(from, "ack", NULL, "rejected", 5000, &o);
            printf("bad payload %zu on %s: %s (%.60s)\n",
                   k,
                   cases[k].topic,
                   o ? td_str(o, "code") : "no ack",
                   o ? td_str(o, "message") : "");
            CHECK(i >= 0 && o && strcmp(td_str(o, "code"), cases[k].code) == 0);
            cJSON_Delete(o);
        }
        clock_sleep_ms(td_clock, 500);
        dispatch_stats(s->d, &after);
        live_status(s->l, &ls1);
        /* nothing changed: no DR set, no override, no prices, no event */
        CHECK(after.dr_sets == before.dr_sets);
        CHECK(after.dr_pieces == before.dr_pieces);
        CHECK(after.overrides == before.overrides);
        CHECK(after.price_sets == before.price_sets);
        CHECK(after.events == 0);
        CHECK_NEAR(ls1.import_max_kw, ls0.import_max_kw, 1e-9);
        CHECK(after.rejected - before.rejected == (int64_t)(sizeof(cases) / sizeof(cases[0])));
    }
    free(good);
    free(expired);
    free(dup);
    free(big);
    free(deep);
    free(wrongtype);
    free(unknown);
    free(missing);
    free(range);
    free(cancel);
}

/* The broker dies mid-event and comes back: every report arrives (some
 * maybe twice, QoS 1) and the event is applied once. */
static void test_broker_kill(struct td_site *s, struct mqtt_broker *b)
{
    int64_t start = (clock_now_ms(td_clock) / 1000 + 1) * 1000;
    char *ev = td_event("evt-kill", 0, start, 14, 130.0);
    int from = td_count();
    struct dispatch_stats st0, st1;
    int accepted = 0, completed = 0, max_steps = 0, seen[64] = {0}, missing = 0;
    cJSON *fin = NULL;

    dispatch_stats(s->d, &st0);
    td_publish_s("dr/event", ev, 0);
    CHECK(td_wait(from, "ack", "evt-kill", "accepted", 5000, NULL) >= 0);
    CHECK(td_wait(from, "dr/performance", "evt-kill", NULL, 6000, NULL) >= 0);
    CHECK(mqtt_broker_save(b) == 0);
    mqtt_broker_kill(b);
    printf("broker killed mid-event\n");
    clock_sleep_ms(td_clock, 5000);
    CHECK(mqtt_broker_launch(b) == 0);
    printf("broker restarted\n");
    CHECK(td_wait(from, "ack", "evt-kill", "completed", 20000, NULL) >= 0);
    clock_sleep_ms(td_clock, 1500);
    dispatch_stats(s->d, &st1);
    for (int k = from; k < td_count(); k++) {
        cJSON *o;

        if (!strstr(td_cl.msg[k].payload, "evt-kill")) {
            continue;
        }
        o = cJSON_Parse(td_cl.msg[k].payload);
        if (strcmp(td_cl.msg[k].topic, "ack") == 0) {
            accepted += strcmp(td_str(o, "status"), "accepted") == 0;
            completed += strcmp(td_str(o, "status"), "completed") == 0;
        } else if (strcmp(td_cl.msg[k].topic, "dr/performance") == 0) {
            int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "intervals"));

            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "final"))) {
                cJSON_Delete(fin);
                fin = o;
                o = NULL;
            } else if (n < 64) {
                seen[n] = 1;
            }
            max_steps = n > max_steps ? n : max_steps;
        }
        cJSON_Delete(o);
    }
    /* every progress report k = 1 .. steps arrived: none lost in the outage */
    for (int k = 1; k < max_steps; k++) {
        missing += !seen[k];
    }
    printf("after the outage: %d accepted ack(s), %d completed, %d steps, %d reports missing,"
           " dr_sets %lld -> %lld, perf reports %lld\n",
           accepted,
           completed,
           max_steps,
           missing,
           (long long)st0.dr_sets,
           (long long)st1.dr_sets,
           (long long)(st1.perf_reports - st0.perf_reports));
    CHECK(fin != NULL);
    CHECK(missing == 0);
    CHECK(max_steps >= 5);
    CHECK(accepted >= 1 && completed >= 1);
    /* applied once: one accept in flexd's counters; the event's pieces
     * set once and removed once (plus the set of the next tick at most) */
    CHECK(st1.rejected == st0.rejected);
    CHECK(st1.dr_sets - st0.dr_sets <= 3);
    CHECK(st1.events == 0);
    cJSON_Delete(fin);
    free(ev);
}

/* Child mode: the whole engine on DIR's history and outbox, until killed. */
static int td_child(const char *dir, const char *port)
{
    struct mqtt_broker b;
    struct td_site s;
    struct live_status ls;

    memset(&b, 0, sizeof(b));
    b.port = (int)strtol(port, NULL, 10);
    snprintf(td_site_dir, sizeof(td_site_dir), "%s", dir);
    td_start(&s, &b, TD_PERF_STEP_MS);
    for (int i = 0; i < 300; i++) {
        clock_sleep_ms(td_clock, 100);
        live_status(s.l, &ls);
        if (ls.on_plan && ls.meter_ok) {
            break;
        }
    }
    printf("child %d: engine up (plan %d, meter %d)\n", (int)getpid(), ls.on_plan, ls.meter_ok);
    fflush(stdout);
    for (;;) { /* the parent kills it */
        clock_sleep_ms(td_clock, 1000);
    }
    return 0;
}

static pid_t td_spawn(const char *dir, int port)
{
    char p[16];
    char *argv[5];
    pid_t pid;

    snprintf(p, sizeof(p), "%d", port);
    argv[0] = "test_dispatch";
    argv[1] = "--child";
    argv[2] = (char *)dir;
    argv[3] = p;
    argv[4] = NULL;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    CHECK(pid > 0);
    return pid;
}

static void td_kill(pid_t pid)
{
    int status = 0;

    kill(pid, SIGKILL);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* Steps in a non-final dr/performance report of id in [from, to). */
static int td_max_steps(int from, int to, const char *id)
{
    int max = 0;

    for (int k = from; k < to; k++) {
        cJSON *o;

        if (strcmp(td_cl.msg[k].topic, "dr/performance") != 0 ||
            !strstr(td_cl.msg[k].payload, id)) {
            continue;
        }
        o = cJSON_Parse(td_cl.msg[k].payload);
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "final"))) {
            int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "intervals"));

            max = n > max ? n : max;
        }
        cJSON_Delete(o);
    }
    return max;
}

/* flexd killed with SIGKILL mid-event and started again on the same
 * history and outbox: the event resumes from the history without a new
 * accepted ack, reports go on and it completes. */
static void test_restart(int port)
{
    char dir[600];
    int from = td_count(), killed_at, accepted = 0, completed = 0, before, after;
    int64_t start;
    char *ev;
    cJSON *fin = NULL;
    pid_t pid;

    snprintf(dir, sizeof(dir), "%s/restart", td_dir);
    CHECK(mkdir(dir, 0700) == 0);
    pid = td_spawn(dir, port);
    CHECK(td_probe(60));
    start = (clock_now_ms(td_clock) / 1000 + 1) * 1000;
    ev = td_event("evt-restart", 0, start, 20, 400.0);
    td_publish_s("dr/event", ev, 0);
    CHECK(td_wait(from, "ack", "evt-restart", "accepted", 5000, NULL) >= 0);
    /* two performance steps (2 s each) before the kill */
    for (int64_t end = clock_mono_ms(td_clock) + 10000;
         clock_mono_ms(td_clock) < end && td_max_steps(from, td_count(), "evt-restart") < 2;) {
        clock_sleep_ms(td_clock, 50);
    }
    td_kill(pid);
    killed_at = td_count();
    before = td_max_steps(from, killed_at, "evt-restart");
    printf("flexd killed mid-event after %d performance step(s)\n", before);
    CHECK(before >= 2);
    pid = td_spawn(dir, port);
    CHECK(td_wait(from, "ack", "evt-restart", "completed", 60000, NULL) >= 0);
    CHECK(td_wait(from, "dr/performance", "evt-restart", NULL, 1, NULL) >= 0);
    clock_sleep_ms(td_clock, 1500);
    td_kill(pid);
    after = td_max_steps(killed_at, td_count(), "evt-restart");
    for (int k = from; k < td_count(); k++) {
        cJSON *o;

        if (!strstr(td_cl.msg[k].payload, "evt-restart")) {
            continue;
        }
        o = cJSON_Parse(td_cl.msg[k].payload);
        if (strcmp(td_cl.msg[k].topic, "ack") == 0) {
            accepted += strcmp(td_str(o, "status"), "accepted") == 0;
            completed += strcmp(td_str(o, "status"), "completed") == 0;
        } else if (strcmp(td_cl.msg[k].topic, "dr/performance") == 0 &&
                   cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "final"))) {
            cJSON_Delete(fin);
            fin = o;
            o = NULL;
        }
        cJSON_Delete(o);
    }
    printf("after the restart: %d accepted ack(s), %d completed, steps %d before the kill and"
           " up to %d after, final report %s\n",
           accepted,
           completed,
           before,
           after,
           fin ? "yes" : "no");
    CHECK(accepted == 1);
    CHECK(completed >= 1);
    CHECK(fin != NULL);
    CHECK(after > before);
    if (fin) {
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(fin, "intervals")) > before);
    }
    cJSON_Delete(fin);
    free(ev);
}

/* The last status flexd published at index >= from (waits up to ms for
 * one): its "state", or "" when there is none. */
static void td_status(int from, int ms, char *state, size_t size)
{
    cJSON *o = NULL;
    int i = td_wait(from, "status", NULL, NULL, ms, NULL);

    state[0] = '\0';
    for (int k = i < 0 ? td_count() : i; k < td_count(); k++) {
        if (strcmp(td_cl.msg[k].topic, "status") == 0) {
            cJSON_Delete(o);
            o = cJSON_Parse(td_cl.msg[k].payload);
            snprintf(state, size, "%s", td_str(o, "state"));
        }
    }
    cJSON_Delete(o);
}

/* The lifecycle over TLS on tb (see the file's comment). */
static void td_tls_lifecycle(const struct mqtt_broker *tb)
{
    struct td_site s;
    struct mqtt_stats ms;
    char online[16], offline[16];
    int refused, fd, from;

    printf("TLS variant: TLS 1.3 broker on port %d, CA %s\n", tb->port, tb->ca);
    /* TLS only on the port under test: a plain CONNECT there gets no
     * CONNACK (the broker's plain listener, a control, answers one) */
    refused = td_raw_connect(tb->port);
    fd = td_raw_connect(tb->plain_port);
    printf("TLS: plain MQTT CONNECT on the TLS port: %s; on the broker's plain port: %s\n",
           refused == -2 ? "no CONNACK (refused)" : "answered",
           fd >= 0 ? "CONNACK" : "refused");
    CHECK(refused == -2);
    CHECK(fd >= 0);
    if (fd >= 0) {
        close(fd);
    }
    snprintf(td_site_dir, sizeof(td_site_dir), "%s/tls", td_dir);
    CHECK(mkdir(td_site_dir, 0700) == 0);
    td_client_start(&td_cl, tb->port, tb);
    td_start(&s, tb, TD_TLS_PERF_STEP_MS);
    td_settle(&s);
    td_status(0, 3000, online, sizeof(online));
    mqtt_stats(s.m, &ms);
    printf("TLS: flexd connected %d (connects %lld, failures %lld), status \"%s\"\n",
           ms.connected,
           (long long)ms.connects,
           (long long)ms.connect_failures,
           online);
    CHECK(ms.connected == 1 && ms.connects >= 1);
    CHECK(strcmp(online, "online") == 0);
    test_lifecycle(&s, TD_TLS_LOAD_MS, TD_TLS_EVENT_S);
    from = td_count();
    td_stop(&s); /* publishes "offline" and waits for its PUBACK */
    td_status(from, 3000, offline, sizeof(offline));
    printf("TLS: lifecycle done; status after stop \"%s\"\n", offline);
    CHECK(strcmp(offline, "offline") == 0);
    td_client_stop(&td_cl);
}

static void test_tls(void)
{
    struct mqtt_broker tb;

    if (mqtt_broker_start(&tb, MQTT_BROKER_TLS13, 0) != 0) {
        CHECK(!"TLS broker starts");
    } else {
        td_tls_lifecycle(&tb);
    }
    mqtt_broker_stop(&tb);
}

int main(int argc, char **argv)
{
    struct mqtt_broker b;
    struct td_site s;

    /* paho and OpenSSL write to sockets the broker may have closed (io/mqtt.h) */
    signal(SIGPIPE, SIG_IGN);
    if (argc == 4 && strcmp(argv[1], "--child") == 0) {
        snprintf(td_maps, sizeof(td_maps), "%s/config/devices", FLEXD_SOURCE_DIR);
        td_clock = clock_new_real();
        logger_set_level(LOGGER_INFO);
        return td_child(argv[2], argv[3]);
    }

    if (!mkdtemp(td_dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(td_maps, sizeof(td_maps), "%s/config/devices", FLEXD_SOURCE_DIR);
    snprintf(td_site_dir, sizeof(td_site_dir), "%s", td_dir);
    td_clock = clock_new_real();
    logger_set_level(LOGGER_INFO);
    if (mqtt_broker_start(&b, MQTT_BROKER_PLAIN, 1) != 0) {
        fprintf(stderr, "cannot start mosquitto\n");
        return 1;
    }
    td_port = b.port;
    td_client_start(&td_cl, b.port, NULL);
    {
        /* a retained command waiting at the broker before flexd starts:
         * MQTT sets the retain flag only on delivery to a new subscription */
        char cmd[400], a[40], e[40];

        clock_format_iso(clock_now_ms(td_clock) - 1000, a, sizeof(a));
        clock_format_iso(clock_now_ms(td_clock) + 120000, e, sizeof(e));
        snprintf(cmd,
                 sizeof(cmd),
                 "{\"id\": \"cmd-ret\", \"command\": \"IMPORT_CAP\", \"value_kw\": 50,"
                 " \"issued\": \"%s\", \"expires\": \"%s\", \"duration\": \"PT30M\"}",
                 a,
                 e);
        td_publish_s("command", cmd, 1);
        clock_sleep_ms(td_clock, 200);
    }
    td_start(&s, &b, TD_PERF_STEP_MS);
    td_settle(&s);
    test_lifecycle(&s, TD_LOAD_MS, TD_EVENT_S);
    test_bad_payloads(&s);
    test_tariff(&s);
    test_platforms(&s);
    test_broker_kill(&s, &b);
    td_stop(&s);
    test_restart(b.port);
    td_client_stop(&td_cl);
    mqtt_broker_stop(&b);
    test_tls();
    clock_free(td_clock);
    {
        char cmd[512];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", td_dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", td_dir);
        }
    }
    return CHECK_DONE();
}
