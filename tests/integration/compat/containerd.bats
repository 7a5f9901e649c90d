#!/usr/bin/env bats
# containerd's runc shim (io.containerd.runc.v2) driving skiff as its runc binary:
# `ctr run --runc-binary $SKIFF --runc-root DIR`.  The shim is a subreaper and reaps the
# init itself; with a skiff process in between it would never learn that the task
# exited.  Covered: run --rm with the exit code, run -d, exec, ps, pause/resume, kill of
# a running and of a stopped task, an exit the shim sees by itself, delete.
#
# A private containerd, started here on its own socket with its own root and state dirs
# (CRI off), stopped by its PID at the end.  Its shims keep their sockets under
# /run/containerd/s (fixed in containerd 1.6); /run/containerd is removed at the end when
# this file created it.

load ../common

SKIFF_BUILD=${SKIFF_BUILD:-$(cd "$BATS_TEST_DIRNAME/../../.." && pwd)/build}
SKIFF=${SKIFF_BIN:-$SKIFF_BUILD/skiff}

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "integration tests run as root"
	command -v containerd >/dev/null && command -v ctr >/dev/null ||
		skip "containerd is not installed (make deps)"
	CWORK=$(mktemp -d /tmp/skiff-containerd.XXXXXX)
	chmod 0755 "$CWORK"
	export CWORK NS="skiff$$" CGPARENT="/skiff-ctr-$$"
	export HAD_RUN_CONTAINERD=$([ -e /run/containerd ] && echo 1 || echo 0)
	mkdir -p "$CWORK"/{root,state,runc,fifo,rootfs}
	cat >"$CWORK/config.toml" <<EOF
version = 2
root = "$CWORK/root"
state = "$CWORK/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CWORK/containerd.sock"
[ttrpc]
  address = "$CWORK/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
	containerd --config "$CWORK/config.toml" >"$CWORK/containerd.log" 2>&1 &
	echo $! >"$CWORK/containerd.pid"
	local i
	for ((i = 0; i < 100; i++)); do
		ctr --address "$CWORK/containerd.sock" version >/dev/null 2>&1 && break
		sleep 0.1
	done
	ctr --address "$CWORK/containerd.sock" version >/dev/null 2>&1 ||
		fail "containerd did not start: $(tail -5 "$CWORK/containerd.log")"
	local r=$CWORK/rootfs a
	mkdir -p "$r"/{bin,etc,tmp,proc,sys,dev}
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
}

teardown_file() {
	[ -n "${CWORK:-}" ] || return 0
	local t pid
	for t in $(c task ls -q 2>/dev/null); do c task kill -s KILL "$t" >/dev/null 2>&1; done
	sleep 0.3
	for t in $(c task ls -q 2>/dev/null); do c task delete -f "$t" >/dev/null 2>&1; done
	for t in $(c container ls -q 2>/dev/null); do c container delete "$t" >/dev/null 2>&1; done
	pid=$(cat "$CWORK/containerd.pid" 2>/dev/null)
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null || true
	fi
	awk -v w="$CWORK" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r | xargs -r -n1 umount -l
	local d
	for d in /sys/fs/cgroup/*"$CGPARENT" /sys/fs/cgroup/unified"$CGPARENT"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	[ "$HAD_RUN_CONTAINERD" = 1 ] || rm -rf /run/containerd
	rm -rf "$CWORK"
}

# c ARG...: ctr on the private containerd, in this file's namespace, bounded in time.
c() {
	# ctr passes its stdin on to the task: give it none
	timeout --kill-after=5 60 ctr --address "$CWORK/containerd.sock" -n "$NS" "$@" </dev/null
}

# c_run ARG... ID CMD...: `ctr run` of the busybox rootfs with skiff as the runc binary.
c_run() {
	local opts=()
	while [ "$1" != "--" ]; do
		opts+=("$1")
		shift
	done
	shift
	local id=$1
	shift
	c run "${opts[@]}" --runc-binary "$SKIFF" --runc-root "$CWORK/runc" --fifo-dir "$CWORK/fifo" \
		--cgroup "$CGPARENT/$id" --rootfs "$CWORK/rootfs" "$id" "$@"
}

setup() {
	TASKS=()
}

teardown() {
	[ -n "${CWORK:-}" ] || return 0
	local t left=""
	for t in "${TASKS[@]}"; do
		c task kill -s KILL "$t" >/dev/null 2>&1
		c task delete -f "$t" >/dev/null 2>&1
		c container delete "$t" >/dev/null 2>&1
		[ ! -e "$CWORK/runc/$NS/$t" ] || left+=" state:$t"
		for d in /sys/fs/cgroup/*"$CGPARENT/$t"; do
			[ ! -e "$d" ] || left+=" cgroup:$d"
		done
	done
	[ -z "$left" ] || fail "left behind:$left"
}

# task_status ID: RUNNING, PAUSED, STOPPED ... as `ctr task ls` says.
task_status() {
	c task ls | awk -v t="$1" '$1 == t { print $3 }'
}

# wait_task ID STATUS: until the task has STATUS (10 s).
wait_task() {
	local i s=""
	for ((i = 0; i < 100; i++)); do
		s=$(task_status "$1")
		[ "$s" = "$2" ] && return 0
		sleep 0.1
	done
	fail "task $1: $s after 10 s, want $2"
}

@test "ctr run --rm through the runc shim: output and exit code, nothing left" {
	TASKS+=(t1)
	run c_run --rm -- t1 sh -c 'echo hello from skiff; exit 3'
	assert_status 3
	assert_eq "$output" "hello from skiff"
	[ ! -e "$CWORK/runc/$NS/t1" ] || fail "skiff state left"
	assert_eq "$(c container ls -q)" "" "containers after --rm"
}

@test "ctr run -d: the shim reaps the init, sees its exit and its code" {
	TASKS+=(t2)
	run c_run -d -- t2 sh -c 'sleep 0.5; exit 7'
	assert_status 0
	wait_task t2 STOPPED
	run c task delete t2
	assert_status 0
	assert_contains "$output" "exit code 7"
}

@test "ctr task exec, ps, pause, resume, kill: skiff behind every verb" {
	TASKS+=(t3)
	c_run -d -- t3 sleep 1000
	wait_task t3 RUNNING
	local pid
	pid=$(c task ls | awk '$1 == "t3" { print $2 }')
	# the init's parent is the shim (a subreaper), no skiff process in between
	assert_eq "$(cat /proc/"$(awk '{print $4}' /proc/"$pid"/stat)"/comm)" containerd-shim "parent of the init"
	run c task exec --exec-id e1 t3 sh -c 'echo in-exec; exit 4'
	assert_status 4
	assert_eq "$output" in-exec
	run c task ps t3
	assert_status 0
	assert_contains "$output" "$pid"
	run c task pause t3
	assert_status 0
	wait_task t3 PAUSED
	assert_eq "$("$SKIFF" --root "$CWORK/runc/$NS" state t3 | jq -r .status)" paused
	run c task resume t3
	assert_status 0
	wait_task t3 RUNNING
	run c task kill -s KILL t3
	assert_status 0
	wait_task t3 STOPPED
	# a stopped task: the shim maps skiff's "container not running" to "not found"
	run c task kill t3
	[ "$status" -ne 0 ]
	assert_contains "$output" "not found"
	run c task delete t3
	assert_status 0
	assert_contains "$output" "exit code 137"
}
