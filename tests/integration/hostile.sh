# The hostile corpus (hostile_images.py) for t0330 (pull) and t0335 (load,
# ADD), sourced after lib.sh: makes it, with the directory its attacks aim
# at ($outside) and its state before ($before), and lists the cases.
# hostile_corpus [ARCHIVE_DIR]: the layout goes to $HOSTILE_LAYOUT (default
# $T/hostile), the attacks aim at $HOSTILE_OUTSIDE (default $T/outside).
hostile_corpus() {
	outside=${HOSTILE_OUTSIDE:-$T/outside}
	mkdir -p "$outside"
	echo "keep me" >"$outside/victim"
	shadow_before=$(sha256sum /etc/shadow)
	python3 "$TESTS_DIR/integration/hostile_images.py" "${HOSTILE_LAYOUT:-$T/hostile}" "$outside" "$@" || return 1
	before=$(outside_state)
}
outside_state() { find "$outside" -printf '%p %y %s %m\n' | sort; cat "$outside/victim" 2>/dev/null; }

# tag : what the error must say ("" = may succeed if confined; "ok" = must succeed)
hostile_cases=("dotdot:dotdot" "absolute:" "symlink:" "hardlink:shadow" "whiteout:.wh.victim"
	"bomb:--max-layer-size" "huge-header:its headers exceed the limit"
	"hardlink-data:a hardlink whose header declares data" "short-body:bin/busybox" "no-end:ok")
# 2 GiB of zeros is a legitimate layer where the disk has room: the bomb
# is refused by a cap (the store's free space, or this flag).
hostile_flags() { [ "$1" = bomb ] && echo "--max-layer-size 1g"; }
