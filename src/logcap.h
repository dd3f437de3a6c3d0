/* logcap: everything a service writes. Owns the read ends of its stdout/stderr pipes, their line
 * framing, the ring of recent lines, the log file (timestamps, rotation) and the console copy
 * (`NAME | line` on nines' stdout, for `docker logs`). Reads are bounded per wake-up, so a child
 * that writes faster than the disk is throttled by its pipe, not by nines' memory. Failed writes
 * drop lines and count them; capture itself never stops. */
#ifndef NINES_LOGCAP_H
#define NINES_LOGCAP_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "linebuf.h"
#include "logfile.h"
#include "patterns.h"
#include "redact.h"
#include "loop.h"
#include "ring.h"

enum { LOGCAP_RING_BYTES = 64 * 1024 };

struct logcap;

/* What capture needs from its owner. */
struct logcap_host {
    struct loop *loop;
    bool console;               /* copy lines to the console as "NAME | line" */
    struct recwriter *console_w; /* nines' stdout, shared by every service */
    void (*output)(void *ctx); /* new lines are in the ring (log followers) */
    /* A line matched a pattern (auth, config, rate limit); line is already redacted. */
    void (*event)(void *ctx, const struct pattern_hit *hit, const char *line, size_t len);
    void *ctx;
};

struct logcap_stream {
    struct watcher w; /* fd -1 when no pipe is attached */
    struct linebuf lb;
    struct logcap *lc;
    int stream;       /* RING_STDOUT / RING_STDERR */
};

struct logcap {
    char name[256];    /* the service name (copied: configs come and go on reload) */
    const struct logcap_host *host;
    struct logcap_stream s[2];
    struct ring ring;
    struct logfile file;
    bool has_file;
    bool timestamps;
    struct tsfmt ts;
    struct patterns patterns; /* Discord's defaults (with [auth]) and the service's own */
    bool redact;              /* [log] redact: secrets masked in file, console and ring */
    struct redactor redactor; /* knows the service's current token */
    uint64_t lines;           /* lines captured since start */
    uint64_t console_dropped; /* of this service's lines, those the console could not take */
};

/* Prepares capture for service conf (its name is copied; its patterns are borrowed: call
 * logcap_update() before conf is freed). The log file is opened now (a failure is retried on
 * later lines). Returns 0, -ENOMEM, or -EINVAL (patterns). */
int logcap_init(struct logcap *lc, const struct config_service *conf, const struct logcap_host *host);

/* Stops capture and frees everything (remaining buffered bytes are flushed first). */
void logcap_free(struct logcap *lc);

/* Applies a new definition (reload): patterns and redaction, and reopens the file when its path
 * or limits changed. Returns 0 or -ENOMEM. */
int logcap_update(struct logcap *lc, const struct config_service *old_conf,
                  const struct config_service *conf);

/* The service's token (NULL: none) for redaction; copied. Returns 0 or -ENOMEM. */
int logcap_set_token(struct logcap *lc, const char *token);

/* Takes over the read ends of a new process's pipes (non-blocking, close-on-exec). Pipes of the
 * previous process still attached are drained to EOF first. Returns 0 or -errno (watching). */
int logcap_attach(struct logcap *lc, int out_fd, int err_fd);

/* Lines lost to write errors (file and console). */
uint64_t logcap_dropped(const struct logcap *lc);

#endif
