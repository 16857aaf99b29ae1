/* The stat cache files (src/builder/statcache*.c), which live in the store
 * and may be damaged or crafted: after a mode byte, a 2-byte (little
 * endian) length and that many bytes as the main file, and by the mode
 * byte the rest as its recent level, loaded, looked up and saved
 * over (the save merges what the files hold, into the main file or the
 * recent level). Whatever the input, what a save writes loads back with
 * every entry it says it holds, within the bound on saved entries. */
#include "fuzz.h"

#include "builder/statcache.h"

#include <sys/stat.h>

static int dir_fd = -1, file_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	dir_fd = fuzz_tmpdir_fd();
	file_fd = openat(dir_fd, "one", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (file_fd < 0 || cn_write_all(file_fd, "1", 1) < 0)
		abort();
	return 0;
}

static const char *const keys[] = { "/a", "/b", "/k/000001", "/a/b", "/a-c", "/zzz" };

static void put(const char *name, const uint8_t *data, size_t size)
{
	int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || cn_write_all(fd, data, size) < 0)
		abort();
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bf_statcache *sc;
	char d[CN_DIGEST_STR_SIZE];
	cn_err err;
	size_t saved;
	unsigned mode = size ? data[0] : 0;
	size_t msize;
	struct stat before, after, rbefore, rafter;

	if (size) {
		data++;
		size--;
	}
	msize = size >= 2 ? (size_t)data[0] | (size_t)data[1] << 8 : 0;
	if (size >= 2) {
		data += 2;
		size -= 2;
	}
	if (msize > size)
		msize = size;
	/* The main file, then by mode bit 0 the rest as the recent level,
	 * else bit 1: an empty recent level, else none; bit 2: a save may
	 * write a recent level whatever the main file's size. */
	put("stat", data, msize);
	if (mode & 1)
		put("stat.recent", data + msize, size - msize);
	else if (mode & 2)
		put("stat.recent", data, 0);
	else
		unlinkat(dir_fd, "stat.recent", 0);
	if (fstatat(dir_fd, "stat", &before, 0) < 0)
		abort();
	if (fstatat(dir_fd, "stat.recent", &rbefore, 0) < 0)
		rbefore.st_ino = 0;
	if (bf_statcache_load(dir_fd, "stat", &sc, &err) < 0)
		abort();        /* only an error reading it fails */
	if (mode & 4)
		bf_statcache_set_recent_min(sc, 0);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (bf_statcache_file_digest(sc, file_fd, keys[i], d, &err) < 0)
			abort();
	bf_statcache_set_max_saved(sc, 50);
	if (bf_statcache_save(sc, dir_fd, "stat", &err) < 0)
		abort();
	saved = bf_statcache_count(sc);
	bf_statcache_free(sc);
	if (fstatat(dir_fd, "stat", &after, 0) < 0)
		abort();
	if (fstatat(dir_fd, "stat.recent", &rafter, 0) < 0)
		rafter.st_ino = 0;
	if (after.st_ino == before.st_ino && rafter.st_ino == rbefore.st_ino)
		return 0;       /* nothing to save: the input stays */
	if (saved > 50 || bf_statcache_load(dir_fd, "stat", &sc, &err) < 0 || bf_statcache_count(sc) != saved)
		abort();
	bf_statcache_free(sc);
	return 0;
}
