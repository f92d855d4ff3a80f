/* SPDX-License-Identifier: MIT */
/*
 * forecast.h - what the controller expects of PV and base load, from the
 * station's own models: clear-sky PV for its arrays and its amenity-hours
 * base load, with the PV scaled by the clear-sky index seen lately
 * (persistence) relaxing to the climatological index. The simulator
 * (sim/world.c) and the live daemon (engine/live.c) forecast the same way.
 * Pure functions.
 */
#ifndef FLEXD_ENGINE_FORECAST_H
#define FLEXD_ENGINE_FORECAST_H

#include "../models/solar.h"
#include "../models/station.h"

#include <stdint.h>

/* Climatological clear-sky index of the Ulanqab sky (docs/simulation.md). */
#define FORECAST_CSI_CLIMATE 0.75
/* Persistence time constant, hours. */
#define FORECAST_TAU_H 3.0

/* The solar model of one configured PV array. */
void forecast_solar_array(const struct station_pv_array *a, struct solar_array *out);

/* Clear-sky AC power of all PV arrays in the middle of each of n steps of
 * step_minutes from t0_ms, in kW, at the month's mean temperature and
 * turbidity of the built-in climate. */
void forecast_pv_clear_kw(const struct station *st,
                          int64_t t0_ms,
                          int step_minutes,
                          int n,
                          double *kw);

/* PV forecast from clear-sky values (kw may be clear_kw: in place): step j gets
 * clear[j] x (a csi_now + (1 - a) csi_climate), a = exp(-j dt / tau). */
void forecast_pv_blend(const double *clear_kw,
                       int n,
                       double step_h,
                       double csi_now,
                       double csi_climate,
                       double tau_h,
                       double *kw);

/* Base load profile (station_base_load_kw) in the middle of each step. */
void forecast_base_kw(const struct station *st, int64_t t0_ms, int step_minutes, int n, double *kw);

#endif
