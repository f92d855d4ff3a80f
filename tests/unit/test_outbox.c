/* SPDX-License-Identifier: MIT */
/*
 * test_outbox.c - io/outbox on real SQLite files in a mkdtemp directory, on
 * a virtual clock: order, in-flight marking, delete on ack, requeue and
 * replay after reopen, per-topic coalescing, the bound that drops live and
 * capacity messages but never acks, DR performance or daily reports, the
 * inbound id memory with expiry, a lock held by another connection, and a
 * garbage file.
 */
#include "check.h"

#include "common/clock.h"
#include "common/error.h"
#include "io/outbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static int64_t t0(void)
{
    return clock_from_local(2026, 11, 23, 8, 0, 0);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];

    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(dir);
}

static struct outbox *open_ob(const char *name, struct clock *c, const struct outbox_config *in)
{
    static char path[256];
    struct outbox_config cfg;
    struct outbox *ob = NULL;
    struct error_detail ed = {{0}};

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    if (in) {
        cfg = *in;
        cfg.path = path;
        cfg.clock = c;
    } else {
        outbox_config_init(&cfg, path, c);
    }
    if (outbox_open(&cfg, &ob, &ed) != ERROR_OK) {
        fprintf(stderr, "outbox_open: %s\n", ed.text);
    }
    return ob;
}

static int append(struct outbox *ob,
                  enum outbox_class cls,
                  const char *topic,
                  const char *payload,
                  int64_t *seq)
{
    struct outbox_msg m;

    memset(&m, 0, sizeof(m));
    m.topic = topic;
    m.payload = payload;
    m.payload_len = strlen(payload);
    m.qos = cls == OUTBOX_LIVE ? 0 : 1;
    m.retained = cls == OUTBOX_LIVE;
    m.cls = cls;
    return outbox_append(ob, &m, seq, NULL);
}

/* The payload of the next queued message ("" when none); seq in *seq. */
static const char *next_payload(struct outbox *ob, int64_t *seq)
{
    static char buf[256];
    struct outbox_entry e;
    int found = 0;

    buf[0] = '\0';
    CHECK(outbox_next(ob, &e, &found, NULL) == ERROR_OK);
    if (found) {
        snprintf(buf, sizeof(buf), "%s", (const char *)e.payload);
        if (seq) {
            *seq = e.seq;
        }
    }
    outbox_entry_clear(&e);
    return buf;
}

static void test_order_ack_replay(void)
{
    struct clock *c = clock_new_virtual(t0());
    struct outbox *ob = open_ob("order.db", c, NULL);
    struct outbox_stats st;
    struct outbox_entry e;
    struct error_detail ed = {{0}};
    int64_t seq[5];
    int64_t s;
    int found = -1;
    char path[256];
    struct stat fs;

    snprintf(path, sizeof(path), "%s/order.db", tmpdir);
    CHECK(stat(path, &fs) == 0 && (fs.st_mode & 0777) == 0600);
    CHECK(append(ob, OUTBOX_ACK, "flexd/s1/ack", "a1", &seq[0]) == ERROR_OK);
    CHECK(append(ob, OUTBOX_DR_PERFORMANCE, "flexd/s1/dr", "dr1", &seq[1]) == ERROR_OK);
    CHECK(append(ob, OUTBOX_DAILY, "flexd/s1/daily", "day1", &seq[2]) == ERROR_OK);
    CHECK(append(ob, OUTBOX_ACK, "flexd/s1/ack", "a2", &seq[3]) == ERROR_OK);
    CHECK(append(ob, OUTBOX_ACK, "flexd/s1/ack", "a3", &seq[4]) == ERROR_OK);
    for (int i = 1; i < 5; i++) {
        CHECK(seq[i] > seq[i - 1]);
    }

    /* publish in order: each next() gives the oldest queued one */
    CHECK(outbox_next(ob, &e, &found, NULL) == ERROR_OK);
    CHECK(found == 1 && e.seq == seq[0]);
    CHECK(!strcmp(e.topic, "flexd/s1/ack") && e.qos == 1 && e.retained == 0);
    CHECK(e.cls == OUTBOX_ACK && e.attempts == 0 && e.created_ms == t0());
    CHECK(e.payload_len == 2 && !memcmp(e.payload, "a1", 3));
    outbox_entry_clear(&e);
    for (int i = 0; i < 5; i++) {
        CHECK(!strcmp(next_payload(ob, &s), (const char *[]){"a1", "dr1", "day1", "a2", "a3"}[i]));
        CHECK(s == seq[i]);
        CHECK(outbox_mark_in_flight(ob, s, 100 + i, NULL) == ERROR_OK);
    }
    CHECK(!strcmp(next_payload(ob, NULL), ""));
    CHECK(outbox_next(ob, &e, &found, NULL) == ERROR_OK && found == 0);

    /* marking errors */
    CHECK(outbox_mark_in_flight(ob, seq[0], 555, &ed) == ERROR_STATE);
    CHECK_STR_CONTAINS(ed.text, "is not queued");

    /* PUBACKs delete; an unknown or repeated one is harmless */
    CHECK(outbox_ack(ob, 101, &found, NULL) == ERROR_OK && found == 1);
    CHECK(outbox_ack(ob, 101, &found, NULL) == ERROR_OK && found == 0);
    CHECK(outbox_ack(ob, 103, NULL, NULL) == ERROR_OK);
    CHECK(outbox_stats(ob, &st, NULL) == ERROR_OK);
    CHECK(st.in_flight == 3 && st.queued == 0 && st.durable == 3);

    /* connection lost: the rest is replayed in the original order */
    CHECK(outbox_requeue(ob, NULL) == ERROR_OK);
    CHECK(!strcmp(next_payload(ob, &s), "a1"));
    CHECK(outbox_mark_in_flight(ob, s, 7, NULL) == ERROR_OK);
    CHECK(!strcmp(next_payload(ob, &s), "day1"));
    CHECK(outbox_mark_in_flight(ob, s, 7, &ed) == ERROR_STATE); /* mid 7 is taken */
    CHECK_STR_CONTAINS(ed.text, "message id 7 is already in flight");
    CHECK(outbox_mark_in_flight(ob, s, 8, NULL) == ERROR_OK);
    outbox_close(ob);

    /* restart: in-flight ones are queued again, order and bytes kept */
    clock_advance_ms(c, 60000);
    ob = open_ob("order.db", c, NULL);
    CHECK(ob != NULL);
    CHECK(outbox_next(ob, &e, &found, NULL) == ERROR_OK);
    CHECK(found && !strcmp((const char *)e.payload, "a1") && e.attempts == 2);
    CHECK(e.created_ms == t0());
    outbox_entry_clear(&e);
    CHECK(outbox_delete(ob, seq[0], NULL) == ERROR_OK); /* as after a QoS 0 publish */
    CHECK(!strcmp(next_payload(ob, NULL), "day1"));
    CHECK(outbox_delete(ob, seq[2], NULL) == ERROR_OK);
    CHECK(!strcmp(next_payload(ob, NULL), "a3"));
    CHECK(outbox_stats(ob, &st, NULL) == ERROR_OK);
    CHECK(st.queued == 1 && st.in_flight == 0);
    outbox_close(ob);
    outbox_close(NULL);
    clock_free(c);
}

static void test_binary_payload(void)
{
    struct clock *c = clock_new_virtual(t0());
    struct outbox *ob = open_ob("binary.db", c, NULL);
    const unsigned char bytes[] = {0, 1, 2, 0, 255, 'x'};
    struct outbox_msg m;
    struct outbox_entry e;
    struct error_detail ed = {{0}};
    int found = 0;

    memset(&m, 0, sizeof(m));
    m.topic = "flexd/s1/raw";
    m.payload = bytes;
    m.payload_len = sizeof(bytes);
    m.qos = 2;
    m.cls = OUTBOX_DAILY;
    CHECK(outbox_append(ob, &m, NULL, NULL) == ERROR_OK);
    m.payload = NULL; /* an empty payload is a message too */
    m.payload_len = 0;
    CHECK(outbox_append(ob, &m, NULL, NULL) == ERROR_OK);
    outbox_close(ob);
    ob = open_ob("binary.db", c, NULL);
    CHECK(outbox_next(ob, &e, &found, NULL) == ERROR_OK && found);
    CHECK(e.payload_len == sizeof(bytes) && !memcmp(e.payload, bytes, sizeof(bytes)));
    CHECK(e.qos == 2 && e.cls == OUTBOX_DAILY);
    CHECK(outbox_delete(ob, e.seq, NULL) == ERROR_OK);
    outbox_entry_clear(&e);
    CHECK(outbox_next(ob, &e, &found, NULL) == ERROR_OK && found);
    CHECK(e.payload_len == 0 && e.payload && e.payload[0] == 0);
    outbox_entry_clear(&e);

    /* bad messages */
    m.topic = "flexd/+/ack";
    CHECK(outbox_append(ob, &m, NULL, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "without + or #");
    m.topic = "flexd/s1/ack";
    m.qos = 3;
    CHECK(outbox_append(ob, &m, NULL, &ed) == ERROR_INVALID);
    m.qos = 1;
    m.payload = bytes;
    m.payload_len = OUTBOX_PAYLOAD_MAX + 1;
    CHECK(outbox_append(ob, &m, NULL, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "the limit is 262144");
    m.payload_len = 1;
    m.cls = (enum outbox_class)7;
    CHECK(outbox_append(ob, &m, NULL, &ed) == ERROR_INVALID);
    CHECK(!strcmp(outbox_class_name(OUTBOX_DR_PERFORMANCE), "dr_performance"));
    CHECK(!strcmp(outbox_class_name((enum outbox_class) - 1), "?"));
    outbox_close(ob);
    clock_free(c);
}

static void test_coalesce_and_bound(void)
{
    struct clock *c = clock_new_virtual(t0());
    struct outbox_config cfg;
    struct outbox *ob;
    struct outbox_stats st;
    struct error_detail ed = {{0}};
    int64_t s;
    char topic[64];

    outbox_config_init(&cfg, NULL, NULL);
    cfg.max_coalesced = 3;
    cfg.max_durable = 4;
    ob = open_ob("bound.db", c, &cfg);

    /* only the newest unsent live snapshot of a topic waits */
    CHECK(append(ob, OUTBOX_ACK, "flexd/s1/ack", "ack-1", NULL) == ERROR_OK);
    CHECK(append(ob, OUTBOX_LIVE, "flexd/s1/live", "live-1", NULL) == ERROR_OK);
    CHECK(append(ob, OUTBOX_LIVE, "flexd/s1/live", "live-2", NULL) == ERROR_OK);
    CHECK(append(ob, OUTBOX_CAPACITY, "flexd/s1/capacity", "cap-1", NULL) == ERROR_OK);
    CHECK(append(ob, OUTBOX_LIVE, "flexd/s1/live", "live-3", NULL) == ERROR_OK);
    CHECK(append(ob, OUTBOX_CAPACITY, "flexd/s1/capacity", "cap-2", NULL) == ERROR_OK);
    CHECK(outbox_stats(ob, &st, NULL) == ERROR_OK);
    CHECK(st.queued == 3 && st.coalesced == 3 && st.dropped == 0);
    CHECK(!strcmp(next_payload(ob, &s), "ack-1"));
    CHECK(outbox_delete(ob, s, NULL) == ERROR_OK);
    CHECK(!strcmp(next_payload(ob, &s), "live-3"));

    /* an in-flight snapshot is not coalesced away: it awaits its ack */
    CHECK(outbox_mark_in_flight(ob, s, 1, NULL) == ERROR_OK);
    CHECK(append(ob, OUTBOX_LIVE, "flexd/s1/live", "live-4", NULL) == ERROR_OK);
    CHECK(outbox_stats(ob, &st, NULL) == ERROR_OK);
    CHECK(st.in_flight == 1 && st.queued == 2);

    /* at most 3 waiting live/capacity messages: the oldest go */
    for (int i = 0; i < 5; i++) {
        snprintf(topic, sizeof(topic), "flexd/s1/live/c%d", i);
        CHECK(append(ob, OUTBOX_LIVE, topic, topic, NULL) == ERROR_OK);
    }
    CHECK(outbox_stats(ob, &st, NULL) == ERROR_OK);
    CHECK(st.queued == 3 && st.in_flight == 1 && st.dropped == 4);
    CHECK(!strcmp(next_payload(ob, NULL), "flexd/s1/live/c2"));

    /* never-drop classes fill to max_durable, then the next is refused
     * and everything already queued stays */
    CHECK(append(ob, OUTBOX_ACK, "flexd/s1/ack", "ack-2", NULL) == ERROR_OK);
    CHECK(append(ob, OUTBOX_DR_PERFORMANCE, "flexd/s1/dr", "dr-1", NULL) == ERROR_OK);
    CHECK(append(ob, OUTBOX_DAILY, "flexd/s1/daily", "daily-1", NULL) == ERROR_OK);
    CHECK(append(ob, OUTBOX_ACK, "flexd/s1/ack", "ack-3", NULL) == ERROR_OK);
    CHECK(outbox_append(ob,
                        &(struct outbox_msg){.topic = "flexd/s1/ack",
                                             .payload = "ack-4",
                                             .payload_len = 5,
                                             .qos = 1,
                                             .cls = OUTBOX_ACK,
                                             .inbound_id = "cmd-4"},
                        NULL,
                        &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "4 never-drop messages");
    {
        int seen = 1;

        /* the refused ack's inbound id was not remembered either */
        CHECK(outbox_inbound_seen(ob, "cmd-4", &seen, NULL) == ERROR_OK && seen == 0);
    }
    for (int i = 0; i < 20; i++) {
        snprintf(topic, sizeof(topic), "flexd/s1/live/x%d", i);
        CHECK(append(ob, OUTBOX_LIVE, topic, topic, NULL) == ERROR_OK);
    }
    CHECK(outbox_stats(ob, &st, NULL) == ERROR_OK);
    CHECK(st.durable == 4 && st.refused == 1);
    CHECK(st.queued == 4 + 3);
    CHECK(!strcmp(next_payload(ob, &s), "ack-2")); /* live ones never push these out */
    CHECK(outbox_delete(ob, s, NULL) == ERROR_OK);
    CHECK(append(ob, OUTBOX_ACK, "flexd/s1/ack", "ack-4", NULL) == ERROR_OK);
    outbox_close(ob);

    /* the byte bound */
    cfg.max_durable = 1000;
    cfg.max_durable_bytes = 300 * 1024;
    ob = open_ob("bytes.db", c, &cfg);
    {
        static char big[200 * 1024];
        struct outbox_msg m = {.topic = "flexd/s1/daily",
                               .payload = big,
                               .payload_len = sizeof(big),
                               .qos = 1,
                               .cls = OUTBOX_DAILY};

        CHECK(outbox_append(ob, &m, NULL, NULL) == ERROR_OK);
        CHECK(outbox_append(ob, &m, NULL, &ed) == ERROR_RANGE);
        CHECK(outbox_stats(ob, &st, NULL) == ERROR_OK);
        CHECK(st.durable == 1 && st.durable_bytes == (int64_t)sizeof(big));
    }
    outbox_close(ob);
    clock_free(c);
}

static void test_inbound(void)
{
    struct clock *c = clock_new_virtual(t0());
    struct outbox_config cfg;
    struct outbox *ob;
    struct outbox_stats st;
    struct error_detail ed = {{0}};
    int64_t deleted = -1;
    int seen = -1;

    outbox_config_init(&cfg, NULL, NULL);
    cfg.inbound_ttl_ms = 3600000;
    cfg.max_inbound = 3;
    ob = open_ob("inbound.db", c, &cfg);
    CHECK(outbox_inbound_seen(ob, "cmd-1", &seen, NULL) == ERROR_OK && seen == 0);
    CHECK(outbox_inbound_remember(ob, "cmd-1", NULL) == ERROR_OK);
    CHECK(outbox_inbound_seen(ob, "cmd-1", &seen, NULL) == ERROR_OK && seen == 1);
    CHECK(outbox_inbound_seen(ob, "cmd-2", &seen, NULL) == ERROR_OK && seen == 0);
    /* the ack and the id are committed together */
    clock_advance_ms(c, 1000);
    CHECK(outbox_append(ob,
                        &(struct outbox_msg){.topic = "flexd/s1/ack",
                                             .payload = "{\"id\":\"cmd-2\",\"code\":\"OK\"}",
                                             .payload_len = 27,
                                             .qos = 1,
                                             .cls = OUTBOX_ACK,
                                             .inbound_id = "cmd-2"},
                        NULL,
                        NULL) == ERROR_OK);
    outbox_close(ob);

    /* redelivered after a restart: still known */
    clock_advance_ms(c, 1800000);
    ob = open_ob("inbound.db", c, &cfg);
    CHECK(outbox_inbound_seen(ob, "cmd-2", &seen, NULL) == ERROR_OK && seen == 1);
    CHECK(outbox_inbound_seen(ob, "cmd-1", &seen, NULL) == ERROR_OK && seen == 1);
    CHECK(outbox_inbound_seen(ob, "", &seen, &ed) == ERROR_INVALID);

    /* the bound keeps the ids that expire last */
    clock_advance_ms(c, 1000);
    CHECK(outbox_inbound_remember(ob, "cmd-3", NULL) == ERROR_OK);
    clock_advance_ms(c, 1000);
    CHECK(outbox_inbound_remember(ob, "cmd-4", NULL) == ERROR_OK);
    CHECK(outbox_stats(ob, &st, NULL) == ERROR_OK);
    CHECK(st.inbound_ids == 3);
    CHECK(outbox_inbound_seen(ob, "cmd-1", &seen, NULL) == ERROR_OK && seen == 0);
    CHECK(outbox_inbound_seen(ob, "cmd-4", &seen, NULL) == ERROR_OK && seen == 1);

    /* after the ttl they are forgotten */
    clock_advance_ms(c, 1800000 - 2000);
    CHECK(outbox_inbound_seen(ob, "cmd-2", &seen, NULL) == ERROR_OK && seen == 0);
    CHECK(outbox_inbound_seen(ob, "cmd-3", &seen, NULL) == ERROR_OK && seen == 1);
    CHECK(outbox_prune(ob, &deleted, NULL) == ERROR_OK && deleted == 1);
    clock_advance_ms(c, 3600000);
    CHECK(outbox_prune(ob, &deleted, NULL) == ERROR_OK && deleted == 2);
    CHECK(outbox_stats(ob, &st, NULL) == ERROR_OK && st.inbound_ids == 0);
    outbox_close(ob);
    clock_free(c);
}

/* Another connection holds the write lock: the append fails and leaves
 * nothing behind, the next one works. */
static void test_busy(void)
{
    struct clock *c = clock_new_virtual(t0());
    struct outbox_config cfg;
    struct outbox *ob;
    struct outbox_stats st;
    struct error_detail ed = {{0}};
    sqlite3 *other = NULL;
    char path[256];

    outbox_config_init(&cfg, NULL, NULL);
    cfg.busy_timeout_ms = 0;
    ob = open_ob("busy.db", c, &cfg);
    snprintf(path, sizeof(path), "%s/busy.db", tmpdir);
    CHECK(sqlite3_open(path, &other) == SQLITE_OK);
    CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(append(ob, OUTBOX_ACK, "flexd/s1/ack", "a1", NULL) == ERROR_IO);
    CHECK(outbox_append(ob,
                        &(struct outbox_msg){.topic = "t", .payload_len = 0, .cls = OUTBOX_ACK},
                        NULL,
                        &ed) == ERROR_IO);
    CHECK_STR_CONTAINS(ed.text, "database is locked");
    CHECK(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(other);
    CHECK(append(ob, OUTBOX_ACK, "flexd/s1/ack", "a2", NULL) == ERROR_OK);
    CHECK(outbox_stats(ob, &st, NULL) == ERROR_OK && st.queued == 1);
    CHECK(!strcmp(next_payload(ob, NULL), "a2"));
    outbox_close(ob);
    clock_free(c);
}

static void test_errors(void)
{
    struct clock *c = clock_new_virtual(t0());
    struct outbox_config cfg;
    struct outbox *ob = NULL;
    struct error_detail ed = {{0}};
    char path[256];
    char junk[8192];
    int fd;

    snprintf(path, sizeof(path), "%s/garbage.db", tmpdir);
    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (char)(i * 31 + 7);
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
    close(fd);
    outbox_config_init(&cfg, path, c);
    CHECK(outbox_open(&cfg, &ob, &ed) == ERROR_IO);
    CHECK(ob == NULL);
    CHECK_STR_CONTAINS(ed.text, "garbage.db: set WAL mode: file is not a database");

    snprintf(path, sizeof(path), "%s/nodir/outbox.db", tmpdir);
    cfg.path = path;
    CHECK(outbox_open(&cfg, &ob, &ed) == ERROR_IO);
    CHECK_STR_CONTAINS(ed.text, "cannot open: No such file or directory");

    cfg.max_coalesced = 0;
    CHECK(outbox_open(&cfg, &ob, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "max_coalesced 0");
    clock_free(c);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/flexd-outbox-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_order_ack_replay();
    test_binary_payload();
    test_coalesce_and_bound();
    test_inbound();
    test_busy();
    test_errors();
    remove_dir(tmpdir);
    return CHECK_DONE();
}
