# The two commands: `make run` and `make test`. Everything else is a helper.
BUILD    ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PYTEST   := /usr/bin/python3 -m pytest

.PHONY: all deps build run test test-unit test-protocol test-asan fuzz fuzz-smoke clean bench

all: build

deps:
	@./scripts/install-deps

$(BUILD)/build.ninja:
	@meson setup $(BUILD) --buildtype=debugoptimized >/dev/null

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD) >/dev/null || ninja -C $(BUILD)

run: build
	@./scripts/run-demo

test: build
	@./scripts/run-tests

$(ASAN_BUILD)/build.ninja:
	@CC=clang meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false >/dev/null

test-asan: deps $(ASAN_BUILD)/build.ninja
	@ninja -C $(ASAN_BUILD) >/dev/null || ninja -C $(ASAN_BUILD)
	@TIDINGS_BUILD=$(ASAN_BUILD) ./scripts/run-tests --asan

fuzz: deps
	@./scripts/run-fuzz 60

fuzz-smoke: deps
	@./scripts/run-fuzz 10

# Benchmarks against Dovecot (not tests; see bench/README.md).
bench: build
	@./bench/install-dovecot
	@export TIDINGS_BUILD=$(BUILD); /usr/bin/python3 bench/lmtp; a=$$?; \
		/usr/bin/python3 bench/imap; b=$$?; /usr/bin/python3 bench/notify; c=$$?; \
		[ $$a -eq 0 ] && [ $$b -eq 0 ] && [ $$c -eq 0 ]

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
