#!/bin/bash
# The store is an OCI layout that skopeo and umoci read with no export
# step, and the unpacked rootfs is what the Buildfile did: files, modes,
# owners, symlinks, hardlinks, deletions and opaque directories.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
ctx=$T/fs
mkdir -p "$ctx/files/conf"
echo data >"$ctx/files/conf/app.conf"
printf '#!/bin/sh\necho tool\n' >"$ctx/files/tool"
chmod 0750 "$ctx/files/tool"
chmod 0600 "$ctx/files/conf/app.conf"
ln -s conf/app.conf "$ctx/files/conf-link"
buildfile "$ctx" <<'EOF2'
FROM busybox
COPY files/ /data/
COPY --chown=daemon:users --chmod=0644 files/conf/app.conf /etc/owned.conf
RUN mkdir -p /opaque/sub && echo old > /opaque/sub/old && echo gone > /gone && \
    echo keep > /keep && chown 1:100 /keep && chmod 4755 /keep && ln -s /keep /link
RUN rm /gone && rm -rf /opaque && mkdir /opaque && echo new > /opaque/new && ln /keep /hard && \
    rm /bin/vi && mkfifo /fifo
EOF2
expect_ok "build the file-system image" build -t fs:1 "$ctx"

run_cairn inspect fs:1
layers=$(jq '.[0].Manifest.layers | length' "$T/out")
skopeo inspect "oci:$CAIRN_ROOT:fs:1" >"$T/skopeo.json" 2>"$T/skopeo.err"
check "skopeo inspect reads the store directly" test $? -eq 0
check "skopeo lists every layer" test "$(jq '.Layers | length' "$T/skopeo.json")" -eq "$layers"
check "skopeo sees the manifest digest" test "$(jq -r .Digest "$T/skopeo.json")" = "$(tag_digest fs:1)"

check "skopeo copy + umoci unpack" unpack_with_umoci fs:1 "$T/bundle"
r=$T/bundle/rootfs
check "copied file content" test "$(cat "$r/data/conf/app.conf")" = data
check "copied file mode kept" test "$(stat -c %a "$r/data/conf/app.conf")" = 600
check "copied executable mode kept" test "$(stat -c %a "$r/data/tool")" = 750
check "copied files owned by root" test "$(stat -c %u:%g "$r/data/tool")" = 0:0
check "symlink in a copied dir stays a symlink" test "$(readlink "$r/data/conf-link")" = conf/app.conf
check "--chown by name from the image's passwd/group" test "$(stat -c %u:%g "$r/etc/owned.conf")" = 1:100
check "--chmod" test "$(stat -c %a "$r/etc/owned.conf")" = 644
check "file deleted in a later RUN is gone" test ! -e "$r/gone"
check "base-layer file deleted by RUN is gone" test ! -e "$r/bin/vi" -a ! -L "$r/bin/vi"
check "other base files stay" test -L "$r/bin/ls"
check "removed-and-recreated dir has no old content" test ! -e "$r/opaque/sub"
check "removed-and-recreated dir has the new content" test "$(cat "$r/opaque/new")" = new
check "setuid mode and owner" test "$(stat -c %a:%u:%g "$r/keep")" = 4755:1:100
check "symlink target" test "$(readlink "$r/link")" = /keep
check "hardlink shares the inode" test "$(stat -c %i "$r/keep")" = "$(stat -c %i "$r/hard")"
check "fifo" test -p "$r/fifo"
check "no mount stubs leaked into the image" test ! -e "$r/etc/resolv.conf" -a ! -e "$r/etc/hosts"

# The layer tar itself: OCI whiteouts, sorted entries, no overlay xattrs.
m=$CAIRN_ROOT/blobs/sha256/$(tag_digest fs:1 | cut -d: -f2)
last=$(jq -r '.layers[-1].digest' "$m" | cut -d: -f2)
gzip -dc "$CAIRN_ROOT/blobs/sha256/$last" >"$T/last.tar"
tar -tf "$T/last.tar" >"$T/last.list"
check "whiteout entry for a deleted file" grep -qx '.wh.gone' "$T/last.list"
check "whiteout entry for a base file" grep -qx 'bin/.wh.vi' "$T/last.list"
check "opaque marker for a recreated dir" grep -qx 'opaque/.wh..wh..opq' "$T/last.list"
check "diff_id is the sha256 of the uncompressed tar" \
	test "sha256:$(sha256sum "$T/last.tar" | cut -d' ' -f1)" = "$(image_config fs:1 | jq -r '.rootfs.diff_ids[-1]')"
check "no trusted.overlay xattrs in the layer" test -z "$(tar --xattrs --xattrs-include='*' -tvvf "$T/last.tar" 2>/dev/null | grep -i 'trusted.overlay')"

check "store is consistent" store_is_consistent
check "no mounts left" no_mounts_left
finish
