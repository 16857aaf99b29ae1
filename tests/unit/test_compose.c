/* The compose.yaml loader (src/compose/): a table of compose files with
 * the model they give (as a one-line-per-part dump) or the error and its
 * file:line:column; interpolation forms, .env and env_file, two-file
 * merges, anchors and merge keys, wrong types, unknown keys, a
 * billion-laughs document, a 10 MB file, invalid UTF-8, project names. */
#include "compose/compose.h"
#include "compose/compose_internal.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "unit.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[] = "/tmp/cairn-compose-XXXXXX";
static int basefd = -1;
static int ncase;

static void dump_strv(cn_buf *b, const char *what, const cn_strv *v)
{
	if (!v->n)
		return;
	cn_buf_addf(b, " %s=[", what);
	for (size_t i = 0; i < v->n; i++)
		cn_buf_addf(b, "%s%s", i ? "|" : "", v->v[i]);
	cn_buf_adds(b, "]");
}

static void dump_str(cn_buf *b, const char *what, const char *s)
{
	if (s)
		cn_buf_addf(b, " %s=%s", what, s);
}

/* The model as text, one line per part: what the checks look for. */
static char *dump(const struct cmp_project *p)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	cn_buf_addf(&b, "project %s files=%zu\n", p->name, p->files.n);
	for (size_t i = 0; i < p->nservices; i++) {
		const struct cmp_service *s = &p->services[i];
		cn_buf_addf(&b, "svc %s", s->name);
		dump_str(&b, "image", s->image);
		if (s->build) {
			dump_str(&b, "ctx", s->build->context);
			dump_str(&b, "dockerfile", s->build->dockerfile);
			dump_str(&b, "target", s->build->target);
			dump_strv(&b, "args", &s->build->args);
			dump_strv(&b, "secrets", &s->build->secrets);
		}
		if (s->has_command)
			dump_strv(&b, "cmd", &s->command);
		if (s->has_command && !s->command.n)
			cn_buf_adds(&b, " cmd=[]");
		dump_strv(&b, "ent", &s->entrypoint);
		dump_strv(&b, "env", &s->environment);
		dump_strv(&b, "ports", &s->ports);
		dump_strv(&b, "vols", &s->volumes);
		dump_strv(&b, "tmpfs", &s->tmpfs);
		dump_strv(&b, "labels", &s->labels);
		dump_strv(&b, "caps", &s->cap_add);
		dump_strv(&b, "hosts", &s->extra_hosts);
		dump_str(&b, "restart", s->restart);
		dump_str(&b, "netmode", s->network_mode);
		dump_str(&b, "user", s->user);
		if (s->read_only)
			cn_buf_adds(&b, " ro");
		for (size_t j = 0; j < s->nnetworks; j++) {
			cn_buf_addf(&b, " net=%s", s->networks[j].key);
			dump_strv(&b, "aliases", &s->networks[j].aliases);
		}
		for (size_t j = 0; j < s->ndepends; j++)
			cn_buf_addf(&b, " dep=%s:%d", s->depends_on[j].service, (int)s->depends_on[j].condition);
		if (s->health.set) {
			cn_buf_addf(&b, " health=%s%s", s->health.disable ? "off" : s->health.shell ? "shell" : "cmd",
				    "");
			dump_strv(&b, "test", &s->health.test);
			cn_buf_addf(&b, " interval=%lld retries=%d", s->health.interval_ns, s->health.retries);
		}
		if (s->mem_limit)
			cn_buf_addf(&b, " mem=%lld", s->mem_limit);
		dump_str(&b, "cpus", s->cpus);
		if (s->stop_grace_period_ns >= 0)
			cn_buf_addf(&b, " grace=%lld", s->stop_grace_period_ns);
		cn_buf_adds(&b, "\n");
	}
	for (size_t i = 0; i < p->nnetworks; i++)
		cn_buf_addf(&b, "net %s=%s%s%s\n", p->networks[i].key, p->networks[i].name,
			    p->networks[i].internal ? " internal" : "", p->networks[i].external ? " external" : "");
	for (size_t i = 0; i < p->nvolumes; i++)
		cn_buf_addf(&b, "vol %s=%s\n", p->volumes[i].key, p->volumes[i].name);
	return cn_buf_detach(&b);
}

struct load {
	const char *files[3];           /* texts of compose.yaml, then -f extra files */
	const char *dotenv;             /* .env, or NULL */
	const char *env[6];             /* the shell's environment */
	const char *pname;              /* -p */
	const char *dir;                /* the case directory's name (default caseN) */
	bool discover;                  /* no -f: the default names */
	const char *extra[4];           /* more files: "NAME", "TEXT" pairs */
	const char *link[2];            /* a symlink: NAME, TARGET */
};

static cn_err err;
static cn_strv warnings;

/* Write the case's files in a fresh directory and load it: the dump, or
 * NULL with err set. */
static char *load(const struct load *l)
{
	_cleanup_free_ char *dir = NULL;
	char name[64];
	const char *paths[3] = { 0 };
	char *pbuf[3] = { 0 };
	char *envp[8] = { 0 };
	struct cmp_project p = { 0 };
	struct cmp_load_opts o = { 0 };
	size_t nf = 0;
	char *out = NULL;
	int dfd;

	if (l->dir)
		snprintf(name, sizeof(name), "%s", l->dir);
	else
		snprintf(name, sizeof(name), "case%d", ++ncase);
	dfd = unit_fresh_dir(basefd, name, 0755);
	dir = cn_xasprintf("%s/%s", base, name);
	for (size_t i = 0; i < 3 && l->files[i]; i++) {
		static const char *const fn[] = { "compose.yaml", "override.yaml", "third.yaml" };
		unit_put(dfd, fn[i], l->files[i], 0644);
		pbuf[i] = cn_xasprintf("%s/%s", dir, fn[i]);
		paths[nf++] = pbuf[i];
	}
	for (size_t i = 0; i + 1 < 4 && l->extra[i]; i += 2)
		unit_put(dfd, l->extra[i], l->extra[i + 1], 0644);
	if (l->dotenv)
		unit_put(dfd, ".env", l->dotenv, 0644);
	if (l->link[0])
		unit_symlink(dfd, l->link[1], l->link[0]);
	for (size_t i = 0; i < 6 && l->env[i]; i++)
		envp[i] = (char *)(uintptr_t)l->env[i];
	close(dfd);
	o.files = l->discover ? NULL : paths;
	o.nfiles = l->discover ? 0 : nf;
	o.project_dir = l->discover ? dir : NULL;
	o.project_name = l->pname;
	o.environ = envp;
	cn_strv_free(&warnings);
	cn_err_clear(&err);
	if (cmp_project_load(&o, &p, &warnings, &err) == 0) {
		out = dump(&p);
		cmp_project_free(&p);
	}
	for (size_t i = 0; i < 3; i++)
		free(pbuf[i]);
	return out;
}

static void expect(const char *what, const struct load *l, const char *const *wants)
{
	_cleanup_free_ char *got = load(l);
	bool ok = got != NULL;
	for (size_t i = 0; ok && wants[i]; i++)
		if (!strstr(got, wants[i])) {
			printf("#   missing: %s\n", wants[i]);
			ok = false;
		}
	UNIT_CHECK(ok, "%s", what);
	if (!ok)
		printf("#   got: %s\n", got ? got : err.msg);
}

static void expect_err(const char *what, const struct load *l, enum cn_err_kind kind, const char *want)
{
	_cleanup_free_ char *got = load(l);
	UNIT_CHECK(!got && err.kind == kind && strstr(err.msg, want), "%s: error with \"%s\"", what, want);
	if (got || !strstr(err.msg, want) || err.kind != kind)
		printf("#   got: %s (kind %d)\n", got ? got : err.msg, (int)err.kind);
}

static void expect_warning(const char *what, const char *want)
{
	bool found = false;
	for (size_t i = 0; i < warnings.n && !found; i++)
		found = strstr(warnings.v[i], want) != NULL;
	UNIT_CHECK(found, "%s: warning with \"%s\"", what, want);
	for (size_t i = 0; !found && i < warnings.n; i++)
		printf("#   warning: %s\n", warnings.v[i]);
}

#define WANT(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define FILES(...) .files = { __VA_ARGS__ }
#define ENV(...) .env = { __VA_ARGS__ }

static void test_valid(void)
{
	expect("a basic file: image, ports, environment, command split, depends_on, healthcheck",
	       &(struct load){ .dir = "My.App_1", FILES(
		"services:\n"
		"  web:\n"
		"    image: nginx:1.25\n"
		"    ports: [\"8080:80\", \"127.0.0.1:8443:443/tcp\", 9000]\n"
		"    environment:\n"
		"      - A=1\n"
		"      - B\n"
		"    command: sh -c 'echo \"hi there\"'\n"
		"    depends_on:\n"
		"      db:\n"
		"        condition: service_healthy\n"
		"    restart: on-failure:3\n"
		"    stop_grace_period: 1m30s\n"
		"  db:\n"
		"    image: postgres\n"
		"    healthcheck:\n"
		"      test: [\"CMD-SHELL\", \"pg_isready -U app\"]\n"
		"      interval: 2s\n"
		"      retries: 5\n"
		"    deploy: {resources: {limits: {memory: 512m, cpus: '0.5'}}}\n"
		"    read_only: true\n"
		"    networks: {back: {aliases: [database]}}\n"
		"networks:\n"
		"  back: {internal: true}\n"), ENV("B=from-shell") },
	       WANT("project myapp_1 files=1",
		    "svc web image=nginx:1.25 cmd=[sh|-c|echo \"hi there\"] env=[A=1|B=from-shell] "
		    "ports=[8080:80|127.0.0.1:8443:443/tcp|9000] restart=on-failure:3 net=default dep=db:1 "
		    "grace=90000000000",
		    "svc db image=postgres ro net=back aliases=[database] health=shell test=[pg_isready -U app] "
		    "interval=2000000000 retries=5 mem=536870912 cpus=0.5",
		    "net back=myapp_1_back internal", "net default=myapp_1_default"));

	expect("build: a string context, a mapping with args, secrets; volumes named, bind, tmpfs",
	       &(struct load){ FILES(
		"name: Shop\n"
		"services:\n"
		"  app:\n"
		"    build:\n"
		"      context: ./app\n"
		"      dockerfile: Buildfile\n"
		"      args: {VERSION: 2, EMPTY: , FROMENV: }\n"
		"      secrets: [token]\n"
		"    volumes:\n"
		"      - data:/var/lib/data\n"
		"      - ./conf:/etc/app:ro\n"
		"      - type: tmpfs\n"
		"        target: /run/cache\n"
		"        tmpfs: {size: 1m}\n"
		"      - /anon\n"
		"    network_mode: host\n"
		"  base:\n"
		"    build: ./base\n"
		"volumes:\n"
		"  data:\n"
		"secrets:\n"
		"  token: {file: ./token.txt}\n"), ENV("FROMENV=shell") },
	       WANT("project shop ", "args=[VERSION=2|EMPTY|FROMENV=shell] secrets=[id=token,src=/tmp/cairn-compose-",
		    "/token.txt]", "/app dockerfile=Buildfile", "vols=[shop_data:/var/lib/data|/tmp/cairn-compose-",
		    "/conf:/etc/app:ro|/anon] tmpfs=[/run/cache:size=1048576] netmode=host\n",
		    "/base net=default\n", "vol data=shop_data"));

	expect("long-form ports, an empty command list clears, external network keeps its name",
	       &(struct load){ FILES(
		"services:\n"
		"  a:\n"
		"    image: x\n"
		"    command: []\n"
		"    ports:\n"
		"      - {target: 80, published: \"8080\", host_ip: 127.0.0.1, protocol: udp}\n"
		"      - {target: 81, host_ip: \"::1\"}\n"
		"    networks: [outside, old]\n"
		"networks:\n"
		"  outside: {external: true}\n"
		"  old: {external: {name: legacy}}\n"), .pname = "p1", ENV("COMPOSE_PROJECT_NAME=other") },
	       WANT("project p1 ", "svc a image=x cmd=[] ports=[127.0.0.1:8080:80/udp|[::1]:81] net=outside net=old\n",
		    "net outside=outside external\n", "net old=legacy external\n"));
}

static void test_interpolation(void)
{
	expect("every form: $V ${V} :- - :+ + $$ nested, .env under the shell",
	       &(struct load){ FILES(
		"services:\n"
		"  a:\n"
		"    image: \"$IMG:${TAG}\"\n"
		"    labels:\n"
		"      - d1=${UNSET:-def}\n"
		"      - d2=${EMPTY:-def}\n"
		"      - d3=${EMPTY-def}\n"
		"      - d4=${SET:+alt}\n"
		"      - d5=${UNSET+alt}\n"
		"      - d6=$$HOME and $${X}\n"
		"      - d7=${UNSET:-${ALSO_UNSET:-${SET}}}\n"
		"      - d8=${FROMDOT} ${BOTH}\n"
		"      - d9=cost $5 ${SET}x\n"
		"      - d10=$UNSET_VAR.\n"), .dotenv = "FROMDOT=dot\nBOTH=dot\nTAG=9\n",
		ENV("IMG=busybox", "TAG=1.36", "EMPTY=", "SET=yes", "BOTH=shell") },
	       WANT("image=busybox:1.36 ", "labels=[d1=def|d2=def|d3=|d4=alt|d5=|d6=$HOME and ${X}|d7=yes|"
		    "d8=dot shell|d9=cost $5 yesx|d10=.]"));
	expect_warning("an unset variable", "compose.yaml:14: the \"UNSET_VAR\" variable is not set");
	expect("curly braces in defaults and alternatives (compose-go's cases)", &(struct load){ FILES(
		"services:\n"
		"  a:\n"
		"    image: x\n"
		"    labels:\n"
		"      - 'c1=${missing:-{\"json\":1}}'\n"
		"      - 'c2=${missing-{\"json\":1}}'\n"
		"      - 'c3=${JSON:-{\"json\":1}}'\n"
		"      - 'c4=${JSON-{\"json\":1}}'\n"
		"      - 'c5=${SET:-{\"a\":1}}'\n"
		"      - 'c6=${UNSET:+{x}}'\n"
		"      - 'c7=${SET:+{x}}'\n"
		"      - 'c8=${UNSET:-{}}'\n"
		"      - 'c9=${UNSET:-{}'\n"
		"      - 'c10=${UNSET:-{a}x'\n"), ENV("JSON={\"json\":2}", "SET=value") },
	       WANT("labels=[c1={\"json\":1}|c2={\"json\":1}|c3={\"json\":2}|c4={\"json\":2}|c5=value|c6=|c7={x}|"
		    "c8={}|c9={|c10={ax]"));

	expect_err("${VAR:?msg} when unset", &(struct load){ FILES(
		"services:\n  a:\n    image: ${REQ:?give REQ}\n") }, CN_ERR_INVALID,
		"compose.yaml:3:12: required variable REQ is missing a value: give REQ");
	expect_err("${VAR?msg} when unset", &(struct load){ FILES(
		"services:\n  a:\n    image: ${REQ?}\n") }, CN_ERR_INVALID, "required variable REQ is missing a value");
	expect("${VAR?msg} set but empty is fine", &(struct load){ FILES(
		"services:\n  a:\n    image: x${REQ?no}\n"), ENV("REQ=") }, WANT("image=x "));
	expect_err("a malformed ${", &(struct load){ FILES(
		"services:\n  a:\n    image: \"${oops\"\n") }, CN_ERR_INVALID,
		"compose.yaml:3:12: invalid interpolation format \"${oops\"");
	expect_err("${VAR/x/y} is not supported", &(struct load){ FILES(
		"services:\n  a:\n    image: \"${A/x/y}\"\n") }, CN_ERR_INVALID, "invalid interpolation format");
	expect("keys are not interpolated; the project name is", &(struct load){ FILES(
		"name: ${PN}\nservices:\n  a:\n    image: x\n    labels: {$K: v, p: \"${COMPOSE_PROJECT_NAME}\"}\n"),
		ENV("PN=Fancy-Name", "K=nope") },
	       WANT("project fancy-name ", "svc a image=x labels=[$K=v|p=fancy-name]"));
}

static void test_envfiles(void)
{
	expect("env_file syntax; environment wins over env_file",
	       &(struct load){ FILES(
		"services:\n"
		"  a:\n"
		"    image: x\n"
		"    env_file: [vars.env, {path: missing.env, required: false}, {path: raw.env, format: raw}]\n"
		"    environment: {OVER: env}\n"), ENV("SHELLV=sh"),
		.extra = { "vars.env",
			"# a comment\n"
			"export E1=plain value # comment\n"
			"E2='single $SHELLV #'\n"
			"E3=\"double\\t$SHELLV\\n${E1}\"\n"
			"E4=a#b\n"
			"SHELLV\n"
			"GONE\n"
			"OVER=file\n"
			"E5=\"multi\nline\"\n"
			"E6=\n",
			"raw.env", "R1='kept \"as is' # too\n" } },
	       WANT("env=[E1=plain value|E2=single $SHELLV #|E3=double\tsh\nplain value|E4=a#b|SHELLV=sh|"
		    "OVER=env|E5=multi\nline|E6=|R1='kept \"as is' # too]"));
	expect("a variable named twice: the last value, in the first place", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    env_file: d.env\n    environment: [A=1, B=2, A=3]\n"),
		.extra = { "d.env", "B=0\nC=c\nC=d\n" } }, WANT("env=[B=2|C=d|A=3]"));
	expect_err("a missing env_file", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    env_file: nope.env\n") }, CN_ERR_SYSTEM,
		"compose.yaml:4:15: env_file");
	expect_err("an unclosed quote in an env_file", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    env_file: bad.env\n"),
		.extra = { "bad.env", "A=1\nB=\"open\n" } }, CN_ERR_INVALID, "bad.env:2: the value has no closing \"");
}

/* .env at scale: a value doubling line after line stops at 1 MiB naming
 * the line; 50,000 lines each naming the first load (every lookup was a
 * scan of what came before). */
static void test_env_scale(void)
{
	cn_buf b;
	_cleanup_free_ char *got = NULL;
	cn_buf_init(&b, 0);
	cn_buf_adds(&b, "V0=");
	for (int i = 0; i < 1024; i++)
		cn_buf_addc(&b, 'x');
	cn_buf_adds(&b, "\n");
	for (int i = 1; i < 30; i++)
		cn_buf_addf(&b, "V%d=${V%d}${V%d}\n", i, i - 1, i - 1);
	expect_err("a .env value doubling line after line", &(struct load){ FILES("services: {a: {image: x}}\n"),
		.dotenv = b.data }, CN_ERR_TOO_BIG, "/.env:12: V11: interpolation gives a value over 1 MiB");
	cn_buf_free(&b);
	cn_buf_init(&b, 0);
	cn_buf_adds(&b, "BIG=");
	for (int i = 0; i < 600000; i++)
		cn_buf_addc(&b, 'y');
	cn_buf_adds(&b, "\n");
	expect_err("a compose value over 1 MiB", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    labels: [\"l=${BIG}${BIG}\"]\n"), .dotenv = b.data },
		   CN_ERR_TOO_BIG, "compose.yaml:4:14: interpolation gives a value over 1 MiB");
	cn_buf_free(&b);
	cn_buf_init(&b, 0);
	cn_buf_adds(&b, "E0=start\n");
	for (int i = 1; i < 50000; i++)
		cn_buf_addf(&b, "E%d=${E0}\n", i);
	got = load(&(struct load){ FILES("services:\n  a:\n    image: x\n    labels: [\"l=${E49999}\"]\n"),
		.dotenv = b.data });
	UNIT_CHECK(got && strstr(got, "labels=[l=start]"), "a 50,000-line .env, each line naming the first");
	if (!got)
		printf("#   got: %s\n", err.msg);
	cn_buf_free(&b);
	expect("a project name's unset variable is one warning", &(struct load){ FILES(
		"name: p${NOPE}\nservices: {a: {image: x}}\n") }, WANT("project p "));
	{
		size_t n = 0;
		for (size_t i = 0; i < warnings.n; i++)
			n += strstr(warnings.v[i], "\"NOPE\" variable is not set") != NULL;
		UNIT_CHECK(n == 1, "the NOPE warning once (%zu)", n);
	}
}

static void test_merge(void)
{
	expect("two files: maps merge, lists append, ports and volumes by key, command replaced, "
	       "environment by variable, !reset and !override",
	       &(struct load){ FILES(
		"services:\n"
		"  web:\n"
		"    image: nginx\n"
		"    command: [a, b]\n"
		"    ports: [\"8080:80\", \"9090:90\"]\n"
		"    volumes: [\"./a:/data\", \"./b:/keep\"]\n"
		"    environment: [A=1, B=2]\n"
		"    labels: {one: \"1\"}\n"
		"    cap_add: [NET_ADMIN]\n"
		"    restart: always\n"
		"    healthcheck: {test: [CMD, x, y], retries: 2}\n"
		"  db:\n"
		"    image: pg\n"
		"    dns: [1.1.1.1]\n",
		"services:\n"
		"  web:\n"
		"    image: nginx:2\n"
		"    command: c\n"
		"    ports: [\"8080:80\", \"7070:70\"]\n"
		"    volumes: [\"./c:/data\"]\n"
		"    environment: {B: 3, C: 4}\n"
		"    labels: [two=2]\n"
		"    cap_add: [NET_ADMIN, SYS_TIME]\n"
		"    restart: !reset null\n"
		"    healthcheck: {test: [CMD, z]}\n"
		"  db:\n"
		"    dns: !override [8.8.8.8]\n"
		"  new:\n"
		"    image: n\n"
		"    user: !reset x\n") },
	       WANT("project case", " files=2",
		    "svc web image=nginx:2 cmd=[c] env=[A=1|B=3|C=4] ports=[8080:80|9090:90|7070:70] "
		    "vols=[/tmp/cairn-compose-",
		    "/c:/data|/tmp/cairn-compose-", "/b:/keep] labels=[one=1|two=2] caps=[NET_ADMIN|SYS_TIME] "
		    "net=default health=cmd test=[z] interval=-1 retries=2\n",
		    "svc db image=pg net=default\n", "svc new image=n net=default\n"));
	expect("the spec's port examples pass as written; !reset in one file removes the value", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    user: !reset root\n    ports:\n"
		"      - \"3000\"\n      - \"3000-3005\"\n      - \"9090-9091:8080-8081\"\n"
		"      - \"8000-9000:80\"\n      - \"127.0.0.1:5000-5010:5000-5010\"\n"
		"      - \"::1:6000:6000\"\n      - \"[::1]:6001:6001\"\n      - \"6060:6060/udp\"\n") },
	       WANT("svc a image=x ports=[3000|3000-3005|9090-9091:8080-8081|8000-9000:80|"
		    "127.0.0.1:5000-5010:5000-5010|::1:6000:6000|[::1]:6001:6001|6060:6060/udp] net=default\n"));
	expect("volumes merge on the target, short and long forms alike", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    volumes: [\"/h1:/data\", {type: bind, source: /h2, target: /other}]\n"
		"    ports: [\"8080:80\"]\n",
		"services:\n  a:\n    volumes: [{type: bind, source: /h3, target: /data, read_only: true}]\n"
		"    ports: [{target: 80, published: \"8080\", protocol: tcp}]\n") },
	       WANT("ports=[8080:80/tcp] vols=[/h3:/data:ro|/h2:/other] net=default"));
	expect("a null in a later file keeps the value (an emptied service, networks as a list)", &(struct load){ FILES(
		"services:\n  db:\n    image: pg\n    user: u\n  web:\n    image: w\n"
		"    networks: {front: {aliases: [www]}}\nnetworks: {front: }\n",
		"services:\n  db:\n  web:\n    networks: [front]\n") },
	       WANT("svc db image=pg user=u net=default\n", "svc web image=w net=front aliases=[www]\n"));
	expect("!reset in the first file does not erase the second file's value", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    ports: !reset []\n    user: !reset root\n",
		"services:\n  a:\n    ports: [\"80:80\"]\n    user: u\n") },
	       WANT("svc a image=x ports=[80:80] user=u net=default\n"));
	expect("!reset in the second file removes the first's", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    ports: [\"80:80\"]\n",
		"services:\n  a:\n    ports: !reset []\n", "services:\n  a:\n    ports: [\"90:90\"]\n") },
	       WANT("svc a image=x ports=[90:90] net=default\n"));
	expect("repeated ports and volume targets in one file: the last, in the first's place", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    ports: [\"80:80\", \"81:81\", \"80:80/tcp\"]\n"
		"    volumes: [\"/h1:/data\", \"/h2:/other\", {type: bind, source: /h3, target: /data}]\n") },
	       WANT("ports=[80:80/tcp|81:81] vols=[/h3:/data|/h2:/other] net=default\n"));
	expect_err("a volume and a tmpfs on one target", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    volumes: [\"/h:/data\"]\n    tmpfs: [/data]\n") }, CN_ERR_INVALID,
		"compose.yaml:2:3: services.a: target /data already mounted");
	expect_err("mem_limit and deploy memory disagree", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    mem_limit: 512m\n    deploy: {resources: {limits: {memory: 1g}}}\n") },
		CN_ERR_INVALID, "compose.yaml:5:43: services.a: can't set distinct values on 'mem_limit' and "
		"'deploy.resources.limits.memory'");
	expect_err("cpus and deploy cpus disagree", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    cpus: 1.5\n    deploy: {resources: {limits: {cpus: \"2\"}}}\n") },
		CN_ERR_INVALID, "can't set distinct values on 'cpus' and 'deploy.resources.limits.cpus'");
	expect_err("pids_limit and deploy pids disagree", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    pids_limit: 10\n    deploy: {resources: {limits: {pids: 20}}}\n") },
		CN_ERR_INVALID, "can't set distinct values on 'pids_limit' and 'deploy.resources.limits.pids'");
	expect("the same limit twice is fine", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    mem_limit: 1024m\n    cpus: 0.50\n"
		"    deploy: {resources: {limits: {memory: 1g, cpus: \"0.5\"}}}\n") }, WANT("mem=1073741824 cpus="));
	expect("a later file's build: string merges into a mapping", &(struct load){ FILES(
		"services:\n  a:\n    build: {context: ., target: dev}\n",
		"services:\n  a:\n    build: ./other\n") }, WANT("/other target=dev"));
	expect("a later file's name: wins", &(struct load){ FILES("name: one\nservices: {}\n", "name: two\n") },
	       WANT("project two "));
	expect("discovery: compose.yaml with compose.override.yml in --project-directory",
	       &(struct load){ .discover = true,
		.extra = { "compose.yaml", "services: {a: {image: x}}\n",
			   "compose.override.yml", "services: {a: {image: y}}\n" } },
	       WANT(" files=2\nsvc a image=y"));
	expect("COMPOSE_FILE names the files", &(struct load){ .discover = true, ENV("COMPOSE_FILE=one.yml,two.yml",
		"COMPOSE_PATH_SEPARATOR=,"), .extra = { "one.yml", "services: {a: {image: x}}\n",
			   "two.yml", "services: {a: {user: u}}\n" } },
	       WANT(" files=2\nsvc a image=x user=u"));
	expect("COMPOSE_FILE naming no file (\":\") is as unset: discovery",
	       &(struct load){ .discover = true, ENV("COMPOSE_FILE=:"),
		.extra = { "compose.yaml", "services: {a: {image: found}}\n" } }, WANT(" files=1\nsvc a image=found"));
	expect("COMPOSE_FILE and COMPOSE_PATH_SEPARATOR from .env", &(struct load){ .discover = true,
		.dotenv = "COMPOSE_FILE=one.yml;two.yml\nCOMPOSE_PATH_SEPARATOR=;\n",
		.extra = { "one.yml", "services: {a: {image: x}}\n", "two.yml", "services: {a: {user: u}}\n" } },
	       WANT(" files=2\nsvc a image=x user=u"));
	expect("a symlinked compose.yaml is followed", &(struct load){ .discover = true,
		.link = { "compose.yaml", "real.yaml" }, .extra = { "real.yaml",
			"services: {a: {image: linked}}\n" } },
	       WANT(" files=1\nsvc a image=linked net=default"));
	expect_err("discovery finds nothing", &(struct load){ .discover = true, .dir = "empty" },
		   CN_ERR_NOT_FOUND, "no configuration file provided");
}

/* Nested merge keys: pairs of an inline mapping move up level by level
 * (the reviewer's 120 levels of 20,000 pairs took 646 MB when each level
 * copied them); copies of anchored mappings count against the alias
 * budget like aliases. */
static void test_nested_merges(void)
{
	cn_buf b;
	_cleanup_free_ char *got = NULL;
	cn_buf_init(&b, 0);
	cn_buf_adds(&b, "services:\n  a:\n    image: x\n    labels: ");
	for (int i = 0; i < 120; i++)
		cn_buf_adds(&b, "{<<: ");
	cn_buf_adds(&b, "{");
	for (int i = 0; i < 20000; i++)
		cn_buf_addf(&b, "%sk%d: v", i ? ", " : "", i);
	cn_buf_adds(&b, "}");
	for (int i = 0; i < 120; i++)
		cn_buf_adds(&b, ", l: x}");
	cn_buf_adds(&b, "\n");
	got = load(&(struct load){ FILES(b.data) });
	UNIT_CHECK(got && strstr(got, "labels=[l=x|k0=v|k1=v|") && strstr(got, "|k19999=v]"),
		   "120 nested inline merge keys over 20,000 pairs load");
	if (!got)
		printf("#   got: %s\n", err.msg);
	cn_buf_free(&b);
	cn_buf_init(&b, 0);
	cn_buf_adds(&b, "services:\n  a:\n    image: x\n    labels: ");
	for (int i = 0; i < 100; i++)
		cn_buf_addf(&b, "{<<: &m%d ", i);
	cn_buf_adds(&b, "{");
	for (int i = 0; i < 1500; i++)
		cn_buf_addf(&b, "%sk%d: v", i ? ", " : "", i);
	cn_buf_adds(&b, "}");
	for (int i = 0; i < 100; i++)
		cn_buf_adds(&b, "}");
	cn_buf_adds(&b, "\n");
	expect_err("100 nested merge keys copying an anchored 1,500-pair mapping", &(struct load){ FILES(b.data) },
		   CN_ERR_TOO_BIG, "the merge key << would expand the document past 200000 nodes");
	cn_buf_free(&b);
}

static void test_anchors(void)
{
	expect("anchors, aliases and merge keys (explicit keys win, earlier merged maps win)",
	       &(struct load){ FILES(
		"x-common: &common\n"
		"  restart: always\n"
		"  environment: &env {A: \"1\", B: \"2\"}\n"
		"x-user: &user {user: nobody, restart: \"no\"}\n"
		"services:\n"
		"  a:\n"
		"    <<: *common\n"
		"    image: a\n"
		"  b:\n"
		"    <<: [*user, *common]\n"
		"    image: b\n"
		"  c:\n"
		"    <<: *common\n"
		"    restart: unless-stopped\n"
		"    image: c\n"
		"    labels: *env\n") },
	       WANT("svc a image=a env=[A=1|B=2] restart=always net=default\n",
		    "svc b image=b env=[A=1|B=2] restart=no user=nobody net=default\n",
		    "svc c image=c env=[A=1|B=2] labels=[A=1|B=2] restart=unless-stopped net=default\n"));
	expect("<< with an empty list merges nothing", &(struct load){ FILES(
		"services:\n  a:\n    <<: []\n    image: x\n  b: {<<: [], image: y}\n") }, WANT("svc a image=x", "svc b image=y"));
	expect_err("an unknown alias", &(struct load){ FILES("services:\n  a: *nope\n") }, CN_ERR_INVALID,
		   "compose.yaml:2:6: unknown anchor \"nope\"");
	expect_err("<< with a string", &(struct load){ FILES("services:\n  a:\n    <<: text\n") }, CN_ERR_INVALID,
		   "compose.yaml:3:9: the merge key << takes a mapping");
	expect_err("a duplicate key", &(struct load){ FILES("services:\n  a: {image: x}\n  a: {image: y}\n") },
		   CN_ERR_INVALID, "compose.yaml:3:3: mapping key \"a\" already defined at line 2");
	expect_err("a billion laughs", &(struct load){ FILES(
		"a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
		"b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
		"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
		"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
		"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
		"f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
		"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
		"h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
		"i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
		"services: {a: {image: x, command: *i}}\n") }, CN_ERR_TOO_BIG,
		"billion-laughs document?): refused");
	test_nested_merges();
}

static void test_errors(void)
{
	expect_err("ports: a string", &(struct load){ FILES(
		"services:\n  web:\n    image: x\n    ports: \"80:80\"\n") }, CN_ERR_INVALID,
		"compose.yaml:4:12: services.web.ports must be a list, not \"80:80\"");
	expect_err("read_only: maybe", &(struct load){ FILES(
		"services:\n  web:\n    image: x\n    read_only: maybe\n") }, CN_ERR_INVALID,
		"compose.yaml:4:16: services.web.read_only must be a boolean (true or false), not \"maybe\"");
	expect_err("retries: a mapping", &(struct load){ FILES(
		"services:\n  web:\n    image: x\n    healthcheck:\n      retries: {a: 1}\n") }, CN_ERR_INVALID,
		"compose.yaml:5:16: services.web.healthcheck.retries must be an integer, not a mapping");
	expect_err("image: a list", &(struct load){ FILES(
		"services:\n  web:\n    image: [x]\n") }, CN_ERR_INVALID,
		"compose.yaml:3:12: services.web.image must be a string, not a list");
	expect_err("services: a list", &(struct load){ FILES("services:\n  - web\n") }, CN_ERR_INVALID,
		   "compose.yaml:2:3: services must be a mapping, not a list");
	expect_err("a bad duration", &(struct load){ FILES(
		"services:\n  web:\n    image: x\n    stop_grace_period: 10\n") }, CN_ERR_INVALID,
		"compose.yaml:4:24: services.web.stop_grace_period must be a duration");
	expect_err("a bad port", &(struct load){ FILES(
		"services:\n  web:\n    image: x\n    ports: [\"80:http\"]\n") }, CN_ERR_INVALID,
		"compose.yaml:4:13: services.web.ports: invalid port \"80:http\"");
	expect_err("a bad condition", &(struct load){ FILES(
		"services:\n  a: {image: x, depends_on: {b: {condition: soon}}}\n  b: {image: y}\n") },
		CN_ERR_INVALID, "compose.yaml:2:45: services.a.depends_on must be service_started");
	expect_err("depends_on an undefined service", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    depends_on: [ghost]\n") }, CN_ERR_INVALID,
		"compose.yaml:4:18: service \"a\" depends on undefined service \"ghost\"");
	expect_err("a depends_on cycle", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n"
		"  c:\n    image: x\n    depends_on: {a: {condition: service_started}}\n") }, CN_ERR_INVALID,
		"compose.yaml:10:18: dependency cycle detected: a -> b -> c -> a");
	expect_err("a service depending on itself", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    depends_on: [a]\n") }, CN_ERR_INVALID,
		"compose.yaml:4:18: dependency cycle detected: a -> a");
	expect("a diamond is no cycle", &(struct load){ FILES(
		"services:\n  a: {image: x, depends_on: [b, c]}\n  b: {image: x, depends_on: [d]}\n"
		"  c: {image: x, depends_on: [d]}\n  d: {image: x}\n") }, WANT("svc a image=x net=default dep=b:0 dep=c:0"));
	expect_err("an undefined network", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    networks: [ghost]\n") }, CN_ERR_INVALID,
		"compose.yaml:2:3: service \"a\" refers to undefined network ghost");
	expect_err("an undefined volume", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    volumes: [\"ghost:/x\"]\n") }, CN_ERR_INVALID,
		"compose.yaml:4:15: services.a.volumes: service refers to undefined volume ghost");
	expect_err("neither image nor build", &(struct load){ FILES("services:\n  a:\n    user: x\n") },
		   CN_ERR_INVALID, "compose.yaml:2:3: services.a: a service needs an image: or a build:");
	expect_err("extends", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    extends: {service: b}\n  b: {image: y}\n") }, CN_ERR_UNSUPPORTED,
		"compose.yaml:4:5: services.a.extends: not supported by cairn");
	expect_err("network_mode with networks", &(struct load){ FILES(
		"services:\n  a: {image: x, network_mode: host, networks: [default]}\n") }, CN_ERR_INVALID,
		"network_mode and networks cannot be combined");
	expect_err("a YAML syntax error", &(struct load){ FILES("services:\n  a: [x\n  b: y\n") }, CN_ERR_INVALID,
		   "compose.yaml:3:");
	expect_err("a tab for indentation", &(struct load){ FILES("services:\n\ta: {}\n") }, CN_ERR_INVALID,
		   "compose.yaml:2:1: found character that cannot start any token");
	expect_err("an empty file", &(struct load){ FILES("# nothing\n") }, CN_ERR_INVALID, "empty compose file");
	expect_err("a second document", &(struct load){ FILES("services: {}\n---\nservices: {}\n") },
		   CN_ERR_INVALID, "compose.yaml:2:1: a second YAML document");
	expect_err("invalid UTF-8", &(struct load){ FILES("services:\n  web:\n    image: caf\xc3\xa9-\xff\n") },
		   CN_ERR_INVALID, "compose.yaml:3:17: invalid UTF-8 (byte 0xff)");
	expect_err("an overlong UTF-8 form", &(struct load){ FILES("# \xc0\xaf\nservices: {}\n") },
		   CN_ERR_INVALID, "compose.yaml:1:3: invalid UTF-8");
	expect_err("nesting too deep", &(struct load){ FILES(
		"a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]\n") }, CN_ERR_TOO_BIG,
		"nested deeper than 128 levels");
}

/* Values compose-go refuses are refused too, naming file:line:column
 * and the full path. */
static void test_bad_values(void)
{
	static const char *const bad_ports[] = {
		"abc:80", "99999", "0", "1.2.3.4:x:80", "8080:80:90", "80-81:90-92", "90-80", "80/tcpp",
		"[::1:80:80", "300.1.1.1:80:80", ":", "65536:80",
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(bad_ports); i++) {
		_cleanup_free_ char *yaml = cn_xasprintf("services:\n  a:\n    image: x\n    ports: [\"%s\"]\n",
							 bad_ports[i]);
		_cleanup_free_ char *want = cn_xasprintf("compose.yaml:4:13: services.a.ports: invalid port \"%s\"",
							 bad_ports[i]);
		expect_err("a bad short port", &(struct load){ FILES(yaml) }, CN_ERR_INVALID, want);
	}
	expect_err("a long port's published", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    ports: [{target: 80, published: web}]\n") }, CN_ERR_INVALID,
		"compose.yaml:4:37: services.a.ports: invalid published port \"web\"");
	expect_err("a long port's host_ip", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    ports: [{target: 80, host_ip: localhost}]\n") }, CN_ERR_INVALID,
		"compose.yaml:4:35: services.a.ports: host_ip \"localhost\" is not an IP address");
	expect("short and long ports merge on the same address (IPv6 bracketed or not)", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    ports: [\"[::1]:8080:80\", \"9000-9001:90-91/udp\"]\n",
		"services:\n  a:\n    ports: [{target: 80, published: \"8080\", host_ip: \"::1\"}]\n") },
	       WANT("ports=[[::1]:8080:80|9000-9001:90-91/udp] "));
	expect_err("cpus: banana", &(struct load){ FILES("services:\n  a:\n    image: x\n    cpus: banana\n") },
		   CN_ERR_INVALID, "compose.yaml:4:11: services.a.cpus must be a positive number of CPUs");
	expect_err("deploy cpus: 0", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    deploy: {resources: {limits: {cpus: \"0\"}}}\n") }, CN_ERR_INVALID,
		"services.a.deploy.resources.limits.cpus must be a positive number of CPUs");
	expect_err("mem_limit in hex", &(struct load){ FILES("services:\n  a:\n    image: x\n    mem_limit: 0x10g\n") },
		   CN_ERR_INVALID, "compose.yaml:4:16: services.a.mem_limit must be a size");
	expect_err("deploy memory with an exponent", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    deploy: {resources: {limits: {memory: 1e9}}}\n") }, CN_ERR_INVALID,
		"compose.yaml:4:43: services.a.deploy.resources.limits.memory must be a size");
	expect_err("a restart_policy condition typo", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    deploy: {restart_policy: {condition: on-faliure}}\n") },
		CN_ERR_INVALID, "compose.yaml:4:42: services.a.deploy.restart_policy.condition must be none, "
		"on-failure or any");
	expect("restart_policy conditions", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    deploy: {restart_policy: {condition: any}}\n"
		"  b:\n    image: x\n    deploy: {restart_policy: {condition: on-failure, max_attempts: 3}}\n") },
	       WANT("svc a image=x restart=always", "svc b image=x restart=on-failure:3"));
	expect("extra_hosts as NAME:IP whichever form", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    extra_hosts: [h=1.2.3.4, \"g:5.6.7.8\", \"v6=[::1]\", \"w:::2\"]\n"
		"  b:\n    image: x\n    extra_hosts: {m: 9.9.9.9}\n") },
	       WANT("svc a image=x hosts=[h:1.2.3.4|g:5.6.7.8|v6:::1|w:::2]", "svc b image=x hosts=[m:9.9.9.9]"));
	expect_err("extra_hosts without an address", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    extra_hosts: [lonely]\n") }, CN_ERR_INVALID,
		"compose.yaml:4:19: services.a.extra_hosts: \"lonely\" is not HOST:IP or HOST=IP");
	expect_err("healthcheck.test's path", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    healthcheck: {test: [CMD, [x]]}\n") }, CN_ERR_INVALID,
		"services.a.healthcheck.test must be a list of strings");
	expect_err("ipam's path", &(struct load){ FILES(
		"services:\n  a: {image: x}\nnetworks:\n  n: {ipam: {config: [{subnet: [x]}]}}\n") }, CN_ERR_INVALID,
		"networks.n.ipam.config.subnet must be a string");
	expect_err("deploy.replicas' path", &(struct load){ FILES(
		"services:\n  a:\n    image: x\n    deploy: {replicas: many}\n") }, CN_ERR_INVALID,
		"services.a.deploy.replicas must be an integer");
}

static void test_unknown_keys(void)
{
	expect("unknown keys are warnings naming file:line", &(struct load){ FILES(
		"version: \"3.8\"\n"
		"services:\n"
		"  a:\n"
		"    image: x\n"
		"    imagee: y\n"
		"    logging: {driver: none}\n"
		"    x-mine: ok\n"
		"    build: {context: ., ssh: [default], colour: blue}\n"
		"    ports: [{target: 80, publishd: \"8080\"}]\n"
		"    depends_on: {b: {condtion: service_healthy}}\n"
		"  b: {image: y}\n"
		"bogus: 1\n"
		"x-ext: fine\n") }, WANT("svc a image=x"));
	expect_warning("version", "compose.yaml:1: the attribute `version` is obsolete");
	expect_warning("a service key", "compose.yaml:5: services.a.imagee: unknown key, ignored");
	expect_warning("a known unsupported key", "compose.yaml:6: services.a.logging: not supported by cairn");
	expect_warning("a build key", "compose.yaml:8: services.a.build.colour: unknown key, ignored");
	expect_warning("a long-form port's key", "compose.yaml:9: services.a.ports.publishd: unknown key, ignored");
	expect_warning("a depends_on key", "compose.yaml:10: services.a.depends_on.condtion: unknown key, ignored");
	expect_warning("a top-level key", "compose.yaml:12: unknown top-level key \"bogus\"");
	UNIT_CHECK(warnings.n == 8, "no warning for x- keys (%zu warnings)", warnings.n);
}

static void test_unsupported_warnings(void)
{
	expect("what cairn cannot do is a warning naming file:line", &(struct load){ FILES(
		"services:\n"
		"  a:\n"
		"    image: x\n"
		"    networks:\n"
		"      front: {ipv4_address: 10.0.0.5, ipv6_address: \"fd00::5\", mac_address: \"02:42:ac:11:00:02\",\n"
		"              aliases: [w]}\n"
		"    volumes:\n"
		"      - {type: volume, source: data, target: /d, volume: {subpath: sub}}\n"
		"      - {type: bind, source: ./h, target: /h, bind: {create_host_path: true}}\n"
		"networks: {front: }\n"
		"volumes:\n"
		"  data:\n"
		"    driver: nfs\n"
		"    driver_opts: {type: nfs}\n"
		"  local: {driver: local}\n") }, WANT("net=front aliases=[w]"));
	expect_warning("ipv4_address", "compose.yaml:5: services.a.networks.front.ipv4_address: not supported by cairn");
	expect_warning("ipv6_address", "compose.yaml:5: services.a.networks.front.ipv6_address: not supported by cairn");
	expect_warning("mac_address", "compose.yaml:5: services.a.networks.front.mac_address: not supported by cairn");
	expect_warning("subpath", "compose.yaml:8: services.a.volumes.volume.subpath: not supported by cairn");
	expect_warning("create_host_path", "compose.yaml:9: services.a.volumes.bind.create_host_path: not supported");
	expect_warning("a volume driver", "compose.yaml:13: volumes.data.driver: not supported by cairn, ignored");
	expect_warning("driver_opts", "compose.yaml:14: volumes.data.driver_opts: not supported by cairn, ignored");
	UNIT_CHECK(warnings.n == 7, "driver: local is no warning (%zu warnings)", warnings.n);
}

static void test_names(void)
{
	static const char *const bad[] = { "-my_project", "_my_project", "www.my.project", "MY_PROJECT", "" };
	for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
		expect_err("-p refused", &(struct load){ FILES("services: {}\n"), .pname = bad[i] }, CN_ERR_INVALID,
			   *bad[i] ? "invalid project name" : "project name must not be empty");
		if (!*bad[i])
			continue;
		{
			_cleanup_free_ char *e = cn_xasprintf("COMPOSE_PROJECT_NAME=%s", bad[i]);
			expect_err("COMPOSE_PROJECT_NAME refused", &(struct load){ FILES("services: {}\n"), ENV(e) },
				   CN_ERR_INVALID, "invalid project name");
		}
	}
	expect("-p 42my_project", &(struct load){ FILES("services: {}\n"), .pname = "42my_project" },
	       WANT("project 42my_project "));
	expect("-p over COMPOSE_PROJECT_NAME over name:", &(struct load){ FILES("name: yaml\nservices: {}\n"),
		.pname = "flag", ENV("COMPOSE_PROJECT_NAME=env") }, WANT("project flag "));
	expect("COMPOSE_PROJECT_NAME from .env over name:", &(struct load){ FILES("name: yaml\nservices: {}\n"),
		.dotenv = "COMPOSE_PROJECT_NAME=dotenv\n" }, WANT("project dotenv "));
	expect("a directory name normalized", &(struct load){ FILES("services: {}\n"), .dir = "-_My Dir.2" },
	       WANT("project mydir2 "));
	expect_err("a directory name that normalizes to nothing", &(struct load){ FILES("services: {}\n"),
		.dir = "___" }, CN_ERR_INVALID, "project name must not be empty");
	UNIT_CHECK(cmp_project_name_valid("a-b_c9") && !cmp_project_name_valid("A"), "name validation");
}

static void test_values(void)
{
	static const struct {
		const char *in;
		long long ns;
	} durs[] = {
		{ "1h5m30s20ms", 3930020000000LL }, { "0", 0 }, { "1.5s", 1500000000LL }, { "10us", 10000 },
		{ "2m", 120000000000LL }, { "10", -1 }, { "s", -1 }, { "1x", -1 }, { "", -1 }, { "1e3s", -1 },
	};
	static const struct {
		const char *in;
		long long b;
	} sizes[] = {
		{ "512m", 536870912LL }, { "1g", 1073741824LL }, { "1gb", 1073741824LL }, { "100", 100 },
		{ "2KiB", 2048 }, { "1.5k", 1536 }, { "x", -1 }, { "-1", -1 }, { "5q", -1 },
		{ "0x10g", -1 }, { "1e3", -1 }, { "1.", -1 }, { ".5g", -1 }, { "1.5.2m", -1 }, { "10 mb", 10485760LL },
	};
	static const struct {
		const char *in, *out;
	} words[] = {
		{ "a b  c", "a|b|c" }, { "sh -c 'echo $X'", "sh|-c|echo $X" }, { "a\\ b \"c \\\"d\"", "a b|c \"d" },
		{ "", "" }, { "'open", NULL },
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(durs); i++) {
		long long ns = -1;
		int r = cmp_parse_duration(durs[i].in, &ns);
		UNIT_CHECK(durs[i].ns < 0 ? r < 0 : r == 0 && ns == durs[i].ns, "duration \"%s\" -> %lld (got %d, %lld)",
			   durs[i].in, durs[i].ns, r, ns);
	}
	for (size_t i = 0; i < CN_ARRAY_SIZE(sizes); i++) {
		long long b = -1;
		int r = cmp_parse_bytes(sizes[i].in, &b);
		UNIT_CHECK(sizes[i].b < 0 ? r < 0 : r == 0 && b == sizes[i].b, "size \"%s\" -> %lld (got %d, %lld)",
			   sizes[i].in, sizes[i].b, r, b);
	}
	for (size_t i = 0; i < CN_ARRAY_SIZE(words); i++) {
		_cleanup_strv_ cn_strv v = { 0 };
		cn_buf b;
		int r = cmp_split_words(words[i].in, &v);
		cn_buf_init(&b, 0);
		for (size_t j = 0; j < v.n; j++)
			cn_buf_addf(&b, "%s%s", j ? "|" : "", v.v[j]);
		if (words[i].out)
			UNIT_STREQ(r == 0 ? b.data : "(error)", words[i].out, "words of \"%s\"", words[i].in);
		else
			UNIT_CHECK(r < 0, "words of \"%s\": an unclosed quote", words[i].in);
		cn_buf_free(&b);
	}
}

/* A 10 MB file loads (a service with ~180,000 variables), also merged
 * with a second one naming the same variables (nothing quadratic on the
 * way); past the 32 MiB limit a file is refused, saying so. */
static void test_big(void)
{
	cn_buf b, b2;
	_cleanup_free_ char *got = NULL, *got2 = NULL;
	int n = 0;
	cn_buf_init(&b, 0);
	cn_buf_init(&b2, 0);
	cn_buf_adds(&b, "services:\n  big:\n    image: x\n    environment:\n");
	cn_buf_adds(&b2, "services:\n  big:\n    environment:\n");
	for (; b.len < 10u * 1000 * 1000; n++) {
		cn_buf_addf(&b, "      - VAR_%07d=a value of some length to fill the file\n", n);
		cn_buf_addf(&b2, "      VAR_%07d: %d\n", n, n);
	}
	got = load(&(struct load){ FILES(b.data) });
	UNIT_CHECK(got && strstr(got, "env=[VAR_0000000=a value of some length to fill the file|VAR_0000001=") &&
		   strstr(got, "net=default"), "a %zu-byte file loads", b.len);
	if (!got)
		printf("#   got: %s\n", err.msg);
	{
		_cleanup_free_ char *last = cn_xasprintf("|VAR_%07d=%d] net=default", n - 1, n - 1);
		got2 = load(&(struct load){ FILES(b.data, b2.data) });
		UNIT_CHECK(got2 && strstr(got2, "env=[VAR_0000000=0|VAR_0000001=1|") && strstr(got2, last),
			   "merged with a second %zu-byte file naming the same %d variables", b2.len, n);
		if (!got2)
			printf("#   got: %s\n", err.msg);
	}
	cn_buf_free(&b2);
	while (b.len <= CMP_YAML_MAX_BYTES)
		cn_buf_adds(&b, "# padding padding padding padding padding padding padding padding padding\n");
	expect_err("a file past the limit", &(struct load){ FILES(b.data) }, CN_ERR_TOO_BIG,
		   "over the 32 MiB limit for a compose file");
	cn_buf_free(&b);
}

int main(void)
{
	basefd = unit_tmpdir(base);
	test_valid();
	test_interpolation();
	test_envfiles();
	test_env_scale();
	test_merge();
	test_anchors();
	test_errors();
	test_bad_values();
	test_unknown_keys();
	test_unsupported_warnings();
	test_names();
	test_values();
	test_big();
	cn_strv_free(&warnings);
	close(basefd);
	unit_rmtree(base);
	return UNIT_DONE();
}
