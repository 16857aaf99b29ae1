#!/bin/bash
# build --build-context NAME=DIR|NAME=docker-image://REF, as BuildKit:
# COPY --from=NAME reads the directory (its own ignore file, its content in
# the cache key) or the image; FROM NAME takes the image, or starts from the
# directory's files; a named context wins over a stage of that name.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
trap 'stop_registry; cleanup_test_dir' EXIT

build_busybox || finish
ctx=$T/ctx
other=$T/other
mkdir -p "$other/sub"
echo one >"$other/a.txt"
echo hidden >"$other/skip.txt"
echo deep >"$other/sub/d.txt"
echo skip.txt >"$other/.dockerignore"
buildfile "$ctx" <<'EOF2'
FROM busybox
COPY --from=extra a.txt /a.txt
COPY --from=extra / /all/
EOF2
echo a.txt >"$ctx/.dockerignore"     # the main context's rules do not apply to extra

expect_ok "build with --build-context NAME=DIR" build --build-context "extra=$other" -t nc:1 "$ctx"
rm -rf "$T/r1"
check "unpack" unpack_with_umoci nc:1 "$T/r1"
check "COPY --from=NAME took the directory's file" test "$(cat "$T/r1/rootfs/a.txt")" = one
check "... and its subdirectories" test "$(cat "$T/r1/rootfs/all/sub/d.txt")" = deep
check "its own .dockerignore applies" test ! -e "$T/r1/rootfs/all/skip.txt"

step_result() {  # the line after the STEP line that contains $1
	grep -A1 -F -- "$1" "$T/out" | sed -n 2p
}
expect_ok "the same build again" build --build-context "extra=$other" -t nc:1 "$ctx"
check "unchanged: the COPY --from=NAME step is cached" sh -c "case '$(step_result 'COPY --from=extra a.txt')' in *CACHED*) ;; *) exit 1;; esac"
echo other-hidden >"$other/skip.txt"
expect_ok "an ignored file changed" build --build-context "extra=$other" -t nc:1 "$ctx"
check "still cached" sh -c "case '$(step_result 'COPY --from=extra /')' in *CACHED*) ;; *) exit 1;; esac"
echo two >"$other/a.txt"
expect_ok "a copied file changed" build --build-context "extra=$other" -t nc:2 "$ctx"
check "the COPY --from=NAME step ran again" sh -c "case '$(step_result 'COPY --from=extra a.txt')' in *layer*) ;; *) exit 1;; esac"
rm -rf "$T/r2"
check "unpack" unpack_with_umoci nc:2 "$T/r2"
check "the new content is in the image" test "$(cat "$T/r2/rootfs/a.txt")" = two

# A named context wins over a stage of the same name.
buildfile "$T/ctx2" <<'EOF2'
FROM busybox AS extra
RUN echo from-stage >/a.txt
FROM busybox
COPY --from=extra a.txt /a.txt
EOF2
expect_ok "--build-context over a stage" build --build-context "extra=$other" -t nc:3 "$T/ctx2"
rm -rf "$T/r3"
check "unpack" unpack_with_umoci nc:3 "$T/r3"
check "the directory's file, not the stage's" test "$(cat "$T/r3/rootfs/a.txt")" = two
check "the stage was not built" sh -c "! grep -q 'echo from-stage' '$T/out'"

# docker-image://REF: FROM NAME and COPY --from=NAME.
buildfile "$T/src" <<'EOF2'
FROM busybox
RUN echo from-image >/img.txt
EOF2
expect_ok "an image to name" build -t srcimg:1 "$T/src"
buildfile "$T/ctx3" <<'EOF2'
FROM base
COPY --from=files /img.txt /copied.txt
RUN test -x /bin/sh && cat /copied.txt
EOF2
expect_ok "FROM NAME and COPY --from=NAME with docker-image://" \
	build --build-context base=docker-image://busybox:latest --build-context files=docker-image://srcimg:1 -t nc:4 "$T/ctx3"
check "the RUN saw the image's file" grep -qx from-image "$T/out"
check "its base is busybox" test "$(image_config nc:4 | jq -r '.rootfs.diff_ids[0]')" = "$(image_config busybox:latest | jq -r '.rootfs.diff_ids[0]')"

# docker-image://REF missing from the store: pulled, as FROM pulls.
if start_registry none; then
	expect_ok "push an image" push --cert-dir "$REG_CERTS" srcimg:1 "$REG/lib/src:1"
	expect_ok "a build naming it by docker-image://" \
		build --cert-dir "$REG_CERTS" --build-context base=docker-image://busybox:latest \
		--build-context "files=docker-image://$REG/lib/src:1" -t nc:7 "$T/ctx3"
	check "it was pulled" grep -q "pulling $REG/lib/src:1" "$T/out"
	rm -rf "$T/r7"
	check "unpack" unpack_with_umoci nc:7 "$T/r7"
	check "the pulled image's file was copied" test "$(cat "$T/r7/rootfs/copied.txt")" = from-image
	stop_registry
else
	fail "start the registry"
fi

# Errors.
expect_fail "NAME=VALUE expected" 2 '--build-context: "extra" is not NAME=DIR' build --build-context extra "$ctx"
expect_fail "a URL source is refused by name" 2 'https://... sources are not supported' build --build-context x=https://example.com/a.tar.gz "$ctx"
expect_fail "a missing directory is named" 2 "$T/nope" build --build-context "x=$T/nope" "$ctx"

# FROM NAME=DIR: the stage starts as the directory's files (as BuildKit).
printf 'FROM extra\n' | buildfile "$T/ctx4"
expect_ok "FROM a directory context" build --build-context "extra=$other" -t nc:5 "$T/ctx4"
rm -rf "$T/r5"
check "unpack" unpack_with_umoci nc:5 "$T/r5"
check "the image is the directory's files" test "$(cat "$T/r5/rootfs/a.txt") $(cat "$T/r5/rootfs/sub/d.txt")" = "two deep"
check "... without the ones its ignore file names" test ! -e "$T/r5/rootfs/skip.txt"
check "one layer" test "$(image_config nc:5 | jq '.rootfs.diff_ids | length')" = 1
expect_ok "again" build --build-context "extra=$other" -t nc:5 "$T/ctx4"
check "unchanged: cached" grep -q CACHED "$T/out"
echo three >"$other/a.txt"
expect_ok "a file changed" build --build-context "extra=$other" -t nc:6 "$T/ctx4"
check "not cached" sh -c "! grep -q CACHED '$T/out'"
check "store consistent" store_is_consistent
check "no step dirs left" no_tmp_left
finish
