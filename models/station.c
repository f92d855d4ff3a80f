/* SPDX-License-Identifier: MIT */
/*
 * station.c - the rules a station description must keep, and the little
 * arithmetic the engine needs on it (windows, base load, connector lookup).
 * Validation lives here rather than in the file parser because tests and
 * the simulator build stations in code too; messages use the station
 * file's JSON paths so a file error and a code error read the same.
 * Pure functions, any thread; the caller owns every station.
 */
#include "station.h"

#include "../common/alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const station_charger_type_names[3] = {"dc", "ac", NULL};
const char *const station_device_kind_names[6] =
    {"meter", "pv", "storage", "connector", "parking", NULL};
const char *const station_device_protocol_names[4] = {"sunspec", "regmap", "parking-io", NULL};

#define ST_KW_MAX    SCENARIO_POWER_MAX_KW
#define ST_KWH_MAX   SCENARIO_ENERGY_MAX_KWH
#define ST_PRICE_MAX SCENARIO_PRICE_MAX_CNY

/* One range rule: v in [lo, hi], or (lo, hi] when lo_open. */
struct st_rule {
    const char *name;
    double v;
    double lo;
    double hi;
    int lo_open;
};

struct station *station_new(void)
{
    return ALLOC_NEW(struct station);
}

void station_free(struct station *st)
{
    free(st);
}

static int st_range(struct error_detail *ed, const char *prefix, const struct st_rule *r, int n)
{
    for (int i = 0; i < n; i++) {
        double v = r[i].v;
        int bad = !isfinite(v) || v > r[i].hi || (r[i].lo_open ? v <= r[i].lo : v < r[i].lo);

        if (bad) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "%s%s: %g: must be in %c%g, %g]",
                              prefix,
                              r[i].name,
                              v,
                              r[i].lo_open ? '(' : '[',
                              r[i].lo,
                              r[i].hi);
        }
    }
    return ERROR_OK;
}

#define ST_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int st_check_id(struct error_detail *ed, const char *path, const char *id, size_t size)
{
    if (!memchr(id, '\0', size) || id[0] == '\0') {
        return error_setf(ed, ERROR_INVALID, "%s: must be a non-empty name", path);
    }
    return ERROR_OK;
}

static int
st_check_window(struct error_detail *ed, const char *path, const struct station_window *w)
{
    if (w->start_min < 0 || w->start_min >= 1440) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "%s.start: minute %d: must be in [00:00, 23:59]",
                          path,
                          w->start_min);
    }
    if (w->end_min < 0 || w->end_min > 1440) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "%s.end: minute %d: must be in [00:00, 24:00]",
                          path,
                          w->end_min);
    }
    if (w->end_min == w->start_min) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "%s.end: %02d:%02d: must differ from start (00:00-24:00 is the whole "
                          "day)",
                          path,
                          w->end_min / 60,
                          w->end_min % 60);
    }
    return ERROR_OK;
}

static int st_check_site(const struct station *st, struct error_detail *ed)
{
    const struct station_location *l = &st->location;
    const struct station_grid *g = &st->grid;
    const struct st_rule rule[] = {
        {"location.lat_deg", l->lat_deg, -90, 90, 0},
        {"location.lon_deg", l->lon_deg, -180, 180, 0},
        {"location.altitude_m", l->altitude_m, -500, 9000, 0},
        {"grid.transformer_kva", g->transformer_kva, 0, ST_KW_MAX, 1},
        {"grid.import_limit_kw", g->import_limit_kw, 0, ST_KW_MAX, 0},
        {"grid.export_limit_kw", g->export_limit_kw, 0, ST_KW_MAX, 0},
        {"grid.demand_target_kw", g->demand_target_kw, 0, ST_KW_MAX, 0},
    };

    if (st_check_id(ed, "id", st->id, sizeof(st->id)) ||
        st_check_id(ed, "name", st->name, sizeof(st->name)) ||
        st_range(ed, "", rule, ST_COUNT(rule))) {
        return ERROR_INVALID;
    }
    if (strncmp(l->timezone, STATION_TIMEZONE, sizeof(l->timezone)) != 0) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "location.timezone: \"%.*s\": must be \"%s\" (flexd keeps time in "
                          "UTC+08:00)",
                          (int)strnlen(l->timezone, sizeof(l->timezone) - 1),
                          l->timezone,
                          STATION_TIMEZONE);
    }
    if (g->import_limit_kw > g->transformer_kva) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "grid.import_limit_kw: %g: must not exceed transformer_kva %g (kW <= kVA "
                          "at unity power factor)",
                          g->import_limit_kw,
                          g->transformer_kva);
    }
    if (g->export_limit_kw > g->transformer_kva) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "grid.export_limit_kw: %g: must not exceed transformer_kva %g",
                          g->export_limit_kw,
                          g->transformer_kva);
    }
    if (g->demand_target_kw > g->import_limit_kw) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "grid.demand_target_kw: %g: must not exceed import_limit_kw %g",
                          g->demand_target_kw,
                          g->import_limit_kw);
    }
    return ERROR_OK;
}

static int st_check_pv(const struct station *st, struct error_detail *ed)
{
    char prefix[48];

    if (st->n_pv_arrays < 0 || st->n_pv_arrays > STATION_PV_ARRAYS_MAX) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "pv_arrays: %d arrays: must be 0..%d",
                          st->n_pv_arrays,
                          STATION_PV_ARRAYS_MAX);
    }
    for (int i = 0; i < st->n_pv_arrays; i++) {
        const struct station_pv_array *a = &st->pv_arrays[i];
        const struct st_rule rule[] = {
            {"peak_kwp", a->peak_kwp, 0, ST_KW_MAX, 1},
            {"tilt_deg", a->tilt_deg, 0, 90, 0},
            {"azimuth_deg", a->azimuth_deg, 0, 360, 0},
            {"inverter_ac_kw", a->inverter_ac_kw, 0, ST_KW_MAX, 1},
            {"temp_coeff_per_c", a->temp_coeff_per_c, -0.01, 0, 0},
            {"losses", a->losses, 0, 0.9, 0},
        };

        (void)snprintf(prefix, sizeof(prefix), "pv_arrays[%d].", i);
        if (st_range(ed, prefix, rule, ST_COUNT(rule))) {
            return ERROR_INVALID;
        }
        (void)snprintf(prefix, sizeof(prefix), "pv_arrays[%d].id", i);
        if (st_check_id(ed, prefix, a->id, sizeof(a->id))) {
            return ERROR_INVALID;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(st->pv_arrays[j].id, a->id) == 0) {
                return error_setf(ed,
                                  ERROR_INVALID,
                                  "pv_arrays[%d].id: \"%s\": duplicates pv_arrays[%d]",
                                  i,
                                  a->id,
                                  j);
            }
        }
    }
    return ERROR_OK;
}

static int st_check_ess(const struct station_ess *e, struct error_detail *ed)
{
    const struct st_rule rule[] = {
        {"capacity_kwh", e->capacity_kwh, 0, ST_KWH_MAX, 1},
        {"charge_max_kw", e->charge_max_kw, 0, ST_KW_MAX, 1},
        {"discharge_max_kw", e->discharge_max_kw, 0, ST_KW_MAX, 1},
        {"charge_efficiency", e->charge_efficiency, 0, 1, 1},
        {"discharge_efficiency", e->discharge_efficiency, 0, 1, 1},
        {"soc_min", e->soc_min, 0, 1, 0},
        {"soc_max", e->soc_max, 0, 1, 0},
        {"reserve_soc", e->reserve_soc, 0, 1, 0},
        {"soc_final_target", e->soc_final_target, 0, 1, 0},
        {"throughput_cost_cny_per_kwh", e->throughput_cost_cny_per_kwh, 0, ST_PRICE_MAX, 0},
    };

    if (st_range(ed, "ess.", rule, ST_COUNT(rule))) {
        return ERROR_INVALID;
    }
    if (e->soc_min >= e->soc_max) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "ess.soc_min: %g: must be below soc_max %g",
                          e->soc_min,
                          e->soc_max);
    }
    if (e->reserve_soc < e->soc_min || e->reserve_soc > e->soc_max) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "ess.reserve_soc: %g: must be in [soc_min %g, soc_max %g]",
                          e->reserve_soc,
                          e->soc_min,
                          e->soc_max);
    }
    if (e->soc_final_target < e->soc_min || e->soc_final_target > e->soc_max) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "ess.soc_final_target: %g: must be in [soc_min %g, soc_max %g]",
                          e->soc_final_target,
                          e->soc_min,
                          e->soc_max);
    }
    return ERROR_OK;
}

/* Connector ids are unique over the whole station: a scenario names them. */
static int st_check_connector_ids(const struct station *st, int ci, int k, struct error_detail *ed)
{
    const char *id = st->chargers[ci].connectors[k].id;

    for (int i = 0; i <= ci; i++) {
        const struct station_charger *c = &st->chargers[i];

        for (int j = 0; j < (i == ci ? k : c->n_connectors); j++) {
            if (strcmp(c->connectors[j].id, id) == 0) {
                return error_setf(ed,
                                  ERROR_INVALID,
                                  "chargers[%d].connectors[%d].id: \"%s\": duplicates "
                                  "chargers[%d].connectors[%d]",
                                  ci,
                                  k,
                                  id,
                                  i,
                                  j);
            }
        }
    }
    return ERROR_OK;
}

static int st_check_connectors(const struct station *st, int ci, struct error_detail *ed)
{
    const struct station_charger *c = &st->chargers[ci];
    double sum_kw = 0;
    char path[64];

    for (int k = 0; k < c->n_connectors; k++) {
        const struct station_connector *cn = &c->connectors[k];
        const struct st_rule rule[] = {{"max_kw", cn->max_kw, 0, ST_KW_MAX, 1}};

        (void)snprintf(path, sizeof(path), "chargers[%d].connectors[%d].", ci, k);
        if (st_range(ed, path, rule, 1)) {
            return ERROR_INVALID;
        }
        (void)snprintf(path, sizeof(path), "chargers[%d].connectors[%d].id", ci, k);
        if (st_check_id(ed, path, cn->id, sizeof(cn->id)) ||
            st_check_connector_ids(st, ci, k, ed)) {
            return ERROR_INVALID;
        }
        if (cn->max_kw > c->max_kw) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "chargers[%d].connectors[%d].max_kw: %g: must not exceed the "
                              "charger's max_kw %g",
                              ci,
                              k,
                              cn->max_kw,
                              c->max_kw);
        }
        if (c->type == STATION_CHARGER_AC && cn->max_kw > STATION_AC_CONNECTOR_MAX_KW) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "chargers[%d].connectors[%d].max_kw: %g: an AC connector delivers "
                              "at most %g kW",
                              ci,
                              k,
                              cn->max_kw,
                              STATION_AC_CONNECTOR_MAX_KW);
        }
        sum_kw += cn->max_kw;
    }
    if (c->max_kw > sum_kw) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "chargers[%d].max_kw: %g: must not exceed the sum of its connectors' "
                          "max_kw %g (the connectors share the cabinet)",
                          ci,
                          c->max_kw,
                          sum_kw);
    }
    return ERROR_OK;
}

static int st_check_chargers(const struct station *st, struct error_detail *ed)
{
    char path[48];

    if (st->n_chargers < 0 || st->n_chargers > STATION_CHARGERS_MAX) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "chargers: %d chargers: must be 0..%d",
                          st->n_chargers,
                          STATION_CHARGERS_MAX);
    }
    for (int i = 0; i < st->n_chargers; i++) {
        const struct station_charger *c = &st->chargers[i];
        const struct st_rule rule[] = {{"max_kw", c->max_kw, 0, ST_KW_MAX, 1}};

        (void)snprintf(path, sizeof(path), "chargers[%d].id", i);
        if (st_check_id(ed, path, c->id, sizeof(c->id))) {
            return ERROR_INVALID;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(st->chargers[j].id, c->id) == 0) {
                return error_setf(ed,
                                  ERROR_INVALID,
                                  "chargers[%d].id: \"%s\": duplicates chargers[%d]",
                                  i,
                                  c->id,
                                  j);
            }
        }
        if ((int)c->type != STATION_CHARGER_DC && (int)c->type != STATION_CHARGER_AC) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "chargers[%d].type: %d: must be dc or ac",
                              i,
                              (int)c->type);
        }
        (void)snprintf(path, sizeof(path), "chargers[%d].", i);
        if (st_range(ed, path, rule, 1)) {
            return ERROR_INVALID;
        }
        if (c->n_connectors < 1 || c->n_connectors > STATION_CONNECTORS_MAX) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "chargers[%d].connectors: %d connectors: must be 1..%d",
                              i,
                              c->n_connectors,
                              STATION_CONNECTORS_MAX);
        }
        if (st_check_connectors(st, i, ed)) {
            return ERROR_INVALID;
        }
    }
    return ERROR_OK;
}

static int st_check_parking(const struct station *st, struct error_detail *ed)
{
    const struct station_parking *p = &st->parking;
    int connectors = station_connector_count(st);

    if (p->spaces < 0 || p->spaces > STATION_SPACES_MAX) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "parking.spaces: %d: must be in [0, %d]",
                          p->spaces,
                          STATION_SPACES_MAX);
    }
    if (p->ev_spaces < 0 || p->ev_spaces > p->spaces) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "parking.ev_spaces: %d: must be in [0, spaces %d]",
                          p->ev_spaces,
                          p->spaces);
    }
    if (p->accessible_spaces < 0 || p->accessible_spaces > p->spaces) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "parking.accessible_spaces: %d: must be in [0, spaces %d]",
                          p->accessible_spaces,
                          p->spaces);
    }
    if (connectors > p->ev_spaces) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "parking.ev_spaces: %d: must be at least the number of connectors %d "
                          "(each plugged car needs a space)",
                          p->ev_spaces,
                          connectors);
    }
    return ERROR_OK;
}

static int st_check_loads(const struct station *st, struct error_detail *ed)
{
    const struct station_base_load *b = &st->base_load;
    const struct scenario_penalties *p = &st->penalties;
    const struct st_rule rule[] = {
        {"base_load.amenity_day_kw", b->amenity_day_kw, 0, ST_KW_MAX, 0},
        {"base_load.night_kw", b->night_kw, 0, ST_KW_MAX, 0},
        {"base_load.lighting_kw", b->lighting_kw, 0, ST_KW_MAX, 0},
        {"penalties.grid_limit_cny_per_kwh", p->grid_limit_cny_per_kwh, 0, ST_PRICE_MAX, 0},
        {"penalties.dr_cny_per_kwh", p->dr_cny_per_kwh, 0, ST_PRICE_MAX, 0},
        {"penalties.reserve_cny_per_kwh", p->reserve_cny_per_kwh, 0, ST_PRICE_MAX, 0},
        {"penalties.unmet_energy_cny_per_kwh", p->unmet_energy_cny_per_kwh, 0, ST_PRICE_MAX, 0},
        {"penalties.soc_final_cny_per_kwh", p->soc_final_cny_per_kwh, 0, ST_PRICE_MAX, 0},
    };

    if (st_range(ed, "", rule, ST_COUNT(rule)) ||
        st_check_window(ed, "base_load.lighting", &b->lighting) ||
        st_check_window(ed, "sharing.charging", &st->sharing.charging) ||
        st_check_window(ed, "sharing.parking", &st->sharing.parking) ||
        st_check_window(ed, "sharing.amenities", &st->sharing.amenities)) {
        return ERROR_INVALID;
    }
    return ERROR_OK;
}

static int st_check_ev_forecast(const struct station_ev_forecast *f, struct error_detail *ed)
{
    const struct st_rule rule[] = {
        {"prior_dc_arrivals_per_day", f->prior_dc_arrivals_per_day, 0, 1000, 0},
        {"prior_ac_arrivals_per_day", f->prior_ac_arrivals_per_day, 0, 1000, 0},
        {"learn_days", f->learn_days, 1, 365, 0},
        {"tourist_share", f->tourist_share, 0, 1, 0},
        {"arrivals_per_1000_visitors", f->arrivals_per_1000_visitors, 0, 1000, 0},
        {"through_share", f->through_share, 0, 1, 0},
        {"congestion_typical", f->congestion_typical, 0, 0.9, 0},
    };

    if (st_range(ed, "ev_forecast.", rule, ST_COUNT(rule))) {
        return ERROR_INVALID;
    }
    if (f->tourist_share + f->through_share > 1.0 + 1e-9) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "ev_forecast.through_share: %g: tourist_share + through_share (%g) "
                          "must not exceed 1",
                          f->through_share,
                          f->tourist_share + f->through_share);
    }
    return ERROR_OK;
}

/* The target a device of this kind must name, and whether it exists. */
static int st_check_device_target(const struct station *st,
                                  const struct station_device *d,
                                  const char *path,
                                  struct error_detail *ed)
{
    int found = 0;

    switch (d->kind) {
    case STATION_DEVICE_PV:
        for (int i = 0; i < st->n_pv_arrays; i++) {
            found |= strcmp(st->pv_arrays[i].id, d->target) == 0;
        }
        if (!found) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "%s.target: \"%s\": must name one of pv_arrays[].id",
                              path,
                              d->target);
        }
        break;
    case STATION_DEVICE_CONNECTOR:
        if (!station_find_connector(st, d->target, NULL)) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "%s.target: \"%s\": must name a connector of chargers[]",
                              path,
                              d->target);
        }
        break;
    case STATION_DEVICE_STORAGE:
        if (!st->has_ess) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "%s.kind: \"storage\": the station has no ess",
                              path);
        }
        /* fall through */
    default:
        if (d->target[0] != '\0') {
            return error_setf(ed,
                              ERROR_INVALID,
                              "%s.target: \"%s\": a %s device serves the whole station; leave "
                              "target out",
                              path,
                              d->target,
                              station_device_kind_names[d->kind]);
        }
    }
    return ERROR_OK;
}

static int st_check_devices(const struct station *st, struct error_detail *ed)
{
    char path[32];

    for (int i = 0; i < st->n_devices; i++) {
        const struct station_device *d = &st->devices[i];
        int pv_or_storage = d->kind == STATION_DEVICE_PV || d->kind == STATION_DEVICE_STORAGE;

        snprintf(path, sizeof(path), "devices[%d]", i);
        if (st_check_device_target(st, d, path, ed)) {
            return ERROR_INVALID;
        }
        if (pv_or_storage && d->protocol != STATION_PROTOCOL_SUNSPEC) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "%s.protocol: \"%s\": PV and storage devices speak SunSpec",
                              path,
                              station_device_protocol_names[d->protocol]);
        }
        if ((d->protocol == STATION_PROTOCOL_REGMAP) != (d->map[0] != '\0')) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "%s.map: \"%s\": %s",
                              path,
                              d->map,
                              d->map[0] ? "only a regmap device has a map"
                                        : "a regmap device needs a map");
        }
        if (d->kind == STATION_DEVICE_CONNECTOR && d->protocol != STATION_PROTOCOL_REGMAP) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "%s.protocol: \"%s\": a connector is read through a register map",
                              path,
                              station_device_protocol_names[d->protocol]);
        }
        if ((d->kind == STATION_DEVICE_PARKING) != (d->protocol == STATION_PROTOCOL_PARKING)) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "%s.protocol: \"%s\": the parking controller, and only it, speaks "
                              "parking-io",
                              path,
                              station_device_protocol_names[d->protocol]);
        }
        for (int j = 0; j < i; j++) {
            const struct station_device *o = &st->devices[j];
            int one_per_station =
                d->kind != STATION_DEVICE_PV && d->kind != STATION_DEVICE_CONNECTOR;

            if (strcmp(o->id, d->id) == 0) {
                return error_setf(ed,
                                  ERROR_INVALID,
                                  "%s.id: \"%s\": already used by devices[%d]",
                                  path,
                                  d->id,
                                  j);
            }
            if (o->kind == d->kind && (one_per_station || strcmp(o->target, d->target) == 0)) {
                return error_setf(ed,
                                  ERROR_INVALID,
                                  "%s: a second %s device%s%s: devices[%d] already serves it",
                                  path,
                                  station_device_kind_names[d->kind],
                                  d->target[0] ? " for " : "",
                                  d->target,
                                  j);
            }
            if (strcmp(o->host, d->host) == 0 && o->port == d->port && o->unit_id == d->unit_id) {
                return error_setf(ed,
                                  ERROR_INVALID,
                                  "%s: %s:%d unit %d: already used by devices[%d]",
                                  path,
                                  d->host,
                                  d->port,
                                  d->unit_id,
                                  j);
            }
        }
        if (d->timeout_ms >= d->poll_ms) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "%s.timeout_ms: %d: must be shorter than poll_ms %d",
                              path,
                              d->timeout_ms,
                              d->poll_ms);
        }
    }
    return ERROR_OK;
}

int station_find_device(const struct station *st, int kind, const char *target)
{
    for (int i = 0; i < st->n_devices && i < STATION_DEVICES_MAX; i++) {
        if (st->devices[i].kind == kind &&
            (!target || strcmp(st->devices[i].target, target) == 0)) {
            return i;
        }
    }
    return -1;
}

/* A topic prefix is used as a topic level path: no wildcards, no empty
 * levels, no leading or trailing '/'. */
static int st_check_mqtt_prefix(const char *p, struct error_detail *ed)
{
    size_t n = strlen(p);

    if (n == 0) {
        return ERROR_OK;
    }
    if (strpbrk(p, "+#") || p[0] == '/' || p[n - 1] == '/' || strstr(p, "//")) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "mqtt.topic_prefix: \"%s\": no wildcards (+ #), no empty level, no"
                          " leading or trailing '/'",
                          p);
    }
    return ERROR_OK;
}

static int st_check_mqtt(const struct station_mqtt *m, struct error_detail *ed)
{
    if (!m->tls && (m->ca_file[0] || m->cert_file[0] || m->key_file[0])) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "mqtt.tls: false: ca_file, cert_file and key_file need tls true");
    }
    if (!m->cert_file[0] != !m->key_file[0]) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "mqtt.%s: missing: cert_file and key_file go together",
                          m->cert_file[0] ? "key_file" : "cert_file");
    }
    if (m->password_file[0] && !m->username[0]) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "mqtt.username: missing: password_file needs a username");
    }
    return st_check_mqtt_prefix(m->topic_prefix, ed);
}

int station_validate(const struct station *st, struct error_detail *ed)
{
    if (st->has_mqtt && st_check_mqtt(&st->mqtt, ed)) {
        return ERROR_INVALID;
    }
    if (st_check_site(st, ed) || st_check_pv(st, ed)) {
        return ERROR_INVALID;
    }
    if (st->has_ess && st_check_ess(&st->ess, ed)) {
        return ERROR_INVALID;
    }
    if (st_check_chargers(st, ed) || st_check_parking(st, ed) || st_check_loads(st, ed) ||
        st_check_ev_forecast(&st->ev_forecast, ed) || tariff_validate(&st->tariff, ed) ||
        st_check_devices(st, ed)) {
        return ERROR_INVALID;
    }
    return ERROR_OK;
}

int station_window_contains(const struct station_window *w, int minute)
{
    int len = w->end_min - w->start_min;

    if (len <= 0) {
        len += 1440;
    }
    return (minute - w->start_min + 1440) % 1440 < len;
}

double station_base_load_kw(const struct station *st, int minute)
{
    const struct station_base_load *b = &st->base_load;
    double kw =
        station_window_contains(&st->sharing.amenities, minute) ? b->amenity_day_kw : b->night_kw;

    if (station_window_contains(&b->lighting, minute)) {
        kw += b->lighting_kw;
    }
    return kw;
}

int station_connector_count(const struct station *st)
{
    int n = 0;

    for (int i = 0; i < st->n_chargers && i < STATION_CHARGERS_MAX; i++) {
        n += st->chargers[i].n_connectors;
    }
    return n;
}

const struct station_connector *station_find_connector(const struct station *st,
                                                       const char *id,
                                                       const struct station_charger **charger)
{
    for (int i = 0; i < st->n_chargers && i < STATION_CHARGERS_MAX; i++) {
        const struct station_charger *c = &st->chargers[i];

        for (int k = 0; k < c->n_connectors && k < STATION_CONNECTORS_MAX; k++) {
            if (strcmp(c->connectors[k].id, id) == 0) {
                if (charger) {
                    *charger = c;
                }
                return &c->connectors[k];
            }
        }
    }
    return NULL;
}

double station_pv_kwp(const struct station *st)
{
    double kwp = 0;

    for (int i = 0; i < st->n_pv_arrays && i < STATION_PV_ARRAYS_MAX; i++) {
        kwp += st->pv_arrays[i].peak_kwp;
    }
    return kwp;
}
