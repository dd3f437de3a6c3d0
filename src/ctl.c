#include "ctl.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

/* READING: waiting for the request line (read timeout armed).
 * WAITING: the owner holds conn (owned) and answers later or streams.
 * CLOSING: the reply is complete; sending what is left, then close.
 * DEAD:    the fd is closed; conn waits for the owner (gone() timer, or ctl_end) or for the
 *          request() call it is inside of to return. */
enum conn_state { C_READING, C_WAITING, C_CLOSING, C_DEAD };

struct ctl_conn {
    struct ctl *ctl;
    struct ctl_conn *prev, *next;
    struct watcher w;
    struct timer timer; /* read timeout, write stall, or the deferred gone() */
    enum conn_state state;
    bool owned;      /* the owner holds the pointer */
    bool in_request; /* inside ops->request(): must not be freed */
    bool rd_eof;     /* the client shut down its sending side */
    bool hdr_ready;  /* the header is decided: output may be sent */
    uint32_t events; /* what w is registered for */
    struct ucred cred;
    void *data;
    char hdr[PROTO_HEADER_MAX];
    size_t hdrlen, hdroff;
    char *out;
    size_t outlen, outoff, outcap;
    size_t inlen;
    struct proto_request req;
    char in[PROTO_LINE_MAX];
};

struct ctl {
    struct loop *loop;
    const struct ctl_ops *ops;
    void *ctx;
    struct ctl_opts opts;
    uid_t self_uid;
    struct watcher w; /* the listening socket */
    struct timer accept_timer;
    char *path;
    dev_t dev;
    ino_t ino;
    struct ctl_conn *conns;
    size_t nconns;
};

enum { ACCEPT_PAUSE_MS = 1000, DRAIN_MAX = 64 * 1024, PROC_GROUPS_MAX = 4096 };

static void conn_settle(struct ctl_conn *c, bool from_owner);

/* ---- authorisation ---- */

static bool gid_member(gid_t want, gid_t gid, const gid_t *groups, size_t n)
{
    if (want == CTL_NO_GID)
        return false;
    if (gid == want)
        return true;
    for (size_t i = 0; i < n; i++)
        if (groups[i] == want)
            return true;
    return false;
}

enum ctl_access ctl_access_decide(uid_t uid, gid_t gid, const gid_t *groups, size_t n,
                                  uid_t self_uid, gid_t control_gid, gid_t status_gid)
{
    if (uid == 0 || uid == self_uid)
        return CTL_ACCESS_CONTROL;
    if (gid_member(control_gid, gid, groups, n))
        return CTL_ACCESS_CONTROL;
    if (gid_member(status_gid, gid, groups, n))
        return CTL_ACCESS_STATUS;
    return CTL_ACCESS_NONE;
}

int ctl_proc_groups(const char *status_text, gid_t *out, size_t max)
{
    const char *p = status_text;
    while (strncmp(p, "Groups:", 7)) {
        p = strchr(p, '\n');
        if (!p)
            return -ENOENT;
        p++;
    }
    p += 7;
    int n = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p < '0' || *p > '9')
            return n; /* end of line (or of a cut text) */
        unsigned long long v = 0;
        for (; *p >= '0' && *p <= '9'; p++)
            if (v <= UINT32_MAX)
                v = v * 10 + (unsigned)(*p - '0');
        if ((size_t)n < max && v < CTL_NO_GID) /* an out-of-range number is no group */
            out[n] = (gid_t)v;
        else if ((size_t)n < max)
            out[n] = CTL_NO_GID;
        n++;
    }
}

/* Supplementary groups from /proc/PID/status, for kernels without SO_PEERGROUPS (< 4.13).
 * Racy against pid reuse, hence only the fallback. Returns the count (<= max) or -errno. */
static int proc_groups(pid_t pid, gid_t *out, size_t max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    ssize_t r;
    while (len < cap - 1 && (r = read(fd, buf + len, cap - 1 - len)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    int n = ctl_proc_groups(buf, out, max);
    free(buf);
    return n < 0 ? n : (n > (int)max ? (int)max : n);
}

/* The supplementary groups of c's peer into *out (malloc'd, caller frees). Returns the count. */
static size_t peer_groups(const struct ctl_conn *c, gid_t **out)
{
    socklen_t len = 64 * sizeof(gid_t);
    *out = NULL;
    for (int tries = 0; tries < 3; tries++) {
        gid_t *g = malloc(len ? len : sizeof(gid_t));
        if (!g)
            return 0;
        /* SO_PEERGROUPS (Linux 4.13): the groups at connect time, mapped into our namespace. */
        if (getsockopt(c->w.fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0) {
            *out = g;
            return len / sizeof(gid_t);
        }
        int e = errno;
        if (e == ENOPROTOOPT && c->cred.pid > 0) {
            free(g);
            g = malloc(PROC_GROUPS_MAX * sizeof(gid_t));
            int n = g ? proc_groups(c->cred.pid, g, PROC_GROUPS_MAX) : -ENOMEM;
            if (n <= 0) {
                free(g);
                return 0;
            }
            *out = g;
            return (size_t)n;
        }
        free(g);
        if (e != ERANGE) /* ERANGE: len now holds the size needed */
            return 0;
    }
    return 0;
}

static enum ctl_access peer_access(const struct ctl_conn *c)
{
    const struct ctl *ctl = c->ctl;
    if (c->cred.uid == 0 || c->cred.uid == ctl->self_uid)
        return CTL_ACCESS_CONTROL;
    if (ctl->opts.control_gid == CTL_NO_GID && ctl->opts.status_gid == CTL_NO_GID)
        return CTL_ACCESS_NONE;
    gid_t *groups;
    size_t n = peer_groups(c, &groups);
    enum ctl_access a = ctl_access_decide(c->cred.uid, c->cred.gid, groups, n, ctl->self_uid,
                                          ctl->opts.control_gid, ctl->opts.status_gid);
    free(groups);
    return a;
}

/* ---- connection bookkeeping ---- */

static void conn_close_fd(struct ctl_conn *c)
{
    if (c->w.fd < 0)
        return;
    loop_unwatch(c->ctl->loop, &c->w);
    close(c->w.fd);
    c->w.fd = -1;
}

static void conn_free(struct ctl_conn *c)
{
    struct ctl *ctl = c->ctl;
    if (c->prev)
        c->prev->next = c->next;
    else
        ctl->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ctl->nconns--;
    timer_stop(ctl->loop, &c->timer);
    conn_close_fd(c);
    free(c->out);
    free(c);
}

/* Reads and drops what the client sent beyond its request before close(2): a Unix socket closed
 * with unread data makes the peer's next read fail with ECONNRESET (net/unix/af_unix.c,
 * unix_release_sock) instead of a clean EOF after our reply. */
static void conn_drain(struct ctl_conn *c)
{
    char buf[4096];
    for (size_t total = 0; total < DRAIN_MAX;) {
        ssize_t r = recv(c->w.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        total += (size_t)r;
    }
}

/* The connection is unusable (hangup, write error, overflow, stall). In owner context (a ctl_*
 * call, or inside request()) gone() is deferred to a 0 ms timer so it never runs re-entrantly. */
static void conn_break(struct ctl_conn *c, const char *why, bool from_owner)
{
    struct ctl *ctl = c->ctl;
    log_debug("control: client pid %d: %s", (int)c->cred.pid, why);
    conn_close_fd(c);
    c->hdrlen = c->hdroff = c->outlen = c->outoff = 0;
    c->state = C_DEAD;
    if (from_owner || c->in_request) {
        if (c->owned)
            timer_start(ctl->loop, &c->timer, 0); /* on -ENOMEM ctl_write retries */
        else if (!c->in_request)
            conn_free(c);
        else
            timer_stop(ctl->loop, &c->timer);
        return;
    }
    if (c->owned) {
        c->owned = false;
        if (ctl->ops->gone)
            ctl->ops->gone(ctl->ctx, c);
    }
    conn_free(c);
}

static bool conn_pending(const struct ctl_conn *c)
{
    return c->hdr_ready && (c->hdroff < c->hdrlen || c->outoff < c->outlen);
}

/* Sends pending output until done or EAGAIN. Returns 0, or -errno when the peer is gone. */
static int conn_flush(struct ctl_conn *c, bool *progress)
{
    while (conn_pending(c)) {
        struct iovec iov[2];
        int n = 0;
        if (c->hdroff < c->hdrlen)
            iov[n++] = (struct iovec){c->hdr + c->hdroff, c->hdrlen - c->hdroff};
        if (c->outoff < c->outlen)
            iov[n++] = (struct iovec){c->out + c->outoff, c->outlen - c->outoff};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        /* MSG_NOSIGNAL: a client that went away must cost an EPIPE, not nines' life. */
        ssize_t w = sendmsg(c->w.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -errno;
        }
        *progress = true;
        size_t k = (size_t)w, h = c->hdrlen - c->hdroff;
        if (h > k)
            h = k;
        c->hdroff += h;
        c->outoff += k - h;
    }
    if (c->outoff == c->outlen) {
        c->outoff = c->outlen = 0;
        if (c->outcap > 64 * 1024) { /* give back what a big reply took */
            free(c->out);
            c->out = NULL;
            c->outcap = 0;
        }
    }
    return 0;
}

/* Brings conn's I/O in line with its state: sends pending output, closes a finished conn, sets
 * the watched events and the stall timer. May free c (never while it is inside request()). */
static void conn_settle(struct ctl_conn *c, bool from_owner)
{
    struct ctl *ctl = c->ctl;
    if (c->state == C_DEAD) {
        if (!c->owned && !c->in_request)
            conn_free(c);
        return;
    }
    bool progress = false;
    int rc = conn_flush(c, &progress);
    if (rc < 0) {
        conn_break(c, strerror(-rc), from_owner);
        return;
    }
    bool pending = conn_pending(c);
    if (c->state == C_CLOSING && !pending) {
        if (!c->in_request) {
            conn_drain(c);
            conn_free(c);
        }
        return;
    }
    uint32_t ev = pending ? EPOLLOUT : 0;
    if (c->state == C_READING || (c->state == C_WAITING && !c->rd_eof))
        ev |= EPOLLIN;
    if (!c->w.added || ev != c->events) {
        if (loop_watch(ctl->loop, &c->w, ev) < 0) {
            conn_break(c, "cannot watch the socket", from_owner);
            return;
        }
        c->events = ev;
    }
    if (c->state == C_READING)
        return; /* the timer is the read timeout */
    if (!pending)
        timer_stop(ctl->loop, &c->timer);
    else if (progress || !timer_active(&c->timer))
        timer_start(ctl->loop, &c->timer, ctl->opts.stall_ms); /* -ENOMEM: no stall check */
}

/* Decides the header; an invalid code becomes 1 (ERR) or a protocol-conforming 1 (OK). */
static void conn_set_header(struct ctl_conn *c, int code, const char *msg)
{
    int n = proto_format_header(c->hdr, sizeof c->hdr, code, msg);
    if (n < 0) {
        log_warn("control: bad reply exit code %d", code);
        n = proto_format_header(c->hdr, sizeof c->hdr, 1, msg);
    }
    c->hdrlen = n < 0 ? 0 : (size_t)n;
    c->hdroff = 0;
    c->hdr_ready = true;
}

/* Queues len bytes of payload, growing the buffer up to opts.out_max unsent bytes.
 * Returns 0, -ENOBUFS (over the limit) or -ENOMEM; c is unchanged on error. */
static int conn_append(struct ctl_conn *c, const void *buf, size_t len)
{
    size_t unsent = c->outlen - c->outoff;
    if (len == 0)
        return 0;
    if (len > c->ctl->opts.out_max - unsent)
        return -ENOBUFS;
    if (c->outoff && c->outlen + len > c->outcap) {
        memmove(c->out, c->out + c->outoff, unsent);
        c->outlen = unsent;
        c->outoff = 0;
    }
    if (c->outlen + len > c->outcap) {
        size_t cap = c->outcap ? c->outcap : 4096;
        while (cap < c->outlen + len)
            cap *= 2;
        char *p = realloc(c->out, cap);
        if (!p)
            return -ENOMEM;
        c->out = p;
        c->outcap = cap;
    }
    memcpy(c->out + c->outlen, buf, len);
    c->outlen += len;
    return 0;
}

/* Finishes with an ERR header from inside ctl.c (before request()). */
static void conn_fail(struct ctl_conn *c, int code, const char *msg)
{
    c->outlen = c->outoff = 0;
    conn_set_header(c, code, msg);
    c->state = C_CLOSING;
}

/* ---- requests ---- */

static void conn_deny(struct ctl_conn *c, const char *verb)
{
    nlog(LOG_WARN, NULL, "control: permission denied: uid %u (pid %d)%s%s",
         (unsigned)c->cred.uid, (int)c->cred.pid, verb ? " for " : "", verb ? verb : "");
    conn_fail(c, 1, "permission denied");
}

/* A whole line (len bytes, newline included) is in c->in: authorise, parse, dispatch. */
static void conn_got_line(struct ctl_conn *c, size_t len)
{
    struct ctl *ctl = c->ctl;
    timer_stop(ctl->loop, &c->timer);
    c->state = C_WAITING;
    enum ctl_access acc = peer_access(c);
    char err[PROTO_ERR_MAX];
    if (acc == CTL_ACCESS_NONE) {
        conn_deny(c, NULL);
    } else if (len != c->inlen) {
        conn_fail(c, 2, "data after the request line (one request per connection)");
    } else if (proto_parse_request(c->in, len, &c->req, err, sizeof err) < 0) {
        conn_fail(c, 2, err);
    } else if (acc != CTL_ACCESS_CONTROL && !proto_verb_readonly(c->req.verb)) {
        conn_deny(c, proto_verb_name(c->req.verb));
    } else if (c->req.verb == PROTO_VERSION) {
        char v[64];
        int n = snprintf(v, sizeof v, "nines %s (protocol %d)\n", NINES_VERSION, PROTO_REVISION);
        if (conn_append(c, v, (size_t)n) < 0) {
            conn_fail(c, 1, "out of memory");
        } else {
            conn_set_header(c, 0, NULL);
            c->state = C_CLOSING;
        }
    } else {
        log_debug("control: uid %u: %s", (unsigned)c->cred.uid, proto_verb_name(c->req.verb));
        c->owned = true;
        c->in_request = true;
        ctl->ops->request(ctl->ctx, c, &c->req);
        c->in_request = false;
    }
    conn_settle(c, false);
}

static void conn_read_request(struct ctl_conn *c, uint32_t events)
{
    bool eof = false;
    while (c->inlen < sizeof c->in) {
        ssize_t r = recv(c->w.fd, c->in + c->inlen, sizeof c->in - c->inlen, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (r < 0) {
            conn_break(c, strerror(errno), false);
            return;
        }
        if (r == 0) {
            eof = true;
            break;
        }
        const char *nl = memchr(c->in + c->inlen, '\n', (size_t)r);
        c->inlen += (size_t)r;
        if (nl) {
            conn_got_line(c, (size_t)(nl - c->in) + 1);
            return;
        }
    }
    if (c->inlen == sizeof c->in) {
        char msg[64];
        snprintf(msg, sizeof msg, "request too long (limit %d bytes)", PROTO_LINE_MAX);
        conn_fail(c, 2, msg);
    } else if (eof || (events & EPOLLHUP)) {
        /* Gone for good, or a connect-and-close probe: nobody to answer. A half-close after a
         * partial line (`printf status | socat`) still reads replies: tell it what is wrong. */
        if (c->inlen == 0 || (events & EPOLLHUP)) {
            conn_break(c, "hung up before a whole request", false);
            return;
        }
        conn_fail(c, 2, "incomplete request (no newline)");
    }
    conn_settle(c, false);
}

/* Input after the request: discarded (one request per connection); EOF is a half-close. */
static int conn_discard_input(struct ctl_conn *c)
{
    char buf[512];
    for (int i = 0; i < 16; i++) {
        ssize_t r = recv(c->w.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
        if (r == 0) {
            c->rd_eof = true;
            return 0;
        }
    }
    return 0;
}

static void on_conn_event(struct loop *loop, struct watcher *w, uint32_t events)
{
    (void)loop;
    struct ctl_conn *c = w->data;
    if (c->state == C_READING && !(events & EPOLLERR)) {
        conn_read_request(c, events);
        return;
    }
    /* Unix sockets report EPOLLHUP only when the peer closed for good (both directions), so a
     * client that merely shut down its sending side keeps waiting for its reply. */
    if (events & (EPOLLERR | EPOLLHUP)) {
        conn_break(c, events & EPOLLERR ? "socket error" : "client hung up", false);
        return;
    }
    if ((events & EPOLLIN) && c->state == C_WAITING) {
        int rc = conn_discard_input(c);
        if (rc < 0) {
            conn_break(c, strerror(-rc), false);
            return;
        }
    }
    conn_settle(c, false);
}

static void on_conn_timer(struct loop *loop, struct timer *t)
{
    (void)loop;
    struct ctl_conn *c = t->data;
    switch (c->state) {
    case C_READING:
        log_debug("control: client pid %d: no request within %llu ms", (int)c->cred.pid,
                  (unsigned long long)c->ctl->opts.read_timeout_ms);
        conn_fail(c, 2, "timeout");
        conn_settle(c, false);
        return;
    case C_DEAD: /* the deferred gone() */
        if (c->owned) {
            c->owned = false;
            if (c->ctl->ops->gone)
                c->ctl->ops->gone(c->ctl->ctx, c);
        }
        conn_free(c);
        return;
    case C_WAITING:
    case C_CLOSING:
        conn_break(c, "not reading its output", false);
        return;
    }
}

/* ---- accepting ---- */

/* Best-effort one-line refusal to a connection we will not serve, then close. */
static void refuse(int fd, const char *msg)
{
    char hdr[128];
    int n = proto_format_header(hdr, sizeof hdr, 1, msg);
    if (n > 0 && send(fd, hdr, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_debug("control: refusing a client: %s", strerror(errno));
    close(fd);
}

static size_t conns_of_uid(const struct ctl *ctl, uid_t uid)
{
    size_t n = 0;
    for (const struct ctl_conn *c = ctl->conns; c; c = c->next)
        n += c->cred.uid == uid;
    return n;
}

static void conn_new(struct ctl *ctl, int fd)
{
    struct ucred cred;
    socklen_t clen = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
        log_warn("control: SO_PEERCRED: %s", strerror(errno));
        close(fd);
        return;
    }
    bool privileged = cred.uid == 0 || cred.uid == ctl->self_uid;
    if (ctl->nconns >= CTL_MAX_CONNS ||
        (!privileged && conns_of_uid(ctl, cred.uid) >= CTL_MAX_CONNS_PER_UID)) {
        log_warn("control: too many connections, refusing uid %u (pid %d)", (unsigned)cred.uid,
                 (int)cred.pid);
        refuse(fd, "too many connections");
        return;
    }
    struct ctl_conn *c = calloc(1, sizeof *c);
    if (!c) {
        refuse(fd, "out of memory");
        return;
    }
    c->ctl = ctl;
    c->cred = cred;
    c->state = C_READING;
    watcher_init(&c->w, fd, on_conn_event, c);
    timer_init(&c->timer, on_conn_timer, c);
    c->next = ctl->conns;
    if (ctl->conns)
        ctl->conns->prev = c;
    ctl->conns = c;
    ctl->nconns++;
    if (loop_watch(ctl->loop, &c->w, EPOLLIN) < 0 ||
        timer_start(ctl->loop, &c->timer, ctl->opts.read_timeout_ms) < 0) {
        log_warn("control: cannot watch a client: out of memory");
        conn_free(c);
        return;
    }
    c->events = EPOLLIN;
}

static void on_accept_timer(struct loop *loop, struct timer *t)
{
    struct ctl *ctl = t->data;
    if (loop_watch(loop, &ctl->w, EPOLLIN) < 0)
        timer_start(loop, &ctl->accept_timer, ACCEPT_PAUSE_MS);
}

static void on_accept(struct loop *loop, struct watcher *w, uint32_t events)
{
    (void)events;
    struct ctl *ctl = w->data;
    /* A bounded batch per wakeup, so a connect flood cannot starve the rest of the loop. */
    for (int i = 0; i < 64; i++) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
            conn_new(ctl, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        /* EMFILE/ENFILE/ENOBUFS/ENOMEM: the pending connection stays queued and the socket
         * stays readable; stop watching for a while instead of spinning on it (accept(2)). */
        log_warn("control: accept: %s; pausing for %d ms", strerror(errno), ACCEPT_PAUSE_MS);
        loop_unwatch(loop, w);
        if (timer_start(loop, &ctl->accept_timer, ACCEPT_PAUSE_MS) < 0)
            on_accept_timer(loop, &ctl->accept_timer);
        return;
    }
}

/* ---- the listening socket ---- */

/* Binds fd to sa. A socket file left by a dead server is replaced, but only when connecting to
 * it is refused: a live server keeps it, and a file that is not a socket is never removed. */
static int bind_or_replace(int fd, const struct sockaddr_un *sa)
{
    if (bind(fd, (const struct sockaddr *)sa, sizeof *sa) == 0)
        return 0;
    if (errno != EADDRINUSE)
        return -errno;
    struct stat st;
    if (lstat(sa->sun_path, &st) < 0)
        return errno == ENOENT ? -EADDRINUSE : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EADDRINUSE;
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0)
        return -errno;
    int e = connect(probe, (const struct sockaddr *)sa, sizeof *sa) == 0 ? 0 : errno;
    close(probe);
    if (e == 0 || e == EAGAIN) /* accepted, or a live server with a full backlog */
        return -EADDRINUSE;
    if (e != ECONNREFUSED)
        return -e;
    log_info("control: removing stale socket %s", sa->sun_path);
    if (unlink(sa->sun_path) < 0 && errno != ENOENT)
        return -errno;
    return bind(fd, (const struct sockaddr *)sa, sizeof *sa) == 0 ? 0 : -errno;
}

/* Socket, bind, mode, listen. Returns the listening fd or -errno (nothing left behind). */
static int listen_at(struct ctl *ctl)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, ctl->path, strlen(ctl->path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int rc = bind_or_replace(fd, &sa);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    /* 0666: anyone may connect; every request is authorised by SO_PEERCRED. chmod before
     * listen(), so nobody connects while the umask-derived mode is in place. */
    struct stat st;
    if (chmod(ctl->path, 0666) < 0 || lstat(ctl->path, &st) < 0 || listen(fd, SOMAXCONN) < 0) {
        rc = -errno;
        unlink(ctl->path);
        close(fd);
        return rc;
    }
    ctl->dev = st.st_dev;
    ctl->ino = st.st_ino;
    return fd;
}

struct ctl *ctl_open(struct loop *loop, const char *path, const struct ctl_ops *ops, void *ctx,
                     const struct ctl_opts *opts)
{
    struct sockaddr_un sa;
    size_t plen = strlen(path);
    if (plen == 0 || plen >= sizeof sa.sun_path) {
        errno = plen ? ENAMETOOLONG : EINVAL;
        return NULL;
    }
    struct ctl *ctl = calloc(1, sizeof *ctl);
    if (!ctl || !(ctl->path = strdup(path))) {
        free(ctl);
        errno = ENOMEM;
        return NULL;
    }
    ctl->loop = loop;
    ctl->ops = ops;
    ctl->ctx = ctx;
    ctl->self_uid = geteuid();
    ctl->opts = opts ? *opts
                     : (struct ctl_opts){.control_gid = CTL_NO_GID, .status_gid = CTL_NO_GID};
    if (!ctl->opts.read_timeout_ms)
        ctl->opts.read_timeout_ms = CTL_READ_TIMEOUT_MS;
    if (!ctl->opts.stall_ms)
        ctl->opts.stall_ms = CTL_WRITE_STALL_MS;
    if (!ctl->opts.out_max)
        ctl->opts.out_max = CTL_OUT_MAX;
    timer_init(&ctl->accept_timer, on_accept_timer, ctl);
    int fd = listen_at(ctl);
    if (fd < 0) {
        free(ctl->path);
        free(ctl);
        errno = -fd;
        return NULL;
    }
    watcher_init(&ctl->w, fd, on_accept, ctl);
    int rc = loop_watch(loop, &ctl->w, EPOLLIN);
    if (rc < 0) {
        ctl->w.fd = -1;
        close(fd);
        unlink(ctl->path);
        free(ctl->path);
        free(ctl);
        errno = -rc;
        return NULL;
    }
    return ctl;
}

void ctl_free(struct ctl *ctl)
{
    if (!ctl)
        return;
    loop_unwatch(ctl->loop, &ctl->w);
    timer_stop(ctl->loop, &ctl->accept_timer);
    close(ctl->w.fd);
    struct stat st;
    /* Remove the file only if it is still ours, not one a newer server bound meanwhile. */
    if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
        unlink(ctl->path);
    /* gone() may finish other conns (even free them): always restart from the head. */
    while (ctl->conns) {
        struct ctl_conn *c = ctl->conns;
        if (c->owned) {
            c->owned = false;
            if (ctl->ops->gone)
                ctl->ops->gone(ctl->ctx, c);
        }
        if (c->state != C_DEAD) {
            bool progress;
            conn_flush(c, &progress);
        }
        conn_free(c);
    }
    free(ctl->path);
    free(ctl);
}

void ctl_set_groups(struct ctl *ctl, gid_t control_gid, gid_t status_gid)
{
    ctl->opts.control_gid = control_gid;
    ctl->opts.status_gid = status_gid;
}

size_t ctl_conn_count(const struct ctl *ctl)
{
    return ctl->nconns;
}

/* ---- the owner's reply API ---- */

const struct ucred *ctl_conn_peer(const struct ctl_conn *conn)
{
    return &conn->cred;
}

void ctl_conn_set_data(struct ctl_conn *conn, void *data)
{
    conn->data = data;
}

void *ctl_conn_data(const struct ctl_conn *conn)
{
    return conn->data;
}

int ctl_write(struct ctl_conn *c, const void *buf, size_t len)
{
    if (c->state == C_DEAD || c->state == C_CLOSING) {
        if (c->owned && c->state == C_DEAD && !timer_active(&c->timer))
            timer_start(c->ctl->loop, &c->timer, 0); /* the earlier arming failed */
        return -EPIPE;
    }
    /* Straight to the socket when nothing is queued: a big streamed reply then needs no copy
     * and only what the socket does not take counts against out_max. */
    if (c->hdr_ready && !conn_pending(c) && len) {
        ssize_t w;
        do
            w = send(c->w.fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (w < 0 && errno == EINTR);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            conn_break(c, strerror(errno), true);
            return -EPIPE;
        }
        if (w > 0) {
            buf = (const char *)buf + w;
            len -= (size_t)w;
        }
    }
    int rc = conn_append(c, buf, len);
    if (rc < 0) {
        if (!c->hdr_ready)
            log_warn("control: reply to pid %d larger than %zu bytes", (int)c->cred.pid,
                     c->ctl->opts.out_max);
        conn_break(c, rc == -ENOBUFS ? "not reading its output" : "out of memory", true);
        return rc;
    }
    if (c->hdr_ready)
        conn_settle(c, true);
    return c->state == C_DEAD ? -EPIPE : 0;
}

int ctl_printf(struct ctl_conn *c, const char *fmt, ...)
{
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n < sizeof small)
        return ctl_write(c, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = ctl_write(c, big, (size_t)n);
    free(big);
    return rc;
}

int ctl_write_json(struct ctl_conn *c, const char *s)
{
    char small[1024];
    size_t len = strlen(s);
    size_t need = proto_json_escape(small + 1, sizeof small - 2, s, len);
    char *buf = small;
    if (need + 3 > sizeof small) {
        buf = malloc(need + 3);
        if (!buf)
            return -ENOMEM;
        proto_json_escape(buf + 1, need + 1, s, len);
    }
    buf[0] = '"';
    buf[need + 1] = '"';
    int rc = ctl_write(c, buf, need + 2);
    if (buf != small)
        free(buf);
    return rc;
}

int ctl_begin(struct ctl_conn *c, int exit_code)
{
    if (c->state == C_DEAD || c->state == C_CLOSING)
        return ctl_write(c, "", 0);
    if (c->hdr_ready)
        return 0;
    conn_set_header(c, exit_code, NULL);
    conn_settle(c, true);
    return c->state == C_DEAD ? -EPIPE : 0;
}

void ctl_end(struct ctl_conn *c, int exit_code)
{
    c->owned = false;
    if (c->state == C_DEAD) {
        if (!c->in_request)
            conn_free(c);
        return;
    }
    if (!c->hdr_ready)
        conn_set_header(c, exit_code, NULL);
    c->state = C_CLOSING;
    if (!c->in_request)
        conn_settle(c, true);
}

void ctl_reply(struct ctl_conn *c, int exit_code, const char *payload, size_t len)
{
    if (len)
        ctl_write(c, payload, len);
    ctl_end(c, exit_code);
}

void ctl_reply_error(struct ctl_conn *c, int exit_code, const char *msg)
{
    if (c->state != C_DEAD && c->hdr_ready) {
        ctl_printf(c, "error: %s\n", msg);
    } else if (c->state != C_DEAD) {
        c->outlen = c->outoff = 0;
        conn_set_header(c, exit_code < 1 || exit_code > 255 ? 1 : exit_code, msg);
    }
    ctl_end(c, exit_code);
}

void ctl_reply_errorf(struct ctl_conn *c, int exit_code, const char *fmt, ...)
{
    char msg[PROTO_HEADER_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctl_reply_error(c, exit_code, msg);
}
