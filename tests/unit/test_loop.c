/* Unit tests for the timer heap and watcher bookkeeping of loop.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"

struct rec {
    int order[64];
    uint64_t due[64];
    int n;
};

struct tagged {
    struct timer t;
    int id;
    struct rec *rec;
};

static void on_fire(struct loop *loop, struct timer *t)
{
    (void)loop;
    struct tagged *x = t->data;
    x->rec->due[x->rec->n] = t->due_ms;
    x->rec->order[x->rec->n++] = x->id;
}

static void timers_fire_in_due_order(void **state)
{
    (void)state;
    struct loop *loop = loop_new();
    assert_non_null(loop);
    struct rec rec = {0};
    struct tagged tt[20];
    /* Delays in a scrambled order; all 0..19 ms so the test stays quick. */
    for (int i = 0; i < 20; i++) {
        tt[i].id = (i * 7) % 20;
        tt[i].rec = &rec;
        timer_init(&tt[i].t, on_fire, &tt[i]);
        assert_int_equal(timer_start(loop, &tt[i].t, (uint64_t)tt[i].id), 0);
    }
    assert_int_equal(loop_timer_count(loop), 20);
    while (loop_timer_count(loop) > 0)
        assert_int_equal(loop_run_once(loop, 50), 0);
    assert_int_equal(rec.n, 20);
    for (int i = 1; i < 20; i++)
        assert_true(rec.due[i - 1] <= rec.due[i]); /* ids may tie when the clock ticks */
    loop_free(loop);
}

static void stop_and_restart_keep_heap_valid(void **state)
{
    (void)state;
    struct loop *loop = loop_new();
    struct rec rec = {0};
    struct tagged tt[10];
    for (int i = 0; i < 10; i++) {
        tt[i].id = i;
        tt[i].rec = &rec;
        timer_init(&tt[i].t, on_fire, &tt[i]);
        timer_start(loop, &tt[i].t, 1000 + (uint64_t)i);
    }
    /* Stop the odd ones, re-arm the even ones to fire soon in reverse order. */
    for (int i = 1; i < 10; i += 2) {
        timer_stop(loop, &tt[i].t);
        assert_false(timer_active(&tt[i].t));
    }
    timer_stop(loop, &tt[1].t); /* stopping twice is harmless */
    for (int i = 0; i < 10; i += 2)
        timer_start(loop, &tt[i].t, (uint64_t)(10 - i));
    assert_int_equal(loop_timer_count(loop), 5);
    while (loop_timer_count(loop) > 0)
        loop_run_once(loop, 50);
    int expect[] = {8, 6, 4, 2, 0};
    assert_int_equal(rec.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(rec.order[i], expect[i]);
    loop_free(loop);
}

struct pair {
    struct watcher a, b;
    int fired_a, fired_b;
    struct loop *loop;
};

/* Whichever watcher runs first removes the other: its pending event must not be dispatched. */
static void on_ready(struct loop *loop, struct watcher *w, uint32_t ev)
{
    (void)ev;
    struct pair *p = w->data;
    if (w == &p->a) {
        p->fired_a++;
        loop_unwatch(loop, &p->b);
    } else {
        p->fired_b++;
        loop_unwatch(loop, &p->a);
    }
}

static void unwatch_cancels_pending_event(void **state)
{
    (void)state;
    struct pair p = {0};
    p.loop = loop_new();
    int fa[2], fb[2];
    assert_int_equal(pipe(fa), 0);
    assert_int_equal(pipe(fb), 0);
    assert_int_equal(write(fa[1], "x", 1), 1);
    assert_int_equal(write(fb[1], "x", 1), 1);
    watcher_init(&p.a, fa[0], on_ready, &p);
    watcher_init(&p.b, fb[0], on_ready, &p);
    assert_int_equal(loop_watch(p.loop, &p.a, EPOLLIN), 0);
    assert_int_equal(loop_watch(p.loop, &p.b, EPOLLIN), 0);
    loop_run_once(p.loop, 100);
    assert_int_equal(p.fired_a + p.fired_b, 1);
    for (int i = 0; i < 2; i++) {
        close(fa[i]);
        close(fb[i]);
    }
    loop_free(p.loop);
}

static void run_once_honours_max_wait(void **state)
{
    (void)state;
    struct loop *loop = loop_new();
    /* No watchers, no timers: returns after max_wait without error. */
    assert_int_equal(loop_run_once(loop, 1), 0);
    loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timers_fire_in_due_order),
        cmocka_unit_test(stop_and_restart_keep_heap_valid),
        cmocka_unit_test(unwatch_cancels_pending_event),
        cmocka_unit_test(run_once_honours_max_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
