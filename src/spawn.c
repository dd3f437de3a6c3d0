#include "spawn.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h> /* struct clone_args, CLONE_INTO_CGROUP */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const stage_names[] = {
    [SPAWN_STAGE_SETUP] = "setup",
    [SPAWN_STAGE_CHDIR] = "chdir",
    [SPAWN_STAGE_CREDS] = "credentials",
    [SPAWN_STAGE_EXEC] = "exec",
};
_Static_assert(sizeof stage_names / sizeof stage_names[0] == SPAWN_STAGE_EXEC + 1,
               "every spawn stage needs a name");

const char *spawn_stage_name(int stage)
{
    if (stage < 0 || stage > SPAWN_STAGE_EXEC)
        return "?";
    return stage_names[stage];
}

void spawn_opts_init(struct spawn_opts *o)
{
    memset(o, 0, sizeof *o);
    o->stdin_fd = o->stdout_fd = o->stderr_fd = o->err_fd = o->cgroup_fd = -1;
}

/* Child side: report, print one line, exit. Only async-signal-safe calls after fork, except
 * that nines is single-threaded, so stdio and malloc are safe here too. */
static _Noreturn void child_fail_creds(const struct spawn_opts *o, int stage, int err,
                                       int creds_stage)
{
    struct spawn_error e = {stage, err, creds_stage};
    if (o->err_fd >= 0) {
        ssize_t w = write(o->err_fd, &e, sizeof e);
        (void)w;
    }
    const char *what = stage == SPAWN_STAGE_CHDIR ? o->directory : o->argv[0];
    if (stage == SPAWN_STAGE_CREDS)
        dprintf(STDERR_FILENO, "nines: cannot set credentials for '%s': %s: %s\n", what,
                creds_stage_name(creds_stage), strerror(err));
    else
        dprintf(STDERR_FILENO, "nines: cannot %s '%s': %s\n",
                stage == SPAWN_STAGE_EXEC ? "execute" : spawn_stage_name(stage), what, strerror(err));
    _exit(err == ENOENT || err == ENOTDIR ? SPAWN_EXIT_NOTFOUND : SPAWN_EXIT_NOEXEC);
}

static _Noreturn void child_fail(const struct spawn_opts *o, int stage, int err)
{
    child_fail_creds(o, stage, err, CREDS_STAGE_NONE);
}

static int move_fd(int from, int to)
{
    if (from < 0 || from == to)
        return 0;
    return dup2(from, to) < 0 ? -1 : 0; /* dup2 clears FD_CLOEXEC on the new fd */
}

/* systemd socket activation: LISTEN_PID names the process meant to use the sockets. When it
 * names nines, it means the program nines runs (sd_listen_fds(3)). */
static void fix_listen_pid(pid_t parent)
{
    const char *lp = getenv("LISTEN_PID");
    if (!lp || atol(lp) != (long)parent)
        return;
    char buf[24];
    snprintf(buf, sizeof buf, "%ld", (long)getpid());
    setenv("LISTEN_PID", buf, 1);
}

/* Moves the calling process into the cgroup whose directory is dirfd (cgroup v2: write "0" to
 * its cgroup.procs). A failure only loses the cgroup: the session and the environment marker
 * still find the tree. */
static void join_cgroup(int dirfd)
{
    int fd = openat(dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t w = write(fd, "0", 1);
    (void)w;
    close(fd);
}

static _Noreturn void child_main(const struct spawn_opts *o, pid_t parent, bool in_cgroup)
{
    /* First, so that everything this process starts is in the service's cgroup. */
    if (o->cgroup_fd >= 0 && !in_cgroup)
        join_cgroup(o->cgroup_fd);
    if (o->new_session) {
        if (setsid() < 0)
            child_fail(o, SPAWN_STAGE_SETUP, errno);
    } else if (setpgid(0, 0) < 0) {
        child_fail(o, SPAWN_STAGE_SETUP, errno);
    }
    /* SIGTTOU is still blocked here (inherited from nines), so tcsetpgrp cannot stop us. */
    if (o->take_tty)
        tcsetpgrp(STDIN_FILENO, getpgrp());
    if (move_fd(o->stdin_fd, 0) < 0 || move_fd(o->stdout_fd, 1) < 0 || move_fd(o->stderr_fd, 2) < 0)
        child_fail(o, SPAWN_STAGE_SETUP, errno);
    if (!o->keep_fds) {
        int keep[1] = {o->err_fd};
        fd_close_from(3, keep, o->err_fd >= 0 ? 1 : 0);
    }
    if (o->creds) {
        enum creds_stage cs = CREDS_STAGE_NONE;
        int rc = creds_apply(o->creds, &cs);
        if (rc < 0)
            child_fail_creds(o, SPAWN_STAGE_CREDS, -rc, cs);
    }
    /* After the privilege drop, like systemd's WorkingDirectory=: checked as the service user. */
    if (o->directory && chdir(o->directory) < 0)
        child_fail(o, SPAWN_STAGE_CHDIR, errno);
    fix_listen_pid(parent);
    sig_restore_child(o->sig);
    if (o->envp)
        execvpe(o->argv[0], o->argv, o->envp);
    else
        execvp(o->argv[0], o->argv);
    child_fail(o, SPAWN_STAGE_EXEC, errno);
}

/* fork(2), but the child starts in the cgroup whose directory is dirfd: clone3(2) with
 * CLONE_INTO_CGROUP (Linux 5.7). Joining after fork by writing cgroup.procs takes
 * cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period (percpu_down_write()
 * -> rcu_sync_enter() -> synchronize_rcu()): 5.7 ms mean, p99 19 ms of every restart while 500
 * health checks ran (bench/RESULTS.md, "Health checks at scale"). Returns the pid (0 in the
 * child) or -1 with errno (ENOSYS, or EINVAL before 5.7: the caller falls back to fork).
 * The raw syscall leaves glibc's cached thread id stale in the child; the child only makes
 * plain system calls before exec, none of which uses it (no raise(), no threads). */
static pid_t clone_into_cgroup(int dirfd)
{
#if defined(CLONE_INTO_CGROUP) && defined(SYS_clone3)
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = (uint64_t)dirfd;
    return (pid_t)syscall(SYS_clone3, &args, sizeof args);
#else
    (void)dirfd;
    errno = ENOSYS;
    return -1;
#endif
}

pid_t spawn_process(const struct spawn_opts *o)
{
    pid_t parent = getpid();
    pid_t pid = o->cgroup_fd >= 0 && o->cgroup_clone ? clone_into_cgroup(o->cgroup_fd) : -1;
    bool in_cgroup = pid >= 0;
    /* Any clone3 failure (an old kernel, a seccomp profile without it, a cgroup that cannot take
     * the process) falls back to fork and joining from the child, as before Linux 5.7. */
    if (pid < 0)
        pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        child_main(o, parent, in_cgroup);
    /* Also set the group from the parent: whichever runs first, a signal sent to the group right
     * after spawn_process() returns reaches the child (setpgid(2) race). */
    if (!o->new_session)
        setpgid(pid, pid);
    return pid;
}
