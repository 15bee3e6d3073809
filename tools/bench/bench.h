/*
 * tools/bench/bench.h - what the parts of the host benchmark share (private
 * to tools/bench/; the design is in bench.c's header comment). Which file
 * has which job:
 *
 *   bench.c       main, the command line, the run matrix, shared helpers
 *   allocators.c  the allocator table; binding one as this process's malloc
 *   memkern.c     the memkern heap core over an mmap'd break (and memkern-fc)
 *   workload.c    the workload table and sizes, trace files, `emit-c`
 *   child.c       `bench child`: one allocator, one workload, one mode
 *   measure.c     the driver's side of a run: check, timed and latency passes
 *   callgrind.c   instructions per call, under valgrind
 *   report.c      the results table and the targets
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The workloads need a serialising TSC read from their includer. */
static inline uint64_t wl_tsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

#include "workloads.h"

#define KiB ((uint64_t)1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

/* ----- bench.c: shared helpers ----- */

extern char self_exe[4096];      /* this binary, re-executed as `bench child` */

__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);
double now_ns(void);
void *harness_mem(size_t bytes);

/* ----- allocators.c ----- */

struct alloc_desc {
	const char *name;
	const char *lib;       /* LD_PRELOAD this .so (NULL: none) */
	const char *pkg;       /* the Debian package that has it */
	int debug;             /* memkern: heap debug level */
	int variant;           /* memkern: MK_PLAIN as shipped, MK_SLAB/MK_NOSLAB slabs fixed, MK_KEEP (not run by default) */
};

enum { MK_PLAIN, MK_KEEP, MK_SLAB, MK_NOSLAB };

#define MAX_ALLOCS 16            /* room for ALLOCS in the driver's fixed arrays */
extern const struct alloc_desc ALLOCS[];
extern const size_t NALLOCS;

/* What bind_allocator sets up in a child. */
struct binding {
	struct wl_ops ops;
	uint64_t (*footprint)(void);   /* the allocator's own idea of what it holds from the OS, or NULL */
	const char *method;            /* how footprint counts, for the report ("none" if it does not) */
};

const struct alloc_desc *find_alloc(const char *name);
const char *lib_path(const char *lib);
const char *preload_for(const struct alloc_desc *a);
const char *bind_allocator(const struct alloc_desc *a, struct binding *b);

/* The wrappers callgrind counts inside (--toggle-collect=bench_call_*). */
void *bench_call_malloc(size_t n);
void bench_call_free(void *p);
void *bench_call_calloc(size_t n, size_t s);
void *bench_call_realloc(void *p, size_t n);
int bench_call_memalign(void **out, size_t a, size_t n);

/* ----- memkern.c ----- */

struct wl_ops mk_setup(int debug, int variant);
uint64_t mk_footprint(void);
uint64_t mk_peak_footprint(void);
void mk_reset_peak(void);
int mk_check(char *why, size_t len);

/* ----- workload.c ----- */

enum { W_PAIRS, W_CHURN, W_REALLOC, W_FRAG, W_ALIGNED, W_REPLAY };

struct workload {
	const char *name;
	int kind;
	const char *what;
};

extern const struct workload WORKLOADS[];
extern const size_t NWORKLOADS;

/* Full-size parameters, scaled by permille (counts, not the live set, so the shape stays). */
struct params {
	uint64_t pairs, churn_live, churn_steps, rl_buf, rl_max, rl_rounds, frag_n, frag_rounds,
		al_live, al_steps, replay_ops;
};

struct trace {
	struct wl_op *ops;
	uint64_t nops, nids;
};

struct params params_for(uint64_t permille);
int load_trace(const char *path, struct trace *t, uint64_t max_ops);
int emit_c_main(int argc, char **argv);

/* ----- child.c ----- */

int child_main(int argc, char **argv);

/* ----- the driver: measure.c, callgrind.c, report.c ----- */

#define MAX_REPS 31
#define LAT_RUNS 3

struct opts {
	int reps;
	uint64_t permille, ir_permille;
	bool ir;
	const char *alloc_list, *workload_list, *traces_dir, *out;
	uint64_t seed;
};

/* One row of the table: a synthetic workload, or a replay of trace. */
struct wl_entry {
	const char *name, *trace, *what;
};

struct result {
	int state;                 /* 0 not run, 1 ok, -1 failed, -2 unavailable */
	char why[256];
	double ns[MAX_REPS];       /* ns per call of each timed rep */
	int nns;
	double own_ovh, rss_ovh;
	uint64_t peak_live, own_bytes, rss_bytes;
	const char *own_method;
	double p50, p99, p999, p9999, lmax, lmax_max, timer;   /* ns */
	uint64_t lat_calls, lat_flt;
	double ir;                 /* instructions per call, 0 = not measured */
};

struct job {
	const struct alloc_desc *a;
	const char *wname, *trace;
	struct result *r;
};

bool kv(const char *out, const char *key, double *v);
double median(const double *v, int n);
double vmin(const double *v, int n);
double vmax(const double *v, int n);
void measure_workload(const struct opts *o, const char *name, struct job *row, int nal);

void run_callgrind(const struct opts *o, struct job *jobs, int njobs);

void report_open(const char *path);
void report(const struct opts *o, const struct wl_entry *wl, int nwl, const struct alloc_desc *const *al,
	    int nal, const struct result *res);

#endif
