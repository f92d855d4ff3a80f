/* SPDX-License-Identifier: MIT */
/*
 * mqtt_broker.h - a real mosquitto broker for tests and benchmarks, on
 * loopback ports the kernel picks, configured in a fresh mkdtemp()
 * directory that is removed again at the end.
 *
 * TLS brokers get certificates made at start with the openssl command
 * line: a CA, a server certificate for 127.0.0.1 and localhost, and a
 * client certificate (ECDSA P-256, valid two days). The TLS listener
 * requires a client certificate; a second, plain listener (plain_port)
 * lets the test's own observers connect without one.
 *
 * MQTT_BROKER_TLS12_ONLY makes a broker that cannot speak TLS 1.3:
 * mosquitto 2.0's "tls_version tlsv1.2" is only a minimum (it still
 * negotiates 1.3), so the broker also runs with OPENSSL_CONF naming a
 * file whose system_default section says MaxProtocol = TLSv1.2.
 *
 * The broker queues without limit (max_queued_messages 0), queues QoS 0
 * for offline persistent sessions too, and with `persistence` keeps its
 * database in the directory: mqtt_broker_save() makes it write the
 * database now (SIGUSR1), so sessions survive mqtt_broker_kill() (SIGKILL)
 * and mqtt_broker_restart() on the same ports.
 *
 * FLEXD_KEEP_TMP=1 keeps the directory (and mosquitto.log) after the test;
 * FLEXD_BROKER_LOG_ALL=1 makes mosquitto log every packet.
 *
 * Header-only: include it in one test or benchmark. Single-threaded use.
 */
#ifndef FLEXD_TESTS_MQTT_BROKER_H
#define FLEXD_TESTS_MQTT_BROKER_H

#include "../common/clock.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MQTT_BROKER_FN static __attribute__((unused))

#define MQTT_BROKER_BIN      "/usr/sbin/mosquitto"
#define MQTT_BROKER_PATH_MAX 256

enum mqtt_broker_tls {
    MQTT_BROKER_PLAIN = 0,
    MQTT_BROKER_TLS13 = 1,      /* tls_version tlsv1.3 */
    MQTT_BROKER_TLS12_ONLY = 2, /* TLS 1.2 and nothing newer */
};

struct mqtt_broker {
    char dir[MQTT_BROKER_PATH_MAX];
    enum mqtt_broker_tls tls;
    int persistence;
    int port;       /* the listener under test (TLS unless MQTT_BROKER_PLAIN) */
    int plain_port; /* a plain listener; == port for a plain broker */
    pid_t pid;      /* 0 while not running */
    char ca[MQTT_BROKER_PATH_MAX];
    char client_cert[MQTT_BROKER_PATH_MAX];
    char client_key[MQTT_BROKER_PATH_MAX];
};

/* dir/name into out. */
MQTT_BROKER_FN void mqtt_broker_path(const struct mqtt_broker *b, const char *name, char *out)
{
    snprintf(out, MQTT_BROKER_PATH_MAX, "%s/%s", b->dir, name);
}

/* A loopback port nobody listens on right now. */
MQTT_BROKER_FN int mqtt_broker_free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int port = -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

/* Run argv with output to dir/commands.log and wait; 0 when it exits 0. */
MQTT_BROKER_FN int mqtt_broker_run(const struct mqtt_broker *b, char *const argv[])
{
    char log[MQTT_BROKER_PATH_MAX];
    int status = -1;
    pid_t pid;

    mqtt_broker_path(b, "commands.log", log);
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

        if (fd >= 0 && chdir(b->dir) == 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            execvp(argv[0], argv);
        }
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "mqtt_broker: %s failed; see %s\n", argv[0], log);
        return -1;
    }
    return 0;
}

MQTT_BROKER_FN int
mqtt_broker_write(const struct mqtt_broker *b, const char *name, const char *text)
{
    char path[MQTT_BROKER_PATH_MAX];
    FILE *f;
    int rc;

    mqtt_broker_path(b, name, path);
    f = fopen(path, "w");
    if (!f) {
        return -1;
    }
    rc = fputs(text, f) < 0 ? -1 : 0;
    return fclose(f) == 0 ? rc : -1;
}

/* A key and a certificate signed by the CA; ext is the x509v3 extension text. */
MQTT_BROKER_FN int
mqtt_broker_leaf(const struct mqtt_broker *b, const char *name, const char *cn, const char *ext)
{
    char key[64], csr[64], crt[64], extfile[64], subj[96];
    char *req[] = {"openssl",
                   "req",
                   "-newkey",
                   "ec",
                   "-pkeyopt",
                   "ec_paramgen_curve:prime256v1",
                   "-nodes",
                   "-keyout",
                   key,
                   "-out",
                   csr,
                   "-subj",
                   subj,
                   NULL};
    char *sign[] = {"openssl",
                    "x509",
                    "-req",
                    "-in",
                    csr,
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    extfile,
                    "-out",
                    crt,
                    NULL};

    snprintf(key, sizeof(key), "%s.key", name);
    snprintf(csr, sizeof(csr), "%s.csr", name);
    snprintf(crt, sizeof(crt), "%s.crt", name);
    snprintf(extfile, sizeof(extfile), "%s.ext", name);
    snprintf(subj, sizeof(subj), "/CN=%s", cn);
    if (mqtt_broker_write(b, extfile, ext) != 0) {
        return -1;
    }
    return mqtt_broker_run(b, req) == 0 && mqtt_broker_run(b, sign) == 0 ? 0 : -1;
}

MQTT_BROKER_FN int mqtt_broker_certs(struct mqtt_broker *b)
{
    char *ca[] = {"openssl",
                  "req",
                  "-x509",
                  "-newkey",
                  "ec",
                  "-pkeyopt",
                  "ec_paramgen_curve:prime256v1",
                  "-nodes",
                  "-keyout",
                  "ca.key",
                  "-out",
                  "ca.crt",
                  "-subj",
                  "/CN=flexd-test-ca",
                  "-days",
                  "2",
                  "-addext",
                  "basicConstraints=critical,CA:TRUE",
                  "-addext",
                  "keyUsage=critical,keyCertSign,cRLSign",
                  NULL};

    if (mqtt_broker_run(b, ca) != 0 ||
        mqtt_broker_leaf(b,
                         "server",
                         "localhost",
                         "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                         "extendedKeyUsage=serverAuth\n") != 0 ||
        mqtt_broker_leaf(b, "client", "flexd-test-client", "extendedKeyUsage=clientAuth\n") != 0) {
        return -1;
    }
    mqtt_broker_path(b, "ca.crt", b->ca);
    mqtt_broker_path(b, "client.crt", b->client_cert);
    mqtt_broker_path(b, "client.key", b->client_key);
    return 0;
}

MQTT_BROKER_FN int mqtt_broker_config(const struct mqtt_broker *b)
{
    char text[4096];
    size_t n = 0;
    struct passwd *pw = getpwuid(geteuid());

    /* as root, mosquitto would switch to user "mosquitto", who cannot
     * read this 0700 directory: stay who we are */
    if (geteuid() == 0 && pw) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, "user %s\n", pw->pw_name);
    }
    n += (size_t)snprintf(text + n,
                          sizeof(text) - n,
                          "allow_anonymous true\n"
                          "max_queued_messages 0\n"
                          "max_inflight_messages 0\n"
                          "queue_qos0_messages true\n"
                          "log_dest file %s/mosquitto.log\n"
                          "log_type %s\n"
                          "persistence %s\n"
                          "persistence_location %s/\n"
                          "autosave_interval 3600\n"
                          "listener %d 127.0.0.1\n",
                          b->dir,
                          getenv("FLEXD_BROKER_LOG_ALL") ? "all" : "notice\nlog_type information",
                          b->persistence ? "true" : "false",
                          b->dir,
                          b->port);
    if (b->tls != MQTT_BROKER_PLAIN) {
        n += (size_t)snprintf(text + n,
                              sizeof(text) - n,
                              "cafile %s/ca.crt\ncertfile %s/server.crt\nkeyfile %s/server.key\n"
                              "require_certificate true\ntls_version %s\n"
                              "listener %d 127.0.0.1\n",
                              b->dir,
                              b->dir,
                              b->dir,
                              b->tls == MQTT_BROKER_TLS13 ? "tlsv1.3" : "tlsv1.2",
                              b->plain_port);
    }
    if (n >= sizeof(text)) {
        return -1;
    }
    return mqtt_broker_write(b, "mosquitto.conf", text);
}

/* Make the directory, certificates, ports and configuration; the broker
 * is not started (the ports stay closed until mqtt_broker_launch()). */
MQTT_BROKER_FN int
mqtt_broker_prepare(struct mqtt_broker *b, enum mqtt_broker_tls tls, int persistence)
{
    const char *tmp = getenv("TMPDIR");

    memset(b, 0, sizeof(*b));
    b->tls = tls;
    b->persistence = persistence;
    snprintf(b->dir, sizeof(b->dir), "%s/flexd-mqtt-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(b->dir)) {
        fprintf(stderr, "mqtt_broker: mkdtemp %s: %s\n", b->dir, strerror(errno));
        return -1;
    }
    b->port = mqtt_broker_free_port();
    b->plain_port = tls == MQTT_BROKER_PLAIN ? b->port : mqtt_broker_free_port();
    while (b->plain_port == b->port && tls != MQTT_BROKER_PLAIN) {
        b->plain_port = mqtt_broker_free_port();
    }
    if (b->port < 0 || b->plain_port < 0 || (tls != MQTT_BROKER_PLAIN && mqtt_broker_certs(b)) ||
        (tls == MQTT_BROKER_TLS12_ONLY &&
         mqtt_broker_write(b,
                           "openssl-tls12.cnf",
                           "openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n"
                           "[ssl_sect]\nsystem_default = system_default_sect\n"
                           "[system_default_sect]\nMaxProtocol = TLSv1.2\n")) ||
        mqtt_broker_config(b) != 0) {
        return -1;
    }
    return 0;
}

MQTT_BROKER_FN int mqtt_broker_listening(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

/* Start mosquitto on the prepared ports and wait (5 s at most) until both
 * listeners accept connections. */
MQTT_BROKER_FN int mqtt_broker_launch(struct mqtt_broker *b)
{
    char conf[MQTT_BROKER_PATH_MAX], cnf[MQTT_BROKER_PATH_MAX], out[MQTT_BROKER_PATH_MAX];
    struct clock *clk = clock_new_real();
    int64_t deadline = clock_mono_ms(clk) + 5000;
    int rc = -1;

    mqtt_broker_path(b, "mosquitto.conf", conf);
    mqtt_broker_path(b, "openssl-tls12.cnf", cnf);
    mqtt_broker_path(b, "mosquitto.out", out);
    b->pid = fork();
    if (b->pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);

        if (b->tls == MQTT_BROKER_TLS12_ONLY) {
            setenv("OPENSSL_CONF", cnf, 1);
        }
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(MQTT_BROKER_BIN, MQTT_BROKER_BIN, "-c", conf, (char *)NULL);
        _exit(127);
    }
    while (b->pid > 0 && clock_mono_ms(clk) < deadline) {
        int status;

        if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
            fprintf(stderr, "mqtt_broker: mosquitto exited at start; see %s\n", out);
            b->pid = 0;
            break;
        }
        if (mqtt_broker_listening(b->port) && mqtt_broker_listening(b->plain_port)) {
            rc = 0;
            break;
        }
        clock_sleep_ms(clk, 5);
    }
    clock_free(clk);
    return rc;
}

MQTT_BROKER_FN int
mqtt_broker_start(struct mqtt_broker *b, enum mqtt_broker_tls tls, int persistence)
{
    return mqtt_broker_prepare(b, tls, persistence) == 0 ? mqtt_broker_launch(b) : -1;
}

/* SIGKILL: no goodbye, no database written. */
MQTT_BROKER_FN void mqtt_broker_kill(struct mqtt_broker *b)
{
    if (b->pid > 0) {
        kill(b->pid, SIGKILL);
        waitpid(b->pid, NULL, 0);
        b->pid = 0;
    }
}

MQTT_BROKER_FN int mqtt_broker_restart(struct mqtt_broker *b)
{
    mqtt_broker_kill(b);
    return mqtt_broker_launch(b);
}

/* Make a persistent broker write its database now and wait (3 s at most)
 * until the file is there. */
MQTT_BROKER_FN int mqtt_broker_save(struct mqtt_broker *b)
{
    char db[MQTT_BROKER_PATH_MAX];
    struct clock *clk = clock_new_real();
    int64_t deadline = clock_mono_ms(clk) + 3000;
    struct stat st;
    int rc = -1;

    mqtt_broker_path(b, "mosquitto.db", db);
    unlink(db);
    if (b->pid > 0 && b->persistence && kill(b->pid, SIGUSR1) == 0) {
        while (clock_mono_ms(clk) < deadline) {
            if (stat(db, &st) == 0 && st.st_size > 0) {
                rc = 0;
                break;
            }
            clock_sleep_ms(clk, 5);
        }
    }
    clock_free(clk);
    return rc;
}

/* Kill the broker and remove its directory (kept when FLEXD_KEEP_TMP is set). */
MQTT_BROKER_FN void mqtt_broker_stop(struct mqtt_broker *b)
{
    DIR *d;
    struct dirent *e;
    char path[2 * MQTT_BROKER_PATH_MAX];

    mqtt_broker_kill(b);
    if (!b->dir[0] || getenv("FLEXD_KEEP_TMP")) {
        return;
    }
    d = opendir(b->dir);
    e = d ? readdir(d) : NULL;
    while (e) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof(path), "%s/%s", b->dir, e->d_name);
            unlink(path);
        }
        e = readdir(d);
    }
    if (d) {
        closedir(d);
    }
    rmdir(b->dir);
    b->dir[0] = '\0';
}

#endif
