#include "single.h"

#include "log.h"
#include "loop.h"
#include "proctree.h"
#include "sig.h"
#include "spawn.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

/* After the final KILL, how long to wait for the kernel to deliver it before giving up on a
 * process stuck in uninterruptible sleep, and how often to repeat the KILL meanwhile (a process
 * may fork between the /proc scan and the kill). */
enum { KILL_GRACE_MS = 2000, KILL_REPEAT_MS = 100 };

struct single {
    const struct single_opts *opts;
    struct sigstate sig;
    struct loop *loop;
    struct watcher sigw;
    struct timer stop_timer;  /* stop timeout: TERM -> KILL */
    struct timer kill_timer;  /* KILL repeats until the tree is empty or the grace ends */
    pid_t child;              /* 0 once reaped */
    int exit_status;          /* what nines exits with, valid once child == 0 */
    bool stopping;            /* stop timeout started (TERM/INT to nines, or the child exited) */
    bool swept;               /* remaining processes have been sent TERM+CONT */
    uint64_t kill_deadline;
};

/* Exit status by shell convention: the code, or 128+N for death by signal N. */
static int status_to_exit(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

static void forward(struct single *s, int signo)
{
    if (s->child == 0) {
        proctree_signal_all(signo); /* main child gone: the rest of the tree gets it */
        return;
    }
    if (!s->opts->signal_pid_only && kill(-s->child, signo) == 0)
        return;
    /* -p, or the child left its own group (an interactive shell may): signal the pid. */
    kill(s->child, signo);
}

static void start_stop_timer(struct single *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    if (timer_start(s->loop, &s->stop_timer, s->opts->stop_timeout_ms) < 0)
        log_warn("cannot arm the stop timer; killing at once");
    if (s->opts->stop_timeout_ms == 0 || !timer_active(&s->stop_timer))
        s->stop_timer.fn(s->loop, &s->stop_timer);
}

/* The main child is gone but processes remain: TERM and CONT to all, then the stop timeout. */
static void sweep_remaining(struct single *s)
{
    if (s->swept)
        return;
    s->swept = true;
    int n = proctree_signal_all(SIGTERM);
    proctree_signal_all(SIGCONT);
    log_debug("main child exited; sent TERM to the remaining processes (%d)", n);
    start_stop_timer(s);
}

static void finish(struct single *s)
{
    timer_stop(s->loop, &s->stop_timer);
    timer_stop(s->loop, &s->kill_timer);
    loop_stop(s->loop);
}

/* Reaps every waitable child: the main one, its orphans, and anything adopted as subreaper. */
static void reap(struct single *s)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            if (pid == s->child) {
                s->child = 0;
                s->exit_status = status_to_exit(status);
                log_debug("child %d exited, status %d", (int)pid, s->exit_status);
            } else {
                log_debug("reaped %d", (int)pid);
            }
            continue;
        }
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0 && errno == ECHILD && s->child == 0) {
            finish(s); /* nothing left below nines */
            return;
        }
        if (s->child == 0)
            sweep_remaining(s);
        return;
    }
}

static void on_stop_timeout(struct loop *loop, struct timer *t)
{
    struct single *s = t->data;
    (void)loop;
    int n = proctree_signal_all(SIGKILL);
    if (n > 0)
        log_warn("stop timeout: sent KILL to the remaining processes");
    s->kill_deadline = now_ms() + KILL_GRACE_MS;
    timer_start(s->loop, &s->kill_timer, KILL_REPEAT_MS);
}

static void on_kill_repeat(struct loop *loop, struct timer *t)
{
    struct single *s = t->data;
    (void)loop;
    if (now_ms() >= s->kill_deadline) {
        log_warn("processes survived KILL for %d ms (uninterruptible sleep?); exiting anyway",
                 KILL_GRACE_MS);
        if (s->child == 0)
            finish(s);
        return;
    }
    proctree_signal_all(SIGKILL);
    timer_start(s->loop, &s->kill_timer, KILL_REPEAT_MS);
}

static void on_signal(struct single *s, int signo)
{
    char name[16];
    if (signo == SIGCHLD) {
        reap(s);
        return;
    }
    /* SIGPIPE is about nines' own writes (a closed stdout/stderr), not for the child; logging it
     * would write to the same closed pipe and raise it again, forever. */
    if (signo == SIGPIPE)
        return;
    log_debug("got SIG%s; forwarding", sig_name(signo, name, sizeof name));
    forward(s, signo);
    /* TERM and INT mean "stop": make sure it ends. CONT lets a stopped child act on it (S3). */
    if (signo == SIGTERM || signo == SIGINT) {
        forward(s, SIGCONT);
        start_stop_timer(s);
    }
}

static void on_signalfd(struct loop *loop, struct watcher *w, uint32_t events)
{
    struct single *s = w->data;
    (void)loop;
    (void)events;
    struct signalfd_siginfo si[16];
    for (;;) {
        ssize_t n = read(w->fd, si, sizeof si);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return; /* EAGAIN: drained */
        }
        for (size_t i = 0; i < (size_t)n / sizeof si[0]; i++)
            on_signal(s, (int)si[i].ssi_signo);
    }
}

/* Reaps zombies inherited at exec (bubblewrap#146): they would otherwise wait for a SIGCHLD
 * that was sent before nines existed. */
static void reap_inherited(void)
{
    int status;
    while (waitpid(-1, &status, WNOHANG) > 0)
        ;
}

static int setup(struct single *s)
{
    int rc = sig_block_all(&s->sig);
    if (rc < 0) {
        log_error("cannot block signals: %s", strerror(-rc));
        return rc;
    }
    /* Not PID 1: become the subreaper so orphans of the child are ours to reap and to stop
     * (PR_SET_CHILD_SUBREAPER(2const)); tini needs -s for this, nines does it by itself. */
    if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        log_warn("cannot become a subreaper: %s", strerror(errno));
    reap_inherited();
    return 0;
}

static int spawn_child(struct single *s)
{
    struct spawn_opts o;
    spawn_opts_init(&o);
    o.argv = s->opts->argv;
    o.sig = &s->sig;
    o.keep_fds = true;
    /* tini's layout: the child leads its own group in our session and, when we hold the
     * terminal's foreground, takes it, so job control and Ctrl-C work (dumb-init#51). */
    o.take_tty = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
    pid_t pid = spawn_process(&o);
    if (pid < 0) {
        log_error("cannot fork: %s", strerror((int)-pid));
        return (int)pid;
    }
    s->child = pid;
    return 0;
}

static int open_loop(struct single *s)
{
    s->loop = loop_new();
    if (!s->loop)
        return -errno;
    int fd = sig_open_fd(&s->sig);
    if (fd < 0)
        return fd;
    watcher_init(&s->sigw, fd, on_signalfd, s);
    timer_init(&s->stop_timer, on_stop_timeout, s);
    timer_init(&s->kill_timer, on_kill_repeat, s);
    return loop_watch(s->loop, &s->sigw, EPOLLIN);
}

int single_run(const struct single_opts *opts)
{
    struct single s = {.opts = opts, .exit_status = 1};
    if (setup(&s) < 0 || spawn_child(&s) < 0)
        return 1;
    /* The child has its copies: nines keeps no inherited fd (catatonit#12) and no cwd that
     * would pin a mount (catatonit#28). */
    fd_close_from(3, NULL, 0);
    if (chdir("/") < 0)
        log_warn("cannot chdir to /: %s", strerror(errno));
    int rc = open_loop(&s);
    if (rc < 0) {
        /* Without a loop nines cannot supervise; still never leave the child unattended. */
        log_error("cannot start the event loop: %s; waiting for the child", strerror(-rc));
        int status = 0;
        pid_t r;
        while ((r = waitpid(s.child, &status, 0)) < 0 && errno == EINTR)
            ;
        return r < 0 ? 1 : status_to_exit(status);
    }
    reap(&s); /* a child that exited before the signalfd existed left a pending SIGCHLD anyway */
    loop_run(s.loop);
    close(s.sigw.fd);
    loop_free(s.loop);
    return s.exit_status;
}
