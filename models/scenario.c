/* SPDX-License-Identifier: MIT */
/*
 * scenario.c - allocation, copying and validation of planning problems.
 * Validation lives here, not in the file parser, because the engine and the
 * simulator build scenarios too and the optimiser relies on every rule.
 * Pure functions; the caller owns every scenario.
 */
#include "scenario.h"

#include "../common/alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double **scenario_series(struct scenario *sc, int i)
{
    double **all[] = {&sc->import_limit_kw,
                      &sc->export_limit_kw,
                      &sc->buy_cny_per_kwh,
                      &sc->sell_cny_per_kwh,
                      &sc->pv_available_kw,
                      &sc->base_load_kw};

    return i < (int)(sizeof(all) / sizeof(all[0])) ? all[i] : NULL;
}

struct scenario *scenario_new(int steps)
{
    struct scenario *sc;
    double **s;

    if (steps < 1 || steps > SCENARIO_STEPS_MAX) {
        return NULL;
    }
    sc = ALLOC_NEW(struct scenario);
    sc->steps = steps;
    sc->step_minutes = 15;
    for (int i = 0; (s = scenario_series(sc, i)) != NULL; i++) {
        *s = alloc_array((size_t)steps, sizeof(double));
    }
    sc->penalties.grid_limit_cny_per_kwh = SCENARIO_PENALTY_GRID_LIMIT;
    sc->penalties.dr_cny_per_kwh = SCENARIO_PENALTY_DR;
    sc->penalties.reserve_cny_per_kwh = SCENARIO_PENALTY_RESERVE;
    sc->penalties.unmet_energy_cny_per_kwh = SCENARIO_PENALTY_UNMET;
    sc->penalties.soc_final_cny_per_kwh = SCENARIO_PENALTY_SOC_FINAL;
    return sc;
}

void scenario_free(struct scenario *sc)
{
    double **s;

    if (!sc) {
        return;
    }
    for (int i = 0; (s = scenario_series(sc, i)) != NULL; i++) {
        free(*s);
    }
    free(sc->connectors);
    free(sc->groups);
    free(sc->sessions);
    free(sc->dr_events);
    free(sc);
}

static void *scenario_dup(const void *p, size_t n, size_t size)
{
    void *q = alloc_array(n, size);

    if (n) {
        memcpy(q, p, n * size);
    }
    return q;
}

struct scenario *scenario_clone(const struct scenario *sc)
{
    struct scenario *c = ALLOC_NEW(struct scenario);
    double **dst;

    *c = *sc;
    for (int i = 0; (dst = scenario_series(c, i)) != NULL; i++) {
        *dst = scenario_dup(*dst, (size_t)sc->steps, sizeof(double));
    }
    c->connectors = scenario_dup(sc->connectors, (size_t)sc->n_connectors, sizeof(*sc->connectors));
    c->groups = scenario_dup(sc->groups, (size_t)sc->n_groups, sizeof(*sc->groups));
    c->sessions = scenario_dup(sc->sessions, (size_t)sc->n_sessions, sizeof(*sc->sessions));
    c->dr_events = scenario_dup(sc->dr_events, (size_t)sc->n_dr_events, sizeof(*sc->dr_events));
    return c;
}

double scenario_step_hours(const struct scenario *sc)
{
    return sc->step_minutes / 60.0;
}

static void *scenario_grow(void *p, int old_n, int n, size_t size)
{
    p = alloc_resize(p, (size_t)(n > 0 ? n : 0), size);
    if (n > old_n) {
        memset((char *)p + (size_t)old_n * size, 0, (size_t)(n - old_n) * size);
    }
    return p;
}

void scenario_set_connectors(struct scenario *sc, int n)
{
    sc->connectors = scenario_grow(sc->connectors, sc->n_connectors, n, sizeof(*sc->connectors));
    for (int i = sc->n_connectors; i < n; i++) {
        sc->connectors[i].group = -1;
    }
    sc->n_connectors = n;
}

void scenario_set_groups(struct scenario *sc, int n)
{
    sc->groups = scenario_grow(sc->groups, sc->n_groups, n, sizeof(*sc->groups));
    sc->n_groups = n;
}

void scenario_set_sessions(struct scenario *sc, int n)
{
    sc->sessions = scenario_grow(sc->sessions, sc->n_sessions, n, sizeof(*sc->sessions));
    sc->n_sessions = n;
}

void scenario_set_dr_events(struct scenario *sc, int n)
{
    sc->dr_events = scenario_grow(sc->dr_events, sc->n_dr_events, n, sizeof(*sc->dr_events));
    sc->n_dr_events = n;
}

int scenario_find_connector(const struct scenario *sc, const char *id)
{
    for (int i = 0; i < sc->n_connectors; i++) {
        if (strcmp(sc->connectors[i].id, id) == 0) {
            return i;
        }
    }
    return -1;
}

int scenario_dr_at(const struct scenario *sc, int t, double *cap_kw, double *floor_kw)
{
    int mask = 0;

    *cap_kw = INFINITY;
    *floor_kw = 0.0;
    for (int i = 0; i < sc->n_dr_events; i++) {
        const struct scenario_dr_event *ev = &sc->dr_events[i];

        if (t < ev->start_step || t >= ev->end_step) {
            continue;
        }
        if (ev->type == SCENARIO_DR_IMPORT_CAP) {
            *cap_kw = fmin(*cap_kw, ev->limit_kw);
            mask |= 1;
        } else {
            *floor_kw = fmax(*floor_kw, ev->limit_kw);
            mask |= 2;
        }
    }
    return mask;
}

/* Range rule for one number; name is the JSON path. */
static int scenario_check(struct error_detail *ed, const char *name, double v, double lo, double hi)
{
    if (!isfinite(v)) {
        return error_setf(ed, ERROR_INVALID, "%s: %g: must be a finite number", name, v);
    }
    if (v < lo || v > hi) {
        return error_setf(ed, ERROR_INVALID, "%s: %g: must be in [%g, %g]", name, v, lo, hi);
    }
    return ERROR_OK;
}

static int scenario_check_series(const struct scenario *sc, struct error_detail *ed)
{
    static const struct {
        const char *name;
        double lo;
        double hi;
    } rule[] = {
        {"grid.import_limit_kw", 0, SCENARIO_POWER_MAX_KW},
        {"grid.export_limit_kw", 0, SCENARIO_POWER_MAX_KW},
        {"tariff.buy_cny_per_kwh", -SCENARIO_PRICE_MAX_CNY, SCENARIO_PRICE_MAX_CNY},
        {"tariff.sell_cny_per_kwh", -SCENARIO_PRICE_MAX_CNY, SCENARIO_PRICE_MAX_CNY},
        {"pv_available_kw", 0, SCENARIO_POWER_MAX_KW},
        {"base_load_kw", 0, SCENARIO_POWER_MAX_KW},
    };
    struct scenario *msc = (struct scenario *)sc; /* scenario_series only reads here */
    char name[96];

    for (int i = 0; i < (int)(sizeof(rule) / sizeof(rule[0])); i++) {
        const double *v = *scenario_series(msc, i);

        for (int t = 0; t < sc->steps; t++) {
            snprintf(name, sizeof(name), "%s[%d]", rule[i].name, t);
            if (scenario_check(ed, name, v[t], rule[i].lo, rule[i].hi)) {
                return ERROR_INVALID;
            }
        }
    }
    return ERROR_OK;
}

static int scenario_check_ess(const struct scenario_ess *e, struct error_detail *ed)
{
    const struct {
        const char *name;
        double v;
        double lo;
        double hi;
    } rule[] = {
        {"ess.capacity_kwh", e->capacity_kwh, 0, SCENARIO_ENERGY_MAX_KWH},
        {"ess.soc_min", e->soc_min, 0, 1},
        {"ess.soc_max", e->soc_max, 0, 1},
        {"ess.reserve_soc", e->reserve_soc, 0, 1},
        {"ess.soc_final_target", e->soc_final_target, 0, 1},
        {"ess.charge_max_kw", e->charge_max_kw, 0, SCENARIO_POWER_MAX_KW},
        {"ess.discharge_max_kw", e->discharge_max_kw, 0, SCENARIO_POWER_MAX_KW},
        {"ess.charge_efficiency", e->charge_efficiency, 1e-9, 1},
        {"ess.discharge_efficiency", e->discharge_efficiency, 1e-9, 1},
        {"ess.throughput_cost_cny_per_kwh",
         e->throughput_cost_cny_per_kwh,
         0,
         SCENARIO_PRICE_MAX_CNY},
    };

    for (int i = 0; i < (int)(sizeof(rule) / sizeof(rule[0])); i++) {
        if (scenario_check(ed, rule[i].name, rule[i].v, rule[i].lo, rule[i].hi)) {
            if (rule[i].lo == 1e-9 && isfinite(rule[i].v)) {
                error_setf(ed, ERROR_INVALID, "%s: %g: must be in (0, 1]", rule[i].name, rule[i].v);
            }
            return ERROR_INVALID;
        }
    }
    if (e->soc_min > e->soc_max) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "ess.soc_min: %g: must not exceed soc_max %g",
                          e->soc_min,
                          e->soc_max);
    }
    if (e->soc_initial < e->soc_min || e->soc_initial > e->soc_max || !isfinite(e->soc_initial)) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "ess.soc_initial: %g: must be in [soc_min %g, soc_max %g]",
                          e->soc_initial,
                          e->soc_min,
                          e->soc_max);
    }
    return ERROR_OK;
}

static int scenario_check_sessions(const struct scenario *sc, struct error_detail *ed)
{
    char name[96];

    for (int i = 0; i < sc->n_sessions; i++) {
        const struct scenario_session *s = &sc->sessions[i];

        if (s->connector < 0 || s->connector >= sc->n_connectors) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "sessions[%d].connector: index %d: no such connector",
                              i,
                              s->connector);
        }
        if (s->arrival_step < 0 || s->arrival_step >= sc->steps) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "sessions[%d].arrival_step: %d: must be in [0, %d]",
                              i,
                              s->arrival_step,
                              sc->steps - 1);
        }
        if (s->departure_step <= s->arrival_step || s->departure_step > sc->steps) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "sessions[%d].departure_step: %d: must be after arrival_step %d and "
                              "at most steps %d",
                              i,
                              s->departure_step,
                              s->arrival_step,
                              sc->steps);
        }
        snprintf(name, sizeof(name), "sessions[%d].energy_kwh", i);
        if (scenario_check(ed, name, s->energy_kwh, 0, SCENARIO_ENERGY_MAX_KWH)) {
            return ERROR_INVALID;
        }
        snprintf(name, sizeof(name), "sessions[%d].max_kw", i);
        if (scenario_check(ed, name, s->max_kw, 0, SCENARIO_POWER_MAX_KW)) {
            return ERROR_INVALID;
        }
        for (int j = 0; j < i; j++) {
            const struct scenario_session *o = &sc->sessions[j];

            if (strcmp(o->id, s->id) == 0) {
                return error_setf(ed,
                                  ERROR_INVALID,
                                  "sessions[%d].id: \"%s\": duplicates sessions[%d]",
                                  i,
                                  s->id,
                                  j);
            }
            if (o->connector == s->connector && s->arrival_step < o->departure_step &&
                o->arrival_step < s->departure_step) {
                return error_setf(ed,
                                  ERROR_INVALID,
                                  "sessions[%d]: steps %d..%d on connector \"%s\" overlap "
                                  "sessions[%d] (\"%s\", steps %d..%d): one car per connector",
                                  i,
                                  s->arrival_step,
                                  s->departure_step - 1,
                                  sc->connectors[s->connector].id,
                                  j,
                                  o->id,
                                  o->arrival_step,
                                  o->departure_step - 1);
            }
        }
    }
    return ERROR_OK;
}

static int scenario_check_events(const struct scenario *sc, struct error_detail *ed)
{
    char name[96];

    for (int i = 0; i < sc->n_dr_events; i++) {
        const struct scenario_dr_event *ev = &sc->dr_events[i];

        if (ev->type != SCENARIO_DR_IMPORT_CAP && ev->type != SCENARIO_DR_IMPORT_FLOOR) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "dr_events[%d].type: %d: unknown type",
                              i,
                              (int)ev->type);
        }
        if (ev->start_step < 0 || ev->start_step >= sc->steps) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "dr_events[%d].start_step: %d: must be in [0, %d]",
                              i,
                              ev->start_step,
                              sc->steps - 1);
        }
        if (ev->end_step <= ev->start_step || ev->end_step > sc->steps) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "dr_events[%d].end_step: %d: must be after start_step %d and at "
                              "most steps %d",
                              i,
                              ev->end_step,
                              ev->start_step,
                              sc->steps);
        }
        snprintf(name, sizeof(name), "dr_events[%d].limit_kw", i);
        if (scenario_check(ed, name, ev->limit_kw, 0, SCENARIO_POWER_MAX_KW)) {
            return ERROR_INVALID;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(sc->dr_events[j].id, ev->id) == 0) {
                return error_setf(ed,
                                  ERROR_INVALID,
                                  "dr_events[%d].id: \"%s\": duplicates dr_events[%d]",
                                  i,
                                  ev->id,
                                  j);
            }
        }
    }
    return ERROR_OK;
}

static int scenario_check_scalars(const struct scenario *sc, struct error_detail *ed)
{
    const struct scenario_penalties *p = &sc->penalties;

    const struct {
        const char *name;
        double v;
        double lo;
        double hi;
    } rule[] = {
        {"grid.demand_charge_cny_per_kw", sc->demand_charge_cny_per_kw, 0, SCENARIO_PRICE_MAX_CNY},
        {"grid.demand_peak_floor_kw", sc->demand_peak_floor_kw, 0, SCENARIO_POWER_MAX_KW},
        {"penalties.grid_limit_cny_per_kwh", p->grid_limit_cny_per_kwh, 0, SCENARIO_PRICE_MAX_CNY},
        {"penalties.dr_cny_per_kwh", p->dr_cny_per_kwh, 0, SCENARIO_PRICE_MAX_CNY},
        {"penalties.reserve_cny_per_kwh", p->reserve_cny_per_kwh, 0, SCENARIO_PRICE_MAX_CNY},
        {"penalties.unmet_energy_cny_per_kwh",
         p->unmet_energy_cny_per_kwh,
         0,
         SCENARIO_PRICE_MAX_CNY},
        {"penalties.soc_final_cny_per_kwh", p->soc_final_cny_per_kwh, 0, SCENARIO_PRICE_MAX_CNY},
    };

    if (sc->step_minutes < 1 || sc->step_minutes > 60) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "step_minutes: %d: must be in [1, 60]",
                          sc->step_minutes);
    }
    if (sc->steps < 1 || sc->steps > SCENARIO_STEPS_MAX) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "steps: %d: must be in [1, %d]",
                          sc->steps,
                          SCENARIO_STEPS_MAX);
    }
    if (sc->flexibility_steps < 0 || sc->flexibility_steps > sc->steps) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "flexibility_steps: %d: must be in [0, steps %d]",
                          sc->flexibility_steps,
                          sc->steps);
    }
    for (int i = 0; i < (int)(sizeof(rule) / sizeof(rule[0])); i++) {
        if (scenario_check(ed, rule[i].name, rule[i].v, rule[i].lo, rule[i].hi)) {
            return ERROR_INVALID;
        }
    }
    return ERROR_OK;
}

static int scenario_check_groups(const struct scenario *sc, struct error_detail *ed)
{
    char name[96];

    for (int i = 0; i < sc->n_groups; i++) {
        snprintf(name, sizeof(name), "chargers[%d].max_kw", i);
        if (scenario_check(ed, name, sc->groups[i].max_kw, 0, SCENARIO_POWER_MAX_KW)) {
            return ERROR_INVALID;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(sc->groups[j].id, sc->groups[i].id) == 0) {
                return error_setf(ed,
                                  ERROR_INVALID,
                                  "chargers[%d].id: \"%s\": duplicates chargers[%d]",
                                  i,
                                  sc->groups[i].id,
                                  j);
            }
        }
    }
    return ERROR_OK;
}

int scenario_validate(const struct scenario *sc, struct error_detail *ed)
{
    char name[96];

    if (scenario_check_scalars(sc, ed) || scenario_check_series(sc, ed)) {
        return ERROR_INVALID;
    }
    if (sc->has_ess && scenario_check_ess(&sc->ess, ed)) {
        return ERROR_INVALID;
    }
    if (scenario_check_groups(sc, ed)) {
        return ERROR_INVALID;
    }
    for (int i = 0; i < sc->n_connectors; i++) {
        snprintf(name, sizeof(name), "connectors[%d].max_kw", i);
        if (scenario_check(ed, name, sc->connectors[i].max_kw, 0, SCENARIO_POWER_MAX_KW)) {
            return ERROR_INVALID;
        }
        if (sc->connectors[i].group < -1 || sc->connectors[i].group >= sc->n_groups) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "connectors[%d].group: index %d: no such charger",
                              i,
                              sc->connectors[i].group);
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(sc->connectors[j].id, sc->connectors[i].id) == 0) {
                return error_setf(ed,
                                  ERROR_INVALID,
                                  "connectors[%d].id: \"%s\": duplicates connectors[%d]",
                                  i,
                                  sc->connectors[i].id,
                                  j);
            }
        }
    }
    if (scenario_check_sessions(sc, ed) || scenario_check_events(sc, ed)) {
        return ERROR_INVALID;
    }
    return ERROR_OK;
}
