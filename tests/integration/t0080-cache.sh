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
# (--no-cache above refilled those cache entries with its own results.)
check "the original's states are still cached" test "$(tag_digest app:3)" = "$(tag_digest app:nocache)"
check "and nothing ran" test "$(grep -c '^ran-step' "$T/out")" -eq 0

# A cached state whose snapshot went missing is not used.
snap=$(image_config app:3 | jq -r '.rootfs.diff_ids[-1]' | cut -d: -f2)
rm -rf "$CAIRN_ROOT/snapshots/$snap"
expect_ok "rebuild after a snapshot disappeared" build -t app:4 "$ctx"
check "the step that made it runs again" grep -q '^ran-step-7' "$T/out"
check "the steps before it do not" test -z "$(grep -E '^ran-step-[35]' "$T/out")"
# The escape directive changes how every line reads: it is part of the key.
mkdir -p "$T/esc"
printf 'FROM busybox\nENV A=x\nENV B=\\$A\nRUN echo "B=$B" > /b\n' | buildfile "$T/esc"
expect_ok "build with the default escape" build -t esc:1 "$T/esc"
{ echo '# escape=`'; cat "$T/esc/Buildfile"; } >"$T/esc/Buildfile.2" && mv "$T/esc/Buildfile.2" "$T/esc/Buildfile"
expect_ok "the same lines under '# escape=\`'" build -t esc:2 "$T/esc"
check "a different escape character is not a cache hit" test -z "$(grep -- '--> CACHED' "$T/out")"
unpack_with_umoci esc:1 "$T/esc1"; unpack_with_umoci esc:2 "$T/esc2"
check "and the results differ as they should" test "$(cat "$T/esc1/rootfs/b")" = 'B=$A' -a "$(cat "$T/esc2/rootfs/b")" = 'B=\x'

# COPY sources: their time does not matter, their content does.
expect_ok "build before touching" build -t app:t1 "$ctx"
before=$(tag_digest app:t1)
touch -d '2001-01-01' "$ctx/data.txt"
expect_ok "rebuild after touching the COPY source's mtime" build -t app:t2 "$ctx"
check "touching a COPY source changes nothing" test "$(tag_digest app:t2)" = "$before"
check "touching a COPY source reruns no step" test "$(grep -c '^ran-step' "$T/out")" -eq 0
echo v2 >"$ctx/data.txt"
expect_ok "rebuild after changing the COPY source's content" build -t app:t3 "$ctx"
check "the step before the COPY is cached" test -z "$(grep '^ran-step-3' "$T/out")"
check "the steps from the COPY on rerun" test "$(grep -cE '^ran-step-(5|7)' "$T/out")" -eq 2
check "a new image" test "$(tag_digest app:t3)" != "$before"
chmod 0600 "$ctx/data.txt"
expect_ok "rebuild after a chmod of the COPY source" build -t app:t4 "$ctx"
check "a mode change reruns from the COPY" test "$(grep -cE '^ran-step-(5|7)' "$T/out")" -eq 2

# A no-op rebuild of a context holding a large file does not read it.
mkdir -p "$T/bigctx"
head -c 200000000 /dev/zero >"$T/bigctx/big.bin"
touch -d '-1 minute' "$T/bigctx/big.bin"
printf 'FROM busybox\nCOPY big.bin /big.bin\n' | buildfile "$T/bigctx"
expect_ok "build with a 200 MB context file" build -q -t bigctx:1 "$T/bigctx"
strace -f -e trace=openat -o "$T/strace.log" "$CAIRN" build -q -t bigctx:2 "$T/bigctx" >/dev/null 2>&1
check "the no-op rebuild gives the same image" test "$(tag_digest bigctx:2)" = "$(tag_digest bigctx:1)"
check "the no-op rebuild never opens the big file for reading" test -z "$(grep 'big.bin' "$T/strace.log" | grep -v O_PATH)"
check "store consistent" store_is_consistent
finish
