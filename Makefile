# splitgpt: a plain Makefile.  `make` builds ./splitgpt; `make check` runs
# every test (and builds the mock server they need); `make demo` runs
# splitgpt on sample prompts against the mock.  SANITIZE=1 builds with
# AddressSanitizer and UndefinedBehaviorSanitizer into build-asan/.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
mandir ?= $(MANDIR)
# Where bash-completion and zsh look for completions under PREFIX.
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
PKG_CONFIG ?= pkg-config
CC ?= cc

CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wno-missing-field-initializers
STD = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
LIBS_PKG = libcurl json-c zlib sqlite3
DEPCFLAGS := $(shell $(PKG_CONFIG) --cflags $(LIBS_PKG))
DEPLIBS := $(shell $(PKG_CONFIG) --libs $(LIBS_PKG))

ifeq ($(SANITIZE),1)
BUILD = build-asan
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
else
BUILD = build
SANFLAGS =
endif

# -pthread: the parent parses the CA file in a thread (cacache.c, cas_load)
ALL_CFLAGS = $(STD) $(WARN) -pthread -Iinclude $(DEPCFLAGS) $(CFLAGS) $(SANFLAGS)
ALL_LDFLAGS = $(LDFLAGS) -pthread $(SANFLAGS)
# The tests' own programs (unit tests, the mock, the floor) are built with
# -Werror: a warning there is a test that may not check what it says.
TEST_WERROR = -Werror
# dlopen(3) (worker_prefork) is in the C library with glibc 2.34 and
# later, musl, macOS and the BSDs; older glibc wants -ldl.
DLLIB := $(shell printf '\043include <dlfcn.h>\nint main(void) { return dlopen(0, 0) == 0; }\n' | \
	 $(CC) -x c -o /dev/null - 2>/dev/null || echo -ldl)
LDLIBS_ALL = $(DEPLIBS) $(DLLIB) -lm $(LDLIBS)

# The parent's stages (main.c has the picture), then the workers' side,
# then what both use.
PARENT_SRCS = src/options.c src/help.c src/credentials.c src/loop.c src/signals.c \
       src/dispatch.c src/hedge.c src/flight.c src/pool.c src/collect.c \
       src/writer.c src/progress.c src/reader.c src/classify.c src/reqbody.c \
       src/output.c src/ratelimit.c src/plan.c src/budget.c src/autoscale.c \
       src/resume.c src/recall.c src/route.c
WORKER_SRCS = src/worker.c src/tries.c src/pack.c src/transfer.c \
       src/judge.c src/cacache.c src/retry.c src/sse.c src/evstream.c src/ssechunks.c
SHARED_SRCS = src/api.c src/util.c src/frame.c src/reorder.c src/idset.c \
       src/jsoncheck.c src/stats.c src/record.c src/sha256.c src/cache.c
SRCS = $(PARENT_SRCS) $(WORKER_SRCS) $(SHARED_SRCS)
MAIN = src/main.c
OBJS = $(SRCS:src/%.c=$(BUILD)/%.o)
BIN = $(BUILD)/splitgpt

UNIT_SRCS = $(wildcard tests/unit/t-*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)

MOCK = $(BUILD)/mock
FLOOR = $(BUILD)/floor
MOCK_CFLAGS := $(shell $(PKG_CONFIG) --cflags libmicrohttpd json-c zlib 2>/dev/null)
MOCK_LIBS := $(shell $(PKG_CONFIG) --libs libmicrohttpd json-c zlib 2>/dev/null)

.PHONY: all check unit demo install uninstall clean bench bench-wait bench-servers valgrind lint

all: splitgpt

ifeq ($(SANITIZE),1)
splitgpt: $(BIN)
else
splitgpt: $(BIN)
	cp $(BIN) $@.tmp && mv -f $@.tmp $@	# a rename works while it runs
endif

$(BIN): $(OBJS) $(BUILD)/main.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# The same with poll(2) alone and no PR_SET_PDEATHSIG, as where there is
# no epoll(7) or prctl(2) (macOS, the BSDs), for the tests that kill
# workers or their parent (t0210, t0330).
# Only the pool (pool.c) differs.
POLL_BIN = $(BUILD)/splitgpt-poll
$(POLL_BIN): $(filter-out $(BUILD)/pool.o,$(OBJS)) $(BUILD)/main.o src/pool.c include/*.h
	$(CC) $(ALL_CFLAGS) -DSPLITGPT_NO_EPOLL -DSPLITGPT_NO_PDEATHSIG $(ALL_LDFLAGS) -o $@ src/pool.c $(filter-out $(BUILD)/pool.o,$(OBJS)) $(BUILD)/main.o $(LDLIBS_ALL)

$(BUILD)/%.o: src/%.c include/*.h | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD):
	mkdir -p $(BUILD)/unit

$(BUILD)/unit/%: tests/unit/%.c tests/unit/unit.h $(OBJS) | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(TEST_WERROR) -Itests/unit $(ALL_LDFLAGS) -o $@ $< $(OBJS) $(LDLIBS_ALL)

$(MOCK): tests/mock/mock.c tests/mock/batches.c | $(BUILD)
	@$(PKG_CONFIG) --exists libmicrohttpd || { echo "make: the mock server needs libmicrohttpd (apt-get install libmicrohttpd-dev)"; exit 1; }
	$(CC) -std=c11 $(WARN) $(TEST_WERROR) $(CFLAGS) $(SANFLAGS) $(MOCK_CFLAGS) -o $@ $< $(MOCK_LIBS) -lpthread -lm

# the benchmark's floor client: splitgpt's libraries, none of its work
# (but for its OpenSSL set-up, worker_prefork, which -c uses)
$(FLOOR): tests/bench/floor.c $(OBJS) | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(TEST_WERROR) $(ALL_LDFLAGS) -o $@ $< $(OBJS) $(LDLIBS_ALL)

# a fork(2) that fails on demand, preloaded by the tests (t0330)
FAILFORK = $(BUILD)/failfork.so
$(FAILFORK): tests/failfork.c | $(BUILD)
	$(CC) -std=c11 $(WARN) $(TEST_WERROR) $(CFLAGS) -fPIC -shared -o $@ $< $(DLLIB)

unit: $(UNIT_BINS)

check: $(BIN) $(POLL_BIN) $(MOCK) $(FLOOR) $(FAILFORK) $(UNIT_BINS)
	BUILD=$(BUILD) SPLITGPT=$(CURDIR)/$(BIN) MOCK=$(CURDIR)/$(MOCK) \
	    SPLITGPT_POLL=$(CURDIR)/$(POLL_BIN) \
	    FAILFORK=$(CURDIR)/$(FAILFORK) sh tests/run

demo: $(BIN) $(MOCK)
	sh tests/demo.sh $(CURDIR)/$(BIN) $(CURDIR)/$(MOCK)

bench: $(BIN) $(MOCK) $(FLOOR)
	sh tests/bench/bench.sh $(CURDIR)/$(BIN) $(CURDIR)/$(MOCK) \
	    $(CURDIR)/$(FLOOR)

# what waiting costs at P=512 and 2048, against the Node SDK (issue 26)
bench-wait: $(BIN) $(MOCK)
	sh tests/bench/wait.sh $(CURDIR)/$(BIN) $(CURDIR)/$(MOCK)

# lines spread over two servers, and one killed halfway (issue 26)
bench-servers: $(BIN) $(MOCK)
	sh tests/bench/servers.sh $(CURDIR)/$(BIN) $(CURDIR)/$(MOCK)

valgrind: $(BIN) $(MOCK)
	VALGRIND=1 BUILD=$(BUILD) SPLITGPT=$(CURDIR)/$(BIN) \
	    MOCK=$(CURDIR)/$(MOCK) sh tests/run tests/t*-valgrind*.sh

install: splitgpt
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(mandir)/man1
	cp splitgpt $(DESTDIR)$(BINDIR)/splitgpt
	chmod 755 $(DESTDIR)$(BINDIR)/splitgpt
	cp man/splitgpt.1 $(DESTDIR)$(mandir)/man1/splitgpt.1
	chmod 644 $(DESTDIR)$(mandir)/man1/splitgpt.1
	mkdir -p $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	cp contrib/completion/splitgpt.bash $(DESTDIR)$(BASHCOMPDIR)/splitgpt
	cp contrib/completion/_splitgpt $(DESTDIR)$(ZSHCOMPDIR)/_splitgpt
	chmod 644 $(DESTDIR)$(BASHCOMPDIR)/splitgpt $(DESTDIR)$(ZSHCOMPDIR)/_splitgpt

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/splitgpt $(DESTDIR)$(mandir)/man1/splitgpt.1 \
	    $(DESTDIR)$(BASHCOMPDIR)/splitgpt $(DESTDIR)$(ZSHCOMPDIR)/_splitgpt

lint:
	mandoc -Tlint -W warning man/splitgpt.1

clean:
	rm -rf build build-asan splitgpt

# Fuzzing with libFuzzer (clang); see tests/fuzz/README.md.  `make fuzz`
# builds the fuzz targets into build-fuzz/ and runs each for FUZZ_SECONDS
# on a copy of its seed corpus; `make fuzz-build` only builds them;
# `make fuzz-regress` runs each once over its seeds and the saved crash
# inputs of tests/fuzz/regressions/ (fast; fails on a crash).
FUZZ_CC ?= clang
FUZZ_DIR = build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_ARGS ?=
FUZZ_NAMES = jsoncheck input frame headers sse record linereader idset
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer -ftrivial-auto-var-init=pattern
FUZZ_CFLAGS = $(STD) $(WARN) -Iinclude $(DEPCFLAGS) -g -O1 $(FUZZ_SAN)
FUZZ_LIB_SRCS = src/util.c src/api.c src/jsoncheck.c src/reader.c \
                src/classify.c src/reqbody.c src/idset.c src/ratelimit.c src/record.c \
                src/frame.c src/retry.c src/output.c src/signals.c \
                src/evstream.c src/ssechunks.c src/sse.c src/sha256.c
FUZZ_LIB_OBJS = $(FUZZ_LIB_SRCS:src/%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_LIB = $(FUZZ_DIR)/libsplitgpt-fuzz.a
FUZZ_BINS = $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz-%)

.PHONY: fuzz fuzz-build fuzz-regress fuzz-clean

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	FUZZ_ARGS="$(FUZZ_ARGS)" sh tests/fuzz/run.sh run $(FUZZ_DIR) \
	    $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-regress: fuzz-build
	sh tests/fuzz/run.sh regress $(FUZZ_DIR) $(FUZZ_TARGETS)

fuzz-clean:
	rm -rf $(FUZZ_DIR)

$(FUZZ_DIR)/obj/%.o: src/%.c include/*.h
	@mkdir -p $(FUZZ_DIR)/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	rm -f $@
	ar rcs $@ $(FUZZ_LIB_OBJS)

$(FUZZ_DIR)/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz.h $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(TEST_WERROR) -fsanitize=fuzzer -Itests/fuzz -o $@ $< \
	    $(FUZZ_LIB) $(DEPLIBS) $(DLLIB) -lm
