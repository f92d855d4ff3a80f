/* SPDX-License-Identifier: MIT */
/*
 * ev_forecast.h - what the live engine expects of cars not yet here: the
 * station's EV arrivals per local hour, learned from the sessions it sees
 * (by day class, weekday or weekend, and by charger type, DC or AC), the
 * energy and stay of a session, and the platforms' outlooks that move the
 * rate: the scenic area's visitor flow (district platform) and the road's
 * congestion (city platform). docs/optimisation.md "Forecasts" has the
 * model, docs/configuration.md "ev_forecast" its parameters.
 *
 * Learning: every local hour that has passed updates its cell,
 *     rate[class][hour][type] += (arrivals in it - rate) / learn_days,
 * from a cold start of the configured arrivals a day spread evenly over
 * the amenity hours. A session that ends moves the mean energy and stay of
 * its type by a tenth of the difference.
 *
 * Outlooks: at an instant t covered by a visitor-flow forecast V (visitors
 * per hour) the tourist share of the learned rate is replaced by
 * arrivals_per_1000_visitors x V / 1000 (split by the learned DC/AC mix);
 * under a congestion forecast c in [0, 1] the through-traffic share is
 * scaled by (1 - c) / (1 - congestion_typical).
 *
 * Expected power: a car arriving at a draws its type's mean energy evenly
 * over its mean stay, so the forecast at minute u after now is
 *     sum over types of kwh / stay x (arrivals expected in (u - stay, u]),
 * counting only arrivals at or after now (the cars already plugged in are
 * sessions the controller knows), and never more than the chargers of the
 * type can draw: a crowd the station cannot serve is lost demand, not
 * load. The simulator's forecast
 * (sim/demand.c) spreads energy the same way.
 *
 * Pure state and arithmetic, no locking: the owner serialises the calls.
 */
#ifndef FLEXD_ENGINE_EV_FORECAST_H
#define FLEXD_ENGINE_EV_FORECAST_H

#include "../models/station.h"

#include <stdint.h>

#define EV_FORECAST_TYPES 2 /* 0 DC, 1 AC */
#define EV_FORECAST_DC    0
#define EV_FORECAST_AC    1
/* intervals kept per outlook (a day of 15-min values) */
#define EV_FORECAST_OUTLOOK_MAX 96
/* a session's mean energy and stay move by this share of each that ends */
#define EV_FORECAST_SESSION_RATE 0.1

enum ev_outlook_kind {
    EV_OUTLOOK_VISITOR_FLOW = 0,    /* visitors per hour */
    EV_OUTLOOK_ROAD_CONGESTION = 1, /* index: 0 free flow, 1 standstill */
    EV_OUTLOOKS
};

struct ev_outlook_interval {
    int64_t start_ms;
    int64_t end_ms;
    double value;
};

struct ev_forecast {
    struct station_ev_forecast cfg;
    /* learned arrivals per hour: [weekend][local hour][type] */
    double rate_per_h[2][24][EV_FORECAST_TYPES];
    double kwh[EV_FORECAST_TYPES];      /* mean energy of a session */
    double stay_min[EV_FORECAST_TYPES]; /* mean stay of a session */
    double max_kw[EV_FORECAST_TYPES];   /* the chargers' cabinet limits summed */
    int64_t hour_ms;                    /* start of the hour being counted; 0 = none yet */
    int count[EV_FORECAST_TYPES];       /* arrivals in that hour so far */
    int64_t hours_learned;              /* hours that have updated a cell */
    int64_t sessions_learned;           /* sessions that have moved kwh and stay */
    int n_outlook[EV_OUTLOOKS];
    struct ev_outlook_interval outlook[EV_OUTLOOKS][EV_FORECAST_OUTLOOK_MAX];
};

/* Cold start from st->ev_forecast and the amenity hours; sessions start at
 * typical public-charging figures: DC 30 kWh in 45 min, AC 15 kWh in 4 h
 * (docs/operations.md). */
void ev_forecast_init(struct ev_forecast *f, const struct station *st);

/* Close every whole local hour before now_ms into the learned rates. The
 * first call only starts counting. Time never goes back: an earlier now_ms
 * is ignored. */
void ev_forecast_advance(struct ev_forecast *f, int64_t now_ms);

/* A car plugged in at plug_ms (advances to it first). */
void ev_forecast_arrival(struct ev_forecast *f, int type, int64_t plug_ms);

/* A session of type ended after stay_min with kwh delivered. */
void ev_forecast_departure(struct ev_forecast *f, int type, double kwh, double stay_min);

/* Replace an outlook (n = 0 clears it). Intervals are copied in order;
 * ones past EV_FORECAST_OUTLOOK_MAX and ones with a non-finite or negative
 * value or an end not after the start are left out. Returns how many were
 * kept. */
int ev_forecast_set_outlook(struct ev_forecast *f,
                            enum ev_outlook_kind kind,
                            const struct ev_outlook_interval *iv,
                            int n);

/* Learned arrivals per hour of type at t_ms, before and after the outlooks. */
double ev_forecast_learned_rate(const struct ev_forecast *f, int type, int64_t t_ms);
double ev_forecast_rate(const struct ev_forecast *f, int type, int64_t t_ms);

/* Expected power of the cars still to come in each of n steps of
 * step_minutes from now_ms (the step mean), in kW; returns the energy over
 * the n steps, kWh. */
double
ev_forecast_kw(const struct ev_forecast *f, int64_t now_ms, int step_minutes, int n, double *kw);

#endif
