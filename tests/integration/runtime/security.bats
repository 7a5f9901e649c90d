#!/usr/bin/env bats
# Security: capabilities, no_new_privs, seccomp (default profile and the spec's own),
# masked and readonly paths, no leaked fd, the /proc/self/fd cwd escape, user/groups,
# umask, rlimits.

load ../helpers

setup() { skiff_setup; }
teardown() { skiff_teardown; }

# Docker's default capability set, which `skiff spec` writes.
DOCKER_CAPS=(CAP_CHOWN CAP_DAC_OVERRIDE CAP_FSETID CAP_FOWNER CAP_MKNOD CAP_NET_RAW CAP_SETGID
	CAP_SETUID CAP_SETFCAP CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_SYS_CHROOT CAP_KILL CAP_AUDIT_WRITE)

caps_line() { # STATUS-TEXT: "eff prm bnd inh amb" masks
	local f out=""
	for f in CapEff CapPrm CapBnd CapInh CapAmb; do out+="$(status_field "$f" "$1") "; done
	echo "${out% }"
}

@test "capabilities: as configured in every set, inheritable and ambient empty" {
	cfg '.process.capabilities = {
		"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
		"effective": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
		"permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]}'
	set_args cat /proc/self/status
	run_container
	assert_status 0
	local m zero=0000000000000000
	m=$(cap_mask CAP_CHOWN CAP_KILL CAP_NET_BIND_SERVICE)
	assert_eq "$(caps_line "$output")" "$m $m $m $zero $zero" "CapEff CapPrm CapBnd CapInh CapAmb"
}

@test "capabilities: the default set of skiff spec is Docker's 14" {
	[ "$(jq -c '.process.capabilities.bounding | sort' "$CFG")" = "$(json_array "${DOCKER_CAPS[@]}" | jq -c sort)" ] ||
		fail "spec bounding set: $(jq -c .process.capabilities.bounding "$CFG")"
	set_args cat /proc/self/status
	run_container
	assert_status 0
	local m
	m=$(cap_mask "${DOCKER_CAPS[@]}")
	assert_eq "$m" 00000000a80425fb "Docker's mask"
	assert_eq "$(caps_line "$output")" "$m $m $m 0000000000000000 0000000000000000" \
		"CapEff CapPrm CapBnd CapInh CapAmb"
}

@test "capabilities: ambient set reaches a non-root process" {
	cfg '.process.user = {"uid": 1000, "gid": 1000}
		| .process.capabilities = {
		"bounding": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
		"effective": ["CAP_NET_BIND_SERVICE"],
		"permitted": ["CAP_NET_BIND_SERVICE"],
		"inheritable": ["CAP_NET_BIND_SERVICE"],
		"ambient": ["CAP_NET_BIND_SERVICE"]}'
	set_args cat /proc/self/status
	run_container
	assert_status 0
	local m b
	m=$(cap_mask CAP_NET_BIND_SERVICE)
	b=$(cap_mask CAP_NET_BIND_SERVICE CAP_KILL)
	assert_eq "$(caps_line "$output")" "$m $m $b $m $m" "CapEff CapPrm CapBnd CapInh CapAmb"
}

@test "no_new_privs follows process.noNewPrivileges" {
	cfg '.process.noNewPrivileges = true'
	set_args cat /proc/self/status
	run_container
	assert_status 0
	assert_eq "$(status_field NoNewPrivs "$output")" 1 "NoNewPrivs with true"
	cfg '.process.noNewPrivileges = false'
	run_container
	assert_status 0
	assert_eq "$(status_field NoNewPrivs "$output")" 0 "NoNewPrivs with false"
}

@test "seccomp: the default profile of skiff spec denies unshare with EPERM, chmod and mkdir work" {
	jq -e '.linux.seccomp.defaultAction' "$CFG" >/dev/null || fail "skiff spec wrote no seccomp profile"
	sh_args 'grep ^Seccomp: /proc/self/status; unshare -U true; echo "unshare-rc=$?"
		mkdir /tmp/d && chmod 0700 /tmp/d && echo mkdir-chmod-ok'
	run_container
	assert_status 0
	assert_contains "$output" "Operation not permitted"
	assert_contains "$output" unshare-rc=1
	assert_contains "$output" mkdir-chmod-ok
	assert_eq "$(status_field Seccomp "$output")" 2 "Seccomp mode"
}

@test "seccomp: without a profile the same unshare succeeds (the denial is seccomp's)" {
	cfg 'del(.linux.seccomp)'
	sh_args 'unshare -U true; echo "unshare-rc=$?"'
	run_container
	assert_status 0
	assert_eq "$output" unshare-rc=0 output
}

@test "seccomp: a profile from the spec denies the listed calls with EPERM" {
	cfg '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}'
	sh_args 'mkdir /tmp/d; echo "mkdir-rc=$?"; touch /tmp/f && echo touch-ok'
	run_container
	assert_status 0
	assert_contains "$output" "Operation not permitted"
	assert_contains "$output" mkdir-rc=1
	assert_contains "$output" touch-ok
}

@test "masked paths: /proc/kcore and /proc/keys read empty, /sys/firmware is empty" {
	jq -e '.linux.maskedPaths | index("/proc/kcore") != null and index("/proc/keys") != null' "$CFG" >/dev/null ||
		fail "default maskedPaths lack /proc/kcore or /proc/keys: $(jq -c .linux.maskedPaths "$CFG")"
	sh_args 'echo "kcore=$(head -c 16 /proc/kcore | wc -c)"; echo "keys=$(wc -c < /proc/keys)"
		echo "firmware=$(ls -A /sys/firmware | wc -l)"'
	run_container
	assert_status 0
	assert_contains "$output" kcore=0
	assert_contains "$output" keys=0
	assert_contains "$output" firmware=0
	[ -n "$(ls -A /sys/firmware)" ] || skip "host /sys/firmware is empty too"
}

@test "readonly paths: /proc/sys and /proc/sysrq-trigger are read-only" {
	sh_args 'echo evil > /proc/sys/kernel/hostname; echo "sys-rc=$?"; hostname
		echo h > /proc/sysrq-trigger; echo "sysrq-rc=$?"'
	run_container
	assert_contains "$output" "Read-only file system"
	assert_contains "$output" sys-rc=1
	assert_contains "$output" sysrq-rc=1
	assert_not_contains "$output" evil
}

@test "fds: the container's process has only 0, 1 and 2" {
	# ls of pid 1's fds (the shell the runtime exec'd) from a child: exactly 0 1 2.
	# ls of its own fds: busybox ls lists the directory fd it opened for the listing,
	# which takes the lowest free number: 3 exactly when nothing beyond 0-2 is open.
	# (no $(...) in the script: its pipe would be an fd of pid 1)
	sh_args 'ls /proc/1/fd; echo ---; ls /proc/self/fd'
	run_container
	assert_status 0
	assert_eq "$(sed '/^---$/,$d' <<<"$output" | xargs)" "0 1 2" "fds of the container's process"
	assert_eq "$(sed '1,/^---$/d' <<<"$output" | xargs)" "0 1 2 3" "fds of ls"
}

@test "cwd of /proc/self/fd/N is rejected at create with a clear message, nothing left" {
	local n
	for n in 3 4 5 6; do
		cfg --arg c "/proc/self/fd/$n" '.process.cwd = $c'
		run_create
		[ "$status" -ne 0 ] || fail "create with cwd /proc/self/fd/$n succeeded"
		[[ "${output,,}" == *cwd* || "$output" == *"/proc/self/fd/$n"* ]] ||
			fail "error names neither the cwd nor its path: $output"
		assert_nothing_left
	done
	assert_one_line_error
}

@test "user: uid, gid and additional gids from the spec" {
	cfg '.process.user = {"uid": 1000, "gid": 1001, "additionalGids": [10, 20]}'
	sh_args 'echo "uid=$(id -u) gid=$(id -g)"; grep ^Groups: /proc/self/status'
	run_container
	assert_status 0
	assert_contains "$output" "uid=1000 gid=1001"
	assert_eq "$(grep ^Groups: <<<"$output" | awk '{ $1 = ""; print }' | xargs)" "10 20" "Groups"
}

@test "umask and rlimits from the spec" {
	cfg '.process.user.umask = 23
		| .process.rlimits = [{"type": "RLIMIT_NOFILE", "hard": 1234, "soft": 1000}]'
	sh_args 'umask; grep "^Max open files" /proc/self/limits'
	run_container
	assert_status 0
	assert_eq "${lines[0]}" 0027 umask
	assert_eq "$(awk '{ print $4, $5 }' <<<"${lines[1]}")" "1000 1234" "soft and hard RLIMIT_NOFILE"
}
