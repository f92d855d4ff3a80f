#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes ulanhada-day.json: one 96-step (15 min) planning day for the station
in ../ulanhada.json, a clear-ish Saturday in the summer tourist season
(2027-07-17, local time UTC+08:00, horizon 00:00-24:00).

Everything station-specific (limits, PV arrays, battery, chargers and their
connectors, base load windows, tariff) is read from ulanhada.json so the two files cannot drift; the
day itself (weather, EV sessions, DR event) is written out below. PV uses
textbook clear-sky arithmetic (NOAA sun position, Kasten-Young air mass,
Meinel/Laue altitude-corrected beam, 10 % diffuse, isotropic sky, Faiman cell
temperature, PVWatts power) - a stand-in for models/solar.c, good enough for
an example file. Run: python3 make_ulanhada_day.py (no arguments, stdlib only).
"""
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DATE = (2027, 7, 17)  # a Saturday in the tourist season (small-wind tariff season)
STEP_MIN = 15
STEPS = 96
SOC_INITIAL = 0.40
DR_EVENT = ("dr-2027-07-17-evening", "import_cap", "18:00", "20:00", 50.0)

# Tourists on DC in the day, community cars on AC overnight (planning document
# section 4: shared charging 24 h, night parking 22:00-08:00). Cars parked since
# the previous evening arrive at 00:00; cars plugged in tonight depart at 24:00
# (the end of this horizon) asking only for what 7 kW can give by then.
SESSIONS = [  # connector, arrival, departure, energy_kwh, car max_kw
    ("DC1-A", "09:00", "09:45", 28, 90), ("DC1-A", "10:30", "11:30", 40, 120),
    ("DC1-A", "13:00", "13:45", 30, 100), ("DC1-A", "16:00", "17:00", 38, 90),
    ("DC1-B", "09:30", "10:30", 35, 60), ("DC1-B", "12:00", "12:45", 26, 110),
    ("DC1-B", "14:00", "15:00", 42, 120), ("DC1-B", "18:00", "18:45", 30, 90),
    ("DC2-A", "10:00", "10:45", 32, 100), ("DC2-A", "11:30", "12:30", 45, 120),
    ("DC2-A", "14:30", "15:15", 25, 60), ("DC2-A", "17:00", "18:00", 36, 100),
    ("DC2-B", "10:15", "11:15", 33, 90), ("DC2-B", "13:15", "14:15", 40, 110),
    ("DC2-B", "19:00", "19:45", 28, 90),
    ("DC3-A", "11:00", "11:45", 30, 120), ("DC3-A", "15:00", "16:00", 44, 120),
    ("DC3-B", "08:45", "09:30", 24, 60), ("DC3-B", "12:15", "13:15", 38, 100),
    ("DC4-A", "10:45", "11:45", 36, 90), ("DC4-A", "14:15", "15:00", 27, 100),
    ("DC4-B", "13:30", "14:30", 40, 120), ("DC4-B", "20:00", "20:45", 25, 90),
    ("AC1-1", "00:00", "07:30", 18, 7), ("AC2-1", "00:00", "07:00", 22, 7),
    ("AC3-1", "00:00", "08:00", 12, 7), ("AC4-1", "00:00", "06:45", 16, 6.6),
    ("AC5-1", "10:00", "16:00", 24, 7), ("AC6-1", "09:30", "12:30", 12, 6.6),
    ("AC7-1", "11:00", "15:00", 18, 7),
    ("AC1-1", "19:30", "24:00", 20, 7), ("AC2-1", "21:00", "24:00", 14, 7),
    ("AC3-1", "22:00", "24:00", 10, 7), ("AC4-1", "20:30", "24:00", 18, 6.6),
    ("AC5-1", "18:30", "24:00", 24, 7), ("AC8-1", "22:30", "24:00", 8, 7),
]


def minutes(hhmm):
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def in_window(w, minute):
    start, end = minutes(w["start"]), minutes(w["end"])
    length = (end - start) % 1440 or 1440
    return (minute - start) % 1440 < length


def sun(lat, lon, minute_local):
    """Apparent-enough sun: cos(zenith) and the unit vector (east, north, up)."""
    doy = 198  # 17 July
    hours_utc = minute_local / 60.0 - 8.0
    g = 2 * math.pi / 365 * (doy - 1 + (hours_utc - 12) / 24)
    eqt = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                    - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g)
            - 0.006758 * math.cos(2 * g) + 0.000907 * math.sin(2 * g)
            - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    solar_min = minute_local + eqt + 4 * lon - 480
    ha = math.radians(solar_min / 4 - 180)
    la = math.radians(lat)
    east = -math.cos(decl) * math.sin(ha)
    north = math.cos(la) * math.sin(decl) - math.sin(la) * math.cos(decl) * math.cos(ha)
    up = math.sin(la) * math.sin(decl) + math.cos(la) * math.cos(decl) * math.cos(ha)
    return east, north, up


def array_ac_kw(a, vec, alt_m, temp_c, cloud):
    east, north, up = vec
    if up <= 0.01:
        return 0.0
    zen = math.degrees(math.acos(up))
    am = 1 / (up + 0.50572 * (96.07995 - zen) ** -1.6364) * math.exp(-alt_m / 8434.5)
    h_km = alt_m / 1000
    dni = 1361 * ((1 - 0.14 * h_km) * 0.7 ** (am ** 0.678) + 0.14 * h_km) * cloud
    dhi = 0.1 * 1361 * 0.7 ** (am ** 0.678)  # diffuse survives thin cloud
    ghi = dni * up + dhi
    tilt, az = math.radians(a["tilt_deg"]), math.radians(a.get("azimuth_deg", 180))
    cos_aoi = max(0.0, east * math.sin(tilt) * math.sin(az)
                  + north * math.sin(tilt) * math.cos(az) + up * math.cos(tilt))
    poa = (dni * cos_aoi + dhi * (1 + math.cos(tilt)) / 2
           + ghi * 0.2 * (1 - math.cos(tilt)) / 2)
    t_cell = temp_c + poa / (25.0 + 6.84 * 3.0)  # Faiman, 3 m/s wind
    dc = (a["peak_kwp"] * poa / 1000 * (1 + a.get("temp_coeff_per_c", -0.0035) * (t_cell - 25))
          * (1 - a.get("losses", 0.14)))
    return min(dc * 0.96, a["inverter_ac_kw"])


def price_at(tariff, month, minute):
    for s in tariff["seasons"]:
        if month in s["months"]:
            for p in s["periods"]:
                if in_window(p, minute):
                    return s["prices_cny_per_kwh"][p["tier"]]
    raise ValueError("tariff does not cover month %d minute %d" % (month, minute))


def series(station):
    loc, base = station["location"], station["base_load"]
    amen = station["sharing"]["amenities"]
    buy, pv, load = [], [], []
    for t in range(STEPS):
        start = t * STEP_MIN
        mid = start + STEP_MIN / 2
        buy.append(price_at(station["tariff"], DATE[1], start))
        h = mid / 60
        temp = 20.4 + 7 * math.cos(2 * math.pi * (h - 15) / 24)  # July mean 20.4 C
        cloud = (1 - 0.25 * math.exp(-((h - 14.0) / 0.6) ** 2)
                 - 0.15 * math.exp(-((h - 11.25) / 0.3) ** 2))  # afternoon cumulus
        vec = sun(loc["lat_deg"], loc["lon_deg"], mid)
        pv.append(sum(array_ac_kw(a, vec, loc["altitude_m"], temp, cloud)
                      for a in station["pv_arrays"]))
        kw = base["amenity_day_kw"] if in_window(amen, start) else base["night_kw"]
        kw += base["lighting_kw"] if in_window(base["lighting"], start) else 0
        load.append(kw)
    return buy, pv, load


def fmt_list(values, indent, digits=2):
    rows = [", ".join("%g" % round(v, digits) for v in values[i:i + 12])
            for i in range(0, len(values), 12)]
    pad = " " * indent
    return "[\n" + ",\n".join(pad + "  " + r for r in rows) + "\n" + pad + "]"


def main():
    with open(os.path.join(HERE, "..", "ulanhada.json"), encoding="utf-8") as f:
        station = json.load(f)
    buy, pv, load = series(station)
    ess = {k: v for k, v in station["ess"].items()}
    ess["soc_initial"] = SOC_INITIAL
    chargers = [{"id": ch["id"], "max_kw": ch["max_kw"]} for ch in station["chargers"]]
    connectors = [dict(c, charger=ch["id"]) for ch in station["chargers"] for c in ch["connectors"]]
    known = {c["id"] for c in connectors}
    sessions = []
    for i, (con, arr, dep, kwh, kw) in enumerate(SESSIONS):
        assert con in known, con
        sessions.append({"id": "s%02d-%s" % (i + 1, con), "connector": con,
                         "arrival_step": minutes(arr) // STEP_MIN,
                         "departure_step": minutes(dep) // STEP_MIN,
                         "energy_kwh": kwh, "max_kw": kw})
    ev_id, ev_type, ev_start, ev_end, ev_kw = DR_EVENT
    tariff = station["tariff"]
    out = [
        '  "step_minutes": %d,' % STEP_MIN,
        '  "steps": %d,' % STEPS,
        '  "grid": {"import_limit_kw": %g, "export_limit_kw": %g, "demand_charge_cny_per_kw": %g},'
        % (station["grid"]["import_limit_kw"], station["grid"]["export_limit_kw"],
           round(tariff["demand_charge_cny_per_kw_month"] / 30.0, 4)),
        '  "tariff": {\n    "buy_cny_per_kwh": %s,\n    "sell_cny_per_kwh": %g\n  },'
        % (fmt_list(buy, 4, 4), tariff["export_cny_per_kwh"]),
        '  "pv_available_kw": %s,' % fmt_list(pv, 2),
        '  "base_load_kw": %s,' % fmt_list(load, 2),
        '  "ess": %s,' % json.dumps(ess),
        '  "chargers": [\n%s\n  ],' % ",\n".join("    " + json.dumps(c) for c in chargers),
        '  "connectors": [\n%s\n  ],' % ",\n".join("    " + json.dumps(c) for c in connectors),
        '  "sessions": [\n%s\n  ],' % ",\n".join("    " + json.dumps(s) for s in sessions),
        '  "dr_events": [\n    %s\n  ],' % json.dumps(
            {"id": ev_id, "type": ev_type, "start_step": minutes(ev_start) // STEP_MIN,
             "end_step": minutes(ev_end) // STEP_MIN, "limit_kw": ev_kw}),
        '  "flexibility_steps": %d' % STEPS,
    ]
    with open(os.path.join(HERE, "ulanhada-day.json"), "w", encoding="utf-8") as f:
        f.write("{\n" + "\n".join(out) + "\n}\n")
    print("ulanhada-day.json: %d sessions, PV %.0f kWh, peak %.0f kW, base load %.0f kWh"
          % (len(sessions), sum(pv) / 4, max(pv), sum(load) / 4))


if __name__ == "__main__":
    main()
