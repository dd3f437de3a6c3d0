/* supervisor_int: the supervisor's state, shared only by supervisor.c (the set, reaping, reload,
 * shutdown) and control.c (the verbs of the control socket). Not a public interface. */
#ifndef NINES_SUPERVISOR_INT_H
#define NINES_SUPERVISOR_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "alert.h"
#include "config.h"
#include "instance.h"
#include "ctl.h"
#include "loop.h"
#include "notify.h"
#include "probe.h"
#include "service.h"
#include "sig.h"
#include "statefile.h"
#include "supervisor.h"

/* While a generation's leftovers are being stopped, rescan at least this often: SIGCHLD from
 * the reap loop triggers scans too, this only bounds how long a miss can last. */
/* SAVE_DELAY_MS: the state file is on disk within a second, and its fsyncs stay off the
 * restart path (a crash-loop restart with delay 0 must not wait for them). */
enum { RESCAN_MS = 500, SAVE_DELAY_MS = 1000, ORPHAN_GRACE_MS = 5000 };

struct supervisor {
    const struct supervisor_opts *opts;
    struct loop *loop;
    struct sigstate sig;
    struct watcher sigw;
    struct config *cfg;
    struct config **retired;  /* old configs still borrowed by removed, stopping services */
    size_t n_retired;
    struct service **svcs;    /* current services, then removed ones still stopping */
    size_t n_svcs;
    struct service_host host;
    uint64_t instance_seq;
    struct timer scan_timer, save_timer, shutdown_timer, settle_timer;
    bool shutting_down, orphans_swept;
    bool state_ok;
    uint64_t procs_hash;          /* of the pids last written to run_dir/procs */
    char state_path[PATH_MAX];
    struct statefile state;
    struct ctl *ctl;              /* control socket server, NULL when it could not open */
    struct waiter *waiters;       /* control requests waiting for services to settle */
    struct timer waiter_timer;    /* deadlines of those requests */
    struct follower *followers;   /* `ninesctl log -f` clients */
    struct cgroups cg;            /* per-service cgroup v2 subtrees, when nines may create them */
    struct instance inst;         /* the run_dir lock, our token, the previous nines' survivors */
    pid_t *survivors;             /* of a previous nines, being stopped before services start */
    int *survivor_fds;            /* their pidfds (parallel to survivors; -1: none, see below) */
    uint64_t *survivor_starts;    /* their start times (proctree_start_time), where no pidfd */
    size_t n_survivors;
    uint64_t sweep_deadline;
    bool sweep_killed;
    struct timer sweep_timer;
    char notify_dir[PATH_MAX];    /* run_dir/notify: the services' NOTIFY_SOCKETs */
    struct notify_parent parent;  /* sd_notify towards whoever started nines (systemd) */
    bool parent_ready_sent;
    struct timer parent_wd_timer; /* WATCHDOG=1 to the parent at half its WATCHDOG_USEC */
    struct prober prober;         /* health checks (curl multi on the loop, TCP, exec) */
    struct alerter alerter;       /* [alert] exec hook and webhook */
    struct recwriter console;     /* nines' stdout for the services' console copy */
    int hwwd_fd;                  /* [nines] watchdog_device, fed from the loop; -1: none */
    struct timer hwwd_timer;
    uint64_t hwwd_interval_ms;
    bool alerter_ok;
    struct watcher inotify;       /* token files' directories (fd -1: inotify unavailable) */
    bool prober_ok;
};

struct service *sup_find_service(struct supervisor *s, const char *name);

/* Re-reads the configuration and applies the difference. Errors are printed to stderr and, when
 * errs is not NULL, appended to it. Returns 0, or -EINVAL/-ENOMEM with the old config kept. */
int sup_reload(struct supervisor *s, struct config_errors *errs);

/* Starts the ordered shutdown (idempotent). signo is for the log line (0: a control request). */
void sup_start_shutdown(struct supervisor *s, int signo);

/* control.c: opens the control socket in run_dir. Returns 0 or -errno (logged). */
int control_open(struct supervisor *s);

/* control.c: closes it (pending requests get their answer or are dropped). */
void control_close(struct supervisor *s);

/* control.c: svc has new output lines: stream them to `log -f` clients. */
void control_output(struct supervisor *s, struct service *svc);

/* control.c: a service changed or time passed: finish requests that were waiting for it. */
void control_settle(struct supervisor *s);

#endif
