/* SPDX-License-Identifier: MIT */
/*
 * devsim.c - the device simulator (devsim.h): one libmodbus TCP server per
 * station device and a physics model in virtual time.
 *
 * Threads: one server thread per device owns its listening socket, its
 * clients and its libmodbus context, and serves the device's register
 * tables under the device mutex. The physics thread owns the world and the
 * physics state under ds->mu; every tick it takes each device mutex in
 * turn (lock order: ds->mu, then a device mutex; server threads never take
 * ds->mu) to read what clients wrote, run revert timers and heartbeat
 * fall-backs, and publish the new measurements. Virtual time is
 * start_ms + real monotonic time since start x speed.
 *
 * Client conventions served (io/device_drivers.c, docs/devices.md): meter
 * W import positive; storage forced operation (discharge P: OutWRte = P,
 * InWRte = -P; charge C: InWRte = C, OutWRte = -C); PV limit as
 * WMaxLimPct of WMax; connector limits in the map's unit (A through
 * 3 x 230 V for "AC..." connectors, 750 V for DC); parking-io layout.
 */
#include "devsim.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/logger.h"
#include "../config/regmap_file.h"
#include "../io/regmap.h"
#include "../models/rng.h"
#include "sunspec_image.h"
#include "world.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <modbus.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#define DS_CLIENTS_MAX   16
#define DS_SUNSPEC_BASE  40000
#define DS_AC_PHASE_V    230.0 /* as io/device_drivers.c: kW <-> A */
#define DS_DC_V          750.0
#define DS_HB_DEFAULT_S  10    /* counter heartbeat timeout when revert_s is 0 */
#define DS_SLOW_DEFAULT  1000  /* ms, DEVSIM_FAULT_SLOW without a delay */
#define DS_PARK_STAY_H   2.0   /* mean stay of a non-EV car */
#define DS_PARK_BITS_MAX 65536 /* discrete inputs addressable by Modbus */

const char *const devsim_fault_names[6] = {"none", "drop", "slow", "exception", "stuck", NULL};

struct ds_conn {
    int charger; /* index in st.chargers */
    double max_kw;
    int ac;                /* "AC..." connector id, as io/device_drivers.c decides */
    double volts_x_phases; /* kW <-> A */
    int dev;               /* device serving it, -1 none */
    int plugged;
    double remaining_kwh;
    double car_max_kw;
    double session_kwh;
    int64_t dep_ms; /* INT64_MAX: until devsim_unplug */
    double kw;
    double limit_kw; /* in force */
};

struct ds_dev {
    struct devsim *ds;
    int index;
    const struct station_device *cfg; /* in ds->st */
    int target;                       /* PV array or flat connector index, -1 */
    pthread_t thread;
    int running;
    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;
    int wake[2];
    int stop;
    modbus_t *mb;
    int listen_fd;
    int port;
    int n_clients;
    int client[DS_CLIENTS_MAX];
    modbus_mapping_t tab;
    struct sunspec_image *img;
    const struct regmap_file *map;
    int fault;
    int delay_ms;
    int64_t writes;
    int64_t last_write_us;
    uint64_t requests, ctl_writes, hb_writes;  /* server side counts */
    uint64_t seen_requests, seen_ctl, seen_hb; /* physics side: last seen */
    int64_t ctl_ms;                            /* virtual time of the last control write */
    int64_t alive_ms;                          /* connector: last sign of life */
    double hb_last;
    int hb_armed;
    int fallen;
    double energy_wh; /* PV lifetime energy */
};

struct devsim {
    struct station st;
    struct devsim_options opt;
    char host[64];
    struct clock *clk; /* real */
    struct world *w;
    struct rng *rng;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    pthread_t physics;
    int physics_running;
    int64_t mono0_us, start_ms, now_ms, w0_ms, period_ms, step_ms;
    int *car_done; /* per world car: the last world cycle it was handled in */
    int n_dev;
    struct ds_dev dev[DEVSIM_DEV_MAX];
    int n_maps;
    struct regmap_file *maps[DEVSIM_DEV_MAX];
    int n_conn;
    struct ds_conn conn[DEVSIM_CONN_MAX];
    double pv_factor, pv_override_kw, base_override_kw;
    double pv_limit_kw[STATION_PV_ARRAYS_MAX];
    double pv_kw[STATION_PV_ARRAYS_MAX];
    double soc, ess_cmd_kw, import_wh, export_wh;
    int spaces;
    uint8_t *space; /* 1 = occupied; EV car at connector i is space i */
    int nonev;      /* non-EV cars parked */
    uint32_t gate_in, gate_out;
    struct devsim_state snap;
};

void devsim_options_default(struct devsim_options *o)
{
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->speed = 1.0;
    o->seed = 1;
    o->days = 2;
    o->tick_ms = 100;
}

/* ---- register tables ---- */

static void ds_ss(struct ds_dev *d, uint16_t model, const char *point, double v)
{
    sunspec_image_set(d->img, model, point, v, NULL);
}

static double ds_ss_get(const struct ds_dev *d, uint16_t model, const char *point)
{
    struct sunspec_models_value v;

    if (sunspec_image_get(d->img, model, point, &v, NULL) || !v.present) {
        return NAN;
    }
    return v.value;
}

static int ds_has_model(const struct ds_dev *d, uint16_t model)
{
    uint16_t addr;

    return sunspec_image_model_addr(d->img, model, &addr) == ERROR_OK;
}

static uint16_t *ds_rm_regs(struct ds_dev *d, int table, int address)
{
    if (table == REGMAP_FILE_HOLDING) {
        return d->tab.tab_registers + (address - d->tab.start_registers);
    }
    return d->tab.tab_input_registers + (address - d->tab.start_input_registers);
}

/* A field's value as a client reads it (from its read-back register). */
static int ds_rm_get(struct ds_dev *d, int role, double *v)
{
    const struct regmap_file_field *f = &d->map->field[role];

    return regmap_decode(f,
                         ds_rm_regs(d, f->table, f->readback),
                         regmap_file_words(f->type),
                         v,
                         NULL);
}

static void ds_rm_put(struct ds_dev *d, int role, double v)
{
    const struct regmap_file_field *f = &d->map->field[role];

    if (d->map->present[role]) {
        regmap_encode(f, v, ds_rm_regs(d, f->table, f->address), NULL);
    }
}

/* kW or kWh in the unit of a map's power or energy field (W, Wh: x 1000). */
static double ds_rm_kilo(const struct ds_dev *d, int role, double v)
{
    int unit = d->map->field[role].unit;

    return unit == REGMAP_FILE_UNIT_W || unit == REGMAP_FILE_UNIT_WH ? 1000.0 * v : v;
}

/* A setpoint stored as if a client had written it: at its address and its
 * read-back register, clamped to its range. */
static void ds_rm_set(struct ds_dev *d, int role, double v)
{
    const struct regmap_file_field *f = &d->map->field[role];
    uint16_t *at = ds_rm_regs(d, f->table, f->address);

    regmap_encode(f, fmin(fmax(v, f->min), f->max), at, NULL);
    memcpy(ds_rm_regs(d, f->table, f->readback), at, sizeof(uint16_t) * regmap_file_words(f->type));
}

/* A code field set to the first raw code the map reads as state. */
static void ds_rm_code(struct ds_dev *d, int role, int state)
{
    const struct regmap_file_field *f = &d->map->field[role];
    uint16_t *r = ds_rm_regs(d, f->table, f->address);
    int words = regmap_file_words(f->type), k = 0;
    uint32_t cur, code;

    if (!d->map->present[role]) {
        return;
    }
    while (k < f->n_states && f->states[k].state != state) {
        k++;
    }
    if (k == f->n_states) {
        return;
    }
    if (!f->mask) {
        regmap_encode(f, f->states[k].raw, r, NULL);
        return;
    }
    code = (uint32_t)(int64_t)f->states[k].raw;
    for (uint32_t m = f->mask; !(m & 1u); m >>= 1) {
        code <<= 1;
    }
    if (words == 1) {
        r[0] = (uint16_t)((r[0] & ~f->mask) | (code & f->mask));
        return;
    }
    cur = f->order == REGMAP_FILE_BIG ? (uint32_t)r[0] << 16 | r[1] : (uint32_t)r[1] << 16 | r[0];
    cur = (cur & ~f->mask) | (code & f->mask);
    r[f->order == REGMAP_FILE_BIG ? 0 : 1] = (uint16_t)(cur >> 16);
    r[f->order == REGMAP_FILE_BIG ? 1 : 0] = (uint16_t)(cur & 0xFFFFu);
}

static double ds_conn_to_kw(const struct ds_dev *d, const struct ds_conn *c, double v)
{
    switch (d->map->field[REGMAP_FILE_LIMIT].unit) {
    case REGMAP_FILE_UNIT_W:
        return v / 1000.0;
    case REGMAP_FILE_UNIT_A:
        return v * c->volts_x_phases / 1000.0;
    default:
        return v;
    }
}

static double ds_conn_from_kw(const struct ds_dev *d, const struct ds_conn *c, double kw)
{
    switch (d->map->field[REGMAP_FILE_LIMIT].unit) {
    case REGMAP_FILE_UNIT_W:
        return kw * 1000.0;
    case REGMAP_FILE_UNIT_A:
        return kw * 1000.0 / c->volts_x_phases;
    default:
        return kw;
    }
}

/* Tables of a register-map device: each table spans its fields and
 * read-backs. */
static void ds_tables_regmap(struct ds_dev *d)
{
    int lo[2] = {65536, 65536}, hi[2] = {-1, -1};
    const struct regmap_file *m = d->map;

    for (int r = 0; r < REGMAP_FILE_ROLES; r++) {
        const struct regmap_file_field *f = &m->field[r];
        int n = regmap_file_words(f->type);

        if (!m->present[r]) {
            continue;
        }
        lo[f->table] = f->address < lo[f->table] ? f->address : lo[f->table];
        lo[f->table] = f->readback < lo[f->table] ? f->readback : lo[f->table];
        hi[f->table] = f->address + n - 1 > hi[f->table] ? f->address + n - 1 : hi[f->table];
        hi[f->table] = f->readback + n - 1 > hi[f->table] ? f->readback + n - 1 : hi[f->table];
    }
    for (int t = 0; t < 2; t++) {
        int n = hi[t] >= lo[t] ? hi[t] - lo[t] + 1 : 0;
        uint16_t *regs = alloc_array((size_t)n + 1, sizeof(uint16_t));

        if (t == REGMAP_FILE_HOLDING) {
            d->tab.start_registers = n ? lo[t] : 0;
            d->tab.nb_registers = n;
            d->tab.tab_registers = regs;
        } else {
            d->tab.start_input_registers = n ? lo[t] : 0;
            d->tab.nb_input_registers = n;
            d->tab.tab_input_registers = regs;
        }
    }
}

/* A connector's registers before the first tick. */
static void ds_init_conn(struct ds_dev *d, const struct ds_conn *c)
{
    const struct regmap_file *m = d->map;

    /* until a client says otherwise the charger gives the car what it can */
    ds_rm_set(d, REGMAP_FILE_LIMIT, ds_conn_from_kw(d, c, c->max_kw));
    if (m->present[REGMAP_FILE_HEARTBEAT]) {
        ds_rm_set(d, REGMAP_FILE_HEARTBEAT, m->field[REGMAP_FILE_HEARTBEAT].mode ? 60.0 : 0.0);
        ds_rm_get(d, REGMAP_FILE_HEARTBEAT, &d->hb_last);
    }
    ds_rm_put(d, REGMAP_FILE_VOLTAGE, c->ac ? DS_AC_PHASE_V : DS_DC_V);
    ds_rm_put(d, REGMAP_FILE_ERROR_CODE, 0.0);
}

static double ds_meter_rating_kw(const struct station *st)
{
    double kw = st->base_load.amenity_day_kw + st->base_load.night_kw + st->base_load.lighting_kw;

    for (int i = 0; i < st->n_chargers; i++) {
        kw += st->chargers[i].max_kw;
    }
    for (int i = 0; i < st->n_pv_arrays; i++) {
        kw += st->pv_arrays[i].inverter_ac_kw;
    }
    kw += st->has_ess ? fmax(st->ess.charge_max_kw, st->ess.discharge_max_kw) : 0.0;
    return fmax(kw, st->grid.transformer_kva);
}

static int ds_tables(struct devsim *ds, struct ds_dev *d, struct error_detail *ed)
{
    const struct station *st = &ds->st;
    struct sunspec_image_config sc = {SUNSPEC_IMAGE_METER, DS_SUNSPEC_BASE, 0, 0, 0, 0, d->cfg->id};
    char serial[33];
    int rc;

    if (d->cfg->protocol == STATION_PROTOCOL_REGMAP) {
        ds_tables_regmap(d);
        if (d->cfg->kind == STATION_DEVICE_CONNECTOR) {
            ds_init_conn(d, &ds->conn[d->target]);
        } else {
            ds_rm_put(d, REGMAP_FILE_VOLTAGE, DS_AC_PHASE_V);
        }
        return ERROR_OK;
    }
    if (d->cfg->protocol == STATION_PROTOCOL_PARKING) {
        d->tab.nb_input_bits = ds->spaces;
        d->tab.tab_input_bits = alloc_array((size_t)ds->spaces + 1, 1);
        d->tab.nb_input_registers = 4;
        d->tab.tab_input_registers = alloc_array(4, sizeof(uint16_t));
        return ERROR_OK;
    }
    snprintf(serial, sizeof(serial), "%s", d->cfg->id);
    sc.serial = serial;
    if (d->cfg->kind == STATION_DEVICE_PV) {
        sc.kind = SUNSPEC_IMAGE_PV;
        sc.rated_kw = st->pv_arrays[d->target].inverter_ac_kw;
    } else if (d->cfg->kind == STATION_DEVICE_STORAGE) {
        sc.kind = SUNSPEC_IMAGE_STORAGE;
        sc.rated_kw = fmax(st->ess.charge_max_kw, st->ess.discharge_max_kw);
        sc.capacity_kwh = st->ess.capacity_kwh;
    } else {
        sc.rated_kw = ds_meter_rating_kw(st);
    }
    rc = sunspec_image_new(&sc, &d->img, ed);
    if (rc) {
        return rc;
    }
    d->tab.start_registers = DS_SUNSPEC_BASE;
    d->tab.nb_registers = (int)sunspec_image_size(d->img);
    d->tab.tab_registers = sunspec_image_regs(d->img);
    if (sc.kind == SUNSPEC_IMAGE_STORAGE) {
        ds_ss(d, 124, "MinRsvPct", 100.0 * st->ess.soc_min);
        ds_ss(d, 802, "SoCMin", 100.0 * st->ess.soc_min);
        ds_ss(d, 802, "SoCMax", 100.0 * st->ess.soc_max);
        ds_ss(d, 802, "SoCRsvMin", 100.0 * st->ess.soc_min);
        ds_ss(d, 802, "WChaRteMax", 1000.0 * st->ess.charge_max_kw);
        ds_ss(d, 802, "WDisChaRteMax", 1000.0 * st->ess.discharge_max_kw);
    }
    return ERROR_OK;
}

/* ---- server threads ---- */

/* The registers a request writes: 1 with *addr, *n set, 0 for no write. */
static int ds_write_range(const uint8_t *q, int len, int hl, int *addr, int *n)
{
    const uint8_t *p = q + hl;

    if (len < hl + 5) {
        return 0;
    }
    switch (p[0]) {
    case 0x06: /* write single register */
    case 0x16: /* mask write register */
        *addr = p[1] << 8 | p[2];
        *n = 1;
        return 1;
    case 0x10: /* write multiple registers */
        *addr = p[1] << 8 | p[2];
        *n = p[3] << 8 | p[4];
        return 1;
    case 0x17: /* read/write multiple registers */
        if (len < hl + 9) {
            return 0;
        }
        *addr = p[5] << 8 | p[6];
        *n = p[7] << 8 | p[8];
        return 1;
    default:
        return 0;
    }
}

static int ds_in(int a, int n, int lo, int len)
{
    return a >= lo && a + n <= lo + len;
}

/* 1 when every register written is one a client may write: the control
 * models of a SunSpec image, the setpoints of a register map. */
static int ds_write_ok(const struct ds_dev *d, int a, int n)
{
    static const uint16_t pv[] = {121, 123, 704}, ess[] = {124, 802};
    const uint16_t *ids = d->cfg->kind == STATION_DEVICE_PV ? pv : ess;
    size_t n_ids = d->cfg->kind == STATION_DEVICE_PV ? 3 : 2;

    if (d->cfg->kind == STATION_DEVICE_METER) {
        return 0; /* a meter takes no setpoint, whatever it speaks */
    }
    if (d->map) {
        for (int r = a; r < a + n; r++) {
            const struct regmap_file_field *l = &d->map->field[REGMAP_FILE_LIMIT];
            const struct regmap_file_field *h = &d->map->field[REGMAP_FILE_HEARTBEAT];

            if (!ds_in(r, 1, l->address, regmap_file_words(l->type)) &&
                !(d->map->present[REGMAP_FILE_HEARTBEAT] &&
                  ds_in(r, 1, h->address, regmap_file_words(h->type)))) {
                return 0;
            }
        }
        return 1;
    }
    if (!d->img) {
        return 0;
    }
    for (size_t i = 0; i < n_ids; i++) {
        uint16_t at;

        if (sunspec_image_model_addr(d->img, ids[i], &at) == ERROR_OK &&
            ds_in(a, n, at + 2, sunspec_models_find(ids[i])->length)) {
            return 1;
        }
    }
    return 0;
}

/* After a write: count it, and copy setpoints to their read-back registers. */
static void ds_written(struct ds_dev *d, int a, int n)
{
    d->writes++;
    d->last_write_us = clock_mono_us(d->ds->clk);
    d->ctl_writes++;
    if (!d->map) {
        return;
    }
    for (int role = REGMAP_FILE_LIMIT; role <= REGMAP_FILE_HEARTBEAT; role++) {
        const struct regmap_file_field *f = &d->map->field[role];
        int words = regmap_file_words(f->type);

        if (!d->map->present[role] || a >= f->address + words || a + n <= f->address) {
            continue;
        }
        memmove(ds_rm_regs(d, f->table, f->readback),
                ds_rm_regs(d, f->table, f->address),
                sizeof(uint16_t) * words);
        d->hb_writes += role == REGMAP_FILE_HEARTBEAT;
    }
}

static void ds_close_clients(struct ds_dev *d)
{
    for (int i = 0; i < d->n_clients; i++) {
        close(d->client[i]);
    }
    d->n_clients = 0;
}

static void ds_drop_client(struct ds_dev *d, int fd)
{
    for (int i = 0; i < d->n_clients; i++) {
        if (d->client[i] == fd) {
            close(fd);
            d->client[i] = d->client[--d->n_clients];
            return;
        }
    }
}

/* Open or close the listening socket as the fault asks; mu held. */
static void ds_listen_state(struct ds_dev *d)
{
    if (d->fault == DEVSIM_FAULT_DROP && d->listen_fd >= 0) {
        ds_close_clients(d);
        close(d->listen_fd);
        d->listen_fd = -1;
        LOGI("devsim", "%s: dropped, port %d closed", d->cfg->id, d->port);
    } else if (d->fault != DEVSIM_FAULT_DROP && d->listen_fd < 0) {
        d->listen_fd = modbus_tcp_listen(d->mb, DS_CLIENTS_MAX);
        if (d->listen_fd < 0) {
            LOGW("devsim", "%s: listen again on port %d: %s", d->cfg->id, d->port, strerror(errno));
        }
    }
}

/* Serve one request from client fd. */
static void ds_request(struct ds_dev *d, int fd)
{
    uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
    int len, a = 0, n = 0, is_write, rc;

    modbus_set_socket(d->mb, fd);
    len = modbus_receive(d->mb, q);
    pthread_mutex_lock(&d->mu);
    if (len < 0) {
        ds_drop_client(d, fd);
    }
    if (len > 0 && d->fault == DEVSIM_FAULT_SLOW) {
        int64_t until = clock_mono_ms(d->ds->clk) + d->delay_ms;

        while (!d->stop && d->fault == DEVSIM_FAULT_SLOW && clock_mono_ms(d->ds->clk) < until) {
            clock_wait(d->ds->clk, &d->cv, &d->mu, until - clock_mono_ms(d->ds->clk));
        }
    }
    if (len <= 0 || d->stop || d->fault == DEVSIM_FAULT_DROP) {
        pthread_mutex_unlock(&d->mu);
        return;
    }
    d->requests++;
    is_write = ds_write_range(q, len, modbus_get_header_length(d->mb), &a, &n);
    if (d->fault == DEVSIM_FAULT_EXCEPTION) {
        rc = modbus_reply_exception(d->mb, q, MODBUS_EXCEPTION_SLAVE_OR_SERVER_FAILURE);
    } else if (is_write && !ds_write_ok(d, a, n)) {
        rc = modbus_reply_exception(d->mb, q, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    } else {
        rc = modbus_reply(d->mb, q, len, &d->tab);
        if (rc > 0 && is_write) {
            ds_written(d, a, n);
        }
    }
    if (rc < 0) {
        ds_drop_client(d, fd);
    }
    pthread_mutex_unlock(&d->mu);
}

static void ds_accept(struct ds_dev *d)
{
    int fd = modbus_tcp_accept(d->mb, &d->listen_fd);

    if (fd < 0) {
        return;
    }
    if (d->n_clients == DS_CLIENTS_MAX) {
        LOGW("devsim", "%s: more than %d clients: connection refused", d->cfg->id, DS_CLIENTS_MAX);
        close(fd);
        return;
    }
    d->client[d->n_clients++] = fd;
}

static void *ds_serve(void *arg)
{
    struct ds_dev *d = arg;

    for (;;) {
        int fds[DS_CLIENTS_MAX], n, maxfd = d->wake[0], lfd, rc;
        struct timeval tv = {0, 200000};
        fd_set rd;
        char buf[16];

        pthread_mutex_lock(&d->mu);
        if (d->stop) {
            pthread_mutex_unlock(&d->mu);
            break;
        }
        ds_listen_state(d);
        FD_ZERO(&rd);
        FD_SET(d->wake[0], &rd);
        lfd = d->listen_fd;
        if (lfd >= 0) {
            FD_SET(lfd, &rd);
            maxfd = lfd > maxfd ? lfd : maxfd;
        }
        n = d->n_clients;
        memcpy(fds, d->client, sizeof(int) * (size_t)n);
        pthread_mutex_unlock(&d->mu);
        for (int i = 0; i < n; i++) {
            FD_SET(fds[i], &rd);
            maxfd = fds[i] > maxfd ? fds[i] : maxfd;
        }
        /* a timeout only to retry a listen that failed */
        rc = select(maxfd + 1, &rd, NULL, NULL, lfd >= 0 ? NULL : &tv);
        if (rc <= 0) {
            continue;
        }
        if (FD_ISSET(d->wake[0], &rd)) {
            while (read(d->wake[0], buf, sizeof(buf)) > 0) {
            }
            continue; /* fds may have been closed: look again */
        }
        if (lfd >= 0 && FD_ISSET(lfd, &rd)) {
            pthread_mutex_lock(&d->mu);
            if (d->listen_fd == lfd) {
                ds_accept(d);
            }
            pthread_mutex_unlock(&d->mu);
        }
        for (int i = 0; i < n; i++) {
            if (FD_ISSET(fds[i], &rd)) {
                ds_request(d, fds[i]);
            }
        }
    }
    return NULL;
}

static void ds_wake(struct ds_dev *d)
{
    char c = 1;

    if (write(d->wake[1], &c, 1) < 0) {
        /* full pipe: the thread is awake anyway */
    }
}

static int ds_open(struct devsim *ds, struct ds_dev *d, struct error_detail *ed)
{
    int port = ds->opt.port_base ? ds->opt.port_base + d->index : 0;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);

    if (pipe(d->wake) != 0) {
        d->wake[0] = d->wake[1] = -1;
        return error_setf(ed, ERROR_IO, "%s: pipe: %s", d->cfg->id, strerror(errno));
    }
    fcntl(d->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(d->wake[1], F_SETFL, O_NONBLOCK);
    if (port > 65535) {
        return error_setf(ed, ERROR_INVALID, "%s: port %d is above 65535", d->cfg->id, port);
    }
    d->mb = modbus_new_tcp(ds->host, port);
    d->listen_fd = d->mb ? modbus_tcp_listen(d->mb, DS_CLIENTS_MAX) : -1;
    if (d->listen_fd < 0 || getsockname(d->listen_fd, (struct sockaddr *)&sa, &sl) != 0) {
        return error_setf(ed,
                          ERROR_IO,
                          "%s: listen on %s:%d: %s",
                          d->cfg->id,
                          ds->host,
                          port,
                          d->mb ? strerror(errno) : "bad address");
    }
    d->port = ntohs(sa.sin_port);
    if (port == 0) {
        /* a context with the port chosen, to listen again after a drop */
        modbus_free(d->mb);
        d->mb = modbus_new_tcp(ds->host, d->port);
    }
    return ERROR_OK;
}

/* ---- physics ---- */

/* World value at virtual time t: linear between step midpoints, or the
 * step's own value; the world repeats after its days. */
static double ds_world(const struct devsim *ds, const double *series, int64_t t, int interpolate)
{
    int steps = ds->w->steps;
    int64_t rel = (t - ds->w0_ms) % ds->period_ms;
    double x = (double)rel / (double)ds->step_ms - (interpolate ? 0.5 : 0.0);
    double k0 = floor(x);
    int i0 = (((int)k0 % steps) + steps) % steps;

    if (!interpolate) {
        return series[i0];
    }
    return series[i0] + (x - k0) * (series[(i0 + 1) % steps] - series[i0]);
}

static void ds_plug(struct devsim *ds, int i, double kwh, double max_kw, int64_t dep_ms)
{
    struct ds_conn *c = &ds->conn[i];

    c->plugged = 1;
    c->remaining_kwh = kwh;
    c->car_max_kw = max_kw;
    c->session_kwh = 0.0;
    c->dep_ms = dep_ms;
    ds->gate_in++;
    if (i < ds->spaces) {
        ds->space[i] = 1;
    }
}

static void ds_unplug(struct devsim *ds, int i)
{
    struct ds_conn *c = &ds->conn[i];

    c->plugged = 0;
    c->kw = 0.0;
    c->session_kwh = 0.0;
    ds->gate_out++;
    if (i < ds->spaces) {
        ds->space[i] = 0;
    }
}

/* Cars of the world plug in at plug_step and leave at dep_step of each
 * world cycle; a car finding its connector taken goes away. */
static void ds_cars(struct devsim *ds, int64_t now)
{
    int64_t cycle = (now - ds->w0_ms) / ds->period_ms;

    for (int i = 0; i < ds->n_conn; i++) {
        if (ds->conn[i].plugged && now >= ds->conn[i].dep_ms) {
            ds_unplug(ds, i);
        }
    }
    for (int64_t c = cycle > 0 ? cycle - 1 : 0; ds->opt.cars && c <= cycle; c++) {
        int64_t t0 = ds->w0_ms + c * ds->period_ms;

        for (int j = 0; j < ds->w->n_cars; j++) {
            const struct world_car *car = &ds->w->cars[j];
            int64_t plug = t0 + car->plug_step * ds->step_ms,
                    dep = t0 + car->dep_step * ds->step_ms;

            if (car->connector < 0 || ds->car_done[j] >= c || now < plug) {
                continue;
            }
            ds->car_done[j] = (int)c;
            if (now < dep && !ds->conn[car->connector].plugged) {
                ds_plug(ds, car->connector, car->wanted_kwh, car->max_kw, dep);
            }
        }
    }
}

/* Non-EV cars: arrivals and departures around a daily occupancy profile. */
static void ds_parking(struct devsim *ds, int64_t now, double dt_h, int init)
{
    int first = ds->n_conn < ds->spaces ? ds->n_conn : ds->spaces, room = ds->spaces - first;
    struct clock_civil cv;
    double h, frac;
    int64_t arrive, leave;

    if (room <= 0) {
        return;
    }
    clock_to_local(now, &cv);
    h = cv.hour + cv.minute / 60.0;
    frac = 0.10 + 0.45 * exp(-0.5 * pow((h - 13.0) / 3.0, 2.0)) +
           (station_window_contains(&ds->st.sharing.parking, cv.hour * 60 + cv.minute) ? 0.25 : 0);
    if (init) {
        arrive = (int64_t)floor(frac * room + 0.5);
        leave = 0;
    } else {
        arrive = rng_poisson(ds->rng, frac * room * dt_h / DS_PARK_STAY_H);
        leave = rng_poisson(ds->rng, ds->nonev * (1.0 - exp(-dt_h / DS_PARK_STAY_H)));
    }
    for (; leave > 0 && ds->nonev > 0; leave--) {
        int s;

        do {
            s = first + (int)rng_below(ds->rng, (uint64_t)room);
        } while (!ds->space[s]);
        ds->space[s] = 0;
        ds->nonev--;
        ds->gate_out++;
    }
    for (; arrive > 0 && ds->nonev < room; arrive--) {
        int s;

        do {
            s = first + (int)rng_below(ds->rng, (uint64_t)room);
        } while (ds->space[s]);
        ds->space[s] = 1;
        ds->nonev++;
        ds->gate_in += !init;
    }
}

/* PV: the limit in force, disabled when its revert time passed without a
 * write to the control model. */
static void ds_ctl_pv(struct devsim *ds, struct ds_dev *d, int64_t now)
{
    uint16_t m = ds_has_model(d, 123) ? 123 : 704;
    const char *ena_pt = m == 123 ? "WMaxLim_Ena" : "WMaxLimPctEna";
    double ena = ds_ss_get(d, m, ena_pt);
    double rv = ds_ss_get(d, m, m == 123 ? "WMaxLimPct_RvrtTms" : "WMaxLimPctRvrtTms");
    double wmax = ds_ss_get(d, 121, "WMax");

    if (ena == 1.0 && rv > 0.0 && (double)(now - d->ctl_ms) >= rv * 1000.0) {
        ds_ss(d, m, ena_pt, 0.0);
        LOGI("devsim", "%s: PV limit reverted after %g s without a write", d->cfg->id, rv);
    }
    if (isnan(wmax)) {
        wmax = 1000.0 * ds->st.pv_arrays[d->target].inverter_ac_kw;
    }
    ds->pv_limit_kw[d->target] = sunspec_image_pv_limit_pct(d->img) / 100.0 * wmax / 1000.0;
}

/* Storage: model 124 as forced operation (a negative rate forces the other
 * direction), back to idle when its revert time passed without a write. */
static void ds_ctl_storage(struct devsim *ds, struct ds_dev *d, int64_t now)
{
    struct sunspec_image_storage c;

    sunspec_image_storage_cmd(d->img, &c, NULL);
    if (c.mode && c.revert_s > 0 && now - d->ctl_ms >= (int64_t)c.revert_s * 1000) {
        ds_ss(d, 124, "StorCtl_Mod", 0.0);
        ds_ss(d, 124, "InWRte", 100.0);
        ds_ss(d, 124, "OutWRte", 100.0);
        LOGI("devsim", "%s: storage control reverted after %u s", d->cfg->id, c.revert_s);
        sunspec_image_storage_cmd(d->img, &c, NULL);
    }
    ds->ess_cmd_kw = 0.0;
    if (c.charge_limit_kw < 0.0 && c.discharge_limit_kw >= 0.0) {
        ds->ess_cmd_kw = fmin(-c.charge_limit_kw, c.discharge_limit_kw);
    } else if (c.discharge_limit_kw < 0.0 && c.charge_limit_kw >= 0.0) {
        ds->ess_cmd_kw = -fmin(-c.discharge_limit_kw, c.charge_limit_kw);
    }
}

/* Connector: the heartbeat watchdog (armed by the first heartbeat write; a
 * counter must move within revert_s, a timeout heartbeat is kept by any
 * request within its value) and the limit in force. */
static void ds_ctl_conn(struct devsim *ds, struct ds_dev *d, int64_t now, int hb_written, int asked)
{
    struct ds_conn *c = &ds->conn[d->target];
    const struct regmap_file_field *hb = &d->map->field[REGMAP_FILE_HEARTBEAT];
    double v = NAN, timeout_s = d->cfg->revert_s > 0 ? d->cfg->revert_s : DS_HB_DEFAULT_S;
    int alive;

    if (d->map->present[REGMAP_FILE_HEARTBEAT]) {
        ds_rm_get(d, REGMAP_FILE_HEARTBEAT, &v);
        if (hb->mode == REGMAP_FILE_HB_COUNTER) {
            alive = v != d->hb_last;
        } else {
            alive = hb_written || (d->hb_armed && asked);
            timeout_s = v;
        }
        d->hb_armed |= alive;
        d->hb_last = v;
        if (alive) {
            if (d->fallen) {
                LOGI("devsim", "%s: heartbeat back", d->cfg->id);
            }
            d->alive_ms = now;
            d->fallen = 0;
        } else if (d->hb_armed && timeout_s > 0 && now - d->alive_ms > timeout_s * 1000.0) {
            ds_rm_set(d, REGMAP_FILE_LIMIT, ds_conn_from_kw(d, c, 0.0));
            if (!d->fallen) {
                LOGI("devsim", "%s: no heartbeat for %g s: safe limit", d->cfg->id, timeout_s);
            }
            d->fallen = 1;
            d->alive_ms = now;
        }
    }
    if (ds_rm_get(d, REGMAP_FILE_LIMIT, &v) == ERROR_OK) {
        c->limit_kw = fmax(0.0, ds_conn_to_kw(d, c, v));
    }
}

/* Read what clients wrote to a device since the last tick; mu of d held. */
static void ds_controls(struct devsim *ds, struct ds_dev *d, int64_t now)
{
    int hb_written = d->hb_writes != d->seen_hb, asked = d->requests != d->seen_requests;

    if (d->ctl_writes != d->seen_ctl) {
        d->ctl_ms = now; /* revert timers count from the last write */
    }
    d->seen_ctl = d->ctl_writes;
    d->seen_hb = d->hb_writes;
    d->seen_requests = d->requests;
    if (d->cfg->kind == STATION_DEVICE_PV) {
        ds_ctl_pv(ds, d, now);
    } else if (d->cfg->kind == STATION_DEVICE_STORAGE) {
        ds_ctl_storage(ds, d, now);
    } else if (d->cfg->kind == STATION_DEVICE_CONNECTOR) {
        ds_ctl_conn(ds, d, now, hb_written, asked);
    }
}

static void ds_ess(struct devsim *ds, double dt_h, double *ess_kw)
{
    const struct station_ess *e = &ds->st.ess;
    double p = fmin(fmax(ds->ess_cmd_kw, -e->charge_max_kw), e->discharge_max_kw);

    if (!ds->st.has_ess) {
        *ess_kw = 0.0;
        return;
    }
    if (p > 0.0) {
        double stored = fmax(0.0, ds->soc - e->soc_min) * e->capacity_kwh;

        p = dt_h > 0.0 ? fmin(p, stored * e->discharge_efficiency / dt_h) : (stored > 0 ? p : 0);
        ds->soc -= p * dt_h / e->discharge_efficiency / e->capacity_kwh;
    } else if (p < 0.0) {
        double room = fmax(0.0, e->soc_max - ds->soc) * e->capacity_kwh;

        p = dt_h > 0.0 ? -fmin(-p, room / e->charge_efficiency / dt_h) : (room > 0 ? p : 0);
        ds->soc += -p * dt_h * e->charge_efficiency / e->capacity_kwh;
    }
    *ess_kw = p;
}

/* Each car draws what its limit, the car, the connector and the energy it
 * still wants allow; a cabinet over its rating shares it pro rata. */
static double ds_connectors(struct devsim *ds, double dt_h)
{
    double want[STATION_CHARGERS_MAX] = {0}, total = 0.0;

    for (int i = 0; i < ds->n_conn; i++) {
        struct ds_conn *c = &ds->conn[i];
        double kw = fmin(fmin(c->limit_kw, c->car_max_kw), c->max_kw);

        if (!c->plugged || c->remaining_kwh <= 1e-9) {
            kw = 0.0;
        } else if (dt_h > 0.0) {
            kw = fmin(kw, c->remaining_kwh / dt_h);
        }
        c->kw = kw;
        want[c->charger] += kw;
    }
    for (int i = 0; i < ds->n_conn; i++) {
        struct ds_conn *c = &ds->conn[i];
        double cap = ds->st.chargers[c->charger].max_kw;

        if (want[c->charger] > cap) {
            c->kw *= cap / want[c->charger];
        }
        c->session_kwh += c->kw * dt_h;
        c->remaining_kwh -= c->kw * dt_h;
        total += c->kw;
    }
    return total;
}

/* Measurements into device d's registers; mu of d held. */
static void ds_publish(struct devsim *ds, struct ds_dev *d, const struct devsim_state *s)
{
    if (d->cfg->kind == STATION_DEVICE_PV) {
        double kw = ds->pv_kw[d->target], w = 1000.0 * kw;

        ds_ss(d, 103, "W", w);
        ds_ss(d, 103, "A", w / (3.0 * DS_AC_PHASE_V));
        for (int p = 0; p < 3; p++) {
            ds_ss(d, 103, (const char *[]){"AphA", "AphB", "AphC"}[p], w / (9.0 * DS_AC_PHASE_V));
        }
        ds_ss(d, 103, "WH", d->energy_wh);
        ds_ss(d, 103, "St", kw <= 0.0 ? 2 : sunspec_image_pv_limit_pct(d->img) < 100.0 ? 5 : 4);
    } else if (d->cfg->kind == STATION_DEVICE_STORAGE) {
        const struct station_ess *e = &ds->st.ess;
        int st = s->ess_kw > 0.0 ? 3 : s->ess_kw < 0.0 ? 4 : 6;

        st = st == 6 && s->soc <= e->soc_min + 1e-6   ? 2
             : st == 6 && s->soc >= e->soc_max - 1e-6 ? 5
                                                      : st;
        ds_ss(d, 103, "W", 1000.0 * s->ess_kw);
        ds_ss(d, 103, "A", 1000.0 * fabs(s->ess_kw) / (3.0 * DS_AC_PHASE_V));
        ds_ss(d, 124, "ChaState", 100.0 * s->soc);
        ds_ss(d, 124, "ChaSt", st);
        ds_ss(d, ds_has_model(d, 802) ? 802 : 713, "SoC", 100.0 * s->soc);
        ds_ss(d, 802, "W", 1000.0 * s->ess_kw);
        ds_ss(d, 802, "A", 1000.0 * s->ess_kw / 800.0);
        ds_ss(d, 802, "ChaSt", st);
    } else if (d->cfg->kind == STATION_DEVICE_METER && d->map) {
        ds_rm_put(d, REGMAP_FILE_POWER, ds_rm_kilo(d, REGMAP_FILE_POWER, s->grid_kw));
        ds_rm_put(d,
                  REGMAP_FILE_ENERGY_IMPORT,
                  ds_rm_kilo(d, REGMAP_FILE_ENERGY_IMPORT, s->import_kwh));
        ds_rm_put(d,
                  REGMAP_FILE_ENERGY_EXPORT,
                  ds_rm_kilo(d, REGMAP_FILE_ENERGY_EXPORT, s->export_kwh));
    } else if (d->cfg->kind == STATION_DEVICE_METER) {
        double w = 1000.0 * s->grid_kw;

        ds_ss(d, 203, "W", w);
        ds_ss(d, 203, "A", fabs(w) / (3.0 * DS_AC_PHASE_V));
        for (int p = 0; p < 3; p++) {
            ds_ss(d, 203, (const char *[]){"WphA", "WphB", "WphC"}[p], w / 3.0);
            ds_ss(d,
                  203,
                  (const char *[]){"AphA", "AphB", "AphC"}[p],
                  fabs(w) / (9.0 * DS_AC_PHASE_V));
        }
        ds_ss(d, 203, "TotWhImp", ds->import_wh);
        ds_ss(d, 203, "TotWhExp", ds->export_wh);
    } else if (d->map) {
        const struct ds_conn *c = &ds->conn[d->target];
        int state = c->kw > 1e-6 ? REGMAP_FILE_CHARGING
                    : c->plugged ? REGMAP_FILE_OCCUPIED
                                 : REGMAP_FILE_AVAILABLE;

        ds_rm_code(d, REGMAP_FILE_STATUS, state);
        ds_rm_code(d, REGMAP_FILE_PLUG, c->plugged ? REGMAP_FILE_OCCUPIED : REGMAP_FILE_AVAILABLE);
        ds_rm_put(d, REGMAP_FILE_POWER, ds_rm_kilo(d, REGMAP_FILE_POWER, c->kw));
        ds_rm_put(d,
                  REGMAP_FILE_SESSION_ENERGY,
                  ds_rm_kilo(d, REGMAP_FILE_SESSION_ENERGY, c->session_kwh));
    } else if (d->cfg->kind == STATION_DEVICE_PARKING) {
        memcpy(d->tab.tab_input_bits, ds->space, (size_t)ds->spaces);
        d->tab.tab_input_registers[0] = (uint16_t)(ds->gate_in >> 16);
        d->tab.tab_input_registers[1] = (uint16_t)(ds->gate_in & 0xFFFFu);
        d->tab.tab_input_registers[2] = (uint16_t)(ds->gate_out >> 16);
        d->tab.tab_input_registers[3] = (uint16_t)(ds->gate_out & 0xFFFFu);
    }
}

/* Connectors and parking into the snapshot. */
static void ds_snap(const struct devsim *ds, struct devsim_state *s)
{
    s->n_conn = ds->n_conn;
    for (int i = 0; i < ds->n_conn; i++) {
        s->conn_kw[i] = ds->conn[i].kw;
        s->conn_limit_kw[i] = ds->conn[i].limit_kw;
        s->conn_plugged[i] = ds->conn[i].plugged;
        s->conn_session_kwh[i] = ds->conn[i].session_kwh;
    }
    s->parking_occupied = 0;
    for (int i = 0; i < ds->spaces; i++) {
        s->parking_occupied += ds->space[i];
    }
    s->gate_in = ds->gate_in;
    s->gate_out = ds->gate_out;
}

/* One physics step to virtual time now; ds->mu held. */
static void ds_tick(struct devsim *ds, int init)
{
    const struct station *st = &ds->st;
    struct devsim_state *s = &ds->snap;
    double real_ms = (double)(clock_mono_us(ds->clk) - ds->mono0_us) / 1000.0;
    int64_t now = ds->start_ms + (int64_t)(real_ms * ds->opt.speed);
    double dt_h = init ? 0.0 : fmax(0.0, (double)(now - ds->now_ms) / 3.6e6);
    double rating = 0.0, avail;

    ds->now_ms = now;
    for (int i = 0; i < st->n_pv_arrays; i++) {
        ds->pv_limit_kw[i] = st->pv_arrays[i].inverter_ac_kw;
        rating += st->pv_arrays[i].inverter_ac_kw;
    }
    for (int i = 0; i < ds->n_conn; i++) {
        ds->conn[i].limit_kw = ds->conn[i].dev < 0 ? ds->conn[i].max_kw : ds->conn[i].limit_kw;
    }
    for (int i = 0; i < ds->n_dev; i++) {
        pthread_mutex_lock(&ds->dev[i].mu);
        ds_controls(ds, &ds->dev[i], now);
        pthread_mutex_unlock(&ds->dev[i].mu);
    }
    ds_cars(ds, now);
    avail =
        ds->pv_override_kw >= 0.0 ? ds->pv_override_kw : ds_world(ds, ds->w->pv_true_kw, now, 1);
    avail = fmax(0.0, ds->pv_factor >= 0.0 ? avail * ds->pv_factor : avail);
    s->now_ms = now;
    s->pv_available_kw = avail;
    s->pv_kw = 0.0;
    s->pv_limit_kw = 0.0;
    for (int i = 0; i < st->n_pv_arrays; i++) {
        double r = st->pv_arrays[i].inverter_ac_kw;

        ds->pv_kw[i] = fmin(rating > 0.0 ? avail * r / rating : 0.0, fmin(r, ds->pv_limit_kw[i]));
        s->pv_kw += ds->pv_kw[i];
        s->pv_limit_kw += ds->pv_limit_kw[i];
    }
    s->base_kw = ds->base_override_kw >= 0.0 ? ds->base_override_kw
                                             : ds_world(ds, ds->w->base_true_kw, now, 0);
    ds_ess(ds, dt_h, &s->ess_kw);
    s->soc = ds->soc;
    s->ess_cmd_kw = ds->ess_cmd_kw;
    s->ev_kw = ds_connectors(ds, dt_h);
    ds_parking(ds, now, dt_h, init);
    s->grid_kw = s->base_kw + s->ev_kw - s->ess_kw - s->pv_kw;
    ds->import_wh += 1000.0 * fmax(0.0, s->grid_kw) * dt_h;
    ds->export_wh += 1000.0 * fmax(0.0, -s->grid_kw) * dt_h;
    s->import_kwh = ds->import_wh / 1000.0;
    s->export_kwh = ds->export_wh / 1000.0;
    ds_snap(ds, s);
    for (int i = 0; i < ds->n_dev; i++) {
        struct ds_dev *d = &ds->dev[i];

        pthread_mutex_lock(&d->mu);
        if (d->cfg->kind == STATION_DEVICE_PV) {
            d->energy_wh += 1000.0 * ds->pv_kw[d->target] * dt_h;
        }
        if (d->fault != DEVSIM_FAULT_STUCK) {
            ds_publish(ds, d, s);
        }
        pthread_mutex_unlock(&d->mu);
    }
}

static void *ds_physics(void *arg)
{
    struct devsim *ds = arg;

    pthread_mutex_lock(&ds->mu);
    while (!ds->stop) {
        clock_wait(ds->clk, &ds->cv, &ds->mu, ds->opt.tick_ms);
        if (!ds->stop) {
            ds_tick(ds, 0);
        }
    }
    pthread_mutex_unlock(&ds->mu);
    return NULL;
}

/* ---- start and stop ---- */

static int
ds_check(const struct station *st, const struct devsim_options *o, struct error_detail *ed)
{
    if (!(o->speed > 0.0 && o->speed <= 1e5)) {
        return error_setf(ed, ERROR_INVALID, "speed %g: must be in (0, 1e5]", o->speed);
    }
    if (o->days < 1 || o->days > 366) {
        return error_setf(ed, ERROR_INVALID, "days %d: must be in [1, 366]", o->days);
    }
    if (o->tick_ms < 5 || o->tick_ms > 10000) {
        return error_setf(ed, ERROR_INVALID, "tick_ms %d: must be in [5, 10000]", o->tick_ms);
    }
    if (o->port_base < 0 || o->port_base + st->n_devices - 1 > 65535) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "port_base %d: the %d devices need ports in [1, 65535]",
                          o->port_base,
                          st->n_devices);
    }
    if (o->host && strlen(o->host) >= 64) {
        return error_setf(ed, ERROR_INVALID, "host \"%s\": too long", o->host);
    }
    if (station_connector_count(st) > DEVSIM_CONN_MAX || st->n_devices > DEVSIM_DEV_MAX) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "%d connectors, %d devices: at most %d and %d are simulated",
                          station_connector_count(st),
                          st->n_devices,
                          DEVSIM_CONN_MAX,
                          DEVSIM_DEV_MAX);
    }
    return ERROR_OK;
}

/* The map device c names (loaded once per name), if it suits the device. */
static int ds_map(struct devsim *ds,
                  const struct station_device *c,
                  const struct regmap_file **out,
                  struct error_detail *ed)
{
    int rc = ERROR_OK;

    *out = NULL;
    for (int i = 0; i < ds->n_maps && !*out; i++) {
        if (strcmp(ds->maps[i]->id, c->map) == 0) {
            *out = ds->maps[i];
        }
    }
    if (!*out) {
        rc = regmap_file_find(ds->opt.maps_dir, c->map, &ds->maps[ds->n_maps], ed);
        if (rc) {
            error_prefix(ed, c->id);
            return rc;
        }
        *out = ds->maps[ds->n_maps++];
    }
    return regmap_file_check_device(*out, c, ed);
}

/* What device d serves: its PV array or connector, its map. */
static int ds_target(struct devsim *ds, struct ds_dev *d, struct error_detail *ed)
{
    const struct station_device *c = d->cfg;
    int want = c->kind == STATION_DEVICE_CONNECTOR ? STATION_PROTOCOL_REGMAP
               : c->kind == STATION_DEVICE_PARKING ? STATION_PROTOCOL_PARKING
                                                   : STATION_PROTOCOL_SUNSPEC;

    if (c->kind == STATION_DEVICE_METER && c->protocol == STATION_PROTOCOL_REGMAP) {
        return ds_map(ds, c, &d->map, ed); /* served through its map */
    }
    if (c->protocol != want) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "devices[%d] \"%s\": a %s device is simulated with protocol %s only",
                          d->index,
                          c->id,
                          station_device_kind_names[c->kind],
                          station_device_protocol_names[want]);
    }
    if (c->kind == STATION_DEVICE_PV) {
        for (int i = 0; i < ds->st.n_pv_arrays && d->target < 0; i++) {
            d->target = strcmp(ds->st.pv_arrays[i].id, c->target) == 0 ? i : -1;
        }
    } else if (c->kind == STATION_DEVICE_CONNECTOR) {
        for (int i = 0; i < ds->n_conn && d->target < 0; i++) {
            const struct station_charger *ch = &ds->st.chargers[ds->conn[i].charger];
            int k = i;

            for (int j = 0; j < ds->conn[i].charger; j++) {
                k -= ds->st.chargers[j].n_connectors;
            }
            d->target = strcmp(ch->connectors[k].id, c->target) == 0 ? i : -1;
        }
        if (d->target >= 0) {
            ds->conn[d->target].dev = d->index;
            return ds_map(ds, c, &d->map, ed);
        }
    } else if (c->kind == STATION_DEVICE_STORAGE && !ds->st.has_ess) {
        return error_setf(ed, ERROR_INVALID, "devices[%d] \"%s\": no ess", d->index, c->id);
    } else {
        return ERROR_OK;
    }
    if (d->target < 0) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "devices[%d] \"%s\": target \"%s\" is not in the station",
                          d->index,
                          c->id,
                          c->target);
    }
    return ERROR_OK;
}

static int ds_devices(struct devsim *ds, struct error_detail *ed)
{
    int rc = ERROR_OK;

    for (int i = 0; i < ds->st.n_devices && !rc; i++) {
        struct ds_dev *d = &ds->dev[i];

        d->ds = ds;
        d->index = i;
        d->cfg = &ds->st.devices[i];
        d->target = -1;
        d->listen_fd = d->wake[0] = d->wake[1] = -1;
        pthread_mutex_init(&d->mu, NULL);
        pthread_cond_init(&d->cv, NULL);
        ds->n_dev = i + 1;
        rc = ds_target(ds, d, ed);
        if (!rc && ds_tables(ds, d, ed)) {
            error_prefix(ed, d->cfg->id);
            rc = ERROR_INVALID;
        }
        rc = rc ? rc : ds_open(ds, d, ed);
    }
    return rc;
}

static void ds_world_setup(struct devsim *ds)
{
    const struct station *st = &ds->st;
    int k = 0;

    ds->step_ms = (int64_t)ds->w->opt.step_minutes * 60000;
    ds->period_ms = (int64_t)ds->w->steps * ds->step_ms;
    ds->car_done = alloc_array((size_t)ds->w->n_cars + 1, sizeof(int));
    for (int j = 0; j < ds->w->n_cars; j++) {
        ds->car_done[j] = -1;
    }
    for (int i = 0; i < st->n_chargers; i++) {
        for (int j = 0; j < st->chargers[i].n_connectors; j++, k++) {
            ds->conn[k].charger = i;
            ds->conn[k].max_kw = st->chargers[i].connectors[j].max_kw;
            ds->conn[k].limit_kw = ds->conn[k].max_kw;
            ds->conn[k].dev = -1;
            ds->conn[k].ac = strncmp(st->chargers[i].connectors[j].id, "AC", 2) == 0;
            ds->conn[k].volts_x_phases = ds->conn[k].ac ? 3.0 * DS_AC_PHASE_V : DS_DC_V;
        }
    }
    ds->n_conn = k;
    ds->spaces = st->parking.spaces < DS_PARK_BITS_MAX ? st->parking.spaces : DS_PARK_BITS_MAX;
    ds->space = alloc_array((size_t)ds->spaces + 1, 1);
    ds->rng = rng_new(rng_mix(ds->opt.seed, 0xD5u));
    ds->soc = st->has_ess ? fmin(fmax(0.5, st->ess.soc_min), st->ess.soc_max) : 0.0;
    ds->pv_factor = ds->pv_override_kw = ds->base_override_kw = -1.0;
}

int devsim_start(const struct station *st,
                 const struct devsim_options *o,
                 struct devsim **out,
                 struct error_detail *ed)
{
    struct world_options wo;
    struct devsim *ds;
    int rc;

    *out = NULL;
    rc = ds_check(st, o, ed);
    if (rc) {
        error_prefix(ed, "devsim");
        return rc;
    }
    ds = ALLOC_NEW(struct devsim);
    ds->st = *st;
    ds->opt = *o;
    snprintf(ds->host, sizeof(ds->host), "%s", o->host ? o->host : "127.0.0.1");
    ds->opt.host = ds->host;
    ds->opt.maps_dir = o->maps_dir ? o->maps_dir : FLEXD_SOURCE_DIR "/config/devices";
    pthread_mutex_init(&ds->mu, NULL);
    pthread_cond_init(&ds->cv, NULL);
    ds->clk = clock_new_real();
    ds->start_ms = o->start_ms ? o->start_ms : clock_now_ms(ds->clk);
    ds->mono0_us = clock_mono_us(ds->clk);
    world_options_default(&wo);
    wo.start_ms =
        ds->start_ms -
        ((ds->start_ms + CLOCK_LOCAL_OFFSET_MS) % CLOCK_DAY_MS + CLOCK_DAY_MS) % CLOCK_DAY_MS;
    wo.days = o->days;
    wo.seed = o->seed;
    wo.dr_generate = 0;
    ds->w0_ms = wo.start_ms;
    rc = world_build(&ds->st, &wo, &ds->w, ed);
    if (rc == ERROR_OK) {
        ds_world_setup(ds);
        rc = ds_devices(ds, ed);
    }
    if (rc) {
        error_prefix(ed, "devsim");
        devsim_stop(ds);
        return rc;
    }
    pthread_mutex_lock(&ds->mu);
    ds_tick(ds, 1);
    pthread_mutex_unlock(&ds->mu);
    for (int i = 0; i < ds->n_dev; i++) {
        ds->dev[i].running = pthread_create(&ds->dev[i].thread, NULL, ds_serve, &ds->dev[i]) == 0;
    }
    ds->physics_running = pthread_create(&ds->physics, NULL, ds_physics, ds) == 0;
    LOGI("devsim",
         "%d devices on %s, ports %d..%d, speed %g",
         ds->n_dev,
         ds->host,
         ds->n_dev ? ds->dev[0].port : 0,
         ds->n_dev ? ds->dev[ds->n_dev - 1].port : 0,
         ds->opt.speed);
    *out = ds;
    return ERROR_OK;
}

static void ds_dev_free(struct ds_dev *d)
{
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (d->running) {
        ds_wake(d);
        pthread_join(d->thread, NULL);
    }
    ds_close_clients(d);
    if (d->listen_fd >= 0) {
        close(d->listen_fd);
    }
    for (int i = 0; i < 2; i++) {
        if (d->wake[i] >= 0) {
            close(d->wake[i]);
        }
    }
    if (d->mb) {
        modbus_free(d->mb);
    }
    if (d->img) {
        sunspec_image_free(d->img); /* owns tab_registers */
    } else {
        free(d->tab.tab_registers);
    }
    free(d->tab.tab_input_registers);
    free(d->tab.tab_input_bits);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
}

void devsim_stop(struct devsim *ds)
{
    if (!ds) {
        return;
    }
    pthread_mutex_lock(&ds->mu);
    ds->stop = 1;
    pthread_cond_broadcast(&ds->cv);
    pthread_mutex_unlock(&ds->mu);
    if (ds->physics_running) {
        pthread_join(ds->physics, NULL);
    }
    for (int i = 0; i < ds->n_dev; i++) {
        ds_dev_free(&ds->dev[i]);
    }
    for (int i = 0; i < ds->n_maps; i++) {
        regmap_file_free(ds->maps[i]);
    }
    world_free(ds->w);
    rng_free(ds->rng);
    clock_free(ds->clk);
    free(ds->car_done);
    free(ds->space);
    pthread_cond_destroy(&ds->cv);
    pthread_mutex_destroy(&ds->mu);
    free(ds);
}

/* ---- the API for tests and the command ---- */

int devsim_port(const struct devsim *ds, int device)
{
    return device >= 0 && device < ds->n_dev ? ds->dev[device].port : -1;
}

static void ds_set(struct devsim *ds, double *field, double v)
{
    pthread_mutex_lock(&ds->mu);
    *field = v < 0.0 || isnan(v) ? -1.0 : v;
    pthread_mutex_unlock(&ds->mu);
}

void devsim_set_pv_factor(struct devsim *ds, double factor)
{
    ds_set(ds, &ds->pv_factor, factor);
}

void devsim_set_pv_available_kw(struct devsim *ds, double kw)
{
    ds_set(ds, &ds->pv_override_kw, kw);
}

void devsim_set_base_kw(struct devsim *ds, double kw)
{
    ds_set(ds, &ds->base_override_kw, kw);
}

void devsim_set_soc(struct devsim *ds, double soc)
{
    pthread_mutex_lock(&ds->mu);
    ds->soc = soc >= 0.0 ? fmin(soc, 1.0) : ds->soc; /* NAN and < 0: no change */
    pthread_mutex_unlock(&ds->mu);
}

int devsim_plug(struct devsim *ds, int connector, double wanted_kwh, double car_max_kw)
{
    int rc = ERROR_OK;

    if (connector < 0 || connector >= ds->n_conn || !(wanted_kwh > 0.0) || !(car_max_kw > 0.0)) {
        return ERROR_RANGE;
    }
    pthread_mutex_lock(&ds->mu);
    if (ds->conn[connector].plugged) {
        rc = ERROR_STATE;
    } else {
        ds_plug(ds, connector, wanted_kwh, car_max_kw, INT64_MAX);
    }
    pthread_mutex_unlock(&ds->mu);
    return rc;
}

int devsim_unplug(struct devsim *ds, int connector)
{
    int rc = ERROR_OK;

    if (connector < 0 || connector >= ds->n_conn) {
        return ERROR_RANGE;
    }
    pthread_mutex_lock(&ds->mu);
    if (!ds->conn[connector].plugged) {
        rc = ERROR_STATE;
    } else {
        ds_unplug(ds, connector);
    }
    pthread_mutex_unlock(&ds->mu);
    return rc;
}

void devsim_fault(struct devsim *ds, int device, enum devsim_fault f, int delay_ms)
{
    struct ds_dev *d;

    if (device < 0 || device >= ds->n_dev || f < DEVSIM_FAULT_NONE || f > DEVSIM_FAULT_STUCK) {
        return;
    }
    d = &ds->dev[device];
    pthread_mutex_lock(&d->mu);
    if (d->fault != (int)f) {
        LOGI("devsim", "%s: fault %s", d->cfg->id, devsim_fault_names[f]);
    }
    d->fault = (int)f;
    d->delay_ms = delay_ms > 0 ? delay_ms : DS_SLOW_DEFAULT;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    ds_wake(d);
}

void devsim_state(struct devsim *ds, struct devsim_state *out)
{
    pthread_mutex_lock(&ds->mu);
    *out = ds->snap;
    pthread_mutex_unlock(&ds->mu);
    out->n_devices = ds->n_dev;
    for (int i = 0; i < ds->n_dev; i++) {
        pthread_mutex_lock(&ds->dev[i].mu);
        out->writes[i] = ds->dev[i].writes;
        out->last_write_us[i] = ds->dev[i].last_write_us;
        out->clients[i] = ds->dev[i].n_clients;
        pthread_mutex_unlock(&ds->dev[i].mu);
    }
}
