# skiff - build, test, deps.  `make test` is the one command CI runs (see README).
#
#   make deps     install every Debian package the project needs (idempotent)
#   make          build skiff, skiffd, skiffctl, webapp into build/
#   make test     deps + sanitizer build (build/san) + every test; ends "N passed, N failed"
#   make demo     deps + build + the tour of examples/demo.sh (the README's first command)
#   make images   build the busybox and webapp images into the store
#   make fmt      reformat; make fmt-check fails on unformatted files
#
# Sources are picked up by wildcard: a new runtime/foo.c (or runtime/image|net|managed/foo.c)
# joins libskiff, a new orchestrator/{core,store,server,agent,client}/foo.c joins liborch, a
# new orchestrator/ctl/foo.c joins skiffctl, a new tests/unit/test_foo.c becomes a unit test.
# runtime/util/ is the base library (libskiffutil) every binary links: the orchestrator and
# the web app link only that part of runtime/.

BUILD ?= build
SAN ?= 0
CC ?= gcc

RUNTIME_PKGS := jansson libseccomp libcap libnl-3.0 libnl-route-3.0 libarchive libcurl libisal
ORCH_PKGS := jansson libmicrohttpd sqlite3 libcurl gnutls
WEBAPP_PKGS := libmicrohttpd jansson
# the node agent's kernel node ports (nftables rules, conntrack): skiffd only, so `skiff`
# does not load them at every start
AGENT_PKGS := libnftables libnl-nf-3.0
ALL_PKGS := $(sort $(RUNTIME_PKGS) $(ORCH_PKGS) $(WEBAPP_PKGS) $(AGENT_PKGS))

DEB_PACKAGES := build-essential pkg-config clang clang-format bats curl iproute2 \
	libjansson-dev libseccomp-dev libcap-dev libnl-3-dev libnl-route-3-dev libnl-nf-3-dev libnftables-dev libarchive-dev \
	libmicrohttpd-dev libsqlite3-dev libcurl4-openssl-dev \
	busybox-static crun runc wrk nginx-light skopeo umoci hyperfine procps psmisc util-linux jq time python3 openssl libclang-rt-14-dev \
	libgnutls28-dev podman containerd etcd-server etcd-client docker-registry nftables apache2-utils libisal-dev \
	libnghttp2-dev librtmp-dev libssh2-1-dev libpsl-dev libldap-dev libzstd-dev libunistring-dev \
	libbrotli-dev libidn2-dev libssl-dev zlib1g-dev nettle-dev libgmp-dev libtasn1-6-dev \
	libsasl2-dev libkrb5-dev libp11-kit-dev acl

pc = $(shell pkg-config $(1) $(2) 2>/dev/null)

# Every source folder is on the include path: headers are included by their bare name.
SRC_DIRS := runtime runtime/util runtime/image runtime/net runtime/managed \
	orchestrator/core orchestrator/store orchestrator/server orchestrator/agent \
	orchestrator/client orchestrator/ctl examples/webapp
INCLUDES := $(addprefix -I,$(SRC_DIRS))

OPT ?= -O2 -g
CFLAGS ?=
CFLAGS += $(OPT) -std=c11 -D_GNU_SOURCE= -Wall -Wextra -Werror -MMD -MP -fno-strict-aliasing \
	$(INCLUDES) $(call pc,--cflags,$(ALL_PKGS))
LDFLAGS ?=
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

RUNTIME_LIBS := $(call pc,--libs,$(RUNTIME_PKGS)) -lm
AGENT_LIBS := $(call pc,--libs,$(AGENT_PKGS))
ORCH_LIBS := $(call pc,--libs,$(ORCH_PKGS)) -lm -lpthread
WEBAPP_LIBS := $(call pc,--libs,$(WEBAPP_PKGS)) -lm

UTIL_SRC := $(wildcard runtime/util/*.c)
RUNTIME_SRC := $(wildcard runtime/*.c runtime/image/*.c runtime/net/*.c runtime/managed/*.c)
# skiff-image holds the image verbs (libarchive, libcurl); skiff execs it for `skiff image(s)`,
# `pull` and `push` (and for the pull before `run` of a missing image), so the runtime binary
# does not pay libarchive's and libcurl's loader cost on every container start.
SKIFF_IMAGE_SRC := runtime/cmd/image.c runtime/cmd/image_main.c runtime/cmd/pull.c
# GSS-API, p11-kit and SASL forwarded and loaded on first call (the static skiff-image, below)
SKIFF_IMAGE_LAZY_SRC := runtime/cmd/image_lazy.c
SKIFF_SRC := $(filter-out $(SKIFF_IMAGE_SRC) $(SKIFF_IMAGE_LAZY_SRC),$(wildcard runtime/cmd/*.c))
# the flag tables and their parser, which skiff-image shares with skiff
CMD_SHARED_SRC := runtime/cmd/opts.c runtime/cmd/image_flags.c
ORCH_SRC := $(wildcard $(addsuffix /*.c,$(addprefix orchestrator/,core store server agent client)))
SKIFFD_SRC := $(wildcard orchestrator/cmd/skiffd*.c)
SKIFFCTL_SRC := $(wildcard orchestrator/ctl/*.c)
WEBAPP_LIB_SRC := $(filter-out examples/webapp/main.c,$(wildcard examples/webapp/*.c))
UNIT_SRC := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBUTIL := $(BUILD)/libskiffutil.a
LIBSKIFF := $(BUILD)/libskiff.a
LIBORCH := $(BUILD)/liborch.a
LIBWEBAPP := $(BUILD)/libwebapp.a
BINS := $(BUILD)/skiff $(BUILD)/skiff-image
ifneq ($(SKIFFD_SRC),)
BINS += $(BUILD)/skiffd
endif
ifneq ($(SKIFFCTL_SRC),)
BINS += $(BUILD)/skiffctl
endif
ifneq ($(wildcard examples/webapp/main.c),)
BINS += $(BUILD)/webapp
endif
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all deps test unit check-deps fmt fmt-check images clean bench install uninstall demo demo-down
all: $(BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIBUTIL): $(call obj,$(UTIL_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBSKIFF): $(call obj,$(RUNTIME_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBORCH): $(call obj,$(ORCH_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBWEBAPP): $(call obj,$(WEBAPP_LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Only what a container start needs: measured, the dynamic loader's work for
# libarchive/libxml2/libicu/libcrypto cost 20-40 ms and 4-7 MB per start.  And linked
# statically (static-pie, so ASLR stays): skiff is executed twice per container start
# (the CVE-2019-5736 re-exec), and the loader's work for its six shared libraries was
# ~0.5 ms of each exec on an idle machine and ~4 ms under load (README, start path).  The
# sanitizer build stays dynamic (ASan needs it).  glibc's link-time warnings about NSS
# functions in a static binary (getaddrinfo, getprotobyname, getprotobynumber: libnl's
# name helpers, which skiff never calls) are silenced; skiff's own code must not use NSS
# (getpwnam, getaddrinfo, ...): users and addresses are numeric in the runtime.
SKIFF_PKGS := jansson libseccomp libcap libnl-3.0 libnl-route-3.0
ifeq ($(SAN),1)
SKIFF_LINK := -Wl,--as-needed $(call pc,--libs,$(SKIFF_PKGS)) -lm
else
SKIFF_LINK := -static-pie $(call pc,--static --libs,$(SKIFF_PKGS)) -lm
endif

$(BUILD)/skiff: $(call obj,$(SKIFF_SRC)) $(LIBSKIFF) $(LIBUTIL)
	@$(CC) $(LDFLAGS) -o $@ $^ $(SKIFF_LINK) 2>$@.ld || { cat $@.ld >&2; rm -f $@.ld; exit 1; }
	@grep -v -e 'in statically linked applications requires' -e ': in function' $@.ld >&2; rm -f $@.ld
	@echo "$(CC) -o $@ ... $(SKIFF_LINK)"

# skiff-image links only what its verbs call at start; libarchive (with libxml2, ICU and
# libstdc++) is loaded when a layer is first unpacked or packed
# (runtime/image/image_libarchive.c): a warm pull or a push never pays for it.  libcurl and
# the libraries under it are linked from Debian's static archives (libcurl4-openssl-dev's
# libcurl.a and the -dev packages above): the loader then maps 13 libraries, not 35, and
# binds no symbols of the rest: skiff-image starts in ~8.5 ms instead of ~14.5 (perf stat
# -r 50), a pull is ~5-9 ms shorter.  Kerberos (curl's GSS-API), p11-kit (GnuTLS) and SASL
# (OpenLDAP) have no archive in Debian: runtime/cmd/image_lazy.c defines the functions the
# archives call and loads those libraries on the first call (a pull makes none), which
# took another ~2.4 ms off each start; ISA-L (no archive either) stays shared.  Relative
# relocations are packed (DT_RELR, glibc >= 2.36): 24,000 of them read from 8 KB, not
# 580.  SKIFF_IMAGE_STATIC=0 links all of it shared, as before.
SKIFF_IMAGE_STATIC ?= 1
ifeq ($(SKIFF_IMAGE_STATIC),1)
SKIFF_IMAGE_OBJS := $(call obj,$(SKIFF_IMAGE_SRC) $(CMD_SHARED_SRC) $(SKIFF_IMAGE_LAZY_SRC))
SKIFF_IMAGE_LIBS := -Wl,-z,pack-relative-relocs \
	-Wl,-Bstatic -Wl,--start-group -lcurl -lnghttp2 -lidn2 -lrtmp -lssh2 -lpsl \
	-lssl -lcrypto -lldap -llber -lgnutls -lhogweed -lnettle -lgmp -ltasn1 -lunistring -lzstd \
	-lbrotlidec -lbrotlicommon -lz -ljansson -Wl,--end-group -Wl,-Bdynamic \
	-lisal -latomic -lm -ldl -lpthread
else
SKIFF_IMAGE_OBJS := $(call obj,$(SKIFF_IMAGE_SRC) $(CMD_SHARED_SRC))
SKIFF_IMAGE_LIBS := $(call pc,--libs,jansson libcurl libisal) -lm
endif
$(call obj,$(SKIFF_IMAGE_LAZY_SRC)): CFLAGS += $(call pc,--cflags,krb5-gssapi p11-kit-1 libsasl2)
$(BUILD)/skiff-image: $(SKIFF_IMAGE_OBJS) $(LIBSKIFF) $(LIBUTIL)
	$(CC) $(LDFLAGS) -o $@ $^ $(SKIFF_IMAGE_LIBS)

$(BUILD)/skiffd: $(call obj,$(SKIFFD_SRC)) $(LIBORCH) $(LIBSKIFF) $(LIBUTIL)
	$(CC) $(LDFLAGS) -o $@ $^ $(ORCH_LIBS) $(AGENT_LIBS) $(RUNTIME_LIBS)

$(BUILD)/skiffctl: $(call obj,$(SKIFFCTL_SRC)) $(LIBORCH) $(LIBUTIL)
	$(CC) $(LDFLAGS) -o $@ $^ $(ORCH_LIBS)

$(BUILD)/webapp: $(call obj,examples/webapp/main.c) $(LIBWEBAPP) $(LIBUTIL)
	$(CC) $(LDFLAGS) -o $@ $^ $(WEBAPP_LIBS)

CTL_OBJS = $(call obj,$(filter-out orchestrator/ctl/skiffctl.c,$(SKIFFCTL_SRC)))
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(CTL_OBJS) $(LIBORCH) $(LIBWEBAPP) $(LIBSKIFF) $(LIBUTIL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(ORCH_LIBS) $(WEBAPP_LIBS) $(AGENT_LIBS) $(RUNTIME_LIBS)

# the forwarders alone, without the libraries they load (runtime/cmd/image_lazy.c)
$(BUILD)/tests/test_image_lazy: $(BUILD)/obj/tests/unit/test_image_lazy.o \
		$(call obj,$(SKIFF_IMAGE_LAZY_SRC)) $(LIBUTIL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^
$(BUILD)/obj/tests/unit/test_image_lazy.o: CFLAGS += $(call pc,--cflags,krb5-gssapi p11-kit-1 libsasl2)

unit: $(UNIT_BINS)

# Installs only what is missing; quiet when everything is there.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  (apt-get -o DPkg::Lock::Timeout=600 update -qq || true) && \
	  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq $$missing >/dev/null; \
	fi

# The sanitizer build lives in build/san so it never mixes with the optimised one.
test: deps
	$(MAKE) all
	$(MAKE) BUILD=build/san SAN=1 all unit
	SKIFF_BUILD=$(CURDIR)/build/san tests/run

bench: all
	tests/bench/run

# The tour (README): a 3-host cluster on this machine heals the web app; it stays up.
demo: deps
	$(MAKE) all
	examples/demo.sh

# Takes down what `make demo` left up (every namespace, link, container and process).
demo-down:
	examples/cluster down $(if $(DEMO_DIR),--dir $(DEMO_DIR))

images: all
	images/build-all

fmt:
	clang-format -i $$(git ls-files '*.c' '*.h')

fmt-check:
	@bad=$$(for f in $$(git ls-files -co --exclude-standard '*.c' '*.h'); do \
	  clang-format --dry-run --Werror "$$f" >/dev/null 2>&1 || echo "$$f"; done); \
	if [ -n "$$bad" ]; then echo "not formatted (run make fmt):"; echo "$$bad"; exit 1; fi

# make install [PREFIX=/usr/local] [DESTDIR=] [IMMUTABLE=1]: the binaries into
# $(PREFIX)/bin.  The installed skiff is made immutable (chattr +i): no process can then
# write it through /proc/PID/exe (CVE-2019-5736), so its create and run need no re-exec
# through a read-only overlay (runtime/cloned_binary.h).  IMMUTABLE=0, or a filesystem
# without the flag, installs it plain (skiff then re-executes, as from build/).
# make uninstall: removes them (clearing the flag first).
PREFIX ?= /usr/local
IMMUTABLE ?= 1
install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	-chattr -i $(DESTDIR)$(PREFIX)/bin/skiff 2>/dev/null
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	@if [ "$(IMMUTABLE)" = 1 ]; then \
	  chattr +i $(DESTDIR)$(PREFIX)/bin/skiff && echo "$(DESTDIR)$(PREFIX)/bin/skiff: immutable" || \
	  echo "$(DESTDIR)$(PREFIX)/bin/skiff: the immutable flag cannot be set here; skiff re-executes through an overlay at each create/run"; \
	fi

uninstall:
	-chattr -i $(DESTDIR)$(PREFIX)/bin/skiff 2>/dev/null
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(notdir $(BINS)))

clean:
	rm -rf build

# keep the objects of unit tests and fuzzers (they are intermediate files to make)
.SECONDARY:

# ---- fuzzing (tests/fuzz/): libFuzzer harnesses built with Debian's clang ----------------
#   make fuzz          build every harness and fuzz each for FUZZ_SECONDS (default 60)
#   make fuzz-replay   build every harness and run it over its saved corpus only (TAP)
# Harness tests/fuzz/fuzz_NAME.c uses the corpus tests/fuzz/corpus/NAME/; new inputs go
# to build/fuzz/work/NAME, crashes to build/fuzz/crash-NAME-* (turn one into a
# regression input by copying it into the corpus once the bug is fixed).
FUZZ_BUILD := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_CC := clang
FUZZ_CFLAGS := -g -O1 -std=c11 -D_GNU_SOURCE= -Wall -Wextra -Wno-unused-command-line-argument -MMD -MP \
	-fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
	$(INCLUDES) $(call pc,--cflags,$(ALL_PKGS))
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_SRC))
fuzzobj = $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(1))

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/libskiff.a: $(call fuzzobj,$(RUNTIME_SRC) $(UTIL_SRC))
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/liborch.a: $(call fuzzobj,$(ORCH_SRC))
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/liborch.a $(FUZZ_BUILD)/libskiff.a
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(ORCH_LIBS) $(AGENT_LIBS) $(RUNTIME_LIBS)

.PHONY: fuzz fuzz-build fuzz-replay
fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/work
	@for h in $(FUZZ_BINS); do n=$${h##*/fuzz_}; mkdir -p $(FUZZ_BUILD)/work/$$n tests/fuzz/corpus/$$n; \
	  echo "== $$h for $(FUZZ_SECONDS)s"; \
	  $$h -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/crash-$$n- $(FUZZ_BUILD)/work/$$n tests/fuzz/corpus/$$n \
	    2>&1 | grep -E '^(stat::|==[0-9]+==|SUMMARY|Done|INFO: Running)' || true; \
	  [ -z "$$(ls $(FUZZ_BUILD)/crash-$$n-* 2>/dev/null)" ] || { echo "$$h: crash saved in $(FUZZ_BUILD)/crash-$$n-*"; exit 1; }; \
	done

fuzz-replay: fuzz-build
	@i=0; for h in $(FUZZ_BINS); do i=$$((i + 1)); n=$${h##*/fuzz_}; \
	  files=$$(ls tests/fuzz/corpus/$$n/* 2>/dev/null | wc -l); \
	  if [ $$files -gt 0 ] && $$h -runs=0 tests/fuzz/corpus/$$n/* >$(FUZZ_BUILD)/replay-$$n.log 2>&1; then \
	    echo "ok $$i - fuzz_$$n replays $$files inputs"; \
	  else echo "not ok $$i - fuzz_$$n replay ($$files inputs; see $(FUZZ_BUILD)/replay-$$n.log)"; fi; \
	done; echo "1..$$i"

# Header dependencies of every object (after FUZZ_BUILD is set: an include expands at once, and
# with FUZZ_BUILD still empty the fuzzers' objects were never rebuilt when a header changed).
-include $(shell find $(BUILD)/obj $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
