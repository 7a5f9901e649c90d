#!/usr/bin/env bats
# etcd.bats - the control plane on etcd: real etcd members (etcd.bash) on loopback, several
# `skiffd server --store etcd:...` on them, fake-runtime nodes whose agents know every
# server.  One server leads (etcd lease); killing it hands the controllers to the other
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

@test "two servers on a 3-member etcd: one leads, both serve, one token, get servers" {
	etcd_start 3
	start_etcd_server 0
	start_etcd_server 1
	cmp "$ORCH_TMP/data-s0/token" "$ORCH_TMP/data-s1/token"
	wait_for 10 leading 0
	[ "$(leader_of "${SRV_URLS[1]}")" = s0 ] || fail "s1 sees leader $(leader_of "${SRV_URLS[1]}")"
	! leading 1
	use_server 1
	run ctl get servers
	assert_status 0
	grep -Eq '^s0 +yes +http://127.0.0.1:' <<<"$output" || fail "$output"
	grep -Eq '^s1 \(this\) +no ' <<<"$output" || fail "$output"
	# a write on the follower, a node on the follower: the leader schedules, both see it
	start_agent n --count 2
	service "$ORCH_TMP/s.json" web 4
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 15 all_ready web 4
	URL=${SRV_URLS[0]}
	wait_for 5 all_ready web 4
	[ "$(curl -sf "${SRV_URLS[0]}/metrics" -H "Authorization: Bearer $(cat "$DATA/token")" |
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
	wait_for 10 bash -c "! curl -sf ${SRV_URLS[0]}/healthz | grep -q '\"leading\":true'"
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
