/* SPDX-License-Identifier: MIT */
/*
 * test_scenario_file.c - the `flexd solve` scenario file: a minimal file
 * gets every documented default, a full file reads into the right fields,
 * every rule rejects with "FILE: json.path: value: rule" (missing field,
 * typo, wrong type, 1e999, wrong-length series, negative power, sessions
 * overlapping on a connector, arrival after departure, efficiency outside
 * (0, 1], soc_initial outside its window, unknown connector or charger,
 * duplicate keys, not JSON, empty, deep nesting, megabyte payloads), and the shipped
 * config/scenarios/ulanhada-day.json parses, validates and agrees with
 * config/ulanhada.json step by step.
 */
#include "check.h"

#include "../../common/alloc.h"
#include "../../common/clock.h"
#include "../../config/scenario_file.h"
#include "../../config/station_file.h"

#include <stdlib.h>
#include <string.h>

/* A valid 4-step scenario using every section; cases edit one spot. */
static const char ts_full[] =
    "{'step_minutes': 15, 'steps': 4,"
    " 'grid': {'import_limit_kw': [100, 100, 80, 80], 'export_limit_kw': 20,"
    "          'demand_charge_cny_per_kw': 1.5, 'demand_peak_floor_kw': 45},"
    " 'tariff': {'buy_cny_per_kwh': [0.3, 0.3, 0.9, 0.9], 'sell_cny_per_kwh': 0.28},"
    " 'pv_available_kw': [0, 10, 20, 5], 'base_load_kw': 6,"
    " 'ess': {'capacity_kwh': 100, 'soc_initial': 0.5, 'soc_min': 0.05, 'soc_max': 0.95,"
    "         'reserve_soc': 0.3, 'soc_final_target': 0.5, 'charge_max_kw': 50,"
    "         'discharge_max_kw': 50, 'charge_efficiency': 0.95, 'discharge_efficiency': 0.95,"
    "         'throughput_cost_cny_per_kwh': 0.07},"
    " 'chargers': [{'id': 'K1', 'max_kw': 150}],"
    " 'connectors': [{'id': 'C1', 'max_kw': 120, 'charger': 'K1'}, {'id': 'C2', 'max_kw': 7}],"
    " 'sessions': [{'id': 's1', 'connector': 'C1', 'arrival_step': 0, 'departure_step': 2,"
    "               'energy_kwh': 20, 'max_kw': 90},"
    "              {'id': 's2', 'connector': 'C2', 'arrival_step': 1, 'departure_step': 4,"
    "               'energy_kwh': 5, 'max_kw': 7},"
    "              {'id': 's3', 'connector': 'C1', 'arrival_step': 2, 'departure_step': 4,"
    "               'energy_kwh': 10, 'max_kw': 60}],"
    " 'dr_events': [{'id': 'dr1', 'type': 'import_cap', 'start_step': 2, 'end_step': 4,"
    "                'limit_kw': 50}],"
    " 'penalties': {'dr_cny_per_kwh': 12},"
    " 'flexibility_steps': 4}";

static const char ts_min[] = "{'step_minutes': 15, 'steps': 4, 'grid': {'import_limit_kw': 100},"
                             " 'tariff': {'buy_cny_per_kwh': 0.5}}";

static char *ts_json(const char *s)
{
    char *j = alloc_strdup(s);

    for (char *p = j; *p; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    return j;
}

/* s with its only occurrence of from replaced by to (a test bug if absent). */
static char *ts_edit(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);

    if (!at || strstr(at + 1, from)) {
        fprintf(stderr, "test bug: \"%s\" must occur exactly once\n", from);
        abort();
    }
    return alloc_printf("%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
}

static int ts_parse(const char *text, struct scenario **sc, struct error_detail *ed)
{
    char *j = ts_json(text);
    int rc;

    memset(ed, 0, sizeof(*ed));
    rc = scenario_file_parse(j, strlen(j), "case.json", sc, ed);
    free(j);
    return rc;
}

static void ts_bad_text(const char *text, int rc_want, const char *n1, const char *n2)
{
    struct scenario *sc = (struct scenario *)1;
    struct error_detail ed;
    int rc = ts_parse(text, &sc, &ed);

    CHECK(rc == rc_want);
    CHECK(sc == NULL);
    CHECK_STR_CONTAINS(ed.text, "case.json: ");
    CHECK_STR_CONTAINS(ed.text, n1);
    if (n2) {
        CHECK_STR_CONTAINS(ed.text, n2);
    }
    if (rc != rc_want || !strstr(ed.text, n1)) {
        fprintf(stderr, "  rc %d: %s\n", rc, ed.text);
    }
}

/* The full scenario with one edit must fail with rc and the needles. */
static void ts_bad(const char *from, const char *to, int rc_want, const char *n1, const char *n2)
{
    char *text = ts_edit(ts_full, from, to);

    ts_bad_text(text, rc_want, n1, n2);
    free(text);
}

static void test_minimal_defaults(void)
{
    struct scenario *sc = NULL;
    struct error_detail ed;

    CHECK(ts_parse(ts_min, &sc, &ed) == ERROR_OK);
    if (!sc) {
        fprintf(stderr, "  %s\n", ed.text);
        return;
    }
    CHECK(sc->steps == 4 && sc->step_minutes == 15);
    CHECK_NEAR(sc->import_limit_kw[3], 100, 0);
    CHECK_NEAR(sc->export_limit_kw[0], 0, 0);
    CHECK_NEAR(sc->demand_charge_cny_per_kw, 0, 0);
    CHECK_NEAR(sc->buy_cny_per_kwh[2], 0.5, 0);
    CHECK_NEAR(sc->sell_cny_per_kwh[2], 0, 0);
    CHECK_NEAR(sc->pv_available_kw[1], 0, 0);
    CHECK_NEAR(sc->base_load_kw[1], 0, 0);
    CHECK(sc->has_ess == 0);
    CHECK(sc->n_connectors == 0 && sc->n_sessions == 0 && sc->n_dr_events == 0);
    CHECK(sc->n_groups == 0);
    CHECK_NEAR(sc->demand_peak_floor_kw, 0, 0);
    CHECK_NEAR(sc->penalties.grid_limit_cny_per_kwh, SCENARIO_PENALTY_GRID_LIMIT, 0);
    CHECK_NEAR(sc->penalties.dr_cny_per_kwh, SCENARIO_PENALTY_DR, 0);
    CHECK_NEAR(sc->penalties.reserve_cny_per_kwh, SCENARIO_PENALTY_RESERVE, 0);
    CHECK_NEAR(sc->penalties.unmet_energy_cny_per_kwh, SCENARIO_PENALTY_UNMET, 0);
    CHECK_NEAR(sc->penalties.soc_final_cny_per_kwh, SCENARIO_PENALTY_SOC_FINAL, 0);
    CHECK(sc->flexibility_steps == 0);
    scenario_free(sc);
}

static void test_full(void)
{
    struct scenario *sc = NULL;
    struct error_detail ed;

    CHECK(ts_parse(ts_full, &sc, &ed) == ERROR_OK);
    if (!sc) {
        fprintf(stderr, "  %s\n", ed.text);
        return;
    }
    CHECK_NEAR(sc->import_limit_kw[2], 80, 0);
    CHECK_NEAR(sc->export_limit_kw[3], 20, 0);
    CHECK_NEAR(sc->demand_charge_cny_per_kw, 1.5, 0);
    CHECK_NEAR(sc->buy_cny_per_kwh[3], 0.9, 0);
    CHECK_NEAR(sc->sell_cny_per_kwh[0], 0.28, 0);
    CHECK_NEAR(sc->pv_available_kw[2], 20, 0);
    CHECK_NEAR(sc->base_load_kw[3], 6, 0);
    CHECK(sc->has_ess == 1);
    CHECK_NEAR(sc->ess.capacity_kwh, 100, 0);
    CHECK_NEAR(sc->ess.reserve_soc, 0.3, 0);
    CHECK_NEAR(sc->ess.throughput_cost_cny_per_kwh, 0.07, 0);
    CHECK_NEAR(sc->demand_peak_floor_kw, 45, 0);
    CHECK(sc->n_groups == 1);
    CHECK(strcmp(sc->groups[0].id, "K1") == 0);
    CHECK_NEAR(sc->groups[0].max_kw, 150, 0);
    CHECK(sc->n_connectors == 2);
    CHECK(sc->connectors[0].group == 0);
    CHECK(sc->connectors[1].group == -1); /* no charger: a cabinet of its own */
    CHECK(strcmp(sc->connectors[1].id, "C2") == 0);
    CHECK(sc->n_sessions == 3);
    CHECK(sc->sessions[1].connector == 1);
    CHECK(sc->sessions[2].connector == 0);
    CHECK(sc->sessions[2].arrival_step == 2 && sc->sessions[2].departure_step == 4);
    CHECK_NEAR(sc->sessions[0].energy_kwh, 20, 0);
    CHECK(sc->n_dr_events == 1);
    CHECK(sc->dr_events[0].type == SCENARIO_DR_IMPORT_CAP);
    CHECK_NEAR(sc->dr_events[0].limit_kw, 50, 0);
    CHECK_NEAR(sc->penalties.dr_cny_per_kwh, 12, 0);
    CHECK_NEAR(sc->penalties.unmet_energy_cny_per_kwh, SCENARIO_PENALTY_UNMET, 0);
    CHECK(sc->flexibility_steps == 4);
    scenario_free(sc);

    /* floors parse too */
    {
        char *t = ts_edit(ts_full, "'import_cap'", "'import_floor'");

        CHECK(ts_parse(t, &sc, &ed) == ERROR_OK);
        CHECK(sc && sc->dr_events[0].type == SCENARIO_DR_IMPORT_FLOOR);
        scenario_free(sc);
        free(t);
    }
}

static void test_fields(void)
{
    ts_bad("'steps': 4,", "", ERROR_INVALID, "case.json: steps: missing", NULL);
    ts_bad("'step_minutes': 15,", "", ERROR_INVALID, "step_minutes: missing", NULL);
    ts_bad("'import_limit_kw': [100, 100, 80, 80], ",
           "",
           ERROR_INVALID,
           "grid.import_limit_kw: missing",
           NULL);
    ts_bad("'tariff': {'buy_cny_per_kwh': [0.3, 0.3, 0.9, 0.9], 'sell_cny_per_kwh': 0.28},",
           "",
           ERROR_INVALID,
           "tariff: missing",
           NULL);
    ts_bad("'capacity_kwh': 100, ", "", ERROR_INVALID, "ess.capacity_kwh: missing", NULL);
    ts_bad("'grid': {'import_limit_kw'",
           "'grid': {'import_limt_kw'",
           ERROR_INVALID,
           "case.json: grid.import_limt_kw: unknown key",
           "did you mean \"import_limit_kw\"");
    ts_bad("'base_load_kw'",
           "'baseload_kw'",
           ERROR_INVALID,
           "baseload_kw: unknown key",
           "did you mean \"base_load_kw\"");
    ts_bad("'flexibility_steps': 4}",
           "'flexibility_steps': 4, 'comment': 'x'}",
           ERROR_INVALID,
           "comment: unknown key",
           "known keys: step_minutes, steps, grid");
    ts_bad("'steps': 4", "'steps': '96'", ERROR_INVALID, "steps: \"96\": must be a number", NULL);
    ts_bad("'steps': 4", "'steps': 4.5", ERROR_INVALID, "steps: 4.5: must be an integer", NULL);
    ts_bad("'steps': 4", "'steps': 0", ERROR_INVALID, "steps: 0: must be in [1, 2880]", NULL);
    ts_bad("'steps': 4",
           "'steps': 100000",
           ERROR_INVALID,
           "steps: 100000: must be in [1, 2880]",
           NULL);
    ts_bad("'step_minutes': 15",
           "'step_minutes': 90",
           ERROR_INVALID,
           "step_minutes: 90: must be in [1, 60]",
           NULL);
    ts_bad("'export_limit_kw': 20",
           "'export_limit_kw': 1e999",
           ERROR_INVALID,
           "grid.export_limit_kw: inf: must be a finite number",
           NULL);
    ts_bad("'demand_charge_cny_per_kw': 1.5",
           "'demand_charge_cny_per_kw': -1e999",
           ERROR_INVALID,
           "grid.demand_charge_cny_per_kw: -inf: must be a finite number",
           NULL);
    ts_bad("[0.3, 0.3, 0.9, 0.9]",
           "[0.3, 0.3, 0.9]",
           ERROR_INVALID,
           "tariff.buy_cny_per_kwh: array of 3 values: must have steps (4) values or be a single "
           "number",
           NULL);
    ts_bad("[0, 10, 20, 5]",
           "[0, 10, 20, 5, 1]",
           ERROR_INVALID,
           "pv_available_kw: array of 5 values: must have steps (4) values",
           NULL);
    ts_bad("[0, 10, 20, 5]",
           "[0, -5, 20, 5]",
           ERROR_INVALID,
           "pv_available_kw[1]: -5: must be in [0, 1e+06]",
           NULL);
    ts_bad("'base_load_kw': 6",
           "'base_load_kw': -6",
           ERROR_INVALID,
           "base_load_kw: -6: must be in [0, 1e+06]",
           NULL);
    ts_bad("'base_load_kw': 6",
           "'base_load_kw': '6'",
           ERROR_INVALID,
           "base_load_kw: \"6\": must be an array of steps (4) numbers or a single number",
           NULL);
    ts_bad("'charge_max_kw': 50",
           "'charge_max_kw': -50",
           ERROR_INVALID,
           "ess.charge_max_kw: -50: must be in [0, 1e+06]",
           NULL);
    ts_bad("'energy_kwh': 20",
           "'energy_kwh': -5",
           ERROR_INVALID,
           "sessions[0].energy_kwh: -5: must be in [0, 1e+07]",
           NULL);
    ts_bad("'energy_kwh': 10",
           "'energy_kwh': 1e999",
           ERROR_INVALID,
           "sessions[2].energy_kwh: inf: must be a finite number",
           NULL);
    ts_bad("{'id': 'C2', 'max_kw': 7}",
           "{'id': 'C2', 'max_kw': -7}",
           ERROR_INVALID,
           "connectors[1].max_kw: -7: must be in [0, 1e+06]",
           NULL);
    ts_bad("'limit_kw': 50",
           "'limit_kw': -1",
           ERROR_INVALID,
           "dr_events[0].limit_kw: -1: must be in [0, 1e+06]",
           NULL);
    ts_bad("'import_cap'",
           "'cap'",
           ERROR_INVALID,
           "dr_events[0].type: \"cap\": must be one of \"import_cap\", \"import_floor\"",
           NULL);
    ts_bad("'dr_cny_per_kwh': 12",
           "'dr_cny_per_kwh': -12",
           ERROR_INVALID,
           "penalties.dr_cny_per_kwh: -12: must be in [0, 10000]",
           NULL);
    ts_bad("'penalties': {'dr_cny_per_kwh'",
           "'penalties': {'dr_cny_per_kw'",
           ERROR_INVALID,
           "penalties.dr_cny_per_kw: unknown key",
           "did you mean \"dr_cny_per_kwh\"");
    ts_bad("'connectors': [{'id': 'C1'",
           "'connectors': [{'id': ''",
           ERROR_INVALID,
           "connectors[0].id: \"\": must not be empty",
           NULL);
    ts_bad("'sessions': [{'id': 's1'",
           "'sessions': [{'id': "
           "'s1-with-an-id-far-too-long-for-the-sixty-four-byte-id-buffer-of-a-session'",
           ERROR_INVALID,
           "sessions[0].id: \"s1-with-an-id",
           "must be at most 63 bytes");
    ts_bad("[{'id': 'C1', 'max_kw': 120, 'charger': 'K1'}, {'id': 'C2', 'max_kw': 7}]",
           "5",
           ERROR_INVALID,
           "connectors: 5: must be an array of objects",
           NULL);
    {
        char *t = ts_edit(ts_min, "}}", "}, 'ess': 1}");

        ts_bad_text(t, ERROR_INVALID, "ess: 1: must be an object", NULL);
        free(t);
    }
}

static void test_rules(void)
{
    /* scenario_validate's cross-field rules, with the file name in front */
    ts_bad("'arrival_step': 2, 'departure_step': 4",
           "'arrival_step': 1, 'departure_step': 4",
           ERROR_INVALID,
           "case.json: sessions[2]: steps 1..3 on connector \"C1\" overlap sessions[0]",
           "one car per connector");
    ts_bad("'arrival_step': 0, 'departure_step': 2",
           "'arrival_step': 3, 'departure_step': 2",
           ERROR_INVALID,
           "sessions[0].departure_step: 2: must be after arrival_step 3",
           NULL);
    ts_bad("'arrival_step': 1, 'departure_step': 4",
           "'arrival_step': 1, 'departure_step': 5",
           ERROR_INVALID,
           "sessions[1].departure_step: 5",
           "at most steps 4");
    ts_bad("'charge_efficiency': 0.95",
           "'charge_efficiency': 1.2",
           ERROR_INVALID,
           "ess.charge_efficiency: 1.2: must be in (0, 1]",
           NULL);
    ts_bad("'discharge_efficiency': 0.95",
           "'discharge_efficiency': 0",
           ERROR_INVALID,
           "ess.discharge_efficiency: 0: must be in (0, 1]",
           NULL);
    ts_bad("'soc_initial': 0.5",
           "'soc_initial': 0.01",
           ERROR_INVALID,
           "ess.soc_initial: 0.01: must be in [soc_min 0.05, soc_max 0.95]",
           NULL);
    ts_bad("'soc_initial': 0.5",
           "'soc_initial': 1.5",
           ERROR_INVALID,
           "ess.soc_initial: 1.5: must be in [0, 1]",
           NULL);
    ts_bad("'soc_min': 0.05",
           "'soc_min': 0.99",
           ERROR_INVALID,
           "ess.soc_min: 0.99: must not exceed soc_max 0.95",
           NULL);
    ts_bad("'charger': 'K1'",
           "'charger': 'K9'",
           ERROR_INVALID,
           "connectors[0].charger: \"K9\": no such charger (chargers: K1)",
           NULL);
    ts_bad("'charger': 'K1'",
           "'charger': 1",
           ERROR_INVALID,
           "connectors[0].charger: 1: must be a charger id (a string)",
           NULL);
    ts_bad("[{'id': 'K1', 'max_kw': 150}]",
           "[{'id': 'K1', 'max_kw': -150}]",
           ERROR_INVALID,
           "chargers[0].max_kw: -150: must be in [0, 1e+06]",
           NULL);
    ts_bad("[{'id': 'K1', 'max_kw': 150}]",
           "[{'id': 'K1', 'max_kw': 150}, {'id': 'K1', 'max_kw': 9}]",
           ERROR_INVALID,
           "chargers[1].id: \"K1\": duplicates chargers[0]",
           NULL);
    ts_bad("[{'id': 'K1', 'max_kw': 150}]",
           "[{'id': 'K1', 'max_kw': 150, 'kw': 1}]",
           ERROR_INVALID,
           "chargers[0].kw: unknown key",
           NULL);
    ts_bad("'demand_peak_floor_kw': 45",
           "'demand_peak_floor_kw': -45",
           ERROR_INVALID,
           "grid.demand_peak_floor_kw: -45: must be in [0, 1e+06]",
           NULL);
    ts_bad("'connector': 'C2'",
           "'connector': 'C9'",
           ERROR_INVALID,
           "sessions[1].connector: \"C9\": no such connector (connectors: C1, C2)",
           NULL);
    ts_bad("'connector': 'C2'",
           "'connector': 1",
           ERROR_INVALID,
           "sessions[1].connector: 1: must be a connector id (a string)",
           NULL);
    {
        char *t = ts_edit(ts_min,
                          "}}",
                          "}, 'connectors': [{'id': 'C1', 'max_kw': 1}, {'id': "
                          "'C1', 'max_kw': 2}]}");

        ts_bad_text(t, ERROR_INVALID, "connectors[1].id: \"C1\": duplicates connectors[0]", NULL);
        free(t);
    }
    ts_bad("'id': 's2'", "'id': 's1'", ERROR_INVALID, "sessions[1].id: \"s1\": duplicates", NULL);
    ts_bad("'start_step': 2, 'end_step': 4",
           "'start_step': 3, 'end_step': 3",
           ERROR_INVALID,
           "dr_events[0].end_step: 3: must be after start_step 3",
           NULL);
    ts_bad("'flexibility_steps': 4",
           "'flexibility_steps': 5",
           ERROR_INVALID,
           "flexibility_steps: 5: must be in [0, steps 4]",
           NULL);
    /* no connectors at all: the message says so */
    ts_bad_text("{'step_minutes': 15, 'steps': 4, 'grid': {'import_limit_kw': 100},"
                " 'tariff': {'buy_cny_per_kwh': 0.5}, 'sessions': [{'id': 's', 'connector': 'X',"
                " 'arrival_step': 0, 'departure_step': 1, 'energy_kwh': 1, 'max_kw': 1}]}",
                ERROR_INVALID,
                "sessions[0].connector: \"X\": no such connector (connectors: none)",
                NULL);
}

static char *ts_repeat(const char *head, const char *unit, size_t n, const char *tail)
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
    char *s;

    ts_bad("'steps': 4,",
           "'steps': 4, 'steps': 4,",
           ERROR_INVALID,
           "case.json: steps: duplicate key",
           NULL);
    ts_bad("'buy_cny_per_kwh'",
           "'sell_cny_per_kwh': 1, 'buy_cny_per_kwh'",
           ERROR_INVALID,
           "tariff.sell_cny_per_kwh: duplicate key",
           NULL);
    ts_bad("'connector': 'C2', 'arrival_step': 1,",
           "'connector': 'C2', 'connector': 'C2', "
           "'arrival_step': 1,",
           ERROR_INVALID,
           "sessions[1].connector: duplicate key",
           NULL);
    ts_bad_text("", ERROR_PARSE, "case.json: empty input", NULL);
    ts_bad_text("   \n", ERROR_PARSE, "empty input", NULL);
    ts_bad_text("steps: 96", ERROR_PARSE, "case.json: line 1, column 1: malformed JSON", NULL);
    ts_bad_text("{'steps': 96,}", ERROR_PARSE, "line 1, column 14: malformed JSON", NULL);
    ts_bad_text("{'step_minutes': 15, 'steps': 4}\n{}",
                ERROR_PARSE,
                "line 2, column 1: unexpected text after the JSON value",
                NULL);
    ts_bad_text("[1, 2]",
                ERROR_INVALID,
                "case.json: (top level): array of 2 values: must be an "
                "object",
                NULL);
    ts_bad_text("{}", ERROR_INVALID, "case.json: step_minutes: missing", NULL);
    s = ts_repeat("{'steps': ", "[", 5000, "");
    ts_bad_text(s, ERROR_PARSE, "nesting deeper than 32 levels", NULL);
    free(s);
    /* about 1 MB: a wrong-length series, then too many sessions */
    s = ts_repeat("{'step_minutes': 15, 'steps': 4, 'grid': {'import_limit_kw': [1",
                  ", 1",
                  350000,
                  "]}, 'tariff': {'buy_cny_per_kwh': 0.5}}");
    ts_bad_text(s, ERROR_INVALID, "grid.import_limit_kw: array of 350001 values", NULL);
    free(s);
    s = ts_repeat("{'step_minutes': 15, 'steps': 4, 'grid': {'import_limit_kw': 1}, 'tariff': "
                  "{'buy_cny_per_kwh': 0.5}, 'connectors': [{'id': 'C', 'max_kw': 1}], 'sessions': "
                  "[{}",
                  ", {}",
                  260000,
                  "]}");
    ts_bad_text(s, ERROR_INVALID, "sessions: array of 260001 values: must have at most 5000", NULL);
    free(s);
    s = ts_repeat("{'x': '", "x", SCENARIO_FILE_MAX_BYTES, "'}");
    ts_bad_text(s, ERROR_RANGE, "case.json: input is 4194313 bytes: must be at most 4194304", NULL);
    free(s);
}

static const char *ts_source_dir(void)
{
    const char *d = getenv("FLEXD_SOURCE_DIR");

    return d && *d ? d : FLEXD_SOURCE_DIR;
}

static void test_load_errors(void)
{
    struct scenario *sc = (struct scenario *)1;
    struct error_detail ed;

    CHECK(scenario_file_load("/nonexistent/flexd/day.json", &sc, &ed) == ERROR_IO);
    CHECK(sc == NULL);
    CHECK_STR_CONTAINS(ed.text, "/nonexistent/flexd/day.json: cannot open");
}

/* The shipped example day agrees with the shipped station, step by step. */
static void ts_against_station(const struct scenario *sc, const struct station *st)
{
    int64_t t0 = clock_from_local(2027, 7, 17, 0, 0, 0); /* the day the file describes */
    int bad_steps = 0;

    CHECK(sc->n_connectors == station_connector_count(st));
    for (int i = 0; i < sc->n_connectors; i++) {
        const struct station_connector *c = station_find_connector(st, sc->connectors[i].id, NULL);

        CHECK(c != NULL);
        CHECK(c && c->max_kw == sc->connectors[i].max_kw);
    }
    CHECK(sc->n_groups == st->n_chargers);
    for (int i = 0; i < sc->n_connectors; i++) {
        const struct station_charger *ch = NULL;
        int g = sc->connectors[i].group;

        station_find_connector(st, sc->connectors[i].id, &ch);
        CHECK(ch && g >= 0 && g < sc->n_groups && strcmp(sc->groups[g].id, ch->id) == 0);
        CHECK(ch && g >= 0 && g < sc->n_groups && sc->groups[g].max_kw == ch->max_kw);
    }
    CHECK(sc->has_ess && st->has_ess);
    CHECK_NEAR(sc->ess.capacity_kwh, st->ess.capacity_kwh, 0);
    CHECK_NEAR(sc->ess.charge_max_kw, st->ess.charge_max_kw, 0);
    CHECK_NEAR(sc->ess.reserve_soc, st->ess.reserve_soc, 0);
    CHECK_NEAR(sc->ess.soc_min, st->ess.soc_min, 0);
    CHECK_NEAR(sc->ess.throughput_cost_cny_per_kwh, st->ess.throughput_cost_cny_per_kwh, 0);
    for (int t = 0; t < sc->steps; t++) {
        int64_t ts = t0 + (int64_t)t * sc->step_minutes * 60000;
        double pv_max = 0;

        for (int a = 0; a < st->n_pv_arrays; a++) {
            pv_max += st->pv_arrays[a].inverter_ac_kw;
        }
        bad_steps += sc->import_limit_kw[t] != st->grid.import_limit_kw;
        bad_steps += sc->export_limit_kw[t] != st->grid.export_limit_kw;
        bad_steps += fabs(sc->buy_cny_per_kwh[t] - tariff_buy_at(&st->tariff, ts)) > 1e-9;
        bad_steps += fabs(sc->sell_cny_per_kwh[t] - tariff_sell_at(&st->tariff, ts)) > 1e-9;
        bad_steps +=
            fabs(sc->base_load_kw[t] - station_base_load_kw(st, t * sc->step_minutes)) > 1e-9;
        bad_steps += sc->pv_available_kw[t] > pv_max + 1e-9;
    }
    CHECK(bad_steps == 0);
}

static void test_shipped(void)
{
    struct scenario *sc = NULL;
    struct station *st = NULL;
    struct error_detail ed;
    char *path = alloc_printf("%s/config/scenarios/ulanhada-day.json", ts_source_dir());
    char *spath = alloc_printf("%s/config/ulanhada.json", ts_source_dir());

    CHECK(scenario_file_load(path, &sc, &ed) == ERROR_OK);
    CHECK(station_file_load(spath, &st, &ed) == ERROR_OK);
    if (!sc || !st) {
        fprintf(stderr, "  %s\n", ed.text);
        goto out;
    }
    CHECK(sc->steps == 96 && sc->step_minutes == 15);
    CHECK(sc->n_sessions >= 25 && sc->n_sessions <= 40);
    CHECK(sc->n_dr_events == 1);
    CHECK(sc->dr_events[0].type == SCENARIO_DR_IMPORT_CAP);
    CHECK(sc->flexibility_steps == 96);
    CHECK(scenario_validate(sc, &ed) == ERROR_OK);
    ts_against_station(sc, st);
out:
    scenario_free(sc);
    station_free(st);
    free(path);
    free(spath);
}

int main(void)
{
    test_minimal_defaults();
    test_full();
    test_fields();
    test_rules();
    test_malformed();
    test_load_errors();
    test_shipped();
    return CHECK_DONE();
}
