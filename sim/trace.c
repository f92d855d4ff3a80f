/* SPDX-License-Identifier: MIT */
/*
 * trace.c - allocation of simulation traces. The run loop that fills a
 * trace owns it; KPI and report code only read it.
 */
#include "trace.h"

#include "../common/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const trace_source_names[4] = {"tourist", "through", "night", "community"};

struct trace *trace_new(const char *strategy, int step_minutes, int n_rows)
{
    struct trace *t = ALLOC_NEW(struct trace);

    snprintf(t->strategy, sizeof(t->strategy), "%s", strategy);
    t->step_minutes = step_minutes;
    t->n_rows = n_rows;
    t->rows = alloc_array((size_t)n_rows, sizeof(*t->rows));
    return t;
}

void trace_free(struct trace *t)
{
    if (!t) {
        return;
    }
    free(t->rows);
    free(t->sessions);
    free(t->dr);
    free(t);
}

struct trace_session *trace_add_session(struct trace *t)
{
    t->sessions = alloc_resize(t->sessions, (size_t)t->n_sessions + 1, sizeof(*t->sessions));
    memset(&t->sessions[t->n_sessions], 0, sizeof(*t->sessions));
    return &t->sessions[t->n_sessions++];
}

struct trace_dr *trace_add_dr(struct trace *t)
{
    t->dr = alloc_resize(t->dr, (size_t)t->n_dr + 1, sizeof(*t->dr));
    memset(&t->dr[t->n_dr], 0, sizeof(*t->dr));
    return &t->dr[t->n_dr++];
}
