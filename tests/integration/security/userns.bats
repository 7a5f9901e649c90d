#!/usr/bin/env bats
# The escape suite once more, with user-namespaced containers: every escape file of this
# directory runs with SKIFF_TEST_USERNS=1, which makes helpers.bash's bundles add a user
# namespace mapping the container's 0..65535 to the host's 100000..165535 (and chown the
# rootfs directories to it).  The same escapes must be blocked; where the user namespace
# blocks one before skiff's own defence is reached, the file says so beside the assertion.
# One TAP line per file here; each nested test's lines go to this test's output on failure.

load ../helpers

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-600}

setup() {
	export SKIFF_TEST_USERNS=1
	skiff_setup
}

teardown() { skiff_teardown; }

# escapes FILE: run one escape file user-namespaced; every test of it must pass.
escapes() {
	run bats --tap "$BATS_TEST_DIRNAME/$1"
	local total notok
	total=$(grep -c '^ok \|^not ok ' <<<"$output" || true)
	notok=$(grep -c '^not ok ' <<<"$output" || true)
	echo "# $1: $total tests, $notok failed" >&3
	[ "$total" -gt 0 ] || fail "no test ran: $output"
	[ "$status" -eq 0 ] && [ "$notok" -eq 0 ] || fail "user-namespaced $1: $output"
}

@test "userns: the bundles of this suite really are user-namespaced" {
	set_args sh -c 'cat /proc/self/uid_map; id -u'
	run_container
	assert_status 0
	assert_eq "$(awk 'NR==1 { print $1, $2, $3 }' <<<"$output")" "0 100000 65536" uid_map
	assert_eq "${lines[1]}" 0 "uid inside"
}

@test "userns: CVE-2019-5736 (host binary through /proc/PID/exe)" { escapes cve-2019-5736.bats; }
@test "userns: CVE-2022-29162 (inheritable capabilities)" { escapes cve-2022-29162.bats; }
@test "userns: CVE-2024-21626 (leaked fds, cwd through /proc/self/fd, hooks)" { escapes cve-2024-21626.bats; }
@test "userns: CVE-2025-31133 / 52565 (/dev/null and console symlinks)" { escapes cve-2025-31133.bats; }
@test "userns: symlinked /proc, /dev and mount destinations" { escapes symlinks.bats; }
@test "userns: what a default container must not do" { escapes inside.bats; }
