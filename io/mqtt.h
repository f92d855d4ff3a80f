/* SPDX-License-Identifier: MIT */
/*
 * mqtt.h - the station's MQTT transport: one connection to the operator's
 * broker (paho.mqtt.c asynchronous client, TLS through OpenSSL), outbound
 * messages through the durable outbox (io/outbox.h), inbound messages to a
 * callback. docs/mqtt.md, "Connection and delivery", describes the
 * behaviour on the wire.
 *
 * Delivery promise: mqtt_publish() commits the message to the outbox file
 * before it returns; it is published with QoS 1 while connected, at most
 * MQTT_MAX_IN_FLIGHT at a time and in the order of the outbox, and deleted
 * from the outbox only when the broker's PUBACK arrives. A connection loss
 * or a restart sends the unacknowledged ones again, in order. So a message
 * may arrive more than once (QoS 1 semantics); receivers drop duplicates
 * by the application id in the payload.
 *
 * Session: persistent (clean session 0), client id from the options; every
 * subscription is QoS 1 and is made again on every connect. Status on
 * "{prefix}/status", retained, QoS 1, payload dispatch_status_json(): the
 * last will is "offline" stamped with the connect time; after every
 * connect and SUBACK the client publishes "online"; mqtt_stop() publishes
 * "offline" before it disconnects (a clean disconnect discards the will).
 *
 * Threads: mqtt_publish(), mqtt_clear_retained(), mqtt_inbound_seen() and
 * mqtt_stats() may be called from any thread (the outbox is behind a
 * mutex). mqtt_start() and mqtt_stop() are called by the owner (the
 * engine's thread). The message callback runs on paho's thread.
 *
 * The process must ignore SIGPIPE (main() does signal(SIGPIPE, SIG_IGN)):
 * paho and OpenSSL write to sockets the broker may have closed.
 */
#ifndef FLEXD_IO_MQTT_H
#define FLEXD_IO_MQTT_H

#include "../common/error.h"

#include <stddef.h>
#include <stdint.h>

/* Published but not yet acknowledged messages, at most; a small window
 * keeps the replay after a reconnect short and the order exact. */
#define MQTT_MAX_IN_FLIGHT 16

/* Subscriptions per client, at most. */
#define MQTT_MAX_SUBSCRIPTIONS 32

struct mqtt_options {
    const char *host;        /* broker name or address; default "127.0.0.1" */
    int port;                /* default 1883 (8883 is usual with TLS: set it) */
    const char *client_id;   /* required; also the persistent session's name */
    const char *prefix;      /* required, e.g. "flexd/ulanhada-pvess-ev-01": no wildcards, no
                                trailing '/' */
    int tls;                 /* 1: TLS 1.3 at least, server certificate verified */
    const char *ca_file;     /* PEM CA bundle; NULL: the system's trust store */
    const char *cert_file;   /* client certificate chain (PEM) or NULL */
    const char *key_file;    /* its private key (PEM, unencrypted) or NULL */
    const char *username;    /* NULL: none */
    const char *password;    /* NULL: none; needs username */
    int keepalive_s;         /* default 30 */
    const char *outbox_path; /* required: the outbox database file */
    int backoff_min_ms;      /* reconnect delay after the first failure; default 500 */
    int backoff_max_ms;      /* doubling up to this; default 30000 */
};

/* Fill o with the defaults above; the required fields are NULL. */
void mqtt_options_default(struct mqtt_options *o);

/* An inbound message, on paho's thread: topic relative to the prefix
 * ("dr/event"), payload not NUL-terminated, retained 1 for a message the
 * broker kept (sent again on every subscribe: clear it with
 * mqtt_clear_retained() once applied). Everything is borrowed for the call:
 * copy what you keep and hand it to your own thread. */
typedef void (
    *mqtt_message_fn)(void *user, const char *topic, const char *payload, size_t len, int retained);

struct mqtt;

/* Open the outbox, start the client and its thread, and begin connecting;
 * returns without waiting for the broker (connection state: mqtt_stats()).
 * subscriptions: topic filters relative to the prefix (may contain + and
 * #), NULL-terminated, copied; may be NULL. on_message may be NULL when
 * there are no subscriptions. Everything in o is copied.
 * ERROR_INVALID for a bad option or filter (ed names it), ERROR_IO when the
 * outbox cannot be opened, ERROR_STATE when paho refuses to create the
 * client. */
int mqtt_start(const struct mqtt_options *o,
               const char *const *subscriptions,
               mqtt_message_fn on_message,
               void *user,
               struct mqtt **out,
               struct error_detail *ed);

/* Stop: nothing more from the outbox is published; when connected, publish
 * retained "offline" (waits up to 2 s for its PUBACK) and disconnect
 * cleanly (so the will is not sent). Unsent messages stay in the outbox
 * for the next start. NULL is a no-op. */
void mqtt_stop(struct mqtt *m);

/* Queue an outbound message to "{prefix}/{topic}": committed to the
 * outbox, then published with QoS 1 when connected; deleted from the
 * outbox on PUBACK; replayed in order after a reconnect or a restart. cls
 * is an enum outbox_class (coalescing and bounds as in io/outbox.h).
 * inbound_id: NULL, or an inbound id remembered in the same transaction
 * (acks to commands). Thread-safe. Returns ERROR_OK; ERROR_RANGE when the
 * outbox refuses it (bound reached for a never-drop class); ERROR_INVALID
 * for a bad topic (empty, wildcard, not UTF-8, too long), payload or
 * class; ERROR_IO when the outbox cannot be written. */
int mqtt_publish(struct mqtt *m,
                 const char *topic,
                 const char *payload,
                 size_t len,
                 int retained,
                 int cls,
                 const char *inbound_id,
                 struct error_detail *ed);

/* Clear the retained message on "{prefix}/{topic}" (an empty retained
 * payload, queued as a never-drop message behind everything queued
 * before), so an old command is never replayed. Same errors as
 * mqtt_publish(), logged. */
int mqtt_clear_retained(struct mqtt *m, const char *topic);

/* 1 if inbound id was remembered (outbox_inbound_seen()) and has not
 * expired, 0 if not, -1 when the outbox cannot be read (logged). */
int mqtt_inbound_seen(struct mqtt *m, const char *id);

struct mqtt_stats {
    int connected;            /* 1 while the session is up */
    int64_t connects;         /* successful connects since start */
    int64_t published;        /* outbox messages handed to the client (again after a loss) */
    int64_t acked;            /* outbox messages acknowledged by the broker */
    int64_t queued;           /* outbox messages not yet acknowledged (waiting + in flight) */
    int64_t connect_failures; /* connection attempts that failed since start */
};

void mqtt_stats(struct mqtt *m, struct mqtt_stats *out);

#endif
