/* single: the tini-style single-child mode (`nines -- COMMAND`). Owns the main child, the
 * signal forwarding policy and the whole-tree stop sequence that ends nines. */
#ifndef NINES_SINGLE_H
#define NINES_SINGLE_H

#include <stdbool.h>
#include <stdint.h>

struct single_opts {
    char *const *argv;       /* the command; argv[0] looked up in PATH */
    bool signal_pid_only;    /* -p: forward to the child alone instead of its process group */
    uint64_t stop_timeout_ms;/* -t: grace between TERM and KILL for the remaining processes */
};

/* Runs the command as nines' only child and returns the exit status nines must exit with:
 * the child's code, 128+N when killed by signal N, 126/127 when it could not be executed, or
 * 1 when nines itself could not set up (already logged). Returns only when no descendant is left. */
int single_run(const struct single_opts *opts);

#endif
