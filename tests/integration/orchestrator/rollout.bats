#!/usr/bin/env bats
# rollout.bats - rolling updates and undo, a rollout that stalls on replicas that never get
# ready, and replicas too big for any node staying Pending with the reason shown.

load helpers

setup() {
	orch_setup
}

teardown() {
	orch_teardown
}

# gen_ready SERVICE GEN N: exactly N replicas, all of generation GEN and ready.
gen_ready() {
	replicas_json "$1" | jq -e --argjson g "$2" --argjson c "$3" '
		(.items | length) == $c
		and ([.items[] | select(.generation == $g and .state == "Running" and .ready)] | length) == $c'
}

# pending_with_reason SERVICE: its first replica is Pending and says why.
pending_with_reason() {
	replicas_json "$1" | jq -e '.items[0] | .state == "Pending" and (.reason | length) > 0'
}

@test "rolling update on an env change, then rollout undo" {
	start_server
	start_agent n --count 3
	service "$ORCH_TMP/v1.json" app 3 '.env = {"VERSION": "1"} | .update = {maxSurge: 1, maxUnavailable: 0}'
	ctl apply -f "$ORCH_TMP/v1.json"
	wait_for 10 gen_ready app 1 3
	ctl_bg "$ORCH_TMP/watch.out" get replicas -w

	service "$ORCH_TMP/v2.json" app 3 '.env = {"VERSION": "2"} | .update = {maxSurge: 1, maxUnavailable: 0}'
	run ctl apply -f "$ORCH_TMP/v2.json"
	assert_contains "$output" "service/app configured"
	# during the update, maxSurge 1 / maxUnavailable 0: at most 4 live, at least 3 ready
	for ((i = 0; i < 100; i++)); do
		out=$(replicas_json app)
		live=$(jq '[.items[] | select(.state | IN("Pending","Scheduled","Starting","Running","BackOff"))] | length' <<<"$out")
		ready=$(jq '[.items[] | select(.state == "Running" and .ready)] | length' <<<"$out")
		[ "$live" -le 4 ] || fail "$live live replicas during the update: $out"
		[ "$ready" -ge 3 ] || fail "only $ready ready replicas during the update: $out"
		gen_ready app 2 3 >/dev/null && break
		sleep 0.1
	done
	wait_for 15 gen_ready app 2 3
	wait_for 5 rollout_state app Complete
	run ctl rollout status app
	[ "$status" -eq 0 ]
	assert_contains "$output" "generation 2 Complete"
	# the watch saw the new generation's replicas come up
	wait_for 5 grep -q 'app-2-.*Running' "$ORCH_TMP/watch.out"

	run ctl rollout undo app
	[ "$status" -eq 0 ]
	assert_contains "$output" "service/app rolled back"
	wait_for 15 rollout_state app Complete
	[ "$(api GET /v1/services/app | jq -r .env.VERSION)" = 1 ]
	gen=$(api GET /v1/services/app | jq .generation)
	wait_for 10 gen_ready app "$gen" 3
	run ctl describe service app
	assert_contains "$output" "Env:           VERSION=1"
	assert_contains "$output" "Rollout:       Complete"
}

@test "a generation that never gets ready stalls the rollout; undo goes back" {
	start_server
	start_agent n --count 3
	service "$ORCH_TMP/v1.json" app 2 '.update = {maxSurge: 1, maxUnavailable: 0, progressDeadline: 3}'
	ctl apply -f "$ORCH_TMP/v1.json"
	wait_for 10 gen_ready app 1 2
	service "$ORCH_TMP/v2.json" app 2 \
		'.env = {"SKIFF_FAKE_READY": "never"} | .update = {maxSurge: 1, maxUnavailable: 0, progressDeadline: 3}'
	ctl apply -f "$ORCH_TMP/v2.json"
	run ctl rollout status app -w
	[ "$status" -eq 1 ]
	assert_contains "$output" "Stalled"
	# the old generation kept serving
	[ "$(count_state app Ready)" -ge 2 ]
	run ctl rollout undo app
	[ "$status" -eq 0 ]
	run ctl rollout status app -w
	[ "$status" -eq 0 ] || fail "$output"
	assert_contains "$output" "Complete"
	wait_for 10 all_ready app 2
}

@test "replicas too big for every node stay Pending with the reason in describe and events" {
	start_server
	start_agent n --count 2 --cpu 2 --memory 1Gi
	service "$ORCH_TMP/big.json" big 1 '.resources = {cpu: 64, memory: "16Mi"}'
	ctl apply -f "$ORCH_TMP/big.json"
	wait_for 10 pending_with_reason big
	[ "$(count_state big Pending)" -eq 1 ]
	run ctl describe service big
	[ "$status" -eq 0 ]
	assert_contains "$output" "Pending"
	assert_contains "$output" "FailedScheduling"
	reason=$(replicas_json big | jq -r '.items[0].reason')
	assert_contains "$output" "$reason"
	run ctl events
	assert_contains "$output" "FailedScheduling"
	# smaller replicas of another service still run
	service "$ORCH_TMP/small.json" small 2
	ctl apply -f "$ORCH_TMP/small.json"
	wait_for 10 all_ready small 2
}
