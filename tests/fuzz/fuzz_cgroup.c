/* The rootless cgroup decisions (sandbox/cgroup_user.c, cgroup.c): any
 * bytes as /proc/self/mountinfo, /proc/self/cgroup and cgroup.controllers
 * (NUL-separated), after one byte choosing the writability and the limits;
 * cairn exec's fallback cgroup from the same mountinfo and cgroup text.
 * A directory is found only for an absolute 0:: path; a verdict passes only
 * for a delegated directory, else says why. */
#include "fuzz.h"

#include <string.h>

#include "sandbox/cgroup.h"
#include "util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "memory", "pids", "cpu" };
	uint8_t bits = size ? data[0] : 0;
	const uint8_t *p = size ? data + 1 : data;
	size_t n = size ? size - 1 : 0;
	char *mountinfo = fuzz_part(&p, &n), *self = fuzz_part(&p, &n), *controllers = fuzz_part(&p, &n);
	char *dir = sb_cgroup2_dir(mountinfo, self), *own = sb_cgroup_own_path(self, NULL);
	struct sb_limits l = { .memory = bits & 8 ? 1 : 0, .pids = bits & 16 ? 1 : 0, .cpus_milli = bits & 32 ? 1 : 0 };
	struct sb_cgroup_facts f = { .mountinfo = mountinfo, .dir = dir, .controllers = bits & 64 ? NULL : controllers,
				     .dir_writable = bits & 1, .procs_writable = bits & 2,
				     .subtree_writable = bits & 4, .uid = 1000 };
	cn_err err;
	int r;
	if (dir && (!own || own[0] != '/'))
		abort();
	/* cairn exec's fallback: only ever strictly below the container's. */
	{
		static const char ctr[] = "/sys/fs/cgroup/cairn/ctr-1";
		char *leaf = sb_cgroup_exec_leaf(ctr, mountinfo, self);
		if (leaf && (strncmp(leaf, ctr, sizeof(ctr) - 1) || leaf[sizeof(ctr) - 1] != '/'))
			abort();
		free(leaf);
	}
	(void)sb_cgroup2_nsdelegate(mountinfo, "/sys/fs/cgroup");
	for (size_t i = 0; i < CN_ARRAY_SIZE(names); i++) {
		(void)sb_cgroup_v1_bound(mountinfo, names[i]);
		(void)sb_cgroup_list_has(controllers, names[i]);
	}
	err.msg[0] = '\0';
	r = sb_cgroup_user_verdict(&f, &l, &err);
	fuzz_debug("verdict", r, &err);
	if ((r < 0 && !err.msg[0]) || (r == 0 && sb_limits_any(&l) && (!dir || (bits & 7) != 7 || !f.controllers)))
		abort();
	free(dir);
	free(own);
	free(mountinfo);
	free(self);
	free(controllers);
	return 0;
}
