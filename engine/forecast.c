/* SPDX-License-Identifier: MIT */
/*
 * forecast.c - PV and base-load forecasts from the station's models.
 */
#include "forecast.h"

#include "../common/clock.h"
#include "../models/weather.h"

#include <math.h>

void forecast_solar_array(const struct station_pv_array *a, struct solar_array *out)
{
    solar_array_default(out);
    out->kwp = a->peak_kwp;
    out->ac_max_kw = a->inverter_ac_kw;
    out->tilt_deg = a->tilt_deg;
    out->azimuth_deg = a->azimuth_deg;
    out->gamma_per_c = a->temp_coeff_per_c;
    out->losses = a->losses;
}

void forecast_pv_clear_kw(const struct station *st,
                          int64_t t0_ms,
                          int step_minutes,
                          int n,
                          double *kw)
{
    const struct weather_climate *clim = weather_climate_ulanqab();
    struct solar_site site = {st->location.lat_deg, st->location.lon_deg, st->location.altitude_m};
    int64_t dt_ms = (int64_t)step_minutes * 60000;

    for (int k = 0; k < n; k++) {
        int64_t ts = t0_ms + k * dt_ms + dt_ms / 2;
        struct clock_civil lt;

        clock_to_local(ts, &lt);
        kw[k] = 0.0;
        for (int i = 0; i < st->n_pv_arrays; i++) {
            struct solar_array sa;
            struct solar_pv_output po;

            forecast_solar_array(&st->pv_arrays[i], &sa);
            solar_pv_at(&site,
                        &sa,
                        ts,
                        1.0,
                        clim->linke_turbidity[lt.month - 1],
                        clim->temp_mean_c[lt.month - 1],
                        clim->wind_m_s,
                        &po);
            kw[k] += po.ac_kw;
        }
    }
}

void forecast_pv_blend(const double *clear_kw,
                       int n,
                       double step_h,
                       double csi_now,
                       double csi_climate,
                       double tau_h,
                       double *kw)
{
    for (int j = 0; j < n; j++) {
        double a = exp(-j * step_h / tau_h);

        kw[j] = clear_kw[j] * (a * csi_now + (1.0 - a) * csi_climate);
    }
}

void forecast_base_kw(const struct station *st, int64_t t0_ms, int step_minutes, int n, double *kw)
{
    int64_t dt_ms = (int64_t)step_minutes * 60000;

    for (int k = 0; k < n; k++) {
        struct clock_civil lt;

        clock_to_local(t0_ms + k * dt_ms + dt_ms / 2, &lt);
        kw[k] = station_base_load_kw(st, lt.hour * 60 + lt.minute);
    }
}
