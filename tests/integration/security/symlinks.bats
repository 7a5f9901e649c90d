#!/usr/bin/env bats
# Symlinks in the rootfs that point outside it: /proc, /dev, and a component of a mount
# destination.  /proc, /sys and /dev must be real directories (refuse_symlink in
# mount.c: a symlink there is refused with a one-line error), and every destination is
# resolved inside the root (openat2 RESOLVE_IN_ROOT, mnt_resolve), so an absolute or
# ..-laden link is followed as if the rootfs were / and nothing is created or mounted
# on the host.  Every test checks the host path after.

load ../helpers

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-60}

setup() {
	skiff_setup
	HOST_DIR=$WORK/host-target
	mkdir -p "$HOST_DIR"
	echo host-file >"$HOST_DIR/keep"
}

teardown() { skiff_teardown; }

# host_untouched: $HOST_DIR holds only `keep` and is no mount point.
host_untouched() {
	assert_eq "$(ls -A "$HOST_DIR" | tr '\n' ' ')" "keep " "content of the host directory" || return 1
	! grep -q " $HOST_DIR " /proc/self/mountinfo || fail "something is mounted on $HOST_DIR: $(grep " $HOST_DIR" /proc/self/mountinfo)"
}

@test "symlinks: /proc in the rootfs pointing to a host directory gets nothing mounted or created there" {
	rmdir "$ROOTFS/proc"
	ln -s "$HOST_DIR" "$ROOTFS/proc"
	set_args cat /proc/self/status
	run sk run --bundle "$BUNDLE" "$ID" </dev/null
	host_untouched
	assert_one_line_error
	assert_contains "$output" "\`/proc\` is a symlink"
}

@test "symlinks: /proc as ../../.. chain pointing at the host's /tmp gets nothing mounted there" {
	rmdir "$ROOTFS/proc"
	ln -s "../../../../../../../../..$HOST_DIR" "$ROOTFS/proc"
	set_args cat /proc/self/status
	run sk run --bundle "$BUNDLE" "$ID" </dev/null
	host_untouched
	assert_one_line_error
	assert_contains "$output" "\`/proc\` is a symlink"
}

@test "symlinks: /dev in the rootfs pointing to a host directory: no device nodes made on the host" {
	rm -rf "$ROOTFS/dev"
	ln -s "$HOST_DIR" "$ROOTFS/dev"
	set_args ls /dev
	run sk run --bundle "$BUNDLE" "$ID" </dev/null
	host_untouched
	assert_one_line_error
	assert_contains "$output" "\`/dev\` is a symlink"
}

@test "symlinks: a mount destination with a symlink component pointing outside stays inside" {
	ln -s "$HOST_DIR" "$ROOTFS/escape"
	mkdir -p "$WORK/vol"
	echo volume >"$WORK/vol/data"
	add_mount /escape/sub bind "$WORK/vol" rbind
	add_mount /escape/tmp tmpfs tmpfs
	sh_args 'cat /escape/sub/data; ls -d /escape/tmp'
	run sk run --bundle "$BUNDLE" "$ID" </dev/null
	host_untouched
	if [ "$status" -eq 0 ]; then
		assert_contains "$output" volume
		# followed inside the root: the mount point was made under rootfs$HOST_DIR
		[ -d "$ROOTFS$HOST_DIR/sub" ] || fail "mount point not created inside the rootfs"
	fi
}

@test "symlinks: a bind source that is fine and a destination of ../.. stays inside" {
	mkdir -p "$WORK/vol"
	echo volume >"$WORK/vol/data"
	add_mount "/../../../../..$HOST_DIR/inside" bind "$WORK/vol" rbind
	sh_args "cat $HOST_DIR/inside/data"
	run sk run --bundle "$BUNDLE" "$ID" </dev/null
	host_untouched
	[ "$status" -ne 0 ] || assert_contains "$output" volume
}
