/* SPDX-License-Identifier: MIT */
/*
 * demand.c - the EV demand model (demand.h): seeded non-homogeneous Poisson
 * arrivals of four sources with their cars, SoC, stays and declared
 * departures, and the mean EV power profile the same rates imply.
 *
 * A struct demand owns a copy of its parameters (the visitor-flow context
 * stays borrowed) and the per-minute arrival and departure tables built
 * from them; it is used by one thread at a time. Every random draw comes
 * from models/rng.c streams keyed by (seed, local day, source).
 */
#include "demand.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../models/rng.h"
#include "holidays.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DM_DAY_MIN          DEMAND_DAY_MINUTES
#define DM_MIN_MS           60000LL
#define DM_LOOKBACK_DAYS    2 /* stays are at most DEMAND_DWELL_MAX_MIN = 2 days */
#define DM_PROFILE_DAYS_MAX 400

static const char dm_letters[DEMAND_SOURCES] = {'T', 'R', 'N', 'C'};

struct demand {
    struct demand_params p;
    uint64_t seed;
    double arrive_cdf[DEMAND_SOURCES][DM_DAY_MIN]; /* cumulative share by local minute */
    double depart_cdf[DEMAND_SOURCES][DM_DAY_MIN];
    struct error_detail err;
};

static void dm_cdf(const double w[DM_DAY_MIN], double cdf[DM_DAY_MIN])
{
    double acc = 0.0;
    int last = 0;

    for (int m = 0; m < DM_DAY_MIN; m++) {
        acc += w[m];
        cdf[m] = acc;
        if (w[m] > 0.0) {
            last = m;
        }
    }
    /* rounding must never leave a u in [0, 1) past the last drawable minute */
    for (int m = last; m < DM_DAY_MIN; m++) {
        cdf[m] = 1.0;
    }
}

/* First minute whose cumulative share exceeds u (binary search). */
static int dm_pick_minute(const double cdf[DM_DAY_MIN], double u)
{
    int lo = 0;
    int hi = DM_DAY_MIN - 1;

    while (lo < hi) {
        int mid = (lo + hi) / 2;

        if (cdf[mid] > u) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

/* ---- rates ----------------------------------------------------------------------------- */

static int64_t dm_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        q--;
    }
    return q;
}

static int64_t dm_day_of(int64_t ts_ms)
{
    return dm_floor_div(ts_ms + CLOCK_LOCAL_OFFSET_MS, CLOCK_DAY_MS);
}

static int64_t dm_day_start(int64_t day)
{
    return day * CLOCK_DAY_MS - CLOCK_LOCAL_OFFSET_MS;
}

/* Poisson mean of source s on local day `day`; ERROR_INVALID (ed says why)
 * when the visitor-flow hook returns a bad value. */
static int
dm_rate(const struct demand_params *p, int s, int64_t day, double *rate, struct error_detail *ed)
{
    const struct demand_source_params *src = &p->source[s];
    int sharing = s == TRACE_SOURCE_NIGHT || s == TRACE_SOURCE_COMMUNITY;
    struct clock_civil c;
    double f = 1.0;
    int rc = ERROR_OK;

    *rate = 0.0;
    if (src->enabled && (!sharing || p->sharing_enabled)) {
        clock_to_local(dm_day_start(day), &c);
        switch (holidays_kind(c.year, c.month, c.day)) {
        case HOLIDAYS_WEEKEND:
            f = src->weekend_factor;
            break;
        case HOLIDAYS_HOLIDAY:
            f = src->holiday_factor;
            break;
        case HOLIDAYS_SPRING_FESTIVAL:
            f = src->spring_festival_factor;
            break;
        default:
            break;
        }
        *rate = src->weekday_per_day * src->month_factor[c.month - 1] * f;
        if (s == TRACE_SOURCE_TOURIST && p->visitor_flow) {
            double mult = p->visitor_flow(p->visitor_ctx, c.year, c.month, c.day);

            if (!(mult >= 0.0 && mult <= DEMAND_FACTOR_MAX)) {
                rc = error_setf(ed,
                                ERROR_INVALID,
                                "visitor_flow(%04d-%02d-%02d): %g: must be in "
                                "[0, %g]",
                                c.year,
                                c.month,
                                c.day,
                                mult,
                                DEMAND_FACTOR_MAX);
                *rate = 0.0;
            } else {
                *rate *= mult;
            }
        }
    }
    return rc;
}

/* ---- generation ------------------------------------------------------------------------ */

struct demand *demand_new(const struct demand_params *p, uint64_t seed)
{
    struct demand *d = NULL;
    double w[DM_DAY_MIN];

    if (demand_params_validate(p, NULL) == ERROR_OK) {
        d = ALLOC_NEW(struct demand);
        d->p = *p;
        d->seed = seed;
        for (int s = 0; s < DEMAND_SOURCES; s++) {
            demand_params_arrival_share(p, s, w);
            dm_cdf(w, d->arrive_cdf[s]);
            if (p->source[s].overnight) {
                demand_params_departure_share(p, s, w);
                dm_cdf(w, d->depart_cdf[s]);
            }
        }
    }
    return d;
}

void demand_free(struct demand *d)
{
    free(d);
}

const char *demand_last_error(const struct demand *d)
{
    return d->err.text;
}

static double dm_uniform_in(struct rng *r, double lo, double hi)
{
    return lo + (hi - lo) * rng_uniform(r);
}

/* Triangular(a, c, b) by inversion; sqrt is IEEE-exact. */
static double dm_triangular(double u, double a, double c, double b)
{
    double x = a;

    if (b > a) {
        if (u * (b - a) < c - a) {
            x = a + sqrt(u * (b - a) * (c - a));
        } else {
            x = b - sqrt((1.0 - u) * (b - a) * (b - c));
        }
    }
    return x;
}

static int dm_pick_class(const struct demand_params *p, double u)
{
    double acc = 0.0;
    int k = p->n_classes - 1;

    for (int i = 0; i < p->n_classes; i++) {
        acc += p->classes[i].share;
        if (u < acc) {
            k = i;
            break;
        }
    }
    return k;
}

static void dm_draw_vehicle(const struct demand_params *p,
                            const struct demand_source_params *src,
                            struct rng *r,
                            struct demand_ev *ev)
{
    const struct demand_vehicle_class *c;
    double u_pref;

    ev->vehicle_class = dm_pick_class(p, rng_uniform(r));
    c = &p->classes[ev->vehicle_class];
    ev->battery_kwh = dm_uniform_in(r, c->battery_kwh_min, c->battery_kwh_max);
    ev->max_dc_kw = dm_uniform_in(r, c->max_dc_kw_min, c->max_dc_kw_max);
    ev->max_ac_kw = dm_uniform_in(r, c->max_ac_kw_min, c->max_ac_kw_max);
    u_pref = rng_uniform(r);
    ev->wants_dc = ev->max_dc_kw > 0.0 && u_pref < src->dc_share;
    ev->soc_arrival = dm_triangular(rng_uniform(r),
                                    src->soc_arrival_min,
                                    src->soc_arrival_mode,
                                    src->soc_arrival_max);
    ev->soc_target = dm_uniform_in(r, src->soc_target_min, src->soc_target_max);
}

/* Departure and declared departure of ev (arrival set), drawing the same
 * number of values whatever the branch so streams stay aligned. */
static void dm_draw_departure(const struct demand *d,
                              int s,
                              int64_t day_start_ms,
                              struct rng *r,
                              struct demand_ev *ev)
{
    const struct demand_source_params *src = &d->p.source[s];
    double dwell =
        dm_triangular(rng_uniform(r), src->dwell_min_min, src->dwell_mode_min, src->dwell_max_min);
    int dep_min = dm_pick_minute(d->depart_cdf[s], rng_uniform(r));
    int64_t dep_sub = (int64_t)(rng_uniform(r) * DM_MIN_MS);
    double noise_min = rng_normal(r, 0.0, src->declared_sd_min);
    int64_t min_stay_ms = (int64_t)(src->dwell_min_min * DM_MIN_MS);
    int64_t round_ms = d->p.declared_round_min * DM_MIN_MS;
    int64_t floor_ms = ev->arrival_ms + d->p.declared_min_after_arrival_min * DM_MIN_MS;
    int64_t dec;

    if (src->overnight) {
        ev->departure_ms = day_start_ms + dep_min * DM_MIN_MS + dep_sub;
        while (ev->departure_ms < ev->arrival_ms + min_stay_ms) {
            ev->departure_ms += CLOCK_DAY_MS;
        }
    } else {
        ev->departure_ms = ev->arrival_ms + (int64_t)llround(dwell * DM_MIN_MS);
    }
    dec = ev->departure_ms + (int64_t)llround(noise_min * DM_MIN_MS);
    if (round_ms > 0) {
        /* drivers say "about half past four": round in local time */
        int64_t local = dec + CLOCK_LOCAL_OFFSET_MS;

        dec = dm_floor_div(local + round_ms / 2, round_ms) * round_ms - CLOCK_LOCAL_OFFSET_MS;
    }
    ev->declared_departure_ms = dec > floor_ms ? dec : floor_ms;
}

static int dm_cmp_ev(const void *a, const void *b)
{
    const struct demand_ev *x = a;
    const struct demand_ev *y = b;
    int c = (x->arrival_ms > y->arrival_ms) - (x->arrival_ms < y->arrival_ms);

    if (c == 0) {
        c = (int)x->source - (int)y->source;
    }
    if (c == 0) {
        c = strcmp(x->id, y->id);
    }
    return c;
}

/* Order of one source-day's draws before they are named: by time, and for
 * the (rare) same millisecond by content, so the ranks do not depend on the
 * C library's qsort. Draws are memset before filling, padding included. */
static int dm_cmp_draw(const void *a, const void *b)
{
    const struct demand_ev *x = a;
    const struct demand_ev *y = b;
    int c = (x->arrival_ms > y->arrival_ms) - (x->arrival_ms < y->arrival_ms);

    return c ? c : memcmp(x, y, sizeof(*x));
}

/* All arrivals of source s on local day `day`, sorted and named, appended
 * to (*buf, *n, *cap). */
static void dm_gen_day(const struct demand *d,
                       int s,
                       int64_t day,
                       double rate,
                       struct demand_ev **buf,
                       int *n,
                       int *cap)
{
    int64_t day_start = dm_day_start(day);
    struct clock_civil c;
    struct rng r;
    int count;
    int first = *n;

    rng_seed(&r, rng_mix(rng_mix(d->seed, (uint64_t)day), (uint64_t)s));
    count = (int)rng_poisson(&r, rate);
    if (*n + count > *cap) {
        *cap = (*n + count) * 2 + 16;
        *buf = alloc_resize(*buf, (size_t)*cap, sizeof(**buf));
    }
    for (int i = 0; i < count; i++) {
        struct demand_ev *ev = &(*buf)[*n + i];
        int minute = dm_pick_minute(d->arrive_cdf[s], rng_uniform(&r));

        memset(ev, 0, sizeof(*ev));
        ev->source = (enum trace_source)s;
        ev->arrival_ms = day_start + minute * DM_MIN_MS + (int64_t)(rng_uniform(&r) * DM_MIN_MS);
        dm_draw_vehicle(&d->p, &d->p.source[s], &r, ev);
        dm_draw_departure(d, s, day_start, &r, ev);
    }
    if (count > 1) {
        qsort(*buf + first, (size_t)count, sizeof(**buf), dm_cmp_draw);
    }
    clock_to_local(day_start, &c);
    for (int i = 0; i < count; i++) {
        snprintf((*buf)[first + i].id,
                 TRACE_ID_MAX,
                 "%04d%02d%02d-%c%03d",
                 c.year,
                 c.month,
                 c.day,
                 dm_letters[s],
                 i + 1);
    }
    *n += count;
}

int demand_generate(struct demand *d,
                    int64_t start_ms,
                    int64_t end_ms,
                    struct demand_ev **out,
                    int *n)
{
    int64_t first_day = dm_day_of(start_ms);
    int64_t last_day = dm_day_of(end_ms - 1);
    struct demand_ev *buf = NULL;
    int len = 0;
    int cap = 0;
    int rc = ERROR_OK;

    *out = NULL;
    *n = 0;
    d->err.text[0] = '\0';
    if (end_ms <= start_ms || last_day - first_day + 1 > DEMAND_DAYS_MAX) {
        rc = error_setf(&d->err,
                        ERROR_RANGE,
                        "range [%lld, %lld): must be non-empty and at "
                        "most %d days",
                        (long long)start_ms,
                        (long long)end_ms,
                        DEMAND_DAYS_MAX);
    }
    for (int64_t day = first_day; rc == ERROR_OK && day <= last_day; day++) {
        for (int s = 0; rc == ERROR_OK && s < DEMAND_SOURCES; s++) {
            double rate;
            int from = len;

            rc = dm_rate(&d->p, s, day, &rate, &d->err);
            if (rc == ERROR_OK && rate > 0.0) {
                dm_gen_day(d, s, day, rate, &buf, &len, &cap);
            }
            /* keep only arrivals inside the range; the day was drawn whole */
            for (int i = from; i < len; i++) {
                if (buf[i].arrival_ms >= start_ms && buf[i].arrival_ms < end_ms) {
                    buf[from++] = buf[i];
                }
            }
            len = from;
        }
    }
    if (rc == ERROR_OK) {
        if (len > 1) {
            qsort(buf, (size_t)len, sizeof(*buf), dm_cmp_ev);
        }
        *out = buf ? buf : alloc_array(0, sizeof(*buf));
        *n = len;
    } else {
        free(buf);
    }
    return rc;
}

/* ---- expectations ---------------------------------------------------------------------- */

struct dm_class_means {
    double battery_kwh;
    double dc_capable; /* share of arrivals with a DC inlet */
    double max_dc_kw;  /* mean over DC-capable cars */
    double max_ac_kw;
};

static void dm_class_means(const struct demand_params *p, struct dm_class_means *m)
{
    double dc_sum = 0.0;

    memset(m, 0, sizeof(*m));
    for (int i = 0; i < p->n_classes; i++) {
        const struct demand_vehicle_class *c = &p->classes[i];

        m->battery_kwh += c->share * (c->battery_kwh_min + c->battery_kwh_max) / 2;
        m->max_ac_kw += c->share * (c->max_ac_kw_min + c->max_ac_kw_max) / 2;
        if (c->max_dc_kw_max > 0.0) {
            m->dc_capable += c->share;
            dc_sum += c->share * (c->max_dc_kw_min + c->max_dc_kw_max) / 2;
        }
    }
    m->max_dc_kw = m->dc_capable > 0.0 ? dc_sum / m->dc_capable : 0.0;
}

double demand_expected_wanted_kwh(const struct demand_params *p, int source)
{
    const struct demand_source_params *src;
    struct dm_class_means cm;
    double v = NAN;

    if (source >= 0 && source < DEMAND_SOURCES) {
        src = &p->source[source];
        dm_class_means(p, &cm);
        v = ((src->soc_target_min + src->soc_target_max) / 2 -
             (src->soc_arrival_min + src->soc_arrival_mode + src->soc_arrival_max) / 3) *
            cm.battery_kwh;
    }
    return v;
}

/* Mean energy taken by a car that stays stay_min minutes. */
static double dm_energy_for_stay(const struct demand_params *p, int s, double stay_min)
{
    struct dm_class_means cm;
    double wanted = demand_expected_wanted_kwh(p, s);
    double dc_share;
    double dc_kwh;
    double ac_kwh;

    dm_class_means(p, &cm);
    dc_share = p->source[s].dc_share * cm.dc_capable;
    dc_kwh = fmin(wanted, fmin(cm.max_dc_kw, p->dc_connector_kw) * stay_min / 60);
    ac_kwh = fmin(wanted, fmin(cm.max_ac_kw, p->ac_connector_kw) * stay_min / 60);
    return dc_share * dc_kwh + (1 - dc_share) * ac_kwh;
}

/* Mean stay in whole minutes (>= 1) of an arrival in local minute m. */
static void
dm_stays(const struct demand_params *p, int s, const double wa[DM_DAY_MIN], int stay[DM_DAY_MIN])
{
    const struct demand_source_params *src = &p->source[s];
    double wd[DM_DAY_MIN];
    double mean = (src->dwell_min_min + src->dwell_mode_min + src->dwell_max_min) / 3;

    if (src->overnight) {
        demand_params_departure_share(p, s, wd);
    }
    for (int m = 0; m < DM_DAY_MIN; m++) {
        double v = mean;

        if (src->overnight && wa[m] > 0.0) {
            v = 0.0;
            for (int k = 0; k < DM_DAY_MIN; k++) {
                double gap = (double)((k - m + DM_DAY_MIN) % DM_DAY_MIN);

                if (gap < src->dwell_min_min) {
                    gap += DM_DAY_MIN;
                }
                v += wd[k] * gap;
            }
        }
        stay[m] = v < 1.0 ? 1 : (int)lround(v);
    }
}

double demand_expected_energy_kwh(const struct demand_params *p, int source)
{
    double wa[DM_DAY_MIN];
    int stay[DM_DAY_MIN];
    double e = NAN;

    if (source >= 0 && source < DEMAND_SOURCES) {
        demand_params_arrival_share(p, source, wa);
        dm_stays(p, source, wa, stay);
        e = 0.0;
        for (int m = 0; m < DM_DAY_MIN; m++) {
            if (wa[m] > 0.0) {
                e += wa[m] * dm_energy_for_stay(p, source, stay[m]);
            }
        }
    }
    return e;
}

double demand_expected_count(const struct demand_params *p, int source, int64_t ts_ms)
{
    double rate = NAN;

    if (source >= 0 && source < DEMAND_SOURCES &&
        dm_rate(p, source, dm_day_of(ts_ms), &rate, NULL) != ERROR_OK) {
        rate = NAN;
    }
    return rate;
}

/* What the expected-power profile needs of the parameters, computed once:
 * per source and arrival minute, the share of the day's arrivals, the mean
 * stay and the mean power of a car. */
struct demand_profile {
    struct demand_params p;
    double wa[DEMAND_SOURCES][DM_DAY_MIN];
    double kw_per_car[DEMAND_SOURCES][DM_DAY_MIN];
    int stay[DEMAND_SOURCES][DM_DAY_MIN];
};

struct demand_profile *demand_profile_new(const struct demand_params *p)
{
    struct demand_profile *pr;

    if (demand_params_validate(p, NULL) != ERROR_OK) {
        return NULL;
    }
    pr = ALLOC_NEW(struct demand_profile);
    pr->p = *p;
    for (int s = 0; s < DEMAND_SOURCES; s++) {
        demand_params_arrival_share(p, s, pr->wa[s]);
        dm_stays(p, s, pr->wa[s], pr->stay[s]);
        for (int m = 0; m < DM_DAY_MIN; m++) {
            pr->kw_per_car[s][m] =
                pr->wa[s][m] > 0.0 ? dm_energy_for_stay(p, s, pr->stay[s][m]) * 60 / pr->stay[s][m]
                                   : 0.0;
        }
    }
    return pr;
}

void demand_profile_free(struct demand_profile *pr)
{
    free(pr);
}

/* Add source s's expected power to the per-minute difference array diff
 * (horizon of h minutes from start_ms). */
static int dm_profile_source(const struct demand_profile *pr,
                             int s,
                             int64_t from_ms,
                             int64_t start_ms,
                             int h,
                             double *diff)
{
    const double *wa = pr->wa[s];
    const double *kw_per_car = pr->kw_per_car[s];
    const int *stay = pr->stay[s];
    int64_t last_day = dm_day_of(start_ms + (int64_t)h * DM_MIN_MS - 1);
    int rc = ERROR_OK;

    for (int64_t day = dm_day_of(start_ms) - DM_LOOKBACK_DAYS; rc == ERROR_OK && day <= last_day;
         day++) {
        double rate;

        rc = dm_rate(&pr->p, s, day, &rate, NULL);
        for (int m = 0; rc == ERROR_OK && rate > 0.0 && m < DM_DAY_MIN; m++) {
            int64_t arrive_ms = dm_day_start(day) + m * DM_MIN_MS;
            int64_t rel = dm_floor_div(arrive_ms - start_ms, DM_MIN_MS);
            int64_t end = rel + stay[m];
            /* share of minute m's arrivals at or after from_ms */
            double part = arrive_ms >= from_ms ? 1.0
                          : arrive_ms + DM_MIN_MS <= from_ms
                              ? 0.0
                              : (double)(arrive_ms + DM_MIN_MS - from_ms) / DM_MIN_MS;
            double kw = rate * wa[m] * kw_per_car[m] * part;

            if (kw > 0.0 && end > 0 && rel < h) {
                diff[rel < 0 ? 0 : rel] += kw;
                diff[end < h ? end : h] -= kw;
            }
        }
    }
    return rc;
}

double demand_profile_kw_from(const struct demand_profile *pr,
                              int64_t from_ms,
                              int64_t start_ms,
                              int step_minutes,
                              double *kw,
                              int steps)
{
    double total = NAN;
    double *diff = NULL;
    int h = 0;
    int rc = ERROR_OK;

    if (!pr || step_minutes < 1 || step_minutes > DM_DAY_MIN || steps < 1 ||
        (int64_t)steps * step_minutes > (int64_t)DM_PROFILE_DAYS_MAX * DM_DAY_MIN) {
        rc = ERROR_RANGE;
    } else {
        h = steps * step_minutes;
        diff = alloc_array((size_t)h + 1, sizeof(*diff));
    }
    for (int s = 0; rc == ERROR_OK && s < DEMAND_SOURCES; s++) {
        rc = dm_profile_source(pr, s, from_ms, start_ms, h, diff);
    }
    if (rc == ERROR_OK) {
        double level = 0.0;

        total = 0.0;
        for (int i = 0; i < steps; i++) {
            double sum = 0.0;

            for (int j = 0; j < step_minutes; j++) {
                level += diff[i * step_minutes + j];
                sum += level > 0.0 ? level : 0.0; /* rounding residue below zero */
            }
            kw[i] = sum / step_minutes;
            total += sum / 60;
        }
    }
    free(diff);
    return total;
}

double demand_expected_kw_profile(const struct demand_params *p,
                                  int64_t start_ms,
                                  int step_minutes,
                                  double *kw,
                                  int steps)
{
    return demand_expected_kw_profile_from(p, INT64_MIN, start_ms, step_minutes, kw, steps);
}

double demand_expected_kw_profile_from(const struct demand_params *p,
                                       int64_t from_ms,
                                       int64_t start_ms,
                                       int step_minutes,
                                       double *kw,
                                       int steps)
{
    struct demand_profile *pr = demand_profile_new(p);
    double total = demand_profile_kw_from(pr, from_ms, start_ms, step_minutes, kw, steps);

    demand_profile_free(pr);
    return total;
}

void demand_ev_to_trace(const struct demand_ev *ev, struct trace_session *s)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "%s", ev->id);
    s->source = ev->source;
    s->wants_dc = ev->wants_dc;
    s->arrival_ms = ev->arrival_ms;
    s->departure_ms = ev->departure_ms;
    s->declared_departure_ms = ev->declared_departure_ms;
    s->plug_ms = ev->arrival_ms;
    s->battery_kwh = ev->battery_kwh;
    s->soc_arrival = ev->soc_arrival;
    s->soc_target = ev->soc_target;
    s->max_kw = ev->wants_dc ? ev->max_dc_kw : ev->max_ac_kw;
    s->wanted_kwh = (ev->soc_target - ev->soc_arrival) * ev->battery_kwh;
}
