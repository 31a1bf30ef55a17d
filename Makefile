# tpp — traffic-trace analyser.  Plain GNU make; dependencies come from Debian via pkg-config.
PREFIX ?= /usr/local
PKGS    = lua5.4 libpcap zlib libzstd liblzma
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

CORE    = packet labels linktype_names capture pcap_records pcapng_records inflate zstd_xz gzindex aggregate interval_stats features merge split \
          parse handoff result \
          result_ports result_summary result_export \
          addr_table writer outfile dump zpieces fingerprint interrupt
CORE   += flow_table flow_sort seen_table
BINDING = ltpp lfail loptions llabels lresult lmerge lsplit lpackets lwriter lrun repl lproc linterrupt lconfig
SRCS    = $(addprefix src/,$(addsuffix .c,$(CORE) $(BINDING) main))
OBJS    = $(SRCS:src/%.c=build/%.o)
ASAN_OBJS = $(SRCS:src/%.c=build/asan/%.o)
TSAN_OBJS = $(SRCS:src/%.c=build/tsan/%.o)
HEADERS = $(wildcard include/tpp/*.h src/*.h)

BUSTED  = tests/busted.lua

.PHONY: all test test-c test-cluster bench install clean deps
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
test: tpp build/tpp-asan build/tpp-tsan build/tpp-zlib test-c test-corpus test-cluster
	./tpp $(BUSTED) tests
	ASAN_OPTIONS=detect_leaks=1 TPP=build/tpp-asan \
		build/tpp-asan $(BUSTED) tests
	TSAN_OPTIONS=halt_on_error=1 TPP=build/tpp-tsan build/tpp-tsan $(BUSTED) tests/parity_spec.lua tests/parse_spec.lua \
		tests/interval_spec.lua tests/decode_spec.lua tests/gzip_spec.lua tests/dump_spec.lua tests/formats_spec.lua \
		tests/flat_cost_spec.lua tests/dump_pieces_spec.lua
	TPP=build/tpp-zlib build/tpp-zlib $(BUSTED) tests/gzip_spec.lua tests/dump_pieces_spec.lua

# The main job on real engines (issue 15): a single-node Slurm (munged, slurmctld, slurmd; tests/cluster/slurm.sh)
# in a temporary directory of this checkout's own, and GNU parallel; tests/cluster_spec.lua compares their outputs
# with a local run's byte for byte.  The daemons are stopped by their PIDs also when the specs fail; when they
# cannot start, the target fails.
CLUSTER_DIR ?= $(or $(TMPDIR),/tmp)/tpp-cluster-$(shell printf '%s' "$(CURDIR)" | cksum | cut -d' ' -f1)
test-cluster: tpp
	@trap "tests/cluster/slurm.sh stop '$(CLUSTER_DIR)'" EXIT INT TERM; \
	env=$$(tests/cluster/slurm.sh start '$(CLUSTER_DIR)') || { echo "test-cluster: FAILED: Slurm did not start" >&2; exit 1; }; \
	eval "$$env"; echo "test-cluster: Slurm up ($$SLURM_CONF)"; \
	TPP_TEST_CLUSTER=1 ./tpp $(BUSTED) tests/cluster_spec.lua

bench: tpp build/pcap_loop build/flow_floor
	bench/run.sh

install: tpp
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tpp/lua/tpp
	install -m 755 tpp $(DESTDIR)$(PREFIX)/bin/tpp
	install -m 644 lua/tpp/*.lua $(DESTDIR)$(PREFIX)/share/tpp/lua/tpp/
	install -d $(DESTDIR)$(PREFIX)/share/tpp/scripts
	install -m 644 scripts/*.lua $(DESTDIR)$(PREFIX)/share/tpp/scripts/
	install -d $(DESTDIR)$(PREFIX)/share/tpp/scripts/examples
	install -m 644 scripts/examples/*.lua $(DESTDIR)$(PREFIX)/share/tpp/scripts/examples/
	install -d $(DESTDIR)$(PREFIX)/share/tpp/data
	install -m 644 data/sample.pcap.gz $(DESTDIR)$(PREFIX)/share/tpp/data/
	@echo "installed $(PREFIX)/bin/tpp; its Lua library, scripts (exec.lua, plot.lua, synth.lua, examples/)"
	@echo "and the sample (data/sample.pcap.gz) under $(PREFIX)/share/tpp:"
	@echo "  tpp $(PREFIX)/share/tpp/scripts/exec.lua     runs the main job from any directory"

# Install the Debian packages tpp needs to build and test (sudo when not root).
deps:
	scripts/install-deps.sh

clean:
	rm -rf build tpp

build/pcap_loop: bench/pcap_loop.c | build
	$(CC) $(WARN) $(CFLAGS) -o $@ $< $(shell pkg-config --libs libpcap)

build/flow_floor: bench/flow_floor.c | build
	$(CC) $(WARN) $(CFLAGS) -o $@ $< $(shell pkg-config --libs libpcap)

# C-level tests, built with the sanitizers against the core sources they test.
build/decode_bounds: tests/c/decode_bounds.c src/packet.c $(HEADERS) | build
	$(CC) $(WARN) $(SAN) -O1 -g -Iinclude -o $@ tests/c/decode_bounds.c src/packet.c

# tpp's own pcap reader against libpcap, on every capture in the tests (and in the corpus, by test-corpus).
CAPTURE_SRCS = src/capture.c src/gzindex.c src/fingerprint.c src/outfile.c src/pcap_records.c src/pcapng_records.c src/inflate.c src/zstd_xz.c src/handoff.c \
               src/packet.c src/linktype_names.c
build/capture_readers: tests/c/capture_readers.c tests/c/readers_agree.h $(CAPTURE_SRCS) $(HEADERS) | build
	$(CC) $(WARN) $(SAN) -O1 -g $(CPPFLAGS) -iquote src -o $@ tests/c/capture_readers.c $(CAPTURE_SRCS) $(PKG_LIBS) -pthread

# The result core without Lua: the export cell formatter, port statistics, selections, summary fields.
RESULT_SRCS = src/result.c src/result_ports.c src/result_summary.c src/result_export.c src/fingerprint.c \
              src/outfile.c src/labels.c
build/result_core: tests/c/result_core.c $(RESULT_SRCS) $(HEADERS) | build
	$(CC) $(WARN) $(SAN) -O1 -g -Iinclude -o $@ tests/c/result_core.c $(RESULT_SRCS) -lm

# The per-interval features (features.c) on tables built by hand.
build/features_test: tests/c/features_test.c src/features.c src/interval_stats.c $(HEADERS) | build
	$(CC) $(WARN) $(SAN) -O1 -g -Iinclude -iquote src -o $@ tests/c/features_test.c src/features.c src/interval_stats.c -lm -pthread

# The one pass's looking-back state: the flow table against a model, and a parse's seen addresses, head and tail.
build/collect_state: tests/c/collect_state.c $(addprefix src/,$(addsuffix .c,$(CORE))) $(HEADERS) | build
	$(CC) $(WARN) $(SAN) -O1 -g $(CPPFLAGS) -iquote src -o $@ tests/c/collect_state.c \
		$(addprefix src/,$(addsuffix .c,$(CORE))) $(PKG_LIBS) -lm -pthread

# Zlib streams made in pieces (the dump's large sections) against zlib's inflate, on one thread and on two.
build/zpieces_test: tests/c/zpieces_test.c src/zpieces.c $(HEADERS) | build
	$(CC) $(WARN) $(SAN) -O1 -g $(CPPFLAGS) -iquote src -o $@ tests/c/zpieces_test.c src/zpieces.c $(PKG_LIBS) -pthread

test-c: build/decode_bounds build/capture_readers build/result_core build/features_test build/collect_state build/zpieces_test
	build/decode_bounds
	build/result_core
	build/features_test
	build/collect_state
	build/zpieces_test
	find tests/data -type f \( -name '*.pcap*' -o -name '*.cap' \) -print0 | sort -z | xargs -0 build/capture_readers

# ---- Robustness (issue 7): libFuzzer targets over the C core, and the tcpdump corpus under the sanitizers ----
# `make fuzz` builds tests/fuzz/fuzz_{decode,capture,dump}.c with clang against the core sources (no Lua) and runs
# each for FUZZ_SECONDS from its seeds (tests/fuzz/seeds/<target>/); findings go to build/fuzz/crashes/.
FUZZ_CC      ?= clang
FUZZ_SAN      = -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
FUZZ_TARGETS  = decode capture dump
FUZZ_SECONDS ?= 60
CORE_SRCS     = $(addprefix src/,$(addsuffix .c,$(CORE)))

FUZZ_HEADERS  = $(wildcard tests/fuzz/*.h) tests/c/readers_agree.h
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_SRCS) $(HEADERS) $(FUZZ_HEADERS) | build/fuzz
	$(FUZZ_CC) $(WARN) $(FUZZ_SAN) -O1 -g $(CPPFLAGS) -iquote src -Itests/c -o $@ $< $(CORE_SRCS) $(PKG_LIBS) -lm -pthread

build/fuzz:
	mkdir -p $@

.PHONY: fuzz fuzz-build test-corpus
fuzz-build: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Every capture of ../shared/corpus/tcpdump through build/tpp-asan in both boundary modes (skipped, with a notice,
# when the corpus is not there).
test-corpus: tpp build/tpp-asan build/capture_readers test-fuzz-replay
	tests/corpus.sh
	./tpp tests/corpus_split.lua

# The fuzz targets without libFuzzer (gcc, ASan/UBSan): replay the regression inputs and the seeds in `make test`.
build/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(CORE_SRCS) $(HEADERS) $(FUZZ_HEADERS) | build/fuzz
	$(CC) $(WARN) $(SAN) -O1 -g $(CPPFLAGS) -iquote src -Itests/c -o $@ tests/fuzz/replay.c $< $(CORE_SRCS) $(PKG_LIBS) -lm -pthread

.PHONY: test-fuzz-replay
test-fuzz-replay: $(FUZZ_TARGETS:%=build/fuzz/replay_%)
	for t in $(FUZZ_TARGETS); do ASAN_OPTIONS=detect_leaks=1 \
		build/fuzz/replay_$$t tests/data/regress/$$t tests/fuzz/seeds/$$t || exit 1; done
	build/fuzz/result_oom

# Allocation failures while a result grows (tests/fuzz/result_oom.c: the n-th realloc fails).
build/fuzz/result_oom: tests/fuzz/result_oom.c src/result.c src/labels.c $(HEADERS) | build/fuzz
	$(CC) $(WARN) $(SAN) -O1 -g -Iinclude -Wl,--wrap=realloc -o $@ tests/fuzz/result_oom.c src/result.c src/labels.c -lm

test-fuzz-replay: build/fuzz/result_oom
