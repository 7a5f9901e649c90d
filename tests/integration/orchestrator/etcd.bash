# tests/integration/orchestrator/etcd.bash - real etcd members for a test or a benchmark:
# each on free loopback ports with its data dir under $ETCD_TMP, started by etcd_start and
# stopped by the PIDs this file remembers (etcd_kill_all), never by name.  Also sourced by
# tests/bench/scheduler_e2e and tests/bench/leader_failover.
#
#   etcd_start N            start an N-member cluster (1..3); sets ETCD_ENDPOINTS
#   etcd_kill I [SIGNAL]    stop member I (0-based), KILL by default
#   etcd_restart I...       start members again on their data dirs
#   etcd_kill_all           stop every member this file started

# shellcheck source=../common.bash
source "$(dirname "${BASH_SOURCE[0]}")/../common.bash"

ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}
ETCD_PIDS=()
ETCD_CLIENT_PORTS=()
ETCD_PEER_PORTS=()
ETCD_CLUSTER=
ETCD_ENDPOINTS=

# etcd_free_port: common.bash's free_port, not one of the ports already chosen for a member
# (they are not listening yet)
etcd_free_port() {
	local p
	while :; do
		p=$(free_port)
		printf '%s\n' "${ETCD_CLIENT_PORTS[@]}" "${ETCD_PEER_PORTS[@]}" | grep -qx "$p" && continue
		echo "$p"
		return 0
	done
}

# etcd_spawn I: run member I (its ports and dir already chosen).
etcd_spawn() {
	local i=$1
	"$ETCD_BIN" --name "m$i" --data-dir "$ETCD_TMP/m$i" \
		--listen-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORTS[$i]}" \
		--advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORTS[$i]}" \
		--listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORTS[$i]}" \
		--initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORTS[$i]}" \
		--initial-cluster "$ETCD_CLUSTER" --initial-cluster-state new \
		--initial-cluster-token "$ETCD_TMP" >>"$ETCD_TMP/m$i.log" 2>&1 &
	ETCD_PIDS[$i]=$!
}

etcd_healthy() { # I
	curl -sf -m 1 "http://127.0.0.1:${ETCD_CLIENT_PORTS[$1]}/health" | grep -q '"health":"true"'
}

etcd_start() {
	local n=$1 i t
	[ -x "$ETCD_BIN" ] || { echo "no $ETCD_BIN (make deps installs etcd-server)" >&2; return 1; }
	ETCD_TMP=${ETCD_TMP:-$(mktemp -d /tmp/skiff-etcd.XXXXXX)}
	ETCD_CLUSTER=
	ETCD_ENDPOINTS=
	for ((i = 0; i < n; i++)); do
		ETCD_CLIENT_PORTS[$i]=$(etcd_free_port)
		ETCD_PEER_PORTS[$i]=$(etcd_free_port)
		ETCD_CLUSTER+="${ETCD_CLUSTER:+,}m$i=http://127.0.0.1:${ETCD_PEER_PORTS[$i]}"
		ETCD_ENDPOINTS+="${ETCD_ENDPOINTS:+,}http://127.0.0.1:${ETCD_CLIENT_PORTS[$i]}"
	done
	for ((i = 0; i < n; i++)); do etcd_spawn "$i"; done
	for ((t = 0; t < 150; t++)); do
		local up=0
		for ((i = 0; i < n; i++)); do etcd_healthy "$i" && up=$((up + 1)); done
		[ "$up" -eq "$n" ] && return 0
		sleep 0.1
	done
	echo "etcd did not come up: $(tail -5 "$ETCD_TMP"/m*.log)" >&2
	return 1
}

etcd_kill() {
	local i=$1 pid=${ETCD_PIDS[$1]:-}
	[ -n "$pid" ] || return 0
	kill "-${2:-KILL}" "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	ETCD_PIDS[$i]=
}

etcd_restart() { # I...: start members again on their data dirs; wait until all answer
	local i t
	for i in "$@"; do etcd_spawn "$i"; done
	for ((t = 0; t < 150; t++)); do
		local up=0
		for i in "$@"; do etcd_healthy "$i" && up=$((up + 1)); done
		[ "$up" -eq $# ] && return 0
		sleep 0.1
	done
	echo "etcd did not come back: $(tail -5 "$ETCD_TMP"/m*.log)" >&2
	return 1
}

etcd_kill_all() {
	local i
	for i in "${!ETCD_PIDS[@]}"; do etcd_kill "$i" TERM; done
	[ -n "${ETCD_TMP:-}" ] && rm -rf "$ETCD_TMP"
	ETCD_TMP=
}
