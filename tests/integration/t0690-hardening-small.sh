#!/bin/bash
# Small hardening: a Buildfile that is not a regular file is refused without
# blocking; --mount options are checked when the Buildfile is parsed.
. "$(dirname "$0")/lib.sh"

# A FIFO Buildfile, found in the context or given with -f, is refused at
# once (reading one would wait for a writer forever).
mkdir -p "$T/fifo"
mkfifo "$T/fifo/Buildfile"
run_cairn_timeout() {
	timeout 20 "$CAIRN" "$@" >"$T/out" 2>"$T/err"
	status=$?
}
for how in found -f; do
	if [ "$how" = -f ]; then
		run_cairn_timeout build -f "$T/fifo/Buildfile" "$T/fifo"
	else
		run_cairn_timeout build "$T/fifo"
	fi
	if [ "$status" -eq 1 ] && grep -qF "Buildfile' is not a regular file" "$T/err"; then
		pass "FIFO Buildfile ($how) refused"
	else
		fail "FIFO Buildfile ($how) refused (status $status)"
		sed 's/^/#   /' "$T/err" | tail -5
	fi
done
mkdir -p "$T/dir/sub"
expect_fail "directory Buildfile (-f) refused" 1 "'$T/dir/sub' is not a regular file" build -f "$T/dir/sub" "$T/dir"
expect_fail "device Buildfile (-f) refused" 1 "'/dev/null' is not a regular file" build -f /dev/null "$T/dir"

# Mount errors are parse errors (exit 1, one line, FILE:LINE:COLUMN) found
# before step 1 runs. Each row: NAME|--mount VALUE|the message after
# "Buildfile:3:5: RUN: --mount: ".
while IFS='|' read -r name spec want; do
	ctx=$T/p-${name// /-}
	mkdir -p "$ctx"
	printf 'FROM scratch\nRUN echo STEP1\nRUN --mount=%s true\n' "$spec" >"$ctx/Buildfile"
	expect_fail "mount: $name" 1 "Buildfile:3:5: RUN: --mount: $want" build "$ctx"
	check "mount: $name: one line, nothing ran" \
		sh -c "test \$(wc -l <'$T/err') -eq 1 && ! grep -q STEP1 '$T/out' '$T/err'"
done <<'CASES'
bare target|type=cache,target|target needs a value (target=VALUE)
bare source|type=bind,source,target=/x|source needs a value (source=VALUE)
bare id|type=cache,id,target=/x|id needs a value (id=VALUE)
bad type|type=nope,target=/x|type=nope is not supported (expected bind, cache, tmpfs, secret or ssh)
bad mode|type=cache,target=/x,mode=999x|mode=999x is not a number
bad uid|type=cache,target=/x,uid=-1|uid=-1 is not a number
bad sharing|type=cache,target=/x,sharing=bad|sharing=bad: expected shared, private or locked
bad ro|type=bind,target=/x,ro=maybe|ro=maybe: expected true or false
CASES

# Bare booleans and values with variables stay accepted at parse time.
build_busybox || finish
mkdir -p "$T/ok"
cat >"$T/ok/Buildfile" <<'BF'
FROM busybox
ARG T=/c
RUN --mount=type=cache,target=$T,sharing=locked,ro true
RUN --mount=type=tmpfs,target=/t,readonly=false,required true
BF
expect_ok "bare booleans and variables parse" build -q "$T/ok"

# A redirect to another scheme (file://) is refused, naming the scheme: by
# the registry client (manifest and blob requests) and by ADD.
cat >"$T/redir.py" <<'PY'
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_GET(self):
        if self.path == "/v2/":
            self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
            self.wfile.write(b"{}"); return
        self.send_response(302); self.send_header("Location", "file:///etc/shadow")
        self.send_header("Content-Length", "0"); self.end_headers()
    do_HEAD = do_GET
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
PY
python3 "$T/redir.py" "$T/port" &
redir_pid=$!
trap 'kill $redir_pid 2>/dev/null; wait $redir_pid 2>/dev/null; cleanup_test_dir' EXIT
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
port=$(cat "$T/port")
expect_fail "registry: a redirect to file:// is refused" 1 \
	"refusing a redirect to a file: URL (only http and https)" pull -q "127.0.0.1:$port/a/b:1"
check "... and does not say HTTP 302/404" sh -c "! grep -q 'HTTP [34]0' '$T/err'"
mkdir -p "$T/add"
printf 'FROM busybox\nADD http://127.0.0.1:%s/x /x\n' "$port" >"$T/add/Buildfile"
expect_fail "ADD: a redirect to file:// is refused" 1 \
	"refusing a redirect to a file: URL (only http and https)" build -q "$T/add"

finish
