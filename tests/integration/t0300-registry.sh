#!/bin/bash
# Push and pull against a real registry (Debian's docker-registry on a random
# loopback port, TLS from a test CA, htpasswd users): digests survive the
# round trip, blobs the registry has are not sent again, blobs another
# repository has are mounted, skopeo sees what cairn pushed and cairn builds
# on what other tools pushed; credentials from login, auth files and --creds;
# TLS verification on unless turned off.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
trap 'stop_registry; cleanup_test_dir' EXIT

build_busybox || finish
start_registry htpasswd || { fail "start the registry"; finish; }
export REGISTRY_AUTH_FILE=$T/auth.json HOME=$T/home
mkdir -p "$HOME"
TLS=(--cert-dir "$REG_CERTS")
CREDS=(--creds "$REG_USER:$REG_PASS")
SK=(--cert-dir "$REG_CERTS" --creds "$REG_USER:$REG_PASS")
local_digest=$(tag_digest busybox:latest)

# ---- push ----
expect_fail "push without credentials is refused" 1 "requires authentication" \
	push "${TLS[@]}" busybox:latest "$REG/team/busybox:1"
expect_fail "a wrong password is refused" 1 "authentication failed" \
	push "${TLS[@]}" --creds "$REG_USER:wrong" busybox:latest "$REG/team/busybox:1"
expect_ok "push" push "${TLS[@]}" "${CREDS[@]}" busybox:latest "$REG/team/busybox:1"
check "push prints the manifest digest" test "$(cat "$T/out")" = "$local_digest"
remote=$(skopeo inspect "${SK[@]}" "docker://$REG/team/busybox:1" | jq -r .Digest)
check "skopeo sees the local manifest digest in the registry" test "$remote" = "$local_digest"
rm -rf "$T/sk"
skopeo copy -q --src-cert-dir "$REG_CERTS" --src-creds "$REG_USER:$REG_PASS" \
	"docker://$REG/team/busybox:1" "oci:$T/sk:1" >/dev/null 2>&1
same=1
for b in "$T"/sk/blobs/sha256/*; do
	cmp -s "$b" "$CAIRN_ROOT/blobs/sha256/$(basename "$b")" || { same=0; echo "# differs: $b"; }
done
check "skopeo copies out byte-identical blobs" test "$same" = 1 -a "$(ls "$T/sk/blobs/sha256" | wc -l)" -ge 3

uploads=$(reg_requests POST /blobs/uploads/)
puts=$(reg_requests PUT /blobs/uploads/)
expect_ok "push again" push "${TLS[@]}" "${CREDS[@]}" busybox:latest "$REG/team/busybox:1"
check "a second push uploads no blob" test "$(reg_requests POST /blobs/uploads/)" = "$uploads" \
	-a "$(reg_requests PUT /blobs/uploads/)" = "$puts"
check "... and says so" grep -q "0 blobs sent" "$T/err"
bb_id=$(jq -r .config.digest "$CAIRN_ROOT/blobs/sha256/${local_digest#sha256:}")
expect_ok "push by a short image id" push "${TLS[@]}" "${CREDS[@]}" "${bb_id:7:12}" "$REG/team/byid:1"
check "... pushes that image" test "$(skopeo inspect "${SK[@]}" "docker://$REG/team/byid:1" | jq -r .Digest)" = "$local_digest"
expect_fail "an image id alone names no repository" 1 "name the DESTINATION" push "${TLS[@]}" "${CREDS[@]}" "${bb_id:7:12}"

# ---- pull ----
export CAIRN_ROOT=$T/store2
expect_ok "pull into an empty store" pull "${TLS[@]}" "${CREDS[@]}" "$REG/team/busybox:1"
check "the pulled image has the same digest" test "$(tag_digest "$REG/team/busybox:1")" = "$local_digest"
check "it is tagged under the name as given" grep -q "^$REG/team/busybox " <("$CAIRN" images)
expect_ok "fsck after the pull" fsck
printf 'FROM %s/team/busybox:1\nRUN echo built-on-pulled >/proof\n' "$REG" | buildfile "$T/onpulled"
expect_ok "build FROM the pulled image" build -t onpulled:1 "$T/onpulled"
check "its RUN step ran on the pulled root" grep -q "built-on-pulled" <(unpack_with_umoci onpulled:1 "$T/u1" && cat "$T/u1/rootfs/proof")

export CAIRN_ROOT=$T/store3
expect_ok "FROM pulls a missing base image on demand" build "${TLS[@]}" "${CREDS[@]}" -t onpulled:2 "$T/onpulled"
check "... and tags it in the store" test "$(tag_digest "$REG/team/busybox:1")" = "$local_digest"
expect_fail "pull of a missing tag names it" 1 "manifest unknown" pull "${TLS[@]}" "${CREDS[@]}" "$REG/team/busybox:nope"
check "nothing was tagged for it" expect_no_tag "$REG/team/busybox:nope"
expect_ok "pull by digest" pull "${TLS[@]}" "${CREDS[@]}" "$REG/team/busybox@$local_digest"

# ---- credentials ----
export CAIRN_ROOT=$T/store4
echo "$REG_PASS" | "$CAIRN" login "${TLS[@]}" -u "$REG_USER" --password-stdin "$REG" >"$T/out" 2>"$T/err"
check "login with --password-stdin" grep -q "Login Succeeded" "$T/out"
check "login writes the containers auth file (mode 0600)" test "$(stat -c %a "$REGISTRY_AUTH_FILE")" = 600 -a \
	"$(jq -r --arg r "$REG" '.auths[$r].auth' "$REGISTRY_AUTH_FILE" | base64 -d)" = "$REG_USER:$REG_PASS"
expect_ok "pull with the recorded credentials" pull -q "${TLS[@]}" "$REG/team/busybox:1"
cp "$REGISTRY_AUTH_FILE" "$T/auth.before"
echo wrong | "$CAIRN" login "${TLS[@]}" -u "$REG_USER" --password-stdin "$REG" >"$T/out" 2>"$T/err"
check "login with a wrong password fails and records nothing" \
	test $? -ne 0 -a -n "$(grep 'authentication failed' "$T/err")" -a "$(cat "$T/auth.before")" = "$(cat "$REGISTRY_AUTH_FILE")"
expect_ok "logout" logout "$REG"
check "logout forgets the registry" test "$(jq -r --arg r "$REG" '.auths[$r]' "$REGISTRY_AUTH_FILE")" = null
expect_fail "logout again says it was not logged in" 1 "not logged into" logout "$REG"
expect_fail "after logout, pull needs credentials again" 1 "requires authentication" pull "${TLS[@]}" "$REG/team/busybox:1"
mkdir -p "$HOME/.docker"
printf '{"auths":{"https://%s":{"auth":"%s"}}}\n' "$REG" "$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64)" \
	>"$HOME/.docker/config.json"
expect_ok "credentials from ~/.docker/config.json" pull -q "${TLS[@]}" "$REG/team/busybox:1"
echo '{"auths": nope' >"$REGISTRY_AUTH_FILE"
expect_fail "a malformed auth file is named" 1 "$REGISTRY_AUTH_FILE" pull -q "${TLS[@]}" "$REG/team/busybox:1"
rm -f "$REGISTRY_AUTH_FILE" "$HOME/.docker/config.json"

# ---- TLS ----
expect_fail "an unknown CA fails TLS verification" 1 "TLS verification failed" pull -q "${CREDS[@]}" "$REG/team/busybox:1"
certsd=/etc/containers/certs.d/$REG
mkdir -p "$certsd" && cp "$REG_CERTS/ca.crt" "$certsd/ca.crt"
expect_ok "a CA in /etc/containers/certs.d/HOST:PORT is trusted" pull -q "${CREDS[@]}" "$REG/team/busybox:1"
rm -rf "$certsd"
expect_ok "--tls-verify=false skips verification" pull -q --tls-verify=false "${CREDS[@]}" "$REG/team/busybox:1"

# ---- cross-repository mount, chunked upload ----
export CAIRN_ROOT=$T/store
"$CAIRN" tag busybox:latest "$REG/team/busybox:1" >/dev/null
head -c 40000000 /dev/urandom >"$T/big.bin"
mkdir -p "$T/app" && mv "$T/big.bin" "$T/app/"
printf 'FROM busybox\nCOPY big.bin /big.bin\n' | buildfile "$T/app"
expect_ok "build an image with a 40 MB layer" build -t app:1 "$T/app"
patches=$(reg_requests PATCH /blobs/uploads/)
expect_ok "push it to another repository" push "${TLS[@]}" "${CREDS[@]}" app:1 "$REG/team/app:1"
check "the base layers are mounted from the other repository" grep -q "mounted" "$T/err"
check "the registry saw the mount requests" test "$(reg_requests POST 'mount=sha256')" -ge 1
check "the large layer went up in chunks (PATCH)" test "$(reg_requests PATCH /blobs/uploads/)" -gt "$patches"
export CAIRN_ROOT=$T/store5
expect_ok "pull the large image" pull -q "${TLS[@]}" "${CREDS[@]}" "$REG/team/app:1"
check "same digest after the round trip" test "$(tag_digest "$REG/team/app:1")" = "$(CAIRN_ROOT=$T/store tag_digest app:1)"

export CAIRN_ROOT=$T/store8
"$CAIRN" pull -q "${TLS[@]}" "${CREDS[@]}" "$REG/team/app:1" >/dev/null 2>"$T/err" &
pid=$!
sleep 0.3
kill -INT "$pid" 2>/dev/null
wait "$pid"
st=$?
if [ "$st" -eq 130 ]; then
	check "Ctrl-C during a pull: nothing is tagged" expect_no_tag "$REG/team/app:1"
else
	check "the pull finished before Ctrl-C: it is whole" test "$st" -eq 0 -a -n "$(tag_digest "$REG/team/app:1")"
fi
expect_ok "fsck after an interrupted pull" fsck
expect_ok "the pull again" pull -q "${TLS[@]}" "${CREDS[@]}" "$REG/team/app:1"
check "... completes the image" test "$(tag_digest "$REG/team/app:1")" = "$(CAIRN_ROOT=$T/store tag_digest app:1)"

# ---- images made by other tools ----
rm -rf "$T/um" "$T/umb"
if umoci init --layout "$T/um" && umoci new --image "$T/um:t" &&
	umoci unpack --image "$T/um:t" "$T/umb" >/dev/null && cp /bin/busybox "$T/umb/rootfs/busybox" &&
	umoci repack --image "$T/um:t" "$T/umb" >/dev/null &&
	umoci config --image "$T/um:t" --config.entrypoint /busybox >/dev/null &&
	skopeo copy -q --format v2s2 --dest-cert-dir "$REG_CERTS" --dest-creds "$REG_USER:$REG_PASS" \
		"oci:$T/um:t" "docker://$REG/other/umoci:1" >/dev/null; then
	export CAIRN_ROOT=$T/store6
	expect_ok "pull a Docker schema2 image made by umoci and pushed by skopeo" \
		pull "${TLS[@]}" "${CREDS[@]}" "$REG/other/umoci:1"
	check "its docker media type is kept in the store's index" \
		test "$(jq -r '.manifests[0].mediaType' "$CAIRN_ROOT/index.json")" = application/vnd.docker.distribution.manifest.v2+json
	printf 'FROM %s/other/umoci:1\nRUN ["/busybox", "sh", "-c", "echo from-umoci > /made"]\n' "$REG" | buildfile "$T/onumoci"
	expect_ok "build FROM it" build -t onumoci:1 "$T/onumoci"
	check "the image built on it is OCI and gzip throughout" test "$(jq -r '[.layers[].mediaType] | unique | join(",")' \
		"$CAIRN_ROOT/blobs/sha256/$(tag_digest onumoci:1 | cut -d: -f2)")" = application/vnd.oci.image.layer.v1.tar+gzip
else
	fail "make an image with umoci and push it with skopeo"
fi

# ---- a multi-platform index ----
export CAIRN_ROOT=$T/store
rm -rf "$T/idx" && skopeo copy -q "oci:$CAIRN_ROOT:busybox:latest" "oci:$T/idx:x" >/dev/null
m=$(jq -r '.manifests[0].digest' "$T/idx/index.json")
msize=$(jq -r '.manifests[0].size' "$T/idx/index.json")
python3 - "$T/idx" "$m" "$msize" <<'PY'
import hashlib, json, os, sys
d, m, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m, "size": size,
     "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m, "size": size,
     "platform": {"os": "linux", "architecture": "amd64"}}]}
raw = json.dumps(idx).encode()
h = hashlib.sha256(raw).hexdigest()
open(os.path.join(d, "blobs/sha256", h), "wb").write(raw)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
           "digest": "sha256:" + h, "size": len(raw), "annotations": {"org.opencontainers.image.ref.name": "x"}}]},
          open(os.path.join(d, "index.json"), "w"))
PY
if skopeo copy -q --all --dest-cert-dir "$REG_CERTS" --dest-creds "$REG_USER:$REG_PASS" "oci:$T/idx:x" \
	"docker://$REG/team/multi:1" >/dev/null; then
	export CAIRN_ROOT=$T/store7
	expect_ok "pull from a multi-platform index" pull -q "${TLS[@]}" "${CREDS[@]}" "$REG/team/multi:1"
	check "the host's platform was chosen" test "$(tag_digest "$REG/team/multi:1")" = "$m"
	expect_fail "a platform the index lacks is named, with what it has" 1 "linux/arm64/v8, linux/amd64" \
		pull "${TLS[@]}" "${CREDS[@]}" --platform linux/s390x "$REG/team/multi:1"
else
	fail "push an index with skopeo"
fi

# ---- bad input ----
expect_fail "a bad reference is refused" 1 "invalid reference" pull "Bad//Name"
expect_fail "upper-case repository names are refused" 1 "lower-case" pull "$REG/Team/x:1"
expect_fail "a registry that does not answer is named" 1 "127.0.0.1:1" pull -q "127.0.0.1:1/x:1"
export CAIRN_ROOT=$T/store
check "the stores are consistent" store_is_consistent
check "no temp files left" no_tmp_left
stop_registry
finish
