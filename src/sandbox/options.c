/* Capability names and --ulimit values, as docker spells them. */
#include "sandbox/defaults.h"
#include "sandbox/options.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/* Indexed by number: every capability up to CAP_CHECKPOINT_RESTORE (40). */
static const char *const cap_names[] = {
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
	"SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
	"NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
	"SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
	"AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};

int sb_cap_parse(const char *name)
{
	if (!strncasecmp(name, "CAP_", 4))
		name += 4;
	if (!strcasecmp(name, "ALL"))
		return SB_CAP_ALL;
	for (size_t i = 0; i < CN_ARRAY_SIZE(cap_names); i++)
		if (!strcasecmp(name, cap_names[i]))
			return (int)i;
	return -1;
}

const char *sb_cap_name(int cap)
{
	static char buf[CN_ARRAY_SIZE(cap_names)][24];
	if (cap < 0 || (size_t)cap >= CN_ARRAY_SIZE(cap_names))
		return NULL;
	snprintf(buf[cap], sizeof(buf[cap]), "CAP_%s", cap_names[cap]);
	return buf[cap];
}

uint64_t sb_caps_available(void)
{
	uint64_t mask = 0;
	/* PR_CAPBSET_READ fails (EINVAL) past the kernel's last capability. */
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			mask |= 1ULL << cap;
	return mask;
}

static int caps_of(const cn_strv *names, const char *flag, uint64_t *mask, bool *all, cn_err *err)
{
	*mask = 0;
	*all = false;
	for (size_t i = 0; names && i < names->n; i++) {
		int cap = sb_cap_parse(names->v[i]);
		if (cap < 0)
			return cn_err_fail(err, CN_ERR_INVALID, "%s: unknown capability '%s'", flag, names->v[i]);
		if (cap == SB_CAP_ALL)
			*all = true;
		else
			*mask |= 1ULL << cap;
	}
	return 0;
}

int sb_caps_compute(const cn_strv *add, const cn_strv *drop, uint64_t *caps, cn_err *err)
{
	uint64_t adds, drops, have = sb_caps_available();
	bool add_all, drop_all;
	if (caps_of(add, "--cap-add", &adds, &add_all, err) < 0 ||
	    caps_of(drop, "--cap-drop", &drops, &drop_all, err) < 0)
		return -1;
	for (int cap = 0; cap < 64; cap++)
		if ((adds & (1ULL << cap)) && !(have & (1ULL << cap)))
			return cn_err_fail(err, CN_ERR_DENIED, "--cap-add %s: cairn does not hold this capability "
					   "itself (its bounding set lacks it: the host or the container cairn "
					   "runs in withholds it), so no container can have it",
					   sb_cap_name(cap) ? sb_cap_name(cap) : "?");
	if (add_all)
		*caps = have & ~drops;
	else if (drop_all)
		*caps = adds;
	else
		*caps = (sb_default_caps_mask() & ~drops) | adds;
	return 0;
}

static const struct {
	const char *name;
	int resource;
} rlimits[] = {
	{ "core", RLIMIT_CORE }, { "cpu", RLIMIT_CPU }, { "data", RLIMIT_DATA },
	{ "fsize", RLIMIT_FSIZE }, { "locks", RLIMIT_LOCKS }, { "memlock", RLIMIT_MEMLOCK },
	{ "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE }, { "nofile", RLIMIT_NOFILE },
	{ "nproc", RLIMIT_NPROC }, { "rss", RLIMIT_RSS }, { "rtprio", RLIMIT_RTPRIO },
	{ "rttime", RLIMIT_RTTIME }, { "sigpending", RLIMIT_SIGPENDING }, { "stack", RLIMIT_STACK },
	{ "as", RLIMIT_AS },
};

static int limit_value(const char *s, unsigned long long *out)
{
	char *end;
	if (!strcmp(s, "-1") || !strcmp(s, "unlimited")) {
		*out = RLIM_INFINITY;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end || *out == RLIM_INFINITY ? -1 : 0;
}

int sb_ulimit_parse(const char *s, struct sb_rlimit *out, cn_err *err)
{
	_cleanup_free_ char *copy = cn_xstrdup(s);
	char *eq = strchr(copy, '='), *colon;
	size_t i;
	if (!eq)
		return cn_err_fail(err, CN_ERR_INVALID, "--ulimit '%s': expected NAME=SOFT[:HARD]", s);
	*eq++ = '\0';
	for (i = 0; i < CN_ARRAY_SIZE(rlimits) && strcmp(rlimits[i].name, copy); i++)
		;
	if (i == CN_ARRAY_SIZE(rlimits))
		return cn_err_fail(err, CN_ERR_INVALID, "--ulimit '%s': unknown limit '%s' (core, cpu, data, "
				   "fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, "
				   "sigpending, stack, as)", s, copy);
	colon = strchr(eq, ':');
	if (colon)
		*colon++ = '\0';
	memset(out, 0, sizeof(*out));
	out->resource = rlimits[i].resource;
	snprintf(out->name, sizeof(out->name), "%s", rlimits[i].name);
	if (limit_value(eq, &out->soft) < 0 || (colon && limit_value(colon, &out->hard) < 0))
		return cn_err_fail(err, CN_ERR_INVALID, "--ulimit '%s': a limit is a number, -1 or unlimited", s);
	if (!colon)
		out->hard = out->soft;
	if (out->soft > out->hard)
		return cn_err_fail(err, CN_ERR_INVALID, "--ulimit '%s': the soft limit is above the hard one", s);
	return 0;
}

size_t sb_rlimits_own(struct sb_rlimit *out)
{
	size_t n = 0;
	for (size_t i = 0; i < CN_ARRAY_SIZE(rlimits) && n < SB_RLIMITS_MAX; i++) {
		struct rlimit l;
		if (getrlimit(rlimits[i].resource, &l) < 0)
			continue;
		out[n] = (struct sb_rlimit){ .resource = rlimits[i].resource, .soft = l.rlim_cur,
					     .hard = l.rlim_max, .base = true };
		snprintf(out[n].name, sizeof(out[n].name), "%s", rlimits[i].name);
		n++;
	}
	return n;
}
