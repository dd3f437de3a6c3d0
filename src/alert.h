/* alert: state-change alerts of the [alert] section. Owns the alert queue (the latest event per
 * service, pure and clock-driven, testable without a loop), the exec hook child, and its own
 * curlloop for the webhook (curlloop.h: a libcurl multi handle driven by the loop through curl's
 * multi_socket API, as probe.c's health checks are; no curl_multi_perform polling, no threads).
 * libcurl itself is loaded (curlso) only when a webhook is configured.
 *
 * Which transitions matter (FATAL, AUTHFAIL, unhealthy, recovered, gave up) is the caller's
 * choice: every alerter_event() is an alert. Two channels deliver independently:
 *   exec     `[alert] exec`: one process per event, at most one at a time, env NINES_SERVICE,
 *            NINES_STATE, NINES_REASON, NINES_MERGED (events of this service the hook never saw
 *            since its previous run) on top of nines' own environment (minus what was meant for
 *            nines itself: NOTIFY_SOCKET, LISTEN_*, WATCHDOG_*). stdin is /dev/null; stdout and
 *            stderr go to nines' stderr (so a failing hook's complaint is in nines' log; /dev/null
 *            when nines has no stderr); only fds 0-2; its own process group; nines' original
 *            signal state. At the timeout the group is SIGKILLed; when the hook exits, what it
 *            left running in its group is SIGKILLed too. Exit 0 counts as sent, anything else as
 *            failed. The child is reaped by the supervisor, which hands it to
 *            alerter_child_exited().
 *   webhook  `[alert] webhook`: one POST at a time, Content-Type application/json, body in the
 *            shape of a Discord webhook: {"content":"...","allowed_mentions":{"parse":[]}}
 *            (allowed_mentions keeps a reason that contains "@everyone" from pinging anybody).
 *            content has one line per event, `**nines**: \`bot\` is AUTHFAIL: health 401`; the
 *            services pending when a POST starts share it, up to ALERT_CONTENT_MAX bytes
 *            (Discord's limit), so a burst costs one request instead of twenty. A 2xx answer
 *            counts as sent; anything else (status, timeout, refused) as failed, with no retry:
 *            the next event supersedes. http/https only, redirects not followed, environment
 *            proxies (https_proxy, no_proxy) honoured as curl does; the URL holds the webhook's
 *            secret, so it is never logged, and neither is curl's error text (it may quote it).
 *
 * Queueing (per channel): each service has one pending slot; a newer event replaces an older
 * pending one (the older one counts as dropped, once per event however many channels lost it),
 * an event equal (state and reason) to the service's previous one is ignored, and a pending event
 * equal to what the channel last delivered for that service is skipped. Services are served in
 * the order they became pending. Each channel starts at most rate_max deliveries per
 * rate_window_ms (a webhook POST with many lines is one delivery); the excess waits, merging.
 * So the consumer always ends up with the latest state of every service.
 *
 * Nothing here blocks the loop or affects supervision: a failing, hanging or missing hook or
 * webhook only moves counters (alerter_get_stats) and logs one warning per run of failures. */
#ifndef NINES_ALERT_H
#define NINES_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "curlloop.h"
#include "loop.h"

struct sigstate;

#define ALERT_SERVICE_MAX 64   /* bytes of a service name kept, NUL included */
#define ALERT_STATE_MAX 24     /* bytes of a state name kept, NUL included */
#define ALERT_REASON_MAX 256   /* bytes of a reason kept, NUL included (cut at a UTF-8 boundary) */
#define ALERT_SLOTS_MAX 4096   /* distinct service names remembered; more are dropped */
#define ALERT_RATE_MAX 64      /* largest rate_max */
#define ALERT_CONTENT_MAX 2000 /* bytes of webhook content (Discord: 2000 characters) */
#define ALERT_BODY_MAX (ALERT_CONTENT_MAX * 6 + 128) /* JSON body: worst-case escaping */
#define ALERT_BATCH_MAX 32     /* events in one webhook POST */
#define ALERT_ORPHANS_MAX 8    /* timed-out hooks killed but not yet reaped; no new hook beyond */
#define ALERT_ERROR_MAX 96     /* bytes of alert_chan_stats.last_error, NUL included */

/* Defaults of struct alert_limits. */
#define ALERT_EXEC_TIMEOUT_MS 10000u
#define ALERT_WEBHOOK_TIMEOUT_MS 10000u
#define ALERT_RATE_DEFAULT 10u
#define ALERT_RATE_WINDOW_MS 10000u

enum alert_channel { ALERT_CH_EXEC, ALERT_CH_WEBHOOK, ALERT_CH_COUNT };

/* "exec", "webhook"; "?" for an invalid value. Never NULL. */
const char *alert_channel_name(enum alert_channel c);

/* One alert as a channel delivers it. Strings are NUL-terminated, control characters turned into
 * spaces (a reason stays one line, in the environment and in Discord). */
struct alert_event {
    char service[ALERT_SERVICE_MAX];
    char state[ALERT_STATE_MAX];
    char reason[ALERT_REASON_MAX]; /* "" for none */
    uint64_t seq;                  /* queue-wide, increasing from 1 */
    uint64_t at_ms;                /* the clock given to alert_queue_push() */
    unsigned merged;               /* events of this service the channel never delivered since
                                    * its previous delivery of this service (taken events only) */
};

/* ---------------------------------------------------------------- rate limit (pure) */

/* At most max starts in any window_ms: a ring of the last max start times. */
struct alert_rate {
    uint64_t starts[ALERT_RATE_MAX];
    unsigned max, n, head; /* head: the oldest start once the ring is full */
    uint64_t window_ms;
};

/* Sets the limit: max (clamped to 1..ALERT_RATE_MAX) starts per window_ms (0: no limit). */
void alert_rate_init(struct alert_rate *r, unsigned max, uint64_t window_ms);

/* True when a start at now_ms is allowed; else false with *next_ms = the first ms it will be. */
bool alert_rate_allow(const struct alert_rate *r, uint64_t now_ms, uint64_t *next_ms);

/* Records a start at now_ms (after alert_rate_allow() said yes). */
void alert_rate_record(struct alert_rate *r, uint64_t now_ms);

/* ---------------------------------------------------------------- queue (pure) */

/* Per service and channel: what was delivered, what is pending. Private to alert.c. */
struct alert_slot_chan {
    uint64_t done_seq;      /* latest event delivered, in flight or skipped on this channel */
    uint64_t pending_since; /* queue seq when the service last became pending here */
    unsigned merged;        /* events lost here since the last delivery */
    bool has_sent;
    char sent_state[ALERT_STATE_MAX];
    char sent_reason[ALERT_REASON_MAX];
};

struct alert_slot {
    struct alert_event latest;
    struct alert_slot_chan ch[ALERT_CH_COUNT];
};

/* Counters of one channel, for status. */
struct alert_chan_stats {
    bool enabled;
    bool busy;            /* a delivery in flight */
    size_t pending;       /* services waiting for this channel */
    uint64_t sent;        /* deliveries that succeeded (a POST of 5 lines counts 1) */
    uint64_t failed;      /* deliveries that failed (timeouts included) */
    uint64_t timeouts;    /* of which ended by the timeout */
    uint64_t dropped;     /* events this channel never delivered: replaced while pending */
    uint64_t skipped;     /* pending events equal to what it last delivered for the service */
    char last_error[ALERT_ERROR_MAX]; /* "HTTP 404", "exit 3", "timeout after 10000 ms"; "" */
};

struct alert_queue_chan {
    bool enabled, busy;
    struct alert_rate rate;
    struct alert_chan_stats st;
};

struct alert_queue {
    struct alert_slot *slots;
    size_t n, cap;
    uint64_t seq;
    uint64_t dropped;    /* events some enabled channel never delivered (counted once each) */
    uint64_t duplicates; /* events equal to the service's previous event, ignored */
    struct alert_queue_chan ch[ALERT_CH_COUNT];
};

/* Empty queue, both channels disabled, default rate. Needs no allocation. */
void alert_queue_init(struct alert_queue *q);

/* Frees the slots and re-initialises q. */
void alert_queue_free(struct alert_queue *q);

/* Enables or disables channel c. A channel enabled later does not replay older events: what
 * was known counts as delivered there. */
void alert_queue_enable(struct alert_queue *q, enum alert_channel c, bool on);

/* Rate limit of channel c: max deliveries (1..ALERT_RATE_MAX) per window_ms (0: none). */
void alert_queue_set_rate(struct alert_queue *q, enum alert_channel c, unsigned max, uint64_t window_ms);

/* Queues an event at now_ms (ms, any monotonic clock). reason may be NULL. Returns 1 when
 * queued, 0 when ignored (equal to the service's previous event, or no channel enabled),
 * -EINVAL (no service or state), -ENOMEM or -ENOSPC (ALERT_SLOTS_MAX services): the event is
 * lost and counted as dropped. */
int alert_queue_push(struct alert_queue *q, const char *service, const char *state, const char *reason,
                     uint64_t now_ms);

/* Takes what channel c delivers next, oldest pending service first, into out[0..max): at least
 * one event when any is due, then more while their lines (alert_format_line, plus a newline)
 * fit in budget bytes. Returns the number taken and marks c busy until alert_queue_done(); 0
 * when c is disabled, busy or has nothing pending, or when the rate limit says wait: then
 * *retry_at_ms is when to ask again (UINT64_MAX: only after a push or a done). */
size_t alert_queue_take(struct alert_queue *q, enum alert_channel c, uint64_t now_ms, struct alert_event *out,
                        size_t max, size_t budget, uint64_t *retry_at_ms);

/* The delivery taken from c finished: ok, or failed with error (a short text for status, may be
 * NULL; timed_out counts a timeout too). Makes c idle. */
void alert_queue_done(struct alert_queue *q, enum alert_channel c, bool ok, bool timed_out, const char *error);

/* Services with an event waiting for channel c (0 when disabled). */
size_t alert_queue_pending(const struct alert_queue *q, enum alert_channel c);

/* ---------------------------------------------------------------- text (pure) */

/* One alert as a line of text, "**nines**: `bot` is AUTHFAIL: health 401", with
 * " (2 older alerts merged)" when ev->merged > 0, into dst[size], NUL-terminated when size > 0.
 * Returns the length the full line needs (like snprintf). */
size_t alert_format_line(char *dst, size_t size, const struct alert_event *ev);

/* The webhook body for ev[0..n): {"content":"LINE\nLINE...","allowed_mentions":{"parse":[]}},
 * content JSON-escaped and holding as many whole lines as fit in ALERT_CONTENT_MAX bytes. Returns the length
 * (NUL-terminated in dst), or -ENOSPC when it does not fit size (ALERT_BODY_MAX always does),
 * -EINVAL when n is 0. */
int alert_webhook_body(char *dst, size_t size, const struct alert_event *ev, size_t n);

/* ---------------------------------------------------------------- the alerter (on the loop) */

struct alert_limits {
    uint64_t exec_timeout_ms;    /* hook killed after this; default ALERT_EXEC_TIMEOUT_MS */
    uint64_t webhook_timeout_ms; /* whole POST; default ALERT_WEBHOOK_TIMEOUT_MS */
    unsigned rate_max;           /* deliveries per window and channel; default ALERT_RATE_DEFAULT */
    uint64_t rate_window_ms;     /* default ALERT_RATE_WINDOW_MS */
};

/* One per supervisor. Fields are private; it must not move in memory after alerter_init(). */
struct alerter {
    struct loop *loop;
    const struct sigstate *sig;
    struct alert_queue q;
    struct alert_limits lim;
    char **exec_argv;          /* owned copy; NULL: no hook */
    char *webhook_url;         /* owned copy; NULL: no webhook */
    int devnull;               /* O_RDWR, CLOEXEC: the hook's stdin */
    unsigned fail_run[ALERT_CH_COUNT]; /* consecutive failures: only the first one is a warning */
    struct timer kick[ALERT_CH_COUNT]; /* next delivery: 0 ms after an event, or the rate limit */
    /* exec */
    pid_t exec_pid;            /* the hook in flight, 0: none */
    struct timer exec_timer;   /* its timeout */
    pid_t orphans[ALERT_ORPHANS_MAX]; /* killed at the timeout, not reaped yet */
    size_t n_orphans;
    /* webhook */
    struct curlloop curl;      /* set up with the first webhook URL */
    void *easy;                /* CURL * of the POST in flight */
    void *slist;               /* struct curl_slist *: Content-Type */
    size_t reply_bytes;        /* of the answer's body, read and dropped */
    char body[ALERT_BODY_MAX]; /* of the POST in flight (CURLOPT_POSTFIELDS does not copy) */
};

/* Sets a up on loop with an exec hook argv (NULL-terminated, argv[0] looked up in PATH) and/or a
 * webhook URL; either may be NULL (or empty) for none. Both are copied. sig is the original
 * signal state the hook gets (borrowed; must outlive a). When libcurl cannot be loaded or set up
 * the webhook stays off (logged; stats say enabled false) and the hook still works: not an error.
 * Returns 0 or -errno (-ENOMEM, or -errno of /dev/null); nothing to free on error. */
int alerter_init(struct alerter *a, struct loop *loop, const struct sigstate *sig, char *const *exec_argv,
                 const char *webhook_url);

/* Replaces the hook and the URL (a reload). Deliveries in flight finish with the old ones; a
 * channel that appears does not replay older events; libcurl as for alerter_init(). Returns 0,
 * or -ENOMEM with the old ones kept. */
int alerter_configure(struct alerter *a, char *const *exec_argv, const char *webhook_url);

/* Changes timeouts and the rate limit; zero fields keep their current value. */
void alerter_set_limits(struct alerter *a, const struct alert_limits *lim);

/* Cancels everything: a hook in flight is SIGKILLed with its group (its zombie is left to the
 * supervisor's reap loop), a POST is abandoned, curl released. Safe after a failed
 * alerter_init() and when called twice. */
void alerter_free(struct alerter *a);

/* Queues an alert: service changed to state (e.g. "AUTHFAIL") because of reason (token-free
 * text, may be NULL). Never blocks and never fails visibly: delivery starts from the loop (a 0 ms
 * timer, so events of the same loop iteration merge), and a lost event shows as dropped. */
void alerter_event(struct alerter *a, const char *service, const char *state, const char *reason);

/* For the supervisor's waitpid(-1) loop: true when pid is an alert hook (running or killed at
 * its timeout); its wait status is taken. False for any other pid. */
bool alerter_child_exited(struct alerter *a, pid_t pid, int wait_status);

/* Events some channel had to drop (merged into a newer event of the same service) or lost for
 * lack of memory. Each event counts once. */
uint64_t alerter_dropped(const struct alerter *a);

/* Counters of channel c for status; zeroed (enabled false) for an invalid c. */
void alerter_get_stats(const struct alerter *a, enum alert_channel c, struct alert_chan_stats *out);

/* True while an event is pending or a delivery is in flight (e.g. to let alerts out before exit). */
bool alerter_busy(const struct alerter *a);

#endif
