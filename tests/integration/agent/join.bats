#!/usr/bin/env bats
# join.bats - how the real node agent proves who it is and whom it trusts: it joins with the
# join token (the server's CA checked against the token's hash), speaks with the node's own
# credential, keeps that credential under --root for its restarts, and its logs endpoint
# answers only what the server presents (the token the join gave for server calls).

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

# node_credentials NODE: the ids of the node credentials of NODE.
node_credentials() {
	ctl token list -o json | jq -r --arg n "$1" '.items[] | select(.kind == "node" and .node == $n) | .id'
}

# agent_get PATH HEADER-FILE: status code of GET PATH on n1's endpoint (no file: no header),
# over HTTPS, the agent's certificate checked against the cluster CA for the node's address.
agent_get() {
	local addr port
	addr=$(api GET /v1/nodes/n1 | jq -r .address)
	port=$(api GET /v1/nodes/n1 | jq -r .agentPort)
	curl -s -o /dev/null -w '%{http_code}' --cacert "$DATA/ca.crt" ${2:+-H @"$2"} \
		"https://$addr:$port$1"
}

@test "join: the node's own credential, kept 0600 under --root; the endpoint takes only the server's token" {
	start_real_agent
	[ -n "$(node_credentials n1)" ] || fail "no node credential for n1: $(ctl token list)"
	[ "$(stat -c %a "$AROOT/credentials.json")" = 600 ] || fail "mode $(stat -c %a "$AROOT/credentials.json")"
	jq -e '.node == "n1"' "$AROOT/credentials.json" >/dev/null
	cmp <(jq -j .ca "$AROOT/credentials.json") "$DATA/ca.crt" # the CA the join checked
	# the node's credential is not the admin's, and the join token's secret is nowhere in it
	[ "$(jq -r .token "$AROOT/credentials.json")" != "$(cat "$DATA/token")" ]
	local join
	join=$(cat "$DATA/join-token")
	! grep -qF "${join##*::}" "$AROOT/credentials.json"
	# the logs endpoint speaks HTTPS with a certificate the join got for the node's address
	assert_eq "$(api GET /v1/nodes/n1 | jq -r .agentScheme)" https "agentScheme"
	jq -e '.servingCert and .servingKey and .servingAddress' "$AROOT/credentials.json" >/dev/null ||
		fail "no serving certificate saved"
	openssl x509 -noout -ext subjectAltName <<<"$(jq -r .servingCert "$AROOT/credentials.json")" |
		grep -q "IP Address:$(api GET /v1/nodes/n1 | jq -r .address)" || fail "certificate not for the address"
	assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -m 5 \
		"http://$(api GET /v1/nodes/n1 | jq -r .address):$(api GET /v1/nodes/n1 | jq -r .agentPort)/v1/logs/x")" \
		000 "plain HTTP"
	# nothing, the node's own credential, the admin's: 401
	(umask 077 && printf 'Authorization: Bearer %s\n' "$(jq -r .token "$AROOT/credentials.json")" >"$ORCH_TMP/node.hdr")
	(umask 077 && printf 'Authorization: Bearer %s\n' "$(jq -r .serverToken "$AROOT/credentials.json")" >"$ORCH_TMP/srv.hdr")
	assert_eq "$(agent_get /v1/logs/nosuch-1-abcde)" 401 "no credential"
	assert_eq "$(agent_get /v1/logs/nosuch-1-abcde "$ORCH_TMP/node.hdr")" 401 "the node's credential"
	assert_eq "$(agent_get /v1/logs/nosuch-1-abcde "$AUTH_HDR")" 401 "the admin's credential"
	# what the server presents is accepted (the replica does not exist: 404)
	assert_eq "$(agent_get /v1/logs/nosuch-1-abcde "$ORCH_TMP/srv.hdr")" 404 "the server's token"
	# and the server, which sends it, gets the logs through
	webapp_service "$ORCH_TMP/web.json" web 1
	ctl apply -f "$ORCH_TMP/web.json"
	wait_for 20 all_ready web 1
	wait_for 10 eval 'ctl logs "$(replica_names web)" | grep -q "listening on"'
}

@test "join: a token that carries another CA's hash is refused in one line, before any credential" {
	sed -E 's/sha256:[0-9a-f]{64}/sha256:'"$(printf '0%.0s' {1..64})"'/' "$DATA/join-token" >"$ORCH_TMP/other-token"
	run timeout 30 "$SKIFFD" agent --server "$URL" --token-file "$ORCH_TMP/other-token" --name n1 \
		--root "$AROOT" --bridge "$BR" --pod-cidr "$SUBNET" --agent-port 0 --image-root "$AGENT_STORE"
	assert_status 1
	assert_contains "$output" "not the cluster this token belongs to"
	[ -z "$(node_credentials n1)" ] || fail "a credential was issued"
	[ ! -e "$AROOT/credentials.json" ]
	run api GET /v1/nodes
	assert_eq "$(jq '.items | length' <<<"$output")" 0 "nodes"
}

@test "join: with the join token revoked, a restarted agent goes on with the credential of its join" {
	start_real_agent
	local first
	first=$(jq -r .token "$AROOT/credentials.json")
	kill -KILL "$AGENT_PID"
	# revoke the join token (its id is before the dot of its credential part)
	local id
	id=$(sed -E 's/.*::([a-z0-9]{6})\..*/\1/' "$DATA/join-token")
	ctl token delete "$id"
	: >"$AGENT_LOG"
	start_real_agent
	assert_contains "$(cat "$AGENT_LOG")" "an earlier join"
	assert_eq "$(jq -r .token "$AROOT/credentials.json")" "$first" "saved credential"
	wait_for 10 nodes_ready 1
	# a fresh root has nothing saved: the revoked token is refused, the agent stops
	run timeout 30 "$SKIFFD" agent --server "$URL" --token-file "$DATA/join-token" --name n2 \
		--root "$ORCH_TMP/root2" --bridge "${BR}x" --pod-cidr "$SUBNET" --agent-port 0 \
		--image-root "$AGENT_STORE"
	assert_status 1
	assert_contains "$output" "401"
}

@test "join: an admin credential on a node joins it; the agent then speaks as the node" {
	start_real_agent_admin() {
		AGENT_LOG=$ORCH_TMP/agent.log
		"$SKIFFD" agent --server "$URL" --token-file "$DATA/token" --ca-file "$DATA/ca.crt" \
			--name n1 --root "$AROOT" --bridge "$BR" --pod-cidr "$SUBNET" --agent-port 0 \
			--image-root "$AGENT_STORE" --cpu 2 --memory 2Gi >>"$AGENT_LOG" 2>&1 &
		AGENT_PID=$!
		ORCH_PIDS+=("$AGENT_PID")
		wait_for 10 grep -q "registered" "$AGENT_LOG"
	}
	start_real_agent_admin
	[ -n "$(node_credentials n1)" ] || fail "no node credential for n1"
	ctl token list -o json | jq -e '.items[] | select(.kind == "node" and .node == "n1")
		| .description | test("admin")' >/dev/null
	[ "$(jq -r .token "$AROOT/credentials.json")" != "$(cat "$DATA/token")" ]
	# --token on the command line is refused (a secret in argv)
	run "$SKIFFD" agent --server "$URL" --token x --name n9
	assert_status 2
	assert_contains "$output" "never on the command line"
}
