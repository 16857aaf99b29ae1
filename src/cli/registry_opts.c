#include "cli/compression.h"
#include "cli/registry_opts.h"
#include "cli/rootless.h"

#include "cli/cli.h"
#include "util/interrupt.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One line per blob as it finishes; on a terminal, a running total with
 * the rate, redrawn at most ten times a second. */
static void progress(void *ctx, const struct reg_progress *p)
{
	struct cli_registry *r = ctx;
	char size[32], rate[32];
	double t = now_s();
	if (r->quiet)
		return;
	switch (p->phase) {
	case REG_BLOB_START:
		return;
	case REG_BLOB_BYTES: {
		/* Blobs move in parallel: the total is the sum of the latest
		 * count of each (a small table of the ones in flight). */
		size_t i, slot = CLI_REGISTRY_SLOTS;
		uint64_t total = r->finished_bytes;
		for (i = 0; i < CLI_REGISTRY_SLOTS; i++) {
			if (strcmp(r->slot_digest[i], p->digest) == 0)
				slot = i;
			else if (slot == CLI_REGISTRY_SLOTS && !r->slot_digest[i][0])
				slot = i;
		}
		if (slot < CLI_REGISTRY_SLOTS) {
			snprintf(r->slot_digest[slot], sizeof(r->slot_digest[slot]), "%s", p->digest);
			r->slot_bytes[slot] = p->done;
		}
		for (i = 0; i < CLI_REGISTRY_SLOTS; i++)
			total += r->slot_digest[i][0] ? r->slot_bytes[i] : 0;
		if (!r->tty || t - r->last_draw < 0.1)
			return;
		r->last_draw = t;
		cli_human_size(total, size, sizeof(size));
		cli_human_size((unsigned long long)((double)total / (t - r->started > 0.001 ? t - r->started : 0.001)),
			       rate, sizeof(rate));
		fprintf(stderr, "\r\033[K  %s  %s/s", size, rate);
		return;
	}
	case REG_BLOB_DONE:
		for (size_t i = 0; i < CLI_REGISTRY_SLOTS; i++) {
			if (strcmp(r->slot_digest[i], p->digest) == 0) {
				r->slot_digest[i][0] = '\0';
				r->finished_bytes += p->total;
			}
		}
		cli_human_size(p->total, size, sizeof(size));
		fprintf(stderr, "%sblob %.19s  %s  done\n", r->tty ? "\r\033[K" : "", cli_esc(p->digest), size);
		return;
	case REG_BLOB_EXISTS:
		fprintf(stderr, "%sblob %.19s  already there\n", r->tty ? "\r\033[K" : "", cli_esc(p->digest));
		return;
	case REG_BLOB_MOUNTED:
		fprintf(stderr, "%sblob %.19s  mounted from another repository\n", r->tty ? "\r\033[K" : "",
			cli_esc(p->digest));
		return;
	case REG_MANIFEST:
		fprintf(stderr, "%smanifest %.19s  done\n", r->tty ? "\r\033[K" : "", cli_esc(p->digest));
		return;
	}
}

void cli_registry_init(struct cli_registry *r, bool quiet)
{
	memset(r, 0, sizeof(*r));
	r->o.tls_verify = true;
	r->o.progress = progress;
	r->o.progress_ctx = r;
	r->quiet = quiet;
	r->tty = isatty(STDERR_FILENO);
	r->started = now_s();
}

void cli_registry_free(struct cli_registry *r)
{
	reg_creds_free(&r->creds);
}

void cli_registry_progress_end(struct cli_registry *r)
{
	if (r->tty && !r->quiet)
		fprintf(stderr, "\r\033[K");
}

int cli_registry_opt(struct cli_registry *r, const char *cmd, int c, const char *arg)
{
	cn_err err;
	switch (c) {
	case CLI_OPT_CREDS:
		reg_creds_free(&r->creds);
		if (reg_creds_parse(arg, &r->creds, &err) < 0) {
			cli_usage_error(cmd, "--creds: %s", err.msg);
			return -1;
		}
		r->o.creds = &r->creds;
		return 1;
	case CLI_OPT_CERT_DIR:
		r->o.cert_dir = arg;
		return 1;
	case CLI_OPT_TLS_VERIFY:
		if (!arg || strcmp(arg, "true") == 0) {
			r->o.tls_verify = true;
		} else if (strcmp(arg, "false") == 0) {
			r->o.tls_verify = false;
		} else {
			cli_usage_error(cmd, "--tls-verify: '%s' is not true or false", arg);
			return -1;
		}
		return 1;
	case CLI_OPT_PLATFORM:
		r->o.platform = arg;
		return 1;
	case CLI_OPT_COMPRESSION_FORMAT:
		if (strcmp(cmd, "push") != 0) {
			cli_usage_error(cmd, "unknown option '--compression-format' (push only)");
			return -1;
		}
		if (cli_compression_format_parse(arg, &r->o.compression) < 0) {
			cli_usage_error(cmd, "--compression-format: '%s' is not gzip, zstd or none", arg);
			return -1;
		}
		r->o.convert = true;
		return 1;
	case CLI_OPT_COMPRESSION_LEVEL:
		if (strcmp(cmd, "push") != 0) {
			cli_usage_error(cmd, "unknown option '--compression-level' (push only)");
			return -1;
		}
		return cli_compression_level_parse(cmd, arg, &r->o.compression_level) < 0 ? -1 : 1;
	default:
		return 0;
	}
}

int cli_registry_parse(struct cli_registry *r, const char *cmd, const char *usage, int argc,
		       char **argv)
{
	static const struct option opts[] = {
		CLI_REGISTRY_OPTIONS,
		{ "compression-format", required_argument, NULL, CLI_OPT_COMPRESSION_FORMAT },
		{ "compression", required_argument, NULL, CLI_OPT_COMPRESSION_FORMAT },
		{ "compression-level", required_argument, NULL, CLI_OPT_COMPRESSION_LEVEL },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		int handled = cli_registry_opt(r, cmd, c, optarg);
		if (handled < 0)
			return -1;
		if (handled > 0)
			continue;
		switch (c) {
		case 'q':
			r->quiet = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			cli_usage_error(cmd, "invalid option");
			return -1;
		}
	}
	/* As podman: a level is for what gets compressed; without a format
	 * nothing is, the layers go as stored. */
	if (r->o.compression_level && !r->o.convert) {
		cli_usage_error(cmd, "--compression-level needs --compression-format (without it the "
				"layers are pushed as stored)");
		return -1;
	}
	if (r->o.compression_level && cli_compression_level_check(cmd, r->o.compression, r->o.compression_level) < 0)
		return -1;
	return 0;
}

int cli_registry_command(struct cli *cli, const char *cmd, const char *usage, const char *operands,
			 int min, int max, bool tagging, int argc, char **argv, cli_transfer_fn op)
{
	struct cli_registry reg;
	struct store st;
	cn_err err;
	int rc, n;

	cli_registry_init(&reg, false);
	rc = cli_registry_parse(&reg, cmd, usage, argc, argv);
	n = argc - optind;
	if (rc == 0 && (n < min || n > max)) {
		cli_usage_error(cmd, "%s", operands);
		rc = -1;
	}
	if (rc != 0) {
		cli_registry_free(&reg);
		return rc < 0 ? EXIT_USAGE : 0;
	}
	if (reg_global_init(&err) < 0) {
		cli_registry_free(&reg);
		return cli_fail(&err);
	}
	if ((tagging ? cli_open_store_for_tagging(cli, &st) : cli_open_store(cli, &st)) < 0) {
		cli_registry_free(&reg);
		return EXIT_FAIL;
	}
	cn_interrupt_install();
	rc = op(&st, argv + optind, n, &reg, &err);
	if (rc < 0) {
		cli_registry_progress_end(&reg);
		rc = cli_fail(&err);
		cli_rootless_note(&err);
		if (cn_interrupted())
			rc = 128 + cn_interrupt_signal();
	}
	store_close(&st);
	cli_registry_free(&reg);
	return rc;
}
