/* Unit tests for backoff: delay sequences, cap, jitter bounds, reset, clean exits, overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "backoff.h"

#define MIN_MS 60000ull

static struct backoff_policy policy(uint64_t delay, enum backoff_kind kind, uint64_t max,
				    unsigned jitter)
{
	struct backoff_policy p;

	backoff_policy_default(&p);
	p.delay_ms = delay;
	p.kind = kind;
	p.max_delay_ms = max;
	p.jitter_pct = jitter;
	return p;
}

/* deterministic pseudo-random stream (xorshift32) for the many-values tests */
static uint32_t next_rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void test_defaults(void **state)
{
	struct backoff_policy p;

	(void)state;
	backoff_policy_default(&p);
	assert_int_equal(p.delay_ms, 100);
	assert_int_equal(p.kind, BACKOFF_EXPONENTIAL);
	assert_int_equal(p.max_delay_ms, 5 * MIN_MS);
	assert_int_equal(p.jitter_pct, 20);
	assert_int_equal(p.reset_after_ms, 10 * MIN_MS);
}

static void test_kind_names(void **state)
{
	enum backoff_kind k = BACKOFF_FIXED;

	(void)state;
	assert_string_equal(backoff_kind_name(BACKOFF_FIXED), "fixed");
	assert_string_equal(backoff_kind_name(BACKOFF_EXPONENTIAL), "exponential");
	assert_string_equal(backoff_kind_name(BACKOFF_KIND_COUNT), "?");
	assert_int_equal(backoff_kind_parse("exponential", &k), 0);
	assert_int_equal(k, BACKOFF_EXPONENTIAL);
	assert_int_equal(backoff_kind_parse("fixed", &k), 0);
	assert_int_equal(k, BACKOFF_FIXED);
	assert_int_equal(backoff_kind_parse("linear", &k), -EINVAL);
	assert_int_equal(backoff_kind_parse("", &k), -EINVAL);
}

static void test_exponential_sequence(void **state)
{
	struct backoff_policy p = policy(100, BACKOFF_EXPONENTIAL, 5 * MIN_MS, 0);
	static const uint64_t want[] = { 100,   200,    400,    800,    1600,   3200,
					 6400,  12800,  25600,  51200,  102400, 204800,
					 300000, 300000, 300000 };

	(void)state;
	for (uint32_t n = 0; n < sizeof want / sizeof want[0]; n++)
		assert_int_equal(backoff_delay_ms(&p, n, 12345), want[n]);
}

static void test_fixed_sequence(void **state)
{
	struct backoff_policy p = policy(1500, BACKOFF_FIXED, 5 * MIN_MS, 0);

	(void)state;
	for (uint32_t n = 0; n < 100; n++)
		assert_int_equal(backoff_delay_ms(&p, n, n * 7919u), 1500);
	assert_int_equal(backoff_delay_ms(&p, UINT32_MAX, 0), 1500);
}

static void test_cap_below_first_delay(void **state)
{
	/* cap = max(delay, max_delay): a too-small max_delay never shortens the first delay */
	struct backoff_policy fx = policy(10 * MIN_MS, BACKOFF_FIXED, 5 * MIN_MS, 0);
	struct backoff_policy ex = policy(10 * MIN_MS, BACKOFF_EXPONENTIAL, 5 * MIN_MS, 0);

	(void)state;
	assert_int_equal(backoff_delay_ms(&fx, 0, 0), 10 * MIN_MS);
	assert_int_equal(backoff_delay_ms(&fx, 9, 0), 10 * MIN_MS);
	assert_int_equal(backoff_delay_ms(&ex, 0, 0), 10 * MIN_MS);
	assert_int_equal(backoff_delay_ms(&ex, 5, 0), 10 * MIN_MS);
}

static void test_cap_exact(void **state)
{
	/* delay * 2^n landing exactly on the cap is not over it */
	struct backoff_policy p = policy(1000, BACKOFF_EXPONENTIAL, 8000, 0);

	(void)state;
	assert_int_equal(backoff_delay_ms(&p, 2, 0), 4000);
	assert_int_equal(backoff_delay_ms(&p, 3, 0), 8000);
	assert_int_equal(backoff_delay_ms(&p, 4, 0), 8000);
	p.max_delay_ms = 7999;
	assert_int_equal(backoff_delay_ms(&p, 3, 0), 7999);
}

static void test_zero_delay(void **state)
{
	struct backoff_policy ex = policy(0, BACKOFF_EXPONENTIAL, 5 * MIN_MS, 100);
	struct backoff_policy fx = policy(0, BACKOFF_FIXED, 0, 100);
	uint32_t s = 1;

	(void)state;
	for (uint32_t n = 0; n < 70; n++) {
		assert_int_equal(backoff_delay_ms(&ex, n, next_rnd(&s)), 0);
		assert_int_equal(backoff_delay_ms(&fx, n, next_rnd(&s)), 0);
	}
	assert_int_equal(backoff_delay_ms(&ex, UINT32_MAX, UINT32_MAX), 0);
}

static void check_jitter_bounds(const struct backoff_policy *p, uint32_t attempt, uint64_t lo,
				uint64_t hi)
{
	uint32_t s = 0x9e3779b9u;
	uint64_t seen_min = UINT64_MAX, seen_max = 0;

	assert_int_equal(backoff_delay_ms(p, attempt, 0), lo);
	assert_true(backoff_delay_ms(p, attempt, UINT32_MAX) <= hi);
	for (int i = 0; i < 100000; i++) {
		uint64_t d = backoff_delay_ms(p, attempt, next_rnd(&s));

		assert_in_range(d, lo, hi);
		seen_min = d < seen_min ? d : seen_min;
		seen_max = d > seen_max ? d : seen_max;
	}
	/* the spread is used, not just one end */
	assert_true(seen_min < lo + (hi - lo) / 100 + 1);
	assert_true(seen_max + (hi - lo) / 100 + 1 > hi);
}

static void test_jitter_bounds(void **state)
{
	struct backoff_policy p = policy(1000, BACKOFF_EXPONENTIAL, 5 * MIN_MS, 20);

	(void)state;
	check_jitter_bounds(&p, 0, 800, 1200);
	check_jitter_bounds(&p, 3, 6400, 9600);
	/* near the cap: the upper side is cut at max_delay, never above it */
	check_jitter_bounds(&p, 8, 256000 - 51200, 5 * MIN_MS);
	check_jitter_bounds(&p, 20, 240000, 5 * MIN_MS);
	p.jitter_pct = 100;
	check_jitter_bounds(&p, 0, 0, 2000);
	p.jitter_pct = 250; /* treated as 100: never below 0 */
	check_jitter_bounds(&p, 0, 0, 2000);
	p.jitter_pct = 1;
	check_jitter_bounds(&p, 0, 990, 1010);
}

static void test_jitter_extremes_exact(void **state)
{
	/* small spans: rnd 0 gives the low end, rnd UINT32_MAX the high end */
	struct backoff_policy p = policy(100, BACKOFF_FIXED, 5 * MIN_MS, 20);

	(void)state;
	assert_int_equal(backoff_delay_ms(&p, 0, 0), 80);
	assert_int_equal(backoff_delay_ms(&p, 0, UINT32_MAX), 120);
	assert_int_equal(backoff_delay_ms(&p, 0, 1u << 31), 100); /* middle */
	p.jitter_pct = 0;
	assert_int_equal(backoff_delay_ms(&p, 0, UINT32_MAX), 100);
	p.delay_ms = 4; /* 20% of 4 is 0.8, rounds down to 0: no jitter, no surprise */
	assert_int_equal(backoff_delay_ms(&p, 0, UINT32_MAX), 4);
}

static void test_jitter_symmetric_mean(void **state)
{
	struct backoff_policy p = policy(10000, BACKOFF_FIXED, 5 * MIN_MS, 20);
	uint32_t s = 42;
	uint64_t sum = 0;
	const int n = 200000;

	(void)state;
	for (int i = 0; i < n; i++)
		sum += backoff_delay_ms(&p, 0, next_rnd(&s));
	assert_in_range(sum / (uint64_t)n, 9950, 10050);
}

static void test_jitter_at_cap_not_clamped_in_one_point(void **state)
{
	/* capped delays spread over [cap - j, cap] instead of piling up on exactly max_delay */
	struct backoff_policy p = policy(1000, BACKOFF_EXPONENTIAL, 60000, 20);
	uint32_t s = 7;
	int at_cap = 0;

	(void)state;
	for (int i = 0; i < 10000; i++)
		at_cap += backoff_delay_ms(&p, 30, next_rnd(&s)) == 60000;
	assert_true(at_cap < 100);
}

static void test_overflow_huge(void **state)
{
	struct backoff_policy p = policy(UINT64_MAX / 3, BACKOFF_EXPONENTIAL, UINT64_MAX, 100);
	uint32_t s = 99;

	(void)state;
	assert_int_equal(backoff_delay_ms(&p, 0, 0), 0);
	for (int i = 0; i < 1000; i++) /* [0, 2 * delay] without wrapping past UINT64_MAX */
		assert_true(backoff_delay_ms(&p, 0, next_rnd(&s)) <= UINT64_MAX / 3 * 2);
	for (uint32_t n = 1; n < 200; n++) /* capped at UINT64_MAX, 100%: [0, UINT64_MAX] */
		assert_true(backoff_delay_ms(&p, n, UINT32_MAX) > UINT64_MAX / 2);
	p.jitter_pct = 0;
	assert_int_equal(backoff_delay_ms(&p, 1, 0), UINT64_MAX / 3 * 2);
	assert_int_equal(backoff_delay_ms(&p, 2, 0), UINT64_MAX);
	assert_int_equal(backoff_delay_ms(&p, 63, 0), UINT64_MAX);
	assert_int_equal(backoff_delay_ms(&p, 64, 0), UINT64_MAX);
	assert_int_equal(backoff_delay_ms(&p, UINT32_MAX, 0), UINT64_MAX);

	/* 1 ms doubling: 2^62 fits, 2^63 fits, 2^64 does not */
	p = policy(1, BACKOFF_EXPONENTIAL, UINT64_MAX, 0);
	assert_int_equal(backoff_delay_ms(&p, 62, 0), 1ull << 62);
	assert_int_equal(backoff_delay_ms(&p, 63, 0), 1ull << 63);
	assert_int_equal(backoff_delay_ms(&p, 64, 0), UINT64_MAX);
	/* maximal jitter span [0, UINT64_MAX] */
	p = policy(UINT64_MAX, BACKOFF_FIXED, UINT64_MAX, 100);
	assert_int_equal(backoff_delay_ms(&p, 0, 0), 0);
	assert_true(backoff_delay_ms(&p, 0, UINT32_MAX) > UINT64_MAX / 2);

	p = policy(300000, BACKOFF_EXPONENTIAL, 5 * MIN_MS, 20);
	for (uint32_t n = UINT32_MAX - 100; n != 0; n++)
		assert_in_range(backoff_delay_ms(&p, n, n), 240000, 300000);
}

static void test_attempts_saturate(void **state)
{
	struct backoff_state st = { UINT32_MAX - 1 };

	(void)state;
	backoff_record_failure(&st);
	assert_int_equal(st.attempts, UINT32_MAX);
	backoff_record_failure(&st);
	assert_int_equal(st.attempts, UINT32_MAX);
}

static void test_reset(void **state)
{
	struct backoff_policy p = policy(100, BACKOFF_EXPONENTIAL, 5 * MIN_MS, 0);
	struct backoff_state st = { 0 };

	(void)state;
	for (int i = 0; i < 5; i++)
		backoff_record_failure(&st);
	assert_int_equal(backoff_next_delay_ms(&p, &st, 0), 3200);
	assert_false(backoff_maybe_reset(&p, &st, 10 * MIN_MS - 1));
	assert_int_equal(st.attempts, 5);
	assert_true(backoff_maybe_reset(&p, &st, 10 * MIN_MS)); /* exactly reset_after */
	assert_int_equal(st.attempts, 0);
	assert_int_equal(backoff_next_delay_ms(&p, &st, 0), 100);

	st.attempts = 3;
	backoff_reset(&st);
	assert_int_equal(st.attempts, 0);

	p.reset_after_ms = 0; /* every run resets */
	st.attempts = 3;
	assert_true(backoff_maybe_reset(&p, &st, 0));
	assert_int_equal(st.attempts, 0);
}

static void test_on_exit_failures(void **state)
{
	/* P1: a crash loop follows first delay, factor 2, cap */
	struct backoff_policy p = policy(1000, BACKOFF_EXPONENTIAL, 16000, 0);
	struct backoff_state st = { 0 };
	static const uint64_t want[] = { 1000, 2000, 4000, 8000, 16000, 16000, 16000 };

	(void)state;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		assert_int_equal(backoff_on_exit(&p, &st, 2000, true, 0), want[i]);
		assert_int_equal(st.attempts, i + 1);
	}
	/* up long enough: the streak ends, this failure starts a new one */
	assert_int_equal(backoff_on_exit(&p, &st, 10 * MIN_MS, true, 0), 1000);
	assert_int_equal(st.attempts, 1);
	assert_int_equal(backoff_on_exit(&p, &st, 5, true, 0), 2000);
}

static void test_on_exit_clean(void **state)
{
	/* P5: exits by design restart at the first delay, with no growth */
	struct backoff_policy p = policy(1000, BACKOFF_EXPONENTIAL, 5 * MIN_MS, 20);
	struct backoff_state st = { 0 };
	uint32_t s = 5;

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_in_range(backoff_on_exit(&p, &st, 20000, false, next_rnd(&s)), 800, 1200);
	assert_int_equal(st.attempts, 0);

	/* a clean exit neither grows nor ends a failure streak (unless up reset_after) */
	st.attempts = 4;
	p.jitter_pct = 0;
	assert_int_equal(backoff_on_exit(&p, &st, 20000, false, 0), 1000);
	assert_int_equal(st.attempts, 4);
	assert_int_equal(backoff_on_exit(&p, &st, 10 * MIN_MS, false, 0), 1000);
	assert_int_equal(st.attempts, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_exponential_sequence),
		cmocka_unit_test(test_fixed_sequence),
		cmocka_unit_test(test_cap_below_first_delay),
		cmocka_unit_test(test_cap_exact),
		cmocka_unit_test(test_zero_delay),
		cmocka_unit_test(test_jitter_bounds),
		cmocka_unit_test(test_jitter_extremes_exact),
		cmocka_unit_test(test_jitter_symmetric_mean),
		cmocka_unit_test(test_jitter_at_cap_not_clamped_in_one_point),
		cmocka_unit_test(test_overflow_huge),
		cmocka_unit_test(test_attempts_saturate),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_on_exit_failures),
		cmocka_unit_test(test_on_exit_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
