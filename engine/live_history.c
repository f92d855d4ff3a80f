/* SPDX-License-Identifier: MIT */
/*
 * live_history.c - what the live engine (live.c) keeps in the history
 * (io/history.h): alarms, sessions, samples per cycle, connector states,
 * verified setpoints and DR events, with the periodic flush and prune;
 * and, after a restart, what it takes back from there: the EV forecast
 * learned again, open sessions, the active plan and DR events.
 *
 * Runs on the control thread (live_resume() from live_new(), before the
 * other threads start).
 */
#define _POSIX_C_SOURCE 200809L
#include "live_internal.h"

#include "../common/clock.h"
#include "../common/logger.h"
#include "../io/device.h"
#include "../io/history.h"
#include "ev_forecast.h"
#include "planner.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- history ---- */

void live_alarm(struct live *l,
                const char *device,
                const char *kind,
                int raised,
                const char *message)
{
    struct history_alarm a;
    struct error_detail ed = {{0}};

    if (!l->hist) {
        return;
    }
    memset(&a, 0, sizeof(a));
    a.ts_ms = clock_now_ms(l->clock);
    snprintf(a.device, sizeof(a.device), "%s", device);
    snprintf(a.kind, sizeof(a.kind), "%s", kind);
    a.severity = raised ? HISTORY_SEV_WARNING : HISTORY_SEV_INFO;
    a.state = raised ? HISTORY_ALARM_RAISED : HISTORY_ALARM_CLEARED;
    a.message = (char *)message;
    if (history_add_alarm(l->hist, &a, &ed) != ERROR_OK) {
        LOGW("live", "history: %s", ed.text);
    }
}

void live_put_session(struct live *l, int k, int64_t unplug_ms)
{
    const struct live_session *ls = &l->sess[k];
    struct history_session hs;
    struct error_detail ed = {{0}};

    if (!l->hist) {
        return;
    }
    memset(&hs, 0, sizeof(hs));
    snprintf(hs.id, sizeof(hs.id), "%s", ls->id);
    snprintf(hs.connector_id, sizeof(hs.connector_id), "%s", planner_connector(l->st, k, NULL)->id);
    hs.plugin_ms = ls->plug_ms;
    hs.unplug_ms = unplug_ms;
    hs.energy_kwh = ls->delivered_kwh;
    /* only what a driver declared: the learned defaults are not facts */
    hs.departure_ms = ls->declared_departure ? ls->departure_ms : 0;
    hs.wanted_kwh = ls->declared_energy ? ls->wanted_kwh : NAN;
    hs.state = unplug_ms ? HISTORY_SESSION_CLOSED : HISTORY_SESSION_OPEN;
    if (history_put_session(l->hist, &hs, &ed) != ERROR_OK) {
        LOGW("live", "history: %s", ed.text);
    }
}

/* ---- keeping the history ---- */

static int live_history_state(int device_state)
{
    switch (device_state) {
    case DEVICE_CONNECTOR_AVAILABLE:
        return HISTORY_CONNECTOR_AVAILABLE;
    case DEVICE_CONNECTOR_PLUGGED:
        return HISTORY_CONNECTOR_SUSPENDED_EVSE;
    case DEVICE_CONNECTOR_CHARGING:
        return HISTORY_CONNECTOR_CHARGING;
    case DEVICE_CONNECTOR_FAULT:
        return HISTORY_CONNECTOR_FAULTED;
    default:
        return HISTORY_CONNECTOR_UNKNOWN;
    }
}

static char *live_dr_json(const struct controller_dr *ev)
{
    cJSON *o = cJSON_CreateObject();
    char *text;

    cJSON_AddStringToObject(o,
                            "type",
                            ev->type == SCENARIO_DR_IMPORT_CAP ? "import_cap" : "import_floor");
    cJSON_AddNumberToObject(o, "notice_ms", (double)ev->notice_ms);
    cJSON_AddNumberToObject(o, "limit_kw", ev->limit_kw);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static void live_put_dr(struct live *l, const struct controller_dr *ev, int state)
{
    struct history_dr hd;
    struct error_detail ed = {{0}};

    memset(&hd, 0, sizeof(hd));
    snprintf(hd.id, sizeof(hd.id), "%s", ev->id);
    hd.received_ms = ev->notice_ms;
    hd.start_ms = ev->start_ms;
    hd.end_ms = ev->end_ms;
    hd.state = state;
    hd.json = live_dr_json(ev);
    if (history_put_dr(l->hist, &hd, &ed) != ERROR_OK) {
        LOGW("live", "history: %s", ed.text);
    }
    free(hd.json);
}

/* DR events: new ones accepted or active, dropped ones cancelled, ended
 * ones finished. */
static void live_record_dr(struct live *l, const struct controller_dr *dr, int n, int64_t now)
{
    int kept[LIVE_DR_MAX];

    for (int i = 0; i < l->n_dr_kept; i++) {
        int still = 0;

        for (int j = 0; j < n; j++) {
            still |= strcmp(l->dr_kept[i].id, dr[j].id) == 0;
        }
        if (!still && l->dr_kept_state[i] != HISTORY_DR_FINISHED) {
            live_put_dr(l, &l->dr_kept[i], HISTORY_DR_CANCELLED);
        }
    }
    for (int j = 0; j < n; j++) {
        int state = now >= dr[j].end_ms     ? HISTORY_DR_FINISHED
                    : now >= dr[j].start_ms ? HISTORY_DR_ACTIVE
                                            : HISTORY_DR_ACCEPTED;
        int before = -1;

        for (int i = 0; i < l->n_dr_kept; i++) {
            if (strcmp(l->dr_kept[i].id, dr[j].id) == 0 &&
                memcmp(&l->dr_kept[i], &dr[j], sizeof(dr[j])) == 0) {
                before = l->dr_kept_state[i];
            }
        }
        if (before != state) {
            live_put_dr(l, &dr[j], state);
        }
        kept[j] = state;
    }
    memcpy(l->dr_kept, dr, sizeof(*dr) * (size_t)n);
    memcpy(l->dr_kept_state, kept, sizeof(*kept) * (size_t)n);
    l->n_dr_kept = n;
}

void live_record(struct live *l, const struct controller_input *in, int64_t now)
{
    const struct live_status *st = &l->status;
    struct history_sample hs;
    struct error_detail ed = {{0}};
    int64_t mono = clock_mono_ms(l->clock);
    int put_sessions = now >= l->next_session_put_ms;

    if (!l->hist) {
        return;
    }
    memset(&hs, 0, sizeof(hs));
    hs.ts_ms = now;
    hs.grid_import_kw = st->meter_ok ? fmax(0.0, st->grid_kw) : NAN;
    hs.grid_export_kw = st->meter_ok ? fmax(0.0, -st->grid_kw) : NAN;
    hs.pv_kw = st->pv_kw;
    hs.pv_limit_kw = isinf(st->set_pv_limit_kw) ? NAN : st->set_pv_limit_kw;
    hs.battery_kw = st->ess_kw;
    hs.battery_soc = st->soc_known ? st->soc : NAN;
    hs.ev_kw = st->ev_kw;
    hs.base_kw = st->base_kw;
    hs.import_limit_kw = st->import_max_kw;
    if (history_add_sample(l->hist, &hs, &ed) != ERROR_OK) {
        LOGD("live", "history: %s", ed.text);
    }
    for (int k = 0; k < l->n_conn; k++) {
        int d = l->conn_dev[k];
        struct history_connector_sample cs;

        if (d < 0) {
            continue;
        }
        memset(&cs, 0, sizeof(cs));
        cs.ts_ms = now;
        snprintf(cs.connector_id,
                 sizeof(cs.connector_id),
                 "%s",
                 planner_connector(l->st, k, NULL)->id);
        cs.power_kw = live_fresh(l, d, now) ? l->rd[d].ev_kw : NAN;
        cs.state = live_fresh(l, d, now) ? live_history_state(l->rd[d].connector_state)
                                         : HISTORY_CONNECTOR_UNAVAILABLE;
        history_add_connector(l->hist, &cs, &ed);
        if (put_sessions && l->sess[k].open) {
            live_put_session(l, k, 0);
        }
    }
    if (put_sessions) {
        l->next_session_put_ms = now + 60000;
    }
    for (int d = 0; d < l->n_dev; d++) {
        struct device_write w;

        if (device_last_write(l->dev[d], &l->write_seen_ms[d], &w)) {
            const struct station_device *cfg = device_config(l->dev[d]);
            struct history_setpoint sp;

            memset(&sp, 0, sizeof(sp));
            sp.ts_ms = w.ts_ms;
            snprintf(sp.device, sizeof(sp.device), "%s", cfg->id);
            snprintf(sp.point,
                     sizeof(sp.point),
                     "%s",
                     cfg->kind == STATION_DEVICE_PV        ? "pv_limit_kw"
                     : cfg->kind == STATION_DEVICE_STORAGE ? "battery_kw"
                                                           : "limit_kw");
            sp.value = w.value;
            sp.verified = w.verified ? HISTORY_VERIFY_OK : HISTORY_VERIFY_MISMATCH;
            history_add_setpoint(l->hist, &sp, &ed);
        }
    }
    if (l->dr_dirty || in->n_dr > 0) {
        live_record_dr(l, in->dr, in->n_dr, now);
        l->dr_dirty = 0;
    }
    if (mono >= l->next_flush_mono_ms) {
        if (history_flush(l->hist, &ed) != ERROR_OK) {
            LOGD("live", "history: %s", ed.text); /* history logs start and end itself */
        }
        l->next_flush_mono_ms = mono + (int64_t)l->opt.history_flush_s * 1000;
    }
    if (mono >= l->next_prune_mono_ms) {
        history_prune(l->hist, NULL, &ed);
        l->next_prune_mono_ms = mono + 3600 * 1000;
    }
}

/* After a restart: learn the EV forecast again from the sessions of the
 * last LIVE_RELEARN_SPANS time constants, counting hours from the first
 * of them (hours before it would teach that no car came). */
static void live_relearn(struct live *l, int64_t now)
{
    struct error_detail ed = {{0}};
    struct history_session *hs = NULL;
    int64_t since = now - (int64_t)(LIVE_RELEARN_SPANS * l->evf.cfg.learn_days * CLOCK_DAY_MS);
    int n = 0;

    if (history_sessions_since(l->hist, since, &hs, &n, &ed) != ERROR_OK || n == 0) {
        free(hs);
        return;
    }
    ev_forecast_init(&l->evf, l->st);
    for (int i = 0; i < n; i++) {
        int k = live_conn_index(l, hs[i].connector_id);

        if (k < 0 || hs[i].plugin_ms > now) {
            continue;
        }
        ev_forecast_arrival(&l->evf, live_conn_type(l, k), hs[i].plugin_ms);
        if (hs[i].state == HISTORY_SESSION_CLOSED && hs[i].unplug_ms > hs[i].plugin_ms) {
            ev_forecast_departure(&l->evf,
                                  live_conn_type(l, k),
                                  hs[i].energy_kwh,
                                  (double)(hs[i].unplug_ms - hs[i].plugin_ms) / 60000.0);
        }
    }
    ev_forecast_advance(&l->evf, now);
    LOGI("live",
         "EV forecast learned again from %d sessions over %lld hours",
         n,
         (long long)l->evf.hours_learned);
    free(hs);
}

/* After a restart: open sessions, the active plan, DR events. */
void live_resume(struct live *l, int64_t now)
{
    struct error_detail ed = {{0}};
    struct history_session *hs = NULL;
    struct history_dr *hd = NULL;
    struct history_plan hp;
    int n = 0;
    int found = 0;

    live_relearn(l, now);
    if (history_open_sessions(l->hist, &hs, &n, &ed) == ERROR_OK) {
        for (int i = 0; i < n; i++) {
            int k = live_conn_index(l, hs[i].connector_id);
            struct live_session *s = k >= 0 ? &l->sess[k] : NULL;
            int type = k >= 0 ? live_conn_type(l, k) : 0;

            if (!s) {
                continue;
            }
            memset(s, 0, sizeof(*s));
            s->open = 1;
            snprintf(s->id, sizeof(s->id), "%s", hs[i].id);
            s->plug_ms = hs[i].plugin_ms;
            s->departure_ms = hs[i].departure_ms
                                  ? hs[i].departure_ms
                                  : s->plug_ms + (int64_t)(l->evf.stay_min[type] * 60000.0);
            s->wanted_kwh = isnan(hs[i].wanted_kwh) ? l->evf.kwh[type] : hs[i].wanted_kwh;
            s->declared_departure = hs[i].departure_ms != 0;
            s->declared_energy = !isnan(hs[i].wanted_kwh);
            s->delivered_kwh = hs[i].energy_kwh;
            LOGI("live", "resumed session %s on %s", s->id, hs[i].connector_id);
        }
        free(hs);
    }
    memset(&hp, 0, sizeof(hp));
    if (history_active_plan(l->hist, &hp, &found, &ed) == ERROR_OK && found) {
        struct live_schedule s;

        memset(&s, 0, sizeof(s));
        if (live_schedule_parse(l, hp.json, &s) == ERROR_OK) {
            snprintf(s.id, sizeof(s.id), "%s", hp.id);
            live_schedule_free(&l->sched);
            l->sched = s;
            LOGI("live", "resumed plan %s", hp.id);
        }
        history_plan_clear(&hp);
    }
    n = 0;
    if (history_active_dr(l->hist, &hd, &n, &ed) == ERROR_OK) {
        for (int i = 0; i < n && l->n_dr < LIVE_DR_MAX; i++) {
            cJSON *o = cJSON_Parse(hd[i].json);
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
            struct controller_dr *ev = &l->dr[l->n_dr];

            if (o && cJSON_IsString(type) && hd[i].end_ms > now) {
                memset(ev, 0, sizeof(*ev));
                snprintf(ev->id, sizeof(ev->id), "%s", hd[i].id);
                ev->type = strcmp(type->valuestring, "import_cap") == 0 ? SCENARIO_DR_IMPORT_CAP
                                                                        : SCENARIO_DR_IMPORT_FLOOR;
                ev->notice_ms = (int64_t)live_json_number(o, "notice_ms", 0);
                ev->start_ms = hd[i].start_ms;
                ev->end_ms = hd[i].end_ms;
                ev->limit_kw = live_json_number(o, "limit_kw", 0.0);
                l->n_dr++;
                LOGI("live", "resumed DR event %s", ev->id);
            }
            cJSON_Delete(o);
        }
        history_dr_list_free(hd, n);
        l->dr_changed = l->n_dr > 0;
    }
}
