/* proto: the control protocol between ninesctl and nines, as pure encode/decode functions shared
 * by the server (ctl.c) and the client (ninesctl.c). Owns the verb table, the request grammar,
 * the reply header format and JSON string escaping. No I/O, no allocation, no global state.
 *
 * Wire format (docs/protocol.md has the full text):
 *   request  one line `VERB [ARG...]\n`, at most PROTO_LINE_MAX bytes including the newline,
 *            arguments separated by single spaces, no control characters, at most
 *            PROTO_ARGS_MAX arguments after the verb; one request per connection.
 *   reply    a header line `OK <code>\n` or `ERR <code> <message>\n` (code 0..255, the exit
 *            status for ninesctl; ERR codes are 1..255), then payload bytes until the server
 *            closes the connection.
 * Grammar of the verbs (NAME is [a-z0-9_.-]+):
 *   status [--json] [NAME...|all]  check [NAME...|all]          reload
 *   start|stop|restart NAME...|all recover [NAME|all]           shutdown
 *   signal SIG NAME...|all         log NAME [-n LINES] [-f]     version
 * `all` is a keyword wherever names are taken except log, and stands alone; status and check
 * without names mean all too (flags stay 0 then). Options may appear anywhere after the verb. */
#ifndef NINES_PROTO_H
#define NINES_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#ifndef NINES_VERSION
#define NINES_VERSION "0.1.0"
#endif

#define PROTO_REVISION 1       /* bumped on an incompatible change of the wire format */
#define PROTO_LINE_MAX 4096    /* bytes in a request line, newline included */
#define PROTO_ARGS_MAX 256     /* arguments after the verb, options included */
#define PROTO_HEADER_MAX 512   /* bytes in a reply header line, newline included */
#define PROTO_LOG_LINES_MAX 1000000u /* largest `log -n` accepted */
#define PROTO_ERR_MAX 256      /* a buffer this size holds every parse error message */

enum proto_verb {
    PROTO_STATUS,
    PROTO_START,
    PROTO_STOP,
    PROTO_RESTART,
    PROTO_SIGNAL,
    PROTO_RELOAD,
    PROTO_LOG,
    PROTO_CHECK,
    PROTO_RECOVER,
    PROTO_SHUTDOWN,
    PROTO_VERSION,
    PROTO_VERB_COUNT
};

/* Request flags. */
#define PROTO_F_JSON 0x1u   /* status --json */
#define PROTO_F_FOLLOW 0x2u /* log -f */
#define PROTO_F_ALL 0x4u    /* `all` given (recover without a name too); nnames is then 0 */
#define PROTO_F_LINES 0x8u  /* log -n N given: `lines` is valid */

/* A parsed request. names[] point into the buffer given to proto_parse_request(), so they live
 * as long as that buffer. Unused fields are zero. */
struct proto_request {
    enum proto_verb verb;
    unsigned flags;    /* PROTO_F_* */
    int signo;         /* signal: the signal number (1..SIGRTMAX) */
    unsigned lines;    /* log -n: number of lines, with PROTO_F_LINES */
    size_t nnames;     /* service names, in request order (duplicates kept) */
    const char *names[PROTO_ARGS_MAX];
};

/* Name of a verb as sent on the wire ("status"...); "?" for an invalid value. */
const char *proto_verb_name(enum proto_verb verb);

/* One-line usage of a verb ("start NAME...|all"); "?" for an invalid value. */
const char *proto_verb_usage(enum proto_verb verb);

/* True for the read-only verbs (status, check, log, version) that status_group may use. */
bool proto_verb_readonly(enum proto_verb verb);

/* True when s (len bytes) is a valid service name: non-empty, only [a-z0-9_.-]. */
bool proto_name_valid(const char *s, size_t len);

/* Parses a signal given as TERM, SIGTERM, term, 15, RTMIN, RTMIN+3 or RTMAX-1.
 * Returns the signal number (1..SIGRTMAX) or -EINVAL. */
int proto_signal_parse(const char *s);

/* Parses the request line buf[0..len), which must end with its newline, in place: the newline
 * and the separating spaces become NULs and req->names point into buf. Returns 0, or -EINVAL
 * with a one-line message (no newline) in err[errlen] (PROTO_ERR_MAX is always enough). */
int proto_parse_request(char *buf, size_t len, struct proto_request *req, char *err,
                        size_t errlen);

/* Joins argv[0..argc) (verb first) into a request line with its newline, NUL-terminated, in
 * dst[size]. Does not check the grammar (parse the result for that). Returns the line length
 * in bytes, or -EINVAL (empty argument, space or control character in one, or argc == 0) /
 * -E2BIG (longer than PROTO_LINE_MAX or dst, or more than PROTO_ARGS_MAX arguments) with a
 * message in err[errlen]. */
int proto_format_request(char *dst, size_t size, int argc, const char *const argv[], char *err,
                         size_t errlen);

/* Writes a reply header into dst[size], NUL-terminated: `OK <code>\n` when msg is NULL, else
 * `ERR <code> <msg>\n` with control characters in msg turned into spaces, an empty msg into
 * "error", and msg cut so the line fits PROTO_HEADER_MAX and size. Returns the length in bytes,
 * or -EINVAL when code is outside 0..255 (1..255 for ERR) or size < 16. */
int proto_format_header(char *dst, size_t size, int code, const char *msg);

/* A parsed reply header. msg points into the parsed line (not NUL-terminated); NULL for OK. */
struct proto_reply {
    bool ok;
    int code;        /* 0..255 */
    const char *msg; /* ERR: the message, msglen bytes */
    size_t msglen;
};

/* Parses a header line line[0..len), which must end with its newline and contain no other.
 * Returns 0, or -EPROTO when it is not a well-formed header. */
int proto_parse_header(const char *line, size_t len, struct proto_reply *out);

/* Escapes src[0..len) as the inside of a JSON string (no quotes) into dst[size], NUL-terminated
 * when size > 0 and cut at a character boundary when it does not fit. `"` and `\` are escaped,
 * control characters and DEL become \n \t ... or \u00XX, and each invalid UTF-8 byte becomes
 * \ufffd, so the output is always valid JSON in UTF-8. Returns the length the full escape needs
 * (like snprintf): the output was cut when the result is >= size. */
size_t proto_json_escape(char *dst, size_t size, const char *src, size_t len);

#endif
