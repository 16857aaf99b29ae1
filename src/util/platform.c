#include "util/platform.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

/* Go's names are per byte order where uname's are not (mips64 is both). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MIPS_SUFFIX "le"
#else
#define MIPS_SUFFIX ""
#endif

void cn_platform_from_machine(const char *machine, const char **arch, const char **variant,
			      char variant_buf[8])
{
	static const struct { const char *machine, *arch, *variant; } map[] = {
		{ "x86_64", "amd64", "" }, { "amd64", "amd64", "" },
		{ "i386", "386", "" }, { "i486", "386", "" }, { "i586", "386", "" }, { "i686", "386", "" },
		{ "aarch64", "arm64", "v8" }, { "arm64", "arm64", "v8" },
		{ "ppc64le", "ppc64le", "" }, { "ppc64", "ppc64", "" }, { "s390x", "s390x", "" },
		{ "riscv64", "riscv64", "" }, { "loongarch64", "loong64", "" },
		{ "mips64", "mips64" MIPS_SUFFIX, "" }, { "mips", "mips" MIPS_SUFFIX, "" },
	};
	unsigned v;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(machine, map[i].machine) == 0) {
			*arch = map[i].arch;
			*variant = map[i].variant;
			return;
		}
	}
	/* armv5tel, armv6l, armv7l, armv8l (32-bit on a 64-bit kernel):
	 * the digit is the variant. */
	if (sscanf(machine, "armv%u", &v) == 1 && v >= 5 && v <= 8) {
		snprintf(variant_buf, 8, "v%u", v);
		*arch = "arm";
		*variant = variant_buf;
		return;
	}
	*arch = machine;
	*variant = "";
}

static struct {
	struct utsname u;
	const char *arch, *variant;
	char variant_buf[8];
} host;

static void host_init(void)
{
	if (uname(&host.u) < 0)
		snprintf(host.u.machine, sizeof(host.u.machine), "x86_64");
	cn_platform_from_machine(host.u.machine, &host.arch, &host.variant, host.variant_buf);
}

void cn_platform_host(const char **os, const char **arch, const char **variant)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, host_init);
	if (os)
		*os = "linux";
	if (arch)
		*arch = host.arch;
	if (variant)
		*variant = host.variant;
}
