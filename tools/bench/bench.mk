# tools/bench/bench.mk - `make bench`: the heap core against glibc, jemalloc,
# tcmalloc and mimalloc (see tools/bench/bench.c, whose parts bench.h lists,
# and docs/performance.md).
# Included by the top Makefile, which defines BUILD and HOSTCC.
#
#   make bench                 install the bench packages, build, run (a few minutes), print the table
#   make bench BENCH_QUICK=1   a smoke run at 1/20 scale (under a minute)
#   make bench BENCH_ARGS="--workload churn --alloc memkern,glibc --reps 9"
#   make bench-traces          re-record the traces in tools/bench/traces/ (and the kernel's copy)

BENCH_DIR    := $(BUILD)/bench
BENCH_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -fno-omit-frame-pointer
BENCH_ARGS   ?=
BENCH_QUICK  ?=
# The driver and its parts (one job each: see tools/bench/bench.h).
BENCH_SRC    := $(addprefix tools/bench/,bench.c allocators.c memkern.c workload.c child.c measure.c \
	callgrind.c report.c)
# The heap core as the kernel links it, plus the host glue (asserts, %p names).
BENCH_CORE   := $(wildcard alloc/heap*.c) tests/host/host_glue.c
# Rows for heap debug levels 1 and 2 when struct heap_env has a `debug` field.
BENCH_DEBUG_FLAG := $(shell $(HOSTCC) -std=gnu11 -fsyntax-only tools/bench/debug-probe.c 2>/dev/null && \
	echo -DBENCH_HEAP_DEBUG)

.PHONY: bench bench-build bench-deps bench-traces

bench-deps:
	@tools/install-deps --bench

$(BENCH_DIR)/bench: $(BENCH_SRC) tools/bench/bench.h tools/bench/workloads.h $(BENCH_CORE) \
		$(wildcard alloc/*.h) tools/bench/bench.mk
	@mkdir -p $(dir $@)
	$(HOSTCC) $(BENCH_CFLAGS) $(BENCH_DEBUG_FLAG) $(BENCH_SRC) $(BENCH_CORE) -o $@ -ldl

$(BENCH_DIR)/trace-record.so: tools/bench/trace-record.c
	@mkdir -p $(dir $@)
	$(HOSTCC) -std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -shared $< -o $@ -ldl

bench-build: $(BENCH_DIR)/bench $(BENCH_DIR)/trace-record.so

bench: bench-deps bench-build
	@echo "bench: $$(nproc) CPUs, $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
	$(BENCH_DIR)/bench --traces tools/bench/traces --out $(BENCH_DIR)/results.md \
		$(if $(filter-out 0,$(BENCH_QUICK)),--quick) $(BENCH_ARGS)
	@echo "bench: table kept in $(BENCH_DIR)/results.md"

# The checked-in traces: a directory walk (ls) and Python with its small-object
# allocator off (every object is a malloc), each recorded by trace-record.so.
bench-traces: bench-build
	rm -f $(BENCH_DIR)/ls.*.trace $(BENCH_DIR)/py.*.trace
	MEMKERN_TRACE=$(abspath $(BENCH_DIR))/ls.%p.trace LD_PRELOAD=$(abspath $(BENCH_DIR))/trace-record.so \
		ls -lR /usr/share/man/man1 > /dev/null
	cp $$(ls -S $(BENCH_DIR)/ls.*.trace | head -1) tools/bench/traces/ls.trace
	MEMKERN_TRACE=$(abspath $(BENCH_DIR))/py.%p.trace PYTHONMALLOC=malloc \
		LD_PRELOAD=$(abspath $(BENCH_DIR))/trace-record.so \
		python3 -S -c "$$(cat tools/bench/traces/py-workload.py)"
	cp $$(ls -S $(BENCH_DIR)/py.*.trace | head -1) tools/bench/traces/python.trace
	$(BENCH_DIR)/bench emit-c tools/bench/traces/python.trace 5000 bench_trace_python \
		> tools/bench/traces/python_head.h
