/* libFuzzer target: token cleaning, validation, fingerprint and `ninesctl token check`
 * (token.h) on arbitrary bytes, as if read from a token file.
 *
 * Checks: cleaning never grows the input and reports the length it needs on -ENOSPC; a report
 * is consistent (verdict, rule and kind in range, NUL-terminated message, segment lengths adding
 * up, bot ID equal to token_bot_id()); the fingerprint is "hhhhhh" or "ID:hhhhhh"; and neither the
 * report message nor the token check text contains the cleaned token (checked for tokens that
 * look random enough that English text cannot contain them by chance); cleaning in place gives
 * the same token; token_sha256() agrees with OpenSSL's SHA256() (libcrypto loaded with dlopen when
 * it is there, so the build needs no OpenSSL headers). */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

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

/* At least 20 bytes with 3 upper-case letters, 3 lower-case letters and 3 digits: no message
 * text contains such a string unless it copied it from the token. */
static bool secret_looking(const char *t, size_t n)
{
	size_t up = 0, lo = 0, dig = 0;

	if (n < 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		up += c >= 'A' && c <= 'Z';
		lo += c >= 'a' && c <= 'z';
		dig += c >= '0' && c <= '9';
	}
	return up >= 3 && lo >= 3 && dig >= 3;
}

static void check_no_leak(const char *tok, size_t n, const char *text, size_t cap)
{
	size_t tl = strnlen(text, cap);

	FAIL_IF(tl == cap); /* not NUL-terminated */
	/* the token was written into a message */
	FAIL_IF(secret_looking(tok, n) && memmem(text, tl, tok, n));
}

static void check_fingerprint(const char *fp, size_t len)
{
	size_t n = strlen(fp), i = 0;

	if (len == 0) {
		FAIL_IF(n != 0);
		return;
	}
	FAIL_IF(n >= TOKEN_FINGERPRINT_SIZE);
	if (n > 6) { /* ID ':' */
		while (i < n && isdigit((unsigned char)fp[i]))
			i++;
		FAIL_IF(i == 0 || fp[i] != ':');
		i++;
	}
	FAIL_IF(n - i != 6);
	for (; i < n; i++) {
		FAIL_IF(!isxdigit((unsigned char)fp[i]) || isupper((unsigned char)fp[i]));
	}
}

static void check_report(const struct token_report *r, enum token_verdict v, const char *tok, size_t n,
			 enum token_format fmt)
{
	uint64_t id = 0;

	FAIL_IF(v != r->verdict || (unsigned)v >= TOKEN_VERDICT_COUNT || (unsigned)r->rule >= TOKEN_RULE_COUNT ||
		(unsigned)r->kind >= TOKEN_KIND_COUNT);
	FAIL_IF(r->len != n);
	FAIL_IF(v == TOKEN_OK && (r->rule != TOKEN_RULE_NONE || r->message[0] || r->warnings));
	FAIL_IF(v != TOKEN_OK && (r->rule == TOKEN_RULE_NONE || !r->message[0]));
	FAIL_IF(v == TOKEN_WARN && !(r->warnings & (1u << r->rule)));
	FAIL_IF(r->kind != TOKEN_KIND_NONE && r->rule != TOKEN_RULE_OTHER_CREDENTIAL);
	FAIL_IF(fmt == TOKEN_FORMAT_DISCORD && v != TOKEN_REJECT &&
		r->seg_len[0] + r->seg_len[1] + r->seg_len[2] + 2 != n);
	FAIL_IF(r->has_id && (!token_bot_id(tok, n, &id) || id != r->bot_id));
	check_no_leak(tok, n, r->message, sizeof r->message);
}

/* token_steps_str() into an exact-size buffer of every size up to the full length: a prefix,
 * NUL-terminated, and the same needed length every time. */
static void check_steps_str(unsigned steps)
{
	char ref[128];
	size_t need = token_steps_str(steps, ref, sizeof ref);

	FAIL_IF(need >= sizeof ref || need != strlen(ref));
	for (size_t cap = 0; cap <= need + 1; cap++) {
		char *b = malloc(cap ? cap : 1);

		FAIL_IF(!b);
		FAIL_IF(token_steps_str(steps, cap ? b : NULL, cap) != need);
		FAIL_IF(cap && (strlen(b) >= cap || strncmp(b, ref, strlen(b)) != 0));
		free(b);
	}
}

typedef unsigned char *sha256_fn(const unsigned char *d, size_t n, unsigned char *md);

/* OpenSSL's one-shot SHA256(), or NULL when libcrypto is not installed. */
static sha256_fn *reference_sha256(void)
{
	static bool tried;
	static sha256_fn *fn;

	if (!tried) {
		void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);

		if (!h)
			h = dlopen("libcrypto.so", RTLD_NOW | RTLD_LOCAL);
		if (h)
			*(void **)&fn = dlsym(h, "SHA256");
		tried = true;
	}
	return fn;
}

static void check_sha256(const char *in, size_t size)
{
	sha256_fn *ref = reference_sha256();
	uint8_t a[32], b[32];

	if (!ref)
		return;
	token_sha256(in, size, a);
	ref((const unsigned char *)in, size, b);
	FAIL_IF(memcmp(a, b, sizeof a) != 0);
}

/* Cleaning with out == in gives the same result as into a separate buffer. */
static void check_in_place(const char *in, size_t size, const char *tok, size_t tlen, int rc)
{
	char *buf = malloc(size + 1);
	size_t n = 0;

	FAIL_IF(!buf);
	memcpy(buf, in, size);
	FAIL_IF(token_clean(buf, size, buf, size + 1 < TOKEN_MAX + 1 ? size + 1 : TOKEN_MAX + 1, &n, NULL) != rc);
	FAIL_IF(rc == 0 && (n != tlen || memcmp(buf, tok, tlen + 1) != 0));
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size ? size : 1), *tok = malloc(TOKEN_MAX + 1), *small;
	char fp[TOKEN_FINGERPRINT_SIZE], out[2048], steps_txt[128];
	size_t tlen = 0, need = 0, scap;
	unsigned steps = 0, steps2 = 0;
	int rc;

	FAIL_IF(!in || !tok);
	memcpy(in, data, size); /* exact-size copy: ASan sees any read past the end */
	rc = token_clean(in, size, tok, TOKEN_MAX + 1, &tlen, &steps);
	FAIL_IF(rc != 0 && rc != -ENOSPC);
	FAIL_IF(tlen > size || steps >= (1u << TOKEN_STEP_COUNT));
	FAIL_IF(rc == -ENOSPC && (tok[0] || tlen <= TOKEN_MAX));
	FAIL_IF(token_steps_str(steps, steps_txt, sizeof steps_txt) >= sizeof steps_txt);
	check_steps_str(steps);
	check_steps_str((unsigned)(size * 2654435761u) & ((1u << TOKEN_STEP_COUNT) - 1));
	check_in_place(in, size, tok, tlen, rc);
	check_sha256(in, size);
	if (rc == 0) {
		FAIL_IF(tok[tlen] != '\0');
		/* The same input into a buffer too small by one: -ENOSPC, "" and the needed length. */
		scap = tlen;
		if (scap > 0) {
			small = malloc(scap);
			FAIL_IF(!small);
			FAIL_IF(token_clean(in, size, small, scap, &need, &steps2) != -ENOSPC || small[0] || need != tlen);
			free(small);
		}
		for (int f = 0; f < TOKEN_FORMAT_COUNT; f++) {
			struct token_report rep;
			enum token_verdict v = token_validate(tok, tlen, (enum token_format)f, &rep);

			check_report(&rep, v, tok, tlen, (enum token_format)f);
			FAIL_IF(token_validate(tok, tlen, (enum token_format)f, NULL) != v);
		}
		token_fingerprint(tok, tlen, fp, sizeof fp);
		check_fingerprint(fp, tlen);
		small = malloc((size % 8) + 1); /* truncated, exact size */
		FAIL_IF(!small);
		token_fingerprint(tok, tlen, small, (size % 8) + 1);
		FAIL_IF(strlen(small) > size % 8 || strncmp(small, fp, strlen(small)) != 0);
		free(small);
	}
	for (int f = 0; f < TOKEN_FORMAT_COUNT; f++) {
		struct token_report rep;
		int v = token_check(in, size, (enum token_format)f, out, sizeof out, &rep);

		FAIL_IF(v < 0 || v >= TOKEN_VERDICT_COUNT || (enum token_verdict)v != rep.verdict);
		if (rc == 0)
			check_no_leak(tok, tlen, out, sizeof out);
		/* A small output buffer truncates, always NUL-terminated. */
		small = malloc((size % 16) + 1); /* exact size */
		FAIL_IF(!small);
		v = token_check(in, size, (enum token_format)f, small, (size % 16) + 1, NULL);
		FAIL_IF(v < 0 || strnlen(small, (size % 16) + 1) > size % 16);
		free(small);
	}
	token_wipe(tok, TOKEN_MAX + 1);
	free(tok);
	free(in);
	return 0;
}
