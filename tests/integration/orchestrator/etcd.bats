#!/usr/bin/env bats
# etcd.bats - the control plane on etcd: real etcd members (etcd.bash) on loopback, several
# `skiffd server --store etcd:...` on them speaking TLS under one CA shared through etcd,
# fake-runtime nodes whose agents join with a join token and know every server.  The trust
# is one: the CA (first start wins), admin, join and node credentials valid on every
# server, a revocation on one refused by the other.  One server leads (etcd lease); killing it hands the controllers to the other
# within the lease TTL + 2 s and a lost node is still healed; a dead etcd member does not
# stop writes; a restart of everything keeps every acknowledged write and duplicates no
# replica; etcd unreachable gives one clear line at start, 503s later, and recovery alone.

load helpers
load etcd
load etcd_servers

LEASE=3

setup() {
	orch_setup
	ETCD_TMP=$ORCH_TMP/etcd
	mkdir -p "$ETCD_TMP"
	SRV_PIDS=()
	SRV_URLS=()
	SRV_PORTS=()
}

teardown() {
	orch_teardown
	etcd_kill_all
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

@test "etcd unreachable at start: one clear line, exit non-zero" {
	port=$(free_port)
	SECONDS=0
	run timeout 20 "$SKIFFD" server --listen "127.0.0.1:$(free_port)" --data "$ORCH_TMP/d" \
		--store "etcd:http://127.0.0.1:$port"
	assert_one_line_error
	assert_contains "$output" "skiffd server: etcd http://127.0.0.1:$port unreachable"
	[ "$status" -eq 1 ] || fail "exit $status"
	[ "$SECONDS" -le 8 ] || fail "took ${SECONDS}s"
	run "$SKIFFD" server --store "etcd:ftp://x" --data "$ORCH_TMP/d"
	assert_one_line_error
	assert_contains "$output" "expected http://HOST:PORT"
}

# join_via URL TOKEN-FILE NODE: POST /v1/join with the join token in TOKEN-FILE; prints the
# HTTP status, writes the node's credential as a curl header file $ORCH_TMP/NODE.hdr (secrets
# through files and stdin, never argv).
join_via() {
	printf 'Authorization: Bearer %s\n' "$(sed 's/.*:://' "$2")" |
		ecurl -s -o "$ORCH_TMP/join.out" -w '%{http_code}' -H @- -X POST \
			--data "{\"node\":\"$3\"}" "$1/v1/join"
	(umask 077 && jq -r '"Authorization: Bearer \(.token // "")"' "$ORCH_TMP/join.out" \
		>"$ORCH_TMP/$3.hdr" 2>/dev/null) || true
}

@test "two servers started at once on a 3-member etcd share one trust: one CA, each its own certificate, every credential valid on both" {
	etcd_start 3
	# both at once on an empty etcd: create-if-absent of the CA picks one
	launch_etcd_server 0
	launch_etcd_server 1
	wait_etcd_server 0
	wait_etcd_server 1
	d0=$ORCH_TMP/data-s0 d1=$ORCH_TMP/data-s1
	cmp "$d0/ca.crt" "$d1/ca.crt"
	cmp "$d0/ca.key" "$d1/ca.key"
	! cmp -s "$d0/server.crt" "$d1/server.crt" || fail "one serving certificate for two servers"
	[ "$(ls "$ORCH_TMP"/data-s*/join-token | wc -l)" -eq 1 ] || fail "$(ls "$ORCH_TMP"/data-s*)"
	# each server verifies (host name included) against the other's copy of the CA
	curl -sf --cacert "$d0/ca.crt" "${SRV_URLS[1]}/healthz" >/dev/null
	curl -sf --cacert "$d1/ca.crt" "${SRV_URLS[0]}/healthz" >/dev/null
	# an admin credential per server, each valid on both
	! cmp -s "$d0/token" "$d1/token" || fail "the servers share one admin credential file"
	for d in 0 1; do
		use_server "$d"
		for s in 0 1; do
			ecurl -sf -H @"$AUTH_HDR" "${SRV_URLS[$s]}/v1/services" >/dev/null ||
				fail "s$d's admin credential refused by s$s"
		done
	done

	# a server started later, whose data dir already holds another CA (a SQLite server's),
	# adopts the cluster's CA from etcd instead
	other=$ORCH_TMP/data-s2
	sport=$(free_port)
	"$SKIFFD" server --listen "127.0.0.1:$sport" --data "$other" >"$ORCH_TMP/other.log" 2>&1 &
	pid=$!
	ORCH_PIDS+=("$pid")
	wait_for 10 test -s "$other/token"
	wait_for 10 curl -sf --cacert "$other/ca.crt" "https://127.0.0.1:$sport/healthz"
	# a server of another CA first in a client's list: not trusted, the next one answers
	URL=https://127.0.0.1:$sport DATA=$d0
	run ctl get services
	assert_status 1
	assert_contains "$output" "is not the cluster's: its certificate does not verify"
	URL=https://127.0.0.1:$sport,${SRV_URLS[1]}
	run ctl get services
	assert_status 0
	kill -TERM "$pid"
	wait "$pid" || true
	rm "$other/join-token" # the SQLite cluster's
	! cmp -s "$other/ca.crt" "$d0/ca.crt" || fail "the SQLite server made the cluster's CA"
	start_etcd_server 2
	cmp "$other/ca.crt" "$d0/ca.crt"
	cmp "$other/ca.key" "$d0/ca.key"
	[ ! -e "$other/join-token" ] || fail "the start on etcd wrote a join token"
	grep -q "join a node" <(sed -n '/store etcd/,$p' "$ORCH_TMP/server-s2.log") &&
		fail "s2 announced a join token of its own"
	use_server 2
	ecurl -sf -H @"$AUTH_HDR" "${SRV_URLS[0]}/v1/services" >/dev/null
	kill -KILL "${SRV_PIDS[2]}"
	unset 'SRV_URLS[2]' 'SRV_PORTS[2]'

	# a join token made on s1 joins a node through s0; one revoked on s0 is refused by s1
	URL=${SRV_URLS[1]} DATA=$d1
	ctl token create --ttl 10m >"$ORCH_TMP/jt1"
	[ "$(join_via "${SRV_URLS[0]}" "$ORCH_TMP/jt1" x1)" = 201 ] || fail "s0 refused s1's join token"
	URL=${SRV_URLS[0]} DATA=$d0
	ctl token create --ttl 10m >"$ORCH_TMP/jt0"
	id=$(sed 's/.*:://; s/\..*//' "$ORCH_TMP/jt0")
	ctl token delete "$id"
	refused() { [ "$(join_via "${SRV_URLS[1]}" "$ORCH_TMP/jt0" x2)" = 401 ]; }
	wait_for 5 refused
	# the node credential s0 issued to x1 is valid on s1, and only as node x1
	ecurl -sf -H @"$ORCH_TMP/x1.hdr" "${SRV_URLS[1]}/v1/nodes" >/dev/null ||
		fail "s1 refused the node credential s0 issued"
	[ "$(ecurl -s -o /dev/null -w '%{http_code}' -H @"$ORCH_TMP/x1.hdr" "${SRV_URLS[1]}/v1/tokens")" = 403 ]
	URL=${SRV_URLS[1]} DATA=$d1
	run ctl token list -o json
	assert_status 0
	jq -e '.items[] | select(.kind == "node" and .node == "x1")' <<<"$output" >/dev/null ||
		fail "s1 does not list x1's credential: $output"

	some_leads() { leading 0 || leading 1; }
	wait_for 10 some_leads
	lead=0
	leading 0 || lead=1
	follow=$((1 - lead))
	[ "$(leader_of "${SRV_URLS[$follow]}")" = "s$lead" ] || fail "s$follow sees leader $(leader_of "${SRV_URLS[$follow]}")"
	! leading "$follow"
	use_server "$follow"
	run ctl get servers
	assert_status 0
	grep -Eq "^s$lead +yes +https://127.0.0.1:" <<<"$output" || fail "$output"
	grep -Eq "^s$follow \(this\) +no " <<<"$output" || fail "$output"
	# a write on the follower, nodes joined through the follower: the leader schedules, both
	# see it
	start_agent n --count 2
	service "$ORCH_TMP/s.json" web 4
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 15 all_ready web 4
	URL=${SRV_URLS[$lead]}
	wait_for 5 all_ready web 4
	[ "$(ecurl -sf -H @"$AUTH_HDR" "${SRV_URLS[$lead]}/metrics" |
		awk '$1 == "skiff_leader" { print $2 }')" = 1 ]
}

@test "kill -9 of the leading server: the other leads within the lease TTL + 2 s and heals a node loss" {
	etcd_start 3
	start_etcd_server 0
	wait_for 10 leading 0
	start_etcd_server 1
	# agent a talks to s0 first, agent b to s1 first; each knows both
	use_server 0
	start_agent a --count 2
	AGENT_A=$AGENT_PID
	use_server 1
	start_agent b --count 2
	service "$ORCH_TMP/s.json" web 8
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 20 all_ready web 8
	wait_for 10 nodes_ready 4
	on_a=$(replicas_json web | jq '[.items[] | select(.node | startswith("a-"))] | length')
	[ "$on_a" -gt 0 ] || fail "no replica on the nodes of agent a"

	# the leader dies, and so does node a (its agent) at the same moment
	t0=$(now_ms)
	kill -KILL "${SRV_PIDS[0]}" "$AGENT_A"
	until leading 1; do
		[ $(($(now_ms) - t0)) -le $(((LEASE + 2) * 1000)) ] || fail "s1 not leading after $((LEASE + 2)) s"
		sleep 0.1
	done
	echo "# failover: $(($(now_ms) - t0)) ms" >&3
	# node a's replicas are replaced on b's nodes: lease TTL + node grace + 2 s from the kill
	use_server 1
	deadline=$((t0 + (LEASE + GRACE + 2) * 1000))
	until ready_off_node_prefix web a- 8; do
		[ "$(now_ms)" -le "$deadline" ] || fail "not healed: $(replicas_json web | jq -c '[.items[] | [.name, .node, .state]]')"
		sleep 0.2
	done
	echo "# healed: $(($(now_ms) - t0)) ms" >&3
}

# ready_off_node_prefix SERVICE PREFIX N: N live replicas, all ready, none on PREFIX* nodes.
ready_off_node_prefix() {
	replicas_json "$1" | jq -e --arg p "$2" --argjson c "$3" '
		[.items[] | select(.state | IN("Pending","Scheduled","Starting","Running","BackOff"))] as $live
		| ($live | length) == $c
		and ([$live[] | select(.state == "Running" and .ready and (.node | startswith($p) | not))] | length) == $c'
}

@test "one etcd member killed: writes go on; everything restarted: every acknowledged write kept, no replica duplicated" {
	etcd_start 3
	start_etcd_server 0
	start_etcd_server 1
	use_server 0
	start_agent n --count 3
	AGENT=$AGENT_PID
	for s in a b c; do
		service "$ORCH_TMP/$s.json" "$s" 3
		ctl apply -f "$ORCH_TMP/$s.json"
	done
	wait_for 20 all_ready c 3

	# the member every server and agent would try first goes away
	etcd_kill 0
	t0=$(now_ms)
	ctl scale a 5
	echo "# write with a member down: $(($(now_ms) - t0)) ms" >&3
	use_server 1
	ctl scale b 4
	service "$ORCH_TMP/d.json" d 2
	ctl apply -f "$ORCH_TMP/d.json"
	wait_for 20 all_ready a 5
	wait_for 20 all_ready b 4
	wait_for 20 all_ready d 2
	before=$(replicas_json | jq -r '.items[] | "\(.service) \(.name)"' | sort)
	svc_before=$(api GET /v1/services | jq -c '[.items[] | {name, replicas, generation}]')

	# everything stops: servers and agent by SIGKILL, etcd members by SIGTERM
	kill -KILL "${SRV_PIDS[0]}" "${SRV_PIDS[1]}" "$AGENT"
	etcd_kill 1 TERM
	etcd_kill 2 TERM
	etcd_restart 0 1 2
	start_etcd_server 0
	start_etcd_server 1
	use_server 1
	start_agent n --count 3
	wait_for 15 nodes_ready 3
	sleep $((GRACE + 1)) # past the node grace: nothing may have been replaced
	wait_for 20 all_ready a 5
	svc_after=$(api GET /v1/services | jq -c '[.items[] | {name, replicas, generation}]')
	assert_eq "$svc_after" "$svc_before" "services"
	after=$(replicas_json | jq -r '.items[] | "\(.service) \(.name)"' | sort)
	assert_eq "$after" "$before" "replicas"
	[ "$(wc -l <<<"$after")" -eq 14 ] || fail "$(wc -l <<<"$after") replicas: $after"
}

@test "etcd lost while running: writes answer 503, reads go on, the server recovers alone" {
	etcd_start 1
	start_etcd_server 0
	wait_for 10 leading 0
	use_server 0
	service "$ORCH_TMP/s.json" web 2
	ctl apply -f "$ORCH_TMP/s.json"
	etcd_kill 0
	sleep 0.5
	t0=$(now_ms)
	run api POST /v1/apply "$(cat "$ORCH_TMP/s.json" | jq '.replicas = 3')"
	assert_contains "$output" '"code":503'
	[ $(($(now_ms) - t0)) -le 5000 ] || fail "503 took $(($(now_ms) - t0)) ms"
	run api GET /v1/services/web
	assert_contains "$output" '"replicas":2'
	# a second write while etcd is still down answers at once (back-off, no new wait)
	t0=$(now_ms)
	run api POST /v1/apply "$(cat "$ORCH_TMP/s.json" | jq '.replicas = 3')"
	assert_contains "$output" '"code":503'
	echo "# 503 while down: $(($(now_ms) - t0)) ms" >&3
	# lease lost: the server stops leading
	wait_for 10 bash -c "! curl -sf --cacert $(cluster_ca) ${SRV_URLS[0]}/healthz | grep -q '\"leading\":true'"
	etcd_restart 0
	t0=$(now_ms)
	until ctl scale web 3 >/dev/null 2>&1; do
		[ $(($(now_ms) - t0)) -le 15000 ] || fail "writes did not recover"
		sleep 0.2
	done
	echo "# writes back after: $(($(now_ms) - t0)) ms" >&3
	wait_for 15 leading 0
	start_agent n --count 1
	wait_for 20 all_ready web 3
	grep -q "skiffd server" "$ORCH_TMP/server-s0.log" && fail "server exited"
	kill -0 "${SRV_PIDS[0]}"
}
