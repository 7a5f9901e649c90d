#!/usr/bin/env bats
# hostgw.bats - the network side of two nodes, each a network namespace host on a private LAN
# with a real `skiffd netagent`: host-gw routes between their pod subnets, and the node port
# on either host serving replicas (webapp processes in pod namespaces) on both, round robin,
# following readiness and removals within a second.  Traffic stays on the test's own bridge
# and namespaces.

load helpers

PROBE=$BATS_TEST_DIRNAME/netprobe.py
PYTHON=/usr/bin/python3 # Debian's: a pyenv shim adds 0.3 s to every start
[ -x "$PYTHON" ] || PYTHON=python3

# probe_start HOST present|absent NAME ROUND [IP]: a client of HOST's node port on IP
# (default 127.0.0.1, the userspace proxy; the node address is the kernel's rules) that notes
# when NAME shows up in (or leaves) the rotation; returns once it runs.  probe_time: that moment.
probe_start() {
	PROBE_OUT=$ORCH_TMP/probe.$RANDOM
	nh_bg "$1" "$PROBE_OUT" "$PYTHON" "$PROBE" poll "${5:-127.0.0.1}" "$NODEPORT" "$2" "$3" "$4" 5 \
		>/dev/null
	wait_file_contains "$PROBE_OUT" started 5
}

probe_time() {
	local i
	for ((i = 0; i < 120; i++)); do
		grep -qE '^([0-9.]+|timeout)$' "$PROBE_OUT" && break
		sleep 0.05
	done
	grep -E '^([0-9.]+|timeout)$' "$PROBE_OUT" || echo timeout
}

# took T0 T1 MAX WHAT: T1 - T0 < MAX seconds.
took() {
	[ "$2" != timeout ] || fail "$4: did not happen within 5 s"
	local d
	d=$(awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}')
	echo "# $4: $d s" >&3
	awk -v d="$d" -v m="$3" 'BEGIN {exit !(d < m)}' || fail "$4 took $d s (want < $3 s)"
}

# vanish OUT WHAT [GO]: the replica that the probe writing OUT is connected to freezes (its
# socket stays open and silent: its kernel acknowledges, it never answers) and is reported
# Failed; GO, when given, is touched then (the probe starts sending).  The probe's connection
# must end within 1 s of the report.  Sets VANISHED to the replica.
vanish() {
	local out=$1 r pid i
	wait_file_contains "$out" "replica " 5
	r=$(awk '/^replica /{print $2}' "$out")
	pid=$(pod_field "$r" 4)
	kill -STOP "$pid"
	report "$r" Failed false
	[ -z "${3:-}" ] || touch "$3"
	for ((i = 0; i < 80; i++)); do
		grep -q "^closed\|^timeout\|^answer" "$out" && break
		sleep 0.05
	done
	kill -CONT "$pid"
	grep -q "^closed" "$out" || fail "connection not closed: $(cat "$out")"
	took "$REPORT_T0" "$(awk '/^closed/{print $3}' "$out")" 1.0 "$2"
	VANISHED=$r
}

setup_file() {
	net_setup_cluster
	net_add_host ha
	net_add_host hb
	wait_for 10 nodes_ready 2
	service "$ORCH_TMP/web.json" web 4 \
		".ports = [{container: 8080, nodePort: $NODEPORT}] | .env = {SKIFF_FAKE_READY: \"never\"}"
	ctl apply -f "$ORCH_TMP/web.json" >/dev/null
	# the fake agents report them Running, not ready, then the real pods take over
	wait_for 15 eval '[ "$(count_state web Running)" -eq 4 ]'
	local r
	for r in $(replicas_json web | jq -r '.items[].name'); do
		run_replica "$r"
	done
	wait_for 10 all_ready web 4
}

teardown_file() {
	net_teardown
}

replicas_on() { # replicas_on HOST: ready replica names on HOST
	replicas_json web | jq -r --arg h "$1" '.items[] | select(.node == $h and .ready) | .name'
}

@test "nodes got distinct podCIDRs; each host routes the other's via its address (proto 83)" {
	local ca cb
	ca=$(node_pod_cidr ha)
	cb=$(node_pod_cidr hb)
	[ "$ca" != "$cb" ] || fail "same podCIDR $ca"
	[[ "$ca" == 10.244.*.0/24 && "$cb" == 10.244.*.0/24 ]] || fail "podCIDRs $ca $cb"
	wait_for 5 eval 'nh_exec ha ip -4 route show proto 83 | grep -q "^$cb via $(nh_addr hb) "'
	wait_for 5 eval 'nh_exec hb ip -4 route show proto 83 | grep -q "^$ca via $(nh_addr ha) "'
	# only the other node's subnet, nothing else
	assert_eq "$(nh_exec ha ip -4 route show proto 83 | wc -l)" 1 "routes on ha"
	assert_eq "$(nh_exec ha cat /proc/sys/net/ipv4/ip_forward)" 1 "ip_forward on ha"
}

@test "a pod on one host reaches a pod on the other host by its address" {
	local a b
	a=$(replicas_on ha | head -1)
	b=$(replicas_on hb | head -1)
	run nh_exec "$a" curl -s -m 3 "http://$(pod_field "$b" 3):8080/api/info"
	assert_status 0
	assert_eq "$(jq -r .replica <<<"$output")" "$b" "answer from hb's pod"
	run nh_exec "$b" curl -s -m 3 "http://$(pod_field "$a" 3):8080/api/info"
	assert_eq "$(jq -r .replica <<<"$output")" "$a" "answer from ha's pod"
}

@test "the node port on either host serves the replicas of both hosts, round robin" {
	local all target host out
	all=$(replicas_json web | jq -r '.items[].name' | sort | tr '\n' ' ')
	for target in "ha 127.0.0.1:$NODEPORT" "ha $(nh_addr ha):$NODEPORT" \
		"hb 127.0.0.1:$NODEPORT" "root $(nh_addr hb):$NODEPORT"; do
		read -r host target <<<"$target"
		out=$(via "$host" "$target" 8)
		# 8 new connections over 4 ready replicas: each one twice
		assert_eq "$(sort -u <<<"$out" | tr '\n' ' ')" "$all" "replicas via $host $target"
		assert_eq "$(sort <<<"$out" | uniq -c | awk '{print $1}' | sort -u)" 2 "spread via $target"
	done
}

@test "a replica that stops being ready gets no new connections within 1 s, and comes back" {
	local r out
	r=$(replicas_on hb | head -1)
	probe_start ha absent "$r" 4
	report "$r" Running false
	took "$REPORT_T0" "$(probe_time)" 1.0 "leaving the rotation"
	out=$(via ha "127.0.0.1:$NODEPORT" 12)
	assert_not_contains "$out" "$r"
	assert_eq "$(sort -u <<<"$out" | wc -l)" 3 "the other replicas"
	probe_start hb present "$r" 4
	report "$r" Running true
	took "$REPORT_T0" "$(probe_time)" 1.0 "joining the rotation"
}

@test "a new ready replica gets traffic within 1 s" {
	ctl scale web 5 >/dev/null
	wait_for 10 eval '[ "$(count_state web Running)" -eq 5 ]'
	local r
	r=$(replicas_json web | jq -r '.items[].name' | grep -vxF -f <(awk '{print $1}' "$ORCH_TMP/pods"))
	[ "$(wc -w <<<"$r")" -eq 1 ] || fail "want one new replica, got: $r"
	# its fake report (node address, not ready) gets no traffic
	assert_not_contains "$(via hb "127.0.0.1:$NODEPORT" 8)" "$r"
	start_pod "$r"
	probe_start ha present "$r" 5
	report "$r" Running true "$(pod_field "$r" 3)"
	took "$REPORT_T0" "$(probe_time)" 1.0 "serving the new replica on ha"
	via hb "127.0.0.1:$NODEPORT" 5 | grep -qx "$r" || fail "hb does not serve $r"
}

@test "an established connection to a replica that vanishes is reset within 1 s, not left hanging" {
	local out=$ORCH_TMP/hold.out r
	nh_bg ha "$out" "$PYTHON" "$PROBE" hold 127.0.0.1 "$NODEPORT" >/dev/null
	# only the proxy can end this connection: its backend is silent
	vanish "$out" "closing the connection"
	r=$VANISHED
	assert_not_contains "$(via ha "127.0.0.1:$NODEPORT" 8)" "$r"
}

@test "node ports on the node address are nftables DNAT rules; 127.0.0.1 is the userspace proxy" {
	local rules
	rules=$(nh_exec ha nft list table ip skiff_ha) || fail "no table ip skiff_ha on ha"
	[[ "$rules" == *"ip daddr $(nh_addr ha) tcp dport vmap { $NODEPORT : jump svc_$NODEPORT }"* ]] ||
		fail "no vmap for the node port: $rules"
	grep -q "dnat ip to numgen inc mod" <<<"$rules" || fail "no round-robin DNAT: $rules"
	grep -q "masquerade" <<<"$rules" || fail "no masquerade: $rules"
	grep -q "node ports: nftables DNAT on $(nh_addr ha)" "$ORCH_TMP/net-ha.log" ||
		fail "no log line: $(cat "$ORCH_TMP/net-ha.log")"
	# the userspace proxy does not listen on the node address: the kernel has the port
	! nh_exec ha ss -Htln "src $(nh_addr ha) and sport = :$NODEPORT" | grep -q . ||
		fail "a listener on the node address"
	nh_exec ha ss -Htln "src 127.0.0.1 and sport = :$NODEPORT" | grep -q . ||
		fail "no listener on 127.0.0.1"
}

@test "through the kernel rules, a replica that stops being ready gets no new connections within 1 s" {
	local r
	r=$(replicas_on ha | head -1)
	probe_start hb absent "$r" 4 "$(nh_addr hb)"
	report "$r" Running false
	took "$REPORT_T0" "$(probe_time)" 1.0 "leaving the kernel rotation"
	assert_not_contains "$(via root "$(nh_addr hb):$NODEPORT" 8)" "$r"
	probe_start hb present "$r" 4 "$(nh_addr hb)"
	report "$r" Running true
	took "$REPORT_T0" "$(probe_time)" 1.0 "joining the kernel rotation"
}

@test "through the kernel rules, a client that sends on a connection to a vanished replica is reset within 1 s" {
	local out=$ORCH_TMP/send.out go=$ORCH_TMP/send.go r
	nh_bg hb "$out" "$PYTHON" "$PROBE" send "$(nh_addr hb)" "$NODEPORT" "$go" >/dev/null
	vanish "$out" "resetting the connection" "$go"
	r=$VANISHED
	grep -q "connection(s) to gone replicas dropped" "$ORCH_TMP/net-hb.log" ||
		fail "no log line: $(cat "$ORCH_TMP/net-hb.log")"
	assert_not_contains "$(via root "$(nh_addr hb):$NODEPORT" 8)" "$r"
}

@test "--proxy-mode userspace serves the node address from the proxy, with no rules; bad modes are refused" {
	stop_netagent hb
	! nh_exec hb nft list table ip skiff_hb >/dev/null 2>&1 || fail "table left after a stop"
	start_netagent hb --proxy-mode userspace
	wait_for 5 eval 'via root "$(nh_addr hb):$NODEPORT" 1 | grep -qv none'
	! nh_exec hb nft list table ip skiff_hb >/dev/null 2>&1 || fail "a table in userspace mode"
	nh_exec hb ss -Htln "src $(nh_addr hb) and sport = :$NODEPORT" | grep -q . ||
		fail "no listener on the node address"
	stop_netagent hb
	start_netagent hb
	wait_for 5 nh_exec hb nft list table ip skiff_hb
	run "$SKIFFD" netagent --name x --proxy-mode fast
	assert_status 2
	assert_contains "$output" "--proxy-mode \`fast\`: expected auto, nftables or userspace"
	run "$SKIFFD" netagent --server "$URL" --data "$DATA" --name x --address 127.0.0.1 --proxy-mode nftables
	assert_status 1
	assert_contains "$output" "proxy mode nftables needs a node address that is not loopback"
}

@test "netagent restart: routes stay while it is down, the node port comes back" {
	local cb
	cb=$(node_pod_cidr hb)
	stop_netagent ha
	nh_exec ha ip -4 route show proto 83 | grep -q "^$cb " || fail "route removed on stop"
	run nh_exec ha curl -s -m 2 "http://127.0.0.1:$NODEPORT/api/info"
	[ "$status" -ne 0 ] || fail "node port still served while the netagent is down"
	start_netagent ha
	wait_for 5 eval 'via ha "127.0.0.1:$NODEPORT" 1 | grep -qv none'
}

@test "a route to a node deleted while the netagent was down is removed when it starts" {
	local pid cb
	cb=$(node_pod_cidr hb)
	pid=$(cat "$ORCH_TMP/net-ha.pid")
	kill -TERM "$pid"
	kill -KILL "$(cat "$ORCH_TMP/agent-hb.pid")"
	api DELETE /v1/nodes/hb >/dev/null
	for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	nh_exec ha ip -4 route show proto 83 | grep -q "^$cb " || fail "route gone too early"
	start_netagent ha
	wait_for 5 eval '! nh_exec ha ip -4 route show proto 83 | grep -q .'
	grep -q "route $cb via $(nh_addr hb) removed" "$ORCH_TMP/net-ha.log" ||
		fail "no log line: $(cat "$ORCH_TMP/net-ha.log")"
}

@test "a deleted service is no longer served" {
	api DELETE /v1/services/web >/dev/null
	wait_for 5 eval '! nh_exec ha curl -s -m 1 "http://127.0.0.1:$NODEPORT/api/info"'
	grep -q "web :$NODEPORT: no longer served" "$ORCH_TMP/net-ha.log" ||
		fail "no log line: $(cat "$ORCH_TMP/net-ha.log")"
}
