/* sig: how nines takes signals and how children get their original signal state back.
 * Owns the saved original mask and SIGCHLD disposition (struct sigstate) and the signalfd.
 * Signals arrive as data on a signalfd: nothing runs in signal-handler context. */
#ifndef NINES_SIG_H
#define NINES_SIG_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

struct sigstate {
    sigset_t blocked;       /* what nines blocks and reads from its signalfd */
    sigset_t orig_mask;     /* the mask nines was started with: given back to children */
    struct sigaction orig_chld; /* SIGCHLD as inherited: SIG_IGN would make children unwaitable */
};

/* Blocks every signal except the synchronous ones (SEGV, BUS, FPE, ILL, TRAP, SYS), saving the
 * original mask and SIGCHLD disposition in st. Must run before the first fork: a SIGCHLD that
 * arrives before the mask is set is lost (dumb-init#102). Returns 0 or -errno. */
int sig_block_all(struct sigstate *st);

/* Opens a non-blocking, close-on-exec signalfd for st->blocked. Returns the fd or -errno. */
int sig_open_fd(const struct sigstate *st);

/* In a forked child before execve: restores the inherited SIGCHLD disposition and signal mask,
 * so the program sees exactly what nines was given (inherited SIG_IGN included). Async-signal-safe. */
void sig_restore_child(const struct sigstate *st);

/* Returns "TERM" style names for 1..64 ("RTMIN+3" for real-time ones) into buf; never NULL. */
const char *sig_name(int signo, char *buf, unsigned len);

/* True for the job-control stop signals nines must never act on for itself. */
bool sig_is_stop(int signo);

#endif
