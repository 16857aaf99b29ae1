/* cairn images: docker's listing. IMAGE ID is the config digest, SIZE the
 * unpacked size, CREATED relative, newest first; untagged images that are
 * still stored (earlier values of tags) show as <none>. */
#include "cli/cli.h"
#include "store/images.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct filters {
	cn_strv refs;           /* reference=PATTERN (any may match) */
	cn_strv labels;         /* label=K[=V] (all must match) */
	int dangling;           /* -1 any, 0 tagged only, 1 untagged only */
	long long before, since; /* 0: unset */
};

struct row {
	const struct store_image_entry *e;
	size_t order;
	uint64_t size;
	bool sized;
};

/* "name:tag" split at the tag's colon (a host:port colon comes before a '/'). */
static void split_ref(const char *ref, char *name, size_t nlen, const char **tag)
{
	const char *colon = strrchr(ref, ':');
	const char *slash = strrchr(ref, '/');
	if (!colon || (slash && colon < slash)) {
		snprintf(name, nlen, "%s", ref);
		*tag = "<none>";
		return;
	}
	snprintf(name, nlen, "%.*s", (int)(colon - ref), ref);
	*tag = colon + 1;
}

/* A pattern as docker's reference filter takes it: the familiar name
 * normalized when it is one ("library/busybox" -> "busybox"; with no tag,
 * it matches every tag of the repository), else a glob as given. */
static char *ref_pattern(const char *arg)
{
	const char *slash = strrchr(arg, '/'), *colon = strrchr(arg, ':');
	bool tagged = colon && (!slash || colon > slash);
	cn_err ignored;
	char *norm = strpbrk(arg, "*?[") ? NULL : store_ref_normalize(arg, &ignored);
	if (!norm)
		return cn_xstrdup(arg);
	if (!tagged)
		*strrchr(norm, ':') = '\0';
	return norm;
}

/* docker's reference filter: a glob ('*' stops at '/') over NAME:TAG or NAME. */
static bool ref_matches(const cn_strv *pats, const char *ref)
{
	char name[512];
	const char *tag;
	if (!pats->n)
		return true;
	if (!ref)
		return false;
	split_ref(ref, name, sizeof(name), &tag);
	for (size_t i = 0; i < pats->n; i++)
		if (fnmatch(pats->v[i], ref, FNM_PATHNAME) == 0 || fnmatch(pats->v[i], name, FNM_PATHNAME) == 0)
			return true;
	return false;
}

static bool labels_match(const cn_strv *want, json_t *labels)
{
	for (size_t i = 0; i < want->n; i++) {
		const char *eq = strchr(want->v[i], '=');
		_cleanup_free_ char *k = eq ? cn_xstrndup(want->v[i], (size_t)(eq - want->v[i]))
					    : cn_xstrdup(want->v[i]);
		json_t *v = json_object_get(labels, k);
		if (!v || (eq && (!json_is_string(v) || strcmp(json_string_value(v), eq + 1) != 0)))
			return false;
	}
	return true;
}

/* The creation time of the image IMG names, for before= and since=. */
static int image_time(struct store *st, const char *key, const char *img, long long *out)
{
	struct store_image im;
	cn_err err;
	int r = store_image_load(st, img, &im, &err);
	if (r <= 0) {
		if (r == 0)
			fprintf(stderr, "error: --filter %s: image '%s' not found\n", key, cli_esc(img));
		else
			cli_fail(&err);
		return -1;
	}
	*out = store_parse_created(json_string_value(json_object_get(im.config, "created")));
	store_image_free(&im);
	if (!*out) {
		fprintf(stderr, "error: --filter %s: image '%s' has no creation time\n", key, cli_esc(img));
		return -1;
	}
	return 0;
}

static int parse_filter(struct store *st, const char *f, struct filters *fl)
{
	const char *eq = strchr(f, '=');
	_cleanup_free_ char *key = eq ? cn_xstrndup(f, (size_t)(eq - f)) : NULL;
	const char *val = eq ? eq + 1 : NULL;
	if (!key || !*val)
		goto bad;
	if (!strcmp(key, "reference")) {
		cn_strv_push(&fl->refs, ref_pattern(val));
	} else if (!strcmp(key, "label")) {
		cn_strv_pushdup(&fl->labels, val);
	} else if (!strcmp(key, "dangling")) {
		if (strcmp(val, "true") && strcmp(val, "false") && strcmp(val, "1") && strcmp(val, "0"))
			goto bad;
		fl->dangling = !strcmp(val, "true") || !strcmp(val, "1");
	} else if (!strcmp(key, "before")) {
		return image_time(st, "before", val, &fl->before);
	} else if (!strcmp(key, "since")) {
		return image_time(st, "since", val, &fl->since);
	} else {
		goto bad;
	}
	return 0;
bad:
	cli_usage_error("images", "invalid filter '%s' (reference=PATTERN, dangling=true|false, "
			"label=KEY[=VALUE], before=IMAGE, since=IMAGE)", f);
	return -2;
}

/* Newest first; the store's order among equals. */
static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->e->created != y->e->created)
		return x->e->created < y->e->created ? 1 : -1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Whether E's config has the labels asked for: read only then. */
static bool entry_labels_match(struct store *st, const cn_strv *want, const struct store_image_entry *e)
{
	struct store_image img;
	cn_err ignored;
	bool r = store_image_entry_load(st, e->manifest, &img, &ignored) == 1 &&
		 labels_match(want, json_object_get(json_object_get(img.config, "config"), "Labels"));
	store_image_free(&img);
	return r;
}

static void usage(void)
{
	printf("usage: cairn images [OPTIONS] [REPOSITORY[:TAG]]\n"
	       "       cairn image ls [OPTIONS] [REPOSITORY[:TAG]]\n\n"
	       "List images, newest first. IMAGE ID is the config digest (as docker and podman\n"
	       "show it; any unique prefix of 4 or more digits names the image everywhere),\n"
	       "SIZE the unpacked size of its layers. Untagged images still in the store\n"
	       "(earlier values of a tag, which rollback can return to; 'prune --all' removes\n"
	       "them) show as <none>.\n"
	       "  -a, --all             also list the state after each build step\n"
	       "      --digests         show the manifest digest (DIGEST)\n"
	       "      --format F        a Go template per image ('{{.Repository}}:{{.Tag}}'; fields\n"
	       "                        ID, Repository, Tag, Digest, CreatedSince, CreatedAt, Size),\n"
	       "                        'table TEMPLATE' (with a header row), or 'json' (a line each)\n"
	       "      --no-trunc        show full image ids\n"
	       "  -q, --quiet           print only image ids, each once\n"
	       "  -f, --filter F        reference=PATTERN, dangling=true|false, label=KEY[=VALUE],\n"
	       "                        before=IMAGE, since=IMAGE (repeatable)\n");
}

int cmd_images(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "digests", no_argument, NULL, 'D' },
		{ "no-trunc", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "filter", required_argument, NULL, 'f' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool quiet = false, all = false, digests = false, full = false;
	const char *format = NULL;
	struct cn_fmt fmt = { 0 };
	struct filters fl = { .dangling = -1 };
	struct store_image_list l = { 0 };
	_cleanup_free_ struct row *rows = NULL;
	cn_strv filter_args = { 0 };
	struct cli_table t;
	json_t *printed = json_object();
	size_t nrows = 0;
	long long now = (long long)time(NULL);
	struct store st;
	cn_err err;
	int c, rc = EXIT_FAIL;

	cli_table_init(&t, 0);
	while ((c = getopt_long(argc, argv, "aqf:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'D': digests = true; break;
		case 'n': full = true; break;
		case 'q': quiet = true; break;
		case 'f': cn_strv_pushdup(&filter_args, optarg); break;
		case 'F': format = optarg; break;
		case 'h':
			usage();
			rc = 0;
			goto out_args;
		default:
			rc = cli_usage_error("images", "invalid option");
			goto out_args;
		}
	}
	if (argc - optind > 1) {
		rc = cli_usage_error("images", "unexpected argument '%s'", argv[optind + 1]);
		goto out_args;
	}
	if (!quiet) {
		json_t *headers = json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Containers", "CONTAINERS",
			"CreatedAt", "CREATED AT", "CreatedSince", "CREATED", "Digest", "DIGEST", "ID", "IMAGE ID",
			"Repository", "REPOSITORY", "SharedSize", "SHARED SIZE", "Size", "SIZE", "Tag", "TAG",
			"UniqueSize", "UNIQUE SIZE", "VirtualSize", "VIRTUAL SIZE");
		int r = cli_format_init(&fmt, "images", format, headers);
		json_decref(headers);
		if (r < 0) {
			rc = EXIT_USAGE;
			goto out_args;
		}
	}
	if (cli_open_store(cli, &st) < 0)
		goto out_args;
	for (size_t i = 0; i < filter_args.n; i++) {
		int r = parse_filter(&st, filter_args.v[i], &fl);
		if (r < 0) {
			rc = r == -2 ? EXIT_USAGE : EXIT_FAIL;
			goto out;
		}
	}
	if (optind < argc)
		cn_strv_push(&fl.refs, ref_pattern(argv[optind]));
	if (store_images_list(&st, all, &l, &err) < 0) {
		cli_fail(&err);
		goto out;
	}
	rows = cn_xcalloc(l.n ? l.n : 1, sizeof(*rows));
	for (size_t i = 0; i < l.n; i++) {
		const struct store_image_entry *e = &l.v[i];
		struct row *r = &rows[nrows];
		if (fl.dangling == 1 && e->ref)
			continue;
		if (fl.dangling == 0 && !e->ref)
			continue;
		if (!ref_matches(&fl.refs, e->ref) || (fl.before && (!e->created || e->created >= fl.before)) ||
		    (fl.since && e->created <= fl.since))
			continue;
		memset(r, 0, sizeof(*r));
		r->e = e;
		r->order = i;
		if (!e->unreadable) {
			if (fl.labels.n && !entry_labels_match(&st, &fl.labels, e))
				continue;
			if (!quiet) {
				r->size = store_images_entry_size(&l, e);
				r->sized = true;
			}
		} else if (fl.labels.n) {
			continue;
		}
		nrows++;
	}
	qsort(rows, nrows, sizeof(*rows), row_cmp);
	if (quiet) {
		for (size_t i = 0; i < nrows; i++) {
			const char *id = rows[i].e->id;
			if (!*id || json_object_get(printed, id))
				continue;
			json_object_set_new(printed, id, json_true());
			printf("%.*s\n", full ? CN_DIGEST_STR_SIZE : 12, full ? id : id + 7);
		}
		rc = 0;
		goto out;
	}
	cli_table_free(&t);
	cli_table_init(&t, digests ? 6 : 5);
	if (digests)
		cli_table_add(&t, "REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE");
	else
		cli_table_add(&t, "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
	for (size_t i = 0; i < nrows; i++) {
		const struct store_image_entry *e = rows[i].e;
		char name[512], id[CN_DIGEST_STR_SIZE], created[64], size[32];
		const char *tag = "<none>";
		if (e->ref) {
			split_ref(e->ref, name, sizeof(name), &tag);
			snprintf(name, sizeof(name), "%s", cli_esc(name));
			tag = cli_esc(tag);
		} else {
			snprintf(name, sizeof(name), "<none>");
		}
		if (*e->id)
			snprintf(id, sizeof(id), "%.*s", full ? CN_DIGEST_STR_SIZE : 12, full ? e->id : e->id + 7);
		else
			snprintf(id, sizeof(id), "<unreadable>");
		cli_ago(e->created, now, created, sizeof(created));
		if (rows[i].sized)
			cli_docker_size(rows[i].size, size, sizeof(size));
		else
			snprintf(size, sizeof(size), "(unreadable)");
		if (fmt.kind != CN_FMT_DEFAULT) {
			/* docker's fields, unescaped: the output is escaped as a whole */
			char at[48];
			const char *ref_tag = "<none>";
			char repo[512];
			if (e->ref)
				split_ref(e->ref, repo, sizeof(repo), &ref_tag);
			else
				snprintf(repo, sizeof(repo), "<none>");
			cli_time_docker(e->created, at, sizeof(at));
			if (cli_format_row(&fmt, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
							   "Containers", "N/A", "CreatedAt", at, "CreatedSince",
							   created, "Digest", e->manifest, "ID", id, "Repository",
							   repo, "SharedSize", "N/A", "Size", size, "Tag", ref_tag,
							   "UniqueSize", "N/A", "VirtualSize", size)) < 0)
				goto out;
			continue;
		}
		if (digests)
			cli_table_add(&t, name, tag, e->manifest, id, created, size);
		else
			cli_table_add(&t, name, tag, id, created, size);
	}
	if (fmt.kind != CN_FMT_DEFAULT)
		cli_format_print(&fmt);
	else
		cli_table_print(&t, stdout);
	rc = 0;
out:
	store_images_list_free(&l);
	store_close(&st);
out_args:
	cn_fmt_free(&fmt);
	cli_table_free(&t);
	cn_strv_free(&filter_args);
	cn_strv_free(&fl.refs);
	cn_strv_free(&fl.labels);
	json_decref(printed);
	return rc;
}
