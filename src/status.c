#include "status.h"

#include "proto.h"
#include "sig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int status_name_width(const struct service *const *svcs, size_t n)
{
    size_t w = 9;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(svcs[i]->conf->name);
        if (l > w)
            w = l;
    }
    return (int)w + 3;
}

/* "3:02:11", or "2 days, 3:02:11" (supervisorctl's uptime shape). */
static void fmt_uptime(char *buf, size_t len, uint64_t ms)
{
    uint64_t s = ms / 1000, d = s / 86400;
    s %= 86400;
    if (d)
        snprintf(buf, len, "%llu day%s, %llu:%02llu:%02llu", (unsigned long long)d, d == 1 ? "" : "s",
                 (unsigned long long)(s / 3600), (unsigned long long)(s / 60 % 60),
                 (unsigned long long)(s % 60));
    else
        snprintf(buf, len, "%llu:%02llu:%02llu", (unsigned long long)(s / 3600),
                 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
}

/* "41m ago" style for short spans, rounding down. */
static void fmt_ago(char *buf, size_t len, uint64_t ms)
{
    uint64_t s = ms / 1000;
    if (s < 60)
        snprintf(buf, len, "%llus", (unsigned long long)s);
    else if (s < 3600)
        snprintf(buf, len, "%llum", (unsigned long long)(s / 60));
    else if (s < 86400)
        snprintf(buf, len, "%lluh", (unsigned long long)(s / 3600));
    else
        snprintf(buf, len, "%llud", (unsigned long long)(s / 86400));
}

enum clock_fmt { CLOCK_TIME, CLOCK_SHORT, CLOCK_FULL };

static void fmt_clock(char *buf, size_t len, uint64_t wall_ms, enum clock_fmt how)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    size_t n = 0;
    if (localtime_r(&t, &tm)) {
        if (how == CLOCK_TIME)
            n = strftime(buf, len, "%H:%M:%S", &tm);
        else if (how == CLOCK_SHORT)
            n = strftime(buf, len, "%b %d %H:%M:%S", &tm);
        else
            n = strftime(buf, len, "%Y-%m-%d %H:%M:%S %z", &tm);
    }
    if (!n)
        snprintf(buf, len, "?");
}

static void restarts_text(const struct service *svc, uint64_t now_wall, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!svc->restarts)
        return;
    char ago[32] = "";
    if (svc->last_restart_wall_ms && now_wall >= svc->last_restart_wall_ms)
        fmt_ago(ago, sizeof ago, now_wall - svc->last_restart_wall_ms);
    snprintf(buf, len, ", restarts %llu%s%s%s", (unsigned long long)svc->restarts,
             ago[0] ? " (last " : "", ago, ago[0] ? " ago)" : "");
}

/* ", health ok" / ", health failing (2 of 3: HTTP 500)" / ", rate limited for 28s". */
static void health_text(const struct service *svc, uint64_t now_mono, char *buf, size_t len)
{
    switch (svc->health) {
    case HEALTH_NONE: buf[0] = '\0'; return;
    case HEALTH_RATELIMITED: {
        uint64_t left = svc->ratelimited_until_ms > now_mono ? svc->ratelimited_until_ms - now_mono : 0;
        snprintf(buf, len, ", rate limited for %llus (%s)", (unsigned long long)(left + 999) / 1000,
                 svc->health_last.detail);
        return;
    }
    case HEALTH_FAILING:
        snprintf(buf, len, ", health failing (%u of %u: %s)", svc->health_failures,
                 svc->conf->health.retries, svc->health_last.detail);
        return;
    case HEALTH_STARTING:
    case HEALTH_OK:
    case HEALTH_UNHEALTHY:
    case HEALTH_COUNT: break;
    }
    snprintf(buf, len, ", health %s", svc_health_name(svc->health));
}

const char *status_describe(const struct service *svc, uint64_t now_mono, uint64_t now_wall,
                            char *buf, size_t len)
{
    char up[48], rs[96], at[32];
    restarts_text(svc, now_wall, rs, sizeof rs);
    switch (svc->state) {
    case SVC_RUNNING: {
        char hl[160] = "";
        health_text(svc, now_mono, hl, sizeof hl);
        fmt_uptime(up, sizeof up, now_mono - svc->started_ms);
        snprintf(buf, len, "pid %d, uptime %s%s%s%s%s%s", (int)svc->pid, up, rs, hl,
                 svc->notify_status[0] ? ", status \"" : "", svc->notify_status,
                 svc->notify_status[0] ? "\"" : "");
        break;
    }
    case SVC_BACKOFF: {
        uint64_t in = svc->next_start_ms > now_mono ? svc->next_start_ms - now_mono : 0;
        snprintf(buf, len, "%s in %llu.%llus%s", svc->reason, (unsigned long long)(in / 1000),
                 (unsigned long long)(in % 1000 / 100), rs);
        break;
    }
    case SVC_STOPPED:
        if (!svc->has_last && !svc->restarts) {
            snprintf(buf, len, "%s", svc->want_up ? "not started" : "not started (stopped by operator)");
            break;
        }
        fmt_clock(at, sizeof at, svc->since_wall_ms, CLOCK_SHORT);
        snprintf(buf, len, "%s at %s%s", svc->reason, at, svc->want_up ? "" : " (stopped by operator)");
        break;
    case SVC_EXITED:
    case SVC_FATAL:
    case SVC_AUTHFAIL:
        fmt_clock(at, sizeof at, svc->since_wall_ms, CLOCK_TIME);
        snprintf(buf, len, "%s; since %s%s", svc->reason, at, rs);
        break;
    case SVC_STARTING:
    case SVC_STOPPING:
    case SVC_STATE_COUNT:
        snprintf(buf, len, "%s", svc->reason);
        break;
    }
    return buf;
}

void status_line(FILE *f, const struct service *svc, int name_width, uint64_t now_mono,
                 uint64_t now_wall)
{
    char d[512];
    fprintf(f, "%-*s %-10s %s\n", name_width, svc->conf->name, svc_state_name(svc->state),
            status_describe(svc, now_mono, now_wall, d, sizeof d));
}

void status_json_string(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    char small[512];
    size_t len = strlen(s);
    size_t need = proto_json_escape(small, sizeof small, s, len);
    char *buf = small;
    if (need >= sizeof small) {
        buf = malloc(need + 1);
        if (!buf) {
            fputs("\"\"", f); /* out of memory: an empty string keeps the JSON valid */
            return;
        }
        proto_json_escape(buf, need + 1, s, len);
    }
    fprintf(f, "\"%s\"", buf);
    if (buf != small)
        free(buf);
}

static void json_last_exit(FILE *f, const struct service *svc)
{
    if (!svc->has_last) {
        fputs("null", f);
        return;
    }
    char name[16];
    const struct exit_facts *x = &svc->last;
    fprintf(f, "{\"exited\":%s,", x->exited ? "true" : "false");
    if (x->exited)
        fprintf(f, "\"code\":%d,\"signal\":null,", x->code);
    else
        fprintf(f, "\"code\":null,\"signal\":\"%s\",", sig_name(x->code, name, sizeof name));
    fprintf(f, "\"exec_failed\":%s,\"stopped_for\":", x->exec_failed ? "true" : "false");
    status_json_string(f, x->why == STOP_NONE ? NULL : stop_reason_name(x->why));
    fputc('}', f);
}

void status_json(FILE *f, const struct service *svc, uint64_t now_mono, uint64_t now_wall)
{
    char d[512];
    fputs("{\"name\":", f);
    status_json_string(f, svc->conf->name);
    fprintf(f, ",\"state\":\"%s\",\"want\":\"%s\",", svc_state_name(svc->state),
            svc->want_up ? "up" : "down");
    fputs("\"description\":", f);
    status_json_string(f, status_describe(svc, now_mono, now_wall, d, sizeof d));
    fputs(",\"reason\":", f);
    status_json_string(f, svc->reason);
    fprintf(f, ",\"health\":\"%s\",\"health_failures\":%u,\"health_last\":", svc_health_name(svc->health),
            svc->health_failures);
    if (svc->has_health_result) {
        fprintf(f, "{\"status\":\"%s\",\"code\":%d,\"latency_ms\":%llu,\"at\":%llu,\"detail\":",
                probe_status_name(svc->health_last.status), svc->health_last.code,
                (unsigned long long)svc->health_last.latency_ms,
                (unsigned long long)(svc->health_last_wall_ms / 1000));
        status_json_string(f, svc->health_last.detail);
        fputc('}', f);
    } else {
        fputs("null", f);
    }
    fputs(",\"auth\":", f);
    if (svc->conf->auth.enabled) {
        fputs("{\"fingerprint\":", f);
        status_json_string(f, svc->auth.fingerprint[0] ? svc->auth.fingerprint : NULL);
        fputs(",\"last_failure\":", f);
        if (svc->auth_wall_ms)
            fprintf(f, "%llu", (unsigned long long)(svc->auth_wall_ms / 1000));
        else
            fputs("null", f);
        fputs(",\"source\":", f);
        status_json_string(f, svc->auth_event[0] ? svc->auth_event : NULL);
        fputc('}', f);
    } else {
        fputs("null", f);
    }
    fputs(",\"last_event\":", f);
    if (svc->last_event_wall_ms) {
        fputs("{\"event\":", f);
        status_json_string(f, svc->last_event);
        fprintf(f, ",\"at\":%llu}", (unsigned long long)(svc->last_event_wall_ms / 1000));
    } else {
        fputs("null", f);
    }
    fputs(",\"notify_status\":", f);
    status_json_string(f, svc->notify_status[0] ? svc->notify_status : NULL);
    if (svc->pid)
        fprintf(f, ",\"pid\":%d,\"uptime_ms\":%llu", (int)svc->pid,
                (unsigned long long)(now_mono - svc->started_ms));
    else
        fputs(",\"pid\":null,\"uptime_ms\":null", f);
    fprintf(f, ",\"since\":%llu,\"restarts\":%llu,\"last_restart\":",
            (unsigned long long)(svc->since_wall_ms / 1000), (unsigned long long)svc->restarts);
    if (svc->last_restart_wall_ms)
        fprintf(f, "%llu", (unsigned long long)(svc->last_restart_wall_ms / 1000));
    else
        fputs("null", f);
    fputs(",\"next_start_in_ms\":", f);
    if (svc->state == SVC_BACKOFF)
        fprintf(f, "%llu", (unsigned long long)(svc->next_start_ms > now_mono ? svc->next_start_ms - now_mono : 0));
    else
        fputs("null", f);
    fputs(",\"last_exit\":", f);
    json_last_exit(f, svc);
    struct budget *b = (struct budget *)&svc->budget; /* counting drops expired entries only */
    if (budget_limit(b))
        fprintf(f, ",\"restart_limit\":{\"limit\":%u,\"window_s\":%llu,\"used\":%u}", budget_limit(b),
                (unsigned long long)(budget_window_ms(b) / 1000), budget_count(b, now_wall));
    else
        fputs(",\"restart_limit\":null", f);
    fprintf(f, ",\"log\":{\"lines\":%llu,\"dropped\":%llu,\"file\":", (unsigned long long)svc->log.lines,
            (unsigned long long)logcap_dropped(&svc->log));
    status_json_string(f, svc->log.has_file ? svc->log.file.path : NULL);
    fputs("}}", f);
}

void status_detail(FILE *f, const struct service *svc, uint64_t now_mono, uint64_t now_wall)
{
    const struct config_service *c = svc->conf;
    char at[48];
    fputs("  command:     ", f);
    for (size_t i = 0; c->argv[i]; i++)
        fprintf(f, "%s%s", i ? " " : "", c->argv[i]);
    fputc('\n', f);
    fmt_clock(at, sizeof at, svc->since_wall_ms, CLOCK_FULL);
    fprintf(f, "  state:       %s since %s (wanted %s)\n", svc_state_name(svc->state), at,
            svc->want_up ? "up" : "down");
    if (svc->has_last) {
        char d[160];
        exit_describe(&svc->last, d, sizeof d);
        fprintf(f, "  last exit:   %s\n", d);
    }
    fprintf(f, "  restarts:    %llu", (unsigned long long)svc->restarts);
    if (svc->last_restart_wall_ms) {
        fmt_clock(at, sizeof at, svc->last_restart_wall_ms, CLOCK_FULL);
        fprintf(f, " (last %s)", at);
    }
    fprintf(f, "\n  policy:      %s, backoff %s, streak %u\n", config_policy_name(c->restart.policy),
            config_backoff_name(c->restart.backoff), svc->bo.attempts);
    struct budget *b = (struct budget *)&svc->budget;
    if (budget_limit(b))
        fprintf(f, "  budget:      %u of %u failures in %llus\n", budget_count(b, now_wall),
                budget_limit(b), (unsigned long long)(budget_window_ms(b) / 1000));
    else
        fputs("  budget:      no limit\n", f);
    if (svc->last_event_wall_ms) {
        char eat[40];
        fmt_clock(eat, sizeof eat, svc->last_event_wall_ms, CLOCK_FULL);
        fprintf(f, "  last event:  %s at %s\n", svc->last_event, eat);
    }
    if (c->auth.enabled) {
        fprintf(f, "  auth:        token %s (%s %s)\n", svc->auth.fingerprint[0] ? svc->auth.fingerprint : "not read yet",
                c->auth.token_file ? "file" : "variable", c->auth.token_file ? c->auth.token_file : c->auth.token_env);
        if (svc->auth_wall_ms) {
            char aat[40];
            fmt_clock(aat, sizeof aat, svc->auth_wall_ms, CLOCK_FULL);
            fprintf(f, "  auth fail:   %s, from %s\n", aat, svc->auth_event);
        }
        if (svc->state == SVC_AUTHFAIL)
            fprintf(f, "  to recover:  write a new token to %s (nines notices at once), or run "
                       "`ninesctl recover %s`\n",
                    c->auth.token_file ? c->auth.token_file : "the token source", c->name);
    }
    if (svc->health != HEALTH_NONE) {
        fprintf(f, "  health:      %s", svc_health_name(svc->health));
        if (svc->has_health_result) {
            char hat[16];
            fmt_clock(hat, sizeof hat, svc->health_last_wall_ms, CLOCK_TIME);
            fprintf(f, "; last %s at %s, %llu ms", svc->health_last.detail, hat,
                    (unsigned long long)svc->health_last.latency_ms);
        }
        fprintf(f, "; %u consecutive failures\n", svc->health_failures);
    }
    const struct logcap *lc = &svc->log;
    if (lc->has_file)
        fprintf(f, "  log file:    %s (%llu bytes)%s%s\n", lc->file.path,
                (unsigned long long)lc->file.size, lc->file.last_err ? "; failing: " : "",
                lc->file.last_err ? strerror(lc->file.last_err) : "");
    if (logcap_dropped(lc))
        fprintf(f, "  log dropped: %llu lines (file %llu, console %llu)\n",
                (unsigned long long)logcap_dropped(lc),
                (unsigned long long)(lc->has_file ? lc->file.dropped : 0),
                (unsigned long long)lc->console_dropped);
    if (c->pidfile)
        fprintf(f, "  pidfile:     %s%s%s\n", c->pidfile, svc->files_note[0][0] ? "; " : "",
                svc->files_note[0]);
    if (c->lockfile)
        fprintf(f, "  lockfile:    %s%s%s\n", c->lockfile, svc->files_note[1][0] ? "; " : "",
                svc->files_note[1]);
    (void)now_mono;
}

void status_tail(FILE *f, const struct service *svc, size_t n)
{
    struct ring_line l;
    uint64_t seq = ring_tail_start(&svc->log.ring, n);
    if (!ring_get(&svc->log.ring, seq, &l)) {
        fputs("  last lines:  (no output yet)\n", f);
        return;
    }
    fputs("  last lines:\n", f);
    for (; ring_get(&svc->log.ring, seq, &l); seq++) {
        char ts[16];
        fmt_clock(ts, sizeof ts, l.wall_ms, CLOCK_TIME);
        fprintf(f, "    %s %s%s | ", ts, l.stream == RING_STDERR ? "err" : "out",
                (l.flags & RING_CUT) ? "+" : "");
        fwrite(l.data, 1, l.len, f);
        fputc('\n', f);
    }
}
