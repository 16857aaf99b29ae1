#!/bin/bash
# The build cache: a rebuild with nothing changed runs nothing and gives the
# same manifest; a change reruns exactly the steps from there on.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
ctx=$T/app
mkdir -p "$ctx"
echo "v1" >"$ctx/data.txt"
buildfile "$ctx" <<'EOF2'
FROM busybox
ENV STAGE=one
RUN echo ran-step-3; head -c 16 /dev/urandom | od -x > /stamp1
COPY data.txt /data.txt
RUN echo ran-step-5; head -c 16 /dev/urandom | od -x > /stamp2
ARG FLAVOR=plain
RUN echo ran-step-7 $FLAVOR; head -c 16 /dev/urandom | od -x > /stamp3
CMD ["cat", "/stamp1"]
EOF2
expect_ok "first build" build -t app:1 "$ctx"
first=$(tag_digest app:1)
check "first build ran every RUN" test "$(grep -c '^ran-step' "$T/out")" -eq 3

expect_ok "rebuild with nothing changed" build -t app:1 "$ctx"
check "no RUN step ran again" test "$(grep -c '^ran-step' "$T/out")" -eq 0
check "every step after FROM and ARG is CACHED" test "$(grep -c -- '--> CACHED' "$T/out")" -eq 6
check "the same manifest digest (the timestamps the RUNs wrote are the old ones)" test "$(tag_digest app:1)" = "$first"

# The cache lives in the store: another process, another tag, same result.
expect_ok "a build in a new process with another tag" build -q -t app:copy "$ctx"
check "it gives the same digest" test "$(tag_digest app:copy)" = "$first"

expect_ok "--no-cache runs everything" build --no-cache -t app:nocache "$ctx"
check "--no-cache ran every RUN" test "$(grep -c '^ran-step' "$T/out")" -eq 3
check "--no-cache gives a new image" test "$(tag_digest app:nocache)" != "$first"

# A build arg invalidates the steps that see it, not those before.
expect_ok "build with a changed build arg" build -t app:arg --build-arg FLAVOR=spicy "$ctx"
check "steps before the ARG come from the cache" test -z "$(grep -E '^ran-step-[35]' "$T/out")"
check "the step that sees the arg reruns" grep -q '^ran-step-7 spicy' "$T/out"

# An earlier step changed: it and everything after it rerun.
sed -i 's/STAGE=one/STAGE=two/' "$ctx/Buildfile"
expect_ok "build with an earlier instruction changed" build -t app:2 "$ctx"
check "all RUN steps after the change rerun" test "$(grep -c '^ran-step' "$T/out")" -eq 3
sed -i 's/STAGE=two/STAGE=one/' "$ctx/Buildfile"
expect_ok "back to the original instruction" build -t app:3 "$ctx"
check "the original's states are still cached" test "$(tag_digest app:3)" = "$first"

# A cached state whose snapshot went missing is not used.
snap=$(ls -t "$CAIRN_ROOT/snapshots" | head -1)
rm -rf "$CAIRN_ROOT/snapshots/$snap"
expect_ok "rebuild after a snapshot disappeared" build -t app:4 "$ctx"
check "the step that needs it runs again" test "$(grep -c '^ran-step' "$T/out")" -ge 1
check "store consistent" store_is_consistent
finish
