#!/usr/bin/env bats
# scale.bats - one service of 30,000 replicas on 100 fake nodes: every replica is bound, the
# names are unique, no write of the controller met a conflict, and the spread is even.  The
# issue this guards: with random 5-character suffixes and one transaction per tick, a name
# collision rolled back whole ticks and this placed nothing in 30 s.

load helpers

setup() {
	orch_setup
}

teardown() {
	orch_teardown
}

# all_bound N: exactly N replicas, none Pending (or Lost: no node may look dead meanwhile)
all_bound() {
	[ "$(metric 'skiff_replicas{state="Pending"}')" -eq 0 ] &&
		[ "$(metric 'skiff_replicas{state="Lost"}')" -eq 0 ] &&
		[ "$(api GET /metrics | awk '$1 ~ /^skiff_replicas\{/ { s += $2 } END { print s }')" -eq "$1" ]
}

@test "30,000 replicas of one service on 100 fake nodes are all bound, with unique names" {
	# a generous grace: this is about binding, on a machine that may be busy (the sanitizer
	# build of an agent simulating 100 nodes can be slow to heartbeat)
	start_server --node-grace 60
	start_agent big --count 100 --cpu 64 --memory 64Gi
	wait_for 20 nodes_ready 100
	jq -n '{name: "wide", image: "webapp", replicas: 30000, resources: {cpu: 0.01, memory: "1Mi"}}' \
		>"$ORCH_TMP/wide.json"
	t0=$(date +%s%N)
	ctl apply -f "$ORCH_TMP/wide.json"
	wait_for 120 all_bound 30000
	echo "# 30,000 bound in $((($(date +%s%N) - t0) / 1000000)) ms" >&3
	replicas_json wide >"$ORCH_TMP/list.json"
	[ "$(jq '.items | length' "$ORCH_TMP/list.json")" -eq 30000 ]
	[ "$(jq '[.items[].name] | unique | length' "$ORCH_TMP/list.json")" -eq 30000 ]
	[ "$(jq '[.items[] | select(.node == "")] | length' "$ORCH_TMP/list.json")" -eq 0 ]
	# spread: 300 on every node
	[ "$(jq '[.items[].node] | group_by(.) | map(length) | unique' -c "$ORCH_TMP/list.json")" = "[300]" ]
	[ "$(metric skiff_controller_conflicts_total)" -eq 0 ]
	run ctl events
	assert_not_contains "$output" "NotReady"
	[ "$(metric skiff_scheduler_placements_total)" -eq 30000 ] ||
		fail "placements: $(metric skiff_scheduler_placements_total); $(cat "$ORCH_TMP/server.log")"
	# the tick that created them is in the histogram
	[ "$(metric skiff_controller_tick_seconds_count)" -ge 1 ]
}
