/* SPDX-License-Identifier: MIT */
/*
 * dispatch_json.c - the outbound half of io/dispatch_msg.h: acks, adjustable
 * capacity, DR performance, live data, the daily report and the status,
 * built with cJSON (io/dispatch_msg*.c hold the inbound parsers). Pure
 * functions; any thread.
 */
#include "dispatch_msg.h"

#include "../common/alloc.h"
#include "../common/clock.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- builders ------------------------------------------------------------------------ */

/* Round to 1e-6 so that solver noise does not show as -0 or 1e-13. */
static void dm_add_num(cJSON *o, const char *key, double v)
{
    double r = round(v * 1e6) / 1e6;

    if (!isfinite(v)) {
        cJSON_AddNullToObject(o, key);
    } else {
        cJSON_AddNumberToObject(o, key, r == 0.0 ? 0.0 : r);
    }
}

static void dm_add_count(cJSON *o, const char *key, int v)
{
    if (v < 0) {
        cJSON_AddNullToObject(o, key);
    } else {
        cJSON_AddNumberToObject(o, key, v);
    }
}

static void dm_add_time(cJSON *o, const char *key, int64_t ms)
{
    char buf[40];

    if (clock_format_iso(ms, buf, sizeof(buf)) < 0) {
        cJSON_AddNullToObject(o, key);
    } else {
        cJSON_AddStringToObject(o, key, buf);
    }
}

static void dm_add_string(cJSON *o, const char *key, const char *s)
{
    if (s && s[0]) {
        cJSON_AddStringToObject(o, key, s);
    } else {
        cJSON_AddNullToObject(o, key);
    }
}

/* An ISO 8601 duration for ms > 0: "PT15M", "PT1H", "PT90S", "PT0.5S". */
static void dm_add_duration(cJSON *o, const char *key, int64_t ms)
{
    char buf[40];

    if (ms % 3600000 == 0) {
        (void)snprintf(buf, sizeof(buf), "PT%lldH", (long long)(ms / 3600000));
    } else if (ms % 60000 == 0) {
        (void)snprintf(buf, sizeof(buf), "PT%lldM", (long long)(ms / 60000));
    } else if (ms % 1000 == 0) {
        (void)snprintf(buf, sizeof(buf), "PT%lldS", (long long)(ms / 1000));
    } else {
        (void)snprintf(buf,
                       sizeof(buf),
                       "PT%lld.%03lldS",
                       (long long)(ms / 1000),
                       (long long)(ms % 1000));
    }
    cJSON_AddStringToObject(o, key, buf);
}

static cJSON *dm_period(int64_t start_ms, int64_t duration_ms)
{
    cJSON *p = cJSON_CreateObject();

    dm_add_time(p, "start", start_ms);
    if (duration_ms > 0) {
        dm_add_duration(p, "duration", duration_ms);
    }
    return p;
}

/* {"type": type, "values": [v]} appended to the payloads array. */
static void dm_add_payload(cJSON *payloads, const char *type, double v)
{
    cJSON *p = cJSON_CreateObject();
    cJSON *values = cJSON_CreateArray();
    double r = round(v * 1e6) / 1e6;

    cJSON_AddStringToObject(p, "type", type);
    cJSON_AddItemToArray(values,
                         isfinite(v) ? cJSON_CreateNumber(r == 0.0 ? 0.0 : r) : cJSON_CreateNull());
    cJSON_AddItemToObject(p, "values", values);
    cJSON_AddItemToArray(payloads, p);
}

static void dm_add_descriptors(cJSON *o, const char *const *types, const char *const *units, int n)
{
    cJSON *arr = cJSON_AddArrayToObject(o, "payloadDescriptors");

    for (int i = 0; i < n; i++) {
        cJSON *d = cJSON_CreateObject();

        cJSON_AddStringToObject(d, "payloadType", types[i]);
        cJSON_AddStringToObject(d, "units", units[i]);
        if (strcmp(units[i], "KWH") == 0) {
            cJSON_AddStringToObject(d, "currency", "CNY");
        }
        cJSON_AddItemToArray(arr, d);
    }
}

/* The text of root, which it frees; aborts when cJSON cannot allocate. */
static char *dm_print(cJSON *root)
{
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    char *out;

    cJSON_Delete(root);
    if (!text) {
        (void)fprintf(stderr, "flexd: dispatch_msg: out of memory printing JSON\n");
        abort();
    }
    out = alloc_strdup(text);
    cJSON_free(text);
    return out;
}

char *dispatch_ack_json(const char *id,
                        const char *status,
                        enum dispatch_code code,
                        const char *message,
                        double committed_kw,
                        int64_t now_ms)
{
    cJSON *o = cJSON_CreateObject();

    dm_add_string(o, "id", id);
    cJSON_AddStringToObject(o, "status", status ? status : "rejected");
    cJSON_AddStringToObject(o, "code", dispatch_code_name(code));
    if (message) {
        cJSON_AddStringToObject(o, "message", message);
    }
    if (!isnan(committed_kw)) {
        dm_add_num(o, "committed_kw", committed_kw);
    }
    dm_add_time(o, "ts", now_ms);
    return dm_print(o);
}

static const char *const dm_cap_types[] = {"USAGE_FORECAST",
                                           "IMPORT_CAPACITY_AVAILABLE",
                                           "EXPORT_CAPACITY_AVAILABLE",
                                           "LOAD_SHED_DELTA_AVAILABLE",
                                           "LOAD_INCREASE_DELTA_AVAILABLE",
                                           "MARGINAL_PRICE"};
static const char *const dm_cap_units[] = {"KW", "KW", "KW", "KW", "KW", "KWH"};

char *dispatch_capacity_json(int64_t now_ms,
                             const struct dispatch_capacity_step *steps,
                             int n_steps,
                             int step_minutes,
                             const struct dispatch_window *w,
                             int n_windows)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *intervals;
    cJSON *windows;
    int64_t step_ms = step_minutes > 0 ? (int64_t)step_minutes * 60000 : 0;
    int64_t first = n_steps > 0 ? steps[0].start_ms : now_ms;

    dm_add_time(o, "createdDateTime", now_ms);
    dm_add_time(o, "validUntil", n_steps > 0 ? steps[n_steps - 1].start_ms + step_ms : now_ms);
    cJSON_AddItemToObject(o, "intervalPeriod", dm_period(first, step_ms));
    dm_add_descriptors(o, dm_cap_types, dm_cap_units, 6);
    intervals = cJSON_AddArrayToObject(o, "intervals");
    for (int i = 0; i < n_steps; i++) {
        const struct dispatch_capacity_step *s = &steps[i];
        cJSON *iv = cJSON_CreateObject();
        cJSON *pl;

        cJSON_AddNumberToObject(iv, "id", i);
        if (i > 0 && s->start_ms != steps[i - 1].start_ms + step_ms) {
            cJSON_AddItemToObject(iv, "intervalPeriod", dm_period(s->start_ms, step_ms));
        }
        pl = cJSON_AddArrayToObject(iv, "payloads");
        dm_add_payload(pl, dm_cap_types[0], s->plan_kw);
        dm_add_payload(pl, dm_cap_types[1], s->net_max_kw);
        dm_add_payload(pl, dm_cap_types[2], -s->net_min_kw);
        dm_add_payload(pl, dm_cap_types[3], s->plan_kw - s->net_min_kw);
        dm_add_payload(pl, dm_cap_types[4], s->net_max_kw - s->plan_kw);
        dm_add_payload(pl, dm_cap_types[5], s->marginal_cny_per_kwh);
        cJSON_AddItemToArray(intervals, iv);
    }
    windows = cJSON_AddArrayToObject(o, "windows");
    for (int k = 0; k < n_windows; k++) {
        cJSON *iv = cJSON_CreateObject();
        cJSON *pl;

        cJSON_AddNumberToObject(iv, "id", k);
        cJSON_AddItemToObject(iv,
                              "intervalPeriod",
                              dm_period(w[k].start_ms, (int64_t)w[k].minutes * 60000));
        pl = cJSON_AddArrayToObject(iv, "payloads");
        dm_add_payload(pl, dm_cap_types[3], w[k].reduce_kw);
        dm_add_payload(pl, dm_cap_types[4], w[k].increase_kw);
        cJSON_AddItemToArray(windows, iv);
    }
    return dm_print(o);
}

static const char *const dm_perf_types[] = {"BASELINE", "USAGE", "SETPOINT"};
static const char *const dm_perf_units[] = {"KW", "KW", "KW"};

char *dispatch_performance_json(const char *event_id,
                                int final,
                                const struct dispatch_perf_step *steps,
                                int n,
                                double delivered_kwh,
                                double required_kwh,
                                double compliance)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *intervals;
    int64_t step_ms = n > 1 ? steps[1].start_ms - steps[0].start_ms : 0;

    step_ms = step_ms > 0 ? step_ms : 0;
    dm_add_string(o, "eventID", event_id);
    cJSON_AddStringToObject(o, "reportName", "DR_PERFORMANCE");
    cJSON_AddBoolToObject(o, "final", final != 0);
    dm_add_num(o, "deliveredKwh", delivered_kwh);
    dm_add_num(o, "requiredKwh", required_kwh);
    dm_add_num(o, "compliance", compliance);
    if (n > 0) {
        cJSON_AddItemToObject(o, "intervalPeriod", dm_period(steps[0].start_ms, step_ms));
    }
    dm_add_descriptors(o, dm_perf_types, dm_perf_units, 3);
    intervals = cJSON_AddArrayToObject(o, "intervals");
    for (int i = 0; i < n; i++) {
        cJSON *iv = cJSON_CreateObject();
        cJSON *pl;

        cJSON_AddNumberToObject(iv, "id", i);
        if (i > 0 && steps[i].start_ms != steps[i - 1].start_ms + step_ms) {
            cJSON_AddItemToObject(iv, "intervalPeriod", dm_period(steps[i].start_ms, step_ms));
        }
        pl = cJSON_AddArrayToObject(iv, "payloads");
        dm_add_payload(pl, "BASELINE", steps[i].baseline_kw);
        dm_add_payload(pl, "USAGE", steps[i].measured_kw);
        dm_add_payload(pl, "SETPOINT", steps[i].target_kw);
        cJSON_AddItemToArray(intervals, iv);
    }
    return dm_print(o);
}

static const char *const dm_conn_states[] = {"Unknown",
                                             "Available",
                                             "Preparing",
                                             "Charging",
                                             "SuspendedEV",
                                             "SuspendedEVSE",
                                             "Finishing",
                                             "Faulted",
                                             "Unavailable"};

const char *dispatch_connector_state_name(enum dispatch_connector_state s)
{
    if ((int)s < 0 || (size_t)s >= sizeof(dm_conn_states) / sizeof(dm_conn_states[0])) {
        return "Unknown";
    }
    return dm_conn_states[s];
}

static cJSON *dm_connectors(const struct dispatch_connector *c, int n)
{
    cJSON *arr = cJSON_CreateArray();

    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "id", c[i].id);
        cJSON_AddStringToObject(o, "state", dispatch_connector_state_name(c[i].state));
        dm_add_num(o, "power_kw", c[i].power_kw);
        dm_add_num(o, "limit_kw", c[i].limit_kw);
        dm_add_num(o, "max_kw", c[i].max_kw);
        dm_add_num(o, "session_kwh", c[i].session_kwh);
        dm_add_num(o, "soc", c[i].soc);
        if (c[i].session_start_ms) {
            dm_add_time(o, "session_start", c[i].session_start_ms);
        } else {
            cJSON_AddNullToObject(o, "session_start");
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static void dm_flows(cJSON *o, const struct dispatch_flows *f)
{
    dm_add_num(o, "grid_kw", f->grid_kw);
    dm_add_num(o, "pv_kw", f->pv_kw);
    dm_add_num(o, "pv_limit_kw", f->pv_limit_kw);
    dm_add_num(o, "battery_kw", f->battery_kw);
    dm_add_num(o, "battery_soc", f->battery_soc);
    dm_add_num(o, "ev_kw", f->ev_kw);
    dm_add_num(o, "base_kw", f->base_kw);
    dm_add_num(o, "import_max_kw", f->import_max_kw);
    dm_add_num(o, "import_min_kw", f->import_min_kw);
}

static void dm_parking(cJSON *o, const struct dispatch_parking *p)
{
    dm_add_count(o, "spaces", p->spaces);
    dm_add_count(o, "occupied", p->occupied);
    dm_add_count(o, "ev_spaces", p->ev_spaces);
    dm_add_count(o, "ev_occupied", p->ev_occupied);
    dm_add_count(o, "accessible_spaces", p->accessible_spaces);
    dm_add_count(o, "accessible_occupied", p->accessible_occupied);
    dm_add_count(o, "entries_today", p->entries_today);
    dm_add_count(o, "exits_today", p->exits_today);
}

char *dispatch_connectors_json(int64_t now_ms, const struct dispatch_connector *c, int n)
{
    cJSON *o = cJSON_CreateObject();

    dm_add_time(o, "ts", now_ms);
    cJSON_AddItemToObject(o, "connectors", dm_connectors(c, n));
    return dm_print(o);
}

char *dispatch_flows_json(int64_t now_ms, const struct dispatch_flows *f)
{
    cJSON *o = cJSON_CreateObject();

    dm_add_time(o, "ts", now_ms);
    dm_flows(o, f);
    return dm_print(o);
}

char *dispatch_parking_json(int64_t now_ms, const struct dispatch_parking *p)
{
    cJSON *o = cJSON_CreateObject();

    dm_add_time(o, "ts", now_ms);
    dm_parking(o, p);
    return dm_print(o);
}

static const char *const dm_modes[] = {"plan", "rules", "command", "failsafe"};

char *dispatch_snapshot_json(int64_t now_ms, const struct dispatch_snapshot *s)
{
    cJSON *o = cJSON_CreateObject();
    int mode = (int)s->mode >= 0 && (int)s->mode < 4 ? (int)s->mode : DISPATCH_MODE_FAILSAFE;

    dm_add_time(o, "ts", now_ms);
    cJSON_AddStringToObject(o, "mode", dm_modes[mode]);
    dm_add_string(o, "dr_event_id", s->dr_event_id);
    dm_add_string(o, "command_id", s->command_id);
    dm_add_count(o, "devices_online", s->devices_online);
    dm_add_count(o, "devices_total", s->devices_total);
    dm_add_count(o, "sessions_open", s->sessions_open);
    dm_flows(cJSON_AddObjectToObject(o, "flows"), &s->flows);
    dm_parking(cJSON_AddObjectToObject(o, "parking"), &s->parking);
    cJSON_AddItemToObject(o, "connectors", dm_connectors(s->connectors, s->n_connectors));
    return dm_print(o);
}

char *dispatch_daily_json(int64_t now_ms, const struct dispatch_daily *d)
{
    cJSON *o = cJSON_CreateObject();
    char date[sizeof(d->date)];

    (void)snprintf(date, sizeof(date), "%.10s", d->date);
    cJSON_AddStringToObject(o, "date", date);
    dm_add_time(o, "ts", now_ms);
    dm_add_num(o, "energy_charged_kwh", d->energy_charged_kwh);
    dm_add_count(o, "sessions", d->sessions);
    dm_add_num(o, "revenue_energy_cny", d->revenue_energy_cny);
    dm_add_num(o, "revenue_service_cny", d->revenue_service_cny);
    dm_add_num(o, "pv_generated_kwh", d->pv_generated_kwh);
    dm_add_num(o, "pv_self_consumed_kwh", d->pv_self_consumed_kwh);
    dm_add_num(o, "pv_curtailed_kwh", d->pv_curtailed_kwh);
    dm_add_num(o, "battery_throughput_kwh", d->battery_throughput_kwh);
    dm_add_num(o, "grid_import_kwh", d->grid_import_kwh);
    dm_add_num(o, "grid_export_kwh", d->grid_export_kwh);
    dm_add_num(o, "grid_cost_cny", d->grid_cost_cny);
    dm_add_num(o, "peak_kw", d->peak_kw);
    dm_add_count(o, "dr_events", d->dr_events);
    dm_add_num(o, "dr_delivered_kwh", d->dr_delivered_kwh);
    dm_add_num(o, "dr_compliance", d->dr_compliance);
    return dm_print(o);
}

char *dispatch_status_json(int online, int64_t now_ms, const char *version)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "state", online ? "online" : "offline");
    dm_add_time(o, "ts", now_ms);
    if (version) {
        cJSON_AddStringToObject(o, "version", version);
    }
    return dm_print(o);
}
