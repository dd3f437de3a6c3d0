/* config: owns reading nines.conf and services_dir/NAME.conf (system libinih) into plain structs,
 * with every problem collected as a "file:line: message" string, and the pure reload diff between
 * two loaded configs. No side effects besides reading files and passwd/group lookups; never
 * prints. Value syntaxes are in parse.h, command splitting in words.h.
 *
 * Rules beyond the design page:
 * - Relative paths in nines.conf are taken relative to the directory of nines.conf; paths in
 *   service files must be absolute.
 * - A value continues on indented lines. Continuation lines are joined with a space (so a long
 *   `command` can be split over lines); for the repeatable keys `env` and `pattern` each line is
 *   another entry. ` ;` starts a comment, on continuation lines too.
 * - `user`/`group` accept names or numeric ids; without `group` the user's primary group is used.
 * - `limit`, `max_lifetime`, `watchdog`, `capabilities`, `umask` may be empty (= off / none);
 *   `[log] file =` empty disables the log file.
 * - `[auth] format` defaults to discord when an [auth] section is present; `limit = none` turns
 *   off the 900/24h budget that format = discord implies.
 * - Only `env` and `pattern` may be repeated; list keys (after, capabilities,
 *   no_restart_exit_codes, expect) take comma/blank separated items on one key.
 * - A line longer than libinih's buffer (199 characters) is an error at that line; a comment
 *   line of any length is fine. */
#ifndef NINES_CONFIG_H
#define NINES_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/capability.h>
#include <sys/types.h>

#include "parse.h"

#define CONFIG_DEFAULT_PATH "/etc/nines/nines.conf"

/* ---- errors ---- */

/* Collected messages, each "file:line: message" (or "file: message" for a whole file). */
struct config_errors {
	char **msgs;
	size_t n, cap;
	bool nomem; /* a message could not be stored */
};

/* Free the messages and reset *errs to empty (safe on a zeroed struct). */
void config_errors_free(struct config_errors *errs);

/* ---- enums (each has a name table; *_name() never returns NULL) ---- */

enum config_console { CONFIG_CONSOLE_AUTO, CONFIG_CONSOLE_YES, CONFIG_CONSOLE_NO, CONFIG_CONSOLE_COUNT };
enum config_ready { CONFIG_READY_STARTED, CONFIG_READY_NOTIFY, CONFIG_READY_HEALTHY, CONFIG_READY_COUNT };
enum config_policy { CONFIG_POLICY_ALWAYS, CONFIG_POLICY_ON_FAILURE, CONFIG_POLICY_NEVER, CONFIG_POLICY_COUNT };
enum config_backoff { CONFIG_BACKOFF_FIXED, CONFIG_BACKOFF_EXPONENTIAL, CONFIG_BACKOFF_COUNT };
enum config_health_kind { CONFIG_HEALTH_NONE, CONFIG_HEALTH_URL, CONFIG_HEALTH_EXEC, CONFIG_HEALTH_TCP,
			  CONFIG_HEALTH_KIND_COUNT };
enum config_token_format { CONFIG_FORMAT_DISCORD, CONFIG_FORMAT_OPAQUE, CONFIG_FORMAT_COUNT };
enum config_pattern_class { CONFIG_PATTERN_AUTH, CONFIG_PATTERN_CONFIG, CONFIG_PATTERN_RATELIMIT,
			    CONFIG_PATTERN_CLASS_COUNT };
enum config_timestamps { CONFIG_TIMESTAMPS_ISO8601, CONFIG_TIMESTAMPS_NONE, CONFIG_TIMESTAMPS_COUNT };
/* Keys rlimit_nofile ... rlimit_data, in this order. */
enum config_rlimit_key { CONFIG_RLIMIT_NOFILE, CONFIG_RLIMIT_NPROC, CONFIG_RLIMIT_CORE, CONFIG_RLIMIT_AS,
			 CONFIG_RLIMIT_MEMLOCK, CONFIG_RLIMIT_STACK, CONFIG_RLIMIT_CPU, CONFIG_RLIMIT_FSIZE,
			 CONFIG_RLIMIT_DATA, CONFIG_RLIMIT_COUNT };

const char *config_console_name(enum config_console v);
const char *config_ready_name(enum config_ready v);
const char *config_policy_name(enum config_policy v);
const char *config_backoff_name(enum config_backoff v);
const char *config_health_kind_name(enum config_health_kind v);
const char *config_token_format_name(enum config_token_format v);
const char *config_pattern_class_name(enum config_pattern_class v);
const char *config_timestamps_name(enum config_timestamps v);
/* Key suffix of an rlimit ("nofile" for CONFIG_RLIMIT_NOFILE). */
const char *config_rlimit_name(enum config_rlimit_key v);

/* ---- main config ---- */

struct config_main {
	char *path;         /* file read (as given), NULL when built-in defaults were used */
	char *services_dir; /* default /etc/nines/services; relative values are resolved against the
			     * directory of nines.conf (as are run_dir, state_dir, log_dir) */
	char *run_dir;      /* default /run/nines */
	char *state_dir;    /* default /var/lib/nines */
	char *log_dir;      /* default /var/log/nines */
	enum config_console console;  /* default auto */
	char *control_group;          /* NULL: none */
	gid_t control_gid;
	char *status_group;           /* NULL: none */
	gid_t status_gid;
	uint64_t shutdown_timeout_ms; /* default 30s */
	char *alert_exec;             /* [alert] exec as written, NULL: none */
	char **alert_argv;            /* alert_exec split into words, NULL: none */
	char *alert_webhook;          /* NULL: none */
	char *watchdog_device;        /* e.g. /dev/watchdog, fed while the loop is healthy; NULL: none */
};

/* ---- service ---- */

struct config_rlimit {
	bool set;
	int resource;        /* RLIMIT_* */
	struct parse_rlimit value; /* PARSE_RLIM_INFINITY == RLIM_INFINITY */
};

struct config_restart {
	enum config_policy policy;   /* default always */
	uint64_t delay_ms;           /* default 100ms */
	enum config_backoff backoff; /* default exponential (factor 2) */
	uint64_t max_delay_ms;       /* default 5m */
	unsigned jitter_pct;         /* default 20 */
	uint64_t reset_after_ms;     /* default 10m */
	bool has_limit;              /* false: no spawn budget */
	struct parse_rate limit;     /* default none; 900/24h when the [auth] format is discord */
	struct parse_exit_codes no_restart_exit_codes; /* default empty */
	uint64_t max_lifetime_ms;    /* 0: off (default) */
};

struct config_health {
	enum config_health_kind kind; /* NONE when there is no [health] section */
	char *target;                 /* url, exec command line or "host:port" as written */
	char **argv;                  /* exec: target split into words */
	char *host;                   /* tcp: host without [] */
	uint16_t port;                /* tcp */
	uint64_t interval_ms;         /* default 10s */
	uint64_t timeout_ms;          /* default 2s */
	uint64_t start_period_ms;     /* default 0 */
	unsigned retries;             /* default 3 */
	struct parse_http_ranges expect; /* url only; default 200-399 */
	char *ca_file;                /* https: PEM bundle to trust instead of the system's; NULL */
	bool insecure;                /* https: skip certificate verification (self-signed, tests) */
};

struct config_pattern {
	enum config_pattern_class cls;
	char *source;  /* REGEX as written */
	regex_t re;    /* regcomp(REG_EXTENDED) */
};

struct config_auth {
	bool enabled;                 /* an [auth] section exists */
	char *token_file;             /* NULL: none */
	char *token_env;              /* default DISCORD_TOKEN */
	enum config_token_format format; /* default discord */
	bool default_patterns;        /* patterns = default (true, default) | none */
	struct config_pattern *patterns; /* `pattern =` lines, in order */
	size_t n_patterns;
	bool probe;                   /* default off */
	char *api;                    /* default https://discord.com/api/v10 */
};

struct config_log {
	char *file;                   /* default LOG_DIR/NAME.log; NULL: no log file */
	uint64_t max_size;            /* bytes, default 10M */
	unsigned max_files;           /* default 5 */
	enum config_timestamps timestamps; /* default iso8601 */
	bool redact;                  /* default yes */
};

struct config_service {
	char *name;          /* file stem */
	char *path;          /* the service file */
	char *command;       /* as written (continuation lines joined with a space) */
	char **argv;         /* command split into words; argv[0] non-empty */
	size_t argc;
	char *directory;     /* NULL: inherit */
	char *user;          /* NULL: do not change uid */
	uid_t uid;
	char *group;         /* NULL with user set: the user's primary group (gid still set) */
	gid_t gid;
	bool has_uid, has_gid;
	char **env;          /* "KEY=VALUE" entries in file order */
	size_t n_env;
	char *env_file;      /* NULL: none */
	char **after;        /* service names */
	size_t n_after;
	int stop_signal;     /* default SIGTERM */
	uint64_t stop_timeout_ms; /* default 10s */
	cap_value_t *caps;   /* ambient capabilities to keep, sorted, unique */
	size_t n_caps;
	enum config_ready ready; /* default started */
	bool has_umask;
	mode_t umask;
	char *pidfile;       /* NULL: none */
	char *lockfile;      /* NULL: none */
	struct config_rlimit rlimits[CONFIG_RLIMIT_COUNT];
	struct config_restart restart;
	struct config_health health;
	struct config_auth auth;
	struct config_log log;
	uint64_t watchdog_ms; /* [notify] watchdog, 0: off */
	int after_line;       /* line of after= (for diagnostics), 0 when absent */
	int token_file_line;  /* line of token_file=, 0 when absent */
};

struct config {
	struct config_main main;
	struct config_service *services; /* sorted by name */
	size_t n_services;
};

/* ---- loading ---- */

enum {
	/* A missing main file is not an error: use built-in defaults (for the default path). */
	CONFIG_MAIN_OPTIONAL = 1u << 0,
};

/* Load main_path (NULL: CONFIG_DEFAULT_PATH) and every services_dir/NAME.conf. Returns 0 and
 * *out (free with config_free) only when no error was found; otherwise -EINVAL with the messages
 * appended to errs, or -ENOMEM. errs is appended to, never reset; free it with
 * config_errors_free(). */
int config_load(const char *main_path, unsigned flags, struct config **out, struct config_errors *errs);

/* Like config_load(), but reads exactly the n service files given instead of scanning
 * services_dir (service name = file stem, which must match [a-z0-9_.-]+). */
int config_load_files(const char *main_path, unsigned flags, const char *const *service_paths, size_t n,
		      struct config **out, struct config_errors *errs);

/* Free a config from config_load (NULL is fine). */
void config_free(struct config *cfg);

/* The service named name, or NULL. Borrowed from cfg. */
const struct config_service *config_find_service(const struct config *cfg, const char *name);

/* ---- reload diff ---- */

enum config_change {
	CONFIG_UNCHANGED,
	CONFIG_ADDED,
	CONFIG_REMOVED,
	CONFIG_CHANGED_PROCESS, /* needs a restart: the running process was started from old values */
	CONFIG_CHANGED_INPLACE, /* takes effect without touching the process */
	CONFIG_CHANGE_COUNT
};
const char *config_change_name(enum config_change v);

/* Compare two definitions of one service (pure). CHANGED_PROCESS when anything given to the
 * process at spawn differs: command, directory, user, group, env, env_file, umask, rlimits,
 * capabilities, [auth] token_file/token_env, and ready=notify / [notify] watchdog (they decide
 * NOTIFY_SOCKET and WATCHDOG_USEC in its environment, sd_notify(3)). CHANGED_INPLACE for any other
 * difference, else UNCHANGED. */
enum config_change config_service_diff(const struct config_service *old_svc,
				       const struct config_service *new_svc);

struct config_diff_entry {
	const char *name;                   /* borrowed from old or new */
	enum config_change change;
	const struct config_service *old_svc; /* NULL when ADDED */
	const struct config_service *new_svc; /* NULL when REMOVED */
};

/* One entry per service name in old or new, sorted by name. Returns 0 with *out (free with
 * free(); entries borrow from old and new, which must outlive it) and *n, or -ENOMEM. */
int config_diff(const struct config *old_cfg, const struct config *new_cfg, struct config_diff_entry **out,
		size_t *n);

#endif
