#!/usr/bin/env bats
# podman 4.3 driving skiff as its OCI runtime (`podman --runtime $SKIFF`): run --rm,
# run -d, logs, inspect, top, exec, stop, kill, rm, pause/unpause, update --memory, the
# runtime's error read from --log, and a published port on podman's own (netavark) bridge.
#
# podman runs with private storage (--root/--runroot through a storage.conf), a private
# containers.conf (tmp, volume and network config dirs, events file, cgroupfs), an
# image imported from a busybox tarball (no registry), containers under a cgroup parent
# of this file, and its own network with a unique bridge and an unused subnet.  What
# podman and netavark keep outside those dirs (the network run dir /run/containers,
# netavark's generic iptables chains, skiff's default state root /run/skiff, which
# podman cannot point elsewhere for its cleanup) is removed at the end when this file
# created it.  Skipped, with the reason, only when podman cannot run at all.

bats_require_minimum_version 1.5.0

load ../common

SKIFF_BUILD=${SKIFF_BUILD:-$(cd "$BATS_TEST_DIRNAME/../../.." && pwd)/build}
SKIFF=${SKIFF_BIN:-$SKIFF_BUILD/skiff}

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "integration tests run as root"
	command -v podman >/dev/null || skip "podman is not installed (make deps)"
	PWORK=$(mktemp -d /tmp/skiff-podman.XXXXXX)
	export PWORK CGPARENT="/skiff-podman-$$" TAG="sk$$"
	mkdir -p "$PWORK"/{root,runroot,tmp,vol,net,conf,rootfs}
	# what exists before us is not ours to remove
	export HAD_RUN_SKIFF=$([ -e /run/skiff ] && echo 1 || echo 0)
	export HAD_RUN_CONTAINERS=$([ -e /run/containers ] && echo 1 || echo 0)
	export HAD_NETAVARK=$(iptables-save 2>/dev/null | grep -ci netavark || true)
	local n i
	for ((i = 0; i < 64; i++)); do
		n=$(((100 + $$ + i) % 200 + 20))
		ip -4 -o addr show | grep -q " 10\.215\.$n\." || break
	done
	export SUBNET_PREFIX=10.215.$n BRIDGE="skp$(($$ % 100000))"
	cat >"$PWORK/conf/containers.conf" <<EOF
[containers]
default_sysctls = ["net.ipv4.ping_group_range=0 0"]
# this VM drops CAP_SYS_RESOURCE: podman's default (1048576 open files) cannot be set
default_ulimits = ["nofile=1024:4096", "nproc=4096:4096"]
[network]
network_backend = "netavark"
network_config_dir = "$PWORK/net"
default_subnet = "$SUBNET_PREFIX.0/24"
[engine]
runtime_supports_json = ["crun", "runc", "skiff"]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PWORK/events.log"
tmp_dir = "$PWORK/tmp"
volume_path = "$PWORK/vol"
static_dir = "$PWORK/root/libpod"
EOF
	cat >"$PWORK/conf/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$PWORK/root"
runroot = "$PWORK/runroot"
EOF
	: >"$PWORK/conf/registries.conf"
	export CONTAINERS_CONF=$PWORK/conf/containers.conf
	export CONTAINERS_STORAGE_CONF=$PWORK/conf/storage.conf
	export CONTAINERS_REGISTRIES_CONF=$PWORK/conf/registries.conf
	podman info >"$PWORK/info" 2>&1 || skip "podman cannot run here: $(tail -1 "$PWORK/info")"
	# the image: busybox and its applets, from a tarball
	local r=$PWORK/rootfs a
	mkdir -p "$r"/{bin,etc,tmp,www}
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
	echo "served-by-skiff" >"$r/www/index.html"
	tar -C "$r" -cf "$PWORK/bb.tar" .
	podman import "$PWORK/bb.tar" "localhost/skiffbb:$TAG" >/dev/null
	# podman's own network (netavark), on a bridge and subnet of this file
	cat >"$PWORK/net/$TAG.json" <<EOF
{"name": "$TAG", "id": "$(printf '%064x' $$)", "driver": "bridge", "network_interface": "$BRIDGE",
 "created": "2026-01-01T00:00:00Z", "subnets": [{"subnet": "$SUBNET_PREFIX.0/24", "gateway": "$SUBNET_PREFIX.1"}],
 "ipv6_enabled": false, "internal": false, "dns_enabled": false, "ipam_options": {"driver": "host-local"}}
EOF
}

teardown_file() {
	[ -n "${PWORK:-}" ] || return 0
	podman rm -a -f -t 0 >/dev/null 2>&1 || true
	podman system reset -f >/dev/null 2>&1 || true
	awk -v w="$PWORK" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r | xargs -r -n1 umount -l
	ip link del "$BRIDGE" 2>/dev/null || true
	local d
	for d in /sys/fs/cgroup/*"$CGPARENT" /sys/fs/cgroup/unified"$CGPARENT"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	[ "$HAD_RUN_SKIFF" = 1 ] || rm -rf /run/skiff
	[ "$HAD_RUN_CONTAINERS" = 1 ] || rm -rf /run/containers
	if [ "$HAD_NETAVARK" = 0 ]; then
		# netavark leaves its generic port-forward chains behind; they were not there
		iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j NETAVARK-HOSTPORT-DNAT 2>/dev/null
		iptables -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j NETAVARK-HOSTPORT-DNAT 2>/dev/null
		iptables -t nat -D POSTROUTING -j NETAVARK-HOSTPORT-MASQ 2>/dev/null
		for d in NETAVARK-HOSTPORT-DNAT NETAVARK-HOSTPORT-MASQ NETAVARK-HOSTPORT-SETMARK; do
			iptables -t nat -F "$d" 2>/dev/null
			iptables -t nat -X "$d" 2>/dev/null
		done
		iptables -D FORWARD -m comment --comment "netavark firewall plugin rules" -j NETAVARK_FORWARD 2>/dev/null
		iptables -F NETAVARK_FORWARD 2>/dev/null
		iptables -X NETAVARK_FORWARD 2>/dev/null
	fi
	rm -rf "$PWORK"
}

setup() {
	IDS=()
}

# pm ARG...: podman with skiff as its runtime, bounded in time.
pm() {
	timeout --kill-after=5 60 podman --runtime "$SKIFF" "$@"
}

# pm_run ARG...: `podman run` in this file's cgroup parent; the id is remembered.
pm_run() {
	pm run --cgroup-parent "$CGPARENT" "$@"
}

teardown() {
	[ -n "${PWORK:-}" ] || return 0
	local ids id left=""
	ids=$(podman ps -a -q --no-trunc 2>/dev/null)
	podman rm -a -f -t 0 >/dev/null 2>&1 || true
	for id in $ids "${IDS[@]}"; do
		# conmon runs podman's cleanup after the container exits: give it time to finish
		local i
		for ((i = 0; i < 100; i++)); do
			pgrep -f -- "$id" >/dev/null || break
			sleep 0.1
		done
		[ ! -e "/run/skiff/$id" ] || left+=" state:/run/skiff/$id"
		for d in /sys/fs/cgroup/*"$CGPARENT/libpod-$id"; do
			[ ! -e "$d" ] || left+=" cgroup:$d"
		done
		! pgrep -f -- "$id" >/dev/null || left+=" process:$(pgrep -af -- "$id" | tr '\n' ,)"
	done
	[ -z "$left" ] || fail "left behind:$left"
}

@test "podman run --rm: output, exit code, nothing left" {
	run pm_run --rm --network none "localhost/skiffbb:$TAG" sh -c 'echo hi from skiff; exit 3'
	assert_status 3
	assert_eq "$output" "hi from skiff"
	run pm_run --rm --network none "localhost/skiffbb:$TAG" true
	assert_status 0
	assert_eq "$(podman ps -a -q)" "" "containers after run --rm"
}

@test "podman run -d, logs, inspect, top: the init is conmon's child, skiff's state agrees" {
	run pm_run -d --name web1 --network none "localhost/skiffbb:$TAG" sh -c 'echo started; exec sleep 1000'
	assert_status 0
	local id=$output pid
	IDS+=("$id")
	wait_logs web1 started
	run pm inspect web1 --format '{{.State.Status}} {{.State.Pid}} {{.OCIRuntime}}'
	assert_status 0
	pid=$(cut -d' ' -f2 <<<"$output")
	assert_eq "$(cut -d' ' -f1 <<<"$output")" running status
	assert_eq "$(cut -d' ' -f3 <<<"$output")" "$SKIFF" "OCI runtime"
	# skiff's own state, in its default root (where podman's cleanup looks for it too)
	assert_eq "$("$SKIFF" state "$id" | jq -r '.status + " " + (.pid | tostring)')" "running $pid"
	# no skiff monitor: the init's parent is conmon
	assert_eq "$(cat /proc/"$(awk '{print $4}' /proc/"$pid"/stat)"/comm)" conmon "parent of the init"
	run pm top web1
	assert_status 0
	assert_contains "$output" "sleep 1000"
	run pm logs web1
	assert_eq "$output" started
}

# wait_logs NAME TEXT: until `podman logs NAME` shows TEXT (5 s).
wait_logs() {
	local i
	for ((i = 0; i < 100; i++)); do
		[[ "$(pm logs "$1" 2>/dev/null)" == *"$2"* ]] && return 0
		sleep 0.05
	done
	fail "podman logs $1: no '$2' after 5 s: $(pm logs "$1" 2>&1)"
}

@test "podman exec: output, exit codes, a missing command is 127, exec -d runs on" {
	pm_run -d --name ex1 --network none "localhost/skiffbb:$TAG" sleep 1000 >/dev/null
	run pm exec ex1 sh -c 'echo in-exec $((6 * 7))'
	assert_status 0
	assert_eq "$output" "in-exec 42"
	run pm exec ex1 sh -c 'exit 4'
	assert_status 4
	run -127 pm exec ex1 nosuchcmd
	assert_contains "$output" "executable file not found"
	run pm exec -d ex1 sh -c 'sleep 1; echo done >/tmp/exec-d'
	assert_status 0
	local i
	for ((i = 0; i < 60; i++)); do
		pm exec ex1 cat /tmp/exec-d 2>/dev/null | grep -q done && break
		sleep 0.1
	done
	assert_eq "$(pm exec ex1 cat /tmp/exec-d)" done "the detached exec ran to its end"
	run pm exec -e FOO=bar -w /tmp ex1 sh -c 'echo $FOO $(pwd)'
	assert_eq "$output" "bar /tmp"
}

@test "podman run -t and exec -t: the terminal comes through --console-socket" {
	command -v script >/dev/null || skip "script (util-linux) is missing"
	run timeout 60 script -qec "podman --runtime $SKIFF run --rm -t --cgroup-parent $CGPARENT --network none localhost/skiffbb:$TAG sh -c 'test -t 0 && echo run-on-a-tty'" /dev/null
	assert_status 0
	assert_contains "$output" run-on-a-tty
	pm_run -d --name tt1 --network none "localhost/skiffbb:$TAG" sleep 1000 >/dev/null
	run timeout 60 script -qec "podman --runtime $SKIFF exec -t tt1 sh -c 'test -t 1 && echo exec-on-a-tty; tty'" /dev/null
	assert_status 0
	assert_contains "$output" exec-on-a-tty
	assert_contains "$output" /dev/pts/
}

@test "podman stop, kill, rm: exit codes reach podman; skiff's state goes with rm" {
	pm_run -d --name st1 --network none "localhost/skiffbb:$TAG" \
		sh -c 'trap "exit 5" TERM; while :; do sleep 0.1; done' >/dev/null
	local id
	id=$(pm inspect st1 --format '{{.Id}}')
	run pm stop -t 5 st1
	assert_status 0
	assert_eq "$(pm inspect st1 --format '{{.State.Status}} {{.State.ExitCode}}')" "exited 5"
	run pm rm st1
	assert_status 0
	[ ! -e "/run/skiff/$id" ] || fail "skiff state left after podman rm"

	pm_run -d --name kl1 --network none "localhost/skiffbb:$TAG" sleep 1000 >/dev/null
	run pm kill kl1
	assert_status 0
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(pm inspect kl1 --format '{{.State.Status}}')" = exited ] && break
		sleep 0.1
	done
	assert_eq "$(pm inspect kl1 --format '{{.State.Status}} {{.State.ExitCode}}')" "exited 137"
	run pm kill kl1
	[ "$status" -ne 0 ]
	run pm rm kl1
	assert_status 0
}

@test "podman pause and unpause freeze and thaw the container" {
	pm_run -d --name pz1 --network none "localhost/skiffbb:$TAG" \
		sh -c 'i=0; while :; do i=$((i + 1)); echo $i >/tmp/n; sleep 0.05; done' >/dev/null
	sleep 0.5
	run pm pause pz1
	assert_status 0
	assert_eq "$(pm inspect pz1 --format '{{.State.Status}}')" paused
	local a b
	a=$(pm mount pz1)/tmp/n
	b=$(cat "$a")
	sleep 0.5
	assert_eq "$(cat "$a")" "$b" "counter while paused"
	run pm unpause pz1
	assert_status 0
	sleep 0.5
	[ "$(cat "$a")" -gt "$b" ] || fail "counter did not move after unpause"
	pm umount pz1 >/dev/null
}

@test "podman update --memory reaches the container's cgroup through skiff update" {
	pm_run -d --name up1 --network none "localhost/skiffbb:$TAG" sleep 1000 >/dev/null
	local id file
	id=$(pm inspect up1 --format '{{.Id}}')
	run pm update --memory 96m up1
	assert_status 0
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		file=/sys/fs/cgroup$CGPARENT/libpod-$id/memory.max
	else
		file=/sys/fs/cgroup/memory$CGPARENT/libpod-$id/memory.limit_in_bytes
	fi
	assert_eq "$(cat "$file")" 100663296 "memory limit"
}

@test "podman reads skiff's error from --log: a missing command fails the run with 127" {
	run -127 pm_run --rm --network none "localhost/skiffbb:$TAG" /no/such/binary
	assert_contains "$output" "/no/such/binary"
	assert_not_contains "$output" "unable to retrieve OCI runtime error"
}

@test "podman run -p on podman's network: the published port serves the container" {
	local port
	port=$(free_port)
	run pm_run -d --name net1 --network "$TAG" -p "127.0.0.1:$port:8080" "localhost/skiffbb:$TAG" \
		httpd -f -p 8080 -h /www
	assert_status 0
	local i out=""
	for ((i = 0; i < 50; i++)); do
		out=$(curl -s -m 2 "http://127.0.0.1:$port/") && [ -n "$out" ] && break
		sleep 0.1
	done
	assert_eq "$out" served-by-skiff "response through the published port"
	run pm inspect net1 --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}'
	assert_contains "$output" "$SUBNET_PREFIX."
	run pm rm -f -t 0 net1
	assert_status 0
	! curl -s -m 1 "http://127.0.0.1:$port/" >/dev/null || fail "port still served after rm"
}
