/* supervisors: the service program that bench/supervisors.py runs under each supervisor (nines,
 * s6-supervise, runsv, supervisord). It records, on CLOCK_MONOTONIC, when the supervisor's exec
 * of it happened, so the driver can time restarts and start-up from outside the supervisor.
 * Built statically (no dynamic loader), so its own exec costs as little as possible and the
 * same for every supervisor.
 *
 *   sup_stamp crash FILE          append "START_NS END_NS\n" to FILE, exit 1
 *   sup_stamp up FILE PROG ARG... write "START_NS\n" to FILE, then exec PROG ARG...
 *   sup_stamp [NAME]              read the arguments from ./args, one per line
 *   sup_stamp hold N              fork N idle processes, print "ready", exit with them at EOF
 *                                 on stdin (more processes on the host, for /proc scans)
 *
 * START_NS is taken first thing in main(), END_NS just before _exit(1); both are CLOCK_MONOTONIC
 * in ns (the driver's time.monotonic_ns() uses the same clock). "crash" appends one line with
 * one write(2) on an O_APPEND fd, so lines never interleave. "up" writes FILE.tmp and renames
 * it to FILE, so a FILE that exists is complete (the driver counts files to know when every
 * service has been exec'd).
 *
 * The ./args form is for s6-supervise and runsv, which exec ./run in the service directory (runsv
 * with no arguments, s6-supervise 2.11 with the service name): ./run is a symlink to this program
 * and ./args holds its arguments, so no shell runs between the supervisor and the measurement.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MAX_ARGS = 64, ARGS_MAX_BYTES = 8192 };

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static _Noreturn void die(const char *what)
{
    perror(what);
    _exit(111);
}

/* Reads ./args into a static buffer and splits it at newlines into argv[1..]. Returns argc. */
static int args_from_file(char **argv)
{
    static char buf[ARGS_MAX_BYTES];
    int fd = open("args", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("sup_stamp: ./args");
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        die("sup_stamp: read ./args");
    buf[n] = '\0';
    int argc = 1;
    for (char *p = buf; *p && argc < MAX_ARGS; ) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (*p)
            argv[argc++] = p;
        if (!nl)
            break;
        p = nl + 1;
    }
    argv[argc] = NULL;
    return argc;
}

static void write_all(int fd, const char *buf, size_t len, const char *what)
{
    if (write(fd, buf, len) != (ssize_t)len)
        die(what);
}

int main(int argc, char **argv)
{
    uint64_t start = now_ns();
    static char *fargv[MAX_ARGS + 1];
    if (argc <= 2) { /* no mode takes fewer than 2 arguments */
        fargv[0] = argv[0];
        argc = args_from_file(fargv);
        argv = fargv;
    }
    char line[64];
    if (argc == 3 && !strcmp(argv[1], "crash")) {
        int fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            die(argv[2]);
        uint64_t end = now_ns();
        int len = snprintf(line, sizeof line, "%llu %llu\n", (unsigned long long)start,
                           (unsigned long long)end);
        write_all(fd, line, (size_t)len, argv[2]);
        _exit(1);
    }
    if (argc >= 4 && !strcmp(argv[1], "up")) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
        int fd = open(tmp, O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            die(tmp);
        int len = snprintf(line, sizeof line, "%llu\n", (unsigned long long)start);
        write_all(fd, line, (size_t)len, tmp);
        close(fd);
        if (rename(tmp, argv[2]) < 0)
            die(argv[2]);
        execv(argv[3], argv + 3);
        die(argv[3]);
    }
    if (argc == 3 && !strcmp(argv[1], "hold")) {
        /* Every child blocks in read(0) on the driver's pipe and exits at EOF; so does this
         * parent, which then reaps them. Nothing outlives the driver's end of the pipe. */
        int n = atoi(argv[2]);
        char c;
        for (int i = 0; i < n; i++) {
            pid_t pid = fork();
            if (pid < 0)
                die("sup_stamp: fork");
            if (pid == 0) {
                while (read(0, &c, 1) > 0)
                    ;
                _exit(0);
            }
        }
        write_all(1, "ready\n", 6, "sup_stamp: stdout");
        while (read(0, &c, 1) > 0)
            ;
        while (wait(NULL) > 0)
            ;
        return 0;
    }
    fprintf(stderr, "usage: sup_stamp crash FILE | up FILE PROG [ARG...] | [NAME] (./args) | hold N\n");
    return 2;
}
