/* SPDX-License-Identifier: MIT */
/*
 * test_mqtt.c - io/mqtt.c against a real mosquitto on loopback
 * (tests/mqtt_broker.h), watched by a plain paho client of the test's own
 * (the "observer"):
 *   - options: bad options and filters are refused with a clear message;
 *   - plain: status "online" retained; inbound messages on subscribed
 *     topics only, with relative names and the retained flag;
 *     mqtt_clear_retained() clears; inbound ids; 1000 messages arrive all
 *     and in order; a clean stop leaves "offline" (with ts: not the will);
 *   - TLS: TLS 1.3 broker with client certificate accepted; without a
 *     client certificate refused; a TLS 1.2-only broker refused although
 *     a default paho client connects to it (so the refusal is ours);
 *   - will: a client process killed with SIGKILL leaves "offline";
 *   - broker SIGKILLed mid-stream and restarted on the same port: every
 *     message arrives, no gap in the order, duplicates counted;
 *   - client process SIGKILLed mid-stream: the next start replays its
 *     outbox file, every message arrives, no gap.
 * The test binary re-executes itself (--child) for the client processes,
 * so the child starts paho from scratch.
 */
#include "check.h"
#include "mqtt_broker.h"

#include "../../common/clock.h"
#include "../../common/logger.h"
#include "../../common/numparse.h"
#include "../../io/mqtt.h"
#include "../../io/outbox.h"

#include <MQTTAsync.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREFIX "flexd/test-station"

static struct clock *clk;

/* Poll cond every 5 ms for at most ms milliseconds. */
#define WAIT_FOR(cond, ms)                                       \
    do {                                                         \
        int64_t wait_deadline_ = clock_mono_ms(clk) + (ms);      \
        while (!(cond) && clock_mono_ms(clk) < wait_deadline_) { \
            clock_sleep_ms(clk, 5);                              \
        }                                                        \
    } while (0)

/* ---- a numbered stream: payloads "1" .. "n" on one topic --------------- */

struct stream {
    pthread_mutex_t mu;
    int n;
    unsigned char *seen;
    int max;
    int64_t distinct, dups, gaps;
};

static void stream_init(struct stream *s, int n)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->n = n;
    s->seen = calloc((size_t)n + 1, 1);
}

static void stream_note(struct stream *s, const char *payload, int len)
{
    char buf[32];
    long v = -1;

    snprintf(buf, sizeof(buf), "%.*s", len, payload);
    numparse_long(buf, 1, s->n, &v);
    pthread_mutex_lock(&s->mu);
    if (v < 1 || v > s->max + 1) {
        s->gaps++; /* out of range, or a jump over a message not yet seen */
    }
    if (v >= 1) {
        if (s->seen[v]) {
            s->dups++;
        } else {
            s->seen[v] = 1;
            s->distinct++;
        }
        s->max = v > s->max ? (int)v : s->max;
    }
    pthread_mutex_unlock(&s->mu);
}

static int64_t stream_distinct(struct stream *s)
{
    int64_t d;

    pthread_mutex_lock(&s->mu);
    d = s->distinct;
    pthread_mutex_unlock(&s->mu);
    return d;
}

/* A consistent copy of the counters. */
static struct stream stream_get(struct stream *s)
{
    struct stream c;

    pthread_mutex_lock(&s->mu);
    c = *s;
    pthread_mutex_unlock(&s->mu);
    return c;
}

/* Print the first few messages that never arrived. */
static void stream_print_missing(struct stream *s, const char *what)
{
    int shown = 0;

    pthread_mutex_lock(&s->mu);
    for (int v = 1; v <= s->n && shown < 20; v++) {
        if (!s->seen[v]) {
            fprintf(stderr, "%s: message %d never arrived\n", what, v);
            shown++;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static void stream_free(struct stream *s)
{
    free(s->seen);
    pthread_mutex_destroy(&s->mu);
}

/* ---- messages kept by the observer and by the client's callback -------- */

#define BOX_MAX 64

struct box {
    pthread_mutex_t mu;
    int n;

    struct {
        char topic[160];
        char payload[256];
        int retained;
    } v[BOX_MAX];
};

static void box_add(struct box *b, const char *topic, const char *payload, size_t len, int retained)
{
    pthread_mutex_lock(&b->mu);
    if (b->n < BOX_MAX) {
        snprintf(b->v[b->n].topic, sizeof(b->v[0].topic), "%s", topic);
        snprintf(b->v[b->n].payload, sizeof(b->v[0].payload), "%.*s", (int)len, payload);
        b->v[b->n].retained = retained;
        b->n++;
    }
    pthread_mutex_unlock(&b->mu);
}

/* Does the last message on topic contain text? */
static int box_last_has(struct box *b, const char *topic, const char *text);

/* Index of the last message on topic, or -1. */
static int box_find(struct box *b, const char *topic)
{
    int at = -1;

    pthread_mutex_lock(&b->mu);
    for (int i = 0; i < b->n; i++) {
        if (strcmp(b->v[i].topic, topic) == 0) {
            at = i;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return at;
}

static int box_last_has(struct box *b, const char *topic, const char *text)
{
    int at = box_find(b, topic);

    return at >= 0 && strstr(b->v[at].payload, text) != NULL;
}

/* Was the last message on topic delivered as retained? */
static int box_last_retained(struct box *b, const char *topic)
{
    int at = box_find(b, topic);
    int r;

    pthread_mutex_lock(&b->mu);
    r = at >= 0 && b->v[at].retained == 1;
    pthread_mutex_unlock(&b->mu);
    return r;
}

/* The "ts" of the last message on topic into ts (empty if none). */
static void box_last_ts(struct box *b, const char *topic, char *ts, size_t n)
{
    int at = box_find(b, topic);
    const char *p = at >= 0 ? strstr(b->v[at].payload, "\"ts\":\"") : NULL;

    snprintf(ts, n, "%.25s", p ? p + 6 : "");
}

static int box_count(struct box *b)
{
    int n;

    pthread_mutex_lock(&b->mu);
    n = b->n;
    pthread_mutex_unlock(&b->mu);
    return n;
}

/* ---- the observer: a plain paho client ---------------------------------- */

struct obs {
    MQTTAsync c;
    pthread_mutex_t mu;
    int state;     /* 0 waiting, 1 done, -1 failed (connect and subscribe) */
    int sub_state; /* same for the subscription */
    struct box box;
    const char *stream_topic;
    struct stream *stream;
};

static void obs_connect_ok(void *ctx, MQTTAsync_successData *d)
{
    struct obs *o = ctx;

    (void)d;
    pthread_mutex_lock(&o->mu);
    o->state = 1;
    pthread_mutex_unlock(&o->mu);
}

static void obs_connect_fail(void *ctx, MQTTAsync_failureData *d)
{
    struct obs *o = ctx;

    (void)d;
    pthread_mutex_lock(&o->mu);
    o->state = -1;
    pthread_mutex_unlock(&o->mu);
}

static void obs_sub_ok(void *ctx, MQTTAsync_successData *d)
{
    struct obs *o = ctx;

    pthread_mutex_lock(&o->mu);
    o->sub_state = d && d->alt.qos == 0x80 ? -1 : 1;
    pthread_mutex_unlock(&o->mu);
}

static void obs_sub_fail(void *ctx, MQTTAsync_failureData *d)
{
    struct obs *o = ctx;

    (void)d;
    pthread_mutex_lock(&o->mu);
    o->sub_state = -1;
    pthread_mutex_unlock(&o->mu);
}

static int obs_arrived(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    struct obs *o = ctx;

    (void)topic_len;
    if (o->stream && strcmp(topic, o->stream_topic) == 0) {
        stream_note(o->stream, msg->payload, msg->payloadlen);
    } else {
        box_add(&o->box, topic, msg->payload, (size_t)msg->payloadlen, msg->retained);
    }
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static int obs_get(struct obs *o, const int *field)
{
    int v;

    pthread_mutex_lock(&o->mu);
    v = *field;
    pthread_mutex_unlock(&o->mu);
    return v;
}

/* Connect to 127.0.0.1:port (TLS with tls's certificates when not NULL);
 * messages on stream_topic go to stream (both may be NULL). 0 once
 * connected. */
static int obs_open_stream(struct obs *o,
                           int port,
                           const char *client_id,
                           int cleansession,
                           const struct mqtt_broker *tls,
                           const char *stream_topic,
                           struct stream *stream)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    char uri[64];

    memset(o, 0, sizeof(*o));
    pthread_mutex_init(&o->mu, NULL);
    pthread_mutex_init(&o->box.mu, NULL);
    o->stream_topic = stream_topic;
    o->stream = stream; /* before connecting: a resumed session delivers at once */
    snprintf(uri, sizeof(uri), "%s://127.0.0.1:%d", tls ? "ssl" : "tcp", port);
    if (MQTTAsync_create(&o->c, uri, client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL) != 0 ||
        MQTTAsync_setCallbacks(o->c, o, NULL, obs_arrived, NULL) != 0) {
        return -1;
    }
    co.keepAliveInterval = 60;
    co.cleansession = cleansession;
    co.MQTTVersion = MQTTVERSION_3_1_1;
    co.onSuccess = obs_connect_ok;
    co.onFailure = obs_connect_fail;
    co.context = o;
    if (tls) {
        ssl.trustStore = tls->ca;
        ssl.keyStore = tls->client_cert;
        ssl.privateKey = tls->client_key;
        ssl.verify = 1;
        co.ssl = &ssl;
    }
    if (MQTTAsync_connect(o->c, &co) != 0) {
        return -1;
    }
    WAIT_FOR(obs_get(o, &o->state) != 0, 5000);
    return obs_get(o, &o->state) == 1 ? 0 : -1;
}

static int obs_open(struct obs *o,
                    int port,
                    const char *client_id,
                    int cleansession,
                    const struct mqtt_broker *tls)
{
    return obs_open_stream(o, port, client_id, cleansession, tls, NULL, NULL);
}

static int obs_subscribe(struct obs *o, const char *filter, int qos)
{
    MQTTAsync_responseOptions r = MQTTAsync_responseOptions_initializer;

    r.onSuccess = obs_sub_ok;
    r.onFailure = obs_sub_fail;
    r.context = o;
    pthread_mutex_lock(&o->mu);
    o->sub_state = 0;
    pthread_mutex_unlock(&o->mu);
    if (MQTTAsync_subscribe(o->c, filter, qos, &r) != 0) {
        return -1;
    }
    WAIT_FOR(obs_get(o, &o->sub_state) != 0, 5000);
    return obs_get(o, &o->sub_state) == 1 ? 0 : -1;
}

static int obs_publish(struct obs *o, const char *topic, const char *payload, int retained)
{
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions r = MQTTAsync_responseOptions_initializer;

    msg.payload = (void *)payload;
    msg.payloadlen = (int)strlen(payload);
    msg.qos = 1;
    msg.retained = retained;
    if (MQTTAsync_sendMessage(o->c, topic, &msg, &r) != 0) {
        return -1;
    }
    return MQTTAsync_waitForCompletion(o->c, r.token, 5000) == MQTTASYNC_SUCCESS ? 0 : -1;
}

static void obs_close(struct obs *o)
{
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;

    if (!o->c) {
        return;
    }
    if (MQTTAsync_isConnected(o->c) && MQTTAsync_disconnect(o->c, &d) == 0) {
        WAIT_FOR(!MQTTAsync_isConnected(o->c), 2000);
    }
    MQTTAsync_destroy(&o->c);
    pthread_mutex_destroy(&o->box.mu);
    pthread_mutex_destroy(&o->mu);
}

/* ---- the client under test ---------------------------------------------- */

static void on_message(void *user, const char *topic, const char *payload, size_t len, int retained)
{
    box_add(user, topic, payload, len, retained);
}

static void client_options(struct mqtt_options *o, int port, const char *dir, const char *name)
{
    static char outbox[2][MQTT_BROKER_PATH_MAX + 32];
    static int which;
    char *path = outbox[which++ % 2];

    snprintf(path, MQTT_BROKER_PATH_MAX + 32, "%s/%s.db", dir, name);
    mqtt_options_default(o);
    o->port = port;
    o->client_id = "flexd-test-station";
    o->prefix = PREFIX;
    o->outbox_path = path;
    o->backoff_min_ms = 100;
    o->backoff_max_ms = 1000;
}

static struct mqtt_stats stats_of(struct mqtt *m)
{
    struct mqtt_stats s;

    mqtt_stats(m, &s);
    return s;
}

/* Publish "1" .. "n" on topic "stream" (never-drop class); 0 when all went in. */
static int publish_stream(struct mqtt *m, int from, int to)
{
    char payload[16];
    struct error_detail ed;

    for (int i = from; i <= to; i++) {
        snprintf(payload, sizeof(payload), "%d", i);
        if (mqtt_publish(m, "stream", payload, strlen(payload), 0, OUTBOX_DAILY, NULL, &ed)) {
            fprintf(stderr, "publish %d: %s\n", i, ed.text);
            return -1;
        }
    }
    return 0;
}

static void test_options(void)
{
    struct mqtt_options o;
    struct mqtt *m = NULL;
    struct error_detail ed;
    const char *bad_filter[] = {"a/#/b", NULL};

    client_options(&o, 1883, "/tmp", "unused");
    o.port = 0;
    CHECK(mqtt_start(&o, NULL, NULL, NULL, &m, &ed) == ERROR_INVALID && !m);
    CHECK_STR_CONTAINS(ed.text, "port: 0");
    client_options(&o, 1883, "/tmp", "unused");
    o.prefix = "flexd/#";
    CHECK(mqtt_start(&o, NULL, NULL, NULL, &m, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "prefix");
    client_options(&o, 1883, "/tmp", "unused");
    o.outbox_path = NULL;
    CHECK(mqtt_start(&o, NULL, NULL, NULL, &m, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "outbox_path");
    client_options(&o, 1883, "/tmp", "unused");
    o.tls = 1;
    o.cert_file = "/etc/hostname";
    CHECK(mqtt_start(&o, NULL, NULL, NULL, &m, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "cert_file and key_file");
    client_options(&o, 1883, "/tmp", "unused");
    o.tls = 1;
    o.ca_file = "/nonexistent/ca.crt";
    CHECK(mqtt_start(&o, NULL, NULL, NULL, &m, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "ca_file: /nonexistent/ca.crt");
    client_options(&o, 1883, "/tmp", "unused");
    CHECK(mqtt_start(&o, bad_filter, on_message, NULL, &m, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "a/#/b");
}

/* Plain broker: status, inbound, retained clear, inbound ids, 1000 in
 * order, clean stop. One observer does it all (every new paho client
 * costs up to a second of paho's select cycle). */
static void test_plain(void)
{
    const char *subs[] = {"dr/#", "cmd/+/set", NULL};
    struct mqtt_broker b;
    struct mqtt_options o;
    struct mqtt *m = NULL;
    struct error_detail ed;
    struct obs ob;
    struct box inbox;
    struct stream s, got;
    char online_ts[32], offline_ts[32];
    int at;
    int64_t t0, t_online;
    double secs;

    memset(&inbox, 0, sizeof(inbox));
    pthread_mutex_init(&inbox.mu, NULL);
    stream_init(&s, 1000);
    if (mqtt_broker_start(&b, MQTT_BROKER_PLAIN, 0) != 0) {
        CHECK(!"plain broker starts");
        return;
    }
    CHECK(obs_open_stream(&ob, b.port, "obs-plain", 1, NULL, PREFIX "/stream", &s) == 0);
    /* a retained command waiting before the client connects */
    CHECK(obs_publish(&ob, PREFIX "/cmd/r/set", "old", 1) == 0);

    client_options(&o, b.port, b.dir, "plain");
    CHECK(mqtt_start(&o, subs, on_message, &inbox, &m, &ed) == ERROR_OK);
    WAIT_FOR(stats_of(m).connected, 5000);
    CHECK(stats_of(m).connected == 1 && stats_of(m).connects == 1);

    /* status: online, retained, with ts. "online" follows the SUBACK, so
     * the first copy may arrive live (retain flag 0); subscribing again
     * makes the broker resend what it retained. */
    CHECK(obs_subscribe(&ob, PREFIX "/status", 1) == 0);
    WAIT_FOR(box_find(&ob.box, PREFIX "/status") >= 0, 3000);
    t_online = clock_mono_ms(clk);
    CHECK(obs_subscribe(&ob, PREFIX "/status", 1) == 0);
    WAIT_FOR(box_last_retained(&ob.box, PREFIX "/status"), 3000);
    at = box_find(&ob.box, PREFIX "/status");
    CHECK(at >= 0 && ob.box.v[at].retained == 1);
    CHECK_STR_CONTAINS(at >= 0 ? ob.box.v[at].payload : "", "\"state\":\"online\",\"ts\":\"20");
    CHECK_STR_CONTAINS(at >= 0 ? ob.box.v[at].payload : "", "\"version\":\"" FLEXD_VERSION "\"");
    box_last_ts(&ob.box, PREFIX "/status", online_ts, sizeof(online_ts));

    /* inbound: the retained command, then subscribed topics only, relative names */
    WAIT_FOR(box_find(&inbox, "cmd/r/set") >= 0, 3000);
    at = box_find(&inbox, "cmd/r/set");
    CHECK(at >= 0 && inbox.v[at].retained == 1 && strcmp(inbox.v[at].payload, "old") == 0);
    CHECK(obs_publish(&ob, PREFIX "/other", "no", 0) == 0);
    CHECK(obs_publish(&ob, PREFIX "/dr/event", "{\"id\":\"e1\"}", 0) == 0);
    CHECK(obs_publish(&ob, PREFIX "/cmd/ev1/set", "s1", 0) == 0);
    WAIT_FOR(box_find(&inbox, "cmd/ev1/set") >= 0, 3000);
    at = box_find(&inbox, "dr/event");
    CHECK(at >= 0 && inbox.v[at].retained == 0 &&
          strcmp(inbox.v[at].payload, "{\"id\":\"e1\"}") == 0);
    CHECK(box_find(&inbox, "cmd/ev1/set") >= 0);
    CHECK(box_find(&inbox, "other") < 0 && box_find(&inbox, PREFIX "/other") < 0);

    /* clearing the retained command: a new subscription gets nothing */
    CHECK(mqtt_clear_retained(m, "cmd/r/set") == ERROR_OK);
    WAIT_FOR(stats_of(m).queued == 0, 3000);
    CHECK(stats_of(m).queued == 0);
    CHECK(obs_subscribe(&ob, PREFIX "/cmd/+/set", 1) == 0);
    clock_sleep_ms(clk, 300);
    CHECK(box_find(&ob.box, PREFIX "/cmd/r/set") < 0);

    /* refused input, inbound ids */
    CHECK(mqtt_publish(m, "a/+", "x", 1, 0, OUTBOX_ACK, NULL, &ed) == ERROR_INVALID);
    CHECK(mqtt_publish(m, "", "x", 1, 0, OUTBOX_ACK, NULL, &ed) == ERROR_INVALID);
    CHECK(mqtt_publish(m, "ack", "x", 1, 0, 9, NULL, &ed) == ERROR_INVALID);
    CHECK(mqtt_publish(m, "ack", "{}", 2, 0, OUTBOX_ACK, "cmd-1", &ed) == ERROR_OK);
    CHECK(mqtt_inbound_seen(m, "cmd-1") == 1);
    CHECK(mqtt_inbound_seen(m, "cmd-2") == 0);

    /* 1000 messages, all and in order */
    CHECK(obs_subscribe(&ob, PREFIX "/stream", 1) == 0);
    t0 = clock_mono_us(clk);
    CHECK(publish_stream(m, 1, 1000) == 0);
    WAIT_FOR(stream_distinct(&s) == 1000, 15000);
    secs = (double)(clock_mono_us(clk) - t0) / 1e6;
    got = stream_get(&s);
    CHECK(got.distinct == 1000 && got.gaps == 0 && got.dups == 0);
    printf("plain: 1000 messages in %.2f s (%.0f msg/s), %lld duplicates, %lld gaps\n",
           secs,
           1000 / secs,
           (long long)got.dups,
           (long long)got.gaps);
    WAIT_FOR(stats_of(m).queued == 0, 3000);
    CHECK(stats_of(m).acked >= 1000 && stats_of(m).queued == 0);

    /* clean stop: "offline" stamped now, not the will (stamped at connect) */
    WAIT_FOR(clock_mono_ms(clk) - t_online >= 1100, 2000);
    mqtt_stop(m);
    WAIT_FOR(box_last_has(&ob.box, PREFIX "/status", "offline"), 3000);
    CHECK(box_last_has(&ob.box, PREFIX "/status", "\"state\":\"offline\",\"ts\":"));
    box_last_ts(&ob.box, PREFIX "/status", offline_ts, sizeof(offline_ts));
    CHECK(online_ts[0] && strcmp(offline_ts, online_ts) > 0);
    obs_close(&ob);
    stream_free(&s);
    pthread_mutex_destroy(&inbox.mu);
    mqtt_broker_stop(&b);
}

/* TLS 1.3 accepted (client certificate), no certificate refused, TLS 1.2-only refused. */
static void test_tls(void)
{
    struct mqtt_broker b13, b12;
    struct mqtt_options o;
    struct mqtt *m = NULL;
    struct error_detail ed;
    struct obs ob;
    struct mqtt_stats s;

    if (mqtt_broker_start(&b13, MQTT_BROKER_TLS13, 0) != 0 ||
        mqtt_broker_start(&b12, MQTT_BROKER_TLS12_ONLY, 0) != 0) {
        CHECK(!"TLS brokers start");
        return;
    }
    /* TLS 1.3 with a client certificate */
    CHECK(obs_open(&ob, b13.plain_port, "obs-tls", 1, NULL) == 0);
    CHECK(obs_subscribe(&ob, PREFIX "/tls", 1) == 0);
    client_options(&o, b13.port, b13.dir, "tls13");
    o.tls = 1;
    o.ca_file = b13.ca;
    o.cert_file = b13.client_cert;
    o.key_file = b13.client_key;
    CHECK(mqtt_start(&o, NULL, NULL, NULL, &m, &ed) == ERROR_OK);
    WAIT_FOR(stats_of(m).connected, 5000);
    CHECK(stats_of(m).connected == 1);
    CHECK(mqtt_publish(m, "tls", "over TLS 1.3", 12, 0, OUTBOX_ACK, NULL, &ed) == ERROR_OK);
    WAIT_FOR(box_find(&ob.box, PREFIX "/tls") >= 0, 3000);
    CHECK(box_find(&ob.box, PREFIX "/tls") >= 0);
    mqtt_stop(m);
    obs_close(&ob);

    /* no client certificate: the broker requires one */
    client_options(&o, b13.port, b13.dir, "tls13-nocert");
    o.tls = 1;
    o.ca_file = b13.ca;
    CHECK(mqtt_start(&o, NULL, NULL, NULL, &m, &ed) == ERROR_OK);
    WAIT_FOR(stats_of(m).connect_failures >= 2, 5000);
    s = stats_of(m);
    CHECK(s.connected == 0 && s.connects == 0 && s.connect_failures >= 2);
    mqtt_stop(m);

    /* TLS 1.2-only broker: a default paho client gets in, ours does not */
    CHECK(obs_open(&ob, b12.port, "obs-tls12", 1, &b12) == 0);
    obs_close(&ob);
    client_options(&o, b12.port, b12.dir, "tls12");
    o.tls = 1;
    o.ca_file = b12.ca;
    o.cert_file = b12.client_cert;
    o.key_file = b12.client_key;
    CHECK(mqtt_start(&o, NULL, NULL, NULL, &m, &ed) == ERROR_OK);
    WAIT_FOR(stats_of(m).connect_failures >= 2, 5000);
    s = stats_of(m);
    CHECK(s.connected == 0 && s.connects == 0 && s.connect_failures >= 2);
    printf("tls: TLS 1.3 broker accepted; TLS 1.2-only broker refused after %lld attempts\n",
           (long long)s.connect_failures);
    mqtt_stop(m);
    mqtt_broker_stop(&b13);
    mqtt_broker_stop(&b12);
}

/* ---- client processes --------------------------------------------------- */

/* Start this binary as a client process; its stdout comes back on *fd. */
static pid_t spawn_child(const char *mode, int port, const char *outbox, int count, int *fd)
{
    char port_s[16], count_s[16];
    int p[2];
    pid_t pid;

    snprintf(port_s, sizeof(port_s), "%d", port);
    snprintf(count_s, sizeof(count_s), "%d", count);
    if (pipe(p) != 0) {
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl("/proc/self/exe",
              "test_mqtt",
              "--child",
              mode,
              port_s,
              outbox,
              count_s,
              (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    *fd = p[0];
    return pid;
}

/* Wait (timeout_ms at most) for the child to write word. */
static int child_said(int fd, const char *word, int timeout_ms)
{
    char buf[64];
    size_t n = 0;
    int64_t deadline = clock_mono_ms(clk) + timeout_ms;

    while (n + 1 < sizeof(buf) && clock_mono_ms(clk) < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t r;

        if (poll(&p, 1, 50) <= 0) {
            continue;
        }
        r = read(fd, buf + n, sizeof(buf) - 1 - n);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, word)) {
            return 1;
        }
    }
    return 0;
}

static void kill_child(pid_t pid, int fd)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fd);
}

/* The client process: "will" connects and says "ready"; "stream" publishes
 * 1..count and says "done". Then both wait to be killed. */
static int child_main(int argc, char **argv)
{
    struct mqtt_options o;
    struct mqtt *m = NULL;
    struct error_detail ed;
    long port = 0, count = 0;

    if (argc != 6 || numparse_long(argv[3], 1, 65535, &port) ||
        numparse_long(argv[5], 0, 1000000, &count)) {
        return 2;
    }
    client_options(&o, (int)port, "/", "unused");
    o.outbox_path = argv[4];
    if (mqtt_start(&o, NULL, NULL, NULL, &m, &ed) != ERROR_OK) {
        fprintf(stderr, "child: %s\n", ed.text);
        return 1;
    }
    if (strcmp(argv[2], "will") == 0) {
        WAIT_FOR(stats_of(m).connected, 5000);
        printf("ready\n");
    } else {
        publish_stream(m, 1, (int)count);
        printf("done\n");
    }
    fflush(stdout);
    for (;;) {
        clock_sleep_ms(clk, 1000);
    }
}

/* A client killed with SIGKILL: the broker publishes the will, "offline". */
static void test_will(void)
{
    struct mqtt_broker b;
    struct obs ob;
    char outbox[MQTT_BROKER_PATH_MAX + 16];
    int fd = -1;
    int at;
    pid_t pid;

    if (mqtt_broker_start(&b, MQTT_BROKER_PLAIN, 0) != 0) {
        CHECK(!"broker starts");
        return;
    }
    snprintf(outbox, sizeof(outbox), "%s/will.db", b.dir);
    pid = spawn_child("will", b.port, outbox, 0, &fd);
    CHECK(pid > 0 && child_said(fd, "ready", 8000));
    CHECK(obs_open(&ob, b.port, "obs-will", 1, NULL) == 0);
    CHECK(obs_subscribe(&ob, PREFIX "/status", 1) == 0);
    WAIT_FOR(box_find(&ob.box, PREFIX "/status") >= 0, 3000);
    at = box_find(&ob.box, PREFIX "/status");
    CHECK(at >= 0 && ob.box.v[at].retained && strstr(ob.box.v[at].payload, "online"));
    kill_child(pid, fd);
    WAIT_FOR(box_count(&ob.box) >= 2, 5000);
    at = box_find(&ob.box, PREFIX "/status");
    CHECK(at >= 1 && strstr(ob.box.v[at].payload, "\"state\":\"offline\""));
    obs_close(&ob);
    /* and it is retained for whoever looks later */
    CHECK(obs_open(&ob, b.port, "obs-will-2", 1, NULL) == 0);
    CHECK(obs_subscribe(&ob, PREFIX "/status", 1) == 0);
    WAIT_FOR(box_find(&ob.box, PREFIX "/status") >= 0, 3000);
    at = box_find(&ob.box, PREFIX "/status");
    CHECK(at >= 0 && ob.box.v[at].retained &&
          strstr(ob.box.v[at].payload, "\"state\":\"offline\""));
    obs_close(&ob);
    mqtt_broker_stop(&b);
}

/* An observer of the stream with a persistent QoS 0 session: QoS 0 makes
 * it send nothing back, so a SIGKILLed broker closes its socket with FIN
 * after the data already written (unread PUBACKs would make that RST and
 * discard it), and queue_qos0_messages keeps what arrives while it is away. */
static int stream_observer(struct obs *ob, const struct mqtt_broker *b, struct stream *s)
{
    if (obs_open_stream(ob, b->port, "obs-stream-persistent", 0, NULL, PREFIX "/stream", s) != 0) {
        return -1;
    }
    return obs_subscribe(ob, PREFIX "/stream", 0);
}

/* The broker is SIGKILLed mid-stream and restarted on the same port. */
static void test_broker_kill(void)
{
    const int n = 2000;
    struct mqtt_broker b;
    struct mqtt_options o;
    struct mqtt *m = NULL;
    struct error_detail ed;
    struct obs ob;
    struct stream s, got;
    int64_t at_kill;

    stream_init(&s, n);
    if (mqtt_broker_start(&b, MQTT_BROKER_PLAIN, 1) != 0) {
        CHECK(!"broker starts");
        return;
    }
    client_options(&o, b.port, b.dir, "kill");
    CHECK(mqtt_start(&o, NULL, NULL, NULL, &m, &ed) == ERROR_OK);
    WAIT_FOR(stats_of(m).connected, 5000);
    CHECK(stream_observer(&ob, &b, &s) == 0);
    CHECK(mqtt_broker_save(&b) == 0); /* the sessions survive the kill */
    CHECK(publish_stream(m, 1, n / 2) == 0);
    WAIT_FOR(stream_distinct(&s) >= n / 6, 10000);
    mqtt_broker_kill(&b);
    at_kill = stream_distinct(&s);
    CHECK(publish_stream(m, n / 2 + 1, n) == 0); /* into the outbox while the broker is away */
    WAIT_FOR(!stats_of(m).connected, 3000);
    CHECK(mqtt_broker_launch(&b) == 0);
    obs_close(&ob);
    CHECK(stream_observer(&ob, &b, &s) == 0);
    WAIT_FOR(stream_distinct(&s) == n, 20000);
    got = stream_get(&s);
    CHECK(got.distinct == n && got.gaps == 0);
    stream_print_missing(&s, "broker kill");
    CHECK(stats_of(m).connects >= 2);
    printf("broker kill: killed after %lld of %d had arrived; %lld arrived, %lld duplicates,"
           " %lld gaps, %lld connects\n",
           (long long)at_kill,
           n,
           (long long)got.distinct,
           (long long)got.dups,
           (long long)got.gaps,
           (long long)stats_of(m).connects);
    WAIT_FOR(stats_of(m).queued == 0, 5000);
    CHECK(stats_of(m).queued == 0);
    mqtt_stop(m);
    obs_close(&ob);
    stream_free(&s);
    mqtt_broker_stop(&b);
}

/* The client process is SIGKILLed mid-stream; the next start replays its outbox. */
static void test_client_restart(void)
{
    const int n = 2000;
    struct mqtt_broker b;
    struct mqtt_options o;
    struct mqtt *m = NULL;
    struct outbox *ob = NULL;
    struct outbox_config cfg;
    struct outbox_stats os;
    struct error_detail ed;
    struct obs obs;
    struct stream s, got;
    char outbox[MQTT_BROKER_PATH_MAX + 16];
    int fd = -1;
    pid_t pid;
    int64_t at_kill;

    stream_init(&s, n);
    memset(&os, 0, sizeof(os));
    if (mqtt_broker_start(&b, MQTT_BROKER_PLAIN, 0) != 0) {
        CHECK(!"broker starts");
        return;
    }
    CHECK(stream_observer(&obs, &b, &s) == 0);
    snprintf(outbox, sizeof(outbox), "%s/restart.db", b.dir);
    /* appending (one commit) outruns sending (two commits and a round
     * trip each), so when the child has appended them all, many are
     * still queued or in flight: kill it then */
    pid = spawn_child("stream", b.port, outbox, n, &fd);
    CHECK(pid > 0 && child_said(fd, "done", 20000));
    kill_child(pid, fd);
    at_kill = stream_distinct(&s);
    /* what the dead process left in its outbox */
    outbox_config_init(&cfg, outbox, clk);
    CHECK(outbox_open(&cfg, &ob, &ed) == ERROR_OK);
    CHECK(ob && outbox_stats(ob, &os, &ed) == ERROR_OK);
    outbox_close(ob);
    CHECK(os.queued > 0); /* outbox_open() put the in-flight ones back in the queue */

    client_options(&o, b.port, b.dir, "unused");
    o.outbox_path = outbox;
    CHECK(mqtt_start(&o, NULL, NULL, NULL, &m, &ed) == ERROR_OK);
    WAIT_FOR(stream_distinct(&s) == n, 20000);
    got = stream_get(&s);
    CHECK(got.distinct == n && got.gaps == 0);
    stream_print_missing(&s, "client restart");
    printf("client restart: killed after %lld of %d had arrived, %d left in the outbox file;"
           " %lld arrived, %lld duplicates, %lld gaps\n",
           (long long)at_kill,
           n,
           os.queued,
           (long long)got.distinct,
           (long long)got.dups,
           (long long)got.gaps);
    mqtt_stop(m);
    obs_close(&obs);
    stream_free(&s);
    mqtt_broker_stop(&b);
}

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"options", test_options},
    {"plain", test_plain},
    {"tls", test_tls},
    {"will", test_will},
    {"broker_kill", test_broker_kill},
    {"client_restart", test_client_restart},
};

/* test_mqtt [NAME] runs every test, or the one named. */
int main(int argc, char **argv)
{
    clk = clock_new_real();
    if (getenv("FLEXD_TEST_DEBUG")) {
        logger_set_level(LOGGER_DEBUG);
    }
    if (argc > 1 && strcmp(argv[1], "--child") == 0) {
        return child_main(argc, argv);
    }
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (argc < 2 || strcmp(argv[1], tests[i].name) == 0) {
            tests[i].fn();
        }
    }
    clock_free(clk);
    return CHECK_DONE();
}
