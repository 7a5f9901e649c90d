#!/usr/bin/env bats
# flood.bats - the server's memory under a flood stays bounded and a legitimate client is
# still served.  Before this round 300 unauthenticated 1 MiB POSTs (100 at a time) took the
# server from 10 MB to 113 MB RSS, kept afterwards.  Here: 2,000 unauthenticated 1 MiB
# uploads, 100 at a time, then 1,000 idle connections from ten loopback addresses; the
# server's RSS is printed before, at its peak and after (TAP comments, also in the test
# log), and `skiffctl get` must answer during both.

load helpers

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-600}
HOSTILE=$BATS_TEST_DIRNAME/hostile.py

setup() {
	orch_setup
}

teardown() {
	orch_teardown
}

rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$SERVER_PID/status"; }
hwm_kb() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$SERVER_PID/status"; }
say() { echo "# $*" >&3; }

# timed_get: `skiffctl get replicas`, prints its seconds; fails when it fails.
timed_get() {
	local t0 t1
	t0=$(date +%s%N)
	ctl get replicas >/dev/null || return 1
	t1=$(date +%s%N)
	echo "$(((t1 - t0) / 1000000)) ms"
}

# RSS means something only without AddressSanitizer (its quarantine and shadow memory grow
# with every allocation): the sanitizer build's suite runs the flood against the optimised
# skiffd of build/ when there is one, else it skips the memory bounds (the rest still holds).
uninstrumented() { ! ldd "$1" 2>/dev/null | grep -q libasan; }

@test "2,000 unauthenticated 1 MiB uploads and 1,000 idle connections: RSS bounded, skiffctl get answers" {
	local measure=1 plain=$BATS_TEST_DIRNAME/../../../build/skiffd
	if ! uninstrumented "$SKIFFD"; then
		if [ -x "$plain" ] && uninstrumented "$plain"; then
			SKIFFD=$plain
		else
			measure=0
		fi
	fi
	say "server binary: $SKIFFD$([ "$measure" = 1 ] || echo ' (ASan: memory bounds not checked)')"
	start_server
	start_agent n --count 3
	wait_for 10 nodes_ready 3
	service "$ORCH_TMP/s.json" app 3
	ctl apply -f "$ORCH_TMP/s.json"
	wait_for 15 all_ready app 3
	local before peak after gets="" i
	before=$(rss_kb)
	say "load average $(cut -d' ' -f1-3 /proc/loadavg)"
	say "server RSS before: $before KiB"

	python3 "$HOSTILE" flood "$PORT" "$DATA/ca.crt" 2000 100 1048576 >"$ORCH_TMP/flood.out" 2>&1 &
	local flood=$!
	ORCH_PIDS+=("$flood")
	sleep 1
	for i in 1 2 3; do
		gets+=" $(timed_get)" || fail "skiffctl get failed during the flood"
		sleep 1
	done
	wait "$flood" || fail "flood: $(cat "$ORCH_TMP/flood.out")"
	after=$(rss_kb)
	peak=$(hwm_kb)
	say "$(cat "$ORCH_TMP/flood.out")"
	say "skiffctl get replicas during the flood:$gets"
	say "server RSS after the flood: $after KiB (peak $peak KiB)"
	# every upload refused: 401 on its headers, or the connection cut while it kept sending
	run awk -F': ' '{print $2}' "$ORCH_TMP/flood.out"
	[[ "$output" =~ ^(401=[0-9]+|reset=[0-9]+|, )+$ ]] || fail "an upload was not refused: $(cat "$ORCH_TMP/flood.out")"
	assert_eq "$(api GET /v1/services | jq '.items | length')" 1 "services after the flood"
	if [ "$measure" = 1 ]; then
		[ $((after - before)) -lt 8192 ] || fail "RSS grew by $((after - before)) KiB and stayed"
		[ $((peak - before)) -lt 65536 ] || fail "RSS peaked $((peak - before)) KiB above the start"
	fi

	# 1,000 connections that send nothing, 100 from each of ten addresses (under the
	# per-client cap of 128): held for 30 s at most
	python3 "$HOSTILE" idle "$PORT" 1000 30 127.0.0.{2..11} >"$ORCH_TMP/idle.out" 2>&1 &
	ORCH_PIDS+=($!)
	wait_for 30 grep -q "^open 1000" "$ORCH_TMP/idle.out"
	local held get_idle
	held=$(rss_kb)
	get_idle=$(timed_get) || fail "skiffctl get failed with 1,000 idle connections open"
	say "server RSS with 1,000 idle connections: $held KiB; skiffctl get replicas: $get_idle"
	# the handshake timeout (10 s) closes them all
	wait_for 25 grep -q "1000 closed by the server" "$ORCH_TMP/idle.out"
	say "idle connections: $(grep -m1 '1000 closed' "$ORCH_TMP/idle.out")"
	say "server RSS after they closed: $(rss_kb) KiB (peak $(hwm_kb) KiB)"
	[ "$measure" = 0 ] || [ $(($(rss_kb) - before)) -lt 8192 ] ||
		fail "RSS grew by $(($(rss_kb) - before)) KiB"
	run ctl get replicas
	assert_status 0
	all_ready app 3
}

# The answers of one connection wait in a small buffer until the end of the loop's pass
# (orchestrator/server/tlsio.c); a client that reads none of them for a while fills the
# server's socket (12,000 answers of 0.8 KiB: over the kernel's 4 MiB send buffer), so held
# answers are refused by it and must still all arrive, whole, once the client reads.
@test "12,000 pipelined requests whose answers are read 3 s late: every answer arrives whole" {
	start_server
	run python3 "$HOSTILE" pipeline "$PORT" "$DATA/ca.crt" 12000 /v1/ca '"certificate"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "12000 whole answers, 0 bytes left over" ]
	ctl get nodes >/dev/null
}
