/* Unit tests for words.c: POSIX-sh-like splitting without expansion. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "words.h"

/* Split s and compare with the NULL-terminated expected list. */
static void check_split(const char *s, const char *const *want)
{
	char **argv = NULL;
	size_t argc = 99, n = 0;
	struct words_error err;

	assert_int_equal(words_split(s, &argv, &argc, &err), 0);
	assert_int_equal(err.status, WORDS_OK);
	while (want[n])
		n++;
	assert_int_equal(argc, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(argv[i], want[i]);
	assert_null(argv[n]);
	words_free(argv);
}

#define SPLIT(s, ...) check_split(s, (const char *const[]){ __VA_ARGS__, NULL })

static void check_error(const char *s, enum words_status st, size_t pos)
{
	char **argv = (char **)(uintptr_t)1;
	struct words_error err;

	assert_int_equal(words_split(s, &argv, NULL, &err), -EINVAL);
	assert_null(argv);
	assert_int_equal(err.status, st);
	assert_int_equal(err.pos, pos);
}

static void test_plain(void **state)
{
	(void)state;
	SPLIT("/usr/bin/python3 bot.py", "/usr/bin/python3", "bot.py");
	SPLIT("  a \t b\n c  ", "a", "b", "c");
	SPLIT("single", "single");
	check_split("x", (const char *const[]){ "x", NULL });
}

static void test_quotes(void **state)
{
	(void)state;
	SPLIT("echo 'hello world'", "echo", "hello world");
	SPLIT("echo \"hello world\"", "echo", "hello world");
	SPLIT("a'b'\"c\"d", "abcd");             /* adjacent parts form one word */
	SPLIT("'' \"\" x", "", "", "x");         /* empty quoted words survive */
	SPLIT("'a \"b\" c'", "a \"b\" c");
	SPLIT("\"it's\"", "it's");
	SPLIT("'back\\slash'", "back\\slash");   /* no escapes in single quotes */
	SPLIT("sh -c 'exec \"$0\" \"$@\"' x", "sh", "-c", "exec \"$0\" \"$@\"", "x");
}

static void test_backslash(void **state)
{
	(void)state;
	SPLIT("a\\ b c", "a b", "c");
	SPLIT("\\'quoted\\'", "'quoted'");
	SPLIT("\\\\", "\\");
	SPLIT("a\\\nb", "ab");                   /* backslash-newline vanishes */
	/* Inside double quotes only $ ` " \ and newline are escaped. */
	SPLIT("\"\\$HOME \\` \\\" \\\\ \\n \\a\"", "$HOME ` \" \\ \\n \\a");
	SPLIT("\"a\\\nb\"", "ab");
}

static void test_no_expansion(void **state)
{
	(void)state;
	SPLIT("echo $HOME ~ *.c $(id) `id` a;b a|b >x #c", "echo", "$HOME", "~", "*.c", "$(id)", "`id`", "a;b",
	      "a|b", ">x", "#c");
}

static void test_errors(void **state)
{
	char **argv;

	(void)state;
	check_error("echo 'abc", WORDS_UNTERMINATED_SINGLE, 5);
	check_error("echo \"abc", WORDS_UNTERMINATED_DOUBLE, 5);
	check_error("a \"b\\\"", WORDS_UNTERMINATED_DOUBLE, 2);
	check_error("echo abc\\", WORDS_TRAILING_BACKSLASH, 8);
	check_error("", WORDS_EMPTY, 0);
	check_error("  \t\n ", WORDS_EMPTY, 0);
	check_error("\\\n", WORDS_EMPTY, 0);
	/* err may be NULL. */
	assert_int_equal(words_split("'", &argv, NULL, NULL), -EINVAL);
	assert_null(argv);
	assert_int_equal(words_split("ok", &argv, NULL, NULL), 0);
	words_free(argv);
	words_free(NULL);
	assert_string_equal(words_strerror(WORDS_UNTERMINATED_SINGLE), "unterminated single quote");
	assert_string_equal(words_strerror(WORDS_EMPTY), "empty command");
	assert_non_null(words_strerror((enum words_status)1000));
}

static void test_long(void **state)
{
	size_t n = 5000;
	char *s = malloc(n * 2 + 1), **argv;
	size_t argc;

	(void)state;
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = 'x';
		s[2 * i + 1] = ' ';
	}
	s[2 * n] = '\0';
	assert_int_equal(words_split(s, &argv, &argc, NULL), 0);
	assert_int_equal(argc, n);
	words_free(argv);
	free(s);
}

static void test_join_roundtrip(void **state)
{
	const char *cases[][5] = {
		{ "plain", "a/b.c", "--x=1", NULL },
		{ "with space", "it's", "", NULL },
		{ "$HOME", "\"q\"", "back\\slash", "tab\there", NULL },
		{ "new\nline", "'", "''", NULL },
	};

	(void)state;
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		char *joined = words_join((char *const *)cases[c]), **argv;
		size_t argc, n = 0;

		assert_non_null(joined);
		assert_int_equal(words_split(joined, &argv, &argc, NULL), 0);
		while (cases[c][n])
			n++;
		assert_int_equal(argc, n);
		for (size_t i = 0; i < n; i++)
			assert_string_equal(argv[i], cases[c][i]);
		words_free(argv);
		free(joined);
	}
	{
		char *j = words_join((char *const[]){ "a", "b c", NULL });

		assert_string_equal(j, "a 'b c'");
		free(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),  cmocka_unit_test(test_quotes),
		cmocka_unit_test(test_backslash), cmocka_unit_test(test_no_expansion),
		cmocka_unit_test(test_errors), cmocka_unit_test(test_long),
		cmocka_unit_test(test_join_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
