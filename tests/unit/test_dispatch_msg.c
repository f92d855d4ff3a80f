/* SPDX-License-Identifier: MIT */
/*
 * test_dispatch_msg.c - the MQTT payloads (io/dispatch_msg.h). Each parser
 * takes its documented valid forms (compact and explicit intervals, Z and
 * other offsets, OpenADR's "now", a cancel with no intervals) and rejects
 * every bad-input class with the documented code and a message naming the
 * JSON path: not JSON, empty, NUL, 1 MB, deep nesting, wrong types,
 * missing / unknown / duplicate keys, bad ids, times and durations, values
 * out of range, intervals overlapping or too long, expired messages and
 * retained commands. Builders round-trip through cJSON. Every schema in
 * docs/schemas/ is JSON with $schema and title, and every example in
 * docs/mqtt.md parses: inbound ones with the C parser, outbound ones with
 * the same top-level keys as the builder's output.
 */
#include "check.h"

#include "../../common/alloc.h"
#include "../../common/clock.h"
#include "../../common/fileio.h"
#include "../../io/dispatch_msg.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 2026-07-01 08:00 local: before every example in the docs. */
static int64_t tdm_now;

static const char tdm_event[] =
    "{'id': 'evt-20260701-01', 'programID': 'ulanqab-peak', 'modificationNumber': 0,"
    " 'priority': 1, 'createdDateTime': '2026-07-01T06:30:00+08:00', 'eventName': 'peak',"
    " 'intervalPeriod': {'start': '2026-07-01T18:00:00+08:00', 'duration': 'PT15M'},"
    " 'payloadDescriptors': [{'payloadType': 'IMPORT_CAPACITY_LIMIT', 'units': 'KW'}],"
    " 'intervals': ["
    "{'id': 0, 'payloads': [{'type': 'IMPORT_CAPACITY_LIMIT', 'values': [300]}]},"
    " {'id': 1, 'payloads': [{'type': 'IMPORT_CAPACITY_LIMIT', 'values': [250]}]},"
    " {'id': 2, 'payloads': [{'type': 'IMPORT_CAPACITY_LIMIT', 'values': [250.5]}]},"
    " {'id': 3, 'payloads': [{'type': 'IMPORT_CAPACITY_LIMIT', 'values': [300]}]}]}";

static const char tdm_command[] =
    "{'id': 'cmd-7', 'command': 'IMPORT_CAP', 'value_kw': 320, 'issued': "
    "'2026-07-01T07:59:50+08:00', 'expires': '2026-07-01T08:01:00+08:00', 'duration': 'PT30M'}";

static const char tdm_tariff[] =
    "{'id': 'tariff-20260701', 'createdDateTime': '2026-06-30T17:00:00+08:00',"
    " 'validFrom': '2026-07-01T00:00:00+08:00', 'validUntil': '2026-07-02T00:00:00+08:00',"
    " 'intervalPeriod': {'start': '2026-07-01T00:00:00+08:00', 'duration': 'PT6H'},"
    " 'payloadDescriptors': [{'payloadType': 'PRICE', 'units': 'KWH', 'currency': 'CNY'}],"
    " 'intervals': ["
    "{'id': 0, 'payloads': [{'type': 'PRICE', 'values': [0.3, 0.3, 0.3, 0.3, 0.3, 0.3]},"
    " {'type': 'EXPORT_PRICE', 'values': [0.28]}]},"
    " {'id': 1, 'payloads': [{'type': 'PRICE', 'values': [0.3, 0.3, 0.6, 0.6, 0.6, 0.6]},"
    " {'type': 'EXPORT_PRICE', 'values': [0.28]}]},"
    " {'id': 2, 'payloads': [{'type': 'PRICE', 'values': [0.6, 0.6, 0.6, 0.6, 0.6, 0.6]},"
    " {'type': 'EXPORT_PRICE', 'values': [0.28]}]},"
    " {'id': 3, 'payloads': [{'type': 'PRICE', 'values': [1.1, 1.1, 1.1, 1.1, 0.6, 0.6]},"
    " {'type': 'EXPORT_PRICE', 'values': [0.28, 0.28, 0.28, 0.28, 0.2, 0.2]}]}]}";

static const char tdm_forecast[] =
    "{'id': 'vf-20260701', 'createdDateTime': '2026-07-01T05:00:00+08:00',"
    " 'intervalPeriod': {'start': '2026-07-01T08:00:00+08:00', 'duration': 'PT4H'},"
    " 'intervals': [{'id': 0, 'payloads': [{'type': 'VISITOR_FLOW', 'values': [120, 340, 610,"
    " 800]}]}, {'id': 1, 'payloads': [{'type': 'VISITOR_FLOW', 'values': [450]}]}]}";

/* A pool of edited payloads: each call returns a fresh slot, so a test may
 * hold a few at once. */
#define TDM_SLOTS 256
static char *tdm_slot[TDM_SLOTS];
static int tdm_next;

static char *tdm_keep(char *s)
{
    free(tdm_slot[tdm_next]);
    tdm_slot[tdm_next] = s;
    tdm_next = (tdm_next + 1) % TDM_SLOTS;
    return s;
}

/* s with ' as " (readable JSON in C strings). */
static const char *tdm_q(const char *s)
{
    char *d = alloc_strdup(s);

    for (char *p = d; *p; p++) {
        *p = *p == '\'' ? '"' : *p;
    }
    return tdm_keep(d);
}

/* s with the first occurrence of old replaced by new (old must be there). */
static const char *tdm_with(const char *s, const char *old, const char *new_text)
{
    const char *at = strstr(s, old);
    char *d;

    if (!at) {
        fprintf(stderr, "tdm_with: \"%s\" not found\n", old);
        abort();
    }
    d = alloc_printf("%.*s%s%s", (int)(at - s), s, new_text, at + strlen(old));
    return tdm_keep(d);
}

static int tdm_ev(const char *sq, struct dispatch_event *ev, struct dispatch_error *err)
{
    const char *j = tdm_q(sq);

    return dispatch_parse_event(j, strlen(j), tdm_now, ev, err);
}

static int
tdm_cmd(const char *sq, int retained, struct dispatch_command *c, struct dispatch_error *e)
{
    const char *j = tdm_q(sq);

    return dispatch_parse_command(j, strlen(j), retained, tdm_now, c, e);
}

static int tdm_tar(const char *sq, struct dispatch_tariff *t, struct dispatch_error *e)
{
    const char *j = tdm_q(sq);

    return dispatch_parse_tariff(j, strlen(j), tdm_now, t, e);
}

static int tdm_fc(const char *sq, int kind, struct dispatch_forecast *f, struct dispatch_error *e)
{
    const char *j = tdm_q(sq);

    return dispatch_parse_forecast(j, strlen(j), kind, f, e);
}

static int64_t tdm_t(int h, int m)
{
    return clock_from_local(2026, 7, 1, h, m, 0);
}

/* An event edit must fail with code and a message containing text. */
static void tdm_ev_bad(const char *sq, enum dispatch_code code, const char *text)
{
    static struct dispatch_event ev;
    struct dispatch_error err;
    int rc = tdm_ev(sq, &ev, &err);

    CHECK(rc == (int)code && err.code == code);
    CHECK_STR_CONTAINS(err.message, text);
    if (rc != (int)code) {
        fprintf(stderr, "  got %s: %s\n", dispatch_code_name(err.code), err.message);
    }
    if (code != DISPATCH_EXPIRED) {
        CHECK(ev.n_intervals == 0);
    }
}

static void
tdm_ev_edit(const char *old, const char *new_text, enum dispatch_code code, const char *text)
{
    tdm_ev_bad(tdm_with(tdm_event, old, new_text), code, text);
}

/* Every parser through the byte gate: each bad-bytes class is
 * INVALID_PAYLOAD, a JSON value that is not an object SCHEMA_VIOLATION. */
static int tdm_any(int which, const char *p, size_t n, struct dispatch_error *err)
{
    static struct dispatch_event ev;
    static struct dispatch_tariff t;
    static struct dispatch_forecast f;
    struct dispatch_command c;
    struct dispatch_declaration x;

    switch (which) {
    case 0:
        return dispatch_parse_event(p, n, tdm_now, &ev, err);
    case 1:
        return dispatch_parse_command(p, n, 0, tdm_now, &c, err);
    case 2:
        return dispatch_parse_tariff(p, n, tdm_now, &t, err);
    case 5:
        return dispatch_parse_declaration(p, n, tdm_now, &x, err);
    default:
        return dispatch_parse_forecast(p, n, which - 3, &f, err);
    }
}

static void test_bytes_all(void)
{
    static const char *const garbage[] = {"", "   ", "hello", "{\"id\": \"x\"", "{} {}", "nul"};
    size_t big_n = 1024 * 1024;
    char *big = alloc_array(big_n, 1);
    const char *unknown = "{\"id\": \"m-1\", \"zz\": 0}";
    char deep[40];
    struct dispatch_error err;

    memset(big, ' ', big_n);
    memcpy(big, "{\"id\": \"big\"}", strlen("{\"id\": \"big\"}"));
    memset(deep, '{', sizeof(deep));
    for (int w = 0; w < 6; w++) {
        for (size_t g = 0; g < sizeof(garbage) / sizeof(garbage[0]); g++) {
            size_t n = strcmp(garbage[g], "nul") == 0 ? 4 : strlen(garbage[g]);

            CHECK(tdm_any(w, strcmp(garbage[g], "nul") == 0 ? "{\0}" : garbage[g], n, &err) ==
                  DISPATCH_INVALID_PAYLOAD);
            CHECK(err.message[0] != '\0' && err.id[0] == '\0');
        }
        CHECK(tdm_any(w, big, big_n, &err) == DISPATCH_INVALID_PAYLOAD);
        CHECK_STR_CONTAINS(err.message, "1048576 bytes");
        CHECK(tdm_any(w, deep, sizeof(deep), &err) == DISPATCH_INVALID_PAYLOAD);
        CHECK_STR_CONTAINS(err.message, "deeper than 16");
        CHECK(tdm_any(w, "[1, 2]", 6, &err) == DISPATCH_SCHEMA_VIOLATION);
        CHECK(tdm_any(w, unknown, strlen(unknown), &err) == DISPATCH_SCHEMA_VIOLATION);
        CHECK(strcmp(err.id, "m-1") == 0);
        CHECK_STR_CONTAINS(err.message, "zz: unknown key");
    }
    free(big);
}

static void test_codes(void)
{
    CHECK(strcmp(dispatch_code_name(DISPATCH_OK), "OK") == 0);
    CHECK(strcmp(dispatch_code_name(DISPATCH_INVALID_PAYLOAD), "INVALID_PAYLOAD") == 0);
    CHECK(strcmp(dispatch_code_name(DISPATCH_SCHEMA_VIOLATION), "SCHEMA_VIOLATION") == 0);
    CHECK(strcmp(dispatch_code_name(DISPATCH_EXPIRED), "EXPIRED") == 0);
    CHECK(strcmp(dispatch_code_name(DISPATCH_DUPLICATE), "DUPLICATE") == 0);
    CHECK(strcmp(dispatch_code_name(DISPATCH_UNKNOWN_EVENT), "UNKNOWN_EVENT") == 0);
    CHECK(strcmp(dispatch_code_name(DISPATCH_OUT_OF_RANGE), "OUT_OF_RANGE") == 0);
    CHECK(strcmp(dispatch_code_name(DISPATCH_INSUFFICIENT_FLEXIBILITY),
                 "INSUFFICIENT_FLEXIBILITY") == 0);
    CHECK(strcmp(dispatch_code_name(DISPATCH_NOT_AUTHORISED), "NOT_AUTHORISED") == 0);
    CHECK(strcmp(dispatch_code_name(DISPATCH_RETAINED_COMMAND), "RETAINED_COMMAND") == 0);
    CHECK(strcmp(dispatch_code_name(DISPATCH_CONFLICT), "CONFLICT") == 0);
    CHECK(strcmp(dispatch_code_name(DISPATCH_INTERNAL), "INTERNAL") == 0);
    CHECK(strcmp(dispatch_code_name((enum dispatch_code)99), "INTERNAL") == 0);
    CHECK(DISPATCH_INTERNAL == 11 && DISPATCH_RETAINED_COMMAND == 9); /* published numbers */
}

static void test_event_valid(void)
{
    static struct dispatch_event ev;
    struct dispatch_error err;

    CHECK(tdm_ev(tdm_event, &ev, &err) == DISPATCH_OK);
    CHECK(err.code == DISPATCH_OK && err.message[0] == '\0');
    CHECK(strcmp(ev.id, "evt-20260701-01") == 0 && strcmp(err.id, ev.id) == 0);
    CHECK(strcmp(ev.program, "ulanqab-peak") == 0);
    CHECK(ev.modification == 0 && ev.priority == 1 && !ev.cancel && ev.expires_ms == 0);
    CHECK(ev.kind == DISPATCH_IMPORT_CAP && ev.n_intervals == 4);
    CHECK(ev.created_ms == tdm_t(6, 30) && ev.notice_ms == tdm_t(6, 30));
    CHECK(ev.interval[0].start_ms == tdm_t(18, 0) && ev.interval[0].end_ms == tdm_t(18, 15));
    CHECK(ev.interval[3].start_ms == tdm_t(18, 45) && ev.interval[3].end_ms == tdm_t(19, 0));
    CHECK_NEAR(ev.interval[2].value_kw, 250.5, 1e-9);

    /* kinds, offsets, fractions, "Z", explicit interval periods with a gap */
    CHECK(tdm_ev(tdm_with(tdm_with(tdm_event,
                                   "IMPORT_CAPACITY_LIMIT', 'units",
                                   "LOAD_SHED_DELTA"
                                   "', 'units"),
                          "'IMPORT_CAPACITY_LIMIT', 'values': [300]}]},",
                          "'LOAD_SHED_DELTA', 'values': [300]}]},"),
                 &ev,
                 &err) == DISPATCH_SCHEMA_VIOLATION); /* the other three are still caps */
    CHECK_STR_CONTAINS(err.message, "intervals[1].payloads[0].type");
    {
        const char *j = "{'id': 'e2', 'programID': 'p', 'modificationNumber': 3, 'priority': 0,"
                        " 'createdDateTime': '2026-06-30T22:00:00Z', 'modificationDateTime':"
                        " '2026-07-01T09:00:00+08:00', 'objectType': 'EVENT', 'targets': ['s1'],"
                        " 'intervalPeriod': {'start': '2026-07-01T04:00:00.250-06:00',"
                        " 'duration': 'PT1H', 'randomizeStart': 'PT0S'}, 'intervals': ["
                        "{'id': 0, 'payloads': [{'type': 'IMPORT_CAPACITY_FLOOR', 'values':"
                        " [80]}]}, {'id': 1, 'intervalPeriod': {'start':"
                        " '2026-07-01T20:00:00+08:00', 'duration': 'PT30M'}, 'payloads':"
                        " [{'type': 'IMPORT_CAPACITY_FLOOR', 'values': [0]}]}, {'id': 2,"
                        " 'payloads': [{'type': 'IMPORT_CAPACITY_FLOOR', 'values': [1e5]}]}],"
                        " 'expires': '2026-07-01T17:00:00Z'}";

        CHECK(tdm_ev(j, &ev, &err) == DISPATCH_OK);
        CHECK(ev.kind == DISPATCH_IMPORT_FLOOR && ev.modification == 3 && ev.priority == 0);
        CHECK(ev.created_ms == tdm_t(6, 0));
        CHECK(ev.notice_ms == tdm_now); /* modificationDateTime in the future: now */
        CHECK(ev.interval[0].start_ms == tdm_t(18, 0) + 250);
        CHECK(ev.interval[0].end_ms == tdm_t(19, 0) + 250);
        CHECK(ev.interval[1].start_ms == tdm_t(20, 0) && ev.interval[1].end_ms == tdm_t(20, 30));
        CHECK(ev.interval[2].start_ms == tdm_t(20, 30) && ev.interval[2].end_ms == tdm_t(21, 30));
        CHECK(ev.expires_ms == clock_from_local(2026, 7, 2, 1, 0, 0));
        CHECK_NEAR(ev.interval[2].value_kw, 1e5, 0);
    }
    /* LOAD_SHED_DELTA is a reduction */
    CHECK(tdm_ev("{'id': 'e3', 'programID': 'p', 'modificationNumber': 0, 'priority': 0,"
                 " 'createdDateTime': '2026-07-01T07:00:00+08:00', 'intervals': [{'id': 0,"
                 " 'intervalPeriod': {'start': '2026-07-01T12:00:00+08:00', 'duration': 'PT2H'},"
                 " 'payloads': [{'type': 'LOAD_SHED_DELTA', 'values': [40]}]}]}",
                 &ev,
                 &err) == DISPATCH_OK);
    CHECK(ev.kind == DISPATCH_REDUCE && ev.interval[0].end_ms == tdm_t(14, 0));
    /* OpenADR's "now": start 0001-01-01 */
    CHECK(tdm_ev(tdm_with(tdm_event, "'2026-07-01T18:00:00+08:00'", "'0001-01-01'"), &ev, &err) ==
          DISPATCH_OK);
    CHECK(ev.interval[0].start_ms == tdm_now && ev.interval[3].end_ms == tdm_now + 3600000);
    CHECK(tdm_ev(tdm_with(tdm_event, "'2026-07-01T18:00:00+08:00'", "'0001-01-01T00:00:00Z'"),
                 &ev,
                 &err) == DISPATCH_OK);
    CHECK(ev.interval[0].start_ms == tdm_now);
    /* brackets inside strings do not count as nesting */
    CHECK(tdm_ev(tdm_with(tdm_event, "'peak'", "'[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{{{{{{'"),
                 &ev,
                 &err) == DISPATCH_OK);
    /* err may be NULL */
    CHECK(dispatch_parse_event(tdm_q(tdm_event), strlen(tdm_event), tdm_now, &ev, NULL) ==
          DISPATCH_OK);
}

static void test_event_cancel(void)
{
    static struct dispatch_event ev;
    struct dispatch_error err;
    const char *cancel = "{'id': 'evt-9', 'programID': 'p', 'modificationNumber': 2, 'priority':"
                         " 0, 'createdDateTime': '2026-07-01T06:00:00+08:00', 'cancelled': true}";

    CHECK(tdm_ev(cancel, &ev, &err) == DISPATCH_OK);
    CHECK(ev.cancel == 1 && ev.n_intervals == 0 && ev.modification == 2);
    CHECK(ev.kind == DISPATCH_IMPORT_CAP);
    CHECK(tdm_ev(tdm_with(cancel,
                          "'cancelled'",
                          "'payloadDescriptors': [{'payloadType': 'LOAD_SHED_DELTA'}], "
                          "'cancelled'"),
                 &ev,
                 &err) == DISPATCH_OK);
    CHECK(ev.cancel && ev.kind == DISPATCH_REDUCE);
    CHECK(tdm_ev(tdm_with(cancel, "'cancelled': true", "'intervals': [], 'cancelled': true"),
                 &ev,
                 &err) == DISPATCH_OK);
    /* a cancel that still carries its intervals */
    CHECK(tdm_ev(tdm_with(tdm_event, "'eventName'", "'cancelled': true, 'eventName'"), &ev, &err) ==
          DISPATCH_OK);
    CHECK(ev.cancel && ev.n_intervals == 4);
    /* with no intervals and not cancelled: a schema violation */
    tdm_ev_bad(tdm_with(cancel, "true", "false"), DISPATCH_SCHEMA_VIOLATION, "intervals: missing");
    tdm_ev_bad(tdm_with(cancel, "true", "1"), DISPATCH_SCHEMA_VIOLATION, "cancelled: 1");
}

static void test_event_bytes(void)
{
    static struct dispatch_event ev;
    struct dispatch_error err;
    char *big = alloc_array(1024 * 1024 + 1, 1);
    char deep[64];
    const char *ok = tdm_q(tdm_event);

    CHECK(dispatch_parse_event("", 0, tdm_now, &ev, &err) == DISPATCH_INVALID_PAYLOAD);
    CHECK_STR_CONTAINS(err.message, "empty");
    CHECK(dispatch_parse_event(NULL, 0, tdm_now, &ev, &err) == DISPATCH_INVALID_PAYLOAD);
    CHECK(dispatch_parse_event("hello", 5, tdm_now, &ev, &err) == DISPATCH_INVALID_PAYLOAD);
    CHECK_STR_CONTAINS(err.message, "not JSON");
    CHECK(dispatch_parse_event("{\"id\": \"x\"", 10, tdm_now, &ev, &err) ==
          DISPATCH_INVALID_PAYLOAD);
    CHECK(dispatch_parse_event("{} {}", 5, tdm_now, &ev, &err) == DISPATCH_INVALID_PAYLOAD);
    CHECK(dispatch_parse_event("{\"id\"\0: 1}", 10, tdm_now, &ev, &err) ==
          DISPATCH_INVALID_PAYLOAD);
    CHECK_STR_CONTAINS(err.message, "NUL");
    /* a 1 MB payload is refused by its size, unparsed */
    memset(big, ' ', 1024 * 1024);
    memcpy(big, ok, strlen(ok));
    CHECK(dispatch_parse_event(big, 1024 * 1024, tdm_now, &ev, &err) == DISPATCH_INVALID_PAYLOAD);
    CHECK_STR_CONTAINS(err.message, "1048576 bytes: must be at most 65536");
    CHECK(err.id[0] == '\0');
    /* ... while the same event with padding under the cap parses */
    CHECK(dispatch_parse_event(big, DISPATCH_PAYLOAD_MAX, tdm_now, &ev, &err) == DISPATCH_OK);
    CHECK(dispatch_parse_event(big, DISPATCH_PAYLOAD_MAX + 1, tdm_now, &ev, &err) ==
          DISPATCH_INVALID_PAYLOAD);
    free(big);
    /* nesting: 16 levels are JSON (and the wrong shape), 17 are refused */
    memset(deep, 0, sizeof(deep));
    memset(deep, '[', 16);
    memset(deep + 16, ']', 16);
    CHECK(dispatch_parse_event(deep, 32, tdm_now, &ev, &err) == DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "must be an object");
    memset(deep, '[', 17);
    memset(deep + 17, ']', 17);
    CHECK(dispatch_parse_event(deep, 34, tdm_now, &ev, &err) == DISPATCH_INVALID_PAYLOAD);
    CHECK_STR_CONTAINS(err.message, "deeper than 16");
    CHECK(dispatch_parse_event("\"text\"", 6, tdm_now, &ev, &err) == DISPATCH_SCHEMA_VIOLATION);
    /* a \u0000 escape would cut a C string short: refused, but \\u0000 is text */
    CHECK(tdm_ev(tdm_with(tdm_event, "'evt-20260701-01'", "'evt\\u0000-x'"), &ev, &err) ==
          DISPATCH_INVALID_PAYLOAD);
    CHECK_STR_CONTAINS(err.message, "u0000 escape");
    CHECK(tdm_ev(tdm_with(tdm_event, "'peak'", "'a\\\\u0000'"), &ev, &err) == DISPATCH_OK);
}

static void test_event_schema(void)
{
    struct dispatch_error err;
    static struct dispatch_event ev;

    /* missing fields: the id is still read for the ack */
    CHECK(tdm_ev(tdm_with(tdm_event, "'programID': 'ulanqab-peak', ", ""), &ev, &err) ==
          DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "programID: missing");
    CHECK(strcmp(err.id, "evt-20260701-01") == 0);
    tdm_ev_edit("'priority': 1, ", "", DISPATCH_SCHEMA_VIOLATION, "priority: missing");
    tdm_ev_edit("'modificationNumber': 0,", "", DISPATCH_SCHEMA_VIOLATION, "modificationNumber");
    tdm_ev_edit("'createdDateTime': '2026-07-01T06:30:00+08:00', ",
                "",
                DISPATCH_SCHEMA_VIOLATION,
                "createdDateTime: missing");
    tdm_ev_edit("'id': 'evt-20260701-01', ", "", DISPATCH_SCHEMA_VIOLATION, "id: missing");
    tdm_ev_edit("{'id': 0, 'payloads'",
                "{'payloads'",
                DISPATCH_SCHEMA_VIOLATION,
                "intervals[0].id: missing");
    tdm_ev_edit("'values': [250]",
                "'value': [250]",
                DISPATCH_SCHEMA_VIOLATION,
                "intervals[1].payloads[0].value: unknown key");
    /* unknown keys, named with their path */
    tdm_ev_edit("'eventName'",
                "'colour': 'red', 'eventName'",
                DISPATCH_SCHEMA_VIOLATION,
                "colour: unknown key");
    tdm_ev_edit("'duration': 'PT15M'",
                "'duration': 'PT15M', 'x': 1",
                DISPATCH_SCHEMA_VIOLATION,
                "intervalPeriod.x: unknown key");
    tdm_ev_edit("{'id': 2, ",
                "{'id': 2, 'note': 'a', ",
                DISPATCH_SCHEMA_VIOLATION,
                "intervals[2].note: unknown key");
    tdm_ev_edit("'priority': 1",
                "'priority': 1, 'priority': 2",
                DISPATCH_SCHEMA_VIOLATION,
                "priority: duplicate key");
    /* wrong types */
    tdm_ev_edit("'priority': 1",
                "'priority': '1'",
                DISPATCH_SCHEMA_VIOLATION,
                "priority: \"1\": must be a number");
    tdm_ev_edit("'priority': 1",
                "'priority': 1.5",
                DISPATCH_SCHEMA_VIOLATION,
                "priority: 1.5: must be an integer");
    tdm_ev_edit("'modificationNumber': 0",
                "'modificationNumber': null",
                DISPATCH_SCHEMA_VIOLATION,
                "modificationNumber: null");
    tdm_ev_edit("'values': [250]",
                "'values': ['250']",
                DISPATCH_SCHEMA_VIOLATION,
                "intervals[1].payloads[0].values[0]: \"250\": must be a number");
    tdm_ev_edit("'values': [250]",
                "'values': []",
                DISPATCH_SCHEMA_VIOLATION,
                "intervals[1].payloads[0].values");
    tdm_ev_edit("'values': [250]",
                "'values': 250",
                DISPATCH_SCHEMA_VIOLATION,
                "must be an array of 1 to 96 numbers");
    tdm_ev_edit("'intervalPeriod': {'start': '2026-07-01T18:00:00+08:00', 'duration': 'PT15M'}",
                "'intervalPeriod': 5",
                DISPATCH_SCHEMA_VIOLATION,
                "intervalPeriod: 5: must be an object");
    /* ids */
    tdm_ev_edit("'evt-20260701-01'",
                "''",
                DISPATCH_SCHEMA_VIOLATION,
                "id: \"\": must not be empty");
    tdm_ev_edit("'evt-20260701-01'",
                "'caf\\u00e9'",
                DISPATCH_SCHEMA_VIOLATION,
                "id: must be 1 to 63 printable ASCII");
    tdm_ev_edit("'evt-20260701-01'",
                "'0123456789012345678901234567890123456789012345678901234567890123'",
                DISPATCH_SCHEMA_VIOLATION,
                "(64 bytes): must be at most 63 bytes");
    CHECK(tdm_ev(tdm_with(tdm_event, "'evt-20260701-01'", "'tab\\there'"), &ev, &err) ==
          DISPATCH_SCHEMA_VIOLATION);
    CHECK(err.id[0] == '\0'); /* an id that is not one is not echoed */
    tdm_ev_edit("'ulanqab-peak'", "'\\u0001'", DISPATCH_SCHEMA_VIOLATION, "programID");
    /* payload types: unknown, mixed, several per interval, several values */
    tdm_ev_edit("{'type': 'IMPORT_CAPACITY_LIMIT', 'values': [250]}",
                "{'type': 'EXPORT_CAPACITY_LIMIT', 'values': [250]}",
                DISPATCH_SCHEMA_VIOLATION,
                "intervals[1].payloads[0].type: \"EXPORT_CAPACITY_LIMIT\": must be one of");
    tdm_ev_edit("{'type': 'IMPORT_CAPACITY_LIMIT', 'values': [250]}",
                "{'type': 'IMPORT_CAPACITY_FLOOR', 'values': [250]}",
                DISPATCH_SCHEMA_VIOLATION,
                "one payload type per event");
    tdm_ev_edit("'payloadType': 'IMPORT_CAPACITY_LIMIT'",
                "'payloadType': 'LOAD_SHED_DELTA'",
                DISPATCH_SCHEMA_VIOLATION,
                "intervals[0].payloads[0].type");
    tdm_ev_edit("'units': 'KW'",
                "'units': 'W'",
                DISPATCH_SCHEMA_VIOLATION,
                "payloadDescriptors[0].units: \"W\": must be one of \"KW\"");
    tdm_ev_edit("[{'type': 'IMPORT_CAPACITY_LIMIT', 'values': [250]}]",
                "[{'type': 'IMPORT_CAPACITY_LIMIT', 'values': [250]}, {'type': "
                "'IMPORT_CAPACITY_LIMIT', 'values': [250]}]",
                DISPATCH_SCHEMA_VIOLATION,
                "exactly one payload");
    tdm_ev_edit("'values': [250]",
                "'values': [250, 240]",
                DISPATCH_SCHEMA_VIOLATION,
                "exactly one payload with one value");
    tdm_ev_edit("'payloads': [{'type': 'IMPORT_CAPACITY_LIMIT', 'values': [250]}]",
                "'payloads': []",
                DISPATCH_SCHEMA_VIOLATION,
                "intervals[1].payloads");
    /* times and durations */
    tdm_ev_edit("'2026-07-01T18:00:00+08:00'",
                "'2026-07-01T18:00:00'",
                DISPATCH_SCHEMA_VIOLATION,
                "intervalPeriod.start: \"2026-07-01T18:00:00\": must be an ISO 8601 date-time");
    tdm_ev_edit("'2026-07-01T18:00:00+08:00'",
                "'2026-02-29T18:00:00+08:00'",
                DISPATCH_SCHEMA_VIOLATION,
                "intervalPeriod.start");
    tdm_ev_edit("'2026-07-01T18:00:00+08:00'",
                "'2026-07-01 18:00:00+08:00'",
                DISPATCH_SCHEMA_VIOLATION,
                "intervalPeriod.start");
    tdm_ev_edit("'2026-07-01T18:00:00+08:00'",
                "'1969-12-31T23:00:00Z'",
                DISPATCH_SCHEMA_VIOLATION,
                "intervalPeriod.start");
    tdm_ev_edit("'2026-07-01T18:00:00+08:00'",
                "1782900000",
                DISPATCH_SCHEMA_VIOLATION,
                "intervalPeriod.start: 1782900000: must be");
    tdm_ev_edit("'2026-07-01T06:30:00+08:00'",
                "'2026-07-01T06:30:60+08:00'",
                DISPATCH_SCHEMA_VIOLATION,
                "createdDateTime");
    tdm_ev_edit("'PT15M'",
                "'P1M'",
                DISPATCH_SCHEMA_VIOLATION,
                "intervalPeriod.duration: \"P1M\": must be an ISO 8601 duration");
    tdm_ev_edit("'PT15M'", "'PT'", DISPATCH_SCHEMA_VIOLATION, "intervalPeriod.duration");
    tdm_ev_edit("'PT15M'", "'15M'", DISPATCH_SCHEMA_VIOLATION, "intervalPeriod.duration");
    tdm_ev_edit("'PT15M'", "'PT15M30'", DISPATCH_SCHEMA_VIOLATION, "intervalPeriod.duration");
    tdm_ev_edit("'PT15M'", "'PT1.5M'", DISPATCH_SCHEMA_VIOLATION, "intervalPeriod.duration");
    tdm_ev_edit("'PT15M'",
                "'PT15M', 'randomizeStart': 'soon'",
                DISPATCH_SCHEMA_VIOLATION,
                "intervalPeriod.randomizeStart");
    tdm_ev_edit(", 'duration': 'PT15M'",
                "",
                DISPATCH_SCHEMA_VIOLATION,
                "intervals[0]: no duration");
    tdm_ev_edit("'intervalPeriod': {'start': '2026-07-01T18:00:00+08:00', 'duration': 'PT15M'}, ",
                "",
                DISPATCH_SCHEMA_VIOLATION,
                "intervals[0]: no start");
    tdm_ev_edit("'2026-07-01T18:00:00+08:00'",
                "'2026-07-01T18:00:00+08:00', 'start': 'x'",
                DISPATCH_SCHEMA_VIOLATION,
                "intervalPeriod.start: duplicate key");
    /* at most 96 intervals */
    {
        char *j =
            alloc_strdup(tdm_with(tdm_event, ", 'duration': 'PT15M'", ", 'duration': 'PT1M'"));
        char *p = strstr(j, "'intervals': [") + strlen("'intervals': [");
        char *many = alloc_printf("%.*s", (int)(p - j), j);

        for (int i = 0; i < 97; i++) {
            char *next = alloc_printf("%s%s{'id': %d, 'payloads': [{'type': "
                                      "'IMPORT_CAPACITY_LIMIT', 'values': [1]}]}",
                                      many,
                                      i ? ", " : "",
                                      i);

            free(many);
            many = next;
        }
        tdm_ev_bad(tdm_keep(alloc_printf("%s]}", many)),
                   DISPATCH_SCHEMA_VIOLATION,
                   "intervals: array of 97 values: must have at most 96 elements");
        free(many);
        free(j);
    }
}

static void test_event_range(void)
{
    static struct dispatch_event ev;
    struct dispatch_error err;

    tdm_ev_edit("'values': [250]",
                "'values': [-0.5]",
                DISPATCH_OUT_OF_RANGE,
                "intervals[1].payloads[0].values[0]: -0.5: must be in [0, 100000] kW");
    tdm_ev_edit("'values': [250]",
                "'values': [100000.5]",
                DISPATCH_OUT_OF_RANGE,
                "intervals[1].payloads[0].values[0]: 100000.5");
    tdm_ev_edit("'values': [250]",
                "'values': [1e999]",
                DISPATCH_OUT_OF_RANGE,
                "intervals[1].payloads[0].values[0]: inf");
    tdm_ev_edit("'modificationNumber': 0",
                "'modificationNumber': -1",
                DISPATCH_OUT_OF_RANGE,
                "modificationNumber: -1: must be >= 0");
    tdm_ev_edit("'priority': 1",
                "'priority': -3",
                DISPATCH_OUT_OF_RANGE,
                "priority: -3: must be >= 0");
    tdm_ev_edit("'priority': 1",
                "'priority': 3e9",
                DISPATCH_SCHEMA_VIOLATION,
                "priority: 3000000000: must be in");
    /* interval times */
    tdm_ev_edit("'PT15M'",
                "'PT0S'",
                DISPATCH_OUT_OF_RANGE,
                "intervals[0]: lasts 0 s: an interval must last longer than zero");
    tdm_ev_edit("'PT15M'",
                "'PT7H'",
                DISPATCH_OUT_OF_RANGE,
                "intervals: the event spans 28.00 h: an event may span at most 24 h");
    tdm_ev_edit("'PT15M'", "'P9999Y'", DISPATCH_OUT_OF_RANGE, "has no end (P9999Y)");
    tdm_ev_edit("'PT15M'", "'P1W'", DISPATCH_OUT_OF_RANGE, "at most 24 h");
    CHECK(tdm_ev(tdm_with(tdm_event, "'PT15M'", "'PT6H'"), &ev, &err) == DISPATCH_OK);
    CHECK(ev.interval[3].end_ms - ev.interval[0].start_ms == DISPATCH_EVENT_SPAN_MS);
    tdm_ev_edit("{'id': 2, ",
                "{'id': 2, 'intervalPeriod': {'start': '2026-07-01T18:20:00+08:00'}, ",
                DISPATCH_OUT_OF_RANGE,
                "intervals[2]: starts 2026-07-01T18:20:00+08:00, before intervals[1] ends "
                "(2026-07-01T18:30:00+08:00): intervals must be in order and must not overlap");
    tdm_ev_edit("{'id': 2, ",
                "{'id': 2, 'intervalPeriod': {'start': '2026-07-01T17:00:00+08:00'}, ",
                DISPATCH_OUT_OF_RANGE,
                "intervals[2]: starts");
    /* touching is fine, and so is a gap */
    CHECK(tdm_ev(tdm_with(tdm_event,
                          "{'id': 2, ",
                          "{'id': 2, 'intervalPeriod': {'start': '2026-07-01T18:30:00+08:00'}, "),
                 &ev,
                 &err) == DISPATCH_OK);
    CHECK(tdm_ev(tdm_with(tdm_event,
                          "{'id': 2, ",
                          "{'id': 2, 'intervalPeriod': {'start': '2026-07-01T21:00:00+08:00'}, "),
                 &ev,
                 &err) == DISPATCH_OK);
    CHECK(ev.interval[2].start_ms == tdm_t(21, 0) && ev.interval[3].start_ms == tdm_t(21, 15));
}

static void test_event_expired(void)
{
    static struct dispatch_event ev;
    struct dispatch_error err;
    const char *past =
        tdm_with(tdm_event, "'2026-07-01T18:00:00+08:00'", "'2026-07-01T07:00:00+08:00'");

    /* ends 08:00 = now: expired, but read completely */
    CHECK(tdm_ev(past, &ev, &err) == DISPATCH_EXPIRED);
    CHECK_STR_CONTAINS(err.message, "the event's end: 2026-07-01T08:00:00+08:00 is not after now");
    CHECK(ev.n_intervals == 4 && strcmp(ev.id, "evt-20260701-01") == 0);
    CHECK(strcmp(err.id, "evt-20260701-01") == 0);
    /* one minute later it runs */
    CHECK(tdm_ev(tdm_with(past, "'2026-07-01T07:00:00+08:00'", "'2026-07-01T07:01:00+08:00'"),
                 &ev,
                 &err) == DISPATCH_OK);
    tdm_ev_edit("'eventName'",
                "'expires': '2026-07-01T00:00:00Z', 'eventName'",
                DISPATCH_EXPIRED,
                "expires: 2026-07-01T08:00:00+08:00 is not after now");
    /* a schema fault wins over expiry */
    tdm_ev_bad(tdm_with(past, "'eventName'", "'x': 1, 'eventName'"),
               DISPATCH_SCHEMA_VIOLATION,
               "x: unknown key");
}

static void test_command(void)
{
    struct dispatch_command c;
    struct dispatch_error err;
    const char *j;

    CHECK(tdm_cmd(tdm_command, 0, &c, &err) == DISPATCH_OK);
    CHECK(strcmp(c.id, "cmd-7") == 0 && c.kind == DISPATCH_CMD_IMPORT_CAP);
    CHECK_NEAR(c.value_kw, 320, 0);
    CHECK(c.issued_ms == tdm_now - 10000 && c.expires_ms == tdm_now + 60000);
    CHECK(c.duration_ms == 1800000);
    j = tdm_with(tdm_with(tdm_command, "IMPORT_CAP", "BATTERY_SETPOINT"), "320", "-150.5");
    CHECK(tdm_cmd(j, 0, &c, &err) == DISPATCH_OK);
    CHECK(c.kind == DISPATCH_CMD_BATTERY_SETPOINT);
    CHECK_NEAR(c.value_kw, -150.5, 0);
    j = tdm_with(tdm_with(tdm_command, "'IMPORT_CAP'", "'AUTO'"), "'value_kw': 320, ", "");
    CHECK(tdm_cmd(tdm_with(j, ", 'duration': 'PT30M'", ""), 0, &c, &err) == DISPATCH_OK);
    CHECK(c.kind == DISPATCH_CMD_AUTO && c.value_kw == 0 && c.duration_ms == 0);
    CHECK(tdm_cmd(j, 0, &c, &err) == DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "duration: not allowed with command AUTO");
    j = tdm_with(tdm_with(tdm_command, "'IMPORT_CAP'", "'EMERGENCY_HOLD_RESERVE'"),
                 "'value_kw': 320, ",
                 "");
    CHECK(tdm_cmd(j, 0, &c, &err) == DISPATCH_OK && c.kind == DISPATCH_CMD_EMERGENCY_HOLD_RESERVE);
    CHECK(tdm_cmd(tdm_with(j, "HOLD_RESERVE", "SUPPORT"), 0, &c, &err) == DISPATCH_OK);
    CHECK(c.kind == DISPATCH_CMD_EMERGENCY_SUPPORT);
    CHECK(tdm_cmd(tdm_with(tdm_command, ", 'duration': 'PT30M'", ""), 0, &c, &err) == DISPATCH_OK);
    CHECK(c.duration_ms == 0);

    /* retained: refused whatever the payload, with the id when it can be read */
    CHECK(tdm_cmd(tdm_command, 1, &c, &err) == DISPATCH_RETAINED_COMMAND);
    CHECK(strcmp(err.id, "cmd-7") == 0 && c.id[0] == '\0');
    CHECK_STR_CONTAINS(err.message, "retained");
    CHECK(dispatch_parse_command("garbage", 7, 1, tdm_now, &c, &err) == DISPATCH_RETAINED_COMMAND);
    /* expired */
    CHECK(tdm_cmd(tdm_with(tdm_command, "08:01:00", "08:00:00"), 0, &c, &err) == DISPATCH_EXPIRED);
    CHECK(strcmp(err.id, "cmd-7") == 0 && strcmp(c.id, "cmd-7") == 0);
    /* bytes */
    CHECK(dispatch_parse_command("[1]x", 4, 0, tdm_now, &c, &err) == DISPATCH_INVALID_PAYLOAD);
    CHECK(dispatch_parse_command("", 0, 0, tdm_now, &c, &err) == DISPATCH_INVALID_PAYLOAD);
    /* schema */
    CHECK(tdm_cmd(tdm_with(tdm_command, "'value_kw': 320, ", ""), 0, &c, &err) ==
          DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "value_kw: missing: required with command IMPORT_CAP");
    CHECK(strcmp(err.id, "cmd-7") == 0);
    CHECK(tdm_cmd(tdm_with(j, "'issued'", "'value_kw': 5, 'issued'"), 0, &c, &err) ==
          DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "value_kw: not allowed with command EMERGENCY_HOLD_RESERVE");
    CHECK(tdm_cmd(tdm_with(tdm_command, "'IMPORT_CAP'", "'SHUTDOWN'"), 0, &c, &err) ==
          DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "command: \"SHUTDOWN\": must be one of \"IMPORT_CAP\"");
    CHECK(tdm_cmd(tdm_with(tdm_command, "'value_kw': 320", "'value_kw': '320'"), 0, &c, &err) ==
          DISPATCH_SCHEMA_VIOLATION);
    CHECK(tdm_cmd(tdm_with(tdm_command, "'issued'", "'ttl': 5, 'issued'"), 0, &c, &err) ==
          DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "ttl: unknown key");
    CHECK(tdm_cmd(tdm_with(tdm_command, ", 'expires': '2026-07-01T08:01:00+08:00'", ""),
                  0,
                  &c,
                  &err) == DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "expires: missing");
    CHECK(tdm_cmd(tdm_with(tdm_command, "'PT30M'", "'30'"), 0, &c, &err) ==
          DISPATCH_SCHEMA_VIOLATION);
    /* range */
    CHECK(tdm_cmd(tdm_with(tdm_command, "320", "-1"), 0, &c, &err) == DISPATCH_OUT_OF_RANGE);
    CHECK_STR_CONTAINS(err.message, "value_kw: -1: must be in [0, 100000] kW for IMPORT_CAP");
    CHECK(tdm_cmd(tdm_with(tdm_command, "320", "1e999"), 0, &c, &err) == DISPATCH_OUT_OF_RANGE);
    CHECK(tdm_cmd(tdm_with(tdm_command, "'PT30M'", "'PT25H'"), 0, &c, &err) ==
          DISPATCH_OUT_OF_RANGE);
    CHECK_STR_CONTAINS(err.message, "duration: 90000 s");
    CHECK(tdm_cmd(tdm_with(tdm_command, "'PT30M'", "'PT0S'"), 0, &c, &err) ==
          DISPATCH_OUT_OF_RANGE);
    CHECK(tdm_cmd(tdm_with(tdm_command, "07:59:50", "08:02:00"), 0, &c, &err) ==
          DISPATCH_OUT_OF_RANGE);
    CHECK_STR_CONTAINS(err.message, "expires: must be after issued");
    CHECK(c.id[0] == '\0');
}

/* days of quarter-hour prices, one PT24H interval of 96 values a day */
static const char *tdm_big_tariff(int days)
{
    char *s = alloc_printf("{'id': 't', 'validFrom': '2026-07-01T00:00:00+08:00', 'validUntil': "
                           "'2026-07-%02dT00:00:00+08:00', 'intervalPeriod': {'duration': "
                           "'PT24H'}, 'intervals': [",
                           1 + days);
    char *next;

    for (int d = 0; d < days; d++) {
        next = alloc_printf("%s%s{'id': %d, 'payloads': [{'type': 'PRICE', 'values': [",
                            s,
                            d ? ", " : "",
                            d);
        free(s);
        s = next;
        for (int k = 0; k < 96; k++) {
            next = alloc_printf("%s%s%d", s, k ? ", " : "", k % 3);
            free(s);
            s = next;
        }
        next = alloc_printf("%s]}, {'type': 'EXPORT_PRICE', 'values': [0.1]}]}", s);
        free(s);
        s = next;
    }
    next = alloc_printf("%s]}", s);
    free(s);
    return tdm_keep(next);
}

static void test_tariff(void)
{
    static struct dispatch_tariff t;
    struct dispatch_error err;
    const char *j;

    CHECK(tdm_tar(tdm_tariff, &t, &err) == DISPATCH_OK);
    CHECK(strcmp(t.id, "tariff-20260701") == 0 && t.n_prices == 24);
    CHECK(t.valid_from_ms == tdm_t(0, 0) && t.valid_until_ms == tdm_t(24, 0));
    for (int h = 0; h < 24; h++) {
        CHECK(t.price[h].start_ms == tdm_t(h, 0) && t.price[h].end_ms == tdm_t(h + 1, 0));
    }
    CHECK_NEAR(t.price[8].buy_cny_per_kwh, 0.6, 1e-12);
    CHECK_NEAR(t.price[18].buy_cny_per_kwh, 1.1, 1e-12);
    CHECK_NEAR(t.price[18].sell_cny_per_kwh, 0.28, 1e-12);
    CHECK_NEAR(t.price[23].sell_cny_per_kwh, 0.2, 1e-12);
    /* without intervalPeriod.start the prices start at validFrom */
    j = tdm_with(tdm_tariff, "'start': '2026-07-01T00:00:00+08:00', ", "");
    CHECK(tdm_tar(j, &t, &err) == DISPATCH_OK && t.n_prices == 24);
    /* a gap, a short cover, an overlap */
    CHECK(tdm_tar(tdm_with(tdm_tariff,
                           "{'id': 2, ",
                           "{'id': 2, 'intervalPeriod': {'start': '2026-07-01T13:00:00+08:00'}, "),
                  &t,
                  &err) == DISPATCH_OUT_OF_RANGE);
    CHECK_STR_CONTAINS(err.message,
                       "intervals[2]: starts 2026-07-01T13:00:00+08:00, not "
                       "2026-07-01T12:00:00+08:00: prices must cover");
    CHECK(t.n_prices == 0);
    CHECK(tdm_tar(tdm_with(tdm_tariff, "2026-07-02T00:00:00", "2026-07-02T01:00:00"), &t, &err) ==
          DISPATCH_OUT_OF_RANGE);
    CHECK_STR_CONTAINS(err.message,
                       "intervals[3]: ends 2026-07-02T00:00:00+08:00, not at "
                       "validUntil");
    CHECK(tdm_tar(tdm_with(tdm_tariff,
                           "'validFrom': '2026-07-01T00:00:00+08:00'",
                           "'validFrom': '2026-06-30T23:00:00+08:00'"),
                  &t,
                  &err) == DISPATCH_OUT_OF_RANGE);
    CHECK(tdm_tar(tdm_with(tdm_tariff,
                           "{'id': 2, ",
                           "{'id': 2, 'intervalPeriod': {'start': '2026-07-01T11:00:00+08:00'}, "),
                  &t,
                  &err) == DISPATCH_OUT_OF_RANGE);
    CHECK_STR_CONTAINS(err.message, "must not overlap");
    CHECK(tdm_tar(tdm_with(tdm_tariff,
                           "'validUntil': '2026-07-02T00:00:00+08:00'",
                           "'validUntil': '2026-07-09T00:00:00+08:00'"),
                  &t,
                  &err) == DISPATCH_OUT_OF_RANGE);
    CHECK_STR_CONTAINS(err.message, "at most 7 days");
    CHECK(tdm_tar(tdm_with(tdm_tariff,
                           "'validUntil': '2026-07-02T00:00:00+08:00'",
                           "'validUntil': '2026-07-01T00:00:00+08:00'"),
                  &t,
                  &err) == DISPATCH_OUT_OF_RANGE);
    /* payloads */
    CHECK(tdm_tar(tdm_with(tdm_tariff, ", {'type': 'EXPORT_PRICE', 'values': [0.28]}]},", "]},"),
                  &t,
                  &err) == DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message,
                       "intervals[0].payloads: must hold one PRICE and one "
                       "EXPORT_PRICE");
    CHECK(tdm_tar(tdm_with(tdm_tariff,
                           "'EXPORT_PRICE', 'values': [0.28]}",
                           "'PRICE', 'values': "
                           "[0.28]}"),
                  &t,
                  &err) == DISPATCH_SCHEMA_VIOLATION);
    CHECK(tdm_tar(tdm_with(tdm_tariff, "[0.28, 0.28, 0.28, 0.28, 0.2, 0.2]", "[0.28, 0.2]"),
                  &t,
                  &err) == DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "EXPORT_PRICE must have one value or as many as PRICE (6)");
    CHECK(tdm_tar(tdm_with(tdm_tariff,
                           "[0.3, 0.3, 0.3, 0.3, 0.3, 0.3]",
                           "[0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]"),
                  &t,
                  &err) == DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "cannot be split evenly");
    CHECK(tdm_tar(tdm_with(tdm_tariff, "'currency': 'CNY'", "'currency': 'USD'"), &t, &err) ==
          DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "payloadDescriptors[0].currency: \"USD\"");
    CHECK(tdm_tar(tdm_with(tdm_tariff, "'validUntil': '2026-07-02T00:00:00+08:00', ", ""),
                  &t,
                  &err) == DISPATCH_SCHEMA_VIOLATION);
    CHECK(strcmp(err.id, "tariff-20260701") == 0);
    /* prices out of range */
    CHECK(tdm_tar(tdm_with(tdm_tariff, "1.1, 1.1, 1.1, 1.1", "1.1, 101, 1.1, 1.1"), &t, &err) ==
          DISPATCH_OUT_OF_RANGE);
    CHECK_STR_CONTAINS(err.message,
                       "intervals[3].payloads[0].values[1]: 101: must be in [-10, "
                       "100] CNY/kWh");
    CHECK(tdm_tar(tdm_with(tdm_tariff, "0.2, 0.2]", "0.2, -10.5]"), &t, &err) ==
          DISPATCH_OUT_OF_RANGE);
    CHECK_STR_CONTAINS(err.message, "intervals[3].payloads[1].values[5]: -10.5");
    CHECK(tdm_tar(tdm_with(tdm_tariff, "0.2, 0.2]", "0.2, -0.05]"), &t, &err) == DISPATCH_OK);
    /* expired: validUntil <= now */
    {
        int64_t keep = tdm_now;

        tdm_now = tdm_t(24, 0);
        CHECK(tdm_tar(tdm_tariff, &t, &err) == DISPATCH_EXPIRED);
        CHECK(t.n_prices == 24);
        CHECK_STR_CONTAINS(err.message, "validUntil: 2026-07-02T00:00:00+08:00 is not after now");
        tdm_now = keep;
    }
    /* 384 prices at most: 4 days of quarter hours pass, a fifth day does not */
    CHECK(tdm_tar(tdm_big_tariff(4), &t, &err) == DISPATCH_OK && t.n_prices == 384);
    CHECK(t.price[383].start_ms == clock_from_local(2026, 7, 4, 23, 45, 0));
    CHECK(t.price[383].end_ms == t.valid_until_ms);
    CHECK(tdm_tar(tdm_big_tariff(5), &t, &err) == DISPATCH_OUT_OF_RANGE);
    CHECK_STR_CONTAINS(err.message, "intervals[4]: more than 384 prices");
}

static void test_forecast(void)
{
    static struct dispatch_forecast f;
    struct dispatch_error err;
    const char *road;

    CHECK(tdm_fc(tdm_forecast, DISPATCH_FORECAST_VISITOR_FLOW, &f, &err) == DISPATCH_OK);
    CHECK(strcmp(f.id, "vf-20260701") == 0 && f.kind == 0 && f.n == 5);
    CHECK(f.interval[0].start_ms == tdm_t(8, 0) && f.interval[0].end_ms == tdm_t(9, 0));
    CHECK(f.interval[3].start_ms == tdm_t(11, 0) && f.interval[4].start_ms == tdm_t(12, 0));
    CHECK(f.interval[4].end_ms == tdm_t(16, 0));
    CHECK_NEAR(f.interval[3].value_kw, 800, 0);
    /* the topic decides the type */
    CHECK(tdm_fc(tdm_forecast, DISPATCH_FORECAST_ROAD_CONGESTION, &f, &err) ==
          DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "intervals[0].payloads: must hold exactly one ROAD_CONGESTION");
    CHECK(f.n == 0);
    road = tdm_with(tdm_with(tdm_with(tdm_forecast, "VISITOR_FLOW", "ROAD_CONGESTION"),
                             "VISITOR_FLOW",
                             "ROAD_CONGESTION"),
                    "[120, 340, 610, 800]",
                    "[0.1, 0.35, 0.8, 1]");
    CHECK(tdm_fc(tdm_with(road, "[450]", "[0.4]"), 1, &f, &err) == DISPATCH_OK);
    CHECK(f.kind == DISPATCH_FORECAST_ROAD_CONGESTION && f.n == 5);
    CHECK(tdm_fc(road, 1, &f, &err) == DISPATCH_OUT_OF_RANGE);
    CHECK_STR_CONTAINS(err.message, "intervals[1].payloads[0].values[0]: 450: must be in [0, 1]");
    CHECK(tdm_fc(tdm_with(tdm_forecast, "800", "2e6"), 0, &f, &err) == DISPATCH_OUT_OF_RANGE);
    CHECK(tdm_fc(tdm_with(tdm_forecast, "800", "-1"), 0, &f, &err) == DISPATCH_OUT_OF_RANGE);
    CHECK(tdm_fc(tdm_with(tdm_forecast, "'PT4H'", "'PT1H'"), 0, &f, &err) == DISPATCH_OK);
    CHECK(f.interval[3].end_ms - f.interval[3].start_ms == 15 * 60000);
    CHECK(tdm_fc(tdm_with(tdm_forecast, "'PT4H'", "'PT1.001S'"), 0, &f, &err) ==
          DISPATCH_SCHEMA_VIOLATION);
    CHECK(tdm_fc(tdm_with(tdm_forecast, "'2026-07-01T08:00:00+08:00'", "'0001-01-01'"),
                 0,
                 &f,
                 &err) == DISPATCH_SCHEMA_VIOLATION); /* no "now" without a clock */
    CHECK(tdm_fc(tdm_with(tdm_forecast, "'intervals'", "'unit': 'h', 'intervals'"), 0, &f, &err) ==
          DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "unit: unknown key");
    CHECK(strcmp(err.id, "vf-20260701") == 0);
    CHECK(
        tdm_fc(tdm_with(tdm_forecast, "'intervals': [", "'intervals': [], 'x': ["), 0, &f, &err) ==
        DISPATCH_SCHEMA_VIOLATION);
    CHECK(tdm_fc("{}", 0, &f, &err) == DISPATCH_SCHEMA_VIOLATION);
    CHECK(dispatch_parse_forecast("{", 1, 0, &f, &err) == DISPATCH_INVALID_PAYLOAD);
    CHECK(tdm_fc(tdm_forecast, 2, &f, &err) == DISPATCH_INTERNAL);
    /* more than 96 points */
    CHECK(tdm_fc(tdm_with(tdm_forecast,
                          "[450]",
                          "[450, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, "
                          "14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, "
                          "26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, "
                          "38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, "
                          "50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, "
                          "62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, "
                          "74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, "
                          "86, 87, 88, 89, 90, 91, 92, 93, 94, 95]"),
                 0,
                 &f,
                 &err) == DISPATCH_OUT_OF_RANGE);
    CHECK_STR_CONTAINS(err.message, "more than 96 values");
}

/* ---- builders --------------------------------------------------------------- */

static cJSON *tdm_parse(char *text)
{
    cJSON *o = cJSON_Parse(text);

    CHECK(o != NULL && cJSON_IsObject(o));
    free(text);
    return o;
}

static const cJSON *tdm_get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static int tdm_str_is(const cJSON *o, const char *key, const char *want)
{
    const cJSON *v = tdm_get(o, key);

    return cJSON_IsString(v) && strcmp(v->valuestring, want) == 0;
}

static double tdm_num(const cJSON *o, const char *key)
{
    const cJSON *v = tdm_get(o, key);

    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* The first value of the payload of type in an OpenADR-style interval. */
static const cJSON *tdm_payload(const cJSON *interval, const char *type)
{
    const cJSON *p;

    cJSON_ArrayForEach(p, tdm_get(interval, "payloads"))
    {
        if (tdm_str_is(p, "type", type)) {
            return cJSON_GetArrayItem(tdm_get(p, "values"), 0);
        }
    }
    return NULL;
}

static double tdm_pnum(const cJSON *interval, const char *type)
{
    const cJSON *v = tdm_payload(interval, type);

    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static char *tdm_sample_ack(void)
{
    return dispatch_ack_json("evt-1", "accepted", DISPATCH_OK, "will cap at 250 kW", 250, tdm_now);
}

static int tdm_decl(const char *sq, struct dispatch_declaration *x, struct dispatch_error *e)
{
    const char *j = tdm_q(sq);

    return dispatch_parse_declaration(j, strlen(j), tdm_now, x, e);
}

/* session/declare: both fields, either one, neither; ranges; a departure
 * past or too far; unknown keys; the connector's spelling. */
static void test_declaration(void)
{
    const char *ok = "{'id': 'd-1', 'connector': 'DC1-A', 'issued': '2026-07-01T07:58:00+08:00',"
                     " 'departure': '2026-07-01T09:10:00+08:00', 'energy_kwh': 35}";
    struct dispatch_declaration x;
    struct dispatch_error err;

    CHECK(tdm_decl(ok, &x, &err) == DISPATCH_OK);
    CHECK(strcmp(x.id, "d-1") == 0 && strcmp(x.connector, "DC1-A") == 0);
    CHECK(x.departure_ms == tdm_now + 70 * 60000 && x.issued_ms == tdm_now - 2 * 60000);
    CHECK_NEAR(x.energy_kwh, 35, 0);
    CHECK(tdm_decl(tdm_with(ok, ", 'energy_kwh': 35", ""), &x, &err) == DISPATCH_OK);
    CHECK(isnan(x.energy_kwh) && x.departure_ms > 0);
    CHECK(tdm_decl(tdm_with(ok, " 'departure': '2026-07-01T09:10:00+08:00',", ""), &x, &err) ==
          DISPATCH_OK);
    CHECK(x.departure_ms == 0 && x.energy_kwh == 35);

    CHECK(tdm_decl(tdm_with(tdm_with(ok, ", 'energy_kwh': 35", ""),
                            ", 'departure': '2026-07-01T09:10:00+08:00'",
                            ""),
                   &x,
                   &err) == DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "neither departure nor energy_kwh");
    CHECK(strcmp(err.id, "d-1") == 0 && x.id[0] == '\0');
    CHECK(tdm_decl(tdm_with(ok, "35}", "0}"), &x, &err) == DISPATCH_OUT_OF_RANGE);
    CHECK_STR_CONTAINS(err.message, "energy_kwh: 0: must be in (0, 200] kWh");
    CHECK(tdm_decl(tdm_with(ok, "35}", "250.5}"), &x, &err) == DISPATCH_OUT_OF_RANGE);
    CHECK_STR_CONTAINS(err.message, "energy_kwh: 250.5");
    CHECK(tdm_decl(tdm_with(ok, "35}", "'35'}"), &x, &err) == DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "energy_kwh");
    CHECK(tdm_decl(tdm_with(ok, "09:10:00", "07:59:00"), &x, &err) == DISPATCH_EXPIRED);
    CHECK_STR_CONTAINS(err.message, "departure: 2026-07-01T07:59:00+08:00 is not after now");
    CHECK(x.departure_ms == tdm_now - 60000); /* complete, for the log */
    CHECK(tdm_decl(tdm_with(ok, "2026-07-01T09:10", "2026-07-09T09:10"), &x, &err) ==
          DISPATCH_OUT_OF_RANGE);
    CHECK_STR_CONTAINS(err.message, "departure: more than 168 h ahead");
    CHECK(tdm_decl(tdm_with(ok, "'DC1-A'", "''"), &x, &err) == DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "connector");
    CHECK(tdm_decl(tdm_with(ok, "'connector': 'DC1-A', ", ""), &x, &err) ==
          DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "connector");
    CHECK(tdm_decl(tdm_with(ok, "'energy_kwh'", "'soc'"), &x, &err) == DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "soc: unknown key");
    CHECK(tdm_decl(tdm_with(ok, "'issued': '2026-07-01T07:58:00+08:00',", ""), &x, &err) ==
          DISPATCH_SCHEMA_VIOLATION);
    CHECK_STR_CONTAINS(err.message, "issued");
}

static void test_ack(void)
{
    cJSON *o = tdm_parse(tdm_sample_ack());

    CHECK(tdm_str_is(o, "id", "evt-1") && tdm_str_is(o, "status", "accepted"));
    CHECK(tdm_str_is(o, "code", "OK") && tdm_str_is(o, "message", "will cap at 250 kW"));
    CHECK(tdm_num(o, "committed_kw") == 250);
    CHECK(tdm_str_is(o, "ts", "2026-07-01T08:00:00+08:00"));
    cJSON_Delete(o);
    o = tdm_parse(dispatch_ack_json(NULL, "rejected", DISPATCH_INVALID_PAYLOAD, NULL, NAN, 0));
    CHECK(cJSON_IsNull(tdm_get(o, "id")) && tdm_str_is(o, "code", "INVALID_PAYLOAD"));
    CHECK(!tdm_get(o, "message") && !tdm_get(o, "committed_kw"));
    CHECK(tdm_str_is(o, "ts", "1970-01-01T08:00:00+08:00"));
    cJSON_Delete(o);
    o = tdm_parse(dispatch_ack_json("",
                                    "rejected",
                                    DISPATCH_SCHEMA_VIOLATION,
                                    "x: \"a\\b\"\n\t\xe6\x97\xa5",
                                    -0.0000001,
                                    tdm_now));
    CHECK(cJSON_IsNull(tdm_get(o, "id")));
    CHECK(tdm_str_is(o, "message", "x: \"a\\b\"\n\t\xe6\x97\xa5"));
    CHECK(tdm_num(o, "committed_kw") == 0 && !signbit(tdm_num(o, "committed_kw")));
    cJSON_Delete(o);
}

static char *tdm_sample_capacity(int gap)
{
    struct dispatch_capacity_step s[3] = {
        {tdm_t(9, 0), -120, 400, 150, 0.62},
        {tdm_t(9, 15), -100, 380, 90.5, 0.61},
        {tdm_t(9, 30), 20, 300, 20, NAN},
    };
    struct dispatch_window w = {tdm_t(9, 0), 60, 130, 210};

    s[2].start_ms += gap ? 3600000 : 0;
    return dispatch_capacity_json(tdm_now, s, 3, 15, &w, 1);
}

static void test_capacity(void)
{
    cJSON *o = tdm_parse(tdm_sample_capacity(1));
    const cJSON *ivs = tdm_get(o, "intervals");
    const cJSON *i0 = cJSON_GetArrayItem(ivs, 0);
    const cJSON *i2 = cJSON_GetArrayItem(ivs, 2);
    const cJSON *w0 = cJSON_GetArrayItem(tdm_get(o, "windows"), 0);

    CHECK(tdm_str_is(o, "createdDateTime", "2026-07-01T08:00:00+08:00"));
    CHECK(tdm_str_is(o, "validUntil", "2026-07-01T10:45:00+08:00"));
    CHECK(tdm_str_is(tdm_get(o, "intervalPeriod"), "start", "2026-07-01T09:00:00+08:00"));
    CHECK(tdm_str_is(tdm_get(o, "intervalPeriod"), "duration", "PT15M"));
    CHECK(cJSON_GetArraySize(tdm_get(o, "payloadDescriptors")) == 6);
    CHECK(cJSON_GetArraySize(ivs) == 3 && tdm_num(i0, "id") == 0);
    CHECK(!tdm_get(i0, "intervalPeriod") && !tdm_get(cJSON_GetArrayItem(ivs, 1), "intervalPeriod"));
    CHECK(tdm_str_is(tdm_get(i2, "intervalPeriod"), "start", "2026-07-01T10:30:00+08:00"));
    CHECK(tdm_pnum(i0, "USAGE_FORECAST") == 150);
    CHECK(tdm_pnum(i0, "IMPORT_CAPACITY_AVAILABLE") == 400);
    CHECK(tdm_pnum(i0, "EXPORT_CAPACITY_AVAILABLE") == 120); /* net min -120: export 120 */
    CHECK(tdm_pnum(i0, "LOAD_SHED_DELTA_AVAILABLE") == 270);
    CHECK(tdm_pnum(i0, "LOAD_INCREASE_DELTA_AVAILABLE") == 250);
    CHECK_NEAR(tdm_pnum(i0, "MARGINAL_PRICE"), 0.62, 1e-12);
    CHECK(tdm_pnum(i2, "EXPORT_CAPACITY_AVAILABLE") == -20); /* must import at least 20 */
    CHECK(tdm_pnum(i2, "LOAD_SHED_DELTA_AVAILABLE") == 0);
    CHECK(cJSON_IsNull(tdm_payload(i2, "MARGINAL_PRICE")));
    CHECK(tdm_str_is(tdm_get(w0, "intervalPeriod"), "duration", "PT1H"));
    CHECK(tdm_pnum(w0, "LOAD_SHED_DELTA_AVAILABLE") == 130);
    CHECK(tdm_pnum(w0, "LOAD_INCREASE_DELTA_AVAILABLE") == 210);
    cJSON_Delete(o);
    o = tdm_parse(dispatch_capacity_json(tdm_now, NULL, 0, 15, NULL, 0));
    CHECK(tdm_str_is(o, "validUntil", "2026-07-01T08:00:00+08:00"));
    CHECK(cJSON_GetArraySize(tdm_get(o, "intervals")) == 0);
    CHECK(cJSON_GetArraySize(tdm_get(o, "windows")) == 0);
    cJSON_Delete(o);
}

static char *tdm_sample_performance(void)
{
    struct dispatch_perf_step s[3] = {
        {tdm_t(18, 0), 420, 290, 300},
        {tdm_t(18, 15), 430, 301.25, 300},
        {tdm_t(18, 30), 425, NAN, 300},
    };

    return dispatch_performance_json("evt-20260701-01", 0, s, 3, 63.4, 65, 0.975);
}

static void test_performance(void)
{
    cJSON *o = tdm_parse(tdm_sample_performance());
    const cJSON *ivs = tdm_get(o, "intervals");
    struct dispatch_perf_step one = {tdm_t(18, 0), 1, 2, 3};

    CHECK(tdm_str_is(o, "eventID", "evt-20260701-01") && cJSON_IsFalse(tdm_get(o, "final")));
    CHECK_NEAR(tdm_num(o, "deliveredKwh"), 63.4, 1e-9);
    CHECK(tdm_num(o, "requiredKwh") == 65 && tdm_num(o, "compliance") == 0.975);
    CHECK(tdm_str_is(tdm_get(o, "intervalPeriod"), "duration", "PT15M"));
    CHECK(cJSON_GetArraySize(ivs) == 3);
    CHECK(tdm_pnum(cJSON_GetArrayItem(ivs, 1), "USAGE") == 301.25);
    CHECK(tdm_pnum(cJSON_GetArrayItem(ivs, 1), "BASELINE") == 430);
    CHECK(tdm_pnum(cJSON_GetArrayItem(ivs, 1), "SETPOINT") == 300);
    CHECK(cJSON_IsNull(tdm_payload(cJSON_GetArrayItem(ivs, 2), "USAGE")));
    cJSON_Delete(o);
    o = tdm_parse(dispatch_performance_json("e", 1, &one, 1, 1, 2, NAN));
    CHECK(cJSON_IsTrue(tdm_get(o, "final")) && cJSON_IsNull(tdm_get(o, "compliance")));
    CHECK(!tdm_get(tdm_get(o, "intervalPeriod"), "duration"));
    cJSON_Delete(o);
}

static const struct dispatch_connector tdm_conns[2] = {
    {"c1", DISPATCH_CONN_CHARGING, 58.2, 60, 120, 12.5, 0.41, 1782861000000},
    {"c2", DISPATCH_CONN_AVAILABLE, 0, NAN, 120, NAN, NAN, 0},
};

static const struct dispatch_flows tdm_flows =
    {182.4, 95.1, INFINITY, -30, 0.55, 260, 47.5, 400, 0};

static const struct dispatch_parking tdm_parking = {120, 87, 12, 9, 4, -1, 310, 241};

static char *tdm_sample_snapshot(void)
{
    struct dispatch_snapshot s = {DISPATCH_MODE_PLAN,
                                  "evt-20260701-01",
                                  NULL,
                                  14,
                                  14,
                                  1,
                                  tdm_flows,
                                  tdm_parking,
                                  tdm_conns,
                                  2};

    return dispatch_snapshot_json(tdm_now, &s);
}

static struct dispatch_daily tdm_daily(void)
{
    struct dispatch_daily d = {"2026-07-01",
                               1840.5,
                               62,
                               1104.3,
                               736.2,
                               1320,
                               1250.4,
                               41.2,
                               610,
                               2210,
                               35,
                               1180.7,
                               398.2,
                               1,
                               63.4,
                               0.975};

    return d;
}

static void test_live(void)
{
    cJSON *o = tdm_parse(dispatch_connectors_json(tdm_now, tdm_conns, 2));
    const cJSON *c0 = cJSON_GetArrayItem(tdm_get(o, "connectors"), 0);
    const cJSON *c1 = cJSON_GetArrayItem(tdm_get(o, "connectors"), 1);
    struct dispatch_snapshot s;
    struct dispatch_daily d = tdm_daily();

    CHECK(tdm_str_is(o, "ts", "2026-07-01T08:00:00+08:00"));
    CHECK(tdm_str_is(c0, "id", "c1") && tdm_str_is(c0, "state", "Charging"));
    CHECK(tdm_num(c0, "power_kw") == 58.2 && tdm_num(c0, "limit_kw") == 60);
    CHECK(tdm_num(c0, "session_kwh") == 12.5 && tdm_num(c0, "soc") == 0.41);
    CHECK(tdm_str_is(c0, "session_start", "2026-07-01T07:10:00+08:00"));
    CHECK(tdm_str_is(c1, "state", "Available") && cJSON_IsNull(tdm_get(c1, "limit_kw")));
    CHECK(cJSON_IsNull(tdm_get(c1, "session_start")) && cJSON_IsNull(tdm_get(c1, "soc")));
    cJSON_Delete(o);
    CHECK(strcmp(dispatch_connector_state_name(DISPATCH_CONN_SUSPENDED_EVSE), "SuspendedEVSE") ==
          0);
    CHECK(strcmp(dispatch_connector_state_name((enum dispatch_connector_state)42), "Unknown") == 0);

    o = tdm_parse(dispatch_flows_json(tdm_now, &tdm_flows));
    CHECK(tdm_num(o, "grid_kw") == 182.4 && tdm_num(o, "battery_kw") == -30);
    CHECK(cJSON_IsNull(tdm_get(o, "pv_limit_kw")) && tdm_num(o, "import_max_kw") == 400);
    cJSON_Delete(o);
    o = tdm_parse(dispatch_parking_json(tdm_now, &tdm_parking));
    CHECK(tdm_num(o, "occupied") == 87 && cJSON_IsNull(tdm_get(o, "accessible_occupied")));
    CHECK(tdm_num(o, "exits_today") == 241);
    cJSON_Delete(o);

    o = tdm_parse(tdm_sample_snapshot());
    CHECK(tdm_str_is(o, "mode", "plan") && tdm_str_is(o, "dr_event_id", "evt-20260701-01"));
    CHECK(cJSON_IsNull(tdm_get(o, "command_id")) && tdm_num(o, "devices_online") == 14);
    CHECK(tdm_num(tdm_get(o, "flows"), "ev_kw") == 260);
    CHECK(tdm_num(tdm_get(o, "parking"), "ev_occupied") == 9);
    CHECK(cJSON_GetArraySize(tdm_get(o, "connectors")) == 2);
    cJSON_Delete(o);
    memset(&s, 0, sizeof(s));
    s.mode = (enum dispatch_mode)9;
    o = tdm_parse(dispatch_snapshot_json(tdm_now, &s));
    CHECK(tdm_str_is(o, "mode", "failsafe") && cJSON_GetArraySize(tdm_get(o, "connectors")) == 0);
    cJSON_Delete(o);

    o = tdm_parse(dispatch_daily_json(tdm_now, &d));
    CHECK(tdm_str_is(o, "date", "2026-07-01") && tdm_num(o, "sessions") == 62);
    CHECK(tdm_num(o, "energy_charged_kwh") == 1840.5 && tdm_num(o, "peak_kw") == 398.2);
    CHECK(tdm_num(o, "dr_events") == 1 && tdm_num(o, "dr_compliance") == 0.975);
    cJSON_Delete(o);
    d.dr_events = 0;
    d.dr_compliance = NAN;
    memcpy(d.date, "2026-07-0123", sizeof(d.date)); /* not terminated: cut at 10 */
    o = tdm_parse(dispatch_daily_json(tdm_now, &d));
    CHECK(tdm_str_is(o, "date", "2026-07-01") && cJSON_IsNull(tdm_get(o, "dr_compliance")));
    cJSON_Delete(o);

    o = tdm_parse(dispatch_status_json(1, tdm_now, "0.1.0"));
    CHECK(tdm_str_is(o, "state", "online") && tdm_str_is(o, "version", "0.1.0"));
    cJSON_Delete(o);
    o = tdm_parse(dispatch_status_json(0, tdm_now, NULL));
    CHECK(tdm_str_is(o, "state", "offline") && !tdm_get(o, "version"));
    cJSON_Delete(o);
}

/* ---- docs ------------------------------------------------------------------- */

static const char *tdm_source_dir(void)
{
    const char *d = getenv("FLEXD_SOURCE_DIR");

    return d && *d ? d : FLEXD_SOURCE_DIR;
}

static const char *const tdm_schemas[] = {
    "dr-event.json",
    "command.json",
    "tariff.json",
    "forecast-visitor-flow.json",
    "forecast-road-congestion.json",
    "session-declare.json",
    "ack.json",
    "capacity.json",
    "live-connectors.json",
    "live-flows.json",
    "live-parking.json",
    "live-snapshot.json",
    "dr-performance.json",
    "report-daily.json",
    "status.json",
};

#define TDM_NSCHEMAS ((int)(sizeof(tdm_schemas) / sizeof(tdm_schemas[0])))

static void test_schemas(void)
{
    char *dir = alloc_printf("%s/docs/schemas", tdm_source_dir());
    DIR *d = opendir(dir);
    int found[TDM_NSCHEMAS] = {0};
    int n = 0;
    struct dirent *e;

    CHECK(d != NULL);
    while (d && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        struct error_detail ed;
        char *path;
        char *text = NULL;
        cJSON *o;

        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) {
            continue;
        }
        n++;
        path = alloc_printf("%s/%s", dir, e->d_name);
        CHECK(fileio_read_all(path, 1 << 20, &text, &len, &ed) == 0);
        o = text ? cJSON_ParseWithLength(text, len) : NULL;
        if (!cJSON_IsObject(o) ||
            !tdm_str_is(o, "$schema", "https://json-schema.org/draft/2020-12/schema") ||
            !cJSON_IsString(tdm_get(o, "title")) || !tdm_get(o, "title")->valuestring[0]) {
            fprintf(stderr, "%s: not JSON, or no 2020-12 $schema, or no title\n", path);
            CHECK(0);
        }
        for (int i = 0; i < TDM_NSCHEMAS; i++) {
            found[i] |= strcmp(e->d_name, tdm_schemas[i]) == 0;
        }
        cJSON_Delete(o);
        free(text);
        free(path);
    }
    if (d) {
        closedir(d);
    }
    for (int i = 0; i < TDM_NSCHEMAS; i++) {
        if (!found[i]) {
            fprintf(stderr, "docs/schemas/%s: missing\n", tdm_schemas[i]);
        }
        CHECK(found[i]);
    }
    CHECK(n == TDM_NSCHEMAS);
    free(dir);
}

/* The keys of the example a are keys the builder writes (b), recursively
 * (arrays compared by their first element); with strict, also the other
 * way round. Mismatches are printed unless quiet. */
static int tdm_same_shape(const cJSON *a, const cJSON *b, const char *path, int strict, int quiet)
{
    const cJSON *c;
    int ok = 1;

    if (cJSON_IsArray(a) && cJSON_IsArray(b) && a->child && b->child) {
        return tdm_same_shape(a->child, b->child, path, strict, quiet);
    }
    if (!cJSON_IsObject(a) || !cJSON_IsObject(b)) {
        return 1;
    }
    cJSON_ArrayForEach(c, a)
    {
        char *sub = alloc_printf("%s.%s", path, c->string);

        if (!tdm_get(b, c->string)) {
            if (!quiet) {
                fprintf(stderr, "docs/mqtt.md: %s: the builder does not write it\n", sub);
            }
            ok = 0;
        } else {
            ok &= tdm_same_shape(c, tdm_get(b, c->string), sub, strict, quiet);
        }
        free(sub);
    }
    cJSON_ArrayForEach(c, b)
    {
        if (strict && !tdm_get(a, c->string)) {
            if (!quiet) {
                fprintf(stderr, "docs/mqtt.md: %s.%s: in no example\n", path, c->string);
            }
            ok = 0;
        }
    }
    return ok;
}

/* The builder's output for an outbound topic, NULL for an inbound one. */
static char *tdm_sample(const char *topic)
{
    struct dispatch_daily d = tdm_daily();

    if (strcmp(topic, DISPATCH_TOPIC_ACK) == 0) {
        return tdm_sample_ack();
    } else if (strcmp(topic, DISPATCH_TOPIC_CAPACITY) == 0) {
        return tdm_sample_capacity(0);
    } else if (strcmp(topic, DISPATCH_TOPIC_LIVE_CONNECTORS) == 0) {
        return dispatch_connectors_json(tdm_now, tdm_conns, 2);
    } else if (strcmp(topic, DISPATCH_TOPIC_LIVE_FLOWS) == 0) {
        return dispatch_flows_json(tdm_now, &tdm_flows);
    } else if (strcmp(topic, DISPATCH_TOPIC_LIVE_PARKING) == 0) {
        return dispatch_parking_json(tdm_now, &tdm_parking);
    } else if (strcmp(topic, DISPATCH_TOPIC_LIVE_SNAPSHOT) == 0) {
        return tdm_sample_snapshot();
    } else if (strcmp(topic, DISPATCH_TOPIC_DR_PERFORMANCE) == 0) {
        return tdm_sample_performance();
    } else if (strcmp(topic, DISPATCH_TOPIC_REPORT_DAILY) == 0) {
        return dispatch_daily_json(tdm_now, &d);
    } else if (strcmp(topic, DISPATCH_TOPIC_STATUS) == 0) {
        return dispatch_status_json(1, tdm_now, "0.1.0");
    }
    return NULL;
}

/* Check one example of docs/mqtt.md; 1 when it passes. *exact: an
 * outbound example that shows every key the builder writes. */
static int tdm_example(const char *topic, const char *json, size_t len, int *exact)
{
    static struct dispatch_event ev;
    static struct dispatch_tariff tariff;
    static struct dispatch_forecast fc;
    struct dispatch_command cmd;
    struct dispatch_declaration decl;
    struct dispatch_error err = {0};
    char *sample = tdm_sample(topic);
    int rc = -1;

    if (strcmp(topic, DISPATCH_TOPIC_DR_EVENT) == 0) {
        rc = dispatch_parse_event(json, len, tdm_now, &ev, &err);
    } else if (strcmp(topic, DISPATCH_TOPIC_COMMAND) == 0) {
        rc = dispatch_parse_command(json, len, 0, tdm_now, &cmd, &err);
    } else if (strcmp(topic, DISPATCH_TOPIC_TARIFF) == 0) {
        rc = dispatch_parse_tariff(json, len, tdm_now, &tariff, &err);
    } else if (strcmp(topic, DISPATCH_TOPIC_VISITOR_FLOW) == 0) {
        rc = dispatch_parse_forecast(json, len, DISPATCH_FORECAST_VISITOR_FLOW, &fc, &err);
    } else if (strcmp(topic, DISPATCH_TOPIC_ROAD_CONGESTION) == 0) {
        rc = dispatch_parse_forecast(json, len, DISPATCH_FORECAST_ROAD_CONGESTION, &fc, &err);
    } else if (strcmp(topic, DISPATCH_TOPIC_DECLARE) == 0) {
        rc = dispatch_parse_declaration(json, len, tdm_now, &decl, &err);
    } else if (sample) {
        cJSON *doc = cJSON_ParseWithLength(json, len);
        cJSON *built = cJSON_Parse(sample);

        rc = doc && built && tdm_same_shape(doc, built, topic, 0, 0) ? 0 : 1;
        *exact |= rc == 0 && tdm_same_shape(doc, built, topic, 1, 1);
        cJSON_Delete(doc);
        cJSON_Delete(built);
    }
    if (rc != 0) {
        fprintf(stderr,
                "docs/mqtt.md: example for %s: %s %s\n",
                topic,
                rc < 0 ? "unknown topic" : dispatch_code_name(err.code),
                err.message);
    }
    free(sample);
    return rc == 0;
}

static void test_docs(void)
{
    static const char *const topics[] = {
        DISPATCH_TOPIC_DR_EVENT,
        DISPATCH_TOPIC_COMMAND,
        DISPATCH_TOPIC_TARIFF,
        DISPATCH_TOPIC_VISITOR_FLOW,
        DISPATCH_TOPIC_ROAD_CONGESTION,
        DISPATCH_TOPIC_DECLARE,
        DISPATCH_TOPIC_ACK,
        DISPATCH_TOPIC_CAPACITY,
        DISPATCH_TOPIC_LIVE_CONNECTORS,
        DISPATCH_TOPIC_LIVE_FLOWS,
        DISPATCH_TOPIC_LIVE_PARKING,
        DISPATCH_TOPIC_LIVE_SNAPSHOT,
        DISPATCH_TOPIC_DR_PERFORMANCE,
        DISPATCH_TOPIC_REPORT_DAILY,
        DISPATCH_TOPIC_STATUS,
    };
    int seen[sizeof(topics) / sizeof(topics[0])] = {0};
    int exact[sizeof(topics) / sizeof(topics[0])] = {0};
    char *path = alloc_printf("%s/docs/mqtt.md", tdm_source_dir());
    struct error_detail ed;
    char *md = NULL;
    size_t len = 0;
    const char *p;
    int known;
    int n = 0;

    CHECK(fileio_read_all(path, 1 << 20, &md, &len, &ed) == 0);
    for (p = md ? strstr(md, "<!-- example ") : NULL; p; p = strstr(p, "<!-- example ")) {
        const char *topic = p + strlen("<!-- example ");
        const char *end = strstr(topic, " -->");
        const char *json = end ? strstr(end, "```json\n") : NULL;
        const char *close = json ? strstr(json + 8, "\n```") : NULL;
        char name[64];

        CHECK(end && close && end - topic < (long)sizeof(name));
        if (!end || !close || end - topic >= (long)sizeof(name)) {
            break;
        }
        (void)snprintf(name, sizeof(name), "%.*s", (int)(end - topic), topic);
        known = 0;
        for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
            if (strcmp(name, topics[i]) == 0) {
                known = seen[i] = 1;
                CHECK(tdm_example(name, json + 8, (size_t)(close - json - 8), &exact[i]));
            }
        }
        if (!known) {
            fprintf(stderr, "docs/mqtt.md: an example for an unknown topic \"%s\"\n", name);
        }
        CHECK(known);
        n++;
        p = close;
    }
    for (size_t i = 6; i < sizeof(topics) / sizeof(topics[0]); i++) {
        char *sample = tdm_sample(topics[i]);

        if (!exact[i]) {
            fprintf(stderr, "docs/mqtt.md: %s: no example shows every key\n", topics[i]);
        }
        CHECK(exact[i] && sample); /* topics[6..] are the outbound ones */
        free(sample);
    }
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        char *row = alloc_printf("`%s`", topics[i]);

        if (!seen[i] || !md || !strstr(md, row)) {
            fprintf(stderr, "docs/mqtt.md: topic %s: no example or not in the table\n", topics[i]);
        }
        CHECK(seen[i] && md && strstr(md, row));
        free(row);
    }
    CHECK(n >= (int)(sizeof(topics) / sizeof(topics[0])));
    free(md);
    free(path);
}

int main(void)
{
    tdm_now = clock_from_local(2026, 7, 1, 8, 0, 0);
    test_codes();
    test_bytes_all();
    test_event_valid();
    test_declaration();
    test_event_cancel();
    test_event_bytes();
    test_event_schema();
    test_event_range();
    test_event_expired();
    test_command();
    test_tariff();
    test_forecast();
    test_ack();
    test_capacity();
    test_performance();
    test_live();
    test_schemas();
    test_docs();
    for (int i = 0; i < TDM_SLOTS; i++) {
        free(tdm_slot[i]);
    }
    return CHECK_DONE();
}
