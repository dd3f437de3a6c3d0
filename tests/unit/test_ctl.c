/* Tests for the control socket server: a real loop with ctl_open on a temp socket and a fake
 * owner, driven by client sockets in the same process (the loop runs between client steps).
 * Covers good requests, garbage, oversized and half requests, timeouts, many clients at once,
 * deferred and streamed replies, slow readers, authorisation and socket file handling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "util.h"

#define STATUS_TEXT "bot          RUNNING    pid 1234, uptime 3:02:11\n"
#define STATUS_REPLY "OK 0\n" STATUS_TEXT

struct fake {
    int requests, gones;
    struct ctl_conn *held[8];
    int nheld;
};

struct t {
    struct loop *loop;
    struct ctl *ctl;
    struct fake f;
    char dir[64];
    char path[128];
    int resets; /* replies that ended in ECONNRESET instead of EOF */
};

static void hold(struct fake *f, struct ctl_conn *c)
{
    assert_true(f->nheld < 8);
    f->held[f->nheld++] = c;
}

static void fake_request(void *ctx, struct ctl_conn *c, const struct proto_request *req)
{
    struct fake *f = ctx;
    f->requests++;
    switch (req->verb) {
    case PROTO_STATUS:
        ctl_reply(c, 0, STATUS_TEXT, strlen(STATUS_TEXT));
        return;
    case PROTO_CHECK: /* an owner error */
        ctl_reply_errorf(c, 4, "no such service '%s'", req->nnames ? req->names[0] : "?");
        return;
    case PROTO_RESTART: /* payload first, exit code at the end */
        ctl_printf(c, "restarted %s\n", req->names[0]);
        ctl_write_json(c, "q\"\n");
        ctl_end(c, 3);
        return;
    case PROTO_STOP: /* an error after the header went out */
        ctl_begin(c, 0);
        ctl_write(c, "stopping\n", 9);
        ctl_reply_error(c, 7, "boom");
        return;
    case PROTO_LOG:
        if (req->flags & PROTO_F_FOLLOW) {
            ctl_begin(c, 0);
            ctl_write(c, "line 1\n", 7);
        }
        hold(f, c);
        return;
    case PROTO_START: /* answered later by the test */
        hold(f, c);
        return;
    default:
        ctl_reply_error(c, 1, "not in this test");
        return;
    }
}

static void fake_gone(void *ctx, struct ctl_conn *c)
{
    struct fake *f = ctx;
    f->gones++;
    for (int i = 0; i < f->nheld; i++) {
        if (f->held[i] == c) {
            f->held[i] = f->held[--f->nheld];
            return;
        }
    }
    fail_msg("gone() for a conn the owner did not hold");
}

static const struct ctl_ops fake_ops = {fake_request, fake_gone};

static struct t *setup_with(const struct ctl_opts *opts)
{
    struct t *t = calloc(1, sizeof *t);
    assert_non_null(t);
    strcpy(t->dir, "/tmp/nines-ctl-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    chmod(t->dir, 0755); /* the unprivileged client of the permission test must reach it */
    snprintf(t->path, sizeof t->path, "%s/control.sock", t->dir);
    t->loop = loop_new();
    assert_non_null(t->loop);
    t->ctl = ctl_open(t->loop, t->path, &fake_ops, &t->f, opts);
    if (!t->ctl)
        fail_msg("ctl_open: %s", strerror(errno));
    return t;
}

static struct t *setup(void)
{
    return setup_with(NULL);
}

static void teardown(struct t *t)
{
    ctl_free(t->ctl);
    loop_free(t->loop);
    rmdir(t->dir);
    free(t);
}

static void pump(struct t *t, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (now_ms() < end)
        loop_run_once(t->loop, 2);
}

static int cli_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        fail_msg("connect: %s", strerror(errno));
    return fd;
}

static void cli_send(int fd, const char *buf, size_t len)
{
    assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Runs the loop and reads fd until EOF; the reply goes to out (NUL-terminated). */
static size_t collect(struct t *t, int fd, char *out, size_t cap, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    size_t n = 0;
    for (;;) {
        loop_run_once(t->loop, 2);
        assert_true(n < cap - 1);
        ssize_t r = recv(fd, out + n, cap - 1 - n, MSG_DONTWAIT);
        if (r > 0) {
            n += (size_t)r;
            continue;
        }
        if (r == 0)
            break;
        if (errno == ECONNRESET) {
            t->resets++;
            break;
        }
        assert_int_equal(errno, EAGAIN);
        if (now_ms() > end)
            fail_msg("no EOF within %d ms (have %zu bytes)", timeout_ms, n);
    }
    out[n] = '\0';
    return n;
}

/* One request, the whole reply. */
static const char *ask(struct t *t, const char *req, size_t len)
{
    static char out[8192];
    int fd = cli_connect(t->path);
    cli_send(fd, req, len);
    collect(t, fd, out, sizeof out, 3000);
    close(fd);
    return out;
}

#define ASK(t, s) ask((t), (s), sizeof(s) - 1)

static void settle_conns(struct t *t)
{
    uint64_t end = now_ms() + 2000;
    while (ctl_conn_count(t->ctl) && now_ms() < end)
        loop_run_once(t->loop, 2);
    assert_int_equal(ctl_conn_count(t->ctl), 0);
}

/* ---- tests ---- */

static void good_requests(void **state)
{
    (void)state;
    struct t *t = setup();
    assert_string_equal(ASK(t, "status\n"), STATUS_REPLY);
    assert_string_equal(ASK(t, "status --json bot\n"), STATUS_REPLY);
    const char *v = ASK(t, "version\n");
    assert_memory_equal(v, "OK 0\nnines " NINES_VERSION " (protocol 1)\n", strlen(v));
    assert_string_equal(ASK(t, "check nosuch\n"), "ERR 4 no such service 'nosuch'\n");
    assert_string_equal(ASK(t, "restart x\n"), "OK 3\nrestarted x\n\"q\\\"\\n\"");
    assert_string_equal(ASK(t, "stop x\n"), "OK 0\nstopping\nerror: boom\n");
    assert_int_equal(t->f.requests, 5); /* version is answered by ctl itself */
    assert_int_equal(t->f.gones, 0);
    assert_int_equal(t->resets, 0);
    settle_conns(t);
    /* Mode 0666: authorisation is per request. */
    struct stat st;
    assert_int_equal(stat(t->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0666);
    teardown(t);
}

static void garbage(void **state)
{
    (void)state;
    struct t *t = setup();
    assert_string_equal(ASK(t, "frobnicate\n"),
                        "ERR 2 unknown verb 'frobnicate' (verbs: status start stop restart "
                        "signal reload log check recover shutdown version)\n");
    assert_string_equal(ASK(t, "\x01\x02\xff garbage\n"),
                        "ERR 2 control character 0x01 in request\n");
    assert_string_equal(ASK(t, "status b\0t\n"), "ERR 2 NUL byte in request\n");
    assert_string_equal(ASK(t, "stop\n"),
                        "ERR 2 stop: needs service names or 'all' (usage: stop NAME...|all)\n");
    assert_string_equal(ASK(t, "\n"), "ERR 2 empty request\n");
    assert_string_equal(ASK(t, "status\nstatus\n"),
                        "ERR 2 data after the request line (one request per connection)\n");
    assert_string_equal(ASK(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                        "ERR 2 data after the request line (one request per connection)\n");
    assert_int_equal(t->f.requests, 0);
    assert_int_equal(t->resets, 0);
    assert_string_equal(ASK(t, "status\n"), STATUS_REPLY);
    settle_conns(t);
    teardown(t);
}

static void oversized_lines(void **state)
{
    (void)state;
    struct t *t = setup();
    static char big[10 * 1024 + 1];
    memset(big, 'a', sizeof big);
    /* 10 KB without a newline, then the same ending in one: both too long, and the client still
     * gets a clean EOF after the reply (the server drains what it did not read). */
    assert_string_equal(ask(t, big, sizeof big - 1), "ERR 2 request too long (limit 4096 bytes)\n");
    big[sizeof big - 1] = '\n';
    assert_string_equal(ask(t, big, sizeof big), "ERR 2 request too long (limit 4096 bytes)\n");
    assert_int_equal(t->resets, 0);
    /* Exactly 4096 bytes is fine, 4097 is not. */
    static char line[PROTO_LINE_MAX + 1];
    size_t off = (size_t)sprintf(line, "status ");
    for (; off < PROTO_LINE_MAX - 1; off++)
        line[off] = (off - 7) % 51 == 50 && off < PROTO_LINE_MAX - 2 ? ' ' : 'a';
    line[off++] = '\n';
    assert_string_equal(ask(t, line, off), STATUS_REPLY);
    memmove(line + 1, line, off);
    line[0] = 's'; /* "sstatus ...": still garbage, but too long comes first */
    assert_string_equal(ask(t, line, off + 1), "ERR 2 request too long (limit 4096 bytes)\n");
    assert_int_equal(t->f.requests, 1);
    settle_conns(t);
    teardown(t);
}

static void half_requests(void **state)
{
    (void)state;
    struct ctl_opts o = {.control_gid = CTL_NO_GID, .status_gid = CTL_NO_GID,
                         .read_timeout_ms = 150};
    struct t *t = setup_with(&o);
    char out[256];

    /* Half a request, then the client is gone: freed silently, nothing dispatched. */
    int fd = cli_connect(t->path);
    cli_send(fd, "sta", 3);
    pump(t, 20);
    assert_int_equal(ctl_conn_count(t->ctl), 1);
    close(fd);
    settle_conns(t);

    /* Half a request and silence: `ERR 2 timeout` at the read timeout, then closed. */
    fd = cli_connect(t->path);
    cli_send(fd, "sta", 3);
    uint64_t t0 = now_ms();
    collect(t, fd, out, sizeof out, 2000);
    assert_string_equal(out, "ERR 2 timeout\n");
    assert_true(now_ms() - t0 >= 140);
    close(fd);

    /* Connect and send nothing at all: the same. */
    fd = cli_connect(t->path);
    collect(t, fd, out, sizeof out, 2000);
    assert_string_equal(out, "ERR 2 timeout\n");
    close(fd);

    /* A half-close after a partial line can still read why it failed. */
    fd = cli_connect(t->path);
    cli_send(fd, "status", 6);
    shutdown(fd, SHUT_WR);
    collect(t, fd, out, sizeof out, 2000);
    assert_string_equal(out, "ERR 2 incomplete request (no newline)\n");
    close(fd);

    /* ... and a half-close after a whole request gets its answer. */
    fd = cli_connect(t->path);
    cli_send(fd, "status\n", 7);
    shutdown(fd, SHUT_WR);
    collect(t, fd, out, sizeof out, 2000);
    assert_string_equal(out, STATUS_REPLY);
    close(fd);

    /* Connect and close: nothing to answer. */
    close(cli_connect(t->path));
    settle_conns(t);
    assert_int_equal(t->f.requests, 1);
    assert_string_equal(ASK(t, "status\n"), STATUS_REPLY);
    settle_conns(t);
    teardown(t);
}

static void fifty_clients(void **state)
{
    (void)state;
    struct t *t = setup();
    enum { N = 50 };
    int fds[N];
    /* All connected and all but the last 10 requests sent before the loop runs once; the last
     * 10 send a byte at a time while the others are served. */
    for (int i = 0; i < N; i++)
        fds[i] = cli_connect(t->path);
    for (int i = 0; i < N - 10; i++)
        cli_send(fds[i], i % 2 ? "status\n" : "version\n", i % 2 ? 7 : 8);
    for (int k = 0; k < 7; k++) {
        for (int i = N - 10; i < N; i++)
            cli_send(fds[i], "status\n" + k, 1);
        loop_run_once(t->loop, 0);
    }
    pump(t, 10);
    for (int i = 0; i < N; i++) {
        char out[512];
        collect(t, fds[i], out, sizeof out, 3000);
        if (i % 2 || i >= N - 10)
            assert_string_equal(out, STATUS_REPLY);
        else
            assert_memory_equal(out, "OK 0\nnines ", 11);
        close(fds[i]);
    }
    settle_conns(t);
    assert_int_equal(t->f.requests, 25 + 5);
    /* And the loop still answers afterwards. */
    assert_string_equal(ASK(t, "status\n"), STATUS_REPLY);
    assert_int_equal(t->resets, 0);
    settle_conns(t);
    teardown(t);
}

static void deferred_reply(void **state)
{
    (void)state;
    struct t *t = setup();
    char out[256];
    int fd = cli_connect(t->path);
    cli_send(fd, "start bot\n", 10);
    while (t->f.nheld == 0)
        loop_run_once(t->loop, 2);
    pump(t, 20);
    assert_int_equal(recv(fd, out, sizeof out, MSG_DONTWAIT), -1); /* nothing yet */
    const struct ucred *cred = ctl_conn_peer(t->f.held[0]);
    assert_int_equal(cred->pid, getpid());
    assert_int_equal(cred->uid, geteuid());
    ctl_conn_set_data(t->f.held[0], t);
    assert_ptr_equal(ctl_conn_data(t->f.held[0]), t);
    ctl_reply(t->f.held[0], 0, "started\n", 8);
    t->f.nheld = 0;
    collect(t, fd, out, sizeof out, 2000);
    assert_string_equal(out, "OK 0\nstarted\n");
    close(fd);

    /* The client leaves before the answer: gone() once, from the loop. */
    fd = cli_connect(t->path);
    cli_send(fd, "start bot\n", 10);
    while (t->f.nheld == 0)
        loop_run_once(t->loop, 2);
    close(fd);
    uint64_t end = now_ms() + 2000;
    while (t->f.gones == 0 && now_ms() < end)
        loop_run_once(t->loop, 2);
    assert_int_equal(t->f.gones, 1);
    assert_int_equal(t->f.nheld, 0);
    settle_conns(t);

    /* A held conn when the server closes: gone() too. */
    fd = cli_connect(t->path);
    cli_send(fd, "start bot\n", 10);
    while (t->f.nheld == 0)
        loop_run_once(t->loop, 2);
    ctl_free(t->ctl);
    t->ctl = NULL;
    assert_int_equal(t->f.gones, 2);
    assert_int_equal(recv(fd, out, sizeof out, 0), 0);
    close(fd);
    struct stat st;
    assert_int_equal(stat(t->path, &st), -1); /* the socket file went with it */
    teardown(t);
}

static void streaming(void **state)
{
    (void)state;
    struct t *t = setup();
    char out[256];
    int fd = cli_connect(t->path);
    cli_send(fd, "log bot -f\n", 11);
    size_t n = 0;
    while (n < 12) {
        loop_run_once(t->loop, 2);
        ssize_t r = recv(fd, out + n, sizeof out - n, MSG_DONTWAIT);
        n += r > 0 ? (size_t)r : 0;
    }
    assert_memory_equal(out, "OK 0\nline 1\n", 12);
    assert_int_equal(ctl_write(t->f.held[0], "line 2\n", 7), 0);
    assert_int_equal(ctl_begin(t->f.held[0], 5), 0); /* ignored: the header is out */
    assert_int_equal(recv(fd, out, sizeof out, 0), 7);
    assert_memory_equal(out, "line 2\n", 7);
    close(fd);
    uint64_t end = now_ms() + 2000;
    while (t->f.gones == 0 && now_ms() < end)
        loop_run_once(t->loop, 2);
    assert_int_equal(t->f.gones, 1);

    /* The owner ends the stream. */
    fd = cli_connect(t->path);
    cli_send(fd, "log bot -f\n", 11);
    while (t->f.nheld == 0)
        loop_run_once(t->loop, 2);
    ctl_write(t->f.held[0], "line 2\n", 7);
    ctl_end(t->f.held[0], 9);
    t->f.nheld = 0;
    collect(t, fd, out, sizeof out, 2000);
    assert_string_equal(out, "OK 0\nline 1\nline 2\n");
    close(fd);
    settle_conns(t);
    teardown(t);
}

/* A client that does not read: its output buffer fills up to out_max, then it is dropped and
 * the owner hears gone() from the loop (not from inside ctl_write). */
static void slow_reader_dropped(void **state)
{
    (void)state;
    struct ctl_opts o = {.control_gid = CTL_NO_GID, .status_gid = CTL_NO_GID,
                         .out_max = 64 * 1024};
    struct t *t = setup_with(&o);
    int fd = cli_connect(t->path);
    cli_send(fd, "log bot -f\n", 11);
    while (t->f.nheld == 0)
        loop_run_once(t->loop, 2);
    static char chunk[4096];
    memset(chunk, 'x', sizeof chunk);
    int rc = 0;
    size_t sent = 0;
    while (rc == 0 && sent < 64u * 1024 * 1024) {
        rc = ctl_write(t->f.held[0], chunk, sizeof chunk);
        sent += sizeof chunk;
    }
    assert_int_equal(rc, -ENOBUFS);
    assert_int_equal(t->f.gones, 0); /* not re-entrantly */
    assert_int_equal(ctl_write(t->f.held[0], "x", 1), -EPIPE);
    loop_run_once(t->loop, 10);
    assert_int_equal(t->f.gones, 1);
    assert_int_equal(t->f.nheld, 0);
    assert_int_equal(ctl_conn_count(t->ctl), 0);
    close(fd);
    assert_string_equal(ASK(t, "status\n"), STATUS_REPLY);
    teardown(t);
}

/* Output that makes no progress for stall_ms: dropped even below out_max. */
static void stalled_reader_dropped(void **state)
{
    (void)state;
    struct ctl_opts o = {.control_gid = CTL_NO_GID, .status_gid = CTL_NO_GID, .stall_ms = 100};
    struct t *t = setup_with(&o);
    int fd = cli_connect(t->path);
    cli_send(fd, "log bot -f\n", 11);
    while (t->f.nheld == 0)
        loop_run_once(t->loop, 2);
    static char chunk[64 * 1024];
    memset(chunk, 'x', sizeof chunk);
    /* Enough to fill the socket buffers and leave some queued in ctl (< 1 MiB). */
    for (int i = 0; i < 12; i++)
        assert_int_equal(ctl_write(t->f.held[0], chunk, sizeof chunk), 0);
    uint64_t end = now_ms() + 2000;
    while (t->f.gones == 0 && now_ms() < end)
        loop_run_once(t->loop, 5);
    assert_int_equal(t->f.gones, 1);
    close(fd);
    settle_conns(t);
    teardown(t);
}

static void end_on_dead_conn(void **state)
{
    (void)state;
    struct ctl_opts o = {.control_gid = CTL_NO_GID, .status_gid = CTL_NO_GID, .out_max = 4096};
    struct t *t = setup_with(&o);
    int fd = cli_connect(t->path);
    cli_send(fd, "start bot\n", 10);
    while (t->f.nheld == 0)
        loop_run_once(t->loop, 2);
    /* Held payload over out_max: dropped. The owner then ends it itself: no gone(). */
    static char big[8192];
    assert_int_equal(ctl_write(t->f.held[0], big, sizeof big), -ENOBUFS);
    ctl_end(t->f.held[0], 0);
    t->f.nheld = 0;
    pump(t, 20);
    assert_int_equal(t->f.gones, 0);
    assert_int_equal(ctl_conn_count(t->ctl), 0);
    char out[64];
    assert_int_equal(recv(fd, out, sizeof out, 0), 0); /* closed without a header */
    close(fd);
    teardown(t);
}

/* Runs as nobody/nogroup in a child: asks req and checks the reply. */
static void child_ask(const char *path, const char *req, const char *want)
{
    if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
        _exit(3);
    alarm(5);
    int fd = cli_connect(path);
    send(fd, req, strlen(req), MSG_NOSIGNAL);
    char out[512];
    size_t n = 0;
    ssize_t r;
    while ((r = recv(fd, out + n, sizeof out - 1 - n, 0)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    if (strcmp(out, want)) {
        fprintf(stderr, "child: '%s' got '%s', want '%s'\n", req, out, want);
        _exit(1);
    }
    _exit(0);
}

/* As nobody: holds CTL_MAX_CONNS_PER_UID idle connections; one more is refused. */
static void child_flood(const char *path)
{
    if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
        _exit(3);
    alarm(5);
    for (unsigned i = 0; i < CTL_MAX_CONNS_PER_UID; i++)
        cli_connect(path); /* left open until exit */
    int fd = cli_connect(path);
    char out[128];
    ssize_t n = recv(fd, out, sizeof out - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    _exit(strcmp(out, "ERR 1 too many connections\n") ? 1 : 0);
}

static void ask_as_nobody(struct t *t, const char *req, const char *want)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0 && req)
        child_ask(t->path, req, want);
    if (pid == 0)
        child_flood(t->path);
    int status = 0;
    uint64_t end = now_ms() + 5000;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        loop_run_once(t->loop, 2);
        assert_true(now_ms() < end);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void authorisation(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* needs to become another uid */
    struct t *t = setup();
    /* No groups configured: a stranger may do nothing, not even version. */
    ask_as_nobody(t, "status\n", "ERR 1 permission denied\n");
    ask_as_nobody(t, "version\n", "ERR 1 permission denied\n");
    /* status_group: the read-only verbs only. */
    ctl_set_groups(t->ctl, CTL_NO_GID, 65534);
    ask_as_nobody(t, "status\n", STATUS_REPLY);
    ask_as_nobody(t, "check x\n", "ERR 4 no such service 'x'\n");
    ask_as_nobody(t, "stop x\n", "ERR 1 permission denied\n");
    ask_as_nobody(t, "shutdown\n", "ERR 1 permission denied\n");
    /* Parse errors only after access is known. */
    ask_as_nobody(t, "frob\n", "ERR 2 unknown verb 'frob' (verbs: status start stop restart "
                               "signal reload log check recover shutdown version)\n");
    /* control_group: everything. */
    ctl_set_groups(t->ctl, 65534, CTL_NO_GID);
    ask_as_nobody(t, "restart x\n", "OK 3\nrestarted x\n\"q\\\"\\n\"");
    /* A group the peer is not in. */
    ctl_set_groups(t->ctl, 4242, 4243);
    ask_as_nobody(t, "status\n", "ERR 1 permission denied\n");
    /* One unprivileged uid cannot take every connection slot. */
    ask_as_nobody(t, NULL, NULL);
    assert_string_equal(ASK(t, "status\n"), STATUS_REPLY);
    settle_conns(t);
    teardown(t);
}

static void access_rules(void **state)
{
    (void)state;
    const gid_t groups[] = {5, 27, 100};
    enum { N = CTL_NO_GID };
    assert_int_equal(ctl_access_decide(0, 0, NULL, 0, 1000, N, N), CTL_ACCESS_CONTROL);
    assert_int_equal(ctl_access_decide(1000, 1000, NULL, 0, 1000, N, N), CTL_ACCESS_CONTROL);
    assert_int_equal(ctl_access_decide(1001, 1001, groups, 3, 1000, N, N), CTL_ACCESS_NONE);
    assert_int_equal(ctl_access_decide(1001, 27, NULL, 0, 1000, 27, N), CTL_ACCESS_CONTROL);
    assert_int_equal(ctl_access_decide(1001, 1001, groups, 3, 1000, 27, N), CTL_ACCESS_CONTROL);
    assert_int_equal(ctl_access_decide(1001, 1001, groups, 3, 1000, 42, 100), CTL_ACCESS_STATUS);
    assert_int_equal(ctl_access_decide(1001, 1001, groups, 3, 1000, 5, 100), CTL_ACCESS_CONTROL);
    assert_int_equal(ctl_access_decide(1001, 1001, groups, 2, 1000, 42, 100), CTL_ACCESS_NONE);
    /* CTL_NO_GID never matches, even a peer whose gid is (gid_t)-1. */
    assert_int_equal(ctl_access_decide(1001, N, NULL, 0, 1000, N, N), CTL_ACCESS_NONE);

    gid_t out[4];
    assert_int_equal(ctl_proc_groups("Name:\tbash\nUid:\t1 1 1 1\nGroups:\t4 24 27 \nNgid:\t0\n",
                                     out, 4),
                     3);
    assert_int_equal(out[0], 4);
    assert_int_equal(out[2], 27);
    assert_int_equal(ctl_proc_groups("Groups:\t\nX:\t1\n", out, 4), 0);
    assert_int_equal(ctl_proc_groups("Groups:", out, 4), 0);
    assert_int_equal(ctl_proc_groups("Name:\tx\nGid:\t5\n", out, 4), -ENOENT);
    assert_int_equal(ctl_proc_groups("", out, 4), -ENOENT);
    assert_int_equal(ctl_proc_groups("Groups:\t1 2 3 4 5 6\n", out, 2), 6);
    assert_int_equal(out[1], 2);
    assert_int_equal(ctl_proc_groups("Groups:\t99999999999999999999 7\n", out, 4), 2);
    assert_int_equal(out[0], CTL_NO_GID);
    assert_int_equal(out[1], 7);
    /* "Groups:" must start a line. */
    assert_int_equal(ctl_proc_groups("XGroups:\t1\n", out, 4), -ENOENT);
}

static void socket_file(void **state)
{
    (void)state;
    struct t *t = setup();
    struct loop *loop2 = loop_new();
    struct fake f2 = {0};
    /* A live server keeps its socket. */
    assert_null(ctl_open(loop2, t->path, &fake_ops, &f2, NULL));
    assert_int_equal(errno, EADDRINUSE);
    assert_string_equal(ASK(t, "status\n"), STATUS_REPLY);
    settle_conns(t);
    /* A stale socket (its server died without unlinking) is replaced. */
    char stale[160];
    snprintf(stale, sizeof stale, "%s/stale.sock", t->dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, stale);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    close(s);
    struct ctl *c2 = ctl_open(loop2, stale, &fake_ops, &f2, NULL);
    assert_non_null(c2);
    ctl_free(c2);
    struct stat st;
    assert_int_equal(lstat(stale, &st), -1);
    /* A file that is not a socket is never removed. */
    FILE *fp = fopen(stale, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_null(ctl_open(loop2, stale, &fake_ops, &f2, NULL));
    assert_int_equal(errno, EADDRINUSE);
    assert_int_equal(lstat(stale, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unlink(stale);
    /* Paths: too long, missing directory. */
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    assert_null(ctl_open(loop2, longp, &fake_ops, &f2, NULL));
    assert_int_equal(errno, ENAMETOOLONG);
    snprintf(stale, sizeof stale, "%s/no/such.sock", t->dir);
    assert_null(ctl_open(loop2, stale, &fake_ops, &f2, NULL));
    assert_int_equal(errno, ENOENT);
    loop_free(loop2);
    char dir[64];
    strcpy(dir, t->dir);
    teardown(t);
    assert_int_equal(lstat(dir, &st), -1); /* the test left nothing behind */
}

static void too_many_connections(void **state)
{
    (void)state;
    struct t *t = setup();
    enum { N = CTL_MAX_CONNS + 1 };
    static int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = cli_connect(t->path);
        if (i % 32 == 31)
            loop_run_once(t->loop, 0);
    }
    pump(t, 20);
    assert_int_equal(ctl_conn_count(t->ctl), CTL_MAX_CONNS);
    char out[128];
    collect(t, fds[N - 1], out, sizeof out, 1000);
    assert_string_equal(out, "ERR 1 too many connections\n");
    for (int i = 0; i < N; i++)
        close(fds[i]);
    settle_conns(t);
    assert_string_equal(ASK(t, "status\n"), STATUS_REPLY);
    teardown(t);
}

int main(void)
{
    log_set_level(LOG_ERROR); /* the denials and drops are expected here */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_requests),
        cmocka_unit_test(garbage),
        cmocka_unit_test(oversized_lines),
        cmocka_unit_test(half_requests),
        cmocka_unit_test(fifty_clients),
        cmocka_unit_test(deferred_reply),
        cmocka_unit_test(streaming),
        cmocka_unit_test(slow_reader_dropped),
        cmocka_unit_test(stalled_reader_dropped),
        cmocka_unit_test(end_on_dead_conn),
        cmocka_unit_test(authorisation),
        cmocka_unit_test(access_rules),
        cmocka_unit_test(socket_file),
        cmocka_unit_test(too_many_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
