/* One host-to-OCI platform mapping (Go's GOARCH names and arm variants),
 * shared by the builder, pull and load: they used to disagree for armv6l
 * (arm vs armv6l vs amd64) and i386 (386 vs i386). */
#include "util/platform.h"
#include "unit.h"

#include <sys/utsname.h>

static void maps(const char *machine, const char *want_arch, const char *want_variant)
{
	const char *arch, *variant;
	char buf[8];
	cn_platform_from_machine(machine, &arch, &variant, buf);
	UNIT_STREQ(arch, want_arch, "%s: architecture", machine);
	UNIT_STREQ(variant, want_variant, "%s: variant", machine);
}

int main(void)
{
	const char *os, *arch, *variant;
	struct utsname u;

	maps("x86_64", "amd64", "");
	maps("i386", "386", "");
	maps("i486", "386", "");
	maps("i586", "386", "");
	maps("i686", "386", "");
	maps("aarch64", "arm64", "v8");
	maps("armv5tel", "arm", "v5");
	maps("armv6l", "arm", "v6");
	maps("armv7l", "arm", "v7");
	maps("armv8l", "arm", "v8");
	maps("ppc64le", "ppc64le", "");
	maps("s390x", "s390x", "");
	maps("riscv64", "riscv64", "");
	maps("loongarch64", "loong64", "");
	maps("sparc64", "sparc64", "");        /* unknown: as uname says */

	cn_platform_host(&os, &arch, &variant);
	UNIT_STREQ(os, "linux", "host os");
	UNIT_CHECK(uname(&u) == 0, "uname");
	{
		const char *a, *v;
		char buf[8];
		cn_platform_from_machine(u.machine, &a, &v, buf);
		UNIT_STREQ(arch, a, "host architecture is the mapping of %s", u.machine);
		UNIT_STREQ(variant, v, "host variant is the mapping of %s", u.machine);
	}
	return UNIT_DONE();
}
