/* token: cleaning, offline validation and fingerprints of the [auth] token; see token.h.
 * Sources: /work/shared/reference/discord.md section 1 (structure 1.1, library behaviour 1.2,
 * mistakes 1.3, rules and their false-rejection risk 1.4, other credentials 1.5). */
#include "token.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEP(s) (1u << (s))
#define ARRAY_LEN(a) (sizeof (a) / sizeof (a)[0])

/* ------------------------------------------------------------------ name tables */

static const char *const step_names[] = {
	[TOKEN_STEP_BOM] = "bom",
	[TOKEN_STEP_NEWLINE] = "newline",
	[TOKEN_STEP_EXTRA_LINES] = "extra-lines",
	[TOKEN_STEP_WHITESPACE] = "whitespace",
	[TOKEN_STEP_ZERO_WIDTH] = "zero-width",
	[TOKEN_STEP_EXPORT] = "export",
	[TOKEN_STEP_ASSIGNMENT] = "assignment",
	[TOKEN_STEP_QUOTES] = "quotes",
	[TOKEN_STEP_PREFIX] = "prefix",
};
_Static_assert(ARRAY_LEN(step_names) == TOKEN_STEP_COUNT, "step_names");

static const char *const step_descs[] = {
	[TOKEN_STEP_BOM] = "removed a UTF-8 byte order mark",
	[TOKEN_STEP_NEWLINE] = "removed line endings or blank lines",
	[TOKEN_STEP_EXTRA_LINES] = "ignored the lines after the first non-empty one",
	[TOKEN_STEP_WHITESPACE] = "trimmed spaces around the token",
	[TOKEN_STEP_ZERO_WIDTH] = "trimmed zero-width characters around the token",
	[TOKEN_STEP_EXPORT] = "removed 'export '",
	[TOKEN_STEP_ASSIGNMENT] = "removed a leading NAME=",
	[TOKEN_STEP_QUOTES] = "removed a pair of quotes around the token",
	[TOKEN_STEP_PREFIX] = "removed a 'Bot ' or 'Bearer ' prefix",
};
_Static_assert(ARRAY_LEN(step_descs) == TOKEN_STEP_COUNT, "step_descs");

static const char *const format_names[] = {
	[TOKEN_FORMAT_DISCORD] = "discord",
	[TOKEN_FORMAT_OPAQUE] = "opaque",
};
_Static_assert(ARRAY_LEN(format_names) == TOKEN_FORMAT_COUNT, "format_names");

static const char *const verdict_names[] = {
	[TOKEN_OK] = "ok",
	[TOKEN_WARN] = "warn",
	[TOKEN_REJECT] = "reject",
};
_Static_assert(ARRAY_LEN(verdict_names) == TOKEN_VERDICT_COUNT, "verdict_names");

static const char *const rule_names[] = {
	[TOKEN_RULE_NONE] = "none",
	[TOKEN_RULE_EMPTY] = "empty",
	[TOKEN_RULE_TOO_LONG] = "too-long",
	[TOKEN_RULE_BINARY] = "binary",
	[TOKEN_RULE_OTHER_CREDENTIAL] = "other-credential",
	[TOKEN_RULE_CONTROL] = "control",
	[TOKEN_RULE_WHITESPACE] = "whitespace",
	[TOKEN_RULE_CHARSET] = "charset",
	[TOKEN_RULE_DOTS] = "dots",
	[TOKEN_RULE_EMPTY_SEGMENT] = "empty-segment",
	[TOKEN_RULE_SEGMENT_A] = "segment-a",
	[TOKEN_RULE_SEGMENT_B_LENGTH] = "segment-b-length",
	[TOKEN_RULE_SEGMENT_C_LENGTH] = "segment-c-length",
	[TOKEN_RULE_LENGTH] = "length",
};
_Static_assert(ARRAY_LEN(rule_names) == TOKEN_RULE_COUNT, "rule_names");

static const char *const kind_names[] = {
	[TOKEN_KIND_NONE] = "none",
	[TOKEN_KIND_CLIENT_SECRET] = "client-secret",
	[TOKEN_KIND_OAUTH_TOKEN] = "oauth2-access-token",
	[TOKEN_KIND_PUBLIC_KEY] = "public-key",
	[TOKEN_KIND_APPLICATION_ID] = "application-id",
	[TOKEN_KIND_WEBHOOK_URL] = "webhook-url",
	[TOKEN_KIND_INVITE_URL] = "invite-url",
	[TOKEN_KIND_URL] = "url",
	[TOKEN_KIND_USER_MFA] = "user-mfa-token",
};
_Static_assert(ARRAY_LEN(kind_names) == TOKEN_KIND_COUNT, "kind_names");

/* What each other credential looks like; the rule adds where the right token is. */
static const char *const kind_msgs[] = {
	[TOKEN_KIND_NONE] = "",
	[TOKEN_KIND_CLIENT_SECRET] = "looks like an OAuth2 client secret (32 characters, no dots)",
	[TOKEN_KIND_OAUTH_TOKEN] = "looks like an OAuth2 access token (30 characters, no dots)",
	[TOKEN_KIND_PUBLIC_KEY] = "looks like the application's public key (64 hex digits)",
	[TOKEN_KIND_APPLICATION_ID] = "looks like an application or user ID (digits only, no dots)",
	[TOKEN_KIND_WEBHOOK_URL] = "looks like a webhook URL (a webhook cannot log in as a bot)",
	[TOKEN_KIND_INVITE_URL] = "looks like a bot invite (OAuth2 authorize) URL",
	[TOKEN_KIND_URL] = "looks like a URL, not a token",
	[TOKEN_KIND_USER_MFA] = "looks like a user account token (mfa. prefix), not a bot token",
};
_Static_assert(ARRAY_LEN(kind_msgs) == TOKEN_KIND_COUNT, "kind_msgs");

static const char *table_name(const char *const *names, size_t n, unsigned v)
{
	return v < n && names[v] ? names[v] : "?";
}

#define NAME_FN(fn, type, table)                                           \
	const char *fn(type v)                                             \
	{                                                                  \
		return table_name(table, ARRAY_LEN(table), (unsigned)v);   \
	}
NAME_FN(token_step_name, enum token_step, step_names)
NAME_FN(token_step_desc, enum token_step, step_descs)
NAME_FN(token_format_name, enum token_format, format_names)
NAME_FN(token_verdict_name, enum token_verdict, verdict_names)
NAME_FN(token_rule_name, enum token_rule, rule_names)
NAME_FN(token_kind_name, enum token_kind, kind_names)

int token_format_parse(const char *s, enum token_format *out)
{
	for (unsigned i = 0; s && i < TOKEN_FORMAT_COUNT; i++) {
		if (strcmp(s, format_names[i]) == 0) {
			*out = (enum token_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

void token_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

/* ------------------------------------------------------------------ characters */

/* ASCII-only classes: the C library's isalpha() & co. follow the locale. */
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_hex(unsigned char c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }
static bool is_b64url(unsigned char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '_'; }
static bool is_ident(unsigned char c) { return is_alpha(c) || is_digit(c) || c == '_'; }
static bool is_blank(unsigned char c) { return c == ' ' || c == '\t'; }
static unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? c | 0x20 : c; }

/* Decodes one UTF-8 sequence at p (n bytes available) into *cp. Returns its length, or 0 for an
 * invalid, overlong, surrogate or truncated sequence (such bytes are never trimmed). */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (n == 0)
		return 0;
	c = p[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		len = 2, c &= 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3, c &= 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

enum space { NOT_SPACE, SPACE, ZERO_WIDTH };

/* Unicode White_Space characters (ASCII, NEL, NBSP, U+1680, U+2000-200A, U+2028/2029, U+202F,
 * U+205F, U+3000) and the invisible format characters copy-paste leaves around a token (soft
 * hyphen, U+180E, U+200B-200F, U+2060, U+FEFF). discord.py's str.strip() trims the first group
 * but not U+200B / U+FEFF (reference 1.2), so both matter. */
static enum space classify(uint32_t c)
{
	switch (c) {
	case ' ': case '\t': case '\n': case '\v': case '\f': case '\r':
	case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
	case 0x3000:
		return SPACE;
	case 0xAD: case 0x180E: case 0x2060: case 0xFEFF:
		return ZERO_WIDTH;
	default:
		break;
	}
	if (c >= 0x2000 && c <= 0x200A)
		return SPACE;
	if (c >= 0x200B && c <= 0x200F)
		return ZERO_WIDTH;
	return NOT_SPACE;
}

/* Length of the space or zero-width character at the start of p[0..n), 0 if there is none. */
static size_t space_front(const unsigned char *p, size_t n, enum space *kind)
{
	uint32_t cp;
	size_t k = utf8_decode(p, n, &cp);

	if (k == 0 || (*kind = classify(cp)) == NOT_SPACE)
		return 0;
	return k;
}

/* Length of the space or zero-width character that ends p[0..n), 0 if there is none. */
static size_t space_back(const unsigned char *p, size_t n, enum space *kind)
{
	for (size_t k = 1; k <= 4 && k <= n; k++) {
		uint32_t cp;

		if ((p[n - k] & 0xC0) == 0x80)
			continue; /* a continuation byte: the character starts further back */
		if (utf8_decode(p + n - k, k, &cp) != k || (*kind = classify(cp)) == NOT_SPACE)
			return 0;
		return k;
	}
	return 0;
}

static bool all_space(const unsigned char *p, size_t n)
{
	enum space kind;
	size_t k;

	while (n > 0 && (k = space_front(p, n, &kind)) > 0)
		p += k, n -= k;
	return n == 0;
}

/* ------------------------------------------------------------------ cleaning steps */

/* The input still to be cleaned: every step only narrows it, so no step copies the token. */
struct span {
	const unsigned char *p;
	size_t n;
};

static void drop_front(struct span *s, size_t k)
{
	s->p += k;
	s->n -= k;
}

/* A UTF-8 BOM (Notepad writes one); discord.py would send it along (reference 1.2). */
static unsigned clean_bom(struct span *s)
{
	if (s->n < 3 || memcmp(s->p, "\xEF\xBB\xBF", 3) != 0)
		return 0;
	drop_front(s, 3);
	return STEP(TOKEN_STEP_BOM);
}

/* The first line that holds more than spaces; lines end at LF, CR or CRLF. */
static unsigned clean_first_line(struct span *s)
{
	const unsigned char *p = s->p, *end = s->p + s->n;
	unsigned fired = 0;

	while (p < end) {
		const unsigned char *eol = p;

		while (eol < end && *eol != '\n' && *eol != '\r')
			eol++;
		if (!all_space(p, (size_t)(eol - p))) {
			if (p != s->p || eol != end)
				fired |= STEP(TOKEN_STEP_NEWLINE);
			if (!all_space(eol, (size_t)(end - eol))) /* the line ends count as spaces */
				fired |= STEP(TOKEN_STEP_EXTRA_LINES);
			s->p = p;
			s->n = (size_t)(eol - p);
			return fired;
		}
		if (eol == end)
			break;
		p = eol + 1;
	}
	/* Only spaces: with line ends, this step empties it; without, trimming will. */
	if (memchr(s->p, '\n', s->n) || memchr(s->p, '\r', s->n)) {
		s->n = 0;
		fired |= STEP(TOKEN_STEP_NEWLINE);
	}
	return fired;
}

/* Spaces and zero-width characters at both ends. */
static unsigned clean_trim(struct span *s)
{
	unsigned fired = 0;
	enum space kind;
	size_t k;

	while (s->n > 0 && (k = space_front(s->p, s->n, &kind)) > 0) {
		drop_front(s, k);
		fired |= STEP(kind == SPACE ? TOKEN_STEP_WHITESPACE : TOKEN_STEP_ZERO_WIDTH);
	}
	while (s->n > 0 && (k = space_back(s->p, s->n, &kind)) > 0) {
		s->n -= k;
		fired |= STEP(kind == SPACE ? TOKEN_STEP_WHITESPACE : TOKEN_STEP_ZERO_WIDTH);
	}
	return fired;
}

/* Length of `NAME=` (blanks allowed around '=') at the start of p[0..n), NAME a shell
 * identifier, or 0. A value that is empty or starts with '=' means this was no assignment but
 * base64 padding ("c2VjcmV0=", "YWI=="), which an opaque token may end with. */
static size_t assignment_len(const unsigned char *p, size_t n)
{
	size_t i = 0;

	if (n == 0 || !(is_alpha(p[0]) || p[0] == '_'))
		return 0;
	while (i < n && is_ident(p[i]))
		i++;
	while (i < n && is_blank(p[i]))
		i++;
	if (i >= n || p[i] != '=')
		return 0;
	i++;
	if (i == n || p[i] == '=')
		return 0;
	return i;
}

/* `export ` of a whole .env line, only when NAME= follows. */
static unsigned clean_export(struct span *s)
{
	size_t i = 6;

	if (s->n <= i || memcmp(s->p, "export", 6) != 0 || !is_blank(s->p[i]))
		return 0;
	while (i < s->n && is_blank(s->p[i]))
		i++;
	if (assignment_len(s->p + i, s->n - i) == 0)
		return 0;
	drop_front(s, i);
	return STEP(TOKEN_STEP_EXPORT);
}

/* A leading NAME= of a .env line (DISCORD_TOKEN=...). Tokens have no '=' in them. */
static unsigned clean_assignment(struct span *s)
{
	size_t k = assignment_len(s->p, s->n);

	if (k == 0)
		return 0;
	drop_front(s, k);
	return STEP(TOKEN_STEP_ASSIGNMENT);
}

/* One pair of matching quotes: docker --env-file keeps them (reference 1.3). Typographic pairs
 * come from chat and word processors that "smarten" quotes. */
static unsigned clean_quotes(struct span *s)
{
	static const struct { const char *open, *close; } pairs[] = {
		{ "\"", "\"" },
		{ "'", "'" },
		{ "\xE2\x80\x9C", "\xE2\x80\x9D" }, /* U+201C U+201D */
		{ "\xE2\x80\x98", "\xE2\x80\x99" }, /* U+2018 U+2019 */
	};

	for (size_t i = 0; i < ARRAY_LEN(pairs); i++) {
		size_t lo = strlen(pairs[i].open), lc = strlen(pairs[i].close);

		if (s->n >= lo + lc && memcmp(s->p, pairs[i].open, lo) == 0 &&
		    memcmp(s->p + s->n - lc, pairs[i].close, lc) == 0) {
			drop_front(s, lo);
			s->n -= lc;
			return STEP(TOKEN_STEP_QUOTES);
		}
	}
	return 0;
}

/* A leading `Bot ` / `Bearer ` (any case, then spaces): discord.js strips it, discord.py sends
 * "Bot Bot ..." and gets 401 (reference 1.2). Needs something after the spaces. */
static unsigned clean_prefix(struct span *s)
{
	static const char *const prefixes[] = { "bot", "bearer" };

	for (size_t i = 0; i < ARRAY_LEN(prefixes); i++) {
		size_t pl = strlen(prefixes[i]), at = pl, k;
		enum space kind;
		bool spaced = false;

		if (s->n <= pl)
			continue;
		for (k = 0; k < pl && lower(s->p[k]) == (unsigned char)prefixes[i][k]; k++)
			;
		if (k < pl)
			continue;
		while (at < s->n && (k = space_front(s->p + at, s->n - at, &kind)) > 0) {
			spaced |= kind == SPACE;
			at += k;
		}
		if (!spaced || at == s->n)
			continue;
		drop_front(s, at);
		return STEP(TOKEN_STEP_PREFIX);
	}
	return 0;
}

/* The reference's order (1.3): strip BOM, first non-empty line, trim, export and NAME=, one
 * pair of quotes, trim, Bot / Bearer, trim. */
static unsigned (*const clean_order[])(struct span *) = {
	clean_bom, clean_first_line, clean_trim, clean_export, clean_assignment, clean_trim,
	clean_quotes, clean_trim, clean_prefix, clean_trim,
};

int token_clean(const char *in, size_t len, char *out, size_t outcap, size_t *outlen,
		unsigned *steps)
{
	struct span s = { (const unsigned char *)(in ? in : ""), in ? len : 0 };
	unsigned fired = 0;

	if ((!in && len) || !out || outcap == 0)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_LEN(clean_order); i++)
		fired |= clean_order[i](&s);
	if (steps)
		*steps = fired;
	if (outlen)
		*outlen = s.n;
	if (s.n >= outcap) {
		out[0] = '\0';
		return -ENOSPC;
	}
	memmove(out, s.p, s.n); /* out may be in: cleaning in place */
	out[s.n] = '\0';
	return 0;
}

/* Appends s to buf[0..cap) at *pos with truncation; *pos counts what was needed. */
static void append(char *buf, size_t cap, size_t *pos, const char *s)
{
	size_t n = strlen(s);

	if (cap > 0 && *pos < cap - 1) {
		size_t k = n < cap - 1 - *pos ? n : cap - 1 - *pos;

		memcpy(buf + *pos, s, k);
		buf[*pos + k] = '\0';
	}
	*pos += n;
}

size_t token_steps_str(unsigned steps, char *buf, size_t cap)
{
	size_t pos = 0;

	if (buf && cap > 0)
		buf[0] = '\0';
	else
		cap = 0;
	for (unsigned i = 0; i < TOKEN_STEP_COUNT; i++) {
		if (!(steps & STEP(i)))
			continue;
		if (pos > 0)
			append(buf, cap, &pos, ", ");
		append(buf, cap, &pos, step_names[i]);
	}
	return pos;
}

/* ------------------------------------------------------------------ segment A */

enum id_status { ID_OK, ID_BASE64, ID_NOT_DIGITS, ID_NDIGITS, ID_LEADING_ZERO, ID_OVERFLOW };

static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* Decodes segment A, unpadded base64url of the bot ID in ASCII decimal (reference 1.1), into
 * *id; *ndigits gets the number of decoded bytes. Streams: nothing of A is copied. */
static enum id_status decode_id(const unsigned char *a, size_t n, uint64_t *id, size_t *ndigits)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	bool overflow = false, digits = true, zero = false;
	uint64_t v = 0;
	size_t nd = 0;

	*ndigits = 0;
	if (n == 0 || n % 4 == 1)
		return ID_BASE64; /* 6 bits left over cannot make a byte */
	for (size_t i = 0; i < n; i++) {
		int x = b64url_value(a[i]);
		unsigned char byte;

		if (x < 0)
			return ID_BASE64;
		acc = ((acc << 6) | (uint32_t)x) & 0xFFFFu;
		bits += 6;
		if (bits < 8)
			continue;
		bits -= 8;
		byte = (unsigned char)(acc >> bits);
		if (!is_digit(byte)) {
			digits = false;
			break;
		}
		if (v > (UINT64_MAX - (uint64_t)(byte - '0')) / 10)
			overflow = true;
		else
			v = v * 10 + (uint64_t)(byte - '0');
		if (nd++ == 0 && byte == '0')
			zero = true;
	}
	*ndigits = nd;
	if (!digits)
		return ID_NOT_DIGITS;
	/* A snowflake is (ms since 2015-01-01) << 22: 10^16 >> 22 ms is 27.6 days, so every ID
	 * from February 2015 on has 17 digits or more (bots: 18 since 2016, 19 since mid-2022);
	 * 64 bits hold 20 digits at most. */
	if (nd < 17 || nd > 20)
		return ID_NDIGITS;
	if (zero)
		return ID_LEADING_ZERO;
	if (overflow)
		return ID_OVERFLOW;
	*id = v;
	return ID_OK;
}

bool token_bot_id(const char *tok, size_t len, uint64_t *id)
{
	const char *dot = tok ? memchr(tok, '.', len) : NULL;
	uint64_t v;
	size_t nd;

	if (!dot || decode_id((const unsigned char *)tok, (size_t)(dot - tok), &v, &nd) != ID_OK)
		return false;
	if (id)
		*id = v;
	return true;
}

/* ------------------------------------------------------------------ validation */

#define DISCORD_EPOCH_MS 1420070400000ull /* 2015-01-01T00:00:00Z, snowflake time zero */
#define BOT_PAGE "use the bot token from the Bot page of the Developer Portal"

static void report_init(struct token_report *r, size_t len)
{
	memset(r, 0, sizeof *r);
	r->len = len;
}

__attribute__((format(printf, 3, 4)))
static enum token_verdict reject(struct token_report *r, enum token_rule rule, const char *fmt, ...)
{
	va_list ap;

	r->verdict = TOKEN_REJECT;
	r->rule = rule;
	r->warnings = 0;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof r->message, fmt, ap);
	va_end(ap);
	return TOKEN_REJECT;
}

/* Adds a warning; the first one names the rule, the message lists them all. */
__attribute__((format(printf, 3, 4)))
static void warn(struct token_report *r, enum token_rule rule, const char *fmt, ...)
{
	size_t pos = strlen(r->message);
	va_list ap;

	if (r->verdict == TOKEN_OK) {
		r->verdict = TOKEN_WARN;
		r->rule = rule;
	}
	r->warnings |= 1u << rule;
	if (pos > 0)
		append(r->message, sizeof r->message, &pos, "; ");
	if (pos >= sizeof r->message - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(r->message + pos, sizeof r->message - pos, fmt, ap);
	va_end(ap);
}

static bool contains_ci(const unsigned char *p, size_t n, const char *needle)
{
	size_t m = strlen(needle);

	for (size_t i = 0; i + m <= n; i++) {
		size_t k = 0;

		while (k < m && lower(p[i + k]) == (unsigned char)needle[k])
			k++;
		if (k == m)
			return true;
	}
	return false;
}

static bool all_of(const unsigned char *p, size_t n, bool (*pred)(unsigned char))
{
	for (size_t i = 0; i < n; i++)
		if (!pred(p[i]))
			return false;
	return true;
}

/* Other credentials (reference 1.5). None of these shapes can be a valid bot token: URLs need
 * '/' or ':', `mfa.` is lower case (segment A starts with M, N or O), and the rest have no dots. */
static enum token_kind other_kind(const unsigned char *p, size_t n)
{
	if (contains_ci(p, n, "/webhooks/"))
		return TOKEN_KIND_WEBHOOK_URL;
	if (contains_ci(p, n, "oauth2/authorize"))
		return TOKEN_KIND_INVITE_URL;
	if (contains_ci(p, n, "://") || contains_ci(p, n, "discord.com/") ||
	    contains_ci(p, n, "discordapp.com/"))
		return TOKEN_KIND_URL;
	if (n > 4 && memcmp(p, "mfa.", 4) == 0)
		return TOKEN_KIND_USER_MFA;
	if (n == 64 && all_of(p, n, is_hex))
		return TOKEN_KIND_PUBLIC_KEY;
	if (n >= 15 && n <= 20 && all_of(p, n, is_digit))
		return TOKEN_KIND_APPLICATION_ID;
	if (n == 32 && all_of(p, n, is_b64url))
		return TOKEN_KIND_CLIENT_SECRET;
	if (n == 30 && all_of(p, n, is_b64url))
		return TOKEN_KIND_OAUTH_TOKEN;
	return TOKEN_KIND_NONE;
}

#define ALPHABET_HINT "a bot token has only A-Z a-z 0-9 - _ and dots"

/* The first byte outside [A-Za-z0-9_.-] rejects. The message may name that one character (it
 * is not part of any token) and its offset, nothing else. */
static bool reject_chars(const unsigned char *p, size_t n, struct token_report *r)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		uint32_t cp = 0;

		if (is_b64url(c) || c == '.')
			continue;
		if (c == ' ' || (c >= '\t' && c <= '\r'))
			reject(r, TOKEN_RULE_WHITESPACE,
			       "token contains whitespace at offset %zu; a bot token has none", i);
		else if (c < 0x20 || c == 0x7F)
			reject(r, TOKEN_RULE_CONTROL,
			       "token contains a control character (0x%02x) at offset %zu", c, i);
		else if (c >= 0x80 && utf8_decode(p + i, n - i, &cp) == 0)
			reject(r, TOKEN_RULE_CHARSET,
			       "token contains bytes that are not UTF-8 text at offset %zu", i);
		else if (c >= 0x80 && classify(cp) == SPACE)
			reject(r, TOKEN_RULE_WHITESPACE, "token contains a Unicode space (U+%04" PRIX32
			       ") at offset %zu; a bot token has none", cp, i);
		else if (c >= 0x80 && classify(cp) == ZERO_WIDTH)
			reject(r, TOKEN_RULE_CHARSET, "token contains an invisible character (U+%04" PRIX32
			       ") at offset %zu", cp, i);
		else if (c >= 0x80)
			reject(r, TOKEN_RULE_CHARSET, "token contains a non-ASCII character (U+%04" PRIX32
			       ") at offset %zu; " ALPHABET_HINT, cp, i);
		else if (i == 0 && c == '#')
			reject(r, TOKEN_RULE_CHARSET,
			       "token starts with '#': a comment line? nines uses the first non-empty line");
		else
			reject(r, TOKEN_RULE_CHARSET, "token contains '%c' at offset %zu; " ALPHABET_HINT, c, i);
		return true;
	}
	return false;
}

static enum token_verdict reject_segment_a(struct token_report *r, enum id_status st, size_t la,
					   size_t nd)
{
	const enum token_rule rule = TOKEN_RULE_SEGMENT_A;

	switch (st) {
	case ID_BASE64:
		return reject(r, rule, "segment A (%zu characters) is not unpadded base64, so it does not "
			      "decode to a numeric ID", la);
	case ID_NDIGITS:
		return reject(r, rule, "segment A decodes to a %zu-digit number; Discord IDs have 17 to 20 "
			      "digits", nd);
	case ID_LEADING_ZERO:
		return reject(r, rule, "segment A decodes to a number with a leading zero, not an ID");
	case ID_OVERFLOW:
		return reject(r, rule, "segment A decodes to a number beyond 64 bits, not an ID");
	case ID_NOT_DIGITS:
	case ID_OK:
	default:
		break;
	}
	return reject(r, rule, "segment A does not decode to a numeric ID");
}

static enum token_verdict validate_discord(const unsigned char *p, size_t n, struct token_report *r)
{
	enum token_kind kind = other_kind(p, n);
	const unsigned char *d1, *d2;
	size_t dots = 0, la, lb, lc, nd;
	enum id_status st;
	uint64_t id = 0;

	if (kind != TOKEN_KIND_NONE) {
		r->kind = kind;
		return reject(r, TOKEN_RULE_OTHER_CREDENTIAL, "token %s: %s", kind_msgs[kind], BOT_PAGE);
	}
	if (reject_chars(p, n, r))
		return TOKEN_REJECT;
	for (size_t i = 0; i < n; i++)
		dots += p[i] == '.';
	if (dots == 0)
		return reject(r, TOKEN_RULE_DOTS,
			      "token has no dots; a bot token has three parts separated by dots (A.B.C)");
	if (dots != 2)
		return reject(r, TOKEN_RULE_DOTS, "token has %zu dot%s; a bot token has exactly 2 (A.B.C)%s", dots,
			      dots == 1 ? "" : "s", dots == 1 ? ": was only part of it copied?" : "");
	d1 = memchr(p, '.', n);
	d2 = memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - p));
	la = (size_t)(d1 - p);
	lb = (size_t)(d2 - d1 - 1);
	lc = n - (size_t)(d2 + 1 - p);
	if (la == 0 || lb == 0 || lc == 0)
		return reject(r, TOKEN_RULE_EMPTY_SEGMENT,
			      "segment %c is empty; a bot token has three non-empty parts (A.B.C)",
			      la == 0 ? 'A' : lb == 0 ? 'B' : 'C');
	st = decode_id(p, la, &id, &nd);
	if (st != ID_OK)
		return reject_segment_a(r, st, la, nd);
	r->seg_len[0] = la, r->seg_len[1] = lb, r->seg_len[2] = lc;
	r->has_id = true;
	r->bot_id = id;
	r->id_created_ms = (id >> 22) + DISCORD_EPOCH_MS;
	/* Risky rules (reference 1.4): true of every token seen, undocumented; warn only. */
	if (lb != 6)
		warn(r, TOKEN_RULE_SEGMENT_B_LENGTH, "segment B is %zu characters (6 in every token seen)", lb);
	if (lc != 27 && lc != 38)
		warn(r, TOKEN_RULE_SEGMENT_C_LENGTH, "segment C is %zu characters (27 or 38 in every token seen)", lc);
	if (n < 59 || n > 72)
		warn(r, TOKEN_RULE_LENGTH, "token is %zu characters (59 to 72 in every token seen)", n);
	return r->verdict;
}

/* We do not know the format: reject only what cannot work, warn about the odd. */
static enum token_verdict validate_opaque(const unsigned char *p, size_t n, struct token_report *r)
{
	size_t ctl = SIZE_MAX, ws = SIZE_MAX, na = SIZE_MAX;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		uint32_t cp = 0;
		size_t k;

		if (c == ' ' || (c >= '\t' && c <= '\r')) {
			ws = ws < i ? ws : i;
		} else if (c < 0x20 || c == 0x7F) {
			ctl = ctl < i ? ctl : i;
		} else if (c >= 0x80) {
			k = utf8_decode(p + i, n - i, &cp);
			if (k > 0 && classify(cp) == SPACE)
				ws = ws < i ? ws : i;
			else
				na = na < i ? na : i;
			if (k > 1)
				i += k - 1;
		}
	}
	if (ctl != SIZE_MAX)
		warn(r, TOKEN_RULE_CONTROL, "token contains a control character at offset %zu", ctl);
	if (ws != SIZE_MAX)
		warn(r, TOKEN_RULE_WHITESPACE, "token contains whitespace at offset %zu", ws);
	if (na != SIZE_MAX)
		warn(r, TOKEN_RULE_CHARSET, "token contains non-ASCII characters (first at offset %zu)", na);
	return r->verdict;
}

enum token_verdict token_validate(const char *tok, size_t len, enum token_format fmt,
				  struct token_report *rep)
{
	struct token_report local = { .verdict = TOKEN_OK }, *r = rep ? rep : &local;
	const unsigned char *p = (const unsigned char *)tok;

	report_init(r, tok ? len : 0);
	if (!tok || len == 0)
		return reject(r, TOKEN_RULE_EMPTY, "token is empty after cleaning");
	if (len > TOKEN_MAX)
		return reject(r, TOKEN_RULE_TOO_LONG, "token is %zu bytes; nines accepts at most %d", len, TOKEN_MAX);
	/* No NUL can reach a service through the environment (execve(2) strings). */
	if (memchr(p, '\0', len))
		return reject(r, TOKEN_RULE_BINARY, "token contains NUL bytes: binary data, or text "
			      "saved as UTF-16 (Windows \"Unicode\"); save it as plain text");
	if (fmt == TOKEN_FORMAT_OPAQUE)
		return validate_opaque(p, len, r);
	return validate_discord(p, len, r);
}

/* ------------------------------------------------------------------ SHA-256 and fingerprint */

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror32(uint32_t x, unsigned n)
{
	return x >> n | x << (32 - n);
}

/* One 64-byte block into the state h (FIPS 180-4 section 6.2.2). */
static void sha256_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64], v[8];

	for (unsigned i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (unsigned i = 16; i < 64; i++) {
		uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	memcpy(v, h, sizeof v);
	for (unsigned i = 0; i < 64; i++) {
		uint32_t s1 = ror32(v[4], 6) ^ ror32(v[4], 11) ^ ror32(v[4], 25);
		uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
		uint32_t t1 = v[7] + s1 + ch + sha256_k[i] + w[i];
		uint32_t s0 = ror32(v[0], 2) ^ ror32(v[0], 13) ^ ror32(v[0], 22);
		uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);

		memmove(v + 1, v, 7 * sizeof v[0]);
		v[4] += t1;
		v[0] = t1 + s0 + maj;
	}
	for (unsigned i = 0; i < 8; i++)
		h[i] += v[i];
	token_wipe(w, sizeof w); /* derived from the token */
	token_wipe(v, sizeof v);
}

void token_sha256(const void *data, size_t len, uint8_t out[32])
{
	uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	const unsigned char *p = data;
	unsigned char tail[128];
	uint64_t bits = (uint64_t)len * 8;
	size_t full = len / 64, rem = len % 64, tl = rem < 56 ? 64 : 128;

	for (size_t i = 0; i < full; i++)
		sha256_block(h, p + 64 * i);
	memset(tail, 0, sizeof tail);
	if (rem > 0)
		memcpy(tail, p + 64 * full, rem);
	tail[rem] = 0x80;
	for (unsigned i = 0; i < 8; i++)
		tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
	sha256_block(h, tail);
	if (tl == 128)
		sha256_block(h, tail + 64);
	for (unsigned i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
	token_wipe(tail, sizeof tail);
	token_wipe(h, sizeof h);
}

void token_fingerprint(const char *tok, size_t len, char *out, size_t cap)
{
	uint8_t h[32];
	uint64_t id;

	if (!out || cap == 0)
		return;
	if (!tok || len == 0) {
		out[0] = '\0';
		return;
	}
	token_sha256(tok, len, h);
	if (token_bot_id(tok, len, &id))
		snprintf(out, cap, "%" PRIu64 ":%02x%02x%02x", id, h[0], h[1], h[2]);
	else
		snprintf(out, cap, "%02x%02x%02x", h[0], h[1], h[2]);
	token_wipe(h, sizeof h);
}

/* ------------------------------------------------------------------ ninesctl token check */

__attribute__((format(printf, 4, 5)))
static void appendf(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*pos >= cap)
		return;
	va_start(ap, fmt);
	k = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
	va_end(ap);
	if (k > 0)
		*pos += (size_t)k;
}

static void format_check(const struct token_report *r, enum token_format fmt, unsigned steps,
			 const char *fp, char *out, size_t cap)
{
	char names[160], day[16] = "?";
	size_t pos = 0;

	out[0] = '\0';
	token_steps_str(steps, names, sizeof names);
	appendf(out, cap, &pos, "verdict: %s\n", token_verdict_name(r->verdict));
	if (r->verdict != TOKEN_OK)
		appendf(out, cap, &pos, "rule: %s\n", token_rule_name(r->rule));
	if (r->kind != TOKEN_KIND_NONE)
		appendf(out, cap, &pos, "looks like: %s\n", token_kind_name(r->kind));
	if (r->message[0])
		appendf(out, cap, &pos, "message: %s\n", r->message);
	appendf(out, cap, &pos, "cleaning: %s\n", names[0] ? names : "none");
	if (fp[0])
		appendf(out, cap, &pos, "fingerprint: %s\n", fp);
	if (r->has_id) {
		time_t secs = (time_t)(r->id_created_ms / 1000);
		struct tm tm;

		if (gmtime_r(&secs, &tm))
			strftime(day, sizeof day, "%Y-%m-%d", &tm);
		appendf(out, cap, &pos, "bot id: %" PRIu64 " (created %s)\n", r->bot_id, day);
	}
	if (r->seg_len[0])
		appendf(out, cap, &pos, "shape: %zu.%zu.%zu, %zu characters\n", r->seg_len[0],
			r->seg_len[1], r->seg_len[2], r->len);
	else
		appendf(out, cap, &pos, "length: %zu bytes\n", r->len);
	appendf(out, cap, &pos, "format: %s\n", token_format_name(fmt));
}

int token_check(const char *in, size_t len, enum token_format fmt, char *out, size_t cap,
		struct token_report *rep)
{
	struct token_report local = { .verdict = TOKEN_OK }, *r = rep ? rep : &local;
	size_t bufsz = (len < TOKEN_MAX ? len : TOKEN_MAX) + 1, tlen = 0;
	char fp[TOKEN_FINGERPRINT_SIZE] = "";
	unsigned steps = 0;
	char *tok;
	int rc;

	if (!out || cap == 0 || (!in && len))
		return -EINVAL;
	tok = malloc(bufsz);
	if (!tok)
		return -ENOMEM;
	rc = token_clean(in, len, tok, bufsz, &tlen, &steps);
	if (rc == 0) {
		token_validate(tok, tlen, fmt, r);
		token_fingerprint(tok, tlen, fp, sizeof fp);
	} else { /* -ENOSPC: longer than TOKEN_MAX */
		report_init(r, tlen);
		reject(r, TOKEN_RULE_TOO_LONG, "token is %zu bytes; nines accepts at most %d", tlen, TOKEN_MAX);
	}
	token_wipe(tok, bufsz);
	free(tok);
	format_check(r, fmt, steps, fp, out, cap);
	return (int)r->verdict;
}
