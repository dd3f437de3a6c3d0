/* logs: the producer that bench/logs.py runs under every log capturer (nines, s6-log, svlogd,
 * supervisord, cat). It writes BYTES bytes of 100-byte lines to stdout as fast as it can, in
 * 64,000-byte write(2)s (640 lines), and records when it started. Built statically, so its exec
 * costs the same under every capturer.
 *
 *   logs_gen STAMP BYTES MARKER
 *
 * Every line is 99 bytes of text and a newline: one of a few bot-like log lines (discord.py
 * style: dotted logger names, URLs, ids), padded with spaces, ending in an 8-digit sequence
 * number. One line in 640 holds the value of $BENCH_TOKEN (when set and at most 40 bytes), so a
 * capturer that redacts it has something to mask. The last line is "MARKER" padded the same way:
 * the driver polls the destination file for it. BYTES is rounded down to whole lines.
 *
 * At the end the program writes "START_NS END_NS UTIME_US STIME_US\n" to STAMP (via STAMP.tmp
 * and a rename, so a STAMP that exists is complete): START_NS is CLOCK_MONOTONIC first thing in
 * main(), END_NS after the last write returned (the driver's time.monotonic_ns() uses the same
 * clock), then its own CPU time (getrusage).
 *
 *   logs_gen wcost FILE LINES LEN PER_WRITE
 *
 * The kernel's share, measured alone: appends LINES records of LEN bytes to FILE (opened
 * O_WRONLY|O_APPEND|O_CREAT|O_TRUNC, as nines opens its log file), PER_WRITE records per
 * write(2), and prints "WALL_NS UTIME_US STIME_US WRITES". */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum { LINE = 100, PER_CHUNK = 640, CHUNK = LINE * PER_CHUNK, SEQ_DIGITS = 8, TOKEN_MAX = 40 };

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Lines written to a full pipe block; a short write (a signal) continues. */
static int write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(1, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* text padded with spaces to LINE-1-SEQ_DIGITS-1 bytes, a space, the number slot, '\n'. */
static void make_line(char *dst, const char *text)
{
    size_t body = LINE - 1 - SEQ_DIGITS - 1, n = strlen(text);
    if (n > body) {
        fprintf(stderr, "logs_gen: line too long: %s\n", text);
        exit(2);
    }
    memset(dst, ' ', LINE);
    memcpy(dst, text, n);
    dst[LINE - 1] = '\n';
}

static void put_seq(char *line, uint64_t seq)
{
    char *p = line + LINE - 2;
    for (int i = 0; i < SEQ_DIGITS; i++) {
        *p-- = (char)('0' + seq % 10);
        seq /= 10;
    }
}

static int wcost(char **argv)
{
    uint64_t lines = strtoull(argv[3], NULL, 10), len = strtoull(argv[4], NULL, 10);
    uint64_t per = strtoull(argv[5], NULL, 10);
    if (!len || !per || len * per > (64u << 20))
        return 2;
    char *buf = malloc(len * per);
    if (!buf)
        return 1;
    for (uint64_t i = 0; i < per; i++) {
        memset(buf + i * len, 'x', len - 1);
        buf[i * len + len - 1] = '\n';
    }
    int fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        perror("logs_gen: wcost");
        return 1;
    }
    uint64_t t0 = now_ns(), writes = 0;
    for (uint64_t done = 0; done < lines; done += per, writes++) {
        uint64_t n = lines - done < per ? lines - done : per;
        if (write(fd, buf, (size_t)(n * len)) != (ssize_t)(n * len)) {
            perror("logs_gen: wcost write");
            return 1;
        }
    }
    uint64_t t1 = now_ns();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    close(fd);
    free(buf);
    printf("%llu %lld %lld %llu\n", (unsigned long long)(t1 - t0),
           (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
           (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, (unsigned long long)writes);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t t0 = now_ns();
    if (argc == 6 && strcmp(argv[1], "wcost") == 0)
        return wcost(argv);
    if (argc != 4) {
        fprintf(stderr, "usage: logs_gen STAMP BYTES MARKER | wcost FILE LINES LEN PER_WRITE\n");
        return 2;
    }
    uint64_t lines = strtoull(argv[2], NULL, 10) / LINE;
    static const char *const texts[] = {
        "2026-11-29 22:02:00 INFO discord.gateway: Shard ID None has sent the HEARTBEAT payload.",
        "2026-11-29 22:02:00 DEBUG discord.http: GET https://discord.com/api/v10/users/@me 200",
        "2026-11-29 22:02:00 INFO bot.music: guild 987654321098765432 queued 'Blue Bazooka'",
        "2026-11-29 22:02:00 WARNING bot.db: slow query 0.251 s on guild_settings, pool size 10",
        "2026-11-29 22:02:00 DEBUG discord.gateway: Keeping shard ID None websocket alive.",
    };
    enum { N_TEXTS = sizeof texts / sizeof texts[0] };
    static char chunk[CHUNK];
    for (int i = 0; i < PER_CHUNK; i++)
        make_line(chunk + i * LINE, texts[i % N_TEXTS]);
    const char *tok = getenv("BENCH_TOKEN");
    if (tok && *tok && strlen(tok) <= TOKEN_MAX) {
        char text[LINE];
        snprintf(text, sizeof text, "2026-11-29 22:02:00 DEBUG bot.auth: using token %s", tok);
        make_line(chunk + (PER_CHUNK / 2) * LINE, text);
    }
    uint64_t seq = 0;
    while (seq < lines) {
        uint64_t n = lines - seq < PER_CHUNK ? lines - seq : PER_CHUNK;
        for (uint64_t i = 0; i < n; i++)
            put_seq(chunk + i * LINE, seq + i);
        if (seq + n == lines) /* the last line: the marker the driver looks for */
            make_line(chunk + (n - 1) * LINE, argv[3]);
        if (write_all(chunk, (size_t)(n * LINE)) < 0) {
            perror("logs_gen: write");
            return 1;
        }
        seq += n;
    }
    uint64_t t1 = now_ns();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%llu %llu %lld %lld\n", (unsigned long long)t0, (unsigned long long)t1,
                      (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
                      (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec) < 0 ||
        fclose(f) != 0 || rename(tmp, argv[1]) != 0) {
        perror("logs_gen: stamp");
        return 1;
    }
    return 0;
}
