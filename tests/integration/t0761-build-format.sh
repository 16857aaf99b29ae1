#!/bin/bash
# build --format oci|docker (and BUILDAH_FORMAT, as buildah): docker writes a
# docker v2 schema2 manifest and config media types, with HEALTHCHECK,
# ONBUILD, SHELL and STOPSIGNAL in the docker config fields; oci (the
# default) keeps them too, as cairn always did (t0150). save of a docker
# format image is still what docker load reads.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
trap 'stop_registry; cleanup_test_dir' EXIT

build_busybox || finish
expect_ok "a gzip busybox" build -q --compression gzip -t busybox:gz "$REPO_DIR/examples/busybox"
ctx=$T/ctx
buildfile "$ctx" <<'EOF'
FROM busybox:gz
HEALTHCHECK --interval=5s CMD true
ONBUILD RUN echo child
SHELL ["/bin/sh", "-ec"]
STOPSIGNAL SIGQUIT
RUN echo hi >/f
EOF
DOCKER_MT=application/vnd.docker.distribution.manifest.v2+json
manifest_of() { cat "$CAIRN_ROOT/blobs/sha256/$(tag_digest "$1" | sed 's/^sha256://')"; }

expect_ok "build --format docker" build --format docker -t fmt:docker "$ctx"
check "the manifest is docker v2 schema2" test "$(manifest_of fmt:docker | jq -r .mediaType)" = "$DOCKER_MT"
check "the config is a docker image config" test "$(manifest_of fmt:docker | jq -r .config.mediaType)" = application/vnd.docker.container.image.v1+json
check "the layers are docker gzip layers" test "$(manifest_of fmt:docker | jq -r '[.layers[].mediaType] | unique | join(" ")')" = application/vnd.docker.image.rootfs.diff.tar.gzip
# skopeo's oci: transport lists OCI manifests only (as for buildah's
# docker-format images): the registry shows what was built.
if start_registry none; then
	expect_ok "push it" push --cert-dir "$REG_CERTS" fmt:docker "$REG/fmt:docker"
	skopeo inspect --raw --cert-dir "$REG_CERTS" "docker://$REG/fmt:docker" >"$T/raw.json" 2>"$T/raw.err"
	check "skopeo inspect --raw shows the docker media type" test "$(jq -r .mediaType "$T/raw.json")" = "$DOCKER_MT"
	check "... and docker layer types" test "$(jq -r '[.layers[].mediaType] | unique | join(" ")' "$T/raw.json")" = application/vnd.docker.image.rootfs.diff.tar.gzip
	skopeo inspect --cert-dir "$REG_CERTS" "docker://$REG/fmt:docker" >"$T/insp.json" 2>"$T/insp.err"
	check "skopeo inspect reads the image" test "$(jq -r '.Layers | length' "$T/insp.json")" = "$(manifest_of fmt:docker | jq '.layers | length')"
	stop_registry
else
	fail "start the registry"
fi
cfg=$(image_config fmt:docker)
check "Healthcheck in the config" test "$(jq -c .config.Healthcheck.Test <<<"$cfg")" = '["CMD-SHELL","true"]'
check "OnBuild, Shell and StopSignal in the config" test "$(jq -c '[.config.OnBuild, .config.Shell, .config.StopSignal]' <<<"$cfg")" = '[["RUN echo child"],["/bin/sh","-ec"],"SIGQUIT"]'
expect_ok "inspect reads it" inspect fmt:docker
printf 'FROM fmt:docker\nRUN test -f /f\n' | buildfile "$T/child"
expect_ok "a build FROM a docker-format image" build -t fmt:child "$T/child"

expect_ok "build (oci, the default), gzip as the docker build" build --compression gzip -t fmt:oci "$ctx"
check "its steps came from the docker build's cache" test "$(grep -c 'CACHED' "$T/out")" -ge 1
check "the manifest is OCI" test "$(manifest_of fmt:oci | jq -r .mediaType)" = application/vnd.oci.image.manifest.v1+json
check "the config is OCI" test "$(manifest_of fmt:oci | jq -r .config.mediaType)" = application/vnd.oci.image.config.v1+json
check "oci keeps Healthcheck too (as before)" test "$(image_config fmt:oci | jq -c .config.Healthcheck.Test)" = '["CMD-SHELL","true"]'
check "the same image id (config) in both formats" test "$(manifest_of fmt:oci | jq -r .config.digest)" = "$(manifest_of fmt:docker | jq -r .config.digest)"

BUILDAH_FORMAT=docker run_cairn build -t fmt:env "$ctx"
check "BUILDAH_FORMAT=docker" test "$(manifest_of fmt:env | jq -r .mediaType)" = "$DOCKER_MT"
BUILDAH_FORMAT=docker run_cairn build --format oci -t fmt:flag "$ctx"
check "--format wins over BUILDAH_FORMAT" test "$(manifest_of fmt:flag | jq -r .mediaType)" = application/vnd.oci.image.manifest.v1+json
expect_fail "an unknown format names itself" 2 '--format: "v1" is not oci or docker' build --format v1 "$ctx"
BUILDAH_FORMAT=bogus run_cairn build "$ctx"
check "a bad BUILDAH_FORMAT names itself" sh -c "test $status = 2 && grep -q 'BUILDAH_FORMAT' '$T/err'"

# save: the docker archive part is unaffected.
expect_ok "save a docker-format image" save -o "$T/d.tar" fmt:docker
skopeo inspect "docker-archive:$T/d.tar" >"$T/sd.json" 2>"$T/sd.err"
check "skopeo inspect docker-archive: reads it" test "$(jq -r '.Env | length' "$T/sd.json")" -ge 1
check "manifest.json names the config blob" sh -c "tar -tf '$T/d.tar' | grep -qx \"\$(tar -xOf '$T/d.tar' manifest.json | jq -r '.[0].Config')\""
skopeo inspect "oci-archive:$T/d.tar" >"$T/so.json" 2>"$T/so.err"
check "the index entry says what the manifest is" test "$(tar -xOf "$T/d.tar" index.json | jq -r '.manifests[0].mediaType')" = "$DOCKER_MT"
check "store consistent" store_is_consistent
finish
