/* SPDX-License-Identifier: MIT */
/*
 * lp.c - turns a validated scenario into GLPK's column/row/matrix form.
 *
 * The whole model is first written into plain arrays (bounds, costs and
 * the matrix as triplets) and handed to GLPK in one glp_load_matrix call:
 * building row by row through glp_set_mat_row costs more than the solve
 * itself for the larger station sizes. Variable and row meanings are in
 * docs/optimisation.md; this file is the only place that knows the layout.
 * Pure computation on the caller's thread.
 */
#include "lp.h"

#include "../common/alloc.h"

#include <math.h>
#include <stdlib.h>

struct lp_bound {
    double lb;
    double ub;
};

/* Everything glp_load_matrix and the bound setters need, 1-based like
 * GLPK (element 0 of every array is unused). */
struct lp_builder {
    struct lp_bound *col;
    double *cost;
    int n_cols;
    int cap_cols;
    struct lp_bound *row;
    int n_rows;
    int cap_rows;
    int *ia;
    int *ja;
    double *ar;
    int nnz;
    int cap_nnz;
};

static int lp_add_col(struct lp_builder *b, double lb, double ub, double cost)
{
    int j = ++b->n_cols;

    if (j > b->cap_cols) {
        b->cap_cols *= 2;
        b->col = alloc_resize(b->col, (size_t)b->cap_cols + 1, sizeof(*b->col));
        b->cost = alloc_resize(b->cost, (size_t)b->cap_cols + 1, sizeof(*b->cost));
    }
    b->col[j].lb = lb;
    b->col[j].ub = ub;
    b->cost[j] = cost;
    return j;
}

static int lp_add_row(struct lp_builder *b, double lb, double ub)
{
    int i = ++b->n_rows;

    if (i > b->cap_rows) {
        b->cap_rows *= 2;
        b->row = alloc_resize(b->row, (size_t)b->cap_rows + 1, sizeof(*b->row));
    }
    b->row[i].lb = lb;
    b->row[i].ub = ub;
    return i;
}

static void lp_add_coef(struct lp_builder *b, int i, int j, double v)
{
    int k = ++b->nnz;

    if (k > b->cap_nnz) {
        b->cap_nnz *= 2;
        b->ia = alloc_resize(b->ia, (size_t)b->cap_nnz + 1, sizeof(*b->ia));
        b->ja = alloc_resize(b->ja, (size_t)b->cap_nnz + 1, sizeof(*b->ja));
        b->ar = alloc_resize(b->ar, (size_t)b->cap_nnz + 1, sizeof(*b->ar));
    }
    b->ia[k] = i;
    b->ja[k] = j;
    b->ar[k] = v;
}

/* Sizes are estimated from the scenario so that the arrays normally never
 * grow; the estimate is an upper bound of the layout below. */
static void lp_builder_init(struct lp_builder *b, const struct scenario *sc)
{
    long window = 0;

    for (int s = 0; s < sc->n_sessions; s++) {
        window += sc->sessions[s].departure_step - sc->sessions[s].arrival_step;
    }
    /* a cabinet row exists only where a session is active: at most one per
     * session column, hence `window` once more in rows and non-zeros */
    b->cap_cols = (int)(10L * sc->steps + window + sc->n_sessions + 2);
    b->cap_rows = (int)(7L * sc->steps + window + sc->n_sessions + 1);
    b->cap_nnz = (int)(19L * sc->steps + 3 * window + sc->n_sessions + 2);
    b->col = alloc_array((size_t)b->cap_cols + 1, sizeof(*b->col));
    b->cost = alloc_array((size_t)b->cap_cols + 1, sizeof(*b->cost));
    b->row = alloc_array((size_t)b->cap_rows + 1, sizeof(*b->row));
    b->ia = alloc_array((size_t)b->cap_nnz + 1, sizeof(*b->ia));
    b->ja = alloc_array((size_t)b->cap_nnz + 1, sizeof(*b->ja));
    b->ar = alloc_array((size_t)b->cap_nnz + 1, sizeof(*b->ar));
}

static void lp_builder_free(struct lp_builder *b)
{
    free(b->col);
    free(b->cost);
    free(b->row);
    free(b->ia);
    free(b->ja);
    free(b->ar);
}

/* GLPK's bound type for [lb, ub]; +-INFINITY marks a missing bound. */
static int lp_bound_type(double lb, double ub)
{
    if (isinf(lb) && isinf(ub)) {
        return GLP_FR;
    }
    if (isinf(ub)) {
        return GLP_LO;
    }
    if (isinf(lb)) {
        return GLP_UP;
    }
    /* GLPK wants GLP_FX, not GLP_DB, for a zero-width range */
    return lb == ub ? GLP_FX : GLP_DB;
}

void lp_set_col_bounds(struct lp *lp, int j, double lb, double ub)
{
    glp_set_col_bnds(lp->prob,
                     j,
                     lp_bound_type(lb, ub),
                     isinf(lb) ? 0.0 : lb,
                     isinf(ub) ? 0.0 : ub);
}

/* Columns and rows of the grid connection, PV and DR at step t, plus the
 * start of the balance row (EV and battery terms are added by their own
 * builders). */
static void lp_build_grid(const struct scenario *sc, struct lp *lp, struct lp_builder *b, int t)
{
    const struct scenario_penalties *pen = &sc->penalties;
    struct lp_step *st = &lp->step[t];
    double dt = scenario_step_hours(sc);
    double cap_kw;
    double floor_kw;
    int dr = scenario_dr_at(sc, t, &cap_kw, &floor_kw);
    int row;

    st->imp = lp_add_col(b, 0, INFINITY, dt * sc->buy_cny_per_kwh[t]);
    st->exp = lp_add_col(b, 0, sc->export_limit_kw[t], -dt * sc->sell_cny_per_kwh[t]);
    st->pv = lp_add_col(b, 0, sc->pv_available_kw[t], 0);
    st->grid_over = lp_add_col(b, 0, INFINITY, dt * pen->grid_limit_cny_per_kwh);

    st->balance_row = lp_add_row(b, sc->base_load_kw[t], sc->base_load_kw[t]);
    lp_add_coef(b, st->balance_row, st->imp, 1);
    lp_add_coef(b, st->balance_row, st->exp, -1);
    lp_add_coef(b, st->balance_row, st->pv, 1);

    row = lp_add_row(b, -INFINITY, sc->import_limit_kw[t]);
    lp_add_coef(b, row, st->imp, 1);
    lp_add_coef(b, row, st->grid_over, -1);

    if (dr & 1) {
        st->dr_over = lp_add_col(b, 0, INFINITY, dt * pen->dr_cny_per_kwh);
        row = lp_add_row(b, -INFINITY, cap_kw);
        lp_add_coef(b, row, st->imp, 1);
        lp_add_coef(b, row, st->dr_over, -1);
    }
    if (dr & 2) {
        st->dr_under = lp_add_col(b, 0, INFINITY, dt * pen->dr_cny_per_kwh);
        /* the floor is on net import: the meter sees only the net flow, and
         * a floor on gross import would be met by importing and exporting
         * the same power at once */
        row = lp_add_row(b, floor_kw, INFINITY);
        lp_add_coef(b, row, st->imp, 1);
        lp_add_coef(b, row, st->exp, -1);
        lp_add_coef(b, row, st->dr_under, 1);
    }
}

/* Battery columns and rows of step t: energy dynamics and the reserve. */
static void lp_build_ess(const struct scenario *sc, struct lp *lp, struct lp_builder *b, int t)
{
    const struct scenario_ess *ess = &sc->ess;
    struct lp_step *st = &lp->step[t];
    double dt = scenario_step_hours(sc);
    double tc = dt * ess->throughput_cost_cny_per_kwh;
    double e0 = ess->soc_initial * ess->capacity_kwh;
    int row;

    st->ch = lp_add_col(b, 0, ess->charge_max_kw, tc);
    st->dis = lp_add_col(b, 0, ess->discharge_max_kw, tc);
    st->e = lp_add_col(b, ess->soc_min * ess->capacity_kwh, ess->soc_max * ess->capacity_kwh, 0);
    st->reserve_short = lp_add_col(b, 0, INFINITY, dt * sc->penalties.reserve_cny_per_kwh);

    lp_add_coef(b, st->balance_row, st->dis, 1);
    lp_add_coef(b, st->balance_row, st->ch, -1);

    /* e[t] - e[t-1] - dt*eta_c*ch + dt/eta_d*dis = 0, with e[-1] moved to
     * the right-hand side at t = 0 */
    row = lp_add_row(b, t == 0 ? e0 : 0, t == 0 ? e0 : 0);
    st->ess_row = row;
    lp_add_coef(b, row, st->e, 1);
    if (t > 0) {
        lp_add_coef(b, row, lp->step[t - 1].e, -1);
    }
    lp_add_coef(b, row, st->ch, -dt * ess->charge_efficiency);
    lp_add_coef(b, row, st->dis, dt / ess->discharge_efficiency);

    row = lp_add_row(b, ess->reserve_soc * ess->capacity_kwh, INFINITY);
    lp_add_coef(b, row, st->e, 1);
    lp_add_coef(b, row, st->reserve_short, 1);
}

/* One session: its power columns in the window, their place in the balance
 * rows, and the energy row with the unmet slack. */
static void lp_build_session(const struct scenario *sc, struct lp *lp, struct lp_builder *b, int s)
{
    const struct scenario_session *ses = &sc->sessions[s];
    double max_kw = fmin(ses->max_kw, sc->connectors[ses->connector].max_kw);
    double dt = scenario_step_hours(sc);
    int row;

    for (int t = ses->arrival_step; t < ses->departure_step; t++) {
        int j = lp_add_col(b, 0, max_kw, 0);

        if (t == ses->arrival_step) {
            lp->session_col[s] = j;
        }
        lp_add_coef(b, lp->step[t].balance_row, j, -1);
    }
    lp->unmet_col[s] = lp_add_col(b, 0, INFINITY, sc->penalties.unmet_energy_cny_per_kwh);
    row = lp_add_row(b, ses->energy_kwh, ses->energy_kwh);
    lp->session_row[s] = row;
    for (int t = ses->arrival_step; t < ses->departure_step; t++) {
        lp_add_coef(b, row, lp->session_col[s] + t - ses->arrival_step, dt);
    }
    lp_add_coef(b, row, lp->unmet_col[s], 1);
}

/* Shared cabinets: at each step the sessions on one cabinet's connectors
 * draw at most its max_kw together. Rows are made only where a session of
 * the cabinet is present; row[g * steps + t] remembers them. */
static void lp_build_groups(const struct scenario *sc, struct lp *lp, struct lp_builder *b)
{
    int *row;

    if (sc->n_groups <= 0) {
        return;
    }
    row = alloc_array((size_t)sc->n_groups * (size_t)sc->steps, sizeof(*row));
    for (int s = 0; s < sc->n_sessions; s++) {
        const struct scenario_session *ses = &sc->sessions[s];
        int g = sc->connectors[ses->connector].group;

        if (g < 0) {
            continue;
        }
        for (int t = ses->arrival_step; t < ses->departure_step; t++) {
            int *r = &row[(size_t)g * (size_t)sc->steps + (size_t)t];

            if (!*r) {
                *r = lp_add_row(b, -INFINITY, sc->groups[g].max_kw);
            }
            lp_add_coef(b, *r, lp->session_col[s] + t - ses->arrival_step, 1);
        }
    }
    free(row);
}

/* Terms that span the horizon: final state of charge and the peak. */
static void lp_build_horizon(const struct scenario *sc, struct lp *lp, struct lp_builder *b)
{
    int last = sc->steps - 1;
    int row;

    if (sc->has_ess) {
        lp->soc_final_short_col = lp_add_col(b, 0, INFINITY, sc->penalties.soc_final_cny_per_kwh);
        row = lp_add_row(b, sc->ess.soc_final_target * sc->ess.capacity_kwh, INFINITY);
        lp_add_coef(b, row, lp->step[last].e, 1);
        lp_add_coef(b, row, lp->soc_final_short_col, 1);
    }
    if (sc->demand_charge_cny_per_kw > 0) {
        /* the charge is on max(peak already reached, peak import) */
        lp->peak_col =
            lp_add_col(b, sc->demand_peak_floor_kw, INFINITY, sc->demand_charge_cny_per_kw);
        for (int t = 0; t < sc->steps; t++) {
            row = lp_add_row(b, 0, INFINITY);
            lp_add_coef(b, row, lp->peak_col, 1);
            lp_add_coef(b, row, lp->step[t].imp, -1);
        }
    }
}

/* Hand the arrays to GLPK: one glp_add_cols/glp_add_rows and one
 * glp_load_matrix. */
static void lp_load(struct lp *lp, const struct lp_builder *b)
{
    glp_prob *P = lp->prob;

    glp_set_obj_dir(P, GLP_MIN);
    glp_add_cols(P, b->n_cols);
    glp_add_rows(P, b->n_rows);
    for (int j = 1; j <= b->n_cols; j++) {
        lp_set_col_bounds(lp, j, b->col[j].lb, b->col[j].ub);
        glp_set_obj_coef(P, j, b->cost[j]);
    }
    for (int i = 1; i <= b->n_rows; i++) {
        double lb = b->row[i].lb;
        double ub = b->row[i].ub;

        glp_set_row_bnds(P, i, lp_bound_type(lb, ub), isinf(lb) ? 0.0 : lb, isinf(ub) ? 0.0 : ub);
    }
    glp_load_matrix(P, b->nnz, b->ia, b->ja, b->ar);
    lp->n_cols = b->n_cols;
    lp->n_rows = b->n_rows;
    lp->n_nonzeros = b->nnz;
}

struct lp *lp_build(const struct scenario *sc)
{
    struct lp *lp = ALLOC_NEW(struct lp);
    struct lp_builder b = {0};

    lp->steps = sc->steps;
    lp->n_sessions = sc->n_sessions;
    lp->step = alloc_array((size_t)sc->steps, sizeof(*lp->step));
    lp->session_col = alloc_array((size_t)sc->n_sessions, sizeof(*lp->session_col));
    lp->unmet_col = alloc_array((size_t)sc->n_sessions, sizeof(*lp->unmet_col));
    lp->session_row = alloc_array((size_t)sc->n_sessions, sizeof(*lp->session_row));
    lp_builder_init(&b, sc);

    /* balance rows must exist before the sessions add their terms */
    for (int t = 0; t < sc->steps; t++) {
        lp_build_grid(sc, lp, &b, t);
        if (sc->has_ess) {
            lp_build_ess(sc, lp, &b, t);
        }
    }
    for (int s = 0; s < sc->n_sessions; s++) {
        lp_build_session(sc, lp, &b, s);
    }
    lp_build_groups(sc, lp, &b);
    lp_build_horizon(sc, lp, &b);

    lp->prob = glp_create_prob();
    lp_load(lp, &b);
    lp_builder_free(&b);
    return lp;
}

/* A step and its buying price, for ordering steps from cheap to dear. */
struct lp_price {
    double cny_per_kwh;
    int t;
};

static int lp_price_cmp(const void *a, const void *b)
{
    const struct lp_price *x = a;
    const struct lp_price *y = b;

    if (x->cny_per_kwh != y->cny_per_kwh) {
        return x->cny_per_kwh < y->cny_per_kwh ? -1 : 1;
    }
    return x->t - y->t; /* earlier first among equal prices */
}

/* Put each car's power at its upper bound in the cheapest steps of its
 * window, as many whole steps as its energy fills; unmet (basic) takes the
 * rest, so the session rows start feasible. */
static void
lp_basis_sessions(const struct scenario *sc, struct lp *lp, const struct lp_price *order)
{
    double dt = scenario_step_hours(sc);

    for (int s = 0; s < sc->n_sessions; s++) {
        const struct scenario_session *ses = &sc->sessions[s];
        double max_kw = fmin(ses->max_kw, sc->connectors[ses->connector].max_kw);
        double steps = max_kw > 0 ? floor(ses->energy_kwh / (max_kw * dt)) : 0.0;
        int left = steps < sc->steps ? (int)steps : sc->steps;

        glp_set_row_stat(lp->prob, lp->session_row[s], GLP_NS);
        glp_set_col_stat(lp->prob, lp->unmet_col[s], GLP_BS);
        for (int k = 0; k < sc->steps && left > 0; k++) {
            int t = order[k].t;

            if (t < ses->arrival_step || t >= ses->departure_step || max_kw <= 0) {
                continue;
            }
            glp_set_col_stat(lp->prob, lp->session_col[s] + t - ses->arrival_step, GLP_NU);
            left--;
        }
    }
}

void lp_initial_basis(const struct scenario *sc, struct lp *lp)
{
    struct lp_price *order = alloc_array((size_t)sc->steps, sizeof(*order));

    glp_std_basis(lp->prob);
    for (int t = 0; t < sc->steps; t++) {
        const struct lp_step *st = &lp->step[t];

        /* swap each equality row's fixed slack for the column it defines */
        glp_set_row_stat(lp->prob, st->balance_row, GLP_NS);
        glp_set_col_stat(lp->prob, st->imp, GLP_BS);
        if (st->ess_row) {
            glp_set_row_stat(lp->prob, st->ess_row, GLP_NS);
            glp_set_col_stat(lp->prob, st->e, GLP_BS);
        }
        if (sc->pv_available_kw[t] > 0 && sc->pv_available_kw[t] <= sc->base_load_kw[t]) {
            glp_set_col_stat(lp->prob, st->pv, GLP_NU);
        }
        order[t].cny_per_kwh = sc->buy_cny_per_kwh[t];
        order[t].t = t;
    }
    qsort(order, (size_t)sc->steps, sizeof(*order), lp_price_cmp);
    lp_basis_sessions(sc, lp, order);
    free(order);
}

void lp_free(struct lp *lp)
{
    if (!lp) {
        return;
    }
    if (lp->prob) {
        glp_delete_prob(lp->prob);
    }
    free(lp->step);
    free(lp->session_col);
    free(lp->unmet_col);
    free(lp->session_row);
    free(lp);
}
