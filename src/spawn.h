/* spawn: fork + exec of one process with nines' child-side hygiene. Owns nothing after return.
 * The child gets its own process group (and optionally its own session), the signal state nines
 * inherited, the requested stdio, and either all inherited fds or only 0-2. When exec fails the
 * child prints one line naming the program and the reason and exits 127 (not found) or 126. */
#ifndef NINES_SPAWN_H
#define NINES_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "creds.h"
#include "sig.h"

/* Exit statuses of a child that never reached its program, by shell convention (sh(1)). */
enum { SPAWN_EXIT_NOEXEC = 126, SPAWN_EXIT_NOTFOUND = 127 };

/* What the child reports on the error pipe before exiting when setup or exec fails. */
enum spawn_stage { SPAWN_STAGE_SETUP, SPAWN_STAGE_CHDIR, SPAWN_STAGE_CREDS, SPAWN_STAGE_EXEC };

struct spawn_error {
    int stage;       /* enum spawn_stage */
    int err;         /* errno */
    int creds_stage; /* enum creds_stage when stage is SPAWN_STAGE_CREDS */
};

struct spawn_opts {
    char *const *argv;          /* argv[0] is looked up in PATH like execvp(3) */
    char *const *envp;          /* NULL: nines' own environment */
    const char *directory;      /* NULL: inherit the cwd */
    const struct sigstate *sig; /* original signal state to restore; required */
    bool new_session;           /* setsid(): a supervised service, no controlling tty */
    bool take_tty;              /* own group made the terminal's foreground group (tini layout) */
    bool keep_fds;              /* keep every inherited fd (single-child mode); else only 0-2 */
    int stdin_fd, stdout_fd, stderr_fd; /* -1: inherit */
    int err_fd;                 /* write end of a CLOEXEC pipe for struct spawn_error, or -1 */
    const struct creds *creds;  /* privileges, rlimits, umask to apply; NULL: inherit nines' */
    int cgroup_fd;              /* the service's cgroup v2 directory (O_DIRECTORY), or -1: the
                                 * child joins it before exec, */
    bool cgroup_clone;          /* or is born in it (clone3 CLONE_INTO_CGROUP) when true */
};

/* Sets every field of o to its default (fds -1, flags false). */
void spawn_opts_init(struct spawn_opts *o);

/* Forks and execs. Returns the child's pid (> 0) or -errno when fork fails. Setup and exec
 * failures happen in the child and show as its exit status 126/127 and on err_fd. */
pid_t spawn_process(const struct spawn_opts *o);

/* Human text for a failed stage ("chdir", "exec"...); never NULL. */
const char *spawn_stage_name(int stage);

#endif
