#!/bin/bash
# cairn build end to end: the busybox base, an image on it, images,
# inspect, rmi; the config holds what the Buildfile said.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
check "busybox base is tagged" test -n "$(tag_digest busybox:latest)"

ctx=$T/app
mkdir -p "$ctx/sub/dir"
echo "hello file" >"$ctx/hello.txt"
echo nested >"$ctx/sub/dir/nested.txt"
chmod 0640 "$ctx/hello.txt"
buildfile "$ctx" <<'EOF2'
FROM busybox
ARG VERSION=0.1
ENV APP_HOME=/srv/app GREETING="hello world"
WORKDIR $APP_HOME
COPY hello.txt ./
COPY sub /srv/tree/
RUN echo "version $VERSION" > version.txt && ls /srv/tree/dir > listing
LABEL org.example.version=$VERSION maintainer="cairn tests"
EXPOSE 8080 53/udp
VOLUME /data
USER nobody
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo $GREETING"]
EOF2
expect_ok "build the app image" build -t app:1 --build-arg VERSION=2.5 "$ctx"
check "progress shows steps" grep -q "STEP 7/14: RUN echo" "$T/out"
check "the last line is the image id (the config digest)" test "$(tail -1 "$T/out")" = "$(image_id app:1)"

cfg=$(image_config app:1)
j() { jq -r "$1" <<<"$cfg"; }
check "Env keeps PATH and adds ENV values" test "$(j '.config.Env | join(";")')" = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin;APP_HOME=/srv/app;GREETING=hello world"
check "WorkingDir expanded" test "$(j .config.WorkingDir)" = /srv/app
check "User" test "$(j .config.User)" = nobody
check "Labels expanded with the build arg" test "$(j '.config.Labels["org.example.version"]')" = 2.5
check "ExposedPorts" test "$(j '.config.ExposedPorts | keys | join(",")')" = "53/udp,8080/tcp"
check "Volumes" test "$(j '.config.Volumes | keys | join(",")')" = /data
check "StopSignal" test "$(j .config.StopSignal)" = SIGQUIT
check "Entrypoint" test "$(j '.config.Entrypoint | join(" ")')" = "/bin/sh -c"
check "Cmd" test "$(j '.config.Cmd | join(" ")')" = 'echo $GREETING'
check "one diff_id per layer" test "$(j '.rootfs.diff_ids | length')" -eq "$(jq '.layers | length' "$CAIRN_ROOT/blobs/sha256/$(tag_digest app:1 | cut -d: -f2)")"
check "history has one entry per instruction of both images" test "$(j '.history | length')" -eq $(( $(jq '.history | length' <<<"$(image_config busybox:latest)") + 12 ))
check "history records created_by" test "$(j '[.history[] | select(.created_by == "COPY hello.txt ./")] | length')" -eq 1
check "metadata steps are empty layers" test "$(j '[.history[] | select(.created_by | startswith("ENV")) | .empty_layer] | all')" = true
check "os and architecture" test "$(j .os)/$(j .architecture)" = "linux/$(dpkg --print-architecture)"

run_cairn images
check "images lists app:1" grep -qE '^app +1 ' "$T/out"
check "images lists busybox:latest" grep -qE '^busybox +latest ' "$T/out"
run_cairn inspect app:1
check "inspect prints the config" test "$(jq -r '.[0].Config.User' "$T/out")" = nobody
check "inspect prints the manifest digest" test "$(jq -r '.[0].Digest' "$T/out")" = "$(tag_digest app:1)"
check "manifest uses OCI media types" test "$(jq -r '.[0].Manifest.mediaType + " " + .[0].Manifest.config.mediaType' "$T/out")" = "application/vnd.oci.image.manifest.v1+json application/vnd.oci.image.config.v1+json"
check "layers are gzip by default (what docker before 23, umoci and LXC read)" test "$(jq -r '[.[0].Manifest.layers[].mediaType] | unique | join(",")' "$T/out")" = "application/vnd.oci.image.layer.v1.tar+gzip"

# Layers are shared: a second image on the same base adds only its own.
before=$(ls "$CAIRN_ROOT/blobs/sha256" | wc -l)
snaps_before=$(ls "$CAIRN_ROOT/snapshots" | wc -l)
mkdir -p "$T/two"
printf 'FROM busybox\nRUN echo two > /two\n' | buildfile "$T/two"
expect_ok "build a second image on the base" build -t two:1 "$T/two"
after=$(ls "$CAIRN_ROOT/blobs/sha256" | wc -l)
check "second image adds one layer, one config, one manifest blob" test $((after - before)) -eq 3
check "second image adds one snapshot" test $(( $(ls "$CAIRN_ROOT/snapshots" | wc -l) - snaps_before )) -eq 1

# --compression gzip
expect_ok "build with gzip layers" build -t two:gz --compression gzip "$T/two"
check "gzip layer media type" test "$(jq -r '.layers[-1].mediaType' "$CAIRN_ROOT/blobs/sha256/$(tag_digest two:gz | cut -d: -f2)")" = application/vnd.oci.image.layer.v1.tar+gzip

expect_ok "rmi removes the tag" rmi app:1
check "the tag is gone from index.json" expect_no_tag app:1
check "other tags stay" test -n "$(tag_digest two:1)"
run_cairn inspect app:1
check "inspect of a removed image fails" test "$status" -eq 1

# An image and a tag for it: the Dockerfile fallback name.
mkdir -p "$T/df"
printf 'FROM busybox\nCMD ["true"]\n' >"$T/df/Dockerfile"
expect_ok "Dockerfile is found when there is no Buildfile" build -t df:1 "$T/df"
# The same layer twice in one image (identical diffs): overlayfs refuses a
# directory twice in a stack, so the stack keeps the topmost copy.
buildfile "$T/dup" <<'EOF2'
FROM busybox
RUN echo a > /a && touch -d @1000 /a
RUN echo b > /b
RUN echo a > /a && touch -d @1000 /a
RUN test "$(cat /a /b | tr '\n' ' ')" = "a b "
EOF2
expect_ok "an image with a repeated layer builds and runs on it" build -t dup:1 "$T/dup"
check "the repeated layer is listed twice" test "$(image_config dup:1 | jq '.rootfs.diff_ids | (length - (unique | length))')" -eq 1

# Kernels before 6.8 have no "lowerdir+": the option-string mount, with
# short relative lower dir names, must build the same images.
mkdir -p "$T/legacy"
{ echo 'FROM busybox'; for i in $(seq 40); do echo "RUN echo $i > /layer$i"; done; echo 'RUN test "$(cat /layer1 /layer40 | tr "\n" " ")" = "1 40 "'; } >"$T/legacy/Buildfile"
CAIRN_TEST_OVERLAY_LEGACY=1 run_cairn build -t legacy:1 "$T/legacy"
check "45 layers through the legacy overlay mount" test "$status" -eq 0 -a "$(image_config legacy:1 | jq '.rootfs.diff_ids | length')" -eq 44

check "store is consistent" store_is_consistent
check "no temp dirs left" no_tmp_left
check "no mounts left" no_mounts_left
finish
