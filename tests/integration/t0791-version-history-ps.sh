#!/bin/bash
# version / --version, history's docker columns and flags, ps --format /
# --no-trunc / -n / -l with containers, and `make install` into a DESTDIR.
. "$(dirname "$0")/lib.sh"

# ---- version ----
run_cairn --version
check "--version: one line, 'cairn version X'" test "$status" -eq 0 -a "$(wc -l <"$T/out")" -eq 1
check "... naming the version" grep -qE '^cairn version [0-9]' "$T/out"
run_cairn version
check "version exits 0" test "$status" -eq 0
for f in Compiler: OS/Arch: Kernel: Store: Rootless: libarchive: zstd: OpenSSL: libcurl: jansson: libseccomp:; do
	check "version shows $f" grep -q "^ *$f " "$T/out"
done
check "version: the kernel is uname's" grep -qF "Kernel:         $(uname -r)" "$T/out"
check "version: the store in use" grep -qF "Store:          $CAIRN_ROOT" "$T/out"
check "version: root is not rootless" grep -qF "Rootless:       no" "$T/out"
run_cairn version --format json
check "version --format json: jq reads it" test "$(jq -r '.Store + " " + (.Rootless|tostring) + " " + .KernelVersion' "$T/out")" = "$CAIRN_ROOT false $(uname -r)"
check "... with the library versions" test "$(jq -r '.Libraries | has("zstd") and has("libarchive") and has("OpenSSL")' "$T/out")" = true
run_cairn version -f '{{.Client.Version}}'
check "version -f '{{.Client.Version}}' as docker's" grep -qE '^[0-9]' "$T/out"
# An ordinary user (no user namespace needed just to report).
if su -s /bin/sh nobody -c "test -x '$CAIRN'" 2>/dev/null; then
	out=$(su -s /bin/sh nobody -c "CAIRN_ROOT= HOME=/nonexistent '$CAIRN' version" 2>&1)
	check "version as nobody: rootless, its own store" \
		bash -c '[[ $1 == *"Rootless:       yes"* && $1 == *"Store:          /nonexistent/.local/share/cairn"* ]]' _ "$out"
else
	skip "version as nobody" "nobody cannot run $CAIRN"
fi

# ---- history ----
build_busybox || finish
ctx=$T/app
buildfile "$ctx" <<'EOF2'
FROM busybox
RUN echo one > /one
RUN echo this is a long command that docker cuts at forty-five characters > /two
CMD ["cat", "/one"]
EOF2
expect_ok "build app:1" build -q -t app:1 "$ctx"
id=$("$CAIRN" images --no-trunc -q app:1)
run_cairn history app:1
check "history: docker's columns" grep -qE '^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$' <(head -1 "$T/out")
check "history: newest first (CMD on top, the image's id)" \
	grep -qE "^${id:7:12} .*CMD" <(sed -n 2p "$T/out")
check "history: long CREATED BY cut with …" grep -q '…' "$T/out"
run_cairn history --no-trunc app:1
check "history --no-trunc: full ids and commands" grep -qF "$id" "$T/out"
check "... the whole command" grep -qF 'forty-five characters' "$T/out"
run_cairn history -q app:1
check "history -q: the IMAGE column, newest first" test "$(head -1 "$T/out")" = "${id:7:12}"
check "... one line per row" test "$(wc -l <"$T/out")" -eq "$(image_config app:1 | jq '.history | length')"
run_cairn history --format '{{.ID}} {{.Size}}' app:1
check "history --format {{.ID}} {{.Size}}" grep -qE "^${id:7:12} [0-9.]+[kMG]?B$" <(head -1 "$T/out")

# ---- ps ----
run_cairn run -d --name fmt-a busybox sleep 300
a=$(cat "$T/out")
sleep 1         # creation times are in seconds: b must be the newer for -l and -n
run_cairn run -d --name fmt-b busybox sh -c 'echo a long command line here; sleep 300'
b=$(cat "$T/out")
run_cairn ps --format '{{.Names}} {{.State}} {{.Image}}'
check "ps --format: both containers" test "$(sort "$T/out" | tr '\n' ';')" = "fmt-a running busybox;fmt-b running busybox;"
run_cairn ps --format json
check "ps --format json: jq reads each line" test "$(jq -r .Names "$T/out" | sort | tr '\n' ' ')" = "fmt-a fmt-b "
check "... with docker's keys" test "$(jq -s 'map(has("ID") and has("Command") and has("Status") and has("RunningFor")) | all' "$T/out")" = true
run_cairn ps --format 'table {{.ID}}\t{{.Names}}'
check "ps table header" grep -qE '^CONTAINER ID +NAMES$' <(head -1 "$T/out")
run_cairn ps --no-trunc -q
check "ps --no-trunc -q: full ids" test "$(sort "$T/out" | tr '\n' ' ')" = "$(printf '%s\n' "$a" "$b" | sort | tr '\n' ' ')"
run_cairn ps --no-trunc --format '{{.Command}}'
check "ps --no-trunc: the whole command" grep -qF 'a long command line here; sleep 300' "$T/out"
run_cairn ps --format '{{.Command}}'
check "ps: the command cut as docker cuts it" grep -qF '…' "$T/out"
run_cairn ps -l -q
check "ps -l: the latest container only" test "$(cat "$T/out")" = "${b:0:12}"
run_cairn ps -n 2 --format '{{.Names}}'
check "ps -n 2: newest first" test "$(tr '\n' ' ' <"$T/out")" = "fmt-b fmt-a "
expect_fail "ps -n takes a count" 2 "--last: 'x' is not a count" ps -n x
"$CAIRN" rm -f fmt-a fmt-b >/dev/null 2>&1

# ---- inspect of a container ----
run_cairn run -d --name fmt-c busybox sleep 300
c=$(cat "$T/out")
run_cairn inspect -f '{{.Id}} {{.State.Status}} {{.Name}} {{.Config.Image}}' fmt-c
check "inspect of a container" test "$(cat "$T/out")" = "$c running /fmt-c busybox"
expect_fail "--type image does not find a container" 1 "image 'fmt-c' not found" inspect --type image fmt-c
"$CAIRN" rm -f fmt-c >/dev/null 2>&1

# ---- make install ----
# Only for a binary built in this tree: make must not build anywhere else.
dest=$T/dest
bdir=$(cd "$(dirname "$CAIRN")" && pwd)
if [ "${bdir%/*}" != "$REPO_DIR" ] || [ ! -f "$REPO_DIR/Makefile" ]; then
	skip "make install" "$CAIRN is not built in $REPO_DIR"
elif make -C "$REPO_DIR" -s install DESTDIR="$dest" PREFIX=/usr BUILD="${bdir##*/}" >"$T/make.out" 2>&1; then
	check "make install: the binary" test -x "$dest/usr/bin/cairn"
	check "make install: the man page" test -s "$dest/usr/share/man/man1/cairn.1"
	check "the installed binary runs" "$dest/usr/bin/cairn" --version
else
	fail "make install DESTDIR=... ($(tail -3 "$T/make.out"))"
fi
finish
