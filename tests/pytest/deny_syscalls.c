/* deny_syscalls: runs a command with some system calls failing with ENOSYS, as on a kernel older
 * than them (or EPERM, as under a seccomp profile older than them: Docker < 20.10), so the tests
 * can exercise nines' fallbacks. The filter is inherited by everything CMD starts.
 *   deny_syscalls [-e] NAME[,NAME...] CMD [ARG...]     NAME: pidfd_open, clone3
 * Needs CAP_SYS_ADMIN, or sets no_new_privs. */
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
#error "deny_syscalls: unknown architecture"
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

static int number(const char *name)
{
    if (strcmp(name, "pidfd_open") == 0)
        return SYS_pidfd_open;
    if (strcmp(name, "clone3") == 0)
        return SYS_clone3;
    return -1;
}

int main(int argc, char **argv)
{
    int arg = 1;
    unsigned err = ENOSYS;
    if (argc > arg && strcmp(argv[arg], "-e") == 0) {
        err = EPERM;
        arg++;
    }
    if (argc < arg + 2) {
        fprintf(stderr, "usage: deny_syscalls [-e] NAME[,NAME...] CMD [ARG...]\n");
        return 2;
    }
    struct sock_filter f[32];
    unsigned n = 0;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    char names[256];
    snprintf(names, sizeof names, "%s", argv[arg++]);
    for (char *save = NULL, *name = strtok_r(names, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int nr = number(name);
        if (nr < 0 || n > 28) {
            fprintf(stderr, "deny_syscalls: unknown or too many system calls: %s\n", name);
            return 2;
        }
        /* Equal: return the error (next instruction); else skip it. */
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1);
        f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA));
    }
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {(unsigned short)n, f};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0 &&
        (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)) {
        perror("deny_syscalls: seccomp");
        return 1;
    }
    execvp(argv[arg], argv + arg);
    perror("deny_syscalls: exec");
    return 127;
}
