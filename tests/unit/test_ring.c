/* Unit tests for ring: round trip, eviction order, exact fits, wrap-around gaps, oversized lines,
 * followers falling behind, empty and tiny rings, and a randomised model check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

#define HDR ((size_t)RING_LINE_OVERHEAD)
#define T0 1700000000000ull /* a wall-clock time in ms, Nov 2023 */

/* Text of the line with seq s: any byte may appear, including NUL and '\n'. */
static void fill(char *dst, uint64_t s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        dst[i] = (char)((s * 131 + i * 7) & 0xff);
}

/* Pushes line s (its text from fill()) and checks it got seq s. */
static void push_seq(struct ring *r, uint64_t s, size_t len)
{
    char *text = malloc(len ? len : 1);
    assert_non_null(text);
    fill(text, s, len);
    assert_int_equal(ring_push(r, T0 + s, (uint8_t)(s & 1), 0, text, len), s);
    free(text);
}

/* Checks that line s is stored with len bytes of its fill() text. */
static void check_seq(const struct ring *r, uint64_t s, size_t len)
{
    struct ring_line l;
    char want[512];
    assert_true(len <= sizeof want);
    assert_true(ring_get(r, s, &l));
    assert_int_equal(l.seq, s);
    assert_int_equal(l.wall_ms, T0 + s);
    assert_int_equal(l.stream, s & 1);
    assert_int_equal(l.len, len);
    fill(want, s, len);
    if (len > 0)
        assert_memory_equal(l.data, want, len);
}

static void test_init_args(void **state)
{
    struct ring r;
    (void)state;
    assert_int_equal(ring_init(&r, RING_MIN_CAPACITY - 1), -EINVAL);
    assert_int_equal(ring_capacity(&r), 0);
    assert_int_equal(ring_push(&r, T0, 0, 0, "x", 1), 0); /* no storage: stores nothing */
    assert_int_equal(ring_count(&r), 0);
    ring_free(&r);
#if SIZE_MAX > UINT32_MAX
    assert_int_equal(ring_init(&r, RING_MAX_CAPACITY + 1), -EINVAL);
#endif
    assert_int_equal(ring_init(&r, 0), -EINVAL);
    assert_int_equal(ring_init(&r, 64 * 1024), 0);
    assert_int_equal(ring_capacity(&r), 64 * 1024);
    ring_free(&r);
    ring_free(&r); /* twice is fine */

    struct ring z = {0}; /* zeroed: valid, empty, no storage */
    assert_int_equal(ring_last_seq(&z), 0);
    assert_int_equal(ring_first_seq(&z), 1);
    assert_int_equal(ring_push(&z, T0, 0, 0, NULL, 0), 0);
    ring_free(&z);
}

static void test_empty(void **state)
{
    struct ring r;
    struct ring_line l;
    uint64_t lost = 99;
    (void)state;
    assert_int_equal(ring_init(&r, 1024), 0);
    assert_int_equal(ring_count(&r), 0);
    assert_int_equal(ring_bytes(&r), 0);
    assert_int_equal(ring_first_seq(&r), 1);
    assert_int_equal(ring_last_seq(&r), 0);
    assert_false(ring_get(&r, 0, &l));
    assert_false(ring_get(&r, 1, &l));
    assert_int_equal(ring_tail_start(&r, 10), 1);
    assert_int_equal(ring_tail_start(&r, 0), 1);
    assert_int_equal(ring_after(&r, 0, &lost), 1);
    assert_int_equal(lost, 0);
    ring_free(&r);
}

static void test_round_trip(void **state)
{
    struct ring r;
    struct ring_line l;
    (void)state;
    assert_int_equal(ring_init(&r, 1024), 0);
    assert_int_equal(ring_push(&r, T0, RING_STDOUT, 0, "hello", 5), 1);
    assert_int_equal(ring_push(&r, T0 + 1, RING_STDERR, RING_CUT, "a\0b\n\xff", 5), 2);
    assert_int_equal(ring_push(&r, T0 + 2, RING_STDOUT, RING_PARTIAL, NULL, 0), 3);
    assert_int_equal(ring_count(&r), 3);
    assert_int_equal(ring_bytes(&r), 3 * HDR + 10);
    assert_int_equal(ring_first_seq(&r), 1);
    assert_int_equal(ring_last_seq(&r), 3);

    assert_true(ring_get(&r, 1, &l));
    assert_int_equal(l.seq, 1);
    assert_int_equal(l.wall_ms, T0);
    assert_int_equal(l.stream, RING_STDOUT);
    assert_int_equal(l.flags, 0);
    assert_int_equal(l.len, 5);
    assert_memory_equal(l.data, "hello", 5);

    assert_true(ring_get(&r, 2, &l));
    assert_int_equal(l.wall_ms, T0 + 1);
    assert_int_equal(l.stream, RING_STDERR);
    assert_int_equal(l.flags, RING_CUT);
    assert_int_equal(l.len, 5);
    assert_memory_equal(l.data, "a\0b\n\xff", 5);

    assert_true(ring_get(&r, 3, &l));
    assert_int_equal(l.flags, RING_PARTIAL);
    assert_int_equal(l.len, 0);

    memset(&l, 0x5a, sizeof l);
    assert_false(ring_get(&r, 4, &l));
    assert_int_equal(l.seq, 0x5a5a5a5a5a5a5a5aull); /* untouched on a miss */
    assert_false(ring_get(&r, 0, &l));

    /* The full uint64_t time and every flag bit survive. */
    assert_int_equal(ring_push(&r, UINT64_MAX, 1, 0xff, "z", 1), 4);
    assert_true(ring_get(&r, 4, &l));
    assert_int_equal(l.wall_ms, UINT64_MAX);
    assert_int_equal(l.flags, 0xff);
    ring_free(&r);
}

static void test_eviction_order(void **state)
{
    struct ring r;
    struct ring_line l;
    (void)state;
    /* 10 records of 32 bytes fill 320 exactly; every further push evicts exactly the oldest. */
    assert_int_equal(ring_init(&r, 320), 0);
    for (uint64_t s = 1; s <= 10; s++)
        push_seq(&r, s, 32 - HDR);
    assert_int_equal(ring_count(&r), 10);
    assert_int_equal(ring_bytes(&r), 320);
    for (uint64_t s = 11; s <= 35; s++) {
        push_seq(&r, s, 32 - HDR);
        assert_int_equal(ring_count(&r), 10);
        assert_int_equal(ring_first_seq(&r), s - 9);
        assert_int_equal(ring_last_seq(&r), s);
        assert_false(ring_get(&r, s - 10, &l));
        for (uint64_t k = s - 9; k <= s; k++)
            check_seq(&r, k, 32 - HDR);
    }
    /* A line twice as big evicts the two oldest, not more. */
    push_seq(&r, 36, 64 - HDR);
    assert_int_equal(ring_count(&r), 9);
    assert_int_equal(ring_first_seq(&r), 28);
    assert_int_equal(ring_bytes(&r), 320);
    ring_free(&r);
}

static void test_exact_fit(void **state)
{
    struct ring r;
    struct ring_line l;
    (void)state;
    assert_int_equal(ring_init(&r, 100), 0);
    /* The longest line kept whole: capacity - overhead, not flagged. */
    push_seq(&r, 1, 100 - HDR);
    assert_true(ring_get(&r, 1, &l));
    assert_int_equal(l.flags, 0);
    check_seq(&r, 1, 100 - HDR);
    assert_int_equal(ring_bytes(&r), 100);
    /* Two records filling the buffer exactly, then one byte more than the free space. */
    push_seq(&r, 2, 50 - HDR);
    assert_int_equal(ring_count(&r), 1);
    push_seq(&r, 3, 50 - HDR);
    assert_int_equal(ring_count(&r), 2);
    assert_int_equal(ring_bytes(&r), 100);
    push_seq(&r, 4, 0); /* no room at all: evicts 2 */
    assert_int_equal(ring_first_seq(&r), 3);
    assert_int_equal(ring_bytes(&r), 50 + HDR);
    push_seq(&r, 5, 50 - 2 * HDR); /* fits exactly behind 4 */
    assert_int_equal(ring_count(&r), 3);
    assert_int_equal(ring_bytes(&r), 100);
    push_seq(&r, 6, 50 - 2 * HDR + 1); /* one byte too many: 3 goes, the upper half is free */
    assert_int_equal(ring_first_seq(&r), 4);
    check_seq(&r, 4, 0);
    check_seq(&r, 5, 50 - 2 * HDR);
    check_seq(&r, 6, 50 - 2 * HDR + 1);
    assert_int_equal(ring_bytes(&r), 100 - 50 + 50 + 1 - HDR);
    ring_free(&r);
}

static void test_wrap_with_gap(void **state)
{
    struct ring r;
    (void)state;
    /* 64 bytes: three 20-byte records leave 4 bytes at the end, too few for a fourth, which
     * goes to the start (evicting only line 1) and leaves a 4-byte gap. */
    assert_int_equal(ring_init(&r, 64), 0);
    for (uint64_t s = 1; s <= 3; s++)
        push_seq(&r, s, 20 - HDR);
    assert_int_equal(ring_bytes(&r), 60);
    push_seq(&r, 4, 20 - HDR);
    assert_int_equal(ring_count(&r), 3);
    assert_int_equal(ring_first_seq(&r), 2);
    assert_int_equal(ring_bytes(&r), 60);
    for (uint64_t s = 2; s <= 4; s++)
        check_seq(&r, s, 20 - HDR);
    /* A 24-byte record: [20, 40) holds line 2, and the gap does not count as free, so lines 2
     * and 3 go; the head then jumps over the gap to line 4 at offset 0. */
    push_seq(&r, 5, 24 - HDR);
    assert_int_equal(ring_count(&r), 2);
    assert_int_equal(ring_first_seq(&r), 4);
    assert_int_equal(ring_bytes(&r), 44);
    check_seq(&r, 4, 20 - HDR);
    check_seq(&r, 5, 24 - HDR);
    /* 20 bytes are left after line 5 ([44, 64)): an exact fit at the end, nothing evicted. */
    push_seq(&r, 6, 20 - HDR);
    assert_int_equal(ring_count(&r), 3);
    assert_int_equal(ring_bytes(&r), 64);
    for (uint64_t s = 7; s <= 200; s++) {
        push_seq(&r, s, (size_t)(s % 23)); /* sizes 14..36 keep wrapping at varied points */
        for (uint64_t k = ring_first_seq(&r); k <= s; k++)
            check_seq(&r, k, (size_t)(k % 23));
    }
    ring_free(&r);
}

static void test_oversized_line(void **state)
{
    struct ring r;
    struct ring_line l;
    char big[300];
    (void)state;
    fill(big, 3, sizeof big);
    assert_int_equal(ring_init(&r, 64), 0);
    push_seq(&r, 1, 10);
    push_seq(&r, 2, 10);
    assert_int_equal(ring_push(&r, T0 + 3, RING_STDERR, RING_CUT, big, sizeof big), 3);
    assert_int_equal(ring_count(&r), 1); /* everything else made room */
    assert_true(ring_get(&r, 3, &l));
    assert_int_equal(l.len, 64 - HDR);
    assert_int_equal(l.flags, RING_CUT | RING_TRUNC);
    assert_int_equal(l.stream, RING_STDERR);
    assert_memory_equal(l.data, big, 64 - HDR); /* the start is kept */
    assert_int_equal(ring_bytes(&r), 64);
    /* One byte over the limit is cut too. */
    assert_int_equal(ring_push(&r, T0, 0, 0, big, 64 - HDR + 1), 4);
    assert_true(ring_get(&r, 4, &l));
    assert_int_equal(l.len, 64 - HDR);
    assert_int_equal(l.flags, RING_TRUNC);
    /* Normal lines come back after it. */
    push_seq(&r, 5, 5);
    push_seq(&r, 6, 5);
    assert_int_equal(ring_first_seq(&r), 5);
    check_seq(&r, 5, 5);
    ring_free(&r);
}

static void test_tail_start(void **state)
{
    struct ring r;
    (void)state;
    assert_int_equal(ring_init(&r, 256), 0);
    for (uint64_t s = 1; s <= 40; s++)
        push_seq(&r, s, 2); /* 16 bytes each: 16 fit */
    assert_int_equal(ring_count(&r), 16);
    assert_int_equal(ring_first_seq(&r), 25);
    assert_int_equal(ring_tail_start(&r, 0), 41);
    assert_int_equal(ring_tail_start(&r, 1), 40);
    assert_int_equal(ring_tail_start(&r, 10), 31);
    assert_int_equal(ring_tail_start(&r, 16), 25);
    assert_int_equal(ring_tail_start(&r, 1000), 25);
    ring_free(&r);
}

static void test_followers(void **state)
{
    struct ring r;
    struct ring_line l;
    uint64_t lost;
    (void)state;
    assert_int_equal(ring_init(&r, 160), 0);
    for (uint64_t s = 1; s <= 5; s++)
        push_seq(&r, s, 2); /* 16 bytes each: 10 fit */
    /* A follower that saw everything waits; one that saw line 3 reads 4 and 5. */
    assert_int_equal(ring_after(&r, 5, &lost), 6);
    assert_int_equal(lost, 0);
    assert_false(ring_get(&r, 6, &l));
    assert_int_equal(ring_after(&r, 3, &lost), 4);
    assert_int_equal(lost, 0);
    assert_int_equal(ring_after(&r, 0, &lost), 1); /* from the beginning, nothing lost yet */
    assert_int_equal(lost, 0);
    assert_int_equal(ring_after(&r, 77, &lost), 6); /* ahead of the ring: waits for new lines */
    assert_int_equal(lost, 0);

    for (uint64_t s = 6; s <= 30; s++)
        push_seq(&r, s, 2);
    assert_int_equal(ring_first_seq(&r), 21);
    /* Saw up to 3: 4..20 (17 lines) were evicted unseen; it resumes at 21. */
    assert_int_equal(ring_after(&r, 3, &lost), 21);
    assert_int_equal(lost, 17);
    assert_int_equal(ring_after(&r, 20, &lost), 21); /* just in time */
    assert_int_equal(lost, 0);
    assert_int_equal(ring_after(&r, 25, NULL), 26);

    /* A slow follower reading 3 lines per 5 pushed: seen + lost always accounts for every line,
     * in order, without duplicates. */
    uint64_t last = 30, seen = 0, missed = 0, expect = 31;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 5; i++)
            push_seq(&r, ring_last_seq(&r) + 1, (size_t)(round % 7));
        uint64_t s = ring_after(&r, last, &lost);
        missed += lost;
        assert_int_equal(s, expect + lost);
        for (int i = 0; i < 3 && ring_get(&r, s, &l); i++, s++) {
            assert_int_equal(l.seq, s);
            last = s;
            seen++;
        }
        expect = last + 1;
    }
    assert_int_equal(seen + missed, last - 30);
    assert_true(missed > 0);
    ring_free(&r);
}

static void test_tiny(void **state)
{
    struct ring r;
    struct ring_line l;
    (void)state;
    assert_int_equal(ring_init(&r, RING_MIN_CAPACITY), 0);
    for (uint64_t s = 1; s <= 500; s++) {
        size_t len = (size_t)((s * 7) % 40); /* 0..39, some over the 18-byte limit */
        char text[40];
        fill(text, s, len);
        assert_int_equal(ring_push(&r, T0 + s, 0, 0, text, len), s);
        assert_true(ring_bytes(&r) <= RING_MIN_CAPACITY);
        assert_true(ring_count(&r) >= 1 && ring_count(&r) <= RING_MIN_CAPACITY / HDR);
        assert_true(ring_get(&r, s, &l));
        size_t want = len > RING_MIN_CAPACITY - HDR ? RING_MIN_CAPACITY - HDR : len;
        assert_int_equal(l.len, want);
        assert_int_equal(l.flags, want < len ? RING_TRUNC : 0);
        if (want)
            assert_memory_equal(l.data, text, want);
    }
    /* 64 bytes: at most four empty lines (4 * 14 = 56). */
    ring_free(&r);
    assert_int_equal(ring_init(&r, 64), 0);
    for (uint64_t s = 1; s <= 20; s++)
        push_seq(&r, s, 0);
    assert_int_equal(ring_count(&r), 4);
    assert_int_equal(ring_first_seq(&r), 17);
    ring_free(&r);
}

/* The model check: after each push the ring holds a suffix of what was pushed (contiguous seqs
 * ending at the newest, each line intact), within capacity, and it evicted only what it had to:
 * had the most recently evicted line been kept, less than two records' worth (the one wrap gap
 * plus one unusable free piece) would have been left. */
static void check_model(const struct ring *r, size_t cap, const size_t *lens, uint64_t n,
                        size_t max_rec)
{
    uint64_t first = ring_first_seq(r);
    assert_int_equal(ring_last_seq(r), n);
    assert_true(ring_count(r) >= 1);
    assert_int_equal(first + ring_count(r) - 1, n);
    size_t bytes = 0;
    for (uint64_t s = first; s <= n; s++) {
        size_t len = lens[s - 1] > cap - HDR ? cap - HDR : lens[s - 1];
        check_seq(r, s, len);
        bytes += HDR + len;
    }
    assert_int_equal(ring_bytes(r), bytes);
    assert_true(bytes <= cap);
    if (first > 1) {
        size_t len = lens[first - 2] > cap - HDR ? cap - HDR : lens[first - 2];
        assert_true(bytes + HDR + len + 2 * max_rec > cap);
    }
}

static void random_run(size_t cap, size_t max_len, uint64_t pushes, unsigned seed, int every)
{
    struct ring r;
    size_t *lens = calloc(pushes, sizeof *lens);
    char *text = malloc(max_len + 1);
    assert_non_null(lens);
    assert_non_null(text);
    srand(seed);
    assert_int_equal(ring_init(&r, cap), 0);
    size_t max_rec = 0;
    for (uint64_t s = 1; s <= pushes; s++) {
        /* Mostly short lines with a long tail, like real logs; sometimes empty or huge. */
        size_t len = (size_t)rand() % (max_len / 8 + 1);
        if (rand() % 10 == 0)
            len = (size_t)rand() % (max_len + 1);
        lens[s - 1] = len;
        size_t rec = HDR + (len > cap - HDR ? cap - HDR : len);
        if (rec > max_rec)
            max_rec = rec;
        fill(text, s, len);
        assert_int_equal(ring_push(&r, T0 + s, (uint8_t)(s & 1), 0, text, len), s);
        if (s % (uint64_t)every == 0 || s == pushes)
            check_model(&r, cap, lens, s, max_rec);
    }
    ring_free(&r);
    free(text);
    free(lens);
}

static void test_random(void **state)
{
    (void)state;
    random_run(64, 100, 3000, 1, 1);
    random_run(100, 60, 3000, 2, 1);
    random_run(1000, 200, 5000, 3, 1);
    random_run(1000, 500, 5000, 4, 1); /* some lines over capacity */
    random_run(4096, 400, 10000, 5, 3);
    random_run(64 * 1024, 500, 40000, 6, 101);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_args),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_eviction_order),
        cmocka_unit_test(test_exact_fit),
        cmocka_unit_test(test_wrap_with_gap),
        cmocka_unit_test(test_oversized_line),
        cmocka_unit_test(test_tail_start),
        cmocka_unit_test(test_followers),
        cmocka_unit_test(test_tiny),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
