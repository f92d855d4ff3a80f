/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dispatch_msg.c - libFuzzer target for the MQTT payload parsers
 * (io/dispatch_msg.h). The first byte picks the parser (its value mod 8:
 * '0' DR event, '1' command, '2' retained command, '3' tariff, '4' visitor
 * flow, '5' road congestion, '6' the ack builder with the rest as id and
 * message, '7' every parser; 'd', before the mod, a driver's declaration);
 * the rest is the payload, handed over without
 * a terminating NUL so that a read past its end shows under ASan. Any
 * byte string must give a documented code with a terminated, printable
 * ASCII message and a printable id, and an accepted message must keep every documented rule
 * (ranges, order, spans); never a crash, a leak or undefined behaviour.
 * Replayed over tests/fuzz/corpus/fuzz_dispatch_msg/ by ctest.
 */
#include "../../io/dispatch_msg.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 2026-07-01T08:00:00+08:00 */
#define FDM_NOW INT64_C(1782864000000)

static void fdm_require(int ok)
{
    if (!ok) {
        abort();
    }
}

/* The error contract shared by every parser. */
static void fdm_error(int rc, const struct dispatch_error *err)
{
    size_t n = strnlen(err->id, sizeof(err->id));

    fdm_require(rc == (int)err->code);
    fdm_require(memchr(err->message, '\0', sizeof(err->message)) != NULL);
    for (const char *c = err->message; *c; c++) {
        fdm_require(*c >= 0x20 && *c <= 0x7e); /* values are shown sanitised */
    }
    fdm_require(n < sizeof(err->id));
    for (size_t i = 0; i < n; i++) {
        fdm_require(err->id[i] >= 0x20 && err->id[i] <= 0x7e);
    }
    fdm_require((rc == DISPATCH_OK) == (err->message[0] == '\0'));
    fdm_require(rc == DISPATCH_OK || rc == DISPATCH_INVALID_PAYLOAD ||
                rc == DISPATCH_SCHEMA_VIOLATION || rc == DISPATCH_OUT_OF_RANGE ||
                rc == DISPATCH_EXPIRED || rc == DISPATCH_RETAINED_COMMAND);
}

static void fdm_intervals(const struct dispatch_interval *iv, int n, double hi)
{
    for (int i = 0; i < n; i++) {
        fdm_require(iv[i].start_ms < iv[i].end_ms);
        fdm_require(i == 0 || iv[i].start_ms >= iv[i - 1].end_ms);
        fdm_require(isfinite(iv[i].value_kw) && iv[i].value_kw >= 0 && iv[i].value_kw <= hi);
    }
}

static void fdm_event(const char *p, size_t n)
{
    static struct dispatch_event ev;
    struct dispatch_error err;
    int rc = dispatch_parse_event(p, n, FDM_NOW, &ev, &err);

    fdm_error(rc, &err);
    fdm_require(rc != DISPATCH_RETAINED_COMMAND);
    if (rc != DISPATCH_OK && rc != DISPATCH_EXPIRED) {
        fdm_require(ev.n_intervals == 0 && ev.id[0] == '\0');
        return;
    }
    fdm_require(ev.id[0] && strcmp(ev.id, err.id) == 0 && ev.program[0]);
    fdm_require(ev.modification >= 0 && ev.priority >= 0 && ev.notice_ms <= FDM_NOW);
    fdm_require(ev.n_intervals >= (ev.cancel ? 0 : 1));
    fdm_require(ev.n_intervals <= DISPATCH_INTERVALS_MAX);
    fdm_intervals(ev.interval, ev.n_intervals, DISPATCH_KW_MAX);
    if (ev.n_intervals > 0) {
        int64_t end = ev.interval[ev.n_intervals - 1].end_ms;

        fdm_require(end - ev.interval[0].start_ms <= DISPATCH_EVENT_SPAN_MS);
        fdm_require(rc == DISPATCH_EXPIRED || end > FDM_NOW);
    }
    fdm_require(rc == DISPATCH_EXPIRED || ev.expires_ms == 0 || ev.expires_ms > FDM_NOW);
}

static void fdm_command(const char *p, size_t n, int retained)
{
    struct dispatch_command c;
    struct dispatch_error err;
    int rc = dispatch_parse_command(p, n, retained, FDM_NOW, &c, &err);

    fdm_error(rc, &err);
    fdm_require(!retained || rc == DISPATCH_RETAINED_COMMAND);
    if (rc != DISPATCH_OK && rc != DISPATCH_EXPIRED) {
        fdm_require(c.id[0] == '\0');
        return;
    }
    fdm_require(c.expires_ms > c.issued_ms && (rc == DISPATCH_EXPIRED || c.expires_ms > FDM_NOW));
    fdm_require(c.duration_ms >= 0 && c.duration_ms <= DISPATCH_HOLD_MAX_MS);
    fdm_require(c.kind != DISPATCH_CMD_AUTO || c.duration_ms == 0);
    fdm_require(isfinite(c.value_kw) && fabs(c.value_kw) <= DISPATCH_KW_MAX);
    fdm_require(c.kind == DISPATCH_CMD_BATTERY_SETPOINT || c.value_kw >= 0);
}

static void fdm_tariff(const char *p, size_t n)
{
    static struct dispatch_tariff t;
    struct dispatch_error err;
    int rc = dispatch_parse_tariff(p, n, FDM_NOW, &t, &err);

    fdm_error(rc, &err);
    fdm_require(rc != DISPATCH_RETAINED_COMMAND);
    if (rc != DISPATCH_OK && rc != DISPATCH_EXPIRED) {
        fdm_require(t.n_prices == 0);
        return;
    }
    fdm_require(t.n_prices >= 1 && t.n_prices <= DISPATCH_PRICES_MAX);
    fdm_require(t.valid_until_ms - t.valid_from_ms <= DISPATCH_TARIFF_SPAN_MS);
    fdm_require(t.price[0].start_ms == t.valid_from_ms);
    fdm_require(t.price[t.n_prices - 1].end_ms == t.valid_until_ms);
    fdm_require(rc == DISPATCH_EXPIRED || t.valid_until_ms > FDM_NOW);
    for (int i = 0; i < t.n_prices; i++) {
        const struct dispatch_price *pr = &t.price[i];

        fdm_require(pr->start_ms < pr->end_ms);
        fdm_require(i == 0 || pr->start_ms == t.price[i - 1].end_ms);
        fdm_require(pr->buy_cny_per_kwh >= DISPATCH_PRICE_MIN);
        fdm_require(pr->buy_cny_per_kwh <= DISPATCH_PRICE_MAX);
        fdm_require(pr->sell_cny_per_kwh >= DISPATCH_PRICE_MIN);
        fdm_require(pr->sell_cny_per_kwh <= DISPATCH_PRICE_MAX);
    }
}

static void fdm_forecast(const char *p, size_t n, int kind)
{
    static struct dispatch_forecast f;
    struct dispatch_error err;
    int rc = dispatch_parse_forecast(p, n, kind, &f, &err);

    fdm_error(rc, &err);
    fdm_require(rc != DISPATCH_RETAINED_COMMAND && rc != DISPATCH_EXPIRED);
    if (rc != DISPATCH_OK) {
        fdm_require(f.n == 0);
        return;
    }
    fdm_require(f.kind == kind && f.n >= 1 && f.n <= DISPATCH_INTERVALS_MAX);
    fdm_intervals(f.interval, f.n, kind == 0 ? DISPATCH_VISITORS_MAX : 1.0);
}

static void fdm_declaration(const char *p, size_t n)
{
    struct dispatch_declaration x;
    struct dispatch_error err;
    int rc = dispatch_parse_declaration(p, n, FDM_NOW, &x, &err);

    fdm_error(rc, &err);
    fdm_require(rc != DISPATCH_RETAINED_COMMAND);
    if (rc != DISPATCH_OK && rc != DISPATCH_EXPIRED) {
        fdm_require(x.id[0] == '\0' && x.connector[0] == '\0');
        return;
    }
    fdm_require(x.id[0] && strcmp(x.id, err.id) == 0 && x.connector[0]);
    fdm_require(x.departure_ms != 0 || !isnan(x.energy_kwh));
    fdm_require(isnan(x.energy_kwh) ||
                (x.energy_kwh > 0 && x.energy_kwh <= DISPATCH_SESSION_KWH_MAX));
    fdm_require(x.departure_ms <= FDM_NOW + DISPATCH_DECLARE_AHEAD_MS);
    fdm_require(rc == DISPATCH_EXPIRED ? x.departure_ms <= FDM_NOW
                                       : x.departure_ms == 0 || x.departure_ms > FDM_NOW);
}

/* The ack builder must escape anything: it parses back to the same text. */
static void fdm_ack(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    char *json;
    cJSON *o;
    const cJSON *m;

    if (!s) {
        return;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    json = dispatch_ack_json(s, "rejected", DISPATCH_SCHEMA_VIOLATION, s, (double)n, FDM_NOW);
    o = cJSON_Parse(json);
    m = cJSON_GetObjectItemCaseSensitive(o, "message");
    fdm_require(cJSON_IsString(m) && strcmp(m->valuestring, s) == 0);
    cJSON_Delete(o);
    free(json);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = size > 0 ? size - 1 : 0;
    char *p;

    if (size < 1) {
        return 0;
    }
    p = malloc(n > 0 ? n : 1);
    if (!p) {
        return 0;
    }
    memcpy(p, data + 1, n);
    if (data[0] == 'd') {
        fdm_declaration(p, n);
        free(p);
        return 0;
    }
    switch (data[0] % 8) {
    case 0:
        fdm_event(p, n);
        break;
    case 1:
        fdm_command(p, n, 0);
        break;
    case 2:
        fdm_command(p, n, 1);
        break;
    case 3:
        fdm_tariff(p, n);
        break;
    case 4:
        fdm_forecast(p, n, DISPATCH_FORECAST_VISITOR_FLOW);
        break;
    case 5:
        fdm_forecast(p, n, DISPATCH_FORECAST_ROAD_CONGESTION);
        break;
    case 6:
        fdm_ack(p, n);
        break;
    default:
        fdm_event(p, n);
        fdm_command(p, n, 0);
        fdm_tariff(p, n);
        fdm_forecast(p, n, DISPATCH_FORECAST_VISITOR_FLOW);
        fdm_forecast(p, n, DISPATCH_FORECAST_ROAD_CONGESTION);
        fdm_declaration(p, n);
        break;
    }
    free(p);
    return 0;
}
