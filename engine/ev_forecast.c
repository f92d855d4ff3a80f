/* SPDX-License-Identifier: MIT */
/*
 * ev_forecast.c - the live engine's forecast of cars not yet here (see
 * ev_forecast.h for the model).
 */
#include "ev_forecast.h"

#include "../common/alloc.h"
#include "../common/clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EF_HOUR_MS (3600LL * 1000)
#define EF_MIN_MS  (60LL * 1000)
/* a clock that jumps further than this is not replayed hour by hour */
#define EF_CATCH_UP_MS (400 * CLOCK_DAY_MS)

/* Local hours start on whole UTC hours: +08:00 has no minutes. */
static int64_t ef_hour_floor(int64_t t_ms)
{
    int64_t q = t_ms / EF_HOUR_MS;

    if (t_ms < 0 && q * EF_HOUR_MS != t_ms) {
        q--;
    }
    return q * EF_HOUR_MS;
}

static void ef_cell(int64_t t_ms, int *weekend, int *hour)
{
    struct clock_civil lt;

    clock_to_local(t_ms, &lt);
    *weekend = lt.wday == 0 || lt.wday == 6;
    *hour = lt.hour;
}

void ev_forecast_init(struct ev_forecast *f, const struct station *st)
{
    const struct station_window *w = &st->sharing.amenities;
    const double per_day[EV_FORECAST_TYPES] = {st->ev_forecast.prior_dc_arrivals_per_day,
                                               st->ev_forecast.prior_ac_arrivals_per_day};
    double inside[24] = {0};
    double open_min = 0.0;

    memset(f, 0, sizeof(*f));
    f->cfg = st->ev_forecast;
    for (int m = 0; m < 1440; m++) {
        if (station_window_contains(w, m)) {
            inside[m / 60] += 1.0;
            open_min += 1.0;
        }
    }
    for (int c = 0; c < 2; c++) {
        for (int h = 0; h < 24; h++) {
            for (int k = 0; k < EV_FORECAST_TYPES; k++) {
                f->rate_per_h[c][h][k] = open_min > 0.0 ? per_day[k] * inside[h] / open_min : 0.0;
            }
        }
    }
    for (int c = 0; c < st->n_chargers; c++) {
        f->max_kw[st->chargers[c].type == STATION_CHARGER_DC ? EV_FORECAST_DC : EV_FORECAST_AC] +=
            st->chargers[c].max_kw;
    }
    f->kwh[EV_FORECAST_DC] = 30.0;
    f->stay_min[EV_FORECAST_DC] = 45.0;
    f->kwh[EV_FORECAST_AC] = 15.0;
    f->stay_min[EV_FORECAST_AC] = 240.0;
}

void ev_forecast_advance(struct ev_forecast *f, int64_t now_ms)
{
    int64_t hour = ef_hour_floor(now_ms);
    double learn = 1.0 / (f->cfg.learn_days >= 1.0 ? f->cfg.learn_days : 1.0);

    if (f->hour_ms == 0) {
        f->hour_ms = hour;
        return;
    }
    if (hour - f->hour_ms > EF_CATCH_UP_MS) {
        f->hour_ms = hour - EF_CATCH_UP_MS;
        memset(f->count, 0, sizeof(f->count));
    }
    while (f->hour_ms < hour) {
        int weekend, h;

        ef_cell(f->hour_ms, &weekend, &h);
        for (int k = 0; k < EV_FORECAST_TYPES; k++) {
            double *r = &f->rate_per_h[weekend][h][k];

            *r += learn * (f->count[k] - *r);
            f->count[k] = 0;
        }
        f->hour_ms += EF_HOUR_MS;
        f->hours_learned++;
    }
}

void ev_forecast_arrival(struct ev_forecast *f, int type, int64_t plug_ms)
{
    if (type < 0 || type >= EV_FORECAST_TYPES) {
        return;
    }
    ev_forecast_advance(f, plug_ms);
    if (ef_hour_floor(plug_ms) == f->hour_ms) {
        f->count[type]++; /* an arrival in an hour already closed is not counted again */
    }
}

void ev_forecast_departure(struct ev_forecast *f, int type, double kwh, double stay_min)
{
    if (type < 0 || type >= EV_FORECAST_TYPES || !isfinite(kwh) || !isfinite(stay_min) ||
        kwh < 0.0 || stay_min <= 0.0) {
        return;
    }
    f->kwh[type] += EV_FORECAST_SESSION_RATE * (kwh - f->kwh[type]);
    f->stay_min[type] += EV_FORECAST_SESSION_RATE * (stay_min - f->stay_min[type]);
    f->sessions_learned++;
}

int ev_forecast_set_outlook(struct ev_forecast *f,
                            enum ev_outlook_kind kind,
                            const struct ev_outlook_interval *iv,
                            int n)
{
    int kept = 0;

    if ((int)kind < 0 || kind >= EV_OUTLOOKS) {
        return 0;
    }
    for (int i = 0; i < n && kept < EV_FORECAST_OUTLOOK_MAX; i++) {
        if (isfinite(iv[i].value) && iv[i].value >= 0.0 && iv[i].end_ms > iv[i].start_ms) {
            f->outlook[kind][kept++] = iv[i];
        }
    }
    f->n_outlook[kind] = kept;
    return kept;
}

/* The outlook's value at t_ms, or NAN where it says nothing. */
static double ef_outlook_at(const struct ev_forecast *f, enum ev_outlook_kind kind, int64_t t_ms)
{
    for (int i = 0; i < f->n_outlook[kind]; i++) {
        const struct ev_outlook_interval *v = &f->outlook[kind][i];

        if (t_ms >= v->start_ms && t_ms < v->end_ms) {
            return v->value;
        }
    }
    return NAN;
}

double ev_forecast_learned_rate(const struct ev_forecast *f, int type, int64_t t_ms)
{
    int weekend, h;

    if (type < 0 || type >= EV_FORECAST_TYPES) {
        return 0.0;
    }
    ef_cell(t_ms, &weekend, &h);
    return f->rate_per_h[weekend][h][type];
}

/* Share of type in the learned arrivals of t_ms's day class (the prior's
 * mix when nothing is learned). */
static double ef_mix(const struct ev_forecast *f, int type, int64_t t_ms)
{
    double of_type = 0.0, all = 0.0;
    int weekend, h;

    ef_cell(t_ms, &weekend, &h);
    for (int hh = 0; hh < 24; hh++) {
        for (int k = 0; k < EV_FORECAST_TYPES; k++) {
            all += f->rate_per_h[weekend][hh][k];
            of_type += k == type ? f->rate_per_h[weekend][hh][k] : 0.0;
        }
    }
    if (all > 0.0) {
        return of_type / all;
    }
    all = f->cfg.prior_dc_arrivals_per_day + f->cfg.prior_ac_arrivals_per_day;
    if (all > 0.0) {
        return (type == EV_FORECAST_DC ? f->cfg.prior_dc_arrivals_per_day
                                       : f->cfg.prior_ac_arrivals_per_day) /
               all;
    }
    return 1.0 / EV_FORECAST_TYPES;
}

double ev_forecast_rate(const struct ev_forecast *f, int type, int64_t t_ms)
{
    const struct station_ev_forecast *c = &f->cfg;
    double learned = ev_forecast_learned_rate(f, type, t_ms);
    double visitors = ef_outlook_at(f, EV_OUTLOOK_VISITOR_FLOW, t_ms);
    double congestion = ef_outlook_at(f, EV_OUTLOOK_ROAD_CONGESTION, t_ms);
    double other = learned * fmax(0.0, 1.0 - c->tourist_share - c->through_share);
    double through = learned * c->through_share;
    double tourist = learned * c->tourist_share;

    if (type < 0 || type >= EV_FORECAST_TYPES) {
        return 0.0;
    }
    if (!isnan(congestion)) {
        through *= fmax(0.0, 1.0 - fmin(congestion, 1.0)) / (1.0 - c->congestion_typical);
    }
    if (!isnan(visitors)) {
        tourist = c->arrivals_per_1000_visitors * visitors / 1000.0 * ef_mix(f, type, t_ms);
    }
    return other + through + tourist;
}

double
ev_forecast_kw(const struct ev_forecast *f, int64_t now_ms, int step_minutes, int n, double *kw)
{
    int minutes = n * step_minutes;
    double *arrived = alloc_array((size_t)minutes + 1, sizeof(double));
    double kwh = 0.0;

    for (int j = 0; j < n; j++) {
        kw[j] = 0.0;
    }
    for (int k = 0; k < EV_FORECAST_TYPES; k++) {
        int stay = (int)lround(f->stay_min[k]);
        double kw_per_car;

        stay = stay < 1 ? 1 : stay;
        kw_per_car = f->kwh[k] * 60.0 / stay;
        /* arrived[u]: cars expected from now to minute u */
        for (int u = 0; u < minutes; u++) {
            int64_t mid = now_ms + u * EF_MIN_MS + EF_MIN_MS / 2;

            arrived[u + 1] = arrived[u] + ev_forecast_rate(f, k, mid) / 60.0;
        }
        for (int u = 0; u < minutes; u++) {
            int from = u + 1 - stay < 0 ? 0 : u + 1 - stay;

            double p = kw_per_car * (arrived[u + 1] - arrived[from]);

            kw[u / step_minutes] += fmin(p, f->max_kw[k]) / step_minutes;
        }
    }
    for (int j = 0; j < n; j++) {
        kwh += kw[j] * step_minutes / 60.0;
    }
    free(arrived);
    return kwh;
}
