/* cairn network create|ls|rm|inspect|prune: named networks (net/netdef.h). */
#include "cli/cli.h"
#include "net/netdef.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/rootless.h"
#include "util/strv.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char network_usage[] =
	"usage: cairn network COMMAND [OPTIONS]\n"
	"\n"
	"Networks for 'cairn run --network NAME': a bridge with a private subnet and\n"
	"outbound NAT. Members reach each other by name (container name, hostname,\n"
	"--network-alias) through an /etc/hosts kept current; other networks cannot\n"
	"reach them. The bridge (cn- and 8 hex digits of the id) and its nftables\n"
	"rules (table inet cairn) are made when the first container joins and removed\n"
	"with the network. Root only.\n"
	"\n"
	"Commands:\n"
	"  create [--subnet CIDR] [--internal] [--label K=V]... NAME\n"
	"                     create a network (default subnet: the first free /24 of\n"
	"                     " NET_DEF_POOL " that overlaps no route of the host);\n"
	"                     --internal: no traffic out of the network; prints the id\n"
	"  ls [-q] [--filter label=K[=V]]...\n"
	"                     list the networks (-q: ids only)\n"
	"  rm NAME...         remove networks (refused while containers use them)\n"
	"  inspect NAME...    show networks as JSON (docker's shape), with their members\n"
	"  prune [-f]         remove every network no container uses\n"
	"\n"
	"Options:\n"
	"  -h, --help         show this help\n";

#define usage_error(...) cli_usage_error("network", __VA_ARGS__)

static int network_create(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "subnet", required_argument, NULL, 's' },
		{ "internal", no_argument, NULL, 'i' },
		{ "label", required_argument, NULL, 'l' },
		{ "driver", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_strv_ cn_strv labels = { 0 };
	const char *subnet = NULL;
	bool internal = false;
	struct net_def d;
	struct store st;
	char created[64];
	cn_err err;
	int c, r;
	while ((c = getopt_long(argc, argv, "+d:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': subnet = optarg; break;
		case 'i': internal = true; break;
		case 'l': cn_strv_pushdup(&labels, optarg); break;
		case 'd':
			if (strcmp(optarg, "bridge"))
				return usage_error("--driver '%s': only bridge is supported", optarg);
			break;
		case 'h': fputs(network_usage, stdout); return 0;
		default: return usage_error("invalid option");
		}
	}
	if (optind + 1 != argc)
		return usage_error("network create takes one NAME");
	if (cn_rootless())
		return usage_error("created networks need root (a bridge and nftables rules); rootless "
				   "cairn runs containers on the host's network (--network host)");
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	cli_time_rfc3339((long long)time(NULL), created, sizeof(created));
	r = net_def_create(st.root, argv[optind], subnet, internal, &labels, created, &d, &err);
	store_close(&st);
	if (r < 0)
		return cli_fail(&err);
	printf("%s\n", d.id);
	net_def_free(&d);
	return 0;
}

static int network_ls(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "filter", required_argument, NULL, 'f' },
		{ "no-trunc", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_strv_ cn_strv filters = { 0 }, warnings = { 0 };
	bool quiet = false, full = false;
	struct net_def *list;
	struct store st;
	size_t n;
	cn_err err;
	int c;
	while ((c = getopt_long(argc, argv, "+qf:h", opts, NULL)) != -1) {
		switch (c) {
		case 'q': quiet = true; break;
		case 'N': full = true; break;
		case 'f':
			if (strncmp(optarg, "label=", 6) && strncmp(optarg, "name=", 5))
				return usage_error("--filter '%s': only label=K[=V] and name=NAME are supported", optarg);
			cn_strv_pushdup(&filters, optarg);
			break;
		case 'h': fputs(network_usage, stdout); return 0;
		default: return usage_error("invalid option");
		}
	}
	if (optind != argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	if (net_def_list(st.root, &list, &n, &warnings, &err) < 0) {
		store_close(&st);
		return cli_fail(&err);
	}
	store_close(&st);
	for (size_t i = 0; i < warnings.n; i++)
		fprintf(stderr, "warning: %s\n", cli_esc(warnings.v[i]));
	if (!quiet)
		printf("%-14s %-24s %-8s %-18s %s\n", "NETWORK ID", "NAME", "DRIVER", "SUBNET", "SCOPE");
	for (size_t i = 0; i < n; i++) {
		char net[INET_ADDRSTRLEN], cidr[32];
		bool shown = true;
		/* docker: every filter must match (label= ones all, name= substrings). */
		for (size_t k = 0; k < filters.n && shown; k++)
			shown = !strncmp(filters.v[k], "label=", 6) ? net_def_has_label(&list[i], filters.v[k] + 6)
								    : strstr(list[i].name, filters.v[k] + 5) != NULL;
		if (!shown)
			continue;
		if (quiet) {
			printf("%.*s\n", full ? 64 : 12, list[i].id);
			continue;
		}
		net_ip_str(list[i].conf.subnet, net);
		snprintf(cidr, sizeof(cidr), "%s/%u", net, list[i].conf.prefix);
		printf("%-14.*s %-24s %-8s %-18s %s\n", full ? 64 : 12, list[i].id, cli_esc(list[i].name), "bridge",
		       cidr, "local");
	}
	net_def_list_free(list, n);
	return 0;
}

/* rm and inspect: one network per argument. */
static int network_each(struct cli *cli, int argc, char **argv, bool remove)
{
	json_t *all = json_array();
	struct store st;
	cn_err err;
	int rc = 0;
	int first = argc > 1 && !strcmp(argv[1], "--") ? 2 : 1;
	if (first == 1 && argc > 1 && argv[1][0] == '-' && strcmp(argv[1], "--help") && strcmp(argv[1], "-h")) {
		json_decref(all);
		return usage_error("network %s: unknown option '%s'", remove ? "rm" : "inspect", argv[1]);
	}
	if (argc < first + 1 || (first == 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))) {
		json_decref(all);
		if (first == 1 && argc >= 2) {
			fputs(network_usage, stdout);
			return 0;
		}
		return usage_error("network %s needs a NAME", remove ? "rm" : "inspect");
	}
	if (cli_open_store(cli, &st) < 0) {
		json_decref(all);
		return EXIT_FAIL;
	}
	for (int i = first; i < argc; i++) {
		struct net_def d;
		int r = net_def_load(st.root, argv[i], &d, &err);
		if (r < 0 && remove && err.kind == CN_ERR_CORRUPT) {
			/* Nothing of a damaged file is trusted: only the file goes. */
			cn_err why = err;
			r = net_def_forget_damaged(st.root, argv[i], &err);
			if (r > 0) {
				fprintf(stderr, "warning: %s: removed the file only (its bridge and rules, if "
					"any, are left as they are)\n", cli_esc(why.msg));
				printf("%s\n", cli_esc(argv[i]));
				continue;
			}
			if (r == 0)
				err = why;
			r = -1;
		}
		if (r <= 0) {
			if (r == 0)
				fprintf(stderr, "error: network %s not found\n", cli_esc(argv[i]));
			else
				cli_fail(&err);
			rc = EXIT_FAIL;
			continue;
		}
		if (!remove)
			json_array_append_new(all, net_def_json(&d));
		else if (net_def_remove(st.root, &d, &err) < 0)
			rc = cli_fail(&err);
		else
			printf("%s\n", cli_esc(argv[i]));
		net_def_free(&d);
	}
	store_close(&st);
	if (!remove) {
		_cleanup_free_ char *text = json_dumps(all, JSON_INDENT(4) | JSON_ENSURE_ASCII);
		if (text)
			printf("%s\n", text);
	}
	json_decref(all);
	return rc;
}

static int network_prune(struct cli *cli, int argc, char **argv)
{
	_cleanup_strv_ cn_strv warnings = { 0 };
	struct net_def *list;
	struct store st;
	size_t n;
	cn_err err;
	bool header = false;
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(network_usage, stdout);
			return 0;
		}
		if (strcmp(argv[i], "-f") && strcmp(argv[i], "--force"))
			return usage_error("unexpected argument '%s'", argv[i]);
	}
	if (cli_open_store(cli, &st) < 0)
		return EXIT_FAIL;
	if (net_def_list(st.root, &list, &n, &warnings, &err) < 0) {
		store_close(&st);
		return cli_fail(&err);
	}
	for (size_t i = 0; i < warnings.n; i++)
		fprintf(stderr, "warning: %s\n", cli_esc(warnings.v[i]));
	for (size_t i = 0; i < n; i++) {
		/* In use: kept, silently (docker's prune); any other failure
		 * is the command's. */
		if (net_def_remove(st.root, &list[i], &err) < 0) {
			if (err.kind != CN_ERR_BUSY)
				rc = cli_fail(&err);
			continue;
		}
		if (!header)
			printf("Deleted Networks:\n");
		header = true;
		printf("%s\n", cli_esc(list[i].name));
	}
	net_def_list_free(list, n);
	store_close(&st);
	return rc;
}

int cmd_network(struct cli *cli, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	if (!sub) {
		fputs(network_usage, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		fputs(network_usage, stdout);
		return 0;
	}
	if (!strcmp(sub, "create"))
		return network_create(cli, argc - 1, argv + 1);
	if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		return network_ls(cli, argc - 1, argv + 1);
	if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
		return network_each(cli, argc - 1, argv + 1, true);
	if (!strcmp(sub, "inspect"))
		return network_each(cli, argc - 1, argv + 1, false);
	if (!strcmp(sub, "prune"))
		return network_prune(cli, argc - 1, argv + 1);
	return usage_error("unknown command 'network %s'", sub);
}
