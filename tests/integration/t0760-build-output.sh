#!/bin/bash
# build --output (-o), as docker buildx: type=local (the final stage's files
# in a directory), type=tar (the same as a tar, dest=- for stdout),
# type=oci and type=docker (an image archive skopeo reads, name= for its
# reference). The image is stored too; errors name the bad key.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
ctx=$T/ctx
buildfile "$ctx" <<'EOF'
FROM busybox AS b
RUN mkdir -p /out/sub && echo hello >/out/hello.txt && chmod 0640 /out/hello.txt && \
    printf x >/out/sub/x && chmod 0600 /out/sub/x && chmod 0750 /out/sub && ln -s hello.txt /out/link
FROM scratch
COPY --from=b /out/ /
EOF

# ---- type=local ----
expect_ok "build -o DIR" build -o "$T/local" "$ctx"
digest=$(tail -n1 "$T/out")
check "the image is stored (untagged)" test -f "$CAIRN_ROOT/blobs/sha256/${digest#sha256:}"
check "the files are there" test "$(cat "$T/local/hello.txt")" = hello
check "only the image's files, nothing of the store" test "$(ls -A "$T/local" | tr '\n' ' ')" = "hello.txt link sub "
check "modes kept (file 0640)" test "$(stat -c %a "$T/local/hello.txt")" = 640
check "modes kept (dir 0750, file 0600)" test "$(stat -c %a "$T/local/sub") $(stat -c %a "$T/local/sub/x")" = "750 600"
check "symlinks kept" test "$(readlink "$T/local/link")" = hello.txt
check "the directory itself is 0755 (the image's / mode)" test "$(stat -c %a "$T/local")" = 755
expect_ok "--output type=local,dest=DIR" build --output "type=local,dest=$T/local2" "$ctx"
check "the same files" diff -r "$T/local" "$T/local2"
echo mine >"$T/local2/kept.txt"
echo old >"$T/local2/hello.txt"
expect_ok "-o into a directory that has files (as docker: written over)" build -o "$T/local2" "$ctx"
check "the image's files replace the old ones" test "$(cat "$T/local2/hello.txt")" = hello
check "other files stay" test "$(cat "$T/local2/kept.txt")" = mine

# ---- type=tar ----
expect_ok "--output type=tar,dest=FILE" build --output "type=tar,dest=$T/root.tar" "$ctx"
check "the tar lists the files" sh -c "tar -tf '$T/root.tar' | sed 's,^\./,,' | grep -qx 'sub/x' && tar -tf '$T/root.tar' | sed 's,^\./,,' | grep -qx hello.txt"
check "the tar holds the file's content" test "$(tar -xOf "$T/root.tar" hello.txt 2>/dev/null || tar -xOf "$T/root.tar" ./hello.txt)" = hello
"$CAIRN" build -o type=tar,dest=- "$ctx" >"$T/stdout.tar" 2>"$T/stdout.err"
check "dest=-: the tar alone on stdout" sh -c "tar -tf '$T/stdout.tar' | sed 's,^\./,,' | grep -qx hello.txt"
check "dest=-: the build's lines and digest go to stderr" grep -q '^sha256:' "$T/stdout.err"
"$CAIRN" build -o - "$ctx" >"$T/dash.tar" 2>/dev/null
check "-o - is type=tar to stdout" sh -c "tar -tf '$T/dash.tar' | sed 's,^\./,,' | grep -qx hello.txt"

# ---- type=oci ----
expect_ok "--output type=oci,dest=FILE,name=REF" build --output "type=oci,dest=$T/oci.tar,name=example.com/out:1" "$ctx"
id=$(tail -n1 "$T/out")
skopeo inspect --raw "oci-archive:$T/oci.tar" >"$T/si.json" 2>"$T/si.err"
check "skopeo inspect oci-archive: reads it (the image the build printed)" test "$(jq -r .config.digest "$T/si.json")" = "$id"
check "the layout names the image" test "$(tar -xOf "$T/oci.tar" index.json | jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]')" = example.com/out:1
check "name= is not a tag in the store" expect_no_tag example.com/out:1
rm -rf "$T/um"
check "umoci unpacks it" sh -c "skopeo copy -q --dest-compress --dest-compress-format gzip 'oci-archive:$T/oci.tar' 'oci:$T/oci-dir:a' && umoci unpack --image '$T/oci-dir:a' '$T/um' >/dev/null && test \"\$(cat '$T/um/rootfs/hello.txt')\" = hello"

# ---- type=docker ----
expect_ok "--output type=docker,dest=FILE,name=REF" build --output "type=docker,dest=$T/d.tar,name=out:2" "$ctx"
skopeo inspect "docker-archive:$T/d.tar" >"$T/sd.json" 2>"$T/sd.err"
check "skopeo inspect docker-archive: reads it" test "$(jq '.Layers | length' "$T/sd.json")" = 1
check "manifest.json's RepoTags is the name" test "$(tar -xOf "$T/d.tar" manifest.json | jq -c '.[0].RepoTags')" = '["docker.io/library/out:2"]'
expect_ok "type=docker with -t and no name= names it by the tags" build -t tagged:3 -o "type=docker,dest=$T/d3.tar" "$ctx"
check "RepoTags from -t" test "$(tar -xOf "$T/d3.tar" manifest.json | jq -c '.[0].RepoTags')" = '["docker.io/library/tagged:3"]'
check "-t still tags" test -n "$(tag_digest tagged:3)"

# ---- over a directory that has files: the user's files are never deleted
# by the image's whiteouts (only the image's final files are written) ----
mkdir -p "$T/over/src" "$T/over/etc"
echo mine >"$T/over/src/main.c"; echo conf >"$T/over/etc/app.conf"; echo old >"$T/over/hello.txt"
buildfile "$T/wh" <<'EOF2'
FROM busybox
RUN mkdir /src && echo tmp >/src/build.o && echo img >/hello.txt
RUN rm -rf /src
EOF2
expect_ok "-o DIR over a directory with files, the image deleting /src" build -o "$T/over" "$T/wh"
check "the user's src/main.c is still there" test "$(cat "$T/over/src/main.c")" = mine
check "... and etc/app.conf" test "$(cat "$T/over/etc/app.conf")" = conf
check "the image's file replaced the user's of the same name" test "$(cat "$T/over/hello.txt")" = img
check "the image's deleted file is not written" test ! -e "$T/over/src/build.o"
check "the image's files are there (bin/busybox)" test -x "$T/over/bin/busybox"
check "no temp dir left next to it" sh -c "! ls -A '$T' | grep -q '^\.over\.tmp'"

# ---- errors ----
expect_fail "an unknown type names itself" 2 '--output: unknown type "foo"' build -o type=foo,dest=x "$ctx"
expect_fail "an unknown key names itself" 2 '--output: unknown key "bogus"' build -o "type=local,dest=$T/x,bogus=1" "$ctx"
expect_fail "type=local needs dest" 2 '--output: type=local needs dest=' build -o type=local "$ctx"
expect_fail "one output only" 2 '--output: only one output' build -o "$T/a" -o "$T/b" "$ctx"
expect_fail "name= is for oci and docker" 2 '--output: name= ' build -o "type=local,dest=$T/y,name=a" "$ctx"
check "no temp files next to the outputs" sh -c "! ls -A '$T' | grep -q cairn-tmp"
check "store consistent" store_is_consistent
check "no step dirs left" no_tmp_left
finish
