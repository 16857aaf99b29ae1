/* docker's defaults for a container's privileges: the capabilities it
 * keeps and the /proc and /sys paths it may not read or write. The sandbox
 * applies them (cairn run, RUN steps) and a bundle's config.json asks runc
 * for them (cairn export --format bundle); both read these tables, so the
 * two cannot drift apart. */
#ifndef SB_DEFAULTS_H
#define SB_DEFAULTS_H

#include <stddef.h>
#include <stdint.h>

struct sb_cap {
	int num;                /* CAP_CHOWN, ... from linux/capability.h */
	const char *name;       /* "CAP_CHOWN": the OCI runtime spec's spelling */
};

/* docker's 14, in docker's order (the order config.json lists them). */
extern const struct sb_cap sb_default_caps[];
extern const size_t sb_default_ncaps;
/* The same set as a bit mask (bit N: capability N), for capset and the
 * bounding set. */
uint64_t sb_default_caps_mask(void);

/* Absolute paths, as config.json wants them: masked paths show up empty
 * (/dev/null or an empty read-only tmpfs), read-only ones are bound
 * read-only onto themselves (runc's and containerd's defaults). */
extern const char *const sb_masked_paths[];
extern const size_t sb_nmasked_paths;
extern const char *const sb_readonly_paths[];
extern const size_t sb_nreadonly_paths;

#endif
