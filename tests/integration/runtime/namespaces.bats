#!/usr/bin/env bats
# Namespaces: pid, uts, every namespace new, network (new and joined by path), cgroup,
# and user with uid/gid mappings.

load ../helpers

setup() { skiff_setup; }
teardown() { skiff_teardown; }

@test "pid namespace: the container's process is pid 1" {
	sh_args 'echo "pid=$$"'
	run_container
	assert_status 0
	assert_eq "$output" "pid=1" output
}

@test "pid namespace: only the container's processes are visible" {
	sh_args 'ls -d /proc/[0-9]* | wc -l'
	run_container
	assert_status 0
	# sh, ls and wc (ls and wc in a pipeline), nothing of the host
	[ "$output" -le 3 ] || fail "$output processes visible inside"
}

@test "uts namespace: hostname from config.json" {
	cfg '.hostname = "skiff-host-42"'
	set_args hostname
	run_container
	assert_status 0
	assert_eq "$output" skiff-host-42 hostname
	[ "$(hostname)" != skiff-host-42 ]
}

@test "every configured namespace differs from the host's" {
	sh_args 'for n in pid mnt uts ipc net cgroup; do echo "$n $(readlink /proc/self/ns/$n)"; done'
	run_container
	assert_status 0
	local n inside
	for n in pid mnt uts ipc net cgroup; do
		inside=$(awk -v n="$n" '$1 == n { print $2 }' <<<"$output")
		[ -n "$inside" ] || fail "no $n namespace line in: $output"
		[ "$inside" != "$(readlink /proc/self/ns/$n)" ] || fail "$n namespace is the host's: $inside"
	done
}

@test "network namespace: a new one holds only lo" {
	set_args cat /proc/net/dev
	run_container
	assert_status 0
	local ifs
	ifs=$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' <<<"$output" | tr '\n' ' ')
	assert_eq "$ifs" "lo " interfaces
}

@test "network namespace: joining an existing one by path" {
	new_netns
	local ns=$NEW_NETNS
	ip -n "$ns" addr add 10.213.7.1/32 dev lo
	cfg --arg p "/run/netns/$ns" '.linux.namespaces |= map(if .type == "network" then .path = $p else . end)'
	sh_args 'readlink /proc/self/ns/net; ip addr show dev lo'
	run_container
	assert_status 0
	assert_eq "${lines[0]}" "net:[$(stat -L -c %i "/run/netns/$ns")]" "net namespace inside"
	assert_contains "$output" "inet 10.213.7.1/32"
}

@test "cgroup namespace: the container sees its cgroup as the root" {
	set_args cat /proc/self/cgroup
	run_container
	assert_status 0
	local line
	for line in "${lines[@]}"; do
		[[ "$line" == *:/ ]] || fail "cgroup line not at the namespace root: $line (all: $output)"
	done
}

@test "user namespace: uid/gid mappings, root inside is an unprivileged uid outside" {
	cfg '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
	# the container's root owns the directories (the files are the template's links)
	find "$ROOTFS" -type d -exec chown 100000:100000 {} +
	sh_args 'echo "uid=$(id -u) gid=$(id -g)"; cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/made-inside; exec sleep 100'
	create_started
	wait_file_contains "$WORK/$ID.out" uid=
	local pid out
	pid=$(container_pid)
	wait_file_contains "$ROOTFS/tmp/made-inside" "" || fail "output: $(container_output)"
	out=$(container_output)
	assert_contains "$out" "uid=0 gid=0"
	# both maps read "0 100000 65536"
	assert_eq "$(grep -v = <<<"$out" | awk '{ print $1, $2, $3 }' | tr '\n' ';')" \
		"0 100000 65536;0 100000 65536;" "uid_map;gid_map"
	assert_eq "$(awk '/^Uid:/ { print $2 }' /proc/"$pid"/status)" 100000 "host uid of the container's root"
	assert_eq "$(stat -c %u:%g "$ROOTFS/tmp/made-inside")" 100000:100000 "owner on the host of a file made inside"
}
