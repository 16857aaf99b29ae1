/* docker's run flags as the sandbox takes them: capability names and sets,
 * --ulimit values, volume names. */
#include "container/volume.h"
#include "sandbox/defaults.h"
#include "sandbox/options.h"
#include "unit.h"

#include <linux/capability.h>
#include <sys/resource.h>

static void test_caps(void)
{
	cn_strv add = { 0 }, drop = { 0 };
	uint64_t caps = 0, have = sb_caps_available();
	cn_err err;
	UNIT_CHECK(sb_cap_parse("NET_RAW") == CAP_NET_RAW, "a name without CAP_");
	UNIT_CHECK(sb_cap_parse("cap_sys_admin") == CAP_SYS_ADMIN, "CAP_ in any case");
	UNIT_CHECK(sb_cap_parse("all") == SB_CAP_ALL, "ALL");
	UNIT_CHECK(sb_cap_parse("NOPE") < 0 && sb_cap_parse("") < 0, "unknown names");
	UNIT_STREQ(sb_cap_name(CAP_CHOWN), "CAP_CHOWN", "the name of 0");
	UNIT_CHECK(sb_cap_name(64) == NULL, "no name past the table");

	UNIT_CHECK(sb_caps_compute(&add, &drop, &caps, &err) == 0 && caps == sb_default_caps_mask(),
		   "nothing given: docker's defaults");
	cn_strv_pushdup(&drop, "NET_RAW");
	UNIT_CHECK(sb_caps_compute(&add, &drop, &caps, &err) == 0 &&
		   caps == (sb_default_caps_mask() & ~(1ULL << CAP_NET_RAW)), "a drop");
	cn_strv_pushdup(&add, "NET_RAW");
	UNIT_CHECK(sb_caps_compute(&add, &drop, &caps, &err) == 0 && caps == sb_default_caps_mask(),
		   "added and dropped: the add wins (docker)");
	cn_strv_free(&add);
	cn_strv_free(&drop);
	cn_strv_pushdup(&drop, "ALL");
	cn_strv_pushdup(&add, "CHOWN");
	UNIT_CHECK(sb_caps_compute(&add, &drop, &caps, &err) == 0 && caps == 1, "ALL dropped: the adds alone");
	cn_strv_free(&add);
	cn_strv_free(&drop);
	cn_strv_pushdup(&add, "ALL");
	cn_strv_pushdup(&drop, "CHOWN");
	UNIT_CHECK(sb_caps_compute(&add, &drop, &caps, &err) == 0 && caps == (have & ~1ULL),
		   "ALL added: what cairn holds, minus the drops");
	cn_strv_free(&add);
	cn_strv_free(&drop);
	if (!(have & (1ULL << CAP_SYS_RESOURCE))) {
		cn_strv_pushdup(&add, "SYS_RESOURCE");
		UNIT_CHECK(sb_caps_compute(&add, &drop, &caps, &err) < 0 && strstr(err.msg, "CAP_SYS_RESOURCE"),
			   "adding a capability cairn lacks is an error naming it");
		cn_strv_free(&add);
	}
}

static void test_ulimit(void)
{
	struct sb_rlimit l;
	cn_err err;
	UNIT_CHECK(sb_ulimit_parse("nofile=512:1024", &l, &err) == 0 && l.resource == RLIMIT_NOFILE &&
		   l.soft == 512 && l.hard == 1024, "nofile=SOFT:HARD");
	UNIT_STREQ(l.name, "nofile", "the name kept");
	UNIT_CHECK(sb_ulimit_parse("core=0", &l, &err) == 0 && l.soft == 0 && l.hard == 0, "HARD defaults to SOFT");
	UNIT_CHECK(sb_ulimit_parse("nproc=-1:unlimited", &l, &err) == 0 && l.soft == RLIM_INFINITY &&
		   l.hard == RLIM_INFINITY, "-1 and unlimited");
	UNIT_CHECK(sb_ulimit_parse("nofile=abc", &l, &err) < 0, "not a number");
	UNIT_CHECK(sb_ulimit_parse("nofile=10:5", &l, &err) < 0, "soft above hard");
	UNIT_CHECK(sb_ulimit_parse("bogus=1", &l, &err) < 0 && strstr(err.msg, "bogus"), "unknown name");
	UNIT_CHECK(sb_ulimit_parse("nofile", &l, &err) < 0, "no value");
	UNIT_CHECK(sb_ulimit_parse("nofile=1:", &l, &err) < 0, "empty hard");
}

/* exec gives its process the limits run's had: all 16, as getrlimit says. */
static void test_rlimits_own(void)
{
	struct sb_rlimit own[SB_RLIMITS_MAX];
	struct rlimit nofile;
	size_t n = sb_rlimits_own(own);
	bool found = false;
	UNIT_CHECK(n == SB_RLIMITS_MAX, "every limit --ulimit names");
	getrlimit(RLIMIT_NOFILE, &nofile);
	for (size_t i = 0; i < n; i++)
		if (own[i].resource == RLIMIT_NOFILE)
			found = own[i].base && own[i].soft == nofile.rlim_cur && own[i].hard == nofile.rlim_max &&
				!strcmp(own[i].name, "nofile");
	UNIT_CHECK(found, "nofile: this process's, marked base");
}

static void test_volume_names(void)
{
	UNIT_CHECK(ctr_volume_name_ok("vol1") && ctr_volume_name_ok("a_b.c-d"), "docker's names");
	UNIT_CHECK(!ctr_volume_name_ok("a") && !ctr_volume_name_ok(""), "at least two characters");
	UNIT_CHECK(!ctr_volume_name_ok("a/b") && !ctr_volume_name_ok("..") && !ctr_volume_name_ok("_x"),
		   "no slash, dots or leading punctuation");
}

int main(void)
{
	test_caps();
	test_ulimit();
	test_rlimits_own();
	test_volume_names();
	return UNIT_DONE();
}
