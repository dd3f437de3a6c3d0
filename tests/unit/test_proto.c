/* Unit tests for the control protocol: request grammar, rejection of malformed input (garbage,
 * boundary sizes), reply headers both ways, request encoding and JSON string escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* Parses a NUL-terminated literal (newline included) from a writable copy. */
struct parsed {
    char buf[PROTO_LINE_MAX + 64];
    struct proto_request req;
    char err[PROTO_ERR_MAX];
    int rc;
};

static struct parsed *parse(const char *line)
{
    static struct parsed p;
    memset(&p, 0, sizeof p);
    size_t n = strlen(line);
    assert_true(n < sizeof p.buf);
    memcpy(p.buf, line, n);
    p.rc = proto_parse_request(p.buf, n, &p.req, p.err, sizeof p.err);
    if (p.rc == 0)
        assert_string_equal(p.err, "");
    else
        assert_true(strlen(p.err) > 0 && !strchr(p.err, '\n'));
    return &p;
}

static void expect_error(const char *line, const char *needle)
{
    struct parsed *p = parse(line);
    assert_int_equal(p->rc, -EINVAL);
    if (!strstr(p->err, needle))
        fail_msg("'%s': error '%s' lacks '%s'", line, p->err, needle);
}

static void verb_table_is_complete(void **state)
{
    (void)state;
    for (int v = 0; v < PROTO_VERB_COUNT; v++) {
        const char *name = proto_verb_name((enum proto_verb)v);
        assert_string_not_equal(name, "?");
        assert_non_null(strstr(proto_verb_usage((enum proto_verb)v), name));
    }
    assert_string_equal(proto_verb_name(PROTO_VERB_COUNT), "?");
    assert_string_equal(proto_verb_usage((enum proto_verb)-1), "?");
    assert_true(proto_verb_readonly(PROTO_STATUS));
    assert_true(proto_verb_readonly(PROTO_CHECK));
    assert_true(proto_verb_readonly(PROTO_LOG));
    assert_true(proto_verb_readonly(PROTO_VERSION));
    assert_false(proto_verb_readonly(PROTO_START));
    assert_false(proto_verb_readonly(PROTO_SIGNAL));
    assert_false(proto_verb_readonly(PROTO_SHUTDOWN));
    assert_false(proto_verb_readonly(PROTO_RECOVER));
    assert_false(proto_verb_readonly(PROTO_VERB_COUNT));
}

static void names(void **state)
{
    (void)state;
    assert_true(proto_name_valid("bot", 3));
    assert_true(proto_name_valid("a-b_c.9", 7));
    assert_false(proto_name_valid("", 0));
    assert_false(proto_name_valid("Bot", 3));
    assert_false(proto_name_valid("a/b", 3));
    assert_false(proto_name_valid("a b", 3));
    assert_false(proto_name_valid("a\0b", 3));
    assert_false(proto_name_valid("caf\xc3\xa9", 5));
}

static void status_forms(void **state)
{
    (void)state;
    struct parsed *p = parse("status\n");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->req.verb, PROTO_STATUS);
    assert_int_equal(p->req.flags, 0);
    assert_int_equal(p->req.nnames, 0);

    p = parse("status bot --json lavalink bot\n");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->req.flags, PROTO_F_JSON);
    assert_int_equal(p->req.nnames, 3);
    assert_string_equal(p->req.names[0], "bot");
    assert_string_equal(p->req.names[1], "lavalink");
    assert_string_equal(p->req.names[2], "bot");
    /* The names point into the caller's buffer. */
    assert_ptr_equal(p->req.names[0], p->buf + 7);

    expect_error("status --yaml\n", "unknown option '--yaml'");
    expect_error("status Bot\n", "bad service name 'Bot'");
    p = parse("status all --json\n");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->req.flags, PROTO_F_JSON | PROTO_F_ALL);
    assert_int_equal(p->req.nnames, 0);
    expect_error("status all bot\n", "'all' cannot be combined");
}

static void start_stop_restart(void **state)
{
    (void)state;
    static const char *const verbs[] = {"start", "stop", "restart"};
    static const enum proto_verb ids[] = {PROTO_START, PROTO_STOP, PROTO_RESTART};
    for (int i = 0; i < 3; i++) {
        char line[64];
        snprintf(line, sizeof line, "%s a b\n", verbs[i]);
        struct parsed *p = parse(line);
        assert_int_equal(p->rc, 0);
        assert_int_equal(p->req.verb, ids[i]);
        assert_int_equal(p->req.nnames, 2);
        assert_int_equal(p->req.flags, 0);

        snprintf(line, sizeof line, "%s all\n", verbs[i]);
        p = parse(line);
        assert_int_equal(p->rc, 0);
        assert_int_equal(p->req.flags, PROTO_F_ALL);
        assert_int_equal(p->req.nnames, 0);

        snprintf(line, sizeof line, "%s\n", verbs[i]);
        expect_error(line, "needs service names or 'all'");
        snprintf(line, sizeof line, "%s all bot\n", verbs[i]);
        expect_error(line, "'all' cannot be combined");
        snprintf(line, sizeof line, "%s bot all\n", verbs[i]);
        expect_error(line, "'all' cannot be combined");
        snprintf(line, sizeof line, "%s -f bot\n", verbs[i]);
        expect_error(line, "unknown option '-f'");
    }
    /* The usage rides along with a verb's errors. */
    expect_error("stop\n", "(usage: stop NAME...|all)");
}

static void signal_forms(void **state)
{
    (void)state;
    struct parsed *p = parse("signal HUP bot helper\n");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->req.verb, PROTO_SIGNAL);
    assert_int_equal(p->req.signo, SIGHUP);
    assert_int_equal(p->req.nnames, 2);
    assert_string_equal(p->req.names[1], "helper");
    p = parse("signal 9 bot\n");
    assert_int_equal(p->req.signo, SIGKILL);
    expect_error("signal HUP\n", "needs a signal and service names");
    expect_error("signal\n", "needs a signal");
    expect_error("signal NOPE bot\n", "unknown signal 'NOPE'");
    p = parse("signal HUP all\n");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->req.flags, PROTO_F_ALL);
    expect_error("signal HUP all bot\n", "'all' cannot be combined");
    expect_error("signal -9 bot\n", "unknown signal");

    assert_int_equal(proto_signal_parse("TERM"), SIGTERM);
    assert_int_equal(proto_signal_parse("SIGTERM"), SIGTERM);
    assert_int_equal(proto_signal_parse("sigterm"), SIGTERM);
    assert_int_equal(proto_signal_parse("usr1"), SIGUSR1);
    assert_int_equal(proto_signal_parse("WINCH"), SIGWINCH);
    assert_int_equal(proto_signal_parse("IOT"), SIGABRT);
    assert_int_equal(proto_signal_parse("1"), 1);
    assert_int_equal(proto_signal_parse("RTMIN"), SIGRTMIN);
    assert_int_equal(proto_signal_parse("RTMIN+3"), SIGRTMIN + 3);
    assert_int_equal(proto_signal_parse("SIGRTMAX-1"), SIGRTMAX - 1);
    assert_int_equal(proto_signal_parse("RTMAX"), SIGRTMAX);
    assert_int_equal(proto_signal_parse(""), -EINVAL);
    assert_int_equal(proto_signal_parse("SIG"), -EINVAL);
    assert_int_equal(proto_signal_parse("0"), -EINVAL);
    assert_int_equal(proto_signal_parse("65"), -EINVAL);
    assert_int_equal(proto_signal_parse("99999999999"), -EINVAL);
    assert_int_equal(proto_signal_parse("RTMIN-1"), -EINVAL);
    assert_int_equal(proto_signal_parse("RTMIN+99"), -EINVAL);
    assert_int_equal(proto_signal_parse("RTMAX+1"), -EINVAL);
    assert_int_equal(proto_signal_parse("RTFOO"), -EINVAL);
    assert_int_equal(proto_signal_parse("TERMX"), -EINVAL);
    assert_int_equal(proto_signal_parse("AVERYLONGSIGNALNAMEINDEED"), -EINVAL);
}

static void log_forms(void **state)
{
    (void)state;
    struct parsed *p = parse("log bot\n");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->req.verb, PROTO_LOG);
    assert_int_equal(p->req.flags, 0);
    assert_string_equal(p->req.names[0], "bot");

    p = parse("log -f -n 50 bot\n");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->req.flags, PROTO_F_FOLLOW | PROTO_F_LINES);
    assert_int_equal(p->req.lines, 50);
    assert_int_equal(p->req.nnames, 1);

    p = parse("log bot -n 0\n");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->req.lines, 0);
    assert_true(p->req.flags & PROTO_F_LINES);

    p = parse("log bot -n 1000000\n");
    assert_int_equal(p->rc, 0);
    expect_error("log bot -n 1000001\n", "bad number of lines");
    expect_error("log bot -n -5\n", "bad number of lines");
    expect_error("log bot -n 5x\n", "bad number of lines");
    expect_error("log bot -n\n", "-n needs a number");
    expect_error("log bot -n 1 -n 2\n", "-n given twice");
    expect_error("log\n", "exactly one service name, got 0");
    expect_error("log a b\n", "exactly one service name, got 2");
    expect_error("log all\n", "'all' is not a service name");
    expect_error("log bot --follow\n", "unknown option '--follow'");
}

static void check_recover_and_bare_verbs(void **state)
{
    (void)state;
    struct parsed *p = parse("check\n");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->req.verb, PROTO_CHECK);
    p = parse("check a b\n");
    assert_int_equal(p->req.nnames, 2);
    p = parse("check all\n");
    assert_int_equal(p->req.flags, PROTO_F_ALL);
    expect_error("check --json\n", "unknown option");

    p = parse("recover\n");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->req.verb, PROTO_RECOVER);
    assert_int_equal(p->req.flags, PROTO_F_ALL);
    p = parse("recover all\n");
    assert_int_equal(p->req.flags, PROTO_F_ALL);
    p = parse("recover bot\n");
    assert_int_equal(p->req.flags, 0);
    assert_string_equal(p->req.names[0], "bot");
    expect_error("recover a b\n", "one service name or 'all'");

    static const char *const bare[] = {"reload", "shutdown", "version"};
    static const enum proto_verb ids[] = {PROTO_RELOAD, PROTO_SHUTDOWN, PROTO_VERSION};
    for (int i = 0; i < 3; i++) {
        char line[64];
        snprintf(line, sizeof line, "%s\n", bare[i]);
        p = parse(line);
        assert_int_equal(p->rc, 0);
        assert_int_equal(p->req.verb, ids[i]);
        snprintf(line, sizeof line, "%s now\n", bare[i]);
        expect_error(line, "takes no arguments");
    }
}

static void malformed_lines(void **state)
{
    (void)state;
    expect_error("", "empty request");
    expect_error("\n", "empty request");
    expect_error("status", "does not end with a newline");
    expect_error("frobnicate\n", "unknown verb 'frobnicate'");
    expect_error("STATUS\n", "unknown verb");
    expect_error(" status\n", "empty argument");
    expect_error("status \n", "empty argument");
    expect_error("stop  bot\n", "empty argument");
    expect_error("status\r\n", "control character 0x0d");
    expect_error("status\tbot\n", "control character 0x09");
    expect_error("status \x7f\n", "control character 0x7f");
    expect_error("status\nstop all\n", "more than one line");
    expect_error("status b\xc3\xa9\n", "bad service name");
    /* A long unknown verb is quoted cut, so the message stays one short line. */
    char line[300];
    memset(line, 'x', 200);
    strcpy(line + 200, "\n");
    struct parsed *p = parse(line);
    assert_int_equal(p->rc, -EINVAL);
    assert_true(strlen(p->err) < 200);

    /* NUL bytes cannot come through a literal: build them. */
    char buf[] = "status b\0t\n";
    struct proto_request req;
    char err[PROTO_ERR_MAX];
    assert_int_equal(proto_parse_request(buf, sizeof buf - 1, &req, err, sizeof err), -EINVAL);
    assert_string_equal(err, "NUL byte in request");
    /* errlen 0 must not write. */
    char one[] = "nope\n";
    assert_int_equal(proto_parse_request(one, 5, &req, NULL, 0), -EINVAL);
    /* A tiny error buffer is cut, never overrun. */
    char tiny[8];
    memcpy(one, "nope\n", 5);
    assert_int_equal(proto_parse_request(one, 5, &req, tiny, sizeof tiny), -EINVAL);
    assert_int_equal(strlen(tiny), 7);
}

/* "status aaa...a aaa...a ...\n", exactly len bytes: 50-byte names, single spaces. */
static size_t build_long(char *buf, size_t len)
{
    size_t off = (size_t)sprintf(buf, "status ");
    for (; off < len - 1; off++)
        buf[off] = (off - 7) % 51 == 50 && off < len - 2 ? ' ' : 'a';
    buf[off++] = '\n';
    return off;
}

static void boundary_sizes(void **state)
{
    (void)state;
    static char buf[PROTO_LINE_MAX + 64];
    struct proto_request req;
    char err[PROTO_ERR_MAX];
    size_t n = build_long(buf, PROTO_LINE_MAX);
    assert_int_equal(n, PROTO_LINE_MAX);
    assert_int_equal(proto_parse_request(buf, n, &req, err, sizeof err), 0);
    assert_true(req.nnames > 60);

    n = build_long(buf, PROTO_LINE_MAX + 1);
    assert_int_equal(n, PROTO_LINE_MAX + 1);
    assert_int_equal(proto_parse_request(buf, n, &req, err, sizeof err), -EINVAL);
    assert_string_equal(err, "request too long (limit 4096 bytes)");

    /* Exactly PROTO_ARGS_MAX arguments pass, one more does not. */
    size_t off = (size_t)sprintf(buf, "status");
    for (int i = 0; i < PROTO_ARGS_MAX; i++)
        off += (size_t)sprintf(buf + off, " s%d", i % 10);
    buf[off++] = '\n';
    assert_int_equal(proto_parse_request(buf, off, &req, err, sizeof err), 0);
    assert_int_equal(req.nnames, PROTO_ARGS_MAX);
    assert_string_equal(req.names[PROTO_ARGS_MAX - 1], "s5");

    off = (size_t)sprintf(buf, "status");
    for (int i = 0; i <= PROTO_ARGS_MAX; i++)
        off += (size_t)sprintf(buf + off, " s");
    buf[off++] = '\n';
    assert_int_equal(proto_parse_request(buf, off, &req, err, sizeof err), -EINVAL);
    assert_string_equal(err, "too many arguments (limit 256)");
    assert_int_equal(req.nnames, 0);

    /* The most words a line can hold ("status s s s ..."): still only "too many". */
    off = (size_t)sprintf(buf, "status");
    while (off + 3 <= PROTO_LINE_MAX)
        off += (size_t)sprintf(buf + off, " s");
    buf[off++] = '\n';
    assert_int_equal(proto_parse_request(buf, off, &req, err, sizeof err), -EINVAL);
    assert_string_equal(err, "too many arguments (limit 256)");
}

/* Random bytes, and random mutations of good lines: never a crash, always a clear verdict. */
static void garbage_fuzz(void **state)
{
    (void)state;
    static const char *const seeds[] = {"status --json a b\n", "log bot -n 5 -f\n",
                                        "signal RTMIN+2 x y\n", "stop all\n", "recover\n"};
    static char buf[PROTO_LINE_MAX + 2];
    struct proto_request req;
    char err[PROTO_ERR_MAX];
    srand(12345);
    int ok = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n;
        if (iter % 2) {
            n = (size_t)(rand() % 64);
            for (size_t i = 0; i < n; i++)
                buf[i] = (char)(rand() % 256);
            if (n && rand() % 2)
                buf[n - 1] = '\n';
        } else {
            const char *s = seeds[rand() % 5];
            n = strlen(s);
            memcpy(buf, s, n);
            for (int k = rand() % 3; k >= 0; k--)
                buf[rand() % (int)n] = " -\nall0\x01"[rand() % 8];
        }
        int rc = proto_parse_request(buf, n, &req, err, sizeof err);
        assert_true(rc == 0 || rc == -EINVAL);
        if (rc == 0) {
            ok++;
            assert_true(req.verb < PROTO_VERB_COUNT);
            assert_true(req.nnames <= PROTO_ARGS_MAX);
            for (size_t i = 0; i < req.nnames; i++) {
                assert_true(req.names[i] >= buf && req.names[i] < buf + n);
                assert_true(proto_name_valid(req.names[i], strlen(req.names[i])));
            }
        } else {
            assert_true(err[0] != '\0');
        }
    }
    assert_true(ok > 0);
}

static void format_request(void **state)
{
    (void)state;
    char buf[PROTO_LINE_MAX + 1], err[PROTO_ERR_MAX];
    const char *argv[] = {"log", "bot", "-n", "5"};
    assert_int_equal(proto_format_request(buf, sizeof buf, 4, argv, err, sizeof err), 13);
    assert_string_equal(buf, "log bot -n 5\n");

    const char *one[] = {"status"};
    assert_int_equal(proto_format_request(buf, sizeof buf, 1, one, err, sizeof err), 7);
    assert_string_equal(buf, "status\n");

    assert_int_equal(proto_format_request(buf, sizeof buf, 0, one, err, sizeof err), -EINVAL);
    const char *sp[] = {"stop", "a b"};
    assert_int_equal(proto_format_request(buf, sizeof buf, 2, sp, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "contains a space"));
    const char *empty[] = {"stop", ""};
    assert_int_equal(proto_format_request(buf, sizeof buf, 2, empty, err, sizeof err), -EINVAL);
    const char *nl[] = {"stop", "a\nshutdown"};
    assert_int_equal(proto_format_request(buf, sizeof buf, 2, nl, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "control character"));

    /* Length: exactly PROTO_LINE_MAX fits, one more is -E2BIG; a small dst is honoured too. */
    static char big[PROTO_LINE_MAX];
    memset(big, 'a', sizeof big);
    big[PROTO_LINE_MAX - 8] = '\0'; /* "status " + 4088 + "\n" = 4096 */
    const char *lng[] = {"status", big};
    assert_int_equal(proto_format_request(buf, sizeof buf, 2, lng, err, sizeof err),
                     PROTO_LINE_MAX);
    big[PROTO_LINE_MAX - 8] = 'a';
    big[PROTO_LINE_MAX - 7] = '\0';
    assert_int_equal(proto_format_request(buf, sizeof buf, 2, lng, err, sizeof err), -E2BIG);
    assert_non_null(strstr(err, "too long"));
    char small[8];
    assert_int_equal(proto_format_request(small, sizeof small, 1, one, err, sizeof err), 7);
    const char *two[] = {"status", "x"};
    assert_int_equal(proto_format_request(small, sizeof small, 2, two, err, sizeof err), -E2BIG);

    static const char *many[PROTO_ARGS_MAX + 2];
    many[0] = "status";
    for (int i = 1; i < PROTO_ARGS_MAX + 2; i++)
        many[i] = "s";
    assert_true(proto_format_request(buf, sizeof buf, PROTO_ARGS_MAX + 1, many, err,
                                     sizeof err) > 0);
    assert_int_equal(proto_format_request(buf, sizeof buf, PROTO_ARGS_MAX + 2, many, err,
                                          sizeof err),
                     -E2BIG);
}

static void header_format(void **state)
{
    (void)state;
    char h[PROTO_HEADER_MAX + 32];
    assert_int_equal(proto_format_header(h, sizeof h, 0, NULL), 5);
    assert_string_equal(h, "OK 0\n");
    assert_int_equal(proto_format_header(h, sizeof h, 255, NULL), 7);
    assert_string_equal(h, "OK 255\n");
    assert_int_equal(proto_format_header(h, sizeof h, 3, NULL), 5);
    assert_int_equal(proto_format_header(h, sizeof h, 256, NULL), -EINVAL);
    assert_int_equal(proto_format_header(h, sizeof h, -1, NULL), -EINVAL);
    assert_int_equal(proto_format_header(h, 15, 0, NULL), -EINVAL);

    assert_true(proto_format_header(h, sizeof h, 4, "no such service 'x'") > 0);
    assert_string_equal(h, "ERR 4 no such service 'x'\n");
    assert_int_equal(proto_format_header(h, sizeof h, 0, "x"), -EINVAL);
    assert_true(proto_format_header(h, sizeof h, 2, "") > 0);
    assert_string_equal(h, "ERR 2 error\n");
    assert_true(proto_format_header(h, sizeof h, 1, "two\nlines\r\tand\x7f") > 0);
    assert_string_equal(h, "ERR 1 two lines  and \n");

    /* A long message is cut to PROTO_HEADER_MAX, never splitting a UTF-8 character. */
    char msg[2000];
    msg[0] = 'x'; /* so that the natural cut falls inside a character */
    for (int i = 0; i < 999; i++)
        memcpy(msg + 1 + 2 * i, "\xc3\xa9", 2);
    msg[1999] = '\0';
    int n = proto_format_header(h, sizeof h, 9, msg);
    assert_true(n > 0 && n <= PROTO_HEADER_MAX);
    assert_int_equal((size_t)n, strlen(h));
    assert_int_equal(h[n - 1], '\n');
    assert_int_equal((n - 1 - 7) % 2, 0); /* whole 2-byte characters after "ERR 9 x" */
    assert_int_equal(n, PROTO_HEADER_MAX - 2); /* 511 would split one: one byte less */
    struct proto_reply r;
    assert_int_equal(proto_parse_header(h, (size_t)n, &r), 0);

    /* And to a small dst. */
    char s16[16];
    n = proto_format_header(s16, sizeof s16, 2, "abcdefghijklmnop");
    assert_int_equal(n, 15);
    assert_string_equal(s16, "ERR 2 abcdefgh\n");
}

static void header_parse(void **state)
{
    (void)state;
    struct proto_reply r;
    assert_int_equal(proto_parse_header("OK 0\n", 5, &r), 0);
    assert_true(r.ok);
    assert_int_equal(r.code, 0);
    assert_null(r.msg);
    assert_int_equal(proto_parse_header("OK 3\n", 5, &r), 0);
    assert_int_equal(r.code, 3);
    assert_int_equal(proto_parse_header("ERR 4 no such service\n", 22, &r), 0);
    assert_false(r.ok);
    assert_int_equal(r.code, 4);
    assert_int_equal(r.msglen, 15);
    assert_memory_equal(r.msg, "no such service", 15);
    assert_int_equal(proto_parse_header("ERR 2\n", 6, &r), 0);
    assert_int_equal(r.msglen, 0);

    static const char *const bad[] = {
        "OK\n",         "OK 0",        "OK 256\n",   "OK -1\n",     "OK 1x\n",   "OK  1\n",
        "ok 0\n",       "ERR 0 x\n",   "ERR x\n",    "ERR 1x y\n",  "ERR\n",     "",
        "OK 0\nOK 0\n", "OK 1234\n",   "HTTP/1.1 200 OK\n",         "ERR 300 big\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (proto_parse_header(bad[i], strlen(bad[i]), &r) != -EPROTO)
            fail_msg("accepted bad header '%s'", bad[i]);
    char nul[] = "OK 0\0\n";
    assert_int_equal(proto_parse_header(nul, 6, &r), -EPROTO);
    char longh[PROTO_HEADER_MAX + 2];
    memset(longh, 'x', sizeof longh);
    memcpy(longh, "ERR 1 ", 6);
    longh[PROTO_HEADER_MAX] = '\n';
    assert_int_equal(proto_parse_header(longh, PROTO_HEADER_MAX + 1, &r), -EPROTO);
    longh[PROTO_HEADER_MAX - 1] = '\n';
    assert_int_equal(proto_parse_header(longh, PROTO_HEADER_MAX, &r), 0);

    /* Round trip of every code. */
    for (int code = 0; code < 256; code++) {
        char h[64];
        int n = proto_format_header(h, sizeof h, code, NULL);
        assert_int_equal(proto_parse_header(h, (size_t)n, &r), 0);
        assert_int_equal(r.code, code);
        if (code) {
            n = proto_format_header(h, sizeof h, code, "m");
            assert_int_equal(proto_parse_header(h, (size_t)n, &r), 0);
            assert_int_equal(r.code, code);
            assert_false(r.ok);
        }
    }
}

static const char *esc(const char *s, size_t len)
{
    static char out[256];
    size_t n = proto_json_escape(out, sizeof out, s, len);
    assert_true(n < sizeof out);
    assert_int_equal(strlen(out), n);
    return out;
}

static void json_escaping(void **state)
{
    (void)state;
    assert_string_equal(esc("plain", 5), "plain");
    assert_string_equal(esc("", 0), "");
    assert_string_equal(esc("a\"b\\c", 5), "a\\\"b\\\\c");
    assert_string_equal(esc("\n\r\t\b\f", 5), "\\n\\r\\t\\b\\f");
    assert_string_equal(esc("\x01\x1f\x7f", 3), "\\u0001\\u001f\\u007f");
    assert_string_equal(esc("a\0b", 3), "a\\u0000b");
    assert_string_equal(esc("/<>'", 4), "/<>'");
    /* Valid UTF-8 passes through: 2, 3 and 4 byte forms. */
    assert_string_equal(esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14),
                        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    /* Invalid UTF-8 becomes U+FFFD per byte: stray continuation, overlong, surrogate, > U+10FFFF,
     * truncated sequence at the end, 0xff. */
    assert_string_equal(esc("\x80", 1), "\\ufffd");
    assert_string_equal(esc("\xc0\xaf", 2), "\\ufffd\\ufffd");
    assert_string_equal(esc("\xe0\x80\xaf", 3), "\\ufffd\\ufffd\\ufffd");
    assert_string_equal(esc("\xed\xa0\x80", 3), "\\ufffd\\ufffd\\ufffd");
    assert_string_equal(esc("\xf4\x90\x80\x80", 4), "\\ufffd\\ufffd\\ufffd\\ufffd");
    assert_string_equal(esc("ok\xe2\x82", 4), "ok\\ufffd\\ufffd");
    assert_string_equal(esc("\xff", 1), "\\ufffd");
    assert_string_equal(esc("\xed\x9f\xbf", 3), "\xed\x9f\xbf"); /* U+D7FF, just below */
    assert_string_equal(esc("\xf4\x8f\xbf\xbf", 4), "\xf4\x8f\xbf\xbf"); /* U+10FFFF */

    /* snprintf semantics: the full length is returned, output cut at a character boundary. */
    char small[6];
    assert_int_equal(proto_json_escape(small, sizeof small, "ab\"cd", 5), 6);
    assert_string_equal(small, "ab\\\"c");
    assert_int_equal(proto_json_escape(small, sizeof small, "abcd\n", 5), 6);
    assert_string_equal(small, "abcd"); /* "\n" (2 bytes) does not fit: not half of it */
    assert_int_equal(proto_json_escape(small, sizeof small, "\x01", 1), 6);
    assert_string_equal(small, "");
    assert_int_equal(proto_json_escape(NULL, 0, "abc", 3), 3);
    char one[1] = {'x'};
    assert_int_equal(proto_json_escape(one, 1, "abc", 3), 3);
    assert_int_equal(one[0], '\0');
}

/* Every byte value in every position: the output is NUL-free, has no raw control character,
 * and escapes every quote and backslash. */
static void json_every_byte(void **state)
{
    (void)state;
    char src[3], out[64];
    for (int a = 0; a < 256; a++) {
        for (int b = 0; b < 256; b += 17) {
            src[0] = (char)a;
            src[1] = (char)b;
            src[2] = 'z';
            size_t n = proto_json_escape(out, sizeof out, src, 3);
            assert_true(n < sizeof out);
            assert_int_equal(strlen(out), n);
            for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)out[i];
                assert_true(c >= 0x20 && c != 0x7f);
                if (c == '"')
                    assert_true(i > 0 && out[i - 1] == '\\');
            }
            assert_int_equal(out[n - 1], 'z');
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verb_table_is_complete),
        cmocka_unit_test(names),
        cmocka_unit_test(status_forms),
        cmocka_unit_test(start_stop_restart),
        cmocka_unit_test(signal_forms),
        cmocka_unit_test(log_forms),
        cmocka_unit_test(check_recover_and_bare_verbs),
        cmocka_unit_test(malformed_lines),
        cmocka_unit_test(boundary_sizes),
        cmocka_unit_test(garbage_fuzz),
        cmocka_unit_test(format_request),
        cmocka_unit_test(header_format),
        cmocka_unit_test(header_parse),
        cmocka_unit_test(json_escaping),
        cmocka_unit_test(json_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
