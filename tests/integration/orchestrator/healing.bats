#!/usr/bin/env bats
# healing.bats - self-healing with fake nodes: a failed replica is replaced, a lost node's
# replicas move elsewhere within grace + 2 s, a node that comes back causes no over-count,
# and a SIGKILLed server restarted on the same data keeps everything.

load helpers

setup() {
	orch_setup
}

teardown() {
	orch_teardown
}

# names_of SERVICE: sorted replica names.
names_of() {
	replicas_json "$1" | jq -r '.items[].name' | sort
}

@test "a failed replica is replaced by a new one" {
	start_server
	: >"$ORCH_TMP/fail"
	start_agent n --count 2 --fail-file "$ORCH_TMP/fail"
	service "$ORCH_TMP/s.json" app 3
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 10 all_ready app 3
	victim=$(names_of app | head -1)
	echo "$victim" >>"$ORCH_TMP/fail"
	# the victim is reported Failed, then replaced: 3 live replicas, all ready, the victim
	# not among them
	wait_for 10 live_ready_without app 3 "$victim"
	state=$(api GET "/v1/replicas/$victim" | jq -r '.state // "gone"')
	[[ "$state" == Failed || "$state" == gone ]] || fail "victim is $state"
	run ctl events
	assert_contains "$output" "$victim"
}

@test "node loss: its replicas are replaced elsewhere within grace + 2 s; its return over-counts nothing" {
	start_server
	start_agent a
	pid_a=$AGENT_PID
	start_agent b
	start_agent c
	wait_for 10 nodes_ready 3
	service "$ORCH_TMP/s.json" app 6
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 10 all_ready app 6
	on_a=$(replicas_json app | jq '[.items[] | select(.node == "a")] | length')
	[ "$on_a" -ge 1 ] || fail "spread should put replicas on a: $(ctl get replicas)"

	kill -STOP "$pid_a"
	t0=$(date +%s%N)
	wait_for $((GRACE + 5)) ready_off_node app a 6
	took_ms=$((($(date +%s%N) - t0) / 1000000))
	echo "# replaced in ${took_ms} ms (grace ${GRACE} s)" >&3
	[ "$took_ms" -le $(((GRACE + 2) * 1000)) ] || fail "took ${took_ms} ms, want <= $((GRACE + 2)) s"
	run ctl get nodes
	assert_contains "$output" "NotReady"

	# the node comes back: its stale replicas are stopped, the count stays 6
	kill -CONT "$pid_a"
	wait_for 10 nodes_ready 3
	for i in $(seq 10); do
		n=$(live_count app)
		[ "$n" -le 6 ] || fail "over-count: $n live replicas after the node came back"
		sleep 0.3
	done
	wait_for 10 all_ready app 6
}

@test "server SIGKILL and restart on the same data keeps everything" {
	start_server
	start_agent n --count 2
	service "$ORCH_TMP/s.json" app 4 '.env = {"V": "1"}'
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 10 all_ready app 4
	ctl cordon n-1 >/dev/null
	before=$(names_of app)
	svc_before=$(api GET /v1/services/app | jq -c '{replicas, generation, env, image}')
	kill -KILL "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	start_server
	[ "$(names_of app)" = "$before" ] || fail "replicas changed: $(names_of app) vs $before"
	[ "$(api GET /v1/services/app | jq -c '{replicas, generation, env, image}')" = "$svc_before" ]
	run ctl get nodes
	assert_contains "$output" "SchedulingDisabled"
	# the agents reconnect and the cluster keeps working
	wait_for 15 nodes_ready 2
	ctl scale app 5
	wait_for 10 all_ready app 5
}
