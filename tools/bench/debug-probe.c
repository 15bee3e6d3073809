/* tools/bench/debug-probe.c - compiles only if struct heap_env has a `debug`
 * field (the heap's debug levels); bench.mk then adds the memkern-d1/-d2 rows. */
#include "../../alloc/heap.h"

int bench_debug_probe = sizeof(((struct heap_env *)0)->debug);
