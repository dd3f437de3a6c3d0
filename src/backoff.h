/* backoff: restart delay arithmetic for one service ([restart] delay, backoff, max_delay, jitter,
 * reset_after). Pure: no clock, no randomness source, no allocation. The caller passes how long
 * the instance was up and a uint32_t random value, so every result is reproducible in tests.
 *
 * Rules (design.md [restart], cases P1, P2, P5):
 * - The n-th consecutive failure (n = 0, 1, ...) waits delay * 2^n (exponential) or delay
 *   (fixed), capped at max_delay. Arithmetic saturates: huge n or delay never wrap.
 * - The cap is max(delay, max_delay): a cap below the first delay cannot shorten the first delay
 *   (systemd does the same for RestartMaxDelaySec=, unit_get_restart_usec()), so `fixed` always
 *   waits exactly `delay` before jitter.
 * - Jitter spreads the delay uniformly over [base - j, min(base + j, cap)] with
 *   j = base * jitter% / 100. It never goes below 0 (j <= base) and never above the cap. The range
 *   is cut at the cap instead of clamping the value, because clamping would put half of all
 *   capped delays on exactly max_delay and restart a herd of services in the same millisecond,
 *   which is what jitter is for.
 * - A base delay of 0 gives 0, whatever the jitter.
 * - An exit by design (exit 0 under policy always, case P5) is not a failure: it restarts after
 *   the first delay (jittered) and neither grows nor counts in the streak.
 * - An instance that was up (and healthy, when it has a health check) for at least reset_after
 *   ends the streak: the next failure waits the first delay again. */
#ifndef NINES_BACKOFF_H
#define NINES_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

enum backoff_kind {
	BACKOFF_FIXED,
	BACKOFF_EXPONENTIAL,
	BACKOFF_KIND_COUNT
};

struct backoff_policy {
	uint64_t delay_ms;       /* first delay */
	enum backoff_kind kind;  /* exponential doubles per consecutive failure */
	uint64_t max_delay_ms;   /* cap for growth and jitter; see max(delay, max_delay) above */
	unsigned jitter_pct;     /* 0..100; larger values are treated as 100 */
	uint64_t reset_after_ms; /* up this long ends the failure streak; 0: every run resets */
};

struct backoff_state {
	uint32_t attempts; /* consecutive failures in the current streak; saturates at UINT32_MAX */
};

/* Fills *p with the design defaults: delay 100ms, exponential, max_delay 5m, jitter 20%,
 * reset_after 10m. */
void backoff_policy_default(struct backoff_policy *p);

/* Name of a kind ("fixed", "exponential"); "?" for an out-of-range value. Static storage. */
const char *backoff_kind_name(enum backoff_kind kind);

/* Parses "fixed" or "exponential" into *out. Returns 0, or -EINVAL for anything else. */
int backoff_kind_parse(const char *s, enum backoff_kind *out);

/* Delay in ms before the restart that follows `attempt` earlier consecutive failures (0 for the
 * first restart), with jitter drawn from `rnd` (any uint32_t; the caller supplies randomness). */
uint64_t backoff_delay_ms(const struct backoff_policy *p, uint32_t attempt, uint32_t rnd);

/* Delay in ms before the next restart if the instance that just ended was a failure:
 * backoff_delay_ms(p, st->attempts, rnd). Does not change *st. */
uint64_t backoff_next_delay_ms(const struct backoff_policy *p, const struct backoff_state *st,
			       uint32_t rnd);

/* Counts one more failure in the streak (attempts++, saturating). */
void backoff_record_failure(struct backoff_state *st);

/* Ends the streak (attempts = 0). For an operator start/recover, or a new config. */
void backoff_reset(struct backoff_state *st);

/* Ends the streak when the instance has been up (and healthy) for at least reset_after ms. May be
 * called while it still runs (from a timer) or when it ends. Returns true when it reset. */
bool backoff_maybe_reset(const struct backoff_policy *p, struct backoff_state *st, uint64_t up_ms);

/* The whole decision when an instance ends and will be restarted: applies the reset rule with
 * up_ms (time up and healthy, 0 if it never was), then returns the delay in ms. A failure uses
 * the streak and extends it; a clean exit (failure = false) waits the first delay. */
uint64_t backoff_on_exit(const struct backoff_policy *p, struct backoff_state *st, uint64_t up_ms,
			 bool failure, uint32_t rnd);

#endif
