/* proctree: finding and signalling the processes below nines, from /proc. Owns nothing but the
 * arrays it returns. Used for the whole-tree stop: a subreaper's orphans are re-parented to it,
 * but a grandchild whose parent lives is not its child, so the tree must be walked. */
#ifndef NINES_PROCTREE_H
#define NINES_PROCTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Fills *out with the pids of every live descendant of root (not root itself), read from
 * /proc/[pid]/stat. *out is malloc'd (caller frees; NULL when *n is 0).
 * Returns 0 or -errno (-ENOMEM, or the error opening /proc). */
int proctree_descendants(pid_t root, pid_t **out, size_t *n);

/* Sends sig to every descendant of nines; as PID 1 this is kill(-1) (everything in the
 * namespace but nines). Returns the number of processes signalled, or -errno. */
int proctree_signal_all(int sig);

/* Reads the start time (clock ticks since boot, field 22 of /proc/PID/stat) of pid.
 * Returns 0 and sets *start, or -errno: -ESRCH when gone, another (-EMFILE) when /proc could
 * not be read, which does not mean the process is gone. */
int proctree_start_time(pid_t pid, uint64_t *start);

/* True when pid exists and is not a zombie (a zombie has exited; it only waits to be reaped). */
bool proctree_alive(pid_t pid);

/* What proctree_scan() tells about one process. */
struct proc_info {
    pid_t pid, ppid, pgid, sid;
};

/* Reads pid's parent, process group and session from /proc. Returns 0 or -ESRCH. */
int proctree_info(pid_t pid, struct proc_info *out);

/* Visitor for proctree_scan(): the process, and the value of the scanned environment variable
 * in its initial environment (NULL when absent or unreadable). */
typedef void (*proc_visit_fn)(void *ctx, const struct proc_info *p, const char *marker);

/* Calls fn for every process but nines, reading /proc/PID/stat and, for the marker, its
 * /proc/PID/environ: of every process when all_markers, else only of nines' own children (the
 * orphans it adopted: a process that left its session but whose parent lives is still found by
 * following ppid links, and reading environ costs ~40 us a process). The environment marker
 * finds what a service started even after it called setsid() and its parent died. Returns 0 or
 * -errno. */
int proctree_scan(const char *env_key, bool all_markers, proc_visit_fn fn, void *ctx);

#endif
