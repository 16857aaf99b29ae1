#!/bin/bash
# history, the tag log, rollback (to the previous value, to a history row,
# to a digest) and tag: references move, no data is copied, all is logged.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
ctx=$T/app
mkdir -p "$ctx"
echo v1 >"$ctx/version"
buildfile "$ctx" <<'EOF2'
FROM busybox
COPY version /version
RUN echo "built $(cat /version)" > /built
ENV APP=demo
CMD ["cat", "/built"]
EOF2
expect_ok "build v1" build -t app:latest "$ctx"
v1=$(tag_digest app:latest)
echo v2 >"$ctx/version"
expect_ok "build v2 on the same tag" build -t app:latest "$ctx"
v2=$(tag_digest app:latest)
check "v2 differs from v1" test "$v1" != "$v2"

run_cairn history app:latest
check "history has a header and one row per history entry" test "$(($(wc -l <"$T/out") - 1))" -eq "$(image_config app:latest | jq '.history | length')"
check "history has docker's columns" grep -qE '^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$' "$T/out"
check "a row shows its instruction" grep -q 'RUN echo "built $(cat /version)" > /built' "$T/out"
v2_id=$(jq -r '.config.digest' "$CAIRN_ROOT/blobs/sha256/${v2#sha256:}")
check "newest row first: its IMAGE is the image's id" test "$(awk 'NR==2 {print $1}' "$T/out")" = "${v2_id:7:12}"
run_cairn history --rows app:latest
check "--rows numbers rows from 1, oldest (last printed) first" test "$(awk 'END {print $1}' "$T/out")" = 1
check "--rows: the newest row has the highest number" test "$(awk 'NR==2 {print $1}' "$T/out")" -eq "$(image_config app:latest | jq '.history | length')"
run_cairn history --no-trunc app:latest
check "--no-trunc shows the full image id" test "$(awk 'NR==2 {print $1}' "$T/out")" = "$v2_id"
run_cairn log app:latest
check "the log lists both builds" test "$(grep -c ' build' "$T/out")" -eq 2
check "the log marks the current value" grep -q "${v2:0:19} build \*" "$T/out"

expect_ok "rollback" rollback app:latest
check "rollback gives v1's digest back" test "$(tag_digest app:latest)" = "$v1"
check "rollback printed the digest" test "$(cat "$T/out")" = "$v1"
check "the rollback is logged" grep -q 'rollback' <("$CAIRN" log app:latest)
expect_ok "a second rollback" rollback app:latest
check "a second rollback undoes the first" test "$(tag_digest app:latest)" = "$v2"

# --to ROW: the image as it was after history row 2 (base rows 1-5, then COPY).
base_rows=$(image_config busybox:latest | jq '.history | length')
row=$((base_rows + 1))
expect_ok "rollback --to $row (after the COPY)" rollback app:latest --to "$row"
cfg=$(image_config app:latest)
check "--to N: the image has N history rows" test "$(jq '.history | length' <<<"$cfg")" -eq "$row"
check "--to N: and the config it had then (no ENV APP, CMD of the base)" test "$(jq -r '.config.Env | join(",")' <<<"$cfg" | grep -c APP=)" -eq 0
check "--to N: its layers are the first layers of v2" test "$(jq -c '.rootfs.diff_ids' <<<"$cfg")" = "$(image_config_of "$v2" | jq -c ".rootfs.diff_ids[0:$((base_rows - 1 + 1))]")"
check "--to N: umoci unpacks it" unpack_with_umoci app:latest "$T/row"
check "--to N: it holds the COPY but not the RUN" test -f "$T/row/rootfs/version" -a ! -e "$T/row/rootfs/built"
expect_fail "--to 0 is refused" 1 "no history row 0" rollback app:latest --to 0
expect_fail "--to beyond the last row is refused" 1 "no history row 99" rollback app:latest --to 99

expect_ok "rollback --to a digest prefix" rollback app:latest --to "${v1:7:12}"
check "--to DIGEST points at that value" test "$(tag_digest app:latest)" = "$v1"
expect_ok "rollback --to a full digest" rollback app:latest --to "$v2"
check "--to DIGEST (full)" test "$(tag_digest app:latest)" = "$v2"
expect_fail "--to an unknown digest" 1 "not an earlier value" rollback app:latest --to deadbeefdead

blobs_before=$(ls "$CAIRN_ROOT/blobs/sha256" | wc -l)
expect_ok "rollback copies no data" rollback app:latest
check "no blob was written by rollback" test "$(ls "$CAIRN_ROOT/blobs/sha256" | wc -l)" -eq "$blobs_before"

expect_ok "tag" tag app:latest app:stable
check "tag points at the same image" test "$(tag_digest app:stable)" = "$(tag_digest app:latest)"
check "tag is logged with its cause" grep -q ' tag' <("$CAIRN" log app:stable)
expect_ok "tag by digest" tag "$v2" other:1
check "tag by digest" test "$(tag_digest other:1)" = "$v2"
expect_fail "tag of a missing image" 1 "not found" tag nosuch:1 x:1

# A rebuild that gives the same image does not add a log entry.
n_before=$("$CAIRN" log app:latest | wc -l)
expect_ok "re-tag with the current value" tag app:latest app:latest
check "an unchanged value is not logged again" test "$("$CAIRN" log app:latest | wc -l)" -eq "$n_before"

# A torn last line (a crash mid-append) does not swallow the next entry.
printf '{"time":"2026-01-01T00:00:00Z","unix":1,"dig' >>"$CAIRN_ROOT/tags/torn%3A1.log"
expect_ok "tag after a torn log line" tag "$v1" torn:1
check "the new entry is in the log" grep -q "${v1:0:19} tag" <("$CAIRN" log torn:1)
expect_fail "fsck finds a problem" 1 "1 problem found" fsck
check "fsck names the unreadable log line" grep -q "tag log of 'torn:1': 1 unreadable line" "$T/out"
run_cairn fsck --repair
expect_ok "fsck --repair dropped it" fsck

expect_ok "rmi" rmi other:1
expect_ok "rollback after rmi restores the tag" rollback other:1
check "the tag is back" test "$(tag_digest other:1)" = "$v2"
expect_fail "rollback of a tag with one value" 1 "no earlier value" rollback busybox:latest
check "store consistent" store_is_consistent
finish
