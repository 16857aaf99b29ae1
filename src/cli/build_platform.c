#include "cli/build_platform.h"
#include "cli/cli.h"
#include "util/platform.h"

#include <stdio.h>
#include <string.h>

int cli_build_platform(const char *cmd, const char *arg, const char **out)
{
	struct cn_platform p;
	cn_err err;
	*out = NULL;
	if (!arg)
		return 0;
	if (strchr(arg, ',')) {
		fprintf(stderr, "error: --platform %s: building several platforms into one image index is not "
			"supported yet (build each platform on its own)\n", cli_esc(arg));
		return EXIT_FAIL;
	}
	if (cn_platform_parse(arg, &p, &err) < 0)
		return cli_usage_error(cmd, "--platform: %s", err.msg);
	*out = arg;
	return 0;
}
