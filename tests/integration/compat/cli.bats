#!/usr/bin/env bats
# CLI consistency, as a new user finds it: `--help` on every verb lists every flag the
# verb takes (each listed flag is one the verb's parser knows), one-line errors that
# point to --help, --version on every binary.

load ../common

SKIFF_BUILD=${SKIFF_BUILD:-$(cd "$BATS_TEST_DIRNAME/../../.." && pwd)/build}
SKIFF=${SKIFF_BIN:-$SKIFF_BUILD/skiff}

setup() {
	WORK=$(mktemp -d /tmp/skiff-cli.XXXXXX)
}

teardown() {
	rm -rf "$WORK"
}

# verbs: every verb `skiff --help` lists.
verbs() {
	"$SKIFF" --help | awk '/^verbs:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }'
}

@test "every verb answers --help with its usage and exit 0" {
	local v n=0
	for v in $(verbs); do
		run "$SKIFF" --root "$WORK/state" "$v" --help
		assert_status 0
		assert_contains "${lines[0]}" "usage: skiff $v"
		assert_contains "$output" "--help"
		n=$((n + 1))
	done
	[ "$n" -ge 27 ] || fail "only $n verbs listed by skiff --help"
	[ ! -e "$WORK/state" ] || fail "--help touched the state root"
}

@test "every flag a verb's --help lists is one its parser accepts" {
	local v flag out checked=0
	for v in $(verbs); do
		for flag in $("$SKIFF" "$v" --help | grep -oE '^ +(-[a-zA-Z], )?--[a-z][a-z-]*' | grep -oE -- '--[a-z-]+'); do
			[ "$flag" = --help ] && continue
			# the flag with a value, then nothing: the parser may complain about the missing
			# operands, never about the flag
			out=$(timeout 10 "$SKIFF" --root "$WORK/state" "$v" "$flag" "$WORK/nothing" </dev/null 2>&1) || true
			[[ "$out" != *"unknown option"*"$flag"* ]] || fail "skiff $v --help lists $flag, the parser refuses it: $out"
			checked=$((checked + 1))
		done
	done
	[ "$checked" -ge 80 ] || fail "only $checked flags checked"
}

@test "the help of run, logs, rm, exec, ps shows the flags users look for" {
	run "$SKIFF" run --help
	local f
	for f in --bundle --detach --pid-file --console-socket --name --rm --env-file --label --publish \
		--volume --memory --cpus --pids-limit --user --restart --tty --entrypoint --read-only; do
		assert_contains "$output" "$f"
	done
	run "$SKIFF" logs --help
	assert_contains "$output" --follow
	run "$SKIFF" rm --help
	assert_contains "$output" --force
	run "$SKIFF" exec --help
	for f in --process --detach --pid-file --console-socket --tty --env --user --cwd; do
		assert_contains "$output" "$f"
	done
	run "$SKIFF" ps --help
	for f in --format --all --quiet --filter; do
		assert_contains "$output" "$f"
	done
}

@test "a bad flag or a missing operand is one line that points to --help" {
	run "$SKIFF" --root "$WORK/state" logs --nonsense x
	assert_one_line_error
	assert_contains "$output" "--nonsense"
	assert_contains "$output" "skiff logs --help"
	run "$SKIFF" --root "$WORK/state" kill
	assert_one_line_error
	assert_contains "$output" "usage: skiff kill"
	run "$SKIFF" --root "$WORK/state" nosuchverb
	assert_one_line_error
	assert_contains "$output" "unknown verb"
	run "$SKIFF" --nosuchglobal list
	assert_one_line_error
}

@test "--version on skiff, skiffd and skiffctl" {
	run "$SKIFF" --version
	assert_status 0
	[[ "${lines[0]}" =~ ^skiff\ version\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "$output"
	assert_contains "$output" "spec: 1."
	run "$SKIFF_BUILD/skiffd" --version
	assert_status 0
	[[ "$output" =~ ^skiffd\ version\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "$output"
	run "$SKIFF_BUILD/skiffctl" --version
	assert_status 0
	[[ "$output" =~ ^skiffctl\ version\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "$output"
}
