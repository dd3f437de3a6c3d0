/* Tests for notify.c: the pure sd_notify parser; the per-service socket on a real loop with
 * datagrams from forked children (credentials, passed fds, oversized and garbage messages,
 * closing from the callback); the client towards the parent with path and abstract addresses;
 * and the hardware watchdog wrappers against ordinary files (no device needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "notify.h"

/* ---- parser ---- */

static int parse_str(const char *s, struct notify_msg *m)
{
    return notify_parse(s, strlen(s), m);
}

static void parse_every_key(void **state)
{
    (void)state;
    struct notify_msg m;
    const char *s = "READY=1\nSTOPPING=1\nWATCHDOG=1\nSTATUS=Serving 3 guilds\nMAINPID=4242\n"
                    "WATCHDOG_USEC=20000000\nERRNO=2\n";
    assert_int_equal(parse_str(s, &m), 7);
    assert_int_equal(m.flags, NOTIFY_READY | NOTIFY_STOPPING | NOTIFY_WATCHDOG | NOTIFY_HAS_STATUS |
                                  NOTIFY_HAS_MAINPID | NOTIFY_HAS_WATCHDOG_USEC | NOTIFY_HAS_ERRNO);
    assert_string_equal(m.status, "Serving 3 guilds");
    assert_int_equal(m.mainpid, 4242);
    assert_true(m.watchdog_usec == 20000000u);
    assert_int_equal(m.err, 2);
    assert_int_equal(m.pid, 0);

    assert_int_equal(parse_str("WATCHDOG=trigger", &m), 1);
    assert_int_equal(m.flags, NOTIFY_WATCHDOG_TRIGGER);
    assert_int_equal(parse_str("WATCHDOG_USEC=18446744073709551615", &m), 1);
    assert_true(m.watchdog_usec == UINT64_MAX);
    assert_int_equal(parse_str("ERRNO=0\nMAINPID=2147483647", &m), 2);
    assert_int_equal(m.err, 0);
    assert_int_equal(m.mainpid, 2147483647);
}

static void parse_lines_and_newlines(void **state)
{
    (void)state;
    struct notify_msg m;
    assert_int_equal(parse_str("READY=1", &m), 1); /* no trailing newline */
    assert_int_equal(m.flags, NOTIFY_READY);
    assert_int_equal(parse_str("\n\nREADY=1\n\nSTATUS=x", &m), 2);
    assert_int_equal(m.flags, NOTIFY_READY | NOTIFY_HAS_STATUS);
    assert_string_equal(m.status, "x");
    /* A value may hold '=': only the first one splits. */
    assert_int_equal(parse_str("STATUS=a=b=c\n", &m), 1);
    assert_string_equal(m.status, "a=b=c");
    /* Empty STATUS= is a status too: it clears the old one. */
    assert_int_equal(parse_str("STATUS=\n", &m), 1);
    assert_int_equal(m.flags, NOTIFY_HAS_STATUS);
    assert_string_equal(m.status, "");
    /* The first valid assignment of a valued key wins (as systemd's strv_find_startswith). */
    assert_int_equal(parse_str("STATUS=one\nSTATUS=two\nMAINPID=5\nMAINPID=6", &m), 2);
    assert_string_equal(m.status, "one");
    assert_int_equal(m.mainpid, 5);
    assert_int_equal(parse_str("MAINPID=x\nMAINPID=7", &m), 1);
    assert_int_equal(m.mainpid, 7);
}

static void parse_empty(void **state)
{
    (void)state;
    struct notify_msg m;
    memset(&m, 0x55, sizeof m);
    assert_int_equal(notify_parse("", 0, &m), 0);
    assert_int_equal(m.flags, 0);
    assert_int_equal(parse_str("\n\n\n", &m), 0);
    assert_int_equal(parse_str("=", &m), 0);
}

static void parse_ignores_garbage(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "READY",           "=1",          "READY=0",        "READY=yes",     "READY=1 ",
        " READY=1",        "ready=1",     "READY=11",       "STOPPING=true", "WATCHDOG=0",
        "WATCHDOG=Trigger", "MAINPID=",    "MAINPID=0",      "MAINPID=-1",    "MAINPID=+5",
        "MAINPID=12a",     "MAINPID= 12", "MAINPID=2147483648", "MAINPID=99999999999999999999999",
        "ERRNO=-5",        "ERRNO=",      "ERRNO=2147483648", "WATCHDOG_USEC=",
        "WATCHDOG_USEC=18446744073709551616", "WATCHDOG_USEC=1e6", "FDSTORE=1", "RELOADING=1",
        "BUSERROR=org.x.Y", "X_NINES=1",  "STATUS=\xff\xfe", "STATUS=\xc0\xaf",
        "STATUS=\xed\xa0\x80", "STATUS=\xe2\x82", "READY=1\r",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct notify_msg m;
        int rc = parse_str(bad[i], &m);
        if (rc != 0 || m.flags != 0)
            fail_msg("'%s' was understood (rc %d, flags %#x)", bad[i], rc, m.flags);
    }
    /* Garbage around good lines does not spoil them. */
    struct notify_msg m;
    assert_int_equal(parse_str("junk\n\x01\x02\x03\nREADY=1\nMAINPID=abc\n", &m), 1);
    assert_int_equal(m.flags, NOTIFY_READY);
}

static void parse_nul_bytes(void **state)
{
    (void)state;
    struct notify_msg m;
    static const char mid[] = "READY=1\0STOPPING=1";
    assert_int_equal(notify_parse(mid, sizeof mid - 1, &m), -EINVAL);
    assert_int_equal(m.flags, 0);
    static const char tail[] = "READY=1\n\0\0";
    assert_int_equal(notify_parse(tail, sizeof tail - 1, &m), 1);
    assert_int_equal(m.flags, NOTIFY_READY);
}

static void parse_status_text(void **state)
{
    (void)state;
    struct notify_msg m;
    /* Very long: cut to NOTIFY_STATUS_MAX - 1 bytes. */
    char buf[8000] = "STATUS=";
    memset(buf + 7, 'x', 5000);
    buf[5007] = '\0';
    assert_int_equal(parse_str(buf, &m), 1);
    assert_int_equal(strlen(m.status), NOTIFY_STATUS_MAX - 1);
    /* Multi-byte characters are never split: 2-byte 'é' repeated, odd room left. */
    strcpy(buf, "STATUS=");
    for (int i = 0; i < 300; i++)
        strcat(buf, "\xc3\xa9");
    assert_int_equal(parse_str(buf, &m), 1);
    size_t n = strlen(m.status);
    assert_int_equal(n, ((NOTIFY_STATUS_MAX - 1) / 2) * 2);
    assert_int_equal((unsigned char)m.status[n - 2], 0xc3);
    /* Control characters become spaces: no escape sequences reach a terminal. */
    assert_int_equal(parse_str("STATUS=a\tb\x1b[31mred\x7f", &m), 1);
    assert_string_equal(m.status, "a b [31mred ");
    /* 4-byte UTF-8 is fine. */
    assert_int_equal(parse_str("STATUS=ok \xf0\x9f\x91\x8d", &m), 1);
    assert_string_equal(m.status, "ok \xf0\x9f\x91\x8d");
}

/* Random bytes and random mixes of real lines: no crash, output always terminated. */
static void parse_fuzz(void **state)
{
    (void)state;
    static const char *const parts[] = {"READY=1", "STATUS=", "\xc3", "\xa9", "MAINPID=",
                                        "9",       "\n",      "=",   "WATCHDOG", "\0", "x"};
    unsigned seed = 12345;
    char buf[NOTIFY_MSG_MAX];
    for (int round = 0; round < 20000; round++) {
        size_t len = 0, want = (size_t)(rand_r(&seed) % 600);
        bool bytes = round % 2;
        while (len < want) {
            if (bytes) {
                buf[len++] = (char)(rand_r(&seed) & 0xff);
            } else {
                const char *p = parts[rand_r(&seed) % (sizeof parts / sizeof parts[0])];
                size_t pl = p[0] ? strlen(p) : 1;
                if (len + pl > sizeof buf)
                    break;
                memcpy(buf + len, p, pl);
                len += pl;
            }
        }
        struct notify_msg m;
        int rc = notify_parse(buf, len, &m);
        assert_true(rc >= -EINVAL);
        assert_true(memchr(m.status, '\0', sizeof m.status) != NULL);
        if (m.flags & NOTIFY_HAS_MAINPID)
            assert_true(m.mainpid > 0);
    }
}

/* ---- the per-service socket ---- */

struct rec {
    int calls;
    pid_t pid;
    struct notify_msg last;
    bool close_in_cb;    /* notify_close + free the heap-allocated ns from the callback */
};

static void on_msg(void *ctx, struct notify_sock *ns, pid_t pid, const struct notify_msg *msg)
{
    struct rec *r = ctx;
    r->calls++;
    r->pid = pid;
    r->last = *msg;
    if (r->close_in_cb) {
        notify_close(ns);
        free(ns);
    }
}

struct srv {
    char dir[64];
    char path[128];
    struct loop *loop;
    struct notify_sock ns;
    struct rec rec;
};

static int srv_setup(void **state)
{
    struct srv *s = calloc(1, sizeof *s);
    assert_non_null(s);
    strcpy(s->dir, "/tmp/nines-notify-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->path, sizeof s->path, "%s/svc.sock", s->dir);
    s->loop = loop_new();
    assert_non_null(s->loop);
    *state = s;
    return 0;
}

static int srv_teardown(void **state)
{
    struct srv *s = *state;
    notify_close(&s->ns);
    loop_free(s->loop);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    assert_int_equal(system(cmd), 0);
    free(s);
    return 0;
}

/* Child side: sends text (len bytes) to path with nfds fresh fds attached. Returns an exit code:
 * only async-signal-safe-ish plain calls, no cmocka in the child. */
static int child_send(const char *path, const char *text, size_t len, int nfds)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 10;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
    union {
        struct cmsghdr align;
        char b[CMSG_SPACE(sizeof(int) * 8)];
    } ctrl;
    memset(&ctrl, 0, sizeof ctrl);
    struct iovec iov = {.iov_base = (void *)text, .iov_len = len};
    struct msghdr mh = {.msg_name = &sa, .msg_namelen = sizeof sa, .msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        int fds[8];
        for (int i = 0; i < nfds; i++)
            if ((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
                return 11;
        mh.msg_control = ctrl.b;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    return sendmsg(fd, &mh, 0) == (ssize_t)len ? 0 : 12;
}

/* Forks a child that sends one datagram; returns its pid after it exited successfully. */
static pid_t send_from_child(const char *path, const char *text, size_t len, int nfds)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_send(path, text, len, nfds));
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    return pid;
}

/* Runs the loop until the callback count reaches want (or a second passes). */
static void run_until(struct srv *s, int want)
{
    for (int i = 0; i < 100 && s->rec.calls < want; i++)
        assert_int_equal(loop_run_once(s->loop, 10), 0);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    const struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void socket_round_trip(void **state)
{
    struct srv *s = *state;
    assert_int_equal(notify_open(&s->ns, s->loop, s->path, on_msg, &s->rec), 0);
    struct stat st;
    assert_int_equal(lstat(s->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0666);

    const char *text = "READY=1\nSTATUS=Connected to the gateway\nMAINPID=77\n";
    pid_t child = send_from_child(s->path, text, strlen(text), 0);
    run_until(s, 1);
    assert_int_equal(s->rec.calls, 1);
    assert_int_equal(s->rec.pid, child);
    assert_int_equal(s->rec.last.pid, child);
    assert_int_equal(s->rec.last.uid, getuid());
    assert_int_equal(s->rec.last.flags, NOTIFY_READY | NOTIFY_HAS_STATUS | NOTIFY_HAS_MAINPID);
    assert_string_equal(s->rec.last.status, "Connected to the gateway");
    assert_int_equal(s->rec.last.mainpid, 77);

    /* Several queued datagrams: each one reaches the callback, in order. */
    pid_t a = send_from_child(s->path, "WATCHDOG=1", 10, 0);
    pid_t b = send_from_child(s->path, "STOPPING=1", 10, 0);
    run_until(s, 2);
    assert_int_equal(s->rec.pid, a);
    assert_int_equal(s->rec.last.flags, NOTIFY_WATCHDOG);
    run_until(s, 3);
    assert_int_equal(s->rec.pid, b);
    assert_int_equal(s->rec.last.flags, NOTIFY_STOPPING);

    notify_close(&s->ns);
    assert_int_equal(lstat(s->path, &st), -1);
    assert_int_equal(errno, ENOENT);
    notify_close(&s->ns); /* twice: no-op */
}

static void passed_fds_are_closed(void **state)
{
    struct srv *s = *state;
    assert_int_equal(notify_open(&s->ns, s->loop, s->path, on_msg, &s->rec), 0);
    int before = count_fds();
    /* Understood message with fds, then one nobody understands (fds closed all the same). */
    send_from_child(s->path, "FDSTORE=1\nWATCHDOG=1", 20, 3);
    run_until(s, 1);
    assert_int_equal(s->rec.calls, 1);
    assert_int_equal(s->rec.last.flags, NOTIFY_WATCHDOG);
    send_from_child(s->path, "FDSTORE=1\nFDNAME=x", 18, 8);
    send_from_child(s->path, "READY=1", 7, 0);
    run_until(s, 2);
    assert_int_equal(s->rec.calls, 2);
    assert_int_equal(s->rec.last.flags, NOTIFY_READY);
    assert_int_equal(count_fds(), before);
}

static void oversized_and_garbage_ignored(void **state)
{
    struct srv *s = *state;
    assert_int_equal(notify_open(&s->ns, s->loop, s->path, on_msg, &s->rec), 0);
    int before = count_fds();
    static char big[NOTIFY_MSG_MAX + 100];
    memset(big, 'x', sizeof big);
    memcpy(big, "READY=1\n", 8);
    send_from_child(s->path, big, sizeof big, 2); /* too long: dropped whole, fds closed */
    send_from_child(s->path, big, NOTIFY_MSG_MAX, 0); /* exactly the limit: accepted */
    static const char nul[] = "STOPPING=1\0READY=1";
    send_from_child(s->path, nul, sizeof nul - 1, 0);
    send_from_child(s->path, "\x01\x02garbage", 9, 0);
    send_from_child(s->path, "", 0, 0);
    send_from_child(s->path, "STATUS=last", 11, 0);
    run_until(s, 2);
    for (int i = 0; i < 5; i++) /* anything still queued would show up now */
        loop_run_once(s->loop, 5);
    assert_int_equal(s->rec.calls, 2);
    assert_int_equal(s->rec.last.flags, NOTIFY_HAS_STATUS);
    assert_string_equal(s->rec.last.status, "last");
    assert_int_equal(count_fds(), before);
}

static void close_and_free_from_callback(void **state)
{
    struct srv *s = *state;
    struct notify_sock *ns = calloc(1, sizeof *ns);
    assert_non_null(ns);
    s->rec.close_in_cb = true;
    assert_int_equal(notify_open(ns, s->loop, s->path, on_msg, &s->rec), 0);
    send_from_child(s->path, "READY=1", 7, 0);
    send_from_child(s->path, "READY=1", 7, 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(loop_run_once(s->loop, 5), 0);
    assert_int_equal(s->rec.calls, 1); /* the second was queued on the socket that got closed */
    struct stat st;
    assert_int_equal(lstat(s->path, &st), -1);
}

static void socket_file_handling(void **state)
{
    struct srv *s = *state;
    /* A stale socket file from an earlier run is replaced. */
    int old = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, s->path);
    assert_int_equal(bind(old, (struct sockaddr *)&sa, sizeof sa), 0);
    close(old);
    assert_int_equal(notify_open(&s->ns, s->loop, s->path, on_msg, &s->rec), 0);
    send_from_child(s->path, "READY=1", 7, 0);
    run_until(s, 1);
    assert_int_equal(s->rec.calls, 1);
    notify_close(&s->ns);

    /* Anything else at path stays, and notify_open refuses. */
    int fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(notify_open(&s->ns, s->loop, s->path, on_msg, &s->rec), -EEXIST);
    assert_false(s->ns.open);
    struct stat st;
    assert_int_equal(lstat(s->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unlink(s->path);

    /* A socket file replaced by someone else after open is not removed by close. */
    assert_int_equal(notify_open(&s->ns, s->loop, s->path, on_msg, &s->rec), 0);
    unlink(s->path);
    int other = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_int_equal(bind(other, (struct sockaddr *)&sa, sizeof sa), 0);
    notify_close(&s->ns);
    assert_int_equal(lstat(s->path, &st), 0);
    close(other);

    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(notify_open(&s->ns, s->loop, longp, on_msg, &s->rec), -ENAMETOOLONG);
    assert_int_equal(notify_open(&s->ns, s->loop, "", on_msg, &s->rec), -EINVAL);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such.sock", s->dir);
    assert_int_equal(notify_open(&s->ns, s->loop, missing, on_msg, &s->rec), -ENOENT);
    struct notify_sock zero = {0};
    notify_close(&zero); /* zeroed: closed, no-op */
}

/* ---- the client towards the parent ---- */

/* Binds a receiving datagram socket at name ("/path" or "@abstract"). */
static int bind_receiver(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    socklen_t sl;
    if (name[0] == '@') {
        memcpy(sa.sun_path + 1, name + 1, len - 1);
        sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        memcpy(sa.sun_path, name, len + 1);
        sl = (socklen_t)sizeof sa;
    }
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sl), 0);
    return fd;
}

static void expect_dgram(int fd, const char *want)
{
    char buf[NOTIFY_MSG_MAX];
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

static void client_messages(int rfd, struct notify_parent *np)
{
    assert_int_equal(notify_parent_ready(np), 1);
    expect_dgram(rfd, "READY=1");
    assert_int_equal(notify_parent_status(np, "%d services up", 3), 1);
    expect_dgram(rfd, "STATUS=3 services up");
    assert_int_equal(notify_parent_watchdog(np), 1);
    expect_dgram(rfd, "WATCHDOG=1");
    assert_int_equal(notify_parent_stopping(np), 1);
    expect_dgram(rfd, "STOPPING=1");
    assert_int_equal(notify_parent_send(np, "RELOADING=1\nMONOTONIC_USEC=1"), 1);
    expect_dgram(rfd, "RELOADING=1\nMONOTONIC_USEC=1");
    assert_int_equal(notify_parent_send(np, ""), -EINVAL);
}

static void client_path_socket(void **state)
{
    struct srv *s = *state;
    snprintf(s->path, sizeof s->path, "%s/parent.sock", s->dir);
    int rfd = bind_receiver(s->path);
    struct notify_parent np;
    assert_int_equal(notify_parent_setup(&np, s->path, "4000000", NULL, getpid()), 1);
    assert_true(notify_parent_keepalive_ms(&np) == 2000);
    client_messages(rfd, &np);
    notify_parent_close(&np);
    assert_int_equal(notify_parent_ready(&np), 0); /* closed: silent */
    assert_true(notify_parent_keepalive_ms(&np) == 0);
    close(rfd);
}

static void client_abstract_socket(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof name, "@nines-test-notify-%d", (int)getpid());
    int rfd = bind_receiver(name);
    struct notify_parent np;
    assert_int_equal(notify_parent_setup(&np, name, NULL, NULL, getpid()), 1);
    assert_true(notify_parent_keepalive_ms(&np) == 0);
    client_messages(rfd, &np);
    notify_parent_close(&np);
    close(rfd);
}

static void client_from_environment(void **state)
{
    (void)state;
    char name[64], pid[16];
    snprintf(name, sizeof name, "@nines-test-notify-env-%d", (int)getpid());
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    int rfd = bind_receiver(name);
    struct notify_parent np;
    setenv("NOTIFY_SOCKET", name, 1);
    setenv("WATCHDOG_USEC", "30000000", 1);
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(notify_parent_init(&np), 1);
    assert_true(notify_parent_keepalive_ms(&np) == 15000);
    assert_string_equal(getenv("NOTIFY_SOCKET"), name); /* nothing unset */
    assert_int_equal(notify_parent_ready(&np), 1);
    expect_dgram(rfd, "READY=1");
    notify_parent_close(&np);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    assert_int_equal(notify_parent_init(&np), 0);
    assert_int_equal(notify_parent_ready(&np), 0);
    close(rfd);
}

static void client_watchdog_env(void **state)
{
    (void)state;
    struct notify_parent np;
    const char *sock = "@nines-test-unbound";
    pid_t me = getpid();
    char mine[16], other[16];
    snprintf(mine, sizeof mine, "%d", (int)me);
    snprintf(other, sizeof other, "%d", (int)me + 1);
    static const struct {
        const char *usec, *pid;
        uint64_t ms;
    } cases[] = {
        {"1000000", NULL, 500}, {"1000000", "", 500}, {"1000", NULL, 1}, {"1", NULL, 1},
        {"0", NULL, 0},         {"x", NULL, 0},       {"", NULL, 0},     {"-5", NULL, 0},
        {"1000000", "abc", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(notify_parent_setup(&np, sock, cases[i].usec, cases[i].pid, me), 1);
        if (notify_parent_keepalive_ms(&np) != cases[i].ms)
            fail_msg("case %zu: %llu ms", i, (unsigned long long)notify_parent_keepalive_ms(&np));
        notify_parent_close(&np);
    }
    assert_int_equal(notify_parent_setup(&np, sock, "1000000", mine, me), 1);
    assert_true(notify_parent_keepalive_ms(&np) == 500);
    notify_parent_close(&np);
    assert_int_equal(notify_parent_setup(&np, sock, "1000000", other, me), 1);
    assert_true(notify_parent_keepalive_ms(&np) == 0); /* meant for another process */
    notify_parent_close(&np);
    /* No socket: nothing to send keep-alives to. */
    assert_int_equal(notify_parent_setup(&np, NULL, "1000000", NULL, me), 0);
    assert_true(notify_parent_keepalive_ms(&np) == 0);
}

static void client_bad_addresses(void **state)
{
    (void)state;
    struct notify_parent np;
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(notify_parent_setup(&np, "relative/path", NULL, NULL, 1), -EINVAL);
    assert_int_equal(notify_parent_setup(&np, "@", NULL, NULL, 1), -EINVAL);
    assert_int_equal(notify_parent_setup(&np, "vsock:2:1234", NULL, NULL, 1), -EAFNOSUPPORT);
    assert_int_equal(notify_parent_setup(&np, longp, NULL, NULL, 1), -ENAMETOOLONG);
    longp[0] = '@';
    longp[108] = '\0'; /* '@' + 107 bytes: the largest abstract name */
    assert_int_equal(notify_parent_setup(&np, longp, NULL, NULL, 1), 1);
    notify_parent_close(&np);
    longp[108] = 'a';
    longp[109] = '\0';
    assert_int_equal(notify_parent_setup(&np, longp, NULL, NULL, 1), -EINVAL);
    assert_int_equal(np.fd, -1);
    assert_int_equal(notify_parent_ready(&np), 0);
    assert_int_equal(notify_parent_setup(&np, "", NULL, NULL, 1), 0);
}

static void client_failures_not_fatal(void **state)
{
    struct srv *s = *state;
    snprintf(s->path, sizeof s->path, "%s/later.sock", s->dir);
    struct notify_parent np;
    assert_int_equal(notify_parent_setup(&np, s->path, NULL, NULL, getpid()), 1);
    /* Nobody listening yet: failures, logged once, never fatal. */
    assert_int_equal(notify_parent_ready(&np), -ENOENT);
    assert_true(np.failing);
    assert_int_equal(notify_parent_watchdog(&np), -ENOENT);
    int rfd = bind_receiver(s->path);
    assert_int_equal(notify_parent_watchdog(&np), 1);
    assert_false(np.failing);
    expect_dgram(rfd, "WATCHDOG=1");
    /* A receiver that stops reading: the sender gets EAGAIN instead of blocking. */
    int rc = 1;
    for (int i = 0; i < 100000 && rc == 1; i++)
        rc = notify_parent_watchdog(&np);
    assert_int_equal(rc, -EAGAIN);
    notify_parent_close(&np);
    close(rfd);
}

static void client_status_is_one_line(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof name, "@nines-test-notify-st-%d", (int)getpid());
    int rfd = bind_receiver(name);
    struct notify_parent np;
    assert_int_equal(notify_parent_setup(&np, name, NULL, NULL, getpid()), 1);
    assert_int_equal(notify_parent_status(&np, "bad\nREADY=1\t%s", "x"), 1);
    expect_dgram(rfd, "STATUS=bad READY=1 x");
    /* Long text is cut at NOTIFY_STATUS_MAX - 1 bytes, never inside a UTF-8 character. */
    char big[700] = "";
    for (int i = 0; i < 200; i++)
        strcat(big, "\xe2\x82\xac"); /* 3-byte euro sign */
    assert_int_equal(notify_parent_status(&np, "%s", big), 1);
    char buf[NOTIFY_MSG_MAX];
    ssize_t n = recv(rfd, buf, sizeof buf, MSG_DONTWAIT);
    assert_int_equal(n, 7 + ((NOTIFY_STATUS_MAX - 1) / 3) * 3);
    struct notify_msg m;
    assert_int_equal(notify_parse(buf, (size_t)n, &m), 1); /* still valid UTF-8 */
    assert_int_equal(strlen(m.status), (size_t)n - 7);
    notify_parent_close(&np);
    close(rfd);
}

/* ---- hardware watchdog (ordinary files stand in for the device) ---- */

static void hwwd_wrappers(void **state)
{
    struct srv *s = *state;
    unsigned t = 99;
    assert_int_equal(hwwd_open("/nonexistent/watchdog", &t), -ENOENT);
    assert_int_equal(t, 0);

    /* A regular file has no watchdog ioctls: timeout unknown, keep-alive falls back to a write,
     * and the magic close writes 'V'. */
    char path[160];
    snprintf(path, sizeof path, "%s/wd", s->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    fd = hwwd_open(path, &t);
    assert_true(fd >= 0);
    assert_int_equal(t, 0);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    assert_int_equal(hwwd_keepalive(fd), 0);
    assert_int_equal(hwwd_keepalive(fd), 0);
    assert_int_equal(hwwd_close(fd, true), 0);
    char buf[8];
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    assert_int_equal(read(rfd, buf, sizeof buf), 3);
    close(rfd);
    assert_memory_equal(buf, "\0\0V", 3);

    fd = hwwd_open(path, &t);
    assert_true(fd >= 0);
    assert_int_equal(hwwd_close(fd, false), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 3); /* no truncation on open, no 'V' without magic */
    assert_int_equal(hwwd_close(-1, true), 0);
    assert_int_equal(hwwd_keepalive(-1), -EBADF);

    assert_true(hwwd_interval_ms(60) == 30000);
    assert_true(hwwd_interval_ms(1) == 500);
    assert_true(hwwd_interval_ms(0) == 1000);
}

int main(void)
{
    log_set_level(LOG_ERROR); /* the failure paths log warnings on purpose */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_every_key),
        cmocka_unit_test(parse_lines_and_newlines),
        cmocka_unit_test(parse_empty),
        cmocka_unit_test(parse_ignores_garbage),
        cmocka_unit_test(parse_nul_bytes),
        cmocka_unit_test(parse_status_text),
        cmocka_unit_test(parse_fuzz),
        cmocka_unit_test_setup_teardown(socket_round_trip, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(passed_fds_are_closed, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(oversized_and_garbage_ignored, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(close_and_free_from_callback, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(socket_file_handling, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(client_path_socket, srv_setup, srv_teardown),
        cmocka_unit_test(client_abstract_socket),
        cmocka_unit_test(client_from_environment),
        cmocka_unit_test(client_watchdog_env),
        cmocka_unit_test(client_bad_addresses),
        cmocka_unit_test_setup_teardown(client_failures_not_fatal, srv_setup, srv_teardown),
        cmocka_unit_test(client_status_is_one_line),
        cmocka_unit_test_setup_teardown(hwwd_wrappers, srv_setup, srv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
