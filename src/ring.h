/* ring: the last lines of one service's output, kept in memory for `ninesctl log NAME [-n N] [-f]`
 * and the last-lines part of `status NAME`. Owns one buffer, allocated once at init and never
 * grown, so memory per service stays fixed whatever the child writes. Pure: no clock, no I/O.
 *
 * - Bounded by bytes: a line costs RING_LINE_OVERHEAD + its length. A new line evicts the oldest
 *   whole lines until it fits. Every record is stored in one piece (a record that does not fit
 *   before the end of the buffer goes to the start and leaves a gap), so a line is always one
 *   pointer + length. The gap (smaller than one record) is the only space lost.
 * - A line longer than capacity - RING_LINE_OVERHEAD is cut to that length and flagged
 *   RING_TRUNC; it is never dropped.
 * - Every pushed line gets the next sequence number (1, 2, ...; never reused). Stored lines always
 *   have contiguous seqs first..last. A follower remembers the last seq it read and asks for the
 *   lines after it; ring_after() says how many it missed because they were evicted.
 * - Lookups by seq are O(1): a table of record offsets lives in the same allocation, sized for
 *   the most lines that can fit. Footprint: capacity + 4 * (capacity / RING_LINE_OVERHEAD) bytes
 *   (about 82 KiB for a 64 KiB ring). */
#ifndef NINES_RING_H
#define NINES_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    RING_LINE_OVERHEAD = 14, /* bytes per stored line besides its text: time, length, stream, flags */
    RING_MIN_CAPACITY = 32,  /* smallest capacity ring_init() accepts, in bytes */
};
#define RING_MAX_CAPACITY ((size_t)UINT32_MAX) /* largest capacity (offsets are 32-bit) */

enum ring_stream { RING_STDOUT = 0, RING_STDERR = 1 };

/* Line flags (a bit set). RING_CUT and RING_PARTIAL come from the line framing (linebuf);
 * RING_TRUNC is added by ring_push() itself. */
enum {
    RING_CUT = 1u << 0,     /* the line was split because it was too long; the rest follows */
    RING_PARTIAL = 1u << 1, /* last line of the stream, without a newline at EOF */
    RING_TRUNC = 1u << 2,   /* longer than the ring could hold: the end was dropped */
};

/* A view of one stored line. `data` points into the ring (not NUL-terminated, may contain any
 * byte) and stays valid only until the next ring_push() or ring_free(). */
struct ring_line {
    uint64_t seq;
    uint64_t wall_ms; /* wall-clock time in ms, as given to ring_push() */
    const char *data;
    size_t len;
    uint8_t stream; /* enum ring_stream */
    uint8_t flags;  /* RING_CUT | RING_PARTIAL | RING_TRUNC */
};

/* All fields are private: use the functions below. A zeroed struct ring is a valid empty ring
 * without storage (ring_push() on it stores nothing). */
struct ring {
    char *buf;       /* cap bytes of records; the offset table sits just before it */
    uint32_t *slots; /* circular table of record offsets, nslots entries, owns the allocation */
    size_t cap;      /* bytes in buf */
    size_t nslots;   /* most records that can fit: cap / RING_LINE_OVERHEAD */
    size_t head;     /* slot of the oldest line */
    size_t count;    /* lines stored */
    size_t used;     /* bytes of buf taken by stored records (gap excluded) */
    size_t tail;     /* offset just past the newest record */
    uint64_t pushed; /* lines ever pushed = seq of the newest; the oldest stored is pushed + 1 - count */
};

/* Sets r up with `capacity` bytes of line storage, in one allocation. r must not hold storage.
 * Returns 0, -EINVAL when capacity is outside [RING_MIN_CAPACITY, RING_MAX_CAPACITY], or -ENOMEM;
 * on error r is a valid empty ring without storage (ring_free() is harmless). */
int ring_init(struct ring *r, size_t capacity);

/* Frees r's storage and leaves it empty; safe to call twice or after a failed ring_init(). */
void ring_free(struct ring *r);

/* Appends a line of `len` bytes (data may be NULL when len is 0), evicting the oldest lines as
 * needed. wall_ms: wall-clock ms (CLOCK_REALTIME, shown to users, unlike the monotonic times
 * elsewhere). Returns the line's seq (>= 1); 0 only when r has no storage. Amortised O(1). */
uint64_t ring_push(struct ring *r, uint64_t wall_ms, uint8_t stream, uint8_t flags,
                   const char *data, size_t len);

/* Seq of the oldest stored line; ring_last_seq(r) + 1 when the ring is empty. */
uint64_t ring_first_seq(const struct ring *r);

/* Seq of the newest line ever pushed; 0 when nothing was pushed yet. */
uint64_t ring_last_seq(const struct ring *r);

/* Seq to start from to read the last n stored lines (all when n >= ring_count()); with n == 0,
 * or an empty ring, ring_last_seq(r) + 1, so that reading up to ring_last_seq() gives nothing. */
uint64_t ring_tail_start(const struct ring *r, size_t n);

/* For a follower that has read up to seq `after`: returns the first seq it should read now
 * (ring_last_seq(r) + 1 when there is nothing new) and sets *lost (if not NULL) to how many lines
 * after `after` were evicted before it could read them. */
uint64_t ring_after(const struct ring *r, uint64_t after, uint64_t *lost);

/* Fills *out with a view of line `seq`. Returns false (out untouched) when seq is not stored,
 * i.e. outside [ring_first_seq(), ring_last_seq()]. O(1). */
bool ring_get(const struct ring *r, uint64_t seq, struct ring_line *out);

/* Number of lines stored. */
size_t ring_count(const struct ring *r);

/* Bytes of storage taken by the stored lines, RING_LINE_OVERHEAD each included; <= capacity. */
size_t ring_bytes(const struct ring *r);

/* Capacity given to ring_init(), in bytes; 0 without storage. */
size_t ring_capacity(const struct ring *r);

#endif
