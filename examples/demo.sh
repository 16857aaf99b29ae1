#!/bin/bash
# make demo: build the busybox base and the hello image, list them, and run
# hello's command with `cairn run`. The store is build/demo-store in this
# tree unless CAIRN_ROOT names one, so the demo never writes to
# /var/lib/cairn behind the user's back.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CAIRN=${CAIRN:-cairn}
export CAIRN_ROOT=${CAIRN_ROOT:-$(dirname "$here")/build/demo-store}

if [ "$(id -u)" -ne 0 ] && [ ! -r /bin/busybox ]; then
	echo "demo: /bin/busybox is missing (apt-get install busybox-static)" >&2
	exit 1
fi
echo "--- store: $CAIRN_ROOT ---"
install -m 0755 /bin/busybox "$here/busybox/busybox"
"$CAIRN" build -t busybox:latest "$here/busybox"
"$CAIRN" build -t hello:1 "$here/hello"
"$CAIRN" images
echo "--- running hello:1 with cairn run ---"
"$CAIRN" run --rm hello:1
