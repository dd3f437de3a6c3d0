/* libFuzzer target: a service's captured output as the log capture path handles it: line framing
 * over arbitrary chunks (linebuf.h), then for every line the event classes (patterns.h, default
 * Discord rules plus custom patterns) and the redaction of secrets (redact.h).
 *
 * Input: byte 0 seeds the chunk sizes; the bytes up to the next '\n' (at most 200) are the
 * service's own token given to the redactor; the rest is the output stream.
 * Checks: the lines delivered give back the stream exactly (newlines where lines ended, nothing
 * lost at cuts or at EOF), cut pieces are LINEBUF_MAX bytes; a hit is consistent (a rule name for
 * every class, a retry-after only for rate limits) and adding custom patterns never lowers the
 * class; redaction never grows a line, gives the same result in place, truncates to a prefix, and
 * leaves no copy of the service's token (for tokens that share no byte with the mask) and nothing of
 * the Discord token shape (checked by an independent implementation of redact.h rule (b)). */
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "linebuf.h"
#include "patterns.h"
#include "redact.h"

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

static struct config_pattern custom[] = {
	{ .cls = CONFIG_PATTERN_AUTH, .source = "token (was )?(revoked|reset)" },
	{ .cls = CONFIG_PATTERN_RATELIMIT, .source = "[Ss]low ?down|retry in [0-9]+" },
	{ .cls = CONFIG_PATTERN_CONFIG, .source = "^FATAL: .*config" },
};
enum { N_CUSTOM = sizeof custom / sizeof custom[0] };

static struct patterns *p_all, *p_def, *p_none;

struct ctx {
	struct redactor red;
	const char *tok;   /* the token to look for in redacted output, NULL: none */
	size_t tok_len;
	char *rebuilt;     /* the stream put back together from the lines */
	size_t rebuilt_len, rebuilt_cap;
	bool last_partial; /* a partial line can only be the last call */
};

static void init_once(void)
{
	for (size_t i = 0; i < N_CUSTOM; i++) {
		FAIL_IF(regcomp(&custom[i].re, custom[i].source, REG_EXTENDED) != 0);
	}
	p_all = malloc(sizeof *p_all);
	p_def = malloc(sizeof *p_def);
	p_none = malloc(sizeof *p_none);
	FAIL_IF(!p_all || !p_def || !p_none);
	FAIL_IF(patterns_init(p_all, true, custom, N_CUSTOM) != 0 || patterns_init(p_def, true, NULL, 0) != 0 ||
		patterns_init(p_none, false, NULL, 0) != 0);
}

static void check_hit(const struct pattern_hit *h, enum pattern_class c)
{
	FAIL_IF((unsigned)c >= PATTERN_CLASS_COUNT || h->cls != c);
	FAIL_IF((c == PATTERN_NONE) != (h->rule == NULL));
	FAIL_IF(c != PATTERN_RATELIMIT && h->retry_after_ms != 0);
	FAIL_IF(c == PATTERN_NONE && h->custom);
}

static void classify(const char *line, size_t len)
{
	struct pattern_hit ha, hd, hn;
	enum pattern_class a = patterns_match(p_all, line, len, &ha);
	enum pattern_class d = patterns_match(p_def, line, len, &hd);

	check_hit(&ha, a);
	check_hit(&hd, d);
	FAIL_IF(hd.custom || a < d);
	/* when no custom rule won, the defaults decided alone */
	FAIL_IF(!ha.custom && (a != d || ha.rule != hd.rule));
	FAIL_IF(patterns_match(p_none, line, len, &hn) != PATTERN_NONE);
	FAIL_IF(patterns_match(p_all, line, len, NULL) != a);
	(void)patterns_retry_after_ms(line, len);
}

static int b64val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	return -1;
}

static bool b64url(unsigned char ch)
{
	return b64val(ch) >= 0 || ch == '-' || ch == '_';
}

/* p[0..n) is unpadded base64 of 15-20 ASCII digits (redact.h rule (b), written independently). */
static bool id_segment(const unsigned char *p, size_t n)
{
	unsigned char buf[32];
	size_t out = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (n % 4 == 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		int v = b64val(p[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[out++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (out < 15 || out > 20)
		return false;
	for (size_t i = 0; i < out; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return false;
	}
	return true;
}

/* True when s[0..n) still holds something of the Discord token shape: A.B.C with A 20-27
 * characters of [A-Za-z0-9] decoding to 15-20 digits (possibly glued to letters before it), B 4-16
 * and C 20 or more characters of [A-Za-z0-9_-]. */
static bool has_token_shape(const unsigned char *s, size_t n)
{
	for (size_t d = 0; d < n; d++) {
		size_t j = d + 1, k, a = d;

		if (s[d] != '.')
			continue;
		while (j < n && b64url(s[j]))
			j++;
		if (j - d - 1 < 4 || j - d - 1 > 16 || j >= n || s[j] != '.')
			continue;
		for (k = j + 1; k < n && b64url(s[k]); k++)
			;
		if (k - j - 1 < 20)
			continue;
		while (a > 0 && b64val(s[a - 1]) >= 0)
			a--;
		for (size_t len = 20; len <= 27 && len <= d - a; len++) {
			if (id_segment(s + d - len, len))
				return true;
		}
	}
	return false;
}

static void redact(struct ctx *c, const char *line, size_t len)
{
	/* Exact-size outputs: ASan sees a write past outcap. */
	char *out = malloc(len), *inplace = malloc(len), *part;
	size_t n = redact_line(&c->red, line, len, out, len), m, cap = len / 2;

	FAIL_IF(!out || !inplace);
	FAIL_IF(n > len);
	memcpy(inplace, line, len);
	m = redact_line(&c->red, inplace, len, inplace, len);
	FAIL_IF(m != n || memcmp(inplace, out, n) != 0);
	FAIL_IF(c->tok && memmem(out, n, c->tok, c->tok_len)); /* the service's own token survived redaction */
	FAIL_IF(has_token_shape((const unsigned char *)out, n)); /* a Discord-shaped token survived redaction */
	/* A short output buffer gets a prefix of the full result. */
	part = malloc(cap);
	FAIL_IF(!part);
	m = redact_line(&c->red, line, len, part, cap);
	FAIL_IF(m > cap || m > n || memcmp(part, out, m) != 0);
	free(part);
	m = redact_line(NULL, line, len, inplace, len);
	FAIL_IF(m > len);
	free(inplace);
	free(out);
}

static void on_line(void *vctx, const char *line_in, size_t len, bool cut, bool partial)
{
	struct ctx *c = vctx;
	/* An exact-size copy: ASan then sees a read past the end of the line, which it would not
	 * inside the chunk or the linebuf buffer. */
	char *line = malloc(len);

	FAIL_IF(!line);
	memcpy(line, line_in, len);

	FAIL_IF(c->last_partial || len > LINEBUF_MAX || (cut && (partial || len != LINEBUF_MAX)));
	FAIL_IF(partial && len == 0);
	c->last_partial = partial;
	FAIL_IF(len + 1 > c->rebuilt_cap - c->rebuilt_len); /* more bytes delivered than were fed */
	memcpy(c->rebuilt + c->rebuilt_len, line_in, len);
	c->rebuilt_len += len;
	if (!cut && !partial)
		c->rebuilt[c->rebuilt_len++] = '\n';
	classify(line, len);
	redact(c, line, len);
	free(line);
}

/* Token bytes that the mask itself contains cannot be checked: masking could spell them. */
static bool checkable_token(const char *t, size_t n)
{
	if (n < REDACT_MIN_TOKEN || memchr(t, '\0', n))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (strchr(REDACT_MASK "*", t[i]))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct ctx c = { 0 };
	struct linebuf *lb;
	const char *p, *nl, *end = (const char *)data + size;
	char tok[201];
	size_t tl, n;
	uint32_t seed;

	if (!ready) {
		init_once();
		ready = true;
	}
	if (size < 1)
		return 0;
	seed = data[0] * 2654435761u + 1;
	p = (const char *)data + 1;
	nl = memchr(p, '\n', (size_t)(end - p) < 200 ? (size_t)(end - p) : 200);
	tl = nl ? (size_t)(nl - p) : 0;
	memcpy(tok, p, tl);
	tok[tl] = '\0';
	if (nl)
		p = nl + 1;
	FAIL_IF(redactor_init(&c.red, tok) != 0);
	if (checkable_token(tok, tl)) {
		c.tok = tok;
		c.tok_len = tl;
	}
	n = (size_t)(end - p);
	lb = malloc(sizeof *lb);
	c.rebuilt = malloc(n + 1);
	c.rebuilt_cap = n + 1;
	FAIL_IF(!lb || !c.rebuilt);
	linebuf_init(lb);
	for (size_t off = 0; off < n;) {
		size_t k;
		char *chunk;

		seed = seed * 1103515245u + 12345u;
		/* Mostly small reads, sometimes a large one (a pipe gives up to 64 KiB). */
		k = (seed >> 16) % 8 == 0 ? (seed >> 8) % 9000 + 1 : (seed >> 16) % 97 + 1;
		if (k > n - off)
			k = n - off;
		chunk = malloc(k); /* exact size: ASan sees reads past the chunk */
		FAIL_IF(!chunk);
		memcpy(chunk, p + off, k);
		linebuf_feed(lb, chunk, k, on_line, &c);
		free(chunk);
		off += k;
	}
	linebuf_flush(lb, on_line, &c);
	FAIL_IF(c.rebuilt_len != n || memcmp(c.rebuilt, p, n) != 0);
	FAIL_IF(lb->len != 0);
	redactor_free(&c.red);
	free(c.rebuilt);
	free(lb);
	return 0;
}
