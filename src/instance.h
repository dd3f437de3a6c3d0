/* instance: one nines per run_dir, and what a previous nines left behind. Owns the lock file
 * (run_dir/nines.lock: "PID TOKEN"), the record of started processes (run_dir/procs: "NAME PID
 * STARTTIME" lines) and the stale pid/lock files of services. The TOKEN is random per run of
 * nines and prefixes every NINES_INSTANCE marker, so the survivors of a nines that was
 * SIGKILLed can be found by their environment even after they called setsid(). */
#ifndef NINES_INSTANCE_H
#define NINES_INSTANCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { INSTANCE_TOKEN_LEN = 16 }; /* hex digits */

struct instance {
    int lock_fd;
    char lock_path[4096];
    char procs_path[4096];
    char token[INSTANCE_TOKEN_LEN + 1];     /* ours */
    char old_token[INSTANCE_TOKEN_LEN + 1]; /* of the nines that held the lock before, or "" */
    pid_t old_pid;                          /* its pid, or 0 */
};

/* Takes the exclusive lock in run_dir (created if missing). Returns 0, -EBUSY when another live
 * nines holds it (*holder = its pid, 0 if unknown), or -errno. Remembers the previous holder's
 * token for instance_find_survivors(). The lock fd is close-on-exec. */
int instance_lock(struct instance *in, const char *run_dir, pid_t *holder);

/* Releases the lock (the file stays; a stale one is reused without fuss). */
void instance_unlock(struct instance *in);

/* Pids of processes left by the previous nines: those whose NINES_INSTANCE starts with its
 * token, and recorded main processes whose start time still matches. *out is malloc'd (caller
 * frees). Returns 0 or -errno. */
int instance_find_survivors(const struct instance *in, pid_t **out, size_t *n);

/* Rewrites run_dir/procs atomically from n records (a pid already gone is left out). Returns 0,
 * or -errno, also when a live pid could not be read (EMFILE): nothing is written then. */
struct instance_proc {
    const char *name;
    pid_t pid;
};
int instance_record(const struct instance *in, const struct instance_proc *procs, size_t n);

/* Removes path when it is a stale pid or lock file: its pid is not running, or (lock file with
 * no pid) nobody holds a flock on it. Describes what happened in what (may be ""). Returns 1
 * when removed, 0 when left (absent or owned by a live process), -errno on error. */
int instance_clean_stale(const char *path, char *what, size_t len);

#endif
