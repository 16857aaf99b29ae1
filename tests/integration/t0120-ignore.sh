#!/bin/bash
# Ignore files, as docker users expect: .dockerignore (docker's syntax and
# semantics), .buildignore before it, Buildfile.dockerignore before both;
# ignored files are never opened, do not reach the image and do not
# invalidate the COPY cache; an ignored source named explicitly is not found.
. "$(dirname "$0")/lib.sh"

ctx=$T/ctx
mkdir -p "$ctx/secret" "$ctx/src/tmp" "$ctx/src/lib" "$ctx/tmp" "$ctx/docs" "$ctx/node_modules"
echo app >"$ctx/app.txt"
echo debug >"$ctx/debug.log"
echo important >"$ctx/important.log"
echo key >"$ctx/secret/private.key"
echo main >"$ctx/src/main.c"
echo lib >"$ctx/src/lib/x.c"
echo cache >"$ctx/src/tmp/cache.bin"
echo t >"$ctx/tmp/scratch.txt"
echo notes >"$ctx/docs/notes.log"
for i in $(seq 1 300); do mkdir "$ctx/node_modules/p$i" && echo "$i" >"$ctx/node_modules/p$i/index.js"; done
cat >"$ctx/.dockerignore" <<'EOF2'
# build outputs and secrets
*.log
secret/
**/tmp
node_modules
!important.log
EOF2
buildfile "$ctx" <<'EOF2'
FROM scratch
COPY . /app/
EOF2

# FILE has each LINE (whole lines), else says which it lacks.
has_lines() {   # FILE LINE...
	local f=$1 l; shift
	for l; do
		grep -qxF -- "$l" "$f" || { echo "no line '$l' in $f"; return 1; }
	done
}

# What COPY . put into the image, one path per line, sorted.
copied() {   # TAG
	unpack_with_umoci "$1" "$T/unpacked" || return 1
	(cd "$T/unpacked/rootfs/app" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort)
}

expect_ok "build with a .dockerignore" build -t ign:1 "$ctx"
copied ign:1 >"$T/got"
cat >"$T/want" <<'EOF2'
.dockerignore
Buildfile
app.txt
docs
docs/notes.log
important.log
src
src/lib
src/lib/x.c
src/main.c
EOF2
check "COPY . gives exactly the files the .dockerignore lets through" diff -u "$T/want" "$T/got"
check "'*.log' is the root only (docker): docs/notes.log stays" grep -qx 'docs/notes.log' "$T/got"

# .buildignore beats .dockerignore; Buildfile.dockerignore beats both.
printf 'app.txt\n' >"$ctx/.buildignore"
expect_ok "build with a .buildignore too" build -t ign:2 "$ctx"
copied ign:2 >"$T/got"
check ".buildignore is used: app.txt left out" test -z "$(grep -x 'app.txt' "$T/got")"
check "... and .dockerignore is not: debug.log and secret/private.key copied" \
	has_lines "$T/got" secret/private.key debug.log
printf 'src\n' >"$ctx/Buildfile.dockerignore"
expect_ok "build with a Buildfile.dockerignore too" build -t ign:3 "$ctx"
copied ign:3 >"$T/got"
check "Buildfile.dockerignore beats both: src left out, app.txt and debug.log copied" \
	test -z "$(grep '^src' "$T/got")" -a -n "$(grep -x 'app.txt' "$T/got")" -a -n "$(grep -x 'debug.log' "$T/got")"
mkdir -p "$T/other"
printf 'FROM scratch\nCOPY . /app/\n' >"$T/other/Dockerfile"
printf 'docs\n' >"$T/other/Dockerfile.dockerignore"
expect_ok "build with -f elsewhere/Dockerfile" build -t ign:4 -f "$T/other/Dockerfile" "$ctx"
copied ign:4 >"$T/got"
check "-f FILE: FILE.dockerignore next to it is used" \
	test -z "$(grep '^docs' "$T/got")" -a -n "$(grep -x 'src/main.c' "$T/got")"
rm "$ctx/.buildignore" "$ctx/Buildfile.dockerignore"

# Ignored files do not invalidate the COPY cache.
expect_ok "rebuild with only the .dockerignore" build -t ign:c1 "$ctx"
first=$(tag_digest ign:c1)
check "it is the first build's image" test "$first" = "$(tag_digest ign:1)"
echo changed >"$ctx/debug.log"
echo changed >"$ctx/secret/private.key"
echo new >"$ctx/src/tmp/new.bin"
echo changed >"$ctx/node_modules/p1/index.js"
expect_ok "rebuild after changing only ignored files" build -t ign:c2 "$ctx"
check "the COPY step is CACHED" grep -q -- '--> CACHED' "$T/out"
check "the same image digest" test "$(tag_digest ign:c2)" = "$first"
echo changed >"$ctx/app.txt"
expect_ok "rebuild after changing a copied file" build -t ign:c3 "$ctx"
check "the COPY step runs again" test -z "$(grep -- '--> CACHED' "$T/out")"
check "a new image" test "$(tag_digest ign:c3)" != "$first"

# Ignored files are never opened, nor is anything under an ignored dir
# looked at (the COPY and its cache digest both walk the context). Files
# are opened by base name from their directory's fd: the names are unique.
# (LeakSanitizer cannot run under ptrace: off for the traced run.)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	strace -f -e trace=%file,openat2 -o "$T/strace.log" "$CAIRN" build -q --no-cache -t ign:s "$ctx" \
	>"$T/out" 2>"$T/err"
check "the traced build succeeds" test $? -eq 0 -a -n "$(tag_digest ign:s)"
check "the traced build did copy the context" grep -q 'app.txt' "$T/strace.log"
check "no openat of an ignored file" \
	test -z "$(grep -E 'open[a-z0-9]*\(.*"(debug\.log|private\.key|cache\.bin|new\.bin|scratch\.txt|index\.js)"' "$T/strace.log")"
check "no syscall names an ignored file at all" \
	test -z "$(grep -E '"(debug\.log|private\.key|cache\.bin|new\.bin|scratch\.txt|index\.js)"' "$T/strace.log")"
# (A bare "tmp" would be the store's own tmp/.)
check "an ignored directory is not even looked at (no syscall names it)" \
	test -z "$(grep -E '"((secret|node_modules|src/tmp)(/|")|tmp/)' "$T/strace.log")"

# An ignored source named explicitly is not found; patterns skip ignored files.
printf 'FROM scratch\nCOPY secret/private.key /key\n' >"$ctx/Buildfile.bad"
expect_fail "COPY of an ignored file fails" 1 \
	"COPY: 'secret/private.key': no such file or directory in the build context (excluded by .dockerignore)" \
	build -f "$ctx/Buildfile.bad" "$ctx"
check "the error names the Buildfile line" grep -q 'Buildfile.bad:2' "$T/err"
printf 'FROM scratch\nCOPY debug.log /d.log\n' >"$ctx/Buildfile.bad"
expect_fail "COPY of a file an exception does not re-include fails" 1 "'debug.log': no such file" \
	build -f "$ctx/Buildfile.bad" "$ctx"
printf 'FROM scratch\nCOPY *.log /logs/\n' >"$ctx/Buildfile.glob"
expect_ok "COPY *.log" build -t ign:g -f "$ctx/Buildfile.glob" "$ctx"
unpack_with_umoci ign:g "$T/g"
check "COPY *.log copies only what the ignore file lets through" \
	test "$(cd "$T/g/rootfs/logs" && ls -A)" = important.log

# COPY --from reads an image, not the context: the ignore file has no say.
cat >"$ctx/Buildfile.ms" <<'EOF2'
FROM scratch AS stage
COPY important.log /x/debug.log
FROM scratch
COPY --from=stage /x/debug.log /debug.log
EOF2
expect_ok "COPY --from a stage of a path the ignore file would match" build -t ign:ms -f "$ctx/Buildfile.ms" "$ctx"
unpack_with_umoci ign:ms "$T/ms"
check "COPY --from is not filtered" test "$(cat "$T/ms/rootfs/debug.log")" = important

# A bad ignore file fails the build with its name and line.
printf 'ok\n[z-a]\n' >"$ctx/.dockerignore"
expect_fail "a malformed pattern fails the build" 1 ".dockerignore:2: bad pattern '[z-a]'" build "$ctx"
check "store consistent" store_is_consistent
check "no mounts left" no_mounts_left
finish
