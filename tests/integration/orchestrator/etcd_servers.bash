# tests/integration/orchestrator/etcd_servers.bash - several `skiffd server --store etcd:...`
# on the test's etcd (etcd.bash), for the bats files that need them (orchestrator/etcd.bats,
# agent/etcd.bats).  Needs helpers.bash (free_port, fail, ORCH_TMP, ORCH_PIDS) and the
# caller's LEASE and GRACE; servers are s0, s1, ... with SRV_PIDS, SRV_URLS, SRV_PORTS.
#
#   start_etcd_server I [ARGS...]   start (or restart) server I, wait for /healthz
#   use_server I                    URL (every server, I first) and DATA for api/ctl/agents
#   leading I / leader_of URL       who leads
#   api METHOD PATH [BODY]          helpers.bash's api, trying each URL of $URL in turn

SRV_PIDS=()
SRV_URLS=()
SRV_PORTS=()

# start_etcd_server I [ARGS...]: server I (s0, s1, ...) on the test's etcd, its own data dir;
# waits for /healthz.  Port and data dir are kept across restarts.
start_etcd_server() {
	local i=$1 t
	shift
	SRV_PORTS[$i]=${SRV_PORTS[$i]:-$(free_port)}
	SRV_URLS[$i]=http://127.0.0.1:${SRV_PORTS[$i]}
	"$SKIFFD" server --listen "127.0.0.1:${SRV_PORTS[$i]}" --data "$ORCH_TMP/data-s$i" \
		--store "etcd:$ETCD_ENDPOINTS" --name "s$i" --leader-lease "$LEASE" --node-grace "$GRACE" \
		"$@" >>"$ORCH_TMP/server-s$i.log" 2>&1 &
	SRV_PIDS[$i]=$!
	ORCH_PIDS+=("${SRV_PIDS[$i]}")
	for ((t = 0; t < 100; t++)); do
		curl -sf "${SRV_URLS[$i]}/healthz" >/dev/null 2>&1 && [ -s "$ORCH_TMP/data-s$i/token" ] && return 0
		kill -0 "${SRV_PIDS[$i]}" 2>/dev/null || break
		sleep 0.1
	done
	cat "$ORCH_TMP/server-s$i.log" >&2
	fail "server s$i did not come up"
}

# Every server's URL, the given one first.
urls_from() { # I
	local i=$1 out=${SRV_URLS[$1]} j
	for j in "${!SRV_URLS[@]}"; do [ "$j" = "$i" ] || out+=",${SRV_URLS[$j]}"; done
	echo "$out"
}

use_server() { # I: api/ctl/agents talk to server I (then the others)
	URL=$(urls_from "$1")
	DATA=$ORCH_TMP/data-s$1
}

leader_of() { # URL: the leader's name as that server sees it
	curl -sf -m 2 "$1/healthz" | jq -r '.leader // ""'
}

leading() { # I: server I says it leads
	[ "$(curl -sf -m 2 "${SRV_URLS[$1]}/healthz" | jq -r .leading)" = true ]
}

# api (helpers.bash) with failover: the first URL of $URL that answers.
api() {
	local u
	for u in ${URL//,/ }; do
		curl -sS -m 5 -X "$1" -H "Authorization: Bearer $(cat "$DATA/token")" \
			${3:+-H 'Content-Type: application/json' --data "$3"} "$u$2" && return 0
	done
	return 1
}
