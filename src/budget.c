/* budget: rolling-window restart limit over a ring of the newest N failure times.
 * Invariant: ring[head .. head+count) (mod limit) is ascending. Appending `now` keeps it so because
 * every entry later than `now` (a backwards clock step) is first clamped to `now`. */
#include "budget.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t *slot(const struct budget *b, uint32_t i)
{
	return &b->ring[((uint64_t)b->head + i) % b->limit];
}

/* Outside (now - window, now]: at least `window` old. A future time is never expired. */
static bool expired(const struct budget *b, uint64_t t, uint64_t now)
{
	return t <= now && now - t >= b->window_ms;
}

static int check_args(uint32_t limit, uint64_t window_ms)
{
	if (limit > BUDGET_MAX_LIMIT || (limit > 0 && window_ms == 0))
		return -EINVAL;
	return 0;
}

int budget_init(struct budget *b, uint32_t limit, uint64_t window_ms)
{
	int r = check_args(limit, window_ms);

	memset(b, 0, sizeof *b);
	if (r < 0)
		return r;
	if (limit > 0) {
		b->ring = calloc(limit, sizeof *b->ring);
		if (!b->ring)
			return -ENOMEM;
	}
	b->limit = limit;
	b->window_ms = window_ms;
	return 0;
}

void budget_free(struct budget *b)
{
	free(b->ring);
	memset(b, 0, sizeof *b);
}

int budget_resize(struct budget *b, uint32_t limit, uint64_t window_ms)
{
	uint64_t *ring = NULL;
	uint32_t keep = b->count < limit ? b->count : limit;
	int r = check_args(limit, window_ms);

	if (r < 0)
		return r;
	if (limit > 0) {
		ring = calloc(limit, sizeof *ring);
		if (!ring)
			return -ENOMEM;
		for (uint32_t i = 0; i < keep; i++) /* the newest `keep` entries, in order */
			ring[i] = *slot(b, b->count - keep + i);
	}
	free(b->ring);
	b->ring = ring;
	b->limit = limit;
	b->window_ms = window_ms;
	b->head = 0;
	b->count = keep;
	return 0;
}

void budget_clear(struct budget *b)
{
	b->head = 0;
	b->count = 0;
}

/* Clamps future entries to now (they are the newest, at the tail) and drops expired ones (the
 * oldest, at the head). Afterwards every stored time lies in (now - window, now]. */
static void prune(struct budget *b, uint64_t now)
{
	for (uint32_t i = b->count; i > 0 && *slot(b, i - 1) > now; i--)
		*slot(b, i - 1) = now;
	while (b->count > 0 && expired(b, *slot(b, 0), now)) {
		b->head = (b->head + 1) % b->limit;
		b->count--;
	}
}

void budget_record(struct budget *b, uint64_t now_ms)
{
	if (b->limit == 0)
		return;
	prune(b, now_ms);
	if (b->count == b->limit) { /* full: overwrite the oldest */
		*slot(b, 0) = now_ms;
		b->head = (b->head + 1) % b->limit;
		return;
	}
	*slot(b, b->count) = now_ms;
	b->count++;
}

uint32_t budget_count(struct budget *b, uint64_t now_ms)
{
	if (b->limit == 0)
		return 0;
	prune(b, now_ms);
	return b->count;
}

bool budget_allows(struct budget *b, uint64_t now_ms)
{
	return b->limit == 0 || budget_count(b, now_ms) < b->limit;
}

uint64_t budget_next_allowed(struct budget *b, uint64_t now_ms)
{
	uint64_t oldest;

	if (budget_allows(b, now_ms))
		return now_ms;
	/* count == limit: the start is allowed once the oldest of them is `window` old */
	oldest = *slot(b, 0);
	return oldest > UINT64_MAX - b->window_ms ? UINT64_MAX : oldest + b->window_ms;
}

uint32_t budget_limit(const struct budget *b)
{
	return b->limit;
}

uint64_t budget_window_ms(const struct budget *b)
{
	return b->window_ms;
}

size_t budget_export(struct budget *b, uint64_t now_ms, uint64_t *out, size_t cap)
{
	uint32_t n = budget_count(b, now_ms);

	for (uint32_t i = 0; i < n && i < cap; i++)
		out[i] = *slot(b, i);
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

int budget_import(struct budget *b, const uint64_t *ts, size_t n, uint64_t now_ms)
{
	uint64_t *tmp;
	size_t k = 0, skip;

	if (b->limit == 0 || n == 0) {
		budget_clear(b);
		return 0;
	}
	if (n > SIZE_MAX / sizeof *tmp)
		return -ENOMEM;
	tmp = malloc(n * sizeof *tmp);
	if (!tmp)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint64_t t = ts[i] > now_ms ? now_ms : ts[i];

		if (!expired(b, t, now_ms))
			tmp[k++] = t;
	}
	qsort(tmp, k, sizeof *tmp, cmp_u64);
	skip = k > b->limit ? k - b->limit : 0; /* keep the newest N */
	budget_clear(b);
	for (size_t i = skip; i < k; i++)
		b->ring[b->count++] = tmp[i];
	free(tmp);
	return 0;
}
