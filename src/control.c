/* control: the verbs of the control socket, on top of ctl.c (transport, authorisation) and the
 * supervisor's state. start/stop/restart answer once the change has happened or failed, with a
 * deadline; the others answer at once. */
#include "supervisor_int.h"

#include "log.h"
#include "logfile.h"
#include "status.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long start/restart may take beyond the stop timeout before the client hears "timed out". */
enum { START_GRACE_MS = 30000, STOP_GRACE_MS = 5000, WAITER_POLL_MS = 250 };

/* With ready = started, "started" is only said of a process that stayed up this long: one that
 * exits at once must come back as an error, not as a success (supervisord's startsecs). */
enum { START_SETTLE_MS = 1000 };

struct waiter {
    struct waiter *next;
    struct ctl_conn *conn;
    enum proto_verb verb;
    uint64_t deadline;
    size_t n;
    struct wait_item {
        char *name;
        char instance[48]; /* restart: the instance that must be replaced */
        bool done;
    } items[];
};

struct follower {
    struct follower *next;
    struct ctl_conn *conn;
    char name[256];
    uint64_t last_seq; /* the last line sent */
};

/* ---- replies ---- */

/* Renders into a memory stream; on success the text is sent with exit code `code`. */
struct mem {
    FILE *f;
    char *buf;
    size_t len;
};

static bool mem_open(struct mem *m, struct ctl_conn *conn)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    if (!m->f)
        ctl_reply_error(conn, 1, "out of memory");
    return m->f != NULL;
}

static void mem_send(struct mem *m, struct ctl_conn *conn, int code)
{
    if (fclose(m->f) != 0) {
        free(m->buf);
        ctl_reply_error(conn, 1, "out of memory");
        return;
    }
    ctl_reply(conn, code, m->buf, m->len);
    free(m->buf);
}

/* Resolves the names of a request ("all" or none: every current service). Unknown names are
 * reported into f. Returns a malloc'd array (caller frees) or NULL when out of memory. */
static struct service **select_services(struct supervisor *s, const struct proto_request *req,
                                        FILE *f, size_t *n, bool *unknown)
{
    *n = 0;
    *unknown = false;
    bool all = (req->flags & PROTO_F_ALL) || req->nnames == 0;
    struct service **v = malloc((all ? s->n_svcs : req->nnames) * sizeof *v + 1);
    if (!v)
        return NULL;
    if (all) {
        for (size_t i = 0; i < s->n_svcs; i++)
            if (config_find_service(s->cfg, s->svcs[i]->conf->name) == s->svcs[i]->conf)
                v[(*n)++] = s->svcs[i];
        return v;
    }
    for (size_t i = 0; i < req->nnames; i++) {
        struct service *svc = sup_find_service(s, req->names[i]);
        if (svc)
            v[(*n)++] = svc;
        else {
            fprintf(f, "%s: ERROR (no such service)\n", req->names[i]);
            *unknown = true;
        }
    }
    return v;
}

/* ---- status, check ---- */

/* status --json: unknown names go into an "unknown" key, so the output stays one JSON object. */
static void json_unknown(FILE *f, struct supervisor *s, const struct proto_request *req)
{
    fputs("],\"unknown\":[", f);
    bool first = true;
    for (size_t i = 0; i < req->nnames && !(req->flags & PROTO_F_ALL); i++) {
        if (sup_find_service(s, req->names[i]))
            continue;
        if (!first)
            fputc(',', f);
        status_json_string(f, req->names[i]);
        first = false;
    }
    fputc(']', f);
}

static void do_status(struct supervisor *s, struct ctl_conn *conn, const struct proto_request *req)
{
    struct mem m;
    if (!mem_open(&m, conn))
        return;
    bool json = req->flags & PROTO_F_JSON;
    size_t n;
    bool unknown;
    /* Human form: "NAME: ERROR (no such service)" lines; JSON: the "unknown" key instead. */
    FILE *errf = json ? fopen("/dev/null", "we") : m.f;
    struct service **v = errf ? select_services(s, req, errf, &n, &unknown) : NULL;
    if (errf && errf != m.f)
        fclose(errf);
    if (!v) {
        fclose(m.f);
        free(m.buf);
        ctl_reply_error(conn, 1, "out of memory");
        return;
    }
    uint64_t mono = now_ms(), wall = wall_ms();
    bool all_running = true;
    if (json)
        fputs("{\"services\":[", m.f);
    int w = status_name_width((const struct service *const *)v, n);
    for (size_t i = 0; i < n; i++) {
        all_running = all_running && v[i]->state == SVC_RUNNING;
        if (json) {
            if (i)
                fputc(',', m.f);
            status_json(m.f, v[i], mono, wall);
            continue;
        }
        status_line(m.f, v[i], w, mono, wall);
        if (req->nnames && !(req->flags & PROTO_F_ALL)) {
            status_detail(m.f, v[i], mono, wall);
            status_tail(m.f, v[i], 10);
        }
    }
    uint64_t merged = s->alerter_ok ? alerter_dropped(&s->alerter) : 0;
    if (json) {
        json_unknown(m.f, s, req);
        fprintf(m.f, ",\"alerts\":{\"merged\":%llu}}\n", (unsigned long long)merged);
    } else if (merged) {
        fprintf(m.f, "(alerts: %llu older events merged into newer ones)\n", (unsigned long long)merged);
    }
    free(v);
    /* supervisorctl's LSB codes: 4 unknown name, 3 something not running, 0 all running. */
    mem_send(&m, conn, unknown ? 4 : all_running ? 0 : 3);
}

static void do_check(struct supervisor *s, struct ctl_conn *conn, const struct proto_request *req)
{
    struct mem m;
    if (!mem_open(&m, conn))
        return;
    size_t n;
    bool unknown;
    struct service **v = select_services(s, req, m.f, &n, &unknown);
    bool ok = v && !unknown;
    for (size_t i = 0; v && i < n; i++) {
        /* RUNNING, and healthy where it has a check (rate limited counts as alive: the check
         * got an answer, it was told to wait). */
        enum svc_health hl = v[i]->health;
        bool healthy = hl == HEALTH_NONE || hl == HEALTH_OK || hl == HEALTH_RATELIMITED;
        if (v[i]->state != SVC_RUNNING || !healthy) {
            ok = false;
            fprintf(m.f, "%s: %s%s%s\n", v[i]->conf->name, svc_state_name(v[i]->state),
                    v[i]->state == SVC_RUNNING ? ", health " : "",
                    v[i]->state == SVC_RUNNING ? svc_health_name(hl) : "");
        }
    }
    free(v);
    /* As status and docs/protocol.md: 4 unknown name, 3 not running (or not healthy). */
    mem_send(&m, conn, unknown ? 4 : !v ? 1 : ok ? 0 : 3);
}

/* ---- start, stop, restart: act, then wait until it happened ---- */

static bool item_settled(const struct service *svc, enum proto_verb verb, const struct wait_item *it,
                         bool *failed)
{
    *failed = false;
    if (verb == PROTO_STOP)
        return service_idle(svc) && svc->state != SVC_STOPPING;
    if (verb == PROTO_RESTART && svc->pid && !strcmp(svc->instance, it->instance))
        return false; /* the old process is still the current one */
    switch (svc->state) {
    case SVC_RUNNING:
        return svc->conf->ready != CONFIG_READY_STARTED || now_ms() - svc->since_ms >= START_SETTLE_MS;
    case SVC_BACKOFF:
    case SVC_EXITED:
    case SVC_FATAL:
    case SVC_AUTHFAIL:
    case SVC_STOPPED:
        *failed = true;
        return true;
    case SVC_STARTING:
    case SVC_STOPPING:
    case SVC_STATE_COUNT: break;
    }
    return false;
}

static const char *verb_done(enum proto_verb verb)
{
    return verb == PROTO_STOP ? "stopped" : verb == PROTO_RESTART ? "restarted" : "started";
}

/* Answers the waiter when every item settled or the deadline passed. Returns true when done. */
static bool waiter_check(struct supervisor *s, struct waiter *w, uint64_t now)
{
    bool expired = now >= w->deadline, all = true;
    for (size_t i = 0; i < w->n; i++) {
        struct service *svc = sup_find_service(s, w->items[i].name);
        bool failed;
        if (!w->items[i].done && (!svc || item_settled(svc, w->verb, &w->items[i], &failed)))
            w->items[i].done = true;
        all = all && w->items[i].done;
    }
    if (!all && !expired)
        return false;
    struct mem m;
    if (!mem_open(&m, w->conn))
        return true;
    int code = 0;
    char d[512];
    for (size_t i = 0; i < w->n; i++) {
        struct service *svc = sup_find_service(s, w->items[i].name);
        bool failed = false;
        if (!svc) {
            fprintf(m.f, "%s: ERROR (removed meanwhile)\n", w->items[i].name);
            code = 1;
        } else if (!w->items[i].done || !item_settled(svc, w->verb, &w->items[i], &failed)) {
            fprintf(m.f, "%s: ERROR (timed out: %s %s)\n", w->items[i].name,
                    svc_state_name(svc->state), status_describe(svc, now, wall_ms(), d, sizeof d));
            code = 1;
        } else if (failed) {
            fprintf(m.f, "%s: ERROR (%s: %s)\n", w->items[i].name, svc_state_name(svc->state),
                    status_describe(svc, now, wall_ms(), d, sizeof d));
            code = 1;
        } else {
            fprintf(m.f, "%s: %s\n", w->items[i].name, verb_done(w->verb));
        }
    }
    mem_send(&m, w->conn, code);
    return true;
}

static void waiter_free(struct waiter *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->items[i].name);
    free(w);
}

void control_settle(struct supervisor *s)
{
    uint64_t now = now_ms();
    for (struct waiter **pw = &s->waiters; *pw;) {
        struct waiter *w = *pw;
        if (waiter_check(s, w, now)) {
            *pw = w->next;
            waiter_free(w);
        } else {
            pw = &w->next;
        }
    }
    if (s->waiters && !timer_active(&s->waiter_timer))
        timer_start(s->loop, &s->waiter_timer, WAITER_POLL_MS);
}

static void on_waiter_timer(struct loop *loop, struct timer *t)
{
    (void)loop;
    control_settle(t->data);
}

static void act(struct service *svc, enum proto_verb verb)
{
    switch (verb) {
    case PROTO_START: service_start(svc, true); break;
    case PROTO_STOP: service_stop(svc, STOP_OPERATOR); break;
    case PROTO_RESTART:
        if (svc->pid)
            service_stop(svc, STOP_RESTART);
        service_start(svc, true);
        break;
    default: break;
    }
}

/* A request waiting for services v[0..n) to settle after verb; its deadline allows for the
 * longest stop_timeout among them. NULL when out of memory. */
static struct waiter *waiter_new(struct service **v, size_t n, enum proto_verb verb,
                                 struct ctl_conn *conn)
{
    struct waiter *w = calloc(1, sizeof *w + n * sizeof w->items[0]);
    if (!w)
        return NULL;
    uint64_t longest = 0;
    for (size_t i = 0; i < n; i++) {
        w->items[i].name = strdup(v[i]->conf->name);
        if (!w->items[i].name) {
            w->n = i;
            waiter_free(w);
            return NULL;
        }
        snprintf(w->items[i].instance, sizeof w->items[i].instance, "%s",
                 v[i]->pid ? v[i]->instance : "");
        if (v[i]->conf->stop_timeout_ms > longest)
            longest = v[i]->conf->stop_timeout_ms;
    }
    w->n = n;
    w->conn = conn;
    w->verb = verb;
    w->deadline = now_ms() + longest + (verb == PROTO_STOP ? STOP_GRACE_MS : START_GRACE_MS);
    return w;
}

static void do_change(struct supervisor *s, struct ctl_conn *conn, const struct proto_request *req)
{
    struct mem m;
    if (!mem_open(&m, conn))
        return;
    size_t n;
    bool unknown;
    struct service **v = select_services(s, req, m.f, &n, &unknown);
    if (!v || unknown || s->shutting_down) {
        if (v && !unknown)
            fputs("ERROR (shutting down)\n", m.f);
        free(v);
        mem_send(&m, conn, unknown ? 4 : 1);
        return;
    }
    fclose(m.f);
    free(m.buf);
    struct waiter *w = waiter_new(v, n, req->verb, conn);
    if (!w) {
        free(v);
        ctl_reply_error(conn, 1, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        act(v[i], req->verb);
    free(v);
    w->next = s->waiters;
    s->waiters = w;
    control_settle(s);
}

/* ---- signal, reload, recover, shutdown ---- */

static void do_signal(struct supervisor *s, struct ctl_conn *conn, const struct proto_request *req)
{
    struct mem m;
    if (!mem_open(&m, conn))
        return;
    size_t n;
    bool unknown;
    struct service **v = select_services(s, req, m.f, &n, &unknown);
    int code = unknown ? 4 : v ? 0 : 1;
    char name[16];
    sig_name(req->signo, name, sizeof name);
    for (size_t i = 0; v && i < n; i++) {
        int rc = service_signal(v[i], req->signo);
        if (rc == 0) {
            fprintf(m.f, "%s: sent SIG%s\n", v[i]->conf->name, name);
            log_info("%s: SIG%s sent on request", v[i]->conf->name, name);
        } else {
            fprintf(m.f, "%s: ERROR (%s)\n", v[i]->conf->name,
                    rc == -ESRCH ? "not running" : strerror(-rc));
            code = code ? code : 1;
        }
    }
    free(v);
    mem_send(&m, conn, code);
}

static void do_reload(struct supervisor *s, struct ctl_conn *conn)
{
    struct config_errors errs = {0};
    int rc = sup_reload(s, &errs);
    struct mem m;
    if (mem_open(&m, conn)) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(m.f, "%s\n", errs.msgs[i]);
        if (rc < 0)
            fputs("reload failed; the running configuration is unchanged\n", m.f);
        else
            fputs("reloaded\n", m.f);
        mem_send(&m, conn, rc < 0 ? 1 : 0);
    }
    config_errors_free(&errs);
}

/* The old system's emergency path: forget failures, clean stale files, start. */
static void do_recover(struct supervisor *s, struct ctl_conn *conn, const struct proto_request *req)
{
    struct mem m;
    if (!mem_open(&m, conn))
        return;
    size_t n;
    bool unknown;
    struct service **v = select_services(s, req, m.f, &n, &unknown);
    for (size_t i = 0; v && i < n; i++) {
        struct service *svc = v[i];
        budget_clear(&svc->budget);
        backoff_reset(&svc->bo);
        if (service_idle(svc) && svc->state != SVC_RUNNING) {
            fprintf(m.f, "%s: recovering from %s\n", svc->conf->name, svc_state_name(svc->state));
            log_info("%s: recover requested (was %s)", svc->conf->name, svc_state_name(svc->state));
            service_start(svc, true);
        } else {
            fprintf(m.f, "%s: counters reset (%s)\n", svc->conf->name, svc_state_name(svc->state));
        }
    }
    int code = unknown ? 4 : v ? 0 : 1;
    free(v);
    mem_send(&m, conn, code);
}

/* ---- log ---- */

/* One ring line as in the log file: `2026-11-29T21:33:02.123+00:00 err | text`, with `err+`
 * for a piece of a longer line that continues in the next one. Returns as ctl_write. */
static int write_line(struct ctl_conn *conn, const struct ring_line *l)
{
    struct tsfmt ts = {0};
    char when[40];
    tsfmt_format(&ts, l->wall_ms, when);
    const char *label = l->stream == RING_STDERR ? "err" : "out";
    int rc = ctl_printf(conn, "%s %s%s | ", when, label, (l->flags & RING_CUT) ? "+" : "");
    if (rc == 0)
        rc = ctl_write(conn, l->data, l->len);
    if (rc == 0)
        rc = ctl_write(conn, "\n", 1);
    return rc;
}

/* Sends the lines after f->last_seq; says so when some were evicted before they could be sent. */
static int follow_send(struct follower *f, const struct ring *r)
{
    uint64_t lost = 0;
    uint64_t seq = ring_after(r, f->last_seq, &lost);
    int rc = 0;
    if (lost)
        rc = ctl_printf(f->conn, "nines: %llu lines dropped (the client read too slowly)\n",
                        (unsigned long long)lost);
    struct ring_line l;
    for (; rc == 0 && ring_get(r, seq, &l); seq++) {
        rc = write_line(f->conn, &l);
        f->last_seq = seq;
    }
    return rc;
}

void control_output(struct supervisor *s, struct service *svc)
{
    for (struct follower *f = s->followers; f; f = f->next)
        if (!strcmp(f->name, svc->conf->name))
            follow_send(f, &svc->log.ring); /* an error drops conn; gone() removes f */
}

static void do_log(struct supervisor *s, struct ctl_conn *conn, const struct proto_request *req)
{
    struct service *svc = sup_find_service(s, req->names[0]);
    if (!svc) {
        ctl_reply_errorf(conn, 4, "%s: no such service", req->names[0]);
        return;
    }
    size_t n = req->flags & PROTO_F_LINES ? req->lines : 10;
    struct follower *f = calloc(1, sizeof *f);
    if (!f) {
        ctl_reply_error(conn, 1, "out of memory");
        return;
    }
    f->conn = conn;
    snprintf(f->name, sizeof f->name, "%s", svc->conf->name);
    uint64_t start = ring_tail_start(&svc->log.ring, n);
    f->last_seq = start ? start - 1 : 0;
    /* Stream from the header on: the tail may be large, and -f never ends. */
    int rc = ctl_begin(conn, 0);
    if (rc == 0)
        rc = follow_send(f, &svc->log.ring);
    if (!(req->flags & PROTO_F_FOLLOW) || rc < 0) {
        free(f);
        ctl_end(conn, 0);
        return;
    }
    f->next = s->followers;
    s->followers = f;
}

/* ---- dispatch ---- */

static void on_request(void *ctx, struct ctl_conn *conn, const struct proto_request *req)
{
    struct supervisor *s = ctx;
    switch (req->verb) {
    case PROTO_STATUS: do_status(s, conn, req); return;
    case PROTO_CHECK: do_check(s, conn, req); return;
    case PROTO_START:
    case PROTO_STOP:
    case PROTO_RESTART: do_change(s, conn, req); return;
    case PROTO_SIGNAL: do_signal(s, conn, req); return;
    case PROTO_RELOAD: do_reload(s, conn); return;
    case PROTO_RECOVER: do_recover(s, conn, req); return;
    case PROTO_SHUTDOWN:
        ctl_reply(conn, 0, "shutting down\n", 14);
        sup_start_shutdown(s, 0);
        return;
    case PROTO_LOG: do_log(s, conn, req); return;
    case PROTO_VERSION:
    case PROTO_VERB_COUNT: break;
    }
    ctl_reply_error(conn, 2, "not supported by this nines");
}

static void on_gone(void *ctx, struct ctl_conn *conn)
{
    struct supervisor *s = ctx;
    for (struct follower **pf = &s->followers; *pf; pf = &(*pf)->next) {
        if ((*pf)->conn == conn) {
            struct follower *f = *pf;
            *pf = f->next;
            free(f);
            return;
        }
    }
    for (struct waiter **pw = &s->waiters; *pw; pw = &(*pw)->next) {
        if ((*pw)->conn == conn) {
            struct waiter *w = *pw;
            *pw = w->next;
            waiter_free(w); /* the change itself goes on: only the answer has no one to go to */
            return;
        }
    }
}

static const struct ctl_ops control_ops = {on_request, on_gone};

int control_open(struct supervisor *s)
{
    const struct config_main *m = &s->cfg->main;
    char path[PATH_MAX];
    const char *env = getenv("NINES_SOCKET");
    if (env && *env)
        snprintf(path, sizeof path, "%s", env);
    else if (snprintf(path, sizeof path, "%s/control.sock", m->run_dir) >= (int)sizeof path)
        return -ENAMETOOLONG;
    struct ctl_opts o = {
        .control_gid = m->control_group ? m->control_gid : CTL_NO_GID,
        .status_gid = m->status_group ? m->status_gid : CTL_NO_GID,
    };
    timer_init(&s->waiter_timer, on_waiter_timer, s);
    s->ctl = ctl_open(s->loop, path, &control_ops, s, &o);
    if (!s->ctl) {
        int e = errno;
        log_error("cannot open the control socket %s: %s (ninesctl will not reach this nines)",
                  path, strerror(e));
        return -e;
    }
    log_debug("control socket at %s", path);
    return 0;
}

void control_close(struct supervisor *s)
{
    ctl_free(s->ctl); /* pending waiters get gone() and are freed there */
    s->ctl = NULL;
    timer_stop(s->loop, &s->waiter_timer);
}
