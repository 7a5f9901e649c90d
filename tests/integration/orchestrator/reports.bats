#!/usr/bin/env bats
# reports.bats - what agents and users are told: the batched node report (one request for a
# node's replicas, per-replica answers, bad input refused whole, answered only after the
# commit so it survives kill -9), crash-looping replicas restarted in place (visible, same
# name, rising RESTARTS, not replaced), a rollout status that counts the replicas of the
# generation it names, and an out-of-range memory refused with its JSON path.

load helpers

setup() {
	orch_setup
}

teardown() {
	orch_teardown
}

# register NODE: a node the test reports for itself (no agent).
register() {
	api POST /v1/nodes "{\"name\":\"$1\",\"address\":\"127.0.0.1\",\"capacity\":{\"cpu\":4,\"memory\":\"8Gi\"}}" >/dev/null
}

bound_count() { # SERVICE
	replicas_json "$1" | jq '[.items[] | select(.state == "Scheduled")] | length'
}

# count_is CMD... N: the output of CMD... equals N (for wait_for, which runs it each time)
count_is() {
	local want=${*: -1}
	[ "$("${@:1:$#-1}")" = "$want" ]
}

# at_least CMD... N: the output of CMD... is a number >= N
at_least() {
	local want=${*: -1} got
	got=$("${@:1:$#-1}")
	[ "$got" -ge "$want" ]
}

@test "a node reports its replicas in one request; bad input changes nothing; the answer survives kill -9" {
	start_server
	register m
	service "$ORCH_TMP/s.json" app 2
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 10 count_is bound_count app 2
	mapfile -t names < <(replicas_json app | jq -r '.items[].name')
	# one bad item: 400 naming it, nothing applied
	run api POST /v1/nodes/m/status "{\"replicas\":[{\"name\":\"${names[0]}\",\"state\":\"Running\"},{\"name\":\"${names[1]}\",\"state\":\"Sleeping\"}]}"
	assert_contains "$output" '"code":400'
	assert_contains "$output" "status.replicas[1].state: expected one of Starting, Running, BackOff, Succeeded, Failed"
	[ "$(bound_count app)" -eq 2 ]
	run api POST /v1/nodes/m/status "{\"replicas\":[{\"name\":\"${names[0]}\",\"state\":\"Running\"},{\"name\":\"${names[0]}\",\"state\":\"Running\"}]}"
	assert_contains "$output" "is reported twice"
	# two reports and one for a replica that does not exist: answered one by one
	run api POST /v1/nodes/m/status "{\"replicas\":[{\"name\":\"${names[0]}\",\"state\":\"Running\",\"ready\":true,\"address\":\"10.0.0.1\"},{\"name\":\"${names[1]}\",\"state\":\"BackOff\",\"restarts\":2,\"lastExitCode\":3},{\"name\":\"nope\",\"state\":\"Running\"}]}"
	[ "$(jq -c '[.items[] | .code]' <<<"$output")" = "[200,200,404]" ] || fail "$output"
	# acknowledged: a SIGKILL right after the answer loses nothing
	kill -KILL "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	start_server
	run api GET "/v1/replicas/${names[0]}"
	[ "$(jq -r '.state + " " + (.ready|tostring) + " " + .address' <<<"$output")" = "Running true 10.0.0.1" ] || fail "$output"
	run api GET "/v1/replicas/${names[1]}"
	[ "$(jq -r '.state + " " + (.restarts|tostring) + " " + (.lastExitCode|tostring)' <<<"$output")" = "BackOff 2 3" ] || fail "$output"
	# a report from the wrong node is refused for that replica only
	register other
	run api POST /v1/nodes/other/status "{\"replicas\":[{\"name\":\"${names[0]}\",\"state\":\"Failed\"}]}"
	[ "$(jq '.items[0].code' <<<"$output")" -eq 409 ] || fail "$output"
	assert_contains "$output" "is bound to node"
	run api POST /v1/nodes/ghost/status '{"replicas":[]}'
	assert_contains "$output" '"code":404'
}

restarts_of() { # NAME
	api GET "/v1/replicas/$1" | jq -r '.restarts'
}

backoff_count() { # SERVICE
	replicas_json "$1" | jq '[.items[] | select(.state == "BackOff")] | length'
}

events_say() { # TEXT
	ctl events | grep -q "$1"
}

@test "a crash-looping replica stays visible with its name and rising restarts; one that may not restart is replaced" {
	start_server
	start_agent n
	service "$ORCH_TMP/loop.json" loop 1 '.env = {"SKIFF_FAKE_EXIT": "3"} | .restart = "always"'
	ctl apply -f "$ORCH_TMP/loop.json"
	wait_for 10 count_is backoff_count loop 1
	name=$(replicas_json loop | jq -r '.items[0].name')
	# restarts after 0 s, 1 s, 2 s: three within a few seconds, the same replica all along
	wait_for 10 at_least restarts_of "$name" 3
	[ "$(replicas_json loop | jq -c '[.items[].name]')" = "[\"$name\"]" ]
	run ctl get replicas
	line=$(grep "^$name " <<<"$output")
	assert_contains "$line" "BackOff"
	assert_contains "$line" " n "
	[ "$(awk '{ print $4 }' <<<"$line")" -ge 3 ] || fail "RESTARTS column: $line"
	run ctl events
	assert_not_contains "$output" "Replaced"
	assert_contains "$output" "BackOff"
	# restart: never: it fails once and is replaced, and the event says why
	service "$ORCH_TMP/once.json" once 1 '.env = {"SKIFF_FAKE_EXIT": "3"} | .restart = "never"'
	ctl apply -f "$ORCH_TMP/once.json"
	wait_for 10 events_say "restart policy says no restart"
}

@test "rollout status counts the generation it names; -w does not return before the rollout completes" {
	start_server
	start_agent n --count 2
	service "$ORCH_TMP/s.json" app 3 '.update = {maxSurge: 1, maxUnavailable: 0, progressDeadline: 60}'
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 15 rollout_state app Complete
	# generation 2 never gets ready: right after apply the status is of generation 2
	service "$ORCH_TMP/s2.json" app 3 '.env = {"SKIFF_FAKE_READY": "never"} | .update = {maxSurge: 1, maxUnavailable: 0, progressDeadline: 60}'
	ctl apply -f "$ORCH_TMP/s2.json" >/dev/null
	run ctl rollout status app
	assert_contains "$output" "generation 2 Progressing"
	assert_not_contains "$output" "Complete"
	run api GET /v1/services/app/rollout
	[ "$(jq -r '"\(.generation) \(.state)"' <<<"$output")" = "2 Progressing" ] || fail "$output"
	[ "$(jq '.revision' <<<"$output")" -gt 0 ]
	run ctl get services -o wide
	assert_contains "$output" "Progressing"
	run ctl get services app -o json
	[ "$(jq -c '[.status.updated, .status.rollout.generation]' <<<"$output")" = "[1,2]" ] || fail "$output"
	# -w waits: still waiting after 3 s (timeout kills it)
	run timeout 3 "$SKIFFCTL" --server "$URL" --data "$DATA" rollout status app -w
	[ "$status" -eq 124 ] || fail "rollout status -w returned $status early: $output"
	# back to generation 1: -w returns 0 once that rollout is complete
	ctl rollout undo app >/dev/null
	run timeout 20 "$SKIFFCTL" --server "$URL" --data "$DATA" rollout status app -w
	[ "$status" -eq 0 ] || fail "$output"
	assert_contains "$output" "Complete"
	wait_for 10 all_ready app 3
}

@test "resources.memory out of range is refused with its JSON path" {
	start_server
	# written by hand: jq would turn the integer into a float
	echo '[{"name": "a", "image": "w"}, {"name": "b", "image": "w", "resources": {"memory": 9223372036854775807}}]' \
		>"$ORCH_TMP/big.json"
	run ctl apply -f "$ORCH_TMP/big.json"
	[ "$status" -ne 0 ]
	assert_contains "$output" "services[1].resources.memory: out of range"
	run api GET /v1/services
	[ "$(jq '.items | length' <<<"$output")" -eq 0 ]
}
