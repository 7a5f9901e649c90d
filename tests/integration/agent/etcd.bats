#!/usr/bin/env bats
# etcd.bats - the real node agent on a control plane of two `skiffd server`s sharing one
# etcd (started by the test on loopback), over TLS under the CA they share: the agent joins
# with the join token and is given both URLs (--server URL,URL); a replica's log is served
# through either server, the one that leads or not (each presents the node's server token,
# which the join stored in etcd); when the server the agent talks to (and joined through) is
# killed, the agent moves to the other with the node credential the dead one issued, the
# other takes over the lead, and the replica's restart reaches it; skiffctl with the dead
# server first in its list fails over.

load helpers
load ../orchestrator/etcd
load ../orchestrator/etcd_servers

LEASE=3

setup_file() {
	agent_setup_file
}

teardown_file() {
	agent_teardown_file
}

setup() {
	agent_setup_host
	ETCD_TMP=$ORCH_TMP/etcd
	mkdir -p "$ETCD_TMP"
}

teardown() {
	agent_teardown
	etcd_kill_all
}

# logs_via I NAME: `skiffctl logs NAME` through server I alone.
logs_via() {
	"$SKIFFCTL" --server "${SRV_URLS[$1]}" --data "$ORCH_TMP/data-s$1" logs "$2"
}

@test "agent with --server URL,URL: logs through the leader and the follower; its server killed, it reports to the other" {
	etcd_start 1
	start_etcd_server 0
	wait_for 10 leading 0
	start_etcd_server 1
	use_server 0 # the agent talks to s0 (the leader) first
	start_real_agent
	webapp_service "$ORCH_TMP/web.json" web 1
	ctl apply -f "$ORCH_TMP/web.json"
	wait_for 30 all_ready web 1
	local r
	r=$(replica_names web)
	for i in 0 1; do
		run logs_via "$i" "$r"
		assert_status 0
		assert_contains "$output" "listening on 0.0.0.0 port 8080: replica $r, node n1"
	done
	# a follow through the follower sees what the replica writes next
	"$SKIFFCTL" --server "${SRV_URLS[1]}" --data "$ORCH_TMP/data-s1" logs -f "$r" \
		>"$ORCH_TMP/follow.out" 2>&1 &
	ORCH_PIDS+=($!)
	sleep 0.5

	# the agent's server (and leader) dies; the replica crashes meanwhile
	kill -KILL "${SRV_PIDS[0]}"
	curl -sf -m 2 -X POST "http://$(replica .address "$r"):8080/crash" >/dev/null
	wait_file_contains "$ORCH_TMP/follow.out" "POST /crash: exiting with code 1" 10
	wait_for $((LEASE + 5)) leading 1
	# the restart is reported to s1 only: the agent's status went there
	URL=${SRV_URLS[1]}
	wait_for 20 ready_with_restarts "$r" 1
	# skiffctl with the dead server first in its list
	URL=$(urls_from 0)
	run ctl logs "$r" --tail 1
	assert_status 0
	assert_contains "$output" "listening on"
	# the heartbeats go to s1 as well: the node stays Ready past its grace under s1's lead
	sleep $((GRACE + 1))
	URL=${SRV_URLS[1]}
	nodes_ready 1 || fail "$(api GET /v1/nodes | jq -c '[.items[] | [.name, .status]]')"
}
