/*
 * tests/host/heap_host_env.h - the environment the host tests of the kmalloc
 * core (test_heap*.c) run it in, as close to the kernel's as a process gets:
 * the break lives in a 1 GiB PROT_NONE reservation that sbrk opens page by
 * page (mprotect), so touching past the break faults under ASan and
 * shrinking really gives pages back (madvise); large runs come from mmap
 * with PROT_NONE guard pages on both sides, and a remap is a new run, a
 * copy and an unmap of the old one (so a stale pointer into it faults).
 * Caps on both simulate running out of memory, and every misuse report is
 * kept for the test to match.
 *
 * Each test program #includes heap_host_env.c once (the Makefile links every
 * tests/host/test_*.c with the alloc/ sources and check.c only).
 */
#ifndef HEAP_HOST_ENV_H
#define HEAP_HOST_ENV_H

#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "../../alloc/heap.h"

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define RESERVE GiB

struct run { void *p; size_t bytes; };

struct tenv {
	char *base;            /* the reservation */
	size_t page;
	size_t brk;            /* bytes open to read/write */
	size_t cap;            /* sbrk refuses to pass this many bytes */
	size_t large_cap;      /* map_pages refuses when mapped bytes would pass this */
	size_t mapped_bytes;
	struct run runs[4096]; /* live runs, to check unmap gets back exactly what map gave */
	size_t nruns, map_calls, unmap_calls, remap_calls, sbrk_calls;
	bool refuse_shrink;    /* sbrk refuses to move the break down */
	int env_errors;        /* callbacks misused by the heap */
	int reports, last_kind;
	uintptr_t last_addr;
	char last_line[512];
	char log[16384];       /* every report line since env_open / log_reset, one a line */
	size_t log_len;
};

extern struct tenv E;
extern struct heap H;
extern uint64_t seed;          /* the run's seed (argv[1] or HEAP_SEED, else time) */
extern uint64_t rng_state;

/* A fresh reservation and environment, no heap yet. */
void env_open(void);
void env_close(void);
/* The environment's callbacks and page size; debug level 0, default tuning. */
struct heap_env env_for(void);
/* A fresh environment and a heap on it with default tuning at debug level 0 / level. */
void setup(void);
void setup_level(unsigned level);

struct heap_stats stats(void);
bool stats_equal(struct heap_stats a, struct heap_stats b);
bool in_brk(const void *p);
bool aligned(const void *p, size_t a);
/* Nothing left allocated, no callback misuse, no run left mapped, heap_check clean. */
void expect_empty(void);

uint64_t rnd(void);
/* Sets seed from argv[1] / HEAP_SEED / the clock and prints it with the program's name. */
void seed_from(int argc, char **argv, const char *prog);

void fill(void *p, size_t n, unsigned seed8);
bool filled(const void *p, size_t n, unsigned seed8);
/* "0x..." of p, in a static buffer. */
const char *hex(const void *p);
/* Blocks on the front cache's LIFOs (struct heap counts them per class). */
size_t cached_blocks(void);
/* A heap_walk callback: ctx is a size_t per kind, HEAP_WALK_FREE to _LARGE (or _QUARANTINED at level 2). */
void walk_count(void *ctx, void *ptr, size_t size, int used);
/* Whether a report line since the last log_reset contains s. */
bool logged(const char *s);
void log_reset(void);

/* heap_check clean, or fail the test with its message. */
#define HEAP_CLEAN()                                                          \
	do {                                                                  \
		char why_[256];                                               \
		if (heap_check(&H, why_, sizeof why_)) {                      \
			htest_fail(__FILE__, __LINE__, why_);                 \
			longjmp(htest.leave, 1);                              \
		}                                                             \
	} while (0)

/* Runs one misuse and checks it was reported with kind and address, changing nothing. */
#define EXPECT_REPORT(call, kind, ptr, words)                                              \
	do {                                                                               \
		struct heap_stats before_ = stats();                                       \
		int reports_ = E.reports;                                                  \
		call;                                                                      \
		CHECK_EQ_U(E.reports, reports_ + 1);                                       \
		CHECK_EQ_U(E.last_kind, kind);                                             \
		CHECK_EQ_U(E.last_addr, (uintptr_t)(ptr));                                 \
		CHECK(strstr(E.last_line, hex(ptr)) != NULL);                              \
		CHECK(strstr(E.last_line, words) != NULL);                                 \
		CHECK(stats_equal(stats(), before_));                                      \
		HEAP_CLEAN();                                                              \
	} while (0)

#endif
