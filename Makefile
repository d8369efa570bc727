# asyncore++ : build, test, bench, install.
#
# Layout-driven: drop a file in the right folder and it is built, nothing to register.
#   core/*.cpp dispatchers/**/*.cpp   -> build/lib/libasyncore.a and .so (the product library)
#   PUBLIC_HEADERS                    -> <asyncore/...> (build/include/asyncore/, links to the sources;
#                                        `make install` copies the same list, nothing else)
#   apps/<app>/*.cpp                  -> build/lib/libapp_<app>.a (the app's own protocol code)
#   apps/common/*.cpp                 -> build/lib/libapp_common.a (program conventions every app links)
#   apps/<app>/<name>.main.cpp        -> build/bin/<name>
#   test/**/<name>_test.cpp           -> build/test/**/<name>_test (doctest; anything under .../apps/<app>/ links libapp_<app>.a)
#   test/**/<name>.main.cpp           -> build/test-bin/<name>   (helper programs the tests start)
#   test/bench/**/<name>.main.cpp     -> build/bench-bin/<name>
#   test/support/*.cpp                -> build/lib/libtestsupport.a

# Parallel by default (a -j given on the command line wins).
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)

CXX      ?= g++
PREFIX   ?= /usr/local
VERSION  := 1.0.0
SOVERSION := 1
SANITIZE ?=
ifeq ($(SANITIZE),)
  BUILD  ?= build
  OPT    ?= -O2
else
  comma  := ,
  BUILD  ?= build/san-$(subst $(comma),-,$(SANITIZE))
  # GCC 12 reports false "maybe uninitialized" warnings at -O1 with sanitizers. -g1 (functions and
  # lines, no variables) is all a sanitizer's report shows, at two thirds of -g's compile time.
  OPT    ?= -O1 -g1 -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all -Wno-maybe-uninitialized
endif

WERROR   ?= -Werror
# Release flags by default; DEBUG=1 adds debug information.
DEBUG    ?=
CXXFLAGS ?= $(OPT) $(if $(DEBUG),-g)
INCLUDE_DIR := $(BUILD)/include
CXXFLAGS += -std=c++20 -Wall -Wextra $(WERROR) -pthread -I. -I$(INCLUDE_DIR) -MMD -MP
LDFLAGS  += -pthread $(if $(SANITIZE),-fsanitize=$(SANITIZE))
TESTFLAGS = -DTEST_BUILD_DIR='"$(abspath $(BUILD))"' -DTEST_SOURCE_DIR='"$(abspath .)"' $(if $(SANITIZE),-DTEST_SANITIZED=1)

LIB      := $(BUILD)/lib/libasyncore.a
SHLIB    := $(BUILD)/lib/libasyncore.so.$(VERSION)
LIB_SRC  := $(sort $(wildcard core/*.cpp dispatchers/*.cpp dispatchers/*/*.cpp))
LIB_OBJ  := $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o)
# One set of objects serves the static and the shared library; without semantic interposition
# -fPIC costs nothing measurable (calls inside the library stay direct and inlinable).
$(LIB_OBJ): CXXFLAGS += -fPIC -fno-semantic-interposition

# The public surface: what users include as <asyncore/NAME> (core/X.h -> X.h, dispatchers/S/X.h ->
# S/X.h). Headers not listed (backends, waker, signal pipe, spawn, pidfd, journal format, scratch
# buffer) are internal: reachable in the tree only by their quoted path, and never installed.
PUBLIC_HEADERS := \
  core/asyncore.h core/address.h core/backend_kind.h core/channel_map.h core/dispatcher.h core/fd.h core/log.h \
  core/log_escape.h core/timer_queue.h \
  dispatchers/rate_limited_log.h dispatchers/secret.h \
  $(addprefix dispatchers/stream/,byte_buffer.h output_queue.h buffered_stream.h dispatcher_with_send.h \
    client_stream.h file_dispatcher.h line_reader.h line_splitter.h) \
  $(addprefix dispatchers/chat/,async_chat.h producer.h terminator.h) \
  $(addprefix dispatchers/twisted/,protocol.h reason.h tcp_connection.h tcp_connector.h tcp_port.h \
    reconnecting_client_factory.h line_receiver.h line_parser.h int_n_string_receiver.h \
    int_n_string_parser.h backoff.h) \
  $(addprefix dispatchers/net/,tcp_server.h connection_limits.h input_budget.h udp.h) \
  $(addprefix dispatchers/http/,http.h auth.h connection.h date.h options.h parser.h request.h \
    responder.h response.h router.h server.h uri.h operator.h) \
  $(addprefix dispatchers/json/,json.h utf8.h) \
  $(addprefix dispatchers/journal/,journal.h crc32.h) \
  $(addprefix dispatchers/process/,process.h) \
  $(addprefix dispatchers/redis/,client.h lease.h resp.h)
public_name = $(patsubst dispatchers/%,%,$(patsubst core/%,%,$(1)))
# The first rule below is the include farm, not what a bare `make` should build.
.DEFAULT_GOAL := all
INCLUDE_STAMP := $(INCLUDE_DIR)/.stamp
$(INCLUDE_STAMP): Makefile
	@rm -rf $(INCLUDE_DIR)/asyncore
	@for h in $(PUBLIC_HEADERS); do n=$${h#core/}; n=$${n#dispatchers/}; \
	  mkdir -p $(INCLUDE_DIR)/asyncore/$$(dirname $$n) && ln -s $(abspath .)/$$h $(INCLUDE_DIR)/asyncore/$$n || exit 1; done
	@touch $@

APP_DIRS := $(sort $(patsubst %/,%,$(dir $(wildcard apps/*/*.cpp))))
APPS     := $(notdir $(APP_DIRS))
MAINS    := $(sort $(wildcard apps/*/*.main.cpp))
BINS     := $(foreach m,$(MAINS),$(BUILD)/bin/$(notdir $(m:.main.cpp=)))

SUPPORT_SRC := $(wildcard test/support/*.cpp)
SUPPORT_LIB := $(BUILD)/lib/libtestsupport.a
# TEST_DIRS narrows `make test` (e.g. the sanitizer run in CI: TEST_DIRS="test/core test/dispatchers"),
# TEST_BINS the programs it builds first (default: all of them).
TEST_DIRS ?= test
TEST_SRC := $(sort $(shell find $(TEST_DIRS) -name '*_test.cpp' -not -path 'test/fuzz/*' -not -path 'test/bench/*' 2>/dev/null))
TESTS    := $(TEST_SRC:%.cpp=$(BUILD)/%)
HELPER_SRC := $(sort $(shell find $(TEST_DIRS) -name '*.main.cpp' -not -path 'test/fuzz/*' -not -path 'test/bench/*' 2>/dev/null))
HELPERS  := $(foreach m,$(HELPER_SRC),$(BUILD)/test-bin/$(notdir $(m:.main.cpp=)))
BENCH_SRC := $(sort $(shell find test/bench -name '*.main.cpp' 2>/dev/null))
BENCHES  := $(foreach m,$(BENCH_SRC),$(BUILD)/bench-bin/$(notdir $(m:.main.cpp=)))
# Load generators in plain C (test/bench/<name>.c -> build/bench-bin/<name>); peers/ is the peers' own code.
BENCH_C  := $(sort $(wildcard test/bench/*.c))
BENCHES  += $(BENCH_C:test/bench/%.c=$(BUILD)/bench-bin/%)

.PHONY: all libs test check-doctest check-redis bench install uninstall clean demo fuzz fuzz-build fuzz-replay soak memcheck
all: $(LIB) $(BINS)
libs: $(LIB) $(foreach a,$(APPS),$(BUILD)/lib/libapp_$(a).a)

$(BUILD)/obj/%.o: %.cpp | $(INCLUDE_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# Test code compiles at -O0 (TEST_OPT; without debug info, except the lines a sanitizer's report
# shows), with doctest and the standard headers most tests use precompiled once
# (test/support/precompiled.h): half the CPU time of -O1 without it, a third under the sanitizers.
# The library and the programs the tests drive keep the build's flags, and so do the benchmarks.
TEST_OPT ?= -O0 $(if $(SANITIZE),,-g0)
TEST_PCH := $(BUILD)/obj/test/support/precompiled.h
TEST_PCH_FLAGS = -include $(TEST_PCH) -Winvalid-pch
$(TEST_PCH).gch: test/support/precompiled.h | check-doctest $(INCLUDE_STAMP)
	@mkdir -p $(@D)
	cp $< $(TEST_PCH)
	$(CXX) $(CXXFLAGS) $(TEST_OPT) $(TESTFLAGS) -x c++-header $< -o $@
$(BUILD)/obj/test/%.o: test/%.cpp $(TEST_PCH).gch | check-doctest $(INCLUDE_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(TEST_OPT) $(TESTFLAGS) $(TEST_PCH_FLAGS) -c $< -o $@
# Not for test/support (doctest's implementation must see its configuration macro before the
# header, and the helper programs and benchmarks link the rest without doctest) nor for the helper
# programs, which have their own main().
$(BUILD)/obj/test/support/%.o $(BUILD)/obj/test/%.main.o: TEST_PCH_FLAGS :=

$(BUILD)/obj/test/bench/%.o: test/bench/%.cpp | $(INCLUDE_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(TESTFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(SHLIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CXX) -shared -Wl,-soname,libasyncore.so.$(SOVERSION) $(LDFLAGS) -o $@ $^

$(SUPPORT_LIB): $(SUPPORT_SRC:%.cpp=$(BUILD)/obj/%.o)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# One static library and one link rule per app folder.
define app_rules
$(1)_LIB_SRC := $$(filter-out %.main.cpp,$$(wildcard apps/$(1)/*.cpp))
$(BUILD)/lib/libapp_$(1).a: $$($(1)_LIB_SRC:%.cpp=$(BUILD)/obj/%.o)
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^ $$(if $$^,,&& ar rcs $$@)
endef
$(foreach a,$(APPS),$(eval $(call app_rules,$(a))))

COMMON_LIB := $(BUILD)/lib/libapp_common.a
define main_rule
$(BUILD)/bin/$(notdir $(1:.main.cpp=)): $(BUILD)/obj/$(1:.cpp=.o) $(BUILD)/lib/libapp_$(word 2,$(subst /, ,$(1))).a $(COMMON_LIB) $(LIB)
	@mkdir -p $$(@D)
	$(CXX) $$(LDFLAGS) -o $$@ $$^
endef
$(foreach m,$(MAINS),$(eval $(call main_rule,$(m))))

# Tests and benchmarks under .../apps/<app>/ also link that app's library.
test_app = $(if $(findstring /apps/,$(1)),$(BUILD)/lib/libapp_$(word 1,$(subst /, ,$(lastword $(subst /apps/, ,$(1))))).a)
define test_rule
$(BUILD)/$(1:.cpp=): $(BUILD)/obj/$(1:.cpp=.o) $(call test_app,$(1)) $(COMMON_LIB) $(SUPPORT_LIB) $(LIB)
	@mkdir -p $$(@D)
	$(CXX) $$(LDFLAGS) -o $$@ $$^
endef
$(foreach t,$(TEST_SRC),$(eval $(call test_rule,$(t))))

# The README's examples: each ```cpp block marked <!-- example: NAME --> becomes
# $(BUILD)/gen/readme/NAME.inc, which test/docs/ includes, so an example that no longer compiles
# fails the build of its test.
README_EXAMPLES := $(BUILD)/gen/readme/.stamp
$(README_EXAMPLES): README.md test/docs/readme_examples.sh
	test/docs/readme_examples.sh README.md $(@D) && touch $@
$(BUILD)/obj/test/docs/readme_examples_test.o $(BUILD)/obj/test/docs/readme-echo-server.main.o: $(README_EXAMPLES)
$(BUILD)/obj/test/docs/%.o: CXXFLAGS += -I$(BUILD)/gen

define helper_rule
$(2)/$(notdir $(1:.main.cpp=)): $(BUILD)/obj/$(1:.cpp=.o) $(call test_app,$(1)) $(COMMON_LIB) $(SUPPORT_LIB) $(LIB)
	@mkdir -p $$(@D)
	$(CXX) $$(LDFLAGS) -o $$@ $$^
endef
$(foreach m,$(HELPER_SRC),$(eval $(call helper_rule,$(m),$(BUILD)/test-bin)))
$(foreach m,$(BENCH_SRC),$(eval $(call helper_rule,$(m),$(BUILD)/bench-bin)))

$(BUILD)/bench-bin/%: test/bench/%.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Wextra $(WERROR) -o $@ $<

check-doctest:
	@test/ensure-doctest.sh

# The Redis client's tests start their own redis-server (Debian's package).
check-redis:
	@test/ensure-redis.sh

TEST_BINS ?= $(notdir $(BINS))
test: check-redis $(LIB) $(addprefix $(BUILD)/bin/,$(TEST_BINS)) $(TESTS) $(HELPERS)
	@BUILD_DIR=$(abspath $(BUILD)) TEST_DIRS="$(TEST_DIRS)" test/run-tests.sh $(TESTS)

bench: all $(BENCHES)
	@BUILD_DIR=$(abspath $(BUILD)) test/bench/run-bench.sh

demo: all
	@apps/demo.sh

# The ten-minute soak (SOAK_SECONDS=60 for a short one): device server under churn, with a sync
# relay and a barrage room beside it; memory and fds must not grow, acknowledged state must persist.
soak: all $(BUILD)/test-bin/device-churn
	@BUILD_DIR=$(BUILD) test/soak/soak.sh

# valgrind's memcheck over echo-server and device-server under a short load (CI runs it).
memcheck: all $(BUILD)/bench-bin/echo-load
	@BUILD_DIR=$(abspath $(BUILD)) test/memcheck/memcheck.sh

# libFuzzer targets (clang): test/fuzz/<name>_fuzz.cpp -> build/fuzz/bin/<name>_fuzz, linked with a
# clang build of the library and of every app's library. `make fuzz` runs each for FUZZ_SECONDS;
# `make fuzz-replay` runs each once over its seed corpus (CI does, so a found crash stays fixed).
# -g1: the functions and lines a crash report shows.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -O1 -g1 -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SRC     := $(sort $(wildcard test/fuzz/*_fuzz.cpp))
FUZZ_BINS    := $(FUZZ_SRC:test/fuzz/%.cpp=build/fuzz/bin/%)
fuzz-build:
	@command -v clang++ >/dev/null || { echo "make fuzz needs clang: apt-get install clang libclang-rt-14-dev" >&2; exit 1; }
	$(MAKE) --no-print-directory CXX=clang++ BUILD=build/fuzz WERROR= OPT="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" SANITIZE= libs
	$(MAKE) --no-print-directory $(FUZZ_BINS)
build/fuzz/bin/%: test/fuzz/%.cpp $(wildcard build/fuzz/lib/*.a)
	@mkdir -p $(@D)
	clang++ -std=c++20 -I. -Ibuild/fuzz/include $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< \
	  -Wl,--start-group $(wildcard build/fuzz/lib/libapp_*.a) build/fuzz/lib/libasyncore.a -Wl,--end-group -pthread
fuzz: fuzz-build
	@for f in $(FUZZ_BINS); do n=$$(basename $$f _fuzz); mkdir -p build/fuzz/corpus/$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus/$$n test/fuzz/corpus/$$n 2>&1 | \
	    grep -E 'stat::number_of_executed_units|cov:|ERROR|SUMMARY' | tail -3 || exit 1; done
fuzz-replay: fuzz-build
	@for f in $(FUZZ_BINS); do n=$$(basename $$f _fuzz); \
	  $$f -runs=0 test/fuzz/corpus/$$n >build/fuzz/$$n.replay.log 2>&1 && echo "replayed $$n" || \
	  { echo "fuzz-replay: $$n failed"; tail -30 build/fuzz/$$n.replay.log; exit 1; }; done

# Installs the public headers as <asyncore/...>, the static and the shared library (with its
# soname) and two pkg-config files: asyncore (shared) and asyncore-static. uninstall removes
# exactly what install put.
INSTALLED_LIBS := libasyncore.a libasyncore.so.$(VERSION) libasyncore.so.$(SOVERSION) libasyncore.so
install: $(LIB) $(SHLIB)
	@for h in $(PUBLIC_HEADERS); do n=$${h#core/}; n=$${n#dispatchers/}; \
	  install -D -m 644 $$h $(DESTDIR)$(PREFIX)/include/asyncore/$$n || exit 1; done
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SHLIB) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libasyncore.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libasyncore.so.$(SOVERSION)
	ln -sf libasyncore.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libasyncore.so
	for pc in asyncore asyncore-static; do sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
	  $$pc.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/$$pc.pc || exit 1; done

uninstall:
	@for h in $(PUBLIC_HEADERS); do n=$${h#core/}; n=$${n#dispatchers/}; \
	  rm -f $(DESTDIR)$(PREFIX)/include/asyncore/$$n; done
	@find $(DESTDIR)$(PREFIX)/include/asyncore -depth -type d -empty -delete 2>/dev/null || true
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/lib/,$(INSTALLED_LIBS)) \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig/asyncore.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/asyncore-static.pc

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
