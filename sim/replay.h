/* SPDX-License-Identifier: MIT */
/*
 * replay.h - recorded data instead of drawn: `flexd sim --replay DIR` reads
 * a directory of CSV files (a day or more of a real station) and builds the
 * same struct world the models draw, so every strategy runs on it.
 *
 *   pv.csv         time,pv_kw                       required
 *   base_load.csv  time,base_kw                     required
 *   sessions.csv   id,connector,arrival,departure,  optional (no cars)
 *                  [declared_departure,]energy_kwh,max_kw[,source]
 *   dr_events.csv  id,type,notice,start,end,limit_kw  optional (no events)
 *
 * Times are ISO 8601 local times with their offset, "2026-07-18T13:45+08:00"
 * (simconf_parse_time()), and DR events follow the simulation file's rules
 * (simconf_dr_check()). A series row is the mean power from its time to
 * the next row's; the series is averaged (finer data) or held (coarser
 * data) onto the simulation step. The formats and every rule are in
 * docs/simulation.md, "Replaying recorded data".
 *
 * Every error names the file, the line, the column, the value and the rule:
 * "DIR/pv.csv: line 12, column 2 (pv_kw): \"-3\": must not be negative".
 *
 * A struct replay is plain parsed data, owned by the caller; single thread.
 */
#ifndef FLEXD_SIM_REPLAY_H
#define FLEXD_SIM_REPLAY_H

#include "../common/error.h"
#include "../engine/controller.h"
#include "world.h"

#include <stddef.h>
#include <stdint.h>

/* Largest CSV file read: a year of 1-minute rows is about 18 MB. */
#define REPLAY_FILE_MAX_BYTES ((size_t)32 << 20)

/* Largest gap between two rows of a series; coarser data is refused. */
#define REPLAY_GAP_MAX_MIN 60

enum replay_file {
    REPLAY_PV = 0,
    REPLAY_BASE_LOAD = 1,
    REPLAY_SESSIONS = 2,
    REPLAY_DR_EVENTS = 3,
};

#define REPLAY_FILES 4

/* "pv.csv", "base_load.csv", "sessions.csv", "dr_events.csv", NULL. */
extern const char *const replay_file_names[REPLAY_FILES + 1];

struct replay;

/* An empty replay (no file read yet); free with replay_free(). */
struct replay *replay_new(void);

void replay_free(struct replay *rp);

/* Parse len bytes of CSV text (need not be NUL-terminated) as file f into
 * rp, replacing what rp held for f. name (may be NULL) starts every error
 * message. ERROR_OK; ERROR_RANGE (text too large) or ERROR_INVALID (a
 * header, a field or a rule), with ed set and rp's f left empty. */
int replay_parse(struct replay *rp,
                 enum replay_file f,
                 const char *text,
                 size_t len,
                 const char *name,
                 struct error_detail *ed);

/* Read DIR: pv.csv and base_load.csv must exist, sessions.csv and
 * dr_events.csv may; any other *.csv there is refused (a misspelt name
 * would otherwise be silently left out). *out is the caller's
 * (replay_free). ERROR_IO when DIR or a file cannot be read, else as
 * replay_parse(). */
int replay_load(const char *dir, struct replay **out, struct error_detail *ed);

/* The run the data covers: from the first local midnight at or after the
 * start of both series, the whole local days both cover (1 to 3660).
 * ERROR_INVALID naming the files when they share no whole day. */
int replay_range(const struct replay *rp, int64_t *start_ms, int *days, struct error_detail *ed);

/* Build the world of opt's run (start_ms, days, step_minutes, pad_steps)
 * from rp: both series must cover every simulated step (the look-ahead
 * pad beyond the data repeats the day before), sessions are mapped onto
 * st's connectors, and the DR events of the file are added to opt's (the
 * generator is not run: opt->dr_generate is ignored). Sessions that
 * arrive before the start are left out. Errors as world_build_given(),
 * plus ERROR_INVALID naming the file of a series that does not cover the
 * run, or the line and column of a connector st does not have. */
int replay_world(const struct replay *rp,
                 const struct station *st,
                 const struct world_options *opt,
                 struct world **out,
                 struct error_detail *ed);

/* Rows held for file f (series rows, sessions or events). */
int replay_count(const struct replay *rp, enum replay_file f);

#endif
