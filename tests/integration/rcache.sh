# Helpers for the shared build cache tests (t081x: --cache-to/--cache-from),
# sourced after lib.sh (and registry.sh where a registry is used).

# Every build of these tests is reproducible: two stores that build the same
# inputs get the same digests, with or without the cache.
export SOURCE_DATE_EPOCH=1700000000

# As lib.sh's, but a cairn that hangs (a registry that never answers) is
# killed: the test fails instead of waiting forever.
run_cairn() {
	timeout -k 10 120 "$CAIRN" "$@" >"$T/out" 2>"$T/err"
	status=$?
}

# re STRING: STRING as an extended regular expression matching itself.
re() {
	sed 's/[][\.*^$(){}+?|]/\\&/g' <<<"$1"
}

# count_re REGEX FILE: lines of FILE matching REGEX (0 when none).
count_re() {
	grep -cE -- "$1" "$2" || true
}

# Build output lines, with or without the "[stage] " prefix parallel stages get.
P='^(\[[^]]*\] )?'

# cached_from SRC: steps of the last build that hit the cache SRC imported
# ("--> CACHED (SRC) <12 hex>").
cached_from() {
	count_re "$P--> CACHED \($(re "$1")\) [0-9a-f]{12}" "$T/out"
}
# cached_any: steps of the last build served from any cache.
cached_any() {
	count_re "$P--> CACHED" "$T/out"
}
# ran MARKER: how often a RUN step printed the line MARKER (not the STEP
# line that shows the command).
ran() {
	count_re "$P$(re "$1")\$" "$T/out"
}
# warnings PREFIX: lines of the last build's stderr starting with PREFIX.
warnings() {
	count_re "^$(re "$1")" "$T/err"
}

# step_result N: the "-->" line that ended step N of the last build.
step_result() {
	awk -v n="$1" '
		/^(\[[^]]*\] )?STEP [0-9]+\/[0-9]+:/ {
			p = ""
			if (substr($0, 1, 1) == "[") p = substr($0, 1, index($0, "] ") + 1)
			s = substr($0, length(p) + 6)
			split(s, a, "/")
			if (a[1] == n) { want = p; on = 1 }
			next
		}
		on && index($0, want "-->") == 1 { print substr($0, length(want) + 1); exit }' "$T/out"
}

# manifest_file TAG: the store's file holding TAG's manifest.
manifest_file() {
	local d
	d=$(tag_digest "$1") && [ -n "$d" ] && echo "$CAIRN_ROOT/blobs/sha256/${d#sha256:}"
}
# layers_of TAG: its layer blob digests, one a line.
layers_of() {
	jq -r '.layers[].digest' "$(manifest_file "$1")"
}

# ---- registry access without cairn (REG_CURL: extra curl options) ----
REG_SCHEME=http
REG_CURL=()
OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json

# reg_manifest REPO TAG: the manifest the registry has.
reg_manifest() {
	curl -sf "${REG_CURL[@]}" -H "Accept: $OCI_MANIFEST" "$REG_SCHEME://$REG/v2/$1/manifests/$2"
}
# reg_blob REPO DIGEST: a blob's bytes.
reg_blob() {
	curl -sfL "${REG_CURL[@]}" "$REG_SCHEME://$REG/v2/$1/blobs/$2"
}
# reg_put_blob REPO FILE: upload FILE as a blob (POST, then PUT ?digest=).
reg_put_blob() {
	local loc d
	d=sha256:$(sha256sum "$2" | cut -d' ' -f1)
	loc=$(curl -sf "${REG_CURL[@]}" -X POST -D - -o /dev/null "$REG_SCHEME://$REG/v2/$1/blobs/uploads/" |
		tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
	[ -n "$loc" ] || return 1
	case $loc in /*) loc=$REG_SCHEME://$REG$loc ;; esac
	case $loc in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
	curl -sf "${REG_CURL[@]}" -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$2" "$loc" >/dev/null
}
# reg_put_manifest REPO TAG FILE: FILE (an OCI image manifest) under TAG.
reg_put_manifest() {
	curl -sf "${REG_CURL[@]}" -X PUT -H "Content-Type: $OCI_MANIFEST" --data-binary "@$3" \
		"$REG_SCHEME://$REG/v2/$1/manifests/$2" >/dev/null
}
# reg_delete_blob REPO DIGEST: the registry forgets the blob in REPO (202).
reg_delete_blob() {
	test "$(curl -s "${REG_CURL[@]}" -o /dev/null -w '%{http_code}' -X DELETE "$REG_SCHEME://$REG/v2/$1/blobs/$2")" = 202
}

# reg_mark: where the registry log ends now; reg_blob_gets MARK: the blob
# digests GET since MARK, each once (the access log lines).
reg_mark() {
	wc -l <"$REG_LOG"
}
reg_blob_gets() {
	sleep 0.3   # the registry logs a request after answering it
	tail -n +"$(($1 + 1))" "$REG_LOG" | grep -oE '"GET /v2/[^ "]+/blobs/sha256:[0-9a-f]{64} HTTP' |
		grep -oE 'sha256:[0-9a-f]{64}' | sort -u
}
# not_cached N...: steps N... of the last build ran (did not end CACHED).
not_cached() {
	local n r
	for n; do
		r=$(step_result "$n")
		[ -n "$r" ] || { echo "step $n: no result line"; return 1; }
		case $r in "--> CACHED"*) echo "step $n: $r"; return 1 ;; esac
	done
}

# The summary lines after a build (stderr). PLAN.md says "N records, N
# layers uploaded (SIZE)"; "N records, N layers, SIZE uploaded" is taken too.
export_line_re() {   # NAME: the export summary of the cache NAME
	echo "^cache export $(re "$1"): [0-9]+ records?, [0-9]+ layers?( uploaded \(.+\)|, .+ uploaded)\$"
}
import_line_re() {   # NAME HITS
	echo "^cache import $(re "$1"): $2 hits?, [0-9]+ layers? downloaded, .+ received\$"
}

# reg_blob_puts MARK: digests of the blobs uploaded since MARK (the PUT that
# ends an upload names the digest).
reg_blob_puts() {
	sleep 0.3
	tail -n +"$(($1 + 1))" "$REG_LOG" | grep -oE '"(PUT|POST) /v2/[^ "]+/blobs/uploads/[^ "]*digest=sha256(:|%3[Aa])[0-9a-f]{64}' |
		grep -oE '[0-9a-f]{64}$' | sed 's/^/sha256:/' | sort -u
}
