#!/bin/bash
# make demo: build the busybox base and the hello image, then run hello's
# command. Running containers is not cairn's yet (cairn run is coming), so
# the demo reads the store as the OCI layout it is: skopeo copies the image
# out, umoci unpacks a runtime bundle and runc runs it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CAIRN=${CAIRN:-cairn}
export CAIRN_ROOT=${CAIRN_ROOT:-/var/lib/cairn}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: cairn builds as root for now; run 'sudo make demo'" >&2
	exit 1
fi
install -m 0755 /bin/busybox "$here/busybox/busybox"
"$CAIRN" build -t busybox:latest "$here/busybox"
"$CAIRN" build -t hello:1 "$here/hello"
"$CAIRN" images

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Debian 12's umoci (0.4.7) predates zstd layers: skopeo recompresses.
skopeo copy --quiet --dest-compress --dest-compress-format gzip \
	"oci:$CAIRN_ROOT:hello:1" "oci:$tmp/oci:hello"
umoci unpack --image "$tmp/oci:hello" "$tmp/bundle" >/dev/null
jq '.process.terminal = false' "$tmp/bundle/config.json" >"$tmp/config.json"
mv "$tmp/config.json" "$tmp/bundle/config.json"
echo "--- running hello:1 with runc ---"
runc run --bundle "$tmp/bundle" "cairn-demo-$$"
