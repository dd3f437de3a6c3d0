/* log: nines' own diagnostic lines on stderr. Owns the one piece of global state nines allows,
 * the log level. Lines look like `nines: warn: bot: message`; service output is not logged here. */
#ifndef NINES_LOG_H
#define NINES_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_LEVEL_COUNT };

/* Sets the most verbose level that is still printed (default LOG_INFO). */
void log_set_level(enum log_level level);

/* Returns the current log level. */
enum log_level log_get_level(void);

/* Returns the lowercase name of a level ("error", "warn", ...). Never NULL. */
const char *log_level_name(enum log_level level);

/* Prints one line to stderr when level is enabled; svc may be NULL. Never fails visibly: a
 * short write to a full or closed stderr is dropped, as a log line is never worth blocking for. */
void nlog(enum log_level level, const char *svc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) nlog(LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...)  nlog(LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...)  nlog(LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) nlog(LOG_DEBUG, NULL, __VA_ARGS__)

#endif
