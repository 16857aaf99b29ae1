/* cairn volume create|ls|inspect|rm|prune: docker's volume commands over
 * the named volumes in the store (container/volume.h). */
#include "cli/cli.h"
#include "container/volume.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/labels.h"
#include "util/mem.h"
#include "util/strv.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char volume_usage[] =
	"usage: cairn volume COMMAND\n"
	"\n"
	"Manage named volumes: directories in the store (<store>/volumes/NAME/_data)\n"
	"that 'cairn run -v NAME:/path' mounts, kept until removed.\n"
	"\n"
	"Commands:\n"
	"  create [--label K=V]... [NAME]   make a volume (a random name without\n"
	"                                   NAME); an existing one is left as it is\n"
	"  ls [-q] [-f FILTER]... [--format F]  list volumes (FILTER: label=K[=V],\n"
	"                                   name=TEXT, dangling=true|false)\n"
	"  inspect [-f FORMAT] NAME...      show volumes as JSON (docker's fields)\n"
	"  rm [-f] NAME...                  remove volumes and their data; refused\n"
	"                                   while a container (stopped ones too)\n"
	"                                   references one (-f: a missing one is no\n"
	"                                   error)\n"
	"  prune [-a] [-f] [--filter label=K[=V]]  remove unused anonymous volumes\n"
	"                                   (docker's; cairn has none: nothing); -a:\n"
	"                                   every volume no container references\n"
	"\n"
	"Options:\n"
	"  -h, --help  show this help\n";

#define usage_error(...) cli_usage_error("volume", __VA_ARGS__)

/* label=K[=V], name=TEXT, dangling=BOOL: the same key ORs (labels AND). */
struct vfilter {
	cn_strv labels, names;
	int dangling;           /* -1: any */
};

static void vfilter_free(struct vfilter *f)
{
	cn_strv_free(&f->labels);
	cn_strv_free(&f->names);
}

static int vfilter_add(struct vfilter *f, const char *arg, bool only_label)
{
	const char *eq = strchr(arg, '=');
	size_t k = eq ? (size_t)(eq - arg) : 0;
	if (eq && k == 5 && !strncmp(arg, "label", 5))
		cn_strv_pushdup(&f->labels, eq + 1);
	else if (eq && !only_label && k == 4 && !strncmp(arg, "name", 4))
		cn_strv_pushdup(&f->names, eq + 1);
	else if (eq && !only_label && k == 8 && !strncmp(arg, "dangling", 8) &&
		 (!strcmp(eq + 1, "true") || !strcmp(eq + 1, "false") || !strcmp(eq + 1, "1") ||
		  !strcmp(eq + 1, "0")))
		f->dangling = eq[1] == 't' || eq[1] == '1';
	else
		return usage_error("--filter: invalid filter '%s' (%s)", arg,
				   only_label ? "label=K[=V]" : "label=K[=V], name=TEXT, dangling=true|false");
	return 0;
}

static bool vfilter_match(const struct vfilter *f, const struct ctr_volume *v, bool used)
{
	bool name_ok = !f->names.n;
	if (!cn_labels_match_all(&v->labels, &f->labels))
		return false;
	for (size_t i = 0; i < f->names.n && !name_ok; i++)
		name_ok = strstr(v->name, f->names.v[i]) != NULL;
	return name_ok && (f->dangling < 0 || f->dangling == !used);
}

/* A volume whose cairn.json is damaged: listed, as having no labels. */
static void warn_meta(const struct ctr_volume *v)
{
	if (v->meta_error)
		fprintf(stderr, "warning: volume '%s': %s; taken as having no labels\n", cli_esc(v->name),
			cli_esc(v->meta_error));
}

static json_t *labels_json(const cn_strv *labels)
{
	/* docker's null for a volume made without labels */
	return labels->n ? cn_labels_json(labels) : json_null();
}

static json_t *volume_json(const struct ctr_volume *v)
{
	char at[48];
	cli_time_rfc3339(v->created, at, sizeof(at));
	return json_pack("{s:s, s:s, s:o, s:s, s:s, s:n, s:s}", "CreatedAt", at, "Driver", "local", "Labels",
			 labels_json(&v->labels), "Mountpoint", v->mountpoint, "Name", v->name, "Options",
			 "Scope", "local");
}

static int volume_create(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "label", required_argument, NULL, 'l' }, { "driver", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_strv_ cn_strv labels = { 0 };
	const char *name = NULL;
	char rnd_name[65];
	struct store st;
	cn_err err;
	int c, r;
	while ((c = getopt_long(argc, argv, "+d:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (cn_labels_check(optarg, &err) < 0)
				return usage_error("--label: %s", err.msg);
			cn_labels_set(&labels, optarg);
			break;
		case 'd':
			if (strcmp(optarg, "local"))
				return usage_error("--driver: only 'local' is supported");
			break;
		case 'n': name = optarg; break;
		case 'h': fputs(volume_usage, stdout); return 0;
		default: return usage_error("invalid option");
		}
	}
	if (optind < argc) {
		if (name && strcmp(name, argv[optind]))
			return usage_error("conflicting options: NAME and --name differ");
		name = argv[optind++];
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!name) {
		unsigned char rnd[32];
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			cn_err_sys(&err, "getrandom");
			return cli_fail(&err);
		}
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(rnd_name + 2 * i, 3, "%02x", rnd[i]);
		name = rnd_name;
	}
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	r = ctr_volume_create(&st, name, &labels, &err);
	store_close(&st);
	if (r < 0)
		return cli_fail(&err);
	printf("%s\n", cli_esc(name));
	return 0;
}

static int volume_ls(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' }, { "filter", required_argument, NULL, 'f' },
		{ "format", required_argument, NULL, 'F' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vfilter f __attribute__((cleanup(vfilter_free))) = { .dangling = -1 };
	const char *format = NULL;
	bool quiet = false;
	struct ctr_volume *list;
	struct cli_table t;
	struct cn_fmt fmt;
	struct store st;
	size_t n;
	cn_err err;
	int c, rc = 0;
	while ((c = getopt_long(argc, argv, "+qf:h", opts, NULL)) != -1) {
		switch (c) {
		case 'q': quiet = true; break;
		case 'f':
			if (vfilter_add(&f, optarg, false) != 0)
				return EXIT_USAGE;
			break;
		case 'F': format = optarg; break;
		case 'h': fputs(volume_usage, stdout); return 0;
		default: return usage_error("invalid option");
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	{
		json_t *headers = json_pack("{s:s, s:s, s:s, s:s}", "Driver", "DRIVER", "Name", "VOLUME NAME",
					    "Mountpoint", "MOUNTPOINT", "Labels", "LABELS");
		int r = cli_format_init(&fmt, "volume ls", quiet ? NULL : format, headers);
		json_decref(headers);
		if (r < 0)
			return EXIT_USAGE;
	}
	if (cli_open_store(cli, &st) < 0) {
		cn_fmt_free(&fmt);
		return EXIT_FAIL;
	}
	if (ctr_volume_list(&st, &list, &n, &err) < 0) {
		store_close(&st);
		cn_fmt_free(&fmt);
		return cli_fail(&err);
	}
	cli_table_init(&t, 2);
	cli_table_add(&t, "DRIVER", "VOLUME NAME");
	for (size_t i = 0; i < n && rc == 0; i++) {
		_cleanup_strv_ cn_strv users = { 0 };
		warn_meta(&list[i]);
		if (f.dangling >= 0 && ctr_volume_users(&st, list[i].name, &users, &err) < 0) {
			rc = cli_fail(&err);
			break;
		}
		if (!vfilter_match(&f, &list[i], users.n > 0))
			continue;
		if (quiet) {
			printf("%s\n", cli_esc(list[i].name));
		} else if (fmt.kind != CN_FMT_DEFAULT) {
			_cleanup_free_ char *ltext = cn_labels_text(&list[i].labels);
			json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "Driver", "local", "Name",
						list[i].name, "Mountpoint", list[i].mountpoint, "Labels", ltext,
						"Scope", "local", "Size", "N/A");
			if (cli_format_row_methods(&fmt, row, json_pack("{s:o}", "Label",
									cn_labels_json(&list[i].labels))) < 0)
				rc = EXIT_FAIL;
		} else {
			cli_table_add(&t, "local", cli_esc(list[i].name));
		}
	}
	store_close(&st);
	if (rc == 0 && !quiet) {
		if (fmt.kind != CN_FMT_DEFAULT)
			cli_format_print(&fmt);
		else
			cli_table_print(&t, stdout);
	}
	cli_table_free(&t);
	cn_fmt_free(&fmt);
	ctr_volume_list_free(list, n);
	return rc;
}

static int volume_inspect(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *format = NULL;
	struct store st;
	json_t *out;
	cn_err err;
	int c, rc = 0;
	while ((c = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': format = optarg; break;
		case 'h': fputs(volume_usage, stdout); return 0;
		default: return usage_error("invalid option");
		}
	}
	if (optind >= argc)
		return usage_error("volume inspect needs at least one NAME");
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	out = json_array();
	for (int i = optind; i < argc; i++) {
		struct ctr_volume v;
		int r = ctr_volume_get(&st, argv[i], &v, &err);
		if (r <= 0) {
			if (r == 0)
				fprintf(stderr, "error: no such volume: %s\n", cli_esc(argv[i]));
			else
				cli_fail(&err);
			rc = EXIT_FAIL;
			continue;
		}
		warn_meta(&v);
		json_array_append_new(out, volume_json(&v));
		ctr_volume_free(&v);
	}
	store_close(&st);
	if (format) {
		struct cn_fmt fmt;
		size_t i;
		json_t *v;
		if (cli_format_init(&fmt, "volume inspect", format, NULL) < 0) {
			json_decref(out);
			return EXIT_USAGE;
		}
		json_array_foreach(out, i, v)
			if (cli_format_row(&fmt, json_incref(v)) < 0)
				rc = EXIT_FAIL;
		cli_format_print(&fmt);
		cn_fmt_free(&fmt);
	} else {
		_cleanup_free_ char *text = json_dumps(out, JSON_INDENT(4) | JSON_ENSURE_ASCII);
		if (text)
			cli_print_inert(text, stdout), putchar('\n');
	}
	json_decref(out);
	return rc;
}

static int volume_rm(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool force = false;
	struct store st;
	cn_err err;
	int c, rc = 0;
	while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': force = true; break;
		case 'h': fputs(volume_usage, stdout); return 0;
		default: return usage_error("invalid option");
		}
	}
	if (optind >= argc)
		return usage_error("volume rm needs at least one NAME");
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	for (int i = optind; i < argc; i++) {
		if (ctr_volume_remove(&st, argv[i], &err) < 0) {
			if (force && cn_err_is(&err, CN_ERR_NOT_FOUND))
				continue;
			rc = cli_fail(&err);
			continue;
		}
		printf("%s\n", cli_esc(argv[i]));
	}
	store_close(&st);
	return rc;
}

static int volume_prune(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' }, { "force", no_argument, NULL, 'f' },
		{ "filter", required_argument, NULL, 'F' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vfilter f __attribute__((cleanup(vfilter_free))) = { .dangling = -1 };
	struct ctr_volume *list;
	unsigned long long total = 0;
	struct store st;
	size_t n;
	bool header = false, all = false;
	cn_err err;
	int c, rc = 0;
	while ((c = getopt_long(argc, argv, "+afh", opts, NULL)) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'f': break;
		case 'F':
			if (vfilter_add(&f, optarg, true) != 0)
				return EXIT_USAGE;
			break;
		case 'h': fputs(volume_usage, stdout); return 0;
		default: return usage_error("invalid option");
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	if (ctr_volume_list(&st, &list, &n, &err) < 0) {
		store_close(&st);
		return cli_fail(&err);
	}
	/* docker 23's: without -a only anonymous volumes, which cairn has not. */
	for (size_t i = 0; all && i < n; i++) {
		_cleanup_strv_ cn_strv users = { 0 };
		uint64_t bytes = 0;
		_cleanup_free_ char *rel = cn_xasprintf("volumes/%s", list[i].name);
		warn_meta(&list[i]);
		if (ctr_volume_users(&st, list[i].name, &users, &err) < 0) {
			rc = cli_fail(&err);
			break;
		}
		if (users.n || !vfilter_match(&f, &list[i], false))
			continue;
		if (cn_du_at(st.root_fd, rel, &bytes, &err) < 0)
			bytes = 0;
		if (ctr_volume_remove(&st, list[i].name, &err) < 0) {
			if (!cn_err_is(&err, CN_ERR_BUSY))      /* taken meanwhile: kept */
				rc = cli_fail(&err);
			continue;
		}
		if (!header)
			printf("Deleted Volumes:\n");
		header = true;
		printf("%s\n", cli_esc(list[i].name));
		total += bytes;
	}
	store_close(&st);
	ctr_volume_list_free(list, n);
	{
		char size[32];
		cli_docker_size(total, size, sizeof(size));
		printf("%sTotal reclaimed space: %s\n", header ? "\n" : "", size);
	}
	return rc;
}

int cmd_volume(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct cli *, int, char **);
	} subs[] = {
		{ "create", volume_create }, { "ls", volume_ls }, { "list", volume_ls },
		{ "inspect", volume_inspect }, { "rm", volume_rm }, { "remove", volume_rm },
		{ "prune", volume_prune },
	};
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(volume_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (size_t i = 0; i < CN_ARRAY_SIZE(subs); i++)
		if (!strcmp(argv[1], subs[i].name)) {
			optind = 1;
			return subs[i].run(cli, argc - 1, argv + 1);
		}
	return usage_error("unknown command 'volume %s'", argv[1]);
}
