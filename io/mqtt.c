/* SPDX-License-Identifier: MIT */
/*
 * mqtt.c - the MQTT transport on paho.mqtt.c's asynchronous client: a
 * persistent QoS 1 session, the outbox drained in order with a bounded
 * window, status/will, and reconnection with exponential backoff. This file
 * holds the client's lifetime, paho's callbacks, connecting and the mqtt
 * thread; mqtt_publish.c the outbox-backed publish path and the calls of
 * any thread, mqtt_options.c the checks of the options (the shared
 * internals in mqtt_internal.h).
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

#include "mqtt_internal.h"
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

#define MQTT_CONNECT_TIMEOUT_S  10
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

struct mqtt_op *mqtt_op_new(struct mqtt *m, enum mqtt_op_kind kind)
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

void mqtt_op_free(struct mqtt *m, struct mqtt_op *op)
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

void mqtt_response_options(MQTTAsync_responseOptions *r, struct mqtt_op *op)
{
    MQTTAsync_responseOptions init = MQTTAsync_responseOptions_initializer;

    *r = init;
    r->onSuccess = mqtt_on_success;
    r->onFailure = mqtt_on_failure;
    r->context = op;
}

int64_t mqtt_now(const struct mqtt *m)
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
void mqtt_reset(struct mqtt *m)
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
