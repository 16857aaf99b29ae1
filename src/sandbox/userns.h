/* cairn run --userns=auto: a user namespace mapping root's subordinate
 * ids, and idmapped lower layers so the image's owners show inside. */
#ifndef SB_USERNS_H
#define SB_USERNS_H

#include "sandbox/sandbox.h"

/* The first "NAME:START:COUNT" line of PATH (subuid/subgid format) whose
 * NAME is one of NAMES: 1 found, 0 none or no such file, -1 on a malformed
 * line or an unreadable file. */
int sb_subid_find(const char *path, const char *const *names, size_t nnames, unsigned long *start,
		  unsigned long *count, cn_err *err);

/* Read root's ranges from /etc/subuid and /etc/subgid (CAIRN_SUBUID_FILE
 * and CAIRN_SUBGID_FILE override the paths, for tests). */
int sb_idmap_load(struct sb_idmap *m, cn_err *err);

/* A new user namespace with M's mapping (container 0 = M's first ids),
 * held by its fd (close-on-exec); no process stays in it. */
int sb_userns_open(const struct sb_idmap *m, cn_err *err);

/* In the sandbox's private mount namespace: put an idmapped clone of each
 * lower dir (and the empty filler) over itself. */
int sb_userns_idmap_lowers(const struct sb_rootfs *r, int userns_fd, cn_err *err);

/* Join USERNS_FD and become its root (ids 0 inside, the range outside). */
int sb_userns_enter(int userns_fd, cn_err *err);

#endif
