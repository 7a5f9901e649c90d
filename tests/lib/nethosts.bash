# tests/lib/nethosts.bash - simulated hosts for multi-host tests on one machine.
#
# A "host" is a network namespace with one interface (eth0) on a private LAN: a bridge in the
# root namespace that holds the LAN's first address (where a test's server listens), and
# nothing else: no default route, so no packet leaves the machine.  Inside a host, a "pod
# network" is a bridge holding the first address of the host's pod subnet, and a "pod" a
# network namespace behind it (veth, address, default route via that bridge) - what the
# agent builds for real containers.  Every name carries a per-run id, everything made is
# recorded in $NH_DIR, and nh_teardown removes it all (also after a failure; idempotent).
#
#   nh_init [DIR]             state dir (default: a new temp dir); picks the run id
#   nh_lan_create             LAN bridge + a free 10.x.y.0/24; sets NH_LAN_GW, NH_LAN_PREFIX
#   nh_host_create NAME       host netns on the LAN; nh_addr NAME prints its address
#   nh_exec NAME CMD...       run CMD in host (or pod) NAME's namespace
#   nh_bg NAME LOG CMD...     same, in the background, output to LOG; prints the pid,
#                             killed by nh_teardown
#   nh_podnet_create HOST CIDR [BRIDGE]   pod bridge in HOST with CIDR's first address
#   nh_pod_create HOST POD IP             pod netns POD behind HOST's pod bridge
#   nh_ns NAME                the namespace name of host or pod NAME
#   nh_teardown               kill, delete namespaces, links, the state dir
#
# Used by tests/integration/agent-net/ and the multi-host e2e suite; needs root and iproute2.

# nh_init [DIR]
nh_init() {
	if [ -n "${1:-}" ]; then
		NH_DIR=$1
		mkdir -p "$NH_DIR"
		NH_OWN_DIR=
	else
		NH_DIR=$(mktemp -d /tmp/skiff-nh.XXXXXX)
		NH_OWN_DIR=1
	fi
	local i
	for ((i = 0; i < 50; i++)); do
		NH_ID=$(printf '%04x%x' $RANDOM $(($$ % 16)))
		if ! ip link show "nb$NH_ID" >/dev/null 2>&1 && ! ip netns list | grep -q "skiff-nh-$NH_ID-"; then
			break
		fi
	done
	: >"$NH_DIR/netns"
	: >"$NH_DIR/links"
	: >"$NH_DIR/pids"
	echo "$NH_ID" >"$NH_DIR/id"
	export NH_DIR NH_ID NH_OWN_DIR
}

# ip2int A.B.C.D
nh_ip2int() {
	local IFS=.
	# shellcheck disable=SC2086
	set -- $1
	echo $((($1 << 24) | ($2 << 16) | ($3 << 8) | $4))
}

# nh_overlaps NET/P NET/P: true when the two prefixes share an address.
nh_overlaps() {
	local a=${1%/*} pa=${1#*/} b=${2%/*} pb=${2#*/} p
	[ "$pa" = "$1" ] && pa=32
	[ "$pb" = "$2" ] && pb=32
	p=$((pa < pb ? pa : pb))
	local mask=$(((0xffffffff << (32 - p)) & 0xffffffff))
	[ $(($(nh_ip2int "$a") & mask)) -eq $(($(nh_ip2int "$b") & mask)) ]
}

# nh_subnet_free NET/24: no route or address of the root namespace touches it.
nh_subnet_free() {
	local dst
	while read -r dst; do
		case "$dst" in default | "") continue ;; esac
		nh_overlaps "$1" "$dst" && return 1
	done < <(ip -4 route show table all | awk '{print ($1 == "local" || $1 == "broadcast") ? $2 : $1}'
		ip -4 -o addr show | awk '{print $4}')
	return 0
}

nh_lan_create() {
	local a b i
	for ((i = 0; i < 100; i++)); do
		a=$((100 + RANDOM % 100))
		b=$((RANDOM % 250 + 1))
		nh_subnet_free "10.$a.$b.0/24" && break
	done
	NH_LAN_PREFIX=10.$a.$b
	NH_LAN_GW=$NH_LAN_PREFIX.1
	NH_LAN_BR=nb$NH_ID
	echo "$NH_LAN_PREFIX" >"$NH_DIR/lan"
	ip link add "$NH_LAN_BR" type bridge || return 1
	echo "$NH_LAN_BR" >>"$NH_DIR/links"
	ip addr add "$NH_LAN_GW/24" dev "$NH_LAN_BR"
	ip link set "$NH_LAN_BR" up
	export NH_LAN_PREFIX NH_LAN_GW NH_LAN_BR
}

# nh_ns NAME: namespace of host or pod NAME.
nh_ns() {
	if [ -f "$NH_DIR/pod-$1.host" ]; then echo "skiff-nh-$NH_ID-p-$1"; else echo "skiff-nh-$NH_ID-$1"; fi
}

# nh_count REGEX: how many files of the state dir match (0 is not an error, also under set -e).
nh_count() {
	ls "$NH_DIR" | grep -c "$1" || true
}

nh_addr() {
	cat "$NH_DIR/host-$1.addr"
}

# nh_name_ok NAME: a name that fits in namespace and file names.
nh_name_ok() {
	[[ "$1" =~ ^[a-z0-9][-a-z0-9]{0,62}$ ]] || {
		echo "nethosts: bad name '$1'" >&2
		return 1
	}
}

# nh_host_create NAME: hosts get .2, .3, ... of the LAN.
nh_host_create() {
	local name=$1 ns n root
	nh_name_ok "$name" || return 1
	ns=skiff-nh-$NH_ID-$name
	n=$(($(nh_count '^host-.*\.addr$') + 2))
	root=nh${NH_ID}h$n
	ip netns add "$ns" || return 1
	echo "$ns" >>"$NH_DIR/netns"
	ip link add "$root" type veth peer name eth0 netns "$ns" || return 1
	echo "$root" >>"$NH_DIR/links"
	ip link set "$root" master "$NH_LAN_BR"
	ip link set "$root" up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$NH_LAN_PREFIX.$n/24" dev eth0
	ip -n "$ns" link set eth0 up
	echo "$NH_LAN_PREFIX.$n" >"$NH_DIR/host-$name.addr"
}

nh_exec() {
	local ns
	ns=$(nh_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

# nh_bg NAME LOG CMD...: prints the pid (ip netns exec execs CMD, so it is CMD's pid).
nh_bg() {
	local ns log=$2
	ns=$(nh_ns "$1")
	shift 2
	ip netns exec "$ns" "$@" >>"$log" 2>&1 </dev/null &
	echo $! >>"$NH_DIR/pids"
	echo $!
}

# nh_podnet_create HOST CIDR [BRIDGE]
nh_podnet_create() {
	local host=$1 cidr=$2 br=${3:-skiff0} ns net gw
	ns=$(nh_ns "$host")
	net=${cidr%/*}
	gw=${net%.*}.$((${net##*.} + 1))
	ip -n "$ns" link add "$br" type bridge || return 1
	ip -n "$ns" addr add "$gw/${cidr#*/}" dev "$br"
	ip -n "$ns" link set "$br" up
	echo "$br $gw ${cidr#*/}" >"$NH_DIR/podnet-$host"
}

# nh_pod_create HOST POD IP: the pod's eth0 gets IP in HOST's pod subnet.
nh_pod_create() {
	local host=$1 pod=$2 ip=$3 hns pns br gw prefix n
	nh_name_ok "$pod" && [ -f "$NH_DIR/podnet-$host" ] || return 1
	hns=$(nh_ns "$host")
	pns=skiff-nh-$NH_ID-p-$pod
	read -r br gw prefix <"$NH_DIR/podnet-$host"
	n=$(nh_count '^pod-.*\.host$')
	ip netns add "$pns" || return 1
	echo "$pns" >>"$NH_DIR/netns"
	echo "$host" >"$NH_DIR/pod-$pod.host"
	ip -n "$hns" link add "vp$n" type veth peer name eth0 netns "$pns" || return 1
	ip -n "$hns" link set "vp$n" master "$br"
	ip -n "$hns" link set "vp$n" up
	ip -n "$pns" link set lo up
	ip -n "$pns" addr add "$ip/$prefix" dev eth0
	ip -n "$pns" link set eth0 up
	ip -n "$pns" route add default via "$gw"
}

# Best effort and idempotent, also under `set -e` (a trap or a bats teardown).
nh_teardown() {
	[ -n "${NH_DIR:-}" ] && [ -f "$NH_DIR/pids" ] || return 0
	local p ns l
	while read -r p; do
		kill -CONT "$p" 2>/dev/null || true
		kill -KILL "$p" 2>/dev/null || true
	done <"$NH_DIR/pids"
	# whatever else runs inside our namespaces is ours too
	while IFS= read -r ns; do
		for p in $(ip netns pids "$ns" 2>/dev/null || true); do kill -KILL "$p" 2>/dev/null || true; done
	done <"$NH_DIR/netns"
	while read -r p; do wait "$p" 2>/dev/null || true; done <"$NH_DIR/pids"
	while IFS= read -r ns; do
		ip netns del "$ns" 2>/dev/null || true
	done < <(tac "$NH_DIR/netns")
	while IFS= read -r l; do
		ip link del "$l" 2>/dev/null || true
	done < <(tac "$NH_DIR/links")
	if [ -n "${NH_OWN_DIR:-}" ]; then rm -rf "$NH_DIR"; else rm -f "$NH_DIR"/{netns,links,pids}; fi
	true
}
