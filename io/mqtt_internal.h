/* SPDX-License-Identifier: MIT */
/*
 * mqtt_internal.h - private to the io/mqtt*.c files; nothing else may
 * include it (the transport's API is mqtt.h). It holds struct mqtt, the
 * operations handed to paho and the events its callbacks queue, and the
 * mqtt_ functions that one of those files calls in another:
 *   mqtt.c          paho's callbacks, the operation list, connect and
 *                   reconnect with backoff, status and subscriptions, the
 *                   mqtt thread, mqtt_start() and mqtt_stop()
 *   mqtt_publish.c  the outbox-backed publish path: draining the outbox
 *                   into paho, PUBACKs and failed publishes, requeueing
 *                   after a loss, and the calls of any thread (publish,
 *                   clear retained, inbound ids, stats)
 *   mqtt_options.c  checking the options and topics, copying them in
 *
 * Which thread may touch which field is said in struct mqtt; the functions
 * below run on the mqtt thread unless their comment says otherwise.
 */
#ifndef FLEXD_IO_MQTT_INTERNAL_H
#define FLEXD_IO_MQTT_INTERNAL_H

#include "mqtt.h"

#include "outbox.h"

#include <MQTTAsync.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define MOD "mqtt"

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

/* ---- mqtt.c ------------------------------------------------------------- */

/* A new operation of the current generation, in m's list (freed by
 * mqtt_op_free() or when the client is dropped). */
struct mqtt_op *mqtt_op_new(struct mqtt *m, enum mqtt_op_kind kind);

/* Unlink op from m's list and free it. */
void mqtt_op_free(struct mqtt *m, struct mqtt_op *op);

/* Response options whose callbacks queue op's result as an event. */
void mqtt_response_options(MQTTAsync_responseOptions *r, struct mqtt_op *op);

/* The monotonic time in ms of m's clock. */
int64_t mqtt_now(const struct mqtt *m);

/* The connection is gone or unusable: new client, everything unacknowledged
 * queued again, reconnect after the first backoff step. */
void mqtt_reset(struct mqtt *m);

/* ---- mqtt_publish.c ----------------------------------------------------- */

/* Everything in flight goes back in the queue: a new generation starts. */
void mqtt_requeue(struct mqtt *m);

/* The PUBACK of a publish op (already unlinked): the outbox row goes. */
void mqtt_acked(struct mqtt *m, struct mqtt_op *op);

/* A publish op (already unlinked) failed with paho's code; on the live
 * connection that means a reset. */
void mqtt_publish_failed(struct mqtt *m, struct mqtt_op *op, int code);

/* Hand outbox messages to paho, in order, while connected and the window
 * has room. */
void mqtt_drain(struct mqtt *m);

/* ---- mqtt_options.c ----------------------------------------------------- */

/* A relative topic name (wildcards = 0) or filter (wildcards = 1); any
 * thread. ERROR_INVALID naming what and the topic. */
int mqtt_check_topic(const struct mqtt *m,
                     const char *what,
                     const char *t,
                     int wildcards,
                     struct error_detail *ed);

/* Copy the options and subscriptions into m (checked first). */
int mqtt_configure(struct mqtt *m,
                   const struct mqtt_options *o,
                   const char *const *subscriptions,
                   struct error_detail *ed);

#endif
