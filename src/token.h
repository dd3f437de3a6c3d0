/* token: the [auth] token as text. Owns cleaning (undoing copy-paste mistakes), offline
 * validation (`format = discord | opaque`), recognising other Discord credentials pasted by
 * mistake, and the fingerprint that status, logs, alerts and JSON show instead of the token.
 * Pure: no I/O, no clock, no allocation except in token_check(), no global state.
 * Nothing here ever writes the token, or any part of it, into a message, a report or a
 * fingerprint; callers wipe buffers that held a token with token_wipe().
 *
 * Cleaning (reference/discord.md 1.3), each step a pure function narrowing the input, in this
 * order, each step that changed something reported as a bit of `steps`:
 *   bom -> first non-empty line (newline, extra-lines) -> trim (whitespace, zero-width) ->
 *   export -> assignment (NAME=) -> trim -> quotes -> trim -> prefix (Bot / Bearer) -> trim.
 *
 * Validation, format = discord (reference 1.4). Safe rules, which a valid token can never fail,
 * REJECT: empty, too-long (> TOKEN_MAX bytes), binary (NUL bytes), other-credential (table 1.5:
 * webhook / invite / other URL, `mfa.` user token, 64-hex public key, digits-only ID, 32-char
 * client secret, 30-char OAuth2 access token), control, whitespace, charset (only A-Z a-z 0-9 - _
 * and '.'), dots (exactly two), empty-segment, segment-a (unpadded base64 of 17-20 ASCII digits,
 * no leading zero, fits in 64 bits). Risky rules, true of every token seen but not documented,
 * only WARN: segment-b-length (!= 6), segment-c-length (not 27 or 38), length (total outside
 * 59-72). So the 59-, 70- and 72-character shapes are never rejected (case K5). Segment B is
 * never read as a timestamp (it is not one on 2022+ tokens). "A starts with M, N or O" needs no
 * rule: every segment A that passes segment-a starts with one of them.
 * format = opaque: only empty, too-long and binary reject; control, whitespace and non-ASCII
 * (charset) warn; no other-credential detection. */
#ifndef NINES_TOKEN_H
#define NINES_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest cleaned token accepted, in bytes (Discord bot tokens are 59-72; opaque tokens such as
 * JWTs stay well below). Clean into a buffer of TOKEN_MAX + 1 bytes. */
#define TOKEN_MAX 8192
/* Read at most this many bytes of a token file: only its first non-empty line is used. */
#define TOKEN_FILE_MAX 65536
/* Buffer size for token_fingerprint(): 20-digit ID, ':', 6 hex digits, NUL. */
#define TOKEN_FINGERPRINT_SIZE 28
/* Size of token_report.message. */
#define TOKEN_MSG_MAX 256

/* Cleaning steps; token_clean() reports the ones that fired as bits (1u << step). */
enum token_step {
	TOKEN_STEP_BOM,         /* "bom": UTF-8 byte order mark at the start (Notepad) */
	TOKEN_STEP_NEWLINE,     /* "newline": line endings (LF, CRLF, CR) and blank lines removed */
	TOKEN_STEP_EXTRA_LINES, /* "extra-lines": non-empty lines after the first one ignored */
	TOKEN_STEP_WHITESPACE,  /* "whitespace": ASCII or Unicode spaces (NBSP, U+2000-200A...) trimmed */
	TOKEN_STEP_ZERO_WIDTH,  /* "zero-width": U+200B-200F, U+2060, U+FEFF, soft hyphen trimmed */
	TOKEN_STEP_EXPORT,      /* "export": `export ` before NAME= removed */
	TOKEN_STEP_ASSIGNMENT,  /* "assignment": a leading `NAME=` (NAME an identifier) removed */
	TOKEN_STEP_QUOTES,      /* "quotes": one pair of matching '', "", or typographic quotes */
	TOKEN_STEP_PREFIX,      /* "prefix": a leading `Bot ` / `Bearer ` (any case) removed */
	TOKEN_STEP_COUNT
};

enum token_format {
	TOKEN_FORMAT_DISCORD, /* same order as enum config_token_format */
	TOKEN_FORMAT_OPAQUE,
	TOKEN_FORMAT_COUNT
};

enum token_verdict {
	TOKEN_OK,
	TOKEN_WARN,   /* usable; a risky rule found something unusual */
	TOKEN_REJECT, /* do not start the service with it */
	TOKEN_VERDICT_COUNT
};

/* Validation rules, safe (rejecting) first, then risky (warning); see the comment at the top. */
enum token_rule {
	TOKEN_RULE_NONE,
	TOKEN_RULE_EMPTY,
	TOKEN_RULE_TOO_LONG,
	TOKEN_RULE_BINARY,
	TOKEN_RULE_OTHER_CREDENTIAL,
	TOKEN_RULE_CONTROL,
	TOKEN_RULE_WHITESPACE,
	TOKEN_RULE_CHARSET,
	TOKEN_RULE_DOTS,
	TOKEN_RULE_EMPTY_SEGMENT,
	TOKEN_RULE_SEGMENT_A,
	TOKEN_RULE_SEGMENT_B_LENGTH,
	TOKEN_RULE_SEGMENT_C_LENGTH,
	TOKEN_RULE_LENGTH,
	TOKEN_RULE_COUNT
};

/* Other credentials pasted instead of a bot token (reference 1.5). */
enum token_kind {
	TOKEN_KIND_NONE,
	TOKEN_KIND_CLIENT_SECRET,  /* OAuth2 client secret: 32 characters, no dots */
	TOKEN_KIND_OAUTH_TOKEN,    /* OAuth2 access token: 30 characters, no dots */
	TOKEN_KIND_PUBLIC_KEY,     /* interactions public key: 64 hex digits */
	TOKEN_KIND_APPLICATION_ID, /* application (client) ID or user ID: 15-20 digits */
	TOKEN_KIND_WEBHOOK_URL,    /* https://discord.com/api/webhooks/ID/TOKEN */
	TOKEN_KIND_INVITE_URL,     /* https://discord.com/oauth2/authorize?client_id=... */
	TOKEN_KIND_URL,            /* any other URL */
	TOKEN_KIND_USER_MFA,       /* legacy user account token `mfa.`... */
	TOKEN_KIND_COUNT
};

struct token_report {
	enum token_verdict verdict;
	enum token_rule rule;       /* the rule that rejected, or the first that warned; NONE if OK */
	enum token_kind kind;       /* with TOKEN_RULE_OTHER_CREDENTIAL, else TOKEN_KIND_NONE */
	unsigned warnings;          /* every rule that warned, as bits (1u << rule) */
	char message[TOKEN_MSG_MAX]; /* for people: why (all warnings, "; "-joined); "" when OK.
				      * Names lengths, counts, offsets, at most one character that
				      * is outside the token alphabet; never the token. */
	size_t len;                 /* token length in bytes */
	size_t seg_len[3];          /* lengths of A, B, C (discord, not rejected); else 0 */
	bool has_id;                /* segment A decoded to bot_id */
	uint64_t bot_id;            /* the bot's user ID (a snowflake), public information */
	uint64_t id_created_ms;     /* Unix ms the ID was created: (id >> 22) + 1420070400000 */
};

/* Names: "bom", "ok", "segment-a", "client-secret", "discord"...; "?" when out of range.
 * Static storage. token_step_desc() says what a step did, for people. */
const char *token_step_name(enum token_step s);
const char *token_step_desc(enum token_step s);
const char *token_format_name(enum token_format f);
const char *token_verdict_name(enum token_verdict v);
const char *token_rule_name(enum token_rule r);
const char *token_kind_name(enum token_kind k);

/* Parses "discord" / "opaque". Returns 0, or -EINVAL. */
int token_format_parse(const char *s, enum token_format *out);

/* Cleans in[0..len) (any bytes, NULs included) into out as a NUL-terminated string; *outlen
 * (may be NULL) gets its length and *steps (may be NULL) the bits of the steps that fired.
 * Returns 0; -EINVAL for NULL in (with len > 0) or out, or outcap 0; -ENOSPC when the cleaned
 * token needs more than outcap - 1 bytes: out is then "" and *outlen the length needed. The
 * output is never longer than the input. */
int token_clean(const char *in, size_t len, char *out, size_t outcap, size_t *outlen,
		unsigned *steps);

/* Writes the names of the steps in `steps` as "newline, quotes" into buf (truncated to cap,
 * always NUL-terminated when cap > 0); "" when none fired. Returns the length it needed. */
size_t token_steps_str(unsigned steps, char *buf, size_t cap);

/* Validates a cleaned token offline. Fills *rep (may be NULL) and returns its verdict. */
enum token_verdict token_validate(const char *tok, size_t len, enum token_format fmt,
				  struct token_report *rep);

/* Decodes segment A (text before the first '.') to the bot's user ID. Returns false when there
 * is no dot or A is not unpadded base64 of 17-20 digits without a leading zero fitting in 64 bits. */
bool token_bot_id(const char *tok, size_t len, uint64_t *id);

/* Fingerprint shown instead of the token: "ID:hhhhhh", the bot ID from segment A and the first
 * 6 hex digits of SHA-256(token), or "hhhhhh" alone when A does not decode. Operators can match
 * it with `printf %s "$TOKEN" | sha256sum | cut -c1-6`. 24 bits of a hash of a token with 160+
 * secret bits give nothing to recover (but do not protect a guessable opaque password against
 * a dictionary). "" for an empty token. Truncated to cap (snprintf rules). */
void token_fingerprint(const char *tok, size_t len, char *out, size_t cap);

/* SHA-256 (FIPS 180-4) of data[0..len) into out; used by the fingerprint. Wipes its state. */
void token_sha256(const void *data, size_t len, uint8_t out[32]);

/* Zeroes n bytes at p in a way the compiler cannot drop (explicit_bzero(3)). NULL-safe. */
void token_wipe(void *p, size_t n);

/* `ninesctl token check`: cleans in[0..len), validates, and writes a few "key: value" lines
 * (verdict, rule, message, cleaning steps, fingerprint, bot ID and creation date, shape) into
 * out (truncated to cap). Never the token. Fills *rep when not NULL. Returns the verdict, or
 * -EINVAL (NULL out or cap 0) or -ENOMEM; the cleaned copy it allocates is wiped and freed. */
int token_check(const char *in, size_t len, enum token_format fmt, char *out, size_t cap,
		struct token_report *rep);

#endif
