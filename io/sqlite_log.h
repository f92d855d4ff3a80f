/* SPDX-License-Identifier: MIT */
/*
 * sqlite_log.h - what every SQLite user in io/ (history, outbox) shares:
 * SQLite's own log routed into the project logger, and error lines that
 * name their module once.
 */
#ifndef FLEXD_IO_SQLITE_LOG_H
#define FLEXD_IO_SQLITE_LOG_H

/* Route SQLite's log (warnings, notices; errors at debug level, as the
 * caller reports them with context) to the logger under "sqlite". Call
 * before the first sqlite3_open; later calls do nothing. Thread-safe. */
void sqlite_log_route(void);

/* Log text (which may start "module: ") at error level under module, once,
 * followed by suffix. */
void sqlite_log_error(const char *module, const char *text, const char *suffix);

#endif
