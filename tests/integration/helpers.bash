# tests/integration/helpers.bash - shared helpers for the runtime integration tests.
#
# Every test gets its own work directory (0755, so a user-namespaced container can
# traverse it) holding a busybox rootfs built from Debian's busybox-static, a bundle
# whose config.json comes from `skiff spec` and is edited with jq, and a private state
# root passed with --root.  Container ids are unique per test.  teardown deletes every
# container the test made, then checks that nothing of them is left (state dir, cgroup
# dirs, mounts, processes), cleans up whatever was left, removes the network namespaces
# the test made, and fails the test if anything was left.
#
# SKIFF_BUILD picks the build (default: build/ at the top of the repo).  SKIFF_BIN
# overrides the binary, e.g. SKIFF_BIN=runc checks the tests themselves against runc
# (tests of skiff's own defaults - seccomp profile, Docker's capability set - then fail).

# shellcheck source=common.bash
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

SKIFF_BUILD=${SKIFF_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
SKIFF=${SKIFF_BIN:-$SKIFF_BUILD/skiff}
BUSYBOX=${BUSYBOX:-/bin/busybox}

# Capability bits, for comparing with the hex masks of /proc/PID/status.
declare -gA CAP_BIT=([CAP_CHOWN]=0 [CAP_DAC_OVERRIDE]=1 [CAP_DAC_READ_SEARCH]=2 [CAP_FOWNER]=3
	[CAP_FSETID]=4 [CAP_KILL]=5 [CAP_SETGID]=6 [CAP_SETUID]=7 [CAP_SETPCAP]=8
	[CAP_LINUX_IMMUTABLE]=9 [CAP_NET_BIND_SERVICE]=10 [CAP_NET_BROADCAST]=11
	[CAP_NET_ADMIN]=12 [CAP_NET_RAW]=13 [CAP_IPC_LOCK]=14 [CAP_IPC_OWNER]=15
	[CAP_SYS_MODULE]=16 [CAP_SYS_RAWIO]=17 [CAP_SYS_CHROOT]=18 [CAP_SYS_PTRACE]=19
	[CAP_SYS_PACCT]=20 [CAP_SYS_ADMIN]=21 [CAP_SYS_BOOT]=22 [CAP_SYS_NICE]=23
	[CAP_SYS_RESOURCE]=24 [CAP_SYS_TIME]=25 [CAP_SYS_TTY_CONFIG]=26 [CAP_MKNOD]=27
	[CAP_LEASE]=28 [CAP_AUDIT_WRITE]=29 [CAP_AUDIT_CONTROL]=30 [CAP_SETFCAP]=31)

# ---------------------------------------------------------------- setup / teardown

# skiff_setup: call from setup().  Sets ID, WORK, STATE_ROOT, BUNDLE, ROOTFS, CFG.
skiff_setup() {
	[ -x "$SKIFF" ] || command -v "$SKIFF" >/dev/null || skip "no skiff binary at $SKIFF (build it with make)"
	[ "$(id -u)" -eq 0 ] || skip "integration tests run as root"
	WORK=$(mktemp -d /tmp/skiff-it.XXXXXX)
	chmod 0755 "$WORK"
	STATE_ROOT=$WORK/state
	IDS=()
	NETNS=()
	BG_PIDS=()
	new_id
	ID=$NEW_ID
	BUNDLE=$WORK/bundle
	ROOTFS=$BUNDLE/rootfs
	CFG=$BUNDLE/config.json
	make_bundle "$BUNDLE" "$ID"
}

# skiff_teardown: call from teardown().  Deletes the test's containers, then fails
# if anything of them is left, after cleaning it up.
skiff_teardown() {
	[ -n "${WORK:-}" ] || return 0
	cd / || return 1
	local id left=() p
	for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for id in "${IDS[@]}"; do
		sk delete --force "$id" >/dev/null 2>&1 || true
	done
	for id in "${IDS[@]}"; do
		mapfile -t -O "${#left[@]}" left < <(leftovers "$id")
	done
	[ ${#left[@]} -eq 0 ] || cleanup_leftovers
	local ns
	for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	rm -rf "$WORK"
	if [ ${#left[@]} -gt 0 ]; then
		printf 'left behind after delete --force: %s\n' "${left[@]}" >&2
		return 1
	fi
}

# new_id: set NEW_ID to a fresh container id, remembered for teardown.
new_id() {
	NEW_ID="skiff-it-${BATS_TEST_NUMBER}-$$-${RANDOM}"
	IDS+=("$NEW_ID")
}

# ---------------------------------------------------------------- rootfs and bundle

# make_rootfs DIR: a busybox rootfs (one static binary, applet symlinks in /bin).
make_rootfs() {
	local dir=$1
	mkdir -p "$dir"/{bin,etc,tmp,proc,sys,dev,root,mnt}
	chmod 1777 "$dir/tmp"
	cp "$BUSYBOX" "$dir/bin/busybox"
	chroot "$dir" /bin/busybox --install -s /bin
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$dir/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
}

# make_bundle DIR ID: rootfs + config.json from `skiff spec`, made deterministic:
# no terminal, writable rootfs, `sleep 100` as the process, every namespace but
# user, cgroup path /skiff/ID.  Tests change it with cfg.  The rootfs and the base
# config are built once per file; each bundle hard-links the template's files (a
# test adds files to its own directories, it never rewrites a template file).
make_bundle() {
	local dir=$1 id=$2 tmpl=$BATS_FILE_TMPDIR/bundle-template
	if [ ! -f "$tmpl/config.json" ]; then
		rm -rf "$tmpl"
		mkdir -p "$tmpl"
		make_rootfs "$tmpl/rootfs" || return 1
		"$SKIFF" spec --bundle "$tmpl" || return 1
		CFG=$tmpl/config.json cfg '
			.process.terminal = false
			| .root.readonly = false
			| .process.args = ["sleep", "100"]
			| .hostname = "skiff-test"
			| .linux.cgroupsPath = "/skiff/@ID@"
			| .linux.namespaces = [{"type":"pid"},{"type":"network"},{"type":"ipc"},
				{"type":"uts"},{"type":"mount"},{"type":"cgroup"}]' || return 1
		if [ "${SKIFF_TEST_USERNS:-0}" = 1 ]; then
			# user-namespaced: root inside is uid 100000 outside and owns the directories
			# (the escape suite runs once more this way: security/userns.bats)
			CFG=$tmpl/config.json cfg '.linux.namespaces += [{"type": "user"}]
				| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
				| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]' || return 1
			find "$tmpl/rootfs" -type d -exec chown 100000:100000 {} + || return 1
		fi
	fi
	mkdir -p "$(dirname "$dir")"
	cp -al "$tmpl" "$dir"
	rm "$dir/config.json"
	sed "s|/skiff/@ID@|/skiff/$id|" "$tmpl/config.json" >"$dir/config.json"
}

# cfg [JQ-OPTIONS] FILTER [--args ARG...]: edit $CFG in place with jq.
cfg() {
	local tmp
	tmp=$(mktemp "$CFG.XXXXXX")
	if ! jq "$@" <"$CFG" >"$tmp"; then
		rm -f "$tmp"
		echo "jq $* failed on $CFG" >&2
		return 1
	fi
	mv "$tmp" "$CFG"
}

# json_array ARG...: a JSON array of strings (jq's --args would eat "-c" and the like).
json_array() {
	local a out="" sep=""
	for a in "$@"; do
		a=${a//\\/\\\\}
		a=${a//\"/\\\"}
		a=${a//$'\n'/\\n}
		a=${a//$'\t'/\\t}
		a=${a//$'\r'/\\r}
		out+="$sep\"$a\""
		sep=,
	done
	echo "[$out]"
}

# set_args ARG...: the container's process.args.
set_args() {
	cfg --argjson a "$(json_array "$@")" '.process.args = $a'
}

# sh_args SCRIPT: the container runs `sh -c SCRIPT`.
sh_args() {
	set_args sh -c "$1"
}

# add_mount DEST TYPE SOURCE [OPTION...]
add_mount() {
	local dest=$1 type=$2 src=$3
	shift 3
	cfg --arg d "$dest" --arg t "$type" --arg s "$src" --argjson o "$(json_array "$@")" \
		'.mounts += [{destination: $d, type: $t, source: $s, options: $o}]'
}

# ---------------------------------------------------------------- driving skiff

# sk ARG...: skiff with the test's state root, bounded in time (exit 124 when it hangs):
# a hung verb fails its test instead of stalling the suite.
SK_TIMEOUT=${SK_TIMEOUT:-30}
sk() {
	timeout --kill-after=5 "$SK_TIMEOUT" "$SKIFF" --root "$STATE_ROOT" "$@"
}

# state_field FIELD [ID]: one field of `skiff state` (empty if state fails).
state_field() {
	local out
	out=$(sk state "${2:-$ID}" 2>/dev/null) || return 1
	jq -r ".$1 // empty" <<<"$out"
}

# container_pid [ID]: the host pid of the container's process.
container_pid() {
	state_field pid "${1:-$ID}"
}

# wait_status STATUS [ID] [SECONDS]: poll `skiff state` until STATUS (default 10 s).
wait_status() {
	local want=$1 id=${2:-$ID} secs=${3:-10} i st=""
	for ((i = 0; i < secs * 20; i++)); do
		st=$(state_field status "$id") || st="(state failed)"
		[ "$st" = "$want" ] && return 0
		sleep 0.05
	done
	echo "container $id: status '$st' after ${secs}s, want '$want'" >&2
	return 1
}

# sk_create ID [CREATE-OPTION...]: create container ID from $BUNDLE with its stdio
# on $WORK/ID.out (a created container holds its stdio: it must not be bats' pipe).
sk_create() {
	local id=$1
	shift
	sk create --bundle "$BUNDLE" "$@" "$id" </dev/null >"$WORK/$id.out" 2>&1
}

# run_create [CREATE-OPTION...]: `run`-like create of $ID: sets status, output, lines.
run_create() {
	sk_create "$ID" "$@" && status=0 || status=$?
	output=$(cat "$WORK/$ID.out")
	mapfile -t lines <"$WORK/$ID.out"
}

# create_started [ID]: create + start, then wait until running.
create_started() {
	local id=${1:-$ID}
	sk_create "$id" || fail "create $id failed: $(cat "$WORK/$id.out")" || return 1
	sk start "$id" || return 1
	wait_status running "$id"
}

# container_output [ID]: what the container (and create) wrote to stdout/stderr.
container_output() {
	cat "$WORK/${1:-$ID}.out"
}

# run_container: `run` the bundle in the foreground (skiff run), stdin from /dev/null.
run_container() {
	run sk run --bundle "$BUNDLE" "$ID" </dev/null
}

# ---------------------------------------------------------------- assertions

# leftovers ID: print one line for each thing of container ID still present.
leftovers() {
	local id=$1 d line p
	[ ! -e "$STATE_ROOT/$id" ] || echo "state dir $STATE_ROOT/$id"
	for d in /sys/fs/cgroup/*/skiff/"$id" /sys/fs/cgroup/skiff/"$id"; do
		[ ! -e "$d" ] || echo "cgroup $d"
	done
	while IFS= read -r line; do
		case "$line" in *"$WORK"* | *"$id"*) echo "mount $line" ;; esac
	done </proc/self/mounts
	for p in $(work_pids); do
		echo "process $p ($(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null))"
	done
}

# assert_nothing_left [ID]: no state dir, cgroup, mount or process of the container.
assert_nothing_left() {
	local out
	out=$(leftovers "${1:-$ID}")
	[ -z "$out" ] || fail "left behind: $out"
}

# work_pids: processes whose root or cwd lies in the test's work directory (container
# processes, monitors) or whose command line names one of its container ids.
work_pids() {
	local id
	{
		find /proc/[0-9]*/root /proc/[0-9]*/cwd -maxdepth 0 -lname "$WORK*" 2>/dev/null | cut -d/ -f3
		for id in "${IDS[@]}"; do pgrep -f -- "$id"; done
	} | sort -u | grep -vx -e "$$" -e "$BASHPID"
}

# cleanup_leftovers: kill, unmount and remove whatever the test's containers left.
cleanup_leftovers() {
	local p id d m
	for p in $(work_pids); do kill -9 "$p" 2>/dev/null || true; done
	# unmount deepest first
	while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done < <(awk -v w="$WORK" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r)
	for id in "${IDS[@]}"; do
		for d in /sys/fs/cgroup/*/skiff/"$id" /sys/fs/cgroup/skiff/"$id"; do
			[ -d "$d" ] || continue
			for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
		done
	done
}

# ---------------------------------------------------------------- host facts

# cap_mask CAP...: the 16-hex-digit mask /proc/PID/status shows for these caps.
cap_mask() {
	local m=0 c
	for c in "$@"; do m=$((m | (1 << ${CAP_BIT[$c]}))); done
	printf '%016x\n' "$m"
}

# status_field FIELD TEXT: the value of "FIELD:" in a /proc/PID/status text.
status_field() {
	awk -v f="$1:" '$1 == f { print $2 }' <<<"$2"
}

# new_netns: set NEW_NETNS to a new named network namespace (removed in teardown).
new_netns() {
	NEW_NETNS="skiff-it-$$-$RANDOM"
	ip netns add "$NEW_NETNS" || return 1
	NETNS+=("$NEW_NETNS")
}

# start_console_receiver SOCKET OUTFILE: a unix socket server (like the receiving end
# runc's recvtty is) that takes one pty master over SCM_RIGHTS and copies what it reads
# from it to OUTFILE as it arrives.  Killed by teardown.
start_console_receiver() {
	cat >"$WORK/recvtty.py" <<'PY'
import os, select, socket, sys, time
path, out = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
srv.settimeout(30)
conn, _ = srv.accept()
msg, fds, _, _ = socket.recv_fds(conn, 4096, 4)
if not fds:
    sys.exit("no fd received")
master = fds[0]
with open(out + ".got", "w") as f:
    f.write("fds=%d\n" % len(fds))
data = b""
deadline = time.time() + 30
while time.time() < deadline:
    r, _, _ = select.select([master], [], [], 0.2)
    if not r:
        continue
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break  # EIO: every slave fd is closed
    if not chunk:
        break
    data += chunk
    with open(out, "wb") as f:
        f.write(data)
PY
	python3 "$WORK/recvtty.py" "$1" "$2" &
	BG_PIDS+=($!)
	local i
	for ((i = 0; i < 100; i++)); do
		[ -S "$1" ] && return 0
		sleep 0.05
	done
	fail "console receiver did not listen on $1"
}

