#!/usr/bin/env bats
# Churn and faults: many container lifecycles leave nothing behind; a `skiff create`
# killed at any moment is cleaned by `delete --force`; a full or read-only state dir and
# a missing cgroup controller fail with one clear line and create nothing.
#
# Counted before and after, scoped to this file's containers (other suites may run at
# the same time): cgroup dirs under /sys/fs/cgroup/*/skiff, lines of /proc/mounts naming the
# test's dirs or skiff's own directory, state
# dirs, skiff processes (and their fds).  CHURN_SECONDS (default 45) bounds the
# create/start/delete loop, CHURN_MAX (default 1000) its count.

load helpers

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-240}

setup() {
	skiff_setup
	PREFIX="churn-$$-$BATS_TEST_NUMBER"
	set_args true
}

teardown() {
	local id
	for id in $(sk list --quiet 2>/dev/null); do sk delete --force "$id" >/dev/null 2>&1 || true; done
	# cgroups of killed creates that delete --force could not reach
	for d in /sys/fs/cgroup/*/skiff/"$PREFIX"-* /sys/fs/cgroup/skiff/"$PREFIX"-*; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	for m in "${FAULT_MOUNTS[@]}"; do umount -l "$m" 2>/dev/null || true; done
	skiff_teardown
}

FAULT_MOUNTS=()

# counts: one line "cgroups=N mounts=N states=N procs=N fds=N" for this file's containers.
counts() {
	local cg mounts states procs=0 fds=0 p
	cg=$(find /sys/fs/cgroup/*/skiff /sys/fs/cgroup/skiff -mindepth 1 -maxdepth 1 -type d \
		-name "$PREFIX-*" 2>/dev/null | wc -l)
	# mounts of this test's dirs and over skiff's own directory (the CVE-2019-5736 overlay):
	# the machine's other mounts come and go with other suites (network namespaces are
	# mounts under /run/netns)
	mounts=$(grep -cF -e "$WORK" -e "$(dirname "$(command -v "$SKIFF")")" /proc/mounts || true)
	# container dirs only: .seccomp (the compiled filter cache) is meant to stay
	states=$(find "$STATE_ROOT" -mindepth 1 -maxdepth 1 ! -name '.*' 2>/dev/null | wc -l)
	for p in $(skiff_pids); do
		procs=$((procs + 1))
		fds=$((fds + $(ls /proc/"$p"/fd 2>/dev/null | wc -l)))
	done
	echo "cgroups=$cg mounts=$mounts states=$states procs=$procs fds=$fds"
}

# skiff_pids: skiff processes (runtime, monitors, inits) of this test's state root or ids.
skiff_pids() {
	{
		pgrep -f -- "$STATE_ROOT"
		pgrep -f -- "$PREFIX-"
		work_pids
	} 2>/dev/null | sort -u | grep -vx -e "$$" -e "$BASHPID" || true
}

# nothing_of ID: no state dir, cgroup dir, process or mount of container ID.
nothing_of() {
	local id=$1 d
	[ ! -e "$STATE_ROOT/$id" ] || { echo "state dir of $id"; return 1; }
	for d in /sys/fs/cgroup/*/skiff/"$id" /sys/fs/cgroup/skiff/"$id"; do
		[ ! -e "$d" ] || { echo "cgroup $d"; return 1; }
	done
	! pgrep -f -- "$id" >/dev/null || { echo "process of $id: $(pgrep -af -- "$id")"; return 1; }
	! grep -q -- "$id" /proc/mounts || { echo "mount of $id"; return 1; }
}

@test "churn: create/start/delete cycles of a busybox bundle leak nothing" {
	local before after i=0 id deadline=$((SECONDS + ${CHURN_SECONDS:-45})) max=${CHURN_MAX:-1000}
	local start=$SECONDS hard=$((SECONDS + 150))
	before=$(counts)
	# CHURN_SECONDS of cycles, and on past them (up to 150 s) until 100 cycles on a loaded machine
	while [ $i -lt "$max" ] && { [ $SECONDS -lt $deadline ] || { [ $i -lt 100 ] && [ $SECONDS -lt $hard ]; }; }; do
		id=$PREFIX-$i
		CFG=$CFG cfg --arg cg "/skiff/$id" '.linux.cgroupsPath = $cg' || return 1
		sk create --bundle "$BUNDLE" "$id" </dev/null >/dev/null 2>"$WORK/err" ||
			fail "cycle $i: create: $(cat "$WORK/err")" || return 1
		sk start "$id" 2>"$WORK/err" || fail "cycle $i: start: $(cat "$WORK/err")" || return 1
		sk delete --force "$id" 2>"$WORK/err" || fail "cycle $i: delete: $(cat "$WORK/err")" || return 1
		i=$((i + 1))
	done
	after=$(counts)
	echo "# churn: $i create/start/delete cycles in $((SECONDS - start)) s" >&3
	echo "# before: $before" >&3
	echo "# after:  $after" >&3
	[ $i -ge 100 ] || fail "only $i cycles"
	assert_eq "$after" "$before" "leak counts"
}

@test "churn: 50 concurrent skiff run (foreground, /bin/true) leak nothing" {
	local before after i pids=() failed=0
	before=$(counts)
	for i in $(seq 0 49); do
		mkdir -p "$WORK/b$i"
		ln -s "$ROOTFS" "$WORK/b$i/rootfs"
		jq --arg cg "/skiff/$PREFIX-$i" '.linux.cgroupsPath = $cg | .root.path = "rootfs"' \
			"$CFG" >"$WORK/b$i/config.json"
	done
	for i in $(seq 0 49); do
		sk run --bundle "$WORK/b$i" "$PREFIX-$i" </dev/null >"$WORK/run$i.out" 2>&1 &
		pids+=($!)
	done
	for i in $(seq 0 49); do
		wait "${pids[$i]}" || { failed=$((failed + 1)); echo "run $i: $(cat "$WORK/run$i.out")" >&2; }
	done
	after=$(counts)
	echo "# before: $before" >&3
	echo "# after:  $after" >&3
	assert_eq "$failed" 0 "failed runs"
	assert_eq "$after" "$before" "leak counts"
}

@test "faults: SIGKILL of skiff create after 0..60 ms, then delete --force leaves nothing" {
	local n id left=() pid before after
	set_args sleep 100
	before=$(counts)
	for n in $(seq 0 3 60); do
		id=$PREFIX-k$n
		CFG=$CFG cfg --arg cg "/skiff/$id" '.linux.cgroupsPath = $cg' || return 1
		# a simple command, so $! is skiff itself (not a subshell)
		"$SKIFF" --root "$STATE_ROOT" create --bundle "$BUNDLE" "$id" </dev/null >/dev/null 2>&1 &
		pid=$!
		sleep "$(printf '0.%03d' "$n")"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		# a create that got as far as "created" goes on without its caller (as runc's):
		# its init, now the subreaper's child, must be alive and waiting to start
		if wait_created "$id"; then
			local init
			init=$(jq -r '.pid // 0' "$STATE_ROOT/$id/state.json" 2>/dev/null || echo 0)
			[ "$init" -gt 0 ] && kill -0 "$init" 2>/dev/null ||
				left+=("killed after $n ms: container created but its init ($init) is dead")
		fi
		sk delete --force "$id" >/dev/null 2>&1 || true
		local why
		why=$(nothing_of "$id") || left+=("killed after $n ms: $why")
	done
	after=$(counts)
	echo "# before: $before" >&3
	echo "# after:  $after" >&3
	[ ${#left[@]} -eq 0 ] || fail "$(printf '%s\n' "${left[@]}")"
	assert_eq "$after" "$before" "leak counts"
}

# wait_created ID: wait (up to 3 s) until the create of ID settled; true if the
# container ended up created.
wait_created() {
	local id=$1 i
	for ((i = 0; i < 60; i++)); do
		[ "$(state_field status "$id" 2>/dev/null)" = created ] && return 0
		[ -e "$STATE_ROOT/$id" ] || return 1
		sleep 0.05
	done
	return 1
}

@test "faults: delete --force racing a running create (0..60 ms in) leaves nothing" {
	local n id left=() pid before after
	set_args sleep 100
	before=$(counts)
	for n in $(seq 0 3 60); do
		id=$PREFIX-r$n
		CFG=$CFG cfg --arg cg "/skiff/$id" '.linux.cgroupsPath = $cg' || return 1
		"$SKIFF" --root "$STATE_ROOT" create --bundle "$BUNDLE" "$id" </dev/null >/dev/null 2>&1 &
		pid=$!
		sleep "$(printf '0.%03d' "$n")"
		sk delete --force "$id" >/dev/null 2>&1 || true
		wait "$pid" 2>/dev/null || true
		# whoever won, one more delete --force must leave nothing
		sk delete --force "$id" >/dev/null 2>&1 || true
		local why
		why=$(nothing_of "$id") || left+=("delete after $n ms: $why")
	done
	after=$(counts)
	echo "# before: $before" >&3
	echo "# after:  $after" >&3
	[ ${#left[@]} -eq 0 ] || fail "$(printf '%s\n' "${left[@]}")"
	assert_eq "$after" "$before" "leak counts"
}

# fault_create ROOT: create $PREFIX-f with --root ROOT; sets status, output, lines.
fault_create() {
	run "$SKIFF" --root "$1" create --bundle "$BUNDLE" "$PREFIX-f" </dev/null
}

@test "faults: a full state dir (tiny tmpfs) fails with one line, nothing half-created" {
	local root=$WORK/fullroot
	mkdir -p "$root"
	mount -t tmpfs -o size=64k tmpfs "$root"
	FAULT_MOUNTS+=("$root")
	CFG=$CFG cfg --arg cg "/skiff/$PREFIX-f" '.linux.cgroupsPath = $cg'
	dd if=/dev/zero of="$root/filler" bs=4k 2>/dev/null || true
	fault_create "$root"
	echo "# $output" >&3
	assert_one_line_error
	assert_contains "$output" "$root"
	assert_eq "$(ls -A "$root")" filler "state root content"
	STATE_ROOT=$root nothing_of "$PREFIX-f"
}

@test "faults: a read-only state dir fails with one line, nothing half-created" {
	local root=$WORK/roroot
	mkdir -p "$root"
	mount -t tmpfs -o size=1m,ro tmpfs "$root"
	FAULT_MOUNTS+=("$root")
	CFG=$CFG cfg --arg cg "/skiff/$PREFIX-f" '.linux.cgroupsPath = $cg'
	fault_create "$root"
	echo "# $output" >&3
	assert_one_line_error
	assert_contains "$output" "Read-only file system"
	assert_eq "$(ls -A "$root")" "" "state root content"
	STATE_ROOT=$root nothing_of "$PREFIX-f"
}

@test "faults: a missing cgroup controller (pids unmounted) fails with one line, nothing half-created" {
	[ -d /sys/fs/cgroup/pids ] || skip "no v1 pids hierarchy to hide"
	CFG=$CFG cfg --arg cg "/skiff/$PREFIX-f" '.linux.cgroupsPath = $cg | .linux.resources.pids = {"limit": 10}'
	run unshare -m sh -c 'umount -l /sys/fs/cgroup/pids && exec "$@"' sh \
		"$SKIFF" --root "$STATE_ROOT" create --bundle "$BUNDLE" "$PREFIX-f" </dev/null
	echo "# $output" >&3
	assert_one_line_error
	assert_contains "$output" pids
	nothing_of "$PREFIX-f"
}

@test "faults: an invalid cgroupsPath fails with one line, nothing created outside" {
	CFG=$CFG cfg '.linux.cgroupsPath = "/skiff/../../../../etc/skiff-escape"'
	run sk create --bundle "$BUNDLE" "$PREFIX-f" </dev/null
	echo "# $output" >&3
	assert_one_line_error
	[ ! -e /etc/skiff-escape ] || fail "/etc/skiff-escape was created"
	[ -z "$(ls -d /sys/fs/cgroup/*/etc/skiff-escape 2>/dev/null)" ] || fail "cgroup outside /skiff created"
	nothing_of "$PREFIX-f"
}
