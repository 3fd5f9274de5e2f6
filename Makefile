# gptaudio: `make test` and `make demo` install what is missing, build, and run.
SHELL = /bin/bash
CC ?= cc
PKG_CONFIG ?= pkg-config
WARN = -Wall -Wextra -Werror -Werror=implicit-function-declaration
CFLAGS ?= -O2 -g
BASE_CFLAGS = -std=c99 -D_GNU_SOURCE -fPIC -fvisibility=hidden $(WARN) $(CFLAGS)
# libwebrtc-audio-processing and speexdsp: voice activity detection and echo cancelling.
AUDIO_DSP = webrtc-audio-processing speexdsp
DEPS_CFLAGS = $(shell $(PKG_CONFIG) --cflags libcurl samplerate $(AUDIO_DSP) 2>/dev/null)
DEPS_LIBS = $(shell $(PKG_CONFIG) --libs libcurl samplerate $(AUDIO_DSP) 2>/dev/null) -lm
# What the pure-C files link against in their unit tests and fuzz targets.
PURE_LIBS = $(shell $(PKG_CONFIG) --libs samplerate $(AUDIO_DSP) 2>/dev/null) -lm

SRC = $(sort $(wildcard src/*.c))
HDR = $(wildcard src/*.h)
# Files named lua_*.c bind Lua; the rest is pure C with unit tests and fuzz targets.
PURE_SRC = $(filter-out src/lua_%,$(SRC))
# The HTTP engine's part of it needs libcurl; the rest does not.
CURL_SRC = src/transport.c src/transfer.c
PLAIN_SRC = $(filter-out $(CURL_SRC),$(PURE_SRC))
CURL_CFLAGS = $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null)
CURL_LIBS = $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null)

# gptaudio.ffmpeg, the optional second module (src/ffmpeg/: every format
# through FFmpeg's libraries), is built beside gptaudio.core when pkg-config
# finds those libraries; its unit tests are test_media_*, its fuzz target
# fuzz_decode. gptaudio.core never needs it.
FF_PKGS = libavformat libavcodec libswresample libavutil
# Asked each time it is used, not once: `make test` installs FFmpeg's -dev
# packages after this file is read, and must then build gptaudio.ffmpeg too.
HAVE_FFMPEG = $(shell $(PKG_CONFIG) --exists $(FF_PKGS) 2>/dev/null && echo yes)
FF_SRC = $(sort $(wildcard src/ffmpeg/*.c))
FF_HDR = $(wildcard src/ffmpeg/*.h) $(HDR)
FF_PURE_SRC = $(filter-out src/ffmpeg/lua_%,$(FF_SRC))
FF_CFLAGS = -Isrc -Isrc/ffmpeg $(shell $(PKG_CONFIG) --cflags $(FF_PKGS) 2>/dev/null)
FF_LIBS = $(shell $(PKG_CONFIG) --libs $(FF_PKGS) 2>/dev/null) -lm
FF_ONLY = $(if $(HAVE_FFMPEG),,%test_media_% %fuzz_decode)

C_TESTS = $(filter-out $(FF_ONLY),$(patsubst test/c/%.c,build/test/%,$(wildcard test/c/test_*.c)))
FUZZERS = $(filter-out $(FF_ONLY),$(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/fuzz_*.c)))

# One build per interpreter: build/<lua>/gptaudio/core.so (and ffmpeg.so), each
# compiled on that Lua's own headers (src/compat.h refuses another's, naming it).
LUAS = 5.1 5.2 5.3 5.4 jit
lua_pc = $(if $(filter jit,$(1)),luajit,lua$(1))
lua_target = $(if $(filter jit,$(1)),-DGPTAUDIO_LUAJIT=1,-DGPTAUDIO_LUA=$(subst .,0,$(1)))
CORE_MODULES = $(foreach v,$(LUAS),build/$(v)/gptaudio/core.so)
FF_MODULES = $(foreach v,$(LUAS),build/$(v)/gptaudio/ffmpeg.so)
MODULE_54 = build/5.4/gptaudio/core.so
MODULE_ASAN = build/asan/gptaudio/core.so
FF_MODULE_ASAN = build/asan/gptaudio/ffmpeg.so
MODULES = $(CORE_MODULES) $(if $(HAVE_FFMPEG),$(FF_MODULES))
MODULES_ASAN = $(MODULE_ASAN) $(if $(HAVE_FFMPEG),$(FF_MODULE_ASAN))

.PHONY: all build deps-build deps-test deps-demo test unit demo lint check-asan check-valgrind fuzz bench clean

all: build

deps-build:
	@scripts/deps build
deps-test:
	@scripts/deps test
deps-demo:
	@scripts/deps demo

build: deps-build
	@$(MAKE) --no-print-directory $(MODULES)
	@[ -n "$(HAVE_FFMPEG)" ] || echo "FFmpeg's libraries not found: gptaudio.ffmpeg not built (WAV only)" >&2

$(CORE_MODULES): build/%/gptaudio/core.so: $(SRC) $(HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(call lua_target,$*) $$($(PKG_CONFIG) --cflags $(call lua_pc,$*)) $(DEPS_CFLAGS) \
	  -shared -o $@ $(SRC) $(DEPS_LIBS)

$(MODULE_ASAN): $(SRC) $(HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	  $(call lua_target,5.4) $$($(PKG_CONFIG) --cflags lua5.4) $(DEPS_CFLAGS) -shared -o $@ $(SRC) $(DEPS_LIBS)

$(FF_MODULES): build/%/gptaudio/ffmpeg.so: $(FF_SRC) $(FF_HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(call lua_target,$*) $$($(PKG_CONFIG) --cflags $(call lua_pc,$*)) $(FF_CFLAGS) \
	  -shared -o $@ $(FF_SRC) $(FF_LIBS)

$(FF_MODULE_ASAN): $(FF_SRC) $(FF_HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	  $(call lua_target,5.4) $$($(PKG_CONFIG) --cflags lua5.4) $(FF_CFLAGS) -shared -o $@ $(FF_SRC) $(FF_LIBS)

build/test/test_media_%: test/c/test_media_%.c test/c/tap.h $(FF_PURE_SRC) $(FF_HDR)
	@mkdir -p $(@D)
	$(CC) -std=c99 -D_GNU_SOURCE $(WARN) -O1 -g -fsanitize=address,undefined $(FF_CFLAGS) -o $@ $< $(FF_PURE_SRC) $(FF_LIBS)

# A unit test links the plain C; the engine's test links libcurl and a loopback server thread too.
TEST_SRC = $(PLAIN_SRC)
build/test/test_transport: TEST_SRC = $(PURE_SRC)
build/test/test_transport: TEST_LIBS = $(CURL_LIBS) -pthread
build/test/%: test/c/%.c test/c/tap.h $(PURE_SRC) $(HDR)
	@mkdir -p $(@D)
	$(CC) -std=c99 -D_GNU_SOURCE $(WARN) -O1 -g -fsanitize=address,undefined $(CURL_CFLAGS) -Isrc -o $@ $< \
	  $(TEST_SRC) $(TEST_LIBS) $(PURE_LIBS)

unit: $(C_TESTS)

# Prism, for the contract specs, pinned by package-lock.json.
PRISM = node_modules/.bin/prism
$(PRISM): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test: deps-test
	@$(MAKE) --no-print-directory $(MODULES) unit $(PRISM)
	@scripts/run-tests

lint: deps-test
	luacheck -q lua plugin spec examples bench

# Against the real API when OPENAI_API_KEY is set; otherwise standin.lua starts the
# local stand-in, runs the demo against it and stops it, whatever the demo did.
demo: deps-demo
	@$(MAKE) --no-print-directory $(MODULES)
	@LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/5.4/?.so;;" \
	  lua5.4 spec/support/standin.lua lua5.4 examples/demo.lua

# The specs on Lua 5.4 with the module built under AddressSanitizer (leaks
# included) and UBSan. run-tests preloads the runtime into the interpreter
# alone: the programs the specs start (the fake server, sox, espeak-ng, ...)
# never see it, while Lua interpreters they start get it back. FFmpeg's
# libraries are preloaded too: their dependencies allocate once when loaded,
# and lua_close unloading them at exit would turn that into reported leaks.
ASAN_FF_LIBS = $(if $(HAVE_FFMPEG),$$(ldd $(FF_MODULE_ASAN) | awk '/libav|libsw/ { printf "%s ", $$3 }'))
check-asan: deps-test
	@$(MAKE) --no-print-directory $(MODULES_ASAN) $(MODULES)
	@GPTAUDIO_ONLY=lua5.4 GPTAUDIO_CPATH_54="build/asan/?.so" \
	  GPTAUDIO_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so) $(ASAN_FF_LIBS)" \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  scripts/run-tests

# The specs on Lua 5.4 under valgrind memcheck: no errors, no definite leaks.
check-valgrind: deps-test
	@$(MAKE) --no-print-directory $(MODULES)
	@GPTAUDIO_ONLY=lua5.4 GPTAUDIO_VALGRIND=1 scripts/run-tests

# Each target for FUZZ_SECONDS over its seed corpus (fuzz/corpus/<target>) and
# what earlier runs found (build/corpus/<target>, where new inputs go). One TAP
# line per target; a crash leaves its input in build/fuzz/crash/ and the report
# on the screen.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -std=c99 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
build/fuzz/%: fuzz/%.c $(PLAIN_SRC) $(HDR)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -Isrc -o $@ $< $(PLAIN_SRC) $(PURE_LIBS)

build/fuzz/fuzz_decode: fuzz/fuzz_decode.c $(FF_PURE_SRC) $(FF_HDR)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) $(FF_CFLAGS) -o $@ $< $(FF_PURE_SRC) $(FF_LIBS)

fuzz: $(FUZZERS)
	@failed=0; mkdir -p build/fuzz/crash; for f in $(FUZZERS); do \
	  name=$${f##*/}; mkdir -p build/corpus/$$name; \
	  if $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=build/fuzz/crash/$$name- \
	       build/corpus/$$name fuzz/corpus/$$name > build/fuzz/$$name.log 2>&1; then \
	    echo "ok - $$name: $$(sed -n 's/^stat::number_of_executed_units: *//p' build/fuzz/$$name.log) runs" \
	      "in $(FUZZ_SECONDS) s, corpus of $$(ls build/corpus/$$name | wc -l) found +" \
	      "$$(ls fuzz/corpus/$$name | wc -l) seeds, peak $$(sed -n 's/^stat::peak_rss_mb: *//p' build/fuzz/$$name.log) MB"; \
	  else \
	    failed=1; echo "not ok - $$name: see build/fuzz/$$name.log"; \
	    grep -A40 -E '^==[0-9]+==ERROR|runtime error|deadly signal' build/fuzz/$$name.log | head -60; \
	  fi; \
	done; exit $$failed

bench: build
	@for b in bench/*.lua; do LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/5.4/?.so;;" lua5.4 $$b; done

clean:
	rm -rf build
