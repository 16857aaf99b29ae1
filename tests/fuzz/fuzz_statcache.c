/* The stat cache file (src/builder/statcache*.c), which lives in the store
 * and may be damaged or crafted: any bytes as the file, loaded, looked up
 * and saved over (the save merges what the file holds). Whatever the input,
 * what a save writes loads back with every entry it says it holds, within
 * the bound on saved entries. */
#include "fuzz.h"

#include "builder/statcache.h"

#include <sys/stat.h>

static int dir_fd = -1, file_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	dir_fd = open(fuzz_tmpdir(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dir_fd < 0)
		abort();
	file_fd = openat(dir_fd, "one", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (file_fd < 0 || cn_write_all(file_fd, "1", 1) < 0)
		abort();
	return 0;
}

static const char *const keys[] = { "/a", "/b", "/k/000001", "/a/b", "/a-c", "/zzz" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bf_statcache *sc;
	char d[CN_DIGEST_STR_SIZE];
	cn_err err;
	size_t saved;
	struct stat before, after;
	int fd = openat(dir_fd, "stat", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || cn_write_all(fd, data, size) < 0)
		abort();
	close(fd);
	if (fstatat(dir_fd, "stat", &before, 0) < 0)
		abort();
	if (bf_statcache_load(dir_fd, "stat", &sc, &err) < 0)
		abort();        /* only an error reading it fails */
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
	if (after.st_ino == before.st_ino)
		return 0;       /* nothing to save: the input stays */
	if (saved > 50 || bf_statcache_load(dir_fd, "stat", &sc, &err) < 0 || bf_statcache_count(sc) != saved)
		abort();
	bf_statcache_free(sc);
	return 0;
}
