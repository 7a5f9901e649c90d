#!/usr/bin/env bats
# exec: a new process inside a running container joins its namespaces, cgroup,
# capabilities and seccomp filter; its output and exit code pass through.

load ../helpers

setup() { skiff_setup; }
teardown() { skiff_teardown; }

@test "exec: sees the container's pid namespace (ps shows pid 1 sleep) and hostname" {
	cfg '.hostname = "exec-host"'
	create_started
	run sk exec "$ID" ps
	assert_status 0
	grep -qE '^ *1 .*sleep 100' <<<"$output" || fail "no pid 1 sleep in ps: $output"
	# the container holds sleep and the ps itself, nothing of the host
	[ "$(grep -cE '^ *[0-9]+ ' <<<"$output")" -le 3 ] || fail "host processes visible: $output"
	run sk exec "$ID" hostname
	assert_status 0
	assert_eq "$output" exec-host hostname
}

@test "exec: output and exit code pass through" {
	create_started
	run sk exec "$ID" sh -c 'echo to-stdout; echo to-stderr >&2; exit 7'
	assert_status 7
	assert_contains "$output" to-stdout
	assert_contains "$output" to-stderr
	run sk exec "$ID" true
	assert_status 0
}

@test "exec: sees the container's mounts (a tmpfs only the container has)" {
	add_mount /scratch tmpfs tmpfs
	sh_args 'echo init-was-here > /scratch/marker; exec sleep 100'
	create_started
	# the tmpfs is in the container's mount namespace only: wait through its root
	wait_file_contains "/proc/$(container_pid)/root/scratch/marker" init-was-here
	[ ! -e "$ROOTFS/scratch/marker" ] || fail "the marker is on the rootfs, not on a tmpfs"
	run sk exec "$ID" cat /scratch/marker
	assert_status 0
	assert_eq "$output" init-was-here "marker read by exec"
}

@test "exec: joins the cgroup, namespaces, capabilities and seccomp filter of the container" {
	create_started
	run sk exec "$ID" sh -c 'for n in pid mnt uts ipc net cgroup; do echo "$n $(readlink /proc/1/ns/$n) $(readlink /proc/self/ns/$n)"; done
		echo "cg $(cat /proc/1/cgroup | md5sum) $(cat /proc/self/cgroup | md5sum)"
		for f in CapEff CapPrm CapBnd CapInh Seccomp NoNewPrivs; do
			echo "$f $(grep "^$f:" /proc/1/status | cut -f2) $(grep "^$f:" /proc/self/status | cut -f2)"
		done'
	assert_status 0
	local name init self rest
	while read -r name init self rest; do
		[ -n "$name" ] || continue
		[ "$init" = "$self" ] || fail "exec differs from pid 1 in $name: $init vs $self"
	done < <(sed 's/  -//g' <<<"$output")
	[ "${#lines[@]}" -eq 13 ] || fail "want 13 lines: $output"
}

@test "exec: only fds 0, 1 and 2 reach the exec'd process" {
	create_started
	run sk exec "$ID" ls /proc/self/fd
	assert_status 0
	# ls's own directory fd is 3 exactly when nothing else was inherited
	assert_eq "$(xargs <<<"$output")" "0 1 2 3" "fds of ls"
}

@test "exec: env and cwd of the container's process apply" {
	cfg '.process.env += ["SKIFF_EXEC_VAR=from-config"] | .process.cwd = "/tmp"'
	create_started
	run sk exec "$ID" sh -c 'echo "$SKIFF_EXEC_VAR $(pwd)"'
	assert_status 0
	assert_eq "$output" "from-config /tmp" "env and cwd"
}

@test "exec: into a stopped container fails" {
	set_args true
	sk_create "$ID" || fail "create: $(container_output)"
	sk start "$ID"
	wait_status stopped
	run sk exec "$ID" true
	[ "$status" -ne 0 ] || fail "exec into a stopped container succeeded"
	[ -n "$output" ] || fail "no error message"
}

@test "exec: into a missing container fails naming it" {
	run sk exec "no-such-container-$RANDOM" true
	[ "$status" -ne 0 ]
	assert_contains "$output" no-such-container
}
