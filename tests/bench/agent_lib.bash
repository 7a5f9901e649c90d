# tests/bench/agent_lib.bash - shared by the node agent's benchmarks (self-heal,
# agent-resources): a real `skiffd server` on a free loopback port and a real `skiffd agent`
# with a temp --root, its own bridge and a /24 no interface uses, the webapp image built into
# a temp store, and a cleanup that removes every container, the bridge and the temp dir.
# The server speaks TLS under the CA it makes in its data dir; the agent joins with the join
# token it wrote there; curl trusts that CA and reads the admin credential from a header file
# (never argv: `acurl` and `api`).
# Needs root, curl, jq, ss.

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${SKIFF_BUILD:-$ROOT/build}
SKIFFD=$BUILD/skiffd
SKIFF=$BUILD/skiff
PIDS=()

now_ms() { echo $(($(date +%s%N) / 1000000)); }
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
pss_kb() { awk '$1 == "Pss:" { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# acurl ARG...: curl as the admin, verifying the server against the cluster CA
acurl() { curl --cacert "$TMP/data/ca.crt" -H @"$TMP/auth.hdr" "$@"; }
api() { acurl -sf -m 10 "$URL$1"; }

bench_cleanup() {
	local p id
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	sleep 0.3 # a create the killed agent's helper was in finishes in its monitor
	if [ -d "${TMP:-}/root/state" ]; then
		for id in $(ls "$TMP/root/state"); do
			timeout 20 "$SKIFF" --root "$TMP/root/state" delete --force "$id" >/dev/null 2>&1 || true
		done
	fi
	if [ -n "${BR:-}" ]; then ip link del "$BR" 2>/dev/null || true; fi
	if [ -n "${TMP:-}" ]; then rm -rf "$TMP"; fi
}

# bench_start NAME [AGENT ARGS...]: server + agent up, webapp image in the store.
bench_start() {
	local name=$1 i n port
	shift
	[ "$(id -u)" -eq 0 ] || { echo "$name: needs root" >&2; exit 1; }
	[ -x "$SKIFFD" ] && [ -x "$BUILD/webapp" ] || { echo "$name: run make first" >&2; exit 1; }
	for t in curl jq ss; do command -v $t >/dev/null || { echo "$name: needs $t" >&2; exit 1; }; done
	TMP=$(mktemp -d /tmp/skiff-bench-agent.XXXXXX)
	chmod 0755 "$TMP"
	trap bench_cleanup EXIT
	SKIFF_IMAGE_ROOT=$TMP/store SKIFF=$SKIFF WEBAPP=$BUILD/webapp "$ROOT/images/webapp/build" \
		>"$TMP/image.log" 2>&1 || { cat "$TMP/image.log" >&2; exit 1; }
	while :; do
		port=$((20000 + RANDOM % 20000))
		ss -Htln "sport = :$port" | grep -q . || break
	done
	URL=https://127.0.0.1:$port
	"$SKIFFD" server --listen "127.0.0.1:$port" --data "$TMP/data" >"$TMP/server.log" 2>&1 &
	SERVER=$!
	PIDS+=("$SERVER")
	for i in $(seq 100); do
		[ -s "$TMP/data/token" ] && [ -s "$TMP/data/ca.crt" ] &&
			curl -sf --cacert "$TMP/data/ca.crt" "$URL/healthz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	(umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$TMP/data/token")" >"$TMP/auth.hdr")
	BR="sb$(($$ % 100000))"
	for ((i = 0; i < 200; i++)); do
		n=$(((($$ + i) % 200) + 20))
		ip -4 -o addr show | grep -q " 10\.215\.$n\." || break
	done
	SUBNET=10.215.$n.0/24
	"$SKIFFD" agent --server "$URL" --token-file "$TMP/data/join-token" --name bench --root "$TMP/root" \
		--bridge "$BR" --pod-cidr "$SUBNET" --agent-port 0 --image-root "$TMP/store" \
		--cpu 64 --memory 64Gi "$@" >"$TMP/agent.log" 2>&1 &
	AGENT=$!
	PIDS+=("$AGENT")
	for i in $(seq 100); do
		grep -q registered "$TMP/agent.log" && break
		sleep 0.1
	done
	HELPER=
	for i in $(seq 100); do
		HELPER=$(pgrep -P "$AGENT" -x skiff-runtime | head -1 || true)
		[ -n "$HELPER" ] && break
		sleep 0.1
	done
}

# apply_web N: examples/web.json with N replicas, its image from the local store (web.json pulls
# from the cluster registry of examples/cluster), no nodePort: nothing here proxies.
apply_web() {
	jq --argjson n "$1" '.replicas = $n | .image = "webapp" | .ports = [{container: 8080}]' "$ROOT/examples/web.json" |
		acurl -sf -X POST -H 'Content-Type: application/json' --data @- "$URL/v1/apply" >/dev/null
}

# ready_count: replicas Running and ready.
ready_count() {
	api /v1/replicas | jq '[.items[] | select(.state == "Running" and .ready)] | length'
}

# wait_ready N SECONDS: until N replicas are ready; 1 on timeout.
wait_ready() {
	local deadline=$(($(now_ms) + $2 * 1000))
	until [ "$(ready_count)" -ge "$1" ]; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# stats FILE: "median p90 min max" (ms) of the numbers in FILE.
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "- - - -"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		p = v[int(0.9 * NR + 0.999)]
		printf "%.0f %.0f %.0f %.0f\n", m, p, v[1], v[NR] }'
}
