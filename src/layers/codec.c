#include "layers/codec.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Magic bytes are the formats' own: gzip (RFC 1952), zstd frames and
 * skippable frames 0x184D2A5? (RFC 8878), bzip2 "BZh", xz's stream header. */
static const struct layer_codec codecs[] = {
	{ LAYER_CODEC_ZSTD, "zstd", LAYER_ZSTD, "application/vnd.oci.image.layer.v1.tar+zstd",
	  4, { 0x28, 0xb5, 0x2f, 0xfd }, { 0xff, 0xff, 0xff, 0xff } },
	{ LAYER_CODEC_ZSTD, "zstd", LAYER_ZSTD, "application/vnd.oci.image.layer.v1.tar+zstd",
	  4, { 0x50, 0x2a, 0x4d, 0x18 }, { 0xf0, 0xff, 0xff, 0xff } },
	{ LAYER_CODEC_GZIP, "gzip", LAYER_GZIP, "application/vnd.oci.image.layer.v1.tar+gzip",
	  2, { 0x1f, 0x8b }, { 0xff, 0xff } },
	{ LAYER_CODEC_BZIP2, "bzip2", -1, NULL, 3, { 'B', 'Z', 'h' }, { 0xff, 0xff, 0xff } },
	{ LAYER_CODEC_XZ, "xz", -1, NULL,
	  6, { 0xfd, '7', 'z', 'X', 'Z', 0 }, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
	{ LAYER_CODEC_PLAIN, "tar", LAYER_NONE, "application/vnd.oci.image.layer.v1.tar",
	  0, { 0 }, { 0 } },
};

static bool magic_at(const struct layer_codec *c, const unsigned char *buf, size_t len)
{
	if (c->magic_len == 0 || len < c->magic_len)
		return false;
	for (size_t i = 0; i < c->magic_len; i++)
		if ((buf[i] & c->mask[i]) != c->magic[i])
			return false;
	return true;
}

const struct layer_codec *layer_codec_detect(const unsigned char *buf, size_t len)
{
	const struct layer_codec *plain = NULL;
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		if (magic_at(&codecs[i], buf, len))
			return &codecs[i];
		if (codecs[i].id == LAYER_CODEC_PLAIN)
			plain = &codecs[i];
	}
	return plain;
}

const struct layer_codec *layer_codec_of(enum layer_compression c)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (codecs[i].compression == (int)c)
			return &codecs[i];
	return NULL;
}

bool layer_codec_starts(enum layer_codec_id id, unsigned char c)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (codecs[i].id == id && codecs[i].magic_len &&
		    (c & codecs[i].mask[0]) == codecs[i].magic[0])
			return true;
	return false;
}

const char *layer_media_type(enum layer_compression c)
{
	const struct layer_codec *codec = layer_codec_of(c);
	return codec ? codec->media_type : NULL;
}

/* Only what a build may choose: a plain tar is for exports. */
int layer_compression_parse(const char *s, enum layer_compression *out)
{
	for (size_t i = 0; s && i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (codecs[i].compression >= 0 && codecs[i].compression != LAYER_NONE &&
		    !strcmp(s, codecs[i].name)) {
			*out = (enum layer_compression)codecs[i].compression;
			return 0;
		}
	return -1;
}

/* The format a layer media type names: its suffix (OCI "+gzip", docker
 * ".tar.gzip", either's plain ".tar"); NULL when it names none. */
static const struct layer_codec *declared_codec(const char *media_type)
{
	size_t n = media_type ? strlen(media_type) : 0;
	enum layer_codec_id id;
	if (n > 5 && (!strcmp(media_type + n - 5, "+gzip") || !strcmp(media_type + n - 5, ".gzip")))
		id = LAYER_CODEC_GZIP;
	else if (n > 5 && (!strcmp(media_type + n - 5, "+zstd") || !strcmp(media_type + n - 5, ".zstd")))
		id = LAYER_CODEC_ZSTD;
	else if (n > 4 && !strcmp(media_type + n - 4, ".tar"))
		id = LAYER_CODEC_PLAIN;
	else
		return NULL;
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (codecs[i].id == id)
			return &codecs[i];
	return NULL;
}

int layer_media_type_compression(const char *media_type, enum layer_compression *out)
{
	const struct layer_codec *c = declared_codec(media_type);
	if (!c || c->compression < 0)
		return -1;
	*out = (enum layer_compression)c->compression;
	return 0;
}

const char *layer_compression_name(enum layer_compression c)
{
	const struct layer_codec *codec = layer_codec_of(c);
	return c == LAYER_NONE ? "none" : codec ? codec->name : "?";
}

int layer_check_media_type(int fd, const char *media_type, const char *digest, cn_err *err)
{
	unsigned char head[LAYER_CODEC_MAGIC_MAX];
	const struct layer_codec *want = declared_codec(media_type), *got;
	size_t len = 0;
	if (!want)
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "layer %s: media type '%s' names no layer format "
				   "cairn reads", digest, media_type ? media_type : "");
	while (len < sizeof(head)) {
		ssize_t n = pread(fd, head + len, sizeof(head) - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cn_err_sys(err, "layer %s: read", digest);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	got = layer_codec_detect(head, len);
	if (got->id != want->id)
		return cn_err_fail(err, CN_ERR_CORRUPT, "layer %s: declared %s (%s), but its content is %s",
				   digest, want->id == LAYER_CODEC_PLAIN ? "a plain tar" : want->name, media_type,
				   got->id == LAYER_CODEC_PLAIN ? "not compressed" : got->name);
	return 0;
}
