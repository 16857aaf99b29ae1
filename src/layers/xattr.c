/* The xattr policy. An allow-list, because what a host adds on its own must
 * not reach an image: the same build on two hosts should give the same
 * layers, and a layer from outside should not plant attributes that
 * privileged software on this host acts on.
 *  - user.*: the image's own data (set by RUN steps, package managers, the
 *    context's files), except user.overlay.*, which overlayfs mounted with
 *    userxattr would read as whiteouts, opaque markers or redirects;
 *  - security.capability: file capabilities are part of what a binary is
 *    (ping); docker, BuildKit and buildah all carry them;
 *  - system.posix_acl_access / _default: part of a file's permissions.
 *    With an ACL the mode's group bits hold the ACL mask, so dropping the
 *    ACL alone would silently widen access.
 * Not kept: trusted.* (root-only, read by privileged software such as
 * overlayfs: trusted.overlay.* in a lower dir would be live overlay
 * metadata), security.selinux, security.ima and the other security.*
 * labels (the host's, differ between hosts; BuildKit keeps none of them
 * either), and any other namespace. */
#include "layers/xattr.h"

#include <string.h>

static bool has_prefix(const char *name, const char *prefix)
{
	return strncmp(name, prefix, strlen(prefix)) == 0;
}

const char *layer_xattr_overlay(const char *name)
{
	static const char *const prefixes[] = { "trusted.overlay.", "user.overlay." };
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (has_prefix(name, prefixes[i]))
			return name + strlen(prefixes[i]);
	return NULL;
}

bool layer_xattr_keep(const char *name)
{
	if (has_prefix(name, "user."))
		return !layer_xattr_overlay(name);
	return !strcmp(name, "security.capability") || !strcmp(name, "system.posix_acl_access") ||
	       !strcmp(name, "system.posix_acl_default");
}
