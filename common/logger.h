/* SPDX-License-Identifier: MIT */
/*
 * logger.h - the one logger. Level macros skip formatting when the level is
 * off; messages read "module: what failed, object, cause". Third-party
 * library output (GLPK's terminal hook, SQLite's log, paho's trace) is routed
 * here by the io/optimizer modules that own those libraries.
 *
 * The logger is process-wide configuration set once at start-up by main();
 * writes are serialised so library callback threads may log too.
 */
#ifndef FLEXD_COMMON_LOGGER_H
#define FLEXD_COMMON_LOGGER_H

enum logger_level {
    LOGGER_ERROR = 0,
    LOGGER_WARN = 1,
    LOGGER_INFO = 2,
    LOGGER_DEBUG = 3,
};

/* A sink receives each finished line (without newline). The default sink
 * writes "LEVEL module: text" to stderr. */
typedef void (*logger_sink_fn)(void *ctx, enum logger_level level, const char *module,
                               const char *text);

void logger_set_level(enum logger_level level);
enum logger_level logger_get_level(void);

/* Parse "error", "warn", "info" or "debug"; returns 0 on success, -1 otherwise. */
int logger_parse_level(const char *name, enum logger_level *out);

/* Replace the sink (NULL restores stderr). */
void logger_set_sink(logger_sink_fn fn, void *ctx);

int logger_enabled(enum logger_level level);

void logger_write(enum logger_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOGGER_AT(level, module, ...)                                                              \
    do {                                                                                           \
        if (logger_enabled(level)) {                                                               \
            logger_write((level), (module), __VA_ARGS__);                                          \
        }                                                                                          \
    } while (0)

#define LOGE(module, ...) LOGGER_AT(LOGGER_ERROR, module, __VA_ARGS__)
#define LOGW(module, ...) LOGGER_AT(LOGGER_WARN, module, __VA_ARGS__)
#define LOGI(module, ...) LOGGER_AT(LOGGER_INFO, module, __VA_ARGS__)
#define LOGD(module, ...) LOGGER_AT(LOGGER_DEBUG, module, __VA_ARGS__)

#endif
