#!/usr/bin/env bats
# tests/e2e/walkthrough.bats - the README's walkthrough runs exactly as written: every ```sh
# block of its "Walkthrough" section, in order, in one bash with `set -euo pipefail`, from the
# repository's top directory.  The cluster it brings up uses the README's addresses
# (10.250.0.0/24, names skiff-*), so the test skips when such a cluster is already up (a
# `make demo` left running); its state goes to a temp dir (CLUSTER_DIR).

E2E_TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

setup() {
	[ "$(id -u)" -eq 0 ] || skip "the walkthrough runs as root"
	if ip link show skiff-lan >/dev/null 2>&1; then
		skip "a cluster on skiff-lan is up (make demo-down first)"
	fi
	WT=$(mktemp -d /tmp/skiff-walk.XXXXXX)
	chmod 0755 "$WT"
	export CLUSTER_DIR=$WT/cluster
}

teardown() {
	[ -n "${WT:-}" ] || return 0
	PATH=$E2E_TOP/build:$PATH
	skiff delete --force c1 >/dev/null 2>&1 || true
	"$E2E_TOP/examples/cluster" down >/dev/null 2>&1 || true
	rm -rf "$WT" /tmp/bundle /tmp/web-v2.json
}

@test "the README's walkthrough runs as written" {
	awk '/^## Walkthrough/ {on = 1; next} on && /^## / {exit}
		on && /^```sh$/ {code = 1; next} code && /^```$/ {code = 0; next} code' \
		"$E2E_TOP/README.md" >"$WT/walkthrough.sh"
	[ "$(grep -c . "$WT/walkthrough.sh")" -gt 20 ] || {
		echo "no walkthrough found in README.md" >&2
		return 1
	}
	cd "$E2E_TOP"
	run bash -euo pipefail -x "$WT/walkthrough.sh"
	if [ "$status" -ne 0 ]; then
		echo "$output" | tail -40 >&2
		return 1
	fi
	# what the steps claim
	[[ "$output" == *'"status": "running"'* ]] || [[ "$output" == *'"status":"running"'* ]] ||
		{ echo "skiff state did not say running" >&2; return 1; }
	[[ "$output" == *'"version":"2"'* ]] || { echo "the rolling update's answer was not version 2" >&2; return 1; }
	[[ "$output" == *NotReady* ]] || { echo "h3 never showed NotReady" >&2; return 1; }
}
