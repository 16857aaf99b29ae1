#!/bin/bash
# Heredocs: RUN <<EOF (a script, #! honoured), heredocs read by the shell
# (quoted or not, <<-), COPY <<EOF files (variables expanded unless the
# delimiter is quoted, quotes kept), and their bodies in the cache key.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
ctx=$T/hd
mkdir -p "$ctx"
cat >"$ctx/Buildfile" <<'OUTER'
FROM busybox
ARG WHO=world
RUN <<EOF
echo "standalone script for $WHO"
mkdir -p /hd && echo one > /hd/one
EOF
RUN <<-EOT
	#!/bin/sh
	echo "interpreter: $0"
	echo two > /hd/two
	EOT
RUN cat > /hd/three <<EOF && cat <<'RAW' > /hd/four
three $WHO
EOF
four $WHO
RAW
COPY <<EOF /hd/five
five ${WHO} "quoted"
EOF
COPY --chmod=0755 <<'A' <<B /hd/multi/
raw $WHO
A
expanded $WHO
B
OUTER
expect_ok "a Buildfile with heredocs" build -t hd:1 "$ctx"
check "RUN <<EOF runs the body as a script" grep -q '^standalone script for world$' "$T/out"
check "a #! body runs with its interpreter" grep -q '^interpreter: /dev/fd/3$' "$T/out"
unpack_with_umoci hd:1 "$T/u"
r=$T/u/rootfs/hd
check "RUN <<EOF made its files" test "$(cat "$r/one")" = one
check "<<- strips the body's leading tabs" test "$(cat "$r/two")" = two
check "a heredoc the shell reads: expanded" test "$(cat "$r/three")" = "three world"
check "a quoted heredoc the shell reads: not expanded" test "$(cat "$r/four")" = 'four $WHO'
check "COPY <<EOF: variables expanded, quotes kept" test "$(cat "$r/five")" = 'five world "quoted"'
check "COPY <<'A': not expanded" test "$(cat "$r/multi/A")" = 'raw $WHO'
check "COPY with several heredocs into a directory" test "$(cat "$r/multi/B")" = "expanded world"
check "COPY heredoc files are 0644 by default" test "$(stat -c %a "$r/five")" = 644
check "--chmod applies to heredoc files" test "$(stat -c %a "$r/multi/B")" = 755

expect_ok "rebuild" build -t hd:1 "$ctx"
check "heredoc steps are cached" test "$(grep -c -- '--> CACHED' "$T/out")" -eq 5
sed -i 's/^expanded \$WHO$/expanded again $WHO/' "$ctx/Buildfile"
expect_ok "rebuild after changing a heredoc body" build -t hd:2 "$ctx"
check "only the step whose body changed reruns" test "$(grep -c -- '--> CACHED' "$T/out")" -eq 4
unpack_with_umoci hd:2 "$T/u2"
check "with the new body" test "$(cat "$T/u2/rootfs/hd/multi/B")" = "expanded again world"
finish
