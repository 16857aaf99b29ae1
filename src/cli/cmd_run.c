/* cairn run: an image's command in the sandbox RUN steps use, on an
 * ephemeral upper dir that is thrown away afterwards. This is the front
 * end: the terminal and what is printed (the options are run_opts.h's);
 * the runtime (root file system, process spec, supervision) is
 * container/run.h's. */
#include "cli/cli.h"
#include "cli/network.h"
#include "cli/rootless.h"
#include "cli/run_opts.h"
#include "cli/term.h"
#include "container/run.h"
#include "container/spec.h"
#include "net/netdef.h"
#include "sandbox/sandbox.h"
#include "store/image.h"
#include "util/rootless.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/strv.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --network NAME (a created network, made ready here with its notes)
 * and -p (parsed, free host ports picked). */
static int run_network(struct store *st, const struct run_opts *o, struct net_def *def,
		       struct net_port **ports, size_t *nports, int **held, size_t *nheld)
{
	_cleanup_strv_ cn_strv notes = { 0 };
	cn_err err;
	int r;
	if (o->network_name) {
		if (cn_rootless()) {
			cli_usage_error("run", "--network %s: created networks need root (a bridge and nftables "
					"rules); rootless cairn runs containers on the host's network "
					"(--network host)", o->network_name);
			return -1;
		}
		r = net_def_load(st->root, o->network_name, def, &err);
		if (r <= 0) {
			if (r == 0)
				fprintf(stderr, "error: network %s not found\n", cli_esc(o->network_name));
			else
				cli_fail(&err);
			return -1;
		}
		if (net_prepare(&def->conf, &notes, &err) < 0) {
			cli_fail(&err);
			return -1;
		}
		for (size_t i = 0; i < notes.n; i++)
			fprintf(stderr, "warning: %s\n", notes.v[i]);
		/* docker publishes nothing from an internal network. */
		if (def->conf.internal && o->publish.n) {
			cli_usage_error("run", "-p %s: network %s is internal (no traffic in or out of it): "
					"ports cannot be published there", o->publish.v[0], cli_esc(def->name));
			return -1;
		}
	}
	if (!o->publish.n)
		return 0;
	if (o->network != SB_NET_DEFAULT) {
		/* docker's behaviour: the ports are the host's already. */
		fprintf(stderr, "warning: published ports are discarded when using the %s network\n",
			o->network == SB_NET_HOST ? "host" : "none");
		return 0;
	}
	*ports = cn_xcalloc(o->publish.n, sizeof(**ports));
	for (size_t i = 0; i < o->publish.n; i++)
		if (net_port_parse(o->publish.v[i], &(*ports)[i], &err) < 0) {
			cli_usage_error("run", "%s", err.msg);
			return -1;
		}
	*nports = o->publish.n;
	/* Held by this process and the supervisor it forks (close-on-exec:
	 * the container has none), so no program takes them meanwhile. */
	if (net_ports_reserve(*ports, *nports, held, nheld, &err) < 0) {
		cli_fail(&err);
		return -1;
	}
	return 0;
}

/* The network's name as docker records it: a created network's own
 * name, whether it was given by name, id or id prefix. */
static const char *network_name(const struct run_opts *o, const struct net_def *def)
{
	if (o->network_name)
		return def->name;
	return o->network == SB_NET_DEFAULT ? "bridge" : o->network == SB_NET_HOST ? "host" : "none";
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
	struct run_opts o = { .network = cli_network_default(), .stop_timeout = 10 };
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_strv_ cn_strv keep = { 0 };
	_cleanup_strv_ cn_strv volumes = { 0 };
	struct ctr_health_conf health = { .retries = 0 };
	_cleanup_free_ struct sb_mount *mounts = NULL;
	size_t nmounts = 0;
	struct store_image img = { 0 };
	struct net_def def = { 0 };
	_cleanup_free_ struct net_port *ports = NULL;
	int *held = NULL;
	size_t nheld = 0;
	size_t nports = 0;
	struct ctr_spec spec = { 0 };
	struct ctr_run run;
	struct sb_exit ex = { 0 };
	struct store st;
	struct cli_term term = { .saved = false };
	const char *ref;
	cn_err err;
	int r, rc = CTR_EXIT_FAIL;
	bool systemd = false;

	r = run_opts_parse(argc, argv, &o);
	if (r != 0) {
		run_opts_free(&o);
		return r < 0 ? 0 : r;
	}
	ref = argv[optind];
	if (o.name && (!*o.name || strspn(o.name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
			   strlen(o.name))) {
		cli_usage_error("run", "--name: '%s' may only hold letters, digits, '_', '.' and '-'", o.name);
		goto free_opts;
	}
	run_opts_resolve_env(&o.env, &env);
	if (sb_limits_any(&o.limits) && sb_cgroup_prepare(&o.limits, &err) < 0) {
		cli_fail(&err);
		goto free_opts;
	}
	if (cli_step_host_gateway(&o.step, &err) < 0 || cli_network_prepare(o.network_name ? SB_NET_NONE : o.network, &err) < 0) {
		cli_fail(&err);
		goto free_opts;
	}
	if (cli_open_store(cli, &st) < 0)
		goto free_opts;
	/* Held shared while the container runs: prune keeps its layers. */
	if (store_gc_lock(&st, false, &err) < 0) {
		cli_fail(&err);
		goto close_store;
	}
	if (run_opts_mounts(&st, &o, &mounts, &nmounts, &keep, &volumes, &err) < 0) {
		cli_fail(&err);
		goto close_store;
	}
	if (run_network(&st, &o, &def, &ports, &nports, &held, &nheld) < 0)
		goto close_store;
	r = store_image_load(&st, ref, &img, &err);
	if (r <= 0) {
		if (r == 0)
			fprintf(stderr, "error: image '%s' not found\n", ref);
		else
			cli_fail(&err);
		goto close_store;
	}
	if (o.platform && run_opts_check_platform(o.platform, img.config, ref, &err) < 0) {
		cli_fail(&err);
		goto free_image;
	}
	{
		struct ctr_overrides ov = { .args = argv + optind + 1, .nargs = (size_t)(argc - optind - 1),
					    .env = &env, .workdir = o.workdir, .user = o.user,
					    .entrypoint = o.entrypoint };
		if (ctr_spec_from_image(img.config, ref, &ov, &spec, &err) < 0) {
			cli_fail(&err);
			goto free_image;
		}
	}
	/* Only a supervisor runs checks: an attached run ignores them. */
	if (o.detach && ctr_health_resolve(img.config, &o.rh.health, &health, &err) < 0) {
		cli_fail(&err);
		goto free_spec;
	}
	/* podman's rule, decided on the command the image and arguments give.
	 * Where the mode cannot work (no cgroup of the container's own to
	 * give), only an explicit --systemd is an error. */
	if (ctr_systemd_wanted(o.systemd, &spec.argv) && (o.systemd_set || !(o.userns || cn_rootless()))) {
		if (o.init && o.init_set) {
			cli_usage_error("run", "--init with --systemd: the init system is pid 1 itself "
					"(use --systemd=false for cairn's reaper)");
			goto free_spec;
		}
		if (o.userns || cn_rootless()) {
			cli_usage_error("run", "--systemd: an OS container needs root and a cgroup of its own; "
					"%s", o.userns ? "--userns=auto is not supported with it"
						      : "rootless cairn cannot give it one (use --systemd=false)");
			goto free_spec;
		}
		o.init = false;
		systemd = true;
	}
	run = (struct ctr_run){
		.ref = ref, .img = &img, .spec = &spec, .name = o.name, .hostname = o.hostname,
		.network = o.network, .mounts = mounts, .nmounts = nmounts,
		.net = o.network_name ? &def.conf : NULL, .network_name = network_name(&o, &def),
		.aliases = &o.aliases, .ports = ports, .nports = nports,
		.interactive = o.interactive, .tty = o.tty, .read_only = o.read_only, .auto_remove = o.rm,
		.init = o.init, .systemd = systemd,
		.stop_timeout = o.stop_timeout, .limits = sb_limits_any(&o.limits) ? &o.limits : NULL,
		.idmap = o.userns ? &o.idmap : NULL,
		.security = o.security_set ? &o.security : NULL,
		.rlimits = o.step.rlimits, .nrlimits = o.step.nrlimits, .shm_size = o.step.shm_size,
		.extra_hosts = &o.step.add_hosts, .dns = &o.dns,
		.mute_stdout = o.attach_set && !o.attach_out, .mute_stderr = o.attach_set && !o.attach_err,
		.restart = o.restart, .restart_max = o.restart_max,
		.labels = &o.rh.labels, .volumes = &volumes, .health = &health,
	};
	if (o.detach) {
		char id[CTR_ID_LEN + 1];
		if (ctr_run_detached(&st, &run, id, &err) < 0) {
			cli_fail(&err);
			rc = ctr_fail_status(&err);
		} else {
			printf("%s\n", id);
			rc = 0;
		}
		goto free_spec;
	}
	if (o.tty && o.interactive)
		cli_term_raw(&term);
	r = ctr_run_attached(&st, &run, &ex, &err);
	cli_term_restore(&term);
	if (r < 0) {
		cli_fail(&err);
		cli_rootless_note(&err);
		rc = ctr_fail_status(&err);
	} else if (ex.oom_killed) {
		fprintf(stderr, "error: out of memory: the container was killed at its --memory limit\n");
		rc = ex.status;
	} else {
		rc = ex.status;
	}
free_spec:
	ctr_health_conf_free(&health);
	ctr_spec_free(&spec);
free_image:
	store_image_free(&img);
close_store:
	net_ports_release(held, nheld);
	net_def_free(&def);
	store_close(&st);
free_opts:
	run_opts_free(&o);
	return rc;
}
