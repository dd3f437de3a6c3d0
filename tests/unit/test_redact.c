/* Unit tests for redaction: Discord-shaped tokens (built at run time from parts, never written
 * out here: realistic fakes trip secret scanners, cases/discord.md), the service's own token,
 * header values, and ordinary dotted text that must stay as it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Unpadded base64url of in[0..n) into out (NUL-terminated); returns the length. */
static size_t b64enc(const char *in, size_t n, char *out)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | (unsigned char)in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[o++] = b64url[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    return o;
}

static void random_chars(char *out, size_t n, const char *alphabet, uint32_t *seed)
{
    size_t k = strlen(alphabet);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[rnd(seed) % k];
    out[n] = '\0';
}

/* A fake bot token: base64(digits) "." 6 chars "." clen chars. buf needs 128 bytes. */
static const char *fake_token(char *buf, const char *digits, size_t clen, uint32_t seed)
{
    size_t n = b64enc(digits, strlen(digits), buf);
    buf[n++] = '.';
    random_chars(buf + n, 6, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", &seed);
    n += 6;
    buf[n++] = '.';
    random_chars(buf + n, clen, b64url, &seed);
    return buf;
}

/* Redacts in (out of place and in place, which must agree) and returns a NUL-terminated copy. */
static char *red(const struct redactor *r, const char *in)
{
    size_t len = strlen(in);
    char *out = malloc(len + 1), *inplace = malloc(len + 1);
    assert_non_null(out);
    assert_non_null(inplace);
    size_t n = redact_line(r, in, len, out, len);
    assert_true(n <= len);
    out[n] = '\0';
    memcpy(inplace, in, len);
    size_t m = redact_line(r, inplace, len, inplace, len);
    assert_int_equal(m, n);
    assert_memory_equal(inplace, out, n);
    free(inplace);
    return out;
}

static void expect(const struct redactor *r, const char *in, const char *want)
{
    char *got = red(r, in);
    if (strcmp(got, want) != 0)
        fail_msg("redact(\"%s\")\n  got  \"%s\"\n  want \"%s\"", in, got, want);
    free(got);
}

static void unchanged(const struct redactor *r, const char *in)
{
    expect(r, in, in);
}

/* Formats fmt with every "%s" replaced by tok (or the mask) into buf. */
static const char *fill(char *buf, size_t cap, const char *fmt, const char *tok)
{
    size_t o = 0, tl = strlen(tok);
    for (const char *f = fmt; *f && o + tl + 2 < cap; f++) {
        if (f[0] == '%' && f[1] == 's') {
            memcpy(buf + o, tok, tl);
            o += tl;
            f++;
        } else {
            buf[o++] = *f;
        }
    }
    buf[o] = '\0';
    return buf;
}

static void discord_shapes_are_masked(void **state)
{
    (void)state;
    static const struct {
        const char *id;
        size_t clen, total;
    } t[] = {
        {"198622483471925248", 27, 59},   /* old: 24 + 6 + 27 + 2 */
        {"123456789012345678", 38, 70},   /* 18-digit id, new HMAC */
        {"1234567890123456789", 38, 72},  /* 19-digit id */
        {"12345678901234567", 38, 69},    /* 17 digits */
        {"12345678901234567890", 38, 73}, /* 20 digits */
        {"42345678901234567", 27, 58},    /* 'N' first char */
        {"92345678901234567", 27, 58},    /* 'O' first char */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char tok[128];
        fake_token(tok, t[i].id, t[i].clen, (uint32_t)(i + 1) * 7919u);
        assert_int_equal(strlen(tok), t[i].total);
        expect(NULL, tok, REDACT_MASK);
    }
}

static void tokens_in_context(void **state)
{
    (void)state;
    static const char *const fmts[] = {
        "%s", "%s is the token", "token=%s", "token: %s", "'%s'", "\"%s\",", "(%s)", "<%s>", "[%s]",
        "%s.", "%s:", "x:%s;y", "{\"token\":\"%s\"}", "\t%s\t", "Bot%s", "tok_%s", "env DISCORD_TOKEN=%s set",
        "os.environ['DISCORD_TOKEN'] = '%s'", "line one %s and %s twice",
    };
    char tok[128], line[512], want[512];
    fake_token(tok, "123456789012345678", 38, 99);
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++)
        expect(NULL, fill(line, sizeof line, fmts[i], tok), fill(want, sizeof want, fmts[i], REDACT_MASK));

    /* Several different tokens in one line, next to each other. */
    char t1[128], t2[128], t3[128];
    fake_token(t1, "1111111111111111111", 38, 1);
    fake_token(t2, "222222222222222222", 27, 2);
    fake_token(t3, "33333333333333333", 38, 3);
    snprintf(line, sizeof line, "a=%s b=%s,%s", t1, t2, t3);
    expect(NULL, line, "a=" REDACT_MASK " b=" REDACT_MASK "," REDACT_MASK);

    /* Old user tokens. */
    char mfa[128] = "mfa.";
    uint32_t seed = 5;
    random_chars(mfa + 4, 84, b64url, &seed);
    snprintf(line, sizeof line, "user token %s end", mfa);
    expect(NULL, line, "user token " REDACT_MASK " end");
}

/* Many secrets in one line: the span list outgrows its inline storage. */
static void many_tokens_per_line(void **state)
{
    (void)state;
    enum { N = 40 };
    char *line = malloc(N * 80), tok[128];
    char *want = malloc(N * 16);
    assert_non_null(line);
    assert_non_null(want);
    size_t o = 0, w = 0;
    for (int i = 0; i < N; i++) {
        fake_token(tok, "123456789012345678", 38, (uint32_t)i + 11);
        o += (size_t)sprintf(line + o, "%s ", tok);
        w += (size_t)sprintf(want + w, REDACT_MASK " ");
    }
    expect(NULL, line, want);
    free(line);
    free(want);
}

static void service_token_anywhere(void **state)
{
    (void)state;
    struct redactor r;
    assert_int_equal(redactor_init(&r, "opaque!Secret~42"), 0);
    expect(&r, "opaque!Secret~42", REDACT_MASK);
    expect(&r, "xxopaque!Secret~42yy", "xx" REDACT_MASK "yy");
    expect(&r, "opaque!Secret~42opaque!Secret~42", REDACT_MASK REDACT_MASK);
    expect(&r, "start opaque!Secret~42", "start " REDACT_MASK);
    expect(&r, "opaque!Secret~4 is not it", "opaque!Secret~4 is not it");
    expect(&r, "opaque!opaque!Secret~42", "opaque!" REDACT_MASK);

    /* A Discord-shaped service token: masked by either rule, once. */
    char tok[128], line[256];
    fake_token(tok, "123456789012345678", 38, 77);
    assert_int_equal(redactor_set_token(&r, tok), 0);
    snprintf(line, sizeof line, "using %s now", tok);
    expect(&r, line, "using " REDACT_MASK " now");
    /* The old one is no longer special (but ordinary text stays as it is). */
    unchanged(&r, "opaque!Secret~42");

    /* A short token is masked with stars of its length: the line never grows. */
    assert_int_equal(redactor_set_token(&r, "abcd"), 0);
    expect(&r, "x abcd y", "x **** y");
    /* Shorter than REDACT_MIN_TOKEN: not looked for. */
    assert_int_equal(redactor_set_token(&r, "abc"), 0);
    unchanged(&r, "x abc y");
    assert_int_equal(redactor_set_token(&r, NULL), 0);
    assert_null(r.token);
    assert_int_equal(redactor_set_token(&r, ""), 0);
    unchanged(&r, "x abcd y");
    redactor_free(&r);
    redactor_free(&r);

    /* A token longer than 255 bytes (Horspool shifts are capped). */
    char longtok[400];
    uint32_t seed = 9;
    random_chars(longtok, 300, "abcdefghij", &seed);
    assert_int_equal(redactor_init(&r, longtok), 0);
    char *l2 = malloc(1000);
    assert_non_null(l2);
    snprintf(l2, 1000, "aaaa%sbbbb%s", longtok, longtok);
    expect(&r, l2, "aaaa" REDACT_MASK "bbbb" REDACT_MASK);
    free(l2);
    redactor_free(&r);
}

static void header_values(void **state)
{
    (void)state;
    char tok[128], line[512], want[512];
    fake_token(tok, "123456789012345678", 38, 4242);
    static const char *const fmts[] = {
        "{'Authorization': 'Bot %s', 'User-Agent': 'DiscordBot'}",
        "-H 'Authorization: Bot Bot %s'",
        "authorization: Bot %s",
    };
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++)
        expect(NULL, fill(line, sizeof line, fmts[i], tok), fill(want, sizeof want, fmts[i], REDACT_MASK));

    expect(NULL, "Authorization: Bot abcdefgh0123456789xyz", "Authorization: Bot " REDACT_MASK);
    expect(NULL, "\"authorization\":\"Bearer abcdefghij0123456789\"", "\"authorization\":\"Bearer " REDACT_MASK "\"");
    expect(NULL, "AUTHORIZATION=Bearer xyz123abc456", "AUTHORIZATION=Bearer " REDACT_MASK);
    expect(NULL, "Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic " REDACT_MASK);
    expect(NULL, "> Authorization: Bearer abc", "> Authorization: Bearer ***");
    expect(NULL, "proxy-authorization: token123456", "proxy-authorization: " REDACT_MASK);
    expect(NULL, "headers={\"Authorization\" : \"s3cr3t-value.x\"}", "headers={\"Authorization\" : \"" REDACT_MASK "\"}");

    /* Bare scheme with a credential-looking value. */
    char bearer[64];
    uint32_t seed = 31;
    random_chars(bearer, 30, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", &seed);
    bearer[7] = '7';
    snprintf(line, sizeof line, "Using Bearer %s for OAuth", bearer);
    expect(NULL, line, "Using Bearer " REDACT_MASK " for OAuth");
    snprintf(line, sizeof line, "token = \"Bot %s\"", bearer);
    expect(NULL, line, "token = \"Bot " REDACT_MASK "\"");
}

static void ordinary_text_is_kept(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "version 1.2.3",
        "nines 0.4.12-rc1 starting",
        "GET https://discord.com/api/v10/users/@me 200 OK",
        "connecting to 10.0.0.1:8080 and 192.168.100.200",
        "reading /etc/nines/services/bot.conf.bak",
        "net.dv8tion.jda.internal.requests.WebSocketClient - Connected to WebSocket",
        "discord.ext.commands.bot: ready",
        "<discord.ext.commands.bot.Bot object at 0x7f3a2c1b9d60>",
        "Bot is ready",
        "Bot discord.ext.commands.bot loaded",
        "the Bearer of bad news",
        "Bearer tokens expire after 604800 seconds",
        "InvalidArgumentError: invalid Authorization header",
        "Authorization header missing",
        "Authorization:",
        "www.example.com.",
        "a.b.c",
        "1.2.3.4",
        "2024-05-01T12:00:00.123Z INFO ready",
        "ab.cdef.ghijklmnopqrstuvwxyzabcd",
        "com.example.averyveryverylongpackagename.Sub.AnotherVeryLongClassNameHere",
        "sha256.abcdef0123456789abcdef0123456789abcdef0123456789",
        "",
        ".",
        "...",
        "x.",
        "mfa.short",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        unchanged(NULL, lines[i]);

    /* A JWT: its first segment decodes to '{"...', not to digits. Not masked (documented). */
    char jwt[256], seg[128];
    size_t n = b64enc("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27, jwt);
    jwt[n++] = '.';
    n += b64enc("{\"sub\":\"1234567890\"}", 20, jwt + n);
    jwt[n++] = '.';
    uint32_t seed = 3;
    random_chars(jwt + n, 43, b64url, &seed);
    unchanged(NULL, jwt);

    /* Token-shaped, but the first segment is text, not an ID. */
    char line[256];
    n = b64enc("hello world, this is", 20, seg);
    snprintf(line, sizeof line, "%s.GABCDE.abcdefghijklmnopqrstuvwxyz0123456789AB", seg);
    unchanged(NULL, line);
    /* Digits with a leading zero are no snowflake, but masking them errs on the safe side. */
    n = b64enc("012345678901234567", 18, seg);
    snprintf(line, sizeof line, "%s.GABCDE.abcdefghijklmnopqrstuvwxyz0123456789AB", seg);
    expect(NULL, line, REDACT_MASK);
    /* Too few digits (a 14-digit number). */
    n = b64enc("12345678901234", 14, seg);
    snprintf(line, sizeof line, "%s.GABCDE.abcdefghijklmnopqrstuvwxyz0123456789AB", seg);
    unchanged(NULL, line);
    /* discord.js prints the public part only ("Provided token: A.B.****"): nothing to hide. */
    n = b64enc("123456789012345678", 18, seg);
    snprintf(line, sizeof line, "Provided token: %s.GABCDE.****", seg);
    unchanged(NULL, line);
    (void)n;
}

static void output_bounds(void **state)
{
    (void)state;
    char tok[128], line[256], out[256];
    fake_token(tok, "123456789012345678", 38, 5);
    int len = snprintf(line, sizeof line, "k=%s end", tok);
    /* Truncated output never carries a part of the secret. */
    for (size_t cap = 0; cap <= (size_t)len; cap++) {
        memset(out, '#', sizeof out);
        size_t n = redact_line(NULL, line, (size_t)len, out, cap);
        assert_true(n <= cap);
        assert_memory_equal(out, "k=" REDACT_MASK " end", n);
        assert_int_equal(out[n], '#');
    }
    assert_int_equal(redact_line(NULL, "", 0, out, 0), 0);
    /* Lines without secrets are copied as they are. */
    assert_int_equal(redact_line(NULL, "abc", 3, out, 3), 3);
    assert_memory_equal(out, "abc", 3);
}

static void garbage_and_long_lines(void **state)
{
    (void)state;
    struct redactor r;
    assert_int_equal(redactor_init(&r, "zzTopSecret.9"), 0);
    uint32_t seed = 777;
    char buf[600], out[600], inpl[600];
    for (int round = 0; round < 20000; round++) {
        size_t n = rnd(&seed) % sizeof buf;
        for (size_t i = 0; i < n; i++) {
            uint32_t x = rnd(&seed);
            static const char pick[] = "MTIzNDU2Nzg5.GAB-_Bot Bearer authorization:'\"=\xff\xc3\x80zZ";
            buf[i] = (x & 1) ? (char)(x >> 8) : pick[(x >> 8) % (sizeof pick - 1)];
        }
        size_t m = redact_line(&r, buf, n, out, sizeof out);
        assert_true(m <= n);
        memcpy(inpl, buf, n);
        assert_int_equal(redact_line(&r, inpl, n, inpl, n), m);
        assert_memory_equal(inpl, out, m);
    }

    enum { N = 64 * 1024 };
    char tok[128];
    fake_token(tok, "1234567890123456789", 38, 8);
    size_t tl = strlen(tok);
    char *big = malloc(N), *bout = malloc(N);
    assert_non_null(big);
    assert_non_null(bout);
    for (size_t i = 0; i < N; i++)
        big[i] = "abc.def "[i % 8];
    memcpy(big, tok, tl);
    big[tl] = ' ';
    memcpy(big + N - tl, tok, tl);
    memcpy(big + N / 2, "zzTopSecret.9", 13);
    size_t m = redact_line(&r, big, N, bout, N);
    assert_int_equal(m, N - 2 * (tl - REDACT_MASK_LEN) - (13 - REDACT_MASK_LEN));
    assert_memory_equal(bout, REDACT_MASK, REDACT_MASK_LEN);
    assert_memory_equal(bout + m - REDACT_MASK_LEN, REDACT_MASK, REDACT_MASK_LEN);
    assert_null(memmem(bout, m, "zzTop", 5));
    free(big);
    free(bout);
    redactor_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(discord_shapes_are_masked),
        cmocka_unit_test(tokens_in_context),
        cmocka_unit_test(many_tokens_per_line),
        cmocka_unit_test(service_token_anywhere),
        cmocka_unit_test(header_values),
        cmocka_unit_test(ordinary_text_is_kept),
        cmocka_unit_test(output_bounds),
        cmocka_unit_test(garbage_and_long_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
