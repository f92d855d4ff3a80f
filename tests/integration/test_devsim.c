/* SPDX-License-Identifier: MIT */
/*
 * test_devsim.c - the device simulator as a Modbus client sees it: the
 * built-in Ulanhada station served on free loopback ports, read and driven
 * with libmodbus directly and with flexd's own SunSpec and register-map
 * clients. Checks SunSpec discovery at 40000, the meter as the balance of
 * the flows, PV curtailment and its revert timer, forced battery operation
 * with SoC integration through the efficiencies and its revert, connectors
 * drawing min(limit, car, cabinet share), the heartbeat fall-back (counter
 * heartbeat on flexd-sim-charger, timeout heartbeat and current limit on
 * the ABB Terra AC map), the parking-io layout, each fault kind as a client
 * observes it, world cars, and start-up errors. Runs at speed 30 (one real second is half a
 * virtual minute) so revert timers pass in a couple of seconds.
 * Last, the grid meter served through a register map (Eastron SDM630):
 * read by hand, then by the live engine (engine/live.c) at real speed,
 * whose measured grid power follows the simulator's and whose meter-lost
 * fail-safe still trips when the meter stops answering; a map of the
 * wrong kind for the meter is refused by both.
 */
#include "check.h"

#include "common/clock.h"
#include "config/builtin.h"
#include "config/regmap_file.h"
#include "engine/live.h"
#include "io/regmap.h"
#include "io/sunspec.h"
#include "sim/devsim.h"

#include <errno.h>
#include <modbus.h>
#include <stdlib.h>

#define SPEED 30.0

static struct clock *clk;
static struct devsim *ds;

static const char *srcdir(void)
{
    const char *d = getenv("FLEXD_SOURCE_DIR");

    return d ? d : FLEXD_SOURCE_DIR;
}

static modbus_t *client(int device, int unit, int timeout_ms)
{
    modbus_t *mb = modbus_new_tcp("127.0.0.1", devsim_port(ds, device));

    modbus_set_slave(mb, unit);
    modbus_set_response_timeout(mb, 0, (uint32_t)timeout_ms * 1000u);
    if (modbus_connect(mb) != 0) {
        modbus_free(mb);
        return NULL;
    }
    return mb;
}

static void closeup(modbus_t *mb)
{
    if (mb) {
        modbus_close(mb);
        modbus_free(mb);
    }
}

static struct devsim_state state(void)
{
    struct devsim_state s;

    devsim_state(ds, &s);
    return s;
}

/* Poll until cond holds or timeout_ms of real time passed, then check it. */
#define WAIT_CHECK(cond, timeout_ms)                        \
    do {                                                    \
        int64_t until_ = clock_mono_ms(clk) + (timeout_ms); \
        while (!(cond) && clock_mono_ms(clk) < until_) {    \
            clock_sleep_ms(clk, 10);                        \
        }                                                   \
        CHECK(cond);                                        \
    } while (0)

static int dev(const struct station *st, int kind, const char *target)
{
    return station_find_device(st, kind, target);
}

static void test_start_errors(const struct station *st)
{
    struct devsim_options o;
    struct devsim *bad = NULL;
    struct error_detail ed = {{0}};

    devsim_options_default(&o);
    o.speed = 0;
    CHECK(devsim_start(st, &o, &bad, &ed) == ERROR_INVALID && !bad);
    CHECK_STR_CONTAINS(ed.text, "speed");
    devsim_options_default(&o);
    o.maps_dir = "/nonexistent";
    CHECK(devsim_start(st, &o, &bad, &ed) == ERROR_IO && !bad);
    CHECK_STR_CONTAINS(ed.text, "flexd-sim-charger");
    devsim_options_default(&o);
    o.port_base = devsim_port(ds, 0); /* taken by the running simulator */
    CHECK(devsim_start(st, &o, &bad, &ed) == ERROR_IO && !bad);
    CHECK_STR_CONTAINS(ed.text, "meter");
}

static void test_discovery_and_meter(const struct station *st)
{
    int m = dev(st, STATION_DEVICE_METER, NULL);
    modbus_t *mb = client(m, 7, 500); /* any unit id */
    struct sunspec *ss = sunspec_new_modbus("meter", mb);
    struct error_detail ed = {{0}};
    struct sunspec_meter mr;
    struct devsim_state s;
    uint16_t r[2];

    CHECK(mb != NULL);
    CHECK(modbus_read_registers(mb, 0, 2, r) == -1 && errno == EMBXILADD);
    CHECK(sunspec_discover(ss, &ed) == ERROR_OK);
    CHECK(sunspec_base(ss) == 40000);
    CHECK(sunspec_find(ss, 203) != NULL);
    CHECK(sunspec_read_meter(ss, &mr, &ed) == ERROR_OK);
    s = state();
    CHECK_NEAR(s.pv_available_kw, 208.0, 1e-9);
    CHECK_NEAR(s.pv_kw, 208.0, 1e-6);
    CHECK_NEAR(s.base_kw, 30.0, 1e-9);
    CHECK_NEAR(s.grid_kw, s.base_kw + s.ev_kw - s.ess_kw - s.pv_kw, 1e-9);
    CHECK_NEAR(mr.power_kw, 30.0 - 208.0, 0.11); /* W_SF 2 at this meter's rating */
    sunspec_free(ss);
    closeup(mb);
}

static void test_pv_limit(const struct station *st)
{
    int p = dev(st, STATION_DEVICE_PV, "carport-east");
    modbus_t *mb = client(p, 1, 500);
    struct sunspec *ss = sunspec_new_modbus("pv", mb);
    struct error_detail ed = {{0}};
    struct sunspec_pv pv;
    int64_t t_write;

    CHECK(sunspec_discover(ss, &ed) == ERROR_OK);
    CHECK(sunspec_read_pv(ss, &pv, &ed) == ERROR_OK);
    CHECK_NEAR(pv.power_kw, 208.0 * 110.0 / 260.0, 0.011);
    CHECK_NEAR(pv.wmax_kw, 110.0, 1e-9);
    CHECK_NEAR(pv.limit_pct, 100.0, 1e-9);
    CHECK(sunspec_set_pv_limit(ss, 50.0, 60, &ed) == ERROR_OK);
    t_write = state().now_ms;
    WAIT_CHECK(fabs(state().pv_limit_kw - (55.0 + 110.0 + 40.0)) < 1e-6, 1000);
    CHECK(sunspec_read_pv(ss, &pv, &ed) == ERROR_OK);
    CHECK_NEAR(pv.power_kw, 55.0, 0.011);
    CHECK_NEAR(pv.limit_pct, 50.0, 1e-9);
    CHECK(pv.state == 5); /* THROTTLED */
    CHECK_NEAR(state().pv_kw, 55.0 + 208.0 * 150.0 / 260.0, 1e-6);
    /* no write for WMaxLimPct_RvrtTms (60 s virtual, 2 s real): back to 100 % */
    WAIT_CHECK(state().pv_limit_kw > 259.0, 5000);
    CHECK(state().now_ms - t_write >= 59000);
    CHECK(sunspec_read_pv(ss, &pv, &ed) == ERROR_OK);
    CHECK_NEAR(pv.limit_pct, 100.0, 1e-9);
    CHECK_NEAR(pv.power_kw, 208.0 * 110.0 / 260.0, 0.011);
    CHECK(state().writes[p] >= 3 && state().last_write_us[p] > 0);
    sunspec_free(ss);
    closeup(mb);
}

/* SoC change expected over ms of virtual time at constant battery power. */
static double soc_delta(const struct station *st, double kw, int64_t ms)
{
    double kwh = kw * (double)ms / 3.6e6;

    return kw > 0 ? -kwh / st->ess.discharge_efficiency / st->ess.capacity_kwh
                  : -kwh * st->ess.charge_efficiency / st->ess.capacity_kwh;
}

static void test_battery(const struct station *st)
{
    int b = dev(st, STATION_DEVICE_STORAGE, NULL);
    modbus_t *mb = client(b, 1, 500);
    struct sunspec *ss = sunspec_new_modbus("pcs", mb);
    struct error_detail ed = {{0}};
    struct sunspec_storage_cmd cmd = {-100.0, 100.0, NAN, 600};
    struct sunspec_battery bat;
    struct devsim_state s0, s1;
    int64_t t_write;

    CHECK(sunspec_discover(ss, &ed) == ERROR_OK);
    CHECK(sunspec_read_battery(ss, &bat, &ed) == ERROR_OK);
    CHECK_NEAR(bat.soc, 0.5, 0.0011);
    /* forced discharge of 100 kW: OutWRte = 100 kW, InWRte = -100 kW */
    CHECK(sunspec_set_storage(ss, &cmd, &ed) == ERROR_OK);
    WAIT_CHECK(fabs(state().ess_kw - 100.0) < 1e-9, 1000);
    s0 = state();
    CHECK_NEAR(s0.ess_cmd_kw, 100.0, 1e-9);
    clock_sleep_ms(clk, 600);
    s1 = state();
    CHECK_NEAR(s1.soc - s0.soc, soc_delta(st, 100.0, s1.now_ms - s0.now_ms), 1e-9);
    CHECK(s1.soc < s0.soc);
    CHECK_NEAR(s1.grid_kw, 30.0 - 208.0 - 100.0, 1e-6);
    CHECK(sunspec_read_battery(ss, &bat, &ed) == ERROR_OK);
    CHECK_NEAR(bat.power_kw, 100.0, 0.011);
    CHECK(bat.charge_state == 3); /* DISCHARGING */
    /* forced charge of 50 kW: InWRte = 50 kW, OutWRte = -50 kW */
    cmd = (struct sunspec_storage_cmd){50.0, -50.0, NAN, 600};
    CHECK(sunspec_set_storage(ss, &cmd, &ed) == ERROR_OK);
    WAIT_CHECK(fabs(state().ess_kw + 50.0) < 1e-9, 1000);
    s0 = state();
    clock_sleep_ms(clk, 600);
    s1 = state();
    CHECK_NEAR(s1.soc - s0.soc, soc_delta(st, -50.0, s1.now_ms - s0.now_ms), 1e-9);
    CHECK(s1.soc > s0.soc);
    /* SoC window: no discharge at soc_min */
    devsim_set_soc(ds, st->ess.soc_min);
    cmd = (struct sunspec_storage_cmd){-80.0, 80.0, NAN, 30};
    CHECK(sunspec_set_storage(ss, &cmd, &ed) == ERROR_OK);
    t_write = state().now_ms;
    WAIT_CHECK(fabs(state().ess_cmd_kw - 80.0) < 1e-9, 1000);
    /* a tick already under way may still discharge once (a loaded machine
     * stretches it); from the next one on the battery stays at soc_min */
    WAIT_CHECK(fabs(state().ess_kw) < 1e-9, 1000);
    clock_sleep_ms(clk, 300);
    CHECK_NEAR(state().ess_kw, 0.0, 1e-9);
    CHECK(state().soc >= st->ess.soc_min - 1e-9);
    devsim_set_soc(ds, 0.6);
    WAIT_CHECK(fabs(state().ess_kw - 80.0) < 1e-9, 1000);
    /* InOutWRte_RvrtTms 30 s without a write: back to idle */
    WAIT_CHECK(state().ess_cmd_kw == 0.0, 5000);
    CHECK(state().now_ms - t_write >= 29000);
    WAIT_CHECK(state().ess_kw == 0.0, 1000);
    sunspec_free(ss);
    closeup(mb);
}

static void test_connectors(const struct station *st, const struct regmap_file *map)
{
    int c = dev(st, STATION_DEVICE_CONNECTOR, "DC1-A");
    int p = dev(st, STATION_DEVICE_PARKING, NULL);
    modbus_t *mb = client(c, 1, 500), *pk = client(p, 1, 500);
    struct error_detail ed = {{0}};
    struct regmap_reading r;
    uint8_t bits[80];
    uint16_t gates[4];
    uint32_t gate_in, gate_out;
    int occupied = 0;

    CHECK(devsim_plug(ds, 0, 500.0, 80.0) == ERROR_OK);
    CHECK(devsim_plug(ds, 0, 10.0, 10.0) == ERROR_STATE);
    CHECK(devsim_plug(ds, 999, 10.0, 10.0) == ERROR_RANGE);
    /* before any write the charger gives the car what it can */
    WAIT_CHECK(fabs(state().conn_kw[0] - 80.0) < 1e-9, 1000);
    CHECK(regmap_read(mb, map, &r, &ed) == ERROR_OK);
    CHECK(r.state == REGMAP_FILE_CHARGING);
    CHECK_NEAR(r.power_kw, 80.0, 0.001);
    CHECK(regmap_write(mb, map, REGMAP_FILE_LIMIT, 40.0, NULL, &ed) == ERROR_OK);
    WAIT_CHECK(fabs(state().conn_kw[0] - 40.0) < 1e-9, 1000);
    CHECK(regmap_write(mb, map, REGMAP_FILE_LIMIT, 100.0, NULL, &ed) == ERROR_OK);
    WAIT_CHECK(fabs(state().conn_kw[0] - 80.0) < 1e-9, 1000); /* the car's max */
    CHECK_NEAR(state().conn_limit_kw[0], 100.0, 1e-9);
    /* the cabinet (160 kW) shares between its two connectors */
    CHECK(devsim_plug(ds, 1, 500.0, 120.0) == ERROR_OK);
    WAIT_CHECK(state().conn_plugged[1], 1000);
    CHECK_NEAR(state().conn_kw[0] + state().conn_kw[1], 160.0, 1e-6);
    CHECK_NEAR(state().conn_kw[0], 80.0 * 160.0 / 200.0, 1e-6);
    CHECK(regmap_read(mb, map, &r, &ed) == ERROR_OK);
    CHECK(r.session_energy_kwh > 0.0);
    /* the parking controller sees both cars */
    CHECK(modbus_read_input_bits(pk, 0, 80, bits) == 80);
    CHECK(bits[0] == 1 && bits[1] == 1 && bits[2] == 0);
    for (int i = 0; i < 80; i++) {
        occupied += bits[i];
    }
    CHECK(abs(occupied - state().parking_occupied) <= 2);
    CHECK(modbus_read_input_registers(pk, 0, 4, gates) == 4);
    gate_in = (uint32_t)gates[0] << 16 | gates[1];
    gate_out = (uint32_t)gates[2] << 16 | gates[3];
    CHECK(gate_in >= 2 && gate_in <= state().gate_in);
    /* heartbeat armed, kept alive for twice its timeout, then left to lapse */
    for (int i = 0; i < 10; i++) {
        CHECK(regmap_write(mb, map, REGMAP_FILE_HEARTBEAT, i + 1, NULL, &ed) == ERROR_OK);
        clock_sleep_ms(clk, 60);
    }
    CHECK_NEAR(state().conn_limit_kw[0], 100.0, 1e-9);
    WAIT_CHECK(state().conn_limit_kw[0] == 0.0, 3000);
    WAIT_CHECK(state().conn_kw[0] == 0.0, 1000);
    CHECK(regmap_read(mb, map, &r, &ed) == ERROR_OK);
    CHECK(r.state == REGMAP_FILE_OCCUPIED);
    CHECK_NEAR(r.value[REGMAP_FILE_LIMIT], 0.0, 1e-9);
    /* flexd comes back: limit and heartbeat */
    CHECK(regmap_write(mb, map, REGMAP_FILE_LIMIT, 30.0, NULL, &ed) == ERROR_OK);
    CHECK(regmap_write(mb, map, REGMAP_FILE_HEARTBEAT, 99.0, NULL, &ed) == ERROR_OK);
    WAIT_CHECK(fabs(state().conn_kw[0] - 30.0) < 1e-9, 1000);
    CHECK(devsim_unplug(ds, 0) == ERROR_OK && devsim_unplug(ds, 1) == ERROR_OK);
    CHECK(devsim_unplug(ds, 1) == ERROR_STATE);
    WAIT_CHECK(!state().conn_plugged[0] && state().ev_kw == 0.0, 1000);
    CHECK(regmap_read(mb, map, &r, &ed) == ERROR_OK);
    CHECK(r.state == REGMAP_FILE_AVAILABLE && r.session_energy_kwh == 0.0);
    WAIT_CHECK(modbus_read_input_registers(pk, 0, 4, gates) == 4 &&
                   ((uint32_t)gates[2] << 16 | gates[3]) >= gate_out + 2,
               1000);
    /* a write outside the setpoints is refused */
    CHECK(modbus_write_register(mb, 0, 1) == -1 && errno == EMBXILADD);
    closeup(pk);
    closeup(mb);
}

static void test_faults(const struct station *st)
{
    int m = dev(st, STATION_DEVICE_METER, NULL), p = dev(st, STATION_DEVICE_PV, "carport-west");
    int b = dev(st, STATION_DEVICE_STORAGE, NULL);
    modbus_t *mb = client(m, 1, 200), *pv = client(p, 1, 500), *pcs = client(b, 1, 500);
    struct sunspec *ss = NULL;
    struct error_detail ed = {{0}};
    struct sunspec_meter mr;
    uint16_t r[2], w0[1], w1[1], addr = 0;

    /* exception: every request answered with 0x04 */
    devsim_fault(ds, p, DEVSIM_FAULT_EXCEPTION, 0);
    CHECK(modbus_read_registers(pv, 40000, 2, r) == -1 && errno == EMBXSFAIL);
    devsim_fault(ds, p, DEVSIM_FAULT_NONE, 0);
    CHECK(modbus_read_registers(pv, 40000, 2, r) == 2 && r[0] == 0x5375 && r[1] == 0x6E53);
    /* slow: a 200 ms response timeout runs out */
    devsim_fault(ds, m, DEVSIM_FAULT_SLOW, 600);
    CHECK(modbus_read_registers(mb, 40000, 2, r) == -1 && errno == ETIMEDOUT);
    devsim_fault(ds, m, DEVSIM_FAULT_NONE, 0);
    closeup(mb);
    mb = client(m, 1, 500);
    CHECK(modbus_read_registers(mb, 40000, 2, r) == 2);
    ss = sunspec_new_modbus("meter", mb);
    CHECK(sunspec_discover(ss, &ed) == ERROR_OK);
    if (sunspec_find(ss, 203)) {
        addr = (uint16_t)(sunspec_find(ss, 203)->addr + 2 +
                          sunspec_models_point(sunspec_models_find(203), "W")->offset);
    }
    /* stuck: the meter's W stays while the flows change */
    CHECK(modbus_read_registers(mb, addr, 1, w0) == 1);
    devsim_fault(ds, m, DEVSIM_FAULT_STUCK, 0);
    devsim_set_base_kw(ds, 80.0);
    WAIT_CHECK(state().base_kw == 80.0, 1000);
    clock_sleep_ms(clk, 100);
    CHECK(modbus_read_registers(mb, addr, 1, w1) == 1);
    CHECK(w1[0] == w0[0]);
    devsim_fault(ds, m, DEVSIM_FAULT_NONE, 0);
    WAIT_CHECK(modbus_read_registers(mb, addr, 1, w1) == 1 && w1[0] != w0[0], 1000);
    CHECK(sunspec_read_meter(ss, &mr, &ed) == ERROR_OK);
    CHECK_NEAR(mr.power_kw, state().grid_kw, 0.11);
    /* drop: the connection closes and new ones are refused */
    CHECK(state().clients[b] >= 1);
    devsim_fault(ds, b, DEVSIM_FAULT_DROP, 0);
    WAIT_CHECK(state().clients[b] == 0, 1000);
    CHECK(modbus_read_registers(pcs, 40000, 2, r) == -1);
    closeup(pcs);
    pcs = client(b, 1, 500);
    CHECK(pcs == NULL);
    devsim_fault(ds, b, DEVSIM_FAULT_NONE, 0);
    for (int i = 0; i < 100 && !pcs; i++) {
        clock_sleep_ms(clk, 20);
        pcs = client(b, 1, 500);
    }
    CHECK(pcs && modbus_read_registers(pcs, 40000, 2, r) == 2);
    closeup(pcs);
    closeup(pv);
    sunspec_free(ss);
    closeup(mb);
}

/* A vendor map: ABB Terra AC on AC1-1, a current limit (A through 3 x 230 V),
 * a masked status code, a write-only limit read back elsewhere and a
 * timeout heartbeat that any request keeps alive. */
static void test_abb(const struct station *base, const char *maps)
{
    struct station *st = station_new();
    struct devsim_options o;
    struct devsim *abb = NULL, *keep = ds;
    struct regmap_file *map = NULL;
    struct error_detail ed = {{0}};
    struct regmap_reading r;
    int d, conn = 8; /* AC1-1 */
    modbus_t *mb;

    *st = *base;
    d = dev(st, STATION_DEVICE_CONNECTOR, "AC1-1");
    snprintf(st->devices[d].map, sizeof(st->devices[d].map), "%s", "abb-terra-ac");
    CHECK(regmap_file_find(maps, "abb-terra-ac", &map, &ed) == ERROR_OK);
    devsim_options_default(&o);
    o.speed = SPEED;
    o.tick_ms = 20;
    o.maps_dir = maps;
    CHECK(devsim_start(st, &o, &abb, &ed) == ERROR_OK);
    if (!abb || !map) {
        regmap_file_free(map);
        station_free(st);
        return;
    }
    ds = abb;
    mb = client(d, 1, 500);
    CHECK(devsim_plug(ds, conn, 50.0, 11.0) == ERROR_OK);
    WAIT_CHECK(fabs(state().conn_kw[conn] - 7.0) < 1e-3, 1000); /* the connector's 7 kW */
    CHECK(regmap_read(mb, map, &r, &ed) == ERROR_OK);
    CHECK(r.state == REGMAP_FILE_CHARGING && r.plug_state == REGMAP_FILE_OCCUPIED);
    CHECK_NEAR(r.power_kw, state().conn_kw[conn], 0.001);
    CHECK(regmap_write(mb, map, REGMAP_FILE_LIMIT, 8.0, NULL, &ed) == ERROR_OK);
    WAIT_CHECK(fabs(state().conn_kw[conn] - 8.0 * 3.0 * 230.0 / 1000.0) < 1e-9, 1000);
    CHECK(regmap_write(mb, map, REGMAP_FILE_HEARTBEAT, 10.0, NULL, &ed) == ERROR_OK);
    for (int i = 0; i < 10; i++) { /* 30 s of virtual time, polled every 3 s */
        CHECK(regmap_read(mb, map, &r, &ed) == ERROR_OK);
        clock_sleep_ms(clk, 100);
    }
    CHECK_NEAR(state().conn_limit_kw[conn], 5.52, 1e-9);
    WAIT_CHECK(state().conn_limit_kw[conn] == 0.0 && state().conn_kw[conn] == 0.0, 3000);
    CHECK(regmap_read(mb, map, &r, &ed) == ERROR_OK);
    CHECK(r.state == REGMAP_FILE_OCCUPIED);
    CHECK_NEAR(r.value[REGMAP_FILE_LIMIT], 0.0, 1e-9);
    closeup(mb);
    devsim_stop(abb);
    ds = keep;
    regmap_file_free(map);
    station_free(st);
}

/* Cars from the world at high speed: they plug in, charge, and the meter
 * stays the balance of the flows. */
static void test_world_cars(const struct station *st)
{
    struct devsim_options o;
    struct devsim *fast = NULL;
    struct error_detail ed = {{0}};
    struct devsim_state s;
    int plugged = 0, balanced = 1;

    devsim_options_default(&o);
    o.cars = 1;
    o.speed = 3600.0;
    o.tick_ms = 20;
    o.start_ms = clock_from_local(2026, 7, 15, 9, 0, 0);
    o.maps_dir = NULL;
    CHECK(devsim_start(st, &o, &fast, &ed) == ERROR_OK);
    for (int i = 0; fast && i < 100; i++) {
        devsim_state(fast, &s);
        for (int k = 0; k < s.n_conn; k++) {
            plugged += s.conn_plugged[k];
        }
        balanced &= fabs(s.grid_kw - (s.base_kw + s.ev_kw - s.ess_kw - s.pv_kw)) < 1e-9;
        clock_sleep_ms(clk, 20);
    }
    CHECK(plugged > 0);
    CHECK(balanced);
    CHECK(s.pv_kw > 0.0 && s.base_kw > 0.0);
    CHECK(s.gate_in > 0);
    devsim_stop(fast);
}

/* The built-in station with its meter read through map (a meter map or,
 * for the error cases, another), polled fast as test_live.c does. */
static struct station *meter_station(const struct station *base, const char *map, int *meter)
{
    struct station *st = station_new();

    *st = *base;
    *meter = dev(st, STATION_DEVICE_METER, NULL);
    st->devices[*meter].protocol = STATION_PROTOCOL_REGMAP;
    snprintf(st->devices[*meter].map, sizeof(st->devices[*meter].map), "%s", map);
    for (int d = 0; d < st->n_devices; d++) {
        st->devices[d].poll_ms = d == *meter ? 100 : 200;
        st->devices[d].timeout_ms = d == *meter ? 60 : 100;
    }
    return st;
}

/* Run live control cycles of 200 ms until cond holds or max cycles pass;
 * the cycles taken, or -1. */
#define LIVE_UNTIL(l, max, cond)                      \
    ({                                                \
        int lu_n_ = -1;                               \
        for (int lu_i_ = 0; lu_i_ < (max); lu_i_++) { \
            live_cycle(l);                            \
            clock_sleep_ms(clk, 200);                 \
            if (cond) {                               \
                lu_n_ = lu_i_ + 1;                    \
                break;                                \
            }                                         \
        }                                             \
        lu_n_;                                        \
    })

/* A charger's map on the meter: refused by the simulator and by live. */
static void test_meter_map_kind(const struct station *base, const char *maps)
{
    int m;
    struct station *st = meter_station(base, "flexd-sim-charger", &m);
    struct devsim_options o;
    struct live_options lo;
    struct devsim *bad = NULL;
    struct live *l = NULL;
    struct error_detail ed = {{0}};

    devsim_options_default(&o);
    o.maps_dir = maps;
    CHECK(devsim_start(st, &o, &bad, &ed) == ERROR_INVALID && !bad);
    CHECK_STR_CONTAINS(ed.text,
                       "device \"meter\": map \"flexd-sim-charger\": kind \"connector\": a "
                       "meter device needs a map of kind \"meter\"");
    live_options_default(&lo);
    lo.maps_dir = maps;
    lo.host = "127.0.0.1";
    CHECK(live_new(st, &lo, &l, &ed) == ERROR_INVALID && !l);
    CHECK_STR_CONTAINS(ed.text, "device \"meter\": map \"flexd-sim-charger\": kind");
    snprintf(st->devices[m].map, sizeof(st->devices[m].map), "%s", "no-such-meter");
    CHECK(live_new(st, &lo, &l, &ed) == ERROR_INVALID && !l);
    CHECK_STR_CONTAINS(ed.text, "no-such-meter.json: cannot open");
    station_free(st);
}

/* The meter as an Eastron SDM630 (float32 input registers), read by hand
 * and by the live engine; then it stops answering. */
static void test_live_regmap_meter(const struct station *base, const char *maps)
{
    int m;
    struct station *st = meter_station(base, "eastron-sdm630", &m);
    struct devsim_options o;
    struct live_options lo;
    struct live_status ls;
    struct devsim_state s;
    struct devsim *keep = ds;
    struct live *l = NULL;
    struct regmap_file *map = NULL;
    struct regmap_meter_reading rd;
    struct error_detail ed = {{0}};
    int ports[STATION_DEVICES_MAX];
    modbus_t *mb;
    int n;

    devsim_options_default(&o);
    o.maps_dir = maps;
    o.start_ms = clock_from_local(2026, 7, 18, 12, 0, 0);
    CHECK(regmap_file_find(maps, "eastron-sdm630", &map, &ed) == ERROR_OK);
    CHECK(devsim_start(st, &o, &ds, &ed) == ERROR_OK);
    if (!ds || !map) {
        fprintf(stderr, "regmap meter: %s\n", ed.text);
        ds = keep;
        regmap_file_free(map);
        station_free(st);
        return;
    }
    /* no sun and an empty battery: the base load comes from the grid, so
     * the engine cannot steer the meter to 0 */
    devsim_set_pv_available_kw(ds, 0.0);
    devsim_set_base_kw(ds, 25.0);
    devsim_set_soc(ds, st->ess.soc_min);
    WAIT_CHECK(fabs(state().grid_kw - 25.0) < 1e-6, 1000);

    /* by hand: what the simulator serves is what the map reads */
    mb = client(m, 1, 500);
    WAIT_CHECK(regmap_read_meter(mb, map, &rd, &ed) == ERROR_OK && fabs(rd.power_kw - 25.0) < 1e-3,
               1000);
    s = state();
    CHECK_NEAR(rd.import_kwh, s.import_kwh, 0.01); /* 25 kW for a tick or two */
    CHECK(rd.export_kwh >= 0.0 && rd.export_kwh <= s.export_kwh + 1e-6);
    CHECK_NEAR(rd.voltage_v, 230.0, 1e-9);
    closeup(mb);

    /* the live engine: the meter online, its grid power the simulator's */
    for (int d = 0; d < st->n_devices; d++) {
        ports[d] = devsim_port(ds, d);
    }
    live_options_default(&lo);
    lo.host = "127.0.0.1";
    lo.ports = ports;
    lo.cycle_ms = 200;
    lo.maps_dir = maps;
    CHECK(live_new(st, &lo, &l, &ed) == ERROR_OK);
    if (!l) {
        fprintf(stderr, "live: %s\n", ed.text);
    } else {
        n = LIVE_UNTIL(l,
                       50,
                       (live_status(l, &ls),
                        devsim_state(ds, &s),
                        ls.meter_ok && ls.devices_online == ls.devices_total && s.grid_kw > 1.0 &&
                            fabs(ls.grid_kw - s.grid_kw) < 0.5));
        printf("regmap meter: live grid %.3f kW, devsim %.3f kW (battery %.3f kW) after %d "
               "cycles\n",
               ls.grid_kw,
               s.grid_kw,
               s.ess_kw,
               n);
        CHECK(n > 0);

        /* the meter stops answering: the fail-safe trips, and clears */
        devsim_fault(ds, m, DEVSIM_FAULT_DROP, 0);
        n = LIVE_UNTIL(l, 30, (live_status(l, &ls), !ls.meter_ok));
        printf("regmap meter lost after %d cycles\n", n);
        CHECK(n > 0);
        devsim_fault(ds, m, DEVSIM_FAULT_NONE, 0);
        n = LIVE_UNTIL(l, 60, (live_status(l, &ls), ls.meter_ok));
        printf("regmap meter back after %d cycles\n", n);
        CHECK(n > 0);
        live_free(l);
    }
    devsim_stop(ds);
    ds = keep;
    regmap_file_free(map);
    station_free(st);
}

int main(void)
{
    struct station *st = NULL;
    struct devsim_options o;
    struct regmap_file *map = NULL;
    struct error_detail ed = {{0}};
    char maps[512];

    clk = clock_new_real();
    snprintf(maps, sizeof(maps), "%s/config/devices", srcdir());
    CHECK(builtin_station_load(&st, &ed) == ERROR_OK);
    CHECK(regmap_file_find(maps, "flexd-sim-charger", &map, &ed) == ERROR_OK);
    devsim_options_default(&o);
    o.speed = SPEED;
    o.tick_ms = 20;
    o.start_ms = clock_from_local(2026, 7, 15, 12, 0, 0);
    o.maps_dir = maps;
    CHECK(devsim_start(st, &o, &ds, &ed) == ERROR_OK);
    if (!ds) {
        fprintf(stderr, "devsim_start: %s\n", ed.text);
        return CHECK_DONE();
    }
    for (int i = 0; i < st->n_devices; i++) {
        CHECK(devsim_port(ds, i) > 0);
    }
    CHECK(devsim_port(ds, st->n_devices) == -1);
    /* 208 kW split by rating: 88 + 88 + 32 */
    devsim_set_pv_available_kw(ds, 208.0);
    devsim_set_base_kw(ds, 30.0);
    WAIT_CHECK(fabs(state().pv_kw - 208.0) < 1e-6 && state().base_kw == 30.0, 1000);
    test_start_errors(st);
    test_discovery_and_meter(st);
    test_pv_limit(st);
    test_battery(st);
    test_connectors(st, map);
    test_faults(st);
    devsim_stop(ds);
    ds = NULL;
    test_abb(st, maps);
    test_world_cars(st);
    test_meter_map_kind(st, maps);
    test_live_regmap_meter(st, maps);
    regmap_file_free(map);
    station_free(st);
    clock_free(clk);
    return CHECK_DONE();
}
