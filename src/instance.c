#include "instance.h"

#include "proctree.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void make_token(char *out)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL); /* early boot: unique enough */
    snprintf(out, INSTANCE_TOKEN_LEN + 1, "%016llx", (unsigned long long)r);
}

static void read_holder(int fd, pid_t *pid, char *token)
{
    char buf[64] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    long p = 0;
    char tok[INSTANCE_TOKEN_LEN + 1] = "";
    if (sscanf(buf, "%ld %16[0-9a-f]", &p, tok) >= 1 && p > 0)
        *pid = (pid_t)p;
    if (token && strlen(tok) == INSTANCE_TOKEN_LEN)
        memcpy(token, tok, sizeof tok);
}

int instance_lock(struct instance *in, const char *run_dir, pid_t *holder)
{
    memset(in, 0, sizeof *in);
    in->lock_fd = -1;
    *holder = 0;
    if (snprintf(in->lock_path, sizeof in->lock_path, "%s/nines.lock", run_dir) >= (int)sizeof in->lock_path ||
        snprintf(in->procs_path, sizeof in->procs_path, "%s/procs", run_dir) >= (int)sizeof in->procs_path)
        return -ENAMETOOLONG;
    int fd = open(in->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        if (e == EWOULDBLOCK)
            read_holder(fd, holder, NULL);
        close(fd);
        return e == EWOULDBLOCK ? -EBUSY : -e;
    }
    /* The lock was free: whoever wrote this file is gone. Its token finds its survivors. */
    read_holder(fd, &in->old_pid, in->old_token);
    make_token(in->token);
    char line[64];
    int len = snprintf(line, sizeof line, "%d %s\n", (int)getpid(), in->token);
    if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)len, 0) != len) {
        int e = errno;
        close(fd);
        return -e;
    }
    in->lock_fd = fd;
    return 0;
}

void instance_unlock(struct instance *in)
{
    if (in->lock_fd >= 0)
        close(in->lock_fd); /* closing drops the flock */
    in->lock_fd = -1;
}

struct survivors {
    const char *prefix;
    size_t plen;
    pid_t *v;
    size_t n, cap;
    int err;
};

static void add_pid(struct survivors *sv, pid_t pid)
{
    for (size_t i = 0; i < sv->n; i++)
        if (sv->v[i] == pid)
            return;
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 16;
        pid_t *v = realloc(sv->v, cap * sizeof *v);
        if (!v) {
            sv->err = -ENOMEM;
            return;
        }
        sv->v = v;
        sv->cap = cap;
    }
    sv->v[sv->n++] = pid;
}

static void visit(void *ctx, const struct proc_info *p, const char *marker)
{
    struct survivors *sv = ctx;
    if (marker && sv->plen && !strncmp(marker, sv->prefix, sv->plen) && marker[sv->plen] == '.')
        add_pid(sv, p->pid);
}

/* Recorded main processes whose start time still matches (not a recycled pid). */
static void add_recorded(const struct instance *in, struct survivors *sv)
{
    FILE *f = fopen(in->procs_path, "re");
    if (!f)
        return;
    char name[256];
    long pid;
    unsigned long long start;
    while (fscanf(f, "%255s %ld %llu", name, &pid, &start) == 3) {
        uint64_t now_start;
        if (pid > 1 && pid != getpid() && proctree_start_time((pid_t)pid, &now_start) == 0 &&
            now_start == start)
            add_pid(sv, (pid_t)pid);
    }
    fclose(f);
}

int instance_find_survivors(const struct instance *in, pid_t **out, size_t *n)
{
    struct survivors sv = {.prefix = in->old_token, .plen = strlen(in->old_token)};
    *out = NULL;
    *n = 0;
    if (sv.plen) {
        int rc = proctree_scan("NINES_INSTANCE", true, visit, &sv);
        if (rc < 0) {
            free(sv.v);
            return rc;
        }
    }
    add_recorded(in, &sv);
    if (sv.err) {
        free(sv.v);
        return sv.err;
    }
    *out = sv.v;
    *n = sv.n;
    return 0;
}

int instance_record(const struct instance *in, const struct instance_proc *procs, size_t n)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", in->procs_path);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -errno;
    for (size_t i = 0; i < n; i++) {
        uint64_t start;
        int rc = proctree_start_time(procs[i].pid, &start);
        if (rc == 0)
            fprintf(f, "%s %d %llu\n", procs[i].name, (int)procs[i].pid, (unsigned long long)start);
        else if (rc != -ESRCH) { /* a live process left out would escape the next sweep */
            fclose(f);
            unlink(tmp);
            return rc;
        }
    }
    if (fclose(f) != 0 || rename(tmp, in->procs_path) < 0) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    return 0;
}

int instance_clean_stale(const char *path, char *what, size_t len)
{
    what[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(what, len, "%s is not a regular file; left alone", path);
        return 0;
    }
    char buf[32] = "";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    bool has_pid = end != buf && pid > 0;
    bool stale;
    if (has_pid)
        stale = kill((pid_t)pid, 0) < 0 && errno == ESRCH;
    else
        stale = flock(fd, LOCK_EX | LOCK_NB) == 0; /* nobody holds it */
    close(fd);
    if (!stale) {
        if (has_pid)
            snprintf(what, len, "%s in use by pid %ld", path, pid);
        else
            snprintf(what, len, "%s held by a live process", path);
        return 0;
    }
    if (unlink(path) < 0)
        return -errno;
    if (has_pid)
        snprintf(what, len, "removed stale %s (pid %ld not running)", path, pid);
    else
        snprintf(what, len, "removed stale %s (not locked)", path);
    return 1;
}
