/* logfile: one service's log file. Owns the fd, the size-based rotation (rename + reopen, never
 * copy: PM2#1550) and the count of lines lost to write errors. A target that is not a regular
 * file (a FIFO, /dev/stdout, a socket) is never rotated (supervisord#1078) and is written
 * non-blocking: a full pipe or a disk full drops lines and counts them, it never blocks nines or
 * the service, and writing resumes by itself. Also the ISO 8601 timestamp formatter. */
#ifndef NINES_LOGFILE_H
#define NINES_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Writes whole records to a non-blocking pipe, FIFO or terminal: when the reader took only part
 * of one (a record longer than PIPE_BUF, or a nearly full pipe), the rest is kept and written
 * before anything newer, so records are never cut or glued together. While a tail is pending,
 * new records are dropped and counted: memory stays bounded by one record. */
struct recwriter {
    int fd;
    char *pend;          /* unwritten tail of the last record, malloc'd */
    size_t pend_len, pend_cap;
    uint64_t dropped;    /* records lost because the reader was not keeping up */
};

/* Sets up rw for fd (not owned: never closed here). */
void recwriter_init(struct recwriter *rw, int fd);

/* Writes one record, finishing a pending tail first. Returns 0 when the record was written or
 * its tail is pending, -EAGAIN when it was dropped, or -errno of the write. */
int recwriter_write(struct recwriter *rw, const char *buf, size_t len);

/* Frees the pending tail. */
void recwriter_free(struct recwriter *rw);

/* After an open failure, how long to wait before trying again (ms); records are batched up to
 * LOGFILE_BATCH bytes per write(2): a write per line was half of capture's CPU. */
enum { LOGFILE_RETRY_MS = 1000, LOGFILE_BATCH = 64 * 1024 };

struct logfile {
    char *path;          /* owned */
    int fd;              /* -1 while closed (open failed; retried after retry_at) */
    bool regular;        /* rotate only regular files */
    uint64_t size;       /* bytes in the current file */
    uint64_t max_size;   /* rotate before exceeding this; 0: never */
    unsigned max_files;  /* rotated files kept: PATH.1 .. PATH.max_files */
    uint64_t dropped;    /* lines lost to write errors since start */
    uint64_t retry_at;   /* CLOCK_MONOTONIC ms of the next open attempt */
    int last_err;        /* errno of the last failure, 0 when writing works */
    struct recwriter pipe; /* for a target that is not a regular file */
    char *wbuf;          /* records not written yet (LOGFILE_BATCH bytes, malloc'd lazily) */
    size_t wlen, wrecs;
};

/* Prepares lf for path (copied) and tries to open it; a failure is not fatal (retried on the
 * next write after LOGFILE_RETRY_MS). Returns 0, or -ENOMEM. */
int logfile_init(struct logfile *lf, const char *path, uint64_t max_size, unsigned max_files);

/* Closes and frees. */
void logfile_free(struct logfile *lf);

/* Appends one whole record (a line with its newline) to the batch, rotating first when it would
 * pass max_size. The batch is written by logfile_flush(), or when full. now_ms is
 * CLOCK_MONOTONIC. Returns 0, or -errno when records were dropped. */
int logfile_write(struct logfile *lf, const char *buf, size_t len, uint64_t now_ms);

/* Writes the batch (call at the end of each read burst). Returns 0 or -errno (records dropped
 * and counted). */
int logfile_flush(struct logfile *lf, uint64_t now_ms);

/* Renames PATH.(k) -> PATH.(k+1) for k = max_files-1..1, PATH -> PATH.1, reopens PATH.
 * Returns 0 or -errno (the old file stays in use when the rename fails). */
int logfile_rotate(struct logfile *lf);

/* Caches the formatted second so that timestamping a line costs a few bytes of copying. */
struct tsfmt {
    time_t sec;
    char text[40]; /* "2026-11-29T21:33:02" */
    char zone[8];  /* "+00:00" */
    size_t text_len, zone_len;
};

/* Writes "2026-11-29T21:33:02.123+00:00" (local time, ISO 8601 with ms and zone) for wall_ms
 * into buf (at least 32 bytes). Returns the length. */
size_t tsfmt_format(struct tsfmt *c, uint64_t wall_ms, char *buf);

#endif
