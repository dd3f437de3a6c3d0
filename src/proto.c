#include "proto.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct verb_info {
    const char *name;
    const char *usage;
    bool readonly; /* allowed to status_group */
};

static const struct verb_info verbs[] = {
    [PROTO_STATUS] = {"status", "status [--json] [NAME...]", true},
    [PROTO_START] = {"start", "start NAME...|all", false},
    [PROTO_STOP] = {"stop", "stop NAME...|all", false},
    [PROTO_RESTART] = {"restart", "restart NAME...|all", false},
    [PROTO_SIGNAL] = {"signal", "signal SIG NAME...", false},
    [PROTO_RELOAD] = {"reload", "reload", false},
    [PROTO_LOG] = {"log", "log NAME [-n LINES] [-f]", true},
    [PROTO_CHECK] = {"check", "check [NAME...]", true},
    [PROTO_RECOVER] = {"recover", "recover [NAME|all]", false},
    [PROTO_SHUTDOWN] = {"shutdown", "shutdown", false},
    [PROTO_VERSION] = {"version", "version", true},
};
_Static_assert(sizeof verbs / sizeof verbs[0] == PROTO_VERB_COUNT, "every verb needs an entry");

const char *proto_verb_name(enum proto_verb verb)
{
    return (unsigned)verb < PROTO_VERB_COUNT ? verbs[verb].name : "?";
}

const char *proto_verb_usage(enum proto_verb verb)
{
    return (unsigned)verb < PROTO_VERB_COUNT ? verbs[verb].usage : "?";
}

bool proto_verb_readonly(enum proto_verb verb)
{
    return (unsigned)verb < PROTO_VERB_COUNT && verbs[verb].readonly;
}

bool proto_name_valid(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return false;
    }
    return true;
}

/* Parses 1-7 decimal digits (nothing else) into *out. Returns 0 or -EINVAL. */
static int parse_uint(const char *s, unsigned *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 7)
        return -EINVAL;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* "RTMIN", "RTMIN+N", "RTMAX", "RTMAX-N" (already upper case). Returns signo or -EINVAL. */
static int parse_rt(const char *s)
{
    int base, dir;
    if (!strncmp(s, "RTMIN", 5))
        base = SIGRTMIN, dir = 1;
    else if (!strncmp(s, "RTMAX", 5))
        base = SIGRTMAX, dir = -1;
    else
        return -EINVAL;
    s += 5;
    unsigned off = 0;
    if (*s) {
        if (*s != (dir > 0 ? '+' : '-') || parse_uint(s + 1, &off) < 0)
            return -EINVAL;
    }
    if (off > (unsigned)(SIGRTMAX - SIGRTMIN))
        return -EINVAL;
    return base + dir * (int)off;
}

int proto_signal_parse(const char *s)
{
    char up[16];
    size_t n = strlen(s);
    if (n >= 3 && !strncasecmp(s, "SIG", 3))
        s += 3, n -= 3;
    if (n == 0 || n >= sizeof up)
        return -EINVAL;
    for (size_t i = 0; i <= n; i++)
        up[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 'a' + 'A') : s[i];
    unsigned num;
    if (parse_uint(up, &num) == 0)
        return num >= 1 && num <= (unsigned)SIGRTMAX ? (int)num : -EINVAL;
    if (!strncmp(up, "RT", 2))
        return parse_rt(up);
    /* Old names some operators still type (signal(7)). */
    if (!strcmp(up, "IOT"))
        return SIGABRT;
    if (!strcmp(up, "POLL"))
        return SIGIO;
    if (!strcmp(up, "CLD"))
        return SIGCHLD;
    for (int sig = 1; sig < SIGRTMIN; sig++) {
        const char *ab = sigabbrev_np(sig); /* glibc >= 2.32; NULL for unnamed numbers */
        if (ab && !strcmp(ab, up))
            return sig;
    }
    return -EINVAL;
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    if (errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* Byte-level checks of a whole request line (newline included). Returns 0 or -EINVAL. */
static int check_bytes(const char *buf, size_t len, char *err, size_t errlen)
{
    if (len == 0)
        return fail(err, errlen, "empty request");
    if (len > PROTO_LINE_MAX)
        return fail(err, errlen, "request too long (limit %d bytes)", PROTO_LINE_MAX);
    if (buf[len - 1] != '\n')
        return fail(err, errlen, "request does not end with a newline");
    for (size_t i = 0; i + 1 < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == 0)
            return fail(err, errlen, "NUL byte in request");
        if (c == '\n')
            return fail(err, errlen, "more than one line in request (one request per connection)");
        if (c < 0x20 || c == 0x7f)
            return fail(err, errlen, "control character 0x%02x in request", c);
    }
    if (len == 1)
        return fail(err, errlen, "empty request");
    return 0;
}

/* Splits the NUL-terminated line at single spaces into words[]. Returns the count or -EINVAL. */
static int split(char *line, char **words, size_t max, char *err, size_t errlen)
{
    size_t n = 0;
    for (char *p = line;;) {
        char *sp = strchr(p, ' ');
        if (sp)
            *sp = '\0';
        if (*p == '\0')
            return fail(err, errlen, "empty argument (separate arguments with single spaces)");
        if (n == max)
            return fail(err, errlen, "too many arguments (limit %d)", PROTO_ARGS_MAX);
        words[n++] = p;
        if (!sp)
            return (int)n;
        p = sp + 1;
    }
}

static int lookup_verb(const char *w, char *err, size_t errlen)
{
    for (int v = 0; v < PROTO_VERB_COUNT; v++)
        if (!strcmp(w, verbs[v].name))
            return v;
    return fail(err, errlen,
                "unknown verb '%.32s' (verbs: status start stop restart signal reload log check "
                "recover shutdown version)",
                w);
}

/* Error about verb v's arguments, followed by its usage. Returns -EINVAL. */
__attribute__((format(printf, 4, 5))) static int vfail(char *err, size_t errlen,
                                                       enum proto_verb v, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return fail(err, errlen, "%s: %s (usage: %s)", verbs[v].name, what, verbs[v].usage);
}

#define VFAIL(v, ...) vfail(err, errlen, v, __VA_ARGS__)

/* Adds a service name (or the `all` keyword where allowed) to req. Returns 0 or -EINVAL. */
static int add_name(struct proto_request *req, const char *w, bool all_ok, char *err,
                    size_t errlen)
{
    enum proto_verb v = req->verb;
    if (w[0] == '-')
        return VFAIL(v, "unknown option '%.32s'", w);
    if (!strcmp(w, "all") && !all_ok)
        return VFAIL(v, "'all' is not a service name");
    if (!strcmp(w, "all")) {
        if (req->nnames)
            return VFAIL(v, "'all' cannot be combined with names");
        req->flags |= PROTO_F_ALL;
        return 0;
    }
    if (!proto_name_valid(w, strlen(w)))
        return VFAIL(v, "bad service name '%.64s' (allowed: a-z 0-9 _ . -)", w);
    if (req->flags & PROTO_F_ALL)
        return VFAIL(v, "'all' cannot be combined with names");
    req->names[req->nnames++] = w;
    return 0;
}

static int parse_log(struct proto_request *req, char **a, int n, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        if (!strcmp(a[i], "-f")) {
            req->flags |= PROTO_F_FOLLOW;
        } else if (!strcmp(a[i], "-n")) {
            if (req->flags & PROTO_F_LINES)
                return VFAIL(PROTO_LOG, "-n given twice");
            if (i + 1 == n)
                return VFAIL(PROTO_LOG, "-n needs a number of lines");
            if (parse_uint(a[++i], &req->lines) < 0 || req->lines > PROTO_LOG_LINES_MAX)
                return VFAIL(PROTO_LOG, "bad number of lines '%.32s' (0..%u)", a[i],
                             PROTO_LOG_LINES_MAX);
            req->flags |= PROTO_F_LINES;
        } else {
            int rc = add_name(req, a[i], false, err, errlen);
            if (rc < 0)
                return rc;
        }
    }
    if (req->nnames != 1)
        return VFAIL(PROTO_LOG, "needs exactly one service name, got %zu", req->nnames);
    return 0;
}

static int parse_args(struct proto_request *req, char **a, int n, char *err, size_t errlen)
{
    enum proto_verb v = req->verb;
    int rc = 0;
    switch (v) {
    case PROTO_STATUS:
    case PROTO_CHECK:
        for (int i = 0; i < n && rc == 0; i++) {
            if (v == PROTO_STATUS && !strcmp(a[i], "--json"))
                req->flags |= PROTO_F_JSON;
            else
                rc = add_name(req, a[i], true, err, errlen);
        }
        return rc;
    case PROTO_START:
    case PROTO_STOP:
    case PROTO_RESTART:
    case PROTO_RECOVER:
        if (n == 0 && v == PROTO_RECOVER) {
            req->flags |= PROTO_F_ALL; /* recover without a name is the emergency for all */
            return 0;
        }
        if (n == 0)
            return VFAIL(v, "needs service names or 'all'");
        if (n > 1 && v == PROTO_RECOVER)
            return VFAIL(v, "takes one service name or 'all'");
        for (int i = 0; i < n && rc == 0; i++)
            rc = add_name(req, a[i], true, err, errlen);
        return rc;
    case PROTO_SIGNAL:
        if (n < 2)
            return VFAIL(v, "needs a signal and service names");
        req->signo = proto_signal_parse(a[0]);
        if (req->signo < 0)
            return VFAIL(v, "unknown signal '%.32s'", a[0]);
        for (int i = 1; i < n && rc == 0; i++)
            rc = add_name(req, a[i], true, err, errlen);
        return rc;
    case PROTO_LOG:
        return parse_log(req, a, n, err, errlen);
    case PROTO_RELOAD:
    case PROTO_SHUTDOWN:
    case PROTO_VERSION:
        return n ? VFAIL(v, "takes no arguments") : 0;
    case PROTO_VERB_COUNT:
        break;
    }
    return fail(err, errlen, "internal error: verb %d", (int)v);
}

int proto_parse_request(char *buf, size_t len, struct proto_request *req, char *err,
                        size_t errlen)
{
    req->verb = PROTO_VERB_COUNT;
    req->flags = 0;
    req->signo = 0;
    req->lines = 0;
    req->nnames = 0;
    if (errlen)
        err[0] = '\0';
    int rc = check_bytes(buf, len, err, errlen);
    if (rc < 0)
        return rc;
    buf[len - 1] = '\0';
    char *words[PROTO_ARGS_MAX + 1];
    int n = split(buf, words, PROTO_ARGS_MAX + 1, err, errlen);
    if (n < 0)
        return n;
    int v = lookup_verb(words[0], err, errlen);
    if (v < 0)
        return v;
    req->verb = (enum proto_verb)v;
    rc = parse_args(req, words + 1, n - 1, err, errlen);
    if (rc < 0)
        req->nnames = 0;
    return rc;
}

int proto_format_request(char *dst, size_t size, int argc, const char *const argv[], char *err,
                         size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    if (argc <= 0)
        return fail(err, errlen, "missing verb");
    if (argc - 1 > PROTO_ARGS_MAX) {
        fail(err, errlen, "too many arguments (limit %d)", PROTO_ARGS_MAX);
        return -E2BIG;
    }
    size_t limit = size < PROTO_LINE_MAX + 1 ? size : PROTO_LINE_MAX + 1; /* with the NUL */
    size_t off = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        size_t n = strlen(a);
        if (n == 0)
            return fail(err, errlen, "empty argument");
        for (size_t j = 0; j < n; j++) {
            unsigned char c = (unsigned char)a[j];
            if (c == ' ')
                return fail(err, errlen, "argument '%.40s' contains a space", a);
            if (c < 0x20 || c == 0x7f)
                return fail(err, errlen, "argument contains a control character");
        }
        /* This word, then a space or the newline, then the final NUL must fit. */
        if (n + 2 > limit - off) {
            fail(err, errlen, "request too long (limit %d bytes)", PROTO_LINE_MAX);
            return -E2BIG;
        }
        memcpy(dst + off, a, n);
        off += n;
        dst[off++] = i + 1 < argc ? ' ' : '\n';
    }
    dst[off] = '\0';
    return (int)off;
}

int proto_format_header(char *dst, size_t size, int code, const char *msg)
{
    if (size < 16 || code < (msg ? 1 : 0) || code > 255)
        return -EINVAL;
    if (!msg)
        return snprintf(dst, size, "OK %d\n", code);
    if (!*msg)
        msg = "error";
    size_t cap = (size < PROTO_HEADER_MAX ? size : PROTO_HEADER_MAX) - 1; /* room for the NUL */
    size_t off = (size_t)snprintf(dst, size, "ERR %d ", code);
    size_t n = strlen(msg);
    if (n > cap - 1 - off) {
        n = cap - 1 - off;
        /* Cut at a character boundary: drop UTF-8 continuation bytes of a split character. */
        while (n > 0 && ((unsigned char)msg[n] & 0xc0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)msg[i];
        dst[off++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    dst[off++] = '\n';
    dst[off] = '\0';
    return (int)off;
}

/* Parses 1-3 digits ending at a space or the newline; *end is the first byte after them. */
static int parse_code(const char *p, const char *lim, const char **end)
{
    int v = 0, n = 0;
    while (p < lim && *p >= '0' && *p <= '9' && n < 4)
        v = v * 10 + (*p++ - '0'), n++;
    if (n == 0 || n > 3 || v > 255)
        return -EPROTO;
    *end = p;
    return v;
}

int proto_parse_header(const char *line, size_t len, struct proto_reply *out)
{
    if (len < 5 || len > PROTO_HEADER_MAX || line[len - 1] != '\n')
        return -EPROTO;
    if (memchr(line, '\n', len - 1) || memchr(line, '\0', len))
        return -EPROTO;
    const char *lim = line + len - 1, *p;
    *out = (struct proto_reply){0};
    if (!strncmp(line, "OK ", 3)) {
        int code = parse_code(line + 3, lim, &p);
        if (code < 0 || p != lim)
            return -EPROTO;
        out->ok = true;
        out->code = code;
        return 0;
    }
    if (len < 6 || strncmp(line, "ERR ", 4))
        return -EPROTO;
    int code = parse_code(line + 4, lim, &p);
    if (code < 1 || (p != lim && *p != ' '))
        return -EPROTO;
    out->code = code;
    out->msg = p < lim ? p + 1 : p;
    out->msglen = (size_t)(lim - out->msg);
    return 0;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one (RFC 3629 table 3-7:
 * no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf)
        need = 2;
    else if (b >= 0xe0 && b <= 0xef) {
        need = 3;
        if (b == 0xe0)
            lo = 0xa0;
        if (b == 0xed)
            hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        need = 4;
        if (b == 0xf0)
            lo = 0x90;
        if (b == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return need;
}

size_t proto_json_escape(char *dst, size_t size, const char *src, size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t out = 0;
    bool full = size == 0;
    for (size_t i = 0; i < len;) {
        char tmp[8];
        const char *piece = tmp;
        size_t n;
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t u = utf8_len(s + i, len - i);
            if (u) {
                piece = src + i;
                n = u;
                i += u;
            } else {
                piece = "\\ufffd";
                n = 6;
                i++;
            }
        } else {
            i++;
            switch (c) {
            case '"': piece = "\\\""; n = 2; break;
            case '\\': piece = "\\\\"; n = 2; break;
            case '\n': piece = "\\n"; n = 2; break;
            case '\r': piece = "\\r"; n = 2; break;
            case '\t': piece = "\\t"; n = 2; break;
            case '\b': piece = "\\b"; n = 2; break;
            case '\f': piece = "\\f"; n = 2; break;
            default:
                if (c < 0x20 || c == 0x7f)
                    n = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", c);
                else
                    tmp[0] = (char)c, n = 1;
            }
        }
        if (!full && n < size - out) {
            memcpy(dst + out, piece, n);
        } else if (!full) {
            full = true;
            dst[out] = '\0';
        }
        out += n;
    }
    if (!full)
        dst[out] = '\0';
    return out;
}
