#!/bin/bash
# Rootless cairn and networks: created networks are refused naming the
# host's network, and -p on the host's network (rootless's default) is
# ignored with docker's warning.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rootless.sh"
rootless_need useradd userdel setpriv newuidmap newgidmap

U=cnrn$$
rootless_user "$U" 300000
rootless_probe "$U"

rl_fail "network create is refused rootless, naming host networking" 2 "--network host" "$U" \
	network create t0965-$$
rl_fail "run --network NAME is refused rootless, naming host networking" 125 "--network host" "$U" \
	run --rm --network t0965-$$ busybox true
rl "$U" run --rm -p 8080:80 t0965-no-such-image true
if grep -q "published ports are discarded when using the host network" "$T/err"; then
	pass "-p on the host's network is ignored with a warning"
else
	fail "-p rootless"; sed 's/^/#   /' "$T/err"
fi
finish
