/* Tests for alert.c. The pure parts with the clock passed in: the rate limit, the per-service
 * queue (latest state wins, merged events counted once, de-duplication, skipping what a channel
 * already delivered, fair order, batching, slot limits), text cleaning and the Discord-shaped JSON
 * body. Then the alerter on a real loop: exec hooks reaped through a signalfd + waitpid(-1) loop
 * like the supervisor's (20 services at once with a slow hook: the hook sees the latest state of
 * each; environment, stdin and fds of the hook; timeout kills; failures), and the webhook against
 * a forked HTTP server that records bodies (hanging, failing, refusing) and against
 * tests/pytest/webhook_server.py (skipped without python3). */
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
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alert.h"
#include "loop.h"
#include "sig.h"
#include "util.h"

/* ================================================================== pure: helpers */

static struct alert_queue *queue_new(bool exec, bool webhook)
{
    struct alert_queue *q = malloc(sizeof *q);
    assert_non_null(q);
    alert_queue_init(q);
    alert_queue_enable(q, ALERT_CH_EXEC, exec);
    alert_queue_enable(q, ALERT_CH_WEBHOOK, webhook);
    /* No rate limit unless a test sets one. */
    alert_queue_set_rate(q, ALERT_CH_EXEC, 1, 0);
    alert_queue_set_rate(q, ALERT_CH_WEBHOOK, 1, 0);
    return q;
}

static void queue_del(struct alert_queue *q)
{
    alert_queue_free(q);
    free(q);
}

/* Takes one event from c (expected to be there) and completes it. */
static struct alert_event take1(struct alert_queue *q, enum alert_channel c, uint64_t now)
{
    struct alert_event ev;
    uint64_t retry;
    assert_int_equal(alert_queue_take(q, c, now, &ev, 1, SIZE_MAX, &retry), 1);
    return ev;
}

static void push(struct alert_queue *q, const char *svc, const char *state, const char *reason, int want)
{
    assert_int_equal(alert_queue_push(q, svc, state, reason, 0), want);
}

/* ================================================================== pure: names, rate */

static void t_channel_names(void **state)
{
    (void)state;
    assert_string_equal(alert_channel_name(ALERT_CH_EXEC), "exec");
    assert_string_equal(alert_channel_name(ALERT_CH_WEBHOOK), "webhook");
    assert_string_equal(alert_channel_name(ALERT_CH_COUNT), "?");
}

static void t_rate_limit(void **state)
{
    (void)state;
    struct alert_rate r;
    uint64_t next = 0;
    alert_rate_init(&r, 3, 1000);
    for (uint64_t t = 100; t < 103; t++) {
        assert_true(alert_rate_allow(&r, t, &next));
        alert_rate_record(&r, t);
    }
    assert_false(alert_rate_allow(&r, 500, &next));
    assert_int_equal(next, 1100); /* the oldest start + the window */
    assert_false(alert_rate_allow(&r, 1099, &next));
    assert_true(alert_rate_allow(&r, 1100, &next));
    alert_rate_record(&r, 1100);
    assert_false(alert_rate_allow(&r, 1100, &next));
    assert_int_equal(next, 1101); /* now the start at 101 is the oldest */
    assert_true(alert_rate_allow(&r, 1101, &next));

    alert_rate_init(&r, 1, 0); /* no window: no limit */
    for (int i = 0; i < 100; i++) {
        assert_true(alert_rate_allow(&r, 5, &next));
        alert_rate_record(&r, 5);
    }
    alert_rate_init(&r, 0, 10); /* clamped to 1 */
    assert_int_equal(r.max, 1);
    alert_rate_init(&r, 1000, 10);
    assert_int_equal(r.max, ALERT_RATE_MAX);
}

/* ================================================================== pure: queue */

static void svc_name(char *buf, size_t len, int i)
{
    snprintf(buf, len, "svc%02d", i);
}

/* P19 in miniature: 20 services change at once while the consumer is busy with the first; then
 * all 20 change again. The consumer sees the latest state of every service, each service once
 * more, and 19 events are counted as dropped (svc00's first event was already in flight). */
static void t_queue_burst_slow_consumer(void **state)
{
    (void)state;
    struct alert_queue *q = queue_new(true, false);
    char name[16];
    for (int i = 0; i < 20; i++) {
        svc_name(name, sizeof name, i);
        push(q, name, "STARTING", NULL, 1);
    }
    struct alert_event ev = take1(q, ALERT_CH_EXEC, 0);
    assert_string_equal(ev.service, "svc00");
    assert_string_equal(ev.state, "STARTING");
    assert_int_equal(alert_queue_pending(q, ALERT_CH_EXEC), 19);
    for (int i = 0; i < 20; i++) {
        svc_name(name, sizeof name, i);
        push(q, name, "FATAL", "exit 78", 1);
    }
    assert_int_equal(q->dropped, 19);
    assert_int_equal(q->ch[ALERT_CH_EXEC].st.dropped, 19);
    alert_queue_done(q, ALERT_CH_EXEC, true, false, NULL);

    int seen[20] = {0};
    for (int k = 0; k < 20; k++) {
        ev = take1(q, ALERT_CH_EXEC, 0);
        int i = atoi(ev.service + 3);
        seen[i]++;
        assert_string_equal(ev.state, "FATAL");
        assert_string_equal(ev.reason, "exit 78");
        /* The services whose STARTING was never delivered say so; svc00 (delivered) comes last,
         * since it became pending again only after the others. */
        assert_int_equal(ev.merged, i == 0 ? 0 : 1);
        assert_int_equal(i, k == 19 ? 0 : k + 1);
        alert_queue_done(q, ALERT_CH_EXEC, true, false, NULL);
    }
    for (int i = 0; i < 20; i++)
        assert_int_equal(seen[i], 1);
    uint64_t retry;
    assert_int_equal(alert_queue_take(q, ALERT_CH_EXEC, 0, &ev, 1, SIZE_MAX, &retry), 0);
    assert_int_equal(retry, UINT64_MAX);
    assert_int_equal(q->ch[ALERT_CH_EXEC].st.sent, 21);
    assert_int_equal(q->dropped, 19);
    queue_del(q);
}

/* Random pushes interleaved with a consumer that is sometimes slow: whatever happens, the last
 * event a consumer sees per service is the last one pushed, and sent + dropped + duplicates
 * account for every push. */
static void t_queue_latest_wins_random(void **state)
{
    (void)state;
    static const char *const states[] = {"RUNNING", "BACKOFF", "FATAL", "AUTHFAIL"};
    struct alert_queue *q = queue_new(true, false);
    char last_pushed[20][ALERT_STATE_MAX], last_seen[20][ALERT_STATE_MAX];
    memset(last_pushed, 0, sizeof last_pushed);
    memset(last_seen, 0, sizeof last_seen);
    uint32_t rnd = 12345;
    bool busy = false;
    uint64_t pushes = 0, queued = 0, taken = 0;
    for (int step = 0; step < 5000; step++) {
        rnd = rnd * 1103515245u + 12345u;
        uint32_t r = rnd >> 8;
        if (r % 3 != 0) {
            int i = (int)(r / 3 % 20);
            const char *st = states[r / 60 % 4];
            char name[16];
            svc_name(name, sizeof name, i);
            int rc = alert_queue_push(q, name, st, NULL, (uint64_t)step);
            assert_true(rc == 0 || rc == 1);
            pushes++;
            queued += (uint64_t)rc;
            snprintf(last_pushed[i], ALERT_STATE_MAX, "%s", st);
        } else if (busy) {
            alert_queue_done(q, ALERT_CH_EXEC, true, false, NULL);
            busy = false;
        } else {
            struct alert_event ev;
            uint64_t retry;
            if (alert_queue_take(q, ALERT_CH_EXEC, (uint64_t)step, &ev, 1, SIZE_MAX, &retry)) {
                busy = true;
                taken++;
                snprintf(last_seen[atoi(ev.service + 3)], ALERT_STATE_MAX, "%s", ev.state);
            }
        }
    }
    if (busy)
        alert_queue_done(q, ALERT_CH_EXEC, true, false, NULL);
    struct alert_event ev;
    uint64_t retry;
    while (alert_queue_take(q, ALERT_CH_EXEC, 99999, &ev, 1, SIZE_MAX, &retry)) {
        taken++;
        snprintf(last_seen[atoi(ev.service + 3)], ALERT_STATE_MAX, "%s", ev.state);
        alert_queue_done(q, ALERT_CH_EXEC, true, false, NULL);
    }
    for (int i = 0; i < 20; i++)
        if (last_pushed[i][0])
            assert_string_equal(last_seen[i], last_pushed[i]);
    assert_int_equal(pushes, queued + q->duplicates);
    assert_int_equal(queued, taken + q->dropped + q->ch[ALERT_CH_EXEC].st.skipped);
    assert_true(q->dropped > 0);
    queue_del(q);
}

static void t_queue_dedup(void **state)
{
    (void)state;
    struct alert_queue *q = queue_new(true, false);
    push(q, "bot", "AUTHFAIL", "health 401", 1);
    push(q, "bot", "AUTHFAIL", "health 401", 0); /* identical consecutive: ignored */
    assert_int_equal(q->duplicates, 1);
    assert_int_equal(q->dropped, 0);
    push(q, "bot", "AUTHFAIL", "exit 77", 1); /* another reason is news */
    assert_int_equal(q->dropped, 1);
    struct alert_event ev = take1(q, ALERT_CH_EXEC, 0);
    assert_string_equal(ev.reason, "exit 77");
    alert_queue_done(q, ALERT_CH_EXEC, true, false, NULL);
    push(q, "bot", "AUTHFAIL", "exit 77", 0); /* same as the delivered one */

    /* RUNNING goes out; then FATAL and RUNNING again while the consumer is away: FATAL is
     * lost, and the pending RUNNING is what the consumer already has, so it is skipped. */
    push(q, "bot", "RUNNING", NULL, 1);
    ev = take1(q, ALERT_CH_EXEC, 0);
    alert_queue_done(q, ALERT_CH_EXEC, true, false, NULL);
    assert_string_equal(ev.state, "RUNNING");
    push(q, "bot", "FATAL", "exit 78", 1);
    push(q, "bot", "RUNNING", NULL, 1); /* FATAL dropped; RUNNING is what the consumer has */
    assert_int_equal(q->dropped, 2);
    assert_int_equal(alert_queue_pending(q, ALERT_CH_EXEC), 1);
    uint64_t retry;
    assert_int_equal(alert_queue_take(q, ALERT_CH_EXEC, 0, &ev, 1, SIZE_MAX, &retry), 0);
    assert_int_equal(q->ch[ALERT_CH_EXEC].st.skipped, 1);
    assert_int_equal(alert_queue_pending(q, ALERT_CH_EXEC), 0);
    assert_false(q->ch[ALERT_CH_EXEC].busy);
    /* The next real change still reports the merged FATAL. */
    push(q, "bot", "BACKOFF", "exit 1", 1);
    ev = take1(q, ALERT_CH_EXEC, 0);
    assert_string_equal(ev.state, "BACKOFF");
    assert_int_equal(ev.merged, 1);
    queue_del(q);
}

/* At most 2 deliveries per second: the rest waits and merges; retry_at says when. */
static void t_queue_rate_limit_merges(void **state)
{
    (void)state;
    struct alert_queue *q = queue_new(true, false);
    alert_queue_set_rate(q, ALERT_CH_EXEC, 2, 1000);
    char name[16];
    for (int i = 0; i < 5; i++) {
        svc_name(name, sizeof name, i);
        assert_int_equal(alert_queue_push(q, name, "FATAL", NULL, 0), 1);
    }
    struct alert_event ev = take1(q, ALERT_CH_EXEC, 0);
    alert_queue_done(q, ALERT_CH_EXEC, true, false, NULL);
    ev = take1(q, ALERT_CH_EXEC, 10);
    assert_string_equal(ev.service, "svc01");
    alert_queue_done(q, ALERT_CH_EXEC, true, false, NULL);
    uint64_t retry = 0;
    assert_int_equal(alert_queue_take(q, ALERT_CH_EXEC, 20, &ev, 1, SIZE_MAX, &retry), 0);
    assert_int_equal(retry, 1000);
    assert_false(q->ch[ALERT_CH_EXEC].busy);
    /* Meanwhile svc02 changes twice more: only the latest goes out. */
    assert_int_equal(alert_queue_push(q, "svc02", "RUNNING", NULL, 30), 1);
    assert_int_equal(alert_queue_push(q, "svc02", "AUTHFAIL", "exit 77", 40), 1);
    ev = take1(q, ALERT_CH_EXEC, 1000);
    assert_string_equal(ev.service, "svc02");
    assert_string_equal(ev.state, "AUTHFAIL");
    assert_int_equal(ev.merged, 2);
    assert_int_equal(ev.at_ms, 40);
    alert_queue_done(q, ALERT_CH_EXEC, false, false, "exit 1");
    assert_int_equal(alert_queue_take(q, ALERT_CH_EXEC, 1005, &ev, 1, SIZE_MAX, &retry), 0);
    assert_int_equal(retry, 1010);
    assert_int_equal(q->ch[ALERT_CH_EXEC].st.sent, 2);
    assert_int_equal(q->ch[ALERT_CH_EXEC].st.failed, 1);
    assert_string_equal(q->ch[ALERT_CH_EXEC].st.last_error, "exit 1");
    assert_int_equal(q->dropped, 2);
    queue_del(q);
}

/* The webhook takes many services in one delivery, bounded by count and content bytes; one
 * delivery counts once against the rate limit. */
static void t_queue_batch_budget(void **state)
{
    (void)state;
    struct alert_queue *q = queue_new(false, true);
    alert_queue_set_rate(q, ALERT_CH_WEBHOOK, 1, 1000);
    char name[16];
    for (int i = 0; i < 20; i++) {
        svc_name(name, sizeof name, i);
        push(q, name, "FATAL", "exit 78", 1);
    }
    struct alert_event ev[ALERT_BATCH_MAX];
    uint64_t retry;
    /* "**nines**: `svc00` is FATAL: exit 78" is 37 bytes, 38 with the newline. */
    assert_int_equal(alert_queue_take(q, ALERT_CH_WEBHOOK, 0, ev, ALERT_BATCH_MAX, 2 * 38, &retry), 2);
    assert_string_equal(ev[0].service, "svc00");
    assert_string_equal(ev[1].service, "svc01");
    alert_queue_done(q, ALERT_CH_WEBHOOK, true, false, NULL);
    assert_int_equal(alert_queue_take(q, ALERT_CH_WEBHOOK, 1, ev, ALERT_BATCH_MAX, 2000, &retry), 0);
    assert_int_equal(retry, 1000);
    assert_int_equal(alert_queue_take(q, ALERT_CH_WEBHOOK, 1000, ev, ALERT_BATCH_MAX, 2000, &retry), 18);
    assert_string_equal(ev[17].service, "svc19");
    alert_queue_done(q, ALERT_CH_WEBHOOK, true, false, NULL);
    /* A budget too small for even one line still delivers one. */
    push(q, "svc00", "RUNNING", NULL, 1);
    assert_int_equal(alert_queue_take(q, ALERT_CH_WEBHOOK, 5000, ev, ALERT_BATCH_MAX, 1, &retry), 1);
    /* Busy: nothing more until done. */
    push(q, "svc01", "RUNNING", NULL, 1);
    assert_int_equal(alert_queue_take(q, ALERT_CH_WEBHOOK, 9000, ev, ALERT_BATCH_MAX, 2000, &retry), 0);
    assert_int_equal(retry, UINT64_MAX);
    assert_int_equal(q->ch[ALERT_CH_WEBHOOK].st.sent, 2);
    queue_del(q);
}

/* Two channels at different speeds: each gets the latest state; an event lost on both counts
 * once in the total, once in each channel's counter. */
static void t_queue_two_channels(void **state)
{
    (void)state;
    struct alert_queue *q = queue_new(true, true);
    push(q, "a", "FATAL", NULL, 1);
    push(q, "b", "FATAL", NULL, 1);
    struct alert_event ev = take1(q, ALERT_CH_EXEC, 0); /* exec: a in flight, slow */
    assert_string_equal(ev.service, "a");
    push(q, "b", "RUNNING", NULL, 1); /* b FATAL lost on both channels */
    assert_int_equal(q->dropped, 1);
    assert_int_equal(q->ch[ALERT_CH_EXEC].st.dropped, 1);
    assert_int_equal(q->ch[ALERT_CH_WEBHOOK].st.dropped, 1);
    struct alert_event evs[4];
    uint64_t retry;
    assert_int_equal(alert_queue_take(q, ALERT_CH_WEBHOOK, 0, evs, 4, 2000, &retry), 2);
    assert_string_equal(evs[0].service, "a");
    assert_string_equal(evs[1].service, "b");
    assert_string_equal(evs[1].state, "RUNNING");
    alert_queue_done(q, ALERT_CH_WEBHOOK, true, false, NULL);
    push(q, "a", "RUNNING", NULL, 1); /* exec: a FATAL is in flight, not lost */
    assert_int_equal(q->dropped, 1);
    push(q, "b", "BACKOFF", NULL, 1); /* webhook delivered b RUNNING, exec did not */
    assert_int_equal(q->dropped, 2);
    assert_int_equal(q->ch[ALERT_CH_EXEC].st.dropped, 2);
    assert_int_equal(q->ch[ALERT_CH_WEBHOOK].st.dropped, 1);
    alert_queue_done(q, ALERT_CH_EXEC, true, false, NULL);
    ev = take1(q, ALERT_CH_EXEC, 0);
    assert_string_equal(ev.service, "b"); /* pending longer than a */
    assert_string_equal(ev.state, "BACKOFF");
    assert_int_equal(ev.merged, 2);
    queue_del(q);
}

/* A channel enabled later (a reload adds a webhook) does not replay older events; a disabled
 * channel takes nothing and counts nothing. */
static void t_queue_enable_later(void **state)
{
    (void)state;
    struct alert_queue *q = queue_new(true, false);
    push(q, "a", "FATAL", NULL, 1);
    push(q, "b", "FATAL", NULL, 1);
    assert_int_equal(alert_queue_pending(q, ALERT_CH_WEBHOOK), 0);
    struct alert_event ev[4];
    uint64_t retry;
    assert_int_equal(alert_queue_take(q, ALERT_CH_WEBHOOK, 0, ev, 4, 2000, &retry), 0);
    alert_queue_enable(q, ALERT_CH_WEBHOOK, true);
    assert_int_equal(alert_queue_pending(q, ALERT_CH_WEBHOOK), 0);
    assert_int_equal(alert_queue_pending(q, ALERT_CH_EXEC), 2);
    push(q, "b", "FATAL", NULL, 0); /* still a duplicate */
    push(q, "b", "RUNNING", NULL, 1);
    assert_int_equal(q->ch[ALERT_CH_WEBHOOK].st.dropped, 0);
    assert_int_equal(alert_queue_take(q, ALERT_CH_WEBHOOK, 0, ev, 4, 2000, &retry), 1);
    assert_string_equal(ev[0].service, "b");
    alert_queue_enable(q, ALERT_CH_EXEC, false);
    assert_int_equal(alert_queue_pending(q, ALERT_CH_EXEC), 0);
    assert_int_equal(alert_queue_take(q, ALERT_CH_EXEC, 0, ev, 1, 2000, &retry), 0);
    alert_queue_enable(q, ALERT_CH_WEBHOOK, false);
    push(q, "c", "FATAL", NULL, 0); /* no channel: ignored */
    queue_del(q);
}

/* A service that keeps changing keeps its place in line instead of going to the back. */
static void t_queue_fair_order(void **state)
{
    (void)state;
    struct alert_queue *q = queue_new(true, false);
    push(q, "busy", "STARTING", NULL, 1);
    struct alert_event ev = take1(q, ALERT_CH_EXEC, 0); /* in flight */
    push(q, "busy", "RUNNING", NULL, 1);
    push(q, "x", "FATAL", NULL, 1);
    push(q, "busy", "BACKOFF", NULL, 1);
    push(q, "y", "FATAL", NULL, 1);
    push(q, "busy", "FATAL", NULL, 1);
    alert_queue_done(q, ALERT_CH_EXEC, true, false, NULL);
    ev = take1(q, ALERT_CH_EXEC, 0);
    assert_string_equal(ev.service, "busy");
    assert_string_equal(ev.state, "FATAL");
    assert_int_equal(ev.merged, 2);
    alert_queue_done(q, ALERT_CH_EXEC, true, false, NULL);
    assert_string_equal(take1(q, ALERT_CH_EXEC, 0).service, "x");
    queue_del(q);
}

static void t_queue_limits_and_invalid(void **state)
{
    (void)state;
    struct alert_queue *q = queue_new(true, false);
    push(q, NULL, "FATAL", NULL, -EINVAL);
    push(q, "", "FATAL", NULL, -EINVAL);
    push(q, "a", NULL, NULL, -EINVAL);
    push(q, "a", "", NULL, -EINVAL);
    char name[16];
    for (int i = 0; i < ALERT_SLOTS_MAX; i++) {
        snprintf(name, sizeof name, "s%d", i);
        assert_int_equal(alert_queue_push(q, name, "FATAL", NULL, 0), 1);
    }
    push(q, "one-too-many", "FATAL", NULL, -ENOSPC);
    assert_int_equal(q->dropped, 1);
    push(q, "s17", "RUNNING", NULL, 1); /* known services still work */
    struct alert_event ev;
    uint64_t retry;
    assert_int_equal(alert_queue_take(q, ALERT_CH_COUNT, 0, &ev, 1, 10, &retry), 0);
    assert_int_equal(alert_queue_take(q, ALERT_CH_EXEC, 0, &ev, 0, 10, &retry), 0);
    alert_queue_done(q, ALERT_CH_COUNT, true, false, NULL); /* ignored */
    queue_del(q);
}

/* ================================================================== pure: text */

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0)
            return false;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xC0) != 0x80)
                return false;
    }
    return true;
}

/* Reasons become one clean line: control characters are spaces, a long one is cut on a UTF-8
 * boundary; names and states too. */
static void t_clean_and_cut(void **state)
{
    (void)state;
    struct alert_queue *q = queue_new(true, false);
    push(q, "bot", "AUTH\tFAIL", "line1\nline2\r\x7f\x01" "end", 1);
    struct alert_event ev = take1(q, ALERT_CH_EXEC, 0);
    assert_string_equal(ev.state, "AUTH FAIL");
    assert_string_equal(ev.reason, "line1 line2   end");
    alert_queue_done(q, ALERT_CH_EXEC, true, false, NULL);

    char reason[1000] = "";
    for (int i = 0; i < 300; i++)
        strcat(reason, "\xc3\xa9"); /* é: 2 bytes */
    push(q, "bot", "FATAL", reason, 1);
    ev = take1(q, ALERT_CH_EXEC, 0);
    assert_int_equal(strlen(ev.reason), 254); /* 255 would split a character */
    assert_true(utf8_valid(ev.reason));
    alert_queue_done(q, ALERT_CH_EXEC, true, false, NULL);

    char longname[200];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    push(q, longname, "FATAL", NULL, 1);
    ev = take1(q, ALERT_CH_EXEC, 0);
    assert_int_equal(strlen(ev.service), ALERT_SERVICE_MAX - 1);
    queue_del(q);
}

static struct alert_event mkev(const char *svc, const char *st, const char *reason, unsigned merged)
{
    struct alert_event ev;
    memset(&ev, 0, sizeof ev);
    snprintf(ev.service, sizeof ev.service, "%s", svc);
    snprintf(ev.state, sizeof ev.state, "%s", st);
    snprintf(ev.reason, sizeof ev.reason, "%s", reason);
    ev.merged = merged;
    return ev;
}

static void t_format_line(void **state)
{
    (void)state;
    char buf[512];
    struct alert_event ev = mkev("bot", "AUTHFAIL", "health 401 at 20:14:03", 0);
    size_t n = alert_format_line(buf, sizeof buf, &ev);
    assert_string_equal(buf, "**nines**: `bot` is AUTHFAIL: health 401 at 20:14:03");
    assert_int_equal(n, strlen(buf));
    ev = mkev("bot", "RUNNING", "", 1);
    alert_format_line(buf, sizeof buf, &ev);
    assert_string_equal(buf, "**nines**: `bot` is RUNNING (1 older alert merged)");
    ev = mkev("bot", "FATAL", "exit 78", 3);
    alert_format_line(buf, sizeof buf, &ev);
    assert_string_equal(buf, "**nines**: `bot` is FATAL: exit 78 (3 older alerts merged)");
    char small[10];
    assert_int_equal(alert_format_line(small, sizeof small, &ev), strlen(buf));
    assert_string_equal(small, "**nines**");
}

static void t_body_json(void **state)
{
    (void)state;
    char body[ALERT_BODY_MAX];
    struct alert_event ev[3];
    ev[0] = mkev("bot", "AUTHFAIL", "health 401", 0);
    int n = alert_webhook_body(body, sizeof body, ev, 1);
    assert_string_equal(body, "{\"content\":\"**nines**: `bot` is AUTHFAIL: health 401\","
                              "\"allowed_mentions\":{\"parse\":[]}}");
    assert_int_equal(n, (int)strlen(body));

    /* Quotes, backslashes, control characters and bad UTF-8 are escaped; lines joined by \n. */
    ev[0] = mkev("a", "FATAL", "say \"hi\" \\ \t@everyone \xff", 0);
    ev[1] = mkev("b", "RUNNING", "\xc3\xa9t\xc3\xa9", 2);
    n = alert_webhook_body(body, sizeof body, ev, 2);
    assert_string_equal(body, "{\"content\":\"**nines**: `a` is FATAL: say \\\"hi\\\" \\\\ \\t@everyone \\ufffd\\n"
                              "**nines**: `b` is RUNNING: \xc3\xa9t\xc3\xa9 (2 older alerts merged)\","
                              "\"allowed_mentions\":{\"parse\":[]}}");
    assert_int_equal(n, (int)strlen(body));

    assert_int_equal(alert_webhook_body(body, 40, ev, 1), -ENOSPC);
    assert_int_equal(alert_webhook_body(body, sizeof body, ev, 0), -EINVAL);
}

/* Content never exceeds Discord's 2000 bytes and holds whole lines only. */
static void t_body_cut(void **state)
{
    (void)state;
    struct alert_event ev[ALERT_BATCH_MAX];
    char reason[ALERT_REASON_MAX] = "";
    for (int i = 0; i < 127; i++)
        strcat(reason, "\xc3\xa9");
    for (int i = 0; i < ALERT_BATCH_MAX; i++) {
        char name[16];
        svc_name(name, sizeof name, i);
        ev[i] = mkev(name, "FATAL", reason, 7);
    }
    char *body = malloc(ALERT_BODY_MAX);
    assert_non_null(body);
    int n = alert_webhook_body(body, ALERT_BODY_MAX, ev, ALERT_BATCH_MAX);
    assert_true(n > 0);
    const char *c = body + strlen("{\"content\":\"");
    const char *end = strstr(c, "\",\"allowed_mentions\"");
    assert_non_null(end);
    size_t newlines = 0;
    for (const char *p = c; (p = strstr(p, "\\n")) && p < end; p += 2)
        newlines++;
    /* A line is 307 bytes: 6 lines and 5 newlines fit, a 7th would not. */
    assert_int_equal(newlines, 5);
    size_t clen = (size_t)(end - c) - newlines; /* an escaped newline is 2 bytes, not 1 */
    assert_int_equal(clen, 6 * 307 + 5);
    assert_true(clen <= ALERT_CONTENT_MAX);
    assert_memory_equal(end - 7, "merged)", 7);
    assert_true(utf8_valid(body));
    free(body);
}

/* ================================================================== the loop: harness */

static struct sigstate g_sig;
static pid_t g_srv = -1;
static uint16_t g_port;
static char g_dir[64];
static char g_rec[128]; /* the server's record of requests: one line each */

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

/* One request: headers, then Content-Length bytes of body; records "METHOD PATH|CT|BODY\n" and
 * answers according to the path. */
static void serve_conn(int c)
{
    static char buf[65536];
    size_t n = 0, need = 0;
    char *hend = NULL;
    while (n < sizeof buf - 1) {
        ssize_t r = read(c, buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        if (!hend && (hend = strstr(buf, "\r\n\r\n"))) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            need = (size_t)(hend + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if (hend && n >= need)
            break;
    }
    char method[16] = "", path[256] = "", ct[128] = "";
    if (!hend || sscanf(buf, "%15s %255s", method, path) != 2)
        return;
    const char *h = strcasestr(buf, "\r\nContent-Type:");
    if (h && h < hend)
        sscanf(h + 15, " %127[^\r]", ct);
    char rec[70000];
    int rl = snprintf(rec, sizeof rec, "%s %s|%s|%s\n", method, path, ct, hend + 4);
    int fd = open(g_rec, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        send_all(fd, rec, (size_t)rl); /* one write with O_APPEND: records never interleave */
        close(fd);
    }
    int code = 204, ms = 0;
    if (strcmp(path, "/hang") == 0) {
        for (;;)
            pause();
    } else if (sscanf(path, "/slow/%d", &ms) == 1) {
        usleep((useconds_t)ms * 1000);
    } else if (sscanf(path, "/status/%d", &code) != 1) {
        code = 204;
    }
    char hdr[128];
    int hl = snprintf(hdr, sizeof hdr, "HTTP/1.1 %d X\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", code);
    send_all(c, hdr, (size_t)hl);
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

static int listen_any(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 64) < 0)
        return -1;
    socklen_t len = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static int group_setup(void **state)
{
    (void)state;
    if (sig_block_all(&g_sig) < 0)
        return -1;
    prctl(PR_SET_CHILD_SUBREAPER, 1); /* like nines */
    /* The webhook honours environment proxies; the test server is local. */
    static const char *const proxies[] = {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                                          "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    snprintf(g_dir, sizeof g_dir, "/tmp/test_alert.XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(g_rec, sizeof g_rec, "%s/requests", g_dir);
    int lfd = listen_any(&g_port);
    if (lfd < 0)
        return -1;
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
    unlink(g_rec);
    rmdir(g_dir);
    return 0;
}

struct env {
    struct loop *loop;
    struct alerter al;
    bool al_ok;
    int sfd;
    struct watcher sw;
    int claimed, unknown;
    char file[160]; /* for hooks to write to */
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
        if (pid == g_srv)
            g_srv = -1;
        else if (e->al_ok && alerter_child_exited(&e->al, pid, st))
            e->claimed++;
        else
            e->unknown++;
    }
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    if (!e)
        return -1;
    e->loop = loop_new();
    if (!e->loop)
        return -1;
    e->sfd = sig_open_fd(&g_sig);
    if (e->sfd < 0)
        return -1;
    watcher_init(&e->sw, e->sfd, on_sigchld, e);
    if (loop_watch(e->loop, &e->sw, EPOLLIN) < 0)
        return -1;
    snprintf(e->file, sizeof e->file, "%s/hook.out", g_dir);
    unlink(e->file);
    unlink(g_rec);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    if (e->al_ok)
        alerter_free(&e->al);
    e->al_ok = false;
    /* Nothing of the alerter's may be left on the loop: no watcher, no timer (curl's included). */
    assert_int_equal(loop_timer_count(e->loop), 0);
    loop_unwatch(e->loop, &e->sw);
    close(e->sfd);
    loop_free(e->loop);
    unlink(e->file);
    unlink(g_rec);
    free(e);
    return 0;
}

static void start(struct env *e, char *const *argv, const char *url, const struct alert_limits *lim)
{
    assert_int_equal(alerter_init(&e->al, e->loop, &g_sig, argv, url), 0);
    e->al_ok = true;
    if (lim)
        alerter_set_limits(&e->al, lim);
}

static void run_for(struct env *e, uint64_t ms)
{
    uint64_t t0 = now_ms();
    while (now_ms() - t0 < ms)
        assert_int_equal(loop_run_once(e->loop, 10), 0);
}

/* Runs the loop until the alerter has nothing pending or in flight; returns the elapsed ms. */
static uint64_t run_idle(struct env *e, uint64_t max_ms)
{
    uint64_t t0 = now_ms();
    while (alerter_busy(&e->al) && now_ms() - t0 < max_ms)
        assert_int_equal(loop_run_once(e->loop, 10), 0);
    assert_false(alerter_busy(&e->al));
    return now_ms() - t0;
}

static struct alert_chan_stats stats(struct env *e, enum alert_channel c)
{
    struct alert_chan_stats st;
    alerter_get_stats(&e->al, c, &st);
    return st;
}

/* Reads a whole small file into a static buffer ("" when missing). */
static const char *slurp(const char *path)
{
    static char buf[1 << 17];
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return buf;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ================================================================== the loop: exec hook */

/* P19: 20 services change state at once, twice, while the hook takes 0.2 s per run: the hook
 * sees the latest state of every service, and the dropped counter shows the merging. */
static void t_exec_20_services_latest(void **state)
{
    struct env *e = *state;
    char *argv[] = {"sh", "-c", "echo \"$NINES_SERVICE $NINES_STATE $NINES_MERGED\" >> \"$1\"; sleep 0.2", "sh",
                    e->file, NULL};
    struct alert_limits lim = {.rate_max = ALERT_RATE_MAX, .rate_window_ms = 1000};
    start(e, argv, NULL, &lim);
    char name[16];
    for (int i = 0; i < 20; i++) {
        svc_name(name, sizeof name, i);
        alerter_event(&e->al, name, "STARTING", NULL);
        alerter_event(&e->al, name, "RUNNING", NULL); /* same loop iteration: merges */
    }
    assert_int_equal(alerter_dropped(&e->al), 20);
    assert_true(stats(e, ALERT_CH_EXEC).pending == 20); /* nothing started inside alerter_event */
    run_for(e, 500); /* a couple of hooks run */
    for (int i = 0; i < 20; i++) {
        svc_name(name, sizeof name, i);
        alerter_event(&e->al, name, "FATAL", "exit 78");
    }
    run_idle(e, 20000);

    const char *out = slurp(e->file);
    char last[20][16];
    memset(last, 0, sizeof last);
    int lines = 0;
    for (const char *l = out; *l; lines++) {
        int i = -1;
        char st[16] = "";
        unsigned merged = 0;
        assert_int_equal(sscanf(l, "svc%d %15s %u", &i, st, &merged), 3);
        assert_true(i >= 0 && i < 20);
        snprintf(last[i], sizeof last[i], "%s", st);
        l = strchr(l, '\n');
        assert_non_null(l);
        l++;
    }
    for (int i = 0; i < 20; i++)
        assert_string_equal(last[i], "FATAL");
    struct alert_chan_stats st = stats(e, ALERT_CH_EXEC);
    assert_int_equal(st.sent, (uint64_t)lines);
    assert_int_equal(st.failed, 0);
    assert_true(lines >= 21 && lines <= 25); /* a few RUNNING, then the 20 FATAL */
    /* 20 STARTING, plus the RUNNING that never went out: each event counted once. */
    assert_int_equal(alerter_dropped(&e->al), 20 + (uint64_t)(40 - lines));
    assert_int_equal(st.dropped, alerter_dropped(&e->al));
    assert_int_equal(e->claimed, lines);
}

/* The hook's world: stdin /dev/null, no fd of nines beyond 0-2, the event in its environment,
 * nines' environment too, minus NOTIFY_SOCKET. */
static void t_exec_env_fds(void **state)
{
    struct env *e = *state;
    int leak = open("/dev/null", O_RDONLY); /* not CLOEXEC, on purpose */
    assert_true(leak >= 0);
    assert_int_equal(dup2(leak, 77), 77);
    close(leak);
    setenv("ALERT_TEST_INHERITED", "yes", 1);
    setenv("NOTIFY_SOCKET", "/run/for-nines-only", 1);
    char *argv[] = {"sh", "-c",
                    "in=$(readlink /proc/$$/fd/0); if [ -e /proc/$$/fd/77 ]; then l=leak; else l=none; fi; "
                    "echo \"$in|$l|$NINES_SERVICE|$NINES_STATE|$NINES_REASON|$NINES_MERGED|"
                    "$ALERT_TEST_INHERITED|${NOTIFY_SOCKET-unset}\" > \"$1\"",
                    "sh", e->file, NULL};
    start(e, argv, NULL, NULL);
    alerter_event(&e->al, "bot", "AUTHFAIL", "health 401 at 20:14:03; it's \"bad\"");
    run_idle(e, 5000);
    close(77);
    unsetenv("NOTIFY_SOCKET");
    assert_string_equal(slurp(e->file),
                        "/dev/null|none|bot|AUTHFAIL|health 401 at 20:14:03; it's \"bad\"|0|yes|unset\n");
    assert_int_equal(stats(e, ALERT_CH_EXEC).sent, 1);
    assert_int_equal(e->claimed, 1);
}

/* A hook that hangs is killed with its group at the timeout, counted, and reaped through
 * alerter_child_exited; the next event starts a new hook right away. */
static void t_exec_timeout(void **state)
{
    struct env *e = *state;
    char *argv[] = {"sh", "-c", "sleep 30 & sleep 30", NULL};
    struct alert_limits lim = {.exec_timeout_ms = 300};
    start(e, argv, NULL, &lim);
    alerter_event(&e->al, "bot", "FATAL", NULL);
    uint64_t took = run_idle(e, 5000);
    assert_true(took >= 290 && took < 2000);
    struct alert_chan_stats st = stats(e, ALERT_CH_EXEC);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.timeouts, 1);
    assert_string_equal(st.last_error, "timeout after 300 ms");
    run_for(e, 200);
    assert_int_equal(e->claimed, 1);   /* the killed hook, claimed as an orphan */
    assert_true(e->unknown >= 1);      /* its background sleep, killed with the group */

    char *ok[] = {"sh", "-c", "echo \"$NINES_STATE\" > \"$1\"", "sh", e->file, NULL};
    assert_int_equal(alerter_configure(&e->al, ok, NULL), 0);
    alerter_event(&e->al, "bot", "RUNNING", NULL);
    run_idle(e, 5000);
    assert_string_equal(slurp(e->file), "RUNNING\n");
    assert_int_equal(stats(e, ALERT_CH_EXEC).sent, 1);
}

static void t_exec_failures(void **state)
{
    struct env *e = *state;
    char *argv[] = {"sh", "-c", "exit 3", NULL};
    start(e, argv, NULL, NULL);
    alerter_event(&e->al, "bot", "FATAL", NULL);
    run_idle(e, 5000);
    struct alert_chan_stats st = stats(e, ALERT_CH_EXEC);
    assert_int_equal(st.failed, 1);
    assert_string_equal(st.last_error, "exit 3");

    char *missing[] = {"/nonexistent/alert-hook", NULL};
    assert_int_equal(alerter_configure(&e->al, missing, NULL), 0);
    alerter_event(&e->al, "bot", "RUNNING", NULL);
    run_idle(e, 5000);
    st = stats(e, ALERT_CH_EXEC);
    assert_int_equal(st.failed, 2);
    assert_string_equal(st.last_error, "exit 127 (command not found)");

    char *killed[] = {"sh", "-c", "kill -9 $$", NULL};
    assert_int_equal(alerter_configure(&e->al, killed, NULL), 0);
    alerter_event(&e->al, "bot", "BACKOFF", NULL);
    run_idle(e, 5000);
    st = stats(e, ALERT_CH_EXEC);
    assert_int_equal(st.failed, 3);
    assert_string_equal(st.last_error, "killed by signal KILL");
    assert_int_equal(st.sent, 0);
    assert_int_equal(e->claimed, 3);
}

/* Rate limit on the real loop: 2 per 400 ms; 5 services: the last ones wait for the window. */
static void t_exec_rate_limit(void **state)
{
    struct env *e = *state;
    char *argv[] = {"sh", "-c", "echo \"$NINES_SERVICE\" >> \"$1\"", "sh", e->file, NULL};
    struct alert_limits lim = {.rate_max = 2, .rate_window_ms = 400};
    start(e, argv, NULL, &lim);
    char name[16];
    for (int i = 0; i < 5; i++) {
        svc_name(name, sizeof name, i);
        alerter_event(&e->al, name, "FATAL", NULL);
    }
    uint64_t took = run_idle(e, 5000);
    assert_true(took >= 790);
    assert_int_equal(count_lines(slurp(e->file)), 5);
    assert_int_equal(alerter_dropped(&e->al), 0);
}

/* ================================================================== the loop: webhook */

static void url_of(char *buf, size_t len, const char *path)
{
    snprintf(buf, len, "http://127.0.0.1:%u%s", (unsigned)g_port, path);
}

static void t_webhook_post(void **state)
{
    struct env *e = *state;
    char url[128];
    url_of(url, sizeof url, "/ok");
    start(e, NULL, url, NULL);
    alerter_event(&e->al, "bot", "AUTHFAIL", "health 401");
    run_idle(e, 5000);
    assert_string_equal(slurp(g_rec), "POST /ok|application/json|{\"content\":\"**nines**: `bot` is AUTHFAIL: "
                                      "health 401\",\"allowed_mentions\":{\"parse\":[]}}\n");
    struct alert_chan_stats st = stats(e, ALERT_CH_WEBHOOK);
    assert_true(st.enabled);
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.failed, 0);
    assert_false(stats(e, ALERT_CH_EXEC).enabled);
}

/* 20 services at once: one POST carries all of them; a second wave while the (slow) server
 * answers merges into the next POST. Every service's last line is its latest state. */
static void t_webhook_burst(void **state)
{
    struct env *e = *state;
    char url[128];
    url_of(url, sizeof url, "/slow/300");
    start(e, NULL, url, NULL);
    char name[16];
    for (int i = 0; i < 20; i++) {
        svc_name(name, sizeof name, i);
        alerter_event(&e->al, name, "RUNNING", NULL);
    }
    run_for(e, 100);
    assert_true(stats(e, ALERT_CH_WEBHOOK).busy);
    for (int i = 0; i < 20; i++) {
        svc_name(name, sizeof name, i);
        alerter_event(&e->al, name, "STOPPING", NULL);
        alerter_event(&e->al, name, "FATAL", "exit 78");
    }
    run_idle(e, 5000);
    const char *rec = slurp(g_rec);
    assert_int_equal(count_lines(rec), 2);
    int last_is_fatal = 0;
    for (int i = 0; i < 20; i++) {
        char want[64];
        snprintf(want, sizeof want, "`svc%02d` is FATAL: exit 78 (1 older alert merged)", i);
        last_is_fatal += strstr(strchr(rec, '\n'), want) != NULL;
    }
    assert_int_equal(last_is_fatal, 20);
    assert_int_equal(stats(e, ALERT_CH_WEBHOOK).sent, 2);
    assert_int_equal(alerter_dropped(&e->al), 20);
}

/* A server that never answers: the POST ends at its timeout, the loop keeps running meanwhile,
 * and the next event goes out to a working URL. */
struct ticker {
    struct timer t;
    int ticks;
};

static void on_tick(struct loop *loop, struct timer *t)
{
    struct ticker *tk = t->data;
    tk->ticks++;
    timer_start(loop, t, 10);
}

static void t_webhook_hang_timeout(void **state)
{
    struct env *e = *state;
    char url[128];
    url_of(url, sizeof url, "/hang");
    struct alert_limits lim = {.webhook_timeout_ms = 400};
    start(e, NULL, url, &lim);
    struct ticker tk = {.ticks = 0};
    timer_init(&tk.t, on_tick, &tk);
    timer_start(e->loop, &tk.t, 10);
    alerter_event(&e->al, "bot", "FATAL", NULL);
    uint64_t took = run_idle(e, 5000);
    timer_stop(e->loop, &tk.t);
    assert_true(took >= 390 && took < 2000);
    assert_true(tk.ticks >= 20); /* the loop was never blocked */
    struct alert_chan_stats st = stats(e, ALERT_CH_WEBHOOK);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.timeouts, 1);
    assert_string_equal(st.last_error, "timeout after 400 ms");

    url_of(url, sizeof url, "/ok");
    assert_int_equal(alerter_configure(&e->al, NULL, url), 0);
    alerter_event(&e->al, "bot", "RUNNING", NULL);
    run_idle(e, 5000);
    st = stats(e, ALERT_CH_WEBHOOK);
    assert_int_equal(st.sent, 1);
    assert_int_equal(count_lines(slurp(g_rec)), 2);
}

static void t_webhook_errors(void **state)
{
    struct env *e = *state;
    char url[128];
    url_of(url, sizeof url, "/status/500");
    start(e, NULL, url, NULL);
    alerter_event(&e->al, "bot", "FATAL", NULL);
    run_idle(e, 5000);
    assert_string_equal(stats(e, ALERT_CH_WEBHOOK).last_error, "HTTP 500");

    /* A port nobody listens on. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", (unsigned)ntohs(a.sin_port));
    assert_int_equal(alerter_configure(&e->al, NULL, url), 0);
    alerter_event(&e->al, "bot", "RUNNING", NULL);
    run_idle(e, 5000);
    assert_string_equal(stats(e, ALERT_CH_WEBHOOK).last_error, "cannot connect: Connection refused");

    assert_int_equal(alerter_configure(&e->al, NULL, "ftp://127.0.0.1/x"), 0);
    alerter_event(&e->al, "bot", "BACKOFF", NULL);
    run_idle(e, 5000);
    struct alert_chan_stats st = stats(e, ALERT_CH_WEBHOOK);
    assert_int_equal(st.failed, 3);
    assert_int_equal(st.sent, 0);
    assert_non_null(strstr(st.last_error, "protocol")); /* "Unsupported protocol" */
}

/* Both channels at once; alerter_free with both in flight leaves nothing behind. */
static void t_free_in_flight(void **state)
{
    struct env *e = *state;
    char url[128];
    url_of(url, sizeof url, "/hang");
    char *argv[] = {"sleep", "30", NULL};
    start(e, argv, url, NULL);
    alerter_event(&e->al, "bot", "FATAL", NULL);
    run_for(e, 200);
    assert_true(stats(e, ALERT_CH_EXEC).busy);
    assert_true(stats(e, ALERT_CH_WEBHOOK).busy);
    assert_true(alerter_busy(&e->al));
    alerter_free(&e->al);
    e->al_ok = false;
    assert_int_equal(loop_timer_count(e->loop), 0);
    run_for(e, 200); /* the killed hook is reaped as an unknown child now */
    assert_int_equal(e->unknown, 1);
    alerter_free(&e->al); /* twice is fine */
}

static void t_no_channels(void **state)
{
    struct env *e = *state;
    char *empty[] = {NULL};
    start(e, empty, "", NULL);
    alerter_event(&e->al, "bot", "FATAL", NULL);
    assert_false(alerter_busy(&e->al));
    assert_int_equal(loop_timer_count(e->loop), 0);
    assert_int_equal(alerter_dropped(&e->al), 0);
    assert_false(alerter_child_exited(&e->al, 12345, 0));
    assert_false(alerter_child_exited(&e->al, 0, 0));
    struct alert_chan_stats st;
    alerter_get_stats(&e->al, ALERT_CH_COUNT, &st);
    assert_false(st.enabled);
}

/* ================================================================== webhook_server.py */

struct pysrv {
    pid_t pid;
    uint16_t port;
    char record[160];
};

static bool pysrv_start(struct pysrv *s, const char *extra_arg)
{
    const char *script = "tests/pytest/webhook_server.py";
    if (access(script, R_OK) < 0 || access("/usr/bin/python3", X_OK) < 0)
        return false;
    snprintf(s->record, sizeof s->record, "%s/py.jsonl", g_dir);
    unlink(s->record);
    int out[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        sigprocmask(SIG_SETMASK, &g_sig.orig_mask, NULL);
        dup2(out[1], 1);
        execl("/usr/bin/python3", "python3", script, "--record", s->record, extra_arg, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char buf[256] = "";
    size_t n = 0;
    struct pollfd pfd = {.fd = out[0], .events = POLLIN};
    uint64_t t0 = now_ms();
    while (!strchr(buf, '\n') && n < sizeof buf - 1 && now_ms() - t0 < 20000) {
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
    if (sscanf(buf, "PORT %u", &port) != 1) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        return false;
    }
    s->port = (uint16_t)port;
    return true;
}

static void pysrv_stop(struct pysrv *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0); /* unless the test's reaper got it first */
    unlink(s->record);
}

static void t_webhook_python_server(void **state)
{
    struct env *e = *state;
    struct pysrv s = {0};
    if (!pysrv_start(&s, "--fail-first=1"))
        skip();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/webhooks/1/secret", (unsigned)s.port);
    start(e, NULL, url, NULL);
    alerter_event(&e->al, "bot", "AUTHFAIL", "health 401");
    run_idle(e, 5000);
    alerter_event(&e->al, "lavalink", "FATAL", "exit 78 \"config\"");
    run_idle(e, 5000);
    const char *rec = slurp(s.record);
    pysrv_stop(&s);
    struct alert_chan_stats st = stats(e, ALERT_CH_WEBHOOK);
    assert_int_equal(st.failed, 1); /* --fail-first=1: HTTP 500 */
    assert_string_equal(st.last_error, "HTTP 500");
    assert_int_equal(st.sent, 1);
    assert_int_equal(count_lines(rec), 2);
    assert_non_null(strstr(rec, "\"json\": {\"content\": \"**nines**: `bot` is AUTHFAIL: health 401\""));
    assert_non_null(strstr(rec, "`lavalink` is FATAL: exit 78 \\\"config\\\""));
    assert_non_null(strstr(rec, "\"Content-Type\": \"application/json\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_channel_names),
        cmocka_unit_test(t_rate_limit),
        cmocka_unit_test(t_queue_burst_slow_consumer),
        cmocka_unit_test(t_queue_latest_wins_random),
        cmocka_unit_test(t_queue_dedup),
        cmocka_unit_test(t_queue_rate_limit_merges),
        cmocka_unit_test(t_queue_batch_budget),
        cmocka_unit_test(t_queue_two_channels),
        cmocka_unit_test(t_queue_enable_later),
        cmocka_unit_test(t_queue_fair_order),
        cmocka_unit_test(t_queue_limits_and_invalid),
        cmocka_unit_test(t_clean_and_cut),
        cmocka_unit_test(t_format_line),
        cmocka_unit_test(t_body_json),
        cmocka_unit_test(t_body_cut),
        cmocka_unit_test_setup_teardown(t_exec_20_services_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(t_exec_env_fds, setup, teardown),
        cmocka_unit_test_setup_teardown(t_exec_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(t_exec_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(t_exec_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(t_webhook_post, setup, teardown),
        cmocka_unit_test_setup_teardown(t_webhook_burst, setup, teardown),
        cmocka_unit_test_setup_teardown(t_webhook_hang_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(t_webhook_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(t_free_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(t_no_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(t_webhook_python_server, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
