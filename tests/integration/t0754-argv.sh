#!/bin/bash
# cairn leaves its argv alone: ps (/proc/PID/cmdline) shows what the user
# typed while a build or a run is going on, whatever options were parsed.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
ctx=$T/ctx
buildfile "$ctx" <<'EOF2'
FROM busybox
ARG A
RUN --mount=type=secret,id=s sleep 3
EOF2
echo secret >"$T/s"

# cmdline_while DESC ARGS...: starts cairn ARGS in the background, reads its
# cmdline while it runs, and compares it with ARGS.
cmdline_while() {
	local desc=$1 pid seen want; shift
	"$CAIRN" "$@" >"$T/bg.out" 2>&1 &
	pid=$!
	sleep 1.5
	seen=$(tr '\0' '\n' <"/proc/$pid/cmdline" | tail -n +2)
	wait "$pid"
	want=$(printf '%s\n' "$@")
	if [ "$seen" = "$want" ]; then
		pass "$desc"
	else
		fail "$desc"; diff <(echo "$want") <(echo "$seen") | sed 's/^/#   /'
	fi
}

cmdline_while "build: argv as typed (build-arg, secret, label, annotation, ulimit, add-host, output)" \
	build --build-arg A=1 --secret id=s,src="$T/s" --label k=v --annotation a=b \
	--ulimit nofile=1024:2048 --add-host h:10.0.0.1 --no-cache-filter x,y -o type=local,dest="$T/o" -t a:1 "$ctx"
cmdline_while "run: argv as typed (env, mount, tmpfs, volume, cap-drop, security-opt)" \
	run --rm -e A=B --mount type=tmpfs,destination=/x --tmpfs /y:size=1m -v "$T:/t:ro" --cap-drop NET_RAW \
	--security-opt no-new-privileges --ulimit nofile=512 --add-host h:10.0.0.1 busybox sleep 3
finish
