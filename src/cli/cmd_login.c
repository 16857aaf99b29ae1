#include "cli/cli.h"
#include "cli/registry_opts.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const char login_usage[] =
	"usage: cairn login [OPTIONS] REGISTRY\n"
	"\n"
	"Check credentials against REGISTRY (HOST[:PORT]) and record them in the\n"
	"containers auth file ($REGISTRY_AUTH_FILE, else\n"
	"$XDG_RUNTIME_DIR/containers/auth.json, else /run/containers/0/auth.json for\n"
	"root, and for other users /run/user/UID/containers/auth.json when that dir\n"
	"is theirs, else ~/.config/containers/auth.json), where podman, buildah and\n"
	"skopeo find them too.\n"
	"\n"
	"Options:\n"
	"  -u, --username USER      user name (asked on the terminal when missing)\n"
	"  -p, --password PASS      password (visible to other users in ps: prefer\n"
	"                           --password-stdin)\n"
	"      --password-stdin     read the password from standard input\n"
	"      --cert-dir DIR       trust every DIR/*.crt as a CA for the registry\n"
	"      --tls-verify=false   do not verify TLS, and allow plain http\n"
	"  -h, --help               show this help\n";

static const char logout_usage[] =
	"usage: cairn logout [-a] [REGISTRY]\n"
	"\n"
	"Forget the credentials cairn login recorded for REGISTRY.\n"
	"\n"
	"Options:\n"
	"  -a, --all                forget every registry's credentials\n"
	"  -h, --help               show this help\n";

/* A line from FD without its newline (heap), NULL at EOF or past 4 KiB. */
static char *read_line(int fd)
{
	char buf[4096];
	size_t n = 0;
	bool got_any = false;
	while (n < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got_any = true;
		if (buf[n] == '\n')
			break;
		n++;
	}
	if (!got_any || n == sizeof(buf) - 1)
		return NULL;
	while (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	{
		char *s = cn_xstrdup(buf);
		explicit_bzero(buf, sizeof(buf));
		return s;
	}
}

static char *prompt(const char *what, bool secret)
{
	_cleanup_close_ int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	struct termios old, quiet;
	char *line;
	bool restore = false;
	if (tty < 0)
		return NULL;
	if (write(tty, what, strlen(what)) < 0)
		return NULL;
	if (secret && tcgetattr(tty, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(tty, TCSAFLUSH, &quiet) == 0;
	}
	line = read_line(tty);
	if (restore) {
		tcsetattr(tty, TCSAFLUSH, &old);
		if (write(tty, "\n", 1) < 0) {
			/* nothing to do: only the echo of a newline was lost */
		}
	}
	return line;
}

int cmd_login(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_REGISTRY_OPTIONS,
		{ "username", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'p' },
		{ "password-stdin", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_registry reg;
	struct reg_creds creds = { 0 };
	bool from_stdin = false;
	const char *registry;
	cn_err err;
	int c, rc = EXIT_USAGE;
	(void)cli;

	cli_registry_init(&reg, true);
	while ((c = getopt_long(argc, argv, "u:p:h", opts, NULL)) != -1) {
		int r = cli_registry_opt(&reg, "login", c, optarg);
		if (r < 0)
			goto out;
		if (r > 0)
			continue;
		switch (c) {
		case 'u':
			free(creds.user);
			creds.user = cn_xstrdup(optarg);
			break;
		case 'p':
			free(creds.pass);
			creds.pass = cn_xstrdup(optarg);
			break;
		case 'P':
			from_stdin = true;
			break;
		case 'h':
			fputs(login_usage, stdout);
			rc = 0;
			goto out;
		default:
			cli_usage_error("login", "invalid option");
			goto out;
		}
	}
	if (argc - optind != 1) {
		cli_usage_error("login", "expected one REGISTRY");
		goto out;
	}
	registry = argv[optind];
	if (strncmp(registry, "https://", 8) == 0)
		registry += 8;
	if (from_stdin && creds.pass) {
		cli_usage_error("login", "--password and --password-stdin are mutually exclusive");
		goto out;
	}
	if (from_stdin && !creds.user) {
		cli_usage_error("login", "--password-stdin needs --username");
		goto out;
	}
	rc = EXIT_FAIL;
	if (!creds.user && !(creds.user = prompt("Username: ", false))) {
		fprintf(stderr, "error: no user name: use --username (no terminal to ask on)\n");
		goto out;
	}
	if (from_stdin)
		creds.pass = read_line(STDIN_FILENO);
	else if (!creds.pass)
		creds.pass = prompt("Password: ", true);
	if (!creds.pass || !*creds.user) {
		fprintf(stderr, "error: no password: use --password-stdin (no terminal to ask on)\n");
		goto out;
	}
	reg.o.creds = &creds;
	if (reg_global_init(&err) < 0 || reg_login_check(registry, &reg.o, &err) < 0 ||
	    reg_auth_save(registry, &creds, &err) < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	printf("Login Succeeded!\n");
	rc = 0;
out:
	reg_creds_free(&creds);
	cli_registry_free(&reg);
	return rc;
}

int cmd_logout(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool all = false;
	cn_err err;
	int c, r;
	(void)cli;
	while ((c = getopt_long(argc, argv, "ah", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'h':
			fputs(logout_usage, stdout);
			return 0;
		default:
			return cli_usage_error("logout", "invalid option");
		}
	}
	if (argc - optind != (all ? 0 : 1))
		return cli_usage_error("logout", all ? "--all takes no REGISTRY" : "expected one REGISTRY");
	r = reg_auth_remove(all ? "" : argv[optind], all, &err);
	if (r < 0)
		return cli_fail(&err);
	if (r == 0 && !all) {
		fprintf(stderr, "error: not logged into %s\n", cli_esc(argv[optind]));
		return EXIT_FAIL;
	}
	if (all)
		printf("Removed login credentials for all registries\n");
	else
		printf("Removed login credentials for %s\n", cli_esc(argv[optind]));
	return 0;
}
