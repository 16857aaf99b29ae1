#!/bin/bash
# save writes one tar that skopeo (oci-archive: and docker-archive:), podman
# load and umoci all read; export writes a rootfs (directory or tar) with the
# image's files, owners, modes and deletions, an OCI bundle that runc runs,
# and the archive formats.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
ctx=$T/app
mkdir -p "$ctx"
buildfile "$ctx" <<'EOF'
FROM busybox
RUN mkdir -p /srv/data /work && echo hello >/srv/data/hello.txt && chown 65534:100 /srv/data/hello.txt && \
    chmod 0640 /srv/data/hello.txt && ln -s data/hello.txt /srv/link && ln /srv/data/hello.txt /srv/hard && \
    echo gone >/srv/gone && chmod 4755 /srv/data
RUN rm /srv/gone /bin/vi
ENV GREETING=hi
WORKDIR /work
USER daemon
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo $GREETING from $(id -u):$(id -g) in $(pwd); cat /srv/data/hello.txt 2>&1"]
EOF
expect_ok "build the image" build -t app:1 "$ctx"
digest=$(tag_digest app:1)
nlayers=$(jq '.layers | length' "$CAIRN_ROOT/blobs/sha256/${digest#sha256:}")

# ---- save ----
expect_ok "save -o" save -o "$T/app.tar" app:1 busybox
check "the tar has an OCI layout and docker's manifest.json" \
	sh -c "tar -tf '$T/app.tar' | grep -qx oci-layout && tar -tf '$T/app.tar' | grep -qx index.json && tar -tf '$T/app.tar' | grep -qx manifest.json"
check "no member is absolute or climbs with .." sh -c "! tar -tf '$T/app.tar' | grep -E '^/|(^|/)\.\.(/|$)'"
check "each blob is in the tar once" test "$(tar -tf "$T/app.tar" | grep -c '^blobs/sha256/.')" = "$(tar -tf "$T/app.tar" | grep '^blobs/sha256/.' | sort -u | wc -l)"
tar -xOf "$T/app.tar" index.json >"$T/index.json"
check "index.json names each image with ref.name and io.containerd.image.name" \
	test "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "app:1") | .annotations["io.containerd.image.name"]' "$T/index.json")" = docker.io/library/app:1
tar -xOf "$T/app.tar" manifest.json >"$T/manifest.json"
check "manifest.json has RepoTags and the blob paths" \
	test "$(jq -r '.[] | select(.RepoTags == ["docker.io/library/app:1"]) | .Layers | length' "$T/manifest.json")" = "$nlayers"
skopeo inspect "oci-archive:$T/app.tar:app:1" >"$T/si.json" 2>"$T/si.err"
check "skopeo inspect oci-archive: keeps the manifest digest" test "$(jq -r .Digest "$T/si.json")" = "$digest"
skopeo inspect "docker-archive:$T/app.tar:app:1" >"$T/sd.json" 2>"$T/sd.err"
check "skopeo inspect docker-archive: reads the same layers" test "$(jq '.Layers | length' "$T/sd.json")" = "$nlayers"
check "skopeo inspect docker-archive: reads the same config" \
	test "$(jq -r '.Env[]' "$T/sd.json" | grep -c GREETING=hi)" = 1

pm() { podman --root "$T/podman/root" --runroot "$T/podman/run" --storage-driver vfs "$@"; }
check "podman load -i (private storage)" pm load -q -i "$T/app.tar"
pm_has() { for i in "$@"; do pm image exists "$i" || return 1; done; }
check "podman has both images" pm_has docker.io/library/app:1 docker.io/library/busybox:latest
check "podman has the files (a layer unpacked in its storage)" \
	sh -c "cat '$T'/podman/root/vfs/dir/*/srv/data/hello.txt | grep -qx hello"
rm -rf "$T/podman"
check "podman pull docker-archive: (the manifest.json part)" pm pull -q "docker-archive:$T/app.tar:app:1"
check "podman tags it" pm image exists docker.io/library/app:1
rm -rf "$T/podman"

rm -rf "$T/oci"
check "skopeo copy oci-archive: + umoci unpack" sh -c \
	"skopeo copy -q --dest-compress --dest-compress-format gzip 'oci-archive:$T/app.tar:app:1' 'oci:$T/oci:a' && umoci unpack --image '$T/oci:a' '$T/um' >/dev/null"
check "umoci's rootfs has the file" test "$(cat "$T/um/rootfs/srv/data/hello.txt")" = hello

"$CAIRN" save app:1 | tar -tf - >"$T/stdout.list" 2>"$T/err"
check "save with no -o writes the tar to a pipe" grep -qx manifest.json "$T/stdout.list"
script -qec "'$CAIRN' save app:1" /dev/null >"$T/tty.out" 2>&1
check "save refuses to write the tar to a terminal" grep -q "refusing to write an archive to a terminal" "$T/tty.out"
script -qec "'$CAIRN' load" /dev/null >"$T/tty.out" 2>&1
check "load refuses to read a terminal" grep -q "refusing to read an archive from a terminal" "$T/tty.out"
expect_fail "save of a missing image fails" 1 "image 'nope:1' not found" save -o "$T/nope.tar" nope:1
check "and leaves no file behind" sh -c "! ls -A '$T' | grep -q nope"

# ---- export: rootfs ----
expect_ok "export --format rootfs" export --format rootfs app:1 "$T/rootfs"
r=$T/rootfs
check "the file is there" test "$(cat "$r/srv/data/hello.txt")" = hello
check "owner and mode kept" test "$(stat -c %u:%g:%a "$r/srv/data/hello.txt")" = 65534:100:640
check "setuid directory mode kept" test "$(stat -c %a "$r/srv/data")" = 4755
check "symlink kept" test "$(readlink "$r/srv/link")" = data/hello.txt
check "hardlink kept" test "$(stat -c %i "$r/srv/hard")" = "$(stat -c %i "$r/srv/data/hello.txt")"
check "a file deleted in a later layer is gone" test ! -e "$r/srv/gone"
check "a base-layer file deleted later is gone" test ! -e "$r/bin/vi" -a ! -L "$r/bin/vi"
check "no whiteout files or devices left" test -z "$(find "$r" -name '.wh.*' -o -type c -print)"
check "the rootfs has the image's / mode (0755: no root entry), not 0700" test "$(stat -c %a "$r")" = 755
expect_fail "export into a non-empty directory is refused" 1 "exists and is not empty" export app:1 "$T/rootfs"
mkdir "$T/empty"
expect_ok "export into an empty directory" export --format rootfs app:1 "$T/empty"
expect_fail "an unknown format is a usage error" 2 "unknown format 'zip'" export --format zip app:1 "$T/x"

# ---- export: rootfs-tar ----
expect_ok "export --format rootfs-tar" export --format rootfs-tar app:1 "$T/rootfs.tar"
tar --numeric-owner -tvf "$T/rootfs.tar" >"$T/rootfs.list"
check "the tar holds the file with owner and mode" grep -qE '^-rw-r----- 65534/100 .* srv/data/hello.txt$' "$T/rootfs.list"
check "the tar holds the symlink" grep -qE '^lrwxrwxrwx .* srv/link -> data/hello.txt$' "$T/rootfs.list"
check "the tar holds the hardlink" grep -qE 'srv/(hard|data/hello.txt) link to srv/(data/hello.txt|hard)$' "$T/rootfs.list"
check "deleted files are not in the tar" sh -c "! grep -qE ' srv/gone$| bin/vi ' '$T/rootfs.list'"
check "no whiteout entries in the tar" sh -c "! grep -q '\.wh\.' '$T/rootfs.list'"
"$CAIRN" export --format rootfs-tar app:1 - | tar -tf - >"$T/rt.list"
check "rootfs-tar to stdout" grep -qx 'srv/data/hello.txt' "$T/rt.list"

# ---- export: bundle ----
expect_ok "export --format bundle" export --format bundle app:1 "$T/bundle"
c=$T/bundle/config.json
check "config.json: args from Entrypoint + Cmd" test "$(jq -r '.process.args[0:2] | join(" ")' "$c")" = "/bin/sh -c"
check "config.json: user resolved from the image's passwd" test "$(jq -c '[.process.user.uid, .process.user.gid]' "$c")" = "[1,1]"
check "config.json: cwd and env" test "$(jq -r '.process.cwd' "$c"):$(jq -r '.process.env[]' "$c" | grep -c GREETING=hi)" = /work:1
check "config.json: docker's 14 capabilities" test "$(jq '.process.capabilities.bounding | length' "$c")" = 14
check "config.json: no new privileges, not a terminal" test "$(jq -c '[.process.noNewPrivileges, .process.terminal]' "$c")" = "[true,false]"
check "config.json: namespaces" test "$(jq -r '[.linux.namespaces[].type] | sort | join(",")' "$c")" = ipc,mount,network,pid,uts
check "config.json: masked and read-only paths" sh -c "jq -e '(.linux.maskedPaths | index(\"/proc/kcore\")) and (.linux.readonlyPaths | index(\"/proc/sys\"))' '$c' >/dev/null"
check "config.json: RLIMIT_NOFILE" test "$(jq -r '.process.rlimits[0].type' "$c")" = RLIMIT_NOFILE
(cd "$T/bundle" && timeout 60 runc --root "$T/runc" run "cairn-t0190-$$" >"$T/runc.out" 2>&1 </dev/null)
check "runc runs the bundle: command, env, user, cwd" grep -qx 'hi from 1:1 in /work' "$T/runc.out"
check "and the user's permissions hold (a 0640 file of 65534:100)" grep -q 'Permission denied' "$T/runc.out"
runc --root "$T/runc" delete -f "cairn-t0190-$$" >/dev/null 2>&1
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] && command -v crun >/dev/null; then
	(cd "$T/bundle" && timeout 60 crun --root "$T/crun" run "cairn-t0190-c$$" >"$T/crun.out" 2>&1 </dev/null)
	check "crun runs the bundle" grep -qx 'hi from 1:1 in /work' "$T/crun.out"
else
	skip "crun runs the bundle" "crun needs a cgroup v2 host (this one is v1 or hybrid)"
fi
printf 'FROM scratch\nCOPY f /f\n' | buildfile "$T/nocmd" && echo x >"$T/nocmd/f"
expect_ok "build an image with no command" build -t nocmd:1 "$T/nocmd"
expect_fail "a bundle needs a command" 1 "image has no Entrypoint or Cmd" export --format bundle nocmd:1 "$T/b2"
check "and nothing is left at DEST" test ! -e "$T/b2"

# ---- export: archives ----
expect_ok "export --format oci-archive" export --format oci-archive app:1 "$T/one.tar"
check "skopeo inspect oci-archive: (one image, no ref needed)" \
	test "$(skopeo inspect "oci-archive:$T/one.tar" 2>/dev/null | jq -r .Digest)" = "$digest"
expect_ok "export --format docker-archive" export --format docker-archive app:1 "$T/dock.tar"
check "podman load of the docker-archive" pm load -q -i "$T/dock.tar"
check "podman has it with its digest" \
	test "$(pm image inspect --format '{{.Digest}}' docker.io/library/app:1 2>/dev/null)" = "$digest"
rm -rf "$T/podman"

check "store consistent" store_is_consistent
check "no temp dirs left" no_tmp_left
check "no temp files left next to outputs" test -z "$(find "$T" -maxdepth 1 -name '.*.tmp-*')"
check "no mounts left" no_mounts_left
finish
