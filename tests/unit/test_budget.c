/* Unit tests for budget: rolling window edges, N=1, large N, ring wrap, clock steps, resize,
 * export/import. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "budget.h"

#define HOUR_MS 3600000ull
#define DAY_MS (24 * HOUR_MS)
#define T0 1700000000000ull /* a wall-clock time in ms, Nov 2023 */

static void test_init_args(void **state)
{
	struct budget b;

	(void)state;
	assert_int_equal(budget_init(&b, BUDGET_MAX_LIMIT + 1, 1000), -EINVAL);
	assert_int_equal(budget_limit(&b), 0);
	assert_true(budget_allows(&b, T0));
	assert_int_equal(budget_init(&b, 5, 0), -EINVAL);
	assert_int_equal(budget_init(&b, 0, 0), 0); /* no limit */
	budget_free(&b);
	assert_int_equal(budget_init(&b, 10, HOUR_MS), 0);
	assert_int_equal(budget_limit(&b), 10);
	assert_int_equal(budget_window_ms(&b), HOUR_MS);
	budget_free(&b);
	budget_free(&b); /* twice is fine */
}

static void test_unlimited(void **state)
{
	struct budget b = { 0 }; /* zero-initialised: unlimited */

	(void)state;
	for (int i = 0; i < 1000; i++)
		budget_record(&b, T0 + (uint64_t)i);
	assert_true(budget_allows(&b, T0 + 1000));
	assert_int_equal(budget_count(&b, T0 + 1000), 0);
	assert_int_equal(budget_next_allowed(&b, T0 + 1000), T0 + 1000);
	assert_int_equal(budget_export(&b, T0, NULL, 0), 0);
	uint64_t ts[] = { T0 };
	assert_int_equal(budget_import(&b, ts, 1, T0), 0);
	assert_int_equal(budget_count(&b, T0), 0);
	budget_free(&b);
}

static void test_window_edges(void **state)
{
	struct budget b;

	(void)state;
	assert_int_equal(budget_init(&b, 3, 1000), 0);
	budget_record(&b, T0);
	budget_record(&b, T0 + 100);
	assert_true(budget_allows(&b, T0 + 100));
	budget_record(&b, T0 + 200);
	assert_int_equal(budget_count(&b, T0 + 200), 3);
	assert_false(budget_allows(&b, T0 + 200));
	assert_int_equal(budget_next_allowed(&b, T0 + 200), T0 + 1000);
	/* (t - window, t]: the failure at T0 still counts 999 ms later ... */
	assert_false(budget_allows(&b, T0 + 999));
	assert_int_equal(budget_count(&b, T0 + 999), 3);
	/* ... and leaves exactly `window` later */
	assert_true(budget_allows(&b, T0 + 1000));
	assert_int_equal(budget_count(&b, T0 + 1000), 2);
	assert_int_equal(budget_next_allowed(&b, T0 + 1000), T0 + 1000);
	assert_int_equal(budget_count(&b, T0 + 1199), 1);
	assert_int_equal(budget_count(&b, T0 + 1200), 0);
	budget_free(&b);
}

static void test_n_equals_one(void **state)
{
	struct budget b;

	(void)state;
	assert_int_equal(budget_init(&b, 1, HOUR_MS), 0);
	assert_true(budget_allows(&b, T0));
	budget_record(&b, T0);
	assert_false(budget_allows(&b, T0));
	assert_false(budget_allows(&b, T0 + HOUR_MS - 1));
	assert_int_equal(budget_next_allowed(&b, T0 + 5), T0 + HOUR_MS);
	assert_true(budget_allows(&b, T0 + HOUR_MS));
	budget_record(&b, T0 + HOUR_MS);
	budget_record(&b, T0 + HOUR_MS + 10); /* full ring: the newest replaces the oldest */
	assert_int_equal(budget_count(&b, T0 + HOUR_MS + 10), 1);
	assert_int_equal(budget_next_allowed(&b, T0 + HOUR_MS + 10), T0 + 2 * HOUR_MS + 10);
	budget_free(&b);
}

static void test_p3_limit_counts_every_failure(void **state)
{
	/* P3: exits 1 after 3 s, limit 10/1h: the 11th start in the window does not happen */
	struct budget b;
	uint64_t t = T0;
	int starts = 0;

	(void)state;
	assert_int_equal(budget_init(&b, 10, HOUR_MS), 0);
	while (budget_allows(&b, t) && starts < 100) {
		starts++;
		t += 3000; /* runs 3 s, then fails */
		budget_record(&b, t);
		t += 1000; /* restart delay */
	}
	assert_int_equal(starts, 10);
	assert_int_equal(budget_next_allowed(&b, t), T0 + 3000 + HOUR_MS);
	budget_free(&b);
}

static void test_large_n(void **state)
{
	const uint32_t n = BUDGET_MAX_LIMIT;
	struct budget b;

	(void)state;
	assert_int_equal(budget_init(&b, n, DAY_MS), 0);
	for (uint32_t i = 0; i < n; i++) {
		assert_true(budget_allows(&b, T0 + i));
		budget_record(&b, T0 + i);
	}
	assert_false(budget_allows(&b, T0 + n));
	assert_int_equal(budget_next_allowed(&b, T0 + n), T0 + DAY_MS);
	/* k + 1 failures have left the window at T0 + DAY + k */
	assert_int_equal(budget_count(&b, T0 + DAY_MS), n - 1);
	assert_int_equal(budget_count(&b, T0 + DAY_MS + 499), n - 500);
	assert_int_equal(budget_count(&b, T0 + DAY_MS + n), 0);
	/* wrap the ring many times: memory stays N, count stays N */
	for (uint32_t i = 0; i < 3 * n + 17; i++)
		budget_record(&b, T0 + 2 * DAY_MS + i);
	assert_int_equal(budget_count(&b, T0 + 2 * DAY_MS + 3 * n + 16), n);
	assert_int_equal(budget_next_allowed(&b, T0 + 2 * DAY_MS + 3 * n + 16),
			 T0 + 3 * DAY_MS + 2 * n + 17);
	budget_free(&b);
}

static void test_ring_wrap_export_order(void **state)
{
	struct budget b;
	uint64_t out[8] = { 0 };

	(void)state;
	assert_int_equal(budget_init(&b, 3, 1000000), 0);
	for (uint64_t i = 1; i <= 5; i++)
		budget_record(&b, T0 + i * 10);
	assert_int_equal(budget_export(&b, T0 + 50, out, 8), 3);
	assert_int_equal(out[0], T0 + 30);
	assert_int_equal(out[1], T0 + 40);
	assert_int_equal(out[2], T0 + 50);
	/* a short array gets the oldest, the return value says how many there are */
	out[0] = out[1] = 0;
	assert_int_equal(budget_export(&b, T0 + 50, out, 1), 3);
	assert_int_equal(out[0], T0 + 30);
	assert_int_equal(out[1], 0);
	/* expired ones are not exported */
	assert_int_equal(budget_export(&b, T0 + 30 + 1000000, out, 8), 2);
	assert_int_equal(out[0], T0 + 40);
	budget_free(&b);
}

static void test_import(void **state)
{
	struct budget b;
	uint64_t out[8];
	/* unsorted, one expired, one exactly at the window edge (expired), one in the future */
	const uint64_t ts[] = { T0 - 500, T0 - HOUR_MS - 1, T0 + 60000, T0 - HOUR_MS,
				T0 - 100, T0 - HOUR_MS + 1 };

	(void)state;
	assert_int_equal(budget_init(&b, 10, HOUR_MS), 0);
	budget_record(&b, T0 - 7); /* replaced by the import */
	assert_int_equal(budget_import(&b, ts, sizeof ts / sizeof ts[0], T0), 0);
	assert_int_equal(budget_export(&b, T0, out, 8), 4);
	assert_int_equal(out[0], T0 - HOUR_MS + 1);
	assert_int_equal(out[1], T0 - 500);
	assert_int_equal(out[2], T0 - 100);
	assert_int_equal(out[3], T0); /* the future one counts as now */
	/* the rest of the API works on the imported ring; T0 - HOUR + 1 leaves at T0 + 1 */
	assert_int_equal(budget_count(&b, T0), 4);
	budget_record(&b, T0 + 1);
	assert_int_equal(budget_count(&b, T0 + 1), 4);
	assert_int_equal(budget_count(&b, T0 + HOUR_MS - 500), 3);

	/* more than N: the newest N are kept */
	assert_int_equal(budget_resize(&b, 2, HOUR_MS), 0);
	assert_int_equal(budget_import(&b, ts, sizeof ts / sizeof ts[0], T0), 0);
	assert_int_equal(budget_export(&b, T0, out, 8), 2);
	assert_int_equal(out[0], T0 - 100);
	assert_int_equal(out[1], T0);
	assert_false(budget_allows(&b, T0));
	assert_int_equal(budget_next_allowed(&b, T0), T0 - 100 + HOUR_MS);

	assert_int_equal(budget_import(&b, NULL, 0, T0), 0); /* empty import empties */
	assert_int_equal(budget_count(&b, T0), 0);
	budget_free(&b);
}

static void test_round_trip(void **state)
{
	struct budget a, b;
	uint64_t out[16], back[16];
	size_t n;

	(void)state;
	assert_int_equal(budget_init(&a, 16, DAY_MS), 0);
	assert_int_equal(budget_init(&b, 16, DAY_MS), 0);
	for (uint64_t i = 0; i < 20; i++)
		budget_record(&a, T0 + i * HOUR_MS);
	n = budget_export(&a, T0 + 20 * HOUR_MS, out, 16);
	assert_int_equal(n, 16);
	assert_int_equal(budget_import(&b, out, n, T0 + 20 * HOUR_MS), 0);
	assert_int_equal(budget_export(&b, T0 + 20 * HOUR_MS, back, 16), 16);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(back[i], out[i]);
	/* imported later (nines was down for 10 h): the old ones are gone */
	assert_int_equal(budget_import(&b, out, n, T0 + 30 * HOUR_MS), 0);
	assert_int_equal(budget_count(&b, T0 + 30 * HOUR_MS), 13);
	budget_free(&a);
	budget_free(&b);
}

static void test_clock_steps_back(void **state)
{
	struct budget b;
	uint64_t out[4];

	(void)state;
	assert_int_equal(budget_init(&b, 3, HOUR_MS), 0);
	budget_record(&b, T0 + DAY_MS);
	budget_record(&b, T0 + DAY_MS + 5);
	/* the wall clock steps back a day: those failures count as "now" ... */
	assert_int_equal(budget_count(&b, T0), 2);
	budget_record(&b, T0 + 10);
	assert_false(budget_allows(&b, T0 + 10));
	assert_int_equal(budget_export(&b, T0 + 10, out, 4), 3);
	assert_int_equal(out[0], T0);
	assert_int_equal(out[1], T0);
	assert_int_equal(out[2], T0 + 10);
	/* ... for one window, not for the day the clock jumped */
	assert_true(budget_allows(&b, T0 + HOUR_MS));
	assert_int_equal(budget_count(&b, T0 + HOUR_MS + 10), 0);
	budget_free(&b);
}

static void test_resize(void **state)
{
	struct budget b;
	uint64_t out[8];

	(void)state;
	assert_int_equal(budget_init(&b, 4, HOUR_MS), 0);
	for (uint64_t i = 1; i <= 6; i++) /* wraps: stored T0+30..T0+60 */
		budget_record(&b, T0 + i * 10);
	assert_int_equal(budget_resize(&b, 2, HOUR_MS), 0);
	assert_int_equal(budget_export(&b, T0 + 60, out, 8), 2);
	assert_int_equal(out[0], T0 + 50);
	assert_int_equal(out[1], T0 + 60);
	assert_int_equal(budget_resize(&b, 8, 2 * HOUR_MS), 0);
	assert_int_equal(budget_window_ms(&b), 2 * HOUR_MS);
	assert_int_equal(budget_export(&b, T0 + 60, out, 8), 2);
	budget_record(&b, T0 + 70);
	assert_int_equal(budget_count(&b, T0 + 70), 3);
	assert_int_equal(budget_resize(&b, 8, 0), -EINVAL); /* unchanged */
	assert_int_equal(budget_resize(&b, BUDGET_MAX_LIMIT + 1, 5), -EINVAL);
	assert_int_equal(budget_count(&b, T0 + 70), 3);
	assert_int_equal(budget_resize(&b, 0, 0), 0); /* limit removed */
	assert_true(budget_allows(&b, T0 + 70));
	assert_int_equal(budget_count(&b, T0 + 70), 0);
	budget_free(&b);
}

static void test_clear_and_saturation(void **state)
{
	struct budget b;

	(void)state;
	assert_int_equal(budget_init(&b, 1, UINT64_MAX - 5), 0);
	budget_record(&b, T0);
	assert_int_equal(budget_next_allowed(&b, T0), UINT64_MAX);
	budget_clear(&b);
	assert_true(budget_allows(&b, T0));
	budget_record(&b, 0); /* time 0 and a huge window: no underflow */
	assert_false(budget_allows(&b, 0));
	assert_false(budget_allows(&b, T0));
	assert_int_equal(budget_next_allowed(&b, T0), UINT64_MAX - 5);
	budget_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_args),
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_window_edges),
		cmocka_unit_test(test_n_equals_one),
		cmocka_unit_test(test_p3_limit_counts_every_failure),
		cmocka_unit_test(test_large_n),
		cmocka_unit_test(test_ring_wrap_export_order),
		cmocka_unit_test(test_import),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_clock_steps_back),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_clear_and_saturation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
