#include "ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Record layout in buf, byte-packed (records are not aligned, so fields go through memcpy):
 *   [0..8)  wall_ms  uint64_t
 *   [8..12) len      uint32_t
 *   [12]    stream   uint8_t
 *   [13]    flags    uint8_t
 *   [14..)  len bytes of text */
enum { OFF_WALL = 0, OFF_LEN = 8, OFF_STREAM = 12, OFF_FLAGS = 13 };
_Static_assert(OFF_FLAGS + 1 == RING_LINE_OVERHEAD, "record header layout");

int ring_init(struct ring *r, size_t capacity)
{
    memset(r, 0, sizeof *r);
    if (capacity < RING_MIN_CAPACITY || capacity > RING_MAX_CAPACITY)
        return -EINVAL;
    /* Every record takes at least RING_LINE_OVERHEAD bytes and records never overlap, so no
     * more than capacity / RING_LINE_OVERHEAD of them can be stored at once. */
    size_t nslots = capacity / RING_LINE_OVERHEAD;
    if (nslots > (SIZE_MAX - capacity) / sizeof(uint32_t))
        return -ENOMEM; /* only reachable where size_t is 32-bit */
    /* Offsets first: malloc's alignment then suits uint32_t; the byte area needs none. */
    uint32_t *mem = malloc(nslots * sizeof(uint32_t) + capacity);
    if (!mem)
        return -ENOMEM;
    r->slots = mem;
    r->buf = (char *)(mem + nslots);
    r->cap = capacity;
    r->nslots = nslots;
    return 0;
}

void ring_free(struct ring *r)
{
    free(r->slots);
    memset(r, 0, sizeof *r);
}

static size_t record_len(const struct ring *r, size_t off)
{
    uint32_t len;
    memcpy(&len, r->buf + off + OFF_LEN, sizeof len);
    return len;
}

static void evict_oldest(struct ring *r)
{
    r->used -= RING_LINE_OVERHEAD + record_len(r, r->slots[r->head]);
    r->head = (r->head + 1) % r->nslots;
    r->count--;
}

/* Finds where a record of sz bytes (sz <= cap) goes, evicting the oldest lines until one of the
 * free regions can hold it in one piece. Stored records run from the oldest's offset h to tail,
 * wrapping at most once:
 *   tail >  h: [h, tail) is taken; free are [tail, cap) and, by wrapping, [0, h).
 *   tail <= h: [h, gap) and [0, tail) are taken; free is [tail, h) only (the gap between the
 *              record ending the upper part and cap comes back once the head passes it). */
static size_t place(struct ring *r, size_t sz)
{
    for (;;) {
        if (r->count == 0)
            return 0;
        /* A full offset table means a full buffer (every record takes at least
         * RING_LINE_OVERHEAD bytes), so evicting is then the right move anyway. */
        if (r->count < r->nslots) {
            size_t h = r->slots[r->head];
            if (r->tail > h) {
                if (r->cap - r->tail >= sz)
                    return r->tail;
                if (h >= sz)
                    return 0;
            } else if (h - r->tail >= sz) {
                return r->tail;
            }
        }
        evict_oldest(r);
    }
}

uint64_t ring_push(struct ring *r, uint64_t wall_ms, uint8_t stream, uint8_t flags,
                   const char *data, size_t len)
{
    if (!r->buf)
        return 0;
    if (len > r->cap - RING_LINE_OVERHEAD) {
        len = r->cap - RING_LINE_OVERHEAD;
        flags |= RING_TRUNC;
    }
    size_t sz = RING_LINE_OVERHEAD + len;
    size_t off = place(r, sz);
    char *rec = r->buf + off;
    uint32_t len32 = (uint32_t)len; /* len < cap <= UINT32_MAX */
    memcpy(rec + OFF_WALL, &wall_ms, sizeof wall_ms);
    memcpy(rec + OFF_LEN, &len32, sizeof len32);
    rec[OFF_STREAM] = (char)stream;
    rec[OFF_FLAGS] = (char)flags;
    if (len > 0)
        memcpy(rec + RING_LINE_OVERHEAD, data, len);
    r->slots[(r->head + r->count) % r->nslots] = (uint32_t)off;
    r->count++;
    r->used += sz;
    r->tail = off + sz;
    return ++r->pushed;
}

uint64_t ring_first_seq(const struct ring *r)
{
    return r->pushed + 1 - r->count;
}

uint64_t ring_last_seq(const struct ring *r)
{
    return r->pushed;
}

uint64_t ring_tail_start(const struct ring *r, size_t n)
{
    if (n > r->count)
        n = r->count;
    return r->pushed + 1 - n;
}

uint64_t ring_after(const struct ring *r, uint64_t after, uint64_t *lost)
{
    uint64_t first = ring_first_seq(r);
    uint64_t start = after >= r->pushed ? r->pushed + 1 : after + 1;
    uint64_t missed = 0;
    if (start < first) {
        missed = first - start;
        start = first;
    }
    if (lost)
        *lost = missed;
    return start;
}

bool ring_get(const struct ring *r, uint64_t seq, struct ring_line *out)
{
    uint64_t first = ring_first_seq(r);
    if (seq < first || seq > r->pushed)
        return false;
    size_t off = r->slots[(r->head + (size_t)(seq - first)) % r->nslots];
    const char *rec = r->buf + off;
    uint32_t len32;
    out->seq = seq;
    memcpy(&out->wall_ms, rec + OFF_WALL, sizeof out->wall_ms);
    memcpy(&len32, rec + OFF_LEN, sizeof len32);
    out->len = len32;
    out->stream = (uint8_t)rec[OFF_STREAM];
    out->flags = (uint8_t)rec[OFF_FLAGS];
    out->data = rec + RING_LINE_OVERHEAD;
    return true;
}

size_t ring_count(const struct ring *r)
{
    return r->count;
}

size_t ring_bytes(const struct ring *r)
{
    return r->used;
}

size_t ring_capacity(const struct ring *r)
{
    return r->cap;
}
