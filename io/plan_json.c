/* SPDX-License-Identifier: MIT */
/*
 * plan_json.c - encode a plan with cJSON. Field names are the public
 * contract of `flexd solve` (see docs/optimisation.md): never rename one.
 * Pure function of its inputs; any thread.
 */
#include "plan_json.h"

#include "../common/alloc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

/* Round to 1e-6 so that solver noise (1e-12) does not show as "-0" or as
 * 9.99999999999e-13 in a plan a person reads. */
static double plan_json_round(double v)
{
    double r = round(v * 1e6) / 1e6;

    return r == 0.0 ? 0.0 : r;
}

static void plan_json_num(cJSON *obj, const char *name, double v)
{
    cJSON_AddItemToObject(obj, name, cJSON_CreateNumber(plan_json_round(v)));
}

static cJSON *plan_json_step(const struct plan_step *s, int t)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddItemToObject(o, "step", cJSON_CreateNumber(t));
    plan_json_num(o, "grid_import_kw", s->grid_import_kw);
    plan_json_num(o, "grid_export_kw", s->grid_export_kw);
    plan_json_num(o, "pv_kw", s->pv_kw);
    plan_json_num(o, "pv_curtailed_kw", s->pv_curtailed_kw);
    plan_json_num(o, "ess_charge_kw", s->ess_charge_kw);
    plan_json_num(o, "ess_discharge_kw", s->ess_discharge_kw);
    plan_json_num(o, "ess_energy_kwh", s->ess_energy_kwh);
    plan_json_num(o, "ev_kw", s->ev_kw);
    plan_json_num(o, "grid_over_kw", s->grid_over_kw);
    plan_json_num(o, "dr_over_kw", s->dr_over_kw);
    plan_json_num(o, "dr_under_kw", s->dr_under_kw);
    plan_json_num(o, "reserve_short_kwh", s->reserve_short_kwh);
    plan_json_num(o, "marginal_price_cny_per_kwh", s->marginal_price_cny_per_kwh);
    return o;
}

static cJSON *plan_json_session(const char *id, const struct plan_session *s, int steps)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *pw = cJSON_CreateArray();

    cJSON_AddItemToObject(o, "id", cJSON_CreateString(id));
    plan_json_num(o, "delivered_kwh", s->delivered_kwh);
    plan_json_num(o, "unmet_kwh", s->unmet_kwh);
    for (int t = 0; t < steps; t++) {
        cJSON_AddItemToArray(pw, cJSON_CreateNumber(plan_json_round(s->power_kw[t])));
    }
    cJSON_AddItemToObject(o, "power_kw", pw);
    return o;
}

static cJSON *plan_json_costs(const struct plan_costs *c)
{
    cJSON *o = cJSON_CreateObject();

    plan_json_num(o, "import_cny", c->import_cny);
    plan_json_num(o, "export_revenue_cny", c->export_revenue_cny);
    plan_json_num(o, "throughput_cny", c->throughput_cny);
    plan_json_num(o, "demand_charge_cny", c->demand_charge_cny);
    plan_json_num(o, "penalty_cny", c->penalty_cny);
    return o;
}

static cJSON *plan_json_flex(const struct plan *p)
{
    cJSON *arr = cJSON_CreateArray();

    for (int t = 0; t < p->flexibility_steps; t++) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddItemToObject(o, "step", cJSON_CreateNumber(t));
        plan_json_num(o, "net_min_kw", p->flex[t].net_min_kw);
        plan_json_num(o, "net_max_kw", p->flex[t].net_max_kw);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

char *plan_json_encode(const struct scenario *sc, const struct plan *p, int pretty)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *steps = cJSON_CreateArray();
    cJSON *sessions = cJSON_CreateArray();
    cJSON *warnings = cJSON_CreateArray();
    char *text;
    char *out;

    cJSON_AddItemToObject(root, "status", cJSON_CreateString("optimal"));
    plan_json_num(root, "objective_cny", p->objective_cny);
    cJSON_AddItemToObject(root, "costs", plan_json_costs(&p->costs));
    for (int t = 0; t < p->steps; t++) {
        cJSON_AddItemToArray(steps, plan_json_step(&p->step[t], t));
    }
    cJSON_AddItemToObject(root, "steps", steps);
    for (int s = 0; s < p->n_sessions; s++) {
        cJSON_AddItemToArray(sessions,
                             plan_json_session(sc->sessions[s].id, &p->sessions[s], p->steps));
    }
    cJSON_AddItemToObject(root, "sessions", sessions);
    plan_json_num(root, "soc_final_short_kwh", p->soc_final_short_kwh);
    plan_json_num(root, "peak_import_kw", p->peak_import_kw);
    cJSON_AddItemToObject(root, "flexibility", plan_json_flex(p));
    for (int i = 0; i < p->n_warnings; i++) {
        cJSON_AddItemToArray(warnings, cJSON_CreateString(p->warnings[i]));
    }
    cJSON_AddItemToObject(root, "warnings", warnings);

    text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) {
        /* cJSON only fails to print on allocation failure */
        out = alloc_strdup("{}");
        return out;
    }
    out = alloc_strdup(text);
    cJSON_free(text);
    return out;
}
