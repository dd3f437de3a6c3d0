/* linebuf: line framing of a child's output stream. Owns a fixed buffer per stream (no growth,
 * so memory per service stays bounded whatever the child writes). Pure: bytes in, lines out. */
#ifndef NINES_LINEBUF_H
#define NINES_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>

enum { LINEBUF_MAX = 4096 }; /* longest line delivered whole, in bytes (without the newline) */

struct linebuf {
    char buf[LINEBUF_MAX];
    size_t len;
};

/* Called once per line, without its newline. `cut` is true when the line was longer than
 * LINEBUF_MAX and this piece ends at the cut (the rest follows in the next call); `partial` when
 * it is the unfinished last line flushed at EOF. */
typedef void (*line_fn)(void *ctx, const char *line, size_t len, bool cut, bool partial);

/* Empties lb. */
void linebuf_init(struct linebuf *lb);

/* Frames data[0..n): calls fn for every complete line; keeps an unfinished tail for later. A
 * line longer than LINEBUF_MAX is delivered in LINEBUF_MAX pieces, never dropped. */
void linebuf_feed(struct linebuf *lb, const char *data, size_t n, line_fn fn, void *ctx);

/* At EOF: delivers an unfinished last line (partial = true), if any, and empties lb. */
void linebuf_flush(struct linebuf *lb, line_fn fn, void *ctx);

#endif
