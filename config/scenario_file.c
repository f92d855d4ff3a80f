/* SPDX-License-Identifier: MIT */
/*
 * scenario_file.c - the `flexd solve` scenario file. The format is the
 * field tables below (one row per JSON key: type, member, range, required,
 * default) read by jsonfields; docs/configuration.md documents the same
 * rows. Reading happens in two passes because the length of every time
 * series is the file's own "steps": the first pass reads step_minutes and
 * steps only, the second reads everything into a scenario of that length.
 * scenario_validate() then checks the cross-field rules (arrival before
 * departure, one car per connector, soc windows, ...).
 *
 * Pure functions apart from scenario_file_load()'s read; any thread.
 */
#include "scenario_file.h"

#include "../common/fileio.h"
#include "jsonfields.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SF_REQ JSONFIELDS_REQUIRED

_Static_assert(sizeof(enum scenario_dr_type) == sizeof(int), "ENUM fields are stored as int");

static void *sf_alloc_connectors(void *base, int n)
{
    struct scenario *sc = base;

    scenario_set_connectors(sc, n);
    return sc->connectors;
}

static void *sf_alloc_groups(void *base, int n)
{
    struct scenario *sc = base;

    scenario_set_groups(sc, n);
    return sc->groups;
}

static void *sf_alloc_sessions(void *base, int n)
{
    struct scenario *sc = base;

    scenario_set_sessions(sc, n);
    return sc->sessions;
}

static void *sf_alloc_dr_events(void *base, int n)
{
    struct scenario *sc = base;

    scenario_set_dr_events(sc, n);
    return sc->dr_events;
}

/* "C1, C2" from the ids of n elements of stride bytes, each starting with
 * its id (struct scenario_connector and scenario_group both do). */
static const char *sf_ids(char *buf, size_t size, const void *elems, size_t stride, int n)
{
    size_t o = 0;

    buf[0] = '\0';
    for (int i = 0; i < n && o < size; i++) {
        const char *id = (const char *)elems + (size_t)i * stride;
        int w = snprintf(buf + o, size - o, "%s%s", i ? ", " : "", id);

        o += w > 0 ? (size_t)w : 0;
    }
    return n ? buf : "none";
}

_Static_assert(offsetof(struct scenario_connector, id) == 0, "sf_ids reads ids at offset 0");
_Static_assert(offsetof(struct scenario_group, id) == 0, "sf_ids reads ids at offset 0");

/* sessions[i].connector: a connector id, stored as its index. The table
 * reads "connectors" before "sessions", so every id is known here. */
static int sf_parse_connector(const cJSON *item,
                              void *target,
                              const char *path,
                              void *user,
                              struct error_detail *ed)
{
    const struct scenario *sc = user;
    char desc[80];
    char known[160];
    int idx;

    jsonfields_describe(item, desc, sizeof(desc));
    if (!cJSON_IsString(item) || !item->valuestring) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "%s: %s: must be a connector id (a string)",
                          path,
                          desc);
    }
    idx = scenario_find_connector(sc, item->valuestring);
    if (idx < 0) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "%s: %s: no such connector (connectors: %s)",
                          path,
                          desc,
                          sf_ids(known,
                                 sizeof(known),
                                 sc->connectors,
                                 sizeof(*sc->connectors),
                                 sc->n_connectors));
    }
    *(int *)target = idx;
    return ERROR_OK;
}

/* connectors[i].charger: the id of the cabinet it shares, stored as the
 * group index ("chargers" is read first). Absent: -1, a cabinet of its own. */
static int sf_parse_charger(const cJSON *item,
                            void *target,
                            const char *path,
                            void *user,
                            struct error_detail *ed)
{
    const struct scenario *sc = user;
    char desc[80];
    char known[160];

    jsonfields_describe(item, desc, sizeof(desc));
    if (!cJSON_IsString(item) || !item->valuestring) {
        return error_setf(ed, ERROR_INVALID, "%s: %s: must be a charger id (a string)", path, desc);
    }
    for (int g = 0; g < sc->n_groups; g++) {
        if (strcmp(sc->groups[g].id, item->valuestring) == 0) {
            *(int *)target = g;
            return ERROR_OK;
        }
    }
    return error_setf(ed,
                      ERROR_INVALID,
                      "%s: %s: no such charger (chargers: %s)",
                      path,
                      desc,
                      sf_ids(known, sizeof(known), sc->groups, sizeof(*sc->groups), sc->n_groups));
}

static const char *const sf_dr_types[] = {"import_cap", "import_floor", NULL};

static const struct jsonfields_field sf_grid[] = {
    JSONFIELDS_F_SERIES("import_limit_kw",
                        struct scenario,
                        import_limit_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        SF_REQ,
                        0),
    JSONFIELDS_F_SERIES("export_limit_kw",
                        struct scenario,
                        export_limit_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        0,
                        0),
    JSONFIELDS_F_NUMBER("demand_charge_cny_per_kw",
                        struct scenario,
                        demand_charge_cny_per_kw,
                        0,
                        SCENARIO_PRICE_MAX_CNY,
                        0,
                        0),
    JSONFIELDS_F_NUMBER("demand_peak_floor_kw",
                        struct scenario,
                        demand_peak_floor_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        0,
                        0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sf_tariff[] = {
    JSONFIELDS_F_SERIES("buy_cny_per_kwh",
                        struct scenario,
                        buy_cny_per_kwh,
                        -SCENARIO_PRICE_MAX_CNY,
                        SCENARIO_PRICE_MAX_CNY,
                        SF_REQ,
                        0),
    JSONFIELDS_F_SERIES("sell_cny_per_kwh",
                        struct scenario,
                        sell_cny_per_kwh,
                        -SCENARIO_PRICE_MAX_CNY,
                        SCENARIO_PRICE_MAX_CNY,
                        0,
                        0),
    JSONFIELDS_F_END,
};

/* Efficiencies are (0, 1]: the open end is scenario_validate()'s rule. */
static const struct jsonfields_field sf_ess[] = {
    JSONFIELDS_F_NUMBER("capacity_kwh",
                        struct scenario_ess,
                        capacity_kwh,
                        0,
                        SCENARIO_ENERGY_MAX_KWH,
                        SF_REQ,
                        0),
    JSONFIELDS_F_NUMBER("soc_initial", struct scenario_ess, soc_initial, 0, 1, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("soc_min", struct scenario_ess, soc_min, 0, 1, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("soc_max", struct scenario_ess, soc_max, 0, 1, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("reserve_soc", struct scenario_ess, reserve_soc, 0, 1, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("soc_final_target", struct scenario_ess, soc_final_target, 0, 1, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("charge_max_kw",
                        struct scenario_ess,
                        charge_max_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        SF_REQ,
                        0),
    JSONFIELDS_F_NUMBER("discharge_max_kw",
                        struct scenario_ess,
                        discharge_max_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        SF_REQ,
                        0),
    JSONFIELDS_F_NUMBER("charge_efficiency",
                        struct scenario_ess,
                        charge_efficiency,
                        JSONFIELDS_LOWEST,
                        JSONFIELDS_HIGHEST,
                        SF_REQ,
                        0),
    JSONFIELDS_F_NUMBER("discharge_efficiency",
                        struct scenario_ess,
                        discharge_efficiency,
                        JSONFIELDS_LOWEST,
                        JSONFIELDS_HIGHEST,
                        SF_REQ,
                        0),
    JSONFIELDS_F_NUMBER("throughput_cost_cny_per_kwh",
                        struct scenario_ess,
                        throughput_cost_cny_per_kwh,
                        0,
                        SCENARIO_PRICE_MAX_CNY,
                        SF_REQ,
                        0),
    JSONFIELDS_F_END,
};

/* A charger cabinet whose connectors share its power. */
static const struct jsonfields_field sf_charger[] = {
    JSONFIELDS_F_STRING("id", struct scenario_group, id, 1, SF_REQ, NULL),
    JSONFIELDS_F_NUMBER("max_kw",
                        struct scenario_group,
                        max_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        SF_REQ,
                        0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sf_connector[] = {
    JSONFIELDS_F_STRING("id", struct scenario_connector, id, 1, SF_REQ, NULL),
    JSONFIELDS_F_NUMBER("max_kw",
                        struct scenario_connector,
                        max_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        SF_REQ,
                        0),
    JSONFIELDS_F_CUSTOM("charger", struct scenario_connector, group, sf_parse_charger, NULL, 0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sf_session[] = {
    JSONFIELDS_F_STRING("id", struct scenario_session, id, 1, SF_REQ, NULL),
    JSONFIELDS_F_CUSTOM("connector",
                        struct scenario_session,
                        connector,
                        sf_parse_connector,
                        NULL,
                        SF_REQ),
    JSONFIELDS_F_INT("arrival_step",
                     struct scenario_session,
                     arrival_step,
                     0,
                     SCENARIO_STEPS_MAX,
                     SF_REQ,
                     0),
    JSONFIELDS_F_INT("departure_step",
                     struct scenario_session,
                     departure_step,
                     0,
                     SCENARIO_STEPS_MAX,
                     SF_REQ,
                     0),
    JSONFIELDS_F_NUMBER("energy_kwh",
                        struct scenario_session,
                        energy_kwh,
                        0,
                        SCENARIO_ENERGY_MAX_KWH,
                        SF_REQ,
                        0),
    JSONFIELDS_F_NUMBER("max_kw",
                        struct scenario_session,
                        max_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        SF_REQ,
                        0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sf_dr_event[] = {
    JSONFIELDS_F_STRING("id", struct scenario_dr_event, id, 1, SF_REQ, NULL),
    JSONFIELDS_F_ENUM("type", struct scenario_dr_event, type, sf_dr_types, SF_REQ, 0),
    JSONFIELDS_F_INT("start_step",
                     struct scenario_dr_event,
                     start_step,
                     0,
                     SCENARIO_STEPS_MAX,
                     SF_REQ,
                     0),
    JSONFIELDS_F_INT("end_step",
                     struct scenario_dr_event,
                     end_step,
                     0,
                     SCENARIO_STEPS_MAX,
                     SF_REQ,
                     0),
    JSONFIELDS_F_NUMBER("limit_kw",
                        struct scenario_dr_event,
                        limit_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        SF_REQ,
                        0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sf_penalties[] = {
    JSONFIELDS_F_NUMBER("grid_limit_cny_per_kwh",
                        struct scenario_penalties,
                        grid_limit_cny_per_kwh,
                        0,
                        SCENARIO_PRICE_MAX_CNY,
                        0,
                        SCENARIO_PENALTY_GRID_LIMIT),
    JSONFIELDS_F_NUMBER("dr_cny_per_kwh",
                        struct scenario_penalties,
                        dr_cny_per_kwh,
                        0,
                        SCENARIO_PRICE_MAX_CNY,
                        0,
                        SCENARIO_PENALTY_DR),
    JSONFIELDS_F_NUMBER("reserve_cny_per_kwh",
                        struct scenario_penalties,
                        reserve_cny_per_kwh,
                        0,
                        SCENARIO_PRICE_MAX_CNY,
                        0,
                        SCENARIO_PENALTY_RESERVE),
    JSONFIELDS_F_NUMBER("unmet_energy_cny_per_kwh",
                        struct scenario_penalties,
                        unmet_energy_cny_per_kwh,
                        0,
                        SCENARIO_PRICE_MAX_CNY,
                        0,
                        SCENARIO_PENALTY_UNMET),
    JSONFIELDS_F_NUMBER("soc_final_cny_per_kwh",
                        struct scenario_penalties,
                        soc_final_cny_per_kwh,
                        0,
                        SCENARIO_PRICE_MAX_CNY,
                        0,
                        SCENARIO_PENALTY_SOC_FINAL),
    JSONFIELDS_F_END,
};

/* First pass: the two fields every other field depends on. */
static const struct jsonfields_field sf_head[] = {
    JSONFIELDS_F_INT("step_minutes", struct scenario, step_minutes, 1, 60, SF_REQ, 15),
    JSONFIELDS_F_INT("steps", struct scenario, steps, 1, SCENARIO_STEPS_MAX, SF_REQ, 96),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sf_root[] = {
    JSONFIELDS_F_INT("step_minutes", struct scenario, step_minutes, 1, 60, SF_REQ, 15),
    JSONFIELDS_F_INT("steps", struct scenario, steps, 1, SCENARIO_STEPS_MAX, SF_REQ, 96),
    JSONFIELDS_F_GROUP("grid", sf_grid, SF_REQ),
    JSONFIELDS_F_GROUP("tariff", sf_tariff, SF_REQ),
    JSONFIELDS_F_SERIES("pv_available_kw",
                        struct scenario,
                        pv_available_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        0,
                        0),
    JSONFIELDS_F_SERIES("base_load_kw",
                        struct scenario,
                        base_load_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        0,
                        0),
    JSONFIELDS_F_OPTIONAL("ess", struct scenario, ess, has_ess, sf_ess),
    JSONFIELDS_F_ARRAY("chargers",
                       struct scenario,
                       groups,
                       n_groups,
                       struct scenario_group,
                       sf_charger,
                       SCENARIO_CONNECTORS_MAX,
                       sf_alloc_groups,
                       0),
    JSONFIELDS_F_ARRAY("connectors",
                       struct scenario,
                       connectors,
                       n_connectors,
                       struct scenario_connector,
                       sf_connector,
                       SCENARIO_CONNECTORS_MAX,
                       sf_alloc_connectors,
                       0),
    JSONFIELDS_F_ARRAY("sessions",
                       struct scenario,
                       sessions,
                       n_sessions,
                       struct scenario_session,
                       sf_session,
                       SCENARIO_SESSIONS_MAX,
                       sf_alloc_sessions,
                       0),
    JSONFIELDS_F_ARRAY("dr_events",
                       struct scenario,
                       dr_events,
                       n_dr_events,
                       struct scenario_dr_event,
                       sf_dr_event,
                       SCENARIO_DR_EVENTS_MAX,
                       sf_alloc_dr_events,
                       0),
    JSONFIELDS_F_OBJECT("penalties", struct scenario, penalties, sf_penalties, 0),
    JSONFIELDS_F_INT("flexibility_steps",
                     struct scenario,
                     flexibility_steps,
                     0,
                     SCENARIO_STEPS_MAX,
                     0,
                     0),
    JSONFIELDS_F_END,
};

int scenario_file_parse(const char *text,
                        size_t len,
                        const char *name,
                        struct scenario **out,
                        struct error_detail *ed)
{
    struct scenario head;
    struct scenario *sc = NULL;
    struct jsonfields_ctx ctx = {0};
    cJSON *root = NULL;
    int rc;

    *out = NULL;
    memset(&head, 0, sizeof(head));
    rc = jsonfields_load(text, len, SCENARIO_FILE_MAX_BYTES, &root, ed);
    if (rc) {
        goto out;
    }
    ctx.allow_unknown = 1;
    rc = jsonfields_parse(sf_head, root, &head, "", &ctx, ed);
    if (rc) {
        goto out;
    }
    sc = scenario_new(head.steps); /* steps is in range: sf_head checked it */
    ctx.allow_unknown = 0;
    ctx.series_len = head.steps;
    ctx.user = sc;
    rc = jsonfields_parse(sf_root, root, sc, "", &ctx, ed);
    if (rc) {
        goto out;
    }
    rc = scenario_validate(sc, ed);
out:
    if (rc) {
        scenario_free(sc);
        sc = NULL;
        if (name) {
            error_prefix(ed, name);
        }
    }
    cJSON_Delete(root);
    *out = sc;
    return rc;
}

int scenario_file_load(const char *path, struct scenario **out, struct error_detail *ed)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = fileio_read_all(path, SCENARIO_FILE_MAX_BYTES, &text, &len, ed);
    if (rc == ERROR_OK) {
        rc = scenario_file_parse(text, len, path, out, ed);
    }
    free(text);
    return rc;
}
