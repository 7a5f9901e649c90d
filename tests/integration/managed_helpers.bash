# tests/integration/managed_helpers.bash - shared by run_image.bats and network.bats: the
# docker-style verbs (`skiff run IMAGE`, ps, logs, stop, rm, exec, inspect) against a
# private image store, state root, bridge and subnet per bats file.
#
# managed_setup_file (from setup_file) makes a temp dir with the store
# (SKIFF_IMAGE_ROOT), the state root and a busybox image built from Debian's
# busybox-static, and picks a bridge name (SKIFF_BRIDGE=skt<pid>) and an unused /24 in
# 10.213.0.0/16 (SKIFF_SUBNET).  Only addresses of that subnet - containers on our own
# bridge - are ever a target.  managed_teardown (from teardown) removes the test's
# containers with `rm -f` and fails the test if anything of them is left; teardown_file
# removes the bridge and the temp dir.

# shellcheck source=common.bash
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

SKIFF_BUILD=${SKIFF_BUILD:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/build}
SKIFF=${SKIFF_BIN:-$SKIFF_BUILD/skiff}
BUSYBOX=${BUSYBOX:-/bin/busybox}

# managed_setup_file SUBNET-BASE: SUBNET-BASE (0..255) is the first third octet tried.
managed_setup_file() {
	[ -x "$SKIFF" ] || skip "no skiff binary at $SKIFF (build it with make)"
	[ "$(id -u)" -eq 0 ] || skip "integration tests run as root"
	[ -x "$BUSYBOX" ] || skip "no $BUSYBOX (apt-get install busybox-static)"
	MWORK=$(mktemp -d /tmp/skiff-managed.XXXXXX)
	chmod 0755 "$MWORK"
	export MWORK
	export SKIFF_IMAGE_ROOT=$MWORK/store
	export MSTATE=$MWORK/state
	export SKIFF_BRIDGE="skt$(($$ % 1000000))${1}"
	SKIFF_BRIDGE=${SKIFF_BRIDGE:0:15}
	# a /24 of 10.213.0.0/16 that no interface of the host uses yet
	local n=$1 i
	for ((i = 0; i < 64; i++)); do
		n=$((($1 + ($$ + i) % 64) % 256))
		ip -4 -o addr show | grep -q " 10\.213\.$n\." || break
	done
	export SKIFF_SUBNET=10.213.$n.0/24 SUBNET_PREFIX=10.213.$n
	make_busybox_image || return 1
}

managed_teardown_file() {
	[ -n "${MWORK:-}" ] || return 0
	local n
	for n in $("$SKIFF" --root "$MSTATE" ps -a -q 2>/dev/null); do
		"$SKIFF" --root "$MSTATE" rm -f "$n" >/dev/null 2>&1 || true
	done
	ip link del "$SKIFF_BRIDGE" 2>/dev/null || true
	grep -q " $MWORK" /proc/mounts && awk -v w="$MWORK" 'index($2, w) == 1 { print $2 }' /proc/mounts |
		sort -r | xargs -r -n1 umount -l
	rm -rf "$MWORK"
}

# make_busybox_image: /bin/busybox, one symlink per applet, passwd, group, /tmp.
make_busybox_image() {
	local r=$MWORK/rootfs a
	mkdir -p "$r"/{bin,etc,tmp}
	chmod 1777 "$r/tmp"
	cp "$BUSYBOX" "$r/bin/busybox"
	for a in $("$BUSYBOX" --list); do
		[ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\nuser:x:1000:\n' >"$r/etc/group"
	"$SKIFF" image build --rootfs "$r" --name busybox --config '{"Cmd":["sh"]}' >/dev/null
}

managed_setup() {
	NAMES=()
	BG=()
	cd "$MWORK" || return 1
}

# new_name [PREFIX]: set NAME to a fresh container name, removed in teardown.
new_name() {
	NAME="${1:-t}${BATS_TEST_NUMBER}-$RANDOM"
	NAMES+=("$NAME")
}

# sk ARG...: skiff with the file's state root, bounded in time (a hang fails the test).
sk() {
	timeout 30 "$SKIFF" --root "$MSTATE" "$@"
}

managed_teardown() {
	[ -n "${MWORK:-}" ] || return 0
	local p n left=""
	for p in "${BG[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for n in "${NAMES[@]}"; do sk rm -f "$n" >/dev/null 2>&1 || true; done
	for n in "${NAMES[@]}"; do left+=$(leftovers "$n"); done
	left+=$(bridge_ports)
	[ -z "$left" ] || {
		echo "left behind after rm -f:$left" >&2
		cleanup_leftovers
		return 1
	}
}

# cleanup_leftovers: kill what is left in the test's cgroups and remove them (so a
# failed test does not leave work for the next).
cleanup_leftovers() {
	local n d p
	for n in "${NAMES[@]}"; do
		for d in /sys/fs/cgroup/*/skiff/"$n" /sys/fs/cgroup/skiff/"$n"; do
			[ -d "$d" ] || continue
			for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
		done
		for p in $(pgrep -f -- "--name $n( |$)"); do kill -9 "$p" 2>/dev/null || true; done
	done
}

# leftovers NAME: what is still there of the container, one " - thing" per item.
leftovers() {
	local n=$1 d
	[ ! -e "$MSTATE/$n" ] || echo " - state dir $MSTATE/$n"
	[ ! -e "$SKIFF_IMAGE_ROOT/containers/$n" ] || echo " - data dir $SKIFF_IMAGE_ROOT/containers/$n"
	for d in /sys/fs/cgroup/*/skiff/"$n" /sys/fs/cgroup/skiff/"$n"; do
		[ ! -e "$d" ] || echo " - cgroup $d"
	done
	if lease_of "$n" | grep -q .; then echo " - lease $(lease_of "$n")"; fi
	grep -F "$SKIFF_IMAGE_ROOT/containers/$n/" /proc/mounts | sed 's/^/ - mount /'
	pgrep -f -- "--name $n( |$)" | sed 's/^/ - process /'
	return 0
}

# bridge_ports: the veths still attached to our bridge.
bridge_ports() {
	ip -o link show master "$SKIFF_BRIDGE" 2>/dev/null | awk -F': ' '{print " - veth " $2}'
}

# lease_of NAME: the address leased to NAME, if any.
lease_of() {
	local f=$SKIFF_IMAGE_ROOT/net/ipam-$SKIFF_BRIDGE.json
	[ -f "$f" ] || return 0
	jq -r --arg n "$1" '.leases[$n] // empty' "$f"
}

# lease_count: number of leases in our bridge's file (0 when there is no file).
lease_count() {
	local f=$SKIFF_IMAGE_ROOT/net/ipam-$SKIFF_BRIDGE.json
	[ -f "$f" ] || {
		echo 0
		return
	}
	jq '.leases | length' "$f"
}

# inspect_field NAME JQ-PATH
inspect_field() {
	sk inspect "$1" | jq -r "$2 // empty"
}

# wait_gone NAME [SECONDS]: until neither the state dir nor the data dir exists.
wait_gone() {
	local i
	for ((i = 0; i < ${2:-10} * 20; i++)); do
		[ ! -e "$MSTATE/$1" ] && [ ! -e "$SKIFF_IMAGE_ROOT/containers/$1" ] && return 0
		sleep 0.05
	done
	fail "container $1 still there after ${2:-10}s"
}

# wait_status NAME STATUS [SECONDS]
wait_status() {
	local i st=""
	for ((i = 0; i < ${3:-10} * 20; i++)); do
		st=$(inspect_field "$1" .state.status 2>/dev/null)
		[ "$st" = "$2" ] && return 0
		sleep 0.05
	done
	fail "container $1: status '$st' after ${3:-10}s, want '$2'"
}


# assert_nothing_left NAME: no state dir, data dir, cgroup, lease, mount, process, veth.
assert_nothing_left() {
	local out
	out=$(leftovers "$1")$(bridge_ports)
	[ -z "$out" ] || fail "left behind:$out"
}
