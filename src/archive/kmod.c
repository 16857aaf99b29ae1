/* The module-loading initramfs of `export --format disk --kernel PATH`.
 * Distribution kernels (Debian's) build the virtio disk driver and ext4 as
 * modules, so booting a disk needs a first stage that loads them: this
 * machine's static busybox, the modules virtio_pci, virtio_blk, ext4 and
 * crc32c_generic (ext4 asks the crypto API for crc32c, which nothing
 * loads by itself without modprobe) with what each declares it depends on
 * (the "depends=" string in its .modinfo ELF section, read here: modules
 * from an image are outside input), and an /init script. Compressed
 * modules (.ko.xz, .gz, .zst) are unpacked with libarchive, so busybox's
 * insmod needs no decompressor. */
#include "archive/export_internal.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define KMOD_MAX_FILE ((size_t)64 << 20)
#define KMOD_MAX_NAME 64
#define KMOD_MAX_DEPTH 32

/* ---- ELF ---- */

/* The ELF64 header of DATA, native byte order (modules are built for the
 * kernel they load into), or NULL. */
static const Elf64_Ehdr *elf_header(const unsigned char *data, size_t size)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(const void *)data;
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return NULL;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return NULL;
#else
	if (eh->e_ident[EI_DATA] != ELFDATA2MSB)
		return NULL;
#endif
	return eh;
}

/* OFF + LEN within SIZE, without overflow. */
static bool in_bounds(uint64_t off, uint64_t len, size_t size)
{
	return off <= size && len <= size - off;
}

/* The bytes of the section named NAME: 0, or -1 when there is none or the
 * file is not an ELF64 object. */
static int elf_section(const unsigned char *data, size_t size, const char *name, const unsigned char **out,
		       size_t *outlen)
{
	const Elf64_Ehdr *eh = elf_header(data, size);
	const Elf64_Shdr *sh, *strs;
	if (!eh || eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shstrndx >= eh->e_shnum ||
	    !in_bounds(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr), size) || eh->e_shoff % 8)
		return -1;
	sh = (const Elf64_Shdr *)(const void *)(data + eh->e_shoff);
	strs = &sh[eh->e_shstrndx];
	if (strs->sh_type == SHT_NOBITS || !in_bounds(strs->sh_offset, strs->sh_size, size))
		return -1;
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		const char *n = (const char *)data + strs->sh_offset + sh[i].sh_name;
		size_t room;
		if (sh[i].sh_name >= strs->sh_size)
			continue;
		room = strs->sh_size - sh[i].sh_name;
		if (strnlen(n, room) != strlen(name) || strncmp(n, name, room) != 0)
			continue;
		if (sh[i].sh_type == SHT_NOBITS || !in_bounds(sh[i].sh_offset, sh[i].sh_size, size))
			return -1;
		*out = data + sh[i].sh_offset;
		*outlen = sh[i].sh_size;
		return 0;
	}
	return -1;
}

/* A module name as the kernel knows it: '-' and '_' are the same. */
static bool module_name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= KMOD_MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static char *module_name(const char *s, size_t n)
{
	char *r = cn_xstrndup(s, n);
	for (char *p = r; *p; p++)
		if (*p == '-')
			*p = '_';
	return r;
}

int arc_modinfo_depends(const unsigned char *data, size_t size, cn_strv *out, cn_err *err)
{
	const unsigned char *mi;
	size_t milen, i = 0;
	if (elf_section(data, size, ".modinfo", &mi, &milen) < 0)
		return cn_err_fail(err, CN_ERR_INVALID, "not a kernel module (no ELF64 .modinfo section)");
	while (i < milen) {
		const char *s = (const char *)mi + i;
		size_t n = strnlen(s, milen - i);
		if (n > 8 && !strncmp(s, "depends=", 8)) {
			const char *p = s + 8, *end = s + n;
			while (p < end) {
				const char *comma = memchr(p, ',', (size_t)(end - p));
				size_t len = comma ? (size_t)(comma - p) : (size_t)(end - p);
				if (len) {
					if (!module_name_ok(p, len))
						return cn_err_fail(err, CN_ERR_INVALID, "depends= names '%.*s', "
								   "not a module name", (int)(len > 80 ? 80 : len), p);
					cn_strv_push(out, module_name(p, len));
				}
				p += len + 1;
			}
		}
		i += n + 1;
	}
	return 0;
}

/* Statically linked: no PT_INTERP program header. */
static bool elf_static(const unsigned char *data, size_t size)
{
	const Elf64_Ehdr *eh = elf_header(data, size);
	const Elf64_Phdr *ph;
	if (!eh || eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff % 8 ||
	    !in_bounds(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), size))
		return false;
	ph = (const Elf64_Phdr *)(const void *)(data + eh->e_phoff);
	for (unsigned i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_INTERP)
			return false;
	return true;
}

/* ---- the modules directory ---- */

struct kmod {
	char *name;             /* '-' as '_' */
	char *path;             /* relative to the modules directory */
	cn_buf data;            /* the module, uncompressed, once read */
	int state;              /* 0 new, 1 being resolved, 2 in the list */
};

struct kmods {
	int dirfd;
	const char *where;      /* for messages */
	struct kmod *v;
	size_t n, cap;
	cn_strv builtin;
	struct kmod **order;    /* what /init loads, dependencies first */
	size_t norder;
	cn_err *err;
};

static const char *const ko_suffixes[] = { ".ko", ".ko.xz", ".ko.gz", ".ko.zst" };

static int index_dir(struct kmods *m, int dirfd, const char *rel, unsigned depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd;
	if (depth > 16)
		return 0;
	fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return cn_err_sys(m->err, "read %s/%s", m->where, rel);
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type == DT_DIR) {
			_cleanup_free_ char *sub = cn_xasprintf("%s%s%s", rel, *rel ? "/" : "", de->d_name);
			_cleanup_close_ int sfd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sfd >= 0 && index_dir(m, sfd, sub, depth + 1) < 0)
				return -1;
			continue;
		}
		for (size_t i = 0; i < CN_ARRAY_SIZE(ko_suffixes); i++) {
			size_t sl = strlen(ko_suffixes[i]);
			if (len > sl && !strcmp(de->d_name + len - sl, ko_suffixes[i]) && de->d_type == DT_REG) {
				cn_xgrow((void **)&m->v, &m->cap, m->n + 1, sizeof(*m->v));
				m->v[m->n++] = (struct kmod){
					.name = module_name(de->d_name, len - sl),
					.path = cn_xasprintf("%s%s%s", rel, *rel ? "/" : "", de->d_name),
				};
				cn_buf_init(&m->v[m->n - 1].data, KMOD_MAX_FILE);
				break;
			}
		}
	}
	return 0;
}

/* modules.builtin: "kernel/fs/ext4/ext4.ko" lines, the modules built in. */
static void read_builtin(struct kmods *m)
{
	_cleanup_buf_ cn_buf b;
	cn_err ignored;
	char *line, *save = NULL;
	cn_buf_init(&b, 0);
	if (cn_read_file_at(m->dirfd, "modules.builtin", (size_t)4 << 20, &b, &ignored) < 0)
		return;
	for (line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *base = strrchr(line, '/'), *dot;
		base = base ? base + 1 : line;
		dot = strstr(base, ".ko");
		if (dot)
			cn_strv_push(&m->builtin, module_name(base, (size_t)(dot - base)));
	}
}

static bool is_builtin(const struct kmods *m, const char *name)
{
	for (size_t i = 0; i < m->builtin.n; i++)
		if (!strcmp(m->builtin.v[i], name))
			return true;
	return false;
}

static struct kmod *find(struct kmods *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].name, name))
			return &m->v[i];
	return NULL;
}

/* The module K as it is loaded: read, and unpacked when compressed. */
static int load_module(struct kmods *m, struct kmod *k)
{
	_cleanup_close_ int fd = openat(m->dirfd, k->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	_cleanup_buf_ cn_buf raw;
	struct archive *a;
	struct archive_entry *e;
	char chunk[16384];
	la_ssize_t n;
	int r = 0;
	cn_buf_init(&raw, KMOD_MAX_FILE);
	if (fd < 0)
		return cn_err_sys(m->err, "open %s/%s", m->where, k->path);
	if (strlen(k->path) > 3 && !strcmp(k->path + strlen(k->path) - 3, ".ko"))
		return cn_read_fd(fd, k->path, KMOD_MAX_FILE, &k->data, m->err);
	if (cn_read_fd(fd, k->path, KMOD_MAX_FILE, &raw, m->err) < 0)
		return -1;
	a = archive_read_new();
	if (!a)
		return cn_err_errno(m->err, ENOMEM, "libarchive");
	archive_read_support_filter_xz(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_memory(a, raw.data, raw.len) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		r = cn_err_fail(m->err, CN_ERR_INVALID, "%s/%s: %s", m->where, k->path, archive_error_string(a));
		goto out;
	}
	while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0) {
		if (cn_buf_add(&k->data, chunk, (size_t)n) < 0) {
			r = cn_err_fail(m->err, CN_ERR_TOO_BIG, "%s/%s: over %zu MiB unpacked", m->where, k->path,
					KMOD_MAX_FILE >> 20);
			goto out;
		}
	}
	if (n < 0)
		r = cn_err_fail(m->err, CN_ERR_INVALID, "%s/%s: %s", m->where, k->path, archive_error_string(a));
out:
	archive_read_free(a);
	return r;
}

/* Put NAME and what it depends on into the load order. */
static int resolve(struct kmods *m, const char *name, bool required, unsigned depth)
{
	struct kmod *k = find(m, name);
	_cleanup_strv_ cn_strv deps = { 0 };
	if (!k) {
		if (!required || is_builtin(m, name))
			return 0;
		return cn_err_fail(m->err, CN_ERR_NOT_FOUND, "module %s is neither in %s nor built into the kernel",
				   name, m->where);
	}
	if (k->state == 2)
		return 0;
	if (k->state == 1 || depth > KMOD_MAX_DEPTH)
		return cn_err_fail(m->err, CN_ERR_INVALID, "%s/%s: its dependencies loop", m->where, k->path);
	k->state = 1;
	if (load_module(m, k) < 0)
		return -1;
	if (arc_modinfo_depends((const unsigned char *)k->data.data, k->data.len, &deps, m->err) < 0)
		return cn_err_wrap(m->err, "%s/%s", m->where, k->path);
	for (size_t i = 0; i < deps.n; i++)
		if (resolve(m, deps.v[i], true, depth + 1) < 0)
			return -1;
	k->state = 2;
	m->order = cn_xrealloc(m->order, (m->norder + 1) * sizeof(*m->order));
	m->order[m->norder++] = k;
	return 0;
}

/* The modules of VERSION: next to the kernel (an unpacked kernel package:
 * boot/vmlinuz-V and lib/modules/V), in the image, on this machine. */
static int open_modules(struct kmods *m, const char *kernel, const char *version, int root_fd, char **where)
{
	_cleanup_free_ char *kcopy = cn_xstrdup(kernel);
	const char *kdir = dirname(kcopy);
	_cleanup_free_ char *near = cn_xasprintf("%s/../lib/modules/%s", kdir, version);
	_cleanup_free_ char *near_usr = cn_xasprintf("%s/../usr/lib/modules/%s", kdir, version);
	_cleanup_free_ char *img = cn_xasprintf("lib/modules/%s", version);
	_cleanup_free_ char *img_usr = cn_xasprintf("usr/lib/modules/%s", version);
	_cleanup_free_ char *host = cn_xasprintf("/lib/modules/%s", version);
	const char *host_paths[] = { near, near_usr };
	for (size_t i = 0; i < CN_ARRAY_SIZE(host_paths); i++) {
		m->dirfd = open(host_paths[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (m->dirfd >= 0) {
			*where = cn_xstrdup(host_paths[i]);
			return 0;
		}
	}
	/* The image's: resolved inside its root (its links cannot leave it). */
	m->dirfd = cn_openat2(root_fd, img, O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_XDEV);
	if (m->dirfd < 0)
		m->dirfd = cn_openat2(root_fd, img_usr, O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_XDEV);
	if (m->dirfd >= 0) {
		*where = cn_xasprintf("the image's /%s", img);
		return 0;
	}
	m->dirfd = open(host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->dirfd >= 0) {
		*where = cn_xstrdup(host);
		return 0;
	}
	return cn_err_fail(m->err, CN_ERR_NOT_FOUND, "--kernel: no modules for %s: looked in %s, the image's "
			   "/lib/modules/%s and %s", version, near, version, host);
}

/* This machine's busybox, which must be static: the initramfs has no libc. */
static int read_busybox(cn_buf *out, cn_err *err)
{
	static const char *const paths[] = { "/bin/busybox", "/usr/bin/busybox", "/sbin/busybox" };
	for (size_t i = 0; i < CN_ARRAY_SIZE(paths); i++) {
		_cleanup_close_ int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		cn_buf_reset(out);
		if (cn_read_fd(fd, paths[i], KMOD_MAX_FILE, out, err) < 0)
			return -1;
		if (!elf_static((const unsigned char *)out->data, out->len))
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--kernel: %s is not statically linked: the "
					   "module loader needs a static busybox (Debian package busybox-static)",
					   paths[i]);
		return 0;
	}
	return cn_err_fail(err, CN_ERR_NOT_FOUND, "--kernel: the module loader needs a static busybox "
			   "(Debian package busybox-static), and this machine has none");
}

static char *modloader_init(const struct kmods *m)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	cn_buf_adds(&b, "#!/bin/busybox sh\n"
		    "# Loads the modules a virtio disk with ext4 needs, mounts it and starts its\n"
		    "# init (written by cairn export --format disk --kernel). The kernel's root=,\n"
		    "# init=, ro and rw are honoured; arguments after -- go to the init.\n"
		    "B=/bin/busybox\n"
		    "$B mount -t proc proc /proc\n"
		    "$B mount -t devtmpfs devtmpfs /dev\n"
		    "for m in");
	for (size_t i = 0; i < m->norder; i++)
		cn_buf_addf(&b, " %s", m->order[i]->name);
	cn_buf_adds(&b, "; do\n"
		    "\t$B insmod /lib/modules/$m.ko || echo \"cairn initrd: insmod $m failed\" >&2\n"
		    "done\n"
		    "root=/dev/vda init= mode=rw\n"
		    "for a in $($B cat /proc/cmdline); do\n"
		    "\tcase $a in root=/dev/*) root=${a#root=} ;; init=*) init=${a#init=} ;; ro|rw) mode=$a ;; esac\n"
		    "done\n"
		    "i=0\n"
		    "while [ ! -b $root ] && [ $i -lt 200 ]; do $B sleep 0.1; i=$((i + 1)); done\n"
		    "if ! $B mount -t ext4 -o $mode $root /newroot; then\n"
		    "\techo \"cairn initrd: cannot mount $root: a shell\" >&2; exec $B sh\n"
		    "fi\n"
		    "if [ -z \"$init\" ]; then\n"
		    "\tfor c in /sbin/init /init; do\n"
		    "\t\tif [ -L /newroot$c ] || [ -x /newroot$c ]; then init=$c; break; fi\n"
		    "\tdone\n"
		    "fi\n"
		    "if [ -z \"$init\" ]; then\n"
		    "\techo \"cairn initrd: $root has no /sbin/init or /init: a shell\" >&2; exec $B sh\n"
		    "fi\n"
		    "[ -d /newroot/dev ] && $B mount --move /dev /newroot/dev\n"
		    "$B umount /proc\n"
		    "exec $B switch_root /newroot \"$init\" \"$@\"\n");
	return cn_buf_detach(&b);
}

int arc_modloader_write(const char *kernel, int root_fd, int out_fd, cn_err *err)
{
	static const char *const dirs[] = { "bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules" };
	static const struct { const char *name; bool required; } roots[] = {
		{ "virtio_pci", true }, { "virtio_blk", true }, { "ext4", true }, { "crc32c_generic", false },
	};
	struct kmods m = { .dirfd = -1, .err = err };
	_cleanup_free_ char *kcopy = cn_xstrdup(kernel), *where = NULL, *init = NULL;
	_cleanup_buf_ cn_buf busybox;
	struct arc_tree_extra *x = NULL;
	char **names = NULL;
	const char *base = basename(kcopy), *version;
	size_t nx = 0;
	int rc = -1;

	cn_buf_init(&busybox, KMOD_MAX_FILE);
	if (strncmp(base, "vmlinuz-", 8) != 0 || !base[8])
		return cn_err_fail(err, CN_ERR_INVALID, "--kernel '%s': not named vmlinuz-VERSION (its modules are "
				   "found by VERSION)", kernel);
	version = base + 8;
	if (read_busybox(&busybox, err) < 0 || open_modules(&m, kernel, version, root_fd, &where) < 0)
		goto out;
	m.where = where;
	if (index_dir(&m, m.dirfd, "", 0) < 0)
		goto out;
	read_builtin(&m);
	for (size_t i = 0; i < CN_ARRAY_SIZE(roots); i++)
		if (resolve(&m, roots[i].name, roots[i].required, 0) < 0)
			goto out;
	init = modloader_init(&m);

	x = cn_xcalloc(CN_ARRAY_SIZE(dirs) + 3 + m.norder, sizeof(*x));
	names = cn_xcalloc(m.norder + 1, sizeof(*names));
	for (size_t i = 0; i < CN_ARRAY_SIZE(dirs); i++)
		x[nx++] = (struct arc_tree_extra){ .path = dirs[i], .mode = S_IFDIR | 0755 };
	x[nx++] = (struct arc_tree_extra){ .path = "dev/console", .mode = S_IFCHR | 0600, .rdev = makedev(5, 1) };
	x[nx++] = (struct arc_tree_extra){ .path = "bin/busybox", .mode = S_IFREG | 0755, .data = busybox.data,
					   .len = busybox.len };
	for (size_t i = 0; i < m.norder; i++) {
		names[i] = cn_xasprintf("lib/modules/%s.ko", m.order[i]->name);
		x[nx++] = (struct arc_tree_extra){ .path = names[i], .mode = S_IFREG | 0644,
						   .data = m.order[i]->data.data, .len = m.order[i]->data.len };
	}
	x[nx++] = (struct arc_tree_extra){ .path = "init", .mode = S_IFREG | 0755, .data = init, .len = strlen(init) };
	rc = arc_tree_write(NULL, ARC_TREE_CPIO_GZ, x, nx, out_fd, err);
out:
	for (size_t i = 0; names && i < m.norder; i++)
		free(names[i]);
	free(names);
	free(x);
	for (size_t i = 0; i < m.n; i++) {
		free(m.v[i].name);
		free(m.v[i].path);
		cn_buf_free(&m.v[i].data);
	}
	free(m.v);
	free(m.order);
	cn_strv_free(&m.builtin);
	if (m.dirfd >= 0)
		close(m.dirfd);
	return rc;
}
