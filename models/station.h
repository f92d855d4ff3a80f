/* SPDX-License-Identifier: MIT */
/*
 * station.h - the station as built: location, grid connection, PV arrays,
 * battery, chargers and their connectors, parking, base load, tariff, the
 * community sharing windows and the penalty prices the optimiser uses.
 * Read from config/ulanhada.json by config/station_file.c; the engine turns
 * it plus live state and forecasts into a struct scenario.
 *
 * Pure data and arithmetic, no I/O. Arrays are inline with fixed capacity so
 * a station can be copied with `=`. Units are in the names; local times are
 * minutes after local midnight (UTC+08:00); azimuths are compass bearings
 * (0 = north, 90 = east, 180 = south), as in models/solar.h.
 */
#ifndef FLEXD_MODELS_STATION_H
#define FLEXD_MODELS_STATION_H

#include "../common/error.h"
#include "scenario.h"
#include "tariff.h"

#define STATION_ID_MAX              64
#define STATION_NAME_MAX            128
#define STATION_TZ_MAX              48
#define STATION_TIMEZONE            "Asia/Shanghai" /* the only zone clock.h converts to */
#define STATION_PV_ARRAYS_MAX       16
#define STATION_CHARGERS_MAX        32
#define STATION_CONNECTORS_MAX      12   /* per charger: split cabinets drive up to ~12 terminals */
#define STATION_AC_CONNECTOR_MAX_KW 44.0 /* GB/T 20234.2 AC coupler: 63 A x 3 x 230 V = 43.5 kW */
#define STATION_SPACES_MAX          100000
#define STATION_DEVICES_MAX         64
#define STATION_HOST_MAX            64

struct station_location {
    double lat_deg;                /* -90..90, north positive */
    double lon_deg;                /* -180..180, east positive */
    double altitude_m;             /* -500..9000 */
    char timezone[STATION_TZ_MAX]; /* must be STATION_TIMEZONE */
};

struct station_grid {
    double transformer_kva;  /* rating of the station's 10 kV / 0.4 kV transformer */
    double import_limit_kw;  /* contracted / protection import limit, <= transformer_kva */
    double export_limit_kw;  /* agreed feed-in limit, 0 = no export */
    double demand_target_kw; /* monthly billed demand the operator budgets for:
                              * the planner treats import up to it as free of
                              * demand charge; 0 = the month's peak so far */
};

struct station_pv_array {
    char id[STATION_ID_MAX];
    double peak_kwp;         /* DC nameplate at STC */
    double tilt_deg;         /* 0 = horizontal .. 90 = vertical */
    double azimuth_deg;      /* compass bearing the modules face, 180 = south; [0, 360) */
    double inverter_ac_kw;   /* AC rating; output is clipped here */
    double temp_coeff_per_c; /* power temperature coefficient, 1/K, e.g. -0.0035 */
    double losses;           /* DC losses 0..1 (soiling, wiring, mismatch, snow) */
};

struct station_ess {
    double capacity_kwh;
    double charge_max_kw;
    double discharge_max_kw;
    double charge_efficiency;           /* (0, 1] */
    double discharge_efficiency;        /* (0, 1] */
    double soc_min;                     /* hard floor, 0..1 */
    double soc_max;                     /* hard ceiling, 0..1 */
    double reserve_soc;                 /* soft floor kept for the community (emergency power) */
    double soc_final_target;            /* soft floor at the end of each planning horizon */
    double throughput_cost_cny_per_kwh; /* wear, on charge + discharge */
};

enum station_charger_type {
    STATION_CHARGER_DC = 0,
    STATION_CHARGER_AC = 1,
};

/* "dc", "ac", NULL: the names used in files. */
extern const char *const station_charger_type_names[3];

struct station_connector {
    char id[STATION_ID_MAX]; /* unique in the station; the scenario's connector id */
    double max_kw;
};

/* A charger cabinet: its connectors share the cabinet's power. */
struct station_charger {
    char id[STATION_ID_MAX];
    enum station_charger_type type;
    double max_kw; /* cabinet limit: max connector <= max_kw <= sum of connectors */
    int n_connectors;
    struct station_connector connectors[STATION_CONNECTORS_MAX];
};

struct station_parking {
    int spaces;
    int ev_spaces;         /* spaces with a connector in reach: >= the number of connectors */
    int accessible_spaces; /* barrier-free spaces */
};

/* A daily local time window [start, end); end <= start wraps past midnight,
 * 00:00-24:00 is the whole day. */
struct station_window {
    int start_min; /* 0..1439 */
    int end_min;   /* 0..1440 */
};

struct station_base_load {
    double amenity_day_kw; /* rest area, toilets, shop: inside sharing.amenities */
    double night_kw;       /* standby outside sharing.amenities */
    double lighting_kw;    /* car-park lighting, added inside lighting */
    struct station_window lighting;
};

/* The community sharing windows of the planning document (section 4). */
struct station_sharing {
    struct station_window charging;  /* community EVs may charge: 24 h */
    struct station_window parking;   /* spaces shared for night parking: 22:00-08:00 */
    struct station_window amenities; /* rest area and toilets open: 08:00-22:00 */
};

/* What a Modbus TCP device is to the station (docs/devices.md). */
enum station_device_kind {
    STATION_DEVICE_METER = 0,     /* the grid meter at the connection point */
    STATION_DEVICE_PV = 1,        /* one PV inverter (or plant controller) per array */
    STATION_DEVICE_STORAGE = 2,   /* the battery's PCS/BMS */
    STATION_DEVICE_CONNECTOR = 3, /* one charging connector (a cabinet's unit id per gun) */
    STATION_DEVICE_PARKING = 4,   /* the parking controller: occupancy and gate counters */
};

extern const char *const station_device_kind_names[6];

enum station_device_protocol {
    STATION_PROTOCOL_SUNSPEC = 0, /* SunSpec models, discovered at 0/40000/50000 */
    STATION_PROTOCOL_REGMAP = 1,  /* a register map from config/devices/<map>.json */
    STATION_PROTOCOL_PARKING = 2, /* the parking controller layout of docs/devices.md:
                                   * one discrete input per space, gate counters */
};

extern const char *const station_device_protocol_names[4];

struct station_device {
    char id[STATION_ID_MAX];
    int kind;                    /* enum station_device_kind */
    int protocol;                /* enum station_device_protocol */
    char target[STATION_ID_MAX]; /* PV: the pv_arrays id; connector: the connector id */
    char map[STATION_ID_MAX];    /* regmap: the map's name (config/devices/<map>.json) */
    char host[STATION_HOST_MAX]; /* IPv4 address or host name */
    int port;                    /* TCP port, 502 by default */
    int unit_id;                 /* Modbus unit identifier 0..247 (255: the device ignores it) */
    int timeout_ms;              /* reply timeout */
    int poll_ms;                 /* poll period */
    int revert_s;                /* revert timer written with every setpoint: the device
                                  * falls back to its safe default if flexd stops */
};

/* How the engine drives the station (engine/controller.h). */
struct station_control {
    /* plan each plugged-in car to be served this many minutes before its
     * declared departure: drivers' declared times are optimistic */
    int departure_margin_min;
    int replan_s; /* periodic re-plan of the live engine, s */
    int cycle_ms; /* live control cycle, ms */
    /* history retention (io/history.h), days */
    int history_sample_days;  /* 1-s samples */
    int history_minute_days;  /* 1-min rollups */
    int history_quarter_days; /* 15-min rollups */
};

/* What the live engine expects of cars not yet here (engine/ev_forecast.h,
 * docs/configuration.md "ev_forecast"): a cold-start arrival rate until
 * it has learned its own, and how the platforms' forecasts move it. */
struct station_ev_forecast {
    /* arrivals a day before any are seen, spread over sharing.amenities */
    double prior_dc_arrivals_per_day;
    double prior_ac_arrivals_per_day;
    double learn_days; /* time constant of the learned hourly rates, days */
    /* share of arrivals that come with the scenic area's visitors; with a
     * visitor-flow forecast that share is replaced by
     * arrivals_per_1000_visitors x visitors/h / 1000 */
    double tourist_share;
    double arrivals_per_1000_visitors;
    /* share that is through traffic; scaled by (1 - c) / (1 - c_typical)
     * under a road-congestion forecast c */
    double through_share;
    double congestion_typical;
};

/* The optional connection to the grid dispatcher and city platform
 * (io/mqtt.h, engine/dispatch.h, docs/configuration.md "mqtt"). Empty
 * strings mean "not set". The password is never in the file: only the
 * name of a file holding it. */
#define STATION_PATH_MAX 512

enum station_dr_baseline {
    STATION_BASELINE_SIMILAR_DAYS = 0, /* same window on the last N similar days */
    STATION_BASELINE_RECENT_15MIN = 1, /* the 15 min before the event */
};

struct station_mqtt {
    char host[STATION_NAME_MAX];
    int port;
    int tls;
    char ca_file[STATION_PATH_MAX];
    char cert_file[STATION_PATH_MAX];
    char key_file[STATION_PATH_MAX];
    char username[STATION_NAME_MAX];
    char password_file[STATION_PATH_MAX];
    char client_id[STATION_NAME_MAX];
    char topic_prefix[STATION_NAME_MAX]; /* "" = "flexd/{station id}" */
    int keepalive_s;
    char outbox_path[STATION_PATH_MAX];
    int dr_baseline; /* enum station_dr_baseline */
    int dr_baseline_days;
};

struct station {
    char id[STATION_ID_MAX];
    char name[STATION_NAME_MAX];
    struct station_location location;
    struct station_grid grid;
    int n_pv_arrays;
    struct station_pv_array pv_arrays[STATION_PV_ARRAYS_MAX];
    int has_ess;
    struct station_ess ess;
    int n_chargers;
    struct station_charger chargers[STATION_CHARGERS_MAX];
    struct station_parking parking;
    struct station_base_load base_load;
    struct station_sharing sharing;
    struct tariff tariff;
    struct scenario_penalties penalties;
    struct station_control control;
    struct station_ev_forecast ev_forecast;
    int n_devices;
    struct station_device devices[STATION_DEVICES_MAX];
    int has_mqtt;
    struct station_mqtt mqtt;
};

/* A zeroed station (no PV, no battery, no chargers); free with station_free. */
struct station *station_new(void);

void station_free(struct station *st);

/* Check every value and cross-field rule (ranges, unique ids, connector vs
 * cabinet power, import limit vs transformer, soc window, parking spaces,
 * tariff_validate()). ERROR_OK or ERROR_INVALID with ed holding
 * "json.path: value: rule" in the station file's names. */
int station_validate(const struct station *st, struct error_detail *ed);

/* 1 if local minute m (0..1439) is inside w. */
int station_window_contains(const struct station_window *w, int minute);

/* Base load at local minute m: amenity_day_kw inside sharing.amenities,
 * else night_kw, plus lighting_kw inside base_load.lighting. */
double station_base_load_kw(const struct station *st, int minute);

/* Total connectors over all chargers. */
int station_connector_count(const struct station *st);

/* The connector with this id (and its charger in *charger if not NULL), or NULL. */
const struct station_connector *station_find_connector(const struct station *st,
                                                       const char *id,
                                                       const struct station_charger **charger);

/* Index of the device of this kind serving target (NULL target: the first
 * of that kind), or -1. */
int station_find_device(const struct station *st, int kind, const char *target);

/* Sum of peak_kwp over the PV arrays. */
double station_pv_kwp(const struct station *st);

#endif
