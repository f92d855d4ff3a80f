/* SPDX-License-Identifier: MIT */
/*
 * station_file.c - the station description file. The format is the field
 * tables below, one row per JSON key (type, member, range, required,
 * default); docs/configuration.md documents the same rows with the source
 * of every default. jsonfields reads and prints them; station_validate()
 * adds the cross-field rules (connector vs cabinet power, import limit vs
 * transformer, soc window, spaces vs connectors, the tariff's 24 h cover).
 *
 * Pure functions apart from station_file_load()'s read; any thread.
 */
#include "station_file.h"

#include "../common/alloc.h"
#include "../common/fileio.h"
#include "jsonfields.h"

#include <stdlib.h>
#include <string.h>

#define SF_REQ        JSONFIELDS_REQUIRED
#define SF_HHMM(h, m) ((h)*60 + (m))

_Static_assert(sizeof(enum station_charger_type) == sizeof(int), "ENUM fields are stored as int");
_Static_assert(sizeof(enum tariff_tier) == sizeof(int), "ENUM fields are stored as int");

static const struct jsonfields_field sf_location[] = {
    JSONFIELDS_F_NUMBER("lat_deg", struct station_location, lat_deg, -90, 90, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("lon_deg", struct station_location, lon_deg, -180, 180, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("altitude_m", struct station_location, altitude_m, -500, 9000, 0, 0),
    JSONFIELDS_F_STRING("timezone", struct station_location, timezone, 1, 0, STATION_TIMEZONE),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sf_grid[] = {
    JSONFIELDS_F_NUMBER("transformer_kva",
                        struct station_grid,
                        transformer_kva,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        SF_REQ,
                        0),
    JSONFIELDS_F_NUMBER("import_limit_kw",
                        struct station_grid,
                        import_limit_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        SF_REQ,
                        0),
    JSONFIELDS_F_NUMBER("export_limit_kw",
                        struct station_grid,
                        export_limit_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        0,
                        0),
    JSONFIELDS_F_NUMBER("demand_target_kw",
                        struct station_grid,
                        demand_target_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        0,
                        0),
    JSONFIELDS_F_END,
};

/* Defaults: azimuth 180 (due south); temperature coefficient -0.35 %/K
 * (mono c-Si datasheets: -0.30..-0.40 %/K); DC losses 14 % (PVWatts v5). */
static const struct jsonfields_field sf_pv_array[] = {
    JSONFIELDS_F_STRING("id", struct station_pv_array, id, 1, SF_REQ, NULL),
    JSONFIELDS_F_NUMBER("peak_kwp", struct station_pv_array, peak_kwp, 0, 1e6, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("tilt_deg", struct station_pv_array, tilt_deg, 0, 90, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("azimuth_deg", struct station_pv_array, azimuth_deg, 0, 360, 0, 180),
    JSONFIELDS_F_NUMBER("inverter_ac_kw",
                        struct station_pv_array,
                        inverter_ac_kw,
                        0,
                        1e6,
                        SF_REQ,
                        0),
    JSONFIELDS_F_NUMBER("temp_coeff_per_c",
                        struct station_pv_array,
                        temp_coeff_per_c,
                        -0.01,
                        0,
                        0,
                        -0.0035),
    JSONFIELDS_F_NUMBER("losses", struct station_pv_array, losses, 0, 0.9, 0, 0.14),
    JSONFIELDS_F_END,
};

/* Efficiencies default to 0.95 one way (LFP cells + PCS, about 0.90 round
 * trip); their (0, 1] rule is station_validate()'s, as it has an open end.
 * Everything that shapes the community reserve must be stated. */
static const struct jsonfields_field sf_ess[] = {
    JSONFIELDS_F_NUMBER("capacity_kwh", struct station_ess, capacity_kwh, 0, 1e7, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("charge_max_kw", struct station_ess, charge_max_kw, 0, 1e6, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("discharge_max_kw",
                        struct station_ess,
                        discharge_max_kw,
                        0,
                        1e6,
                        SF_REQ,
                        0),
    JSONFIELDS_F_NUMBER("charge_efficiency",
                        struct station_ess,
                        charge_efficiency,
                        JSONFIELDS_LOWEST,
                        JSONFIELDS_HIGHEST,
                        0,
                        0.95),
    JSONFIELDS_F_NUMBER("discharge_efficiency",
                        struct station_ess,
                        discharge_efficiency,
                        JSONFIELDS_LOWEST,
                        JSONFIELDS_HIGHEST,
                        0,
                        0.95),
    JSONFIELDS_F_NUMBER("soc_min", struct station_ess, soc_min, 0, 1, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("soc_max", struct station_ess, soc_max, 0, 1, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("reserve_soc", struct station_ess, reserve_soc, 0, 1, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("soc_final_target", struct station_ess, soc_final_target, 0, 1, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("throughput_cost_cny_per_kwh",
                        struct station_ess,
                        throughput_cost_cny_per_kwh,
                        0,
                        SCENARIO_PRICE_MAX_CNY,
                        SF_REQ,
                        0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sf_connector[] = {
    JSONFIELDS_F_STRING("id", struct station_connector, id, 1, SF_REQ, NULL),
    JSONFIELDS_F_NUMBER("max_kw", struct station_connector, max_kw, 0, 1e6, SF_REQ, 0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sf_charger[] = {
    JSONFIELDS_F_STRING("id", struct station_charger, id, 1, SF_REQ, NULL),
    JSONFIELDS_F_ENUM("type", struct station_charger, type, station_charger_type_names, SF_REQ, 0),
    JSONFIELDS_F_NUMBER("max_kw", struct station_charger, max_kw, 0, 1e6, SF_REQ, 0),
    JSONFIELDS_F_ARRAY("connectors",
                       struct station_charger,
                       connectors,
                       n_connectors,
                       struct station_connector,
                       sf_connector,
                       STATION_CONNECTORS_MAX,
                       NULL,
                       SF_REQ),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sf_parking[] = {
    JSONFIELDS_F_INT("spaces", struct station_parking, spaces, 0, STATION_SPACES_MAX, SF_REQ, 0),
    JSONFIELDS_F_INT("ev_spaces",
                     struct station_parking,
                     ev_spaces,
                     0,
                     STATION_SPACES_MAX,
                     SF_REQ,
                     0),
    JSONFIELDS_F_INT("accessible_spaces",
                     struct station_parking,
                     accessible_spaces,
                     0,
                     STATION_SPACES_MAX,
                     0,
                     0),
    JSONFIELDS_F_END,
};

/* One table per window because each has its own default. */
#define SF_WINDOW(name, h0, h1)                                                                    \
    static const struct jsonfields_field name[] = {                                                \
        JSONFIELDS_F_CLOCK("start", struct station_window, start_min, 0, 1439, 0, SF_HHMM(h0, 0)), \
        JSONFIELDS_F_CLOCK("end", struct station_window, end_min, 0, 1440, 0, SF_HHMM(h1, 0)),     \
        JSONFIELDS_F_END,                                                                          \
    }

SF_WINDOW(sf_lighting, 19, 6);  /* dusk to dawn, fixed (assumed; see docs) */
SF_WINDOW(sf_charging, 0, 24);  /* planning document section 4: 24 h */
SF_WINDOW(sf_parkshare, 22, 8); /* planning document section 4: 22:00-08:00 */
SF_WINDOW(sf_amenities, 8, 22); /* planning document section 4: 08:00-22:00 */

static const struct jsonfields_field sf_base_load[] = {
    JSONFIELDS_F_NUMBER("amenity_day_kw", struct station_base_load, amenity_day_kw, 0, 1e6, 0, 0),
    JSONFIELDS_F_NUMBER("night_kw", struct station_base_load, night_kw, 0, 1e6, 0, 0),
    JSONFIELDS_F_NUMBER("lighting_kw", struct station_base_load, lighting_kw, 0, 1e6, 0, 0),
    JSONFIELDS_F_OBJECT("lighting", struct station_base_load, lighting, sf_lighting, 0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sf_sharing[] = {
    JSONFIELDS_F_OBJECT("charging", struct station_sharing, charging, sf_charging, 0),
    JSONFIELDS_F_OBJECT("parking", struct station_sharing, parking, sf_parkshare, 0),
    JSONFIELDS_F_OBJECT("amenities", struct station_sharing, amenities, sf_amenities, 0),
    JSONFIELDS_F_END,
};

#define SF_PRICE(n, tier, fl)                    \
    JSONFIELDS_F_NUMBER(n,                       \
                        struct tariff_season,    \
                        price_cny_per_kwh[tier], \
                        0,                       \
                        TARIFF_PRICE_MAX_CNY,    \
                        fl,                      \
                        0)

/* critical_peak may be left out (0) in seasons that do not use it. */
static const struct jsonfields_field sf_prices[] = {
    SF_PRICE("critical_peak", TARIFF_CRITICAL_PEAK, 0),
    SF_PRICE("peak", TARIFF_PEAK, SF_REQ),
    SF_PRICE("flat", TARIFF_FLAT, SF_REQ),
    SF_PRICE("valley", TARIFF_VALLEY, SF_REQ),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sf_period[] = {
    JSONFIELDS_F_CLOCK("start", struct tariff_period, start_min, 0, 1439, SF_REQ, 0),
    JSONFIELDS_F_CLOCK("end", struct tariff_period, end_min, 0, 1440, SF_REQ, 0),
    JSONFIELDS_F_ENUM("tier", struct tariff_period, tier, tariff_tier_names, SF_REQ, 0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sf_season[] = {
    JSONFIELDS_F_STRING("id", struct tariff_season, id, 1, SF_REQ, NULL),
    JSONFIELDS_F_INTSET("months", struct tariff_season, months, 1, 12, SF_REQ, 0),
    JSONFIELDS_F_GROUP("prices_cny_per_kwh", sf_prices, SF_REQ),
    JSONFIELDS_F_ARRAY("periods",
                       struct tariff_season,
                       periods,
                       n_periods,
                       struct tariff_period,
                       sf_period,
                       TARIFF_PERIODS_MAX,
                       NULL,
                       SF_REQ),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sf_tariff[] = {
    JSONFIELDS_F_ARRAY("seasons",
                       struct tariff,
                       seasons,
                       n_seasons,
                       struct tariff_season,
                       sf_season,
                       TARIFF_SEASONS_MAX,
                       NULL,
                       SF_REQ),
    JSONFIELDS_F_NUMBER("export_cny_per_kwh",
                        struct tariff,
                        export_cny_per_kwh,
                        0,
                        TARIFF_PRICE_MAX_CNY,
                        0,
                        0),
    JSONFIELDS_F_NUMBER("demand_charge_cny_per_kw_month",
                        struct tariff,
                        demand_charge_cny_per_kw_month,
                        0,
                        TARIFF_PRICE_MAX_CNY,
                        0,
                        0),
    JSONFIELDS_F_NUMBER("service_fee_cny_per_kwh",
                        struct tariff,
                        service_fee_cny_per_kwh,
                        0,
                        TARIFF_PRICE_MAX_CNY,
                        0,
                        0),
    JSONFIELDS_F_END,
};

#define SF_PENALTY(n, m, d) \
    JSONFIELDS_F_NUMBER(n, struct scenario_penalties, m, 0, SCENARIO_PRICE_MAX_CNY, 0, d)

/* The optimiser's defaults (models/scenario.h). */
static const struct jsonfields_field sf_penalties[] = {
    SF_PENALTY("grid_limit_cny_per_kwh", grid_limit_cny_per_kwh, SCENARIO_PENALTY_GRID_LIMIT),
    SF_PENALTY("dr_cny_per_kwh", dr_cny_per_kwh, SCENARIO_PENALTY_DR),
    SF_PENALTY("reserve_cny_per_kwh", reserve_cny_per_kwh, SCENARIO_PENALTY_RESERVE),
    SF_PENALTY("unmet_energy_cny_per_kwh", unmet_energy_cny_per_kwh, SCENARIO_PENALTY_UNMET),
    SF_PENALTY("soc_final_cny_per_kwh", soc_final_cny_per_kwh, SCENARIO_PENALTY_SOC_FINAL),
    JSONFIELDS_F_END,
};

/* Default margin: about one standard deviation of declared minus true
 * departure seen in charging-session data (docs/configuration.md). */
static const struct jsonfields_field sf_control[] = {
    JSONFIELDS_F_INT("departure_margin_min",
                     struct station_control,
                     departure_margin_min,
                     0,
                     240,
                     0,
                     30),
    JSONFIELDS_F_INT("replan_s", struct station_control, replan_s, 30, 3600, 0, 300),
    JSONFIELDS_F_INT("cycle_ms", struct station_control, cycle_ms, 200, 10000, 0, 1000),
    JSONFIELDS_F_INT("history_sample_days",
                     struct station_control,
                     history_sample_days,
                     1,
                     366,
                     0,
                     2),
    JSONFIELDS_F_INT("history_minute_days",
                     struct station_control,
                     history_minute_days,
                     1,
                     3660,
                     0,
                     60),
    JSONFIELDS_F_INT("history_quarter_days",
                     struct station_control,
                     history_quarter_days,
                     1,
                     36600,
                     0,
                     3653),
    JSONFIELDS_F_END,
};

/* Defaults: the simulator's Ulanhada demand on a workday (docs/simulation.md:
 * 16 tourist, 5 through-traffic, 3 night, 4 community arrivals), its
 * 16 tourists per 12,000 visits, and a free-flowing rural road
 * (docs/configuration.md "ev_forecast"). */
static const struct jsonfields_field sf_ev_forecast[] = {
    JSONFIELDS_F_NUMBER("prior_dc_arrivals_per_day",
                        struct station_ev_forecast,
                        prior_dc_arrivals_per_day,
                        0,
                        1000,
                        0,
                        20),
    JSONFIELDS_F_NUMBER("prior_ac_arrivals_per_day",
                        struct station_ev_forecast,
                        prior_ac_arrivals_per_day,
                        0,
                        1000,
                        0,
                        8),
    JSONFIELDS_F_NUMBER("learn_days", struct station_ev_forecast, learn_days, 1, 365, 0, 14),
    JSONFIELDS_F_NUMBER("tourist_share", struct station_ev_forecast, tourist_share, 0, 1, 0, 0.57),
    JSONFIELDS_F_NUMBER("arrivals_per_1000_visitors",
                        struct station_ev_forecast,
                        arrivals_per_1000_visitors,
                        0,
                        1000,
                        0,
                        1.33),
    JSONFIELDS_F_NUMBER("through_share", struct station_ev_forecast, through_share, 0, 1, 0, 0.18),
    JSONFIELDS_F_NUMBER("congestion_typical",
                        struct station_ev_forecast,
                        congestion_typical,
                        0,
                        0.9,
                        0,
                        0.1),
    JSONFIELDS_F_END,
};

/* Defaults: Modbus TCP port 502; a 500 ms reply timeout and a 1 s poll
 * (the control cycle); a 10 s revert timer (ten missed cycles). */
static const struct jsonfields_field sf_device[] = {
    JSONFIELDS_F_STRING("id", struct station_device, id, 1, SF_REQ, NULL),
    JSONFIELDS_F_ENUM("kind", struct station_device, kind, station_device_kind_names, SF_REQ, 0),
    JSONFIELDS_F_ENUM("protocol",
                      struct station_device,
                      protocol,
                      station_device_protocol_names,
                      SF_REQ,
                      0),
    JSONFIELDS_F_STRING("target", struct station_device, target, 0, 0, ""),
    JSONFIELDS_F_STRING("map", struct station_device, map, 0, 0, ""),
    JSONFIELDS_F_STRING("host", struct station_device, host, 1, SF_REQ, NULL),
    JSONFIELDS_F_INT("port", struct station_device, port, 1, 65535, 0, 502),
    JSONFIELDS_F_INT("unit_id", struct station_device, unit_id, 0, 255, 0, 1),
    JSONFIELDS_F_INT("timeout_ms", struct station_device, timeout_ms, 10, 10000, 0, 500),
    JSONFIELDS_F_INT("poll_ms", struct station_device, poll_ms, 100, 60000, 0, 1000),
    JSONFIELDS_F_INT("revert_s", struct station_device, revert_s, 2, 3600, 0, 10),
    JSONFIELDS_F_END,
};

static const char *const sf_baseline_names[] = {"similar_days", "recent_15min", NULL};

/* The dispatcher's broker (docs/configuration.md "mqtt"). The password is
 * read from password_file at start, never from this file. */
static const struct jsonfields_field sf_mqtt[] = {
    JSONFIELDS_F_STRING("host", struct station_mqtt, host, 1, SF_REQ, NULL),
    JSONFIELDS_F_INT("port", struct station_mqtt, port, 1, 65535, 0, 1883),
    JSONFIELDS_F_BOOL("tls", struct station_mqtt, tls, 0, 0),
    JSONFIELDS_F_STRING("ca_file", struct station_mqtt, ca_file, 0, 0, ""),
    JSONFIELDS_F_STRING("cert_file", struct station_mqtt, cert_file, 0, 0, ""),
    JSONFIELDS_F_STRING("key_file", struct station_mqtt, key_file, 0, 0, ""),
    JSONFIELDS_F_STRING("username", struct station_mqtt, username, 0, 0, ""),
    JSONFIELDS_F_STRING("password_file", struct station_mqtt, password_file, 0, 0, ""),
    JSONFIELDS_F_STRING("client_id", struct station_mqtt, client_id, 1, SF_REQ, NULL),
    JSONFIELDS_F_STRING("topic_prefix", struct station_mqtt, topic_prefix, 0, 0, ""),
    JSONFIELDS_F_INT("keepalive_s", struct station_mqtt, keepalive_s, 5, 3600, 0, 30),
    JSONFIELDS_F_STRING("outbox_path", struct station_mqtt, outbox_path, 1, SF_REQ, NULL),
    JSONFIELDS_F_ENUM("dr_baseline", struct station_mqtt, dr_baseline, sf_baseline_names, 0, 0),
    JSONFIELDS_F_INT("dr_baseline_days", struct station_mqtt, dr_baseline_days, 1, 30, 0, 5),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sf_root[] = {
    JSONFIELDS_F_STRING("id", struct station, id, 1, SF_REQ, NULL),
    JSONFIELDS_F_STRING("name", struct station, name, 1, SF_REQ, NULL),
    JSONFIELDS_F_OBJECT("location", struct station, location, sf_location, SF_REQ),
    JSONFIELDS_F_OBJECT("grid", struct station, grid, sf_grid, SF_REQ),
    JSONFIELDS_F_ARRAY("pv_arrays",
                       struct station,
                       pv_arrays,
                       n_pv_arrays,
                       struct station_pv_array,
                       sf_pv_array,
                       STATION_PV_ARRAYS_MAX,
                       NULL,
                       0),
    JSONFIELDS_F_OPTIONAL("ess", struct station, ess, has_ess, sf_ess),
    JSONFIELDS_F_ARRAY("chargers",
                       struct station,
                       chargers,
                       n_chargers,
                       struct station_charger,
                       sf_charger,
                       STATION_CHARGERS_MAX,
                       NULL,
                       0),
    JSONFIELDS_F_OBJECT("parking", struct station, parking, sf_parking, SF_REQ),
    JSONFIELDS_F_OBJECT("base_load", struct station, base_load, sf_base_load, 0),
    JSONFIELDS_F_OBJECT("sharing", struct station, sharing, sf_sharing, 0),
    JSONFIELDS_F_OBJECT("tariff", struct station, tariff, sf_tariff, SF_REQ),
    JSONFIELDS_F_OBJECT("penalties", struct station, penalties, sf_penalties, 0),
    JSONFIELDS_F_OBJECT("control", struct station, control, sf_control, 0),
    JSONFIELDS_F_OBJECT("ev_forecast", struct station, ev_forecast, sf_ev_forecast, 0),
    JSONFIELDS_F_ARRAY("devices",
                       struct station,
                       devices,
                       n_devices,
                       struct station_device,
                       sf_device,
                       STATION_DEVICES_MAX,
                       NULL,
                       0),
    JSONFIELDS_F_OPTIONAL("mqtt", struct station, mqtt, has_mqtt, sf_mqtt),
    JSONFIELDS_F_END,
};

int station_file_parse(const char *text,
                       size_t len,
                       const char *name,
                       struct station **out,
                       struct error_detail *ed)
{
    struct jsonfields_ctx ctx = {0};
    struct station *st = station_new();
    cJSON *root = NULL;
    int rc;

    *out = NULL;
    rc = jsonfields_load(text, len, STATION_FILE_MAX_BYTES, &root, ed);
    if (rc) {
        goto out;
    }
    rc = jsonfields_parse(sf_root, root, st, "", &ctx, ed);
    if (rc) {
        goto out;
    }
    rc = station_validate(st, ed);
out:
    if (rc) {
        station_free(st);
        st = NULL;
        if (name) {
            error_prefix(ed, name);
        }
    }
    cJSON_Delete(root);
    *out = st;
    return rc;
}

int station_file_load(const char *path, struct station **out, struct error_detail *ed)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = fileio_read_all(path, STATION_FILE_MAX_BYTES, &text, &len, ed);
    if (rc == ERROR_OK) {
        rc = station_file_parse(text, len, path, out, ed);
    }
    free(text);
    return rc;
}

/* ---- printing ---------------------------------------------------------
 * cJSON's own layout puts arrays of objects on "[{" lines and indents with
 * tabs; people read check-config output, so it gets its own layout: two
 * spaces, arrays of scalars on one line, small flat objects inside arrays
 * (connectors, tariff periods) on one line. Scalars are printed by cJSON,
 * which does the string escaping and shortest round-trip numbers. */

#define SF_LINE_MAX 100

struct sf_buf {
    char *p;
    size_t len;
    size_t cap;
};

static void sf_put(struct sf_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = alloc_resize(b->p, b->cap, 1);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sf_puts(struct sf_buf *b, const char *s)
{
    sf_put(b, s, strlen(s));
}

static void sf_scalar(struct sf_buf *b, const cJSON *item)
{
    char *text = cJSON_PrintUnformatted(item);

    if (!text) {
        abort(); /* cJSON fails only when malloc does: as alloc.h, not recoverable */
    }
    sf_puts(b, text);
    cJSON_free(text);
}

/* An array or object whose members are all scalars, printed on one line. */
static int sf_inline(struct sf_buf *b, const cJSON *item)
{
    int is_obj = cJSON_IsObject(item);

    for (const cJSON *c = item->child; c; c = c->next) {
        if (cJSON_IsArray(c) || cJSON_IsObject(c)) {
            return 0;
        }
    }
    sf_puts(b, is_obj ? "{" : "[");
    for (const cJSON *c = item->child; c; c = c->next) {
        if (is_obj) {
            sf_puts(b, "\"");
            sf_puts(b, c->string);
            sf_puts(b, "\": ");
        }
        sf_scalar(b, c);
        sf_puts(b, c->next ? ", " : "");
    }
    sf_puts(b, is_obj ? "}" : "]");
    return 1;
}

static void sf_print(struct sf_buf *b, const cJSON *item, int depth, int in_array)
{
    int is_obj = cJSON_IsObject(item);
    size_t mark = b->len;

    if (!is_obj && !cJSON_IsArray(item)) {
        sf_scalar(b, item);
        return;
    }
    if ((!is_obj || in_array || !item->child) && sf_inline(b, item) &&
        (size_t)depth * 2 + (b->len - mark) <= SF_LINE_MAX) {
        return;
    }
    b->len = mark; /* too long or nested: one member per line */
    sf_puts(b, is_obj ? "{\n" : "[\n");
    for (const cJSON *c = item->child; c; c = c->next) {
        for (int i = 0; i <= depth; i++) {
            sf_puts(b, "  ");
        }
        if (is_obj) {
            sf_puts(b, "\"");
            sf_puts(b, c->string);
            sf_puts(b, "\": ");
        }
        sf_print(b, c, depth + 1, !is_obj);
        sf_puts(b, c->next ? ",\n" : "\n");
    }
    for (int i = 0; i < depth; i++) {
        sf_puts(b, "  ");
    }
    sf_puts(b, is_obj ? "}" : "]");
}

char *station_file_dump(const struct station *st)
{
    struct jsonfields_ctx ctx = {0};
    struct sf_buf b = {NULL, 0, 0};
    cJSON *root = jsonfields_dump(sf_root, st, &ctx);

    sf_print(&b, root, 0, 0);
    cJSON_Delete(root);
    return b.p;
}
