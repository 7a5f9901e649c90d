#!/usr/bin/env bats
# auth.bats - the control plane a stranger cannot use: TLS by default under the CA the
# server made at its first start, clients and agents that refuse a server of another CA,
# plain HTTP only on loopback, node credentials limited to their own node and replicas
# (403 with a one-line reason), join tokens that expire and can be revoked, requests refused
# on their headers before their body is read, connection caps, secrets never in argv or logs.
# hostile.py plays the stranger.

load helpers

HOSTILE=$BATS_TEST_DIRNAME/hostile.py

setup() {
	orch_setup
}

teardown() {
	orch_teardown
}

# sockets_of PID: how many sockets the process holds.
sockets_of() { find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null | wc -l; }

# secret_of FILE: the secret part of the credential or join token in FILE.
secret_of() { sed 's/.*\.//' "$1"; }

# node_header NODE: join NODE with the server's join token (read from its file), write its
# credential as a curl header file; prints the file's path.
node_header() {
	local out=$ORCH_TMP/$1.hdr join cred
	join=$(sed 's/.*:://' "$DATA/join-token")
	cred=$(printf 'Authorization: Bearer %s\n' "$join" |
		tcurl -sS -H @- -X POST --data "{\"node\":\"$1\"}" "$URL/v1/join" | jq -r .token)
	[[ "$cred" == *.* ]] || return 1
	(umask 077 && printf 'Authorization: Bearer %s\n' "$cred" >"$out")
	echo "$out"
}

@test "TLS by default: CA, certificate and keys made at the first start, the CA hash in the join token" {
	start_server
	local f
	for f in ca.key server.key token join-token store.db; do
		assert_eq "$(stat -c %a "$DATA/$f")" 600 "mode of $f"
	done
	run openssl verify -CAfile "$DATA/ca.crt" "$DATA/server.crt"
	assert_status 0
	# the hash kubeadm's --discovery-token-ca-cert-hash recipe gives
	local hash
	hash=$(openssl x509 -pubkey -noout -in "$DATA/ca.crt" | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)
	assert_contains "$(cat "$DATA/join-token")" "SKIFF1::sha256:$hash::"
	assert_contains "$(cat "$ORCH_TMP/server.log")" "sha256:$hash"
	assert_eq "$(tcurl -sf "$URL/v1/ca" | jq -r .hash)" "sha256:$hash" "GET /v1/ca"
	# plain HTTP to the TLS port gets nothing
	run curl -sS -m 5 "http://127.0.0.1:$PORT/healthz"
	[ "$status" -ne 0 ] || fail "plain HTTP answered: $output"
	# a restart keeps the CA (and the credentials), and makes no new join token
	kill "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	local before
	before=$(sha256sum <"$DATA/join-token")
	start_server
	run openssl x509 -pubkey -noout -in "$DATA/ca.crt"
	assert_eq "$(openssl x509 -pubkey -noout -in "$DATA/ca.crt" | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)" "$hash" "CA after a restart"
	assert_eq "$(sha256sum <"$DATA/join-token")" "$before" "join token after a restart"
	run ctl get nodes
	assert_status 0
}

@test "a client or an agent refuses a server whose certificate is not of its cluster's CA" {
	start_server
	# another cluster: its own CA and join token
	local other=$ORCH_TMP/other oport
	oport=$(free_port)
	"$SKIFFD" server --listen "127.0.0.1:$oport" --data "$other" >"$ORCH_TMP/other.log" 2>&1 &
	ORCH_PIDS+=($!)
	wait_for 10 test -s "$other/join-token"
	run "$SKIFFCTL" --server "$URL" --token-file "$DATA/token" --ca-file "$other/ca.crt" get nodes
	[ "$status" -ne 0 ] || fail "accepted a server of another CA: $output"
	assert_one_line_error
	assert_contains "$output" "is not the cluster's: its certificate does not verify against the CA"
	run curl -sS --cacert "$other/ca.crt" "$URL/healthz"
	[ "$status" -ne 0 ]
	# an agent with the other cluster's join token: refused on first contact
	run timeout 20 "$SKIFFD" agent --fake-runtime --server "$URL" --join-token-file "$other/join-token" --name x
	[ "$status" -eq 1 ] || fail "status $status: $output"
	assert_contains "$output" "not the cluster this token belongs to"
	assert_eq "$(api GET /v1/nodes | jq '.items | length')" 0 "nodes registered"
	# a join token whose hash was tampered with (every digit changed): same refusal
	sed -E 's/sha256:[0-9a-f]{64}/sha256:'"$(printf 'f%.0s' {1..64})"'/' "$DATA/join-token" >"$ORCH_TMP/tampered"
	! cmp -s "$DATA/join-token" "$ORCH_TMP/tampered"
	run timeout 20 "$SKIFFD" agent --fake-runtime --server "$URL" --join-token-file "$ORCH_TMP/tampered" --name x
	[ "$status" -eq 1 ]
	assert_contains "$output" "not the cluster this token belongs to"
}

@test "plain HTTP only with --insecure-http, and then only on loopback" {
	local p
	p=$(free_port)
	run "$SKIFFD" server --insecure-http --listen "0.0.0.0:$p" --data "$DATA"
	assert_status 2
	assert_one_line_error
	assert_contains "$output" "--insecure-http: only on a loopback address"
	run "$SKIFFD" server --insecure-http --listen ":$p" --data "$DATA"
	assert_status 2
	start_server --insecure-http
	URL=http://127.0.0.1:$PORT
	run curl -sS "$URL/healthz"
	assert_status 0
	# still authenticated
	assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/services")" 401 "no credential"
	run ctl get nodes
	assert_status 0
	start_agent n
	wait_for 10 nodes_ready 1
}

@test "a node credential writes only its own node and replicas: 403 with a one-line reason" {
	start_server
	start_agent a
	start_agent b
	wait_for 10 nodes_ready 2
	service "$ORCH_TMP/s.json" app 2
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 15 all_ready app 2
	local ra rb before hdr
	ra=$(replicas_json app | jq -r '.items[] | select(.node == "a") | .name')
	rb=$(replicas_json app | jq -r '.items[] | select(.node == "b") | .name')
	[ -n "$ra" ] && [ -n "$rb" ] || fail "want one replica per node: $(replicas_json app)"
	hdr=$(node_header b-twin) || fail "join as b-twin"
	before=$(api GET "/v1/replicas/$ra" | jq -c 'del(.revision)')
	# node b-twin may not report for a's replica, heartbeat or register as a, or touch services
	run tcurl -sS -H @"$hdr" -X POST --data '{"node":"a","state":"Failed","lastExitCode":1}' "$URL/v1/replicas/$ra/status"
	assert_eq "$(jq -r .code <<<"$output")" 403 "status of another node's replica"
	assert_eq "$(jq -r .error <<<"$output")" "node \`b-twin\` may not report the status of replica \`$ra\`: it is bound to node \`a\`"
	run tcurl -sS -H @"$hdr" -X DELETE "$URL/v1/replicas/$ra"
	assert_eq "$(jq -r .code <<<"$output")" 403 "delete another node's replica"
	run tcurl -sS -H @"$hdr" -X POST --data '{}' "$URL/v1/nodes/a/heartbeat"
	assert_eq "$(jq -r .error <<<"$output")" "node \`b-twin\` may only heartbeat itself, not node \`a\`"
	run tcurl -sS -H @"$hdr" -X POST --data '{"name":"a","address":"10.9.9.9","capacity":{"cpu":1,"memory":"1Gi"}}' "$URL/v1/nodes"
	assert_eq "$(jq -r .error <<<"$output")" "node \`b-twin\` may only register itself, not node \`a\`"
	for req in "DELETE /v1/services/app" "POST /v1/apply" "POST /v1/nodes/a/drain" "GET /v1/tokens" "DELETE /v1/nodes/a"; do
		run tcurl -sS -H @"$hdr" -X "${req% *}" --data '{}' "$URL${req#* }"
		assert_eq "$(jq -r .code <<<"$output")" 403 "$req"
		assert_eq "$(jq -r .error <<<"$output")" "node \`b-twin\` may not $req" "$req"
	done
	# nothing changed
	assert_eq "$(api GET "/v1/replicas/$ra" | jq -c 'del(.revision)')" "$before" "replica $ra"
	assert_eq "$(api GET /v1/nodes/a | jq -r .address)" 127.0.0.1 "node a"
	all_ready app 2
	# what it may do: register and heartbeat itself, read
	run tcurl -sS -H @"$hdr" -o /dev/null -w '%{http_code}' -X POST --data '{"name":"b-twin","address":"127.0.0.1","capacity":{"cpu":1,"memory":"1Gi"}}' "$URL/v1/nodes"
	assert_eq "$output" 201 "register itself"
	run tcurl -sS -H @"$hdr" -o /dev/null -w '%{http_code}' -X POST --data '{}' "$URL/v1/nodes/b-twin/heartbeat"
	assert_eq "$output" 200 "heartbeat itself"
	run tcurl -sS -H @"$hdr" -o /dev/null -w '%{http_code}' "$URL/v1/replicas?node=b-twin"
	assert_eq "$output" 200 "read replicas"
	# joining again (a reinstalled host) revokes the node's earlier credential
	cp "$hdr" "$ORCH_TMP/old.hdr"
	node_header b-twin >/dev/null || fail "join again"
	run tcurl -sS -H @"$ORCH_TMP/old.hdr" -o /dev/null -w '%{http_code}' "$URL/v1/nodes"
	assert_eq "$output" 401 "the earlier credential"
	run tcurl -sS -H @"$hdr" -o /dev/null -w '%{http_code}' "$URL/v1/nodes"
	assert_eq "$output" 200 "the new credential"
}

@test "a join that names the node's address gets a serving certificate for it from the CA; a bad address is 400" {
	start_server
	local join out
	join=$(sed 's/.*:://' "$DATA/join-token")
	out=$(printf 'Authorization: Bearer %s\n' "$join" |
		tcurl -sS -H @- -X POST --data '{"node":"n7","address":"10.9.8.7"}' "$URL/v1/join")
	jq -r .servingCert <<<"$out" >"$ORCH_TMP/n7.crt"
	jq -e '.servingKey | startswith("-----BEGIN")' <<<"$out" >/dev/null || fail "no key: $out"
	openssl verify -CAfile "$DATA/ca.crt" "$ORCH_TMP/n7.crt" | grep -q OK || fail "not signed by the CA"
	openssl x509 -noout -ext subjectAltName -in "$ORCH_TMP/n7.crt" | grep -q "IP Address:10.9.8.7" ||
		fail "not for the address: $(openssl x509 -noout -text -in "$ORCH_TMP/n7.crt")"
	# without an address (fake agents, nodes joined by hand): no certificate
	out=$(printf 'Authorization: Bearer %s\n' "$join" |
		tcurl -sS -H @- -X POST --data '{"node":"n8"}' "$URL/v1/join")
	jq -e 'has("servingCert") | not' <<<"$out" >/dev/null || fail "a certificate without an address"
	run bash -c "printf 'Authorization: Bearer %s\n' '$join' | curl -sS --cacert '$DATA/ca.crt' -H @- \
		-X POST -w ' %{http_code}' --data '{\"node\":\"n9\",\"address\":\"nine\"}' '$URL/v1/join'"
	assert_contains "$output" "expected the node's IPv4 address"
	assert_contains "$output" " 400"
}

@test "join tokens expire, are listed and revoked; a revoked node credential is refused" {
	start_server
	# an expired join token: 401, nothing joined
	run ctl token create --ttl 2s --description short
	assert_status 0
	echo "$output" >"$ORCH_TMP/short"
	sleep 3
	run timeout 20 "$SKIFFD" agent --fake-runtime --server "$URL" --join-token-file "$ORCH_TMP/short" --name late
	assert_status 1
	assert_contains "$output" "HTTP 401: credential expired"
	run ctl token list
	assert_contains "$output" "short"
	assert_contains "$(grep short <<<"$output")" "expired"
	# a revoked one: 401 too
	ctl token create --description revoked >"$ORCH_TMP/revoked"
	local id
	id=$(sed 's/.*:://; s/\..*//' "$ORCH_TMP/revoked")
	run ctl token delete "$id"
	assert_status 0
	assert_eq "$output" "token $id deleted"
	run timeout 20 "$SKIFFD" agent --fake-runtime --server "$URL" --join-token-file "$ORCH_TMP/revoked" --name gone
	assert_status 1
	assert_contains "$output" "HTTP 401: unknown or revoked credential"
	run ctl token list
	assert_not_contains "$output" "$id"
	# the default lifetime is 24 h
	ctl token create --description day >/dev/null
	[[ "$(ctl token list | grep day)" =~ in\ 2[34]h ]] || fail "lifetime: $(ctl token list)"
	assert_eq "$(api GET /v1/tokens | jq -r '.items[] | select(.description == "day") | .kind')" join
	# a node's credential revoked: its agent is refused and the node goes NotReady
	start_agent n
	wait_for 10 nodes_ready 1
	id=$(api GET /v1/tokens | jq -r '.items[] | select(.node == "n") | .id')
	ctl token delete "$id"
	wait_for 15 grep -q "401" "$ORCH_TMP/agent-n.log"
	wait_for 15 nodes_ready 0
	# the last admin credential cannot be deleted
	id=$(api GET /v1/tokens | jq -r '.items[] | select(.kind == "admin") | .id')
	run ctl token delete "$id"
	[ "$status" -ne 0 ]
	assert_contains "$output" "the last admin credential"
}

@test "a request without a valid credential is answered 401 on its headers; bodies are capped per route" {
	start_server
	# 1 MiB announced, not a byte sent: the answer comes anyway
	run python3 "$HOSTILE" early "$PORT" "$DATA/ca.crt" POST /v1/apply
	assert_status 0
	assert_contains "$output" "HTTP/1.1 401"
	# authenticated, but over the route's cap: 413 before the body
	run python3 "$HOSTILE" early "$PORT" "$DATA/ca.crt" POST /v1/nodes/n/heartbeat "$AUTH_HDR"
	assert_contains "$output" "HTTP/1.1 413"
	# within the cap the same route waits for its body (no answer in 2 s)
	run timeout 2 python3 "$HOSTILE" early "$PORT" "$DATA/ca.crt" POST /v1/apply "$AUTH_HDR"
	assert_eq "$status" 124 "apply within its 1 MiB cap"
	# a node credential on a route it may not use: 403, also before the body
	local hdr
	hdr=$(node_header n) || fail "join as n"
	run python3 "$HOSTILE" early "$PORT" "$DATA/ca.crt" POST /v1/apply "$hdr"
	assert_contains "$output" "HTTP/1.1 403"
	# a chunked body (no length announced) that outgrows the 4 KiB cap: cut short
	run python3 "$HOSTILE" chunked "$PORT" "$DATA/ca.crt" /v1/nodes/n/heartbeat "$AUTH_HDR" 1048576
	assert_status 0
	local bytes
	bytes=$(awk '{print $(NF-1)}' <<<"$output")
	[ "$bytes" -lt 65536 ] || fail "the server took $bytes bytes of a body capped at 4 KiB: $output"
}

@test "connections: capped per client address and in all, silent ones closed, others still served" {
	start_server --max-connections-per-client 16 --max-connections 40
	run python3 "$HOSTILE" many "$PORT" 40 127.0.0.2
	assert_eq "$output" "24 of 40 closed" "connections over the per-client cap"
	# 3 x 16 from three more addresses: the server takes 40 at most (the rest wait in the
	# kernel's listen queue, costing the server nothing)
	local base
	base=$(sockets_of "$SERVER_PID")
	python3 "$HOSTILE" idle "$PORT" 48 4 127.0.0.4 127.0.0.5 127.0.0.6 >"$ORCH_TMP/total.out" 2>&1 &
	ORCH_PIDS+=($!)
	wait_for 5 grep -q "^open 48" "$ORCH_TMP/total.out"
	sleep 1
	local held
	held=$(($(sockets_of "$SERVER_PID") - base))
	[ "$held" -le 40 ] && [ "$held" -ge 30 ] || fail "the server holds $held of 48 connections (cap 40)"
	# silent connections are closed after the 10 s handshake timeout
	python3 "$HOSTILE" idle "$PORT" 12 14 127.0.0.3 >"$ORCH_TMP/idle.out" 2>&1 &
	ORCH_PIDS+=($!)
	wait_for 5 grep -q "^open 12" "$ORCH_TMP/idle.out"
	run ctl get nodes
	assert_status 0
	wait_for 20 grep -q "12 closed by the server" "$ORCH_TMP/idle.out"
	local at
	at=$(grep -m1 "12 closed" "$ORCH_TMP/idle.out" | awk '{print $2}')
	[ "$at" -ge 9 ] || fail "closed after $at s, before the 10 s timeout"
}

@test "secrets never in argv or logs" {
	start_server
	start_agent n --count 2
	wait_for 10 nodes_ready 2
	service "$ORCH_TMP/s.json" app 2
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 15 all_ready app 2
	local s p admin join
	admin=$(secret_of "$DATA/token")
	join=$(secret_of "$DATA/join-token")
	for p in "$SERVER_PID" "$AGENT_PID"; do
		s=$(tr '\0' ' ' <"/proc/$p/cmdline")
		assert_not_contains "$s" "$admin"
		assert_not_contains "$s" "$join"
		assert_not_contains "$s" "SKIFF1::"
	done
	for f in "$ORCH_TMP"/*.log; do
		assert_not_contains "$(cat "$f")" "$admin"
		assert_not_contains "$(cat "$f")" "$join"
	done
	# node credentials: in the agent's memory only, their hashes in the store
	for s in $(api GET /v1/tokens | jq -r '.items[] | select(.kind == "node") | .id'); do
		assert_not_contains "$(cat "$ORCH_TMP"/*.log)" "$s."
	done
	assert_eq "$(api GET /v1/tokens | jq '[.items[] | select(has("hash") or has("serverToken"))] | length')" 0 "hashes listed"
}
