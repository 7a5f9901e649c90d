#!/usr/bin/env bats
# hostgw.bats - the network side of two nodes, each a network namespace host on a private LAN
# with a real `skiffd netagent`: host-gw routes between their pod subnets, and the node port
# on either host serving replicas (webapp processes in pod namespaces) on both, round robin,
# following readiness and removals within a second.  Traffic stays on the test's own bridge
# and namespaces.

load helpers

# Connects to HOST:PORT, asks /api/info on a keep-alive connection, prints "replica NAME",
# then waits for the connection to end and prints how: "closed reset|eof" or "timeout".
HOLD_PY='
import json, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"GET /api/info HTTP/1.1\r\nHost: x\r\n\r\n")
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
head, body = buf.split(b"\r\n\r\n", 1)
n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0]
while len(body) < n:
    body += s.recv(4096)
print("replica", json.loads(body)["replica"], flush=True)
try:
    print("closed", "eof" if s.recv(1) == b"" else "data", flush=True)
except ConnectionResetError:
    print("closed reset", flush=True)
except socket.timeout:
    print("timeout", flush=True)
'

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
	local r t0 out i
	r=$(replicas_on hb | head -1)
	t0=$(now)
	report "$r" Running false
	for ((i = 0; i < 50; i++)); do
		out=$(via ha "127.0.0.1:$NODEPORT" 3)
		grep -qx "$r" <<<"$out" || break
	done
	lt "$(elapsed "$t0")" 1.0 || fail "still served $(elapsed "$t0") s after not ready"
	out=$(via ha "127.0.0.1:$NODEPORT" 12)
	assert_not_contains "$out" "$r"
	assert_eq "$(sort -u <<<"$out" | wc -l)" 3 "the other replicas"
	t0=$(now)
	report "$r" Running true
	for ((i = 0; i < 50; i++)); do
		via hb "127.0.0.1:$NODEPORT" 4 | grep -qx "$r" && break
	done
	lt "$(elapsed "$t0")" 1.0 || fail "served again only $(elapsed "$t0") s after ready"
}

@test "a new ready replica gets traffic within 1 s" {
	ctl scale web 5 >/dev/null
	wait_for 10 eval '[ "$(count_state web Running)" -eq 5 ]'
	local r t0 i
	r=$(replicas_json web | jq -r '.items[] | select(.ready | not) | .name')
	[ -n "$r" ] || fail "no new replica"
	# its fake report (node address, not ready) gets no traffic
	assert_not_contains "$(via hb "127.0.0.1:$NODEPORT" 8)" "$r"
	start_pod "$r"
	t0=$(now)
	report "$r" Running true "$(pod_field "$r" 3)"
	for ((i = 0; i < 50; i++)); do
		via ha "127.0.0.1:$NODEPORT" 5 | grep -qx "$r" && break
	done
	lt "$(elapsed "$t0")" 1.0 || fail "new replica served only after $(elapsed "$t0") s"
	via hb "127.0.0.1:$NODEPORT" 5 | grep -qx "$r" || fail "hb does not serve $r"
}

@test "an established connection to a replica that vanishes is reset within 1 s, not left hanging" {
	local out=$ORCH_TMP/hold.out r pid t0 i
	nh_bg ha "$out" python3 -c "$HOLD_PY" 127.0.0.1 "$NODEPORT" >/dev/null
	wait_file_contains "$out" "replica " 5
	r=$(awk '/^replica /{print $2}' "$out")
	pid=$(pod_field "$r" 4)
	# the backend freezes: its socket stays open and silent, so only the proxy can end this
	kill -STOP "$pid"
	t0=$(now)
	report "$r" Failed false
	for ((i = 0; i < 60; i++)); do
		grep -q "^closed\|^timeout" "$out" && break
		sleep 0.05
	done
	kill -CONT "$pid"
	grep -q "^closed" "$out" || fail "connection not closed: $(cat "$out")"
	lt "$(elapsed "$t0")" 1.0 || fail "closed only $(elapsed "$t0") s after the replica failed"
	assert_not_contains "$(via ha "127.0.0.1:$NODEPORT" 8)" "$r"
}

@test "netagent restart: routes stay while it is down, the node port comes back" {
	local pid cb
	cb=$(node_pod_cidr hb)
	pid=$(cat "$ORCH_TMP/net-ha.pid")
	kill -TERM "$pid"
	for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$pid" 2>/dev/null || fail "netagent did not stop within 3 s"
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
