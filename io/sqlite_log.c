/* SPDX-License-Identifier: MIT */
/*
 * sqlite_log.c - SQLite's log into the project logger.
 */
#include "sqlite_log.h"

#include "../common/logger.h"

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

static void sqlite_log_cb(void *ctx, int code, const char *msg)
{
    (void)ctx;
    if ((code & 0xff) == SQLITE_WARNING) {
        LOGW("sqlite", "(%d) %s", code, msg);
    } else if ((code & 0xff) == SQLITE_NOTICE) {
        LOGI("sqlite", "(%d) %s", code, msg);
    } else {
        /* errors are reported, with context, by the function that got them */
        LOGD("sqlite", "(%d) %s", code, msg);
    }
}

static pthread_once_t sqlite_log_once = PTHREAD_ONCE_INIT;

static void sqlite_log_init(void)
{
    /* fails harmlessly (SQLITE_MISUSE) if SQLite was initialised already */
    sqlite3_config(SQLITE_CONFIG_LOG, sqlite_log_cb, (void *)NULL);
}

void sqlite_log_route(void)
{
    pthread_once(&sqlite_log_once, sqlite_log_init);
}

void sqlite_log_error(const char *module, const char *text, const char *suffix)
{
    size_t n = strlen(module);
    int prefixed = strncmp(text, module, n) == 0 && strncmp(text + n, ": ", 2) == 0;

    LOGE(module, "%s%s", prefixed ? text + n + 2 : text, suffix);
}
