# tpp — traffic-trace analyser.  Plain GNU make; dependencies come from Debian via pkg-config.
PREFIX ?= /usr/local
PKGS    = lua5.4 libpcap zlib
CC     ?= cc
CFLAGS ?= -O2 -g
WARN    = -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE
# ISA-L's igzip inflates gzip about 3x faster than zlib; it is used when its Debian package is installed.
ISAL := $(shell pkg-config --exists libisal 2>/dev/null && echo libisal)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(ISAL) 2>/dev/null) $(if $(ISAL),-DHAVE_ISAL)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) $(ISAL) 2>/dev/null)
CPPFLAGS += -Iinclude $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lreadline -lm -pthread
SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

CORE    = packet capture inflate interval parse handoff result addr_table pcap_writer outfile dump
BINDING = ltpp lresult lpackets lwriter repl lproc
SRCS    = $(addprefix src/,$(addsuffix .c,$(CORE) $(BINDING) main))
OBJS    = $(SRCS:src/%.c=build/%.o)
ASAN_OBJS = $(SRCS:src/%.c=build/asan/%.o)
TSAN_OBJS = $(SRCS:src/%.c=build/tsan/%.o)
HEADERS = $(wildcard include/tpp/*.h src/*.h)

BUSTED  = tests/busted.lua

.PHONY: all test test-c bench install clean deps
all: tpp

tpp: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

build/%.o: src/%.c $(HEADERS) | build
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

# The sanitizer build: same sources, ASan + UBSan, used by `make test`.
build/tpp-asan: $(ASAN_OBJS)
	$(CC) $(SAN) $(CFLAGS) $(LDFLAGS) -o $@ $(ASAN_OBJS) $(LDLIBS)

build/asan/%.o: src/%.c $(HEADERS) | build/asan
	$(CC) $(WARN) $(SAN) -O1 -g $(CPPFLAGS) -c -o $@ $<

# A zlib-only build (no ISA-L), to test the other gzip backend.
build/tpp-zlib: $(SRCS) $(HEADERS) | build
	$(MAKE) --no-print-directory -s ISAL= BUILD_ZLIB=1 build/zlib/tpp

ifdef BUILD_ZLIB
ZLIB_OBJS = $(SRCS:src/%.c=build/zlib/%.o)
build/zlib/tpp: $(ZLIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(ZLIB_OBJS) $(LDLIBS)
	cp $@ build/tpp-zlib

build/zlib/%.o: src/%.c $(HEADERS) | build/zlib
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<
endif

build/zlib:
	mkdir -p $@

# ThreadSanitizer build: the parse pipeline runs two threads.
build/tpp-tsan: $(TSAN_OBJS)
	$(CC) -fsanitize=thread $(CFLAGS) $(LDFLAGS) -o $@ $(TSAN_OBJS) $(LDLIBS)

build/tsan/%.o: src/%.c $(HEADERS) | build/tsan
	$(CC) $(WARN) -fsanitize=thread -O1 -g $(CPPFLAGS) -c -o $@ $<

build build/asan build/tsan:
	mkdir -p $@

# Specs run inside tpp itself (busted as a library), then again under the sanitizer build.
test: tpp build/tpp-asan build/tpp-tsan build/tpp-zlib test-c
	./tpp $(BUSTED) tests
	ASAN_OPTIONS=detect_leaks=1 TPP=build/tpp-asan \
		build/tpp-asan $(BUSTED) tests
	TSAN_OPTIONS=halt_on_error=1 TPP=build/tpp-tsan build/tpp-tsan $(BUSTED) tests/parity_spec.lua tests/engine_spec.lua \
		tests/gzip_spec.lua
	TPP=build/tpp-zlib build/tpp-zlib $(BUSTED) tests/gzip_spec.lua

bench: tpp build/pcap_loop
	bench/run.sh

install: tpp
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tpp/lua/tpp
	install -m 755 tpp $(DESTDIR)$(PREFIX)/bin/tpp
	install -m 644 lua/tpp/*.lua $(DESTDIR)$(PREFIX)/share/tpp/lua/tpp/
	install -d $(DESTDIR)$(PREFIX)/share/tpp/scripts
	install -m 644 scripts/*.lua $(DESTDIR)$(PREFIX)/share/tpp/scripts/

# Install the Debian packages tpp needs to build and test (sudo when not root).
deps:
	scripts/install-deps.sh

clean:
	rm -rf build tpp

build/pcap_loop: bench/pcap_loop.c | build
	$(CC) $(WARN) $(CFLAGS) -o $@ $< $(shell pkg-config --libs libpcap)

# C-level tests, built with the sanitizers against the core sources they test.
build/decode_bounds: tests/c/decode_bounds.c src/packet.c $(HEADERS) | build
	$(CC) $(WARN) $(SAN) -O1 -g -Iinclude -o $@ tests/c/decode_bounds.c src/packet.c

test-c: build/decode_bounds
	build/decode_bounds
