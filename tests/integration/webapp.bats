#!/usr/bin/env bats
# webapp.bats - the sample web app (examples/webapp) on loopback: every endpoint, the status
# codes for bad input, slow clients, keep-alive, crash and graceful shutdown on SIGTERM.
# Each test starts its own webapp on a free port (--port 0) and teardown kills it.

WEBAPP=${SKIFF_BUILD:-$BATS_TEST_DIRNAME/../../build}/webapp

setup() {
  [ -x "$WEBAPP" ] || skip "webapp not built ($WEBAPP)"
  WPIDS=()
}

teardown() {
  local p
  for p in "${WPIDS[@]}"; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  [ -n "${BODY:-}" ] && rm -f "$BODY"
  true
}

# start_webapp [ARGS...]: run webapp on 127.0.0.1 and a free port; sets WPID, PORT, URL, LOG.
start_webapp() {
  LOG=$BATS_TEST_TMPDIR/webapp.$RANDOM.log
  "$WEBAPP" --bind 127.0.0.1 "$@" 2>"$LOG" &
  WPID=$!
  WPIDS+=("$WPID")
  local i
  for i in $(seq 100); do
    PORT=$(sed -n 's/.*listening on .* port \([0-9]*\):.*/\1/p' "$LOG")
    [ -n "$PORT" ] && break
    kill -0 "$WPID" 2>/dev/null || { cat "$LOG"; return 1; }
    sleep 0.05
  done
  [ -n "$PORT" ] || { cat "$LOG"; return 1; }
  URL=http://127.0.0.1:$PORT
}

# code METHOD PATH [curl args...]: print the HTTP status code
code() {
  local m=$1 p=$2
  shift 2
  curl -s -o /dev/null -m 10 -w '%{http_code}' -X "$m" "$@" "$URL$p"
}

@test "webapp: GET / is an HTML page naming replica, node and hostname from the environment" {
  SKIFF_REPLICA=web-7 SKIFF_NODE=node-b start_webapp --port 0
  run curl -sf -D - "$URL/"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Content-Type: text/html"* ]]
  [[ "$output" == *'<td id="replica">web-7</td>'* ]]
  [[ "$output" == *'<td id="node">node-b</td>'* ]]
  [[ "$output" == *"<td id=\"hostname\">$(hostname)</td>"* ]]
  [[ "$output" == *'<td id="requests">1</td>'* ]]
  [[ "$output" != *'http-equiv="refresh"'* ]]
  run curl -sf "$URL/?refresh=2"
  [[ "$output" == *'<meta http-equiv="refresh" content="2">'* ]]
  [ "$(code GET '/?refresh=x')" = 400 ]
  [ "$(code HEAD /)" = 200 ]
}

@test "webapp: GET /api/info is JSON with replica, node, hostname, started, requests, version" {
  SKIFF_REPLICA=web-1 SKIFF_NODE=node-a start_webapp --port 0 --app-version v2
  run curl -sf -D - "$URL/api/info"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Content-Type: application/json"* ]]
  [[ "$output" == *'"replica":"web-1"'* ]]
  [[ "$output" == *'"node":"node-a"'* ]]
  [[ "$output" == *"\"hostname\":\"$(hostname)\""* ]]
  [[ "$output" == *'"version":"v2"'* ]]
  [[ "$output" =~ \"started\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\" ]]
  [[ "$output" == *'"requests":1,'* ]]
  run curl -sf "$URL/api/info"
  [[ "$output" == *'"requests":2,'* ]]
}

@test "webapp: names default to the hostname and node local; PORT sets the port" {
  start_webapp --port 0
  local free=$PORT
  kill -TERM "$WPID"
  wait "$WPID"
  env -u SKIFF_REPLICA -u SKIFF_NODE PORT=$free "$WEBAPP" --bind 127.0.0.1 2>"$BATS_TEST_TMPDIR/p.log" &
  WPID=$!
  WPIDS+=("$WPID")
  URL=http://127.0.0.1:$free
  for i in $(seq 100); do curl -sf -o /dev/null "$URL/healthz" && break; sleep 0.05; done
  run curl -sf "$URL/api/info"
  [ "$status" -eq 0 ]
  [[ "$output" == *"\"replica\":\"$(hostname)\""* ]]
  [[ "$output" == *'"node":"local"'* ]]
}

@test "webapp: /healthz and /readyz; --ready-after delays readiness" {
  start_webapp --port 0 --ready-after 2
  [ "$(code GET /healthz)" = 200 ]
  [ "$(code GET /readyz)" = 503 ]
  sleep 2.2
  [ "$(code GET /readyz)" = 200 ]
  run curl -s "$URL/readyz"
  [ "$output" = ready ]
}

@test "webapp: GET /work?ms=N burns N ms and bounds N" {
  start_webapp --port 0 --max-work-ms 1000
  run curl -sf -w ' %{time_total}' "$URL/work?ms=300"
  [ "$status" -eq 0 ]
  [[ "$output" == *'"ms":300'* ]]
  awk -v t="${output##* }" 'BEGIN { exit !(t >= 0.3) }'
  [ "$(code GET '/work?ms=1001')" = 400 ]
  [ "$(code GET '/work?ms=abc')" = 400 ]
  [ "$(code GET '/work?ms=-5')" = 400 ]
  [ "$(code POST '/work?ms=5')" = 405 ]
}

@test "webapp: a running /work request does not hold up other clients" {
  start_webapp --port 0 --threads 2
  curl -s -o /dev/null "$URL/work?ms=2000" &
  local cpid=$!
  sleep 0.3
  run curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}' "$URL/healthz"
  kill "$cpid" 2>/dev/null || true
  wait "$cpid" || true
  [[ "$output" == "200 "* ]]
  awk -v t="${output#* }" 'BEGIN { exit !(t < 0.5) }'
}

@test "webapp: POST /crash is refused without --allow-crash" {
  start_webapp --port 0
  [ "$(code POST /crash)" = 403 ]
  kill -0 "$WPID"
  [ "$(code GET /healthz)" = 200 ]
}

@test "webapp: POST /crash with --allow-crash answers and exits with code 1" {
  start_webapp --port 0 --allow-crash
  [ "$(code POST /crash)" = 200 ]
  local rc=0
  wait "$WPID" || rc=$?
  [ "$rc" -eq 1 ]
}

@test "webapp: GET /metrics counts requests, in-flight and latency in Prometheus format" {
  start_webapp --port 0
  curl -sf -o /dev/null "$URL/"
  curl -sf -o /dev/null "$URL/"
  curl -s -o /dev/null "$URL/nope"
  run curl -sf -D - "$URL/metrics"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Content-Type: text/plain; version=0.0.4"* ]]
  [[ "$output" == *'webapp_http_requests_total{handler="/",code="200"} 2'* ]]
  [[ "$output" == *'webapp_http_requests_total{handler="none",code="404"} 1'* ]]
  [[ "$output" == *"# TYPE webapp_http_requests_in_flight gauge"* ]]
  [[ "$output" == *"webapp_http_requests_in_flight 1"* ]]
  [[ "$output" == *"# TYPE webapp_http_request_duration_seconds histogram"* ]]
  [[ "$output" == *'webapp_http_request_duration_seconds_bucket{le="+Inf"} 3'* ]]
  [[ "$output" == *"webapp_http_request_duration_seconds_count 3"* ]]
}

@test "webapp: bad requests get 404, 405 with Allow, 413, 414, 431 and the server stays up" {
  start_webapp --port 0
  [ "$(code GET /nope)" = 404 ]
  [ "$(code GET /api/info/)" = 404 ]
  [ "$(code DELETE /)" = 405 ]
  run curl -s -D - -o /dev/null -X PUT "$URL/healthz"
  [[ "$output" == *"Allow: GET, HEAD"* ]]
  [ "$(code GET /crash)" = 405 ]
  [ "$(code GET /healthz -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' a)")" = 431 ]
  [ "$(code GET "/healthz?x=$(head -c 40000 /dev/zero | tr '\0' a)")" = 414 ]
  BODY=$(mktemp)
  head -c 200000 /dev/zero >"$BODY"
  [ "$(code POST /crash --data-binary "@$BODY")" = 413 ]
  [ "$(code POST /healthz -d small)" = 405 ]
  # malformed request line
  run bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; printf 'NOT HTTP\r\n\r\n' >&3; timeout 5 head -c 12 <&3"
  [[ "$output" == "HTTP/1.1 400" ]]
  kill -0 "$WPID"
  [ "$(code GET /healthz)" = 200 ]
}

@test "webapp: keep-alive serves several requests on one connection" {
  start_webapp --port 0
  run curl -sv "$URL/healthz" "$URL/api/info" "$URL/"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Re-using existing connection"* ]]
  [[ "$output" != *"Connection: close"* ]]
}

@test "webapp: slow clients are cut off after --timeout and do not block others" {
  start_webapp --port 0 --timeout 2
  # 40 clients that send half a request line and stall (slowloris)
  local slow=()
  for i in $(seq 40); do
    (exec 3<>/dev/tcp/127.0.0.1/$PORT && printf 'GET / HTTP/1.1\r\nHost: x\r\n' >&3 && timeout 10 cat <&3 >/dev/null; echo $? >"$BATS_TEST_TMPDIR/slow.$i") &
    slow+=($!)
  done
  sleep 0.3
  run curl -s -m 1 -o /dev/null -w '%{http_code} %{time_total}' "$URL/healthz"
  [[ "$output" == "200 "* ]]
  local start=$SECONDS
  wait "${slow[@]}"
  # every stalled connection was closed by the server (cat saw EOF, exit 0), not by timeout 10
  [ $((SECONDS - start)) -le 6 ]
  for i in $(seq 40); do [ "$(cat "$BATS_TEST_TMPDIR/slow.$i")" = 0 ]; done
  [ "$(code GET /healthz)" = 200 ]
}

@test "webapp: SIGTERM finishes the in-flight request, refuses new ones and exits 0" {
  start_webapp --port 0 --grace 10
  curl -s -o "$BATS_TEST_TMPDIR/work.out" -w '%{http_code}' "$URL/work?ms=1500" >"$BATS_TEST_TMPDIR/work.code" &
  local cpid=$!
  # wait until the request is in flight
  local seen=0
  for i in $(seq 200); do
    curl -s "$URL/metrics" | grep -q '^webapp_http_requests_in_flight 2$' && { seen=1; break; }
    sleep 0.05
  done
  [ "$seen" = 1 ]
  kill -TERM "$WPID"
  sleep 0.2
  run curl -s -m 2 -o /dev/null -w '%{http_code}' "$URL/healthz"
  [ "$output" = 000 ]
  local rc=0
  wait "$WPID" || rc=$?
  echo "exit code $rc"
  [ "$rc" -eq 0 ]
  wait "$cpid"
  [ "$(cat "$BATS_TEST_TMPDIR/work.code")" = 200 ]
  grep -q '"ms":1500' "$BATS_TEST_TMPDIR/work.out"
  # the /work request (and possibly the last /metrics scrape, still closing) were in flight
  grep -Eq "SIGTERM: draining [1-9][0-9]* in-flight" "$LOG"
}

@test "webapp: invalid flags exit 2 with a message naming the flag" {
  run "$WEBAPP" --port 99999
  [ "$status" -eq 2 ]
  [[ "$output" == *"invalid --port \`99999\`"* ]]
  run "$WEBAPP" --bogus
  [ "$status" -eq 2 ]
  [[ "$output" == *"unknown option"* ]]
  run "$WEBAPP" --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"SKIFF_REPLICA"* ]]
}
