/* Rootless cairn: whether this process works for an ordinary user inside a
 * user namespace of its own (recorded once by the CLI, before any command
 * runs; see sandbox/rootless.h), and where such a user's files live (the
 * places podman uses). Everything below the CLI asks here instead of
 * testing geteuid(), which reads 0 inside that namespace. */
#ifndef CN_ROOTLESS_H
#define CN_ROOTLESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/err.h"

struct cn_rootless {
	uid_t uid;              /* the user's ids on the host */
	gid_t gid;
	char name[64];          /* the user's name (or uid), as /etc/subuid names it */
	/* subordinate ranges mapped as ids 1..count inside (count 0: none,
	 * only the user's own id is mapped, as 0) */
	unsigned long uid_start, uid_count;
	unsigned long gid_start, gid_count;
};

/* NULL when cairn runs as real root (or was not set up as rootless). */
const struct cn_rootless *cn_rootless(void);
void cn_rootless_set(const struct cn_rootless *r);
/* Rootless with only the user's own id mapped (no subordinate range). */
bool cn_rootless_single(void);
/* What a user without a range cannot do and the line that fixes it (one
 * sentence, static storage). */
const char *cn_rootless_single_hint(void);

/* This process is in a user namespace other than the initial one (read
 * from /proc/self/uid_map): overlayfs then keeps its metadata in
 * user.overlay.* (mounted with userxattr), trusted.* cannot be set. */
bool cn_userns_nested(void);

/* The store of a non-root user: $XDG_DATA_HOME/cairn, else
 * $HOME/.local/share/cairn (heap string; NULL and ERR without a home). */
char *cn_rootless_store_dir(cn_err *err);
/* The user's runtime dir for cairn's state: $XDG_RUNTIME_DIR/cairn, else
 * /run/user/UID/cairn, else /tmp/cairn-run-UID; each base must be a
 * directory owned by the user that no one else may write, and cairn/ in it
 * is made 0700 and checked the same way. For root: /run/cairn. */
char *cn_runtime_dir(cn_err *err);

#endif
