/* parse: pure value parsers; see parse.h. Internally everything works on [b, e) ranges so that
 * list parsers can reuse the scalar ones without copying. */
#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <strings.h>

#define MS_PER_S 1000ULL
#define MAX_FRAC_DIGITS 9

static bool is_space(char c)
{
	return isspace((unsigned char)c) != 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Trim whitespace on both ends of s; *e is set to the end of the trimmed range. */
static const char *trim(const char *s, const char **e)
{
	const char *end = s + strlen(s);

	while (s < end && is_space(*s))
		s++;
	while (end > s && is_space(end[-1]))
		end--;
	*e = end;
	return s;
}

/* Decimal digits at *p (advanced past them); -EINVAL when none or on uint64 overflow. */
static int digits(const char **p, const char *e, uint64_t *out)
{
	const char *q = *p;
	uint64_t v = 0;

	if (q >= e || !is_digit(*q))
		return -EINVAL;
	for (; q < e && is_digit(*q); q++) {
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(*q - '0'), &v))
			return -EINVAL;
	}
	*p = q;
	*out = v;
	return 0;
}

static int uint_range(const char *b, const char *e, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (digits(&b, e, &v) < 0 || b != e || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A number "123" or "1.25" at *p: integer part, fraction digits as an integer and their count.
 * -EINVAL on syntax error, overflow or more than MAX_FRAC_DIGITS fraction digits. */
static int scaled_number(const char **p, const char *e, uint64_t *ip, uint64_t *frac,
			 unsigned *fdigits)
{
	const char *q = *p;

	*frac = 0;
	*fdigits = 0;
	if (digits(&q, e, ip) < 0)
		return -EINVAL;
	if (q < e && *q == '.') {
		q++;
		if (q >= e || !is_digit(*q))
			return -EINVAL;
		for (; q < e && is_digit(*q); q++) {
			if (++*fdigits > MAX_FRAC_DIGITS)
				return -EINVAL;
			*frac = *frac * 10 + (uint64_t)(*q - '0');
		}
	}
	*p = q;
	return 0;
}

/* ip.frac * mult, truncated; -EINVAL on overflow. */
static int apply_scale(uint64_t ip, uint64_t frac, unsigned fdigits, uint64_t mult, uint64_t *out)
{
	uint64_t v, pow10 = 1;
	unsigned __int128 f;

	if (__builtin_mul_overflow(ip, mult, &v))
		return -EINVAL;
	for (unsigned i = 0; i < fdigits; i++)
		pow10 *= 10;
	f = (unsigned __int128)frac * mult / pow10; /* < mult, so it fits once v fits */
	if (__builtin_add_overflow(v, (uint64_t)f, &v))
		return -EINVAL;
	*out = v;
	return 0;
}

/* Unit at *p for durations; 0 when there is none. "ms" must be tried before "m". */
static uint64_t duration_unit(const char **p, const char *e)
{
	const char *q = *p;

	if (q >= e)
		return 0;
	if (e - q >= 2 && q[0] == 'm' && q[1] == 's') {
		*p = q + 2;
		return 1;
	}
	switch (*q) {
	case 's': *p = q + 1; return MS_PER_S;
	case 'm': *p = q + 1; return 60 * MS_PER_S;
	case 'h': *p = q + 1; return 3600 * MS_PER_S;
	case 'd': *p = q + 1; return 86400 * MS_PER_S;
	default: return 0;
	}
}

static int duration_range(const char *p, const char *e, uint64_t *out)
{
	uint64_t total = 0, ip, frac, part, unit;
	unsigned fd, parts = 0;

	if (p >= e)
		return -EINVAL;
	while (p < e) {
		if (scaled_number(&p, e, &ip, &frac, &fd) < 0)
			return -EINVAL;
		unit = duration_unit(&p, e);
		if (unit == 0) {
			/* A bare number is seconds, but only on its own: "1h30" is ambiguous. */
			if (parts > 0 || p != e)
				return -EINVAL;
			unit = MS_PER_S;
		}
		if (apply_scale(ip, frac, fd, unit, &part) < 0 || __builtin_add_overflow(total, part, &total))
			return -EINVAL;
		parts++;
		while (p < e && is_space(*p))
			p++;
	}
	*out = total;
	return 0;
}

int parse_duration_ms(const char *s, uint64_t *out_ms)
{
	const char *e, *b = trim(s, &e);

	return duration_range(b, e, out_ms);
}

static int size_range(const char *p, const char *e, uint64_t *out)
{
	static const char units[] = "KMGT";
	uint64_t ip, frac, mult = 1;
	unsigned fd;
	const char *u;

	if (scaled_number(&p, e, &ip, &frac, &fd) < 0)
		return -EINVAL;
	if (p < e && (u = strchr(units, toupper((unsigned char)*p))) != NULL && *u) {
		mult = 1ULL << (10 * (1 + (u - units)));
		p++;
		if (p < e && *p == 'i' && p + 1 < e && p[1] == 'B')
			p += 2;
		else if (p < e && *p == 'B')
			p++;
	} else if (p < e && *p == 'B') {
		p++;
	}
	if (p != e)
		return -EINVAL;
	/* Fractional bytes make no sense without a unit. */
	if (mult == 1 && fd > 0)
		return -EINVAL;
	return apply_scale(ip, frac, fd, mult, out);
}

int parse_size(const char *s, uint64_t *out_bytes)
{
	const char *e, *b = trim(s, &e);

	return size_range(b, e, out_bytes);
}

int parse_percent(const char *s, unsigned *out)
{
	const char *e, *b = trim(s, &e);
	uint64_t v;

	if (e > b && e[-1] == '%')
		e--;
	if (uint_range(b, e, 100, &v) < 0)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	const char *e, *b = trim(s, &e);

	return uint_range(b, e, max, out);
}

int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	const char *e, *b = trim(s, &e);
	size_t n = (size_t)(e - b);

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strlen(yes[i]) == n && strncasecmp(b, yes[i], n) == 0) {
			*out = true;
			return 0;
		}
		if (strlen(no[i]) == n && strncasecmp(b, no[i], n) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Names glibc's sigabbrev_np(3) does not return (it gives one name per number). */
static const struct {
	const char *name;
	int signo;
} signal_aliases[] = {
	{ "IO", SIGIO },
	{ "IOT", SIGABRT },
	{ "CLD", SIGCHLD },
};

/* "RTMIN", "RTMIN+N", "RTMAX", "RTMAX-N" (name already without "SIG"); 0 when not such a name. */
static int realtime_signal(const char *b, const char *e)
{
	uint64_t n = 0;
	bool min = (size_t)(e - b) >= 5 && strncasecmp(b, "RTMIN", 5) == 0;
	bool max = (size_t)(e - b) >= 5 && strncasecmp(b, "RTMAX", 5) == 0;
	int signo;

	if (!min && !max)
		return 0;
	b += 5;
	if (b < e) {
		if (*b != (min ? '+' : '-') || uint_range(b + 1, e, (uint64_t)(SIGRTMAX - SIGRTMIN), &n) < 0)
			return 0;
	}
	signo = min ? SIGRTMIN + (int)n : SIGRTMAX - (int)n;
	return signo;
}

int parse_signal(const char *s, int *out_signo)
{
	const char *e, *b = trim(s, &e);
	size_t n;
	uint64_t v;

	if (b < e && is_digit(*b)) {
		if (uint_range(b, e, (uint64_t)SIGRTMAX, &v) < 0 || v == 0)
			return -EINVAL;
		*out_signo = (int)v;
		return 0;
	}
	if (e - b > 3 && strncasecmp(b, "SIG", 3) == 0)
		b += 3;
	n = (size_t)(e - b);
	if (n == 0)
		return -EINVAL;
	for (int sig = 1; sig < SIGRTMIN; sig++) {
		const char *abbrev = sigabbrev_np(sig);

		if (abbrev && strlen(abbrev) == n && strncasecmp(b, abbrev, n) == 0) {
			*out_signo = sig;
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof signal_aliases / sizeof signal_aliases[0]; i++) {
		if (strlen(signal_aliases[i].name) == n && strncasecmp(b, signal_aliases[i].name, n) == 0) {
			*out_signo = signal_aliases[i].signo;
			return 0;
		}
	}
	v = (uint64_t)realtime_signal(b, e);
	if (v == 0)
		return -EINVAL;
	*out_signo = (int)v;
	return 0;
}

int parse_umask(const char *s, mode_t *out)
{
	const char *e, *b = trim(s, &e);
	mode_t v = 0;

	if (b == e || e - b > 4)
		return -EINVAL;
	for (; b < e; b++) {
		if (*b < '0' || *b > '7')
			return -EINVAL;
		v = (mode_t)(v * 8 + (mode_t)(*b - '0'));
	}
	if (v > 0777)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool is_list_sep(char c)
{
	return c == ',' || is_space(c);
}

/* Next list item of s in [*b, *e); false at the end. */
static bool next_item(const char **p, const char **b, const char **e)
{
	const char *q = *p;

	while (*q && is_list_sep(*q))
		q++;
	if (!*q)
		return false;
	*b = q;
	while (*q && !is_list_sep(*q))
		q++;
	*e = q;
	*p = q;
	return true;
}

int parse_exit_codes(const char *s, struct parse_exit_codes *out)
{
	struct parse_exit_codes set = { { 0 } };
	const char *b, *e;
	uint64_t v;

	while (next_item(&s, &b, &e)) {
		if (uint_range(b, e, 255, &v) < 0)
			return -EINVAL;
		set.bits[v / 64] |= 1ULL << (v % 64);
	}
	*out = set;
	return 0;
}

bool parse_exit_codes_has(const struct parse_exit_codes *set, int code)
{
	if (code < 0 || code > 255)
		return false;
	return (set->bits[code / 64] >> (code % 64)) & 1;
}

unsigned parse_exit_codes_count(const struct parse_exit_codes *set)
{
	unsigned n = 0;

	for (size_t i = 0; i < sizeof set->bits / sizeof set->bits[0]; i++)
		n += (unsigned)__builtin_popcountll(set->bits[i]);
	return n;
}

int parse_rate(const char *s, struct parse_rate *out)
{
	const char *e, *b = trim(s, &e);
	const char *slash = memchr(b, '/', (size_t)(e - b));
	const char *ce, *wb;
	uint64_t count, window;

	if (!slash)
		return -EINVAL;
	for (ce = slash; ce > b && is_space(ce[-1]); ce--)
		;
	for (wb = slash + 1; wb < e && is_space(*wb); wb++)
		;
	if (uint_range(b, ce, UINT32_MAX, &count) < 0 || count == 0)
		return -EINVAL;
	if (duration_range(wb, e, &window) < 0 || window == 0)
		return -EINVAL;
	out->count = (uint32_t)count;
	out->window_ms = window;
	return 0;
}

static int http_item(const char *b, const char *e, struct parse_http_range *r)
{
	const char *dash = memchr(b, '-', (size_t)(e - b));
	uint64_t lo, hi;

	if (uint_range(b, dash ? dash : e, 599, &lo) < 0)
		return -EINVAL;
	hi = lo;
	if (dash && uint_range(dash + 1, e, 599, &hi) < 0)
		return -EINVAL;
	if (lo < 100 || hi < lo)
		return -EINVAL;
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return 0;
}

int parse_http_ranges(const char *s, struct parse_http_ranges *out)
{
	struct parse_http_ranges rs;
	const char *b, *e;

	rs.n = 0;
	while (next_item(&s, &b, &e)) {
		if (rs.n == PARSE_HTTP_RANGES_MAX || http_item(b, e, &rs.r[rs.n]) < 0)
			return -EINVAL;
		rs.n++;
	}
	if (rs.n == 0)
		return -EINVAL;
	*out = rs;
	return 0;
}

bool parse_http_ranges_match(const struct parse_http_ranges *ranges, long status)
{
	for (size_t i = 0; i < ranges->n; i++) {
		if (status >= ranges->r[i].lo && status <= ranges->r[i].hi)
			return true;
	}
	return false;
}

static int rlimit_value(const char *b, const char *e, uint64_t *out)
{
	size_t n;

	while (b < e && is_space(*b))
		b++;
	while (e > b && is_space(e[-1]))
		e--;
	n = (size_t)(e - b);
	if ((n == 8 && strncasecmp(b, "infinity", n) == 0) || (n == 9 && strncasecmp(b, "unlimited", n) == 0)) {
		*out = PARSE_RLIM_INFINITY;
		return 0;
	}
	return size_range(b, e, out);
}

int parse_rlimit(const char *s, struct parse_rlimit *out)
{
	const char *e, *b = trim(s, &e);
	const char *colon = memchr(b, ':', (size_t)(e - b));
	struct parse_rlimit r;

	if (rlimit_value(b, colon ? colon : e, &r.soft) < 0)
		return -EINVAL;
	r.hard = r.soft;
	if (colon && rlimit_value(colon + 1, e, &r.hard) < 0)
		return -EINVAL;
	if (r.soft > r.hard)
		return -EINVAL;
	*out = r;
	return 0;
}
