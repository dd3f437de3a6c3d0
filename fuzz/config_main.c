/* libFuzzer target: the main configuration file (nines.conf) through config_load_files() with no
 * service files. The input is written to nines.conf in a private temporary directory (under
 * $TMPDIR) at every iteration, so relative directories are resolved against a real directory.
 * Checks what config.h promises about the result: a config only on success, a message for every
 * -EINVAL, absolute directories, [alert] exec split into a non-empty argv. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise: name the line and the condition (abort() alone shows no line at -O1). */
#define FAIL_IF(c)                                                                   \
	do {                                                                         \
		if (c) {                                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#c);                                                 \
			abort();                                                     \
		}                                                                    \
	} while (0)

static char dir[4096];
static char main_path[4200];

static void cleanup(void)
{
	unlink(main_path);
	rmdir(dir);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof dir, "%s/nines-fuzz-main-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		abort();
	}
	atexit(cleanup);
	snprintf(main_path, sizeof main_path, "%s/nines.conf", dir);
}

static void check_dir(const char *d)
{
	FAIL_IF(!d || d[0] != '/');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	int fd, r;

	if (!dir[0])
		setup();
	fd = open(main_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FAIL_IF(fd < 0 || (size && write(fd, data, size) != (ssize_t)size));
	close(fd);
	r = config_load_files(main_path, 0, NULL, 0, &cfg, &errs);
	if (r == 0) {
		const struct config_main *m = &cfg->main;

		FAIL_IF(errs.n != 0 || cfg->n_services != 0);
		check_dir(m->services_dir);
		check_dir(m->run_dir);
		check_dir(m->state_dir);
		check_dir(m->log_dir);
		FAIL_IF(m->alert_exec && (!m->alert_argv || !m->alert_argv[0]));
		FAIL_IF(!m->alert_exec && m->alert_argv);
		FAIL_IF((unsigned)m->console >= CONFIG_CONSOLE_COUNT);
	} else {
		FAIL_IF(cfg || (r == -EINVAL && errs.n == 0 && !errs.nomem));
	}
	for (size_t i = 0; i < errs.n; i++) {
		FAIL_IF(!errs.msgs[i] || !*errs.msgs[i]);
	}
	config_errors_free(&errs);
	config_free(cfg);
	return 0;
}
