#!/bin/bash
# The builder on the project's one implementation of each idea (issue 15,
# "Copies that drifted"): WORKDIR and ADD's archive destination made by the
# root-confined mkdir that COPY uses, STOPSIGNAL read by the signal parser
# that cairn run uses, RUN's directory and hosts file from the rootfs
# preparation of cairn run, the platform ARGs from the host platform that
# pull and the image config use.
. "$(dirname "$0")/lib.sh"

build_busybox || finish

# WORKDIR and ADD's archive destination: a .wh. name cannot be stored in a
# layer (a whiteout to every reader), as COPY has always refused it.
printf 'FROM busybox\nWORKDIR /a/.wh.b/c\n' | buildfile "$T/wh"
expect_fail "WORKDIR refuses a .wh. name" 1 "cannot be stored in a layer" build "$T/wh"
mkdir -p "$T/addwh/x"
echo f >"$T/addwh/x/f"
tar -C "$T/addwh/x" -cf "$T/addwh/a.tar" f
printf 'FROM busybox\nADD a.tar /.wh.d/\n' >"$T/addwh/Buildfile"
expect_fail "ADD of an archive refuses a .wh. destination" 1 "cannot be stored in a layer" build "$T/addwh"
printf 'FROM busybox\nRUN touch /f\nWORKDIR /f/x\n' | buildfile "$T/wdfile"
expect_fail "WORKDIR through a file names it" 1 "'/f' is not a directory" build "$T/wdfile"

# WORKDIR's new directories: 0755, the USER's.
buildfile "$T/wdmode" <<'B'
FROM busybox
USER 1000:1001
WORKDIR /u/v
USER root
WORKDIR /r/s
RUN stat -c '%n %a %u:%g' /u /u/v /r /r/s >/modes
B
expect_ok "WORKDIR as a user and as root" build -t wdmode:1 "$T/wdmode"
expect_ok "read the modes" run --rm wdmode:1 cat /modes
check "WORKDIR's directories are 0755 and owned by the USER in effect" test "$(cat "$T/out")" = "/u 755 1000:1001
/u/v 755 1000:1001
/r 755 0:0
/r/s 755 0:0"

# STOPSIGNAL: accepted exactly when cairn run can stop a container with it.
for s in IOT SIGPOLL cld RTMIN+3 SIGRTMAX-2 64 term; do
	printf 'FROM busybox\nSTOPSIGNAL %s\n' "$s" | buildfile "$T/sig"
	expect_ok "STOPSIGNAL $s" build "$T/sig"
done
for s in RTMIN+99 RTMAX-40 65 0 SIGFOO; do
	printf 'FROM busybox\nSTOPSIGNAL %s\n' "$s" | buildfile "$T/sig"
	expect_fail "STOPSIGNAL $s is refused" 1 "invalid signal '$s'" build "$T/sig"
done

# RUN: the hostname and the hosts file naming it.
printf 'FROM busybox\nRUN hostname >/hn && cat /etc/hosts >/hosts\n' | buildfile "$T/host"
expect_ok "RUN sees its hostname" build -t host:1 "$T/host"
expect_ok "read them" run --rm host:1 cat /hn /hosts
check "RUN's hostname is cairn and its hosts file names it" \
	grep -qxF "$(printf '127.0.0.1\tlocalhost cairn')" "$T/out"
check "the hostname" test "$(head -n 1 "$T/out")" = cairn

# The platform ARGs agree with the image's platform.
buildfile "$T/plat" <<'B'
FROM busybox
ARG TARGETPLATFORM TARGETARCH TARGETVARIANT BUILDPLATFORM
RUN echo "$TARGETPLATFORM|$TARGETARCH|$TARGETVARIANT|$BUILDPLATFORM" >/plat
B
expect_ok "the platform ARGs" build -t plat:1 "$T/plat"
expect_ok "read them" run --rm plat:1 cat /plat
arch=$(image_config plat:1 | jq -r .architecture)
# BuildKit's variant: arm's only (armv7l: v7), none for amd64 or arm64.
variant=""
[ "$arch" = arm ] && variant=v$(uname -m | sed -n 's/^armv\([5-8]\).*/\1/p')
want="linux/$arch${variant:+/$variant}"
check "TARGETPLATFORM and BUILDPLATFORM name the image's platform" \
	test "$(cat "$T/out")" = "$want|$arch|$variant|$want"

check "no temp dir left" no_tmp_left
check "no mounts left" no_mounts_left
check "store consistent" store_is_consistent
finish
