/* --max-layer-size for the commands that import layers (load, pull, and
 * whoever else calls it): the flag, else CAIRN_MAX_LAYER_SIZE, parsed as
 * docker's sizes (512m, 2g) and handed to transfer/. */
#ifndef CLI_LAYER_LIMIT_H
#define CLI_LAYER_LIMIT_H

#define CLI_MAX_LAYER_SIZE_USAGE \
	"      --max-layer-size SIZE  refuse a layer expanding past SIZE (512m, 2g; also\n" \
	"                           CAIRN_MAX_LAYER_SIZE). Default: what its compression\n" \
	"                           can hold, at most the store's free space\n"

/* FLAG: the option's value, or NULL for the environment's. 0, or the exit
 * status of a usage error (printed) for command CMD. */
int cli_max_layer_size(const char *cmd, const char *flag);

/* Take "--max-layer-size SIZE" / "--max-layer-size=SIZE" out of ARGV
 * (before a "--"), for commands whose options are parsed elsewhere; *ARGC
 * shrinks. *VALUE: the last one given, or NULL. 0, or a usage error's exit
 * status (the value missing). */
int cli_take_max_layer_size(const char *cmd, int *argc, char **argv, const char **value);

#endif
