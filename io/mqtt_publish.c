/* SPDX-License-Identifier: MIT */
/*
 * mqtt_publish.c - the outbox-backed publish path of io/mqtt.h: the mqtt
 * thread drains the outbox into paho in order within a bounded window,
 * records each packet id with outbox_mark_in_flight(), deletes a message at
 * its PUBACK, resets the connection when a publish fails on a live one and
 * requeues everything unacknowledged for the next connection (mqtt.c says
 * how acknowledgements and losses are matched). mqtt_publish(),
 * mqtt_clear_retained(), mqtt_inbound_seen() and mqtt_stats() run on any
 * thread; the outbox is always used under ob_mu.
 */
#include "mqtt_internal.h"

#include "../common/logger.h"

#include <stdio.h>
#include <string.h>

#define MQTT_RETRY_MS 1000 /* the outbox or paho refused: try the queue again */

static void mqtt_store_trouble(struct mqtt *m, const struct error_detail *ed)
{
    if (!m->store_trouble) {
        LOGE(MOD, "%s: outbox: %s; retrying", m->uri, ed->text);
    }
    m->store_trouble = 1;
    m->retry_at_ms = mqtt_now(m) + MQTT_RETRY_MS;
}

/* Everything in flight goes back in the queue: a new generation starts. */
void mqtt_requeue(struct mqtt *m)
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

void mqtt_acked(struct mqtt *m, struct mqtt_op *op)
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

void mqtt_publish_failed(struct mqtt *m, struct mqtt_op *op, int code)
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

void mqtt_drain(struct mqtt *m)
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
