#!/bin/bash
# examples/demo.sh - the tour `make demo` runs: the runtime, then the control plane.
#
#  1. builds the busybox and webapp images into a demo store,
#  2. runs the web app from its image with a published port and asks it who answered,
#  3. kills it and shows `skiff ps -a`, the logs and the exit code,
#  4. starts `skiffd server` and three simulated nodes, applies examples/web.json, shows
#     where the scheduler put the replicas, stops a node and watches them move,
#  5. runs the web app on a real node: `skiffd agent` starts the replicas as containers,
#     a killed one comes back under the same name, `skiffctl logs` shows its output.
# Everything it creates lives under a temp dir and is removed at the end (also on ^C).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${SKIFF_BUILD:-$ROOT/build}
SKIFF=$B/skiff
WORK=$(mktemp -d /tmp/skiff-demo.XXXXXX)
export SKIFF_IMAGE_ROOT=$WORK/store SKIFF_BRIDGE=skdemo0 SKIFF_SUBNET=10.199.0.0/24
STATE=$WORK/state
PORT=${DEMO_PORT:-18080}
pids=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
cleanup() {
  set +e
  for n in $("$SKIFF" --root "$STATE" ps -a -q 2>/dev/null); do "$SKIFF" --root "$STATE" rm -f "$n" >/dev/null; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  # the agent leaves its containers running when it stops (as a kubelet does): remove them
  for n in $(ls "$WORK/agent/state" 2>/dev/null); do "$SKIFF" --root "$WORK/agent/state" delete --force "$n" >/dev/null; done
  ip link del "$SKIFF_BRIDGE" 2>/dev/null
  ip link del skdemo1 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

say "1. images"
SKIFF=$SKIFF "$ROOT/images/build-all" >/dev/null
run "$SKIFF" images

say "2. run the web app from its image, port $PORT published"
run "$SKIFF" --root "$STATE" run -d --name web -p "127.0.0.1:$PORT:8080" \
  -e SKIFF_REPLICA=web-demo -m 64m --cpus 0.5 webapp --allow-crash
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
run curl -s "http://127.0.0.1:$PORT/api/info"; echo
run "$SKIFF" --root "$STATE" ps

say "3. crash it and look at what is left"
run curl -s -X POST "http://127.0.0.1:$PORT/crash" || true; echo
sleep 0.5
run "$SKIFF" --root "$STATE" ps -a
run "$SKIFF" --root "$STATE" logs web
run "$SKIFF" --root "$STATE" rm web

say "4. the control plane with three simulated nodes"
DATA=$WORK/skiffd
"$B/skiffd" server --listen 127.0.0.1:17070 --data "$DATA" --node-grace 3 >"$WORK/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -sf http://127.0.0.1:17070/healthz >/dev/null && break; sleep 0.1; done
export SKIFF_SERVER=http://127.0.0.1:17070 SKIFF_TOKEN
SKIFF_TOKEN=$(cat "$DATA/token")
for n in node-a node-b node-c; do
  "$B/skiffd" agent --fake-runtime --server "$SKIFF_SERVER" --token "$SKIFF_TOKEN" --name "$n" \
    --cpu 2 --memory 1Gi >"$WORK/$n.log" 2>&1 &
  pids+=($!)
done
sleep 2
run "$B/skiffctl" get nodes
run "$B/skiffctl" apply -f "$ROOT/examples/web.json"
sleep 2
run "$B/skiffctl" get replicas -o wide
say "node-a stops heartbeating (SIGSTOP); after the grace period its replica moves"
kill -STOP "${pids[1]}"
sleep 6
run "$B/skiffctl" get nodes
run "$B/skiffctl" get replicas -o wide
kill -CONT "${pids[1]}"
run "$B/skiffctl" events | tail -8

say "5. a real node: skiffd agent runs the replicas as containers"
for i in 1 2 3; do kill "${pids[$i]}"; done
for n in node-a node-b node-c; do "$B/skiffctl" cordon "$n" >/dev/null; done
run "$B/skiffctl" delete service web
"$B/skiffd" agent --server "$SKIFF_SERVER" --token "$SKIFF_TOKEN" --name node-real \
  --root "$WORK/agent" --bridge skdemo1 --pod-cidr 10.199.1.0/24 --agent-port 0 \
  >"$WORK/agent.log" 2>&1 &
pids+=($!)
sleep 1
run "$B/skiffctl" apply -f "$ROOT/examples/web.json"
for _ in $(seq 100); do
  [ "$("$B/skiffctl" get replicas -o json | jq '[.items[] | select(.node == "node-real" and .ready)] | length')" = 3 ] && break
  sleep 0.2
done
run "$B/skiffctl" get replicas -o wide
r=$("$B/skiffctl" get replicas -o json | jq -r '[.items[] | select(.node == "node-real")][0].name')
addr=$("$B/skiffctl" get replicas "$r" -o json | jq -r .address)
run curl -s "http://$addr:8080/api/info"; echo
say "kill -9 of $r's process: the agent restarts it in place"
run kill -9 "$(jq -r .pid "$WORK/agent/state/$r/state.json")"
sleep 1.5
run "$B/skiffctl" get replicas -o wide
run "$B/skiffctl" logs "$r"
say "done: everything the demo made is being removed"
