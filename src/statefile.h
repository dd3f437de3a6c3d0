/* statefile: the per-service state that survives a restart of nines (case P12), kept in one file,
 * STATE_DIR/state: operator intent (wanted up or down, e.g. after `ninesctl stop B`), the restart
 * counter and the time of the last restart, and the restart-budget failure times (wall-clock ms
 * since the epoch, see budget.h).
 *
 * Format (ASCII text, one record per line, each line ending in '\n'):
 *
 *     nines-state 1
 *     # comment lines and empty lines are ignored
 *     service NAME want=up|down restarts=N last_restart=T failures=T1,T2,...
 *
 * - Line 1 is the format version. A newer version is not guessed at: its content is ignored with a
 *   warning. A missing or garbled header is warned about and the lines are read anyway.
 * - NAME is [a-z0-9_.-]{1,STATEFILE_NAME_MAX}. Fields are space separated `key=value`, in any
 *   order, each optional: want defaults to up, restarts and last_restart to 0 (never), failures
 *   to none. N and T are decimal uint64. `failures=` may be empty; at most BUDGET_MAX_LIMIT times are kept (the last).
 * - Reading is tolerant and never fails on content: an unknown or malformed line, a bad field, a
 *   duplicate service (the later line wins) or a last line without '\n' (a truncated write) is
 *   skipped and described in the warning string. Unknown services are kept in memory but the
 *   supervisor writes only the services it has, so they are dropped on the next write.
 * - Writing is atomic: STATE.tmp in the same directory (O_CLOEXEC|O_NOFOLLOW, 0600), write, fsync,
 *   rename over STATE, fsync the directory. A crash leaves the old or the new file, never a mix.
 *   The temp name is fixed (not mkstemp) so a crash leaves no litter; the single-instance lock
 *   guarantees one writer.
 *
 * Parse/format are pure (strings in, strings out); load/save do the file I/O. */
#ifndef NINES_STATEFILE_H
#define NINES_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATEFILE_NAME "state"          /* file name inside state_dir */
#define STATEFILE_VERSION 1
#define STATEFILE_NAME_MAX 255          /* longest service name */
#define STATEFILE_MAX_BYTES (256u << 20) /* load refuses larger files (-EFBIG) */

enum statefile_want {
	STATEFILE_WANT_UP,
	STATEFILE_WANT_DOWN,
	STATEFILE_WANT_COUNT
};

struct statefile_entry {
	char name[STATEFILE_NAME_MAX + 1];
	enum statefile_want want;
	uint64_t restarts;   /* restarts done so far (status "restarts N") */
	uint64_t last_restart_ms; /* wall-clock ms of the last restart; 0: never */
	uint64_t *failures;  /* budget failure times, wall-clock ms; malloc'd, owned by the entry */
	size_t n_failures;
};

struct statefile {
	struct statefile_entry *v; /* malloc'd array, n used of cap */
	size_t n, cap;
};

/* Name of a want value ("up", "down"); "?" when out of range. Static storage. */
const char *statefile_want_name(enum statefile_want want);

/* True when s is a valid service name: [a-z0-9_.-]{1,STATEFILE_NAME_MAX}. */
bool statefile_name_valid(const char *s);

/* Makes *sf empty. No allocation. */
void statefile_init(struct statefile *sf);

/* Frees everything *sf owns and leaves it empty. */
void statefile_free(struct statefile *sf);

/* The entry for `name`, or NULL. The pointer is valid until the next set/free. */
struct statefile_entry *statefile_get(const struct statefile *sf, const char *name);

/* Adds or replaces the entry for `name`; copies failures[0..n) (wall-clock ms). Returns 0,
 * -EINVAL (bad name, bad want, n > BUDGET_MAX_LIMIT) or -ENOMEM (then *sf is unchanged). */
int statefile_set(struct statefile *sf, const char *name, enum statefile_want want,
		  uint64_t restarts, uint64_t last_restart_ms, const uint64_t *failures, size_t n);

/* Removes the entry for `name` (a service deleted from the config). Returns 0 or -ENOENT. */
int statefile_remove(struct statefile *sf, const char *name);

/* Parses text[0..len) into *sf (replacing its content). Problems are skipped and described in
 * warn (NUL-terminated, "line N: ..." joined by "; ", truncated to warn_size; "" when the text was
 * clean; warn may be NULL when warn_size is 0). Returns 0, or -ENOMEM (then *sf is empty). */
int statefile_parse(struct statefile *sf, const char *text, size_t len, char *warn,
		    size_t warn_size);

/* Formats *sf in the format above. On success *out is a malloc'd NUL-terminated string owned by
 * the caller and *out_len its length. Returns 0 or -ENOMEM. */
int statefile_format(const struct statefile *sf, char **out, size_t *out_len);

/* Writes state_dir + "/" STATEFILE_NAME into buf (size bytes). Returns 0, -EINVAL for an empty
 * state_dir, or -ENAMETOOLONG. */
int statefile_path(char *buf, size_t size, const char *state_dir);

/* Reads and parses the file at path into *sf (replacing its content), warnings as in
 * statefile_parse. Returns 0, or -errno: -ENOENT when there is none yet (first boot; *sf is empty),
 * -EFBIG beyond STATEFILE_MAX_BYTES, -EINVAL when it is not a regular file, -ENOMEM. */
int statefile_load(const char *path, struct statefile *sf, char *warn, size_t warn_size);

/* Atomically replaces the file at path with *sf (see above). Returns 0 or -errno. On an error
 * before the rename the old file is untouched and the temp file removed; an error from the final
 * directory fsync means the new file is in place but may not survive a power loss. */
int statefile_save(const char *path, const struct statefile *sf);

#endif
