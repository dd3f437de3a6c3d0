/* Unit tests for line framing: whole lines, split reads, long lines, partial last line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "linebuf.h"

struct got {
    char text[4 * LINEBUF_MAX + 64];
    size_t len;
    int lines, cuts, partials;
};

/* Rebuilds the stream: newline after whole lines and partial ones, nothing after a cut piece. */
static void collect(void *ctx, const char *line, size_t len, bool cut, bool partial)
{
    struct got *g = ctx;
    memcpy(g->text + g->len, line, len);
    g->len += len;
    if (!cut)
        g->text[g->len++] = '\n';
    g->lines++;
    g->cuts += cut;
    g->partials += partial;
}

static void whole_and_split_reads(void **state)
{
    (void)state;
    struct linebuf lb;
    struct got g = {0};
    linebuf_init(&lb);
    const char *in = "one\ntwo\nthr";
    linebuf_feed(&lb, in, strlen(in), collect, &g);
    assert_int_equal(g.lines, 2);
    linebuf_feed(&lb, "ee\n\n", 4, collect, &g);
    assert_int_equal(g.lines, 4); /* "three" and an empty line */
    assert_memory_equal(g.text, "one\ntwo\nthree\n\n", g.len);
    linebuf_flush(&lb, collect, &g);
    assert_int_equal(g.partials, 0);
}

static void byte_by_byte_equals_whole(void **state)
{
    (void)state;
    const char *in = "alpha\nbeta gamma\n\xff\xfe binary\x01\nend";
    struct linebuf lb;
    struct got g = {0};
    linebuf_init(&lb);
    for (size_t i = 0; i < strlen(in); i++)
        linebuf_feed(&lb, in + i, 1, collect, &g);
    linebuf_flush(&lb, collect, &g);
    assert_int_equal(g.lines, 4);
    assert_int_equal(g.partials, 1);
    assert_memory_equal(g.text, "alpha\nbeta gamma\n\xff\xfe binary\x01\nend\n", g.len);
}

static void long_line_is_split_never_lost(void **state)
{
    (void)state;
    size_t n = 2 * LINEBUF_MAX + 100;
    char *in = malloc(n + 1);
    assert_non_null(in);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)('a' + i % 26);
    in[n] = '\n';
    struct linebuf lb;
    struct got g = {0};
    linebuf_init(&lb);
    linebuf_feed(&lb, in, 10, collect, &g); /* start buffered, then the rest */
    linebuf_feed(&lb, in + 10, n + 1 - 10, collect, &g);
    assert_int_equal(g.cuts, 2);
    assert_int_equal(g.lines, 3);
    assert_int_equal(g.len, n + 1);
    assert_memory_equal(g.text, in, n + 1);
    free(in);
}

static void exact_max_line(void **state)
{
    (void)state;
    char in[LINEBUF_MAX + 1];
    memset(in, 'x', LINEBUF_MAX);
    in[LINEBUF_MAX] = '\n';
    struct linebuf lb;
    struct got g = {0};
    linebuf_init(&lb);
    linebuf_feed(&lb, in, sizeof in, collect, &g);
    linebuf_flush(&lb, collect, &g);
    /* Exactly LINEBUF_MAX bytes still fit: one whole line, no cut. */
    assert_int_equal(g.cuts, 0);
    assert_int_equal(g.lines, 1);
    assert_int_equal(g.len, LINEBUF_MAX + 1);
    assert_memory_equal(g.text, in, sizeof in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_and_split_reads),
        cmocka_unit_test(byte_by_byte_equals_whole),
        cmocka_unit_test(long_line_is_split_never_lost),
        cmocka_unit_test(exact_max_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
