# Sourced by the bench scripts (run.sh, commit.sh, registry.sh): the one
# results file of a `make bench` run and the table printed from it.
#
# BENCH_RESULTS names the raw file (tab-separated, one row per case, mode
# and tool). run.sh sets it and exports it, so the scripts it calls append
# to the same file; a script run on its own (make bench-commit) makes its
# own with results_init and prints the table of its rows. Needs timed.sh
# (median, minv, maxv) sourced first.

# results_init DIR: BENCH_RESULTS = DIR/results.raw.tsv unless already set
# (by a calling run.sh). Returns 0 when this script owns the file (and so
# prints the table), 1 when it appends to a caller's.
results_init() {
	if [ -n "${BENCH_RESULTS:-}" ]; then
		return 1
	fi
	mkdir -p "$1"
	export BENCH_RESULTS=$1/results.raw.tsv
	printf 'case\tmode\ttool\tvs\truns\tmedian_s\tmin_s\tmax_s\tcpu_s\tpeak_MiB\tnote\n' >"$BENCH_RESULTS"
	return 0
}

# result CASE MODE TOOL VS "WALL..." "RSS_KIB..." "CPU..." [NOTE]
# One row: medians, min and max of the wall times; median peak RSS (MiB)
# and CPU seconds. VS names the tool (same case and mode) that TOOL's
# median is divided by, "-" for none. WALL empty: the tool failed (NOTE says
# why).
result() {
	local c=$1 m=$2 t=$3 vs=$4 w=$5 r=$6 cpu=$7 note=${8:-} n med mn mx rmib cmed
	n=$(wc -w <<<"$w")
	if [ "$n" -eq 0 ]; then
		med=- mn=- mx=- rmib=- cmed=-
	else
		med=$(median <<<"$w" | awk '{ printf "%.3f", $1 }')
		mn=$(minv <<<"$w" | awk '{ printf "%.3f", $1 }')
		mx=$(maxv <<<"$w" | awk '{ printf "%.3f", $1 }')
		if [ -n "${r// /}" ]; then
			rmib=$(awk -v k="$(median <<<"$r")" 'BEGIN { printf "%.1f", k / 1024 }')
		else
			rmib=-
		fi
		if [ -n "${cpu// /}" ]; then cmed=$(median <<<"$cpu" | awk '{ printf "%.2f", $1 }'); else cmed=-; fi
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$m" "$t" "$vs" "$n" "$med" "$mn" "$mx" \
		"$cmed" "$rmib" "${note//$'\t'/ }" >>"$BENCH_RESULTS"
}

# The goals of issue 16, per case, mode and tool (the row that carries it):
# "ratio<=X" (median / the VS tool's median) and "rss<=MiB". A commit goal
# of "at least 0.8 of the reference's throughput" is a time ratio <= 1.25.
goals_awk='
function goals(c, m, t,    g) {
	if (m == "cached" && t == "cairn") g = "ratio<=0.05"; else g = ""
	if (c == "manyfiles" && m == "cold" && t == "cairn") g = "ratio<=0.50"
	if (c == "commit" && (t == "cairn-zstd3" || t == "cairn-gzip")) g = "ratio<=1.25"
	if (c == "registry" && m == "pull" && t == "cairn") g = "ratio<=0.80"
	if (c == "context" && t == "cairn") g = g (g == "" ? "" : " ") "rss<=64"
	if (c == "bigcommit" && t ~ /^cairn/) g = "rss<=64"
	return g
}'

# results_table [RAW] [OUT-TSV]: the table, on stdout; with OUT-TSV also
# written there tab-separated (ratio, goal and met added).
results_table() {
	local raw=${1:-$BENCH_RESULTS} out=${2:-/dev/null}
	awk -F'\t' -v out="$out" "$goals_awk"'
	NR == 1 { next }
	{
		n++; row[n] = $0; key = $1 SUBSEP $2 SUBSEP $3
		med[key] = $6; rss[key] = $10
	}
	END {
		fmt = "%-10s %-7s %-13s %4s %9s %8s %8s %7s %8s  %-13s %6s  %-19s %-9s %s\n"
		printf fmt, "case", "mode", "tool", "runs", "median_s", "min_s", "max_s", "cpu_s", "peak_MiB", \
			"vs", "ratio", "goal", "met", "note"
		print "case\tmode\ttool\truns\tmedian_s\tmin_s\tmax_s\tcpu_s\tpeak_MiB\tvs\tratio\tgoal\tmet\tnote" >out
		for (i = 1; i <= n; i++) {
			split(row[i], f, "\t")
			ratio = "-"
			if (f[4] != "-" && f[6] != "-") {
				b = med[f[1] SUBSEP f[2] SUBSEP f[4]]
				if (b != "" && b != "-" && b > 0)
					ratio = sprintf("%.2f", f[6] / b)
			}
			g = goals(f[1], f[2], f[3]); met = "-"
			if (g != "") {
				met = "yes"; k = split(g, gs, " ")
				for (j = 1; j <= k; j++) {
					split(gs[j], p, "<=")
					v = (p[1] == "ratio") ? ratio : f[10]
					if (v == "-" || f[6] == "-") { if (met == "yes") met = "n/a" }
					else if (v + 0 > p[2] + 0) met = (met == "yes" || met == "n/a") ? "NO:" p[1] : met "," p[1]
				}
			} else g = "-"
			printf fmt, f[1], f[2], f[3], f[5], f[6], f[7], f[8], f[9], f[10], f[4], ratio, g, met, f[11]
			print f[1] "\t" f[2] "\t" f[3] "\t" f[5] "\t" f[6] "\t" f[7] "\t" f[8] "\t" f[9] "\t" f[10] "\t" \
				f[4] "\t" ratio "\t" g "\t" met "\t" f[11] >out
		}
	}' "$raw"
}
