/* config: nines.conf and services/NAME.conf -> struct config; see config.h.
 *
 * How a file is read. Debian's libinih 55 reads lines with fgets(buf, 200) (ini_max_line), so a
 * longer line is cut and its tail parsed as another line, and the handler is not given a line
 * number (INI_HANDLER_LINENO is 0 in the system build). We therefore drive ini_parse_stream() with
 * our own reader: it numbers lines, rejects lines that do not fit into the buffer inih offers, and
 * classifies each line exactly like inih's ini_parse_stream() does (comment, continuation,
 * section, key), so the handler knows the line number, whether a call is a continuation line,
 * and which section it belongs to. The handler only records (key, value, line) entries; they are
 * applied to the structs after the whole file is read, which makes continuation lines, duplicate
 * keys and cross-key checks simple. */
#include "config.h"
#include "token.h"

#include <ctype.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "words.h"

/* ------------------------------------------------------------------ name tables */

static const char *const console_names[] = {
	[CONFIG_CONSOLE_AUTO] = "auto", [CONFIG_CONSOLE_YES] = "yes", [CONFIG_CONSOLE_NO] = "no",
};
_Static_assert(sizeof console_names / sizeof console_names[0] == CONFIG_CONSOLE_COUNT, "console_names");

static const char *const ready_names[] = {
	[CONFIG_READY_STARTED] = "started", [CONFIG_READY_NOTIFY] = "notify", [CONFIG_READY_HEALTHY] = "healthy",
};
_Static_assert(sizeof ready_names / sizeof ready_names[0] == CONFIG_READY_COUNT, "ready_names");

static const char *const policy_names[] = {
	[CONFIG_POLICY_ALWAYS] = "always", [CONFIG_POLICY_ON_FAILURE] = "on-failure",
	[CONFIG_POLICY_NEVER] = "never",
};
_Static_assert(sizeof policy_names / sizeof policy_names[0] == CONFIG_POLICY_COUNT, "policy_names");

static const char *const backoff_names[] = {
	[CONFIG_BACKOFF_FIXED] = "fixed", [CONFIG_BACKOFF_EXPONENTIAL] = "exponential",
};
_Static_assert(sizeof backoff_names / sizeof backoff_names[0] == CONFIG_BACKOFF_COUNT, "backoff_names");

static const char *const health_kind_names[] = {
	[CONFIG_HEALTH_NONE] = "none", [CONFIG_HEALTH_URL] = "url", [CONFIG_HEALTH_EXEC] = "exec",
	[CONFIG_HEALTH_TCP] = "tcp",
};
_Static_assert(sizeof health_kind_names / sizeof health_kind_names[0] == CONFIG_HEALTH_KIND_COUNT,
	       "health_kind_names");

static const char *const format_names[] = {
	[CONFIG_FORMAT_DISCORD] = "discord", [CONFIG_FORMAT_OPAQUE] = "opaque",
};
_Static_assert(sizeof format_names / sizeof format_names[0] == CONFIG_FORMAT_COUNT, "format_names");

static const char *const pattern_class_names[] = {
	[CONFIG_PATTERN_AUTH] = "auth", [CONFIG_PATTERN_CONFIG] = "config",
	[CONFIG_PATTERN_RATELIMIT] = "ratelimit",
};
_Static_assert(sizeof pattern_class_names / sizeof pattern_class_names[0] == CONFIG_PATTERN_CLASS_COUNT,
	       "pattern_class_names");

static const char *const timestamps_names[] = {
	[CONFIG_TIMESTAMPS_ISO8601] = "iso8601", [CONFIG_TIMESTAMPS_NONE] = "none",
};
_Static_assert(sizeof timestamps_names / sizeof timestamps_names[0] == CONFIG_TIMESTAMPS_COUNT,
	       "timestamps_names");

static const char *const rlimit_names[] = {
	[CONFIG_RLIMIT_NOFILE] = "nofile", [CONFIG_RLIMIT_NPROC] = "nproc", [CONFIG_RLIMIT_CORE] = "core",
	[CONFIG_RLIMIT_AS] = "as", [CONFIG_RLIMIT_MEMLOCK] = "memlock", [CONFIG_RLIMIT_STACK] = "stack",
	[CONFIG_RLIMIT_CPU] = "cpu", [CONFIG_RLIMIT_FSIZE] = "fsize", [CONFIG_RLIMIT_DATA] = "data",
};
_Static_assert(sizeof rlimit_names / sizeof rlimit_names[0] == CONFIG_RLIMIT_COUNT, "rlimit_names");

static const int rlimit_resources[] = {
	[CONFIG_RLIMIT_NOFILE] = RLIMIT_NOFILE, [CONFIG_RLIMIT_NPROC] = RLIMIT_NPROC,
	[CONFIG_RLIMIT_CORE] = RLIMIT_CORE, [CONFIG_RLIMIT_AS] = RLIMIT_AS,
	[CONFIG_RLIMIT_MEMLOCK] = RLIMIT_MEMLOCK, [CONFIG_RLIMIT_STACK] = RLIMIT_STACK,
	[CONFIG_RLIMIT_CPU] = RLIMIT_CPU, [CONFIG_RLIMIT_FSIZE] = RLIMIT_FSIZE,
	[CONFIG_RLIMIT_DATA] = RLIMIT_DATA,
};
_Static_assert(sizeof rlimit_resources / sizeof rlimit_resources[0] == CONFIG_RLIMIT_COUNT, "rlimit_resources");

static const char *const change_names[] = {
	[CONFIG_UNCHANGED] = "unchanged", [CONFIG_ADDED] = "added", [CONFIG_REMOVED] = "removed",
	[CONFIG_CHANGED_PROCESS] = "changed-process", [CONFIG_CHANGED_INPLACE] = "changed-inplace",
};
_Static_assert(sizeof change_names / sizeof change_names[0] == CONFIG_CHANGE_COUNT, "change_names");

static const char *table_name(const char *const *names, size_t n, unsigned v)
{
	return v < n && names[v] ? names[v] : "?";
}

#define NAME_FN(fn, type, table)                                                 \
	const char *fn(type v)                                                   \
	{                                                                        \
		return table_name(table, sizeof table / sizeof table[0], (unsigned)v); \
	}
NAME_FN(config_console_name, enum config_console, console_names)
NAME_FN(config_ready_name, enum config_ready, ready_names)
NAME_FN(config_policy_name, enum config_policy, policy_names)
NAME_FN(config_backoff_name, enum config_backoff, backoff_names)
NAME_FN(config_health_kind_name, enum config_health_kind, health_kind_names)
NAME_FN(config_token_format_name, enum config_token_format, format_names)
NAME_FN(config_pattern_class_name, enum config_pattern_class, pattern_class_names)
NAME_FN(config_timestamps_name, enum config_timestamps, timestamps_names)
NAME_FN(config_rlimit_name, enum config_rlimit_key, rlimit_names)
NAME_FN(config_change_name, enum config_change, change_names)

/* ------------------------------------------------------------------ sections and keys */

enum section { SEC_NINES, SEC_ALERT, SEC_SERVICE, SEC_RESTART, SEC_HEALTH, SEC_AUTH, SEC_LOG, SEC_NOTIFY,
	       SEC_COUNT };
#define SEC_NONE (-1)    /* before the first section header */
#define SEC_UNKNOWN (-2) /* inside an unknown section (already reported) */

static const char *const section_names[] = {
	[SEC_NINES] = "nines", [SEC_ALERT] = "alert", [SEC_SERVICE] = "service", [SEC_RESTART] = "restart",
	[SEC_HEALTH] = "health", [SEC_AUTH] = "auth", [SEC_LOG] = "log", [SEC_NOTIFY] = "notify",
};
_Static_assert(sizeof section_names / sizeof section_names[0] == SEC_COUNT, "section_names");

enum key {
	K_SERVICES_DIR, K_RUN_DIR, K_STATE_DIR, K_LOG_DIR, K_CONSOLE, K_CONTROL_GROUP, K_STATUS_GROUP,
	K_SHUTDOWN_TIMEOUT, K_WATCHDOG_DEVICE,
	K_ALERT_EXEC, K_ALERT_WEBHOOK,
	K_COMMAND, K_DIRECTORY, K_USER, K_GROUP, K_ENV, K_ENV_FILE, K_AFTER, K_STOP_SIGNAL, K_STOP_TIMEOUT,
	K_CAPABILITIES, K_READY, K_UMASK, K_PIDFILE, K_LOCKFILE,
	K_RLIMIT_NOFILE, K_RLIMIT_NPROC, K_RLIMIT_CORE, K_RLIMIT_AS, K_RLIMIT_MEMLOCK, K_RLIMIT_STACK,
	K_RLIMIT_CPU, K_RLIMIT_FSIZE, K_RLIMIT_DATA,
	K_POLICY, K_DELAY, K_BACKOFF, K_MAX_DELAY, K_JITTER, K_RESET_AFTER, K_LIMIT, K_NO_RESTART_EXIT_CODES,
	K_MAX_LIFETIME,
	K_HEALTH_URL, K_HEALTH_EXEC, K_HEALTH_TCP, K_INTERVAL, K_TIMEOUT, K_START_PERIOD, K_RETRIES, K_EXPECT, K_HEALTH_CA, K_HEALTH_INSECURE,
	K_TOKEN_FILE, K_TOKEN_ENV, K_FORMAT, K_PATTERNS, K_PATTERN, K_PROBE, K_API,
	K_LOG_FILE, K_MAX_SIZE, K_MAX_FILES, K_TIMESTAMPS, K_REDACT,
	K_WATCHDOG,
	K_COUNT
};
_Static_assert(K_RLIMIT_DATA - K_RLIMIT_NOFILE + 1 == CONFIG_RLIMIT_COUNT,
	       "rlimit keys must follow enum config_rlimit_key");

struct key_def {
	enum section sec;
	const char *name;
	bool repeat; /* may appear more than once; each continuation line is another entry */
};

static const struct key_def keys[] = {
	[K_SERVICES_DIR] = { SEC_NINES, "services_dir", false },
	[K_RUN_DIR] = { SEC_NINES, "run_dir", false },
	[K_STATE_DIR] = { SEC_NINES, "state_dir", false },
	[K_LOG_DIR] = { SEC_NINES, "log_dir", false },
	[K_CONSOLE] = { SEC_NINES, "console", false },
	[K_CONTROL_GROUP] = { SEC_NINES, "control_group", false },
	[K_STATUS_GROUP] = { SEC_NINES, "status_group", false },
	[K_SHUTDOWN_TIMEOUT] = { SEC_NINES, "shutdown_timeout", false },
	[K_WATCHDOG_DEVICE] = { SEC_NINES, "watchdog_device", false },
	[K_ALERT_EXEC] = { SEC_ALERT, "exec", false },
	[K_ALERT_WEBHOOK] = { SEC_ALERT, "webhook", false },
	[K_COMMAND] = { SEC_SERVICE, "command", false },
	[K_DIRECTORY] = { SEC_SERVICE, "directory", false },
	[K_USER] = { SEC_SERVICE, "user", false },
	[K_GROUP] = { SEC_SERVICE, "group", false },
	[K_ENV] = { SEC_SERVICE, "env", true },
	[K_ENV_FILE] = { SEC_SERVICE, "env_file", false },
	[K_AFTER] = { SEC_SERVICE, "after", false },
	[K_STOP_SIGNAL] = { SEC_SERVICE, "stop_signal", false },
	[K_STOP_TIMEOUT] = { SEC_SERVICE, "stop_timeout", false },
	[K_CAPABILITIES] = { SEC_SERVICE, "capabilities", false },
	[K_READY] = { SEC_SERVICE, "ready", false },
	[K_UMASK] = { SEC_SERVICE, "umask", false },
	[K_PIDFILE] = { SEC_SERVICE, "pidfile", false },
	[K_LOCKFILE] = { SEC_SERVICE, "lockfile", false },
	[K_RLIMIT_NOFILE] = { SEC_SERVICE, "rlimit_nofile", false },
	[K_RLIMIT_NPROC] = { SEC_SERVICE, "rlimit_nproc", false },
	[K_RLIMIT_CORE] = { SEC_SERVICE, "rlimit_core", false },
	[K_RLIMIT_AS] = { SEC_SERVICE, "rlimit_as", false },
	[K_RLIMIT_MEMLOCK] = { SEC_SERVICE, "rlimit_memlock", false },
	[K_RLIMIT_STACK] = { SEC_SERVICE, "rlimit_stack", false },
	[K_RLIMIT_CPU] = { SEC_SERVICE, "rlimit_cpu", false },
	[K_RLIMIT_FSIZE] = { SEC_SERVICE, "rlimit_fsize", false },
	[K_RLIMIT_DATA] = { SEC_SERVICE, "rlimit_data", false },
	[K_POLICY] = { SEC_RESTART, "policy", false },
	[K_DELAY] = { SEC_RESTART, "delay", false },
	[K_BACKOFF] = { SEC_RESTART, "backoff", false },
	[K_MAX_DELAY] = { SEC_RESTART, "max_delay", false },
	[K_JITTER] = { SEC_RESTART, "jitter", false },
	[K_RESET_AFTER] = { SEC_RESTART, "reset_after", false },
	[K_LIMIT] = { SEC_RESTART, "limit", false },
	[K_NO_RESTART_EXIT_CODES] = { SEC_RESTART, "no_restart_exit_codes", false },
	[K_MAX_LIFETIME] = { SEC_RESTART, "max_lifetime", false },
	[K_HEALTH_URL] = { SEC_HEALTH, "url", false },
	[K_HEALTH_EXEC] = { SEC_HEALTH, "exec", false },
	[K_HEALTH_TCP] = { SEC_HEALTH, "tcp", false },
	[K_INTERVAL] = { SEC_HEALTH, "interval", false },
	[K_TIMEOUT] = { SEC_HEALTH, "timeout", false },
	[K_START_PERIOD] = { SEC_HEALTH, "start_period", false },
	[K_RETRIES] = { SEC_HEALTH, "retries", false },
	[K_EXPECT] = { SEC_HEALTH, "expect", false },
	[K_HEALTH_CA] = { SEC_HEALTH, "ca", false },
	[K_HEALTH_INSECURE] = { SEC_HEALTH, "insecure", false },
	[K_TOKEN_FILE] = { SEC_AUTH, "token_file", false },
	[K_TOKEN_ENV] = { SEC_AUTH, "token_env", false },
	[K_FORMAT] = { SEC_AUTH, "format", false },
	[K_PATTERNS] = { SEC_AUTH, "patterns", false },
	[K_PATTERN] = { SEC_AUTH, "pattern", true },
	[K_PROBE] = { SEC_AUTH, "probe", false },
	[K_API] = { SEC_AUTH, "api", false },
	[K_LOG_FILE] = { SEC_LOG, "file", false },
	[K_MAX_SIZE] = { SEC_LOG, "max_size", false },
	[K_MAX_FILES] = { SEC_LOG, "max_files", false },
	[K_TIMESTAMPS] = { SEC_LOG, "timestamps", false },
	[K_REDACT] = { SEC_LOG, "redact", false },
	[K_WATCHDOG] = { SEC_NOTIFY, "watchdog", false },
};
_Static_assert(sizeof keys / sizeof keys[0] == K_COUNT, "keys[] must describe every enum key");

static int find_key(int sec, const char *name)
{
	for (int k = 0; k < K_COUNT; k++) {
		if ((int)keys[k].sec == sec && keys[k].name && strcmp(keys[k].name, name) == 0)
			return k;
	}
	return -1;
}

/* ------------------------------------------------------------------ errors */

/* State shared by one config_load() call. */
struct load {
	struct config_errors *errs;
	size_t first_err; /* errs->n when the load started */
	bool nomem;
};

static void errors_push(struct load *L, char *msg)
{
	struct config_errors *E = L->errs;

	if (!msg) {
		E->nomem = L->nomem = true;
		return;
	}
	if (E->n == E->cap) {
		size_t cap = E->cap ? E->cap * 2 : 8;
		char **m = realloc(E->msgs, cap * sizeof *m);

		if (!m) {
			free(msg);
			E->nomem = L->nomem = true;
			return;
		}
		E->msgs = m;
		E->cap = cap;
	}
	E->msgs[E->n++] = msg;
}

/* Record "path:line: message" ("path: message" when line is 0). */
__attribute__((format(printf, 4, 5))) static void err_at(struct load *L, const char *path, int line,
							 const char *fmt, ...)
{
	char text[1024], *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (line > 0)
		r = asprintf(&msg, "%s:%d: %s", path, line, text);
	else
		r = asprintf(&msg, "%s: %s", path, text);
	errors_push(L, r < 0 ? NULL : msg);
}

static size_t errors_since_start(const struct load *L)
{
	return L->errs->n - L->first_err;
}

void config_errors_free(struct config_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = errs->cap = 0;
	errs->nomem = false;
}

/* ------------------------------------------------------------------ small helpers */

static void strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Append s (taken over, freed on failure) to a NULL-terminated vector. */
static int strv_push(char ***v, size_t *n, char *s)
{
	char **nv;

	if (!s)
		return -ENOMEM;
	nv = realloc(*v, (*n + 2) * sizeof *nv);
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	nv[*n] = s;
	nv[++*n] = NULL;
	*v = nv;
	return 0;
}

static bool streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool valid_service_name(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_.-", s[i]) || !s[i])
			return false;
	}
	return true;
}

/* Environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static bool valid_env_name(const char *s, size_t n)
{
	if (n == 0 || isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------ reading one file */

enum line_kind {
	LK_BLANK,   /* blank or comment */
	LK_CONT,    /* indented continuation of the previous key's value */
	LK_SECTION, /* [name] */
	LK_KEY,     /* name = value */
	LK_BAD,     /* none of these: inih reports it as its parse error */
	LK_DROPPED  /* a key line we refused (too long): inih sees a stand-in, the handler ignores it */
};

/* One key = value as written; continuation lines already joined. */
struct entry {
	enum key key;
	int line;
	char *value;
	bool cut_comment; /* " ;" removed part of the value (hint for quoting errors) */
	bool dropped;     /* part of it was on a refused line: counts as set, is not applied */
};

/* Reader + handler state for one file. */
struct ini_file {
	struct load *L;
	const char *path;
	bool is_service;
	FILE *fp;
	char *buf;
	size_t cap;
	int lineno;
	enum line_kind kind; /* of the line just returned to inih */
	bool cut_comment;    /* that line has a " ;" comment */
	bool prev_name;      /* mirrors inih's prev_name: an indented line continues a value */
	const char *name;    /* LK_KEY: the key name in buf, name_len bytes */
	size_t name_len;
	int first_bad_line;  /* first LK_BAD line given to inih (its own error return) */
	int sec;             /* enum section, SEC_NONE or SEC_UNKNOWN */
	int sec_line[SEC_COUNT]; /* first header line of each section, 0 if absent */
	struct entry *entries;
	size_t n_entries, cap_entries;
	long last;           /* entry that continuation lines extend, -1 for none */
	int seen[K_COUNT];   /* line of the first entry of each key, 0 if absent */
};

__attribute__((format(printf, 3, 4))) static void ferr(struct ini_file *F, int line, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	err_at(F->L, F->path, line, "%s", text);
}

/* inih r55's find_chars_or_comment(): first char of chars, or ';' after whitespace, or end. */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
	bool was_space = false;

	while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s) != 0;
		s++;
	}
	return s;
}

/* A "[...]" line. quiet: the line is refused anyway, report nothing more about it. */
static void classify_section(struct ini_file *F, const char *t, bool quiet)
{
	const char *end = find_chars_or_comment(t + 1, "]"), *rest;
	size_t n = (size_t)(end - (t + 1));
	int sec = -1;

	if (*end != ']') {
		F->kind = LK_BAD;
		if (!quiet)
			ferr(F, F->lineno, "section header without closing ']'");
		return;
	}
	F->kind = LK_SECTION;
	F->prev_name = false;
	for (rest = end + 1; isspace((unsigned char)*rest); rest++)
		;
	if (*rest && *rest != ';' && *rest != '#' && !quiet)
		ferr(F, F->lineno, "unexpected text after ']'");
	for (int s = 0; s < SEC_COUNT; s++) {
		if (strlen(section_names[s]) == n && strncmp(section_names[s], t + 1, n) == 0)
			sec = s;
	}
	if (sec >= 0 && (sec >= SEC_SERVICE) != F->is_service)
		sec = -1;
	if (sec < 0) {
		if (!quiet)
			ferr(F, F->lineno, "unknown section [%.*s] (expected %s)", (int)(n > 60 ? 60 : n), t + 1,
			     F->is_service ? "[service], [restart], [health], [auth], [log] or [notify]"
					   : "[nines] or [alert]; services go in services_dir/NAME.conf");
		F->sec = SEC_UNKNOWN;
		return;
	}
	F->sec = sec;
	if (!F->sec_line[sec])
		F->sec_line[sec] = F->lineno;
}

/* Classify a line the way inih's ini_parse_stream() (r55) will treat it, and track the state
 * inih keeps between lines (prev_name, section). */
static void classify(struct ini_file *F, const char *line, bool quiet)
{
	const char *s = line, *t, *end, *name_end;

	if (F->lineno == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
	    (unsigned char)s[2] == 0xBF)
		s += 3;
	for (t = s; isspace((unsigned char)*t); t++)
		;
	F->cut_comment = false;
	if (!*t || *t == ';' || *t == '#') {
		F->kind = LK_BLANK;
		return;
	}
	if (F->prev_name && t > line) {
		F->kind = LK_CONT;
		F->cut_comment = *find_chars_or_comment(t, NULL) != '\0';
		return;
	}
	if (*t == '[') {
		classify_section(F, t, quiet);
		return;
	}
	end = find_chars_or_comment(t, "=:");
	if (*end != '=' && *end != ':') {
		F->kind = LK_BAD;
		if (!quiet)
			ferr(F, F->lineno, "expected 'key = value', a [section] header or a comment");
		return;
	}
	for (name_end = end; name_end > t && isspace((unsigned char)name_end[-1]); name_end--)
		;
	F->kind = LK_KEY;
	F->name = t;
	F->name_len = (size_t)(name_end - t);
	F->prev_name = name_end > t;
	F->cut_comment = *find_chars_or_comment(end + 1, NULL) != '\0';
}

static int add_entry(struct ini_file *F, enum key key, const char *value, bool cut_comment);

/* Remember that a key was set on a refused line, so that it is not also reported missing. */
static void note_dropped_key(struct ini_file *F)
{
	char name[64];
	int key;

	if (F->sec < 0 || F->name_len >= sizeof name)
		return;
	memcpy(name, F->name, F->name_len);
	name[F->name_len] = '\0';
	key = find_key(F->sec, name);
	if (key < 0)
		return;
	if (add_entry(F, (enum key)key, "", false) < 0)
		F->L->nomem = true;
	else
		F->entries[F->last].dropped = true;
	F->last = -1;
}

/* What inih gets instead of a line it cannot hold: a short line with the same effect on inih's
 * state (prev_name, section) but no value, so inih and classify() stay in step. */
static char *stand_in(struct ini_file *F, char *str)
{
	switch (F->kind) {
	case LK_KEY:
		note_dropped_key(F);
		F->kind = LK_DROPPED; /* its continuation lines then extend nothing */
		strcpy(str, F->name_len ? "-=\n" : "=\n"); /* empty name: inih sets no prev_name */
		break;
	case LK_SECTION:
		strcpy(str, "[-]\n"); /* our F->sec already says where keys go */
		break;
	case LK_CONT:
		if (F->last >= 0)
			F->entries[F->last].dropped = true;
		F->last = -1; /* drop the rest of a value that lost a line */
		/* fall through */
	default:
		strcpy(str, "\n");
		break;
	}
	return str;
}

/* ini_reader: one physical line per call, numbered; lines inih cannot hold are errors. */
static char *read_line(char *str, int num, void *stream)
{
	struct ini_file *F = stream;
	ssize_t got = getline(&F->buf, &F->cap, F->fp);
	size_t len;
	bool nul, too_long;

	if (got < 0) {
		if (ferror(F->fp))
			ferr(F, 0, "read error: %s", strerror(errno));
		return NULL;
	}
	if (num < 8)
		return NULL; /* never with inih's 200; stand_in() needs a few bytes */
	F->lineno++;
	len = (size_t)got;
	if (len > 0 && F->buf[len - 1] == '\n')
		F->buf[--len] = '\0';
	nul = memchr(F->buf, '\0', len) != NULL;
	/* inih offers num bytes including the NUL; a longer line would be cut and its tail
	 * parsed as a line of its own (the Debian libinih 55 behaviour we must not inherit). */
	too_long = len + 1 > (size_t)num;
	classify(F, F->buf, nul || too_long);
	if (nul || too_long) {
		if (F->kind == LK_BLANK)
			return stand_in(F, str); /* a long comment is harmless */
		if (nul)
			ferr(F, F->lineno, "NUL byte in line");
		else
			ferr(F, F->lineno, "line too long (%zu characters, at most %d): continue the value on indented lines",
			     len, num - 1);
		return stand_in(F, str);
	}
	if (F->kind == LK_BAD && !F->first_bad_line)
		F->first_bad_line = F->lineno;
	memcpy(str, F->buf, len);
	if (len + 2 <= (size_t)num)
		str[len++] = '\n';
	str[len] = '\0';
	return str;
}

static int add_entry(struct ini_file *F, enum key key, const char *value, bool cut_comment)
{
	struct entry *e;

	if (F->n_entries == F->cap_entries) {
		size_t cap = F->cap_entries ? F->cap_entries * 2 : 16;

		e = realloc(F->entries, cap * sizeof *e);
		if (!e)
			return -ENOMEM;
		F->entries = e;
		F->cap_entries = cap;
	}
	e = &F->entries[F->n_entries];
	e->value = strdup(value);
	if (!e->value)
		return -ENOMEM;
	e->key = key;
	e->line = F->lineno;
	e->cut_comment = cut_comment;
	e->dropped = false;
	F->last = (long)F->n_entries++;
	return 0;
}

/* An indented line: another entry for repeatable keys, else joined to the value with a space.
 * inih r55 does not strip " ;" comments on continuation lines; we do, for consistency. */
static int continue_entry(struct ini_file *F, const char *value)
{
	struct entry *e;
	char *v, *joined;
	size_t n;

	if (F->last < 0)
		return 0; /* continues an unknown key: already reported */
	v = strdup(value);
	if (!v)
		return -ENOMEM;
	*(char *)find_chars_or_comment(v, NULL) = '\0';
	for (n = strlen(v); n > 0 && isspace((unsigned char)v[n - 1]); n--)
		v[n - 1] = '\0';
	e = &F->entries[F->last];
	if (keys[e->key].repeat) {
		int r = *v ? add_entry(F, e->key, v, F->cut_comment) : 0;

		free(v);
		return r;
	}
	if (asprintf(&joined, "%s%s%s", e->value, *e->value && *v ? " " : "", v) < 0) {
		free(v);
		return -ENOMEM;
	}
	free(v);
	free(e->value);
	e->value = joined;
	e->cut_comment |= F->cut_comment;
	return 0;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct ini_file *F = user;
	int key, r = 0;

	(void)section; /* we track sections ourselves, untruncated */
	if (F->kind == LK_DROPPED) {
		F->last = -1;
	} else if (F->kind == LK_CONT) {
		r = continue_entry(F, value);
	} else {
		F->last = -1;
		if (F->sec == SEC_NONE) {
			ferr(F, F->lineno, "'%s' is outside of any [section]", name);
		} else if (F->sec != SEC_UNKNOWN) {
			key = find_key(F->sec, name);
			if (key < 0)
				ferr(F, F->lineno, "unknown key '%s' in [%s]", name, section_names[F->sec]);
			else
				r = add_entry(F, (enum key)key, value, F->cut_comment);
		}
	}
	if (r < 0)
		F->L->nomem = true;
	return 1; /* errors are collected, never stop inih */
}

static void ini_file_free(struct ini_file *F)
{
	for (size_t i = 0; i < F->n_entries; i++)
		free(F->entries[i].value);
	free(F->entries);
	free(F->buf);
}

/* Read path into F->entries. Returns 0, or -errno when the file cannot be opened (not reported:
 * the caller decides whether that is an error). */
static int ini_file_read(struct ini_file *F, struct load *L, const char *path, bool is_service)
{
	int r;

	memset(F, 0, sizeof *F);
	F->L = L;
	F->path = path;
	F->is_service = is_service;
	F->sec = SEC_NONE;
	F->last = -1;
	F->fp = fopen(path, "re");
	if (!F->fp)
		return -errno;
	r = ini_parse_stream(read_line, F, on_key, F);
	fclose(F->fp);
	F->fp = NULL;
	if (r == -2)
		L->nomem = true;
	else if (r > 0 && r != F->first_bad_line)
		ferr(F, r, "syntax error");
	return 0;
}

/* ------------------------------------------------------------------ value helpers */

#define EXPECT_DURATION "a duration such as 30s, 1.5s, 500ms, 5m or 1h30m (units ms s m h d; a bare number is seconds)"
#define EXPECT_SIZE "a size such as 4096, 512K, 10M or 1G"
#define EXPECT_PATH "an absolute path"
#define EXPECT_URL "an http:// or https:// URL"

/* Report a value that does not parse. The value is echoed (shortened); callers handling values
 * that may hold secrets (env) must not use this. */
static void bad_value(struct ini_file *F, const struct entry *e, const char *expected)
{
	ferr(F, e->line, "invalid %s '%.100s%s': expected %s", keys[e->key].name, e->value,
	     strlen(e->value) > 100 ? "..." : "", expected);
}

static void nomem(struct ini_file *F)
{
	F->L->nomem = true;
}

/* Replace *dst with a copy of v (NULL for v == NULL). */
static void set_str(struct ini_file *F, char **dst, const char *v)
{
	char *c = NULL;

	if (v && !(c = strdup(v))) {
		nomem(F);
		return;
	}
	free(*dst);
	*dst = c;
}

enum { OPT_EMPTY_OK = 1, OPT_NONZERO = 2 };

static void get_duration(struct ini_file *F, const struct entry *e, uint64_t *dst, unsigned opts)
{
	uint64_t v;

	if ((opts & OPT_EMPTY_OK) && !*e->value) {
		*dst = 0;
		return;
	}
	if (parse_duration_ms(e->value, &v) < 0)
		bad_value(F, e, EXPECT_DURATION);
	else if ((opts & OPT_NONZERO) && v == 0)
		bad_value(F, e, "a duration greater than 0");
	else
		*dst = v;
}

static void get_size(struct ini_file *F, const struct entry *e, uint64_t *dst)
{
	if (parse_size(e->value, dst) < 0)
		bad_value(F, e, EXPECT_SIZE);
}

static void get_uint(struct ini_file *F, const struct entry *e, unsigned lo, unsigned hi, unsigned *dst)
{
	uint64_t v;

	if (parse_uint(e->value, hi, &v) < 0 || v < lo) {
		char what[64];

		snprintf(what, sizeof what, "a whole number from %u to %u", lo, hi);
		bad_value(F, e, what);
		return;
	}
	*dst = (unsigned)v;
}

static void get_bool(struct ini_file *F, const struct entry *e, bool *dst)
{
	if (parse_bool(e->value, dst) < 0)
		bad_value(F, e, "yes or no (also true/false, on/off, 1/0)");
}

/* Index of the value in names[], or -1 (reported, listing the choices). */
static int get_enum(struct ini_file *F, const struct entry *e, const char *const *names, size_t n)
{
	char what[256] = "one of ";

	for (size_t i = 0; i < n; i++) {
		if (strcmp(e->value, names[i]) == 0)
			return (int)i;
	}
	for (size_t i = 0; i < n; i++) {
		strncat(what, names[i], sizeof what - strlen(what) - 1);
		strncat(what, i + 2 < n ? ", " : i + 1 < n ? " or " : "", sizeof what - strlen(what) - 1);
	}
	bad_value(F, e, what);
	return -1;
}

/* A path: absolute, or relative to base when base is not NULL. Empty gives NULL with
 * OPT_EMPTY_OK. */
static void get_path(struct ini_file *F, const struct entry *e, char **dst, const char *base, unsigned opts)
{
	char *p;

	if (!*e->value) {
		if (opts & OPT_EMPTY_OK)
			set_str(F, dst, NULL);
		else
			bad_value(F, e, base ? "a path" : EXPECT_PATH);
		return;
	}
	if (e->value[0] == '/' || !base) {
		if (e->value[0] != '/')
			bad_value(F, e, EXPECT_PATH);
		else
			set_str(F, dst, e->value);
		return;
	}
	if (asprintf(&p, "%s/%s", base, e->value) < 0) {
		nomem(F);
		return;
	}
	free(*dst);
	*dst = p;
}

static bool valid_url(const char *v)
{
	size_t skip;

	if (strncasecmp(v, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(v, "https://", 8) == 0)
		skip = 8;
	else
		return false;
	if (!v[skip] || v[skip] == '/')
		return false;
	for (; *v; v++) {
		if (isspace((unsigned char)*v) || iscntrl((unsigned char)*v))
			return false;
	}
	return true;
}

static void get_url(struct ini_file *F, const struct entry *e, char **dst, unsigned opts)
{
	if ((opts & OPT_EMPTY_OK) && !*e->value)
		set_str(F, dst, NULL);
	else if (!valid_url(e->value))
		bad_value(F, e, EXPECT_URL);
	else
		set_str(F, dst, e->value);
}

/* A command line split into words (words.h). Empty gives NULL with OPT_EMPTY_OK. */
static void get_command(struct ini_file *F, const struct entry *e, char **raw, char ***argv, size_t *argc,
			unsigned opts)
{
	struct words_error we;
	char **v = NULL;
	size_t n = 0;
	int r;

	if ((opts & OPT_EMPTY_OK) && !*e->value) {
		set_str(F, raw, NULL);
		return;
	}
	r = words_split(e->value, &v, &n, &we);
	if (r == -ENOMEM) {
		nomem(F);
		return;
	}
	if (r < 0) {
		ferr(F, e->line, "invalid %s: %s%s%s", keys[e->key].name, words_strerror(we.status),
		     we.status == WORDS_EMPTY ? " (expected a program and its arguments)" : "",
		     e->cut_comment ? " (note: ' ;' starts a comment; write ';' without a blank before it)" : "");
		return;
	}
	if (!v[0][0]) {
		ferr(F, e->line, "invalid %s: empty program name", keys[e->key].name);
		words_free(v);
		return;
	}
	set_str(F, raw, e->value);
	words_free(*argv);
	*argv = v;
	if (argc)
		*argc = n;
}

/* passwd/group lookups with the reentrant calls: 0, -ENOENT when there is no entry, -errno. */
static int lookup_passwd(const char *name, uid_t id, uid_t *uid, gid_t *gid)
{
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t cap = hint > 0 ? (size_t)hint : 1024;

	for (;;) {
		struct passwd pw, *res = NULL;
		char *buf = malloc(cap);
		int r;

		if (!buf)
			return -ENOMEM;
		r = name ? getpwnam_r(name, &pw, buf, cap, &res) : getpwuid_r(id, &pw, buf, cap, &res);
		if (r == 0 && res) {
			*uid = pw.pw_uid;
			*gid = pw.pw_gid;
		}
		free(buf);
		if (r == ERANGE && cap < (1u << 20)) {
			cap *= 2;
			continue;
		}
		return r ? -r : res ? 0 : -ENOENT;
	}
}

static int lookup_group(const char *name, gid_t *gid)
{
	long hint = sysconf(_SC_GETGR_R_SIZE_MAX);
	size_t cap = hint > 0 ? (size_t)hint : 1024;

	for (;;) {
		struct group gr, *res = NULL;
		char *buf = malloc(cap);
		int r;

		if (!buf)
			return -ENOMEM;
		r = getgrnam_r(name, &gr, buf, cap, &res);
		if (r == 0 && res)
			*gid = gr.gr_gid;
		free(buf);
		if (r == ERANGE && cap < (1u << 20)) {
			cap *= 2;
			continue;
		}
		return r ? -r : res ? 0 : -ENOENT;
	}
}

/* A group name or numeric gid. Empty gives NULL with OPT_EMPTY_OK. True when a group was set. */
static bool get_group(struct ini_file *F, const struct entry *e, char **name, gid_t *gid, unsigned opts)
{
	uint64_t id;
	gid_t g = 0;
	int r;

	if (!*e->value) {
		if (opts & OPT_EMPTY_OK)
			set_str(F, name, NULL);
		else
			bad_value(F, e, "a group name or gid");
		return false;
	}
	if (parse_uint(e->value, UINT32_MAX - 1, &id) == 0) {
		g = (gid_t)id; /* numeric ids need no group entry (containers) */
	} else if ((r = lookup_group(e->value, &g)) < 0) {
		if (r == -ENOMEM)
			nomem(F);
		else if (r == -ENOENT)
			ferr(F, e->line, "unknown group '%.100s'", e->value);
		else
			ferr(F, e->line, "cannot look up group '%.100s': %s", e->value, strerror(-r));
		return false;
	}
	set_str(F, name, e->value);
	*gid = g;
	return true;
}

/* Iterate the items of a comma/blank separated list in a writable copy. */
static char *list_next(char **save, char *copy)
{
	return strtok_r(copy, ", \t", save);
}

/* ------------------------------------------------------------------ main config */

static int main_defaults(struct config_main *m)
{
	memset(m, 0, sizeof *m);
	m->services_dir = strdup("/etc/nines/services");
	m->run_dir = strdup("/run/nines");
	m->state_dir = strdup("/var/lib/nines");
	m->log_dir = strdup("/var/log/nines");
	m->console = CONFIG_CONSOLE_AUTO;
	m->shutdown_timeout_ms = 30 * 1000;
	if (!m->services_dir || !m->run_dir || !m->state_dir || !m->log_dir)
		return -ENOMEM;
	return 0;
}

static void main_free(struct config_main *m)
{
	free(m->path);
	free(m->services_dir);
	free(m->run_dir);
	free(m->state_dir);
	free(m->log_dir);
	free(m->control_group);
	free(m->status_group);
	free(m->alert_exec);
	words_free(m->alert_argv);
	free(m->alert_webhook);
	free(m->watchdog_device);
}

static void apply_main(struct ini_file *F, const struct entry *e, struct config_main *m, const char *base)
{
	int i;

	switch (e->key) {
	case K_SERVICES_DIR: get_path(F, e, &m->services_dir, base, 0); break;
	case K_RUN_DIR: get_path(F, e, &m->run_dir, base, 0); break;
	case K_STATE_DIR: get_path(F, e, &m->state_dir, base, 0); break;
	case K_LOG_DIR: get_path(F, e, &m->log_dir, base, 0); break;
	case K_CONSOLE:
		if ((i = get_enum(F, e, console_names, CONFIG_CONSOLE_COUNT)) >= 0)
			m->console = (enum config_console)i;
		break;
	case K_CONTROL_GROUP: get_group(F, e, &m->control_group, &m->control_gid, OPT_EMPTY_OK); break;
	case K_STATUS_GROUP: get_group(F, e, &m->status_group, &m->status_gid, OPT_EMPTY_OK); break;
	case K_SHUTDOWN_TIMEOUT: get_duration(F, e, &m->shutdown_timeout_ms, 0); break;
	case K_WATCHDOG_DEVICE: get_path(F, e, &m->watchdog_device, base, OPT_EMPTY_OK); break;
	case K_ALERT_EXEC: get_command(F, e, &m->alert_exec, &m->alert_argv, NULL, OPT_EMPTY_OK); break;
	case K_ALERT_WEBHOOK: get_url(F, e, &m->alert_webhook, OPT_EMPTY_OK); break;
	default: break; /* find_key() only returns keys of [nines] and [alert] here */
	}
}

/* Directory of path, absolute when possible: relative paths in nines.conf are relative to it. */
static char *config_dir(const char *path)
{
	char *rp = realpath(path, NULL), *d, *slash;

	d = rp ? rp : strdup(path);
	if (!d)
		return NULL;
	slash = strrchr(d, '/');
	if (!slash)
		strcpy(d, ".");
	else if (slash == d)
		d[1] = '\0';
	else
		*slash = '\0';
	return d;
}

typedef void apply_fn(struct ini_file *F, const struct entry *e, void *ctx);

/* Apply every entry in file order; a second entry of a non-repeatable key is an error. */
static void apply_all(struct ini_file *F, apply_fn *apply, void *ctx)
{
	for (size_t i = 0; i < F->n_entries; i++) {
		const struct entry *e = &F->entries[i];

		if (F->seen[e->key] && !keys[e->key].repeat) {
			ferr(F, e->line, "duplicate key '%s' (first set at line %d)", keys[e->key].name,
			     F->seen[e->key]);
			continue;
		}
		if (!F->seen[e->key])
			F->seen[e->key] = e->line;
		if (!e->dropped)
			apply(F, e, ctx);
	}
}

struct main_load {
	struct config_main *m;
	const char *base;
};

static void apply_main_cb(struct ini_file *F, const struct entry *e, void *ctx)
{
	struct main_load *M = ctx;

	apply_main(F, e, M->m, M->base);
}

/* Load the main config into m (defaults already set); *dir_line is the line of services_dir=
 * (0 when absent). Returns -1 when the file could not be opened (reported), else 0. */
static int load_main(struct load *L, const char *path, unsigned flags, struct config_main *m, int *dir_line)
{
	struct ini_file F;
	struct main_load M = { m, NULL };
	char *base;
	int r = ini_file_read(&F, L, path, false);

	*dir_line = 0;
	if (r == -ENOENT && (flags & CONFIG_MAIN_OPTIONAL))
		return 0;
	if (r < 0) {
		err_at(L, path, 0, "cannot open: %s", strerror(-r));
		return -1;
	}
	base = config_dir(path);
	m->path = strdup(path);
	if (!base || !m->path) {
		L->nomem = true;
	} else {
		M.base = base;
		apply_all(&F, apply_main_cb, &M);
	}
	*dir_line = F.seen[K_SERVICES_DIR];
	free(base);
	ini_file_free(&F);
	return 0;
}

/* ------------------------------------------------------------------ service files */

/* Per-file state while a service is being loaded. */
struct svc_load {
	struct config_service *s;
	const struct config_main *m;
	gid_t user_gid;       /* primary group of `user`, when it has a passwd entry */
	bool user_gid_known;
	size_t pattern_cap;   /* patterns[] is allocated once: regex_t is not promised to be movable */
};

static void get_user(struct ini_file *F, const struct entry *e, struct svc_load *S)
{
	struct config_service *s = S->s;
	uint64_t id;
	uid_t uid = 0;
	gid_t gid = 0;
	int r;

	if (!*e->value) {
		bad_value(F, e, "a user name or uid");
		return;
	}
	if (parse_uint(e->value, UINT32_MAX - 1, &id) == 0) {
		/* A numeric uid needs no passwd entry (containers); use its group if it has one. */
		r = lookup_passwd(NULL, (uid_t)id, &uid, &gid);
		uid = (uid_t)id;
		S->user_gid_known = r == 0;
		if (r == -ENOENT)
			r = 0;
	} else {
		r = lookup_passwd(e->value, 0, &uid, &gid);
		S->user_gid_known = r == 0;
	}
	if (r == -ENOMEM) {
		nomem(F);
		return;
	}
	if (r < 0) {
		if (r == -ENOENT)
			ferr(F, e->line, "unknown user '%.100s'", e->value);
		else
			ferr(F, e->line, "cannot look up user '%.100s': %s", e->value, strerror(-r));
		return;
	}
	S->user_gid = gid;
	set_str(F, &s->user, e->value);
	s->uid = uid;
	s->has_uid = true;
}

/* env = KEY=VALUE. The value is never echoed in errors: it may be a secret. */
static void get_env(struct ini_file *F, const struct entry *e, struct config_service *s)
{
	const char *eq = strchr(e->value, '=');

	if (!eq) {
		ferr(F, e->line, "invalid env: expected KEY=VALUE");
		return;
	}
	if (!valid_env_name(e->value, (size_t)(eq - e->value))) {
		ferr(F, e->line, "invalid env name '%.*s': expected letters, digits and '_', not starting with a digit",
		     (int)((eq - e->value) > 100 ? 100 : eq - e->value), e->value);
		return;
	}
	if (strv_push(&s->env, &s->n_env, strdup(e->value)) < 0)
		nomem(F);
}

static void get_after(struct ini_file *F, const struct entry *e, struct config_service *s)
{
	char *copy = strdup(e->value), *save = NULL, *tok;
	bool dup;

	if (!copy) {
		nomem(F);
		return;
	}
	for (tok = list_next(&save, copy); tok; tok = list_next(&save, NULL)) {
		if (!valid_service_name(tok, strlen(tok))) {
			ferr(F, e->line, "invalid after '%.100s': expected service names ([a-z0-9_.-]+)", tok);
			continue;
		}
		dup = false;
		for (size_t i = 0; i < s->n_after; i++)
			dup |= strcmp(s->after[i], tok) == 0;
		if (!dup && strv_push(&s->after, &s->n_after, strdup(tok)) < 0)
			nomem(F);
	}
	free(copy);
}

/* One capability name: "CAP_NET_BIND_SERVICE", "cap_chown" or "NET_RAW". Numbers are refused
 * (cap_from_name(3) would take them) so that files stay readable. */
static int cap_lookup(const char *tok, cap_value_t *v)
{
	char buf[64];

	if (isdigit((unsigned char)tok[0]))
		return -EINVAL;
	if (cap_from_name(tok, v) == 0)
		return 0;
	if (strncasecmp(tok, "cap_", 4) == 0 || strlen(tok) > sizeof buf - 5)
		return -EINVAL;
	snprintf(buf, sizeof buf, "cap_%s", tok);
	return cap_from_name(buf, v) == 0 ? 0 : -EINVAL;
}

static int cap_cmp(const void *a, const void *b)
{
	cap_value_t x = *(const cap_value_t *)a, y = *(const cap_value_t *)b;

	return (x > y) - (x < y);
}

static void get_caps(struct ini_file *F, const struct entry *e, struct config_service *s)
{
	char *copy = strdup(e->value), *save = NULL, *tok;
	cap_value_t v, *nv;

	if (!copy) {
		nomem(F);
		return;
	}
	for (tok = list_next(&save, copy); tok; tok = list_next(&save, NULL)) {
		if (cap_lookup(tok, &v) < 0) {
			ferr(F, e->line, "unknown capability '%.100s' (expected names such as CAP_NET_BIND_SERVICE)", tok);
			continue;
		}
		nv = realloc(s->caps, (s->n_caps + 1) * sizeof *nv);
		if (!nv) {
			nomem(F);
			break;
		}
		s->caps = nv;
		s->caps[s->n_caps++] = v;
	}
	free(copy);
	if (s->n_caps > 1) {
		size_t out = 1;

		qsort(s->caps, s->n_caps, sizeof *s->caps, cap_cmp);
		for (size_t i = 1; i < s->n_caps; i++) {
			if (s->caps[i] != s->caps[out - 1])
				s->caps[out++] = s->caps[i];
		}
		s->n_caps = out;
	}
}

static void get_rlimit(struct ini_file *F, const struct entry *e, struct config_service *s)
{
	struct config_rlimit *rl = &s->rlimits[e->key - K_RLIMIT_NOFILE];

	if (parse_rlimit(e->value, &rl->value) < 0) {
		bad_value(F, e, "a limit such as 4096, 64M or infinity, or SOFT:HARD with soft <= hard");
		return;
	}
	rl->set = true;
}

static void apply_service(struct ini_file *F, const struct entry *e, struct svc_load *S)
{
	struct config_service *s = S->s;
	int i;

	switch (e->key) {
	case K_COMMAND: get_command(F, e, &s->command, &s->argv, &s->argc, 0); break;
	case K_DIRECTORY: get_path(F, e, &s->directory, NULL, 0); break;
	case K_USER: get_user(F, e, S); break;
	case K_GROUP: s->has_gid |= get_group(F, e, &s->group, &s->gid, 0); break;
	case K_ENV: get_env(F, e, s); break;
	case K_ENV_FILE: get_path(F, e, &s->env_file, NULL, 0); break;
	case K_AFTER: get_after(F, e, s); break;
	case K_STOP_SIGNAL:
		if (parse_signal(e->value, &s->stop_signal) < 0)
			bad_value(F, e, "a signal name or number such as TERM, SIGINT or 15");
		break;
	case K_STOP_TIMEOUT: get_duration(F, e, &s->stop_timeout_ms, 0); break;
	case K_CAPABILITIES: get_caps(F, e, s); break;
	case K_READY:
		if ((i = get_enum(F, e, ready_names, CONFIG_READY_COUNT)) >= 0)
			s->ready = (enum config_ready)i;
		break;
	case K_UMASK:
		s->has_umask = false;
		if (*e->value && parse_umask(e->value, &s->umask) < 0)
			bad_value(F, e, "an octal umask such as 022 or 0027");
		else
			s->has_umask = *e->value != '\0';
		break;
	case K_PIDFILE: get_path(F, e, &s->pidfile, NULL, OPT_EMPTY_OK); break;
	case K_LOCKFILE: get_path(F, e, &s->lockfile, NULL, OPT_EMPTY_OK); break;
	default:
		if (e->key >= K_RLIMIT_NOFILE && e->key <= K_RLIMIT_DATA)
			get_rlimit(F, e, s);
		break;
	}
}

static void apply_restart(struct ini_file *F, const struct entry *e, struct config_restart *r)
{
	int i;

	switch (e->key) {
	case K_POLICY:
		if ((i = get_enum(F, e, policy_names, CONFIG_POLICY_COUNT)) >= 0)
			r->policy = (enum config_policy)i;
		break;
	case K_DELAY: get_duration(F, e, &r->delay_ms, 0); break;
	case K_BACKOFF:
		if ((i = get_enum(F, e, backoff_names, CONFIG_BACKOFF_COUNT)) >= 0)
			r->backoff = (enum config_backoff)i;
		break;
	case K_MAX_DELAY: get_duration(F, e, &r->max_delay_ms, 0); break;
	case K_JITTER:
		if (parse_percent(e->value, &r->jitter_pct) < 0)
			bad_value(F, e, "a percentage from 0% to 100%");
		break;
	case K_RESET_AFTER: get_duration(F, e, &r->reset_after_ms, 0); break;
	case K_LIMIT:
		/* Empty, none or off: explicitly no budget (overrides the [auth] discord default). */
		r->has_limit = false;
		if (!*e->value || strcmp(e->value, "none") == 0 || strcmp(e->value, "off") == 0)
			break;
		if (parse_rate(e->value, &r->limit) < 0)
			bad_value(F, e, "COUNT/WINDOW such as 900/24h, or none");
		else
			r->has_limit = true;
		break;
	case K_NO_RESTART_EXIT_CODES:
		if (parse_exit_codes(e->value, &r->no_restart_exit_codes) < 0)
			bad_value(F, e, "exit codes from 0 to 255 separated by commas or blanks");
		break;
	case K_MAX_LIFETIME: get_duration(F, e, &r->max_lifetime_ms, OPT_EMPTY_OK); break;
	default: break;
	}
}

/* "host:port" or "[v6addr]:port", port 1..65535. */
static int parse_hostport(const char *v, char **host, uint16_t *port)
{
	const char *colon, *hb = v, *he;
	uint64_t p;

	if (v[0] == '[') {
		he = strchr(v, ']');
		if (!he || he[1] != ':')
			return -EINVAL;
		hb = v + 1;
		colon = he + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon || memchr(v, ':', (size_t)(colon - v)))
			return -EINVAL;
		he = colon;
	}
	if (he == hb || parse_uint(colon + 1, 65535, &p) < 0 || p == 0)
		return -EINVAL;
	for (const char *c = hb; c < he; c++) {
		if (isspace((unsigned char)*c) || iscntrl((unsigned char)*c))
			return -EINVAL;
	}
	*host = strndup(hb, (size_t)(he - hb));
	if (!*host)
		return -ENOMEM;
	*port = (uint16_t)p;
	return 0;
}

static bool ip_or_localhost(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return !strcmp(host, "localhost") || inet_pton(AF_INET, host, buf) == 1 ||
	       inet_pton(AF_INET6, host, buf) == 1;
}

static void set_check(struct ini_file *F, const struct entry *e, struct config_health *h)
{
	static const enum key check_keys[] = { K_HEALTH_URL, K_HEALTH_EXEC, K_HEALTH_TCP };
	int r;

	if (h->kind != CONFIG_HEALTH_NONE) {
		for (size_t i = 0; i < sizeof check_keys / sizeof check_keys[0]; i++) {
			if (check_keys[i] != e->key && F->seen[check_keys[i]])
				ferr(F, e->line, "only one of url, exec or tcp may be set (%s is set at line %d)",
				     keys[check_keys[i]].name, F->seen[check_keys[i]]);
		}
		return;
	}
	switch (e->key) {
	case K_HEALTH_URL:
		get_url(F, e, &h->target, 0);
		if (h->target)
			h->kind = CONFIG_HEALTH_URL;
		break;
	case K_HEALTH_EXEC:
		get_command(F, e, &h->target, &h->argv, NULL, 0);
		if (h->argv)
			h->kind = CONFIG_HEALTH_EXEC;
		break;
	default:
		r = parse_hostport(e->value, &h->host, &h->port);
		if (r == 0 && !ip_or_localhost(h->host))
			r = -EINVAL; /* resolving a name could block the loop: TCP checks take addresses */
		if (r == -ENOMEM)
			nomem(F);
		else if (r < 0)
			bad_value(F, e, "IP:PORT such as 127.0.0.1:8080, [::1]:8080 or localhost:8080");
		else
			set_str(F, &h->target, e->value);
		if (r == 0)
			h->kind = CONFIG_HEALTH_TCP;
		break;
	}
}

static void apply_health(struct ini_file *F, const struct entry *e, struct config_health *h)
{
	switch (e->key) {
	case K_HEALTH_URL:
	case K_HEALTH_EXEC:
	case K_HEALTH_TCP: set_check(F, e, h); break;
	case K_INTERVAL: get_duration(F, e, &h->interval_ms, OPT_NONZERO); break;
	case K_TIMEOUT: get_duration(F, e, &h->timeout_ms, OPT_NONZERO); break;
	case K_START_PERIOD: get_duration(F, e, &h->start_period_ms, 0); break;
	case K_RETRIES: get_uint(F, e, 1, 1000000, &h->retries); break;
	case K_EXPECT:
		if (parse_http_ranges(e->value, &h->expect) < 0)
			bad_value(F, e, "HTTP status codes or ranges such as 200-399 or 200,204,301-302");
		break;
	case K_HEALTH_CA: get_path(F, e, &h->ca_file, NULL, OPT_EMPTY_OK); break;
	case K_HEALTH_INSECURE: get_bool(F, e, &h->insecure); break;
	default: break;
	}
}

/* pattern = CLASS:REGEX, compiled with regcomp(REG_EXTENDED). */
static void add_pattern(struct ini_file *F, const struct entry *e, struct svc_load *S)
{
	struct config_auth *a = &S->s->auth;
	struct config_pattern *p;
	const char *colon = strchr(e->value, ':');
	int cls = -1, r;

	for (int i = 0; colon && i < CONFIG_PATTERN_CLASS_COUNT; i++) {
		if (strlen(pattern_class_names[i]) == (size_t)(colon - e->value) &&
		    strncmp(e->value, pattern_class_names[i], (size_t)(colon - e->value)) == 0)
			cls = i;
	}
	if (cls < 0 || !colon[1]) {
		bad_value(F, e, "CLASS:REGEX with CLASS auth, config or ratelimit");
		return;
	}
	if (a->n_patterns == S->pattern_cap)
		return; /* cannot happen: counted before applying */
	p = &a->patterns[a->n_patterns];
	r = regcomp(&p->re, colon + 1, REG_EXTENDED);
	if (r != 0) {
		char msg[256];

		regerror(r, &p->re, msg, sizeof msg); /* no regfree(): p->re is unspecified after failure */
		ferr(F, e->line, "invalid pattern '%.100s': %s", colon + 1, msg);
		return;
	}
	p->source = strdup(colon + 1);
	if (!p->source) {
		regfree(&p->re);
		nomem(F);
		return;
	}
	p->cls = (enum config_pattern_class)cls;
	a->n_patterns++;
}

static void apply_auth(struct ini_file *F, const struct entry *e, struct svc_load *S)
{
	struct config_auth *a = &S->s->auth;
	int i;

	switch (e->key) {
	case K_TOKEN_FILE: get_path(F, e, &a->token_file, NULL, 0); break;
	case K_TOKEN_ENV:
		if (!valid_env_name(e->value, strlen(e->value)))
			bad_value(F, e, "an environment variable name");
		else
			set_str(F, &a->token_env, e->value);
		break;
	case K_FORMAT:
		if ((i = get_enum(F, e, format_names, CONFIG_FORMAT_COUNT)) >= 0)
			a->format = (enum config_token_format)i;
		break;
	case K_PATTERNS:
		if (strcmp(e->value, "default") == 0 || strcmp(e->value, "none") == 0)
			a->default_patterns = strcmp(e->value, "default") == 0;
		else
			bad_value(F, e, "default or none");
		break;
	case K_PATTERN: add_pattern(F, e, S); break;
	case K_PROBE: get_bool(F, e, &a->probe); break;
	case K_API: get_url(F, e, &a->api, 0); break;
	default: break;
	}
}

static void apply_log(struct ini_file *F, const struct entry *e, struct config_log *l)
{
	int i;

	switch (e->key) {
	case K_LOG_FILE: get_path(F, e, &l->file, NULL, OPT_EMPTY_OK); break;
	case K_MAX_SIZE: get_size(F, e, &l->max_size); break;
	case K_MAX_FILES: get_uint(F, e, 0, 1000, &l->max_files); break;
	case K_TIMESTAMPS:
		if ((i = get_enum(F, e, timestamps_names, CONFIG_TIMESTAMPS_COUNT)) >= 0)
			l->timestamps = (enum config_timestamps)i;
		break;
	case K_REDACT: get_bool(F, e, &l->redact); break;
	default: break;
	}
}

static void apply_service_cb(struct ini_file *F, const struct entry *e, void *ctx)
{
	struct svc_load *S = ctx;

	switch (keys[e->key].sec) {
	case SEC_SERVICE: apply_service(F, e, S); break;
	case SEC_RESTART: apply_restart(F, e, &S->s->restart); break;
	case SEC_HEALTH: apply_health(F, e, &S->s->health); break;
	case SEC_AUTH: apply_auth(F, e, S); break;
	case SEC_LOG: apply_log(F, e, &S->s->log); break;
	case SEC_NOTIFY: get_duration(F, e, &S->s->watchdog_ms, OPT_EMPTY_OK); break;
	default: break;
	}
}

static int service_init(struct config_service *s, const char *name, size_t name_len, const char *path)
{
	memset(s, 0, sizeof *s);
	s->name = strndup(name, name_len);
	s->path = strdup(path);
	s->stop_signal = SIGTERM;
	s->stop_timeout_ms = 10 * 1000;
	s->ready = CONFIG_READY_STARTED;
	for (int i = 0; i < CONFIG_RLIMIT_COUNT; i++)
		s->rlimits[i].resource = rlimit_resources[i];
	s->restart = (struct config_restart){
		.policy = CONFIG_POLICY_ALWAYS,
		.delay_ms = 100,
		.backoff = CONFIG_BACKOFF_EXPONENTIAL,
		.max_delay_ms = 5 * 60 * 1000,
		.jitter_pct = 20,
		.reset_after_ms = 10 * 60 * 1000,
	};
	s->health.interval_ms = 10 * 1000;
	s->health.timeout_ms = 2 * 1000;
	s->health.retries = 3;
	s->health.expect.n = 1;
	s->health.expect.r[0] = (struct parse_http_range){ 200, 399 };
	s->auth.token_env = strdup("DISCORD_TOKEN");
	s->auth.format = CONFIG_FORMAT_DISCORD;
	s->auth.default_patterns = true;
	s->auth.api = strdup("https://discord.com/api/v10");
	s->log.max_size = 10 * 1024 * 1024;
	s->log.max_files = 5;
	s->log.timestamps = CONFIG_TIMESTAMPS_ISO8601;
	s->log.redact = true;
	if (!s->name || !s->path || !s->auth.token_env || !s->auth.api)
		return -ENOMEM;
	return 0;
}

static void service_free(struct config_service *s)
{
	free(s->name);
	free(s->path);
	free(s->command);
	words_free(s->argv);
	free(s->directory);
	free(s->user);
	free(s->group);
	strv_free(s->env, s->n_env);
	free(s->env_file);
	strv_free(s->after, s->n_after);
	free(s->caps);
	free(s->pidfile);
	free(s->lockfile);
	free(s->health.target);
	free(s->health.ca_file);
	words_free(s->health.argv);
	free(s->health.host);
	free(s->auth.token_file);
	free(s->auth.token_env);
	for (size_t i = 0; i < s->auth.n_patterns; i++) {
		free(s->auth.patterns[i].source);
		regfree(&s->auth.patterns[i].re);
	}
	free(s->auth.patterns);
	free(s->auth.api);
	free(s->log.file);
}

/* Checks and defaults that depend on several keys, after the whole file is applied. */
static void finish_service(struct ini_file *F, struct svc_load *S)
{
	struct config_service *s = S->s;

	if (!F->seen[K_COMMAND])
		ferr(F, F->sec_line[SEC_SERVICE], "missing command in [service]");
	if (s->has_uid && !s->has_gid) {
		if (S->user_gid_known) {
			s->gid = S->user_gid;
			s->has_gid = true;
		} else {
			ferr(F, F->seen[K_USER], "user %s has no passwd entry: set group as well", s->user);
		}
	}
	if (F->sec_line[SEC_HEALTH] && !F->seen[K_HEALTH_URL] && !F->seen[K_HEALTH_EXEC] && !F->seen[K_HEALTH_TCP])
		ferr(F, F->sec_line[SEC_HEALTH], "[health] needs one of url, exec or tcp");
	if (F->seen[K_EXPECT] && (F->seen[K_HEALTH_EXEC] || F->seen[K_HEALTH_TCP]))
		ferr(F, F->seen[K_EXPECT], "expect applies to url checks only");
	if (s->ready == CONFIG_READY_HEALTHY && !F->sec_line[SEC_HEALTH])
		ferr(F, F->seen[K_READY], "ready = healthy needs a [health] check");
	s->auth.enabled = F->sec_line[SEC_AUTH] != 0;
	if (!F->seen[K_LIMIT] && s->auth.enabled && s->auth.format == CONFIG_FORMAT_DISCORD) {
		/* Discord resets a token after 1000 IDENTIFYs a day (design: Discord facts). */
		s->restart.has_limit = true;
		s->restart.limit = (struct parse_rate){ 900, 24ULL * 3600 * 1000 };
	}
	if (!F->seen[K_LOG_FILE] && asprintf(&s->log.file, "%s/%s.log", S->m->log_dir, s->name) < 0) {
		s->log.file = NULL;
		nomem(F);
	}
	s->after_line = F->seen[K_AFTER];
	s->token_file_line = F->seen[K_TOKEN_FILE];
}

/* Stem of a service file path when it is NAME.conf with a valid NAME; NULL otherwise. */
static const char *service_stem(const char *path, size_t *len)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n <= 5 || strcmp(base + n - 5, ".conf") != 0 || !valid_service_name(base, n - 5))
		return NULL;
	*len = n - 5;
	return base;
}

/* Load one service file into *s (initialised here, to be freed by the caller even on error). */
static void load_service(struct load *L, const char *path, const struct config_main *m, struct config_service *s)
{
	struct ini_file F;
	struct svc_load S = { .s = s, .m = m };
	size_t len = 0;
	const char *stem = service_stem(path, &len);
	int r;

	if (!stem) {
		err_at(L, path, 0, "a service file must be named NAME.conf with NAME made of a-z 0-9 _ . -");
		stem = "invalid";
		len = strlen(stem);
	}
	if (service_init(s, stem, len, path) < 0) {
		L->nomem = true;
		return;
	}
	r = ini_file_read(&F, L, path, true);
	if (r < 0) {
		err_at(L, path, 0, "cannot open: %s", strerror(-r));
		return;
	}
	for (size_t i = 0; i < F.n_entries; i++)
		S.pattern_cap += F.entries[i].key == K_PATTERN;
	if (S.pattern_cap && !(s->auth.patterns = calloc(S.pattern_cap, sizeof *s->auth.patterns)))
		L->nomem = true;
	else
		apply_all(&F, apply_service_cb, &S);
	finish_service(&F, &S);
	ini_file_free(&F);
}

/* ------------------------------------------------------------------ checks across services */

/* Services are sorted by name once loaded: a binary search (the supervisor asks this for every
 * service on every settle; a linear scan made that quadratic at 500 services). */
static long service_index(const struct config *cfg, const char *name)
{
	size_t lo = 0, hi = cfg->n_services;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(cfg->services[mid].name, name);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

enum { WHITE, GRAY, BLACK };

/* Depth-first search over after= edges; a GRAY target closes a cycle, reported by name. */
struct dfs {
	struct load *L;
	const struct config *cfg;
	unsigned char *color;
	size_t *stack;
	size_t depth;
};

static void report_cycle(struct dfs *D, size_t u, size_t v)
{
	char text[512] = "";
	size_t from = 0;

	while (D->stack[from] != v)
		from++;
	for (size_t i = from; i < D->depth; i++) {
		strncat(text, D->cfg->services[D->stack[i]].name, sizeof text - strlen(text) - 1);
		strncat(text, " -> ", sizeof text - strlen(text) - 1);
	}
	strncat(text, D->cfg->services[v].name, sizeof text - strlen(text) - 1);
	err_at(D->L, D->cfg->services[u].path, D->cfg->services[u].after_line, "after= cycle: %s", text);
}

static void dfs_visit(struct dfs *D, size_t u)
{
	const struct config_service *s = &D->cfg->services[u];

	D->color[u] = GRAY;
	D->stack[D->depth++] = u;
	for (size_t i = 0; i < s->n_after; i++) {
		long v = service_index(D->cfg, s->after[i]);

		if (v < 0)
			continue;
		if (D->color[v] == GRAY)
			report_cycle(D, u, (size_t)v);
		else if (D->color[v] == WHITE)
			dfs_visit(D, (size_t)v);
	}
	D->depth--;
	D->color[u] = BLACK;
}

static void check_after(struct load *L, const struct config *cfg)
{
	struct dfs D = { L, cfg, calloc(cfg->n_services + 1, 1), calloc(cfg->n_services + 1, sizeof(size_t)), 0 };

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct config_service *s = &cfg->services[i];

		for (size_t j = 0; j < s->n_after; j++) {
			if (service_index(cfg, s->after[j]) < 0)
				err_at(L, s->path, s->after_line, "after= names unknown service '%s'", s->after[j]);
		}
	}
	if (!D.color || !D.stack) {
		L->nomem = true;
	} else {
		for (size_t i = 0; i < cfg->n_services; i++) {
			if (D.color[i] == WHITE)
				dfs_visit(&D, i);
		}
	}
	free(D.color);
	free(D.stack);
}

/* Same file: equal strings, or the same inode when both exist. A placeholder for "same bot
 * ID", which needs the token itself (auth module). */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (strcmp(a, b) == 0)
		return true;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The bot ID (segment A) of the token in a service's token_file, 0 when unreadable or not a
 * Discord token. Reads at most TOKEN_FILE_MAX bytes; wipes what it read. */
static uint64_t token_file_bot_id(const struct config_service *s)
{
	if (!s->auth.token_file || s->auth.format != CONFIG_FORMAT_DISCORD)
		return 0;
	int fd = open(s->auth.token_file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	char *raw = malloc(TOKEN_FILE_MAX), *tok = malloc(TOKEN_MAX + 1);
	uint64_t id = 0;
	ssize_t n = raw && tok ? read(fd, raw, TOKEN_FILE_MAX) : -1;
	size_t len = 0;
	unsigned steps = 0;
	if (n > 0 && token_clean(raw, (size_t)n, tok, TOKEN_MAX + 1, &len, &steps) == 0 &&
	    !token_bot_id(tok, len, &id))
		id = 0;
	close(fd);
	if (raw)
		token_wipe(raw, TOKEN_FILE_MAX);
	if (tok)
		token_wipe(tok, TOKEN_MAX + 1);
	free(raw);
	free(tok);
	return id;
}

/* Two services logging in as the same bot would take each other's gateway session (and double
 * the logins Discord counts): a configuration error, named by bot ID, never by token. */
static void check_bot_ids(struct load *L, const struct config *cfg)
{
	uint64_t *ids = calloc(cfg->n_services ? cfg->n_services : 1, sizeof *ids);
	if (!ids)
		return;
	for (size_t j = 0; j < cfg->n_services; j++) {
		const struct config_service *s = &cfg->services[j];
		ids[j] = token_file_bot_id(s);
		for (size_t i = 0; i < j && ids[j]; i++) {
			const struct config_service *p = &cfg->services[i];
			if (ids[i] == ids[j] && !same_file(p->auth.token_file, s->auth.token_file)) {
				err_at(L, s->path, s->token_file_line,
				       "the token in %s is for bot %llu, as the one of service '%s' (%s:%d): two services cannot be the same bot",
				       s->auth.token_file, (unsigned long long)ids[j], p->name, p->path, p->token_file_line);
				break;
			}
		}
	}
	free(ids);
}

static void check_services(struct load *L, const struct config *cfg)
{
	for (size_t i = 1; i < cfg->n_services; i++) {
		const struct config_service *s = &cfg->services[i], *p = &cfg->services[i - 1];

		if (strcmp(s->name, p->name) == 0)
			err_at(L, s->path, 0, "duplicate service name '%s' (also defined by %s)", s->name, p->path);
	}
	check_after(L, cfg);
	for (size_t j = 0; j < cfg->n_services; j++) {
		const struct config_service *s = &cfg->services[j];

		for (size_t i = 0; i < j && s->auth.token_file; i++) {
			const struct config_service *p = &cfg->services[i];

			if (p->auth.token_file && same_file(p->auth.token_file, s->auth.token_file)) {
				err_at(L, s->path, s->token_file_line,
				       "token_file %s is also used by service '%s' (%s:%d): two services cannot share one bot token",
				       s->auth.token_file, p->name, p->path, p->token_file_line);
				break;
			}
		}
	}
	check_bot_ids(L, cfg);
}

/* ------------------------------------------------------------------ loading */

static int service_file_filter(const struct dirent *d)
{
	size_t n;

	return service_stem(d->d_name, &n) != NULL;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Paths of services_dir/NAME.conf (regular files, sorted). Errors are reported. */
static void scan_services(struct load *L, const struct config_main *m, int line, char ***paths, size_t *n)
{
	struct dirent **list = NULL;
	int count = scandir(m->services_dir, &list, service_file_filter, by_name);
	struct stat st;
	char *p;

	if (count < 0) {
		if (line)
			err_at(L, m->path, line, "services_dir %s: %s", m->services_dir, strerror(errno));
		else
			err_at(L, m->services_dir, 0, "cannot read services_dir: %s", strerror(errno));
		return;
	}
	for (int i = 0; i < count; i++) {
		if (asprintf(&p, "%s/%s", m->services_dir, list[i]->d_name) < 0) {
			L->nomem = true;
		} else if (stat(p, &st) < 0) {
			err_at(L, p, 0, "cannot open: %s", strerror(errno));
			free(p);
		} else if (!S_ISREG(st.st_mode)) {
			free(p); /* e.g. a directory named x.conf: not a service file */
		} else if (strv_push(paths, n, p) < 0) {
			L->nomem = true;
		}
		free(list[i]);
	}
	free(list);
}

static int service_cmp(const void *a, const void *b)
{
	const struct config_service *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	return r ? r : strcmp(x->path, y->path);
}

static void load_services(struct load *L, struct config *cfg, const char *const *paths, size_t n)
{
	cfg->services = n ? calloc(n, sizeof *cfg->services) : NULL;
	if (n && !cfg->services) {
		L->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		load_service(L, paths[i], &cfg->main, &cfg->services[i]);
		cfg->n_services++;
		if (L->nomem)
			return;
	}
	if (cfg->n_services > 1)
		qsort(cfg->services, cfg->n_services, sizeof *cfg->services, service_cmp);
	check_services(L, cfg);
}

static int load(const char *main_path, unsigned flags, bool scan, const char *const *paths, size_t n,
		struct config **out, struct config_errors *errs)
{
	struct load L = { .errs = errs, .first_err = errs->n };
	struct config *cfg = calloc(1, sizeof *cfg);
	char **found = NULL;
	size_t n_found = 0;
	int line, r;

	*out = NULL;
	if (!cfg || main_defaults(&cfg->main) < 0) {
		config_free(cfg);
		return -ENOMEM;
	}
	r = load_main(&L, main_path ? main_path : CONFIG_DEFAULT_PATH, flags, &cfg->main, &line);
	if (scan && r == 0 && !L.nomem) {
		scan_services(&L, &cfg->main, line, &found, &n_found);
		paths = (const char *const *)found;
		n = n_found;
	}
	if (!L.nomem)
		load_services(&L, cfg, paths, n);
	strv_free(found, n_found);
	if (L.nomem || errors_since_start(&L) > 0) {
		config_free(cfg);
		return L.nomem ? -ENOMEM : -EINVAL;
	}
	*out = cfg;
	return 0;
}

int config_load(const char *main_path, unsigned flags, struct config **out, struct config_errors *errs)
{
	return load(main_path, flags, true, NULL, 0, out, errs);
}

int config_load_files(const char *main_path, unsigned flags, const char *const *service_paths, size_t n,
		      struct config **out, struct config_errors *errs)
{
	return load(main_path, flags, false, service_paths, n, out, errs);
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	main_free(&cfg->main);
	for (size_t i = 0; i < cfg->n_services; i++)
		service_free(&cfg->services[i]);
	free(cfg->services);
	free(cfg);
}

const struct config_service *config_find_service(const struct config *cfg, const char *name)
{
	long i = service_index(cfg, name);

	return i < 0 ? NULL : &cfg->services[i];
}

/* ------------------------------------------------------------------ reload diff */

static bool strv_equal(char *const *a, char *const *b)
{
	if (!a || !b)
		return a == b;
	for (; *a && *b; a++, b++) {
		if (strcmp(*a, *b) != 0)
			return false;
	}
	return !*a && !*b;
}

static bool rlimits_equal(const struct config_service *a, const struct config_service *b)
{
	for (int i = 0; i < CONFIG_RLIMIT_COUNT; i++) {
		const struct config_rlimit *x = &a->rlimits[i], *y = &b->rlimits[i];

		if (x->set != y->set || (x->set && (x->value.soft != y->value.soft || x->value.hard != y->value.hard)))
			return false;
	}
	return true;
}

/* Everything the process got at spawn (see config_service_diff in config.h). */
static bool process_equal(const struct config_service *a, const struct config_service *b)
{
	return strv_equal(a->argv, b->argv) && streq(a->directory, b->directory) && streq(a->user, b->user) &&
	       a->has_uid == b->has_uid && a->uid == b->uid && streq(a->group, b->group) &&
	       a->has_gid == b->has_gid && a->gid == b->gid && strv_equal(a->env, b->env) &&
	       streq(a->env_file, b->env_file) && a->has_umask == b->has_umask &&
	       (!a->has_umask || a->umask == b->umask) && rlimits_equal(a, b) && a->n_caps == b->n_caps &&
	       (a->n_caps == 0 || memcmp(a->caps, b->caps, a->n_caps * sizeof *a->caps) == 0) &&
	       streq(a->auth.token_file, b->auth.token_file) && streq(a->auth.token_env, b->auth.token_env) &&
	       (a->ready == CONFIG_READY_NOTIFY) == (b->ready == CONFIG_READY_NOTIFY) &&
	       a->watchdog_ms == b->watchdog_ms;
}

static bool restart_equal(const struct config_restart *a, const struct config_restart *b)
{
	return a->policy == b->policy && a->delay_ms == b->delay_ms && a->backoff == b->backoff &&
	       a->max_delay_ms == b->max_delay_ms && a->jitter_pct == b->jitter_pct &&
	       a->reset_after_ms == b->reset_after_ms && a->has_limit == b->has_limit &&
	       (!a->has_limit || (a->limit.count == b->limit.count && a->limit.window_ms == b->limit.window_ms)) &&
	       memcmp(&a->no_restart_exit_codes, &b->no_restart_exit_codes, sizeof a->no_restart_exit_codes) == 0 &&
	       a->max_lifetime_ms == b->max_lifetime_ms;
}

static bool health_equal(const struct config_health *a, const struct config_health *b)
{
	if (a->kind != b->kind || !streq(a->target, b->target) || a->interval_ms != b->interval_ms ||
	    a->timeout_ms != b->timeout_ms || a->start_period_ms != b->start_period_ms || a->retries != b->retries ||
	    a->expect.n != b->expect.n || !streq(a->ca_file, b->ca_file) || a->insecure != b->insecure)
		return false;
	for (size_t i = 0; i < a->expect.n; i++) {
		if (a->expect.r[i].lo != b->expect.r[i].lo || a->expect.r[i].hi != b->expect.r[i].hi)
			return false;
	}
	return true;
}

static bool auth_equal(const struct config_auth *a, const struct config_auth *b)
{
	if (a->enabled != b->enabled || a->format != b->format || a->default_patterns != b->default_patterns ||
	    a->probe != b->probe || !streq(a->api, b->api) || a->n_patterns != b->n_patterns)
		return false;
	for (size_t i = 0; i < a->n_patterns; i++) {
		if (a->patterns[i].cls != b->patterns[i].cls || strcmp(a->patterns[i].source, b->patterns[i].source))
			return false;
	}
	return true;
}

static bool rest_equal(const struct config_service *a, const struct config_service *b)
{
	return strv_equal(a->after, b->after) && a->stop_signal == b->stop_signal &&
	       a->stop_timeout_ms == b->stop_timeout_ms && a->ready == b->ready && streq(a->pidfile, b->pidfile) &&
	       streq(a->lockfile, b->lockfile) && restart_equal(&a->restart, &b->restart) &&
	       health_equal(&a->health, &b->health) && auth_equal(&a->auth, &b->auth) &&
	       streq(a->log.file, b->log.file) && a->log.max_size == b->log.max_size &&
	       a->log.max_files == b->log.max_files && a->log.timestamps == b->log.timestamps &&
	       a->log.redact == b->log.redact;
}

enum config_change config_service_diff(const struct config_service *old_svc, const struct config_service *new_svc)
{
	if (!old_svc)
		return new_svc ? CONFIG_ADDED : CONFIG_UNCHANGED;
	if (!new_svc)
		return CONFIG_REMOVED;
	if (!process_equal(old_svc, new_svc))
		return CONFIG_CHANGED_PROCESS;
	return rest_equal(old_svc, new_svc) ? CONFIG_UNCHANGED : CONFIG_CHANGED_INPLACE;
}

int config_diff(const struct config *old_cfg, const struct config *new_cfg, struct config_diff_entry **out,
		size_t *n)
{
	size_t i = 0, j = 0, k = 0, no = old_cfg->n_services, nn = new_cfg->n_services;
	struct config_diff_entry *d = calloc(no + nn + 1, sizeof *d);

	if (!d)
		return -ENOMEM;
	/* Both lists are sorted by name (config_load), so a merge pairs them up. */
	while (i < no || j < nn) {
		const struct config_service *a = i < no ? &old_cfg->services[i] : NULL;
		const struct config_service *b = j < nn ? &new_cfg->services[j] : NULL;
		int c = !a ? 1 : !b ? -1 : strcmp(a->name, b->name);

		if (c < 0) {
			b = NULL;
			i++;
		} else if (c > 0) {
			a = NULL;
			j++;
		} else {
			i++;
			j++;
		}
		d[k].name = a ? a->name : b->name;
		d[k].old_svc = a;
		d[k].new_svc = b;
		d[k++].change = config_service_diff(a, b);
	}
	*out = d;
	*n = k;
	return 0;
}
