#!/bin/bash
# The README's tour, as written, by an ordinary user (issue 10): every
# command line of the "A short tour" and "Rootless" blocks is run by a
# throw-away user with a /etc/subuid range, no capabilities and a clean
# environment, with `cairn` on its PATH, in a copy of the tree's examples.
# A line with placeholders (IMAGE, DIR, [-a], registry.example...) runs in
# the spelling the table below gives it; a line the README no longer has
# fails the test (the table would be stale), and so does a new line that
# does not run as written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
. "$(dirname "$0")/rootless.sh"
rootless_need useradd userdel setpriv newuidmap newgidmap script skopeo

U=cnrt$$
rootless_extra_cleanup() { stop_registry; }
rootless_user "$U" 500000
rootless_probe "$U"
H=$T/home-$U
mkdir -p "$T/bin"
ln -s "$T/cairn" "$T/bin/cairn"
# The tree's examples, as a user finds them after `make`.
mkdir -p "$H/cairn"
cp -r "$REPO_DIR/examples" "$H/cairn/examples"
install -m 0755 /bin/busybox "$H/cairn/examples/busybox/busybox"
chown -R "$U:" "$H/cairn"
chmod -R a+rX "$T/bin"
# A login session's runtime dir (pam_systemd makes /run/user/UID; runc
# keeps its state there when rootless).
install -d -m 0700 -o "$U" -g "$U" "$T/run-$U"

have_registry=
if command -v docker-registry >/dev/null && start_registry htpasswd; then
	chmod -R a+rX "$REG_CERTS"
	have_registry=1
else
	skip "login, push, pull, logout" "no docker-registry"
fi

TOUR_WEB_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# README lines -> what runs (a shell line, in $H/cairn, with the user's
# environment). Kept to the README's words where it names no real thing.
declare -A how=(
	["cairn build -f Buildfile -t hello:1 ."]="cd examples/hello && cairn build -f Buildfile -t hello:1 ."
	["cairn images [-a] [-q] [--digests] [--filter F]"]="cairn images && cairn images -a -q --digests --filter reference=hello"
	# a second value of hello:1, so that there is one to go back to
	["cairn rollback hello:1"]="cairn build -q --label tour=2 -t hello:1 examples/hello && cairn rollback hello:1"
	# (and back again, "rollback ... (again: undo)", for the lines after it)
	["cairn rollback hello:1 --to 6"]="cairn rollback hello:1 --to 6 && cairn rollback hello:1"
	["cairn prune [--all|--keep N|--older-than 30d]"]="cairn prune && cairn prune --keep 5 && cairn prune --older-than 30d"
	# (hello:1 is tagged again for the lines after it)
	["cairn image ls / image rm / container ls ..."]="cairn image ls && cairn tag hello:stable hello:1 && cairn image rm hello:stable && cairn container ls"
	["cairn fsck [--repair]"]="cairn fsck && cairn fsck --repair"
	["cairn parse Buildfile"]="cd examples/hello && cairn parse Buildfile"
	# a terminal for -it (script), and a shell that exits
	["cairn run --rm -it busybox sh"]="echo exit | script -qec 'cairn run --rm -it busybox sh' /dev/null"
	["cairn run -d --name web IMAGE"]="cairn run -d --name web busybox sleep 60"
	["cairn exec -it web sh"]="echo exit | script -qec 'cairn exec -it web sh' /dev/null"
	["cairn ps [-a] [-q] [-n N|-l] [--no-trunc] / logs [-f] web / stop [-t N] web / rm [-f] web"]="cairn ps && cairn ps -a -q -n 1 --no-trunc && cairn ps -l && cairn logs web && cairn stop -t 1 web && cairn rm web"
	["cairn run -d --label app=web --health-cmd 'wget -qO- localhost' --health-interval 5s IMAGE"]="cairn run -d --name tourhc --label app=web --health-cmd 'wget -qO- localhost' --health-interval 5s busybox sleep 30 && cairn ps --filter label=app=web | grep -q tourhc && cairn rm -f tourhc"
	["cairn volume create|ls|inspect|rm|prune"]="cairn volume create tourvol && cairn volume ls | grep -q tourvol && cairn volume inspect tourvol && cairn volume rm tourvol && cairn volume prune -f"
	# examples/compose as the user: the host's network, web on a free port
	["cairn compose build"]="cd examples/compose && cairn compose build"
	["cairn compose up -d"]="cd examples/compose && export WEB_PORT=$TOUR_WEB_PORT && cairn compose up -d && i=0 && until cairn compose logs probe | grep -q 'hello from cairn compose'; do i=\$((i + 1)); [ \$i -lt 30 ] || exit 1; sleep 1; done"
	["cairn compose ps / logs -f / exec web sh / run --rm web CMD / stop / start"]="cd examples/compose && export WEB_PORT=$TOUR_WEB_PORT && cairn compose ps && cairn compose logs web && cairn compose exec -T web true && cairn compose run --rm probe true && cairn compose stop && cairn compose start"
	["cairn compose down -v"]="cd examples/compose && WEB_PORT=$TOUR_WEB_PORT cairn compose down -v"
	["skopeo inspect oci:/var/lib/cairn:hello:1"]="skopeo inspect oci:\$HOME/.local/share/cairn:hello:1"
	["cairn export --format rootfs hello:1 DIR"]="cairn export --format rootfs hello:1 DIR"
	["cairn login -u USER --password-stdin registry.example:5000"]="cairn login --cert-dir $REG_CERTS -u $REG_USER --password-stdin $REG <$T/pass"
	["cairn push hello:1 registry.example:5000/team/hello:1"]="cairn push --cert-dir $REG_CERTS hello:1 $REG/team/hello:1"
	["cairn pull registry.example:5000/team/hello:1"]="cairn rmi $REG/team/hello:1 2>/dev/null; cairn pull --cert-dir $REG_CERTS $REG/team/hello:1"
	["cairn logout registry.example:5000"]="cairn logout $REG"
)
# The OS container lines: the README says --systemd is root only (its
# base image needs debootstrap as root too); t0951 runs them as root. Here
# they are skipped, and the refusal of --systemd is checked below.
declare -A root_only=(
	["make debian-base"]=1
	["cairn build -t debian-systemd examples/debian-systemd"]=1
	["cairn run -d --systemd=always --name os debian-systemd"]=1
	["cairn exec os systemctl is-system-running"]=1
	["curl \"http://\$(cairn exec os hostname -I | tr -d ' ')/\""]=1
	["cairn stop os"]=1
)
# What some lines must print (stdout, a grep -E pattern).
declare -A want=(
	["cairn inspect -f '{{.Config.Cmd}}' hello:1"]='^\[/app/hello.sh\]$'
	["cairn history --rows hello:1"]='USER nobody'
	["cairn info"]='^rootless: *yes'
	["cairn run --rm -it busybox sh"]='#'
	["cairn exec -it web sh"]='#'
	["cairn export --format bundle hello:1 B && cd B && runc run demo"]='^running as nobody'
	["cairn run --rm busybox id"]='^uid=0\(root\) gid=0\(root\)'
)
printf '%s\n' "${REG_PASS:-}" >"$T/pass"
chmod a+r "$T/pass"

# The code lines of a README section: the indented lines after its "## "
# heading, up to the next heading, without their comments (two spaces, #).
readme_lines() {
	awk -v h="## $1" '$0 == h { on = 1; next } /^## / { on = 0 } on && /^    [^ ]/' "$REPO_DIR/README.md" |
		sed -E 's/^    //; s/ {2,}#.*$//; s/ +$//'
}
used=()
tour() {   # SECTION
	local line cmd
	while IFS= read -r line; do
		cmd=${how[$line]-$line}
		[ -n "${how[$line]+x}" ] && used+=("$line")
		if [ -n "${root_only[$line]+x}" ]; then
			used+=("$line")
			skip "$1: $line" "root only (OS containers); t0951 runs it as root with CAIRN_SLOW_TESTS=1"
			continue
		fi
		case $line in
		*registry.example*) [ -n "$have_registry" ] || continue ;;
		esac
		EXTRA_ENV="XDG_RUNTIME_DIR=$T/run-$U" as "$U" sh -c "cd '$H/cairn' && PATH='$T/bin':\$PATH && $cmd" >"$T/out" 2>"$T/err" </dev/null
		status=$?
		if [ "$status" -eq 0 ] && { [ -z "${want[$line]+x}" ] || grep -qE -- "${want[$line]}" "$T/out"; }; then
			pass "$1: $line"
		else
			fail "$1: $line (status $status; ran: $cmd${want[$line]+; stdout should match ${want[$line]}})"
			sed 's/^/#   /' "$T/err" | tail -10
			sed 's/^/#   out: /' "$T/out" | tail -5
		fi
	done < <(readme_lines "$1")
}
n_tour=$(readme_lines "A short tour" | grep -c .)
check "the README's tour has its lines (found $n_tour)" test "$n_tour" -ge 30
tour "A short tour"
tour "Rootless"
for line in "${!how[@]}" "${!root_only[@]}"; do
	printf '%s\n' "${used[@]}" | grep -qxF -- "$line" || fail "the README no longer has the tour line '$line'"
done

# What the README says needs root, rootless.
mkdir -p "$T/net"
printf 'FROM busybox\nRUN true\n' >"$T/net/Buildfile"
chmod -R a+rX "$T/net"
rl_fail "README: an explicit --network default is refused, naming slirp4netns" 1 slirp4netns \
	"$U" build --network default "$T/net"
rl_fail "README: run --network bridge is refused, naming slirp4netns" 125 slirp4netns \
	"$U" run --rm --network bridge busybox true
rl_fail "README: run --userns=auto is refused, saying it needs root" 125 "needs root" \
	"$U" run --rm --userns=auto busybox true
rl_fail "README: run --systemd=always is refused rootless, saying why" 125 "rootless cairn cannot give it one" \
	"$U" run --rm --systemd=always busybox true
rl_ok "fsck after the tour" "$U" fsck
check "no mounts left" no_mounts_left
# (a detached container's supervisor may still be on its way out, and this
# machine's init reaps when it gets to it)
for _ in $(seq 100); do pgrep -u "$U" >/dev/null || break; sleep 0.1; done
check "no processes of the user left" sh -c "! ps -u '$U' -o pid=,ppid=,stat=,args= | grep ."
finish
