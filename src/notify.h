/* notify: the sd_notify(3) protocol on both sides, and the hardware watchdog device.
 * Owns (1) the per-service notify socket (a datagram socket whose path a service gets as
 * NOTIFY_SOCKET; every datagram is read with its SCM_CREDENTIALS, stray SCM_RIGHTS fds are
 * closed, and the text is parsed into a struct notify_msg for the owner's callback); (2) nines'
 * own client towards its parent service manager (NOTIFY_SOCKET / WATCHDOG_USEC / WATCHDOG_PID read
 * once at start, best-effort non-blocking sends); (3) thin wrappers for /dev/watchdog.
 * What a message means for a service (ready, watchdog deadline, main pid) is the owner's business:
 * this module neither keeps timers nor decides whether a sender pid belongs to a service. */
#ifndef NINES_NOTIFY_H
#define NINES_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "loop.h"

#define NOTIFY_MSG_MAX 4096u    /* bytes of one datagram; longer ones are dropped (as systemd) */
#define NOTIFY_STATUS_MAX 256u  /* bytes kept of STATUS= including the NUL; longer is truncated */

/* msg->flags: what the datagram said. The NOTIFY_HAS_* bits tell which value fields are set. */
enum {
    NOTIFY_READY = 1u << 0,            /* READY=1 */
    NOTIFY_STOPPING = 1u << 1,         /* STOPPING=1 */
    NOTIFY_WATCHDOG = 1u << 2,         /* WATCHDOG=1: keep-alive */
    NOTIFY_WATCHDOG_TRIGGER = 1u << 3, /* WATCHDOG=trigger: act as if the deadline was missed */
    NOTIFY_HAS_STATUS = 1u << 4,       /* STATUS=text (may be empty: clears the status) */
    NOTIFY_HAS_MAINPID = 1u << 5,      /* MAINPID=n, n > 0 */
    NOTIFY_HAS_WATCHDOG_USEC = 1u << 6,/* WATCHDOG_USEC=n: new watchdog timeout in microseconds */
    NOTIFY_HAS_ERRNO = 1u << 7,        /* ERRNO=n, n >= 0 */
};

struct notify_msg {
    pid_t pid;              /* sender, from SCM_CREDENTIALS (0 from notify_parse) */
    uid_t uid;              /* sender's uid, from SCM_CREDENTIALS (0 from notify_parse) */
    unsigned flags;         /* NOTIFY_* bits */
    pid_t mainpid;          /* valid with NOTIFY_HAS_MAINPID */
    uint64_t watchdog_usec; /* valid with NOTIFY_HAS_WATCHDOG_USEC */
    int err;                /* ERRNO= value, valid with NOTIFY_HAS_ERRNO */
    char status[NOTIFY_STATUS_MAX]; /* valid with NOTIFY_HAS_STATUS; NUL-terminated, UTF-8,
                                     * control characters made spaces */
};

/* Parses one sd_notify datagram: newline-separated KEY=VALUE assignments (a trailing newline is
 * optional). READY, STOPPING and WATCHDOG match systemd's exact values ("1", WATCHDOG also
 * "trigger"); for valued keys the first valid assignment wins; unknown keys, lines without '=',
 * bad numbers and non-UTF-8 STATUS are ignored. Pure. Returns the number of understood
 * assignments (0: nothing useful), or -EINVAL when buf has a NUL byte before its trailing NULs
 * (systemd drops such messages too); msg is reset either way. */
int notify_parse(const char *buf, size_t len, struct notify_msg *msg);

struct notify_sock;

/* Called once per datagram that says something understood (notify_parse() > 0). pid (also in
 * msg->pid) is the sender as the kernel saw it (SCM_CREDENTIALS): the callback must check that it
 * is the service's main pid or one of its processes before believing anything (systemd's
 * NotifyAccess=); a datagram without a visible sender pid never gets here. msg is valid only
 * during the call. The callback may call notify_close(ns) and may free the memory holding ns:
 * nothing touches ns after it returns. */
typedef void (*notify_fn)(void *ctx, struct notify_sock *ns, pid_t pid,
                          const struct notify_msg *msg);

/* One service's socket; embed it in the owner's struct. A zeroed struct is closed. */
struct notify_sock {
    struct watcher w;
    struct loop *loop;
    notify_fn cb;
    void *ctx;
    bool open;
    dev_t dev; /* identity of the socket file, so notify_close removes only our own */
    ino_t ino;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* ns must be closed (zeroed, or after notify_close). Creates a SOCK_DGRAM socket bound at path
 * with SO_PASSCRED, mode 0666 (any user may send; senders are judged by their credentials; the
 * directory must be searchable by the service's user), and watches it on loop. A socket file
 * already at path is removed first (run_dir belongs to this nines instance: its lock guarantees
 * that); any other kind of file is left alone and gives -EEXIST. Returns 0 or -errno
 * (-ENAMETOOLONG, -ENOENT for a missing directory, ...), leaving ns closed and nothing behind. */
int notify_open(struct notify_sock *ns, struct loop *loop, const char *path, notify_fn cb,
                void *ctx);

/* Stops watching, closes the socket and removes its file if it is still ours. Queued datagrams
 * are lost. A closed or zeroed ns is a no-op. */
void notify_close(struct notify_sock *ns);

/* nines' own client towards its parent manager (systemd, or a container runtime). */
struct notify_parent {
    int fd;                  /* -1 when NOTIFY_SOCKET is absent or unusable */
    socklen_t addrlen;
    struct sockaddr_un addr;
    uint64_t watchdog_usec;  /* 0 when the parent does not watch us */
    bool failing;            /* a send failed and was logged; reset by the next success */
};

/* Sets np up from explicit values (each may be NULL = unset), for tests and for notify_parent_init.
 * notify_socket is "/path" or "@abstract"; watchdog_usec counts only when watchdog_pid is unset or
 * names self (sd_watchdog_enabled(3)). Returns 1 when there is a socket to talk to, 0 when not,
 * -errno when NOTIFY_SOCKET is unusable (logged; np then stays silent). Never fatal. */
int notify_parent_setup(struct notify_parent *np, const char *notify_socket,
                        const char *watchdog_usec, const char *watchdog_pid, pid_t self);

/* notify_parent_setup from this process' environment (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID)
 * and getpid(). Changes nothing in the environment. Same returns. */
int notify_parent_init(struct notify_parent *np);

/* Sends state (newline-separated assignments, as sd_notify) in one non-blocking datagram.
 * Returns 1 when sent, 0 when there is no parent socket, -errno on failure: the first failure of
 * a run of failures is logged as a warning, the rest at debug level. Never fatal. */
int notify_parent_send(struct notify_parent *np, const char *state);

/* READY=1 (services are up), STOPPING=1 (shutdown began), WATCHDOG=1 (keep-alive). Returns as
 * notify_parent_send. */
int notify_parent_ready(struct notify_parent *np);
int notify_parent_stopping(struct notify_parent *np);
int notify_parent_watchdog(struct notify_parent *np);

/* Sends STATUS=text; newlines and other control characters in the formatted text become spaces
 * so it cannot add assignments. Longer than NOTIFY_STATUS_MAX - 1 bytes is cut. Returns as
 * notify_parent_send. */
int notify_parent_status(struct notify_parent *np, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The keep-alive interval for WATCHDOG=1 in ms: half of WATCHDOG_USEC (at least 1), or 0 when
 * the parent did not ask for keep-alives (or there is no socket to send them to). */
uint64_t notify_parent_keepalive_ms(const struct notify_parent *np);

/* Closes the client socket. np stays valid and silent (sends return 0). */
void notify_parent_close(struct notify_parent *np);

/* Hardware watchdog (Documentation/watchdog/watchdog-api.rst). Opening the device arms it: from
 * then on the machine reboots unless it is fed within the timeout. The device is exclusive
 * (-EBUSY while systemd's RuntimeWatchdogSec= or another daemon holds it). */

/* Opens dev (O_WRONLY|O_CLOEXEC) and reads its timeout (WDIOC_GETTIMEOUT) into *timeout_s, 0 when
 * the driver cannot tell. Returns the fd or -errno. */
int hwwd_open(const char *dev, unsigned *timeout_s);

/* Feeds the watchdog: WDIOC_KEEPALIVE, or a one-byte write for drivers without the ioctl.
 * Non-blocking in practice. Returns 0 or -errno. */
int hwwd_keepalive(int fd);

/* The feeding interval in ms for a timeout in seconds: half of it, or 1000 ms when unknown (0). */
uint64_t hwwd_interval_ms(unsigned timeout_s);

/* Closes fd. magic: write 'V' first (the "magic close"), which disarms drivers that support it,
 * for a clean shutdown; without it (or with a nowayout driver) the watchdog keeps running and the
 * machine reboots unless someone reopens and feeds it. Returns 0 or -errno; fd is closed anyway.
 * A negative fd is a no-op. */
int hwwd_close(int fd, bool magic);

#endif
