/* exitclass: the one exit classifier. Every way a service process ends (exit code, signal, a stop
 * nines asked for because of health, watchdog, auth, max_lifetime, reload or the operator) is
 * turned here into one verdict for the state machine. Pure: no clock, no I/O. */
#ifndef NINES_EXITCLASS_H
#define NINES_EXITCLASS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Exit-code contract for services (design.md): 77 authentication failed, 78 configuration error. */
enum { EXIT_AUTHFAIL = 77, EXIT_CONFIG = 78 };

/* Why nines itself ended the process (STOP_NONE: it ended on its own). */
enum stop_reason {
    STOP_NONE,
    STOP_OPERATOR,  /* ninesctl stop */
    STOP_SHUTDOWN,  /* nines is shutting down */
    STOP_RESTART,   /* ninesctl restart, or a reload changed the process */
    STOP_LIFETIME,  /* [restart] max_lifetime reached */
    STOP_HEALTH,    /* unhealthy after `retries` failed checks */
    STOP_WATCHDOG,  /* WATCHDOG=1 stopped arriving */
    STOP_AUTH,      /* an auth event (health 401/403, log pattern) */
    STOP_CONFIG,    /* a config-class event (gateway 4013/4014...) */
    STOP_REASON_COUNT
};

enum verdict {
    VERDICT_STOPPED,         /* stay down: the operator or shutdown asked for it */
    VERDICT_RESTART,         /* restart at once, not a failure (restart, reload, max_lifetime) */
    VERDICT_RESTART_CLEAN,   /* exit by design under policy always: first delay, no growth (P5) */
    VERDICT_RESTART_FAILURE, /* failure: backoff grows, counts against the limit */
    VERDICT_EXITED,          /* done, the policy does not restart it */
    VERDICT_FATAL,           /* will not restart: exit 78, config event */
    VERDICT_AUTHFAIL,        /* parked until the token changes: exit 77, auth event */
    VERDICT_COUNT
};

struct exit_facts {
    bool exited;          /* WIFEXITED, else killed by a signal */
    int code;             /* exit code when exited, else the signal number */
    bool exec_failed;     /* never reached the program (setup or exec error) */
    enum stop_reason why; /* what nines asked for, STOP_NONE if nothing */
};

/* Decides what follows an ended process. no_restart (may be NULL) holds exit codes that end the
 * service without a restart (EXITED), like systemd's RestartPreventExitStatus=. */
enum verdict exit_classify(const struct exit_facts *f, enum config_policy policy,
                           const struct parse_exit_codes *no_restart);

/* True when the verdict counts as a failure for the restart limit and the backoff streak. */
bool verdict_is_failure(const struct exit_facts *f, enum verdict v);

/* Describes how the process ended, e.g. "exit 1", "signal KILL", "cannot execute", "health",
 * into buf (NUL-terminated, truncated to len). Returns buf. */
const char *exit_describe(const struct exit_facts *f, char *buf, size_t len);

const char *stop_reason_name(enum stop_reason r);
const char *verdict_name(enum verdict v);

#endif
