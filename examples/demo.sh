#!/bin/bash
# examples/demo.sh - what `make demo` runs: a 3-host cluster on this machine heals a web app.
#
#  1. brings the cluster up (examples/cluster up: 3 namespace hosts, a server, a registry
#     holding webapp:1 and webapp:2, one real agent per host),
#  2. applies examples/web.json, waits until its 3 replicas are Ready, one per host, and
#     asks the node port on every host which replica answers,
#  3. with a live view (`skiffctl get replicas -w`, lines marked "watch |") running:
#     kills a replica's process (restarted in place), crashes one with POST /crash again
#     and again (restarts with back-off), kills a whole host (its replicas move), brings
#     it back, scales 3 -> 6 measuring requests/s through the node port at each size,
#     rolls the service to webapp:2 and back (undo),
#  4. prints how long each recovery took, and leaves the cluster up to explore.
# `make demo-down` (examples/cluster down) takes everything down.  Runs unattended; needs
# root.  DEMO_DIR (default /var/lib/skiff-cluster) holds the cluster's state and logs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${SKIFF_BUILD:-$ROOT/build}
export SKIFF_BUILD=$B
DIR=${DEMO_DIR:-/var/lib/skiff-cluster}
CLUSTER=$ROOT/examples/cluster
CTL=$B/skiffctl
SKIFF=$B/skiff
LOAD_SECONDS=${DEMO_LOAD_SECONDS:-5}
WATCH_PID=
times=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
	printf '$ %s\n' "$*"
	"$@"
}
note() { printf '   %s\n' "$*"; }
# shellcheck source=lib.bash
source "$ROOT/examples/lib.bash"
die() {
	echo "demo: $*" >&2
	exit 1
}
stop_watch() {
	if [ -n "$WATCH_PID" ]; then
		kill "$WATCH_PID" 2>/dev/null || true
		wait "$WATCH_PID" 2>/dev/null || true
		WATCH_PID=
	fi
}
trap stop_watch EXIT

replicas_json() { "$CTL" get replicas -o json; }
# ready_count: replicas of web that are Running and ready
ready_count() { replicas_json | jq '[.items[] | select(.service == "web" and .state == "Running" and .ready)] | length'; }
all_ready() { [ "$(ready_count)" -eq "$1" ] && [ "$(replicas_json | jq '[.items[] | select(.service == "web")] | length')" -eq "$1" ]; }
# replica_ready NAME MIN_RESTARTS
replica_ready() { replicas_json | jq -e --arg n "$1" --argjson r "$2" '.items[] | select(.name == $n) | select(.ready and .restarts >= $r)' >/dev/null; }
host_addr() { "$CTL" get nodes -o json | jq -r --arg n "$1" '.items[] | select(.name == $n) | .address'; }
# pod_curl HOST ARGS...: curl from inside a host (pod addresses are routed only between hosts)
pod_curl() {
	local h=$1
	shift
	nsenter --net="/run/netns/${CLUSTER_PREFIX:-skiff}-$h" curl -s -m 3 "$@"
}
# who_answers URL N: which replica on which node answered N requests
who_answers() {
	local i
	for ((i = 0; i < $2; i++)); do
		curl -s -m 3 "$1/api/info" | jq -r '"\(.replica) on \(.node), version \(.version)"' || echo "(no answer)"
	done | sort | uniq -c | sed 's/^/   /'
}
# rps URL: requests/s through URL for LOAD_SECONDS (wrk, 12 connections)
rps() {
	wrk -t2 -c12 -d"${LOAD_SECONDS}s" --timeout 10s "$1" 2>&1 | awk '/Requests\/sec/ {print $2}'
}
record() { times+=("$(printf '%-46s %s' "$1" "$2")"); }

[ "$(id -u)" -eq 0 ] || die "run as root (the cluster's hosts are network namespaces)"
for t in jq wrk curl nsenter; do command -v $t >/dev/null || die "$t not installed (make deps)"; done

say "1. a cluster of 3 hosts on this machine"
note "each host is a network namespace with one agent (kubelet + kube-proxy); the server"
note "(apiserver + scheduler + controllers) and a registry run beside them"
run "$CLUSTER" up --dir "$DIR"
eval "$("$CLUSTER" env --dir "$DIR")"
run "$CTL" get nodes

say "2. apply examples/web.json: 3 replicas of the web app, one per host"
run "$CTL" apply -f "$ROOT/examples/web.json"
t0=$(now_ms)
run "$CTL" rollout status web -w
wait_for 60 all_ready 3 || die "the replicas did not become Ready"
record "apply -> 3 replicas Ready (pull + start)" "$(($(now_ms) - t0)) ms"
run "$CTL" get replicas -o wide
H1=$(host_addr h1)
URL=http://$H1:30080
note "node-port URL: $URL (and port 30080 on every host)"
note "the node port answers on every host and spreads requests over every replica:"
for h in h1 h2 h3; do
	note "through $h ($(host_addr "$h")):"
	who_answers "http://$(host_addr "$h"):30080" 6
done

say "3. live view: skiffctl get replicas -w (lines marked 'watch |')"
"$CTL" get replicas -w > >(sed -u 's/^/   watch | /') 2>&1 &
WATCH_PID=$! # skiffctl's own pid: when it goes, sed sees the end of its input
sleep 1

say "3a. kill a replica's process: the agent restarts it in place (same name, RESTARTS+1)"
read -r victim vnode < <(replicas_json | jq -r '.items[] | select(.service == "web") | "\(.name) \(.node)"' | head -1)
pid=$("$SKIFF" --root "$DIR/$vnode/state" state "$victim" | jq .pid)
run kill -KILL "$pid"
t0=$(now_ms)
wait_for 30 replica_ready "$victim" 1 || die "$victim did not come back"
record "process killed -> Ready again (in place)" "$(($(now_ms) - t0)) ms"
sleep 1

say "3b. crash one replica again and again with POST /crash: restarts back off (CrashLoopBackOff)"
read -r victim vnode vaddr < <(replicas_json | jq -r '.items[] | select(.service == "web") | "\(.name) \(.node) \(.address)"' | tail -1)
for i in 1 2 3 4; do
	pod_curl "$vnode" -X POST "http://$vaddr:8080/crash" >/dev/null || true
	wait_for 60 replica_ready "$victim" "$i" || die "$victim did not come back after crash $i"
	r=$(replicas_json | jq -r --arg n "$victim" '.items[] | select(.name == $n) | .restarts')
	note "crash $i of $victim: back, restarts=$r"
done
t0=$(now_ms)
pod_curl "$vnode" -X POST "http://$vaddr:8080/crash" >/dev/null || true
wait_for 60 replica_ready "$victim" 5 || die "$victim did not come back"
record "5th crash -> Ready again (after back-off)" "$(($(now_ms) - t0)) ms"
run "$CTL" get replicas "$victim"
run "$CTL" events
sleep 1

say "3c. the host h3 dies (its agent and containers killed): its replica moves"
note "the server marks h3 NotReady after missing heartbeats for the grace period (4 s here;"
note "Kubernetes waits ~5 min by default) and replaces its replica on another host"
run "$CLUSTER" kill-host h3 --dir "$DIR"
t0=$(now_ms)
moved() { [ "$(replicas_json | jq '[.items[] | select(.service == "web" and .node != "h3" and .state == "Running" and .ready)] | length')" -ge 3 ]; }
wait_for 60 moved || die "the replicas did not move off h3"
record "host h3 killed -> 3 replicas Ready elsewhere" "$(($(now_ms) - t0)) ms"
run "$CTL" get nodes
run "$CTL" get replicas -o wide
note "requests through h1's node port still answer:"
who_answers "$URL" 6
say "3d. h3 comes back: its agent cleans up what the server moved away"
run "$CLUSTER" start-host h3 --dir "$DIR"
back() { "$CTL" get nodes | grep -q '^h3 .* Ready'; }
wait_for 30 back || die "h3 did not come back"
sleep 2
run "$CTL" get nodes

say "3e. scale 3 -> 6: more replicas, more throughput (each has 0.1 CPU: resources.cpu)"
r3=$(rps "$URL/work?ms=50")
note "3 replicas: $r3 requests/s of GET /work?ms=50 through the node port"
run "$CTL" scale web 6
t0=$(now_ms)
wait_for 60 all_ready 6 || die "scale to 6 did not finish"
record "scale 3 -> 6 Ready" "$(($(now_ms) - t0)) ms"
r6=$(rps "$URL/work?ms=50")
note "6 replicas: $r6 requests/s (until a resource runs out: this machine has $(nproc) CPUs)"
record "requests/s of /work?ms=50 at 3 / 6 replicas" "$r3 / $r6"
run "$CTL" get replicas -o wide

say "3f. rolling update to webapp:2 (maxSurge 1, maxUnavailable 0), then undo"
jq '.image |= sub(":1$"; ":2") | .replicas = 6' "$ROOT/examples/web.json" >"$DIR/web-v2.json"
run "$CTL" apply -f "$DIR/web-v2.json"
t0=$(now_ms)
run "$CTL" rollout status web -w
record "rolling update of 6 replicas to webapp:2" "$(($(now_ms) - t0)) ms"
who_answers "$URL" 6
run "$CTL" rollout undo web
t0=$(now_ms)
run "$CTL" rollout status web -w
record "undo back to webapp:1" "$(($(now_ms) - t0)) ms"
who_answers "$URL" 6
stop_watch

say "4. what it took (this run, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
for t in "${times[@]}"; do note "$t"; done
cat <<EOF

The cluster is still up.  Explore it:
  eval "\$(examples/cluster env --dir $DIR)"     # SKIFF_SERVER, SKIFF_TOKEN
  $CTL get replicas -o wide
  curl http://$H1:30080/api/info
  $CTL logs $(replicas_json | jq -r ".items[0].name")
Take it down with: make demo-down
EOF
