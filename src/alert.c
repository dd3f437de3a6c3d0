#include "alert.h"

#include "curlloop.h"
#include "curlso.h"
#include "envbuild.h"
#include "log.h"
#include "proto.h"
#include "sig.h"
#include "spawn.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

/* Bytes of a webhook answer read before the transfer is cut (the status is what counts). */
enum { REPLY_MAX = 64 * 1024, LINE_MAX_BYTES = 512 };

/* The longest line alert_format_line() can make must fit LINE_MAX_BYTES (alert_webhook_body). */
_Static_assert(sizeof "**nines**: `` is :  (4294967295 older alerts merged)" + ALERT_SERVICE_MAX +
                       ALERT_STATE_MAX + ALERT_REASON_MAX <= LINE_MAX_BYTES,
               "LINE_MAX_BYTES too small for the longest alert line");

static const char *const channel_names[] = {
    [ALERT_CH_EXEC] = "exec",
    [ALERT_CH_WEBHOOK] = "webhook",
};
_Static_assert(sizeof channel_names / sizeof channel_names[0] == ALERT_CH_COUNT, "channel_names");

const char *alert_channel_name(enum alert_channel c)
{
    return (unsigned)c < ALERT_CH_COUNT ? channel_names[c] : "?";
}

/* ================================================================ pure: text */

/* Length of s[0..len) cut to at most max bytes without splitting a UTF-8 sequence: when the byte
 * at the cut is a continuation byte (10xxxxxx), the cut moves back to its lead byte. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Copies src into dst[size] (size > 0), cut at a UTF-8 boundary, control characters and DEL as
 * spaces: a reason is one line in the environment and in a Discord message. */
static void copy_clean(char *dst, size_t size, const char *src)
{
    size_t n = src ? utf8_cut(src, strlen(src), size - 1) : 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    dst[n] = '\0';
}

size_t alert_format_line(char *dst, size_t size, const struct alert_event *ev)
{
    char merged[48] = "";
    if (ev->merged)
        snprintf(merged, sizeof merged, " (%u older alert%s merged)", ev->merged, ev->merged == 1 ? "" : "s");
    int n = snprintf(dst, size, "**nines**: `%s` is %s%s%s%s", ev->service, ev->state, ev->reason[0] ? ": " : "",
                     ev->reason, merged);
    return n < 0 ? 0 : (size_t)n;
}

/* Joins the lines of ev[0..n) with newlines into content[ALERT_CONTENT_MAX + 1]: whole lines
 * only, as many as fit in ALERT_CONTENT_MAX bytes (alert_queue_take's budget makes that all of
 * them; the first always fits). Returns the length. */
static size_t build_content(char *content, const struct alert_event *ev, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        char line[LINE_MAX_BYTES];
        size_t ll = alert_format_line(line, sizeof line, &ev[i]);
        if (ll >= sizeof line) /* cannot happen (see the _Static_assert); stay safe anyway */
            ll = utf8_cut(line, sizeof line - 1, sizeof line - 1);
        if (len + (i > 0) + ll > ALERT_CONTENT_MAX)
            break;
        if (i > 0)
            content[len++] = '\n';
        memcpy(content + len, line, ll);
        len += ll;
    }
    content[len] = '\0';
    return len;
}

int alert_webhook_body(char *dst, size_t size, const struct alert_event *ev, size_t n)
{
    static const char pre[] = "{\"content\":\"";
    static const char post[] = "\",\"allowed_mentions\":{\"parse\":[]}}";
    char content[ALERT_CONTENT_MAX + 1];
    if (n == 0)
        return -EINVAL;
    size_t clen = build_content(content, ev, n);
    size_t elen = proto_json_escape(NULL, 0, content, clen);
    size_t total = sizeof pre - 1 + elen + sizeof post - 1;
    if (total >= size || total > (size_t)INT32_MAX)
        return -ENOSPC;
    memcpy(dst, pre, sizeof pre - 1);
    proto_json_escape(dst + sizeof pre - 1, elen + 1, content, clen);
    memcpy(dst + sizeof pre - 1 + elen, post, sizeof post); /* with its NUL */
    return (int)total;
}

/* ================================================================ pure: rate limit */

void alert_rate_init(struct alert_rate *r, unsigned max, uint64_t window_ms)
{
    memset(r, 0, sizeof *r);
    r->max = max < 1 ? 1 : max > ALERT_RATE_MAX ? ALERT_RATE_MAX : max;
    r->window_ms = window_ms;
}

bool alert_rate_allow(const struct alert_rate *r, uint64_t now_ms, uint64_t *next_ms)
{
    if (r->window_ms == 0 || r->n < r->max)
        return true;
    uint64_t oldest = r->starts[r->head];
    uint64_t at = oldest > UINT64_MAX - r->window_ms ? UINT64_MAX : oldest + r->window_ms;
    if (now_ms >= at)
        return true;
    if (next_ms)
        *next_ms = at;
    return false;
}

void alert_rate_record(struct alert_rate *r, uint64_t now_ms)
{
    if (r->window_ms == 0)
        return;
    if (r->n < r->max) {
        r->starts[(r->head + r->n) % r->max] = now_ms;
        r->n++;
    } else {
        r->starts[r->head] = now_ms; /* replaces the oldest, which becomes the newest */
        r->head = (r->head + 1) % r->max;
    }
}

/* ================================================================ pure: queue */

void alert_queue_init(struct alert_queue *q)
{
    memset(q, 0, sizeof *q);
    for (int c = 0; c < ALERT_CH_COUNT; c++)
        alert_rate_init(&q->ch[c].rate, ALERT_RATE_DEFAULT, ALERT_RATE_WINDOW_MS);
}

void alert_queue_free(struct alert_queue *q)
{
    free(q->slots);
    alert_queue_init(q);
}

static bool chan_ok(enum alert_channel c)
{
    return (unsigned)c < ALERT_CH_COUNT;
}

static bool slot_pending(const struct alert_slot *s, enum alert_channel c)
{
    return s->ch[c].done_seq < s->latest.seq;
}

static void mark_sent(struct alert_slot *s, enum alert_channel c)
{
    struct alert_slot_chan *sc = &s->ch[c];
    sc->done_seq = s->latest.seq;
    sc->has_sent = true;
    memcpy(sc->sent_state, s->latest.state, sizeof sc->sent_state);
    memcpy(sc->sent_reason, s->latest.reason, sizeof sc->sent_reason);
}

void alert_queue_enable(struct alert_queue *q, enum alert_channel c, bool on)
{
    if (!chan_ok(c) || q->ch[c].enabled == on)
        return;
    q->ch[c].enabled = on;
    if (!on)
        return;
    /* What happened before the channel existed is not news to it. */
    for (size_t i = 0; i < q->n; i++) {
        mark_sent(&q->slots[i], c);
        q->slots[i].ch[c].merged = 0;
    }
}

void alert_queue_set_rate(struct alert_queue *q, enum alert_channel c, unsigned max, uint64_t window_ms)
{
    if (chan_ok(c))
        alert_rate_init(&q->ch[c].rate, max, window_ms);
}

static struct alert_slot *slot_find(struct alert_queue *q, const char *service)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->slots[i].latest.service, service) == 0)
            return &q->slots[i];
    return NULL;
}

/* A new zeroed slot (nothing pending anywhere: done_seq 0 == latest.seq 0), or NULL with -errno. */
static struct alert_slot *slot_add(struct alert_queue *q, int *err)
{
    if (q->n == q->cap) {
        if (q->cap >= ALERT_SLOTS_MAX) {
            *err = -ENOSPC;
            return NULL;
        }
        size_t cap = q->cap ? q->cap * 2 : 16;
        struct alert_slot *s = realloc(q->slots, cap * sizeof *s);
        if (!s) {
            *err = -ENOMEM;
            return NULL;
        }
        q->slots = s;
        q->cap = cap;
    }
    struct alert_slot *s = &q->slots[q->n++];
    memset(s, 0, sizeof *s);
    return s;
}

static bool any_enabled(const struct alert_queue *q)
{
    for (int c = 0; c < ALERT_CH_COUNT; c++)
        if (q->ch[c].enabled)
            return true;
    return false;
}

/* s->latest is about to be replaced: on every enabled channel where it was still pending it is
 * lost. The event counts once in q->dropped, once per channel in that channel's counter. */
static void count_replaced(struct alert_queue *q, struct alert_slot *s)
{
    bool lost = false;
    for (int c = 0; c < ALERT_CH_COUNT; c++) {
        if (!q->ch[c].enabled || !slot_pending(s, (enum alert_channel)c))
            continue;
        lost = true;
        s->ch[c].merged++;
        q->ch[c].st.dropped++;
    }
    if (lost)
        q->dropped++;
}

int alert_queue_push(struct alert_queue *q, const char *service, const char *state, const char *reason,
                     uint64_t now_ms)
{
    if (!service || !*service || !state || !*state)
        return -EINVAL;
    if (!any_enabled(q))
        return 0;
    struct alert_event ev;
    memset(&ev, 0, sizeof ev);
    copy_clean(ev.service, sizeof ev.service, service);
    copy_clean(ev.state, sizeof ev.state, state);
    copy_clean(ev.reason, sizeof ev.reason, reason);
    struct alert_slot *s = slot_find(q, ev.service);
    if (s && strcmp(s->latest.state, ev.state) == 0 && strcmp(s->latest.reason, ev.reason) == 0) {
        q->duplicates++;
        return 0;
    }
    if (s) {
        count_replaced(q, s);
    } else {
        int err = 0;
        s = slot_add(q, &err);
        if (!s) {
            q->dropped++;
            return err;
        }
    }
    ev.seq = ++q->seq;
    ev.at_ms = now_ms;
    /* Where nothing was pending, the service joins the back of the line; where something was,
     * it keeps its place (a busy service must not be starved by its own new events). */
    for (int c = 0; c < ALERT_CH_COUNT; c++)
        if (!slot_pending(s, (enum alert_channel)c))
            s->ch[c].pending_since = ev.seq;
    s->latest = ev;
    return 1;
}

/* The slot channel c serves next: pending there, the earliest pending_since. A pending event
 * equal to what c last delivered for that service is skipped (marked done) on the way. */
static struct alert_slot *next_pending(struct alert_queue *q, enum alert_channel c)
{
    struct alert_slot *best = NULL;
    for (size_t i = 0; i < q->n; i++) {
        struct alert_slot *s = &q->slots[i];
        struct alert_slot_chan *sc = &s->ch[c];
        if (!slot_pending(s, c))
            continue;
        if (sc->has_sent && strcmp(sc->sent_state, s->latest.state) == 0 &&
            strcmp(sc->sent_reason, s->latest.reason) == 0) {
            sc->done_seq = s->latest.seq;
            q->ch[c].st.skipped++;
            continue;
        }
        if (!best || sc->pending_since < best->ch[c].pending_since)
            best = s;
    }
    return best;
}

size_t alert_queue_take(struct alert_queue *q, enum alert_channel c, uint64_t now_ms, struct alert_event *out,
                        size_t max, size_t budget, uint64_t *retry_at_ms)
{
    if (retry_at_ms)
        *retry_at_ms = UINT64_MAX;
    if (!chan_ok(c) || !q->ch[c].enabled || q->ch[c].busy || max == 0)
        return 0;
    struct alert_queue_chan *ch = &q->ch[c];
    size_t n = 0, used = 0;
    struct alert_slot *s;
    while (n < max && (s = next_pending(q, c))) {
        uint64_t next = UINT64_MAX;
        if (n == 0 && !alert_rate_allow(&ch->rate, now_ms, &next)) {
            if (retry_at_ms)
                *retry_at_ms = next;
            return 0;
        }
        struct alert_event ev = s->latest;
        ev.merged = s->ch[c].merged;
        char line[LINE_MAX_BYTES];
        size_t len = alert_format_line(line, sizeof line, &ev) + 1;
        if (n > 0 && used + len > budget)
            break;
        out[n++] = ev;
        used += len;
        s->ch[c].merged = 0;
        mark_sent(s, c);
    }
    if (n > 0) {
        alert_rate_record(&ch->rate, now_ms);
        ch->busy = true;
    }
    return n;
}

void alert_queue_done(struct alert_queue *q, enum alert_channel c, bool ok, bool timed_out, const char *error)
{
    if (!chan_ok(c))
        return;
    struct alert_queue_chan *ch = &q->ch[c];
    ch->busy = false;
    if (ok) {
        ch->st.sent++;
        return;
    }
    ch->st.failed++;
    if (timed_out)
        ch->st.timeouts++;
    copy_clean(ch->st.last_error, sizeof ch->st.last_error, error ? error : "failed");
}

size_t alert_queue_pending(const struct alert_queue *q, enum alert_channel c)
{
    size_t n = 0;
    if (!chan_ok(c) || !q->ch[c].enabled)
        return 0;
    for (size_t i = 0; i < q->n; i++)
        if (slot_pending(&q->slots[i], c))
            n++;
    return n;
}

/* ================================================================ the alerter: common */

static void kick(struct alerter *a, enum alert_channel c);

/* The next delivery of c starts from the loop: never inside alerter_event() (events of one loop
 * iteration merge first) nor inside a completion callback. If the timer heap cannot grow, now. */
static void schedule_kick(struct alerter *a, enum alert_channel c)
{
    if (timer_start(a->loop, &a->kick[c], 0) < 0)
        kick(a, c);
}

static void kick_cb(struct loop *loop, struct timer *t)
{
    (void)loop;
    struct alerter *a = t->data;
    kick(a, t == &a->kick[ALERT_CH_EXEC] ? ALERT_CH_EXEC : ALERT_CH_WEBHOOK);
}

/* Nothing could be taken: wait for the rate limit when it is what holds c back. */
static void arm_retry(struct alerter *a, enum alert_channel c, uint64_t retry_at, uint64_t now)
{
    if (retry_at == UINT64_MAX)
        return;
    if (timer_start(a->loop, &a->kick[c], retry_at > now ? retry_at - now : 0) < 0)
        log_warn("alert %s: out of memory for a timer; waiting for the next event", alert_channel_name(c));
}

static void chan_done(struct alerter *a, enum alert_channel c, bool ok, bool timed_out, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* A delivery of c ended. A run of failures is one warning, its end one info line: a broken
 * webhook must not flood the log at the rate of state changes. Schedules the next delivery. */
static void chan_done(struct alerter *a, enum alert_channel c, bool ok, bool timed_out, const char *fmt, ...)
{
    char msg[ALERT_ERROR_MAX] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    alert_queue_done(&a->q, c, ok, timed_out, msg);
    if (ok) {
        if (a->fail_run[c])
            log_info("alert %s works again after %u failure%s", alert_channel_name(c), a->fail_run[c],
                     a->fail_run[c] == 1 ? "" : "s");
        a->fail_run[c] = 0;
    } else if (a->fail_run[c]++ == 0) {
        log_warn("alert %s failed: %s (supervision is not affected; further failures in a row are "
                 "logged at debug level)", alert_channel_name(c), msg);
    } else {
        log_debug("alert %s failed again: %s", alert_channel_name(c), msg);
    }
    schedule_kick(a, c);
}

/* ================================================================ exec hook */

/* SIGKILL to the hook's process group (spawn_process made it the leader); the group id cannot be
 * reused while the leader is unreaped, so this only reaches the hook's own tree. */
static void kill_group(pid_t pid)
{
    if (kill(-pid, SIGKILL) < 0 && errno == ESRCH)
        kill(pid, SIGKILL);
}

/* The hook's environment: nines' own, without what was meant for nines itself, plus the event.
 * Returns a malloc'd envp (envbuild_envp_free) or NULL on -ENOMEM. */
static char **hook_env(const struct alert_event *ev)
{
    char vs[sizeof "NINES_SERVICE=" + ALERT_SERVICE_MAX], vst[sizeof "NINES_STATE=" + ALERT_STATE_MAX];
    char vr[sizeof "NINES_REASON=" + ALERT_REASON_MAX], vm[32];
    snprintf(vs, sizeof vs, "NINES_SERVICE=%s", ev->service);
    snprintf(vst, sizeof vst, "NINES_STATE=%s", ev->state);
    snprintf(vr, sizeof vr, "NINES_REASON=%s", ev->reason);
    snprintf(vm, sizeof vm, "NINES_MERGED=%u", ev->merged);
    char *extra[] = {vs, vst, vr, vm, NULL};
    char *unset[] = {"NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES",
                     "WATCHDOG_PID", "WATCHDOG_USEC", "NINES_INSTANCE", NULL};
    struct envbuild_spec spec = {.base = environ, .extra = extra, .unset = unset};
    char **envp = NULL;
    return envbuild_build(&spec, &envp, NULL) < 0 ? NULL : envp;
}

/* Starts the hook for ev with its timeout armed. Returns 0 or -errno (nothing started). */
static int exec_spawn(struct alerter *a, const struct alert_event *ev)
{
    if (!a->sig)
        return -EINVAL;
    char **envp = hook_env(ev);
    if (!envp)
        return -ENOMEM;
    /* The timeout first: a hook must never run without one. */
    int r = timer_start(a->loop, &a->exec_timer, a->lim.exec_timeout_ms);
    if (r < 0) {
        envbuild_envp_free(envp);
        return r;
    }
    struct spawn_opts o;
    spawn_opts_init(&o);
    o.argv = a->exec_argv;
    o.envp = envp;
    o.sig = a->sig;
    o.stdin_fd = a->devnull;
    /* Output goes where nines' own diagnostics go; /dev/null when nines has no stderr. */
    o.stdout_fd = o.stderr_fd = fcntl(STDERR_FILENO, F_GETFD) >= 0 ? STDERR_FILENO : a->devnull;
    pid_t pid = spawn_process(&o);
    envbuild_envp_free(envp);
    if (pid < 0) {
        timer_stop(a->loop, &a->exec_timer);
        return (int)pid;
    }
    a->exec_pid = pid;
    log_debug("alert exec: pid %d for %s %s", (int)pid, ev->service, ev->state);
    return 0;
}

static void exec_kick(struct alerter *a)
{
    /* A hook killed at its timeout that refuses to be reaped (e.g. stuck in D state) holds an
     * orphan slot; with all of them taken no new hook starts, so stuck hooks cannot pile up. */
    if (a->exec_pid || !a->exec_argv || a->n_orphans >= ALERT_ORPHANS_MAX)
        return;
    struct alert_event ev;
    uint64_t now = now_ms(), retry;
    if (alert_queue_take(&a->q, ALERT_CH_EXEC, now, &ev, 1, SIZE_MAX, &retry) == 0) {
        arm_retry(a, ALERT_CH_EXEC, retry, now);
        return;
    }
    int r = exec_spawn(a, &ev);
    if (r < 0)
        chan_done(a, ALERT_CH_EXEC, false, false, "cannot start the hook: %s", strerror(-r));
}

static void exec_timeout_cb(struct loop *loop, struct timer *t)
{
    (void)loop;
    struct alerter *a = t->data;
    if (!a->exec_pid)
        return;
    kill_group(a->exec_pid);
    a->orphans[a->n_orphans++] = a->exec_pid; /* room: exec_kick() checked before the start */
    a->exec_pid = 0;
    chan_done(a, ALERT_CH_EXEC, false, true, "timeout after %llu ms", (unsigned long long)a->lim.exec_timeout_ms);
}

static void exec_exited(struct alerter *a, int ws)
{
    char sb[16];
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
        chan_done(a, ALERT_CH_EXEC, true, false, NULL);
    else if (WIFEXITED(ws) && WEXITSTATUS(ws) == SPAWN_EXIT_NOTFOUND)
        chan_done(a, ALERT_CH_EXEC, false, false, "exit %d (command not found)", WEXITSTATUS(ws));
    else if (WIFEXITED(ws) && WEXITSTATUS(ws) == SPAWN_EXIT_NOEXEC)
        chan_done(a, ALERT_CH_EXEC, false, false, "exit %d (cannot execute)", WEXITSTATUS(ws));
    else if (WIFEXITED(ws))
        chan_done(a, ALERT_CH_EXEC, false, false, "exit %d", WEXITSTATUS(ws));
    else
        chan_done(a, ALERT_CH_EXEC, false, false, "killed by signal %s",
                  sig_name(WIFSIGNALED(ws) ? WTERMSIG(ws) : 0, sb, sizeof sb));
}

bool alerter_child_exited(struct alerter *a, pid_t pid, int wait_status)
{
    if (pid <= 0)
        return false;
    if (pid == a->exec_pid) {
        if (!WIFEXITED(wait_status) && !WIFSIGNALED(wait_status))
            return true; /* stopped or continued: still ours, still running */
        /* What the hook left running in its group goes too; the group id stays allocated while
         * any member lives, so this reaches only that group. */
        kill(-pid, SIGKILL);
        a->exec_pid = 0;
        timer_stop(a->loop, &a->exec_timer);
        exec_exited(a, wait_status);
        return true;
    }
    for (size_t i = 0; i < a->n_orphans; i++) {
        if (a->orphans[i] != pid)
            continue;
        a->orphans[i] = a->orphans[--a->n_orphans];
        if (a->n_orphans == ALERT_ORPHANS_MAX - 1)
            schedule_kick(a, ALERT_CH_EXEC); /* room again for a hook */
        return true;
    }
    return false;
}

/* ================================================================ webhook: curl on the loop */

static void post_release(struct alerter *a)
{
    if (a->easy) {
        curlloop_remove(&a->curl, a->easy);
        curl_easy_cleanup(a->easy);
        a->easy = NULL;
    }
}

/* How a finished POST went, for chan_done(). Only curl's generic text for its error code is
 * used, never CURLOPT_ERRORBUFFER: that may quote the URL, which holds the webhook's secret. */
static void post_finished(struct alerter *a, CURLcode rc)
{
    long status = 0, oserr = 0;
    curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(a->easy, CURLINFO_OS_ERRNO, &oserr);
    bool answered = status > 0 && (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && a->reply_bytes > REPLY_MAX));
    post_release(a);
    if (answered && status >= 200 && status < 300)
        chan_done(a, ALERT_CH_WEBHOOK, true, false, NULL);
    else if (answered)
        chan_done(a, ALERT_CH_WEBHOOK, false, false, "HTTP %ld", status);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        chan_done(a, ALERT_CH_WEBHOOK, false, true, "timeout after %llu ms",
                  (unsigned long long)a->lim.webhook_timeout_ms);
    else if (rc == CURLE_COULDNT_CONNECT && oserr)
        chan_done(a, ALERT_CH_WEBHOOK, false, false, "cannot connect: %s", strerror((int)oserr));
    else
        chan_done(a, ALERT_CH_WEBHOOK, false, false, "%s", curl_easy_strerror(rc));
}

/* curlloop's done: a transfer ended; only the POST in flight is ours to judge. */
static void post_done(void *ctx, void *easy, int result)
{
    struct alerter *a = ctx;
    if (a->easy && easy == a->easy)
        post_finished(a, (CURLcode)result);
}

/* libcurl loaded (curlso), curl_global_init, the multi handle and its callbacks (curlloop), and
 * the request headers: only once a webhook is configured. Returns 0 or -errno (-ELIBACC: no
 * libcurl installed). */
static int curl_setup(struct alerter *a)
{
    int r = curlloop_init(&a->curl, a->loop, post_done, a);
    if (r < 0)
        return r;
    if (!a->slist) {
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        /* No "Expect: 100-continue" round trip (curl adds it for larger bodies): a server that
         * ignores it would cost a second of waiting. */
        struct curl_slist *h2 = h ? curl_slist_append(h, "Expect:") : NULL;
        if (!h2) {
            curl_slist_free_all(h);
            return -ENOMEM;
        }
        a->slist = h2;
    }
    return 0;
}

/* ================================================================ webhook: the POST */

/* The answer's body is read and dropped; past REPLY_MAX the transfer is cut (judged by status). */
static size_t on_reply(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    struct alerter *a = ud;
    size_t n = size * nmemb;
    a->reply_bytes += n;
    return a->reply_bytes > REPLY_MAX ? 0 : n;
}

static int post_setup(struct alerter *a, CURL *e, size_t len)
{
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(e, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, a->webhook_url);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, a->body);
    SET(CURLOPT_POSTFIELDSIZE, (long)len);
    SET(CURLOPT_HTTPHEADER, (struct curl_slist *)a->slist);
    SET(CURLOPT_NOSIGNAL, 1L); /* single-threaded with signals blocked: no SIGALRM games */
    SET(CURLOPT_TIMEOUT_MS, (long)a->lim.webhook_timeout_ms);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)); /* deprecated in 7.85.0 */
#endif
    SET(CURLOPT_WRITEFUNCTION, on_reply);
    SET(CURLOPT_WRITEDATA, (void *)a);
    SET(CURLOPT_USERAGENT, "nines/" NINES_VERSION);
#undef SET
    if (rc != CURLE_OK)
        return rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
#if LIBCURL_VERSION_NUM >= 0x075700
    /* Abandoning a POST during threaded name resolution must not join the resolver thread. */
    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
    return 0;
}

/* Starts the POST of a->body[0..len). Returns 0 or -errno (nothing in flight). */
static int post_start(struct alerter *a, size_t len)
{
    CURL *e = curl_easy_init();
    if (!e)
        return -ENOMEM;
    int r = post_setup(a, e, len);
    if (r == 0)
        r = curlloop_add(&a->curl, e);
    if (r < 0) {
        curl_easy_cleanup(e); /* never added: no remove */
        return r;
    }
    a->easy = e;
    a->reply_bytes = 0;
    return 0;
}

static void webhook_kick(struct alerter *a)
{
    if (a->easy || !a->webhook_url || !curlloop_ready(&a->curl))
        return;
    struct alert_event ev[ALERT_BATCH_MAX];
    uint64_t now = now_ms(), retry;
    size_t n = alert_queue_take(&a->q, ALERT_CH_WEBHOOK, now, ev, ALERT_BATCH_MAX, ALERT_CONTENT_MAX, &retry);
    if (n == 0) {
        arm_retry(a, ALERT_CH_WEBHOOK, retry, now);
        return;
    }
    if (!a->curl.async_dns && !curlloop_url_needs_no_dns(a->webhook_url)) {
        chan_done(a, ALERT_CH_WEBHOOK, false, false, "host name needs async DNS, which this libcurl lacks");
        return;
    }
    int len = alert_webhook_body(a->body, sizeof a->body, ev, n);
    int r = len < 0 ? len : post_start(a, (size_t)len);
    if (r < 0)
        chan_done(a, ALERT_CH_WEBHOOK, false, false, "cannot start the POST: %s", strerror(-r));
    else
        log_debug("alert webhook: POST of %zu event%s", n, n == 1 ? "" : "s");
}

static void kick(struct alerter *a, enum alert_channel c)
{
    if (c == ALERT_CH_EXEC)
        exec_kick(a);
    else
        webhook_kick(a);
}

/* ================================================================ the alerter: public */

static void argv_free(char **argv)
{
    for (char **p = argv; p && *p; p++)
        free(*p);
    free(argv);
}

static char **argv_dup(char *const *argv)
{
    size_t n = 0;
    while (argv[n])
        n++;
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        v[i] = strdup(argv[i]);
        if (!v[i]) {
            argv_free(v);
            return NULL;
        }
    }
    return v;
}

int alerter_init(struct alerter *a, struct loop *loop, const struct sigstate *sig, char *const *exec_argv,
                 const char *webhook_url)
{
    memset(a, 0, sizeof *a);
    a->devnull = -1;
    a->loop = loop;
    a->sig = sig;
    alert_queue_init(&a->q);
    a->lim = (struct alert_limits){
        .exec_timeout_ms = ALERT_EXEC_TIMEOUT_MS,
        .webhook_timeout_ms = ALERT_WEBHOOK_TIMEOUT_MS,
        .rate_max = ALERT_RATE_DEFAULT,
        .rate_window_ms = ALERT_RATE_WINDOW_MS,
    };
    for (int c = 0; c < ALERT_CH_COUNT; c++)
        timer_init(&a->kick[c], kick_cb, a);
    timer_init(&a->exec_timer, exec_timeout_cb, a);
    a->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    int r = a->devnull < 0 ? -errno : alerter_configure(a, exec_argv, webhook_url);
    if (r < 0)
        alerter_free(a);
    return r;
}

int alerter_configure(struct alerter *a, char *const *exec_argv, const char *webhook_url)
{
    bool want_exec = exec_argv && exec_argv[0] && *exec_argv[0];
    bool want_hook = webhook_url && *webhook_url;
    char **argv = NULL, *url = NULL;
    if (want_exec && !(argv = argv_dup(exec_argv)))
        return -ENOMEM;
    if (want_hook && !(url = strdup(webhook_url))) {
        argv_free(argv);
        return -ENOMEM;
    }
    if (want_hook && (!curlloop_ready(&a->curl) || !a->slist)) {
        int r = curl_setup(a);
        if (r < 0) {
            /* A webhook that cannot work must not take the hook (or nines) down with it. */
            log_error("alert webhook is off: %s", r == -ELIBACC ? "libcurl is not available" : strerror(-r));
            free(url);
            url = NULL;
            want_hook = false;
        } else if (!a->curl.async_dns) {
            log_warn("libcurl has no asynchronous resolver: the alert webhook must use an IP address");
        }
    }
    /* A hook in flight was already exec'd, and curl copied the URL of a POST in flight. */
    argv_free(a->exec_argv);
    free(a->webhook_url);
    a->exec_argv = argv;
    a->webhook_url = url;
    alert_queue_enable(&a->q, ALERT_CH_EXEC, want_exec);
    alert_queue_enable(&a->q, ALERT_CH_WEBHOOK, want_hook);
    return 0;
}

void alerter_set_limits(struct alerter *a, const struct alert_limits *lim)
{
    if (lim->exec_timeout_ms)
        a->lim.exec_timeout_ms = lim->exec_timeout_ms;
    if (lim->webhook_timeout_ms)
        a->lim.webhook_timeout_ms = lim->webhook_timeout_ms > LONG_MAX ? LONG_MAX : lim->webhook_timeout_ms;
    if (lim->rate_max)
        a->lim.rate_max = lim->rate_max;
    if (lim->rate_window_ms)
        a->lim.rate_window_ms = lim->rate_window_ms;
    for (int c = 0; c < ALERT_CH_COUNT; c++)
        alert_queue_set_rate(&a->q, (enum alert_channel)c, a->lim.rate_max, a->lim.rate_window_ms);
}

void alerter_free(struct alerter *a)
{
    if (a->loop) {
        for (int c = 0; c < ALERT_CH_COUNT; c++)
            timer_stop(a->loop, &a->kick[c]);
        timer_stop(a->loop, &a->exec_timer);
    }
    if (a->exec_pid > 0)
        kill_group(a->exec_pid); /* its zombie is left to the supervisor's reap loop */
    a->exec_pid = 0;
    a->n_orphans = 0;
    post_release(a); /* a POST in flight is abandoned */
    if (a->slist)
        curl_slist_free_all(a->slist); /* through curlso: only when libcurl was loaded */
    a->slist = NULL;
    curlloop_free(&a->curl);
    argv_free(a->exec_argv);
    a->exec_argv = NULL;
    free(a->webhook_url);
    a->webhook_url = NULL;
    if (a->devnull >= 0)
        close(a->devnull);
    a->devnull = -1;
    alert_queue_free(&a->q);
}

void alerter_event(struct alerter *a, const char *service, const char *state, const char *reason)
{
    int r = alert_queue_push(&a->q, service, state, reason, now_ms());
    if (r < 0 && r != -EINVAL)
        log_warn("alert for %s lost: %s", service, strerror(-r));
    if (r <= 0)
        return;
    for (int c = 0; c < ALERT_CH_COUNT; c++) {
        const struct alert_queue_chan *ch = &a->q.ch[c];
        if (ch->enabled && !ch->busy && !timer_active(&a->kick[c]))
            schedule_kick(a, (enum alert_channel)c);
    }
}

uint64_t alerter_dropped(const struct alerter *a)
{
    return a->q.dropped;
}

void alerter_get_stats(const struct alerter *a, enum alert_channel c, struct alert_chan_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!chan_ok(c))
        return;
    *out = a->q.ch[c].st;
    out->enabled = a->q.ch[c].enabled;
    out->busy = a->q.ch[c].busy;
    out->pending = alert_queue_pending(&a->q, c);
}

bool alerter_busy(const struct alerter *a)
{
    for (int c = 0; c < ALERT_CH_COUNT; c++)
        if (a->q.ch[c].busy || alert_queue_pending(&a->q, (enum alert_channel)c) > 0)
            return true;
    return false;
}
