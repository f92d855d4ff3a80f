/* SPDX-License-Identifier: MIT */
/*
 * mqtt_options.c - the options of io/mqtt.h: their defaults, the checks
 * of every field (host, port, client id, prefix, keepalive, backoff,
 * credentials, TLS files) and of topic names and filters as MQTT 3.1.1
 * wants them, and the copy mqtt_start() makes of them before its thread
 * starts. No paho and no locks: mqtt_publish() checks its topic here from
 * any thread.
 */
#include "mqtt_internal.h"

#include "../common/alloc.h"

#include <string.h>
#include <unistd.h>

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
int mqtt_check_topic(const struct mqtt *m,
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
int mqtt_configure(struct mqtt *m,
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
