/* envbuild: see envbuild.h. A service environment holds some dozens of variables, so lookups are
 * linear scans; order is kept (base order first, new names appended) so results are stable.
 * Error messages name files, lines and variable names, never values: an env_file often holds
 * secrets (tokens). */
#include "envbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void envbuild_init(struct envbuild *e)
{
	e->vars = NULL;
	e->n = e->cap = 0;
}

void envbuild_free(struct envbuild *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->vars[i]);
	free(e->vars);
	envbuild_init(e);
}

void envbuild_envp_free(char **envp)
{
	if (!envp)
		return;
	for (char **p = envp; *p; p++)
		free(*p);
	free(envp);
}

static void set_err(struct envbuild_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_err(struct envbuild_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
}

static bool key_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool envbuild_valid_key(const char *key, size_t len)
{
	if (len == 0 || !key_start(key[0]))
		return false;
	for (size_t i = 1; i < len; i++) {
		if (!key_start(key[i]) && !(key[i] >= '0' && key[i] <= '9'))
			return false;
	}
	return true;
}

/* Index of the entry named key (keylen bytes), or e->n. */
static size_t find(const struct envbuild *e, const char *key, size_t keylen)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		if (strncmp(e->vars[i], key, keylen) == 0 && e->vars[i][keylen] == '=')
			break;
	}
	return i;
}

/* Room for one more entry plus the NULL terminator. */
static int grow(struct envbuild *e)
{
	if (e->n + 2 <= e->cap)
		return 0;
	size_t cap = e->cap ? e->cap * 2 : 32;
	char **v = realloc(e->vars, cap * sizeof *v);
	if (!v)
		return -ENOMEM;
	e->vars = v;
	e->cap = cap;
	return 0;
}

static char *join(const char *key, size_t keylen, const char *value, size_t vallen)
{
	char *s = malloc(keylen + vallen + 2);

	if (!s)
		return NULL;
	memcpy(s, key, keylen);
	s[keylen] = '=';
	memcpy(s + keylen + 1, value, vallen);
	s[keylen + 1 + vallen] = '\0';
	return s;
}

/* Stores key=value; replace: overwrite an existing entry (else keep the old one). */
static int store(struct envbuild *e, const char *key, size_t keylen, const char *value,
		 size_t vallen, bool replace)
{
	size_t i = find(e, key, keylen);

	if (i < e->n && !replace)
		return 0;
	if (i == e->n && grow(e) < 0)
		return -ENOMEM;
	char *s = join(key, keylen, value, vallen);
	if (!s)
		return -ENOMEM;
	if (i < e->n) {
		free(e->vars[i]);
	} else {
		e->n++;
		e->vars[e->n] = NULL;
	}
	e->vars[i] = s;
	return 0;
}

int envbuild_set(struct envbuild *e, const char *key, size_t keylen, const char *value,
		 size_t vallen)
{
	if (!envbuild_valid_key(key, keylen) || memchr(value, '\0', vallen))
		return -EINVAL;
	return store(e, key, keylen, value, vallen, true);
}

int envbuild_put(struct envbuild *e, const char *assignment)
{
	const char *eq = strchr(assignment, '=');

	if (!eq)
		return -EINVAL;
	return envbuild_set(e, assignment, (size_t)(eq - assignment), eq + 1, strlen(eq + 1));
}

void envbuild_unset(struct envbuild *e, const char *key)
{
	size_t i = find(e, key, strlen(key));

	if (i == e->n || strchr(key, '='))
		return;
	free(e->vars[i]);
	/* moves the NULL terminator too */
	memmove(&e->vars[i], &e->vars[i + 1], (e->n - i) * sizeof e->vars[0]);
	e->n--;
}

int envbuild_add_base(struct envbuild *e, char *const *envp)
{
	for (; envp && *envp; envp++) {
		const char *eq = strchr(*envp, '=');
		/* "=x" has no name: execve would pass it, but nothing can look it up */
		if (!eq || eq == *envp)
			continue;
		if (store(e, *envp, (size_t)(eq - *envp), eq + 1, strlen(eq + 1), false) < 0)
			return -ENOMEM;
	}
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Removes one pair of matching surrounding quotes from [*v, +*len); -EINVAL when a value starts
 * with a quote that does not close at its end (most likely a multi-line value, unsupported). */
static int unquote(const char **v, size_t *len)
{
	char q = *len ? (*v)[0] : '\0';

	if (q != '"' && q != '\'')
		return 0;
	if (*len < 2 || (*v)[*len - 1] != q)
		return -EINVAL;
	(*v)++;
	*len -= 2;
	return 0;
}

int envbuild_parse_line(const char *line, size_t len, const char **key, size_t *keylen,
			const char **val, size_t *vallen, const char **why)
{
	const char *p = line, *end = line + len;

	*key = NULL;
	while (p < end && is_blank(*p))
		p++;
	while (end > p && is_blank(end[-1]))
		end--;
	if (p == end || *p == '#')
		return 0;
	if (memchr(p, '\0', (size_t)(end - p))) {
		*why = "NUL byte in line";
		return -EINVAL;
	}
	if (end - p > 7 && memcmp(p, "export", 6) == 0 && is_blank(p[6])) {
		for (p += 7; p < end && is_blank(*p); p++)
			;
	}
	const char *eq = memchr(p, '=', (size_t)(end - p));
	if (!eq) {
		*why = "expected KEY=VALUE";
		return -EINVAL;
	}
	const char *ke = eq;
	while (ke > p && is_blank(ke[-1]))
		ke--;
	if (!envbuild_valid_key(p, (size_t)(ke - p))) {
		*why = "invalid variable name (allowed: [A-Za-z_][A-Za-z0-9_]*)";
		return -EINVAL;
	}
	const char *v = eq + 1;
	while (v < end && is_blank(*v))
		v++;
	size_t vl = (size_t)(end - v);
	if (unquote(&v, &vl) < 0) {
		*why = "unterminated quote (values are single-line)";
		return -EINVAL;
	}
	*key = p;
	*keylen = (size_t)(ke - p);
	*val = v;
	*vallen = vl;
	return 1;
}

int envbuild_parse_text(struct envbuild *e, const char *name, const char *text, size_t len,
			struct envbuild_error *err)
{
	const char *p = text, *end = text + len;
	unsigned lineno = 0;

	if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *key, *val, *why = "";
		size_t keylen, vallen;
		lineno++;
		int r = envbuild_parse_line(p, (size_t)(le - p), &key, &keylen, &val, &vallen, &why);
		if (r < 0) {
			set_err(err, "%s:%u: %s", name, lineno, why);
			return r;
		}
		if (r > 0 && store(e, key, keylen, val, vallen, true) < 0) {
			set_err(err, "%s:%u: out of memory", name, lineno);
			return -ENOMEM;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* Reads all of fd (a regular file of at most ENVBUILD_FILE_MAX bytes) into a malloc'd buffer.
 * The buffer starts at the size fstat reports and grows if the file grows while we read. */
static int read_all(int fd, char **out, size_t *len)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	/* a FIFO or device could block the event loop forever */
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size > ENVBUILD_FILE_MAX)
		return -EFBIG;
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			size_t ncap = cap * 2 > ENVBUILD_FILE_MAX + 1 ? ENVBUILD_FILE_MAX + 1 : cap * 2;
			char *nb = ncap > cap ? realloc(buf, ncap) : NULL;
			if (!nb) {
				free(buf);
				return ncap > cap ? -ENOMEM : -EFBIG;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int saved = errno;
			free(buf);
			return -saved;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	*out = buf;
	*len = n;
	return 0;
}

int envbuild_load_file(struct envbuild *e, const char *path, struct envbuild_error *err)
{
	char *text = NULL;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int r = fd < 0 ? -errno : read_all(fd, &text, &len);

	if (fd >= 0)
		close(fd);
	if (r == -EINVAL)
		set_err(err, "%s: not a regular file", path);
	else if (r == -EFBIG)
		set_err(err, "%s: larger than %d bytes", path, ENVBUILD_FILE_MAX);
	else if (r < 0)
		set_err(err, "%s: %s", path, strerror(-r));
	if (r < 0)
		return r;
	r = envbuild_parse_text(e, path, text, len, err);
	free(text);
	return r;
}

char **envbuild_finish(struct envbuild *e)
{
	char **v = e->vars;

	if (!v) {
		v = calloc(1, sizeof *v);
		if (!v)
			return NULL;
	}
	envbuild_init(e);
	return v;
}

/* Applies "KEY=VALUE" entries of one layer; what names the layer in messages. */
static int put_all(struct envbuild *e, char *const *list, const char *what,
		   struct envbuild_error *err)
{
	for (size_t i = 0; list && list[i]; i++) {
		int r = envbuild_put(e, list[i]);
		if (r == -EINVAL) {
			const char *eq = strchr(list[i], '=');
			int keylen = eq ? (int)(eq - list[i]) : 0;
			set_err(err, "%s: invalid assignment '%.*s=...' (expected KEY=VALUE, KEY "
				"[A-Za-z_][A-Za-z0-9_]*)", what, keylen > 64 ? 64 : keylen, list[i]);
		} else if (r < 0) {
			set_err(err, "%s: out of memory", what);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int envbuild_build(const struct envbuild_spec *spec, char ***out, struct envbuild_error *err)
{
	struct envbuild e;
	int r;

	*out = NULL;
	envbuild_init(&e);
	r = envbuild_add_base(&e, spec->base);
	if (r < 0)
		set_err(err, "environment: out of memory");
	for (size_t i = 0; r == 0 && spec->unset && spec->unset[i]; i++)
		envbuild_unset(&e, spec->unset[i]);
	if (r == 0 && spec->env_file)
		r = envbuild_load_file(&e, spec->env_file, err);
	if (r == 0)
		r = put_all(&e, spec->env, "env", err);
	if (r == 0)
		r = put_all(&e, spec->extra, "nines", err);
	if (r == 0 && !(*out = envbuild_finish(&e))) {
		set_err(err, "environment: out of memory");
		r = -ENOMEM;
	}
	envbuild_free(&e);
	return r;
}

const char *envbuild_get(char *const *envp, const char *key)
{
	size_t len = strlen(key);

	for (; envp && *envp; envp++) {
		if (strncmp(*envp, key, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	}
	return NULL;
}
