/* `load`'s reading of an image archive's documents (archive/load.c): the
 * docker manifest.json or the OCI index.json, with the manifests, configs
 * and layers they lead to. The first byte picks the document: odd,
 * index.json of an OCI layout; even, a docker manifest.json. The rest is
 * its text, in which @M@, @C@, @L@ stand for the digests of a fixed
 * manifest, config and layer (@m@, @c@, @l@ for their hex), so that seeds
 * and mutations can name blobs the archive holds. The harness writes the
 * archive (the document, those blobs under blobs/sha256/, config.json,
 * layer.tar and a symlink to the layer) and loads it into a fresh store in
 * its private temp directory, removed after each run. */
#include "fuzz.h"

#include "archive/imgarchive.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/digest.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/mman.h>

struct blob {
	cn_buf data;
	char digest[CN_DIGEST_STR_SIZE];
};

static struct blob layer, config, manifest;
static char *store_path;

static la_ssize_t buf_write(struct archive *ar, void *ud, const void *p, size_t n)
{
	(void)ar;
	return cn_buf_add(ud, p, n) < 0 ? -1 : (la_ssize_t)n;
}

static void add_entry(struct archive *ar, const char *name, const void *data, size_t n,
		      const char *symlink)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_mode(e, symlink ? (AE_IFLNK | 0777) : (AE_IFREG | 0644));
	archive_entry_set_size(e, symlink ? 0 : (la_int64_t)n);
	if (symlink)
		archive_entry_set_symlink(e, symlink);
	if (archive_write_header(ar, e) != ARCHIVE_OK ||
	    (!symlink && n && archive_write_data(ar, data, n) != (la_ssize_t)n))
		abort();
	archive_entry_free(e);
}

static struct archive *tar_new(void)
{
	struct archive *ar = archive_write_new();
	if (!ar || archive_write_set_format_pax_restricted(ar) != ARCHIVE_OK)
		abort();
	return ar;
}

static void blob_set(struct blob *b, const char *text)
{
	cn_buf_init(&b->data, 0);
	cn_buf_adds(&b->data, text);
	cn_sha256_oneshot(b->data.data, b->data.len, b->digest);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct archive *ar = tar_new();
	char *text;
	(void)argc;
	(void)argv;
	cn_buf_init(&layer.data, 0);
	if (archive_write_open(ar, &layer.data, NULL, buf_write, NULL) != ARCHIVE_OK)
		abort();
	add_entry(ar, "hello", "hi\n", 3, NULL);
	archive_write_close(ar);
	archive_write_free(ar);
	cn_sha256_oneshot(layer.data.data, layer.data.len, layer.digest);

	text = cn_xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
			    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}", layer.digest);
	blob_set(&config, text);
	free(text);
	text = cn_xasprintf("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
			    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
			    "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
			    "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu}]}",
			    config.digest, config.data.len, layer.digest, layer.data.len);
	blob_set(&manifest, text);
	free(text);
	store_path = cn_xasprintf("%s/store", fuzz_tmpdir());
	return 0;
}

/* TEXT with the placeholders replaced. */
static void substitute(const char *text, size_t n, cn_buf *out)
{
	const struct blob *blobs[] = { &manifest, &config, &layer };
	const char *keys = "MCL";
	for (size_t i = 0; i < n; i++) {
		const char *k;
		if (text[i] == '@' && i + 2 < n && text[i + 2] == '@' &&
		    (k = memchr(keys, text[i + 1] & ~0x20, 3))) {
			const char *d = blobs[k - keys]->digest;
			cn_buf_adds(out, (text[i + 1] & 0x20) ? cn_digest_hex(d) : d);
			i += 2;
		} else {
			cn_buf_addc(out, text[i]);
		}
	}
}

static void add_blob(struct archive *ar, const struct blob *b)
{
	char name[128];
	snprintf(name, sizeof(name), "blobs/sha256/%s", cn_digest_hex(b->digest));
	add_entry(ar, name, b->data.data, b->data.len, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arc_load_result res;
	struct store st;
	struct archive *ar;
	cn_buf doc;
	cn_err err;
	bool oci;
	int fd, r;
	char link[128];

	if (size < 1)
		return 0;
	oci = data[0] & 1;
	cn_buf_init(&doc, 0);
	substitute((const char *)data + 1, size - 1, &doc);

	fd = memfd_create("archive", MFD_CLOEXEC);
	ar = tar_new();
	if (fd < 0 || archive_write_open_fd(ar, fd) != ARCHIVE_OK)
		abort();
	if (oci) {
		add_entry(ar, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30, NULL);
		add_entry(ar, "index.json", doc.data, doc.len, NULL);
	} else {
		add_entry(ar, "manifest.json", doc.data, doc.len, NULL);
	}
	add_blob(ar, &layer);
	add_blob(ar, &config);
	add_blob(ar, &manifest);
	add_entry(ar, "config.json", config.data.data, config.data.len, NULL);
	add_entry(ar, "layer.tar", layer.data.data, layer.data.len, NULL);
	snprintf(link, sizeof(link), "blobs/sha256/%s", cn_digest_hex(layer.digest));
	add_entry(ar, "link.tar", NULL, 0, link);
	if (archive_write_close(ar) != ARCHIVE_OK)
		abort();
	archive_write_free(ar);
	cn_buf_free(&doc);
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();

	if (store_open(store_path, &st, &err) < 0)
		abort();
	r = arc_load(&st, fd, "fuzz.tar", "fuzz", &res, &err);
	fuzz_debug("arc_load", r, &err);
	if (r == 0)
		arc_load_result_free(&res);
	store_close(&st);
	close(fd);
	if (cn_rm_rf_at(AT_FDCWD, store_path, &err) < 0)
		abort();
	return 0;
}
