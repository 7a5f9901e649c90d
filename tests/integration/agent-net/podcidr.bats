#!/usr/bin/env bats
# podcidr.bats - the server's node IPAM: each node gets a podCIDR from --cluster-cidr at its
# first registration and keeps it (re-registration, server restart); an agent may ask for its
# own (checked: no overlap -> 409, sane range -> 400, never changed while the node exists);
# an exhausted range registers the node without one and says so.  Fake agents on loopback.

load ../orchestrator/helpers

setup() {
	orch_setup
}

teardown() {
	orch_teardown
}

pod_cidr() {
	api GET "/v1/nodes/$1" | jq -r .podCIDR
}

# register NAME ADDRESS [PODCIDR]: POST /v1/nodes; prints "STATUS BODY".
register() {
	local body
	body=$(jq -nc --arg n "$1" --arg a "$2" --arg p "${3:-}" \
		'{name: $n, address: $a} + (if $p == "" then {} else {podCIDR: $p} end)')
	tcurl -sS -o "$ORCH_TMP/reg.out" -w '%{http_code}' -X POST -H @"$AUTH_HDR" \
		--data "$body" "$URL/v1/nodes"
	echo " $(cat "$ORCH_TMP/reg.out")"
}

@test "nodes get distinct /24s of 10.244.0.0/16, kept across re-registration and server restart" {
	start_server
	start_agent n --count 3
	wait_for 10 nodes_ready 3
	local a b c
	a=$(pod_cidr n-0)
	b=$(pod_cidr n-1)
	c=$(pod_cidr n-2)
	assert_eq "$(printf '%s\n' "$a" "$b" "$c" | sort | tr '\n' ' ')" \
		"10.244.0.0/24 10.244.1.0/24 10.244.2.0/24 " "podCIDRs"
	# the agent restarts and registers again: same subnets
	kill -KILL "$AGENT_PID"
	start_agent n --count 3
	sleep 1.5
	assert_eq "$(pod_cidr n-0) $(pod_cidr n-1) $(pod_cidr n-2)" "$a $b $c" "after re-registration"
	# the server restarts: the subnets are part of the stored nodes
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || true
	start_server
	wait_for 10 nodes_ready 3
	assert_eq "$(pod_cidr n-0) $(pod_cidr n-1) $(pod_cidr n-2)" "$a $b $c" "after server restart"
	# and the watch stream carries it
	api GET /v1/nodes | jq -e '[.items[].podCIDR] | length == 3' >/dev/null
}

@test "a node's own podCIDR is taken when it fits, refused with one line when it does not" {
	start_server
	run register a 192.168.50.1 10.99.0.0/24
	assert_eq "${output%% *}" 201 "status"
	assert_eq "$(pod_cidr a)" 10.99.0.0/24
	# re-registering with the same one, or without any, keeps it
	run register a 192.168.50.1 10.99.0.0/24
	assert_eq "${output%% *}" 200 "status"
	run register a 192.168.50.1
	assert_eq "$(pod_cidr a)" 10.99.0.0/24
	# another node may not overlap it, and a node may not change it
	run register b 192.168.50.2 10.99.0.0/16
	assert_eq "$output" '409 {"error":"node `b`: podCIDR 10.99.0.0/16 overlaps 10.99.0.0/24 of node `a`","code":409}'
	run register a 192.168.50.1 10.98.0.0/24
	assert_eq "${output%% *}" 409 "status"
	assert_contains "$output" "the node already has 10.99.0.0/24 (delete the node to change it)"
	# nor hold another node's address, or its own
	run register b 192.168.50.2 192.168.50.0/24
	assert_eq "${output%% *}" 400 "status"
	assert_contains "$output" "contains the node's own address 192.168.50.2"
	run register b 10.97.0.9 10.97.1.0/24
	assert_eq "${output%% *}" 201 "status"
	run register c 192.168.50.3 10.97.0.0/24
	assert_eq "${output%% *}" 409 "status"
	assert_contains "$output" "contains the address 10.97.0.9 of node \`b\`"
	# malformed or not routable: 400 naming the field
	run register c 192.168.50.3 10.99.1.7/24
	assert_eq "$output" '400 {"error":"node.podCIDR: `10.99.1.7/24`: host bits set (did you mean 10.99.1.0/24?)","code":400}'
	run register c 192.168.50.3 127.0.0.0/16
	assert_contains "$output" "overlaps loopback 127.0.0.0/8"
	run register c 192.168.50.3 10.0.0.0/31
	assert_contains "$output" "prefix must be between 8 and 30"
	# nothing was stored for the refused registrations
	assert_eq "$(api GET /v1/nodes | jq -r '[.items[].name] | join(" ")')" "a b" "nodes"
	# deleting a node frees its subnet
	api DELETE /v1/nodes/a >/dev/null
	run register c 192.168.50.3 10.99.0.0/16
	assert_eq "${output%% *}" 201 "status"
}

@test "--cluster-cidr and --node-cidr-mask-size shape the subnets; an exhausted range says so" {
	start_server --cluster-cidr 172.30.0.0/22 --node-cidr-mask-size 23
	start_agent n --count 3
	wait_for 10 nodes_ready 3
	assert_eq "$(api GET /v1/nodes | jq -r '[.items[].podCIDR] | sort | join(" ")')" \
		" 172.30.0.0/23 172.30.2.0/23" "podCIDRs"
	local none
	none=$(api GET /v1/nodes | jq -r '.items[] | select(.podCIDR == "") | .name')
	api GET "/v1/events?object=$none" | jq -e '.items[] | select(.reason == "CIDRNotAvailable"
		and (.message | contains("cluster CIDR 172.30.0.0/22 has no free /23")))' >/dev/null ||
		fail "no CIDRNotAvailable event: $(api GET "/v1/events?object=$none")"
}

@test "--cluster-cidr none: no allocation; bad values are one-line errors" {
	start_server --cluster-cidr none
	start_agent n
	wait_for 10 nodes_ready 1
	assert_eq "$(pod_cidr n)" "" "podCIDR"
	run "$SKIFFD" server --cluster-cidr 10.244.0.0/33 --data "$ORCH_TMP/x"
	assert_eq "$status" 2
	assert_one_line_error
	assert_contains "$output" "--cluster-cidr: \`10.244.0.0/33\`: prefix must be between 0 and 32"
	run "$SKIFFD" server --cluster-cidr 10.0.0.0/8 --node-cidr-mask-size 26 --data "$ORCH_TMP/x"
	assert_eq "$status" 2
	assert_contains "$output" "would hold more than 65536 node subnets"
	run "$SKIFFD" server --node-cidr-mask-size x --data "$ORCH_TMP/x"
	assert_eq "$status" 2
	assert_one_line_error
}
