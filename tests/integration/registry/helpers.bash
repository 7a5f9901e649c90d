# tests/integration/registry/helpers.bash - registries for the pull/push tests and the pull
# benchmark: Debian's docker-registry (CNCF distribution 2.8) on 127.0.0.1 and a free port,
# with its own config file and storage dir under $WORK, started and stopped by PID (nothing
# system-wide).  Optionally htpasswd auth (apache2-utils' htpasswd -B) or token auth with
# token_server.py, and slow_proxy.py in front.  The caller sets WORK and calls
# registry_stop_all at the end (teardown / trap).

REGISTRY_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REG_PIDS=()

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port FILE: until a helper wrote the port it listens on (10 s); echoes it
wait_port() {
	local i
	for i in $(seq 100); do
		[ -s "$1" ] && { cat "$1"; return 0; }
		sleep 0.1
	done
	return 1
}

# token_server_start DIR USER PASS: key, self-signed cert and token_server.py; sets TOKEN_PORT
token_server_start() {
	local dir=$1
	mkdir -p "$dir"
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=skiff-test-token -days 2 \
		-keyout "$dir/token.key" -out "$dir/token.crt" >/dev/null 2>&1 || return 1
	python3 "$REGISTRY_TOOLS/token_server.py" "$dir/token.port" "$dir/token.key" "$dir/token.crt" \
		"$2" "$3" skiff-test-issuer </dev/null >"$dir/token.log" 2>&1 &
	REG_PIDS+=($!)
	TOKEN_PORT=$(wait_port "$dir/token.port") || return 1
}

# registry_start NAME [none|htpasswd|token] [USER PASS]: a registry with storage under
# $WORK/NAME.  Sets REG (127.0.0.1:PORT), REG_DIR, REG_LOG (its access log is there unless
# REG_ACCESS_LOG=off).  REG_TLS=1: it speaks only TLS (a self-signed certificate).
registry_start() {
	local name=$1 auth=${2:-none} user=${3:-} pass=${4:-} port pid i try
	REG_DIR=$WORK/$name
	REG_LOG=$REG_DIR/log
	mkdir -p "$REG_DIR/data"
	local auth_conf=""
	case $auth in
	htpasswd)
		htpasswd -Bbc "$REG_DIR/htpasswd" "$user" "$pass" >/dev/null 2>&1 || return 1
		auth_conf="auth:
  htpasswd:
    realm: skiff-test
    path: $REG_DIR/htpasswd"
		;;
	token)
		token_server_start "$REG_DIR" "$user" "$pass" || return 1
		auth_conf="auth:
  token:
    realm: http://127.0.0.1:$TOKEN_PORT/token
    service: skiff-test-registry
    issuer: skiff-test-issuer
    rootcertbundle: $REG_DIR/token.crt"
		;;
	esac
	local tls_conf=""
	if [ "${REG_TLS:-0}" = 1 ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 2 \
			-keyout "$REG_DIR/tls.key" -out "$REG_DIR/tls.crt" >/dev/null 2>&1 || return 1
		tls_conf="  tls:
    certificate: $REG_DIR/tls.crt
    key: $REG_DIR/tls.key"
	fi
	for try in 1 2 3 4 5; do
		port=$(free_port)
		cat >"$REG_DIR/config.yml" <<-EOF
			version: 0.1
			log:
			  level: warn
			  accesslog:
			    disabled: $([ "${REG_ACCESS_LOG:-on}" = off ] && echo true || echo false)
			storage:
			  filesystem:
			    rootdirectory: $REG_DIR/data
			  delete:
			    enabled: true
			  maintenance:
			    uploadpurging:
			      enabled: false
			http:
			  addr: 127.0.0.1:$port
			  secret: skiff-test-secret
			$tls_conf
			$auth_conf
		EOF
		docker-registry serve "$REG_DIR/config.yml" </dev/null >"$REG_LOG" 2>&1 &
		pid=$!
		for i in $(seq 100); do
			curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if curl -s -o /dev/null "http://127.0.0.1:$port/v2/"; then
			REG_PIDS+=("$pid")
			REG=127.0.0.1:$port
			return 0
		fi
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	echo "docker-registry did not start: $(tail -3 "$REG_LOG")" >&2
	return 1
}

# slow_proxy_start UPSTREAM_PORT BYTES_PER_SECOND [no-range]: sets PROXY (127.0.0.1:PORT),
# PROXY_LOG
slow_proxy_start() {
	local dir=$WORK/proxy
	mkdir -p "$dir"
	PROXY_LOG=$dir/requests.log
	: >"$PROXY_LOG"
	rm -f "$dir/port"
	python3 "$REGISTRY_TOOLS/slow_proxy.py" "$dir/port" "$PROXY_LOG" "$1" "$2" ${3:-} </dev/null >"$dir/out" 2>&1 &
	REG_PIDS+=($!)
	PROXY=127.0.0.1:$(wait_port "$dir/port") || return 1
}

registry_stop_all() {
	local p
	for p in "${REG_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${REG_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	REG_PIDS=()
}

# registry_blob_data DIGEST: the file the registry serves that blob from
registry_blob_data() {
	local hex=${1#sha256:}
	echo "$REG_DIR/data/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
}
