#include "sig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>

int sig_block_all(struct sigstate *st)
{
    sigfillset(&st->blocked);
    /* Synchronous signals are raised by nines' own faults: blocking them would turn a crash into
     * undefined behaviour (sigprocmask(2)). */
    static const int sync_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};
    for (size_t i = 0; i < sizeof sync_signals / sizeof sync_signals[0]; i++)
        sigdelset(&st->blocked, sync_signals[i]);
    if (sigprocmask(SIG_BLOCK, &st->blocked, &st->orig_mask) < 0)
        return -errno;
    if (sigaction(SIGCHLD, NULL, &st->orig_chld) < 0)
        return -errno;
    /* With SIGCHLD ignored (or SA_NOCLDWAIT) the kernel reaps children itself and waitpid never
     * reports their status (waitpid(2) NOTES), so nines needs the default. */
    if (st->orig_chld.sa_handler == SIG_IGN || (st->orig_chld.sa_flags & SA_NOCLDWAIT)) {
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigemptyset(&dfl.sa_mask);
        if (sigaction(SIGCHLD, &dfl, NULL) < 0)
            return -errno;
    }
    return 0;
}

int sig_open_fd(const struct sigstate *st)
{
    int fd = signalfd(-1, &st->blocked, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

void sig_restore_child(const struct sigstate *st)
{
    sigaction(SIGCHLD, &st->orig_chld, NULL);
    sigprocmask(SIG_SETMASK, &st->orig_mask, NULL);
}

const char *sig_name(int signo, char *buf, unsigned len)
{
    const char *abbrev = sigabbrev_np(signo);
    if (abbrev)
        snprintf(buf, len, "%s", abbrev);
    else if (signo >= SIGRTMIN && signo <= SIGRTMAX)
        snprintf(buf, len, "RTMIN+%d", signo - SIGRTMIN);
    else
        snprintf(buf, len, "%d", signo);
    return buf;
}

bool sig_is_stop(int signo)
{
    return signo == SIGTSTP || signo == SIGTTIN || signo == SIGTTOU || signo == SIGSTOP;
}
