#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    /* clock_gettime cannot fail for these clocks with a valid pointer (clock_gettime(2)). */
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t now_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

uint64_t wall_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

int fd_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* close_range(2) (Linux 5.9); fall back to a bounded loop on older kernels. */
static int close_span(unsigned lo, unsigned hi)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, lo, hi, 0) == 0)
        return 0;
    if (errno != ENOSYS && errno != EINVAL)
        return -errno;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (unsigned fd = lo; fd <= hi && fd < (unsigned)max; fd++)
        close((int)fd);
    return 0;
}

int fd_close_from(int lowfd, const int *keep, int n)
{
    int sorted[16];
    if (n < 0 || n > 16)
        return -EINVAL;
    for (int i = 0; i < n; i++)
        sorted[i] = keep[i];
    qsort(sorted, (size_t)n, sizeof sorted[0], cmp_int);
    unsigned lo = (unsigned)lowfd;
    for (int i = 0; i < n; i++) {
        if (sorted[i] < lowfd)
            continue;
        if ((unsigned)sorted[i] > lo) {
            int rc = close_span(lo, (unsigned)sorted[i] - 1);
            if (rc < 0)
                return rc;
        }
        lo = (unsigned)sorted[i] + 1;
    }
    return close_span(lo, UINT_MAX);
}
