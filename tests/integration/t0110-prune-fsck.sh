#!/bin/bash
# prune (mark and sweep, tag logs protecting their values), df, fsck.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
store_bytes() { du -sb "$CAIRN_ROOT" | cut -f1; }
base_bytes=$(store_bytes)

ctx=$T/big
mkdir -p "$ctx"
printf 'FROM busybox\nRUN head -c 3000000 /dev/urandom > /blob\nCMD ["true"]\n' | buildfile "$ctx"
expect_ok "build an image with a 3 MB layer" build -t big:1 "$ctx"
big_bytes=$(store_bytes)
check "the store grew by the layer (blob and snapshot)" test $((big_bytes - base_bytes)) -gt 5000000

run_cairn df
check "df lists images" grep -qE '^Images +2 ' "$T/out"
check "df lists snapshots" grep -qE '^Snapshots ' "$T/out"

expect_ok "fsck passes on a healthy store" fsck
check "fsck says so" grep -q "store is consistent" "$T/out"

expect_ok "rmi" rmi big:1
expect_ok "prune after rmi" prune
check "plain prune keeps what the tag log still protects" test "$(store_bytes)" -gt $((big_bytes - 100000))
expect_ok "so rollback can bring the tag back" rollback big:1
expect_ok "rmi again" rmi big:1
expect_ok "prune --all" prune --all
check "prune --all reports the freed space" grep -qE 'removed [1-9][0-9]* blobs, [1-9][0-9]* snapshots' "$T/out"
check "prune --all after rmi frees the space" test "$(store_bytes)" -lt $((base_bytes + 200000))
expect_fail "the pruned tag's log is gone with it" 1 "no earlier value" rollback big:1
expect_ok "the base image still builds on" build -t small:1 "$T/big"
expect_ok "fsck still passes" fsck

# --keep N: only the last N values of a tag stay protected.
mkdir -p "$T/k"
for i in 1 2 3; do
	printf 'FROM busybox\nRUN echo %s > /v\n' "$i" | buildfile "$T/k"
	"$CAIRN" build -q -t keep:1 "$T/k" >/dev/null 2>&1
done
expect_ok "prune --keep 1" prune --keep 1
check "--keep 1 trims the log to the current value" test "$("$CAIRN" log keep:1 | tail -n +2 | wc -l)" -eq 1
expect_fail "nothing older to roll back to" 1 "no earlier value" rollback keep:1

# An image prune cannot read is reported and skipped: what its manifest
# names stays, and so does every snapshot (its config names them).
c=$(jq -r .config.digest "$CAIRN_ROOT/blobs/sha256/$(tag_digest small:1 | cut -d: -f2)")
cf=$CAIRN_ROOT/blobs/sha256/${c#sha256:}
cp -p "$cf" "$T/config.saved"
chmod u+w "$cf"
printf ' ' >>"$cf"
nsnaps=$(ls "$CAIRN_ROOT/snapshots" | wc -l)
expect_ok "prune with a tagged image's config corrupt goes on" prune --all
check "and says which image it skipped" grep -qF "skipped an image that cannot be read: image '$(tag_digest small:1)'" "$T/err"
mf=$CAIRN_ROOT/blobs/sha256/$(tag_digest small:1 | cut -d: -f2)
check "and removed none of its blobs" sh -c "test -f '$mf' && for d in \$(jq -r '.config.digest, .layers[].digest' '$mf'); do test -f '$CAIRN_ROOT/blobs/sha256/'\${d#sha256:} || exit 1; done"
check "and no snapshot" test "$(ls "$CAIRN_ROOT/snapshots" | wc -l)" -eq "$nsnaps"
cp -p "$T/config.saved" "$cf"
expect_ok "with the config restored, fsck passes" fsck

# fsck catches one flipped byte in a blob and names it.
m=$(tag_digest small:1)
layer=$(jq -r '.layers[-1].digest' "$CAIRN_ROOT/blobs/sha256/${m#sha256:}")
f=$CAIRN_ROOT/blobs/sha256/${layer#sha256:}
chmod u+w "$f"
printf '\x00' | dd of="$f" bs=1 seek=20 conv=notrunc status=none
printf '\x01' | dd of="$f" bs=1 seek=21 conv=notrunc status=none
expect_fail "fsck finds the flipped byte" 1 "problem" fsck
check "fsck names the blob" grep -q "blob $layer: content hashes to" "$T/out"
check "fsck names the tag whose image it breaks" grep -q "tag 'small:1'" "$T/out"
run_cairn fsck --repair
check "fsck --repair exits 1 (it found problems)" test "$status" -eq 1
check "--repair removed the corrupt blob" test ! -e "$f"
check "--repair removed the broken tag" expect_no_tag small:1
expect_ok "after repair fsck passes" fsck
expect_ok "and the image builds again" build -t small:1 "$T/big"

# prune waits for a running build and never takes what it uses. Builds hold
# gc.lock shared from start to end, prune takes it exclusively. No sleeps:
# the build's RUN step blocks until this script lets it go, prune starts
# only once that step runs, and must be seen waiting on gc.lock (a "->"
# waiter in /proc/locks) and still running when the build is let go.
tok=t0110-$$
printf 'FROM busybox\nRUN touch /%s.started && while [ ! -e /%s.go ]; do sleep 0.05; done && rm /%s.started /%s.go && head -c 100000 /dev/urandom > /x\nCMD ["true"]\n' \
	"$tok" "$tok" "$tok" "$tok" | buildfile "$T/slow"
"$CAIRN" build -q -t slow:1 "$T/slow" >"$T/slow.out" 2>&1 &
build_pid=$!
# The step's root as seen from here (it runs in its own mount namespace).
step_root=
for _ in $(seq 600); do
	for r in /proc/[0-9]*/root; do
		[ -e "$r/$tok.started" ] && { step_root=$r; break 2; }
	done
	kill -0 "$build_pid" 2>/dev/null || break
	sleep 0.1
done
check "the build's RUN step is running" test -n "$step_root"
gc_ino=$(stat -c %i "$CAIRN_ROOT/gc.lock")
"$CAIRN" prune --all >"$T/prune.out" 2>"$T/prune.err" &
prune_pid=$!
waiting=
for _ in $(seq 600); do
	grep -qE "^[0-9]+: -> FLOCK .* $prune_pid [0-9a-f]+:[0-9a-f]+:$gc_ino " /proc/locks && { waiting=1; break; }
	kill -0 "$prune_pid" 2>/dev/null || break
	sleep 0.1
done
check "prune waits on gc.lock while the build runs" test -n "$waiting"
check "prune has not finished before the build" kill -0 "$prune_pid"
if [ -n "$step_root" ]; then
	touch "$step_root/$tok.go"
else
	kill "$build_pid"   # never let go: do not wait a minute for nothing
fi
wait "$build_pid"
check "the concurrent build succeeded" test $? -eq 0
wait "$prune_pid"
status=$?
check "prune ran too, after it" test "$status" -eq 0
unpack_with_umoci slow:1 "$T/slowroot"
check "the build's image is whole after prune" test -f "$T/slowroot/rootfs/x"
expect_ok "fsck after all that" fsck
check "store consistent" store_is_consistent
finish
