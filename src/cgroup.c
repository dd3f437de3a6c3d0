#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* The cgroup2 mount: /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified (hybrid). */
static const char *cgroup2_mount(void)
{
    static const char *const candidates[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        struct statfs sf;
        if (statfs(candidates[i], &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
            return candidates[i];
    }
    return NULL;
}

/* Our path in the v2 hierarchy: the "0::/path" line of /proc/self/cgroup (cgroups(7)). */
static int own_path(char *buf, size_t len)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return -errno;
    char line[4096];
    int rc = -ENOENT;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "0::", 3))
            continue;
        line[strcspn(line, "\n")] = '\0';
        snprintf(buf, len, "%s", line + 3);
        rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

static int svc_path(const struct cgroups *cg, const char *name, const char *file, char *buf,
                    size_t len)
{
    int n = snprintf(buf, len, "%s/%s%s%s%s", cg->base, cg->prefix, name, file ? "/" : "",
                     file ? file : "");
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void cgroup_init(struct cgroups *cg, const char *run_dir)
{
    memset(cg, 0, sizeof *cg);
    const char *mnt = cgroup2_mount();
    char own[4096];
    if (!mnt || own_path(own, sizeof own) < 0)
        return;
    /* "/" in a cgroup namespace (a container) is the namespace root: also fine. */
    size_t ml = strlen(mnt), ol = strcmp(own, "/") ? strlen(own) : 0;
    if (ml + ol >= sizeof cg->base)
        return;
    memcpy(cg->base, mnt, ml);
    memcpy(cg->base + ml, own, ol);
    cg->base[ml + ol] = '\0';
    uint32_t h = 2166136261u; /* FNV-1a of run_dir */
    for (const char *p = run_dir; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    snprintf(cg->prefix, sizeof cg->prefix, "nines.%08x.", h);
    char probe[4200];
    if (svc_path(cg, "probe", NULL, probe, sizeof probe) < 0)
        return;
    if (mkdir(probe, 0755) < 0 && errno != EEXIST)
        return; /* read-only cgroupfs, no delegation: fall back */
    rmdir(probe);
    cg->ok = true;
}

int cgroup_open_dir(const struct cgroups *cg, const char *name)
{
    if (!cg->ok)
        return -ENOTSUP;
    char path[4200];
    int rc = svc_path(cg, name, NULL, path, sizeof path);
    if (rc < 0)
        return rc;
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return -errno;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int cgroup_pids(const struct cgroups *cg, const char *name, pid_t **pids, size_t *n, size_t *cap)
{
    if (!cg->ok)
        return -ENOTSUP;
    char path[4200];
    int rc = svc_path(cg, name, "cgroup.procs", path, sizeof path);
    if (rc < 0)
        return rc;
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    long pid;
    rc = 0;
    while (fscanf(f, "%ld", &pid) == 1) {
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            pid_t *v = realloc(*pids, nc * sizeof *v);
            if (!v) {
                rc = -ENOMEM;
                break;
            }
            *pids = v;
            *cap = nc;
        }
        (*pids)[(*n)++] = (pid_t)pid;
    }
    fclose(f);
    return rc;
}

int cgroup_kill(const struct cgroups *cg, const char *name)
{
    if (!cg->ok)
        return -ENOTSUP;
    char path[4200];
    int rc = svc_path(cg, name, "cgroup.kill", path, sizeof path);
    if (rc < 0)
        return rc;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    rc = write(fd, "1", 1) == 1 ? 0 : -errno;
    close(fd);
    return rc;
}

int cgroup_remove(const struct cgroups *cg, const char *name)
{
    if (!cg->ok)
        return -ENOTSUP;
    char path[4200];
    int rc = svc_path(cg, name, NULL, path, sizeof path);
    if (rc < 0)
        return rc;
    return rmdir(path) < 0 ? -errno : 0;
}
