/* Internal to layers/: the compression formats a layer blob can have, in one
 * table that the writer (sink.c), the reader (extract_input.c) and the
 * public names and media types (layer_media_type, layer_compression_parse)
 * share, so a format's name, magic bytes and media type are written once. */
#ifndef LAYER_CODEC_H
#define LAYER_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "layers/layer.h"

/* zlib's windowBits for a gzip wrapper and nothing else (15 + 16), for the
 * reader (the writer, pgzip.c, deflates raw and wraps it itself). */
#define LAYER_GZIP_WINDOW_BITS (15 + 16)

enum layer_codec_id {
	LAYER_CODEC_PLAIN,      /* no compression: a tar */
	LAYER_CODEC_GZIP,
	LAYER_CODEC_ZSTD,
	LAYER_CODEC_BZIP2,      /* ADD's archives only, through libarchive */
	LAYER_CODEC_XZ,         /* the same */
};

#define LAYER_CODEC_MAGIC_MAX 6

struct layer_codec {
	enum layer_codec_id id;
	const char *name;               /* "gzip": options and error messages */
	int compression;                /* enum layer_compression, -1 if layers never use it */
	const char *media_type;         /* OCI layer media type, NULL if none */
	size_t magic_len;               /* 0: no magic (plain) */
	unsigned char magic[LAYER_CODEC_MAGIC_MAX];
	unsigned char mask[LAYER_CODEC_MAGIC_MAX];      /* bits of magic that must match */
};

/* The format whose magic starts BUF (LEN bytes read, at least
 * LAYER_CODEC_MAGIC_MAX unless the input is shorter); plain otherwise. */
const struct layer_codec *layer_codec_detect(const unsigned char *buf, size_t len);
/* The entry for a compression the writer produces. */
const struct layer_codec *layer_codec_of(enum layer_compression c);
/* Whether byte C can start another member / frame of format ID (gzip
 * members and zstd frames may be concatenated). */
bool layer_codec_starts(enum layer_codec_id id, unsigned char c);

#endif
