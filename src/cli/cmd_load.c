#include "archive/archive.h"
#include "cli/cli.h"

#include <stdio.h>

int cmd_load(struct cli *cli, int argc, char **argv)
{
	(void)cli;
	(void)argc;
	(void)argv;
	fprintf(stderr, "error: load is not supported yet\n");
	return EXIT_FAIL;
}
