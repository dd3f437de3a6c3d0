#include "exitclass.h"

#include "sig.h"

#include <stdio.h>

static const char *const reason_names[] = {
    [STOP_NONE] = "none",         [STOP_OPERATOR] = "operator", [STOP_SHUTDOWN] = "shutdown",
    [STOP_RESTART] = "restart",   [STOP_LIFETIME] = "max_lifetime", [STOP_HEALTH] = "health",
    [STOP_WATCHDOG] = "watchdog", [STOP_AUTH] = "auth",         [STOP_CONFIG] = "config",
};
_Static_assert(sizeof reason_names / sizeof reason_names[0] == STOP_REASON_COUNT, "reason names");

static const char *const verdict_names[] = {
    [VERDICT_STOPPED] = "stopped",
    [VERDICT_RESTART] = "restart",
    [VERDICT_RESTART_CLEAN] = "restart-clean",
    [VERDICT_RESTART_FAILURE] = "restart-failure",
    [VERDICT_EXITED] = "exited",
    [VERDICT_FATAL] = "fatal",
    [VERDICT_AUTHFAIL] = "authfail",
};
_Static_assert(sizeof verdict_names / sizeof verdict_names[0] == VERDICT_COUNT, "verdict names");

const char *stop_reason_name(enum stop_reason r)
{
    return (unsigned)r < STOP_REASON_COUNT ? reason_names[r] : "?";
}

const char *verdict_name(enum verdict v)
{
    return (unsigned)v < VERDICT_COUNT ? verdict_names[v] : "?";
}

/* A process nines stopped on purpose: the reason decides, whatever the exit status was. */
static enum verdict classify_requested(enum stop_reason why)
{
    switch (why) {
    case STOP_OPERATOR:
    case STOP_SHUTDOWN: return VERDICT_STOPPED;
    case STOP_RESTART:
    case STOP_LIFETIME: return VERDICT_RESTART;
    case STOP_AUTH: return VERDICT_AUTHFAIL;
    case STOP_CONFIG: return VERDICT_FATAL;
    case STOP_HEALTH:
    case STOP_WATCHDOG:
    case STOP_NONE:
    case STOP_REASON_COUNT: break;
    }
    return VERDICT_RESTART_FAILURE; /* health and watchdog: the same path as a crash (P14) */
}

enum verdict exit_classify(const struct exit_facts *f, enum config_policy policy,
                           const struct parse_exit_codes *no_restart)
{
    /* A process nines stopped because it looked dead (health, watchdog, lifetime) may still say
     * why on its way out: exit 77/78 is its own verdict and wins, or a bot whose token was
     * revoked would be restarted into the same 401 by every watchdog miss. */
    bool looked_dead = f->why == STOP_HEALTH || f->why == STOP_WATCHDOG || f->why == STOP_LIFETIME;
    if (looked_dead && f->exited && !f->exec_failed && f->code == EXIT_AUTHFAIL)
        return VERDICT_AUTHFAIL;
    if (looked_dead && f->exited && !f->exec_failed && f->code == EXIT_CONFIG)
        return VERDICT_FATAL;
    if (f->why != STOP_NONE) {
        enum verdict v = classify_requested(f->why);
        if (v == VERDICT_RESTART_FAILURE && policy == CONFIG_POLICY_NEVER)
            return VERDICT_EXITED;
        return v;
    }
    if (f->exited && !f->exec_failed) {
        if (f->code == EXIT_AUTHFAIL)
            return VERDICT_AUTHFAIL;
        if (f->code == EXIT_CONFIG)
            return VERDICT_FATAL;
        if (no_restart && parse_exit_codes_has(no_restart, f->code))
            return VERDICT_EXITED;
        if (f->code == 0)
            return policy == CONFIG_POLICY_ALWAYS ? VERDICT_RESTART_CLEAN : VERDICT_EXITED;
    }
    /* A failure: non-zero exit, a signal, or a program that could not be executed. A missing
     * binary may appear later (a volume mounted late), so it retries with backoff like a crash;
     * giving up is what `limit` is for (supervisord#487). */
    return policy == CONFIG_POLICY_NEVER ? VERDICT_EXITED : VERDICT_RESTART_FAILURE;
}

bool verdict_is_failure(const struct exit_facts *f, enum verdict v)
{
    if (v == VERDICT_RESTART_FAILURE)
        return true;
    /* Under policy never a failure still counts in status, but nothing restarts. */
    return v == VERDICT_EXITED && f->why == STOP_NONE &&
           (f->exec_failed || !f->exited || f->code != 0);
}

const char *exit_describe(const struct exit_facts *f, char *buf, size_t len)
{
    char name[16];
    if (f->exec_failed)
        snprintf(buf, len, "cannot execute");
    else if (f->why == STOP_HEALTH || f->why == STOP_WATCHDOG || f->why == STOP_LIFETIME ||
             f->why == STOP_AUTH || f->why == STOP_CONFIG)
        snprintf(buf, len, "stopped: %s", stop_reason_name(f->why));
    else if (f->exited)
        snprintf(buf, len, "exit %d", f->code);
    else
        snprintf(buf, len, "signal %s", sig_name(f->code, name, sizeof name));
    return buf;
}
