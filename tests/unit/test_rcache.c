/* The shared build cache's pieces (src/rcache): --cache-to/--cache-from
 * values (spec.c) and the cache document (doc.c): a round trip to the same
 * bytes, every tampering refused, merge, bound and filter. */
#include "rcache/doc.h"
#include "rcache/spec.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "unit.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static cn_err err;

/* ---- spec ---- */

static void check_spec_error(const char *value, bool to, const char *want)
{
	struct rc_spec s;
	int r;
	cn_err_clear(&err);
	r = rc_spec_parse(value, to, &s, &err);
	UNIT_CHECK(r < 0 && err.kind == CN_ERR_INVALID && strstr(err.msg, want) && !s.text && !s.name,
		   "%s %s: error with '%s' (got %s)", to ? "--cache-to" : "--cache-from", value, want,
		   r < 0 ? err.msg : "success");
	if (r == 0)
		rc_spec_free(&s);
}

static void test_spec_good(void)
{
	struct rc_spec s;
	int r = rc_spec_parse("reg:5000/team/app:buildcache", true, &s, &err);
	UNIT_CHECK(r == 0 && s.type == RC_REGISTRY && s.mode == RC_MODE_MIN && !s.has_compression &&
		   !s.ignore_error && !s.dir, "a bare value is type=registry,ref=VALUE");
	UNIT_STREQ(s.ref, "reg:5000/team/app:buildcache", "its ref");
	UNIT_STREQ(s.name, "reg:5000/team/app:buildcache", "its name");
	UNIT_STREQ(s.text, "reg:5000/team/app:buildcache", "its text");
	rc_spec_free(&s);

	r = rc_spec_parse("type=registry,ref=localhost:5000/a/b:c,mode=max,compression=gzip,ignore-error=true",
			  true, &s, &err);
	UNIT_CHECK(r == 0 && s.type == RC_REGISTRY && s.mode == RC_MODE_MAX && s.has_compression &&
		   s.compression == LAYER_GZIP && s.ignore_error, "registry with mode, compression, ignore-error");
	UNIT_STREQ(s.ref, "localhost:5000/a/b:c", "registry ref");
	rc_spec_free(&s);

	r = rc_spec_parse("ref=x/y:z,compression=zstd,ignore-error=false", true, &s, &err);
	UNIT_CHECK(r == 0 && s.type == RC_REGISTRY && s.compression == LAYER_ZSTD && !s.ignore_error,
		   "ref= without type= is a registry");
	rc_spec_free(&s);

	r = rc_spec_parse("type=local,dest=/tmp/c", true, &s, &err);
	UNIT_CHECK(r == 0 && s.type == RC_LOCAL && !s.digest, "type=local,dest=");
	UNIT_STREQ(s.dir, "/tmp/c", "local dir");
	UNIT_STREQ(s.tag, "latest", "local tag defaults to latest");
	UNIT_STREQ(s.name, "local:/tmp/c", "local name");
	rc_spec_free(&s);

	r = rc_spec_parse("type=local,src=d,tag=v1.2_x,digest=sha256:"
			  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", false, &s, &err);
	UNIT_CHECK(r == 0 && s.type == RC_LOCAL, "type=local,src=,tag=,digest=");
	UNIT_STREQ(s.tag, "v1.2_x", "local tag");
	UNIT_STREQ(s.digest, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		   "local digest");
	rc_spec_free(&s);

	r = rc_spec_parse("type=inline", true, &s, &err);
	UNIT_CHECK(r == 0 && s.type == RC_INLINE && !s.ref && !s.dir, "type=inline");
	UNIT_STREQ(s.name, "inline", "inline name");
	rc_spec_free(&s);

	r = rc_spec_parse("type=local,dest=\"/a,b\"", true, &s, &err);
	UNIT_CHECK(r == 0, "a quoted value");
	UNIT_STREQ(s.dir, "/a,b", "the quoted value keeps its comma");
	rc_spec_free(&s);
	r = rc_spec_parse("type=local,\"dest=/a,\"\"b\"", true, &s, &err);
	UNIT_CHECK(r == 0, "a quoted field (CSV)");
	UNIT_STREQ(s.dir, "/a,\"b", "a doubled quote inside quotes is a quote");
	rc_spec_free(&s);

	r = rc_spec_parse("type=registry,ref=x/y:z,oci-mediatypes=true,image-manifest=false,compression-level=3,"
			  "force-compression=true", true, &s, &err);
	UNIT_CHECK(r == 0, "buildx attributes without effect are accepted");
	rc_spec_free(&s);
	r = rc_spec_parse("type=registry,ref=x/y:z", false, &s, &err);
	UNIT_CHECK(r == 0 && s.type == RC_REGISTRY, "--cache-from type=registry");
	rc_spec_free(&s);
}

static void test_spec_bad(void)
{
	static const char dig[] = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char buf[256];
	check_spec_error("type=registry,ref=a/b:c,mode=maxx", true, "mode=maxx: mode is min or max");
	check_spec_error("type=gha", true, "type=gha is not supported; use type=registry or type=local");
	check_spec_error("type=s3,ref=x", false, "type=s3 is not supported");
	check_spec_error("type=", true, "type= is empty");
	check_spec_error("type=inline", false, "type=inline is read with --cache-from type=registry,ref=IMAGE");
	check_spec_error("type=inline,mode=max", true, "type=inline supports mode=min only");
	check_spec_error("type=inline,compression=gzip", true, "type=inline uses the image's own layers");
	check_spec_error("type=inline,ref=a/b", true, "ref= does not apply to type=inline");
	check_spec_error("type=registry", true, "type=registry needs ref=IMAGE");
	check_spec_error("type=registry,ref=", true, "type=registry needs ref=IMAGE");
	check_spec_error("type=registry,ref=UPPER/x", true, "ref=UPPER/x: invalid reference");
	check_spec_error("Bad Ref", true, "invalid reference");
	check_spec_error("type=local", true, "type=local needs dest=DIR");
	check_spec_error("type=local", false, "type=local needs src=DIR");
	check_spec_error("type=local,dest=/x", false, "dest= is for --cache-to");
	check_spec_error("type=local,src=/x", true, "src= is for --cache-from (--cache-to takes dest=DIR)");
	check_spec_error("type=local,src=/x,dest=/y", false, "dest= is for --cache-to (--cache-from takes src=DIR)");
	check_spec_error("type=local,dest=", true, "type=local needs dest=DIR");
	snprintf(buf, sizeof(buf), "type=local,dest=/x,digest=%s", dig);
	check_spec_error(buf, true, "digest= is for --cache-from");
	check_spec_error("type=local,src=/x,digest=sha256:00", false, "digest=sha256:00: not a sha256 digest");
	check_spec_error("type=local,src=/x,tag=bad tag", false, "tag=bad tag: not a valid tag");
	check_spec_error("type=local,src=/x,tag=", false, "tag=: not a valid tag");
	check_spec_error("type=registry,ref=a/b:c,dest=/x", true, "dest= does not apply to type=registry");
	check_spec_error("type=registry,ref=a/b:c,compression=estargz", true,
			 "compression=estargz: not supported (compression is gzip or zstd)");
	check_spec_error("type=registry,ref=a/b:c,compression=uncompressed", true, "compression=uncompressed: not "
			 "supported");
	check_spec_error("type=registry,ref=a/b:c,compression=lz4", true, "compression=lz4: compression is gzip "
			 "or zstd");
	check_spec_error("type=registry,ref=a/b:c,ignore-error=yes", true, "ignore-error=yes: ignore-error is "
			 "true or false");
	check_spec_error("type=registry,ref=a/b:c,mode=max", false, "mode= is for --cache-to");
	check_spec_error("type=registry,ref=a/b:c,compression=gzip", false, "compression= is for --cache-to");
	check_spec_error("type=registry,ref=a/b:c,ignore-error=true", false, "ignore-error= is for --cache-to");
	check_spec_error("type=registry,ref=a/b:c,foo=bar", true, "unknown attribute 'foo'");
	check_spec_error("type=gha,scope=x", true, "type=gha is not supported");
	check_spec_error("type=registry,ref=a/b:c,ref=d/e", true, "ref= is given twice");
	check_spec_error("type=registry,ref=a/b:c,", true, "an empty attribute");
	check_spec_error("type=registry,,ref=a/b:c", true, "an empty attribute");
	check_spec_error("type=registry,ref=a/b:c,bogus", true, "'bogus' has no value");
	check_spec_error("type=local,dest=\"/a", true, "a quote (\") is not closed");
	check_spec_error("", true, "an empty value");
	check_spec_error("dest=/x", true, "type= is missing");
}

/* ---- doc: states made with jansson ---- */

struct made {
	char *manifest, *config;
	char digest[CN_DIGEST_STR_SIZE];
};

static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (!s)
		unit_fixture_fail("json_dumps");
	return s;
}

static void fake_digest(const char *what, int a, int b, char out[CN_DIGEST_STR_SIZE])
{
	_cleanup_free_ char *s = cn_xasprintf("%s-%d-%d", what, a, b);
	cn_sha256_oneshot(s, strlen(s), out);
}

/* An image state: NLAYERS layers (blob "blob-SEED-i"), a config with their
 * diff_ids; DIFF_EXTRA more diff_ids than layers when nonzero. */
static struct made make_state(int seed, int nlayers, int diff_extra)
{
	struct made m;
	char d[CN_DIGEST_STR_SIZE], cfgd[CN_DIGEST_STR_SIZE];
	json_t *diff_ids = json_array(), *layers = json_array();
	for (int i = 0; i < nlayers + diff_extra; i++) {
		fake_digest("diff", seed, i, d);
		json_array_append_new(diff_ids, json_string(d));
	}
	for (int i = 0; i < nlayers; i++) {
		fake_digest("blob", seed, i, d);
		json_array_append_new(layers, json_pack("{s:s, s:s, s:i}", "mediaType",
							"application/vnd.oci.image.layer.v1.tar+zstd", "digest", d,
							"size", 100 + i));
	}
	m.config = dump(json_pack("{s:s, s:s, s:{s:s, s:o}, s:{s:s}}", "architecture", "amd64", "os", "linux",
				  "rootfs", "type", "layers", "diff_ids", diff_ids, "config", "Cmd", "sh"));
	cn_sha256_oneshot(m.config, strlen(m.config), cfgd);
	m.manifest = dump(json_pack("{s:i, s:s, s:{s:s, s:s, s:i}, s:o}", "schemaVersion", 2, "mediaType",
				    MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest", cfgd, "size",
				    (int)strlen(m.config), "layers", layers));
	cn_sha256_oneshot(m.manifest, strlen(m.manifest), m.digest);
	return m;
}

static void made_free(struct made *m)
{
	free(m->manifest);
	free(m->config);
}

static int add_made(struct rc_doc *d, const struct made *m)
{
	return rc_doc_add_state(d, m->manifest, strlen(m->manifest), m->config, strlen(m->config), &err);
}

static void key_of(int i, char out[CN_DIGEST_STR_SIZE])
{
	fake_digest("key", i, 0, out);
}

/* A document of NSTATES states (seeds BASE..), and one record per state
 * (key i, stage "s<i%2>", created 1000+i). */
static void make_doc(struct rc_doc *d, int base, int nstates)
{
	char key[CN_DIGEST_STR_SIZE];
	memset(d, 0, sizeof(*d));
	for (int i = 0; i < nstates; i++) {
		struct made m = make_state(base + i, 1 + i % 3, 0);
		char stage[8];
		snprintf(stage, sizeof(stage), "s%d", i % 2);
		key_of(base + i, key);
		if (add_made(d, &m) < 0 || rc_doc_add_record(d, key, m.digest, stage, 1000 + base + i, &err) < 0)
			unit_fixture_fail(err.msg);
		made_free(&m);
	}
}

static void test_doc_round_trip(void)
{
	struct rc_doc d, e;
	size_t len, len2;
	_cleanup_free_ char *s = NULL, *s2 = NULL;
	char key[CN_DIGEST_STR_SIZE];
	make_doc(&d, 0, 6);
	s = rc_doc_serialize(&d, &len);
	UNIT_CHECK(len == strlen(s) && strncmp(s, "{\"records\":[{\"created\":", 23) == 0,
		   "serialize: compact, sorted keys");
	UNIT_CHECK(rc_doc_parse(s, len, &e, &err) == 0, "the serialized document parses (%s)", err.msg);
	s2 = rc_doc_serialize(&e, &len2);
	UNIT_CHECK(len == len2 && memcmp(s, s2, len) == 0, "serialize -> parse -> serialize: the same bytes");
	UNIT_CHECK(e.nrecords == 6 && e.nstates == 6, "6 records, 6 states");
	for (size_t i = 1; i < e.nrecords; i++)
		UNIT_CHECK(strcmp(e.records[i - 1].key, e.records[i].key) < 0, "records sorted by key (%zu)", i);
	key_of(3, key);
	{
		const struct rc_record *r = rc_doc_find(&e, key);
		const struct rc_state *st = r ? rc_doc_state(&e, r->state) : NULL;
		UNIT_CHECK(r && r->created == 1003 && strcmp(r->stage, "s1") == 0, "find a record by key");
		UNIT_CHECK(st && st->nlayers == 1 + 3 % 3 && st->manifest_len == strlen(st->manifest) &&
			   cn_digest_valid(st->config_digest), "its state, with layers");
		UNIT_CHECK(st && rc_doc_layer(&e, st->layers[0].digest) == &st->layers[0],
			   "rc_doc_layer finds a state's layer");
	}
	key_of(99, key);
	UNIT_CHECK(!rc_doc_find(&e, key) && !rc_doc_state(&e, key) && !rc_doc_layer(&e, key),
		   "an unknown key, state, layer: NULL");
	{
		struct store_layer *ls = NULL;
		size_t n = rc_doc_layers(&e, &ls), want = 0;
		for (int i = 0; i < 6; i++)
			want += 1 + i % 3;
		UNIT_CHECK(n == want, "rc_doc_layers: every blob once (%zu, want %zu)", n, want);
		for (size_t i = 1; i < n; i++)
			UNIT_CHECK(strcmp(ls[i - 1].digest, ls[i].digest) < 0, "layers sorted (%zu)", i);
		free(ls);
	}
	/* The same content added in another order: the same bytes. */
	{
		struct rc_doc f = { 0 };
		_cleanup_free_ char *s3 = NULL;
		for (int i = 5; i >= 0; i--) {
			struct made m = make_state(i, 1 + i % 3, 0);
			char stage[8];
			snprintf(stage, sizeof(stage), "s%d", i % 2);
			key_of(i, key);
			if (add_made(&f, &m) < 0 || add_made(&f, &m) < 0 ||
			    rc_doc_add_record(&f, key, m.digest, stage, 1000 + i, &err) < 0)
				unit_fixture_fail(err.msg);
			made_free(&m);
		}
		s3 = rc_doc_serialize(&f, NULL);
		UNIT_CHECK(strcmp(s, s3) == 0 && f.nstates == 6, "another order, a state added twice: the same bytes");
		rc_doc_free(&f);
	}
	rc_doc_free(&d);
	rc_doc_free(&e);
	UNIT_CHECK(rc_doc_parse("{\"version\":1,\"records\":[],\"states\":[]}", 38, &e, &err) == 0 &&
		   e.nrecords == 0, "an empty document");
	free(s2);
	s2 = rc_doc_serialize(&e, NULL);
	UNIT_STREQ(s2, "{\"records\":[],\"states\":[],\"version\":1}", "an empty document serialized");
	rc_doc_free(&e);
}

/* The document of make_doc(.., 0, 3) as JSON, changed by EDIT, must fail
 * to parse with WANT in the message. */
static void check_tamper(const char *what, void (*edit)(json_t *root), const char *want)
{
	struct rc_doc d, e;
	_cleanup_free_ char *s = NULL, *t = NULL;
	json_t *root;
	int r;
	make_doc(&d, 0, 3);
	s = rc_doc_serialize(&d, NULL);
	rc_doc_free(&d);
	root = json_loads(s, 0, NULL);
	edit(root);
	t = dump(root);
	cn_err_clear(&err);
	r = rc_doc_parse(t, strlen(t), &e, &err);
	UNIT_CHECK(r < 0 && strstr(err.msg, want) && e.nrecords == 0 && !e.states,
		   "%s: refused with '%s' (got %s)", what, want, r < 0 ? err.msg : "success");
	if (r == 0)
		rc_doc_free(&e);
}

static json_t *state0(json_t *root)
{
	return json_array_get(json_object_get(root, "states"), 0);
}

static json_t *record0(json_t *root)
{
	return json_array_get(json_object_get(root, "records"), 0);
}

/* State 0's manifest (or config) as JSON, edited, put back as text. */
static void edit_member(json_t *root, const char *name, void (*f)(json_t *))
{
	json_t *j = json_loads(json_string_value(json_object_get(state0(root), name)), 0, NULL);
	_cleanup_free_ char *text = NULL;
	f(j);
	text = dump(j);
	json_object_set_new(state0(root), name, json_string(text));
}

static void ed_state_bytes(json_t *root)
{
	const char *m = json_string_value(json_object_get(state0(root), "manifest"));
	_cleanup_free_ char *t = cn_xasprintf("%s ", m);
	json_object_set_new(state0(root), "manifest", json_string(t));
}

static void ed_unknown_state(json_t *root)
{
	json_object_set_new(record0(root), "state", json_string("sha256:" "0000000000000000000000000000000000000000"
								"000000000000000000000000"));
}

static void ed_config_bytes(json_t *root)
{
	const char *c = json_string_value(json_object_get(state0(root), "config"));
	_cleanup_free_ char *t = cn_xasprintf("%s\n", c);
	json_object_set_new(state0(root), "config", json_string(t));
}

static void f_drop_layer(json_t *m)
{
	json_array_remove(json_object_get(m, "layers"), 0);
}

/* The manifest changed: its digest in the document follows, so only the
 * inner check can refuse it. */
static void fix_digest(json_t *root)
{
	char d[CN_DIGEST_STR_SIZE];
	const char *m = json_string_value(json_object_get(state0(root), "manifest"));
	const char *old = json_string_value(json_object_get(state0(root), "digest"));
	json_t *r;
	size_t i;
	cn_sha256_oneshot(m, strlen(m), d);
	json_array_foreach(json_object_get(root, "records"), i, r)
		if (strcmp(json_string_value(json_object_get(r, "state")), old) == 0)
			json_object_set_new(r, "state", json_string(d));
	json_object_set_new(state0(root), "digest", json_string(d));
}

static void ed_layer_count(json_t *root)
{
	edit_member(root, "manifest", f_drop_layer);
	fix_digest(root);
}

static void f_bad_layer_digest(json_t *m)
{
	json_object_set_new(json_array_get(json_object_get(m, "layers"), 0), "digest", json_string("sha256:xyz"));
}

static void ed_bad_layer_digest(json_t *root)
{
	edit_member(root, "manifest", f_bad_layer_digest);
	fix_digest(root);
}

static void f_bad_media_type(json_t *m)
{
	json_object_set_new(json_array_get(json_object_get(m, "layers"), 0), "mediaType",
			    json_string("application/x-evil"));
}

static void ed_bad_media_type(json_t *root)
{
	edit_member(root, "manifest", f_bad_media_type);
	fix_digest(root);
}

static void f_bad_size(json_t *m)
{
	json_object_set_new(json_array_get(json_object_get(m, "layers"), 0), "size", json_integer(-1));
}

static void ed_bad_size(json_t *root)
{
	edit_member(root, "manifest", f_bad_size);
	fix_digest(root);
}

static void ed_bad_key(json_t *root)
{
	json_object_set_new(record0(root), "key", json_string("sha256:ABC"));
}

static void ed_dup_key(json_t *root)
{
	json_t *recs = json_object_get(root, "records");
	json_array_append_new(recs, json_deep_copy(json_array_get(recs, 0)));
}

static void ed_dup_state(json_t *root)
{
	json_t *st = json_object_get(root, "states");
	json_array_append_new(st, json_deep_copy(json_array_get(st, 0)));
}

static void ed_stage_ctl(json_t *root)
{
	json_object_set_new(record0(root), "stage", json_string("a\tb"));
}

static void ed_stage_long(json_t *root)
{
	char s[300];
	memset(s, 'x', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	json_object_set_new(record0(root), "stage", json_string(s));
}

static void ed_created(json_t *root)
{
	json_object_set_new(record0(root), "created", json_integer(-5));
}

static void ed_created_real(json_t *root)
{
	json_object_set_new(record0(root), "created", json_real(1.5));
}

static void ed_nul(json_t *root)
{
	json_object_set_new(record0(root), "stage", json_stringn("a\0b", 3));
}

static void ed_version(json_t *root)
{
	json_object_set_new(root, "version", json_integer(2));
}

static void ed_no_states(json_t *root)
{
	json_object_del(root, "states");
}

static void test_doc_tamper(void)
{
	struct rc_doc e;
	_cleanup_free_ char *big = NULL;
	check_tamper("a state's bytes changed", ed_state_bytes, "but its manifest's bytes are sha256:");
	check_tamper("a record naming an unknown state", ed_unknown_state, "record 1: state sha256:0000");
	check_tamper("a config's bytes changed", ed_config_bytes, "but the config's bytes are sha256:");
	check_tamper("one layer less than diff_ids", ed_layer_count, " layers but ");
	check_tamper("a bad layer digest", ed_bad_layer_digest, "layer 1: bad digest or media type");
	check_tamper("a foreign layer media type", ed_bad_media_type, "layer 1: bad digest or media type");
	check_tamper("a negative layer size", ed_bad_size, "layer 1: the size is not a byte count");
	check_tamper("a bad key", ed_bad_key, "record 1: the key is not sha256:<64 hex>");
	check_tamper("a key twice", ed_dup_key, "has two records");
	check_tamper("a state twice", ed_dup_state, "appears twice");
	check_tamper("a control character in a stage", ed_stage_ctl, "a control character in the stage name");
	check_tamper("a long stage", ed_stage_long, "longer than 256 bytes");
	check_tamper("a negative created", ed_created, "created is not a non-negative integer");
	check_tamper("a real created", ed_created_real, "created is not a non-negative integer");
	check_tamper("a NUL in a string", ed_nul, "not JSON");
	check_tamper("version 2", ed_version, "version 2 (cairn reads version 1)");
	check_tamper("no states", ed_no_states, "no states array");

	big = cn_xcalloc(RC_DOC_MAX + 2, 1);
	memset(big, ' ', RC_DOC_MAX + 1);
	UNIT_CHECK(rc_doc_parse(big, RC_DOC_MAX + 1, &e, &err) < 0 && err.kind == CN_ERR_TOO_BIG &&
		   strstr(err.msg, "bytes (at most"), "a document over RC_DOC_MAX: %s", err.msg);
	UNIT_CHECK(rc_doc_parse("[1]", 3, &e, &err) < 0 && strstr(err.msg, "not a JSON object"), "an array");
	UNIT_CHECK(rc_doc_parse("{\"version\":1,\"records\":[],\"states\":[]}x", 39, &e, &err) < 0,
		   "trailing bytes");
}

static void test_doc_add_errors(void)
{
	struct rc_doc d = { 0 };
	struct made m = make_state(1, 2, 0), bad = make_state(2, 1, 1);
	char key[CN_DIGEST_STR_SIZE];
	key_of(1, key);
	UNIT_CHECK(add_made(&d, &bad) < 0 && strstr(err.msg, "1 layers but 2 diff_ids"), "add_state: %s", err.msg);
	UNIT_CHECK(rc_doc_add_record(&d, key, m.digest, "s", 1, &err) < 0 && strstr(err.msg, "is not in the "
		   "document"), "add_record before its state: %s", err.msg);
	UNIT_CHECK(add_made(&d, &m) == 0 && d.nstates == 1, "add_state");
	UNIT_CHECK(rc_doc_add_state(&d, m.manifest, strlen(m.manifest), bad.config, strlen(bad.config), &err) < 0 &&
		   err.kind == CN_ERR_CORRUPT, "add_state with another config: %s", err.msg);
	UNIT_CHECK(rc_doc_add_record(&d, "sha256:1", m.digest, "s", 1, &err) < 0, "a bad key: %s", err.msg);
	UNIT_CHECK(rc_doc_add_record(&d, key, m.digest, "", 1, &err) < 0, "an empty stage: %s", err.msg);
	UNIT_CHECK(rc_doc_add_record(&d, key, m.digest, "\xff", 1, &err) < 0 && strstr(err.msg, "UTF-8"),
		   "a stage not UTF-8: %s", err.msg);
	UNIT_CHECK(rc_doc_add_record(&d, key, m.digest, "s", -1, &err) < 0, "a negative time: %s", err.msg);
	UNIT_CHECK(rc_doc_add_record(&d, key, m.digest, "s", 1, &err) == 0 &&
		   rc_doc_add_record(&d, key, m.digest, "t", 2, &err) == 0 && d.nrecords == 1 &&
		   strcmp(d.records[0].stage, "t") == 0 && d.records[0].created == 2, "add_record replaces");
	rc_doc_free(&d);
	made_free(&m);
	made_free(&bad);
}

static void test_doc_merge(void)
{
	struct rc_doc d, older;
	char key[CN_DIGEST_STR_SIZE];
	const struct rc_record *r;
	make_doc(&d, 0, 3);             /* keys 0 1 2 */
	make_doc(&older, 2, 3);         /* keys 2 3 4; key 2 with another stage and state below */
	{
		struct made m = make_state(77, 1, 0);
		key_of(2, key);
		if (add_made(&older, &m) < 0 || rc_doc_add_record(&older, key, m.digest, "old", 5, &err) < 0)
			unit_fixture_fail(err.msg);
		made_free(&m);
	}
	UNIT_CHECK(rc_doc_merge(&d, &older, &err) == 0, "merge");
	UNIT_CHECK(d.nrecords == 5, "keys: the union (%zu)", d.nrecords);
	key_of(2, key);
	r = rc_doc_find(&d, key);
	UNIT_CHECK(r && strcmp(r->stage, "s0") == 0 && r->created == 1002, "D's record wins on a conflict");
	key_of(4, key);
	r = rc_doc_find(&d, key);
	UNIT_CHECK(r && rc_doc_state(&d, r->state) && r->created == 1004, "OLDER's records join, with states");
	UNIT_CHECK(d.nstates == 5, "states carried: only the ones records name (%zu)", d.nstates);
	for (size_t i = 1; i < d.nstates; i++)
		UNIT_CHECK(strcmp(d.states[i - 1].digest, d.states[i].digest) < 0, "states sorted (%zu)", i);
	{
		_cleanup_free_ char *s = rc_doc_serialize(&d, NULL);
		struct rc_doc e;
		UNIT_CHECK(rc_doc_parse(s, strlen(s), &e, &err) == 0, "the merged document parses (%s)", err.msg);
		rc_doc_free(&e);
	}
	rc_doc_free(&d);
	rc_doc_free(&older);
}

static void test_doc_bound(void)
{
	struct rc_doc d;
	char key[CN_DIGEST_STR_SIZE];
	make_doc(&d, 0, 8);     /* stage s0: keys 0 2 4 6, s1: 1 3 5 7; created 1000+i */
	/* A tie with key 6's time, on a state of its own. */
	{
		struct made m = make_state(50, 1, 0);
		key_of(50, key);
		if (add_made(&d, &m) < 0 || rc_doc_add_record(&d, key, m.digest, "s0", 1006, &err) < 0)
			unit_fixture_fail(err.msg);
		made_free(&m);
	}
	rc_doc_bound(&d, 2);
	UNIT_CHECK(d.nrecords == 4 && d.nstates == 4, "2 per stage kept (%zu records, %zu states)", d.nrecords,
		   d.nstates);
	key_of(7, key);
	UNIT_CHECK(rc_doc_find(&d, key) != NULL, "the most recent of s1 kept");
	key_of(5, key);
	UNIT_CHECK(rc_doc_find(&d, key) != NULL, "the second of s1 kept");
	key_of(6, key);
	{
		char k50[CN_DIGEST_STR_SIZE];
		key_of(50, k50);
		UNIT_CHECK(rc_doc_find(&d, key) && rc_doc_find(&d, k50), "s0: the two at 1006 (a tie) kept");
	}
	key_of(4, key);
	UNIT_CHECK(!rc_doc_find(&d, key), "an older one dropped");
	for (size_t i = 0; i < d.nstates; i++) {
		bool named = false;
		for (size_t j = 0; j < d.nrecords; j++)
			named |= strcmp(d.records[j].state, d.states[i].digest) == 0;
		UNIT_CHECK(named, "state %zu is named by a record", i);
	}
	rc_doc_bound(&d, 1);
	key_of(7, key);
	{
		char k6[CN_DIGEST_STR_SIZE], k50[CN_DIGEST_STR_SIZE];
		key_of(6, k6);
		key_of(50, k50);
		/* Tie at 1006: the smaller key stays. */
		bool keep6 = strcmp(k6, k50) < 0;
		UNIT_CHECK(d.nrecords == 2 && rc_doc_find(&d, key) &&
			   (rc_doc_find(&d, keep6 ? k6 : k50) != NULL), "ties: by key");
	}
	rc_doc_bound(&d, 0);
	UNIT_CHECK(d.nrecords == 0 && d.nstates == 0, "bound 0: empty");
	rc_doc_free(&d);
}

/* Filter's callback: the blob of state seed 1 is gone. */
static bool keep_layer(void *ctx, const struct store_layer *l)
{
	char gone[CN_DIGEST_STR_SIZE];
	(*(int *)ctx)++;
	fake_digest("blob", 1, 0, gone);
	return strcmp(l->digest, gone) != 0;
}

static void test_doc_filter(void)
{
	struct rc_doc d;
	char key[CN_DIGEST_STR_SIZE];
	int calls = 0;
	make_doc(&d, 0, 4);
	rc_doc_filter(&d, keep_layer, &calls);
	key_of(1, key);
	UNIT_CHECK(d.nrecords == 3 && d.nstates == 3 && !rc_doc_find(&d, key) && calls > 0,
		   "filter: the record whose state lost a layer dropped, and its state");
	rc_doc_free(&d);
}

/* RC_DOC_MAX_RECORDS records: parse, find, serialize in reasonable time (a linear
 * search per lookup would take minutes under the sanitizers). */
static void test_doc_scale(void)
{
	struct rc_doc d = { 0 }, e;
	struct made m = make_state(1, 1, 0);
	json_t *root, *recs = json_array();
	_cleanup_free_ char *s = NULL, *t = NULL;
	char key[CN_DIGEST_STR_SIZE];
	size_t found = 0;
	if (add_made(&d, &m) < 0)
		unit_fixture_fail(err.msg);
	s = rc_doc_serialize(&d, NULL);
	rc_doc_free(&d);
	root = json_loads(s, 0, NULL);
	for (int i = 0; i < RC_DOC_MAX_RECORDS; i++) {
		key_of(i, key);
		json_array_append_new(recs, json_pack("{s:s, s:s, s:s, s:i}", "key", key, "state", m.digest, "stage",
						      i % 2 ? "a" : "b", "created", i));
	}
	json_object_set_new(root, "records", recs);
	t = dump(root);
	cn_err_clear(&err);
	UNIT_CHECK(rc_doc_parse(t, strlen(t), &e, &err) == 0 && e.nrecords == RC_DOC_MAX_RECORDS,
		   "%d records parse (%s)", RC_DOC_MAX_RECORDS, err.msg);
	for (int i = 0; i < RC_DOC_MAX_RECORDS; i++) {
		key_of(i, key);
		found += rc_doc_find(&e, key) != NULL;
	}
	UNIT_CHECK(found == RC_DOC_MAX_RECORDS, "each found");
	key_of(-1, key);
	UNIT_CHECK(rc_doc_add_record(&e, key, m.digest, "a", 1, &err) < 0 && err.kind == CN_ERR_TOO_BIG,
		   "one more record: %s", err.msg);
	rc_doc_bound(&e, 10);
	UNIT_CHECK(e.nrecords == 20 && e.records[0].created >= RC_DOC_MAX_RECORDS - 20, "bound to 10 per stage");
	rc_doc_free(&e);
	made_free(&m);
}

int main(void)
{
	test_spec_good();
	test_spec_bad();
	test_doc_round_trip();
	test_doc_tamper();
	test_doc_add_errors();
	test_doc_merge();
	test_doc_bound();
	test_doc_filter();
	test_doc_scale();
	return UNIT_DONE();
}
