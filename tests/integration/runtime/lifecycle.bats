#!/usr/bin/env bats
# Lifecycle of one container: create/start/state/kill/delete, run, hooks, console socket,
# and the informational verbs (list, ps, spec, features, --version).

load ../helpers

setup() { skiff_setup; }
teardown() { skiff_teardown; }

@test "lifecycle: create, start, state, kill, delete go created -> running -> stopped" {
	cfg '.annotations = {"org.skiff.test": "lifecycle"}'
	run_create --pid-file "$WORK/pidfile"
	assert_status 0

	run sk state "$ID"
	assert_status 0
	local st=$output pid
	assert_eq "$(jq -r .status <<<"$st")" created "status after create"
	assert_eq "$(jq -r .id <<<"$st")" "$ID" id
	assert_eq "$(jq -r .bundle <<<"$st")" "$BUNDLE" bundle
	jq -e '.ociVersion | type == "string" and length > 0' <<<"$st"
	assert_eq "$(jq -r '.annotations["org.skiff.test"]' <<<"$st")" lifecycle annotation
	pid=$(jq -r .pid <<<"$st")
	[ "$pid" -gt 1 ]
	assert_eq "$(cat "$WORK/pidfile")" "$pid" "--pid-file content"
	kill -0 "$pid"
	# created, not started: the user's process has not been exec'd yet
	[ "$(cat /proc/"$pid"/comm)" != sleep ]

	run sk start "$ID"
	assert_status 0
	assert_eq "$(state_field status)" running "status right after start"
	assert_eq "$(state_field pid)" "$pid" "pid after start"
	local i
	for ((i = 0; i < 40; i++)); do
		[ "$(cat /proc/"$pid"/comm)" = sleep ] && break
		sleep 0.05
	done
	assert_eq "$(cat /proc/"$pid"/comm)" sleep "process after start"

	run sk kill "$ID" KILL
	assert_status 0
	wait_status stopped

	run sk delete "$ID"
	assert_status 0
	run sk state "$ID"
	[ "$status" -ne 0 ]
	[ ! -e "/proc/$pid" ]
	assert_nothing_left
}

@test "lifecycle: state reports stopped after the process exits by itself" {
	set_args true
	sk_create "$ID" || fail "create: $(container_output)"
	sk start "$ID"
	wait_status stopped
	run sk delete "$ID"
	assert_status 0
	assert_nothing_left
}

@test "lifecycle: state reports stopped after the process is killed from outside the runtime" {
	create_started
	local pid
	pid=$(container_pid)
	kill -9 "$pid"
	wait_status stopped
	run sk delete "$ID"
	assert_status 0
	assert_nothing_left
}

@test "lifecycle: delete without --force refuses a running container" {
	create_started
	run sk delete "$ID"
	[ "$status" -ne 0 ]
	assert_eq "$(state_field status)" running "status after refused delete"
}

@test "lifecycle: delete --force removes a running container" {
	create_started
	local pid i
	pid=$(container_pid)
	run sk delete --force "$ID"
	assert_status 0
	for ((i = 0; i < 40; i++)); do
		[ -e "/proc/$pid" ] || break
		sleep 0.05
	done
	[ ! -e "/proc/$pid" ] || fail "process $pid still exists: $(grep State /proc/"$pid"/status)"
	run sk state "$ID"
	[ "$status" -ne 0 ]
	assert_nothing_left
}

@test "lifecycle: delete --force removes a created (never started) container" {
	run_create
	assert_status 0
	run sk delete --force "$ID"
	assert_status 0
	assert_nothing_left
}

@test "run: foreground run passes output and exit code through, then cleans up" {
	sh_args 'echo out-of-container; echo err-of-container >&2; exit 3'
	run_container
	assert_status 3
	assert_contains "$output" out-of-container
	assert_contains "$output" err-of-container
	run sk state "$ID"
	[ "$status" -ne 0 ]
	assert_nothing_left
}

@test "run --detach: returns, and the container keeps running after the caller exited" {
	sk run --detach --bundle "$BUNDLE" "$ID" </dev/null >"$WORK/$ID.out" 2>&1 ||
		fail "run --detach failed: $(container_output)"
	assert_eq "$(state_field status)" running "status after run --detach"
	local pid
	pid=$(container_pid)
	sleep 0.5
	assert_eq "$(state_field status)" running "status 0.5 s after the caller exited"
	kill -0 "$pid"
	assert_eq "$(cat /proc/"$pid"/comm)" sleep comm
}

@test "run --detach: the container survives its caller's process group being killed" {
	# the caller runs in its own process group; kill the whole group once it returned
	setsid bash -c '"$0" --root "$1" run --detach --bundle "$2" "$3" </dev/null >"$4" 2>&1; sleep 0.2' \
		"$SKIFF" "$STATE_ROOT" "$BUNDLE" "$ID" "$WORK/$ID.out" &
	local caller=$! i
	for ((i = 0; i < 100; i++)); do
		[ "$(state_field status)" = running ] && break
		sleep 0.05
	done
	kill -9 -- -"$caller" 2>/dev/null || true
	wait "$caller" || true
	sleep 0.3
	assert_eq "$(state_field status)" running "status after the caller's group was killed"
}

kill_test() { # [SIGNAL]: the container traps TERM; kill it with SIGNAL (or the default)
	sh_args 'trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.1; done'
	create_started
	wait_file_contains "$WORK/$ID.out" ready
	run sk kill "$ID" "$@"
	assert_status 0
	wait_status stopped
}

@test "kill: TERM (name without SIG) reaches the container's handler" {
	kill_test TERM
	assert_contains "$(container_output)" got-term
}

@test "kill: SIGTERM reaches the container's handler" {
	kill_test SIGTERM
	assert_contains "$(container_output)" got-term
}

@test "kill: 15 reaches the container's handler" {
	kill_test 15
	assert_contains "$(container_output)" got-term
}

@test "kill: the default signal is TERM" {
	kill_test
	assert_contains "$(container_output)" got-term
}

@test "kill: SIGKILL stops the container" {
	create_started
	run sk kill "$ID" SIGKILL
	assert_status 0
	wait_status stopped
}

@test "kill: 9 stops the container" {
	create_started
	run sk kill "$ID" 9
	assert_status 0
	wait_status stopped
}

hook() { # NAME: a hook that saves its stdin (the container state) to $WORK/NAME.json
	jq -n --arg f "$WORK/$1.json" '{path: "/bin/sh", args: ["sh", "-c", "cat > \"$0\"", $f]}'
}

@test "hooks: prestart, createRuntime, startContainer, poststart and poststop get the state on stdin" {
	local h
	for h in prestart createRuntime poststart poststop; do
		cfg --argjson hk "$(hook "$h")" --arg n "$h" '.hooks[$n] = [$hk]'
	done
	# startContainer runs inside the container: its path and output are in the rootfs
	cfg '.hooks.startContainer = [{path: "/bin/sh", args: ["sh", "-c", "cat > /tmp/startContainer.json"]}]'
	run_create
	assert_status 0
	local pid
	pid=$(container_pid)
	for h in prestart createRuntime; do
		[ -s "$WORK/$h.json" ] || fail "$h hook did not run at create"
		assert_eq "$(jq -r .id "$WORK/$h.json")" "$ID" "$h id"
		assert_eq "$(jq -r .pid "$WORK/$h.json")" "$pid" "$h pid"
		assert_eq "$(jq -r .bundle "$WORK/$h.json")" "$BUNDLE" "$h bundle"
	done
	[ ! -e "$WORK/poststart.json" ] || fail "poststart ran before start"

	sk start "$ID"
	wait_file_contains "$WORK/poststart.json" "$ID"
	assert_eq "$(jq -r .pid "$WORK/poststart.json")" "$pid" "poststart pid"
	wait_file_contains "$ROOTFS/tmp/startContainer.json" "$ID"
	assert_eq "$(jq -r .pid "$ROOTFS/tmp/startContainer.json")" "$pid" "startContainer pid"
	[ ! -e "$WORK/poststop.json" ] || fail "poststop ran before delete"

	sk kill "$ID" KILL
	wait_status stopped
	sk delete "$ID"
	[ -s "$WORK/poststop.json" ] || fail "poststop hook did not run at delete"
	assert_eq "$(jq -r .id "$WORK/poststop.json")" "$ID" "poststop id"
	assert_nothing_left
}

@test "hooks: the state is valid JSON whatever the bundle path holds (quote, backslash)" {
	local h odd="$WORK/bun\"dle\\x"
	mv "$BUNDLE" "$odd"
	BUNDLE=$odd
	CFG=$BUNDLE/config.json
	for h in prestart createRuntime createContainer; do
		cfg --argjson hk "$(hook "$h")" --arg n "$h" '.hooks[$n] = [$hk]'
	done
	run_create
	assert_status 0
	for h in prestart createRuntime createContainer; do
		[ -s "$WORK/$h.json" ] || fail "$h hook did not run"
		assert_eq "$(jq -r .bundle "$WORK/$h.json")" "$BUNDLE" "$h bundle"
		assert_eq "$(jq -r .status "$WORK/$h.json")" creating "$h status"
	done
}

@test "hooks: a failing createRuntime hook fails create and leaves nothing" {
	cfg '.hooks.createRuntime = [{path: "/bin/false"}]'
	run_create
	[ "$status" -ne 0 ]
	assert_nothing_left
}

@test "console-socket: terminal true sends the pty master; reading it shows the container's output" {
	cfg '.process.terminal = true'
	sh_args 'test -t 0 && test -t 1 && echo stdio-is-a-tty; echo hello-from-the-tty'
	start_console_receiver "$WORK/console.sock" "$WORK/console.out"
	run_create --console-socket "$WORK/console.sock"
	assert_status 0
	wait_file_contains "$WORK/console.out.got" fds=
	sk start "$ID"
	wait_file_contains "$WORK/console.out" hello-from-the-tty
	assert_contains "$(tr -d '\r' <"$WORK/console.out")" stdio-is-a-tty
	wait_status stopped
}

@test "env and cwd come from config.json" {
	cfg '.process.env += ["SKIFF_TEST_VAR=some value"] | .process.cwd = "/tmp"'
	sh_args 'echo "var=$SKIFF_TEST_VAR"; echo "cwd=$(pwd)"'
	run_container
	assert_status 0
	assert_contains "$output" "var=some value"
	assert_contains "$output" "cwd=/tmp"
}

@test "list and ps show the container" {
	create_started
	local pid
	pid=$(container_pid)
	run sk list
	assert_status 0
	assert_contains "$output" "$ID"
	assert_contains "$output" running
	run sk ps "$ID"
	assert_status 0
	[[ "$output" =~ (^|[^0-9])$pid([^0-9]|$) ]] || fail "pid $pid not in ps output: $output"
	assert_contains "$output" sleep
}

@test "spec writes a valid config.json in the current directory and with --bundle" {
	mkdir "$WORK/s1" "$WORK/s2"
	(cd "$WORK/s1" && sk spec)
	jq -e '.ociVersion and (.process.args | length > 0) and .root.path == "rootfs"
		and ([.linux.namespaces[].type] | index("pid") != null)' "$WORK/s1/config.json"
	run sk spec --bundle "$WORK/s2"
	assert_status 0
	jq -e . "$WORK/s2/config.json" >/dev/null
}

@test "features prints valid OCI features JSON" {
	run sk features
	assert_status 0
	jq -e '.ociVersionMin and .ociVersionMax
		and (.hooks | index("prestart") != null)
		and (.linux.namespaces | index("user") != null and index("pid") != null)' <<<"$output"
}

@test "--version prints a version" {
	run sk --version
	assert_status 0
	[[ "$output" =~ [0-9]+\.[0-9]+ ]] || fail "no version number in: $output"
}
