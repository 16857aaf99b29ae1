#!/bin/bash
# `build -q` prints the image id alone (docker's: sha256: + the config
# digest), RUN output never reaches stdout; --iidfile, --label and
# --annotation as docker's.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
ctx=$T/q
buildfile "$ctx" <<'EOF2'
FROM busybox
RUN echo run-output-on-stdout && echo run-output-on-stderr >&2
LABEL from.buildfile=1 over=buildfile
RUN echo x >/x
EOF2
"$CAIRN" build -q -t q:1 --iidfile "$T/iid" "$ctx" >"$T/q.out" 2>"$T/q.err"
check "build -q succeeds" test $? -eq 0
check "stdout is exactly one line" test "$(wc -l <"$T/q.out")" -eq 1
id=$(cat "$T/q.out")
check "... sha256: and 64 hex" grep -qxE 'sha256:[0-9a-f]{64}' "$T/q.out"
check "... the image id images --no-trunc -q shows" test "$id" = "$("$CAIRN" images --no-trunc -q q:1)"
check "... the config digest of the tag" test "$id" = "$(image_id q:1)"
check "--iidfile holds the id, no newline" test "$(cat "$T/iid")" = "$id" -a "$(wc -c <"$T/iid")" -eq 71
check "RUN output is not on stdout" sh -c "! grep -q run-output '$T/q.out'"
check "... nor on stderr (docker -q discards it)" sh -c "! grep -q run-output '$T/q.err'"

# Cached: the same single line.
id2=$("$CAIRN" build -q -t q:2 "$ctx" 2>/dev/null)
check "a cached build -q prints the same id" test "$id2" = "$id"

# Without -q the last line is the id too.
expect_ok "a plain build" build -t q:3 "$ctx"
check "its last line is the image id" test "$(tail -1 "$T/out")" = "$id"

# Warnings still reach stderr under -q.
printf 'FROM busybox\nRUN echo hi\n' | buildfile "$T/w"
run_cairn build -q --build-arg NOT_USED=1 "$T/w"
check "-q: a warning is on stderr" grep -q "warning: build argument 'NOT_USED' was not consumed" "$T/err"
check "-q: stdout is one id" grep -qxE 'sha256:[0-9a-f]{64}' "$T/out"
check "-q: stdout is one line" test "$(wc -l <"$T/out")" -eq 1

# --label: into the config's Labels, after the Buildfile's LABELs.
expect_ok "--label twice" build -q --label a.b=c --label over=cli -t lab:1 "$ctx"
check "the labels are in the config" test "$(image_config lab:1 | jq -c .config.Labels)" = '{"a.b":"c","from.buildfile":"1","over":"cli"}'
check "--label makes another image" test "$(cat "$T/out")" != "$id"
expect_ok "the same labels again" build -q --label a.b=c --label over=cli -t lab:2 "$ctx"
check "... give the same image (cached)" test "$(image_id lab:2)" = "$(image_id lab:1)"
expect_ok "history of a labelled image" history lab:1
check "... its last row has the image's id, the row below a step's" \
	test "$(awk 'NR == 2 {print $1}' "$T/out")" = "$(image_id lab:1 | cut -c8-19)" -a "$(awk 'NR == 3 {print $1}' "$T/out")" != "<missing>"
expect_fail "--label =v is a usage error" 2 "--label" build --label =v "$ctx"

# --annotation: on the manifest.
expect_ok "--annotation" build -q --annotation org.opencontainers.image.source=https://example.org/x -t ann:1 "$ctx"
m=$(tag_digest ann:1)
check "the annotation is on the manifest" test "$(jq -r '.annotations["org.opencontainers.image.source"]' "$CAIRN_ROOT/blobs/sha256/${m#sha256:}")" = https://example.org/x
check "the parent annotation stays" test "$(jq -r '.annotations["org.cairn.state.parent"]' "$CAIRN_ROOT/blobs/sha256/${m#sha256:}")" != null
check "same config: the same image id" test "$(cat "$T/out")" = "$id"
check "store consistent" store_is_consistent
finish
