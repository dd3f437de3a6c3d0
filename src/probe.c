#include "probe.h"

#include "config.h"
#include "curlloop.h"
#include "log.h"
#include "sig.h"
#include "spawn.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include "curlso.h"
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

_Static_assert(sizeof((struct probe *)0)->errbuf >= CURL_ERROR_SIZE, "errbuf smaller than CURL_ERROR_SIZE");

/* What a busy probe is waiting for. ST_DELIVER: the result is known (it was known inside
 * probe_start(), e.g. a refused loopback connect) and goes out from a 0 ms timer. */
enum { ST_IDLE, ST_HTTP, ST_TCP, ST_EXEC, ST_DELIVER };

static const char *const kind_names[] = {
    [PROBE_KIND_HTTP] = "http", [PROBE_KIND_TCP] = "tcp", [PROBE_KIND_EXEC] = "exec",
};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == PROBE_KIND_COUNT, "kind_names");

static const char *const status_names[] = {
    [PROBE_HEALTHY] = "healthy", [PROBE_UNHEALTHY] = "unhealthy",
    [PROBE_AUTH] = "auth", [PROBE_RATELIMIT] = "ratelimit",
};
_Static_assert(sizeof status_names / sizeof status_names[0] == PROBE_STATUS_COUNT, "status_names");

const char *probe_kind_name(enum probe_kind k)
{
    return (unsigned)k < PROBE_KIND_COUNT ? kind_names[k] : "?";
}

const char *probe_status_name(enum probe_status s)
{
    return (unsigned)s < PROBE_STATUS_COUNT ? status_names[s] : "?";
}

/* ---------------------------------------------------------------- results and delivery */

static void result_set(struct probe *pr, enum probe_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the outcome (status, detail, latency up to now); delivery comes later. */
static void result_set(struct probe *pr, enum probe_status st, const char *fmt, ...)
{
    va_list ap;
    pr->result.status = st;
    pr->result.latency_ms = now_ms() - pr->start_ms;
    va_start(ap, fmt);
    vsnprintf(pr->result.detail, sizeof pr->result.detail, fmt, ap);
    va_end(ap);
}

static void active_unlink(struct prober *p, struct probe *pr)
{
    if (pr->prev)
        pr->prev->next = pr->next;
    else if (p->active == pr)
        p->active = pr->next;
    if (pr->next)
        pr->next->prev = pr->prev;
    pr->prev = pr->next = NULL;
}

/* Makes pr idle: its timer stopped, off the active list. What it held is already released. */
static void detach(struct prober *p, struct probe *pr)
{
    timer_stop(p->loop, &pr->timer);
    active_unlink(p, pr);
    pr->state = ST_IDLE;
}

/* Ends pr's check and runs its callback. pr is idle before done() runs (done may restart or
 * free it), so this is the last access to pr. */
static void deliver(struct prober *p, struct probe *pr)
{
    struct probe_result res = pr->result;
    probe_done_fn done = pr->done;
    void *ctx = pr->ctx;
    detach(p, pr);
    done(ctx, &res);
}

static void deliver_cb(struct loop *loop, struct timer *t)
{
    (void)loop;
    struct probe *pr = t->data;
    deliver(pr->owner, pr);
}

/* For a result known inside probe_start(): delivered from the loop, never from probe_start.
 * Reuses the timeout timer, which is armed at this point, so re-arming it cannot need memory. */
static void defer_delivery(struct prober *p, struct probe *pr)
{
    pr->state = ST_DELIVER;
    timer_stop(p->loop, &pr->timer);
    timer_init(&pr->timer, deliver_cb, pr);
    (void)timer_start(p->loop, &pr->timer, 0);
}

/* ---------------------------------------------------------------- exec orphans */

/* A timed-out or cancelled exec check: killed, waiting to be reaped by the supervisor. When the
 * list cannot grow the pid is forgotten; the supervisor then reaps it as an unknown child. */
static void orphan_add(struct prober *p, pid_t pid)
{
    if (p->n_orphans == p->cap_orphans) {
        size_t cap = p->cap_orphans ? p->cap_orphans * 2 : 8;
        pid_t *o = realloc(p->orphans, cap * sizeof *o);
        if (!o) {
            log_warn("health check pid %ld: out of memory, left to the reaper", (long)pid);
            return;
        }
        p->orphans = o;
        p->cap_orphans = cap;
    }
    p->orphans[p->n_orphans++] = pid;
}

static bool orphan_take(struct prober *p, pid_t pid)
{
    for (size_t i = 0; i < p->n_orphans; i++) {
        if (p->orphans[i] == pid) {
            p->orphans[i] = p->orphans[--p->n_orphans];
            return true;
        }
    }
    return false;
}

/* SIGKILL to the check's process group (spawn_process made it the leader). The group id cannot
 * be reused while the leader is unreaped, so before the reap this only hits the check's tree. */
static void kill_group(pid_t pid)
{
    if (kill(-pid, SIGKILL) < 0 && errno == ESRCH)
        kill(pid, SIGKILL);
}

/* ---------------------------------------------------------------- aborting */

static void http_release(struct prober *p, struct probe *pr)
{
    if (pr->easy) {
        curlloop_remove(&p->curl, pr->easy);
        curl_easy_cleanup(pr->easy);
        pr->easy = NULL;
    }
    curl_slist_free_all(pr->slist);
    pr->slist = NULL;
    if (pr->spare_fd >= 0) { /* curl never connected (resolver error, timeout, cancel) */
        close(pr->spare_fd);
        pr->spare_fd = -1;
    }
}

static void tcp_release(struct prober *p, struct probe *pr)
{
    if (pr->w.fd >= 0) {
        loop_unwatch(p->loop, &pr->w);
        close(pr->w.fd);
        pr->w.fd = -1;
    }
}

/* Releases what the check in flight holds (curl handle, socket, or the exec child, which is
 * killed and left to be reaped), leaving the timer and the active list to detach(). */
static void release_check(struct prober *p, struct probe *pr)
{
    switch (pr->state) {
    case ST_HTTP: http_release(p, pr); break;
    case ST_TCP: tcp_release(p, pr); break;
    case ST_EXEC:
        kill_group(pr->pid);
        orphan_add(p, pr->pid);
        pr->pid = 0;
        break;
    default: break;
    }
}

static void timeout_cb(struct loop *loop, struct timer *t)
{
    (void)loop;
    struct probe *pr = t->data;
    struct prober *p = pr->owner;
    if (pr->state == ST_EXEC)
        pr->result.code = -1;
    release_check(p, pr);
    pr->result.timed_out = true;
    result_set(pr, PROBE_UNHEALTHY, "timeout after %llu ms", (unsigned long long)pr->timeout_ms);
    deliver(p, pr);
}

/* ---------------------------------------------------------------- HTTP: curl callbacks */

int probe_parse_retry_after(const char *value, time_t now, uint64_t *ms)
{
    const uint64_t cap = PROBE_RETRY_AFTER_MAX_MS;
    const char *s = value;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
        len--;
    if (len == 0 || len > 64)
        return -EINVAL;
    char buf[65];
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (isdigit((unsigned char)buf[0])) {
        /* delay-seconds, with a fraction tolerated (some APIs send "1.5"). */
        uint64_t v = 0, frac = 0, scale = 1000;
        const char *c = buf;
        for (; isdigit((unsigned char)*c); c++)
            v = v > cap ? v : v * 10 + (uint64_t)(*c - '0');
        if (*c == '.') {
            for (c++; isdigit((unsigned char)*c); c++) {
                scale /= 10;
                frac += (uint64_t)(*c - '0') * scale;
            }
        }
        if (*c != '\0')
            return -EINVAL;
        *ms = v >= cap / 1000 ? cap : v * 1000 + frac;
        return 0;
    }
    if (curlso_load() < 0)
        return -EINVAL; /* an HTTP date needs libcurl's parser */
    time_t when = curl_getdate(buf, NULL); /* RFC 1123, RFC 850 and asctime forms */
    if (when == (time_t)-1)
        return -EINVAL;
    if (when <= now)
        *ms = 0;
    else
        *ms = (uint64_t)(when - now) >= cap / 1000 ? cap : (uint64_t)(when - now) * 1000;
    return 0;
}

/* Header lines of every response in the exchange; only the last one's Retry-After counts. */
static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    struct probe *pr = ud;
    size_t n = size * nitems;
    static const char key[] = "Retry-After:";
    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        pr->has_retry_after = false;
    } else if (n > sizeof key - 1 && n < 128 && strncasecmp(buf, key, sizeof key - 1) == 0) {
        char v[128];
        memcpy(v, buf + sizeof key - 1, n - (sizeof key - 1));
        v[n - (sizeof key - 1)] = '\0';
        pr->has_retry_after = probe_parse_retry_after(v, time(NULL), &pr->retry_after_ms) == 0;
    }
    return n;
}

/* The body is read (a real GET, as a client would) but dropped; past PROBE_BODY_MAX the
 * transfer is ended with CURLE_WRITE_ERROR and judged by its status. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    struct probe *pr = ud;
    size_t n = size * nmemb;
    pr->body_bytes += n;
    if (pr->body_bytes > PROBE_BODY_MAX) {
        pr->body_cut = true;
        return 0;
    }
    return n;
}

/* socket(2) failed for want of nines' own resources (fd table, system file table, socket
 * buffers, kernel memory): nothing the service did, and nothing a check could tell about it. */
static bool lack_of_resources(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* CURLOPT_OPENSOCKETFUNCTION: curl's socket(2) is made here, so that it is O_CLOEXEC (nines
 * forks services and checks; curl's own socket() does not ask for that) and so that a failure
 * keeps its errno: curl reports it as CURLE_COULDNT_CONNECT with CURLINFO_OS_ERRNO 0, which reads
 * like a dead endpoint. The first connect gets the socket http_start() made; a connect of another
 * family closes it first, so that its fd slot is the one the new socket takes. curl closes what
 * it gets from here with close(2) (no CURLOPT_CLOSESOCKETFUNCTION needed). */
static curl_socket_t open_sock(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct probe *pr = clientp;
    (void)purpose; /* CURLSOCKTYPE_IPCXN: the only one for HTTP */
    if (pr->spare_fd >= 0) {
        int fd = pr->spare_fd;
        pr->spare_fd = -1;
        if (a->family == AF_INET && a->socktype == SOCK_STREAM &&
            (a->protocol == IPPROTO_TCP || a->protocol == 0))
            return fd;
        close(fd);
    }
    int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd < 0) {
        pr->sock_errno = errno;
        return CURL_SOCKET_BAD;
    }
    return fd;
}

/* ---------------------------------------------------------------- HTTP: judging the answer */

static void judge_status(struct probe *pr, long status)
{
    pr->result.code = (int)status;
    if (parse_http_ranges_match(&pr->expect, status)) {
        result_set(pr, PROBE_HEALTHY, "HTTP %ld", status);
    } else if (status == 401 || status == 403) {
        result_set(pr, PROBE_AUTH, "HTTP %ld", status);
    } else if (status == 429) {
        pr->result.has_retry_after = pr->has_retry_after;
        pr->result.retry_after_ms = pr->has_retry_after ? pr->retry_after_ms : 0;
        if (pr->has_retry_after)
            result_set(pr, PROBE_RATELIMIT, "HTTP 429, retry after %llu ms",
                       (unsigned long long)pr->retry_after_ms);
        else
            result_set(pr, PROBE_RATELIMIT, "HTTP 429");
    } else {
        result_set(pr, PROBE_UNHEALTHY, "HTTP %ld", status);
    }
}

static void judge_error(struct probe *pr, CURLcode rc, long oserr, long status)
{
    const char *why = pr->errbuf[0] ? pr->errbuf : curl_easy_strerror(rc);
    pr->result.code = (int)status;
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        /* open_sock() could not make a socket. For lack of resources that can only be for a
         * further address of the host (the first one got http_start's socket, and failed): the
         * check ran and failed, but the detail says why the rest was not tried. */
        if (oserr == 0 && pr->sock_errno)
            result_set(pr, PROBE_UNHEALTHY, "cannot connect: socket: %s", strerror(pr->sock_errno));
        else if (oserr == ECONNREFUSED)
            result_set(pr, PROBE_UNHEALTHY, "connection refused");
        else if (oserr)
            result_set(pr, PROBE_UNHEALTHY, "cannot connect: %s", strerror((int)oserr));
        else
            result_set(pr, PROBE_UNHEALTHY, "cannot connect: %s", why);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        pr->result.timed_out = true;
        result_set(pr, PROBE_UNHEALTHY, "timeout after %llu ms", (unsigned long long)pr->timeout_ms);
        break;
    case CURLE_GOT_NOTHING: result_set(pr, PROBE_UNHEALTHY, "empty reply"); break;
    default:
        if (status > 0)
            result_set(pr, PROBE_UNHEALTHY, "HTTP %ld, then: %s", status, why);
        else
            result_set(pr, PROBE_UNHEALTHY, "%s", why);
        break;
    }
}

/* A transfer ended: read the answer (a status is the answer even when the body broke off after a
 * status outside `expect`), release curl's state and deliver. */
static void http_finished(struct prober *p, struct probe *pr, CURLcode rc)
{
    long status = 0, oserr = 0;
    curl_easy_getinfo(pr->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(pr->easy, CURLINFO_OS_ERRNO, &oserr);
    bool complete = rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && pr->body_cut);
    if (status > 0 && (complete || !parse_http_ranges_match(&pr->expect, status)))
        judge_status(pr, status);
    else if (rc == CURLE_OK)
        result_set(pr, PROBE_UNHEALTHY, "no HTTP status");
    else
        judge_error(pr, rc, oserr, status);
    http_release(p, pr);
    deliver(p, pr);
}

/* curlloop's done: a transfer ended; pr is found through CURLOPT_PRIVATE. */
static void http_done(void *ctx, void *easy, int result)
{
    struct prober *p = ctx;
    void *priv = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    struct probe *pr = priv;
    if (pr && pr->state == ST_HTTP && pr->easy == easy)
        http_finished(p, pr, (CURLcode)result);
}

/* ---------------------------------------------------------------- HTTP: starting */

static int curl_err(CURLcode rc)
{
    return rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
}

/* Every option of one check's easy handle. Returns 0 or -errno. */
static int http_setup(struct probe *pr, CURL *e, const struct probe_request *req)
{
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(e, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_PRIVATE, (void *)pr);
    SET(CURLOPT_HTTPGET, 1L);
    SET(CURLOPT_NOSIGNAL, 1L);     /* no SIGALRM games: we are single-threaded with signals blocked */
    SET(CURLOPT_FORBID_REUSE, 1L); /* one fresh connection per check, closed after */
    SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)); /* deprecated in 7.85.0 */
#endif
    SET(CURLOPT_ERRORBUFFER, pr->errbuf);
    SET(CURLOPT_OPENSOCKETFUNCTION, open_sock);
    SET(CURLOPT_OPENSOCKETDATA, (void *)pr);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, (void *)pr);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, (void *)pr);
    SET(CURLOPT_USERAGENT, "nines-health-check");
    SET(CURLOPT_PROXY, req->proxy ? req->proxy : ""); /* "" disables proxies from the environment */
    if (pr->slist)
        SET(CURLOPT_HTTPHEADER, (struct curl_slist *)pr->slist);
    if (req->insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (req->ca_file)
        SET(CURLOPT_CAINFO, req->ca_file);
#undef SET
    if (rc != CURLE_OK)
        return curl_err(rc);
#if LIBCURL_VERSION_NUM >= 0x075700
    /* Cancelling during threaded name resolution would otherwise join the resolver thread,
     * blocking the loop until getaddrinfo(3) returns (curl 7.87.0 added this). */
    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
    return 0;
}

/* libcurl is set up on the first HTTP check, not at start: its init costs a few MB of memory
 * that a nines without HTTP checks has no reason to pay (bench/RESULTS.md). */
static int curl_setup(struct prober *p)
{
    if (curlloop_ready(&p->curl))
        return 0;
    int r = curlloop_init(&p->curl, p->loop, http_done, p);
    if (r < 0)
        return r;
    p->async_dns = p->curl.async_dns;
    if (!p->async_dns) {
        const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
        log_warn("libcurl %s has no asynchronous resolver: health URLs must use IP addresses",
                 vi ? vi->version : "?");
    }
    return 0;
}

static int http_start(struct prober *p, struct probe *pr, const struct probe_request *req)
{
    int cr = curl_setup(p);
    if (cr < 0)
        return cr;
    if (!p->async_dns && !curlloop_url_needs_no_dns(req->url)) {
        result_set(pr, PROBE_UNHEALTHY, "host name needs async DNS, which this libcurl lacks");
        defer_delivery(p, pr);
        return 0;
    }
    /* The connection's socket, made before curl is asked, where a failure can still say "the
     * check did not run" (as tcp_start's socket() and exec_start's fork() do); inside curl it
     * would be a failed check. Any other error is left to curl's own attempt (open_sock). */
    pr->spare_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (pr->spare_fd < 0 && lack_of_resources(errno))
        return -errno;
    for (const char *const *h = req->headers; h && *h; h++) {
        struct curl_slist *n = curl_slist_append(pr->slist, *h);
        if (!n) {
            http_release(p, pr);
            return -ENOMEM;
        }
        pr->slist = n;
    }
    pr->easy = curl_easy_init();
    if (!pr->easy) {
        http_release(p, pr);
        return -ENOMEM;
    }
    int r = http_setup(pr, pr->easy, req);
    if (r == 0 && (r = curlloop_add(&p->curl, pr->easy)) < 0) {
        curl_easy_cleanup(pr->easy); /* never added: no remove */
        pr->easy = NULL;
    }
    if (r < 0) {
        http_release(p, pr);
        return r;
    }
    pr->state = ST_HTTP;
    return 0;
}

/* ---------------------------------------------------------------- TCP */

/* IP literal (or "localhost") to a socket address with no resolver involved. */
static int tcp_addr(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints = {0}, *ai = NULL;
    char svc[8];
    if (strcasecmp(host, "localhost") == 0)
        host = "127.0.0.1";
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV; /* never a DNS or NSS lookup */
    snprintf(svc, sizeof svc, "%u", (unsigned)port);
    if (getaddrinfo(host, svc, &hints, &ai) != 0 || !ai)
        return -EINVAL;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

bool probe_tcp_host_ok(const char *host)
{
    struct sockaddr_storage ss;
    socklen_t len;
    return host && tcp_addr(host, 1, &ss, &len) == 0;
}

/* The connect finished with err (0: connected); releases the socket and records the result. */
static void tcp_outcome(struct prober *p, struct probe *pr, int err)
{
    tcp_release(p, pr);
    if (err == 0)
        result_set(pr, PROBE_HEALTHY, "connected");
    else if (err == ECONNREFUSED)
        result_set(pr, PROBE_UNHEALTHY, "connection refused");
    else
        result_set(pr, PROBE_UNHEALTHY, "cannot connect: %s", strerror(err));
}

static void on_tcp(struct loop *loop, struct watcher *w, uint32_t events)
{
    (void)loop;
    (void)events;
    struct probe *pr = w->data;
    struct prober *p = pr->owner;
    int err = 0;
    socklen_t len = sizeof err;
    /* connect(2), EINPROGRESS: writable means done; SO_ERROR says how it went. */
    if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    tcp_outcome(p, pr, err);
    deliver(p, pr);
}

static int tcp_start(struct prober *p, struct probe *pr, const struct probe_request *req)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (tcp_addr(req->host, req->port, &ss, &len) < 0) {
        result_set(pr, PROBE_UNHEALTHY, "not an IP address: %.64s", req->host);
        defer_delivery(p, pr);
        return 0;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    watcher_init(&pr->w, fd, on_tcp, pr);
    pr->state = ST_TCP;
    if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
        tcp_outcome(p, pr, 0);
        defer_delivery(p, pr);
    } else if (errno != EINPROGRESS) {
        tcp_outcome(p, pr, errno);
        defer_delivery(p, pr);
    } else {
        int r = loop_watch(p->loop, &pr->w, EPOLLOUT);
        if (r < 0) {
            tcp_release(p, pr);
            pr->state = ST_IDLE;
            return r;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- exec */

static int exec_start(struct prober *p, struct probe *pr, const struct probe_request *req)
{
    struct spawn_opts o;
    if (!p->sig)
        return -EINVAL;
    spawn_opts_init(&o);
    o.argv = req->argv;
    o.envp = req->envp;
    o.directory = req->directory;
    o.sig = p->sig;
    o.creds = req->creds;
    o.stdin_fd = o.stdout_fd = o.stderr_fd = p->devnull;
    pid_t pid = spawn_process(&o);
    if (pid < 0)
        return (int)pid;
    pr->pid = pid;
    pr->state = ST_EXEC;
    return 0;
}

static void exec_outcome(struct probe *pr, int ws)
{
    char sb[16];
    if (WIFEXITED(ws)) {
        int c = WEXITSTATUS(ws);
        pr->result.code = c;
        if (c == 0)
            result_set(pr, PROBE_HEALTHY, "exit 0");
        else if (c == SPAWN_EXIT_NOTFOUND)
            result_set(pr, PROBE_UNHEALTHY, "exit %d (command not found)", c);
        else if (c == SPAWN_EXIT_NOEXEC)
            result_set(pr, PROBE_UNHEALTHY, "exit %d (cannot execute)", c);
        else
            result_set(pr, PROBE_UNHEALTHY, "exit %d", c);
    } else {
        int s = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
        pr->result.code = -1;
        pr->result.term_signal = s;
        result_set(pr, PROBE_UNHEALTHY, "killed by signal %s", sig_name(s, sb, sizeof sb));
    }
}

bool prober_child_exited(struct prober *p, pid_t pid, int wait_status)
{
    if (pid <= 0)
        return false;
    for (struct probe *pr = p->active; pr; pr = pr->next) {
        if (pr->state != ST_EXEC || pr->pid != pid)
            continue;
        if (!WIFEXITED(wait_status) && !WIFSIGNALED(wait_status))
            return true; /* stopped or continued (WUNTRACED/WCONTINUED): ours, still running */
        /* Whatever the check left running in its group goes too. The leader is reaped, but a
         * group id stays allocated while any member lives, so this only reaches that group. */
        kill(-pid, SIGKILL);
        pr->pid = 0;
        exec_outcome(pr, wait_status);
        deliver(p, pr);
        return true;
    }
    return orphan_take(p, pid);
}

/* ---------------------------------------------------------------- public */

int prober_init(struct prober *p, struct loop *loop, const struct sigstate *sig)
{
    memset(p, 0, sizeof *p);
    p->devnull = -1;
    p->loop = loop;
    p->sig = sig;
    p->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    return p->devnull < 0 ? -errno : 0;
}

void prober_free(struct prober *p)
{
    while (p->active)
        probe_cancel(p, p->active);
    curlloop_free(&p->curl); /* no transfer left: probe_cancel() removed them */
    if (p->devnull >= 0)
        close(p->devnull);
    p->devnull = -1;
    free(p->orphans);
    p->orphans = NULL;
    p->n_orphans = p->cap_orphans = 0;
}

void probe_init(struct probe *pr)
{
    memset(pr, 0, sizeof *pr);
    pr->w.fd = -1;
    pr->spare_fd = -1;
}

bool probe_busy(const struct probe *pr)
{
    return pr->state != ST_IDLE;
}

static bool request_ok(const struct probe_request *req)
{
    if (req->timeout_ms == 0)
        return false;
    switch (req->kind) {
    case PROBE_KIND_HTTP: return req->url && *req->url;
    case PROBE_KIND_TCP: return req->host && *req->host;
    case PROBE_KIND_EXEC: return req->argv && req->argv[0] && *req->argv[0];
    default: return false;
    }
}

int probe_start(struct prober *p, struct probe *pr, const struct probe_request *req, probe_done_fn done,
                void *ctx)
{
    if (pr->state != ST_IDLE)
        return -EBUSY;
    if (!done || !request_ok(req))
        return -EINVAL;
    probe_init(pr);
    pr->owner = p;
    pr->done = done;
    pr->ctx = ctx;
    pr->start_ms = now_ms();
    pr->timeout_ms = req->timeout_ms;
    pr->result.kind = req->kind;
    if (req->expect)
        pr->expect = *req->expect;
    else
        pr->expect = (struct parse_http_ranges){.n = 1, .r = {{200, 399}}};
    timer_init(&pr->timer, timeout_cb, pr);
    int r = timer_start(p->loop, &pr->timer, req->timeout_ms);
    if (r < 0)
        return r;
    switch (req->kind) {
    case PROBE_KIND_HTTP: r = http_start(p, pr, req); break;
    case PROBE_KIND_TCP: r = tcp_start(p, pr, req); break;
    default: r = exec_start(p, pr, req); break;
    }
    if (r < 0) {
        timer_stop(p->loop, &pr->timer);
        pr->state = ST_IDLE;
        return r;
    }
    pr->next = p->active;
    if (p->active)
        p->active->prev = pr;
    p->active = pr;
    return 0;
}

void probe_cancel(struct prober *p, struct probe *pr)
{
    if (pr->state == ST_IDLE)
        return;
    release_check(p, pr);
    detach(p, pr);
}

int probe_request_from_config(struct probe_request *req, const struct config_health *h)
{
    memset(req, 0, sizeof *req);
    req->timeout_ms = h->timeout_ms;
    switch (h->kind) {
    case CONFIG_HEALTH_URL:
        req->kind = PROBE_KIND_HTTP;
        req->url = h->target;
        req->expect = &h->expect;
        req->ca_file = h->ca_file;
        req->insecure = h->insecure;
        return 0;
    case CONFIG_HEALTH_TCP:
        req->kind = PROBE_KIND_TCP;
        req->host = h->host;
        req->port = h->port;
        return 0;
    case CONFIG_HEALTH_EXEC:
        req->kind = PROBE_KIND_EXEC;
        req->argv = h->argv;
        return 0;
    default: return -EINVAL;
    }
}
