/* cgroup: an optional cgroup v2 subtree per service, the most reliable way to find everything a
 * service started (setsid, double fork, cleared environment: nothing escapes a cgroup). Owns the
 * per-service directories under nines' own cgroup, named nines.HASH.NAME (HASH of run_dir, so two
 * nines in one cgroup never share one). When cgroup v2 is absent or read-only (a container
 * without cgroup delegation), every function fails softly and nines falls back to sessions and
 * the NINES_INSTANCE marker. */
#ifndef NINES_CGROUP_H
#define NINES_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct cgroups {
    bool ok;            /* a writable cgroup v2 directory was found */
    char base[4096];    /* nines' own cgroup directory */
    char prefix[32];    /* nines.HASH. */
};

/* Finds nines' cgroup v2 directory (from /proc/self/cgroup and the cgroup2 mount) and checks
 * that a subgroup can be created there. Never fails: cg->ok tells. */
void cgroup_init(struct cgroups *cg, const char *run_dir);

/* Creates (if needed) the service's cgroup and opens its directory (O_DIRECTORY, close-on-exec)
 * for spawn_opts.cgroup_fd. Returns the fd (the caller closes it) or -errno. */
int cgroup_open_dir(const struct cgroups *cg, const char *name);

/* Pids in the service's cgroup, appended to *pids (realloc'd, caller frees). Returns 0, or
 * -errno (-ENOENT when the cgroup does not exist). */
int cgroup_pids(const struct cgroups *cg, const char *name, pid_t **pids, size_t *n, size_t *cap);

/* SIGKILLs everything in the service's cgroup at once (cgroup.kill, Linux 5.14). Returns 0 or
 * -errno (the caller then kills pid by pid). */
int cgroup_kill(const struct cgroups *cg, const char *name);

/* Removes the service's (empty) cgroup. Returns 0 or -errno. */
int cgroup_remove(const struct cgroups *cg, const char *name);

#endif
