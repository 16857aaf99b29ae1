/* container/health: the check a container gets (docker's merge of run's
 * flags over the image's config.Healthcheck), --health-cmd's forms, and
 * util/duration's Go durations. */
#include "container/health.h"
#include "util/cleanup.h"
#include "util/duration.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static char *test_text(const struct ctr_health_conf *c)
{
	json_t *j = ctr_health_conf_json(c);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

static void resolve(const char *image, const struct ctr_health_flags *f, const char *want, const char *what)
{
	json_t *cfg = image ? json_loads(image, 0, NULL) : NULL;
	struct ctr_health_conf c;
	cn_err err;
	char *got;
	if (ctr_health_resolve(cfg, f, &c, &err) < 0) {
		UNIT_STREQ(err.msg, want, "%s (error)", what);
	} else {
		got = test_text(&c);
		UNIT_STREQ(got, want, "%s", what);
		free(got);
	}
	ctr_health_conf_free(&c);
	json_decref(cfg);
}

static void parse_cmd(const char *s, const char *want)
{
	cn_strv t = { 0 };
	cn_err err;
	if (ctr_health_parse_cmd(s, &t, &err) < 0) {
		UNIT_CHECK(want == NULL, "--health-cmd %s is refused (%s)", s, err.msg);
	} else {
		char buf[256] = "";
		for (size_t i = 0; i < t.n; i++)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? "|" : "", t.v[i]);
		UNIT_STREQ(buf, want ? want : "(refused)", "--health-cmd %s", s);
	}
	cn_strv_free(&t);
}

int main(void)
{
	const char *img = "{\"config\": {\"Healthcheck\": {\"Test\": [\"CMD-SHELL\", \"pg_isready\"],"
			  " \"Interval\": 2000000000, \"Retries\": 5}}}";
	long long ns = 0;

	UNIT_CHECK(cn_duration_parse("1m30s", &ns) == 0 && ns == 90000000000LL, "1m30s");
	UNIT_CHECK(cn_duration_parse("500ms", &ns) == 0 && ns == 500000000LL, "500ms");
	UNIT_CHECK(cn_duration_parse("1.5s", &ns) == 0 && ns == 1500000000LL, "1.5s");
	UNIT_CHECK(cn_duration_parse("0", &ns) == 0 && ns == 0, "0");
	UNIT_CHECK(cn_duration_parse("5", &ns) < 0, "a number without a unit is refused");
	UNIT_CHECK(cn_duration_parse("-1s", &ns) < 0, "a negative duration is refused");
	UNIT_CHECK(cn_duration_parse("", &ns) < 0, "an empty duration is refused");
	{
		/* Go's time.ParseDuration grammar, nothing strtod would add. */
		static const struct { const char *s; long long ns; } ok[] = {
			{ "+5s", 5000000000LL }, { "-0", 0 }, { "-0s", 0 }, { ".5s", 500000000LL },
			{ "5.s", 5000000000LL }, { "1h2m3.5s", 3723500000000LL }, { "1\xc2\xb5s", 1000 },
			{ "1\xce\xbcs", 1000 }, { "3us", 3000 }, { "7ns", 7 }, { "0.000000001s", 1 },
			{ "9223372036854775807ns", 9223372036854775807LL }, { "1.0000000000000000000001s", 1000000000LL },
		};
		static const char *const bad[] = {
			"nans", "nan", "infs", "inf", " 5s", "5s ", "1e3s", "0x10s", "5", "s", ".s", ".", "+",
			"-", "-5s", "5sm", "5S", "1.5.5s", "--5s", "9223372036854775808ns", "2562048h",
			"99999999999999999999s", "5s\t", "0.5", "00",
		};
		for (size_t i = 0; i < CN_ARRAY_SIZE(ok); i++) {
			ns = -1;
			UNIT_CHECK(cn_duration_parse(ok[i].s, &ns) == 0 && ns == ok[i].ns, "duration '%s' is %lld (got %lld)",
				   ok[i].s, ok[i].ns, ns);
		}
		for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++)
			UNIT_CHECK(cn_duration_parse(bad[i], &ns) < 0, "duration '%s' is refused", bad[i]);
	}

	parse_cmd("curl -f http://localhost/", "CMD-SHELL|curl -f http://localhost/");
	parse_cmd("[\"CMD\", \"pg_isready\", \"-U\", \"x\"]", "CMD|pg_isready|-U|x");
	parse_cmd("[\"CMD-SHELL\", \"exit 0\"]", "CMD-SHELL|exit 0");
	parse_cmd("[\"NONE\"]", "NONE");
	parse_cmd("[\"sh\", \"-c\", \"x\"]", NULL);
	parse_cmd("[\"CMD\"]", NULL);
	parse_cmd("[1, 2]", "CMD-SHELL|[1, 2]");        /* not strings: a shell command */
	parse_cmd("[not json", "CMD-SHELL|[not json");

	resolve(img, &(struct ctr_health_flags){ .cmd = NULL },
		"{\"Test\":[\"CMD-SHELL\",\"pg_isready\"],\"Interval\":2000000000,\"Retries\":5}",
		"no flags: the image's check");
	resolve(img, &(struct ctr_health_flags){ .interval_ns = 100000000 },
		"{\"Test\":[\"CMD-SHELL\",\"pg_isready\"],\"Interval\":100000000,\"Retries\":5}",
		"--health-interval replaces the image's interval only");
	resolve(img, &(struct ctr_health_flags){ .cmd = "true", .retries = 1 },
		"{\"Test\":[\"CMD-SHELL\",\"true\"],\"Interval\":2000000000,\"Retries\":1}",
		"--health-cmd and --health-retries over the image's");
	resolve(img, &(struct ctr_health_flags){ .none = true }, "{\"Test\":[]}", "--no-healthcheck: none");
	resolve(img, &(struct ctr_health_flags){ .cmd = "[\"NONE\"]" }, "{\"Test\":[]}", "[\"NONE\"]: none");
	resolve("{\"config\": {\"Healthcheck\": {\"Test\": [\"NONE\"]}}}", &(struct ctr_health_flags){ .cmd = NULL },
		"{\"Test\":[]}", "HEALTHCHECK NONE: none");
	resolve("{\"config\": {}}", &(struct ctr_health_flags){ .timeout_ns = 1000000000 }, "{\"Test\":[]}",
		"durations without any test: none");
	resolve(NULL, &(struct ctr_health_flags){ .cmd = "true" }, "{\"Test\":[\"CMD-SHELL\",\"true\"]}",
		"no image config: the flags alone");
	resolve("{\"config\": {\"Healthcheck\": {\"Test\": [\"BOGUS\", \"x\"]}}}", &(struct ctr_health_flags){ .cmd = NULL },
		"the health check's test starts with 'BOGUS': expected CMD with a command, CMD-SHELL with "
		"one string, or NONE", "an unknown test type is an error");
	resolve("{\"config\": {\"Healthcheck\": {\"Test\": \"x\"}}}", &(struct ctr_health_flags){ .cmd = NULL },
		"the image's config: Healthcheck: not an object with a Test list", "a Test that is no list");
	return UNIT_DONE();
}
