/* SPDX-License-Identifier: MIT */
/*
 * report_csv.c - sessions.csv and timeseries.csv. Times are local ISO 8601
 * with the offset ("2026-07-15T08:15:00+08:00"); powers, energies and
 * money have 3 decimals, SoC and prices 4 (tariffs are quoted to 0.0001
 * CNY/kWh, so 3 would not let a reader re-derive the costs). A year of
 * 15-minute steps for 4 strategies is 140,160 timeseries rows: the buffer
 * is reserved once and numbers go through strbuf_fixed(), not printf.
 * Pure functions; any thread.
 */
#include "report_csv.h"

#include "../common/clock.h"

#include <math.h>
#include <string.h>

const char report_csv_sessions_header[] =
    "strategy,id,source,connector,wants_dc,arrival,plug,declared_departure,departure,"
    "battery_kwh,soc_arrival,soc_target,max_kw,wanted_kwh,delivered_kwh,unmet_kwh,"
    "revenue_energy_cny,revenue_service_cny,lost";

const char report_csv_timeseries_header[] =
    "time,strategy,step,pv_available_kw,pv_kw,base_load_kw,ev_kw,ess_charge_kw,"
    "ess_discharge_kw,ess_soc,grid_import_kw,grid_export_kw,import_limit_kw,buy_cny_per_kwh,"
    "sell_cny_per_kwh,connectors_busy,dr_active,dr_floor_kw,solved";

void report_csv_field(struct strbuf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        strbuf_puts(b, s);
        return;
    }
    strbuf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"') {
            strbuf_putc(b, '"');
        }
        strbuf_putc(b, *s);
    }
    strbuf_putc(b, '"');
}

static void csv_time(struct strbuf *b, int64_t ts_ms)
{
    char iso[32];
    int len = clock_format_iso(ts_ms, iso, sizeof(iso));

    if (len > 0) {
        strbuf_append(b, iso, (size_t)len);
    }
}

/* ",v" with d decimals. */
static void csv_num(struct strbuf *b, double v, int d)
{
    strbuf_putc(b, ',');
    strbuf_fixed(b, v, d);
}

static const char *csv_source_name(enum trace_source s)
{
    if ((int)s < 0 || (int)s > TRACE_SOURCE_COMMUNITY) {
        return "unknown";
    }
    return trace_source_names[s];
}

static void csv_session(struct strbuf *b, const struct trace *t, const struct trace_session *s)
{
    report_csv_field(b, t->strategy);
    strbuf_putc(b, ',');
    report_csv_field(b, s->id);
    strbuf_printf(b, ",%s,", csv_source_name(s->source));
    report_csv_field(b, s->connector);
    strbuf_printf(b, ",%d,", s->wants_dc ? 1 : 0);
    csv_time(b, s->arrival_ms);
    strbuf_putc(b, ',');
    if (!s->lost) {
        csv_time(b, s->plug_ms); /* a lost arrival never plugged in */
    }
    strbuf_putc(b, ',');
    csv_time(b, s->declared_departure_ms);
    strbuf_putc(b, ',');
    csv_time(b, s->departure_ms);
    csv_num(b, s->battery_kwh, 3);
    csv_num(b, s->soc_arrival, 4);
    csv_num(b, s->soc_target, 4);
    csv_num(b, s->max_kw, 3);
    csv_num(b, s->wanted_kwh, 3);
    csv_num(b, s->delivered_kwh, 3);
    csv_num(b, fmax(0.0, s->wanted_kwh - s->delivered_kwh), 3);
    csv_num(b, s->revenue_energy_cny, 3);
    csv_num(b, s->revenue_service_cny, 3);
    strbuf_printf(b, ",%d\n", s->lost ? 1 : 0);
}

void report_csv_sessions(struct strbuf *b, struct trace *const *traces, int n)
{
    strbuf_puts(b, report_csv_sessions_header);
    strbuf_putc(b, '\n');
    for (int k = 0; k < n; k++) {
        strbuf_reserve(b, (size_t)traces[k]->n_sessions * 260);
        for (int i = 0; i < traces[k]->n_sessions; i++) {
            csv_session(b, traces[k], &traces[k]->sessions[i]);
        }
    }
}

/* One timeseries row; name is the strategy already CSV-escaped. */
static void csv_step(struct strbuf *b, const char *name, size_t name_len, const struct trace_row *r)
{
    csv_time(b, r->ts_ms);
    strbuf_putc(b, ',');
    strbuf_append(b, name, name_len);
    strbuf_putc(b, ',');
    strbuf_int(b, r->step);
    csv_num(b, r->pv_available_kw, 3);
    csv_num(b, r->pv_kw, 3);
    csv_num(b, r->base_load_kw, 3);
    csv_num(b, r->ev_kw, 3);
    csv_num(b, r->ess_charge_kw, 3);
    csv_num(b, r->ess_discharge_kw, 3);
    csv_num(b, r->ess_soc, 4);
    csv_num(b, r->grid_import_kw, 3);
    csv_num(b, r->grid_export_kw, 3);
    csv_num(b, r->import_limit_kw, 3);
    csv_num(b, r->buy_cny_per_kwh, 4);
    csv_num(b, r->sell_cny_per_kwh, 4);
    strbuf_putc(b, ',');
    strbuf_int(b, r->connectors_busy);
    strbuf_putc(b, ',');
    strbuf_int(b, r->dr_active);
    csv_num(b, r->dr_floor_kw, 3);
    /* whether the LP ran, not how long it took: the file is byte-identical
     * for a seed (solver times are in timing.json) */
    strbuf_putc(b, ',');
    strbuf_int(b, r->solve_ms > 0.0);
    strbuf_putc(b, '\n');
}

void report_csv_timeseries(struct strbuf *b, struct trace *const *traces, int n)
{
    size_t rows = 0;

    for (int k = 0; k < n; k++) {
        rows += (size_t)traces[k]->n_rows;
    }
    strbuf_reserve(b, rows * 240 + sizeof(report_csv_timeseries_header) + 1);
    strbuf_puts(b, report_csv_timeseries_header);
    strbuf_putc(b, '\n');
    for (int k = 0; k < n; k++) {
        struct strbuf name = STRBUF_INIT;

        report_csv_field(&name, traces[k]->strategy);
        for (int i = 0; i < traces[k]->n_rows; i++) {
            csv_step(b, name.data, name.len, &traces[k]->rows[i]);
        }
        strbuf_free(&name);
    }
}
