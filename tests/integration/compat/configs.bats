#!/usr/bin/env bats
# Configs as other tools write them: `runc spec`'s (ambient capabilities without
# inheritable ones), podman's (sysctls with /proc/sys read-only), any 1.x ociVersion and
# others with a warning; the state each hook gets (annotations, the spec's status per
# hook); failing poststart and poststop hooks warn and the lifecycle goes on.

load ../helpers

setup() { skiff_setup; }
teardown() { skiff_teardown; }

# runc_spec: replace the bundle's config.json with the one `runc spec` writes, made
# non-interactive (no terminal) and pointed at this test's cgroup.
runc_spec() {
	command -v runc >/dev/null || skip "runc is not installed (make deps)"
	rm "$CFG"
	(cd "$BUNDLE" && runc spec) || return 1
	cfg --arg cg "/skiff/$ID" '.process.terminal = false | .linux.cgroupsPath = $cg'
}

@test "runc spec's config runs: unraisable ambient capabilities warn, the rest applies" {
	runc_spec
	jq -e '.process.capabilities.ambient | length > 0' "$CFG"
	jq -e '.process.capabilities | has("inheritable") | not' "$CFG"
	sh_args 'grep -E "^Cap(Eff|Amb)" /proc/self/status; hostname'
	run sk run --bundle "$BUNDLE" "$ID" </dev/null
	assert_status 0
	assert_contains "$output" "warning: process.capabilities.ambient: CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE"
	# effective: exactly the three of the config; ambient: none (not inheritable)
	assert_eq "$(status_field CapEff "$output")" "$(cap_mask CAP_AUDIT_WRITE CAP_KILL CAP_NET_BIND_SERVICE)"
	assert_eq "$(status_field CapAmb "$output")" 0000000000000000
	assert_contains "$output" runc
	assert_nothing_left
}

@test "ambient capabilities that are permitted and inheritable are raised" {
	cfg '.process.capabilities.inheritable = ["CAP_KILL"] | .process.capabilities.ambient = ["CAP_KILL"]
		| .process.user = {uid: 1000, gid: 1000}'
	sh_args 'grep -E "^CapAmb" /proc/self/status'
	run sk run --bundle "$BUNDLE" "$ID" </dev/null
	assert_status 0
	assert_not_contains "$output" warning
	assert_eq "$(status_field CapAmb "$output")" "$(cap_mask CAP_KILL)"
}

@test "podman's sysctls apply although /proc/sys becomes read-only" {
	cfg '.linux.sysctl = {"net.ipv4.ping_group_range": "0 0", "net.ipv4.ip_unprivileged_port_start": "80"}
		| .linux.readonlyPaths += ["/proc/sys"]'
	sh_args 'cat /proc/sys/net/ipv4/ping_group_range /proc/sys/net/ipv4/ip_unprivileged_port_start;
		{ echo 1 >/proc/sys/net/ipv4/ip_unprivileged_port_start; } 2>/dev/null && echo writable || echo read-only'
	run sk run --bundle "$BUNDLE" "$ID" </dev/null
	assert_status 0
	assert_eq "$(tr -s '\t ' ' ' <<<"${lines[0]}")" "0 0" ping_group_range
	assert_eq "${lines[1]}" 80 ip_unprivileged_port_start
	assert_eq "${lines[2]}" read-only "/proc/sys after the sysctls"
}

@test "ociVersion: every 1.x is read silently; another version is read with a warning" {
	set_args true
	local v
	for v in 1.0.0 1.0.2-dev 1.1.0 1.2.1; do
		cfg --arg v "$v" '.ociVersion = $v'
		run sk run --bundle "$BUNDLE" "$ID" </dev/null
		assert_status 0
		assert_not_contains "$output" warning
	done
	for v in 0.6.0 2.0.0; do
		cfg --arg v "$v" '.ociVersion = $v'
		run sk run --bundle "$BUNDLE" "$ID" </dev/null
		assert_status 0
		assert_contains "$output" "warning: ociVersion \"$v\""
	done
	assert_nothing_left
}

hook() { # NAME: a hook that saves its stdin (the container state) to $WORK/NAME.json
	jq -n --arg f "$WORK/$1.json" '{path: "/bin/sh", args: ["sh", "-c", "cat > \"$0\"", $f]}'
}

@test "hooks: each gets the spec's annotations and the status the runtime spec names for it" {
	local h
	cfg '.annotations = {"org.example.owner": "compat-test", "io.kubernetes.pod": "p1"}'
	# createContainer runs in the container's mount namespace before pivot_root, where
	# $WORK is still the host's; startContainer runs after it, in the rootfs
	for h in prestart createRuntime createContainer poststart poststop; do
		cfg --argjson hk "$(hook "$h")" --arg n "$h" '.hooks[$n] = [$hk]'
	done
	cfg '.hooks.startContainer = [{path: "/bin/sh", args: ["sh", "-c", "cat > /tmp/startContainer.json"]}]'
	run_create
	assert_status 0
	sk start "$ID"
	wait_file_contains "$WORK/poststart.json" "$ID"
	wait_file_contains "$ROOTFS/tmp/startContainer.json" "$ID"
	sk kill "$ID" KILL
	wait_status stopped
	sk delete "$ID"
	cp "$ROOTFS/tmp/startContainer.json" "$WORK/"
	local -A want=([prestart]=creating [createRuntime]=creating [createContainer]=creating
		[startContainer]=created [poststart]=running [poststop]=stopped)
	for h in "${!want[@]}"; do
		[ -s "$WORK/$h.json" ] || fail "$h: no state saved" || return 1
		assert_eq "$(jq -r .status "$WORK/$h.json")" "${want[$h]}" "$h status"
		assert_eq "$(jq -r '.annotations["org.example.owner"]' "$WORK/$h.json")" compat-test "$h annotations"
		assert_eq "$(jq -r .id "$WORK/$h.json")" "$ID" "$h id"
		assert_eq "$(jq -r .ociVersion "$WORK/$h.json" | cut -c1-2)" "1." "$h ociVersion"
	done
	# pid: there while the process lives, not in poststop's
	jq -e '.pid > 1' "$WORK/poststart.json"
	jq -e 'has("pid") | not' "$WORK/poststop.json"
}

@test "hooks: a failing poststart hook warns and the container runs; a failing poststop warns and delete goes on" {
	cfg '.hooks.poststart = [{path: "/bin/false"}] | .hooks.poststop = [{path: "/bin/sh", args: ["sh", "-c", "exit 7"]}]'
	run_create
	assert_status 0
	run sk start "$ID"
	assert_status 0
	assert_contains "$output" "warning: poststart hook \`/bin/false\`"
	assert_eq "$(state_field status)" running "after the failing poststart hook"
	sk kill "$ID" KILL
	wait_status stopped
	run sk delete "$ID"
	assert_status 0
	assert_contains "$output" "warning: poststop hook"
	assert_contains "$output" "status 7"
	assert_nothing_left
}
