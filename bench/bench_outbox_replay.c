/* SPDX-License-Identifier: MIT */
/*
 * bench_outbox_replay.c - how fast io/mqtt.c empties its outbox after an
 * outage. The client starts while the broker is down, N messages (default
 * 20000, 256-byte payloads, never-drop class) are queued in the outbox
 * file, then a local mosquitto (tests/mqtt_broker.h) comes up and the
 * time from the connect to the last PUBACK is measured.
 *
 *   build/bench/bench_outbox_replay [N]
 *
 * The figure is bound by the outbox's two fsync'd SQLite commits per
 * message (mark in flight, delete on PUBACK) and the in-flight window
 * (MQTT_MAX_IN_FLIGHT), so it depends on the disk; it prints the append
 * rate too, for comparison.
 */
#include "../common/clock.h"
#include "../common/logger.h"
#include "../common/numparse.h"
#include "../io/mqtt.h"
#include "../io/outbox.h"
#include "../tests/mqtt_broker.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    struct clock *clk = clock_new_real();
    struct mqtt_broker b;
    struct mqtt_options o;
    struct mqtt_stats st;
    struct mqtt *m = NULL;
    struct error_detail ed;
    char outbox[MQTT_BROKER_PATH_MAX + 16];
    char payload[257];
    long n = 20000;
    int64_t t0, t_launch, t_connect = -1, t_end;
    int rc = 1;

    if (argc > 2 || (argc == 2 && numparse_long(argv[1], 1, 50000, &n) != 0)) {
        fprintf(stderr, "usage: bench_outbox_replay [messages, 1..50000]\n");
        return 2;
    }
    logger_set_level(LOGGER_WARN);
    if (mqtt_broker_prepare(&b, MQTT_BROKER_PLAIN, 0) != 0) {
        fprintf(stderr, "cannot prepare the broker\n");
        return 1;
    }
    snprintf(outbox, sizeof(outbox), "%s/outbox.db", b.dir);
    mqtt_options_default(&o);
    o.port = b.port;
    o.client_id = "flexd-bench-replay";
    o.prefix = "flexd/bench";
    o.outbox_path = outbox;
    o.backoff_min_ms = 50; /* reconnect soon after the broker is back: measure the replay */
    o.backoff_max_ms = 100;
    if (mqtt_start(&o, NULL, NULL, NULL, &m, &ed) != ERROR_OK) {
        fprintf(stderr, "%s\n", ed.text);
        goto out;
    }
    memset(payload, 'x', sizeof(payload) - 1);
    payload[sizeof(payload) - 1] = '\0';
    t0 = clock_mono_us(clk);
    for (long i = 0; i < n; i++) {
        int len = snprintf(payload, sizeof(payload), "{\"seq\":%ld,\"pad\":\"", i);

        payload[len] = 'x'; /* the rest of the 256 bytes stays padding */
        payload[sizeof(payload) - 3] = '"';
        payload[sizeof(payload) - 2] = '}';
        if (mqtt_publish(m, "report/daily", payload, 256, 0, OUTBOX_DAILY, NULL, &ed)) {
            fprintf(stderr, "append %ld: %s\n", i, ed.text);
            goto out;
        }
    }
    printf("appended %ld messages of 256 bytes in %.2f s: %.0f msg/s\n",
           n,
           (double)(clock_mono_us(clk) - t0) / 1e6,
           (double)n * 1e6 / (double)(clock_mono_us(clk) - t0));

    t_launch = clock_mono_us(clk);
    if (mqtt_broker_launch(&b) != 0) {
        fprintf(stderr, "cannot start mosquitto\n");
        goto out;
    }
    for (;;) {
        mqtt_stats(m, &st);
        if (t_connect < 0 && st.connected) {
            t_connect = clock_mono_us(clk);
        }
        if (st.queued == 0 || clock_mono_us(clk) - t_launch > 600LL * 1000000) {
            break;
        }
        clock_sleep_ms(clk, 200); /* mqtt_stats() counts the outbox rows: poll seldom */
    }
    t_end = clock_mono_us(clk);
    if (st.queued != 0 || t_connect < 0) {
        fprintf(stderr, "not drained: %lld still queued\n", (long long)st.queued);
        goto out;
    }
    printf("replayed %ld messages in %.2f s after the connect: %.0f msg/s"
           " (broker start to connect %.0f ms, window %d, %lld published, %lld acked)\n",
           n,
           (double)(t_end - t_connect) / 1e6,
           (double)n * 1e6 / (double)(t_end - t_connect),
           (double)(t_connect - t_launch) / 1e3,
           MQTT_MAX_IN_FLIGHT,
           (long long)st.published,
           (long long)st.acked);
    rc = 0;
out:
    mqtt_stop(m);
    mqtt_broker_stop(&b);
    clock_free(clk);
    return rc;
}
