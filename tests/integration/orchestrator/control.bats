#!/usr/bin/env bats
# control.bats - skiffctl against a real skiffd server with fake nodes: apply, get, scale,
# validation that applies nothing, auth, an unreachable server, watching changes.

load helpers

setup() {
	orch_setup
}

teardown() {
	orch_teardown
}

@test "apply examples/web.json: its replicas run on the fake nodes" {
	[ -f "$EXAMPLES/web.json" ] || skip "examples/web.json not written yet"
	start_server
	start_agent node --count 3
	wait_for 10 nodes_ready 3
	run ctl apply -f "$EXAMPLES/web.json"
	[ "$status" -eq 0 ] || fail "$output"
	assert_contains "$output" "service/web created"
	want=$(jq -r 'if type == "array" then .[] else . end | select(.name == "web") | .replicas // 1' \
		"$EXAMPLES/web.json")
	wait_for 15 all_ready web "$want"
	# every replica is on one of the fake nodes
	for n in $(replicas_json web | jq -r '.items[].node' | sort -u); do
		[[ "$n" == node-[0-2] ]] || fail "replica on unexpected node '$n'"
	done
	run ctl get replicas
	[ "$status" -eq 0 ]
	assert_contains "${lines[0]}" "NAME"
	assert_contains "${lines[0]}" "READY   STATE"
	assert_contains "$output" "Running"
	# applying the same file again changes nothing
	run ctl apply -f "$EXAMPLES/web.json"
	assert_contains "$output" "service/web unchanged"
}

@test "scale up and down keeps the count, get shows it aligned" {
	start_server
	start_agent n --count 2
	service "$ORCH_TMP/s.json" app 2
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 10 all_ready app 2
	run ctl scale app 5
	[ "$status" -eq 0 ]
	assert_contains "$output" "service/app scaled to 5"
	wait_for 10 all_ready app 5
	run ctl scale app 1
	wait_for 10 all_ready app 1
	run ctl get services
	[ "$status" -eq 0 ]
	assert_contains "${lines[0]}" "NAME   READY   UP-TO-DATE   AVAILABLE   GENERATION   AGE"
	[[ "${lines[1]}" =~ ^app\ +1/1\  ]] || fail "row: ${lines[1]}"
	run ctl get nodes -o wide
	assert_contains "${lines[0]}" "NAME   STATUS   REPLICAS   CPU   MEMORY   AGE   ADDRESS"
	assert_contains "$output" "n-0"
	assert_contains "$output" "n-1"
	run ctl get services -o json
	[ "$(jq '.items[0].replicas' <<<"$output")" -eq 1 ]
}

@test "a bad desired state is rejected with its JSON path and nothing is applied" {
	start_server
	cat >"$ORCH_TMP/bad.json" <<-'EOF'
		[{"name": "good", "image": "webapp", "replicas": 1},
		 {"name": "bad", "image": "webapp", "replicas": "three"}]
	EOF
	run ctl apply -f "$ORCH_TMP/bad.json"
	[ "$status" -ne 0 ]
	assert_contains "$output" "services[1].replicas"
	[ "${#lines[@]}" -eq 1 ] || fail "want one line: $output"
	[ "$(api GET /v1/services | jq '.items | length')" -eq 0 ]
	# a JSON syntax error names the file, line and column
	printf '{"name": "x",\n "image": }\n' >"$ORCH_TMP/syntax.json"
	run ctl apply -f "$ORCH_TMP/syntax.json"
	[ "$status" -ne 0 ]
	assert_contains "$output" "syntax.json:2:"
	# unknown field
	echo '{"name": "u", "image": "webapp", "replicaz": 2}' >"$ORCH_TMP/unknown.json"
	run ctl apply -f "$ORCH_TMP/unknown.json"
	[ "$status" -ne 0 ]
	assert_contains "$output" "replicaz"
	[ "$(api GET /v1/services | jq '.items | length')" -eq 0 ]
}

@test "no or a wrong token gets 401 and changes nothing" {
	start_server
	service "$ORCH_TMP/s.json" app 1
	run tcurl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		--data @"$ORCH_TMP/s.json" "$URL/v1/apply"
	[ "$output" = 401 ]
	run "$SKIFFCTL" --server "$URL" --ca-file "$DATA/ca.crt" --token wrong apply -f "$ORCH_TMP/s.json"
	[ "$status" -ne 0 ]
	assert_contains "$output" "401"
	SKIFF_TOKEN=wrong SKIFF_CA_FILE=$DATA/ca.crt run "$SKIFFCTL" --server "$URL" get services
	[ "$status" -ne 0 ]
	assert_contains "$output" "401"
	[ "$(api GET /v1/services | jq '.items | length')" -eq 0 ]
	# the right token from the environment works
	SKIFF_TOKEN=$(cat "$DATA/token") SKIFF_SERVER=$URL SKIFF_CA_FILE=$DATA/ca.crt \
		run "$SKIFFCTL" get services
	[ "$status" -eq 0 ]
}

@test "an unreachable server gives one clear line and a non-zero exit" {
	port=$(free_port)
	run "$SKIFFCTL" --server "http://127.0.0.1:$port" --token t get services
	[ "$status" -ne 0 ]
	[ "$output" = "skiffctl: cannot reach server http://127.0.0.1:$port: Connection refused" ]
	SKIFF_SERVER=127.0.0.1:$port run "$SKIFFCTL" --token t scale web 2
	[ "$status" -ne 0 ]
	[ "$output" = "skiffctl: cannot reach server https://127.0.0.1:$port: Connection refused" ]
}

@test "get -w and events -w print changes as they happen" {
	start_server
	start_agent n --count 2
	wait_for 10 nodes_ready 2
	ctl_bg "$ORCH_TMP/watch.out" get replicas -w
	ctl_bg "$ORCH_TMP/events.out" events -w
	sleep 0.5
	service "$ORCH_TMP/s.json" wat 2
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 10 all_ready wat 2
	wait_for 5 grep -q 'wat-.*Running' "$ORCH_TMP/watch.out"
	wait_for 5 grep -q 'Scheduled' "$ORCH_TMP/events.out"
	head -1 "$ORCH_TMP/watch.out" | grep -q '^NAME  *READY  *STATE'
}

@test "cordon, uncordon and drain a node" {
	start_server
	start_agent n --count 2
	wait_for 10 nodes_ready 2
	run ctl cordon n-0
	[ "$status" -eq 0 ]
	assert_contains "$output" "node/n-0 cordoned"
	run ctl get nodes
	assert_contains "$output" "Ready,SchedulingDisabled"
	service "$ORCH_TMP/s.json" app 3
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 10 all_ready app 3
	[ "$(replicas_json app | jq '[.items[] | select(.node == "n-0")] | length')" -eq 0 ]
	ctl uncordon n-0
	run ctl drain n-1
	assert_contains "$output" "node/n-1 drained"
	# its replicas move to n-0
	wait_for 15 all_ready app 3
	wait_for 15 ready_on app n-0 3
	run ctl describe node n-1
	assert_contains "$output" "Cordoned:        yes"
}

@test "logs of a fake node say a real agent is needed; real-agent flags refuse --fake-runtime" {
	start_server
	start_agent n
	service "$ORCH_TMP/s.json" app 1
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 10 all_ready app 1
	r=$(replicas_json app | jq -r '.items[0].name')
	run ctl logs "$r"
	[ "$status" -ne 0 ]
	assert_contains "$output" "logs need a real agent"
	# the real agent's flags are not the fake's
	run "$SKIFFD" agent --fake-runtime --server "$URL" --name x --root "$ORCH_TMP/r"
	[ "$status" -eq 2 ]
	assert_contains "$output" "--root is for the real agent, not --fake-runtime"
}

# heartbeats_in SECONDS: node heartbeats the server answered over SECONDS
heartbeats_in() {
	local a b
	a=$(metric skiff_node_heartbeats_total)
	sleep "$1"
	b=$(metric skiff_node_heartbeats_total)
	echo $((b - a))
}

# metric_is NAME VALUE
metric_is() {
	[ "$(metric "$1")" = "$2" ]
}

@test "beyond --max-heartbeat-rate the period and the grace stretch with the node count" {
	# grace 1.5 s (a beat every 0.5 s); 20 nodes at 10 beats a second: every 2 s, grace 6 s
	start_server --node-grace 1.5 --max-heartbeat-rate 10
	metric_is skiff_heartbeat_interval_seconds 0.5 || fail "$(api GET /metrics)"
	metric_is skiff_node_grace_seconds 1.5 || fail "$(api GET /metrics)"
	start_agent n --count 20
	wait_for 10 nodes_ready 20
	metric_is skiff_heartbeat_interval_seconds 2 || fail "$(api GET /metrics)"
	metric_is skiff_node_grace_seconds 6 || fail "$(api GET /metrics)"
	wait_for 10 grep -q "heartbeat: every 2s, as the server asks" "$ORCH_TMP/agent-n.log"
	sleep 2 # every node has been answered with the new period
	n=$(heartbeats_in 4)
	[ "$n" -ge 30 ] && [ "$n" -le 50 ] || fail "$n heartbeats in 4 s from 20 nodes at 2 s"
	nodes_ready 20 || fail "a node beating every 2 s was judged by the 1.5 s grace"
	# a stopped agent's nodes are lost after the stretched grace (6 s), not the configured one
	kill -STOP "$AGENT_PID"
	t0=$(date +%s%N)
	sleep 3
	nodes_ready 20 || fail "NotReady within 3 s of the last beats: the grace did not stretch"
	wait_for 10 nodes_in NotReady 20
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$ms" -ge 4000 ] || fail "NotReady ${ms} ms after the agent stopped (grace 6 s, beats every 2 s)"
	kill -CONT "$AGENT_PID"
	wait_for 10 nodes_ready 20
	# 0: no cap, the configured period whatever the count; a bad value is refused
	kill "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	start_server --node-grace 1.5 --max-heartbeat-rate 0
	metric_is skiff_heartbeat_interval_seconds 0.5 || fail "$(api GET /metrics)"
	wait_for 10 grep -q "heartbeat: every 0.5s, as the server asks (was 2s)" "$ORCH_TMP/agent-n.log"
	for bad in -1 x 1e9; do
		run "$SKIFFD" server --listen 127.0.0.1:1 --data "$ORCH_TMP/x" --max-heartbeat-rate "$bad"
		[ "$status" -eq 2 ]
		assert_contains "$output" "--max-heartbeat-rate \`$bad\`: expected a number of heartbeats a second"
	done
	[ ! -e "$ORCH_TMP/x" ] || fail "a refused start made its data dir"
}

@test "agents beat at the period the server asks: a third of --node-grace, or --heartbeat-interval" {
	# grace 1.5 s: every 0.5 s, where an agent on its own would beat every 1 s
	start_server --node-grace 1.5
	[ "$(metric skiff_heartbeat_interval_seconds)" = 0.5 ] || fail "$(api GET /metrics)"
	start_agent n1
	wait_for 10 nodes_ready 1
	wait_for 5 grep -q "heartbeat: every 0.5s, as the server asks" "$ORCH_TMP/agent-n1.log"
	n=$(heartbeats_in 3)
	[ "$n" -ge 4 ] && [ "$n" -le 8 ] || fail "$n heartbeats in 3 s at 0.5 s"
	# the server's flag wins over the default; a period not below the grace is refused
	kill "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	start_server --node-grace 1.5 --heartbeat-interval 0.25
	wait_for 5 grep -q "heartbeat: every 0.25s, as the server asks" "$ORCH_TMP/agent-n1.log"
	n=$(heartbeats_in 3)
	[ "$n" -ge 8 ] && [ "$n" -le 16 ] || fail "$n heartbeats in 3 s at 0.25 s"
	run "$SKIFFD" server --listen 127.0.0.1:1 --data "$ORCH_TMP/x" --node-grace 2 \
		--heartbeat-interval 2
	[ "$status" -eq 2 ]
	assert_contains "$output" "--heartbeat-interval 2 must be shorter than --node-grace 2"
	[ ! -e "$ORCH_TMP/x" ] || fail "a refused start made its data dir"
	# an agent given its own period keeps it
	start_agent n2 --heartbeat-interval 1
	wait_for 10 nodes_ready 2
	sleep 1
	run grep -c "as the server asks" "$ORCH_TMP/agent-n2.log"
	[ "$output" = 0 ] || fail "n2 followed the server: $(cat "$ORCH_TMP/agent-n2.log")"
	n=$(heartbeats_in 3)
	[ "$n" -ge 10 ] && [ "$n" -le 19 ] || fail "$n heartbeats in 3 s from n1 at 0.25 s and n2 at 1 s"
}
