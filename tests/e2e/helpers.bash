# tests/e2e/helpers.bash - one real cluster per test file: examples/cluster brings up 3
# namespace hosts on a LAN bridge of their own (a free 10.252.N.0/24, names prefixed by a
# per-run id, free ports for the server and the registry), a server, a registry and one real
# agent per host, with the binaries of $SKIFF_BUILD.  The service is examples/web.json with
# its image pointed at this cluster's registry.  Every replica name a test sees is written to
# $E2E_DIR/seen, so the last test can look for anything of theirs left on the machine.
# Traffic goes only to the test's LAN and the namespaces behind it.

E2E_TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
SKIFF_BUILD=${SKIFF_BUILD:-$E2E_TOP/build}
CLUSTER=$E2E_TOP/examples/cluster
CTL=$SKIFF_BUILD/skiffctl
SKIFF=$SKIFF_BUILD/skiff
GRACE=4

fail() {
	echo "$*" >&2
	return 1
}

# shellcheck source=../../examples/lib.bash
source "$E2E_TOP/examples/lib.bash"

e2e_setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "the cluster's hosts are network namespaces: run as root"
	for b in skiff skiffd skiffctl webapp; do [ -x "$SKIFF_BUILD/$b" ] || skip "$b not built"; done
	command -v docker-registry >/dev/null || skip "docker-registry not installed (make deps)"
	local n i
	for ((i = 0; i < 100; i++)); do
		n=$((RANDOM % 250 + 1))
		ip -4 -o addr show | grep -q " 10\.252\.$n\." || break
	done
	export CLUSTER_LAN=10.252.$n
	export CLUSTER_PREFIX=e2$(printf '%04x' $((RANDOM)))
	export CLUSTER_PORT=$((20000 + RANDOM % 20000))
	export CLUSTER_REGISTRY_PORT=$((CLUSTER_PORT + 1))
	export CLUSTER_GRACE=$GRACE
	E2E_DIR=$(mktemp -d /tmp/skiff-e2e.XXXXXX)
	chmod 0755 "$E2E_DIR"
	export E2E_DIR
	"$CLUSTER" up --dir "$E2E_DIR" >"$E2E_DIR/up.log" 2>&1 || {
		cat "$E2E_DIR/up.log" >&2
		return 1
	}
	eval "$("$CLUSTER" env --dir "$E2E_DIR")"
	export SKIFF_SERVER SKIFF_TOKEN CLUSTER_REGISTRY
	jq --arg i "$CLUSTER_REGISTRY/webapp:1" '.image = $i' "$E2E_TOP/examples/web.json" >"$E2E_DIR/web.json"
	jq --arg i "$CLUSTER_REGISTRY/webapp:2" '.image = $i' "$E2E_TOP/examples/web.json" >"$E2E_DIR/web-v2.json"
}

e2e_teardown_file() {
	[ -n "${E2E_DIR:-}" ] || return 0
	"$CLUSTER" down --dir "$E2E_DIR" >/dev/null 2>&1 || true
	rm -rf "$E2E_DIR"
}

# on failure: what the cluster saw
e2e_teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -d "${E2E_DIR:-}" ]; then
		{
			echo "--- replicas"
			"$CTL" get replicas -o wide || true
			echo "--- events"
			"$CTL" events | tail -20 || true
			echo "--- agent logs"
			tail -n 5 "$E2E_DIR"/h*/agent.log || true
		} >&2
	fi
	true
}

ctl() { "$CTL" "$@"; }

replicas_json() {
	local out
	out=$("$CTL" get replicas -o json) || return 1
	jq -r '.items[].name' <<<"$out" >>"$E2E_DIR/seen"
	printf '%s\n' "$out"
}

# web replicas: all, Running and ready
count_web() { replicas_json | jq '[.items[] | select(.service == "web")] | length'; }
ready_web() { replicas_json | jq '[.items[] | select(.service == "web" and .state == "Running" and .ready)] | length'; }
all_ready() { [ "$(ready_web)" -eq "$1" ] && [ "$(count_web)" -eq "$1" ]; }

# per_node: "NODE COUNT" lines of the ready web replicas
per_node() { replicas_json | jq -r '.items[] | select(.service == "web" and .ready) | .node' | sort | uniq -c | awk '{print $2, $1}'; }

host_addr() { "$CTL" get nodes -o json | jq -r --arg n "$1" '.items[] | select(.name == $n) | .address'; }

# in_host HOST CMD...: run CMD in the host's network namespace
in_host() {
	local h=$1
	shift
	nsenter --net="/run/netns/$CLUSTER_PREFIX-$h" "$@"
}

# replica_field NAME JQ
replica_field() { replicas_json | jq -r --arg n "$1" ".items[] | select(.name == \$n) | $2"; }

# containers HOST: the runtime's containers on a host, "ID PID STATUS" sorted
containers() {
	"$SKIFF" --root "$E2E_DIR/$1/state" list -f json 2>/dev/null |
		jq -r '.[] | "\(.id) \(.pid) \(.status)"' | sort
}

# answering URL N: the replicas that answered N requests to URL/api/info, sorted unique
answering() {
	local i
	for ((i = 0; i < $2; i++)); do
		curl -s -m 3 "$1/api/info" | jq -r '"\(.replica) \(.version)"'
	done | sort -u
}
