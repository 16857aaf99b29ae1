# Throw-away users for the rootless tests (issue 10), sourced after lib.sh:
# each user has a home under $T, optionally a /etc/subuid and /etc/subgid
# range, and runs cairn with no capabilities and a clean environment.
#
#   rootless_need TOOL...        skip the whole script when a tool is missing
#   rootless_user NAME [START]   make user NAME (home $T/home-NAME), with a
#                                range START:65536 when START is given
#   rootless_probe NAME          skip when unprivileged user namespaces fail
#   as NAME CMD...               CMD as NAME (EXTRA_ENV adds to its env)
#   rl / rl_ok / rl_fail         run_cairn / expect_ok / expect_fail as a user
#   rootless_contexts            the Buildfiles t0740 and t0742 share, $T/ctx
# The cleanup (trap, replacing lib.sh's) removes the users, their ranges and
# their runtime dirs, then calls rootless_extra_cleanup if a script has one.

rootless_users=()

rootless_need() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null && continue
		skip "rootless" "$tool is missing"
		finish
	done
}

rootless_cleanup() {
	local u uid
	for u in "${rootless_users[@]}"; do
		uid=$(id -u "$u" 2>/dev/null) || continue
		userdel "$u" 2>/dev/null
		sed -i "/^$u:/d" /etc/subuid /etc/subgid
		rm -rf "/tmp/cairn-run-$uid"
	done
	if declare -F rootless_extra_cleanup >/dev/null; then rootless_extra_cleanup; fi
	cleanup_test_dir
}
trap rootless_cleanup EXIT

# rootless_user NAME [START]: the home is $T/home-NAME; $T must be
# traversable for it.
rootless_user() {
	local u=$1 start=${2:-}
	chmod 0711 "$T"
	useradd -m -d "$T/home-$u" -s /bin/sh "$u" || { fail "useradd $u"; finish; }
	rootless_users+=("$u")
	# useradd may have given the user a range of its own: only ours counts.
	sed -i "/^$u:/d" /etc/subuid /etc/subgid
	if [ -n "$start" ]; then
		echo "$u:$start:65536" >>/etc/subuid
		echo "$u:$start:65536" >>/etc/subgid
	fi
}

rootless_probe() {
	local probe
	if ! probe=$(setpriv --reuid="$1" --regid="$1" --init-groups --inh-caps=-all unshare -r true 2>&1); then
		skip "rootless" "no unprivileged user namespaces here: $probe"
		finish
	fi
}

# The binary the users run (the tree's build dir may not be theirs to read).
install -m 0755 "$CAIRN" "$T/cairn"

# as USER CMD...: no capabilities, a clean environment (EXTRA_ENV adds to it),
# in the user's home; with AS_CGROUP set (a cgroup v2 directory), root first
# moves the process there, as systemd puts a unit's processes in its cgroup.
as() {
	local u=$1 h
	shift
	h=$(getent passwd "$u" | cut -d: -f6)
	# shellcheck disable=SC2086
	(cd "$h" && { [ -z "${AS_CGROUP:-}" ] || echo "$BASHPID" >"$AS_CGROUP/cgroup.procs"; } &&
		exec setpriv --reuid="$u" --regid="$u" --init-groups --inh-caps=-all \
		env -i HOME="$h" USER="$u" LOGNAME="$u" PATH=/usr/sbin:/usr/bin:/sbin:/bin ${EXTRA_ENV:-} "$@")
}
# lib.sh's run_cairn (so expect_ok and expect_fail) as AS_USER when set.
run_cairn() {
	if [ -n "${AS_USER:-}" ]; then
		as "$AS_USER" "$T/cairn" "$@"
	else
		"$CAIRN" "$@"
	fi >"$T/out" 2>"$T/err"
	status=$?
}
rl() { local u=$1; shift; AS_USER=$u run_cairn "$@"; }
rl_ok() { local desc=$1 u=$2; shift 2; AS_USER=$u expect_ok "$desc" "$@"; }
rl_fail() { local desc=$1 want=$2 substr=$3 u=$4; shift 4; AS_USER=$u expect_fail "$desc" "$want" "$substr" "$@"; }

# The manifest digest of tag $2 in the store $1 (a user's store).
store_tag_digest() {
	jq -r --arg r "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' "$1/index.json"
}

# Contexts every user can read, under $T/ctx:
#   scratch  FROM scratch + COPY
#   bb       examples/busybox with the host's static busybox
#   run      RUN: create, delete, an opaque dir, chown 1000:1000, a setuid file
#   zero     RUN that needs only uid 0
#   chown    RUN chown 1000:1000
#   multi    multi-stage, COPY --from, COPY --chown
rootless_contexts() {
	mkdir -p "$T/ctx/scratch" "$T/ctx/run" "$T/ctx/zero" "$T/ctx/chown" "$T/ctx/multi"
	echo hello >"$T/ctx/scratch/a.txt"
	printf 'FROM scratch\nCOPY a.txt /a.txt\n' >"$T/ctx/scratch/Buildfile"
	cp -r "$REPO_DIR/examples/busybox" "$T/ctx/bb"
	install -m 0755 /bin/busybox "$T/ctx/bb/busybox"
	cat >"$T/ctx/run/Buildfile" <<'EOF'
FROM busybox
RUN mkdir -p /lower/d /keep && echo in >/lower/d/inner && echo f >/lower/f
RUN rm /lower/f && rm -rf /lower/d && mkdir /lower/d && echo new >/lower/d/new && \
    echo x >/keep/own && chown 1000:1000 /keep/own && cp /bin/busybox /keep/suid && \
    chmod 4755 /keep/suid && chown 1000:1000 /keep /keep/suid && chmod 4755 /keep/suid
EOF
	printf 'FROM busybox\nRUN echo hi >/f && chown 0:0 /f && id -u >/uid\n' >"$T/ctx/zero/Buildfile"
	printf 'FROM busybox\nRUN echo hi >/f && chown 1000:1000 /f\n' >"$T/ctx/chown/Buildfile"
	echo hi >"$T/ctx/multi/a.txt"
	cat >"$T/ctx/multi/Buildfile" <<'EOF'
FROM busybox AS build
RUN mkdir /out && echo built >/out/file && chown 1000:1000 /out/file
FROM busybox
COPY --from=build /out/file /app/file
COPY --chown=1000:1000 a.txt /app/a.txt
RUN test "$(stat -c %u:%g /app/a.txt)" = 1000:1000 && test "$(stat -c %u /app/file)" = 0
EOF
	chmod -R a+rX "$T/ctx"
}
