/* SPDX-License-Identifier: MIT */
/*
 * outbox.h - the durable, ordered queue of outbound MQTT messages, and the
 * memory of inbound message ids already applied. It lives in its own SQLite
 * file (docs/storage.md), so the busy history database never delays an
 * acknowledgement and a damaged history never blocks one.
 *
 * The publisher's cycle: outbox_append() commits the message before it is
 * published; outbox_next() gives the oldest queued message; after handing
 * it to the client, outbox_mark_in_flight() records the client's message id;
 * outbox_ack() deletes it when the PUBACK (or PUBCOMP) arrives, and
 * outbox_delete() when a QoS 0 publish has gone out. On connection loss
 * outbox_requeue() puts every in-flight message back, so the next
 * outbox_next() calls replay them in their original order; outbox_open()
 * does the same after a restart.
 *
 * Bound policy (numbers in struct outbox_config):
 *   - ACK, DR_PERFORMANCE and DAILY messages are never dropped. When they
 *     reach max_durable messages or max_durable_bytes, outbox_append()
 *     refuses the new one with ERROR_RANGE, so the caller knows and
 *     nothing already queued is lost.
 *   - LIVE and CAPACITY messages are coalesced per topic: appending one
 *     deletes the unsent (queued, not in-flight) message of the same topic,
 *     so only the newest waits. At most max_coalesced of them wait in all;
 *     beyond that the oldest are dropped.
 *
 * Inbound ids: outbox_inbound_seen() says whether an application-level
 * message id (from the command's payload; MQTT packet ids are reused) was
 * already applied; remember it with outbox_inbound_remember() or, better,
 * in the same transaction as the command's ack via outbox_msg.inbound_id.
 * Ids expire after inbound_ttl_ms.
 *
 * Errors: ERROR_OK or a code from common/error.h with SQLite's message in
 * ed ("outbox: PATH: what: sqlite message"). Owned by one thread (the
 * engine's); MQTT callback threads hand their events to it.
 */
#ifndef FLEXD_IO_OUTBOX_H
#define FLEXD_IO_OUTBOX_H

#include "../common/clock.h"
#include "../common/error.h"

#include <stddef.h>
#include <stdint.h>

#define OUTBOX_TOPIC_MAX      1024         /* bytes without the NUL */
#define OUTBOX_PAYLOAD_MAX    (256 * 1024) /* bytes */
#define OUTBOX_INBOUND_ID_MAX 128          /* bytes without the NUL */

enum outbox_class {
    OUTBOX_ACK = 0,            /* reply to a command: never dropped */
    OUTBOX_DR_PERFORMANCE = 1, /* DR event performance report: never dropped */
    OUTBOX_DAILY = 2,          /* daily report: never dropped */
    OUTBOX_CAPACITY = 3,       /* adjustable capacity: coalesced per topic */
    OUTBOX_LIVE = 4,           /* live snapshot: coalesced per topic */
};

#define OUTBOX_NCLASSES 5

struct outbox_config {
    const char *path;          /* database file; created 0600 if missing */
    const struct clock *clock; /* borrowed; created_ms, sent_ms, id expiry */
    int busy_timeout_ms;       /* default 5000 */
    int max_coalesced;         /* waiting LIVE + CAPACITY messages; default 256 */
    int max_durable;           /* ACK + DR_PERFORMANCE + DAILY messages; default 50000 */
    int64_t max_durable_bytes; /* their payload bytes; default 64 MiB */
    int64_t inbound_ttl_ms;    /* inbound id memory; default 7 days */
    int max_inbound;           /* ids remembered at most; default 100000 */
};

/* Fill cfg with the defaults above for path and clock (both borrowed). */
void outbox_config_init(struct outbox_config *cfg, const char *path, const struct clock *clock);

/* A message to append; everything is borrowed and copied. */
struct outbox_msg {
    const char *topic; /* no wildcards */
    const void *payload;
    size_t payload_len;
    int qos;      /* 0, 1 or 2 */
    int retained; /* 0 or 1 */
    enum outbox_class cls;
    const char *inbound_id; /* NULL, or an inbound id to remember with this message */
};

/* A message read back; it owns topic and payload (outbox_entry_clear()). */
struct outbox_entry {
    int64_t seq; /* position in the queue, increasing, never reused */
    int64_t created_ms;
    char *topic;
    unsigned char *payload; /* payload_len bytes and a NUL after them */
    size_t payload_len;
    int qos;
    int retained;
    enum outbox_class cls;
    int attempts; /* times it was marked in flight before */
};

struct outbox;

/* Open or create the outbox at cfg->path (mode 0600, WAL,
 * synchronous=FULL, versioned schema), put in-flight messages back in the
 * queue and forget expired inbound ids. ERROR_INVALID for a bad cfg;
 * ERROR_IO when the file cannot be opened, is not a database or is
 * corrupt; ERROR_STATE when its schema is newer than this program. */
int outbox_open(const struct outbox_config *cfg, struct outbox **out, struct error_detail *ed);

/* Close; NULL is a no-op. Every appended message is already on disk. */
void outbox_close(struct outbox *ob);

/* Commit one message (and m->inbound_id) before it is published; *seq (may
 * be NULL) gets its position. ERROR_INVALID for a bad field; ERROR_RANGE
 * when a never-drop message does not fit the bound (nothing is stored). */
int outbox_append(struct outbox *ob,
                  const struct outbox_msg *m,
                  int64_t *seq,
                  struct error_detail *ed);

/* The oldest queued (not in-flight) message: *found 1 and *out filled, or
 * *found 0 when the queue holds nothing to send. */
int outbox_next(struct outbox *ob, struct outbox_entry *out, int *found, struct error_detail *ed);

void outbox_entry_clear(struct outbox_entry *e);

/* The queued message seq was handed to the client with message id mid.
 * ERROR_STATE if seq is not queued or mid is already in flight. */
int outbox_mark_in_flight(struct outbox *ob, int64_t seq, int mid, struct error_detail *ed);

/* The broker acknowledged mid: delete that in-flight message. *found (may
 * be NULL) is 0 for an unknown mid (a duplicate ack), which is not an error. */
int outbox_ack(struct outbox *ob, int mid, int *found, struct error_detail *ed);

/* Delete message seq whatever its state (a QoS 0 message went out). */
int outbox_delete(struct outbox *ob, int64_t seq, struct error_detail *ed);

/* Put every in-flight message back in the queue (connection lost). */
int outbox_requeue(struct outbox *ob, struct error_detail *ed);

/* *seen 1 if id was remembered and has not expired. */
int outbox_inbound_seen(struct outbox *ob, const char *id, int *seen, struct error_detail *ed);

/* Remember id until now + inbound_ttl_ms (again: the expiry moves). */
int outbox_inbound_remember(struct outbox *ob, const char *id, struct error_detail *ed);

/* Forget expired inbound ids; *deleted (may be NULL) gets how many. */
int outbox_prune(struct outbox *ob, int64_t *deleted, struct error_detail *ed);

struct outbox_stats {
    int queued;
    int in_flight;
    int durable;           /* never-drop messages stored */
    int64_t durable_bytes; /* their payload bytes */
    int inbound_ids;
    int64_t coalesced; /* replaced by a newer message of the same topic, since open */
    int64_t dropped;   /* dropped by the max_coalesced bound, since open */
    int64_t refused;   /* never-drop messages refused by the bound, since open */
};

int outbox_stats(struct outbox *ob, struct outbox_stats *out, struct error_detail *ed);

/* "ack", "dr_performance", "daily", "capacity", "live"; "?" out of range. */
const char *outbox_class_name(enum outbox_class cls);

#endif
