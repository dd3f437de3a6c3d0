/* Unit tests for statefile: names, set/get, exact format, round trip, tolerant parsing of corrupt
 * and truncated input, and the atomic file I/O in a temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "budget.h"
#include "statefile.h"

#define T0 1700000000000ull

static void test_names(void **state)
{
	char longname[STATEFILE_NAME_MAX + 2];

	(void)state;
	assert_true(statefile_name_valid("bot"));
	assert_true(statefile_name_valid("a-b_c.9"));
	assert_false(statefile_name_valid(""));
	assert_false(statefile_name_valid("Bot"));
	assert_false(statefile_name_valid("a b"));
	assert_false(statefile_name_valid("a/b"));
	assert_false(statefile_name_valid("a=b"));
	memset(longname, 'a', sizeof longname);
	longname[STATEFILE_NAME_MAX] = '\0';
	assert_true(statefile_name_valid(longname));
	longname[STATEFILE_NAME_MAX] = 'a';
	longname[STATEFILE_NAME_MAX + 1] = '\0';
	assert_false(statefile_name_valid(longname));
	assert_string_equal(statefile_want_name(STATEFILE_WANT_UP), "up");
	assert_string_equal(statefile_want_name(STATEFILE_WANT_DOWN), "down");
	assert_string_equal(statefile_want_name(STATEFILE_WANT_COUNT), "?");
}

static void test_set_get(void **state)
{
	struct statefile sf;
	const uint64_t f[] = { T0, T0 + 1 };
	struct statefile_entry *e;

	(void)state;
	statefile_init(&sf);
	assert_null(statefile_get(&sf, "bot"));
	assert_int_equal(statefile_set(&sf, "bot", STATEFILE_WANT_UP, 3, T0, f, 2), 0);
	assert_int_equal(statefile_set(&sf, "B", STATEFILE_WANT_UP, 0, 0, NULL, 0), -EINVAL);
	assert_int_equal(statefile_set(&sf, "x", STATEFILE_WANT_COUNT, 0, 0, NULL, 0), -EINVAL);
	assert_int_equal(statefile_set(&sf, "x", STATEFILE_WANT_UP, 0, 0, f, BUDGET_MAX_LIMIT + 1),
			 -EINVAL);
	e = statefile_get(&sf, "bot");
	assert_non_null(e);
	assert_int_equal(e->restarts, 3);
	assert_int_equal(e->last_restart_ms, T0);
	assert_int_equal(e->n_failures, 2);
	assert_int_equal(e->failures[1], T0 + 1);
	/* replace keeps one entry */
	assert_int_equal(statefile_set(&sf, "bot", STATEFILE_WANT_DOWN, 4, 0, NULL, 0), 0);
	assert_int_equal(sf.n, 1);
	e = statefile_get(&sf, "bot");
	assert_int_equal(e->want, STATEFILE_WANT_DOWN);
	assert_int_equal(e->n_failures, 0);
	assert_null(e->failures);
	for (int i = 0; i < 50; i++) { /* growth */
		char name[16];

		snprintf(name, sizeof name, "svc%d", i);
		assert_int_equal(statefile_set(&sf, name, STATEFILE_WANT_UP, (uint64_t)i, 0, f, 1), 0);
	}
	assert_int_equal(sf.n, 51);
	assert_int_equal(statefile_get(&sf, "svc49")->restarts, 49);
	assert_null(statefile_get(&sf, "svc50"));
	assert_int_equal(statefile_remove(&sf, "svc0"), 0);
	assert_int_equal(statefile_remove(&sf, "svc0"), -ENOENT);
	assert_int_equal(statefile_remove(&sf, "svc49"), 0); /* the one moved into the gap */
	assert_int_equal(sf.n, 49);
	assert_null(statefile_get(&sf, "svc0"));
	assert_int_equal(statefile_get(&sf, "svc48")->restarts, 48);
	assert_int_equal(statefile_get(&sf, "bot")->want, STATEFILE_WANT_DOWN);
	statefile_free(&sf);
	assert_int_equal(sf.n, 0);
	statefile_free(&sf);
}

static const char expect_text[] =
	"nines-state 1\n"
	"# service NAME want=up|down restarts=N last_restart=MS failures=MS,... (MS: wall-clock ms)\n"
	"service bot want=up restarts=12 last_restart=1700000005000 "
	"failures=1700000000000,1700000005000\n"
	"service b want=down restarts=0 last_restart=0 failures=\n"
	"service max want=up restarts=18446744073709551615 last_restart=18446744073709551615 "
	"failures=0,18446744073709551615\n";

static void fill(struct statefile *sf)
{
	const uint64_t f1[] = { T0, T0 + 5000 }, f3[] = { 0, UINT64_MAX };

	statefile_init(sf);
	assert_int_equal(statefile_set(sf, "bot", STATEFILE_WANT_UP, 12, T0 + 5000, f1, 2), 0);
	assert_int_equal(statefile_set(sf, "b", STATEFILE_WANT_DOWN, 0, 0, NULL, 0), 0);
	assert_int_equal(statefile_set(sf, "max", STATEFILE_WANT_UP, UINT64_MAX, UINT64_MAX, f3, 2),
			 0);
}

static void assert_same(const struct statefile *a, const struct statefile *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct statefile_entry *x = &a->v[i], *y = statefile_get(b, x->name);

		assert_non_null(y);
		assert_int_equal(x->want, y->want);
		assert_int_equal(x->restarts, y->restarts);
		assert_int_equal(x->last_restart_ms, y->last_restart_ms);
		assert_int_equal(x->n_failures, y->n_failures);
		for (size_t k = 0; k < x->n_failures; k++)
			assert_int_equal(x->failures[k], y->failures[k]);
	}
}

static void test_format_exact(void **state)
{
	struct statefile sf;
	char *text = NULL;
	size_t len = 0;

	(void)state;
	fill(&sf);
	assert_int_equal(statefile_format(&sf, &text, &len), 0);
	assert_string_equal(text, expect_text);
	assert_int_equal(len, strlen(expect_text));
	free(text);
	statefile_free(&sf);

	statefile_init(&sf); /* empty set: just the header */
	assert_int_equal(statefile_format(&sf, &text, &len), 0);
	assert_int_equal(strncmp(text, "nines-state 1\n", 14), 0);
	free(text);
}

static void test_round_trip(void **state)
{
	struct statefile a, b;
	char *text;
	size_t len;
	char warn[256];

	(void)state;
	fill(&a);
	statefile_init(&b);
	assert_int_equal(statefile_format(&a, &text, &len), 0);
	assert_int_equal(statefile_parse(&b, text, len, warn, sizeof warn), 0);
	assert_string_equal(warn, "");
	assert_same(&a, &b);
	free(text);
	statefile_free(&a);
	statefile_free(&b);
}

static void test_round_trip_max_failures(void **state)
{
	struct statefile a, b;
	uint64_t *f = malloc(BUDGET_MAX_LIMIT * sizeof *f);
	char *text;
	size_t len;
	char warn[64];

	(void)state;
	assert_non_null(f);
	for (uint32_t i = 0; i < BUDGET_MAX_LIMIT; i++)
		f[i] = T0 + i;
	statefile_init(&a);
	statefile_init(&b);
	assert_int_equal(statefile_set(&a, "big", STATEFILE_WANT_UP, 1, 0, f, BUDGET_MAX_LIMIT), 0);
	assert_int_equal(statefile_format(&a, &text, &len), 0);
	assert_int_equal(statefile_parse(&b, text, len, warn, sizeof warn), 0);
	assert_string_equal(warn, "");
	assert_same(&a, &b);
	free(text);
	free(f);
	statefile_free(&a);
	statefile_free(&b);
}

static void test_parse_tolerant_syntax(void **state)
{
	static const char text[] = "nines-state 1\r\n"
				   "\n"
				   "   # indented comment\n"
				   "\t\n"
				   "service a\n"
				   "service b   failures=30,10,20\trestarts=7  want=down last_restart=9\r\n";
	struct statefile sf;
	struct statefile_entry *e;
	char warn[128];

	(void)state;
	statefile_init(&sf);
	assert_int_equal(statefile_parse(&sf, text, sizeof text - 1, warn, sizeof warn), 0);
	assert_string_equal(warn, "");
	assert_int_equal(sf.n, 2);
	e = statefile_get(&sf, "a"); /* defaults */
	assert_int_equal(e->want, STATEFILE_WANT_UP);
	assert_int_equal(e->restarts, 0);
	assert_int_equal(e->n_failures, 0);
	e = statefile_get(&sf, "b");
	assert_int_equal(e->want, STATEFILE_WANT_DOWN);
	assert_int_equal(e->restarts, 7);
	assert_int_equal(e->last_restart_ms, 9);
	assert_int_equal(e->n_failures, 3);
	assert_int_equal(e->failures[0], 10); /* sorted */
	assert_int_equal(e->failures[2], 30);
	statefile_free(&sf);
}

static void test_parse_corrupt(void **state)
{
	static const char text[] =
		"nines-state 1\n"
		"garbage here\n"                                   /* 2 unknown record */
		"service Bad want=down\n"                          /* 3 bad name: skipped */
		"service c want=sideways restarts=5\n"            /* 4 bad want: up, restarts kept */
		"service d restarts=18446744073709551616\n"       /* 5 overflow */
		"service e restarts=-1 want=down\n"               /* 6 negative */
		"service f failures=1,,2 want=down\n"             /* 7 bad list */
		"service g failures=1,x restarts=2 last_restart=z\n" /* 8 bad list */
		"service h color=blue novalue want=down\n"        /* 9 unknown field, no '=' */
		"service c restarts=9\n"                           /* 10 duplicate: wins */
		"service\n"                                        /* 11 no name */
		"service i want=down\n";
	struct statefile sf;
	struct statefile_entry *e;
	char warn[2048];

	(void)state;
	statefile_init(&sf);
	assert_int_equal(statefile_parse(&sf, text, sizeof text - 1, warn, sizeof warn), 0);
	assert_non_null(strstr(warn, "line 2: unknown record 'garbage'"));
	assert_non_null(strstr(warn, "line 3: bad service name 'Bad'"));
	assert_non_null(strstr(warn, "line 4: bad want 'sideways'"));
	assert_non_null(strstr(warn, "line 5: bad restarts"));
	assert_non_null(strstr(warn, "line 6: bad restarts '-1'"));
	assert_non_null(strstr(warn, "line 7: bad failures"));
	assert_non_null(strstr(warn, "line 8: bad failures"));
	assert_non_null(strstr(warn, "line 8: bad last_restart 'z'"));
	assert_non_null(strstr(warn, "line 9: unknown field 'color'"));
	assert_non_null(strstr(warn, "line 9: field 'novalue' is not key=value"));
	assert_non_null(strstr(warn, "line 10: duplicate service 'c'"));
	assert_non_null(strstr(warn, "line 11: bad service name"));
	assert_null(strstr(warn, "line 12"));
	assert_null(statefile_get(&sf, "Bad"));
	assert_int_equal(sf.n, 7); /* c d e f g h i */
	e = statefile_get(&sf, "c");
	assert_int_equal(e->restarts, 9);
	assert_int_equal(e->want, STATEFILE_WANT_UP);
	assert_int_equal(statefile_get(&sf, "d")->restarts, 0);
	assert_int_equal(statefile_get(&sf, "e")->want, STATEFILE_WANT_DOWN);
	e = statefile_get(&sf, "f");
	assert_int_equal(e->want, STATEFILE_WANT_DOWN); /* the good fields of a line survive */
	assert_int_equal(e->n_failures, 0);
	assert_int_equal(statefile_get(&sf, "g")->restarts, 2);
	assert_int_equal(statefile_get(&sf, "h")->want, STATEFILE_WANT_DOWN);
	assert_int_equal(statefile_get(&sf, "i")->want, STATEFILE_WANT_DOWN);
	statefile_free(&sf);
}

static void test_parse_header(void **state)
{
	static const char newer[] = "nines-state 2\nservice a want=down\n";
	static const char none[] = "service a want=down\nservice b\n";
	static const char bad[] = "nines-state x\nservice a want=down\n";
	static const char empty[] = "";
	struct statefile sf;
	char warn[256];

	(void)state;
	statefile_init(&sf);
	assert_int_equal(statefile_parse(&sf, newer, sizeof newer - 1, warn, sizeof warn), 0);
	assert_non_null(strstr(warn, "line 1: version 2 is newer than 1, state ignored"));
	assert_int_equal(sf.n, 0);
	/* a lost header does not cost line 1 */
	assert_int_equal(statefile_parse(&sf, none, sizeof none - 1, warn, sizeof warn), 0);
	assert_non_null(strstr(warn, "line 1: missing header"));
	assert_int_equal(sf.n, 2);
	assert_int_equal(statefile_get(&sf, "a")->want, STATEFILE_WANT_DOWN);
	assert_int_equal(statefile_parse(&sf, bad, sizeof bad - 1, warn, sizeof warn), 0);
	assert_non_null(strstr(warn, "line 1: bad header"));
	assert_int_equal(sf.n, 1);
	assert_int_equal(statefile_parse(&sf, empty, 0, warn, sizeof warn), 0);
	assert_non_null(strstr(warn, "empty"));
	assert_int_equal(sf.n, 0);
	statefile_free(&sf);
}

static void test_parse_truncated_everywhere(void **state)
{
	/* a file cut at any byte: never a crash, and whatever survives is exact (a cut line is
	 * skipped, never read as a shorter number) */
	struct statefile full, part;
	size_t len = strlen(expect_text);
	char warn[256];

	(void)state;
	fill(&full);
	statefile_init(&part);
	for (size_t cut = 0; cut <= len; cut++) {
		assert_int_equal(statefile_parse(&part, expect_text, cut, warn, sizeof warn), 0);
		for (size_t i = 0; i < part.n; i++) {
			const struct statefile_entry *x = &part.v[i], *y = statefile_get(&full, x->name);

			assert_non_null(y);
			assert_int_equal(x->want, y->want);
			assert_int_equal(x->restarts, y->restarts);
			assert_int_equal(x->last_restart_ms, y->last_restart_ms);
			assert_int_equal(x->n_failures, y->n_failures);
		}
		if (cut > 0 && cut < len && expect_text[cut - 1] != '\n')
			assert_non_null(strstr(warn, "truncated"));
	}
	assert_string_equal(warn, "");
	assert_same(&full, &part);
	statefile_free(&full);
	statefile_free(&part);
}

static void test_parse_binary_garbage(void **state)
{
	struct statefile sf;
	char buf[4096], warn[512];
	uint32_t s = 12345;

	(void)state;
	statefile_init(&sf);
	for (int round = 0; round < 300; round++) {
		size_t n = (size_t)round * 13 % sizeof buf;

		for (size_t i = 0; i < n; i++) {
			s ^= s << 13;
			s ^= s >> 17;
			s ^= s << 5;
			/* mostly format-like bytes, with NULs, control and high bytes */
			buf[i] = (s & 7) == 0 ? (char)(s >> 8) : "service ab=want,up 0123\n"[s % 24];
		}
		assert_int_equal(statefile_parse(&sf, buf, n, warn, sizeof warn), 0);
		for (size_t k = 0; k < strlen(warn); k++) /* no control characters reach the log */
			assert_true(warn[k] >= 0x20 && warn[k] < 0x7f);
	}
	/* NUL inside a name */
	memcpy(buf, "nines-state 1\nservice a\0b want=down\n", 36);
	assert_int_equal(statefile_parse(&sf, buf, 36, warn, sizeof warn), 0);
	assert_int_equal(sf.n, 0);
	assert_non_null(strstr(warn, "line 2: bad service name 'a?b'"));
	statefile_free(&sf);
}

static void test_parse_too_many_failures(void **state)
{
	const size_t n = BUDGET_MAX_LIMIT + 5;
	char *text = malloc(64 + n * 8), *p = text;
	struct statefile sf;
	struct statefile_entry *e;
	char warn[256];

	(void)state;
	assert_non_null(text);
	p += sprintf(p, "nines-state 1\nservice x failures=");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%zu", i ? "," : "", n - i); /* descending: sorted on parse */
	p += sprintf(p, "\n");
	statefile_init(&sf);
	assert_int_equal(statefile_parse(&sf, text, (size_t)(p - text), warn, sizeof warn), 0);
	assert_non_null(strstr(warn, "keeping the newest 100000"));
	e = statefile_get(&sf, "x");
	assert_int_equal(e->n_failures, BUDGET_MAX_LIMIT);
	assert_int_equal(e->failures[0], 6);
	assert_int_equal(e->failures[BUDGET_MAX_LIMIT - 1], n);
	free(text);
	statefile_free(&sf);
}

static void test_warn_buffer_small(void **state)
{
	static const char text[] = "x\ny\nz\n";
	struct statefile sf;
	char warn[8];

	(void)state;
	statefile_init(&sf);
	assert_int_equal(statefile_parse(&sf, text, sizeof text - 1, NULL, 0), 0);
	for (size_t size = 1; size <= sizeof warn; size++) {
		memset(warn, 'Z', sizeof warn);
		assert_int_equal(statefile_parse(&sf, text, sizeof text - 1, warn, size), 0);
		assert_true(strlen(warn) < size);
	}
	assert_string_equal(warn, "line 1:");
	statefile_free(&sf);
}

static void test_path(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(statefile_path(buf, sizeof buf, "/var/lib/nines"), 0);
	assert_string_equal(buf, "/var/lib/nines/state");
	assert_int_equal(statefile_path(buf, sizeof buf, "/var/lib/nines//"), 0);
	assert_string_equal(buf, "/var/lib/nines/state");
	assert_int_equal(statefile_path(buf, sizeof buf, "/"), 0);
	assert_string_equal(buf, "/state");
	assert_int_equal(statefile_path(buf, sizeof buf, ""), -EINVAL);
	assert_int_equal(statefile_path(buf, 10, "/var/lib/nines"), -ENAMETOOLONG);
}

/* ---------- file I/O in a temp dir ---------- */

struct tmp {
	char dir[64];
	char path[128];
};

static int setup_dir(void **state)
{
	struct tmp *t = calloc(1, sizeof *t);

	if (!t)
		return -1;
	strcpy(t->dir, "/tmp/nines-statefile-XXXXXX");
	if (!mkdtemp(t->dir) || statefile_path(t->path, sizeof t->path, t->dir) < 0) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown_dir(void **state)
{
	struct tmp *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		return -1;
	free(t);
	return 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 1 << 16);

	assert_non_null(f);
	assert_non_null(buf);
	assert_true(fread(buf, 1, (1 << 16) - 1, f) < (1 << 16) - 1);
	fclose(f);
	return buf;
}

static void test_io_save_load(void **state)
{
	struct tmp *t = *state;
	struct statefile a, b;
	char warn[128], tmpname[160];
	struct stat st;
	char *text;

	fill(&a);
	statefile_init(&b);
	assert_int_equal(statefile_load(t->path, &b, warn, sizeof warn), -ENOENT);
	assert_int_equal(b.n, 0);
	assert_int_equal(statefile_save(t->path, &a), 0);
	text = slurp(t->path);
	assert_string_equal(text, expect_text);
	free(text);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(tmpname, sizeof tmpname, "%s.tmp", t->path);
	assert_int_equal(access(tmpname, F_OK), -1); /* renamed away, no litter */
	assert_int_equal(statefile_load(t->path, &b, warn, sizeof warn), 0);
	assert_string_equal(warn, "");
	assert_same(&a, &b);

	/* overwrite: P12, B stays down across a restart of nines, unknown services are dropped */
	statefile_free(&a);
	statefile_init(&a);
	assert_int_equal(statefile_set(&a, "b", STATEFILE_WANT_DOWN, 1, T0, NULL, 0), 0);
	assert_int_equal(statefile_save(t->path, &a), 0);
	assert_int_equal(statefile_load(t->path, &b, warn, sizeof warn), 0);
	assert_int_equal(b.n, 1);
	assert_int_equal(statefile_get(&b, "b")->want, STATEFILE_WANT_DOWN);
	assert_null(statefile_get(&b, "bot"));
	statefile_free(&a);
	statefile_free(&b);
}

static void test_io_stale_tmp_and_symlink(void **state)
{
	struct tmp *t = *state;
	struct statefile a, b;
	char tmpname[160], target[160], warn[64];
	struct stat st;
	FILE *f;
	char *text;

	fill(&a);
	statefile_init(&b);
	snprintf(tmpname, sizeof tmpname, "%s.tmp", t->path);
	/* a stale temp file from a crash is simply overwritten, mode included */
	f = fopen(tmpname, "w");
	assert_non_null(f);
	fputs("half-written junk that is longer than nothing at all", f);
	fclose(f);
	assert_int_equal(chmod(tmpname, 0666), 0);
	assert_int_equal(statefile_save(t->path, &a), 0);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(statefile_load(t->path, &b, warn, sizeof warn), 0);
	assert_same(&a, &b);
	/* a symlink planted as the temp file is not followed */
	snprintf(target, sizeof target, "%s/victim", t->dir);
	f = fopen(target, "w");
	assert_non_null(f);
	fputs("keep\n", f);
	fclose(f);
	assert_int_equal(symlink(target, tmpname), 0);
	assert_int_equal(statefile_save(t->path, &a), -ELOOP);
	text = slurp(target);
	assert_string_equal(text, "keep\n");
	free(text);
	assert_int_equal(unlink(tmpname), 0);
	statefile_free(&a);
	statefile_free(&b);
}

static void test_io_errors(void **state)
{
	struct tmp *t = *state;
	struct statefile a, b;
	char path[192], warn[64];
	FILE *f;

	fill(&a);
	statefile_init(&b);
	snprintf(path, sizeof path, "%s/missing/state", t->dir);
	assert_int_equal(statefile_save(path, &a), -ENOENT);
	assert_int_equal(statefile_load(t->dir, &b, warn, sizeof warn), -EINVAL); /* a directory */
	snprintf(path, sizeof path, "%s/fifo", t->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(statefile_load(path, &b, warn, sizeof warn), -EINVAL); /* no hang */
	/* a truncated file on disk loads what is whole and says so */
	snprintf(path, sizeof path, "%s/cut", t->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(expect_text, 1, strlen(expect_text) - 10, f);
	fclose(f);
	assert_int_equal(statefile_load(path, &b, warn, sizeof warn), 0);
	assert_non_null(strstr(warn, "line 5: truncated"));
	assert_int_equal(b.n, 2);
	assert_int_equal(statefile_get(&b, "b")->want, STATEFILE_WANT_DOWN);
	/* relative path: fsync of "." */
	assert_int_equal(chdir(t->dir), 0);
	assert_int_equal(statefile_save("rel", &a), 0);
	assert_int_equal(statefile_load("rel", &b, warn, sizeof warn), 0);
	assert_same(&a, &b);
	assert_int_equal(chdir("/"), 0);
	statefile_free(&a);
	statefile_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_set_get),
		cmocka_unit_test(test_format_exact),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_max_failures),
		cmocka_unit_test(test_parse_tolerant_syntax),
		cmocka_unit_test(test_parse_corrupt),
		cmocka_unit_test(test_parse_header),
		cmocka_unit_test(test_parse_truncated_everywhere),
		cmocka_unit_test(test_parse_binary_garbage),
		cmocka_unit_test(test_parse_too_many_failures),
		cmocka_unit_test(test_warn_buffer_small),
		cmocka_unit_test(test_path),
		cmocka_unit_test_setup_teardown(test_io_save_load, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_io_stale_tmp_and_symlink, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_io_errors, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
