/* SPDX-License-Identifier: MIT */
/*
 * history_query.c - the resume queries of io/history.h, through statements
 * prepared at open: the open sessions and those since a time, the active
 * plan, the DR events not yet over, the mean net import, and the functions
 * that free what they return. Runs on the thread that owns the struct
 * history.
 */
#include "history_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double column_opt_double(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static void column_id(sqlite3_stmt *st, int i, char *dst)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    snprintf(dst, HISTORY_ID_MAX, "%s", t ? (const char *)t : "");
}

static char *column_strdup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return alloc_strdup(t ? (const char *)t : "");
}

static int name_index(const char *const *names, int n, const unsigned char *text)
{
    for (int i = 0; text && i < n; i++) {
        if (strcmp(names[i], (const char *)text) == 0) {
            return i;
        }
    }
    return -1;
}

/* Step a resume query: 1 for a row, 0 at the end, -1 on error (ed set). */
static int history_next_row(struct history *h, sqlite3_stmt *st, struct error_detail *ed)
{
    int src = sqlite3_step(st);

    if (src == SQLITE_ROW) {
        return 1;
    }
    if (src != SQLITE_DONE) {
        struct error_detail local;

        history_fail(h, src, "resume query", ed ? ed : &local);
        history_log_error(ed ? ed->text : local.text, "");
        return -1;
    }
    return 0;
}

/* The rows of a session query into a new array (see history_open_sessions). */
static int history_read_sessions(struct history *h,
                                 sqlite3_stmt *st,
                                 struct history_session **out,
                                 int *n,
                                 struct error_detail *ed)
{
    struct vec v = {NULL, 0, 0};
    int row;

    while ((row = history_next_row(h, st, ed)) == 1) {
        struct history_session *s = vec_push(&v, sizeof(*s));
        const unsigned char *state = sqlite3_column_text(st, 7);

        column_id(st, 0, s->id);
        column_id(st, 1, s->connector_id);
        s->plugin_ms = sqlite3_column_int64(st, 2);
        s->unplug_ms = sqlite3_column_int64(st, 3); /* NULL reads as 0 */
        s->energy_kwh = sqlite3_column_double(st, 4);
        s->departure_ms = sqlite3_column_int64(st, 5);
        s->wanted_kwh = column_opt_double(st, 6);
        s->state = state && strcmp((const char *)state, "open") == 0 ? HISTORY_SESSION_OPEN
                                                                     : HISTORY_SESSION_CLOSED;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (row < 0) {
        free(v.items);
        v.items = NULL;
        v.n = 0;
    }
    *out = (struct history_session *)v.items;
    *n = v.n;
    return row < 0 ? ERROR_IO : ERROR_OK;
}

int history_open_sessions(struct history *h,
                          struct history_session **out,
                          int *n,
                          struct error_detail *ed)
{
    return history_read_sessions(h, h->st[ST_OPEN_SESSIONS], out, n, ed);
}

int history_sessions_since(struct history *h,
                           int64_t since_ms,
                           struct history_session **out,
                           int *n,
                           struct error_detail *ed)
{
    sqlite3_bind_int64(h->st[ST_SESSIONS_SINCE], 1, since_ms);
    return history_read_sessions(h, h->st[ST_SESSIONS_SINCE], out, n, ed);
}

int history_active_plan(struct history *h,
                        struct history_plan *out,
                        int *found,
                        struct error_detail *ed)
{
    sqlite3_stmt *st = h->st[ST_ACTIVE_PLAN];
    int row = history_next_row(h, st, ed);

    memset(out, 0, sizeof(*out));
    *found = row == 1;
    if (row == 1) {
        column_id(st, 0, out->id);
        out->created_ms = sqlite3_column_int64(st, 1);
        out->horizon_start_ms = sqlite3_column_int64(st, 2);
        out->step_minutes = sqlite3_column_int(st, 3);
        out->steps = sqlite3_column_int(st, 4);
        out->status = HISTORY_PLAN_ACTIVE;
        out->objective_cny = column_opt_double(st, 5);
        out->json = column_strdup(st, 6);
    }
    sqlite3_reset(st);
    return row < 0 ? ERROR_IO : ERROR_OK;
}

void history_plan_clear(struct history_plan *p)
{
    if (p) {
        free(p->json);
        p->json = NULL;
    }
}

int history_active_dr(struct history *h, struct history_dr **out, int *n, struct error_detail *ed)
{
    sqlite3_stmt *st = h->st[ST_ACTIVE_DR];
    struct vec v = {NULL, 0, 0};
    int row;

    while ((row = history_next_row(h, st, ed)) == 1) {
        struct history_dr *d = vec_push(&v, sizeof(*d));
        int state = name_index(dr_state_names, 6, sqlite3_column_text(st, 4));

        column_id(st, 0, d->id);
        d->received_ms = sqlite3_column_int64(st, 1);
        d->start_ms = sqlite3_column_int64(st, 2);
        d->end_ms = sqlite3_column_int64(st, 3);
        d->state = state < 0 ? HISTORY_DR_RECEIVED : (enum history_dr_state)state;
        d->json = column_strdup(st, 5);
    }
    sqlite3_reset(st);
    if (row < 0) {
        history_dr_list_free((struct history_dr *)v.items, v.n);
        v.items = NULL;
        v.n = 0;
    }
    *out = (struct history_dr *)v.items;
    *n = v.n;
    return row < 0 ? ERROR_IO : ERROR_OK;
}

int history_mean_net_kw(struct history *h,
                        int64_t from_ms,
                        int64_t to_ms,
                        double *mean_kw,
                        int *minutes,
                        struct error_detail *ed)
{
    sqlite3_stmt *st = h->st[ST_MEAN_NET];
    int row;

    *mean_kw = NAN;
    *minutes = 0;
    sqlite3_bind_int64(st, 1, from_ms);
    sqlite3_bind_int64(st, 2, to_ms);
    row = history_next_row(h, st, ed);
    if (row == 1 && sqlite3_column_type(st, 0) != SQLITE_NULL && sqlite3_column_int64(st, 1) > 0) {
        *mean_kw = sqlite3_column_double(st, 0) / (double)sqlite3_column_int64(st, 1);
        *minutes = sqlite3_column_int(st, 2);
    }
    sqlite3_reset(st);
    return row < 0 ? ERROR_IO : ERROR_OK;
}

void history_dr_list_free(struct history_dr *list, int n)
{
    for (int i = 0; list && i < n; i++) {
        free(list[i].json);
    }
    free(list);
}
