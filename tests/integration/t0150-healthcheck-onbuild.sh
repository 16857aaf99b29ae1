#!/bin/bash
# HEALTHCHECK in the config; ONBUILD stored, then run when the image is a
# base (once: not inherited by the next image).
. "$(dirname "$0")/lib.sh"

build_busybox || finish
mkdir -p "$T/base" "$T/child" "$T/grandchild"
echo "from the child's context" >"$T/child/note.txt"
cat >"$T/base/Buildfile" <<'OUTER'
FROM busybox
HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --retries=3 CMD wget -q -O- http://localhost/ || exit 1
ONBUILD RUN echo "trigger ran in $(pwd)" > /triggered
ONBUILD COPY note.txt /note.txt
OUTER
expect_ok "build an image with HEALTHCHECK and ONBUILD" build -t base:1 "$T/base"
cfg=$(image_config base:1)
check "Healthcheck.Test is the shell form" test "$(jq -c .config.Healthcheck.Test <<<"$cfg")" = '["CMD-SHELL","wget -q -O- http://localhost/ || exit 1"]'
check "Healthcheck durations in nanoseconds" test "$(jq -c '[.config.Healthcheck.Interval, .config.Healthcheck.Timeout, .config.Healthcheck.StartPeriod, .config.Healthcheck.Retries]' <<<"$cfg")" = '[30000000000,90000000000,500000000,3]'
check "OnBuild holds the triggers" test "$(jq -c .config.OnBuild <<<"$cfg")" = '["RUN echo \"trigger ran in $(pwd)\" > /triggered","COPY note.txt /note.txt"]'
unpack_with_umoci base:1 "$T/b"
check "the triggers did not run in the image that declares them" test ! -e "$T/b/rootfs/triggered"

printf 'FROM base:1\nHEALTHCHECK NONE\n' >"$T/child/Buildfile"
expect_ok "build FROM it" build -t child:1 "$T/child"
check "the triggers ran, shown as steps" grep -q '^STEP 1/2: ONBUILD RUN echo' "$T/out"
unpack_with_umoci child:1 "$T/c"
check "the RUN trigger ran" grep -q 'trigger ran in /' "$T/c/rootfs/triggered"
check "the COPY trigger took the file from the child's context" test "$(cat "$T/c/rootfs/note.txt")" = "from the child's context"
ccfg=$(image_config child:1)
check "the child does not inherit the triggers" test "$(jq -c '.config.OnBuild // []' <<<"$ccfg")" = '[]'
check "HEALTHCHECK NONE" test "$(jq -c .config.Healthcheck.Test <<<"$ccfg")" = '["NONE"]'

printf 'FROM child:1\nRUN test ! -e /grand\n' >"$T/grandchild/Buildfile"
expect_ok "a grandchild build runs no trigger" build -t grand:1 "$T/grandchild"
check "no ONBUILD step in the grandchild" test -z "$(grep ONBUILD "$T/out")"

# Triggers that make no state still are not inherited.
mkdir -p "$T/argbase" "$T/argchild"
printf 'FROM busybox\nONBUILD ARG X=1\n' | buildfile "$T/argbase"
expect_ok "a base whose only trigger is an ARG" build -t argbase:1 "$T/argbase"
printf 'FROM argbase:1\n' | buildfile "$T/argchild"
expect_ok "build FROM it" build -t argchild:1 "$T/argchild"
check "the child does not carry the ARG trigger" test "$(image_config argchild:1 | jq -c '.config.OnBuild // []')" = '[]'
printf 'FROM busybox\nONBUILD RUN <<EOF\necho hi\nEOF\n' | buildfile "$T/argbase"
expect_fail "a heredoc in a trigger is refused up front" 1 "Buildfile:2:1: ONBUILD: heredocs in ONBUILD triggers are not supported yet" build "$T/argbase"

rm "$T/child/note.txt"
expect_fail "a failing trigger names itself" 1 "Buildfile:1: FROM: ONBUILD trigger 'COPY note.txt /note.txt'" build -t child:2 "$T/child"
finish
