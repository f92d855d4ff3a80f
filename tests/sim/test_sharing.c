/* SPDX-License-Identifier: MIT */
/*
 * test_sharing.c - the community sharing windows in a whole simulated run:
 * one seed, two days, the mpc strategy, once as `flexd sim` runs it and
 * once with sharing off (`--no-sharing`: demand.sharing_enabled = 0, so no
 * community night parking and no shared charging). Sharing must bring
 * night and community cars and nothing else, and raise the chargers' time
 * and energy utilisation and the sessions served; the changes are printed.
 * Seed from FLEXD_TEST_SEED (default 20260715), printed.
 */
#include "check.h"

#include "common/clock.h"
#include "common/numparse.h"
#include "config/builtin.h"
#include "sim/kpi.h"
#include "sim/run.h"
#include "sim/world.h"

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#define SH_DAYS 2

static uint64_t sh_seed(void)
{
    const char *s = getenv("FLEXD_TEST_SEED");
    uint64_t seed = 20260715;
    long v;

    if (s && numparse_long(s, 0, LONG_MAX, &v) == 0) {
        seed = (uint64_t)v;
    }
    return seed;
}

/* The world and run of `flexd sim --days 2 --seed N [--no-sharing]`. */
static struct trace *sh_run(const struct station *st, uint64_t seed, int sharing)
{
    struct world_options wo;
    struct run_options ro;
    struct error_detail ed = {{0}};
    struct world *w = NULL;
    struct trace *t = NULL;

    world_options_default(&wo);
    wo.start_ms = clock_from_local(2026, 7, 15, 0, 0, 0);
    wo.days = SH_DAYS;
    wo.step_minutes = 15;
    wo.seed = seed;
    wo.pad_steps = 2 * 96;
    demand_params_from_station(&wo.demand, st);
    wo.demand.sharing_enabled = sharing;
    CHECK(world_build(st, &wo, &w, &ed) == ERROR_OK);
    if (w) {
        run_options_default(&ro);
        ro.strategy = CONTROLLER_MPC;
        CHECK(run_strategy(w, &ro, &t, &ed) == ERROR_OK);
    }
    if (!t) {
        fprintf(stderr, "sharing %d: %s\n", sharing, ed.text);
    }
    world_free(w);
    return t;
}

static int sh_count(const struct trace *t, enum trace_source s)
{
    int n = 0;

    for (int i = 0; i < t->n_sessions; i++) {
        n += t->sessions[i].source == s;
    }
    return n;
}

/* 1 if every tourist and through-traffic arrival of a is in b with the
 * same times and energy (the sources draw from their own streams). */
static int sh_same_public(const struct trace *a, const struct trace *b)
{
    int j = 0;

    for (int i = 0; i < a->n_sessions; i++) {
        const struct trace_session *x = &a->sessions[i];

        if (x->source == TRACE_SOURCE_NIGHT || x->source == TRACE_SOURCE_COMMUNITY) {
            continue;
        }
        while (j < b->n_sessions && (b->sessions[j].source == TRACE_SOURCE_NIGHT ||
                                     b->sessions[j].source == TRACE_SOURCE_COMMUNITY)) {
            j++;
        }
        if (j == b->n_sessions || strcmp(x->id, b->sessions[j].id) != 0 ||
            x->arrival_ms != b->sessions[j].arrival_ms ||
            x->departure_ms != b->sessions[j].departure_ms ||
            x->wanted_kwh != b->sessions[j].wanted_kwh) {
            return 0;
        }
        j++;
    }
    return 1;
}

int main(void)
{
    uint64_t seed = sh_seed();
    struct station *st = NULL;
    struct error_detail ed = {{0}};
    struct trace *on = NULL;
    struct trace *off = NULL;
    struct kpi k_on;
    struct kpi k_off;

    printf("seed %" PRIu64 " (FLEXD_TEST_SEED)\n", seed);
    CHECK(builtin_station_load(&st, &ed) == ERROR_OK);
    if (st) {
        on = sh_run(st, seed, 1);
        off = sh_run(st, seed, 0);
    }
    if (on && off) {
        kpi_total(on, &k_on);
        kpi_total(off, &k_off);
        printf("sharing on/off over %d days: charger time use %.2f %% / %.2f %% (%+.2f points), "
               "energy use %.2f %% / %.2f %% (%+.2f points), sessions served %d / %d (%+d), "
               "arrivals %d / %d, night %d, community %d, EV energy %.1f / %.1f kWh\n",
               SH_DAYS,
               100.0 * k_on.charger_time_utilisation,
               100.0 * k_off.charger_time_utilisation,
               100.0 * (k_on.charger_time_utilisation - k_off.charger_time_utilisation),
               100.0 * k_on.charger_energy_utilisation,
               100.0 * k_off.charger_energy_utilisation,
               100.0 * (k_on.charger_energy_utilisation - k_off.charger_energy_utilisation),
               k_on.ev_sessions_served,
               k_off.ev_sessions_served,
               k_on.ev_sessions_served - k_off.ev_sessions_served,
               k_on.ev_arrivals,
               k_off.ev_arrivals,
               sh_count(on, TRACE_SOURCE_NIGHT),
               sh_count(on, TRACE_SOURCE_COMMUNITY),
               k_on.ev_energy_kwh,
               k_off.ev_energy_kwh);
        /* sharing off: no community car at all; on: both kinds over two days */
        CHECK(sh_count(off, TRACE_SOURCE_NIGHT) == 0 && sh_count(off, TRACE_SOURCE_COMMUNITY) == 0);
        CHECK(sh_count(on, TRACE_SOURCE_NIGHT) > 0 && sh_count(on, TRACE_SOURCE_COMMUNITY) > 0);
        CHECK(sh_same_public(on, off));
        CHECK(sh_same_public(off, on));
        CHECK(k_on.n_steps == k_off.n_steps && k_on.n_steps == SH_DAYS * 96);
        /* the expected direction: more cars, more connector-hours, more energy */
        CHECK(k_on.ev_arrivals > k_off.ev_arrivals);
        CHECK(k_on.ev_sessions_served > k_off.ev_sessions_served);
        CHECK(k_on.charger_time_utilisation > k_off.charger_time_utilisation);
        CHECK(k_on.charger_energy_utilisation > k_off.charger_energy_utilisation);
        CHECK(k_on.ev_energy_kwh > k_off.ev_energy_kwh);
    }
    trace_free(off);
    trace_free(on);
    station_free(st);
    return CHECK_DONE();
}
