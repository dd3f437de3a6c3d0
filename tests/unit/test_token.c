/* Unit tests for token.c: cleaning, offline validation, other credentials, fingerprints.
 * Cases K1-K5 and K7 of cases/discord.md. Every token here is built at run time from parts
 * (base64 of a digit string, then pseudo-random B and C segments): no token literal in source. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "token.h"

#define S(x) (1u << (x))
#define ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/* ------------------------------------------------------------------ fakes */

/* Unpadded base64url of in[0..n). */
static size_t b64url(const char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		size_t k = n - i < 3 ? n - i : 3;
		uint32_t v = (uint32_t)(uint8_t)in[i] << 16;

		if (k > 1)
			v |= (uint32_t)(uint8_t)in[i + 1] << 8;
		if (k > 2)
			v |= (uint8_t)in[i + 2];
		out[o++] = ALPHABET[v >> 18 & 63];
		out[o++] = ALPHABET[v >> 12 & 63];
		if (k > 1)
			out[o++] = ALPHABET[v >> 6 & 63];
		if (k > 2)
			out[o++] = ALPHABET[v & 63];
	}
	out[o] = '\0';
	return o;
}

static void fill_random(char *out, size_t n, uint32_t *seed)
{
	for (size_t i = 0; i < n; i++) {
		*seed = *seed * 1103515245u + 12345u;
		out[i] = ALPHABET[(*seed >> 16) & 63];
	}
	out[n] = '\0';
}

struct fake {
	char tok[256];
	char a[64], b[64], c[128];
	size_t len;
};

/* A fake token: A = base64url(id digits), B and C pseudo-random of the given lengths. */
static void make_fake(struct fake *f, const char *id, size_t blen, size_t clen, uint32_t seed)
{
	b64url(id, strlen(id), f->a);
	fill_random(f->b, blen, &seed);
	fill_random(f->c, clen, &seed);
	f->len = (size_t)snprintf(f->tok, sizeof f->tok, "%s.%s.%s", f->a, f->b, f->c);
}

#define ID18 "123456789012345678"
#define ID19 "1234567890123456789"

/* Concatenates the NULL-terminated strings into buf. */
static const char *cat(char *buf, size_t cap, ...)
{
	va_list ap;
	const char *s;
	size_t pos = 0;

	buf[0] = '\0';
	va_start(ap, cap);
	while ((s = va_arg(ap, const char *)) != NULL) {
		size_t n = strlen(s);

		assert_true(pos + n < cap);
		memcpy(buf + pos, s, n + 1);
		pos += n;
	}
	va_end(ap);
	return buf;
}
#define CAT(buf, ...) cat(buf, sizeof buf, __VA_ARGS__, (const char *)NULL)

/* ------------------------------------------------------------------ leak scan (K7) */

/* No window of 6 characters of secret (B is 6, so B itself) appears in hay. */
static void assert_no_part(const char *hay, const char *secret)
{
	size_t n = strlen(secret);

	for (size_t i = 0; i + 6 <= n; i++) {
		char w[7];

		memcpy(w, secret + i, 6);
		w[6] = '\0';
		if (strstr(hay, w)) {
			print_error("leak: '%s' contains part of a secret\n", hay);
			fail();
		}
	}
}

/* Every string the module produces about in[0..len): report message, check output, fingerprint
 * and step names, scanned for the secrets (NULL-terminated list). */
static void scan_all(const char *in, size_t len, ...)
{
	struct token_report rep;
	char out[4096], clean[TOKEN_MAX + 1], fp[TOKEN_FINGERPRINT_SIZE], steps_s[256];
	const char *secrets[8];
	size_t n = 0, clen = 0;
	unsigned steps = 0;
	va_list ap;

	va_start(ap, len);
	while (n < 8 && (secrets[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	for (int f = 0; f < TOKEN_FORMAT_COUNT; f++) {
		assert_true(token_check(in, len, (enum token_format)f, out, sizeof out, &rep) >= 0);
		for (size_t i = 0; i < n; i++) {
			assert_no_part(out, secrets[i]);
			assert_no_part(rep.message, secrets[i]);
		}
		if (token_clean(in, len, clean, sizeof clean, &clen, &steps) == 0) {
			token_validate(clean, clen, (enum token_format)f, &rep);
			token_fingerprint(clean, clen, fp, sizeof fp);
			token_steps_str(steps, steps_s, sizeof steps_s);
			for (size_t i = 0; i < n; i++) {
				assert_no_part(rep.message, secrets[i]);
				assert_no_part(fp, secrets[i]);
				assert_no_part(steps_s, secrets[i]);
			}
		}
	}
}
#define SCAN(in, len, ...) scan_all(in, len, __VA_ARGS__, (const char *)NULL)

/* ------------------------------------------------------------------ cleaning helpers */

static void check_clean_n(const char *in, size_t len, const char *want, unsigned want_steps)
{
	char out[1024], a[256], b[256];
	size_t n = 9999;
	unsigned steps = 0xFFFF;

	assert_int_equal(token_clean(in, len, out, sizeof out, &n, &steps), 0);
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	if (steps != want_steps) {
		token_steps_str(steps, a, sizeof a);
		token_steps_str(want_steps, b, sizeof b);
		print_error("steps: got '%s', want '%s'\n", a, b);
	}
	assert_int_equal(steps, want_steps);
}
#define CLEAN(in, want, steps) check_clean_n(in, strlen(in), want, steps)

/* ------------------------------------------------------------------ names */

static void test_names(void **state)
{
	(void)state;
	for (int i = 0; i < TOKEN_STEP_COUNT; i++) {
		assert_string_not_equal(token_step_name((enum token_step)i), "?");
		assert_string_not_equal(token_step_desc((enum token_step)i), "?");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(token_step_name((enum token_step)i), token_step_name((enum token_step)j));
	}
	for (int i = 0; i < TOKEN_RULE_COUNT; i++)
		assert_string_not_equal(token_rule_name((enum token_rule)i), "?");
	for (int i = 0; i < TOKEN_KIND_COUNT; i++)
		assert_string_not_equal(token_kind_name((enum token_kind)i), "?");
	assert_string_equal(token_step_name(TOKEN_STEP_BOM), "bom");
	assert_string_equal(token_step_name(TOKEN_STEP_PREFIX), "prefix");
	assert_string_equal(token_step_name(TOKEN_STEP_COUNT), "?");
	assert_string_equal(token_step_name((enum token_step)-1), "?");
	assert_string_equal(token_verdict_name(TOKEN_OK), "ok");
	assert_string_equal(token_verdict_name(TOKEN_WARN), "warn");
	assert_string_equal(token_verdict_name(TOKEN_REJECT), "reject");
	assert_string_equal(token_rule_name(TOKEN_RULE_SEGMENT_A), "segment-a");
	assert_string_equal(token_kind_name(TOKEN_KIND_CLIENT_SECRET), "client-secret");
	assert_string_equal(token_kind_name(TOKEN_KIND_COUNT), "?");
	assert_string_equal(token_format_name(TOKEN_FORMAT_OPAQUE), "opaque");

	enum token_format f = TOKEN_FORMAT_COUNT;
	assert_int_equal(token_format_parse("discord", &f), 0);
	assert_int_equal(f, TOKEN_FORMAT_DISCORD);
	assert_int_equal(token_format_parse("opaque", &f), 0);
	assert_int_equal(f, TOKEN_FORMAT_OPAQUE);
	assert_int_equal(token_format_parse("Discord", &f), -EINVAL);
	assert_int_equal(token_format_parse(NULL, &f), -EINVAL);
}

static void test_steps_str(void **state)
{
	char buf[128];

	(void)state;
	assert_int_equal(token_steps_str(0, buf, sizeof buf), 0);
	assert_string_equal(buf, "");
	assert_int_equal(token_steps_str(S(TOKEN_STEP_NEWLINE) | S(TOKEN_STEP_QUOTES), buf, sizeof buf),
			 strlen("newline, quotes"));
	assert_string_equal(buf, "newline, quotes");
	assert_int_equal(token_steps_str(S(TOKEN_STEP_BOM) | S(TOKEN_STEP_PREFIX), buf, 6), strlen("bom, prefix"));
	assert_string_equal(buf, "bom, ");
	assert_int_equal(token_steps_str(S(TOKEN_STEP_BOM), NULL, 0), 3);
	token_steps_str((1u << TOKEN_STEP_COUNT) - 1, buf, sizeof buf);
	assert_string_equal(buf, "bom, newline, extra-lines, whitespace, zero-width, export, "
				 "assignment, quotes, prefix");
}

/* ------------------------------------------------------------------ cleaning, step by step */

static void test_clean_nothing(void **state)
{
	struct fake f;

	(void)state;
	make_fake(&f, ID19, 6, 38, 1);
	CLEAN(f.tok, f.tok, 0);
	CLEAN("", "", 0);
	CLEAN("x", "x", 0);
}

static void test_clean_bom(void **state)
{
	struct fake f;
	char in[512];

	(void)state;
	make_fake(&f, ID18, 6, 38, 2);
	CLEAN(CAT(in, "\xEF\xBB\xBF", f.tok), f.tok, S(TOKEN_STEP_BOM));
	/* A second U+FEFF is no longer a BOM but a zero-width character. */
	CLEAN(CAT(in, "\xEF\xBB\xBF\xEF\xBB\xBF", f.tok), f.tok, S(TOKEN_STEP_BOM) | S(TOKEN_STEP_ZERO_WIDTH));
	/* A truncated BOM is not one (and not trimmed either). */
	CLEAN(CAT(in, "\xEF\xBB", f.tok), in, 0);
}

static void test_clean_newline(void **state) /* K1 */
{
	struct fake f;
	char in[512];

	(void)state;
	make_fake(&f, ID18, 6, 27, 3);
	CLEAN(CAT(in, f.tok, "\n"), f.tok, S(TOKEN_STEP_NEWLINE));
	CLEAN(CAT(in, f.tok, "\r\n"), f.tok, S(TOKEN_STEP_NEWLINE));
	CLEAN(CAT(in, f.tok, "\r"), f.tok, S(TOKEN_STEP_NEWLINE));
	CLEAN(CAT(in, f.tok, "\n\n\n"), f.tok, S(TOKEN_STEP_NEWLINE));
	CLEAN(CAT(in, "\n\r\n", f.tok, "\r\n"), f.tok, S(TOKEN_STEP_NEWLINE));
	/* Blank lines may hold spaces: they are still blank. */
	CLEAN(CAT(in, "  \t\n\xC2\xA0\n", f.tok, "\n"), f.tok, S(TOKEN_STEP_NEWLINE));
	/* Only the first non-empty line counts; the others are reported. */
	CLEAN(CAT(in, f.tok, "\nAPP_ID=1\n"), f.tok, S(TOKEN_STEP_NEWLINE) | S(TOKEN_STEP_EXTRA_LINES));
	CLEAN(CAT(in, "\n", f.tok, "\r\n\r\nsecond\r\n"), f.tok, S(TOKEN_STEP_NEWLINE) | S(TOKEN_STEP_EXTRA_LINES));
}

static void test_clean_whitespace(void **state) /* K3 */
{
	static const char *const spaces[] = {
		" ", "\t", "\v", "\f",
		"\xC2\xA0",     /* U+00A0 NBSP */
		"\xC2\x85",     /* U+0085 NEL */
		"\xE1\x9A\x80", /* U+1680 */
		"\xE2\x80\x80", /* U+2000 en quad */
		"\xE2\x80\x83", /* U+2003 em space */
		"\xE2\x80\x8A", /* U+200A hair space */
		"\xE2\x80\xA8", /* U+2028 line separator */
		"\xE2\x80\xA9", /* U+2029 */
		"\xE2\x80\xAF", /* U+202F narrow NBSP */
		"\xE2\x81\x9F", /* U+205F */
		"\xE3\x80\x80", /* U+3000 ideographic space */
	};
	struct fake f;
	char in[512];

	(void)state;
	make_fake(&f, ID19, 6, 38, 4);
	for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++) {
		CLEAN(CAT(in, spaces[i], f.tok), f.tok, S(TOKEN_STEP_WHITESPACE));
		CLEAN(CAT(in, f.tok, spaces[i]), f.tok, S(TOKEN_STEP_WHITESPACE));
		CLEAN(CAT(in, spaces[i], spaces[i], f.tok, spaces[i], " "), f.tok, S(TOKEN_STEP_WHITESPACE));
	}
	/* Spaces inside stay: validation rejects them. */
	CLEAN(CAT(in, "ab\xC2\xA0" "cd"), in, 0);
	/* A broken UTF-8 sequence at an end is not a space. */
	CLEAN(CAT(in, f.tok, "\xC2"), in, 0);
	CLEAN(CAT(in, "\xA0", f.tok), in, 0);
}

static void test_clean_zero_width(void **state) /* K3 */
{
	static const char *const zw[] = {
		"\xE2\x80\x8B", /* U+200B ZWSP */
		"\xE2\x80\x8C", /* U+200C ZWNJ */
		"\xE2\x80\x8D", /* U+200D ZWJ */
		"\xE2\x80\x8E", /* U+200E LRM */
		"\xE2\x81\xA0", /* U+2060 word joiner */
		"\xEF\xBB\xBF", /* U+FEFF at the end */
		"\xC2\xAD",     /* U+00AD soft hyphen */
		"\xE1\xA0\x8E", /* U+180E */
	};
	struct fake f;
	char in[512];

	(void)state;
	make_fake(&f, ID19, 6, 38, 5);
	for (size_t i = 0; i < sizeof zw / sizeof zw[0]; i++)
		CLEAN(CAT(in, f.tok, zw[i]), f.tok, S(TOKEN_STEP_ZERO_WIDTH));
	CLEAN(CAT(in, "\xE2\x80\x8B", f.tok, "\xE2\x80\x8B"), f.tok, S(TOKEN_STEP_ZERO_WIDTH));
	CLEAN(CAT(in, "\xE2\x80\x8B ", f.tok, " \xE2\x80\x8B\xC2\xA0"), f.tok,
	      S(TOKEN_STEP_ZERO_WIDTH) | S(TOKEN_STEP_WHITESPACE));
}

static void test_clean_assignment(void **state) /* K2 */
{
	struct fake f;
	char in[512];

	(void)state;
	make_fake(&f, ID18, 6, 38, 6);
	CLEAN(CAT(in, "DISCORD_TOKEN=", f.tok), f.tok, S(TOKEN_STEP_ASSIGNMENT));
	CLEAN(CAT(in, "_t0=", f.tok), f.tok, S(TOKEN_STEP_ASSIGNMENT));
	CLEAN(CAT(in, "TOKEN = ", f.tok), f.tok, S(TOKEN_STEP_ASSIGNMENT) | S(TOKEN_STEP_WHITESPACE));
	CLEAN(CAT(in, "export DISCORD_TOKEN=", f.tok), f.tok, S(TOKEN_STEP_EXPORT) | S(TOKEN_STEP_ASSIGNMENT));
	CLEAN(CAT(in, "export \t DISCORD_TOKEN=", f.tok), f.tok, S(TOKEN_STEP_EXPORT) | S(TOKEN_STEP_ASSIGNMENT));
	/* Not assignments: no identifier, empty value, base64 padding of an opaque token. */
	CLEAN("1X=abc", "1X=abc", 0);
	CLEAN("DISCORD_TOKEN=", "DISCORD_TOKEN=", 0);
	CLEAN("c2VjcmV0dG9rZW4=", "c2VjcmV0dG9rZW4=", 0);
	CLEAN("YWJjZA==", "YWJjZA==", 0);
	CLEAN("export", "export", 0);
	CLEAN("export abc", "export abc", 0);
	CLEAN("exportX=abc", "abc", S(TOKEN_STEP_ASSIGNMENT));
}

static void test_clean_quotes(void **state) /* K2 */
{
	struct fake f;
	char in[512], want[512];

	(void)state;
	make_fake(&f, ID18, 6, 27, 7);
	CLEAN(CAT(in, "\"", f.tok, "\""), f.tok, S(TOKEN_STEP_QUOTES));
	CLEAN(CAT(in, "'", f.tok, "'"), f.tok, S(TOKEN_STEP_QUOTES));
	CLEAN(CAT(in, "\xE2\x80\x9C", f.tok, "\xE2\x80\x9D"), f.tok, S(TOKEN_STEP_QUOTES));
	CLEAN(CAT(in, "\xE2\x80\x98", f.tok, "\xE2\x80\x99"), f.tok, S(TOKEN_STEP_QUOTES));
	CLEAN(CAT(in, "\" ", f.tok, " \""), f.tok, S(TOKEN_STEP_QUOTES) | S(TOKEN_STEP_WHITESPACE));
	/* Only one pair; unmatched or lone quotes stay (and are rejected by validation). */
	CLEAN(CAT(in, "\"\"", f.tok, "\"\""), CAT(want, "\"", f.tok, "\""), S(TOKEN_STEP_QUOTES));
	CLEAN(CAT(in, "\"", f.tok, "'"), in, 0);
	CLEAN(CAT(in, "\"", f.tok), in, 0);
	CLEAN("\"", "\"", 0);
	CLEAN("\"\"", "", S(TOKEN_STEP_QUOTES));
}

static void test_clean_prefix(void **state) /* K3 */
{
	struct fake f;
	char in[512];

	(void)state;
	make_fake(&f, ID19, 6, 38, 8);
	CLEAN(CAT(in, "Bot ", f.tok), f.tok, S(TOKEN_STEP_PREFIX));
	CLEAN(CAT(in, "bot ", f.tok), f.tok, S(TOKEN_STEP_PREFIX));
	CLEAN(CAT(in, "BOT\t", f.tok), f.tok, S(TOKEN_STEP_PREFIX));
	CLEAN(CAT(in, "Bot   ", f.tok), f.tok, S(TOKEN_STEP_PREFIX));
	CLEAN(CAT(in, "Bot\xC2\xA0", f.tok), f.tok, S(TOKEN_STEP_PREFIX));
	CLEAN(CAT(in, "Bearer ", f.tok), f.tok, S(TOKEN_STEP_PREFIX));
	CLEAN(CAT(in, "bEaReR ", f.tok), f.tok, S(TOKEN_STEP_PREFIX));
	/* Not prefixes. */
	CLEAN("Bot", "Bot", 0);
	CLEAN("Botanic", "Botanic", 0);
	CLEAN(CAT(in, "Bot", f.tok), in, 0);
	CLEAN(CAT(in, "Bot\xE2\x80\x8B", f.tok), in, 0); /* a zero-width char is no separator */
	CLEAN("Bot x y", "x y", S(TOKEN_STEP_PREFIX));  /* only one prefix */
	CLEAN("Bot Bot x", "Bot x", S(TOKEN_STEP_PREFIX));
}

/* ------------------------------------------------------------------ cleaning, combined */

static void test_clean_env_lines(void **state) /* K2 */
{
	struct fake f;
	char in[512];

	(void)state;
	make_fake(&f, ID19, 6, 38, 9);
	CLEAN(CAT(in, "DISCORD_TOKEN=\"", f.tok, "\""), f.tok, S(TOKEN_STEP_ASSIGNMENT) | S(TOKEN_STEP_QUOTES));
	CLEAN(CAT(in, "export DISCORD_TOKEN='", f.tok, "'\n"), f.tok,
	      S(TOKEN_STEP_NEWLINE) | S(TOKEN_STEP_EXPORT) | S(TOKEN_STEP_ASSIGNMENT) | S(TOKEN_STEP_QUOTES));
	CLEAN(CAT(in, "DISCORD_TOKEN=\"Bot ", f.tok, "\"\r\n"), f.tok,
	      S(TOKEN_STEP_NEWLINE) | S(TOKEN_STEP_ASSIGNMENT) | S(TOKEN_STEP_QUOTES) | S(TOKEN_STEP_PREFIX));
}

static void test_clean_all_steps(void **state)
{
	struct fake f;
	char in[1024];

	(void)state;
	make_fake(&f, ID18, 6, 38, 10);
	/* Every mistake at once, in the order the reference undoes them. */
	CAT(in, "\xEF\xBB\xBF", "\r\n  \r\n", " \xC2\xA0 export DISCORD_TOKEN = \"\xE2\x80\x8B Bearer ",
	    f.tok, "\xE2\x80\x83\" \xE2\x80\x8B\r\n", "APP_ID=1\n");
	CLEAN(in, f.tok, (1u << TOKEN_STEP_COUNT) - 1);
}

static void test_clean_errors(void **state)
{
	struct fake f;
	char in[512], out[512], small[10];
	size_t n = 0;
	unsigned steps = 0;

	(void)state;
	make_fake(&f, ID19, 6, 38, 11);
	assert_int_equal(token_clean(NULL, 3, out, sizeof out, &n, &steps), -EINVAL);
	assert_int_equal(token_clean(f.tok, f.len, NULL, 10, &n, &steps), -EINVAL);
	assert_int_equal(token_clean(f.tok, f.len, out, 0, &n, &steps), -EINVAL);
	assert_int_equal(token_clean(NULL, 0, out, sizeof out, NULL, NULL), 0);
	assert_string_equal(out, "");
	/* Too small: "" and the length needed. */
	CAT(in, f.tok, "\n");
	memset(small, 'x', sizeof small);
	assert_int_equal(token_clean(in, strlen(in), small, sizeof small, &n, &steps), -ENOSPC);
	assert_string_equal(small, "");
	assert_int_equal(n, f.len);
	assert_int_equal(token_clean(in, strlen(in), out, f.len, &n, NULL), -ENOSPC);
	assert_int_equal(token_clean(in, strlen(in), out, f.len + 1, &n, NULL), 0);
	assert_string_equal(out, f.tok);
	/* In place. */
	CAT(in, "export DISCORD_TOKEN=\"", f.tok, "\"\n");
	assert_int_equal(token_clean(in, strlen(in), in, sizeof in, &n, &steps), 0);
	assert_string_equal(in, f.tok);
}

/* ------------------------------------------------------------------ validation */

static enum token_verdict check(const char *tok, enum token_format fmt, struct token_report *r)
{
	return token_validate(tok, strlen(tok), fmt, r);
}

static void expect_reject(const char *tok, enum token_rule rule, enum token_kind kind, const char *needle)
{
	struct token_report r;

	assert_int_equal(check(tok, TOKEN_FORMAT_DISCORD, &r), TOKEN_REJECT);
	if (r.rule != rule)
		print_error("rule %s (%s), want %s\n", token_rule_name(r.rule), r.message, token_rule_name(rule));
	assert_int_equal(r.verdict, TOKEN_REJECT);
	assert_int_equal(r.rule, rule);
	assert_int_equal(r.kind, kind);
	assert_int_equal(r.warnings, 0);
	assert_false(r.has_id);
	assert_non_null(strstr(r.message, needle));
}

static void test_valid_shapes(void **state) /* K5 */
{
	static const struct { const char *id; size_t blen, clen, total; } shapes[] = {
		{ ID18, 6, 27, 59 }, /* old tokens, Discord's docs example shape */
		{ ID18, 6, 38, 70 }, /* 18-digit ID, new HMAC */
		{ ID19, 6, 38, 72 }, /* 19-digit ID, new HMAC */
		{ ID19, 6, 27, 61 },
	};
	struct token_report r;
	struct fake f;

	(void)state;
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		make_fake(&f, shapes[i].id, shapes[i].blen, shapes[i].clen, (uint32_t)(100 + i));
		assert_int_equal(f.len, shapes[i].total);
		assert_int_equal(token_validate(f.tok, f.len, TOKEN_FORMAT_DISCORD, &r), TOKEN_OK);
		assert_int_equal(r.verdict, TOKEN_OK);
		assert_int_equal(r.rule, TOKEN_RULE_NONE);
		assert_int_equal(r.kind, TOKEN_KIND_NONE);
		assert_int_equal(r.warnings, 0);
		assert_string_equal(r.message, "");
		assert_true(r.has_id);
		assert_int_equal(r.bot_id, strtoull(shapes[i].id, NULL, 10));
		assert_int_equal(r.seg_len[0], strlen(f.a));
		assert_int_equal(r.seg_len[1], shapes[i].blen);
		assert_int_equal(r.seg_len[2], shapes[i].clen);
		assert_int_equal(r.len, f.len);
		/* 123456789012345678 >> 22 + the 2015 epoch: 2015-12-07. */
		assert_true(r.id_created_ms > 1420070400000ull);
		assert_int_equal(token_validate(f.tok, f.len, TOKEN_FORMAT_OPAQUE, &r), TOKEN_OK);
	}
	/* A real-world-like ID: the docs' example bot ID decodes to 2016-07-02. */
	make_fake(&f, "198622483471925248", 6, 27, 7);
	assert_int_equal(token_validate(f.tok, f.len, TOKEN_FORMAT_DISCORD, &r), TOKEN_OK);
	assert_int_equal(r.id_created_ms / 86400000ull, 1467417600000ull / 86400000ull);
	/* Segment C may hold '-' and '_'. */
	make_fake(&f, ID19, 6, 38, 12);
	memcpy(f.c, "-_-_", 4);
	snprintf(f.tok, sizeof f.tok, "%s.%s.%s", f.a, f.b, f.c);
	assert_int_equal(check(f.tok, TOKEN_FORMAT_DISCORD, NULL), TOKEN_OK);
}

/* K5: over every ID length and a wide range of B and C lengths, nothing valid is rejected. */
static void test_unusual_lengths_only_warn(void **state)
{
	static const char *const ids[] = { "12345678901234567", ID18, ID19, "12345678901234567890",
					   "18446744073709551615", "98765432109876543" };
	struct token_report r;
	struct fake f;

	(void)state;
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		for (size_t b = 1; b <= 12; b++) {
			for (size_t c = 1; c <= 80; c++) {
				make_fake(&f, ids[i], b, c, (uint32_t)(i * 1000 + b * 100 + c));
				assert_int_not_equal(check(f.tok, TOKEN_FORMAT_DISCORD, &r), TOKEN_REJECT);
				assert_true(r.has_id);
				assert_int_equal((r.warnings & S(TOKEN_RULE_SEGMENT_B_LENGTH)) != 0, b != 6);
				assert_int_equal((r.warnings & S(TOKEN_RULE_SEGMENT_C_LENGTH)) != 0, c != 27 && c != 38);
				assert_int_equal((r.warnings & S(TOKEN_RULE_LENGTH)) != 0, f.len < 59 || f.len > 72);
				assert_int_equal(r.verdict == TOKEN_WARN, r.warnings != 0);
			}
		}
	}
	/* One warning names its rule; several are all listed. */
	make_fake(&f, ID18, 7, 38, 13);
	assert_int_equal(check(f.tok, TOKEN_FORMAT_DISCORD, &r), TOKEN_WARN);
	assert_int_equal(r.rule, TOKEN_RULE_SEGMENT_B_LENGTH);
	assert_string_equal(r.message, "segment B is 7 characters (6 in every token seen)");
	make_fake(&f, ID18, 6, 30, 14);
	assert_int_equal(check(f.tok, TOKEN_FORMAT_DISCORD, &r), TOKEN_WARN);
	assert_int_equal(r.rule, TOKEN_RULE_SEGMENT_C_LENGTH);
	assert_int_equal(r.warnings, S(TOKEN_RULE_SEGMENT_C_LENGTH));
	make_fake(&f, ID18, 5, 50, 15);
	assert_int_equal(check(f.tok, TOKEN_FORMAT_DISCORD, &r), TOKEN_WARN);
	assert_int_equal(r.rule, TOKEN_RULE_SEGMENT_B_LENGTH);
	assert_int_equal(r.warnings, S(TOKEN_RULE_SEGMENT_B_LENGTH) | S(TOKEN_RULE_SEGMENT_C_LENGTH) |
					     S(TOKEN_RULE_LENGTH));
	assert_non_null(strstr(r.message, "segment B is 5"));
	assert_non_null(strstr(r.message, "; segment C is 50"));
	assert_non_null(strstr(r.message, "; token is 81 characters"));
	/* A 17-digit ID makes a 58-character token: a warning, not a rejection. */
	make_fake(&f, "12345678901234567", 6, 27, 16);
	assert_int_equal(f.len, 58);
	assert_int_equal(check(f.tok, TOKEN_FORMAT_DISCORD, &r), TOKEN_WARN);
	assert_int_equal(r.warnings, S(TOKEN_RULE_LENGTH));
}

static void test_other_credentials(void **state) /* K4 */
{
	char secret[80], key[80], url[300], hook[80], buf[400], clean[400];
	struct token_report r;
	uint32_t seed = 42;
	size_t n;

	(void)state;
	fill_random(secret, 32, &seed);
	expect_reject(secret, TOKEN_RULE_OTHER_CREDENTIAL, TOKEN_KIND_CLIENT_SECRET,
		      "looks like an OAuth2 client secret (32 characters, no dots)");
	check(secret, TOKEN_FORMAT_DISCORD, &r);
	assert_non_null(strstr(r.message, "use the bot token from the Bot page"));
	SCAN(secret, 32, secret);

	fill_random(secret, 30, &seed);
	expect_reject(secret, TOKEN_RULE_OTHER_CREDENTIAL, TOKEN_KIND_OAUTH_TOKEN, "OAuth2 access token");

	for (int i = 0; i < 64; i++)
		key[i] = "0123456789abcdef"[(i * 7 + 3) % 16];
	key[64] = '\0';
	expect_reject(key, TOKEN_RULE_OTHER_CREDENTIAL, TOKEN_KIND_PUBLIC_KEY, "public key (64 hex digits)");
	SCAN(key, 64, key);

	expect_reject(ID18, TOKEN_RULE_OTHER_CREDENTIAL, TOKEN_KIND_APPLICATION_ID, "application or user ID");
	expect_reject(ID19, TOKEN_RULE_OTHER_CREDENTIAL, TOKEN_KIND_APPLICATION_ID, "digits only");

	fill_random(hook, 68, &seed);
	snprintf(url, sizeof url, "https://discord.com/api/webhooks/%s/%s", ID19, hook);
	expect_reject(url, TOKEN_RULE_OTHER_CREDENTIAL, TOKEN_KIND_WEBHOOK_URL, "webhook URL");
	snprintf(url, sizeof url, "https://discordapp.com/api/webhooks/%s/%s", ID18, hook);
	expect_reject(url, TOKEN_RULE_OTHER_CREDENTIAL, TOKEN_KIND_WEBHOOK_URL, "webhook URL");
	SCAN(url, strlen(url), hook, ID18);
	snprintf(url, sizeof url, "https://discord.com/oauth2/authorize?client_id=%s&scope=bot", ID18);
	expect_reject(url, TOKEN_RULE_OTHER_CREDENTIAL, TOKEN_KIND_INVITE_URL, "invite");
	expect_reject("https://example.com/x", TOKEN_RULE_OTHER_CREDENTIAL, TOKEN_KIND_URL, "URL");
	snprintf(buf, sizeof buf, "mfa.%s", hook);
	expect_reject(buf, TOKEN_RULE_OTHER_CREDENTIAL, TOKEN_KIND_USER_MFA, "user account token");
	SCAN(buf, strlen(buf), hook);

	/* Pasted with the usual mistakes: cleaned first, then recognised. */
	fill_random(secret, 32, &seed);
	snprintf(buf, sizeof buf, "DISCORD_TOKEN=\"%s\"\n", secret);
	assert_int_equal(token_clean(buf, strlen(buf), clean, sizeof clean, &n, NULL), 0);
	assert_int_equal(token_validate(clean, n, TOKEN_FORMAT_DISCORD, &r), TOKEN_REJECT);
	assert_int_equal(r.kind, TOKEN_KIND_CLIENT_SECRET);
	SCAN(buf, strlen(buf), secret);

	/* Other lengths without dots: no kind, the dots rule explains. */
	fill_random(secret, 40, &seed);
	expect_reject(secret, TOKEN_RULE_DOTS, TOKEN_KIND_NONE, "has no dots");
	expect_reject("1234", TOKEN_RULE_DOTS, TOKEN_KIND_NONE, "has no dots");
	/* The opaque format does not second-guess. */
	fill_random(secret, 32, &seed);
	assert_int_equal(check(secret, TOKEN_FORMAT_OPAQUE, &r), TOKEN_OK);
	assert_int_equal(r.kind, TOKEN_KIND_NONE);
}

static void test_safe_rules(void **state)
{
	struct fake f;
	char bad[512], a[64];

	(void)state;
	make_fake(&f, ID19, 6, 38, 20);
	expect_reject("", TOKEN_RULE_EMPTY, TOKEN_KIND_NONE, "empty");

	snprintf(bad, sizeof bad, "%s.%s %s", f.a, f.b, f.c);
	expect_reject(bad, TOKEN_RULE_WHITESPACE, TOKEN_KIND_NONE, "whitespace at offset");
	snprintf(bad, sizeof bad, "%s.%s\xC2\xA0%s", f.a, f.b, f.c);
	expect_reject(bad, TOKEN_RULE_WHITESPACE, TOKEN_KIND_NONE, "U+00A0");
	snprintf(bad, sizeof bad, "%s.%s\x1b%s", f.a, f.b, f.c);
	expect_reject(bad, TOKEN_RULE_CONTROL, TOKEN_KIND_NONE, "control character (0x1b)");
	snprintf(bad, sizeof bad, "%s.%s+%s", f.a, f.b, f.c);
	expect_reject(bad, TOKEN_RULE_CHARSET, TOKEN_KIND_NONE, "'+'");
	snprintf(bad, sizeof bad, "\"%s", f.tok);
	expect_reject(bad, TOKEN_RULE_CHARSET, TOKEN_KIND_NONE, "'\"' at offset 0");
	snprintf(bad, sizeof bad, "%s.%s\xE2\x80\x8B%s", f.a, f.b, f.c);
	expect_reject(bad, TOKEN_RULE_CHARSET, TOKEN_KIND_NONE, "invisible character (U+200B)");
	snprintf(bad, sizeof bad, "%s.%s\xC3\xA9%s", f.a, f.b, f.c);
	expect_reject(bad, TOKEN_RULE_CHARSET, TOKEN_KIND_NONE, "non-ASCII character (U+00E9)");
	snprintf(bad, sizeof bad, "%s.%s\xFF%s", f.a, f.b, f.c);
	expect_reject(bad, TOKEN_RULE_CHARSET, TOKEN_KIND_NONE, "not UTF-8");
	expect_reject("# my bot token", TOKEN_RULE_CHARSET, TOKEN_KIND_NONE, "starts with '#'");

	snprintf(bad, sizeof bad, "%s.%s", f.a, f.c);
	expect_reject(bad, TOKEN_RULE_DOTS, TOKEN_KIND_NONE, "has 1 dot");
	snprintf(bad, sizeof bad, "%s.%s.%s.x", f.a, f.b, f.c);
	expect_reject(bad, TOKEN_RULE_DOTS, TOKEN_KIND_NONE, "has 3 dots");
	snprintf(bad, sizeof bad, "%s..%s", f.a, f.c);
	expect_reject(bad, TOKEN_RULE_EMPTY_SEGMENT, TOKEN_KIND_NONE, "segment B is empty");
	snprintf(bad, sizeof bad, ".%s.%s", f.b, f.c);
	expect_reject(bad, TOKEN_RULE_EMPTY_SEGMENT, TOKEN_KIND_NONE, "segment A is empty");
	snprintf(bad, sizeof bad, "%s.%s.", f.a, f.b);
	expect_reject(bad, TOKEN_RULE_EMPTY_SEGMENT, TOKEN_KIND_NONE, "segment C is empty");

	/* Segment A: not digits, wrong digit count, leading zero, beyond 64 bits, bad length. */
	b64url("hello, world! 1234", 18, a);
	snprintf(bad, sizeof bad, "%s.%s.%s", a, f.b, f.c);
	expect_reject(bad, TOKEN_RULE_SEGMENT_A, TOKEN_KIND_NONE, "segment A does not decode to a numeric ID");
	b64url("1234567890123456", 16, a);
	snprintf(bad, sizeof bad, "%s.%s.%s", a, f.b, f.c);
	expect_reject(bad, TOKEN_RULE_SEGMENT_A, TOKEN_KIND_NONE, "16-digit");
	b64url("123456789012345678901", 21, a);
	snprintf(bad, sizeof bad, "%s.%s.%s", a, f.b, f.c);
	expect_reject(bad, TOKEN_RULE_SEGMENT_A, TOKEN_KIND_NONE, "21-digit");
	b64url("012345678901234567", 18, a);
	snprintf(bad, sizeof bad, "%s.%s.%s", a, f.b, f.c);
	expect_reject(bad, TOKEN_RULE_SEGMENT_A, TOKEN_KIND_NONE, "leading zero");
	b64url("18446744073709551616", 20, a);
	snprintf(bad, sizeof bad, "%s.%s.%s", a, f.b, f.c);
	expect_reject(bad, TOKEN_RULE_SEGMENT_A, TOKEN_KIND_NONE, "beyond 64 bits");
	snprintf(bad, sizeof bad, "%sAB.%s.%s", f.a, f.b, f.c); /* 28 -> 21 bytes */
	expect_reject(bad, TOKEN_RULE_SEGMENT_A, TOKEN_KIND_NONE, "segment A");
	snprintf(bad, sizeof bad, "%sABC.%s.%s", f.a, f.b, f.c); /* 29: 4k+1 */
	expect_reject(bad, TOKEN_RULE_SEGMENT_A, TOKEN_KIND_NONE, "not unpadded base64");
	/* A JWT has the shape but its first segment is JSON. */
	b64url("{\"alg\":\"HS256\"}", 15, a);
	snprintf(bad, sizeof bad, "%s.%s.%s", a, f.b, f.c);
	expect_reject(bad, TOKEN_RULE_SEGMENT_A, TOKEN_KIND_NONE, "does not decode to a numeric ID");
}

static void test_opaque(void **state)
{
	struct token_report r;
	const char nul[] = "ab\0cd";

	(void)state;
	assert_int_equal(check("c2VjcmV0dG9rZW4=", TOKEN_FORMAT_OPAQUE, &r), TOKEN_OK);
	assert_int_equal(check("any-thing_at/all+=", TOKEN_FORMAT_OPAQUE, &r), TOKEN_OK);
	assert_int_equal(check("", TOKEN_FORMAT_OPAQUE, &r), TOKEN_REJECT);
	assert_int_equal(r.rule, TOKEN_RULE_EMPTY);
	assert_int_equal(token_validate(nul, sizeof nul - 1, TOKEN_FORMAT_OPAQUE, &r), TOKEN_REJECT);
	assert_int_equal(r.rule, TOKEN_RULE_BINARY);
	assert_int_equal(check("two words", TOKEN_FORMAT_OPAQUE, &r), TOKEN_WARN);
	assert_int_equal(r.rule, TOKEN_RULE_WHITESPACE);
	assert_int_equal(check("ctl\x01x", TOKEN_FORMAT_OPAQUE, &r), TOKEN_WARN);
	assert_int_equal(r.rule, TOKEN_RULE_CONTROL);
	assert_int_equal(check("caf\xC3\xA9 \x02", TOKEN_FORMAT_OPAQUE, &r), TOKEN_WARN);
	assert_int_equal(r.rule, TOKEN_RULE_CONTROL);
	assert_int_equal(r.warnings, S(TOKEN_RULE_CONTROL) | S(TOKEN_RULE_WHITESPACE) | S(TOKEN_RULE_CHARSET));
	assert_int_equal(check("a\xE2\x80\x83" "b", TOKEN_FORMAT_OPAQUE, &r), TOKEN_WARN);
	assert_int_equal(r.warnings, S(TOKEN_RULE_WHITESPACE));
	assert_false(r.has_id);
}

/* ------------------------------------------------------------------ garbage */

static void test_garbage(void **state)
{
	struct token_report r;
	char out[TOKEN_MAX + 1], text[2048], in[64];
	size_t n = 0;
	unsigned steps = 0;
	uint32_t seed = 7;

	(void)state;
	/* Binary: random bytes with NULs never crash and never pass. */
	for (int round = 0; round < 200; round++) {
		unsigned char bin[300];
		size_t len = (size_t)round + 1;

		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			bin[i] = (unsigned char)(seed >> 16);
		}
		bin[len / 2] = 0;
		assert_int_equal(token_clean((const char *)bin, len, out, sizeof out, &n, &steps), 0);
		assert_int_equal(token_validate(out, n, TOKEN_FORMAT_DISCORD, &r), TOKEN_REJECT);
		assert_int_equal(token_check((const char *)bin, len, TOKEN_FORMAT_DISCORD, text, sizeof text, &r),
				 TOKEN_REJECT);
		assert_non_null(strstr(text, "verdict: reject\n"));
	}
	/* UTF-16LE with a BOM (Notepad "Unicode"): NUL bytes. */
	static const char utf16[] = "\xFF\xFEM\0T\0I\0z\0.\0x\0.\0y\0\r\0\n\0";
	memcpy(in, utf16, sizeof utf16 - 1);
	assert_int_equal(token_clean(in, sizeof utf16 - 1, out, sizeof out, &n, &steps), 0);
	expect_reject(out, TOKEN_RULE_CHARSET, TOKEN_KIND_NONE, "not UTF-8"); /* stops at the first NUL */
	assert_int_equal(token_validate(out, n, TOKEN_FORMAT_DISCORD, &r), TOKEN_REJECT);
	assert_int_equal(r.rule, TOKEN_RULE_BINARY);
	assert_non_null(strstr(r.message, "UTF-16"));

	/* Empty and only whitespace: cleaned to nothing, rejected as empty. */
	static const char *const blanks[] = { "", "\n", "\r\n\r\n", "   ", "\t \xC2\xA0\xE2\x80\x8B\n \n",
					      "\xEF\xBB\xBF", "\xEF\xBB\xBF\n", "\"\"", "''\n", "DISCORD_TOKEN=\"\"" };
	for (size_t i = 0; i < sizeof blanks / sizeof blanks[0]; i++) {
		assert_int_equal(token_clean(blanks[i], strlen(blanks[i]), out, sizeof out, &n, &steps), 0);
		assert_int_equal(n, 0);
		assert_int_equal(token_validate(out, n, TOKEN_FORMAT_DISCORD, &r), TOKEN_REJECT);
		assert_int_equal(r.rule, TOKEN_RULE_EMPTY);
		assert_int_equal(token_validate(out, n, TOKEN_FORMAT_OPAQUE, &r), TOKEN_REJECT);
		assert_int_equal(token_check(blanks[i], strlen(blanks[i]), TOKEN_FORMAT_DISCORD, text, sizeof text, NULL),
				 TOKEN_REJECT);
		assert_null(strstr(text, "fingerprint:"));
	}
	assert_int_equal(token_validate(NULL, 5, TOKEN_FORMAT_DISCORD, &r), TOKEN_REJECT);
	assert_int_equal(r.rule, TOKEN_RULE_EMPTY);
}

static void test_huge(void **state)
{
	size_t big = 4u << 20;
	char *in = malloc(big + 1), *out = malloc(TOKEN_MAX + 1), text[2048];
	struct token_report r;
	struct fake f;
	size_t n = 0;
	unsigned steps = 0;

	(void)state;
	assert_non_null(in);
	assert_non_null(out);
	/* One 4 MiB line: too long for the buffer, and rejected by the check. */
	memset(in, 'A', big);
	in[big] = '\0';
	assert_int_equal(token_clean(in, big, out, TOKEN_MAX + 1, &n, &steps), -ENOSPC);
	assert_int_equal(n, big);
	assert_string_equal(out, "");
	assert_int_equal(token_check(in, big, TOKEN_FORMAT_DISCORD, text, sizeof text, &r), TOKEN_REJECT);
	assert_int_equal(r.rule, TOKEN_RULE_TOO_LONG);
	assert_int_equal(token_check(in, big, TOKEN_FORMAT_OPAQUE, text, sizeof text, &r), TOKEN_REJECT);
	assert_int_equal(token_validate(in, big, TOKEN_FORMAT_OPAQUE, &r), TOKEN_REJECT);
	assert_int_equal(r.rule, TOKEN_RULE_TOO_LONG);
	assert_int_equal(token_validate(in, TOKEN_MAX, TOKEN_FORMAT_OPAQUE, &r), TOKEN_OK);
	/* A token followed by megabytes of other lines: the first line wins. */
	make_fake(&f, ID19, 6, 38, 30);
	memcpy(in, f.tok, f.len);
	in[f.len] = '\n';
	assert_int_equal(token_clean(in, big, out, TOKEN_MAX + 1, &n, &steps), 0);
	assert_string_equal(out, f.tok);
	assert_int_equal(steps, S(TOKEN_STEP_NEWLINE) | S(TOKEN_STEP_EXTRA_LINES));
	assert_int_equal(token_check(in, big, TOKEN_FORMAT_DISCORD, text, sizeof text, &r), TOKEN_OK);
	/* Megabytes of blank lines before it. */
	memset(in, '\n', big);
	memcpy(in + big - f.len - 2, f.tok, f.len);
	assert_int_equal(token_clean(in, big, out, TOKEN_MAX + 1, &n, &steps), 0);
	assert_string_equal(out, f.tok);
	assert_int_equal(steps, S(TOKEN_STEP_NEWLINE));
	free(in);
	free(out);
}

/* ------------------------------------------------------------------ fingerprint */

static void hex(const uint8_t *h, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

static void test_sha256(void **state)
{
	uint8_t h[32];
	char x[65], *mil;

	(void)state;
	/* FIPS 180-4 / NIST example vectors. */
	token_sha256("", 0, h);
	hex(h, 32, x);
	assert_string_equal(x, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	token_sha256(NULL, 0, h);
	hex(h, 32, x);
	assert_string_equal(x, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	token_sha256("abc", 3, h);
	hex(h, 32, x);
	assert_string_equal(x, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	token_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h);
	hex(h, 32, x);
	assert_string_equal(x, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	mil = malloc(1000000);
	assert_non_null(mil);
	memset(mil, 'a', 1000000);
	token_sha256(mil, 1000000, h);
	hex(h, 32, x);
	assert_string_equal(x, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(mil);
	/* 64 bytes: padding needs a second block. */
	token_sha256("0123456701234567012345670123456701234567012345670123456701234567", 64, h);
	hex(h, 32, x);
	assert_string_equal(x, "8182cadb21af0e37c06414ece08e19c65bdb22c396d48ba7341012eea9ffdfdd");
}

static void test_fingerprint(void **state)
{
	char fp1[TOKEN_FINGERPRINT_SIZE], fp2[TOKEN_FINGERPRINT_SIZE], want[64], x[8];
	struct fake f, g;
	uint8_t h[32];
	uint64_t id = 0;

	(void)state;
	make_fake(&f, ID19, 6, 38, 40);
	token_fingerprint(f.tok, f.len, fp1, sizeof fp1);
	token_sha256(f.tok, f.len, h);
	hex(h, 3, x);
	snprintf(want, sizeof want, "%s:%s", ID19, x);
	assert_string_equal(fp1, want);
	/* Stable. */
	token_fingerprint(f.tok, f.len, fp2, sizeof fp2);
	assert_string_equal(fp1, fp2);
	/* Another token of the same bot: same ID, other hash; one character is enough. */
	g = f;
	g.tok[g.len - 1] = g.tok[g.len - 1] == 'A' ? 'B' : 'A';
	token_fingerprint(g.tok, g.len, fp2, sizeof fp2);
	assert_string_not_equal(fp1, fp2);
	assert_memory_equal(fp1, fp2, strlen(ID19) + 1);
	make_fake(&g, ID19, 6, 38, 41);
	token_fingerprint(g.tok, g.len, fp2, sizeof fp2);
	assert_string_not_equal(fp1, fp2);
	/* Another bot. */
	make_fake(&g, ID18, 6, 38, 40);
	token_fingerprint(g.tok, g.len, fp2, sizeof fp2);
	assert_int_equal(strncmp(fp2, ID18 ":", strlen(ID18) + 1), 0);
	/* Longest: 20-digit ID. */
	make_fake(&g, "18446744073709551615", 6, 38, 42);
	token_fingerprint(g.tok, g.len, fp2, sizeof fp2);
	assert_int_equal(strlen(fp2), TOKEN_FINGERPRINT_SIZE - 1);
	/* No ID: hash alone; empty: nothing; truncation is safe. */
	token_fingerprint("opaque-secret", 13, fp2, sizeof fp2);
	assert_int_equal(strlen(fp2), 6);
	token_fingerprint("", 0, fp2, sizeof fp2);
	assert_string_equal(fp2, "");
	token_fingerprint(f.tok, f.len, fp2, 5);
	assert_string_equal(fp2, "1234");
	token_fingerprint(f.tok, f.len, NULL, 0);
	/* Never any part of B or C. */
	assert_no_part(fp1, f.b);
	assert_no_part(fp1, f.c);

	assert_true(token_bot_id(f.tok, f.len, &id));
	assert_int_equal(id, 1234567890123456789ull);
	assert_true(token_bot_id(f.tok, f.len, NULL));
	assert_false(token_bot_id(f.a, strlen(f.a), &id)); /* no dot */
	assert_false(token_bot_id("x.y.z", 5, &id));
	assert_false(token_bot_id(NULL, 0, &id));
}

/* ------------------------------------------------------------------ ninesctl token check, K7 */

static void test_check_output(void **state)
{
	char in[512], text[2048], fp[TOKEN_FINGERPRINT_SIZE], line[128];
	struct token_report r;
	struct fake f;

	(void)state;
	make_fake(&f, ID18, 6, 38, 50);
	CAT(in, "\xEF\xBB\xBF" "export DISCORD_TOKEN=\"", f.tok, "\"\r\n");
	assert_int_equal(token_check(in, strlen(in), TOKEN_FORMAT_DISCORD, text, sizeof text, &r), TOKEN_OK);
	token_fingerprint(f.tok, f.len, fp, sizeof fp);
	assert_non_null(strstr(text, "verdict: ok\n"));
	assert_non_null(strstr(text, "cleaning: bom, newline, export, assignment, quotes\n"));
	snprintf(line, sizeof line, "fingerprint: %s\n", fp);
	assert_non_null(strstr(text, line));
	assert_non_null(strstr(text, "bot id: " ID18 " (created 2015-12-07)\n"));
	assert_non_null(strstr(text, "shape: 24.6.38, 70 characters\n"));
	assert_null(strstr(text, "rule:"));
	assert_no_part(text, f.b);
	assert_no_part(text, f.c);
	assert_no_part(text, f.a);

	make_fake(&f, ID18, 6, 31, 51);
	assert_int_equal(token_check(f.tok, f.len, TOKEN_FORMAT_DISCORD, text, sizeof text, NULL), TOKEN_WARN);
	assert_non_null(strstr(text, "verdict: warn\nrule: segment-c-length\nmessage: segment C is 31"));
	assert_non_null(strstr(text, "cleaning: none\n"));

	assert_int_equal(token_check("12345678901234567", 17, TOKEN_FORMAT_DISCORD, text, sizeof text, NULL),
			 TOKEN_REJECT);
	assert_non_null(strstr(text, "rule: other-credential\nlooks like: application-id\n"));
	/* Truncation and bad arguments. */
	assert_int_equal(token_check(f.tok, f.len, TOKEN_FORMAT_DISCORD, text, 10, NULL), TOKEN_WARN);
	assert_string_equal(text, "verdict: ");
	assert_int_equal(token_check(f.tok, f.len, TOKEN_FORMAT_DISCORD, NULL, 10, NULL), -EINVAL);
	assert_int_equal(token_check(NULL, 3, TOKEN_FORMAT_DISCORD, text, sizeof text, NULL), -EINVAL);
}

/* K7: whatever goes in, no report string, check output or fingerprint holds B or C. */
static void test_no_leak(void **state)
{
	static const char *const wraps[][2] = {
		{ "", "" }, { "", "\n" }, { "\xEF\xBB\xBF", "\r\n" }, { "DISCORD_TOKEN=\"", "\"" },
		{ "export DISCORD_TOKEN='", "'\n" }, { "Bot ", "" }, { "Bearer ", "\xE2\x80\x8B" },
		{ "\"", "" }, { "# token\n", "" }, { "x ", "" }, { "", " y" }, { "", "\x01" },
		{ "https://discord.com/api/webhooks/1/", "" }, { "mfa.", "" }, { "", ".extra" },
	};
	struct fake f;
	char in[512], part[512];

	(void)state;
	for (size_t shape = 0; shape < 6; shape++) {
		static const size_t bl[] = { 6, 6, 6, 7, 5, 6 }, cl[] = { 27, 38, 38, 38, 27, 45 };

		make_fake(&f, shape % 2 ? ID19 : ID18, bl[shape], cl[shape], (uint32_t)(60 + shape));
		for (size_t w = 0; w < sizeof wraps / sizeof wraps[0]; w++) {
			CAT(in, wraps[w][0], f.tok, wraps[w][1]);
			SCAN(in, strlen(in), f.b, f.c);
		}
		/* Broken tokens: each rule's message, scanned. */
		snprintf(part, sizeof part, "%s.%s", f.b, f.c);                  /* A missing */
		SCAN(part, strlen(part), f.b, f.c);
		snprintf(part, sizeof part, "%s.%s.%s", f.b, f.b, f.c);          /* A not an ID */
		SCAN(part, strlen(part), f.b, f.c);
		snprintf(part, sizeof part, "%s.%s%s", f.a, f.b, f.c);           /* one dot */
		SCAN(part, strlen(part), f.b, f.c);
		snprintf(part, sizeof part, "%s.%s.%s.%s", f.a, f.b, f.c, f.b);  /* three dots */
		SCAN(part, strlen(part), f.b, f.c);
		snprintf(part, sizeof part, "%s.%s.%s", f.a, f.b, f.c);
		part[strlen(f.a) + 3] = '\0';                                     /* NUL inside */
		SCAN(part, f.len, f.b, f.c);
		SCAN(f.c, strlen(f.c), f.c);                                      /* C alone */
	}
}

static void test_wipe(void **state)
{
	char buf[32];

	(void)state;
	memset(buf, 'x', sizeof buf);
	token_wipe(buf, sizeof buf);
	for (size_t i = 0; i < sizeof buf; i++)
		assert_int_equal(buf[i], 0);
	token_wipe(NULL, 10);
	token_wipe(buf, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_steps_str),
		cmocka_unit_test(test_clean_nothing),
		cmocka_unit_test(test_clean_bom),
		cmocka_unit_test(test_clean_newline),
		cmocka_unit_test(test_clean_whitespace),
		cmocka_unit_test(test_clean_zero_width),
		cmocka_unit_test(test_clean_assignment),
		cmocka_unit_test(test_clean_quotes),
		cmocka_unit_test(test_clean_prefix),
		cmocka_unit_test(test_clean_env_lines),
		cmocka_unit_test(test_clean_all_steps),
		cmocka_unit_test(test_clean_errors),
		cmocka_unit_test(test_valid_shapes),
		cmocka_unit_test(test_unusual_lengths_only_warn),
		cmocka_unit_test(test_other_credentials),
		cmocka_unit_test(test_safe_rules),
		cmocka_unit_test(test_opaque),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_huge),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_check_output),
		cmocka_unit_test(test_no_leak),
		cmocka_unit_test(test_wipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
