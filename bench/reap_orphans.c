/* reap_orphans: the child that bench/reap_orphans.py runs under each init (nines, tini,
 * dumb-init) as PID 1 of a fresh PID namespace. It makes N orphans for PID 1 to reap and times,
 * from outside the init, how long the init takes until none of them is left.
 *
 *   reap_orphans MODE N TIMEOUT_S
 *
 * The process tree: this process M (the init's only child) forks M2, which does the work in a
 * session of its own (see main()); M2 forks P; P clone()s N grandchildren G
 * (CLONE_VM|CLONE_FILES|..., so creating them is cheap and nothing is measured of it).
 *
 * MODE "zombies" (pure reaping): every G exits at once, while P is alive and does not wait for
 *   them, so they are N zombies of P (P waits for each with waitid(WNOWAIT), and P's children
 *   file lists exactly them). At t0 M2 tells P to exit: the kernel re-parents the N zombies to
 *   PID 1 and sends it SIGCHLD. The window t0..t1 is P's exit (re-parenting under the tasklist
 *   lock, when no init can reap; a constant reported as reparent_us) plus the init's reaping.
 * MODE "exits" (a burst of live orphans exiting): P exits first, so the N live G are orphans
 *   of PID 1 (PID 1's children file lists exactly them and M). At t0 M2 closes the pipe they all
 *   block on, so they all exit at once and the init reaps them while they are still exiting.
 *
 * t1 is when M2 has seen every G pid gone: a pidfd reports POLLHUP once its process has been
 * reaped, and kill(pid, 0) fails with ESRCH only then (a zombie still "exists"). M2 sleeps on a
 * pidfd of the last G in fork order, which waitpid(-1) returns last, then checks the others and
 * waits again if any is left; so M2 does not wake up during the window and cannot preempt the
 * init (polling every 1 ms did: the init ran in 1 ms slices, and other load got the CPU after
 * each one). Pid numbers are not reused within one run (nothing else forks in the namespace).
 * The init's CPU time over the window is read from its process CPU clock
 * (clock_getcpuclockid(3)).
 *
 * Prints one line: RESULT key=value ... ; or FAIL reason, and exits 1. Never leaves processes
 * behind: G and P block on pipes whose write end only M2 holds, so when M2 dies they exit; the
 * zombies die with the namespace.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { STACK_SIZE = 16 * 1024, POLL_SLEEP_NS = 1000 * 1000 };

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time (user + system) of process pid in ns, 0 when it cannot be read. */
static uint64_t cpu_ns(pid_t pid)
{
    clockid_t cid;
    struct timespec ts;
    if (clock_getcpuclockid(pid, &cid) != 0 || clock_gettime(cid, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static _Noreturn void fail(const char *what)
{
    printf("FAIL %s (errno %s)\n", what, strerror(errno));
    fflush(stdout);
    _exit(1);
}

/* Reads the state and ppid of pid from /proc/PID/stat. Returns 0, or -1 when it is gone. */
static int stat_of(pid_t pid, char *state, int *ppid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp && sscanf(rp + 1, " %c %d", state, ppid) == 2 ? 0 : -1;
}

/* Grandchild G, in "zombies" mode: exit at once. Runs on P's memory (CLONE_VM): raw syscalls. */
static int g_exit_now(void *arg)
{
    (void)arg;
    return 0; /* glibc's clone() then calls exit(2) */
}

/* Grandchild G, in "exits" mode: block until M2 closes the go pipe, then exit. */
static int g_wait_go(void *arg)
{
    char c;
    syscall(SYS_read, (int)(intptr_t)arg, &c, 1);
    return 0;
}

/* P: clones n grandchildren, records their pids, tells M, then exits when told (zombies) or at
 * once (exits). Never returns. */
static _Noreturn void run_p(int zombies, int n, pid_t *pids, int ready_w, int go_r)
{
    char *stacks = mmap(NULL, (size_t)n * STACK_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (stacks == MAP_FAILED)
        fail("mmap stacks");
    int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | SIGCHLD;
    for (int i = 0; i < n; i++) {
        char *top = stacks + (size_t)(i + 1) * STACK_SIZE;
        pids[i] = clone(zombies ? g_exit_now : g_wait_go, top, flags, (void *)(intptr_t)go_r);
        if (pids[i] < 0)
            fail("clone");
    }
    if (zombies) {
        /* Wait until each G is a zombie without reaping it (WNOWAIT). */
        for (int i = 0; i < n; i++) {
            siginfo_t si;
            if (waitid(P_PID, (id_t)pids[i], &si, WEXITED | WNOWAIT) < 0)
                fail("waitid");
        }
    }
    char c = 'r';
    if (write(ready_w, &c, 1) != 1)
        fail("write ready");
    if (zombies)
        (void)!read(go_r, &c, 1); /* byte or EOF (M2 closed it or died): exit */
    _exit(0);
}

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

/* Checks that the children of parent (/proc/PARENT/task/PARENT/children, proc(5)) are exactly
 * pids[0..n) plus, if extra > 0, the pid extra. Zombies are listed too. One read of one file:
 * checking /proc/PID/stat of every orphan instead would leave 20,000 /proc dentries that the
 * init must then invalidate on every reap (proc_flush_pid), half its work in a first version. */
static int check_children(pid_t parent, const pid_t *pids, int n, pid_t extra)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)parent, (int)parent);
    size_t cap = (size_t)(n + 2) * 12, len = 0;
    char *buf = malloc(cap + 1);
    pid_t *want = malloc((size_t)(n + 1) * sizeof *want);
    pid_t *got = malloc((size_t)(n + 2) * sizeof *got);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!buf || !want || !got || fd < 0)
        fail("check_children setup");
    ssize_t r;
    while (len < cap && (r = read(fd, buf + len, cap - len)) > 0)
        len += (size_t)r;
    close(fd);
    buf[len] = '\0';
    int ngot = 0;
    for (char *q = buf, *end; ngot < n + 2; q = end) {
        long v = strtol(q, &end, 10);
        if (end == q)
            break;
        got[ngot++] = (pid_t)v;
    }
    memcpy(want, pids, (size_t)n * sizeof *want);
    int nwant = n;
    if (extra > 0)
        want[nwant++] = extra;
    qsort(want, (size_t)nwant, sizeof *want, cmp_pid);
    qsort(got, (size_t)ngot, sizeof *got, cmp_pid);
    int ok = ngot == nwant && !memcmp(want, got, (size_t)nwant * sizeof *want);
    if (!ok)
        printf("FAIL %s lists %d children, want %d (the %d orphans%s)\n", path, ngot, nwant, n,
               extra > 0 ? " and this process" : "");
    free(buf);
    free(want);
    free(got);
    return ok ? 0 : -1;
}

static int is_gone(pid_t pid)
{
    return kill(pid, 0) < 0 && errno == ESRCH;
}

/* Sleeps until pid has been reaped: a pidfd reports POLLHUP only then (pidfd_open(2); POLLIN
 * already comes at exit). Falls back to checking every 1 ms without pidfds. Returns 0, or -1
 * at the deadline. */
static int wait_gone(pid_t pid, uint64_t deadline)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0 && errno == ESRCH)
        return 0;
    for (;;) {
        uint64_t now = now_ns();
        if (fd < 0 && is_gone(pid))
            return 0;
        if (now > deadline)
            break;
        struct pollfd pfd = {.fd = fd, .events = 0}; /* POLLHUP needs no asking */
        if (fd < 0) {
            const struct timespec pause = {0, POLL_SLEEP_NS};
            nanosleep(&pause, NULL);
        } else if (poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1) > 0 && pfd.revents) {
            close(fd);
            return 0;
        }
    }
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Waits until every pid is gone (reaped) and returns when that was seen, or 0 at the deadline
 * (*remaining = how many were left). Sleeps on the last pid in fork order, the one waitpid(-1)
 * returns last, so the init is not disturbed; then checks that all others are gone too and, if
 * not, waits for the last of those. When the others go in any order (exits mode), the result
 * can be early by at most the time of that check (a few ms). */
static uint64_t wait_all_reaped(const pid_t *pids, int n, uint64_t deadline, int *remaining)
{
    pid_t *left = malloc((size_t)n * sizeof *left);
    if (!left) {
        *remaining = n;
        return 0;
    }
    memcpy(left, pids, (size_t)n * sizeof *left);
    int nleft = n;
    uint64_t seen = 0;
    while (nleft > 0) {
        if (wait_gone(left[nleft - 1], deadline) < 0)
            break;
        seen = now_ns();
        int k = 0;
        for (int i = 0; i < nleft - 1; i++)
            if (!is_gone(left[i]))
                left[k++] = left[i];
        nleft = k;
    }
    free(left);
    *remaining = nleft;
    return nleft ? 0 : seen;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "zombies") && strcmp(argv[1], "exits"))) {
        fprintf(stderr, "usage: %s zombies|exits N TIMEOUT_S\n", argv[0]);
        return 2;
    }
    int zombies = !strcmp(argv[1], "zombies");
    int n = atoi(argv[2]);
    uint64_t timeout_ns = (uint64_t)atoi(argv[3]) * 1000000000u;
    if (n <= 0)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getppid() != 1)
        fail("not a child of PID 1 (run me under an init in a fresh PID namespace)");
    /* The work happens in a child M2 in a session of its own, under every init alike. With
     * sched autogroup (sched(7)) each session is scheduled as one group: dumb-init puts its child
     * in a new session and tini and nines do not, so without this the exiting orphans would
     * share the init's CPU share under nines and tini but get a share of their own under
     * dumb-init. M only waits for M2. */
    pid_t m2 = fork();
    if (m2 < 0)
        fail("fork");
    if (m2 > 0) {
        int st;
        while (waitpid(m2, &st, 0) < 0)
            if (errno != EINTR)
                return 1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    }
    if (setsid() < 0)
        fail("setsid");
    char init_comm[32] = "?";
    int cfd = open("/proc/1/comm", O_RDONLY | O_CLOEXEC);
    if (cfd >= 0) {
        ssize_t k = read(cfd, init_comm, sizeof init_comm - 1);
        init_comm[k > 0 ? k - 1 : 0] = '\0';
        close(cfd);
    }
    prctl(PR_SET_TIMERSLACK, 1UL); /* the 1 ms poll sleep should not grow by the 50 us slack */

    pid_t *pids = mmap(NULL, (size_t)n * sizeof *pids, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int ready[2], go[2];
    if (pids == MAP_FAILED || pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
        fail("setup");

    uint64_t t_create = now_ns();
    pid_t p = fork();
    if (p < 0)
        fail("fork");
    if (p == 0) {
        close(ready[0]);
        close(go[1]); /* M2 holds the only write end: its close (or death) releases P and G */
        run_p(zombies, n, pids, ready[1], go[0]);
    }
    close(ready[1]);
    close(go[0]);
    /* Wait for P's byte, watching P itself: if P failed half-way, the grandchildren it made
     * share its fd table and keep the ready pipe open, so EOF would never come. */
    int status;
    for (uint64_t deadline = now_ns() + timeout_ns;;) {
        struct pollfd pfd = {.fd = ready[0], .events = POLLIN};
        if (poll(&pfd, 1, 100) > 0)
            break;
        if (waitpid(p, &status, WNOHANG) == p || now_ns() > deadline)
            fail("P died or timed out before creating every orphan");
    }
    char c;
    if (read(ready[0], &c, 1) != 1)
        fail("P did not get ready");
    t_create = now_ns() - t_create;

    if (!zombies) {
        /* P exits now: its N live children become orphans of PID 1. */
        if (waitpid(p, &status, 0) != p)
            fail("waitpid P");
        if (check_children(1, pids, n, getppid()) < 0) /* the orphans and M */
            return 1;
    } else if (check_children(p, pids, n, 0) < 0) { /* all zombies already (waitid WNOWAIT) */
        return 1;
    }

    /* Read the init's CPU clock once before t0, so the first read's setup is not timed. */
    cpu_ns(1);
    uint64_t cpu0 = cpu_ns(1);
    uint64_t t0 = now_ns();
    close(go[1]); /* zombies: P exits and its zombies go to PID 1; exits: every G exits */
    uint64_t t_reparent = 0;
    char last_state = '-';
    int last_ppid = 0;
    if (zombies) {
        if (waitpid(p, &status, 0) != p)
            fail("waitpid P");
        t_reparent = now_ns() - t0;
        /* Sample the last zombie (reaped last): if still there, it must now be PID 1's. */
        if (stat_of(pids[n - 1], &last_state, &last_ppid) == 0 && last_ppid != 1) {
            printf("FAIL zombie %d has ppid %d after its parent exited, want 1\n",
                   (int)pids[n - 1], last_ppid);
            return 1;
        }
    }
    int remaining;
    uint64_t t1 = wait_all_reaped(pids, n, t0 + timeout_ns, &remaining);
    uint64_t cpu1 = cpu_ns(1);
    if (!t1) {
        printf("FAIL %d of %d orphans still not reaped after %s s\n", remaining, n, argv[3]);
        return 1;
    }
    printf("RESULT mode=%s n=%d init=%s reap_us=%.1f init_cpu_us=%.1f reparent_us=%.1f "
           "create_ms=%.1f last_sample=%c/%d\n",
           argv[1], n, init_comm, (double)(t1 - t0) / 1e3, (double)(cpu1 - cpu0) / 1e3,
           (double)t_reparent / 1e3, (double)t_create / 1e6, last_state, last_ppid);
    return 0;
}
