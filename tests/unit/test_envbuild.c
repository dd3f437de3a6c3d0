/* Unit tests for envbuild: key validation, env_file line and text parsing (comments, export,
 * quotes, CRLF, BOM, file:line errors that never echo values), merging order (base < env_file <
 * env < nines, later wins, base duplicates first-wins, unset), envp ownership, file errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envbuild.h"

static size_t envp_len(char *const *envp)
{
	size_t n = 0;

	while (envp[n])
		n++;
	return n;
}

/* Parses a NUL-terminated line; returns the parse result and copies key/value into bufs. */
static int line(const char *s, char *k, char *v, const char **why)
{
	const char *key, *val;
	size_t kl = 0, vl = 0;
	int r = envbuild_parse_line(s, strlen(s), &key, &kl, &val, &vl, why);

	k[0] = v[0] = '\0';
	if (r == 1) {
		memcpy(k, key, kl);
		k[kl] = '\0';
		memcpy(v, val, vl);
		v[vl] = '\0';
	}
	return r;
}

static void test_valid_key(void **state)
{
	(void)state;
	assert_true(envbuild_valid_key("A", 1));
	assert_true(envbuild_valid_key("_", 1));
	assert_true(envbuild_valid_key("a_1Z", 4));
	assert_true(envbuild_valid_key("ABC=x", 3));
	assert_false(envbuild_valid_key("", 0));
	assert_false(envbuild_valid_key("1A", 2));
	assert_false(envbuild_valid_key("A-B", 3));
	assert_false(envbuild_valid_key("A.B", 3));
	assert_false(envbuild_valid_key("A B", 3));
	assert_false(envbuild_valid_key("\xc3\xa9", 2));
}

static void test_line_skips(void **state)
{
	char k[64], v[64];
	const char *why = NULL;

	(void)state;
	assert_int_equal(line("", k, v, &why), 0);
	assert_int_equal(line("   \t ", k, v, &why), 0);
	assert_int_equal(line("# comment = x", k, v, &why), 0);
	assert_int_equal(line("   #indented", k, v, &why), 0);
	assert_int_equal(line("\r", k, v, &why), 0);
}

static void test_line_assignments(void **state)
{
	static const struct {
		const char *in, *key, *val;
	} cases[] = {
		{"KEY=VALUE", "KEY", "VALUE"},
		{"  KEY = VALUE  ", "KEY", "VALUE"},
		{"KEY=VALUE\r", "KEY", "VALUE"},
		{"export KEY=v", "KEY", "v"},
		{"export\t  KEY=v", "KEY", "v"},
		{"export=1", "export", "1"},
		{"exportX=1", "exportX", "1"},
		{"KEY=", "KEY", ""},
		{"KEY=\"\"", "KEY", ""},
		{"KEY=a=b=c", "KEY", "a=b=c"},
		{"KEY=x # not a comment", "KEY", "x # not a comment"},
		{"KEY=\"hello world\"", "KEY", "hello world"},
		{"KEY='hello \"w\"'", "KEY", "hello \"w\""},
		{"KEY=\"\"x\"\"", "KEY", "\"x\""},
		{"KEY= \" padded \" ", "KEY", " padded "},
		{"KEY=it's", "KEY", "it's"},
		{"KEY=a\"b\"", "KEY", "a\"b\""},
		{"KEY=$HOME", "KEY", "$HOME"},
		{"_k9=v", "_k9", "v"},
	};
	char k[64], v[64];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *why = NULL;
		assert_int_equal(line(cases[i].in, k, v, &why), 1);
		assert_string_equal(k, cases[i].key);
		assert_string_equal(v, cases[i].val);
	}
}

static void test_line_errors(void **state)
{
	static const char *const bad[] = {
		"NOEQUALS", "export KEY", "=value", "1KEY=v", "A-B=v", "A B=v", "KEY=\"open",
		"KEY='open", "KEY=\"", "KEY='mixed\"", "KEY=\"a\" b",
	};
	char k[64], v[64];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *why = NULL;
		assert_int_equal(line(bad[i], k, v, &why), -EINVAL);
		assert_non_null(why);
		assert_true(strlen(why) > 0);
	}
}

static void test_line_nul(void **state)
{
	const char s[] = "KEY=a\0b";
	const char *key, *val, *why = NULL;
	size_t kl, vl;

	(void)state;
	assert_int_equal(envbuild_parse_line(s, sizeof s - 1, &key, &kl, &val, &vl, &why), -EINVAL);
	assert_non_null(why);
}

static void test_text(void **state)
{
	const char text[] = "\xEF\xBB\xBF# header\n"
			    "\n"
			    "A=1\r\n"
			    "export B='two words'\n"
			    "A=3\n"
			    "C=\"last\""; /* no final newline */
	struct envbuild e;
	struct envbuild_error err = {{0}};

	(void)state;
	envbuild_init(&e);
	assert_int_equal(envbuild_parse_text(&e, "f.env", text, sizeof text - 1, &err), 0);
	char **envp = envbuild_finish(&e);
	assert_non_null(envp);
	assert_int_equal(envp_len(envp), 3);
	assert_string_equal(envp[0], "A=3"); /* replaced in place: first position kept */
	assert_string_equal(envp[1], "B=two words");
	assert_string_equal(envp[2], "C=last");
	envbuild_envp_free(envp);
	assert_int_equal(e.n, 0);
	envbuild_free(&e);
}

static void test_text_error_line(void **state)
{
	const char text[] = "# ok\nA=1\nTOKEN=\"s3cr3t-value\nB=2\n";
	struct envbuild e;
	struct envbuild_error err = {{0}};

	(void)state;
	envbuild_init(&e);
	assert_int_equal(envbuild_parse_text(&e, "/etc/x.env", text, sizeof text - 1, &err), -EINVAL);
	assert_true(strncmp(err.msg, "/etc/x.env:3: ", 14) == 0);
	assert_null(strstr(err.msg, "s3cr3t")); /* values never reach the log */
	envbuild_free(&e);

	const char nul[] = "A=1\nB=x\0y\n";
	envbuild_init(&e);
	assert_int_equal(envbuild_parse_text(&e, "n", nul, sizeof nul - 1, &err), -EINVAL);
	assert_string_equal(err.msg, "n:2: NUL byte in line");
	envbuild_free(&e);

	envbuild_init(&e);
	assert_int_equal(envbuild_parse_text(&e, "m", "A=1\nfoo bar\n", 12, NULL), -EINVAL);
	envbuild_free(&e);
}

static void test_set_put(void **state)
{
	struct envbuild e;

	(void)state;
	envbuild_init(&e);
	assert_int_equal(envbuild_put(&e, "A=1"), 0);
	assert_int_equal(envbuild_put(&e, "B="), 0);
	assert_int_equal(envbuild_put(&e, "A=2"), 0);
	assert_int_equal(envbuild_put(&e, "NOEQ"), -EINVAL);
	assert_int_equal(envbuild_put(&e, "=x"), -EINVAL);
	assert_int_equal(envbuild_put(&e, "BAD-KEY=x"), -EINVAL);
	assert_int_equal(envbuild_set(&e, "AB", 1, "xyz", 2), 0); /* lengths, not NULs */
	assert_int_equal(envbuild_set(&e, "C", 1, "a\0b", 3), -EINVAL);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.vars[0], "A=xy");
	assert_string_equal(e.vars[1], "B=");
	assert_null(e.vars[2]);
	assert_int_equal(envbuild_put(&e, "C=3"), 0);
	envbuild_unset(&e, "A");
	envbuild_unset(&e, "B=");
	envbuild_unset(&e, "MISSING");
	assert_int_equal(e.n, 2);
	assert_string_equal(e.vars[0], "B=");
	assert_string_equal(e.vars[1], "C=3");
	assert_null(e.vars[2]);
	envbuild_unset(&e, "C");
	envbuild_unset(&e, "B");
	assert_int_equal(e.n, 0);
	assert_null(e.vars[0]);
	envbuild_free(&e);
	assert_null(e.vars);
	envbuild_free(&e); /* twice is fine */
}

static void test_many(void **state)
{
	struct envbuild e;
	char buf[32];

	(void)state;
	envbuild_init(&e);
	for (int i = 0; i < 1000; i++) {
		snprintf(buf, sizeof buf, "V%d=%d", i % 500, i);
		assert_int_equal(envbuild_put(&e, buf), 0);
	}
	char **envp = envbuild_finish(&e);
	assert_int_equal(envp_len(envp), 500);
	assert_string_equal(envbuild_get(envp, "V0"), "500");
	assert_string_equal(envbuild_get(envp, "V499"), "999");
	envbuild_envp_free(envp);
}

static void test_base(void **state)
{
	char *const base[] = {"PATH=/bin", "NOEQ", "=x", "HOME=/root", "PATH=/dup", "odd-name=ok",
			      NULL};
	struct envbuild e;

	(void)state;
	envbuild_init(&e);
	assert_int_equal(envbuild_add_base(&e, base), 0);
	assert_int_equal(envbuild_add_base(&e, NULL), 0);
	assert_int_equal(e.n, 3);
	assert_string_equal(e.vars[0], "PATH=/bin"); /* first wins, like getenv */
	assert_string_equal(e.vars[1], "HOME=/root");
	assert_string_equal(e.vars[2], "odd-name=ok"); /* inherited names pass untouched */
	envbuild_free(&e);
}

static void test_finish_empty(void **state)
{
	struct envbuild e;

	(void)state;
	envbuild_init(&e);
	char **envp = envbuild_finish(&e);
	assert_non_null(envp);
	assert_null(envp[0]);
	envbuild_envp_free(envp);
	envbuild_envp_free(NULL);
}

static void test_get(void **state)
{
	char *const envp[] = {"AB=1", "A=2", "ABC=3", NULL};

	(void)state;
	assert_string_equal(envbuild_get(envp, "A"), "2");
	assert_string_equal(envbuild_get(envp, "AB"), "1");
	assert_null(envbuild_get(envp, "B"));
	assert_null(envbuild_get(NULL, "A"));
}

/* Writes text to a new temporary file; returns its malloc'd path. */
static char *temp_file(const char *text, size_t len)
{
	char *path = strdup("/tmp/nines-envbuild-XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		assert_true(w > 0);
		off += (size_t)w;
	}
	close(fd);
	return path;
}

static void test_build_layers(void **state)
{
	const char file[] = "FOO=file\nFILEONLY=1\nexport BAR=\"from file\"\n";
	char *path = temp_file(file, sizeof file - 1);
	char *const base[] = {"FOO=base", "NOTIFY_SOCKET=/run/x", "BAR=base", "KEEP=base", NULL};
	char *const env[] = {"FOO=env", "ENVONLY=x=y", NULL};
	char *const extra[] = {"NINES_SERVICE=bot", "FOO=nines", NULL};
	char *const unset[] = {"NOTIFY_SOCKET", "LISTEN_FDS", NULL};
	struct envbuild_spec spec = {.base = base, .env_file = path, .env = env, .extra = extra, .unset = unset};
	struct envbuild_error err = {{0}};
	char **out = NULL;

	(void)state;
	assert_int_equal(envbuild_build(&spec, &out, &err), 0);
	assert_non_null(out);
	assert_int_equal(envp_len(out), 6);
	assert_string_equal(out[0], "FOO=nines");
	assert_string_equal(out[1], "BAR=from file");
	assert_string_equal(out[2], "KEEP=base");
	assert_string_equal(out[3], "FILEONLY=1");
	assert_string_equal(out[4], "ENVONLY=x=y");
	assert_string_equal(out[5], "NINES_SERVICE=bot");
	assert_null(envbuild_get(out, "NOTIFY_SOCKET"));
	envbuild_envp_free(out);

	struct envbuild_spec none = {0};
	assert_int_equal(envbuild_build(&none, &out, NULL), 0);
	assert_null(out[0]);
	envbuild_envp_free(out);
	unlink(path);
	free(path);
}

static void test_build_errors(void **state)
{
	struct envbuild_error err = {{0}};
	char **out = (char **)&err; /* must be reset to NULL */

	(void)state;
	struct envbuild_spec missing = {.env_file = "/nonexistent/nines.env"};
	assert_int_equal(envbuild_build(&missing, &out, &err), -ENOENT);
	assert_null(out);
	assert_string_equal(err.msg, "/nonexistent/nines.env: No such file or directory");

	struct envbuild_spec dir = {.env_file = "/tmp"};
	assert_int_equal(envbuild_build(&dir, &out, &err), -EINVAL);
	assert_string_equal(err.msg, "/tmp: not a regular file");

	const char bad[] = "A=1\n\nB C=2\n";
	char *path = temp_file(bad, sizeof bad - 1);
	struct envbuild_spec malformed = {.env_file = path};
	char want[256];
	snprintf(want, sizeof want, "%s:3: invalid variable name (allowed: [A-Za-z_][A-Za-z0-9_]*)", path);
	assert_int_equal(envbuild_build(&malformed, &out, &err), -EINVAL);
	assert_null(out);
	assert_string_equal(err.msg, want);
	unlink(path);
	free(path);

	char *const env[] = {"OK=1", "BAD-NAME=secret", NULL};
	struct envbuild_spec badenv = {.env = env};
	assert_int_equal(envbuild_build(&badenv, &out, &err), -EINVAL);
	assert_null(out);
	assert_non_null(strstr(err.msg, "env: invalid assignment 'BAD-NAME=...'"));
	assert_null(strstr(err.msg, "secret"));

	char *const extra[] = {"NOEQUALS", NULL};
	struct envbuild_spec badextra = {.extra = extra};
	assert_int_equal(envbuild_build(&badextra, &out, &err), -EINVAL);
	assert_true(strncmp(err.msg, "nines: ", 7) == 0);
}

static void test_file_size(void **state)
{
	size_t len = ENVBUILD_FILE_MAX + 1;
	char *big = malloc(len);
	struct envbuild e;
	struct envbuild_error err = {{0}};

	(void)state;
	assert_non_null(big);
	memset(big, '#', len);
	char *path = temp_file(big, len);
	envbuild_init(&e);
	assert_int_equal(envbuild_load_file(&e, path, &err), -EFBIG);
	assert_non_null(strstr(err.msg, "larger than"));
	unlink(path);
	free(path);

	/* exactly the maximum is fine: one long comment line */
	path = temp_file(big, len - 1);
	assert_int_equal(envbuild_load_file(&e, path, &err), 0);
	assert_int_equal(e.n, 0);
	unlink(path);
	free(path);
	free(big);
	envbuild_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_key),
		cmocka_unit_test(test_line_skips),
		cmocka_unit_test(test_line_assignments),
		cmocka_unit_test(test_line_errors),
		cmocka_unit_test(test_line_nul),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_text_error_line),
		cmocka_unit_test(test_set_put),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_base),
		cmocka_unit_test(test_finish_empty),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_build_layers),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_file_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
