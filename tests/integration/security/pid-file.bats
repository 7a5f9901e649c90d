#!/usr/bin/env bats
# --pid-file is written by root into a directory the caller picks, often one that others
# can write (/tmp).  skiff used to write it through "<file>.tmp.<pid>" opened without
# O_EXCL, so a symlink planted at that name made skiff truncate and overwrite the file it
# points to.  The temporary name is now random and created O_CREAT|O_EXCL (which never
# follows a symlink) in the target's directory (skiff_write_file_atomic).
#
# skiff's pid must be known in advance to plant the link: the test runs it as pid 1 of a
# new pid namespace.

load ../helpers

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-60}

setup() { skiff_setup; }
teardown() { skiff_teardown; }

@test "--pid-file: a symlink planted at the old temporary name is not followed (run, create)" {
	echo precious >"$WORK/victim"
	ln -s "$WORK/victim" "$WORK/pid.tmp.1"
	set_args true
	run unshare --pid --fork --mount-proc "$SKIFF" --root "$STATE_ROOT" run --pid-file "$WORK/pid" \
		--bundle "$BUNDLE" "$ID" </dev/null
	assert_status 0
	assert_eq "$(cat "$WORK/victim")" precious "the planted link's target"
	[ -f "$WORK/pid" ] && [ ! -L "$WORK/pid" ] || fail "no regular pid file written"
	[[ "$(cat "$WORK/pid")" =~ ^[0-9]+$ ]] || fail "pid file holds '$(cat "$WORK/pid")'"

	# create writes it from the same helper; a link at the target itself is replaced
	rm -f "$WORK/pid"
	ln -s "$WORK/victim" "$WORK/pid"
	new_id
	sed -i "s|/skiff/$ID\"|/skiff/$NEW_ID\"|" "$CFG"
	set_args sleep 100
	sk create --pid-file "$WORK/pid" --bundle "$BUNDLE" "$NEW_ID" </dev/null >"$WORK/c.out" 2>&1 ||
		fail "create: $(cat "$WORK/c.out")"
	assert_eq "$(cat "$WORK/victim")" precious "the link at the target"
	assert_eq "$(cat "$WORK/pid")" "$(container_pid "$NEW_ID")" "pid file of create"
}
