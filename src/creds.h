/* creds: the privileges of a service process. Owns struct creds, a plain description filled in
 * the parent from config (user/group resolved there, since NSS lookups are not safe after fork),
 * and creds_apply(), which a forked child calls right before chdir/exec to set its resource
 * limits, umask, supplementary groups, gid, uid, capabilities and no_new_privs, in that order.
 * Capabilities go through libcap (2.66 on Debian 12). */
#ifndef NINES_CREDS_H
#define NINES_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <sys/types.h>

/* uid or gid value meaning "keep the one nines has". Also setresuid(2)'s "unchanged". */
#define CREDS_ID_UNCHANGED ((uid_t)-1)

/* Capabilities fit in the kernel's 64-bit masks, so a list never needs more entries. */
#define CREDS_CAPS_MAX 64

/* At most one entry per resource. */
#define CREDS_RLIMIT_MAX RLIM_NLIMITS

struct creds_rlimit {
	int resource; /* RLIMIT_* */
	rlim_t soft, hard; /* RLIM_INFINITY (== PARSE_RLIM_INFINITY) for unlimited */
};

struct creds {
	uid_t uid; /* CREDS_ID_UNCHANGED: keep */
	gid_t gid; /* CREDS_ID_UNCHANGED: keep */
	bool set_groups; /* replace the supplementary groups with groups[0..ngroups) */
	size_t ngroups;
	gid_t *groups; /* malloc'd, owned by the struct (creds_free) */
	bool set_umask;
	mode_t umask;
	size_t nrlimits;
	struct creds_rlimit rlimits[CREDS_RLIMIT_MAX];
	bool set_caps; /* false: capabilities follow setuid(2) semantics; true: exactly caps[] */
	size_t ncaps;
	cap_value_t caps[CREDS_CAPS_MAX]; /* kept in P, E, I, ambient and bounding sets */
};

/* The step of creds_apply() that failed, for "cannot set credentials: STAGE: strerror". */
enum creds_stage {
	CREDS_STAGE_NONE,
	CREDS_STAGE_RLIMIT,
	CREDS_STAGE_KEEPCAPS,
	CREDS_STAGE_SETGROUPS,
	CREDS_STAGE_SETGID,
	CREDS_STAGE_SETUID,
	CREDS_STAGE_CAPS,
	CREDS_STAGE_BOUNDING,
	CREDS_STAGE_AMBIENT,
	CREDS_STAGE_NO_NEW_PRIVS,
	CREDS_STAGE_COUNT
};

/* Sets c to "change nothing" (ids unchanged, no groups, umask, rlimits or capabilities). */
void creds_init(struct creds *c);

/* Frees what c owns (the group list) and re-initialises it. NULL is allowed. */
void creds_free(struct creds *c);

/* Parent side (NSS lookups; never call after fork). Resolves user and group, each a name or a
 * decimal id, or NULL for "not given". user: uid, primary gid, and the supplementary groups of
 * getgrouplist(3) (initgroups(3) semantics); group overrides the primary gid (and is the gid
 * getgrouplist adds). group alone: that gid with no supplementary groups. A numeric user without
 * a passwd entry needs group. Returns 0, -ENOENT for an unknown name (c unchanged), -EINVAL,
 * -ENOMEM or another -errno from NSS. */
int creds_resolve_user(struct creds *c, const char *user, const char *group);

/* Adds or replaces the limit of resource (RLIMIT_*). Returns 0, or -EINVAL for an unknown
 * resource or soft > hard. */
int creds_set_rlimit(struct creds *c, int resource, uint64_t soft, uint64_t hard);

/* Config key ("rlimit_nofile") to RLIMIT_* value; -EINVAL for anything else. */
int creds_rlimit_resource(const char *key);

/* RLIMIT_* value to its config key ("rlimit_nofile"); "?" for others, never NULL. */
const char *creds_rlimit_key(int resource);

/* Parses a `capabilities =` value: names (CAP_NET_BIND_SERVICE, any case) separated by
 * whitespace and/or commas; duplicates are ignored. An empty value means "keep none". Sets
 * set_caps. Returns 0, or -EINVAL with the offending token copied into bad (badsz bytes,
 * NUL-terminated, may be NULL) for an unknown name or one this kernel lacks; c unchanged then. */
int creds_parse_caps(struct creds *c, const char *text, char *bad, size_t badsz);

/* Child side, after fork and before exec: applies c in the order rlimits, umask, keepcaps,
 * setgroups, setgid, setuid, capability sets (P/E/I), bounding set, ambient set, no_new_privs.
 * Capabilities end as: set_caps: exactly caps[] in P, E, I, ambient and bounding (so a non-root
 * program keeps them across execve), plus no_new_privs; else a non-root uid: none at all, plus
 * no_new_privs; else (uid unchanged or 0): untouched, no_new_privs untouched. A non-root nines
 * that already has the requested uid/gid skips the id switch (it could not setgroups).
 * Returns 0 or -errno with *stage (may be NULL) naming the failed step (-EPERM at
 * CREDS_STAGE_CAPS when nines lacks a listed capability). No NSS lookups; it uses malloc
 * through libcap, which is fine in the child of a single-threaded parent. */
int creds_apply(const struct creds *c, enum creds_stage *stage);

/* Human text for a creds_apply() stage ("setuid", "bounding set"...); never NULL. */
const char *creds_stage_name(int stage);

#endif
