#!/bin/bash
# build --progress plain|rawjson|tty|quiet (and BUILDKIT_PROGRESS): step
# times, JSON lines jq reads, one kind of id after a step whether it ran or
# came from the cache, STEP numbers counting only the steps --target runs.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
ctx=$T/p
buildfile "$ctx" <<'EOF2'
ARG GREETING=hi
FROM busybox
RUN echo "$GREETING" >/g && echo step-ran
ENV A=1
COPY Buildfile /bf
EOF2

expect_ok "--progress plain" build --progress plain -t p:1 "$ctx"
check "plain: STEP lines" grep -qx 'STEP 3/5: RUN echo "$GREETING" >/g && echo step-ran' "$T/out"
check "plain: the RUN's output where it was" grep -qx step-ran "$T/out"
check "plain: every step ends with its time" test "$(grep -cE -- '^--> .*DONE [0-9]+\.[0-9]s$' "$T/out")" -eq 5
ran=$(grep -A2 '^STEP 5/5' "$T/out" | grep -oE -- '^--> layer [0-9a-f]{12}' | awk '{print $3}')
check "plain: a step that made a layer shows a 12-hex id" test -n "$ran"
expect_ok "the same build again" build --progress plain -t p:2 "$ctx"
cached=$(grep -A1 '^STEP 5/5' "$T/out" | grep -oE -- '^--> CACHED \(local\) [0-9a-f]{12}$' | awk '{print $4}')
check "cached and ran show the same id" test -n "$cached" -a "$cached" = "$ran"
id=$(image_id p:1)
check "... the image id of the state" test "$ran" = "$(echo "${id#sha256:}" | cut -c1-12)"

# rawjson: every line is JSON; steps carry a duration.
run_cairn build --progress rawjson --no-cache -t p:3 "$ctx"
check "rawjson: the build succeeds" test "$status" -eq 0
check "rawjson: every stdout line is a JSON object" sh -c "jq -e 'type == \"object\"' '$T/out' >/dev/null && [ \$(jq -c . '$T/out' | wc -l) -eq \$(wc -l <'$T/out') ]"
check "rawjson: a done event for the RUN step, with a duration and the state's id" \
	test "$(jq -r 'select(.kind == "done" and .step == 3) | (.duration_ms | type) + " " + (.id | test("^sha256:[0-9a-f]{64}$") | tostring)' "$T/out")" = "number true"
check "rawjson: the last done event has the image's id" \
	test "$(jq -r 'select(.kind == "done") | .id' "$T/out" | tail -1)" = "$(image_id p:3)"
check "rawjson: step events name text, line and total" \
	test "$(jq -c 'select(.kind == "step" and .step == 3) | [.text, .line, .total]' "$T/out")" = '["RUN echo \"$GREETING\" >/g && echo step-ran",3,5]'
check "rawjson: the last line is the image" test "$(tail -1 "$T/out" | jq -r '.kind + " " + .id + " " + .tags[0]')" = "image $(image_id p:3) p:3"
check "rawjson: every object has kind and time (BUILDFILE.md)" \
	test "$(jq -r 'has("kind") and (.time | type == "string" and test("Z$"))' "$T/out" | sort -u)" = true
check "rawjson: the RUN's output is on stderr, not stdout" sh -c "grep -qx step-ran '$T/err' && ! grep -qx step-ran '$T/out'"
check "rawjson: a layer event with its size" test "$(jq -r 'select(.kind == "layer") | .size > 0' "$T/out" | sort -u)" = true
BUILDKIT_PROGRESS=rawjson "$CAIRN" build -t p:4 "$ctx" >"$T/env.out" 2>/dev/null
check "BUILDKIT_PROGRESS=rawjson" jq -e . "$T/env.out"
BUILDKIT_PROGRESS=rawjson "$CAIRN" build --progress plain -t p:4 "$ctx" >"$T/env.out" 2>/dev/null
check "--progress wins over BUILDKIT_PROGRESS" grep -q '^STEP 1/5' "$T/env.out"
expect_ok "--progress quiet is -q" build --progress quiet -t p:5 "$ctx"
check "... one line, the id" test "$(cat "$T/out")" = "$(image_id p:5)"
expect_fail "--progress fancy is a usage error" 2 "--progress: 'fancy'" build --progress fancy "$ctx"
# auto with no terminal: plain.
expect_ok "--progress auto without a terminal" build --progress auto -t p:6 "$ctx"
check "... is plain" grep -qE -- '^--> CACHED \(local\) [0-9a-f]{12}$' "$T/out"
# tty on a terminal: a live line redrawn with \r on stderr.
if command -v script >/dev/null; then
	script -qec "$CAIRN build --progress tty --no-cache -t p:7 $ctx" /dev/null >"$T/tty.out" 2>&1
	check "tty: the running step's line is redrawn with a carriage return" grep -q $'\r\033\[K\[3/5\] RUN' "$T/tty.out"
	check "tty: the build succeeds" test -n "$(tag_digest p:7)"
	# A step line wider than the terminal is cut to one row (a wrapped line
	# would be left on the screen at every redraw).
	long=$T/long
	buildfile "$long" <<'EOF2'
FROM busybox
RUN sleep 1; echo this-is-a-long-command-line-that-goes-past-sixty-columns-easily-for-sure-yes-really >/dev/null
EOF2
	script -qec "stty cols 60; $CAIRN build --progress tty --no-cache $long" /dev/null >"$T/tty2.out" 2>&1
	widest=$(tr '\r' '\n' <"$T/tty2.out" | grep -a '\[2/2\] RUN' | sed 's/\x1b\[K//' | awk '{ print length($0) }' | sort -n | tail -1)
	check "tty: the live line fits a 60-column terminal (widest: ${widest:-none})" test -n "$widest" -a "${widest:-99}" -le 59
else
	skip "tty: the running step's line is redrawn" "no script(1)"
fi

# --target: STEP numbers count the steps that run.
buildfile "$T/t" <<'EOF2'
FROM busybox AS unused
RUN echo unused
RUN echo unused2
FROM busybox AS base
RUN echo base
FROM base AS final
RUN echo final
EOF2
expect_ok "--target base" build -j 1 --target base -t tgt:1 "$T/t"
check "--target: STEP 1/2 and 2/2 only" test "$(grep -oE '^STEP [0-9]+/[0-9]+' "$T/out" | tr '\n' ' ')" = "STEP 1/2 STEP 2/2 "
expect_ok "--target final" build -j 1 --target final -t tgt:2 "$T/t"
check "--target final: 4 steps, in order" test "$(grep -oE '^STEP [0-9]+/[0-9]+' "$T/out" | tr '\n' ' ')" = "STEP 1/4 STEP 2/4 STEP 3/4 STEP 4/4 "
check "store consistent" store_is_consistent
finish
