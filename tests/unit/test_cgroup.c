/* The cgroup module's pure parts: docker's limit syntax, the files a limit
 * writes on v1 and on v2, /proc/self/cgroup, and the OOM counters. */
#include "sandbox/cgroup.h"
#include "util/cleanup.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static void test_memory(void)
{
	static const struct { const char *in; unsigned long long want; } ok[] = {
		{ "64m", 64ULL << 20 }, { "64M", 64ULL << 20 }, { "1g", 1ULL << 30 }, { "512k", 512ULL << 10 },
		{ "4096", 4096 }, { "4096b", 4096 }, { "2mb", 2ULL << 20 },
	};
	static const char *const bad[] = { "", "m", "-1m", "0", "1.5g", "12x", "64mm", "1t", "64 m" };
	for (size_t i = 0; i < CN_ARRAY_SIZE(ok); i++) {
		unsigned long long v = 0;
		UNIT_CHECK(sb_parse_memory(ok[i].in, &v) == 0 && v == ok[i].want, "--memory %s = %llu", ok[i].in,
			   ok[i].want);
	}
	for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
		unsigned long long v = 0;
		UNIT_CHECK(sb_parse_memory(bad[i], &v) < 0, "--memory '%s' is refused", bad[i]);
	}
}

static void test_cpus(void)
{
	static const struct { const char *in; unsigned long want; } ok[] = {
		{ "1", 1000 }, { "0.5", 500 }, { "2.25", 2250 }, { ".1", 100 }, { "1.", 1000 }, { "0.001", 1 },
	};
	static const char *const bad[] = { "", "0", "0.0", "-1", "1.0001", "abc", "1,5", "99999" };
	for (size_t i = 0; i < CN_ARRAY_SIZE(ok); i++) {
		unsigned long v = 0;
		UNIT_CHECK(sb_parse_cpus(ok[i].in, &v) == 0 && v == ok[i].want, "--cpus %s = %lu/1000", ok[i].in,
			   ok[i].want);
	}
	for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
		unsigned long v = 0;
		UNIT_CHECK(sb_parse_cpus(bad[i], &v) < 0, "--cpus '%s' is refused", bad[i]);
	}
}

/* "file=value[?]" joined by spaces ('?' marks optional). */
static char *describe(enum sb_cgroup_version v, const struct sb_limits *l)
{
	struct sb_cgroup_setting s[8];
	size_t n = sb_cgroup_settings(v, l, s, CN_ARRAY_SIZE(s));
	static char out[512];
	size_t off = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && i < CN_ARRAY_SIZE(s); i++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%s:%s=%s%s", i ? " " : "",
					s[i].controller, s[i].file, s[i].value, s[i].optional ? "?" : "");
	return out;
}

static void test_settings(void)
{
	struct sb_limits all = { .memory = 64ULL << 20, .cpus_milli = 1500, .pids = 20 };
	struct sb_limits mem = { .memory = 1ULL << 30 };
	struct sb_limits none = { 0 };
	UNIT_STREQ(describe(SB_CGROUP_V1, &all),
		   "memory:memory.limit_in_bytes=67108864 memory:memory.memsw.limit_in_bytes=67108864? "
		   "pids:pids.max=20 cpu:cpu.cfs_period_us=100000 cpu:cpu.cfs_quota_us=150000",
		   "v1: memory then memsw (no swap), pids, cfs period then quota");
	UNIT_STREQ(describe(SB_CGROUP_V2, &all),
		   "memory:memory.max=67108864 memory:memory.swap.max=0? pids:pids.max=20 cpu:cpu.max=150000 100000",
		   "v2: memory.max, swap.max 0, pids.max, cpu.max QUOTA PERIOD");
	UNIT_STREQ(describe(SB_CGROUP_V2, &mem), "memory:memory.max=1073741824 memory:memory.swap.max=0?",
		   "v2: only what was asked for");
	UNIT_STREQ(describe(SB_CGROUP_V1, &none), "", "no limits, no writes");
	UNIT_CHECK(!sb_limits_any(&none) && sb_limits_any(&mem) && !sb_limits_any(NULL), "sb_limits_any");
}

static void test_own_path(void)
{
	static const char hybrid[] =
		"9:name=systemd:/user.slice/session-1.scope\n"
		"8:pids:/user.slice\n"
		"4:memory:/process_api/abc\n"
		"2:cpu,cpuacct:/grp\n"
		"0::/user.slice/session-1.scope\n";
	static const char unified[] = "0::/\n";
	_cleanup_free_ char *mem = sb_cgroup_own_path(hybrid, "memory");
	_cleanup_free_ char *cpu = sb_cgroup_own_path(hybrid, "cpu");
	_cleanup_free_ char *acct = sb_cgroup_own_path(hybrid, "cpuacct");
	_cleanup_free_ char *v2 = sb_cgroup_own_path(hybrid, NULL);
	_cleanup_free_ char *root = sb_cgroup_own_path(unified, NULL);
	_cleanup_free_ char *missing = sb_cgroup_own_path(unified, "memory");
	_cleanup_free_ char *sys = sb_cgroup_own_path(hybrid, "systemd");
	UNIT_STREQ(mem, "/process_api/abc", "v1 memory path");
	UNIT_STREQ(cpu, "/grp", "v1 co-mounted cpu,cpuacct: cpu");
	UNIT_STREQ(acct, "/grp", "v1 co-mounted cpu,cpuacct: cpuacct");
	UNIT_STREQ(v2, "/user.slice/session-1.scope", "the unified path");
	UNIT_STREQ(root, "/", "v2 root");
	UNIT_CHECK(missing == NULL, "no memory hierarchy on a v2-only system");
	UNIT_CHECK(sys == NULL, "name=systemd is not the systemd controller");
}

static void test_oom(void)
{
	UNIT_CHECK(sb_cgroup_parse_oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n") == 2,
		   "v1 memory.oom_control oom_kill");
	UNIT_CHECK(sb_cgroup_parse_oom_kills("low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n") == 1,
		   "v2 memory.events oom_kill");
	UNIT_CHECK(sb_cgroup_parse_oom_kills("oom_kill_disable 0\nunder_oom 0\n") == 0,
		   "no oom_kill line: none");
}

static void test_exec_leaf(void)
{
	static const char unified[] =
		"22 1 0:21 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
	static const char hybrid[] =
		"25 22 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
		"26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw\n";
	const char *ctr = "/sys/fs/cgroup/cairn/ctr-0123456789ab";
	_cleanup_free_ char *scope = sb_cgroup_exec_leaf(ctr, unified, "0::/cairn/ctr-0123456789ab/init.scope\n");
	_cleanup_free_ char *deep = sb_cgroup_exec_leaf(ctr, unified, "0::/cairn/ctr-0123456789ab/a/b\n");
	_cleanup_free_ char *same = sb_cgroup_exec_leaf(ctr, unified, "0::/cairn/ctr-0123456789ab\n");
	_cleanup_free_ char *other = sb_cgroup_exec_leaf(ctr, unified, "0::/system.slice/x.service\n");
	_cleanup_free_ char *prefix = sb_cgroup_exec_leaf(ctr, unified, "0::/cairn/ctr-0123456789abc/init.scope\n");
	_cleanup_free_ char *hyb = sb_cgroup_exec_leaf("/sys/fs/cgroup/unified/cairn/ctr-1", hybrid,
							"1:name=systemd:/cairn/ctr-1/init.scope\n"
							"0::/cairn/ctr-1/init.scope\n");
	_cleanup_free_ char *none = sb_cgroup_exec_leaf(ctr, hybrid, "1:name=systemd:/cairn/ctr-0123456789ab/x\n");
	UNIT_STREQ(scope, "/sys/fs/cgroup/cairn/ctr-0123456789ab/init.scope", "pid 1 in init.scope below it");
	UNIT_STREQ(deep, "/sys/fs/cgroup/cairn/ctr-0123456789ab/a/b", "any depth below it");
	UNIT_CHECK(same == NULL, "pid 1 in the container's cgroup itself: nothing else to try");
	UNIT_CHECK(other == NULL, "pid 1 moved out of the container's cgroup: refused");
	UNIT_CHECK(prefix == NULL, "a sibling whose name starts with the container's: refused");
	UNIT_STREQ(hyb, "/sys/fs/cgroup/unified/cairn/ctr-1/init.scope", "a hybrid host's unified hierarchy");
	UNIT_CHECK(none == NULL, "no cgroup v2 line: none");
}

int main(void)
{
	test_memory();
	test_cpus();
	test_settings();
	test_own_path();
	test_oom();
	test_exec_leaf();
	return UNIT_DONE();
}
