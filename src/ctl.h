/* ctl: the control socket server on the event loop. Owns the listening Unix socket, every client
 * connection (its fd, watcher, timer, request buffer and bounded output buffer), reading one
 * request line per connection with a size limit and a timeout, SO_PEERCRED authorisation, and
 * non-blocking reply output. What a verb does belongs to the owner (the supervisor), reached
 * through struct ctl_ops; `version` is answered here. Wire format: proto.h, docs/protocol.md.
 *
 * Connection life, as the owner sees it: ops->request(conn, req) gets every authorised, well-
 * formed request. The owner answers at once or later with ctl_reply / ctl_reply_error /
 * ctl_end (after which conn is gone for it), or streams with ctl_begin + ctl_write... + ctl_end.
 * Until then conn stays valid; if the client disconnects first (or stops reading), ops->gone(conn)
 * is called once, from the loop (or from ctl_free), never from inside another ctl_* call, and
 * conn is freed after it. */
#ifndef NINES_CTL_H
#define NINES_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "loop.h"
#include "proto.h"

#define CTL_NO_GID ((gid_t)-1)           /* no control_group / status_group configured */
#define CTL_READ_TIMEOUT_MS 5000u        /* a request line must arrive within this */
#define CTL_WRITE_STALL_MS 30000u        /* pending output that makes no progress this long: drop */
#define CTL_OUT_MAX (1024u * 1024u)      /* unsent output per connection before it is dropped */
#define CTL_MAX_CONNS 256u               /* connections at once; more get `ERR 1 too many ...` */
#define CTL_MAX_CONNS_PER_UID 32u        /* per uid other than root and nines' own */

struct ctl;
struct ctl_conn;

struct ctl_ops {
    /* An authorised, well-formed request (never `version`). req and its strings stay valid until
     * conn is finished or gone. Must not call ctl_free(). */
    void (*request)(void *ctx, struct ctl_conn *conn, const struct proto_request *req);
    /* conn's client went away (or was dropped) before the owner finished it: forget the pointer.
     * Called only for conns the owner still holds after request() returned. May be NULL when the
     * owner always answers inside request(). Must not call ctl_* on conn. */
    void (*gone)(void *ctx, struct ctl_conn *conn);
};

struct ctl_opts {
    gid_t control_gid;        /* members may use every verb; CTL_NO_GID: none */
    gid_t status_gid;         /* members may use status/check/log/version; CTL_NO_GID: none */
    uint64_t read_timeout_ms; /* 0: CTL_READ_TIMEOUT_MS */
    uint64_t stall_ms;        /* 0: CTL_WRITE_STALL_MS */
    size_t out_max;           /* 0: CTL_OUT_MAX (bytes) */
};

enum ctl_access { CTL_ACCESS_NONE, CTL_ACCESS_STATUS, CTL_ACCESS_CONTROL, CTL_ACCESS_COUNT };

/* Creates the listening socket at path (SOCK_STREAM, non-blocking, close-on-exec, mode 0666;
 * access is decided per request), replacing a stale socket file only when connecting to it is
 * refused, and watches it on loop. opts NULL means defaults with no groups. Returns the server,
 * or NULL with errno set (EADDRINUSE: a live server or a non-socket file holds path,
 * ENAMETOOLONG, ENOENT: no such directory, ENOMEM...). Free with ctl_free(). */
struct ctl *ctl_open(struct loop *loop, const char *path, const struct ctl_ops *ops, void *ctx,
                     const struct ctl_opts *opts);

/* Closes the server: every connection the owner still holds gets ops->gone(), pending output
 * gets one last non-blocking write, every fd is closed and the socket file is removed if it is
 * still ours. Must not be called from a ctl callback. NULL is a no-op. */
void ctl_free(struct ctl *ctl);

/* Changes the groups (after a reload); applies to requests read from now on. */
void ctl_set_groups(struct ctl *ctl, gid_t control_gid, gid_t status_gid);

/* Number of open client connections (for tests and idle checks). */
size_t ctl_conn_count(const struct ctl *ctl);

/* The decision rule, exposed for tests: root and self_uid may do everything; a member of
 * control_gid (primary gid or one of groups[n]) every verb; of status_gid the read-only verbs. */
enum ctl_access ctl_access_decide(uid_t uid, gid_t gid, const gid_t *groups, size_t n,
                                  uid_t self_uid, gid_t control_gid, gid_t status_gid);

/* Parses the "Groups:" line of a /proc/PID/status text into out[max]. Returns how many gids the
 * line has (may exceed max; only max are stored), or -ENOENT when there is no such line. */
int ctl_proc_groups(const char *status_text, gid_t *out, size_t max);

/* The client's credentials (pid, uid, gid from SO_PEERCRED at connect time). */
const struct ucred *ctl_conn_peer(const struct ctl_conn *conn);

/* The owner's pointer for conn (NULL until set). */
void ctl_conn_set_data(struct ctl_conn *conn, void *data);
void *ctl_conn_data(const struct ctl_conn *conn);

/* Appends payload bytes. Before ctl_begin they are held and sent after the header at ctl_end;
 * after it they go out at once. Returns 0, -ENOBUFS when more than out_max bytes would be
 * unsent (the client is not reading, or a held reply is too big), -ENOMEM, or -EPIPE when conn
 * is already broken. After any error conn is dropped and gone() follows from the loop, unless
 * the owner ends conn first (ctl_end and friends stay safe to call). */
int ctl_write(struct ctl_conn *conn, const void *buf, size_t len);

/* ctl_write of formatted text. Returns as ctl_write, or -ENOMEM. */
int ctl_printf(struct ctl_conn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ctl_write of s as a quoted JSON string (proto_json_escape). Returns as ctl_write. */
int ctl_write_json(struct ctl_conn *conn, const char *s);

/* Sends the header `OK exit_code` now, so that payload written later streams (log -f). A second
 * call is ignored. exit_code must be 0..255 (others become 1). Returns as ctl_write. */
int ctl_begin(struct ctl_conn *conn, int exit_code);

/* Finishes the reply: header `OK exit_code` (unless ctl_begin sent one) and the payload, then
 * closes once it is sent. conn is invalid for the owner afterwards (also when it was broken). */
void ctl_end(struct ctl_conn *conn, int exit_code);

/* ctl_write(payload, len) + ctl_end(exit_code). */
void ctl_reply(struct ctl_conn *conn, int exit_code, const char *payload, size_t len);

/* Finishes with `ERR exit_code msg` (exit_code 1..255, others become 1), dropping held payload.
 * After ctl_begin the header is already out: msg is appended as an `error: msg` payload line. */
void ctl_reply_error(struct ctl_conn *conn, int exit_code, const char *msg);

/* ctl_reply_error with a formatted message. */
void ctl_reply_errorf(struct ctl_conn *conn, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
