/* Tests for probe.c: real checks on a real loop (loop_run_once until the result arrives) against
 * servers the test starts itself: a forked HTTP server with canned routes on 127.0.0.1 (one
 * process per connection, so a hanging route holds up nothing), in-process TCP listeners, exec
 * checks reaped through a signalfd + waitpid(-1) loop like the supervisor's, and for TLS
 * tests/pytest/probe_server.py with a self-signed certificate (skipped without python3/openssl). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "loop.h"
#include "curlso.h"
#include "probe.h"
#include "sig.h"
#include "util.h"

/* ------------------------------------------------------------------ the canned HTTP server */

static struct sigstate g_sig;
static pid_t g_srv = -1;
static uint16_t g_port;

static void send_all(int c, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(c, buf, n);
        if (w <= 0)
            return;
        buf += w;
        n -= (size_t)w;
    }
}

static void respond(int c, int code, const char *extra, const char *body, bool head)
{
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr, "HTTP/1.1 %d X\r\nConnection: close\r\n%sContent-Length: %zu\r\n\r\n",
                     code, extra, strlen(body));
    send_all(c, hdr, (size_t)n);
    if (!head)
        send_all(c, body, strlen(body));
}

static void serve_conn(int c)
{
    char buf[8192], method[16] = "", path[256] = "";
    size_t n = 0;
    while (n < sizeof buf - 1) {
        ssize_t r = read(c, buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    buf[n] = '\0';
    if (sscanf(buf, "%15s %255s", method, path) != 2)
        return;
    bool head = strcmp(method, "HEAD") == 0;
    int code;
    if (strcmp(path, "/ok") == 0) {
        respond(c, 200, "", "ok\n", head);
    } else if (sscanf(path, "/status/%d", &code) == 1) {
        respond(c, code, "", "status\n", head);
    } else if (strcmp(path, "/hang") == 0) {
        for (;;)
            pause();
    } else if (strcmp(path, "/head405") == 0) {
        respond(c, head ? 405 : 200, "", "get only\n", head);
    } else if (strcmp(path, "/retry7") == 0) {
        respond(c, 429, "Retry-After: 7\r\n", "slow down\n", head);
    } else if (strcmp(path, "/retrydate") == 0) {
        char extra[128];
        time_t t = time(NULL) + 20;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(extra, sizeof extra, "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        respond(c, 429, extra, "slow down\n", head);
    } else if (strcmp(path, "/redirect") == 0) {
        respond(c, 302, "Location: /ok\r\n", "", head);
    } else if (strcmp(path, "/auth") == 0) {
        respond(c, strcasestr(buf, "\r\nAuthorization: Bot secret\r\n") ? 200 : 401, "", "auth\n", head);
    } else if (strcmp(path, "/big") == 0) {
        static char chunk[65536];
        memset(chunk, 'x', sizeof chunk);
        static const char hdr[] = "HTTP/1.1 200 X\r\nConnection: close\r\nContent-Length: 4194304\r\n\r\n";
        send_all(c, hdr, sizeof hdr - 1);
        for (int i = 0; i < 64; i++) /* 4 MiB: the client stops reading after PROBE_BODY_MAX */
            send_all(c, chunk, sizeof chunk);
    } else if (strcmp(path, "/close") == 0) {
        /* nothing: an empty reply */
    } else {
        respond(c, 404, "", "nope\n", head);
    }
}

static _Noreturn void server_main(int lfd)
{
    sigprocmask(SIG_SETMASK, &g_sig.orig_mask, NULL);
    signal(SIGCHLD, SIG_IGN); /* connection handlers reap themselves */
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0)
            continue;
        if (fork() == 0) {
            close(lfd);
            serve_conn(c);
            _exit(0);
        }
        close(c);
    }
}

/* A listening TCP socket on 127.0.0.1, any port. */
static int listen_any(uint16_t *port, int backlog)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, backlog), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port nobody listens on (bound then closed: refused on connect). */
static uint16_t dead_port(void)
{
    uint16_t port;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int group_setup(void **state)
{
    (void)state;
    if (sig_block_all(&g_sig) < 0)
        return -1;
    /* Like nines: orphaned grandchildren of exec checks come back to us to be reaped. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    int lfd = listen_any(&g_port, 64);
    g_srv = fork();
    if (g_srv < 0)
        return -1;
    if (g_srv == 0) {
        setpgid(0, 0);
        server_main(lfd);
    }
    setpgid(g_srv, g_srv);
    close(lfd);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (g_srv > 0) {
        kill(-g_srv, SIGKILL);
        waitpid(g_srv, NULL, 0);
    }
    return 0;
}

/* ------------------------------------------------------------------ per-test loop and reaper */

struct env {
    struct loop *loop;
    struct prober pr;
    int sfd;
    struct watcher sw;
    int claimed, unknown; /* reaped children: exec checks / others */
    pid_t last_unknown;
};

static void on_sigchld(struct loop *loop, struct watcher *w, uint32_t events)
{
    (void)loop;
    (void)events;
    struct env *e = w->data;
    struct signalfd_siginfo si;
    while (read(w->fd, &si, sizeof si) == (ssize_t)sizeof si)
        ;
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        if (pid == g_srv) {
            g_srv = -1;
            e->unknown++;
        } else if (prober_child_exited(&e->pr, pid, st)) {
            e->claimed++;
        } else {
            e->unknown++;
            e->last_unknown = pid;
        }
    }
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    if (!e)
        return -1;
    e->loop = loop_new();
    if (!e->loop || prober_init(&e->pr, e->loop, &g_sig) < 0)
        return -1;
    e->sfd = sig_open_fd(&g_sig);
    if (e->sfd < 0)
        return -1;
    watcher_init(&e->sw, e->sfd, on_sigchld, e);
    if (loop_watch(e->loop, &e->sw, EPOLLIN) < 0)
        return -1;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    prober_free(&e->pr);
    loop_unwatch(e->loop, &e->sw);
    close(e->sfd);
    /* Nothing of ours may be left: no watcher, no timer (curl's included). */
    assert_int_equal(loop_timer_count(e->loop), 0);
    loop_free(e->loop);
    free(e);
    return 0;
}

struct outcome {
    int calls;
    struct probe_result res;
    uint64_t at_ms;
};

static void on_done(void *ctx, const struct probe_result *res)
{
    struct outcome *o = ctx;
    o->calls++;
    o->res = *res;
    o->at_ms = now_ms();
}

/* Runs the loop until *calls reaches want or max_ms passes. Returns the elapsed ms. */
static uint64_t run_until(struct env *e, const int *calls, int want, uint64_t max_ms)
{
    uint64_t t0 = now_ms();
    while (*calls < want && now_ms() - t0 < max_ms)
        assert_int_equal(loop_run_once(e->loop, 20), 0);
    return now_ms() - t0;
}

static void run_for(struct env *e, uint64_t ms)
{
    uint64_t t0 = now_ms();
    while (now_ms() - t0 < ms)
        assert_int_equal(loop_run_once(e->loop, 10), 0);
}

static struct probe_request http_req(const char *path, char *buf, size_t len, uint64_t timeout_ms)
{
    snprintf(buf, len, "http://127.0.0.1:%u%s", (unsigned)g_port, path);
    return (struct probe_request){.kind = PROBE_KIND_HTTP, .url = buf, .timeout_ms = timeout_ms};
}

/* One HTTP check of path; the callback must not run inside probe_start(). */
static struct outcome http_check(struct env *e, const struct probe_request *req)
{
    struct probe p;
    struct outcome o = {0};
    probe_init(&p);
    assert_int_equal(probe_start(&e->pr, &p, req, on_done, &o), 0);
    assert_int_equal(o.calls, 0);
    assert_true(probe_busy(&p));
    run_until(e, &o.calls, 1, 5000);
    assert_int_equal(o.calls, 1);
    assert_false(probe_busy(&p));
    assert_int_equal(o.res.kind, PROBE_KIND_HTTP);
    return o;
}

static struct outcome http_path(struct env *e, const char *path)
{
    char url[128];
    struct probe_request req = http_req(path, url, sizeof url, 3000);
    return http_check(e, &req);
}

/* ------------------------------------------------------------------ HTTP */

static void http_200_healthy(void **state)
{
    struct env *e = *state;
    struct outcome o = http_path(e, "/ok");
    assert_int_equal(o.res.status, PROBE_HEALTHY);
    assert_int_equal(o.res.code, 200);
    assert_string_equal(o.res.detail, "HTTP 200");
    assert_false(o.res.timed_out);
    assert_true(o.res.latency_ms < 2000);
}

static void http_500_unhealthy(void **state)
{
    struct env *e = *state;
    struct outcome o = http_path(e, "/status/500");
    assert_int_equal(o.res.status, PROBE_UNHEALTHY);
    assert_int_equal(o.res.code, 500);
    assert_string_equal(o.res.detail, "HTTP 500");
    o = http_path(e, "/status/404");
    assert_int_equal(o.res.status, PROBE_UNHEALTHY);
    assert_int_equal(o.res.code, 404);
}

static void http_401_403_auth(void **state)
{
    struct env *e = *state;
    struct outcome o = http_path(e, "/status/401");
    assert_int_equal(o.res.status, PROBE_AUTH);
    assert_int_equal(o.res.code, 401);
    assert_string_equal(o.res.detail, "HTTP 401");
    o = http_path(e, "/status/403");
    assert_int_equal(o.res.status, PROBE_AUTH);
    assert_int_equal(o.res.code, 403);
}

static void http_429_retry_after(void **state)
{
    struct env *e = *state;
    struct outcome o = http_path(e, "/retry7");
    assert_int_equal(o.res.status, PROBE_RATELIMIT);
    assert_int_equal(o.res.code, 429);
    assert_true(o.res.has_retry_after);
    assert_int_equal(o.res.retry_after_ms, 7000);
    assert_string_equal(o.res.detail, "HTTP 429, retry after 7000 ms");

    o = http_path(e, "/retrydate"); /* an HTTP date 20 s ahead */
    assert_int_equal(o.res.status, PROBE_RATELIMIT);
    assert_true(o.res.has_retry_after);
    assert_in_range(o.res.retry_after_ms, 17000, 21000);

    o = http_path(e, "/status/429"); /* no Retry-After: still not a failure */
    assert_int_equal(o.res.status, PROBE_RATELIMIT);
    assert_false(o.res.has_retry_after);
    assert_string_equal(o.res.detail, "HTTP 429");
}

static void http_get_not_head(void **state)
{
    struct env *e = *state;
    struct outcome o = http_path(e, "/head405"); /* Horust#277 */
    assert_int_equal(o.res.status, PROBE_HEALTHY);
    assert_int_equal(o.res.code, 200);
}

static void http_redirect_and_expect(void **state)
{
    struct env *e = *state;
    struct outcome o = http_path(e, "/redirect"); /* not followed: 302 is in 200-399 */
    assert_int_equal(o.res.status, PROBE_HEALTHY);
    assert_int_equal(o.res.code, 302);

    char url[128];
    struct parse_http_ranges only200;
    assert_int_equal(parse_http_ranges("200", &only200), 0);
    struct probe_request req = http_req("/redirect", url, sizeof url, 3000);
    req.expect = &only200;
    o = http_check(e, &req);
    assert_int_equal(o.res.status, PROBE_UNHEALTHY);
    assert_string_equal(o.res.detail, "HTTP 302");

    struct parse_http_ranges with503;
    assert_int_equal(parse_http_ranges("200-299, 503", &with503), 0);
    req = http_req("/status/503", url, sizeof url, 3000);
    req.expect = &with503;
    o = http_check(e, &req);
    assert_int_equal(o.res.status, PROBE_HEALTHY);

    struct parse_http_ranges with401; /* an explicit expect wins over the auth reading */
    assert_int_equal(parse_http_ranges("200,401", &with401), 0);
    req = http_req("/status/401", url, sizeof url, 3000);
    req.expect = &with401;
    o = http_check(e, &req);
    assert_int_equal(o.res.status, PROBE_HEALTHY);
}

static void http_request_headers(void **state)
{
    struct env *e = *state;
    char url[128];
    const char *const hdrs[] = {"Authorization: Bot secret", NULL};
    struct probe_request req = http_req("/auth", url, sizeof url, 3000);
    req.headers = hdrs;
    struct outcome o = http_check(e, &req);
    assert_int_equal(o.res.status, PROBE_HEALTHY);
    o = http_path(e, "/auth");
    assert_int_equal(o.res.status, PROBE_AUTH);
}

static void http_connection_refused(void **state)
{
    struct env *e = *state;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/ok", (unsigned)dead_port());
    struct probe_request req = {.kind = PROBE_KIND_HTTP, .url = url, .timeout_ms = 3000};
    struct outcome o = http_check(e, &req);
    assert_int_equal(o.res.status, PROBE_UNHEALTHY);
    assert_int_equal(o.res.code, 0);
    assert_string_equal(o.res.detail, "connection refused");
}

static void http_odd_answers(void **state)
{
    struct env *e = *state;
    struct outcome o = http_path(e, "/close");
    assert_int_equal(o.res.status, PROBE_UNHEALTHY);
    assert_string_equal(o.res.detail, "empty reply");

    o = http_path(e, "/big"); /* body cut after PROBE_BODY_MAX: judged by its status */
    assert_int_equal(o.res.status, PROBE_HEALTHY);
    assert_int_equal(o.res.code, 200);

    char url[64] = "ftp://127.0.0.1/x"; /* only http and https */
    struct probe_request req = {.kind = PROBE_KIND_HTTP, .url = url, .timeout_ms = 3000};
    o = http_check(e, &req);
    assert_int_equal(o.res.status, PROBE_UNHEALTHY);
}

struct ticker {
    struct timer t;
    int ticks;
};

static void on_tick(struct loop *loop, struct timer *t)
{
    struct ticker *k = t->data;
    k->ticks++;
    assert_int_equal(timer_start(loop, t, 50), 0);
}

static void http_hang_times_out_loop_keeps_running(void **state)
{
    struct env *e = *state;
    struct ticker k = {0};
    timer_init(&k.t, on_tick, &k);
    assert_int_equal(timer_start(e->loop, &k.t, 50), 0);

    char url[128];
    struct probe_request req = http_req("/hang", url, sizeof url, 300);
    struct probe p;
    struct outcome o = {0};
    probe_init(&p);
    uint64_t t0 = now_ms();
    assert_int_equal(probe_start(&e->pr, &p, &req, on_done, &o), 0);
    run_until(e, &o.calls, 1, 3000);
    assert_int_equal(o.calls, 1);
    uint64_t took = o.at_ms - t0;
    assert_in_range(took, 290, 600);
    assert_int_equal(o.res.status, PROBE_UNHEALTHY);
    assert_true(o.res.timed_out);
    assert_int_equal(o.res.code, 0);
    assert_string_equal(o.res.detail, "timeout after 300 ms");
    assert_in_range(o.res.latency_ms, 290, 600);
    assert_true(k.ticks >= 4); /* 50 ms ticks kept firing while the endpoint hung */
    timer_stop(e->loop, &k.t);
    run_for(e, 100);
    assert_int_equal(o.calls, 1);
}

/* ------------------------------------------------------------------ nines' own fds */

static struct rlimit g_nofile; /* restored by teardown_nofile, even after a failed assert */

static int lowest_free_fd(void)
{
    int fd = 0;
    while (fcntl(fd, F_GETFD) != -1)
        fd++;
    return fd;
}

static void set_nofile(rlim_t soft)
{
    struct rlimit rl = g_nofile;
    rl.rlim_cur = soft;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static int teardown_nofile(void **state)
{
    setrlimit(RLIMIT_NOFILE, &g_nofile);
    return teardown(state);
}

/* No fd left for the connection's socket: the check did not run (an error from probe_start, no
 * callback), as for a TCP check's socket(), instead of curl's "Couldn't connect" failing it.
 * One free fd is enough: the socket probe_start() made is the one curl connects. */
static void http_no_socket_is_not_run(void **state)
{
    struct env *e = *state;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &g_nofile), 0);
    assert_int_equal(http_path(e, "/ok").res.status, PROBE_HEALTHY); /* libcurl set up */
    char url[128];
    struct probe_request req = http_req("/ok", url, sizeof url, 1000);
    struct probe p;
    struct outcome o = {0};
    probe_init(&p);
    set_nofile((rlim_t)lowest_free_fd());
    int r = probe_start(&e->pr, &p, &req, on_done, &o);
    probe_cancel(&e->pr, &p); /* p must not stay in flight past a failed assert */
    assert_int_equal(r, -EMFILE);
    struct probe_request tcp = {.kind = PROBE_KIND_TCP, .host = "127.0.0.1", .port = g_port,
                                .timeout_ms = 1000};
    r = probe_start(&e->pr, &p, &tcp, on_done, &o);
    probe_cancel(&e->pr, &p);
    assert_int_equal(r, -EMFILE);
    run_for(e, 100);
    assert_int_equal(o.calls, 0);

    set_nofile((rlim_t)lowest_free_fd() + 1);
    o = http_check(e, &req);
    assert_int_equal(o.res.status, PROBE_HEALTHY);
    assert_string_equal(o.res.detail, "HTTP 200");
    set_nofile(g_nofile.rlim_cur);
    assert_int_equal(http_path(e, "/ok").res.status, PROBE_HEALTHY);
}

/* The connection's socket is O_CLOEXEC like every fd nines holds (curl's own socket() is not). */
static void http_socket_is_cloexec(void **state)
{
    struct env *e = *state;
    char url[128];
    struct probe_request req = http_req("/hang", url, sizeof url, 2000);
    struct probe p;
    struct outcome o = {0};
    probe_init(&p);
    assert_int_equal(probe_start(&e->pr, &p, &req, on_done, &o), 0);
    run_for(e, 150); /* connected and waiting for the answer */
    assert_int_equal(o.calls, 0);
    int inet = 0, cloexec = 0;
    for (int fd = 3; fd < lowest_free_fd() + 64; fd++) {
        int dom = 0;
        socklen_t len = sizeof dom;
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) < 0 || dom != AF_INET)
            continue;
        inet++;
        cloexec += (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
    }
    probe_cancel(&e->pr, &p); /* before any assert: p must not stay in flight */
    assert_int_equal(inet, 1);
    assert_int_equal(cloexec, 1);
}

static void two_in_parallel_one_hangs(void **state)
{
    struct env *e = *state;
    char u1[128], u2[128];
    struct probe_request slow = http_req("/hang", u1, sizeof u1, 600);
    struct probe_request fast = http_req("/ok", u2, sizeof u2, 600);
    struct probe a, b;
    struct outcome oa = {0}, ob = {0};
    probe_init(&a);
    probe_init(&b);
    uint64_t t0 = now_ms();
    assert_int_equal(probe_start(&e->pr, &a, &slow, on_done, &oa), 0);
    assert_int_equal(probe_start(&e->pr, &b, &fast, on_done, &ob), 0);
    run_until(e, &ob.calls, 1, 3000);
    assert_int_equal(ob.calls, 1);
    assert_int_equal(oa.calls, 0);
    assert_true(ob.at_ms - t0 < 300);
    assert_int_equal(ob.res.status, PROBE_HEALTHY);
    run_until(e, &oa.calls, 1, 3000);
    assert_int_equal(oa.calls, 1);
    assert_true(oa.res.timed_out);
    assert_in_range(oa.at_ms - t0, 590, 900);
}

static void busy_and_invalid(void **state)
{
    struct env *e = *state;
    char url[128];
    struct probe_request req = http_req("/hang", url, sizeof url, 2000);
    struct probe p;
    struct outcome o = {0};
    probe_init(&p);
    assert_int_equal(probe_start(&e->pr, &p, &req, on_done, &o), 0);
    assert_int_equal(probe_start(&e->pr, &p, &req, on_done, &o), -EBUSY);
    probe_cancel(&e->pr, &p);
    assert_false(probe_busy(&p));

    struct probe_request bad = req;
    bad.timeout_ms = 0;
    assert_int_equal(probe_start(&e->pr, &p, &bad, on_done, &o), -EINVAL);
    bad = (struct probe_request){.kind = PROBE_KIND_HTTP, .timeout_ms = 100};
    assert_int_equal(probe_start(&e->pr, &p, &bad, on_done, &o), -EINVAL);
    bad = (struct probe_request){.kind = PROBE_KIND_TCP, .timeout_ms = 100};
    assert_int_equal(probe_start(&e->pr, &p, &bad, on_done, &o), -EINVAL);
    bad = (struct probe_request){.kind = PROBE_KIND_EXEC, .timeout_ms = 100};
    assert_int_equal(probe_start(&e->pr, &p, &bad, on_done, &o), -EINVAL);
    assert_int_equal(probe_start(&e->pr, &p, &req, NULL, &o), -EINVAL);
    assert_false(probe_busy(&p));
    run_for(e, 50);
    assert_int_equal(o.calls, 0);
}

static void cancel_mid_flight(void **state)
{
    struct env *e = *state;
    char url[128];
    struct probe_request req = http_req("/hang", url, sizeof url, 300);
    struct probe p;
    struct outcome o = {0};
    probe_init(&p);
    assert_int_equal(probe_start(&e->pr, &p, &req, on_done, &o), 0);
    run_for(e, 100); /* connected and waiting for the answer */
    probe_cancel(&e->pr, &p);
    assert_false(probe_busy(&p));
    run_for(e, 400); /* past the timeout: nothing may fire */
    assert_int_equal(o.calls, 0);
    probe_cancel(&e->pr, &p); /* idle: a no-op */

    /* Reusable after a cancel. */
    req = http_req("/ok", url, sizeof url, 2000);
    assert_int_equal(probe_start(&e->pr, &p, &req, on_done, &o), 0);
    run_until(e, &o.calls, 1, 3000);
    assert_int_equal(o.res.status, PROBE_HEALTHY);

    /* Cancel right away, before the loop ran at all. */
    assert_int_equal(probe_start(&e->pr, &p, &req, on_done, &o), 0);
    probe_cancel(&e->pr, &p);
    run_for(e, 100);
    assert_int_equal(o.calls, 1);
}

/* A callback that starts the next check on the same probe, as a service might. */
struct chain {
    struct env *e;
    struct probe p;
    struct probe_request req;
    int calls;
    enum probe_status last;
};

static void on_chain(void *ctx, const struct probe_result *res)
{
    struct chain *c = ctx;
    c->calls++;
    c->last = res->status;
    assert_false(probe_busy(&c->p));
    if (c->calls < 3)
        assert_int_equal(probe_start(&c->e->pr, &c->p, &c->req, on_chain, c), 0);
}

static void restart_from_callback(void **state)
{
    struct env *e = *state;
    char url[128];
    struct chain c = {.e = e};
    c.req = http_req("/ok", url, sizeof url, 2000);
    probe_init(&c.p);
    assert_int_equal(probe_start(&e->pr, &c.p, &c.req, on_chain, &c), 0);
    run_until(e, &c.calls, 3, 5000);
    assert_int_equal(c.calls, 3);
    assert_int_equal(c.last, PROBE_HEALTHY);
    assert_false(probe_busy(&c.p));
}

static void free_with_probes_in_flight(void **state)
{
    struct env *e = *state;
    char url[128];
    struct probe_request hreq = http_req("/hang", url, sizeof url, 5000);
    char *argv[] = {"sleep", "30", NULL};
    struct probe_request xreq = {.kind = PROBE_KIND_EXEC, .argv = argv, .timeout_ms = 5000};
    struct probe h, x;
    struct outcome oh = {0}, ox = {0};
    probe_init(&h);
    probe_init(&x);
    assert_int_equal(probe_start(&e->pr, &h, &hreq, on_done, &oh), 0);
    assert_int_equal(probe_start(&e->pr, &x, &xreq, on_done, &ox), 0);
    run_for(e, 100);
    pid_t pid = x.pid;
    prober_free(&e->pr);
    assert_int_equal(oh.calls + ox.calls, 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid); /* killed by prober_free */
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    assert_int_equal(prober_init(&e->pr, e->loop, &g_sig), 0); /* for teardown */
}

/* Name resolution must not block the loop, not even when the DNS server never answers, and a
 * cancel during resolution must not wait for the resolver thread (CURLOPT_QUICK_EXIT). Runs in a
 * child with its own mount namespace, where /etc/resolv.conf names a UDP socket that never
 * answers. Skipped without the privileges for that. Returns 0, 77 (skip) or 1. */
static uint64_t dns_last, dns_maxgap;

static void dns_tick(struct loop *loop, struct timer *t)
{
    uint64_t n = now_ms();
    if (dns_last && n - dns_last > dns_maxgap)
        dns_maxgap = n - dns_last;
    dns_last = n;
    timer_start(loop, t, 10);
}

static int dns_child(void)
{
    char rc[] = "/tmp/test_probe_resolv.XXXXXX";
    static const char conf[] = "nameserver 127.0.0.54\noptions timeout:3 attempts:1\n";
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return 77;
    int fd = mkstemp(rc);
    if (fd < 0 || write(fd, conf, sizeof conf - 1) != (ssize_t)(sizeof conf - 1))
        return 77;
    close(fd);
    int m = mount(rc, "/etc/resolv.conf", NULL, MS_BIND, NULL);
    unlink(rc);
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
    inet_pton(AF_INET, "127.0.0.54", &a.sin_addr);
    if (m < 0 || u < 0 || bind(u, (struct sockaddr *)&a, sizeof a) < 0)
        return 77;
    struct loop *loop = loop_new();
    struct prober pr;
    if (!loop || prober_init(&pr, loop, &g_sig) < 0)
        return 1;
    /* libcurl is set up by the first HTTP check: ask it now whether it resolves asynchronously. */
    const curl_version_info_data *vi = curlso_load() == 0 ? curl_version_info(CURLVERSION_NOW) : NULL;
    if (!vi || !(vi->features & CURL_VERSION_ASYNCHDNS))
        return 77;
    struct timer tk;
    timer_init(&tk, dns_tick, NULL);
    timer_start(loop, &tk, 10);
    struct probe_request req = {.kind = PROBE_KIND_HTTP, .url = "http://nines-probe-test.example.com/",
                                .timeout_ms = 500};
    struct probe p1, p2;
    struct outcome o1 = {0}, o2 = {0};
    probe_init(&p1);
    probe_init(&p2);
    uint64_t t0 = now_ms();
    if (probe_start(&pr, &p1, &req, on_done, &o1) < 0 || probe_start(&pr, &p2, &req, on_done, &o2) < 0)
        return 1;
    while (now_ms() - t0 < 150)
        loop_run_once(loop, 20);
    uint64_t c0 = now_ms();
    probe_cancel(&pr, &p2);
    uint64_t cancel_ms = now_ms() - c0;
    while (!o1.calls && now_ms() - t0 < 3000)
        loop_run_once(loop, 20);
    if (o1.calls == 1 && !o1.res.timed_out)
        return 77; /* resolved (or failed) some other way: nothing hung, nothing proven */
    fprintf(stderr, "dns: cancel %llu ms, result \"%s\" after %llu ms, max tick gap %llu ms\n",
            (unsigned long long)cancel_ms, o1.res.detail, (unsigned long long)(o1.at_ms - t0),
            (unsigned long long)dns_maxgap);
    if (o1.calls != 1 || o2.calls != 0 || cancel_ms > 50 || dns_maxgap > 100 || o1.at_ms - t0 > 800)
        return 1;
    timer_stop(loop, &tk);
    prober_free(&pr);
    return 0;
}

static void http_dns_never_blocks_loop(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(dns_child()); /* _exit: the detached resolver thread may still be running */
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77)
        skip();
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* ------------------------------------------------------------------ TCP */

static struct outcome tcp_check(struct env *e, const char *host, uint16_t port, uint64_t timeout_ms)
{
    struct probe_request req = {.kind = PROBE_KIND_TCP, .host = host, .port = port, .timeout_ms = timeout_ms};
    struct probe p;
    struct outcome o = {0};
    probe_init(&p);
    assert_int_equal(probe_start(&e->pr, &p, &req, on_done, &o), 0);
    assert_int_equal(o.calls, 0); /* even a result known at once comes from the loop */
    run_until(e, &o.calls, 1, 5000);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.res.kind, PROBE_KIND_TCP);
    return o;
}

static void tcp_ok_refused_badhost(void **state)
{
    struct env *e = *state;
    uint16_t port;
    int lfd = listen_any(&port, 8);
    struct outcome o = tcp_check(e, "127.0.0.1", port, 1000);
    assert_int_equal(o.res.status, PROBE_HEALTHY);
    assert_string_equal(o.res.detail, "connected");
    o = tcp_check(e, "localhost", port, 1000);
    assert_int_equal(o.res.status, PROBE_HEALTHY);
    close(lfd);

    o = tcp_check(e, "127.0.0.1", dead_port(), 1000);
    assert_int_equal(o.res.status, PROBE_UNHEALTHY);
    assert_string_equal(o.res.detail, "connection refused");

    o = tcp_check(e, "example.invalid", 80, 1000);
    assert_int_equal(o.res.status, PROBE_UNHEALTHY);
    assert_string_equal(o.res.detail, "not an IP address: example.invalid");

    assert_true(probe_tcp_host_ok("127.0.0.1"));
    assert_true(probe_tcp_host_ok("::1"));
    assert_true(probe_tcp_host_ok("localhost"));
    assert_false(probe_tcp_host_ok("example.com"));
    assert_false(probe_tcp_host_ok(""));
    assert_false(probe_tcp_host_ok(NULL));
}

static void tcp_ipv6_if_available(void **state)
{
    struct env *e = *state;
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 8) < 0) {
        if (fd >= 0)
            close(fd);
        skip();
    }
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    struct outcome o = tcp_check(e, "::1", ntohs(a.sin6_port), 1000);
    assert_int_equal(o.res.status, PROBE_HEALTHY);
    close(fd);
}

static void tcp_timeout_and_cancel(void **state)
{
    struct env *e = *state;
    /* A listener whose accept queue is full drops further SYNs, so a connect hangs. */
    uint16_t port;
    int lfd = listen_any(&port, 0);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(50 * 1000);
    struct outcome o = tcp_check(e, "127.0.0.1", port, 300);
    assert_int_equal(o.res.status, PROBE_UNHEALTHY);
    assert_true(o.res.timed_out);
    assert_string_equal(o.res.detail, "timeout after 300 ms");

    struct probe_request req = {.kind = PROBE_KIND_TCP, .host = "127.0.0.1", .port = port, .timeout_ms = 300};
    struct probe p;
    struct outcome oc = {0};
    probe_init(&p);
    assert_int_equal(probe_start(&e->pr, &p, &req, on_done, &oc), 0);
    run_for(e, 50);
    probe_cancel(&e->pr, &p);
    run_for(e, 350);
    assert_int_equal(oc.calls, 0);

    /* A result known inside probe_start (refused at once) can be cancelled before delivery. */
    req.port = dead_port();
    assert_int_equal(probe_start(&e->pr, &p, &req, on_done, &oc), 0);
    probe_cancel(&e->pr, &p);
    run_for(e, 50);
    assert_int_equal(oc.calls, 0);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
}

/* ------------------------------------------------------------------ exec */

static struct outcome exec_check(struct env *e, char **argv, uint64_t timeout_ms, pid_t *pid)
{
    struct probe_request req = {.kind = PROBE_KIND_EXEC, .argv = argv, .timeout_ms = timeout_ms};
    struct probe p;
    struct outcome o = {0};
    probe_init(&p);
    int claimed = e->claimed;
    assert_int_equal(probe_start(&e->pr, &p, &req, on_done, &o), 0);
    assert_int_equal(o.calls, 0);
    if (pid)
        *pid = p.pid;
    run_until(e, &o.calls, 1, 5000);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.res.kind, PROBE_KIND_EXEC);
    run_until(e, &e->claimed, claimed + 1, 3000); /* reaped and claimed by the prober */
    assert_int_equal(e->claimed, claimed + 1);
    return o;
}

/* True once no process is left in group pgid (polls the loop, which reaps). */
static bool group_gone(struct env *e, pid_t pgid)
{
    uint64_t t0 = now_ms();
    while (now_ms() - t0 < 3000) {
        if (kill(-pgid, 0) < 0 && errno == ESRCH)
            return true;
        loop_run_once(e->loop, 10);
    }
    return false;
}

static void exec_ok_fail_notfound(void **state)
{
    struct env *e = *state;
    char *ok[] = {"true", NULL};
    struct outcome o = exec_check(e, ok, 2000, NULL);
    assert_int_equal(o.res.status, PROBE_HEALTHY);
    assert_int_equal(o.res.code, 0);
    assert_string_equal(o.res.detail, "exit 0");

    char *fail[] = {"/bin/sh", "-c", "echo noise; echo noise >&2; exit 1", NULL};
    o = exec_check(e, fail, 2000, NULL);
    assert_int_equal(o.res.status, PROBE_UNHEALTHY);
    assert_int_equal(o.res.code, 1);
    assert_string_equal(o.res.detail, "exit 1");

    char *missing[] = {"/nonexistent/check", NULL};
    o = exec_check(e, missing, 2000, NULL);
    assert_int_equal(o.res.status, PROBE_UNHEALTHY);
    assert_int_equal(o.res.code, 127);
    assert_string_equal(o.res.detail, "exit 127 (command not found)");

    char *sig[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    o = exec_check(e, sig, 2000, NULL);
    assert_int_equal(o.res.status, PROBE_UNHEALTHY);
    assert_int_equal(o.res.code, -1);
    assert_int_equal(o.res.term_signal, SIGTERM);
    assert_string_equal(o.res.detail, "killed by signal TERM");
    assert_int_equal(e->unknown, 0);
}

static void exec_only_fds_0_to_2(void **state)
{
    struct env *e = *state;
    int keep = open("/dev/null", O_RDONLY); /* not CLOEXEC: spawn must still close it */
    assert_true(keep >= 3);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "test ! -e /proc/self/fd/%d && test ! -e /proc/self/fd/3", keep);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    struct outcome o = exec_check(e, argv, 2000, NULL);
    assert_int_equal(o.res.status, PROBE_HEALTHY);
    close(keep);
}

static void exec_hang_killed_at_timeout(void **state)
{
    struct env *e = *state;
    struct ticker k = {0};
    timer_init(&k.t, on_tick, &k);
    assert_int_equal(timer_start(e->loop, &k.t, 50), 0);
    /* A grandchild in the same group must go too. */
    char *argv[] = {"/bin/sh", "-c", "sleep 30 & sleep 30", NULL};
    pid_t pid;
    uint64_t t0 = now_ms();
    struct outcome o = exec_check(e, argv, 300, &pid);
    assert_in_range(o.at_ms - t0, 290, 600);
    assert_int_equal(o.res.status, PROBE_UNHEALTHY);
    assert_true(o.res.timed_out);
    assert_int_equal(o.res.code, -1);
    assert_string_equal(o.res.detail, "timeout after 300 ms");
    assert_true(k.ticks >= 4);
    timer_stop(e->loop, &k.t);
    assert_true(group_gone(e, pid));
    assert_false(prober_child_exited(&e->pr, pid, 0)); /* claimed once only */
}

static void exec_leftovers_killed(void **state)
{
    struct env *e = *state;
    char *argv[] = {"/bin/sh", "-c", "sleep 30 & exit 0", NULL};
    pid_t pid;
    struct outcome o = exec_check(e, argv, 2000, &pid);
    assert_int_equal(o.res.status, PROBE_HEALTHY);
    assert_true(group_gone(e, pid));
}

static void exec_cancel(void **state)
{
    struct env *e = *state;
    char *argv[] = {"sleep", "30", NULL};
    struct probe_request req = {.kind = PROBE_KIND_EXEC, .argv = argv, .timeout_ms = 2000};
    struct probe p;
    struct outcome o = {0};
    probe_init(&p);
    assert_int_equal(probe_start(&e->pr, &p, &req, on_done, &o), 0);
    pid_t pid = p.pid;
    run_for(e, 50);
    probe_cancel(&e->pr, &p);
    run_until(e, &e->claimed, 1, 3000);
    assert_int_equal(e->claimed, 1); /* the killed child was still claimed when reaped */
    assert_int_equal(e->unknown, 0);
    assert_true(group_gone(e, pid));
    assert_int_equal(o.calls, 0);
}

static void exec_and_http_parallel(void **state)
{
    struct env *e = *state;
    char *argv[] = {"sleep", "30", NULL};
    struct probe_request xreq = {.kind = PROBE_KIND_EXEC, .argv = argv, .timeout_ms = 400};
    char url[128];
    struct probe_request hreq = http_req("/ok", url, sizeof url, 400);
    struct probe x, h;
    struct outcome ox = {0}, oh = {0};
    probe_init(&x);
    probe_init(&h);
    uint64_t t0 = now_ms();
    assert_int_equal(probe_start(&e->pr, &x, &xreq, on_done, &ox), 0);
    assert_int_equal(probe_start(&e->pr, &h, &hreq, on_done, &oh), 0);
    run_until(e, &oh.calls, 1, 2000);
    assert_true(oh.at_ms - t0 < 300);
    assert_int_equal(ox.calls, 0);
    run_until(e, &ox.calls, 1, 2000);
    assert_true(ox.res.timed_out);
    run_until(e, &e->claimed, 1, 2000);
}

/* ------------------------------------------------------------------ pure helpers */

static void retry_after_parsing(void **state)
{
    (void)state;
    uint64_t ms = 1;
    assert_int_equal(probe_parse_retry_after("7", 0, &ms), 0);
    assert_int_equal(ms, 7000);
    assert_int_equal(probe_parse_retry_after("  120 \r\n", 0, &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(probe_parse_retry_after("1.5", 0, &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(probe_parse_retry_after("0", 0, &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(probe_parse_retry_after("99999999999999999999999", 0, &ms), 0);
    assert_int_equal(ms, PROBE_RETRY_AFTER_MAX_MS);
    /* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
    assert_int_equal(probe_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 30, &ms), 0);
    assert_int_equal(ms, 30000);
    assert_int_equal(probe_parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", 1445412480 - 5, &ms), 0);
    assert_int_equal(ms, 5000);
    assert_int_equal(probe_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 + 30, &ms), 0);
    assert_int_equal(ms, 0); /* in the past */
    assert_int_equal(probe_parse_retry_after("soon", 0, &ms), -EINVAL);
    assert_int_equal(probe_parse_retry_after("7s", 0, &ms), -EINVAL);
    assert_int_equal(probe_parse_retry_after("", 0, &ms), -EINVAL);
}

static void names_and_config(void **state)
{
    (void)state;
    assert_string_equal(probe_status_name(PROBE_RATELIMIT), "ratelimit");
    assert_string_equal(probe_status_name(PROBE_AUTH), "auth");
    assert_string_equal(probe_kind_name(PROBE_KIND_EXEC), "exec");
    assert_string_equal(probe_status_name((enum probe_status)99), "?");

    struct config_health h = {0};
    struct probe_request req;
    assert_int_equal(probe_request_from_config(&req, &h), -EINVAL);
    h.kind = CONFIG_HEALTH_URL;
    h.target = "http://127.0.0.1/health";
    h.timeout_ms = 2000;
    assert_int_equal(parse_http_ranges("200-299", &h.expect), 0);
    assert_int_equal(probe_request_from_config(&req, &h), 0);
    assert_int_equal(req.kind, PROBE_KIND_HTTP);
    assert_ptr_equal(req.url, h.target);
    assert_ptr_equal(req.expect, &h.expect);
    assert_int_equal(req.timeout_ms, 2000);
    assert_false(req.insecure);
    assert_null(req.ca_file);
    h.kind = CONFIG_HEALTH_TCP;
    h.host = "127.0.0.1";
    h.port = 8080;
    assert_int_equal(probe_request_from_config(&req, &h), 0);
    assert_int_equal(req.kind, PROBE_KIND_TCP);
    assert_int_equal(req.port, 8080);
}

/* ------------------------------------------------------------------ TLS via probe_server.py */

struct pysrv {
    pid_t pid;
    uint16_t port;
    char dir[64];
    char cert[128];
};

/* Starts probe_server.py --tls; false when python3, the script or openssl is missing. */
static bool pysrv_start(struct pysrv *s)
{
    const char *script = getenv("NINES_PROBE_SERVER");
    if (!script)
        script = "tests/pytest/probe_server.py";
    if (access(script, R_OK) < 0 || access("/usr/bin/python3", X_OK) < 0)
        return false;
    snprintf(s->dir, sizeof s->dir, "/tmp/test_probe.XXXXXX");
    if (!mkdtemp(s->dir))
        return false;
    int out[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        sigprocmask(SIG_SETMASK, &g_sig.orig_mask, NULL);
        dup2(out[1], 1);
        execl("/usr/bin/python3", "python3", script, "--tls", "--cert-dir", s->dir, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char buf[512] = "";
    size_t n = 0;
    struct pollfd pfd = {.fd = out[0], .events = POLLIN};
    uint64_t t0 = now_ms();
    /* Blocking here is fine: this is the test, not the loop. */
    while (n < sizeof buf - 1 && now_ms() - t0 < 20000) {
        const char *c = strstr(buf, "CERT ");
        if (c && strchr(c, '\n'))
            break;
        if (poll(&pfd, 1, 200) <= 0)
            continue;
        ssize_t r = read(out[0], buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
    }
    close(out[0]);
    unsigned port = 0;
    const char *c = strstr(buf, "CERT ");
    if (sscanf(buf, "PORT %u", &port) != 1 || !c) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        return false; /* e.g. exit 77: no openssl */
    }
    s->port = (uint16_t)port;
    snprintf(s->cert, sizeof s->cert, "%s/cert.pem", s->dir);
    return true;
}

static void pysrv_stop(struct pysrv *s)
{
    char path[160];
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    snprintf(path, sizeof path, "%s/cert.pem", s->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/key.pem", s->dir);
    unlink(path);
    rmdir(s->dir);
}

static void https_verify_insecure_cafile(void **state)
{
    struct env *e = *state;
    struct pysrv s = {0};
    if (!pysrv_start(&s))
        skip();
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%u/ok", (unsigned)s.port);
    struct probe_request req = {.kind = PROBE_KIND_HTTP, .url = url, .timeout_ms = 5000};

    struct outcome o = http_check(e, &req); /* verified by default: self-signed is refused */
    assert_int_equal(o.res.status, PROBE_UNHEALTHY);
    assert_int_equal(o.res.code, 0);
    assert_non_null(strstr(o.res.detail, "certificate"));

    req.insecure = true;
    o = http_check(e, &req);
    assert_int_equal(o.res.status, PROBE_HEALTHY);

    req.insecure = false;
    req.ca_file = s.cert;
    o = http_check(e, &req);
    assert_int_equal(o.res.status, PROBE_HEALTHY);

    snprintf(url, sizeof url, "https://127.0.0.1:%u/head405", (unsigned)s.port);
    o = http_check(e, &req);
    assert_int_equal(o.res.status, PROBE_HEALTHY);
    snprintf(url, sizeof url, "https://127.0.0.1:%u/429", (unsigned)s.port);
    o = http_check(e, &req);
    assert_int_equal(o.res.status, PROBE_RATELIMIT);
    assert_int_equal(o.res.retry_after_ms, 7000);
    snprintf(url, sizeof url, "https://127.0.0.1:%u/429date", (unsigned)s.port);
    o = http_check(e, &req);
    assert_int_equal(o.res.status, PROBE_RATELIMIT);
    assert_in_range(o.res.retry_after_ms, 17000, 21000);
    snprintf(url, sizeof url, "https://127.0.0.1:%u/401", (unsigned)s.port);
    o = http_check(e, &req);
    assert_int_equal(o.res.status, PROBE_AUTH);

    snprintf(url, sizeof url, "https://127.0.0.1:%u/hang", (unsigned)s.port);
    req.timeout_ms = 300;
    o = http_check(e, &req);
    assert_true(o.res.timed_out);
    pysrv_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retry_after_parsing),
        cmocka_unit_test(names_and_config),
        cmocka_unit_test_setup_teardown(http_200_healthy, setup, teardown),
        cmocka_unit_test_setup_teardown(http_500_unhealthy, setup, teardown),
        cmocka_unit_test_setup_teardown(http_401_403_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(http_429_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(http_get_not_head, setup, teardown),
        cmocka_unit_test_setup_teardown(http_redirect_and_expect, setup, teardown),
        cmocka_unit_test_setup_teardown(http_request_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(http_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(http_odd_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(http_hang_times_out_loop_keeps_running, setup, teardown),
        cmocka_unit_test_setup_teardown(http_no_socket_is_not_run, setup, teardown_nofile),
        cmocka_unit_test_setup_teardown(http_socket_is_cloexec, setup, teardown),
        cmocka_unit_test_setup_teardown(two_in_parallel_one_hangs, setup, teardown),
        cmocka_unit_test_setup_teardown(busy_and_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_mid_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(restart_from_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(free_with_probes_in_flight, setup, teardown),
        cmocka_unit_test(http_dns_never_blocks_loop),
        cmocka_unit_test_setup_teardown(tcp_ok_refused_badhost, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_ipv6_if_available, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_timeout_and_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(exec_ok_fail_notfound, setup, teardown),
        cmocka_unit_test_setup_teardown(exec_only_fds_0_to_2, setup, teardown),
        cmocka_unit_test_setup_teardown(exec_hang_killed_at_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(exec_leftovers_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(exec_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(exec_and_http_parallel, setup, teardown),
        cmocka_unit_test_setup_teardown(https_verify_insecure_cafile, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
