#include "loop.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

enum { MAX_EVENTS = 64 };

struct loop {
    int epfd;
    bool stopping;
    struct timer **heap; /* min-heap on due_ms */
    size_t nheap, capheap;
    /* The batch being dispatched, so loop_unwatch() can cancel pending events of a watcher
     * that a callback just removed (its memory may be freed right after). */
    struct epoll_event events[MAX_EVENTS];
    int nevents, cur;
};

struct loop *loop_new(void)
{
    struct loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        int e = errno;
        free(loop);
        errno = e;
        return NULL;
    }
    return loop;
}

void loop_free(struct loop *loop)
{
    if (!loop)
        return;
    close(loop->epfd);
    free(loop->heap);
    free(loop);
}

void watcher_init(struct watcher *w, int fd, watcher_fn fn, void *data)
{
    w->fd = fd;
    w->fn = fn;
    w->data = data;
    w->added = false;
}

int loop_watch(struct loop *loop, struct watcher *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    int op = w->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(loop->epfd, op, w->fd, &ev) < 0)
        return -errno;
    w->added = true;
    return 0;
}

void loop_unwatch(struct loop *loop, struct watcher *w)
{
    if (!w->added)
        return;
    /* EBADF/ENOENT are fine: a closed fd has already left the epoll set. */
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->added = false;
    for (int i = loop->cur; i < loop->nevents; i++)
        if (loop->events[i].data.ptr == w)
            loop->events[i].data.ptr = NULL;
}

void timer_init(struct timer *t, timer_fn fn, void *data)
{
    memset(t, 0, sizeof *t);
    t->fn = fn;
    t->data = data;
}

/* Heap helpers: heap_idx is 1-based so that 0 means "not in the heap". */
static void heap_set(struct loop *loop, size_t i, struct timer *t)
{
    loop->heap[i] = t;
    t->heap_idx = i + 1;
}

static void heap_up(struct loop *loop, size_t i)
{
    struct timer *t = loop->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (loop->heap[p]->due_ms <= t->due_ms)
            break;
        heap_set(loop, i, loop->heap[p]);
        i = p;
    }
    heap_set(loop, i, t);
}

static void heap_down(struct loop *loop, size_t i)
{
    struct timer *t = loop->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= loop->nheap)
            break;
        if (c + 1 < loop->nheap && loop->heap[c + 1]->due_ms < loop->heap[c]->due_ms)
            c++;
        if (t->due_ms <= loop->heap[c]->due_ms)
            break;
        heap_set(loop, i, loop->heap[c]);
        i = c;
    }
    heap_set(loop, i, t);
}

void timer_stop(struct loop *loop, struct timer *t)
{
    if (!t->heap_idx)
        return;
    size_t i = t->heap_idx - 1;
    t->heap_idx = 0;
    struct timer *last = loop->heap[--loop->nheap];
    if (i == loop->nheap)
        return;
    heap_set(loop, i, last);
    heap_up(loop, i);
    heap_down(loop, last->heap_idx - 1);
}

int timer_start(struct loop *loop, struct timer *t, uint64_t delay_ms)
{
    timer_stop(loop, t);
    if (loop->nheap == loop->capheap) {
        size_t cap = loop->capheap ? loop->capheap * 2 : 16;
        struct timer **h = realloc(loop->heap, cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        loop->heap = h;
        loop->capheap = cap;
    }
    uint64_t now = now_ms();
    t->due_ms = delay_ms > UINT64_MAX - now ? UINT64_MAX : now + delay_ms;
    heap_set(loop, loop->nheap++, t);
    heap_up(loop, loop->nheap - 1);
    return 0;
}

size_t loop_timer_count(const struct loop *loop)
{
    return loop->nheap;
}

/* Milliseconds until the next timer, capped by max_wait_ms (-1 = none): the epoll timeout. */
static int next_wait(const struct loop *loop, int max_wait_ms)
{
    if (loop->nheap == 0)
        return max_wait_ms;
    uint64_t now = now_ms(), due = loop->heap[0]->due_ms;
    uint64_t wait = due > now ? due - now : 0;
    if (wait > INT32_MAX)
        wait = INT32_MAX;
    if (max_wait_ms >= 0 && wait > (uint64_t)max_wait_ms)
        wait = (uint64_t)max_wait_ms;
    return (int)wait;
}

static void run_timers(struct loop *loop)
{
    uint64_t now = now_ms();
    /* A callback may re-arm its own timer for "now": bound the work to what was due on entry. */
    size_t budget = loop->nheap;
    while (loop->nheap && budget-- && loop->heap[0]->due_ms <= now) {
        struct timer *t = loop->heap[0];
        timer_stop(loop, t);
        t->fn(loop, t);
    }
}

int loop_run_once(struct loop *loop, int max_wait_ms)
{
    int n = epoll_wait(loop->epfd, loop->events, MAX_EVENTS, next_wait(loop, max_wait_ms));
    if (n < 0) {
        loop->nevents = 0;
        return errno == EINTR ? 0 : -errno;
    }
    loop->nevents = n;
    for (loop->cur = 0; loop->cur < loop->nevents;) {
        struct epoll_event ev = loop->events[loop->cur++];
        struct watcher *w = ev.data.ptr;
        if (w)
            w->fn(loop, w, ev.events);
    }
    loop->nevents = loop->cur = 0;
    run_timers(loop);
    return 0;
}

void loop_run(struct loop *loop)
{
    while (!loop->stopping) {
        int rc = loop_run_once(loop, -1);
        if (rc < 0) {
            /* Only EBADF/EFAULT/EINVAL are possible here, all bugs; do not spin at 100% CPU. */
            log_error("epoll_wait: %s", strerror(-rc));
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

void loop_stop(struct loop *loop)
{
    loop->stopping = true;
}
