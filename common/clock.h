/* SPDX-License-Identifier: MIT */
/*
 * clock.h - the one source of time. Real clocks read the system; virtual
 * clocks only move when told to, so the simulator and the tests run on
 * virtual time. No other module may call time(), gettimeofday() or
 * clock_gettime().
 *
 * Local civil time is China Standard Time, Asia/Shanghai, UTC+08:00. China
 * has not observed daylight saving time since 1991, so the conversion is a
 * fixed offset and needs no time-zone database.
 */
#ifndef FLEXD_COMMON_CLOCK_H
#define FLEXD_COMMON_CLOCK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define CLOCK_LOCAL_OFFSET_MS (8LL * 3600 * 1000)
#define CLOCK_DAY_MS          (24LL * 3600 * 1000)

struct clock;

/* A clock reading the operating system (CLOCK_REALTIME / CLOCK_MONOTONIC). */
struct clock *clock_new_real(void);

/* A virtual clock whose wall time starts at start_ms (ms since the Unix
 * epoch, UTC) and whose monotonic time starts at 0. */
struct clock *clock_new_virtual(int64_t start_ms);

void clock_free(struct clock *c);

/* Wall time, ms since the Unix epoch (UTC). */
int64_t clock_now_ms(const struct clock *c);

/* Monotonic time in ms (for timeouts and durations). */
int64_t clock_mono_ms(const struct clock *c);

/* Monotonic time in microseconds, for measuring short durations. */
int64_t clock_mono_us(const struct clock *c);

/* Move a virtual clock forward; returns ERROR_STATE on a real clock and
 * ERROR_RANGE for a negative step. */
int clock_advance_ms(struct clock *c, int64_t delta_ms);

int clock_is_virtual(const struct clock *c);

/* Wait on cv (with mu held, as pthread_cond_timedwait) for at most ms of
 * wall time, or until signalled. cv must use the default (realtime) clock
 * attribute. Returns 0 when signalled (or spuriously woken), ETIMEDOUT when
 * the time ran out. A virtual clock does not wait: it returns ETIMEDOUT at
 * once, so the caller's loop advances virtual time itself. */
int clock_wait(const struct clock *c, pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms);

/* Sleep ms of wall time (a virtual clock moves forward instead). */
void clock_sleep_ms(struct clock *c, int64_t ms);

/* Broken-down local (UTC+08:00) time. */
struct clock_civil {
    int year;
    int month;  /* 1..12 */
    int day;    /* 1..31 */
    int hour;   /* 0..23 */
    int minute; /* 0..59 */
    int second; /* 0..59 */
    int ms;     /* 0..999 */
    int wday;   /* 0 = Sunday .. 6 = Saturday */
    int yday;   /* 0..365 */
};

void clock_to_local(int64_t ts_ms, struct clock_civil *out);

/* Local civil date and time to ms since the epoch. Fields are not range
 * checked here; use clock_parse_date() for external input. */
int64_t clock_from_local(int year, int month, int day, int hour, int minute, int second);

/* "2026-11-23T08:15:00+08:00" into buf; returns the length written or -1
 * when buf is too small (needs 26 bytes). */
int clock_format_iso(int64_t ts_ms, char *buf, size_t n);

/* Parse "YYYY-MM-DD" (local) into the ms of that local midnight. Returns
 * ERROR_OK, or ERROR_PARSE for anything else (incl. 2026-02-30). */
int clock_parse_date(const char *s, int64_t *ts_ms);

#endif
