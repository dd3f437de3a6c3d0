/* envbuild: the environment of a service process. Owns a growing list of "KEY=VALUE" strings
 * (struct envbuild) and the envp arrays it hands out. Layers, later wins: a base (nines' own
 * environ), an env_file, the service's `env =` entries, then variables from nines itself
 * (NINES_SERVICE=...). Parsing works on strings (pure, testable); only envbuild_load_file reads
 * a file. Runs in the parent: everything here allocates. */
#ifndef NINES_ENVBUILD_H
#define NINES_ENVBUILD_H

#include <stdbool.h>
#include <stddef.h>

/* Largest env_file read, in bytes; a bigger one is an error (-EFBIG), not a truncation. */
#define ENVBUILD_FILE_MAX (1024 * 1024)

struct envbuild {
	char **vars; /* n malloc'd "KEY=VALUE" strings, NULL-terminated when n < cap */
	size_t n, cap;
};

/* Where an error happened, for the log: "FILE:LINE: message" or "env: message". */
struct envbuild_error {
	char msg[512];
};

/* Everything envbuild_build() combines, in this order; each array is NULL-terminated, and
 * every member may be NULL for "none". */
struct envbuild_spec {
	char *const *base;      /* e.g. environ; entries without '=' are skipped */
	const char *env_file;   /* path; a missing file is an error */
	char *const *env;       /* "KEY=VALUE" from the service config, taken literally */
	char *const *extra;     /* "KEY=VALUE" from nines (NINES_SERVICE=...) */
	char *const *unset;     /* names removed from base, before the other layers: what was
				 * meant for nines itself (NOTIFY_SOCKET, LISTEN_FDS, ...) */
};

/* Empty builder; needs no allocation. */
void envbuild_init(struct envbuild *e);

/* Frees every string and the array, and re-initialises e. */
void envbuild_free(struct envbuild *e);

/* True for a valid variable name: [A-Za-z_][A-Za-z0-9_]*, len bytes long. */
bool envbuild_valid_key(const char *key, size_t len);

/* Sets key (keylen bytes) to value (vallen bytes); an existing key is replaced in place, keeping
 * its position. 0, -EINVAL for an invalid key or a NUL inside the value, -ENOMEM. */
int envbuild_set(struct envbuild *e, const char *key, size_t keylen, const char *value,
		 size_t vallen);

/* envbuild_set() from one "KEY=VALUE" string (value taken literally). -EINVAL without '=' or
 * with an invalid key, -ENOMEM. */
int envbuild_put(struct envbuild *e, const char *assignment);

/* Removes key (NUL-terminated) if present, keeping the order of the rest. */
void envbuild_unset(struct envbuild *e, const char *key);

/* Adds a base environment (NULL-terminated; NULL is allowed): entries without '=' are skipped,
 * names are not checked (an inherited environment may hold any), and for a name that appears
 * twice the first wins, as for getenv(3). 0 or -ENOMEM. */
int envbuild_add_base(struct envbuild *e, char *const *envp);

/* Parses one env_file line (len bytes, no newline): blank and '#' lines give 0 with *key NULL;
 * otherwise an optional "export ", KEY, '=', VALUE with surrounding whitespace trimmed and one
 * pair of matching surrounding quotes (' or ") removed, no escapes. Returns 1 with [*key, +*keylen)
 * and [*val, +*vallen) pointing into line, or -EINVAL with *why set to a static message. */
int envbuild_parse_line(const char *line, size_t len, const char **key, size_t *keylen,
			const char **val, size_t *vallen, const char **why);

/* Parses env_file text (len bytes, need not be NUL-terminated; "\n" or "\r\n" lines, a leading
 * UTF-8 BOM is skipped) and sets each assignment in order. name is the file name for errors.
 * 0, -EINVAL with err = "name:LINE: why", or -ENOMEM. err may be NULL. */
int envbuild_parse_text(struct envbuild *e, const char *name, const char *text, size_t len,
			struct envbuild_error *err);

/* Reads path (at most ENVBUILD_FILE_MAX bytes) and applies it with envbuild_parse_text().
 * 0, -errno of open/read (-ENOENT when missing), -EFBIG, -EINVAL or -ENOMEM, with err filled. */
int envbuild_load_file(struct envbuild *e, const char *path, struct envbuild_error *err);

/* Hands the result over: a malloc'd NULL-terminated envp (free with envbuild_envp_free) and
 * leaves e empty. NULL only on -ENOMEM (e then keeps its content). */
char **envbuild_finish(struct envbuild *e);

/* Frees an envp from envbuild_finish() or envbuild_build(); NULL is allowed. */
void envbuild_envp_free(char **envp);

/* Builds the environment of spec in one go into *out (free with envbuild_envp_free).
 * 0 or -errno with err filled (err may be NULL); *out is NULL on error. */
int envbuild_build(const struct envbuild_spec *spec, char ***out, struct envbuild_error *err);

/* Value of key in a NULL-terminated envp, or NULL. For tests and callers that inspect results. */
const char *envbuild_get(char *const *envp, const char *key);

#endif
