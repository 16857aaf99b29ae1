#!/bin/bash
# cairn build takes docker build's --add-host, --ulimit and --shm-size for
# its RUN steps; as docker build, they are not part of the cache key.
. "$(dirname "$0")/lib.sh"

build_busybox || finish

mkdir -p "$T/ctx"
buildfile "$T/ctx" <<'EOF2'
FROM busybox
RUN cat /etc/hosts > /hosts.txt
RUN sh -c 'ulimit -n; ulimit -Hn' > /ulimit.txt
RUN df -k /dev/shm > /shm.txt
EOF2
expect_ok "a build with --add-host, --ulimit, --shm-size" \
	build -q -t flags:1 --add-host db.local:10.1.2.3 --ulimit nofile=256:512 --shm-size 16m "$T/ctx"
run_cairn run flags:1 cat /hosts.txt
check "RUN cat /etc/hosts shows --add-host" grep -qP '^10\.1\.2\.3\tdb\.local$' "$T/out"
run_cairn run flags:1 cat /ulimit.txt
check "RUN ulimit -n shows --ulimit" test "$(cat "$T/out" | tr '\n' ' ')" = "256 512 "
run_cairn run flags:1 cat /shm.txt
check "RUN df /dev/shm shows --shm-size" grep -qE ' 16384 .* /dev/shm$' "$T/out"

# docker build does not key its cache on these: the same steps are reused.
run_cairn build -t flags:2 --add-host other:10.9.9.9 "$T/ctx"
check "another --add-host reuses the cached steps (as docker)" test "$(grep -c CACHED "$T/out")" -ge 3
check "...the same image" test "$(tag_digest flags:2)" = "$(tag_digest flags:1)"

expect_fail "build --ulimit with a bad value names the flag" 2 "--ulimit" \
	build --ulimit nofile=abc "$T/ctx"
expect_fail "build --add-host without an IP names the flag" 2 "--add-host" \
	build --add-host justaname "$T/ctx"
check "no mount left" no_mounts_left
check "no temp dir left" no_tmp_left
finish
