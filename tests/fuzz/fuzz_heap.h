/*
 * tests/fuzz/fuzz_heap.h - private to the fuzz_heap harness: its limits, the
 * environment's and the shadow's state, and what its files share. See
 * fuzz_heap.c for what the harness does.
 */
#ifndef FUZZ_HEAP_H
#define FUZZ_HEAP_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_input.h"

#include "../../alloc/heap.h"
/* For slab_page(), slab_of(), blk_size(): telling slab objects from blocks, and a run's block size. */
#include "../../alloc/heap_impl.h"

#ifndef FUZZ_HEAP_DEBUG
#define FUZZ_HEAP_DEBUG 0   /* 1 when struct heap_env has .debug (fuzz.mk probes for it) */
#endif

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

#define NSLOTS   64
#define MAXRUNS  (NSLOTS + 16)
#define MAX_OPS  3000
#define RING     40          /* freed pointers remembered for delayed double frees */
#define SNAP_MAX (1 * MiB)   /* the break is compared byte for byte across misuse up to this size */
#define PAT_BIT  (1ull << 39)   /* in a header, a size of 512 GiB or more: no break here has one */
#define JUNK     0xa5

/* ----- failing loudly, with the recent operations (fuzz_heap_env.c) ----- */

extern int verbose;          /* FUZZ_VERBOSE: print every trace line as it is made */
extern unsigned op_index;    /* the operation running, for the MISMATCH line */

void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void trace_reset(void);
void fail(const char *file, int line, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
#define FAIL(...) fail(__FILE__, __LINE__, __VA_ARGS__)
#define ENSURE(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)



static inline size_t round_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }

/* ----- the environment (fuzz_heap_env.c) ----- */

struct frun {
	char *p;          /* what map_pages returned */
	size_t bytes;     /* what it was asked for */
	char *m;          /* the whole mapping, guards included */
	size_t mbytes;
};

struct fenv {
	char *map;             /* the reservation: guard page, region, guard */
	size_t map_bytes;
	char *base;            /* start of the break region */
	size_t hpage;          /* the heap's page_size */
	size_t hostpage;
	size_t brk;            /* bytes from base */
	size_t rw;             /* bytes from base currently readable and writable */
	size_t cap;            /* sbrk refuses to pass this */
	bool refuse_shrink;    /* sbrk refuses to move down */
	bool fail_sbrk;        /* the next growing sbrk fails (one shot) */
	bool fail_map;         /* the next map_pages fails (one shot) */
	size_t large_cap;      /* map_pages refuses beyond this many mapped bytes */
	size_t mapped;
	struct frun runs[MAXRUNS];
	unsigned nruns;
	unsigned reports;
	int last_kind;
	uintptr_t last_addr;
	char last_line[200];
};

extern struct fenv E;
extern struct heap H;        /* the heap under test (fuzz_heap.c) */

void *f_sbrk(void *ctx, intptr_t delta);
void *f_map(void *ctx, size_t bytes);
void f_unmap(void *ctx, void *p, size_t bytes);
void *f_remap(void *ctx, void *p, size_t old_bytes, size_t new_bytes);
void f_report(void *ctx, int kind, uintptr_t addr, const char *line);
void env_open(void);         /* the reservation, once E's page sizes and cap are set */
void env_close(void);
bool in_brk(const void *p);

/* ----- the shadow and its checks (fuzz_heap_shadow.c) ----- */

struct slot {
	char *p;          /* NULL: empty */
	size_t req;       /* bytes asked for */
	size_t usable;    /* what heap_usable_size said */
	uint64_t id;      /* pattern seed */
	bool large;       /* a mapped run, not in the break */
	bool slab;        /* a slab object (no header; usable is its class size), in the break */
};

/* What the heap was configured with, with its documented defaults filled in. */
struct fcfg {
	size_t lt, grow;
	bool map;
	bool slabs;       /* slabs on before this op (level 0): requests of 0..HEAP_SLAB_MAX bytes are slab objects */
};

/* Objects of size bytes a slab run holds: its 4 KiB block's payload after the 64-byte head. */
static inline unsigned run_cap(size_t size) { return (unsigned)((HEAP_SLAB_RUN - HEAP_OVERHEAD - HEAP_SLAB_HDR) / size); }

extern struct slot S[NSLOTS];
extern uint64_t next_id;
extern uintptr_t ring[RING];   /* recently freed pointers */
extern unsigned ring_n;
extern bool have_report;       /* a report callback was installed */
extern struct fcfg cfg;

/*
 * The pattern loops are the harness's hottest code and tell libFuzzer
 * nothing: keep coverage instrumentation (comparison tracing) out of them.
 */
#define NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))

/* "Nothing changed": stats, environment and every byte of the break. */
struct snapshot {
	struct heap_stats st;
	size_t brk, mapped;
	unsigned nruns;
	bool bytes;
};

void shadow_reset(void);
NO_COVERAGE void fill(const struct slot *s);
NO_COVERAGE size_t first_nonzero(const char *p, size_t bytes);
void verify_bytes(unsigned i, const char *p, uint64_t id, size_t bytes, const char *when);
void verify_slot(unsigned i, const char *when);
void ring_push(void *p);
bool is_live(uintptr_t p);
struct heap_stats stats(void);
size_t block_bytes(size_t n);
bool slab_sized(size_t size, size_t align);
size_t slab_class_bytes(size_t n);
bool is_slab_ptr(uintptr_t p);
bool slab_room(size_t size, int skip);
bool goes_large(size_t size, size_t align);
bool must_succeed(size_t size, size_t align);
void check_state(const char *after);
void verify_all(const char *after);
void take_snapshot(struct snapshot *s);
void same_as_snapshot(const struct snapshot *s, const char *what);
void adopt(unsigned i, char *p, size_t req, size_t align, const char *how);

/* ----- operations (fuzz_heap_ops.c, fuzz_heap_misuse.c) ----- */

size_t gen_size(struct in *in);
void do_free_slot(unsigned i, const char *why);
void op_malloc(struct in *in, unsigned i);
void op_calloc(struct in *in, unsigned i);
void op_memalign(struct in *in, unsigned i);
void op_realloc(struct in *in, unsigned i);
void op_trim(void);
void op_usable(unsigned i);
void op_bogus(struct in *in, int fn);
void op_double_free(unsigned i);

#endif
