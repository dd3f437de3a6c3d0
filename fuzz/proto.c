/* libFuzzer target: the control protocol decoder (proto.h) on arbitrary bytes.
 *
 * The input is tried as a request line (proto_parse_request), as a reply header
 * (proto_parse_header), as an ERR message (proto_format_header, then parsed back), as a signal name
 * and as text to JSON-escape. Checks: a parsed request is within the grammar and survives
 * proto_format_request -> proto_parse_request unchanged; errors are NUL-terminated messages that
 * fit PROTO_ERR_MAX; every header proto_format_header writes parses back with its code and the
 * (sanitised, possibly cut) message; proto_format_request() accepts exactly the valid argument
 * lists that fit and joins them; the JSON escape is valid JSON string content in UTF-8, equal
 * to its length, and a cut output is a prefix of the full one. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

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

static void check_err(const char *err)
{
	size_t n = strnlen(err, PROTO_ERR_MAX);

	FAIL_IF(n == 0 || n == PROTO_ERR_MAX || memchr(err, '\n', n));
}

static void same_request(const struct proto_request *a, const struct proto_request *b)
{
	FAIL_IF(a->verb != b->verb || a->flags != b->flags || a->signo != b->signo || a->lines != b->lines ||
		a->nnames != b->nnames);
	for (size_t i = 0; i < a->nnames; i++) {
		FAIL_IF(strcmp(a->names[i], b->names[i]) != 0);
	}
}

/* Builds argv back from a parsed request, formats it and parses it again. */
static void round_trip(const struct proto_request *req)
{
	static const char *argv[PROTO_ARGS_MAX + 8];
	static char line[PROTO_LINE_MAX + 1];
	static struct proto_request again;
	char signo[16], lines[16], err[PROTO_ERR_MAX];
	int argc = 0, n;

	argv[argc++] = proto_verb_name(req->verb);
	if (req->verb == PROTO_SIGNAL) {
		snprintf(signo, sizeof signo, "%d", req->signo);
		argv[argc++] = signo;
	}
	if (req->flags & PROTO_F_JSON)
		argv[argc++] = "--json";
	if (req->flags & PROTO_F_ALL)
		argv[argc++] = "all";
	for (size_t i = 0; i < req->nnames; i++)
		argv[argc++] = req->names[i];
	if (req->flags & PROTO_F_LINES) {
		snprintf(lines, sizeof lines, "%u", req->lines);
		argv[argc++] = "-n";
		argv[argc++] = lines;
	}
	if (req->flags & PROTO_F_FOLLOW)
		argv[argc++] = "-f";
	n = proto_format_request(line, sizeof line, argc, argv, err, sizeof err);
	if (n == -E2BIG)
		return; /* cannot happen (every rebuilt word is at most as long as the original) */
	FAIL_IF(n < 0 || (size_t)n != strlen(line) || line[n - 1] != '\n');
	FAIL_IF(proto_parse_request(line, (size_t)n, &again, err, sizeof err) != 0);
	same_request(req, &again);
}

static void check_request(const uint8_t *data, size_t size)
{
	static struct proto_request req;
	char err[PROTO_ERR_MAX];
	char *buf = malloc(size ? size : 1);
	int rc;

	FAIL_IF(!buf);
	memcpy(buf, data, size);
	rc = proto_parse_request(buf, size, &req, err, sizeof err);
	if (rc == 0) {
		FAIL_IF((unsigned)req.verb >= PROTO_VERB_COUNT || req.nnames > PROTO_ARGS_MAX);
		FAIL_IF((req.flags & PROTO_F_ALL) && req.nnames);
		FAIL_IF((req.flags & PROTO_F_JSON) && req.verb != PROTO_STATUS);
		FAIL_IF((req.flags & (PROTO_F_LINES | PROTO_F_FOLLOW)) && req.verb != PROTO_LOG);
		FAIL_IF((req.flags & PROTO_F_LINES) ? req.lines > PROTO_LOG_LINES_MAX : req.lines != 0);
		FAIL_IF(req.verb == PROTO_SIGNAL ? req.signo < 1 || req.signo > SIGRTMAX : req.signo != 0);
		FAIL_IF(req.verb == PROTO_LOG && req.nnames != 1);
		for (size_t i = 0; i < req.nnames; i++) {
			const char *nm = req.names[i];

			FAIL_IF(nm < buf || nm >= buf + size || !proto_name_valid(nm, strlen(nm)));
		}
		FAIL_IF(err[0]);
		round_trip(&req);
	} else {
		FAIL_IF(rc != -EINVAL || req.nnames != 0);
		check_err(err);
	}
	/* A tiny error buffer is fine too. */
	memcpy(buf, data, size);
	rc = proto_parse_request(buf, size, &req, err, 1);
	FAIL_IF(rc != 0 && err[0]);
	free(buf);
}

static void check_header(const uint8_t *data, size_t size)
{
	struct proto_reply rep;
	char *buf = malloc(size ? size : 1);

	FAIL_IF(!buf);
	memcpy(buf, data, size);
	if (proto_parse_header(buf, size, &rep) == 0) {
		FAIL_IF(rep.code < 0 || rep.code > 255);
		FAIL_IF(rep.ok ? rep.msg != NULL : (rep.code < 1 || rep.msg < buf || rep.msg + rep.msglen > buf + size));
	}
	free(buf);
}

/* The input (up to its first NUL) as the ERR message; code and size from its first bytes. */
static void check_format_header(const char *msg, size_t size_in)
{
	struct proto_reply rep;
	size_t mlen = strlen(msg), size = 16 + size_in % (PROTO_HEADER_MAX + 100 - 16 + 1);
	char *dst = malloc(size); /* exact size: ASan sees a write past it */
	int code = mlen ? (unsigned char)msg[0] - 1 : 1, n;

	FAIL_IF(!dst);
	n = proto_format_header(dst, size, code, msg);
	if (code < 1) {
		FAIL_IF(n != -EINVAL);
		free(dst);
		return;
	}
	FAIL_IF(n < 0 || (size_t)n >= size || (size_t)n > PROTO_HEADER_MAX || (size_t)n != strlen(dst));
	FAIL_IF(proto_parse_header(dst, (size_t)n, &rep) != 0 || rep.ok || rep.code != code);
	FAIL_IF(rep.msglen > (mlen ? mlen : 5));
	for (size_t i = 0; i < rep.msglen && mlen; i++) {
		unsigned char c = (unsigned char)msg[i];
		char want = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;

		FAIL_IF(rep.msg[i] != want);
	}
	n = proto_format_header(dst, size, code % 256, NULL);
	FAIL_IF(n < 0 || proto_parse_header(dst, (size_t)n, &rep) != 0 || !rep.ok || rep.code != code % 256);
	free(dst);
}

/* Length of a valid UTF-8 sequence at s (0 if invalid), RFC 3629. */
static size_t utf8_ok(const unsigned char *s, size_t n)
{
	unsigned char b = s[0], lo = 0x80, hi = 0xbf;
	size_t need;

	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		need = 2;
	else if (b >= 0xe0 && b <= 0xef)
		need = 3, lo = b == 0xe0 ? 0xa0 : 0x80, hi = b == 0xed ? 0x9f : 0xbf;
	else if (b >= 0xf0 && b <= 0xf4)
		need = 4, lo = b == 0xf0 ? 0x90 : 0x80, hi = b == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	}
	return need;
}

/* True when s[0..n) is the valid inside of a JSON string (RFC 8259 section 7) in UTF-8. */
static bool json_inside_ok(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;

	for (size_t i = 0; i < n;) {
		size_t u;

		if (s[i] < 0x20 || s[i] == '"')
			return false;
		if (s[i] == '\\') {
			if (i + 1 >= n)
				return false;
			if (strchr("\"\\/bfnrt", s[i + 1]) && s[i + 1]) {
				i += 2;
				continue;
			}
			if (s[i + 1] != 'u' || i + 6 > n)
				return false;
			for (size_t k = 2; k < 6; k++) {
				if (!strchr("0123456789abcdefABCDEF", s[i + k]) || !s[i + k])
					return false;
			}
			i += 6;
			continue;
		}
		if (!(u = utf8_ok(s + i, n - i)))
			return false;
		i += u;
	}
	return true;
}

static void check_json(const uint8_t *data, size_t size)
{
	const char *src = (const char *)data;
	size_t need = proto_json_escape(NULL, 0, src, size), cut;
	char *full = malloc(need + 1), *part;

	FAIL_IF(!full);
	FAIL_IF(proto_json_escape(full, need + 1, src, size) != need || strlen(full) != need);
	FAIL_IF(!json_inside_ok(full, need) || need < size);
	cut = size ? (size_t)data[0] % (need + 1) + 1 : 1;
	part = malloc(cut);
	FAIL_IF(!part);
	FAIL_IF(proto_json_escape(part, cut, src, size) != need);
	FAIL_IF(strlen(part) >= cut || memcmp(part, full, strlen(part)) != 0 || !json_inside_ok(part, strlen(part)));
	free(part);
	free(full);
}

/* proto_format_request() with argv = the input split at NUL bytes (after byte 0, which picks the
 * size of dst): it succeeds exactly when every argument is valid and the line fits, and then
 * writes the arguments joined by spaces plus a newline. */
static void check_format_request(const uint8_t *data, size_t size)
{
	static const char *argv[PROTO_ARGS_MAX + 8];
	char err[PROTO_ERR_MAX], *copy, *dst;
	size_t argc = 0, line = 0, dsize;
	bool valid = true;
	int n;

	if (size < 1)
		return;
	dsize = (size_t)data[0] * 17 % (PROTO_LINE_MAX + 64);
	if (data[0] == 0xff)
		dsize = PROTO_LINE_MAX + 1;
	copy = malloc(size);
	dst = malloc(dsize);
	FAIL_IF(!copy || !dst);
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	for (char *p = copy; argc < sizeof argv / sizeof argv[0]; p += strlen(p) + 1) {
		argv[argc++] = p;
		line += strlen(p) + 1;
		valid &= *p && !strpbrk(p, " \x7f\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f"
					   "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f");
		if (p + strlen(p) >= copy + size - 1)
			break;
	}
	n = proto_format_request(dst, dsize, (int)argc, argv, err, sizeof err);
	if (valid && argc - 1 <= PROTO_ARGS_MAX && line <= PROTO_LINE_MAX && line + 1 <= dsize) {
		size_t o = 0;

		FAIL_IF(n < 0 || (size_t)n != line || strlen(dst) != line || dst[line - 1] != '\n');
		for (size_t i = 0; i < argc; i++) {
			size_t k = strlen(argv[i]);

			FAIL_IF(memcmp(dst + o, argv[i], k) != 0 || dst[o + k] != (i + 1 < argc ? ' ' : '\n'));
			o += k + 1;
		}
	} else {
		FAIL_IF(n != -EINVAL && n != -E2BIG);
		/* Not check_err(): the message may quote an argument with its control characters
		 * (proto.h promises one line only for proto_parse_request). */
		FAIL_IF(err[0] == '\0' || strnlen(err, sizeof err) == sizeof err);
	}
	free(dst);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *str = malloc(size + 1);
	size_t n;
	int sig;

	FAIL_IF(!str);
	memcpy(str, data, size);
	str[size] = '\0';
	check_request(data, size);
	check_header(data, size);
	check_format_header(str, size);
	check_json(data, size);
	check_format_request(data, size);
	sig = proto_signal_parse(str);
	FAIL_IF(sig != -EINVAL && (sig < 1 || sig > SIGRTMAX));
	n = strlen(str);
	FAIL_IF(proto_name_valid(str, n) != (n > 0 && strspn(str, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n));
	free(str);
	return 0;
}
