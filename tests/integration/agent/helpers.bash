# tests/integration/agent/helpers.bash - the real node agent against a real server, as root:
# each file builds the webapp image once into its own image store (setup_file); each test
# starts its own `skiffd server` (free loopback port, temp --data) and its own `skiffd agent`
# (temp --root, its own bridge and /24 that no interface uses, --agent-port 0), and
# teardown kills both and removes every container, cgroup, veth, lease and the bridge the
# test's agent made, also when the test failed.  Only addresses of the test's own /24 (its
# containers) and loopback are ever a target.

# shellcheck source=../orchestrator/helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/../orchestrator/helpers.bash"

SKIFF=$SKIFF_BUILD/skiff
# A node silent this long is NotReady: long enough for an agent restart under ASan on a
# loaded machine (the orchestrator tests use 3 s).
GRACE=${AGENT_TEST_GRACE:-8}
TOP=$(cd "$BATS_TEST_DIRNAME/../../.." && pwd)

# agent_setup_file: the webapp image in $AGENT_STORE (built from build/webapp).
agent_setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "the agent's tests run as root"
	[ -x "$SKIFF_BUILD/skiffd" ] || skip "skiffd not built"
	[ -x "$SKIFF_BUILD/webapp" ] || skip "webapp not built"
	AGENT_FILE_TMP=$(mktemp -d /tmp/skiff-agent.XXXXXX)
	chmod 0755 "$AGENT_FILE_TMP"
	export AGENT_FILE_TMP AGENT_STORE=$AGENT_FILE_TMP/store
	SKIFF_IMAGE_ROOT=$AGENT_STORE SKIFF=$SKIFF WEBAPP=$SKIFF_BUILD/webapp \
		"$TOP/images/webapp/build" >"$AGENT_FILE_TMP/image.log" 2>&1 || {
		cat "$AGENT_FILE_TMP/image.log" >&2
		return 1
	}
}

agent_teardown_file() {
	[ -n "${AGENT_FILE_TMP:-}" ] && rm -rf "$AGENT_FILE_TMP"
	true
}

# agent_setup: server, temp dirs, a bridge name and a free /24 for this test.
agent_setup() {
	agent_setup_host
	start_server
}

# agent_setup_host: agent_setup without the server (a test that starts its own).
agent_setup_host() {
	orch_setup
	chmod 0755 "$ORCH_TMP"
	AROOT=$ORCH_TMP/root
	BR="sa$(($$ % 100000))t${BATS_TEST_NUMBER}"
	local n i
	for ((i = 0; i < 200; i++)); do
		n=$(((($$ + BATS_TEST_NUMBER * 13 + i) % 200) + 20))
		ip -4 -o addr show | grep -q " 10\.214\.$n\." || break
	done
	SUBNET=10.214.$n.0/24
	SUBNET_PREFIX=10.214.$n.
	AGENT_PID=
}

# agent_teardown: kill the agent, remove what its containers hold, the bridge, the server.
# Every step goes on when one fails (teardown runs under set -e).
agent_teardown() {
	local id p pass
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -f "${AGENT_LOG:-}" ]; then
		echo "--- agent log (last 40 lines)" >&2
		tail -40 "$AGENT_LOG" >&2 || true
	fi
	if [ -n "${AGENT_PID:-}" ]; then kill -KILL "$AGENT_PID" 2>/dev/null || true; fi
	# a create its runtime helper died in still finishes in the container's monitor: let it
	# settle; monitors and not yet started inits carry the test's own --state-root
	sleep 0.3
	for pass in 1 2; do
		[ -d "${AROOT:-}/state" ] || break
		for id in $(ls "$AROOT/state"); do
			[ "${id:0:1}" = . ] && continue
			timeout 20 "$SKIFF" --root "$AROOT/state" delete --force "$id" >/dev/null 2>&1 || true
		done
		for p in $(pgrep -f -- "--state-root $AROOT/state" || true); do
			kill -KILL "$p" 2>/dev/null || true
		done
		sleep 0.2
	done
	# cgroups of replicas whose create died before their state dir was written (delete --force
	# cannot find those): the server still knows every replica of the test
	for id in $(api GET /v1/replicas 2>/dev/null | jq -r '.items[].name' 2>/dev/null); do
		for p in /sys/fs/cgroup/*/skiff/"$id" /sys/fs/cgroup/skiff/"$id"; do
			if [ -d "$p" ]; then rmdir "$p" 2>/dev/null || true; fi
		done
	done
	ip link del "$BR" 2>/dev/null || true
	orch_teardown
}

# start_real_agent [ARGS...]: the agent for node n1 on the test's root, bridge and subnet.
# Sets AGENT_PID, AGENT_LOG; waits until the node is registered.
start_real_agent() {
	AGENT_LOG=$ORCH_TMP/agent.log
	"$SKIFFD" agent --server "$URL" --token-file "$DATA/join-token" --name n1 --root "$AROOT" \
		--bridge "$BR" --pod-cidr "$SUBNET" --agent-port 0 --image-root "$AGENT_STORE" \
		--log-retention 0 --cpu 2 --memory 2Gi "$@" >>"$AGENT_LOG" 2>&1 &
	AGENT_PID=$!
	ORCH_PIDS+=("$AGENT_PID")
	wait_for 10 grep -q "registered" "$AGENT_LOG"
}

# webapp_service FILE NAME REPLICAS [JQ-EXPR]: a web app service (crash allowed, probes).
webapp_service() {
	jq -n --arg n "$2" --argjson r "$3" '{
		name: $n, image: "webapp", replicas: $r,
		command: ["/webapp", "--allow-crash"], env: {PORT: "8080"},
		resources: {cpu: 0.5, memory: "64Mi"},
		health: {
			liveness: {http: {path: "/healthz", port: 8080}, period: 2, timeout: 1, failureThreshold: 3},
			readiness: {http: {path: "/readyz", port: 8080}, period: 1, timeout: 1, failureThreshold: 1}
		},
		terminationGracePeriod: 5, restart: "always"}' | jq "${4:-.}" >"$1"
}

# replica FIELD NAME: one field of a replica (jq path, e.g. .state).
replica() {
	api GET "/v1/replicas/$2" | jq -r "$1"
}

# replica_names SERVICE: the names, sorted.
replica_names() {
	replicas_json "$1" | jq -r '.items[].name' | sort
}

# info ADDRESS: the web app's /api/info at a replica's address.
info() {
	curl -sf -m 2 "http://$1:8080/api/info"
}

# answers_as NAME: the replica's address answers /api/info with its own name.
answers_as() {
	local a
	a=$(replica .address "$1")
	[[ "$a" == "$SUBNET_PREFIX"* ]] || return 1
	info "$a" | jq -e --arg n "$1" '.replica == $n' >/dev/null
}

# ready_with_restarts NAME N: Running, ready, N restarts.
ready_with_restarts() {
	api GET "/v1/replicas/$1" | jq -e --argjson n "$2" '.state == "Running" and .ready and .restarts == $n' >/dev/null
}

# init_pid NAME: the pid of the replica's process on the host.
init_pid() {
	jq -r .pid "$AROOT/state/$1/state.json"
}

# leftovers NAME: what is still on the host of a replica's container, one line per thing.
leftovers() {
	local n=$1 d
	[ ! -e "$AROOT/state/$n" ] || echo "state dir $AROOT/state/$n"
	[ ! -e "$AROOT/data/containers/$n" ] || echo "data dir $AROOT/data/containers/$n"
	for d in /sys/fs/cgroup/*/skiff/"$n" /sys/fs/cgroup/skiff/"$n"; do
		[ ! -e "$d" ] || echo "cgroup $d"
	done
	if [ -f "$AROOT/net/ipam-$BR.json" ] && jq -e --arg n "$n" '.leases[$n]' "$AROOT/net/ipam-$BR.json" >/dev/null; then
		echo "lease of $n"
	fi
	grep -F "$AROOT/" /proc/mounts | sed 's/^/mount /'
	[ ! -e "$AROOT/logs/$n.log" ] || echo "log $AROOT/logs/$n.log"
	true
}

# bridge_ports: veths still attached to the test's bridge.
bridge_ports() {
	ip -o link show master "$BR" 2>/dev/null | awk -F': ' '{print "veth " $2}'
}

# monitors: monitor processes of the test's containers still alive.
monitors() {
	local p
	for p in $(pgrep -f -- "--state-root $AROOT/state"); do
		[ "$(cat /proc/$p/comm 2>/dev/null)" = skiff-monitor ] && echo "monitor $p"
	done
	true
}

# state_is NAME STATE: the replica is in STATE.
state_is() {
	[ "$(replica .state "$1")" = "$2" ]
}

# has_state SERVICE STATE: some replica of SERVICE is in STATE.
has_state() {
	replicas_json "$1" | jq -e --arg s "$2" '[.items[] | select(.state == $s)] | length > 0' >/dev/null
}

# replica_count N: the server holds N replicas.
replica_count() {
	[ "$(replicas_json | jq '.items | length')" -eq "$1" ]
}

# no_containers: the agent's root holds no container.
no_containers() {
	[ -z "$(find "$AROOT/state" "$AROOT/data/containers" -mindepth 1 -maxdepth 1 -not -name '.*' 2>/dev/null)" ]
}

# ready_is NAME true|false
ready_is() {
	[ "$(replica .ready "$1")" = "$2" ]
}

# restarts_at_least NAME N
restarts_at_least() {
	[ "$(replica .restarts "$1")" -ge "$2" ]
}

# events_match REGEX: an event message (with its reason) matches.
events_match() {
	api GET /v1/events | jq -r '.items[] | .reason + " " + .message' | grep -Eq "$1"
}

# replica_gone NAME: the server no longer has it.
replica_gone() {
	[ "$(api GET "/v1/replicas/$1" | jq -r .code)" = 404 ]
}

# live_count_is SERVICE N
live_count_is() {
	[ "$(live_count "$1")" -eq "$2" ]
}

# any_lost: some replica is Lost.
any_lost() {
	replicas_json | jq -e '[.items[] | select(.state == "Lost")] | length > 0' >/dev/null
}

# pid_changed NAME OLDPID: the replica's container has another process now.
pid_changed() {
	[ -f "$AROOT/state/$1/state.json" ] && [ "$(init_pid "$1")" != "$2" ]
}

# lines_in FILE TEXT N: exactly N lines of FILE hold TEXT.
lines_in() {
	[ "$(grep -c -- "$2" "$1")" -eq "$3" ]
}

# reason_has NAME TEXT: the replica's reason holds TEXT.
reason_has() {
	[[ "$(replica .reason "$1")" == *"$2"* ]]
}

# answers_as_ip NAME: the container of NAME (address from its state) answers as NAME.
answers_as_ip() {
	local a
	a=$(jq -r '.annotations["org.skiff.net.ip"]' "$AROOT/state/$1/state.json") || return 1
	info "$a" | jq -e --arg n "$1" '.replica == $n' >/dev/null
}
