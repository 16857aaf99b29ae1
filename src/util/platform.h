/* This machine's platform as OCI names it: Go's GOOS/GOARCH and the arm
 * variant ("linux", "arm", "v7"). One mapping for the builder (a scratch
 * config's architecture), pull (which index entry) and load (which
 * manifest of an OCI layout), so that they cannot disagree. */
#ifndef CN_PLATFORM_H
#define CN_PLATFORM_H

/* MACHINE (uname's, e.g. "armv6l") as an OCI architecture and variant
 * ("arm", "v6"; the variant is "" where OCI uses none, "v8" for arm64).
 * A machine without a known name is passed through; *VARIANT_BUF (at
 * least 8 bytes) holds an arm variant read from the name. */
void cn_platform_from_machine(const char *machine, const char **arch, const char **variant,
			      char variant_buf[8]);

/* This host's os, architecture and variant; static strings. */
void cn_platform_host(const char **os, const char **arch, const char **variant);

#endif
