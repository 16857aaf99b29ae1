/* cairn compose up, run, start, restart: services become `cairn run -d`
 * containers. Each service's flags are translated once (run_args); their
 * hash with the image's digest is the config-hash label, so `up` keeps a
 * container whose service and image did not change (docker compose's
 * "Running") and recreates the others. */
#include "cli/compose_cmd.h"
#include "store/image.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/interrupt.h"
#include "util/mem.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* NS as --health-* durations read: "30s", "1500ms". */
static void push_duration(cn_strv *v, const char *flag, long long ns)
{
	if (ns < 0)
		return;
	cn_strv_pushdup(v, flag);
	if (ns % 1000000000LL == 0)
		cn_strv_push(v, cn_xasprintf("%llds", ns / 1000000000LL));
	else if (ns % 1000000LL == 0)
		cn_strv_push(v, cn_xasprintf("%lldms", ns / 1000000LL));
	else
		cn_strv_push(v, cn_xasprintf("%lldus", (ns + 999) / 1000));
}

/* healthcheck: as --health-cmd: the shell form's string, else a JSON array
 * ["CMD", ...] (the exec form, as the health flags take it). */
static void push_health(cn_strv *v, const struct cmp_health *h)
{
	if (!h->set)
		return;
	if (h->disable) {
		cn_strv_pushdup(v, "--no-healthcheck");
		return;
	}
	if (h->test.n) {
		if (h->shell) {
			cc_push2(v, "--health-cmd", h->test.v[0]);
		} else {
			json_t *a = json_array();
			char *s;
			json_array_append_new(a, json_string("CMD"));
			for (size_t i = 0; i < h->test.n; i++)
				json_array_append_new(a, json_string(h->test.v[i]));
			s = json_dumps(a, JSON_COMPACT);
			json_decref(a);
			cc_push2(v, "--health-cmd", s ? s : "[]");
			free(s);
		}
	}
	push_duration(v, "--health-interval", h->interval_ns);
	push_duration(v, "--health-timeout", h->timeout_ns);
	push_duration(v, "--health-start-period", h->start_period_ns);
	push_duration(v, "--health-start-interval", h->start_interval_ns);
	if (h->retries >= 0) {
		cn_strv_pushdup(v, "--health-retries");
		cn_strv_push(v, cn_xasprintf("%d", h->retries));
	}
}

/* What only one service of a project needs saying. */
static void warn_rootless(struct cc *c)
{
	if (c->warned_rootless)
		return;
	c->warned_rootless = true;
	fprintf(stderr, "warning: rootless: every service uses the host's network (networks, aliases and "
			"published ports need root); services reach each other on localhost\n");
}

/* The network flags of SVC; -1 after printing what cannot be done. */
static int push_network(struct cc *c, const struct cmp_service *svc, bool ports, cn_strv *v)
{
	const char *mode = svc->network_mode;
	if (mode && (!strncmp(mode, "service:", 8) || !strncmp(mode, "container:", 10))) {
		fprintf(stderr, "error: service %s: network_mode '%s' is not supported (host, none)\n",
			cli_esc(svc->name), cli_esc(mode));
		return -1;
	}
	if (c->rootless && (!mode || !strcmp(mode, "host") || !strcmp(mode, "bridge"))) {
		warn_rootless(c);
		cc_push2(v, "--network", "host");
		return 0;
	}
	if (mode && strcmp(mode, "bridge")) {
		cc_push2(v, "--network", mode);
		return 0;
	}
	if (svc->nnetworks) {
		const struct cmp_service_net *sn = &svc->networks[0];
		const struct cmp_network *net = cmp_network_find(&c->p, sn->key);
		if (!net) {
			fprintf(stderr, "error: service %s refers to undefined network %s\n", cli_esc(svc->name),
				cli_esc(sn->key));
			return -1;
		}
		if (svc->nnetworks > 1)
			fprintf(stderr, "warning: service %s: only its first network (%s) is joined: a cairn "
					"container has one network\n", cli_esc(svc->name), cli_esc(sn->key));
		cc_push2(v, "--network", net->name);
		cc_push2(v, "--network-alias", svc->name);
		cc_push_each(v, "--network-alias", &sn->aliases);
	}
	if (ports)
		cc_push_each(v, "-p", &svc->ports);
	return 0;
}

/* `cairn run -d` options for SVC (OV: compose run's overrides), without
 * the name and labels; the image and arguments into TAIL. */
struct run_over {
	bool oneoff, ports;
	const char *entrypoint;         /* --entrypoint, or NULL */
	char **cmd;                     /* NULL: the service's command */
	int ncmd;
	const cn_strv *env;             /* -e */
	const char *user, *workdir;
};

static int run_args(struct cc *c, const struct cmp_service *svc, const struct run_over *ov, cn_strv *v, cn_strv *tail)
{
	_cleanup_free_ char *image = cc_image_name(c, svc);
	if (push_network(c, svc, ov->ports, v) < 0)
		return -1;
	if (svc->hostname)
		cc_push2(v, "--hostname", svc->hostname);
	cc_push_each(v, "-e", &svc->environment);
	if (ov->env)
		cc_push_each(v, "-e", ov->env);
	if (ov->user || svc->user)
		cc_push2(v, "-u", ov->user ? ov->user : svc->user);
	if (ov->workdir || svc->working_dir)
		cc_push2(v, "-w", ov->workdir ? ov->workdir : svc->working_dir);
	cc_push_each(v, "-v", &svc->volumes);
	cc_push_each(v, "--mount", &svc->mounts);
	cc_push_each(v, "--tmpfs", &svc->tmpfs);
	if (svc->read_only)
		cn_strv_pushdup(v, "--read-only");
	if (svc->init)
		cn_strv_pushdup(v, "--init");
	if (svc->privileged)
		cn_strv_pushdup(v, "--privileged");
	cc_push_each(v, "--cap-add", &svc->cap_add);
	cc_push_each(v, "--cap-drop", &svc->cap_drop);
	if (svc->mem_limit)
		cn_strv_push(v, cn_xasprintf("--memory=%lld", svc->mem_limit));
	if (svc->cpus)
		cc_push2(v, "--cpus", svc->cpus);
	if (svc->pids_limit)
		cn_strv_push(v, cn_xasprintf("--pids-limit=%lld", svc->pids_limit));
	cc_push_each(v, "--add-host", &svc->extra_hosts);
	cc_push_each(v, "--dns", &svc->dns);
	cc_push_each(v, "--label", &svc->labels);
	if (svc->restart && !ov->oneoff)
		cc_push2(v, "--restart", svc->restart);
	if (svc->stop_grace_period_ns >= 0)
		cn_strv_push(v, cn_xasprintf("--stop-timeout=%lld", (svc->stop_grace_period_ns + 999999999LL) / 1000000000LL));
	if (svc->stop_signal)
		fprintf(stderr, "warning: service %s: stop_signal is not supported yet; the image's STOPSIGNAL "
				"(or SIGTERM) stops it\n", cli_esc(svc->name));
	push_health(v, &svc->health);
	if (svc->platform)
		cc_push2(v, "--platform", svc->platform);
	/* The entrypoint: cairn run's --entrypoint is one word (docker's); the
	 * rest of a list goes before the command, which then replaces the
	 * image's CMD as compose does. */
	{
		const cn_strv *ep = &svc->entrypoint;
		cn_strv one = { 0 };
		if (ov->entrypoint) {
			cn_strv_pushdup(&one, ov->entrypoint);
			ep = &one;
		}
		if (ov->entrypoint || svc->has_entrypoint)
			cc_push2(v, "--entrypoint", ep->n ? ep->v[0] : "");
		cn_strv_pushdup(tail, image);
		for (size_t i = 1; i < ep->n && (ov->entrypoint || svc->has_entrypoint); i++)
			cn_strv_pushdup(tail, ep->v[i]);
		cn_strv_free(&one);
	}
	if (ov->cmd)
		for (int i = 0; i < ov->ncmd; i++)
			cn_strv_pushdup(tail, ov->cmd[i]);
	else if (svc->has_command)
		for (size_t i = 0; i < svc->command.n; i++)
			cn_strv_pushdup(tail, svc->command.v[i]);
	return 0;
}

/* sha256 over the options, image and arguments and the image's digest. */
static void config_hash(const cn_strv *v, const cn_strv *tail, const char *digest, char out[CN_DIGEST_STR_SIZE])
{
	cn_sha256 h;
	cn_sha256_init(&h);
	for (size_t i = 0; i < v->n; i++)
		cn_sha256_update(&h, v->v[i], strlen(v->v[i]) + 1);
	cn_sha256_update(&h, "\n", 1);
	for (size_t i = 0; i < tail->n; i++)
		cn_sha256_update(&h, tail->v[i], strlen(tail->v[i]) + 1);
	cn_sha256_update(&h, digest, strlen(digest));
	cn_sha256_final(&h, out);
	cn_sha256_free(&h);
}

/* The whole `cairn run -d` of a service's container NAME. */
static int full_argv(struct cc *c, const struct cmp_service *svc, const char *name, const struct run_over *ov,
		     bool detach, bool rm, cn_strv *argv, char hash[CN_DIGEST_STR_SIZE])
{
	_cleanup_strv_ cn_strv v = { 0 }, tail = { 0 };
	char digest[CN_DIGEST_STR_SIZE];
	if (run_args(c, svc, ov, &v, &tail) < 0)
		return -1;
	cc_image_digest(c, tail.v[0], digest);
	config_hash(&v, &tail, digest, hash);
	cc_argv(c, argv);
	cn_strv_pushdup(argv, "run");
	if (detach)
		cn_strv_pushdup(argv, "-d");
	if (rm)
		cn_strv_pushdup(argv, "--rm");
	cc_push2(argv, "--name", name);
	cn_strv_push(argv, cn_xasprintf("--label=%s=%s", CC_LABEL_PROJECT, c->p.name));
	cn_strv_push(argv, cn_xasprintf("--label=%s=%s", CC_LABEL_SERVICE, svc->name));
	cn_strv_push(argv, cn_xasprintf("--label=%s=1", CC_LABEL_NUMBER));
	cn_strv_push(argv, cn_xasprintf("--label=%s=%s", CC_LABEL_ONEOFF, ov->oneoff ? "True" : "False"));
	cn_strv_push(argv, cn_xasprintf("--label=%s=%s", CC_LABEL_HASH, cn_digest_hex(hash)));
	for (size_t i = 0; i < v.n; i++)
		cn_strv_pushdup(argv, v.v[i]);
	/* the image and the arguments are never taken for flags */
	cn_strv_pushdup(argv, "--");
	for (size_t i = 0; i < tail.n; i++)
		cn_strv_pushdup(argv, tail.v[i]);
	return 0;
}

/* NAME's state: 1 found (S filled), 0 none, -1 error (printed). */
static int lookup(struct cc *c, const char *name, struct ctr_state *s)
{
	struct store st;
	cn_err err;
	int r;
	if (cli_open_store(c->cli, &st) < 0)
		return -1;
	r = ctr_lookup(&st, name, s, &err);
	store_close(&st);
	if (r < 0)
		cli_fail(&err);
	/* A prefix of another container's id is not this container. */
	if (r > 0 && (!s->name || strcmp(s->name, name))) {
		ctr_state_free(s);
		return 0;
	}
	return r;
}

/* `cairn CMD [SUB] [OPT] -- NAME`: NAME (from the file) is never a flag. */
static int simple(struct cc *c, const char *cmd, const char *sub, const char *opt, const char *name, enum cc_out out)
{
	_cleanup_strv_ cn_strv argv = { 0 };
	cc_argv(c, &argv);
	cn_strv_pushdup(&argv, cmd);
	if (sub)
		cn_strv_pushdup(&argv, sub);
	if (opt)
		cn_strv_pushdup(&argv, opt);
	cn_strv_pushdup(&argv, "--");
	cn_strv_pushdup(&argv, name);
	return cc_run(c, &argv, out, NULL);
}

/* Wait for the dependency D of SVC as its condition says. */
static int wait_dependency(struct cc *c, const struct cmp_service *svc, const struct cmp_depends *d)
{
	const struct cmp_service *dep = cmp_service_find(&c->p, d->service);
	_cleanup_free_ char *name = NULL;
	bool said = false;
	if (!dep)
		return 0;       /* required: false, and not in the project */
	name = cc_container_name(c, dep);
	for (;;) {
		struct ctr_state s = { .name = NULL };
		enum ctr_status st;
		int r = lookup(c, name, &s);
		if (r < 0)
			return -1;
		if (r == 0) {
			if (!d->required)
				return 0;
			fprintf(stderr, "error: service %s depends on %s, which has no container\n", cli_esc(svc->name),
				cli_esc(dep->name));
			return -1;
		}
		st = ctr_effective_status(&s);
		if (d->condition == CMP_COND_STARTED ||
		    (d->condition == CMP_COND_HEALTHY && st == CTR_RUNNING && s.health && !strcmp(s.health, "healthy"))) {
			ctr_state_free(&s);
			if (said)
				fprintf(stderr, " Container %s  Healthy\n", cli_esc(name));
			return 0;
		}
		if (d->condition == CMP_COND_HEALTHY) {
			const char *why = st == CTR_EXITED ? "exited" : !s.health ? "has no healthcheck configured"
							    : !strcmp(s.health, "unhealthy") ? "is unhealthy" : NULL;
			if (why) {
				if (st == CTR_EXITED)
					fprintf(stderr, "error: dependency failed to start: container %s exited (%d)\n",
						cli_esc(name), s.exit_code);
				else if (!s.health)
					fprintf(stderr, "error: container %s has no healthcheck configured\n", cli_esc(name));
				else
					fprintf(stderr, "error: dependency failed to start: container %s is unhealthy\n",
						cli_esc(name));
				ctr_state_free(&s);
				return -1;
			}
		} else if (st == CTR_EXITED) {
			int code = s.status == CTR_EXITED ? s.exit_code : -1;
			ctr_state_free(&s);
			if (code == 0) {
				fprintf(stderr, " Container %s  Exited\n", cli_esc(name));
				return 0;
			}
			fprintf(stderr, "error: service \"%s\" didn't complete successfully: exit %d\n",
				cli_esc(dep->name), code);
			return -1;
		}
		ctr_state_free(&s);
		if (!said) {
			fprintf(stderr, " Container %s  Waiting\n", cli_esc(name));
			said = true;
		}
		if (cn_interrupted()) {
			fprintf(stderr, "error: interrupted\n");
			return -1;
		}
		usleep(200 * 1000);
	}
}

/* SVC's container: kept when running with the same hash (unless
 * RECREATE), else removed and run again. ONLY_EXISTING: start's rule,
 * nothing for a service without a container. */
static int converge(struct cc *c, const struct cmp_service *svc, bool recreate, bool only_existing)
{
	static const struct run_over ov = { .ports = true };
	_cleanup_strv_ cn_strv argv = { 0 };
	_cleanup_free_ char *name = cc_container_name(c, svc);
	struct ctr_state s = { .name = NULL };
	char hash[CN_DIGEST_STR_SIZE];
	const char *done = "Started";
	int r;
	for (size_t i = 0; i < svc->ndepends; i++)
		if (wait_dependency(c, svc, &svc->depends_on[i]) < 0)
			return -1;
	if (full_argv(c, svc, name, &ov, true, false, &argv, hash) < 0)
		return -1;
	r = lookup(c, name, &s);
	if (r < 0)
		return -1;
	if (r == 0 && only_existing)
		return 0;
	if (r > 0) {
		const char *old = cc_label(&s, CC_LABEL_HASH);
		bool same = old && !strcmp(old, cn_digest_hex(hash));
		enum ctr_status st = ctr_effective_status(&s);
		ctr_state_free(&s);
		if (same && st != CTR_EXITED && !recreate) {
			fprintf(stderr, " Container %s  Running\n", cli_esc(name));
			return 0;
		}
		if (only_existing && st != CTR_EXITED)
			return 0;
		/* A cairn container does not start twice: it is stopped as `stop`
		 * would (its stop signal, then its timeout), its state goes and the
		 * service runs afresh from its image. */
		if ((st != CTR_EXITED && simple(c, "stop", NULL, NULL, name, CC_QUIET) != 0) ||
		    simple(c, "rm", NULL, "-f", name, CC_QUIET) != 0)
			return -1;
		if (!same)
			done = "Recreated";
	}
	if (cc_run(c, &argv, CC_QUIET, NULL) != 0) {
		fprintf(stderr, "error: service %s: its container did not start\n", cli_esc(svc->name));
		return -1;
	}
	fprintf(stderr, " Container %s  %s\n", cli_esc(name), done);
	return 0;
}

/* `cairn network inspect` / `volume inspect` say whether it exists. */
static bool exists(struct cc *c, const char *kind, const char *name)
{
	return simple(c, kind, "inspect", NULL, name, CC_SILENT) == 0;
}

static int ensure_networks(struct cc *c, const bool *sel)
{
	if (c->rootless)
		return 0;
	for (size_t n = 0; n < c->p.nnetworks; n++) {
		const struct cmp_network *net = &c->p.networks[n];
		_cleanup_strv_ cn_strv argv = { 0 };
		bool used = false;
		for (size_t i = 0; i < c->p.nservices && !used; i++) {
			const struct cmp_service *s = &c->p.services[i];
			if (sel[i] && !s->network_mode && s->nnetworks && !strcmp(s->networks[0].key, net->key))
				used = true;
		}
		if (!used || exists(c, "network", net->name))
			continue;
		if (net->external) {
			fprintf(stderr, "error: network %s declared as external, but could not be found\n",
				cli_esc(net->name));
			return -1;
		}
		cc_argv(c, &argv);
		cc_push2(&argv, "network", "create");
		cn_strv_push(&argv, cn_xasprintf("--label=%s=%s", CC_LABEL_PROJECT, c->p.name));
		cn_strv_push(&argv, cn_xasprintf("--label=%s=%s", CC_LABEL_NETWORK, net->key));
		cc_push_each(&argv, "--label", &net->labels);
		if (net->subnet)
			cc_push2(&argv, "--subnet", net->subnet);
		if (net->internal)
			cn_strv_pushdup(&argv, "--internal");
		cn_strv_pushdup(&argv, "--");
		cn_strv_pushdup(&argv, net->name);
		if (cc_run(c, &argv, CC_QUIET, NULL) != 0)
			return -1;
		fprintf(stderr, " Network %s  Created\n", cli_esc(net->name));
	}
	return 0;
}

static int ensure_volumes(struct cc *c)
{
	for (size_t i = 0; i < c->p.nvolumes; i++) {
		const struct cmp_volume *vol = &c->p.volumes[i];
		_cleanup_strv_ cn_strv argv = { 0 };
		if (exists(c, "volume", vol->name))
			continue;
		if (vol->external) {
			fprintf(stderr, "error: external volume \"%s\" not found\n", cli_esc(vol->name));
			return -1;
		}
		cc_argv(c, &argv);
		cc_push2(&argv, "volume", "create");
		cn_strv_push(&argv, cn_xasprintf("--label=%s=%s", CC_LABEL_PROJECT, c->p.name));
		cn_strv_push(&argv, cn_xasprintf("--label=%s=%s", CC_LABEL_VOLUME, vol->key));
		cc_push_each(&argv, "--label", &vol->labels);
		cn_strv_pushdup(&argv, "--");
		cn_strv_pushdup(&argv, vol->name);
		if (cc_run(c, &argv, CC_QUIET, NULL) != 0)
			return -1;
		fprintf(stderr, " Volume \"%s\"  Created\n", cli_esc(vol->name));
	}
	return 0;
}

/* Images of services without a build: section, pulled when missing. */
static int ensure_images(struct cc *c, const bool *sel)
{
	for (size_t i = 0; i < c->p.nservices; i++) {
		const struct cmp_service *s = &c->p.services[i];
		char digest[CN_DIGEST_STR_SIZE];
		if (!sel[i] || s->build)
			continue;
		if (!s->image) {
			fprintf(stderr, "error: service %s has neither an image nor a build context specified\n",
				cli_esc(s->name));
			return -1;
		}
		cc_image_digest(c, s->image, digest);
		if (digest[0])
			continue;
		fprintf(stderr, " Service %s  Pulling\n", cli_esc(s->name));
		if (simple(c, "pull", NULL, NULL, s->image, CC_QUIET) != 0) {
			fprintf(stderr, "error: service %s: image %s could not be pulled\n", cli_esc(s->name),
				cli_esc(s->image));
			return -1;
		}
	}
	return 0;
}

int cc_up(struct cc *c, const bool *sel, bool recreate_all, bool no_build)
{
	_cleanup_free_ size_t *order = cn_xcalloc(c->p.nservices + 1, sizeof(*order));
	int rc = 0;
	if (cc_depends_order(c, order) < 0)
		return EXIT_FAIL;
	if (!no_build && cc_build(c, sel, true, 0, false, false) != 0)
		return EXIT_FAIL;
	if (ensure_images(c, sel) < 0 || ensure_networks(c, sel) < 0 || ensure_volumes(c) < 0)
		return EXIT_FAIL;
	cn_interrupt_install();
	for (size_t k = 0; k < c->p.nservices && !rc; k++) {
		size_t i = order[k];
		if (!sel[i])
			continue;
		/* Ctrl-C (or SIGTERM to compose alone) between two services: no
		 * further one starts */
		if (cn_interrupted() || converge(c, &c->p.services[i], recreate_all, false) < 0)
			rc = EXIT_FAIL;
	}
	if (cn_interrupted()) {
		fprintf(stderr, "error: interrupted\n");
		rc = 130;
	}
	return rc;
}

/* --wait: every selected container running, and healthy when it has a
 * check; an exited or unhealthy one fails. */
static int wait_all(struct cc *c, const bool *sel)
{
	for (size_t i = 0; i < c->p.nservices; i++) {
		_cleanup_free_ char *name = NULL;
		if (!sel[i])
			continue;
		name = cc_container_name(c, &c->p.services[i]);
		for (;;) {
			struct ctr_state s = { .name = NULL };
			enum ctr_status st;
			int r = lookup(c, name, &s);
			bool ok, bad;
			if (r <= 0)
				return -1;
			st = ctr_effective_status(&s);
			/* a one-shot service that ended well is done, as compose's --wait */
			ok = (st == CTR_RUNNING && (!s.health || !strcmp(s.health, "healthy"))) ||
			     (st == CTR_EXITED && s.status == CTR_EXITED && s.exit_code == 0);
			bad = st == CTR_EXITED || (s.health && !strcmp(s.health, "unhealthy"));
			ctr_state_free(&s);
			if (ok) {
				fprintf(stderr, " Container %s  %s\n", cli_esc(name), st == CTR_EXITED ? "Exited" : "Healthy");
				break;
			}
			if (bad) {
				fprintf(stderr, "error: container %s is %s\n", cli_esc(name),
					st == CTR_EXITED ? "exited" : "unhealthy");
				return -1;
			}
			if (cn_interrupted())
				return -1;
			usleep(200 * 1000);
		}
	}
	return 0;
}

int cc_cmd_up(struct cc *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "detach", no_argument, NULL, 'd' },
		{ "build", no_argument, NULL, 'b' },
		{ "no-build", no_argument, NULL, 'B' },
		{ "force-recreate", no_argument, NULL, 'F' },
		{ "wait", no_argument, NULL, 'w' },
		{ "no-deps", no_argument, NULL, 'n' },
		{ "remove-orphans", no_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_free_ bool *sel = cn_xcalloc(c->p.nservices + 1, sizeof(*sel));
	bool detach = false, build = false, no_build = false, recreate = false, wait = false, no_deps = false;
	bool remove_orphans = false;
	int ch, rc;
	while ((ch = getopt_long(argc, argv, "+d", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': detach = true; break;
		case 'b': build = true; break;
		case 'B': no_build = true; break;
		case 'F': recreate = true; break;
		case 'w': wait = detach = true; break;
		case 'n': no_deps = true; break;
		case 'o': remove_orphans = true; break;
		default: return cli_usage_error("compose", "up: invalid option");
		}
	}
	if (build && no_build)
		return cli_usage_error("compose", "up: --build and --no-build conflict");
	if (cc_select(c, argv + optind, argc - optind, !no_deps, sel) < 0)
		return EXIT_FAIL;
	if (build && cc_build(c, sel, false, 0, false, false) != 0)
		return EXIT_FAIL;
	/* containers of services no longer in the file: a warning, or gone */
	if (cc_orphans(c, remove_orphans, -1, false) != 0)
		return EXIT_FAIL;
	rc = cc_up(c, sel, recreate, no_build || build);
	if (rc || (detach && !wait))
		return rc;
	if (wait)
		return wait_all(c, sel) < 0 ? EXIT_FAIL : 0;
	rc = cc_logs(c, sel, true, -1, true, true);
	/* Ctrl-C: stopped, as docker compose exits then */
	return rc ? rc : cn_interrupted() ? 130 : 0;
}

int cc_cmd_start(struct cc *c, int argc, char **argv)
{
	_cleanup_free_ size_t *order = cn_xcalloc(c->p.nservices + 1, sizeof(*order));
	_cleanup_free_ bool *sel = cn_xcalloc(c->p.nservices + 1, sizeof(*sel));
	if (argc > 1 && argv[1][0] == '-')
		return cli_usage_error("compose", "start: invalid option '%s'", argv[1]);
	if (cc_select(c, argv + 1, argc - 1, false, sel) < 0 || cc_depends_order(c, order) < 0)
		return EXIT_FAIL;
	cn_interrupt_install();
	for (size_t k = 0; k < c->p.nservices; k++)
		if (sel[order[k]] && converge(c, &c->p.services[order[k]], false, true) < 0)
			return EXIT_FAIL;
	return 0;
}

int cc_cmd_restart(struct cc *c, int argc, char **argv)
{
	_cleanup_free_ bool *sel = cn_xcalloc(c->p.nservices + 1, sizeof(*sel));
	_cleanup_free_ size_t *order = cn_xcalloc(c->p.nservices + 1, sizeof(*order));
	long timeout = -1;
	int ch;
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	while ((ch = getopt_long(argc, argv, "+t:", opts, NULL)) != -1) {
		if (ch != 't')
			return cli_usage_error("compose", "restart: invalid option");
		if (cc_parse_timeout(optarg, &timeout))
			return EXIT_USAGE;
	}
	if (cc_select(c, argv + optind, argc - optind, false, sel) < 0)
		return EXIT_FAIL;
	if (cc_stop(c, sel, timeout) != 0)
		return EXIT_FAIL;
	/* start's loop over the same services */
	if (cc_depends_order(c, order) < 0)
		return EXIT_FAIL;
	for (size_t k = 0; k < c->p.nservices; k++)
		if (sel[order[k]] && converge(c, &c->p.services[order[k]], false, true) < 0)
			return EXIT_FAIL;
	return 0;
}

int cc_cmd_run(struct cc *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rm", no_argument, NULL, 'r' },
		{ "detach", no_argument, NULL, 'd' },
		{ "no-TTY", no_argument, NULL, 'T' },
		{ "env", required_argument, NULL, 'e' },
		{ "name", required_argument, NULL, 'N' },
		{ "no-deps", no_argument, NULL, 'n' },
		{ "entrypoint", required_argument, NULL, 'E' },
		{ "user", required_argument, NULL, 'u' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "service-ports", no_argument, NULL, 'P' },
		{ "build", no_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_free_ bool *sel = cn_xcalloc(c->p.nservices + 1, sizeof(*sel));
	_cleanup_strv_ cn_strv env = { 0 }, full = { 0 };
	_cleanup_free_ char *name = NULL;
	struct run_over ov = { .oneoff = true, .env = &env };
	bool rm = false, detach = false, no_tty = false, no_deps = false, build = false;
	const struct cmp_service *svc;
	char hash[CN_DIGEST_STR_SIZE];
	long idx;
	int ch;
	while ((ch = getopt_long(argc, argv, "+de:u:w:Ti", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': rm = true; break;
		case 'd': detach = true; break;
		case 'T': no_tty = true; break;
		case 'i': break;        /* docker compose's default */
		case 'e': cn_strv_pushdup(&env, optarg); break;
		case 'N': name = cn_xstrdup(optarg); break;
		case 'n': no_deps = true; break;
		case 'E': ov.entrypoint = optarg; break;
		case 'u': ov.user = optarg; break;
		case 'w': ov.workdir = optarg; break;
		case 'P': ov.ports = true; break;
		case 'b': build = true; break;
		default: return cli_usage_error("compose", "run: invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("compose", "run: expected a service");
	svc = cmp_service_find(&c->p, argv[optind]);
	if (!svc) {
		fprintf(stderr, "error: no such service: %s\n", cli_esc(argv[optind]));
		return EXIT_FAIL;
	}
	idx = svc - c->p.services;
	if (optind + 1 < argc) {
		ov.cmd = argv + optind + 1;
		ov.ncmd = argc - optind - 1;
	}
	/* What it depends on runs first (as up would start it). */
	sel[idx] = true;
	if (build && cc_build(c, sel, false, 0, false, false) != 0)
		return EXIT_FAIL;
	if (!no_deps) {
		struct cmp_graph g;
		cn_err err;
		if (cc_depends_graph(c, &g, &err) < 0)
			return cli_fail(&err);
		cmp_graph_closure(&g, sel);
		cmp_graph_free(&g);
		sel[idx] = false;
		if (cc_up(c, sel, false, false) != 0)
			return EXIT_FAIL;
		for (size_t i = 0; i < svc->ndepends; i++)
			if (wait_dependency(c, svc, &svc->depends_on[i]) < 0)
				return EXIT_FAIL;
	}
	memset(sel, 0, c->p.nservices * sizeof(*sel));
	sel[idx] = true;
	if (cc_build(c, sel, true, 0, false, false) != 0 || ensure_images(c, sel) < 0 || ensure_networks(c, sel) < 0 ||
	    ensure_volumes(c) < 0)
		return EXIT_FAIL;
	if (!name) {
		unsigned char r[6];
		FILE *f = fopen("/dev/urandom", "re");
		if (!f || fread(r, 1, sizeof(r), f) != sizeof(r)) {
			if (f)
				fclose(f);
			fprintf(stderr, "error: /dev/urandom: %s\n", strerror(errno));
			return EXIT_FAIL;
		}
		fclose(f);
		name = cn_xasprintf("%s-%s-run-%02x%02x%02x%02x%02x%02x", c->p.name, svc->name, r[0], r[1], r[2], r[3],
				    r[4], r[5]);
	}
	if (full_argv(c, svc, name, &ov, detach, rm, &full, hash) < 0)
		return EXIT_FAIL;
	if (!detach) {
		/* -i (and -t on a terminal) go right after "run" */
		size_t at = 4;          /* cairn --root ROOT run */
		const char *flags = !no_tty && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) ? "-it" : "-i";
		cn_strv_pushdup(&full, "");
		free(full.v[full.n - 1]);
		memmove(full.v + at + 1, full.v + at, (full.n - 1 - at) * sizeof(*full.v));
		full.v[at] = cn_xstrdup(flags);
	}
	return cc_exec(c, &full);
}
