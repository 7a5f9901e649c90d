# tests/integration/common.bash - assertions and waits every bats suite of skiff shares;
# sourced by helpers.bash (OCI bundles) and managed_helpers.bash (images, networks).

# fail MESSAGE: print to stderr and fail.
fail() {
	echo "$*" >&2
	return 1
}

# assert_eq GOT WANT [WHAT]
assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: got '$1', want '$2'"
}

# assert_contains HAYSTACK NEEDLE
assert_contains() {
	[[ "$1" == *"$2"* ]] || fail "expected to find '$2' in: $1"
}

# assert_not_contains HAYSTACK NEEDLE
assert_not_contains() {
	[[ "$1" != *"$2"* ]] || fail "did not expect '$2' in: $1"
}

# assert_status WANT: after `run`, the exit status (prints the output on mismatch).
assert_status() {
	[ "$status" -ne 124 ] || [ "$1" -eq 124 ] || fail "timed out after ${SK_TIMEOUT:-30}s; output: $output"
	[ "$status" -eq "$1" ] || fail "exit status $status, want $1; output: $output"
}

# assert_one_line_error: after `run`, a non-zero exit with a one-line message.
assert_one_line_error() {
	[ "$status" -ne 0 ] || fail "succeeded, want failure; output: $output"
	[ "${#lines[@]}" -eq 1 ] || fail "want a one-line error, got ${#lines[@]} lines: $output"
}

# wait_file_contains FILE TEXT [SECONDS]
wait_file_contains() {
	local i
	for ((i = 0; i < ${3:-10} * 20; i++)); do
		[[ -f "$1" && "$(tr -d '\r' <"$1")" == *"$2"* ]] && return 0
		sleep 0.05
	done
	fail "'$2' not in $1 after ${3:-10}s: $(cat "$1" 2>/dev/null)"
}

# free_port: a loopback TCP port no socket uses (listening or connected), below the kernel's
# ephemeral range (ip_local_port_range): a port in that range can become the local end of
# some outgoing connection (an etcd client's, a server's) between this check and the bind —
# seen in CI as "Address already in use".
free_port() {
	local p low
	low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) || low=32768
	[ "${low:-0}" -gt 21000 ] || low=60000
	for ((;;)); do
		p=$((20000 + RANDOM % (low - 20000)))
		ss -Htan "sport = :$p" | grep -q . || break
	done
	echo "$p"
}

# cgroup_file ID CONTROLLER V1FILE V2FILE: the path of a cgroup file of the container,
# on a v1/hybrid host (controller hierarchy) or a v2 host (unified).
cgroup_file() {
	local id=$1 ctrl=$2 v1=$3 v2=$4
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		echo "/sys/fs/cgroup/skiff/$id/$v2"
	else
		echo "/sys/fs/cgroup/$ctrl/skiff/$id/$v1"
	fi
}
