/* loop: the one event loop. Owns the epoll fd and the timer heap (CLOCK_MONOTONIC, ms).
 * Watchers and timers are embedded in their owners' structs; the loop only points at them, so
 * adding one never allocates except when the timer heap grows. Nothing here blocks but epoll_wait. */
#ifndef NINES_LOOP_H
#define NINES_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct watcher;
struct timer;

typedef void (*watcher_fn)(struct loop *loop, struct watcher *w, uint32_t events);
typedef void (*timer_fn)(struct loop *loop, struct timer *t);

struct watcher {
    int fd;
    watcher_fn fn;
    void *data;
    bool added;
};

struct timer {
    uint64_t due_ms;  /* absolute CLOCK_MONOTONIC ms, valid while active */
    size_t heap_idx;  /* position in the heap + 1; 0 when not active */
    timer_fn fn;
    void *data;
};

/* Creates a loop. Returns NULL with errno set on failure. Free with loop_free(). */
struct loop *loop_new(void);

/* Frees the loop; watchers and timers still registered are simply forgotten. */
void loop_free(struct loop *loop);

/* Initialises w for fd with callback fn; does not register it. */
void watcher_init(struct watcher *w, int fd, watcher_fn fn, void *data);

/* Registers w for EPOLL* events (or changes them if registered). Returns 0 or -errno. */
int loop_watch(struct loop *loop, struct watcher *w, uint32_t events);

/* Unregisters w (safe from inside any callback, also for w's own pending events). Never fails. */
void loop_unwatch(struct loop *loop, struct watcher *w);

/* Initialises t with callback fn; it is inactive until timer_start(). */
void timer_init(struct timer *t, timer_fn fn, void *data);

/* (Re)arms t to fire once delay_ms from now. Returns 0 or -ENOMEM when the heap cannot grow. */
int timer_start(struct loop *loop, struct timer *t, uint64_t delay_ms);

/* Disarms t if active. Never fails. */
void timer_stop(struct loop *loop, struct timer *t);

/* True when t is armed. */
static inline bool timer_active(const struct timer *t)
{
    return t->heap_idx != 0;
}

/* Runs one iteration: waits for I/O or the next timer (never longer than max_wait_ms, -1 for no
 * limit), then dispatches. Returns 0 or -errno from epoll_wait (EINTR is returned as 0). */
int loop_run_once(struct loop *loop, int max_wait_ms);

/* Runs iterations until loop_stop() is called. Errors from epoll_wait are logged and retried. */
void loop_run(struct loop *loop);

/* Makes loop_run() return after the current iteration. */
void loop_stop(struct loop *loop);

/* Number of armed timers (for tests and idle checks). */
size_t loop_timer_count(const struct loop *loop);

#endif
