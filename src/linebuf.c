#include "linebuf.h"

#include <string.h>

void linebuf_init(struct linebuf *lb)
{
    lb->len = 0;
}

void linebuf_feed(struct linebuf *lb, const char *data, size_t n, line_fn fn, void *ctx)
{
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        size_t room = LINEBUF_MAX - lb->len;
        if (take > room) {
            /* The line does not fit: deliver the buffer filled up to LINEBUF_MAX as one piece,
             * marked as cut, and go on with the rest of the same line. A line of exactly
             * LINEBUF_MAX bytes stays whole: it is cut only when one more byte that is not its
             * newline arrives. */
            memcpy(lb->buf + lb->len, data, room);
            fn(ctx, lb->buf, LINEBUF_MAX, true, false);
            lb->len = 0;
            data += room;
            n -= room;
            continue;
        }
        if (!nl) {
            memcpy(lb->buf + lb->len, data, take);
            lb->len += take;
            return;
        }
        if (lb->len == 0) {
            fn(ctx, data, take, false, false); /* common case: no copy */
        } else {
            memcpy(lb->buf + lb->len, data, take);
            fn(ctx, lb->buf, lb->len + take, false, false);
            lb->len = 0;
        }
        data += take + 1;
        n -= take + 1;
    }
}

void linebuf_flush(struct linebuf *lb, line_fn fn, void *ctx)
{
    if (lb->len > 0)
        fn(ctx, lb->buf, lb->len, false, true);
    lb->len = 0;
}
