/* patterns: classifies one line of a service's captured output into an event class (auth
 * failure, terminal configuration error, rate limit) using the built-in Discord set and the
 * service's own `[auth] pattern = CLASS:REGEX` lines. Owns the compiled default set; borrows
 * the custom regex_t from the config. Pure: no I/O, no clock, no global state.
 *
 * Default set (reference/discord.md section 3): each rule is a list of exact library strings
 * ("anchors"), found by one pass over the line that hashes the 4 bytes at every 4th position
 * into a bit set (about 0.5 ns per byte), then confirmed with word-boundary checks. No regex
 * runs for the defaults; custom patterns cost one regexec each per line, only when there are
 * any. The rules:
 *   AUTH       Discord's REST 401 text "401: Unauthorized" (every library prints it), discord.py
 *              LoginFailure, discord.js TokenInvalid / token cleared after a 401 / bad header,
 *              JDA InvalidTokenException, serenity and Discord.Net offline token checks,
 *              discordgo's "not a bot token" hint, gateway close 4004 in every library's words.
 *   CONFIG     gateway closes 4010-4014 (invalid shard, sharding required, API version,
 *              invalid / disallowed intents) in every library's words.
 *   RATELIMIT  discord.py / discord.js / JDA / serenity rate-limit lines, HTTP 429 from Discord,
 *              Cloudflare bans (error code 1015, the "Access denied" page), gateway close 4008.
 * Bare numbers never match: 401, 429, 4004... count only next to the words libraries print
 * ("closed with 4004", "close 4004:", "code = 4004", "CloseCode(4004", "401: Unauthorized").
 * ANSI colour sequences (discord.py colours its log lines inside Docker) are ignored. */
#ifndef NINES_PATTERNS_H
#define NINES_PATTERNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum pattern_class {
    PATTERN_NONE,
    PATTERN_RATELIMIT, /* 429, rate limited, Cloudflare ban: wait, do not count a failure */
    PATTERN_CONFIG,    /* terminal gateway close that a restart cannot fix (4010-4014) */
    PATTERN_AUTH,      /* invalid token: 401, gateway 4004 */
    PATTERN_CLASS_COUNT
};
/* The classes are ordered by severity: when a line matches several rules, the highest wins
 * (between equals: default rules first, then custom patterns in file order). */

/* Sizes of the compiled default set (struct patterns): the number of exact strings, and the
 * stride of the prefilter (it hashes the 4 bytes at every STRIDE-th position of a line). */
enum { PATTERNS_N_ANCHORS = 72, PATTERNS_STRIDE = 4,
       PATTERNS_N_TRIGGERS = PATTERNS_N_ANCHORS * PATTERNS_STRIDE };

struct patterns {
    bool defaults;
    const struct config_pattern *custom; /* borrowed from the config; must outlive this */
    size_t n_custom;
    /* The default set, built by patterns_init() (about 12 KiB, no heap). */
    uint32_t trig[PATTERNS_N_TRIGGERS];  /* case-folded 4-byte windows of the anchors */
    uint8_t trig_anchor[PATTERNS_N_TRIGGERS];
    uint8_t trig_off[PATTERNS_N_TRIGGERS];   /* offset of the window in its anchor */
    uint16_t trig_next[PATTERNS_N_TRIGGERS]; /* next trigger in the same bucket */
    uint16_t bucket[256];                /* first trigger per hash bucket, 0xffff: none */
    uint32_t head[PATTERNS_N_ANCHORS];   /* case-folded first and last 4 bytes of each anchor */
    uint32_t tail[PATTERNS_N_ANCHORS];
    uint8_t len[PATTERNS_N_ANCHORS];
    uint8_t bloom[8192];                 /* 65536-bit set of trigger hashes */
};

struct pattern_hit {
    enum pattern_class cls;  /* PATTERN_NONE when nothing matched */
    const char *rule;        /* name of the default rule, or the custom REGEX as written
                              * (borrowed from the config); NULL when nothing matched */
    bool custom;             /* rule is a custom `pattern` line */
    uint64_t retry_after_ms; /* wait the line announces (rate limits only), 0 when none */
};

/* Builds the set: the default Discord rules when defaults is true, plus the n custom patterns
 * (borrowed, their regex_t already compiled with REG_EXTENDED; custom may be NULL when n == 0).
 * Allocates nothing. Returns 0, or -EINVAL when custom is NULL with n > 0. */
int patterns_init(struct patterns *p, bool defaults, const struct config_pattern *custom, size_t n);

/* Classifies line[0..len) (not NUL-terminated, any bytes); fills *hit (may be NULL), returns its
 * class. Custom patterns see a NUL-terminated copy (NUL bytes made spaces, colour codes gone) and
 * are skipped when a default rule gave AUTH, or for a line over 4 KiB whose copy cannot be
 * allocated. */
enum pattern_class patterns_match(const struct patterns *p, const char *line, size_t len,
                                  struct pattern_hit *hit);

/* Forgets the custom patterns (it never owned them); p can be initialised again. */
void patterns_free(struct patterns *p);

/* Parses the wait a rate-limit line announces ("Retrying in 2.50 seconds", "Retry-After: 30 s",
 * "blocking all requests for 1500ms", "\"retry_after\": 64.57"...) into milliseconds, rounded
 * up. Returns 0 when the line names none. */
uint64_t patterns_retry_after_ms(const char *line, size_t len);

/* "none", "auth", "config", "ratelimit"; never NULL. */
const char *pattern_class_name(enum pattern_class c);

/* The class a custom `pattern = CLASS:REGEX` line maps to. */
enum pattern_class pattern_class_from_config(enum config_pattern_class c);

#endif
