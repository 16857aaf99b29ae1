#!/bin/bash
# ADD: bzip2 and xz archives unpacked; URLs fetched with libcurl from a
# python3 server on a random loopback port (mode 0600, mtime from
# Last-Modified, never unpacked, --checksum checked, redirects limited,
# HTTP errors and untrusted TLS refused, cache keyed by content or checksum).
. "$(dirname "$0")/lib.sh"

server_pids=()
stop_servers() {
	local p
	for p in "${server_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	server_pids=()
}
trap 'stop_servers; cleanup_test_dir' EXIT

build_busybox || finish

# Archives compressed with bzip2 and xz.
ctx=$T/arch
mkdir -p "$ctx/tree/d"
echo one >"$ctx/tree/d/one.txt"
(cd "$ctx/tree" && tar -cf - d | bzip2 -c >../t.tar.bz2 && tar -cf - d | xz -c >../t.tar.xz)
printf 'FROM busybox\nADD t.tar.bz2 /bz/\nADD t.tar.xz /xz/\n' | buildfile "$ctx"
expect_ok "ADD bzip2 and xz archives" build -t arch:1 "$ctx"
unpack_with_umoci arch:1 "$T/a"
check "a bzip2 tar is unpacked" test "$(cat "$T/a/rootfs/bz/d/one.txt")" = one
check "an xz tar is unpacked" test "$(cat "$T/a/rootfs/xz/d/one.txt")" = one
printf 'not a tar at all' | bzip2 -c >"$ctx/bad.tar.bz2"
printf 'FROM busybox\nADD bad.tar.bz2 /bz/\n' | buildfile "$ctx"
expect_fail "a bzip2 file that is no tar is an error naming it" 1 "Buildfile:2: ADD: 'bad.tar.bz2'" build "$ctx"

# The server: files from $T/www, plus /redirect, /loop and /slash/ (no name).
www=$T/www
mkdir -p "$www"
echo "hello from the web" >"$www/file.txt"
touch -d '2001-02-03 04:05:06 UTC' "$www/file.txt"
(cd "$ctx/tree" && tar -czf "$www/app.tar.gz" d)
cat >"$T/server.py" <<'PY'
import http.server, os, sys
root, portfile = sys.argv[1], sys.argv[2]
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def log_message(self, *a):
        pass
    def do_GET(self):
        if self.path == "/redirect":
            self.send_response(302); self.send_header("Location", "/file.txt"); self.end_headers(); return
        if self.path == "/loop":
            self.send_response(302); self.send_header("Location", "/loop"); self.end_headers(); return
        if self.path == "/to-file":
            self.send_response(302); self.send_header("Location", "file:///etc/passwd"); self.end_headers(); return
        if self.path == "/to-ftp":
            self.send_response(302); self.send_header("Location", "ftp://127.0.0.1/x"); self.end_headers(); return
        return super().do_GET()
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(portfile + ".tmp", portfile)
s.serve_forever()
PY
python3 "$T/server.py" "$www" "$T/port" &
server_pids+=($!)
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
port=$(cat "$T/port")
url=http://127.0.0.1:$port
sum=$(sha256sum "$www/file.txt" | cut -d' ' -f1)

u=$T/url
mkdir -p "$u"
cat >"$u/Buildfile" <<EOF
FROM busybox
ADD $url/file.txt /web/
ADD $url/file.txt /web/renamed.txt
ADD --checksum=sha256:$sum $url/file.txt /web/checked.txt
ADD $url/app.tar.gz /web/
ADD $url/redirect /web/redirected.txt
ADD --chmod=0644 $url/file.txt /web/public.txt
EOF
expect_ok "ADD URLs" build -t url:1 "$u"
unpack_with_umoci url:1 "$T/w"
w=$T/w/rootfs/web
check "a URL is fetched into a directory DEST under its name" test "$(cat "$w/file.txt")" = "hello from the web"
check "mode 0600, as docker" test "$(stat -c %a "$w/file.txt")" = 600
check "mtime from Last-Modified" test "$(stat -c %Y "$w/file.txt")" = "$(date -d '2001-02-03 04:05:06 UTC' +%s)"
check "a file DEST names the file" test -f "$w/renamed.txt"
check "--checksum that matches" test -f "$w/checked.txt"
check "a remote archive is not unpacked" test -f "$w/app.tar.gz" -a ! -e "$w/d"
check "redirects are followed" test "$(cat "$w/redirected.txt")" = "hello from the web"
check "--chmod applies" test "$(stat -c %a "$w/public.txt")" = 644

expect_ok "rebuild, the server unchanged" build -t url:1 "$u"
check "every ADD is cached (content unchanged)" test "$(grep -c -- '--> CACHED' "$T/out")" -eq 6
echo one >"$www/other.txt"
mkdir -p "$T/chg"
printf 'FROM busybox
ADD %s/other.txt /o.txt
' "$url" >"$T/chg/Buildfile"
expect_ok "ADD a URL" build -t chg:1 "$T/chg"
echo two >"$www/other.txt"
expect_ok "rebuild after the served file changed" build -t chg:2 "$T/chg"
check "the URL's content is in the key: the ADD reruns" test "$(grep -c -- '--> CACHED' "$T/out")" -eq 0
unpack_with_umoci chg:2 "$T/c2"
check "and takes the new content" test "$(cat "$T/c2/rootfs/o.txt")" = two

nbad=0
bad() {   # NAME WANT BUILDFILE-LINE
	nbad=$((nbad + 1))
	mkdir -p "$T/bad-$nbad"
	printf 'FROM busybox\n%s\n' "$3" >"$T/bad-$nbad/Buildfile"
	expect_fail "$1" 1 "$2" build -t "bad-$nbad:1" "$T/bad-$nbad"
	check "$1: no tag, nothing left in tmp" test -z "$(tag_digest "bad-$nbad:1")" -a -z "$(ls -A "$CAIRN_ROOT/tmp")"
}
bad "a checksum mismatch" "Buildfile:2: ADD: '$url/file.txt': checksum mismatch: expected sha256:$(printf 0%.0s $(seq 64)), got sha256:$sum" \
	"ADD --checksum=sha256:$(printf 0%.0s $(seq 64)) $url/file.txt /x"
bad "HTTP 404" "Buildfile:2: ADD: '$url/nope': HTTP status 404" "ADD $url/nope /x"
bad "a redirect loop is cut short" "Buildfile:2: ADD: '$url/loop': Maximum (10) redirects followed" "ADD $url/loop /x"
bad "a redirect to another protocol is refused" "Buildfile:2: ADD: '$url/to-ftp':" "ADD $url/to-ftp /x"
bad "a redirect to file:// is refused" "Buildfile:2: ADD: '$url/to-file':" "ADD $url/to-file /x"
bad "a URL with no file name to a directory" "Buildfile:2: ADD: '$url/': the URL names no file" "ADD $url/ /x/"
bad "git sources" "Buildfile:2:5: ADD: 'https://example.com/repo.git': git sources are not supported" "ADD https://example.com/repo.git /src"

# https with a certificate nobody trusts is refused.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
	-subj /CN=127.0.0.1 >/dev/null 2>&1
cat >"$T/tls.py" <<'PY'
import http.server, os, ssl, sys
root, cert, key, portfile = sys.argv[1:5]
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(portfile + ".tmp", portfile)
s.serve_forever()
PY
python3 "$T/tls.py" "$www" "$T/cert.pem" "$T/key.pem" "$T/tlsport" &
server_pids+=($!)
for _ in $(seq 100); do [ -s "$T/tlsport" ] && break; sleep 0.1; done
bad "https with an untrusted certificate" "Buildfile:2: ADD: 'https://127.0.0.1:$(cat "$T/tlsport")/file.txt':" \
	"ADD https://127.0.0.1:$(cat "$T/tlsport")/file.txt /x"

# With --checksum the key needs no download: cached even with the server gone.
mkdir -p "$T/sum"
printf 'FROM busybox\nADD --checksum=sha256:%s %s/file.txt /s.txt\n' "$sum" "$url" >"$T/sum/Buildfile"
expect_ok "ADD --checksum" build -t sum:1 "$T/sum"
stop_servers
expect_ok "rebuild with the server stopped" build -t sum:1 "$T/sum"
check "ADD --checksum is cached by URL and checksum" test "$(grep -c -- '--> CACHED' "$T/out")" -eq 1
check "store consistent" store_is_consistent
check "no mounts left" no_mounts_left
finish
