/* The default seccomp filter: everything is allowed except what docker's
 * default profile refuses a container without CAP_SYS_ADMIN and friends
 * (a deny list, so a program docker runs runs here). Blocked calls fail
 * with EPERM; clone3 with ENOSYS so libc falls back to clone, whose flags
 * the filter can read. */
#include "sandbox/seccomp.h"
#include "util/cleanup.h"

#include <errno.h>
#include <stdbool.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>

/* Refused outright (names the linked libseccomp does not know for an
 * architecture are skipped: that architecture has no such call). */
static const char *const denied[] = {
	/* mounts and the root */
	"mount", "umount", "umount2", "pivot_root",
	"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
	/* namespaces */
	"unshare", "setns",
	/* the kernel itself */
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"create_module", "get_kernel_syms", "query_module", "reboot", "swapon", "swapoff",
	"acct", "syslog", "uselib", "ustat", "sysfs", "_sysctl", "nfsservctl",
	"lookup_dcookie", "quotactl", "quotactl_fd", "vhangup", "iopl", "ioperm",
	"vm86", "vm86old", "bpf", "perf_event_open", "userfaultfd", "fanotify_init",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	/* keys are not namespaced */
	"keyctl", "add_key", "request_key",
	/* time is not namespaced */
	"settimeofday", "stime", "clock_settime", "clock_settime64", "adjtimex",
	"clock_adjtime", "clock_adjtime64",
	/* other processes and file handles ("shocker") */
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
	"process_madvise", "open_by_handle_at", "name_to_handle_at",
	/* NUMA policy (CAP_SYS_NICE in docker's profile) */
	"get_mempolicy", "set_mempolicy", "set_mempolicy_home_node", "mbind", "move_pages",
	"migrate_pages",
	/* the host name is the sandbox's, set before the filter */
	"sethostname", "setdomainname",
};

/* personality(2) values docker allows: PER_LINUX, PER_LINUX_32BIT,
 * UNAME26, both, and the 0xffffffff query. */
static const uint32_t personality_ok[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffffU };

size_t sb_seccomp_range_blocks(uint32_t lo, uint32_t hi, struct sb_seccomp_block *out, size_t max)
{
	size_t n = 0;
	uint64_t v = lo;
	while (v <= hi) {
		/* The largest aligned block starting at v that stays within hi. */
		unsigned bits = 0;
		while (bits < 32 && (v & ((1ULL << (bits + 1)) - 1)) == 0 &&
		       v + (1ULL << (bits + 1)) - 1 <= hi)
			bits++;
		if (n < max)
			out[n] = (struct sb_seccomp_block){
				.mask = (uint32_t)~((1ULL << bits) - 1), .value = (uint32_t)v };
		n++;
		v += 1ULL << bits;
	}
	return n;
}

static int deny_personality(scmp_filter_ctx ctx)
{
	struct sb_seccomp_block blocks[80];
	uint64_t lo = 0;
	for (size_t i = 0; i <= CN_ARRAY_SIZE(personality_ok); i++) {
		uint64_t hi = i < CN_ARRAY_SIZE(personality_ok) ? personality_ok[i] : 0x100000000ULL;
		if (hi > lo) {
			size_t n = sb_seccomp_range_blocks((uint32_t)lo, (uint32_t)(hi - 1), blocks,
							   CN_ARRAY_SIZE(blocks));
			if (n > CN_ARRAY_SIZE(blocks))
				return -ENOSPC;
			for (size_t j = 0; j < n; j++) {
				int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
							 SCMP_A0_32(SCMP_CMP_MASKED_EQ, blocks[j].mask,
								    blocks[j].value));
				if (r < 0)
					return r;
			}
		}
		lo = hi + 1;
	}
	return 0;
}

/* The rules for one architecture. SOCKET_ARGS: socket(2)'s arguments are
 * readable (not behind i386's socketcall pointer). */
static int add_rules(scmp_filter_ctx ctx, bool socket_args)
{
	static const unsigned long ns_flags[] = {
		CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
		CLONE_NEWCGROUP,
	};
	int r;
	for (size_t i = 0; i < CN_ARRAY_SIZE(denied); i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0 && r != -EDOM)        /* EDOM: not a call on this arch */
			return r;
	}
	/* clone with any namespace flag (arg 0 on x86; s390 is not handled). */
	for (size_t i = 0; i < CN_ARRAY_SIZE(ns_flags); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
		if (r < 0)
			return r;
	}
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r < 0 && r != -EDOM)
		return r;
	if ((r = deny_personality(ctx)) < 0)
		return r;
	if (socket_args) {
		/* AF_VSOCK reaches the hypervisor's other guests, AF_ALG the kernel's crypto code. */
		static const int domains[] = { 40 /* AF_VSOCK */, 38 /* AF_ALG */ };
		for (size_t i = 0; i < CN_ARRAY_SIZE(domains); i++) {
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
					     SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)domains[i]));
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static void release_ctx(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static scmp_filter_ctx new_ctx(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	/* Any architecture the filter does not know (x32 on x86_64) is killed. */
	if (ctx && seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

int sb_seccomp_build(void **out, cn_err *err)
{
	__attribute__((cleanup(release_ctx))) scmp_filter_ctx ctx = new_ctx();
	int r;
	if (!ctx)
		return cn_err_errno(err, ENOMEM, "seccomp: create filter");
	if ((r = add_rules(ctx, true)) < 0)
		return cn_err_errno(err, -r, "seccomp: add rules");
#if defined(__x86_64__)
	{
		/* i386 programs on x86_64 get the same rules, as docker's profile does. */
		__attribute__((cleanup(release_ctx))) scmp_filter_ctx x86 = new_ctx();
		if (!x86)
			return cn_err_errno(err, ENOMEM, "seccomp: create filter");
		if ((r = seccomp_arch_remove(x86, SCMP_ARCH_NATIVE)) < 0 ||
		    (r = seccomp_arch_add(x86, SCMP_ARCH_X86)) < 0 || (r = add_rules(x86, false)) < 0)
			return cn_err_errno(err, -r, "seccomp: i386 rules");
		if ((r = seccomp_merge(ctx, x86)) < 0)
			return cn_err_errno(err, -r, "seccomp: merge i386 rules");
		x86 = NULL;     /* merged into ctx */
	}
#endif
	*out = ctx;
	ctx = NULL;
	return 0;
}

void sb_seccomp_free(void *filter)
{
	if (filter)
		seccomp_release(filter);
}

int sb_seccomp_load(void *filter, cn_err *err)
{
	int r = seccomp_load(filter);
	if (r < 0)
		return cn_err_errno(err, -r, "load the seccomp filter");
	return 0;
}
