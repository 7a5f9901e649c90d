# tests/integration/agent-net/helpers.bash - a cluster of namespace hosts for the network
# tests: a real `skiffd server` on the LAN bridge's address (reachable from every host), and
# per host a fake agent (the node object: address, podCIDR; it reports replicas Running but
# not ready), a pod bridge on the node's podCIDR and a real `skiffd netagent` inside the host.
# Replicas are real webapp processes in pod namespaces; the test reports them ready with
# their pod address, as the real agent would.  Everything is torn down by net_teardown.

# shellcheck source=../orchestrator/helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/../orchestrator/helpers.bash"
# shellcheck source=../../lib/nethosts.bash
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/nethosts.bash"

WEBAPP=$SKIFF_BUILD/webapp
NODEPORT=30080

# net_setup_cluster: LAN, server.  Sets and exports ORCH_TMP, DATA, URL, NH_*.
net_setup_cluster() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
	[ -x "$SKIFFD" ] && [ -x "$WEBAPP" ] || skip "skiffd or webapp not built in $SKIFF_BUILD"
	ORCH_TMP=$BATS_FILE_TMPDIR
	DATA=$ORCH_TMP/data
	nh_init "$ORCH_TMP/nh"
	nh_lan_create || fail "cannot create the LAN bridge"
	PORT=$(free_port)
	URL=https://$NH_LAN_GW:$PORT
	"$SKIFFD" server --listen "$NH_LAN_GW:$PORT" --data "$DATA" --node-grace 3 \
		"${NET_SERVER_ARGS[@]}" >>"$ORCH_TMP/server.log" 2>&1 &
	echo $! >>"$NH_DIR/pids"
	echo $! >"$ORCH_TMP/server.pid"
	local i
	for ((i = 0; i < 100; i++)); do
		[ -s "$DATA/token" ] && [ -s "$DATA/ca.crt" ] &&
			curl -sf --cacert "$DATA/ca.crt" "$URL/healthz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	[ -s "$DATA/token" ] || fail "server did not start: $(cat "$ORCH_TMP/server.log")"
	auth_header_file
	export ORCH_TMP DATA URL PORT AUTH_HDR
}

net_teardown() {
	nh_teardown
}

# node_pod_cidr NODE: its podCIDR (fails while it has none).
node_pod_cidr() {
	api GET "/v1/nodes/$1" | jq -er '.podCIDR | select(. != "")'
}

# start_fake_agent NODE: registers NODE with its host's address; pid in agent-NODE.pid.
start_fake_agent() {
	"$SKIFFD" agent --fake-runtime --server "$URL" --join-token-file "$DATA/join-token" --name "$1" \
		--address "$(nh_addr "$1")" >>"$ORCH_TMP/agent-$1.log" 2>&1 &
	echo $! >>"$NH_DIR/pids"
	echo $! >"$ORCH_TMP/agent-$1.pid"
}

# start_netagent NODE [ARGS...]: `skiffd netagent` inside host NODE; pid in net-NODE.pid.
start_netagent() {
	nh_bg "$1" "$ORCH_TMP/net-$1.log" "$SKIFFD" netagent --server "$URL" --data "$DATA" \
		--name "$1" --address "$(nh_addr "$1")" "${@:2}" >"$ORCH_TMP/net-$1.pid"
}

# stop_netagent NODE: SIGTERM to NODE's netagent; fails unless it exits within 3 s.
stop_netagent() {
	local pid i
	pid=$(cat "$ORCH_TMP/net-$1.pid")
	kill -TERM "$pid"
	for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$pid" 2>/dev/null || fail "netagent of $1 did not stop within 3 s"
}

# net_add_host NAME: host netns, its node object, its pod bridge, its netagent.
net_add_host() {
	nh_host_create "$1" || fail "cannot create host $1"
	start_fake_agent "$1"
	wait_for 10 node_pod_cidr "$1"
	nh_podnet_create "$1" "$(node_pod_cidr "$1")" || fail "cannot create the pod bridge of $1"
	start_netagent "$1"
}

# report REPLICA STATE READY [ADDRESS]: a status report as the node's agent would send it;
# REPORT_T0 is the time just before it is sent.
report() {
	local node body
	node=$(api GET "/v1/replicas/$1" | jq -r .node)
	body=$(jq -nc --arg n "$node" --arg s "$2" --argjson r "$3" --arg a "${4:-}" \
		'{node: $n, state: $s, ready: $r} + (if $a == "" then {} else {address: $a} end)')
	REPORT_T0=$(now)
	api POST "/v1/replicas/$1/status" "$body" >/dev/null
}

# pod_ip HOST INDEX: address number 10+INDEX of HOST's pod subnet.
pod_ip() {
	local net
	net=$(node_pod_cidr "$1")
	net=${net%/*}
	echo "${net%.*}.$((${net##*.} + 10 + $2))"
}

# start_pod REPLICA: a pod on the replica's node running the webapp as REPLICA, answering.
# Records "REPLICA HOST IP PID" in pods.
start_pod() {
	local r=$1 host ip n pid
	host=$(api GET "/v1/replicas/$r" | jq -r .node)
	n=$(nh_count '^pod-.*\.host$')
	ip=$(pod_ip "$host" "$n")
	nh_pod_create "$host" "$r" "$ip" || fail "cannot create pod $r"
	pid=$(nh_bg "$r" "$ORCH_TMP/webapp-$r.log" env SKIFF_REPLICA="$r" SKIFF_NODE="$host" \
		"$WEBAPP" --port 8080 --threads 2)
	wait_for 10 nh_exec "$host" curl -sf -m 1 "http://$ip:8080/healthz"
	echo "$r $host $ip $pid" >>"$ORCH_TMP/pods"
}

# run_replica REPLICA: start_pod, then report it Running + ready with the pod's address.
run_replica() {
	start_pod "$1"
	report "$1" Running true "$(pod_field "$1" 3)"
}

pod_field() { # pod_field REPLICA COLUMN(2 host, 3 ip, 4 pid)
	awk -v r="$1" -v c="$2" '$1 == r {print $c}' "$ORCH_TMP/pods"
}

# via HOST TARGET N: N requests, each a new connection, to http://TARGET/api/info from inside
# HOST ("root": from the root namespace); prints the replica names, one per line.
via() {
	local host=$1 target=$2 n=$3 i
	for ((i = 0; i < n; i++)); do
		if [ "$host" = root ]; then
			curl -s -m 2 "http://$target/api/info"
		else
			nh_exec "$host" curl -s -m 2 "http://$target/api/info"
		fi | jq -r '.replica // "none"' 2>/dev/null || echo none
	done
}

# now: seconds since the epoch with nanoseconds.
now() {
	date +%s.%N
}

# elapsed T0: seconds since T0.
elapsed() {
	awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}'
}

# lt A B: A < B (decimals).
lt() {
	awk -v a="$1" -v b="$2" 'BEGIN {exit !(a < b)}'
}
