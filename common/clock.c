/* SPDX-License-Identifier: MIT */
/*
 * clock.c - real and virtual clocks, and fixed-offset local time.
 *
 * A clock instance is owned by whoever created it (daemon main, simulator,
 * test) and read from the thread that owns the engine state.
 */
#define _POSIX_C_SOURCE 200809L
#include "clock.h"

#include "alloc.h"
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct clock {
    int is_virtual;
    int64_t virt_wall_ms;
    int64_t virt_mono_us;
};

struct clock *clock_new_real(void)
{
    return ALLOC_NEW(struct clock);
}

struct clock *clock_new_virtual(int64_t start_ms)
{
    struct clock *c = ALLOC_NEW(struct clock);

    c->is_virtual = 1;
    c->virt_wall_ms = start_ms;
    return c;
}

void clock_free(struct clock *c)
{
    free(c);
}

static int64_t clock_read(clockid_t id, int64_t div_ns)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * (1000000000LL / div_ns) + (int64_t)ts.tv_nsec / div_ns;
}

int64_t clock_now_ms(const struct clock *c)
{
    if (c->is_virtual) {
        return c->virt_wall_ms;
    }
    return clock_read(CLOCK_REALTIME, 1000000);
}

int64_t clock_mono_us(const struct clock *c)
{
    if (c->is_virtual) {
        return c->virt_mono_us;
    }
    return clock_read(CLOCK_MONOTONIC, 1000);
}

int64_t clock_mono_ms(const struct clock *c)
{
    return clock_mono_us(c) / 1000;
}

int clock_advance_ms(struct clock *c, int64_t delta_ms)
{
    if (!c->is_virtual) {
        return ERROR_STATE;
    }
    if (delta_ms < 0) {
        return ERROR_RANGE;
    }
    c->virt_wall_ms += delta_ms;
    c->virt_mono_us += delta_ms * 1000;
    return ERROR_OK;
}

int clock_is_virtual(const struct clock *c)
{
    return c->is_virtual;
}

int clock_wait(const struct clock *c, pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms)
{
    struct timespec ts;

    if (c->is_virtual) {
        return ETIMEDOUT;
    }
    if (ms < 0) {
        ms = 0;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_cond_timedwait(cv, mu, &ts) == ETIMEDOUT ? ETIMEDOUT : 0;
}

void clock_sleep_ms(struct clock *c, int64_t ms)
{
    struct timespec ts;

    if (ms <= 0) {
        return;
    }
    if (c->is_virtual) {
        clock_advance_ms(c, ms);
        return;
    }
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil algorithm, public domain description). */
static int64_t clock_days_from_civil(int64_t y, int m, int d)
{
    int64_t era;
    int64_t yoe;
    int64_t doy;
    int64_t doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void clock_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t era;
    int64_t doe;
    int64_t yoe;
    int64_t doy;
    int64_t mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t clock_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        q--;
    }
    return q;
}

void clock_to_local(int64_t ts_ms, struct clock_civil *out)
{
    int64_t local_ms = ts_ms + CLOCK_LOCAL_OFFSET_MS;
    int64_t days = clock_floor_div(local_ms, CLOCK_DAY_MS);
    int64_t rem = local_ms - days * CLOCK_DAY_MS;

    clock_civil_from_days(days, &out->year, &out->month, &out->day);
    out->hour = (int)(rem / 3600000);
    out->minute = (int)(rem / 60000 % 60);
    out->second = (int)(rem / 1000 % 60);
    out->ms = (int)(rem % 1000);
    out->wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
    out->yday = (int)(days - clock_days_from_civil(out->year, 1, 1));
}

int64_t clock_from_local(int year, int month, int day, int hour, int minute, int second)
{
    int64_t days = clock_days_from_civil(year, month, day);

    return days * CLOCK_DAY_MS + (int64_t)hour * 3600000 + (int64_t)minute * 60000 +
           (int64_t)second * 1000 - CLOCK_LOCAL_OFFSET_MS;
}

int clock_format_iso(int64_t ts_ms, char *buf, size_t n)
{
    struct clock_civil c;
    int len;

    clock_to_local(ts_ms, &c);
    len = snprintf(buf,
                   n,
                   "%04d-%02d-%02dT%02d:%02d:%02d+08:00",
                   c.year,
                   c.month,
                   c.day,
                   c.hour,
                   c.minute,
                   c.second);
    if (len < 0 || (size_t)len >= n) {
        return -1;
    }
    return len;
}

static int clock_digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return ERROR_PARSE;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return ERROR_OK;
}

int clock_parse_date(const char *s, int64_t *ts_ms)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y;
    int m;
    int d;
    int leap;

    if (!s || clock_digits(s, 4, &y) || s[4] != '-' || clock_digits(s + 5, 2, &m) || s[7] != '-' ||
        clock_digits(s + 8, 2, &d) || s[10] != '\0') {
        return ERROR_PARSE;
    }
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) {
        return ERROR_PARSE;
    }
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap) {
        return ERROR_PARSE;
    }
    *ts_ms = clock_from_local(y, m, d, 0, 0, 0);
    return ERROR_OK;
}
