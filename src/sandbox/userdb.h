/* USER and --chown resolution from the image's own /etc/passwd and
 * /etc/group, read as files inside the root (never the host's databases,
 * never NSS): a symlinked or oversized database cannot reach the host. */
#ifndef SB_USERDB_H
#define SB_USERDB_H

#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

#define SB_MAX_GROUPS 64

struct sb_user {
	uid_t uid;
	gid_t gid;
	gid_t groups[SB_MAX_GROUPS];    /* supplementary groups (from /etc/group membership) */
	size_t ngroups;
	char home[256];                 /* from passwd, "/" if unknown */
};

/* SPEC is "user", "uid", "user:group", "uid:gid", "user:gid", ...
 * A name must exist in the root's passwd/group; a numeric id need not.
 * A numeric uid alone takes its gid from passwd when listed, else 0.
 * Supplementary groups are looked up only when no group was given. */
int sb_user_resolve(int root_fd, const char *spec, struct sb_user *out, cn_err *err);

#endif
