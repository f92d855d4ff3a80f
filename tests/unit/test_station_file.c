/* SPDX-License-Identifier: MIT */
/*
 * test_station_file.c - the station description: the shipped
 * config/ulanhada.json parses and validates with the documented defaults
 * filled in; station_file_dump() prints an effective configuration that
 * parses back to the same station; a minimal file gets every default; and
 * each rule rejects the shipped file with one edit, the message naming
 * "FILE: json.path: value: rule" (missing field, typo, wrong type, 1e999,
 * negative power, efficiency outside (0, 1], soc window, connector vs
 * cabinet power, import limit vs transformer, duplicate ids, parking,
 * the meter's protocols (SunSpec or a register map; PV and storage SunSpec),
 * tariff gaps/overlaps/months/price order, time zone, duplicate keys, not
 * JSON, empty, deep nesting, a 1 MB payload).
 */
#include "check.h"

#include "../../common/alloc.h"
#include "../../common/clock.h"
#include "../../common/fileio.h"
#include "../../config/station_file.h"

#include <stdlib.h>
#include <string.h>

static char *sft_shipped; /* text of config/ulanhada.json */

static const char sft_min[] =
    "{'id': 's', 'name': 'Minimal', 'location': {'lat_deg': 41.5, 'lon_deg': 113},"
    " 'grid': {'transformer_kva': 100, 'import_limit_kw': 90}, 'parking': {'spaces': 4,"
    " 'ev_spaces': 0}, 'tariff': {'seasons': [{'id': 'all', 'months': [1, 2, 3, 4, 5, 6, 7, 8,"
    " 9, 10, 11, 12], 'prices_cny_per_kwh': {'peak': 1, 'flat': 0.6, 'valley': 0.3},"
    " 'periods': [{'start': '00:00', 'end': '24:00', 'tier': 'flat'}]}]}}";

static const char *sft_source_dir(void)
{
    const char *d = getenv("FLEXD_SOURCE_DIR");

    return d && *d ? d : FLEXD_SOURCE_DIR;
}

static char *sft_quotes(const char *s)
{
    char *j = alloc_strdup(s);

    for (char *p = j; *p; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    return j;
}

/* s with its only occurrence of from (' for ") replaced by to. */
static char *sft_edit(const char *s, const char *from_q, const char *to_q)
{
    char *from = sft_quotes(from_q);
    char *to = sft_quotes(to_q);
    const char *at = strstr(s, from);
    char *out;

    if (!at || strstr(at + 1, from)) {
        fprintf(stderr, "test bug: '%s' must occur exactly once\n", from);
        abort();
    }
    out = alloc_printf("%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    free(from);
    free(to);
    return out;
}

static void sft_bad_text(const char *text, int rc_want, const char *n1, const char *n2)
{
    struct station *st = (struct station *)1;
    struct error_detail ed;
    int rc;

    memset(&ed, 0, sizeof(ed));
    rc = station_file_parse(text, strlen(text), "ulanhada.json", &st, &ed);
    CHECK(rc == rc_want);
    CHECK(st == NULL);
    CHECK_STR_CONTAINS(ed.text, "ulanhada.json: ");
    CHECK_STR_CONTAINS(ed.text, n1);
    if (n2) {
        CHECK_STR_CONTAINS(ed.text, n2);
    }
    if (rc != rc_want || !strstr(ed.text, n1)) {
        fprintf(stderr, "  rc %d: %s\n", rc, ed.text);
    }
}

/* The shipped file with one edit must fail with rc and the needles. */
static void sft_bad(const char *from, const char *to, int rc_want, const char *n1, const char *n2)
{
    char *text = sft_edit(sft_shipped, from, to);

    sft_bad_text(text, rc_want, n1, n2);
    free(text);
}

static void test_shipped(void)
{
    struct station *st = NULL;
    struct error_detail ed;
    char *path = alloc_printf("%s/config/ulanhada.json", sft_source_dir());

    CHECK(station_file_load(path, &st, &ed) == ERROR_OK);
    free(path);
    if (!st) {
        fprintf(stderr, "  %s\n", ed.text);
        return;
    }
    CHECK(strcmp(st->location.timezone, "Asia/Shanghai") == 0);
    CHECK_NEAR(st->grid.import_limit_kw, 720, 0);
    CHECK(st->grid.import_limit_kw <= st->grid.transformer_kva);
    CHECK(st->n_pv_arrays == 3);
    CHECK_NEAR(station_pv_kwp(st), 300, 1e-9);
    /* the roof array states no azimuth, coefficient or losses: defaults */
    CHECK_NEAR(st->pv_arrays[2].azimuth_deg, 180, 0);
    CHECK_NEAR(st->pv_arrays[2].temp_coeff_per_c, -0.0035, 0);
    CHECK_NEAR(st->pv_arrays[2].losses, 0.14, 0);
    CHECK(st->has_ess);
    CHECK_NEAR(st->ess.capacity_kwh, 430, 0);
    CHECK(st->n_chargers == 12);
    CHECK(station_connector_count(st) == 16);
    CHECK(st->chargers[0].type == STATION_CHARGER_DC);
    CHECK(st->chargers[11].type == STATION_CHARGER_AC);
    CHECK(station_find_connector(st, "DC3-B", NULL) != NULL);
    CHECK(station_find_connector(st, "DC9-Z", NULL) == NULL);
    CHECK(st->parking.ev_spaces >= station_connector_count(st));
    CHECK(st->sharing.parking.start_min == 22 * 60 && st->sharing.parking.end_min == 8 * 60);
    CHECK(st->sharing.charging.start_min == 0 && st->sharing.charging.end_min == 1440);
    CHECK(st->tariff.n_seasons == 2);
    CHECK_NEAR(tariff_buy_at(&st->tariff, clock_from_local(2027, 7, 17, 19, 0, 0)), 0.7328, 1e-12);
    CHECK_NEAR(tariff_buy_at(&st->tariff, clock_from_local(2027, 1, 17, 19, 0, 0)), 0.644, 1e-12);
    CHECK_NEAR(st->penalties.grid_limit_cny_per_kwh, 100, 0);
    CHECK_NEAR(st->penalties.reserve_cny_per_kwh, SCENARIO_PENALTY_RESERVE, 0); /* default */
    CHECK(st->control.departure_margin_min == 30);
    CHECK(st->control.replan_s == 300 && st->control.cycle_ms == 1000); /* defaults */
    CHECK(st->control.history_sample_days == 2 && st->control.history_quarter_days == 3653);
    CHECK_NEAR(st->grid.demand_target_kw, 0, 0);             /* default: no budgeted peak */
    CHECK_NEAR(station_base_load_kw(st, 12 * 60), 25, 0);    /* amenities open */
    CHECK_NEAR(station_base_load_kw(st, 20 * 60), 33, 0);    /* open + lighting */
    CHECK_NEAR(station_base_load_kw(st, 23 * 60), 14, 0);    /* night + lighting */
    CHECK_NEAR(station_base_load_kw(st, 7 * 60 + 59), 6, 0); /* night, daylight */
    station_free(st);
}

static void test_minimal_and_dump(void)
{
    struct station *st = NULL;
    struct station *again = NULL;
    struct error_detail ed;
    char *text = sft_quotes(sft_min);
    char *d1 = NULL;
    char *d2 = NULL;

    CHECK(station_file_parse(text, strlen(text), "min.json", &st, &ed) == ERROR_OK);
    if (!st) {
        fprintf(stderr, "  %s\n", ed.text);
        goto out;
    }
    CHECK_NEAR(st->location.altitude_m, 0, 0);
    CHECK(strcmp(st->location.timezone, "Asia/Shanghai") == 0);
    CHECK_NEAR(st->grid.export_limit_kw, 0, 0);
    CHECK(st->n_pv_arrays == 0 && st->n_chargers == 0 && !st->has_ess);
    CHECK(st->sharing.amenities.start_min == 8 * 60 && st->sharing.amenities.end_min == 22 * 60);
    CHECK(st->base_load.lighting.start_min == 19 * 60 && st->base_load.lighting.end_min == 6 * 60);
    CHECK_NEAR(st->penalties.soc_final_cny_per_kwh, SCENARIO_PENALTY_SOC_FINAL, 0);
    d1 = station_file_dump(st);
    CHECK_STR_CONTAINS(d1, "\"timezone\": \"Asia/Shanghai\"");
    CHECK_STR_CONTAINS(d1, "\"parking\": {\n      \"start\": \"22:00\",");
    CHECK_STR_CONTAINS(d1, "\"penalties\": {");
    CHECK_STR_CONTAINS(d1, "\"unmet_energy_cny_per_kwh\": 3");
    CHECK(strstr(d1, "\"ess\"") == NULL); /* no battery: no ess object */
    CHECK(strchr(d1, '\t') == NULL);
    CHECK(station_file_parse(d1, strlen(d1), "dump.json", &again, &ed) == ERROR_OK);
    if (again) {
        d2 = station_file_dump(again);
        CHECK(strcmp(d1, d2) == 0);
    }
out:
    station_free(st);
    station_free(again);
    free(text);
    free(d1);
    free(d2);
}

static void test_shipped_round_trip(void)
{
    struct station *st = NULL;
    struct station *again = NULL;
    struct error_detail ed;
    char *d1 = NULL;
    char *d2 = NULL;

    CHECK(station_file_parse(sft_shipped, strlen(sft_shipped), "u.json", &st, &ed) == ERROR_OK);
    if (!st) {
        return;
    }
    d1 = station_file_dump(st);
    CHECK_STR_CONTAINS(d1, "\"months\": [6, 7, 8]");
    CHECK_STR_CONTAINS(d1, "\"tier\": \"critical_peak\"");
    CHECK_STR_CONTAINS(d1, "\"type\": \"ac\"");
    CHECK_STR_CONTAINS(d1, "\"export_cny_per_kwh\": 0.2829");
    CHECK_STR_CONTAINS(d1, "\"losses\": 0.14");
    CHECK(station_file_parse(d1, strlen(d1), "dump.json", &again, &ed) == ERROR_OK);
    if (again) {
        d2 = station_file_dump(again);
        CHECK(strcmp(d1, d2) == 0);
        CHECK(memcmp(&st->tariff, &again->tariff, sizeof(st->tariff)) == 0);
    }
    station_free(st);
    station_free(again);
    free(d1);
    free(d2);
}

static void test_fields(void)
{
    sft_bad("'id': 'ulanhada-pvess-ev-01',", "", ERROR_INVALID, "ulanhada.json: id: missing", NULL);
    sft_bad("'transformer_kva': 800,", "", ERROR_INVALID, "grid.transformer_kva: missing", NULL);
    sft_bad("'import_limit_kw': 720",
            "'import_limt_kw': 720",
            ERROR_INVALID,
            "grid.import_limt_kw: unknown key",
            "did you mean \"import_limit_kw\"");
    sft_bad("'id': 'carport-east',",
            "'id': 'carport-east', 'tilt': 5,",
            ERROR_INVALID,
            "pv_arrays[0].tilt: unknown key",
            NULL);
    sft_bad("'spaces': 80",
            "'spaces': 80.5",
            ERROR_INVALID,
            "parking.spaces: 80.5: must be an integer",
            NULL);
    sft_bad("'spaces': 80",
            "'spaces': '80'",
            ERROR_INVALID,
            "parking.spaces: \"80\": must be a number",
            NULL);
    sft_bad("'lat_deg': 41.47",
            "'lat_deg': 1e999",
            ERROR_INVALID,
            "location.lat_deg: inf: must be a finite number",
            NULL);
    sft_bad("'lat_deg': 41.47",
            "'lat_deg': 141.47",
            ERROR_INVALID,
            "location.lat_deg: 141.47: must be in [-90, 90]",
            NULL);
    sft_bad("'charge_max_kw': 200",
            "'charge_max_kw': -200",
            ERROR_INVALID,
            "ess.charge_max_kw: -200: must be in [0, 1e+06]",
            NULL);
    sft_bad("'charge_max_kw': 200",
            "'charge_max_kw': 0",
            ERROR_INVALID,
            "ess.charge_max_kw: 0: must be in (0, 1e+06]",
            NULL);
    sft_bad("'charge_efficiency': 0.95",
            "'charge_efficiency': 1.05",
            ERROR_INVALID,
            "ess.charge_efficiency: 1.05: must be in (0, 1]",
            NULL);
    sft_bad("'discharge_efficiency': 0.95",
            "'discharge_efficiency': 0",
            ERROR_INVALID,
            "ess.discharge_efficiency: 0: must be in (0, 1]",
            NULL);
    sft_bad("'soc_final_target': 0.5,", "", ERROR_INVALID, "ess.soc_final_target: missing", NULL);
    sft_bad("'type': 'dc', 'max_kw': 160,\n     'connectors': [{'id': 'DC1-A'",
            "'type': 'hpc', 'max_kw': 160,\n     'connectors': [{'id': 'DC1-A'",
            ERROR_INVALID,
            "chargers[0].type: \"hpc\": must be one of \"dc\", \"ac\"",
            NULL);
    sft_bad(
        "{'id': 'AC8', 'type': 'ac', 'max_kw': 7, 'connectors': [{'id': 'AC8-1', 'max_kw': 7}]}",
        "{'id': 'AC8', 'type': 'ac', 'max_kw': 7, 'connectors': []}",
        ERROR_INVALID,
        "chargers[11].connectors: 0 connectors: must be 1..12",
        NULL);
    sft_bad("'timezone': 'Asia/Shanghai'",
            "'timezone': 'Europe/Berlin'",
            ERROR_INVALID,
            "location.timezone: \"Europe/Berlin\": must be \"Asia/Shanghai\"",
            NULL);
    sft_bad("'losses': 0.16\n    },\n    {\n      'id': 'carport-west'",
            "'losses': 14\n    },\n    {\n      'id': 'carport-west'",
            ERROR_INVALID,
            "pv_arrays[0].losses: 14: must be in [0, 0.9]",
            NULL);
    sft_bad("'amenities': {'start': '08:00', 'end': '22:00'}",
            "'amenities': {'start': '08:00', 'end': '22:60'}",
            ERROR_INVALID,
            "sharing.amenities.end: \"22:60\": must be a local time \"HH:MM\" in [00:00, 24:00]",
            NULL);
    sft_bad("'parking': {'start': '22:00', 'end': '08:00'}",
            "'parking': {'start': '22:00', 'end': '22:00'}",
            ERROR_INVALID,
            "sharing.parking.end: 22:00: must differ from start",
            NULL);
}

/* The meter speaks SunSpec or is read through a register map; PV and
 * storage speak SunSpec only. */
static void test_meter_protocol(void)
{
    const char *meter = "'kind': 'meter', 'protocol': 'sunspec',";
    char *text = sft_edit(sft_shipped,
                          meter,
                          "'kind': 'meter', 'protocol': 'regmap', 'map': 'eastron-sdm630',");
    struct station *st = NULL;
    struct error_detail ed;
    int m;

    CHECK(station_file_parse(text, strlen(text), "ulanhada.json", &st, &ed) == ERROR_OK);
    m = st ? station_find_device(st, STATION_DEVICE_METER, NULL) : -1;
    CHECK(m >= 0 && st->devices[m].protocol == STATION_PROTOCOL_REGMAP);
    CHECK(m >= 0 && strcmp(st->devices[m].map, "eastron-sdm630") == 0);
    station_free(st);
    free(text);
    sft_bad(meter,
            "'kind': 'meter', 'protocol': 'regmap',",
            ERROR_INVALID,
            "devices[0].map: \"\": a regmap device needs a map",
            NULL);
    sft_bad(meter,
            "'kind': 'meter', 'protocol': 'parking-io',",
            ERROR_INVALID,
            "devices[0].protocol: \"parking-io\": the parking controller, and only it, speaks "
            "parking-io",
            NULL);
    sft_bad("'kind': 'storage', 'protocol': 'sunspec',",
            "'kind': 'storage', 'protocol': 'regmap', 'map': 'eastron-sdm630',",
            ERROR_INVALID,
            "devices[4].protocol: \"regmap\": PV and storage devices speak SunSpec",
            NULL);
}

static void test_rules(void)
{
    sft_bad("'import_limit_kw': 720",
            "'import_limit_kw': 900",
            ERROR_INVALID,
            "grid.import_limit_kw: 900: must not exceed transformer_kva 800",
            NULL);
    sft_bad("'export_limit_kw': 200",
            "'export_limit_kw': 801",
            ERROR_INVALID,
            "grid.export_limit_kw: 801: must not exceed transformer_kva 800",
            NULL);
    sft_bad("'export_limit_kw': 200",
            "'export_limit_kw': 200, 'demand_target_kw': 721",
            ERROR_INVALID,
            "grid.demand_target_kw: 721: must not exceed import_limit_kw 720",
            NULL);
    sft_bad("'departure_margin_min': 30",
            "'departure_margin_min': 241",
            ERROR_INVALID,
            "control.departure_margin_min",
            "241");
    sft_bad("'departure_margin_min': 30",
            "'departure_margin_min': 2.5",
            ERROR_INVALID,
            "control.departure_margin_min",
            NULL);
    sft_bad("'departure_margin_min': 30",
            "'departure_margin_min': 30, 'replan_s': 5",
            ERROR_INVALID,
            "control.replan_s",
            "5");
    /* the EV forecast: ranges per field, the shares together */
    sft_bad("'tourist_share': 0.57",
            "'tourist_share': 1.5",
            ERROR_INVALID,
            "ev_forecast.tourist_share",
            "1.5");
    sft_bad("'learn_days': 14",
            "'learn_days': 'two weeks'",
            ERROR_INVALID,
            "ev_forecast.learn_days",
            NULL);
    sft_bad(
        "'through_share': 0.18",
        "'through_share': 0.5",
        ERROR_INVALID,
        "ev_forecast.through_share: 0.5: tourist_share + through_share (1.07) must not exceed 1",
        NULL);
    sft_bad("'learn_days': 14",
            "'learn_days': 14, 'visitor_share': 0.5",
            ERROR_INVALID,
            "ev_forecast.visitor_share",
            NULL);
    /* the optional mqtt section */
    sft_bad("'departure_margin_min': 30",
            "'departure_margin_min': 30}, 'mqtt': {'host': '127.0.0.1', 'port': 0",
            ERROR_INVALID,
            "mqtt.port",
            "0");
    sft_bad("'departure_margin_min': 30",
            "'departure_margin_min': 30}, 'mqtt': {'host': '127.0.0.1', 'client_id': 'u1', "
            "'outbox_path': '/tmp/o.db', "
            "'topic_prefix': 'a/#'",
            ERROR_INVALID,
            "mqtt.topic_prefix",
            "wildcards");
    sft_bad("'departure_margin_min': 30",
            "'departure_margin_min': 30}, 'mqtt': {'host': '127.0.0.1', 'client_id': 'u1', "
            "'outbox_path': '/tmp/o.db', "
            "'ca_file': '/x.pem'",
            ERROR_INVALID,
            "mqtt.tls",
            NULL);
    sft_bad("'departure_margin_min': 30",
            "'departure_margin_min': 30}, 'mqtt': {'host': '127.0.0.1', 'password': 'x'",
            ERROR_INVALID,
            "mqtt.password",
            "unknown key");
    sft_bad("'departure_margin_min': 30",
            "'departure_margin_min': 30, 'history_sample_days': 0",
            ERROR_INVALID,
            "control.history_sample_days",
            NULL);
    sft_bad("{'id': 'DC1-A', 'max_kw': 120}",
            "{'id': 'DC1-A', 'max_kw': 200}",
            ERROR_INVALID,
            "chargers[0].connectors[0].max_kw: 200: must not exceed the charger's max_kw 160",
            NULL);
    sft_bad("{'id': 'DC2', 'type': 'dc', 'max_kw': 160,",
            "{'id': 'DC2', 'type': 'dc', 'max_kw': 300,",
            ERROR_INVALID,
            "chargers[1].max_kw: 300: must not exceed the sum of its connectors' "
            "max_kw 240",
            NULL);
    sft_bad(
        "{'id': 'AC3', 'type': 'ac', 'max_kw': 7, 'connectors': [{'id': 'AC3-1', 'max_kw': 7}]}",
        "{'id': 'AC3', 'type': 'ac', 'max_kw': 50, 'connectors': [{'id': 'AC3-1', 'max_kw': "
        "50}]}",
        ERROR_INVALID,
        "chargers[6].connectors[0].max_kw: 50: an AC connector delivers at most 44",
        NULL);
    sft_bad("{'id': 'DC2-B', 'max_kw': 120}",
            "{'id': 'DC1-B', 'max_kw': 120}",
            ERROR_INVALID,
            "chargers[1].connectors[1].id: \"DC1-B\": duplicates chargers[0].connectors[1]",
            NULL);
    sft_bad("{'id': 'DC3', 'type'",
            "{'id': 'DC2', 'type'",
            ERROR_INVALID,
            "chargers[2].id: \"DC2\": duplicates chargers[1]",
            NULL);
    sft_bad("'id': 'carport-west'",
            "'id': 'carport-east'",
            ERROR_INVALID,
            "pv_arrays[1].id: \"carport-east\": duplicates pv_arrays[0]",
            NULL);
    sft_bad("'soc_min': 0.05",
            "'soc_min': 0.96",
            ERROR_INVALID,
            "ess.soc_min: 0.96: must be below soc_max 0.95",
            NULL);
    sft_bad("'reserve_soc': 0.3",
            "'reserve_soc': 0.02",
            ERROR_INVALID,
            "ess.reserve_soc: 0.02: must be in [soc_min 0.05, soc_max 0.95]",
            NULL);
    sft_bad("'soc_final_target': 0.5",
            "'soc_final_target': 0.99",
            ERROR_INVALID,
            "ess.soc_final_target: 0.99: must be in [soc_min 0.05, soc_max 0.95]",
            NULL);
    sft_bad("'ev_spaces': 24",
            "'ev_spaces': 10",
            ERROR_INVALID,
            "parking.ev_spaces: 10: must be at least the number of connectors 16",
            NULL);
    sft_bad("'ev_spaces': 24",
            "'ev_spaces': 81",
            ERROR_INVALID,
            "parking.ev_spaces: 81: must be in [0, spaces 80]",
            NULL);
    sft_bad("'accessible_spaces': 2",
            "'accessible_spaces': 90",
            ERROR_INVALID,
            "parking.accessible_spaces: 90: must be in [0, spaces 80]",
            NULL);
}

static void test_tariff_rules(void)
{
    sft_bad("'months': [6, 7, 8]",
            "'months': [6, 7]",
            ERROR_INVALID,
            "tariff.seasons: month 8: in no season",
            NULL);
    sft_bad("'months': [6, 7, 8]",
            "'months': [5, 6, 7, 8]",
            ERROR_INVALID,
            "tariff.seasons[1].months: 5: already in an earlier season",
            NULL);
    sft_bad("'months': [6, 7, 8]",
            "'months': [6, 7, 13]",
            ERROR_INVALID,
            "tariff.seasons[1].months[2]: 13: must be in [1, 12]",
            NULL);
    sft_bad("{'start': '18:00', 'end': '20:00', 'tier': 'critical_peak'}",
            "{'start': '18:00', 'end': '19:00', 'tier': 'critical_peak'}",
            ERROR_INVALID,
            "tariff.seasons[1].periods: 19:00-20:00: not covered: the periods must cover 24 h",
            NULL);
    sft_bad("{'start': '18:00', 'end': '20:00', 'tier': 'critical_peak'}",
            "{'start': '18:00', 'end': '21:00', 'tier': 'critical_peak'}",
            ERROR_INVALID,
            "tariff.seasons[1].periods[6]: 20:00-23:00: overlaps periods[5] (18:00-21:00)",
            NULL);
    sft_bad("{'start': '18:00', 'end': '20:00', 'tier': 'critical_peak'}",
            "{'start': '18:00', 'end': '20:00', 'tier': 'super_peak'}",
            ERROR_INVALID,
            "tariff.seasons[1].periods[5].tier: \"super_peak\": must be one of \"critical_peak\", "
            "\"peak\", \"flat\", \"valley\"",
            NULL);
    sft_bad("{'start': '18:00', 'end': '20:00', 'tier': 'critical_peak'}",
            "{'start': '18:00', 'end': '25:00', 'tier': 'critical_peak'}",
            ERROR_INVALID,
            "tariff.seasons[1].periods[5].end: \"25:00\"",
            NULL);
    sft_bad("'critical_peak': 0.7328, ",
            "",
            ERROR_INVALID,
            "tariff.seasons[1].prices_cny_per_kwh.critical_peak: 0: must not be below peak 0.644",
            NULL);
    sft_bad("'peak': 0.644, 'flat': 0.5, 'valley': 0.437",
            "'peak': 0.644, 'flat': 0.3, 'valley': 0.437",
            ERROR_INVALID,
            "tariff.seasons[0].prices_cny_per_kwh.flat: 0.3: must not be below "
            "valley 0.437",
            NULL);
    sft_bad("'peak': 0.644, 'flat': 0.5, 'valley': 0.437",
            "'peak': 0.644, 'flat': 0.5",
            ERROR_INVALID,
            "tariff.seasons[0].prices_cny_per_kwh.valley: missing",
            NULL);
    sft_bad("'id': 'small_wind'",
            "'id': 'big_wind'",
            ERROR_INVALID,
            "tariff.seasons[1].id: \"big_wind\": duplicates seasons[0]",
            NULL);
    sft_bad("'export_cny_per_kwh': 0.2829",
            "'export_cny_per_kwh': -0.2829",
            ERROR_INVALID,
            "tariff.export_cny_per_kwh: -0.2829: must be in [0, 10000]",
            NULL);
}

static char *sft_repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head);
    size_t ul = strlen(unit);
    size_t tl = strlen(tail);
    char *s = alloc_array(hl + ul * n + tl + 1, 1);

    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++) {
        memcpy(s + hl + i * ul, unit, ul);
    }
    memcpy(s + hl + ul * n, tail, tl + 1);
    return s;
}

static void test_malformed(void)
{
    struct station *st = (struct station *)1;
    struct error_detail ed;
    char *s;

    sft_bad("'name': 'Ulanhada Volcano PV-Storage-Charging Station',",
            "'name': 'Ulanhada Volcano PV-Storage-Charging Station', 'name': 'x',",
            ERROR_INVALID,
            "ulanhada.json: name: duplicate key",
            NULL);
    sft_bad("'import_limit_kw': 720,",
            "'import_limit_kw': 720, 'import_limit_kw': 720,",
            ERROR_INVALID,
            "grid.import_limit_kw: duplicate key",
            NULL);
    sft_bad("'lat_deg': 41.47,",
            "'lat_deg': 41.47,,",
            ERROR_PARSE,
            "ulanhada.json: line 5, column 23: malformed JSON (at end of line)",
            NULL);
    sft_bad_text("", ERROR_PARSE, "ulanhada.json: empty input", NULL);
    sft_bad_text("<station/>", ERROR_PARSE, "line 1, column 1: malformed JSON", NULL);
    sft_bad_text("\"station\"", ERROR_INVALID, "(top level): \"station\": must be an object", NULL);
    s = sft_repeat("{\"id\": ", "{\"a\": ", 40, "");
    sft_bad_text(s, ERROR_PARSE, "nesting deeper than 32 levels", NULL);
    free(s);
    s = sft_repeat("{\"id\": \"", "x", 1 << 20, "\"}");
    sft_bad_text(s, ERROR_RANGE, "input is 1048586 bytes: must be at most 262144 bytes", NULL);
    free(s);
    s = sft_repeat("{\"id\": \"", "x", 200000, "\"}");
    sft_bad_text(s, ERROR_INVALID, "id: \"xxxx", "(200000 bytes): must be at most 63 bytes");
    free(s);
    CHECK(station_file_load("/nonexistent/flexd/station.json", &st, &ed) == ERROR_IO);
    CHECK(st == NULL);
    CHECK_STR_CONTAINS(ed.text, "/nonexistent/flexd/station.json: cannot open");
}

int main(void)
{
    struct error_detail ed;
    char *path = alloc_printf("%s/config/ulanhada.json", sft_source_dir());
    size_t len = 0;

    if (fileio_read_all(path, STATION_FILE_MAX_BYTES, &sft_shipped, &len, &ed) != ERROR_OK) {
        fprintf(stderr, "cannot read the shipped station: %s\n", ed.text);
        free(path);
        return 1;
    }
    free(path);
    test_shipped();
    test_minimal_and_dump();
    test_shipped_round_trip();
    test_fields();
    test_rules();
    test_meter_protocol();
    test_tariff_rules();
    test_malformed();
    free(sft_shipped);
    return CHECK_DONE();
}
