#include "proctree.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pp {
    pid_t pid, ppid;
};

/* Reads /proc/PID/stat into buf and returns a pointer just past the ")" that ends the comm
 * field (comm may itself hold spaces and parentheses, proc(5)), or NULL with errno: ESRCH when
 * the process is gone, else why it could not be read (EMFILE: nines is out of fds, which says
 * nothing about the process). */
static const char *read_stat(pid_t pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            errno = ESRCH;
        return NULL;
    }
    ssize_t n = read(fd, buf, len - 1);
    int err = n < 0 ? errno : ESRCH; /* a process reaped under our read reads as empty */
    close(fd);
    if (n <= 0) {
        errno = err;
        return NULL;
    }
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    if (!rp)
        errno = EINVAL;
    return rp ? rp + 1 : NULL;
}

static int scan_all(struct pp **out, size_t *n)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    size_t cap = 256, cnt = 0;
    struct pp *v = malloc(cap * sizeof *v);
    if (!v) {
        closedir(d);
        return -ENOMEM;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(de->d_name);
        char buf[512];
        const char *rest = read_stat(pid, buf, sizeof buf);
        int ppid;
        char state;
        if (!rest || sscanf(rest, " %c %d", &state, &ppid) != 2)
            continue; /* gone meanwhile */
        if (cnt == cap) {
            struct pp *nv = realloc(v, cap * 2 * sizeof *v);
            if (!nv) {
                free(v);
                closedir(d);
                return -ENOMEM;
            }
            v = nv;
            cap *= 2;
        }
        v[cnt].pid = pid;
        v[cnt].ppid = (pid_t)ppid;
        cnt++;
    }
    closedir(d);
    *out = v;
    *n = cnt;
    return 0;
}

static int cmp_ppid(const void *a, const void *b)
{
    pid_t x = ((const struct pp *)a)->ppid, y = ((const struct pp *)b)->ppid;
    return (x > y) - (x < y);
}

/* Index of the first entry with ppid == parent in all[] sorted by ppid (nall when none). */
static size_t first_child(const struct pp *all, size_t nall, pid_t parent)
{
    size_t lo = 0, hi = nall;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (all[mid].ppid < parent)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int proctree_descendants(pid_t root, pid_t **out, size_t *n)
{
    struct pp *all;
    size_t nall;
    *out = NULL;
    *n = 0;
    int rc = scan_all(&all, &nall);
    if (rc < 0)
        return rc;
    pid_t *res = malloc((nall ? nall : 1) * sizeof *res);
    if (!res) {
        free(all);
        return -ENOMEM;
    }
    /* Breadth-first over the parent links: res doubles as the queue. */
    /* Breadth-first over parent links, res doubling as the queue; all[] sorted by ppid so each
     * parent's children are one binary search away (a burst of 20,000 orphans stays cheap). */
    qsort(all, nall, sizeof *all, cmp_ppid);
    size_t nres = 0;
    for (size_t head = 0; head <= nres; head++) {
        pid_t parent = head == 0 ? root : res[head - 1];
        for (size_t i = first_child(all, nall, parent); i < nall && all[i].ppid == parent; i++)
            if (all[i].pid != root && nres < nall) /* bound: a racy snapshot may hold a cycle */
                res[nres++] = all[i].pid;
    }
    free(all);
    if (nres == 0) {
        free(res);
        res = NULL;
    }
    *out = res;
    *n = nres;
    return 0;
}

int proctree_signal_all(int sig)
{
    if (getpid() == 1) {
        /* kill(-1) reaches every process nines may signal except itself (kill(2)). */
        if (kill(-1, sig) < 0)
            return errno == ESRCH ? 0 : -errno;
        return 1;
    }
    pid_t *pids;
    size_t n;
    int rc = proctree_descendants(getpid(), &pids, &n);
    if (rc < 0)
        return rc;
    int count = 0;
    for (size_t i = 0; i < n; i++)
        if (kill(pids[i], sig) == 0)
            count++;
    free(pids);
    return count;
}

int proctree_start_time(pid_t pid, uint64_t *start)
{
    char buf[1024];
    const char *rest = read_stat(pid, buf, sizeof buf);
    if (!rest)
        return -errno;
    /* After comm: field 3 (state) ... field 22 (starttime): skip 19 fields. */
    const char *p = rest;
    for (int field = 3; field < 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return -EINVAL;
    }
    *start = strtoull(p + 1, NULL, 10);
    return 0;
}

/* Finds "key=" in a NUL-separated environ block; returns the value or NULL. */
static const char *environ_find(const char *env, size_t len, const char *key, size_t klen)
{
    size_t i = 0;
    while (i < len) {
        const char *var = env + i;
        size_t vlen = strnlen(var, len - i);
        if (vlen > klen && !memcmp(var, key, klen) && var[klen] == '=' && i + vlen < len)
            return var + klen + 1;
        i += vlen + 1;
    }
    return NULL;
}

static const char *read_marker(pid_t pid, const char *key, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    /* The marker is set by nines among the first variables it adds; one read of 32 KiB covers
     * every ordinary environment. */
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return environ_find(buf, (size_t)n, key, strlen(key));
}

int proctree_scan(const char *env_key, bool all_markers, proc_visit_fn fn, void *ctx)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    enum { ENVBUF = 32768 };
    char *envbuf = malloc(ENVBUF);
    if (!envbuf) {
        closedir(d);
        return -ENOMEM;
    }
    pid_t self = getpid();
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(de->d_name);
        if (pid == self)
            continue;
        char buf[512];
        const char *rest = read_stat(pid, buf, sizeof buf);
        int ppid, pgrp, sid;
        char state;
        if (!rest || sscanf(rest, " %c %d %d %d", &state, &ppid, &pgrp, &sid) != 4)
            continue;
        if (state == 'Z')
            continue; /* zombies are only waiting to be reaped; they need no signal */
        struct proc_info pi = {pid, (pid_t)ppid, (pid_t)pgrp, (pid_t)sid};
        bool want = all_markers || pi.ppid == self;
        fn(ctx, &pi, want ? read_marker(pid, env_key, envbuf, ENVBUF) : NULL);
    }
    free(envbuf);
    closedir(d);
    return 0;
}

bool proctree_alive(pid_t pid)
{
    char buf[512];
    const char *rest = read_stat(pid, buf, sizeof buf);
    char state;
    return rest && sscanf(rest, " %c", &state) == 1 && state != 'Z' && state != 'X';
}

int proctree_info(pid_t pid, struct proc_info *out)
{
    char buf[512];
    const char *rest = read_stat(pid, buf, sizeof buf);
    int ppid, pgrp, sid;
    char state;
    if (!rest || sscanf(rest, " %c %d %d %d", &state, &ppid, &pgrp, &sid) != 4)
        return -ESRCH;
    *out = (struct proc_info){pid, (pid_t)ppid, (pid_t)pgrp, (pid_t)sid};
    return 0;
}
