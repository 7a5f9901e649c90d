#!/usr/bin/env bats
# The docker verbs people expect from `skiff`: run --restart (the monitor restarts with
# back-off, ps shows the count), restart, stats, top, run -t, --user NAME through the
# image's /etc/passwd, --env-file, --label with ps --filter, system prune, and the names
# docker refuses.  Private store, state root, bridge and subnet (managed_helpers.bash);
# every test removes its containers and fails if anything of them is left.

load ../managed_helpers

setup_file() {
	managed_setup_file 23
	# an image with users and groups to resolve
	local r=$MWORK/users-rootfs a
	mkdir -p "$r"/{bin,etc,tmp}
	cp "$BUSYBOX" "$r/bin/busybox"
	for a in $("$BUSYBOX" --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
	printf 'root:x:0:0:root:/root:/bin/sh\nalice:x:1001:1002:Alice:/tmp:/bin/sh\nbob:x:1003:1003::/tmp:/bin/sh\n' \
		>"$r/etc/passwd"
	printf 'root:x:0:\nstaff:x:1002:\nbob:x:1003:\naudio:x:1005:alice,bob\nvideo:x:1006:bob\n' >"$r/etc/group"
	"$SKIFF" image build --rootfs "$r" --name users --config '{"Cmd":["sh"]}' >/dev/null
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

# uptimes NAME: the seconds since boot each run of the container logged ("up N.NN").
uptimes() {
	sk logs "$1" | sed -n 's/^up \([0-9.]*\).*/\1/p'
}

@test "run --restart on-failure:2: the monitor restarts with back-off, ps shows the count" {
	new_name
	run sk run -d --name "$NAME" --restart on-failure:2 busybox sh -c 'echo up $(cat /proc/uptime); exit 1'
	assert_status 0
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(inspect_field "$NAME" .state.restartCount)" = 2 ] &&
			[ "$(inspect_field "$NAME" .state.status)" = stopped ] && break
		sleep 0.1
	done
	assert_eq "$(inspect_field "$NAME" .state.restartCount)" 2 "restarts"
	assert_eq "$(inspect_field "$NAME" .state.exitCode)" 1 "exit code"
	mapfile -t up < <(uptimes "$NAME")
	assert_eq "${#up[@]}" 3 "runs (1 + 2 restarts)"
	# docker's back-off: 100 ms before the first restart, 200 ms before the second
	awk -v a="${up[0]}" -v b="${up[1]}" -v c="${up[2]}" 'BEGIN { exit !(b - a >= 0.1 && c - b >= 0.2) }' ||
		fail "restarts not backed off: ${up[*]}"
	run sk ps -a
	assert_contains "$output" RESTARTS
	[[ "$(grep -w "$NAME" <<<"$output")" =~ exited\(1\)\ +2\  ]] || fail "ps row: $output"
	run sk run -d --restart on-failure:x busybox true
	assert_status 125
	assert_contains "$output" "--restart"
}

@test "run --restart always: restarts after any exit until skiff stop; stop wins over the policy" {
	new_name
	sk run -d --name "$NAME" --restart always busybox sh -c 'sleep 0.3; exit 0' >/dev/null
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(inspect_field "$NAME" .state.restartCount)" -ge 2 ] && break
		sleep 0.1
	done
	[ "$(inspect_field "$NAME" .state.restartCount)" -ge 2 ] || fail "no restarts: $(sk inspect "$NAME")"
	run sk stop -t 1 "$NAME"
	assert_status 0
	local n
	n=$(inspect_field "$NAME" .state.restartCount)
	sleep 1
	assert_eq "$(inspect_field "$NAME" .state.status)" stopped "after stop"
	assert_eq "$(inspect_field "$NAME" .state.restartCount)" "$n" "restarts after stop"
	! pgrep -f -- "--name $NAME( |$)" >/dev/null
}

@test "run --restart unless-stopped: a killed process comes back on its own" {
	new_name
	sk run -d --name "$NAME" --restart unless-stopped busybox sleep 1000 >/dev/null
	local pid i
	pid=$(inspect_field "$NAME" .state.pid)
	kill -9 "$pid"
	for ((i = 0; i < 100; i++)); do
		[ "$(inspect_field "$NAME" .state.status)" = running ] &&
			[ "$(inspect_field "$NAME" .state.pid)" != "$pid" ] && break
		sleep 0.1
	done
	assert_eq "$(inspect_field "$NAME" .state.status)" running "after the kill"
	[ "$(inspect_field "$NAME" .state.pid)" != "$pid" ] || fail "same pid: not restarted"
	assert_eq "$(inspect_field "$NAME" .state.restartCount)" 1
}

@test "skiff restart: a new process with the same name, network and published port" {
	new_name
	local port
	port=$(free_port)
	echo hello-restart >"$MWORK/index.html"
	sk run -d --name "$NAME" -p "127.0.0.1:$port:8080" -v "$MWORK/index.html:/www/index.html:ro" busybox \
		sh -c 'echo started; exec httpd -f -p 8080 -h /www' >/dev/null
	local pid i
	pid=$(inspect_field "$NAME" .state.pid)
	run sk restart -t 1 "$NAME"
	assert_status 0
	assert_eq "$(inspect_field "$NAME" .state.status)" running
	[ "$(inspect_field "$NAME" .state.pid)" != "$pid" ] || fail "restart kept the old process"
	[ -n "$(inspect_field "$NAME" .ip)" ] || fail "no address after restart"
	for ((i = 0; i < 50; i++)); do
		curl -s -m 1 "http://127.0.0.1:$port/" | grep -q hello-restart && break
		sleep 0.1
	done
	assert_eq "$(curl -s -m 2 "http://127.0.0.1:$port/")" hello-restart "port after restart"
	assert_eq "$(sk logs "$NAME" | grep -c started)" 2 "runs in the log"
	# a stopped container starts again too
	sk stop -t 1 "$NAME" >/dev/null
	run sk restart "$NAME"
	assert_status 0
	assert_eq "$(inspect_field "$NAME" .state.status)" running
	run sk restart nosuch-$$
	[ "$status" -ne 0 ]
	assert_contains "$output" "no such container"
}

@test "stats and top: cgroup and veth figures, the processes" {
	new_name
	sk run -d --name "$NAME" -m 64m busybox sh -c 'while :; do sleep 0.2; done' >/dev/null
	run sk stats --no-stream "$NAME"
	assert_status 0
	local row
	row=$(grep -w "$NAME" <<<"$output")
	[ -n "$row" ] || fail "no row: $output"
	assert_contains "$row" running
	assert_contains "$row" "/ 64.0MiB"
	[[ "$row" =~ [0-9.]+%\ +[0-9.]+(B|KiB|MiB)\ /\ 64.0MiB\ +[0-9.]+%\ +[0-9.]+(B|KiB)\ /\ [0-9.]+(B|KiB)\ +[1-9] ]] ||
		fail "stats row: $row"
	# every running container without a name; a missing one by name is an error
	run sk stats --no-stream
	assert_contains "$output" "$NAME"
	run sk stats --no-stream nosuch-$$
	[ "$status" -ne 0 ]
	run sk top "$NAME"
	assert_status 0
	assert_contains "${lines[0]}" PID
	assert_contains "$output" "while :"
}

@test "run -t gives the process a terminal; -t without one, and -dt, are refused" {
	command -v script >/dev/null || skip "script (util-linux) is missing"
	run timeout 30 script -qec "$SKIFF --root $MSTATE run --rm -t busybox sh -c 'test -t 0 && test -t 1 && echo on-a-tty; tty'" /dev/null
	assert_status 0
	assert_contains "$output" on-a-tty
	assert_contains "$output" /dev/pts/
	run sk run --rm -t busybox true </dev/null
	assert_status 125
	assert_contains "$output" "not a TTY"
	run timeout 30 script -qec "$SKIFF --root $MSTATE run -d -t busybox true" /dev/null
	assert_contains "$output" "-t works in the foreground"
}

@test "exec -it without a terminal refuses at once" {
	new_name
	sk run -d --name "$NAME" busybox sleep 1000 >/dev/null
	run timeout 10 "$SKIFF" --root "$MSTATE" exec -it "$NAME" sh </dev/null
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "exec -it: status $status (124: it hung)"
	assert_contains "$output" "not a TTY"
}

@test "--user NAME[:GROUP] through the image's /etc/passwd and /etc/group" {
	run sk run --rm --user alice users id
	assert_status 0
	assert_eq "$output" "uid=1001(alice) gid=1002(staff) groups=1005(audio)"
	run sk run --rm --user bob users sh -c 'id -G'
	assert_eq "$output" "1003 1005 1006"
	run sk run --rm --user alice:video users id
	assert_eq "$output" "uid=1001(alice) gid=1006(video)"
	run sk run --rm --user 1003 users id -g
	assert_eq "$output" 1003 "a numeric uid takes its gid from /etc/passwd"
	run sk run --rm --user 4242:4243 users sh -c 'id -u; id -g'
	assert_eq "${lines[*]}" "4242 4243"
	run sk run --rm --user mallory users true
	assert_status 125
	assert_contains "$output" "no user \`mallory\`"
	run sk run --rm --user alice:nogroup users true
	assert_status 125
	assert_contains "$output" "no group \`nogroup\`"
}

@test "--env-file: KEY=VALUE lines, comments, KEY alone from the caller; bad lines refused" {
	printf '# settings\nA=1\n\nB=two words\n  C=spaced\nFROM_CALLER\nA=override\n' >"$MWORK/env.list"
	FROM_CALLER=here run sk run --rm --env-file "$MWORK/env.list" -e D=4 busybox \
		sh -c 'echo "$A|$B|$C|$FROM_CALLER|$D"'
	assert_status 0
	assert_eq "$output" "override|two words|spaced|here|4"
	printf 'GOOD=1\nBAD KEY=2\n' >"$MWORK/bad.list"
	run sk run --rm --env-file "$MWORK/bad.list" busybox true
	assert_status 125
	assert_contains "$output" "line 2"
	run sk run --rm --env-file "$MWORK/missing.list" busybox true
	assert_status 125
	assert_contains "$output" "--env-file"
}

@test "--label and ps --filter: label, name, status, ancestor" {
	new_name web
	local web=$NAME
	sk run -d --name "$web" -l tier=web -l team=a busybox sleep 1000 >/dev/null
	new_name job
	local job=$NAME
	sk run --name "$job" -l tier=batch users true
	assert_eq "$(sk ps -q --filter label=tier=web)" "$web"
	assert_eq "$(sk ps -q --filter label=team)" "$web"
	assert_eq "$(sk ps -a -q --filter label=tier=batch)" "$job"
	assert_eq "$(sk ps -q --filter status=exited)" "$job" "a status filter includes stopped ones"
	assert_eq "$(sk ps -q --filter status=running --filter name="$web")" "$web"
	assert_eq "$(sk ps -a -q --filter ancestor=users:latest)" "$job"
	assert_eq "$(sk ps -a -q --filter name=nosuch)" ""
	run sk ps --filter colour=red
	assert_status 2
	assert_contains "$output" "--filter"
	run sk ps --filter status=sleepy
	assert_status 2
	assert_eq "$(inspect_field "$web" '.labels.tier')" web
}

@test "system prune: stopped containers and their data go, running ones stay" {
	new_name
	local keep=$NAME
	sk run -d --name "$keep" busybox sleep 1000 >/dev/null
	new_name
	local gone1=$NAME
	sk run --name "$gone1" busybox sh -c 'dd if=/dev/zero of=/big bs=64k count=16 2>/dev/null'
	new_name
	local gone2=$NAME
	sk run --name "$gone2" busybox true
	run sk system prune -f
	assert_status 0
	assert_contains "$output" "$gone1"
	assert_contains "$output" "$gone2"
	assert_not_contains "$output" "$keep"
	[[ "$output" =~ reclaimed\ space:\ ([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge 1048576 ] ||
		fail "reclaimed space: $output"
	wait_gone "$gone1"
	wait_gone "$gone2"
	assert_eq "$(inspect_field "$keep" .state.status)" running
	run sk system nonsense
	assert_status 2
}

@test "names: docker's rules, \"invalid container name\" for the rest" {
	run sk run --name "Bad Name!" busybox true
	assert_status 125
	assert_contains "$output" "invalid container name"
	run sk run --name _leading busybox true
	assert_contains "$output" "invalid container name"
	run sk run --name "$(printf 'x%.0s' {1..129})" busybox true
	assert_contains "$output" "invalid container name"
	new_name ok.name_-
	run sk run --rm --name "$NAME" busybox true
	assert_status 0
}
