/* Unit tests for the output-line classifier: every library line of reference/discord.md section 3
 * (class, rule, retry-after), ordinary lines that must not match, custom patterns, colour codes,
 * binary garbage and long lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patterns.h"

struct tp {
    const char *line;
    enum pattern_class cls;
    uint64_t retry_ms;
};

static enum pattern_class classify(const struct patterns *p, const char *line, struct pattern_hit *h)
{
    return patterns_match(p, line, strlen(line), h);
}

/* Checks each line as it is and behind 1-7 spaces: the prefilter looks at every 4th position
 * only, so every alignment of every anchor must be found. */
static void check_lines(const struct tp *t, size_t n)
{
    struct patterns p;
    char buf[1024];
    assert_int_equal(patterns_init(&p, true, NULL, 0), 0);
    for (size_t i = 0; i < n * 8; i++) {
        struct pattern_hit h;
        size_t pad = i % 8, len = strlen(t[i / 8].line);
        assert_true(pad + len < sizeof buf);
        memset(buf, ' ', pad);
        memcpy(buf + pad, t[i / 8].line, len + 1);
        enum pattern_class c = classify(&p, buf, &h);
        if (c != t[i / 8].cls || h.retry_after_ms != t[i / 8].retry_ms)
            fail_msg("line %zu \"%s\" (%zu spaces before): got %s (%s) retry %llu, want %s retry %llu",
                     i / 8, t[i / 8].line, pad, pattern_class_name(c), h.rule ? h.rule : "-",
                     (unsigned long long)h.retry_after_ms, pattern_class_name(t[i / 8].cls),
                     (unsigned long long)t[i / 8].retry_ms);
        assert_int_equal(h.cls, c);
        if (c != PATTERN_NONE) {
            assert_non_null(h.rule);
            assert_false(h.custom);
        } else {
            assert_null(h.rule);
        }
    }
    patterns_free(&p);
}

/* Section 3.1: invalid token (REST 401). */
static void auth_rest_401_lines(void **state)
{
    (void)state;
    static const struct tp t[] = {
        {"discord.errors.HTTPException: 401 Unauthorized (error code: 0): 401: Unauthorized", PATTERN_AUTH, 0},
        {"discord.errors.LoginFailure: Improper token has been passed.", PATTERN_AUTH, 0},
        {"DiscordjsError [TokenInvalid]: An invalid token was provided.", PATTERN_AUTH, 0},
        {"Error [TokenInvalid]: An invalid token was provided.", PATTERN_AUTH, 0},
        {"Error [TOKEN_INVALID]: An invalid token was provided.", PATTERN_AUTH, 0},
        {"DiscordAPIError[0]: 401: Unauthorized", PATTERN_AUTH, 0},
        {"Error: Expected token to be set for this request, but none was present", PATTERN_AUTH, 0},
        {"InvalidArgumentError: invalid Authorization header", PATTERN_AUTH, 0},
        {"net.dv8tion.jda.api.exceptions.InvalidTokenException: The provided token is invalid!", PATTERN_AUTH, 0},
        {"Http(UnsuccessfulRequest(ErrorResponse { status_code: 401, url: \"https://discord.com/api/v10/"
         "users/@me\", method: GET, error: DiscordJsonError { code: 0, message: \"401: Unauthorized\", "
         "errors: [] } }))", PATTERN_AUTH, 0},
        {"The provided token was invalid", PATTERN_AUTH, 0},
        {"Discord.Net.HttpException: The server responded with error 401: 401: Unauthorized", PATTERN_AUTH, 0},
        {"A Bot token must be at least 58 characters in length. Ensure that the Bot Token provided is "
         "not an OAuth client secret.", PATTERN_AUTH, 0},
        {"The Bot token was invalid. Ensure that the Bot Token provided is not an OAuth client secret.",
         PATTERN_AUTH, 0},
        {"HTTP 401 Unauthorized, {\"message\": \"401: Unauthorized\", \"code\": 0}", PATTERN_AUTH, 0},
        {"HTTP request was unauthorized. This could be because the provided token was not a bot token. "
         "Please add \"Bot \" to the start of your token. https://discord.com/developers/docs/reference"
         "#authentication-example-bot-token-authorization-header", PATTERN_AUTH, 0},
    };
    check_lines(t, sizeof t / sizeof t[0]);
}

/* Section 3.2: gateway 4004. */
static void auth_gateway_4004_lines(void **state)
{
    (void)state;
    static const struct tp t[] = {
        {"discord.errors.ConnectionClosed: Shard ID None WebSocket closed with 4004", PATTERN_AUTH, 0},
        {"discord.errors.ConnectionClosed: Shard ID 3 WebSocket closed with 4004", PATTERN_AUTH, 0},
        {"websockets.exceptions.ConnectionClosedError: code = 4004 (private use), reason = "
         "Authentication failed.", PATTERN_AUTH, 0},
        {"WebSocket connection is closed: code = 4004, reason = Authentication failed..", PATTERN_AUTH, 0},
        {"Error: Authentication failed", PATTERN_AUTH, 0},
        {"Error: Authentication failed\r", PATTERN_AUTH, 0},
        {"    at WebSocketShard.onClose: Error: Authentication failed.", PATTERN_AUTH, 0},
        {"[WS => Shard 0] Shard not recoverable: 4004 (AuthenticationFailed)", PATTERN_AUTH, 0},
        {"CloseCode(4004 / The account token sent with your identify payload is incorrect.)", PATTERN_AUTH, 0},
        {"Accompanied CloseCode CloseCode(4004 / Authentication failed)", PATTERN_AUTH, 0},
        {"[ShardInfo { id: ShardId(0), total: 1 }] Sent invalid authentication, please check the token.",
         PATTERN_AUTH, 0},
        {"Shard handler received err: Gateway(InvalidAuthentication)", PATTERN_AUTH, 0},
        {"Sent invalid authentication", PATTERN_AUTH, 0},
        {"12:00:00 Gateway     Discord.Net.WebSocketClosedException: The server sent close 4004: "
         "\"Authentication failed.\"", PATTERN_AUTH, 0},
        {"websocket: close 4004: Authentication failed.", PATTERN_AUTH, 0},
        {"2024/05/01 12:00:00 [DG0] wsapi.go:751:reconnect() error reconnecting to gateway, websocket: "
         "close 4004: Authentication failed.", PATTERN_AUTH, 0},
        {"Unclean WS close: 4004: Authentication failed.", PATTERN_AUTH, 0},
        {"CloseEvent { code: 4004, reason: 'Authentication failed.', wasClean: true }", PATTERN_AUTH, 0},
    };
    check_lines(t, sizeof t / sizeof t[0]);
}

/* Section 3.2: the other terminal closes. */
static void config_terminal_close_lines(void **state)
{
    (void)state;
    static const struct tp t[] = {
        {"discord.errors.PrivilegedIntentsRequired: Shard ID None is requesting privileged intents that "
         "have not been explicitly enabled in the developer portal. It is recommended to go to "
         "https://discord.com/developers/applications/ and explicitly enable the privileged intents "
         "within your application's page. If this is not possible, then consider disabling the "
         "privileged intents instead.", PATTERN_CONFIG, 0},
        {"Error: Used disallowed intents", PATTERN_CONFIG, 0},
        {"Error: Used invalid intents", PATTERN_CONFIG, 0},
        {"Error: Invalid shard", PATTERN_CONFIG, 0},
        {"Error: Sharding is required", PATTERN_CONFIG, 0},
        {"Error: Used an invalid API version", PATTERN_CONFIG, 0},
        {"discord.errors.ConnectionClosed: Shard ID None WebSocket closed with 4010", PATTERN_CONFIG, 0},
        {"discord.errors.ConnectionClosed: Shard ID None WebSocket closed with 4011", PATTERN_CONFIG, 0},
        {"discord.errors.ConnectionClosed: Shard ID None WebSocket closed with 4012", PATTERN_CONFIG, 0},
        {"discord.errors.ConnectionClosed: Shard ID None WebSocket closed with 4013", PATTERN_CONFIG, 0},
        {"discord.errors.ConnectionClosed: Shard ID None WebSocket closed with 4014", PATTERN_CONFIG, 0},
        {"CloseCode(4014 / Disallowed intents. Your bot might not be eligible to request a privileged "
         "intent such as GUILD_PRESENCES or GUILD_MEMBERS.)", PATTERN_CONFIG, 0},
        {"CloseCode(4010 / You sent an invalid shard when identifying.)", PATTERN_CONFIG, 0},
        {"websocket: close 4014: Disallowed intent(s).", PATTERN_CONFIG, 0},
        {"The server sent close 4013: \"Invalid intent(s).\"", PATTERN_CONFIG, 0},
        {"Shard not recoverable: 4014 (DisallowedIntents)", PATTERN_CONFIG, 0},
        {"DiscordjsError [DisallowedIntents]: Privileged intent provided is not enabled or whitelisted.",
         PATTERN_CONFIG, 0},
        {"Error [DISALLOWED_INTENTS]: Privileged intent provided is not enabled or whitelisted.",
         PATTERN_CONFIG, 0},
        {"DiscordjsError [ShardingRequired]: This session would have handled too many guilds - Sharding "
         "is required.", PATTERN_CONFIG, 0},
        {"[ShardInfo { id: ShardId(0), total: 1 }] Disallowed gateway intents have been provided.",
         PATTERN_CONFIG, 0},
        {"[ShardInfo { id: ShardId(0), total: 1 }] Invalid gateway intents have been provided.",
         PATTERN_CONFIG, 0},
        {"[ShardInfo { id: ShardId(0), total: 1 }] Sent invalid shard data.", PATTERN_CONFIG, 0},
        {"[ShardInfo { id: ShardId(0), total: 1 }] Shard has too many guilds.", PATTERN_CONFIG, 0},
        {"[ShardInfo { id: ShardId(0), total: 1 }] Invalid gateway API version provided.", PATTERN_CONFIG, 0},
        {"Shard handler received err: Gateway(DisallowedGatewayIntents)", PATTERN_CONFIG, 0},
        {"java.lang.IllegalStateException: You tried turning on an intent you aren't allowed to use.",
         PATTERN_CONFIG, 0},
    };
    check_lines(t, sizeof t / sizeof t[0]);
}

/* Section 3.3: rate limits and Cloudflare, with the waits they announce. */
static void ratelimit_lines(void **state)
{
    (void)state;
    static const struct tp t[] = {
        {"2024-05-01 12:00:00 WARNING  discord.http We are being rate limited. GET "
         "https://discord.com/api/v10/users/@me responded with 429. Retrying in 2.50 seconds.",
         PATTERN_RATELIMIT, 2500},
        {"We are being rate limited. POST https://discord.com/api/v10/channels/1/messages responded with "
         "429. Timeout of 120.00 was too long, erroring instead.", PATTERN_RATELIMIT, 120000},
        {"Global rate limit has been hit. Retrying in 10.00 seconds.", PATTERN_RATELIMIT, 10000},
        {"discord.errors.HTTPException: 429 Too Many Requests (error code: 0): <!DOCTYPE html>",
         PATTERN_RATELIMIT, 0},
        {"discord.errors.RateLimited: Too many requests. Retry in 64.57 seconds.", PATTERN_RATELIMIT, 64570},
        {"WebSocket in shard ID None is ratelimited, waiting 0.57 seconds", PATTERN_RATELIMIT, 570},
        {"Webhook ID 1234567 is rate limited. Retrying in 1.25 seconds.", PATTERN_RATELIMIT, 1250},
        {"Encountered unexpected 429 rate limit", PATTERN_RATELIMIT, 0},
        {"Global rate limit hit, blocking all requests for 1523ms", PATTERN_RATELIMIT, 1523},
        {"Encountered global rate limit! Retry-After: 1500 ms Scope: global", PATTERN_RATELIMIT, 1500},
        {"Encountered cloudflare rate limit! Retry-After: 3600 s", PATTERN_RATELIMIT, 3600000},
        {"Encountered 429 on route GET/users/@me with bucket abc:1 Retry-After: 1200 ms Scope: user",
         PATTERN_RATELIMIT, 1200},
        {"Encountered IDENTIFY Rate Limit!", PATTERN_RATELIMIT, 0},
        {"[ShardInfo { id: ShardId(0), total: 1 }] Gateway ratelimited.", PATTERN_RATELIMIT, 0},
        {"error code: 1015", PATTERN_RATELIMIT, 0},
        {"<title>Access denied | discord.com used Cloudflare to restrict access</title>", PATTERN_RATELIMIT, 0},
        {"{\"message\": \"You are being rate limited.\", \"retry_after\": 64.57, \"global\": false}",
         PATTERN_RATELIMIT, 64570},
        {"websocket: close 4008: Rate limited.", PATTERN_RATELIMIT, 0},
    };
    check_lines(t, sizeof t / sizeof t[0]);
}

/* Lines a bot prints every day. None of them may count. */
static void ordinary_lines_do_not_match(void **state)
{
    (void)state;
    static const struct tp t[] = {
        {"GET /items/401 200 12ms", PATTERN_NONE, 0},
        {"GET /api/v1/orders/4004 200 3ms", PATTERN_NONE, 0},
        {"processed 4004 messages", PATTERN_NONE, 0},
        {"401 users online", PATTERN_NONE, 0},
        {"429 requests served in 1015 ms", PATTERN_NONE, 0},
        {"2024-01-01 04:01:40 INFO bot ready", PATTERN_NONE, 0},
        {"2024-05-14 10:15:40,401 INFO heartbeat ok 40.04ms", PATTERN_NONE, 0},
        {"ts=1700004004 level=info msg=tick", PATTERN_NONE, 0},
        {"alice: my token is invalid lol", PATTERN_NONE, 0},
        {"bob: how do I get a bot token? mine says unauthorized", PATTERN_NONE, 0},
        {"Refreshing OAuth token cache (expires in 3600 s)", PATTERN_NONE, 0},
        {"2024-05-01 12:00:00 INFO     discord.client logging in using static token", PATTERN_NONE, 0},
        {"Shard ID None has connected to Gateway (Session ID: 5f1c0a).", PATTERN_NONE, 0},
        {"Shard ID None has successfully RESUMED session 5f1c0a.", PATTERN_NONE, 0},
        {"Login Successful!", PATTERN_NONE, 0},
        {"Connected to WebSocket", PATTERN_NONE, 0},
        {"Finished Loading!", PATTERN_NONE, 0},
        {"Closed 4010 tickets today", PATTERN_NONE, 0},
        {"Tickets closed: 4012, open: 7", PATTERN_NONE, 0},
        {"zipcode: 4011", PATTERN_NONE, 0},
        {"Issue closed with 4004 comments", PATTERN_NONE, 0},
        {"exit code 4004 ignored", PATTERN_NONE, 0},
        {"listening on port 4011", PATTERN_NONE, 0},
        {"Sent 4004 bytes to 10.0.0.4", PATTERN_NONE, 0},
        {"memory: 4013 MiB used", PATTERN_NONE, 0},
        {"Error: Authentication failed for user postgres", PATTERN_NONE, 0},
        {"MongoServerError: Authentication failed.", PATTERN_NONE, 0},
        {"FATAL:  password authentication failed for user \"bot\"", PATTERN_NONE, 0},
        {"requests.exceptions.HTTPError: 401 Client Error: Unauthorized for url: https://api.example.com/v1",
         PATTERN_NONE, 0},
        {"upstream answered HTTP/1.1 401 Unauthorized", PATTERN_NONE, 0},
        {"rate limit set to 10 per minute", PATTERN_NONE, 0},
        {"Done sleeping for the rate limit. Retrying...", PATTERN_NONE, 0},
        {"user 1015 joined #general", PATTERN_NONE, 0},
        {"discord.errors.NotFound: 404 Not Found (error code: 10015): Unknown Webhook", PATTERN_NONE, 0},
        {"discord.errors.NotFound: 404 Not Found (error code: 10008): Unknown Message", PATTERN_NONE, 0},
        {"Invalid shard key in config", PATTERN_NONE, 0},
        {"MongoError: Invalid shard key", PATTERN_NONE, 0},
        {"Error: Invalid shard key", PATTERN_NONE, 0},
        {"version 4.0.4 released", PATTERN_NONE, 0},
        {"Using intents: 3243773", PATTERN_NONE, 0},
        {"The bot token was rotated yesterday", PATTERN_NONE, 0},
        {"TokenInvalidator started", PATTERN_NONE, 0},
        {"SessionTokenInvalidException is retried", PATTERN_NONE, 0},
        {"InvalidAuthenticationToken: Azure says no", PATTERN_NONE, 0},
        {"Closing connection 4012", PATTERN_NONE, 0},
        {"WebSocket connection was closed and cannot be recovered due to identification issues",
         PATTERN_NONE, 0},
        {"Encountered an error on route GET /guilds/1", PATTERN_NONE, 0},
        {"[12:00:00] <carol> quoting: \"the provided token\" is what the docs call it", PATTERN_NONE, 0},
        {"\x1b[30;1m2024-05-01 12:00:00\x1b[0m \x1b[34;1mINFO    \x1b[0m \x1b[35mdiscord.client\x1b[0m "
         "logging in using static token", PATTERN_NONE, 0},
        {"", PATTERN_NONE, 0},
        {"401", PATTERN_NONE, 0},
        {"4004", PATTERN_NONE, 0},
    };
    check_lines(t, sizeof t / sizeof t[0]);
}

/* Every default anchor on its own (the lines above often hold two). */
static void every_anchor_alone(void **state)
{
    (void)state;
    static const struct tp t[] = {
        {"x HTTPException: 401 Unauthorized (error code: 0)", PATTERN_AUTH, 0},
        {"code: 'TOKEN_INVALID'", PATTERN_AUTH, 0},
        {"error TokenInvalid", PATTERN_AUTH, 0},
        {"An invalid token was provided.", PATTERN_AUTH, 0},
        {"Caused by: net.dv8tion.jda.api.exceptions.InvalidTokenException", PATTERN_AUTH, 0},
        {"The provided token is invalid!", PATTERN_AUTH, 0},
        {"CloseCode(4004 / The account token sent with your identify payload is incorrect.)", PATTERN_AUTH, 0},
        {"meaning: identify payload is incorrect", PATTERN_AUTH, 0},
        {"Shard 0 disconnected with code 4004", PATTERN_AUTH, 0},
        {"msg=disconnected code=4004 shard=0", PATTERN_AUTH, 0},
        {"raise PrivilegedIntentsRequired(exc.shard_id) from None", PATTERN_CONFIG, 0},
        {"Shard ID 0 is requesting privileged intents", PATTERN_CONFIG, 0},
        {"login failed: Used disallowed intents", PATTERN_CONFIG, 0},
        {"code: 'DisallowedIntents'", PATTERN_CONFIG, 0},
        {"[DISALLOWED_INTENTS]", PATTERN_CONFIG, 0},
        {"Privileged intent provided is not enabled or whitelisted.", PATTERN_CONFIG, 0},
        {"login failed: Used invalid intents", PATTERN_CONFIG, 0},
        {"[InvalidIntents]", PATTERN_CONFIG, 0},
        {"[INVALID_INTENTS]", PATTERN_CONFIG, 0},
        {"Invalid intent provided for WebSocket intents.", PATTERN_CONFIG, 0},
        {"Gateway(InvalidGatewayIntents)", PATTERN_CONFIG, 0},
        {"[ShardingInvalid]", PATTERN_CONFIG, 0},
        {"[SHARDING_INVALID]", PATTERN_CONFIG, 0},
        {"Invalid shard settings were provided.", PATTERN_CONFIG, 0},
        {"Gateway(InvalidShardData)", PATTERN_CONFIG, 0},
        {"code: 'ShardingRequired'", PATTERN_CONFIG, 0},
        {"[SHARDING_REQUIRED]", PATTERN_CONFIG, 0},
        {"Gateway(OverloadedShard)", PATTERN_CONFIG, 0},
        {"Gateway(InvalidApiVersion)", PATTERN_CONFIG, 0},
        {"CloseCode(4011 / The session would have handled too many guilds)", PATTERN_CONFIG, 0},
        {"CloseCode(4012 / Invalid API version)", PATTERN_CONFIG, 0},
        {"Error: Sharding is required", PATTERN_CONFIG, 0},
    };
    check_lines(t, sizeof t / sizeof t[0]);
}

/* discord.py colours its log lines in Docker (reference, "Observed in containers"). */
static void colour_codes_are_ignored(void **state)
{
    (void)state;
    static const struct tp t[] = {
        {"\x1b[30;1m2024-05-01 12:00:00\x1b[0m \x1b[33;1mWARNING \x1b[0m \x1b[35mdiscord.http\x1b[0m We are "
         "being rate limited. GET /users/@me responded with 429. Retrying in 0.75 seconds.",
         PATTERN_RATELIMIT, 750},
        {"\x1b[31mdiscord.errors.LoginFailure: \x1b[1mImproper token\x1b[0m has been passed.", PATTERN_AUTH, 0},
        {"\x1b]0;title\x07WebSocket closed with \x1b[1m4004\x1b[0m", PATTERN_AUTH, 0},
        {"WebSocket closed with 4004\x1b", PATTERN_AUTH, 0},
        {"\x1b", PATTERN_NONE, 0},
        {"\x1b[", PATTERN_NONE, 0},
        {"\x1b]unterminated osc", PATTERN_NONE, 0},
    };
    check_lines(t, sizeof t / sizeof t[0]);
}

static void rule_names_say_what_matched(void **state)
{
    (void)state;
    struct patterns p;
    struct pattern_hit h;
    assert_int_equal(patterns_init(&p, true, NULL, 0), 0);
    assert_int_equal(classify(&p, "websocket: close 4004: Authentication failed.", &h), PATTERN_AUTH);
    assert_string_equal(h.rule, "gateway close 4004");
    assert_int_equal(classify(&p, "Error: Used disallowed intents", &h), PATTERN_CONFIG);
    assert_string_equal(h.rule, "privileged intents not enabled");
    assert_int_equal(classify(&p, "error code: 1015", &h), PATTERN_RATELIMIT);
    assert_string_equal(h.rule, "Cloudflare ban");
    /* AUTH outranks a rate limit on the same line. */
    assert_int_equal(classify(&p, "We are being rate limited. then 401: Unauthorized", &h), PATTERN_AUTH);
    assert_string_equal(pattern_class_name(PATTERN_AUTH), "auth");
    assert_string_equal(pattern_class_name(PATTERN_CONFIG), "config");
    assert_string_equal(pattern_class_name(PATTERN_RATELIMIT), "ratelimit");
    assert_string_equal(pattern_class_name(PATTERN_NONE), "none");
    assert_string_equal(pattern_class_name(PATTERN_CLASS_COUNT), "?");
    assert_int_equal(classify(&p, "Improper token has been passed", NULL), PATTERN_AUTH);
    patterns_free(&p);
}

static void retry_after_parsing(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        uint64_t ms;
    } t[] = {
        {"Retrying in 2.50 seconds.", 2500},
        {"Retrying in 2.5 seconds.", 2500},
        {"Retrying in 3 seconds.", 3000},
        {"Retrying in 0.0001 seconds.", 1}, /* rounded up: never 0 for a real wait */
        {"Retrying in 1.2345 seconds.", 1235},
        {"Retry-After: 30", 30000},
        {"Retry-After: 1500 ms", 1500},
        {"Retry-After: 2 s", 2000},
        {"blocking all requests for 99ms", 99},
        {"blocking all requests for 1.5ms", 2},
        {"\"retry_after\":0.5,", 500},
        {"retry_after=7", 7000},
        {"Retrying in soon", 0},
        {"nothing here", 0},
        {"", 0},
        {"Retrying in 99999999999999999999999 seconds", 999999999999000ull},
        {"Retrying in 1000000000000000 seconds", 999999999999000ull}, /* saturates, never shrinks */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint64_t ms = patterns_retry_after_ms(t[i].line, strlen(t[i].line));
        if (ms != t[i].ms)
            fail_msg("\"%s\": %llu ms, want %llu", t[i].line, (unsigned long long)ms, (unsigned long long)t[i].ms);
    }
}

/* ---- custom patterns ---- */

static void compile(struct config_pattern *cp, enum config_pattern_class cls, const char *re)
{
    cp->cls = cls;
    cp->source = (char *)re;
    assert_int_equal(regcomp(&cp->re, re, REG_EXTENDED), 0);
}

static void custom_patterns(void **state)
{
    (void)state;
    struct config_pattern cp[3];
    compile(&cp[0], CONFIG_PATTERN_RATELIMIT, "slow down");
    compile(&cp[1], CONFIG_PATTERN_AUTH, "token (revoked|expired)");
    compile(&cp[2], CONFIG_PATTERN_CONFIG, "^FATAL config");
    struct patterns p;
    struct pattern_hit h;
    assert_int_equal(patterns_init(&p, true, cp, 3), 0);

    assert_int_equal(classify(&p, "my token revoked, bye", &h), PATTERN_AUTH);
    assert_true(h.custom);
    assert_string_equal(h.rule, "token (revoked|expired)");
    assert_int_equal(classify(&p, "please slow down, Retry-After: 30", &h), PATTERN_RATELIMIT);
    assert_int_equal(h.retry_after_ms, 30000);
    assert_int_equal(classify(&p, "FATAL config: no guild id", &h), PATTERN_CONFIG);
    assert_int_equal(classify(&p, "not FATAL config", &h), PATTERN_NONE);
    /* The most severe wins: a custom AUTH over a default rate limit... */
    assert_int_equal(classify(&p, "We are being rate limited. token expired", &h), PATTERN_AUTH);
    assert_true(h.custom);
    /* ...and a default AUTH over a custom rate limit (custom patterns are then not run). */
    assert_int_equal(classify(&p, "slow down: 401: Unauthorized", &h), PATTERN_AUTH);
    assert_false(h.custom);
    /* Default CONFIG, custom AUTH on the same line: AUTH. */
    assert_int_equal(classify(&p, "Error: Used invalid intents; token revoked", &h), PATTERN_AUTH);
    /* NUL bytes do not end the line for regexec; colour codes are gone. */
    static const char nul_line[] = "abc\0token revoked";
    assert_int_equal(patterns_match(&p, nul_line, sizeof nul_line - 1, &h), PATTERN_AUTH);
    assert_int_equal(classify(&p, "\x1b[31mtoken\x1b[0m revoked", &h), PATTERN_AUTH);
    assert_int_equal(classify(&p, "nothing to see", &h), PATTERN_NONE);
    patterns_free(&p);

    /* patterns = none: only the custom ones. */
    assert_int_equal(patterns_init(&p, false, cp, 3), 0);
    assert_int_equal(classify(&p, "Improper token has been passed.", &h), PATTERN_NONE);
    assert_int_equal(classify(&p, "token expired", &h), PATTERN_AUTH);
    patterns_free(&p);

    /* Nothing at all. */
    assert_int_equal(patterns_init(&p, false, NULL, 0), 0);
    assert_int_equal(classify(&p, "Improper token has been passed.", &h), PATTERN_NONE);
    assert_null(h.rule);
    assert_int_equal(patterns_init(&p, true, NULL, 2), -EINVAL);

    assert_int_equal(pattern_class_from_config(CONFIG_PATTERN_AUTH), PATTERN_AUTH);
    assert_int_equal(pattern_class_from_config(CONFIG_PATTERN_CONFIG), PATTERN_CONFIG);
    assert_int_equal(pattern_class_from_config(CONFIG_PATTERN_RATELIMIT), PATTERN_RATELIMIT);
    for (int i = 0; i < 3; i++)
        regfree(&cp[i].re);
}

/* ---- robustness ---- */

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void garbage_does_not_crash(void **state)
{
    (void)state;
    struct config_pattern cp[1];
    compile(&cp[0], CONFIG_PATTERN_AUTH, "x{3}y");
    struct patterns p;
    assert_int_equal(patterns_init(&p, true, cp, 1), 0);
    uint32_t seed = 12345;
    char buf[512];
    for (int round = 0; round < 20000; round++) {
        size_t n = rnd(&seed) % sizeof buf;
        for (size_t i = 0; i < n; i++) {
            uint32_t r = rnd(&seed);
            /* Mix random bytes with bytes that steer into the interesting paths. */
            static const char pick[] = "4001 :=(\x1b[]\x07\xc3\xff\x80.closedwith";
            buf[i] = (r & 1) ? (char)(r >> 8) : pick[(r >> 8) % (sizeof pick - 1)];
        }
        struct pattern_hit h;
        enum pattern_class c = patterns_match(&p, buf, n, &h);
        assert_true(c < PATTERN_CLASS_COUNT);
        assert_int_equal(c, h.cls);
    }
    /* Invalid UTF-8 around a real line still matches. */
    static const char utf[] = "\xff\xfe\xc3(\xed\xa0\x80 Improper token has been passed. \xf8\x88\x80\x80\x80";
    assert_int_equal(patterns_match(&p, utf, sizeof utf - 1, NULL), PATTERN_AUTH);
    for (size_t n = 0; n < 8; n++)
        assert_int_equal(patterns_match(&p, "\0\0\0\0\0\0\0\0", n, NULL), PATTERN_NONE);
    patterns_free(&p);
    regfree(&cp[0].re);
}

static void long_lines(void **state)
{
    (void)state;
    enum { N = 64 * 1024 };
    static const char tail[] = "Improper token has been passed.";
    char *line = malloc(N);
    assert_non_null(line);
    memset(line, 'a', N);
    struct config_pattern cp[1];
    compile(&cp[0], CONFIG_PATTERN_RATELIMIT, "zzz$");
    struct patterns p;
    assert_int_equal(patterns_init(&p, true, cp, 1), 0);
    struct pattern_hit h;

    assert_int_equal(patterns_match(&p, line, N, &h), PATTERN_NONE);
    memcpy(line + N - (sizeof tail - 1), tail, sizeof tail - 1);
    assert_int_equal(patterns_match(&p, line, N, &h), PATTERN_AUTH);
    /* Colour codes in a long line: the copy goes to the heap. */
    memcpy(line, "\x1b[1m", 4);
    assert_int_equal(patterns_match(&p, line, N, &h), PATTERN_AUTH);
    /* A custom pattern on a long line (heap copy, NUL-terminated). */
    memset(line, 'a', N);
    memcpy(line + N - 3, "zzz", 3);
    line[100] = '\0';
    assert_int_equal(patterns_match(&p, line, N, &h), PATTERN_RATELIMIT);
    assert_true(h.custom);
    /* Exactly at the stack-copy boundary. */
    for (size_t n = 4094; n <= 4098; n++) {
        memset(line, 'b', n);
        memcpy(line + n - 3, "zzz", 3);
        assert_int_equal(patterns_match(&p, line, n, &h), PATTERN_RATELIMIT);
        line[0] = '\x1b';
        assert_int_equal(patterns_match(&p, line, n, &h), PATTERN_RATELIMIT);
    }
    patterns_free(&p);
    regfree(&cp[0].re);
    free(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(auth_rest_401_lines),
        cmocka_unit_test(auth_gateway_4004_lines),
        cmocka_unit_test(config_terminal_close_lines),
        cmocka_unit_test(ratelimit_lines),
        cmocka_unit_test(ordinary_lines_do_not_match),
        cmocka_unit_test(every_anchor_alone),
        cmocka_unit_test(colour_codes_are_ignored),
        cmocka_unit_test(rule_names_say_what_matched),
        cmocka_unit_test(retry_after_parsing),
        cmocka_unit_test(custom_patterns),
        cmocka_unit_test(garbage_does_not_crash),
        cmocka_unit_test(long_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
