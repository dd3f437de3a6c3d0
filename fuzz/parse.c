/* libFuzzer target: every value parser of parse.h (durations, sizes, percentages, integers,
 * booleans, signals, umasks, exit-code lists, rates, HTTP status ranges, rlimits) on the input
 * as a C string (up to its first NUL).
 *
 * Checks: results are in their documented ranges; *out is untouched on error; a parsed value
 * written back in a canonical form ("1500ms", "200-399,404", "0:1024") parses to the same value;
 * surrounding whitespace changes nothing. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise: name the line and the condition (abort() alone shows no line at -O1). */
#define FAIL_IF(c)                                                                   \
	do {                                                                         \
		if (c) {                                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#c);                                                 \
			abort();                                                     \
		}                                                                    \
	} while (0)

#define SENT 0xa5

/* out (n bytes) still holds the sentinel pattern */
static void untouched(const void *out, size_t n)
{
	const unsigned char *p = out;

	for (size_t i = 0; i < n; i++) {
		FAIL_IF(p[i] != SENT);
	}
}

/* Runs parser fn on s; on error checks the output was left alone. Returns the result code. */
#define RUN(fn, s, outp)                                   \
	({                                                 \
		int r_;                                    \
		memset((outp), SENT, sizeof *(outp));      \
		r_ = fn((s), (outp));                      \
		FAIL_IF(r_ != 0 && r_ != -EINVAL);         \
		if (r_ != 0)                               \
			untouched((outp), sizeof *(outp)); \
		r_;                                        \
	})

static void durations(const char *s, const char *padded)
{
	uint64_t v, w;
	char buf[64];

	if (RUN(parse_duration_ms, s, &v) != 0)
		return;
	snprintf(buf, sizeof buf, "%" PRIu64 "ms", v);
	FAIL_IF(RUN(parse_duration_ms, buf, &w) != 0 || w != v);
	FAIL_IF(RUN(parse_duration_ms, padded, &w) != 0 || w != v);
}

static void sizes(const char *s, const char *padded)
{
	uint64_t v, w;
	char buf[64];

	if (RUN(parse_size, s, &v) != 0)
		return;
	snprintf(buf, sizeof buf, "%" PRIu64, v);
	FAIL_IF(RUN(parse_size, buf, &w) != 0 || w != v);
	FAIL_IF(RUN(parse_size, padded, &w) != 0 || w != v);
}

static void scalars(const char *s, const char *padded)
{
	unsigned pct, pct2;
	uint64_t u, u2;
	bool b, b2;
	int sig, sig2;
	mode_t m, m2;
	char buf[64];

	if (RUN(parse_percent, s, &pct) == 0) {
		snprintf(buf, sizeof buf, "%u%%", pct);
		FAIL_IF(pct > 100 || RUN(parse_percent, buf, &pct2) != 0 || pct2 != pct ||
			RUN(parse_percent, padded, &pct2) != 0 || pct2 != pct);
	}
	memset(&u, SENT, sizeof u);
	if (parse_uint(s, 1000000, &u) == 0) {
		FAIL_IF(u > 1000000 || parse_uint(padded, 1000000, &u2) != 0 || u2 != u);
	} else {
		untouched(&u, sizeof u);
	}
	FAIL_IF(RUN(parse_bool, s, &b) == 0 && (RUN(parse_bool, padded, &b2) != 0 || b2 != b));
	if (RUN(parse_signal, s, &sig) == 0) {
		snprintf(buf, sizeof buf, "%d", sig);
		FAIL_IF(sig < 1 || sig > SIGRTMAX || RUN(parse_signal, buf, &sig2) != 0 || sig2 != sig ||
			RUN(parse_signal, padded, &sig2) != 0 || sig2 != sig);
	}
	if (RUN(parse_umask, s, &m) == 0) {
		snprintf(buf, sizeof buf, "%03o", (unsigned)m);
		FAIL_IF(m > 0777 || RUN(parse_umask, buf, &m2) != 0 || m2 != m || RUN(parse_umask, padded, &m2) != 0 ||
			m2 != m);
	}
}

static void exit_codes(const char *s, const char *padded)
{
	struct parse_exit_codes e, e2;
	char buf[256 * 4 + 1];
	size_t o = 0;
	unsigned n = 0;

	if (RUN(parse_exit_codes, s, &e) != 0)
		return;
	for (int c = -1; c <= 256; c++) {
		if (parse_exit_codes_has(&e, c)) {
			FAIL_IF(c < 0 || c > 255);
			o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%d", n ? "," : "", c);
			n++;
		}
	}
	FAIL_IF(n != parse_exit_codes_count(&e));
	buf[o] = '\0';
	FAIL_IF(RUN(parse_exit_codes, buf, &e2) != 0 || memcmp(&e, &e2, sizeof e) != 0);
	FAIL_IF(RUN(parse_exit_codes, padded, &e2) != 0 || memcmp(&e, &e2, sizeof e) != 0);
}

static void rates(const char *s, const char *padded)
{
	struct parse_rate r, r2;
	char buf[64];

	if (RUN(parse_rate, s, &r) != 0)
		return;
	FAIL_IF(r.count < 1 || r.window_ms == 0);
	snprintf(buf, sizeof buf, "%" PRIu32 "/%" PRIu64 "ms", r.count, r.window_ms);
	FAIL_IF(RUN(parse_rate, buf, &r2) != 0 || r2.count != r.count || r2.window_ms != r.window_ms);
	FAIL_IF(RUN(parse_rate, padded, &r2) != 0 || r2.count != r.count || r2.window_ms != r.window_ms);
}

static void http_ranges(const char *s, const char *padded)
{
	struct parse_http_ranges h, h2;
	char buf[PARSE_HTTP_RANGES_MAX * 8 + 1];
	size_t o = 0;

	if (RUN(parse_http_ranges, s, &h) != 0)
		return;
	FAIL_IF(h.n < 1 || h.n > PARSE_HTTP_RANGES_MAX);
	for (size_t i = 0; i < h.n; i++) {
		FAIL_IF(h.r[i].lo < 100 || h.r[i].hi > 599 || h.r[i].lo > h.r[i].hi);
		FAIL_IF(!parse_http_ranges_match(&h, h.r[i].lo) || !parse_http_ranges_match(&h, h.r[i].hi));
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%u-%u", i ? "," : "", h.r[i].lo, h.r[i].hi);
	}
	FAIL_IF(parse_http_ranges_match(&h, 99) || parse_http_ranges_match(&h, 600) ||
		parse_http_ranges_match(&h, -1));
	buf[o] = '\0';
	FAIL_IF(RUN(parse_http_ranges, buf, &h2) != 0 || h2.n != h.n);
	for (long st = 100; st < 600; st++) {
		FAIL_IF(parse_http_ranges_match(&h, st) != parse_http_ranges_match(&h2, st));
	}
	FAIL_IF(RUN(parse_http_ranges, padded, &h2) != 0 || h2.n != h.n);
}

static void rlimits(const char *s, const char *padded)
{
	struct parse_rlimit l, l2;
	char buf[64], a[24], b[24];

	if (RUN(parse_rlimit, s, &l) != 0)
		return;
	FAIL_IF(l.soft > l.hard);
	if (l.soft == PARSE_RLIM_INFINITY)
		snprintf(a, sizeof a, "infinity");
	else
		snprintf(a, sizeof a, "%" PRIu64, l.soft);
	if (l.hard == PARSE_RLIM_INFINITY)
		snprintf(b, sizeof b, "unlimited");
	else
		snprintf(b, sizeof b, "%" PRIu64, l.hard);
	snprintf(buf, sizeof buf, "%s:%s", a, b);
	FAIL_IF(RUN(parse_rlimit, buf, &l2) != 0 || l2.soft != l.soft || l2.hard != l.hard);
	FAIL_IF(RUN(parse_rlimit, padded, &l2) != 0 || l2.soft != l.soft || l2.hard != l.hard);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *padded = malloc(size + 5);

	FAIL_IF(!s || !padded);
	memcpy(s, data, size);
	s[size] = '\0';
	snprintf(padded, size + 5, " \t%s\n ", s);
	durations(s, padded);
	sizes(s, padded);
	scalars(s, padded);
	exit_codes(s, padded);
	rates(s, padded);
	http_ranges(s, padded);
	rlimits(s, padded);
	free(padded);
	free(s);
	return 0;
}
