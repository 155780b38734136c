# Makefile: builds pacto, its tests and benchmarks.
#   make            build/pacto and the test programs
#   make check      run every test (tests/run)
#   make sanitize   the same tests built with AddressSanitizer + UBSan, in build-san/
#   make fuzz       the libFuzzer harnesses (clang, ASan + UBSan), in build-fuzz/fuzz/
#   make V=1        show the commands
#   make LTO=       without link-time optimisation (on in the normal build, at -O3)
#   make SANDBOX_AUDIT=1 BUILD=build-audit   a pactod whose seccomp filter logs instead of refusing (docs/hardening.md)
CC ?= cc
SANITIZE ?=
FUZZ ?=
BUILD ?= build$(if $(FUZZ),-fuzz,$(if $(SANITIZE),-san))
PREFIX ?= /usr/local
RULES_DIR ?= /etc/pacto/rules

PKGS := libpcre2-8 yaml-0.1 jansson sqlite3 libnftables libnftnl libmnl libsystemd libsodium libnats libcap-ng libseccomp
# Without the libraries' development packages (a fresh machine before
# scripts/deps) the build would stop at the first missing header: say
# which are missing and how to get them instead (cmocka too for the
# goals that build the tests). One pkg-config call when all are there;
# `make clean` needs none.
NEEDED_PKGS := $(PKGS) libmicrohttpd $(if $(filter all check sanitize,$(or $(MAKECMDGOALS),all)),cmocka)
MISSING_PKGS := $(shell pkg-config --exists $(NEEDED_PKGS) 2>/dev/null || \
	for p in $(NEEDED_PKGS); do pkg-config --exists $$p 2>/dev/null || echo $$p; done)
ifneq ($(MISSING_PKGS),)
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),all)),)
$(error pkg-config finds no $(MISSING_PKGS) (Debian's -dev packages, or pkg-config itself, are missing): run scripts/deps as root, which installs what pacto needs to build and test)
endif
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Only pactod serves HTTP (/metrics, the sanctions page).
WEB_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
WEB_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wcast-qual
SAN_FLAGS := -fsanitize=address -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# The normal build is optimised with -O3 and at link time: the hot path
# crosses files (logline, dispatch, match, lru, addr), and gcc inlines
# across files only when it links: replay 227.9 -> 218.4 M instructions,
# 0.933 of its wall time on two CPUs; -O3 then 213.9 M, 0.94-0.96 of the
# one-CPU time (docs/performance.md, "Session 10"). Not with the
# sanitizers or the fuzzers, nor with another compiler than gcc (whose
# objects `ar` indexes through gcc's plugin); `make LTO=` builds without
# link-time optimisation, `make OPT_LEVEL=-O2` at -O2.
IS_GCC := $(shell $(CC) --version 2>/dev/null | grep -q 'Free Software Foundation' && echo yes)
LTO ?= $(if $(FUZZ)$(SANITIZE),,$(if $(IS_GCC),-flto=auto))
OPT_LEVEL ?= -O3
OPT := $(if $(FUZZ),-O1 -fsanitize=fuzzer-no-link $(FUZZ_FLAGS),$(if $(SANITIZE),-O1 $(SAN_FLAGS),$(OPT_LEVEL) $(LTO)))
CFLAGS ?= -g
CFLAGS += -std=c17 -pthread -D_GNU_SOURCE $(WARN) $(OPT) -MMD -MP -Isrc -I$(BUILD)/gen $(PKG_CFLAGS) $(WEB_CFLAGS) \
	  -DPACTO_RULES_DIR='"$(RULES_DIR)"' $(if $(SANDBOX_AUDIT),-DSANDBOX_AUDIT)
LDFLAGS += -pthread $(if $(SANITIZE),$(SAN_FLAGS)) $(if $(LTO),$(OPT_LEVEL) $(LTO))

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC := $(wildcard src/common/*.c src/config/*.c src/detect/*.c src/sources/*.c src/ledger/*.c src/enforce/*.c src/alliance/*.c src/import/*.c) \
	   $(wildcard src/ctl/ctl_*.c)
CTL_SRC := $(filter-out src/ctl/ctl_%.c,$(wildcard src/ctl/*.c))
DAEMON_SRC := src/pactod.c $(wildcard src/daemon/*.c)
TEST_SRC := $(wildcard tests/unit/test_*.c)
STOCK_RULES := $(sort $(wildcard rules/*.yaml))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CTL_OBJ := $(CTL_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/stock_rules.o
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/stock_rules.o $(BUILD)/gen/web_page.o
TESTS := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
LIBPACTO := $(BUILD)/libpacto.a
# Each fuzz harness is built twice: a libFuzzer program (make fuzz) and a
# test that replays its corpus and regressions (tests/fuzz/replay.c).
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAYS := $(FUZZ_NAMES:%=$(BUILD)/tests/test_%)
FUZZERS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/%)

all: $(BUILD)/pacto $(BUILD)/pactod $(BUILD)/gen_authlog $(BUILD)/netprobe $(BUILD)/reaction \
     $(BUILD)/natsprobe $(BUILD)/allyprobe $(BUILD)/f2bsample $(BUILD)/bench_transport $(BUILD)/bench_alliance \
     $(BUILD)/ledger_fill \
     $(TESTS) $(FUZZ_REPLAYS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/gen/stock_rules.c: $(STOCK_RULES) scripts/embed-rules
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  EMBED   $(STOCK_RULES)")
	$(Q)scripts/embed-rules $(STOCK_RULES) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/stock_rules.o: $(BUILD)/gen/stock_rules.c
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/gen/web_page.c: src/daemon/page.html scripts/embed-text
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  EMBED   $<")
	$(Q)scripts/embed-text web_page $< > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/web_page.o: $(BUILD)/gen/web_page.c
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIBPACTO): $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/pacto: $(CTL_OBJ) $(LIBPACTO)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/pactod: $(DAEMON_OBJ) $(LIBPACTO)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(WEB_LIBS)

$(BUILD)/netprobe: $(BUILD)/tests/tools/netprobe.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/f2bsample: $(BUILD)/tests/tools/f2bsample.o $(LIBPACTO)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/natsprobe: $(BUILD)/tests/tools/natsprobe.o $(LIBPACTO)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/allyprobe: $(BUILD)/tests/tools/allyprobe.o $(LIBPACTO)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bench_transport: $(BUILD)/bench/transport.o $(LIBPACTO)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bench_alliance: $(BUILD)/bench/alliance.o $(BUILD)/bench/setelem.o $(LIBPACTO)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/reaction: $(BUILD)/bench/reaction.o $(BUILD)/bench/setelem.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libnftnl libmnl)

$(BUILD)/ledger_fill: $(BUILD)/bench/ledger_fill.o $(LIBPACTO)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/gen_authlog: $(BUILD)/bench/gen_authlog.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBPACTO) $(BUILD)/gen/stock_rules.o
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs cmocka)

$(FUZZ_REPLAYS): $(BUILD)/tests/test_%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o \
		 $(BUILD)/tests/fuzz/common.o $(LIBPACTO) $(BUILD)/gen/stock_rules.o
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(FUZZERS): $(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/common.o $(LIBPACTO) \
	    $(BUILD)/gen/stock_rules.o
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer $(FUZZ_FLAGS) -o $@ $^ $(PKG_LIBS)

fuzzers: $(FUZZERS)

# The whole of libpacto and the harnesses built with clang, libFuzzer and
# ASan + UBSan (docs/fuzzing.md); scripts/fuzz runs them.
fuzz:
	$(Q)$(MAKE) --no-print-directory FUZZ=1 CC=clang fuzzers

# Installs under PREFIX (binaries, man pages, bash completion), the stock
# rules, the systemd unit (its paths rewritten to PREFIX) and the commented
# default /etc/pacto/pacto.conf (never over an existing one). DESTDIR for
# packaging (debian/rules: PREFIX=/usr).
install: $(BUILD)/pacto $(BUILD)/pactod
	install -D -m 0755 $(BUILD)/pactod $(DESTDIR)$(PREFIX)/sbin/pactod
	install -D -m 0755 $(BUILD)/pacto $(DESTDIR)$(PREFIX)/bin/pacto
	install -d $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(RULES_DIR)
	install -m 0644 man/pacto.8 man/pactod.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 man/pacto.conf.5 man/pacto-rules.5 man/pacto-treaty.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 $(STOCK_RULES) $(DESTDIR)$(RULES_DIR)/
	install -d $(DESTDIR)/lib/systemd/system
	sed 's|/usr/sbin/pactod|$(PREFIX)/sbin/pactod|' contrib/pactod.service > $(DESTDIR)/lib/systemd/system/pactod.service
	install -D -m 0644 contrib/pacto.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/pacto
	[ -e $(DESTDIR)/etc/pacto/pacto.conf ] || install -D -m 0644 contrib/pacto.conf $(DESTDIR)/etc/pacto/pacto.conf

check: all
	$(Q)tests/run $(BUILD)

sanitize:
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 check

clean:
	rm -rf build build-san build-fuzz

.PHONY: all check sanitize fuzz fuzzers clean install
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
.SECONDARY:
