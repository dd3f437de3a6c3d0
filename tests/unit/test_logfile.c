/* Unit tests for the log file sink: rotation boundaries, retention, FIFOs, timestamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logfile.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/nines-logfile-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* One record written through: append to the batch, then flush it (what capture does at the
 * end of each read burst). Returns the first error. */
static int wr(struct logfile *lf, const char *buf, size_t len, uint64_t now)
{
    int rc = logfile_write(lf, buf, len, now);
    int rf = logfile_flush(lf, now);
    return rc ? rc : rf;
}

static off_t size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void rotation_keeps_max_files_and_bounds_total(void **state)
{
    (void)state;
    char path[128], p1[140], p3[140], p4[140];
    snprintf(path, sizeof path, "%s/svc.log", dir);
    snprintf(p1, sizeof p1, "%s.1", path);
    snprintf(p3, sizeof p3, "%s.3", path);
    snprintf(p4, sizeof p4, "%s.4", path);
    struct logfile lf;
    assert_int_equal(logfile_init(&lf, path, 100, 3), 0);
    char line[10];
    memset(line, 'x', 9);
    line[9] = '\n';
    for (int i = 0; i < 10; i++) /* exactly 100 bytes: fits, no rotation yet */
        assert_int_equal(wr(&lf, line, 10, 0), 0);
    assert_int_equal(size_of(path), 100);
    assert_int_equal(size_of(p1), -1);
    assert_int_equal(wr(&lf, line, 10, 0), 0); /* the 101st byte rotates first */
    assert_int_equal(size_of(path), 10);
    assert_int_equal(size_of(p1), 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(wr(&lf, line, 10, 0), 0);
    assert_true(size_of(p3) == 100);
    assert_int_equal(size_of(p4), -1); /* never more than max_files rotated files */
    assert_int_equal(lf.dropped, 0);
    logfile_free(&lf);
}

static void batched_records_rotate_between_records(void **state)
{
    (void)state;
    char path[128], p1[140];
    snprintf(path, sizeof path, "%s/batch.log", dir);
    snprintf(p1, sizeof p1, "%s.1", path);
    struct logfile lf;
    assert_int_equal(logfile_init(&lf, path, 100, 1), 0);
    char line[10];
    memset(line, 'z', 9);
    line[9] = '\n';
    for (int i = 0; i < 15; i++) /* one burst, no flush in between */
        assert_int_equal(logfile_write(&lf, line, 10, 0), 0);
    assert_int_equal(logfile_flush(&lf, 0), 0);
    /* The first 100 bytes went to the old file before the rotation, the rest to the new one. */
    assert_int_equal(size_of(p1), 100);
    assert_int_equal(size_of(path), 50);
    logfile_free(&lf);
}

static void fifo_is_never_rotated_and_never_blocks(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    struct logfile lf;
    /* No reader yet: open fails with ENXIO, lines are dropped and counted, nothing blocks. */
    assert_int_equal(logfile_init(&lf, path, 10, 1), 0);
    assert_int_equal(wr(&lf, "a\n", 2, 0), -ENXIO);
    assert_int_equal(lf.dropped, 1);
    int rd = open(path, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    /* Retried only after LOGFILE_RETRY_MS. */
    assert_true(wr(&lf, "b\n", 2, 1) < 0);
    assert_int_equal(wr(&lf, "c\n", 2, LOGFILE_RETRY_MS + 1), 0);
    for (int i = 0; i < 20; i++) /* far past max_size: a FIFO is never renamed */
        assert_int_equal(wr(&lf, "0123456789\n", 11, LOGFILE_RETRY_MS + 1), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    /* Fill the pipe: EAGAIN drops lines instead of blocking. */
    char big[4096];
    memset(big, 'y', sizeof big);
    int rc = 0;
    for (int i = 0; i < 64 && rc == 0; i++)
        rc = wr(&lf, big, sizeof big, LOGFILE_RETRY_MS + 1);
    assert_int_equal(rc, -EAGAIN);
    close(rd);
    logfile_free(&lf);
}

static void timestamps_are_iso8601_with_ms_and_zone(void **state)
{
    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    struct tsfmt c = {0};
    char buf[40];
    size_t n = tsfmt_format(&c, 1795988026123ull, buf);
    assert_string_equal(buf, "2026-11-29T21:33:46.123+00:00");
    assert_int_equal(n, strlen(buf));
    tsfmt_format(&c, 1795988026999ull, buf); /* same second: cached */
    assert_string_equal(buf, "2026-11-29T21:33:46.999+00:00");
    setenv("TZ", "Asia/Kolkata", 1);
    tzset();
    struct tsfmt d = {0};
    tsfmt_format(&d, 1795988027005ull, buf);
    if (strcmp(buf + 23, "+00:00")) /* tzdata present */
        assert_string_equal(buf, "2026-11-30T03:03:47.005+05:30");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rotation_keeps_max_files_and_bounds_total),
        cmocka_unit_test(batched_records_rotate_between_records),
        cmocka_unit_test(fifo_is_never_rotated_and_never_blocks),
        cmocka_unit_test(timestamps_are_iso8601_with_ms_and_zone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
