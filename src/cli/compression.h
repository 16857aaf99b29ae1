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
/* --compression-level's value: an integer from 1 to 22 (the range of the
 * compression is checked by cli_compression_level_check). 0, or -1 with a
 * usage error printed. */
int cli_compression_level_parse(const char *cmd, const char *s, int *out);
/* LEVEL (0: none given) suits C (gzip 1-9, zstd 1-22, none: no level):
 * 0, or -1 with a usage error printed. */
int cli_compression_level_check(const char *cmd, enum layer_compression c, int level);
/* What a conversion did, on stderr (nothing when quiet or nothing to say). */
void cli_compression_report(const struct xfer_convert_stats *s, enum layer_compression c, bool quiet);

#define CLI_COMPRESSION_FORMAT_USAGE \
	"      --compression-format FMT\n" \
	"                           convert every layer to FMT: gzip, zstd or none\n" \
	"                           (streamed and remembered: converting the same layer\n" \
	"                           again is free); --compression is the same\n" \
	"      --compression-level N  for the layers converted: gzip 1-9 (default 6),\n" \
	"                           zstd 1-22 (default 3); needs --compression-format\n"

#endif
