/* Layer compression options: the build default (the configuration file's
 * `compression`, else gzip: docker before 23, umoci, LXC's oci template
 * and skopeo's docker-archive read no zstd) and the --compression-format
 * value of push, save and export. */
#ifndef CLI_COMPRESSION_H
#define CLI_COMPRESSION_H

#include <stdbool.h>

#include "layers/layer.h"
#include "transfer/convert.h"

/* *OUT = the default for builds. On a bad configuration file prints the
 * error (naming FILE:LINE) and returns EXIT_FAIL; 0 otherwise. */
int cli_compression_default(enum layer_compression *out);
/* "gzip" | "zstd" | "none" (or "tar"/"uncompressed"). -1 when unknown. */
int cli_compression_format_parse(const char *s, enum layer_compression *out);
/* What a conversion did, on stderr (nothing when quiet or nothing to say). */
void cli_compression_report(const struct xfer_convert_stats *s, enum layer_compression c, bool quiet);

#define CLI_COMPRESSION_FORMAT_USAGE \
	"      --compression-format FMT\n" \
	"                           convert every layer to FMT: gzip, zstd or none\n" \
	"                           (streamed and remembered: converting the same layer\n" \
	"                           again is free); --compression is the same\n"

#endif
