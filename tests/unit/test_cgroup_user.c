/* Rootless cgroups' decisions (sandbox/cgroup_user.c): where this process's
 * cgroup v2 is, which controllers a v1 hierarchy holds, and whether limits
 * can work for the user, with the message that says why not. */
#include "sandbox/cgroup.h"
#include "util/cleanup.h"
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A systemd host on the unified hierarchy. */
static const char v2_mounts[] =
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	"29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
	"rw,nsdelegate,memory_recursiveprot\n";
/* This host's: hybrid, every controller on v1, cgroup2 at .../unified. */
static const char hybrid_mounts[] =
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
/* Legacy: v1 only. */
static const char v1_mounts[] =
	"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:10 - cgroup cgroup rw,memory\n";

static void dir_is(const char *mounts, const char *self, const char *want, const char *what)
{
	_cleanup_free_ char *got = sb_cgroup2_dir(mounts, self);
	if (want)
		UNIT_STREQ(got, want, "%s", what);
	else
		UNIT_CHECK(got == NULL, "%s: none (got %s)", what, got ? got : "NULL");
}

static void test_dir(void)
{
	static const char user[] = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope\n";
	/* A container's cgroup namespace: the mount shows a subtree at its root. */
	static const char sub[] = "50 40 0:30 /docker/abc /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw\n";
	/* Optional fields, an escaped mount point, a broken line, then the mount. */
	static const char odd[] =
		"garbage\n"
		"1 2 3 4 5 6 - \n"
		"60 1 0:40 / /mnt/c\\040g rw shared:7 master:1 propagation_from:2 - cgroup2 none rw\n";
	static const char two[] =
		"50 40 0:30 /other /x rw - cgroup2 cgroup2 rw\n"
		"51 40 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";

	dir_is(v2_mounts, user, "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope",
	       "v2: the 0:: path below /sys/fs/cgroup");
	dir_is(v2_mounts, "0::/\n", "/sys/fs/cgroup", "v2: the root is the mount point itself");
	dir_is(hybrid_mounts, "4:memory:/x\n1:cpu:/\n0::/cairn-t0741\n", "/sys/fs/cgroup/unified/cairn-t0741",
	       "hybrid: below /sys/fs/cgroup/unified, whatever v1 says");
	dir_is(v1_mounts, "2:cpu,cpuacct:/\n1:memory:/\n", NULL, "v1 only: no cgroup2 mount, no 0:: line");
	dir_is(v1_mounts, "0::/\n", NULL, "a 0:: line but no cgroup2 mount");
	dir_is(v2_mounts, "1:memory:/\n", NULL, "a cgroup2 mount but no 0:: line");
	dir_is(v2_mounts, "0::relative\n", NULL, "a 0:: path that is not absolute");
	dir_is(v2_mounts, NULL, NULL, "no /proc/self/cgroup");
	dir_is(sub, "0::/docker/abc/build\n", "/sys/fs/cgroup/build", "a mounted subtree: the rest below it");
	dir_is(sub, "0::/docker/abc\n", "/sys/fs/cgroup", "a mounted subtree: its root");
	dir_is(sub, "0::/docker/abcd\n", NULL, "a mounted subtree holds no sibling with its name as prefix");
	dir_is(sub, "0::/\n", NULL, "a cgroup above the mounted subtree is not visible");
	dir_is(odd, "0::/a b\n", "/mnt/c g/a b", "optional fields skipped, \\040 unescaped, bad lines ignored");
	dir_is(two, "0::/y\n", "/sys/fs/cgroup/y", "the first cgroup2 mount whose root holds the cgroup");
	dir_is(two, "0::/other/z\n", "/x/z", "a mount of the subtree holding it comes first when listed first");
	dir_is("", "0::/\n", NULL, "empty mountinfo");
}

static void test_v1_bound(void)
{
	UNIT_CHECK(sb_cgroup_v1_bound(hybrid_mounts, "memory") && sb_cgroup_v1_bound(hybrid_mounts, "pids") &&
		   sb_cgroup_v1_bound(hybrid_mounts, "cpu"), "hybrid: memory, pids, cpu are on v1");
	UNIT_CHECK(!sb_cgroup_v1_bound(hybrid_mounts, "hugetlb"), "hybrid: hugetlb is not (it is on v2 here)");
	UNIT_CHECK(!sb_cgroup_v1_bound(hybrid_mounts, "systemd"), "name=systemd is no controller");
	UNIT_CHECK(sb_cgroup_v1_bound(v1_mounts, "cpu") && sb_cgroup_v1_bound(v1_mounts, "cpuacct"),
		   "co-mounted cpu,cpuacct: both");
	UNIT_CHECK(!sb_cgroup_v1_bound(v1_mounts, "pids"), "v1 without pids");
	UNIT_CHECK(!sb_cgroup_v1_bound(v2_mounts, "memory"), "v2 only: nothing on v1");
	UNIT_CHECK(!sb_cgroup_v1_bound("35 31 0:32 / /m rw - cgroup cgroup rw,memoryx\n", "memory"),
		   "whole names only");
}

static void test_list(void)
{
	UNIT_CHECK(sb_cgroup_list_has("cpuset cpu io memory hugetlb pids rdma misc\n", "cpu") &&
		   sb_cgroup_list_has("cpuset cpu io memory hugetlb pids rdma misc\n", "misc"),
		   "cgroup.controllers: first, middle and last names");
	UNIT_CHECK(!sb_cgroup_list_has("cpuset io\n", "cpu") && !sb_cgroup_list_has("memory\n", "mem"),
		   "whole names only");
	UNIT_CHECK(!sb_cgroup_list_has("", "pids") && !sb_cgroup_list_has("\n", "pids") &&
		   !sb_cgroup_list_has(NULL, "pids"), "empty or unread: nothing");
	UNIT_CHECK(sb_cgroup_list_has(" \tpids\t", "pids"), "any white space");
}

static void test_nsdelegate(void)
{
	UNIT_CHECK(sb_cgroup2_nsdelegate(v2_mounts, "/sys/fs/cgroup"), "systemd's mount has nsdelegate");
	UNIT_CHECK(!sb_cgroup2_nsdelegate(hybrid_mounts, "/sys/fs/cgroup/unified"), "this host's unified has not");
	UNIT_CHECK(!sb_cgroup2_nsdelegate(v2_mounts, "/sys/fs/cgroup/unified"), "only the mount at the point asked");
	UNIT_CHECK(!sb_cgroup2_nsdelegate("29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegatex\n",
					  "/sys/fs/cgroup"), "whole option names only");
	UNIT_CHECK(!sb_cgroup2_nsdelegate("29 23 0:26 / /sys/fs/cgroup rw - cgroup cgroup rw,nsdelegate\n",
					  "/sys/fs/cgroup"), "a v1 mount does not count");
}

static const char own[] = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope";

/* The verdict's message, "" when the limits can work. */
static const char *verdict(const struct sb_cgroup_facts *f, struct sb_limits l)
{
	static cn_err err;
	err.msg[0] = '\0';
	if (sb_cgroup_user_verdict(f, &l, &err) == 0)
		return "";
	if (!err.msg[0])
		return "(failed without a message)";
	return err.msg;
}

#define HAS(s, sub) (strstr((s), (sub)) != NULL)

static void test_verdict(void)
{
	const struct sb_limits all = { .memory = 1 << 20, .cpus_milli = 500, .pids = 10 };
	const struct sb_limits mem = { .memory = 1 << 20 }, pids = { .pids = 10 }, cpus = { .cpus_milli = 500 };
	struct sb_cgroup_facts ok = { .mountinfo = v2_mounts, .dir = own,
				      .controllers = "cpuset cpu io memory pids\n", .dir_writable = true,
				      .procs_writable = true, .subtree_writable = true, .uid = 1000 };
	struct sb_cgroup_facts f;
	const char *m;

	UNIT_STREQ(verdict(&ok, all), "", "v2, delegated, memory pids cpu listed: all limits work");

	f = ok;
	f.controllers = "memory pids\n";
	UNIT_STREQ(verdict(&f, mem), "", "memory and pids delegated: --memory works");
	UNIT_STREQ(verdict(&f, pids), "", "...and --pids-limit");
	m = verdict(&f, cpus);
	UNIT_CHECK(HAS(m, "--cpus needs the cpu cgroup controller") && HAS(m, own) &&
		   HAS(m, "/cgroup.controllers does not list") && HAS(m, "Delegate=memory pids cpu"),
		   "...but --cpus names the cpu controller, the file and the drop-in: %s", m);
	m = verdict(&f, all);
	UNIT_CHECK(HAS(m, "--cpus needs the cpu"), "all three: the missing one is named: %s", m);
	f.controllers = NULL;
	m = verdict(&f, mem);
	UNIT_CHECK(HAS(m, "--memory needs the memory cgroup controller"), "cgroup.controllers unread: %s", m);

	f = ok;
	f.subtree_writable = false;
	m = verdict(&f, pids);
	UNIT_CHECK(HAS(m, "need a cgroup delegated to you") && HAS(m, own) && HAS(m, "its cgroup.subtree_control") &&
		   HAS(m, "systemd-run --user --scope -p Delegate=yes cairn") && HAS(m, "user@1000.service"),
		   "not delegated: names the cgroup, the file, systemd-run and user@UID: %s", m);
	f = ok;
	f.procs_writable = false;
	UNIT_CHECK(HAS(verdict(&f, pids), "its cgroup.procs"), "cgroup.procs not writable: named");
	f = ok;
	f.dir_writable = f.procs_writable = f.subtree_writable = false;
	UNIT_CHECK(HAS(verdict(&f, pids), "you may not write to it"), "the directory not writable: said so");

	/* v1 and hybrid hosts: today's message. */
	f = (struct sb_cgroup_facts){ .mountinfo = v1_mounts, .uid = 1000 };
	m = verdict(&f, mem);
	UNIT_CHECK(HAS(m, "need root on this host: its cgroups are v1") && HAS(m, "user@UID.service"),
		   "v1 only: refused, saying v1 delegates nothing: %s", m);
	f.mountinfo = NULL;
	UNIT_CHECK(HAS(verdict(&f, mem), "its cgroups are v1"), "no mountinfo: as v1");
	f = (struct sb_cgroup_facts){ .mountinfo = hybrid_mounts, .dir = "/sys/fs/cgroup/unified/init.scope",
				      .controllers = "hugetlb\n", .uid = 1000 };
	UNIT_CHECK(HAS(verdict(&f, pids), "its cgroups are v1"),
		   "hybrid, not delegated: the v1 message (delegating would not bring the controllers)");
	f.dir_writable = f.procs_writable = f.subtree_writable = true;
	m = verdict(&f, pids);
	UNIT_CHECK(HAS(m, "--pids-limit needs the pids cgroup controller") &&
		   HAS(m, "/sys/fs/cgroup/unified/init.scope/cgroup.controllers") &&
		   HAS(m, "binds it to a cgroup v1 hierarchy"),
		   "hybrid, delegated: names pids, the file, and that v1 holds it: %s", m);
	/* A hybrid host that left pids to v2: delegation is what is missing. */
	f = (struct sb_cgroup_facts){ .mountinfo = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
						   "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
				      .dir = "/sys/fs/cgroup/unified/s", .controllers = "pids\n", .uid = 7 };
	m = verdict(&f, pids);
	UNIT_CHECK(HAS(m, "need a cgroup delegated to you") && HAS(m, "user@7.service"),
		   "hybrid with pids on v2, not delegated: the delegation message: %s", m);
	f.dir_writable = f.procs_writable = f.subtree_writable = true;
	UNIT_STREQ(verdict(&f, pids), "", "...and once delegated, --pids-limit works");
	UNIT_CHECK(HAS(verdict(&f, mem), "its cgroups are v1") == false &&
		   HAS(verdict(&f, mem), "binds it to a cgroup v1 hierarchy"),
		   "...while --memory, bound to v1 there, says so");

	/* A cgroup2 mount that does not hold this process's cgroup. */
	f = (struct sb_cgroup_facts){ .mountinfo = v2_mounts, .uid = 1000 };
	m = verdict(&f, mem);
	UNIT_CHECK(HAS(m, "under no cgroup2 mount"), "cgroup v2 not visible: said so: %s", m);
}

/* Who the last process of cairn's leaf waits for: the pids of
 * cgroup.procs but itself and those that left a mark (already exiting). */
static void test_others(void)
{
	const long gone[] = { 200, 300 };
	long one = 0;
	UNIT_CHECK(sb_cgroup_others("100\n", 100, NULL, 0, &one) == 0, "only itself: no others");
	UNIT_CHECK(sb_cgroup_others("100\n200\n", 100, NULL, 0, &one) == 1 && one == 200,
		   "another pid is another (%ld)", one);
	UNIT_CHECK(sb_cgroup_others("100\n200\n", 100, gone, 2, &one) == 0,
		   "run -d and its supervisor exiting at once: the one that left a mark is not counted, "
		   "so the other is last");
	one = 0;
	UNIT_CHECK(sb_cgroup_others("200\n100\n400\n300\n", 100, gone, 2, &one) == 1 && one == 400,
		   "a pid without a mark still counts (%ld)", one);
	UNIT_CHECK(sb_cgroup_others("", 100, gone, 2, &one) == 0 && sb_cgroup_others(NULL, 100, NULL, 0, &one) == 0,
		   "empty or unread: none");
}

/* A rootless exec refused the container's cgroup: the message says how. */
static void test_exec_denied(void)
{
	cn_err err;
	cn_err_errno(&err, EACCES, "move the container into its cgroup: write 42 to /x/cgroup.procs");
	sb_cgroup_user_exec_denied(&err);
	UNIT_CHECK(cn_err_is(&err, CN_ERR_DENIED), "denied");
	UNIT_CHECK(strstr(err.msg, "write 42 to /x/cgroup.procs") != NULL, "...the refused write kept");
	UNIT_CHECK(strstr(err.msg, "systemd-run --user --scope -p Delegate=yes cairn exec") != NULL,
		   "...and how to run exec instead");
	cn_err_errno(&err, ENOENT, "move the container into its cgroup: gone");
	sb_cgroup_user_exec_denied(&err);
	UNIT_CHECK(cn_err_is(&err, CN_ERR_SYSTEM) && !strstr(err.msg, "systemd-run"),
		   "another error is left as it is");
}

int main(void)
{
	test_dir();
	test_v1_bound();
	test_list();
	test_nsdelegate();
	test_verdict();
	test_others();
	test_exec_denied();
	return UNIT_DONE();
}
