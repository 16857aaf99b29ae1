#!/bin/bash
# buildah's tests/bud contexts ($CONFORMANCE/buildah-bud, read in place;
# copied to the test dir only when a context must be changed first), built
# with cairn and checked against what its README says buildah's tests
# expect. Base images: examples/busybox as busybox, and as stand-ins for
# alpine (plus /usr/bin/env) and ubuntu where the context's steps only use
# busybox applets. Expectations that only make sense for buildah (its CLI
# flags, log format, exit code 125, error wording) are not checked; where
# cairn differs from buildah on purpose, or lacks a feature, the check is a
# SKIP naming why, so it turns on once the feature lands.
. "$(dirname "$0")/lib.sh"

B=${CONFORMANCE:-}/buildah-bud
if [ -z "${CONFORMANCE:-}" ] || [ ! -f "$B/README.md" ]; then
	skip "buildah-bud conformance" "skipped: conformance data not found (${B})"
	finish
fi

# --- helpers ---------------------------------------------------------------

# bud CTX [CAIRN-BUILD-ARGS...]: builds CTX; stdout+stderr in $T/log (buildah's
# tests look at both), the status in $status. -f NAME is relative to CTX, as
# in buildah's tests.
bud() {
	local ctx=$1 a args=(); shift
	while [ $# -gt 0 ]; do
		a=$1; shift
		if [ "$a" = -f ]; then args+=(-f "$ctx/$1"); shift; else args+=("$a"); fi
	done
	"$CAIRN" build "${args[@]}" "$ctx" >"$T/log" 2>&1
	status=$?
}
show_log() { sed 's/^/#   /' "$T/log" | tail -15; }
# builds DESC CTX ARGS...: the build must succeed.
builds() {
	local desc=$1; shift
	bud "$@"
	if [ "$status" -eq 0 ]; then pass "$desc"; else fail "$desc (status $status)"; show_log; fi
}
# refuses DESC SUBSTRING CTX ARGS...: the build must fail (status 1, or 2
# for a bad command line; not a crash) with an error line containing
# SUBSTRING.
refuses() {
	local desc=$1 sub=$2; shift 2
	bud "$@"
	if { [ "$status" -eq 1 ] || [ "$status" -eq 2 ]; } && grep '^error: ' "$T/log" | grep -qF -- "$sub"; then
		pass "$desc"
	else
		fail "$desc (status $status; output should contain '$sub')"; show_log
	fi
}
# unlogged DESC STRING...: the last build's output contains no STRING.
unlogged() {
	local desc=$1 s; shift
	for s in "$@"; do
		if grep -qF -- "$s" "$T/log"; then
			fail "$desc (output has '$s')"; show_log; return
		fi
	done
	pass "$desc"
}
# logged DESC STRING...: the last build's output contains every STRING.
logged() {
	local desc=$1 s; shift
	for s in "$@"; do
		if ! grep -qF -- "$s" "$T/log"; then
			fail "$desc (output lacks '$s')"; show_log; return
		fi
	done
	pass "$desc"
}
# The stored name of a tag given without one (as index.json has it).
ref() { case $1 in *:*) echo "$1" ;; *) echo "$1:latest" ;; esac; }
# rootfs TAG: unpacks TAG with umoci; its rootfs is then in $R.
rootfs() {
	R=$T/img/$1/rootfs
	[ -d "$R" ] || unpack_with_umoci "$(ref "$1")" "$T/img/$1" || fail "unpack $1"
}
config() { image_config "$(ref "$1")" | jq -c "$2"; }
# differs DESC WHY: an expectation cairn does not meet on purpose or yet.
differs() { skip "$1" "$2"; }
# A copy of a context the test changes; its path in $C.
copy_ctx() {
	C=$T/ctx/$1
	rm -rf "$C"; mkdir -p "$T/ctx"
	cp -a "$B/$1" "$C" && chmod -R u+w "$C"
}

# --- base images -----------------------------------------------------------

build_busybox || finish
for n in docker.io/library/busybox:latest busybox:musl; do
	"$CAIRN" tag busybox:latest "$n" >/dev/null || fail "tag $n"
done
# alpine: busybox applets are what the alpine contexts run (ls, stat, find,
# dd, rev); alpine has env in /usr/bin. No apk, no adduser (Debian's
# busybox-static lacks it).
buildfile "$T/alpine" <<'BF'
FROM busybox:latest
RUN mkdir -p /usr/bin /usr/local/bin /usr/lib /lib /var/lib /var/tmp /etc/ssl/certs /srv /opt && \
    ln -s /bin/busybox /usr/bin/env
BF
"$CAIRN" build -q -t alpine:latest -t docker.io/library/alpine:latest -t docker.io/alpine:latest \
	"$T/alpine" >/dev/null 2>&1 || { fail "build the alpine stand-in"; finish; }
# ubuntu: only for contexts whose steps are mkdir, ln, stat and test.
for n in ubuntu:latest docker.io/ubuntu:latest; do
	"$CAIRN" tag busybox:latest "$n" >/dev/null || fail "tag $n"
done

# --- contexts --------------------------------------------------------------

# add-chmod, add-chown, copy-chmod, copy-chown
for kw in add copy; do
	ctx=$B/$kw-chmod
	builds "$kw-chmod: builds" "$ctx" -t $kw-chmod
	logged "$kw-chmod: the file is rwxrwxrwx" -rwxrwxrwx
	builds "$kw-chmod: --chmod with --chown builds" "$ctx" -f Dockerfile.combined
	logged "$kw-chmod: combined flags give mode 777 and owner 2367:3267" "chmod:777 user:2367 group:3267"
	refuses "$kw-chmod: '--chmod 777' (no =) is refused" "missing a value on flag: --chmod" "$ctx" -f Dockerfile.bad
	ctx=$B/$kw-chown
	builds "$kw-chown: builds" "$ctx" -t $kw-chown
	logged "$kw-chown: stat shows 2367:3267" "user:2367 group:3267"
	rootfs $kw-chown
	check "$kw-chown: the file in the image is owned 2367:3267" \
		test "$(stat -c %u:%g "$R/tmp/${kw}chown.txt")" = 2367:3267
	refuses "$kw-chown: '--chown 2367:3267' (no =) is refused" "missing a value on flag: --chown" "$ctx" -f Dockerfile.bad
done
differs "copy-chown: --chown=\${BOGUS}:\${BOGUS} (expands to ':') is refused" "cairn accepts --chown=: as root:root"
differs "copy-chown: Containerfile.chown_user" "needs adduser (alpine's; Debian's busybox-static has none)"

# add-create-absolute-path, copy-create-relative-path: parents made 0755
builds "add-create-absolute-path: builds" "$B/add-create-absolute-path"
logged "add-create-absolute-path: missing parents are created 0755" "permissions=755"
builds "copy-create-relative-path: builds" "$B/copy-create-relative-path"
logged "copy-create-relative-path: missing parents are created 0755" "permissions=755"
differs "copy-multistage-paths" "needs ubuntu's /bin/bash (no ubuntu image offline)"
refuses "copy-multistage-paths: 'COPY --from builder' (no =) is refused" "missing a value on flag: --from" \
	"$B/copy-multistage-paths" -f Dockerfile.invalid_from

# add-file: ADD after VOLUME is kept
builds "add-file: builds" "$B/add-file" -t add-file
rootfs add-file
check "add-file: /var/file2, ADDed after VOLUME /var, is in the image" test -f "$R/var/file2" -a -f "$R/var/www/file"

# arg-scope: file, build args, path, expected content
while IFS='|' read -r f args path want; do
	# shellcheck disable=SC2086
	if bud "$B/arg-scope" -f "$f" -t argscope $args && [ "$status" -eq 0 ]; then
		rm -rf "$T/img/argscope"; rootfs argscope
		check "arg-scope: $f ${args:-(no args)}: $path has '$want'" grep -qF -- "$want" "$R$path"
	else
		fail "arg-scope: $f $args builds"; show_log
	fi
done <<'EOF'
Containerfile.from-arg||/base.txt|alpine
Containerfile.from-arg|--build-arg BASE=busybox|/base.txt|busybox
Containerfile.stage-overrides-header||/foo.txt|stage
Containerfile.copy-from-arg||/from.txt|a
Containerfile.copy-from-arg|--build-arg SRC=b|/from.txt|b
Containerfile.stage-overrides-header-copy-from||/from.txt|b
Containerfile.multiple-args-stage-overrides-one||/out.txt|9 1
Containerfile.multiple-args-stage-only||/out.txt|1 2
Containerfile.multiple-args-one-step||/out.txt|0 1
Containerfile.multiple-args-one-step|--build-arg bar=88|/out.txt|0 88
Containerfile.multiple-args-one-step|--build-arg foo=99 --build-arg bar=88|/out.txt|99 88
Containerfile.arg-mixed-defaults||/out.txt|set
Containerfile.arg-mixed-defaults|--build-arg a=given|/out.txt|given set
EOF

# base-with-arg
refuses "base-with-arg: Containerfile as written is refused (stage names with '/', as BuildKit)" \
	"invalid name for build stage: 'platform-arm/v7'" "$B/base-with-arg"
differs "base-with-arg: ... buildah builds it" "buildah accepts '/' in a stage name; BuildKit (and cairn) do not (BUILDFILE.md)"
copy_ctx base-with-arg
sed -i '/^FROM build AS platform-arm\/v[67]$/,+1d' "$C/Containerfile"
case $(uname -m) in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; i?86) arch=386 ;; *) arch=$(uname -m) ;; esac
builds "base-with-arg: Containerfile without the arm/v6, arm/v7 stages (FROM --platform=\$TARGETPLATFORM)" "$C"
logged "base-with-arg: the stage named by \$TARGETARCH is the base" "This is built for $arch"
differs "base-with-arg: --platform <arch>" "cairn build has no --platform flag (host platform only)"
builds "base-with-arg: Containerfile2 with CUSTOM_TARGET=first" "$B/base-with-arg" -f Containerfile2 --build-arg CUSTOM_TARGET=first
logged "base-with-arg: the stage named by the ARG is the base" "This is built for first"
builds "base-with-arg: Containerfile2 with CUSTOM_TARGET=second" "$B/base-with-arg" -f Containerfile2 --build-arg CUSTOM_TARGET=second
logged "base-with-arg: ... second" "This is built for second"
refuses "base-with-arg: Containerfilebad (FROM platform-) is refused" "invalid reference 'platform-'" "$B/base-with-arg" -f Containerfilebad
differs "base-with-arg: --build-arg-file" "buildah-only flag"

# build-arg
builds "build-arg: builds with foo=bar foo2=bar2" "$B/build-arg" --build-arg foo=bar --build-arg foo2=bar2
logged "build-arg: the RUN sees foo, an unused foo2 is warned about" "bar" "foo2"
builds "build-arg: Dockerfile2 with IMAGE=alpine" "$B/build-arg" -f Dockerfile2 --build-arg IMAGE=alpine
logged "build-arg: FROM uses the build arg" "FROM"
check "build-arg: IMAGE counts as consumed (no warning)" bash -c "! grep -qi 'IMAGE.*not\|not.*IMAGE' '$T/log'"
foo=from-env bud "$B/build-arg" --build-arg foo
check "build-arg: '--build-arg foo' takes the value from the environment" grep -qx from-env "$T/log"
builds "build-arg: Dockerfile3 with args" "$B/build-arg" -f Dockerfile3 --build-arg USERNAME=a --build-arg UID=1 --build-arg CODE=c
builds "build-arg: Dockerfile3 with the same args in another order" "$B/build-arg" -f Dockerfile3 --build-arg CODE=c --build-arg UID=1 --build-arg USERNAME=a
check "build-arg: the same values in any order reuse the cache" bash -c "! grep -q -- '--> layer' '$T/log' && ! grep -qx this-should-not-be-cached-when-args-change '$T/log'"
builds "build-arg: Dockerfile3 with a changed value" "$B/build-arg" -f Dockerfile3 --build-arg USERNAME=b --build-arg UID=1 --build-arg CODE=c
check "build-arg: a changed value reruns the steps after the ARGs only" \
	bash -c "grep -qx this-should-not-be-cached-when-args-change '$T/log' && ! grep -qx this-should-be-cached-but-it-s-not '$T/log'"

differs "build-with-from" "buildah-only --from flag"
# buildkit-mount: the SELinux option 'z' is podman's (BuildKit refuses it
# too): the Dockerfiles are built without it.
copy_ctx buildkit-mount
find "$C" -maxdepth 1 -type f -name '*file*' ! -name input_file -exec sed -i 's/,z\([ ,]\)/\1/g' {} +
for f in Dockerfile Dockerfile2 Dockerfile4 Dockerfile6 Containerfile5 Dockerfilemultiplemounts; do
	builds "buildkit-mount: $f (a bind mount of the context)" "$C" -f $f
	logged "buildkit-mount: $f reads input_file through the mount" hello
done
builds "buildkit-mount: Dockerfile3 (rw bind)" "$C" -f Dockerfile3
logged "buildkit-mount: Dockerfile3 writes through the rw mount" world
check "buildkit-mount: ... and the context is not modified" grep -qx hello "$C/input_file"
builds "buildkit-mount: Dockerfiletmpfs (target need not exist)" "$B/buildkit-mount" -f Dockerfiletmpfs
differs "buildkit-mount: Dockerfiletmpfscopyup" "needs tmpfs tmpcopyup (buildah-only)"
builds "buildkit-mount: Dockerfilecachewritewithoutz" "$B/buildkit-mount" -f Dockerfilecachewritewithoutz
builds "buildkit-mount: Dockerfilecachereadwithoutz in a later build" "$B/buildkit-mount" -f Dockerfilecachereadwithoutz
logged "buildkit-mount: the cache mount kept what the first build wrote" hello
differs "buildkit-mount: Dockerfilecachewrite / cacheread" "the SELinux option 'z' is podman's (BuildKit refuses it too); checked above without it"
builds "buildkit-mount: Dockerfilecachewritesharing (without 'z')" "$C" -f Dockerfilecachewritesharing
logged "buildkit-mount: a sharing=locked cache is unlocked for the next step" hello world
# buildkit-mount-from
d=$B/buildkit-mount-from
builds "buildkit-mount-from: Dockerfilebuildkitbase as buildkitbase" "$d" -f Dockerfilebuildkitbase -t buildkitbase
builds "buildkit-mount-from: Dockerfilebuildkitbaserelative as buildkitbaserelative" "$d" \
	-f Dockerfilebuildkitbaserelative -t buildkitbaserelative
for f in Dockerfilebindfrom Dockerfilebindfromwithoutsource Dockerfilebindfromrelative Dockerfilemultistagefrom \
	Dockermultistagefrom Dockerfilecachefrom; do
	builds "buildkit-mount-from: $f" "$d" -f $f
	logged "buildkit-mount-from: $f reads hello from the from= image or stage" hello
done
builds "buildkit-mount-from: Dockerfilebindfromwriteable" "$d" -f Dockerfilebindfromwriteable
logged "buildkit-mount-from: a rw bind from= an image is writable" world
builds "buildkit-mount-from: Dockerfilecachemultiplefrom" "$d" -f Dockerfilecachemultiplefrom
logged "buildkit-mount-from: two cache mounts from two stages" hello2 hello
# The final stage needs only 'builder', so 'second' (hello) runs only as a
# target: BuildKit skips a stage the target does not need.
builds "buildkit-mount-from: Dockerfilemultistagefromcache" "$d" -f Dockerfilemultistagefromcache
logged "buildkit-mount-from: a cache mount from= a stage, with source=" hello2
builds "buildkit-mount-from: Dockerfilemultistagefromcache --target second" "$d" -f Dockerfilemultistagefromcache --target second
logged "buildkit-mount-from: ... the other stage's source=" hello
refuses "buildkit-mount-from: Dockerfilebindfromwithemptyfrom (from=) is refused" "from= needs a stage or an image" \
	"$d" -f Dockerfilebindfromwithemptyfrom
differs "buildkit-mount-from: Dockerfilecachefromimage (writes to a from= cache are discarded)" \
	"buildah discards them; BuildKit (and cairn) keep them in the cache, keyed by id, source and the from= state (BUILDFILE.md)"

# container-ignoresymlink: an ignore file that is a symlink out of the context
copy_ctx container-ignoresymlink
printf 'hello\nworld\n' >"$T/outside-ignore"
ln -s "$T/outside-ignore" "$C/.dockerignore"
refuses "container-ignoresymlink: an ignore file that is a symlink out of the context is not read" \
	"points outside the build context" "$C"
differs "container-ignoresymlink: ... and the build goes on without it" \
	"cairn refuses the build (buildah, like BuildKit, ignores such a file)"

differs "containeranddockerfile" "cairn looks for Buildfile, Dockerfile, then Containerfile (buildah: Containerfile first)"
builds "containerfile: Containerfile is a default name" "$B/containerfile"
logged "containerfile: FROM alpine" "FROM alpine"
differs "containerfile: Containerfile.in" "buildah-only (C preprocessor)"

# containerignore: .containerignore is podman's; cairn reads .dockerignore
differs "containerignore" ".containerignore is not read (cairn: <Buildfile>.dockerignore, .buildignore, .dockerignore)"

refuses "context-escape-dir: COPY ../upperfile.txt is refused" "'../upperfile.txt': points outside the build context" "$B/context-escape-dir/testdir"

builds "copy-envvar: builds" "$B/copy-envvar" -t copy-envvar
rootfs copy-envvar
check "copy-envvar: ENV expanded in the source: /file-0.0.1.txt" test -f "$R/file-0.0.1.txt"
# copy-exclude
builds "copy-exclude: Containerfile" "$B/copy-exclude"
logged "copy-exclude: ls /testdir ran" Containerfile.missing
unlogged "copy-exclude: --exclude=*txt leaves out test1.txt and test2.txt" test1.txt test2.txt
builds "copy-exclude: Containerfile.missing (two patterns, one matching nothing)" "$B/copy-exclude" -f Containerfile.missing
logged "copy-exclude: ls /testdir ran" Containerfile.missing
unlogged "copy-exclude: --exclude=test*.txt leaves out test2.txt" test2.txt

# copy-from
differs "copy-from: Dockerfile" "needs quay.io/libpod/testimage (no registry)"
refuses "copy-from: 'COPY --from registry...' (no =) is refused" "missing a value on flag: --from" "$B/copy-from" -f Dockerfile.bad
builds "copy-from: Dockerfile2 (a stage as base)" "$B/copy-from" -f Dockerfile2
builds "copy-from: Dockerfile2 again" "$B/copy-from" -f Dockerfile2
check "copy-from: the rebuild is cached" bash -c "grep -q -- '--> CACHED' '$T/log' && ! grep -q -- '--> layer' '$T/log'"
refuses "copy-from: Dockerfile2.bad (COPY --from its own stage) is refused" "--from=build: no earlier stage" "$B/copy-from" -f Dockerfile2.bad
for j in 1 4; do
	builds "copy-from: Dockerfile3 (--jobs $j)" "$B/copy-from" -f Dockerfile3 --jobs $j -t copyfrom3-$j
	builds "copy-from: Dockerfile4 (--jobs $j)" "$B/copy-from" -f Dockerfile4 --jobs $j -t copyfrom4-$j
	rootfs copyfrom3-$j; rootfs copyfrom4-$j
done
check "copy-from: --from=<image> copies from the image, not the changed stage" \
	test -f "$T/img/copyfrom3-1/rootfs/test/paste" -a -f "$T/img/copyfrom4-1/rootfs/test/nl"
check "copy-from: --jobs 1 and 4 give the same files" \
	test "$(cd "$T/img/copyfrom3-1/rootfs" && find . | sort | md5sum)" = "$(cd "$T/img/copyfrom3-4/rootfs" && find . | sort | md5sum)" -a \
	"$(cd "$T/img/copyfrom4-1/rootfs" && find . | sort | md5sum)" = "$(cd "$T/img/copyfrom4-4/rootfs" && find . | sort | md5sum)"

# copy-from-stage-scoped-arg
builds "copy-from-stage-scoped-arg: builds" "$B/copy-from-stage-scoped-arg" -t scoped1
rootfs scoped1
check "copy-from-stage-scoped-arg: /variant is from stage staging" grep -qx build:staging "$R/variant"
builds "copy-from-stage-scoped-arg: multi-copy-arg-override builds" "$B/copy-from-stage-scoped-arg" \
	-f Containerfile.multi-copy-arg-override -t scoped2
rootfs scoped2
check "copy-from-stage-scoped-arg: a redeclared ARG changes later --from" \
	bash -c "grep -qx build:staging '$R/variant_first' && grep -qx build:dev '$R/variant_second'"

# copy-globs
refuses "copy-globs: COPY *.txt /testdir (two matches, no final /) is refused" "must be a directory and end with a /" \
	"$B/copy-globs" -f Containerfile
differs "copy-globs: ... buildah copies both into /testdir/" "cairn requires the final / when a pattern matches several files, as docker documents"
refuses "copy-globs: COPY *foo *.txt (one pattern matches nothing) is refused" "*foo" "$B/copy-globs" -f Containerfile.missing
differs "copy-globs: ... buildah needs one pattern to match" "cairn, as BuildKit, requires every pattern to match"
refuses "copy-globs: COPY *foo (nothing matches) is refused" "*foo" "$B/copy-globs" -f Containerfile.bad

# copy-parents
builds "copy-parents: Containerfile" "$B/copy-parents"
logged "copy-parents: the find outputs" /no_parents/a.txt /parents/x/a.txt /parents/y/a.txt \
	/parents_file_point/y/a.txt /parents_file_point/y/b.txt /parents_dir_point/y/a.txt /parents_dir_point/y/b.txt
unlogged "copy-parents: without --parents no path is kept; the ./ marker drops what is above it" \
	/no_parents/x /parents_file_point/x /parents_dir_point/x
builds "copy-parents: Containerfile-hardlinks" "$B/copy-parents" -f Containerfile-hardlinks -t parents-links
rootfs parents-links
for p in parents/x parents_dir_point; do
	check "copy-parents: /$p/z/symlink-b.txt stays a symlink to /x/z/b.txt" \
		test "$(readlink "$R/$p/z/symlink-b.txt")" = /x/z/b.txt
	check "copy-parents: /$p: the hard-link pairs keep 2 links and one inode" test \
		"$(stat -c %h:%i "$R/$p/z/a.txt")" = "$(stat -c %h:%i "$R/$p/z/hardlink-a.txt")" -a \
		"$(stat -c %h:%i "$R/$p/y/b.txt")" = "$(stat -c %h:%i "$R/$p/z/hardlink-y-b.txt")" -a \
		"$(stat -c %h "$R/$p/z/a.txt")" = 2 -a "$(stat -c %h "$R/$p/y/b.txt")" = 2
done

# copy-workdir
builds "copy-workdir: Dockerfile" "$B/copy-workdir" -t copy-workdir
rootfs copy-workdir
check "copy-workdir: /file1.txt, /subdir and /subdir/file2.txt" \
	test -f "$R/file1.txt" -a -d "$R/subdir" -a -f "$R/subdir/file2.txt"
builds "copy-workdir: Dockerfile.2" "$B/copy-workdir" -f Dockerfile.2 -t copy-workdir2
rootfs copy-workdir2
check "copy-workdir: /subdir/file1.txt" test -f "$R/subdir/file1.txt"

builds "dest-final-slash: COPY --from into a new dir/ and run it" "$B/dest-final-slash"
builds "dest-symlink: builds" "$B/dest-symlink" -t dest-symlink
logged "dest-symlink: step numbering" "STEP 5/6: RUN ln -s "
rootfs dest-symlink
check "dest-symlink: /etc/hbase stays a symlink, the file lands in its target" \
	test "$(readlink "$R/etc/hbase")" = /usr/local/hbase -a -f "$R/usr/local/hbase/Dockerfile"
builds "dest-symlink-dangling: COPY to dir/ through a dangling symlink" "$B/dest-symlink-dangling" -t dangling
logged "dest-symlink-dangling: step numbering; the RUN 'test -s /symlink/Dockerfile' passed" "STEP 3/5: RUN ln -s "
rootfs dangling
check "dest-symlink-dangling: /src stays a link to /symlink, which holds the Dockerfile" \
	test "$(readlink "$R/src")" = /symlink -a -s "$R/symlink/Dockerfile"

builds "dockerfile: Dockerfile is a default name" "$B/dockerfile"
logged "dockerfile: FROM alpine" "FROM alpine"
refuses "dockerfile: -f naming a directory is refused" "not a regular file" "$B/dockerfile" -f .

# dockerignore, dockerignore6: the same expectations
# (patterns: * test* !test2* subdir !*/sub1*)
for d in dockerignore dockerignore6; do
	builds "$d: Dockerfile.succeed" "$B/$d" -f Dockerfile.succeed -t $d
	rootfs $d
	check "$d: test1.txt and subdir/sub2.txt are not copied, test2.txt is" \
		test -f "$R/test2.txt" -a ! -e "$R/test1.txt" -a ! -e "$R/subdir/sub2.txt" -a ! -e "$R/sub1.txt" -a ! -e "$R/sub2.txt"
	check "$d: !*/sub1* brings subdir/sub1.txt back, as docker's patternmatcher does" test -f "$R/subdir/sub1.txt"
	differs "$d: ... buildah drops all of subdir, and 'COPY subdir ./' fails" \
		"cairn follows docker: an exception re-includes a file below an excluded directory"
done

# dockerignore2: symlinks (circular, dangling) are copied as symlinks
copy_ctx dockerignore2
ln -s subdir "$C/symlink"
ln -s circular-link "$C/subdir/circular-link"
ln -s no-such-file "$C/subdir/dangling-link"
builds "dockerignore2: COPY . . with symlinks in the context" "$C" -t dockerignore2
rootfs dockerignore2
check "dockerignore2: the image holds exactly the context, symlinks as symlinks" test \
	"$(cd "$R" && find . -printf '%P(%l)\n' | LC_ALL=C sort | tr '\n' ' ')" = \
	"() .dockerignore() Dockerfile() subdir() subdir/circular-link(circular-link) subdir/dangling-link(no-such-file) subdir/sub1.txt() subdir/subsubdir() subdir/subsubdir/subsub1.txt() symlink(subdir) "

# dockerignore3, dockerignore4: an excluded file named explicitly
refuses "dockerignore3: COPY of an excluded file fails, naming the ignore file" ".dockerignore" "$B/dockerignore3"
logged "dockerignore3: ... as not found" "no such file or directory"
refuses "dockerignore4: same with Dockerfile.test.dockerignore" "Dockerfile.test.dockerignore" "$B/dockerignore4" -f Dockerfile.test
for d in dockerignore3:Dockerfile dockerignore4:Dockerfile.test; do
	f=${d#*:}; d=${d%:*}
	copy_ctx $d
	grep -v 'test1.txt' "$C/$f" >"$C/$f.new" && mv "$C/$f.new" "$C/$f"
	builds "$d: the first two COPYs" "$C" -f "$f" --no-cache
	awk '/^CUT HERE$/ { f = !f; next } f' "$T/log" >"$T/listing"
	check "$d: /upload is the 'manifest' listing" diff "$C/manifest" "$T/listing"
done

builds "dupe-arg-env-name: builds" "$B/dupe-arg-env-name"
logged "dupe-arg-env-name: ENV built from ARGs of the same name" "https://example.org/bar"

# env
builds "env: Dockerfile.check-env" "$B/env" -f Dockerfile.check-env -t env-check
check "env: foo=bar comes after PATH" test "$(config env-check '.config.Env | map(split("=")[0]) | .[-2:]')" = '["PATH","foo"]'
builds "env: Dockerfile.env-same-file" "$B/env" -f Dockerfile.env-same-file -t env-from-image
logged "env: ENV seen by a RUN of the same file" ":unique.test.string:"
builds "env: Dockerfile.env-from-image" "$B/env" -f Dockerfile.env-from-image
logged "env: ENV inherited from the base image" "@unique.test.string@"
builds "env: Dockerfile.special-chars" "$B/env" -f Dockerfile.special-chars -t env-special
check "env: special characters are kept verbatim" \
	test "$(config env-special '.config.Env | index("LIB=$(PREFIX)/lib") != null')" = true
differs "env: Dockerfile.env-precedence" "buildah-only --env flag"

# from-as
builds "from-as: Dockerfile" "$B/from-as" -t from-as
check "from-as: ENV passes through FROM stage" test "$(config from-as '.config.Env | index("LOCAL=/1") != null')" = true
builds "from-as: Dockerfile.skip" "$B/from-as" -f Dockerfile.skip -t from-as-skip
logged "from-as: every stage runs" "LOCAL=/1" "LOCAL2=/2"
check "from-as: the final Env is PATH and LOCAL only" test "$(config from-as-skip .config.Env)" = \
	'["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LOCAL=/1"]'

differs "from-multiple-files: several -f, -f -" "buildah-only (docker takes one -f)"
builds "from-multiple-files: Dockerfile2.glob" "$B/from-multiple-files" -f Dockerfile2.glob -t glob
rootfs glob
check "from-multiple-files: COPY Dockerfile* / copies every match" \
	test -f "$R/Dockerfile1.alpine" -a -f "$R/Dockerfile1.scratch" -a -f "$R/Dockerfile2.glob" -a -f "$R/Dockerfile2.nofrom" -a -f "$R/Dockerfile2.withfrom"

# from-scratch
builds "from-scratch: builds" "$B/from-scratch" -t scratch1
check "from-scratch: no layer" test "$(config scratch1 '.rootfs.diff_ids | length')" = 0
builds "from-scratch: USER 1001 on scratch" "$B/from-scratch" -f Containerfile2
builds "from-scratch: ... twice" "$B/from-scratch" -f Containerfile2
refuses "from-scratch: an upper-case tag is refused" "lower-case" "$B/from-scratch" -t TEST1
differs "from-scratch: --env, --label, --annotation, --iidfile, identity label" "buildah-only flags"

builds "from-with-arg: ARGs in FROM and COPY --from" "$B/from-with-arg" \
	--build-arg base=alpine --build-arg toolchainname=busybox --build-arg destinationpath=/tmp
logged "from-with-arg: the step is echoed as written" ': COPY --from=${toolchainname} / ${destinationpath}'

builds "healthcheck: builds" "$B/healthcheck" -t healthcheck
check "healthcheck: Test, durations in ns, Retries" test "$(config healthcheck .config.Healthcheck | jq -S -c .)" = "$(jq -S -c . <<<\
	'{"Test":["CMD-SHELL","curl -f http://localhost/ || exit 1"],"Interval":300000000000,"Timeout":3000000000,"StartPeriod":600000000000,"StartInterval":30000000000,"Retries":4}')"

# heredoc
differs "heredoc: Containerfile as is" "needs ADD <<EOF (cairn: heredocs with COPY only); checked with COPY"
copy_ctx heredoc
sed -i 's/^ADD <</COPY <</' "$C/Containerfile"
builds "heredoc: Containerfile (ADD <<EOF as COPY)" "$C"
logged "heredoc: every heredoc line reaches its command" "print first line from heredoc" \
	"print second line from heredoc" "some text of first file" "file passed to program" \
	"(your index page goes here)" "(robots content)" "(humans content)" \
	"this is the output of test6 part1" "this is the output of test6 part2" \
	"this is the output of test7 part1" "this is the output of test7 part2" "this is the output of test7 part3" \
	"this is the output of test8 part1" "this is the output of test8 part2"
builds "heredoc: Containerfile.bash_file" "$B/heredoc" -f Containerfile.bash_file
logged "heredoc: #! scripts, <<-" "this is the output of test9" "this is the output of test10"
builds "heredoc: Containerfile.she_bang" "$B/heredoc" -f Containerfile.she_bang
logged "heredoc: #!/usr/bin/env rev" "this is the output of test11" "this is the output of test12"
differs "heredoc: Containerfile.verify_mount_leak" "buildah-only (/dev/pipes)"
builds "heredoc-ignore: builds" "$B/heredoc-ignore"
logged "heredoc-ignore: COPY <<EOF is not filtered by the ignore file" "This is a file" "This is a line from file"

builds "leading-args: FROM busybox:\$VERSION (default latest)" "$B/leading-args"
builds "leading-args: --build-arg VERSION=musl" "$B/leading-args" --build-arg VERSION=musl

builds "maintainer: builds (no -t)" "$B/maintainer"
bud "$B/maintainer" -t maintainer
check "maintainer: author is kilroy" test "$(config maintainer .author)" = '"kilroy"'

# multi-stage-builds, multi-stage-builds-small-as
for d in multi-stage-builds multi-stage-builds-small-as; do
	builds "$d: Dockerfile.index" "$B/$d" -f Dockerfile.index -t $d-index
	rootfs $d-index
	check "$d: --from=0 into an alpine image" test -f "$R/etc/passwd" -a -f "$R/Dockerfile.index"
	builds "$d: Dockerfile.name" "$B/$d" -f Dockerfile.name -t $d-name
	rootfs $d-name
	check "$d: --from=name into a scratch image" test "$(cd "$R" && find . | sort | tr '\n' ' ')" = ". ./Dockerfile.name "
	builds "$d: Dockerfile.mixed" "$B/$d" -f Dockerfile.mixed -t $d-mixed
	rootfs $d-mixed
	check "$d: names and indexes mixed" \
		test "$(cd "$R" && find . | sort | tr '\n' ' ')" = ". ./Dockerfile.index ./Dockerfile.mixed ./Dockerfile.name "
done
d=$B/multi-stage-builds
builds "multi-stage-builds: Dockerfile.extended" "$d" -f Dockerfile.extended -t extended
rootfs extended
check "multi-stage-builds: the last stage derives from builder, not the middle one" \
	test -e "$R/tmp/preCommit" -a ! -e "$R/tmp/postCommit"
builds "multi-stage-builds: Dockerfile.arg" "$d" -f Dockerfile.arg --build-arg SECRET=secretthings -t msarg
rootfs msarg
check "multi-stage-builds: an ARG does not reach the next stage" test "$(cat "$R/test_file")" = ""
no_secret() { ! "$CAIRN" history --no-trunc msarg | grep -q secretthings && ! image_config msarg | grep -q secretthings; }
check "multi-stage-builds: the value is in no history row or config" no_secret
builds "multi-stage-builds: Dockerfile.arg_in_stage" "$d" -f Dockerfile.arg_in_stage
builds "multi-stage-builds: Dockerfile.arg_in_copy" "$d" -f Dockerfile.arg_in_copy
builds "multi-stage-builds: Dockerfile.rebase" "$d" -f Dockerfile.rebase
builds "multi-stage-builds: Dockerfile.reused" "$d" -f Dockerfile.reused
builds "multi-stage-builds: Dockerfile.reused2" "$d" -f Dockerfile.reused2
differs "multi-stage-builds: base.name/base.digest annotations, --label" "not written by cairn / buildah-only flag"

# onbuild
builds "onbuild: Dockerfile" "$B/onbuild" -t onbuild
check "onbuild: triggers stored" test "$(config onbuild .config.OnBuild)" = '["RUN touch /onbuild1","RUN touch /onbuild2"]'
builds "onbuild: Dockerfile1 (FROM onbuild)" "$B/onbuild" -f Dockerfile1 -t onbuild1
check "onbuild: the child keeps only its own trigger" test "$(config onbuild1 .config.OnBuild)" = '["RUN touch /onbuild3"]'
rootfs onbuild1
check "onbuild: the parent's triggers ran in the child build" test -e "$R/onbuild1" -a -e "$R/onbuild2" -a ! -e "$R/onbuild3"
builds "onbuild: Dockerfile2" "$B/onbuild" -f Dockerfile2 -t onbuild2
check "onbuild: triggers stored next to RUN steps" test "$(config onbuild2 .config.OnBuild)" = '["RUN touch /onbuild1","RUN touch /onbuild2"]'

builds "preserve-volumes: builds" "$B/preserve-volumes" -t volumes
rootfs volumes
check "preserve-volumes: what later steps write under a VOLUME is kept (buildah's default)" test \
	-f "$R/vol/subvol/subsubvol/subsubvolfile" -a -f "$R/vol/volfile" -a -f "$R/vol/Dockerfile" -a \
	-f "$R/vol/Dockerfile2" -a -f "$R/vol/subvol/subvolfile" -a -f "$R/vol/anothervolfile"

# run-scenarios
for f in cmd-run entrypoint-cmd-run entrypoint-run; do
	builds "run-scenarios: $f (RUN ignores ENTRYPOINT/CMD)" "$B/run-scenarios" -f Dockerfile.$f
	logged "run-scenarios: $f prints" unique.test.string
done
for f in cmd-empty-run entrypoint-cmd-empty-run entrypoint-empty-run; do
	refuses "run-scenarios: $f (bare RUN) is refused" "RUN: requires at least one argument" "$B/run-scenarios" -f Dockerfile.$f
done
builds "run-scenarios: Dockerfile.args" "$B/run-scenarios" -f Dockerfile.args
logged "run-scenarios: ARG default" arg_value
builds "run-scenarios: Dockerfile.multi-args" "$B/run-scenarios" -f Dockerfile.multi-args \
	--build-arg USED_ARG=plugin1,plugin2,plugin3 --build-arg UNUSED_ARG=whaaaat
logged "run-scenarios: a value with commas passes unchanged, the unused one is warned about" \
	plugin1,plugin2,plugin3 UNUSED_ARG
differs "run-scenarios: Dockerfile.noop-flags" "buildah-only flags (--cache-from, --compress)"

# secrets
MYSECRET=SOMESECRETDATA bud "$B/secret-env" -t secret-env --secret id=MYSECRET
if [ "$status" -eq 0 ]; then pass "secret-env: --secret id=MYSECRET takes \$MYSECRET"; else fail "secret-env: builds (status $status)"; show_log; fi
logged "secret-env: the RUN prints the secret" SOMESECRETDATA
rootfs secret-env
no_env_secret() {
	! grep -rqF SOMESECRETDATA "$R" && ! image_config secret-env:latest | grep -qF SOMESECRETDATA &&
		! "$CAIRN" history --no-trunc secret-env | grep -qF SOMESECRETDATA
}
check "secret-env: the secret is in no file of the image, its config or history" no_env_secret
d=$B/secret-relative
builds "secret-relative: two secrets, relative dst= under WORKDIR" "$d" -t secret-rel \
	--secret "id=secret-foo,src=$d/secret1.txt" --secret "id=secret-bar,src=$d/secret2.txt"
logged "secret-relative: both secrets read" "secret:foo" "secret:bar"
rootfs secret-rel
check "secret-relative: no secret in the image" test -d "$R/test" -a -z "$(ls -A "$R/test")"

# shell
builds "shell: Dockerfile" "$B/shell" -t shell
check "shell: Shell is stored" test "$(config shell .config.Shell)" = '["/bin/sh","-c"]'
builds "shell: Dockerfile.build-shell-default" "$B/shell" -f Dockerfile.build-shell-default
logged "shell: default /bin/sh" "SHELL=/bin/sh"
differs "shell: Dockerfile.build-shell-custom" "needs /bin/bash (ubuntu)"
bud "$B/shell" -q
check "shell: -q prints only the image id" grep -qxE '(sha256:)?[0-9a-f]{64}' "$T/log"

# symlink
differs "symlink: Dockerfile, relative-symlink, multiple-symlinks, points-to-itself" \
	"VOLUME records the config only (as BuildKit); buildah creates the directories through the links"
builds "symlink: Dockerfile.absolute-symlink" "$B/symlink" -f Dockerfile.absolute-symlink -t abs-symlink
rootfs abs-symlink
check "symlink: COPY --from of a symlink copies its target's content as a file" \
	bash -c "test -f '$R/bin/myexe' && test ! -L '$R/bin/myexe' && grep -qx symlink-test '$R/bin/myexe'"
builds "symlink: Dockerfile.absolute-dir-symlink" "$B/symlink" -f Dockerfile.absolute-dir-symlink -t abs-dir-symlink
rootfs abs-dir-symlink
check "symlink: COPY --from of a symlinked dir copies its content" test -f "$R/data/myexe"
copy_ctx symlink
for z in tar tar.gz; do
	rm -f "$C/tarball_latest.$z"; ln -s tarball.$z "$C/tarball_latest.$z"
	builds "symlink: ADD of a tar.$z reached through a context symlink" "$C" -f Containerfile.add-${z/./-}-with-link -t addlink
	rm -rf "$T/img/addlink"; rootfs addlink
	check "symlink: ... is unpacked (/tmp/testdir/testfile.txt)" test -f "$R/tmp/testdir/testfile.txt"
done
builds "symlink: COPY ./ ./ twice over symlinks" "$C" -f Dockerfile.replace-symlink

builds "target: --target mytarget" "$B/target" --target mytarget -t target
logged "target: the stage it needs and the target run" "FROM ubuntu:latest" "FROM alpine:latest AS mytarget"
check "target: the later stage does not run" bash -c "! grep -q 'FROM busybox:latest AS mytarget2' '$T/log'"
rootfs target
check "target: the image is the target stage (/2, not /3)" test -e "$R/2" -a ! -e "$R/3" -a -e "$R/hello"
refuses "unrecognized: BOGUS is refused, named" "BOGUS" "$B/unrecognized"

# use-args
for f in Containerfile.destination Containerfile.dest_nobrace; do
	copy_ctx use-args
	echo abc >"$C/abc.txt"
	builds "use-args: $f" "$C" -f $f --build-arg testArg=abc.txt --build-arg destination=/tmp -t use-args
	rm -rf "$T/img/use-args"; rootfs use-args
	check "use-args: $f: /tmp/abc.txt" test -f "$R/tmp/abc.txt"
done
differs "use-args: Containerfile with testArg unset" "buildah-only edge case"

differs "volume-perms" "VOLUME records the config only (as BuildKit); buildah creates the directory"

# with-arg
differs "with-arg: Dockerfile (FOO=1 then FOO=12 reuse the cache)" \
	"cairn's cache key has every build arg in scope, even one an ENV shadows"
builds "with-arg: Dockerfile2 FOO=1" "$B/with-arg" -f Dockerfile2 --build-arg FOO=1 -t with-arg1
builds "with-arg: Dockerfile2 FOO=12" "$B/with-arg" -f Dockerfile2 --build-arg FOO=12 -t with-arg12
check "with-arg: ENV FOO=\${FOO} gives different images" \
	test -n "$(tag_digest with-arg1:latest)" -a "$(tag_digest with-arg1:latest)" != "$(tag_digest with-arg12:latest)"
builds "with-arg: Dockerfilefromarg" "$B/with-arg" -f Dockerfilefromarg --build-arg app_type=x --build-arg another_app_type=m
logged "with-arg: stage named by a build arg" world

# workdir-symlink
builds "workdir-symlink: Dockerfile" "$B/workdir-symlink" -t wds1
logged "workdir-symlink: step numbering" "STEP 3/6: RUN ln -sf "
rootfs wds1
check "workdir-symlink: /tempest stays a symlink, notareal.conf is 0664" \
	test "$(readlink "$R/tempest")" = /var/lib/tempest -a "$(stat -c %A "$R/etc/notareal.conf")" = -rw-rw-r--
builds "workdir-symlink: Dockerfile-2 (WORKDIR through a dangling link)" "$B/workdir-symlink" -f Dockerfile-2 -t wds2
rootfs wds2
check "workdir-symlink: the link stays, its target was created and holds Dockerfile-2" \
	test "$(readlink "$R/tempest")" = /var/lib/tempest -a -f "$R/var/lib/tempest/Dockerfile-2"
builds "workdir-symlink: Dockerfile-3 (WORKDIR below a dangling link)" "$B/workdir-symlink" -f Dockerfile-3 -t wds3
rootfs wds3
check "workdir-symlink: Dockerfile-3 in /tempest and /tempest/lowerdir" \
	test -f "$R/var/lib/tempest/Dockerfile-3" -a -f "$R/var/lib/tempest/lowerdir/Dockerfile-3"
differs "workdir-user" "needs adduser (alpine's; Debian's busybox-static has none)"

check "store consistent" store_is_consistent
check "no mounts left" no_mounts_left
finish
