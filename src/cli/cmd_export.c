#include "archive/imgarchive.h"
#include "cli/cli.h"
#include "cli/compression.h"

#include "sandbox/cgroup.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_NETWORK = 256, OPT_SIZE, OPT_KERNEL, OPT_LEVEL };

/* --network for lxc: docker's names for what LXC calls empty, none, veth. */
static int parse_network(const char *s, struct arc_export_opts *o)
{
	if (!strcmp(s, "none")) {
		o->network = ARC_NET_NONE;
	} else if (!strcmp(s, "host")) {
		o->network = ARC_NET_HOST;
	} else if (!strcmp(s, "bridge") || !strncmp(s, "bridge:", 7)) {
		o->network = ARC_NET_BRIDGE;
		o->bridge = s[6] ? s + 7 : NULL;
		if (o->bridge && (!*o->bridge || strpbrk(o->bridge, " \t\n=")))
			return -1;
	} else {
		return -1;
	}
	return 0;
}

/* After a disk export with a kernel: how to boot it. */
static void print_boot_hint(const char *dest)
{
	char *k = arc_disk_sibling(dest, ".vmlinuz"), *i = arc_disk_sibling(dest, ".initrd");
	printf("boot it: qemu-system-x86_64 -m 512 -nographic -kernel %s -initrd %s \\\n"
	       "    -drive file=%s,format=raw,if=virtio -append console=ttyS0\n",
	       cli_esc(k), cli_esc(i), cli_esc(dest));
	free(k);
	free(i);
}

int cmd_export(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "compression-format", required_argument, NULL, 'C' },
		{ "compression", required_argument, NULL, 'C' },
		{ "compression-level", required_argument, NULL, OPT_LEVEL },
		{ "network", required_argument, NULL, OPT_NETWORK },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum arc_format format = ARC_ROOTFS;
	enum layer_compression comp = LAYER_GZIP;
	struct xfer_convert_stats stats = { 0 };
	struct arc_export_opts xo = { .headroom = ARC_DISK_HEADROOM };
	bool convert = false, net_set = false, size_set = false;
	const char *comp_arg = NULL;
	unsigned long long size;
	struct store st;
	cn_err err;
	int c, rc = 0;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (arc_format_parse(optarg, &format) < 0)
				return cli_usage_error("export", "unknown format '%s'", optarg);
			break;
		case 'C':
			comp_arg = optarg;
			convert = true;
			break;
		case OPT_LEVEL:
			if (cli_compression_level_parse("export", optarg, &xo.level) < 0)
				return EXIT_USAGE;
			break;
		case OPT_NETWORK:
			if (parse_network(optarg, &xo) < 0)
				return cli_usage_error("export", "--network: '%s' is not none, host, bridge or "
						       "bridge:NAME", optarg);
			net_set = true;
			break;
		case OPT_SIZE:
			if (sb_parse_memory(optarg, &size) < 0)
				return cli_usage_error("export", "--size: '%s' is not a size (b, k, m, g)", optarg);
			xo.headroom = size;
			size_set = true;
			break;
		case OPT_KERNEL:
			xo.kernel = optarg;
			break;
		case 'h':
			printf("usage: cairn export [--format FORMAT] IMAGE DEST\n\n"
			       "Write an image for other tools. FORMAT is one of:\n"
			       "  rootfs          DEST is a directory: the layers applied in order (default)\n"
			       "  rootfs-tar      the same tree as one tar (DEST '-': stdout), uncompressed\n"
			       "                  unless --compression-format gzip, zstd or xz says\n"
			       "                  (xz: the rootfs tarballs of LXC and OpenVZ)\n"
			       "  bundle          DEST/rootfs + DEST/config.json, an OCI runtime bundle\n"
			       "                  for runc run / crun run\n"
			       "  oci-archive     the 'cairn save' tar of this one image (DEST '-': stdout)\n"
			       "  docker-archive  the same tar (it is both)\n"
			       "  lxc             DEST/rootfs.tar.xz + DEST/meta.tar.xz, LXC's image format:\n"
			       "                  lxc-create -n NAME -f /dev/null -t local --\n"
			       "                  -m DEST/meta.tar.xz -f DEST/rootfs.tar.xz\n"
			       "  initramfs       DEST is a gzip newc cpio a kernel boots (qemu -initrd);\n"
			       "                  an /init that runs the image's command is added when\n"
			       "                  the image has none\n"
			       "  disk            DEST is a raw ext4 image (made by mke2fs -d, e2fsprogs),\n"
			       "                  for a VM's virtio disk; unless the image has\n"
			       "                  /sbin/init, that /init (or the image's) is added and\n"
			       "                  /sbin/init links to it, which a kernel mounting the\n"
			       "                  disk itself runs\n"
			       "A directory DEST must not exist or be empty; it is made in a temporary\n"
			       "sibling and renamed when complete.\n"
			       "The archives carry the layers as stored, except that a docker-archive\n"
			       "gets gzip for zstd ones (docker load reads no zstd), unless:\n"
			       "      --compression-format FMT  every layer converted to FMT: gzip, zstd\n"
			       "                  (oci-archive only) or none; streamed and remembered\n"
			       "      --compression-level N  of what is compressed (rootfs-tar, the\n"
			       "                  layers converted): gzip 1-9 (default 6), zstd 1-22\n"
			       "                  (default 3)\n"
			       "Options of the formats for other runtimes:\n"
			       "      --network MODE  lxc: none (default: loopback only), host, bridge\n"
			       "                  or bridge:NAME (a veth on NAME, default lxcbr0)\n"
			       "      --size N    disk: free space beyond the files (b, k, m, g; default 64m)\n"
			       "      --kernel PATH  disk: also write BASE.vmlinuz, a copy of PATH (named\n"
			       "                  vmlinuz-VERSION), and BASE.initrd (BASE: DEST without\n"
			       "                  .img), which loads the virtio and ext4 modules (found\n"
			       "                  next to PATH, in the image or in /lib/modules/VERSION)\n"
			       "                  with this machine's static busybox, mounts /dev/vda\n"
			       "                  and starts its /sbin/init, else /init\n");
			return 0;
		default:
			return cli_usage_error("export", "invalid option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("export", "expected IMAGE and DEST");
	if (convert && format == ARC_ROOTFS_TAR) {
		/* The tar itself, not layers: xz too (LXC, OpenVZ). */
		static const char *const names[] = { [ARC_TAR_NONE] = "none", [ARC_TAR_GZIP] = "gzip",
						     [ARC_TAR_ZSTD] = "zstd", [ARC_TAR_XZ] = "xz" };
		size_t i = 0;
		while (i < sizeof(names) / sizeof(names[0]) && strcmp(comp_arg, names[i]) != 0)
			i++;
		if (i == sizeof(names) / sizeof(names[0]))
			return cli_usage_error("export", "--compression-format: '%s' is not gzip, zstd, xz or none",
					       comp_arg);
		xo.tar = (enum arc_tar_compression)i;
		convert = false;
	} else if (convert && cli_compression_format_parse(comp_arg, &comp) < 0) {
		return cli_usage_error("export", "--compression-format: '%s' is not gzip, zstd or none", comp_arg);
	}
	if (convert && format != ARC_OCI_ARCHIVE && format != ARC_DOCKER_ARCHIVE)
		return cli_usage_error("export", "--compression-format applies to oci-archive, docker-archive "
				       "and rootfs-tar");
	if (convert && comp == LAYER_ZSTD && format == ARC_DOCKER_ARCHIVE)
		return cli_usage_error("export", "--compression-format zstd: docker load cannot read zstd "
				       "layers (--format oci-archive takes them)");
	if (xo.level) {
		/* A level for what gets compressed: the tar, or converted layers. */
		bool tar = format == ARC_ROOTFS_TAR;
		if (tar && xo.tar != ARC_TAR_GZIP && xo.tar != ARC_TAR_ZSTD)
			return cli_usage_error("export", "--compression-level: rootfs-tar takes one with "
					       "--compression-format gzip or zstd");
		if (!tar && format != ARC_DOCKER_ARCHIVE && !(format == ARC_OCI_ARCHIVE && convert))
			return cli_usage_error("export", "--compression-level applies to rootfs-tar, "
					       "docker-archive and oci-archive with --compression-format");
		if (cli_compression_level_check("export", tar ? (xo.tar == ARC_TAR_GZIP ? LAYER_GZIP : LAYER_ZSTD)
						: convert ? comp : LAYER_GZIP, xo.level) < 0)
			return EXIT_USAGE;
	}
	if (net_set && format != ARC_LXC)
		return cli_usage_error("export", "--network applies to --format lxc");
	if ((size_set || xo.kernel) && format != ARC_DISK)
		return cli_usage_error("export", "--%s applies to --format disk", size_set ? "size" : "kernel");
	if ((format == ARC_LXC || format == ARC_INITRAMFS || format == ARC_DISK) &&
	    !strcmp(argv[optind + 1], "-"))
		return cli_usage_error("export", "this format cannot be written to stdout");
	if (cli_open_store_for_tagging(cli, &st) < 0)
		return EXIT_FAIL;
	if (arc_export_with(&st, argv[optind], format, argv[optind + 1], convert ? (int)comp : ARC_SAVE_DOCKER,
			    &stats, &xo, &err) < 0)
		rc = cli_fail(&err);
	else if (convert)
		cli_compression_report(&stats, comp, false);
	else if (xo.kernel)
		print_boot_hint(argv[optind + 1]);
	store_close(&st);
	return rc;
}
