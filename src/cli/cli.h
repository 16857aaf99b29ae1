/* The command line: the only place that prints to the user. */
#ifndef CLI_H
#define CLI_H

#include <stdio.h>

#include "store/store.h"
#include "util/gotmpl.h"
#include "util/err.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

struct cli {
	const char *root;       /* --root, CAIRN_ROOT, or the default */
	const char *prog;
};

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(struct cli *cli, int argc, char **argv);
};

/* S (from an image, a registry, a Buildfile, a container's state) made
 * inert for a terminal (util/escape.h), for use as a printf argument: the
 * result lives until 16 more calls (a few per printed line). NULL: "". */
const char *cli_esc(const char *s);

/* Print "error: MSG" (git style, one line, escaped: messages quote what
 * came from outside) and return EXIT_FAIL. */
int cli_fail(const cn_err *err);
/* Print "error: MSG" plus a hint to --help and return EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_open_store(struct cli *cli, struct store *st);
/* The same, holding the gc lock shared: prune cannot remove an image
 * between a command's check of it and the tag it sets. */
int cli_open_store_for_tagging(struct cli *cli, struct store *st);
void cli_human_size(unsigned long long bytes, char *out, size_t len);
/* SECS as docker words it: "3 seconds", "About a minute", "2 hours", "3 years". */
void cli_human_duration(long long secs, char *out, size_t len);
/* docker's ps STATUS: "Up 5 seconds (healthy)", "Exited (0) 3 minutes ago". */
struct ctr_state;
void cli_container_status(const struct ctr_state *s, long long now, char *out, size_t len);
/* Docker's table layout (cli/table.c): each column as wide as its widest
 * cell plus three spaces, the last one unpadded. Cells are copied; escape
 * outside text (cli_esc) before adding it. */
struct cli_table {
	size_t ncols;
	cn_strv cells;
};
void cli_table_init(struct cli_table *t, size_t ncols);
/* One row: exactly ncols strings (NULL prints as ""). */
void cli_table_add(struct cli_table *t, ...);
void cli_table_print(struct cli_table *t, FILE *out);
void cli_table_free(struct cli_table *t);
/* BYTES as docker prints sizes: "0B", "4.26MB", "1.2GB" (powers of 1000). */
void cli_docker_size(unsigned long long bytes, char *out, size_t len);
/* WHEN (unix seconds) as docker's CREATED: "2 hours ago"; "N/A" when 0. */
void cli_ago(long long when, long long now, char *out, size_t len);
/* --format (cli/format.c, util/gotmpl.h): SPEC set up for CMD, a usage
 * error printed when it does not parse (-1). */
int cli_format_init(struct cn_fmt *f, const char *cmd, const char *spec, json_t *headers);
/* ROW (taken) through the format; -1 after printing the error. */
int cli_format_row(struct cn_fmt *f, json_t *row);
/* The same with the row's methods (both taken; NULL: none), e.g.
 * {"Label": {"k": "v"}} for {{.Label "k"}}. */
int cli_format_row_methods(struct cn_fmt *f, json_t *row, json_t *methods);
/* The output, outside text escaped (cli_esc) but tabs and newlines kept. */
void cli_format_print(struct cn_fmt *f);
void cli_print_inert(const char *text, FILE *out);
/* WHEN as docker's CreatedAt ("2024-01-02 15:04:05 +0000 UTC") and as
 * RFC 3339 (inspect's times); "N/A" / Go's zero time when 0. */
void cli_time_docker(long long when, char *out, size_t len);
void cli_time_rfc3339(long long when, char *out, size_t len);
/* --memory ('M'), --cpus ('C'), --pids-limit ('P') into LIMITS; -1 if invalid. */
struct sb_limits;
int cli_parse_limit(int opt, const char *arg, struct sb_limits *limits);

int cmd_build(struct cli *cli, int argc, char **argv);
int cmd_network(struct cli *cli, int argc, char **argv);
int cmd_images(struct cli *cli, int argc, char **argv);
int cmd_inspect(struct cli *cli, int argc, char **argv);
int cmd_rmi(struct cli *cli, int argc, char **argv);
int cmd_parse(struct cli *cli, int argc, char **argv);
int cmd_history(struct cli *cli, int argc, char **argv);
int cmd_log(struct cli *cli, int argc, char **argv);
int cmd_rollback(struct cli *cli, int argc, char **argv);
int cmd_tag(struct cli *cli, int argc, char **argv);
int cmd_prune(struct cli *cli, int argc, char **argv);
int cmd_df(struct cli *cli, int argc, char **argv);
int cmd_fsck(struct cli *cli, int argc, char **argv);
int cmd_save(struct cli *cli, int argc, char **argv);
int cmd_load(struct cli *cli, int argc, char **argv);
int cmd_export(struct cli *cli, int argc, char **argv);
int cmd_push(struct cli *cli, int argc, char **argv);
int cmd_pull(struct cli *cli, int argc, char **argv);
int cmd_login(struct cli *cli, int argc, char **argv);
int cmd_logout(struct cli *cli, int argc, char **argv);
int cmd_run(struct cli *cli, int argc, char **argv);
int cmd_exec(struct cli *cli, int argc, char **argv);
int cmd_ps(struct cli *cli, int argc, char **argv);
int cmd_logs(struct cli *cli, int argc, char **argv);
int cmd_stop(struct cli *cli, int argc, char **argv);
int cmd_rm(struct cli *cli, int argc, char **argv);
int cmd_volume(struct cli *cli, int argc, char **argv);
int cmd_info(struct cli *cli, int argc, char **argv);
int cmd_compose(struct cli *cli, int argc, char **argv);
int cmd_version(struct cli *cli, int argc, char **argv);
/* "cairn version X": the first line of `cairn version`, all of --version. */
void cli_print_version_line(void);

#endif
