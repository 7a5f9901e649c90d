#!/usr/bin/env bats
# probes_logs.bats - the real node agent's probes (readiness, liveness; exec inside the
# container), restart policies and start failures, `skiffctl logs` through the server,
# a node that was declared Lost coming back, and a server that goes away.

load helpers

setup_file() {
	agent_setup_file
}

teardown_file() {
	agent_teardown_file
}

setup() {
	agent_setup
}

teardown() {
	agent_teardown
}

@test "readiness (exec, in the container): ready=false until the probe passes, then true" {
	start_real_agent
	webapp_service "$ORCH_TMP/web.json" web 1 \
		'.health.readiness = {exec: {command: ["cat", "/tmp/ready"]}, period: 0.5, timeout: 5,
		  failureThreshold: 1}'
	ctl apply -f "$ORCH_TMP/web.json"
	local r
	wait_for 20 has_state web Running
	r=$(replica_names web)
	wait_for 10 reason_has "$r" "readiness probe failed: exec: exit code 1"
	assert_eq "$(replica .ready "$r")" false "ready before the file exists"
	# the probe runs in the container's namespaces: a file only the container sees
	"$SKIFF" --root "$AROOT/state" exec "$r" touch /tmp/ready
	wait_for 5 ready_with_restarts "$r" 0
	assert_eq "$(replica .reason "$r")" ""
	"$SKIFF" --root "$AROOT/state" exec "$r" rm /tmp/ready
	wait_for 5 ready_is "$r" false
}

@test "liveness failure (tcp): the container is restarted, the reason says why" {
	start_real_agent
	webapp_service "$ORCH_TMP/web.json" web 1 \
		'.health.liveness = {tcp: {port: 9}, period: 0.5, timeout: 0.5, failureThreshold: 2}'
	ctl apply -f "$ORCH_TMP/web.json"
	local r
	wait_for 20 has_state web Running
	r=$(replica_names web)
	wait_for 10 restarts_at_least "$r" 1
	wait_for 5 reason_has "$r" "liveness probe failed (connect ${SUBNET_PREFIX}"
	assert_eq "$(replica_names web)" "$r" "same replica"
}

@test "restart policies: never -> Failed with the exit code; on-failure and exit 0 -> Succeeded" {
	start_real_agent
	jq -n '{name: "once", image: "webapp", replicas: 1, restart: "never",
		command: ["/bin/sh", "-c", "exit 3"]}' >"$ORCH_TMP/once.json"
	ctl apply -f "$ORCH_TMP/once.json"
	wait_for 15 events_match "^Failed exit code 3: exited with code 3"
	jq -n '{name: "job", image: "webapp", replicas: 1, restart: "on-failure",
		command: ["/bin/sh", "-c", "echo done"]}' >"$ORCH_TMP/job.json"
	ctl apply -f "$ORCH_TMP/job.json"
	wait_for 15 events_match "^Replaced Succeeded \\(exit code 0"
	# a command that cannot start: Failed with the runtime's reason
	jq -n '{name: "nocmd", image: "webapp", replicas: 1, command: ["/no/such/binary"]}' >"$ORCH_TMP/n.json"
	ctl apply -f "$ORCH_TMP/n.json"
	wait_for 15 has_state nocmd Failed
	# the server replaces a Failed replica (with a back-off between rounds): the reason shows on
	# the Failed one while it is listed, so look until a listing catches it
	wait_for 15 eval 'ctl get replicas -o wide | grep -q "/no/such/binary"'
	kill -0 "$AGENT_PID"
}

@test "skiffctl logs: all, --tail, -f across a restart; unknown replica; bounded files" {
	start_real_agent --log-max 4k
	webapp_service "$ORCH_TMP/web.json" web 1
	ctl apply -f "$ORCH_TMP/web.json"
	wait_for 20 all_ready web 1
	local r
	r=$(replica_names web)
	run ctl logs "$r"
	assert_status 0
	assert_contains "$output" "listening on 0.0.0.0 port 8080: replica $r, node n1"
	ctl logs -f "$r" >"$ORCH_TMP/follow.out" 2>&1 &
	ORCH_PIDS+=($!)
	sleep 0.5
	curl -sf -m 2 -X POST "http://$(replica .address "$r"):8080/crash" >/dev/null
	wait_for 10 ready_with_restarts "$r" 1
	wait_file_contains "$ORCH_TMP/follow.out" "POST /crash: exiting with code 1" 5
	wait_for 5 lines_in "$ORCH_TMP/follow.out" "listening on" 2
	run ctl logs "$r" --tail 1
	assert_status 0
	assert_eq "${#lines[@]}" 1 "lines of --tail 1"
	assert_contains "$output" "listening on"
	run ctl logs nosuch-1-abcde
	assert_status 1
	assert_contains "$output" "replica \`nosuch-1-abcde\` not found"
	# a chatty replica: its log rotates at --log-max, one older file kept
	jq -n '{name: "chatty", image: "webapp", replicas: 1,
		command: ["/bin/sh", "-c", "i=0; while :; do echo line $i; i=$((i+1)); usleep 200; done"]}' >"$ORCH_TMP/c.json"
	ctl apply -f "$ORCH_TMP/c.json"
	wait_for 20 all_ready chatty 1
	local c
	c=$(replica_names chatty)
	wait_for 10 test -e "$AROOT/logs/$c.log.1"
	sleep 1
	[ "$(stat -c %s "$AROOT/logs/$c.log")" -le 8192 ] || fail "log grew to $(stat -c %s "$AROOT/logs/$c.log")"
	[ "$(ls "$AROOT/logs" | grep -c "^$c")" -eq 2 ] || fail "files: $(ls "$AROOT/logs")"
	run ctl logs "$c" --tail 3
	assert_eq "${#lines[@]}" 3 "lines of --tail 3"
	assert_contains "${lines[2]}" "line "
}

@test "a node declared Lost comes back: the agent stops its replaced containers" {
	start_real_agent
	webapp_service "$ORCH_TMP/web.json" web 2
	ctl apply -f "$ORCH_TMP/web.json"
	wait_for 20 all_ready web 2
	local old n
	old=$(replica_names web)
	# a second (fake) node takes the replacements while n1 is silent
	local real=$AGENT_PID
	start_agent spare
	AGENT_PID=$real
	kill -STOP "$AGENT_PID"
	wait_for 25 any_lost
	for n in $old; do answers_as "$n" || fail "$n stopped while the agent was frozen"; done
	kill -CONT "$AGENT_PID"
	# back: Lost -> Terminating -> the agent stops them and deletes the objects
	for n in $old; do
		wait_for 20 test ! -e "$AROOT/state/$n"
		wait_for 10 replica_gone "$n"
	done
	wait_for 10 live_count_is web 2
}

@test "server away: one log line per back-off step, containers keep running and healing" {
	start_real_agent
	webapp_service "$ORCH_TMP/web.json" web 1
	ctl apply -f "$ORCH_TMP/web.json"
	wait_for 20 all_ready web 1
	local r pid lines
	r=$(replica_names web)
	kill -KILL "$SERVER_PID"
	sleep 5
	answers_as_cached() { info "$1" | jq -e --arg n "$2" '.replica == $n' >/dev/null; }
	local addr
	addr=$(jq -r '.annotations["org.skiff.net.ip"]' "$AROOT/state/$r/state.json")
	answers_as_cached "$addr" "$r"
	# still healing without the server: a killed process comes back
	pid=$(init_pid "$r")
	kill -KILL "$pid"
	wait_for 10 pid_changed "$r" "$pid"
	wait_for 5 answers_as_cached "$addr" "$r"
	# ~6 s away: the heartbeat logged at 0, 1, 3 s (+ 7 s is later), not once a second
	lines=$(grep -c "heartbeat: cannot reach server" "$AGENT_LOG")
	[ "$lines" -ge 2 ] && [ "$lines" -le 4 ] || fail "$lines heartbeat lines in ~6 s: $(cat "$AGENT_LOG")"
	start_server
	wait_for 10 grep -q "server reachable again" "$AGENT_LOG"
	wait_for 10 ready_with_restarts "$r" 1
}

@test "a wrong token: 401, one log line per back-off step, the agent waits" {
	echo not-the-token >"$ORCH_TMP/bad-token"
	"$SKIFFD" agent --server "$URL" --token-file "$ORCH_TMP/bad-token" --ca-file "$DATA/ca.crt" \
		--name n1 --root "$AROOT" \
		--bridge "$BR" --pod-cidr "$SUBNET" --agent-port 0 --image-root "$AGENT_STORE" \
		>"$ORCH_TMP/agent.log" 2>&1 &
	AGENT_PID=$!
	ORCH_PIDS+=("$AGENT_PID")
	sleep 4.5
	kill -0 "$AGENT_PID"
	local lines
	lines=$(grep -c "register: HTTP 401" "$ORCH_TMP/agent.log")
	# logged at 0, 1, 3 s (the next at 7 s), retried far more often
	[ "$lines" -ge 2 ] && [ "$lines" -le 4 ] || fail "$lines lines: $(cat "$ORCH_TMP/agent.log")"
	run api GET /v1/nodes
	assert_eq "$(jq '.items | length' <<<"$output")" 0 "nodes"
}
