# Makefile for opencode.el --- works with or without Cask.
#   make            build the module (module/opencode-module.so)
#   make test       every test: C unit tests (ASan+UBSan, TSan, valgrind),
#                   ERT unit tests, and integration tests against the real
#                   OpenCode server (installed by `make deps'), on every core
#   make lint       byte-compile with warnings as errors, checkdoc, package-lint,
#                   every lisp/*.el named in opencode.el's file list and README
#   make run        Emacs with the package and the session list
#   make demo       the same, offline, with the tests' mock model
#   make bench      benchmarks, module vs plain Elisp, batch and in a
#                   displayed Emacs under tmux (doc/benchmarks.md)
#   make info       the Info manual, doc/opencode.info
#   make fuzz       libFuzzer on the stream parser (FUZZ_SECONDS=60)
#   make clean

EMACS   ?= emacs
CC      ?= gcc
CLANG   ?= clang
CFLAGS  ?= -O2 -g
WARN     = -std=gnu11 -Wall -Wextra -Werror
PKGS     = libcurl json-c
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcurl -ljson-c) -lpthread
OPENCODE_VERSION = 1.18.33

CORE_SRC = module/oc-item.c module/oc-sse.c module/oc-queue.c module/oc-event.c module/oc-conn.c
HEADERS  = $(wildcard module/*.h)
MODULE   = module/opencode-module.so
ELS      = $(wildcard lisp/*.el)
BUILD    = build
SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
C_TESTS  = sse queue event conn backoff

.PHONY: compile all module test test-c check-module test-ert lint clean deps run demo bench fuzz info check-doc

all: module
module: $(MODULE)

$(MODULE): $(CORE_SRC) module/opencode-module.c $(HEADERS)
	@echo "Building the module, $(MODULE)..."
	$(CC) $(WARN) $(CFLAGS) -fPIC -shared -fvisibility=hidden $(PKG_CFLAGS) -o $@ \
	  $(CORE_SRC) module/opencode-module.c $(PKG_LIBS)

$(BUILD):
	mkdir -p $@

# The harness shared by the C tests, the benchmarks and the fuzzer: a
# loopback HTTP server (oc-loopback), the worker's byte pipeline without
# curl (oc-pipeline.h) and the checks (oc-test.h).
HARNESS_SRC = test/c/oc-loopback.c
HARNESS_H   = test/c/oc-loopback.h test/c/oc-pipeline.h test/c/oc-test.h
TEST_DEPS   = $(HARNESS_SRC) $(HARNESS_H) $(CORE_SRC) $(HEADERS)
TEST_SRC    = $(HARNESS_SRC) $(CORE_SRC)

# C unit tests, built three ways: ASan+UBSan, TSan, and plain for valgrind.
$(BUILD)/test-%-asan: test/c/test-%.c $(TEST_DEPS) | $(BUILD)
	$(CC) $(WARN) -O1 -g $(SAN) -Imodule -Itest/c $(PKG_CFLAGS) -o $@ $< $(TEST_SRC) $(PKG_LIBS)
$(BUILD)/test-%-tsan: test/c/test-%.c $(TEST_DEPS) | $(BUILD)
	$(CC) $(WARN) -O1 -g -fsanitize=thread -Imodule -Itest/c $(PKG_CFLAGS) -o $@ $< $(TEST_SRC) $(PKG_LIBS)
$(BUILD)/test-%-plain: test/c/test-%.c $(TEST_DEPS) | $(BUILD)
	$(CC) $(WARN) -O0 -g -Imodule -Itest/c $(PKG_CFLAGS) -o $@ $< $(TEST_SRC) $(PKG_LIBS)

# test-backoff includes oc-conn.c whole (to call its static backoff), so
# it is linked without it.
BACKOFF_SRC = $(filter-out module/oc-conn.c,$(CORE_SRC))
$(BUILD)/test-backoff-asan: test/c/test-backoff.c $(TEST_DEPS) | $(BUILD)
	$(CC) $(WARN) -O1 -g $(SAN) -Imodule -Itest/c $(PKG_CFLAGS) -o $@ $< $(BACKOFF_SRC) $(PKG_LIBS)
$(BUILD)/test-backoff-tsan: test/c/test-backoff.c $(TEST_DEPS) | $(BUILD)
	$(CC) $(WARN) -O1 -g -fsanitize=thread -Imodule -Itest/c $(PKG_CFLAGS) -o $@ $< $(BACKOFF_SRC) $(PKG_LIBS)
$(BUILD)/test-backoff-plain: test/c/test-backoff.c $(TEST_DEPS) | $(BUILD)
	$(CC) $(WARN) -O0 -g -Imodule -Itest/c $(PKG_CFLAGS) -o $@ $< $(BACKOFF_SRC) $(PKG_LIBS)

test-c: check-module $(foreach t,$(C_TESTS),$(BUILD)/test-$(t)-asan) $(BUILD)/test-conn-tsan $(BUILD)/test-queue-tsan $(BUILD)/test-backoff-tsan $(BUILD)/test-conn-plain $(BUILD)/test-backoff-plain
	bash test/run-c-tests.sh $(BUILD) "$(C_TESTS)"

# The module boundary (run by test-c, so by `make test'): only
# opencode-module.c includes emacs-module.h, and the module exports only
# what Emacs looks up (the rest is -fvisibility=hidden).  _init and _fini,
# which some toolchains export, are allowed.
MODULE_EXPORTS = emacs_module_init plugin_is_GPL_compatible
check-module: $(MODULE)
	@bad=$$(grep -lE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]emacs-module\.h[>"]' \
	  module/*.c module/*.h test/c/*.c test/c/*.h test/bench/*.c test/fuzz/*.c \
	  | grep -vx module/opencode-module.c); \
	if [ -n "$$bad" ]; then \
	  echo "check-module: emacs-module.h included outside module/opencode-module.c:" $$bad; exit 1; fi
	@syms=$$(nm -D --defined-only $(MODULE) | awk '{ print $$NF }' | grep -vxE '_init|_fini' | sort | xargs); \
	if [ "$$syms" != "$(MODULE_EXPORTS)" ]; then \
	  echo "check-module: $(MODULE) exports \"$$syms\", not \"$(MODULE_EXPORTS)\""; exit 1; fi
	@echo "check-module: only opencode-module.c includes emacs-module.h; exports: $(MODULE_EXPORTS)"

# libFuzzer (clang) on the SSE parser + event routing, for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_SRC = module/oc-item.c module/oc-sse.c module/oc-queue.c module/oc-event.c
$(BUILD)/fuzz-stream: test/fuzz/fuzz-stream.c test/c/oc-pipeline.h $(FUZZ_SRC) $(HEADERS) | $(BUILD)
	$(CLANG) -std=gnu11 -Wall -Wextra -Werror -O1 -g -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=all -Imodule -Itest/c $(PKG_CFLAGS) -o $@ $< \
	  $(FUZZ_SRC) $(PKG_LIBS)
fuzz: $(BUILD)/fuzz-stream
	bash test/fuzz/run-fuzz.sh $(BUILD) $(FUZZ_SECONDS)

# An interactive Emacs ignores SIGPIPE; one in --batch does not, so there
# a write to a socket whose peer has just closed it (a test's loopback
# server answering a request the module gave up) would end the whole run
# with "Broken pipe".  Batch Emacsen that talk to sockets run with
# SIGPIPE ignored, as the Emacs a user runs does.
NOPIPE = bash -c 'trap "" PIPE && exec "$$@"' nopipe

# Each test file in a batch Emacs of its own, as many at once as there
# are cores (OPENCODE_TEST_JOBS=N for another number); see test/run-ert.sh.
test-ert: $(MODULE)
	EMACS="$(EMACS)" bash test/run-ert.sh

test: $(MODULE) deps
	bash test/run-all.sh

# Every file is also compiled alone, as an installed package's files are
# loaded: a missing `require' shows there.  The .elc files go even when
# a step fails: a stale one left behind would be loaded by the tests
# instead of its source.
lint: $(MODULE)
	$(EMACS) -Q --batch -L lisp -L test -L test/bench --eval '(setq byte-compile-error-on-warn t)' \
	  -f batch-byte-compile $(ELS) test/*.el test/bench/*.el \
	  && $(EMACS) -Q --batch -L lisp -l test/opencode-test-lint.el $(ELS) \
	  && ok=1 && for f in $(ELS); do $(EMACS) -Q --batch -L lisp \
	       --eval '(setq byte-compile-error-on-warn t)' -f batch-byte-compile $$f \
	       || { ok=0; break; }; done && [ $$ok = 1 ]; \
	  status=$$?; rm -f lisp/*.elc test/*.elc test/bench/*.elc $(BUILD)/compiled.stamp; exit $$status

# Benchmarks (not tests): the module against a plain-Elisp baseline, in
# batch and in an Emacs displayed in a terminal under tmux (needs tmux and
# `make deps'), with build/bench-mock as the real server's model.
# The Lisp is byte-compiled first, as package.el would install it.
bench: $(MODULE) $(BUILD)/bench-server $(BUILD)/bench-ingest $(BUILD)/bench-mock deps
	$(EMACS) -Q --batch -L lisp -f batch-byte-compile $(ELS)
	$(EMACS) -Q --batch -L lisp -L test/bench -f batch-byte-compile test/bench/display-bench.el test/bench/markdown-bench.el
	$(NOPIPE) $(EMACS) -Q --batch -L lisp -L test -L test/bench -l test/bench/opencode-bench.el -f opencode-bench-main \
	  && $(NOPIPE) $(EMACS) -Q --batch -L lisp -L test -L test/bench -l test/bench/drain-bench.el \
	       -f opencode-drain-bench-main; \
	  status=$$?; rm -f lisp/*.elc test/bench/*.elc $(BUILD)/compiled.stamp; exit $$status
$(BUILD)/bench-mock: test/bench/bench-mock.c | $(BUILD)
	$(CC) $(WARN) -O2 -o $@ $< -lpthread
$(BUILD)/bench-server: test/bench/bench-server.c $(HARNESS_SRC) test/c/oc-loopback.h | $(BUILD)
	$(CC) $(WARN) -O2 -Itest/c -o $@ $< $(HARNESS_SRC) -lpthread
$(BUILD)/bench-ingest: test/bench/bench-ingest.c test/c/oc-pipeline.h $(CORE_SRC) $(HEADERS) | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -Imodule -Itest/c $(PKG_CFLAGS) -o $@ $< $(CORE_SRC) $(PKG_LIBS)

# The Info manual: the reference chapters are generated from the code.
info: doc/opencode.info
doc/reference.texi: $(ELS) doc/gen-reference.el
	$(EMACS) -Q --batch -L lisp -l doc/gen-reference.el -f opencode-gen-reference
doc/opencode.info: doc/opencode.texi doc/reference.texi
	makeinfo --no-split -o $@ doc/opencode.texi
	install-info --info-dir=doc $@
# The committed manual is what the code generates (run by `make test').
check-doc:
	$(EMACS) -Q --batch -L lisp -l doc/gen-reference.el -f opencode-gen-reference
	makeinfo --no-split -o doc/opencode.info doc/opencode.texi
	git diff --exit-code --stat doc/reference.texi doc/opencode.info

# The pinned OpenCode server, from npm, into .deps/ (not on PATH).
# And a config directory warmed once for the tests' servers: at its
# first request a server installs @opencode-ai/plugin into each config
# directory (its own npm, from the registry) unless that directory has a
# node_modules and a package-lock.json naming it.  Each test server gets
# a copy of the two files and a link to this node_modules, so none
# reaches the registry (test/opencode-test-helpers.el).
CONFIG_SEED = .deps/opencode-config
deps: .deps/node_modules/.bin/opencode $(CONFIG_SEED)/package-lock.json
.deps/node_modules/.bin/opencode:
	@echo "Installing the OpenCode server $(OPENCODE_VERSION) from npm into .deps/ (once, about 185 MB)..."
	mkdir -p .deps
	npm install --prefix .deps --no-audit --no-fund --loglevel=error opencode-ai@$(OPENCODE_VERSION)
$(CONFIG_SEED)/package-lock.json:
	@echo "Installing @opencode-ai/plugin $(OPENCODE_VERSION) into $(CONFIG_SEED)/ (once)..."
	mkdir -p $(CONFIG_SEED)
	printf '{\n  "dependencies": {\n    "@opencode-ai/plugin": "%s"\n  }\n}\n' $(OPENCODE_VERSION) \
	  > $(CONFIG_SEED)/package.json
	npm install --prefix $(CONFIG_SEED) --no-audit --no-fund --loglevel=error --ignore-scripts

# Compiled as package.el installs it: .elc next to each file (a few
# seconds), again only when a file changed since.  Native code, where
# the Emacs has native compilation, is made later: the Emacs that loads
# the byte code compiles each file natively in the background and
# switches to it (`native-comp-deferred-compilation', as for a package
# package.el installed), so a first run waits for none of it (done
# ahead, one file after another, it took over a minute on two cores).
compile: $(MODULE) $(BUILD)/compiled.stamp
$(BUILD)/compiled.stamp: $(ELS)
	@mkdir -p $(BUILD)
	@echo "Byte-compiling the $(words $(ELS)) files of lisp/ (native code comes later, in the background)..."
	@$(EMACS) -Q --batch -L lisp -f batch-byte-compile $(ELS)
	@touch $@
	@echo "Byte-compiled."

run: compile deps
	$(EMACS) -Q -L lisp --eval '(setq load-prefer-newer t)' -l opencode --eval '(opencode-sessions)'

# Offline: the real server with the tests' mock model, no API key.
demo: compile deps
	$(EMACS) -Q -L lisp -L test --eval '(setq load-prefer-newer t)' -l test/opencode-demo.el

clean:
	rm -rf $(BUILD) $(MODULE) lisp/*.elc test/*.elc
