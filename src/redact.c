#include "redact.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Limits of the Discord token shape (reference/discord.md 1.1 and 1.4): A encodes a 17-20
 * digit snowflake (23-27 chars); 15-20 digits (20-27 chars) leaves room for odd IDs. B is 6 in
 * every token seen, C 27 or 38; the wider ranges below cost nothing in precision because A
 * must decode to digits. */
enum { A_MIN = 20, A_MAX = 27, A_SCAN = 64, B_MIN = 4, B_MAX = 16, C_MIN = 20, MFA_MIN = 20,
       BARE_MIN = 16, SPANS_INLINE = 16 };

/* ---- byte classes (ASCII, no locale) ---- */

static inline bool is_digit(unsigned char c) { return (unsigned)c - (unsigned)'0' < 10u; }
static inline bool is_alpha(unsigned char c) { return (unsigned char)((c | 0x20) - 'a') < 26u; }
static inline bool is_alnum(unsigned char c) { return is_digit(c) || is_alpha(c); }
static inline bool is_word(unsigned char c) { return is_alnum(c) || c == '_'; }
static inline bool is_b64url(unsigned char c) { return is_alnum(c) || c == '-' || c == '_'; }

/* Characters of a credential value: RFC 6750 b64token plus '%' for URL-encoded values. */
static inline bool is_cred(unsigned char c)
{
    return is_b64url(c) || c == '.' || c == '~' || c == '+' || c == '/' || c == '=' || c == '%';
}

static bool eq_nocase(const unsigned char *s, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char a = s[i], b = (unsigned char)lit[i];
        if ((unsigned)a - (unsigned)'A' < 26u)
            a |= 0x20;
        if (a != b)
            return false;
    }
    return true;
}

/* ---- token copy ---- */

static void wipe_token(struct redactor *r)
{
    if (r->token) {
        explicit_bzero(r->token, r->token_len);
        free(r->token);
    }
    r->token = NULL;
    r->token_len = 0;
}

int redactor_set_token(struct redactor *r, const char *token)
{
    wipe_token(r);
    size_t m = token ? strlen(token) : 0;
    if (m < REDACT_MIN_TOKEN)
        return 0;
    r->token = malloc(m);
    if (!r->token)
        return -ENOMEM;
    memcpy(r->token, token, m);
    r->token_len = m;
    /* Horspool bad-character shifts; capping at 255 only shortens shifts, never skips a match. */
    memset(r->skip, m > 255 ? 255 : (int)m, sizeof r->skip);
    for (size_t j = 0; j + 1 < m; j++) {
        size_t sh = m - 1 - j;
        r->skip[(unsigned char)token[j]] = (uint8_t)(sh > 255 ? 255 : sh);
    }
    return 0;
}

int redactor_init(struct redactor *r, const char *token)
{
    memset(r, 0, sizeof *r);
    return redactor_set_token(r, token);
}

void redactor_free(struct redactor *r)
{
    wipe_token(r);
}

/* ---- spans to mask ---- */

struct spans {
    size_t (*v)[2];
    size_t n, cap;
    bool nomem;
    size_t inline_v[SPANS_INLINE][2];
};

static void span_add(struct spans *sp, size_t start, size_t end)
{
    if (sp->n == sp->cap) {
        size_t cap = sp->cap * 2;
        size_t (*v)[2] = malloc(cap * sizeof *v);
        if (!v) {
            sp->nomem = true;
            return;
        }
        memcpy(v, sp->v, sp->n * sizeof *v);
        if (sp->v != sp->inline_v)
            free(sp->v);
        sp->v = v;
        sp->cap = cap;
    }
    sp->v[sp->n][0] = start;
    sp->v[sp->n][1] = end;
    sp->n++;
}

/* Sorts by start (insertion sort: a handful of spans) and merges overlaps. */
static void span_merge(struct spans *sp)
{
    for (size_t i = 1; i < sp->n; i++) {
        size_t a = sp->v[i][0], b = sp->v[i][1], j = i;
        for (; j > 0 && sp->v[j - 1][0] > a; j--) {
            sp->v[j][0] = sp->v[j - 1][0];
            sp->v[j][1] = sp->v[j - 1][1];
        }
        sp->v[j][0] = a;
        sp->v[j][1] = b;
    }
    size_t o = 0;
    for (size_t i = 0; i < sp->n; i++) {
        if (o > 0 && sp->v[i][0] < sp->v[o - 1][1]) {
            if (sp->v[i][1] > sp->v[o - 1][1])
                sp->v[o - 1][1] = sp->v[i][1];
            continue;
        }
        sp->v[o][0] = sp->v[i][0];
        sp->v[o][1] = sp->v[i][1];
        o++;
    }
    sp->n = o;
}

/* ---- (a) the literal token: Horspool with the table built once per token ---- */

static void find_literal(const struct redactor *r, const unsigned char *s, size_t len, struct spans *sp)
{
    size_t m = r ? r->token_len : 0;
    if (m == 0 || m > len)
        return;
    const unsigned char *t = (const unsigned char *)r->token;
    for (size_t i = 0; i + m <= len;) {
        unsigned char last = s[i + m - 1];
        if (last == t[m - 1] && memcmp(s + i, t, m - 1) == 0) {
            span_add(sp, i, i + m);
            i += m;
        } else {
            i += r->skip[last];
        }
    }
}

/* ---- (b) Discord-token shape ---- */

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return -1;
}

/* True when p[0..n) is unpadded base64 of 15-20 ASCII digits. (A leading '0' is allowed: no
 * snowflake has one, but masking such a thing errs on the safe side.) */
static bool decodes_to_id(const unsigned char *p, size_t n)
{
    if (n % 4 == 1)
        return false;
    uint32_t acc = 0;
    unsigned bits = 0, out = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(p[i]);
        if (v < 0)
            return false;
        acc = ((acc << 6) | (uint32_t)v) & 0xffffu;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            unsigned char c = (unsigned char)(acc >> bits);
            if (!is_digit(c))
                return false;
            out++;
        }
    }
    return out >= 15 && out <= 20;
}

/* The token whose first dot is s[d], as [*start, return value), or 0. */
static size_t token_at_dot(const unsigned char *s, size_t len, size_t d, size_t *start)
{
    size_t j = d + 1;
    while (j < len && j - d - 1 <= B_MAX && is_b64url(s[j]))
        j++;
    size_t blen = j - d - 1;
    if (blen >= B_MIN && blen <= B_MAX && j < len && s[j] == '.') {
        size_t k = j + 1;
        while (k < len && is_b64url(s[k]))
            k++;
        if (k - j - 1 >= C_MIN) {
            size_t a = d;
            while (a > 0 && d - a < A_SCAN && is_alnum(s[a - 1]))
                a--;
            size_t run = d - a;
            for (size_t n = run < A_MAX ? run : A_MAX; n >= A_MIN; n--) {
                if (decodes_to_id(s + d - n, n)) {
                    *start = d - n;
                    return k;
                }
            }
        }
    }
    /* Old user tokens: "mfa." + HMAC (discord.py docs/token.rst). */
    if (d >= 3 && memcmp(s + d - 3, "mfa", 3) == 0 && (d == 3 || !is_b64url(s[d - 4]))) {
        size_t k = d + 1;
        while (k < len && is_b64url(s[k]))
            k++;
        if (k - d - 1 >= MFA_MIN) {
            *start = d - 3;
            return k;
        }
    }
    return 0;
}

/* ---- (c) header-like contexts ---- */

static size_t cred_run(const unsigned char *s, size_t len, size_t i)
{
    while (i < len && is_cred(s[i]))
        i++;
    return i;
}

static bool all_alpha(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_alpha(s[i]))
            return false;
    return true;
}

static size_t skip_blanks(const unsigned char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* The value after "authorization" ending at s[i]: ["']* blanks [:=] blanks ["']? scheme* value. */
static void header_value(const unsigned char *s, size_t len, size_t i, struct spans *sp)
{
    for (int q = 0; q < 2 && i < len && (s[i] == '"' || s[i] == '\''); q++)
        i++;
    i = skip_blanks(s, len, i);
    if (i >= len || (s[i] != ':' && s[i] != '='))
        return;
    i = skip_blanks(s, len, i + 1);
    if (i < len && (s[i] == '"' || s[i] == '\''))
        i++;
    /* Up to two scheme words ("Bot", "Bearer", or discord.py's doubled "Bot Bot"). */
    for (int schemes = 0;; schemes++) {
        size_t r = cred_run(s, len, i);
        if (r == i)
            return;
        size_t next = skip_blanks(s, len, r);
        if (schemes < 2 && r - i <= 10 && all_alpha(s + i, r - i) && next > r && next < len &&
            is_cred(s[next])) {
            i = next;
            continue;
        }
        span_add(sp, i, r);
        return;
    }
}

/* "authorization" with its 'z' at s[zi] (any case), then the header value. */
static void authorization_at(const unsigned char *s, size_t len, size_t zi, struct spans *sp)
{
    if (zi >= 7 && zi + 6 <= len && eq_nocase(s + zi - 7, "authorization", 13))
        header_value(s, len, zi + 6, sp);
}

/* A bare "Bot xxx" / "Bearer xxx" at s[bi] (as discordgo users build it, or an OAuth log line). */
static void bare_scheme_at(const unsigned char *s, size_t len, size_t bi, struct spans *sp)
{
    size_t i;
    if (bi > 0 && is_word(s[bi - 1]))
        return;
    if (len - bi >= 4 && memcmp(s + bi, "Bot ", 4) == 0)
        i = bi + 4;
    else if (len - bi >= 7 && memcmp(s + bi, "Bearer ", 7) == 0)
        i = bi + 7;
    else
        return;
    i = skip_blanks(s, len, i);
    size_t r = cred_run(s, len, i);
    if (r - i < BARE_MIN)
        return;
    bool digit = false, alpha = false;
    for (size_t k = i; k < r; k++) {
        digit |= is_digit(s[k]);
        alpha |= is_alpha(s[k]);
    }
    if (digit && alpha)
        span_add(sp, i, r);
}

/* ---- one pass for (b) and (c) ----
 * Every rule starts at a byte that is rare in log text: '.' (token shape), 'z'/'Z'
 * (authorization), 'B' (Bot, Bearer). The line is read 8 bytes at a time and a word is looked
 * at byte by byte only when it holds one of them (the "has a zero byte" bit trick on the word
 * XOR the byte repeated; 'Z' | 0x20 == 'z'). */

#define REP8(c) (0x0101010101010101ull * (uint8_t)(c))

static inline uint64_t has_byte(uint64_t w, uint64_t rep)
{
    uint64_t x = w ^ rep;
    return (x - REP8(1)) & ~x & REP8(0x80);
}

struct scan {
    const unsigned char *s;
    size_t len;
    size_t token_end; /* dots before this are inside a token already found */
    struct spans *sp;
};

static inline void look_at(struct scan *sc, size_t i)
{
    unsigned char c = sc->s[i];
    if (c == '.') {
        size_t start = 0, end;
        if (i >= sc->token_end && (end = token_at_dot(sc->s, sc->len, i, &start)) != 0) {
            span_add(sc->sp, start, end);
            sc->token_end = end;
        }
    } else if ((c | 0x20) == 'z') {
        authorization_at(sc->s, sc->len, i, sc->sp);
    } else if (c == 'B') {
        bare_scheme_at(sc->s, sc->len, i, sc->sp);
    }
}

static void find_shapes_and_headers(const unsigned char *s, size_t len, struct spans *sp)
{
    struct scan sc = {s, len, 0, sp};
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t m = has_byte(w, REP8('.')) | has_byte(w | REP8(0x20), REP8('z')) | has_byte(w, REP8('B'));
        if (!m)
            continue;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* Bit 8k+7 flags byte k (a few extra flags above a real one are possible; look_at
         * checks the byte itself). */
        for (; m; m &= m - 1)
            look_at(&sc, i + (size_t)__builtin_ctzll(m) / 8);
#else
        for (size_t j = i; j < i + 8; j++)
            look_at(&sc, j);
#endif
    }
    for (; i < len; i++)
        look_at(&sc, i);
}

/* ---- output ---- */

/* Appends n bytes (memmove: in place, src is never behind dst) within outcap. */
static void put(char *out, size_t *o, size_t outcap, const char *src, size_t n)
{
    if (*o >= outcap)
        return;
    if (n > outcap - *o)
        n = outcap - *o;
    memmove(out + *o, src, n);
    *o += n;
}

static void put_mask(char *out, size_t *o, size_t outcap, size_t secret_len)
{
    if (*o >= outcap)
        return;
    if (secret_len >= REDACT_MASK_LEN) {
        put(out, o, outcap, REDACT_MASK, REDACT_MASK_LEN);
        return;
    }
    size_t n = secret_len < outcap - *o ? secret_len : outcap - *o;
    memset(out + *o, '*', n);
    *o += n;
}

size_t redact_line(const struct redactor *r, const char *in, size_t len, char *out, size_t outcap)
{
    const unsigned char *s = (const unsigned char *)in;
    struct spans sp; /* not zero-initialised: inline_v is only read up to n */
    sp.v = sp.inline_v;
    sp.n = 0;
    sp.cap = SPANS_INLINE;
    sp.nomem = false;

    find_literal(r, s, len, &sp);
    find_shapes_and_headers(s, len, &sp);

    size_t o = 0;
    if (sp.nomem) {
        /* Could not remember every secret: give up the line rather than leak one. */
        put_mask(out, &o, outcap < len ? outcap : len, REDACT_MASK_LEN);
    } else if (sp.n == 0) {
        put(out, &o, outcap, in, len);
    } else {
        span_merge(&sp);
        size_t pos = 0;
        for (size_t i = 0; i < sp.n; i++) {
            put(out, &o, outcap, in + pos, sp.v[i][0] - pos);
            put_mask(out, &o, outcap, sp.v[i][1] - sp.v[i][0]);
            pos = sp.v[i][1];
        }
        put(out, &o, outcap, in + pos, len - pos);
    }
    if (sp.v != sp.inline_v)
        free(sp.v);
    return o;
}
