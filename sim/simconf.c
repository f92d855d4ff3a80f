/* SPDX-License-Identifier: MIT */
/*
 * simconf.c - the simulation file (simconf.h). The format is the field
 * tables below, read by config/jsonfields; docs/simulation.md documents
 * the same rows. Absent fields read as "not set" (NaN or -1) so that
 * simconf_apply() changes only what the file names. After the tables, the
 * rules that span fields: step_minutes dividing a day, the explicit DR
 * events (simconf_dr_check(), which a replay's dr_events.csv shares with
 * the time format), and the demand and generator parameters as the models
 * validate them.
 *
 * Pure functions apart from simconf_load()'s read; any thread.
 */
#include "simconf.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../common/fileio.h"
#include "../config/jsonfields.h"
#include "../models/weather.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SC_REQ JSONFIELDS_REQUIRED
#define SC_NO  (-1) /* an integer or flag the file does not set */

_Static_assert(sizeof(enum scenario_dr_type) == sizeof(int), "ENUM fields are stored as int");

/* ---- custom fields ------------------------------------------------------------------- */

/* "start": a local date, kept as text (for the report) and as ms. */
static int sc_parse_date(const cJSON *item,
                         void *target,
                         const char *path,
                         void *user,
                         struct error_detail *ed)
{
    struct simconf *c = user;
    char desc[80];

    jsonfields_describe(item, desc, sizeof(desc));
    if (!cJSON_IsString(item) || !item->valuestring ||
        clock_parse_date(item->valuestring, &c->start_ms)) {
        return error_setf(ed, ERROR_INVALID, "%s: %s: must be a date \"YYYY-MM-DD\"", path, desc);
    }
    snprintf((char *)target, sizeof(c->start), "%s", item->valuestring);
    return ERROR_OK;
}

/* An event time "2026-07-18T18:00+08:00" into int64_t ms. */
static int sc_parse_time(const cJSON *item,
                         void *target,
                         const char *path,
                         void *user,
                         struct error_detail *ed)
{
    char desc[80];

    (void)user;
    jsonfields_describe(item, desc, sizeof(desc));
    if (!cJSON_IsString(item) || !item->valuestring ||
        simconf_parse_time(item->valuestring, strlen(item->valuestring), (int64_t *)target)) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "%s: %s: must be a time \"YYYY-MM-DDTHH:MM+08:00\" (ISO 8601 with its "
                          "offset, years %d-%d)",
                          path,
                          desc,
                          SIMCONF_YEAR_MIN,
                          SIMCONF_YEAR_MAX);
    }
    return ERROR_OK;
}

/* Twelve numbers in [0, max], January to December. */
static int
sc_months(const cJSON *item, double *dst, double max, const char *path, struct error_detail *ed)
{
    char desc[80];
    int i = 0;

    jsonfields_describe(item, desc, sizeof(desc));
    if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != 12) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "%s: %s: must be an array of 12 numbers, January to December",
                          path,
                          desc);
    }
    for (const cJSON *e = item->child; e; e = e->next, i++) {
        jsonfields_describe(e, desc, sizeof(desc));
        if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0.0 && e->valuedouble <= max)) {
            return error_setf(ed,
                              ERROR_INVALID,
                              "%s[%d]: %s: must be a number in [0, %g]",
                              path,
                              i,
                              desc,
                              max);
        }
        dst[i] = e->valuedouble;
    }
    return ERROR_OK;
}

static int sc_parse_month_factor(const cJSON *item,
                                 void *target,
                                 const char *path,
                                 void *user,
                                 struct error_detail *ed)
{
    (void)user;
    return sc_months(item, target, DEMAND_FACTOR_MAX, path, ed);
}

static int sc_parse_per_month(const cJSON *item,
                              void *target,
                              const char *path,
                              void *user,
                              struct error_detail *ed)
{
    (void)user;
    return sc_months(item, target, 28.0, path, ed);
}

static void *sc_alloc_events(void *base, int n)
{
    struct simconf_dr *d = base;

    d->events = alloc_resize(d->events, (size_t)(n > 0 ? n : 1), sizeof(*d->events));
    memset(d->events, 0, (size_t)(n > 0 ? n : 1) * sizeof(*d->events));
    return d->events;
}

/* ---- tables -------------------------------------------------------------------------- */

static const char *const sc_dr_types[] = {"import_cap", "import_floor", NULL};

#define SC_NUM(n, st, m, lo, hi) JSONFIELDS_F_NUMBER(n, st, m, lo, hi, 0, NAN)
#define SC_INT(n, st, m, lo, hi) JSONFIELDS_F_INT(n, st, m, lo, hi, 0, SC_NO)

static const struct jsonfields_field sc_weather[] = {
    JSONFIELDS_F_ENUM("sky", struct simconf, sky, world_sky_names, 0, SC_NO),
    SC_NUM("clear_sky_index_scale", struct simconf, csi_scale, 0, WORLD_CSI_SCALE_MAX),
    SC_NUM("clear_sky_index", struct simconf, csi_fixed, WEATHER_KC_MIN, WEATHER_KC_MAX),
    SC_NUM("pv_forecast_csi", struct simconf, pv_forecast_csi, 0.01, 1.1),
    SC_NUM("pv_forecast_tau_h", struct simconf, pv_forecast_tau_h, 0.1, 240),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sc_base_load[] = {
    SC_NUM("noise_sd", struct simconf, base_noise_sd, 0, 1),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sc_source[] = {
    JSONFIELDS_F_BOOL("enabled", struct simconf_source, enabled, 0, SC_NO),
    SC_NUM("weekday_per_day", struct simconf_source, weekday_per_day, 0, DEMAND_PER_DAY_MAX),
    JSONFIELDS_F_CUSTOM("month_factor",
                        struct simconf_source,
                        month_factor,
                        sc_parse_month_factor,
                        NULL,
                        0),
    SC_NUM("weekend_factor", struct simconf_source, weekend_factor, 0, DEMAND_FACTOR_MAX),
    SC_NUM("holiday_factor", struct simconf_source, holiday_factor, 0, DEMAND_FACTOR_MAX),
    SC_NUM("spring_festival_factor",
           struct simconf_source,
           spring_festival_factor,
           0,
           DEMAND_FACTOR_MAX),
    SC_NUM("dc_share", struct simconf_source, dc_share, 0, 1),
    SC_NUM("declared_sd_min", struct simconf_source, declared_sd_min, 0, 240),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sc_sources[] = {
    JSONFIELDS_F_OBJECT("tourist", struct simconf_sources, tourist, sc_source, 0),
    JSONFIELDS_F_OBJECT("through", struct simconf_sources, through, sc_source, 0),
    JSONFIELDS_F_OBJECT("night", struct simconf_sources, night, sc_source, 0),
    JSONFIELDS_F_OBJECT("community", struct simconf_sources, community, sc_source, 0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sc_demand[] = {
    JSONFIELDS_F_BOOL("sharing", struct simconf, sharing, 0, SC_NO),
    SC_NUM("visitor_flow", struct simconf, visitor_flow, 0, DEMAND_FACTOR_MAX),
    SC_INT("max_wait_minutes", struct simconf, max_wait_minutes, 0, 1440),
    JSONFIELDS_F_OBJECT("sources", struct simconf, sources, sc_sources, 0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sc_window[] = {
    JSONFIELDS_F_CLOCK("start", struct station_window, start_min, 0, 1439, SC_REQ, 0),
    JSONFIELDS_F_CLOCK("end", struct station_window, end_min, 0, 1440, SC_REQ, 0),
    JSONFIELDS_F_END,
};

/* Ranges here are the reader's; drgen_params_validate() adds the rules
 * between fields (durations inside the window, on the alignment grid). */
static const struct jsonfields_field sc_kind[] = {
    JSONFIELDS_F_STRING("name", struct drgen_kind, name, 1, SC_REQ, NULL),
    JSONFIELDS_F_ENUM("type", struct drgen_kind, type, sc_dr_types, SC_REQ, 0),
    JSONFIELDS_F_CUSTOM("per_month",
                        struct drgen_kind,
                        per_month,
                        sc_parse_per_month,
                        NULL,
                        SC_REQ),
    JSONFIELDS_F_OBJECT("window", struct drgen_kind, window, sc_window, SC_REQ),
    JSONFIELDS_F_INT("duration_min_min", struct drgen_kind, duration_min_min, 1, 1440, SC_REQ, 0),
    JSONFIELDS_F_INT("duration_max_min", struct drgen_kind, duration_max_min, 1, 1440, SC_REQ, 0),
    JSONFIELDS_F_INT("align_min", struct drgen_kind, align_min, 1, 60, 0, 15),
    JSONFIELDS_F_BOOL("day_ahead", struct drgen_kind, day_ahead, SC_REQ, 0),
    JSONFIELDS_F_INT("notice_min", struct drgen_kind, notice_min, 0, 1440, SC_REQ, 0),
    JSONFIELDS_F_NUMBER("limit_kw_min",
                        struct drgen_kind,
                        limit_kw_min,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        SC_REQ,
                        0),
    JSONFIELDS_F_NUMBER("limit_kw_max",
                        struct drgen_kind,
                        limit_kw_max,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        SC_REQ,
                        0),
    JSONFIELDS_F_NUMBER("limit_step_kw",
                        struct drgen_kind,
                        limit_step_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        0,
                        5),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sc_event[] = {
    JSONFIELDS_F_STRING("id", struct controller_dr, id, 1, SC_REQ, NULL),
    JSONFIELDS_F_ENUM("type", struct controller_dr, type, sc_dr_types, SC_REQ, 0),
    JSONFIELDS_F_CUSTOM("notice", struct controller_dr, notice_ms, sc_parse_time, NULL, SC_REQ),
    JSONFIELDS_F_CUSTOM("start", struct controller_dr, start_ms, sc_parse_time, NULL, SC_REQ),
    JSONFIELDS_F_CUSTOM("end", struct controller_dr, end_ms, sc_parse_time, NULL, SC_REQ),
    JSONFIELDS_F_NUMBER("limit_kw",
                        struct controller_dr,
                        limit_kw,
                        0,
                        SCENARIO_POWER_MAX_KW,
                        SC_REQ,
                        0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sc_dr[] = {
    JSONFIELDS_F_BOOL("generate", struct simconf_dr, generate, 0, SC_NO),
    JSONFIELDS_F_ARRAY("kinds",
                       struct simconf_dr,
                       drgen.kinds,
                       drgen.n_kinds,
                       struct drgen_kind,
                       sc_kind,
                       DRGEN_KINDS_MAX,
                       NULL,
                       0),
    JSONFIELDS_F_ENUM("preset", struct simconf_dr, preset, drgen_preset_names, 0, 0),
    JSONFIELDS_F_ARRAY("events",
                       struct simconf_dr,
                       events,
                       n_events,
                       struct controller_dr,
                       sc_event,
                       SIMCONF_EVENTS_MAX,
                       sc_alloc_events,
                       0),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sc_tariff[] = {
    SC_NUM("export_cny_per_kwh", struct simconf, export_cny_per_kwh, 0, TARIFF_PRICE_MAX_CNY),
    SC_NUM("demand_charge_cny_per_kw_month",
           struct simconf,
           demand_charge_cny_per_kw_month,
           0,
           TARIFF_PRICE_MAX_CNY),
    SC_NUM("service_fee_cny_per_kwh",
           struct simconf,
           service_fee_cny_per_kwh,
           0,
           TARIFF_PRICE_MAX_CNY),
    JSONFIELDS_F_END,
};

static const struct jsonfields_field sc_root[] = {
    JSONFIELDS_F_STRING("description", struct simconf, description, 0, 0, NULL),
    JSONFIELDS_F_CUSTOM("start", struct simconf, start, sc_parse_date, NULL, 0),
    SC_INT("days", struct simconf, days, 1, 3660),
    SC_INT("step_minutes", struct simconf, step_minutes, 1, 60),
    SC_INT("seed", struct simconf, seed, 0, 2147483647.0),
    JSONFIELDS_F_GROUP("weather", sc_weather, 0),
    JSONFIELDS_F_GROUP("base_load", sc_base_load, 0),
    JSONFIELDS_F_GROUP("demand", sc_demand, 0),
    JSONFIELDS_F_OBJECT("dr", struct simconf, dr, sc_dr, 0),
    JSONFIELDS_F_GROUP("tariff", sc_tariff, 0),
    JSONFIELDS_F_END,
};

/* ---- rules across fields ------------------------------------------------------------- */

static void sc_source_apply(const struct simconf_source *s, struct demand_source_params *p)
{
    p->enabled = s->enabled != SC_NO ? s->enabled : p->enabled;
    p->weekday_per_day = isnan(s->weekday_per_day) ? p->weekday_per_day : s->weekday_per_day;
    for (int m = 0; m < 12; m++) {
        p->month_factor[m] = isnan(s->month_factor[m]) ? p->month_factor[m] : s->month_factor[m];
    }
    p->weekend_factor = isnan(s->weekend_factor) ? p->weekend_factor : s->weekend_factor;
    p->holiday_factor = isnan(s->holiday_factor) ? p->holiday_factor : s->holiday_factor;
    p->spring_festival_factor =
        isnan(s->spring_festival_factor) ? p->spring_festival_factor : s->spring_festival_factor;
    p->dc_share = isnan(s->dc_share) ? p->dc_share : s->dc_share;
    p->declared_sd_min = isnan(s->declared_sd_min) ? p->declared_sd_min : s->declared_sd_min;
}

static void sc_demand_apply(const struct simconf *c, struct demand_params *p)
{
    sc_source_apply(&c->sources.tourist, &p->source[TRACE_SOURCE_TOURIST]);
    sc_source_apply(&c->sources.through, &p->source[TRACE_SOURCE_THROUGH]);
    sc_source_apply(&c->sources.night, &p->source[TRACE_SOURCE_NIGHT]);
    sc_source_apply(&c->sources.community, &p->source[TRACE_SOURCE_COMMUNITY]);
    p->sharing_enabled = c->sharing != SC_NO ? c->sharing : p->sharing_enabled;
}

/* "what.path: ..." in front of a model's own message. */
static int sc_nested(struct error_detail *ed, const char *what)
{
    char tmp[ERROR_DETAIL_MAX];

    snprintf(tmp, sizeof(tmp), "%s.%s", what, ed->text);
    memcpy(ed->text, tmp, sizeof(tmp));
    return ERROR_INVALID;
}

static int sc_events_check(const struct simconf *c, struct error_detail *ed)
{
    struct simconf_dr_fault f;
    char value[64];
    char other[96] = "";

    if (!simconf_dr_check(c->dr.events, c->dr.n_events, &f)) {
        return ERROR_OK;
    }
    simconf_dr_value(&c->dr.events[f.index], f.field, value, sizeof(value));
    if (f.other >= 0) {
        snprintf(other,
                 sizeof(other),
                 " \"%.48s\" (dr.events[%d])",
                 c->dr.events[f.other].id,
                 f.other);
    }
    return error_setf(ed,
                      ERROR_INVALID,
                      strcmp(f.field, "limit_kw") == 0 ? "dr.events[%d].%s: %s: %s%s"
                                                       : "dr.events[%d].%s: \"%s\": %s%s",
                      f.index,
                      f.field,
                      value,
                      f.rule,
                      other);
}

static int sc_check(struct simconf *c, struct error_detail *ed)
{
    struct world_options wo;

    if (c->step_minutes != SC_NO && 1440 % c->step_minutes != 0) {
        return error_setf(ed,
                          ERROR_INVALID,
                          "step_minutes: %d: must divide a day (1440 minutes)",
                          c->step_minutes);
    }
    if (sc_events_check(c, ed)) {
        return ERROR_INVALID;
    }
    /* the models' own rules, on the file laid over the defaults */
    world_options_default(&wo);
    simconf_apply(c, &wo);
    if (demand_params_validate(&wo.demand, ed)) {
        return sc_nested(ed, "demand");
    }
    if (drgen_params_validate(&wo.drgen, ed)) {
        return sc_nested(ed, "dr");
    }
    return ERROR_OK;
}

static void sc_unset(struct simconf_source *s)
{
    for (int m = 0; m < 12; m++) {
        s->month_factor[m] = NAN;
    }
}

/* ---- public -------------------------------------------------------------------------- */

int simconf_parse(const char *text,
                  size_t len,
                  const char *name,
                  struct simconf **out,
                  struct error_detail *ed)
{
    struct simconf *c = ALLOC_NEW(struct simconf);
    struct jsonfields_ctx ctx = {0};
    const cJSON *dr;
    cJSON *root = NULL;
    int rc;

    *out = NULL;
    sc_unset(&c->sources.tourist);
    sc_unset(&c->sources.through);
    sc_unset(&c->sources.night);
    sc_unset(&c->sources.community);
    rc = jsonfields_load(text, len, SIMCONF_MAX_BYTES, &root, ed);
    if (!rc) {
        ctx.user = c;
        rc = jsonfields_parse(sc_root, root, c, "", &ctx, ed);
    }
    if (!rc) {
        dr = cJSON_GetObjectItemCaseSensitive(root, "dr");
        c->dr.has_kinds = dr && cJSON_GetObjectItemCaseSensitive(dr, "kinds") != NULL;
        rc = sc_check(c, ed);
    }
    if (rc) {
        simconf_free(c);
        c = NULL;
        if (name) {
            error_prefix(ed, name);
        }
    }
    cJSON_Delete(root);
    *out = c;
    return rc;
}

int simconf_load(const char *path, struct simconf **out, struct error_detail *ed)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = fileio_read_all(path, SIMCONF_MAX_BYTES, &text, &len, ed);
    if (rc == ERROR_OK) {
        rc = simconf_parse(text, len, path, out, ed);
    }
    free(text);
    return rc;
}

void simconf_free(struct simconf *c)
{
    if (!c) {
        return;
    }
    free(c->dr.events);
    free(c);
}

void simconf_apply(const struct simconf *c, struct world_options *wo)
{
    wo->start_ms = c->start[0] ? c->start_ms : wo->start_ms;
    wo->days = c->days != SC_NO ? c->days : wo->days;
    wo->step_minutes = c->step_minutes != SC_NO ? c->step_minutes : wo->step_minutes;
    wo->seed = c->seed != SC_NO ? (uint64_t)c->seed : wo->seed;
    wo->sky = c->sky != SC_NO ? c->sky : wo->sky;
    wo->csi_scale = isnan(c->csi_scale) ? wo->csi_scale : c->csi_scale;
    wo->csi_fixed = isnan(c->csi_fixed) ? wo->csi_fixed : c->csi_fixed;
    wo->pv_forecast_csi = isnan(c->pv_forecast_csi) ? wo->pv_forecast_csi : c->pv_forecast_csi;
    wo->pv_forecast_tau_h =
        isnan(c->pv_forecast_tau_h) ? wo->pv_forecast_tau_h : c->pv_forecast_tau_h;
    wo->base_noise_sd = isnan(c->base_noise_sd) ? wo->base_noise_sd : c->base_noise_sd;
    wo->visitor_flow = isnan(c->visitor_flow) ? wo->visitor_flow : c->visitor_flow;
    wo->max_wait_minutes =
        c->max_wait_minutes != SC_NO ? c->max_wait_minutes : wo->max_wait_minutes;
    sc_demand_apply(c, &wo->demand);
    if (c->dr.generate != SC_NO) {
        wo->dr_generate = c->dr.generate;
    } else if (c->dr.n_events > 0 || c->dr.preset > 0) {
        wo->dr_generate = 0; /* a file that lists its events wants those */
    }
    if (c->dr.has_kinds) {
        wo->drgen = c->dr.drgen;
    }
    if (c->dr.preset > 0) {
        wo->dr_preset = drgen_preset_names[c->dr.preset];
    }
    if (c->dr.n_events > 0) {
        wo->n_dr = c->dr.n_events;
        wo->dr = c->dr.events;
    }
}

void simconf_apply_tariff(const struct simconf *c, struct tariff *t)
{
    t->export_cny_per_kwh =
        isnan(c->export_cny_per_kwh) ? t->export_cny_per_kwh : c->export_cny_per_kwh;
    t->demand_charge_cny_per_kw_month = isnan(c->demand_charge_cny_per_kw_month)
                                            ? t->demand_charge_cny_per_kw_month
                                            : c->demand_charge_cny_per_kw_month;
    t->service_fee_cny_per_kwh =
        isnan(c->service_fee_cny_per_kwh) ? t->service_fee_cny_per_kwh : c->service_fee_cny_per_kwh;
}

/* ---- times and event lists ----------------------------------------------------------- */

static int sc_digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return ERROR_PARSE;
        }
        *v = *v * 10 + (s[i] - '0');
    }
    return ERROR_OK;
}

int simconf_parse_time(const char *s, size_t len, int64_t *ts_ms)
{
    char date[11];
    int64_t day;
    int y, h, mi, sec = 0, oh = 0, om = 0, sign = 1;
    size_t p = 16;

    if (len < 17 || s[10] != 'T' || s[13] != ':') {
        return ERROR_PARSE;
    }
    memcpy(date, s, 10);
    date[10] = '\0';
    if (clock_parse_date(date, &day) || sc_digits(s, 4, &y) || y < SIMCONF_YEAR_MIN ||
        y > SIMCONF_YEAR_MAX || sc_digits(s + 11, 2, &h) || sc_digits(s + 14, 2, &mi) || h > 23 ||
        mi > 59) {
        return ERROR_PARSE;
    }
    if (s[16] == ':') {
        if (len < 20 || sc_digits(s + 17, 2, &sec) || sec > 59) {
            return ERROR_PARSE;
        }
        p = 19;
    }
    if (len - p == 6 && (s[p] == '+' || s[p] == '-') && !sc_digits(s + p + 1, 2, &oh) &&
        s[p + 3] == ':' && !sc_digits(s + p + 4, 2, &om) && oh <= 23 && om <= 59) {
        sign = s[p] == '-' ? -1 : 1;
    } else if (!(len - p == 1 && s[p] == 'Z')) {
        return ERROR_PARSE;
    }
    /* clock_parse_date gives the +08:00 midnight; the UTC one is 8 h later */
    *ts_ms = day + CLOCK_LOCAL_OFFSET_MS + ((int64_t)h * 3600 + mi * 60 + sec) * 1000 -
             sign * ((int64_t)oh * 60 + om) * 60000;
    return ERROR_OK;
}

static int sc_cmp_ptr(const void *x, const void *y)
{
    return (x > y) - (x < y);
}

static int sc_cmp_dr_id(const void *a, const void *b)
{
    const struct controller_dr *x = *(const struct controller_dr *const *)a;
    const struct controller_dr *y = *(const struct controller_dr *const *)b;
    int d = strcmp(x->id, y->id);

    return d ? d : sc_cmp_ptr(x, y);
}

static int sc_cmp_dr_start(const void *a, const void *b)
{
    const struct controller_dr *x = *(const struct controller_dr *const *)a;
    const struct controller_dr *y = *(const struct controller_dr *const *)b;

    if (x->start_ms != y->start_ms) {
        return x->start_ms < y->start_ms ? -1 : 1;
    }
    return sc_cmp_ptr(x, y);
}

static int
sc_fault(struct simconf_dr_fault *f, int i, int other, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
sc_fault(struct simconf_dr_fault *f, int i, int other, const char *field, const char *fmt, ...)
{
    va_list ap;

    f->index = i;
    f->other = other;
    f->field = field;
    va_start(ap, fmt);
    (void)vsnprintf(f->rule, sizeof(f->rule), fmt, ap);
    va_end(ap);
    return 1;
}

/* Ids once each, and no cap overlapping a floor: both on sorted copies. */
static int sc_dr_pairs(const struct controller_dr *dr, int n, struct simconf_dr_fault *f)
{
    const struct controller_dr **by = alloc_array((size_t)n, sizeof(*by));
    const struct controller_dr *last[2] = {NULL, NULL}; /* latest-ending event of each type */
    int bad = 0;

    for (int i = 0; i < n; i++) {
        by[i] = &dr[i];
    }
    qsort(by, (size_t)n, sizeof(*by), sc_cmp_dr_id);
    for (int i = 1; i < n && !bad; i++) {
        if (strcmp(by[i - 1]->id, by[i]->id) == 0) {
            bad =
                sc_fault(f, (int)(by[i] - dr), (int)(by[i - 1] - dr), "id", "duplicates the id of");
        }
    }
    qsort(by, (size_t)n, sizeof(*by), sc_cmp_dr_start);
    for (int i = 0; i < n && !bad; i++) {
        int t = by[i]->type == SCENARIO_DR_IMPORT_CAP ? 0 : 1;
        const struct controller_dr *o = last[1 - t];

        if (o && o->end_ms > by[i]->start_ms) {
            bad = sc_fault(f,
                           (int)(by[i] - dr),
                           (int)(o - dr),
                           "start",
                           "a grid asks for a cap or a floor, not both: this %s overlaps the %s",
                           t ? "import_floor" : "import_cap",
                           t ? "import_cap" : "import_floor");
        }
        if (!last[t] || by[i]->end_ms > last[t]->end_ms) {
            last[t] = by[i];
        }
    }
    free(by);
    return bad;
}

int simconf_dr_check(const struct controller_dr *dr, int n, struct simconf_dr_fault *f)
{
    char t[32];

    memset(f, 0, sizeof(*f));
    f->other = -1;
    for (int i = 0; i < n; i++) {
        simconf_dr_value(&dr[i], "start", t, sizeof(t));
        if (dr[i].type != SCENARIO_DR_IMPORT_CAP && dr[i].type != SCENARIO_DR_IMPORT_FLOOR) {
            return sc_fault(f, i, -1, "type", "must be import_cap or import_floor");
        }
        if (!(dr[i].limit_kw >= 0.0 && dr[i].limit_kw <= SCENARIO_POWER_MAX_KW)) {
            return sc_fault(f, i, -1, "limit_kw", "must be in [0, %g]", SCENARIO_POWER_MAX_KW);
        }
        if (dr[i].notice_ms > dr[i].start_ms) {
            return sc_fault(f, i, -1, "notice", "must not be after start %s", t);
        }
        if (dr[i].end_ms <= dr[i].start_ms) {
            return sc_fault(f, i, -1, "end", "must be after start %s", t);
        }
    }
    return sc_dr_pairs(dr, n, f);
}

void simconf_dr_value(const struct controller_dr *ev, const char *field, char *buf, size_t n)
{
    int64_t ts = strcmp(field, "notice") == 0  ? ev->notice_ms
                 : strcmp(field, "start") == 0 ? ev->start_ms
                                               : ev->end_ms;

    if (strcmp(field, "id") == 0) {
        snprintf(buf, n, "%s", ev->id);
    } else if (strcmp(field, "type") == 0) {
        snprintf(buf, n, "%d", (int)ev->type);
    } else if (strcmp(field, "limit_kw") == 0) {
        snprintf(buf, n, "%g", ev->limit_kw);
    } else if (n < 32 || clock_format_iso(ts, buf, n) < 0) {
        snprintf(buf, n, "%s", "");
    }
}
