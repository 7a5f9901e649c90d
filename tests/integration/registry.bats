#!/usr/bin/env bats
# registry.bats - `skiff pull`, `skiff push` and `skiff run --pull` against real CNCF
# distribution registries (Debian's docker-registry) started on 127.0.0.1 by the test, with
# skopeo and podman as the other side: images copied in by skopeo and pulled by skiff, pushed
# by skiff and pulled back by skopeo and podman with the same digests, pull by digest,
# htpasswd and token auth, a tampered blob, a pull killed mid-layer and resumed, an index of
# several platforms, docker schema 2, cross-repository mounts, disk full, one-line errors.
# Every test has its own image store and state root; registries it starts are stopped by PID.

load common
source "$BATS_TEST_DIRNAME/registry/helpers.bash"

SKIFF_BUILD=${SKIFF_BUILD:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/build}
SKIFF=$SKIFF_BUILD/skiff
REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "registry tests run as root"
	[ -x "$SKIFF" ] && [ -x "$SKIFF_BUILD/skiff-image" ] || skip "no skiff at $SKIFF (make)"
	for t in docker-registry skopeo htpasswd openssl python3 jq curl; do
		command -v "$t" >/dev/null || skip "no $t (make deps)"
	done
	FWORK=$(mktemp -d /tmp/skiff-registry.XXXXXX)
	chmod 0755 "$FWORK"
	export FWORK
	SKIFF_IMAGE_ROOT=$FWORK/src SKIFF="$SKIFF" NAME=busybox:latest "$REPO/images/busybox/build" >/dev/null
	SKIFF_IMAGE_ROOT=$FWORK/src "$SKIFF" image export busybox "$FWORK/busybox.tar"
	WORK=$FWORK registry_start shared || return 1
	echo "${REG_PIDS[*]}" >"$FWORK/shared.pids"
	export SREG=$REG SREG_DIR=$REG_DIR SREG_LOG=$REG_LOG
	skopeo copy -q --dest-tls-verify=false "oci-archive:$FWORK/busybox.tar" "docker://$SREG/busybox:1"
}

teardown_file() {
	[ -n "${FWORK:-}" ] || return 0
	local p
	for p in $(cat "$FWORK/shared.pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
	for p in $(cat "$FWORK/shared.pids" 2>/dev/null); do
		while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
	done
	rm -rf "$FWORK"
}

setup() {
	WORK=$(mktemp -d "$FWORK/t.XXXXXX")
	export SKIFF_IMAGE_ROOT=$WORK/store
	STATE=$WORK/state
	NAMES=()
	BG=()
	REG_PIDS=()
	SMALL=""
	unset REGISTRY_AUTH_FILE DOCKER_CONFIG SKIFF_INSECURE_REGISTRIES
	export HOME=$WORK/home # no ~/.docker/config.json of the machine's user
}

teardown() {
	local n p
	for p in "${BG[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for n in "${NAMES[@]}"; do sk rm -f "$n" >/dev/null 2>&1 || true; done
	registry_stop_all
	[ -z "$SMALL" ] || umount "$SMALL" 2>/dev/null || true
	rm -rf "$WORK"
}

sk() {
	timeout 120 "$SKIFF" --root "$STATE" "$@"
}

# one_line_error: after `run`, a failure with exactly one line of output
one_line_error() {
	[ "$status" -ne 0 ] || fail "succeeded, want failure: $output"
	[ "${#lines[@]}" -eq 1 ] || fail "want a one-line error, got ${#lines[@]} lines: $output"
}

registry_digest() { # registry_digest REF [skopeo flags]
	local ref=$1
	shift
	skopeo inspect --tls-verify=false "$@" "docker://$ref" | jq -r .Digest
}

store_digest() { # store_digest KEY [STORE]
	jq -r --arg k "$1" '.[$k].digest' "${2:-$SKIFF_IMAGE_ROOT}/images.json"
}

# store_is_empty: no name, blob, layer, part or staging dir of any image
store_is_empty() {
	local s=$SKIFF_IMAGE_ROOT left
	left=$(find "$s/blobs/sha256" "$s/layers" "$s/tmp" "$s/downloads" -mindepth 1 2>/dev/null || true)
	[ -z "$left" ] || fail "left in the store: $left"
	[ ! -s "$s/images.json" ] || [ "$(jq length "$s/images.json")" = 0 ] ||
		fail "names: $(cat "$s/images.json")"
}

# build_file_image NAME SIZE_MIB: a one-layer image holding /blob.bin of random bytes, in a
# store of its own ($WORK/src); sets BLOB_SUM to the file's sha256
build_file_image() {
	mkdir -p "$WORK/rootfs-$1"
	head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$WORK/rootfs-$1/blob.bin"
	BLOB_SUM=$(sha256sum <"$WORK/rootfs-$1/blob.bin" | cut -d' ' -f1)
	SKIFF_IMAGE_ROOT=$WORK/src "$SKIFF" image build --rootfs "$WORK/rootfs-$1" --name "$1" \
		--config '{"Cmd":["/blob.bin"]}' >/dev/null
}

# oci_layout_layers DIR N SIZE_KIB: an OCI layout of an image with N layers, layer i holding
# /file-i of SIZE_KIB random KiB (gzip'd tars built with tar and gzip), named x:1
oci_layout_layers() {
	local dir=$1 n=$2 kib=$3 i d diffs=() layers=()
	mkdir -p "$dir/blobs/sha256"
	for ((i = 0; i < n; i++)); do
		mkdir -p "$dir/src-$i"
		head -c "$((kib * 1024))" /dev/urandom >"$dir/src-$i/file-$i"
		tar -C "$dir/src-$i" --owner=0 --group=0 -cf "$dir/l$i.tar" "file-$i"
		diffs+=("sha256:$(sha256sum <"$dir/l$i.tar" | cut -d' ' -f1)")
		gzip -n <"$dir/l$i.tar" >"$dir/l$i.tgz"
		d=$(sha256sum <"$dir/l$i.tgz" | cut -d' ' -f1)
		mv "$dir/l$i.tgz" "$dir/blobs/sha256/$d"
		layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$(stat -c %s "$dir/blobs/sha256/$d")}")
	done
	jq -n --args '{architecture: "amd64", os: "linux", config: {Cmd: ["/file-0"]},
		rootfs: {type: "layers", diff_ids: $ARGS.positional}}' "${diffs[@]}" >"$dir/config.json"
	local c
	c=$(sha256sum <"$dir/config.json" | cut -d' ' -f1)
	cp "$dir/config.json" "$dir/blobs/sha256/$c"
	(IFS=,; echo "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$c\",\"size\":$(stat -c %s "$dir/config.json")},\"layers\":[${layers[*]}]}") >"$dir/manifest.json"
	local m
	m=$(sha256sum <"$dir/manifest.json" | cut -d' ' -f1)
	cp "$dir/manifest.json" "$dir/blobs/sha256/$m"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	jq -n --arg d "sha256:$m" --argjson s "$(stat -c %s "$dir/manifest.json")" \
		'{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
		  digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": "1"}}]}' \
		>"$dir/index.json"
}

@test "skopeo copies a skiff image into the registry; skiff pulls and runs it, digest the registry's" {
	want=$(registry_digest "$SREG/busybox:1")
	run sk pull "$SREG/busybox:1"
	assert_status 0
	assert_contains "$output" "Digest: $want"
	assert_contains "$output" "Status: Downloaded newer image for $SREG/busybox:1"
	# not a terminal: one line per layer, with size and rate
	[[ "${lines[0]}" =~ ^[0-9a-f]{12}:\ pulled\ [0-9.]+(KiB|MiB)\ in\ [0-9.]+s\ \( ]] || fail "${lines[0]}"
	assert_eq "$(store_digest "$SREG/busybox:1")" "$want" "images.json digest"
	run sk run --rm --net none "$SREG/busybox:1" echo hello-from-the-registry
	assert_status 0
	assert_eq "$output" hello-from-the-registry
	# again: nothing fetched, the registry is asked only for the manifest
	blobs_before=$(grep -c "GET /v2/busybox/blobs/" "$SREG_LOG")
	run sk pull "$SREG/busybox:1"
	assert_status 0
	assert_contains "$output" "already exists"
	assert_contains "$output" "Status: Image is up to date for $SREG/busybox:1"
	assert_eq "$(grep -c "GET /v2/busybox/blobs/" "$SREG_LOG")" "$blobs_before" "blob GETs"
	run sk pull -q "$SREG/busybox:1"
	assert_status 0
	assert_eq "$output" "" "-q output"
}

@test "a layer Go's archive/tar wrote (podman build): unpacked entry for entry as podman's own storage has it" {
	command -v podman >/dev/null || skip "no podman"
	local src=$WORK/ctx/src long
	long=$(printf 'directory-%.0s' {1..12}) # past ustar's 100 bytes: pax records
	mkdir -p "$src/etc/$long/$long" "$src/bin" "$src/ro" "$src/empty"
	echo hello >"$src/etc/hosts"
	head -c 300000 /dev/urandom >"$src/bin/tool"
	chmod 4755 "$src/bin/tool"
	echo deep >"$src/etc/$long/$long/$(printf 'file-%.0s' {1..30})"
	ln -s ../etc/hosts "$src/bin/link"
	ln -s "$(printf 'target-%.0s' {1..20})" "$src/bin/longlink"
	ln "$src/etc/hosts" "$src/etc/hard"
	mkfifo "$src/etc/fifo"
	python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.skiff", b"on")' "$src/etc/hosts"
	chmod 0555 "$src/ro"
	touch -h -d @1600000000.123456789 "$src/bin/link" "$src/etc" "$src/ro"
	printf 'FROM scratch\nCOPY src/ /\n' >"$WORK/ctx/Containerfile"
	local p=(podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" --storage-driver vfs
		--events-backend none)
	"${p[@]}" build -q -t localhost/gotar:1 "$WORK/ctx" >/dev/null
	skopeo copy -q --dest-tls-verify=false \
		"containers-storage:[vfs@$WORK/podman/root+$WORK/podman/run]localhost/gotar:1" \
		"docker://$SREG/gotar:1"
	run sk pull -q "$SREG/gotar:1"
	assert_status 0
	listing() { (cd "$1" && find . -mindepth 1 -printf '%y %m %U %G %s %T@ %l %n %P\n' | sort -k9); }
	sums() { (cd "$1" && find . -type f -exec sha256sum {} + | sort -k2); }
	local theirs ours
	theirs=$(echo "$WORK"/podman/root/vfs/dir/*/)
	ours=$(echo "$SKIFF_IMAGE_ROOT"/layers/*/)
	[ -d "$theirs" ] && [ -d "$ours" ] || fail "layer dirs: $theirs / $ours"
	diff <(listing "$theirs") <(listing "$ours") || fail "entries differ (podman's, skiff's)"
	diff <(sums "$theirs") <(sums "$ours") || fail "contents differ"
	assert_eq "$(listing "$ours" | wc -l)" 13 "entries"
	assert_eq "$(python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "user.skiff"))' \
		"$ours/etc/hosts")" "b'on'" "xattr"
	"${p[@]}" rmi -a -f >/dev/null 2>&1 || true
}

# oci_layout_of TAR DIR: an OCI layout in DIR of one image (tag 1) whose one layer is TAR gzip'd
oci_layout_of() {
	local tar=$1 oci=$2 diffid layer cfg man
	mkdir -p "$oci/blobs/sha256"
	blob() { # blob FILE: its digest, the file put in the layout
		local d
		d=$(sha256sum <"$1" | cut -d' ' -f1)
		cp "$1" "$oci/blobs/sha256/$d"
		echo "$d"
	}
	diffid=$(sha256sum <"$tar" | cut -d' ' -f1)
	gzip -c "$tar" >"$tar.gz"
	layer=$(blob "$tar.gz")
	printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"config":{"Cmd":["sh"]}}' \
		"$diffid" >"$tar.cfg"
	cfg=$(blob "$tar.cfg")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
		"$cfg" "$(stat -c %s "$tar.cfg")" "$layer" "$(stat -c %s "$tar.gz")" >"$tar.man"
	man=$(blob "$tar.man")
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}' \
		"$man" "$(stat -c %s "$tar.man")" >"$oci/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
}

@test "layers GNU tar wrote with an ACL, with a sparse file: skiff's reader stops, libarchive unpacks each from its verified blob" {
	command -v setfacl >/dev/null || skip "no setfacl (make deps)"
	local root=$WORK/root l kind
	mkdir -p "$root/acl/d" "$root/sparse/d"
	echo secret >"$root/acl/d/f"
	setfacl -m u:4242:r "$root/acl/d/f"
	truncate -s 2M "$root/sparse/d/sparse"
	echo tail >>"$root/sparse/d/sparse"
	for kind in acl sparse; do
		tar --acls --sparse --format=posix -C "$root/$kind" -cf "$WORK/$kind.tar" .
		oci_layout_of "$WORK/$kind.tar" "$WORK/$kind-oci"
		skopeo copy -q --dest-tls-verify=false "oci:$WORK/$kind-oci:1" "docker://$SREG/$kind:1"
		export SKIFF_TRACE=$WORK/$kind.trace SKIFF_IMAGE_ROOT=$WORK/$kind-store
		run sk pull -q "$SREG/$kind:1"
		unset SKIFF_TRACE
		assert_status 0
		grep -q "stream: layer unpack stopped" "$WORK/$kind.trace" ||
			fail "$kind: the stream did not stop: $(cat "$WORK/$kind.trace")"
	done
	l=$(echo "$WORK"/acl-store/layers/*/)
	getfacl -n "$l/d/f" | grep -q '^user:4242:r--' || fail "no ACL: $(getfacl -n "$l/d/f")"
	assert_eq "$(cat "$l/d/f")" secret "d/f"
	l=$(echo "$WORK"/sparse-store/layers/*/)
	cmp "$root/sparse/d/sparse" "$l/d/sparse" || fail "the sparse file differs"
	[ "$(stat -c %b "$l/d/sparse")" -lt 100 ] || fail "its hole was written: $(stat -c %b "$l/d/sparse") blocks"
}

@test "on a terminal the progress is redrawn in place" {
	run script -qec "$SKIFF --root $STATE pull $SREG/busybox:1" /dev/null </dev/null
	assert_status 0
	assert_contains "$output" $'\033[2K'
	assert_contains "$output" "pulled"
}

@test "pull by digest: filed as NAME@DIGEST, runs, listed with tag <none>" {
	d=$(registry_digest "$SREG/busybox:1")
	sk pull -q "$SREG/busybox:1" # the tag's name does not stand for the digest's
	run sk pull "$SREG/busybox@$d"
	assert_status 0
	assert_contains "$output" "already exists"
	assert_eq "$(store_digest "$SREG/busybox@$d")" "$d"
	run sk run --rm --net none "$SREG/busybox@$d" echo by-digest
	assert_status 0
	assert_eq "$output" by-digest
	run sk images
	assert_contains "$output" "$SREG/busybox"
	assert_contains "$output" "<none>"
	run sk pull "$SREG/busybox@sha256:$(printf '%064d' 0)"
	one_line_error
	assert_contains "$output" "manifest unknown"
}

@test "push: skopeo and podman pull it back with the digest skiff has" {
	sk image import "$FWORK/busybox.tar" --name bb:1 >/dev/null
	local_digest=$(store_digest bb:1)
	run sk push bb:1 "$SREG/pushed/bb:7"
	assert_status 0
	assert_contains "$output" "$SREG/pushed/bb:7: digest: $local_digest"
	assert_contains "$output" "pushed"
	assert_eq "$(registry_digest "$SREG/pushed/bb:7")" "$local_digest" "skopeo inspect"
	skopeo copy -q --src-tls-verify=false "docker://$SREG/pushed/bb:7" "oci:$WORK/oci:x"
	assert_eq "$(jq -r '.manifests[0].digest' "$WORK/oci/index.json")" "$local_digest" "skopeo copy"
	if command -v podman >/dev/null; then
		local p=(podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" --storage-driver vfs
			--events-backend none)
		"${p[@]}" pull -q --tls-verify=false "$SREG/pushed/bb:7" >/dev/null
		assert_eq "$("${p[@]}" image inspect --format '{{.Digest}}' "$SREG/pushed/bb:7")" \
			"$local_digest" "podman"
		"${p[@]}" rmi -a -f >/dev/null 2>&1 || true
	fi
	# again: every blob is there already
	run sk push bb:1 "$SREG/pushed/bb:7"
	assert_status 0
	assert_contains "$output" "already exists"
	assert_not_contains "$output" "pushed "
}

@test "push mounts blobs from another repository of the registry instead of uploading them" {
	sk pull -q "$SREG/busybox:1"
	run sk push "$SREG/busybox:1" "$SREG/copy/bb:1"
	assert_status 0
	assert_contains "$output" "mounted from another repository"
	grep -q 'POST /v2/copy/bb/blobs/uploads/?mount=sha256%3A[0-9a-f]*&from=busybox HTTP/1.1" 201' "$SREG_LOG" ||
		fail "no 201 mount in the registry log: $(grep copy/bb "$SREG_LOG")"
	assert_eq "$(grep -c 'PUT /v2/copy/bb/blobs/uploads' "$SREG_LOG")" 0 "blob uploads"
	assert_eq "$(registry_digest "$SREG/copy/bb:1")" "$(registry_digest "$SREG/busybox:1")"
}

@test "htpasswd auth: a one-line 401 without or with wrong credentials; --creds and auth files work" {
	registry_start basic htpasswd alice 'S3cret-pw'
	skopeo copy -q --dest-tls-verify=false --dest-creds 'alice:S3cret-pw' \
		"oci-archive:$FWORK/busybox.tar" "docker://$REG/bb:1"
	run sk pull "$REG/bb:1"
	one_line_error
	assert_contains "$output" "skiff: pull $REG/bb:1: unauthorized"
	run sk pull --creds alice:wrong "$REG/bb:1"
	one_line_error
	assert_eq "$output" "skiff: pull $REG/bb:1: unauthorized"
	store_is_empty
	run sk pull --creds 'alice:S3cret-pw' "$REG/bb:1"
	assert_status 0
	assert_not_contains "$output" "S3cret"
	# docker's config.json: --authfile, then $REGISTRY_AUTH_FILE, then ~/.docker/config.json
	printf '{"auths":{"%s":{"auth":"%s"}}}' "$REG" "$(printf alice:S3cret-pw | base64)" >"$WORK/auth.json"
	export SKIFF_IMAGE_ROOT=$WORK/store2
	run sk pull --authfile "$WORK/auth.json" "$REG/bb:1"
	assert_status 0
	export SKIFF_IMAGE_ROOT=$WORK/store3
	REGISTRY_AUTH_FILE=$WORK/auth.json run sk pull -q "$REG/bb:1"
	assert_status 0
	export SKIFF_IMAGE_ROOT=$WORK/store4
	mkdir -p "$HOME/.docker" && cp "$WORK/auth.json" "$HOME/.docker/config.json"
	run sk pull -q "$REG/bb:1"
	assert_status 0
	run sk push --creds alice:wrong "$REG/bb:1" "$REG/again/bb:1"
	one_line_error
	assert_contains "$output" "push $REG/again/bb:1: unauthorized"
	run sk push "$REG/bb:1" "$REG/again/bb:1"
	assert_status 0
	assert_eq "$(registry_digest "$REG/again/bb:1" --creds alice:S3cret-pw)" "$(store_digest "$REG/bb:1")"
	run sk pull --authfile "$WORK/missing.json" "$REG/bb:1"
	one_line_error
	assert_contains "$output" "missing.json"
}

@test "the password of --creds is blanked from the command line while the pull runs" {
	registry_start basic2 htpasswd alice 'Pw-in-argv'
	build_file_image cl:1 8
	SKIFF_IMAGE_ROOT=$WORK/src "$SKIFF" push -q --creds alice:Pw-in-argv cl:1 "$REG/cl:1"
	slow_proxy_start "${REG##*:}" $((2 * 1024 * 1024))
	"$SKIFF" pull -q --creds alice:Pw-in-argv "$PROXY/cl:1" &
	pid=$!
	BG+=("$pid")
	part=$SKIFF_IMAGE_ROOT/downloads
	for _ in $(seq 200); do
		[ -n "$(ls "$part" 2>/dev/null)" ] && break
		sleep 0.05
	done
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	assert_contains "$cmdline" "alice:*"
	assert_not_contains "$cmdline" "Pw-in-argv"
	wait "$pid"
}

@test "token auth: the registry's Bearer challenge answered by a token server on loopback" {
	registry_start tok token alice 'T0ken-pw'
	skopeo copy -q --dest-tls-verify=false --dest-creds 'alice:T0ken-pw' \
		"oci-archive:$FWORK/busybox.tar" "docker://$REG/bb:1"
	run sk pull "$REG/bb:1"
	one_line_error
	assert_contains "$output" "pull $REG/bb:1: unauthorized"
	run sk pull --creds alice:nope "$REG/bb:1"
	one_line_error
	assert_eq "$output" "skiff: pull $REG/bb:1: unauthorized"
	run sk pull --creds 'alice:T0ken-pw' "$REG/bb:1"
	assert_status 0
	grep -q "token 200 user=alice scopes=\['repository:bb:pull'\]" "$REG_DIR/token.log" ||
		fail "token log: $(cat "$REG_DIR/token.log")"
	run sk run --rm --net none "$REG/bb:1" echo token-ok
	assert_eq "$output" token-ok
	run sk push --creds 'alice:T0ken-pw' "$REG/bb:1" "$REG/pushed:2"
	assert_status 0
	grep -q "repository:pushed:pull,push" "$REG_DIR/token.log" || fail "no push scope asked"
	assert_eq "$(registry_digest "$REG/pushed:2" --creds alice:T0ken-pw)" "$(store_digest "$REG/bb:1")"
}

@test "a tampered blob in the registry's storage: digest mismatch, nothing enters the store" {
	registry_start tamper
	skopeo copy -q --dest-tls-verify=false "oci-archive:$FWORK/busybox.tar" "docker://$REG/bb:1"
	layer=$(skopeo inspect --raw --tls-verify=false "docker://$REG/bb:1" | jq -r '.layers[0].digest')
	data=$(registry_blob_data "$layer")
	[ -f "$data" ] || fail "no $data"
	printf 'X' | dd of="$data" bs=1 seek=1000 conv=notrunc status=none
	run sk pull "$REG/bb:1"
	one_line_error
	assert_contains "$output" "blob $layer: digest mismatch"
	store_is_empty
}

@test "a layer swapped for another valid layer of its size: streamed into the unpack, refused by its digest, nothing enters the store" {
	registry_start swap
	skopeo copy -q --dest-tls-verify=false "oci-archive:$FWORK/busybox.tar" "docker://$REG/bb:1"
	layer=$(skopeo inspect --raw --tls-verify=false "docker://$REG/bb:1" | jq -r '.layers[0].digest')
	data=$(registry_blob_data "$layer")
	size=$(stat -c %s "$data")
	mkdir -p "$WORK/fake"
	echo planted >"$WORK/fake/planted-by-swap"
	tar -C "$WORK/fake" -czf "$WORK/fake.tgz" planted-by-swap
	[ "$(stat -c %s "$WORK/fake.tgz")" -lt "$size" ] || fail "the fake layer is not smaller"
	# the same size: zeros after the gzip member end the stream, so it unpacks whole
	cp "$WORK/fake.tgz" "$data"
	truncate -s "$size" "$data"
	SKIFF_TRACE=$WORK/trace run sk pull "$REG/bb:1"
	one_line_error
	assert_contains "$output" "blob $layer: digest mismatch"
	# the unpack ran beside the download: it either reached the end of the blob before the
	# digest was checked, or was stopped by the mismatch (which of the two is a race)
	grep -qE "stream: layer unpack(ed| stopped)$" "$WORK/trace" ||
		fail "not unpacked while downloading: $(cat "$WORK/trace")"
	store_is_empty
	[ -z "$(find "$SKIFF_IMAGE_ROOT" -name planted-by-swap)" ] || fail "the swapped layer's file is in the store"
}

@test "a pull killed in the middle of a layer: the next pull resumes it and verifies the whole" {
	build_file_image big:1 24
	SKIFF_IMAGE_ROOT=$WORK/src "$SKIFF" push -q big:1 "$SREG/big:1"
	layer=$(skopeo inspect --raw --tls-verify=false "docker://$SREG/big:1" | jq -r '.layers[0].digest')
	slow_proxy_start "${SREG##*:}" $((6 * 1024 * 1024))
	part=$SKIFF_IMAGE_ROOT/downloads/${layer#sha256:}
	"$SKIFF" pull -q "$PROXY/big:1" &
	pid=$!
	BG+=("$pid")
	for _ in $(seq 200); do
		[ "$(stat -c %s "$part" 2>/dev/null || echo 0)" -gt $((4 * 1024 * 1024)) ] && break
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	have=$(stat -c %s "$part")
	[ "$have" -gt $((4 * 1024 * 1024)) ] && [ "$have" -lt $((24 * 1024 * 1024)) ] ||
		fail "part holds $have bytes"
	[ ! -s "$SKIFF_IMAGE_ROOT/images.json" ] || [ "$(jq length "$SKIFF_IMAGE_ROOT/images.json")" = 0 ]
	SKIFF_TRACE=$WORK/trace run sk pull "$PROXY/big:1"
	assert_status 0
	assert_contains "$output" "(resumed)"
	# the part kept and the rest as it arrived, unpacked while downloading
	# the unpack ran beside the download: it either reached the end of the blob before the
	# digest was checked, or was stopped by the mismatch (which of the two is a race)
	grep -qE "stream: layer unpack(ed| stopped)$" "$WORK/trace" ||
		fail "not unpacked while downloading: $(cat "$WORK/trace")"
	grep -Eq "GET /v2/big/blobs/$layer range=bytes=[1-9][0-9]*-" "$PROXY_LOG" ||
		fail "no Range request: $(cat "$PROXY_LOG")"
	dir=$(sk image inspect "$PROXY/big:1" | jq -r '.layers[0]')
	assert_eq "$(sha256sum <"$dir/blob.bin" | cut -d' ' -f1)" "$BLOB_SUM" "layer content"
	assert_eq "$(find "$SKIFF_IMAGE_ROOT/downloads" -type f | wc -l)" 0 "parts left"
}

@test "the layers of one image are fetched at once" {
	oci_layout_layers "$WORK/layout" 3 2048
	skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:1" "docker://$SREG/three:1"
	slow_proxy_start "${SREG##*:}" $((2 * 1024 * 1024))
	run sk pull "$PROXY/three:1"
	assert_status 0
	assert_eq "$(grep -c pulled <<<"$output")" 3 "layers pulled"
	# every layer's GET started before the first layer's ended
	skopeo inspect --raw --tls-verify=false "docker://$SREG/three:1" | jq -r '.layers[].digest' >"$WORK/layers"
	started=$(awk 'NR == FNR { layer[$1] = 1; next }
		$1 == "GET" { split($2, p, "/"); if (p[5] in layer) n++ }
		$1 == "done" { split($3, p, "/"); if (p[5] in layer) exit }
		END { print n + 0 }' "$WORK/layers" "$PROXY_LOG")
	[ "$started" -eq 3 ] || fail "layer GETs started before the first ended: $started; $(cat "$PROXY_LOG")"
	for i in 0 1 2; do
		cmp "$WORK/layout/src-$i/file-$i" "$(sk image inspect "$PROXY/three:1" | jq -r ".layers[$i]")/file-$i" ||
			fail "layer $i"
	done
}

@test "the registry goes away in the middle of a layer: one line, the part kept, resumed later" {
	build_file_image gone:1 16
	SKIFF_IMAGE_ROOT=$WORK/src "$SKIFF" push -q gone:1 "$SREG/gone:1"
	layer=$(skopeo inspect --raw --tls-verify=false "docker://$SREG/gone:1" | jq -r '.layers[0].digest')
	part=$SKIFF_IMAGE_ROOT/downloads/${layer#sha256:}
	slow_proxy_start "${SREG##*:}" $((4 * 1024 * 1024))
	proxy_pid=${REG_PIDS[-1]}
	sk pull "$PROXY/gone:1" >"$WORK/out" 2>&1 &
	pid=$!
	BG+=("$pid")
	for _ in $(seq 200); do
		[ "$(stat -c %s "$part" 2>/dev/null || echo 0)" -gt $((2 * 1024 * 1024)) ] && break
		sleep 0.05
	done
	kill "$proxy_pid"
	status=0
	wait "$pid" || status=$?
	[ "$status" -ne 0 ] || fail "pull succeeded: $(cat "$WORK/out")"
	assert_eq "$(wc -l <"$WORK/out")" 1 "lines of: $(cat "$WORK/out")"
	assert_contains "$(cat "$WORK/out")" "skiff: pull $PROXY/gone:1: "
	assert_contains "$(cat "$WORK/out")" "kept for the next pull"
	have=$(stat -c %s "$part")
	[ "$have" -gt 0 ] || fail "no part kept"
	slow_proxy_start "${SREG##*:}" $((64 * 1024 * 1024))
	run sk pull -q "$PROXY/gone:1"
	assert_status 0
	grep -Eq "GET /v2/gone/blobs/$layer range=bytes=[1-9][0-9]*-" "$PROXY_LOG" ||
		fail "no Range request: $(cat "$PROXY_LOG")"
	dir=$(sk image inspect "$PROXY/gone:1" | jq -r '.layers[0]')
	assert_eq "$(sha256sum <"$dir/blob.bin" | cut -d' ' -f1)" "$BLOB_SUM" "layer content"
}

@test "a registry that ignores Range: the interrupted layer starts over and completes verified" {
	build_file_image whole:1 16
	SKIFF_IMAGE_ROOT=$WORK/src "$SKIFF" push -q whole:1 "$SREG/whole:1"
	layer=$(skopeo inspect --raw --tls-verify=false "docker://$SREG/whole:1" | jq -r '.layers[0].digest')
	part=$SKIFF_IMAGE_ROOT/downloads/${layer#sha256:}
	slow_proxy_start "${SREG##*:}" $((4 * 1024 * 1024))
	"$SKIFF" pull -q "$PROXY/whole:1" &
	pid=$!
	BG+=("$pid")
	for _ in $(seq 200); do
		[ "$(stat -c %s "$part" 2>/dev/null || echo 0)" -gt $((2 * 1024 * 1024)) ] && break
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	[ "$(stat -c %s "$part")" -gt 0 ] || fail "no part"
	# the part now holds bytes the registry will not continue: it sends the whole blob
	slow_proxy_start "${SREG##*:}" $((64 * 1024 * 1024)) no-range
	run sk pull "$PROXY/whole:1"
	assert_status 0
	assert_not_contains "$output" "(resumed)"
	grep -q "GET /v2/whole/blobs/$layer range=bytes=" "$PROXY_LOG" || fail "$(cat "$PROXY_LOG")"
	dir=$(sk image inspect "$PROXY/whole:1" | jq -r '.layers[0]')
	assert_eq "$(sha256sum <"$dir/blob.bin" | cut -d' ' -f1)" "$BLOB_SUM" "layer content"
	assert_eq "$(find "$SKIFF_IMAGE_ROOT/downloads" -type f | wc -l)" 0 "parts left"
}

@test "an index of several platforms: this machine's manifest, --platform another, a missing one named" {
	local arch
	case $(uname -m) in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) skip "machine $(uname -m)" ;; esac
	local other=arm64
	[ "$arch" = amd64 ] || other=amd64
	for p in "$arch" "$other"; do
		mkdir -p "$WORK/rootfs-$p"
		echo "$p" >"$WORK/rootfs-$p/platform"
		SKIFF_IMAGE_ROOT=$WORK/src "$SKIFF" image build --rootfs "$WORK/rootfs-$p" --name "p-$p" >/dev/null
		d=$(store_digest "p-$p:latest" "$WORK/src")
		SKIFF_IMAGE_ROOT=$WORK/src "$SKIFF" push -q "p-$p" "$SREG/multi@$d"
		size=$(stat -c %s "$WORK/src/blobs/sha256/${d#sha256:}")
		jq -n --arg d "$d" --argjson s "$size" --arg a "$p" \
			'{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
			  platform: {os: "linux", architecture: $a}}' >"$WORK/desc-$p.json"
	done
	jq -s '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: .}' \
		"$WORK/desc-$other.json" "$WORK/desc-$arch.json" >"$WORK/index.json"
	code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
		-H 'Content-Type: application/vnd.oci.image.index.v1+json' \
		--data-binary "@$WORK/index.json" "http://$SREG/v2/multi/manifests/1")
	assert_eq "$code" 201 "PUT index"
	run sk pull -q "$SREG/multi:1"
	assert_status 0
	assert_eq "$(cat "$(sk image inspect "$SREG/multi:1" | jq -r '.layers[0]')/platform")" "$arch"
	export SKIFF_IMAGE_ROOT=$WORK/store-other
	run sk pull -q --platform "linux/$other" "$SREG/multi:1"
	assert_status 0
	assert_eq "$(cat "$(sk image inspect "$SREG/multi:1" | jq -r '.layers[0]')/platform")" "$other"
	run sk pull --platform linux/s390x "$SREG/multi:1"
	one_line_error
	assert_contains "$output" "no manifest for linux/s390x in the index (it has: linux/$other, linux/$arch)"
	# the same as a docker manifest list
	jq '.mediaType = "application/vnd.docker.distribution.manifest.list.v2+json"' \
		"$WORK/index.json" >"$WORK/list.json"
	code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
		-H 'Content-Type: application/vnd.docker.distribution.manifest.list.v2+json' \
		--data-binary "@$WORK/list.json" "http://$SREG/v2/multi/manifests/2")
	assert_eq "$code" 201 "PUT manifest list"
	export SKIFF_IMAGE_ROOT=$WORK/store-list
	run sk pull -q "$SREG/multi:2"
	assert_status 0
	assert_eq "$(cat "$(sk image inspect "$SREG/multi:2" | jq -r '.layers[0]')/platform")" "$arch"
}

@test "docker schema 2 manifests (skopeo --format v2s2) pull and run" {
	skopeo copy -q --dest-tls-verify=false --format v2s2 "oci-archive:$FWORK/busybox.tar" \
		"docker://$SREG/docker-bb:1"
	run sk pull -q "$SREG/docker-bb:1"
	assert_status 0
	d=$(store_digest "$SREG/docker-bb:1")
	assert_eq "$(jq -r .mediaType "$SKIFF_IMAGE_ROOT/blobs/sha256/${d#sha256:}")" \
		application/vnd.docker.distribution.manifest.v2+json
	assert_eq "$d" "$(registry_digest "$SREG/docker-bb:1")"
	run sk run --rm --net none "$SREG/docker-bb:1" echo v2s2
	assert_eq "$output" v2s2
}

@test "run --pull: missing pulls once, never refuses, always asks the registry again" {
	run sk run --rm --net none --pull never "$SREG/busybox:1" true
	[ "$status" -eq 125 ] || fail "status $status: $output"
	assert_contains "$output" "no such image"
	# missing: pulled first, progress on stderr, the container's stdout clean
	out=$(sk run --rm --net none "$SREG/busybox:1" echo pulled-and-ran 2>"$WORK/err")
	assert_eq "$out" pulled-and-ran
	assert_contains "$(cat "$WORK/err")" "pulled"
	gets=$(grep -c "GET /v2/busybox/manifests/1" "$SREG_LOG")
	run sk run --rm --net none --pull missing "$SREG/busybox:1" true
	assert_status 0
	assert_eq "$(grep -c "GET /v2/busybox/manifests/1" "$SREG_LOG")" "$gets" "manifest GETs (missing)"
	run sk run --rm --net none --pull always "$SREG/busybox:1" true
	assert_status 0
	assert_eq "$(grep -c "GET /v2/busybox/manifests/1" "$SREG_LOG")" "$((gets + 1))" "manifest GETs (always)"
	run sk run --rm --net none --pull sometimes "$SREG/busybox:1" true
	one_line_error
	assert_contains "$output" "--pull \`sometimes\`"
	run sk run --rm --net none --pull always busybox true
	one_line_error
	assert_contains "$output" "names no registry"
	# a failed pull is the run's one line, exit 125
	run sk run --rm --net none "$SREG/busybox:nope" true
	[ "$status" -eq 125 ] || fail "status $status: $output"
	assert_eq "${#lines[@]}" 1 "lines of: $output"
	assert_contains "$output" "manifest unknown"
}

@test "plain HTTP is for loopback registries; others need --insecure or SKIFF_INSECURE_REGISTRIES" {
	# 0.0.0.0 reaches the registry on loopback, but is not a loopback name to skiff
	local r=0.0.0.0:${SREG##*:}
	run sk pull "$r/busybox:1"
	one_line_error
	assert_contains "$output" "TLS"
	assert_contains "$output" "--insecure"
	run sk pull -q --insecure "$r/busybox:1"
	assert_status 0
	export SKIFF_IMAGE_ROOT=$WORK/store2
	SKIFF_INSECURE_REGISTRIES="other:1,$r" run sk pull -q "$r/busybox:1"
	assert_status 0
}

@test "a loopback registry that speaks only TLS: plain HTTP gets its 400, HTTPS (unverified) is used for pull and push" {
	REG_TLS=1 registry_start tlsreg || fail "no TLS registry"
	skopeo copy -q --dest-tls-verify=false "oci-archive:$FWORK/busybox.tar" "docker://$REG/busybox:1"
	LD_DEBUG=files LD_DEBUG_OUTPUT="$WORK/ld" run sk pull -q "$REG/busybox:1"
	assert_status 0
	# TLS (OpenSSL) needs none of the libraries skiff-image loads on first call
	# (runtime/cmd/image_lazy.c): Kerberos, p11-kit, SASL stay unloaded
	cat "$WORK"/ld.* >"$WORK/ld.log"
	grep -q 'file=libisal' "$WORK/ld.log" || fail "LD_DEBUG printed nothing"
	! grep -E 'file=lib(gssapi_krb5|krb5|p11-kit|sasl2)' "$WORK/ld.log" ||
		fail "a pull over TLS loaded the libraries above"
	assert_eq "$(store_digest "$REG/busybox:1")" "$(registry_digest "$REG/busybox:1")" "digest"
	run sk push -q "$REG/busybox:1" "$REG/again/bb:2"
	assert_status 0
	assert_eq "$(registry_digest "$REG/again/bb:2")" "$(store_digest "$REG/busybox:1")" "pushed digest"
	# the first request of each went over plain HTTP and was answered 400 by the TLS port
	run curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/"
	assert_eq "$output" 400 "plain HTTP to the TLS port"
}

@test "failures are one line: unknown host, nothing listening, unknown repository or tag, bad reference" {
	# no route out of an empty network namespace: the name lookup fails on the machine
	run unshare -n sh -c "ip link set lo up; timeout 60 $SKIFF --root $STATE pull no-such-host.invalid/x:1"
	one_line_error
	assert_eq "$output" "skiff: pull no-such-host.invalid/x:1: unknown host \`no-such-host.invalid\`"
	run sk pull "127.0.0.1:$(free_port)/x:1"
	one_line_error
	assert_contains "$output" "cannot connect to http://127.0.0.1:"
	run sk pull "$SREG/busybox:nope"
	one_line_error
	assert_eq "$output" "skiff: pull $SREG/busybox:nope: manifest unknown"
	run sk pull "$SREG/no/such/repo:1"
	one_line_error
	assert_eq "$output" "skiff: pull $SREG/no/such/repo:1: manifest unknown"
	run sk pull "$SREG/Bad:1"
	one_line_error
	assert_contains "$output" "invalid image reference"
	run sk push no-such-image "$SREG/x:1"
	one_line_error
	assert_contains "$output" "no such image"
	store_is_empty
}

@test "disk full while pulling: one line naming the cause, nothing of the image left" {
	build_file_image big6:1 6
	SKIFF_IMAGE_ROOT=$WORK/src "$SKIFF" push -q big6:1 "$SREG/big6:1"
	SMALL=$WORK/small
	mkdir -p "$SMALL"
	mount -t tmpfs -o size=3m tmpfs "$SMALL"
	export SKIFF_IMAGE_ROOT=$SMALL/store
	run sk pull "$SREG/big6:1"
	one_line_error
	assert_contains "$output" "No space left on device"
	store_is_empty
	[ "$(df --output=used -k "$SMALL" | tail -1)" -lt 100 ] || fail "$(du -a "$SMALL")"
}
