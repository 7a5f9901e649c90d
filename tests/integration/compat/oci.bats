#!/usr/bin/env bats
# The OCI verbs as engines use them, checked as runc behaves: create leaves no skiff
# process behind and the init's parent is the caller's subreaper, which reaps it; --log
# in runc's JSON format; runc's error wording; exec --process --detach --pid-file;
# pause/resume, update, events, checkpoint/restore, --systemd-cgroup, features.

bats_require_minimum_version 1.5.0

load ../helpers

setup() { skiff_setup; }
teardown() { skiff_teardown; }

REAPER=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/reaper

# skiff_procs ID: processes whose command line names the container (a skiff process
# working on it: create, a monitor, the init before its exec).
skiff_procs() {
	pgrep -f -- "--root $STATE_ROOT .*$1" || true
}

@test "create: no skiff process stays; the init's parent is the caller's subreaper, which reaps it" {
	# the caller: a subreaper (as conmon and containerd's shim are) running a shell that
	# creates, reports the init's parent, starts, kills, and checks the init was reaped
	cat >"$WORK/caller.sh" <<'EOF'
set -e
sk() { "$SKIFF" --root "$STATE_ROOT" "$@"; }
sk create --bundle "$BUNDLE" "$ID" </dev/null >/dev/null 2>"$WORK/create.err"
pid=$(cat "$STATE_ROOT/$ID/state.json" | sed 's/.*"pid":\([0-9]*\).*/\1/')
echo "init=$pid"
echo "init_ppid=$(awk '{print $4}' /proc/$pid/stat)"
echo "caller=$PPID"
echo "procs=$(pgrep -f -- "--root $STATE_ROOT .*$ID" | tr '\n' ' ')"
sk start "$ID"
sk kill "$ID" KILL
for i in $(seq 100); do [ -e /proc/$pid ] || break; sleep 0.05; done
echo "reaped=$([ -e /proc/$pid ] && echo no || echo yes)"
EOF
	run env SKIFF="$SKIFF" STATE_ROOT="$STATE_ROOT" BUNDLE="$BUNDLE" ID="$ID" WORK="$WORK" \
		"$REAPER" bash "$WORK/caller.sh"
	assert_status 0
	local init ppid caller
	init=$(sed -n 's/^init=//p' <<<"$output")
	ppid=$(sed -n 's/^init_ppid=//p' <<<"$output")
	caller=$(sed -n 's/^caller=//p' <<<"$output")
	[ "$init" -gt 1 ] || fail "no init pid: $output"
	assert_eq "$ppid" "$caller" "the init's parent once create returned (the subreaper)"
	# the only process naming the container is its init (a fork of skiff until start)
	assert_eq "$(sed -n 's/^procs=//p' <<<"$output")" "$init " "processes of the container after create"
	assert_contains "$output" "reaped=yes"
	assert_eq "$(state_field status)" stopped "state, derived from the reaped pid"
	assert_eq "$(jq -r .monitorPid "$STATE_ROOT/$ID/state.json")" 0 "monitor"
}

@test "create: a created container survives its caller; start runs it; no monitor at any time" {
	run_create
	assert_status 0
	local pid
	pid=$(state_field pid)
	assert_eq "$(skiff_procs "$ID" | tr '\n' ' ')" "$pid " "after create"
	[ "$(pgrep -c -x skiff-monitor -P "$pid" || true)" = 0 ]
	sk start "$ID"
	wait_status running
	assert_eq "$(skiff_procs "$ID")" "" "after start: the init exec'd, nothing of skiff is left"
}

@test "--log FILE --log-format json: errors in runc's format, one JSON object a line" {
	set_args /nonexistent/cmd
	run sk --log "$WORK/log.json" --log-format json create --bundle "$BUNDLE" "$ID"
	[ "$status" -ne 0 ]
	[ -s "$WORK/log.json" ] || fail "the log was not written"
	run jq -c . "$WORK/log.json"
	assert_status 0
	assert_eq "$(jq -r 'select(.level == "error") | .msg' "$WORK/log.json" | grep -c /nonexistent/cmd)" 1
	jq -e 'select(.level == "error") | .time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")' "$WORK/log.json"
	# podman maps "no such file or directory" (any case) to exit 127
	assert_contains "$(jq -r .msg "$WORK/log.json" | tr A-Z a-z)" "no such file or directory"
	# a second error is appended as its own line
	run sk --log "$WORK/log.json" --log-format json kill "$ID"
	[ "$status" -ne 0 ]
	assert_eq "$(wc -l <"$WORK/log.json")" 2 "lines"
	jq -e -s 'length == 2 and all(.[]; .level and .msg and .time)' "$WORK/log.json"
	# text format, and a bad format is refused
	run sk --log "$WORK/log.txt" delete "$ID"
	grep -q 'level=error msg=".*does not exist' "$WORK/log.txt"
	run sk --log "$WORK/x" --log-format yaml list
	assert_one_line_error
	assert_contains "$output" "--log-format"
}

@test "--log: a warning (unraisable ambient capability) is logged as level warning" {
	cfg '.process.capabilities.ambient = ["CAP_KILL"] | .process.capabilities.inheritable = []'
	sk --log "$WORK/log.json" --log-format json create --bundle "$BUNDLE" "$ID" </dev/null >/dev/null 2>&1
	assert_eq "$(jq -r 'select(.level == "warning") | .msg' "$WORK/log.json" | grep -c CAP_KILL)" 1
}

@test "kill: a stopped container fails with runc's \"container not running\"; kill --all succeeds" {
	set_args true
	sk_create "$ID"
	sk start "$ID"
	wait_status stopped
	run sk kill "$ID" KILL
	assert_one_line_error
	assert_contains "$output" "container not running"
	run sk kill --all "$ID" KILL
	assert_status 0
}

@test "delete: a running or paused container is left untouched without --force; created is deleted as runc" {
	create_started
	run sk delete "$ID"
	assert_one_line_error
	assert_contains "$output" "not stopped: running"
	assert_eq "$(state_field status)" running "after a refused delete"
	sk pause "$ID"
	run sk delete "$ID"
	assert_one_line_error
	assert_contains "$output" "not stopped: paused"
	assert_eq "$(state_field status)" paused "after a refused delete"
	run sk delete --force "$ID"
	assert_status 0
	assert_nothing_left

	new_id
	local created=$NEW_ID
	sk_create "$created"
	run sk delete "$created"
	assert_status 0
	assert_nothing_left "$created"

	run sk delete nosuch-$$
	assert_one_line_error
	assert_contains "$output" "does not exist"
	run sk delete --force nosuch-$$
	assert_status 0
}

@test "exec --process FILE --detach --pid-file: the process lives on, reaped by the caller's subreaper" {
	create_started
	cat >"$WORK/process.json" <<EOF
{"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", "echo \$MARK >/tmp/mark; sleep 30"],
 "env": ["PATH=/bin", "MARK=from-process-json"], "cwd": "/tmp"}
EOF
	cat >"$WORK/caller.sh" <<'EOF'
"$SKIFF" --root "$STATE_ROOT" exec --process "$WORK/process.json" --detach --pid-file "$WORK/exec.pid" "$ID" </dev/null
echo "rc=$?"
sleep 0.5
pid=$(cat "$WORK/exec.pid")
echo "pid=$pid"
echo "ppid=$(awk '{print $4}' /proc/$pid/stat)"
echo "caller=$PPID"
echo "comm=$(cat /proc/$pid/comm)"
kill -9 "$pid"
for i in $(seq 100); do [ -e /proc/$pid ] || break; sleep 0.05; done
echo "reaped=$([ -e /proc/$pid ] && echo no || echo yes)"
EOF
	run env SKIFF="$SKIFF" STATE_ROOT="$STATE_ROOT" ID="$ID" WORK="$WORK" "$REAPER" bash "$WORK/caller.sh"
	assert_contains "$output" "rc=0"
	assert_eq "$(sed -n 's/^ppid=//p' <<<"$output")" "$(sed -n 's/^caller=//p' <<<"$output")" \
		"parent of the detached process"
	assert_eq "$(sed -n 's/^comm=//p' <<<"$output")" sleep "alive half a second later"
	assert_contains "$output" "reaped=yes"
	assert_eq "$(cat "$ROOTFS/tmp/mark")" from-process-json "env and args from process.json"
	# no memfd:skiff left anywhere among the container's processes
	run sk ps "$ID"
	assert_not_contains "$output" memfd
}

@test "exec: runc's wording and docker's codes for a missing command; -t without a terminal refuses" {
	create_started
	run -127 sk exec "$ID" nosuchcmd
	assert_contains "$output" 'exec: "nosuchcmd": executable file not found in $PATH'
	run sk exec "$ID" /etc/passwd
	assert_status 126
	assert_contains "$output" "ermission denied"
	run timeout 5 "$SKIFF" --root "$STATE_ROOT" exec -it "$ID" sh </dev/null
	assert_one_line_error
	assert_contains "$output" "not a TTY"
	run sk exec --process "$WORK/missing.json" "$ID"
	assert_one_line_error
	assert_contains "$output" "--process"
}

@test "exec -t: a terminal of the container's devpts, proxied to ours" {
	command -v script >/dev/null || skip "script (util-linux) is missing"
	create_started
	run timeout 30 script -qec "$SKIFF --root $STATE_ROOT exec -t $ID sh -c 'tty; test -t 0 && echo on-a-tty'" /dev/null
	assert_status 0
	assert_contains "$output" on-a-tty
	[[ "$output" =~ /dev/pts/[0-9]+ ]] || fail "tty: $output"
}

@test "pause and resume: the freezer stops every process; state says paused" {
	# the count is renamed into place: a read never meets the file truncated mid-write
	sh_args 'i=0; while :; do i=$((i + 1)); echo $i >/tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.05; done'
	create_started
	sleep 0.3
	run sk pause "$ID"
	assert_status 0
	assert_eq "$(state_field status)" paused
	local a b
	a=$(cat "$ROOTFS/tmp/count")
	sleep 0.5
	b=$(cat "$ROOTFS/tmp/count")
	assert_eq "$b" "$a" "counter while paused"
	run sk pause "$ID"
	assert_one_line_error
	assert_contains "$output" "container not running"
	run sk resume "$ID"
	assert_status 0
	assert_eq "$(state_field status)" running
	sleep 0.3
	[ "$(cat "$ROOTFS/tmp/count")" -gt "$b" ] || fail "counter did not move after resume"
	run sk resume "$ID"
	assert_one_line_error
	assert_contains "$output" "container not paused"
}

@test "update: limits from flags, from -r FILE and from -r - (stdin) reach the cgroup" {
	create_started
	run sk update --memory 64m --pids-limit 50 "$ID"
	assert_status 0
	assert_eq "$(cat "$(cgroup_file "$ID" memory memory.limit_in_bytes memory.max)")" 67108864
	assert_eq "$(cat "$(cgroup_file "$ID" pids pids.max pids.max)")" 50
	echo '{"memory": {"limit": 100663296}, "pids": {"limit": 70}, "cpu": {"quota": 50000, "period": 100000}}' >"$WORK/res.json"
	run sk update -r "$WORK/res.json" "$ID"
	assert_status 0
	assert_eq "$(cat "$(cgroup_file "$ID" memory memory.limit_in_bytes memory.max)")" 100663296
	assert_eq "$(cat "$(cgroup_file "$ID" pids pids.max pids.max)")" 70
	echo '{"pids": {"limit": 90}}' | sk update -r - "$ID"
	assert_eq "$(cat "$(cgroup_file "$ID" pids pids.max pids.max)")" 90
	run sk update -r "$WORK/res.json" --pids-limit 33 "$ID"
	assert_eq "$(cat "$(cgroup_file "$ID" pids pids.max pids.max)")" 33 "a flag overrides the file"
	run sk update --memory lots "$ID"
	assert_one_line_error
	echo '{"memory": {"limit": "x"}}' >"$WORK/bad.json"
	run sk update -r "$WORK/bad.json" "$ID"
	assert_one_line_error
	assert_contains "$output" "memory.limit"
}

@test "events: --stats prints one stats event; the stream ends when the container stops" {
	create_started
	run sk events --stats "$ID"
	assert_status 0
	assert_eq "$(jq -r .type <<<"$output")" stats
	assert_eq "$(jq -r .id <<<"$output")" "$ID"
	jq -e '.data.memory.usage.usage > 0 and .data.pids.current >= 1 and .data.cpu.usage.total > 0' <<<"$output"
	sk events --interval 200ms "$ID" >"$WORK/events" &
	local ev=$!
	BG_PIDS+=("$ev")
	sleep 1
	sk kill "$ID" KILL
	local i
	for ((i = 0; i < 50; i++)); do kill -0 "$ev" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$ev" 2>/dev/null || fail "events still running after the container stopped"
	[ "$(grep -c '"type":"stats"' "$WORK/events")" -ge 3 ] || fail "events: $(cat "$WORK/events")"
	run sk events --interval 5x "$ID"
	assert_one_line_error
	assert_contains "$output" "--interval"
}

@test "checkpoint, restore and --systemd-cgroup are refused with the reason" {
	create_started
	run sk checkpoint --image-path "$WORK/cp" "$ID"
	assert_one_line_error
	assert_contains "$output" "not supported"
	run sk restore --image-path "$WORK/cp" "$ID"
	assert_one_line_error
	assert_contains "$output" "not supported"
	run sk --systemd-cgroup create --bundle "$BUNDLE" other-$$
	assert_one_line_error
	assert_contains "$output" "--systemd-cgroup: not supported"
	[ ! -e "$STATE_ROOT/other-$$" ]
}

@test "features: the OCI features document is complete" {
	run sk features
	assert_status 0
	jq -e '.ociVersionMin == "1.0.0" and (.ociVersionMax | startswith("1."))' <<<"$output"
	jq -e '.hooks | index("createRuntime") and index("poststop")' <<<"$output"
	jq -e '.mountOptions | index("rbind") and index("ro")' <<<"$output"
	jq -e '.linux.namespaces | length == 8' <<<"$output"
	jq -e '.linux.capabilities | index("CAP_SYS_ADMIN")' <<<"$output"
	jq -e '.linux.cgroup | .v1 and .v2 and (.systemd == false)' <<<"$output"
	jq -e '.linux.seccomp.enabled and (.linux.seccomp.actions | index("SCMP_ACT_ERRNO"))' <<<"$output"
	jq -e '.linux | has("apparmor") and has("selinux") and has("intelRdt") and has("mountExtensions")' <<<"$output"
	jq -e '.annotations["io.github.seccomp.libseccomp.version"] | test("^[0-9]+\\.[0-9]+\\.[0-9]+$")' <<<"$output"
	jq -e '.annotations["org.skiff.checkpoint.enabled"] == "false"' <<<"$output"
	jq -e '.potentiallyUnsafeConfigAnnotations | type == "array"' <<<"$output"
}
