/* util: the clock and small fd helpers shared by every module. Owns nothing. */
#ifndef NINES_UTIL_H
#define NINES_UTIL_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: the only clock nines uses for timers and durations. */
uint64_t now_ms(void);

/* Milliseconds since the epoch (CLOCK_REALTIME): only for what is persisted or shown to people. */
uint64_t wall_ms(void);

/* Sets O_NONBLOCK on fd. Returns 0 or -errno. */
int fd_set_nonblock(int fd);

/* Closes every fd >= lowfd except those listed in keep (n entries, any order).
 * Uses close_range(2) where the kernel has it. Returns 0 or -errno. */
int fd_close_from(int lowfd, const int *keep, int n);

#endif
