/* Unit tests for the exit classifier: the exit-code contract, policies, requested stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>

#include "exitclass.h"

static enum verdict code(int c, enum config_policy p)
{
    struct exit_facts f = {.exited = true, .code = c};
    return exit_classify(&f, p, NULL);
}

static void exit_code_contract(void **state)
{
    (void)state;
    for (int p = 0; p < CONFIG_POLICY_COUNT; p++) {
        assert_int_equal(code(77, p), VERDICT_AUTHFAIL);
        assert_int_equal(code(78, p), VERDICT_FATAL);
    }
    assert_int_equal(code(0, CONFIG_POLICY_ALWAYS), VERDICT_RESTART_CLEAN);
    assert_int_equal(code(0, CONFIG_POLICY_ON_FAILURE), VERDICT_EXITED);
    assert_int_equal(code(0, CONFIG_POLICY_NEVER), VERDICT_EXITED);
    assert_int_equal(code(1, CONFIG_POLICY_ALWAYS), VERDICT_RESTART_FAILURE);
    assert_int_equal(code(1, CONFIG_POLICY_ON_FAILURE), VERDICT_RESTART_FAILURE);
    assert_int_equal(code(1, CONFIG_POLICY_NEVER), VERDICT_EXITED);
}

static void signals_and_exec_failures_are_failures(void **state)
{
    (void)state;
    struct exit_facts sig = {.exited = false, .code = SIGKILL};
    assert_int_equal(exit_classify(&sig, CONFIG_POLICY_ON_FAILURE, NULL), VERDICT_RESTART_FAILURE);
    assert_true(verdict_is_failure(&sig, VERDICT_RESTART_FAILURE));
    /* 77 from the exec error path is not the program's auth verdict. */
    struct exit_facts ex = {.exited = true, .code = 127, .exec_failed = true};
    assert_int_equal(exit_classify(&ex, CONFIG_POLICY_ALWAYS, NULL), VERDICT_RESTART_FAILURE);
    assert_int_equal(exit_classify(&ex, CONFIG_POLICY_NEVER, NULL), VERDICT_EXITED);
    assert_true(verdict_is_failure(&ex, VERDICT_EXITED));
}

static void no_restart_exit_codes(void **state)
{
    (void)state;
    struct parse_exit_codes codes;
    assert_int_equal(parse_exit_codes("3, 42", &codes), 0);
    struct exit_facts f = {.exited = true, .code = 42};
    assert_int_equal(exit_classify(&f, CONFIG_POLICY_ALWAYS, &codes), VERDICT_EXITED);
    f.code = 4;
    assert_int_equal(exit_classify(&f, CONFIG_POLICY_ALWAYS, &codes), VERDICT_RESTART_FAILURE);
}

static void requested_stops_win_over_status(void **state)
{
    (void)state;
    struct exit_facts f = {.exited = false, .code = SIGTERM, .why = STOP_OPERATOR};
    assert_int_equal(exit_classify(&f, CONFIG_POLICY_ALWAYS, NULL), VERDICT_STOPPED);
    f.why = STOP_SHUTDOWN;
    assert_int_equal(exit_classify(&f, CONFIG_POLICY_ALWAYS, NULL), VERDICT_STOPPED);
    f.why = STOP_LIFETIME;
    assert_int_equal(exit_classify(&f, CONFIG_POLICY_ON_FAILURE, NULL), VERDICT_RESTART);
    assert_false(verdict_is_failure(&f, VERDICT_RESTART));
    f.why = STOP_HEALTH;
    assert_int_equal(exit_classify(&f, CONFIG_POLICY_ALWAYS, NULL), VERDICT_RESTART_FAILURE);
    f.why = STOP_AUTH;
    f.exited = true;
    f.code = 0;
    assert_int_equal(exit_classify(&f, CONFIG_POLICY_ALWAYS, NULL), VERDICT_AUTHFAIL);
}

static void own_verdict_wins_after_a_stop_for_looking_dead(void **state)
{
    (void)state;
    struct exit_facts f = {.exited = true, .code = 77, .why = STOP_WATCHDOG};
    assert_int_equal(exit_classify(&f, CONFIG_POLICY_ALWAYS, NULL), VERDICT_AUTHFAIL);
    f.why = STOP_HEALTH;
    f.code = 78;
    assert_int_equal(exit_classify(&f, CONFIG_POLICY_ALWAYS, NULL), VERDICT_FATAL);
    /* An operator stop stays a stop, whatever the process said. */
    f.why = STOP_OPERATOR;
    f.code = 77;
    assert_int_equal(exit_classify(&f, CONFIG_POLICY_ALWAYS, NULL), VERDICT_STOPPED);
    f.why = STOP_WATCHDOG;
    f.code = 0;
    assert_int_equal(exit_classify(&f, CONFIG_POLICY_ALWAYS, NULL), VERDICT_RESTART_FAILURE);
}

static void descriptions(void **state)
{
    (void)state;
    char buf[64];
    struct exit_facts f = {.exited = true, .code = 3};
    assert_string_equal(exit_describe(&f, buf, sizeof buf), "exit 3");
    f.exited = false;
    f.code = SIGKILL;
    assert_string_equal(exit_describe(&f, buf, sizeof buf), "signal KILL");
    assert_string_equal(verdict_name(VERDICT_AUTHFAIL), "authfail");
    assert_string_equal(stop_reason_name(STOP_LIFETIME), "max_lifetime");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exit_code_contract),
        cmocka_unit_test(signals_and_exec_failures_are_failures),
        cmocka_unit_test(no_restart_exit_codes),
        cmocka_unit_test(requested_stops_win_over_status),
        cmocka_unit_test(own_verdict_wins_after_a_stop_for_looking_dead),
        cmocka_unit_test(descriptions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
