#include "util/platform.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
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

/* ---- normal form ---- */

static bool copy_field(char dst[CN_PLATFORM_FIELD], const char *src, size_t len)
{
	if (len >= CN_PLATFORM_FIELD)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = src[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		/* Names go into messages, paths of nothing, and build args. */
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
			return false;
		dst[i] = c;
	}
	dst[len] = '\0';
	return true;
}

/* containerd's normalizeArch, and "macos" as darwin (normalizeOS). */
static void normalize(struct cn_platform *p)
{
	char *a = p->arch, *v = p->variant;
	if (!strcmp(p->os, "macos"))
		snprintf(p->os, sizeof(p->os), "darwin");
	if (!strcmp(a, "i386")) {
		snprintf(a, CN_PLATFORM_FIELD, "386");
		*v = '\0';
	} else if (!strcmp(a, "x86_64") || !strcmp(a, "x86-64") || !strcmp(a, "amd64")) {
		snprintf(a, CN_PLATFORM_FIELD, "amd64");
		if (!strcmp(v, "v1"))
			*v = '\0';
	} else if (!strcmp(a, "aarch64") || !strcmp(a, "arm64")) {
		snprintf(a, CN_PLATFORM_FIELD, "arm64");
		if (!strcmp(v, "8") || !strcmp(v, "v8") || !strcmp(v, "v8.0"))
			*v = '\0';
	} else if (!strcmp(a, "armhf")) {
		snprintf(a, CN_PLATFORM_FIELD, "arm");
		snprintf(v, CN_PLATFORM_FIELD, "v7");
	} else if (!strcmp(a, "armel")) {
		snprintf(a, CN_PLATFORM_FIELD, "arm");
		snprintf(v, CN_PLATFORM_FIELD, "v6");
	} else if (!strcmp(a, "arm")) {
		if (!*v || !strcmp(v, "7"))
			snprintf(v, CN_PLATFORM_FIELD, "v7");
		else if (!strcmp(v, "5") || !strcmp(v, "6") || !strcmp(v, "8"))
			v[1] = v[0], v[0] = 'v', v[2] = '\0';
	}
}

bool cn_platform_set(struct cn_platform *p, const char *os, const char *arch, const char *variant)
{
	memset(p, 0, sizeof(*p));
	if (!os || !*os || !arch || !*arch || !copy_field(p->os, os, strlen(os)) ||
	    !copy_field(p->arch, arch, strlen(arch)) ||
	    !copy_field(p->variant, variant ? variant : "", variant ? strlen(variant) : 0))
		return false;
	normalize(p);
	return true;
}

int cn_platform_parse(const char *s, struct cn_platform *p, cn_err *err)
{
	const char *parts[3] = { 0 };
	size_t lens[3] = { 0 }, n = 0;
	const char *q = s;
	memset(p, 0, sizeof(*p));
	for (;;) {
		size_t len = strcspn(q, "/");
		if (n == 3)
			goto bad;
		parts[n] = q;
		lens[n++] = len;
		if (!q[len])
			break;
		q += len + 1;
	}
	for (size_t i = 0; i < n; i++)
		if (lens[i] == 0)
			goto bad;
	if (n == 1) {
		/* docker takes "arm64" for linux/arm64 (and "linux" for the host). */
		if (lens[0] == 5 && !strncasecmp(parts[0], "linux", 5)) {
			cn_platform_host_get(p);
			return 0;
		}
		snprintf(p->os, sizeof(p->os), "linux");
		if (!copy_field(p->arch, parts[0], lens[0]))
			goto bad;
	} else if (!copy_field(p->os, parts[0], lens[0]) || !copy_field(p->arch, parts[1], lens[1]) ||
		   (n == 3 && !copy_field(p->variant, parts[2], lens[2]))) {
		goto bad;
	}
	normalize(p);
	return 0;
bad:
	memset(p, 0, sizeof(*p));
	return cn_err_fail(err, CN_ERR_INVALID, "invalid platform '%s' (expected OS/ARCH[/VARIANT], e.g. linux/arm64)",
			   s);
}

void cn_platform_host_get(struct cn_platform *p)
{
	const char *os, *arch, *variant;
	cn_platform_host(&os, &arch, &variant);
	if (!cn_platform_set(p, os, arch, variant))
		cn_platform_set(p, "linux", "amd64", NULL);   /* not reached: uname's names are short */
}

bool cn_platform_equal(const struct cn_platform *a, const struct cn_platform *b)
{
	return !strcmp(a->os, b->os) && !strcmp(a->arch, b->arch) && !strcmp(a->variant, b->variant);
}

void cn_platform_format(const struct cn_platform *p, char out[CN_PLATFORM_STR])
{
	snprintf(out, CN_PLATFORM_STR, "%s/%s%s%s", p->os, p->arch, *p->variant ? "/" : "", p->variant);
}
