/* SPDX-License-Identifier: MIT */
/*
 * holidays.h - Chinese public holidays (放假调休 periods) and the weekend
 * days worked in exchange (调休上班) for 2025-2028, so the demand model can
 * tell a golden-week Saturday from an ordinary one.
 *
 * 2025 and 2026 are the State Council notices (国办发明电〔2024〕12号 of
 * 2024-11-12 and the notice of 2025-11-04). 2027 and 2028 had no notice
 * when this was written: their periods are derived from the lunar dates
 * and the rules stated in the 2025 notice (Spring Festival 8 days from the
 * eve, National Day 7 days from 1 October, May Day 5 days, the others 3
 * days or only the day itself when it falls on a Wednesday, National Day
 * and Mid-Autumn merged into 8 days when they meet). Provisional years list
 * no exchanged working days. Replace them when the notices appear.
 *
 * Pure table look-ups on local civil dates (UTC+08:00); no I/O, no state.
 */
#ifndef FLEXD_SIM_HOLIDAYS_H
#define FLEXD_SIM_HOLIDAYS_H

#define HOLIDAYS_FIRST_YEAR 2025
#define HOLIDAYS_LAST_YEAR  2028

/* What kind of day a date is for travel. */
enum holidays_kind {
    HOLIDAYS_WORKDAY = 0,         /* Monday-Friday, or a weekend day worked in exchange */
    HOLIDAYS_WEEKEND = 1,         /* Saturday or Sunday, not worked, not a holiday */
    HOLIDAYS_HOLIDAY = 2,         /* inside a public holiday period other than Spring Festival */
    HOLIDAYS_SPRING_FESTIVAL = 3, /* inside the Spring Festival period */
};

/* How much the table knows about year y. */
enum holidays_status {
    HOLIDAYS_UNKNOWN = 0,     /* outside 2025-2028: no holidays known, only weekends */
    HOLIDAYS_OFFICIAL = 1,    /* from the State Council notice */
    HOLIDAYS_PROVISIONAL = 2, /* derived from the rules; no notice yet */
};

/* 1 if y-m-d lies inside a public holiday period (Spring Festival included),
 * else 0 (also for dates outside the table). */
int holidays_is_holiday(int y, int m, int d);

/* 1 if y-m-d is a Saturday or Sunday worked in exchange for holiday days. */
int holidays_is_makeup_workday(int y, int m, int d);

/* enum holidays_kind of y-m-d: holiday periods first, then exchanged working
 * days, then the ordinary week. */
int holidays_kind(int y, int m, int d);

/* Short English name of the holiday period containing y-m-d
 * ("national_day", "spring_festival", ...), or NULL. Static storage. */
const char *holidays_name(int y, int m, int d);

/* enum holidays_status of year y. */
int holidays_status(int y);

#endif
