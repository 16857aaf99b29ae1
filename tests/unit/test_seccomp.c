/* The default seccomp filter, loaded into a child process: refused calls
 * fail with EPERM (clone3 with ENOSYS), everything else still works. */
#include "sandbox/defaults.h"
#include "sandbox/seccomp.h"
#include "util/cleanup.h"
#include "unit.h"

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static bool in_blocks(uint32_t v, const struct sb_seccomp_block *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((v & b[i].mask) == b[i].value)
			return true;
	return false;
}

static void test_ranges(void)
{
	static const uint32_t cases[][2] = {
		{ 0, 0 }, { 1, 7 }, { 9, 0x1ffff }, { 0x20001, 0x20007 }, { 5, 1000 }, { 0, 0xffffffffU },
		{ 0x20009, 0xfffffffeU },
	};
	for (size_t c = 0; c < CN_ARRAY_SIZE(cases); c++) {
		struct sb_seccomp_block b[80];
		uint32_t lo = cases[c][0], hi = cases[c][1];
		size_t n = sb_seccomp_range_blocks(lo, hi, b, CN_ARRAY_SIZE(b));
		bool ok = n <= CN_ARRAY_SIZE(b);
		/* Every edge and a spread of values around them. */
		uint64_t probes[] = { lo, hi, (uint64_t)lo + 1, hi ? hi - 1 : 0, lo ? lo - 1 : 0,
				      (uint64_t)hi + 1, ((uint64_t)lo + hi) / 2, 0, 8, 0x20000, 0x20008,
				      0xffffffffU, 0x40000, 0x400000 };
		for (size_t i = 0; ok && i < CN_ARRAY_SIZE(probes); i++) {
			if (probes[i] > 0xffffffffU)
				continue;
			uint32_t v = (uint32_t)probes[i];
			ok = in_blocks(v, b, n) == (v >= lo && v <= hi);
		}
		if (ok && hi - lo < 5000)
			for (uint64_t v = lo ? lo - 1 : 0; ok && v <= (uint64_t)hi + 1 && v <= 0xffffffffU; v++)
				ok = in_blocks((uint32_t)v, b, n) == (v >= lo && v <= hi);
		UNIT_CHECK(ok, "range [%#x, %#x] as %zu aligned blocks", lo, hi, n);
	}
}

/* Runs CHECK in a filtered child; its exit status says which step failed. */
static int child_checks(void *filter)
{
	cn_err err;
	if (sb_seccomp_load(filter, true, &err) < 0)
		return 1;
	if (mount("none", "/", "tmpfs", 0, NULL) == 0 || errno != EPERM)
		return 2;
	if (unshare(CLONE_NEWUSER) == 0 || errno != EPERM)
		return 3;
	if (syscall(SYS_clone, (unsigned long)(CLONE_NEWNET | SIGCHLD), NULL, NULL, NULL, NULL) >= 0 ||
	    errno != EPERM)
		return 4;
#ifdef SYS_clone3
	if (syscall(SYS_clone3, NULL, 0) >= 0 || errno != ENOSYS)
		return 5;
#endif
	if (syscall(SYS_keyctl, 0, 0, 0, 0, 0) >= 0 || errno != EPERM)
		return 6;
	if (socket(40 /* AF_VSOCK */, SOCK_STREAM, 0) >= 0 || errno != EPERM)
		return 7;
	if (personality(ADDR_NO_RANDOMIZE) != -1 || errno != EPERM)
		return 8;
	if (personality(0xffffffff) == -1 || personality(PER_LINUX32) == -1 || personality(PER_LINUX) == -1)
		return 9;
	if (syscall(SYS_ptrace, 0, 0, 0, 0) >= 0 || errno != EPERM)
		return 10;
	if (syscall(SYS_open_by_handle_at, -1, NULL, 0) >= 0 || errno != EPERM)
		return 11;
	/* Ordinary work goes on: a plain fork, a socket, a pipe. */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	int p[2];
	if (s < 0 || pipe(p) < 0)
		return 12;
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0 || waitpid(pid, NULL, 0) != pid)
		return 13;
	return 0;
}

static struct rlimit saved_nofile;

/* In a child with FILTER (built for CAP_SYS_ADMIN) loaded: unshare passes
 * the filter, reboot still does not. 0, or the step that failed. */
static int sysadmin_checks(void *filter)
{
	cn_err err;
	if (sb_seccomp_load(filter, true, &err) < 0)
		return 1;
	/* As root here the kernel allows it; only the filter could refuse. */
	if (unshare(CLONE_NEWUTS) < 0 && errno == EPERM && geteuid() == 0)
		return 2;
	/* bad magic: without the filter EINVAL, never a reboot */
	if (syscall(SYS_reboot, 0, 0, 0, NULL) >= 0 || errno != EPERM)
		return 3;
	return 0;
}

/* No new descriptor can be opened (EMFILE) until fds_back. */
static int no_new_fds(void)
{
	struct rlimit none;
	if (getrlimit(RLIMIT_NOFILE, &saved_nofile) < 0)
		return -1;
	none = saved_nofile;
	none.rlim_cur = 0;
	return setrlimit(RLIMIT_NOFILE, &none);
}

static int fds_back(void)
{
	return setrlimit(RLIMIT_NOFILE, &saved_nofile);
}

int main(void)
{
	void *filter = NULL;
	cn_err err;
	int ws = 0;
	test_ranges();
	UNIT_CHECK(sb_seccomp_build(&filter, sb_default_caps_mask(), &err) == 0, "the default filter builds");
	if (!filter)
		return UNIT_DONE();
	pid_t pid = fork();
	if (pid == 0)
		_exit(child_checks(filter));
	waitpid(pid, &ws, 0);
	UNIT_CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
		   "refused calls fail with EPERM (clone3 ENOSYS), others work (failed step %d)",
		   WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
	sb_seccomp_free(filter);

	/* docker's profile lets CAP_SYS_ADMIN's calls through (run --cap-add). */
	filter = NULL;
	UNIT_CHECK(sb_seccomp_build(&filter, sb_default_caps_mask() | (1ULL << 21 /* CAP_SYS_ADMIN */), &err) == 0,
		   "a filter for CAP_SYS_ADMIN builds");
	if (!filter)
		return UNIT_DONE();
	pid = fork();
	if (pid == 0)
		_exit(sysadmin_checks(filter));
	waitpid(pid, &ws, 0);
	UNIT_CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
		   "with CAP_SYS_ADMIN unshare passes the filter, reboot still does not (failed step %d)",
		   WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
	sb_seccomp_free(filter);

	/* Prepared once in the parent (as sb_run does before its clone): a
	 * child forked after builds it from the cache, and it refuses the same
	 * calls; the CAP_SYS_ADMIN program is another entry, not a reuse. */
	sb_seccomp_prepare(sb_default_caps_mask());
	sb_seccomp_prepare(sb_default_caps_mask() | (1ULL << 21));
	sb_seccomp_prepare(sb_default_caps_mask());
	/* Compiling needs a new descriptor (the program is exported through a
	 * memfd): with none left, only a cached program can be built. */
	pid = fork();
	if (pid == 0) {
		void *f = NULL;
		if (no_new_fds() < 0)
			_exit(99);
		if (sb_seccomp_build(&f, sb_default_caps_mask() | (1ULL << 22), &err) == 0)
			_exit(100);
		_exit(0);
	}
	waitpid(pid, &ws, 0);
	UNIT_CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
		   "without free descriptors a program not prepared cannot be built (status %d)",
		   WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
	pid = fork();
	if (pid == 0) {
		void *f = NULL;
		if (no_new_fds() < 0)
			_exit(99);
		if (sb_seccomp_build(&f, sb_default_caps_mask(), &err) < 0)
			_exit(100);
		if (fds_back() < 0)
			_exit(98);
		_exit(child_checks(f));
	}
	waitpid(pid, &ws, 0);
	UNIT_CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
		   "the prepared filter refuses the same calls in a forked child (failed step %d)",
		   WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
	pid = fork();
	if (pid == 0) {
		void *f = NULL;
		if (no_new_fds() < 0 || sb_seccomp_build(&f, sb_default_caps_mask() | (1ULL << 21), &err) < 0 ||
		    fds_back() < 0)
			_exit(1);
		_exit(sysadmin_checks(f));
	}
	waitpid(pid, &ws, 0);
	UNIT_CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
		   "the prepared CAP_SYS_ADMIN filter is its own (failed step %d)",
		   WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
	return UNIT_DONE();
}
