#!/bin/bash
# Image metadata reaches the terminal escaped: a history created_by, a
# created time, a User, labels, a Cmd and a tag name holding ESC sequences,
# an OSC title with its BEL and newlines forge no rows and drive no terminal
# in history, images, inspect, ps or an error message.
. "$(dirname "$0")/lib.sh"

build_busybox || finish

# hostile: busybox's layer, a config whose history, created, User and labels
# are hostile. hostile-cmd: a usable User, a hostile Cmd (for ps).
# Written as an OCI archive for load, as any outside image would come.
python3 - "$CAIRN_ROOT" "$(tag_digest busybox:latest)" "$T/hostile.tar" <<'PY'
import hashlib, io, json, os, sys, tarfile
root, base, out = sys.argv[1:4]
blobs = os.path.join(root, "blobs", "sha256")
files = {}
def put(data):
    h = hashlib.sha256(data).hexdigest()
    files["blobs/sha256/" + h] = data
    return "sha256:" + h, len(data)
def blob(d):
    return open(os.path.join(blobs, d[7:]), "rb").read()
bm = json.loads(blob(base))
esc = "\x1b[2J\x1b]0;pwned\x07\nROW  99 forged-row"
index = {"schemaVersion": 2, "manifests": []}
for tag, user, cmd in (("hostile:1", "\x1b[31mevil\nsecond-line", ["true"]),
                       ("hostile-cmd:1", "", ["sh", "-c", "sleep 60", "\x1b[2J\nforged-ps-row"])):
    c = json.loads(blob(bm["config"]["digest"]))
    c["created"] = "2024\x1b[2J"
    c["config"]["User"] = user
    c["config"]["Cmd"] = cmd
    c["config"]["Labels"] = {"l\x1b[5m": "v\x1b]0;x\x07"}
    c["history"] = c.get("history", []) + [{"created_by": esc, "empty_layer": True}]
    cd, cs = put(json.dumps(c).encode())
    for l in bm["layers"]:
        files["blobs/sha256/" + l["digest"][7:]] = blob(l["digest"])
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
         "layers": bm["layers"]}
    md, ms = put(json.dumps(m).encode())
    index["manifests"].append({"mediaType": m["mediaType"], "digest": md, "size": ms,
                               "annotations": {"org.opencontainers.image.ref.name": tag}})
files["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
files["index.json"] = json.dumps(index).encode()
with tarfile.open(out, "w") as t:
    for name, data in files.items():
        i = tarfile.TarInfo(name); i.size = len(data)
        t.addfile(i, io.BytesIO(data))
# The same image under a tag name holding an escape sequence.
index["manifests"] = index["manifests"][:1]
index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] = "evil\x1b]0;t\x07:1"
files["index.json"] = json.dumps(index).encode()
with tarfile.open(out + ".badtag", "w") as t:
    for name, data in files.items():
        i = tarfile.TarInfo(name); i.size = len(data)
        t.addfile(i, io.BytesIO(data))
PY

# inert FILE: no ESC, BEL, CR or C1 CSI byte in FILE.
inert() {
	! grep -qP '[\x1b\x07\x0d\x9b]' "$1" && ! grep -qP '\xc2\x9b' "$1"
}

expect_ok "load the hostile images" load -i "$T/hostile.tar"
run_cairn load -i "$T/hostile.tar.badtag"
check "a hostile tag name: the error is inert" inert "$T/err"

run_cairn history hostile:1
check "history exits 0" test "$status" -eq 0
check "history: no escape byte" inert "$T/out"
rows=$(jq '.history | length' <<<"$(image_config hostile:1)")
check "history: one line per row and a header (no forged row)" test "$(wc -l <"$T/out")" -eq $((rows + 1))
check "history: the escape is shown as text" grep -qF '\x1b[2J\x1b]0;pwned\x07\x0aROW  99 forged-row' "$T/out"
check "history: no line starts with the forged row" sh -c "! grep -q '^ROW  99' '$T/out'"

run_cairn images
check "images exits 0" test "$status" -eq 0
check "images: no escape byte" inert "$T/out"
check "images: a created time that is no time shows as N/A" grep -qE '^hostile +1 +[0-9a-f]{12} +N/A ' "$T/out"

run_cairn inspect hostile:1
check "inspect exits 0" test "$status" -eq 0
check "inspect: no escape byte" inert "$T/out"
check "inspect: still JSON with the value intact" \
	test "$(jq -r '.[0].Config.User' "$T/out")" = "$(printf '\033[31mevil\nsecond-line')"

run_cairn run --rm hostile:1
check "run with a hostile User fails" test "$status" -ne 0
check "run: the error is inert" inert "$T/err"
check "run: the error is one line" test "$(wc -l <"$T/err")" -eq 1

run_cairn run -d --name esc hostile-cmd:1
check "run -d of the hostile Cmd" test "$status" -eq 0
run_cairn ps -a
check "ps: no escape byte" inert "$T/out"
check "ps: a header and one row" test "$(wc -l <"$T/out")" -eq 2
"$CAIRN" rm -f esc >/dev/null 2>&1

expect_fail "an error quoting a hostile argument is escaped" 1 "x\\x1b[2J:1" history "$(printf 'x\033[2J:1')"
check "that error is inert" inert "$T/err"
# A Buildfile's own text (a step line, a warning) reaches the terminal escaped too.
printf 'FROM busybox\nLABEL x="\033[2J\033]0;t\007"\nRUN true # \033[31mred\n' | buildfile "$T/escbf"
run_cairn build -t escbf:1 "$T/escbf"
check "build with escape bytes in its Buildfile works" test "$status" -eq 0
check "build: the step lines are inert" inert "$T/out"
check "build: the step line shows the escape" grep -qF 'RUN true # \x1b[31mred' "$T/out"
finish
