# Sourced by the bench scripts: one timed command, and the statistics of
# the times.

# timed NAME CMD...: runs CMD with /usr/bin/time, output to $work/NAME.log;
# sets wall (seconds), cpu (user + system seconds of the whole process tree,
# RUN steps included) and rss (KiB, the largest process of the tree).
# Returns 1 (after showing the log's tail) when CMD fails.
timed() {
	local name=$1 t0 t1; shift
	sync
	t0=$(date +%s%N)
	if ! /usr/bin/time -f '%M %U %S' -o "$work/$name.time" "$@" >"$work/$name.log" 2>&1; then
		echo "--- $name failed: $*" >&2
		tail -30 "$work/$name.log" >&2
		return 1
	fi
	t1=$(date +%s%N)
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	read -r rss cpu < <(tail -1 "$work/$name.time" | awk '{ printf "%d %.2f\n", $1, $2 + $3 }')
}

# median / minv / maxv: of the numbers on stdin (spaces or newlines).
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END {
	if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minv() { tr ' ' '\n' | grep . | sort -g | head -1; }
maxv() { tr ' ' '\n' | grep . | sort -g | tail -1; }
