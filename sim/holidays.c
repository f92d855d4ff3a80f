/* SPDX-License-Identifier: MIT */
/*
 * holidays.c - the table of Chinese public holiday periods for 2025-2028.
 * Constant data and look-ups only; safe from any thread.
 *
 * Sources: 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号,
 * 2024-11-12, Xinhua / gmw.cn) and 国务院办公厅关于2026年部分节假日安排的通知
 * (2025-11-04, Xinhua / politics.gmw.cn/2025-11/04/content_38391083.htm).
 * 2027-2028 are provisional (see holidays.h): lunar dates Spring Festival
 * 2027-02-06 / 2028-01-26, Dragon Boat 2027-06-09 / 2028-05-28,
 * Mid-Autumn 2027-09-15 / 2028-10-03, Qingming 2027-04-05 / 2028-04-04,
 * from the standard lunar calendar tables (checked only against mean new
 * moons, not against an almanac).
 */
#include "holidays.h"

#include "../common/clock.h"

#include <stddef.h>
#include <string.h>

struct hol_period {
    int year;
    int m0, d0; /* first day */
    int m1, d1; /* last day, inclusive, same year */
    const char *name;
};

struct hol_date {
    int year, month, day;
};

static const struct hol_period hol_periods[] = {
    /* 2025, official */
    {2025, 1, 1, 1, 1, "new_year"},
    {2025, 1, 28, 2, 4, "spring_festival"},
    {2025, 4, 4, 4, 6, "qingming"},
    {2025, 5, 1, 5, 5, "labour_day"},
    {2025, 5, 31, 6, 2, "dragon_boat"},
    {2025, 10, 1, 10, 8, "national_day"}, /* merged with Mid-Autumn (10-06) */
    /* 2026, official */
    {2026, 1, 1, 1, 3, "new_year"},
    {2026, 2, 15, 2, 23, "spring_festival"},
    {2026, 4, 4, 4, 6, "qingming"},
    {2026, 5, 1, 5, 5, "labour_day"},
    {2026, 6, 19, 6, 21, "dragon_boat"},
    {2026, 9, 25, 9, 27, "mid_autumn"},
    {2026, 10, 1, 10, 7, "national_day"},
    /* 2027, provisional */
    {2027, 1, 1, 1, 3, "new_year"},
    {2027, 2, 5, 2, 12, "spring_festival"},
    {2027, 4, 3, 4, 5, "qingming"},
    {2027, 5, 1, 5, 5, "labour_day"},
    {2027, 6, 9, 6, 9, "dragon_boat"},  /* a Wednesday: that day only */
    {2027, 9, 15, 9, 15, "mid_autumn"}, /* a Wednesday: that day only */
    {2027, 10, 1, 10, 7, "national_day"},
    /* 2028, provisional */
    {2028, 1, 1, 1, 3, "new_year"},
    {2028, 1, 25, 2, 1, "spring_festival"},
    {2028, 4, 2, 4, 4, "qingming"},
    {2028, 5, 1, 5, 5, "labour_day"},
    {2028, 5, 27, 5, 29, "dragon_boat"},
    {2028, 10, 1, 10, 8, "national_day"}, /* merged with Mid-Autumn (10-03) */
};

/* Weekend days worked in exchange (调休上班), official years only. */
static const struct hol_date hol_makeup[] = {
    {2025, 1, 26},
    {2025, 2, 8},
    {2025, 4, 27},
    {2025, 9, 28},
    {2025, 10, 11},
    {2026, 1, 4},
    {2026, 2, 14},
    {2026, 2, 28},
    {2026, 5, 9},
    {2026, 9, 20},
    {2026, 10, 10},
};

#define HOL_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct hol_period *hol_find(int y, int m, int d)
{
    const struct hol_period *found = NULL;
    int key = m * 100 + d;

    for (int i = 0; i < HOL_COUNT(hol_periods) && !found; i++) {
        const struct hol_period *p = &hol_periods[i];

        if (p->year == y && key >= p->m0 * 100 + p->d0 && key <= p->m1 * 100 + p->d1) {
            found = p;
        }
    }
    return found;
}

int holidays_is_holiday(int y, int m, int d)
{
    return hol_find(y, m, d) != NULL;
}

int holidays_is_makeup_workday(int y, int m, int d)
{
    int hit = 0;

    for (int i = 0; i < HOL_COUNT(hol_makeup) && !hit; i++) {
        hit = hol_makeup[i].year == y && hol_makeup[i].month == m && hol_makeup[i].day == d;
    }
    return hit;
}

int holidays_kind(int y, int m, int d)
{
    const struct hol_period *p = hol_find(y, m, d);
    struct clock_civil c;
    int kind;

    if (p) {
        kind =
            strcmp(p->name, "spring_festival") == 0 ? HOLIDAYS_SPRING_FESTIVAL : HOLIDAYS_HOLIDAY;
    } else if (holidays_is_makeup_workday(y, m, d)) {
        kind = HOLIDAYS_WORKDAY;
    } else {
        clock_to_local(clock_from_local(y, m, d, 12, 0, 0), &c);
        kind = (c.wday == 0 || c.wday == 6) ? HOLIDAYS_WEEKEND : HOLIDAYS_WORKDAY;
    }
    return kind;
}

const char *holidays_name(int y, int m, int d)
{
    const struct hol_period *p = hol_find(y, m, d);

    return p ? p->name : NULL;
}

int holidays_status(int y)
{
    int status = HOLIDAYS_UNKNOWN;

    if (y == 2025 || y == 2026) {
        status = HOLIDAYS_OFFICIAL;
    } else if (y == 2027 || y == 2028) {
        status = HOLIDAYS_PROVISIONAL;
    }
    return status;
}
