#!/bin/bash
# Rootless cairn (issue 10): two throw-away users, one with a /etc/subuid and
# /etc/subgid range and one without, run cairn with no capabilities and a
# clean environment. Their stores are under ~/.local/share/cairn, RUN works
# in a user namespace (overlay with userxattr), layers carry OCI whiteouts
# and the image's own owners, and what cannot work says why.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
. "$(dirname "$0")/rootless.sh"
rootless_need useradd userdel setpriv newuidmap newgidmap zstd python3

U1=cnrl$$a
U2=cnrl$$b
rootless_extra_cleanup() { stop_registry; }
rootless_user "$U1" 200000
rootless_user "$U2"
rootless_probe "$U1"
H1=$T/home-$U1
H2=$T/home-$U2
S1=$H1/.local/share/cairn
rootless_contexts

# ---- where things live ----
rl_ok "FROM scratch + COPY rootless" "$U1" build -t scratch:1 "$T/ctx/scratch"
check "the store is ~/.local/share/cairn, the user's, mode 0700" \
	test "$(stat -c '%U %a' "$S1")" = "$U1 700"
check "the default store got the image" test -n "$(jq -r '.manifests[0].digest' "$S1/index.json")"
rl_ok "cairn info rootless" "$U1" info
check "info: the store, rootless, the uid range" \
	sh -c "grep -q '^store: *$S1\$' '$T/out' && grep -q '^rootless: *yes' '$T/out' &&
	       grep -q '^uid map: *0 -> $(id -u "$U1"), 1-65536 -> ' '$T/out'"
check "info: the auth file is not root's" sh -c "! grep -q /run/containers '$T/out'"
check "info: what is unavailable names slirp4netns and, for the limits, cgroup v1" \
	sh -c "grep -q slirp4netns '$T/out' && grep -q 'cgroups are v1' '$T/out'"
EXTRA_ENV="XDG_DATA_HOME=$H1/data" rl_ok "XDG_DATA_HOME moves the store" "$U1" images
check "XDG_DATA_HOME/cairn is the store" test -d "$H1/data/cairn/blobs"
rl_ok "--root still wins" "$U1" --root "$H1/other" images
check "--root made its store" test -d "$H1/other/blobs"

# ---- RUN in the user namespace ----
SDE="SOURCE_DATE_EPOCH=1700000000"
EXTRA_ENV=$SDE rl_ok "examples/busybox builds rootless" "$U1" build -q -t busybox "$T/ctx/bb"
EXTRA_ENV=$SDE rl_ok "RUN: create, delete, opaque dir, chown 1000, setuid" "$U1" build -q -t run:1 "$T/ctx/run"
m=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "run:1") | .digest' "$S1/index.json")
layer=$(jq -r '.layers[-1].digest' "$S1/blobs/sha256/${m#sha256:}")
gzip -dc "$S1/blobs/sha256/${layer#sha256:}" >"$T/layer.tar" 2>/dev/null
tar --numeric-owner -tvf "$T/layer.tar" >"$T/layer.list" 2>&1
check "the layer's whiteouts: exactly lower/.wh.f and lower/d/.wh..wh..opq" \
	test "$(grep -o '[^ ]*\.wh\.[^ ]*$' "$T/layer.list" | sort | tr '\n' ' ')" = "lower/.wh.f lower/d/.wh..wh..opq "
check "the file chowned to 1000:1000 is 1000/1000 in the layer tar" \
	grep -qE '^-rw-r--r-- 1000/1000 .* keep/own$' "$T/layer.list"
check "the setuid file keeps its bit, owner 1000" grep -qE '^-rwsr-xr-x 1000/1000 .* keep/suid$' "$T/layer.list"
check "no overlay xattr (PAX record) in the layer tar" python3 -c '
import sys, tarfile
bad = [(m.name, k) for m in tarfile.open(sys.argv[1]) for k in m.pax_headers if "overlay" in k]
sys.exit(str(bad) if bad else 0)
' "$T/layer.tar"
start=$(grep "^$U1:" /etc/subuid | cut -d: -f2)
check "on the host the file is the range's id (start + 999)" \
	test "$(stat -c %u "$(ls -d "$S1"/snapshots/*/keep/own | head -1)")" = $((start + 999))
check "the store holds no trusted.* xattr" python3 -c '
import os, sys
for d, dirs, files in os.walk(sys.argv[1]):
    for n in dirs + files:
        p = os.path.join(d, n)
        if os.path.islink(p): continue
        if any(x.startswith("trusted.") for x in os.listxattr(p, follow_symlinks=False)): sys.exit(p)
' "$S1"

# The same inputs as root give the same image, byte for byte.
SOURCE_DATE_EPOCH=1700000000 "$CAIRN" build -q -t busybox "$T/ctx/bb" >/dev/null 2>"$T/root.err" &&
	SOURCE_DATE_EPOCH=1700000000 "$CAIRN" build -q -t run:1 "$T/ctx/run" >/dev/null 2>>"$T/root.err"
check "with SOURCE_DATE_EPOCH the rootless image digest is the root build's" \
	test "$(tag_digest run:1)" = "$m"

# ---- networks, limits ----
printf 'FROM busybox\nRUN ip link show lo >/dev/null\n' >"$T/ctx/net.bf"
chmod a+r "$T/ctx/net.bf"
rl_ok "RUN on the default (the host's) network" "$U1" build -q -f "$T/ctx/net.bf" "$T/ctx/zero"
rl_ok "RUN with --network none" "$U1" build -q --no-cache --network none -f "$T/ctx/net.bf" "$T/ctx/zero"
rl_fail "an explicit --network default fails naming slirp4netns" 1 slirp4netns \
	"$U1" build -q --network default -f "$T/ctx/net.bf" "$T/ctx/zero"
rl_fail "--memory is refused rootless on cgroup v1, saying why" 1 "cgroup" \
	"$U1" build -q --memory 64m "$T/ctx/zero"
rl_fail "run --userns=auto is refused rootless" 125 "needs root" "$U1" run --rm --userns=auto busybox true

# ---- cairn run ----
rl_ok "run --rm rootless" "$U1" run --rm busybox sh -c 'id -u; echo $$'
check "run: root inside, the process is pid 1" test "$(tr '\n' ' ' <"$T/out")" = "0 1 "
rl_ok "run -u 1000 rootless" "$U1" run --rm -u 1000:1000 busybox sh -c 'id -u; echo $$'
check "run: uid 1000 inside, pid 1" test "$(tr '\n' ' ' <"$T/out")" = "1000 1 "
rl_ok "run --init rootless" "$U1" run --rm --init busybox sh -c 'echo $$'
check "run --init: the process is pid 2, under the reaper" test "$(cat "$T/out")" = 2

# ---- the other commands ----
rl_ok "multi-stage with COPY --from and COPY --chown rootless" "$U1" build -q -t multi:1 "$T/ctx/multi"
rl_ok "save rootless" "$U1" save -o "$H1/multi.tar" multi:1
rl_ok "rmi rootless" "$U1" rmi multi:1
rl_ok "load rootless" "$U1" load -i "$H1/multi.tar"
rl_ok "the loaded image runs" "$U1" run --rm multi:1 stat -c %u /app/a.txt
check "with its owners" test "$(cat "$T/out")" = 1000
rl_ok "run -d rootless" "$U1" run -d --name rl busybox sleep 60
rl_ok "ps rootless" "$U1" ps
check "ps lists it" grep -q ' rl$' "$T/out"
rl_ok "stop rootless" "$U1" stop -t 1 rl
rl_ok "rm rootless" "$U1" rm rl
mkdir -p "$T/ctx/mounts"
echo s3cret >"$T/ctx/mounts/secret.txt"
cat >"$T/ctx/mounts/Buildfile" <<'EOF'
FROM busybox
RUN --mount=type=cache,target=/cache echo x >>/cache/log
RUN --mount=type=secret,id=s,target=/s grep -q s3cret /s
RUN --mount=type=bind,target=/b test -f /b/secret.txt
RUN --mount=type=tmpfs,target=/t touch /t/x
EOF
chmod -R a+rX "$T/ctx/mounts"
rl_ok "RUN --mount cache, secret, bind and tmpfs rootless" "$U1" build -q \
	--secret "id=s,src=$T/ctx/mounts/secret.txt" "$T/ctx/mounts"

# kill -9 of a rootless build: the kernel ends its sandbox, the next command
# sweeps its temp dir.
printf 'FROM busybox\nRUN echo started && sleep 300\n' >"$T/ctx/zero/sleep.bf"
chmod a+r "$T/ctx/zero/sleep.bf"
as "$U1" "$T/cairn" build --no-cache -f "$T/ctx/zero/sleep.bf" "$T/ctx/zero" >"$T/kill.out" 2>&1 &
kpid=$!
# Up to a minute: a loaded machine takes a while to get there.
for _ in $(seq 600); do grep -q started "$T/kill.out" && break; sleep 0.1; done
# The build itself, not the shells around it, nor a detached container's
# supervisor still on its way out: the oldest cairn with this command line.
kill -9 "$(pgrep -o -u "$U1" -f "^$T/cairn build --no-cache -f $T/ctx/zero/sleep.bf")"
wait "$kpid" 2>/dev/null
kstatus=$?
for _ in $(seq 50); do pgrep -u "$U1" >/dev/null || break; sleep 0.1; done
check "kill -9: the step started first" grep -q started "$T/kill.out"
check "kill -9: the build died of it (status 137), not at the step's end" test "$kstatus" -eq 137
check "kill -9: no process of the user is left" sh -c "! pgrep -u '$U1' >/dev/null"
rl_ok "the next command runs" "$U1" images
check "kill -9: nothing left in tmp after it" test -z "$(ls -A "$S1/tmp")"
check "kill -9: no mounts left" no_mounts_left

rl_ok "prune rootless" "$U1" prune
rl_ok "fsck rootless" "$U1" fsck
# ---- a user without a range ----
rl_ok "no range: examples/busybox builds" "$U2" build -q -t busybox "$T/ctx/bb"
check "no range: the first build warns, naming /etc/subuid" grep -q '/etc/subuid' "$T/err"
rl_ok "no range: a build needing only uid 0 works" "$U2" build -q -t zero:1 "$T/ctx/zero"
check "no range: the warning is said once" sh -c "! grep -q warning '$T/err'"
rl_fail "no range: chown 1000 in RUN fails naming /etc/subuid" 1 "/etc/subuid" \
	"$U2" build -q -t chown:1 "$T/ctx/chown"
check "no range: the failing step is the chown" grep -q 'RUN: exit status 1' "$T/err"
rl_fail "no range: USER 1000 in run fails naming /etc/subuid" 125 "/etc/subuid" \
	"$U2" run --rm -u 1000 busybox true

if command -v docker-registry >/dev/null && start_registry htpasswd; then
	chmod -R a+rX "$REG_CERTS"
	printf '%s\n' "$REG_PASS" >"$T/pass"
	chmod a+r "$T/pass"
	AS_USER=$U1 expect_ok "login rootless" login --cert-dir "$REG_CERTS" -u "$REG_USER" \
		--password-stdin "$REG" <"$T/pass"
	check "login wrote ~/.config/containers/auth.json" test -s "$H1/.config/containers/auth.json"
	rl_ok "push rootless (credentials from that file)" "$U1" push --cert-dir "$REG_CERTS" run:1 "$REG/rl/run:1"
	EXTRA_ENV="XDG_DATA_HOME=$H1/pulled" rl_ok "pull rootless" "$U1" pull --cert-dir "$REG_CERTS" "$REG/rl/run:1"
	check "the pulled digest is the pushed one" test "$(jq -r --arg r "$REG/rl/run:1" \
		'.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' \
		"$H1/pulled/cairn/index.json")" = "$m"
	rl_fail "no range: pulling an image with files of uid 1000 fails naming /etc/subuid" 1 /etc/subuid \
		"$U2" pull --cert-dir "$REG_CERTS" --creds "$REG_USER:$REG_PASS" "$REG/rl/run:1"

	# An unprivileged CI runner sharing its build cache through the registry.
	mkdir -p "$T/ctx/rlcache"
	printf 'FROM %s/rl/run:1\nRUN echo RAN-RL; echo rl >/rl && chown 1000:1000 /rl\n' "$REG" >"$T/ctx/rlcache/Buildfile"
	chmod -R a+rX "$T/ctx/rlcache"
	EXTRA_ENV="SOURCE_DATE_EPOCH=1700000000" rl_ok "rootless build exporting its cache to the registry" "$U1" \
		build --cert-dir "$REG_CERTS" --cache-to "type=registry,ref=$REG/rl/cache:c,mode=max" -t rlc:1 "$T/ctx/rlcache"
	check "... says what it exported" grep -q "^cache export $REG/rl/cache:c: 1 record" "$T/err"
	rlc=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "rlc:1") | .digest' "$S1/index.json")
	EXTRA_ENV="SOURCE_DATE_EPOCH=1700000000 XDG_DATA_HOME=$H1/fresh" rl_ok \
		"rootless build into an empty store with --cache-from" "$U1" \
		build --cert-dir "$REG_CERTS" --cache-from "$REG/rl/cache:c" -t rlc:1 "$T/ctx/rlcache"
	check "... its RUN step came from the cache, unpacked in the user's namespace" \
		sh -c "grep -q '^--> CACHED ($REG/rl/cache:c) ' '$T/out' && ! grep -q '^RAN-RL' '$T/out'"
	check "... the same image" test -n "$rlc" -a "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "rlc:1") | .digest' "$H1/fresh/cairn/index.json")" = "$rlc"
	EXTRA_ENV="XDG_DATA_HOME=$H1/fresh" rl_ok "... its store is consistent" "$U1" fsck
else
	skip "push and pull rootless" "no docker-registry"
fi


# ---- two users ----
check "one user cannot read the other's store" sh -c "! as '$U2' ls '$S1' >/dev/null 2>&1"
rl "$U2" --root "$S1" images
check "nor list its images with --root" test "$status" -ne 0
check "the other store is separate, 0700" test "$(stat -c '%U %a' "$H2/.local/share/cairn")" = "$U2 700"

check "no mounts left" no_mounts_left
check "no temp entries left" test -z "$(ls -A "$S1/tmp")"
check "no processes of the users left" sh -c "! ps -u '$U1,$U2' -o pid= | grep -q ."
finish
