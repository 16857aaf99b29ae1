#include "cli/layer_limit.h"
#include "cli/cli.h"
#include "sandbox/cgroup.h"
#include "transfer/import.h"

#include <stdlib.h>
#include <string.h>

int cli_max_layer_size(const char *cmd, const char *flag)
{
	const char *v = flag ? flag : getenv("CAIRN_MAX_LAYER_SIZE");
	unsigned long long bytes;
	if (!v || !*v)
		return 0;
	if (sb_parse_memory(v, &bytes) < 0)
		return cli_usage_error(cmd, "%s: '%s' is not a size (expected e.g. 512m, 2g)",
				       flag ? "--max-layer-size" : "CAIRN_MAX_LAYER_SIZE", v);
	xfer_set_max_layer_size(bytes);
	return 0;
}

int cli_take_max_layer_size(const char *cmd, int *argc, char **argv, const char **value)
{
	static const char opt[] = "--max-layer-size";
	int out = 1;
	*value = NULL;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strncmp(a, opt, sizeof(opt) - 1) && a[sizeof(opt) - 1] == '=') {
			*value = a + sizeof(opt);
		} else if (!strcmp(a, opt)) {
			if (i + 1 >= *argc)
				return cli_usage_error(cmd, "%s needs a SIZE", opt);
			*value = argv[++i];
		} else {
			argv[out++] = argv[i];
		}
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}
