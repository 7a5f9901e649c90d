#!/usr/bin/env bats
# Root filesystem and mounts: spec mounts visible inside with their options, /dev,
# readonly rootfs, pivot_root with the old root gone.

load ../helpers

setup() { skiff_setup; }
teardown() { skiff_teardown; }

# mount_line DEST TEXT: the /proc/mounts line of mount point DEST in TEXT (the last one).
mount_line() {
	awk -v d="$1" '$2 == d { l = $0 } END { print l }' <<<"$2"
}

@test "mounts: the spec's mounts are visible in /proc/mounts inside, with their options" {
	mkdir "$WORK/hostdir"
	echo from-the-host >"$WORK/hostdir/hello"
	add_mount /scratch tmpfs tmpfs size=1m mode=0755 nosuid
	add_mount /data bind "$WORK/hostdir" rbind ro
	sh_args 'cat /proc/mounts; echo ---; cat /data/hello; touch /data/new; echo x > /scratch/f && echo scratch-ok'
	run_container
	local mounts l
	mounts=$(sed '/^---$/,$d' <<<"$output")
	l=$(mount_line /scratch "$mounts")
	[[ "$l" == "tmpfs /scratch tmpfs "* ]] || fail "no tmpfs at /scratch: $mounts"
	assert_contains "$l" size=1024k
	assert_contains "$l" nosuid
	l=$(mount_line /data "$mounts")
	[ -n "$l" ] || fail "no mount at /data: $mounts"
	[[ " $(awk '{ print $4 }' <<<"$l" | tr , ' ') " == *" ro "* ]] || fail "/data not ro: $l"
	assert_contains "$output" from-the-host
	assert_contains "$output" "Read-only file system"
	assert_contains "$output" scratch-ok
	[ ! -e "$WORK/hostdir/new" ]
}

@test "mounts: /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue and /sys are mounted" {
	set_args cat /proc/mounts
	run_container
	assert_status 0
	local want d t
	for want in /proc:proc /dev:tmpfs /dev/pts:devpts /dev/shm:tmpfs /dev/mqueue:mqueue /sys:sysfs; do
		d=${want%%:*} t=${want#*:}
		[ "$(mount_line "$d" "$output" | awk '{ print $3 }')" = "$t" ] ||
			fail "$d is not $t: $(mount_line "$d" "$output")"
	done
}

@test "mounts: /dev holds the default devices and the fd/stdio symlinks, nothing of the host" {
	sh_args 'for d in null zero full random urandom tty; do test -c /dev/$d && echo "chr $d"; done
		for l in fd stdin stdout stderr; do echo "link $l $(readlink /dev/$l)"; done
		test -e /dev/ptmx && echo ptmx
		echo x > /dev/null && echo null-writable
		echo "zero $(head -c 5 /dev/zero | wc -c)"
		ls /dev'
	run_container
	assert_status 0
	local d
	for d in null zero full random urandom tty; do assert_contains "$output" "chr $d"; done
	assert_contains "$output" "link fd /proc/self/fd"
	assert_contains "$output" "link stdin /proc/self/fd/0"
	assert_contains "$output" "link stdout /proc/self/fd/1"
	assert_contains "$output" "link stderr /proc/self/fd/2"
	assert_contains "$output" ptmx
	assert_contains "$output" null-writable
	assert_contains "$output" "zero 5"
	# host devices stay outside
	for d in mem kmsg sda vda nvme0; do
		! grep -qx "$d" <<<"$output" || fail "host device /dev/$d inside: $output"
	done
}

@test "mounts: readonly rootfs refuses writes, a tmpfs on it stays writable" {
	cfg '.root.readonly = true'
	add_mount /tmp tmpfs tmpfs
	sh_args 'touch /newfile; echo x > /tmp/f && echo tmp-ok; awk '\''$2 == "/" { print "root", $4 }'\'' /proc/mounts'
	run_container
	assert_contains "$output" "Read-only file system"
	assert_contains "$output" tmp-ok
	[[ "$(grep '^root ' <<<"$output" | tail -1)" =~ ^root\ ro(,|$) ]] || fail "/ not mounted ro: $output"
	[ ! -e "$ROOTFS/newfile" ]
}

@test "mounts: pivot_root leaves only the container's mounts, and the rootfs as /" {
	mkdir "$WORK/hostdir"
	add_mount /data bind "$WORK/hostdir" rbind
	sh_args 'ls -a /; echo ---; awk '\''{ print $5 }'\'' /proc/self/mountinfo'
	run_container
	assert_status 0
	local top mp extra=""
	top=$(sed '/^---$/,$d' <<<"$output" | sort | tr '\n' ' ')
	assert_eq "$top" "$(ls -a "$ROOTFS" | sort | tr '\n' ' ')" "entries of / inside"
	while read -r mp; do
		case "$mp" in
		/ | /proc | /proc/* | /dev | /dev/* | /sys | /sys/* | /data) ;;
		*) extra="$extra $mp" ;;
		esac
	done < <(sed '1,/^---$/d' <<<"$output")
	[ -z "$extra" ] || fail "mount points inside that the spec did not ask for:$extra"
}
