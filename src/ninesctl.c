/* ninesctl: the control client. Sends one request line to nines' control socket, copies the
 * reply's payload to stdout (an ERR message to stderr) and exits with the reply's exit code:
 * 1 when nines cannot be reached, 2 for usage errors. Protocol: proto.h, docs/protocol.md. */
#include "proto.h"
#include "token.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/nines/control.sock"

enum {
    EXIT_UNREACHABLE = 1,
    EXIT_USAGE = 2,
    DEFAULT_TIMEOUT_S = 60, /* start/stop wait for the change; stop_timeout defaults to 10 s */
    MAX_TIMEOUT_S = 86400,
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ninesctl [-s SOCKET] [-t SECONDS] VERB [ARG...]\n"
            "\n"
            "  status [--json] [NAME...]       services' state (exit 0: all RUNNING, 3: any not,\n"
            "                                  4: unknown name)\n"
            "  start|stop|restart NAME...|all  wait until the change has happened\n"
            "  signal SIG NAME...              send SIG (TERM, HUP, 10, RTMIN+1...)\n"
            "  reload                          re-read the configuration\n"
            "  log NAME [-n LINES] [-f]        captured output; -f follows it\n"
            "  check [NAME...]                 exit 0 when all named (default all) are RUNNING\n"
            "                                  and healthy\n"
            "  recover [NAME|all]              clear FATAL/AUTHFAIL, clean stale locks, re-read\n"
            "                                  the token, restart (default all)\n"
            "  shutdown                        stop every service and end nines\n"
            "  token check [--opaque] [FILE|-] clean and validate a token offline (no nines\n"
            "                                  needed); prints the verdict and fingerprint,\n"
            "                                  never the token (exit 0 ok, 1 warn, 3 reject)\n"
            "  version                         versions of ninesctl and nines\n"
            "\n"
            "  -s SOCKET   control socket (default $NINES_SOCKET, else " DEFAULT_SOCKET ")\n"
            "  -t SECONDS  how long to wait for the reply (default %d; 0: no limit;\n"
            "              log -f never times out)\n"
            "\n"
            "Exit status: the reply's code; 1 when nines cannot be reached; 2 for usage errors.\n",
            DEFAULT_TIMEOUT_S);
}

/* A usage error: the message, the synopsis and where the rest is. Returns EXIT_USAGE. */
static int usage_error(const char *msg)
{
    fprintf(stderr,
            "ninesctl: %s\n"
            "usage: ninesctl [-s SOCKET] [-t SECONDS] VERB [ARG...]; 'ninesctl --help' lists "
            "the verbs\n",
            msg);
    return EXIT_USAGE;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connects to the Unix socket at path. connect(2) on a Unix stream socket blocks while the
 * server's backlog is full; SO_SNDTIMEO bounds that and the request write (socket(7)).
 * Returns the fd or -errno. */
static int connect_to(const char *path, int timeout_ms)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len == 0)
        return -EINVAL;
    if (len >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, len + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (timeout_ms > 0) {
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    while (connect(fd, (const struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        if (e == EINTR)
            continue;
        close(fd);
        return -(e == EAGAIN || e == EINPROGRESS ? ETIMEDOUT : e);
    }
    return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -(errno == EAGAIN ? ETIMEDOUT : errno);
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Reads what is there, waiting until deadline_ms (monotonic; -1: forever). Returns the byte
 * count, 0 at EOF, or -errno (-ETIMEDOUT). ECONNRESET counts as EOF: the server closed while it
 * had unread input from us, after sending everything it had to say. */
static ssize_t read_some(int fd, char *buf, size_t size, int64_t deadline_ms)
{
    for (;;) {
        int wait = -1;
        if (deadline_ms >= 0) {
            int64_t left = deadline_ms - mono_ms();
            if (left <= 0)
                return -ETIMEDOUT;
            wait = left > INT32_MAX ? INT32_MAX : (int)left;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, wait);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            continue; /* re-check the deadline */
        ssize_t r = read(fd, buf, size);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0)
            return errno == ECONNRESET ? 0 : -errno;
        return r;
    }
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

static int read_failed(const char *sock, ssize_t rc, int timeout_s)
{
    if (rc == -ETIMEDOUT)
        fprintf(stderr, "ninesctl: no reply from nines at %s within %d s\n", sock, timeout_s);
    else
        fprintf(stderr, "ninesctl: reading from %s: %s\n", sock, strerror((int)-rc));
    return EXIT_UNREACHABLE;
}

/* Reads the header, prints an ERR message, copies the payload to stdout. Returns the exit code. */
static int read_reply(int fd, const char *sock, int64_t deadline, int timeout_s)
{
    static char buf[65536];
    size_t have = 0;
    const char *nl;
    while (!(nl = memchr(buf, '\n', have))) {
        if (have >= PROTO_HEADER_MAX) {
            fprintf(stderr, "ninesctl: malformed reply from nines at %s\n", sock);
            return EXIT_UNREACHABLE;
        }
        ssize_t r = read_some(fd, buf + have, sizeof buf - have, deadline);
        if (r == 0) {
            fprintf(stderr, "ninesctl: nines at %s closed the connection without a reply\n",
                    sock);
            return EXIT_UNREACHABLE;
        }
        if (r < 0)
            return read_failed(sock, r, timeout_s);
        have += (size_t)r;
    }
    size_t hlen = (size_t)(nl - buf) + 1;
    struct proto_reply rep;
    if (proto_parse_header(buf, hlen, &rep) < 0) {
        fprintf(stderr, "ninesctl: malformed reply from nines at %s\n", sock);
        return EXIT_UNREACHABLE;
    }
    if (!rep.ok)
        fprintf(stderr, "ninesctl: %.*s\n", (int)rep.msglen, rep.msg);
    size_t off = hlen;
    for (;;) {
        int w = have > off ? write_all(STDOUT_FILENO, buf + off, have - off) : 0;
        if (w < 0) {
            fprintf(stderr, "ninesctl: writing the output: %s\n", strerror(-w));
            return EXIT_UNREACHABLE;
        }
        ssize_t r = read_some(fd, buf, sizeof buf, deadline);
        if (r == 0)
            return rep.code;
        if (r < 0)
            return read_failed(sock, r, timeout_s);
        have = (size_t)r;
        off = 0;
    }
}

static int parse_timeout(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > MAX_TIMEOUT_S)
        return -1;
    *out = (int)v;
    return 0;
}

/* `ninesctl token check [--opaque] [FILE|-]`: offline, in the client. Reads at most
 * TOKEN_FILE_MAX bytes, wipes them afterwards. Exit 0 ok, 1 warnings, 3 rejected, 2 usage. */
static int token_check_cmd(int argc, char **argv)
{
    enum token_format fmt = TOKEN_FORMAT_DISCORD;
    const char *path = "-";
    int i = 0;
    if (i < argc && !strcmp(argv[i], "--opaque")) {
        fmt = TOKEN_FORMAT_OPAQUE;
        i++;
    }
    if (i < argc)
        path = argv[i++];
    if (i < argc)
        return usage_error("token check takes at most one FILE (or - for stdin)");
    int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : STDIN_FILENO;
    if (fd < 0) {
        fprintf(stderr, "ninesctl: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    char *buf = malloc(TOKEN_FILE_MAX);
    char out[4096];
    if (!buf) {
        fprintf(stderr, "ninesctl: out of memory\n");
        return 1;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, TOKEN_FILE_MAX - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN) { /* a FIFO without a writer yet */
            struct pollfd pfd = {fd, POLLIN, 0};
            poll(&pfd, 1, 1000);
            continue;
        }
        if (r <= 0 || (n += (size_t)r) == TOKEN_FILE_MAX)
            break;
    }
    if (fd != STDIN_FILENO)
        close(fd);
    struct token_report rep;
    int v = token_check(buf, n, fmt, out, sizeof out, &rep);
    token_wipe(buf, TOKEN_FILE_MAX);
    free(buf);
    if (v < 0) {
        fprintf(stderr, "ninesctl: token check: %s\n", strerror(-v));
        return 1;
    }
    fputs(out, stdout);
    return v == TOKEN_OK ? 0 : v == TOKEN_WARN ? 1 : 3;
}

int main(int argc, char **argv)
{
    const char *sock = getenv("NINES_SOCKET");
    if (!sock || !*sock)
        sock = DEFAULT_SOCKET;
    int timeout_s = DEFAULT_TIMEOUT_S;
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    int opt;
    /* "+": options end at the verb, so the verb's own (-n, -f, --json) reach the server. */
    while ((opt = getopt_long(argc, argv, "+s:t:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': sock = optarg; break;
        case 't':
            if (parse_timeout(optarg, &timeout_s) < 0)
                return usage_error("-t needs a number of seconds (0: no limit)");
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "ninesctl: missing verb\n");
        usage(stderr);
        return EXIT_USAGE;
    }

    if (!strcmp(argv[optind], "token")) {
        if (optind + 1 >= argc || strcmp(argv[optind + 1], "check"))
            return usage_error("token: the only subcommand is `check [--opaque] [FILE|-]`");
        return token_check_cmd(argc - optind - 2, argv + optind + 2);
    }

    char line[PROTO_LINE_MAX + 1], copy[PROTO_LINE_MAX + 1], err[PROTO_ERR_MAX];
    int n = proto_format_request(line, sizeof line, argc - optind,
                                 (const char *const *)argv + optind, err, sizeof err);
    if (n < 0)
        return usage_error(err);
    /* Checked here too, so a usage error is exit 2 whether or not nines is running. */
    struct proto_request req;
    memcpy(copy, line, (size_t)n);
    if (proto_parse_request(copy, (size_t)n, &req, err, sizeof err) < 0)
        return usage_error(err);
    if (req.verb == PROTO_VERSION) {
        printf("ninesctl %s (protocol %d)\n", NINES_VERSION, PROTO_REVISION);
        fflush(stdout);
    }

    int connect_ms = (timeout_s ? timeout_s : DEFAULT_TIMEOUT_S) * 1000;
    int fd = connect_to(sock, connect_ms);
    if (fd < 0) {
        fprintf(stderr, "ninesctl: cannot connect to %s: %s\n", sock, strerror(-fd));
        return EXIT_UNREACHABLE;
    }
    int64_t deadline = -1;
    if (timeout_s && !(req.flags & PROTO_F_FOLLOW))
        deadline = mono_ms() + (int64_t)timeout_s * 1000;
    int rc = send_all(fd, line, (size_t)n);
    /* EPIPE/ECONNRESET: nines answered (a refusal) and closed before reading: show its reply. */
    if (rc < 0 && rc != -EPIPE && rc != -ECONNRESET) {
        fprintf(stderr, "ninesctl: cannot send to %s: %s\n", sock, strerror(-rc));
        close(fd);
        return EXIT_UNREACHABLE;
    }
    rc = read_reply(fd, sock, deadline, timeout_s);
    close(fd);
    return rc;
}
