/* The image summary file (imgsum.h). Text, one record a line:
 *
 *     cairn-images 2 PLATFORM
 *     m KEY MANIFEST CONFIG CREATED N DIFF_ID...   (hex digests, no "sha256:")
 *     b DIGEST SIZE INODE MTIME_NS                 (a blob as it was summarised)
 *     s DIFF_ID BYTES
 *     end SHA256                                   (of every byte before this line)
 *
 * Anything else anywhere, a duplicate, or a bad trailer: the whole file is
 * ignored (a damaged summary is a miss, never a wrong fact). */
#include "store/imgsum.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/platform.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "cairn-images 2 "
#define MAX_ENTRIES ((size_t)1 << 20)

struct size_entry {
	char diff_id[CN_DIGEST_STR_SIZE];
	uint64_t bytes;
};

struct blob_entry {
	char digest[CN_DIGEST_STR_SIZE];
	struct store_imgsum_stat st;
};

struct store_imgsum {
	char platform[CN_PLATFORM_STR];
	struct store_imgsum_image *img;
	char (*keys)[CN_DIGEST_STR_SIZE];
	size_t nimg, capimg, capkeys;
	struct size_entry *sizes;
	size_t nsizes, capsizes;
	struct blob_entry *blobs;
	size_t nblobs, capblobs;
	json_t *img_at, *size_at, *blob_at;     /* digest -> index */
	bool dirty;
};

/* A 64-digit lower-case hex token at *P followed by SEP: "sha256:HEX" in OUT. */
static bool take_hex(const char **p, const char *end, char sep, char out[CN_DIGEST_STR_SIZE])
{
	const char *s = *p;
	if (end - s < CN_DIGEST_HEX_LEN + 1 || s[CN_DIGEST_HEX_LEN] != sep)
		return false;
	for (int i = 0; i < CN_DIGEST_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	memcpy(out, "sha256:", 7);
	memcpy(out + 7, s, CN_DIGEST_HEX_LEN);
	out[CN_DIGEST_STR_SIZE - 1] = '\0';
	*p = s + CN_DIGEST_HEX_LEN + 1;
	return true;
}

/* Decimal digits (1 to MAX, at most 19: no overflow; no leading zero)
 * ending at a ' ' or '\n', which *SEP gets. */
static bool take_num_max(const char **p, const char *end, size_t max, uint64_t *out, char *sep)
{
	const char *s = *p;
	uint64_t v = 0;
	size_t n = 0;
	while (s + n < end && s[n] >= '0' && s[n] <= '9' && n < max)
		v = v * 10 + (uint64_t)(s[n++] - '0');
	if (n == 0 || s + n >= end || (s[n] != ' ' && s[n] != '\n') || (n > 1 && s[0] == '0'))
		return false;
	*out = v;
	*sep = s[n];
	*p = s + n + 1;
	return true;
}

/* 1 to 18 digits: what fits a long long (created, counts, sizes). */
static bool take_num(const char **p, const char *end, uint64_t *out, char *sep)
{
	return take_num_max(p, end, 18, out, sep);
}

static void add_image(struct store_imgsum *s, const char *key, const struct store_imgsum_image *img)
{
	struct store_imgsum_image *d;
	cn_xgrow((void **)&s->img, &s->capimg, s->nimg + 1, sizeof(*s->img));
	cn_xgrow((void **)&s->keys, &s->capkeys, s->nimg + 1, sizeof(*s->keys));
	d = &s->img[s->nimg];
	*d = *img;
	d->diff_ids = NULL;
	if (img->nlayers) {
		d->diff_ids = cn_xcalloc(img->nlayers, sizeof(*d->diff_ids));
		memcpy(d->diff_ids, img->diff_ids, img->nlayers * sizeof(*d->diff_ids));
	}
	memcpy(s->keys[s->nimg], key, CN_DIGEST_STR_SIZE);
	json_object_set_new(s->img_at, key, json_integer((json_int_t)s->nimg));
	s->nimg++;
}

static void add_size(struct store_imgsum *s, const char *diff_id, uint64_t bytes)
{
	cn_xgrow((void **)&s->sizes, &s->capsizes, s->nsizes + 1, sizeof(*s->sizes));
	memcpy(s->sizes[s->nsizes].diff_id, diff_id, CN_DIGEST_STR_SIZE);
	s->sizes[s->nsizes].bytes = bytes;
	json_object_set_new(s->size_at, diff_id, json_integer((json_int_t)s->nsizes));
	s->nsizes++;
}

static void add_blob(struct store_imgsum *s, const char *digest, const struct store_imgsum_stat *st)
{
	cn_xgrow((void **)&s->blobs, &s->capblobs, s->nblobs + 1, sizeof(*s->blobs));
	memcpy(s->blobs[s->nblobs].digest, digest, CN_DIGEST_STR_SIZE);
	s->blobs[s->nblobs].st = *st;
	json_object_set_new(s->blob_at, digest, json_integer((json_int_t)s->nblobs));
	s->nblobs++;
}

/* "KEY MANIFEST CONFIG CREATED N[ DIFF_ID]...\n" at P; the end of the line
 * in *P. */
static bool parse_image(struct store_imgsum *s, const char **p, const char *end)
{
	char key[CN_DIGEST_STR_SIZE], sep;
	struct store_imgsum_image img = { 0 };
	_cleanup_free_ char (*diff_ids)[CN_DIGEST_STR_SIZE] = NULL;
	uint64_t created, n;
	if (!take_hex(p, end, ' ', key) || !take_hex(p, end, ' ', img.manifest) || !take_hex(p, end, ' ', img.id) ||
	    !take_num(p, end, &created, &sep) || sep != ' ' || !take_num(p, end, &n, &sep) ||
	    n > STORE_IMGSUM_MAX_LAYERS || (n == 0) != (sep == '\n') || json_object_get(s->img_at, key))
		return false;
	if (n)
		diff_ids = cn_xcalloc(n, sizeof(*diff_ids));
	for (uint64_t i = 0; i < n; i++)
		if (!take_hex(p, end, i + 1 < n ? ' ' : '\n', diff_ids[i]))
			return false;
	img.created = (long long)created;
	img.nlayers = (size_t)n;
	img.diff_ids = diff_ids;
	add_image(s, key, &img);
	return true;
}

/* "DIFF_ID BYTES\n" at P. */
static bool parse_size(struct store_imgsum *s, const char **p, const char *end)
{
	char diff_id[CN_DIGEST_STR_SIZE], sep;
	uint64_t bytes;
	if (!take_hex(p, end, ' ', diff_id) || !take_num(p, end, &bytes, &sep) || sep != '\n' ||
	    json_object_get(s->size_at, diff_id))
		return false;
	add_size(s, diff_id, bytes);
	return true;
}

/* "DIGEST SIZE INODE MTIME_NS\n" at P. */
static bool parse_blob(struct store_imgsum *s, const char **p, const char *end)
{
	char digest[CN_DIGEST_STR_SIZE], sep1, sep2, sep3;
	struct store_imgsum_stat st;
	if (!take_hex(p, end, ' ', digest) || !take_num_max(p, end, 19, &st.size, &sep1) || sep1 != ' ' ||
	    !take_num_max(p, end, 19, &st.ino, &sep2) || sep2 != ' ' ||
	    !take_num_max(p, end, 19, &st.mtime_ns, &sep3) ||
	    sep3 != '\n' || json_object_get(s->blob_at, digest))
		return false;
	add_blob(s, digest, &st);
	return true;
}

static struct store_imgsum *imgsum_new(const char *platform)
{
	struct store_imgsum *s = cn_xcalloc(1, sizeof(*s));
	snprintf(s->platform, sizeof(s->platform), "%s", platform);
	s->img_at = json_object();
	s->size_at = json_object();
	s->blob_at = json_object();
	if (!s->img_at || !s->size_at || !s->blob_at)
		abort();        /* out of memory, as cn_x* */
	return s;
}

static void imgsum_clear(struct store_imgsum *s)
{
	for (size_t i = 0; i < s->nimg; i++)
		free(s->img[i].diff_ids);
	s->nimg = s->nsizes = s->nblobs = 0;
	json_object_clear(s->img_at);
	json_object_clear(s->size_at);
	json_object_clear(s->blob_at);
}

/* TEXT's records into S: false (S partly filled) when anything is wrong. */
static bool parse(struct store_imgsum *s, const char *text, size_t len)
{
	const char *end = text + len, *p = text, *trailer;
	char want[CN_DIGEST_STR_SIZE], got[CN_DIGEST_STR_SIZE];
	_cleanup_free_ char *magic = cn_xasprintf(MAGIC "%s\n", s->platform);
	size_t mlen = strlen(magic);
	/* The trailer: "end " + 64 hex + "\n", the file's last line. */
	if (len < mlen + 4 + CN_DIGEST_HEX_LEN + 1)
		return false;
	trailer = end - (4 + CN_DIGEST_HEX_LEN + 1);
	if (memcmp(trailer, "end ", 4) != 0 || (trailer > text && trailer[-1] != '\n'))
		return false;
	p = trailer + 4;
	if (!take_hex(&p, end, '\n', want) || p != end)
		return false;
	cn_sha256_oneshot(text, (size_t)(trailer - text), got);
	if (strcmp(want, got) != 0 || memcmp(text, magic, mlen) != 0)
		return false;
	p = text + mlen;
	while (p < trailer) {
		char tag = *p;
		bool ok;
		if (trailer - p < 2 || p[1] != ' ' || s->nimg + s->nsizes + s->nblobs >= MAX_ENTRIES)
			return false;
		p += 2;
		if (tag == 'm')
			ok = parse_image(s, &p, trailer);
		else if (tag == 's')
			ok = parse_size(s, &p, trailer);
		else if (tag == 'b')
			ok = parse_blob(s, &p, trailer);
		else
			ok = false;
		if (!ok)
			return false;
	}
	return p == trailer;
}

struct store_imgsum *store_imgsum_load(int dirfd, const char *name, const char *platform)
{
	struct store_imgsum *s = imgsum_new(platform);
	_cleanup_buf_ cn_buf text;
	cn_err ignored;
	cn_buf_init(&text, STORE_IMGSUM_MAX_BYTES);
	if (cn_read_file_at(dirfd, name, STORE_IMGSUM_MAX_BYTES, &text, &ignored) < 0)
		return s;
	if (!parse(s, text.data, text.len))
		imgsum_clear(s);
	return s;
}

const struct store_imgsum_image *store_imgsum_get(const struct store_imgsum *s, const char *key)
{
	json_t *at = json_object_get(s->img_at, key);
	return at ? &s->img[json_integer_value(at)] : NULL;
}

void store_imgsum_put(struct store_imgsum *s, const char *key, const struct store_imgsum_image *img)
{
	if (!cn_digest_valid(key) || !cn_digest_valid(img->manifest) || !cn_digest_valid(img->id) ||
	    img->nlayers > STORE_IMGSUM_MAX_LAYERS || img->created < 0 ||
	    img->created >= 1000000000000000000LL || json_object_get(s->img_at, key) ||
	    s->nimg + s->nsizes + s->nblobs >= MAX_ENTRIES)
		return;
	for (size_t i = 0; i < img->nlayers; i++)
		if (!cn_digest_valid(img->diff_ids[i]))
			return;
	add_image(s, key, img);
	s->dirty = true;
}

bool store_imgsum_size(const struct store_imgsum *s, const char *diff_id, uint64_t *bytes)
{
	json_t *at = json_object_get(s->size_at, diff_id);
	if (!at)
		return false;
	*bytes = s->sizes[json_integer_value(at)].bytes;
	return true;
}

void store_imgsum_put_size(struct store_imgsum *s, const char *diff_id, uint64_t bytes)
{
	if (!cn_digest_valid(diff_id) || bytes >= 1000000000000000000ULL || json_object_get(s->size_at, diff_id) ||
	    s->nimg + s->nsizes + s->nblobs >= MAX_ENTRIES)
		return;
	add_size(s, diff_id, bytes);
	s->dirty = true;
}

bool store_imgsum_blob(const struct store_imgsum *s, const char *digest, struct store_imgsum_stat *st)
{
	json_t *at = json_object_get(s->blob_at, digest);
	if (!at)
		return false;
	*st = s->blobs[json_integer_value(at)].st;
	return true;
}

void store_imgsum_put_blob(struct store_imgsum *s, const char *digest, const struct store_imgsum_stat *st)
{
	const uint64_t cap = 10000000000000000000ULL;   /* 19 digits: what parse_blob reads back */
	json_t *at = json_object_get(s->blob_at, digest);
	if (!cn_digest_valid(digest) || st->size >= cap || st->ino >= cap || st->mtime_ns >= cap)
		return;
	if (at) {
		struct store_imgsum_stat *old = &s->blobs[json_integer_value(at)].st;
		if (memcmp(old, st, sizeof(*st)) != 0) {
			*old = *st;
			s->dirty = true;
		}
		return;
	}
	if (s->nimg + s->nsizes + s->nblobs >= MAX_ENTRIES)
		return;
	add_blob(s, digest, st);
	s->dirty = true;
}

size_t store_imgsum_count(const struct store_imgsum *s)
{
	return s->nimg + s->nsizes + s->nblobs;
}

/* The file's bytes into B: false when over B's cap. */
static bool format(const struct store_imgsum *s, store_imgsum_keep_fn keep, void *ctx, cn_buf *b)
{
	char sum[CN_DIGEST_STR_SIZE];
	int r = cn_buf_addf(b, MAGIC "%s\n", s->platform);
	for (size_t i = 0; i < s->nimg && r == 0; i++) {
		const struct store_imgsum_image *m = &s->img[i];
		if (keep && !keep(s->keys[i], true, ctx))
			continue;
		r = cn_buf_addf(b, "m %s %s %s %lld %zu", cn_digest_hex(s->keys[i]), cn_digest_hex(m->manifest),
				cn_digest_hex(m->id), m->created, m->nlayers);
		for (size_t j = 0; j < m->nlayers && r == 0; j++)
			r = cn_buf_addf(b, " %s", cn_digest_hex(m->diff_ids[j]));
		if (r == 0)
			r = cn_buf_addc(b, '\n');
	}
	for (size_t i = 0; i < s->nblobs && r == 0; i++) {
		const struct blob_entry *e = &s->blobs[i];
		if (!keep || keep(e->digest, true, ctx))
			r = cn_buf_addf(b, "b %s %llu %llu %llu\n", cn_digest_hex(e->digest),
					(unsigned long long)e->st.size, (unsigned long long)e->st.ino,
					(unsigned long long)e->st.mtime_ns);
	}
	for (size_t i = 0; i < s->nsizes && r == 0; i++)
		if (!keep || keep(s->sizes[i].diff_id, false, ctx))
			r = cn_buf_addf(b, "s %s %llu\n", cn_digest_hex(s->sizes[i].diff_id),
					(unsigned long long)s->sizes[i].bytes);
	if (r < 0)
		return false;
	cn_sha256_oneshot(b->data, b->len, sum);
	return cn_buf_addf(b, "end %s\n", cn_digest_hex(sum)) == 0;
}

int store_imgsum_save(struct store_imgsum *s, int dirfd, const char *name, store_imgsum_keep_fn keep,
		      void *ctx, cn_err *err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_buf_ cn_buf b;
	_cleanup_close_ int fd = -1;
	cn_buf_init(&b, STORE_IMGSUM_MAX_BYTES);
	if (!s->dirty)
		return 0;
	if (!format(s, keep, ctx, &b))
		return cn_err_fail(err, CN_ERR_TOO_BIG, "image summary: over %zu bytes", STORE_IMGSUM_MAX_BYTES);
	/* A dot temp: prune removes one a crash left (store_remove_dot_temps). */
	tmp = cn_xasprintf(".%s.tmp-%d", name, (int)getpid());
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || cn_write_all(fd, b.data, b.len) < 0 || renameat(dirfd, tmp, dirfd, name) < 0) {
		cn_err_sys(err, "write image summary");
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	s->dirty = false;
	return 0;
}

void store_imgsum_touch(struct store_imgsum *s)
{
	s->dirty = true;
}

void store_imgsum_free(struct store_imgsum *s)
{
	if (!s)
		return;
	imgsum_clear(s);
	free(s->img);
	free(s->keys);
	free(s->sizes);
	free(s->blobs);
	json_decref(s->blob_at);
	json_decref(s->img_at);
	json_decref(s->size_at);
	free(s);
}
