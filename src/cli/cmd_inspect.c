/* cairn inspect: docker's shape for an image (Id = the config digest,
 * RepoTags, RepoDigests, Created, Config, RootFS, Architecture, Os,
 * Size...) plus cairn's own keys (Name, Digest = the manifest digest,
 * ConfigDigest, Manifest); a detached container when no image has the
 * name. -f/--format evaluates a Go template against each object. */
#include "cli/cli.h"
#include "container/container.h"
#include "container/health.h"
#include "store/images.h"
#include "util/cleanup.h"
#include "util/labels.h"
#include "util/mem.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* docker's Config keys an image always shows, with their empty values. */
static json_t *docker_config(json_t *oci)
{
	static const char *const strings[] = { "Hostname", "Domainname", "User", "Image", "WorkingDir" };
	static const char *const nulls[] = { "Env", "Cmd", "Volumes", "Entrypoint", "OnBuild", "Labels" };
	json_t *c = json_is_object(oci) ? json_deep_copy(oci) : json_object();
	for (size_t i = 0; i < CN_ARRAY_SIZE(strings); i++)
		if (!json_object_get(c, strings[i]))
			json_object_set_new(c, strings[i], json_string(""));
	for (size_t i = 0; i < CN_ARRAY_SIZE(nulls); i++)
		if (!json_object_get(c, nulls[i]))
			json_object_set_new(c, nulls[i], json_null());
	return c;
}

static json_t *image_json(struct store *st, const struct store_image_list *l, const char *name,
			  const struct store_image *img)
{
	json_t *cfg = img->config, *tags = json_array(), *digests = json_array(), *o;
	json_t *diff_ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	const char *created = json_string_value(json_object_get(cfg, "created"));
	const char *author = json_string_value(json_object_get(cfg, "author"));
	for (size_t i = 0; i < l->n; i++) {
		const struct store_image_entry *e = &l->v[i];
		const char *colon, *slash;
		if (e->kind != STORE_IMAGE_TAGGED || !e->ref || strcmp(e->id, img->config_digest) != 0)
			continue;
		json_array_append_new(tags, json_string(e->ref));
		/* podman's RepoDigests: each repository with the manifest it holds */
		colon = strrchr(e->ref, ':');
		slash = strrchr(e->ref, '/');
		if (colon && (!slash || colon > slash)) {
			_cleanup_free_ char *d = cn_xasprintf("%.*s@%s", (int)(colon - e->ref), e->ref,
							      e->manifest);
			bool seen = false;
			size_t k;
			json_t *x;
			json_array_foreach(digests, k, x)
				seen = seen || !strcmp(json_string_value(x), d);
			if (!seen)
				json_array_append_new(digests, json_string(d));
		}
	}
	o = json_pack("{s:s, s:o, s:o, s:s, s:s, s:s, s:s, s:o, s:s, s:s}", "Id", img->config_digest,
		      "RepoTags", tags, "RepoDigests", digests, "Parent", "", "Comment", "", "Created",
		      created ? created : "", "Author", author ? author : "", "Config",
		      docker_config(json_object_get(cfg, "config")), "Architecture",
		      json_string_value(json_object_get(cfg, "architecture")) ?: "", "Os",
		      json_string_value(json_object_get(cfg, "os")) ?: "");
	if (!o)
		return NULL;
	if (json_is_string(json_object_get(cfg, "variant")))
		json_object_set(o, "Variant", json_object_get(cfg, "variant"));
	json_object_set_new(o, "Size", json_integer((json_int_t)store_image_size(st, img)));
	json_object_set_new(o, "RootFS", json_pack("{s:s, s:O}", "Type", "layers", "Layers",
						   json_is_array(diff_ids) ? diff_ids : json_array()));
	/* cairn's own: what `inspect` showed before docker's shape. */
	json_object_set_new(o, "Name", json_string(name));
	json_object_set_new(o, "Digest", json_string(img->manifest_digest));
	json_object_set_new(o, "ConfigDigest", json_string(img->config_digest));
	json_object_set(o, "Manifest", img->manifest);
	return o;
}

static json_t *container_json(struct store *st, const struct ctr_state *s)
{
	static const char *const status[] = { [CTR_CREATED] = "created", [CTR_RUNNING] = "running",
					      [CTR_EXITED] = "exited" };
	enum ctr_status eff = ctr_effective_status(s);
	char created[40], started[40], finished[40];
	json_t *args = json_array(), *cmd = json_array(), *o;
	struct store_image img;
	cn_err ignored;
	const char *image_id = "";
	for (size_t i = 0; i < s->command.n; i++) {
		json_array_append_new(cmd, json_string(s->command.v[i]));
		if (i)
			json_array_append_new(args, json_string(s->command.v[i]));
	}
	bool have_img = store_image_load_manifest(st, s->image_digest, &img, &ignored) == 1;
	if (have_img)
		image_id = img.config_digest;
	cli_time_rfc3339(s->created, created, sizeof(created));
	cli_time_rfc3339(s->started, started, sizeof(started));
	cli_time_rfc3339(s->finished, finished, sizeof(finished));
	o = json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:b, s:b, s:i, s:b, s:i, s:s, s:s}, s:s, s:s, s:{s:s, s:o},"
		      " s:{s:b}}",
		      "Id", s->id, "Created", created, "Path", s->command.n ? s->command.v[0] : "", "Args", args,
		      "State", "Status", status[eff], "Running", eff == CTR_RUNNING, "Paused", 0, "Pid",
		      eff == CTR_RUNNING ? (int)s->init_pid : 0, "OOMKilled", s->oom_killed, "ExitCode",
		      s->exit_code, "StartedAt", started, "FinishedAt", finished, "Image", image_id, "Name",
		      s->name ? s->name : "", "Config", "Image", s->image ? s->image : "", "Cmd", cmd,
		      "HostConfig", "Init", s->init_reaper);
	if (o && s->name) {
		/* docker's Name has a leading slash */
		_cleanup_free_ char *n = cn_xasprintf("/%s", s->name);
		json_object_set_new(o, "Name", json_string(n));
	}
	if (o) {
		/* labels and the health check (cairn run --label, --health-*) */
		json_t *state = json_object_get(o, "State");
		json_t *config = json_object_get(o, "Config");
		json_object_set_new(config, "Labels", cn_labels_json(&s->labels));
		if (s->healthcheck.test.n) {
			json_object_set_new(config, "Healthcheck", ctr_health_conf_json(&s->healthcheck));
			json_object_set_new(state, "Health", ctr_health_json(s));
		}
	}
	if (have_img)
		store_image_free(&img);
	return o;
}

int cmd_inspect(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "type", required_argument, NULL, 't' },
		{ "size", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_image_list l = { 0 };
	const char *format = NULL, *type = NULL;
	struct cn_fmt fmt;
	struct store st;
	json_t *out;
	cn_err err;
	int c, rc = 0;
	while ((c = getopt_long(argc, argv, "f:sh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': format = optarg; break;
		case 't': type = optarg; break;
		case 's': break;        /* Size is always there */
		case 'h':
			printf("usage: cairn inspect [-f TEMPLATE] [--type image|container] NAME...\n"
			       "       cairn image inspect ...\n\n"
			       "Print a JSON array with each image in docker's shape (Id: the config\n"
			       "digest, RepoTags, RepoDigests, Created, Config, RootFS.Layers, Architecture,\n"
			       "Os, Size) plus cairn's Name, Digest (the manifest digest), ConfigDigest and\n"
			       "Manifest. A NAME that is no image but a detached container shows the\n"
			       "container (Id, State, Image, Config...).\n"
			       "  -f, --format T   a Go template evaluated for each object ('{{.Config.Cmd}}',\n"
			       "                   '{{json .RootFS.Layers}}', '{{index .Config.Labels \"k\"}}');\n"
			       "                   'json': the JSON array (the default)\n"
			       "      --type T     only images or only containers\n"
			       "  -s, --size       accepted for docker's sake (Size is always shown)\n");
			return 0;
		default:
			return cli_usage_error("inspect", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("inspect", "expected at least one image");
	if (type && strcmp(type, "image") && strcmp(type, "container"))
		return cli_usage_error("inspect", "--type: '%s' is not image or container", type);
	if (format && !strcmp(format, "json"))
		format = NULL;
	if (cli_format_init(&fmt, "inspect", format, NULL) < 0)
		return EXIT_USAGE;
	if (fmt.kind == CN_FMT_TABLE) {
		cn_fmt_free(&fmt);
		return cli_usage_error("inspect", "--format: a table is not an inspect format");
	}
	if (cli_open_store(cli, &st) < 0) {
		cn_fmt_free(&fmt);
		return EXIT_FAIL;
	}
	if (store_images_list(&st, false, &l, &err) < 0) {
		rc = cli_fail(&err);
		goto out_store;
	}
	out = json_array();
	for (int i = optind; i < argc; i++) {
		struct store_image img;
		struct ctr_state ctr;
		json_t *o = NULL;
		int r = 0;
		if (!type || !strcmp(type, "image")) {
			r = store_image_load(&st, argv[i], &img, &err);
			if (r < 0) {
				rc = cli_fail(&err);
				continue;
			}
			if (r == 1) {
				o = image_json(&st, &l, argv[i], &img);
				store_image_free(&img);
			}
		}
		if (r == 0 && (!type || !strcmp(type, "container"))) {
			memset(&ctr, 0, sizeof(ctr));
			r = ctr_lookup(&st, argv[i], &ctr, &err);
			if (r < 0) {
				rc = cli_fail(&err);
				continue;
			}
			if (r == 1) {
				o = container_json(&st, &ctr);
				ctr_state_free(&ctr);
			}
		}
		if (r == 0) {
			fprintf(stderr, "error: %s '%s' not found\n", type ? type : "image", cli_esc(argv[i]));
			rc = EXIT_FAIL;
			continue;
		}
		if (!o)
			continue;
		if (fmt.kind == CN_FMT_DEFAULT)
			json_array_append_new(out, o);
		else if (cli_format_row(&fmt, o) < 0)
			rc = EXIT_FAIL;
	}
	if (fmt.kind != CN_FMT_DEFAULT) {
		cli_format_print(&fmt);
	} else if (json_array_size(out) > 0 || rc == 0) {
		_cleanup_free_ char *text = json_dumps(out, JSON_INDENT(4) | JSON_ENSURE_ASCII);     /* no raw C1 controls */
		if (text)
			printf("%s\n", text);
	}
	json_decref(out);
	store_images_list_free(&l);
out_store:
	store_close(&st);
	cn_fmt_free(&fmt);
	return rc;
}
