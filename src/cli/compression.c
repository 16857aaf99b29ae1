#include "cli/cli.h"
#include "cli/compression.h"
#include "util/conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_compression_default(enum layer_compression *out)
{
	struct cn_conf conf;
	const char *v, *where = NULL;
	cn_err err;
	int rc = 0;
	*out = LAYER_GZIP;
	if (cn_conf_load(&conf, &err) < 0) {
		cn_conf_free(&conf);
		return cli_fail(&err);
	}
	v = cn_conf_get(&conf, "compression", &where);
	if (v && layer_compression_parse(v, out) < 0) {
		cn_err_fail(&err, CN_ERR_INVALID, "%s: compression '%s' is not zstd or gzip", where, v);
		rc = cli_fail(&err);
	}
	cn_conf_free(&conf);
	return rc;
}

int cli_compression_format_parse(const char *s, enum layer_compression *out)
{
	if (!strcmp(s, "none") || !strcmp(s, "tar") || !strcmp(s, "uncompressed")) {
		*out = LAYER_NONE;
		return 0;
	}
	return layer_compression_parse(s, out);
}

int cli_compression_level_parse(const char *cmd, const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 1 || v > LAYER_ZSTD_LEVEL_MAX) {
		cli_usage_error(cmd, "--compression-level: '%s' is not a level (gzip 1-9, zstd 1-22)", s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int cli_compression_level_check(const char *cmd, enum layer_compression c, int level)
{
	if (layer_level_check(c, level) == 0)
		return 0;
	if (c == LAYER_NONE)
		cli_usage_error(cmd, "--compression-level: an uncompressed tar has no level");
	else
		cli_usage_error(cmd, "--compression-level %d: %s takes 1-%d", level, layer_compression_name(c),
				c == LAYER_GZIP ? LAYER_GZIP_LEVEL_MAX : LAYER_ZSTD_LEVEL_MAX);
	return -1;
}

void cli_compression_report(const struct xfer_convert_stats *s, enum layer_compression c, bool quiet)
{
	if (quiet || (!s->converted && !s->reused))
		return;
	fprintf(stderr, "layers as %s: %u converted (%llu -> %llu bytes), %u converted before\n",
		c == LAYER_NONE ? "uncompressed tar" : layer_compression_name(c), s->converted, (unsigned long long)s->bytes_in,
		(unsigned long long)s->bytes_out, s->reused);
}
