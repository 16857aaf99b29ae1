/* cairn ps: detached containers, as docker ps shows them. */
#include "cli/cli.h"
#include "container/container.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/labels.h"
#include "util/mem.h"

#include <getopt.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char ps_usage[] =
	"usage: cairn ps [-a] [-q] [-n N | -l] [--no-trunc] [-f FILTER]... [--format F]\n"
	"\n"
	"List running containers (started with 'cairn run -d').\n"
	"\n"
	"Options:\n"
	"  -a, --all     exited containers too\n"
	"  -q, --quiet   only the ids\n"
	"  -n, --last N  the N containers created last, in any state\n"
	"  -l, --latest  the container created last (-n 1)\n"
	"      --no-trunc  full ids and commands\n"
	"  -f, --filter F  only containers that match: label=KEY or label=KEY=VALUE (all\n"
	"                given must match), name=RE, id=RE (the name or id, or a\n"
	"                regular expression found in it),\n"
	"                status=created|running|exited (implies -a), health=starting|\n"
	"                healthy|unhealthy|none; a key given twice matches either value\n"
	"      --format F  a Go template per container (fields ID, Image, Command,\n"
	"                CreatedAt, RunningFor, State, Status, Names, Labels; {{.Label\n"
	"                \"KEY\"}} is a label's value), 'table TEMPLATE' or 'json'\n"
	"  -h, --help    show this help\n";

/* docker's wording: "3 seconds", "About a minute", "2 hours". */
void cli_human_duration(long long secs, char *out, size_t len)
{
	if (secs < 1)
		snprintf(out, len, "Less than a second");
	else if (secs == 1)
		snprintf(out, len, "1 second");
	else if (secs < 60)
		snprintf(out, len, "%lld seconds", secs);
	else if (secs < 120)
		snprintf(out, len, "About a minute");
	else if (secs < 3600)
		snprintf(out, len, "%lld minutes", secs / 60);
	else if (secs < 7200)
		snprintf(out, len, "About an hour");
	else if (secs < 48 * 3600)
		snprintf(out, len, "%lld hours", secs / 3600);
	else if (secs < 14 * 86400)
		snprintf(out, len, "%lld days", secs / 86400);
	else if (secs < 60 * 86400)
		snprintf(out, len, "%lld weeks", secs / (7 * 86400));
	else if (secs < 2 * 365 * 86400LL)
		snprintf(out, len, "%lld months", secs / (30 * 86400));
	else
		snprintf(out, len, "%lld years", secs / (365 * 86400LL));
}

void cli_container_status(const struct ctr_state *s, long long now, char *out, size_t len)
{
	char d[64];
	switch (ctr_effective_status(s)) {
	case CTR_CREATED:
		snprintf(out, len, "Created");
		break;
	case CTR_RUNNING:
		cli_human_duration(now - s->started, d, sizeof(d));
		/* docker's: "Up 5 seconds (healthy)", "(health: starting)" */
		if (s->health)
			snprintf(out, len, "Up %s (%s%s)", d, strcmp(s->health, "starting") ? "" : "health: ",
				 s->health);
		else
			snprintf(out, len, "Up %s", d);
		break;
	case CTR_EXITED:
		if (s->status != CTR_EXITED) {
			/* The supervisor was killed: the kernel killed the container
			 * with it, and nobody saw the status. */
			snprintf(out, len, "Exited (unknown: supervisor gone)");
		} else {
			cli_human_duration(now - s->finished, d, sizeof(d));
			snprintf(out, len, "Exited (%d)%s %s ago", s->exit_code, s->oom_killed ? " OOM" : "", d);
		}
		break;
	}
}

/* "sh -c 'sleep 1'" quoted and cut at 20 characters, as docker does. */
static char *command_text(const struct ctr_state *s, bool full)
{
	cn_buf b;
	char *t;
	cn_buf_init(&b, 0);
	cn_buf_addc(&b, '"');
	for (size_t i = 0; i < s->command.n; i++) {
		if (i)
			cn_buf_addc(&b, ' ');
		cn_buf_adds(&b, cli_esc(s->command.v[i]));     /* the image's Cmd: outside text */
	}
	if (b.len > 21 && !full) {
		b.len = 20;
		b.data[b.len] = '\0';
		cn_buf_adds(&b, "\xe2\x80\xa6");    /* … */
	}
	cn_buf_addc(&b, '"');
	t = cn_buf_detach(&b);
	return t;
}

/* docker's PORTS: "0.0.0.0:8080->80/tcp, ..." while it runs. */
static char *ports_text(const struct ctr_state *s)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	for (size_t i = 0; ctr_effective_status(s) != CTR_EXITED && i < s->net.ports.n; i++)
		cn_buf_addf(&b, "%s%s", i ? ", " : "", s->net.ports.v[i]);
	return cn_buf_detach(&b);
}

/* ---- --filter, docker's keys: the same key ORs, different keys AND;
 * every label= must match ---- */

struct ps_filter {
	cn_strv labels, names, ids, status, health;
};

static void filter_free(struct ps_filter *f)
{
	cn_strv_free(&f->labels);
	cn_strv_free(&f->names);
	cn_strv_free(&f->ids);
	cn_strv_free(&f->status);
	cn_strv_free(&f->health);
}

static bool one_of(const char *v, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(v, *set))
			return true;
	return false;
}

static int filter_add(struct ps_filter *f, const char *arg)
{
	static const char *const statuses[] = { "created", "restarting", "running", "removing", "paused",
						"exited", "dead", NULL };
	static const char *const healths[] = { "starting", "healthy", "unhealthy", "none", NULL };
	const char *eq = strchr(arg, '='), *v = eq ? eq + 1 : NULL;
	size_t k = eq ? (size_t)(eq - arg) : strlen(arg);
	if (!eq)
		return cli_usage_error("ps", "--filter: '%s' is not KEY=VALUE", arg);
	if (k == 5 && !strncmp(arg, "label", k))
		cn_strv_pushdup(&f->labels, v);
	else if (k == 4 && !strncmp(arg, "name", k))
		cn_strv_pushdup(&f->names, v);
	else if (k == 2 && !strncmp(arg, "id", k))
		cn_strv_pushdup(&f->ids, v);
	else if (k == 6 && !strncmp(arg, "status", k)) {
		if (!one_of(v, statuses))
			return cli_usage_error("ps", "--filter: Unrecognised filter value for status: %s", v);
		cn_strv_pushdup(&f->status, v);
	} else if (k == 6 && !strncmp(arg, "health", k)) {
		if (!one_of(v, healths))
			return cli_usage_error("ps", "--filter: Unrecognised filter value for health: %s", v);
		cn_strv_pushdup(&f->health, v);
	} else {
		return cli_usage_error("ps", "--filter: invalid filter '%.*s' (label, name, id, status, health)",
				       (int)k, arg);
	}
	return 0;
}

static bool any_match(const cn_strv *want, const char *have)
{
	if (!want->n)
		return true;
	for (size_t i = 0; i < want->n; i++)
		if (!strcmp(have, want->v[i]))
			return true;
	return false;
}

/* docker's filters.Match (name=, id=): an exact match, else each value as
 * a regular expression found anywhere in HAVE (ERE here, RE2 there; one
 * that does not compile matches nothing). */
static bool any_regex(const cn_strv *want, const char *have)
{
	if (!want->n || any_match(want, have))
		return true;
	for (size_t i = 0; i < want->n; i++) {
		regex_t re;
		bool hit;
		if (regcomp(&re, want->v[i], REG_EXTENDED | REG_NOSUB) != 0)
			continue;
		hit = regexec(&re, have, 0, NULL, 0) == 0;
		regfree(&re);
		if (hit)
			return true;
	}
	return false;
}

static bool filter_match(const struct ps_filter *f, const struct ctr_state *s, const char *state)
{
	if (!cn_labels_match_all(&s->labels, &f->labels))
		return false;
	const char *name = s->name ? s->name : "";
	_cleanup_free_ char *slashed = cn_xasprintf("/%s", name);      /* docker's Name */
	return (any_regex(&f->names, name) || any_regex(&f->names, slashed)) && any_regex(&f->ids, s->id) &&
	       any_match(&f->status, state) && any_match(&f->health, s->health ? s->health : "none");
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

int cmd_ps(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "last", required_argument, NULL, 'n' },
		{ "latest", no_argument, NULL, 'l' },
		{ "no-trunc", no_argument, NULL, 'N' },
		{ "format", required_argument, NULL, 'F' },
		{ "filter", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum { ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES, NCOL };
	static const char *const heads[NCOL] = { "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS",
						  "NAMES" };
	static const char *const states[] = { [CTR_CREATED] = "created", [CTR_RUNNING] = "running",
					      [CTR_EXITED] = "exited" };
	bool all = false, quiet = false, full = false;
	struct ps_filter filter __attribute__((cleanup(filter_free))) = { .labels = { 0 } };
	const char *format = NULL;
	struct cn_fmt fmt;
	long last = -1;
	char *end;
	struct ctr_state *list;
	struct store st;
	size_t n, n_shown, w[NCOL], rows = 0;
	char *(*cells)[NCOL];
	long long now = (long long)time(NULL);
	cn_err err;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "aqn:lf:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (filter_add(&filter, optarg) != 0)
				return EXIT_USAGE;
			break;
		case 'a':
			all = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'n':
			last = strtol(optarg, &end, 10);
			if (end == optarg || *end || last < 0)
				return cli_usage_error("ps", "--last: '%s' is not a count", optarg);
			break;
		case 'l':
			last = 1;
			break;
		case 'N':
			full = true;
			break;
		case 'F':
			format = optarg;
			break;
		case 'h':
			fputs(ps_usage, stdout);
			return 0;
		default:
			return cli_usage_error("ps", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("ps", "unexpected argument '%s'", argv[optind]);
	{
		json_t *headers = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ID",
					    "CONTAINER ID", "Image", "IMAGE", "Command", "COMMAND", "CreatedAt",
					    "CREATED AT", "RunningFor", "CREATED", "Ports", "PORTS", "State", "STATE",
					    "Status", "STATUS", "Size", "SIZE", "Names", "NAMES", "Labels", "LABELS",
					    "Networks", "NETWORKS");
		int r = cli_format_init(&fmt, "ps", quiet ? NULL : format, headers);
		json_decref(headers);
		if (r < 0)
			return EXIT_USAGE;
	}
	if (last >= 0 || filter.status.n)
		all = true;             /* docker: -n and status= show containers in any state */
	if (cli_open_store(cli, &st) < 0) {
		cn_fmt_free(&fmt);
		return EXIT_FAIL;
	}
	if (ctr_list(&st, &list, &n, &err) < 0) {
		store_close(&st);
		cn_fmt_free(&fmt);
		return cli_fail(&err);
	}
	/* docker's: the filters first, then the N created last (ctr_list is
	 * newest first) of what they let through. */
	n_shown = last >= 0 ? (size_t)last : n;
	store_close(&st);
	cells = cn_xcalloc(n + 1, sizeof(*cells));
	for (size_t i = 0; i < NCOL; i++) {
		cells[0][i] = cn_xstrdup(heads[i]);
		w[i] = width(heads[i]);
	}
	rows = 1;
	for (size_t i = 0, shown = 0; i < n && shown < n_shown; i++) {
		const struct ctr_state *s = &list[i];
		char status[96], created[64];
		if (!all && ctr_effective_status(s) == CTR_EXITED)
			continue;
		if (!filter_match(&filter, s, states[ctr_effective_status(s)]))
			continue;
		shown++;
		if (quiet) {
			printf("%.*s\n", full ? CTR_ID_LEN : CTR_SHORT_ID_LEN, cli_esc(s->id));
			continue;
		}
		cli_container_status(s, now, status, sizeof(status));
		cli_human_duration(now - s->created, created, sizeof(created));
		if (fmt.kind != CN_FMT_DEFAULT) {
			_cleanup_free_ char *cmd = command_text(s, full), *ago = cn_xasprintf("%s ago", created);
			_cleanup_free_ char *ports = ports_text(s);
			_cleanup_free_ char *id = cn_xstrndup(s->id, full ? CTR_ID_LEN : CTR_SHORT_ID_LEN);
			_cleanup_free_ char *labels = cn_labels_text(&s->labels);
			_cleanup_free_ char *nvol = cn_xasprintf("%zu", s->volumes.n);
			char at[48];
			cli_time_docker(s->created, at, sizeof(at));
			if (cli_format_row_methods(&fmt, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
							   "Command", cmd, "CreatedAt", at, "ID", id, "Image",
							   s->image ? s->image : "", "Labels", labels,
							   "LocalVolumes", nvol,
							   "Names", s->name ? s->name : "", "Networks",
							   s->net.network ? s->net.network : "", "Ports", ports,
							   "RunningFor", ago, "State", states[ctr_effective_status(s)],
							   "Status", status),
						   json_pack("{s:o}", "Label", cn_labels_json(&s->labels))) < 0) {
				rc = EXIT_FAIL;
				break;
			}
			continue;
		}
		cells[rows][ID] = cn_xstrndup(s->id, full ? CTR_ID_LEN : CTR_SHORT_ID_LEN);
		cells[rows][IMAGE] = cn_xstrdup(cli_esc(s->image));
		cells[rows][COMMAND] = command_text(s, full);
		cells[rows][CREATED] = cn_xasprintf("%s ago", created);
		cells[rows][STATUS] = cn_xstrdup(status);
		cells[rows][PORTS] = ports_text(s);
		cells[rows][NAMES] = cn_xstrdup(cli_esc(s->name));
		for (size_t k = 0; k < NCOL; k++)
			if (width(cells[rows][k]) > w[k])
				w[k] = width(cells[rows][k]);
		rows++;
	}
	if (fmt.kind != CN_FMT_DEFAULT)
		cli_format_print(&fmt);
	for (size_t r = 0; r < rows && !quiet && fmt.kind == CN_FMT_DEFAULT; r++)
		for (size_t k = 0; k < NCOL; k++) {
			if (k + 1 == NCOL)
				printf("%s\n", cells[r][k]);
			else
				printf("%s%*s", cells[r][k], (int)(w[k] - width(cells[r][k]) + 3), "");
		}
	for (size_t r = 0; r < rows; r++)
		for (size_t k = 0; k < NCOL; k++)
			free(cells[r][k]);
	free(cells);
	ctr_list_free(list, n);
	cn_fmt_free(&fmt);
	return rc;
}
