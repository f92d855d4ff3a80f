/* SPDX-License-Identifier: MIT */
/*
 * logger.c - level filter, formatting and the sink. The level is a plain
 * int read without a lock (a stale read only changes which lines appear);
 * the sink call is serialised by a mutex so paho's threads can log.
 */
#include "logger.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int logger_level_now = LOGGER_WARN;
static logger_sink_fn logger_sink;
static void *logger_sink_ctx;
static pthread_mutex_t logger_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const logger_names[] = {"error", "warn", "info", "debug"};

void logger_set_level(enum logger_level level)
{
    logger_level_now = (int)level;
}

enum logger_level logger_get_level(void)
{
    return (enum logger_level)logger_level_now;
}

int logger_parse_level(const char *name, enum logger_level *out)
{
    for (int i = 0; i <= LOGGER_DEBUG; i++) {
        if (strcmp(name, logger_names[i]) == 0) {
            *out = (enum logger_level)i;
            return 0;
        }
    }
    return -1;
}

void logger_set_sink(logger_sink_fn fn, void *ctx)
{
    pthread_mutex_lock(&logger_lock);
    logger_sink = fn;
    logger_sink_ctx = ctx;
    pthread_mutex_unlock(&logger_lock);
}

int logger_enabled(enum logger_level level)
{
    return (int)level <= logger_level_now;
}

void logger_write(enum logger_level level, const char *module, const char *fmt, ...)
{
    char text[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&logger_lock);
    if (logger_sink) {
        logger_sink(logger_sink_ctx, level, module, text);
    } else {
        fprintf(stderr, "flexd %s %s: %s\n", logger_names[level], module, text);
    }
    pthread_mutex_unlock(&logger_lock);
}
