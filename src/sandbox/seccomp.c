/* The default seccomp filter: everything is allowed except what docker's
 * default profile refuses a container without CAP_SYS_ADMIN and friends
 * (a deny list, so a program docker runs runs here). Blocked calls fail
 * with EPERM; clone3 with ENOSYS so libc falls back to clone, whose flags
 * the filter can read. */
#include "sandbox/seccomp.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Refused unless the process holds CAP (or CAP2), as docker's profile
 * grants these calls to a container given that capability (--cap-add,
 * --privileged); NONE: refused whatever it holds. Names the linked
 * libseccomp does not know for an architecture are skipped: that
 * architecture has no such call. */
#define NONE (-1)
static const struct {
	const char *name;
	int cap, cap2;
} denied[] = {
	/* mounts and the root, namespaces, the host name */
	{ "mount", CAP_SYS_ADMIN, NONE }, { "umount", CAP_SYS_ADMIN, NONE },
	{ "umount2", CAP_SYS_ADMIN, NONE }, { "pivot_root", CAP_SYS_ADMIN, NONE },
	{ "fsopen", CAP_SYS_ADMIN, NONE }, { "fsconfig", CAP_SYS_ADMIN, NONE },
	{ "fsmount", CAP_SYS_ADMIN, NONE }, { "fspick", CAP_SYS_ADMIN, NONE },
	{ "move_mount", CAP_SYS_ADMIN, NONE }, { "open_tree", CAP_SYS_ADMIN, NONE },
	{ "mount_setattr", CAP_SYS_ADMIN, NONE }, { "unshare", CAP_SYS_ADMIN, NONE },
	{ "setns", CAP_SYS_ADMIN, NONE }, { "sethostname", CAP_SYS_ADMIN, NONE },
	{ "setdomainname", CAP_SYS_ADMIN, NONE }, { "quotactl", CAP_SYS_ADMIN, NONE },
	{ "quotactl_fd", CAP_SYS_ADMIN, NONE }, { "lookup_dcookie", CAP_SYS_ADMIN, NONE },
	{ "fanotify_init", CAP_SYS_ADMIN, NONE }, { "name_to_handle_at", CAP_SYS_ADMIN, NONE },
	{ "bpf", CAP_SYS_ADMIN, CAP_BPF }, { "perf_event_open", CAP_SYS_ADMIN, CAP_PERFMON },
	{ "syslog", CAP_SYS_ADMIN, CAP_SYSLOG },
	/* the kernel itself */
	{ "kexec_load", CAP_SYS_BOOT, NONE }, { "kexec_file_load", CAP_SYS_BOOT, NONE },
	{ "reboot", CAP_SYS_BOOT, NONE }, { "init_module", CAP_SYS_MODULE, NONE },
	{ "finit_module", CAP_SYS_MODULE, NONE }, { "delete_module", CAP_SYS_MODULE, NONE },
	{ "acct", CAP_SYS_PACCT, NONE }, { "vhangup", CAP_SYS_TTY_CONFIG, NONE },
	{ "iopl", CAP_SYS_RAWIO, NONE }, { "ioperm", CAP_SYS_RAWIO, NONE },
	{ "create_module", NONE, NONE }, { "get_kernel_syms", NONE, NONE },
	{ "query_module", NONE, NONE }, { "swapon", NONE, NONE }, { "swapoff", NONE, NONE },
	{ "uselib", NONE, NONE }, { "ustat", NONE, NONE }, { "sysfs", NONE, NONE },
	{ "_sysctl", NONE, NONE }, { "nfsservctl", NONE, NONE }, { "vm86", NONE, NONE },
	{ "vm86old", NONE, NONE }, { "userfaultfd", NONE, NONE },
	{ "io_uring_setup", NONE, NONE }, { "io_uring_enter", NONE, NONE },
	{ "io_uring_register", NONE, NONE },
	/* keys are not namespaced */
	{ "keyctl", NONE, NONE }, { "add_key", NONE, NONE }, { "request_key", NONE, NONE },
	/* time is not namespaced */
	{ "settimeofday", CAP_SYS_TIME, NONE }, { "stime", CAP_SYS_TIME, NONE },
	{ "clock_settime", CAP_SYS_TIME, NONE }, { "clock_settime64", CAP_SYS_TIME, NONE },
	{ "adjtimex", CAP_SYS_TIME, NONE }, { "clock_adjtime", CAP_SYS_TIME, NONE },
	{ "clock_adjtime64", CAP_SYS_TIME, NONE },
	/* other processes and file handles ("shocker") */
	{ "ptrace", CAP_SYS_PTRACE, NONE }, { "process_vm_readv", CAP_SYS_PTRACE, NONE },
	{ "process_vm_writev", CAP_SYS_PTRACE, NONE }, { "kcmp", CAP_SYS_PTRACE, NONE },
	{ "pidfd_getfd", CAP_SYS_PTRACE, NONE }, { "process_madvise", CAP_SYS_PTRACE, NONE },
	{ "open_by_handle_at", CAP_DAC_READ_SEARCH, NONE },
	/* NUMA policy */
	{ "get_mempolicy", CAP_SYS_NICE, NONE }, { "set_mempolicy", CAP_SYS_NICE, NONE },
	{ "set_mempolicy_home_node", CAP_SYS_NICE, NONE }, { "mbind", CAP_SYS_NICE, NONE },
	{ "move_pages", CAP_SYS_NICE, NONE }, { "migrate_pages", CAP_SYS_NICE, NONE },
};

static bool holds(uint64_t caps, int cap)
{
	return cap != NONE && (caps & (1ULL << cap));
}

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
static int add_rules(scmp_filter_ctx ctx, uint64_t caps, bool socket_args)
{
	static const unsigned long ns_flags[] = {
		CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
		CLONE_NEWCGROUP,
	};
	int r;
	for (size_t i = 0; i < CN_ARRAY_SIZE(denied); i++) {
		if (holds(caps, denied[i].cap) || holds(caps, denied[i].cap2))
			continue;
		int nr = seccomp_syscall_resolve_name(denied[i].name);
		if (nr == __NR_SCMP_ERROR)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0 && r != -EDOM)        /* EDOM: not a call on this arch */
			return r;
	}
	/* docker lets CAP_SYS_ADMIN create namespaces (clone3 too). */
	if (holds(caps, CAP_SYS_ADMIN))
		goto personality;
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
personality:
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

/* The rules of CAPS as libseccomp's filter context. */
static int build_ctx(scmp_filter_ctx *out, uint64_t caps, cn_err *err)
{
	__attribute__((cleanup(release_ctx))) scmp_filter_ctx ctx = new_ctx();
	int r;
	if (!ctx)
		return cn_err_errno(err, ENOMEM, "seccomp: create filter");
	if ((r = add_rules(ctx, caps, true)) < 0)
		return cn_err_errno(err, -r, "seccomp: add rules");
#if defined(__x86_64__)
	{
		/* i386 programs on x86_64 get the same rules, as docker's profile does. */
		__attribute__((cleanup(release_ctx))) scmp_filter_ctx x86 = new_ctx();
		if (!x86)
			return cn_err_errno(err, ENOMEM, "seccomp: create filter");
		if ((r = seccomp_arch_remove(x86, SCMP_ARCH_NATIVE)) < 0 ||
		    (r = seccomp_arch_add(x86, SCMP_ARCH_X86)) < 0 || (r = add_rules(x86, caps, false)) < 0)
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

/* The BPF program itself, as seccomp_load would generate and load it:
 * generated once and loaded as often as needed (libseccomp generates it
 * again on every load, which was most of a sandbox's setup CPU). */
struct sb_filter {
	unsigned short len;
	struct sock_filter insns[];
};

static struct sb_filter *compile(uint64_t caps, cn_err *err)
{
	__attribute__((cleanup(release_ctx))) scmp_filter_ctx ctx = NULL;
	_cleanup_close_ int fd = -1;
	struct sb_filter *f;
	struct stat st;
	int r;
	if (build_ctx(&ctx, caps, err) < 0)
		return NULL;
	fd = memfd_create("cairn-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		cn_err_sys(err, "seccomp: memfd_create");
		return NULL;
	}
	if ((r = seccomp_export_bpf(ctx, fd)) < 0) {
		cn_err_errno(err, -r, "seccomp: generate the filter");
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		cn_err_sys(err, "seccomp: stat the filter");
		return NULL;
	}
	if (st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) ||
	    st.st_size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
		cn_err_fail(err, CN_ERR_SYSTEM, "seccomp: the generated filter has %lld bytes", (long long)st.st_size);
		return NULL;
	}
	f = cn_xmalloc(sizeof(*f) + (size_t)st.st_size);
	f->len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
	if (pread(fd, f->insns, (size_t)st.st_size, 0) != (ssize_t)st.st_size) {
		cn_err_sys(err, "seccomp: read the filter");
		free(f);
		return NULL;
	}
	return f;
}

static struct sb_filter *copy_filter(const struct sb_filter *f)
{
	size_t size = sizeof(*f) + f->len * sizeof(f->insns[0]);
	struct sb_filter *c = cn_xmalloc(size);
	memcpy(c, f, size);
	return c;
}

/* Programs compiled by sb_seccomp_prepare, for this process and its
 * children (a sandbox's processes are forked after it): filled under the
 * mutex, read without it (a child may be forked while another thread
 * holds it), a slot's READY set last. */
#define CACHE_SLOTS 8
static struct {
	_Atomic bool ready;
	uint64_t caps;
	struct sb_filter *f;
} cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct sb_filter *cached(uint64_t caps)
{
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		if (!atomic_load_explicit(&cache[i].ready, memory_order_acquire))
			return NULL;    /* filled in order */
		if (cache[i].caps == caps)
			return cache[i].f;
	}
	return NULL;
}

void sb_seccomp_prepare(uint64_t caps)
{
	cn_err ignored;
	size_t i;
	pthread_mutex_lock(&cache_lock);
	for (i = 0; i < CACHE_SLOTS && atomic_load_explicit(&cache[i].ready, memory_order_acquire); i++)
		if (cache[i].caps == caps)
			break;
	/* A failure here is left to sb_seccomp_build to report. */
	if (i < CACHE_SLOTS && !atomic_load_explicit(&cache[i].ready, memory_order_acquire) &&
	    (cache[i].f = compile(caps, &ignored))) {
		cache[i].caps = caps;
		atomic_store_explicit(&cache[i].ready, true, memory_order_release);
	}
	pthread_mutex_unlock(&cache_lock);
}

int sb_seccomp_build(void **out, uint64_t caps, cn_err *err)
{
	const struct sb_filter *c = cached(caps);
	*out = c ? copy_filter(c) : compile(caps, err);
	return *out ? 0 : -1;
}

void sb_seccomp_free(void *filter)
{
	free(filter);
}

int sb_seccomp_load(void *filter, bool no_new_privs, cn_err *err)
{
	struct sb_filter *f = filter;
	struct sock_fprog prog = { .len = f->len, .filter = f->insns };
	/* What seccomp_load does with no flags attribute set. */
	if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return cn_err_sys(err, "set no_new_privs");
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return cn_err_sys(err, "load the seccomp filter");
	return 0;
}
