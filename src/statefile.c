/* statefile: parse/format of the persisted per-service state, and its atomic file I/O.
 * See statefile.h for the format. */
#include "statefile.h"

#include "budget.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const want_names[] = {
	[STATEFILE_WANT_UP] = "up",
	[STATEFILE_WANT_DOWN] = "down",
};
_Static_assert(sizeof want_names / sizeof want_names[0] == STATEFILE_WANT_COUNT,
	       "want_names must name every enum statefile_want");

#define HEADER "nines-state"
#define U64_DIGITS 20

/* ---------- small helpers ---------- */

struct slice {
	const char *p;
	size_t n;
};

static bool slice_is(struct slice s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* Strict decimal uint64: digits only (no sign, space or base prefix), no overflow. */
static bool parse_u64(struct slice s, uint64_t *out)
{
	uint64_t v = 0;

	if (s.n == 0 || s.n > U64_DIGITS)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		unsigned d = (unsigned char)s.p[i] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static bool name_valid(struct slice s)
{
	if (s.n == 0 || s.n > STATEFILE_NAME_MAX)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (!name_char(s.p[i]))
			return false;
	return true;
}

/* Next space/tab separated token of *rest; an empty slice at the end. */
static struct slice next_token(struct slice *rest)
{
	struct slice t;

	while (rest->n > 0 && (*rest->p == ' ' || *rest->p == '\t')) {
		rest->p++;
		rest->n--;
	}
	t.p = rest->p;
	t.n = 0;
	while (t.n < rest->n && rest->p[t.n] != ' ' && rest->p[t.n] != '\t')
		t.n++;
	rest->p += t.n;
	rest->n -= t.n;
	return t;
}

/* Copies at most 32 characters of s into buf for a warning, replacing anything unprintable so
 * a corrupt file cannot inject control characters into the log. */
static const char *printable(struct slice s, char *buf, size_t size)
{
	size_t n = s.n < size - 1 ? s.n : size - 1;

	for (size_t i = 0; i < n; i++)
		buf[i] = (s.p[i] >= 0x20 && s.p[i] < 0x7f) ? s.p[i] : '?';
	buf[n] = '\0';
	return buf;
}

/* ---------- warnings ---------- */

struct warnbuf {
	char *buf;
	size_t size, used;
};

__attribute__((format(printf, 3, 4)))
static void warnf(struct warnbuf *w, size_t line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->size == 0 || w->used >= w->size - 1)
		return;
	n = snprintf(w->buf + w->used, w->size - w->used, "%sline %zu: ", w->used ? "; " : "", line);
	if (n > 0)
		w->used += (size_t)n;
	if (w->used >= w->size - 1) {
		w->used = w->size - 1;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(w->buf + w->used, w->size - w->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		w->used += (size_t)n;
	if (w->used > w->size - 1)
		w->used = w->size - 1;
}

/* ---------- the in-memory set ---------- */

const char *statefile_want_name(enum statefile_want want)
{
	if ((unsigned)want >= STATEFILE_WANT_COUNT)
		return "?";
	return want_names[want];
}

bool statefile_name_valid(const char *s)
{
	struct slice sl = { s, strlen(s) };

	return name_valid(sl);
}

void statefile_init(struct statefile *sf)
{
	sf->v = NULL;
	sf->n = 0;
	sf->cap = 0;
}

void statefile_free(struct statefile *sf)
{
	for (size_t i = 0; i < sf->n; i++)
		free(sf->v[i].failures);
	free(sf->v);
	statefile_init(sf);
}

static struct statefile_entry *find(const struct statefile *sf, struct slice name)
{
	for (size_t i = 0; i < sf->n; i++)
		if (slice_is(name, sf->v[i].name))
			return &sf->v[i];
	return NULL;
}

struct statefile_entry *statefile_get(const struct statefile *sf, const char *name)
{
	struct slice s = { name, strlen(name) };

	return find(sf, s);
}

/* Adds or replaces the entry; takes ownership of failures (freed on error too). name is valid. */
static int put(struct statefile *sf, struct slice name, enum statefile_want want,
	       uint64_t restarts, uint64_t last_restart_ms, uint64_t *failures, size_t n)
{
	struct statefile_entry *e = find(sf, name);

	if (!e) {
		if (sf->n == sf->cap) {
			size_t cap = sf->cap ? sf->cap * 2 : 8;
			struct statefile_entry *v = NULL;

			if (cap <= SIZE_MAX / sizeof *v)
				v = realloc(sf->v, cap * sizeof *v);
			if (!v) {
				free(failures);
				return -ENOMEM;
			}
			sf->v = v;
			sf->cap = cap;
		}
		e = &sf->v[sf->n++];
		memcpy(e->name, name.p, name.n);
		e->name[name.n] = '\0';
	} else {
		free(e->failures);
	}
	e->want = want;
	e->restarts = restarts;
	e->last_restart_ms = last_restart_ms;
	e->failures = failures;
	e->n_failures = n;
	return 0;
}

int statefile_set(struct statefile *sf, const char *name, enum statefile_want want,
		  uint64_t restarts, uint64_t last_restart_ms, const uint64_t *failures, size_t n)
{
	struct slice s = { name, strlen(name) };
	uint64_t *copy = NULL;

	if (!name_valid(s) || (unsigned)want >= STATEFILE_WANT_COUNT || n > BUDGET_MAX_LIMIT)
		return -EINVAL;
	if (n > 0) {
		copy = malloc(n * sizeof *copy);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, failures, n * sizeof *copy);
	}
	return put(sf, s, want, restarts, last_restart_ms, copy, n);
}

int statefile_remove(struct statefile *sf, const char *name)
{
	struct statefile_entry *e = statefile_get(sf, name);

	if (!e)
		return -ENOENT;
	free(e->failures);
	*e = sf->v[--sf->n]; /* order does not matter: lookups are by name */
	return 0;
}

/* ---------- parse ---------- */

struct fields {
	enum statefile_want want;
	uint64_t restarts;
	uint64_t last_restart_ms;
	uint64_t *failures; /* malloc'd, ascending */
	size_t n;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* failures=T1,T2,... Returns 0 (a malformed list is warned about and ignored) or -ENOMEM. */
static int parse_failures(struct slice v, struct fields *f, struct warnbuf *w, size_t line)
{
	size_t n = 1, k = 0, start = 0;
	uint64_t *a;

	if (v.n == 0) { /* "failures=": none */
		free(f->failures);
		f->failures = NULL;
		f->n = 0;
		return 0;
	}
	for (size_t i = 0; i < v.n; i++)
		n += v.p[i] == ',';
	a = malloc(n * sizeof *a); /* n <= v.n, which fits in memory already */
	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i <= v.n; i++) {
		struct slice el = { v.p + start, i - start };

		if (i < v.n && v.p[i] != ',')
			continue;
		if (!parse_u64(el, &a[k++])) {
			free(a);
			warnf(w, line, "bad failures list, ignored");
			return 0;
		}
		start = i + 1;
	}
	qsort(a, k, sizeof *a, cmp_u64);
	if (k > BUDGET_MAX_LIMIT) { /* more than any budget can hold: keep the newest */
		warnf(w, line, "%zu failure times, keeping the newest %u", k, BUDGET_MAX_LIMIT);
		memmove(a, a + (k - BUDGET_MAX_LIMIT), BUDGET_MAX_LIMIT * sizeof *a);
		k = BUDGET_MAX_LIMIT;
	}
	free(f->failures);
	f->failures = a;
	f->n = k;
	return 0;
}

/* One key=value of a service line into *f. Returns 0 or -ENOMEM; bad input is warned about. */
static int parse_field(struct slice tok, struct fields *f, struct warnbuf *w, size_t line)
{
	const char *eq = memchr(tok.p, '=', tok.n);
	struct slice key, val;
	char pb[33];

	if (!eq) {
		warnf(w, line, "field '%s' is not key=value, ignored", printable(tok, pb, sizeof pb));
		return 0;
	}
	key.p = tok.p;
	key.n = (size_t)(eq - tok.p);
	val.p = eq + 1;
	val.n = tok.n - key.n - 1;
	if (slice_is(key, "want")) {
		if (slice_is(val, want_names[STATEFILE_WANT_UP]))
			f->want = STATEFILE_WANT_UP;
		else if (slice_is(val, want_names[STATEFILE_WANT_DOWN]))
			f->want = STATEFILE_WANT_DOWN;
		else
			warnf(w, line, "bad want '%s', using up", printable(val, pb, sizeof pb));
	} else if (slice_is(key, "restarts")) {
		if (!parse_u64(val, &f->restarts))
			warnf(w, line, "bad restarts '%s', ignored", printable(val, pb, sizeof pb));
	} else if (slice_is(key, "last_restart")) {
		if (!parse_u64(val, &f->last_restart_ms))
			warnf(w, line, "bad last_restart '%s', ignored", printable(val, pb, sizeof pb));
	} else if (slice_is(key, "failures")) {
		return parse_failures(val, f, w, line);
	} else {
		warnf(w, line, "unknown field '%s', ignored", printable(key, pb, sizeof pb));
	}
	return 0;
}

/* "service NAME key=value..." (after the keyword). Returns 0 or -ENOMEM. */
static int parse_service(struct statefile *sf, struct slice rest, struct warnbuf *w, size_t line)
{
	struct slice name = next_token(&rest), tok;
	struct fields f = { STATEFILE_WANT_UP, 0, 0, NULL, 0 };
	char pb[33];

	if (!name_valid(name)) {
		warnf(w, line, "bad service name '%s', line skipped", printable(name, pb, sizeof pb));
		return 0;
	}
	while ((tok = next_token(&rest)).n > 0) {
		int r = parse_field(tok, &f, w, line);

		if (r < 0) {
			free(f.failures);
			return r;
		}
	}
	if (find(sf, name))
		warnf(w, line, "duplicate service '%s', this line wins", printable(name, pb, sizeof pb));
	return put(sf, name, f.want, f.restarts, f.last_restart_ms, f.failures, f.n);
}

/* Line 1. Returns true when the line was the header (valid or not) and is consumed; sets *stop
 * for a newer version, whose content we do not guess at. */
static bool parse_header(struct slice l, struct warnbuf *w, bool *stop)
{
	struct slice rest = l, t = next_token(&rest), v;
	uint64_t ver;

	if (!slice_is(t, HEADER)) {
		warnf(w, 1, "missing header '" HEADER "', reading on");
		return false;
	}
	v = next_token(&rest);
	if (!parse_u64(v, &ver) || ver == 0 || next_token(&rest).n != 0) {
		warnf(w, 1, "bad header, reading on");
	} else if (ver > STATEFILE_VERSION) {
		warnf(w, 1, "version %" PRIu64 " is newer than %d, state ignored", ver,
		      STATEFILE_VERSION);
		*stop = true;
	}
	return true;
}

static int parse_line(struct statefile *sf, struct slice l, size_t line, struct warnbuf *w,
		      bool *stop)
{
	struct slice rest = l, t;
	char pb[33];

	if (line == 1 && parse_header(l, w, stop))
		return 0;
	t = next_token(&rest);
	if (t.n == 0 || t.p[0] == '#')
		return 0;
	if (slice_is(t, "service"))
		return parse_service(sf, rest, w, line);
	warnf(w, line, "unknown record '%s', skipped", printable(t, pb, sizeof pb));
	return 0;
}

int statefile_parse(struct statefile *sf, const char *text, size_t len, char *warn,
		    size_t warn_size)
{
	struct warnbuf w = { warn, warn_size, 0 };
	size_t pos = 0, line = 0;
	bool stop = false;

	if (warn_size > 0)
		warn[0] = '\0';
	statefile_free(sf);
	if (len == 0)
		warnf(&w, 1, "empty file");
	while (pos < len && !stop) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		struct slice l = { text + pos, nl ? (size_t)(nl - (text + pos)) : len - pos };
		int r;

		line++;
		pos += l.n + 1;
		if (!nl) { /* we always end lines: this is a cut-off write or a damaged file */
			warnf(&w, line, "truncated line, skipped");
			break;
		}
		if (l.n > 0 && l.p[l.n - 1] == '\r')
			l.n--;
		r = parse_line(sf, l, line, &w, &stop);
		if (r < 0) {
			statefile_free(sf);
			return r;
		}
	}
	return 0;
}

/* ---------- format ---------- */

#define STR_(x) #x
#define STR(x) STR_(x)
static const char format_head[] = HEADER " " STR(STATEFILE_VERSION) "\n"
	"# service NAME want=up|down restarts=N last_restart=MS failures=MS,... (MS: wall-clock ms)\n";

static bool add_size(size_t *total, size_t a)
{
	if (a > SIZE_MAX - *total)
		return false;
	*total += a;
	return true;
}

static size_t put_u64(char *p, uint64_t v)
{
	char tmp[U64_DIGITS];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

static size_t put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return n;
}

static size_t put_entry(char *p, const struct statefile_entry *e)
{
	size_t o = 0;

	o += put_str(p + o, "service ");
	o += put_str(p + o, e->name);
	o += put_str(p + o, " want=");
	o += put_str(p + o, statefile_want_name(e->want));
	o += put_str(p + o, " restarts=");
	o += put_u64(p + o, e->restarts);
	o += put_str(p + o, " last_restart=");
	o += put_u64(p + o, e->last_restart_ms);
	o += put_str(p + o, " failures=");
	for (size_t i = 0; i < e->n_failures; i++) {
		if (i > 0)
			p[o++] = ',';
		o += put_u64(p + o, e->failures[i]);
	}
	p[o++] = '\n';
	return o;
}

int statefile_format(const struct statefile *sf, char **out, size_t *out_len)
{
	/* fixed part of a line: "service " " want=" "down" " restarts=" N " last_restart=" T
	 * " failures=" "\n" */
	const size_t fixed = 8 + 6 + 4 + 10 + U64_DIGITS + 14 + U64_DIGITS + 10 + 1;
	size_t size = sizeof format_head, o;
	char *buf;

	for (size_t i = 0; i < sf->n; i++) {
		const struct statefile_entry *e = &sf->v[i];

		if (e->n_failures > SIZE_MAX / (U64_DIGITS + 1) ||
		    !add_size(&size, fixed + strlen(e->name)) ||
		    !add_size(&size, e->n_failures * (U64_DIGITS + 1)))
			return -ENOMEM;
	}
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	o = put_str(buf, format_head);
	for (size_t i = 0; i < sf->n; i++)
		o += put_entry(buf + o, &sf->v[i]);
	buf[o] = '\0';
	*out = buf;
	*out_len = o;
	return 0;
}

/* ---------- file I/O ---------- */

int statefile_path(char *buf, size_t size, const char *state_dir)
{
	size_t n = strlen(state_dir);
	int r;

	if (n == 0)
		return -EINVAL;
	while (n > 0 && state_dir[n - 1] == '/') /* "/var/lib/nines/" or "/": no "//" */
		n--;
	if (n > INT_MAX)
		return -ENAMETOOLONG;
	r = snprintf(buf, size, "%.*s/%s", (int)n, state_dir, STATEFILE_NAME);
	if (r < 0 || (size_t)r >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* Whole regular file into a malloc'd buffer, at most STATEFILE_MAX_BYTES. 0 or -errno. */
static int read_all(int fd, char **out, size_t *out_len)
{
	struct stat st;
	size_t cap, len = 0;
	char *buf;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > STATEFILE_MAX_BYTES)
		return -EFBIG;
	cap = (size_t)st.st_size + 1; /* +1: EOF is seen without a resize when the size held */
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (len == cap) { /* the file grew while we read */
			size_t ncap = cap > STATEFILE_MAX_BYTES / 2 ? STATEFILE_MAX_BYTES + 1 : cap * 2;
			char *nbuf = cap > STATEFILE_MAX_BYTES ? NULL : realloc(buf, ncap);

			if (!nbuf) {
				free(buf);
				return cap > STATEFILE_MAX_BYTES ? -EFBIG : -ENOMEM;
			}
			buf = nbuf;
			cap = ncap;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			free(buf);
			return -e;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

int statefile_load(const char *path, struct statefile *sf, char *warn, size_t warn_size)
{
	char *buf = NULL;
	size_t len = 0;
	int fd, r;

	if (warn_size > 0)
		warn[0] = '\0';
	statefile_free(sf);
	/* O_NONBLOCK: a FIFO planted at the path must not hang startup in open(); fstat rejects it */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	r = read_all(fd, &buf, &len);
	close(fd);
	if (r < 0)
		return r;
	r = statefile_parse(sf, buf, len, warn, warn_size);
	free(buf);
	return r;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* fsync of the directory holding path, so the rename itself is durable (fsync(2): syncing a file
 * "does not necessarily ensure that the entry in the directory containing the file has also
 * reached disk"). EINVAL means the filesystem cannot sync directories; nothing more to do. */
static int fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	int fd, r = 0;

	if (!slash)
		strcpy(dir, ".");
	else if (n == 0)
		strcpy(dir, "/");
	else if (n >= sizeof dir)
		return -ENAMETOOLONG;
	else {
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0 && errno != EINVAL)
		r = -errno;
	close(fd);
	return r;
}

int statefile_save(const char *path, const struct statefile *sf)
{
	char tmp[PATH_MAX];
	char *text;
	size_t len;
	int fd, r, n = snprintf(tmp, sizeof tmp, "%s.tmp", path);

	if (n < 0 || (size_t)n >= sizeof tmp)
		return -ENAMETOOLONG;
	r = statefile_format(sf, &text, &len);
	if (r < 0)
		return r;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		free(text);
		return r;
	}
	/* a stale STATE.tmp keeps its old mode through O_TRUNC; the state is nines' own business */
	r = fchmod(fd, 0600) < 0 ? -errno : write_all(fd, text, len);
	free(text);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	/* close(2): an error here can be a delayed write error; Linux frees the fd anyway, no retry */
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	return fsync_dir(path);
}
