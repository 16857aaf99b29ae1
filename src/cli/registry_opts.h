/* Options shared by push, pull, login and build (--creds, --cert-dir,
 * --tls-verify, --platform) and the transfer progress display. */
#ifndef CLI_REGISTRY_OPTS_H
#define CLI_REGISTRY_OPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"
#include "registry/registry.h"

enum {
	CLI_OPT_CREDS = 0x1000,
	CLI_OPT_CERT_DIR,
	CLI_OPT_TLS_VERIFY,
	CLI_OPT_PLATFORM,
	CLI_OPT_COMPRESSION_FORMAT,     /* push only (cli_registry_parse) */
	CLI_OPT_COMPRESSION_LEVEL,      /* push only */
};

#define CLI_REGISTRY_OPTIONS \
	{ "creds", required_argument, NULL, CLI_OPT_CREDS }, \
	{ "cert-dir", required_argument, NULL, CLI_OPT_CERT_DIR }, \
	{ "tls-verify", optional_argument, NULL, CLI_OPT_TLS_VERIFY }, \
	{ "platform", required_argument, NULL, CLI_OPT_PLATFORM }

#define CLI_REGISTRY_USAGE \
	"      --creds USER:PASS    registry credentials (default: cairn login's, then\n" \
	"                           ~/.docker/config.json)\n" \
	"      --cert-dir DIR       trust every DIR/*.crt as a CA for the registry (also\n" \
	"                           /etc/containers/certs.d/HOST:PORT/*.crt)\n" \
	"      --tls-verify=false   do not verify TLS, and allow plain http\n"

#define CLI_REGISTRY_SLOTS 16

struct cli_registry {
	struct reg_creds creds;
	struct reg_opts o;
	bool quiet, tty;
	char slot_digest[CLI_REGISTRY_SLOTS][72];  /* blobs in flight */
	uint64_t slot_bytes[CLI_REGISTRY_SLOTS];
	uint64_t finished_bytes;
	double started, last_draw;
};

void cli_registry_init(struct cli_registry *r, bool quiet);
void cli_registry_free(struct cli_registry *r);
/* Handle option C (one of CLI_OPT_*): 1 handled, 0 not ours, -1 bad value
 * (message printed, for command CMD). */
int cli_registry_opt(struct cli_registry *r, const char *cmd, int c, const char *arg);
/* The options of push and pull: the registry ones, -q and -h. 0: parsed
 * (operands from optind), 1: help printed, -1: usage error printed. */
int cli_registry_parse(struct cli_registry *r, const char *cmd, const char *usage, int argc,
		       char **argv);
/* A transfer (push, pull) on operands OPS[0..N); on success it prints its
 * own result. */
typedef int (*cli_transfer_fn)(struct store *st, char **ops, int n, struct cli_registry *r,
			       cn_err *err);

/* The whole of push and pull: options, MIN..MAX operands (else OPERANDS is
 * the usage error), the store (held for tagging when TAGGING), Ctrl-C, the
 * error. Returns the exit status. */
int cli_registry_command(struct cli *cli, const char *cmd, const char *usage, const char *operands,
			 int min, int max, bool tagging, int argc, char **argv, cli_transfer_fn op);
/* End the progress line, if one was drawn. */
void cli_registry_progress_end(struct cli_registry *r);

#endif
