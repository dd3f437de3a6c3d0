#include "supervisor.h"
#include "supervisor_int.h"

#include "config.h"
#include "log.h"
#include "loop.h"
#include "proctree.h"
#include "service.h"
#include "sig.h"
#include "statefile.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers over the set ---- */

struct service *sup_find_service(struct supervisor *s, const char *name)
{
    for (size_t i = 0; i < s->n_svcs; i++)
        if (!strcmp(s->svcs[i]->conf->name, name))
            return s->svcs[i];
    return NULL;
}

static bool is_current(const struct supervisor *s, const struct service *svc)
{
    return config_find_service(s->cfg, svc->conf->name) == svc->conf;
}

static bool all_idle(const struct supervisor *s)
{
    for (size_t i = 0; i < s->n_svcs; i++)
        if (!service_idle(s->svcs[i]))
            return false;
    return true;
}

/* ---- host callbacks ---- */

static uint64_t next_instance(void *ctx)
{
    struct supervisor *s = ctx;
    return ++s->instance_seq;
}

static bool deps_ready(void *ctx, const struct service *svc)
{
    struct supervisor *s = ctx;
    for (size_t i = 0; i < svc->conf->n_after; i++) {
        struct service *dep = sup_find_service(s, svc->conf->after[i]);
        if (!dep || !service_ready(dep))
            return false;
    }
    return true;
}

static void stop_for_shutdown(struct supervisor *s);
static void maybe_finish(struct supervisor *s);
static void free_removed(struct supervisor *s);

/* A service changed: persist soon, and let the set react (dependents start, shutdown goes on,
 * removed services are freed) from a zero-delay timer, never from inside the service's own call
 * stack, so no service is re-entered while it is changing. */
static void changed(void *ctx, struct service *svc)
{
    struct supervisor *s = ctx;
    (void)svc;
    if (!timer_active(&s->save_timer))
        timer_start(s->loop, &s->save_timer, SAVE_DELAY_MS);
    if (!timer_active(&s->settle_timer))
        timer_start(s->loop, &s->settle_timer, 0);
}

/* READY=1 to our parent once every wanted service has left STARTING (systemd Type=notify). */
static void maybe_parent_ready(struct supervisor *s)
{
    if (s->parent_ready_sent || s->survivors || s->shutting_down)
        return;
    size_t running = 0;
    for (size_t i = 0; i < s->n_svcs; i++) {
        if (s->svcs[i]->state == SVC_STARTING)
            return;
        running += s->svcs[i]->state == SVC_RUNNING;
    }
    s->parent_ready_sent = true;
    notify_parent_ready(&s->parent);
    notify_parent_status(&s->parent, "%zu of %zu services running", running, s->n_svcs);
}

static void on_parent_wd(struct loop *loop, struct timer *t)
{
    struct supervisor *s = t->data;
    (void)loop;
    /* Sent from the loop itself: if the loop hangs, the keep-alives stop and systemd acts. */
    notify_parent_watchdog(&s->parent);
    timer_start(s->loop, &s->parent_wd_timer, notify_parent_keepalive_ms(&s->parent));
}

/* The hardware watchdog is fed from a timer on the loop: if the loop hangs, the machine
 * reboots, which is what the device is for. */
static void on_hwwd(struct loop *loop, struct timer *t)
{
    struct supervisor *s = t->data;
    (void)loop;
    if (hwwd_keepalive(s->hwwd_fd) < 0)
        log_warn("cannot feed %s: %s", s->cfg->main.watchdog_device, strerror(errno));
    timer_start(s->loop, &s->hwwd_timer, s->hwwd_interval_ms);
}

static void open_hwwd(struct supervisor *s)
{
    const char *dev = s->cfg->main.watchdog_device;
    timer_init(&s->hwwd_timer, on_hwwd, s);
    if (!dev)
        return;
    unsigned timeout_s = 0;
    int fd = hwwd_open(dev, &timeout_s);
    if (fd < 0) {
        log_error("cannot open watchdog device %s: %s", dev, strerror(-fd));
        return;
    }
    s->hwwd_fd = fd;
    s->hwwd_interval_ms = hwwd_interval_ms(timeout_s);
    log_info("feeding %s every %llu ms (timeout %us)", dev, (unsigned long long)s->hwwd_interval_ms,
             timeout_s);
    timer_start(s->loop, &s->hwwd_timer, s->hwwd_interval_ms);
}

static void on_settle_timer(struct loop *loop, struct timer *t)
{
    struct supervisor *s = t->data;
    (void)loop;
    control_settle(s);
    maybe_parent_ready(s);
    if (s->shutting_down) {
        stop_for_shutdown(s);
        maybe_finish(s);
        return;
    }
    free_removed(s);
    for (size_t i = 0; i < s->n_svcs; i++)
        service_poke(s->svcs[i]);
}

static void output(void *ctx, struct service *svc)
{
    struct supervisor *s = ctx;
    if (s->followers)
        control_output(s, svc);
}

static void alert(void *ctx, struct service *svc, const char *state, const char *reason)
{
    struct supervisor *s = ctx;
    if (s->alerter_ok)
        alerter_event(&s->alerter, svc->conf->name, state, reason);
}

static void rescan(void *ctx)
{
    struct supervisor *s = ctx;
    if (!timer_active(&s->scan_timer) || s->scan_timer.due_ms > now_ms())
        timer_start(s->loop, &s->scan_timer, 0);
}

/* ---- tree scans: what is left of a generation whose main process ended ---- */

struct found {
    struct service *svc;
    pid_t *pids;
    unsigned n, cap;
    bool nomem;
};

struct scan {
    struct found *f;
    size_t n;
};

static void found_push(struct found *f, pid_t pid)
{
    if (f->n == f->cap) {
        unsigned cap = f->cap ? f->cap * 2 : 16;
        pid_t *v = realloc(f->pids, cap * sizeof *v);
        if (!v) {
            f->nomem = true; /* the scan is then inconclusive and repeated */
            return;
        }
        f->pids = v;
        f->cap = cap;
    }
    f->pids[f->n++] = pid;
}

struct procs {
    struct proc_info *v;
    char **markers; /* parallel to v: a copy of NINES_INSTANCE when read, else NULL */
    size_t n, cap;
    bool nomem;
};

static void collect_visit(void *ctx, const struct proc_info *pi, const char *marker)
{
    struct procs *ps = ctx;
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 256;
        struct proc_info *v = realloc(ps->v, cap * sizeof *v);
        char **m = v ? realloc(ps->markers, cap * sizeof *m) : NULL;
        if (v)
            ps->v = v;
        if (!v || !m) {
            ps->nomem = true;
            return;
        }
        ps->markers = m;
        ps->cap = cap;
    }
    ps->v[ps->n] = *pi;
    ps->markers[ps->n] = marker ? strdup(marker) : NULL;
    if (marker && !ps->markers[ps->n])
        ps->nomem = true;
    ps->n++;
}

static void procs_free(struct procs *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        free(ps->markers[i]);
    free(ps->markers);
    free(ps->v);
}

static bool found_has(const struct found *f, pid_t pid)
{
    for (unsigned j = 0; j < f->n; j++)
        if (f->pids[j] == pid)
            return true;
    return false;
}

/* A generation's leftovers: its session, its NINES_INSTANCE marker (read for adopted orphans),
 * and, to a fixed point, every process whose parent is one of them. */
static void attribute(struct found *f, const struct procs *ps)
{
    const struct service *svc = f->svc;
    for (size_t i = 0; i < ps->n; i++) {
        const struct proc_info *pi = &ps->v[i];
        if (pi->sid == svc->sid || (ps->markers[i] && !strcmp(ps->markers[i], svc->instance))) {
            /* Still in the main process's group, which already got stop_signal from
             * service_stop(): a second one would interrupt its handler. */
            if (pi->pgid == svc->sid && svc->stop_why != STOP_NONE)
                service_note_signalled(f->svc, pi->pid);
            found_push(f, pi->pid);
        }
    }
    for (bool grew = f->n > 0; grew;) {
        grew = false;
        for (size_t i = 0; i < ps->n; i++)
            if (!found_has(f, ps->v[i].pid) && found_has(f, ps->v[i].ppid)) {
                found_push(f, ps->v[i].pid);
                grew = true;
            }
    }
}

/* Adds the live members of the service's cgroup that the scan did not see (e.g. a process that
 * cleared its environment after setsid). */
static void add_cgroup_pids(struct supervisor *s, struct found *f)
{
    pid_t *v = NULL;
    size_t n = 0, cap = 0;
    if (cgroup_pids(&s->cg, f->svc->conf->name, &v, &n, &cap) < 0) {
        free(v);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct proc_info pi;
        if (found_has(f, v[i]) || !proctree_alive(v[i]) || proctree_info(v[i], &pi) < 0)
            continue;
        if (pi.pgid == f->svc->sid && f->svc->stop_why != STOP_NONE)
            service_note_signalled(f->svc, v[i]); /* got stop_signal through the group */
        found_push(f, v[i]);
    }
    free(v);
}

static void on_scan_timer(struct loop *loop, struct timer *t)
{
    struct supervisor *s = t->data;
    (void)loop;
    struct scan sc = {calloc(s->n_svcs ? s->n_svcs : 1, sizeof *sc.f), 0};
    if (!sc.f) {
        timer_start(s->loop, &s->scan_timer, RESCAN_MS); /* try again; never give up on a tree */
        return;
    }
    for (size_t i = 0; i < s->n_svcs; i++)
        if (s->svcs[i]->tree_left)
            sc.f[sc.n++].svc = s->svcs[i];
    /* With a cgroup per service its member list is the whole truth (nothing escapes a cgroup)
     * and costs one small read; /proc is walked only without one. */
    struct procs ps = {0};
    int rc = sc.n && !s->cg.ok ? proctree_scan("NINES_INSTANCE", false, collect_visit, &ps) : 0;
    if (rc < 0)
        log_warn("cannot scan /proc: %s", strerror(-rc));
    if (ps.nomem)
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < sc.n; i++) {
        if (s->cg.ok)
            add_cgroup_pids(s, &sc.f[i]);
        else
            attribute(&sc.f[i], &ps);
    }
    procs_free(&ps);
    bool again = false;
    for (size_t i = 0; i < sc.n; i++) {
        if (rc < 0 || sc.f[i].nomem)
            again = true; /* unknown: do not declare the tree gone */
        else
            service_tree_result(sc.f[i].svc, sc.f[i].pids, sc.f[i].n);
        free(sc.f[i].pids);
        again = again || sc.f[i].svc->tree_left;
    }
    free(sc.f);
    if (again && !timer_active(&s->scan_timer))
        timer_start(s->loop, &s->scan_timer, RESCAN_MS);
}

/* ---- reaping ---- */

static struct service *service_by_pid(struct supervisor *s, pid_t pid)
{
    for (size_t i = 0; i < s->n_svcs; i++)
        if (s->svcs[i]->pid == pid)
            return s->svcs[i];
    return NULL;
}

static void reap(struct supervisor *s)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid <= 0)
            break;
        if (s->prober_ok && prober_child_exited(&s->prober, pid, status))
            continue; /* an exec health check */
        if (s->alerter_ok && alerter_child_exited(&s->alerter, pid, status))
            continue; /* the alert hook */
        struct service *svc = service_by_pid(s, pid);
        if (svc)
            service_on_exit(svc, status);
        else
            log_debug("reaped pid %d (not a service's main process)", (int)pid);
    }
    for (size_t i = 0; i < s->n_svcs; i++)
        if (s->svcs[i]->tree_left) {
            rescan(s);
            break;
        }
    if (s->shutting_down)
        maybe_finish(s);
}

/* ---- persisted state (operator intent, counters, restart budget) ---- */

/* run_dir/procs: the main processes we run now, for the sweep after a SIGKILL of nines. Written
 * only when the set of pids changed (it reads /proc for each). The hash of what is on disk is
 * kept only once the write succeeded: a failed one (EMFILE, ENOSPC, ENOMEM) is tried again by
 * the save timer, armed here for that, instead of leaving a stale file until the pids change. */
static void record_procs(struct supervisor *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the pids */
    for (size_t i = 0; i < s->n_svcs; i++)
        h = (h ^ (uint64_t)s->svcs[i]->pid) * 1099511628211ull;
    if (h == s->procs_hash)
        return;
    int rc = -ENOMEM;
    struct instance_proc *v = calloc(s->n_svcs + 1, sizeof *v);
    if (v) {
        size_t n = 0;
        for (size_t i = 0; i < s->n_svcs; i++)
            if (s->svcs[i]->pid)
                v[n++] = (struct instance_proc){s->svcs[i]->conf->name, s->svcs[i]->pid};
        rc = instance_record(&s->inst, v, n);
        free(v);
    }
    if (rc == 0) {
        s->procs_hash = h;
        return;
    }
    log_warn("cannot write %s: %s; retrying in 5s", s->inst.procs_path, strerror(-rc));
    if (!timer_active(&s->save_timer))
        timer_start(s->loop, &s->save_timer, 5000);
}

static void on_save_timer(struct loop *loop, struct timer *t)
{
    struct supervisor *s = t->data;
    (void)loop;
    record_procs(s);
    if (!s->state_ok)
        return;
    struct statefile sf;
    statefile_init(&sf);
    int rc = 0;
    uint64_t now = wall_ms();
    for (size_t i = 0; i < s->n_svcs && rc == 0; i++) {
        struct service *svc = s->svcs[i];
        if (!is_current(s, svc))
            continue; /* removed from the config: forget it */
        uint32_t lim = budget_limit(&svc->budget);
        uint64_t *ts = lim ? malloc(lim * sizeof *ts) : NULL;
        size_t n = ts ? budget_export(&svc->budget, now, ts, lim) : 0;
        if (n > lim)
            n = lim;
        rc = statefile_set(&sf, svc->conf->name, svc->want_up ? STATEFILE_WANT_UP : STATEFILE_WANT_DOWN,
                           svc->restarts, svc->last_restart_wall_ms, ts, n);
        free(ts);
    }
    if (rc == 0)
        rc = statefile_save(s->state_path, &sf);
    statefile_free(&sf);
    if (rc < 0) {
        log_warn("cannot save %s: %s; retrying in 5s", s->state_path, strerror(-rc));
        timer_start(s->loop, &s->save_timer, 5000);
    }
}

static void restore_state(struct supervisor *s, struct service *svc)
{
    const struct statefile_entry *e = statefile_get(&s->state, svc->conf->name);
    if (!e)
        return;
    svc->want_up = e->want == STATEFILE_WANT_UP;
    svc->restarts = e->restarts;
    svc->last_restart_wall_ms = e->last_restart_ms;
    if (budget_import(&svc->budget, e->failures, e->n_failures, wall_ms()) < 0)
        log_warn("%s: cannot restore the restart budget: out of memory", svc->conf->name);
}

static int mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p)
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -errno;
        if (!c)
            return 0;
        *p = c;
    }
}

static void load_state(struct supervisor *s)
{
    const char *dir = s->cfg->main.state_dir;
    int rc = mkdir_p(dir, 0755);
    if (rc == 0)
        rc = statefile_path(s->state_path, sizeof s->state_path, dir);
    if (rc < 0) {
        log_warn("state_dir %s unusable (%s): operator intent and restart budgets will not "
                 "survive a restart of nines", dir, strerror(-rc));
        return;
    }
    s->state_ok = true;
    char warn[512] = "";
    rc = statefile_load(s->state_path, &s->state, warn, sizeof warn);
    if (rc < 0 && rc != -ENOENT)
        log_warn("cannot read %s: %s; starting from a clean state", s->state_path, strerror(-rc));
    else if (warn[0])
        log_warn("%s: %s", s->state_path, warn);
}

/* ---- the set: add, remove, reload ---- */

static struct service *add_service(struct supervisor *s, const struct config_service *conf)
{
    struct service **v = realloc(s->svcs, (s->n_svcs + 1) * sizeof *v);
    if (!v)
        return NULL;
    s->svcs = v;
    struct service *svc = malloc(sizeof *svc);
    if (!svc)
        return NULL;
    if (service_init(svc, conf, &s->host) < 0) {
        service_free(svc);
        free(svc);
        return NULL;
    }
    s->svcs[s->n_svcs++] = svc;
    return svc;
}

static bool config_in_use(const struct supervisor *s, const struct config *cfg)
{
    for (size_t i = 0; i < s->n_svcs; i++) {
        const struct config_service *c = s->svcs[i]->conf;
        if (c >= cfg->services && c < cfg->services + cfg->n_services)
            return true;
    }
    return false;
}

/* Frees services removed by a reload once their processes are gone, then unused old configs. */
static void free_removed(struct supervisor *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n_svcs; i++) {
        struct service *svc = s->svcs[i];
        if (!is_current(s, svc) && service_idle(svc)) {
            log_info("%s: removed", svc->conf->name);
            service_free(svc);
            free(svc);
            continue;
        }
        s->svcs[k++] = svc;
    }
    s->n_svcs = k;
    k = 0;
    for (size_t i = 0; i < s->n_retired; i++) {
        if (config_in_use(s, s->retired[i]))
            s->retired[k++] = s->retired[i];
        else
            config_free(s->retired[i]);
    }
    s->n_retired = k;
}

static void print_errors(const struct config_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, "%s\n", errs->msgs[i]);
    if (errs->nomem)
        fprintf(stderr, "nines: out of memory while collecting config errors\n");
}

/* Loads the config, prints its errors, and hands them to keep (when not NULL). */
static int load_config(const struct supervisor_opts *o, struct config **out,
                       struct config_errors *keep)
{
    struct config_errors errs = {0};
    unsigned flags = o->config_path ? 0 : CONFIG_MAIN_OPTIONAL;
    int rc = config_load(o->config_path, flags, out, &errs);
    print_errors(&errs);
    if (keep)
        *keep = errs;
    else
        config_errors_free(&errs);
    return rc;
}

static void apply_change(struct supervisor *s, const struct config_diff_entry *e)
{
    struct service *svc = e->old_svc ? sup_find_service(s, e->name) : NULL;
    switch (e->change) {
    case CONFIG_ADDED:
        svc = add_service(s, e->new_svc);
        if (!svc) {
            log_error("%s: cannot add: out of memory", e->name);
            return;
        }
        restore_state(s, svc);
        if (svc->want_up)
            service_start(svc, false);
        return;
    case CONFIG_REMOVED:
        if (svc)
            service_stop(svc, STOP_OPERATOR); /* freed by free_removed() once idle */
        return;
    case CONFIG_CHANGED_PROCESS:
    case CONFIG_CHANGED_INPLACE:
    case CONFIG_UNCHANGED:
    case CONFIG_CHANGE_COUNT:
        break;
    }
    if (!svc)
        return;
    if (service_update_conf(svc, e->new_svc) < 0)
        log_error("%s: cannot apply the new restart limit: out of memory", e->name);
    /* Only a changed process is restarted, and only when it runs: a service the operator
     * stopped stays stopped (supervisord#729, #1411). */
    if (e->change == CONFIG_CHANGED_PROCESS && svc->pid) {
        log_info("%s: definition changed, restarting", e->name);
        service_stop(svc, STOP_RESTART);
    }
}

static void watch_tokens(struct supervisor *s);

int sup_reload(struct supervisor *s, struct config_errors *errs)
{
    log_info("reloading the configuration");
    struct config *ncfg;
    int rc = load_config(s->opts, &ncfg, errs);
    if (rc < 0) {
        log_error("reload failed; keeping the running configuration");
        return rc;
    }
    struct config_diff_entry *d;
    size_t n;
    struct config **r = realloc(s->retired, (s->n_retired + 1) * sizeof *r);
    if (!r || config_diff(s->cfg, ncfg, &d, &n) < 0) {
        if (r)
            s->retired = r;
        log_error("reload failed: out of memory; keeping the running configuration");
        config_free(ncfg);
        return -ENOMEM;
    }
    s->retired = r;
    struct config *old = s->cfg;
    s->cfg = ncfg;
    /* Unchanged and changed services move to the new config first, so that the old one is
     * borrowed only by removed services afterwards. */
    for (size_t i = 0; i < n; i++)
        if (d[i].change != CONFIG_ADDED)
            apply_change(s, &d[i]);
    for (size_t i = 0; i < n; i++)
        if (d[i].change == CONFIG_ADDED)
            apply_change(s, &d[i]);
    free(d);
    s->retired[s->n_retired++] = old;
    free_removed(s);
    for (size_t i = 0; i < s->n_svcs; i++)
        service_poke(s->svcs[i]);
    watch_tokens(s);
    if (s->alerter_ok &&
        alerter_configure(&s->alerter, s->cfg->main.alert_argv, s->cfg->main.alert_webhook) < 0)
        log_error("cannot apply the new [alert] settings");
    if (s->ctl)
        ctl_set_groups(s->ctl, s->cfg->main.control_group ? s->cfg->main.control_gid : CTL_NO_GID,
                       s->cfg->main.status_group ? s->cfg->main.status_gid : CTL_NO_GID);
    return 0;
}

/* ---- shutdown: reverse after= order, each bounded by stop_timeout, all by shutdown_timeout ---- */

/* True while a service that is after= svc still has processes: svc must outlive it. */
static bool has_live_dependent(const struct supervisor *s, const struct service *svc)
{
    for (size_t i = 0; i < s->n_svcs; i++) {
        const struct service *o = s->svcs[i];
        if (service_idle(o))
            continue;
        for (size_t j = 0; j < o->conf->n_after; j++)
            if (!strcmp(o->conf->after[j], svc->conf->name))
                return true;
    }
    return false;
}

static void stop_for_shutdown(struct supervisor *s)
{
    for (size_t i = 0; i < s->n_svcs; i++) {
        struct service *svc = s->svcs[i];
        if (svc->stop_why == STOP_SHUTDOWN)
            continue; /* already on its way */
        if (!has_live_dependent(s, svc))
            service_stop(svc, STOP_SHUTDOWN);
    }
}

static void finish_now(struct supervisor *s)
{
    timer_stop(s->loop, &s->shutdown_timer);
    loop_stop(s->loop);
}

/* Everything supervised is down. Processes that belong to no service (adopted orphans) get
 * TERM and CONT and a grace, as in the single-child mode; nines leaves when none is left. */
static void maybe_finish(struct supervisor *s)
{
    if (!all_idle(s))
        return;
    siginfo_t si;
    /* WNOWAIT: only ask whether any child exists; reap() does the reaping. */
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD) {
        finish_now(s);
        return;
    }
    if (!s->orphans_swept) {
        s->orphans_swept = true;
        proctree_signal_all(SIGTERM);
        proctree_signal_all(SIGCONT);
        uint64_t left = s->shutdown_timer.due_ms > now_ms() ? s->shutdown_timer.due_ms - now_ms() : 0;
        timer_start(s->loop, &s->shutdown_timer, left < ORPHAN_GRACE_MS ? left : ORPHAN_GRACE_MS);
    }
}

static void on_shutdown_timer(struct loop *loop, struct timer *t)
{
    struct supervisor *s = t->data;
    (void)loop;
    log_warn("shutdown timeout: sending KILL to everything left");
    proctree_signal_all(SIGKILL);
    for (size_t i = 0; i < s->n_svcs; i++)
        service_signal(s->svcs[i], SIGKILL);
    finish_now(s);
}

void sup_start_shutdown(struct supervisor *s, int signo)
{
    char name[16];
    const char *why = signo ? sig_name(signo, name, sizeof name) : NULL;
    if (s->shutting_down) {
        log_info("%s%s again: shutdown already in progress", why ? "SIG" : "", why ? why : "shutdown");
        return;
    }
    log_info("%s%s: shutting down", why ? "SIG" : "", why ? why : "shutdown requested");
    s->shutting_down = true;
    notify_parent_stopping(&s->parent);
    timer_start(s->loop, &s->shutdown_timer, s->cfg->main.shutdown_timeout_ms);
    stop_for_shutdown(s);
    maybe_finish(s);
}

/* ---- signals ---- */

static void on_signal(struct supervisor *s, int signo)
{
    switch (signo) {
    case SIGCHLD: reap(s); return;
    case SIGPIPE: return; /* a closed stdout/stderr: logging it would raise it again */
    case SIGTERM:
    case SIGINT: sup_start_shutdown(s, signo); return;
    case SIGHUP:
        if (!s->shutting_down)
            sup_reload(s, NULL);
        return;
    default: {
        char name[16];
        /* Job-control signals never stop nines (they are blocked); the rest is not ours. */
        log_debug("ignoring SIG%s", sig_name(signo, name, sizeof name));
    }
    }
}

static void on_signalfd(struct loop *loop, struct watcher *w, uint32_t events)
{
    struct supervisor *s = w->data;
    (void)loop;
    (void)events;
    struct signalfd_siginfo si[16];
    for (;;) {
        ssize_t n = read(w->fd, si, sizeof si);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        for (size_t i = 0; i < (size_t)n / sizeof si[0]; i++)
            on_signal(s, (int)si[i].ssi_signo);
    }
}

/* ---- token files: a change leaves AUTHFAIL at once, without polling ---- */

/* Watches the directory, not the file: editors replace files, and Kubernetes swaps a `..data`
 * symlink, so the file's own inode would go stale (inotify(7)). */
static void watch_tokens(struct supervisor *s)
{
    if (s->inotify.fd < 0)
        return;
    for (size_t i = 0; i < s->n_svcs; i++) {
        struct service *svc = s->svcs[i];
        const char *file = svc->conf->auth.token_file;
        svc->token_wd = -1;
        if (!svc->conf->auth.enabled || !file)
            continue;
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", file);
        char *slash = strrchr(dir, '/');
        if (slash == dir)
            slash[1] = '\0';
        else if (slash)
            *slash = '\0';
        else
            snprintf(dir, sizeof dir, ".");
        int wd = inotify_add_watch(s->inotify.fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
                                                           IN_DELETE | IN_ATTRIB | IN_MOVED_FROM);
        if (wd < 0)
            log_warn("%s: cannot watch %s for a new token: %s (ninesctl start/recover still work)",
                     svc->conf->name, dir, strerror(errno));
        svc->token_wd = wd;
    }
}

static void on_inotify(struct loop *loop, struct watcher *w, uint32_t events)
{
    struct supervisor *s = w->data;
    (void)loop;
    (void)events;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            for (size_t i = 0; i < s->n_svcs; i++)
                if (s->svcs[i]->token_wd == ev->wd || (ev->mask & IN_Q_OVERFLOW))
                    service_token_event(s->svcs[i]);
            p += sizeof *ev + ev->len;
        }
    }
}

static void open_inotify(struct supervisor *s)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    watcher_init(&s->inotify, fd, on_inotify, s);
    if (fd < 0 || loop_watch(s->loop, &s->inotify, EPOLLIN) < 0) {
        log_warn("inotify unavailable (%s): a new token is noticed only on ninesctl start/recover",
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        s->inotify.fd = -1;
    }
}

/* ---- one nines per run_dir; the survivors of a previous one are stopped first ---- */

static int take_lock(struct supervisor *s)
{
    const char *dir = s->cfg->main.run_dir;
    int rc = mkdir_p(dir, 0755);
    pid_t holder = 0;
    if (rc == 0)
        rc = instance_lock(&s->inst, dir, &holder);
    if (rc == -EBUSY)
        log_error("another nines (pid %d) is running on %s (lock %s held); not starting",
                  (int)holder, dir, s->inst.lock_path);
    else if (rc < 0)
        log_error("cannot lock run_dir %s: %s", dir, strerror(-rc));
    return rc;
}

static void start_all(struct supervisor *s)
{
    for (size_t i = 0; i < s->n_svcs; i++)
        if (s->svcs[i]->want_up)
            service_start(s->svcs[i], false);
    timer_start(s->loop, &s->settle_timer, 0); /* READY=1 to the parent even with no service */
}

/* Survivors are held by pidfd (pidfd_open(2)): they are not our children, so their pids could be
 * recycled by strangers while we wait; a pidfd always names the process it was opened for.
 * Without pidfds (Linux < 5.3, or a seccomp profile older than the call: Docker < 20.10 answers
 * EPERM) a survivor is known by pid and start time, checked again right before every signal:
 * a recycled pid has another start time. Only a reuse between that check and kill(2) remains. */
static bool survivor_same(const struct supervisor *s, size_t i)
{
    uint64_t start;
    int rc = proctree_start_time(s->survivors[i], &start);
    if (rc < 0)
        return rc != -ESRCH; /* unreadable (EMFILE) is not gone: keep it, look again later */
    return start == s->survivor_starts[i] && proctree_alive(s->survivors[i]);
}

static void signal_survivors(struct supervisor *s, int signo)
{
    for (size_t i = 0; i < s->n_survivors; i++) {
        if (s->survivor_fds[i] >= 0)
            syscall(SYS_pidfd_send_signal, s->survivor_fds[i], signo, NULL, 0);
        else if (survivor_same(s, i))
            kill(s->survivors[i], signo);
    }
}

/* A pidfd becomes readable when its process has exited (pidfd_open(2)). */
static bool survivor_exited(const struct supervisor *s, size_t i)
{
    if (s->survivor_fds[i] < 0)
        return !survivor_same(s, i);
    struct pollfd p = {s->survivor_fds[i], POLLIN, 0};
    return poll(&p, 1, 0) != 0;
}

static void end_sweep(struct supervisor *s)
{
    for (size_t i = 0; i < s->n_survivors; i++)
        if (s->survivor_fds[i] >= 0)
            close(s->survivor_fds[i]);
    free(s->survivors);
    free(s->survivor_fds);
    free(s->survivor_starts);
    s->survivors = NULL;
    s->survivor_fds = NULL;
    s->survivor_starts = NULL;
    s->n_survivors = 0;
}

static void on_sweep_timer(struct loop *loop, struct timer *t)
{
    struct supervisor *s = t->data;
    (void)loop;
    size_t k = 0;
    for (size_t i = 0; i < s->n_survivors; i++) {
        if (survivor_exited(s, i)) {
            if (s->survivor_fds[i] >= 0)
                close(s->survivor_fds[i]);
            continue;
        }
        s->survivors[k] = s->survivors[i];
        s->survivor_fds[k] = s->survivor_fds[i];
        s->survivor_starts[k++] = s->survivor_starts[i];
    }
    s->n_survivors = k;
    if (k && now_ms() < s->sweep_deadline) {
        timer_start(s->loop, &s->sweep_timer, 50);
        return;
    }
    if (k && !s->sweep_killed) {
        log_warn("%zu process%s of the previous nines ignored TERM; sending KILL", k, k == 1 ? "" : "es");
        signal_survivors(s, SIGKILL);
        s->sweep_killed = true;
        s->sweep_deadline = now_ms() + 2000;
        timer_start(s->loop, &s->sweep_timer, 50);
        return;
    }
    if (k)
        log_error("%zu process%s of the previous nines survive KILL; starting anyway", k, k == 1 ? "" : "es");
    else
        log_info("previous generation gone");
    end_sweep(s);
    if (!s->shutting_down)
        start_all(s);
}

/* Holds each survivor by a pidfd, or by its start time where pidfds are missing; drops those
 * already gone. Returns 0 or -ENOMEM. */
static int hold_survivors(struct supervisor *s)
{
    size_t n = s->n_survivors ? s->n_survivors : 1;
    s->survivor_fds = malloc(n * sizeof *s->survivor_fds);
    s->survivor_starts = malloc(n * sizeof *s->survivor_starts);
    if (!s->survivor_fds || !s->survivor_starts) {
        s->n_survivors = 0;
        return -ENOMEM;
    }
    size_t k = 0;
    bool told = false;
    for (size_t i = 0; i < s->n_survivors; i++) {
        uint64_t start;
        if (!proctree_alive(s->survivors[i]) || proctree_start_time(s->survivors[i], &start) < 0)
            continue; /* gone already */
        /* pidfds are always close-on-exec (pidfd_open(2)). */
        int fd = (int)syscall(SYS_pidfd_open, s->survivors[i], 0);
        if (fd < 0 && errno == ESRCH)
            continue;
        if (fd < 0 && !told) {
            log_warn("no pidfds (pidfd_open: %s): the previous generation is signalled by pid, "
                     "its start time checked before every signal", strerror(errno));
            told = true;
        }
        s->survivors[k] = s->survivors[i];
        s->survivor_fds[k] = fd;
        s->survivor_starts[k++] = start;
    }
    s->n_survivors = k;
    return 0;
}

/* A nines that was SIGKILLed (not PID 1) leaves its services running: they must be gone before
 * any service starts again, or the bot would run twice. TERM+CONT, the longest stop_timeout,
 * then KILL. */
static void sweep_survivors(struct supervisor *s)
{
    timer_init(&s->sweep_timer, on_sweep_timer, s);
    int rc = instance_find_survivors(&s->inst, &s->survivors, &s->n_survivors);
    if (rc < 0)
        log_warn("cannot look for a previous generation: %s", strerror(-rc));
    size_t cap = s->n_survivors;
    for (size_t i = 0; i < s->n_svcs; i++) /* nothing of ours runs yet: any member is old */
        cgroup_pids(&s->cg, s->svcs[i]->conf->name, &s->survivors, &s->n_survivors, &cap);
    size_t k = 0; /* the marker and the cgroup often name the same process */
    for (size_t i = 0; i < s->n_survivors; i++) {
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = s->survivors[j] == s->survivors[i];
        if (!dup)
            s->survivors[k++] = s->survivors[i];
    }
    s->n_survivors = k;
    if (hold_survivors(s) < 0)
        log_error("cannot hold the previous generation's processes: out of memory");
    if (!s->n_survivors) {
        end_sweep(s);
        start_all(s);
        return;
    }
    uint64_t longest = 0;
    for (size_t i = 0; i < s->n_svcs; i++)
        if (s->svcs[i]->conf->stop_timeout_ms > longest)
            longest = s->svcs[i]->conf->stop_timeout_ms;
    log_warn("found %zu process%s of a previous nines (pid %d); stopping them before any service starts",
             s->n_survivors, s->n_survivors == 1 ? "" : "es", (int)s->inst.old_pid);
    signal_survivors(s, SIGTERM);
    signal_survivors(s, SIGCONT);
    s->sweep_deadline = now_ms() + (longest ? longest : 10000);
    timer_start(s->loop, &s->sweep_timer, 50);
}

/* ---- run ---- */

/* console = auto: on when nines is PID 1 (the container convention: `docker logs` shows every
 * service). A pipe or socket as stdout is made non-blocking: a slow reader then costs console
 * lines (counted), never a blocked loop. A terminal or file is left as it is. */
static bool console_enabled(const struct config_main *m)
{
    bool on = m->console == CONFIG_CONSOLE_YES || (m->console == CONFIG_CONSOLE_AUTO && getpid() == 1);
    struct stat st;
    if (on && fstat(STDOUT_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        fd_set_nonblock(STDOUT_FILENO);
    return on;
}

static int setup(struct supervisor *s)
{
    int rc = sig_block_all(&s->sig);
    if (rc < 0) {
        log_error("cannot block signals: %s", strerror(-rc));
        return rc;
    }
    if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        log_warn("cannot become a subreaper: %s", strerror(errno));
    if (chdir("/") < 0)
        log_warn("cannot chdir to /: %s", strerror(errno));
    s->loop = loop_new();
    if (!s->loop)
        return -errno;
    int fd = sig_open_fd(&s->sig);
    if (fd < 0)
        return fd;
    watcher_init(&s->sigw, fd, on_signalfd, s);
    recwriter_init(&s->console, STDOUT_FILENO);
    timer_init(&s->scan_timer, on_scan_timer, s);
    timer_init(&s->save_timer, on_save_timer, s);
    timer_init(&s->shutdown_timer, on_shutdown_timer, s);
    timer_init(&s->settle_timer, on_settle_timer, s);
    timer_init(&s->parent_wd_timer, on_parent_wd, s);
    const struct config_main *m = &s->cfg->main;
    int arc = alerter_init(&s->alerter, s->loop, &s->sig, m->alert_argv, m->alert_webhook);
    s->alerter_ok = arc == 0;
    if (arc < 0)
        log_error("cannot set up alerts: %s", strerror(-arc));
    int prc = prober_init(&s->prober, s->loop, &s->sig);
    s->prober_ok = prc == 0;
    if (prc < 0)
        log_error("cannot set up health checks: %s", strerror(-prc));
    notify_parent_init(&s->parent);
    if (notify_parent_keepalive_ms(&s->parent))
        timer_start(s->loop, &s->parent_wd_timer, notify_parent_keepalive_ms(&s->parent));
    if (snprintf(s->notify_dir, sizeof s->notify_dir, "%s/notify", s->cfg->main.run_dir) >= (int)sizeof s->notify_dir ||
        mkdir_p(s->notify_dir, 0755) < 0) {
        log_warn("cannot create %s/notify: ready=notify and watchdogs will not work", s->cfg->main.run_dir);
        s->notify_dir[0] = '\0';
    }
    s->host = (struct service_host){
        .loop = s->loop,
        .sig = &s->sig,
        .console = console_enabled(&s->cfg->main),
        .console_w = &s->console,
        .token = s->inst.token,
        .cg = &s->cg,
        .notify_dir = s->notify_dir[0] ? s->notify_dir : NULL,
        .prober = s->prober_ok ? &s->prober : NULL,
        .next_instance = next_instance,
        .deps_ready = deps_ready,
        .changed = changed,
        .rescan = rescan,
        .output = output,
        .alert = alert,
        .ctx = s,
    };
    return loop_watch(s->loop, &s->sigw, EPOLLIN);
}

static void teardown(struct supervisor *s)
{
    control_close(s);
    for (size_t i = 0; i < s->n_svcs; i++) /* probes first: they point into the prober */
        if (s->prober_ok)
            probe_cancel(&s->prober, &s->svcs[i]->probe);
    if (s->prober_ok)
        prober_free(&s->prober);
    s->prober_ok = false;
    if (s->alerter_ok)
        alerter_free(&s->alerter);
    s->alerter_ok = false;
    if (timer_active(&s->save_timer))
        on_save_timer(s->loop, &s->save_timer); /* last state on disk before exit */
    for (size_t i = 0; i < s->n_svcs; i++) {
        cgroup_remove(&s->cg, s->svcs[i]->conf->name);
        service_free(s->svcs[i]);
        free(s->svcs[i]);
    }
    free(s->svcs);
    for (size_t i = 0; i < s->n_retired; i++)
        config_free(s->retired[i]);
    free(s->retired);
    config_free(s->cfg);
    statefile_free(&s->state);
    end_sweep(s);
    recwriter_free(&s->console);
    notify_parent_close(&s->parent);
    if (s->hwwd_fd >= 0) /* a clean exit disarms it ('V'); a crash leaves it running */
        hwwd_close(s->hwwd_fd, true);
    if (s->loop && s->inotify.fd >= 0) {
        loop_unwatch(s->loop, &s->inotify);
        close(s->inotify.fd);
    }
    instance_unlock(&s->inst);
    if (s->loop) {
        if (s->sigw.fd > 0)
            close(s->sigw.fd);
        loop_free(s->loop);
    }
}

int supervisor_run(const struct supervisor_opts *opts)
{
    struct supervisor s = {.opts = opts};
    s.sigw.fd = -1;
    s.inotify.fd = -1;
    s.hwwd_fd = -1;
    s.inst.lock_fd = -1;
    statefile_init(&s.state);
    if (load_config(opts, &s.cfg, NULL) < 0) {
        log_error("configuration has errors; not starting");
        return 1;
    }
    if (take_lock(&s) < 0) {
        config_free(s.cfg);
        return 1;
    }
    cgroup_init(&s.cg, s.cfg->main.run_dir);
    srandom((unsigned)(now_ms() ^ (uint64_t)getpid()));
    if (setup(&s) < 0) {
        log_error("cannot set up the event loop: %s", strerror(errno));
        teardown(&s);
        return 1;
    }
    load_state(&s);
    int lrc = mkdir_p(s.cfg->main.log_dir, 0755);
    if (lrc < 0)
        log_warn("cannot create log_dir %s: %s", s.cfg->main.log_dir, strerror(-lrc));
    control_open(&s);
    for (size_t i = 0; i < s.cfg->n_services; i++) {
        struct service *svc = add_service(&s, &s.cfg->services[i]);
        if (!svc) {
            log_error("%s: cannot add: out of memory", s.cfg->services[i].name);
            continue;
        }
        restore_state(&s, svc);
    }
    open_inotify(&s);
    watch_tokens(&s);
    open_hwwd(&s);
    log_info("supervising %zu service%s%s", s.n_svcs, s.n_svcs == 1 ? "" : "s",
             s.cg.ok ? " (a cgroup per service)" : "");
    sweep_survivors(&s); /* starts the services once the previous generation is gone */
    reap(&s); /* zombies inherited at exec */
    loop_run(s.loop);
    teardown(&s);
    log_info("shutdown complete");
    return 0;
}

int supervisor_check(const struct supervisor_opts *opts)
{
    struct config *cfg;
    if (load_config(opts, &cfg, NULL) < 0)
        return 1;
    printf("configuration ok: %zu service%s\n", cfg->n_services, cfg->n_services == 1 ? "" : "s");
    config_free(cfg);
    return 0;
}
