/* creds: see creds.h. The order of creds_apply() matters:
 * - rlimits first, while we may still raise hard limits (CAP_SYS_RESOURCE, setrlimit(2));
 * - PR_SET_KEEPCAPS before setuid(2), else the kernel clears the permitted set when every uid
 *   becomes non-zero (capabilities(7), "Effect of user ID changes on capabilities");
 * - setgroups(2), setgid(2) before setuid(2): both need CAP_SETGID, gone for a plain user;
 * - the ambient set is raised after setuid, because setuid clears it even with KEEPCAPS, and
 *   while CAP_SETPCAP is still effective; P/E/I are narrowed to the kept list last;
 * - no_new_privs at the end: prctl(2) PR_SET_NO_NEW_PRIVS, so no setuid binary or file
 *   capability can hand back what was dropped. */
#include "creds.h"

#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const stage_names[] = {
	[CREDS_STAGE_NONE] = "none",
	[CREDS_STAGE_RLIMIT] = "rlimit",
	[CREDS_STAGE_KEEPCAPS] = "keepcaps",
	[CREDS_STAGE_SETGROUPS] = "setgroups",
	[CREDS_STAGE_SETGID] = "setgid",
	[CREDS_STAGE_SETUID] = "setuid",
	[CREDS_STAGE_CAPS] = "capabilities",
	[CREDS_STAGE_BOUNDING] = "bounding set",
	[CREDS_STAGE_AMBIENT] = "ambient capabilities",
	[CREDS_STAGE_NO_NEW_PRIVS] = "no_new_privs",
};
_Static_assert(sizeof stage_names / sizeof stage_names[0] == CREDS_STAGE_COUNT,
	       "every creds stage needs a name");

/* Indexed by RLIMIT_*; NULL for resources without a config key. */
static const char *const rlimit_keys[RLIM_NLIMITS] = {
	[RLIMIT_CPU] = "rlimit_cpu",
	[RLIMIT_FSIZE] = "rlimit_fsize",
	[RLIMIT_DATA] = "rlimit_data",
	[RLIMIT_STACK] = "rlimit_stack",
	[RLIMIT_CORE] = "rlimit_core",
	[RLIMIT_NPROC] = "rlimit_nproc",
	[RLIMIT_NOFILE] = "rlimit_nofile",
	[RLIMIT_MEMLOCK] = "rlimit_memlock",
	[RLIMIT_AS] = "rlimit_as",
};
_Static_assert(sizeof rlimit_keys / sizeof rlimit_keys[0] == RLIM_NLIMITS,
	       "rlimit key table covers every resource");

const char *creds_stage_name(int stage)
{
	if (stage < 0 || stage >= CREDS_STAGE_COUNT)
		return "?";
	return stage_names[stage];
}

void creds_init(struct creds *c)
{
	memset(c, 0, sizeof *c);
	c->uid = CREDS_ID_UNCHANGED;
	c->gid = CREDS_ID_UNCHANGED;
}

void creds_free(struct creds *c)
{
	if (!c)
		return;
	free(c->groups);
	creds_init(c);
}

/* ---------------------------------------------------------------- rlimits */

int creds_rlimit_resource(const char *key)
{
	for (int r = 0; r < RLIM_NLIMITS; r++) {
		if (rlimit_keys[r] && strcmp(rlimit_keys[r], key) == 0)
			return r;
	}
	return -EINVAL;
}

const char *creds_rlimit_key(int resource)
{
	if (resource < 0 || resource >= RLIM_NLIMITS || !rlimit_keys[resource])
		return "?";
	return rlimit_keys[resource];
}

/* uint64 "infinity" (PARSE_RLIM_INFINITY) and anything rlim_t cannot hold become RLIM_INFINITY. */
static rlim_t to_rlim(uint64_t v)
{
	return v >= (uint64_t)RLIM_INFINITY ? RLIM_INFINITY : (rlim_t)v;
}

int creds_set_rlimit(struct creds *c, int resource, uint64_t soft, uint64_t hard)
{
	size_t i;

	if (resource < 0 || resource >= RLIM_NLIMITS || soft > hard)
		return -EINVAL;
	for (i = 0; i < c->nrlimits && c->rlimits[i].resource != resource; i++)
		;
	if (i == c->nrlimits)
		c->nrlimits++; /* at most one entry per resource, so never beyond CREDS_RLIMIT_MAX */
	c->rlimits[i].resource = resource;
	c->rlimits[i].soft = to_rlim(soft);
	c->rlimits[i].hard = to_rlim(hard);
	return 0;
}

/* ---------------------------------------------------------------- capability names */

static bool caps_listed(const cap_value_t *caps, size_t n, cap_value_t v)
{
	for (size_t i = 0; i < n; i++) {
		if (caps[i] == v)
			return true;
	}
	return false;
}

static void copy_token(char *bad, size_t badsz, const char *tok, size_t len)
{
	if (!bad || badsz == 0)
		return;
	if (len >= badsz)
		len = badsz - 1;
	memcpy(bad, tok, len);
	bad[len] = '\0';
}

/* One "CAP_NAME" token of len bytes to its value; -EINVAL for unknown names, bare numbers
 * (cap_from_name accepts them, but their meaning depends on the kernel) and caps this kernel
 * does not have (cap_max_bits(3)). */
static int cap_token(const char *tok, size_t len, cap_value_t *out)
{
	char name[64];
	cap_value_t v;

	if (len < 5 || len >= sizeof name || strncasecmp(tok, "cap_", 4) != 0)
		return -EINVAL;
	memcpy(name, tok, len);
	name[len] = '\0';
	if (cap_from_name(name, &v) < 0 || v < 0 || v >= (cap_value_t)cap_max_bits())
		return -EINVAL;
	*out = v;
	return 0;
}

int creds_parse_caps(struct creds *c, const char *text, char *bad, size_t badsz)
{
	cap_value_t caps[CREDS_CAPS_MAX];
	size_t n = 0;
	const char *p = text;

	for (;;) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		const char *tok = p;
		while (*p && *p != ',' && !isspace((unsigned char)*p))
			p++;
		cap_value_t v;
		if (cap_token(tok, (size_t)(p - tok), &v) < 0) {
			copy_token(bad, badsz, tok, (size_t)(p - tok));
			return -EINVAL;
		}
		/* v < cap_max_bits() <= 64 distinct values, so n never exceeds CREDS_CAPS_MAX */
		if (!caps_listed(caps, n, v) && n < CREDS_CAPS_MAX)
			caps[n++] = v;
	}
	memcpy(c->caps, caps, n * sizeof caps[0]);
	c->ncaps = n;
	c->set_caps = true;
	return 0;
}

/* ---------------------------------------------------------------- user and group lookup */

/* getpwnam_r(3) and friends report "not found" as 0 with a NULL result, or as one of these. */
static bool nss_not_found(int r)
{
	return r == 0 || r == ENOENT || r == ESRCH || r == EBADF || r == EPERM;
}

#define NSS_BUF_MIN 1024
#define NSS_BUF_MAX (1u << 20)

/* Looks up user (a name, or a decimal uid when numeric is set) into *pw, whose strings live in
 * *buf (malloc'd, the caller frees it even on error). 0, -ENOENT, -ENOMEM or -errno. */
static int get_pw(const char *user, bool numeric, uid_t id, struct passwd *pw, char **buf)
{
	for (size_t size = NSS_BUF_MIN;; size *= 2) {
		struct passwd *res = NULL;
		char *nb = realloc(*buf, size);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		int r = numeric ? getpwuid_r(id, pw, nb, size, &res) : getpwnam_r(user, pw, nb, size, &res);
		if (r == ERANGE && size < NSS_BUF_MAX)
			continue;
		if (r == 0 && res)
			return 0;
		return nss_not_found(r) ? -ENOENT : -r;
	}
}

/* A name or decimal gid to a gid. 0, -ENOENT, -ENOMEM or -errno. */
static int resolve_group(const char *group, gid_t *gid)
{
	uint64_t id;
	bool numeric = parse_uint(group, UINT32_MAX - 1, &id) == 0;
	char *buf = NULL;
	int r = 0;

	for (size_t size = NSS_BUF_MIN;; size *= 2) {
		struct group gr, *res = NULL;
		char *nb = realloc(buf, size);
		if (!nb) {
			r = -ENOMEM;
			break;
		}
		buf = nb;
		r = numeric ? getgrgid_r((gid_t)id, &gr, buf, size, &res)
			    : getgrnam_r(group, &gr, buf, size, &res);
		if (r == ERANGE && size < NSS_BUF_MAX)
			continue;
		if (r == 0 && res) {
			*gid = gr.gr_gid;
		} else if (nss_not_found(r)) {
			if (numeric)
				*gid = (gid_t)id; /* a bare gid needs no group entry */
			r = numeric ? 0 : -ENOENT;
		} else {
			r = -r;
		}
		break;
	}
	free(buf);
	return r;
}

/* getgrouplist(3) with a growing array: the supplementary groups initgroups(3) would set. */
static int group_list(const char *name, gid_t gid, gid_t **out, size_t *n)
{
	int cap = 32;
	gid_t *g = NULL;

	for (int tries = 0; tries < 8; tries++) {
		gid_t *ng = realloc(g, (size_t)cap * sizeof *g);
		if (!ng) {
			free(g);
			return -ENOMEM;
		}
		g = ng;
		int cnt = cap;
		if (getgrouplist(name, gid, g, &cnt) >= 0) {
			*out = g;
			*n = (size_t)cnt;
			return 0;
		}
		cap = cnt > cap ? cnt : cap * 2; /* glibc sets cnt to the size needed */
	}
	free(g);
	return -ERANGE;
}

/* user to uid, gid (override_gid unless CREDS_ID_UNCHANGED) and its group list (malloc'd). */
static int resolve_user(const char *user, gid_t override_gid, uid_t *uid, gid_t *gid,
			gid_t **groups, size_t *ngroups)
{
	uint64_t id;
	bool numeric = parse_uint(user, UINT32_MAX - 1, &id) == 0;
	struct passwd pw;
	char *buf = NULL;
	int r = get_pw(user, numeric, (uid_t)id, &pw, &buf);

	if (r == 0) {
		*uid = pw.pw_uid;
		*gid = override_gid != CREDS_ID_UNCHANGED ? override_gid : pw.pw_gid;
		r = group_list(pw.pw_name, *gid, groups, ngroups);
	} else if (r == -ENOENT && numeric && override_gid != CREDS_ID_UNCHANGED) {
		/* a uid without a passwd entry (common in containers): no supplementary groups */
		*uid = (uid_t)id;
		*gid = override_gid;
		*groups = NULL;
		*ngroups = 0;
		r = 0;
	}
	free(buf);
	return r;
}

int creds_resolve_user(struct creds *c, const char *user, const char *group)
{
	uid_t uid = CREDS_ID_UNCHANGED;
	gid_t gid = CREDS_ID_UNCHANGED;
	gid_t *groups = NULL;
	size_t ngroups = 0;
	int r;

	if (!user && !group)
		return 0;
	if (group && (r = resolve_group(group, &gid)) < 0)
		return r;
	if (user && (r = resolve_user(user, gid, &uid, &gid, &groups, &ngroups)) < 0)
		return r;
	free(c->groups);
	c->uid = uid;
	c->gid = gid;
	c->groups = groups;
	c->ngroups = ngroups;
	c->set_groups = true;
	return 0;
}

/* ---------------------------------------------------------------- child side */

static int fail(enum creds_stage *stage, enum creds_stage s, int err)
{
	*stage = s;
	return err;
}

static int apply_rlimits(const struct creds *c)
{
	for (size_t i = 0; i < c->nrlimits; i++) {
		struct rlimit rl = {c->rlimits[i].soft, c->rlimits[i].hard};
		if (setrlimit(c->rlimits[i].resource, &rl) < 0)
			return -errno;
	}
	return 0;
}

/* True when c switches to a non-root uid: the program then ends with no capabilities (or only
 * the listed ones) and with no_new_privs. */
static bool drops_root(const struct creds *c)
{
	return c->uid != CREDS_ID_UNCHANGED && c->uid != 0;
}

/* A nines that is not root (e.g. run by a user on a VM) cannot call setgroups(2); when it
 * already has the requested uid and gid there is nothing to switch, so the service keeps nines'
 * own supplementary groups instead of failing with EPERM. */
static bool ids_already_set(const struct creds *c)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (geteuid() == 0 || getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return false;
	bool uid_ok = c->uid == CREDS_ID_UNCHANGED || (ru == c->uid && eu == c->uid && su == c->uid);
	bool gid_ok = c->gid == CREDS_ID_UNCHANGED || (rg == c->gid && eg == c->gid && sg == c->gid);
	return uid_ok && gid_ok;
}

/* setresuid/setresgid set real, effective and saved ids, so root cannot be regained. */
static int switch_ids(const struct creds *c, enum creds_stage *stage)
{
	if (ids_already_set(c))
		return 0;
	if (c->set_groups && setgroups(c->ngroups, c->groups) < 0)
		return fail(stage, CREDS_STAGE_SETGROUPS, -errno);
	if (c->gid != CREDS_ID_UNCHANGED && setresgid(c->gid, c->gid, c->gid) < 0)
		return fail(stage, CREDS_STAGE_SETGID, -errno);
	if (c->uid != CREDS_ID_UNCHANGED && setresuid(c->uid, c->uid, c->uid) < 0)
		return fail(stage, CREDS_STAGE_SETUID, -errno);
	return 0;
}

static int set_listed(cap_t t, cap_flag_t flag, const struct creds *c)
{
	if (c->ncaps == 0)
		return 0;
	return cap_set_flag(t, flag, (int)c->ncaps, c->caps, CAP_SET);
}

/* Working set for the next steps: E = P (for CAP_SETPCAP), I = the kept list (ambient bits need
 * them in I and P). -EPERM when nines itself lacks a listed capability. */
static int caps_working(const struct creds *c)
{
	cap_t t = cap_get_proc();
	int r = 0;

	if (!t)
		return -errno;
	for (size_t i = 0; i < c->ncaps && r == 0; i++) {
		cap_flag_value_t v = CAP_CLEAR;
		if (cap_get_flag(t, c->caps[i], CAP_PERMITTED, &v) < 0)
			r = -errno;
		else if (v != CAP_SET)
			r = -EPERM;
	}
	if (r == 0 && (cap_fill(t, CAP_EFFECTIVE, CAP_PERMITTED) < 0 ||
		       cap_clear_flag(t, CAP_INHERITABLE) < 0 || set_listed(t, CAP_INHERITABLE, c) < 0 ||
		       cap_set_proc(t) < 0))
		r = -errno;
	cap_free(t);
	return r;
}

/* Drops every unlisted capability from the bounding set (needs CAP_SETPCAP). Without
 * CAP_SETPCAP (nines not root) it is skipped: with no_new_privs set, execve can never give more
 * than the permitted set we leave (cap_bprm_creds_from_file in security/commoncap.c). */
static int caps_bound(const struct creds *c)
{
	cap_flag_value_t setpcap = CAP_CLEAR;
	cap_t t = cap_get_proc();

	if (!t)
		return -errno;
	int r = cap_get_flag(t, CAP_SETPCAP, CAP_EFFECTIVE, &setpcap) < 0 ? -errno : 0;
	cap_free(t);
	if (r < 0 || setpcap != CAP_SET)
		return r;
	int max = cap_max_bits();
	for (cap_value_t v = 0; v < max; v++) {
		if (!caps_listed(c->caps, c->ncaps, v) && cap_get_bound(v) > 0 && cap_drop_bound(v) < 0)
			return -errno;
	}
	return 0;
}

/* Ambient = the kept list, so a non-root program keeps them across execve (capabilities(7)). */
static int caps_ambient(const struct creds *c)
{
	if (cap_reset_ambient() < 0 && c->ncaps > 0)
		return -errno; /* with nothing to raise, a kernel without ambient sets is fine */
	for (size_t i = 0; i < c->ncaps; i++) {
		if (cap_set_ambient(c->caps[i], CAP_SET) < 0)
			return -errno;
	}
	return 0;
}

/* P = E = I = the kept list (or all empty when c lists none); ambient bits stay. */
static int caps_exact(const struct creds *c)
{
	cap_t t = cap_init();
	int r = 0;

	if (!t)
		return -errno;
	if (set_listed(t, CAP_PERMITTED, c) < 0 || set_listed(t, CAP_EFFECTIVE, c) < 0 ||
	    set_listed(t, CAP_INHERITABLE, c) < 0 || cap_set_proc(t) < 0)
		r = -errno;
	cap_free(t);
	return r;
}

static int caps_keep_listed(const struct creds *c, enum creds_stage *stage)
{
	int r;

	if ((r = caps_working(c)) < 0)
		return fail(stage, CREDS_STAGE_CAPS, r);
	if ((r = caps_bound(c)) < 0)
		return fail(stage, CREDS_STAGE_BOUNDING, r);
	if ((r = caps_ambient(c)) < 0)
		return fail(stage, CREDS_STAGE_AMBIENT, r);
	if ((r = caps_exact(c)) < 0)
		return fail(stage, CREDS_STAGE_CAPS, r);
	prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L); /* execve clears it anyway */
	return 0;
}

int creds_apply(const struct creds *c, enum creds_stage *stage)
{
	enum creds_stage ignored;
	int r;

	if (!stage)
		stage = &ignored;
	*stage = CREDS_STAGE_NONE;
	if ((r = apply_rlimits(c)) < 0)
		return fail(stage, CREDS_STAGE_RLIMIT, r);
	if (c->set_umask)
		umask(c->umask);
	if (c->set_caps && prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
		return fail(stage, CREDS_STAGE_KEEPCAPS, -errno);
	if ((r = switch_ids(c, stage)) < 0)
		return r;
	if (c->set_caps)
		r = caps_keep_listed(c, stage);
	else if (drops_root(c) && (r = caps_exact(c)) < 0)
		/* setuid already cleared P, E and ambient; this clears I too (inherited from nines) */
		r = fail(stage, CREDS_STAGE_CAPS, r);
	if (r < 0)
		return r;
	if ((c->set_caps || drops_root(c)) && prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
		return fail(stage, CREDS_STAGE_NO_NEW_PRIVS, -errno);
	return 0;
}
