/* The sandbox's default seccomp filter (libseccomp): docker's default
 * profile as a deny list for x86_64 and i386 (x32 is refused), blocked
 * calls failing with EPERM. */
#ifndef SB_SECCOMP_H
#define SB_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Build the filter (an opaque BPF program) to load later, for a
 * process holding CAPS (docker's profile lets a capability's calls through:
 * CAP_SYS_ADMIN mount, unshare, ...). */
int sb_seccomp_build(void **filter, uint64_t caps, cn_err *err);
/* Compile the filter for CAPS once in this process (before forking the
 * sandbox): sb_seccomp_build, here and in children forked after, copies
 * it instead of generating it again. Errors are left to the build. */
void sb_seccomp_prepare(uint64_t caps);
/* Load it into the calling thread; it is inherited across fork and exec.
 * NO_NEW_PRIVS false: the caller holds CAP_SYS_ADMIN and wants setuid
 * files to keep working. */
int sb_seccomp_load(void *filter, bool no_new_privs, cn_err *err);
void sb_seccomp_free(void *filter);

/* [lo, hi] as aligned blocks (value & mask == block value), the form a
 * seccomp argument comparison can test one at a time. Returns the number of
 * blocks (only the first MAX are stored). */
struct sb_seccomp_block {
	uint32_t mask;
	uint32_t value;
};
size_t sb_seccomp_range_blocks(uint32_t lo, uint32_t hi, struct sb_seccomp_block *out, size_t max);

#endif
