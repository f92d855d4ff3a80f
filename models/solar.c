/* SPDX-License-Identifier: MIT */
/*
 * solar.c - sun position, clear-sky and plane-of-array irradiance, cell
 * temperature and PV array power for the simulator and forecasts. Pure
 * functions of their arguments: no I/O, no state, callable from any thread.
 *
 * The models are the simple, widely validated ones used by pvlib and
 * PVWatts, chosen because the simulator needs plausible site physics
 * (right day length, right winter/summer ratio, right annual yield), not
 * bankable energy estimates. Each function cites its source; the equations
 * are collected in docs/simulation.md.
 */
#include "solar.h"

#include <math.h>
#include <stddef.h>

#define SOLAR_PI         3.14159265358979323846
#define SOLAR_MS_PER_DAY 86400000.0
/* the sun's hour angle advances 360 deg per (mean) solar day: 4 min/deg */
#define SOLAR_MS_PER_HOUR_ANGLE_DEG 240000.0
/* sunrise/sunset: upper limb on the horizon with standard refraction,
 * 34' refraction + 16' semidiameter (NOAA calculator, almanacs) */
#define SOLAR_HORIZON_DEG (-0.833)

static double solar_rad(double deg)
{
    return deg * (SOLAR_PI / 180.0);
}

static double solar_deg(double rad)
{
    return rad * (180.0 / SOLAR_PI);
}

static double solar_mod(double x, double m)
{
    double r = fmod(x, m);

    return r < 0.0 ? r + m : r;
}

static double solar_clamp(double x, double lo, double hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* Atmospheric refraction of the sun's true elevation e0_deg in deg, for
 * pressure p_hpa and temperature t_c: NREL SPA (Reda & Andreas 2004,
 * eq. 42), applied while the upper limb can be above the horizon. */
static double solar_refraction_deg(double e0_deg, double p_hpa, double t_c)
{
    double r = 0.0;

    if (e0_deg >= -(0.26667 + 0.5667)) {
        r = (p_hpa / 1010.0) * (283.0 / (273.0 + t_c)) * 1.02 /
            (60.0 * tan(solar_rad(e0_deg + 10.3 / (e0_deg + 5.11))));
    }
    return r;
}

void solar_position_at(const struct solar_site *site, int64_t ts_ms, struct solar_position *out)
{
    /* NOAA Solar Calculator spreadsheet (Meeus 1991, ch. 24-28). The UT
     * timestamp stands in for TT: ignoring Delta-T (~70 s) moves the sun
     * by under 0.001 deg. */
    double jd = (double)ts_ms / SOLAR_MS_PER_DAY + 2440587.5;
    double jc = (jd - 2451545.0) / 36525.0;
    double l0 = solar_mod(280.46646 + jc * (36000.76983 + jc * 0.0003032), 360.0);
    double m = 357.52911 + jc * (35999.05029 - 0.0001537 * jc);
    double e = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc);
    double c = sin(solar_rad(m)) * (1.914602 - jc * (0.004817 + 0.000014 * jc)) +
               sin(solar_rad(2.0 * m)) * (0.019993 - 0.000101 * jc) +
               sin(solar_rad(3.0 * m)) * 0.000289;
    double true_long = l0 + c;
    double true_anom = m + c;
    double omega = 125.04 - 1934.136 * jc;
    double app_long = true_long - 0.00569 - 0.00478 * sin(solar_rad(omega));
    double eps0 =
        23.0 + (26.0 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60.0) / 60.0;
    double eps = eps0 + 0.00256 * cos(solar_rad(omega));
    double decl = asin(sin(solar_rad(eps)) * sin(solar_rad(app_long)));
    double y = tan(solar_rad(eps / 2.0)) * tan(solar_rad(eps / 2.0));
    double l0r = solar_rad(l0);
    double mr = solar_rad(m);
    double eot_min = 4.0 * solar_deg(y * sin(2.0 * l0r) - 2.0 * e * sin(mr) +
                                     4.0 * e * y * sin(mr) * cos(2.0 * l0r) -
                                     0.5 * y * y * sin(4.0 * l0r) - 1.25 * e * e * sin(2.0 * mr));
    double min_of_day = solar_mod((double)ts_ms, SOLAR_MS_PER_DAY) / 60000.0;
    double tst_min = solar_mod(min_of_day + eot_min + 4.0 * site->lon_deg, 1440.0);
    double ha = solar_rad(tst_min / 4.0 - 180.0);
    double lat = solar_rad(site->lat_deg);
    double cos_z = solar_clamp(sin(lat) * sin(decl) + cos(lat) * cos(decl) * cos(ha), -1.0, 1.0);
    double zen_true = solar_deg(acos(cos_z));
    double p_hpa = solar_pressure_pa(site->altitude_m) / 100.0;
    double elev = 90.0 - zen_true + solar_refraction_deg(90.0 - zen_true, p_hpa, 10.0);
    double az = atan2(-cos(decl) * sin(ha), sin(decl) * cos(lat) - cos(decl) * sin(lat) * cos(ha));

    out->zenith_true_deg = zen_true;
    out->elevation_deg = elev;
    out->zenith_deg = 90.0 - elev;
    out->azimuth_deg = solar_mod(solar_deg(az), 360.0);
    out->declination_deg = solar_deg(decl);
    out->equation_of_time_min = eot_min;
    out->hour_angle_deg = solar_deg(ha);
    out->sun_distance_au = 1.000001018 * (1.0 - e * e) / (1.0 + e * cos(solar_rad(true_anom)));
}

double solar_extraterrestrial_w_m2(const struct solar_position *pos)
{
    return SOLAR_CONSTANT_W_M2 / (pos->sun_distance_au * pos->sun_distance_au);
}

double solar_pressure_pa(double altitude_m)
{
    /* US Standard Atmosphere 1976 troposphere, in the closed form pvlib's
     * atmosphere.alt2pres() uses */
    return 100.0 * pow((44331.514 - altitude_m) / 11880.516, 1.0 / 0.1902632);
}

double solar_airmass_relative(double zenith_deg)
{
    double am = 0.0;

    /* Kasten & Young (1989), Applied Optics 28(22): finite to the horizon */
    if (zenith_deg < 90.0) {
        am = 1.0 / (cos(solar_rad(zenith_deg)) + 0.50572 * pow(96.07995 - zenith_deg, -1.6364));
    }
    return am;
}

void solar_clearsky(const struct solar_position *pos,
                    double altitude_m,
                    double linke_turbidity,
                    struct solar_irradiance *out)
{
    /* Ineichen & Perez (2002), Solar Energy 73(3):151-157, with the
     * altitude terms of Ineichen's 2002 corrigendum (Solar Energy 73(5)
     * 311-313) exactly as pvlib.clearsky.ineichen() implements them. */
    double tl = linke_turbidity;
    double cos_z = cos(solar_rad(pos->zenith_deg));
    double i0 = solar_extraterrestrial_w_m2(pos);
    double am, fh1, fh2, cg1, cg2, ghi, b, bnci, bnci2, dni;

    out->ghi_w_m2 = 0.0;
    out->dni_w_m2 = 0.0;
    out->dhi_w_m2 = 0.0;
    if (pos->zenith_deg < 90.0 && cos_z > 0.0) {
        am = solar_airmass_relative(pos->zenith_deg) * solar_pressure_pa(altitude_m) / 101325.0;
        fh1 = exp(-altitude_m / 8000.0);
        fh2 = exp(-altitude_m / 1250.0);
        cg1 = 5.09e-05 * altitude_m + 0.868;
        cg2 = 3.92e-05 * altitude_m + 0.0387;
        ghi = cg1 * i0 * cos_z * exp(-cg2 * am * (fh1 + fh2 * (tl - 1.0)));
        b = 0.664 + 0.163 / fh1;
        bnci = i0 * fmax(b * exp(-0.09 * am * (tl - 1.0)), 0.0);
        /* the beam can never exceed what GHI leaves after a minimal diffuse */
        bnci2 = ghi * fmax((1.0 - (0.1 - 0.2 * exp(-tl)) / (0.1 + 0.882 / fh1)) / cos_z, 0.0);
        dni = fmin(bnci, bnci2);
        out->ghi_w_m2 = fmax(ghi, 0.0);
        out->dni_w_m2 = fmax(dni, 0.0);
        out->dhi_w_m2 = fmax(out->ghi_w_m2 - out->dni_w_m2 * cos_z, 0.0);
    }
}

void solar_decompose_erbs(const struct solar_position *pos,
                          double ghi_w_m2,
                          double dni_max_w_m2,
                          struct solar_irradiance *out)
{
    /* Erbs, Klein & Duffie (1982), Solar Energy 28(4):293-302: hourly
     * diffuse fraction from the clearness index kt. Like pvlib.irradiance
     * .erbs(), cos z is floored at 0.065 and the beam is dropped beyond
     * 87 deg, where kt is meaningless. */
    double cos_z = fmax(cos(solar_rad(pos->zenith_deg)), 0.065);
    double ghi = fmax(ghi_w_m2, 0.0);
    double kt = solar_clamp(ghi / (solar_extraterrestrial_w_m2(pos) * cos_z), 0.0, 1.0);
    double kd, dni;

    if (kt <= 0.22) {
        kd = 1.0 - 0.09 * kt;
    } else if (kt <= 0.80) {
        kd = 0.9511 - 0.1604 * kt + 4.388 * kt * kt - 16.638 * kt * kt * kt +
             12.336 * kt * kt * kt * kt;
    } else {
        kd = 0.165;
    }
    dni = pos->zenith_deg < 87.0 ? ghi * (1.0 - kd) / cos_z : 0.0;
    if (dni_max_w_m2 >= 0.0 && dni > dni_max_w_m2) {
        dni = dni_max_w_m2;
    }
    out->ghi_w_m2 = ghi;
    out->dni_w_m2 = dni;
    out->dhi_w_m2 = fmax(ghi - dni * cos_z, 0.0);
}

void solar_cloudy(const struct solar_position *pos,
                  const struct solar_irradiance *clear,
                  double clear_sky_index,
                  struct solar_irradiance *out)
{
    double kc = isnan(clear_sky_index) ? 0.0 : solar_clamp(clear_sky_index, 0.0, 1.5);
    double cos_z = fmax(cos(solar_rad(pos->zenith_deg)), 0.0);
    double w, dni;

    solar_decompose_erbs(pos, kc * clear->ghi_w_m2, clear->dni_w_m2, out);
    /* Erbs was fitted on all-sky data at low altitude and gives a clear,
     * high-altitude sky ~10 % too little beam (e.g. 806 instead of 879
     * W/m2 at Ulanhada's winter-solstice noon). Near kc = 1 the sky is
     * clear, so hand over linearly from Erbs (kc <= 0.8) to the clear-sky
     * model's own split (kc >= 1); above 1 the extra is cloud-edge
     * reflection, i.e. diffuse. An engineering blend, not a published model. */
    w = solar_clamp((kc - 0.8) / 0.2, 0.0, 1.0);
    if (w > 0.0 && pos->zenith_deg < 87.0) {
        dni = (1.0 - w) * out->dni_w_m2 + w * clear->dni_w_m2 * fmin(kc, 1.0);
        out->dni_w_m2 = fmin(dni, clear->dni_w_m2);
        out->dhi_w_m2 = fmax(out->ghi_w_m2 - out->dni_w_m2 * cos_z, 0.0);
    }
}

void solar_poa_isotropic(const struct solar_position *pos,
                         const struct solar_irradiance *irr,
                         double tilt_deg,
                         double azimuth_deg,
                         double albedo,
                         struct solar_poa *out)
{
    /* Liu & Jordan (1963) isotropic sky; ground as an isotropic reflector
     * of GHI (Duffie & Beckman, Solar Engineering of Thermal Processes,
     * 4th ed., eq. 2.15.1). */
    double z = solar_rad(pos->zenith_deg);
    double beta = solar_rad(tilt_deg);
    double cos_aoi =
        cos(z) * cos(beta) + sin(z) * sin(beta) * cos(solar_rad(pos->azimuth_deg - azimuth_deg));

    cos_aoi = solar_clamp(cos_aoi, -1.0, 1.0);
    out->aoi_deg = solar_deg(acos(cos_aoi));
    out->beam_w_m2 = pos->zenith_deg < 90.0 ? irr->dni_w_m2 * fmax(cos_aoi, 0.0) : 0.0;
    out->sky_diffuse_w_m2 = irr->dhi_w_m2 * (1.0 + cos(beta)) / 2.0;
    out->ground_w_m2 = irr->ghi_w_m2 * albedo * (1.0 - cos(beta)) / 2.0;
    out->total_w_m2 = out->beam_w_m2 + out->sky_diffuse_w_m2 + out->ground_w_m2;
}

double solar_cell_temp_c(double poa_w_m2,
                         double temp_air_c,
                         double wind_m_s,
                         double u0_w_m2k,
                         double u1_w_m3sk)
{
    /* Faiman (2008), Prog. Photovolt. 16(4):307-315 */
    return temp_air_c + fmax(poa_w_m2, 0.0) / (u0_w_m2k + u1_w_m3sk * fmax(wind_m_s, 0.0));
}

void solar_array_default(struct solar_array *a)
{
    a->kwp = 1.0;
    a->ac_max_kw = 1.0;
    a->tilt_deg = 38.0;
    a->azimuth_deg = 180.0;
    a->albedo = 0.2;
    a->gamma_per_c = -0.0035;
    a->losses = 0.14;
    a->inverter_efficiency = 0.96;
    a->u0_w_m2k = 25.0;
    a->u1_w_m3sk = 6.84;
}

/* One row per field: the range a value must lie in. A table, not an
 * if-chain, so every field gets the same message shape. */
struct solar_rule {
    const char *name;
    size_t offset;
    double min;
    double max;
    int min_open; /* 1: value must be > min */
    int max_open; /* 1: value must be < max */
};

static int solar_check_rules(const void *obj,
                             const struct solar_rule *rules,
                             size_t n,
                             struct error_detail *ed)
{
    int rc = ERROR_OK;
    double v;
    int ok;

    for (size_t i = 0; i < n && rc == ERROR_OK; i++) {
        v = *(const double *)(const void *)((const char *)obj + rules[i].offset);
        ok = rules[i].min_open ? v > rules[i].min : v >= rules[i].min;
        ok = ok && (rules[i].max_open ? v < rules[i].max : v <= rules[i].max);
        if (!ok) {
            rc = error_setf(ed,
                            ERROR_INVALID,
                            "%s: %g: must be in %s%g, %g%s",
                            rules[i].name,
                            v,
                            rules[i].min_open ? "(" : "[",
                            rules[i].min,
                            rules[i].max,
                            rules[i].max_open ? ")" : "]");
        }
    }
    return rc;
}

int solar_array_validate(const struct solar_array *a, struct error_detail *ed)
{
    static const struct solar_rule rules[] = {
        {"kwp", offsetof(struct solar_array, kwp), 0.0, 1e6, 1, 0},
        {"ac_max_kw", offsetof(struct solar_array, ac_max_kw), 0.0, 1e6, 1, 0},
        {"tilt_deg", offsetof(struct solar_array, tilt_deg), 0.0, 90.0, 0, 0},
        {"azimuth_deg", offsetof(struct solar_array, azimuth_deg), 0.0, 360.0, 0, 1},
        {"albedo", offsetof(struct solar_array, albedo), 0.0, 1.0, 0, 0},
        /* datasheets of c-Si, CdTe and CIGS modules: -0.2..-0.5 %/K */
        {"gamma_per_c", offsetof(struct solar_array, gamma_per_c), -0.01, 0.0, 0, 0},
        {"losses", offsetof(struct solar_array, losses), 0.0, 1.0, 0, 1},
        {"inverter_efficiency", offsetof(struct solar_array, inverter_efficiency), 0.0, 1.0, 1, 0},
        {"u0_w_m2k", offsetof(struct solar_array, u0_w_m2k), 0.0, 100.0, 1, 0},
        {"u1_w_m3sk", offsetof(struct solar_array, u1_w_m3sk), 0.0, 50.0, 0, 0},
    };

    return solar_check_rules(a, rules, sizeof(rules) / sizeof(rules[0]), ed);
}

int solar_site_validate(const struct solar_site *site, struct error_detail *ed)
{
    static const struct solar_rule rules[] = {
        {"lat_deg", offsetof(struct solar_site, lat_deg), -90.0, 90.0, 0, 0},
        {"lon_deg", offsetof(struct solar_site, lon_deg), -180.0, 180.0, 0, 0},
        /* the Dead Sea shore to the highest observatories */
        {"altitude_m", offsetof(struct solar_site, altitude_m), -500.0, 9000.0, 0, 0},
    };

    return solar_check_rules(site, rules, sizeof(rules) / sizeof(rules[0]), ed);
}

void solar_array_power(const struct solar_array *a,
                       double poa_w_m2,
                       double temp_cell_c,
                       double *dc_kw,
                       double *ac_kw)
{
    /* PVWatts v5 (Dobos 2014, NREL/TP-6A20-62641) with a flat inverter
     * efficiency instead of its part-load curve */
    double dc = a->kwp * fmax(poa_w_m2, 0.0) / 1000.0 *
                (1.0 + a->gamma_per_c * (temp_cell_c - 25.0)) * (1.0 - a->losses);

    dc = fmax(dc, 0.0);
    *dc_kw = dc;
    *ac_kw = fmin(dc * a->inverter_efficiency, a->ac_max_kw);
}

void solar_pv_at(const struct solar_site *site,
                 const struct solar_array *a,
                 int64_t ts_ms,
                 double clear_sky_index,
                 double linke_turbidity,
                 double temp_air_c,
                 double wind_m_s,
                 struct solar_pv_output *out)
{
    solar_position_at(site, ts_ms, &out->pos);
    solar_clearsky(&out->pos, site->altitude_m, linke_turbidity, &out->clear);
    solar_cloudy(&out->pos, &out->clear, clear_sky_index, &out->actual);
    solar_poa_isotropic(&out->pos, &out->actual, a->tilt_deg, a->azimuth_deg, a->albedo, &out->poa);
    out->temp_cell_c =
        solar_cell_temp_c(out->poa.total_w_m2, temp_air_c, wind_m_s, a->u0_w_m2k, a->u1_w_m3sk);
    solar_array_power(a, out->poa.total_w_m2, out->temp_cell_c, &out->dc_kw, &out->ac_kw);
}

/* cos of the hour angle at which the sun's true elevation is
 * SOLAR_HORIZON_DEG for declination decl_deg; |value| > 1 (or NaN at the
 * poles) means it never crosses that day. */
static double solar_cos_rise_ha(double lat_deg, double decl_deg)
{
    double lat = solar_rad(lat_deg);
    double decl = solar_rad(decl_deg);

    return (sin(solar_rad(SOLAR_HORIZON_DEG)) - sin(lat) * sin(decl)) / (cos(lat) * cos(decl));
}

int solar_day_events(const struct solar_site *site,
                     int64_t near_ms,
                     int64_t *sunrise_ms,
                     int64_t *noon_ms,
                     int64_t *sunset_ms)
{
    struct solar_position p;
    int64_t noon = near_ms;
    int64_t t[2];
    double cos_h0, target, diff;
    int rc = ERROR_OK;

    /* transit: step by the hour angle until it is zero; the hour angle
     * rate changes by < 0.1 % over a day, so three steps reach < 1 s */
    for (int i = 0; i < 4; i++) {
        solar_position_at(site, noon, &p);
        noon -= (int64_t)llround(p.hour_angle_deg * SOLAR_MS_PER_HOUR_ANGLE_DEG);
    }
    *noon_ms = noon;
    for (int k = 0; k < 2 && rc == ERROR_OK; k++) {
        /* k = 0 sunrise (negative hour angle), k = 1 sunset */
        t[k] = noon;
        for (int i = 0; i < 5 && rc == ERROR_OK; i++) {
            solar_position_at(site, t[k], &p);
            cos_h0 = solar_cos_rise_ha(site->lat_deg, p.declination_deg);
            if (!(fabs(cos_h0) <= 1.0)) {
                rc = ERROR_RANGE;
            } else {
                target = solar_deg(acos(cos_h0)) * (k == 0 ? -1.0 : 1.0);
                /* Newton-like step on the hour angle; the wrap keeps the
                 * step short when the hour angle passes +-180 */
                diff = solar_mod(target - p.hour_angle_deg + 180.0, 360.0) - 180.0;
                t[k] += (int64_t)llround(diff * SOLAR_MS_PER_HOUR_ANGLE_DEG);
            }
        }
    }
    if (rc == ERROR_OK) {
        *sunrise_ms = t[0];
        *sunset_ms = t[1];
    }
    return rc;
}
