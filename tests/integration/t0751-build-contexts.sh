#!/bin/bash
# Build contexts and Buildfiles that are not a directory: -f - (stdin), a
# tar on stdin (`build -`, hostile input: confined like an ADD archive),
# a Buildfile alone on stdin, an http(s) tar, git URLs refused.
. "$(dirname "$0")/lib.sh"

server_pid=
trap '[ -n "$server_pid" ] && { kill "$server_pid"; wait "$server_pid"; } 2>/dev/null; cleanup_test_dir' EXIT
build_busybox || finish

ctx=$T/ctx
mkdir -p "$ctx/sub"
echo from-context >"$ctx/sub/file.txt"
printf 'FROM busybox\nCOPY sub/file.txt /file.txt\nRUN cat /file.txt\n' >"$ctx/Dockerfile"

# Empty stdin: an empty Buildfile, refused as such (not a crash).
"$CAIRN" build - </dev/null >"$T/out" 2>"$T/err"
check "build - with empty stdin: exit 1 naming the empty Buildfile" \
	sh -c "test $? -eq 1 && grep -q 'no instructions' '$T/err'"

# -f -: the Buildfile from stdin, the context a directory.
"$CAIRN" build -t stdin-bf:1 -f - "$ctx" <"$ctx/Dockerfile" >"$T/out" 2>"$T/err"
check "-f - builds" test $? -eq 0
check "... with the context's file" grep -qx from-context "$T/out"
printf 'FROM busybox\nRUN false\n' | "$CAIRN" build -f - "$ctx" >"$T/out" 2>"$T/err"
check "-f -: an error names <stdin> and the line" grep -q "<stdin>:2: RUN" "$T/err"
expect_fail "-f - with - as the context is a usage error" 2 "stdin" build -f - -

# build - <tar: the context from stdin (plain and gzip).
tar -C "$ctx" -cf "$T/ctx.tar" .
"$CAIRN" build --no-cache -t tar:1 - <"$T/ctx.tar" >"$T/out" 2>"$T/err"
check "a tar on stdin is the context" test $? -eq 0 -a "$(grep -cx from-context "$T/out")" -eq 1
gzip -c "$T/ctx.tar" >"$T/ctx.tar.gz"
id=$("$CAIRN" build -q -t tar:2 - <"$T/ctx.tar.gz" 2>"$T/err")
check "a gzip tar on stdin too (the same image)" test -n "$id" -a "$id" = "$(image_id tar:1)"
check "no temp dir left (the context is removed)" no_tmp_left
# -f names a file inside the tar.
mkdir -p "$T/ctx2/build"
printf 'FROM busybox\nCOPY a /a\n' >"$T/ctx2/build/My.df"
echo a >"$T/ctx2/a"
tar -C "$T/ctx2" -cf "$T/ctx2.tar" .
expect_ok "-f inside a tar context" build -q -f build/My.df -t tar:3 - <"$T/ctx2.tar"

# A Buildfile alone on stdin: an empty context (docker's build - <Dockerfile).
printf 'FROM busybox\nRUN echo alone\n' >"$T/alone"
run_cairn build -t alone:1 - <"$T/alone"
check "a Buildfile alone on stdin builds" test "$status" -eq 0 -a -n "$(tag_digest alone:1)"

# Hostile tars: a ../ entry; an absolute symlink and an entry through it.
python3 - "$T" <<'PY'
import io, sys, tarfile
top = sys.argv[1]
df = b"FROM busybox\nCOPY . /ctx/\n"
def add(t, name, data):
    i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
with tarfile.open(top + "/dotdot.tar", "w") as t:
    add(t, "Dockerfile", df)
    add(t, "../escaped-dotdot", b"bad")
with tarfile.open(top + "/symlink.tar", "w") as t:
    add(t, "Dockerfile", df)
    i = tarfile.TarInfo("link"); i.type = tarfile.SYMTYPE; i.linkname = top; t.addfile(i)
    add(t, "link/escaped-link", b"bad")
PY
for evil in dotdot symlink; do
	run_cairn build -q -t "evil-$evil:1" - <"$T/$evil.tar"
	sed "s/^/# $evil: /" "$T/err"
	# Refused (../), or confined: in the extraction an absolute link
	# resolves inside the context, as in an ADD archive.
	if [ "$status" -ne 0 ] || { [ -n "$(image_id "evil-$evil:1")" ] && [ "$evil" = symlink ]; }; then
		pass "hostile tar context ($evil): refused or confined"
	else
		fail "hostile tar context ($evil): refused or confined (status $status)"
	fi
	check "... nothing written outside" test -z "$(find "$T" "$(dirname "$T")" "$CAIRN_ROOT" -maxdepth 2 -name 'escaped-*')"
	check "... no temp dir left" no_tmp_left
done
expect_fail "a Buildfile that is a symlink out of a tar context is refused" 1 "Buildfile" \
	build -q - < <(python3 - "$T" <<'PY'
import io, sys, tarfile
with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as t:
    i = tarfile.TarInfo("Dockerfile"); i.type = tarfile.SYMTYPE; i.linkname = "/etc/passwd"; t.addfile(i)
PY
)

# An http(s) tar as the context.
mkdir -p "$T/www"
cp "$T/ctx.tar.gz" "$T/www/ctx.tar.gz"
echo "not a tar" >"$T/www/plain.txt"
python3 -c '
import http.server, os, sys
os.chdir(sys.argv[1])
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2] + ".tmp", "w").write(str(s.server_address[1])); os.rename(sys.argv[2] + ".tmp", sys.argv[2])
s.serve_forever()' "$T/www" "$T/port" &
server_pid=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat "$T/port")
id=$("$CAIRN" build -q -t url:1 "$url/ctx.tar.gz" 2>"$T/err")
check "an http tar.gz context builds the same image" test -n "$id" -a "$id" = "$(image_id tar:1)"
expect_fail "a URL that is no tar fails saying so" 1 "not a tar archive" build "$url/plain.txt"
expect_fail "a URL that is missing fails naming it" 1 "$url/none.tar" build "$url/none.tar"
check "no temp dir left after URL contexts" no_tmp_left

# git contexts: refused, naming the form.
for g in git@github.com:o/r.git git://example.org/r https://github.com/o/r.git github.com/o/r https://example.org/r.git#main; do
	expect_fail "git context $g is refused" 1 "not supported: git context '$g'" build "$g"
done
check "store consistent" store_is_consistent
finish
