/* SPDX-License-Identifier: MIT */
/*
 * devsim_modbus.c - the simulator's register side (devsim.h): each
 * device's tables (a SunSpec image for PV, storage and a SunSpec meter;
 * the fields of its register map for connectors and a "regmap" meter; the
 * parking-io bits and gate counters), the helpers that read and write
 * them by SunSpec point or map role, and the server threads that answer
 * Modbus requests, refuse writes outside the control registers and inject
 * the faults (drop, slow, exception) that devsim_fault() sets.
 *
 * Threads: one server thread per device, under the device mutex
 * (devsim.c); the helpers run on the physics thread with that mutex held.
 */
#include "devsim_internal.h"

#include "../common/alloc.h"
#include "../common/logger.h"
#include "../io/regmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- register tables ---- */

void dsim_ss(struct ds_dev *d, uint16_t model, const char *point, double v)
{
    sunspec_image_set(d->img, model, point, v, NULL);
}

double dsim_ss_get(const struct ds_dev *d, uint16_t model, const char *point)
{
    struct sunspec_models_value v;

    if (sunspec_image_get(d->img, model, point, &v, NULL) || !v.present) {
        return NAN;
    }
    return v.value;
}

int dsim_has_model(const struct ds_dev *d, uint16_t model)
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
int dsim_rm_get(struct ds_dev *d, int role, double *v)
{
    const struct regmap_file_field *f = &d->map->field[role];

    return regmap_decode(f,
                         ds_rm_regs(d, f->table, f->readback),
                         regmap_file_words(f->type),
                         v,
                         NULL);
}

void dsim_rm_put(struct ds_dev *d, int role, double v)
{
    const struct regmap_file_field *f = &d->map->field[role];

    if (d->map->present[role]) {
        regmap_encode(f, v, ds_rm_regs(d, f->table, f->address), NULL);
    }
}

/* kW or kWh in the unit of a map's power or energy field (W, Wh: x 1000). */
double dsim_rm_kilo(const struct ds_dev *d, int role, double v)
{
    int unit = d->map->field[role].unit;

    return unit == REGMAP_FILE_UNIT_W || unit == REGMAP_FILE_UNIT_WH ? 1000.0 * v : v;
}

/* A setpoint stored as if a client had written it: at its address and its
 * read-back register, clamped to its range. */
void dsim_rm_set(struct ds_dev *d, int role, double v)
{
    const struct regmap_file_field *f = &d->map->field[role];
    uint16_t *at = ds_rm_regs(d, f->table, f->address);

    regmap_encode(f, fmin(fmax(v, f->min), f->max), at, NULL);
    memcpy(ds_rm_regs(d, f->table, f->readback), at, sizeof(uint16_t) * regmap_file_words(f->type));
}

/* A code field set to the first raw code the map reads as state. */
void dsim_rm_code(struct ds_dev *d, int role, int state)
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

double dsim_conn_to_kw(const struct ds_dev *d, const struct ds_conn *c, double v)
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

double dsim_conn_from_kw(const struct ds_dev *d, const struct ds_conn *c, double kw)
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
    dsim_rm_set(d, REGMAP_FILE_LIMIT, dsim_conn_from_kw(d, c, c->max_kw));
    if (m->present[REGMAP_FILE_HEARTBEAT]) {
        dsim_rm_set(d, REGMAP_FILE_HEARTBEAT, m->field[REGMAP_FILE_HEARTBEAT].mode ? 60.0 : 0.0);
        dsim_rm_get(d, REGMAP_FILE_HEARTBEAT, &d->hb_last);
    }
    dsim_rm_put(d, REGMAP_FILE_VOLTAGE, c->ac ? DS_AC_PHASE_V : DS_DC_V);
    dsim_rm_put(d, REGMAP_FILE_ERROR_CODE, 0.0);
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

int dsim_tables(struct devsim *ds, struct ds_dev *d, struct error_detail *ed)
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
            dsim_rm_put(d, REGMAP_FILE_VOLTAGE, DS_AC_PHASE_V);
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
        dsim_ss(d, 124, "MinRsvPct", 100.0 * st->ess.soc_min);
        dsim_ss(d, 802, "SoCMin", 100.0 * st->ess.soc_min);
        dsim_ss(d, 802, "SoCMax", 100.0 * st->ess.soc_max);
        dsim_ss(d, 802, "SoCRsvMin", 100.0 * st->ess.soc_min);
        dsim_ss(d, 802, "WChaRteMax", 1000.0 * st->ess.charge_max_kw);
        dsim_ss(d, 802, "WDisChaRteMax", 1000.0 * st->ess.discharge_max_kw);
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

void dsim_close_clients(struct ds_dev *d)
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
        dsim_close_clients(d);
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

void *dsim_serve(void *arg)
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

void dsim_wake(struct ds_dev *d)
{
    char c = 1;

    if (write(d->wake[1], &c, 1) < 0) {
        /* full pipe: the thread is awake anyway */
    }
}

int dsim_open(struct devsim *ds, struct ds_dev *d, struct error_detail *ed)
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
