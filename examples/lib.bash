# examples/lib.bash - the little shell the cluster's users share: examples/demo.sh, the e2e
# tests (tests/e2e/helpers.bash) and tests/bench/recovery source it.

# now_ms: wall clock in milliseconds
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_for SECONDS CMD...: run CMD every ${WAIT_STEP:-0.1} s until it succeeds; 1 when
# SECONDS pass first
wait_for() {
	local deadline=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep "${WAIT_STEP:-0.1}"
	done
}
