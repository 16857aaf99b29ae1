/* docker's default capabilities and masked / read-only paths: the set the
 * sandbox applies is docker's, and a bundle's config.json asks runc for
 * exactly the same (one table, sandbox/defaults.c, behind both). */
#include "archive/imgarchive.h"
#include "sandbox/defaults.h"
#include "util/cleanup.h"
#include "unit.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The strings of ARR equal TABLE[0..N), in order. */
static bool same_strings(const json_t *arr, const char *const *table, size_t n)
{
	if (!json_is_array(arr) || json_array_size(arr) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		if (!s || strcmp(s, table[i]))
			return false;
	}
	return true;
}

static bool caps_are_table(const json_t *arr)
{
	const char *names[64];
	for (size_t i = 0; i < sb_default_ncaps; i++)
		names[i] = sb_default_caps[i].name;
	return same_strings(arr, names, sb_default_ncaps);
}

static void test_table(void)
{
	uint64_t want = 0;
	bool absolute = true;
	/* docker's 14, by number, independently of the table's spelling. */
	static const int docker[] = { CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL,
				      CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_NET_BIND_SERVICE,
				      CAP_NET_RAW, CAP_SYS_CHROOT, CAP_MKNOD, CAP_AUDIT_WRITE,
				      CAP_SETFCAP };
	for (size_t i = 0; i < CN_ARRAY_SIZE(docker); i++)
		want |= 1ULL << docker[i];
	UNIT_CHECK(sb_default_ncaps == 14, "docker keeps 14 capabilities");
	UNIT_CHECK(sb_default_caps_mask() == want, "the mask is docker's set (0x%llx)",
		   (unsigned long long)sb_default_caps_mask());
	UNIT_CHECK(want == 0xa80425fbULL, "docker's set is the mask cairn always used");
	for (size_t i = 0; i < sb_nmasked_paths; i++)
		absolute &= sb_masked_paths[i][0] == '/' && sb_masked_paths[i][1];
	for (size_t i = 0; i < sb_nreadonly_paths; i++)
		absolute &= sb_readonly_paths[i][0] == '/' && sb_readonly_paths[i][1];
	UNIT_CHECK(absolute, "every masked and read-only path is absolute (the sandbox strips the '/')");
}

static void test_bundle_agrees(void)
{
	char dir[] = "/tmp/cairn-defaults-XXXXXX";
	struct store_image img = { 0 };
	json_t *cfg, *caps;
	cn_err err;
	int root;

	root = unit_tmpdir(dir);
	img.config = json_pack("{s:{s:[s]}}", "config", "Cmd", "/bin/true");
	cfg = arc_bundle_config(&img, root, "h", &err);
	UNIT_CHECK(cfg != NULL, "a bundle's config.json for a plain image");
	if (cfg) {
		caps = json_object_get(json_object_get(cfg, "process"), "capabilities");
		UNIT_CHECK(caps_are_table(json_object_get(caps, "bounding")) &&
			   caps_are_table(json_object_get(caps, "effective")) &&
			   caps_are_table(json_object_get(caps, "permitted")),
			   "config.json's capabilities are the sandbox's, in docker's order");
		UNIT_CHECK(same_strings(json_object_get(json_object_get(cfg, "linux"), "maskedPaths"),
					sb_masked_paths, sb_nmasked_paths),
			   "config.json's maskedPaths are the sandbox's");
		UNIT_CHECK(same_strings(json_object_get(json_object_get(cfg, "linux"), "readonlyPaths"),
					sb_readonly_paths, sb_nreadonly_paths),
			   "config.json's readonlyPaths are the sandbox's");
	}
	json_decref(cfg);
	json_decref(img.config);
	close(root);
	rmdir(dir);
}

int main(void)
{
	test_table();
	test_bundle_agrees();
	return UNIT_DONE();
}
