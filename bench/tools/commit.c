/* bench-commit's probe: one layer commit as cairn does it (layers/
 * layer_write_dir: walk, tar, compress, both sha256, write), of DIR to OUT,
 * timed. Prints "seconds blob_bytes digest". */
#include "layers/layer.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct layer_write_opts o = { .compression = LAYER_ZSTD, .clamp_mtime = -1 };
	struct layer_info info;
	struct timespec t0, t1;
	cn_err err;
	int dir, out;
	if (argc < 4 || layer_compression_parse(argv[3], &o.compression) < 0) {
		fprintf(stderr, "usage: commit DIR OUT zstd|gzip [LEVEL]\n");
		return 2;
	}
#ifndef BENCH_NO_LEVEL
	if (argc > 4)
		o.level = atoi(argv[4]);
#endif
	dir = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (dir < 0 || out < 0) {
		perror("open");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (layer_write_dir(dir, out, &o, &info, &err) < 0) {
		fprintf(stderr, "commit: %s\n", err.msg);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.3f %llu %s\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (unsigned long long)info.size, info.digest);
	return 0;
}
