#!/bin/bash
# Docker (BuildKit) semantics of COPY, ADD, WORKDIR, USER, ENV/ARG, layers
# and the image config: a Buildfile of our own is built, the image copied out
# with skopeo and unpacked with umoci, and its files compared with the
# listing docker's documented rules give (path, type, mode, owner, size,
# content hash, symlink target), then its config checked with jq.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
ctx=$T/ctx
mkdir -p "$ctx/dir/sub" "$ctx/glob" "$ctx/tree/bin"
printf 'hello\n' >"$ctx/file.txt"; chmod 0640 "$ctx/file.txt"
printf '#!/bin/sh\necho exec\n' >"$ctx/exec.sh"; chmod 0755 "$ctx/exec.sh"
printf 'a\n' >"$ctx/dir/a.txt"; chmod 0600 "$ctx/dir/a.txt"
printf 'bb\n' >"$ctx/dir/sub/b.txt"
chmod 0750 "$ctx/dir"; chmod 0700 "$ctx/dir/sub"
ln -s a.txt "$ctx/dir/link"
ln -s dir "$ctx/dirlink"
printf 'one\n' >"$ctx/glob/x1.log"; printf 'two\n' >"$ctx/glob/x2.log"; printf 'y\n' >"$ctx/glob/y.txt"
printf 'tool\n' >"$ctx/tree/bin/tool"; chmod 0755 "$ctx/tree/bin/tool"
ln -s bin/tool "$ctx/tree/run"
# No "./" entry: what an archive's root entry does to DEST is not the point.
(cd "$ctx/tree" && tar --owner=1000 --group=1000 --numeric-owner -cf ../app.tar bin run &&
	tar --owner=7 --group=8 --numeric-owner -czf ../app.tar.gz bin)
rm -rf "$ctx/tree"

buildfile "$ctx" <<'EOF'
FROM busybox
ARG VERSION=1.2
ENV APP=/app BASE=base-$VERSION
# a file into a directory (final /), and to a new name
COPY file.txt /c1/
COPY file.txt /c2
# a directory's contents (not the directory), with or without a final /
COPY dir /c3
COPY dir/ /c4/
COPY glob/*.log /c5/
# a symlink named as a source is followed
COPY dirlink /c6/
COPY --chown=1000:1000 --chmod=0600 file.txt exec.sh /c7/
COPY --chown=daemon dir /c8/deep/
# into an existing directory: adds, replaces, keeps its metadata
COPY file.txt exec.sh /c1/
# local tars are unpacked with their owners; other ADD sources are copied
ADD app.tar /c9/
ADD app.tar.gz file.txt /c10/
COPY file.txt $APP/${BASE}.txt
COPY ["file.txt", "/c11/with space.txt"]
WORKDIR /w/x
WORKDIR y
COPY file.txt .
COPY file.txt rel/
USER daemon
WORKDIR /home/d
RUN id -u > uid && touch made-by-daemon
USER root
# whiteouts: a file removed, a directory replaced (opaque), a dir emptied
RUN mkdir -p /wh/d /wh/e && echo x >/wh/d/f && echo y >/wh/keep && echo z >/wh/gone && echo e >/wh/e/f
RUN rm /wh/gone && rm -rf /wh/d && mkdir /wh/d && echo new >/wh/d/g && rm /wh/e/f
RUN mkdir /hl && echo hl >/hl/a && ln /hl/a /hl/b && ln -s ../hl/a /hl/sym && mkfifo /hl/fifo
ENV PATH=/usr/local/bin:$PATH GREETING="hi there"
LABEL org.example.version=$VERSION "org.example.name"="sem test"
EXPOSE 8080 53/udp
VOLUME /data /logs
VOLUME ["/cache"]
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/bin/echo"]
CMD ["hello"]
WORKDIR $APP
USER 1000:1000
EOF
expect_ok "build the semantics image" build -t sem:1 "$ctx"
unpack_with_umoci sem:1 "$T/u" || fail "unpack sem:1"

# One line per entry: path type mode uid:gid [size sha256[:12] | -> target].
listing() {   # ROOT PATH...
	python3 - "$@" <<'PY'
import hashlib, os, stat, sys
root, paths = sys.argv[1], []
for top in sys.argv[2:]:
    base = os.path.join(root, top.lstrip('/'))
    paths.append(base)
    for d, dirs, files in os.walk(base):
        paths += [os.path.join(d, n) for n in dirs + files]
for p in sorted(paths):
    st = os.lstat(p)
    t = {stat.S_IFDIR: 'd', stat.S_IFREG: 'f', stat.S_IFLNK: 'l', stat.S_IFIFO: 'p'}.get(stat.S_IFMT(st.st_mode), '?')
    line = '/%s %s %04o %d:%d' % (os.path.relpath(p, root), t, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    if t == 'f':
        line += ' %d %s' % (st.st_size, hashlib.sha256(open(p, 'rb').read()).hexdigest()[:12])
    elif t == 'l':
        line += ' -> ' + os.readlink(p)
    print(line)
PY
}
h() { printf '%s' "$1" | sha256sum | cut -c1-12; }
hello="6 $(h $'hello\n')" exec="20 $(h $'#!/bin/sh\necho exec\n')" a="2 $(h $'a\n')" b="3 $(h $'bb\n')"
tool="5 $(h $'tool\n')"

listing "$T/u/rootfs" /c1 /c2 /c3 /c4 /c5 /c6 /c7 /c8 /c9 /c10 /c11 /app /w /home/d /wh /hl >"$T/got"
cat >"$T/want" <<EOF
/app d 0755 0:0
/app/base-1.2.txt f 0640 0:0 $hello
/c1 d 0755 0:0
/c1/exec.sh f 0755 0:0 $exec
/c1/file.txt f 0640 0:0 $hello
/c10 d 0755 0:0
/c10/bin d 0755 7:8
/c10/bin/tool f 0755 7:8 $tool
/c10/file.txt f 0640 0:0 $hello
/c11 d 0755 0:0
/c11/with space.txt f 0640 0:0 $hello
/c2 f 0640 0:0 $hello
/c3 d 0755 0:0
/c3/a.txt f 0600 0:0 $a
/c3/link l 0777 0:0 -> a.txt
/c3/sub d 0700 0:0
/c3/sub/b.txt f 0644 0:0 $b
/c4 d 0755 0:0
/c4/a.txt f 0600 0:0 $a
/c4/link l 0777 0:0 -> a.txt
/c4/sub d 0700 0:0
/c4/sub/b.txt f 0644 0:0 $b
/c5 d 0755 0:0
/c5/x1.log f 0644 0:0 4 $(h $'one\n')
/c5/x2.log f 0644 0:0 4 $(h $'two\n')
/c6 d 0755 0:0
/c6/a.txt f 0600 0:0 $a
/c6/link l 0777 0:0 -> a.txt
/c6/sub d 0700 0:0
/c6/sub/b.txt f 0644 0:0 $b
/c7 d 0755 1000:1000
/c7/exec.sh f 0600 1000:1000 $exec
/c7/file.txt f 0600 1000:1000 $hello
/c8 d 0755 1:1
/c8/deep d 0755 1:1
/c8/deep/a.txt f 0600 1:1 $a
/c8/deep/link l 0777 1:1 -> a.txt
/c8/deep/sub d 0700 1:1
/c8/deep/sub/b.txt f 0644 1:1 $b
/c9 d 0755 0:0
/c9/bin d 0755 1000:1000
/c9/bin/tool f 0755 1000:1000 $tool
/c9/run l 0777 1000:1000 -> bin/tool
/hl d 0755 0:0
/hl/a f 0644 0:0 3 $(h $'hl\n')
/hl/b f 0644 0:0 3 $(h $'hl\n')
/hl/fifo p 0644 0:0
/hl/sym l 0777 0:0 -> ../hl/a
/home/d d 0755 1:1
/home/d/made-by-daemon f 0644 1:1 0 $(h '')
/home/d/uid f 0644 1:1 2 $(h $'1\n')
/w d 0755 0:0
/w/x d 0755 0:0
/w/x/y d 0755 0:0
/w/x/y/file.txt f 0640 0:0 $hello
/w/x/y/rel d 0755 0:0
/w/x/y/rel/file.txt f 0640 0:0 $hello
/wh d 0755 0:0
/wh/d d 0755 0:0
/wh/d/g f 0644 0:0 4 $(h $'new\n')
/wh/e d 0755 0:0
/wh/keep f 0644 0:0 2 $(h $'y\n')
EOF
if diff -u "$T/want" "$T/got" >"$T/diff"; then
	pass "the image's files are what docker's rules give (paths, types, modes, owners, sizes, hashes, links)"
else
	fail "the image's files differ from docker's rules"
	sed 's/^/#   /' "$T/diff"
fi
check "a hardlink made in a RUN step stays a hardlink" \
	test "$(stat -c %i:%h "$T/u/rootfs/hl/a")" = "$(stat -c %i "$T/u/rootfs/hl/b"):2"
check "whiteouts: removed files are gone from the unpacked image" \
	test ! -e "$T/u/rootfs/wh/gone" -a ! -e "$T/u/rootfs/wh/d/f" -a ! -e "$T/u/rootfs/wh/e/f"

image_config sem:1 >"$T/cfg"
cfg() { jq -c "$1" "$T/cfg"; }
check "Env: ENV values expanded, build args not stored" test "$(cfg .config.Env)" = \
	'["PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","APP=/app","BASE=base-1.2","GREETING=hi there"]'
check "Entrypoint and Cmd (exec form)" test "$(cfg '[.config.Entrypoint, .config.Cmd]')" = '[["/bin/echo"],["hello"]]'
check "WorkingDir and User are the last ones set" test "$(cfg '[.config.WorkingDir, .config.User]')" = '["/app","1000:1000"]'
check "ExposedPorts (tcp by default)" test "$(cfg '.config.ExposedPorts | keys')" = '["53/udp","8080/tcp"]'
check "Labels, with ARG expansion and quoted keys" test "$(cfg .config.Labels)" = \
	'{"org.example.name":"sem test","org.example.version":"1.2"}'
check "Volumes, both forms" test "$(cfg '.config.Volumes | keys')" = '["/cache","/data","/logs"]'
check "StopSignal" test "$(cfg .config.StopSignal)" = '"SIGQUIT"'

# Shell forms, ENTRYPOINT clearing an inherited CMD, ARG/ENV expansion rules.
buildfile "$T/cfg2" <<'EOF'
FROM sem:1
ARG A=1
ARG B
ENV X=${A:-unset}-${B:-dflt}-${NOPE:+alt} Y="$A" Z='$A'
ENV A=from-env W=$A
ENTRYPOINT exec /bin/sh -c 'echo "$0"'
EOF
expect_ok "a build FROM it with shell forms and expansions" build -t sem:2 --build-arg B=given "$T/cfg2"
image_config sem:2 >"$T/cfg"
check "ENV sees ARG values, \${:-} and \${:+} work, single quotes keep \$" \
	test "$(cfg '.config.Env[-5:]')" = '["X=1-given-","Y=1","Z=$A","A=from-env","W=1"]'
check "ENTRYPOINT shell form is SHELL + text, and clears the inherited CMD" \
	test "$(cfg '[.config.Entrypoint, .config.Cmd]')" = "[[\"/bin/sh\",\"-c\",\"exec /bin/sh -c 'echo \\\"\$0\\\"'\"],null]"
check "build args are not stored as environment" test "$(cfg '[.config.Env[] | select(startswith("B=") or . == "A=1")]')" = '[]'

# WORKDIR through symlinks whose targets are missing: docker creates the
# targets, inside the image; a loop is an error.
esc=$(mktemp -u /tmp/cairn-workdir-escape.XXXXXX)
buildfile "$T/wd" <<EOF
FROM busybox
RUN mkdir /top && ln -s ../made/rel /top/rel && ln -s /made/abs /abs && ln -s /../../..$esc /esc
WORKDIR /top/rel/sub
WORKDIR /abs
WORKDIR /esc
EOF
expect_ok "WORKDIR through dangling symlinks" build -t wd:1 "$T/wd"
unpack_with_umoci wd:1 "$T/wdu"
check "their targets are created, the links kept" \
	test -d "$T/wdu/rootfs/made/rel/sub" -a -d "$T/wdu/rootfs/made/abs" -a -L "$T/wdu/rootfs/abs" -a -L "$T/wdu/rootfs/top/rel"
check "a link climbing out with .. stays in the image" test ! -e "$esc" -a -d "$T/wdu/rootfs$esc"
printf 'FROM busybox\nRUN ln -s /loop /loop\nWORKDIR /loop/x\n' | buildfile "$T/wdloop"
expect_fail "a symlink loop in WORKDIR is an error" 1 "Buildfile:3: WORKDIR" build "$T/wdloop"

# Hardlinks in the build context: docker keeps them within one COPY.
mkdir -p "$T/hl/h"
echo same >"$T/hl/h/one"
ln "$T/hl/h/one" "$T/hl/h/two"
printf 'FROM busybox\nCOPY h /h/\n' | buildfile "$T/hl"
expect_ok "COPY of hardlinked context files" build -t hl:1 "$T/hl"
unpack_with_umoci hl:1 "$T/hlu"
check "their content is copied" test "$(cat "$T/hlu/rootfs/h/one" "$T/hlu/rootfs/h/two")" = "same
same"
skip "hardlinks within one COPY stay hardlinks" "cairn copies them as separate files (BUILDFILE.md)"

check "store consistent" store_is_consistent
check "no mounts left" no_mounts_left
finish
