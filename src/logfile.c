#include "logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void recwriter_init(struct recwriter *rw, int fd)
{
    memset(rw, 0, sizeof *rw);
    rw->fd = fd;
}

void recwriter_free(struct recwriter *rw)
{
    free(rw->pend);
    rw->pend = NULL;
    rw->pend_len = rw->pend_cap = 0;
}

static int flush_pending(struct recwriter *rw)
{
    while (rw->pend_len) {
        ssize_t w = write(rw->fd, rw->pend, rw->pend_len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EAGAIN;
        memmove(rw->pend, rw->pend + w, rw->pend_len - (size_t)w);
        rw->pend_len -= (size_t)w;
    }
    return 0;
}

static void keep_tail(struct recwriter *rw, const char *tail, size_t len)
{
    if (len > rw->pend_cap) {
        char *p = realloc(rw->pend, len);
        if (!p) {
            rw->dropped++; /* the record stays cut; the next one starts clean */
            return;
        }
        rw->pend = p;
        rw->pend_cap = len;
    }
    memcpy(rw->pend, tail, len);
    rw->pend_len = len;
}

int recwriter_write(struct recwriter *rw, const char *buf, size_t len)
{
    int rc = flush_pending(rw);
    if (rc < 0) {
        rw->dropped++;
        return rc == -EAGAIN ? -EAGAIN : rc;
    }
    ssize_t w;
    do
        w = write(rw->fd, buf, len);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
        rw->dropped++;
        return -errno;
    }
    if ((size_t)w < len)
        keep_tail(rw, buf + w, len - (size_t)w);
    return 0;
}

static void try_open(struct logfile *lf, uint64_t now)
{
    /* O_NONBLOCK: opening a FIFO without a reader fails (ENXIO) instead of blocking, and a full
     * pipe returns EAGAIN. It is ignored for regular files. */
    int fd = open(lf->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0640);
    if (fd < 0) {
        lf->last_err = errno;
        lf->retry_at = now + LOGFILE_RETRY_MS;
        return;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        lf->last_err = errno;
        close(fd);
        lf->retry_at = now + LOGFILE_RETRY_MS;
        return;
    }
    lf->fd = fd;
    lf->regular = S_ISREG(st.st_mode);
    recwriter_free(&lf->pipe);
    recwriter_init(&lf->pipe, fd);
    lf->size = lf->regular ? (uint64_t)st.st_size : 0;
    lf->last_err = 0;
}

int logfile_init(struct logfile *lf, const char *path, uint64_t max_size, unsigned max_files)
{
    memset(lf, 0, sizeof *lf);
    lf->fd = -1;
    lf->path = strdup(path);
    if (!lf->path)
        return -ENOMEM;
    lf->max_size = max_size;
    lf->max_files = max_files;
    try_open(lf, 0);
    return 0;
}

void logfile_free(struct logfile *lf)
{
    logfile_flush(lf, UINT64_MAX);
    if (lf->fd >= 0)
        close(lf->fd);
    lf->fd = -1;
    recwriter_free(&lf->pipe);
    free(lf->wbuf);
    lf->wbuf = NULL;
    lf->wlen = lf->wrecs = 0;
    free(lf->path);
    lf->path = NULL;
}

static int numbered(char *buf, size_t len, const char *path, unsigned k)
{
    int n = snprintf(buf, len, "%s.%u", path, k);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int logfile_rotate(struct logfile *lf)
{
    char from[PATH_MAX], to[PATH_MAX];
    if (lf->max_files == 0) {
        /* Nothing is kept: start the file again. */
        if (lf->fd >= 0 && ftruncate(lf->fd, 0) < 0)
            return -errno;
        lf->size = 0;
        return 0;
    }
    for (unsigned k = lf->max_files - 1; k >= 1; k--) {
        if (numbered(from, sizeof from, lf->path, k) < 0 || numbered(to, sizeof to, lf->path, k + 1) < 0)
            return -ENAMETOOLONG;
        if (rename(from, to) < 0 && errno != ENOENT)
            return -errno;
    }
    if (numbered(to, sizeof to, lf->path, 1) < 0)
        return -ENAMETOOLONG;
    if (rename(lf->path, to) < 0)
        return -errno;
    if (lf->fd >= 0)
        close(lf->fd);
    lf->fd = -1;
    try_open(lf, 0);
    return lf->fd >= 0 ? 0 : -lf->last_err;
}

/* Reopens a closed target when its retry time has come. Returns true when it is open. */
static bool ensure_open(struct logfile *lf, uint64_t now)
{
    if (lf->fd >= 0)
        return true;
    if (now >= lf->retry_at)
        try_open(lf, now);
    return lf->fd >= 0;
}

static size_t count_lines(const char *buf, size_t len)
{
    size_t n = 0;
    for (const char *p = buf; (p = memchr(p, '\n', len - (size_t)(p - buf))); p++)
        n++;
    return n;
}

/* Writes nrec whole records at once. A disk that fills mid-batch keeps the records that made
 * it whole and takes the cut one back out, so the file only ever holds whole lines. */
static int write_batch(struct logfile *lf, const char *buf, size_t len, size_t nrec, uint64_t now)
{
    if (!ensure_open(lf, now)) {
        lf->dropped += nrec;
        return -lf->last_err;
    }
    if (!lf->regular) {
        int rc = recwriter_write(&lf->pipe, buf, len);
        if (rc < 0)
            lf->dropped += nrec;
        if (rc < 0 && rc != -EAGAIN) { /* EPIPE: the FIFO's reader left: reopen later */
            lf->last_err = -rc;
            close(lf->fd);
            lf->fd = -1;
            lf->retry_at = now + LOGFILE_RETRY_MS;
            return rc;
        }
        lf->last_err = rc == -EAGAIN ? EAGAIN : 0;
        return rc;
    }
    ssize_t w;
    do
        w = write(lf->fd, buf, len);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
        lf->last_err = errno;
        lf->dropped += nrec;
        if (errno != EAGAIN && errno != ENOSPC && errno != EDQUOT) {
            close(lf->fd); /* EIO, EBADF: reopen later */
            lf->fd = -1;
            lf->retry_at = now + LOGFILE_RETRY_MS;
        }
        return -lf->last_err;
    }
    if ((size_t)w < len) {
        const char *last = memrchr(buf, '\n', (size_t)w);
        size_t keep = last ? (size_t)(last - buf) + 1 : 0;
        if (ftruncate(lf->fd, (off_t)(lf->size + keep)) < 0)
            keep = (size_t)w; /* cannot take it back: at least count the bytes */
        lf->size += keep;
        lf->dropped += count_lines(buf + keep, len - keep);
        lf->last_err = ENOSPC;
        return -ENOSPC;
    }
    lf->size += (uint64_t)w;
    lf->last_err = 0;
    return 0;
}

int logfile_flush(struct logfile *lf, uint64_t now_ms)
{
    if (!lf->wlen)
        return 0;
    int rc = write_batch(lf, lf->wbuf, lf->wlen, lf->wrecs, now_ms);
    lf->wlen = lf->wrecs = 0;
    return rc;
}

int logfile_write(struct logfile *lf, const char *buf, size_t len, uint64_t now)
{
    /* Rotation happens between records: what is batched goes to the old file first. */
    if (lf->regular && lf->max_size && lf->size + lf->wlen > 0 &&
        lf->size + lf->wlen + len > lf->max_size) {
        logfile_flush(lf, now);
        if (lf->fd >= 0 && lf->size > 0) {
            int rc = logfile_rotate(lf);
            if (rc < 0)
                lf->last_err = -rc;
        }
    }
    if (!lf->wbuf)
        lf->wbuf = malloc(LOGFILE_BATCH); /* without it, every record is its own write */
    if (lf->wlen + len > LOGFILE_BATCH)
        logfile_flush(lf, now);
    if (!lf->wbuf || len > LOGFILE_BATCH)
        return write_batch(lf, buf, len, 1, now);
    memcpy(lf->wbuf + lf->wlen, buf, len);
    lf->wlen += len;
    lf->wrecs++;
    return 0;
}

size_t tsfmt_format(struct tsfmt *c, uint64_t wall_ms, char *buf)
{
    time_t sec = (time_t)(wall_ms / 1000);
    if (sec != c->sec || !c->text[0]) {
        struct tm tm;
        char z[8] = "+0000";
        if (!localtime_r(&sec, &tm) || !strftime(c->text, sizeof c->text, "%Y-%m-%dT%H:%M:%S", &tm)) {
            snprintf(c->text, sizeof c->text, "%lld", (long long)sec);
        } else {
            strftime(z, sizeof z, "%z", &tm);
        }
        /* ISO 8601 wants the zone as +HH:MM; strftime's %z gives +HHMM. */
        snprintf(c->zone, sizeof c->zone, "%.3s:%.2s", z, z + 3);
        c->sec = sec;
        c->text_len = strlen(c->text);
        c->zone_len = strlen(c->zone);
    }
    /* Per line only copies: stdio formatting was a fifth of capture's CPU (bench/RESULTS.md). */
    unsigned ms = (unsigned)(wall_ms % 1000);
    char *p = buf;
    memcpy(p, c->text, c->text_len);
    p += c->text_len;
    *p++ = '.';
    *p++ = (char)('0' + ms / 100);
    *p++ = (char)('0' + ms / 10 % 10);
    *p++ = (char)('0' + ms % 10);
    memcpy(p, c->zone, c->zone_len + 1);
    return (size_t)(p - buf) + c->zone_len;
}
