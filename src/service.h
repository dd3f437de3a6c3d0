/* service: one supervised service's state machine. Owns its main process, the output pipes of
 * that process, its restart timers, backoff streak and restart budget. What the operator wants
 * (want_up) is kept apart from what is (state). Every end of a process goes through
 * exit_classify(); a terminal state (EXITED, FATAL, AUTHFAIL, STOPPED by the operator) is left
 * only by an explicit start. The owner (supervisor) reaps, and tells the service about its pids. */
#ifndef NINES_SERVICE_H
#define NINES_SERVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "authsrc.h"
#include "backoff.h"
#include "budget.h"
#include "cgroup.h"
#include "config.h"
#include "exitclass.h"
#include "logcap.h"
#include "loop.h"
#include "notify.h"
#include "probe.h"
#include "sig.h"

/* Health of the current process instance; reset at every spawn (k8s#53530). */
enum svc_health {
    HEALTH_NONE,        /* no [health] section */
    HEALTH_STARTING,    /* no success yet (failures inside start_period do not count) */
    HEALTH_OK,
    HEALTH_FAILING,     /* failed, fewer than `retries` times in a row */
    HEALTH_UNHEALTHY,   /* `retries` failures in a row: being restarted */
    HEALTH_RATELIMITED, /* HTTP 429: nothing counts or restarts until Retry-After passed */
    HEALTH_COUNT
};

enum svc_state {
    SVC_STOPPED,
    SVC_STARTING,
    SVC_RUNNING,
    SVC_BACKOFF,
    SVC_STOPPING,
    SVC_EXITED,
    SVC_FATAL,
    SVC_AUTHFAIL,
    SVC_STATE_COUNT
};

struct service;

/* What a service needs from its owner. Callbacks run on the loop, never re-entrantly. */
struct service_host {
    struct loop *loop;
    const struct sigstate *sig;
    bool console;                 /* forward output to nines' stdout as "name | line" */
    struct recwriter *console_w;  /* nines' stdout (whole records, never interleaved) */
    const char *token;            /* random per run of nines: NINES_INSTANCE = TOKEN.SEQ */
    const struct cgroups *cg;     /* per-service cgroups when available (cg->ok) */
    const char *notify_dir;       /* where per-service NOTIFY_SOCKETs live (run_dir/notify) */
    struct prober *prober;        /* health checks on the loop */
    uint64_t (*next_instance)(void *ctx); /* unique number per spawn, for the env marker */
    bool (*deps_ready)(void *ctx, const struct service *svc);
    void (*changed)(void *ctx, struct service *svc); /* state, want or counters changed */
    void (*rescan)(void *ctx); /* look for svc's leftover processes soon (service_tree_result) */
    void (*output)(void *ctx, struct service *svc); /* new lines in svc->log.ring */
    /* A transition that matters for people (FATAL, AUTHFAIL, UNHEALTHY, RECOVERED). */
    void (*alert)(void *ctx, struct service *svc, const char *state, const char *reason);
    void *ctx;
};

struct service {
    const struct config_service *conf; /* borrowed from the current config */
    const struct service_host *host;
    enum svc_state state;
    bool want_up;              /* the operator's intent, persisted */
    enum stop_reason stop_why; /* why nines is stopping the current process */
    pid_t pid;                 /* main process; 0 when none */
    pid_t sid;                 /* session of the last main process (its pid, by setsid) */
    bool tree_left;            /* main process gone; its other processes not yet known gone */
    unsigned tree_count;       /* leftover processes found in the last tree scan */
    bool kill_sent;            /* the stop timeout passed and KILL went out */
    bool cg_fresh;             /* its cgroup was (re)made by this nines and never killed since:
                                * only then may a child be cloned into it (see spawn_now) */
    pid_t *termed;             /* leftovers already sent stop_signal: a handler must get one */
    unsigned n_termed, cap_termed;
    bool exec_failed;          /* the current process reported a setup/exec error */
    int exec_errno;
    int exec_stage;            /* enum spawn_stage of the failure */
    int exec_creds_stage;      /* enum creds_stage when exec_stage is SPAWN_STAGE_CREDS */
    char instance[48];         /* NINES_INSTANCE value of the current process */
    uint64_t started_ms;       /* CLOCK_MONOTONIC of the spawn */
    uint64_t since_ms;         /* when the current state began (monotonic) */
    uint64_t since_wall_ms;    /* the same, wall clock, for status */
    uint64_t next_start_ms;    /* BACKOFF: when the next start is due (monotonic) */
    uint64_t restarts;         /* spawns after the first, persisted */
    uint64_t last_restart_wall_ms;
    struct exit_facts last;    /* how the last process ended */
    bool has_last;
    enum verdict pending;      /* decided at the main exit, applied once the tree is gone */
    char reason[192];          /* why the service is in its state, for status */
    char files_note[2][300];   /* what the last start found at pidfile / lockfile */
    struct backoff_policy bpol;
    struct backoff_state bo;
    struct budget budget;      /* failure times, wall-clock ms (persisted) */
    struct timer timer;        /* BACKOFF delay, or the stop timeout while STOPPING */
    struct timer life_timer;   /* max_lifetime */
    struct watcher errw;       /* spawn error pipe */
    struct notify_sock notify;   /* NOTIFY_SOCKET, open when ready=notify or [notify] watchdog */
    char notify_status[NOTIFY_STATUS_MAX]; /* the last STATUS= */
    uint64_t watchdog_ms;        /* current WATCHDOG_USEC / 1000 (the service may change it) */
    struct timer wd_timer;       /* WATCHDOG=1 must arrive before it fires */
    struct probe probe;          /* the health check in flight (never moves: svc is malloc'd) */
    struct timer health_timer;   /* the next check */
    enum svc_health health;
    unsigned health_failures;    /* consecutive, counted outside start_period */
    uint64_t health_since_ms;    /* spawn time of the instance the health belongs to */
    uint64_t healthy_since_ms;   /* first success of this instance (reset_after counts from it) */
    uint64_t ratelimited_until_ms;
    bool has_health_result;
    struct probe_result health_last;
    uint64_t health_last_wall_ms;
    struct authsrc auth;         /* the token, re-read at every start; only its fingerprint shows */
    bool alerted_bad;            /* an alert for a bad state went out: RUNNING again is news */
    char last_event[200];        /* the last pattern matched in its output ("auth: 4004") */
    uint64_t last_event_wall_ms;
    char config_event[200];      /* what made it FATAL by a config-class event */
    char auth_event[320];        /* what raised the last auth event ("health HTTP 401", "exit 77") */
    uint64_t auth_wall_ms;       /* when */
    int token_wd;                /* inotify watch on the token file's directory, -1: none */
    bool auth_probing;           /* leaving AUTHFAIL: the users/@me probe is in flight */
    struct logcap_host log_host;
    struct logcap log;         /* output: ring of last lines, log file, console */
};

/* Name of a health value ("ok", "unhealthy"...); never NULL. */
const char *svc_health_name(enum svc_health h);

/* Name of a state ("RUNNING"...); never NULL. */
const char *svc_state_name(enum svc_state s);

/* Prepares svc for conf (not started). Returns 0 or -ENOMEM (the restart budget ring). */
int service_init(struct service *svc, const struct config_service *conf,
                 const struct service_host *host);

/* Releases what svc owns. Its processes must be gone (or are abandoned). */
void service_free(struct service *svc);

/* Applies a new definition of the same service in place (reload, CHANGED_INPLACE or before a
 * restart): restart policy, budget size, stop timeout... Returns 0 or -ENOMEM. */
int service_update_conf(struct service *svc, const struct config_service *conf);

/* The operator (or boot) wants it up: clears a terminal state and backoff when `reset`, then
 * starts it when its after= dependencies are ready, or waits for them. */
void service_start(struct service *svc, bool reset);

/* Stops the process (stop_signal + CONT to its group, KILL at stop_timeout) for `why`. With
 * STOP_OPERATOR or STOP_SHUTDOWN the service stays down afterwards. */
void service_stop(struct service *svc, enum stop_reason why);

/* Re-checks a service waiting for its dependencies (another service became ready). */
void service_poke(struct service *svc);

/* The supervisor reaped svc's main process with wait status `status`. */
void service_on_exit(struct service *svc, int status);

/* Result of a tree scan while tree_left: the live processes still belonging to svc's last
 * generation (same session, or carrying its NINES_INSTANCE marker). They get stop_signal + CONT,
 * after stop_timeout KILL; with none left the pending verdict is applied. */
void service_tree_result(struct service *svc, const pid_t *pids, unsigned n);

/* Records that pid (a leftover in the main process's group) already got stop_signal through the
 * group, so the tree sweep does not send it a second one. */
void service_note_signalled(struct service *svc, pid_t pid);

/* The token source's directory changed (inotify): leaves AUTHFAIL when the cleaned token is a
 * different one that validates (after the users/@me probe when [auth] probe = on). */
void service_token_event(struct service *svc);

/* Records an authentication event (health 401/403, a log pattern) and stops the service into
 * AUTHFAIL. source is shown in status ("health HTTP 401"). */
void service_auth_failed(struct service *svc, const char *source);

/* True when svc has no process at all (main and leftovers gone). */
bool service_idle(const struct service *svc);

/* True when svc counts as ready for services that are after= it. */
bool service_ready(const struct service *svc);

/* Sends signo to the service's process group (its main process when the group is gone).
 * Returns 0 or -errno (-ESRCH when it has no process). */
int service_signal(struct service *svc, int signo);

#endif
