/* libFuzzer target: service files (services/NAME.conf) through config_load_files().
 *
 * The input is up to FILES service files separated by a line "%%" (see config_service.dict);
 * they are written as bot.conf, lavalink.conf, backup.conf, web.conf in a private temporary
 * directory (under $TMPDIR) next to a fixed nines.conf, so `after =` between them, duplicate
 * token files and dependency cycles are reachable. Every load is done twice and the two results
 * are diffed: the same files must give UNCHANGED for every service (config_diff and
 * config_service_diff), which exercises the comparison of every field. */
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

enum { FILES = 4 };
static const char *const names[FILES] = { "bot", "lavalink", "backup", "web" };
static const char sep[] = "\n%%\n";

static char dir[4096];
static char main_path[4200];
static char paths[FILES][4200];

static void cleanup(void)
{
	for (int i = 0; i < FILES; i++)
		unlink(paths[i]);
	unlink(main_path);
	rmdir(dir);
}

static int write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t w = 0;

	if (fd < 0)
		return -1;
	if (n)
		w = write(fd, p, n);
	close(fd);
	return (size_t)w == n ? 0 : -1;
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	char conf[8192];
	int n;

	snprintf(dir, sizeof dir, "%s/nines-fuzz-svc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		abort();
	}
	atexit(cleanup);
	snprintf(main_path, sizeof main_path, "%s/nines.conf", dir);
	for (int i = 0; i < FILES; i++)
		snprintf(paths[i], sizeof paths[i], "%s/%s.conf", dir, names[i]);
	n = snprintf(conf, sizeof conf,
		     "[nines]\nservices_dir = %s\nrun_dir = %s/run\nstate_dir = %s/state\nlog_dir = %s/log\n",
		     dir, dir, dir, dir);
	if (write_file(main_path, conf, (size_t)n) < 0) {
		perror("write nines.conf");
		abort();
	}
}

/* Loads the files; returns the config or NULL (errors checked and freed). */
static struct config *load(size_t n)
{
	const char *p[FILES];
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	int r;

	for (size_t i = 0; i < n; i++)
		p[i] = paths[i];
	r = config_load_files(main_path, 0, p, n, &cfg, &errs);
	FAIL_IF(r == 0 && (!cfg || errs.n != 0)); /* success must come with a config and no message */
	/* failure: no config, and -EINVAL says why */
	FAIL_IF(r != 0 && (cfg || (r == -EINVAL && errs.n == 0 && !errs.nomem)));
	for (size_t i = 0; i < errs.n; i++) {
		FAIL_IF(!errs.msgs[i] || !*errs.msgs[i]);
	}
	config_errors_free(&errs);
	return cfg;
}

static void check_same(const struct config *a, const struct config *b)
{
	struct config_diff_entry *d = NULL;
	size_t nd = 0;

	FAIL_IF(a->n_services != b->n_services);
	for (size_t i = 0; i < a->n_services; i++) {
		const struct config_service *s = &a->services[i];

		/* argv[0] non-empty, promised by config.h */
		FAIL_IF(!s->argv || !s->argv[0] || !*s->argv[0] || s->argc == 0);
		FAIL_IF(config_find_service(b, s->name) == NULL);
		FAIL_IF(config_service_diff(s, &b->services[i]) != CONFIG_UNCHANGED);
		FAIL_IF(config_service_diff(s, s) != CONFIG_UNCHANGED);
	}
	if (config_diff(a, b, &d, &nd) < 0)
		return;
	for (size_t i = 0; i < nd; i++) {
		FAIL_IF(d[i].change != CONFIG_UNCHANGED);
	}
	free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	size_t n = 0;
	struct config *a, *b;

	if (!dir[0])
		setup();
	while (n < FILES) {
		const char *s = memmem(p, (size_t)(end - p), sep, sizeof sep - 1);
		const char *e = s && n + 1 < FILES ? s + 1 : end; /* keep the newline before "%%" */

		FAIL_IF(write_file(paths[n], p, (size_t)(e - p)) < 0);
		n++;
		if (e == end)
			break;
		p = s + sizeof sep - 1;
	}
	a = load(n);
	if (a) {
		b = load(n);
		FAIL_IF(!b); /* the same files loaded a moment ago */
		check_same(a, b);
		config_free(b);
	}
	config_free(a);
	return 0;
}
