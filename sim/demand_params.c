/* SPDX-License-Identifier: MIT */
/*
 * demand_params.c - defaults, validation and time-of-day shares of the EV
 * demand model's parameters (demand_params.h). Pure functions on the
 * caller's structs; any thread.
 */
#include "demand_params.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define DM_DAY_MIN DEMAND_DAY_MINUTES

/* ---- defaults ------------------------------------------------------------------------- */

static void dp_set_shape(struct demand_shape *s, int start, int end, int peak, int hw, double flat)
{
    s->window.start_min = start;
    s->window.end_min = end;
    s->peak_min = peak;
    s->half_width_min = hw;
    s->flat_share = flat;
}

static void dp_set_months(struct demand_source_params *s, const double f[12])
{
    memcpy(s->month_factor, f, sizeof(s->month_factor));
}

static void dp_set_class(struct demand_vehicle_class *c,
                         const char *name,
                         double share,
                         const double kwh[2],
                         const double dc[2],
                         const double ac[2])
{
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->share = share;
    c->battery_kwh_min = kwh[0];
    c->battery_kwh_max = kwh[1];
    c->max_dc_kw_min = dc[0];
    c->max_dc_kw_max = dc[1];
    c->max_ac_kw_min = ac[0];
    c->max_ac_kw_max = ac[1];
}

static void dp_set_stay(struct demand_source_params *s,
                        const double dwell[3],
                        const double soc[5],
                        double dc_share,
                        double declared_sd_min)
{
    s->dwell_min_min = dwell[0];
    s->dwell_mode_min = dwell[1];
    s->dwell_max_min = dwell[2];
    s->soc_arrival_min = soc[0];
    s->soc_arrival_mode = soc[1];
    s->soc_arrival_max = soc[2];
    s->soc_target_min = soc[3];
    s->soc_target_max = soc[4];
    s->dc_share = dc_share;
    s->declared_sd_min = declared_sd_min;
}

/* The numbers are argued, with sources, in docs/simulation.md. */
static void dp_defaults_sources(struct demand_params *p)
{
    /* May-October season peaking July-August (Ulanqab sells cool summers);
     * winter is a trickle despite the winter campaigns. */
    static const double tourist_months[12] =
        {0.12, 0.15, 0.12, 0.25, 0.55, 0.80, 1.00, 1.00, 0.70, 0.50, 0.12, 0.12};
    static const double through_months[12] =
        {0.80, 0.80, 0.85, 0.90, 1.00, 1.10, 1.20, 1.20, 1.05, 1.00, 0.85, 0.80};
    static const double flat_months[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    static const double tourist_dwell[3] = {90, 150, 240};
    static const double tourist_soc[5] = {0.10, 0.30, 0.55, 0.80, 0.95};
    static const double through_dwell[3] = {20, 30, 60};
    static const double through_soc[5] = {0.20, 0.35, 0.60, 0.80, 0.90};
    static const double night_dwell[3] = {60, 600, 900}; /* only the minimum is used */
    static const double night_soc[5] = {0.30, 0.45, 0.70, 0.90, 1.00};
    static const double community_dwell[3] = {60, 90, 180};
    static const double community_soc[5] = {0.30, 0.45, 0.70, 0.80, 1.00};
    struct demand_source_params *t = &p->source[TRACE_SOURCE_TOURIST];
    struct demand_source_params *r = &p->source[TRACE_SOURCE_THROUGH];
    struct demand_source_params *n = &p->source[TRACE_SOURCE_NIGHT];
    struct demand_source_params *c = &p->source[TRACE_SOURCE_COMMUNITY];

    *t = (struct demand_source_params){.enabled = 1,
                                       .weekday_per_day = 16.0,
                                       .weekend_factor = 1.6,
                                       .holiday_factor = 3.5,
                                       .spring_festival_factor = 1.3};
    dp_set_months(t, tourist_months);
    dp_set_shape(&t->arrive, 9 * 60, 18 * 60, 12 * 60 + 30, 330, 0.2);
    dp_set_stay(t, tourist_dwell, tourist_soc, 0.9, 30);

    *r = (struct demand_source_params){.enabled = 1,
                                       .weekday_per_day = 5.0,
                                       .weekend_factor = 1.2,
                                       .holiday_factor = 1.5,
                                       .spring_festival_factor = 1.2};
    dp_set_months(r, through_months);
    dp_set_shape(&r->arrive, 6 * 60, 22 * 60, 13 * 60, 420, 0.3);
    dp_set_stay(r, through_dwell, through_soc, 1.0, 20);

    *n = (struct demand_source_params){.enabled = 1,
                                       .weekday_per_day = 3.0,
                                       .weekend_factor = 1.0,
                                       .holiday_factor = 0.9,
                                       .spring_festival_factor = 1.0};
    dp_set_months(n, flat_months);
    dp_set_shape(&n->arrive, 18 * 60, 23 * 60, 21 * 60, 150, 0.3);
    n->overnight = 1;
    dp_set_shape(&n->depart, 6 * 60 + 30, 8 * 60 + 30, 7 * 60 + 15, 75, 0.2);
    dp_set_stay(n, night_dwell, night_soc, 0.0, 20);

    *c = (struct demand_source_params){.enabled = 1,
                                       .weekday_per_day = 4.0,
                                       .weekend_factor = 1.1,
                                       .holiday_factor = 1.0,
                                       .spring_festival_factor = 1.0};
    dp_set_months(c, flat_months);
    dp_set_shape(&c->arrive, 0, 1440, 18 * 60 + 30, 360, 0.4);
    dp_set_stay(c, community_dwell, community_soc, 0.5, 25);
}

void demand_params_ulanhada(struct demand_params *p)
{
    static const double small_kwh[2] = {40, 50}, small_dc[2] = {60, 90}, small_ac[2] = {6.6, 7};
    static const double sedan_kwh[2] = {60, 75}, sedan_dc[2] = {90, 150}, sedan_ac[2] = {7, 11};
    static const double suv_kwh[2] = {80, 100}, suv_dc[2] = {100, 150}, suv_ac[2] = {7, 11};
    static const double phev_kwh[2] = {15, 35}, phev_dc[2] = {0, 0}, phev_ac[2] = {3.3, 7};

    memset(p, 0, sizeof(*p));
    dp_defaults_sources(p);
    p->n_classes = 4;
    dp_set_class(&p->classes[0], "small", 0.30, small_kwh, small_dc, small_ac);
    dp_set_class(&p->classes[1], "sedan", 0.35, sedan_kwh, sedan_dc, sedan_ac);
    dp_set_class(&p->classes[2], "suv", 0.27, suv_kwh, suv_dc, suv_ac);
    dp_set_class(&p->classes[3], "phev", 0.08, phev_kwh, phev_dc, phev_ac);
    p->sharing_enabled = 1;
    p->sharing_charging = (struct station_window){0, 1440};
    p->sharing_parking = (struct station_window){22 * 60, 8 * 60};
    p->declared_round_min = 5;
    p->declared_min_after_arrival_min = 15;
    p->dc_connector_kw = 120.0;
    p->ac_connector_kw = 7.0;
}

void demand_params_from_station(struct demand_params *p, const struct station *st)
{
    double dc_kw = 0.0;
    double ac_kw = 0.0;

    p->sharing_charging = st->sharing.charging;
    p->sharing_parking = st->sharing.parking;
    for (int i = 0; i < st->n_chargers && i < STATION_CHARGERS_MAX; i++) {
        const struct station_charger *c = &st->chargers[i];

        for (int j = 0; j < c->n_connectors && j < STATION_CONNECTORS_MAX; j++) {
            double kw = fmin(c->connectors[j].max_kw, c->max_kw);

            if (c->type == STATION_CHARGER_DC) {
                dc_kw = fmax(dc_kw, kw);
            } else {
                ac_kw = fmax(ac_kw, kw);
            }
        }
    }
    if (dc_kw > 0.0) {
        p->dc_connector_kw = dc_kw;
    }
    if (ac_kw > 0.0) {
        p->ac_connector_kw = ac_kw;
    }
}

/* ---- time-of-day tables --------------------------------------------------------------- */

/* The window that masks a source's arrivals (NULL: none). */
static const struct station_window *dp_arrive_mask(const struct demand_params *p, int s)
{
    const struct station_window *mask = NULL;

    if (s == TRACE_SOURCE_NIGHT) {
        mask = &p->sharing_parking;
    } else if (s == TRACE_SOURCE_COMMUNITY) {
        mask = &p->sharing_charging;
    }
    return mask;
}

static const struct station_window *dp_depart_mask(const struct demand_params *p, int s)
{
    return s == TRACE_SOURCE_NIGHT ? &p->sharing_parking : NULL;
}

/* Normalised per-minute weights of shape sh cut to mask; returns the
 * unnormalised total (0: no minute can be drawn, w all zero). Only + - * /
 * so the table is bit-identical on every platform. */
static double
dp_weights(const struct demand_shape *sh, const struct station_window *mask, double w[DM_DAY_MIN])
{
    double bump_sum = 0.0;
    double total = 0.0;
    int n_in = 0;

    for (int m = 0; m < DM_DAY_MIN; m++) {
        double x = fabs(m + 0.5 - sh->peak_min);
        double u;

        x = fmin(x, DM_DAY_MIN - x);
        u = x / sh->half_width_min;
        if (station_window_contains(&sh->window, m) &&
            (!mask || station_window_contains(mask, m))) {
            w[m] = u < 1.0 ? (1.0 - u * u) * (1.0 - u * u) : 0.0;
            bump_sum += w[m];
            n_in++;
        } else {
            w[m] = -1.0; /* outside: marked until the second pass */
        }
    }
    for (int m = 0; m < DM_DAY_MIN; m++) {
        if (w[m] < 0.0) {
            w[m] = 0.0;
        } else {
            w[m] = sh->flat_share / n_in +
                   (bump_sum > 0.0 ? (1.0 - sh->flat_share) * w[m] / bump_sum : 0.0);
        }
        total += w[m];
    }
    for (int m = 0; m < DM_DAY_MIN && total > 0.0; m++) {
        w[m] /= total;
    }
    return total;
}

double demand_params_arrival_share(const struct demand_params *p, int s, double w[DM_DAY_MIN])
{
    return dp_weights(&p->source[s].arrive, dp_arrive_mask(p, s), w);
}

double demand_params_departure_share(const struct demand_params *p, int s, double w[DM_DAY_MIN])
{
    return dp_weights(&p->source[s].depart, dp_depart_mask(p, s), w);
}

/* ---- validation ------------------------------------------------------------------------ */

/* A double field that must lie in [lo, hi]; a bound may be another field of
 * the same struct (lo_field/hi_field not NULL), named in the message. */
struct dp_rule {
    const char *field;
    size_t off;
    double lo, hi;
    const char *lo_field;
    size_t lo_off;
    const char *hi_field;
    size_t hi_off;
};

#define DP_SRC(f)   #f, offsetof(struct demand_source_params, f)
#define DP_CLASS(f) #f, offsetof(struct demand_vehicle_class, f)
#define DP_NONE     NULL, 0

static const struct dp_rule dp_source_rules[] = {
    {DP_SRC(weekday_per_day), 0, DEMAND_PER_DAY_MAX, DP_NONE, DP_NONE},
    {DP_SRC(weekend_factor), 0, DEMAND_FACTOR_MAX, DP_NONE, DP_NONE},
    {DP_SRC(holiday_factor), 0, DEMAND_FACTOR_MAX, DP_NONE, DP_NONE},
    {DP_SRC(spring_festival_factor), 0, DEMAND_FACTOR_MAX, DP_NONE, DP_NONE},
    {DP_SRC(dwell_min_min), 1, DEMAND_DWELL_MAX_MIN / 2, DP_NONE, DP_NONE},
    {DP_SRC(dwell_max_min), 0, DEMAND_DWELL_MAX_MIN, DP_SRC(dwell_min_min), DP_NONE},
    {DP_SRC(dwell_mode_min), 0, 0, DP_SRC(dwell_min_min), DP_SRC(dwell_max_min)},
    {DP_SRC(soc_arrival_min), 0, 1, DP_NONE, DP_NONE},
    {DP_SRC(soc_arrival_max), 0, 1, DP_SRC(soc_arrival_min), DP_NONE},
    {DP_SRC(soc_arrival_mode), 0, 0, DP_SRC(soc_arrival_min), DP_SRC(soc_arrival_max)},
    {DP_SRC(soc_target_max), 0, 1, DP_NONE, DP_NONE},
    {DP_SRC(soc_target_min), 0, 1, DP_NONE, DP_SRC(soc_target_max)},
    {DP_SRC(dc_share), 0, 1, DP_NONE, DP_NONE},
    {DP_SRC(declared_sd_min), 0, 240, DP_NONE, DP_NONE},
};

static const struct dp_rule dp_class_rules[] = {
    {DP_CLASS(share), 0, 1, DP_NONE, DP_NONE},
    {DP_CLASS(battery_kwh_min), 1, 300, DP_NONE, DP_NONE},
    {DP_CLASS(battery_kwh_max), 0, 300, DP_CLASS(battery_kwh_min), DP_NONE},
    {DP_CLASS(max_dc_kw_min), 0, 1000, DP_NONE, DP_NONE},
    {DP_CLASS(max_dc_kw_max), 0, 1000, DP_CLASS(max_dc_kw_min), DP_NONE},
    {DP_CLASS(max_ac_kw_min), 1, STATION_AC_CONNECTOR_MAX_KW, DP_NONE, DP_NONE},
    {DP_CLASS(max_ac_kw_max), 0, STATION_AC_CONNECTOR_MAX_KW, DP_CLASS(max_ac_kw_min), DP_NONE},
};

#define DP_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static double dp_field(const void *obj, size_t off)
{
    double v;

    memcpy(&v, (const char *)obj + off, sizeof(v));
    return v;
}

/* "0" or "dwell_min_min 20": a bound as the message shows it. */
static void dp_bound(char *buf, size_t n, const void *obj, const char *field, size_t off, double v)
{
    if (field) {
        snprintf(buf, n, "%s %g", field, dp_field(obj, off));
    } else {
        snprintf(buf, n, "%g", v);
    }
}

static int dp_check_rules(const void *obj,
                          const struct dp_rule *rules,
                          int n,
                          const char *prefix,
                          struct error_detail *ed)
{
    int rc = ERROR_OK;

    for (int i = 0; rc == ERROR_OK && i < n; i++) {
        const struct dp_rule *r = &rules[i];
        double v = dp_field(obj, r->off);
        double lo = r->lo_field ? dp_field(obj, r->lo_off) : r->lo;
        double hi = r->hi_field ? dp_field(obj, r->hi_off) : r->hi;
        char lo_s[64], hi_s[64];

        if (!(v >= lo && v <= hi)) {
            dp_bound(lo_s, sizeof(lo_s), obj, r->lo_field, r->lo_off, r->lo);
            dp_bound(hi_s, sizeof(hi_s), obj, r->hi_field, r->hi_off, r->hi);
            rc = error_setf(ed,
                            ERROR_INVALID,
                            "%s.%s: %g: must be in [%s, %s]",
                            prefix,
                            r->field,
                            v,
                            lo_s,
                            hi_s);
        }
    }
    return rc;
}

/* An integer field in [lo, hi]. */
static int dp_int(struct error_detail *ed,
                  int rc,
                  const char *prefix,
                  const char *field,
                  int v,
                  int lo,
                  int hi)
{
    if (rc == ERROR_OK && !(v >= lo && v <= hi)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "%s%s: %d: must be in [%d, %d]",
                        prefix,
                        field,
                        v,
                        lo,
                        hi);
    }
    return rc;
}

static int
dp_check_window(struct error_detail *ed, int rc, const char *path, const struct station_window *w)
{
    rc = dp_int(ed, rc, path, ".start_min", w->start_min, 0, 1439);
    rc = dp_int(ed, rc, path, ".end_min", w->end_min, 0, 1440);
    if (rc == ERROR_OK && w->start_min == w->end_min) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "%s.end_min: %d: must differ from start_min (0-1440 is the whole day)",
                        path,
                        w->end_min);
    }
    return rc;
}

static int dp_check_shape(struct error_detail *ed,
                          int rc,
                          const char *path,
                          const struct demand_shape *sh,
                          const struct station_window *mask,
                          const char *mask_name)
{
    double w[DM_DAY_MIN];
    char sub[128];

    snprintf(sub, sizeof(sub), "%s.window", path);
    rc = dp_check_window(ed, rc, sub, &sh->window);
    rc = dp_int(ed, rc, path, ".peak_min", sh->peak_min, 0, 1439);
    rc = dp_int(ed, rc, path, ".half_width_min", sh->half_width_min, 1, 1440);
    if (rc == ERROR_OK && !(sh->flat_share >= 0.0 && sh->flat_share <= 1.0)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "%s.flat_share: %g: must be in [0, 1]",
                        path,
                        sh->flat_share);
    }
    if (rc == ERROR_OK && dp_weights(sh, mask, w) <= 0.0) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "%s: %02d:%02d-%02d:%02d: no minute has weight%s%s (flat_share 0 and the "
                        "peak outside, or no overlap)",
                        sub,
                        sh->window.start_min / 60,
                        sh->window.start_min % 60,
                        sh->window.end_min / 60,
                        sh->window.end_min % 60,
                        mask ? " inside " : "",
                        mask ? mask_name : "");
    }
    return rc;
}

static int dp_check_source(const struct demand_params *p, int s, struct error_detail *ed)
{
    const struct demand_source_params *src = &p->source[s];
    char pre[64], sub[96];
    int rc = ERROR_OK;

    snprintf(pre, sizeof(pre), "sources.%s", trace_source_names[s]);
    rc = dp_int(ed, rc, pre, ".enabled", src->enabled, 0, 1);
    rc = dp_int(ed, rc, pre, ".overnight", src->overnight, 0, 1);
    for (int m = 0; rc == ERROR_OK && m < 12; m++) {
        if (!(src->month_factor[m] >= 0.0 && src->month_factor[m] <= DEMAND_FACTOR_MAX)) {
            rc = error_setf(ed,
                            ERROR_INVALID,
                            "%s.month_factor[%d]: %g: must be in [0, %g]",
                            pre,
                            m,
                            src->month_factor[m],
                            DEMAND_FACTOR_MAX);
        }
    }
    if (rc == ERROR_OK) {
        rc = dp_check_rules(src, dp_source_rules, DP_COUNT(dp_source_rules), pre, ed);
    }
    if (rc == ERROR_OK && !(src->soc_target_min > src->soc_arrival_max)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "%s.soc_target_min: %g: must be above soc_arrival_max %g (every car must "
                        "want energy)",
                        pre,
                        src->soc_target_min,
                        src->soc_arrival_max);
    }
    snprintf(sub, sizeof(sub), "%s.arrive", pre);
    rc = dp_check_shape(ed,
                        rc,
                        sub,
                        &src->arrive,
                        dp_arrive_mask(p, s),
                        s == TRACE_SOURCE_NIGHT ? "sharing_parking" : "sharing_charging");
    if (src->overnight) {
        snprintf(sub, sizeof(sub), "%s.depart", pre);
        rc = dp_check_shape(ed, rc, sub, &src->depart, dp_depart_mask(p, s), "sharing_parking");
    }
    return rc;
}

static int dp_check_classes(const struct demand_params *p, struct error_detail *ed)
{
    double share_sum = 0.0;
    int rc = dp_int(ed, ERROR_OK, "", "n_classes", p->n_classes, 1, DEMAND_CLASSES_MAX);

    for (int i = 0; rc == ERROR_OK && i < p->n_classes; i++) {
        const struct demand_vehicle_class *c = &p->classes[i];
        char pre[32];

        snprintf(pre, sizeof(pre), "classes[%d]", i);
        if (!memchr(c->name, '\0', sizeof(c->name)) || c->name[0] == '\0') {
            rc = error_setf(ed, ERROR_INVALID, "%s.name: must be a non-empty name", pre);
        }
        if (rc == ERROR_OK) {
            rc = dp_check_rules(c, dp_class_rules, DP_COUNT(dp_class_rules), pre, ed);
        }
        if (rc == ERROR_OK && c->max_dc_kw_min == 0.0 && c->max_dc_kw_max > 0.0) {
            rc = error_setf(ed,
                            ERROR_INVALID,
                            "%s.max_dc_kw_min: 0: must be > 0 when max_dc_kw_max is %g (0 and 0 "
                            "mean no DC inlet)",
                            pre,
                            c->max_dc_kw_max);
        }
        share_sum += c->share;
    }
    if (rc == ERROR_OK && fabs(share_sum - 1.0) > 1e-6) {
        rc = error_setf(ed, ERROR_INVALID, "classes[].share: sum %g: must be 1", share_sum);
    }
    return rc;
}

int demand_params_validate(const struct demand_params *p, struct error_detail *ed)
{
    int rc = dp_int(ed, ERROR_OK, "", "sharing_enabled", p->sharing_enabled, 0, 1);

    rc = dp_check_window(ed, rc, "sharing_charging", &p->sharing_charging);
    rc = dp_check_window(ed, rc, "sharing_parking", &p->sharing_parking);
    rc = dp_int(ed, rc, "", "declared_round_min", p->declared_round_min, 0, 60);
    rc = dp_int(ed,
                rc,
                "",
                "declared_min_after_arrival_min",
                p->declared_min_after_arrival_min,
                0,
                240);
    if (rc == ERROR_OK && !(p->dc_connector_kw >= 1.0 && p->dc_connector_kw <= 1000.0)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "dc_connector_kw: %g: must be in [1, 1000]",
                        p->dc_connector_kw);
    }
    if (rc == ERROR_OK &&
        !(p->ac_connector_kw >= 1.0 && p->ac_connector_kw <= STATION_AC_CONNECTOR_MAX_KW)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "ac_connector_kw: %g: must be in [1, %g]",
                        p->ac_connector_kw,
                        STATION_AC_CONNECTOR_MAX_KW);
    }
    if (rc == ERROR_OK) {
        rc = dp_check_classes(p, ed);
    }
    for (int s = 0; rc == ERROR_OK && s < DEMAND_SOURCES; s++) {
        rc = dp_check_source(p, s, ed);
    }
    return rc;
}
