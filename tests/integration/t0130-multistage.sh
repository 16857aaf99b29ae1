#!/bin/bash
# Multi-stage builds: FROM ... AS, COPY --from=stage|index|image, FROM a
# stage, --target, global ARGs and the platform ARGs, skipped stages.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
ctx=$T/ms
mkdir -p "$ctx"
buildfile "$ctx" <<'EOF2'
ARG BASE=busybox
FROM ${BASE} AS builder
RUN mkdir -p /out && echo artifact > /out/artifact && echo second > /out/second && \
    ln -s / /out/escape && echo stage-passwd-marker >> /etc/passwd
FROM scratch AS never
RUN false
FROM busybox
ARG TARGETARCH
ARG BASE
COPY --from=builder /out/artifact /app/artifact
COPY --from=0 /out/second /app/
COPY --from=builder /out/escape/etc/passwd /app/passwd-from-stage
COPY --from=busybox:latest /bin/busybox /app/bb
RUN echo "$TARGETARCH $BASE" > /app/args
FROM builder AS tester
RUN test -f /out/artifact
EOF2
arch=$(dpkg --print-architecture)
expect_ok "a multi-stage build (the unused stage with 'RUN false' is skipped)" build -t ms:tester "$ctx"
check "the skipped stage did not run" test -z "$(grep 'RUN false' "$T/out")"
check "the last stage is the image: it is the builder plus a layer" \
	test "$(image_config ms:tester | jq '.rootfs.diff_ids | length')" -eq $(( $(image_config busybox:latest | jq '.rootfs.diff_ids | length') + 1 ))

# The middle stage as the target.
expect_ok "--target picks a stage by name" build -t ms:builder --target builder "$ctx"
check "--target builder stops there" test "$(image_config ms:builder | jq '.rootfs.diff_ids | length')" -eq $(( $(image_config busybox:latest | jq '.rootfs.diff_ids | length') + 1 ))
expect_fail "--target of an unknown stage" 1 "no build stage named 'nope'" build --target nope "$ctx"

# The third stage: drop the tester stage to make it the last one.
sed -i '/^FROM builder AS tester/,$d' "$ctx/Buildfile"
expect_ok "the final stage copies from the others" build -t ms:app "$ctx"
unpack_with_umoci ms:app "$T/app"
r=$T/app/rootfs
check "COPY --from=NAME" test "$(cat "$r/app/artifact")" = artifact
check "COPY --from=INDEX" test "$(cat "$r/app/second")" = second
check "COPY --from=IMAGE (from the store)" cmp -s "$r/app/bb" /bin/busybox
check "a source path through an absolute symlink stays in the stage" grep -q stage-passwd-marker "$r/app/passwd-from-stage"
check "the platform ARG and a global ARG are visible once declared" test "$(cat "$r/app/args")" = "$arch busybox"
check "nothing of the builder's own layer leaks into the final image" test ! -e "$r/out"

expect_ok "rebuild" build -t ms:app "$ctx"
check "a multi-stage rebuild is all cached" test "$(grep -c -- '--> CACHED' "$T/out")" -eq "$(grep -cE '^(\[[^]]*\] )?STEP [0-9]+/[0-9]+: (RUN|COPY)' "$T/out")"
printf 'FROM busybox\nCOPY --from=later /x /x\nFROM busybox AS later\nCOPY --from=0 /bin/busybox /bb\n' | buildfile "$T/bad"
expect_fail "COPY --from a later stage" 1 "Buildfile:2: COPY: --from=later: no earlier stage or image" build "$T/bad"
printf 'FROM busybox AS a\nFROM busybox\nCOPY --from=a /no/such /x\n' | buildfile "$T/nosrc"
expect_fail "a missing --from source names the stage, not the context" 1 "Buildfile:3: COPY: '/no/such': no such file or directory in the source stage or image" build "$T/nosrc"

# --from through a variable the stage sets itself: the stage is not skipped.
printf 'FROM busybox AS a\nRUN echo a > /f\nFROM busybox\nARG S=a\nCOPY --from=$S /f /f\nRUN test "$(cat /f)" = a\n' | buildfile "$T/var"
expect_ok "COPY --from=\$S with S set in the stage" build "$T/var"

# A variable nothing declares is probably a typo: warned about, once.
printf 'FROM busybox\nARG DECLARED\nENV A=$DECLARED B=$UNDECLRED\nWORKDIR /x/$UNDECLRED/$TARGETARCH\n' | buildfile "$T/uv"
expect_ok "a build using an undeclared variable" build -q "$T/uv"
check "UndefinedVar names the file, line and variable, once" test "$(grep -c "Buildfile:3: UndefinedVar: usage of undefined variable '\$UNDECLRED'" "$T/err")" -eq 1
check "no warning for declared ARGs (even without a value) or platform ARGs" test "$(grep -c UndefinedVar "$T/err")" -eq 1

check "store consistent" store_is_consistent
check "no mounts left" no_mounts_left
finish
