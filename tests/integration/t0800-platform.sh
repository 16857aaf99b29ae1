#!/bin/bash
# build --platform: never ignored. An invalid platform is a usage error; a
# platform this kernel cannot run says what to install; where qemu-aarch64
# is registered (binfmt_misc with the F flag, Debian's qemu-user-static),
# an arm64 image builds from an arm64 busybox: RUN runs aarch64 code, the
# config says arm64, TARGETARCH is arm64 and BUILDARCH the host's, FROM
# picks the arm64 base (and refuses another platform's), FROM
# --platform=$BUILDPLATFORM runs on the host, and no amd64 step is reused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/platform.sh"

buildfile "$T/ctx" <<'B'
FROM scratch
COPY f /f
B
echo hello >"$T/ctx/f"

expect_fail "an invalid --platform is a usage error" 2 "invalid platform 'linux/'" \
	build -q --platform linux/ "$T/ctx"
expect_fail "--platform is checked before the build" 2 "invalid platform 'a/b/c/d'" \
	build -q --platform a/b/c/d "$T/ctx"

# s390x: no emulator is registered here (qemu-user-static registers one
# only when enabled: update-binfmts --enable qemu-s390x).
if [ -e /proc/sys/fs/binfmt_misc/qemu-s390x ] && grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-s390x; then
	skip "--platform linux/s390x without an emulator" "qemu-s390x is registered here"
else
	buildfile "$T/run" <<-'B'
	FROM scratch
	RUN true
	B
	expect_fail "--platform linux/s390x without binfmt says what to install" 1 \
		"apt-get install qemu-user-static binfmt-support" build -q --platform linux/s390x "$T/run"
	check "... naming the platform and the host" grep -q "cannot run linux/s390x binaries on this linux/$host_arch host" "$T/err"
fi

# Without RUN nothing needs emulation: a scratch image for arm64 says arm64,
# and is not the host build's cache entry.
expect_ok "host build" build -q -t plain:host "$T/ctx"
expect_ok "arm64 build of the same Buildfile" build -t plain:arm64 --platform linux/aarch64 "$T/ctx"
check "its config says arm64" test "$(image_config plain:arm64 | jq -r '.architecture + "/" + .os + "/" + (.variant // "")')" = "arm64/linux/"
check "the host build's config says $host_arch" test "$(image_config plain:host | jq -r .architecture)" = "$host_arch"
check "no step of the host build was reused" bash -c "! grep -q CACHED '$T/out'"
check "the images differ" test "$(tag_digest plain:host)" != "$(tag_digest plain:arm64)"
expect_ok "arm64 again" build -t plain:arm64b --platform linux/arm64/v8 "$T/ctx"
check "arm64/v8 is arm64: its steps are reused" grep -q CACHED "$T/out"

# ---- RUN under emulation ----
if ! arm64_emulated; then
	skip "arm64 RUN steps" "no enabled qemu-aarch64 binfmt_misc entry with the F flag (apt-get install qemu-user-static binfmt-support; update-binfmts --enable qemu-aarch64)"
	finish
fi
if ! bb=$(arm64_busybox); then
	skip "arm64 RUN steps" "could not download Debian's busybox-static for arm64"
	finish
fi

mkdir -p "$T/bb64"
cp "$bb" "$T/bb64/busybox"
buildfile "$T/bb64" <<'B'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /tmp && chmod 1777 /tmp
CMD ["/bin/sh"]
B
expect_ok "an arm64 busybox base builds (RUN of arm64 code)" build -q --platform linux/arm64 -t bb64 "$T/bb64"
check "... and says arm64" test "$(image_config bb64:latest | jq -r .architecture)" = arm64

buildfile "$T/app" <<'B'
FROM bb64
ARG TARGETARCH TARGETPLATFORM BUILDARCH BUILDPLATFORM TARGETVARIANT
RUN echo "machine=$(uname -m) target=$TARGETARCH/$TARGETPLATFORM/[$TARGETVARIANT] build=$BUILDARCH/$BUILDPLATFORM"
RUN uname -m >/m
B
expect_ok "an arm64 build FROM the arm64 base" build -t app64 --platform linux/arm64 "$T/app"
check "RUN uname -m says aarch64" grep -q "machine=aarch64 " "$T/out"
check "TARGETARCH and TARGETPLATFORM are arm64's, TARGETVARIANT empty" grep -q "target=arm64/linux/arm64/\[\]" "$T/out"
check "BUILDARCH and BUILDPLATFORM are the host's" grep -q "build=$host_arch/linux/$host_arch" "$T/out"
check "the image config says arm64" test "$(image_config app64:latest | jq -r .architecture)" = arm64

# The host's busybox under the same name: FROM must not take it for arm64.
build_busybox || finish
buildfile "$T/wrong" <<'B'
FROM busybox
RUN true
B
expect_fail "FROM an image of another platform names both" 1 "is linux/$host_arch, not linux/arm64" \
	build -q --platform linux/arm64 "$T/wrong"

buildfile "$T/copyfrom" <<'B'
FROM bb64
COPY --from=busybox /bin/busybox /host-busybox
B
expect_fail "COPY --from an image of another platform names both" 1 "is linux/$host_arch, not linux/arm64" \
	build -q --platform linux/arm64 "$T/copyfrom"
printf 'FROM bb64\nCOPY --from=bb64 /bin/busybox /b2/busybox\nRUN /b2/busybox uname -m\n' | buildfile "$T/copyfrom"
expect_ok "COPY --from an image of the stage's platform" build --platform linux/arm64 "$T/copyfrom"
check "... (its busybox is arm64's)" grep -qx aarch64 "$T/out"

# One stage on the build host, one on the target.
buildfile "$T/multi" <<'B'
FROM --platform=$BUILDPLATFORM busybox AS tools
RUN uname -m >/build-machine
FROM bb64
COPY --from=tools /build-machine /
RUN echo "stages: $(cat /build-machine) then $(uname -m)"
B
expect_ok "FROM --platform=\$BUILDPLATFORM" build --platform linux/arm64 -t multi64 "$T/multi"
check "the first stage ran on the host, the last under emulation" grep -q "stages: $(uname -m) then aarch64" "$T/out"
check "the image is arm64" test "$(image_config multi64:latest | jq -r .architecture)" = arm64
buildfile "$T/badfrom" <<'B'
ARG P=linux/
FROM --platform=$P busybox
B
expect_fail "FROM --platform with an invalid value names its place" 1 "Buildfile:2:6: FROM: --platform=\$P: invalid platform 'linux/'" \
	build -q "$T/badfrom"
finish
