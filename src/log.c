#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum log_level current_level = LOG_INFO;

static const char *const level_names[] = {
    [LOG_ERROR] = "error",
    [LOG_WARN] = "warn",
    [LOG_INFO] = "info",
    [LOG_DEBUG] = "debug",
};
_Static_assert(sizeof level_names / sizeof level_names[0] == LOG_LEVEL_COUNT,
               "every log level needs a name");

void log_set_level(enum log_level level)
{
    current_level = level;
}

enum log_level log_get_level(void)
{
    return current_level;
}

const char *log_level_name(enum log_level level)
{
    if ((unsigned)level >= LOG_LEVEL_COUNT)
        return "?";
    return level_names[level];
}

void nlog(enum log_level level, const char *svc, const char *fmt, ...)
{
    if (level > current_level)
        return;
    int saved_errno = errno; /* callers often log then inspect errno */
    char line[1024];
    int n = snprintf(line, sizeof line, "nines: %s: %s%s", log_level_name(level),
                     svc ? svc : "", svc ? ": " : "");
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2; /* truncated, keep room for the newline */
    line[len++] = '\n';
    /* One write(2) per line so lines from nines never interleave mid-line. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
    errno = saved_errno;
}
