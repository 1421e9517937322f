# chorus — GNU Makefile.
#
# Layout: every src/<module>/*.c goes into build/libchorus.a; every cmd/<name>.c is a
# binary build/bin/<name>; every tests/unit/test_*.c and tests/scenarios/test_*.c is a
# cmocka test binary build/tests/<name>. New files are picked up without editing this file.
#
# BUILD selects the output directory, so several builds (release, asan, a helper's own)
# can live side by side: `make BUILD=build-asan SANITIZE=1`.

BUILD    ?= build
SANITIZE ?= 0

CC       ?= cc
CSTD     := -std=c17 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
OPT      := -O2 -g
# Asserts stay on in every build: NDEBUG is never defined.
CFLAGS_BASE := $(CSTD) $(WARN) $(OPT) -Isrc -MMD -MP
PKGS     := cmocka lmdb libuv libxxhash libssl libcrypto

ifeq ($(SANITIZE),1)
  CFLAGS_BASE += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  LDFLAGS_SAN := -fsanitize=address,undefined
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs lmdb libuv libxxhash libssl libcrypto 2>/dev/null)
CFLAGS  := $(CFLAGS_BASE) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS  := $(PKG_LIBS) -lpthread -lm
LDFLAGS := $(LDFLAGS_SAN)

LIB_SRC    := $(sort $(wildcard src/*/*.c))
CMD_SRC    := $(sort $(wildcard cmd/*.c))
TEST_SRC   := $(sort $(wildcard tests/unit/test_*.c tests/scenarios/test_*.c))
TESTLIB_SRC:= $(sort $(wildcard tests/support/*.c))
BENCH_SRC  := $(sort $(wildcard bench/*.c))

LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TESTLIB_OBJ:= $(TESTLIB_SRC:%.c=$(BUILD)/obj/%.o)
CMD_BIN    := $(CMD_SRC:cmd/%.c=$(BUILD)/bin/%)
TEST_BIN   := $(foreach t,$(TEST_SRC),$(BUILD)/tests/$(basename $(notdir $(t))))
BENCH_BIN  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
LIB        := $(BUILD)/libchorus.a
# The live view's page (web/), compiled into the library as byte arrays (src/node/web_assets.h).
WEB_SRC    := $(sort $(wildcard web/*))
WEB_GEN    := $(BUILD)/gen/web_assets.c
LIB_OBJ    += $(BUILD)/obj/gen/web_assets.o

.PHONY: all deps test unit asan run sim-demo clean bench chaos fuzz check-deps
.DEFAULT_GOAL := all

# `make deps` installs what is missing, and only that. Every other target checks first
# (check-deps is cheap when all is present) so a fresh Debian 12 machine needs nothing else.
DEB_PKGS := pkg-config:pkg-config libcmocka-dev:cmocka liblmdb-dev:lmdb libuv1-dev:libuv \
            libxxhash-dev:libxxhash libssl-dev:libssl
DEB_CMDS := redis-tools:redis-cli redis-server:redis-server strace:strace clang:clang perl:perl \
            iproute2:ip iptables:iptables chromium:chromium chromium-driver:chromedriver
# Python modules the real-process tests import, with Debian's /usr/bin/python3 (which the
# python3 package brings): redis-py, the client library a Redis user would try first, and
# Prometheus's own text-format parser, which reads chorusd's /metrics in node_metrics.sh;
# Selenium, which drives headless Chromium through the live view in node_view_browser.sh.
DEB_PYMODS := python3-redis:redis python3-prometheus-client:prometheus_client \
              python3-selenium:selenium

deps:
	@missing=""; \
	for pair in $(DEB_PKGS); do deb=$${pair%%:*}; pc=$${pair##*:}; \
	  if [ "$$pc" = pkg-config ]; then command -v pkg-config >/dev/null || missing="$$missing $$deb"; \
	  else pkg-config --exists $$pc 2>/dev/null || missing="$$missing $$deb"; fi; done; \
	for pair in $(DEB_CMDS); do deb=$${pair%%:*}; cmd=$${pair##*:}; \
	  command -v $$cmd >/dev/null || missing="$$missing $$deb"; done; \
	for pair in $(DEB_PYMODS); do deb=$${pair%%:*}; mod=$${pair##*:}; \
	  /usr/bin/python3 -c "import $$mod" 2>/dev/null || missing="$$missing $$deb"; done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# The checks of deps are cheap (pkg-config, command -v, one import): every build runs them.
check-deps: deps

all: check-deps
	@$(MAKE) --no-print-directory build-all

.PHONY: build-all
build-all: $(LIB) $(CMD_BIN) $(TEST_BIN) $(BENCH_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(WEB_GEN): $(WEB_SRC) tools/web-embed.sh
	@mkdir -p $(dir $@)
	tools/web-embed.sh $@ $(WEB_SRC)

$(BUILD)/obj/gen/web_assets.o: $(WEB_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/obj/cmd/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

define test_rule
$(BUILD)/tests/$(basename $(notdir $(1))): $(BUILD)/obj/$(basename $(1)).o $(TESTLIB_OBJ) $(LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) $$< $(TESTLIB_OBJ) $(LIB) -lcmocka $$(LDLIBS) -o $$@
endef
$(foreach t,$(TEST_SRC),$(eval $(call test_rule,$(t))))

# `make test` runs every test binary, the simulator seeds and the cluster tests, and ends
# with one summary line: "tests: N passed, N failed".
test: all
	@BUILD=$(BUILD) tests/run.sh

asan:
	@TEST_TIMEOUT_SCALE=3 $(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 test

run: all
	@tools/run-cluster.sh $(BUILD)

# Raft with the storage benchmarks, then the same cluster benchmarks with Multi-Paxos, then
# HSET, LPUSH, SADD and ZADD against one-element and million-element collections, ZRANGE and
# LRANGE from the middle of a million (bench/collections.sh).
bench: all
	@BUILD=$(BUILD) bench/run.sh
	@BUILD=$(BUILD) PROTOCOL=paxos BENCH_SKIP_STORAGE=1 BENCH_SUFFIX=-paxos bench/run.sh
	@BUILD=$(BUILD) bench/collections.sh
	@BUILD=$(BUILD) bench/ring_bench.sh
	@BUILD=$(BUILD) bench/shards.sh
	@BUILD=$(BUILD) bench/vs.sh
	@BUILD=$(BUILD) bench/view_cost.sh
	@BUILD=$(BUILD) bench/peer_tls.sh
	@BUILD=$(BUILD) bench/rebalance.sh

chaos: all
	@BUILD=$(BUILD) tests/chaos.sh

fuzz: check-deps
	@tests/fuzz/run.sh

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
