#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* SCM_MAX_FD in the kernel (include/net/scm.h): the most fds one message can carry. Room for all
 * of them means none is ever left in flight; the kernel would release the excess anyway. */
#define NOTIFY_MAX_FDS 253

/* ---- parsing (pure) ---- */

/* Strict decimal: digits only, no sign or spaces, no overflow past max. Returns 0 or -EINVAL. */
static int parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 20)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one (overlong forms,
 * surrogates and code points past U+10FFFF are invalid, RFC 3629). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1fu;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0fu;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

/* Copies text[0..n) (valid UTF-8) into out[cap] cut on a character boundary, control characters
 * made spaces, NUL-terminated. */
static void copy_text(char *out, size_t cap, const char *text, size_t n)
{
    const unsigned char *u = (const unsigned char *)text;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (k == 0)
            k = 1; /* not reached for validated text; keeps the loop moving regardless */
        if (o + k > cap - 1)
            break;
        for (size_t j = 0; j < k; j++) {
            unsigned char c = u[i + j];
            out[o++] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
        }
        i += k;
    }
    out[o] = '\0';
}

/* True when s[0..n) is exactly want. */
static bool same(const char *s, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

/* Applies one KEY=VALUE line. Returns 1 when understood, 0 when ignored. */
static int apply(struct notify_msg *m, const char *k, size_t kn, const char *v, size_t vn)
{
    uint64_t x;
    if (same(k, kn, "READY") && same(v, vn, "1"))
        m->flags |= NOTIFY_READY;
    else if (same(k, kn, "STOPPING") && same(v, vn, "1"))
        m->flags |= NOTIFY_STOPPING;
    else if (same(k, kn, "WATCHDOG") && same(v, vn, "1"))
        m->flags |= NOTIFY_WATCHDOG;
    else if (same(k, kn, "WATCHDOG") && same(v, vn, "trigger"))
        m->flags |= NOTIFY_WATCHDOG_TRIGGER;
    else if (same(k, kn, "STATUS") && !(m->flags & NOTIFY_HAS_STATUS) && utf8_valid(v, vn)) {
        copy_text(m->status, sizeof m->status, v, vn);
        m->flags |= NOTIFY_HAS_STATUS;
    } else if (same(k, kn, "MAINPID") && !(m->flags & NOTIFY_HAS_MAINPID) &&
               parse_dec(v, vn, INT32_MAX, &x) == 0 && x > 0) {
        m->mainpid = (pid_t)x; /* pid_t is int on Linux; pid_max is at most 2^22 */
        m->flags |= NOTIFY_HAS_MAINPID;
    } else if (same(k, kn, "WATCHDOG_USEC") && !(m->flags & NOTIFY_HAS_WATCHDOG_USEC) &&
               parse_dec(v, vn, UINT64_MAX, &x) == 0) {
        m->watchdog_usec = x;
        m->flags |= NOTIFY_HAS_WATCHDOG_USEC;
    } else if (same(k, kn, "ERRNO") && !(m->flags & NOTIFY_HAS_ERRNO) &&
               parse_dec(v, vn, INT32_MAX, &x) == 0) {
        m->err = (int)x;
        m->flags |= NOTIFY_HAS_ERRNO;
    } else {
        return 0;
    }
    return 1;
}

int notify_parse(const char *buf, size_t len, struct notify_msg *msg)
{
    memset(msg, 0, sizeof *msg);
    /* Some clients send the C string's terminator along; tolerate trailing NULs only. */
    while (len > 0 && buf[len - 1] == '\0')
        len--;
    if (memchr(buf, '\0', len))
        return -EINVAL;
    int understood = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (eq && eq > p)
            understood += apply(msg, p, (size_t)(eq - p), eq + 1, (size_t)(e - eq - 1));
        p = nl ? nl + 1 : end;
    }
    return understood;
}

/* ---- the per-service server socket ---- */

/* Takes the sender's credentials and closes every passed fd (nines keeps no fd store).
 * Returns the number of fds closed. */
static int scan_cmsgs(struct msghdr *mh, struct ucred *cred)
{
    int closed = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET)
            continue;
        if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof *cred)) {
            memcpy(cred, CMSG_DATA(c), sizeof *cred);
        } else if (c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(0)) {
            size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < n; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                if (fd >= 0 && close(fd) == 0)
                    closed++;
            }
        }
    }
    return closed;
}

/* Reads one datagram per wakeup: epoll is level-triggered, so the rest come on the next loop
 * iterations, a flooding service cannot starve the loop, and the callback (called last) is free
 * to close or free ns. */
static void on_readable(struct loop *loop, struct watcher *w, uint32_t events)
{
    (void)loop;
    (void)events;
    struct notify_sock *ns = w->data;
    char buf[NOTIFY_MSG_MAX];
    union {
        struct cmsghdr align;
        char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * NOTIFY_MAX_FDS)];
    } ctrl;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.b,
                        .msg_controllen = sizeof ctrl.b};
    /* MSG_CMSG_CLOEXEC: passed fds must not reach a child forked before they are closed. */
    ssize_t n = recvmsg(w->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            log_warn("notify %s: recvmsg: %s", ns->path, strerror(errno));
        return;
    }
    struct ucred cred = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
    int closed = scan_cmsgs(&mh, &cred);
    if (closed > 0)
        log_debug("notify %s: closed %d fd(s) passed by pid %d", ns->path, closed, (int)cred.pid);
    if (cred.pid <= 0) { /* no credentials, or a sender outside our pid namespace */
        log_debug("notify %s: datagram without a usable sender pid, ignored", ns->path);
        return;
    }
    if ((mh.msg_flags & MSG_TRUNC) || (size_t)n > sizeof buf) {
        /* debug, as all per-datagram complaints: a looping service must not flood our log */
        log_debug("notify %s: %zd-byte message from pid %d is over %u bytes, ignored", ns->path,
                  n, (int)cred.pid, NOTIFY_MSG_MAX);
        return;
    }
    struct notify_msg msg;
    int rc = notify_parse(buf, (size_t)n, &msg);
    if (rc <= 0) {
        log_debug("notify %s: nothing understood from pid %d", ns->path, (int)cred.pid);
        return;
    }
    msg.pid = cred.pid;
    msg.uid = cred.uid;
    ns->cb(ns->ctx, ns, cred.pid, &msg);
}

/* Removes a socket file left at path by an earlier run. Returns 0 or -errno (-EEXIST when path
 * is something other than a socket: never ours to delete). */
static int remove_stale(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    if (unlink(path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

/* Socket, SO_PASSCRED, bind, mode. Returns the fd or -errno, leaving nothing behind. */
static int bind_at(struct notify_sock *ns)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(ns->path);
    memcpy(sa.sun_path, ns->path, len + 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    /* SO_PASSCRED: the kernel attaches SCM_CREDENTIALS to every datagram, also when the sender
     * did not (unix(7)); a sender can only claim another pid with CAP_SYS_ADMIN. */
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)&sa,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1)) < 0)
        goto fail;
    struct stat st;
    if (chmod(ns->path, 0666) < 0 || lstat(ns->path, &st) < 0) {
        int e = errno;
        unlink(ns->path);
        close(fd);
        return -e;
    }
    ns->dev = st.st_dev;
    ns->ino = st.st_ino;
    return fd;
fail:;
    int e = errno;
    close(fd);
    return -e;
}

int notify_open(struct notify_sock *ns, struct loop *loop, const char *path, notify_fn cb,
                void *ctx)
{
    memset(ns, 0, sizeof *ns);
    ns->w.fd = -1;
    size_t len = strlen(path);
    if (len == 0 || !cb)
        return -EINVAL;
    if (len >= sizeof ns->path)
        return -ENAMETOOLONG;
    memcpy(ns->path, path, len + 1);
    int rc = remove_stale(path);
    if (rc < 0)
        return rc;
    int fd = bind_at(ns);
    if (fd < 0)
        return fd;
    ns->loop = loop;
    ns->cb = cb;
    ns->ctx = ctx;
    watcher_init(&ns->w, fd, on_readable, ns);
    rc = loop_watch(loop, &ns->w, EPOLLIN);
    if (rc < 0) {
        close(fd);
        unlink(ns->path);
        ns->w.fd = -1;
        return rc;
    }
    ns->open = true;
    return 0;
}

void notify_close(struct notify_sock *ns)
{
    if (!ns->open)
        return;
    loop_unwatch(ns->loop, &ns->w);
    close(ns->w.fd);
    ns->w.fd = -1;
    ns->open = false;
    struct stat st;
    /* Only our own file: a later notify_open for the same service may have replaced it. */
    if (lstat(ns->path, &st) == 0 && st.st_dev == ns->dev && st.st_ino == ns->ino)
        unlink(ns->path);
}

/* ---- the client towards nines' own parent ---- */

/* Fills np's address from NOTIFY_SOCKET: "/path" or "@abstract" (sd_notify(3)). Returns 0 or
 * -errno. */
static int parse_address(struct notify_parent *np, const char *s)
{
    size_t len = strlen(s);
    np->addr.sun_family = AF_UNIX;
    if (s[0] == '@') {
        /* Abstract namespace: a leading NUL, then the name, length given by addrlen alone. */
        if (len < 2 || len > sizeof np->addr.sun_path)
            return -EINVAL;
        np->addr.sun_path[0] = '\0';
        memcpy(np->addr.sun_path + 1, s + 1, len - 1);
        np->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
        return 0;
    }
    if (s[0] != '/')
        return strncmp(s, "vsock:", 6) == 0 ? -EAFNOSUPPORT : -EINVAL;
    if (len >= sizeof np->addr.sun_path)
        return -ENAMETOOLONG;
    memcpy(np->addr.sun_path, s, len + 1);
    np->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    return 0;
}

/* WATCHDOG_USEC counts when WATCHDOG_PID is unset or names us (sd_watchdog_enabled(3)): an
 * inherited variable meant for an ancestor must not make us send keep-alives for it. */
static uint64_t parse_watchdog(const char *usec, const char *pid, pid_t self)
{
    uint64_t v, p;
    if (!usec || !*usec)
        return 0;
    if (parse_dec(usec, strlen(usec), UINT64_MAX, &v) < 0 || v == 0) {
        log_warn("notify: ignoring invalid WATCHDOG_USEC '%s'", usec);
        return 0;
    }
    if (pid && *pid) {
        if (parse_dec(pid, strlen(pid), INT32_MAX, &p) < 0 || p != (uint64_t)self) {
            log_debug("notify: WATCHDOG_PID=%s is not us (%d): no keep-alives", pid, (int)self);
            return 0;
        }
    }
    return v;
}

int notify_parent_setup(struct notify_parent *np, const char *notify_socket,
                        const char *watchdog_usec, const char *watchdog_pid, pid_t self)
{
    memset(np, 0, sizeof *np);
    np->fd = -1;
    if (!notify_socket || !*notify_socket)
        return 0;
    int rc = parse_address(np, notify_socket);
    if (rc < 0) {
        log_warn("notify: NOTIFY_SOCKET '%s' is %s; not notifying the parent", notify_socket,
                 rc == -EAFNOSUPPORT ? "not a supported address" : "not a usable socket path");
        return rc;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        rc = -errno;
        log_warn("notify: socket for NOTIFY_SOCKET: %s", strerror(errno));
        return rc;
    }
    np->fd = fd;
    np->watchdog_usec = parse_watchdog(watchdog_usec, watchdog_pid, self);
    return 1;
}

int notify_parent_init(struct notify_parent *np)
{
    return notify_parent_setup(np, getenv("NOTIFY_SOCKET"), getenv("WATCHDOG_USEC"),
                               getenv("WATCHDOG_PID"), getpid());
}

int notify_parent_send(struct notify_parent *np, const char *state)
{
    if (np->fd < 0)
        return 0;
    size_t len = strlen(state);
    if (len == 0)
        return -EINVAL;
    /* MSG_DONTWAIT on top of O_NONBLOCK: a manager that stopped reading costs a dropped
     * message, never a stalled loop. MSG_NOSIGNAL: no SIGPIPE. */
    ssize_t n = sendto(np->fd, state, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                       (const struct sockaddr *)&np->addr, np->addrlen);
    if (n < 0) {
        int e = errno;
        nlog(np->failing ? LOG_DEBUG : LOG_WARN, NULL, "notify: sending to the parent failed: %s",
             strerror(e));
        np->failing = true;
        return -e;
    }
    if (np->failing)
        log_info("notify: sending to the parent works again");
    np->failing = false;
    return 1;
}

int notify_parent_ready(struct notify_parent *np)
{
    return notify_parent_send(np, "READY=1");
}

int notify_parent_stopping(struct notify_parent *np)
{
    return notify_parent_send(np, "STOPPING=1");
}

int notify_parent_watchdog(struct notify_parent *np)
{
    return notify_parent_send(np, "WATCHDOG=1");
}

int notify_parent_status(struct notify_parent *np, const char *fmt, ...)
{
    if (np->fd < 0)
        return 0;
    char text[NOTIFY_STATUS_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    size_t len = strlen(text);
    /* A cut may end inside a UTF-8 sequence: drop its continuation bytes and lead byte. */
    if ((size_t)n > len) {
        size_t k = len;
        while (k > 0 && ((unsigned char)text[k - 1] & 0xc0) == 0x80)
            k--;
        if (k > 0 && (unsigned char)text[k - 1] >= 0xc0 &&
            utf8_seq((const unsigned char *)text + k - 1, len - k + 1) == 0)
            len = k - 1;
    }
    char state[sizeof "STATUS=" + NOTIFY_STATUS_MAX];
    memcpy(state, "STATUS=", 7);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        state[7 + i] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
    }
    state[7 + len] = '\0';
    return notify_parent_send(np, state);
}

uint64_t notify_parent_keepalive_ms(const struct notify_parent *np)
{
    if (np->fd < 0 || np->watchdog_usec == 0)
        return 0;
    uint64_t ms = np->watchdog_usec / 2000; /* half, in ms (sd_watchdog_enabled(3)) */
    return ms ? ms : 1;
}

void notify_parent_close(struct notify_parent *np)
{
    if (np->fd >= 0)
        close(np->fd);
    np->fd = -1;
}

/* ---- hardware watchdog ---- */

int hwwd_open(const char *dev, unsigned *timeout_s)
{
    *timeout_s = 0;
    int fd = open(dev, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int t = 0;
    /* Optional for drivers (WDIOF_SETTIMEOUT drivers have it); 0 means "unknown". */
    if (ioctl(fd, WDIOC_GETTIMEOUT, &t) == 0 && t > 0)
        *timeout_s = (unsigned)t;
    return fd;
}

int hwwd_keepalive(int fd)
{
    int dummy = 0;
    if (ioctl(fd, WDIOC_KEEPALIVE, &dummy) == 0)
        return 0;
    if (errno != ENOTTY && errno != EINVAL && errno != EOPNOTSUPP)
        return -errno;
    /* Every driver takes a write as a ping; any byte but 'V' (which would arm the magic close). */
    return write(fd, "\0", 1) == 1 ? 0 : -errno;
}

uint64_t hwwd_interval_ms(unsigned timeout_s)
{
    if (timeout_s == 0)
        return 1000;
    return (uint64_t)timeout_s * 500u;
}

int hwwd_close(int fd, bool magic)
{
    if (fd < 0)
        return 0;
    int rc = 0;
    if (magic && write(fd, "V", 1) != 1)
        rc = -errno;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}
