# asyncore++ : build, test, bench, install.
#
# Layout-driven: drop a file in the right folder and it is built, nothing to register.
#   core/*.cpp dispatchers/*.cpp      -> build/lib/libasyncore.a (the product library)
#   apps/<app>/*.cpp                  -> build/lib/libapp_<app>.a (the app's own protocol code)
#   apps/<app>/<name>.main.cpp        -> build/bin/<name>
#   test/**/<name>_test.cpp           -> build/test/**/<name>_test (doctest; anything under .../apps/<app>/ links libapp_<app>.a)
#   test/**/<name>.main.cpp           -> build/test-bin/<name>   (helper programs the tests start)
#   test/bench/**/<name>.main.cpp     -> build/bench-bin/<name>
#   test/support/*.cpp                -> build/lib/libtestsupport.a

CXX      ?= g++
PREFIX   ?= /usr/local
SANITIZE ?=
ifeq ($(SANITIZE),)
  BUILD  ?= build
  OPT    ?= -O2
else
  comma  := ,
  BUILD  ?= build/san-$(subst $(comma),-,$(SANITIZE))
  # GCC 12 reports false "maybe uninitialized" warnings at -O1 with sanitizers.
  OPT    ?= -O1 -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all -Wno-maybe-uninitialized
endif

WERROR   ?= -Werror
CXXFLAGS ?= $(OPT) -g
CXXFLAGS += -std=c++20 -Wall -Wextra $(WERROR) -pthread -I. -MMD -MP
LDFLAGS  += -pthread $(if $(SANITIZE),-fsanitize=$(SANITIZE))
TESTFLAGS = -DTEST_BUILD_DIR='"$(abspath $(BUILD))"' -DTEST_SOURCE_DIR='"$(abspath .)"' $(if $(SANITIZE),-DTEST_SANITIZED=1)

LIB      := $(BUILD)/lib/libasyncore.a
LIB_SRC  := $(sort $(wildcard core/*.cpp dispatchers/*.cpp dispatchers/*/*.cpp))
LIB_OBJ  := $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o)

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

.PHONY: all libs test check-doctest check-redis bench install clean demo fuzz fuzz-build fuzz-replay soak memcheck
all: $(LIB) $(BINS)
libs: $(LIB) $(foreach a,$(APPS),$(BUILD)/lib/libapp_$(a).a)

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# Test code compiles at -O1 without debug info (TEST_OPT): 40% less build time; sanitizer builds
# keep -g for their reports.
# Benchmarks keep the product's flags.
TEST_OPT ?= $(if $(SANITIZE),,-O1 -g0)
$(BUILD)/obj/test/%.o: test/%.cpp | check-doctest
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(TEST_OPT) $(TESTFLAGS) -c $< -o $@

$(BUILD)/obj/test/bench/%.o: test/bench/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(TESTFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

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

define main_rule
$(BUILD)/bin/$(notdir $(1:.main.cpp=)): $(BUILD)/obj/$(1:.cpp=.o) $(BUILD)/lib/libapp_$(word 2,$(subst /, ,$(1))).a $(LIB)
	@mkdir -p $$(@D)
	$(CXX) $$(LDFLAGS) -o $$@ $$^
endef
$(foreach m,$(MAINS),$(eval $(call main_rule,$(m))))

# Tests and benchmarks under .../apps/<app>/ also link that app's library.
test_app = $(if $(findstring /apps/,$(1)),$(BUILD)/lib/libapp_$(word 1,$(subst /, ,$(lastword $(subst /apps/, ,$(1))))).a)
define test_rule
$(BUILD)/$(1:.cpp=): $(BUILD)/obj/$(1:.cpp=.o) $(call test_app,$(1)) $(SUPPORT_LIB) $(LIB)
	@mkdir -p $$(@D)
	$(CXX) $$(LDFLAGS) -o $$@ $$^
endef
$(foreach t,$(TEST_SRC),$(eval $(call test_rule,$(t))))

define helper_rule
$(2)/$(notdir $(1:.main.cpp=)): $(BUILD)/obj/$(1:.cpp=.o) $(call test_app,$(1)) $(SUPPORT_LIB) $(LIB)
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
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SRC     := $(sort $(wildcard test/fuzz/*_fuzz.cpp))
FUZZ_BINS    := $(FUZZ_SRC:test/fuzz/%.cpp=build/fuzz/bin/%)
fuzz-build:
	@command -v clang++ >/dev/null || { echo "make fuzz needs clang: apt-get install clang libclang-rt-14-dev" >&2; exit 1; }
	$(MAKE) --no-print-directory CXX=clang++ BUILD=build/fuzz WERROR= OPT="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" SANITIZE= libs
	$(MAKE) --no-print-directory $(FUZZ_BINS)
build/fuzz/bin/%: test/fuzz/%.cpp $(wildcard build/fuzz/lib/*.a)
	@mkdir -p $(@D)
	clang++ -std=c++20 -I. $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(wildcard build/fuzz/lib/libapp_*.a) build/fuzz/lib/libasyncore.a -pthread
fuzz: fuzz-build
	@for f in $(FUZZ_BINS); do n=$$(basename $$f _fuzz); mkdir -p build/fuzz/corpus/$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus/$$n test/fuzz/corpus/$$n 2>&1 | \
	    grep -E 'stat::number_of_executed_units|cov:|ERROR|SUMMARY' | tail -3 || exit 1; done
fuzz-replay: fuzz-build
	@for f in $(FUZZ_BINS); do n=$$(basename $$f _fuzz); \
	  $$f -runs=0 test/fuzz/corpus/$$n >build/fuzz/$$n.replay.log 2>&1 && echo "replayed $$n" || \
	  { echo "fuzz-replay: $$n failed"; tail -30 build/fuzz/$$n.replay.log; exit 1; }; done

install: $(LIB)
	install -d $(DESTDIR)$(PREFIX)/include/asyncore/core $(DESTDIR)$(PREFIX)/include/asyncore/dispatchers/redis $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 core/*.h $(DESTDIR)$(PREFIX)/include/asyncore/core/
	install -m 644 dispatchers/*.h $(DESTDIR)$(PREFIX)/include/asyncore/dispatchers/
	install -m 644 dispatchers/redis/*.h $(DESTDIR)$(PREFIX)/include/asyncore/dispatchers/redis/
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|g' asyncore.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/asyncore.pc

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
