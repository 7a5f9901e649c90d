#!/usr/bin/env bats
# cgroups: limits reach cgroupfs (v1 on hybrid hosts, v2 on unified ones), the memory
# limit OOM-kills an allocator, the pids limit stops a fork bomb, delete --force kills
# every process of the cgroup and removes it.

load ../helpers

setup() { skiff_setup; }
teardown() { skiff_teardown; }

# An allocator in a child shell: holds 64 MiB in a shell variable, then reports how the
# child ended (busybox has no allocator of its own).
ALLOC='(x=$(yes aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa | head -c 67108864); echo "held ${#x}"); echo "child-rc=$?"'

@test "memory: a 32M limit OOM-kills an allocator of 64M (exit 137)" {
	cfg '.linux.resources.memory = {"limit": 33554432}'
	sh_args "$ALLOC"
	run_container
	assert_status 0
	assert_contains "$output" child-rc=137
	assert_not_contains "$output" held
}

@test "memory: without a limit the same allocator succeeds" {
	cfg 'del(.linux.resources.memory)'
	sh_args "$ALLOC"
	run_container
	assert_status 0
	[[ "$output" =~ held\ 6710886[34] ]] || fail "allocator did not hold 64M: $output"
	assert_contains "$output" child-rc=0
}

FORK='i=0; while [ $i -lt 50 ]; do sleep 30 & i=$((i + 1)); done; echo "spawned $i"'

@test "pids: a limit of 20 stops a fork bomb of 50 (can't fork)" {
	cfg '.linux.resources.pids = {"limit": 20}'
	sh_args "$FORK"
	run_container
	assert_contains "$output" "can't fork"
	assert_not_contains "$output" "spawned 50"
}

@test "pids: without a limit the 50 children start" {
	cfg 'del(.linux.resources.pids)'
	sh_args "$FORK"
	run_container
	assert_status 0
	assert_contains "$output" "spawned 50"
}

@test "cgroup files hold the configured limits and the container's process" {
	cfg '.linux.resources.memory = {"limit": 67108864, "reservation": 33554432}
		| .linux.resources.cpu = {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"}
		| .linux.resources.pids = {"limit": 42}'
	run_create
	assert_status 0
	local pid
	pid=$(container_pid)
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		local d=/sys/fs/cgroup/skiff/$ID
		assert_eq "$(cat "$d/memory.max")" 67108864 memory.max
		assert_eq "$(cat "$d/memory.low")" 33554432 memory.low
		assert_eq "$(cat "$d/cpu.max")" "50000 100000" cpu.max
		assert_eq "$(cat "$d/cpuset.cpus")" 0 cpuset.cpus
		assert_eq "$(cat "$d/pids.max")" 42 pids.max
		grep -qx "$pid" "$d/cgroup.procs" || fail "$pid not in $d/cgroup.procs"
	else
		local c=/sys/fs/cgroup
		assert_eq "$(cat "$c/memory/skiff/$ID/memory.limit_in_bytes")" 67108864 memory.limit_in_bytes
		assert_eq "$(cat "$c/memory/skiff/$ID/memory.soft_limit_in_bytes")" 33554432 memory.soft_limit_in_bytes
		assert_eq "$(cat "$c/cpu/skiff/$ID/cpu.shares")" 512 cpu.shares
		assert_eq "$(cat "$c/cpu/skiff/$ID/cpu.cfs_quota_us")" 50000 cpu.cfs_quota_us
		assert_eq "$(cat "$c/cpu/skiff/$ID/cpu.cfs_period_us")" 100000 cpu.cfs_period_us
		assert_eq "$(cat "$c/cpuset/skiff/$ID/cpuset.cpus")" 0 cpuset.cpus
		assert_eq "$(cat "$c/pids/skiff/$ID/pids.max")" 42 pids.max
		local ctrl
		for ctrl in memory cpu cpuset pids; do
			grep -qx "$pid" "$c/$ctrl/skiff/$ID/cgroup.procs" || fail "$pid not in the $ctrl cgroup"
		done
	fi
}

@test "memory: swap limit reaches cgroupfs" {
	local f
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		f=/sys/fs/cgroup/skiff/$ID/memory.swap.max
	else
		f=/sys/fs/cgroup/memory/skiff/$ID/memory.memsw.limit_in_bytes
		[ -e /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ] || skip "no swap accounting on this kernel"
	fi
	cfg '.linux.resources.memory = {"limit": 67108864, "swap": 134217728}'
	run_create
	assert_status 0
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		assert_eq "$(cat "$f")" 67108864 "memory.swap.max (swap - limit)"
	else
		assert_eq "$(cat "$f")" 134217728 memory.memsw.limit_in_bytes
	fi
}

@test "delete --force kills every process in the cgroup (host pid namespace) and removes it" {
	cfg '.linux.namespaces |= map(select(.type != "pid"))'
	sh_args 'sleep 1000 & sleep 1000 & echo started; wait'
	create_started
	wait_file_contains "$WORK/$ID.out" started
	local procs p i
	procs=$(cat "$(cgroup_file "$ID" pids cgroup.procs cgroup.procs)")
	[ "$(wc -w <<<"$procs")" -ge 3 ] || fail "want sh and two sleeps in the cgroup: $procs"
	run sk delete --force "$ID"
	assert_status 0
	for p in $procs; do
		for ((i = 0; i < 40; i++)); do
			[ -e "/proc/$p" ] || break
			sleep 0.05
		done
		[ ! -e "/proc/$p" ] || fail "process $p of the container survived delete --force"
	done
	assert_nothing_left
}
