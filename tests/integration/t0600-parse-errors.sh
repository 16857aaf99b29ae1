#!/bin/bash
# Parse errors name FILE:LINE:COLUMN, the instruction and what was expected,
# before anything runs; FROM --platform takes the platform's image.
. "$(dirname "$0")/lib.sh"

build_busybox || finish

# perr NAME WANT TEXT: the build of TEXT fails with exit 1, one line, WANT in it.
perr() {
	local name=$1 want=$2 text=$3 ctx=$T/p-$1
	mkdir -p "$ctx"
	printf '%s\n' "$text" >"$ctx/Buildfile"
	expect_fail "$name" 1 "$want" build "$ctx"
	check "$name: one line" test "$(wc -l <"$T/err")" -eq 1
}

perr "unknown flag, column of the flag" "Buildfile:2:15: RUN: unknown flag: --netwrk (did you mean --network?)" 'FROM busybox
RUN --mount=x --netwrk=none true'
perr "unknown flag lists the expected ones" "Buildfile:2:6: COPY: unknown flag: --foo (expected --chown, --chmod, --from, --link, --exclude or --parents)" 'FROM busybox
COPY --foo a /b'
perr "flag value" "Buildfile:2:5: RUN: invalid network mode 'bridge' (expected default, none or host)" 'FROM busybox
RUN --network=bridge true'
perr "missing arguments, with the syntax" "Buildfile:3:3: COPY: requires at least two arguments (expected: COPY [" 'FROM busybox
# indented
  COPY onlyone'
perr "ENV without a value" "Buildfile:2:1: ENV: must have two arguments (expected ENV KEY=VALUE or ENV KEY VALUE)" 'FROM busybox
ENV NAME'
perr "LABEL without =" "Buildfile:2:1: LABEL: Syntax error - can't find = in \"b\"" 'FROM busybox
LABEL a=1 b'
perr "JSON form" "Buildfile:2:1: CMD: when using JSON array syntax, arrays must be comprised of strings only (expected" 'FROM busybox
CMD ["a", 1]'
perr "unterminated heredoc, at its <<" "Buildfile:2:5: RUN: unterminated heredoc (expected a line 'EOF' ending it)" 'FROM busybox
RUN <<EOF
echo hi'
perr "unknown instruction" "Buildfile:2:1: unknown instruction 'RUNN' (did you mean 'RUN'?)" 'FROM busybox
RUNN true'
perr "bad stage name, its column" "Buildfile:1:17: FROM: invalid name for build stage: '1st'" 'FROM busybox AS 1st'
perr "HEALTHCHECK duration" "Buildfile:2:24: HEALTHCHECK: --interval: '5x' is not a duration of at least 1ms (expected" 'FROM busybox
HEALTHCHECK --interval=5x CMD true'
perr "escape directive" "Buildfile:1:1: invalid escape token 'x' does not match" '# escape=x
FROM busybox'
perr "before FROM" "Buildfile:1:1: RUN: only ARG can come before the first FROM (expected FROM here)" 'RUN true
FROM busybox'
perr "variable syntax, at the word" "Buildfile:2:9: WORKDIR: '/x/\${A:?must be set}': failed to process \"/x/\${A:?must be set}\": A: must be set" 'FROM busybox
WORKDIR /x/${A:?must be set}'
perr "unclosed brace in a value" "Buildfile:2:7: ENV: '\${B': failed to process \"\${B\": syntax error: missing '}'" 'FROM busybox
ENV A=${B'

# FROM --platform: the host's platform, or an image of the platform named.
arch=$(uname -m); case $arch in x86_64) arch=amd64;; aarch64) arch=arm64;; esac
printf 'FROM --platform=$BUILDPLATFORM busybox\nRUN echo ok\nFROM --platform=linux/%s busybox\nRUN echo two\n' "$arch" | buildfile "$T/plat"
expect_ok "FROM --platform=\$BUILDPLATFORM and linux/$arch are this host's" build -t plat:1 "$T/plat"
other=arm64; [ "$arch" = arm64 ] && other=amd64
# (a registry nothing listens on: the pull fails wherever the test runs)
"$CAIRN" tag busybox:latest localhost:1/bb:latest
perr "another platform's image is refused clearly" "Buildfile:1: FROM: image 'localhost:1/bb' in the store is linux/$arch, not linux/$other, and pulling it for linux/$other failed" "FROM --platform=linux/$other localhost:1/bb"
check "store consistent" store_is_consistent
finish
