/* backoff: restart delay arithmetic. See backoff.h for the rules. */
#include "backoff.h"

#include <errno.h>
#include <string.h>

static const char *const kind_names[] = {
	[BACKOFF_FIXED] = "fixed",
	[BACKOFF_EXPONENTIAL] = "exponential",
};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == BACKOFF_KIND_COUNT,
	       "kind_names must name every enum backoff_kind");

void backoff_policy_default(struct backoff_policy *p)
{
	p->delay_ms = 100;
	p->kind = BACKOFF_EXPONENTIAL;
	p->max_delay_ms = 5 * 60 * 1000;
	p->jitter_pct = 20;
	p->reset_after_ms = 10 * 60 * 1000;
}

const char *backoff_kind_name(enum backoff_kind kind)
{
	if ((unsigned)kind >= BACKOFF_KIND_COUNT)
		return "?";
	return kind_names[kind];
}

int backoff_kind_parse(const char *s, enum backoff_kind *out)
{
	for (unsigned i = 0; i < BACKOFF_KIND_COUNT; i++) {
		if (strcmp(s, kind_names[i]) == 0) {
			*out = (enum backoff_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

static uint64_t cap_of(const struct backoff_policy *p)
{
	return p->max_delay_ms > p->delay_ms ? p->max_delay_ms : p->delay_ms;
}

/* delay * 2^attempt, saturating at cap. delay << n <= cap exactly when delay <= cap >> n, which
 * tests the product without computing it (no overflow for any delay or attempt). */
static uint64_t base_delay(const struct backoff_policy *p, uint32_t attempt)
{
	uint64_t cap = cap_of(p);

	if (p->kind != BACKOFF_EXPONENTIAL || p->delay_ms == 0)
		return p->delay_ms;
	if (attempt >= 64 || p->delay_ms > (cap >> attempt))
		return cap;
	return p->delay_ms << attempt;
}

/* floor(rnd * n / 2^32), a value in [0, n) for n > 0, without 128-bit arithmetic: split n into
 * its high and low 32-bit halves. rnd * hi < 2^64 because hi < 2^32. */
static uint64_t scale_u32(uint32_t rnd, uint64_t n)
{
	uint64_t hi = n >> 32, lo = n & 0xffffffffu;

	return (uint64_t)rnd * hi + (((uint64_t)rnd * lo) >> 32);
}

/* percent of v, v * pct / 100 without overflow (pct <= 100). */
static uint64_t percent_of(uint64_t v, unsigned pct)
{
	return v / 100 * pct + v % 100 * pct / 100;
}

uint64_t backoff_delay_ms(const struct backoff_policy *p, uint32_t attempt, uint32_t rnd)
{
	uint64_t base = base_delay(p, attempt), cap = cap_of(p);
	unsigned pct = p->jitter_pct > 100 ? 100 : p->jitter_pct;
	uint64_t j = percent_of(base, pct);
	uint64_t lo = base - j;                         /* j <= base: never below 0 */
	uint64_t hi = (j > cap - base) ? cap : base + j; /* base <= cap: no overflow */
	uint64_t span = hi - lo;

	if (span == 0)
		return lo;
	/* span + 1 values; at span == UINT64_MAX the last value is unreachable, which is harmless */
	return lo + scale_u32(rnd, span == UINT64_MAX ? span : span + 1);
}

uint64_t backoff_next_delay_ms(const struct backoff_policy *p, const struct backoff_state *st,
			       uint32_t rnd)
{
	return backoff_delay_ms(p, st->attempts, rnd);
}

void backoff_record_failure(struct backoff_state *st)
{
	/* saturate: wrapping to 0 would silently restart a crash loop at the first delay */
	if (st->attempts < UINT32_MAX)
		st->attempts++;
}

void backoff_reset(struct backoff_state *st)
{
	st->attempts = 0;
}

bool backoff_maybe_reset(const struct backoff_policy *p, struct backoff_state *st, uint64_t up_ms)
{
	if (up_ms < p->reset_after_ms)
		return false;
	st->attempts = 0;
	return true;
}

uint64_t backoff_on_exit(const struct backoff_policy *p, struct backoff_state *st, uint64_t up_ms,
			 bool failure, uint32_t rnd)
{
	uint64_t d;

	backoff_maybe_reset(p, st, up_ms);
	if (!failure)
		return backoff_delay_ms(p, 0, rnd); /* P5: exits by design do not grow the delay */
	d = backoff_delay_ms(p, st->attempts, rnd);
	backoff_record_failure(st);
	return d;
}
