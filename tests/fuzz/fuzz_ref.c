/* Image references (util/ref.c, registry/ref.c, the store's tag names). */
#include "fuzz.h"

#include "registry/ref.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), *norm;
	struct cn_ref ref;
	cn_err err;
	if (cn_ref_parse(s, &ref, &err) == 0) {
		/* What a parsed reference promises its users. */
		if (!ref.domain || !ref.path || (!ref.tag && !ref.digest) || !reg_ref_api_host(&ref) ||
		    !reg_ref_reference(&ref))
			abort();
		cn_ref_free(&ref);
	}
	norm = store_ref_normalize(s, &err);
	free(norm);
	free(s);
	return 0;
}
