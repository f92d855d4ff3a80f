/* SPDX-License-Identifier: MIT */
/*
 * test_regmap_modbus.c - register maps against a real libmodbus TCP server
 * on loopback (a free port picked by the kernel, the server in a thread):
 * every field of the simulated charger is read in the planned number of
 * requests, the limit and heartbeat are written and read back, a device
 * that keeps another value is caught, an out-of-range setpoint is never
 * sent; the ABB Terra AC map works against a server laid out like the
 * charger (write-only setpoints mirrored to their read-back registers);
 * the Eastron SDM630 meter map reads float32 power, counters and voltage
 * from a server laid out like the meter, and refuses its bad replies (NaN,
 * a power no grid connection carries, a negative counter, an exception
 * for registers the meter lacks); and each external failure has its named
 * case: an exception reply (illegal data address), a server that never
 * answers (timeout) and a server that hangs up half-way through a read.
 */
#include "check.h"

#include "../../common/alloc.h"
#include "../../common/fileio.h"
#include "../../config/regmap_file.h"
#include "../../io/regmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <modbus.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct ts_server;

/* Runs in the server thread after a write request was answered. */
typedef void (*ts_hook_fn)(struct ts_server *s, int address);

struct ts_server {
    modbus_t *ctx;
    modbus_mapping_t *map;
    int listen_fd;
    int port;
    pthread_t thread;
    int silent;      /* 1: receive requests, never answer */
    int close_after; /* hang up after answering this many requests (-1: never) */
    ts_hook_fn after_write;
    atomic_int requests; /* requests received */
};

static uint16_t *ts_reg(struct ts_server *s, int address)
{
    return &s->map->tab_registers[address - s->map->start_registers];
}

static void *ts_serve(void *arg)
{
    struct ts_server *s = arg;
    uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
    int header = modbus_get_header_length(s->ctx);
    int answered = 0;

    if (modbus_tcp_accept(s->ctx, &s->listen_fd) < 0) {
        return NULL;
    }
    for (;;) {
        int n = modbus_receive(s->ctx, q);
        int fc;

        if (n < 0) {
            break; /* the client hung up */
        }
        if (n == 0) {
            continue;
        }
        atomic_fetch_add(&s->requests, 1);
        if (s->silent) {
            continue;
        }
        if (answered == s->close_after) {
            break;
        }
        modbus_reply(s->ctx, q, n, s->map);
        answered++;
        fc = q[header];
        if (s->after_write &&
            (fc == MODBUS_FC_WRITE_SINGLE_REGISTER || fc == MODBUS_FC_WRITE_MULTIPLE_REGISTERS)) {
            s->after_write(s, q[header + 1] << 8 | q[header + 2]);
        }
    }
    modbus_close(s->ctx);
    return NULL;
}

/* Listen on 127.0.0.1 at a port the kernel picks and serve map. */
static int ts_start(struct ts_server *s, modbus_mapping_t *map)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);

    memset(s, 0, sizeof(*s));
    s->map = map;
    s->close_after = -1;
    s->ctx = modbus_new_tcp("127.0.0.1", 0);
    s->listen_fd = s->ctx ? modbus_tcp_listen(s->ctx, 1) : -1;
    if (s->listen_fd < 0 || getsockname(s->listen_fd, (struct sockaddr *)&addr, &len) != 0) {
        fprintf(stderr, "server: cannot listen: %s\n", modbus_strerror(errno));
        return -1;
    }
    s->port = ntohs(addr.sin_port);
    return 0;
}

static void ts_run(struct ts_server *s)
{
    pthread_create(&s->thread, NULL, ts_serve, s);
}

static void ts_stop(struct ts_server *s)
{
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    modbus_free(s->ctx);
    modbus_mapping_free(s->map);
}

static modbus_t *ts_client(const struct ts_server *s, uint32_t timeout_ms)
{
    modbus_t *mb = modbus_new_tcp("127.0.0.1", s->port);

    if (!mb || modbus_connect(mb) != 0) {
        fprintf(stderr, "client: cannot connect to port %d: %s\n", s->port, modbus_strerror(errno));
        modbus_free(mb);
        return NULL;
    }
    modbus_set_slave(mb, 1);
    modbus_set_response_timeout(mb, timeout_ms / 1000, (timeout_ms % 1000) * 1000);
    return mb;
}

static void ts_client_close(modbus_t *mb)
{
    if (mb) {
        modbus_close(mb);
        modbus_free(mb);
    }
}

static const char *ts_source_dir(void)
{
    const char *d = getenv("FLEXD_SOURCE_DIR");

    return d && *d ? d : FLEXD_SOURCE_DIR;
}

static struct regmap_file *ts_load(const char *name)
{
    char *dir = alloc_printf("%s/config/devices", ts_source_dir());
    struct regmap_file *m = NULL;
    struct error_detail ed;

    if (regmap_file_find(dir, name, &m, &ed) != ERROR_OK) {
        fprintf(stderr, "%s\n", ed.text);
        abort();
    }
    free(dir);
    return m;
}

/* The simulated charger's text with one edit, parsed. */
static struct regmap_file *ts_sim_edited(const char *from, const char *to)
{
    char *path = alloc_printf("%s/config/devices/flexd-sim-charger.json", ts_source_dir());
    char *text = NULL;
    char *edited;
    const char *at;
    size_t len = 0;
    struct regmap_file *m = NULL;
    struct error_detail ed;

    if (fileio_read_all(path, REGMAP_FILE_MAX_BYTES, &text, &len, &ed) != ERROR_OK ||
        !(at = strstr(text, from))) {
        fprintf(stderr, "test bug: %s: cannot edit \"%s\"\n", path, from);
        abort();
    }
    edited = alloc_printf("%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    if (regmap_file_parse(edited, strlen(edited), "edited", &m, &ed) != ERROR_OK) {
        fprintf(stderr, "test bug: %s\n", ed.text);
        abort();
    }
    free(edited);
    free(text);
    free(path);
    return m;
}

/* The simulated charger's registers: input 0..7, holding 0..101. */
static modbus_mapping_t *ts_sim_registers(void)
{
    modbus_mapping_t *r = modbus_mapping_new(0, 0, 102, 8);
    uint16_t in[8] = {2, 1, 0xFFFF, 0xFA24 /* -1500 W */, 0x0001, 0xE240 /* 123456 Wh */, 2305, 0};

    memcpy(r->tab_input_registers, in, sizeof(in));
    r->tab_registers[100] = 500; /* 50.0 kW */
    r->tab_registers[101] = 7;
    return r;
}

/* ---- the simulated charger ---------------------------------------------- */

static void test_sim_read_write(void)
{
    struct regmap_file *m = ts_load("flexd-sim-charger");
    struct ts_server s;
    struct regmap_reading rd;
    struct error_detail ed;
    modbus_t *mb;
    double applied = 0;
    int before;

    if (ts_start(&s, ts_sim_registers()) != 0) {
        CHECK(0);
        return;
    }
    ts_run(&s);
    mb = ts_client(&s, 2000);
    CHECK(mb != NULL);

    CHECK(regmap_read(mb, m, &rd, &ed) == ERROR_OK);
    CHECK(atomic_load(&s.requests) == 2); /* input 0..7 and holding 100..101 */
    for (int r = 0; r < REGMAP_FILE_ROLES; r++) {
        CHECK(rd.present[r] == (r <= REGMAP_FILE_ERROR_CODE)); /* the connector roles */
    }
    CHECK(rd.value[REGMAP_FILE_STATUS] == 2 && rd.state == REGMAP_FILE_CHARGING);
    CHECK(rd.value[REGMAP_FILE_PLUG] == 1 && rd.plug_state == REGMAP_FILE_OCCUPIED);
    CHECK(rd.value[REGMAP_FILE_POWER] == -1500 && rd.power_kw == -1.5);
    CHECK(rd.value[REGMAP_FILE_SESSION_ENERGY] == 123456);
    CHECK_NEAR(rd.session_energy_kwh, 123.456, 1e-9);
    CHECK_NEAR(rd.value[REGMAP_FILE_VOLTAGE], 230.5, 1e-9);
    CHECK(rd.value[REGMAP_FILE_ERROR_CODE] == 0);
    CHECK_NEAR(rd.value[REGMAP_FILE_LIMIT], 50.0, 1e-9);
    CHECK(rd.value[REGMAP_FILE_HEARTBEAT] == 7);

    /* 22.35 kW is 223.5 counts: rounds away from zero to 224 */
    CHECK(regmap_write(mb, m, REGMAP_FILE_LIMIT, 22.35, &applied, &ed) == ERROR_OK);
    CHECK(s.map->tab_registers[100] == 224);
    CHECK_NEAR(applied, 22.4, 1e-9);
    CHECK(regmap_write(mb, m, REGMAP_FILE_HEARTBEAT, 8, NULL, &ed) == ERROR_OK);
    CHECK(s.map->tab_registers[101] == 8);
    CHECK(regmap_read(mb, m, &rd, &ed) == ERROR_OK);
    CHECK_NEAR(rd.value[REGMAP_FILE_LIMIT], 22.4, 1e-9);

    /* out of range: refused before anything is sent */
    before = atomic_load(&s.requests);
    CHECK(regmap_write(mb, m, REGMAP_FILE_LIMIT, 700, NULL, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "flexd-sim-charger: limit: 700 kW: outside the setpoint range");
    CHECK(regmap_write(mb, m, REGMAP_FILE_POWER, 1, NULL, &ed) == ERROR_INVALID);
    CHECK(atomic_load(&s.requests) == before);
    CHECK(s.map->tab_registers[100] == 224);

    ts_client_close(mb);
    ts_stop(&s);
    regmap_file_free(m);
}

/* A charger that caps the limit at 11 kW. */
static void ts_cap_11kw(struct ts_server *s, int address)
{
    if (address == 100 && *ts_reg(s, 100) > 110) {
        *ts_reg(s, 100) = 110;
    }
}

/* A charger that stores one count less than it was sent. */
static void ts_one_less(struct ts_server *s, int address)
{
    if (address == 100) {
        (*ts_reg(s, 100))--;
    }
}

static void test_sim_readback(void)
{
    struct regmap_file *m = ts_load("flexd-sim-charger");
    struct ts_server s;
    struct error_detail ed;
    modbus_t *mb;
    double applied = -1;

    if (ts_start(&s, ts_sim_registers()) != 0) {
        CHECK(0);
        return;
    }
    s.after_write = ts_cap_11kw;
    ts_run(&s);
    mb = ts_client(&s, 2000);
    CHECK(regmap_write(mb, m, REGMAP_FILE_LIMIT, 22, &applied, &ed) == ERROR_STATE);
    CHECK_STR_CONTAINS(ed.text,
                       "flexd-sim-charger: limit: wrote 22 kW (raw 220) to holding register 100, "
                       "read back 11 kW (raw 110) from 100: the device kept another value");
    CHECK(applied == -1);
    CHECK(regmap_write(mb, m, REGMAP_FILE_LIMIT, 7.5, &applied, &ed) == ERROR_OK);
    CHECK_NEAR(applied, 7.5, 1e-9);
    /* within one raw count is the same value */
    s.after_write = ts_one_less;
    CHECK(regmap_write(mb, m, REGMAP_FILE_LIMIT, 50, &applied, &ed) == ERROR_OK);
    CHECK_NEAR(applied, 49.9, 1e-9);
    ts_client_close(mb);
    ts_stop(&s);
    regmap_file_free(m);
}

/* ---- ABB Terra AC --------------------------------------------------------- */

/* Write-only setpoints show up in their read-back registers, as on the
 * charger: 4100h-4101h in 4022h-4023h, 4106h in 4020h. */
static void ts_abb_mirror(struct ts_server *s, int address)
{
    if (address == 0x4100) {
        *ts_reg(s, 0x4022) = *ts_reg(s, 0x4100);
        *ts_reg(s, 0x4023) = *ts_reg(s, 0x4101);
    } else if (address == 0x4106) {
        *ts_reg(s, 0x4020) = *ts_reg(s, 0x4106);
    }
}

static void test_abb(void)
{
    struct regmap_file *m = ts_load("abb-terra-ac");
    struct ts_server s;
    struct regmap_reading rd;
    struct error_detail ed;
    modbus_t *mb;
    double applied = 0;

    if (ts_start(&s, modbus_mapping_new_start_address(0, 0, 0, 0, 0x4000, 0x110, 0, 0)) != 0) {
        CHECK(0);
        return;
    }
    *ts_reg(&s, 0x400D) = 0x8400; /* C2 charging, below command */
    *ts_reg(&s, 0x400B) = 0x0111; /* cable at charger and car */
    *ts_reg(&s, 0x4017) = 2301;   /* 230.1 V */
    *ts_reg(&s, 0x401D) = 7360;   /* 7360 W */
    *ts_reg(&s, 0x401E) = 0x0001; /* 100000 Wh, */
    *ts_reg(&s, 0x401F) = 0x86A0; /* high word first */
    *ts_reg(&s, 0x4020) = 60;     /* timeout 60 s */
    *ts_reg(&s, 0x4023) = 16000;  /* 16 A set by Modbus */
    s.after_write = ts_abb_mirror;
    ts_run(&s);
    mb = ts_client(&s, 2000);

    CHECK(regmap_read(mb, m, &rd, &ed) == ERROR_OK);
    CHECK(atomic_load(&s.requests) == 1); /* 4008h..4023h */
    CHECK(rd.state == REGMAP_FILE_CHARGING && rd.value[REGMAP_FILE_STATUS] == 4);
    CHECK(rd.plug_state == REGMAP_FILE_OCCUPIED);
    CHECK(rd.power_kw == 7.36 && rd.session_energy_kwh == 100);
    CHECK_NEAR(rd.value[REGMAP_FILE_VOLTAGE], 230.1, 1e-9);
    CHECK_NEAR(rd.value[REGMAP_FILE_LIMIT], 16, 1e-9);
    CHECK(rd.value[REGMAP_FILE_HEARTBEAT] == 60);

    CHECK(regmap_write(mb, m, REGMAP_FILE_LIMIT, 10.5, &applied, &ed) == ERROR_OK);
    CHECK(*ts_reg(&s, 0x4100) == 0 && *ts_reg(&s, 0x4101) == 10500);
    CHECK_NEAR(applied, 10.5, 1e-9);
    CHECK(regmap_write(mb, m, REGMAP_FILE_HEARTBEAT, 30, &applied, &ed) == ERROR_OK);
    CHECK(*ts_reg(&s, 0x4106) == 30 && applied == 30);
    CHECK(regmap_write(mb, m, REGMAP_FILE_HEARTBEAT, 5, &applied, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text,
                       "abb-terra-ac: heartbeat: 5 s: outside the setpoint range [10, 65535]");
    ts_client_close(mb);
    ts_stop(&s);
    regmap_file_free(m);
}

/* ---- Eastron SDM630 meter ---------------------------------------------------- */

/* f as float32 in two registers, high word first (libmodbus' own float
 * helpers have swapped bytes between releases, so the test does it). */
static void ts_float(float f, uint16_t *regs)
{
    uint32_t u;

    memcpy(&u, &f, sizeof(u));
    regs[0] = (uint16_t)(u >> 16);
    regs[1] = (uint16_t)(u & 0xFFFFu);
}

/* The meter's input registers 0..n-1 (30001..), float32 high word first:
 * 230.4 V on L1, net power w W, import 98765.25 kWh, export 4321.5 kWh. */
static modbus_mapping_t *ts_sdm630_registers(int n, float w)
{
    modbus_mapping_t *r = modbus_mapping_new(0, 0, 0, n);

    ts_float(230.4f, &r->tab_input_registers[0x0000]);
    ts_float(w, &r->tab_input_registers[0x0034]);
    if (n >= 0x4C) {
        ts_float(98765.25f, &r->tab_input_registers[0x0048]);
        ts_float(4321.5f, &r->tab_input_registers[0x004A]);
    }
    return r;
}

/* Serve regs (the server owns them) and connect a client; NULL when the
 * server cannot listen or the client cannot connect. */
static modbus_t *ts_up(struct ts_server *s, modbus_mapping_t *regs)
{
    if (ts_start(s, regs) != 0) {
        return NULL;
    }
    ts_run(s);
    return ts_client(s, 2000);
}

static void test_sdm630(void)
{
    struct regmap_file *m = ts_load("eastron-sdm630");
    struct regmap_file *charger = ts_load("flexd-sim-charger");
    struct ts_server s;
    struct regmap_meter_reading rd;
    struct error_detail ed;
    modbus_t *mb;

    mb = ts_up(&s, ts_sdm630_registers(0x4C, -12345.5f));
    if (!mb) {
        CHECK(0);
        return;
    }
    CHECK(regmap_read_meter(mb, m, &rd, &ed) == ERROR_OK);
    CHECK(atomic_load(&s.requests) == 3); /* 30001, 30053, 30073..30076 */
    CHECK(rd.power_kw == -12.3455);       /* exporting */
    CHECK(rd.import_kwh == 98765.25 && rd.export_kwh == 4321.5);
    CHECK_NEAR(rd.voltage_v, 230.4, 1e-4);
    ts_float(7360.0f, &s.map->tab_input_registers[0x0034]);
    CHECK(regmap_read_meter(mb, m, &rd, &ed) == ERROR_OK && rd.power_kw == 7.36);

    /* bad replies: each refused with the map, the field and the value */
    s.map->tab_input_registers[0x0034] = 0x7FC0; /* NaN: "not available" */
    s.map->tab_input_registers[0x0035] = 0x0000;
    CHECK(regmap_read_meter(mb, m, &rd, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "eastron-sdm630: power: float32 0x7FC00000: not a finite number");
    CHECK(isnan(rd.power_kw) && isnan(rd.import_kwh) && isnan(rd.voltage_v));
    ts_float(3e9f, &s.map->tab_input_registers[0x0034]);
    CHECK(regmap_read_meter(mb, m, &rd, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text, "eastron-sdm630: power: 3000000000 W: beyond +-1e+06 kW");
    CHECK(isnan(rd.power_kw));
    ts_float(-150.0f, &s.map->tab_input_registers[0x0034]);
    ts_float(-1.0f, &s.map->tab_input_registers[0x0048]);
    CHECK(regmap_read_meter(mb, m, &rd, &ed) == ERROR_RANGE);
    CHECK_STR_CONTAINS(ed.text,
                       "eastron-sdm630: energy_import: -1 kWh: an energy counter cannot be "
                       "negative");
    ts_float(98765.5f, &s.map->tab_input_registers[0x0048]);
    CHECK(regmap_read_meter(mb, m, &rd, &ed) == ERROR_OK && rd.power_kw == -0.15);
    CHECK(rd.import_kwh == 98765.5);

    /* a charger's map is not a meter's */
    CHECK(regmap_read_meter(mb, charger, &rd, &ed) == ERROR_INVALID);
    CHECK_STR_CONTAINS(ed.text, "flexd-sim-charger: a map of kind \"connector\", not a meter map");
    ts_client_close(mb);
    ts_stop(&s);

    /* a meter without the counters' registers answers an exception */
    mb = ts_up(&s, ts_sdm630_registers(0x40, 100.0f));
    if (!mb) {
        CHECK(0);
        return;
    }
    CHECK(regmap_read_meter(mb, m, &rd, &ed) == ERROR_IO && errno == EMBXILADD);
    CHECK_STR_CONTAINS(ed.text,
                       "eastron-sdm630: read input registers 72..75: Illegal data address");
    CHECK(isnan(rd.power_kw) && isnan(rd.export_kwh));
    ts_client_close(mb);
    ts_stop(&s);
    regmap_file_free(m);
    regmap_file_free(charger);
}

/* ---- external failures ---------------------------------------------------- */

static void test_exception_reply(void)
{
    struct regmap_file *m = ts_sim_edited("\"table\": \"input\", \"address\": 0,",
                                          "\"table\": \"input\", \"address\": 500,");
    struct regmap_file *w = ts_sim_edited("\"table\": \"holding\", \"address\": 100,",
                                          "\"table\": \"holding\", \"address\": 300,");
    struct ts_server s;
    struct regmap_reading rd;
    struct error_detail ed;
    modbus_t *mb;

    if (ts_start(&s, ts_sim_registers()) != 0) {
        CHECK(0);
        return;
    }
    ts_run(&s);
    mb = ts_client(&s, 2000);
    CHECK(regmap_read(mb, m, &rd, &ed) == ERROR_IO);
    CHECK(errno == EMBXILADD);
    CHECK_STR_CONTAINS(ed.text,
                       "flexd-sim-charger: read input registers 500..500: Illegal data address "
                       "(Modbus exception 2)");
    CHECK(rd.state == REGMAP_FILE_OFFLINE && !rd.present[REGMAP_FILE_POWER]);
    CHECK(isnan(rd.power_kw));
    CHECK(regmap_write(mb, w, REGMAP_FILE_LIMIT, 10, NULL, &ed) == ERROR_IO);
    CHECK_STR_CONTAINS(ed.text,
                       "flexd-sim-charger: write holding registers 300..300: Illegal data address");
    /* the connection survives an exception */
    CHECK(regmap_read(mb, w, &rd, &ed) == ERROR_IO); /* 300 is not there to read either */
    CHECK(regmap_write(mb, m, REGMAP_FILE_LIMIT, 10, NULL, &ed) == ERROR_OK);
    ts_client_close(mb);
    ts_stop(&s);
    regmap_file_free(m);
    regmap_file_free(w);
}

static void test_timeout(void)
{
    struct regmap_file *m = ts_load("flexd-sim-charger");
    struct ts_server s;
    struct regmap_reading rd;
    struct error_detail ed;
    modbus_t *mb;

    if (ts_start(&s, ts_sim_registers()) != 0) {
        CHECK(0);
        return;
    }
    s.silent = 1;
    ts_run(&s);
    mb = ts_client(&s, 150);
    CHECK(regmap_read(mb, m, &rd, &ed) == ERROR_IO);
    CHECK(errno == ETIMEDOUT);
    CHECK_STR_CONTAINS(ed.text, "flexd-sim-charger: read holding registers 100..101: ");
    CHECK_STR_CONTAINS(ed.text, "timed out");
    CHECK(rd.state == REGMAP_FILE_OFFLINE);
    CHECK(regmap_write(mb, m, REGMAP_FILE_HEARTBEAT, 1, NULL, &ed) == ERROR_IO);
    ts_client_close(mb);
    ts_stop(&s);
    regmap_file_free(m);
}

static void test_peer_hangs_up(void)
{
    struct regmap_file *m = ts_load("flexd-sim-charger");
    struct ts_server s;
    struct regmap_reading rd;
    struct error_detail ed;
    modbus_t *mb;

    if (ts_start(&s, ts_sim_registers()) != 0) {
        CHECK(0);
        return;
    }
    s.close_after = 1; /* answers the holding read, then hangs up */
    ts_run(&s);
    mb = ts_client(&s, 2000);
    CHECK(regmap_read(mb, m, &rd, &ed) == ERROR_IO);
    CHECK_STR_CONTAINS(ed.text, "flexd-sim-charger: read input registers 0..7: ");
    /* one failed request fails the whole reading */
    CHECK(rd.state == REGMAP_FILE_OFFLINE && !rd.present[REGMAP_FILE_LIMIT]);
    ts_client_close(mb);
    ts_stop(&s);
    regmap_file_free(m);
}

int main(void)
{
    test_sim_read_write();
    test_sim_readback();
    test_abb();
    test_sdm630();
    test_exception_reply();
    test_timeout();
    test_peer_hangs_up();
    return CHECK_DONE();
}
