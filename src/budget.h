/* budget: the restart limit `[restart] limit = N/window` of one service, a rolling window over
 * failure exits (cases P3, P4). Another start is allowed at time t while fewer than N failures
 * happened in (t - window, t]. Memory is bounded by N: a ring of the newest N failure times
 * (a failure older than those N can never matter, since N newer ones already fill the window).
 *
 * Clock: all times passed to one budget must come from the same clock, in ms. Unlike the rest of
 * nines this is meant to be the wall clock (CLOCK_REALTIME, ms since the epoch), because the
 * budget is persisted in the state file and must survive a restart of nines or a reboot, where
 * CLOCK_MONOTONIC starts again. Wall-clock steps are tolerated:
 * - backwards: failures "in the future" are treated as happening now (budget_record,
 *   budget_allows, budget_import clamp them). They count for at most one window after the step,
 *   never for as long as the step was.
 * - forwards: failures expire early. That only gives starts back; it never blocks a service.
 *
 * limit 0 means no limit: nothing is stored and every start is allowed.
 * Not thread-safe (nines has one thread). */
#ifndef NINES_BUDGET_H
#define NINES_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUDGET_MAX_LIMIT 100000u /* largest N accepted (ring of 800 KB) */

/* Fields are private; use the functions. Zero-initialised is a valid unlimited budget. */
struct budget {
	uint32_t limit;     /* N; 0 = unlimited */
	uint64_t window_ms; /* window length */
	uint64_t *ring;     /* limit slots, times ascending from head; NULL when limit == 0 */
	uint32_t head;      /* index of the oldest stored failure */
	uint32_t count;     /* stored failures, <= limit */
};

/* Sets up an empty budget of `limit` failures per `window_ms`. Returns 0, -EINVAL (limit >
 * BUDGET_MAX_LIMIT, or limit > 0 with window_ms 0), -ENOMEM. On error *b is unlimited and empty. */
int budget_init(struct budget *b, uint32_t limit, uint64_t window_ms);

/* Frees the ring; *b becomes an empty unlimited budget (safe to call twice). */
void budget_free(struct budget *b);

/* Changes N and the window (config reload), keeping the newest min(stored, limit) failures.
 * Returns 0, -EINVAL (as budget_init) or -ENOMEM; on error *b is unchanged. */
int budget_resize(struct budget *b, uint32_t limit, uint64_t window_ms);

/* Forgets every recorded failure (operator `start`/`recover` of a FATAL service). */
void budget_clear(struct budget *b);

/* Records a failure exit at now_ms. With N stored, the oldest is forgotten. */
void budget_record(struct budget *b, uint64_t now_ms);

/* Number of failures in (now_ms - window, now_ms]. Drops expired ones from the ring. */
uint32_t budget_count(struct budget *b, uint64_t now_ms);

/* True when another start is allowed at now_ms (budget_count < N, or no limit). */
bool budget_allows(struct budget *b, uint64_t now_ms);

/* Earliest time (ms, same clock) at which a start is allowed: now_ms when allowed already, else
 * the moment the oldest counted failure leaves the window (its time + window, saturating). For
 * "limit 10/1h reached, next allowed at ...". */
uint64_t budget_next_allowed(struct budget *b, uint64_t now_ms);

/* N of the limit (0: no limit), and the window length in ms, for status output. */
uint32_t budget_limit(const struct budget *b);
uint64_t budget_window_ms(const struct budget *b);

/* Copies the failures still in the window at now_ms, oldest first, into out[0..cap). Returns the
 * number of such failures (may exceed cap: then only the oldest cap were copied; call again with
 * a larger array, the count is at most budget_limit()). For the state file. */
size_t budget_export(struct budget *b, uint64_t now_ms, uint64_t *out, size_t cap);

/* Replaces the stored failures with ts[0..n) (any order, e.g. read from the state file): drops
 * those outside the window at now_ms, treats future ones as now_ms, keeps the newest N.
 * Returns 0 or -ENOMEM (then *b is unchanged). */
int budget_import(struct budget *b, const uint64_t *ts, size_t n, uint64_t now_ms);

#endif
