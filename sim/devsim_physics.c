/* SPDX-License-Identifier: MIT */
/*
 * devsim_physics.c - the simulator's world in virtual time (devsim.h): PV
 * from the world's true PV under the curtailment written, the battery in
 * forced operation within its SoC window, the world's cars at their
 * connectors and non-EV cars in the car park, what clients wrote (revert
 * timers, heartbeat fall-backs), the meter as the balance of all flows,
 * and the measurements published into each device's registers.
 *
 * Runs on the physics thread with ds->mu held, taking each device mutex
 * in turn (devsim.c); dsim_plug() and dsim_unplug() also from the API.
 */
#include "devsim_internal.h"

#include "../common/logger.h"

#include <math.h>
#include <string.h>

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

void dsim_plug(struct devsim *ds, int i, double kwh, double max_kw, int64_t dep_ms)
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

void dsim_unplug(struct devsim *ds, int i)
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
            dsim_unplug(ds, i);
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
                dsim_plug(ds, car->connector, car->wanted_kwh, car->max_kw, dep);
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
    uint16_t m = dsim_has_model(d, 123) ? 123 : 704;
    const char *ena_pt = m == 123 ? "WMaxLim_Ena" : "WMaxLimPctEna";
    double ena = dsim_ss_get(d, m, ena_pt);
    double rv = dsim_ss_get(d, m, m == 123 ? "WMaxLimPct_RvrtTms" : "WMaxLimPctRvrtTms");
    double wmax = dsim_ss_get(d, 121, "WMax");

    if (ena == 1.0 && rv > 0.0 && (double)(now - d->ctl_ms) >= rv * 1000.0) {
        dsim_ss(d, m, ena_pt, 0.0);
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
        dsim_ss(d, 124, "StorCtl_Mod", 0.0);
        dsim_ss(d, 124, "InWRte", 100.0);
        dsim_ss(d, 124, "OutWRte", 100.0);
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
        dsim_rm_get(d, REGMAP_FILE_HEARTBEAT, &v);
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
            dsim_rm_set(d, REGMAP_FILE_LIMIT, dsim_conn_from_kw(d, c, 0.0));
            if (!d->fallen) {
                LOGI("devsim", "%s: no heartbeat for %g s: safe limit", d->cfg->id, timeout_s);
            }
            d->fallen = 1;
            d->alive_ms = now;
        }
    }
    if (dsim_rm_get(d, REGMAP_FILE_LIMIT, &v) == ERROR_OK) {
        c->limit_kw = fmax(0.0, dsim_conn_to_kw(d, c, v));
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

        dsim_ss(d, 103, "W", w);
        dsim_ss(d, 103, "A", w / (3.0 * DS_AC_PHASE_V));
        for (int p = 0; p < 3; p++) {
            dsim_ss(d, 103, (const char *[]){"AphA", "AphB", "AphC"}[p], w / (9.0 * DS_AC_PHASE_V));
        }
        dsim_ss(d, 103, "WH", d->energy_wh);
        dsim_ss(d, 103, "St", kw <= 0.0 ? 2 : sunspec_image_pv_limit_pct(d->img) < 100.0 ? 5 : 4);
    } else if (d->cfg->kind == STATION_DEVICE_STORAGE) {
        const struct station_ess *e = &ds->st.ess;
        int st = s->ess_kw > 0.0 ? 3 : s->ess_kw < 0.0 ? 4 : 6;

        st = st == 6 && s->soc <= e->soc_min + 1e-6   ? 2
             : st == 6 && s->soc >= e->soc_max - 1e-6 ? 5
                                                      : st;
        dsim_ss(d, 103, "W", 1000.0 * s->ess_kw);
        dsim_ss(d, 103, "A", 1000.0 * fabs(s->ess_kw) / (3.0 * DS_AC_PHASE_V));
        dsim_ss(d, 124, "ChaState", 100.0 * s->soc);
        dsim_ss(d, 124, "ChaSt", st);
        dsim_ss(d, dsim_has_model(d, 802) ? 802 : 713, "SoC", 100.0 * s->soc);
        dsim_ss(d, 802, "W", 1000.0 * s->ess_kw);
        dsim_ss(d, 802, "A", 1000.0 * s->ess_kw / 800.0);
        dsim_ss(d, 802, "ChaSt", st);
    } else if (d->cfg->kind == STATION_DEVICE_METER && d->map) {
        dsim_rm_put(d, REGMAP_FILE_POWER, dsim_rm_kilo(d, REGMAP_FILE_POWER, s->grid_kw));
        dsim_rm_put(d,
                    REGMAP_FILE_ENERGY_IMPORT,
                    dsim_rm_kilo(d, REGMAP_FILE_ENERGY_IMPORT, s->import_kwh));
        dsim_rm_put(d,
                    REGMAP_FILE_ENERGY_EXPORT,
                    dsim_rm_kilo(d, REGMAP_FILE_ENERGY_EXPORT, s->export_kwh));
    } else if (d->cfg->kind == STATION_DEVICE_METER) {
        double w = 1000.0 * s->grid_kw;

        dsim_ss(d, 203, "W", w);
        dsim_ss(d, 203, "A", fabs(w) / (3.0 * DS_AC_PHASE_V));
        for (int p = 0; p < 3; p++) {
            dsim_ss(d, 203, (const char *[]){"WphA", "WphB", "WphC"}[p], w / 3.0);
            dsim_ss(d,
                    203,
                    (const char *[]){"AphA", "AphB", "AphC"}[p],
                    fabs(w) / (9.0 * DS_AC_PHASE_V));
        }
        dsim_ss(d, 203, "TotWhImp", ds->import_wh);
        dsim_ss(d, 203, "TotWhExp", ds->export_wh);
    } else if (d->map) {
        const struct ds_conn *c = &ds->conn[d->target];
        int state = c->kw > 1e-6 ? REGMAP_FILE_CHARGING
                    : c->plugged ? REGMAP_FILE_OCCUPIED
                                 : REGMAP_FILE_AVAILABLE;

        dsim_rm_code(d, REGMAP_FILE_STATUS, state);
        dsim_rm_code(d,
                     REGMAP_FILE_PLUG,
                     c->plugged ? REGMAP_FILE_OCCUPIED : REGMAP_FILE_AVAILABLE);
        dsim_rm_put(d, REGMAP_FILE_POWER, dsim_rm_kilo(d, REGMAP_FILE_POWER, c->kw));
        dsim_rm_put(d,
                    REGMAP_FILE_SESSION_ENERGY,
                    dsim_rm_kilo(d, REGMAP_FILE_SESSION_ENERGY, c->session_kwh));
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
void dsim_tick(struct devsim *ds, int init)
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

void *dsim_physics(void *arg)
{
    struct devsim *ds = arg;

    pthread_mutex_lock(&ds->mu);
    while (!ds->stop) {
        clock_wait(ds->clk, &ds->cv, &ds->mu, ds->opt.tick_ms);
        if (!ds->stop) {
            dsim_tick(ds, 0);
        }
    }
    pthread_mutex_unlock(&ds->mu);
    return NULL;
}
