#!/bin/bash
# Independent stages build side by side (--jobs), their output prefixed with
# the stage's name; the result is the same image as one at a time.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
ctx=$T/par
mkdir -p "$ctx"
cat >"$ctx/Buildfile" <<'OUTER'
FROM busybox AS left
RUN echo left-ran && echo left > /left
FROM busybox AS right
RUN echo right-ran && echo right > /right
FROM busybox
COPY --from=left /left /left
COPY --from=right /right /right
RUN cat /left /right
OUTER
expect_ok "a build with two independent stages, --jobs 2" build --no-cache -j 2 --timestamp 1700000000 -t par:2 "$ctx"
check "each stage's output carries its name" grep -q '^\[left\] left-ran$' "$T/out"
check "both stages' steps are prefixed" grep -q '^\[right\] STEP 4/8: RUN echo right-ran' "$T/out"
check "the last stage is prefixed too" grep -q '^\[stage 2\] STEP 8/8: RUN cat /left /right$' "$T/out"
check "the last stage saw both results" grep -q '^\[stage 2\] right$' "$T/out"
expect_ok "the same build one stage at a time" build --no-cache -j 1 --timestamp 1700000000 -t par:1 "$ctx"
check "--jobs 1 prefixes nothing" test -z "$(grep '^\[' "$T/out")"
check "parallel and sequential builds give the same image" test "$(tag_digest par:1)" = "$(tag_digest par:2)"

sed -i 's/echo right-ran/echo right-ran; exit 7/' "$ctx/Buildfile"
expect_fail "a failing stage stops the build, naming its line" 1 "Buildfile:4: RUN: exit status 7" build -j 2 -t par:3 "$ctx"
check "nothing tagged" expect_no_tag par:3
check "no temp dir left" no_tmp_left
check "no mounts left" no_mounts_left
expect_fail "--jobs 0 is a usage error" 2 "--jobs" build -j 0 "$ctx"
check "store consistent" store_is_consistent
finish
