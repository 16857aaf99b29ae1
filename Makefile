# cairn: a layered container image builder.
#   make             build ./build/cairn
#   make deps        install the Debian packages it needs (apt-get)
#   make check       build and run every test (needs root)
#   make check SANITIZE=address,undefined
#   make demo        build the example images and run hello with cairn run
#                    (store: build/demo-store unless CAIRN_ROOT is set)
#   make bench       issue 16's table: builds vs buildah, commit vs tar | zstd / pigz,
#                    push/pull vs skopeo; BENCH_CASES, BENCH_RUNS (bench/README.md)
#   make bench-commit    a 1 GiB layer commit vs tar | zstd -T2 and tar | pigz
#   make bench-registry  push/pull vs skopeo copy, against a local registry
#   make bench-cache build cache shared through a local registry, cairn vs buildah
#   make bench-rootless  root cairn vs rootless cairn vs rootless buildah
#   make bench-compose   compose build of examples/three-tier vs buildah bud of its Buildfiles
#   make debian-base the debian:12 base image (debootstrap once, then cached)
#   make three-tier  examples/three-tier: postgres, two node apps, nginx (a compose project)
#   make os-container examples/debian-systemd: Debian booting systemd (run --systemd), nginx a unit
#   make install     PREFIX=/usr/local DESTDIR= : the binary and its man page
#   make uninstall
#   make man         regenerate docs/cairn.1 from the --help texts
#   make analyze     cppcheck with .ci/cppcheck-suppressions.txt
#   make fuzz        build the libFuzzer harnesses (tests/fuzz/, clang, ASan+UBSan,
#                    in build-fuzz/) and run each for FUZZ_TIME seconds (default 60)
#                    on a scratch copy of its seed corpus; fails on a crash, leak or
#                    timeout. FUZZ=NAME runs one harness (e.g. FUZZ=extract).
#   make torture     kill -9 at random moments of build/pull/push/prune/save/load/
#                    rollback; fsck and a follow-up build after each (TORTURE_KILLS=200)
# Knobs: CC=clang (builds in build-clang/), WERROR=0 (packagers: warnings
# stay warnings), CFLAGS/LDFLAGS as usual.

CC ?= gcc
SANITIZE ?=
WERROR ?= 1
PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man
PKG_CONFIG ?= pkg-config

comma := ,
CC_NAME := $(notdir $(firstword $(CC)))
BUILD := build$(if $(filter cc gcc,$(CC_NAME)),,-$(CC_NAME))$(if $(SANITIZE),-$(subst $(comma),-,$(SANITIZE)))

PKGS := libarchive libzstd jansson libcrypto libssl zlib libcurl libseccomp libnftables libmnl yaml-0.1
# Debian packages: build, tests and examples.
DEB_BUILD := gcc make pkg-config libarchive-dev libzstd-dev libjansson-dev libssl-dev zlib1g-dev \
	libcurl4-openssl-dev libseccomp-dev libnftables-dev libmnl-dev libyaml-dev
DEB_TEST := skopeo umoci busybox-static zstd bzip2 jq runc util-linux strace python3 uidmap libcap2-bin \
	docker-registry apache2-utils openssl curl python3-cryptography debootstrap podman xz-utils \
	buildah \
	qemu-user-static binfmt-support lxc lxc-templates
# Installed without their recommends (qemu's would bring a GUI): the
# runtimes the exports for other runtimes are tested with (t084*).
DEB_LEAN := qemu-system-x86 systemd-container e2fsprogs
DEB_ALL := $(DEB_BUILD) $(DEB_TEST)
# CI only (.ci/run): a second compiler, the static analyzer and libFuzzer's
# runtime (only recommended by clang, so named).
DEB_CI := clang cppcheck libclang-rt-dev

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wformat-security -Wvla -Wpointer-arith -Wundef -Wcast-qual \
	-Wnull-dereference -Wimplicit-fallthrough
ifneq ($(findstring clang,$(CC_NAME)),)
# clang-only finding, kept off: -Wmissing-field-initializers, because
# libseccomp's SCMP_A0_32 macro (seccomp.h) leaves datum_b to
# zero-initialization (sandbox/seccomp.c).
WARN += -Wno-missing-field-initializers
endif
ifeq ($(WERROR),1)
WARN += -Werror
endif
CFLAGS ?= -O2 -g

# Hardening: cairn runs as root and parses hostile input (images, tars,
# registries). The distribution's choice where dpkg-buildflags exists
# (hardening=+all), else the same flags by hand. _FORTIFY_SOURCE needs
# optimization (the checks are inlined), so not at -O0; level 3 when the
# compiler has __builtin_dynamic_object_size; and not under a sanitizer
# (ASan's interceptors do not see the __*_chk variants FORTIFY calls).
HAVE_DPKG_BUILDFLAGS := $(shell command -v dpkg-buildflags >/dev/null 2>&1 && echo 1)
ifeq ($(HAVE_DPKG_BUILDFLAGS),1)
DPKG_FLAGS = DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get
HARDEN_CFLAGS := $(filter -fstack-protector% -fstack-clash-protection -fcf-protection%,$(shell $(DPKG_FLAGS) CFLAGS))
HARDEN_LDFLAGS := $(filter -Wl$(comma)-z$(comma)%,$(shell $(DPKG_FLAGS) LDFLAGS))
FORTIFY := $(if $(filter -D_FORTIFY_SOURCE=%,$(shell $(DPKG_FLAGS) CPPFLAGS)),1)
else
HARDEN_CFLAGS := -fstack-protector-strong
HARDEN_LDFLAGS := -Wl,-z,relro -Wl,-z,now
FORTIFY := 1
endif
ifeq ($(FORTIFY)$(SANITIZE),1)
ifneq ($(filter-out -O0,$(filter -O%,$(CFLAGS))),)
FORTIFY_LEVEL := $(shell printf 'int main(void){return (int)__builtin_dynamic_object_size("",0);}' | \
	$(CC) -x c -o /dev/null - >/dev/null 2>&1 && echo 3 || echo 2)
HARDEN_CFLAGS += -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=$(FORTIFY_LEVEL)
endif
endif

CFLAGS += -std=gnu11 $(WARN) $(HARDEN_CFLAGS) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Isrc \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
LDFLAGS += $(HARDEN_LDFLAGS)
# libcurl, libnftables and libarchive are loaded when first used
# (src/util/lazylib.c, lazyarchive.c), so the commands that need none of them
# do not map them and the ~40 libraries they pull in at start-up: they are not
# linked, only their headers are used. Unit tests and fuzzers call more of
# libarchive than cairn does: they link it (LAZY_TEST_LIBS) and not
# lazyarchive.o (kept out of libcairn.a), whose forwarders would otherwise be
# exported by them and bound to by libarchive's own calls.
LAZY_LIBS := -lcurl -lnftables -larchive
LAZY_TEST_LIBS := -larchive
LAZY_ARCHIVE_OBJ = $(BUILD)/src/util/lazyarchive.o
LDLIBS += $(filter-out $(LAZY_LIBS),$(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)) -ldl -lpthread
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif
# Each object's header dependencies, written by the compiler (build/**/*.d).
DEPFLAGS := -MMD -MP

LIB_SRCS := $(sort $(filter-out src/cli/%,$(wildcard src/*/*.c)))
CLI_SRCS := $(sort $(wildcard src/cli/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_LIB := $(BUILD)/tests/unit.o
# Fixtures check their calls (unit_symlink and friends in tests/unit/unit.c),
# so FORTIFY's warn_unused_result applies to the unit tests too.
UNIT_CFLAGS = $(CFLAGS) -Itests/unit

all: $(BUILD)/cairn

# A missing library is an error here, not an empty flag list and a
# confusing compiler error later.
pkg-config-check:
	@command -v $(PKG_CONFIG) >/dev/null || { echo "error: $(PKG_CONFIG) not found (make deps)" >&2; exit 1; }
	@missing=; for p in $(PKGS); do $(PKG_CONFIG) --exists $$p || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "error: $(PKG_CONFIG) does not find:$$missing (install the -dev packages: make deps)" >&2; \
		exit 1; \
	fi

$(BUILD)/%.o: %.c | pkg-config-check
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(UNIT_LIB): tests/unit/unit.c | pkg-config-check
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/libcairn.a: $(filter-out $(LAZY_ARCHIVE_OBJ),$(LIB_OBJS))
	rm -f $@
	ar rcs $@ $^

$(BUILD)/cairn: $(CLI_OBJS) $(LAZY_ARCHIVE_OBJ) $(BUILD)/libcairn.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(LAZY_ARCHIVE_OBJ) $(BUILD)/libcairn.a $(LDLIBS)
	ln -sf $(notdir $@) $(BUILD)/cairn-bin 2>/dev/null || true

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_LIB) $(BUILD)/libcairn.a
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $(DEPFLAGS) $(LDFLAGS) -o $@ $< $(UNIT_LIB) $(BUILD)/libcairn.a $(LDLIBS) $(LAZY_TEST_LIBS)

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(UNIT_LIB:.o=.d) $(UNIT_BINS:=.d)

deps-ci:
	$(MAKE) deps DEB_ALL="$(DEB_CI)" DEB_LEAN=

deps:
	@missing=""; for p in $(DEB_ALL); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	lean=""; for p in $(DEB_LEAN); do dpkg -s $$p >/dev/null 2>&1 || lean="$$lean $$p"; done; \
	if [ -n "$$missing$$lean" ]; then apt-get update -qq; fi; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi; \
	if [ -n "$$lean" ]; then \
		echo "installing (no recommends):$$lean"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$lean; \
	fi

units: $(UNIT_BINS)

# Unsafe string functions are banned (after git's banned.h); grep, since a
# macro header would clash with the system headers' own declarations.
lint:
	@! grep -nE '\<(strcpy|strcat|sprintf|vsprintf|gets)\s*\(' $(LIB_SRCS) $(CLI_SRCS) $(FUZZ_SRCS) || \
		{ echo "banned function used (see above)"; exit 1; }

# Static analysis (cppcheck): warnings fatal; each suppression in the file
# says why. The include paths are given so it does not guess macros.
CPPCHECK ?= cppcheck
analyze:
	$(CPPCHECK) --quiet --error-exitcode=1 --inline-suppr \
		--enable=warning,portability,performance --std=c11 --language=c \
		--suppressions-list=.ci/cppcheck-suppressions.txt --include=.ci/cppcheck-macros.h \
		-D_GNU_SOURCE -D__linux__ -Isrc -Itests/unit -Itests/fuzz \
		$(LIB_SRCS) $(CLI_SRCS) $(UNIT_SRCS) tests/unit/unit.c $(FUZZ_SRCS)

# Fuzzing: the library built again by clang with libFuzzer's coverage
# (fuzzer-no-link) and ASan+UBSan in build-fuzz/, one binary per
# tests/fuzz/fuzz_NAME.c. Not part of check (it runs for minutes).
FUZZ_TIME ?= 60
FUZZ_CC ?= clang
FUZZ_BUILD := build-fuzz
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ ?=

fuzz:
	$(MAKE) fuzz-build CC=$(FUZZ_CC) BUILD=$(FUZZ_BUILD) SANITIZE=fuzzer-no-link,address,undefined
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_TIME) $(FUZZ)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libcairn.a
	$(CC) $(CFLAGS) -Itests/fuzz $(DEPFLAGS) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_BUILD)/libcairn.a $(LDLIBS) $(LAZY_TEST_LIBS)

-include $(FUZZ_BINS:=.d)

check: deps lint
	$(MAKE) all units
	CAIRN=$(abspath $(BUILD)/cairn) CAIRN_SANITIZE=$(SANITIZE) UNIT_DIR=$(abspath $(BUILD)/tests) tests/run.sh

# The demo's store is $(BUILD)/demo-store unless CAIRN_ROOT names one.
demo: deps all
	CAIRN=$(abspath $(BUILD)/cairn) CAIRN_ROOT="$${CAIRN_ROOT:-$(abspath $(BUILD))/demo-store}" examples/demo.sh

bench: deps all $(BUILD)/bench/commit
	CAIRN=$(abspath $(BUILD)/cairn) COMMIT_PROBE=$(abspath $(BUILD)/bench/commit) \
		BENCH_OUT="$${BENCH_OUT:-$(abspath $(BUILD))/bench}" bench/run.sh

# A layer commit of a 1 GiB tree: cairn's writer vs tar | zstd -T2 / pigz.
bench-commit: $(BUILD)/bench/commit
	COMMIT_PROBE=$(abspath $(BUILD)/bench/commit) bench/commit.sh

$(BUILD)/bench/commit: bench/tools/commit.c $(LAZY_ARCHIVE_OBJ) $(BUILD)/libcairn.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LAZY_ARCHIVE_OBJ) $(BUILD)/libcairn.a $(LDLIBS)

bench-registry: deps all
	CAIRN=$(abspath $(BUILD)/cairn) bench/registry.sh

bench-cache: deps all
	CAIRN=$(abspath $(BUILD)/cairn) bench/cache.sh

bench-rootless: deps all
	CAIRN=$(abspath $(BUILD)/cairn) bench/rootless.sh

bench-compose: deps all
	CAIRN=$(abspath $(BUILD)/cairn) bench/compose.sh

debian-base: all
	CAIRN=$(abspath $(BUILD)/cairn) examples/debian/build.sh

torture: deps all
	CAIRN=$(abspath $(BUILD)/cairn) tests/torture/run.sh

three-tier: all
	CAIRN=$(abspath $(BUILD)/cairn) examples/three-tier/check.sh

os-container: all
	CAIRN=$(abspath $(BUILD)/cairn) examples/debian-systemd/run.sh

# docs/cairn.1 is generated from the --help texts (docs/gen-man.sh) and
# checked in; man-check fails when it no longer matches the binary.
man: all
	docs/gen-man.sh $(BUILD)/cairn >docs/cairn.1.tmp && mv docs/cairn.1.tmp docs/cairn.1

man-check: all
	@docs/gen-man.sh $(BUILD)/cairn | diff -u docs/cairn.1 - || \
		{ echo "docs/cairn.1 is stale: run 'make man'" >&2; exit 1; }
	@if command -v groff >/dev/null; then \
		w=$$(groff -man -ww -z docs/cairn.1 2>&1); [ -z "$$w" ] || { echo "$$w" >&2; exit 1; }; \
	fi

install: all
	install -D -m 0755 $(BUILD)/cairn $(DESTDIR)$(PREFIX)/bin/cairn
	install -D -m 0644 docs/cairn.1 $(DESTDIR)$(MANDIR)/man1/cairn.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/cairn $(DESTDIR)$(MANDIR)/man1/cairn.1

clean:
	rm -rf build build-*

.PHONY: all deps deps-ci lint analyze check units demo bench bench-commit bench-registry bench-cache bench-rootless bench-compose debian-base three-tier os-container torture \
	install uninstall man man-check clean pkg-config-check fuzz fuzz-build
