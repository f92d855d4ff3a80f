/* SPDX-License-Identifier: MIT */
/*
 * mqtt.c - the MQTT transport on paho.mqtt.c's asynchronous client: a
 * persistent QoS 1 session, the outbox drained in order with a bounded
 * window, status/will, and reconnection with exponential backoff.
 *
 * Threads and locks. The module's own thread ("mqtt thread") owns the
 * connection state, the list of operations handed to paho and the window;
 * it is the only one that calls paho after mqtt_start(). Paho's callbacks
 * never touch that state: they append an event to a queue under `mu` and
 * signal the thread (inbound messages are the exception: they go straight
 * to the caller's callback, as the header promises). The outbox is one
 * SQLite connection behind `ob_mu`, shared by the mqtt thread and the
 * callers of mqtt_publish(). Paho is never called with either lock held,
 * because paho runs some callbacks with its own mutex held: holding ours
 * around a paho call could deadlock against a callback waiting for ours.
 *
 * Acknowledgements. Every paho operation gets a heap `struct mqtt_op` as
 * its callback context, owned by the mqtt thread's list; a PUBACK names
 * that op, which carries the outbox seq and paho's token (the MQTT packet
 * id, recorded with outbox_mark_in_flight(), so outbox_ack() finds it).
 *
 * Losses. A lost connection, or a publish that fails on a live one,
 * destroys paho's client with everything it had in flight
 * (mqtt_drop_client() says why), puts every unacknowledged outbox message
 * back in the queue and connects a fresh client: each connection carries
 * the outbox in order from the oldest unacknowledged message. The
 * connection generation in each op is a second guard: a PUBACK for an op
 * of an earlier generation, or one whose row could not be marked, deletes
 * its message by seq unless that message is in flight again, so a reused
 * packet id never deletes the wrong message.
 */
#include "mqtt.h"

#include "dispatch_msg.h"
#include "outbox.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/logger.h"

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOD "mqtt"

#define MQTT_CONNECT_TIMEOUT_S  10
#define MQTT_RETRY_MS           1000 /* the outbox or paho refused: try the queue again */
#define MQTT_STOP_OFFLINE_MS    2000
#define MQTT_STOP_DISCONNECT_MS 2000

/* TLS 1.3 as the minimum. Paho 1.3.12 has no TLS 1.3 version constant and
 * no SSL_CTX hook: for OpenSSL >= 1.1 it always uses TLS_client_method()
 * and passes enabledCipherSuites to SSL_CTX_set_cipher_list(), which sets
 * the TLS <= 1.2 cipher list only (the TLS 1.3 suites are separate and
 * keep OpenSSL's defaults). That list may not be empty, so it names one
 * PSK suite: OpenSSL leaves PSK suites out of the ClientHello when no PSK
 * callback is set (paho sets one only for ssl_psk_cb, which this module
 * never sets). The client thus offers TLS 1.3 suites only, and a TLS 1.2
 * (or older) server finds no shared cipher and fails the handshake.
 * Verified against a TLS 1.2-only mosquitto in tests/integration/test_mqtt.c. */
#define MQTT_TLS12_CIPHERS "PSK-AES256-GCM-SHA384"

enum mqtt_op_kind {
    OP_CONNECT,
    OP_PUBLISH,
    OP_STATUS,
    OP_SUBSCRIBE,
    OP_DISCONNECT,
};

struct mqtt_op {
    struct mqtt *m;
    enum mqtt_op_kind kind;
    int64_t seq;   /* OP_PUBLISH: outbox seq */
    int token;     /* paho's token: the MQTT packet id */
    uint64_t gen;  /* connection generation it was sent in */
    int tracked;   /* its outbox row was marked in flight with token */
    int in_window; /* counted in m->window */
    int offline;   /* OP_STATUS: the "offline" of mqtt_stop() */
    struct mqtt_op *prev, *next;
};

enum mqtt_event_kind {
    EV_OK,
    EV_FAIL,
    EV_LOST,
};

struct mqtt_event {
    enum mqtt_event_kind kind;
    struct mqtt_op *op; /* NULL for EV_LOST */
    int code;           /* paho code; connect: session present; subscribe: refusals */
    char text[160];
};

struct mqtt_queue {
    struct mqtt_event *v;
    size_t n, cap;
};

enum mqtt_state {
    STATE_DOWN,
    STATE_CONNECTING,
    STATE_UP,
};

struct mqtt {
    /* copies of the options, fixed after mqtt_start() */
    char *uri, *client_id, *prefix, *status_topic;
    char *will; /* the will's payload for the connection being made (mqtt thread) */
    char *ca_file, *cert_file, *key_file, *username, *password;
    char **subs;
    int *sub_qos;
    int nsubs, tls, keepalive_s, backoff_min_ms, backoff_max_ms;
    size_t prefix_len;
    mqtt_message_fn on_message;
    void *user;
    struct clock *clock;
    MQTTAsync client;

    pthread_mutex_t ob_mu; /* guards ob */
    struct outbox *ob;

    pthread_mutex_t mu; /* guards everything down to the next comment */
    pthread_cond_t cv;
    struct mqtt_queue q;
    int wake, stopping, connected;
    int64_t connects, published, acked, failures;
    char tls_error[160];

    /* the mqtt thread's own */
    pthread_t thread;
    int thread_started;
    struct mqtt_queue work;
    enum mqtt_state state;
    uint64_t gen;
    int window;
    struct mqtt_op *ops;
    int64_t next_connect_ms, retry_at_ms;
    int64_t down_since_ms; /* start of the current outage (or of mqtt_start()) */
    int attempts, run_failures;
    int down_logged, send_trouble, store_trouble, offline_done, disconnect_done;
    uint64_t rng;
};

static void mqtt_trace(enum MQTTASYNC_TRACE_LEVELS level, char *message)
{
    if (level >= MQTTASYNC_TRACE_SEVERE) {
        LOGE("paho", "%s", message);
    } else {
        LOGD("paho", "%s", message); /* the state changes are logged with context below */
    }
}

static pthread_once_t mqtt_trace_once = PTHREAD_ONCE_INIT;

/* Paho callbacks running now, in any instance: dropping a client waits for
 * 0 before freeing what callbacks use. Counted before a callback touches
 * its context, so only paho's own dispatch (between choosing the callback
 * and calling it) is outside the count; paho offers nothing tighter. */
static atomic_int mqtt_callbacks;

static void mqtt_trace_init(void)
{
    MQTTAsync_setTraceCallback(mqtt_trace);
    MQTTAsync_setTraceLevel(MQTTASYNC_TRACE_ERROR);
}

/* ---- events: the only thing paho's callbacks do ------------------------ */

static void
mqtt_push(struct mqtt *m, enum mqtt_event_kind kind, struct mqtt_op *op, int code, const char *text)
{
    struct mqtt_event *e;

    pthread_mutex_lock(&m->mu);
    if (m->q.n == m->q.cap) {
        m->q.cap = m->q.cap ? 2 * m->q.cap : 64;
        m->q.v = alloc_resize(m->q.v, m->q.cap, sizeof(*m->q.v));
    }
    e = &m->q.v[m->q.n++];
    e->kind = kind;
    e->op = op;
    e->code = code;
    snprintf(e->text, sizeof(e->text), "%s", text ? text : "");
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static void mqtt_on_success(void *ctx, MQTTAsync_successData *d)
{
    struct mqtt_op *op = ctx;
    struct mqtt *m;
    int code = 0;

    atomic_fetch_add(&mqtt_callbacks, 1);
    m = op->m;
    if (op->kind == OP_CONNECT && d) {
        code = d->alt.connect.sessionPresent;
    } else if (op->kind == OP_SUBSCRIBE && d) {
        for (int i = 0; i < m->nsubs; i++) {
            int granted = m->nsubs == 1 ? d->alt.qos : (d->alt.qosList ? d->alt.qosList[i] : 0);

            code += granted == 0x80;
        }
    }
    mqtt_push(m, EV_OK, op, code, NULL);
    atomic_fetch_sub(&mqtt_callbacks, 1);
}

static void mqtt_on_failure(void *ctx, MQTTAsync_failureData *d)
{
    struct mqtt_op *op = ctx;

    atomic_fetch_add(&mqtt_callbacks, 1);
    mqtt_push(op->m, EV_FAIL, op, d ? d->code : MQTTASYNC_FAILURE, d ? d->message : NULL);
    atomic_fetch_sub(&mqtt_callbacks, 1);
}

static void mqtt_on_lost(void *ctx, char *cause)
{
    struct mqtt *m = ctx;

    atomic_fetch_add(&mqtt_callbacks, 1);
    mqtt_push(m, EV_LOST, NULL, 0, cause);
    atomic_fetch_sub(&mqtt_callbacks, 1);
}

/* OpenSSL's error text during a handshake, kept for the failure's log line. */
static int mqtt_on_tls_error(const char *str, size_t len, void *u)
{
    struct mqtt *m = u;

    atomic_fetch_add(&mqtt_callbacks, 1);
    while (len > 0 && (str[len - 1] == '\n' || str[len - 1] == '\r')) {
        len--;
    }
    pthread_mutex_lock(&m->mu);
    snprintf(m->tls_error, sizeof(m->tls_error), "%.*s", (int)len, str);
    pthread_mutex_unlock(&m->mu);
    LOGD(MOD, "TLS: %.*s", (int)len, str);
    atomic_fetch_sub(&mqtt_callbacks, 1);
    return 0;
}

static int mqtt_on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    struct mqtt *m = ctx;
    const char *rel = topic;

    atomic_fetch_add(&mqtt_callbacks, 1);
    if (topic_len > 0 && strlen(topic) != (size_t)topic_len) {
        LOGW(MOD, "inbound topic with an embedded NUL (%d bytes): ignored", topic_len);
    } else {
        if (strncmp(topic, m->prefix, m->prefix_len) == 0 && topic[m->prefix_len] == '/') {
            rel = topic + m->prefix_len + 1;
        }
        if (m->on_message) {
            m->on_message(m->user,
                          rel,
                          (const char *)msg->payload,
                          (size_t)(msg->payloadlen > 0 ? msg->payloadlen : 0),
                          msg->retained);
        }
    }
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    atomic_fetch_sub(&mqtt_callbacks, 1);
    return 1;
}

/* ---- operations handed to paho (mqtt thread) --------------------------- */

static struct mqtt_op *mqtt_op_new(struct mqtt *m, enum mqtt_op_kind kind)
{
    struct mqtt_op *op = ALLOC_NEW(struct mqtt_op);

    op->m = m;
    op->kind = kind;
    op->gen = m->gen;
    op->next = m->ops;
    if (m->ops) {
        m->ops->prev = op;
    }
    m->ops = op;
    return op;
}

static void mqtt_op_free(struct mqtt *m, struct mqtt_op *op)
{
    if (op->prev) {
        op->prev->next = op->next;
    } else {
        m->ops = op->next;
    }
    if (op->next) {
        op->next->prev = op->prev;
    }
    free(op);
}

static void mqtt_response_options(MQTTAsync_responseOptions *r, struct mqtt_op *op)
{
    MQTTAsync_responseOptions init = MQTTAsync_responseOptions_initializer;

    *r = init;
    r->onSuccess = mqtt_on_success;
    r->onFailure = mqtt_on_failure;
    r->context = op;
}

static int64_t mqtt_now(const struct mqtt *m)
{
    return clock_mono_ms(m->clock);
}

/* Delay before reconnect attempt number `attempt` (0-based): doubling from
 * backoff_min_ms to backoff_max_ms, minus up to a quarter at random so a
 * fleet of stations does not reconnect in step after a broker outage. */
static int64_t mqtt_backoff_ms(struct mqtt *m, int attempt)
{
    int64_t d = m->backoff_min_ms;

    for (int i = 0; i < attempt && d < m->backoff_max_ms; i++) {
        d *= 2;
    }
    if (d > m->backoff_max_ms) {
        d = m->backoff_max_ms;
    }
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return d - (int64_t)(m->rng % (uint64_t)(d / 4 + 1));
}

static void mqtt_set_connected(struct mqtt *m, int up)
{
    pthread_mutex_lock(&m->mu);
    m->connected = up;
    m->connects += up;
    pthread_mutex_unlock(&m->mu);
}

static void mqtt_store_trouble(struct mqtt *m, const struct error_detail *ed)
{
    if (!m->store_trouble) {
        LOGE(MOD, "%s: outbox: %s; retrying", m->uri, ed->text);
    }
    m->store_trouble = 1;
    m->retry_at_ms = mqtt_now(m) + MQTT_RETRY_MS;
}

/* Everything in flight goes back in the queue: a new generation starts. */
static void mqtt_requeue(struct mqtt *m)
{
    struct error_detail ed;
    int rc;

    m->gen++;
    m->window = 0;
    for (struct mqtt_op *op = m->ops; op; op = op->next) {
        op->in_window = 0;
    }
    pthread_mutex_lock(&m->ob_mu);
    rc = outbox_requeue(m->ob, &ed);
    pthread_mutex_unlock(&m->ob_mu);
    if (rc) {
        mqtt_store_trouble(m, &ed);
    }
}

static void mqtt_schedule_connect(struct mqtt *m)
{
    m->state = STATE_DOWN;
    m->next_connect_ms = mqtt_now(m) + mqtt_backoff_ms(m, m->attempts);
    m->attempts++;
}

/* A fresh paho client, with no state of its own. MQTTASYNC_SUCCESS or paho's code. */
static int mqtt_new_client(struct mqtt *m)
{
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    int rc;

    co.MQTTVersion = MQTTVERSION_3_1_1;
    co.sendWhileDisconnected = 0; /* the outbox buffers, not paho */
    m->client = NULL;
    rc = MQTTAsync_createWithOptions(&m->client,
                                     m->uri,
                                     m->client_id,
                                     MQTTCLIENT_PERSISTENCE_NONE,
                                     NULL,
                                     &co);
    if (rc != MQTTASYNC_SUCCESS) {
        m->client = NULL;
    } else {
        rc = MQTTAsync_setCallbacks(m->client, m, mqtt_on_lost, mqtt_on_message, NULL);
        if (rc != MQTTASYNC_SUCCESS) {
            MQTTAsync_destroy(&m->client);
        }
    }
    return rc;
}

/* Destroy paho's client and forget every operation handed to it. Why not
 * reconnect the same client: paho 1.3.12, resuming a session without
 * persistence, retransmits its in-flight PUBLISHes, and after a publish
 * failure it does so from memory its failure path has freed (seen as a
 * PUBLISH whose topic is another message's payload, which the broker drops
 * as malformed, on every reconnect); its retransmissions would also race
 * the outbox replay. A fresh client retransmits nothing; the outbox sends
 * everything unacknowledged again from the oldest, and the broker keeps
 * the session (same client id, clean session 0). */
static void mqtt_drop_client(struct mqtt *m)
{
    if (m->client) {
        MQTTAsync_destroy(&m->client); /* may fail pending ops: their events get queued */
    }
    while (atomic_load(&mqtt_callbacks) > 0) {
        clock_sleep_ms(m->clock, 1);
    }
    pthread_mutex_lock(&m->mu);
    m->q.n = 0;
    pthread_mutex_unlock(&m->mu);
    m->work.n = 0; /* the rest of the batch being handled names the same ops */
    while (m->ops) {
        mqtt_op_free(m, m->ops);
    }
}

/* The connection is gone or unusable: new client, everything unacknowledged
 * queued again, reconnect after the first backoff step. */
static void mqtt_reset(struct mqtt *m)
{
    int rc;

    mqtt_set_connected(m, 0);
    mqtt_drop_client(m);
    mqtt_requeue(m);
    rc = mqtt_new_client(m);
    if (rc != MQTTASYNC_SUCCESS) {
        LOGE(MOD, "%s: cannot create a client: %s", m->uri, MQTTAsync_strerror(rc));
    }
    m->down_logged = 1; /* the failures that follow belong to this outage */
    m->down_since_ms = mqtt_now(m);
    m->attempts = 0;
    mqtt_schedule_connect(m);
}

static void mqtt_connect_begin(struct mqtt *m)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    struct mqtt_op *op;
    int rc = m->client ? MQTTASYNC_SUCCESS : mqtt_new_client(m);

    op = mqtt_op_new(m, OP_CONNECT);
    if (rc != MQTTASYNC_SUCCESS) {
        m->state = STATE_CONNECTING;
        mqtt_push(m, EV_FAIL, op, rc, "cannot create the client");
        return;
    }
    /* "offline" stamped with the connect time (docs/mqtt.md, status) */
    free(m->will);
    m->will = dispatch_status_json(0, clock_now_ms(m->clock), FLEXD_VERSION);
    will.topicName = m->status_topic;
    will.message = m->will;
    will.retained = 1;
    will.qos = 1;
    co.keepAliveInterval = m->keepalive_s;
    co.cleansession = 0;
    co.will = &will;
    co.username = m->username;
    co.password = m->password;
    co.connectTimeout = MQTT_CONNECT_TIMEOUT_S;
    co.MQTTVersion = MQTTVERSION_3_1_1;
    co.automaticReconnect = 0; /* ours has millisecond backoff and requeues the outbox */
    co.onSuccess = mqtt_on_success;
    co.onFailure = mqtt_on_failure;
    co.context = op;
    if (m->tls) {
        ssl.trustStore = m->ca_file;
        ssl.keyStore = m->cert_file;
        ssl.privateKey = m->key_file;
        ssl.enabledCipherSuites = MQTT_TLS12_CIPHERS;
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1; /* the certificate must name host */
        ssl.sslVersion = MQTT_SSL_VERSION_DEFAULT;
        ssl.disableDefaultTrustStore = m->ca_file != NULL;
        ssl.ssl_error_cb = mqtt_on_tls_error;
        ssl.ssl_error_context = m;
        co.ssl = &ssl;
    }
    pthread_mutex_lock(&m->mu);
    m->tls_error[0] = '\0';
    pthread_mutex_unlock(&m->mu);
    m->state = STATE_CONNECTING;
    rc = MQTTAsync_connect(m->client, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        mqtt_op_free(m, op);
        mqtt_push(m, EV_FAIL, mqtt_op_new(m, OP_CONNECT), rc, "the connect call was refused");
    }
}

/* Publish retained status ("online" or "offline") outside the outbox: it
 * only means something on the connection it is sent on. */
static int mqtt_send_status(struct mqtt *m, int offline)
{
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions r;
    struct mqtt_op *op = mqtt_op_new(m, OP_STATUS);
    char *payload = dispatch_status_json(!offline, clock_now_ms(m->clock), FLEXD_VERSION);
    int rc;

    op->offline = offline;
    msg.payload = payload;
    msg.payloadlen = (int)strlen(payload);
    msg.qos = 1;
    msg.retained = 1;
    mqtt_response_options(&r, op);
    rc = MQTTAsync_sendMessage(m->client, m->status_topic, &msg, &r); /* copies payload */
    if (rc != MQTTASYNC_SUCCESS) {
        LOGW(MOD, "%s: cannot publish status: %s", m->uri, MQTTAsync_strerror(rc));
        mqtt_op_free(m, op);
    }
    free(payload);
    return rc;
}

/* Subscribe; "online" follows the SUBACK (at once without subscriptions),
 * so "online" means commands can reach the station. */
static void mqtt_subscribe(struct mqtt *m)
{
    MQTTAsync_responseOptions r;
    struct mqtt_op *op;
    int rc;

    if (m->nsubs == 0) {
        mqtt_send_status(m, 0);
        return;
    }
    op = mqtt_op_new(m, OP_SUBSCRIBE);
    mqtt_response_options(&r, op);
    rc = MQTTAsync_subscribeMany(m->client, m->nsubs, m->subs, m->sub_qos, &r);
    if (rc != MQTTASYNC_SUCCESS) {
        LOGE(MOD, "%s: cannot subscribe: %s", m->uri, MQTTAsync_strerror(rc));
        mqtt_op_free(m, op);
        mqtt_send_status(m, 0);
    }
}

static const char *mqtt_connack_text(int code)
{
    switch (code) {
    case 1:
        return "the broker refuses MQTT 3.1.1 (CONNACK 1)";
    case 2:
        return "the broker rejects the client id (CONNACK 2)";
    case 3:
        return "the broker is unavailable (CONNACK 3)";
    case 4:
        return "bad user name or password (CONNACK 4)";
    case 5:
        return "not authorised (CONNACK 5)";
    default:
        return MQTTAsync_strerror(code);
    }
}

static void mqtt_connect_failed(struct mqtt *m, const struct mqtt_event *e)
{
    char tls[sizeof(m->tls_error)];

    pthread_mutex_lock(&m->mu);
    m->failures++;
    snprintf(tls, sizeof(tls), "%s", m->tls_error);
    pthread_mutex_unlock(&m->mu);
    if (!m->down_logged) {
        LOGW(MOD,
             "%s: cannot connect: %s%s%s%s%s; retrying every %d..%d ms",
             m->uri,
             mqtt_connack_text(e->code),
             e->text[0] ? ": " : "",
             e->text,
             tls[0] ? "; TLS: " : "",
             tls,
             m->backoff_min_ms,
             m->backoff_max_ms);
    } else {
        LOGD(MOD, "%s: cannot connect: %s %s %s", m->uri, mqtt_connack_text(e->code), e->text, tls);
    }
    m->down_logged = 1;
    m->run_failures++;
    mqtt_schedule_connect(m);
}

static void mqtt_connected(struct mqtt *m, int session_present)
{
    m->state = STATE_UP;
    m->gen++; /* ops of an earlier connection are stale */
    m->window = 0;
    mqtt_set_connected(m, 1);
    if (m->run_failures > 0) {
        LOGI(MOD,
             "%s: connected as %s (%s session) after %d failed attempts in %.1f s",
             m->uri,
             m->client_id,
             session_present ? "resumed" : "new",
             m->run_failures,
             (double)(mqtt_now(m) - m->down_since_ms) / 1000.0);
    } else {
        LOGI(MOD,
             "%s: connected as %s (%s session)",
             m->uri,
             m->client_id,
             session_present ? "resumed" : "new");
    }
    m->run_failures = 0;
    m->attempts = 0;
    m->down_logged = 0;
    m->send_trouble = 0;
    m->retry_at_ms = 0;
    mqtt_subscribe(m);
}

static void mqtt_lost(struct mqtt *m, const char *cause)
{
    if (m->state != STATE_UP) {
        return;
    }
    LOGW(MOD, "%s: connection lost%s%s; reconnecting", m->uri, cause[0] ? ": " : "", cause);
    mqtt_reset(m);
}

/* Is op's message in flight again under another op of this generation? */
static int mqtt_resent(const struct mqtt *m, const struct mqtt_op *op)
{
    for (const struct mqtt_op *o = m->ops; o; o = o->next) {
        if (o != op && o->kind == OP_PUBLISH && o->in_window && o->seq == op->seq) {
            return 1;
        }
    }
    return 0;
}

static void mqtt_acked(struct mqtt *m, struct mqtt_op *op)
{
    struct error_detail ed;
    int rc = ERROR_OK;

    if (op->in_window) {
        m->window--;
    }
    pthread_mutex_lock(&m->ob_mu);
    if (op->gen == m->gen && op->tracked) {
        rc = outbox_ack(m->ob, op->token, NULL, &ed);
    } else if (!mqtt_resent(m, op)) {
        /* a PUBACK from an earlier connection, or for a message whose row
         * could not be marked: the broker has it, so it need not go again */
        LOGD(MOD,
             "%s: late PUBACK for outbox seq %lld (packet id %d)",
             m->uri,
             (long long)op->seq,
             op->token);
        rc = outbox_delete(m->ob, op->seq, &ed);
    }
    pthread_mutex_unlock(&m->ob_mu);
    if (rc) {
        mqtt_store_trouble(m, &ed);
    }
    pthread_mutex_lock(&m->mu);
    m->acked++;
    pthread_mutex_unlock(&m->mu);
}

static void mqtt_publish_failed(struct mqtt *m, struct mqtt_op *op, int code)
{
    int current = op->gen == m->gen && op->in_window;

    if (op->in_window) {
        m->window--;
    }
    if (current && m->state == STATE_UP) {
        /* later messages may be on the wire already: only a new connection
         * that starts again from the oldest keeps the order */
        LOGW(MOD,
             "%s: publish of outbox seq %lld failed (%s); reconnecting",
             m->uri,
             (long long)op->seq,
             MQTTAsync_strerror(code));
        mqtt_reset(m);
    }
}

static void mqtt_handle(struct mqtt *m, const struct mqtt_event *e)
{
    struct mqtt_op op;
    int ok = e->kind == EV_OK;

    if (e->kind == EV_LOST) {
        mqtt_lost(m, e->text);
        return;
    }
    /* unlink it first: a reset below frees every op still listed */
    op = *e->op;
    mqtt_op_free(m, e->op);
    op.prev = op.next = NULL;
    switch (op.kind) {
    case OP_CONNECT:
        if (ok) {
            mqtt_connected(m, e->code);
        } else {
            mqtt_connect_failed(m, e);
        }
        break;
    case OP_PUBLISH:
        if (ok) {
            mqtt_acked(m, &op);
        } else {
            mqtt_publish_failed(m, &op, e->code);
        }
        break;
    case OP_STATUS:
        m->offline_done |= op.offline;
        if (!ok) {
            LOGD(MOD, "%s: status publish failed: %s", m->uri, MQTTAsync_strerror(e->code));
        }
        break;
    case OP_SUBSCRIBE:
        if (!ok || e->code > 0) {
            LOGE(MOD,
                 "%s: subscriptions refused by the broker (%s)",
                 m->uri,
                 ok ? "SUBACK 0x80" : MQTTAsync_strerror(e->code));
        }
        if (op.gen == m->gen && m->state == STATE_UP) {
            mqtt_send_status(m, 0); /* up, even if a filter was refused: outbound works */
        }
        break;
    case OP_DISCONNECT:
        m->disconnect_done = 1;
        break;
    }
}

/* Hand one outbox message to paho; -1 when the queue should wait. */
static int mqtt_send_entry(struct mqtt *m, const struct outbox_entry *e)
{
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions r;
    struct mqtt_op *op = mqtt_op_new(m, OP_PUBLISH);
    struct error_detail ed;
    int rc;

    op->seq = e->seq;
    msg.payload = e->payload;
    msg.payloadlen = (int)e->payload_len;
    msg.qos = 1;
    msg.retained = e->retained;
    mqtt_response_options(&r, op);
    rc = MQTTAsync_sendMessage(m->client, e->topic, &msg, &r);
    if (rc == MQTTASYNC_BAD_UTF8_STRING || rc == MQTTASYNC_TOPICNAME_TRUNCATED ||
        rc == MQTTASYNC_NULL_PARAMETER || rc == MQTTASYNC_BAD_QOS) {
        /* it can never go: dropping it is better than blocking the queue */
        LOGE(MOD,
             "%s: outbox seq %lld on %s: %s: dropped",
             m->uri,
             (long long)e->seq,
             e->topic,
             MQTTAsync_strerror(rc));
        mqtt_op_free(m, op);
        pthread_mutex_lock(&m->ob_mu);
        rc = outbox_delete(m->ob, e->seq, &ed);
        pthread_mutex_unlock(&m->ob_mu);
        return rc ? (mqtt_store_trouble(m, &ed), -1) : 0;
    }
    if (rc != MQTTASYNC_SUCCESS) {
        if (rc == MQTTASYNC_DISCONNECTED) {
            /* the connection just dropped: its connectionLost event follows */
            LOGD(MOD, "%s: publish while disconnected: waiting for the loss event", m->uri);
        } else if (!m->send_trouble) {
            LOGW(MOD, "%s: paho refuses to publish: %s; retrying", m->uri, MQTTAsync_strerror(rc));
        }
        m->send_trouble = 1;
        m->retry_at_ms = mqtt_now(m) + MQTT_RETRY_MS;
        mqtt_op_free(m, op);
        return -1;
    }
    m->send_trouble = 0;
    op->token = r.token;
    op->in_window = 1;
    m->window++;
    pthread_mutex_lock(&m->mu);
    m->published++;
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_lock(&m->ob_mu);
    rc = outbox_mark_in_flight(m->ob, e->seq, op->token, &ed);
    pthread_mutex_unlock(&m->ob_mu);
    if (rc == ERROR_OK) {
        op->tracked = 1;
    } else if (rc != ERROR_STATE) {
        mqtt_store_trouble(m, &ed);
        return -1;
    }
    /* ERROR_STATE: a newer message of its topic replaced it (coalescing)
     * after outbox_next(), or paho reused a packet id whose PUBACK event is
     * still queued here (after wrapping at 65535). The op stays untracked:
     * its PUBACK deletes by seq unless the row went out again meanwhile. */
    return 0;
}

static void mqtt_drain(struct mqtt *m)
{
    while (m->state == STATE_UP && m->window < MQTT_MAX_IN_FLIGHT) {
        struct outbox_entry e;
        struct error_detail ed;
        int found = 0;
        int rc;

        pthread_mutex_lock(&m->ob_mu);
        rc = outbox_next(m->ob, &e, &found, &ed);
        pthread_mutex_unlock(&m->ob_mu);
        if (rc) {
            mqtt_store_trouble(m, &ed);
            return;
        }
        if (!found) {
            break;
        }
        rc = mqtt_send_entry(m, &e);
        outbox_entry_clear(&e);
        if (rc) {
            return;
        }
    }
    if (m->store_trouble) {
        LOGI(MOD, "%s: outbox readable again", m->uri);
        m->store_trouble = 0;
    }
}

/* Wait for events until deadline_ms (monotonic; -1: none), then handle
 * them. Returns 1 once mqtt_stop() asked the thread to stop; that also
 * ends the wait unless stop_wakes is 0 (the goodbye in mqtt_stop()). */
static int mqtt_wait(struct mqtt *m, int64_t deadline_ms, int stop_wakes)
{
    struct mqtt_queue tmp;
    int stopping;

    pthread_mutex_lock(&m->mu);
    while (m->q.n == 0 && !m->wake && !(stop_wakes && m->stopping)) {
        int64_t left = deadline_ms < 0 ? 60000 : deadline_ms - mqtt_now(m);

        if (left <= 0) {
            break;
        }
        clock_wait(m->clock, &m->cv, &m->mu, left);
    }
    tmp = m->q;
    m->q = m->work;
    m->work = tmp;
    m->wake = 0;
    stopping = m->stopping;
    pthread_mutex_unlock(&m->mu);
    for (size_t i = 0; i < m->work.n; i++) {
        mqtt_handle(m, &m->work.v[i]);
    }
    m->work.n = 0;
    return stopping;
}

static int64_t mqtt_deadline(const struct mqtt *m)
{
    if (m->state == STATE_DOWN) {
        return m->next_connect_ms;
    }
    if (m->state == STATE_UP && m->retry_at_ms > 0) {
        return m->retry_at_ms;
    }
    return -1;
}

/* Handle events until *flag is set, the connection is gone or time is up. */
static void mqtt_pump(struct mqtt *m, const int *flag, int64_t timeout_ms)
{
    int64_t deadline = mqtt_now(m) + timeout_ms;

    while (!*flag && m->state == STATE_UP && mqtt_now(m) < deadline) {
        mqtt_wait(m, deadline, 0);
    }
}

static void *mqtt_thread_main(void *arg)
{
    struct mqtt *m = arg;

    while (!mqtt_wait(m, mqtt_deadline(m), 1)) {
        int64_t now = mqtt_now(m);

        if (m->state == STATE_DOWN && now >= m->next_connect_ms) {
            mqtt_connect_begin(m);
        }
        if (m->state == STATE_UP && (m->retry_at_ms == 0 || now >= m->retry_at_ms)) {
            m->retry_at_ms = 0;
            mqtt_drain(m);
        }
    }
    if (m->state == STATE_UP && mqtt_send_status(m, 1) == MQTTASYNC_SUCCESS) {
        mqtt_pump(m, &m->offline_done, MQTT_STOP_OFFLINE_MS);
    }
    if (m->state == STATE_UP) {
        MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
        struct mqtt_op *op = mqtt_op_new(m, OP_DISCONNECT);

        d.timeout = 1000;
        d.onSuccess = mqtt_on_success;
        d.onFailure = mqtt_on_failure;
        d.context = op;
        if (MQTTAsync_disconnect(m->client, &d) == MQTTASYNC_SUCCESS) {
            mqtt_pump(m, &m->disconnect_done, MQTT_STOP_DISCONNECT_MS);
        } else {
            mqtt_op_free(m, op);
        }
        mqtt_set_connected(m, 0);
    }
    return NULL;
}

/* ---- options ----------------------------------------------------------- */

void mqtt_options_default(struct mqtt_options *o)
{
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->port = 1883;
    o->keepalive_s = 30;
    o->backoff_min_ms = 500;
    o->backoff_max_ms = 30000;
}

/* Well-formed UTF-8 without overlong forms or surrogates (MQTT 3.1.1 1.5.3). */
static int mqtt_utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        unsigned c = *p;
        int n = c < 0x80             ? 0
                : (c & 0xE0) == 0xC0 ? 1
                : (c & 0xF0) == 0xE0 ? 2
                : (c & 0xF8) == 0xF0 ? 3
                                     : -1;
        unsigned cp;

        if (n < 0) {
            return 0;
        }
        cp = n == 0 ? c : c & (0x3Fu >> n);
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                return 0;
            }
            cp = cp << 6 | (p[i] & 0x3Fu);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return 0;
        }
        p += n + 1;
    }
    return 1;
}

/* A relative topic name (wildcards = 0) or filter (wildcards = 1). */
static int mqtt_check_topic(const struct mqtt *m,
                            const char *what,
                            const char *t,
                            int wildcards,
                            struct error_detail *ed)
{
    size_t len = t ? strlen(t) : 0;

    if (len == 0 || m->prefix_len + 1 + len > OUTBOX_TOPIC_MAX || !mqtt_utf8_ok(t)) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "mqtt: %s \"%.64s\": must be 1 to %zu bytes of UTF-8 after the prefix",
                          what,
                          t ? t : "",
                          OUTBOX_TOPIC_MAX - m->prefix_len - 1);
    }
    for (size_t i = 0; i < len; i++) {
        int level_start = i == 0 || t[i - 1] == '/';
        int level_end = i + 1 == len || t[i + 1] == '/';
        int bad = 0;

        if (t[i] == '+') {
            bad = !wildcards || !level_start || !level_end;
        } else if (t[i] == '#') {
            bad = !wildcards || !level_start || i + 1 != len;
        }
        if (bad) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "mqtt: %s \"%.64s\": %s",
                              what,
                              t,
                              wildcards ? "'+' must fill a level and '#' must be the last level"
                                        : "a topic name has no wildcards");
        }
    }
    return ERROR_OK;
}

static int mqtt_check_file(const char *what, const char *path, struct error_detail *ed)
{
    if (path && access(path, R_OK) != 0) {
        return error_setf(ed, ERROR_INVALID, "mqtt: %s: %s: cannot be read", what, path);
    }
    return ERROR_OK;
}

static int mqtt_check_options(const struct mqtt_options *o, struct error_detail *ed)
{
    int rc = ERROR_OK;

    if (!o->host || !*o->host || strlen(o->host) > 253) {
        rc = error_setf(ed, ERROR_INVALID, "mqtt: host: required, at most 253 bytes");
    } else if (o->port < 1 || o->port > 65535) {
        rc = error_setf(ed, ERROR_INVALID, "mqtt: port: %d: must be in [1, 65535]", o->port);
    } else if (!o->client_id || !*o->client_id || strlen(o->client_id) > 256 ||
               !mqtt_utf8_ok(o->client_id)) {
        rc = error_setf(ed, ERROR_INVALID, "mqtt: client_id: required, 1 to 256 bytes of UTF-8");
    } else if (!o->prefix || !*o->prefix || strpbrk(o->prefix, "+#") || o->prefix[0] == '$' ||
               o->prefix[strlen(o->prefix) - 1] == '/' || strlen(o->prefix) > 256 ||
               !mqtt_utf8_ok(o->prefix)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "mqtt: prefix \"%.64s\": required, 1 to 256 bytes of UTF-8 without"
                        " wildcards, a leading '$' or a trailing '/'",
                        o->prefix ? o->prefix : "");
    } else if (o->keepalive_s < 5 || o->keepalive_s > 3600) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "mqtt: keepalive_s: %d: must be in [5, 3600]",
                        o->keepalive_s);
    } else if (!o->outbox_path || !*o->outbox_path) {
        rc = error_setf(ed, ERROR_INVALID, "mqtt: outbox_path: required");
    } else if (o->backoff_min_ms < 10 || o->backoff_max_ms < o->backoff_min_ms ||
               o->backoff_max_ms > 3600000) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "mqtt: backoff_min_ms %d, backoff_max_ms %d: need 10 <= min <= max <="
                        " 3600000",
                        o->backoff_min_ms,
                        o->backoff_max_ms);
    } else if (o->password && !o->username) {
        rc = error_setf(ed, ERROR_INVALID, "mqtt: password: needs a username");
    } else if (!o->tls && (o->ca_file || o->cert_file || o->key_file)) {
        rc = error_setf(ed, ERROR_INVALID, "mqtt: ca_file, cert_file, key_file: need tls 1");
    } else if (!o->cert_file != !o->key_file) {
        rc = error_setf(ed, ERROR_INVALID, "mqtt: cert_file and key_file: give both or neither");
    }
    if (!rc) {
        rc = mqtt_check_file("ca_file", o->ca_file, ed);
    }
    if (!rc) {
        rc = mqtt_check_file("cert_file", o->cert_file, ed);
    }
    if (!rc) {
        rc = mqtt_check_file("key_file", o->key_file, ed);
    }
    return rc;
}

static char *mqtt_strdup_or_null(const char *s)
{
    return s ? alloc_strdup(s) : NULL;
}

/* Copy the options and subscriptions into m (checked first). */
static int mqtt_configure(struct mqtt *m,
                          const struct mqtt_options *o,
                          const char *const *subscriptions,
                          struct error_detail *ed)
{
    int v6 = strchr(o->host, ':') != NULL && o->host[0] != '[';
    int rc = mqtt_check_options(o, ed);

    if (rc) {
        return rc;
    }
    m->uri = alloc_printf("%s://%s%s%s:%d",
                          o->tls ? "ssl" : "tcp",
                          v6 ? "[" : "",
                          o->host,
                          v6 ? "]" : "",
                          o->port);
    m->client_id = alloc_strdup(o->client_id);
    m->prefix = alloc_strdup(o->prefix);
    m->prefix_len = strlen(o->prefix);
    m->status_topic = alloc_printf("%s/status", o->prefix);
    m->ca_file = mqtt_strdup_or_null(o->ca_file);
    m->cert_file = mqtt_strdup_or_null(o->cert_file);
    m->key_file = mqtt_strdup_or_null(o->key_file);
    m->username = mqtt_strdup_or_null(o->username);
    m->password = mqtt_strdup_or_null(o->password);
    m->tls = o->tls ? 1 : 0;
    m->keepalive_s = o->keepalive_s;
    m->backoff_min_ms = o->backoff_min_ms;
    m->backoff_max_ms = o->backoff_max_ms;
    while (subscriptions && subscriptions[m->nsubs]) {
        if (m->nsubs == MQTT_MAX_SUBSCRIPTIONS) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "mqtt: subscriptions: more than %d",
                              MQTT_MAX_SUBSCRIPTIONS);
        }
        rc = mqtt_check_topic(m, "subscription", subscriptions[m->nsubs], 1, ed);
        if (rc) {
            return rc;
        }
        m->subs = alloc_resize(m->subs, (size_t)m->nsubs + 1, sizeof(*m->subs));
        m->sub_qos = alloc_resize(m->sub_qos, (size_t)m->nsubs + 1, sizeof(*m->sub_qos));
        m->subs[m->nsubs] = alloc_printf("%s/%s", o->prefix, subscriptions[m->nsubs]);
        m->sub_qos[m->nsubs] = 1;
        m->nsubs++;
    }
    return ERROR_OK;
}

/* ---- lifetime ---------------------------------------------------------- */

static void mqtt_free(struct mqtt *m)
{
    while (atomic_load(&mqtt_callbacks) > 0) {
        clock_sleep_ms(m->clock, 1); /* a callback that began before MQTTAsync_destroy() */
    }
    while (m->ops) {
        mqtt_op_free(m, m->ops);
    }
    outbox_close(m->ob);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->ob_mu);
    for (int i = 0; i < m->nsubs; i++) {
        free(m->subs[i]);
    }
    free(m->subs);
    free(m->sub_qos);
    free(m->q.v);
    free(m->work.v);
    free(m->uri);
    free(m->client_id);
    free(m->prefix);
    free(m->status_topic);
    free(m->will);
    free(m->ca_file);
    free(m->cert_file);
    free(m->key_file);
    free(m->username);
    free(m->password);
    clock_free(m->clock);
    free(m);
}

int mqtt_start(const struct mqtt_options *o,
               const char *const *subscriptions,
               mqtt_message_fn on_message,
               void *user,
               struct mqtt **out,
               struct error_detail *ed)
{
    struct outbox_config cfg;
    struct outbox_stats st;
    struct error_detail local;
    struct mqtt *m = ALLOC_NEW(struct mqtt);
    int rc;

    if (!ed) {
        ed = &local;
    }
    *out = NULL;
    m->clock = clock_new_real();
    pthread_mutex_init(&m->ob_mu, NULL);
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    m->on_message = on_message;
    m->user = user;
    rc = mqtt_configure(m, o, subscriptions, ed);
    if (!rc && m->nsubs > 0 && !on_message) {
        rc = error_setf(ed, ERROR_INVALID, "mqtt: subscriptions need a message callback");
    }
    if (!rc) {
        outbox_config_init(&cfg, o->outbox_path, m->clock);
        rc = outbox_open(&cfg, &m->ob, ed);
    }
    if (!rc) {
        pthread_once(&mqtt_trace_once, mqtt_trace_init);
        rc = mqtt_new_client(m);
        if (rc != MQTTASYNC_SUCCESS) {
            rc = error_setf(ed,
                            ERROR_STATE,
                            "mqtt: %s: cannot create the client: %s",
                            m->uri,
                            MQTTAsync_strerror(rc));
        }
    }
    if (!rc) {
        m->rng = ((uint64_t)clock_mono_us(m->clock) ^ ((uint64_t)getpid() << 32)) | 1;
        m->state = STATE_DOWN;
        m->next_connect_ms = mqtt_now(m);
        m->down_since_ms = m->next_connect_ms;
        if (pthread_create(&m->thread, NULL, mqtt_thread_main, m) != 0) {
            rc = error_setf(ed, ERROR_STATE, "mqtt: cannot start its thread");
        }
        m->thread_started = rc == ERROR_OK;
    }
    if (rc) {
        if (m->client) {
            MQTTAsync_destroy(&m->client);
        }
        mqtt_free(m);
        return rc;
    }
    pthread_mutex_lock(&m->ob_mu);
    if (outbox_stats(m->ob, &st, NULL) != ERROR_OK) {
        st.queued = -1;
    }
    pthread_mutex_unlock(&m->ob_mu);
    LOGI(MOD,
         "%s: starting as %s, prefix %s, %d messages waiting in %s",
         m->uri,
         m->client_id,
         m->prefix,
         st.queued,
         o->outbox_path);
    *out = m;
    return ERROR_OK;
}

void mqtt_stop(struct mqtt *m)
{
    if (!m) {
        return;
    }
    pthread_mutex_lock(&m->mu);
    m->stopping = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    if (m->thread_started) {
        pthread_join(m->thread, NULL);
    }
    /* fails what is still pending (its callbacks only queue events) */
    MQTTAsync_destroy(&m->client);
    LOGI(MOD, "%s: stopped", m->uri);
    mqtt_free(m);
}

/* ---- any thread -------------------------------------------------------- */

int mqtt_publish(struct mqtt *m,
                 const char *topic,
                 const char *payload,
                 size_t len,
                 int retained,
                 int cls,
                 const char *inbound_id,
                 struct error_detail *ed)
{
    char full[OUTBOX_TOPIC_MAX + 1];
    struct outbox_msg msg;
    struct error_detail local;
    int rc;

    if (!ed) {
        ed = &local;
    }
    rc = mqtt_check_topic(m, "topic", topic, 0, ed);
    if (!rc && (cls < 0 || cls >= OUTBOX_NCLASSES)) {
        rc = error_setf(ed, ERROR_INVALID, "mqtt: %s: class %d: unknown", topic, cls);
    }
    if (rc) {
        return rc;
    }
    snprintf(full, sizeof(full), "%s/%s", m->prefix, topic);
    memset(&msg, 0, sizeof(msg));
    msg.topic = full;
    msg.payload = payload;
    msg.payload_len = len;
    msg.qos = 1;
    msg.retained = retained ? 1 : 0;
    msg.cls = (enum outbox_class)cls;
    msg.inbound_id = inbound_id;
    pthread_mutex_lock(&m->ob_mu);
    rc = outbox_append(m->ob, &msg, NULL, ed);
    pthread_mutex_unlock(&m->ob_mu);
    if (!rc) {
        pthread_mutex_lock(&m->mu);
        m->wake = 1;
        pthread_cond_signal(&m->cv);
        pthread_mutex_unlock(&m->mu);
    }
    return rc;
}

int mqtt_clear_retained(struct mqtt *m, const char *topic)
{
    struct error_detail ed;
    int rc = mqtt_publish(m, topic, "", 0, 1, OUTBOX_ACK, NULL, &ed);

    if (rc) {
        LOGE(MOD, "cannot clear the retained message: %s", ed.text);
    }
    return rc;
}

int mqtt_inbound_seen(struct mqtt *m, const char *id)
{
    struct error_detail ed;
    int seen = 0;
    int rc;

    pthread_mutex_lock(&m->ob_mu);
    rc = outbox_inbound_seen(m->ob, id, &seen, &ed);
    pthread_mutex_unlock(&m->ob_mu);
    if (rc) {
        LOGE(MOD, "inbound id lookup: %s", ed.text);
        return -1;
    }
    return seen;
}

void mqtt_stats(struct mqtt *m, struct mqtt_stats *out)
{
    struct outbox_stats st;
    int rc;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&m->mu);
    out->connected = m->connected;
    out->connects = m->connects;
    out->published = m->published;
    out->acked = m->acked;
    out->connect_failures = m->failures;
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_lock(&m->ob_mu);
    rc = outbox_stats(m->ob, &st, NULL);
    pthread_mutex_unlock(&m->ob_mu);
    out->queued = rc ? -1 : (int64_t)st.queued + st.in_flight;
}
