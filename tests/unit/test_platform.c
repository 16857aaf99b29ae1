/* One host-to-OCI platform mapping (Go's GOARCH names and arm variants),
 * shared by the builder, pull and load: they used to disagree for armv6l
 * (arm vs armv6l vs amd64) and i386 (386 vs i386). */
#include "util/platform.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static void maps(const char *machine, const char *want_arch, const char *want_variant)
{
	const char *arch, *variant;
	char buf[8];
	cn_platform_from_machine(machine, &arch, &variant, buf);
	UNIT_STREQ(arch, want_arch, "%s: architecture", machine);
	UNIT_STREQ(variant, want_variant, "%s: variant", machine);
}

/* containerd's normalization, and what is no platform. */
static void test_parse(void)
{
	static const struct { const char *in, *want; } ok[] = {
		{ "linux/amd64", "linux/amd64" }, { "linux/x86_64", "linux/amd64" },
		{ "linux/x86-64", "linux/amd64" }, { "Linux/AMD64", "linux/amd64" },
		{ "linux/amd64/v1", "linux/amd64" }, { "linux/amd64/v3", "linux/amd64/v3" },
		{ "linux/aarch64", "linux/arm64" }, { "linux/arm64/v8", "linux/arm64" },
		{ "linux/arm64/8", "linux/arm64" }, { "linux/arm64/v8.0", "linux/arm64" },
		{ "linux/armhf", "linux/arm/v7" }, { "linux/armel", "linux/arm/v6" },
		{ "linux/arm", "linux/arm/v7" }, { "linux/arm/7", "linux/arm/v7" },
		{ "linux/arm/6", "linux/arm/v6" }, { "linux/arm/v5", "linux/arm/v5" },
		{ "linux/i386", "linux/386" }, { "linux/s390x", "linux/s390x" },
		{ "linux/ppc64le", "linux/ppc64le" }, { "arm64", "linux/arm64" },
		{ "aarch64", "linux/arm64" }, { "windows/amd64", "windows/amd64" },
	};
	static const char *const bad[] = {
		"", "/", "linux/", "/amd64", "linux//v7", "linux/arm/v7/x", "linux/am d64", "linux/$ARCH",
		"linux/arm64/", "linux/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct cn_platform p, q, host;
	char s[CN_PLATFORM_STR];
	cn_err err;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		UNIT_CHECK(cn_platform_parse(ok[i].in, &p, &err) == 0, "'%s' parses", ok[i].in);
		cn_platform_format(&p, s);
		UNIT_STREQ(s, ok[i].want, "'%s' is %s", ok[i].in, ok[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		UNIT_CHECK(cn_platform_parse(bad[i], &p, &err) < 0 && err.kind == CN_ERR_INVALID &&
			   strstr(err.msg, "invalid platform"), "'%s' is no platform", bad[i]);
	}
	UNIT_CHECK(cn_platform_parse("linux", &p, &err) == 0, "'linux' parses");
	cn_platform_host_get(&host);
	UNIT_CHECK(cn_platform_equal(&p, &host), "'linux' is the host's platform");
	cn_platform_parse("linux/arm64/v8", &p, &err);
	cn_platform_parse("linux/aarch64", &q, &err);
	UNIT_CHECK(cn_platform_equal(&p, &q), "linux/arm64/v8 equals linux/aarch64");
	cn_platform_parse("linux/arm/v6", &q, &err);
	UNIT_CHECK(!cn_platform_equal(&p, &q), "arm64 is not arm/v6");
	UNIT_CHECK(cn_platform_set(&p, "linux", "arm64", "v8") && !strcmp(p.variant, ""),
		   "a config's arm64/v8 is arm64");
	UNIT_CHECK(!cn_platform_set(&p, "linux", "", NULL) && !cn_platform_set(&p, NULL, "amd64", NULL),
		   "a config without os or architecture has no platform");
}

static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

/* A fake binfmt_misc directory: entries as /proc shows them. */
static void test_can_run(void)
{
	char dir[] = "/tmp/cairn-binfmt-XXXXXX";
	char cmd[600];
	struct cn_platform host, arm64, s390x, i386, armv7;
	cn_err err;
	const char *aarch64_entry = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n"
				    "flags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\n"
				    "mask ffffffffffffff00fffffffffffffffffeffffff\n";
	UNIT_CHECK(mkdtemp(dir) != NULL, "temp dir");
	cn_platform_parse("linux/amd64", &host, &err);
	cn_platform_parse("linux/arm64", &arm64, &err);
	cn_platform_parse("linux/s390x", &s390x, &err);
	cn_platform_parse("linux/386", &i386, &err);
	cn_platform_parse("linux/arm/v7", &armv7, &err);

	UNIT_CHECK(cn_platform_can_run_at(dir, &host, &host, &err) == 0, "the host runs its own binaries");
	UNIT_CHECK(cn_platform_can_run_at(dir, &host, &i386, &err) == 0, "amd64 runs 386 binaries");
	UNIT_CHECK(cn_platform_can_run_at(dir, &host, &arm64, &err) < 0 && err.kind == CN_ERR_UNSUPPORTED &&
		   strstr(err.msg, "binfmt_misc is not mounted"), "no binfmt_misc: says so (%s)", err.msg);

	put(dir, "status", "enabled\n");
	put(dir, "register", "");
	UNIT_CHECK(cn_platform_can_run_at(dir, &host, &arm64, &err) < 0 &&
		   strstr(err.msg, "cannot run linux/arm64 binaries on this linux/amd64 host") &&
		   strstr(err.msg, "apt-get install qemu-user-static binfmt-support"),
		   "no emulator: what to install (%s)", err.msg);

	put(dir, "qemu-aarch64", aarch64_entry);
	UNIT_CHECK(cn_platform_can_run_at(dir, &host, &arm64, &err) == 0, "qemu-aarch64 with F runs arm64");
	UNIT_CHECK(cn_platform_can_run_at(dir, &host, &s390x, &err) < 0 && strstr(err.msg, "linux/s390x") &&
		   strstr(err.msg, "qemu-user-static"), "but not s390x (%s)", err.msg);
	UNIT_CHECK(cn_platform_can_run_at(dir, &host, &armv7, &err) < 0, "nor arm/v7 (ELF32)");

	put(dir, "qemu-aarch64", "disabled\ninterpreter /q\nflags: PF\noffset 0\n"
				 "magic 7f454c460201010000000000000000000200b700\n"
				 "mask ffffffffffffff00fffffffffffffffffeffffff\n");
	UNIT_CHECK(cn_platform_can_run_at(dir, &host, &arm64, &err) < 0 &&
		   strstr(err.msg, "update-binfmts --enable qemu-aarch64"), "disabled: how to enable (%s)", err.msg);
	put(dir, "qemu-aarch64", "enabled\ninterpreter /q\nflags: P\noffset 0\n"
				 "magic 7f454c460201010000000000000000000200b700\n"
				 "mask ffffffffffffff00fffffffffffffffffeffffff\n");
	UNIT_CHECK(cn_platform_can_run_at(dir, &host, &arm64, &err) < 0 && strstr(err.msg, "F flag"),
		   "without F: says why it cannot work (%s)", err.msg);
	put(dir, "qemu-aarch64", aarch64_entry);
	put(dir, "status", "disabled\n");
	UNIT_CHECK(cn_platform_can_run_at(dir, &host, &arm64, &err) < 0 && strstr(err.msg, "disabled"),
		   "binfmt_misc disabled as a whole (%s)", err.msg);
	/* s390x is big-endian: a matching entry must be read as such. */
	put(dir, "status", "enabled\n");
	put(dir, "qemu-s390x", "enabled\ninterpreter /q\nflags: F\noffset 0\n"
			       "magic 7f454c4602020100000000000000000000020016\n"
			       "mask ffffffffffffff00fffffffffffffffffffeffff\n");
	UNIT_CHECK(cn_platform_can_run_at(dir, &host, &s390x, &err) == 0, "qemu-s390x (big-endian ELF) matches");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	UNIT_CHECK(system(cmd) == 0, "cleanup");
}

int main(void)
{
	test_parse();
	test_can_run();
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
