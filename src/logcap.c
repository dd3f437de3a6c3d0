#include "logcap.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Bytes read from one pipe per wake-up: a chatty child cannot starve the loop, and what is not
 * read yet waits in the pipe, where it throttles the writer. */
enum { READ_MAX_PER_WAKEUP = 64 * 1024 };

static const char *stream_label(int stream, bool cut)
{
    /* "out+" marks a piece of a line longer than LINEBUF_MAX: it continues on the next record. */
    if (stream == RING_STDERR)
        return cut ? "err+" : "err";
    return cut ? "out+" : "out";
}

static void to_file(struct logcap *lc, int stream, const char *line, size_t len, bool cut,
                    uint64_t wall)
{
    char buf[LINEBUF_MAX + 64];
    size_t n = 0;
    if (lc->timestamps) {
        n = tsfmt_format(&lc->ts, wall, buf);
        buf[n++] = ' ';
    }
    const char *label = stream_label(stream, cut); /* copied, not printed: this runs per line */
    size_t ll = strlen(label);
    memcpy(buf + n, label, ll);
    memcpy(buf + n + ll, " | ", 3);
    n += ll + 3;
    if (len > sizeof buf - n - 1)
        len = sizeof buf - n - 1; /* cannot happen: lines are at most LINEBUF_MAX */
    memcpy(buf + n, line, len);
    n += len;
    buf[n++] = '\n';
    logfile_write(&lc->file, buf, n, now_ms());
}

static void to_console(struct logcap *lc, const char *line, size_t len)
{
    /* One write per line so lines of different services never interleave mid-line. */
    char buf[LINEBUF_MAX + 300];
    int p = snprintf(buf, sizeof buf, "%s | ", lc->name);
    if (p < 0 || (size_t)p + len + 1 > sizeof buf)
        return;
    memcpy(buf + p, line, len);
    size_t n = (size_t)p + len;
    buf[n++] = '\n';
    if (recwriter_write(lc->host->console_w, buf, n) < 0)
        lc->console_dropped++; /* a full pipe: dropped, never waited for */
}

static void on_line(void *ctx, const char *line, size_t len, bool cut, bool partial)
{
    struct logcap_stream *st = ctx;
    struct logcap *lc = st->lc;
    uint64_t wall = wall_ms();
    lc->lines++;
    struct pattern_hit hit;
    enum pattern_class cls = patterns_match(&lc->patterns, line, len, &hit);
    /* The mask is never longer than what it hides, so the line fits where it was. */
    char red[LINEBUF_MAX];
    if (lc->redact && len <= sizeof red) {
        len = redact_line(&lc->redactor, line, len, red, sizeof red);
        line = red;
    }
    ring_push(&lc->ring, wall, (uint8_t)st->stream, (cut ? RING_CUT : 0) | (partial ? RING_PARTIAL : 0),
              line, len);
    if (lc->has_file)
        to_file(lc, st->stream, line, len, cut, wall);
    if (lc->host->console)
        to_console(lc, line, len);
    lc->host->output(lc->host->ctx);
    if (cls != PATTERN_NONE)
        lc->host->event(lc->host->ctx, &hit, line, len);
}

static void detach(struct logcap_stream *st)
{
    if (st->w.fd < 0)
        return;
    linebuf_flush(&st->lb, on_line, st); /* a last line without newline is kept, marked partial */
    if (st->lc->has_file)
        logfile_flush(&st->lc->file, now_ms());
    loop_unwatch(st->lc->host->loop, &st->w);
    close(st->w.fd);
    st->w.fd = -1;
}

/* Reads what the pipe has, up to READ_MAX_PER_WAKEUP (unbounded when to_eof: the writers are
 * known to be gone). Detaches at EOF or on an error. */
static void drain(struct logcap_stream *st, bool to_eof)
{
    char buf[65536]; /* a whole pipe buffer per read(2) */
    size_t budget = READ_MAX_PER_WAKEUP;
    while (to_eof || budget > 0) {
        ssize_t n = read(st->w.fd, buf, sizeof buf);
        if (n > 0) {
            linebuf_feed(&st->lb, buf, (size_t)n, on_line, st);
            budget = (size_t)n > budget ? 0 : budget - (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || errno != EAGAIN)
            detach(st);
        break;
    }
    if (st->lc->has_file) /* one write per burst, not per line */
        logfile_flush(&st->lc->file, now_ms());
}

static void on_readable(struct loop *loop, struct watcher *w, uint32_t events)
{
    (void)loop;
    (void)events;
    drain(w->data, false);
}

static int open_file(struct logcap *lc, const struct config_log *cfg)
{
    lc->has_file = cfg->file != NULL;
    if (!lc->has_file)
        return 0;
    int rc = logfile_init(&lc->file, cfg->file, cfg->max_size, cfg->max_files);
    if (rc < 0)
        lc->has_file = false;
    else if (lc->file.fd < 0)
        log_warn("%s: cannot open log file %s: %s (retrying)", lc->name, cfg->file,
                 strerror(lc->file.last_err));
    return rc;
}

static int init_patterns(struct logcap *lc, const struct config_service *conf)
{
    /* Discord's default set only for services with [auth]: "401: Unauthorized" from some other
     * HTTP service is not a bot token problem. A service's own patterns always apply. */
    const struct config_auth *a = &conf->auth;
    return patterns_init(&lc->patterns, a->enabled && a->default_patterns, a->patterns, a->n_patterns);
}

int logcap_init(struct logcap *lc, const struct config_service *conf, const struct logcap_host *host)
{
    const struct config_log *cfg = &conf->log;
    memset(lc, 0, sizeof *lc);
    snprintf(lc->name, sizeof lc->name, "%s", conf->name);
    lc->host = host;
    lc->redact = cfg->redact;
    lc->timestamps = cfg->timestamps == CONFIG_TIMESTAMPS_ISO8601;
    for (int i = 0; i < 2; i++) {
        lc->s[i].lc = lc;
        lc->s[i].stream = i == 0 ? RING_STDOUT : RING_STDERR;
        lc->s[i].w.fd = -1;
    }
    int rc = ring_init(&lc->ring, LOGCAP_RING_BYTES);
    if (rc == 0)
        rc = redactor_init(&lc->redactor, NULL);
    if (rc == 0)
        rc = init_patterns(lc, conf);
    if (rc == 0)
        rc = open_file(lc, cfg);
    return rc;
}

int logcap_set_token(struct logcap *lc, const char *token)
{
    return redactor_set_token(&lc->redactor, token);
}

void logcap_free(struct logcap *lc)
{
    for (int i = 0; i < 2; i++)
        if (lc->s[i].w.fd >= 0) {
            drain(&lc->s[i], false);
            detach(&lc->s[i]);
        }
    if (lc->has_file)
        logfile_free(&lc->file);
    lc->has_file = false;
    ring_free(&lc->ring);
    patterns_free(&lc->patterns);
    redactor_free(&lc->redactor);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

int logcap_update(struct logcap *lc, const struct config_service *old_conf,
                  const struct config_service *conf)
{
    const struct config_log *old_cfg = &old_conf->log, *cfg = &conf->log;
    lc->timestamps = cfg->timestamps == CONFIG_TIMESTAMPS_ISO8601;
    lc->redact = cfg->redact;
    patterns_free(&lc->patterns);
    if (init_patterns(lc, conf) < 0) /* validated at load: cannot fail here */
        patterns_init(&lc->patterns, false, NULL, 0);
    if (same_str(old_cfg->file, cfg->file) && old_cfg->max_size == cfg->max_size &&
        old_cfg->max_files == cfg->max_files)
        return 0;
    if (lc->has_file)
        logfile_free(&lc->file);
    return open_file(lc, cfg);
}

int logcap_attach(struct logcap *lc, int out_fd, int err_fd)
{
    int fds[2] = {out_fd, err_fd};
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        struct logcap_stream *st = &lc->s[i];
        if (st->w.fd >= 0) {
            drain(st, true);
            detach(st);
        }
        watcher_init(&st->w, fds[i], on_readable, st);
        linebuf_init(&st->lb);
        int r = loop_watch(lc->host->loop, &st->w, EPOLLIN);
        if (r < 0) {
            log_warn("%s: cannot watch its %s: %s", lc->name, i ? "stderr" : "stdout", strerror(-r));
            rc = r;
        }
    }
    return rc;
}

uint64_t logcap_dropped(const struct logcap *lc)
{
    return (lc->has_file ? lc->file.dropped : 0) + lc->console_dropped;
}
