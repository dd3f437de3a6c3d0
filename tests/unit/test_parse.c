/* Unit tests for parse.c: value syntaxes, bounds and overflow. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "parse.h"

static uint64_t dur(const char *s)
{
	uint64_t v = 12345;

	assert_int_equal(parse_duration_ms(s, &v), 0);
	return v;
}

static void dur_bad(const char *s)
{
	uint64_t v = 777;

	assert_int_equal(parse_duration_ms(s, &v), -EINVAL);
	assert_int_equal(v, 777); /* untouched on error */
}

static void test_duration(void **state)
{
	(void)state;
	assert_int_equal(dur("0"), 0);
	assert_int_equal(dur("10"), 10000);
	assert_int_equal(dur("100ms"), 100);
	assert_int_equal(dur("30s"), 30000);
	assert_int_equal(dur("5m"), 300000);
	assert_int_equal(dur("2h"), 7200000);
	assert_int_equal(dur("1d"), 86400000);
	assert_int_equal(dur("1.5s"), 1500);
	assert_int_equal(dur("1.5"), 1500);
	assert_int_equal(dur("0.25m"), 15000);
	assert_int_equal(dur("1.0005s"), 1000); /* sub-ms truncated */
	assert_int_equal(dur("1h30m"), 5400000);
	assert_int_equal(dur("1h 30m 15s"), 5415000);
	assert_int_equal(dur("  45s  "), 45000);
	assert_int_equal(dur("18446744073709551615ms"), UINT64_MAX);
	dur_bad("");
	dur_bad("   ");
	dur_bad("s");
	dur_bad("1x");
	dur_bad("-1s");
	dur_bad("+1s");
	dur_bad("1.s");
	dur_bad(".5s");
	dur_bad("1h30"); /* bare number only on its own */
	dur_bad("1 s");
	dur_bad("10sec");
	dur_bad("1S");
	dur_bad("1.1234567891s"); /* more than 9 fraction digits */
	dur_bad("18446744073709551616ms"); /* > UINT64_MAX */
	dur_bad("18446744073709551615s");  /* overflow when scaled */
	dur_bad("213503982335d");          /* * 86400000 overflows */
	dur_bad("18446744073709551615ms 1ms"); /* sum overflows */
	dur_bad("0x10s");
}

static void test_size(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("10M", &v), 0);
	assert_int_equal(v, 10 * 1024 * 1024);
	assert_int_equal(parse_size("512k", &v), 0);
	assert_int_equal(v, 512 * 1024);
	assert_int_equal(parse_size("1G", &v), 0);
	assert_int_equal(v, 1024ULL * 1024 * 1024);
	assert_int_equal(parse_size("2T", &v), 0);
	assert_int_equal(v, 2ULL << 40);
	assert_int_equal(parse_size("1.5K", &v), 0);
	assert_int_equal(v, 1536);
	assert_int_equal(parse_size("1MiB", &v), 0);
	assert_int_equal(v, 1 << 20);
	assert_int_equal(parse_size("3KB", &v), 0);
	assert_int_equal(v, 3072);
	assert_int_equal(parse_size("7B", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_size("18446744073709551615", &v), 0);
	assert_int_equal(v, UINT64_MAX);
	v = 99;
	assert_int_equal(parse_size("", &v), -EINVAL);
	assert_int_equal(parse_size("M", &v), -EINVAL);
	assert_int_equal(parse_size("10X", &v), -EINVAL);
	assert_int_equal(parse_size("10 M", &v), -EINVAL);
	assert_int_equal(parse_size("-1", &v), -EINVAL);
	assert_int_equal(parse_size("1.5", &v), -EINVAL); /* fractional bytes */
	assert_int_equal(parse_size("16777216T", &v), -EINVAL); /* 2^64 */
	assert_int_equal(parse_size("18446744073709551616", &v), -EINVAL);
	assert_int_equal(v, 99);
}

static void test_percent_uint_bool(void **state)
{
	unsigned p = 7;
	uint64_t u = 0;
	bool b = false;

	(void)state;
	assert_int_equal(parse_percent("20%", &p), 0);
	assert_int_equal(p, 20);
	assert_int_equal(parse_percent("0", &p), 0);
	assert_int_equal(p, 0);
	assert_int_equal(parse_percent("100%", &p), 0);
	assert_int_equal(p, 100);
	assert_int_equal(parse_percent("101%", &p), -EINVAL);
	assert_int_equal(parse_percent("%", &p), -EINVAL);
	assert_int_equal(parse_percent("-5%", &p), -EINVAL);
	assert_int_equal(parse_percent("2.5%", &p), -EINVAL);
	assert_int_equal(parse_percent("20%%", &p), -EINVAL);
	assert_int_equal(p, 100);

	assert_int_equal(parse_uint("42", 100, &u), 0);
	assert_int_equal(u, 42);
	assert_int_equal(parse_uint("101", 100, &u), -EINVAL);
	assert_int_equal(parse_uint("18446744073709551615", UINT64_MAX, &u), 0);
	assert_int_equal(u, UINT64_MAX);
	assert_int_equal(parse_uint("18446744073709551616", UINT64_MAX, &u), -EINVAL);
	assert_int_equal(parse_uint("", 5, &u), -EINVAL);
	assert_int_equal(parse_uint("4k", 9999, &u), -EINVAL);

	for (const char *const *t = (const char *const[]){ "yes", "TRUE", "on", "1", " Yes ", NULL }; *t; t++) {
		b = false;
		assert_int_equal(parse_bool(*t, &b), 0);
		assert_true(b);
	}
	for (const char *const *t = (const char *const[]){ "no", "False", "OFF", "0", NULL }; *t; t++) {
		b = true;
		assert_int_equal(parse_bool(*t, &b), 0);
		assert_false(b);
	}
	assert_int_equal(parse_bool("y", &b), -EINVAL);
	assert_int_equal(parse_bool("", &b), -EINVAL);
	assert_int_equal(parse_bool("2", &b), -EINVAL);
	assert_int_equal(parse_bool("yess", &b), -EINVAL);
}

static void test_signal(void **state)
{
	int s = 0;

	(void)state;
	assert_int_equal(parse_signal("TERM", &s), 0);
	assert_int_equal(s, SIGTERM);
	assert_int_equal(parse_signal("SIGTERM", &s), 0);
	assert_int_equal(s, SIGTERM);
	assert_int_equal(parse_signal("sigint", &s), 0);
	assert_int_equal(s, SIGINT);
	assert_int_equal(parse_signal("hup", &s), 0);
	assert_int_equal(s, SIGHUP);
	assert_int_equal(parse_signal("15", &s), 0);
	assert_int_equal(s, 15);
	assert_int_equal(parse_signal("KILL", &s), 0);
	assert_int_equal(s, SIGKILL);
	assert_int_equal(parse_signal("USR1", &s), 0);
	assert_int_equal(s, SIGUSR1);
	assert_int_equal(parse_signal("SIGIO", &s), 0);
	assert_int_equal(s, SIGIO);
	assert_int_equal(parse_signal("RTMIN", &s), 0);
	assert_int_equal(s, SIGRTMIN);
	assert_int_equal(parse_signal("SIGRTMIN+2", &s), 0);
	assert_int_equal(s, SIGRTMIN + 2);
	assert_int_equal(parse_signal("RTMAX-1", &s), 0);
	assert_int_equal(s, SIGRTMAX - 1);
	s = 99;
	assert_int_equal(parse_signal("0", &s), -EINVAL);
	assert_int_equal(parse_signal("65", &s), SIGRTMAX >= 65 ? 0 : -EINVAL);
	s = 99;
	assert_int_equal(parse_signal("TERMINATE", &s), -EINVAL);
	assert_int_equal(parse_signal("SIG", &s), -EINVAL);
	assert_int_equal(parse_signal("", &s), -EINVAL);
	assert_int_equal(parse_signal("-15", &s), -EINVAL);
	assert_int_equal(parse_signal("RTMIN+999", &s), -EINVAL);
	assert_int_equal(parse_signal("RTMIN-1", &s), -EINVAL);
	assert_int_equal(parse_signal("99999999999999999999", &s), -EINVAL);
	assert_int_equal(s, 99);
}

static void test_umask(void **state)
{
	mode_t m = 0;

	(void)state;
	assert_int_equal(parse_umask("022", &m), 0);
	assert_int_equal(m, 022);
	assert_int_equal(parse_umask("0027", &m), 0);
	assert_int_equal(m, 027);
	assert_int_equal(parse_umask("7", &m), 0);
	assert_int_equal(m, 07);
	assert_int_equal(parse_umask("0777", &m), 0);
	assert_int_equal(m, 0777);
	assert_int_equal(parse_umask("1777", &m), -EINVAL);
	assert_int_equal(parse_umask("08", &m), -EINVAL);
	assert_int_equal(parse_umask("00022", &m), -EINVAL);
	assert_int_equal(parse_umask("", &m), -EINVAL);
	assert_int_equal(parse_umask("u=rwx", &m), -EINVAL);
}

static void test_exit_codes(void **state)
{
	struct parse_exit_codes c;

	(void)state;
	assert_int_equal(parse_exit_codes("78, 3 4", &c), 0);
	assert_true(parse_exit_codes_has(&c, 78));
	assert_true(parse_exit_codes_has(&c, 3));
	assert_true(parse_exit_codes_has(&c, 4));
	assert_false(parse_exit_codes_has(&c, 0));
	assert_false(parse_exit_codes_has(&c, -1));
	assert_false(parse_exit_codes_has(&c, 256));
	assert_int_equal(parse_exit_codes_count(&c), 3);
	assert_int_equal(parse_exit_codes("0,255,64,63,127,128", &c), 0);
	assert_int_equal(parse_exit_codes_count(&c), 6);
	assert_true(parse_exit_codes_has(&c, 255));
	assert_true(parse_exit_codes_has(&c, 63));
	assert_true(parse_exit_codes_has(&c, 64));
	assert_int_equal(parse_exit_codes("", &c), 0);
	assert_int_equal(parse_exit_codes_count(&c), 0);
	assert_int_equal(parse_exit_codes("1,,2 ,", &c), 0);
	assert_int_equal(parse_exit_codes_count(&c), 2);
	assert_int_equal(parse_exit_codes("256", &c), -EINVAL);
	assert_int_equal(parse_exit_codes("1,x", &c), -EINVAL);
	assert_int_equal(parse_exit_codes("-1", &c), -EINVAL);
	assert_int_equal(parse_exit_codes_count(&c), 2); /* untouched */
}

static void test_rate(void **state)
{
	struct parse_rate r = { 0, 0 };

	(void)state;
	assert_int_equal(parse_rate("900/24h", &r), 0);
	assert_int_equal(r.count, 900);
	assert_int_equal(r.window_ms, 24ULL * 3600 * 1000);
	assert_int_equal(parse_rate("5 / 10m", &r), 0);
	assert_int_equal(r.count, 5);
	assert_int_equal(r.window_ms, 600000);
	assert_int_equal(parse_rate("4294967295/1", &r), 0);
	assert_int_equal(r.count, UINT32_MAX);
	assert_int_equal(parse_rate("4294967296/1", &r), -EINVAL);
	assert_int_equal(parse_rate("0/1h", &r), -EINVAL);
	assert_int_equal(parse_rate("10/0s", &r), -EINVAL);
	assert_int_equal(parse_rate("10", &r), -EINVAL);
	assert_int_equal(parse_rate("/1h", &r), -EINVAL);
	assert_int_equal(parse_rate("10/", &r), -EINVAL);
	assert_int_equal(parse_rate("10/1x", &r), -EINVAL);
	assert_int_equal(r.count, UINT32_MAX);
}

static void test_http_ranges(void **state)
{
	struct parse_http_ranges h;

	(void)state;
	assert_int_equal(parse_http_ranges("200-399", &h), 0);
	assert_int_equal(h.n, 1);
	assert_true(parse_http_ranges_match(&h, 200));
	assert_true(parse_http_ranges_match(&h, 399));
	assert_false(parse_http_ranges_match(&h, 400));
	assert_false(parse_http_ranges_match(&h, 199));
	assert_int_equal(parse_http_ranges("200,204,301-302", &h), 0);
	assert_int_equal(h.n, 3);
	assert_true(parse_http_ranges_match(&h, 204));
	assert_true(parse_http_ranges_match(&h, 302));
	assert_false(parse_http_ranges_match(&h, 203));
	assert_int_equal(parse_http_ranges("100-599", &h), 0);
	assert_int_equal(parse_http_ranges("", &h), -EINVAL);
	assert_int_equal(parse_http_ranges("99", &h), -EINVAL);
	assert_int_equal(parse_http_ranges("600", &h), -EINVAL);
	assert_int_equal(parse_http_ranges("300-200", &h), -EINVAL);
	assert_int_equal(parse_http_ranges("200-", &h), -EINVAL);
	assert_int_equal(parse_http_ranges("abc", &h), -EINVAL);
	assert_int_equal(parse_http_ranges("200 201 202 203 204 205 206 207 208 209 210 211 212 213 214 215", &h), 0);
	assert_int_equal(h.n, 16);
	assert_int_equal(parse_http_ranges("200 201 202 203 204 205 206 207 208 209 210 211 212 213 214 215 216", &h),
			 -EINVAL);
}

static void test_rlimit(void **state)
{
	struct parse_rlimit r = { 0, 0 };

	(void)state;
	assert_int_equal(parse_rlimit("4096", &r), 0);
	assert_int_equal(r.soft, 4096);
	assert_int_equal(r.hard, 4096);
	assert_int_equal(parse_rlimit("infinity", &r), 0);
	assert_true(r.soft == PARSE_RLIM_INFINITY && r.hard == PARSE_RLIM_INFINITY);
	assert_true(PARSE_RLIM_INFINITY == (uint64_t)RLIM_INFINITY);
	assert_int_equal(parse_rlimit("1024:4096", &r), 0);
	assert_int_equal(r.soft, 1024);
	assert_int_equal(r.hard, 4096);
	assert_int_equal(parse_rlimit("64M:unlimited", &r), 0);
	assert_int_equal(r.soft, 64 << 20);
	assert_true(r.hard == PARSE_RLIM_INFINITY);
	assert_int_equal(parse_rlimit(" 1K : 2K ", &r), 0);
	assert_int_equal(r.soft, 1024);
	assert_int_equal(r.hard, 2048);
	assert_int_equal(parse_rlimit("4096:1024", &r), -EINVAL); /* soft > hard */
	assert_int_equal(parse_rlimit("infinity:10", &r), -EINVAL);
	assert_int_equal(parse_rlimit("", &r), -EINVAL);
	assert_int_equal(parse_rlimit("1:2:3", &r), -EINVAL);
	assert_int_equal(parse_rlimit("lots", &r), -EINVAL);
	assert_int_equal(parse_rlimit(":5", &r), -EINVAL);
	assert_int_equal(r.soft, 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),   cmocka_unit_test(test_size),
		cmocka_unit_test(test_percent_uint_bool), cmocka_unit_test(test_signal),
		cmocka_unit_test(test_umask),      cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_rate),       cmocka_unit_test(test_http_ranges),
		cmocka_unit_test(test_rlimit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
