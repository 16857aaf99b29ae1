/* Rootless cairn: the whole process moves into a user namespace of its own
 * before a command runs, as `buildah unshare` does. There it is root (the
 * user's id is 0 inside), may mount overlays, proc and tmpfs in namespaces
 * it creates, and chown to every id the namespace maps, so the store, the
 * builder and the sandbox work as they do for real root; files owned by
 * uid 1000 in an image are uid 1000 inside, i.e. in every layer tar. */
#ifndef SB_ROOTLESS_H
#define SB_ROOTLESS_H

#include "util/err.h"
#include "util/rootless.h"

/* The user's ranges in /etc/subuid and /etc/subgid (by name or uid;
 * CAIRN_SUBUID_FILE / CAIRN_SUBGID_FILE override the paths), into R (ids,
 * name, ranges; a count of 0 when there is none). */
int sb_rootless_probe(struct cn_rootless *r, cn_err *err);

/* Enter a new user namespace mapping 0 to the user and 1..N to the ranges
 * (through the setuid newuidmap/newgidmap, which must find this process
 * dumpable and still owned by the user), or only 0 to the user when R has
 * no range; then record R (cn_rootless_set). Must be called while the
 * process has a single thread. */
int sb_rootless_enter(struct cn_rootless *r, cn_err *err);

#endif
