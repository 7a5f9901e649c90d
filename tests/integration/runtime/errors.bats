#!/usr/bin/env bats
# Errors: each failure prints one line naming its cause, exits non-zero and leaves
# nothing behind (no state dir, cgroup, mount or process).

load ../helpers

setup_file() {
	SYSFAIL=$BATS_FILE_TMPDIR/sysfail
	gcc -O2 -o "$SYSFAIL" "$BATS_TEST_DIRNAME/../security/sysfail.c" -lseccomp
	export SYSFAIL
}

setup() { skiff_setup; }
teardown() { skiff_teardown; }

@test "errors: config.json that is not JSON" {
	printf '{"ociVersion": "1.0.2", "process": {' >"$CFG"
	run_create
	assert_one_line_error
	assert_contains "$output" config.json
	assert_nothing_left
}

@test "errors: missing config.json" {
	rm "$CFG"
	run_create
	assert_one_line_error
	assert_contains "$output" config.json
	assert_nothing_left
}

@test "errors: a field of the wrong type is named" {
	cfg '.process.args = "sleep 100"'
	run_create
	assert_one_line_error
	assert_contains "$output" args
	assert_nothing_left
}

@test "errors: missing rootfs names the path" {
	cfg '.root.path = "no-such-rootfs"'
	run_create
	assert_one_line_error
	assert_contains "$output" no-such-rootfs
	assert_nothing_left
}

@test "errors: unknown namespace type is named" {
	cfg '.linux.namespaces += [{"type": "bogusns"}]'
	run_create
	assert_one_line_error
	assert_contains "$output" bogusns
	assert_nothing_left
}

@test "errors: namespace path that does not exist is named" {
	cfg '.linux.namespaces |= map(if .type == "network" then .path = "/run/netns/no-such-netns" else . end)'
	run_create
	assert_one_line_error
	assert_contains "$output" no-such-netns
	assert_nothing_left
}

@test "errors: an executable that does not exist is named, nothing left" {
	set_args /no/such/binary
	run sk run --bundle "$BUNDLE" "$ID" </dev/null
	[ "$status" -ne 0 ] || fail "run of a missing executable succeeded"
	assert_contains "$output" /no/such/binary
	assert_nothing_left
}

@test "errors: a second create with the same id fails, the first container is intact" {
	run_create
	assert_status 0
	local pid
	pid=$(container_pid)
	sk create --bundle "$BUNDLE" "$ID" </dev/null >"$WORK/second.out" 2>&1 && fail "second create succeeded"
	assert_contains "$(cat "$WORK/second.out")" "$ID"
	assert_eq "$(state_field status)" created "status of the first"
	assert_eq "$(state_field pid)" "$pid" "pid of the first"
}

@test "errors: start, state, kill and delete of a missing container name it" {
	local verb id=missing-$RANDOM
	for verb in start state kill delete; do
		run sk "$verb" "$id"
		[ "$status" -ne 0 ] || fail "$verb of a missing container succeeded"
		assert_contains "$output" "$id"
	done
}

@test "errors: kill with an unknown signal fails, the container keeps running" {
	create_started
	run sk kill "$ID" SIGBOGUS
	assert_one_line_error
	assert_contains "$output" BOGUS
	run sk kill "$ID" 999
	[ "$status" -ne 0 ] || fail "kill 999 succeeded"
	assert_eq "$(state_field status)" running status
}

@test "errors: an id with a path separator is refused, nothing written outside the root" {
	IDS+=(../escaped)
	sk create --bundle "$BUNDLE" ../escaped </dev/null >"$WORK/escaped.out" 2>&1 &&
		fail "create ../escaped succeeded"
	[ ! -e "$WORK/escaped" ] || fail "state written outside the state root"
	[ ! -e "$STATE_ROOT/../escaped" ]
}

@test "errors: start of a container that is already running fails" {
	create_started
	run sk start "$ID"
	[ "$status" -ne 0 ] || fail "second start succeeded"
	assert_eq "$(state_field status)" running status
}

@test "errors: an unknown verb fails" {
	run sk frobnicate
	[ "$status" -ne 0 ]
	assert_contains "$output" frobnicate
}

