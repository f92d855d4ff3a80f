/* SPDX-License-Identifier: MIT */
/*
 * drgen.c - the DR event generator and preset days (drgen.h). Pure
 * functions of parameters and seed: no state between calls, so any thread
 * may call them on its own parameters.
 */
#include "drgen.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../models/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DG_MIN_MS       60000LL
#define DG_STREAM_BASE  0x100u
#define DG_LIMIT_MAX_KW SCENARIO_POWER_MAX_KW

/* ---- defaults --------------------------------------------------------------------------- */

static void dg_kind(struct drgen_kind *k,
                    const char *name,
                    int type,
                    const double months[12],
                    const int window_dur_align[5],
                    int day_ahead,
                    int notice_min,
                    const double limits[2])
{
    memset(k, 0, sizeof(*k));
    snprintf(k->name, sizeof(k->name), "%s", name);
    k->type = type;
    memcpy(k->per_month, months, sizeof(k->per_month));
    k->window.start_min = window_dur_align[0];
    k->window.end_min = window_dur_align[1];
    k->duration_min_min = window_dur_align[2];
    k->duration_max_min = window_dur_align[3];
    k->align_min = window_dur_align[4];
    k->day_ahead = day_ahead;
    k->notice_min = notice_min;
    k->limit_kw_min = limits[0];
    k->limit_kw_max = limits[1];
    k->limit_step_kw = 5.0;
}

/* Counts and limits are assumptions (no 蒙西 rule text at hand); the
 * windows follow the Mengxi tariff of config/ulanhada.json. See
 * docs/simulation.md. */
void drgen_params_default(struct drgen_params *p)
{
    /* evening peak 17:00-23:00, critical peak 18:00-20:00 in June-August;
     * winter evenings add heating load */
    static const double evening_months[12] = {2, 1, 0, 0, 0, 2, 4, 3, 0, 0, 1, 2};
    static const int evening_wda[5] = {18 * 60, 21 * 60, 60, 180, 15};
    static const double evening_kw[2] = {120, 200};
    /* midday valley 11:00-15:00: solar surplus in the mild, windy seasons */
    static const double midday_months[12] = {0, 0, 1, 3, 3, 1, 0, 0, 2, 3, 1, 0};
    static const int midday_wda[5] = {11 * 60, 15 * 60, 60, 240, 15};
    static const double midday_kw[2] = {50, 150};
    /* night valley 23:00-07:00: wind surplus in the windy months */
    static const double night_months[12] = {1, 1, 2, 2, 0, 0, 0, 0, 0, 0, 2, 1};
    static const int night_wda[5] = {23 * 60, 5 * 60, 60, 180, 15};
    static const double night_kw[2] = {50, 150};
    /* minute/hour-level invitations: rare, mostly in the summer peak */
    static const double short_months[12] = {0.5, 0.5, 0, 0, 0.5, 1, 1.5, 1.5, 0.5, 0, 0, 0.5};
    static const int short_wda[5] = {8 * 60, 22 * 60, 30, 60, 15};
    static const double short_kw[2] = {80, 180};

    memset(p, 0, sizeof(*p));
    p->n_kinds = 4;
    dg_kind(&p->kinds[0],
            "evening_cap",
            SCENARIO_DR_IMPORT_CAP,
            evening_months,
            evening_wda,
            1,
            17 * 60,
            evening_kw);
    dg_kind(&p->kinds[1],
            "midday_floor",
            SCENARIO_DR_IMPORT_FLOOR,
            midday_months,
            midday_wda,
            1,
            17 * 60,
            midday_kw);
    dg_kind(&p->kinds[2],
            "night_floor",
            SCENARIO_DR_IMPORT_FLOOR,
            night_months,
            night_wda,
            1,
            17 * 60,
            night_kw);
    dg_kind(&p->kinds[3],
            "short_cap",
            SCENARIO_DR_IMPORT_CAP,
            short_months,
            short_wda,
            0,
            30,
            short_kw);
}

/* ---- validation ------------------------------------------------------------------------- */

static int dg_window_len(const struct station_window *w)
{
    int len = w->end_min - w->start_min;

    return len <= 0 ? len + 1440 : len;
}

static int
dg_range(struct error_detail *ed, int rc, int i, const char *field, double v, double lo, double hi)
{
    if (rc == ERROR_OK && !(v >= lo && v <= hi)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "kinds[%d].%s: %g: must be in [%g, %g]",
                        i,
                        field,
                        v,
                        lo,
                        hi);
    }
    return rc;
}

static int dg_check_name(const struct drgen_kind *k, int i, struct error_detail *ed)
{
    int rc = ERROR_OK;
    size_t len = strnlen(k->name, sizeof(k->name));

    if (len == 0 || len == sizeof(k->name)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "kinds[%d].name: must be 1..%d characters",
                        i,
                        DRGEN_NAME_MAX - 1);
    }
    for (size_t j = 0; rc == ERROR_OK && j < len; j++) {
        char c = k->name[j];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            rc = error_setf(ed,
                            ERROR_INVALID,
                            "kinds[%d].name: \"%s\": must use only a-z 0-9 _ -",
                            i,
                            k->name);
        }
    }
    return rc;
}

static int dg_check_kind(const struct drgen_kind *k, int i, struct error_detail *ed)
{
    int rc = dg_check_name(k, i, ed);
    int len;
    char field[32];

    rc = dg_range(ed, rc, i, "type", k->type, 0, 1);
    for (int m = 0; m < 12; m++) {
        snprintf(field, sizeof(field), "per_month[%d]", m);
        rc = dg_range(ed, rc, i, field, k->per_month[m], 0, 28);
    }
    rc = dg_range(ed, rc, i, "window.start_min", k->window.start_min, 0, 1439);
    rc = dg_range(ed, rc, i, "window.end_min", k->window.end_min, 0, 1440);
    if (rc == ERROR_OK && k->window.start_min == k->window.end_min) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "kinds[%d].window.end_min: %d: must differ from "
                        "start_min",
                        i,
                        k->window.end_min);
    }
    rc = dg_range(ed, rc, i, "align_min", k->align_min, 1, 60);
    len = rc == ERROR_OK ? dg_window_len(&k->window) : 0;
    rc = dg_range(ed, rc, i, "duration_min_min", k->duration_min_min, k->align_min, len);
    if (rc == ERROR_OK &&
        !(k->duration_max_min >= k->duration_min_min && k->duration_max_min <= len)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "kinds[%d].duration_max_min: %d: must be in [%d, %d] "
                        "(duration_min_min to the window's length)",
                        i,
                        k->duration_max_min,
                        k->duration_min_min,
                        len);
    }
    if (rc == ERROR_OK &&
        (k->duration_min_min % k->align_min != 0 || k->duration_max_min % k->align_min != 0)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "kinds[%d].duration_min_min/duration_max_min: %d/%d: "
                        "must be multiples of align_min %d",
                        i,
                        k->duration_min_min,
                        k->duration_max_min,
                        k->align_min);
    }
    rc = dg_range(ed, rc, i, "day_ahead", k->day_ahead, 0, 1);
    rc = dg_range(ed, rc, i, "notice_min", k->notice_min, 0, k->day_ahead ? 1439 : 1440);
    rc = dg_range(ed, rc, i, "limit_kw_min", k->limit_kw_min, 0, DG_LIMIT_MAX_KW);
    rc = dg_range(ed, rc, i, "limit_kw_max", k->limit_kw_max, k->limit_kw_min, DG_LIMIT_MAX_KW);
    rc = dg_range(ed, rc, i, "limit_step_kw", k->limit_step_kw, 0, 1000);
    return rc;
}

int drgen_params_validate(const struct drgen_params *p, struct error_detail *ed)
{
    int rc = ERROR_OK;

    if (!(p->n_kinds >= 0 && p->n_kinds <= DRGEN_KINDS_MAX)) {
        rc = error_setf(ed,
                        ERROR_INVALID,
                        "n_kinds: %d: must be in [0, %d]",
                        p->n_kinds,
                        DRGEN_KINDS_MAX);
    }
    for (int i = 0; rc == ERROR_OK && i < p->n_kinds; i++) {
        rc = dg_check_kind(&p->kinds[i], i, ed);
        for (int j = 0; rc == ERROR_OK && j < i; j++) {
            if (strcmp(p->kinds[i].name, p->kinds[j].name) == 0) {
                rc = error_setf(ed,
                                ERROR_INVALID,
                                "kinds[%d].name: \"%s\": must differ from "
                                "kinds[%d].name",
                                i,
                                p->kinds[i].name,
                                j);
            }
        }
    }
    return rc;
}

/* ---- generation ------------------------------------------------------------------------- */

static int64_t dg_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        q--;
    }
    return q;
}

static int64_t dg_day_of(int64_t ts_ms)
{
    return dg_floor_div(ts_ms + CLOCK_LOCAL_OFFSET_MS, CLOCK_DAY_MS);
}

static int64_t dg_day_start(int64_t day)
{
    return day * CLOCK_DAY_MS - CLOCK_LOCAL_OFFSET_MS;
}

static int dg_days_in_month(int y, int m)
{
    int64_t a = clock_from_local(y, m, 1, 0, 0, 0);
    int64_t b =
        m == 12 ? clock_from_local(y + 1, 1, 1, 0, 0, 0) : clock_from_local(y, m + 1, 1, 0, 0, 0);

    return (int)((b - a) / CLOCK_DAY_MS);
}

/* The undropped draw of kind ki on local day `day`: 1 and *ev filled if
 * the kind occurs that day, else 0. Always makes the same four draws. */
static int
dg_raw(const struct drgen_params *p, uint64_t seed, int64_t day, int ki, struct drgen_event *ev)
{
    const struct drgen_kind *k = &p->kinds[ki];
    int64_t day_start = dg_day_start(day);
    struct clock_civil c;
    struct rng r;
    int n_dur = (k->duration_max_min - k->duration_min_min) / k->align_min + 1;
    double u_occ;
    int dur;
    int offset;
    double limit;

    clock_to_local(day_start, &c);
    rng_seed(&r, rng_mix(rng_mix(seed, (uint64_t)day), DG_STREAM_BASE + (uint64_t)ki));
    u_occ = rng_uniform(&r);
    dur = k->duration_min_min + (int)rng_below(&r, (uint64_t)n_dur) * k->align_min;
    offset = (int)rng_below(&r, (uint64_t)((dg_window_len(&k->window) - dur) / k->align_min + 1)) *
             k->align_min;
    limit = k->limit_kw_min + (k->limit_kw_max - k->limit_kw_min) * rng_uniform(&r);
    if (k->limit_step_kw > 0.0) {
        limit =
            fmin(k->limit_kw_max,
                 fmax(k->limit_kw_min, k->limit_step_kw * floor(limit / k->limit_step_kw + 0.5)));
    }
    memset(ev, 0, sizeof(*ev));
    snprintf(ev->id, sizeof(ev->id), "dr-%04d%02d%02d-%s", c.year, c.month, c.day, k->name);
    ev->type = k->type;
    ev->kind = ki;
    ev->start_ms = day_start + (int64_t)(k->window.start_min + offset) * DG_MIN_MS;
    ev->end_ms = ev->start_ms + (int64_t)dur * DG_MIN_MS;
    ev->notice_ms = k->day_ahead ? day_start - CLOCK_DAY_MS + (int64_t)k->notice_min * DG_MIN_MS
                                 : ev->start_ms - (int64_t)k->notice_min * DG_MIN_MS;
    ev->limit_kw = limit;
    return u_occ * dg_days_in_month(c.year, c.month) < k->per_month[c.month - 1];
}

/* 1 if ev (kind ki, day `day`) overlaps an opposite-type draw of an earlier
 * kind on the day before, the day itself or the day after. */
static int
dg_conflicts(const struct drgen_params *p, uint64_t seed, int64_t day, const struct drgen_event *ev)
{
    struct drgen_event other;
    int hit = 0;

    for (int64_t dd = day - 1; dd <= day + 1 && !hit; dd++) {
        for (int kj = 0; kj < ev->kind && !hit; kj++) {
            hit = p->kinds[kj].type != ev->type && dg_raw(p, seed, dd, kj, &other) &&
                  other.start_ms < ev->end_ms && ev->start_ms < other.end_ms;
        }
    }
    return hit;
}

static int dg_cmp(const void *a, const void *b)
{
    const struct drgen_event *x = a;
    const struct drgen_event *y = b;
    int c = (x->start_ms > y->start_ms) - (x->start_ms < y->start_ms);

    return c ? c : x->kind - y->kind;
}

int drgen_generate(const struct drgen_params *p,
                   uint64_t seed,
                   int64_t start_ms,
                   int64_t end_ms,
                   struct drgen_event **out,
                   int *n)
{
    int64_t first_day = dg_day_of(start_ms) - 1; /* wrapping windows start the day before */
    int64_t last_day = dg_day_of(end_ms - 1);
    struct drgen_event *buf = NULL;
    int len = 0;
    int cap = 0;
    int rc = drgen_params_validate(p, NULL);

    *out = NULL;
    *n = 0;
    if (rc == ERROR_OK && (end_ms <= start_ms || last_day - first_day > DRGEN_DAYS_MAX)) {
        rc = ERROR_RANGE;
    }
    for (int64_t day = first_day; rc == ERROR_OK && day <= last_day; day++) {
        for (int ki = 0; ki < p->n_kinds; ki++) {
            struct drgen_event ev;

            if (dg_raw(p, seed, day, ki, &ev) && ev.start_ms >= start_ms && ev.start_ms < end_ms &&
                !dg_conflicts(p, seed, day, &ev)) {
                if (len == cap) {
                    cap = cap * 2 + 16;
                    buf = alloc_resize(buf, (size_t)cap, sizeof(*buf));
                }
                buf[len++] = ev;
            }
        }
    }
    if (rc == ERROR_OK) {
        if (len > 1) {
            qsort(buf, (size_t)len, sizeof(*buf), dg_cmp);
        }
        *out = buf ? buf : alloc_array(0, sizeof(*buf));
        *n = len;
    }
    return rc;
}

/* ---- presets ---------------------------------------------------------------------------- */

const char *const drgen_preset_names[] =
    {"none", "evening-cap", "midday-floor", "short-notice-cap", "mixed", NULL};

struct dg_preset_event {
    unsigned in_presets; /* bit i: part of drgen_preset_names[i] */
    const char *name;
    int type;
    int start_min, end_min;
    int notice_day_before; /* 1: notice_min is a clock time on the day before */
    int notice_min;        /* else: minutes before start */
    double limit_kw;
};

/* A summer weekday's worth of DR: the day-ahead evening cap over the
 * critical peak, a day-ahead midday floor in the solar valley and a 30 min
 * notice cap in the afternoon. */
static const struct dg_preset_event dg_presets[] = {
    {(1u << 1) | (1u << 4),
     "evening-cap",
     SCENARIO_DR_IMPORT_CAP,
     18 * 60,
     21 * 60,
     1,
     17 * 60,
     150.0},
    {(1u << 2) | (1u << 4),
     "midday-floor",
     SCENARIO_DR_IMPORT_FLOOR,
     11 * 60,
     14 * 60,
     1,
     17 * 60,
     100.0},
    {(1u << 3) | (1u << 4),
     "short-notice-cap",
     SCENARIO_DR_IMPORT_CAP,
     16 * 60,
     16 * 60 + 45,
     0,
     30,
     100.0},
};

int drgen_preset(const char *name, int64_t day_start_ms, struct drgen_event **out, int *n)
{
    int which = -1;
    int rc = ERROR_OK;
    int count = (int)(sizeof(dg_presets) / sizeof(dg_presets[0]));

    *out = NULL;
    *n = 0;
    for (int i = 0; drgen_preset_names[i] && which < 0; i++) {
        if (name && strcmp(name, drgen_preset_names[i]) == 0) {
            which = i;
        }
    }
    if (which < 0) {
        rc = ERROR_INVALID;
    } else {
        *out = alloc_array((size_t)count, sizeof(**out));
        for (int i = 0; i < count; i++) {
            const struct dg_preset_event *pe = &dg_presets[i];
            struct drgen_event *ev = &(*out)[*n];

            if (pe->in_presets & (1u << which)) {
                snprintf(ev->id, sizeof(ev->id), "preset-%s", pe->name);
                ev->type = pe->type;
                ev->kind = -1;
                ev->start_ms = day_start_ms + pe->start_min * DG_MIN_MS;
                ev->end_ms = day_start_ms + pe->end_min * DG_MIN_MS;
                ev->notice_ms = pe->notice_day_before
                                    ? day_start_ms - CLOCK_DAY_MS + pe->notice_min * DG_MIN_MS
                                    : ev->start_ms - pe->notice_min * DG_MIN_MS;
                ev->limit_kw = pe->limit_kw;
                (*n)++;
            }
        }
        if (*n > 1) {
            qsort(*out, (size_t)*n, sizeof(**out), dg_cmp);
        }
    }
    return rc;
}
