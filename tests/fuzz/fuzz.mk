# tests/fuzz/fuzz.mk - libFuzzer harnesses for the alloc/ cores (included by the top Makefile).
#
#   make fuzz-build                 build $(BUILD)/fuzz/fuzz_{heap,buddy,memmap}
#   make fuzz [FUZZ_SECONDS=60]     run each harness that long on a scratch copy of its corpus;
#                                   crashes land in $(BUILD)/fuzz/crashes/<name>/, and fail the target
#   make fuzz FUZZ_TARGETS=heap     just some of them; FUZZ_PARALLEL=1 runs them at once
#   make fuzz-corpus                merge what `make fuzz` found back into tests/fuzz/corpus/: only
#                                   inputs that reach an edge the corpus misses, so it stays small
#   tests/fuzz/replay               what `make test` runs: the corpus, then a short run of each
# See tests/fuzz/README.md.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= heap buddy memmap
FUZZ_FLAGS   ?=
FUZZ_PARALLEL ?=
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_NAMES   := heap buddy memmap
FUZZ_BINS    := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_NAMES))
# fuzz_heap is fuzz_heap.c plus these parts (fuzz_heap_<part>.c, sharing fuzz_heap.h).
FUZZ_HEAP_PARTS := env shadow ops misuse
FUZZ_HEAP_OBJ   := $(patsubst %,$(FUZZ_DIR)/obj/tests/fuzz/fuzz_heap_%.o,$(FUZZ_HEAP_PARTS))

FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -fno-omit-frame-pointer -MMD -MP $(FUZZ_SAN)
# The cores get coverage instrumentation too, so libFuzzer is guided by their branches.
FUZZ_LIB_SRC := $(wildcard alloc/*.c) tests/host/host_glue.c
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_LIB_SRC))

# 1 when struct heap_env has a .debug field (the hardening work adds it); deferred, so
# plain `make` never runs clang for it.
FUZZ_HEAP_DEBUG = $(shell printf '\#include "alloc/heap.h"\nstruct heap_env e = { .debug = 1 };\n' | \
	$(FUZZ_CC) -std=gnu11 -fsyntax-only -x c - 2>/dev/null && echo 1 || echo 0)

.PHONY: fuzz fuzz-build fuzz-corpus fuzz-clean

fuzz-build: $(FUZZ_BINS)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# The harnesses themselves are held to -Werror (the cores are, by the gcc host build).
$(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o: tests/fuzz/fuzz_%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -DFUZZ_HEAP_DEBUG=$(FUZZ_HEAP_DEBUG) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@

$(FUZZ_DIR)/fuzz_heap: $(FUZZ_HEAP_OBJ)

fuzz: fuzz-build
	@tests/fuzz/run-fuzz --build $(BUILD) --seconds $(FUZZ_SECONDS) $(if $(filter 1,$(FUZZ_PARALLEL)),--parallel) \
		$(FUZZ_TARGETS) -- $(FUZZ_FLAGS)

fuzz-corpus: fuzz-build
	@set -e; for n in $(FUZZ_TARGETS); do \
		test -d $(FUZZ_DIR)/work/$$n || continue; \
		mkdir -p tests/fuzz/corpus/$$n; \
		$(FUZZ_DIR)/fuzz_$$n -merge=1 -use_counters=0 -max_len=4096 tests/fuzz/corpus/$$n $(FUZZ_DIR)/work/$$n 2>&1 | \
			sed -n 's/^MERGE-OUTER: \([0-9]* new files\).*/fuzz-corpus: '$$n': \1/p'; \
	done

fuzz-clean:
	rm -rf $(FUZZ_DIR)

-include $(FUZZ_LIB_OBJ:.o=.d) $(patsubst %,$(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.d,$(FUZZ_NAMES)) $(FUZZ_HEAP_OBJ:.o=.d)
