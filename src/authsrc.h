/* authsrc: where a service's token comes from, read at every start. Owns the cleaned token in
 * memory (wiped when replaced or freed), its fingerprint and hash, and what the last read found.
 * The token file wins over an inherited environment (discord.py#7336); without a file, the
 * variable token_env of nines' own environment is the source. Nothing here prints the token. */
#ifndef NINES_AUTHSRC_H
#define NINES_AUTHSRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "token.h"

struct authsrc {
    char *token;         /* cleaned, NUL-terminated; NULL when none was read */
    size_t len;
    uint8_t hash[32];    /* SHA-256 of the cleaned token: "did it change?" without keeping copies */
    bool has_hash;
    uint8_t seen[32];    /* SHA-256 of what the source held at the last read, usable or not */
    bool has_seen;
    char fingerprint[TOKEN_FINGERPRINT_SIZE]; /* bot ID + short hash: the only thing ever shown */
    char steps[128];     /* cleaning steps that fired, by name */
    struct token_report report;
    char problem[300];   /* why the last read gave no usable token ("" when it did) */
};

/* Reads and cleans the token for a service with [auth] a (no-op returning 0 when a has no
 * source: no token_file and token_env not set in nines' environment). On success the new token
 * replaces the old one. Returns 0; -EACCES/-ENOENT... when the file cannot be read; -EINVAL when
 * validation rejected it (src->problem names the rule); -ENOMEM. */
int authsrc_load(struct authsrc *src, const struct config_auth *a, const char *service);

/* Reads the source again and tells whether its cleaned content differs from what the last
 * authsrc_load() saw (an mtime change or an editor's temporary file is not a change). */
bool authsrc_changed(const struct config_auth *a, const struct authsrc *src);

/* Wipes and frees the token. */
void authsrc_free(struct authsrc *src);

#endif
