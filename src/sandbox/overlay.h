/* Mounting an overlay stack (internal to the sandbox). */
#ifndef SB_OVERLAY_H
#define SB_OVERLAY_H

#include "sandbox/sandbox.h"

/* Mount ROOTFS on rootfs->merged in the calling process's mount namespace:
 * the new mount API with one "lowerdir+" per layer (no limit from the
 * option string), falling back to the classic option string on kernels
 * older than 6.8. redirect_dir, metacopy and index are off so that the
 * upper dir alone is the complete diff of the step. */
int sb_overlay_mount(const struct sb_rootfs *rootfs, cn_err *err);

#endif
