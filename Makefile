# moonvpn — the only build file. GNU make.
#
#   make                 build build/moonvpn (warnings are errors) and build/man/ (from README.md)
#   make demo            run vpn.lua.example in a throwaway network namespace (as root)
#   make soak            1,000 load-generator clients for 30 minutes against one server: RSS,
#                        descriptors and every client still connected (as root)
#   make bench           iperf3, ping and CPU/GB through moonvpn, veth, stock OpenVPN and wireguard-go
#   make deps            install missing Debian packages (as root), else print the command
#   make test            deps + build + C unit tests + every busted spec, then the same
#                        again with SANITIZE=address,undefined; ends with "N passed, N failed"
#   make peers           build OpenVPN 2.7.6 and ovpncli (OpenVPN 3 core) into build/peers for
#                        the interop specs, from PEERS_SRC (once; make spec does it too)
#   make check-c         C unit tests only          make spec   busted specs only
#   make tsan            the threaded C unit tests built with SANITIZE=thread (build/tsan/)
#   make fuzz-run        build the libFuzzer targets and run each FUZZ_SECONDS (default 60)
#   make lint            clang-format, luacheck, header self-containment, lua.h boundary
#   make install         PREFIX=/usr/local DESTDIR= SYSTEMDUNITDIR=/lib/systemd/system
#   make SANITIZE=address,undefined <target>   any target on a sanitizer build (build/san/)
#   V=1                  show the commands

PREFIX  ?= /usr/local
DESTDIR ?=
DATADIR  = $(PREFIX)/share/moonvpn
# systemd units go where the distribution's systemd reads them, whatever PREFIX is.
SYSTEMDUNITDIR ?= /lib/systemd/system

CC      ?= cc
LUA_PKG ?= lua5.4
LUA     ?= lua5.4
PKGS     = $(LUA_PKG) libssl libcrypto libmnl libedit

WARN = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wformat=2 -Wundef -Wpointer-arith -Wimplicit-fallthrough -Wvla \
       -fno-common

ifeq ($(SANITIZE),)
BUILD  ?= build
OPT    ?= -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong
else
BUILD  ?= build/san
OPT    ?= -O1 -g -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
SANLDFLAGS = -fsanitize=$(SANITIZE)
endif

# pkg-config may be missing before `make deps`; fall back to Debian's paths.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null || echo -I/usr/include/lua5.4)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -llua5.4 -lssl -lcrypto -lmnl -ledit)

# core/ is layered as docs/design.md describes (wire protocol, control plane, data
# plane, Lua binding, system interfaces); a header is included by its name alone.
CORE_DIRS := core core/wire core/control core/data core/lua core/sys
CORE_INC  := $(addprefix -I,$(CORE_DIRS))
# The path of a core source file by its name (core/*/NAME).
core_src   = $(firstword $(wildcard $(addsuffix /$(1),$(CORE_DIRS))))

CFLAGS  += $(WARN) $(OPT) -MMD -MP $(CORE_INC) $(PKG_CFLAGS) -DMOONVPN_DATADIR='"$(DATADIR)"'
# liblzo2 and liblz4 only decompress what a legacy client still compresses (compframe.c).
LDLIBS  += $(PKG_LIBS) -lev -lcrypt -llzo2 -llz4 -lm -pthread
LDFLAGS += $(SANLDFLAGS)

ifeq ($(V),1)
Q =
else
Q = @
endif

SRCS      := $(wildcard $(addsuffix /*.c,$(CORE_DIRS)))
HDRS      := $(wildcard $(addsuffix /*.h,$(CORE_DIRS)))
OBJS      := $(SRCS:core/%.c=$(BUILD)/obj/%.o)
# The Lua C module for busted: the pure parts of the core, no engine.
MOD_SRCS  := core/lua/lua_core.c core/data/ip.c core/wire/crypto.c core/sys/osslmem.c core/sys/slab.c
MOD_OBJS  := $(MOD_SRCS:core/%.c=$(BUILD)/pic/%.o)
TEST_SRCS := $(wildcard spec/c/test_*.c)
TESTS     := $(TEST_SRCS:spec/c/%.c=$(BUILD)/test/%)
# Everything but main.c links into the unit tests.
LIB_OBJS  := $(filter-out $(BUILD)/obj/main.o,$(OBJS))

BIN = $(BUILD)/moonvpn
MOD = $(BUILD)/lua/moonvpn/core.so
# Manual pages, made from README.md's marked tables by scripts/man.lua (never by hand).
MAN = build/man/moonvpn.8 build/man/moonvpn.lua.5
MANDIR ?= $(PREFIX)/share/man
VERSION := $(shell sed -n 's/^\#define MOONVPN_VERSION "\(.*\)"/\1/p' core/engine.h)

.PHONY: all deps test check-c tsan spec lint install uninstall clean test-one demo bench bench-workers bench-scale fuzz fuzz-run peers \
	soak
all: $(BIN) $(MOD) $(MAN)

build/man/moonvpn.8: README.md scripts/man.lua core/engine.h
	@mkdir -p $(dir $@)
	@echo "  MAN     $(MAN)"
	$(Q)$(LUA) scripts/man.lua README.md build/man $(VERSION)
build/man/moonvpn.lua.5: build/man/moonvpn.8

$(BIN): $(OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: core/%.c | $(BUILD)/obj
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/pic/%.o: core/%.c | $(BUILD)/pic
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -fPIC -DMOONVPN_LUA_MODULE -c -o $@ $<

$(MOD): $(MOD_OBJS) | $(BUILD)/lua/moonvpn
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -shared -o $@ $^ -lcrypto

$(BUILD)/test/%: spec/c/%.c spec/c/unit.h $(LIB_OBJS) | $(BUILD)/test
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -Ispec/c $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

# test_credentials fails an allocation on purpose and sees what the core wipes.
$(BUILD)/test/test_credentials: private LDFLAGS += -Wl,--wrap=calloc -Wl,--wrap=crypto_wipe

$(BUILD)/obj $(BUILD)/pic $(BUILD)/test $(BUILD)/lua/moonvpn:
	$(Q)mkdir -p $@

-include $(OBJS:.o=.d) $(MOD_OBJS:.o=.d)

# --- dependencies -----------------------------------------------------------
DEB_BUILD = gcc make pkg-config liblua5.4-dev lua5.4 libssl-dev libev-dev libmnl-dev libedit-dev \
            libcrypt-dev liblzo2-dev liblz4-dev
# curl and prometheus (its promtool): spec/netns/metrics_spec.lua scrapes and checks /metrics.
# wireguard-go and wireguard-tools: the userspace WireGuard anchor of make bench, whose quick
# mode spec/netns/bench_spec.lua runs.
DEB_TEST  = lua-busted openvpn openssl iperf3 iproute2 iputils-ping procps util-linux bsdutils \
            clang libclang-rt-14-dev lua-check netcat-openbsd wireguard-go wireguard-tools \
            jq groff-base man-db strace easy-rsa curl prometheus \
            golang-go golang-github-apparentlymart-go-openvpn-mgmt-dev
# python3: spec/netns/client_auth_spec.lua gives moonvpn a terminal (pty) to type passwords at.
DEB_TEST += python3
# nftables: spec/netns/loss_spec.lua drops a share of the underlay's datagrams (numgen random),
# spec/netns/redirect_spec.lua counts where packets came from.
DEB_TEST += nftables
# What the upstream peers' build script needs (make peers), when there are peers to build.
DEB_PEERS = autoconf automake libtool pkg-config make libssl-dev liblzo2-dev liblz4-dev libpam0g-dev \
            libcap-ng-dev libnl-genl-3-dev cmake g++ ninja-build libasio-dev libcap-dev \
            libjsoncpp-dev libxxhash-dev
DEB_ALL   = $(DEB_BUILD) $(DEB_TEST) $(if $(PEERS_SRC),$(DEB_PEERS))
# make bench only: perf counts the servers' system calls.
DEB_BENCH = linux-perf

deps:
	@missing=$$(for p in $(DEB_ALL); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then echo "deps: all present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "deps: installing:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt_locked() { fuser /var/lib/dpkg/lock-frontend /var/lib/apt/lists/lock >/dev/null 2>&1; }; \
		for try in $$(seq 1 60); do apt_locked || break; \
			[ $$try = 1 ] && echo "deps: another apt-get or dpkg runs (unattended-upgrades?); waiting up to 5 minutes"; \
			sleep 5; done; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends \
			-o DPkg::Lock::Timeout=300 $$missing >/dev/null \
			|| { echo "deps: apt-get failed; run it by hand: apt-get install" $$missing >&2; exit 1; }; \
	else \
		echo "deps: missing packages; as root run:" >&2; \
		echo "  apt-get install -y $$missing" >&2; exit 1; \
	fi

# --- tests ------------------------------------------------------------------
# test-one: C unit tests then busted, for the build selected by SANITIZE.
# Each suite writes its counts to $(BUILD)/results/<suite>; spec/summary adds them up.
check-c: $(TESTS)
	$(Q)mkdir -p $(BUILD)/results
	$(Q)spec/c/run $(BUILD)/results/c$(if $(SANITIZE),-san) $(TESTS)

# ThreadSanitizer on the C unit tests that run threads (the ring, the workers' parking in
# loopgroup.c; worker.c under test_passwd), in a build of its own: a TSan build cannot share
# objects with the address one. Any report fails the test (exit 66).
TSAN_TESTS = $(addprefix build/tsan/test/,test_ring test_passwd test_loopgroup)
# Then the server itself with two workers' threads (docs/workers.md), built with TSan, under the
# specs whose traffic crosses the threads: both workers busy at once, client_to_client between
# them, the policy, TAP's switch and TCP clients (handed to the main thread). Any report stops
# the server at once (halt_on_error) and so fails its spec. make test runs this target.
TSAN_SPECS = spec/netns/workers_spec.lua spec/netns/policy_spec.lua spec/netns/tap_spec.lua \
	     spec/netns/tcp_spec.lua
tsan:
	$(Q)$(MAKE) --no-print-directory SANITIZE=thread BUILD=build/tsan $(TSAN_TESTS) build/tsan/moonvpn
	$(Q)$(MAKE) --no-print-directory SANITIZE= BUILD=build $(SPEC_MOD) $(SPEC_TOOLS)
	$(Q)mkdir -p build/tsan/results
	$(Q)TSAN_OPTIONS="halt_on_error=1 exitcode=66" spec/c/run build/tsan/results/c-tsan $(TSAN_TESTS)
	$(Q)TSAN_OPTIONS="halt_on_error=1 exitcode=66" MOONVPN_WORKERS=2 MOONVPN_BUILD=build/tsan \
		SANITIZE=thread SPEC_JOBS=1 spec/run-busted build/tsan/results/spec-tsan $(TSAN_SPECS)

# busted loads moonvpn.core into a stock lua5.4, so it always gets the normal build's
# core.so (an ASan module cannot load there); the sanitizer run tests the binary.
SPEC_MOD = build/lua/moonvpn/core.so
# Tools the integration specs run (packet injection); built with the test flags.
SPEC_TOOLS = build/tools/inject build/tools/craft build/tools/flood build/tools/connflood \
	     build/tools/xfer build/tools/v2client build/tools/notifysock build/tools/mgmtgo \
	     build/tools/loadgen
# The loss spec's relay that reorders and duplicates datagrams (the kernel has no netem).
SPEC_TOOLS += build/tools/udprelay
# A micro-benchmark for make bench, linked with the core like the unit tests.
build/tools/filterbench: spec/tools/filterbench.c $(LIB_OBJS) | build/tools
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)
# tls-crypt-v2 packets for the front-door specs, made with the core's own codec and wrapping.
build/tools/v2client: spec/tools/v2client.c $(LIB_OBJS) | build/tools
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)
# The load generator: many of the engine's own clients on one loop (spec/netns/loadgen_spec.lua).
build/tools/loadgen: spec/tools/loadgen.c $(LIB_OBJS) | build/tools
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)
# The bulk-transfer tool hashes what it moves with libcrypto's SHA-256.
build/tools/xfer: spec/tools/xfer.c | build/tools
	@echo "  CC      $@"
	$(Q)$(CC) $(WARN) -O2 -g -o $@ $< -lcrypto
# A third-party management client (Debian's go-openvpn-mgmt), built offline from
# /usr/share/gocode as Debian packages Go libraries (GOPATH mode, no module download).
build/tools/mgmtgo: spec/tools/mgmtgo/main.go | build/tools
	@echo "  GO      $@"
	$(Q)GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$(CURDIR)/build/gocache GOFLAGS= \
		GOPROXY=off go build -o $@ ./spec/tools/mgmtgo
build/tools/%: spec/tools/%.c | build/tools
	@echo "  CC      $@"
	$(Q)$(CC) $(WARN) -O2 -g -o $@ $<
build/tools:
	$(Q)mkdir -p $@

# SPEC_JOBS: how many spec files run at once (spec/run-busted's lanes); 1 runs
# one busted over them all, as before.
SPEC_JOBS ?= 2

spec: $(BIN)
	$(Q)$(MAKE) --no-print-directory SANITIZE= BUILD=build $(SPEC_MOD) $(SPEC_TOOLS) \
		$(if $(PEERS_SRC),peers)
	$(if $(PEERS_SRC),,@echo "spec: no PEERS_SRC, so make peers cannot build OpenVPN 2.7 and ovpncli: their specs are skipped unless $(PEERS_OUT) has them")
	$(Q)mkdir -p $(BUILD)/results
	$(Q)MOONVPN_BUILD=$(BUILD) SANITIZE=$(SANITIZE) MOONVPN_PEERS=$(PEERS_OUT) SPEC_JOBS=$(SPEC_JOBS) spec/run-busted $(BUILD)/results/spec$(if $(SANITIZE),-san)

# The long soak (issue 15 item 5): 1,000 load-generator clients renegotiating every 60 s
# with pings through the tunnel for 30 minutes against one server; make test runs the short
# version of the same spec. Prints the server's RSS series; fails on a lost client, a failed
# handshake, a leaked descriptor or RSS that does not stay flat.
SOAK_CLIENTS ?= 1000
SOAK_SECONDS ?= 1800
SOAK_RENEG   ?= 60
SOAK_SAMPLE  ?= 30
soak: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory SANITIZE= BUILD=build $(SPEC_MOD) build/tools/loadgen
	$(Q)export MVT_PREFIX=mvt-soak-$$$$ MOONVPN_BIN=$(CURDIR)/$(BUILD)/moonvpn SANITIZE=$(SANITIZE) \
		MVT_SOAK_CLIENTS=$(SOAK_CLIENTS) MVT_SOAK_SECONDS=$(SOAK_SECONDS) \
		MVT_SOAK_RENEG=$(SOAK_RENEG) MVT_SOAK_SAMPLE=$(SOAK_SAMPLE); \
	trap 'spec/helpers/cleanup' EXIT; \
	lua5.4 /usr/bin/busted --output=plainTerminal \
		--lpath="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/plugins/?.lua;$(CURDIR)/?.lua" \
		--cpath="$(CURDIR)/build/lua/?.so" spec/netns/soak_spec.lua

test-one:
	-$(Q)$(MAKE) --no-print-directory check-c
	-$(Q)$(MAKE) --no-print-directory spec

# make test gives each fuzz target this long: enough to run its seed corpus and some
# mutations of it on every build; the long search is make fuzz-run's (FUZZ_SECONDS).
TEST_FUZZ_SECONDS ?= 5

# The release and the sanitizer passes run one after the other, each spec pass
# in SPEC_JOBS lanes. Not side by side: both passes begin by building the spec
# tools and peers into the same build/ (two makes racing on one file); the
# files spec/run-busted runs alone would have to be alone across both passes,
# and a lock that waits for the other pass's lanes to drain serialises most of
# what was gained; and the sanitizer pass is CPU-bound where the release pass
# waits, so beside it on two cores the waits the specs allow get tight. What
# idle CPU the lanes leave, SPEC_JOBS takes up in one pass without these: with
# 2 lanes the release pass's lane phase left 42 % of the CPU idle (vmstat, 2
# cores, 2026-12-03) and each file took what it takes alone.
# The sanitizer pass runs every server with two data-path workers' threads
# (MOONVPN_WORKERS, docs/workers.md) and the release pass with one (the default would
# be one per CPU), so the whole suite covers both without a third pass; make tsan runs
# the specs whose traffic crosses the threads under ThreadSanitizer.
test: deps
	$(Q)rm -rf build/results build/san/results build/tsan/results
	$(Q)$(MAKE) --no-print-directory all
	$(Q)MOONVPN_WORKERS=1 $(MAKE) --no-print-directory test-one
	$(Q)$(MAKE) --no-print-directory SANITIZE=address,undefined all
	$(Q)MOONVPN_WORKERS=2 $(MAKE) --no-print-directory SANITIZE=address,undefined test-one
	-$(Q)$(MAKE) --no-print-directory tsan
	-$(Q)$(MAKE) --no-print-directory FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) fuzz-run
	$(Q)spec/summary build/results/* build/san/results/* build/tsan/results/*

# The newest upstream OpenVPN implementations as interop peers (spec/netns/peers_spec.lua):
# OpenVPN 2.7.6 and the OpenVPN 3 core test client ovpncli, built from the upstream peers'
# release tarballs and build script, PEERS_SRC, into the cache PEERS_OUT. The script keeps a
# peer already built, so this is a no-op once both are there; the first build takes a few
# minutes. Without PEERS_SRC the specs that need these peers are reported as skipped.
# GIT_CEILING_DIRECTORIES: OpenVPN's build would take this checkout's git commit for its
# own version string.
PEERS_SRC ?= $(patsubst %/build,%,$(firstword $(wildcard $(abspath ../shared/peers)/build /work/shared/peers/build)))
PEERS_OUT  = build/peers
PEER_BINS  = $(PEERS_OUT)/openvpn-2.7/sbin/openvpn $(PEERS_OUT)/ovpncli

peers:
ifeq ($(PEERS_SRC),)
	@echo "peers: no PEERS_SRC: set it to the directory of the upstream peers' release tarballs" \
		"and their build script (make peers PEERS_SRC=DIR)" >&2; exit 1
else
	$(Q)for b in $(PEER_BINS); do [ -x $$b ] || missing=1; done; [ -z "$$missing" ] && exit 0; \
	[ -x "$(PEERS_SRC)/build" ] || { echo "peers: no build script $(PEERS_SRC)/build: PEERS_SRC must be" \
		"the directory of the upstream peers' release tarballs and their build script" >&2; exit 1; }; \
	$(MAKE) --no-print-directory deps DEB_ALL="$(DEB_PEERS)" || exit 1; \
	mkdir -p $(PEERS_OUT); \
	echo "  PEERS   $(PEERS_OUT): OpenVPN 2.7 and ovpncli from $(PEERS_SRC) (a few minutes, log in $(PEERS_OUT)/build.log)"; \
	GIT_CEILING_DIRECTORIES=$(abspath $(PEERS_OUT)) $(PEERS_SRC)/build $(PEERS_OUT) > $(PEERS_OUT)/build.log 2>&1 \
		|| { tail -n 30 $(PEERS_OUT)/build.log; echo "peers: the build failed; see $(PEERS_OUT)/build.log" >&2; exit 1; }
endif

# --- the main job -------------------------------------------------------------
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo

# Side-by-side figures against veth, stock OpenVPN and wireguard-go; never a pass/fail on speed.
# N clients of the load generator against moonvpn and a stock OpenVPN server: storm, memory, restart.
bench-scale: deps
	$(Q)$(MAKE) --no-print-directory all build/tools/loadgen
	$(Q)scripts/bench-scale

bench:
	$(Q)$(MAKE) --no-print-directory deps DEB_ALL="$(DEB_ALL) $(DEB_BENCH)"
	$(Q)$(MAKE) --no-print-directory all build/tools/filterbench
	$(Q)scripts/bench
	$(Q)echo
	$(Q)scripts/bench-workers

# Several clients through one server with one worker and with WORKERS (docs/workers.md).
bench-workers:
	$(Q)$(MAKE) --no-print-directory deps DEB_ALL="$(DEB_ALL) $(DEB_BENCH)"
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/bench-workers

# --- fuzzing ------------------------------------------------------------------
# One libFuzzer target per parser: spec/fuzz/fuzz_<target>.c with <target>.dict and
# a seed corpus in spec/fuzz/corpus/<target>/. fuzz-run gives each FUZZ_SECONDS.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SRCS    := $(wildcard spec/fuzz/fuzz_*.c)
FUZZERS      := $(FUZZ_SRCS:spec/fuzz/%.c=build/fuzz/%)
FUZZ_FLAGS    = -std=c11 -D_GNU_SOURCE -g -O1 $(CORE_INC) -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all

fuzz: $(FUZZERS)

# Targets whose module needs more than itself name the extra sources and libraries here.
# crypto.c keeps its cipher contexts out of the handshake heap through osslmem.c (and slab.c).
FUZZ_CRYPTO = $(foreach f,crypto.c osslmem.c slab.c,$(call core_src,$(f))) -lcrypto -lpthread
FUZZ_EXTRA_wrap = $(call core_src,statickey.c) $(FUZZ_CRYPTO)
FUZZ_EXTRA_tlscryptv2 = $(foreach f,statickey.c pem.c,$(call core_src,$(f))) $(FUZZ_CRYPTO)
FUZZ_EXTRA_datakey = $(foreach f,replay.c proto.c epochdata.c epoch.c keys.c,$(call core_src,$(f))) $(FUZZ_CRYPTO)
FUZZ_EXTRA_pushopts = $(call core_src,ip.c)
FUZZ_EXTRA_packet = $(call core_src,ip.c)
FUZZ_EXTRA_vnet = $(call core_src,packet.c) $(call core_src,ip.c)
FUZZ_EXTRA_compframe = -llzo2 -llz4
FUZZ_EXTRA_authtoken = $(FUZZ_CRYPTO)
FUZZ_EXTRA_tlsrec = $(FUZZ_CRYPTO)
FUZZ_EXTRA_challenge = $(call core_src,authtoken.c) $(FUZZ_CRYPTO)

# The state-machine targets (sessions, the server's front door) link the whole engine:
# every core source but main.c, built with the sanitizers and coverage into one archive
# from which the linker takes only what a target reaches.
FUZZ_LIB_OBJS := $(patsubst core/%.c,build/fuzz/obj/%.o,$(filter-out core/main.c,$(SRCS)))
FUZZ_ENGINE    = build/fuzz/libengine.a $(LDLIBS)
FUZZ_EXTRA_session_server = $(FUZZ_ENGINE)
FUZZ_EXTRA_session_client = $(FUZZ_ENGINE)
FUZZ_EXTRA_datagram = $(FUZZ_ENGINE)
FUZZ_DEPS_session_server = build/fuzz/libengine.a spec/fuzz/fuzz_session.h spec/fuzz/fuzz_fake.h
FUZZ_DEPS_session_client = $(FUZZ_DEPS_session_server)
FUZZ_DEPS_datagram = build/fuzz/libengine.a spec/fuzz/fuzz_fake.h

build/fuzz/obj/%.o: core/%.c
	@mkdir -p $(@D)
	@echo "  FUZZCC  $@"
	$(Q)$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 $(CORE_INC) $(PKG_CFLAGS) \
		-DMOONVPN_DATADIR='"$(DATADIR)"' -fsanitize=fuzzer-no-link,address,undefined \
		-fno-sanitize-recover=all -c -o $@ $<

build/fuzz/libengine.a: $(FUZZ_LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

# The module under test is found in whichever core/ folder holds it.
.SECONDEXPANSION:
build/fuzz/fuzz_%: spec/fuzz/fuzz_%.c $$(call core_src,$$*.c) $$(call core_src,$$*.h) \
		$$(FUZZ_DEPS_$$*) | build/fuzz
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(call core_src,$*.c) $(FUZZ_EXTRA_$*)

build/fuzz:
	$(Q)mkdir -p $@

# Writes "passed failed 0" to build/results/fuzz: one pass per target that ran clean.
fuzz-run: $(FUZZERS)
	$(Q)mkdir -p build/results build/fuzz/work
	$(Q)p=0; f=0; for t in $(FUZZERS); do n=$${t##*/fuzz_}; \
		mkdir -p build/fuzz/work/$$n; \
		if $$t -max_total_time=$(FUZZ_SECONDS) -dict=spec/fuzz/$$n.dict \
			-artifact_prefix=build/fuzz/work/$$n- build/fuzz/work/$$n spec/fuzz/corpus/$$n \
			> build/fuzz/work/$$n.log 2>&1; \
		then p=$$((p + 1)); echo "fuzz $$n: clean for $(FUZZ_SECONDS) s ($$(grep -o 'Done [0-9]* runs' build/fuzz/work/$$n.log))"; \
		else f=$$((f + 1)); echo "fuzz $$n: FAILED, see build/fuzz/work/$$n.log"; tail -20 build/fuzz/work/$$n.log; fi; \
	done; echo "$$p $$f 0" > build/results/fuzz; [ $$f -eq 0 ]

# --- lint -------------------------------------------------------------------
lint: deps
	$(Q)clang-format --dry-run --Werror $(SRCS) $(HDRS) spec/c/*.c spec/c/*.h spec/fuzz/*.c spec/fuzz/*.h spec/tools/*.c
	$(Q)luacheck -q lua plugins scripts spec vpn.lua.example
	$(Q)for h in $(HDRS); do \
		echo "#include \"$$h\"" | $(CC) $(WARN) $(PKG_CFLAGS) -I. $(CORE_INC) -x c -fsyntax-only - \
			|| { echo "lint: $$h does not compile on its own" >&2; exit 1; }; done
	$(Q)bad=$$(grep -l '#include [<"]\(lua\|lualib\|lauxlib\)\.h' $(SRCS) | grep -v '^core/lua/' ); \
		if [ -n "$$bad" ]; then echo "lint: only core/lua/ may include lua.h: $$bad" >&2; exit 1; fi

# --- install ----------------------------------------------------------------
install: $(BIN) $(MAN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(DATADIR)/lua/moonvpn $(DESTDIR)$(DATADIR)/plugins
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/moonvpn
	install -m 0644 lua/moonvpn/*.lua $(DESTDIR)$(DATADIR)/lua/moonvpn/
	install -m 0644 plugins/* $(DESTDIR)$(DATADIR)/plugins/
	install -m 0644 vpn.lua.example $(DESTDIR)$(DATADIR)/vpn.lua.example
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 build/man/moonvpn.8 $(DESTDIR)$(MANDIR)/man8/moonvpn.8
	install -m 0644 build/man/moonvpn.lua.5 $(DESTDIR)$(MANDIR)/man5/moonvpn.lua.5
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|@BINDIR@|$(PREFIX)/bin|g' systemd/moonvpn@.service > $(DESTDIR)$(SYSTEMDUNITDIR)/moonvpn@.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/moonvpn@.service

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/moonvpn $(DESTDIR)$(SYSTEMDUNITDIR)/moonvpn@.service
	rm -f $(DESTDIR)$(MANDIR)/man8/moonvpn.8 $(DESTDIR)$(MANDIR)/man5/moonvpn.lua.5
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -rf build
