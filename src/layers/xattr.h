/* Which extended attributes an image carries: one policy for every way a
 * file gets into or out of one (a RUN step's layer in layer.c, a layer from
 * outside in extract.c, COPY and its cache digest in builder/copy.c), so an
 * xattr cannot survive one path and be lost on another. */
#ifndef LAYER_XATTR_H
#define LAYER_XATTR_H

#include <stdbool.h>

/* true for user.* (but not user.overlay.*), security.capability,
 * system.posix_acl_access and system.posix_acl_default; false for
 * everything else: trusted.*, security.selinux and the other security.*
 * labels, other system.* names. */
bool layer_xattr_keep(const char *name);

/* overlayfs' own bookkeeping (trusted.overlay.* when mounted by root,
 * user.overlay.* with userxattr): the name after the prefix ("opaque"),
 * or NULL for any other xattr. Never part of an image. */
const char *layer_xattr_overlay(const char *name);

#endif
