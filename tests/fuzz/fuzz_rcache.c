/* The shared build cache (src/rcache): any bytes as a cache document, and
 * their first line as a --cache-to and a --cache-from value. A document
 * that parses serializes to bytes that parse again to the same bytes, and
 * every lookup finds what the document holds; a value either parses into
 * a spec with a name or fails with CN_ERR_INVALID. */
#include "fuzz.h"

#include "rcache/doc.h"
#include "rcache/spec.h"

static void check_doc(const struct rc_doc *d)
{
	for (size_t i = 0; i < d->nrecords; i++) {
		const struct rc_record *r = &d->records[i];
		if (rc_doc_find(d, r->key) != r || !rc_doc_state(d, r->state))
			abort();
	}
	for (size_t i = 0; i < d->nstates; i++)
		for (size_t j = 0; j < d->states[i].nlayers; j++)
			if (!rc_doc_layer(d, d->states[i].layers[j].digest))
				abort();
}

static void fuzz_doc(const uint8_t *data, size_t size)
{
	struct rc_doc d, e;
	cn_err err;
	char *s, *t;
	size_t len, len2;
	int r = rc_doc_parse(data, size, &d, &err);
	fuzz_debug("doc", r, &err);
	if (r < 0)
		return;
	check_doc(&d);
	s = rc_doc_serialize(&d, &len);
	if (rc_doc_parse(s, len, &e, &err) < 0) {
		fprintf(stderr, "a serialized document does not parse: %s\n", err.msg);
		abort();
	}
	t = rc_doc_serialize(&e, &len2);
	if (len != len2 || memcmp(s, t, len) != 0 || e.nrecords != d.nrecords || e.nstates != d.nstates)
		abort();
	/* Bound and filter keep a document that serializes and parses. */
	rc_doc_bound(&e, 1);
	free(t);
	t = rc_doc_serialize(&e, &len2);
	rc_doc_free(&e);
	if (rc_doc_parse(t, len2, &e, &err) < 0)
		abort();
	rc_doc_free(&e);
	free(t);
	free(s);
	rc_doc_free(&d);
}

static void fuzz_spec(const char *value, bool to)
{
	struct rc_spec s;
	cn_err err;
	int r = rc_spec_parse(value, to, &s, &err);
	fuzz_debug(to ? "cache-to" : "cache-from", r, &err);
	if (r < 0) {
		if (err.kind != CN_ERR_INVALID || s.name || s.text)
			abort();
		return;
	}
	if (!s.name || !s.text || strcmp(s.text, value) != 0 || (s.type == RC_REGISTRY && !s.ref) ||
	    (s.type == RC_LOCAL && (!s.dir || !s.tag)) || (s.type == RC_INLINE && !to) || (s.digest && to))
		abort();
	rc_spec_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	char *line = cn_xstrndup((const char *)data, nl ? (size_t)(nl - data) : size);
	fuzz_doc(data, size);
	fuzz_spec(line, true);
	fuzz_spec(line, false);
	free(line);
	return 0;
}
