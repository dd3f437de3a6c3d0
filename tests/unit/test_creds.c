/* Unit tests for creds: stage/rlimit name tables, rlimit and capability parsing, parent-side
 * user/group resolution (root, nobody, numeric ids, overrides, supplementary groups, unknown
 * names), and creds_apply() in forked children (needs root; skipped otherwise): ids, groups,
 * umask, rlimits, capability sets and no_new_privs checked in the child and again after execve
 * (/proc/self/status of cat), binding a port below 1024, and the failing stage reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "creds.h"

#define NET_BIND_MASK (UINT64_C(1) << CAP_NET_BIND_SERVICE)

/* ---------------------------------------------------------------- tables and parsing */

static void test_stage_names(void **state)
{
	(void)state;
	for (int s = 0; s < CREDS_STAGE_COUNT; s++)
		assert_string_not_equal(creds_stage_name(s), "?");
	assert_string_equal(creds_stage_name(CREDS_STAGE_SETUID), "setuid");
	assert_string_equal(creds_stage_name(CREDS_STAGE_BOUNDING), "bounding set");
	assert_string_equal(creds_stage_name(-1), "?");
	assert_string_equal(creds_stage_name(CREDS_STAGE_COUNT), "?");
}

static void test_rlimit_keys(void **state)
{
	static const char *const keys[] = {"rlimit_nofile", "rlimit_nproc", "rlimit_core",
					   "rlimit_as", "rlimit_memlock", "rlimit_stack",
					   "rlimit_cpu", "rlimit_fsize", "rlimit_data"};

	(void)state;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		int r = creds_rlimit_resource(keys[i]);
		assert_true(r >= 0);
		assert_string_equal(creds_rlimit_key(r), keys[i]);
	}
	assert_int_equal(creds_rlimit_resource("rlimit_nofile"), RLIMIT_NOFILE);
	assert_int_equal(creds_rlimit_resource("rlimit_rss"), -EINVAL);
	assert_int_equal(creds_rlimit_resource("nofile"), -EINVAL);
	assert_int_equal(creds_rlimit_resource(""), -EINVAL);
	assert_string_equal(creds_rlimit_key(RLIMIT_RTPRIO), "?");
	assert_string_equal(creds_rlimit_key(-1), "?");
	assert_string_equal(creds_rlimit_key(RLIM_NLIMITS), "?");
}

static void test_set_rlimit(void **state)
{
	struct creds c;

	(void)state;
	creds_init(&c);
	assert_int_equal(creds_set_rlimit(&c, RLIMIT_NOFILE, 100, 200), 0);
	assert_int_equal(creds_set_rlimit(&c, RLIMIT_CORE, 0, UINT64_MAX), 0);
	assert_int_equal(creds_set_rlimit(&c, RLIMIT_NOFILE, 123, 123), 0); /* replaces */
	assert_int_equal(creds_set_rlimit(&c, RLIMIT_NOFILE, 2, 1), -EINVAL);
	assert_int_equal(creds_set_rlimit(&c, -1, 1, 1), -EINVAL);
	assert_int_equal(creds_set_rlimit(&c, RLIM_NLIMITS, 1, 1), -EINVAL);
	assert_int_equal(c.nrlimits, 2);
	assert_int_equal(c.rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(c.rlimits[0].soft, 123);
	assert_int_equal(c.rlimits[0].hard, 123);
	assert_true(c.rlimits[1].hard == RLIM_INFINITY);
	for (int r = 0; r < RLIM_NLIMITS; r++)
		assert_int_equal(creds_set_rlimit(&c, r, 1, 1), 0);
	assert_int_equal(c.nrlimits, CREDS_RLIMIT_MAX);
	creds_free(&c);
}

static void test_parse_caps(void **state)
{
	struct creds c;
	char bad[16];

	(void)state;
	creds_init(&c);
	assert_false(c.set_caps);
	assert_int_equal(creds_parse_caps(&c, " CAP_NET_BIND_SERVICE,cap_sys_nice\tCap_Net_Bind_Service ",
					  bad, sizeof bad), 0);
	assert_true(c.set_caps);
	assert_int_equal(c.ncaps, 2);
	assert_int_equal(c.caps[0], CAP_NET_BIND_SERVICE);
	assert_int_equal(c.caps[1], CAP_SYS_NICE);

	/* errors leave c as it was and name the token (truncated to the buffer) */
	assert_int_equal(creds_parse_caps(&c, "CAP_CHOWN CAP_BOGUS_THING_LONG", bad, sizeof bad),
			 -EINVAL);
	assert_string_equal(bad, "CAP_BOGUS_THING");
	assert_int_equal(c.ncaps, 2);
	assert_int_equal(creds_parse_caps(&c, "10", bad, sizeof bad), -EINVAL);
	assert_string_equal(bad, "10");
	assert_int_equal(creds_parse_caps(&c, "NET_BIND_SERVICE", NULL, 0), -EINVAL);
	assert_int_equal(creds_parse_caps(&c, "cap_", bad, sizeof bad), -EINVAL);
	assert_int_equal(creds_parse_caps(&c, "all", bad, sizeof bad), -EINVAL);

	/* empty: keep none */
	assert_int_equal(creds_parse_caps(&c, " , ", bad, sizeof bad), 0);
	assert_true(c.set_caps);
	assert_int_equal(c.ncaps, 0);
	creds_free(&c);
}

/* ---------------------------------------------------------------- resolution */

static bool has_gid(const struct creds *c, gid_t g)
{
	for (size_t i = 0; i < c->ngroups; i++) {
		if (c->groups[i] == g)
			return true;
	}
	return false;
}

static void test_init_free(void **state)
{
	struct creds c;

	(void)state;
	creds_init(&c);
	assert_true(c.uid == CREDS_ID_UNCHANGED);
	assert_true(c.gid == CREDS_ID_UNCHANGED);
	assert_false(c.set_groups);
	assert_false(c.set_umask);
	assert_int_equal(c.nrlimits, 0);
	assert_int_equal(creds_resolve_user(&c, NULL, NULL), 0);
	assert_true(c.uid == CREDS_ID_UNCHANGED);
	assert_false(c.set_groups);
	creds_free(&c);
	creds_free(NULL);
}

static void test_resolve_root(void **state)
{
	struct creds c;

	(void)state;
	creds_init(&c);
	assert_int_equal(creds_resolve_user(&c, "root", NULL), 0);
	assert_int_equal(c.uid, 0);
	assert_int_equal(c.gid, 0);
	assert_true(c.set_groups);
	assert_true(has_gid(&c, 0));
	/* numeric uid with a passwd entry behaves like the name */
	assert_int_equal(creds_resolve_user(&c, "0", NULL), 0);
	assert_int_equal(c.uid, 0);
	assert_int_equal(c.gid, 0);
	assert_true(has_gid(&c, 0));
	creds_free(&c);
}

static void test_resolve_nobody(void **state)
{
	struct passwd *pw = getpwnam("nobody");
	struct creds c;

	(void)state;
	if (!pw)
		skip();
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	creds_init(&c);
	assert_int_equal(creds_resolve_user(&c, "nobody", NULL), 0);
	assert_int_equal(c.uid, uid);
	assert_int_equal(c.gid, gid);
	assert_true(has_gid(&c, gid));
	assert_false(has_gid(&c, 0));

	/* group overrides the primary gid, and getgrouplist adds it */
	assert_int_equal(creds_resolve_user(&c, "nobody", "root"), 0);
	assert_int_equal(c.uid, uid);
	assert_int_equal(c.gid, 0);
	assert_true(has_gid(&c, 0));
	creds_free(&c);
}

static void test_resolve_group_only(void **state)
{
	struct creds c;

	(void)state;
	creds_init(&c);
	assert_int_equal(creds_resolve_user(&c, NULL, "root"), 0);
	assert_true(c.uid == CREDS_ID_UNCHANGED);
	assert_int_equal(c.gid, 0);
	assert_true(c.set_groups);
	assert_int_equal(c.ngroups, 0);
	/* a bare gid needs no group entry */
	assert_int_equal(creds_resolve_user(&c, NULL, "4000001"), 0);
	assert_int_equal(c.gid, 4000001);
	creds_free(&c);
}

static void test_resolve_numeric(void **state)
{
	struct creds c;

	(void)state;
	if (getpwuid(4000000))
		skip();
	creds_init(&c);
	/* a uid without passwd entry has no primary group: group is required */
	assert_int_equal(creds_resolve_user(&c, "4000000", NULL), -ENOENT);
	assert_false(c.set_groups);
	assert_int_equal(creds_resolve_user(&c, "4000000", "4000001"), 0);
	assert_int_equal(c.uid, 4000000);
	assert_int_equal(c.gid, 4000001);
	assert_int_equal(c.ngroups, 0);
	assert_true(c.set_groups);
	creds_free(&c);
}

static void test_resolve_unknown(void **state)
{
	struct creds c;

	(void)state;
	creds_init(&c);
	assert_int_equal(creds_resolve_user(&c, "root", NULL), 0);
	assert_int_equal(creds_resolve_user(&c, "no-such-user-nines", NULL), -ENOENT);
	assert_int_equal(creds_resolve_user(&c, "root", "no-such-group-nines"), -ENOENT);
	assert_int_equal(creds_resolve_user(&c, NULL, "no-such-group-nines"), -ENOENT);
	assert_int_equal(creds_resolve_user(&c, "", NULL), -ENOENT);
	/* failures leave the previous resolution alone */
	assert_int_equal(c.uid, 0);
	assert_true(has_gid(&c, 0));
	creds_free(&c);
}

/* A user listed as a member of a group in /etc/group gets it as a supplementary group. */
static void test_resolve_supplementary(void **state)
{
	char user[64] = "", group[64] = "";
	gid_t want = 0;
	struct group *gr;

	(void)state;
	setgrent();
	while (!user[0] && (gr = getgrent()) != NULL) {
		for (char **m = gr->gr_mem; *m; m++) {
			struct passwd *pw = getpwnam(*m);
			if (pw && pw->pw_gid != gr->gr_gid && strlen(*m) < sizeof user) {
				snprintf(user, sizeof user, "%s", *m);
				snprintf(group, sizeof group, "%s", gr->gr_name);
				want = gr->gr_gid;
				break;
			}
		}
	}
	endgrent();
	if (!user[0])
		skip();
	struct creds c;
	creds_init(&c);
	assert_int_equal(creds_resolve_user(&c, user, NULL), 0);
	assert_true(has_gid(&c, want));
	assert_true(has_gid(&c, c.gid));
	creds_free(&c);
}

/* ---------------------------------------------------------------- creds_apply in a child */

/* Value of a hex field ("CapEff") of /proc/self/status text; UINT64_MAX when missing. */
static uint64_t status_hex(const char *text, const char *field)
{
	char key[32];
	snprintf(key, sizeof key, "\n%s:", field);
	const char *p = strstr(text, key);
	return p ? strtoull(p + strlen(key), NULL, 16) : UINT64_MAX;
}

static long status_long(const char *text, const char *field)
{
	char key[32];
	snprintf(key, sizeof key, "\n%s:", field);
	const char *p = strstr(text, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* First number after "Max open files" in /proc/self/limits text (the soft limit). */
static long limits_nofile(const char *text, bool hard)
{
	const char *p = strstr(text, "Max open files");
	char *end;

	if (!p)
		return -1;
	long soft = strtol(p + strlen("Max open files"), &end, 10);
	return hard ? strtol(end, NULL, 10) : soft;
}

/* Reads a whole file into buf (NUL-terminated); the text begins with '\n' so that every field,
 * the first too, is found as "\nName:". */
static void read_text(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\n';
	if (f) {
		n = fread(buf + 1, 1, size - 2, f);
		fclose(f);
	}
	buf[n + 1] = '\0';
}

/* Binds a TCP socket on 127.0.0.1 to a port below 1024: 0 when allowed (EADDRINUSE counts:
 * the permission check comes first), else the errno (EACCES without CAP_NET_BIND_SERVICE). */
static int bind_low_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(1009)};
	int err = 0;

	if (fd < 0)
		return errno;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EADDRINUSE)
		err = errno;
	close(fd);
	return err;
}

struct expect {
	uid_t uid;
	gid_t gid;
	long ngroups;   /* -1: do not check */
	uint64_t caps;  /* CapEff, CapPrm, CapInh, CapAmb */
	uint64_t bound; /* CapBnd */
	long nnp;
	long nofile;    /* soft = hard; -1: do not check */
	long umask;     /* -1: do not check */
	int bind_err;   /* expected bind_low_port() */
};

#define CHECK(cond)                                                                       \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "child check failed: %s (line %d)\n", #cond, __LINE__); \
			return __LINE__ % 200 + 1;                                        \
		}                                                                         \
	} while (0)

/* Checks the process state against x; 0 or a non-zero exit code naming the failed check. */
static int check_self(const struct expect *x)
{
	char st[8192];
	struct rlimit rl;
	gid_t groups[64];
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	read_text("/proc/self/status", st, sizeof st);
	CHECK(getresuid(&ru, &eu, &su) == 0 && ru == x->uid && eu == x->uid && su == x->uid);
	CHECK(getresgid(&rg, &eg, &sg) == 0 && rg == x->gid && eg == x->gid && sg == x->gid);
	CHECK(x->ngroups < 0 || getgroups(64, groups) == x->ngroups);
	CHECK(status_hex(st, "CapEff") == x->caps);
	CHECK(status_hex(st, "CapPrm") == x->caps);
	CHECK(status_hex(st, "CapInh") == x->caps);
	CHECK(status_hex(st, "CapAmb") == x->caps);
	CHECK(status_hex(st, "CapBnd") == x->bound);
	CHECK(status_long(st, "NoNewPrivs") == x->nnp);
	CHECK(x->nofile < 0 || (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (long)rl.rlim_cur == x->nofile &&
				(long)rl.rlim_max == x->nofile));
	mode_t m = umask(0);
	CHECK(x->umask < 0 || (long)m == x->umask);
	CHECK(bind_low_port() == x->bind_err);
	return 0;
}

/* Simulates a nines started with inheritable and ambient capabilities (e.g. by systemd's
 * AmbientCapabilities=): they must not leak into a service that drops to a user. */
static int raise_inherited(void)
{
	cap_t t = cap_get_proc();
	cap_value_t v = CAP_NET_BIND_SERVICE;

	if (!t || cap_set_flag(t, CAP_INHERITABLE, 1, &v, CAP_SET) < 0 || cap_set_proc(t) < 0)
		return -1;
	cap_free(t);
	return cap_set_ambient(v, CAP_SET);
}

/* Forks; the child runs pre (when given), applies c and runs check_self(x). Asserts a clean
 * exit. */
static void run_checked(const struct creds *c, const struct expect *x, int (*pre)(void))
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		enum creds_stage stage;
		if (pre && pre() < 0)
			_exit(249);
		int r = creds_apply(c, &stage);
		if (r < 0) {
			fprintf(stderr, "creds_apply: %s: %s\n", creds_stage_name(stage), strerror(-r));
			_exit(250);
		}
		_exit(check_self(x));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Forks; the child applies c and execs cat on its own status and limits; returns the output
 * (with a leading '\n', see read_text) in buf. */
static void run_exec(const struct creds *c, char *buf, size_t size)
{
	int p[2];
	int status;
	size_t n = 1;

	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		enum creds_stage stage;
		int r = creds_apply(c, &stage);
		if (r < 0) {
			fprintf(stderr, "creds_apply: %s: %s\n", creds_stage_name(stage), strerror(-r));
			_exit(250);
		}
		dup2(p[1], 1);
		execl("/bin/cat", "cat", "/proc/self/status", "/proc/self/limits", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	buf[0] = '\n';
	for (ssize_t got; n < size - 1 && (got = read(p[0], buf + n, size - 1 - n)) > 0;)
		n += (size_t)got;
	buf[n] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Forks; the child applies c and exits with its stage (100 + stage) and errno (in a pipe). */
static void run_failing(const struct creds *c, enum creds_stage want_stage, int want_err)
{
	int p[2], status, err = 0;

	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		enum creds_stage stage = CREDS_STAGE_NONE;
		int r = creds_apply(c, &stage);
		ssize_t w = write(p[1], &r, sizeof r);
		(void)w;
		_exit(r < 0 ? 100 + (int)stage : 0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &err, sizeof err), (ssize_t)sizeof err);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 100 + (int)want_stage);
	assert_int_equal(err, -want_err);
}

static uint64_t own_status_hex(const char *field)
{
	char st[8192];

	read_text("/proc/self/status", st, sizeof st);
	return status_hex(st, field);
}

#define REQUIRE_ROOT()                   \
	do {                             \
		if (geteuid() != 0)      \
			skip();          \
	} while (0)

static void nobody_ids(struct creds *c, struct expect *x)
{
	struct passwd *pw = getpwnam("nobody");

	if (!pw)
		skip();
	creds_init(c);
	assert_int_equal(creds_resolve_user(c, "nobody", NULL), 0);
	x->uid = pw->pw_uid;
	x->gid = pw->pw_gid;
	x->ngroups = (long)c->ngroups;
}

/* The brief's case: user nobody keeping CAP_NET_BIND_SERVICE, rlimit_nofile 123, umask 027. */
static void test_apply_nobody_netbind(void **state)
{
	struct creds c;
	struct expect x = {0};
	char buf[16384];

	(void)state;
	REQUIRE_ROOT();
	if (!(own_status_hex("CapPrm") & NET_BIND_MASK))
		skip();
	nobody_ids(&c, &x);
	assert_int_equal(creds_parse_caps(&c, "CAP_NET_BIND_SERVICE", NULL, 0), 0);
	assert_int_equal(creds_set_rlimit(&c, RLIMIT_NOFILE, 123, 123), 0);
	c.set_umask = true;
	c.umask = 027;
	x.caps = x.bound = NET_BIND_MASK;
	x.nnp = 1;
	x.nofile = 123;
	x.umask = 027;
	x.bind_err = 0;
	run_checked(&c, &x, NULL);

	/* after execve: ambient caps made it into the new program */
	run_exec(&c, buf, sizeof buf);
	assert_int_equal(status_long(buf, "Uid"), (long)x.uid);
	assert_true(status_hex(buf, "CapEff") == NET_BIND_MASK);
	assert_true(status_hex(buf, "CapPrm") == NET_BIND_MASK);
	assert_true(status_hex(buf, "CapAmb") == NET_BIND_MASK);
	assert_true(status_hex(buf, "CapBnd") == NET_BIND_MASK);
	assert_int_equal(status_long(buf, "NoNewPrivs"), 1);
	assert_int_equal(limits_nofile(buf, false), 123);
	assert_int_equal(limits_nofile(buf, true), 123);
	creds_free(&c);
}

/* user without capabilities: plain setuid semantics, nothing left, no_new_privs. */
static void test_apply_nobody_plain(void **state)
{
	struct creds c;
	struct expect x = {0};
	char buf[16384];

	(void)state;
	REQUIRE_ROOT();
	nobody_ids(&c, &x);
	x.caps = 0;
	x.bound = own_status_hex("CapBnd"); /* untouched */
	x.nnp = 1;
	x.nofile = -1;
	x.umask = -1;
	x.bind_err = EACCES;
	run_checked(&c, &x, NULL);
	if (own_status_hex("CapPrm") & NET_BIND_MASK)
		run_checked(&c, &x, raise_inherited);

	run_exec(&c, buf, sizeof buf);
	assert_true(status_hex(buf, "CapEff") == 0);
	assert_true(status_hex(buf, "CapPrm") == 0);
	assert_true(status_hex(buf, "CapAmb") == 0);
	assert_int_equal(status_long(buf, "NoNewPrivs"), 1);
	creds_free(&c);
}

/* root keeping one capability: after execve root gets only what the bounding set allows. */
static void test_apply_root_caps(void **state)
{
	struct creds c;
	char buf[16384];

	(void)state;
	REQUIRE_ROOT();
	if (!(own_status_hex("CapPrm") & NET_BIND_MASK))
		skip();
	creds_init(&c);
	assert_int_equal(creds_parse_caps(&c, "CAP_NET_BIND_SERVICE", NULL, 0), 0);
	run_exec(&c, buf, sizeof buf);
	assert_int_equal(status_long(buf, "Uid"), 0);
	assert_true(status_hex(buf, "CapEff") == NET_BIND_MASK);
	assert_true(status_hex(buf, "CapPrm") == NET_BIND_MASK);
	assert_true(status_hex(buf, "CapBnd") == NET_BIND_MASK);
	assert_int_equal(status_long(buf, "NoNewPrivs"), 1);

	/* an empty list: root without any capability */
	assert_int_equal(creds_parse_caps(&c, "", NULL, 0), 0);
	run_exec(&c, buf, sizeof buf);
	assert_true(status_hex(buf, "CapEff") == 0);
	assert_true(status_hex(buf, "CapPrm") == 0);
	assert_true(status_hex(buf, "CapBnd") == 0);
	creds_free(&c);
}

/* Nothing configured, or only root/group: capabilities and no_new_privs stay as they were. */
static void test_apply_unchanged(void **state)
{
	struct creds c;
	char buf[16384];
	uint64_t eff = own_status_hex("CapEff"), bnd = own_status_hex("CapBnd");

	(void)state;
	REQUIRE_ROOT();
	creds_init(&c);
	run_exec(&c, buf, sizeof buf);
	assert_true(status_hex(buf, "CapEff") == eff);
	assert_true(status_hex(buf, "CapBnd") == bnd);
	assert_int_equal(status_long(buf, "NoNewPrivs"), 0);

	struct group *gr = getgrnam("nogroup");
	if (!gr)
		gr = getgrnam("nobody");
	if (!gr)
		skip();
	gid_t gid = gr->gr_gid;
	assert_int_equal(creds_resolve_user(&c, "root", gr->gr_name), 0);
	run_exec(&c, buf, sizeof buf);
	assert_int_equal(status_long(buf, "Uid"), 0);
	assert_int_equal(status_long(buf, "Gid"), (long)gid);
	assert_true(status_hex(buf, "CapEff") == eff);
	assert_int_equal(status_long(buf, "NoNewPrivs"), 0);
	creds_free(&c);
}

static void test_apply_fail_rlimit(void **state)
{
	struct creds c;

	(void)state;
	REQUIRE_ROOT();
	creds_init(&c);
	/* above fs.nr_open: EPERM even with CAP_SYS_RESOURCE (setrlimit(2)) */
	assert_int_equal(creds_set_rlimit(&c, RLIMIT_NOFILE, 16, UINT64_C(1) << 40), 0);
	run_failing(&c, CREDS_STAGE_RLIMIT, EPERM);
	creds_free(&c);
}

/* Asking for a capability nines does not have fails at the capabilities step. */
static void test_apply_fail_missing_cap(void **state)
{
	struct creds c;
	uint64_t prm = own_status_hex("CapPrm");
	int missing = -1;

	(void)state;
	REQUIRE_ROOT();
	for (int v = 0; v < cap_max_bits() && missing < 0; v++) {
		if (!(prm & (UINT64_C(1) << v)))
			missing = v;
	}
	if (missing < 0)
		skip();
	creds_init(&c);
	c.set_caps = true;
	c.ncaps = 1;
	c.caps[0] = missing;
	run_failing(&c, CREDS_STAGE_CAPS, EPERM);
	creds_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stage_names),
		cmocka_unit_test(test_rlimit_keys),
		cmocka_unit_test(test_set_rlimit),
		cmocka_unit_test(test_parse_caps),
		cmocka_unit_test(test_init_free),
		cmocka_unit_test(test_resolve_root),
		cmocka_unit_test(test_resolve_nobody),
		cmocka_unit_test(test_resolve_group_only),
		cmocka_unit_test(test_resolve_numeric),
		cmocka_unit_test(test_resolve_unknown),
		cmocka_unit_test(test_resolve_supplementary),
		cmocka_unit_test(test_apply_nobody_netbind),
		cmocka_unit_test(test_apply_nobody_plain),
		cmocka_unit_test(test_apply_root_caps),
		cmocka_unit_test(test_apply_unchanged),
		cmocka_unit_test(test_apply_fail_rlimit),
		cmocka_unit_test(test_apply_fail_missing_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
