/* SPDX-License-Identifier: MIT */
/*
 * test_sunspec_modbus.c - the SunSpec client against real libmodbus TCP
 * servers on loopback, each serving a simulator register image in place
 * (a modbus_mapping_t whose tab_registers is the image, start address =
 * the image base). Covers: discovery at 40000 past an exception reply at
 * base 0; discovery at 50000 past a silent base 0 (timeout) and an
 * exception at 40000; PV W, meter W and battery SoC with scale factors;
 * WMaxLimPct and InWRte/OutWRte writes with read-back, checked again in
 * the server's image; and the peer dropping the connection.
 */
#include "check.h"

#include "../../io/sunspec.h"
#include "../../sim/sunspec_image.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One Modbus TCP server thread serving one image to one client. */
struct srv {
    struct sunspec_image *img;
    pthread_mutex_t lock; /* the image, between the server thread and the test */
    pthread_t thread;
    modbus_t *ctx;
    int listen_fd;
    int conn_fd;
    int port;
    uint16_t silent_below; /* requests starting below this address get no reply */
    int n_below;           /* requests that started below the image */
};

static uint16_t req_addr(modbus_t *ctx, const uint8_t *req)
{
    int h = modbus_get_header_length(ctx);

    return (uint16_t)((req[h + 1] << 8) | req[h + 2]);
}

static void *srv_main(void *arg)
{
    struct srv *sv = arg;
    uint8_t req[MODBUS_TCP_MAX_ADU_LENGTH];
    modbus_mapping_t map;

    memset(&map, 0, sizeof(map));
    map.start_registers = sunspec_image_base(sv->img);
    map.nb_registers = (int)sunspec_image_size(sv->img);
    map.tab_registers = sunspec_image_regs(sv->img);
    sv->conn_fd = modbus_tcp_accept(sv->ctx, &sv->listen_fd);
    if (sv->conn_fd < 0) {
        return NULL;
    }
    for (;;) {
        int n = modbus_receive(sv->ctx, req);
        uint16_t addr;

        if (n < 0) {
            break; /* the client went away */
        }
        if (n == 0) {
            continue;
        }
        addr = req_addr(sv->ctx, req);
        pthread_mutex_lock(&sv->lock);
        sv->n_below += addr < map.start_registers;
        if (addr >= sv->silent_below) {
            modbus_reply(sv->ctx, req, n, &map);
        }
        pthread_mutex_unlock(&sv->lock);
    }
    return NULL;
}

/* Listen on a free loopback port and serve img from a thread. */
static int srv_start(struct srv *sv, struct sunspec_image *img, uint16_t silent_below)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    memset(sv, 0, sizeof(*sv));
    sv->img = img;
    sv->silent_below = silent_below;
    sv->conn_fd = -1;
    pthread_mutex_init(&sv->lock, NULL);
    sv->ctx = modbus_new_tcp("127.0.0.1", 0);
    sv->listen_fd = sv->ctx ? modbus_tcp_listen(sv->ctx, 1) : -1;
    if (sv->listen_fd < 0 || getsockname(sv->listen_fd, (struct sockaddr *)&sa, &len)) {
        fprintf(stderr, "srv_start: %s\n", modbus_strerror(errno));
        return -1;
    }
    sv->port = ntohs(sa.sin_port);
    return pthread_create(&sv->thread, NULL, srv_main, sv);
}

/* Drop the connection (if any) and wait for the thread. */
static void srv_stop(struct srv *sv)
{
    shutdown(sv->listen_fd, SHUT_RDWR); /* wakes accept() if nobody came */
    if (sv->conn_fd >= 0) {
        shutdown(sv->conn_fd, SHUT_RDWR);
    }
    pthread_join(sv->thread, NULL);
    modbus_close(sv->ctx);
    close(sv->listen_fd);
    modbus_free(sv->ctx);
    pthread_mutex_destroy(&sv->lock);
}

static modbus_t *client_connect(int port, uint32_t timeout_ms)
{
    modbus_t *mb = modbus_new_tcp("127.0.0.1", port);

    modbus_set_response_timeout(mb, timeout_ms / 1000, (timeout_ms % 1000) * 1000);
    if (modbus_connect(mb) < 0) {
        fprintf(stderr, "connect %d: %s\n", port, modbus_strerror(errno));
    }
    return mb;
}

static struct sunspec_image *image(const struct sunspec_image_config *cfg)
{
    struct sunspec_image *img = NULL;
    struct error_detail ed = {{0}};

    if (sunspec_image_new(cfg, &img, &ed)) {
        fprintf(stderr, "image: %s\n", ed.text);
    }
    return img;
}

static double image_value(struct srv *sv, uint16_t id, const char *point)
{
    struct sunspec_models_value v;

    pthread_mutex_lock(&sv->lock);
    sunspec_image_get(sv->img, id, point, &v, NULL);
    pthread_mutex_unlock(&sv->lock);
    return v.present ? v.value : NAN;
}

static int srv_below(struct srv *sv)
{
    int n;

    pthread_mutex_lock(&sv->lock);
    n = sv->n_below;
    pthread_mutex_unlock(&sv->lock);
    return n;
}

static void test_pv(void)
{
    struct sunspec_image_config cfg = {SUNSPEC_IMAGE_PV, 40000, 100.0, 0, 0, 0, "PV-0042"};
    struct sunspec_image *img = image(&cfg);
    struct error_detail ed = {{0}};
    struct sunspec_pv pv;
    struct sunspec *s;
    struct srv sv;
    modbus_t *mb;
    char sn[40];

    CHECK(img != NULL);
    CHECK(sunspec_image_set(img, 103, "W", 55430, NULL) == ERROR_OK);
    CHECK(sunspec_image_set(img, 103, "WH", 8.76e6, NULL) == ERROR_OK);
    CHECK(srv_start(&sv, img, 0) == 0);
    mb = client_connect(sv.port, 1000);
    s = sunspec_new_modbus("pv1", mb);

    CHECK(sunspec_discover(s, &ed) == ERROR_OK);
    CHECK(sunspec_base(s) == 40000);
    CHECK(srv_below(&sv) == 1); /* base 0 was tried and answered with an exception */
    CHECK(sunspec_model_count(s) == 5 && sunspec_find(s, 123)->addr == 40182);
    CHECK(sunspec_read_model(s, 1, &ed) == ERROR_OK);
    CHECK(sunspec_string(s, 1, "SN", sn, sizeof(sn), NULL) == ERROR_OK);
    CHECK(strcmp(sn, "PV-0042") == 0);

    CHECK(sunspec_read_pv(s, &pv, &ed) == ERROR_OK);
    CHECK(pv.model == 103 && pv.power_kw == 55.43); /* W_SF 1: 5543 x 10 W */
    CHECK(pv.energy_kwh == 8760.0 && pv.rated_kw == 100.0 && pv.limit_pct == 100.0);

    CHECK(sunspec_set_pv_limit(s, 42.5, 60, &ed) == ERROR_OK);
    pthread_mutex_lock(&sv.lock);
    CHECK(sunspec_image_pv_limit_pct(img) == 42.5);
    pthread_mutex_unlock(&sv.lock);
    CHECK(image_value(&sv, 123, "WMaxLimPct_RvrtTms") == 60.0);
    CHECK(image_value(&sv, 123, "WMaxLim_Ena") == 1.0);
    CHECK(sunspec_read_pv(s, &pv, &ed) == ERROR_OK && pv.limit_pct == 42.5);

    /* the device goes away: a clear error naming the device and model */
    srv_stop(&sv);
    CHECK(sunspec_read_model(s, 103, &ed) == ERROR_IO);
    CHECK_STR_CONTAINS(ed.text, "pv1: model 103 at 40070");
    sunspec_free(s);
    modbus_close(mb);
    modbus_free(mb);
    sunspec_image_free(img);
}

static void test_meter(void)
{
    struct sunspec_image_config cfg = {SUNSPEC_IMAGE_METER, 50000, 200.0, 0, 0, 0, NULL};
    struct sunspec_image *img = image(&cfg);
    struct error_detail ed = {{0}};
    struct sunspec_meter m;
    struct sunspec *s;
    struct srv sv;
    modbus_t *mb;

    CHECK(img != NULL);
    CHECK(sunspec_image_set(img, 203, "W", -15230, NULL) == ERROR_OK);
    CHECK(sunspec_image_set(img, 203, "TotWhExp", 2.5e6, NULL) == ERROR_OK);
    /* base 0 never answers (timeout); 40000 gets an exception */
    CHECK(srv_start(&sv, img, 40000) == 0);
    mb = client_connect(sv.port, 300);
    s = sunspec_new_modbus("grid", mb);

    CHECK(sunspec_discover(s, &ed) == ERROR_OK);
    CHECK(sunspec_base(s) == 50000 && srv_below(&sv) == 2);
    CHECK(sunspec_read_meter(s, &m, &ed) == ERROR_OK);
    CHECK(m.model == 203 && m.power_kw == -15.23);
    CHECK(m.export_kwh == 2500.0 && isnan(m.import_kwh));

    sunspec_free(s);
    modbus_close(mb);
    modbus_free(mb);
    srv_stop(&sv);
    sunspec_image_free(img);
}

static void test_storage(void)
{
    struct sunspec_image_config cfg = {SUNSPEC_IMAGE_STORAGE, 40000, 50.0, 100.0, 0, 0, NULL};
    struct sunspec_storage_cmd cmd = {25.0, 10.0, 0.15, 300};
    struct sunspec_image *img = image(&cfg);
    struct sunspec_image_storage st;
    struct error_detail ed = {{0}};
    struct sunspec_battery b;
    struct sunspec *s;
    struct srv sv;
    modbus_t *mb;

    CHECK(img != NULL);
    CHECK(sunspec_image_set(img, 802, "SoC", 64.3, NULL) == ERROR_OK);
    CHECK(sunspec_image_set(img, 802, "W", -20000, NULL) == ERROR_OK);
    CHECK(srv_start(&sv, img, 0) == 0);
    mb = client_connect(sv.port, 1000);
    s = sunspec_new_modbus("ess1", mb);

    CHECK(sunspec_discover(s, &ed) == ERROR_OK);
    CHECK(sunspec_read_battery(s, &b, &ed) == ERROR_OK);
    CHECK_NEAR(b.soc, 0.643, 1e-12);
    CHECK(b.soc_model == 802 && b.power_kw == -20.0 && b.max_charge_kw == 50.0);

    CHECK(sunspec_set_storage(s, &cmd, &ed) == ERROR_OK);
    CHECK(image_value(&sv, 124, "InWRte") == 50.0);
    CHECK(image_value(&sv, 124, "OutWRte") == 20.0);
    CHECK(image_value(&sv, 124, "InOutWRte_RvrtTms") == 300.0);
    pthread_mutex_lock(&sv.lock);
    CHECK(sunspec_image_storage_cmd(img, &st, NULL) == ERROR_OK);
    pthread_mutex_unlock(&sv.lock);
    CHECK(st.mode == (SUNSPEC_MODELS_STORCTL_CHARGE | SUNSPEC_MODELS_STORCTL_DISCHARGE));
    CHECK(st.charge_limit_kw == 25.0 && st.discharge_limit_kw == 10.0);
    CHECK_NEAR(st.min_reserve, 0.15, 1e-12);

    sunspec_free(s);
    modbus_close(mb);
    modbus_free(mb);
    srv_stop(&sv);
    sunspec_image_free(img);
}

int main(void)
{
    test_pv();
    test_meter();
    test_storage();
    return CHECK_DONE();
}
