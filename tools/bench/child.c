/*
 * tools/bench/child.c - `bench child ALLOC WORKLOAD MODE PERMILLE SEED [TRACE]`:
 * one allocator, one workload, one mode, in a process of its own (why: the
 * header of bench.c). Prints one line of key=value for the driver (measure.c,
 * callgrind.c): calls, time, peak live bytes and page faults; in check mode
 * the footprint; in latency mode the TSC rate, the timer's cost and the
 * quantiles. A failed pointer check prints fail=... and exits 1.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

static struct binding bound;
static uint64_t own_base, own_peak;

static void sample(struct wl *w)
{
	(void)w;
	uint64_t f = bound.footprint ? bound.footprint() : 0;
	if (f > own_peak)
		own_peak = f;
}

/* VmRSS or VmHWM of this process in bytes. */
static uint64_t proc_status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	uint64_t v = 0;
	size_t kl = strlen(key);
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = strtoull(line + kl + 1, NULL, 10);
	fclose(f);
	return v * 1024;
}

static void reset_hwm(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "5", 1) != 1) { /* older kernels: the peak then includes setup */ }
		close(fd);
	}
}

static uint64_t minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
}

/* TSC ticks per second, against CLOCK_MONOTONIC over ~50 ms. */
static double tsc_hz(void)
{
	double t0 = now_ns();
	uint64_t c0 = wl_tsc();
	while (now_ns() - t0 < 50e6) {
	}
	double t1 = now_ns();
	uint64_t c1 = wl_tsc();
	return (double)(c1 - c0) / ((t1 - t0) / 1e9);
}

/* The cheapest of many back-to-back TSC reads: what every latency sample includes. */
static uint64_t timer_cost(void)
{
	uint64_t cost = UINT64_MAX;
	for (int i = 0; i < 10000; i++) {
		uint64_t t0 = wl_tsc();
		uint64_t d = wl_tsc() - t0;
		if (d < cost)
			cost = d;
	}
	return cost;
}

/* The latency part of the output line: p50, p99, p99.9, p99.99 from the histogram, and the max. */
static void print_latency(const struct wl *w, double hz, uint64_t timer)
{
	uint64_t q[4] = { 0 }, total = 0, seen = 0;
	static const double frac[4] = { 0.5, 0.99, 0.999, 0.9999 };
	for (unsigned b = 0; b < WL_HIST_BUCKETS; b++)
		total += w->hist[b];
	for (int k = 0; k < 4; k++) {
		uint64_t want = (uint64_t)(frac[k] * (double)total);
		seen = 0;
		for (unsigned b = 0; b < WL_HIST_BUCKETS; b++) {
			seen += w->hist[b];
			if (seen > want) {
				q[k] = wl_hist_floor(b);
				break;
			}
		}
	}
	printf(" tsc_hz=%.0f timer=%llu p50=%llu p99=%llu p999=%llu p9999=%llu max=%llu", hz,
	       (unsigned long long)timer, (unsigned long long)q[0], (unsigned long long)q[1],
	       (unsigned long long)q[2], (unsigned long long)q[3], (unsigned long long)w->lat_max);
}

static void print_failure(const struct wl *w, int kind)
{
	static const char *why[] = { "ok", "returned NULL", "misaligned", "corrupted a live block", "bad trace" };
	printf("fail=%s(size %llu", w->fail_op, (unsigned long long)w->fail_size);
	if (w->fail_align)
		printf(", align %llu", (unsigned long long)w->fail_align);
	printf(") %s %#lx at call %llu", why[w->fail], (unsigned long)w->fail_ptr,
	       (unsigned long long)w->fail_call);
	if (kind == W_REPLAY)
		printf(" (trace op %llu)", (unsigned long long)w->fail_step);
	printf("\n");
}

int child_main(int argc, char **argv)
{
	if (argc < 7)
		die("usage: bench child ALLOC WORKLOAD MODE PERMILLE SEED [TRACE]");
	const struct alloc_desc *a = find_alloc(argv[2]);
	const char *wname = argv[3], *mode = argv[4];
	uint64_t permille = strtoull(argv[5], NULL, 10), seed = strtoull(argv[6], NULL, 10);
	const char *trace_path = argc > 7 ? argv[7] : NULL;
	if (!a)
		die("unknown allocator %s", argv[2]);

	/* A hung allocator must not hang the whole benchmark. */
	alarm(getenv("BENCH_CHILD_TIMEOUT") ? (unsigned)atoi(getenv("BENCH_CHILD_TIMEOUT")) : 600);

	/* Pin to the last CPU: no migrations in the middle of a timed run. */
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(sysconf(_SC_NPROCESSORS_ONLN) - 1, &set);
	sched_setaffinity(0, sizeof set, &set);

	const char *err = bind_allocator(a, &bound);
	if (err) {
		printf("fail=%s\n", err);
		return 1;
	}

	struct wl w = { .seed = seed };
	if (!strcmp(mode, "time"))
		w.mode = WL_TIME;
	else if (!strcmp(mode, "check"))
		w.mode = WL_CHECK;
	else if (!strcmp(mode, "lat"))
		w.mode = WL_LAT;
	else if (!strcmp(mode, "ir"))
		w.mode = WL_TIME;
	else
		die("unknown mode %s", mode);
	if (!strcmp(mode, "ir"))
		w.ops = (struct wl_ops){ bench_call_malloc, bench_call_free, bench_call_calloc, bench_call_realloc,
					 bench_call_memalign };
	else
		w.ops = bound.ops;

	struct params P = params_for(permille);
	struct trace tr = { 0 };
	uint64_t nslots = 1;
	int kind = -1;
	for (size_t i = 0; i < NWORKLOADS; i++)
		if (!strcmp(WORKLOADS[i].name, wname))
			kind = WORKLOADS[i].kind;
	if (!strncmp(wname, "replay", 6))
		kind = W_REPLAY;
	switch (kind) {
	case W_PAIRS: nslots = 1; break;
	case W_CHURN: nslots = P.churn_live; break;
	case W_REALLOC: nslots = P.rl_buf; break;
	case W_FRAG: nslots = P.frag_n * 7 / 4 + 8; break;
	case W_ALIGNED: nslots = P.al_live; break;
	case W_REPLAY:
		if (!trace_path || load_trace(trace_path, &tr, 0))
			die("replay needs a readable trace (got %s)", trace_path ? trace_path : "none");
		nslots = tr.nids;
		break;
	default: die("unknown workload %s", wname);
	}
	w.ring = harness_mem(WL_RING * sizeof *w.ring);
	w.slots = harness_mem(nslots * sizeof *w.slots);
	w.nslots = nslots;
	w.hist = harness_mem(WL_HIST_BUCKETS * sizeof *w.hist);
	double hz = w.mode == WL_LAT ? tsc_hz() : 0;
	uint64_t timer = w.mode == WL_LAT ? timer_cost() : UINT64_MAX;

	/* Warm up: the allocator's one-time setup is not the workload's footprint. */
	void *p = w.ops.malloc(64);
	w.ops.free(p);
	if (!w.ops.memalign(&p, 64, 64))
		w.ops.free(p);
	if (w.mode == WL_CHECK) {
		w.sample = sample;
		w.sample_every = w.until_sample = 1000;
	}
	own_base = bound.footprint ? bound.footprint() : 0;
	own_peak = own_base;
	if (!strncmp(a->name, "memkern", 7)) {
		own_base = 0;          /* the whole break counts, initial chunk included */
		mk_reset_peak();
	}
	fflush(NULL);
	reset_hwm();
	uint64_t rss0 = proc_status_kb("VmRSS"), flt0 = minflt();

	uint64_t rounds_replay = tr.nops ? (P.replay_ops + tr.nops - 1) / tr.nops : 1;
	double t0 = now_ns();
	switch (kind) {
	case W_PAIRS: wl_pairs(&w, P.pairs); break;
	case W_CHURN: wl_churn(&w, P.churn_live, P.churn_steps); break;
	case W_REALLOC: wl_realloc(&w, P.rl_buf, P.rl_max, P.rl_rounds); break;
	case W_FRAG: wl_frag(&w, P.frag_n, P.frag_rounds); break;
	case W_ALIGNED: wl_aligned(&w, P.al_live, P.al_steps); break;
	case W_REPLAY: wl_replay(&w, tr.ops, tr.nops, tr.nids, rounds_replay); break;
	}
	double t1 = now_ns();
	uint64_t flt = minflt() - flt0;
	uint64_t hwm = proc_status_kb("VmHWM");

	if (w.fail) {
		print_failure(&w, kind);
		return 1;
	}
	sample(&w);
	if (!strncmp(a->name, "memkern", 7)) {
		own_peak = mk_peak_footprint();
		char why[200];
		if (mk_check(why, sizeof why)) {
			printf("fail=heap_check: %s\n", why);
			return 1;
		}
	}

	printf("calls=%llu ns=%.0f peak_live=%llu minflt=%llu", (unsigned long long)w.calls, t1 - t0,
	       (unsigned long long)w.peak_live, (unsigned long long)flt);
	if (w.mode == WL_CHECK)
		printf(" own=%llu rss=%llu own_method=%s", (unsigned long long)(own_peak - own_base),
		       (unsigned long long)(hwm > rss0 ? hwm - rss0 : 0), bound.method);
	if (w.mode == WL_LAT)
		print_latency(&w, hz, timer);
	printf("\n");
	return 0;
}
