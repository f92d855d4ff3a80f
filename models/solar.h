/* SPDX-License-Identifier: MIT */
/*
 * solar.h - sun position, clear-sky irradiance, plane-of-array irradiance,
 * cell temperature and the power of a PV array. Pure arithmetic for the
 * simulator (`flexd sim`, the Modbus device simulator) and for forecasts:
 * no I/O, no state, deterministic.
 *
 * Conventions: timestamps are ms since the Unix epoch, UTC (clock.h);
 * angles in degrees; azimuths are compass bearings (0 = north, 90 = east,
 * 180 = south, 270 = west); irradiance in W/m2; temperature in deg C;
 * power in kW. Longitudes are east-positive.
 *
 * Models and sources (equations in docs/simulation.md, "PV and weather
 * models"):
 * - position: NOAA Solar Calculator (after Meeus, Astronomical Algorithms,
 *   1991), refraction after Saemundsson/Bennett as in NREL SPA (Reda &
 *   Andreas 2004, eq. 42); about 0.01 deg from SPA for 1900..2100.
 * - extraterrestrial: total solar irradiance 1361 W/m2 (Kopp & Lean 2011)
 *   scaled by the inverse square of the Earth-Sun distance.
 * - clear sky: Ineichen & Perez (2002) with the Linke turbidity, altitude
 *   corrected (the form used by pvlib's ineichen()); air mass Kasten &
 *   Young (1989) scaled by station pressure.
 * - cloudy sky: GHI = clear-sky index * clear-sky GHI, split into beam and
 *   diffuse with Erbs, Klein & Duffie (1982), handing over to the
 *   clear-sky split as the index approaches 1.
 * - plane of array: isotropic sky (Liu & Jordan 1963) + ground reflection.
 * - cell temperature: Faiman (2008), the model of IEC 61853-2.
 * - power: PVWatts-style (Dobos 2014): kWp * POA/1000 * (1 + gamma (Tc -
 *   25)) * (1 - losses) * inverter efficiency, clipped at the inverter's
 *   AC rating.
 */
#ifndef FLEXD_MODELS_SOLAR_H
#define FLEXD_MODELS_SOLAR_H

#include "../common/error.h"

#include <stdint.h>

/* Total solar irradiance at 1 AU (Kopp & Lean 2011, GRL 38, L01706). */
#define SOLAR_CONSTANT_W_M2 1361.0

/* Where the station is. */
struct solar_site {
    double lat_deg;    /* -90..90, north positive */
    double lon_deg;    /* -180..180, east positive */
    double altitude_m; /* above sea level, -500..9000 */
};

/* The station at the foot of Ulanhada volcano, Chahar Right Rear Banner,
 * Ulanqab (approx. 41.5 N, 112.6 E, 1,450-1,500 m). */
#define SOLAR_SITE_ULANHADA \
    {                       \
        41.5, 112.6, 1470.0 \
    }

struct solar_position {
    double zenith_deg;           /* apparent: refraction included */
    double zenith_true_deg;      /* geometric, no refraction */
    double elevation_deg;        /* apparent, 90 - zenith_deg */
    double azimuth_deg;          /* compass bearing of the sun */
    double declination_deg;      /* apparent declination */
    double equation_of_time_min; /* apparent minus mean solar time */
    double hour_angle_deg;       /* 0 at solar noon, + in the afternoon */
    double sun_distance_au;      /* Earth-Sun distance */
};

/* Irradiance on a horizontal plane (GHI, DHI) and normal to the beam (DNI). */
struct solar_irradiance {
    double ghi_w_m2;
    double dni_w_m2;
    double dhi_w_m2;
};

/* Plane-of-array irradiance and its parts. */
struct solar_poa {
    double total_w_m2;
    double beam_w_m2;
    double sky_diffuse_w_m2;
    double ground_w_m2;
    double aoi_deg; /* angle of incidence of the beam on the plane */
};

/* A PV array with its inverter. Defaults from solar_array_default(). */
struct solar_array {
    double kwp;                 /* DC nameplate at STC, kW */
    double ac_max_kw;           /* inverter AC rating; output is clipped here */
    double tilt_deg;            /* 0 = horizontal, 90 = vertical */
    double azimuth_deg;         /* compass bearing the modules face, 180 = south */
    double albedo;              /* ground reflectance 0..1 */
    double gamma_per_c;         /* power temperature coefficient, 1/K (< 0) */
    double losses;              /* DC-side losses 0..1 (soiling, wiring, mismatch, ...) */
    double inverter_efficiency; /* 0..1 */
    double u0_w_m2k;            /* Faiman constant heat-loss coefficient */
    double u1_w_m3sk;           /* Faiman wind heat-loss coefficient, W/(m2 K) per m/s */
};

/* Output of one array at one instant. */
struct solar_pv_output {
    struct solar_position pos;
    struct solar_irradiance clear;  /* clear-sky irradiance */
    struct solar_irradiance actual; /* after the clear-sky index */
    struct solar_poa poa;
    double temp_cell_c;
    double dc_kw; /* before the inverter */
    double ac_kw; /* after inverter efficiency and clipping */
};

/* Sun position seen from site at ts_ms. Apparent zenith uses the standard
 * pressure at site->altitude_m and 10 deg C. */
void solar_position_at(const struct solar_site *site, int64_t ts_ms, struct solar_position *out);

/* Extraterrestrial normal irradiance for the Earth-Sun distance of pos. */
double solar_extraterrestrial_w_m2(const struct solar_position *pos);

/* Standard-atmosphere pressure at altitude_m in Pa (as pvlib alt2pres). */
double solar_pressure_pa(double altitude_m);

/* Relative optical air mass for an apparent zenith (Kasten & Young 1989);
 * 0 when the sun is below the horizon (zenith >= 90). */
double solar_airmass_relative(double zenith_deg);

/* Clear-sky GHI/DNI/DHI (Ineichen & Perez 2002) for the sun at pos, the
 * site's altitude and a Linke turbidity (typically 2..7; about 3-4 for the
 * dry Inner Mongolian plateau). Zero at night. */
void solar_clearsky(const struct solar_position *pos,
                    double altitude_m,
                    double linke_turbidity,
                    struct solar_irradiance *out);

/* Split a measured or simulated GHI into DNI and DHI with the Erbs et al.
 * (1982) diffuse fraction. DNI never exceeds dni_max_w_m2 (pass the
 * clear-sky DNI; a negative value means no cap). */
void solar_decompose_erbs(const struct solar_position *pos,
                          double ghi_w_m2,
                          double dni_max_w_m2,
                          struct solar_irradiance *out);

/* Irradiance under clouds: GHI = clear_sky_index * clear GHI (the index is
 * clamped to 0..1.5), split by solar_decompose_erbs() capped at the clear
 * DNI for kc <= 0.8, by the clear-sky split for kc >= 1, and by a linear
 * blend of the two in between (Erbs under-estimates the beam of a clear,
 * high-altitude sky). */
void solar_cloudy(const struct solar_position *pos,
                  const struct solar_irradiance *clear,
                  double clear_sky_index,
                  struct solar_irradiance *out);

/* Plane-of-array irradiance on a plane of tilt_deg facing azimuth_deg,
 * isotropic sky plus ground reflection with albedo. */
void solar_poa_isotropic(const struct solar_position *pos,
                         const struct solar_irradiance *irr,
                         double tilt_deg,
                         double azimuth_deg,
                         double albedo,
                         struct solar_poa *out);

/* Cell temperature (Faiman 2008): Tc = Ta + POA / (u0 + u1 * wind). */
double solar_cell_temp_c(double poa_w_m2,
                         double temp_air_c,
                         double wind_m_s,
                         double u0_w_m2k,
                         double u1_w_m3sk);

/* Array defaults: 1 kWp, 1 kW AC, 38 deg tilt facing south, albedo 0.2,
 * gamma -0.0035/K (mono c-Si datasheets: -0.30..-0.40 %/K), DC losses
 * 0.14 (PVWatts v5 default, Dobos 2014), inverter 0.96 (PVWatts nominal),
 * u0 25.0 and u1 6.84 (Faiman 2008, as in pvlib). */
void solar_array_default(struct solar_array *a);

/* Check every field of a; returns ERROR_OK or ERROR_INVALID with
 * "field: value: rule" in ed. */
int solar_array_validate(const struct solar_array *a, struct error_detail *ed);

/* Check a site; returns ERROR_OK or ERROR_INVALID with a message in ed. */
int solar_site_validate(const struct solar_site *site, struct error_detail *ed);

/* DC and AC power of array a for a plane-of-array irradiance and cell
 * temperature (both kW, AC clipped at a->ac_max_kw, never negative). */
void solar_array_power(const struct solar_array *a,
                       double poa_w_m2,
                       double temp_cell_c,
                       double *dc_kw,
                       double *ac_kw);

/* The whole chain for one instant: position, clear sky, clouds, POA, cell
 * temperature, power. The inputs usually come from weather_at(). */
void solar_pv_at(const struct solar_site *site,
                 const struct solar_array *a,
                 int64_t ts_ms,
                 double clear_sky_index,
                 double linke_turbidity,
                 double temp_air_c,
                 double wind_m_s,
                 struct solar_pv_output *out);

/* Solar noon (transit) nearest to near_ms, and the sunrise before it and
 * the sunset after it: the upper limb on a flat horizon with standard
 * refraction, i.e. true elevation -0.833 deg, as the NOAA calculator and the
 * almanacs. For a station in China pass local noon (12:00 +08:00) of the
 * day. Returns ERROR_OK, or ERROR_RANGE when the sun does not rise or does
 * not set that day (polar night/day); *noon_ms is filled in either case. */
int solar_day_events(const struct solar_site *site,
                     int64_t near_ms,
                     int64_t *sunrise_ms,
                     int64_t *noon_ms,
                     int64_t *sunset_ms);

#endif
