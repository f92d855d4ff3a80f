/* SPDX-License-Identifier: MIT */
/*
 * dispatch_msg.h - the payloads of flexd's MQTT interface (docs/mqtt.md,
 * docs/asyncapi.yaml, docs/schemas/): strict parsers for what the grid
 * dispatcher and the city platforms send (DR events, immediate commands,
 * tariffs, forecasts) and JSON builders for what flexd publishes (acks,
 * adjustable capacity, live state, DR performance, the daily report,
 * status). Topics, QoS and retain flags are the MQTT client's business;
 * this module only turns bytes into structs and structs into bytes.
 *
 * Every parser takes the payload bytes (need not be NUL-terminated) and
 * returns DISPATCH_OK or the code it also stores in err->code, with
 * err->message reading "json.path: value: rule" and err->id holding the
 * message's "id" whenever that could be read (for the ack), even when other
 * fields are bad. Parsers return only these codes:
 *   DISPATCH_INVALID_PAYLOAD   empty, over DISPATCH_PAYLOAD_MAX bytes (not
 *                              parsed at all), nested deeper than
 *                              DISPATCH_DEPTH_MAX, NUL bytes or \u0000
 *                              escapes, not JSON;
 *   DISPATCH_SCHEMA_VIOLATION  the shape is wrong: a missing, unknown or
 *                              duplicate key, a wrong JSON type, a string that
 *                              is not an id / date-time / duration, an
 *                              unknown payload type, too many elements;
 *   DISPATCH_OUT_OF_RANGE      the shape is right but a number or a time span
 *                              breaks a rule: kW or prices outside their range,
 *                              intervals out of order or overlapping, an event
 *                              over 24 h, an end not after its start;
 *   DISPATCH_EXPIRED           a valid message whose time is over (the output
 *                              struct is then complete, for logging);
 *   DISPATCH_RETAINED_COMMAND  a command delivered as a retained message.
 * The other codes are the engine's, for acks.
 *
 * Builders return a newly allocated NUL-terminated compact JSON text (free
 * with free()); they abort on out-of-memory like common/alloc.h and never
 * return NULL. Non-finite numbers are written as null. Times are written as
 * ISO 8601 local time with the +08:00 offset (common/clock.h).
 *
 * Pure functions: no I/O, no global state, any thread. The caller owns
 * every struct; the parsers' output structs are plain values.
 */
#ifndef FLEXD_IO_DISPATCH_MSG_H
#define FLEXD_IO_DISPATCH_MSG_H

#include <stddef.h>
#include <stdint.h>

/* Topics, relative to the prefix flexd/{station_id}/ (docs/mqtt.md). */
#define DISPATCH_TOPIC_DR_EVENT        "dr/event"                 /* in, QoS 1 */
#define DISPATCH_TOPIC_COMMAND         "command"                  /* in, QoS 1, never retained */
#define DISPATCH_TOPIC_TARIFF          "tariff"                   /* in, QoS 1, retained */
#define DISPATCH_TOPIC_VISITOR_FLOW    "forecast/visitor_flow"    /* in, QoS 1, retained */
#define DISPATCH_TOPIC_ROAD_CONGESTION "forecast/road_congestion" /* in, QoS 1, retained */
#define DISPATCH_TOPIC_DECLARE         "session/declare"          /* in, QoS 1, not retained */
#define DISPATCH_TOPIC_ACK             "ack"                      /* out, QoS 1 */
#define DISPATCH_TOPIC_CAPACITY        "capacity"                 /* out, QoS 1, retained */
#define DISPATCH_TOPIC_LIVE_CONNECTORS "live/connectors"          /* out, QoS 1, coalesced */
#define DISPATCH_TOPIC_LIVE_FLOWS      "live/flows"               /* out, QoS 1, coalesced */
#define DISPATCH_TOPIC_LIVE_PARKING    "live/parking"             /* out, QoS 1, coalesced */
#define DISPATCH_TOPIC_LIVE_SNAPSHOT   "live/snapshot"            /* out, QoS 1, coalesced */
#define DISPATCH_TOPIC_DR_PERFORMANCE  "dr/performance"           /* out, QoS 1 */
#define DISPATCH_TOPIC_REPORT_DAILY    "report/daily"             /* out, QoS 1 */
#define DISPATCH_TOPIC_STATUS          "status"                   /* out, QoS 1, retained */

/* Stable numbers and names (dispatch_code_name); never renumbered. */
enum dispatch_code {
    DISPATCH_OK = 0,
    DISPATCH_INVALID_PAYLOAD,
    DISPATCH_SCHEMA_VIOLATION,
    DISPATCH_EXPIRED,
    DISPATCH_DUPLICATE,
    DISPATCH_UNKNOWN_EVENT,
    DISPATCH_OUT_OF_RANGE,
    DISPATCH_INSUFFICIENT_FLEXIBILITY,
    DISPATCH_NOT_AUTHORISED,
    DISPATCH_RETAINED_COMMAND,
    DISPATCH_CONFLICT,
    DISPATCH_INTERNAL
};

/* "OK", "INVALID_PAYLOAD", ... ; "INTERNAL" for a number outside the enum. */
const char *dispatch_code_name(enum dispatch_code c);

struct dispatch_error {
    enum dispatch_code code;
    char message[512];
    char id[64]; /* the message id if it could be read, for the ack; else "" */
};

#define DISPATCH_PAYLOAD_MAX      (64 * 1024) /* larger: INVALID_PAYLOAD without parsing */
#define DISPATCH_DEPTH_MAX        16          /* deeper JSON nesting: INVALID_PAYLOAD */
#define DISPATCH_INTERVALS_MAX    96
#define DISPATCH_PRICES_MAX       (DISPATCH_INTERVALS_MAX * 4)
#define DISPATCH_KW_MAX           1e5     /* every kW value in [0, 1e5] (battery: [-1e5, 1e5]) */
#define DISPATCH_PRICE_MIN        (-10.0) /* CNY/kWh; spot prices may go negative */
#define DISPATCH_PRICE_MAX        100.0
#define DISPATCH_VISITORS_MAX     1e6                      /* visitors/h */
#define DISPATCH_EVENT_SPAN_MS    (24LL * 3600 * 1000)     /* first start to last end */
#define DISPATCH_TARIFF_SPAN_MS   (7 * 24LL * 3600 * 1000) /* validFrom to validUntil */
#define DISPATCH_HOLD_MAX_MS      (24LL * 3600 * 1000)     /* a command's duration */
#define DISPATCH_SESSION_KWH_MAX  200.0                    /* a declared session's energy */
#define DISPATCH_DECLARE_AHEAD_MS (7LL * 24 * 3600 * 1000) /* a declared departure */

/* ---- dr/event ---------------------------------------------------------- */

enum dispatch_event_kind {
    DISPATCH_IMPORT_CAP,  /* IMPORT_CAPACITY_LIMIT: net import at most value_kw */
    DISPATCH_REDUCE,      /* LOAD_SHED_DELTA: reduce by value_kw relative to baseline */
    DISPATCH_IMPORT_FLOOR /* IMPORT_CAPACITY_FLOOR (flexd): net import at least value_kw */
};

struct dispatch_interval {
    int64_t start_ms;
    int64_t end_ms;
    double value_kw;
};

struct dispatch_event {
    char id[64];
    char program[64];              /* programID */
    int modification;              /* modificationNumber, >= 0 */
    int priority;                  /* 0 highest */
    int cancel;                    /* "cancelled": true; may come with no intervals */
    enum dispatch_event_kind kind; /* DISPATCH_IMPORT_CAP for a cancel with no
                                    * intervals and no payloadDescriptors */
    int64_t created_ms;            /* createdDateTime */
    int64_t notice_ms;             /* when this modification was issued: modificationDateTime,
                                    * else createdDateTime, never later than now_ms */
    int n_intervals;               /* 0 only for a cancel */
    struct dispatch_interval interval[DISPATCH_INTERVALS_MAX]; /* in order, disjoint */
    int64_t expires_ms;                                        /* "expires"; 0 = none */
};

/* Parse an OpenADR 3 style event (docs/mqtt.md "dr/event"). Intervals
 * without their own intervalPeriod follow each other from the event's
 * intervalPeriod.start with its duration. DISPATCH_EXPIRED when "expires"
 * or the last interval's end is <= now_ms. */
int dispatch_parse_event(const char *payload,
                         size_t len,
                         int64_t now_ms,
                         struct dispatch_event *out,
                         struct dispatch_error *err);

/* ---- command ------------------------------------------------------------ */

enum dispatch_command_kind {
    DISPATCH_CMD_IMPORT_CAP,             /* cap net import at value_kw */
    DISPATCH_CMD_BATTERY_SETPOINT,       /* battery at value_kw, discharge + */
    DISPATCH_CMD_EMERGENCY_HOLD_RESERVE, /* keep the battery's energy for the grid */
    DISPATCH_CMD_EMERGENCY_SUPPORT,      /* cut import as far as possible now */
    DISPATCH_CMD_AUTO                    /* end every command: back to the plan */
};

struct dispatch_command {
    char id[64];
    enum dispatch_command_kind kind;
    double value_kw;     /* cap or battery kW (discharge +); 0 for the others */
    int64_t issued_ms;   /* "issued" */
    int64_t expires_ms;  /* "expires", required: not to be applied after this */
    int64_t duration_ms; /* how long it holds, 0 = until AUTO */
};

/* Parse an immediate command. retained != 0 (the MQTT retain flag as
 * delivered) gives DISPATCH_RETAINED_COMMAND whatever the payload; expires
 * <= now_ms gives DISPATCH_EXPIRED. */
int dispatch_parse_command(const char *payload,
                           size_t len,
                           int retained,
                           int64_t now_ms,
                           struct dispatch_command *out,
                           struct dispatch_error *err);

/* ---- tariff ------------------------------------------------------------- */

struct dispatch_price {
    int64_t start_ms, end_ms;
    double buy_cny_per_kwh, sell_cny_per_kwh;
};

struct dispatch_tariff {
    char id[64];
    int64_t valid_from_ms, valid_until_ms;
    int n_prices; /* >= 1; contiguous from valid_from_ms to valid_until_ms */
    struct dispatch_price price[DISPATCH_PRICES_MAX];
};

/* Parse OpenADR-style PRICE / EXPORT_PRICE intervals with validity (a
 * multi-valued payload splits its interval evenly, OpenADR 3.1's compact
 * form). The prices must cover [validFrom, validUntil) without gaps.
 * DISPATCH_EXPIRED when validUntil <= now_ms. */
int dispatch_parse_tariff(const char *payload,
                          size_t len,
                          int64_t now_ms,
                          struct dispatch_tariff *out,
                          struct dispatch_error *err);

/* ---- session/declare ---------------------------------------------------- */

/* A driver's declaration, from the platform that took it (app, reservation,
 * parking terminal): when the car on a connector leaves and how much energy
 * it wants. */
struct dispatch_declaration {
    char id[64];
    char connector[64];
    int64_t issued_ms;
    int64_t departure_ms; /* 0 = not declared */
    double energy_kwh;    /* NAN = not declared; else in (0, DISPATCH_SESSION_KWH_MAX] */
};

/* Parse a declaration: id, connector, issued required; departure and/or
 * energy_kwh. A departure not after now_ms gives DISPATCH_EXPIRED; one more
 * than DISPATCH_DECLARE_AHEAD_MS ahead, DISPATCH_OUT_OF_RANGE. Whether the
 * connector exists is the engine's business. */
int dispatch_parse_declaration(const char *payload,
                               size_t len,
                               int64_t now_ms,
                               struct dispatch_declaration *out,
                               struct dispatch_error *err);

/* ---- forecast/visitor_flow, forecast/road_congestion ------------------- */

enum dispatch_forecast_kind {
    DISPATCH_FORECAST_VISITOR_FLOW = 0,   /* VISITOR_FLOW, visitors/h in [0, 1e6] */
    DISPATCH_FORECAST_ROAD_CONGESTION = 1 /* ROAD_CONGESTION, index in [0, 1]:
                                           * 0 free flow, 1 standstill */
};

struct dispatch_forecast {
    char id[64];
    int kind; /* enum dispatch_forecast_kind */
    int n;    /* >= 1, in order, disjoint (gaps allowed) */
    struct dispatch_interval interval[DISPATCH_INTERVALS_MAX]; /* value in the kind's unit */
};

/* Parse a forecast for the topic of kind (enum dispatch_forecast_kind): the
 * payload type must match the topic. No expiry: the engine decides how old
 * a forecast may be. */
int dispatch_parse_forecast(const char *payload,
                            size_t len,
                            int kind,
                            struct dispatch_forecast *out,
                            struct dispatch_error *err);

/* ---- ack ---------------------------------------------------------------- */

/* {"id", "status", "code", "message"?, "committed_kw"?, "ts"}. id NULL or ""
 * writes "id": null (the message id could not be read); message NULL omits
 * it; committed_kw NAN omits it. status is one of "accepted", "rejected",
 * "cancelled", "completed", "applied" (written as given). */
char *dispatch_ack_json(const char *id,
                        const char *status,
                        enum dispatch_code code,
                        const char *message,
                        double committed_kw,
                        int64_t now_ms);

/* ---- capacity ----------------------------------------------------------- */

struct dispatch_capacity_step {
    int64_t start_ms;
    double net_min_kw, net_max_kw; /* net import the station can reach (export -) */
    double plan_kw;                /* planned net import */
    double marginal_cny_per_kwh;   /* marginal cost of net import at the plan */
};

/* A window in which the station can hold a change for its whole length. */
struct dispatch_window {
    int64_t start_ms;
    int minutes;
    double reduce_kw, increase_kw;
};

/* Adjustable capacity, up/down relative to the plan, OpenADR-shaped:
 * intervals of step_minutes with payloads USAGE_FORECAST (plan),
 * IMPORT_CAPACITY_AVAILABLE (net max), EXPORT_CAPACITY_AVAILABLE (-net min),
 * LOAD_SHED_DELTA_AVAILABLE (plan - net min), LOAD_INCREASE_DELTA_AVAILABLE
 * (net max - plan) and MARGINAL_PRICE, plus windows. validUntil is the
 * last step's end (now_ms with no steps). */
char *dispatch_capacity_json(int64_t now_ms,
                             const struct dispatch_capacity_step *steps,
                             int n_steps,
                             int step_minutes,
                             const struct dispatch_window *w,
                             int n_windows);

/* ---- dr/performance ----------------------------------------------------- */

struct dispatch_perf_step {
    int64_t start_ms;
    double baseline_kw, measured_kw, target_kw; /* NAN = not known yet (null) */
};

/* Delivery of one event, OpenADR report-shaped: intervals with BASELINE,
 * USAGE (measured, kW) and SETPOINT (target) payloads and the totals.
 * The step length is taken from the first two steps' starts; a step
 * whose start does not follow on gets its own intervalPeriod. compliance
 * NAN is written as null. */
char *dispatch_performance_json(const char *event_id,
                                int final,
                                const struct dispatch_perf_step *steps,
                                int n,
                                double delivered_kwh,
                                double required_kwh,
                                double compliance);

/* ---- live/connectors, live/flows, live/parking, live/snapshot ----------- */

/* Connector states after OCPP 1.6 StatusNotification, numbered as
 * io/history.h's; written as the OCPP names ("Charging"). */
enum dispatch_connector_state {
    DISPATCH_CONN_UNKNOWN = 0,
    DISPATCH_CONN_AVAILABLE = 1,
    DISPATCH_CONN_PREPARING = 2, /* plugged in, not charging yet */
    DISPATCH_CONN_CHARGING = 3,
    DISPATCH_CONN_SUSPENDED_EV = 4,
    DISPATCH_CONN_SUSPENDED_EVSE = 5,
    DISPATCH_CONN_FINISHING = 6,
    DISPATCH_CONN_FAULTED = 7,
    DISPATCH_CONN_UNAVAILABLE = 8
};

/* "Available", ..., "Unknown" for a number outside the enum. */
const char *dispatch_connector_state_name(enum dispatch_connector_state s);

struct dispatch_connector {
    char id[64];
    enum dispatch_connector_state state;
    double power_kw;          /* measured */
    double limit_kw;          /* setpoint in force; NAN = none */
    double max_kw;            /* rating */
    double session_kwh;       /* energy of the session so far; NAN = no session */
    double soc;               /* the car's state of charge 0..1; NAN = not reported */
    int64_t session_start_ms; /* 0 = no session */
};

struct dispatch_flows {
    double grid_kw;       /* net at the connection point, import +; NAN = meter lost */
    double pv_kw;         /* PV AC output */
    double pv_limit_kw;   /* curtailment limit in force; NAN or INFINITY = none */
    double battery_kw;    /* discharge +, charge - */
    double battery_soc;   /* 0..1; NAN = unknown */
    double ev_kw;         /* all connectors */
    double base_kw;       /* non-EV load */
    double import_max_kw; /* the import limit in force: connection or DR cap */
    double import_min_kw; /* DR floor; 0 = none */
};

struct dispatch_parking {
    int spaces;   /* from the station file */
    int occupied; /* -1 = unknown (then written as null), as every count here */
    int ev_spaces;
    int ev_occupied;
    int accessible_spaces;
    int accessible_occupied;
    int entries_today; /* gate counters since local midnight */
    int exits_today;
};

enum dispatch_mode {
    DISPATCH_MODE_PLAN = 0, /* setpoints from the optimised plan */
    DISPATCH_MODE_RULES,    /* no valid plan: the rule strategy */
    DISPATCH_MODE_COMMAND,  /* an immediate command holds */
    DISPATCH_MODE_FAILSAFE  /* meter or devices lost: fail-safe limits */
};

struct dispatch_snapshot {
    enum dispatch_mode mode;
    const char *dr_event_id; /* the event in force, NULL = none */
    const char *command_id;  /* the command in force, NULL = none */
    int devices_online, devices_total;
    int sessions_open;
    struct dispatch_flows flows;
    struct dispatch_parking parking;
    const struct dispatch_connector *connectors; /* borrowed */
    int n_connectors;
};

/* {"ts", "connectors": [...]} */
char *dispatch_connectors_json(int64_t now_ms, const struct dispatch_connector *c, int n);

/* {"ts", "grid_kw", ...} */
char *dispatch_flows_json(int64_t now_ms, const struct dispatch_flows *f);

/* {"ts", "spaces", ...} */
char *dispatch_parking_json(int64_t now_ms, const struct dispatch_parking *p);

/* Everything at once: {"ts", "mode", ..., "flows", "parking", "connectors"}. */
char *dispatch_snapshot_json(int64_t now_ms, const struct dispatch_snapshot *s);

/* ---- report/daily ------------------------------------------------------- */

/* One local day (00:00-24:00 +08:00). Energies in kWh, money in CNY. */
struct dispatch_daily {
    char date[11]; /* "YYYY-MM-DD" */
    double energy_charged_kwh;
    int sessions;
    double revenue_energy_cny;  /* energy fees paid by drivers */
    double revenue_service_cny; /* service fees paid by drivers */
    double pv_generated_kwh;
    double pv_self_consumed_kwh;   /* used on site (EV, base load, battery) */
    double pv_curtailed_kwh;       /* estimated: available minus produced */
    double battery_throughput_kwh; /* charged + discharged, AC side */
    double grid_import_kwh, grid_export_kwh;
    double grid_cost_cny; /* import at buy prices minus export at sell prices */
    double peak_kw;       /* highest 15-min average net import */
    int dr_events;        /* events with an interval in the day */
    double dr_delivered_kwh;
    double dr_compliance; /* delivered / required; NAN = no events (null) */
};

char *dispatch_daily_json(int64_t now_ms, const struct dispatch_daily *d);

/* ---- status ------------------------------------------------------------- */

/* {"state": "online" | "offline", "ts", "version"}. The MQTT will is
 * dispatch_status_json(0, connect time, version). */
char *dispatch_status_json(int online, int64_t now_ms, const char *version);

#endif
