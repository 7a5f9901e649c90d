# tests/integration/orchestrator/helpers.bash - shared helpers of the orchestrator tests:
# a real `skiffd server` on a free loopback port with a temp --data dir, speaking TLS under
# the CA it made there, fake agents (`skiffd agent --fake-runtime`) that join with the join
# token the server wrote, skiffctl bound to both, polling helpers.  Credentials go through
# files, never argv: skiffctl reads DATA/token, curl a header file (curl -H @FILE).  Every process a
# test starts is remembered and killed (SIGCONT first, then SIGKILL) in orch_teardown, which
# also removes the temp dir.

# shellcheck source=../common.bash
source "$(dirname "${BASH_SOURCE[0]}")/../common.bash"

SKIFF_BUILD=${SKIFF_BUILD:-$(cd "$BATS_TEST_DIRNAME/../../.." && pwd)/build}
SKIFFD=$SKIFF_BUILD/skiffd
SKIFFCTL=$SKIFF_BUILD/skiffctl
EXAMPLES=$(cd "$BATS_TEST_DIRNAME/../../.." && pwd)/examples
# Node grace used by the tests (the server default is 5 s; shorter keeps the suite quick).
GRACE=${ORCH_TEST_GRACE:-3}

orch_setup() {
	[ -x "$SKIFFD" ] || skip "skiffd not built ($SKIFFD)"
	[ -x "$SKIFFCTL" ] || skip "skiffctl not built ($SKIFFCTL)"
	ORCH_TMP=$(mktemp -d /tmp/skiff-orch.XXXXXX)
	DATA=$ORCH_TMP/data
	ORCH_PIDS=()
	SERVER_PID=
}

orch_teardown() {
	local p
	for p in "${ORCH_PIDS[@]}"; do
		kill -CONT "$p" 2>/dev/null || true
		kill -KILL "$p" 2>/dev/null || true
	done
	for p in "${ORCH_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	[ -n "${ORCH_TMP:-}" ] && rm -rf "$ORCH_TMP"
	true
}

# start_server [ARGS...]: skiffd server on 127.0.0.1:$PORT (chosen once per test, reused by
# restarts) with --data $DATA; waits for /healthz.  Sets SERVER_PID, URL.  A port chosen here
# that another process took between the check and the listen (other suites run beside this
# one) is chosen again.
start_server() {
	local i attempt off fresh=0
	[ -n "${PORT:-}" ] || fresh=1
	touch "$ORCH_TMP/server.log"
	for ((attempt = 0; attempt < 3; attempt++)); do
		[ "$fresh" = 0 ] || [ "$attempt" = 0 -a -n "${PORT:-}" ] || PORT=$(free_port)
		URL=https://127.0.0.1:$PORT
		[[ " $* " != *" --insecure-http "* ]] || URL=http://127.0.0.1:$PORT
		off=$(stat -c %s "$ORCH_TMP/server.log")
		"$SKIFFD" server --listen "127.0.0.1:$PORT" --data "$DATA" --node-grace "$GRACE" "$@" \
			>>"$ORCH_TMP/server.log" 2>&1 &
		SERVER_PID=$!
		ORCH_PIDS+=("$SERVER_PID")
		for ((i = 0; i < 100; i++)); do
			if [ -s "$DATA/token" ] && [ -s "$DATA/ca.crt" ] &&
				curl -sf --cacert "$DATA/ca.crt" "$URL/healthz" >/dev/null 2>&1; then
				auth_header_file
				return 0
			fi
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		sleep 0.1
		[ "$fresh" = 1 ] && tail -c +$((off + 1)) "$ORCH_TMP/server.log" |
			grep -q "Address already in use" || break
	done
	cat "$ORCH_TMP/server.log" >&2
	fail "server did not come up on $URL"
}

# auth_header_file: $AUTH_HDR, the admin credential as a curl header file (0600).
auth_header_file() {
	AUTH_HDR=$ORCH_TMP/auth.hdr
	(umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$DATA/token")" >"$AUTH_HDR")
}

# tcurl ARG...: curl that trusts the cluster CA (no credential).
tcurl() {
	curl --cacert "$DATA/ca.crt" "$@"
}

# start_agent NAME [ARGS...]: a fake agent for node NAME (or NAME-0.. with --count), joined
# with the join token the server made at its first start (one credential per node).
# Sets AGENT_PID.
start_agent() {
	local name=$1
	shift
	"$SKIFFD" agent --fake-runtime --server "$URL" --join-token-file "$DATA/join-token" \
		--name "$name" "$@" >>"$ORCH_TMP/agent-$name.log" 2>&1 &
	AGENT_PID=$!
	ORCH_PIDS+=("$AGENT_PID")
}

# ctl ARG...: skiffctl against the test's server, token from the data dir.
ctl() {
	"$SKIFFCTL" --server "$URL" --data "$DATA" "$@"
}

# ctl_bg OUT ARG...: skiffctl in the background (a watch), output to OUT; killed in teardown.
ctl_bg() {
	local out=$1
	shift
	"$SKIFFCTL" --server "$URL" --data "$DATA" "$@" >"$out" 2>&1 &
	ORCH_PIDS+=($!)
}

# api METHOD PATH [BODY]: raw API call as the admin; prints the body.
api() {
	tcurl -sS -X "$1" -H @"$AUTH_HDR" \
		${3:+-H 'Content-Type: application/json' --data "$3"} "$URL$2"
}

# metric NAME: a sample of /metrics (0 when absent)
metric() {
	api GET /metrics | awk -v m="$1" '$1 == m { print $2; found = 1 } END { if (!found) print 0 }'
}

# wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds.
wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 5; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	"$@" >&2 || true
	fail "timed out after ${secs}s: $*"
}

# replicas_json [SERVICE]: the replica list (items).
replicas_json() {
	if [ -n "${1:-}" ]; then api GET "/v1/replicas?service=$1"; else api GET /v1/replicas; fi
}

# count_state SERVICE STATE: number of replicas of SERVICE in STATE (ready ones for
# "Ready").
count_state() {
	if [ "$2" = Ready ]; then
		replicas_json "$1" | jq '[.items[] | select(.state == "Running" and .ready)] | length'
	else
		replicas_json "$1" | jq --arg s "$2" '[.items[] | select(.state == $s)] | length'
	fi
}

# live_count SERVICE: replicas counted toward the desired number (API.md "Live").
live_count() {
	replicas_json "$1" |
		jq '[.items[] | select(.state | IN("Pending","Scheduled","Starting","Running","BackOff"))] | length'
}

# all_ready SERVICE N: exactly N replicas, all Running and ready.
all_ready() {
	local out
	out=$(replicas_json "$1") || return 1
	[ "$(jq '.items | length' <<<"$out")" -eq "$2" ] &&
		[ "$(jq '[.items[] | select(.state == "Running" and .ready)] | length' <<<"$out")" -eq "$2" ]
}

# ready_on SERVICE NODE N: exactly N replicas of SERVICE, all ready on NODE.
ready_on() {
	replicas_json "$1" | jq -e --arg n "$2" --argjson c "$3" \
		'(.items | length) == $c and ([.items[] | select(.state == "Running" and .ready and .node == $n)] | length) == $c'
}

# ready_off_node SERVICE NODE N: exactly N live replicas of SERVICE, all ready, none on NODE.
ready_off_node() {
	replicas_json "$1" | jq -e --arg n "$2" --argjson c "$3" '
		[.items[] | select(.state | IN("Pending","Scheduled","Starting","Running","BackOff"))] as $live
		| ($live | length) == $c
		and ([$live[] | select(.state == "Running" and .ready and .node != $n)] | length) == $c'
}

# live_ready_without SERVICE N NAME: N live replicas, all ready, NAME not among them.
live_ready_without() {
	replicas_json "$1" | jq -e --argjson c "$2" --arg v "$3" '
		[.items[] | select(.state | IN("Pending","Scheduled","Starting","Running","BackOff"))] as $live
		| ($live | length) == $c
		and ([$live[] | select(.state == "Running" and .ready and .name != $v)] | length) == $c'
}

# nodes_in STATUS N: N registered nodes in STATUS (Ready, NotReady).
nodes_in() {
	[ "$(api GET /v1/nodes | jq --arg s "$1" '[.items[] | select(.status == $s)] | length')" -eq "$2" ]
}

# nodes_ready N: N nodes registered and Ready.
nodes_ready() {
	nodes_in Ready "$1"
}

# rollout_state SERVICE STATE
rollout_state() {
	[ "$(api GET "/v1/services/$1/rollout" | jq -r .state)" = "$2" ]
}

# service FILE NAME REPLICAS [JQ-EXPR]: write a service file (no ports, small resources).
service() {
	jq -n --arg n "$2" --argjson r "$3" \
		'{name: $n, image: "webapp", replicas: $r, resources: {cpu: 0.1, memory: "16Mi"}}' |
		jq "${4:-.}" >"$1"
}
