/* --cache-from / --cache-to for cairn build. */
#include "cli/build_cache.h"

#include "cli/cli.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_build_cache_flag(struct cli_build_cache *c, bool to, const char *value)
{
	struct rc_spec **v = to ? &c->to : &c->from;
	size_t *n = to ? &c->nto : &c->nfrom;
	struct rc_spec s;
	cn_err err;
	if (rc_spec_parse(value, to, &s, &err) < 0)
		return cli_usage_error("build", "--cache-%s: %s", to ? "to" : "from", err.msg);
	if (to && s.type == RC_INLINE) {
		c->inline_ = true;
		rc_spec_free(&s);
		return 0;
	}
	*v = cn_xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = s;
	return 0;
}

int cli_build_cache_compression(struct cli_build_cache *c, bool given, enum layer_compression *comp)
{
	for (size_t i = 0; i < c->nto; i++) {
		if (!c->to[i].has_compression)
			continue;
		if (given && c->to[i].compression != *comp)
			return cli_usage_error("build", "--cache-to %s: compression= differs from --compression (a "
					       "cache holds the build's own layers)", c->to[i].text);
		*comp = c->to[i].compression;
		given = true;
	}
	return 0;
}

static void warn_line(void *ctx, const char *line)
{
	(void)ctx;
	fflush(stdout);
	fprintf(stderr, "warning: %s\n", cli_esc(line));
}

void cli_build_cache_prepare(struct cli_build_cache *c, struct store *st, const struct reg_opts *ro,
			     struct bf_build_opts *o)
{
	cn_err err;
	c->ro = *ro;
	c->ro.progress = NULL;          /* transfers happen inside the build's own display */
	c->ro.platform = NULL;
	if ((c->nfrom || c->nto) && reg_global_init(&err) < 0)
		warn_line(NULL, err.msg);
	if (c->nfrom) {
		c->import = rc_import_open(st, c->from, c->nfrom, &c->ro, warn_line, NULL);
		o->cache_from = rc_import_hooks(c->import);
	}
	if (c->nto || c->inline_)
		o->cache_records = &c->records;
	if (c->inline_)
		o->inline_cache = rc_inline_attach;
}

bool cli_build_cache_retry(struct cli_build_cache *c, struct bf_build_opts *o)
{
	cn_err why;
	if (!o->cache_from || !rc_import_failed(c->import, &why))
		return false;
	warn_line(NULL, why.msg);
	fprintf(stderr, "warning: building again without --cache-from\n");
	o->cache_from = NULL;
	c->retried = true;
	bf_cache_records_free(&c->records);
	return true;
}

int cli_build_cache_finish(struct cli_build_cache *c, struct store *st, bool quiet, cn_err *err)
{
	char size[32];
	for (size_t i = 0; i < rc_import_count(c->import); i++) {
		struct rc_import_stat s;
		rc_import_stat(c->import, i, &s);
		if (!s.used || quiet || c->retried)
			continue;       /* after a retry, nothing came from it */
		cli_human_size(s.bytes, size, sizeof(size));
		fflush(stdout);
		fprintf(stderr, "cache import %s: %zu hit%s, %zu layer%s downloaded, %s received\n", cli_esc(s.name), s.hits,
			s.hits == 1 ? "" : "s", s.layers, s.layers == 1 ? "" : "s", size);
	}
	for (size_t i = 0; i < c->nto; i++) {
		struct rc_export_result res;
		cn_err e;
		if (rc_export(st, &c->to[i], &c->records, &c->ro, &res, &e) < 0) {
			if (!c->to[i].ignore_error) {
				*err = e;
				return -1;
			}
			warn_line(NULL, e.msg);
			continue;
		}
		if (quiet)
			continue;
		cli_human_size(res.bytes, size, sizeof(size));
		fflush(stdout);
		fprintf(stderr, "cache export %s: %zu record%s, %zu layer%s, %s uploaded\n", cli_esc(c->to[i].name),
			res.records, res.records == 1 ? "" : "s", res.layers, res.layers == 1 ? "" : "s", size);
	}
	return 0;
}

void cli_build_cache_free(struct cli_build_cache *c)
{
	rc_import_close(c->import);
	for (size_t i = 0; i < c->nfrom; i++)
		rc_spec_free(&c->from[i]);
	for (size_t i = 0; i < c->nto; i++)
		rc_spec_free(&c->to[i]);
	free(c->from);
	free(c->to);
	bf_cache_records_free(&c->records);
	memset(c, 0, sizeof(*c));
}
