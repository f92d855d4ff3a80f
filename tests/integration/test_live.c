/* SPDX-License-Identifier: MIT */
/*
 * test_live.c - the live engine (engine/live.c) against the device
 * simulator (sim/devsim.c) over real Modbus TCP on loopback, with a real
 * SQLite history in a temporary directory. The test thread runs the
 * control cycles itself so it can count them.
 *
 * Covers: SunSpec discovery and setpoints arriving; a sudden PV drop under
 * an import cap corrected within two cycles; a dropped meter causing the
 * conservative charger cap and its recovery; a slow charger (timeouts) and
 * an inverter answering with exception codes marked offline while the
 * others go on; the battery held idle when its SoC is unknown; restart
 * recovery of open sessions (with a driver's declared departure and
 * energy), the active plan and DR events; the forecast
 * of cars not yet here (engine/ev_forecast.h): the cold start, relearnt
 * from the sessions in the history at start-up, and a visitor-flow outlook
 * that raises it and the planned import.
 */
#include "check.h"

#include "common/clock.h"
#include "config/builtin.h"
#include "engine/live.h"
#include "engine/planner.h"
#include "io/history.h"
#include "models/station.h"
#include "sim/devsim.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TL_CYCLE_MS 200 /* control cycle and poll period of the test station */

static char tl_dir[] = "/tmp/flexd-test-live-XXXXXX";
static char tl_db[256];
static char tl_maps[512]; /* the source tree's config/devices */
static struct clock *tl_clock;

struct tl_site {
    struct station *st;
    struct devsim *ds;
    struct live *l;
    int ports[STATION_DEVICES_MAX];
};

static int tl_device(const struct station *st, int kind, const char *target)
{
    int d = station_find_device(st, kind, target);

    if (d < 0) {
        fprintf(stderr, "test bug: no device of kind %d for %s\n", kind, target ? target : "-");
        abort();
    }
    return d;
}

static int tl_connector(const struct station *st, const char *id)
{
    for (int k = 0; k < station_connector_count(st); k++) {
        if (strcmp(planner_connector(st, k, NULL)->id, id) == 0) {
            return k;
        }
    }
    abort();
}

/* The built-in station with a fast poll, and a quiet simulator with no
 * random cars: PV and base load fixed by the test. */
static void tl_start_sim(struct tl_site *s)
{
    struct error_detail ed = {{0}};
    struct devsim_options o;

    memset(s, 0, sizeof(*s));
    if (builtin_station_load(&s->st, &ed) != ERROR_OK) {
        fprintf(stderr, "%s\n", ed.text);
        abort();
    }
    /* the station's poll periods scaled to the fast test cycle (the meter
     * at twice the control rate, as config/ulanhada.json has it) */
    for (int d = 0; d < s->st->n_devices; d++) {
        struct station_device *dev = &s->st->devices[d];

        dev->poll_ms = dev->kind == STATION_DEVICE_METER ? TL_CYCLE_MS / 2 : TL_CYCLE_MS;
        dev->timeout_ms = dev->kind == STATION_DEVICE_METER ? 60 : 100;
    }
    devsim_options_default(&o);
    o.port_base = 0;
    o.cars = 0;
    o.seed = 7;
    o.maps_dir = tl_maps;
    o.start_ms = clock_from_local(2026, 7, 18, 12, 0, 0);
    if (devsim_start(s->st, &o, &s->ds, &ed) != ERROR_OK) {
        fprintf(stderr, "devsim: %s\n", ed.text);
        abort();
    }
    for (int d = 0; d < s->st->n_devices; d++) {
        s->ports[d] = devsim_port(s->ds, d);
    }
    devsim_set_pv_available_kw(s->ds, 200.0);
    devsim_set_base_kw(s->ds, 25.0);
    devsim_set_soc(s->ds, 0.6);
}

static void tl_start_live(struct tl_site *s, const char *db)
{
    struct error_detail ed = {{0}};
    struct live_options o;

    live_options_default(&o);
    o.host = "127.0.0.1";
    o.ports = s->ports;
    o.cycle_ms = TL_CYCLE_MS;
    o.maps_dir = tl_maps;
    o.db_path = db;
    o.history_flush_s = 1;
    if (live_new(s->st, &o, &s->l, &ed) != ERROR_OK) {
        fprintf(stderr, "live: %s\n", ed.text);
        abort();
    }
}

static void tl_cycles(struct tl_site *s, int n)
{
    for (int i = 0; i < n; i++) {
        live_cycle(s->l);
        clock_sleep_ms(tl_clock, TL_CYCLE_MS);
    }
}

/* Cycle until cond holds or max cycles pass; returns the cycles taken or -1. */
#define TL_UNTIL(s, max, cond)                        \
    ({                                                \
        int tl_n_ = -1;                               \
        for (int tl_i_ = 0; tl_i_ < (max); tl_i_++) { \
            tl_cycles((s), 1);                        \
            if (cond) {                               \
                tl_n_ = tl_i_ + 1;                    \
                break;                                \
            }                                         \
        }                                             \
        tl_n_;                                        \
    })

static void tl_stop(struct tl_site *s)
{
    live_free(s->l);
    devsim_stop(s->ds);
    station_free(s->st);
}

static void test_discovery_and_setpoints(void)
{
    struct tl_site s;
    struct live_status ls;
    struct devsim_state ds;
    int k = 0;
    int n;

    tl_start_sim(&s);
    k = tl_connector(s.st, "DC1-A");
    CHECK(devsim_plug(s.ds, k, 40.0, 100.0) == ERROR_OK);
    tl_start_live(&s, NULL);
    /* every device discovered (SunSpec at 40000, maps, parking) */
    n = TL_UNTIL(&s, 50, (live_status(s.l, &ls), ls.devices_online == ls.devices_total));
    printf("all %d devices online after %d cycles\n", ls.devices_total, n);
    CHECK(n > 0);
    CHECK(ls.meter_ok && ls.soc_known);
    /* SoC through model 802 with its scale factor (the simulator's next tick
     * may be needed to show the SoC the test set) */
    n = TL_UNTIL(&s, 10, (live_status(s.l, &ls), fabs(ls.soc - 0.6) < 0.01));
    CHECK(n > 0);
    /* a plan arrives and the car gets power through the map */
    n = TL_UNTIL(&s, 50, (devsim_state(s.ds, &ds), ds.conn_kw[k] > 1.0));
    printf("car charging after %d more cycles: %.1f kW\n", n, ds.conn_kw[k]);
    CHECK(n > 0);
    live_status(s.l, &ls);
    CHECK(ls.on_plan);
    CHECK(ls.plans_solved >= 1);
    CHECK(ds.writes[tl_device(s.st, STATION_DEVICE_CONNECTOR, "DC1-A")] > 0);
    CHECK(ds.writes[tl_device(s.st, STATION_DEVICE_STORAGE, NULL)] > 0);
    CHECK(ds.writes[tl_device(s.st, STATION_DEVICE_PV, "carport-east")] > 0);
    /* the engine's view of the grid is the simulator's meter */
    n = TL_UNTIL(&s,
                 20,
                 (live_status(s.l, &ls),
                  devsim_state(s.ds, &ds),
                  fabs(ls.grid_kw - ds.grid_kw) < 5.0 && fabs(ls.pv_kw - ds.pv_kw) < 5.0));
    printf("engine and simulator agree: grid %.1f / %.1f kW, PV %.1f / %.1f kW\n",
           ls.grid_kw,
           ds.grid_kw,
           ls.pv_kw,
           ds.pv_kw);
    CHECK(n > 0);
    CHECK(ls.sessions_open == 1);
    /* and the battery does not swing: the devices are polled apart, and a
     * mismatched meter/battery pair once made it jump between two values
     * every other cycle. Settling towards a value is fine; reversals of
     * direction are what the swing looked like. */
    {
        double prev_step = 0.0;
        double prev = NAN;
        int reversals = 0;

        for (int i = 0; i < 10; i++) {
            tl_cycles(&s, 1);
            devsim_state(s.ds, &ds);
            if (!isnan(prev) && fabs(ds.ess_kw - prev) > 3.0) {
                double step = ds.ess_kw - prev;

                reversals += prev_step != 0.0 && (step > 0.0) != (prev_step > 0.0);
                prev_step = step;
            }
            prev = ds.ess_kw;
        }
        printf("battery over 10 cycles: %d reversals of more than 3 kW, now %.1f kW\n",
               reversals,
               ds.ess_kw);
        CHECK(reversals <= 2);
    }
    tl_stop(&s);
}

static void test_pv_drop_under_cap(void)
{
    struct tl_site s;
    struct live_status ls;
    struct devsim_state ds;
    struct controller_dr cap;
    const double cap_kw = 80.0;
    int n;

    tl_start_sim(&s);
    devsim_set_soc(s.ds, 0.3); /* little battery to lean on: chargers must give way */
    CHECK(devsim_plug(s.ds, tl_connector(s.st, "DC1-A"), 60.0, 120.0) == ERROR_OK);
    CHECK(devsim_plug(s.ds, tl_connector(s.st, "DC2-A"), 60.0, 120.0) == ERROR_OK);
    CHECK(devsim_plug(s.ds, tl_connector(s.st, "AC1-1"), 20.0, 7.0) == ERROR_OK);
    tl_start_live(&s, NULL);
    memset(&cap, 0, sizeof(cap));
    snprintf(cap.id, sizeof(cap.id), "cap-test");
    cap.type = SCENARIO_DR_IMPORT_CAP;
    cap.notice_ms = clock_now_ms(tl_clock) - 60000;
    cap.start_ms = cap.notice_ms;
    cap.end_ms = cap.start_ms + 3600 * 1000;
    cap.limit_kw = cap_kw;
    live_set_dr(s.l, &cap, 1);
    n = TL_UNTIL(&s, 60, (devsim_state(s.ds, &ds), ds.ev_kw > 50.0 && ds.grid_kw <= cap_kw + 2.0));
    printf("steady under the %.0f kW cap after %d cycles: grid %.1f kW, EV %.1f kW, PV %.1f kW\n",
           cap_kw,
           n,
           ds.grid_kw,
           ds.ev_kw,
           ds.pv_kw);
    CHECK(n > 0);
    tl_cycles(&s, 5);
    /* a dark cloud: PV drops to nothing */
    devsim_set_pv_factor(s.ds, 0.0);
    for (int i = 0; i < 100; i++) { /* the simulator's physics takes it in (a tick) */
        clock_sleep_ms(tl_clock, 10);
        devsim_state(s.ds, &ds);
        if (ds.pv_kw < 5.0) {
            break;
        }
    }
    clock_sleep_ms(tl_clock, TL_CYCLE_MS / 2); /* the meter sees it */
    devsim_state(s.ds, &ds);
    printf("PV dropped: grid %.1f kW over a %.0f kW cap\n", ds.grid_kw, cap_kw);
    CHECK(ds.grid_kw > cap_kw + 5.0); /* the test really broke the cap */
    n = TL_UNTIL(&s, 10, (devsim_state(s.ds, &ds), ds.grid_kw <= cap_kw + 2.0));
    printf("corrected in %d cycles: grid %.1f kW, EV %.1f kW, battery %.1f kW\n",
           n,
           ds.grid_kw,
           ds.ev_kw,
           ds.ess_kw);
    CHECK(n >= 1 && n <= 2);
    live_status(s.l, &ls);
    CHECK_NEAR(ls.import_max_kw, cap_kw, 1e-9);
    tl_stop(&s);
}

static void test_faults(void)
{
    struct tl_site s;
    struct live_status ls;
    struct devsim_state ds;
    const struct station_base_load *b;
    int meter;
    int slow;
    int pv;
    int storage;
    int n;
    double budget;

    tl_start_sim(&s);
    b = &s.st->base_load;
    budget = s.st->grid.import_limit_kw - (fmax(b->amenity_day_kw, b->night_kw) + b->lighting_kw);
    for (int i = 0; i < 8; i++) {
        const char *ids[8] =
            {"DC1-A", "DC1-B", "DC2-A", "DC2-B", "DC3-A", "DC3-B", "DC4-A", "DC4-B"};

        CHECK(devsim_plug(s.ds, tl_connector(s.st, ids[i]), 80.0, 120.0) == ERROR_OK);
    }
    tl_start_live(&s, NULL);
    TL_UNTIL(&s, 50, (live_status(s.l, &ls), ls.devices_online == ls.devices_total && ls.on_plan));
    meter = tl_device(s.st, STATION_DEVICE_METER, NULL);

    /* the meter drops its connections: worst-case cap, then recovery */
    devsim_fault(s.ds, meter, DEVSIM_FAULT_DROP, 0);
    n = TL_UNTIL(&s, 30, (live_status(s.l, &ls), !ls.meter_ok));
    printf("meter lost after %d cycles: EV limits %.1f kW (budget %.1f kW)\n",
           n,
           ls.set_ev_kw,
           budget);
    CHECK(n > 0);
    tl_cycles(&s, 2);
    live_status(s.l, &ls);
    CHECK(ls.set_ev_kw <= budget + 1e-6);
    devsim_fault(s.ds, meter, DEVSIM_FAULT_NONE, 0);
    n = TL_UNTIL(&s, 60, (live_status(s.l, &ls), ls.meter_ok));
    printf("meter back after %d cycles\n", n);
    CHECK(n > 0);

    /* a charger slower than the timeout, and an inverter answering with
     * exceptions: both go offline, the rest keep going */
    slow = tl_device(s.st, STATION_DEVICE_CONNECTOR, "AC1-1");
    pv = tl_device(s.st, STATION_DEVICE_PV, "carport-west");
    devsim_fault(s.ds, slow, DEVSIM_FAULT_SLOW, 500);
    devsim_fault(s.ds, pv, DEVSIM_FAULT_EXCEPTION, 0);
    n = TL_UNTIL(&s, 40, (live_status(s.l, &ls), ls.devices_online == ls.devices_total - 2));
    printf("slow charger and failing inverter offline after %d cycles\n", n);
    CHECK(n > 0);
    live_status(s.l, &ls);
    CHECK(ls.meter_ok);
    {
        int64_t before = ls.cycles;

        tl_cycles(&s, 5);
        live_status(s.l, &ls);
        CHECK(ls.cycles == before + 5); /* the cycle never waited on them */
    }
    devsim_fault(s.ds, slow, DEVSIM_FAULT_NONE, 0);
    devsim_fault(s.ds, pv, DEVSIM_FAULT_NONE, 0);
    n = TL_UNTIL(&s, 80, (live_status(s.l, &ls), ls.devices_online == ls.devices_total));
    printf("both back after %d cycles\n", n);
    CHECK(n > 0);

    /* the battery's PCS fails: SoC unknown, battery idle */
    storage = tl_device(s.st, STATION_DEVICE_STORAGE, NULL);
    devsim_fault(s.ds, storage, DEVSIM_FAULT_EXCEPTION, 0);
    n = TL_UNTIL(&s, 30, (live_status(s.l, &ls), !ls.soc_known));
    CHECK(n > 0);
    CHECK_NEAR(ls.set_ess_kw, 0.0, 0.0);
    devsim_fault(s.ds, storage, DEVSIM_FAULT_NONE, 0);
    devsim_state(s.ds, &ds);
    (void)ds;
    tl_stop(&s);
}

/* One integer from the history database. */
static long tl_query(const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long v = -1;

    if (sqlite3_open_v2(tl_db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        v = (long)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void test_restart(void)
{
    struct tl_site s;
    struct live_status ls;
    struct controller_dr cap;
    int64_t departure;
    char sql[160];
    int n;

    tl_start_sim(&s);
    CHECK(devsim_plug(s.ds, tl_connector(s.st, "DC3-B"), 50.0, 90.0) == ERROR_OK);
    tl_start_live(&s, tl_db);
    memset(&cap, 0, sizeof(cap));
    snprintf(cap.id, sizeof(cap.id), "evening-cap");
    cap.type = SCENARIO_DR_IMPORT_CAP;
    cap.notice_ms = clock_now_ms(tl_clock);
    cap.start_ms = cap.notice_ms + 3600 * 1000;
    cap.end_ms = cap.start_ms + 7200 * 1000;
    cap.limit_kw = 150.0;
    live_set_dr(s.l, &cap, 1);
    n = TL_UNTIL(&s, 50, (live_status(s.l, &ls), ls.on_plan && ls.sessions_open == 1));
    CHECK(n > 0);
    /* the driver declares departure and energy through a platform */
    departure = clock_now_ms(tl_clock) + 2 * 3600 * 1000;
    departure -= departure % 1000;
    CHECK(live_declare(s.l, "DC3-B", departure, 42.0) == ERROR_OK);
    CHECK(live_declare(s.l, "DC9-Z", departure, 42.0) == ERROR_INVALID);
    tl_cycles(&s, 8); /* flushes (every 1 s) */
    CHECK(tl_query("select count(*) from ev_session where connector_id = 'DC3-B'"
                   " and wanted_kwh = 42.0") == 1);
    snprintf(sql,
             sizeof(sql),
             "select count(*) from ev_session where departure_ms = %lld",
             (long long)departure);
    CHECK(tl_query(sql) == 1);
    live_free(s.l);

    /* flexd comes back: the session, the plan and the DR event are there
     * before a new plan could have been solved */
    tl_start_live(&s, tl_db);
    live_cycle(s.l);
    live_status(s.l, &ls);
    CHECK(ls.on_plan); /* following the stored plan in the very first cycle */
    n = TL_UNTIL(&s, 30, (live_status(s.l, &ls), ls.sessions_open == 1));
    CHECK(n > 0);
    CHECK_NEAR(ls.import_max_kw, s.st->grid.import_limit_kw, 1e-9); /* the cap is later */
    tl_cycles(&s, 8);
    tl_stop(&s);
    /* one session, resumed rather than opened twice; the DR event kept;
     * samples, setpoints and plans written */
    CHECK(tl_query("select count(*) from ev_session") == 1);
    CHECK(tl_query("select count(*) from ev_session where state = 'open'") == 1);
    CHECK(tl_query(sql) == 1); /* the declaration survived the restart */
    CHECK(tl_query("select count(*) from dr_event where id = 'evening-cap'") == 1);
    printf("history: %ld samples, %ld setpoints, %ld plans, %ld alarms\n",
           tl_query("select count(*) from sample_1s"),
           tl_query("select count(*) from setpoint"),
           tl_query("select count(*) from plan"),
           tl_query("select count(*) from alarm"));
    CHECK(tl_query("select count(*) from sample_1s") >= 15); /* one per cycle: 8 + 8 and more */
    CHECK(tl_query("select count(*) from setpoint") > 0);
    CHECK(tl_query("select count(*) from plan") >= 2);
}

/* 21 days of history before now: on each, one DC session starting at
 * every whole hour from 08:00 to 21:00, 40 kWh in 30 min, on DC1-A; each
 * also taught to *learn as the engine should learn it. */
static int tl_seed_sessions(const char *db, int64_t now, struct ev_forecast *learn)
{
    struct error_detail ed = {{0}};
    struct history_config hc;
    struct history *h = NULL;
    int n = 0;

    history_config_init(&hc, db, tl_clock);
    if (history_open(&hc, &h, &ed) != ERROR_OK) {
        fprintf(stderr, "history: %s\n", ed.text);
        return 0;
    }
    for (int d = 21; d >= 1; d--) {
        int64_t midnight = now - d * CLOCK_DAY_MS;
        struct clock_civil lt;

        clock_to_local(midnight, &lt);
        midnight = clock_from_local(lt.year, lt.month, lt.day, 0, 0, 0);
        for (int hr = 8; hr < 22; hr++) {
            struct history_session hs;

            memset(&hs, 0, sizeof(hs));
            snprintf(hs.id, sizeof(hs.id), "DC1-A-seed-%d-%d", d, hr);
            snprintf(hs.connector_id, sizeof(hs.connector_id), "DC1-A");
            hs.plugin_ms = midnight + hr * 3600000LL;
            hs.unplug_ms = hs.plugin_ms + 30 * 60000;
            hs.energy_kwh = 40.0;
            hs.wanted_kwh = NAN;
            hs.state = HISTORY_SESSION_CLOSED;
            CHECK(history_put_session(h, &hs, &ed) == ERROR_OK);
            ev_forecast_arrival(learn, EV_FORECAST_DC, hs.plugin_ms);
            ev_forecast_departure(learn, EV_FORECAST_DC, 40.0, 30.0);
            n++;
        }
    }
    CHECK(history_flush(h, &ed) == ERROR_OK);
    history_close(h);
    return n;
}

/* Mean planned import over plan steps [from, to). */
static double tl_planned_import(struct tl_site *s, int from, int to)
{
    struct live_capacity *cap = calloc(1, sizeof(*cap));
    double sum = 0.0;

    if (live_capacity(s->l, cap) != ERROR_OK || cap->steps < to) {
        free(cap);
        return NAN;
    }
    for (int t = from; t < to; t++) {
        sum += cap->plan_kw[t];
    }
    free(cap);
    return sum / (to - from);
}

static void test_ev_forecast(void)
{
    struct tl_site s;
    struct live_status ls;
    struct ev_forecast cold, learnt;
    char db[300];
    int64_t now = clock_now_ms(tl_clock);
    int64_t t0;
    double cold_kwh, want_kwh, fc[96], learned_kwh, import_before, import_after;
    struct ev_outlook_interval crowd;
    int plans, n;

    /* a fresh history: the configured cold start */
    snprintf(db, sizeof(db), "%s/evf-cold.db", tl_dir);
    tl_start_sim(&s);
    tl_start_live(&s, db);
    n = TL_UNTIL(&s, 50, (live_status(s.l, &ls), ls.plans_solved >= 1));
    CHECK(n > 0);
    ev_forecast_init(&cold, s.st);
    cold_kwh = ev_forecast_kw(&cold, ls.now_ms, 15, 96, fc);
    CHECK(cold_kwh > 100.0);
    CHECK_NEAR(ls.ev_forecast_kwh, cold_kwh, 0.02 * cold_kwh);
    live_free(s.l);

    /* three weeks of a DC car every open hour: relearnt at start-up */
    snprintf(db, sizeof(db), "%s/evf-learnt.db", tl_dir);
    ev_forecast_init(&learnt, s.st);
    CHECK(tl_seed_sessions(db, now, &learnt) == 21 * 14);
    tl_start_live(&s, db);
    n = TL_UNTIL(&s, 50, (live_status(s.l, &ls), ls.plans_solved >= 1));
    CHECK(n > 0);
    learned_kwh = ls.ev_forecast_kwh;
    ev_forecast_advance(&learnt, ls.now_ms);
    want_kwh = ev_forecast_kw(&learnt, ls.now_ms, 15, 96, fc);
    CHECK_NEAR(learned_kwh, want_kwh, 0.02 * want_kwh);
    /* 14 cars x 40 kWh a day, where the prior expects 20 x 30 + 8 x 15:
     * three weeks move it part of the way down */
    CHECK(learned_kwh < cold_kwh && learned_kwh > 14 * 40.0);
    printf("EV forecast, next 24 h: cold start %.0f kWh, relearnt %.0f kWh\n",
           cold_kwh,
           learned_kwh);

    /* the district platform expects a crowd over the next 3 h: more cars,
     * a new plan, more import planned in those hours */
    import_before = tl_planned_import(&s, 1, 12);
    plans = ls.plans_solved;
    t0 = ls.now_ms;
    crowd.start_ms = t0;
    crowd.end_ms = t0 + 3 * 3600000LL;
    crowd.value = 20000.0; /* visitors/h: a National Day crowd */
    live_set_outlook(s.l, EV_OUTLOOK_VISITOR_FLOW, &crowd, 1);
    /* the request with the outlook (a solve already running finishes first) */
    n = TL_UNTIL(&s, 50, (live_status(s.l, &ls), ls.ev_forecast_kwh > learned_kwh + 500.0));
    CHECK(n > 0);
    plans = ls.plans_solved;
    n = TL_UNTIL(&s, 50, (live_status(s.l, &ls), ls.plans_solved > plans));
    CHECK(n > 0);
    import_after = tl_planned_import(&s, 1, 12);
    CHECK(ls.ev_forecast_kwh > learned_kwh + 500.0);
    CHECK(import_after > import_before + 50.0);
    printf("visitor-flow outlook 20,000/h for 3 h: %.0f kWh expected, planned import over"
           " steps 1-11 %.1f -> %.1f kW\n",
           ls.ev_forecast_kwh,
           import_before,
           import_after);
    /* cleared: back to what was learnt */
    live_set_outlook(s.l, EV_OUTLOOK_VISITOR_FLOW, NULL, 0);
    n = TL_UNTIL(&s, 50, (live_status(s.l, &ls), ls.ev_forecast_kwh < learned_kwh + 500.0));
    CHECK(n > 0);
    CHECK_NEAR(ls.ev_forecast_kwh, learned_kwh, 0.05 * learned_kwh);
    tl_stop(&s);
}

int main(void)
{
    if (!mkdtemp(tl_dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(tl_db, sizeof(tl_db), "%s/history.db", tl_dir);
    snprintf(tl_maps, sizeof(tl_maps), "%s/config/devices", FLEXD_SOURCE_DIR);
    tl_clock = clock_new_real();
    test_discovery_and_setpoints();
    test_pv_drop_under_cap();
    test_faults();
    test_restart();
    test_ev_forecast();
    clock_free(tl_clock);
    {
        char cmd[512];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", tl_dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", tl_dir);
        }
    }
    return CHECK_DONE();
}
