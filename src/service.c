#include "service.h"

#include "creds.h"
#include "envbuild.h"
#include "instance.h"
#include "proctree.h"
#include "proto.h" /* NINES_VERSION */
#include "log.h"
#include "spawn.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Bytes read from one output pipe per wake-up: a chatty child cannot starve the loop, and the
 * pipe (not nines' memory) absorbs what is not read yet. */
enum { OUTPUT_READ_MAX = 64 * 1024 };

static const char *const state_names[] = {
    [SVC_STOPPED] = "STOPPED", [SVC_STARTING] = "STARTING", [SVC_RUNNING] = "RUNNING",
    [SVC_BACKOFF] = "BACKOFF", [SVC_STOPPING] = "STOPPING", [SVC_EXITED] = "EXITED",
    [SVC_FATAL] = "FATAL",     [SVC_AUTHFAIL] = "AUTHFAIL",
};
_Static_assert(sizeof state_names / sizeof state_names[0] == SVC_STATE_COUNT, "state names");

static const char *const health_names[] = {
    [HEALTH_NONE] = "none",         [HEALTH_STARTING] = "starting", [HEALTH_OK] = "ok",
    [HEALTH_FAILING] = "failing",   [HEALTH_UNHEALTHY] = "unhealthy",
    [HEALTH_RATELIMITED] = "rate limited",
};
_Static_assert(sizeof health_names / sizeof health_names[0] == HEALTH_COUNT, "health names");

const char *svc_health_name(enum svc_health h)
{
    return (unsigned)h < HEALTH_COUNT ? health_names[h] : "?";
}

const char *svc_state_name(enum svc_state s)
{
    return (unsigned)s < SVC_STATE_COUNT ? state_names[s] : "?";
}

static const char *name_of(const struct service *svc)
{
    return svc->conf->name;
}

static void set_state(struct service *svc, enum svc_state st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_state(struct service *svc, enum svc_state st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(svc->reason, sizeof svc->reason, fmt, ap);
    va_end(ap);
    if (svc->state != st) {
        log_info("%s: %s -> %s%s%s", name_of(svc), svc_state_name(svc->state),
                 svc_state_name(st), svc->reason[0] ? ": " : "", svc->reason);
        svc->state = st;
        svc->since_ms = now_ms();
        svc->since_wall_ms = wall_ms();
        /* As systemd's WatchdogSec=: the watchdog runs once start-up completed (RUNNING), so
         * a slow start (a runtime loading its libraries) is not a missed keep-alive. */
        if (st == SVC_RUNNING && svc->watchdog_ms && svc->pid)
            timer_start(svc->host->loop, &svc->wd_timer, svc->watchdog_ms);
        if (st == SVC_FATAL || st == SVC_AUTHFAIL) {
            svc->alerted_bad = true;
            svc->host->alert(svc->host->ctx, svc, svc_state_name(st), svc->reason);
        } else if (st == SVC_RUNNING && svc->alerted_bad) {
            svc->alerted_bad = false;
            svc->host->alert(svc->host->ctx, svc, "RECOVERED", svc->reason);
        }
    }
    svc->host->changed(svc->host->ctx, svc);
}

static void apply_policy(struct service *svc)
{
    const struct config_restart *r = &svc->conf->restart;
    svc->bpol.delay_ms = r->delay_ms;
    svc->bpol.kind = r->backoff == CONFIG_BACKOFF_FIXED ? BACKOFF_FIXED : BACKOFF_EXPONENTIAL;
    svc->bpol.max_delay_ms = r->max_delay_ms;
    svc->bpol.jitter_pct = r->jitter_pct;
    svc->bpol.reset_after_ms = r->reset_after_ms;
}

static void on_backoff_timer(struct loop *loop, struct timer *t);
static void on_life_timer(struct loop *loop, struct timer *t);
static void on_wd_timer(struct loop *loop, struct timer *t);
static void on_health_timer(struct loop *loop, struct timer *t);
static void health_stop(struct service *svc);
static void health_reset(struct service *svc);

static void on_log_event(void *ctx, const struct pattern_hit *hit, const char *line, size_t len);

static void on_log_output(void *ctx)
{
    struct service *svc = ctx;
    svc->host->output(svc->host->ctx, svc);
}

int service_init(struct service *svc, const struct config_service *conf,
                 const struct service_host *host)
{
    memset(svc, 0, sizeof *svc);
    svc->conf = conf;
    svc->host = host;
    svc->state = SVC_STOPPED;
    svc->want_up = true;
    svc->since_ms = now_ms();
    svc->since_wall_ms = wall_ms();
    svc->errw.fd = -1;
    timer_init(&svc->timer, on_backoff_timer, svc);
    timer_init(&svc->life_timer, on_life_timer, svc);
    timer_init(&svc->wd_timer, on_wd_timer, svc);
    timer_init(&svc->health_timer, on_health_timer, svc);
    svc->token_wd = -1;
    probe_init(&svc->probe);
    apply_policy(svc);
    const struct config_restart *r = &conf->restart;
    svc->log_host = (struct logcap_host){
        .loop = host->loop,
        .console = host->console,
        .console_w = host->console_w,
        .output = on_log_output,
        .event = on_log_event,
        .ctx = svc,
    };
    int rc = logcap_init(&svc->log, conf, &svc->log_host);
    if (rc == 0)
        rc = budget_init(&svc->budget, r->has_limit ? r->limit.count : 0,
                         r->has_limit ? r->limit.window_ms : 0);
    return rc;
}

static void close_watcher(struct service *svc, struct watcher *w)
{
    if (w->fd < 0)
        return;
    loop_unwatch(svc->host->loop, w);
    close(w->fd);
    w->fd = -1;
}

void service_free(struct service *svc)
{
    timer_stop(svc->host->loop, &svc->timer);
    timer_stop(svc->host->loop, &svc->life_timer);
    timer_stop(svc->host->loop, &svc->wd_timer);
    health_stop(svc);
    notify_close(&svc->notify);
    close_watcher(svc, &svc->errw);
    logcap_free(&svc->log);
    authsrc_free(&svc->auth);
    budget_free(&svc->budget);
    free(svc->termed);
}

int service_update_conf(struct service *svc, const struct config_service *conf)
{
    const struct config_restart *r = &conf->restart;
    int rc = budget_resize(&svc->budget, r->has_limit ? r->limit.count : 0,
                           r->has_limit ? r->limit.window_ms : 0);
    if (rc == 0)
        rc = logcap_update(&svc->log, svc->conf, conf);
    if (rc < 0)
        return rc;
    bool health_changed = svc->conf->health.kind != conf->health.kind ||
                          svc->conf->health.interval_ms != conf->health.interval_ms;
    svc->conf = conf;
    apply_policy(svc);
    if (health_changed && svc->pid && svc->stop_why == STOP_NONE) {
        health_reset(svc); /* checks of the new kind and interval, from "starting" */
        svc->host->changed(svc->host->ctx, svc);
    }
    return 0;
}

bool service_idle(const struct service *svc)
{
    return svc->pid == 0 && !svc->tree_left;
}

bool service_ready(const struct service *svc)
{
    return svc->state == SVC_RUNNING;
}

int service_signal(struct service *svc, int signo)
{
    if (svc->pid == 0)
        return -ESRCH;
    /* The main process leads its own session and group (setsid), so -pid is its group. */
    if (kill(-svc->pid, signo) == 0)
        return 0;
    return kill(svc->pid, signo) == 0 ? 0 : -errno;
}

/* ---- spawning ---- */

/* Privileges of a new process from its definition. NSS lookups happen here, in the parent:
 * they are not safe after fork. Returns 0 or -errno (-ENOENT: unknown user or group). */
static int make_creds(const struct config_service *c, struct creds *cr)
{
    creds_init(cr);
    int rc = 0;
    if (c->user || c->group)
        rc = creds_resolve_user(cr, c->user, c->group);
    for (int i = 0; rc == 0 && i < CONFIG_RLIMIT_COUNT; i++)
        if (c->rlimits[i].set)
            rc = creds_set_rlimit(cr, c->rlimits[i].resource, c->rlimits[i].value.soft,
                                  c->rlimits[i].value.hard);
    if (c->has_umask) {
        cr->set_umask = true;
        cr->umask = c->umask;
    }
    if (c->n_caps > CREDS_CAPS_MAX)
        rc = rc ? rc : -EINVAL;
    if (rc == 0 && c->n_caps) {
        cr->set_caps = true;
        cr->ncaps = c->n_caps;
        memcpy(cr->caps, c->caps, c->n_caps * sizeof c->caps[0]);
    }
    if (rc < 0)
        creds_free(cr);
    return rc;
}

/* Environment of a new process: nines' own, its env_file, its env= entries, then the markers
 * that let nines find every process of this generation later (proctree_scan). What was meant
 * for nines itself (socket activation, its notify socket) is not passed on. */
static int make_env(struct service *svc, char ***out)
{
    char marker_svc[300], marker_inst[80], nsock[140], wd[48];
    snprintf(marker_svc, sizeof marker_svc, "NINES_SERVICE=%s", name_of(svc));
    snprintf(marker_inst, sizeof marker_inst, "NINES_INSTANCE=%s", svc->instance);
    char *extra[9] = {marker_svc, marker_inst, NULL};
    size_t ne = 2;
    /* As login(1) and systemd's User=: the service's own HOME, USER and LOGNAME, not root's. */
    char home[300], user[300], logname[300];
    struct passwd *pw = svc->conf->has_uid ? getpwuid(svc->conf->uid) : NULL;
    if (pw) {
        snprintf(home, sizeof home, "HOME=%s", pw->pw_dir);
        snprintf(user, sizeof user, "USER=%s", pw->pw_name);
        snprintf(logname, sizeof logname, "LOGNAME=%s", pw->pw_name);
        extra[ne++] = home;
        extra[ne++] = user;
        extra[ne++] = logname;
    }
    char *tokvar = NULL;
    if (svc->auth.token && svc->conf->auth.token_env) {
        /* Handed over in the environment only, never on a command line; last layer, so the
         * file wins over a stale inherited variable (discord.py#7336). */
        size_t kl = strlen(svc->conf->auth.token_env);
        tokvar = malloc(kl + 1 + svc->auth.len + 1);
        if (!tokvar)
            return -ENOMEM;
        memcpy(tokvar, svc->conf->auth.token_env, kl);
        tokvar[kl] = '=';
        memcpy(tokvar + kl + 1, svc->auth.token, svc->auth.len + 1);
        extra[ne++] = tokvar;
    }
    if (svc->notify.open) {
        snprintf(nsock, sizeof nsock, "NOTIFY_SOCKET=%s", svc->notify.path);
        extra[ne++] = nsock;
        if (svc->conf->watchdog_ms) {
            snprintf(wd, sizeof wd, "WATCHDOG_USEC=%llu", (unsigned long long)svc->conf->watchdog_ms * 1000);
            extra[ne++] = wd;
        }
    }
    char *unset[] = {"NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES",
                     "WATCHDOG_PID", "WATCHDOG_USEC", NULL};
    struct envbuild_spec spec = {
        .base = environ,
        .env_file = svc->conf->env_file,
        .env = svc->conf->env,
        .extra = extra,
        .unset = unset,
    };
    struct envbuild_error err = {{0}};
    int rc = envbuild_build(&spec, out, &err);
    if (tokvar) {
        token_wipe(tokvar, strlen(tokvar));
        free(tokvar);
    }
    if (rc < 0)
        log_error("%s: %s", name_of(svc), err.msg[0] ? err.msg : strerror(-rc));
    return rc;
}

static int open_pipe(int fds[2])
{
    return pipe2(fds, O_CLOEXEC) < 0 ? -errno : 0;
}

struct spawn_fds {
    int out[2], err[2], ep[2], devnull;
};

static void close_spawn_fds(struct spawn_fds *f)
{
    int *all[] = {&f->out[0], &f->out[1], &f->err[0], &f->err[1], &f->ep[0], &f->ep[1], &f->devnull};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (*all[i] >= 0) {
            close(*all[i]);
            *all[i] = -1;
        }
}

static int open_spawn_fds(struct spawn_fds *f)
{
    memset(f, -1, sizeof *f);
    f->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (f->devnull < 0 || open_pipe(f->out) < 0 || open_pipe(f->err) < 0 || open_pipe(f->ep) < 0) {
        int e = errno;
        close_spawn_fds(f);
        return -e;
    }
    fd_set_nonblock(f->out[0]);
    fd_set_nonblock(f->err[0]);
    fd_set_nonblock(f->ep[0]);
    return 0;
}

static void on_errpipe(struct loop *loop, struct watcher *w, uint32_t events);

/* Wires the parent ends of a fresh spawn into the loop. */
static void watch_spawn_fds(struct service *svc, struct spawn_fds *f)
{
    logcap_attach(&svc->log, f->out[0], f->err[0]);
    close_watcher(svc, &svc->errw);
    watcher_init(&svc->errw, f->ep[0], on_errpipe, svc);
    if (loop_watch(svc->host->loop, &svc->errw, EPOLLIN) < 0)
        log_warn("%s: cannot watch the exec pipe: %s", name_of(svc), strerror(errno));
    f->out[0] = f->err[0] = f->ep[0] = -1; /* now owned by the watchers */
}

static void spawn_failed(struct service *svc, int err);

static void on_notify(void *ctx, struct notify_sock *ns, pid_t pid, const struct notify_msg *m);

/* The service's NOTIFY_SOCKET, opened once and kept across its generations. */
static void open_notify(struct service *svc)
{
    bool wanted = svc->conf->ready == CONFIG_READY_NOTIFY || svc->conf->watchdog_ms;
    if (!wanted || svc->notify.open || !svc->host->notify_dir)
        return;
    char path[sizeof svc->notify.path];
    if (snprintf(path, sizeof path, "%s/%s.sock", svc->host->notify_dir, name_of(svc)) >= (int)sizeof path) {
        log_error("%s: notify socket path too long; no READY=1/WATCHDOG=1", name_of(svc));
        return;
    }
    int rc = notify_open(&svc->notify, svc->host->loop, path, on_notify, svc);
    if (rc < 0)
        log_error("%s: cannot open notify socket %s: %s", name_of(svc), path, strerror(-rc));
}

/* A pid or lock file left by a dead owner would make many daemons refuse to start: remove it
 * (the old system's stale lock cleanup); one held by a live process stays. */
static void clean_stale_files(struct service *svc)
{
    const char *paths[2] = {svc->conf->pidfile, svc->conf->lockfile};
    for (int i = 0; i < 2; i++) {
        svc->files_note[i][0] = '\0';
        if (!paths[i])
            continue;
        int rc = instance_clean_stale(paths[i], svc->files_note[i], sizeof svc->files_note[i]);
        if (rc < 0)
            snprintf(svc->files_note[i], sizeof svc->files_note[i], "%s: %s", paths[i], strerror(-rc));
        if (rc != 0 || svc->files_note[i][0])
            log_info("%s: %s", name_of(svc), svc->files_note[i]);
    }
}

static void enter_authfail(struct service *svc, const char *source);

/* Re-reads the token (every start: a rotated token is picked up, a stale environment loses).
 * Without a usable token the service parks in AUTHFAIL instead of failing in a loop. Returns
 * false when it must not start. */
static bool load_token(struct service *svc)
{
    if (!svc->conf->auth.enabled)
        return true;
    int rc = authsrc_load(&svc->auth, &svc->conf->auth, name_of(svc));
    /* Only a token that is missing, unreadable by permission or rejected waits for a new one;
     * running out of fds or memory, or an I/O error, is nines' trouble: retry with backoff. */
    if (rc < 0 && rc != -ENOENT && rc != -EACCES && rc != -EPERM && rc != -EINVAL) {
        log_warn("%s: %s; retrying", name_of(svc), svc->auth.problem[0] ? svc->auth.problem : strerror(-rc));
        spawn_failed(svc, -rc);
        return false;
    }
    if (rc < 0) {
        log_error("%s: %s", name_of(svc), svc->auth.problem);
        enter_authfail(svc, svc->auth.problem);
        return false;
    }
    if (svc->auth.token)
        log_info("%s: token %s", name_of(svc), svc->auth.fingerprint);
    if (logcap_set_token(&svc->log, svc->auth.token) < 0)
        log_warn("%s: out of memory: its own token may not be masked in its log", name_of(svc));
    return true;
}

/* Whether a child may be born in the service's cgroup (clone3 CLONE_INTO_CGROUP). Not into
 * one that cgroup.kill was ever written to: on the kernels tested here every process cloned
 * into such a cgroup is SIGKILLed at birth (its kill sequence number differs from the one the
 * clone took), so a service stopped by KILL would die at every restart. Joining it after fork
 * is not affected. A cgroup this nines has not made yet (a previous nines may have killed it)
 * is removed and made again first; when it cannot be removed (not empty), fork and join. */
static bool fresh_cgroup(struct service *svc)
{
    if (!svc->cg_fresh) {
        int rc = cgroup_remove(svc->host->cg, name_of(svc));
        svc->cg_fresh = rc == 0 || rc == -ENOENT;
    }
    return svc->cg_fresh;
}

static void spawn_now(struct service *svc)
{
    snprintf(svc->instance, sizeof svc->instance, "%s.%llu", svc->host->token,
             (unsigned long long)svc->host->next_instance(svc->host->ctx));
    clean_stale_files(svc);
    open_notify(svc);
    if (!load_token(svc))
        return;
    struct spawn_fds f;
    struct creds cr;
    char **env = NULL;
    int rc = make_creds(svc->conf, &cr);
    if (rc < 0) {
        log_error("%s: cannot resolve user/group: %s", name_of(svc), strerror(-rc));
        spawn_failed(svc, -rc);
        return;
    }
    rc = make_env(svc, &env);
    if (rc == 0)
        rc = open_spawn_fds(&f);
    if (rc < 0) {
        envbuild_envp_free(env);
        creds_free(&cr);
        spawn_failed(svc, -rc);
        return;
    }

    struct spawn_opts o;
    spawn_opts_init(&o);
    o.argv = svc->conf->argv;
    o.envp = env;
    o.directory = svc->conf->directory;
    o.sig = svc->host->sig;
    o.new_session = true;
    o.stdin_fd = f.devnull;
    o.stdout_fd = f.out[1];
    o.stderr_fd = f.err[1];
    o.err_fd = f.ep[1];
    o.creds = &cr;
    o.cgroup_clone = svc->host->cg->ok && fresh_cgroup(svc); /* before the open: may rmdir */
    o.cgroup_fd = svc->host->cg->ok ? cgroup_open_dir(svc->host->cg, name_of(svc)) : -1;
    pid_t pid = spawn_process(&o);
    if (o.cgroup_fd >= 0)
        close(o.cgroup_fd);
    envbuild_envp_free(env);
    creds_free(&cr);
    if (pid < 0) {
        close_spawn_fds(&f);
        spawn_failed(svc, (int)-pid);
        return;
    }
    close(f.out[1]);
    close(f.err[1]);
    close(f.ep[1]);
    close(f.devnull);
    f.out[1] = f.err[1] = f.ep[1] = f.devnull = -1;
    watch_spawn_fds(svc, &f);

    /* A restart is a spawn after a process of this service ended under this nines; the first
     * spawn after nines itself started is not one (the count is persisted across). */
    if (svc->has_last) {
        svc->restarts++;
        svc->last_restart_wall_ms = wall_ms();
    }
    svc->pid = pid;
    svc->sid = pid;
    svc->n_termed = 0;
    svc->stop_why = STOP_NONE;
    svc->kill_sent = false;
    svc->exec_failed = false;
    svc->started_ms = now_ms();
    if (svc->conf->restart.max_lifetime_ms)
        timer_start(svc->host->loop, &svc->life_timer, svc->conf->restart.max_lifetime_ms);
    health_reset(svc);
    svc->notify_status[0] = '\0';
    svc->watchdog_ms = svc->conf->watchdog_ms;
    log_debug("%s: spawned pid %d", name_of(svc), (int)pid);
    set_state(svc, SVC_STARTING, "pid %d", (int)pid);
}

/* Reads the exec pipe: a struct spawn_error means setup or exec failed; EOF alone means the
 * program is running (the pipe is close-on-exec). */
static void read_errpipe(struct service *svc)
{
    if (svc->errw.fd < 0)
        return;
    struct spawn_error e;
    ssize_t n;
    do
        n = read(svc->errw.fd, &e, sizeof e);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n == (ssize_t)sizeof e) {
        svc->exec_failed = true;
        svc->exec_errno = e.err;
        svc->exec_stage = e.stage;
        svc->exec_creds_stage = e.creds_stage;
        log_warn("%s: cannot %s %s: %s", name_of(svc), spawn_stage_name(e.stage),
                 e.stage == SPAWN_STAGE_CHDIR ? svc->conf->directory : svc->conf->argv[0],
                 strerror(e.err));
    } else if (n == 0 && svc->pid && svc->state == SVC_STARTING) {
        if (svc->conf->ready == CONFIG_READY_STARTED)
            set_state(svc, SVC_RUNNING, "pid %d", (int)svc->pid);
        else if (svc->conf->ready == CONFIG_READY_NOTIFY)
            set_state(svc, SVC_STARTING, "pid %d, waiting for READY=1", (int)svc->pid);
        else
            set_state(svc, SVC_STARTING, "pid %d, waiting for a healthy check", (int)svc->pid);
    }
    close_watcher(svc, &svc->errw);
}

static void on_errpipe(struct loop *loop, struct watcher *w, uint32_t events)
{
    (void)loop;
    (void)events;
    read_errpipe(w->data);
}

static void describe_last(const struct service *svc, char *buf, size_t len)
{
    if (svc->last.exec_failed) {
        if (svc->exec_stage == SPAWN_STAGE_CREDS)
            snprintf(buf, len, "cannot set credentials: %s: %s",
                     creds_stage_name(svc->exec_creds_stage), strerror(svc->exec_errno));
        else if (svc->exec_stage == SPAWN_STAGE_CHDIR)
            snprintf(buf, len, "cannot chdir to %s: %s", svc->conf->directory,
                     strerror(svc->exec_errno));
        else if (svc->exec_stage == SPAWN_STAGE_SETUP)
            snprintf(buf, len, "cannot start: %s", strerror(svc->exec_errno));
        else
            snprintf(buf, len, "cannot execute %s: %s", svc->conf->argv[0],
                     strerror(svc->exec_errno));
        return;
    }
    exit_describe(&svc->last, buf, len);
}

static void start_or_wait(struct service *svc);

/* The old generation is gone: do what the classifier decided. */
static void apply_verdict(struct service *svc)
{
    char last[160];
    describe_last(svc, last, sizeof last);
    enum verdict v = svc->pending;
    bool down = !svc->want_up || svc->stop_why == STOP_SHUTDOWN;
    if (down && v != VERDICT_FATAL && v != VERDICT_AUTHFAIL)
        v = VERDICT_STOPPED;
    switch (v) {
    case VERDICT_STOPPED:
        set_state(svc, SVC_STOPPED, "%s", svc->stop_why == STOP_SHUTDOWN ? "shutdown" : "stopped");
        return;
    case VERDICT_RESTART:
        log_info("%s: restarting (%s)", name_of(svc), stop_reason_name(svc->stop_why));
        start_or_wait(svc);
        return;
    case VERDICT_EXITED:
        set_state(svc, SVC_EXITED, "%s", last);
        return;
    case VERDICT_FATAL:
        if (svc->stop_why == STOP_CONFIG)
            set_state(svc, SVC_FATAL, "%s (configuration error)", svc->config_event);
        else
            set_state(svc, SVC_FATAL, "%s%s", last,
                      svc->last.exited && svc->last.code == EXIT_CONFIG ? " (configuration error)" : "");
        return;
    case VERDICT_AUTHFAIL:
        if (svc->stop_why != STOP_AUTH) { /* exit 77: the service said so itself */
            snprintf(svc->auth_event, sizeof svc->auth_event, "%s", last);
            svc->auth_wall_ms = wall_ms();
        }
        set_state(svc, SVC_AUTHFAIL, "%s; waiting for a new token", svc->auth_event);
        return;
    case VERDICT_RESTART_CLEAN:
    case VERDICT_RESTART_FAILURE:
    case VERDICT_COUNT:
        break;
    }
    bool failure = v == VERDICT_RESTART_FAILURE;
    uint64_t wall = wall_ms();
    if (failure && !budget_allows(&svc->budget, wall)) {
        set_state(svc, SVC_FATAL, "%s; restart limit %u/%llus reached", last,
                  budget_limit(&svc->budget),
                  (unsigned long long)(budget_window_ms(&svc->budget) / 1000));
        return;
    }
    /* reset_after counts time up and healthy: with a health check, from its first success. */
    uint64_t from = svc->conf->health.kind != CONFIG_HEALTH_NONE ? svc->healthy_since_ms : svc->started_ms;
    uint64_t up = from ? now_ms() - from : 0;
    uint64_t delay = backoff_on_exit(&svc->bpol, &svc->bo, up, failure, (uint32_t)random());
    uint64_t now = now_ms();
    if (svc->ratelimited_until_ms > now + delay) /* never back before Discord said we may */
        delay = svc->ratelimited_until_ms - now;
    svc->next_start_ms = now_ms() + delay;
    if (timer_start(svc->host->loop, &svc->timer, delay) < 0) {
        log_error("%s: cannot arm the restart timer; retrying in 1s", name_of(svc));
        timer_start(svc->host->loop, &svc->timer, 1000);
    }
    set_state(svc, SVC_BACKOFF, "%s; retry %llu", last, (unsigned long long)svc->restarts + 1);
}

void service_on_exit(struct service *svc, int status)
{
    read_errpipe(svc); /* the child wrote before exiting: the report is already in the pipe */
    timer_stop(svc->host->loop, &svc->life_timer);
    timer_stop(svc->host->loop, &svc->wd_timer);
    health_stop(svc);
    struct exit_facts f = {
        .exited = WIFEXITED(status),
        .code = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
        .exec_failed = svc->exec_failed,
        .why = svc->stop_why,
    };
    svc->last = f;
    svc->has_last = true;
    svc->pending = exit_classify(&f, svc->conf->restart.policy, &svc->conf->restart.no_restart_exit_codes);
    if (verdict_is_failure(&f, svc->pending))
        budget_record(&svc->budget, wall_ms());
    char d[64];
    log_info("%s: pid %d ended: %s", name_of(svc), (int)svc->pid, exit_describe(&f, d, sizeof d));
    svc->pid = 0;
    /* Whatever the verdict, the rest of this generation must be gone before anything else
     * happens (a new generation never overlaps the old one: discord.js#4151). */
    svc->tree_left = true;
    svc->host->rescan(svc->host->ctx);
}

static void signal_pids(const pid_t *pids, unsigned n, int signo)
{
    for (unsigned i = 0; i < n; i++)
        kill(pids[i], signo);
}

static bool was_signalled(const struct service *svc, pid_t pid)
{
    for (unsigned j = 0; j < svc->n_termed; j++)
        if (svc->termed[j] == pid)
            return true;
    return false;
}

void service_note_signalled(struct service *svc, pid_t pid)
{
    if (was_signalled(svc, pid))
        return;
    if (svc->n_termed == svc->cap_termed) {
        unsigned cap = svc->cap_termed ? svc->cap_termed * 2 : 16;
        pid_t *v = realloc(svc->termed, cap * sizeof *v);
        if (!v)
            return; /* not remembered: it may get the signal twice, never zero times */
        svc->termed = v;
        svc->cap_termed = cap;
    }
    svc->termed[svc->n_termed++] = pid;
}

/* Sends stop_signal + CONT to the leftovers that have not had it yet: a second TERM would
 * interrupt a graceful handler that is already running (e.g. kill its `sleep`). */
static void term_new_leftovers(struct service *svc, const pid_t *pids, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (was_signalled(svc, pids[i]))
            continue;
        service_note_signalled(svc, pids[i]);
        kill(pids[i], svc->conf->stop_signal);
        kill(pids[i], SIGCONT);
    }
}

void service_tree_result(struct service *svc, const pid_t *pids, unsigned n)
{
    if (!svc->tree_left)
        return;
    svc->tree_count = n;
    if (n == 0) {
        svc->tree_left = false;
        svc->n_termed = 0;
        timer_stop(svc->host->loop, &svc->timer);
        apply_verdict(svc);
        return;
    }
    if (svc->kill_sent) {
        signal_pids(pids, n, SIGKILL);
        return;
    }
    term_new_leftovers(svc, pids, n);
    if (svc->state != SVC_STOPPING) {
        char last[160];
        describe_last(svc, last, sizeof last);
        set_state(svc, SVC_STOPPING, "%s; stopping %u leftover process%s", last, n,
                  n == 1 ? "" : "es");
    }
    if (!timer_active(&svc->timer))
        timer_start(svc->host->loop, &svc->timer, svc->conf->stop_timeout_ms);
}

static void spawn_failed(struct service *svc, int err)
{
    /* fork or pipe failed (EAGAIN under RLIMIT_NPROC, EMFILE...): nines stays up and retries
     * through the same backoff as a crash, never in a tight loop. */
    log_error("%s: cannot start: %s", name_of(svc), strerror(err));
    svc->last = (struct exit_facts){.exec_failed = true, .why = STOP_NONE};
    svc->exec_errno = err;
    svc->exec_stage = SPAWN_STAGE_SETUP;
    svc->has_last = true;
    svc->pending = VERDICT_RESTART_FAILURE;
    budget_record(&svc->budget, wall_ms());
    svc->started_ms = 0;
    apply_verdict(svc);
}

/* Spawns now when every after= dependency is ready; otherwise waits in STARTING. */
static void start_or_wait(struct service *svc)
{
    if (!svc->host->deps_ready(svc->host->ctx, svc)) {
        set_state(svc, SVC_STARTING, "waiting for after= %s", svc->conf->n_after == 1 ? svc->conf->after[0] : "dependencies");
        return;
    }
    spawn_now(svc);
}

static void on_backoff_timer(struct loop *loop, struct timer *t)
{
    struct service *svc = t->data;
    (void)loop;
    if (svc->state == SVC_BACKOFF) {
        if (svc->want_up)
            start_or_wait(svc);
        return;
    }
    /* Otherwise this is the stop timeout: KILL the group and everything of this generation. */
    svc->kill_sent = true;
    cgroup_kill(svc->host->cg, name_of(svc)); /* all at once where the kernel can (5.14+) */
    svc->cg_fresh = false;
    if (svc->pid) {
        log_warn("%s: stop timeout (%llu ms): sending KILL", name_of(svc),
                 (unsigned long long)svc->conf->stop_timeout_ms);
        service_signal(svc, SIGKILL);
    }
    svc->host->rescan(svc->host->ctx);
}

static void on_life_timer(struct loop *loop, struct timer *t)
{
    (void)loop;
    struct service *svc = t->data;
    uint64_t now = now_ms();
    if (svc->ratelimited_until_ms > now) { /* a restart would log in again: wait it out */
        timer_start(svc->host->loop, &svc->life_timer, svc->ratelimited_until_ms - now);
        return;
    }
    log_info("%s: max_lifetime reached, restarting", name_of(svc));
    service_stop(svc, STOP_LIFETIME);
}

/* ---- health checks ---- */

static void health_stop(struct service *svc)
{
    timer_stop(svc->host->loop, &svc->health_timer);
    if (svc->host->prober)
        probe_cancel(svc->host->prober, &svc->probe);
}

/* Health belongs to one process instance: a new one starts from "starting", with zero failures
 * and its own start_period (k8s#53530). The first check runs one interval after the spawn. */
static void health_reset(struct service *svc)
{
    health_stop(svc);
    svc->health_failures = 0;
    svc->healthy_since_ms = 0;
    svc->ratelimited_until_ms = 0;
    svc->has_health_result = false;
    svc->health_since_ms = now_ms();
    svc->health = svc->conf->health.kind == CONFIG_HEALTH_NONE ? HEALTH_NONE : HEALTH_STARTING;
    /* Up to 10% (at most 1 s) of jitter on the first check: services started together would
     * otherwise stay in phase and check in bursts forever (bench/RESULTS.md). */
    uint64_t iv = svc->conf->health.interval_ms, spread = iv / 10 < 1000 ? iv / 10 : 1000;
    if (svc->health != HEALTH_NONE && svc->host->prober)
        timer_start(svc->host->loop, &svc->health_timer, iv + (spread ? (uint64_t)random() % spread : 0));
}

static void on_health_result(void *ctx, const struct probe_result *r);

static void on_health_timer(struct loop *loop, struct timer *t)
{
    (void)loop;
    struct service *svc = t->data;
    if (!svc->pid || svc->stop_why != STOP_NONE)
        return;
    if (svc->conf->health.kind == CONFIG_HEALTH_NONE) { /* removed by a reload */
        svc->health = HEALTH_NONE;
        return;
    }
    struct probe_request req;
    int rc = probe_request_from_config(&req, &svc->conf->health);
    if (rc == 0)
        rc = probe_start(svc->host->prober, &svc->probe, &req, on_health_result, svc);
    if (rc < 0 && rc != -EBUSY) {
        /* Could not even try (fork or socket failed): not the service's fault, try again later. */
        log_warn("%s: cannot run the health check: %s", name_of(svc), strerror(-rc));
        timer_start(svc->host->loop, &svc->health_timer, svc->conf->health.interval_ms);
    }
}

/* Counts a failure, outside start_period and unless rate limited; `retries` in a row restart
 * the service through the same classifier and backoff as a crash (P14). */
static void health_failed(struct service *svc, const struct probe_result *r, uint64_t now)
{
    const struct config_health *h = &svc->conf->health;
    if (svc->health == HEALTH_STARTING && now - svc->health_since_ms < h->start_period_ms) {
        log_debug("%s: health check failed inside start_period: %s", name_of(svc), r->detail);
        return;
    }
    svc->health_failures++;
    svc->health = HEALTH_FAILING;
    log_info("%s: health check failed (%u of %u): %s", name_of(svc), svc->health_failures,
             h->retries, r->detail);
    if (svc->health_failures < h->retries)
        return;
    svc->health = HEALTH_UNHEALTHY;
    log_warn("%s: unhealthy after %u failed checks; restarting", name_of(svc), svc->health_failures);
    char why[200];
    snprintf(why, sizeof why, "%u failed health checks, last: %s; restarting", svc->health_failures,
             r->detail);
    svc->alerted_bad = true;
    svc->host->alert(svc->host->ctx, svc, "UNHEALTHY", why);
    service_stop(svc, STOP_HEALTH);
}

static void on_health_result(void *ctx, const struct probe_result *r)
{
    struct service *svc = ctx;
    uint64_t now = now_ms();
    enum svc_health before = svc->health;
    svc->health_last = *r;
    svc->has_health_result = true;
    svc->health_last_wall_ms = wall_ms();
    uint64_t next = svc->conf->health.interval_ms;
    if (!svc->pid || svc->stop_why != STOP_NONE)
        return;
    switch (r->status) {
    case PROBE_HEALTHY:
        if (svc->health != HEALTH_OK && svc->health != HEALTH_STARTING)
            log_info("%s: healthy again", name_of(svc));
        svc->health = HEALTH_OK;
        svc->health_failures = 0;
        if (!svc->healthy_since_ms)
            svc->healthy_since_ms = now;
        if (svc->state == SVC_STARTING && svc->conf->ready == CONFIG_READY_HEALTHY)
            set_state(svc, SVC_RUNNING, "pid %d", (int)svc->pid);
        break;
    case PROBE_RATELIMIT: {
        /* Not a failure, and nothing restarts before Retry-After: hammering a rate-limited API
         * is what earns the Cloudflare ban. */
        uint64_t wait = r->has_retry_after ? r->retry_after_ms : next;
        svc->health = HEALTH_RATELIMITED;
        svc->ratelimited_until_ms = now + wait;
        log_warn("%s: health check rate limited (%s); next check in %llu ms", name_of(svc),
                 r->detail, (unsigned long long)(wait > next ? wait : next));
        next = wait > next ? wait : next;
        break;
    }
    case PROBE_AUTH: {
        char src[160];
        snprintf(src, sizeof src, "health %s", r->detail);
        svc->health = HEALTH_UNHEALTHY;
        service_auth_failed(svc, src);
        return;
    }
    case PROBE_UNHEALTHY:
    case PROBE_STATUS_COUNT:
        health_failed(svc, r, now);
        if (svc->stop_why != STOP_NONE)
            return;
        break;
    }
    /* Only a change of health is news for status waiters; a result like the last one is not
     * (500 services checked every second would otherwise settle the set 500 times a second). */
    if (svc->health != before)
        svc->host->changed(svc->host->ctx, svc);
    timer_start(svc->host->loop, &svc->health_timer, next);
}

/* sd_notify: believed only from the service's own processes (its main pid, its session, its
 * cgroup or marker), since the socket itself is writable by anyone. */
static bool belongs(const struct service *svc, pid_t pid)
{
    if (!svc->pid)
        return false;
    if (pid == svc->pid)
        return true;
    struct proc_info pi;
    return proctree_info(pid, &pi) == 0 && pi.sid == svc->sid;
}

static void on_notify(void *ctx, struct notify_sock *ns, pid_t pid, const struct notify_msg *m)
{
    struct service *svc = ctx;
    (void)ns;
    if (!belongs(svc, pid)) {
        log_debug("%s: notify message from pid %d ignored: not this service's process", name_of(svc), (int)pid);
        return;
    }
    if (m->flags & NOTIFY_HAS_STATUS)
        snprintf(svc->notify_status, sizeof svc->notify_status, "%s", m->status);
    if (m->flags & NOTIFY_HAS_WATCHDOG_USEC && m->watchdog_usec)
        svc->watchdog_ms = m->watchdog_usec / 1000 ? m->watchdog_usec / 1000 : 1;
    if (m->flags & NOTIFY_WATCHDOG_TRIGGER) {
        log_warn("%s: WATCHDOG=trigger from pid %d", name_of(svc), (int)pid);
        service_stop(svc, STOP_WATCHDOG);
        return;
    }
    if ((m->flags & NOTIFY_WATCHDOG) && svc->watchdog_ms && svc->stop_why == STOP_NONE &&
        svc->state == SVC_RUNNING)
        timer_start(svc->host->loop, &svc->wd_timer, svc->watchdog_ms);
    if ((m->flags & NOTIFY_READY) && svc->state == SVC_STARTING &&
        svc->conf->ready == CONFIG_READY_NOTIFY)
        set_state(svc, SVC_RUNNING, "pid %d", (int)svc->pid);
    else if (m->flags & NOTIFY_HAS_STATUS)
        svc->host->changed(svc->host->ctx, svc);
}

static void on_wd_timer(struct loop *loop, struct timer *t)
{
    (void)loop;
    struct service *svc = t->data;
    if (!svc->pid || svc->stop_why != STOP_NONE)
        return;
    log_warn("%s: watchdog: no WATCHDOG=1 for %llu ms; restarting", name_of(svc),
             (unsigned long long)svc->watchdog_ms);
    service_stop(svc, STOP_WATCHDOG);
}

/* AUTHFAIL without a process (the token was unusable before any start). */
static void enter_authfail(struct service *svc, const char *source)
{
    snprintf(svc->auth_event, sizeof svc->auth_event, "%s", source);
    svc->auth_wall_ms = wall_ms();
    timer_stop(svc->host->loop, &svc->timer);
    set_state(svc, SVC_AUTHFAIL, "%s; waiting for a new token", source);
}

void service_auth_failed(struct service *svc, const char *source)
{
    snprintf(svc->auth_event, sizeof svc->auth_event, "%s", source);
    svc->auth_wall_ms = wall_ms();
    log_warn("%s: authentication failed (%s): stopping, no restart until the token changes",
             name_of(svc), source);
    service_stop(svc, STOP_AUTH);
}

static void on_auth_probe(void *ctx, const struct probe_result *r)
{
    struct service *svc = ctx;
    svc->auth_probing = false;
    if (svc->state != SVC_AUTHFAIL)
        return;
    if (r->status == PROBE_AUTH) {
        char src[160];
        snprintf(src, sizeof src, "the new token was refused too (probe %s)", r->detail);
        log_warn("%s: %s; staying in AUTHFAIL", name_of(svc), src);
        enter_authfail(svc, src);
        return;
    }
    if (r->status != PROBE_HEALTHY)
        log_warn("%s: token probe inconclusive (%s); starting anyway", name_of(svc), r->detail);
    else
        log_info("%s: the new token is accepted (probe %s); starting", name_of(svc), r->detail);
    service_start(svc, true);
}

/* [auth] probe = on: one GET {api}/users/@me with the new token, only when leaving AUTHFAIL. */
static bool start_auth_probe(struct service *svc)
{
    const struct config_auth *a = &svc->conf->auth;
    if (!a->probe || !svc->auth.token || !svc->host->prober)
        return false;
    char url[512];
    snprintf(url, sizeof url, "%s/users/@me", a->api);
    size_t hlen = svc->auth.len + 32;
    char *authz = malloc(hlen);
    if (!authz)
        return false;
    snprintf(authz, hlen, "Authorization: Bot %s", svc->auth.token);
    const char *headers[] = {authz, "User-Agent: DiscordBot (https://github.com/nines/nines, " NINES_VERSION ")", NULL};
    struct probe_request req = {
        .kind = PROBE_KIND_HTTP,
        .timeout_ms = 10000,
        .url = url,
        .headers = headers,
    };
    int rc = probe_start(svc->host->prober, &svc->probe, &req, on_auth_probe, svc);
    token_wipe(authz, hlen);
    free(authz);
    svc->auth_probing = rc == 0;
    return rc == 0;
}

void service_token_event(struct service *svc)
{
    if (svc->state != SVC_AUTHFAIL || !service_idle(svc) || svc->auth_probing)
        return;
    if (!authsrc_changed(&svc->conf->auth, &svc->auth))
        return; /* the same token (or an editor's temporary file): still parked */
    int rc = authsrc_load(&svc->auth, &svc->conf->auth, name_of(svc));
    if (rc < 0) {
        log_warn("%s: the token changed but is not usable: %s", name_of(svc), svc->auth.problem);
        enter_authfail(svc, svc->auth.problem);
        return;
    }
    log_info("%s: the token changed (now %s)", name_of(svc), svc->auth.fingerprint);
    if (!start_auth_probe(svc))
        service_start(svc, true);
}

/* A captured line matched a pattern: the old system's 401 monitor, without polling files. */
static void on_log_event(void *ctx, const struct pattern_hit *hit, const char *line, size_t len)
{
    struct service *svc = ctx;
    (void)line;
    (void)len;
    snprintf(svc->last_event, sizeof svc->last_event, "%s: %s", pattern_class_name(hit->cls), hit->rule);
    svc->last_event_wall_ms = wall_ms();
    char src[200];
    snprintf(src, sizeof src, "log: %s", hit->rule);
    switch (hit->cls) {
    case PATTERN_AUTH:
        if (svc->pid && svc->stop_why == STOP_NONE)
            service_auth_failed(svc, src);
        return;
    case PATTERN_CONFIG:
        if (svc->pid && svc->stop_why == STOP_NONE) {
            log_error("%s: configuration error reported (%s): stopping, no restart", name_of(svc), src);
            snprintf(svc->config_event, sizeof svc->config_event, "%s", src);
            service_stop(svc, STOP_CONFIG);
        }
        return;
    case PATTERN_RATELIMIT: {
        /* The process handles its own retries; nines only makes sure that a restart, if one
         * comes, waits at least as long as Discord asked. */
        uint64_t wait = hit->retry_after_ms ? hit->retry_after_ms : 5000;
        uint64_t until = now_ms() + wait;
        if (until > svc->ratelimited_until_ms)
            svc->ratelimited_until_ms = until;
        log_warn("%s: rate limited (%s), retry after %llu ms", name_of(svc), hit->rule,
                 (unsigned long long)wait);
        svc->host->changed(svc->host->ctx, svc);
        return;
    }
    case PATTERN_NONE:
    case PATTERN_CLASS_COUNT: break;
    }
}

void service_stop(struct service *svc, enum stop_reason why)
{
    /* Shutdown is not the operator's intent: it must not be persisted as "wanted down". */
    if (why == STOP_OPERATOR)
        svc->want_up = false;
    timer_stop(svc->host->loop, &svc->life_timer);
    if (svc->pid == 0) {
        if (svc->tree_left || why == STOP_SHUTDOWN) {
            /* Leftovers may be stopping already; the verdict then follows stop_why/want_up. */
            if (svc->stop_why == STOP_NONE || why == STOP_SHUTDOWN || why == STOP_OPERATOR)
                svc->stop_why = why;
        }
        if (svc->tree_left)
            return;
        timer_stop(svc->host->loop, &svc->timer);
        if (svc->state == SVC_BACKOFF || svc->state == SVC_STARTING || svc->state == SVC_RUNNING)
            set_state(svc, SVC_STOPPED, "%s", why == STOP_SHUTDOWN ? "shutdown" : "stopped");
        else
            svc->host->changed(svc->host->ctx, svc); /* terminal states stay; want_up changed */
        return;
    }
    if (svc->stop_why != STOP_NONE && why != STOP_SHUTDOWN && why != STOP_OPERATOR)
        return; /* already stopping for a reason at least as strong */
    svc->stop_why = why;
    char name[16];
    log_info("%s: stopping pid %d (%s, SIG%s)", name_of(svc), (int)svc->pid, stop_reason_name(why),
             sig_name(svc->conf->stop_signal, name, sizeof name));
    service_signal(svc, svc->conf->stop_signal);
    service_signal(svc, SIGCONT); /* a stopped process cannot act on TERM (phusion#506) */
    if (!timer_active(&svc->timer) || svc->state == SVC_BACKOFF)
        timer_start(svc->host->loop, &svc->timer, svc->conf->stop_timeout_ms);
    set_state(svc, SVC_STOPPING, "%s", stop_reason_name(why));
}

void service_start(struct service *svc, bool reset)
{
    svc->want_up = true;
    if (reset)
        backoff_reset(&svc->bo);
    if (svc->pid || svc->tree_left) {
        /* Still stopping: come back once the old generation is gone. */
        if (svc->stop_why == STOP_OPERATOR || svc->stop_why == STOP_SHUTDOWN)
            svc->stop_why = STOP_RESTART;
        if (svc->pending == VERDICT_STOPPED)
            svc->pending = VERDICT_RESTART;
        svc->host->changed(svc->host->ctx, svc);
        return;
    }
    if (svc->state == SVC_BACKOFF && !reset) {
        svc->host->changed(svc->host->ctx, svc);
        return;
    }
    timer_stop(svc->host->loop, &svc->timer);
    start_or_wait(svc);
}

void service_poke(struct service *svc)
{
    if (svc->state == SVC_STARTING && svc->pid == 0 && !svc->tree_left && svc->want_up)
        start_or_wait(svc);
}
