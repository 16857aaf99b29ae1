#!/bin/bash
# --format as docker users write it: Go templates on images, ps, history and
# inspect (fields, nested fields, json, index, table with a header row,
# `--format json` lines), and inspect in docker's shape.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
ctx=$T/app
buildfile "$ctx" <<'EOF2'
FROM busybox
LABEL tier=web "org.example/owner"="a team"
ENV GREETING=hi
RUN echo one > /f
CMD ["cat", "/f"]
EOF2
expect_ok "build app:1" build -q -t app:1 "$ctx"
id=$("$CAIRN" images --no-trunc -q app:1)

# ---- images ----
run_cairn images --format '{{.Repository}}:{{.Tag}}'
check "images --format: one line per image" grep -qx 'app:1' "$T/out"
check "... busybox too" grep -qx 'busybox:latest' "$T/out"
check "... nothing else" test "$(wc -l <"$T/out")" -eq 2
run_cairn images --format 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}' app
check "table: docker's header row" grep -qE '^REPOSITORY +TAG +IMAGE ID$' "$T/out"
check "table: the row, aligned under it" \
	awk -v id="${id:7:12}" 'NR==2 && $1=="app" && $2=="1" && $3==id && index($0,"1")==index(h,"TAG") {ok=1} NR==1 {h=$0} END {exit !ok}' "$T/out"
run_cairn images --format json
check "images --format json: each line is an object jq reads" \
	test "$(jq -r 'select(.Repository=="app") | .Tag + " " + .ID' "$T/out")" = "1 ${id:7:12}"
check "... with docker's keys" test "$(jq -s '.[0] | has("CreatedSince") and has("CreatedAt") and has("Size") and has("Digest")' "$T/out")" = true
run_cairn images --no-trunc --format '{{.ID}}' app:1
check "images --no-trunc --format: the full id" test "$(cat "$T/out")" = "$id"
run_cairn images --format '{{json .}}' app:1
check "{{json .}} equals --format json" test "$(jq -r .Repository "$T/out")" = app
expect_fail "a bad template names the flag and the position" 2 "--format:1:3: function \"nope\" not defined" \
	images --format '{{nope .ID}}'
expect_fail "an unclosed action is a usage error" 2 "unclosed action" images --format '{{.ID'

# ---- inspect: docker's shape, and -f ----
run_cairn inspect app:1
check "inspect: Id is the image id images --no-trunc -q shows" test "$(jq -r '.[0].Id' "$T/out")" = "$id"
for k in Id RepoTags RepoDigests Created Config Architecture Os Size RootFS Digest; do
	check "inspect: has $k" test "$(jq --arg k "$k" '.[0] | has($k)' "$T/out")" = true
done
check "inspect: RepoTags" test "$(jq -c '.[0].RepoTags' "$T/out")" = '["app:1"]'
check "inspect: Config.Cmd" test "$(jq -c '.[0].Config.Cmd' "$T/out")" = '["cat","/f"]'
check "inspect: RootFS.Layers are the diff ids" \
	test "$(jq -c '.[0].RootFS' "$T/out")" = "$(image_config app:1 | jq -c '{Type: "layers", Layers: .rootfs.diff_ids}')"
check "inspect: Digest stays the manifest digest" test "$(jq -r '.[0].Digest' "$T/out")" = "$(tag_digest app:1)"
check "inspect: Size is a byte count" test "$(jq '.[0].Size > 0' "$T/out")" = true
run_cairn inspect -f '{{.Config.Cmd}}' app:1
check "inspect -f '{{.Config.Cmd}}' prints as docker does" test "$(cat "$T/out")" = "[cat /f]"
run_cairn inspect --format '{{json .Config.Labels}}' app:1
check "{{json .Config.Labels}} is JSON jq reads" test "$(jq -r '.tier + "," + .["org.example/owner"]' "$T/out")" = "web,a team"
run_cairn inspect -f '{{index .Config.Labels "org.example/owner"}} {{.Os}}/{{.Architecture}}' app:1 busybox
check "index and two images: one line each" test "$(head -1 "$T/out")" = "a team linux/$(image_config app:1 | jq -r .architecture)"
check "... the second image's line" test "$(sed -n 2p "$T/out")" = "<no value> linux/$(image_config busybox:latest | jq -r .architecture)"
run_cairn inspect -f '{{range .Config.Env}}{{.}};{{end}}' app:1
check "range over Config.Env" grep -q 'GREETING=hi;' "$T/out"
run_cairn inspect -f '{{.Id}}' "${id:7:12}"
check "inspect -f by a short id" test "$(cat "$T/out")" = "$id"
expect_fail "a field of a string is an error naming the position" 1 "--format:1:3: can't evaluate field X in type string" \
	inspect -f '{{.Id.X}}' app:1

# ---- history ----
run_cairn history --format '{{.CreatedBy}}' app:1
check "history --format: newest first" grep -q 'CMD' <(head -1 "$T/out")
check "... one line per row" test "$(wc -l <"$T/out")" -eq "$(image_config app:1 | jq '.history | length')"
run_cairn history --format json app:1
check "history --format json: jq reads every line" test "$(jq -s 'map(has("ID") and has("CreatedBy") and has("Size")) | all' "$T/out")" = true
run_cairn history --format 'table {{.ID}}\t{{.CreatedBy}}' app:1
check "history table header" grep -qE '^IMAGE +CREATED BY$' <(head -1 "$T/out")

# ---- ps ----
run_cairn ps -a --format '{{.ID}}'
check "ps --format with no containers: no output, exit 0" test "$status" -eq 0 -a ! -s "$T/out"
run_cairn ps -a --format 'table {{.ID}}\t{{.Names}}'
check "ps table: only the header" test "$(cat "$T/out")" = "$(printf 'CONTAINER ID   NAMES')"
finish
