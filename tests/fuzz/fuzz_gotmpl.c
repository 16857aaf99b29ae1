/* Templates (util/gotmpl.c): --format and inspect -f text is typed by
 * users and pasted from the web. Input: TEMPLATE NUL [JSON data]; without
 * valid JSON a fixed image-like object is the data. The same text is also
 * run as a docker --format spec (table, json, \t) over two rows. */
#include "fuzz.h"

#include "util/gotmpl.h"

static const char fixed[] =
	"{\"Id\":\"sha256:ab\",\"Size\":12,\"Ok\":true,\"N\":null,\"Tags\":[\"a:1\",\"b:2\"],"
	"\"Config\":{\"Cmd\":[\"sh\"],\"Labels\":{\"k\":\"v\"}},\"F\":1.5}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_part(&data, &size);
	char *json = fuzz_str(data, size);
	json_t *v = json_loads(json, JSON_DECODE_ANY, NULL), *h;
	struct cn_tmpl *t;
	struct cn_fmt f;
	cn_buf out;
	cn_err err;
	if (!v)
		v = json_loads(fixed, 0, NULL);
	cn_buf_init(&out, 0);
	t = cn_tmpl_parse("fuzz", text, &err);
	if (t) {
		int r = cn_tmpl_exec(t, v, &out, &err);
		fuzz_debug("exec", r, &err);
		cn_tmpl_free(t);
	} else {
		fuzz_debug("parse", -1, &err);
	}
	cn_buf_free(&out);
	h = json_pack("{s:s}", "Id", "IMAGE ID");
	if (cn_fmt_init(&f, "fuzz", text, h, &err) == 0) {
		if (f.kind != CN_FMT_DEFAULT && cn_fmt_row(&f, v, &err) == 0)
			(void)cn_fmt_row(&f, v, &err);
		free(cn_fmt_finish(&f));
	}
	cn_fmt_free(&f);
	json_decref(h);
	json_decref(v);
	free(json);
	free(text);
	return 0;
}
