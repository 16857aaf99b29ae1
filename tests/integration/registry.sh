# A real registry for tests (sourced after lib.sh): Debian's docker-registry
# (the CNCF distribution registry) on a random loopback port, with TLS from a
# test CA and htpasswd users, or bearer tokens from tests/integration/tokend.py.
# Sets REG (host:port), REG_CERTS (a --cert-dir holding the CA), REG_LOG.

REG_USER=tester REG_PASS=s3cret-pass

# wait_up NAME LOG URL...: until one URL answers (10 s), else show LOG.
wait_up() {
	local name=$1 log=$2 u; shift 2
	for _ in $(seq 100); do
		for u in "$@"; do
			curl -s -o /dev/null --cacert "$T/pki/ca.crt" "$u" && return 0
		done
		sleep 0.1
	done
	echo "$name did not start:"; tail -20 "$log"
	return 1
}

# stop_pid VAR: stop the process whose pid is in $VAR, and forget it.
stop_pid() {
	local pid=${!1:-}
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	printf -v "$1" '%s' ''
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# make_ca DIR: a CA and a server certificate for 127.0.0.1 and localhost.
make_ca() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=cairn test CA" \
		-keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null &&
	openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null &&
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$d/ext" &&
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/ext" -out "$d/server.crt" 2>/dev/null
}

# start_registry AUTH: AUTH is htpasswd, none, or token; REG_TLS=0 serves
# plain http (then TOKEN_REALM
# must name the token server and $T/pki/token.crt its signing certificate).
start_registry() {
	local auth=$1 port
	REG_DIR=$T/registry
	mkdir -p "$REG_DIR/data"
	[ -f "$T/pki/ca.crt" ] || make_ca "$T/pki" || return 1
	REG_CERTS=$T/certs
	mkdir -p "$REG_CERTS"
	cp "$T/pki/ca.crt" "$REG_CERTS/ca.crt"
	htpasswd -Bbn "$REG_USER" "$REG_PASS" >"$REG_DIR/htpasswd" 2>/dev/null
	port=$(free_port)
	REG=127.0.0.1:$port
	{
		cat <<-YAML
		version: 0.1
		log:
		  level: info
		  fields:
		    service: registry
		storage:
		  filesystem:
		    rootdirectory: $REG_DIR/data
		  delete:
		    enabled: true
		http:
		  addr: $REG
		  secret: cairn-test-secret
		YAML
		[ "${REG_TLS:-1}" = 1 ] && printf '  tls:\n    certificate: %s\n    key: %s\n' "$T/pki/server.crt" "$T/pki/server.key"
		case $auth in
		htpasswd) printf 'auth:\n  htpasswd:\n    realm: cairn-test\n    path: %s\n' "$REG_DIR/htpasswd" ;;
		token) printf 'auth:\n  token:\n    realm: %s\n    service: cairn-test-registry\n    issuer: cairn-test-issuer\n    rootcertbundle: %s\n' \
			"$TOKEN_REALM" "$T/pki/token.crt" ;;
		esac
	} >"$REG_DIR/config.yml"
	REG_LOG=$REG_DIR/log
	# Its own REGISTRY_* variables would override the config (REGISTRY_AUTH_FILE!).
	env $(env | grep -o "^REGISTRY_[A-Z_]*" | sed "s/^/-u /") docker-registry serve "$REG_DIR/config.yml" >"$REG_LOG" 2>&1 &
	REG_PID=$!
	wait_up registry "$REG_LOG" "https://$REG/v2/" "http://$REG/v2/"
}

stop_registry() {
	stop_pid REG_PID
}

# Requests the registry logged (its access log lines), e.g.
# reg_requests PUT /blobs/uploads/  ->  a count.
reg_requests() {
	grep -cE "\"$1 [^\" ]*$2[^\" ]* HTTP/[0-9.]+\" " "$REG_LOG" || true
}

# start_token_server SCHEME: the token issuer (tokend.py) over https (or
# http), with a signing certificate for the registry's rootcertbundle. Sets
# TOKEN_REALM and TOKEN_LOG; call before start_registry token.
start_token_server() {
	local scheme=${1:-https} port tls_cert=- tls_key=-
	[ -f "$T/pki/ca.crt" ] || make_ca "$T/pki" || return 1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=cairn test token signer" \
		-keyout "$T/pki/token.key" -out "$T/pki/token.crt" 2>/dev/null || return 1
	port=$(free_port)
	TOKEN_LOG=$T/token.log
	: >"$TOKEN_LOG"
	if [ "$scheme" = https ]; then tls_cert=$T/pki/server.crt tls_key=$T/pki/server.key; fi
	python3 "$TESTS_DIR/integration/tokend.py" "$port" "$T/pki/token.key" "$T/pki/token.crt" \
		"$tls_cert" "$tls_key" "$REG_USER" "$REG_PASS" "$TOKEN_LOG" cairn-test-issuer \
		>"$T/tokend.out" 2>&1 &
	TOKEN_PID=$!
	TOKEN_REALM=$scheme://127.0.0.1:$port/token
	wait_up "token server" "$T/tokend.out" "$TOKEN_REALM"
}

stop_token_server() { stop_pid TOKEN_PID; }

# start_proxy MODE [tls]: tests/integration/proxy.py in front of $REG (a
# REG_TLS=0 registry), demanding $REG_USER:$REG_PASS. Sets PROXY, PROXY_LOG.
start_proxy() {
	local mode=$1 port tlsargs=()
	port=$(free_port)
	PROXY=127.0.0.1:$port
	PROXY_LOG=$T/proxy-$mode.log
	: >"$PROXY_LOG"
	[ "${2:-}" = tls ] && tlsargs=("$T/pki/server.crt" "$T/pki/server.key")
	python3 "$TESTS_DIR/integration/proxy.py" "$port" "$mode" "http://$REG" "$REG_USER" "$REG_PASS" \
		"$PROXY_LOG" "${tlsargs[@]}" >"$T/proxy.out" 2>&1 &
	PROXY_PID=$!
	wait_up proxy "$T/proxy.out" "http://$PROXY/v2/" "https://$PROXY/v2/"
}

stop_proxy() { stop_pid PROXY_PID; }
