/* supervisor: the set of services and everything shared between them. Owns the event loop, the
 * signalfd, the reap loop (every child: services' main processes, their leftovers, adopted
 * orphans), the loaded config and its reload, the tree scans that find a generation's leftover
 * processes, the persisted state file, and the ordered shutdown. */
#ifndef NINES_SUPERVISOR_H
#define NINES_SUPERVISOR_H

#include <stdbool.h>

struct supervisor_opts {
    const char *config_path; /* NULL: the default /etc/nines/nines.conf (optional) */
};

/* Loads the config, starts every service that is wanted up and runs until a shutdown (TERM,
 * INT) has stopped them all. Returns the exit status for nines: 0 after a clean shutdown, 1 when
 * the config could not be loaded at start (errors printed as file:line: message). */
int supervisor_run(const struct supervisor_opts *opts);

/* `nines --check`: loads the config and prints every error. Returns 0 when valid, else 1. */
int supervisor_check(const struct supervisor_opts *opts);

#endif
