/* util/gotmpl: Go-template evaluation as docker's --format and inspect -f
 * use it, and docker's table/json conventions on top. */
#include "util/gotmpl.h"
#include "util/cleanup.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static json_t *data;

static void check(const char *tmpl, const char *want)
{
	cn_err err;
	cn_buf out;
	struct cn_tmpl *t = cn_tmpl_parse("--format", tmpl, &err);
	cn_buf_init(&out, 0);
	if (!t) {
		UNIT_STREQ(err.msg, want, "%.*s (parse)", (int)strcspn(tmpl, "\n"), tmpl);
	} else if (cn_tmpl_exec(t, data, &out, &err) < 0) {
		UNIT_STREQ(err.msg, want, "%s (exec)", tmpl);
	} else {
		UNIT_STREQ(out.data, want, "%s", tmpl);
	}
	cn_tmpl_free(t);
	cn_buf_free(&out);
}

static void check_fmt(const char *spec, const char *want)
{
	struct cn_fmt f;
	cn_err err;
	json_t *headers = json_pack("{s:s, s:s}", "ID", "IMAGE ID", "Repository", "REPOSITORY");
	json_t *rows[2];
	_cleanup_free_ char *got = NULL;
	rows[0] = json_pack("{s:s, s:s, s:s}", "Repository", "busybox", "Tag", "latest", "ID", "0123456789ab");
	rows[1] = json_pack("{s:s, s:s, s:s}", "Repository", "localhost/hello", "Tag", "1", "ID", "ba9876543210");
	if (cn_fmt_init(&f, "--format", spec, headers, &err) < 0) {
		UNIT_STREQ(err.msg, want, "fmt %s (init)", spec);
		goto out;
	}
	for (int i = 0; i < 2; i++)
		if (cn_fmt_row(&f, rows[i], &err) < 0) {
			UNIT_STREQ(err.msg, want, "fmt %s (row)", spec);
			goto out;
		}
	got = cn_fmt_finish(&f);
	UNIT_STREQ(got, want, "fmt %s", spec);
out:
	cn_fmt_free(&f);
	json_decref(rows[0]);
	json_decref(rows[1]);
	json_decref(headers);
}

/* Values built in variables and never printed count against the same cap
 * as the output: 16x per level would reach 256 MiB at the sixth. */
static void check_amplification(void)
{
	cn_buf tmpl, out;
	cn_err err;
	struct cn_tmpl *t;
	cn_buf_init(&tmpl, 0);
	cn_buf_init(&out, 0);
	cn_buf_adds(&tmpl, "{{$v0 := \"0123456789abcdef\"}}");
	for (int level = 1; level <= 6; level++) {
		cn_buf_addf(&tmpl, "{{$v%d := printf \"", level);
		for (int i = 0; i < 16; i++)
			cn_buf_adds(&tmpl, "%s");
		cn_buf_adds(&tmpl, "\"");
		for (int i = 0; i < 16; i++)
			cn_buf_addf(&tmpl, " $v%d", level - 1);
		cn_buf_adds(&tmpl, "}}");
	}
	cn_buf_adds(&tmpl, "{{len $v6}}");
	t = cn_tmpl_parse("--format", tmpl.data, &err);
	UNIT_CHECK(t != NULL, "amplifying template parses");
	if (t) {
		int r = cn_tmpl_exec(t, data, &out, &err);
		UNIT_CHECK(r < 0 && strstr(err.msg, "over 64 MiB"), "amplified values are refused (%s)",
			   r < 0 ? err.msg : out.data);
	}
	cn_tmpl_free(t);
	cn_buf_free(&tmpl);
	cn_buf_free(&out);
}

int main(void)
{
	struct cn_fmt f;
	cn_err err;
	data = json_loads("{\"Id\": \"sha256:abc\", \"Size\": 1234, \"Ok\": true, \"None\": null,"
			  "\"RepoTags\": [\"a:1\", \"b:2\"], \"Empty\": [], \"Items\": [{\"Name\": \"aa\"}, {\"Name\": \"b\"}],"
			  "\"Config\": {\"Cmd\": [\"/bin/sh\", \"-c\", \"echo hi\"], \"User\": \"nobody\","
			  "\"Labels\": {\"b\": \"2\", \"a\": \"x y\", \"org.example/k\": \"v\"}}}",
			  0, NULL);

	check("id={{.Id}}", "id=sha256:abc");
	check("{{.Config.User}} {{.Size}} {{.Ok}}", "nobody 1234 true");
	check("{{.Config.Cmd}}", "[/bin/sh -c echo hi]");
	check("{{.Config.Labels}}", "map[a:x y b:2 org.example/k:v]");
	check("{{.Missing}} {{.None}} {{.Missing.Deeper}}", "<no value> <nil> <no value>");
	check("{{json .Config.Labels}}", "{\"b\":\"2\",\"a\":\"x y\",\"org.example/k\":\"v\"}");
	check("{{json .RepoTags}}|{{json .Size}}|{{json .None}}|{{json .Missing}}", "[\"a:1\",\"b:2\"]|1234|null|null");
	check("{{index .Config.Labels \"org.example/k\"}}", "v");
	check("{{index .RepoTags 1}}", "b:2");
	check("{{(index .Items 1).Name}}|{{len (index .Items 0).Name}}|{{(.Config).User}}", "b|2|nobody");
	check("{{(index .RepoTags 0).Name}}", "--format:1:3: can't evaluate field Name in type string");
	check("{{index .RepoTags 5}}", "--format:1:3: index out of range: 5");
	check("{{join .RepoTags \", \"}}", "a:1, b:2");
	check("{{.Config.Cmd | json}}", "[\"/bin/sh\",\"-c\",\"echo hi\"]");
	check("{{range .RepoTags}}[{{.}}]{{end}}", "[a:1][b:2]");
	check("{{range $i, $t := .RepoTags}}{{$i}}={{$t}} {{end}}", "0=a:1 1=b:2 ");
	check("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "a=x y;b=2;org.example/k=v;");
	check("{{range .Empty}}x{{else}}none{{end}}", "none");
	check("{{if .Ok}}yes{{else}}no{{end}} {{if .Empty}}yes{{else if .Size}}size{{else}}no{{end}}", "yes size");
	check("{{with .Config}}{{.User}}{{end}}", "nobody");
	check("{{$u := .Config.User}}{{upper $u}}{{$.Id}}", "NOBODYsha256:abc");
	check("{{if eq .Config.User \"nobody\"}}n{{end}}{{if ne .Size 1}}s{{end}}{{len .RepoTags}}", "ns2");
	check("a  {{- .Ok -}}  b {{/* a comment */}}c", "atrueb c");
	check("{{printf \"%s:%d%%\" .Config.User .Size}}", "nobody:1234%");
	check("{{truncate .Id 6}}|{{lower \"AB\"}}|{{title \"ab cd\"}}|{{pad \"x\" 1 2}}|", "sha256|ab|Ab Cd| x  |");
	check("{{split \"a,b\" \",\"}}", "[a b]");
	check("{{.Id.Foo}}", "--format:1:3: can't evaluate field Foo in type string");
	check("{{nope .Id}}", "--format:1:3: function \"nope\" not defined");
	check("x\n{{.Id", "--format:2:6: unclosed action (no }})");
	check("{{if .Ok}}x", "--format:1:1: {{if}} without {{end}}");
	check("{{end}}", "--format:1:8: unexpected {{end}}");
	check("{{template \"x\"}}", "--format:1:3: {{template}} is not supported");
	check("{{.Id .Size}}", "--format:1:7: can't give argument to non-function");
	check("{{}}", "--format:1:3: missing value for command");
	check("{{\"a\\qb\"}}", "--format:1:6: unknown escape \\q in a string");
	check("plain text", "plain text");

	check_fmt("{{.Repository}}:{{.Tag}}", "busybox:latest\nlocalhost/hello:1\n");
	check_fmt("table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}",
		  "REPOSITORY        TAG      IMAGE ID\n"
		  "busybox           latest   0123456789ab\n"
		  "localhost/hello   1        ba9876543210\n");
	check_fmt("json", "{\"Repository\":\"busybox\",\"Tag\":\"latest\",\"ID\":\"0123456789ab\"}\n"
		  "{\"Repository\":\"localhost/hello\",\"Tag\":\"1\",\"ID\":\"ba9876543210\"}\n");
	check_fmt("{{json .}}", "{\"Repository\":\"busybox\",\"Tag\":\"latest\",\"ID\":\"0123456789ab\"}\n"
		  "{\"Repository\":\"localhost/hello\",\"Tag\":\"1\",\"ID\":\"ba9876543210\"}\n");
	check_fmt("{{.Tag}}\\n", "latest\n\n1\n\n");
	check_fmt("{{.Tag", "--format:1:7: unclosed action (no }})");
	UNIT_CHECK(cn_fmt_init(&f, "--format", "table", NULL, &err) == 0 && f.kind == CN_FMT_DEFAULT,
		   "\"table\" alone is the command's own table");
	cn_fmt_free(&f);
	UNIT_CHECK(cn_fmt_init(&f, "--format", NULL, NULL, &err) == 0 && f.kind == CN_FMT_DEFAULT,
		   "no --format: the command's own output");
	cn_fmt_free(&f);
	check_amplification();
	json_decref(data);
	/* docker's {{.Label "k"}}: a method through the "Label()" object */
	data = json_loads("{\"Labels\": \"a=1\", \"Label()\": {\"a\": \"1\"}, \"In\": {\"Label()\": {\"b\": \"2\"}}}",
			  0, NULL);
	check("{{.Label \"a\"}}|{{.Label \"zz\"}}|{{.In.Label \"b\"}}", "1||2");
	check("{{.Labels \"a\"}}", "--format:1:11: can't give argument to non-function");
	check("{{.Label 3}}", "--format:1:10: wrong type for value; expected string");
	{
		char *got;
		UNIT_CHECK(cn_fmt_init(&f, "--format", "json", NULL, &err) == 0 &&
			   cn_fmt_row(&f, data, &err) == 0, "json row with a method");
		got = cn_fmt_finish(&f);
		UNIT_STREQ(got, "{\"Labels\":\"a=1\",\"In\":{\"Label()\":{\"b\":\"2\"}}}\n",
			   "json rows leave the top-level methods out");
		free(got);
		cn_fmt_free(&f);
	}
	json_decref(data);
	/* The row's methods in a side table: {{.Label "k"}} works, and the
	 * row's visible fields ({{json .}}, {{range}}) hold no method. */
	{
		json_t *row = json_pack("{s:s}", "Labels", "a=1");
		json_t *methods = json_pack("{s:{s:s}}", "Label", "a", "1");
		const char *const cases[][2] = {
			{ "{{.Label \"a\"}}|{{.Label \"zz\"}}", "1|\n" },
			{ "{{json .}}", "{\"Labels\":\"a=1\"}\n" },
			{ "{{range $k, $v := .}}{{$k}};{{end}}", "Labels;\n" },
			{ "json", "{\"Labels\":\"a=1\"}\n" },
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			char *got;
			UNIT_CHECK(cn_fmt_init(&f, "--format", cases[i][0], NULL, &err) == 0 &&
				   cn_fmt_row_methods(&f, row, methods, &err) == 0, "row with a side table: %s",
				   cases[i][0]);
			got = cn_fmt_finish(&f);
			UNIT_STREQ(got, cases[i][1], "side-table methods: %s", cases[i][0]);
			free(got);
			cn_fmt_free(&f);
		}
		json_decref(row);
		json_decref(methods);
	}
	return UNIT_DONE();
}
