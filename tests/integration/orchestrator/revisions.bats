#!/usr/bin/env bats
# revisions.bats - one store revision per transaction, seen through the API on both
# backends: a controller tick writes up to 128 replicas at one revision, and a watch stream
# (which resumes after a revision) must still deliver every one of them, whatever its
# buffer limit; a list's revision is the revision of its newest object.

load helpers
load etcd

setup() {
	orch_setup
	ETCD_TMP=$ORCH_TMP/etcd
	mkdir -p "$ETCD_TMP"
}

teardown() {
	orch_teardown
	etcd_kill_all
}

# watch_sees_all N: watch replicas from before an apply of N; every one arrives as ADDED.
watch_sees_all() {
	local n=$1 rev
	rev=$(api GET /v1/replicas | jq .revision)
	tcurl -sN -m 60 -H @"$AUTH_HDR" \
		"$URL/v1/watch?from=$rev&kind=replicas" >"$ORCH_TMP/watch" 2>/dev/null 3>&- &
	ORCH_PIDS+=($!)
	start_agent n --count 20
	service "$ORCH_TMP/s.json" big "$n" '.resources = {cpu: 0.01, memory: "1Mi"}'
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 60 all_ready big "$n"
	added() { [ "$(jq -r 'select(.type == "ADDED") | .object.name' "$ORCH_TMP/watch" | sort -u | wc -l)" -eq "$n" ]; }
	wait_for 10 added
	# replicas written together share a revision
	shared=$(api GET /v1/replicas | jq '[.items[].createdRevision] | group_by(.) | map(length) | max')
	[ "$shared" -gt 1 ] || fail "no two replicas created at one revision"
	[ "$shared" -le 128 ] || fail "$shared replicas at one revision (a txn holds 128)"
}

@test "sqlite: a watch delivers every replica of a 1,000-replica apply, written 128 to a revision" {
	start_server
	watch_sees_all 1000
}

@test "etcd: a watch delivers every replica of a 1,000-replica apply, written 128 to a revision" {
	etcd_start 1
	PORT=$(free_port)
	start_server --store "etcd:$ETCD_ENDPOINTS"
	watch_sees_all 1000
}
