/* patterns_bench: throughput of the per-line work on captured output, patterns_match() and
 * redact_line(), over 200 MB of 100-byte log lines held in memory (so the numbers are CPU cost,
 * to compare with disk speed). Two inputs: ordinary lines only, and the same with 1% of the lines
 * replaced by library lines that match a default rule and/or hold a token.
 *
 * Built by hand, not by the Makefile:
 *   gcc -O2 -std=c11 -D_GNU_SOURCE -Isrc bench/patterns_bench.c src/patterns.c src/redact.c \
 *       -o bench/out/patterns_bench && bench/out/patterns_bench [MB]
 *
 * Figures are CPU time of the thread; each 2 MB chunk is timed 5 times and its best time
 * counts (bench machines are often shared: this keeps bursts of other load out). The lines are generated from
 * templates with random fields (timestamps, ids, dotted names, URLs, IPs, numbers next to the
 * words 401/429/4004 would be found with), so the prefilters see realistic byte statistics. */
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "patterns.h"
#include "redact.h"

enum { LINE = 100, PASSES = 5, CHUNK = 20000 /* 2 MB */ };

static uint32_t seed = 2463534242u;

static uint32_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return seed;
}

/* CPU time of this thread, not wall time: the figures are the cost of the work, unaffected by
 * other processes taking the CPU away (bench machines are often shared). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const words[] = {
    "guild", "member", "message", "channel", "ready", "cache", "update", "voice", "presence",
    "command", "reaction", "thread", "role", "emoji", "sticker", "webhook", "invite", "token",
    "session", "shard", "heartbeat", "latency", "queue", "worker", "request", "response",
};
#define NWORDS (sizeof words / sizeof words[0])

/* One ordinary line (no rule matches, no secret), padded or cut to exactly LINE bytes. */
static void ordinary(char *out)
{
    char buf[512];
    int n = 0;
    unsigned h = rnd() % 24, mi = rnd() % 60, s = rnd() % 60, ms = rnd() % 1000;
    n += snprintf(buf + n, sizeof buf - (size_t)n, "2024-05-%02u %02u:%02u:%02u,%03u ", rnd() % 28 + 1, h, mi, s, ms);
    switch (rnd() % 8) {
    case 0:
        n += snprintf(buf + n, sizeof buf - (size_t)n, "INFO     discord.gateway Shard ID None has sent the HEARTBEAT payload (seq %u).",
                      rnd() % 100000);
        break;
    case 1:
        n += snprintf(buf + n, sizeof buf - (size_t)n, "GET /api/v10/%s/%u 200 %ums 10.0.%u.%u", words[rnd() % NWORDS],
                      rnd() % 5000, rnd() % 900, rnd() % 255, rnd() % 255);
        break;
    case 2:
        n += snprintf(buf + n, sizeof buf - (size_t)n, "DEBUG    bot.cogs.%s processed %u %s events for guild %u%u",
                      words[rnd() % NWORDS], rnd() % 5000, words[rnd() % NWORDS], rnd(), rnd() % 1000);
        break;
    case 3:
        n += snprintf(buf + n, sizeof buf - (size_t)n, "INFO %u users online, %u %s queued, version 2.%u.%u",
                      rnd() % 5000, rnd() % 500, words[rnd() % NWORDS], rnd() % 9, rnd() % 20);
        break;
    case 4:
        n += snprintf(buf + n, sizeof buf - (size_t)n, "user%u: my %s is broken lol, anyone know why the Bot keeps %s?",
                      rnd() % 9999, words[rnd() % NWORDS], words[rnd() % NWORDS]);
        break;
    case 5:
        n += snprintf(buf + n, sizeof buf - (size_t)n, "WARNING  aiohttp.access 172.17.0.%u \"POST /hooks/%u HTTP/1.1\" 204 %u",
                      rnd() % 255, rnd() % 100000, rnd() % 100);
        break;
    case 6:
        n += snprintf(buf + n, sizeof buf - (size_t)n, "  File \"/usr/lib/python3/dist-packages/discord/%s.py\", line %u, in %s",
                      words[rnd() % NWORDS], rnd() % 1500, words[rnd() % NWORDS]);
        break;
    default:
        n += snprintf(buf + n, sizeof buf - (size_t)n, "INFO closed %u tickets, %u open; cache hit ratio 0.%u; uptime %uh",
                      rnd() % 5000, rnd() % 100, rnd() % 100, rnd() % 1000);
        break;
    }
    while (n < LINE)
        buf[n++] = ' ';
    memcpy(out, buf, LINE);
}

static const char *const matching[] = {
    "discord.errors.LoginFailure: Improper token has been passed.",
    "discord.errors.ConnectionClosed: Shard ID None WebSocket closed with 4004",
    "We are being rate limited. GET /users/@me responded with 429. Retrying in 2.50 seconds.",
    "Error: Used disallowed intents",
    "DiscordAPIError[0]: 401: Unauthorized",
    "headers: {'Authorization': 'Bot %s'}",
    "token=%s",
};
#define NMATCH (sizeof matching / sizeof matching[0])

static void special(char *out, const char *tok)
{
    char buf[512];
    const char *fmt = matching[rnd() % NMATCH];
    int n = strstr(fmt, "%s") ? snprintf(buf, sizeof buf, fmt, tok) : snprintf(buf, sizeof buf, "%s", fmt);
    while (n < LINE)
        buf[n++] = ' ';
    memcpy(out, buf, LINE);
}

/* A fake token built at run time (base64 of an 18-digit id, 6, 38). */
static void make_token(char *tok)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *id = "123456789012345678";
    size_t o = 0;
    for (size_t i = 0; i < 18; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)id[i] << 16 | (uint32_t)(unsigned char)id[i + 1] << 8 |
                     (unsigned char)id[i + 2];
        for (int k = 18; k >= 0; k -= 6)
            tok[o++] = b64[(v >> k) & 63];
    }
    tok[o++] = '.';
    for (int i = 0; i < 6; i++)
        tok[o++] = b64[rnd() % 36];
    tok[o++] = '.';
    for (int i = 0; i < 38; i++)
        tok[o++] = b64[rnd() % 64];
    tok[o] = '\0';
}

enum work { W_FRAME, W_MATCH, W_REDACT, W_BOTH, W_CUSTOM, W_COUNT };
static const char *const work_names[] = {
    [W_FRAME] = "memchr('\\n') only", [W_MATCH] = "patterns_match", [W_REDACT] = "redact_line",
    [W_BOTH] = "match + redact", [W_CUSTOM] = "match, 1 custom regex",
};
_Static_assert(sizeof work_names / sizeof work_names[0] == W_COUNT, "work names");

static volatile uint64_t sink;

static uint64_t work_one(enum work w, const char *l, const struct patterns *p, const struct redactor *r)
{
    char out[LINE + 1];
    switch (w) {
    case W_FRAME: return (uint64_t)((const char *)memchr(l, '\n', LINE + 1) - l);
    case W_MATCH: return patterns_match(p, l, LINE, NULL);
    case W_REDACT: return redact_line(r, l, LINE, out, sizeof out);
    case W_BOTH: return patterns_match(p, l, LINE, NULL) + redact_line(r, l, LINE, out, sizeof out);
    case W_CUSTOM: return patterns_match(p + 1, l, LINE, NULL);
    case W_COUNT: break;
    }
    return 0;
}

/* Seconds for all lines: each chunk of CHUNK lines is timed PASSES times and its best time
 * counts, so a burst of other load on the machine does not land in the figure. */
static double run(enum work w, const char *buf, size_t nlines, const struct patterns *p,
                  const struct redactor *r)
{
    double total = 0;
    for (size_t c = 0; c < nlines; c += CHUNK) {
        size_t n = nlines - c < CHUNK ? nlines - c : CHUNK;
        double best = 1e9;
        for (int pass = 0; pass < PASSES; pass++) {
            uint64_t acc = 0;
            double t0 = now_s();
            for (size_t i = c; i < c + n; i++)
                acc += work_one(w, buf + i * (LINE + 1), p, r);
            double dt = now_s() - t0;
            sink += acc;
            if (dt < best)
                best = dt;
        }
        total += best;
    }
    return total;
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 200;
    size_t nlines = mb * 1000 * 1000 / LINE;
    char *ord = malloc(nlines * (LINE + 1)), *mix = malloc(nlines * (LINE + 1));
    if (!ord || !mix) {
        fprintf(stderr, "patterns_bench: out of memory\n");
        return 1;
    }
    char tok[128];
    make_token(tok);
    size_t nspecial = 0;
    for (size_t i = 0; i < nlines; i++) {
        char *l = ord + i * (LINE + 1), *m = mix + i * (LINE + 1);
        ordinary(l);
        l[LINE] = '\n';
        if (i % 100 == 50) {
            special(m, tok);
            nspecial++;
        } else {
            memcpy(m, l, LINE);
        }
        m[LINE] = '\n';
    }
    /* p[0]: the default set; p[1]: the same plus one custom pattern (one regexec per line). */
    struct patterns p[2];
    struct redactor r;
    struct config_pattern custom = {.cls = CONFIG_PATTERN_AUTH, .source = "token (revoked|expired)"};
    if (regcomp(&custom.re, custom.source, REG_EXTENDED) != 0 || patterns_init(&p[0], true, NULL, 0) != 0 ||
        patterns_init(&p[1], true, &custom, 1) != 0 || redactor_init(&r, tok) != 0) {
        fprintf(stderr, "patterns_bench: init failed\n");
        return 1;
    }
    /* Sanity: ordinary lines must not match; count the mixed ones that do. */
    size_t hits = 0, fp = 0;
    for (size_t i = 0; i < nlines; i++) {
        fp += patterns_match(&p[0], ord + i * (LINE + 1), LINE, NULL) != PATTERN_NONE;
        hits += patterns_match(&p[0], mix + i * (LINE + 1), LINE, NULL) != PATTERN_NONE;
    }
    printf("%zu MB, %zu lines of %d bytes; ordinary lines matching: %zu; mixed: %zu special lines, "
           "%zu matching\n", mb, nlines, LINE, fp, nspecial, hits);
    printf("%-22s %14s %14s\n", "work", "ordinary MB/s", "1% special MB/s");
    double bytes = (double)nlines * LINE;
    for (int w = 0; w < W_COUNT; w++) {
        double a = run((enum work)w, ord, nlines, p, &r), b = run((enum work)w, mix, nlines, p, &r);
        printf("%-22s %14.0f %14.0f   (%.0f / %.0f ns per line)\n", work_names[w], bytes / a / 1e6,
               bytes / b / 1e6, a / (double)nlines * 1e9, b / (double)nlines * 1e9);
    }
    patterns_free(&p[0]);
    patterns_free(&p[1]);
    regfree(&custom.re);
    redactor_free(&r);
    free(ord);
    free(mix);
    return 0;
}
