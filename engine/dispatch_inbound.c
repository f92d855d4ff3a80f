/* SPDX-License-Identifier: MIT */
/*
 * dispatch_inbound.c - the inbound messages that are not DR events
 * (docs/mqtt.md): immediate commands, platform tariffs, visitor-flow and
 * road-congestion forecasts, and drivers' session declarations. Each is
 * parsed (io/dispatch_msg.h), handed to live through its any-thread calls
 * and acknowledged; a copy seen before is recognised by its inbound key.
 * DR events are dispatch_event.c's.
 *
 * Runs on the dispatcher's thread (dispatch.c), which routes each message
 * here.
 */
#define _POSIX_C_SOURCE 200809L
#include "dispatch_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Has the message under key (a command or declaration) been applied
 * already? Then it is answered DUPLICATE and must not be applied again. */
static int
ds_inbound_duplicate(struct dispatch *d, const char *key, const char *id, const char *what)
{
    char msg[80];

    if (mqtt_inbound_seen(d->m, key) != 1) {
        return 0;
    }
    snprintf(msg, sizeof(msg), "%s already applied; this copy is ignored", what);
    ds_ack(d, id, "rejected", DISPATCH_DUPLICATE, msg, NAN, NULL);
    return 1;
}

void ds_on_command(struct dispatch *d, const char *payload, size_t len, int retained)
{
    struct dispatch_command c;
    struct dispatch_error err;
    struct live_override ov;
    char key[96], msg[300];
    double committed = NAN;
    enum dispatch_code code = DISPATCH_OK;
    int64_t end;
    int rc;

    memset(&err, 0, sizeof(err));
    memset(&ov, 0, sizeof(ov));
    msg[0] = '\0';
    rc = dispatch_parse_command(payload, len, retained, d->now_ms, &c, &err);
    if (rc) {
        ds_ack(d, err.id, "rejected", (enum dispatch_code)rc, err.message, NAN, NULL);
        if (rc == DISPATCH_RETAINED_COMMAND) {
            mqtt_clear_retained(d->m, DISPATCH_TOPIC_COMMAND);
        }
        return;
    }
    snprintf(key, sizeof(key), "command:%s", c.id);
    if (ds_inbound_duplicate(d, key, c.id, "command")) {
        return;
    }
    if (c.kind == DISPATCH_CMD_BATTERY_SETPOINT && d->o.st->has_ess &&
        (c.value_kw > d->o.st->ess.discharge_max_kw || -c.value_kw > d->o.st->ess.charge_max_kw)) {
        snprintf(msg,
                 sizeof(msg),
                 "value: %.1f: outside the battery's range [-%.1f, %.1f] kW",
                 c.value_kw,
                 d->o.st->ess.charge_max_kw,
                 d->o.st->ess.discharge_max_kw);
        ds_ack(d, c.id, "rejected", DISPATCH_OUT_OF_RANGE, msg, NAN, key);
        return;
    }
    end = c.duration_ms > 0 ? d->now_ms + c.duration_ms : 0;
    switch (c.kind) {
    case DISPATCH_CMD_IMPORT_CAP: {
        struct dispatch_event e;
        struct ds_commit cm;
        double base = NAN;

        d->cmd_cap = 1;
        snprintf(d->cmd_cap_id, sizeof(d->cmd_cap_id), "%s", c.id);
        d->cmd_cap_kw = c.value_kw;
        d->cmd_cap_start_ms = d->now_ms;
        d->cmd_cap_end_ms = end ? end : d->now_ms + DISPATCH_HOLD_MAX_MS;
        ds_resolve(d); /* the limit first, the ack after: the ack is not on the path */
        memset(&e, 0, sizeof(e));
        e.kind = DISPATCH_IMPORT_CAP;
        e.n_intervals = 1;
        e.interval[0].start_ms = d->cmd_cap_start_ms;
        e.interval[0].end_ms = d->cmd_cap_end_ms;
        ds_commit(d, &e, &c.value_kw, &base, live_capacity(d->o.live, d->cap) == ERROR_OK, &cm);
        code = cm.none ? DISPATCH_INSUFFICIENT_FLEXIBILITY : cm.code;
        committed = cm.none ? NAN : cm.committed_kw;
        snprintf(msg, sizeof(msg), "%s", cm.message);
        break;
    }
    case DISPATCH_CMD_BATTERY_SETPOINT:
    case DISPATCH_CMD_EMERGENCY_HOLD_RESERVE:
    case DISPATCH_CMD_EMERGENCY_SUPPORT:
        ov.mode = c.kind == DISPATCH_CMD_BATTERY_SETPOINT         ? LIVE_OVERRIDE_BATTERY
                  : c.kind == DISPATCH_CMD_EMERGENCY_HOLD_RESERVE ? LIVE_OVERRIDE_HOLD_RESERVE
                                                                  : LIVE_OVERRIDE_SUPPORT;
        ov.battery_kw = c.value_kw;
        ov.until_ms = end;
        snprintf(d->cmd_ovr_id, sizeof(d->cmd_ovr_id), "%s", c.id);
        live_override(d->o.live, &ov);
        ds_stat(d, &d->stats.overrides, 1);
        break;
    case DISPATCH_CMD_AUTO:
        d->cmd_cap = 0;
        d->cmd_ovr_id[0] = '\0';
        live_override(d->o.live, &ov);
        ds_stat(d, &d->stats.overrides, 1);
        ds_resolve(d);
        break;
    }
    ds_ack(d, c.id, "applied", code, msg[0] ? msg : NULL, committed, key);
}

void ds_on_tariff(struct dispatch *d, const char *payload, size_t len)
{
    struct dispatch_tariff *t = d->tariff;
    struct dispatch_error err;
    char key[96], msg[200];
    int seen, rc;

    memset(&err, 0, sizeof(err));
    rc = dispatch_parse_tariff(payload, len, d->now_ms, t, &err);
    if (rc) {
        ds_ack(d, err.id, "rejected", (enum dispatch_code)rc, err.message, NAN, NULL);
        return;
    }
    snprintf(key, sizeof(key), "tariff:%s", t->id);
    seen = mqtt_inbound_seen(d->m, key) == 1;
    d->n_prices = t->n_prices;
    for (int i = 0; i < t->n_prices; i++) {
        d->prices[i].start_ms = t->price[i].start_ms;
        d->prices[i].end_ms = t->price[i].end_ms;
        d->prices[i].buy_cny_per_kwh = t->price[i].buy_cny_per_kwh;
        d->prices[i].sell_cny_per_kwh = t->price[i].sell_cny_per_kwh;
    }
    /* applied again when seen (a retained tariff after a restart: live
     * keeps prices in memory only), acknowledged once */
    live_set_prices(d->o.live, d->prices, d->n_prices);
    ds_stat(d, &d->stats.price_sets, 1);
    if (!seen) {
        snprintf(msg, sizeof(msg), "%d price intervals: re-planning", t->n_prices);
        ds_ack(d, t->id, "accepted", DISPATCH_OK, msg, NAN, key);
    }
}

/* A platform forecast becomes an outlook of the EV-arrival forecast
 * (engine/ev_forecast.h); the latest of each kind replaces the last, and
 * a retained one delivered again after a restart is applied again but
 * acknowledged once. */
void ds_on_forecast(struct dispatch *d, const char *payload, size_t len, int kind)
{
    struct dispatch_forecast f;
    struct dispatch_error err;
    struct ev_outlook_interval iv[DISPATCH_INTERVALS_MAX];
    char key[96], msg[160];
    int rc;

    memset(&err, 0, sizeof(err));
    rc = dispatch_parse_forecast(payload, len, kind, &f, &err);
    if (rc) {
        ds_ack(d, err.id, "rejected", (enum dispatch_code)rc, err.message, NAN, NULL);
        return;
    }
    for (int i = 0; i < f.n; i++) {
        iv[i].start_ms = f.interval[i].start_ms;
        iv[i].end_ms = f.interval[i].end_ms;
        iv[i].value = f.interval[i].value_kw; /* the kind's unit */
    }
    live_set_outlook(d->o.live,
                     kind == DISPATCH_FORECAST_VISITOR_FLOW ? EV_OUTLOOK_VISITOR_FLOW
                                                            : EV_OUTLOOK_ROAD_CONGESTION,
                     iv,
                     f.n);
    snprintf(key, sizeof(key), "forecast:%d:%s", kind, f.id);
    if (mqtt_inbound_seen(d->m, key) != 1) {
        snprintf(msg, sizeof(msg), "%d intervals feed the EV-arrival forecast: re-planning", f.n);
        ds_ack(d, f.id, "accepted", DISPATCH_OK, msg, NAN, key);
    }
}

/* A driver's declared departure and energy for the car on a connector:
 * the planner's session then uses them instead of the learned defaults. */
void ds_on_declare(struct dispatch *d, const char *payload, size_t len)
{
    struct dispatch_declaration x;
    struct dispatch_error err;
    char key[96], msg[200];
    int rc;

    memset(&err, 0, sizeof(err));
    rc = dispatch_parse_declaration(payload, len, d->now_ms, &x, &err);
    if (rc) {
        ds_ack(d, err.id, "rejected", (enum dispatch_code)rc, err.message, NAN, NULL);
        return;
    }
    snprintf(key, sizeof(key), "declare:%s", x.id);
    if (ds_inbound_duplicate(d, key, x.id, "declaration")) {
        return;
    }
    if (live_declare(d->o.live, x.connector, x.departure_ms, x.energy_kwh) != ERROR_OK) {
        snprintf(msg,
                 sizeof(msg),
                 "connector: \"%s\": not a connector of this station",
                 x.connector);
        ds_ack(d, x.id, "rejected", DISPATCH_OUT_OF_RANGE, msg, NAN, key);
        return;
    }
    snprintf(msg,
             sizeof(msg),
             "for the car on %s, or the next plugged in there within 15 min: re-planning",
             x.connector);
    ds_ack(d, x.id, "accepted", DISPATCH_OK, msg, NAN, key);
}
