/* Unit tests for config.c: good files, every kind of bad file (with exact file:line), and the
 * reload diff. Fixtures are written into a fresh mkdtemp() directory per test. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <regex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define BIG (2 * PATH_MAX)

struct fx {
	char dir[PATH_MAX];  /* realpath of the temp dir */
	char main[BIG];      /* dir/nines.conf */
	struct config_errors errs;
	struct config *cfg;
};

static const char main_conf[] = "[nines]\n"
				"services_dir = services\n"
				"log_dir = log\n"
				"run_dir = run\n"
				"state_dir = state\n";

static void put(struct fx *f, const char *rel, const char *content)
{
	char p[BIG];
	FILE *fp;

	snprintf(p, sizeof p, "%s/%s", f->dir, rel);
	fp = fopen(p, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(content, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char tmpl[] = "/tmp/nines-config-XXXXXX", p[BIG];

	if (!f || !mkdtemp(tmpl) || !realpath(tmpl, f->dir))
		return -1;
	snprintf(f->main, sizeof f->main, "%s/nines.conf", f->dir);
	snprintf(p, sizeof p, "%s/services", f->dir);
	if (mkdir(p, 0755) < 0)
		return -1;
	put(f, "nines.conf", main_conf);
	*state = f;
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	config_free(f->cfg);
	config_errors_free(&f->errs);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void dump_errors(const struct fx *f)
{
	for (size_t i = 0; i < f->errs.n; i++)
		print_message("  error: %s\n", f->errs.msgs[i]);
}

static int load(struct fx *f)
{
	int r;

	config_free(f->cfg);
	f->cfg = NULL;
	config_errors_free(&f->errs);
	r = config_load(f->main, 0, &f->cfg, &f->errs);
	if (r == 0)
		assert_non_null(f->cfg);
	else
		assert_null(f->cfg);
	return r;
}

static void load_ok(struct fx *f)
{
	int r = load(f);

	if (r != 0)
		dump_errors(f);
	assert_int_equal(r, 0);
	assert_int_equal(f->errs.n, 0);
}

/* There is an error "DIR/rel:line: ...substr..." (line 0: "DIR/rel: ..."). */
static void expect_error(const struct fx *f, const char *rel, int line, const char *substr)
{
	char prefix[BIG];

	if (line > 0)
		snprintf(prefix, sizeof prefix, "%s/%s:%d: ", f->dir, rel, line);
	else
		snprintf(prefix, sizeof prefix, "%s/%s: ", f->dir, rel);
	for (size_t i = 0; i < f->errs.n; i++) {
		if (strncmp(f->errs.msgs[i], prefix, strlen(prefix)) == 0 && strstr(f->errs.msgs[i], substr))
			return;
	}
	print_message("missing error: %s...%s\n", prefix, substr);
	dump_errors(f);
	fail();
}

static void expect_n_errors(const struct fx *f, size_t n)
{
	if (f->errs.n != n)
		dump_errors(f);
	assert_int_equal(f->errs.n, n);
}

static const struct config_service *svc(const struct fx *f, const char *name)
{
	const struct config_service *s = config_find_service(f->cfg, name);

	assert_non_null(s);
	return s;
}

/* ------------------------------------------------------------------ good files */

static void test_builtin_defaults(void **state)
{
	struct fx *f = *state;
	char p[BIG];

	snprintf(p, sizeof p, "%s/absent.conf", f->dir);
	assert_int_equal(config_load_files(p, CONFIG_MAIN_OPTIONAL, NULL, 0, &f->cfg, &f->errs), 0);
	assert_null(f->cfg->main.path);
	assert_string_equal(f->cfg->main.services_dir, "/etc/nines/services");
	assert_string_equal(f->cfg->main.run_dir, "/run/nines");
	assert_string_equal(f->cfg->main.state_dir, "/var/lib/nines");
	assert_string_equal(f->cfg->main.log_dir, "/var/log/nines");
	assert_int_equal(f->cfg->main.console, CONFIG_CONSOLE_AUTO);
	assert_null(f->cfg->main.control_group);
	assert_null(f->cfg->main.status_group);
	assert_int_equal(f->cfg->main.shutdown_timeout_ms, 30000);
	assert_null(f->cfg->main.alert_argv);
	assert_null(f->cfg->main.alert_webhook);
	assert_int_equal(f->cfg->n_services, 0);
}

static void test_service_defaults(void **state)
{
	struct fx *f = *state;
	const struct config_service *s;

	put(f, "services/bot.conf", "[service]\ncommand = /bin/true\n");
	load_ok(f);
	assert_int_equal(f->cfg->n_services, 1);
	s = svc(f, "bot");
	assert_string_equal(s->argv[0], "/bin/true");
	assert_int_equal(s->argc, 1);
	assert_null(s->argv[1]);
	assert_false(s->has_uid);
	assert_false(s->has_gid);
	assert_int_equal(s->n_env, 0);
	assert_int_equal(s->n_after, 0);
	assert_int_equal(s->stop_signal, SIGTERM);
	assert_int_equal(s->stop_timeout_ms, 10000);
	assert_int_equal(s->n_caps, 0);
	assert_int_equal(s->ready, CONFIG_READY_STARTED);
	assert_false(s->has_umask);
	assert_null(s->pidfile);
	for (int i = 0; i < CONFIG_RLIMIT_COUNT; i++)
		assert_false(s->rlimits[i].set);
	assert_int_equal(s->rlimits[CONFIG_RLIMIT_NOFILE].resource, RLIMIT_NOFILE);
	assert_int_equal(s->restart.policy, CONFIG_POLICY_ALWAYS);
	assert_int_equal(s->restart.delay_ms, 100);
	assert_int_equal(s->restart.backoff, CONFIG_BACKOFF_EXPONENTIAL);
	assert_int_equal(s->restart.max_delay_ms, 300000);
	assert_int_equal(s->restart.jitter_pct, 20);
	assert_int_equal(s->restart.reset_after_ms, 600000);
	assert_false(s->restart.has_limit);
	assert_int_equal(parse_exit_codes_count(&s->restart.no_restart_exit_codes), 0);
	assert_int_equal(s->restart.max_lifetime_ms, 0);
	assert_int_equal(s->health.kind, CONFIG_HEALTH_NONE);
	assert_int_equal(s->health.interval_ms, 10000);
	assert_int_equal(s->health.timeout_ms, 2000);
	assert_int_equal(s->health.start_period_ms, 0);
	assert_int_equal(s->health.retries, 3);
	assert_true(parse_http_ranges_match(&s->health.expect, 200) && parse_http_ranges_match(&s->health.expect, 399));
	assert_false(s->auth.enabled);
	assert_string_equal(s->auth.token_env, "DISCORD_TOKEN");
	assert_string_equal(s->auth.api, "https://discord.com/api/v10");
	assert_true(s->auth.default_patterns);
	assert_false(s->auth.probe);
	{
		char want[BIG];

		snprintf(want, sizeof want, "%s/log/bot.log", f->dir);
		assert_string_equal(s->log.file, want);
	}
	assert_int_equal(s->log.max_size, 10 * 1024 * 1024);
	assert_int_equal(s->log.max_files, 5);
	assert_int_equal(s->log.timestamps, CONFIG_TIMESTAMPS_ISO8601);
	assert_true(s->log.redact);
	assert_int_equal(s->watchdog_ms, 0);
}

static const char full_service[] =
	"[service]\n"
	"command = /usr/bin/python3 bot.py --name 'my bot' \"a\\\"b\"\n"
	"directory = /srv/bot\n"
	"user = root\n"
	"group = 0\n"
	"env = LOG_LEVEL=info\n"
	"env = EMPTY=\n"
	"env_file = /etc/nines/bot.env\n"
	"after = lavalink, db\n"
	"stop_signal = SIGINT\n"
	"stop_timeout = 1.5s\n"
	"capabilities = CAP_NET_BIND_SERVICE net_raw cap_net_bind_service\n"
	"ready = healthy\n"
	"umask = 027\n"
	"pidfile = /run/bot.pid\n"
	"lockfile = /run/bot.lock\n"
	"rlimit_nofile = 1024:4096\n"
	"rlimit_core = infinity\n"
	"rlimit_as = 1G\n"
	"\n"
	"[restart]\n"
	"policy = on-failure\n"
	"delay = 1s\n"
	"backoff = fixed\n"
	"max_delay = 1m\n"
	"jitter = 5%\n"
	"reset_after = 30m\n"
	"limit = 10/1h\n"
	"no_restart_exit_codes = 78, 3 4\n"
	"max_lifetime = 1d\n"
	"\n"
	"[health]\n"
	"url = http://127.0.0.1:8080/health\n"
	"interval = 5s\n"
	"timeout = 1s\n"
	"start_period = 60s\n"
	"retries = 5\n"
	"expect = 200,204\n"
	"\n"
	"[auth]\n"
	"token_file = /run/secrets/discord_token\n"
	"token_env = BOT_TOKEN\n"
	"format = opaque\n"
	"patterns = none\n"
	"pattern = auth:401 Unauthorized\n"
	"pattern = ratelimit:HTTP 429 ; a comment\n"
	"probe = on\n"
	"api = https://example.com/api\n"
	"\n"
	"[log]\n"
	"file = /var/log/bot.log\n"
	"max_size = 1M\n"
	"max_files = 2\n"
	"timestamps = none\n"
	"redact = no\n"
	"\n"
	"[notify]\n"
	"watchdog = 30s\n";

static void test_full_service(void **state)
{
	struct fx *f = *state;
	const struct config_service *s;

	put(f, "services/bot.conf", full_service);
	put(f, "services/lavalink.conf", "[service]\ncommand = /bin/lavalink\n");
	put(f, "services/db.conf", "[service]\ncommand = /bin/db\n");
	load_ok(f);
	s = svc(f, "bot");
	assert_int_equal(s->argc, 5);
	assert_string_equal(s->argv[3], "my bot");
	assert_string_equal(s->argv[4], "a\"b");
	assert_string_equal(s->directory, "/srv/bot");
	assert_string_equal(s->user, "root");
	assert_true(s->has_uid && s->uid == 0 && s->has_gid && s->gid == 0);
	assert_int_equal(s->n_env, 2);
	assert_string_equal(s->env[0], "LOG_LEVEL=info");
	assert_string_equal(s->env[1], "EMPTY=");
	assert_string_equal(s->env_file, "/etc/nines/bot.env");
	assert_int_equal(s->n_after, 2);
	assert_string_equal(s->after[0], "lavalink");
	assert_string_equal(s->after[1], "db");
	assert_int_equal(s->stop_signal, SIGINT);
	assert_int_equal(s->stop_timeout_ms, 1500);
	assert_int_equal(s->n_caps, 2); /* sorted, duplicates removed */
	assert_int_equal(s->caps[0], CAP_NET_BIND_SERVICE);
	assert_int_equal(s->caps[1], CAP_NET_RAW);
	assert_int_equal(s->ready, CONFIG_READY_HEALTHY);
	assert_true(s->has_umask && s->umask == 027);
	assert_string_equal(s->pidfile, "/run/bot.pid");
	assert_string_equal(s->lockfile, "/run/bot.lock");
	assert_true(s->rlimits[CONFIG_RLIMIT_NOFILE].set);
	assert_int_equal(s->rlimits[CONFIG_RLIMIT_NOFILE].value.soft, 1024);
	assert_int_equal(s->rlimits[CONFIG_RLIMIT_NOFILE].value.hard, 4096);
	assert_true(s->rlimits[CONFIG_RLIMIT_CORE].value.hard == PARSE_RLIM_INFINITY);
	assert_int_equal(s->rlimits[CONFIG_RLIMIT_AS].value.soft, 1 << 30);
	assert_int_equal(s->rlimits[CONFIG_RLIMIT_AS].resource, RLIMIT_AS);
	assert_false(s->rlimits[CONFIG_RLIMIT_NPROC].set);

	assert_int_equal(s->restart.policy, CONFIG_POLICY_ON_FAILURE);
	assert_int_equal(s->restart.delay_ms, 1000);
	assert_int_equal(s->restart.backoff, CONFIG_BACKOFF_FIXED);
	assert_int_equal(s->restart.max_delay_ms, 60000);
	assert_int_equal(s->restart.jitter_pct, 5);
	assert_int_equal(s->restart.reset_after_ms, 1800000);
	assert_true(s->restart.has_limit);
	assert_int_equal(s->restart.limit.count, 10);
	assert_int_equal(s->restart.limit.window_ms, 3600000);
	assert_true(parse_exit_codes_has(&s->restart.no_restart_exit_codes, 78));
	assert_true(parse_exit_codes_has(&s->restart.no_restart_exit_codes, 4));
	assert_int_equal(s->restart.max_lifetime_ms, 86400000);

	assert_int_equal(s->health.kind, CONFIG_HEALTH_URL);
	assert_string_equal(s->health.target, "http://127.0.0.1:8080/health");
	assert_int_equal(s->health.interval_ms, 5000);
	assert_int_equal(s->health.timeout_ms, 1000);
	assert_int_equal(s->health.start_period_ms, 60000);
	assert_int_equal(s->health.retries, 5);
	assert_int_equal(s->health.expect.n, 2);
	assert_false(parse_http_ranges_match(&s->health.expect, 201));

	assert_true(s->auth.enabled);
	assert_string_equal(s->auth.token_file, "/run/secrets/discord_token");
	assert_string_equal(s->auth.token_env, "BOT_TOKEN");
	assert_int_equal(s->auth.format, CONFIG_FORMAT_OPAQUE);
	assert_false(s->auth.default_patterns);
	assert_int_equal(s->auth.n_patterns, 2);
	assert_int_equal(s->auth.patterns[0].cls, CONFIG_PATTERN_AUTH);
	assert_string_equal(s->auth.patterns[1].source, "HTTP 429"); /* " ; a comment" stripped */
	assert_int_equal(s->auth.patterns[1].cls, CONFIG_PATTERN_RATELIMIT);
	assert_int_equal(regexec(&s->auth.patterns[0].re, "GET /x: 401 Unauthorized", 0, NULL, 0), 0);
	assert_int_not_equal(regexec(&s->auth.patterns[0].re, "200 OK", 0, NULL, 0), 0);
	assert_true(s->auth.probe);
	assert_string_equal(s->auth.api, "https://example.com/api");

	assert_string_equal(s->log.file, "/var/log/bot.log");
	assert_int_equal(s->log.max_size, 1 << 20);
	assert_int_equal(s->log.max_files, 2);
	assert_int_equal(s->log.timestamps, CONFIG_TIMESTAMPS_NONE);
	assert_false(s->log.redact);
	assert_int_equal(s->watchdog_ms, 30000);
}

static void test_main_config(void **state)
{
	struct fx *f = *state;
	const struct config_main *m;
	char want[BIG];

	put(f, "nines.conf",
	    "; comment\n"
	    "# another\n"
	    "[nines]\n"
	    "services_dir = services\n"
	    "run_dir = /run/x\n"
	    "state_dir = ./state\n"
	    "console = yes   ; forward\n"
	    "control_group = root\n"
	    "status_group = 4242\n"
	    "shutdown_timeout = 1m\n"
	    "[alert]\n"
	    "exec = /bin/echo 'state changed'\n"
	    "webhook = https://discord.com/api/webhooks/1/abc\n");
	load_ok(f);
	m = &f->cfg->main;
	assert_string_equal(m->path, f->main);
	snprintf(want, sizeof want, "%s/services", f->dir);
	assert_string_equal(m->services_dir, want);
	assert_string_equal(m->run_dir, "/run/x");
	snprintf(want, sizeof want, "%s/./state", f->dir);
	assert_string_equal(m->state_dir, want);
	assert_string_equal(m->log_dir, "/var/log/nines");
	assert_int_equal(m->console, CONFIG_CONSOLE_YES);
	assert_string_equal(m->control_group, "root");
	assert_int_equal(m->control_gid, 0);
	assert_string_equal(m->status_group, "4242");
	assert_int_equal(m->status_gid, 4242);
	assert_int_equal(m->shutdown_timeout_ms, 60000);
	assert_string_equal(m->alert_argv[1], "state changed");
	assert_null(m->alert_argv[2]);
	assert_string_equal(m->alert_webhook, "https://discord.com/api/webhooks/1/abc");
}

static void test_multiline_values(void **state)
{
	struct fx *f = *state;
	const struct config_service *s;

	put(f, "services/a.conf", "[service]\ncommand = /bin/a\n");
	put(f, "services/b.conf", "[service]\ncommand = /bin/b\n");
	put(f, "services/bot.conf",
	    "[service]\n"
	    "command = /bin/sh -c\n"
	    "    'echo one; echo two'\n"
	    "\n"
	    "    # a comment line inside the value\n"
	    "    --flag ; trailing comment\n"
	    "env = A=1\n"
	    "\tB=2 ; comment\n"
	    "after = a\n"
	    "  b\n"
	    "[auth]\n"
	    "pattern = auth:one\n"
	    "  config:two\n");
	load_ok(f);
	s = svc(f, "bot");
	assert_int_equal(s->argc, 4);
	assert_string_equal(s->argv[0], "/bin/sh");
	assert_string_equal(s->argv[2], "echo one; echo two");
	assert_string_equal(s->argv[3], "--flag");
	assert_int_equal(s->n_env, 2);
	assert_string_equal(s->env[1], "B=2");
	assert_int_equal(s->n_after, 2);
	assert_string_equal(s->after[1], "b");
	assert_int_equal(s->auth.n_patterns, 2);
	assert_int_equal(s->auth.patterns[1].cls, CONFIG_PATTERN_CONFIG);
}

static void test_line_of_199_chars(void **state)
{
	struct fx *f = *state;
	char line[256], file[300];
	const struct config_service *s;
	size_t n;

	strcpy(line, "command = /bin/echo ");
	n = strlen(line);
	memset(line + n, 'x', 199 - n);
	line[199] = '\0';
	snprintf(file, sizeof file, "[service]\n%s\n", line);
	put(f, "services/bot.conf", file);
	load_ok(f);
	s = svc(f, "bot");
	assert_int_equal(s->argc, 2);
	assert_int_equal(strlen(s->argv[1]), 199 - n);
}

static void test_service_order_and_ignored_files(void **state)
{
	struct fx *f = *state;
	char p[BIG];

	put(f, "services/zeta.conf", "[service]\ncommand = /bin/z\n");
	put(f, "services/alpha.conf", "[service]\ncommand = /bin/a\n");
	put(f, "services/m-1_x.y.conf", "[service]\ncommand = /bin/m\n");
	put(f, "services/README", "not a service\n");
	put(f, "services/Upper.conf", "garbage\n");
	put(f, "services/old.conf.bak", "garbage\n");
	put(f, "services/.conf", "garbage\n");
	put(f, "services/sp ace.conf", "garbage\n");
	snprintf(p, sizeof p, "%s/services/dir.conf", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	load_ok(f);
	assert_int_equal(f->cfg->n_services, 3);
	assert_string_equal(f->cfg->services[0].name, "alpha");
	assert_string_equal(f->cfg->services[1].name, "m-1_x.y");
	assert_string_equal(f->cfg->services[2].name, "zeta");
	snprintf(p, sizeof p, "%s/services/zeta.conf", f->dir);
	assert_string_equal(f->cfg->services[2].path, p);
}

static void test_auth_limit_default(void **state)
{
	struct fx *f = *state;

	put(f, "services/discord.conf", "[service]\ncommand = /bin/x\n[auth]\ntoken_file = /run/t1\n");
	put(f, "services/opaque.conf", "[service]\ncommand = /bin/x\n[auth]\nformat = opaque\ntoken_file = /run/t2\n");
	put(f, "services/nolimit.conf", "[service]\ncommand = /bin/x\n[restart]\nlimit = none\n[auth]\nformat = discord\n");
	put(f, "services/own.conf", "[service]\ncommand = /bin/x\n[restart]\nlimit = 3/1m\n[auth]\n");
	put(f, "services/plain.conf", "[service]\ncommand = /bin/x\n");
	load_ok(f);
	assert_true(svc(f, "discord")->restart.has_limit);
	assert_int_equal(svc(f, "discord")->restart.limit.count, 900);
	assert_int_equal(svc(f, "discord")->restart.limit.window_ms, 24 * 3600 * 1000);
	assert_int_equal(svc(f, "discord")->auth.format, CONFIG_FORMAT_DISCORD);
	assert_false(svc(f, "opaque")->restart.has_limit);
	assert_false(svc(f, "nolimit")->restart.has_limit);
	assert_int_equal(svc(f, "own")->restart.limit.count, 3);
	assert_true(svc(f, "own")->auth.enabled);
	assert_false(svc(f, "plain")->restart.has_limit);
}

static void test_health_kinds_and_users(void **state)
{
	struct fx *f = *state;
	const struct config_service *s;

	put(f, "services/tcp.conf", "[service]\ncommand = /bin/x\nuser = 54321\ngroup = 54322\n"
				    "[health]\ntcp = [::1]:8080\n");
	put(f, "services/tcp4.conf", "[service]\ncommand = /bin/x\nuser = root\n[health]\ntcp = localhost:1\n");
	put(f, "services/ex.conf", "[service]\ncommand = /bin/x\nready = healthy\n"
				   "[health]\nexec = /bin/check --deep 'a b'\n");
	put(f, "services/off.conf", "[service]\ncommand = /bin/x\numask =\ncapabilities =\n"
				    "[restart]\nmax_lifetime =\n[log]\nfile =\n[notify]\nwatchdog =\n");
	load_ok(f);
	s = svc(f, "tcp");
	assert_int_equal(s->health.kind, CONFIG_HEALTH_TCP);
	assert_string_equal(s->health.host, "::1");
	assert_int_equal(s->health.port, 8080);
	assert_true(s->has_uid && s->uid == 54321 && s->gid == 54322);
	s = svc(f, "tcp4");
	assert_string_equal(s->health.host, "localhost");
	assert_int_equal(s->health.port, 1);
	assert_true(s->has_gid && s->gid == 0); /* root's primary group */
	s = svc(f, "ex");
	assert_int_equal(s->health.kind, CONFIG_HEALTH_EXEC);
	assert_string_equal(s->health.argv[2], "a b");
	s = svc(f, "off");
	assert_false(s->has_umask);
	assert_int_equal(s->n_caps, 0);
	assert_null(s->log.file);
	assert_int_equal(s->watchdog_ms, 0);
	assert_int_equal(s->restart.max_lifetime_ms, 0);
}

/* ------------------------------------------------------------------ bad files */

static void test_missing_main(void **state)
{
	struct fx *f = *state;

	snprintf(f->main, sizeof f->main, "%s/nope.conf", f->dir);
	assert_int_equal(load(f), -EINVAL);
	expect_error(f, "nope.conf", 0, "cannot open: No such file or directory");
	expect_n_errors(f, 1); /* services_dir is not scanned after that */
	/* The same file with CONFIG_MAIN_OPTIONAL gives built-in defaults. */
	config_errors_free(&f->errs);
	assert_int_equal(config_load_files(f->main, CONFIG_MAIN_OPTIONAL, NULL, 0, &f->cfg, &f->errs), 0);
	assert_null(f->cfg->main.path);
}

static void test_missing_services_dir(void **state)
{
	struct fx *f = *state;

	put(f, "nines.conf", "[nines]\n\nservices_dir = /nonexistent/nines-services\n");
	assert_int_equal(load(f), -EINVAL);
	expect_error(f, "nines.conf", 3, "services_dir /nonexistent/nines-services: No such file or directory");
}

static void test_unknown_sections_and_keys(void **state)
{
	struct fx *f = *state;

	put(f, "nines.conf", "stray = 1\n"
			     "[nines]\n"
			     "services_dir = services\n"
			     "log_dir = /tmp\n"
			     "colour = red\n"
			     "[service]\n"
			     "command = /bin/x\n");
	put(f, "services/bot.conf", "[service]\n"
				    "command = /bin/true\n"
				    "colour = red\n"
				    "[servcie]\n"
				    "foo = bar\n"
				    "[nines]\n"
				    "[health] ; ok\n"
				    "url = http://x/\n"
				    "[log] extra\n");
	assert_int_equal(load(f), -EINVAL);
	expect_error(f, "nines.conf", 1, "'stray' is outside of any [section]");
	expect_error(f, "nines.conf", 5, "unknown key 'colour' in [nines]");
	expect_error(f, "nines.conf", 6, "unknown section [service] (expected [nines] or [alert]");
	expect_error(f, "services/bot.conf", 3, "unknown key 'colour' in [service]");
	expect_error(f, "services/bot.conf", 4, "unknown section [servcie]");
	expect_error(f, "services/bot.conf", 6, "unknown section [nines]");
	expect_error(f, "services/bot.conf", 9, "unexpected text after ']'");
	expect_n_errors(f, 7); /* foo = bar in the unknown section is not reported again */
}

static void test_syntax_errors(void **state)
{
	struct fx *f = *state;

	put(f, "services/bot.conf", "[service]\n"
				    "command = /bin/true\n"
				    "just some words\n"
				    "[restart\n"
				    "policy = never\n");
	assert_int_equal(load(f), -EINVAL);
	expect_error(f, "services/bot.conf", 3, "expected 'key = value'");
	expect_error(f, "services/bot.conf", 4, "section header without closing ']'");
	expect_error(f, "services/bot.conf", 5, "unknown key 'policy' in [service]");
	expect_n_errors(f, 3);
}

static void test_bad_values(void **state)
{
	struct fx *f = *state;
	static const struct {
		int line;
		const char *text;
	} want[] = {
		{ 3, "invalid stop_timeout 'soon': expected a duration" },
		{ 4, "invalid ready 'maybe': expected one of started, notify or healthy" },
		{ 5, "invalid stop_signal 'SIGFOO'" },
		{ 6, "invalid umask '999'" },
		{ 7, "invalid rlimit_nofile '5:1'" },
		{ 8, "unknown capability 'CAP_BOGUS'" },
		{ 9, "invalid directory 'relative/path': expected an absolute path" },
		{ 10, "invalid env name '1BAD'" },
		{ 11, "invalid env: expected KEY=VALUE" },
		{ 12, "invalid after 'Bad!'" },
		{ 14, "invalid jitter '120%'" },
		{ 15, "invalid limit '5': expected COUNT/WINDOW" },
		{ 16, "invalid policy 'sometimes'" },
		{ 17, "invalid no_restart_exit_codes '300'" },
		{ 19, "invalid url 'ftp://x'" },
		{ 20, "invalid interval '0': expected a duration greater than 0" },
		{ 21, "invalid retries '0': expected a whole number from 1 to 1000000" },
		{ 22, "invalid expect '600'" },
		{ 24, "invalid token_env '1X'" },
		{ 25, "invalid format 'jwt': expected one of discord or opaque" },
		{ 26, "invalid patterns 'some'" },
		{ 27, "invalid pattern 'bogus:x': expected CLASS:REGEX" },
		{ 28, "invalid pattern '(unclosed'" },
		{ 29, "invalid probe 'maybe'" },
		{ 30, "invalid api 'notaurl'" },
		{ 32, "invalid max_size '10Q'" },
		{ 33, "invalid max_files '-1'" },
		{ 34, "invalid timestamps 'rfc3339'" },
		{ 36, "invalid watchdog 'x'" },
	};

	put(f, "services/bot.conf", "[service]\n"                    /* 1 */
				    "command = /bin/true\n"          /* 2 */
				    "stop_timeout = soon\n"          /* 3 */
				    "ready = maybe\n"                /* 4 */
				    "stop_signal = SIGFOO\n"         /* 5 */
				    "umask = 999\n"                  /* 6 */
				    "rlimit_nofile = 5:1\n"          /* 7 */
				    "capabilities = CAP_BOGUS\n"     /* 8 */
				    "directory = relative/path\n"    /* 9 */
				    "env = 1BAD=x\n"                 /* 10 */
				    "env = NOEQUALS_SECRET\n"        /* 11 */
				    "after = Bad!\n"                 /* 12 */
				    "[restart]\n"                    /* 13 */
				    "jitter = 120%\n"                /* 14 */
				    "limit = 5\n"                    /* 15 */
				    "policy = sometimes\n"           /* 16 */
				    "no_restart_exit_codes = 300\n"  /* 17 */
				    "[health]\n"                     /* 18 */
				    "url = ftp://x\n"                /* 19 */
				    "interval = 0\n"                 /* 20 */
				    "retries = 0\n"                  /* 21 */
				    "expect = 600\n"                 /* 22 */
				    "[auth]\n"                       /* 23 */
				    "token_env = 1X\n"               /* 24 */
				    "format = jwt\n"                 /* 25 */
				    "patterns = some\n"              /* 26 */
				    "pattern = bogus:x\n"            /* 27 */
				    "pattern = auth:(unclosed\n"     /* 28 */
				    "probe = maybe\n"                /* 29 */
				    "api = notaurl\n"                /* 30 */
				    "[log]\n"                        /* 31 */
				    "max_size = 10Q\n"               /* 32 */
				    "max_files = -1\n"               /* 33 */
				    "timestamps = rfc3339\n"         /* 34 */
				    "[notify]\n"                     /* 35 */
				    "watchdog = x\n");               /* 36 */
	assert_int_equal(load(f), -EINVAL);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		expect_error(f, "services/bot.conf", want[i].line, want[i].text);
	expect_n_errors(f, sizeof want / sizeof want[0]);
	/* env values may be secrets: never echoed. */
	for (size_t i = 0; i < f->errs.n; i++)
		assert_null(strstr(f->errs.msgs[i], "NOEQUALS_SECRET"));
}

static void test_bad_main_values(void **state)
{
	struct fx *f = *state;

	put(f, "nines.conf", "[nines]\n"
			     "services_dir = services\n"
			     "console = maybe\n"
			     "control_group = nines-no-such-group\n"
			     "shutdown_timeout = forever\n"
			     "[alert]\n"
			     "exec = /bin/echo 'oops\n"
			     "webhook = discord\n");
	assert_int_equal(load(f), -EINVAL);
	expect_error(f, "nines.conf", 3, "invalid console 'maybe': expected one of auto, yes or no");
	expect_error(f, "nines.conf", 4, "unknown group 'nines-no-such-group'");
	expect_error(f, "nines.conf", 5, "invalid shutdown_timeout 'forever'");
	expect_error(f, "nines.conf", 7, "invalid exec: unterminated single quote");
	expect_error(f, "nines.conf", 8, "invalid webhook 'discord': expected an http:// or https:// URL");
	expect_n_errors(f, 5);
}

static void test_long_line(void **state)
{
	struct fx *f = *state;
	char file[1024], line[400];

	memset(line, 'a', 250);
	line[250] = '\0';
	snprintf(file, sizeof file, "[service]\n"                 /* 1 */
				    "command = /bin/echo %s\n"    /* 2: 270 characters */
				    "    more args\n"             /* 3: dropped with it */
				    "bogus = 1\n",                /* 4 */
		 line);
	put(f, "services/bot.conf", file);
	assert_int_equal(load(f), -EINVAL);
	expect_error(f, "services/bot.conf", 2, "line too long (270 characters, at most 199)");
	expect_error(f, "services/bot.conf", 4, "unknown key 'bogus' in [service]");
	expect_n_errors(f, 2); /* not also "missing command": it was set, on a refused line */
}

static void test_long_line_variants(void **state)
{
	struct fx *f = *state;
	char file[2048], x[300];

	memset(x, 'x', 250);
	x[250] = '\0';
	snprintf(file, sizeof file, "[service]\n"               /* 1 */
				    "command = /bin/echo a\n"   /* 2 */
				    "    %s\n"                  /* 3: too long continuation */
				    "    more\n"                /* 4: rest of the broken value, ignored */
				    "# %s\n"                    /* 5: a long comment is fine */
				    "stop_timeout = x\n"        /* 6 */
				    "[restart]          %s\n"   /* 7: long section line */
				    "policy = never\n"          /* 8: still in [restart] */
				    "bogus = 1\n",              /* 9 */
		 x, x, x);
	put(f, "services/bot.conf", file);
	assert_int_equal(load(f), -EINVAL);
	expect_error(f, "services/bot.conf", 3, "line too long (254 characters, at most 199)");
	expect_error(f, "services/bot.conf", 6, "invalid stop_timeout 'x'");
	expect_error(f, "services/bot.conf", 7, "line too long");
	expect_error(f, "services/bot.conf", 9, "unknown key 'bogus' in [restart]");
	expect_n_errors(f, 4);
}

static void test_crlf_and_bom(void **state)
{
	struct fx *f = *state;
	const struct config_service *s;

	put(f, "services/bot.conf", "\xEF\xBB\xBF[service]\r\n"
				    "command = /bin/echo 'a b'\r\n"
				    "   c\r\n"
				    "stop_timeout = 3s\r\n");
	load_ok(f);
	s = svc(f, "bot");
	assert_int_equal(s->argc, 3);
	assert_string_equal(s->argv[1], "a b");
	assert_string_equal(s->argv[2], "c");
	assert_int_equal(s->stop_timeout_ms, 3000);
}

static void test_unterminated_quote(void **state)
{
	struct fx *f = *state;

	put(f, "services/bot.conf", "[service]\n"
				    "\n"
				    "command = /bin/echo 'abc\n"
				    "    def\n");
	put(f, "services/semi.conf", "[service]\n"
				     "command = sh -c 'a ; b'\n");
	put(f, "services/empty.conf", "[service]\n"
				      "command =\n");
	put(f, "services/emptyprog.conf", "[service]\n"
					  "command = '' arg\n");
	assert_int_equal(load(f), -EINVAL);
	expect_error(f, "services/bot.conf", 3, "invalid command: unterminated single quote");
	expect_error(f, "services/semi.conf", 2, "unterminated single quote (note: ' ;' starts a comment");
	expect_error(f, "services/empty.conf", 2, "invalid command: empty command");
	expect_error(f, "services/emptyprog.conf", 2, "invalid command: empty program name");
	expect_n_errors(f, 4);
}

static void test_missing_command(void **state)
{
	struct fx *f = *state;

	put(f, "services/a.conf", "# nothing\n[service]\ndirectory = /\n");
	put(f, "services/b.conf", "[restart]\npolicy = never\n");
	assert_int_equal(load(f), -EINVAL);
	expect_error(f, "services/a.conf", 2, "missing command in [service]");
	expect_error(f, "services/b.conf", 0, "missing command in [service]");
	expect_n_errors(f, 2);
}

static void test_duplicate_keys(void **state)
{
	struct fx *f = *state;

	put(f, "services/bot.conf", "[service]\n"
				    "command = /bin/true\n"
				    "stop_timeout = 1s\n"
				    "env = A=1\n"
				    "env = A=2\n"
				    "stop_timeout = 2s\n"
				    "[service]\n"
				    "command = /bin/false\n");
	put(f, "nines.conf", "[nines]\nservices_dir = services\n[alert]\nexec = /bin/a\n[alert]\nexec = /bin/b\n");
	assert_int_equal(load(f), -EINVAL);
	expect_error(f, "services/bot.conf", 6, "duplicate key 'stop_timeout' (first set at line 3)");
	expect_error(f, "services/bot.conf", 8, "duplicate key 'command' (first set at line 2)");
	expect_error(f, "nines.conf", 6, "duplicate key 'exec' (first set at line 4)");
	expect_n_errors(f, 3);
}

static void test_duplicate_services(void **state)
{
	struct fx *f = *state;
	char a[BIG], b[BIG], bad[BIG];
	const char *paths[] = { a, b };
	const char *badpaths[] = { bad };

	snprintf(a, sizeof a, "%s/services/bot.conf", f->dir);
	snprintf(b, sizeof b, "%s/other/bot.conf", f->dir);
	snprintf(bad, sizeof bad, "%s/other/Bad.conf", f->dir);
	{
		char d[BIG];

		snprintf(d, sizeof d, "%s/other", f->dir);
		assert_int_equal(mkdir(d, 0755), 0);
	}
	put(f, "services/bot.conf", "[service]\ncommand = /bin/a\n");
	put(f, "other/bot.conf", "[service]\ncommand = /bin/b\n");
	put(f, "other/Bad.conf", "[service]\ncommand = /bin/b\n");
	assert_int_equal(config_load_files(f->main, 0, paths, 2, &f->cfg, &f->errs), -EINVAL);
	expect_error(f, "services/bot.conf", 0, "duplicate service name 'bot' (also defined by");
	expect_n_errors(f, 1);
	config_errors_free(&f->errs);
	assert_int_equal(config_load_files(f->main, 0, badpaths, 1, &f->cfg, &f->errs), -EINVAL);
	expect_error(f, "other/Bad.conf", 0, "must be named NAME.conf");
}

static void test_after_errors(void **state)
{
	struct fx *f = *state;

	put(f, "services/a.conf", "[service]\ncommand = /bin/x\nafter = b\n");
	put(f, "services/b.conf", "[service]\ncommand = /bin/x\n\nafter = c\n");
	put(f, "services/c.conf", "[service]\ncommand = /bin/x\nafter = a, d\n");
	put(f, "services/d.conf", "[service]\ncommand = /bin/x\nafter = nosuch\n");
	put(f, "services/e.conf", "[service]\ncommand = /bin/x\nafter = e\n");
	assert_int_equal(load(f), -EINVAL);
	expect_error(f, "services/d.conf", 3, "after= names unknown service 'nosuch'");
	expect_error(f, "services/c.conf", 3, "after= cycle: a -> b -> c -> a");
	expect_error(f, "services/e.conf", 3, "after= cycle: e -> e");
	expect_n_errors(f, 3);
}

static void test_shared_token_file(void **state)
{
	struct fx *f = *state;

	put(f, "services/one.conf", "[service]\ncommand = /bin/x\n[auth]\ntoken_file = /run/secrets/t\n");
	put(f, "services/two.conf", "[service]\ncommand = /bin/x\n[auth]\nformat = discord\ntoken_file = /run/secrets/t\n");
	put(f, "services/three.conf", "[service]\ncommand = /bin/x\n[auth]\ntoken_file = /run/secrets/other\n");
	assert_int_equal(load(f), -EINVAL);
	expect_error(f, "services/two.conf", 5, "token_file /run/secrets/t is also used by service 'one'");
	expect_n_errors(f, 1);
}

static void test_users_and_health_rules(void **state)
{
	struct fx *f = *state;

	put(f, "services/u.conf", "[service]\ncommand = /bin/x\nuser = nines-no-such-user\ngroup = nines-no-such-group\n");
	put(f, "services/n.conf", "[service]\ncommand = /bin/x\nuser = 54321\n");
	put(f, "services/h1.conf", "[service]\ncommand = /bin/x\n[health]\nurl = http://a/\ntcp = 127.0.0.1:1\n");
	put(f, "services/h2.conf", "[service]\ncommand = /bin/x\n\n[health]\ninterval = 5s\n");
	put(f, "services/h3.conf", "[service]\ncommand = /bin/x\n[health]\ntcp = 127.0.0.1:1\nexpect = 200\n");
	/* A host name would need a resolver call on the loop: TCP checks take addresses. */
	put(f, "services/h6.conf", "[service]\ncommand = /bin/x\n[health]\ntcp = lavalink:2333\n");
	put(f, "services/h4.conf", "[service]\ncommand = /bin/x\nready = healthy\n");
	put(f, "services/h5.conf", "[service]\ncommand = /bin/x\n[health]\ntcp = a:0\n");
	assert_int_equal(load(f), -EINVAL);
	expect_error(f, "services/u.conf", 3, "unknown user 'nines-no-such-user'");
	expect_error(f, "services/u.conf", 4, "unknown group 'nines-no-such-group'");
	expect_error(f, "services/n.conf", 3, "user 54321 has no passwd entry: set group as well");
	expect_error(f, "services/h1.conf", 5, "only one of url, exec or tcp may be set (url is set at line 4)");
	expect_error(f, "services/h2.conf", 4, "[health] needs one of url, exec or tcp");
	expect_error(f, "services/h3.conf", 5, "expect applies to url checks only");
	expect_error(f, "services/h4.conf", 3, "ready = healthy needs a [health] check");
	expect_error(f, "services/h5.conf", 4, "invalid tcp 'a:0'");
	expect_error(f, "services/h6.conf", 4, "invalid tcp 'lavalink:2333'");
	expect_n_errors(f, 9);
}

static void test_errors_accumulate(void **state)
{
	struct fx *f = *state;
	put(f, "services/a.conf", "[service]\ncommand = /bin/x\nstop_timeout = x\n");
	put(f, "services/b.conf", "[service]\ncommand = /bin/x\nready = x\n");
	assert_int_equal(load(f), -EINVAL);
	expect_n_errors(f, 2);
	/* errs is appended to, not reset. */
	assert_int_equal(config_load(f->main, 0, &f->cfg, &f->errs), -EINVAL);
	expect_n_errors(f, 4);
}

/* ------------------------------------------------------------------ reload diff */

static void test_diff(void **state)
{
	struct fx *f = *state;
	struct config *old_cfg;
	struct config_diff_entry *d;
	size_t n;
	static const struct {
		const char *name;
		enum config_change change;
	} want[] = {
		{ "cmd", CONFIG_CHANGED_PROCESS },  { "envc", CONFIG_CHANGED_PROCESS },
		{ "fresh", CONFIG_ADDED },          { "gone", CONFIG_REMOVED },
		{ "health", CONFIG_CHANGED_INPLACE }, { "notify", CONFIG_CHANGED_PROCESS },
		{ "restart", CONFIG_CHANGED_INPLACE }, { "same", CONFIG_UNCHANGED },
		{ "stop", CONFIG_CHANGED_INPLACE }, { "tok", CONFIG_CHANGED_PROCESS },
	};

	put(f, "services/same.conf", "[service]\ncommand = /bin/x  a\n");
	put(f, "services/cmd.conf", "[service]\ncommand = /bin/x a\n");
	put(f, "services/envc.conf", "[service]\ncommand = /bin/x\nenv = A=1\n");
	put(f, "services/gone.conf", "[service]\ncommand = /bin/x\n");
	put(f, "services/health.conf", "[service]\ncommand = /bin/x\n[health]\nurl = http://a/\n");
	put(f, "services/notify.conf", "[service]\ncommand = /bin/x\n");
	put(f, "services/restart.conf", "[service]\ncommand = /bin/x\n");
	put(f, "services/stop.conf", "[service]\ncommand = /bin/x\n");
	put(f, "services/tok.conf", "[service]\ncommand = /bin/x\n[auth]\ntoken_file = /run/a\n");
	load_ok(f);
	old_cfg = f->cfg;
	f->cfg = NULL;

	put(f, "services/same.conf", "[service]\n# reformatted\ncommand = /bin/x 'a'\n");
	put(f, "services/cmd.conf", "[service]\ncommand = /bin/x b\n");
	put(f, "services/envc.conf", "[service]\ncommand = /bin/x\nenv = A=2\n");
	{
		char p[BIG];

		snprintf(p, sizeof p, "%s/services/gone.conf", f->dir);
		assert_int_equal(unlink(p), 0);
	}
	put(f, "services/fresh.conf", "[service]\ncommand = /bin/x\n");
	put(f, "services/health.conf", "[service]\ncommand = /bin/x\n[health]\nurl = http://a/\ninterval = 3s\n");
	put(f, "services/notify.conf", "[service]\ncommand = /bin/x\nready = notify\n");
	put(f, "services/restart.conf", "[service]\ncommand = /bin/x\n[restart]\ndelay = 2s\n");
	put(f, "services/stop.conf", "[service]\ncommand = /bin/x\nstop_timeout = 1m\n");
	put(f, "services/tok.conf", "[service]\ncommand = /bin/x\n[auth]\ntoken_file = /run/b\n");
	load_ok(f);

	assert_int_equal(config_diff(old_cfg, f->cfg, &d, &n), 0);
	assert_int_equal(n, sizeof want / sizeof want[0]);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(d[i].name, want[i].name);
		if (d[i].change != want[i].change)
			print_message("%s: %s\n", d[i].name, config_change_name(d[i].change));
		assert_int_equal(d[i].change, want[i].change);
		assert_true(d[i].old_svc || d[i].change == CONFIG_ADDED);
		assert_true(d[i].new_svc || d[i].change == CONFIG_REMOVED);
	}
	free(d);

	/* Against itself: all unchanged. */
	assert_int_equal(config_diff(f->cfg, f->cfg, &d, &n), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(d[i].change, CONFIG_UNCHANGED);
	free(d);
	assert_int_equal(config_service_diff(NULL, &f->cfg->services[0]), CONFIG_ADDED);
	assert_int_equal(config_service_diff(&f->cfg->services[0], NULL), CONFIG_REMOVED);
	assert_string_equal(config_change_name(CONFIG_CHANGED_INPLACE), "changed-inplace");
	config_free(old_cfg);
}

static void test_diff_fields(void **state)
{
	struct fx *f = *state;
	struct config_service *a, *b;

	put(f, "services/a.conf", "[service]\ncommand = /bin/x\nuser = root\numask = 022\nrlimit_nofile = 10\n"
				  "capabilities = CAP_CHOWN\n[log]\nmax_files = 3\n[notify]\nwatchdog = 10s\n");
	put(f, "services/b.conf", "[service]\ncommand = /bin/x\nuser = root\numask = 022\nrlimit_nofile = 10\n"
				  "capabilities = CAP_CHOWN\n[log]\nmax_files = 3\n[notify]\nwatchdog = 10s\n");
	load_ok(f);
	a = (struct config_service *)svc(f, "a");
	b = (struct config_service *)svc(f, "b");
	assert_int_equal(config_service_diff(a, b), CONFIG_CHANGED_INPLACE); /* only log.file differs */
	free(b->log.file);
	b->log.file = strdup(a->log.file);
	assert_int_equal(config_service_diff(a, b), CONFIG_UNCHANGED);
	b->umask = 077;
	assert_int_equal(config_service_diff(a, b), CONFIG_CHANGED_PROCESS);
	b->umask = 022;
	b->rlimits[CONFIG_RLIMIT_NOFILE].value.hard = 11;
	assert_int_equal(config_service_diff(a, b), CONFIG_CHANGED_PROCESS);
	b->rlimits[CONFIG_RLIMIT_NOFILE].value.hard = 10;
	b->caps[0] = CAP_KILL;
	assert_int_equal(config_service_diff(a, b), CONFIG_CHANGED_PROCESS);
	b->caps[0] = CAP_CHOWN;
	b->watchdog_ms = 20000;
	assert_int_equal(config_service_diff(a, b), CONFIG_CHANGED_PROCESS);
	b->watchdog_ms = 10000;
	b->uid = 1;
	assert_int_equal(config_service_diff(a, b), CONFIG_CHANGED_PROCESS);
	b->uid = 0;
	b->log.max_files = 4;
	assert_int_equal(config_service_diff(a, b), CONFIG_CHANGED_INPLACE);
	b->log.max_files = 3;
	b->stop_signal = SIGINT;
	assert_int_equal(config_service_diff(a, b), CONFIG_CHANGED_INPLACE);
	b->stop_signal = SIGTERM;
	b->ready = CONFIG_READY_HEALTHY; /* not notify: in place */
	assert_int_equal(config_service_diff(a, b), CONFIG_CHANGED_INPLACE);
	b->ready = CONFIG_READY_STARTED;
	assert_int_equal(config_service_diff(a, b), CONFIG_UNCHANGED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_builtin_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_service, setup, teardown),
		cmocka_unit_test_setup_teardown(test_main_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multiline_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_of_199_chars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_order_and_ignored_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_limit_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_kinds_and_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_main, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_services_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_sections_and_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_main_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line_variants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf_and_bom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unterminated_quote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_services, setup, teardown),
		cmocka_unit_test_setup_teardown(test_after_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_token_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users_and_health_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_accumulate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diff_fields, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
