/* redact: masks secrets in one line of captured output before it is stored or shown. Owns a
 * copy of the service's own token (wiped on free). Pure otherwise: no I/O, no global state.
 *
 * What is masked (each secret is replaced by REDACT_MASK):
 * (a) the service's own token, byte for byte, wherever it appears (tokens shorter than
 *     REDACT_MIN_TOKEN bytes are not looked for: they would mask ordinary text);
 * (b) anything shaped like a Discord bot token (reference/discord.md 1.1): A.B.C where
 *     A is 20-27 characters of [A-Za-z0-9] that base64-decode to 15-20 ASCII digits (the bot's
 *     user ID), B is 4-16 and C at least 20 characters of [A-Za-z0-9_-].
 *     The decode check is what keeps version strings, hostnames, IPs and file names unmasked;
 *     JWTs and other non-Discord dotted tokens (first segment decodes to '{"...', not digits)
 *     are left alone too, unless (c) catches them. A may be glued to preceding letters
 *     ("BotMTIz..."): the longest suffix of the run that decodes is taken. Also old user tokens
 *     "mfa." + 20 or more [A-Za-z0-9_-];
 * (c) credentials in header-like contexts: after `authorization` (any case) then optional
 *     quotes, `:` or `=`, optional quote and scheme words (Bot, Bearer, Basic, ...), the value
 *     (a run of [A-Za-z0-9._~+/=%-]); and after a bare `Bot ` / `Bearer ` (exact case, at a word
 *     start) a value of 16 or more of those characters containing a letter and a digit.
 * The scheme, the quotes and the header name stay visible: `Authorization: Bot [REDACTED]`.
 * A secret shorter than the mask is replaced by as many '*', so the output is never longer
 * than the input (which is what makes in-place use possible).
 *
 * Cost per line: one Horspool pass for the service token (shifts built once per token) and one
 * pass reading 8 bytes at a time that stops only at words holding '.', 'z'/'Z' or 'B', where
 * the rules above can start; then one copy. */
#ifndef NINES_REDACT_H
#define NINES_REDACT_H

#include <stddef.h>
#include <stdint.h>

#define REDACT_MASK "[REDACTED]"
enum { REDACT_MASK_LEN = sizeof REDACT_MASK - 1, REDACT_MIN_TOKEN = 4 };

struct redactor {
    char *token;         /* NULL: no literal token */
    size_t token_len;
    uint8_t skip[256];   /* Horspool shifts for token (capped at 255) */
};

/* Sets up r with a copy of token (NULL or "" for none). Returns 0 or -ENOMEM (r is then
 * usable, without a token). */
int redactor_init(struct redactor *r, const char *token);

/* Replaces the literal token (NULL or "" removes it); the old copy is wiped. Returns 0 or
 * -ENOMEM (the old token is then gone as well, never half-kept). */
int redactor_set_token(struct redactor *r, const char *token);

/* Wipes and frees the token copy; r can be initialised again. */
void redactor_free(struct redactor *r);

/* Writes in[0..len) to out with every secret masked and returns the output length in bytes,
 * which is never more than len (so outcap >= len always suffices; less truncates). r may be
 * NULL (no literal token). out may be in itself (in place) but must not otherwise overlap it.
 * Not NUL-terminated. If a line holds more than 16 secrets and the span list cannot grow
 * (ENOMEM), the whole line is replaced by the mask. */
size_t redact_line(const struct redactor *r, const char *in, size_t len, char *out, size_t outcap);

#endif
