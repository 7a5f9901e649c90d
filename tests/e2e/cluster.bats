#!/usr/bin/env bats
# tests/e2e/cluster.bats - the web app on a 3-host cluster of real containers (examples/cluster):
# apply and spread, scale, crash, host loss, rolling update, server and agent restarts, and
# a last test that takes the cluster down and fails on anything of it left on the machine.
# The tests run in order on one cluster; each leaves `web` at 3 Ready replicas.

load helpers

setup_file() { e2e_setup_file; }
teardown_file() { e2e_teardown_file; }
teardown() { e2e_teardown; }

@test "apply: 3 replicas Ready, one per host; every host's node port reaches all of them" {
	run ctl apply -f "$E2E_DIR/web.json"
	[ "$status" -eq 0 ] || fail "$output"
	wait_for 90 all_ready 3 || fail "not 3 Ready replicas: $(ctl get replicas -o wide)"
	[ "$(per_node)" = "h1 1
h2 1
h3 1" ] || fail "not one per host: $(per_node)"
	local h addr got want
	want=$(replicas_json | jq -r '.items[] | select(.service == "web") | "\(.name) 1"' | sort)
	for h in h1 h2 h3; do
		addr=$(host_addr "$h")
		got=$(answering "http://$addr:30080" 12)
		[ "$got" = "$want" ] || fail "node port of $h ($addr) answered from: $got; want $want"
	done
}

@test "scale 3 -> 6 -> 2: counts converge, spread kept, removed replicas leave nothing behind" {
	ctl scale web 6
	wait_for 60 all_ready 6 || fail "not 6 Ready: $(ctl get replicas -o wide)"
	[ "$(per_node)" = "h1 2
h2 2
h3 2" ] || fail "6 not spread 2 per host: $(per_node)"
	local before
	before=$(replicas_json | jq -r '.items[] | select(.service == "web") | .name' | sort)
	ctl scale web 2
	wait_for 60 all_ready 2 || fail "not 2 Ready: $(ctl get replicas -o wide)"
	[ "$(per_node | wc -l)" -eq 2 ] || fail "2 replicas not on 2 hosts: $(per_node)"
	# each host's runtime holds exactly the containers of its replicas, and the removed
	# replicas' cgroups are gone
	local h want have
	holds_only_its_replicas() {
		for h in h1 h2 h3; do
			want=$(replicas_json | jq -r --arg h "$h" '.items[] | select(.node == $h) | .name' | sort)
			have=$(containers "$h" | awk '{print $1}')
			[ "$want" = "$have" ] || return 1
		done
	}
	wait_for 30 holds_only_its_replicas || fail "host $h holds [$have], its replicas are [$want]"
	local now gone
	now=$(replicas_json | jq -r '.items[] | .name' | sort)
	gone=$(comm -23 <(echo "$before") <(echo "$now"))
	[ "$(echo "$gone" | wc -l)" -eq 4 ] || fail "expected 4 removed, got: $gone"
	for r in $gone; do
		[ -z "$(find /sys/fs/cgroup -maxdepth 4 -type d -name "$r" 2>/dev/null)" ] ||
			fail "cgroup of removed replica $r is still there"
		[ ! -e "$E2E_DIR/h1/data/containers/$r" ] && [ ! -e "$E2E_DIR/h2/data/containers/$r" ] &&
			[ ! -e "$E2E_DIR/h3/data/containers/$r" ] || fail "container dir of $r is still there"
	done
	ctl scale web 3
	wait_for 60 all_ready 3 || fail "back to 3: $(ctl get replicas -o wide)"
	[ "$(per_node | wc -l)" -eq 3 ] || fail "3 not spread: $(per_node)"
}

@test "crash a replica: Ready again within 2 s; requests through the node port keep being answered" {
	local name node addr url load t0 t1 dt
	read -r name node addr < <(replicas_json | jq -r '.items[] | select(.service == "web") | "\(.name) \(.node) \(.address)"' | head -1)
	url=http://$(host_addr h1):30080/api/info
	local announced
	announced=$(ctl events | grep -c RolloutComplete || true)
	load=$E2E_DIR/crash-load
	: >"$load"
	# a request every ~50 ms for 4 s through h1's node port: "ms code" per request
	(
		end=$(($(now_ms) + 4000))
		while [ "$(now_ms)" -lt "$end" ]; do
			echo "$(now_ms) $(curl -s -o /dev/null -w '%{http_code}' -m 2 "$url")" >>"$load"
			sleep 0.05
		done
	) &
	local loader=$!
	sleep 0.5
	t0=$(now_ms)
	in_host "$node" curl -s -m 2 -X POST "http://$addr:8080/crash" >/dev/null || true
	restarted() { [ "$(replica_field "$name" 'select(.ready and .restarts >= 1) | .name')" = "$name" ]; }
	wait_for 10 restarted || fail "$name not Ready again after 10 s"
	t1=$(now_ms)
	wait "$loader"
	dt=$((t1 - t0))
	local total failed late
	total=$(wc -l <"$load")
	failed=$(awk '$2 != 200' "$load" | wc -l)
	late=$(awk -v t="$((t0 + 1000))" '$2 != 200 && $1 > t' "$load" | wc -l)
	echo "# crash -> Ready ${dt} ms; node-port requests: $total sent, $failed failed ($late after the first second)" >&3
	# the cluster is whole again before a verdict, so one slow run does not fail the next tests
	wait_for 30 all_ready 3
	[ "$dt" -le 2000 ] || fail "$name took $dt ms to be Ready again (want <= 2000)"
	[ "$late" -eq 0 ] || fail "$late requests failed after the first second: $(awk '$2 != 200' "$load")"
	# a replica restarting is not a new rollout: no second RolloutComplete for generation 1
	sleep 1
	[ "$(ctl events | grep -c RolloutComplete || true)" -eq "$announced" ] ||
		fail "the restart announced the rollout again: $(ctl events | grep RolloutComplete)"
}

@test "lose a host: its replica Ready elsewhere within grace + 2 s; back, the service is not above its count" {
	local t0 dt
	t0=$(now_ms)
	"$CLUSTER" kill-host h3 --dir "$E2E_DIR" >/dev/null
	moved() { [ "$(replicas_json | jq '[.items[] | select(.service == "web" and .node != "h3" and .state == "Running" and .ready)] | length')" -eq 3 ]; }
	wait_for 30 moved || fail "replicas did not move off h3"
	dt=$(($(now_ms) - t0))
	echo "# host lost -> 3 Ready elsewhere in ${dt} ms (grace ${GRACE} s)" >&3
	"$CLUSTER" start-host h3 --dir "$E2E_DIR" >/dev/null
	h3_ready() { ctl get nodes | grep -q '^h3 .* Ready'; }
	wait_for 30 h3_ready || fail "h3 did not come back: $(ctl get nodes)"
	# the returning agent removes what the server moved away; nothing runs twice
	h3_clean() { [ -z "$(containers h3 | awk '$3 == "running"')" ]; }
	wait_for 20 h3_clean || fail "h3 still runs: $(containers h3)"
	sleep 2
	[ "$(replicas_json | jq '[.items[] | select(.service == "web" and .state == "Running")] | length')" -eq 3 ] ||
		fail "not 3 Running: $(ctl get replicas -o wide)"
	wait_for 30 all_ready 3
	# the verdict on the time once h3 is back, so one slow run does not fail the next tests
	[ "$dt" -le $(((GRACE + 2) * 1000)) ] || fail "took $dt ms (want <= $(((GRACE + 2) * 1000)))"
}

@test "rolling update to webapp:2 never has fewer than replicas - maxUnavailable ready; undo works" {
	local samples=$E2E_DIR/rollout-ready stop=$E2E_DIR/rollout-stop
	rm -f "$stop"
	: >"$samples"
	(while [ ! -e "$stop" ]; do
		ready_web >>"$samples" 2>/dev/null || true
		sleep 0.1
	done) &
	local sampler=$!
	ctl apply -f "$E2E_DIR/web-v2.json"
	run timeout 120 "$CTL" rollout status web -w
	touch "$stop"
	wait "$sampler"
	[ "$status" -eq 0 ] || fail "rollout: $output"
	local min
	min=$(sort -n "$samples" | head -1)
	echo "# rollout: $(wc -l <"$samples") samples of ready replicas, minimum $min" >&3
	[ "$min" -ge 3 ] || fail "ready replicas fell to $min during the rollout (maxUnavailable 0)"
	wait_for 30 all_ready 3
	[ "$(per_node)" = "h1 1
h2 1
h3 1" ] || fail "the new generation is not spread one per host: $(per_node)"
	[ "$(answering "http://$(host_addr h2):30080" 9 | awk '{print $2}' | sort -u)" = 2 ] ||
		fail "not every answer from version 2"
	ctl rollout undo web
	run timeout 120 "$CTL" rollout status web -w
	[ "$status" -eq 0 ] || fail "undo: $output"
	wait_for 30 all_ready 3
	[ "$(answering "http://$(host_addr h2):30080" 9 | awk '{print $2}' | sort -u)" = 1 ] ||
		fail "not every answer from version 1 after undo"
}

@test "server SIGKILL and restart: no replica disturbed" {
	local before after
	before=$(for h in h1 h2 h3; do containers "$h"; done)
	local reps
	reps=$(replicas_json | jq -r '.items[] | "\(.name) \(.node) \(.restarts)"' | sort)
	"$CLUSTER" kill-server --dir "$E2E_DIR" >/dev/null
	sleep 2
	"$CLUSTER" start-server --dir "$E2E_DIR" >/dev/null
	sleep $((GRACE + 1))
	after=$(for h in h1 h2 h3; do containers "$h"; done)
	[ "$before" = "$after" ] || fail "containers changed: before [$before] after [$after]"
	[ "$(replicas_json | jq -r '.items[] | "\(.name) \(.node) \(.restarts)"' | sort)" = "$reps" ] ||
		fail "replicas changed: $(ctl get replicas -o wide)"
	all_ready 3
}

@test "agent SIGKILL and restart: no replica duplicated" {
	local before after reps
	before=$(containers h1)
	[ -n "$before" ] || fail "h1 runs nothing"
	reps=$(replicas_json | jq -r '.items[] | .name' | sort)
	"$CLUSTER" kill-agent h1 --dir "$E2E_DIR" >/dev/null
	sleep 1
	"$CLUSTER" start-host h1 --dir "$E2E_DIR" >/dev/null
	adopted() { grep -q "adopted" "$E2E_DIR/h1/agent.log"; }
	wait_for 20 adopted || fail "the agent did not adopt its containers: $(tail -5 "$E2E_DIR/h1/agent.log")"
	sleep 3
	after=$(containers h1)
	[ "$before" = "$after" ] || fail "h1's containers changed: before [$before] after [$after]"
	[ "$(replicas_json | jq -r '.items[] | .name' | sort)" = "$reps" ] ||
		fail "replicas changed: $(ctl get replicas -o wide)"
	all_ready 3
}

@test "down leaves no namespace, link, route, process, mount, cgroup or state dir behind" {
	run "$CLUSTER" down --dir "$E2E_DIR"
	[ "$status" -eq 0 ] || fail "$output"
	local left
	left=$(ip netns list | grep "^$CLUSTER_PREFIX-" || true)
	[ -z "$left" ] || fail "namespaces left: $left"
	left=$(ip -o link show | grep -- " $CLUSTER_PREFIX-" || true)
	[ -z "$left" ] || fail "links left: $left"
	left=$(ip -4 route show | grep -F "$CLUSTER_LAN." || true)
	[ -z "$left" ] || fail "routes left: $left"
	left=$(pgrep -af -- "$E2E_DIR" || true)
	[ -z "$left" ] || fail "processes left: $left"
	left=$(awk -v d="$E2E_DIR" 'index($2, d) == 1' /proc/mounts)
	[ -z "$left" ] || fail "mounts left: $left"
	local r
	for r in $(sort -u "$E2E_DIR/seen"); do
		left=$(find /sys/fs/cgroup -maxdepth 4 -type d -name "$r" 2>/dev/null)
		[ -z "$left" ] || fail "cgroup left: $left"
	done
	left=$(ls -d "$E2E_DIR"/h* "$E2E_DIR/server" "$E2E_DIR/registry" 2>/dev/null || true)
	[ -z "$left" ] || fail "state left: $left"
}
