/* Directories made inside an image root whose symlinks may point anywhere:
 * COPY's destination parents and WORKDIR both need BuildKit's `mkdir -p`. */
#ifndef BF_ROOTDIR_H
#define BF_ROOTDIR_H

#include <sys/types.h>

#include "util/err.h"

/* mkdir -p of PATH (absolute, or relative to the root: the same) inside the
 * image root ROOT_FD, as BuildKit makes a destination: existing components
 * are resolved from the root (RESOLVE_IN_ROOT: their symlinks stay inside),
 * a dangling symlink has its target created (inside the root), each
 * missing directory is made 0755 and owned by UID:GID, and a name starting
 * with .wh. is refused (a layer cannot store it). Returns an O_DIRECTORY
 * fd of PATH, or -1: errno ENOTDIR with "'/x' is not a directory" when a
 * component is something else, ELOOP past 40 links. */
int bf_root_mkdir_p(int root_fd, const char *path, uid_t uid, gid_t gid, cn_err *err);

#endif
