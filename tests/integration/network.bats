#!/usr/bin/env bats
# network.bats - the bridge network of `skiff run`: a private bridge and /24 per file
# (SKIFF_BRIDGE, SKIFF_SUBNET), addresses from the IPAM, reachability host <-> container
# and container <-> container, /etc files, the published-port proxy, and that nothing
# (veth, lease, mount, state dir, data dir) outlives `rm -f`.  Traffic goes only to the
# addresses of containers on the test's own bridge and to 127.0.0.1.

load managed_helpers

setup_file() {
	managed_setup_file 140
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

# ping_host ADDR: one ICMP echo from the host (busybox ping: the host may have no ping).
ping_host() {
	"$BUSYBOX" ping -c1 -W1 "$1" >/dev/null 2>&1
}

# answer PORT PATH: the body of http://127.0.0.1:PORT/PATH once the published port serves it
# (5 s at most).
answer() {
	local i
	for ((i = 0; i < 50; i++)); do
		curl -sf --max-time 5 "http://127.0.0.1:$1$2" && return 0
		sleep 0.1
	done
	return 1
}

@test "the bridge gets the gateway address of SKIFF_SUBNET" {
	run sk run --rm busybox sh -c 'ip -o -4 addr show eth0; ip route'
	assert_status 0
	assert_contains "$output" "inet $SUBNET_PREFIX."
	assert_contains "$output" "/24"
	assert_contains "$output" "default via $SUBNET_PREFIX.1"
	run ip -o -4 addr show dev "$SKIFF_BRIDGE"
	assert_contains "$output" "$SUBNET_PREFIX.1/24"
	run ip -o link show dev "$SKIFF_BRIDGE"
	[[ "$output" == *",UP"* || "$output" == *"<UP"* ]] || fail "bridge not up: $output"
}

@test "20 containers: distinct addresses, reachable from the host and from each other" {
	local i ips=() ip name names=()
	for ((i = 1; i <= 20; i++)); do
		new_name c
		names+=("$NAME")
		run sk run -d --name "$NAME" busybox sleep 300
		assert_status 0
	done
	for name in "${names[@]}"; do
		ip=$(inspect_field "$name" .ip)
		[[ "$ip" == "$SUBNET_PREFIX".* ]] || fail "$name: ip '$ip' not in $SKIFF_SUBNET"
		assert_eq "$(lease_of "$name")" "$ip" "lease of $name"
		ips+=("$ip")
	done
	assert_eq "$(printf '%s\n' "${ips[@]}" | sort -u | wc -l)" 20 "distinct addresses"
	[[ " ${ips[*]} " != *" $SUBNET_PREFIX.1 "* ]] || fail "the gateway address was leased"
	assert_eq "$(bridge_ports | wc -l)" 20 "veths on the bridge"
	for ip in "${ips[@]}"; do
		ping_host "$ip" || fail "host cannot ping $ip"
	done
	run sk exec "${names[0]}" ping -c1 -W2 "${ips[19]}"
	assert_status 0
	run sk exec "${names[19]}" ping -c1 -W2 "${ips[0]}"
	assert_status 0
	# a container's own address is the one inspect shows
	run sk exec "${names[4]}" ip -o -4 addr show eth0
	assert_contains "$output" "inet ${ips[4]}/24"

	for name in "${names[@]}"; do sk rm -f "$name" >/dev/null; done
	assert_eq "$(bridge_ports)" "" "veths left on the bridge"
	assert_eq "$(lease_count)" 0 "leases left"
	run grep -F "$SKIFF_IMAGE_ROOT" /proc/mounts
	assert_eq "$output" "" "mounts left under the store"
	for name in "${names[@]}"; do
		[ ! -e "$MSTATE/$name" ] || fail "state dir of $name left"
		[ ! -e "$SKIFF_IMAGE_ROOT/containers/$name" ] || fail "data dir of $name left"
	done
	for ip in "${ips[0]}" "${ips[19]}"; do
		! ping_host "$ip" || fail "$ip still answers after rm -f"
	done
}

@test "parallel runs get distinct addresses (the lease file is locked)" {
	local i name names=() pids=()
	for ((i = 1; i <= 8; i++)); do
		new_name p
		names+=("$NAME")
		"$SKIFF" --root "$MSTATE" run -d --name "$NAME" busybox sleep 300 >/dev/null 2>"$MWORK/$NAME.err" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || fail "run ${names[$i]} failed: $(cat "$MWORK/${names[$i]}.err")"
	done
	local ips
	ips=$(for name in "${names[@]}"; do inspect_field "$name" .ip; done)
	assert_eq "$(sort -u <<<"$ips" | grep -c .)" 8 "distinct addresses among: $ips"
	assert_eq "$(lease_count)" 8 leases
}

@test "an address is released on rm and handed out again" {
	new_name
	sk run -d --name "$NAME" busybox sleep 300
	local first=$NAME ip1
	ip1=$(inspect_field "$first" .ip)
	new_name
	sk run -d --name "$NAME" busybox sleep 300
	local second=$NAME ip2
	ip2=$(inspect_field "$second" .ip)
	[ "$ip1" != "$ip2" ]
	sk rm -f "$first"
	[ -z "$(lease_of "$first")" ] || fail "lease of $first kept after rm"
	new_name
	sk run -d --name "$NAME" busybox sleep 300
	assert_eq "$(inspect_field "$NAME" .ip)" "$ip1" "the freed address is the lowest free one"
	# a container that exited keeps no veth, and rm releases its lease
	new_name
	sk run --name "$NAME" busybox true
	local gone=$NAME
	# (the kernel removes an exited container's veth with its netns, asynchronously)
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(bridge_ports | wc -l)" -eq 2 ] && break
		sleep 0.05
	done
	assert_eq "$(bridge_ports | wc -l)" 2 "veths of running containers"
	sk rm "$gone"
	[ -z "$(lease_of "$gone")" ] || fail "lease of $gone kept after rm"
}

@test "/etc/hosts, /etc/hostname and /etc/resolv.conf of a bridged container" {
	new_name
	sk run -d --name "$NAME" --hostname web-1 busybox sleep 300
	local ip
	ip=$(inspect_field "$NAME" .ip)
	run sk exec "$NAME" cat /etc/hosts
	assert_contains "$output" "127.0.0.1"
	assert_contains "$output" "$ip"
	assert_contains "$(grep -F "$ip" <<<"$output")" web-1
	run sk exec "$NAME" cat /etc/hostname
	assert_eq "$output" web-1
	run sk exec "$NAME" cat /etc/resolv.conf
	assert_status 0
	[[ "$output" != *"nameserver 127."* ]] || fail "loopback nameserver in the container: $output"
	# the container's files are its own: the host's are untouched
	[[ "$(cat /etc/hostname 2>/dev/null)" != web-1 ]]
}

@test "published port: a large transfer through the proxy arrives intact" {
	new_name
	local port
	port=$(free_port)
	sk run -d --name "$NAME" -p "127.0.0.1:$port:8000" busybox sh -c \
		'mkdir -p /www && head -c 3000000 /dev/urandom >/www/blob && sha256sum /www/blob >/www/sum && exec httpd -f -p 8000 -h /www'
	local sum
	sum=$(answer "$port" /sum) || fail "no answer on 127.0.0.1:$port"
	local got
	got=$(curl -sf --max-time 20 "http://127.0.0.1:$port/blob" | sha256sum | cut -d' ' -f1)
	assert_eq "$got" "${sum%% *}" "sha256 of 3 MB through the proxy"
	# several clients at once
	local pids=() n
	for n in 1 2 3 4 5; do
		curl -sf --max-time 20 "http://127.0.0.1:$port/blob" -o "$MWORK/blob.$n" &
		pids+=($!)
	done
	for n in "${!pids[@]}"; do wait "${pids[$n]}" || fail "client $n failed"; done
	for n in 1 2 3 4 5; do
		assert_eq "$(sha256sum <"$MWORK/blob.$n" | cut -d' ' -f1)" "${sum%% *}" "client $n"
	done
	# clients that go away mid-transfer do not take the proxy down
	for n in 1 2 3 4 5 6 7 8 9 10; do
		curl -s --max-time 5 "http://127.0.0.1:$port/blob" | head -c $((n * 1000)) >/dev/null || true
	done
	assert_eq "$(curl -sf --max-time 5 "http://127.0.0.1:$port/sum")" "$sum" "proxy after an early close"
	rm -f "$MWORK"/blob.*
}

@test "published port on 0.0.0.0 and two ports at once" {
	new_name
	local p1 p2
	p1=$(free_port)
	p2=$(free_port)
	[ "$p1" != "$p2" ] || p2=$((p1 + 1))
	sk run -d --name "$NAME" -p "$p1:80" -p "127.0.0.1:$p2:81" busybox sh -c \
		'mkdir -p /a /b && echo A >/a/index.html && echo B >/b/index.html && httpd -p 80 -h /a && exec httpd -f -p 81 -h /b'
	local i a="" b=""
	for ((i = 0; i < 50; i++)); do
		a=$(curl -sf --max-time 2 "http://127.0.0.1:$p1/") && b=$(curl -sf --max-time 2 "http://127.0.0.1:$p2/") && break
		sleep 0.1
	done
	assert_eq "$a" A
	assert_eq "$b" B
	ss -Htln "sport = :$p1" | grep -q -e "0.0.0.0:$p1" -e "\*:$p1" || fail "port $p1 not on all addresses"
}

@test "--net none and --net host take no address and no veth" {
	local before
	before=$(lease_count)
	new_name
	sk run -d --name "$NAME" --net none busybox sleep 300
	new_name
	sk run -d --name "$NAME" --net host busybox sleep 300
	assert_eq "$(lease_count)" "$before" leases
	assert_eq "$(bridge_ports)" "" "veths on the bridge"
	run sk inspect "$NAME"
	assert_eq "$(jq -r '.ip // "none"' <<<"$output")" none
}

# The proxy's table once held 1,024 connections and refused the rest, with no timeout:
# 1,024 idle clients locked the port out.  Now one client address holds at most 64, a
# full table makes room by closing the least recently active connection, and a connection
# idle for 5 minutes is closed (runtime/net/proxy.c; the timeouts are unit-tested in
# tests/unit/test_proxy.c).  1,100 idle connections from 22 loopback addresses, then a
# client from 127.0.0.1 must be served.
@test "published port: 1,100 idle clients do not lock the port out" {
	new_name
	local port
	port=$(free_port)
	sk run -d --name "$NAME" -p "127.0.0.1:$port:8000" busybox sh -c \
		'mkdir -p /www && echo served >/www/index.html && exec httpd -f -p 8000 -h /www'
	local got
	got=$(answer "$port" /) || fail "no answer on 127.0.0.1:$port"
	assert_eq "$got" served "before the flood"
	python3 - "$port" >"$MWORK/idle.out" 2>&1 <<'PY' &
import socket, sys, time
port, socks = int(sys.argv[1]), []
for i in range(1100):
    s = socket.socket()
    s.bind(("127.0.0.%d" % (2 + i // 50), 0))
    s.connect(("127.0.0.1", port))
    socks.append(s)
print("open", len(socks), flush=True)
time.sleep(60)
PY
	local idle=$!
	BG+=("$idle")
	wait_file_contains "$MWORK/idle.out" open 30
	sleep 1
	got=$(curl -sf --max-time 5 "http://127.0.0.1:$port/") || got="(no answer)"
	kill "$idle" 2>/dev/null || true
	wait "$idle" 2>/dev/null || true
	assert_eq "$got" served "a new client while 1,100 idle ones are connected"
}
