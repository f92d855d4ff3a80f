/* SPDX-License-Identifier: MIT */
/*
 * regmap_file.h - a device's Modbus register map, read from
 * config/devices/<name>.json (format in docs/devices.md, "Charger register
 * maps" and "Meter register maps"). A map has a kind. A connector map (the
 * default) says where one charging connector keeps its status, power,
 * session energy, power-or-current limit and heartbeat, and optionally its
 * plug state, phase voltage and error code; a meter map says where a grid
 * meter keeps its net active power, and optionally its import and export
 * counters and phase voltage. Each field gives its register table,
 * address, word type and word order, scale and offset, unit, access, and
 * (codes) how raw status codes read as flexd connector states.
 * io/regmap.c reads and writes a device with a parsed map.
 *
 * The map types live here, beside their parser, because config/ may not
 * include io/ headers (layers depend one way); they are plain data with no
 * I/O, like the models/ structs the other config files fill.
 * Every error reads "FILE: json.path: value: rule".
 */
#ifndef FLEXD_CONFIG_REGMAP_FILE_H
#define FLEXD_CONFIG_REGMAP_FILE_H

#include "../common/error.h"

#include <stddef.h>
#include <stdint.h>

struct station_device;

/* Largest map file read; a map with every optional field is about 3 KB. */
#define REGMAP_FILE_MAX_BYTES ((size_t)64 << 10)

#define REGMAP_FILE_ID_MAX     64
#define REGMAP_FILE_NAME_MAX   128
#define REGMAP_FILE_TEXT_MAX   512
#define REGMAP_FILE_STATES_MAX 32

/* Most registers one Read Holding/Input Registers request may ask for
 * (Modbus Application Protocol Specification V1.1b3, 6.3 and 6.4). */
#define REGMAP_FILE_READ_MAX 125

/* What a map describes: the top-level "kind". */
enum regmap_file_kind {
    REGMAP_FILE_KIND_CONNECTOR = 0, /* a charging connector (the default) */
    REGMAP_FILE_KIND_METER = 1,     /* the grid meter at the connection point */
};

/* "connector", "meter", NULL. */
extern const char *const regmap_file_kind_names[3];

/* What a field means to flexd; each role appears at most once in a map,
 * and only in a map of the kind noted (power and voltage in both). */
enum regmap_file_role {
    REGMAP_FILE_STATUS = 0,         /* connector: state code (required) */
    REGMAP_FILE_POWER = 1,          /* connector: active power drawn by the car; meter: net
                                     * active power, import positive, signed type; W or kW
                                     * (required) */
    REGMAP_FILE_SESSION_ENERGY = 2, /* connector: energy of the session so far, Wh or kWh
                                     * (required) */
    REGMAP_FILE_LIMIT = 3,          /* connector: setpoint, current (A) or power (W, kW) limit
                                     * (required) */
    REGMAP_FILE_HEARTBEAT = 4,      /* connector: setpoint, keep-alive counter or timeout
                                     * (required) */
    REGMAP_FILE_PLUG = 5,           /* connector: plug/cable state code (optional) */
    REGMAP_FILE_VOLTAGE = 6,        /* phase (L1-N) voltage, V (optional) */
    REGMAP_FILE_ERROR_CODE = 7,     /* connector: vendor error code (optional) */
    REGMAP_FILE_ENERGY_IMPORT = 8,  /* meter: energy imported, Wh or kWh counter (optional) */
    REGMAP_FILE_ENERGY_EXPORT = 9,  /* meter: energy exported, Wh or kWh counter (optional) */
    REGMAP_FILE_ROLES = 10,
};

/* "status", "power", ... as the keys of "fields"; NULL-terminated. */
extern const char *const regmap_file_role_names[REGMAP_FILE_ROLES + 1];

enum regmap_file_table {
    REGMAP_FILE_HOLDING = 0, /* read with FC03, written with FC06/FC16 */
    REGMAP_FILE_INPUT = 1,   /* read with FC04, read-only */
};

enum regmap_file_type {
    REGMAP_FILE_INT16 = 0,
    REGMAP_FILE_UINT16 = 1,
    REGMAP_FILE_INT32 = 2,
    REGMAP_FILE_UINT32 = 3,
    REGMAP_FILE_FLOAT32 = 4, /* IEEE 754 single precision */
};

/* Order of the two registers of a 32-bit value. Bytes inside a register
 * are always big-endian on the wire (Modbus); libmodbus hands us host
 * uint16_t words, so only the word order varies between vendors. */
enum regmap_file_order {
    REGMAP_FILE_BIG = 0,    /* first register holds the high 16 bits ("ABCD") */
    REGMAP_FILE_LITTLE = 1, /* first register holds the low 16 bits ("CDAB", word swap) */
};

enum regmap_file_access {
    REGMAP_FILE_READ = 0,       /* "r" */
    REGMAP_FILE_READ_WRITE = 1, /* "rw" */
    REGMAP_FILE_WRITE = 2,      /* "w": write-only, read back from another register */
};

enum regmap_file_unit {
    REGMAP_FILE_UNIT_NONE = 0, /* codes and counters */
    REGMAP_FILE_UNIT_W = 1,
    REGMAP_FILE_UNIT_KW = 2,
    REGMAP_FILE_UNIT_WH = 3,
    REGMAP_FILE_UNIT_KWH = 4,
    REGMAP_FILE_UNIT_A = 5,
    REGMAP_FILE_UNIT_V = 6,
    REGMAP_FILE_UNIT_S = 7,
};

/* The flexd connector state a status code reads as. */
enum regmap_file_state {
    REGMAP_FILE_AVAILABLE = 0, /* nothing plugged in, ready */
    REGMAP_FILE_OCCUPIED = 1,  /* a car is plugged in but not drawing current */
    REGMAP_FILE_CHARGING = 2,  /* energy is flowing */
    REGMAP_FILE_FAULT = 3,     /* the charger reports an error */
    REGMAP_FILE_OFFLINE = 4,   /* out of service, or (io/regmap.c) not answering */
};

/* Names used in files, indexed by the enums above; NULL-terminated:
 * "holding", "input"; "int16" .. "float32"; "none", "W", "kW", "Wh",
 * "kWh", "A", "V", "s". */
extern const char *const regmap_file_table_names[3];
extern const char *const regmap_file_type_names[6];
extern const char *const regmap_file_unit_names[9];

/* "available", "occupied", "charging", "fault", "offline", NULL. */
extern const char *const regmap_file_state_names[6];

/* How the heartbeat setpoint keeps the charger from falling back. */
enum regmap_file_heartbeat {
    REGMAP_FILE_HB_COUNTER = 0, /* flexd writes a changing count every cycle */
    REGMAP_FILE_HB_TIMEOUT = 1, /* flexd writes the fall-back timeout (s); any
                                 * request within it counts as alive */
};

/* One raw code -> state row of a code field. */
struct regmap_file_code {
    double raw; /* an integer in the field's code range */
    int state;  /* enum regmap_file_state */
};

struct regmap_file_field {
    int table;     /* enum regmap_file_table */
    int address;   /* first register, 0-based as on the wire (not "40001" style) */
    int type;      /* enum regmap_file_type */
    int order;     /* enum regmap_file_order; 16-bit types are always REGMAP_FILE_BIG */
    double scale;  /* value = raw * scale + offset; never 0. Codes: 1 */
    double offset; /* codes: 0 */
    int unit;      /* enum regmap_file_unit */
    int access;    /* enum regmap_file_access */
    double min;    /* setpoints: lowest value accepted, in unit (read fields: 0) */
    double max;    /* setpoints: highest value accepted, in unit (read fields: 0) */
    uint32_t mask; /* code fields: code = (word & mask) >> (trailing zeros of mask);
                    * 0: the whole value is the code */
    int readback;  /* register the field is read from: its address unless a
                    * setpoint names another (write-only registers) */
    int mode;      /* heartbeat: enum regmap_file_heartbeat */
    int n_states;  /* status and plug: rows of states */
    struct regmap_file_code states[REGMAP_FILE_STATES_MAX];
    int unmapped;                    /* state of a code that is not in states */
    char note[REGMAP_FILE_TEXT_MAX]; /* free text: datasheet section, caveats */
};

struct regmap_file {
    char id[REGMAP_FILE_ID_MAX]; /* equals the file name without ".json" */
    int kind;                    /* enum regmap_file_kind */
    char vendor[REGMAP_FILE_NAME_MAX];
    char model[REGMAP_FILE_NAME_MAX];
    char source[REGMAP_FILE_TEXT_MAX]; /* vendor document (name, version) the map follows */
    char note[REGMAP_FILE_TEXT_MAX];
    int max_gap;  /* unused registers one read may span to join two fields (default 0) */
    int max_read; /* most registers in one read, 1..REGMAP_FILE_READ_MAX (default 125) */
    int present[REGMAP_FILE_ROLES]; /* 1 when the map has that field */
    struct regmap_file_field field[REGMAP_FILE_ROLES];
};

/* Registers a word type occupies: 1 (int16, uint16) or 2. */
int regmap_file_words(int type);

/* Parse len bytes of JSON text (need not be NUL-terminated) into a new map
 * (*out, caller frees with regmap_file_free). name (may be NULL) is put in
 * front of error messages. Returns ERROR_OK; ERROR_PARSE (not JSON, nested
 * too deeply), ERROR_RANGE (text too large) or ERROR_INVALID (a field or
 * rule), with *out NULL and ed set. */
int regmap_file_parse(const char *text,
                      size_t len,
                      const char *name,
                      struct regmap_file **out,
                      struct error_detail *ed);

/* Read and parse the file at path; as regmap_file_parse, plus ERROR_IO when
 * the file cannot be read, and ERROR_INVALID when the file is named
 * "<x>.json" but its id is not <x>. Messages start with the path. */
int regmap_file_load(const char *path, struct regmap_file **out, struct error_detail *ed);

/* Load the map a station device names: dir/name.json (dir is usually
 * FLEXD_SOURCE_DIR "/config/devices"). name must be a plain file stem
 * (letters, digits, '.', '_', '-', not starting with '.'): ERROR_INVALID
 * otherwise. Errors as regmap_file_load. */
int regmap_file_find(const char *dir,
                     const char *name,
                     struct regmap_file **out,
                     struct error_detail *ed);

/* Whether map suits station device dev (struct station_device,
 * models/station.h): a meter map for the meter, a connector map for a
 * connector. ERROR_OK; ERROR_INVALID naming the device and the map
 * otherwise, and for a device of another kind (PV, storage, parking: no
 * register maps). */
int regmap_file_check_device(const struct regmap_file *map,
                             const struct station_device *dev,
                             struct error_detail *ed);

/* The map as indented JSON with every default filled in; parsing it gives
 * the same map. Newly allocated: the caller frees it with free(). */
char *regmap_file_dump(const struct regmap_file *map);

/* Free a map; NULL is a no-op. */
void regmap_file_free(struct regmap_file *map);

#endif
