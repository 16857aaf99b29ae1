#!/bin/bash
# Paths as BuildKit resolves them: RUN --mount values expanded with ARG/ENV
# and relative targets joined to the WORKDIR; cache mounts from= a stage;
# COPY into a destination through a dangling symlink (its target made,
# inside the root), several sources to '.', --parents with the './' marker
# last, hard links kept.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
mkdir -p "$T/c/sub"
echo hello >"$T/c/f"
echo below >"$T/c/sub/g"
cat >"$T/c/Buildfile" <<'EOF'
FROM busybox AS base
RUN mkdir -p /data && echo from-stage > /data/seed

FROM busybox
ARG SRC=f
ENV DIR=sub
WORKDIR /w
RUN --mount=type=bind,source=${SRC},target=in/f cat /w/in/f
RUN --mount=type=bind,source=$DIR,target=$DIR cat /w/sub/g
RUN --mount=type=cache,target=cache,id=rel-${DIR} echo cached > /w/cache/x && echo cache-ok
RUN --mount=type=tmpfs,target=t touch /w/t/y && echo tmpfs-ok
ARG RUNID
RUN --mount=type=cache,from=base,source=/data,target=seeded n=$(cat seeded/n 2>/dev/null || echo 0); echo "seed=$(cat seeded/seed) n=$n"; echo $((n+1)) > seeded/n
RUN ls -A /w
EOF
expect_ok "relative mount targets, expanded mount values, a cache mount from= a stage" build --build-arg RUNID=1 -t m:1 "$T/c"
check "a bind target relative to the WORKDIR, source= from an ARG" grep -qx hello "$T/out"
check "source= and target= from an ENV" grep -qx below "$T/out"
check "a relative cache and tmpfs target" bash -c "grep -qx cache-ok '$T/out' && grep -qx tmpfs-ok '$T/out'"
check "the from= cache starts as a copy of the stage's source=" grep -qx "seed=from-stage n=0" "$T/out"
unpack_with_umoci m:1 "$T/u"
check "no mount content in the image" \
	bash -c "test ! -e '$T/u/rootfs/w/in/f' -a ! -e '$T/u/rootfs/w/sub/g' -a ! -e '$T/u/rootfs/w/cache/x' -a ! -e '$T/u/rootfs/w/t/y'"
# The base stage comes from the build cache (the same state, so the same
# cache dir); RUNID reruns the step.
expect_ok "the same build again" build --build-arg RUNID=2 "$T/c"
check "a from= cache keeps what a step wrote (as BuildKit)" grep -qx "seed=from-stage n=1" "$T/out"
expect_ok "the stage alone" build --target base -t base:1 "$T/c"
unpack_with_umoci base:1 "$T/ub"
check "the stage's own files are untouched by the cache's writes" \
	test -f "$T/ub/rootfs/data/seed" -a ! -e "$T/ub/rootfs/data/n"

printf 'FROM busybox AS s\nFROM busybox\nARG S=s\nRUN --mount=type=bind,from=$S,target=/m true\n' | buildfile "$T/fromvar"
expect_fail "from= with a variable is refused (as BuildKit)" 1 "from= does not expand variables" build "$T/fromvar"
printf 'FROM busybox\nRUN --mount=type=bind,target=${NOPE:?is required} true\n' | buildfile "$T/req"
expect_fail "an expansion error in a mount value" 1 "NOPE" build "$T/req"

# COPY through dangling links, confined to the root.
mkdir -p "$T/d"
echo data >"$T/d/f"
echo more >"$T/d/g"
host=$(mktemp -d "$T/host.XXXXXX")
cat >"$T/d/Buildfile" <<EOF
FROM busybox
RUN ln -s /target /abs && ln -s ../../../../up /rel && ln -s /abs2 /chain && ln -s made /abs2 && ln -s $host /host && ln -s loop /loop
COPY f /abs/
COPY f /rel/x/
COPY f /chain/
COPY f /host/
COPY f g /multi/
WORKDIR /w
COPY f g .
EOF
expect_ok "COPY into dangling symlinks" build -t d:1 "$T/d"
unpack_with_umoci d:1 "$T/ud"
R=$T/ud/rootfs
check "an absolute dangling link: its target is created, the link stays" \
	test -f "$R/target/f" -a "$(readlink "$R/abs")" = /target
check "a relative link climbing past the root: created at the root" test -f "$R/up/x/f"
check "a chain of dangling links" test -f "$R/made/f" -a -L "$R/chain" -a -L "$R/abs2"
check "a link to a host path: created inside the root, nothing on the host" \
	test -f "$R$host/f" -a -z "$(ls -A "$host")"
check "several sources to '.' (the WORKDIR)" test -f "$R/w/f" -a -f "$R/w/g"
printf 'FROM busybox\nRUN ln -s loop /loop\nCOPY Buildfile /loop/\n' | buildfile "$T/loop"
expect_fail "a symlink loop as destination" 1 "COPY: open '/loop' in the image" build "$T/loop"

# --parents with the marker last; hard links.
mkdir -p "$T/p/x/y"
echo a >"$T/p/x/a"
echo b >"$T/p/x/y/b"
ln "$T/p/x/a" "$T/p/x/y/a-link"
printf 'FROM busybox\nCOPY --parents ./x/./ /dp/\nCOPY x /plain/\n' | buildfile "$T/p"
expect_ok "COPY --parents ./x/./ and hard links in the context" build -t p:1 "$T/p"
unpack_with_umoci p:1 "$T/up"
R=$T/up/rootfs
check "--parents with the marker last copies the directory's contents" \
	test -f "$R/dp/a" -a -f "$R/dp/y/b" -a ! -e "$R/dp/x"
check "hard links stay hard links (--parents)" test "$(stat -c %h:%i "$R/dp/a")" = "$(stat -c %h:%i "$R/dp/y/a-link")"
check "hard links stay hard links (plain COPY)" test "$(stat -c %h:%i "$R/plain/a")" = "$(stat -c %h:%i "$R/plain/y/a-link")" -a "$(stat -c %h "$R/plain/a")" = 2
rm "$T/p/x/y/a-link" && cp -p "$T/p/x/a" "$T/p/x/y/a-link"
expect_ok "the same files, no longer linked" build -t p:2 "$T/p"
check "a change of links is a change of the sources (no cache hit)" grep -q -- '--> layer' "$T/out"
rm -rf "$T/up" && unpack_with_umoci p:2 "$T/up"
check "... and the copies are separate files now" test "$(stat -c %h "$R/plain/a")" = 1
check "store consistent" store_is_consistent
check "no mounts left" no_mounts_left
check "no temp dir left" no_tmp_left
finish
