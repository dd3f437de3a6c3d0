/* nopidfd: runs a command with pidfd_open(2) failing with ENOSYS, as on Linux < 5.3 (or EPERM,
 * as under a seccomp profile older than the call: Docker < 20.10), so the tests can exercise
 * nines' fallback. Usage: nopidfd [-e] CMD [ARG...]   (-e: EPERM instead of ENOSYS)
 * The filter is inherited by everything CMD starts. Needs CAP_SYS_ADMIN, or sets no_new_privs. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "nopidfd: unknown architecture"
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int main(int argc, char **argv)
{
    int arg = 1;
    unsigned err = ENOSYS;
    if (argc > 1 && strcmp(argv[1], "-e") == 0) {
        err = EPERM;
        arg++;
    }
    if (arg >= argc) {
        fprintf(stderr, "usage: nopidfd [-e] CMD [ARG...]\n");
        return 2;
    }
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0 &&
        (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)) {
        perror("nopidfd: seccomp");
        return 1;
    }
    execvp(argv[arg], argv + arg);
    perror("nopidfd: exec");
    return 127;
}
