/* parse: pure parsers for the scalar value syntaxes of nines' config files (durations, sizes,
 * percentages, booleans, signals, umasks, exit-code lists, rate limits, HTTP status ranges,
 * rlimits). No allocation, no printing, no global state. Every parser accepts surrounding
 * whitespace, returns 0 or -EINVAL, and leaves *out untouched on error. */
#ifndef NINES_PARSE_H
#define NINES_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Duration: one or more NUMBER UNIT parts ("1h30m", "1h 30m"), units ms s m h d, NUMBER may have
 * a decimal part ("1.5s"; fractions of a ms are truncated); a single bare number is seconds.
 * *out_ms in milliseconds; -EINVAL on syntax error or uint64 overflow. */
int parse_duration_ms(const char *s, uint64_t *out_ms);

/* Size: NUMBER with optional suffix K M G T (powers of 1024, case-insensitive, optionally followed
 * by B or iB), or a bare number of bytes ("10M", "1.5G", "4096"). *out in bytes; -EINVAL on
 * syntax error or overflow. */
int parse_size(const char *s, uint64_t *out_bytes);

/* Percentage 0..100, written "20%" or "20". -EINVAL otherwise. */
int parse_percent(const char *s, unsigned *out);

/* Unsigned decimal integer 0..max (no sign, no suffix). -EINVAL on syntax error or > max. */
int parse_uint(const char *s, uint64_t max, uint64_t *out);

/* Boolean: yes/no, true/false, on/off, 1/0 (case-insensitive). -EINVAL otherwise. */
int parse_bool(const char *s, bool *out);

/* Signal: "TERM", "SIGTERM", "sigterm", "15", "RTMIN+2", "RTMAX-1". *out is the signal number
 * (1..SIGRTMAX); -EINVAL for unknown names or numbers out of range. */
int parse_signal(const char *s, int *out_signo);

/* Umask: 1 to 4 octal digits, at most 0777 ("022", "0027"). -EINVAL otherwise. */
int parse_umask(const char *s, mode_t *out);

/* Set of process exit codes 0..255. */
struct parse_exit_codes {
	uint64_t bits[4];
};

/* Exit-code list: decimal codes 0..255 separated by commas and/or whitespace ("78, 3 4"); an empty
 * string gives the empty set. -EINVAL on a bad or out-of-range code. */
int parse_exit_codes(const char *s, struct parse_exit_codes *out);

/* True when code (any int) is in the set. */
bool parse_exit_codes_has(const struct parse_exit_codes *set, int code);

/* Number of codes in the set. */
unsigned parse_exit_codes_count(const struct parse_exit_codes *set);

/* Rate limit "N/WINDOW" ("900/24h"): count 1..UINT32_MAX events per window (a duration > 0). */
struct parse_rate {
	uint32_t count;
	uint64_t window_ms;
};
int parse_rate(const char *s, struct parse_rate *out);

/* HTTP status list: codes or ranges 100..599 separated by commas/whitespace ("200-399",
 * "200,204,301-302"); at least one, at most PARSE_HTTP_RANGES_MAX items. -EINVAL otherwise. */
#define PARSE_HTTP_RANGES_MAX 16
struct parse_http_range {
	uint16_t lo, hi;
};
struct parse_http_ranges {
	size_t n;
	struct parse_http_range r[PARSE_HTTP_RANGES_MAX];
};
int parse_http_ranges(const char *s, struct parse_http_ranges *out);

/* True when the HTTP status is inside one of the ranges. */
bool parse_http_ranges_match(const struct parse_http_ranges *ranges, long status);

/* Resource limit: "VALUE" (soft = hard) or "SOFT:HARD", where VALUE is a size (parse_size, so
 * "4096" and "64M" both work) or "infinity"/"unlimited" (PARSE_RLIM_INFINITY, equal to
 * RLIM_INFINITY on Linux). -EINVAL on syntax error or soft > hard. */
#define PARSE_RLIM_INFINITY UINT64_MAX
struct parse_rlimit {
	uint64_t soft, hard;
};
int parse_rlimit(const char *s, struct parse_rlimit *out);

#endif
