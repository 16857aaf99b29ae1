#!/bin/bash
# What users read when something goes wrong: an error that is no system
# call's failure carries no strerror text ("invalid port '80x/tcp'", not
# "...: Invalid argument"); the instruction is named once, by the step that
# failed (ADD's errors say ADD though ADD shares COPY's code); a RUN mount's
# copy errors name the mount; a command that cannot start exits 127/126.
. "$(dirname "$0")/lib.sh"

build_busybox || finish

buildfile "$T/port" <<'EOF2'
FROM scratch
EXPOSE 80x/tcp
EOF2
expect_fail "EXPOSE with a bad port fails naming it" 1 "Buildfile:2: EXPOSE: invalid port '80x/tcp'" build "$T/port"
check "...with no strerror text after it" bash -c "! grep -q 'Invalid argument' '$T/err'"

buildfile "$T/add" <<'EOF2'
FROM scratch
ADD nope /x
EOF2
expect_fail "ADD of a missing file names ADD" 1 \
	"Buildfile:2: ADD: 'nope': no such file or directory in the build context" build "$T/add"
check "...and never COPY" bash -c "! grep -q 'COPY' '$T/err'"

buildfile "$T/copy" <<'EOF2'
FROM scratch
COPY nope /x
EOF2
expect_fail "COPY of a missing file names COPY once" 1 \
	"Buildfile:2: COPY: 'nope': no such file or directory in the build context" build "$T/copy"
check "...once" test "$(grep -o 'COPY' "$T/err" | wc -l)" -eq 1

buildfile "$T/bind" <<'EOF2'
FROM busybox
RUN --mount=type=bind,source=nope,target=/m true
EOF2
expect_fail "a bind mount of a missing source names the mount" 1 \
	"Buildfile:2: RUN: --mount=type=bind,source=nope: 'nope': no such file or directory in the build context" \
	build "$T/bind"

buildfile "$T/ref" <<'EOF2'
FROM Not/A_Valid:Reference!
EOF2
expect_fail "FROM a name that is no reference says so alone" 1 "invalid reference" build "$T/ref"
check "...without 'pulling it failed'" bash -c "! grep -q 'pulling it failed' '$T/err'"

expect_fail "run: a missing command exits 127" 127 "no-such-command" run --rm busybox no-such-command
expect_fail "run: a directory as the command exits 126" 126 "/etc" run --rm busybox /etc
expect_fail "run: a missing image is cairn's own failure (125)" 125 "not found" run --rm no-such-image:1 true
finish
