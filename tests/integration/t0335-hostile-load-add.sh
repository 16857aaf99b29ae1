#!/bin/bash
# The hostile corpus (hostile_images.py) through load and ADD, as t0330
# takes it through pull: every case fails naming the entry, or stays inside
# the store / the image; nothing outside changes, nothing is tagged, no
# blob of a refused archive stays, fsck passes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hostile.sh"

hostile_corpus "$T/arc" || { fail "make the corpus"; finish; }
for c in "${hostile_cases[@]}"; do
	tag=${c%%:*} want=${c#*:}
	# ---- load ----
	export CAIRN_ROOT=$T/load-$tag
	# shellcheck disable=SC2046
	run_cairn load -q $(hostile_flags "$tag") -i "$T/arc/$tag.tar"
	sed "s/^/# load $tag: /" "$T/err"
	case $want in
	ok) check "load of '$tag' works" test "$status" -eq 0 ;;
	"") if [ "$status" -eq 0 ] || grep -q "entry" "$T/err"; then pass "load of '$tag' is refused or stays confined"
	    else fail "load of '$tag' (status $status)"; fi ;;
	*) if [ "$status" -eq 1 ] && grep -q "entry" "$T/err" && grep -qF -- "$want" "$T/err"; then
		pass "load of '$tag' fails naming the entry"
	   else
		fail "load of '$tag' fails naming the entry (status $status)"
	   fi
	   check "load '$tag': nothing is tagged" eval "! grep -qs 'hostile/' '$CAIRN_ROOT/index.json'"
	   check "load '$tag': no blob stays" test -z "$(ls -A "$CAIRN_ROOT/blobs/sha256" 2>/dev/null)" ;;
	esac
	check "load '$tag': no temp entries left" no_tmp_left
	check "load '$tag': nothing outside the store changed" test "$(outside_state)" = "$before"

	# ---- ADD of the layer as a local archive ----
	# (the 2 GiB bomb is legitimate content for ADD; its cap is the builder's)
	[ "$tag" = bomb ] && continue
	export CAIRN_ROOT=$T/add-$tag
	mkdir -p "$T/ctx-$tag"
	cp "$T/arc/$tag.layer" "$T/ctx-$tag/layer.tar"
	printf 'FROM scratch\nADD layer.tar /\n' >"$T/ctx-$tag/Buildfile"
	run_cairn build -q -t "add-$tag:1" "$T/ctx-$tag"
	sed "s/^/# ADD $tag: /" "$T/err"
	case $want in
	ok) check "ADD of '$tag' works" test "$status" -eq 0 ;;
	"") if [ "$status" -eq 0 ] || grep -q "entry" "$T/err"; then pass "ADD of '$tag' is refused or stays confined"
	    else fail "ADD of '$tag' (status $status)"; fi ;;
	*) if [ "$status" -ne 0 ] && grep -qF -- "$want" "$T/err"; then pass "ADD of '$tag' fails saying why"
	   else fail "ADD of '$tag' fails saying why (status $status)"; fi ;;
	esac
	check "ADD '$tag': no temp entries left" no_tmp_left
	check "ADD '$tag': nothing outside the store changed" test "$(outside_state)" = "$before"
done
check "/etc/shadow is untouched" test "$(sha256sum /etc/shadow)" = "$shadow_before"
finish
