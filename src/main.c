/* nines: entry point. Parses the command line and runs the single-child mode or the supervisor. */
#include "log.h"
#include "proto.h" /* NINES_VERSION */
#include "single.h"
#include "supervisor.h"

#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


enum { DEFAULT_STOP_TIMEOUT_MS = 5000 };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: nines [-c FILE] [--check] [-v]\n"
            "       nines [-g|-p] [-t TIMEOUT] [-v] -- COMMAND [ARG...]\n"
            "       nines --version | --help\n"
            "\n"
            "Supervises every service of FILE's services_dir (default /etc/nines/nines.conf;\n"
            "built-in defaults when it is absent). --check validates the config and exits.\n"
            "\n"
            "Runs COMMAND as its only child, as PID 1 of a container or as a subreaper:\n"
            "reaps every zombie, forwards signals, stops the whole tree, exits with the\n"
            "child's status (128+N when killed by signal N, 127/126 when it cannot run).\n"
            "\n"
            "  -g            forward signals to the child's process group (default)\n"
            "  -p            forward signals to the child process only\n"
            "  -t TIMEOUT    stop timeout: TERM to KILL for what remains (default 5s;\n"
            "                ms, s, m suffixes; a bare number is seconds)\n"
            "  -v            debug logging\n");
}

/* Parses "5", "5s", "500ms", "2m" into ms. Returns 0 or -EINVAL. */
static int parse_timeout(const char *s, uint64_t *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -EINVAL;
    double mult = 1000;
    if (!strcmp(end, "ms"))
        mult = 1;
    else if (!strcmp(end, "m"))
        mult = 60000;
    else if (*end && strcmp(end, "s"))
        return -EINVAL;
    if (v * mult > 86400000.0 * 365)
        return -EINVAL;
    *ms = (uint64_t)(v * mult);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"verbose", no_argument, NULL, 'v'},
        {"stop-timeout", required_argument, NULL, 't'},
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'C'},
        {NULL, 0, NULL, 0},
    };
    struct single_opts so = {.stop_timeout_ms = DEFAULT_STOP_TIMEOUT_MS};
    struct supervisor_opts sup = {0};
    static char config_path[PATH_MAX];
    bool check = false, single_flags = false;
    int c;
    /* "+": stop at the first non-option, so COMMAND's own options are never ours. */
    while ((c = getopt_long(argc, argv, "+gpt:c:vhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'g': so.signal_pid_only = false; single_flags = true; break;
        case 'p': so.signal_pid_only = true; single_flags = true; break;
        case 'c':
            /* Absolute, because nines moves to / and re-reads the file on reload. */
            sup.config_path = realpath(optarg, config_path) ? config_path : optarg;
            break;
        case 'C': check = true; break;
        case 't':
            if (parse_timeout(optarg, &so.stop_timeout_ms) < 0) {
                fprintf(stderr, "nines: bad stop timeout '%s' (e.g. 5s, 500ms)\n", optarg);
                return 2;
            }
            single_flags = true;
            break;
        case 'v': log_set_level(LOG_DEBUG); break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("nines %s\n", NINES_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    bool dashdash = optind > 1 && !strcmp(argv[optind - 1], "--");
    if (optind < argc) {
        /* `nines CMD` without "--" works too, as with tini, but not mixed with -c/--check. */
        if (sup.config_path || check) {
            fprintf(stderr, "nines: -c/--check and a COMMAND cannot be combined\n");
            return 2;
        }
        so.argv = argv + optind;
        return single_run(&so);
    }
    if (dashdash || single_flags) {
        fprintf(stderr, "nines: missing COMMAND after --\n");
        usage(stderr);
        return 2;
    }
    return check ? supervisor_check(&sup) : supervisor_run(&sup);
}
