/* SPDX-License-Identifier: MIT */
/*
 * fuzz_replay.c - libFuzzer target for the replay CSV reader and the world
 * it builds. The input is one or more files, each after a line
 * "--- pv.csv" (or base_load.csv, sessions.csv, dr_events.csv); an input
 * without such a line is read as each of the four files in turn. Every
 * parse must succeed or fail with a NUL-terminated message naming the file
 * and leave nothing behind; when both series parse, the covered days (at
 * most three) are built into a world on the built-in station, whose every
 * step must be finite and non-negative. Replayed over tests/fuzz/corpus/
 * by ctest.
 */
#include "../../config/builtin.h"
#include "../../sim/replay.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_parse(struct replay *rp, int f, const char *text, size_t len)
{
    struct error_detail ed;
    int rc;

    memset(&ed, 0, sizeof(ed));
    rc = replay_parse(rp, (enum replay_file)f, text, len, replay_file_names[f], &ed);
    if (memchr(ed.text, '\0', sizeof(ed.text)) == NULL ||
        (rc && (replay_count(rp, (enum replay_file)f) != 0 ||
                strncmp(ed.text, replay_file_names[f], strlen(replay_file_names[f])) != 0))) {
        abort(); /* a failed parse keeps nothing and names its file */
    }
}

/* The file a "--- name" line at p starts, or -1. */
static int fz_marker(const char *p, const char *end, const char **body)
{
    for (int f = 0; f < REPLAY_FILES; f++) {
        size_t n = strlen(replay_file_names[f]);

        if ((size_t)(end - p) >= n + 5 && memcmp(p, "--- ", 4) == 0 &&
            memcmp(p + 4, replay_file_names[f], n) == 0 && p[4 + n] == '\n') {
            *body = p + 5 + n;
            return f;
        }
    }
    return -1;
}

static void fz_world(const struct replay *rp)
{
    static struct station *st;
    struct error_detail ed;
    struct world_options wo;
    struct world *w = NULL;
    int days = 0;

    if (!st && builtin_station_load(&st, &ed)) {
        abort();
    }
    world_options_default(&wo);
    demand_params_from_station(&wo.demand, st);
    if (replay_range(rp, &wo.start_ms, &days, &ed)) {
        return;
    }
    wo.days = days > 3 ? 3 : days;
    wo.pad_steps = 96;
    if (replay_world(rp, st, &wo, &w, &ed) == ERROR_OK) {
        for (int k = 0; k < w->total; k++) {
            if (!(w->pv_true_kw[k] >= 0.0 && w->base_true_kw[k] >= 0.0 &&
                  isfinite(w->pv_true_kw[k]) && isfinite(w->base_true_kw[k]))) {
                abort();
            }
        }
        for (int i = 1; i < w->n_cars; i++) {
            if (w->cars[i].ev.arrival_ms < w->cars[i - 1].ev.arrival_ms) {
                abort();
            }
        }
    } else if (w || memchr(ed.text, '\0', sizeof(ed.text)) == NULL) {
        abort();
    }
    world_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *end = text + size;
    const char *body = NULL;
    struct replay *rp = replay_new();
    int f = fz_marker(text, end, &body);

    if (f < 0) {
        for (int g = 0; g < REPLAY_FILES; g++) {
            fz_parse(rp, g, text, size);
        }
    }
    while (f >= 0) {
        const char *p = body;
        const char *next = NULL;
        int nf = -1;

        /* the section runs to the next marker line or the end */
        while (p < end && (nf = fz_marker(p, end, &next)) < 0) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));

            p = nl ? nl + 1 : end;
        }
        fz_parse(rp, f, body, (size_t)(p - body));
        f = nf;
        body = next;
    }
    if (replay_count(rp, REPLAY_PV) && replay_count(rp, REPLAY_BASE_LOAD)) {
        fz_world(rp);
    }
    replay_free(rp);
    return 0;
}
