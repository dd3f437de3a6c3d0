/* probe: health checks on the loop. Owns a curlloop for HTTP checks (curlloop.h: a libcurl multi
 * handle driven by the loop's epoll watchers and one loop timer through curl's multi_socket API:
 * no curl_multi_perform polling, no threads of ours, no blocking call; set up by the first HTTP
 * check), the TCP connect sockets and the exec-check children.
 *
 * One struct prober per supervisor; one struct probe embedded in each service, holding that
 * service's check in flight (at most one: probe_start() says -EBUSY otherwise). Every check has
 * a hard timeout on the loop's timer heap, so a hanging endpoint or script delays nothing else.
 *
 * What a check answers is read, not collapsed to pass/fail (struct probe_result):
 *   HTTP: status in `expect` (default 200-399) -> HEALTHY; else 401/403 -> AUTH; 429 -> RATELIMIT
 *         with Retry-After (delta seconds or HTTP date) when given, never a failure; any other
 *         status, a timeout, a refused connection, a TLS or protocol error -> UNHEALTHY.
 *         A real GET (never HEAD: an endpoint may answer 405 to HEAD, Horust#277), on a fresh
 *         connection each time (CURLOPT_FORBID_REUSE: a check sees what a new client sees),
 *         redirects are not followed (3xx is an answer), only http/https, environment proxies
 *         ignored unless probe_request.proxy names one, TLS verified unless `insecure`, at most
 *         PROBE_BODY_MAX bytes of body read.
 *         The connection's socket is nines' own (CURLOPT_OPENSOCKETFUNCTION, O_CLOEXEC like
 *         every fd nines holds), made by probe_start() before curl is asked: when nines itself
 *         has no fd or socket memory left (EMFILE, ENFILE, ENOBUFS, ENOMEM) no check runs and
 *         probe_start() says so, as for a TCP socket or an exec fork, instead of curl's
 *         "Couldn't connect" counting against a service that is fine. (Only a host with several
 *         addresses, whose first one failed, can still meet EMFILE inside curl: that check
 *         fails, naming the socket error.)
 *         Name resolution: Debian's libcurl uses its threaded resolver (curl_version_info says
 *         CURL_VERSION_ASYNCHDNS), which runs getaddrinfo off the loop and wakes curl through a
 *         socketpair; CURLOPT_QUICK_EXIT keeps a cancel during resolution from joining that
 *         thread. A libcurl without an async resolver gets only IP literals and "localhost"
 *         (answered by curl itself); other names then fail the check ("needs async DNS").
 *   TCP:  a non-blocking connect(2); connected -> HEALTHY, refused/unreachable/timeout ->
 *         UNHEALTHY. The host must be an IP literal or "localhost" (= 127.0.0.1), since
 *         getaddrinfo(3) would block the loop; config validation should use
 *         probe_tcp_host_ok() so a name is a file:line error rather than a failing check.
 *   EXEC: spawn_process() in its own process group, stdin/stdout/stderr on /dev/null, only fds
 *         0-2, nines' original signal state. Exit 0 -> HEALTHY, anything else -> UNHEALTHY. At
 *         the timeout the whole group is SIGKILLed and the result (a failure) is delivered at
 *         once; the child is still reaped later through prober_child_exited(). When a check
 *         exits by itself, what it left running in its group is SIGKILLed too.
 *
 * Callbacks: `done` runs from the loop (a watcher, a timer, or prober_child_exited()), never from
 * inside probe_start(), exactly once per started probe unless probe_cancel() came first. When it
 * runs, the probe is already idle: it may start the probe again, cancel others, or free the
 * struct probe's owner. It must not call prober_free(). */
#ifndef NINES_PROBE_H
#define NINES_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "curlloop.h"
#include "loop.h"
#include "parse.h"

struct sigstate;
struct creds;
struct config_health;

/* Bytes of response body read before the rest is dropped (the status is what counts). */
#define PROBE_BODY_MAX (64 * 1024)

enum probe_kind { PROBE_KIND_HTTP, PROBE_KIND_TCP, PROBE_KIND_EXEC, PROBE_KIND_COUNT };

enum probe_status {
    PROBE_HEALTHY,
    PROBE_UNHEALTHY, /* counts as a failure */
    PROBE_AUTH,      /* HTTP 401/403: an auth event, for the exit classifier */
    PROBE_RATELIMIT, /* HTTP 429: not a failure; see retry_after_ms */
    PROBE_STATUS_COUNT
};

/* "http", "tcp", "exec"; never NULL. */
const char *probe_kind_name(enum probe_kind k);

/* "healthy", "unhealthy", "auth", "ratelimit"; never NULL. */
const char *probe_status_name(enum probe_status s);

struct probe_request {
    enum probe_kind kind;
    uint64_t timeout_ms;        /* hard limit, > 0 */
    /* HTTP */
    const char *url;            /* http:// or https:// */
    const struct parse_http_ranges *expect; /* NULL: 200-399 */
    const char *const *headers; /* NULL-terminated "Name: value" list, or NULL; never logged */
    const char *ca_file;        /* PEM bundle to trust instead of the system store; NULL: system */
    bool insecure;              /* skip certificate and host name verification */
    const char *proxy;          /* NULL: connect directly, whatever http_proxy etc. say */
    /* TCP */
    const char *host;           /* IP literal (v4, v6 without brackets) or "localhost" */
    uint16_t port;
    /* EXEC */
    char *const *argv;          /* argv[0] looked up in PATH */
    char *const *envp;          /* NULL: nines' environment */
    const char *directory;      /* NULL: nines' cwd */
    const struct creds *creds;  /* NULL: nines' privileges */
};

/* Maximum length of probe_result.detail, NUL included. */
#define PROBE_DETAIL_MAX 120

struct probe_result {
    enum probe_status status;
    enum probe_kind kind;
    int code;                 /* HTTP status (0: no response); exec exit status (-1: no exit
                               * status: killed by a signal or by the timeout); TCP: 0 */
    int term_signal;          /* exec: the signal that ended the check, 0 if it exited */
    bool timed_out;           /* the hard timeout ended the check */
    uint64_t latency_ms;      /* start to result, CLOCK_MONOTONIC */
    bool has_retry_after;     /* RATELIMIT: the server sent a usable Retry-After */
    uint64_t retry_after_ms;  /* from Retry-After, capped at PROBE_RETRY_AFTER_MAX_MS */
    char detail[PROBE_DETAIL_MAX]; /* "HTTP 500", "timeout after 2000 ms", "connection refused",
                               * "exit 1"; for people, not for parsing */
};

/* Longest Retry-After honoured: a longer one is cut to this (a day). */
#define PROBE_RETRY_AFTER_MAX_MS (24ull * 3600 * 1000)

typedef void (*probe_done_fn)(void *ctx, const struct probe_result *res);

struct prober;

/* One service's check. Zero-initialised (or probe_init) means idle. Fields are private. While busy
 * it must not move in memory (curl and the loop hold pointers into it): embed it in a struct that
 * stays put, not in an array that is realloc'd. */
struct probe {
    int state;                /* enum in probe.c; 0 = idle */
    struct prober *owner;
    struct probe *prev, *next; /* the prober's list of probes in flight */
    probe_done_fn done;
    void *ctx;
    uint64_t start_ms, timeout_ms;
    struct timer timer;       /* the hard timeout; also the deferred delivery of early results */
    struct probe_result result; /* being assembled / waiting for delivery */
    /* HTTP */
    void *easy;               /* CURL * */
    void *slist;              /* struct curl_slist * of request headers */
    struct parse_http_ranges expect;
    size_t body_bytes;
    bool body_cut;
    bool has_retry_after;
    uint64_t retry_after_ms;
    char errbuf[256];         /* CURLOPT_ERRORBUFFER (CURL_ERROR_SIZE) */
    int spare_fd;             /* the socket made by probe_start() for curl's first connect
                               * (AF_INET, CLOEXEC); -1 once curl has it or when none */
    int sock_errno;           /* errno of the last socket(2) curl asked for that failed */
    /* TCP */
    struct watcher w;
    /* EXEC */
    pid_t pid;
};

struct prober {
    struct loop *loop;
    const struct sigstate *sig;
    struct curlloop curl;     /* HTTP checks; set up by the first one */
    struct probe *active;     /* probes in flight */
    pid_t *orphans;           /* timed-out or cancelled exec checks, killed, not yet reaped */
    size_t n_orphans, cap_orphans;
    int devnull;              /* O_RDWR, CLOEXEC: stdio of exec checks */
    bool async_dns;           /* libcurl resolves names off the loop: curl.async_dns, copied
                               * when curl is set up (tests/unit/test_probe.c reads it here) */
};

/* Sets up p on loop and opens /dev/null; libcurl is set up later, by the first HTTP check. sig is
 * the original signal state given to exec checks (borrowed; must outlive p). Returns 0 or -errno
 * of open(2); nothing to free on error. */
int prober_init(struct prober *p, struct loop *loop, const struct sigstate *sig);

/* Cancels every probe in flight (no callbacks), releases curl and closes what p owns. Exec checks
 * still running are SIGKILLed; their zombies are left for the supervisor's reap loop. */
void prober_free(struct prober *p);

/* Marks pr idle. Same as zero-initialising it. */
void probe_init(struct probe *pr);

/* True while pr has a check in flight (started, result not yet delivered). */
bool probe_busy(const struct probe *pr);

/* Starts one check described by req (borrowed only during the call). done(ctx, result) is called
 * later from the loop. Returns 0; -EBUSY when pr already has one in flight; -EINVAL for a
 * malformed request (no url/host/argv, timeout 0); -ENOMEM or another -errno when the check
 * could not be started at all (fork, socket, curl setup; for HTTP -EMFILE, -ENFILE, -ENOBUFS or
 * -ENOMEM when nines cannot make the connection's socket): no check ran and done is not called,
 * which is not a health failure. */
int probe_start(struct prober *p, struct probe *pr, const struct probe_request *req, probe_done_fn done,
                void *ctx);

/* Stops pr's check if one is in flight; done is not called. An exec check's group is SIGKILLed
 * and its pid is still claimed by prober_child_exited() when reaped. Never fails. */
void probe_cancel(struct prober *p, struct probe *pr);

/* For the supervisor's waitpid(-1) loop: when pid is an exec check (running, timed out or
 * cancelled), takes wait_status, delivers a pending result and returns true; else false. */
bool prober_child_exited(struct prober *p, pid_t pid, int wait_status);

/* True when host is usable for a TCP check without name resolution: an IPv4 or IPv6 literal
 * (scope suffix allowed) or "localhost". For config validation. */
bool probe_tcp_host_ok(const char *host);

/* Parses a Retry-After value (RFC 9110 10.2.3: delay-seconds or an HTTP-date; a decimal
 * fraction of seconds is accepted too) relative to the wall clock now (seconds since the epoch).
 * A date in the past gives 0; longer than PROBE_RETRY_AFTER_MAX_MS is capped. Returns 0 with
 * *ms set, or -EINVAL. */
int probe_parse_retry_after(const char *value, time_t now, uint64_t *ms);

/* Fills req from a [health] section (URL, TCP or EXEC; timeout and expect). Pointers borrow from
 * h, which must outlive the probe_start() call. Returns 0, or -EINVAL when h has no check. */
int probe_request_from_config(struct probe_request *req, const struct config_health *h);

#endif
