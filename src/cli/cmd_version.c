/* cairn version / cairn --version: what a bug report needs (docker's
 * `version`): cairn's version, the libraries it runs with (their run-time
 * versions, which can differ from the headers it was built against), the
 * kernel, the store and whether cairn runs rootless. */
#include "cli/cli.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/platform.h"
#include "util/rootless.h"

#include <archive.h>
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zstd.h>

/* Packagers set it (CFLAGS=-DCAIRN_VERSION=\"1.2.3\"). */
#ifndef CAIRN_VERSION
#define CAIRN_VERSION "0.1.0-dev"
#endif

void cli_print_version_line(void)
{
	printf("cairn version %s\n", CAIRN_VERSION);
}

#ifdef __clang__
#define COMPILER "clang " __clang_version__
#else
#define COMPILER "gcc " __VERSION__
#endif

static json_t *version_json(struct cli *cli)
{
	const struct scmp_version *sv = seccomp_version();
	const char *os, *arch, *variant, *libarchive = archive_version_details();
	char seccomp[32];
	struct utsname u;
	json_t *libs, *o;
	/* rootless: an ordinary user, or root inside cairn's user namespace */
	bool rootless = getuid() != 0 || cn_rootless() != NULL;
	cn_platform_host(&os, &arch, &variant);
	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	snprintf(seccomp, sizeof(seccomp), "%u.%u.%u", sv ? sv->major : 0, sv ? sv->minor : 0,
		 sv ? sv->micro : 0);
	/* libarchive's details name its own codecs: "libarchive 3.6.2 zlib/1.2.13 ..." */
	if (!strncmp(libarchive, "libarchive ", 11))
		libarchive += 11;
	libs = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "libarchive", libarchive, "zstd", ZSTD_versionString(),
			 "OpenSSL", OpenSSL_version(OPENSSL_VERSION), "libcurl",
			 curl_version_info(CURLVERSION_NOW)->version, "jansson", jansson_version_str(), "libseccomp",
			 seccomp);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:o}", "Version", CAIRN_VERSION, "Compiler",
		      COMPILER, "Os", os, "Arch", arch, "KernelVersion", u.release, "Store",
		      cli->root ? cli->root : "", "Rootless", rootless, "Libraries", libs);
	if (o && *variant)
		json_object_set_new(o, "Variant", json_string(variant));
	return o;
}

int cmd_version(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *format = NULL, *key;
	struct cn_fmt fmt;
	json_t *o, *libs, *v;
	int c;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 'h':
			printf("usage: cairn version [-f FORMAT]\n"
			       "       cairn --version\n\n"
			       "Show cairn's version, the versions of the libraries it runs with, the\n"
			       "kernel, the store and whether cairn runs rootless. --version prints the\n"
			       "first line only.\n"
			       "  -f, --format F   'json' (one object), or a Go template over it\n"
			       "                   ('{{.Version}}', '{{.Libraries.zstd}}', '{{.Client.Version}}')\n");
			return 0;
		default:
			return cli_usage_error("version", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("version", "unexpected argument '%s'", argv[optind]);
	if (cli_format_init(&fmt, "version", format, NULL) < 0)
		return EXIT_USAGE;
	o = version_json(cli);
	if (!o) {
		cn_fmt_free(&fmt);
		fprintf(stderr, "error: cannot describe this build\n");
		return EXIT_FAIL;
	}
	if (fmt.kind != CN_FMT_DEFAULT) {
		/* docker's templates read .Client.Version */
		if (fmt.kind != CN_FMT_JSON)
			json_object_set_new(o, "Client", json_deep_copy(o));
		if (cli_format_row(&fmt, o) < 0) {
			cn_fmt_free(&fmt);
			return EXIT_FAIL;
		}
		cli_format_print(&fmt);
		cn_fmt_free(&fmt);
		return 0;
	}
	cn_fmt_free(&fmt);
	cli_print_version_line();
	printf(" %-15s %s\n", "Compiler:", json_string_value(json_object_get(o, "Compiler")));
	printf(" %-15s %s/%s%s%s\n", "OS/Arch:", json_string_value(json_object_get(o, "Os")),
	       json_string_value(json_object_get(o, "Arch")), json_object_get(o, "Variant") ? "/" : "",
	       json_string_value(json_object_get(o, "Variant")) ?: "");
	printf(" %-15s %s\n", "Kernel:", cli_esc(json_string_value(json_object_get(o, "KernelVersion"))));
	printf(" %-15s %s\n", "Store:", cli_esc(json_string_value(json_object_get(o, "Store"))));
	printf(" %-15s %s\n", "Rootless:", json_is_true(json_object_get(o, "Rootless")) ? "yes" : "no (root)");
	printf(" Libraries:\n");
	libs = json_object_get(o, "Libraries");
	json_object_foreach(libs, key, v) {
		_cleanup_free_ char *label = cn_xasprintf("%s:", key);
		printf("  %-14s %s\n", label, cli_esc(json_string_value(v)));
	}
	json_decref(o);
	return 0;
}
