# tests/integration/orchestrator/etcd_servers.bash - several `skiffd server --store etcd:...`
# on the test's etcd (etcd.bash), for the bats files that need them (orchestrator/etcd.bats,
# agent/etcd.bats).  Needs helpers.bash (free_port, fail, ORCH_TMP, ORCH_PIDS) and the
# caller's LEASE and GRACE; servers are s0, s1, ... with SRV_PIDS, SRV_URLS, SRV_PORTS.
# The servers speak TLS under the one CA they share through etcd (the first start made it);
# credentials go through files (curl header files, skiffctl --data), never argv.
#
#   start_etcd_server I [ARGS...]   start (or restart) server I, wait for /healthz
#   launch_etcd_server I [ARGS...]  the same without waiting (several starting at once);
#   wait_etcd_server I              then wait for it
#   use_server I                    URL (every server, I first), DATA and AUTH_HDR for
#                                   api/ctl/agents; agents join with join_token_file
#   join_token_file                 the join token the cluster's first start wrote
#   leading I / leader_of URL       who leads
#   cluster_ca / ecurl ARG...       the CA every server shares; curl trusting it
#   api METHOD PATH [BODY]          helpers.bash's api, trying each URL of $URL in turn

SRV_PIDS=()
SRV_URLS=()
SRV_PORTS=()

# launch_etcd_server I [ARGS...]: server I (s0, s1, ...) on the test's etcd, its own data
# dir.  Port and data dir are kept across restarts.
launch_etcd_server() {
	local i=$1
	shift
	SRV_PORTS[$i]=${SRV_PORTS[$i]:-$(free_port)}
	SRV_URLS[$i]=https://127.0.0.1:${SRV_PORTS[$i]}
	"$SKIFFD" server --listen "127.0.0.1:${SRV_PORTS[$i]}" --data "$ORCH_TMP/data-s$i" \
		--store "etcd:$ETCD_ENDPOINTS" --name "s$i" --leader-lease "$LEASE" --node-grace "$GRACE" \
		"$@" >>"$ORCH_TMP/server-s$i.log" 2>&1 &
	SRV_PIDS[$i]=$!
	ORCH_PIDS+=("${SRV_PIDS[$i]}")
}

# wait_etcd_server I: /healthz answers over TLS verified against the server's CA.
wait_etcd_server() {
	local i=$1 t d=$ORCH_TMP/data-s$1
	for ((t = 0; t < 100; t++)); do
		[ -s "$d/token" ] && [ -s "$d/ca.crt" ] &&
			curl -sf --cacert "$d/ca.crt" "${SRV_URLS[$i]}/healthz" >/dev/null 2>&1 && return 0
		kill -0 "${SRV_PIDS[$i]}" 2>/dev/null || break
		sleep 0.1
	done
	cat "$ORCH_TMP/server-s$i.log" >&2
	fail "server s$i did not come up"
}

start_etcd_server() {
	launch_etcd_server "$@"
	wait_etcd_server "$1"
}

# Every server's URL, the given one first.
urls_from() { # I
	local i=$1 out=${SRV_URLS[$1]} j
	for j in "${!SRV_URLS[@]}"; do [ "$j" = "$i" ] || out+=",${SRV_URLS[$j]}"; done
	echo "$out"
}

# The join token of the cluster's first start (only the server whose start made the CA
# writes one).
join_token_file() {
	local f
	for f in "$ORCH_TMP"/data-s*/join-token; do
		[ -s "$f" ] && { echo "$f"; return 0; }
	done
	fail "no server wrote a join token"
}

use_server() { # I: api/ctl/agents talk to server I (then the others)
	URL=$(urls_from "$1")
	DATA=$ORCH_TMP/data-s$1
	auth_header_file
}

# start_agent NAME [ARGS...]: helpers.bash's, joined with the cluster's join token through
# every server of $URL (the token may come from another server than the first of the list).
start_agent() {
	local name=$1
	shift
	"$SKIFFD" agent --fake-runtime --server "$URL" --join-token-file "$(join_token_file)" \
		--name "$name" "$@" >>"$ORCH_TMP/agent-$name.log" 2>&1 &
	AGENT_PID=$!
	ORCH_PIDS+=("$AGENT_PID")
}

# The cluster CA: any server's copy (every server of the store has the same one).
cluster_ca() {
	local f
	for f in "$ORCH_TMP"/data-s*/ca.crt; do
		[ -s "$f" ] && { echo "$f"; return 0; }
	done
	echo /nonexistent
}

# ecurl ARG...: curl that trusts the cluster CA (no credential).
ecurl() {
	curl --cacert "$(cluster_ca)" "$@"
}

leader_of() { # URL: the leader's name as that server sees it
	ecurl -sf -m 2 "$1/healthz" | jq -r '.leader // ""'
}

leading() { # I: server I says it leads
	[ "$(ecurl -sf -m 2 "${SRV_URLS[$1]}/healthz" | jq -r .leading)" = true ]
}

# api (helpers.bash) with failover: the first URL of $URL that answers.
api() {
	local u
	for u in ${URL//,/ }; do
		ecurl -sS -m 5 -X "$1" -H @"$AUTH_HDR" \
			${3:+-H 'Content-Type: application/json' --data "$3"} "$u$2" && return 0
	done
	return 1
}
