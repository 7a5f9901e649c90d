#!/usr/bin/env bats
# lifecycle.bats - the real node agent runs the web app: replicas Ready on their own
# addresses, a killed replica restarted in place, a crash loop backing off, an agent killed
# and restarted adopting its containers, a bad image reported Failed, delete leaving nothing.

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

@test "apply web: 3 replicas Ready on distinct addresses, each answering with its own name" {
	start_real_agent
	webapp_service "$ORCH_TMP/web.json" web 3
	ctl apply -f "$ORCH_TMP/web.json"
	wait_for 20 all_ready web 3
	local names addrs n
	names=$(replica_names web)
	addrs=$(replicas_json web | jq -r '.items[].address' | sort -u)
	assert_eq "$(wc -l <<<"$addrs")" 3 "distinct addresses"
	for n in $names; do
		answers_as "$n" || fail "replica $n does not answer as itself at $(replica .address "$n")"
		# env and limits: SKIFF_NODE, SKIFF_SERVICE, the memory limit of the service
		info "$(replica .address "$n")" | jq -e '.node == "n1"' >/dev/null
		grep -qx SKIFF_SERVICE=web <(tr '\0' '\n' <"/proc/$(init_pid "$n")/environ")
		assert_eq "$(cat "$(cgroup_file "$n" memory memory.limit_in_bytes memory.max)")" 67108864 \
			"memory limit of $n"
	done
	run ctl get replicas -o wide
	assert_contains "$output" "$SUBNET_PREFIX"
}

@test "kill -9 of a replica's process: the same replica restarts (RESTARTS 1) and serves again" {
	start_real_agent
	webapp_service "$ORCH_TMP/web.json" web 2
	ctl apply -f "$ORCH_TMP/web.json"
	wait_for 20 all_ready web 2
	local r before
	r=$(replica_names web | head -1)
	before=$(replica_names web)
	kill -KILL "$(init_pid "$r")"
	wait_for 10 ready_with_restarts "$r" 1
	assert_eq "$(replica_names web)" "$before" "replica names"
	assert_eq "$(replica .lastExitCode "$r")" 137
	wait_for 5 answers_as "$r"
}

@test "POST /crash again and again: BackOff with a growing delay, RESTARTS rising, same name" {
	start_real_agent
	webapp_service "$ORCH_TMP/web.json" crashy 1
	ctl apply -f "$ORCH_TMP/web.json"
	wait_for 20 all_ready crashy 1
	local r i
	r=$(replica_names crashy)
	for i in 1 2 3; do
		wait_for 15 ready_with_restarts "$r" $((i - 1))
		curl -sf -m 2 -X POST "http://$(replica .address "$r"):8080/crash" >/dev/null
		sleep 0.3
	done
	# the second crash within a minute waited 1 s, the third waits 2 s: BackOff says until when
	wait_for 10 events_match "^BackOff exit code 1: back-off 1s restarting failed container \\(exited with code 1\\); next try at 20"
	wait_for 10 events_match "^BackOff exit code 1: back-off 2s restarting failed container"
	if state_is "$r" BackOff; then
		assert_eq "$(replica .restarts "$r")" 2
		run ctl get replicas
		assert_contains "$output" "BackOff"
	fi
	wait_for 10 ready_with_restarts "$r" 3
	assert_eq "$(replica_names crashy)" "$r" "still one replica, same name"
	run ctl describe service crashy
	assert_contains "$output" "BackOff"
}

@test "agent SIGKILL and restart: the same containers are adopted, none duplicated" {
	start_real_agent
	webapp_service "$ORCH_TMP/web.json" web 3
	ctl apply -f "$ORCH_TMP/web.json"
	wait_for 20 all_ready web 3
	local names pids n
	names=$(replica_names web)
	pids=$(for n in $names; do init_pid "$n"; done)
	kill -KILL "$AGENT_PID"
	for n in $names; do answers_as "$n" || fail "$n stopped with the agent"; done
	start_real_agent
	wait_for 10 grep -q "adopted 3 containers (3 running)" "$AGENT_LOG"
	sleep 2
	assert_eq "$(replica_names web)" "$names" "replicas"
	assert_eq "$(for n in $names; do init_pid "$n"; done)" "$pids" "processes"
	assert_eq "$(ls "$AROOT/state" | wc -l)" 3 "containers"
	all_ready web 3
	# still managed: a kill is healed by the new agent
	n=$(head -1 <<<"$names")
	kill -KILL "$(init_pid "$n")"
	wait_for 10 ready_with_restarts "$n" 1
}

@test "an image the node lacks: Failed with the reason, replaced with back-off; others run on" {
	start_real_agent
	webapp_service "$ORCH_TMP/web.json" web 1
	ctl apply -f "$ORCH_TMP/web.json"
	echo '{"name": "bad", "image": "doesnotexist", "replicas": 1}' >"$ORCH_TMP/bad.json"
	ctl apply -f "$ORCH_TMP/bad.json"
	wait_for 10 has_state bad Failed
	local t0=$SECONDS
	run ctl get replicas -o wide
	assert_contains "$output" 'image "doesnotexist" not found on node n1'
	run ctl describe service bad
	assert_contains "$output" 'image "doesnotexist" not found on node n1'
	wait_for 20 all_ready web 1
	# replaced again and again, but backing off (rounds 1, 2, 4 ... s apart): a handful of
	# tries, not one per controller pass (tens a second)
	sleep 4
	local tries most
	tries=$(api GET /v1/events | jq '[.items[] | select(.reason == "Replaced" and (.object | startswith("bad-")))] | length')
	most=$(awk -v e=$((SECONDS - t0 + 1)) 'BEGIN { print int(log(e) / log(2)) + 3 }')
	[ "$tries" -ge 1 ] && [ "$tries" -le "$most" ] || fail "$tries replacements in $((SECONDS - t0)) s (at most $most)"
	kill -0 "$AGENT_PID"
}

@test "delete service: nothing of its replicas is left (containers, cgroups, mounts, veths, leases, logs)" {
	start_real_agent
	webapp_service "$ORCH_TMP/web.json" web 3
	ctl apply -f "$ORCH_TMP/web.json"
	wait_for 20 all_ready web 3
	local names n left=""
	names=$(replica_names web)
	ctl delete service web
	wait_for 15 replica_count 0
	wait_for 5 no_containers
	sleep 0.5
	for n in $names; do left+=$(leftovers "$n"); done
	left+=$(bridge_ports)$(monitors)
	[ -z "$left" ] || fail "left behind: $left"
	assert_eq "$(jq '.leases | length' "$AROOT/net/ipam-$BR.json")" 0 "leases"
}

@test "stop: SIGTERM, then SIGKILL after terminationGracePeriod" {
	start_real_agent
	# a process that ignores SIGTERM: stopped by SIGKILL once the 1 s grace is over
	jq -n '{name: "stubborn", image: "webapp", replicas: 1, terminationGracePeriod: 1,
		command: ["/bin/sh", "-c", "trap \"\" TERM; while :; do sleep 0.1; done"]}' >"$ORCH_TMP/s.json"
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 20 all_ready stubborn 1
	local r t0 t1
	r=$(replica_names stubborn)
	t0=$(date +%s%N)
	ctl delete service stubborn
	wait_for 10 test ! -e "$AROOT/state/$r"
	t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -ge 900 ] || fail "stopped in $(((t1 - t0) / 1000000)) ms: before the grace period"
	# the web app stops on SIGTERM at once
	webapp_service "$ORCH_TMP/web.json" web 1 '.terminationGracePeriod = 30'
	ctl apply -f "$ORCH_TMP/web.json"
	wait_for 20 all_ready web 1
	r=$(replica_names web)
	t0=$(date +%s%N)
	ctl delete service web
	wait_for 10 test ! -e "$AROOT/state/$r"
	t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -lt 5000 ] || fail "a SIGTERM-handling app took $(((t1 - t0) / 1000000)) ms"
}

@test "agent down while its service is deleted: the next agent removes the containers" {
	start_real_agent
	webapp_service "$ORCH_TMP/web.json" web 2
	ctl apply -f "$ORCH_TMP/web.json"
	wait_for 20 all_ready web 2
	local names n
	names=$(replica_names web)
	kill -KILL "$AGENT_PID"
	ctl delete service web
	# the node is silent: its replicas go Lost and then, with no service, away
	wait_for 30 replica_count 0
	for n in $names; do answers_as_ip "$n" || fail "$n stopped without an agent"; done
	start_real_agent
	wait_for 15 no_containers
	for n in $names; do
		[ -z "$(leftovers "$n")" ] || fail "left: $(leftovers "$n")"
	done
}

@test "an image named by its registry is pulled when the node lacks it, then runs; a missing one is Failed" {
	command -v docker-registry >/dev/null || skip "docker-registry not installed"
	WORK=$ORCH_TMP
	# shellcheck source=../registry/helpers.bash
	source "$BATS_TEST_DIRNAME/../registry/helpers.bash"
	registry_start reg || return 1
	SKIFF_IMAGE_ROOT=$AGENT_STORE "$SKIFF" push webapp "$REG/webapp:1" >/dev/null
	# the agent's store is empty: it has to pull
	AGENT_STORE=$ORCH_TMP/node-store start_real_agent
	webapp_service "$ORCH_TMP/web.json" web 1 ".image = \"$REG/webapp:1\""
	ctl apply -f "$ORCH_TMP/web.json"
	wait_for 30 all_ready web 1
	answers_as "$(replica_names web)"
	SKIFF_IMAGE_ROOT=$ORCH_TMP/node-store "$SKIFF" images | grep -q "$REG/webapp"
	grep -q "GET /v2/webapp/manifests/1" "$REG_LOG"
	# an image that is not in that registry: Failed with the registry's answer
	webapp_service "$ORCH_TMP/bad.json" nope 1 ".image = \"$REG/nosuch:1\""
	ctl apply -f "$ORCH_TMP/bad.json"
	wait_for 20 has_state nope Failed
	run ctl get replicas -o wide
	assert_contains "$output" "pull image \"$REG/nosuch:1\" on node n1"
	registry_stop_all
}
