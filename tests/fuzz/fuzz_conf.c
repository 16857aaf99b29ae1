/* cairn's configuration file (util/conf.c): any bytes as a file's text.
 * A parse either fails with a message naming the file or yields known keys
 * with values and a "FILE:LINE" each. */
#include "fuzz.h"

#include "util/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cn_conf c = { 0 };
	cn_err err;
	int r = cn_conf_parse(&c, "cairn.conf", (const char *)data, size, &err);
	fuzz_debug("conf", r, &err);
	if (r < 0 && strncmp(err.msg, "cairn.conf", 10) != 0)
		abort();
	for (size_t i = 0; r == 0 && i < c.n; i++)
		if (!c.v[i].value || strncmp(c.v[i].where, "cairn.conf:", 11) != 0 ||
		    cn_conf_get(&c, c.v[i].key, NULL) != c.v[i].value)
			abort();
	cn_conf_free(&c);
	return 0;
}
