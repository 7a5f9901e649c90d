#!/usr/bin/env bats
# image.bats - the image store from the command line: the busybox recipe, `skiff images`,
# export read back by skopeo and umoci, re-import, a skopeo-written layout, bad archives
# (truncated, malformed index.json, corrupted blob) that leave the store as it was,
# whiteouts seen through a real overlay mount, and `skiff image rm` collecting exactly
# the blobs and layers no other name uses.  Every test has its own temp store.

SKIFF_BUILD=${SKIFF_BUILD:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/build}
SKIFF=$SKIFF_BUILD/skiff
REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

setup() {
	[ -x "$SKIFF" ] || skip "no skiff binary at $SKIFF (build it with make)"
	[ "$(id -u)" -eq 0 ] || skip "image tests run as root"
	WORK=$(mktemp -d /tmp/skiff-image-it.XXXXXX)
	export SKIFF_IMAGE_ROOT=$WORK/store
	export SKIFF
	MNT=""
}

teardown() {
	[ -z "$MNT" ] || umount "$MNT" 2>/dev/null || true
	[ -z "${WORK:-}" ] || rm -rf "$WORK"
}

load common

# build_busybox [NAME]: the recipe into the test's store
build_busybox() {
	NAME=${1:-busybox:latest} "$REPO/images/busybox/build" >/dev/null
}

# store_listing: every path of the store with size and mode (what must not change)
store_listing() {
	find "$SKIFF_IMAGE_ROOT" -printf '%P %s %m\n' | sort
	cat "$SKIFF_IMAGE_ROOT/images.json"
}

count() { # count DIR
	find "$1" -mindepth 1 -maxdepth 1 | wc -l
}

# one_line_error: after `run`, failure with exactly one line of output
one_line_error() {
	[ "$status" -ne 0 ] || fail "succeeded, want failure: $output"
	[ "${#lines[@]}" -eq 1 ] || fail "want a one-line error, got ${#lines[@]} lines: $output"
}

@test "busybox recipe builds an image that skiff images lists" {
	build_busybox
	run "$SKIFF" images
	[ "$status" -eq 0 ] || fail "$output"
	[[ "${lines[0]}" == NAME*TAG*DIGEST*SIZE* ]] || fail "header: ${lines[0]}"
	[[ "${lines[1]}" =~ ^busybox\ +latest\ +[0-9a-f]{12}\ +[0-9.]+(B|KiB|MiB) ]] || fail "row: ${lines[1]}"
	digest=$(jq -r '."busybox:latest".digest' "$SKIFF_IMAGE_ROOT/images.json")
	[[ "${lines[1]}" == *"${digest:7:12}"* ]] || fail "digest ${digest:7:12} not in ${lines[1]}"
	run "$SKIFF" image ls --quiet
	[ "$output" = "busybox:latest" ] || fail "$output"
	# the unpacked layer is the rootfs: busybox and its applet links
	layer=$("$SKIFF" image inspect busybox | jq -r '.layers[0]')
	[ -x "$layer/bin/busybox" ] || fail "no $layer/bin/busybox"
	[ "$(readlink "$layer/bin/sh")" = /bin/busybox ] || fail "sh is not a busybox link"
	[ "$(stat -c %a "$layer/tmp")" = 1777 ] || fail "tmp mode $(stat -c %a "$layer/tmp")"
	chroot "$layer" /bin/sh -c 'echo hello' | grep -qx hello
	[ "$("$SKIFF" image inspect busybox | jq -c .cmd)" = '["sh"]' ]
	# the recipe is reproducible: the same digest again, nothing added
	before=$(store_listing)
	build_busybox
	[ "$(store_listing)" = "$before" ] || fail "rebuild changed the store"
}

@test "skiff-image loads libarchive only when it unpacks: not at start (a warm pull), on import; never Kerberos, no GnuTLS init" {
	# linked, libarchive and what it brings (libxml2, ICU, libstdc++) cost every start of
	# skiff-image ~8 ms of the dynamic loader's work (runtime/image/image_libarchive.h)
	run readelf -d "$SKIFF_BUILD/skiff-image"
	[ "$status" -eq 0 ] || fail "$output"
	[[ "$output" != *libarchive* ]] || fail "skiff-image links libarchive: $(grep NEEDED <<<"$output")"
	# LD_DEBUG=files names every library the loader maps, at start or by dlopen (libcurl is
	# linked statically, ISA-L is not: Debian has no archive of it)
	LD_DEBUG=files "$SKIFF" images >/dev/null 2>"$WORK/ld.log" || fail "$(cat "$WORK/ld.log")"
	grep -q 'file=libisal' "$WORK/ld.log" || fail "LD_DEBUG printed nothing: $(head "$WORK/ld.log")"
	! grep -q 'file=libarchive' "$WORK/ld.log" || fail "libarchive loaded by skiff images"
	# nor Kerberos, p11-kit or SASL, which libcurl.a, libgnutls.a and libldap.a call for
	# features a pull does not use (loaded on first call: runtime/cmd/image_lazy.c)
	! grep -E 'file=lib(gssapi_krb5|krb5|k5crypto|p11-kit|ffi|sasl2)' "$WORK/ld.log" ||
		fail "skiff-image maps the libraries above at start"
	# GnuTLS (for libldap.a and librtmp.a) does not initialise itself at load: with
	# GNUTLS_DEBUG_LEVEL its initialisation would log "Enabled GnuTLS ... logging"
	GNUTLS_DEBUG_LEVEL=2 "$SKIFF" images >/dev/null 2>"$WORK/gnutls.log" || fail "$(cat "$WORK/gnutls.log")"
	! grep -q 'gnutls\[' "$WORK/gnutls.log" || fail "GnuTLS initialised at start: $(head -3 "$WORK/gnutls.log")"
	# an import unpacks: libarchive is loaded then, and the layer is whole
	LD_DEBUG=files NAME=busybox:latest "$REPO/images/busybox/build" >/dev/null 2>"$WORK/ld.log" ||
		fail "$(grep -v '^ *[0-9]*:' "$WORK/ld.log")"
	grep -q 'file=libarchive.so.13 \[0\];  dynamically loaded' "$WORK/ld.log" ||
		fail "no dlopen of libarchive: $(grep 'file=libarchive' "$WORK/ld.log")"
	layer=$("$SKIFF" image inspect busybox | jq -r '.layers[0]')
	[ -x "$layer/bin/busybox" ] || fail "no $layer/bin/busybox"
}

@test "export is an OCI archive that skopeo and umoci read; it re-imports under a new name" {
	build_busybox
	"$SKIFF" image export busybox "$WORK/bb.tar"
	layer_digest=$(jq -r '.layers[0].digest' \
		"$SKIFF_IMAGE_ROOT/blobs/sha256/$(jq -r '."busybox:latest".digest' "$SKIFF_IMAGE_ROOT/images.json" | cut -c8-)")
	run skopeo inspect "oci-archive:$WORK/bb.tar"
	[ "$status" -eq 0 ] || fail "skopeo: $output"
	[ "$(jq -r '.Layers | length' <<<"$output")" = 1 ]
	[ "$(jq -r '.Layers[0]' <<<"$output")" = "$layer_digest" ] || fail "skopeo layers: $output"
	[ "$(jq -r '.Os' <<<"$output")" = linux ]
	# umoci unpacks the layout by its ref.name
	mkdir "$WORK/layout"
	tar -C "$WORK/layout" -xf "$WORK/bb.tar"
	run umoci unpack --image "$WORK/layout:latest" "$WORK/bundle"
	[ "$status" -eq 0 ] || fail "umoci: $output"
	[ -x "$WORK/bundle/rootfs/bin/busybox" ]
	[ "$(jq -c .process.args "$WORK/bundle/config.json")" = '["sh"]' ]
	# round trip: same manifest, no new blob or layer
	blobs=$(count "$SKIFF_IMAGE_ROOT/blobs/sha256")
	run "$SKIFF" image import "$WORK/bb.tar" --name copy:v1
	[ "$status" -eq 0 ] && [ "$output" = copy:v1 ] || fail "import: $output"
	[ "$(jq -r '."copy:v1".digest' "$SKIFF_IMAGE_ROOT/images.json")" = \
		"$(jq -r '."busybox:latest".digest' "$SKIFF_IMAGE_ROOT/images.json")" ]
	[ "$(count "$SKIFF_IMAGE_ROOT/blobs/sha256")" = "$blobs" ]
	[ "$(count "$SKIFF_IMAGE_ROOT/layers")" = 1 ]
	# without --name the archive's own name is used, into another store
	run "$SKIFF" image --store "$WORK/store2" import "$WORK/bb.tar"
	[ "$status" -eq 0 ] && [ "$output" = busybox:latest ] || fail "import: $output"
}

@test "a layout written by skopeo imports" {
	build_busybox
	"$SKIFF" image export busybox "$WORK/bb.tar"
	skopeo copy -q "oci-archive:$WORK/bb.tar" "oci:$WORK/sk:v9"
	run "$SKIFF" image import "$WORK/sk" --name fromskopeo:1
	[ "$status" -eq 0 ] || fail "$output"
	layer=$("$SKIFF" image inspect fromskopeo:1 | jq -r '.layers[0]')
	[ -x "$layer/bin/busybox" ]
}

@test "truncated tar, malformed index.json, corrupted blob: one-line error, store unchanged" {
	build_busybox
	"$SKIFF" image export busybox "$WORK/bb.tar"
	before=$(store_listing)

	head -c 300000 "$WORK/bb.tar" >"$WORK/trunc.tar"
	run "$SKIFF" image import "$WORK/trunc.tar" --name trunc:1
	one_line_error
	[[ "$output" == *trunc.tar* ]] || fail "no path in: $output"
	[ "$(store_listing)" = "$before" ] || fail "store changed after truncated tar"

	mkdir "$WORK/layout"
	tar -C "$WORK/layout" -xf "$WORK/bb.tar"
	cp "$WORK/layout/index.json" "$WORK/index.good"
	printf '{"schemaVersion": 2, "manifests": [' >"$WORK/layout/index.json"
	run "$SKIFF" image import "$WORK/layout" --name bad:1
	one_line_error
	[[ "$output" == *index.json* ]] || fail "no index.json in: $output"
	[ "$(store_listing)" = "$before" ] || fail "store changed after malformed index.json"

	# a corrupted blob, in a fresh store: nothing of the image lands there
	cp "$WORK/index.good" "$WORK/layout/index.json"
	big=$(ls -S "$WORK/layout/blobs/sha256" | head -1)
	printf 'X' | dd of="$WORK/layout/blobs/sha256/$big" bs=1 seek=1000 conv=notrunc status=none
	run "$SKIFF" image --store "$WORK/store2" import "$WORK/layout" --name bad:2
	one_line_error
	[[ "$output" == *"blob sha256:$big: digest mismatch"* ]] || fail "$output"
	[ "$(count "$WORK/store2/blobs/sha256")" = 0 ] && [ "$(count "$WORK/store2/layers")" = 0 ]
	[ "$(count "$WORK/store2/tmp")" = 0 ]
	run "$SKIFF" image --store "$WORK/store2" ls --quiet
	[ -z "$output" ] || fail "images after failed import: $output"

	run "$SKIFF" image import "$WORK/nonexistent"
	one_line_error
	run "$SKIFF" image rm nope:1
	one_line_error
	[[ "$output" == *"no such image"* ]] || fail "$output"
	[ "$(store_listing)" = "$before" ] || fail "store changed"
}

# tar_digest FILE: sha256:<hex> of a file
file_digest() {
	echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"
}

@test "whiteouts and opaque dirs of an imported two-layer image hide lower files under overlayfs" {
	L=$WORK/src
	mkdir -p "$L/one/etc" "$L/one/d" "$L/two/etc" "$L/two/d" "$WORK/oci/blobs/sha256"
	echo a >"$L/one/etc/a"
	echo b >"$L/one/etc/b"
	echo x >"$L/one/d/x"
	: >"$L/two/etc/.wh.a"
	: >"$L/two/d/.wh..wh..opq"
	echo y >"$L/two/d/y"
	tar -C "$L/one" -cf "$WORK/one.tar" .
	tar -C "$L/two" -cf "$WORK/two.tar" .
	gzip -c "$WORK/two.tar" >"$WORK/two.tar.gz"
	d1=$(file_digest "$WORK/one.tar")
	d2=$(file_digest "$WORK/two.tar")
	g2=$(file_digest "$WORK/two.tar.gz")
	cp "$WORK/one.tar" "$WORK/oci/blobs/sha256/${d1#sha256:}"
	cp "$WORK/two.tar.gz" "$WORK/oci/blobs/sha256/${g2#sha256:}"
	jq -cn --arg d1 "$d1" --arg d2 "$d2" \
		'{architecture:"amd64", os:"linux", config:{Cmd:["sh"]}, rootfs:{type:"layers", diff_ids:[$d1,$d2]}}' \
		>"$WORK/config.json"
	c=$(file_digest "$WORK/config.json")
	cp "$WORK/config.json" "$WORK/oci/blobs/sha256/${c#sha256:}"
	jq -cn --arg c "$c" --argjson cs "$(stat -c %s "$WORK/config.json")" \
		--arg d1 "$d1" --argjson s1 "$(stat -c %s "$WORK/one.tar")" \
		--arg g2 "$g2" --argjson s2 "$(stat -c %s "$WORK/two.tar.gz")" \
		'{schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json",
		  config:{mediaType:"application/vnd.oci.image.config.v1+json", digest:$c, size:$cs},
		  layers:[{mediaType:"application/vnd.oci.image.layer.v1.tar", digest:$d1, size:$s1},
		          {mediaType:"application/vnd.oci.image.layer.v1.tar+gzip", digest:$g2, size:$s2}]}' \
		>"$WORK/manifest.json"
	m=$(file_digest "$WORK/manifest.json")
	cp "$WORK/manifest.json" "$WORK/oci/blobs/sha256/${m#sha256:}"
	# a nested index, as multi-platform images have
	jq -cn --arg m "$m" --argjson ms "$(stat -c %s "$WORK/manifest.json")" \
		'{schemaVersion:2, mediaType:"application/vnd.oci.image.index.v1+json",
		  manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json", digest:$m, size:$ms,
		              platform:{os:"linux", architecture:"amd64"}}]}' >"$WORK/nested.json"
	n=$(file_digest "$WORK/nested.json")
	cp "$WORK/nested.json" "$WORK/oci/blobs/sha256/${n#sha256:}"
	jq -cn --arg n "$n" --argjson ns "$(stat -c %s "$WORK/nested.json")" \
		'{schemaVersion:2, manifests:[{mediaType:"application/vnd.oci.image.index.v1+json",
		  digest:$n, size:$ns, annotations:{"org.opencontainers.image.ref.name":"wh:1"}}]}' \
		>"$WORK/oci/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$WORK/oci/oci-layout"

	run "$SKIFF" image import "$WORK/oci"
	[ "$status" -eq 0 ] && [ "$output" = wh:1 ] || fail "import: $output"
	mapfile -t layers < <("$SKIFF" image inspect wh:1 | jq -r '.layers[]')
	[ ${#layers[@]} -eq 2 ]
	[ "$(stat -c '%F %t:%T' "${layers[1]}/etc/a")" = "character special file 0:0" ]
	[ "$(getfattr --only-values -n trusted.overlay.opaque "${layers[1]}/d" 2>/dev/null)" = y ] ||
		python3 -c 'import os,sys; sys.exit(os.getxattr(sys.argv[1], "trusted.overlay.opaque") != b"y")' "${layers[1]}/d"
	[ ! -e "${layers[1]}/etc/.wh.a" ]
	MNT=$WORK/mnt
	mkdir -p "$MNT" "$WORK/upper" "$WORK/ovwork"
	mount -t overlay overlay -o "lowerdir=${layers[1]}:${layers[0]},upperdir=$WORK/upper,workdir=$WORK/ovwork" "$MNT"
	[ ! -e "$MNT/etc/a" ] || fail "whiteout did not hide etc/a"
	[ "$(cat "$MNT/etc/b")" = b ]
	[ ! -e "$MNT/d/x" ] || fail "opaque dir shows lower d/x"
	[ "$(cat "$MNT/d/y")" = y ]
	# a layer in use by a mount survives removal of its image; the name goes
	"$SKIFF" image rm wh:1
	[ -d "${layers[0]}" ] && [ -d "${layers[1]}" ]
	umount "$MNT"
	MNT=""
}

@test "image rm removes the blobs and layers no other name uses" {
	build_busybox bb:1
	mkdir -p "$WORK/rootfs"
	"$REPO/images/busybox/build" --rootfs-only "$WORK/rootfs"
	echo extra >"$WORK/rootfs/extra"
	"$SKIFF" image build --rootfs "$WORK/rootfs" --name other:1 --config '{"Cmd":["cat","/extra"]}' >/dev/null
	"$SKIFF" image export bb:1 "$WORK/bb.tar"
	"$SKIFF" image import "$WORK/bb.tar" --name bb:2 >/dev/null
	[ "$(count "$SKIFF_IMAGE_ROOT/blobs/sha256")" = 6 ]
	[ "$(count "$SKIFF_IMAGE_ROOT/layers")" = 2 ]
	other_layer=$("$SKIFF" image inspect other:1 | jq -r '.layers[0]')
	bb_layer=$("$SKIFF" image inspect bb:1 | jq -r '.layers[0]')

	"$SKIFF" image rm bb:1
	[ "$(count "$SKIFF_IMAGE_ROOT/blobs/sha256")" = 6 ] || fail "bb:2 still uses them"
	[ -d "$bb_layer" ]
	"$SKIFF" image rm bb:2
	[ "$(count "$SKIFF_IMAGE_ROOT/blobs/sha256")" = 3 ]
	[ "$(count "$SKIFF_IMAGE_ROOT/layers")" = 1 ]
	[ ! -e "$bb_layer" ] && [ -d "$other_layer" ]
	run "$SKIFF" images --quiet
	[ "$output" = other:1 ] || fail "$output"
	"$SKIFF" image rm other:1
	[ "$(count "$SKIFF_IMAGE_ROOT/blobs/sha256")" = 0 ] && [ "$(count "$SKIFF_IMAGE_ROOT/layers")" = 0 ]
}

@test "bad names and bad --config are rejected with one line" {
	mkdir -p "$WORK/r/bin"
	run "$SKIFF" image build --rootfs "$WORK/r" --name Bad:1
	one_line_error
	[[ "$output" == *"invalid image reference"* ]] || fail "$output"
	run "$SKIFF" image build --rootfs "$WORK/r" --name ok:1 --config '{"Cmd":"sh"}'
	one_line_error
	[[ "$output" == *Cmd* ]] || fail "$output"
	run "$SKIFF" image build --rootfs "$WORK/missing" --name ok:1
	one_line_error
	echo '{"Cmd":["true"]}' >"$WORK/cfg.json"
	run "$SKIFF" image build --rootfs "$WORK/r" --name ok:1 --config "@$WORK/cfg.json"
	[ "$status" -eq 0 ] || fail "$output"
	[ "$("$SKIFF" image inspect ok:1 | jq -c .cmd)" = '["true"]' ]
}

@test "webapp recipe: the app, exactly the libraries ldd lists, entrypoint and port in the config" {
	WEBAPP=$SKIFF_BUILD/webapp
	[ -x "$WEBAPP" ] || skip "no webapp binary at $WEBAPP (build it with make)"
	WEBAPP=$WEBAPP "$REPO/images/webapp/build" >/dev/null
	info=$("$SKIFF" image inspect webapp)
	[ "$(jq -c .entrypoint <<<"$info")" = '["/webapp"]' ]
	[ "$(jq -c .ports <<<"$info")" = '["8080/tcp"]' ]
	jq -e '.env | index("PORT=8080")' <<<"$info" >/dev/null
	layer=$(jq -r '.layers[0]' <<<"$info")
	want=$(ldd "$WEBAPP" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
	got=$(cd "$layer" && find lib lib64 usr/lib -type f 2>/dev/null | sed 's|^|/|' | sort)
	[ "$got" = "$want" ] || fail "libraries in the image: $got; ldd: $want"
	# runs from the layer alone (with a private /proc: a sanitizer build needs one)
	unshare --mount --pid --fork --mount-proc="$layer/proc" chroot "$layer" /webapp --help |
		grep -q -- --port
}

@test "imports killed at any point leave nothing once the next import and rm have run" {
	build_busybox
	baseline=$(store_listing)
	# another image, with blobs this store does not have
	mkdir -p "$WORK/rootfs"
	"$REPO/images/busybox/build" --rootfs-only "$WORK/rootfs"
	head -c 2000000 /dev/urandom >"$WORK/rootfs/big"
	"$SKIFF" image --store "$WORK/store2" build --rootfs "$WORK/rootfs" --name other:1 >/dev/null
	"$SKIFF" image --store "$WORK/store2" export other:1 "$WORK/other.tar"
	local ms
	for ms in 0 5 10 20 30 40 60 80 100 150 200 300; do
		"$SKIFF" image import "$WORK/other.tar" --name other:1 >/dev/null 2>&1 &
		sleep "$(printf '0.%03d' "$ms")"
		kill -9 $! 2>/dev/null || true
		wait $! 2>/dev/null || true
	done
	echo "# after the kills: $(count "$SKIFF_IMAGE_ROOT/tmp") temp dirs, $(count "$SKIFF_IMAGE_ROOT/blobs/sha256") blobs" >&3
	# the next import sweeps dead imports' temp dirs and unnamed blobs
	"$SKIFF" image import "$WORK/other.tar" --name other:1 >/dev/null
	[ "$(count "$SKIFF_IMAGE_ROOT/tmp")" = 0 ] || fail "temp dirs left: $(ls "$SKIFF_IMAGE_ROOT/tmp")"
	[ "$(count "$SKIFF_IMAGE_ROOT/blobs/sha256")" = 6 ] && [ "$(count "$SKIFF_IMAGE_ROOT/layers")" = 2 ]
	"$SKIFF" image rm other:1
	[ "$(store_listing)" = "$baseline" ] || fail "store differs: $(diff <(echo "$baseline") <(store_listing))"
}
