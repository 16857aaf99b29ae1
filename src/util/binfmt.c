/* Can this kernel run a platform's binaries? Natively, or through a
 * binfmt_misc entry (qemu-user-static registers one per architecture).
 * The entries are read from /proc, never from config files: the live
 * flags can differ from what /usr/lib/binfmt.d says. cairn only detects;
 * registering is the host administrator's one-time setup (and a build
 * sandbox must not mount its own binfmt_misc: since Linux 6.7 that
 * instance would be empty). */
#include "util/platform.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BINFMT_DIR "/proc/sys/fs/binfmt_misc"
#define INSTALL_HINT "on Debian: apt-get install qemu-user-static binfmt-support"

/* The ELF identity of an architecture's executables. */
struct elf_id {
	const char *arch;
	unsigned char cls;      /* 1: ELF32, 2: ELF64 */
	unsigned char data;     /* 1: little-endian, 2: big-endian */
	uint16_t machine;
};

static const struct elf_id elf_ids[] = {
	{ "amd64", 2, 1, 62 }, { "386", 1, 1, 3 }, { "arm64", 2, 1, 183 }, { "arm", 1, 1, 40 },
	{ "ppc64le", 2, 1, 21 }, { "ppc64", 2, 2, 21 }, { "s390x", 2, 2, 22 }, { "riscv64", 2, 1, 243 },
	{ "mips64le", 2, 1, 8 }, { "mips64", 2, 2, 8 }, { "mipsle", 1, 1, 8 }, { "mips", 1, 2, 8 },
	{ "loong64", 2, 1, 258 },
};

/* The first 20 bytes of an ET_EXEC of that machine: what a magic entry
 * (offset 0, ELF header) is matched against. */
static void elf_header(const struct elf_id *id, unsigned char h[20])
{
	memset(h, 0, 20);
	memcpy(h, "\177ELF", 4);
	h[4] = id->cls;
	h[5] = id->data;
	h[6] = 1;       /* EI_VERSION */
	if (id->data == 1) {
		h[16] = 2;
		h[18] = (unsigned char)(id->machine & 0xff);
		h[19] = (unsigned char)(id->machine >> 8);
	} else {
		h[17] = 2;
		h[18] = (unsigned char)(id->machine >> 8);
		h[19] = (unsigned char)(id->machine & 0xff);
	}
}

static size_t unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = 0;
	unsigned v;
	while (n < max && sscanf(s, "%2x", &v) == 1 && s[0] && s[1]) {
		out[n++] = (unsigned char)v;
		s += 2;
	}
	return n;
}

struct entry {
	bool enabled, magic_ok;
	char flags[16];
	char interpreter[128];
};

/* Parse one /proc entry: "enabled", "interpreter X", "flags: PF",
 * "offset N", "magic HEX", "mask HEX". Extension entries have no magic. */
static void parse_entry(char *text, const unsigned char hdr[20], struct entry *e)
{
	unsigned char magic[128], mask[128];
	size_t nmagic = 0, nmask = 0;
	long offset = 0;
	memset(e, 0, sizeof(*e));
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!strcmp(l, "enabled"))
			e->enabled = true;
		else if (!strncmp(l, "interpreter ", 12))
			snprintf(e->interpreter, sizeof(e->interpreter), "%s", l + 12);
		else if (!strncmp(l, "flags: ", 7))
			snprintf(e->flags, sizeof(e->flags), "%s", l + 7);
		else if (!strncmp(l, "offset ", 7))
			offset = strtol(l + 7, NULL, 10);
		else if (!strncmp(l, "magic ", 6))
			nmagic = unhex(l + 6, magic, sizeof(magic));
		else if (!strncmp(l, "mask ", 5))
			nmask = unhex(l + 5, mask, sizeof(mask));
	}
	if (nmagic == 0 || offset < 0 || (size_t)offset + nmagic > 20)
		return;
	for (size_t i = 0; i < nmagic; i++) {
		unsigned char m = i < nmask ? mask[i] : 0xff;
		if ((hdr[offset + i] & m) != (magic[i] & m))
			return;
	}
	e->magic_ok = true;
}

static bool runs_natively(const struct cn_platform *host, const struct cn_platform *p)
{
	if (strcmp(p->os, host->os) != 0)
		return false;
	if (!strcmp(p->arch, host->arch))
		/* An arm v7 CPU runs v6 and v5 code, not v8's. */
		return strcmp(p->arch, "arm") != 0 || strcmp(p->variant, host->variant) <= 0;
	return !strcmp(host->arch, "amd64") && !strcmp(p->arch, "386");
}

int cn_platform_can_run_at(const char *binfmt_dir, const struct cn_platform *host,
			   const struct cn_platform *p, cn_err *err)
{
	char want[CN_PLATFORM_STR], have[CN_PLATFORM_STR];
	const struct elf_id *id = NULL;
	unsigned char hdr[20];
	_cleanup_close_ int dfd = -1;
	DIR *d;
	struct dirent *de;
	struct entry found = { 0 };
	char found_name[256] = "";
	bool mounted;

	if (runs_natively(host, p))
		return 0;
	cn_platform_format(p, want);
	cn_platform_format(host, have);
	if (strcmp(p->os, "linux") != 0)
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "cannot build for %s: only linux images can be built", want);
	for (size_t i = 0; i < sizeof(elf_ids) / sizeof(elf_ids[0]); i++)
		if (!strcmp(elf_ids[i].arch, p->arch))
			id = &elf_ids[i];
	if (!id)
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "cannot run %s binaries on this %s host: "
				   "cairn does not know the architecture '%s'", want, have, p->arch);
	elf_header(id, hdr);
	dfd = open(binfmt_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	mounted = dfd >= 0 && faccessat(dfd, "status", F_OK, 0) == 0;
	if (!mounted)
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "cannot run %s binaries on this %s host: binfmt_misc "
				   "is not mounted at %s (mount -t binfmt_misc binfmt_misc %s, then register an "
				   "emulator: " INSTALL_HINT ")", want, have, binfmt_dir, binfmt_dir);
	{
		_cleanup_buf_ cn_buf status;
		cn_err ignored;
		cn_buf_init(&status, 64);
		if (cn_read_file_at(dfd, "status", 64, &status, &ignored) == 0 &&
		    strncmp(status.data ? status.data : "", "enabled", 7) != 0)
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, "cannot run %s binaries on this %s host: "
					   "binfmt_misc is disabled (echo 1 > %s/status)", want, have, binfmt_dir);
	}
	d = fdopendir(dup(dfd));
	if (!d)
		return cn_err_sys(err, "open %s", binfmt_dir);
	/* The newest entry is matched first, but any enabled one with F will
	 * do; remember a disabled or F-less match to say what is wrong. */
	while ((de = readdir(d))) {
		cn_err ignored;
		struct entry e;
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "status") || !strcmp(de->d_name, "register"))
			continue;
		_cleanup_buf_ cn_buf text;
		cn_buf_init(&text, 4096);
		if (cn_read_file_at(dfd, de->d_name, 4096, &text, &ignored) < 0 || !text.data)
			continue;
		parse_entry(text.data, hdr, &e);
		if (!e.magic_ok)
			continue;
		if (e.enabled && strchr(e.flags, 'F')) {
			closedir(d);
			return 0;
		}
		if (!*found_name || (e.enabled && !found.enabled)) {
			found = e;
			snprintf(found_name, sizeof(found_name), "%s", de->d_name);
		}
	}
	closedir(d);
	if (*found_name && !found.enabled)
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "cannot run %s binaries on this %s host: the binfmt_misc "
				   "emulator %s is registered but disabled (update-binfmts --enable %s)",
				   want, have, found_name, found_name);
	if (*found_name)
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "cannot run %s binaries on this %s host: the binfmt_misc "
				   "emulator %s (%s) lacks the F flag, so its interpreter would be looked up inside "
				   "the image; register it with F (" INSTALL_HINT " does)",
				   want, have, found_name, found.interpreter);
	return cn_err_fail(err, CN_ERR_UNSUPPORTED, "cannot run %s binaries on this %s host: no binfmt_misc "
			   "emulator is registered for them (" INSTALL_HINT ")", want, have);
}

int cn_platform_can_run(const struct cn_platform *p, cn_err *err)
{
	struct cn_platform host;
	cn_platform_host_get(&host);
	return cn_platform_can_run_at(BINFMT_DIR, &host, p, err);
}
