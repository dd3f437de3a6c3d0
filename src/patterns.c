#include "patterns.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- names ---- */

static const char *const class_names[] = {
    [PATTERN_NONE] = "none",
    [PATTERN_RATELIMIT] = "ratelimit",
    [PATTERN_CONFIG] = "config",
    [PATTERN_AUTH] = "auth",
};
_Static_assert(sizeof class_names / sizeof class_names[0] == PATTERN_CLASS_COUNT, "class names");

const char *pattern_class_name(enum pattern_class c)
{
    return (unsigned)c < PATTERN_CLASS_COUNT ? class_names[c] : "?";
}

enum pattern_class pattern_class_from_config(enum config_pattern_class c)
{
    switch (c) {
    case CONFIG_PATTERN_AUTH: return PATTERN_AUTH;
    case CONFIG_PATTERN_CONFIG: return PATTERN_CONFIG;
    case CONFIG_PATTERN_RATELIMIT: return PATTERN_RATELIMIT;
    case CONFIG_PATTERN_CLASS_COUNT: break;
    }
    return PATTERN_NONE;
}

/* ---- the default rules ---- */

enum rule {
    R_HTTP_401, R_LOGIN_FAILURE, R_TOKEN_INVALID, R_TOKEN_CLEARED, R_BAD_HEADER, R_JDA_TOKEN,
    R_OFFLINE_TOKEN, R_NOT_BOT_TOKEN, R_GATEWAY_AUTH, R_CLOSE_4004,
    R_CLOSE_4010, R_CLOSE_4011, R_CLOSE_4012, R_CLOSE_4013, R_CLOSE_4014, R_PRIVILEGED_INTENTS,
    R_INVALID_INTENTS, R_INVALID_SHARD, R_SHARDING_REQUIRED, R_API_VERSION,
    R_RATE_LIMITED, R_GLOBAL_RATE_LIMIT, R_HTTP_429, R_GATEWAY_RATE_LIMIT, R_CLOSE_4008,
    R_CLOUDFLARE,
    R_COUNT
};

static const struct {
    const char *name;
    enum pattern_class cls;
} rules[] = {
    [R_HTTP_401] = {"401 Unauthorized", PATTERN_AUTH},
    [R_LOGIN_FAILURE] = {"discord.py LoginFailure", PATTERN_AUTH},
    [R_TOKEN_INVALID] = {"discord.js TokenInvalid", PATTERN_AUTH},
    [R_TOKEN_CLEARED] = {"discord.js token cleared after 401", PATTERN_AUTH},
    [R_BAD_HEADER] = {"invalid Authorization header", PATTERN_AUTH},
    [R_JDA_TOKEN] = {"JDA InvalidTokenException", PATTERN_AUTH},
    [R_OFFLINE_TOKEN] = {"library token check", PATTERN_AUTH},
    [R_NOT_BOT_TOKEN] = {"discordgo not a bot token", PATTERN_AUTH},
    [R_GATEWAY_AUTH] = {"gateway authentication failed", PATTERN_AUTH},
    [R_CLOSE_4004] = {"gateway close 4004", PATTERN_AUTH},
    [R_CLOSE_4010] = {"gateway close 4010 invalid shard", PATTERN_CONFIG},
    [R_CLOSE_4011] = {"gateway close 4011 sharding required", PATTERN_CONFIG},
    [R_CLOSE_4012] = {"gateway close 4012 invalid API version", PATTERN_CONFIG},
    [R_CLOSE_4013] = {"gateway close 4013 invalid intents", PATTERN_CONFIG},
    [R_CLOSE_4014] = {"gateway close 4014 disallowed intents", PATTERN_CONFIG},
    [R_PRIVILEGED_INTENTS] = {"privileged intents not enabled", PATTERN_CONFIG},
    [R_INVALID_INTENTS] = {"invalid intents", PATTERN_CONFIG},
    [R_INVALID_SHARD] = {"invalid shard", PATTERN_CONFIG},
    [R_SHARDING_REQUIRED] = {"sharding required", PATTERN_CONFIG},
    [R_API_VERSION] = {"invalid API version", PATTERN_CONFIG},
    [R_RATE_LIMITED] = {"rate limited", PATTERN_RATELIMIT},
    [R_GLOBAL_RATE_LIMIT] = {"global rate limit", PATTERN_RATELIMIT},
    [R_HTTP_429] = {"429 Too Many Requests", PATTERN_RATELIMIT},
    [R_GATEWAY_RATE_LIMIT] = {"gateway rate limited", PATTERN_RATELIMIT},
    [R_CLOSE_4008] = {"gateway close 4008 rate limited", PATTERN_RATELIMIT},
    [R_CLOUDFLARE] = {"Cloudflare ban", PATTERN_RATELIMIT},
};
_Static_assert(sizeof rules / sizeof rules[0] == R_COUNT, "rule table");

/* Checks an anchor needs besides its text. "Word" characters are [A-Za-z0-9_]. */
enum {
    A_WS = 1 << 0,    /* word start: not preceded by a word character */
    A_WE = 1 << 1,    /* word end: not followed by a word character */
    A_PE = 1 << 2,    /* phrase end: A_WE, and not followed by a space and more words
                       * ("Error: Invalid shard" yes, "Error: Invalid shard key" no) */
    A_NOCASE = 1 << 3,
    A_CLOSE = 1 << 4, /* followed by a close code, see close_code(); the rule comes from the code */
    A_CLOSECODE = A_CLOSE | A_WS | A_NOCASE,
};

/* Exact strings from reference/discord.md section 3 and the libraries' sources. Each is at least
 * PATTERNS_STRIDE + 3 = 7 bytes (the prefilter needs it); each is exercised by test_patterns.c. */
static const struct anchor {
    const char *text;
    uint8_t rule;
    uint8_t flags;
} anchors[] = {
    /* AUTH: REST 401. Discord's JSON message is "401: Unauthorized"; every library prints it
     * (discord.py HTTPException, DiscordAPIError[0], serenity, Discord.Net, discordgo). A bare
     * "401 Unauthorized" is any HTTP client talking to any API, so it is not enough. */
    {"401: Unauthorized", R_HTTP_401, A_WS},
    {"HTTPException: 401 Unauthorized", R_HTTP_401, 0},
    {"Improper token has been passed", R_LOGIN_FAILURE, 0},
    {"TokenInvalid", R_TOKEN_INVALID, A_WS | A_WE},
    {"TOKEN_INVALID", R_TOKEN_INVALID, A_WS | A_WE},
    {"An invalid token was provided", R_TOKEN_INVALID, 0},
    {"Expected token to be set for this request", R_TOKEN_CLEARED, 0},
    {"invalid Authorization header", R_BAD_HEADER, 0},
    {"InvalidTokenException", R_JDA_TOKEN, A_WS | A_WE},
    {"The provided token is invalid", R_JDA_TOKEN, 0},
    {"The provided token was invalid", R_OFFLINE_TOKEN, 0},  /* serenity */
    {"The Bot token was invalid", R_OFFLINE_TOKEN, 0},       /* Discord.Net */
    {"A Bot token must be at least 58 characters", R_OFFLINE_TOKEN, 0},
    {"provided token was not a bot token", R_NOT_BOT_TOKEN, 0},
    /* AUTH: gateway 4004. discord.js throws Error('Authentication failed') from @discordjs/ws;
     * "MongoServerError: Authentication failed." must not count, hence A_WS. */
    {"Error: Authentication failed", R_GATEWAY_AUTH, A_WS | A_PE},
    {"Sent invalid authentication", R_GATEWAY_AUTH, 0},
    {"InvalidAuthentication", R_GATEWAY_AUTH, A_WS | A_WE},
    {"identify payload is incorrect", R_GATEWAY_AUTH, 0}, /* JDA CloseCode meaning */
    /* Gateway close codes 4004 (AUTH), 4008 (RATELIMIT), 4010-4014 (CONFIG: gateway.mdx says
     * do not reconnect), only in the wording libraries use, see close_code():
     *   "WebSocket closed with 4004" (discord.py), "code = 4004" (websockets), "close 4004:" /
     *   "sent close 4004:" / "close: 4004:" (discordgo, Discord.Net, JS self-bots),
     *   "CloseCode(4004 / ..." (JDA), "Shard not recoverable: 4004 (...)" (discord.js debug),
     *   "{ code: 4004, reason: ... }" (a printed CloseEvent). */
    {"closed with 40", R_CLOSE_4004, A_CLOSECODE},
    {"close 40", R_CLOSE_4004, A_CLOSECODE},
    {"close: 40", R_CLOSE_4004, A_CLOSECODE},
    {"closecode(40", R_CLOSE_4004, A_CLOSECODE},
    {"recoverable: 40", R_CLOSE_4004, A_CLOSECODE},
    {"code = 40", R_CLOSE_4004, A_CLOSECODE},
    {"code: 40", R_CLOSE_4004, A_CLOSECODE},
    {"code 40", R_CLOSE_4004, A_CLOSECODE},
    {"code=40", R_CLOSE_4004, A_CLOSECODE}, /* logfmt */
    {"PrivilegedIntentsRequired", R_PRIVILEGED_INTENTS, A_WS | A_WE},
    {"is requesting privileged intents", R_PRIVILEGED_INTENTS, 0},
    {"Used disallowed intents", R_PRIVILEGED_INTENTS, 0},
    {"DisallowedIntents", R_PRIVILEGED_INTENTS, A_WS | A_WE},
    {"DISALLOWED_INTENTS", R_PRIVILEGED_INTENTS, A_WS | A_WE},
    {"Privileged intent provided is not enabled or whitelisted", R_PRIVILEGED_INTENTS, 0},
    {"Disallowed gateway intents have been provided", R_PRIVILEGED_INTENTS, 0},
    {"DisallowedGatewayIntents", R_PRIVILEGED_INTENTS, A_WS | A_WE},
    {"turning on an intent you aren't allowed to use", R_PRIVILEGED_INTENTS, 0},
    {"Used invalid intents", R_INVALID_INTENTS, 0},
    {"InvalidIntents", R_INVALID_INTENTS, A_WS | A_WE},
    {"INVALID_INTENTS", R_INVALID_INTENTS, A_WS | A_WE},
    {"Invalid intent provided for WebSocket intents", R_INVALID_INTENTS, 0},
    {"Invalid gateway intents have been provided", R_INVALID_INTENTS, 0},
    {"InvalidGatewayIntents", R_INVALID_INTENTS, A_WS | A_WE},
    {"Error: Invalid shard", R_INVALID_SHARD, A_WS | A_PE},
    {"ShardingInvalid", R_INVALID_SHARD, A_WS | A_WE},
    {"SHARDING_INVALID", R_INVALID_SHARD, A_WS | A_WE},
    {"Invalid shard settings were provided", R_INVALID_SHARD, 0},
    {"Sent invalid shard data", R_INVALID_SHARD, 0},
    {"InvalidShardData", R_INVALID_SHARD, A_WS | A_WE},
    {"Sharding is required", R_SHARDING_REQUIRED, 0},
    {"ShardingRequired", R_SHARDING_REQUIRED, A_WS | A_WE},
    {"SHARDING_REQUIRED", R_SHARDING_REQUIRED, A_WS | A_WE},
    {"Shard has too many guilds", R_SHARDING_REQUIRED, 0},
    {"OverloadedShard", R_SHARDING_REQUIRED, A_WS | A_WE},
    {"Used an invalid API version", R_API_VERSION, 0},
    {"Invalid gateway API version provided", R_API_VERSION, 0},
    {"InvalidApiVersion", R_API_VERSION, A_WS | A_WE},
    /* RATELIMIT */
    {"We are being rate limited", R_RATE_LIMITED, 0},           /* discord.py */
    {"is rate limited. Retrying in", R_RATE_LIMITED, 0},        /* discord.py webhooks */
    {"Global rate limit has been hit", R_GLOBAL_RATE_LIMIT, 0}, /* discord.py */
    {"Global rate limit hit, blocking all requests", R_GLOBAL_RATE_LIMIT, 0}, /* @discordjs/rest */
    {"Encountered global rate limit", R_GLOBAL_RATE_LIMIT, 0},  /* JDA */
    {"HTTPException: 429 Too Many Requests", R_HTTP_429, 0},    /* discord.py, HTML 429 */
    {"RateLimited: Too many requests", R_HTTP_429, 0},          /* discord.py */
    {"Encountered unexpected 429 rate limit", R_HTTP_429, 0},   /* @discordjs/rest */
    {"Encountered 429 on route", R_HTTP_429, 0},                /* JDA */
    {"You are being rate limited", R_HTTP_429, 0},              /* Discord's JSON 429 body */
    {"is ratelimited, waiting", R_GATEWAY_RATE_LIMIT, 0},       /* discord.py gateway */
    {"Gateway ratelimited", R_GATEWAY_RATE_LIMIT, 0},           /* serenity */
    {"Encountered IDENTIFY Rate Limit", R_GATEWAY_RATE_LIMIT, 0}, /* JDA */
    {"error code: 1015", R_CLOUDFLARE, A_NOCASE | A_WE},
    {"used Cloudflare to restrict access", R_CLOUDFLARE, 0},
    {"Encountered cloudflare rate limit", R_CLOUDFLARE, A_NOCASE}, /* JDA */
};
_Static_assert(sizeof anchors / sizeof anchors[0] == PATTERNS_N_ANCHORS, "PATTERNS_N_ANCHORS");

/* ---- byte classes (ASCII only: output is bytes, no locale) ---- */

static inline bool is_digit(unsigned char c) { return (unsigned)c - (unsigned)'0' < 10u; }
static inline bool is_alpha(unsigned char c) { return (unsigned char)((c | 0x20) - 'a') < 26u; }
static inline bool is_word(unsigned char c) { return is_digit(c) || is_alpha(c) || c == '_'; }
static inline unsigned char lower(unsigned char c) { return (unsigned)c - (unsigned)'A' < 26u ? (unsigned char)(c | 0x20) : c; }

static bool eq_nocase(const unsigned char *s, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != lower((unsigned char)lit[i]))
            return false;
    return true;
}

/* ---- the prefilter ----
 * The line is looked at every PATTERNS_STRIDE bytes only: the 4 bytes there, case-folded, are
 * hashed into a 65536-bit set. Each anchor registers the PATTERNS_STRIDE consecutive 4-byte
 * windows at its least common spot, so wherever the anchor sits in a line, one of them starts at
 * a multiple of the stride and is seen. That needs anchors of at least STRIDE + 3 bytes. A set
 * bit sends the position to the triggers of its hash bucket, then to the anchor's full check. */

enum { STRIDE = PATTERNS_STRIDE, NO_TRIGGER = 0xffff };

/* Case-folded 4-byte window: OR 0x20 lowers ASCII letters (and merges a few punctuation bytes
 * with others, which only costs a rare extra check). */
static inline uint32_t load4(const unsigned char *s)
{
    uint32_t w;
    memcpy(&w, s, 4);
    return w | 0x20202020u;
}

static inline uint32_t hash16(uint32_t w)
{
    return (w * 0x9E3779B1u) >> 16;
}

/* Rough frequency (%) of a case-folded byte in log text: English letter frequencies, a space
 * as the most common byte, digits common (timestamps). Only used to place the triggers. */
static double byte_freq(unsigned char c)
{
    static const double letters[26] = {8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0, 0.15, 0.8, 4.0, 2.4,
                                       6.7, 7.5, 1.9, 0.1, 6.0, 6.3, 9.1, 2.8, 1.0, 2.4, 0.15, 2.0, 0.07};
    c = lower(c);
    if (c >= 'a' && c <= 'z')
        return letters[c - 'a'];
    if (c == ' ')
        return 15.0;
    return is_digit(c) ? 3.0 : 1.0;
}

static bool bit_get(const uint8_t *set, uint32_t h) { return set[h >> 3] & (1u << (h & 7)); }
static void bit_set(uint8_t *set, uint32_t h) { set[h >> 3] |= (uint8_t)(1u << (h & 7)); }

/* Offset of the STRIDE windows (STRIDE + 3 bytes) least likely to occur in ordinary text. */
static size_t pick_spot(const char *text, size_t n)
{
    size_t best = 0;
    double best_cost = 0;
    for (size_t t = 0; t + STRIDE + 3 <= n; t++) {
        double cost = 0;
        for (size_t j = 0; j < STRIDE; j++) {
            double f = 1;
            for (size_t b = 0; b < 4; b++)
                f *= byte_freq((unsigned char)text[t + j + b]);
            cost += f;
        }
        if (t == 0 || cost < best_cost) {
            best_cost = cost;
            best = t;
        }
    }
    return best;
}

int patterns_init(struct patterns *p, bool defaults, const struct config_pattern *custom, size_t n)
{
    if (!custom && n > 0)
        return -EINVAL;
    memset(p, 0, sizeof *p);
    memset(p->bucket, 0xff, sizeof p->bucket);
    p->defaults = defaults;
    p->custom = custom;
    p->n_custom = n;
    for (size_t k = 0; k < PATTERNS_N_ANCHORS; k++) {
        const unsigned char *text = (const unsigned char *)anchors[k].text;
        size_t len = strlen(anchors[k].text);
        if (len < STRIDE + 3 || len > UINT8_MAX)
            continue; /* cannot happen: every anchor is 7..255 bytes (all are tested) */
        size_t spot = pick_spot(anchors[k].text, len);
        p->len[k] = (uint8_t)len;
        p->head[k] = load4(text);
        p->tail[k] = load4(text + len - 4);
        for (size_t j = 0; j < STRIDE; j++) {
            size_t t = k * STRIDE + j;
            p->trig[t] = load4(text + spot + j);
            p->trig_anchor[t] = (uint8_t)k;
            p->trig_off[t] = (uint8_t)(spot + j);
            uint32_t h = hash16(p->trig[t]);
            bit_set(p->bloom, h);
            p->trig_next[t] = p->bucket[h & 0xff];
            p->bucket[h & 0xff] = (uint16_t)t;
        }
    }
    return 0;
}

void patterns_free(struct patterns *p)
{
    p->custom = NULL;
    p->n_custom = 0;
}

/* ---- confirmation ---- */

_Static_assert(R_CLOSE_4014 - R_CLOSE_4010 == 4, "close code rules 4010..4014 in order");

/* The close code after close wording ending at s[e] ("closed with 40" + "04"): two more
 * digits, not followed by a word character. When the wording ends in a plain space ("close
 * 40", "code 40", "closed with 40") the number could be prose, so no word may follow it either
 * ("closed with 4004 comments", "exit code 4004 ignored"); after ':' '=' '(' it is a value
 * ("code=4004 shard=0" is logfmt). Returns the rule or -1. */
static int close_code(const unsigned char *s, size_t len, size_t e)
{
    if (e + 2 > len || !is_digit(s[e]) || !is_digit(s[e + 1]))
        return -1;
    size_t x = e + 2;
    if (x < len && is_word(s[x]))
        return -1;
    if (s[e - 3] == ' ' && x + 1 < len && (s[x] == ' ' || s[x] == '\t') && is_word(s[x + 1]))
        return -1;
    int code = (s[e] - '0') * 10 + (s[e + 1] - '0');
    if (code == 4)
        return R_CLOSE_4004;
    if (code == 8)
        return R_CLOSE_4008;
    if (code >= 10 && code <= 14)
        return R_CLOSE_4010 + (code - 10);
    return -1;
}

/* Full check of anchor a (n bytes) at s[start..]: text, boundaries. Returns its rule or -1. */
static int confirm(const struct anchor *a, size_t n, const unsigned char *s, size_t len, size_t start)
{
    size_t end = start + n;
    if (end > len)
        return -1;
    if (a->flags & A_NOCASE) {
        if (!eq_nocase(s + start, a->text, n))
            return -1;
    } else if (memcmp(s + start, a->text, n) != 0) {
        return -1;
    }
    if ((a->flags & A_WS) && start > 0 && is_word(s[start - 1]))
        return -1;
    if (a->flags & A_CLOSE)
        return close_code(s, len, end);
    if ((a->flags & (A_WE | A_PE)) && end < len && is_word(s[end]))
        return -1;
    if ((a->flags & A_PE) && end + 1 < len && s[end] == ' ' && is_word(s[end + 1]))
        return -1;
    return a->rule;
}

struct found {
    enum pattern_class cls;
    int rule; /* -1: none */
};

/* The most severe default rule matching s[0..len). */
static struct found scan_defaults(const struct patterns *p, const unsigned char *s, size_t len)
{
    struct found f = {PATTERN_NONE, -1};
    for (size_t i = 0; i + 4 <= len; i += STRIDE) {
        uint32_t w = load4(s + i);
        uint32_t h = hash16(w);
        if (!bit_get(p->bloom, h))
            continue;
        for (unsigned t = p->bucket[h & 0xff]; t != NO_TRIGGER; t = p->trig_next[t]) {
            if (p->trig[t] != w || i < p->trig_off[t])
                continue;
            /* Cheap before the full check: the anchor's first and last 4 bytes, case-folded. */
            size_t k = p->trig_anchor[t], start = i - p->trig_off[t];
            if (start + p->len[k] > len || load4(s + start) != p->head[k] ||
                load4(s + start + p->len[k] - 4) != p->tail[k])
                continue;
            int rule = confirm(&anchors[k], p->len[k], s, len, start);
            if (rule < 0 || rules[rule].cls <= f.cls)
                continue;
            f.cls = rules[rule].cls;
            f.rule = rule;
            if (f.cls == PATTERN_AUTH)
                return f;
        }
    }
    return f;
}

/* ---- retry-after ---- */

/* Parses "2.50 seconds", "1500ms", "30 s", "64.57" at s; default_ms says the unit when none
 * is written. Returns 0 when s does not start with a number. Rounds up to whole ms; numbers
 * over 12 digits saturate. */
static uint64_t parse_wait(const char *s, const char *end, bool default_ms)
{
    uint64_t whole = 0, frac = 0;
    unsigned nd = 0, nf = 0;
    bool more = false;
    while (s < end && is_digit((unsigned char)*s)) {
        if (nd < 12)
            whole = whole * 10 + (uint64_t)(*s - '0');
        nd++;
        s++;
    }
    if (nd == 0)
        return 0;
    if (nd > 12)
        whole = 999999999999u; /* saturate: about 31 years in seconds */
    if (s + 1 < end && *s == '.' && is_digit((unsigned char)s[1])) {
        for (s++; s < end && is_digit((unsigned char)*s); s++) {
            if (nf < 3) {
                frac = frac * 10 + (uint64_t)(*s - '0');
                nf++;
            } else if (*s != '0') {
                more = true;
            }
        }
    }
    for (; nf < 3; nf++)
        frac *= 10;
    const char *u = s < end && *s == ' ' ? s + 1 : s;
    bool ms = default_ms;
    if (end - u >= 2 && u[0] == 'm' && u[1] == 's' && (end - u == 2 || !is_alpha((unsigned char)u[2])))
        ms = true;
    else if (u < end && u[0] == 's') /* s, sec, seconds */
        ms = false;
    if (ms)
        return whole + (frac > 0 || more ? 1 : 0);
    return whole * 1000 + frac + (more ? 1 : 0);
}

uint64_t patterns_retry_after_ms(const char *line, size_t len)
{
    static const struct {
        const char *key;
        bool ms;
    } keys[] = {
        {"Retrying in ", false},        /* discord.py */
        {"Retry in ", false},           /* discord.py RateLimited */
        {"waiting ", false},            /* discord.py gateway limiter */
        {"Timeout of ", false},         /* discord.py max_ratelimit_timeout */
        {"blocking all requests for ", true}, /* @discordjs/rest */
        {"Retry-After: ", false},       /* JDA (writes its unit), HTTP header (seconds) */
        {"\"retry_after\": ", false},   /* Discord's JSON 429 body */
        {"\"retry_after\":", false},
        {"retry_after: ", false},
        {"retry_after=", false},
    };
    const char *end = line + len;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        size_t kn = strlen(keys[i].key);
        const char *k = memmem(line, len, keys[i].key, kn);
        if (!k)
            continue;
        uint64_t ms = parse_wait(k + kn, end, keys[i].ms);
        if (ms)
            return ms;
    }
    return 0;
}

/* ---- matching ---- */

enum { STACK_COPY = 4096 + 1 };

/* Copies in[0..len) to out without ANSI escape sequences (CSI "ESC [ ... final", OSC
 * "ESC ] ... BEL|ESC \", two-byte "ESC X"); returns the new length. */
static size_t strip_ansi(const char *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    while (i < len) {
        const char *esc = memchr(in + i, 0x1b, len - i);
        size_t n = esc ? (size_t)(esc - (in + i)) : len - i;
        memcpy(out + o, in + i, n);
        o += n;
        i += n;
        if (!esc)
            break;
        i++; /* ESC */
        if (i >= len)
            break;
        unsigned char c = (unsigned char)in[i];
        if (c == '[') {
            for (i++; i < len && (unsigned char)in[i] >= 0x20 && (unsigned char)in[i] <= 0x3f; i++)
                ;
            if (i < len && (unsigned char)in[i] >= 0x40 && (unsigned char)in[i] <= 0x7e)
                i++;
        } else if (c == ']') {
            for (i++; i < len && in[i] != 0x07 && in[i] != 0x1b; i++)
                ;
            if (i < len && in[i] == 0x07)
                i++;
            else if (i + 1 < len && in[i + 1] == '\\')
                i += 2;
        } else if (c >= 0x40 && c <= 0x5f) {
            i++;
        }
    }
    return o;
}

static enum pattern_class run_custom(const struct patterns *p, const char *cstr, struct pattern_hit *h)
{
    for (size_t i = 0; i < p->n_custom; i++) {
        if (regexec(&p->custom[i].re, cstr, 0, NULL, 0) != 0)
            continue;
        enum pattern_class c = pattern_class_from_config(p->custom[i].cls);
        if (c > h->cls) {
            h->cls = c;
            h->rule = p->custom[i].source;
            h->custom = true;
            if (c == PATTERN_AUTH)
                break;
        }
    }
    return h->cls;
}

enum pattern_class patterns_match(const struct patterns *p, const char *line, size_t len,
                                  struct pattern_hit *hit)
{
    struct pattern_hit h = {.cls = PATTERN_NONE};
    char stack[STACK_COPY];
    char *heap = NULL, *copy = NULL;
    const char *view = line;
    size_t vlen = len;

    if (!p->defaults && p->n_custom == 0)
        goto out;
    if (memchr(line, 0x1b, len)) {
        copy = len < sizeof stack ? stack : (heap = malloc(len + 1));
        if (copy) {
            vlen = strip_ansi(line, len, copy);
            view = copy;
        }
    }
    if (p->defaults) {
        struct found f = scan_defaults(p, (const unsigned char *)view, vlen);
        if (f.rule >= 0) {
            h.cls = f.cls;
            h.rule = rules[f.rule].name;
        }
    }
    if (p->n_custom > 0 && h.cls != PATTERN_AUTH) {
        if (!copy) {
            copy = len < sizeof stack ? stack : (heap = malloc(len + 1));
            if (copy)
                memcpy(copy, line, len);
        }
        if (copy) {
            /* regexec needs a C string: a NUL byte in the output would end it early. */
            for (char *z = memchr(copy, 0, vlen); z; z = memchr(z, 0, vlen - (size_t)(z - copy)))
                *z = ' ';
            copy[vlen] = '\0';
            view = copy;
            run_custom(p, copy, &h);
        }
    }
    if (h.cls == PATTERN_RATELIMIT)
        h.retry_after_ms = patterns_retry_after_ms(view, vlen);
    free(heap);
out:
    if (hit)
        *hit = h;
    return h.cls;
}
