# cairn: a layered container image builder.
#   make             build ./build/cairn
#   make deps        install the Debian packages it needs (apt-get)
#   make check       build and run every test (needs root)
#   make check SANITIZE=address,undefined
#   make demo        build the example images and run hello's command
#   make bench       cairn vs buildah, side by side
#   make bench-registry  push/pull vs skopeo copy, against a local registry
#   make debian-base the debian:12 base image (debootstrap once, then cached)
#   make three-tier  examples/three-tier: postgres, two node apps, nginx (detached containers)

CC ?= gcc
SANITIZE ?=
PREFIX ?= /usr/local

comma := ,
BUILD := build$(if $(SANITIZE),-$(subst $(comma),-,$(SANITIZE)))

PKGS := libarchive libzstd jansson libcrypto libssl zlib libcurl libseccomp
# Debian packages: build, tests and examples.
DEB_BUILD := gcc make pkg-config libarchive-dev libzstd-dev libjansson-dev libssl-dev zlib1g-dev \
	libcurl4-openssl-dev libseccomp-dev
DEB_TEST := skopeo umoci busybox-static zstd bzip2 jq runc util-linux strace python3 \
	docker-registry apache2-utils openssl curl python3-cryptography debootstrap podman xz-utils
DEB_ALL := $(DEB_BUILD) $(DEB_TEST)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wformat-security -Wvla -Wpointer-arith -Wundef -Wcast-qual \
	-Wnull-dereference -Wimplicit-fallthrough
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Isrc \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

LIB_SRCS := $(sort $(filter-out src/cli/%,$(wildcard src/*/*.c)))
CLI_SRCS := $(sort $(wildcard src/cli/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
HEADERS := $(wildcard src/*/*.h)

all: $(BUILD)/cairn

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libcairn.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/cairn: $(CLI_OBJS) $(BUILD)/libcairn.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/libcairn.a $(LDLIBS)
	ln -sf $(notdir $@) $(BUILD)/cairn-bin 2>/dev/null || true

$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h $(BUILD)/libcairn.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libcairn.a $(LDLIBS)

deps:
	@missing=""; for p in $(DEB_ALL); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

units: $(UNIT_BINS)

# Unsafe string functions are banned (after git's banned.h); grep, since a
# macro header would clash with the system headers' own declarations.
lint:
	@! grep -nE '\<(strcpy|strcat|sprintf|vsprintf|gets)\s*\(' $(LIB_SRCS) $(CLI_SRCS) || \
		{ echo "banned function used (see above)"; exit 1; }

check: deps lint
	$(MAKE) all units
	CAIRN=$(abspath $(BUILD)/cairn) UNIT_DIR=$(abspath $(BUILD)/tests) tests/run.sh

demo: deps all
	CAIRN=$(abspath $(BUILD)/cairn) examples/demo.sh

bench: deps all
	CAIRN=$(abspath $(BUILD)/cairn) bench/run.sh

bench-registry: deps all
	CAIRN=$(abspath $(BUILD)/cairn) bench/registry.sh

debian-base: all
	CAIRN=$(abspath $(BUILD)/cairn) examples/debian/build.sh

three-tier: all
	CAIRN=$(abspath $(BUILD)/cairn) examples/three-tier/run.sh

install: all
	install -D -m 0755 $(BUILD)/cairn $(DESTDIR)$(PREFIX)/bin/cairn

clean:
	rm -rf build build-*

.PHONY: all deps lint check units demo bench bench-registry debian-base three-tier install clean
