/* Platforms as OCI names them: Go's GOOS/GOARCH and the arm variant
 * ("linux", "arm", "v7"). One mapping for the builder (a config's
 * architecture, --platform, FROM --platform), pull (which index entry) and
 * load (which manifest of an OCI layout), so that they cannot disagree;
 * and whether this kernel can run a platform's binaries (natively or
 * through a binfmt_misc emulator such as qemu-user-static). */
#ifndef CN_PLATFORM_H
#define CN_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* MACHINE (uname's, e.g. "armv6l") as an OCI architecture and variant
 * ("arm", "v6"; the variant is "" where OCI uses none, "v8" for arm64).
 * A machine without a known name is passed through; *VARIANT_BUF (at
 * least 8 bytes) holds an arm variant read from the name. */
void cn_platform_from_machine(const char *machine, const char **arch, const char **variant,
			      char variant_buf[8]);

/* This host's os, architecture and variant; static strings. */
void cn_platform_host(const char **os, const char **arch, const char **variant);

/* A platform in containerd's normal form: lower case, x86_64 -> amd64,
 * aarch64 -> arm64 (its default variant v8 left out), armhf -> arm/v7,
 * armel -> arm/v6, plain arm -> arm/v7, i386 -> 386. Two normal forms
 * name the same platform exactly when they are equal. */
#define CN_PLATFORM_FIELD 32
struct cn_platform {
	char os[CN_PLATFORM_FIELD];
	char arch[CN_PLATFORM_FIELD];
	char variant[CN_PLATFORM_FIELD];     /* "" when none */
};
/* "os/arch/variant" at most, plus its NUL. */
#define CN_PLATFORM_STR (3 * CN_PLATFORM_FIELD)

/* Parse "OS/ARCH[/VARIANT]" (or "ARCH" alone, meaning linux/ARCH, as
 * docker takes it) into normal form; an INVALID error names S. */
int cn_platform_parse(const char *s, struct cn_platform *p, cn_err *err);
/* Fill P from separate fields (an image config's or an index entry's;
 * NULL or "" variant: none), normalized. False when OS or ARCH is
 * missing, empty or too long. */
bool cn_platform_set(struct cn_platform *p, const char *os, const char *arch, const char *variant);
/* This host's platform, normalized. */
void cn_platform_host_get(struct cn_platform *p);
bool cn_platform_equal(const struct cn_platform *a, const struct cn_platform *b);
/* "linux/arm64", "linux/arm/v7": as BuildKit spells TARGETPLATFORM. */
void cn_platform_format(const struct cn_platform *p, char out[CN_PLATFORM_STR]);

/* Whether this kernel runs P's binaries: natively, or through an enabled
 * binfmt_misc entry for P's ELF machine that has the F flag (its
 * interpreter opened at registration, so it works inside a build's root,
 * which does not have it). 0 yes; -1 with an UNSUPPORTED error saying
 * what to install or enable. */
int cn_platform_can_run(const struct cn_platform *p, cn_err *err);
/* The same against BINFMT_DIR (a binfmt_misc mount, or a test's copy)
 * and HOST instead of this machine's. */
int cn_platform_can_run_at(const char *binfmt_dir, const struct cn_platform *host,
			   const struct cn_platform *p, cn_err *err);

#endif
