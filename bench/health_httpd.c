/* health_httpd: the HTTP endpoint that bench/health.py points 500 nines health checks at. One
 * thread, one epoll loop, non-blocking sockets: it answers every request with a complete
 * response and closes the connection (HTTP/1.1 "Connection: close", what nines' checks expect:
 * they never reuse a connection), so its cost per check is one accept, one read, one write and
 * one close, and it cannot be the bottleneck of the checks it serves.
 *
 *   health_httpd [TIMES]  listen on 127.0.0.1 on a free port, print "port N\n" on stdout;
 *                         with TIMES, append the CLOCK_MONOTONIC time (ns) of every /health
 *                         request to that file, one per line (buffered; flushed at each /count),
 *                         so the driver can see how the checks are spread over each second
 *
 *   GET /health  -> 200 "ok"
 *   GET /count   -> 200 with the number of /health requests answered so far (for the driver,
 *                   which reads it at the start and end of each window: checks served per s)
 *   anything else -> 404
 *
 * Exits at EOF on stdin (the driver's pipe), so it never outlives the driver. A client that
 * sends nothing for a while only holds its fd: nothing here blocks on one connection.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_FDS = 65536, REQ_MAX = 2048, EVENTS = 256 };

struct conn {
    unsigned len;
    char buf[REQ_MAX];
};

static struct conn *conns[MAX_FDS];
static unsigned long long served;
static FILE *times; /* NULL: no TIMES file */

static unsigned long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000u + (unsigned long long)ts.tv_nsec;
}

static _Noreturn void die(const char *what)
{
    perror(what);
    exit(111);
}

static void drop(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(conns[fd]);
    conns[fd] = NULL;
}

/* Writes the whole response; the socket buffer of a fresh connection always takes it. */
static void respond(int fd, int code, const char *body)
{
    char out[256];
    int len = snprintf(out, sizeof out,
                       "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                       "Connection: close\r\n\r\n%s",
                       code, code == 200 ? "OK" : "Not Found", strlen(body), body);
    if (write(fd, out, (size_t)len) < 0 && errno != EPIPE && errno != ECONNRESET)
        perror("health_httpd: write");
}

static void on_readable(int ep, int fd)
{
    struct conn *c = conns[fd];
    ssize_t n = read(fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        drop(ep, fd);
        return;
    }
    c->len += (unsigned)n;
    c->buf[c->len] = '\0';
    if (!strstr(c->buf, "\r\n\r\n")) {
        if (c->len >= sizeof c->buf - 1)
            drop(ep, fd); /* no request is that long here */
        return;
    }
    if (!strncmp(c->buf, "GET /health ", 12) || !strncmp(c->buf, "GET /health?", 12)) {
        served++;
        if (times)
            fprintf(times, "%llu\n", now_ns());
        respond(fd, 200, "ok");
    } else if (!strncmp(c->buf, "GET /count ", 11)) {
        char num[32];
        if (times)
            fflush(times);
        snprintf(num, sizeof num, "%llu", served);
        respond(fd, 200, num);
    } else {
        respond(fd, 404, "not found");
    }
    drop(ep, fd);
}

static void on_accept(int ep, int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                perror("health_httpd: accept4");
            return;
        }
        if (fd >= MAX_FDS || !(conns[fd] = calloc(1, sizeof *conns[fd]))) {
            close(fd);
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            die("health_httpd: epoll_ctl");
        on_readable(ep, fd); /* the request is usually there already */
    }
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        times = fopen(argv[1], "we");
        if (!times)
            die(argv[1]);
        setvbuf(times, NULL, _IOFBF, 1 << 20);
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("health_httpd: socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
        die("health_httpd: bind/listen");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("health_httpd: epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
        die("health_httpd: epoll_ctl");
    ev.data.fd = 0;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) < 0)
        die("health_httpd: epoll_ctl stdin");
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    struct epoll_event evs[EVENTS];
    for (;;) {
        int n = epoll_wait(ep, evs, EVENTS, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("health_httpd: epoll_wait");
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == 0) {
                char c;
                if (read(0, &c, 1) <= 0) {
                    if (times)
                        fclose(times);
                    return 0; /* the driver is gone or done */
                }
            } else if (fd == lfd) {
                on_accept(ep, lfd);
            } else if (conns[fd]) {
                on_readable(ep, fd);
            }
        }
    }
}
