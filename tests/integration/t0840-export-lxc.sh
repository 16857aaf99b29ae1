#!/bin/bash
# export --format lxc: LXC's image format (rootfs.tar.xz + meta.tar.xz),
# created with the real `lxc-create -t local` and run with `lxc-execute`
# and `lxc-start`; and `lxc-create -t oci` straight from cairn's store (an
# OCI layout), as README's "Run it elsewhere" says. Containers live under
# the test's own directory (-P). LXC's default network is a veth on lxcbr0,
# which this machine has not: `-f /dev/null` keeps the image's
# lxc.net.0.type = empty, and the oci template gets a config saying so.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
buildfile "$T/app" <<'EOF'
FROM busybox:latest
RUN echo 'app:x:1234:1234::/work:/bin/sh' >>/etc/passwd && echo 'app:x:1234:' >>/etc/group && mkdir /work && chown 1234:1234 /work
ENV GREETING="hello from lxc"
WORKDIR /work
USER app
ENTRYPOINT ["/bin/sh", "-c", "echo $GREETING as $(id -u) in $(pwd) with $0; exit 7"]
CMD ["two words"]
EOF
expect_ok "build an image with env, user, workdir, entrypoint and cmd" build -q -t lxcapp:1 "$T/app"

expect_ok "export --format lxc" export --format lxc lxcapp:1 "$T/lxc-image"
check "it holds rootfs.tar.xz and meta.tar.xz" test -s "$T/lxc-image/rootfs.tar.xz" -a -s "$T/lxc-image/meta.tar.xz"
check "meta.tar.xz has config and templates (xz, as lxc-local reads it)" \
	sh -c "tar -tJf '$T/lxc-image/meta.tar.xz' | grep -qx './config' && tar -tJf '$T/lxc-image/meta.tar.xz' | grep -qx './templates'"
tar -xOJf "$T/lxc-image/meta.tar.xz" ./config >"$T/config" 2>&1
check "the config has no network but loopback" grep -qx 'lxc.net.0.type = empty' "$T/config"
check "the config has the user resolved from the image's passwd" grep -qx 'lxc.init.uid = 1234' "$T/config"
check "the config has the workdir" grep -qx 'lxc.init.cwd = /work' "$T/config"
check "the config has the env" grep -qx 'lxc.environment = GREETING=hello from lxc' "$T/config"
check "lxc.init.cmd names the launcher (the command's words have blanks; LXC splits it at spaces)" \
	grep -qx 'lxc.init.cmd = /.cairn-init' "$T/config"
check "... which rootfs.tar.xz holds, mode 0755" \
	sh -c "tar -tvJf '$T/lxc-image/rootfs.tar.xz' | grep -q '^-rwxr-xr-x .* \./\.cairn-init\$'"
check "rootfs.tar.xz keeps numeric owners" \
	sh -c "tar --numeric-owner -tvJf '$T/lxc-image/rootfs.tar.xz' | grep -q ' 1234/1234 .* ./work/\$'"

if ! command -v lxc-create >/dev/null || [ ! -x /usr/share/lxc/templates/lxc-local ]; then
	skip "lxc-create -t local and lxc-execute run the export" "lxc (lxc-create, lxc-templates) is not installed"
else
	P=$T/lxc
	lxc-create -P "$P" -n app -f /dev/null -t local -- \
		-m "$T/lxc-image/meta.tar.xz" -f "$T/lxc-image/rootfs.tar.xz" >"$T/create.out" 2>&1
	check "lxc-create -t local accepts the export" test $? -eq 0 -a -x "$P/app/rootfs/bin/busybox"
	out=$(lxc-execute -P "$P" -n app </dev/null 2>"$T/lxc.err"); rc=$?
	if [ "$out" = "hello from lxc as 1234 in /work with two words" ] && [ $rc -eq 7 ]; then
		pass "lxc-execute runs the image's command with its env, user, workdir and arguments (status 7)"
	else
		fail "lxc-execute: got '$out' status $rc"
		sed 's/^/#   /' "$T/create.out" "$T/lxc.err" | tail -20
	fi
	out=$(lxc-execute -P "$P" -n app -- /bin/sh -c 'hostname; cat /etc/hostname; ls /sys/class/net' </dev/null 2>"$T/lxc.err")
	check "the container is named by lxc-create, in /etc/hostname too, and has loopback only" \
		test "$out" = "$(printf 'app\napp\nlo')"
	# lxc-start runs lxc.init.cmd as pid 1; LXC's pty console is turned
	# off to get plain stdout.
	out=$(lxc-start -P "$P" -n app -F -s lxc.console.path=none -s lxc.tty.max=0 -- \
		/bin/sh -c 'echo pid=$$' </dev/null 2>"$T/lxc.err")
	check "lxc-start -- CMD runs CMD as pid 1" test "$out" = "pid=1"
	# As the create-message says: lxc-start -n NAME, no command given.
	out=$(lxc-start -P "$P" -n app -F -s lxc.console.path=none -s lxc.tty.max=0 </dev/null 2>"$T/lxc.err"); rc=$?
	if [ "$out" = "hello from lxc as 1234 in /work with two words" ]; then
		pass "lxc-start -n NAME starts the image's command (words with blanks: its launcher) with its env, user, workdir and arguments (status $rc)"
	else
		fail "lxc-start -n NAME: got '$out' status $rc"
		sed 's/^/#   /' "$T/lxc.err" | tail -20
	fi
	out=$(lxc-start -P "$P" -n app -F -s lxc.console.path=none -s lxc.tty.max=0 \
		-s lxc.init.cmd='/bin/sh -c echo\ $$' </dev/null 2>/dev/null)
fi

expect_ok "--network host" export --format lxc --network host lxcapp:1 "$T/lxc-host"
check "... is lxc.net.0.type = none" sh -c "tar -xOJf '$T/lxc-host/meta.tar.xz' ./config | grep -qx 'lxc.net.0.type = none'"
expect_ok "--network bridge:br7" export --format lxc --network bridge:br7 lxcapp:1 "$T/lxc-br"
check "... is a veth on br7" sh -c "tar -xOJf '$T/lxc-br/meta.tar.xz' ./config | grep -qx 'lxc.net.0.link = br7'"
expect_fail "--network applies to lxc only" 2 "--network applies to --format lxc" \
	export --format rootfs --network host lxcapp:1 "$T/x"
expect_fail "a destination that is not empty is refused" 1 "is not empty" export --format lxc lxcapp:1 "$T/lxc-image"

buildfile "$T/plain" <<'EOF'
FROM busybox:latest
CMD ["/bin/busybox", "echo", "plain-words"]
EOF
expect_ok "build an image whose command words have no blanks or quotes" build -q -t plain:1 "$T/plain"
expect_ok "... export --format lxc" export --format lxc plain:1 "$T/lxc-plain"
check "... lxc.init.cmd is its words as they are, no launcher" sh -c "tar -xOJf '$T/lxc-plain/meta.tar.xz' ./config |
	grep -qx 'lxc.init.cmd = /bin/busybox echo plain-words' && ! tar -tJf '$T/lxc-plain/rootfs.tar.xz' | grep -q cairn-init"
if command -v lxc-create >/dev/null && [ -x /usr/share/lxc/templates/lxc-local ]; then
	lxc-create -P "$T/lxc" -n plain -f /dev/null -t local -- \
		-m "$T/lxc-plain/meta.tar.xz" -f "$T/lxc-plain/rootfs.tar.xz" >"$T/create.out" 2>&1
	out=$(lxc-start -P "$T/lxc" -n plain -F -s lxc.console.path=none -s lxc.tty.max=0 </dev/null 2>"$T/lxc.err")
	check "... and lxc-start -n NAME runs it" test "$out" = plain-words
fi

buildfile "$T/quotes" <<'EOF'
FROM busybox:latest
CMD ["echo", "it's \"both\""]
EOF
expect_ok "build an image whose command word has both quote characters" build -q -t quotes:1 "$T/quotes"
expect_fail "... which an LXC config cannot hold: refused, saying why" 1 "has both quote characters" \
	export --format lxc quotes:1 "$T/lxc-quotes"
check "nothing is left at the destination" test ! -e "$T/lxc-quotes"
check "no temp dirs left in the store" no_tmp_left

# An Env entry without '=': lxc.environment = NAME would copy NAME from
# the environment of whoever runs lxc-execute/lxc-start into the container.
python3 - "$T/bareenv" <<'PY'
import hashlib, io, json, os, sys, tarfile
d = sys.argv[1]
os.makedirs(d)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo("bin")
    i.type, i.mode = tarfile.DIRTYPE, 0o755
    t.addfile(i)
    data = open("/bin/busybox", "rb").read()
    i = tarfile.TarInfo("bin/busybox")
    i.mode, i.size = 0o755, len(data)
    t.addfile(i, io.BytesIO(data))
layer = buf.getvalue()
open(os.path.join(d, "layer.tar"), "wb").write(layer)
cfg = {"architecture": "amd64", "os": "linux",
       "config": {"Env": ["PATH=/bin", "SECRET_TOKEN"], "Cmd": ["/bin/busybox", "env"]},
       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}
open(os.path.join(d, "config.json"), "w").write(json.dumps(cfg))
open(os.path.join(d, "manifest.json"), "w").write(json.dumps(
    [{"Config": "config.json", "RepoTags": ["bareenv:1"], "Layers": ["layer.tar"]}]))
PY
tar -C "$T/bareenv" -cf "$T/bareenv.tar" manifest.json config.json layer.tar
expect_ok "load an image whose Env has an entry without '=' (SECRET_TOKEN)" load -i "$T/bareenv.tar"
SECRET_TOKEN=leaked expect_fail "... its lxc export is refused, naming the entry" 1 \
	"Env[1] 'SECRET_TOKEN' is not NAME=VALUE" export --format lxc bareenv:1 "$T/lxc-bareenv"
check "nothing is left at the destination" test ! -e "$T/lxc-bareenv"

# lxc-create -t oci reads cairn's store as an OCI layout (skopeo, umoci, jq).
if ! command -v lxc-create >/dev/null || [ ! -x /usr/share/lxc/templates/lxc-oci ] ||
	! command -v skopeo >/dev/null || ! command -v umoci >/dev/null || ! command -v jq >/dev/null; then
	skip "lxc-create -t oci from the store" "lxc-templates' lxc-oci, skopeo, umoci or jq is not installed"
else
	printf 'lxc.net.0.type = empty\n' >"$T/nonet.conf"
	lxc-create -P "$T/lxc" -n fromstore -f "$T/nonet.conf" -t oci -- --url "oci:$CAIRN_ROOT:lxcapp:1" \
		>"$T/oci.out" 2>&1
	check "lxc-create -t oci --url oci:STORE:TAG takes the image from the store" test $? -eq 0
	out=$(lxc-execute -P "$T/lxc" -n fromstore </dev/null 2>"$T/lxc.err"); rc=$?
	if [ "$out" = "hello from lxc as 1234 in /work with two words" ] && [ $rc -eq 7 ]; then
		pass "lxc-execute runs it the same way (status 7)"
	else
		fail "lxc-execute (oci): got '$out' status $rc"
		sed 's/^/#   /' "$T/oci.out" "$T/lxc.err" | tail -20
	fi
fi
check "the store is consistent" store_is_consistent
finish
