/* SPDX-License-Identifier: MIT */
/*
 * run.c - the simulation loop for one strategy: see, decide (controller),
 * correct (the real-time correction, on the true values), then physics.
 * The controller never sees the truth unless the run asks for perfect
 * foresight. Simulator thread.
 */
#include "run.h"

#include "../common/alloc.h"
#include "../common/clock.h"
#include "../engine/correction.h"
#include "../engine/ev_forecast.h"
#include "../engine/planner.h"
#include "../engine/rules.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct run_state {
    const struct world *w;
    const struct station *st;
    const struct run_options *opt;
    struct controller *ctl;
    struct trace *t;
    int n_conn;
    int horizon;
    double dt_h;
    double energy_kwh; /* battery */
    double month_peak_kw;
    int month;
    double *remaining_kwh; /* [cars] */
    double *delivered_kwh;
    double *revenue_cny;
    double *fee_cny;
    int *pending; /* cars arrived and not yet gone */
    int n_pending;
    int cursor; /* next car not yet arrived */
    struct controller_ev *evs;
    struct controller_ev *future;
    int n_future_cap;
    struct controller_dr *dr; /* what the controller is told */
    double *pv_fc;
    double *base_fc;
    double *ev_fc;
    struct ev_forecast *evf; /* ev_forecast_learned only */
    double *connector_kw;
    double *accept_kw;
};

void run_options_default(struct run_options *o)
{
    memset(o, 0, sizeof(*o));
    o->strategy = CONTROLLER_MPC;
    o->horizon_steps = 96;
    o->soc_initial = 0.5;
    o->rule_peak_fraction = 0.8;
}

static int run_sees_truth(const struct run_options *o)
{
    return o->strategy == CONTROLLER_ORACLE || o->perfect_forecast;
}

static void run_car_ev(const struct run_state *s, int i, struct controller_ev *ev)
{
    const struct world_car *car = &s->w->cars[i];
    int64_t dt_ms = (int64_t)s->w->opt.step_minutes * 60000;

    snprintf(ev->id, sizeof(ev->id), "%s", car->ev.id);
    ev->connector = car->connector;
    ev->plug_ms = s->w->opt.start_ms + car->plug_step * dt_ms;
    ev->departure_ms =
        run_sees_truth(s->opt) ? car->ev.departure_ms : car->ev.declared_departure_ms;
    ev->wanted_kwh = s->remaining_kwh[i];
    ev->max_kw = car->max_kw;
}

/* What flexd run would learn at step k from car i: its plug-in, or its
 * session once it has gone. */
static void run_learn(struct run_state *s, int i, int k)
{
    const struct world_car *car = &s->w->cars[i];
    int64_t dt_ms = (int64_t)s->w->opt.step_minutes * 60000;
    int c;
    int type;

    planner_connector(s->st, car->connector, &c);
    type = s->st->chargers[c].type == STATION_CHARGER_DC ? EV_FORECAST_DC : EV_FORECAST_AC;
    if (car->plug_step == k) {
        ev_forecast_arrival(s->evf, type, s->w->opt.start_ms + car->plug_step * dt_ms);
    }
    if (car->dep_step <= k) {
        ev_forecast_departure(s->evf,
                              type,
                              s->delivered_kwh[i],
                              (double)(car->dep_step - car->plug_step) * dt_ms / 60000.0);
    }
}

/* Cars plugged in at step k, and (under perfect foresight) cars to come. */
static void run_cars(struct run_state *s, int k, struct controller_input *in)
{
    const struct world *w = s->w;
    int n = 0;

    while (s->cursor < w->n_cars &&
           w->cars[s->cursor].ev.arrival_ms <
               w->opt.start_ms + (int64_t)(k + 1) * w->opt.step_minutes * 60000) {
        s->pending[s->n_pending++] = s->cursor++;
    }
    for (int j = 0; j < s->n_pending; j++) {
        const struct world_car *car = &w->cars[s->pending[j]];

        if (s->evf && car->connector >= 0 && (car->plug_step == k || car->dep_step <= k)) {
            run_learn(s, s->pending[j], k);
        }
        if (car->dep_step <= k || car->connector < 0) {
            s->pending[j--] = s->pending[--s->n_pending]; /* gone, or lost */
            continue;
        }
        if (car->plug_step <= k && s->remaining_kwh[s->pending[j]] > 1e-9) {
            run_car_ev(s, s->pending[j], &s->evs[n++]);
        }
    }
    in->evs = s->evs;
    in->n_evs = n;
    in->n_future = 0;
    in->future = s->future;
    if (!run_sees_truth(s->opt)) {
        return;
    }
    for (int i = 0; i < w->n_cars; i++) {
        const struct world_car *car = &w->cars[i];

        if (car->plug_step > k + 2 * s->horizon) {
            break; /* cars are in arrival order and wait at most a few steps */
        }
        if (car->connector < 0 || car->plug_step <= k || car->wanted_kwh <= 0.0) {
            continue;
        }
        if (in->n_future == s->n_future_cap) {
            s->n_future_cap = 2 * s->n_future_cap + 16;
            s->future = alloc_resize(s->future, (size_t)s->n_future_cap, sizeof(*s->future));
            in->future = s->future;
        }
        run_car_ev(s, i, &s->future[in->n_future++]);
    }
}

static void run_input(struct run_state *s, int k, struct controller_input *in)
{
    const struct world *w = s->w;
    int64_t now = w->opt.start_ms + (int64_t)k * w->opt.step_minutes * 60000;
    struct clock_civil lt;

    memset(in, 0, sizeof(*in));
    in->now_ms = now;
    clock_to_local(now, &lt);
    if (lt.month != s->month) {
        s->month = lt.month;
        s->month_peak_kw = 0.0;
    }
    in->month_peak_kw = s->month_peak_kw;
    in->departure_margin_ms =
        run_sees_truth(s->opt) ? 0 : (int64_t)s->st->control.departure_margin_min * 60000;
    in->soc = s->st->has_ess ? s->energy_kwh / s->st->ess.capacity_kwh : 0.0;
    in->soc_known = s->st->has_ess;
    in->pv_available_kw = k > 0 ? w->pv_true_kw[k - 1] : 0.0;
    in->base_load_kw = k > 0 ? w->base_true_kw[k - 1] : w->base_profile_kw[0];
    world_forecast(w, k, s->horizon * 2, run_sees_truth(s->opt), s->pv_fc, s->base_fc, s->ev_fc);
    in->forecast_steps = s->horizon * 2;
    in->pv_forecast_kw = s->pv_fc;
    in->base_forecast_kw = s->base_fc;
    in->ev_forecast_kw = s->ev_fc;
    in->dr = s->dr;
    in->n_dr = w->n_dr;
    run_cars(s, k, in);
    if (s->evf && !run_sees_truth(s->opt)) {
        ev_forecast_advance(s->evf, now);
        ev_forecast_kw(s->evf, now, w->opt.step_minutes, s->horizon * 2, s->ev_fc);
    }
}

/* What each car would draw now: its own limit, the connector's, the energy
 * it still wants. */
static void run_accept(struct run_state *s, const struct controller_input *in)
{
    for (int k = 0; k < s->n_conn; k++) {
        s->accept_kw[k] = 0.0;
    }
    for (int i = 0; i < in->n_evs; i++) {
        const struct controller_ev *ev = &in->evs[i];

        s->accept_kw[ev->connector] = fmax(0.0, fmin(ev->max_kw, ev->wanted_kwh / s->dt_h));
    }
}

/* Power each connector really draws: min(limit, car), cabinets capped. */
static double run_ev_draw(struct run_state *s, double *draw_kw)
{
    double total = 0.0;
    int k0 = 0;

    for (int c = 0; c < s->st->n_chargers; c++) {
        int n = s->st->chargers[c].n_connectors;
        double cab = 0.0;
        double scale;

        for (int j = 0; j < n; j++) {
            draw_kw[k0 + j] = fmax(0.0, fmin(s->connector_kw[k0 + j], s->accept_kw[k0 + j]));
            cab += draw_kw[k0 + j];
        }
        scale = cab > s->st->chargers[c].max_kw ? s->st->chargers[c].max_kw / cab : 1.0;
        for (int j = 0; j < n; j++) {
            draw_kw[k0 + j] *= scale;
            total += draw_kw[k0 + j];
        }
        k0 += n;
    }
    return total;
}

/* Flows of step k from the corrected setpoints; fills the trace row. */
static void run_physics(struct run_state *s,
                        int k,
                        const struct controller_input *in,
                        const struct controller_output *out,
                        struct trace_row *row)
{
    const struct world *w = s->w;
    const struct station *st = s->st;
    double draw[STATION_CHARGERS_MAX * STATION_CONNECTORS_MAX];
    double ch_max = 0.0;
    double dis_max = 0.0;
    double ev = run_ev_draw(s, draw);
    double pv = fmin(w->pv_true_kw[k], out->pv_limit_kw);
    double ess;
    double net;

    correction_ess_bounds(st, in->soc, w->opt.step_minutes, &ch_max, &dis_max);
    ess = fmin(fmax(out->ess_kw, -ch_max), dis_max);
    net = w->base_true_kw[k] + ev - ess - pv;
    if (-net > st->grid.export_limit_kw) { /* anti-reverse-flow protection */
        double cut = fmin(pv, -net - st->grid.export_limit_kw);

        pv -= cut;
        net += cut;
        if (-net > st->grid.export_limit_kw && ess > 0.0) {
            double less = fmin(ess, -net - st->grid.export_limit_kw);

            ess -= less;
            net += less;
        }
    }
    if (st->has_ess) {
        s->energy_kwh += ess > 0.0 ? -ess * s->dt_h / st->ess.discharge_efficiency
                                   : -ess * s->dt_h * st->ess.charge_efficiency;
    }
    row->pv_available_kw = w->pv_true_kw[k];
    row->pv_kw = pv;
    row->base_load_kw = w->base_true_kw[k];
    row->ev_kw = ev;
    row->ess_charge_kw = ess < 0.0 ? -ess : 0.0;
    row->ess_discharge_kw = ess > 0.0 ? ess : 0.0;
    row->ess_soc = st->has_ess ? s->energy_kwh / st->ess.capacity_kwh : 0.0;
    row->grid_import_kw = net > 0.0 ? net : 0.0;
    row->grid_export_kw = net < 0.0 ? -net : 0.0;
    s->month_peak_kw = fmax(s->month_peak_kw, row->grid_import_kw);
    for (int i = 0; i < in->n_evs; i++) {
        const struct controller_ev *e = &in->evs[i];
        int car = -1;
        double kwh = draw[e->connector] * s->dt_h;

        for (int j = 0; j < s->n_pending && car < 0; j++) {
            if (w->cars[s->pending[j]].connector == e->connector &&
                w->cars[s->pending[j]].plug_step <= k) {
                car = s->pending[j];
            }
        }
        if (car >= 0) {
            s->remaining_kwh[car] = fmax(0.0, s->remaining_kwh[car] - kwh);
            s->delivered_kwh[car] += kwh;
            s->revenue_cny[car] += kwh * row->buy_cny_per_kwh;
            s->fee_cny[car] += kwh * row->service_fee_cny_per_kwh;
        }
    }
}

static void run_row_context(const struct run_state *s,
                            int k,
                            const struct controller_input *in,
                            const struct correction_limits *lim,
                            struct trace_row *row)
{
    const struct station *st = s->st;

    row->ts_ms = in->now_ms;
    row->step = k;
    row->import_limit_kw = lim->import_max_kw;
    row->dr_floor_kw = lim->import_min_kw;
    row->dr_active = (lim->import_max_kw < st->grid.import_limit_kw ? 1 : 0) |
                     (lim->import_min_kw > 0.0 ? 2 : 0);
    row->buy_cny_per_kwh = tariff_buy_at(&st->tariff, in->now_ms);
    row->sell_cny_per_kwh = tariff_sell_at(&st->tariff, in->now_ms);
    row->service_fee_cny_per_kwh = st->tariff.service_fee_cny_per_kwh;
    row->connectors_busy = 0;
    for (int j = 0; j < s->n_pending; j++) {
        const struct world_car *car = &s->w->cars[s->pending[j]];

        row->connectors_busy += car->connector >= 0 && car->plug_step <= k && car->dep_step > k;
    }
}

static void run_step(struct run_state *s, int k)
{
    struct controller_input in;
    struct controller_output out = {0};
    struct correction_limits lim;
    struct correction_measure m;
    struct trace_row *row = &s->t->rows[k];

    run_input(s, k, &in);
    out.connector_kw = s->connector_kw;
    controller_step(s->ctl, &in, &out);
    rules_limits(s->st, &in, &lim);
    run_accept(s, &in);
    m.pv_available_kw = s->w->pv_true_kw[k];
    m.base_load_kw = s->w->base_true_kw[k];
    m.ev_accept_kw = s->accept_kw;
    m.soc = in.soc;
    m.soc_known = in.soc_known;
    if (s->opt->strategy != CONTROLLER_UNCONTROLLED) {
        correction_apply(s->st, s->w->opt.step_minutes, &lim, &m, &out);
    }
    run_row_context(s, k, &in, &lim, row);
    row->solve_ms = out.solve_ms;
    run_physics(s, k, &in, &out, row);
}

static void run_sessions(struct run_state *s)
{
    const struct world *w = s->w;
    int64_t end = w->opt.start_ms + (int64_t)w->steps * w->opt.step_minutes * 60000;
    int64_t dt_ms = (int64_t)w->opt.step_minutes * 60000;

    for (int i = 0; i < w->n_cars; i++) {
        const struct world_car *car = &w->cars[i];
        struct trace_session *ts;

        if (car->ev.arrival_ms >= end) {
            break;
        }
        ts = trace_add_session(s->t);
        snprintf(ts->id, sizeof(ts->id), "%s", car->ev.id);
        if (car->connector >= 0) {
            snprintf(ts->connector,
                     sizeof(ts->connector),
                     "%s",
                     planner_connector(s->st, car->connector, NULL)->id);
        }
        ts->source = car->ev.source;
        ts->wants_dc = car->ev.wants_dc;
        ts->arrival_ms = car->ev.arrival_ms;
        ts->departure_ms = car->ev.departure_ms;
        ts->declared_departure_ms = car->ev.declared_departure_ms;
        ts->plug_ms = car->connector >= 0
                          ? (car->plug_step * dt_ms + w->opt.start_ms > car->ev.arrival_ms
                                 ? car->plug_step * dt_ms + w->opt.start_ms
                                 : car->ev.arrival_ms)
                          : car->ev.arrival_ms;
        ts->battery_kwh = car->ev.battery_kwh;
        ts->soc_arrival = car->ev.soc_arrival;
        ts->soc_target = car->ev.soc_target;
        ts->max_kw = car->max_kw;
        ts->wanted_kwh = car->wanted_kwh;
        ts->delivered_kwh = s->delivered_kwh[i];
        ts->revenue_energy_cny = s->revenue_cny[i];
        ts->revenue_service_cny = s->fee_cny[i];
        ts->lost = car->connector < 0;
    }
}

/* DR performance against the baseline of the station's own import in the
 * 15 minutes before the event (the real-time rule of Jiangsu's DR detail
 * rules, docs/simulation.md). */
static void run_dr_records(struct run_state *s)
{
    const struct world *w = s->w;
    int64_t dt_ms = (int64_t)w->opt.step_minutes * 60000;
    int before = 15 / w->opt.step_minutes > 0 ? 15 / w->opt.step_minutes : 1;

    for (int i = 0; i < w->n_dr; i++) {
        const struct controller_dr *ev = &w->dr[i];
        struct trace_dr *d;
        int a = (int)((ev->start_ms - w->opt.start_ms) / dt_ms);
        int b = (int)((ev->end_ms - w->opt.start_ms + dt_ms - 1) / dt_ms);
        double base = 0.0;
        double mean = 0.0;
        int nb = 0;

        if (a < 0 || a >= w->steps) {
            continue;
        }
        b = b > w->steps ? w->steps : b;
        for (int k = a - before; k < a; k++) {
            if (k >= 0) {
                base += s->t->rows[k].grid_import_kw;
                nb++;
            }
        }
        base = nb ? base / nb : s->t->rows[a].grid_import_kw;
        d = trace_add_dr(s->t);
        snprintf(d->id, sizeof(d->id), "%s", ev->id);
        d->type = (int)ev->type;
        d->start_ms = ev->start_ms;
        d->end_ms = ev->end_ms;
        d->limit_kw = ev->limit_kw;
        d->baseline_kw = base;
        for (int k = a; k < b; k++) {
            double imp = s->t->rows[k].grid_import_kw;

            mean += imp / (b - a);
            d->shortfall_kwh +=
                s->dt_h * (ev->type == SCENARIO_DR_IMPORT_CAP ? fmax(0.0, imp - ev->limit_kw)
                                                              : fmax(0.0, ev->limit_kw - imp));
        }
        d->required_kw = ev->type == SCENARIO_DR_IMPORT_CAP ? fmax(0.0, base - ev->limit_kw)
                                                            : fmax(0.0, ev->limit_kw - base);
        d->delivered_kw = ev->type == SCENARIO_DR_IMPORT_CAP ? base - mean : mean - base;
        d->compliance = d->required_kw > 1e-9 ? d->delivered_kw / d->required_kw
                                              : (d->shortfall_kwh > 1e-9 ? 0.0 : 1.0);
    }
}

static void run_state_init(struct run_state *s, const struct world *w, const struct run_options *o)
{
    int n = w->n_cars;

    memset(s, 0, sizeof(*s));
    s->w = w;
    s->st = w->st;
    s->opt = o;
    s->n_conn = station_connector_count(w->st);
    s->horizon = o->horizon_steps;
    s->dt_h = w->opt.step_minutes / 60.0;
    s->energy_kwh = w->st->has_ess ? o->soc_initial * w->st->ess.capacity_kwh : 0.0;
    s->remaining_kwh = alloc_array((size_t)n, sizeof(double));
    s->delivered_kwh = alloc_array((size_t)n, sizeof(double));
    s->revenue_cny = alloc_array((size_t)n, sizeof(double));
    s->fee_cny = alloc_array((size_t)n, sizeof(double));
    s->pending = alloc_array((size_t)n, sizeof(int));
    s->evs = alloc_array((size_t)s->n_conn, sizeof(*s->evs));
    s->pv_fc = alloc_array((size_t)s->horizon * 2, sizeof(double));
    s->base_fc = alloc_array((size_t)s->horizon * 2, sizeof(double));
    s->ev_fc = alloc_array((size_t)s->horizon * 2, sizeof(double));
    s->connector_kw = alloc_array((size_t)s->n_conn, sizeof(double));
    s->accept_kw = alloc_array((size_t)s->n_conn, sizeof(double));
    s->dr = alloc_array((size_t)w->n_dr, sizeof(*s->dr));
    for (int i = 0; i < n; i++) {
        s->remaining_kwh[i] = w->cars[i].wanted_kwh;
    }
    if (o->ev_forecast_learned && o->strategy == CONTROLLER_MPC) {
        s->evf = ALLOC_NEW(struct ev_forecast);
        ev_forecast_init(s->evf, w->st);
        ev_forecast_advance(s->evf, w->opt.start_ms);
    }
    for (int i = 0; i < w->n_dr; i++) {
        s->dr[i] = w->dr[i];
        if (run_sees_truth(o)) {
            s->dr[i].notice_ms = INT64_MIN; /* foresight knows every event */
        }
    }
}

static void run_state_free(struct run_state *s)
{
    free(s->remaining_kwh);
    free(s->delivered_kwh);
    free(s->revenue_cny);
    free(s->fee_cny);
    free(s->pending);
    free(s->evs);
    free(s->future);
    free(s->pv_fc);
    free(s->base_fc);
    free(s->ev_fc);
    free(s->evf);
    free(s->connector_kw);
    free(s->accept_kw);
    free(s->dr);
    controller_free(s->ctl);
}

int run_strategy(const struct world *w,
                 const struct run_options *opt,
                 struct trace **out,
                 struct error_detail *ed)
{
    struct run_state s;
    struct controller_options co = {0};
    int rc = ERROR_OK;

    *out = NULL;
    run_state_init(&s, w, opt);
    co.strategy = opt->strategy;
    co.step_minutes = w->opt.step_minutes;
    co.horizon_steps = opt->horizon_steps;
    co.rule_peak_fraction = opt->rule_peak_fraction;
    co.horizon_end_ms =
        opt->horizon_to_end ? w->opt.start_ms + (int64_t)w->steps * w->opt.step_minutes * 60000 : 0;
    s.ctl = controller_new(w->st, &co, ed);
    if (!s.ctl) {
        rc = ERROR_INVALID;
        goto out;
    }
    s.t = trace_new(controller_strategy_names[opt->strategy], w->opt.step_minutes, w->steps);
    s.t->n_connectors = s.n_conn;
    for (int k = 0; k < s.n_conn; k++) {
        s.t->connectors_max_kw_sum += planner_connector(w->st, k, NULL)->max_kw;
    }
    s.t->ess_capacity_kwh = w->st->has_ess ? w->st->ess.capacity_kwh : 0.0;
    s.t->demand_charge_cny_per_kw_month = w->st->tariff.demand_charge_cny_per_kw_month;
    for (int k = 0; k < w->steps; k++) {
        run_step(&s, k);
        if (opt->progress && k % 96 == 95) {
            opt->progress(opt->progress_ctx, (double)(k + 1) / w->steps);
        }
    }
    run_sessions(&s);
    run_dr_records(&s);
    *out = s.t;
out:
    run_state_free(&s);
    return rc;
}
