#!/usr/bin/env bats
# run_image.bats - `skiff run IMAGE` and the verbs around it (ps, logs, stop, rm, exec,
# inspect), every flag, as a docker user would check them.  Each test removes its
# containers with `rm -f` in teardown and fails if anything of them is left (state dir,
# data dir, cgroup, address lease, mount, monitor process, veth on the test bridge).

load managed_helpers

setup_file() {
	managed_setup_file 11
	SYSFAIL=$BATS_FILE_TMPDIR/sysfail
	gcc -O2 -o "$SYSFAIL" "$BATS_TEST_DIRNAME/security/sysfail.c" -lseccomp
	export SYSFAIL
}

teardown_file() {
	managed_teardown_file
}

setup() {
	managed_setup
}

teardown() {
	managed_teardown
}

@test "run: foreground passes stdout, stderr and the exit code" {
	new_name
	run sk run --name "$NAME" busybox sh -c 'echo to-stdout; echo to-stderr >&2; exit 3'
	assert_status 3
	assert_contains "$output" to-stdout
	assert_contains "$output" to-stderr
	# without --rm the container stays, stopped, with its exit code
	assert_eq "$(inspect_field "$NAME" .state.status)" stopped
	assert_eq "$(inspect_field "$NAME" .state.exitCode)" 3
	run sk run --rm busybox true
	assert_status 0
}

@test "run: stdout of a foreground container goes to a pipe intact" {
	local got
	got=$(sk run --rm busybox sh -c 'seq 1 20000' | sha256sum)
	assert_eq "$got" "$(seq 1 20000 | sha256sum)" "checksum of 20000 lines"
}

@test "run: SIGTERM to a foreground skiff run reaches the container" {
	# skiff itself in the background (not the sk function: $! would be a subshell).  The
	# TERM goes out the moment the container has written: a skiff that has not blocked
	# the signal by then dies of it and orphans the running container.  Several tries,
	# as the window is short.
	local try out pid rc
	for try in 1 2 3 4 5 6; do
		new_name
		out=$MWORK/$NAME.out
		rm -f "$out"
		"$SKIFF" --root "$MSTATE" run --name "$NAME" busybox \
			sh -c 'trap "echo got-term; exit 42" TERM; echo ready; while :; do sleep 0.1; done' \
			>"$out" 2>&1 &
		pid=$!
		BG+=("$pid")
		until [ -s "$out" ] || ! kill -0 "$pid" 2>/dev/null; do :; done
		kill -TERM "$pid"
		rc=0
		wait "$pid" || rc=$?
		assert_eq "$rc" 42 "try $try: exit code of skiff run (output: $(cat "$out"))"
		assert_contains "$(cat "$out")" got-term
		assert_eq "$(inspect_field "$NAME" .state.status)" stopped
	done
}

@test "run -d prints the name and returns while the container runs" {
	new_name
	local t0=$SECONDS
	run sk run -d --name "$NAME" busybox sleep 300
	assert_status 0
	assert_eq "$output" "$NAME"
	[ $((SECONDS - t0)) -lt 10 ]
	assert_eq "$(inspect_field "$NAME" .state.status)" running
	# without --name: a generated name <image>-<hex>, printed
	run sk run -d busybox sleep 300
	assert_status 0
	NAMES+=("$output")
	[[ "$output" =~ ^busybox-[0-9a-f]{6}$ ]] || fail "generated name: $output"
	assert_eq "$(inspect_field "$output" .state.status)" running
}

@test "run --name: a name in use is refused and the first container is untouched" {
	new_name
	sk run -d --name "$NAME" busybox sleep 300
	local ip
	ip=$(inspect_field "$NAME" .ip)
	run sk run -d --name "$NAME" busybox sleep 300
	assert_status 125
	assert_one_line_error
	assert_contains "$output" "$NAME"
	assert_contains "$output" "in use"
	assert_eq "$(inspect_field "$NAME" .state.status)" running
	assert_eq "$(lease_of "$NAME")" "$ip" "lease of the first container"
	assert_eq "$(sk ps -q | grep -cx "$NAME")" 1
	# a stopped container holds its name too
	new_name
	sk run --name "$NAME" busybox true
	run sk run --name "$NAME" busybox true
	assert_status 125
	assert_contains "$output" "in use"
}

@test "run --rm removes the container after it exits (foreground and -d)" {
	new_name
	run sk run --rm --name "$NAME" busybox sh -c 'exit 7'
	assert_status 7
	assert_nothing_left "$NAME"
	new_name
	run sk run -d --rm --name "$NAME" busybox sh -c 'sleep 0.3'
	assert_status 0
	assert_eq "$output" "$NAME"
	wait_gone "$NAME" 10
	assert_nothing_left "$NAME"
	run sk ps -a -q
	assert_status 0
	[[ "$output" != *"$NAME"* ]] || fail "ps -a still lists $NAME"
}

@test "run -e sets the environment, overriding the image's" {
	run sk run --rm -e FOO=bar -e 'SPACED=a b' -e FOO=baz busybox sh -c 'echo "$FOO|$SPACED|$PATH"'
	assert_status 0
	assert_eq "$output" "baz|a b|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	run sk run --rm -e PATH=/bin busybox sh -c 'echo $PATH'
	assert_eq "$output" /bin
	# -e KEY passes the caller's value
	run env PASSED=from-host "$SKIFF" --root "$MSTATE" run --rm -e PASSED busybox sh -c 'echo $PASSED'
	assert_eq "$output" from-host
}

@test "run -p publishes a container port on the host (busybox httpd, curl)" {
	new_name
	local port
	port=$(free_port)
	run sk run -d --name "$NAME" -p "127.0.0.1:$port:80" busybox \
		sh -c 'mkdir -p /www && echo hello-from-httpd >/www/index.html && exec httpd -f -p 80 -h /www'
	assert_status 0
	local i body=""
	for ((i = 0; i < 50; i++)); do
		body=$(curl -s --max-time 2 "http://127.0.0.1:$port/") && [ -n "$body" ] && break
		sleep 0.1
	done
	assert_eq "$body" hello-from-httpd
	# the listener is ours, on loopback only
	ss -Htln "sport = :$port" | grep -q "127.0.0.1:$port" || fail "no listener on 127.0.0.1:$port"
	run sk ps
	assert_contains "$output" "127.0.0.1:$port->80/tcp"
	assert_eq "$(inspect_field "$NAME" '.ports[0].hostPort')" "$port"
	# after rm nothing listens on the port any more
	sk rm -f "$NAME"
	! ss -Htln "sport = :$port" | grep -q . || fail "port $port still listened on after rm"
}

@test "run -p: a port in use is a one-line error naming it, and nothing is left" {
	local port
	port=$(free_port)
	python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
open(sys.argv[2], "w").close(); time.sleep(30)' "$port" "$MWORK/listening" &
	BG+=($!)
	wait_file_contains "$MWORK/listening" "" 10
	local i
	for ((i = 0; i < 100; i++)); do ss -Htln "sport = :$port" | grep -q . && break; sleep 0.05; done
	new_name
	local leases
	leases=$(lease_count)
	run sk run -d --name "$NAME" -p "127.0.0.1:$port:80" busybox sleep 300
	assert_status 125
	assert_one_line_error
	assert_contains "$output" "$port"
	assert_contains "$output" "in use"
	assert_nothing_left "$NAME"
	assert_eq "$(lease_count)" "$leases" "leases"
	# bad -p values are refused before anything is made
	run sk run --rm -p 8080:80/udp busybox true
	assert_status 125
	assert_contains "$output" tcp
	run sk run --rm -p 99999:80 busybox true
	assert_status 125
	assert_contains "$output" 99999
}

@test "run -v mounts a host dir; :ro makes it read-only" {
	local dir=$MWORK/vol-$BATS_TEST_NUMBER
	mkdir -p "$dir"
	echo from-host >"$dir/in"
	run sk run --rm -v "$dir:/data" busybox sh -c 'cat /data/in && echo from-ctr >/data/out'
	assert_status 0
	assert_eq "$output" from-host
	assert_eq "$(cat "$dir/out")" from-ctr
	run sk run --rm -v "$dir:/data:ro" busybox sh -c 'cat /data/in; touch /data/ro-test'
	[ "$status" -ne 0 ] || fail "touch in a :ro volume succeeded"
	assert_contains "$output" from-host
	assert_contains "$output" "Read-only file system"
	[ ! -e "$dir/ro-test" ]
	rm -rf "$dir"
}

@test "run -v: a missing source is a one-line error, nothing left" {
	new_name
	run sk run --name "$NAME" -v "$MWORK/does-not-exist:/data" busybox true
	assert_status 125
	assert_one_line_error
	assert_contains "$output" "$MWORK/does-not-exist"
	assert_nothing_left "$NAME"
	run sk run --rm -v relative:/data busybox true
	assert_status 125
	assert_contains "$output" absolute
}

@test "run -m 16m: a memory hog is killed (137); bad values are refused" {
	new_name
	run sk run --name "$NAME" -m 16m busybox sh -c 'dd if=/dev/zero of=/dev/null bs=64M count=1 && echo survived'
	assert_status 137
	[[ "$output" != *survived* ]] || fail "the hog survived: $output"
	run sk run --rm -m 16m busybox sh -c 'dd if=/dev/zero of=/dev/null bs=4M count=1 2>/dev/null && echo fits'
	assert_status 0
	assert_eq "$output" fits
	new_name
	run sk run --name "$NAME" -m lots busybox true
	assert_status 125
	assert_one_line_error
	assert_contains "$output" lots
	assert_nothing_left "$NAME"
	run sk run --rm -m 1k busybox true
	assert_status 125
	assert_contains "$output" 1k
}

@test "run -m, --cpus 0.5, --pids-limit land in the container's cgroup" {
	new_name
	sk run -d --name "$NAME" -m 64m --cpus 0.5 --pids-limit 20 busybox sleep 300
	local f
	f=$(cgroup_file "$NAME" cpu cpu.cfs_quota_us cpu.max)
	if [[ $f == */cpu.max ]]; then
		assert_eq "$(cat "$f")" "50000 100000" cpu.max
	else
		assert_eq "$(cat "$f")" 50000 cpu.cfs_quota_us
		assert_eq "$(cat "${f%/*}/cpu.cfs_period_us")" 100000 cpu.cfs_period_us
	fi
	f=$(cgroup_file "$NAME" memory memory.limit_in_bytes memory.max)
	assert_eq "$(cat "$f")" $((64 * 1024 * 1024)) memory
	f=$(cgroup_file "$NAME" pids pids.max pids.max)
	assert_eq "$(cat "$f")" 20 pids.max
	run sk run --rm --cpus 0 busybox true
	assert_status 125
	assert_contains "$output" cpus
	run sk run --rm --pids-limit x busybox true
	assert_status 125
	assert_contains "$output" pids-limit
}

@test "run --pids-limit stops a fork bomb" {
	run sk run --rm --pids-limit 8 busybox sh -c 'i=0; while [ $i -lt 20 ]; do sleep 5 & i=$((i + 1)); done; echo all-started'
	[ "$status" -ne 0 ] || fail "20 processes started under --pids-limit 8: $output"
	assert_contains "$output" "can't fork"
	[[ "$output" != *all-started* ]] || fail "$output"
	run sk run --rm --pids-limit 30 busybox sh -c 'i=0; while [ $i -lt 20 ]; do sleep 5 & i=$((i + 1)); done; echo all-started; kill $(jobs -p)'
	assert_contains "$output" all-started
}

@test "run --hostname, --user, -w, --entrypoint" {
	new_name
	run sk run --rm --name "$NAME" busybox hostname
	assert_eq "$output" "$NAME" "default hostname"
	run sk run --rm --hostname web-7 busybox sh -c 'hostname; cat /etc/hostname'
	assert_eq "${lines[0]}" web-7
	assert_eq "${lines[1]}" web-7
	run sk run --rm --user 1000:1000 busybox sh -c 'id -u; id -g'
	assert_status 0
	assert_eq "${lines[0]}" 1000
	assert_eq "${lines[1]}" 1000
	run sk run --rm --user 1000 busybox id -u
	assert_eq "$output" 1000
	run sk run --rm --user nobody busybox true
	assert_status 125
	run sk run --rm -w /tmp busybox pwd
	assert_eq "$output" /tmp
	run sk run --rm -w /new/dir busybox pwd
	assert_eq "$output" /new/dir
	run sk run --rm -w relative busybox pwd
	assert_status 125
	assert_contains "$output" absolute
	run sk run --rm --entrypoint echo busybox hello world
	assert_eq "$output" "hello world"
}

@test "run --read-only: the root filesystem cannot be written" {
	run sk run --rm --read-only busybox sh -c 'touch /x'
	[ "$status" -ne 0 ] || fail "touch / succeeded under --read-only"
	assert_contains "$output" "Read-only file system"
	run sk run --rm busybox sh -c 'touch /x && echo wrote'
	assert_eq "$output" wrote
}

@test "run: the rootfs is private (copy on write over the image)" {
	run sk run --rm busybox sh -c 'echo changed >/etc/motd-test; rm /bin/vi; echo ok'
	assert_eq "$output" ok
	run sk run --rm busybox sh -c 'ls /etc/motd-test 2>/dev/null; ls /bin/vi'
	assert_status 0
	assert_eq "$output" /bin/vi
}

@test "run --net none: only loopback; --net bridge: lo and eth0" {
	run sk run --rm --net none busybox sh -c 'ls /sys/class/net'
	assert_status 0
	assert_eq "$output" lo
	run sk run --rm --net none busybox sh -c 'ip -o -4 addr show lo'
	assert_contains "$output" 127.0.0.1
	run sk run --rm busybox sh -c 'ls /sys/class/net | tr "\n" " "; ip -o -4 addr show eth0'
	assert_contains "${lines[0]}" "eth0 lo"
	assert_contains "$output" "inet $SUBNET_PREFIX."
	run sk run --rm --net bogus busybox true
	assert_status 125
	assert_contains "$output" bogus
}

@test "run --net host: the container sees the host's interfaces" {
	local host_ifs
	host_ifs=$(ls /sys/class/net | sort | tr '\n' ' ')
	run sk run --rm --net host busybox sh -c 'ls /sys/class/net | sort | tr "\n" " "'
	assert_status 0
	local want
	for want in $(ip -o route show default | awk '{print $5}') lo; do
		assert_contains " $output" " $want "
	done
	[ "$(wc -w <<<"$output")" -gt 1 ] || fail "container sees only: $output (host: $host_ifs)"
}

@test "ps, ps -a, ps -q list running and stopped containers" {
	new_name
	local running=$NAME
	sk run -d --name "$running" busybox sleep 300
	new_name
	local stopped=$NAME
	sk run --name "$stopped" busybox sh -c 'exit 4' || true
	run sk ps
	assert_status 0
	assert_contains "${lines[0]}" NAME
	assert_contains "$output" "$running"
	# a whole-word match: another test's name may extend this one (t20-2451 in t20-24511)
	! grep -qw -- "$stopped" <<<"$output" || fail "ps lists the stopped $stopped"
	local line
	line=$(grep "^$running " <<<"$output")
	assert_contains "$line" busybox
	assert_contains "$line" "sleep 300"
	assert_contains "$line" running
	assert_contains "$line" "$SUBNET_PREFIX."
	run sk ps -a
	assert_contains "$output" "$running"
	line=$(grep "^$stopped " <<<"$output")
	assert_contains "$line" "exited(4)"
	run sk ps -q
	assert_eq "$output" "$running"
	run sk ps -a -q
	assert_eq "$(sort <<<"$output" | tr '\n' ' ')" "$(printf '%s\n' "$running" "$stopped" | sort | tr '\n' ' ')"
}

@test "logs and logs -f of a detached container" {
	new_name
	sk run -d --name "$NAME" busybox sh -c 'for i in 1 2 3; do echo line$i; sleep 0.3; done; echo oops >&2'
	local t0=$SECONDS
	run timeout 20 "$SKIFF" --root "$MSTATE" logs -f "$NAME"
	assert_status 0
	assert_eq "$(printf '%s\n' "${lines[@]}" | tr '\n' ' ')" "line1 line2 line3 oops "
	[ $((SECONDS - t0)) -lt 15 ]
	assert_eq "$(inspect_field "$NAME" .state.status)" stopped
	run sk logs "$NAME"
	assert_status 0
	assert_eq "$(printf '%s\n' "${lines[@]}" | tr '\n' ' ')" "line1 line2 line3 oops "
	run sk logs does-not-exist
	[ "$status" -ne 0 ] || fail "want a failure: $output"
	assert_contains "$output" does-not-exist
}

@test "logs -f follows a running container as it writes" {
	new_name
	sk run -d --name "$NAME" busybox sh -c 'echo first; sleep 1.5; echo second; sleep 300'
	sk logs -f "$NAME" >"$MWORK/$NAME.follow" 2>&1 &
	BG+=($!)
	wait_file_contains "$MWORK/$NAME.follow" first 10
	wait_file_contains "$MWORK/$NAME.follow" second 10
}

@test "stop -t 1 of a process ignoring TERM kills it after the delay (137)" {
	new_name
	sk run -d --name "$NAME" busybox sh -c 'trap "" TERM; while :; do sleep 1; done'
	wait_status "$NAME" running
	local t0 t1
	t0=$(date +%s%N)
	run sk stop -t 1 "$NAME"
	t1=$(date +%s%N)
	assert_status 0
	assert_eq "$output" "$NAME"
	local ms=$(((t1 - t0) / 1000000))
	[ "$ms" -ge 900 ] || fail "stop took ${ms} ms: did not wait for -t 1"
	[ "$ms" -lt 3000 ] || fail "stop took ${ms} ms"
	assert_eq "$(inspect_field "$NAME" .state.status)" stopped
	assert_eq "$(inspect_field "$NAME" .state.exitCode)" 137
	run sk ps -a
	assert_contains "$(grep "^$NAME " <<<"$output")" "exited(137)"
}

@test "stop of a process that handles TERM: its own exit code, quickly" {
	new_name
	sk run -d --name "$NAME" busybox sh -c 'trap "exit 0" TERM; echo ready; while :; do sleep 0.1; done'
	wait_status "$NAME" running
	sleep 0.2
	local t0=$SECONDS
	run sk stop "$NAME"
	assert_status 0
	[ $((SECONDS - t0)) -lt 5 ]
	assert_eq "$(inspect_field "$NAME" .state.exitCode)" 0
	run sk stop "$NAME"
	assert_status 0
	run sk stop no-such-container
	[ "$status" -ne 0 ] || fail "want a failure: $output"
	assert_contains "$output" no-such-container
}

@test "rm of a running container is refused without -f" {
	new_name
	sk run -d --name "$NAME" busybox sleep 300
	run sk rm "$NAME"
	[ "$status" -ne 0 ] || fail "rm of a running container succeeded"
	assert_one_line_error
	assert_contains "$output" running
	assert_eq "$(inspect_field "$NAME" .state.status)" running
	run sk rm -f "$NAME"
	assert_status 0
	assert_nothing_left "$NAME"
	run sk rm "$NAME"
	[ "$status" -ne 0 ] || fail "want a failure: $output"
	assert_contains "$output" "$NAME"
	# a stopped one goes without -f
	new_name
	sk run --name "$NAME" busybox true
	run sk rm "$NAME"
	assert_status 0
	assert_nothing_left "$NAME"
}

@test "exec NAME runs a command inside the running container" {
	new_name
	sk run -d --name "$NAME" -e FROM_RUN=yes busybox sleep 300
	run sk exec "$NAME" sh -c 'hostname; echo $FROM_RUN; cat /proc/1/cmdline | tr "\0" " "'
	assert_status 0
	assert_eq "${lines[0]}" "$NAME"
	assert_eq "${lines[1]}" yes
	assert_eq "${lines[2]}" "sleep 300 "
	run sk exec "$NAME" sh -c 'exit 5'
	assert_status 5
}

@test "inspect NAME: JSON with state.status, ip, image, command" {
	new_name
	sk run -d --name "$NAME" busybox sleep 300
	run sk inspect "$NAME"
	assert_status 0
	jq -e . <<<"$output" >/dev/null || fail "not JSON: $output"
	assert_eq "$(jq -r .state.status <<<"$output")" running
	assert_eq "$(jq -r .name <<<"$output")" "$NAME"
	assert_eq "$(jq -r .image <<<"$output")" busybox
	assert_eq "$(jq -c .command <<<"$output")" '["sleep","300"]'
	local ip pid
	ip=$(jq -r .ip <<<"$output")
	[[ "$ip" == "$SUBNET_PREFIX".* ]] || fail "ip $ip not in $SKIFF_SUBNET"
	assert_eq "$(lease_of "$NAME")" "$ip" "lease"
	pid=$(jq -r .state.pid <<<"$output")
	[ "$pid" -gt 1 ]
	[ -d "/proc/$pid" ]
	run sk inspect no-such-container
	[ "$status" -ne 0 ] || fail "want a failure: $output"
	assert_contains "$output" no-such-container
}

@test "run of an unknown image: one-line error, exit 125, nothing left" {
	new_name
	run sk run --name "$NAME" no-such-image:v9 true
	assert_status 125
	assert_one_line_error
	assert_contains "$output" no-such-image
	assert_nothing_left "$NAME"
	run sk run --name "$NAME" busybox no-such-command
	[ "$status" -ne 0 ] || fail "a missing command succeeded"
	assert_contains "$output" no-such-command
}

# The monitor must be able to see its init exit (signalfd, epoll) before `run -d` says the
# container started: a monitor that could not would never record the exit code.
@test "run -d: the monitor cannot make its signalfd or epoll set: run fails, nothing left" {
	local call what
	for call in signalfd4:EMFILE:signalfd epoll_ctl:ENOMEM:epoll_ctl; do
		what=${call##*:}
		call=${call%:*}
		new_name
		run timeout 30 "$SYSFAIL" "$call" "$SKIFF" --root "$MSTATE" run -d --name "$NAME" busybox \
			sleep 100 </dev/null
		[ "$status" -ne 0 ] || fail "run -d succeeded with $call failing"
		assert_contains "$output" "monitor: $what"
		assert_nothing_left "$NAME"
	done
}
