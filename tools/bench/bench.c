/*
 * tools/bench/bench.c - the host benchmark: the memkern heap core
 * (alloc/heap.c) against glibc, jemalloc, tcmalloc and mimalloc, on the same
 * deterministic workloads (tools/bench/workloads.h), printed as one table.
 *
 *   bench [--quick] [--reps N] [--scale PERMILLE] [--alloc a,b,..] [--workload w,..]
 *         [--no-ir] [--traces DIR] [--out FILE]
 *   bench child ALLOC WORKLOAD MODE PERMILLE SEED [TRACE]    (what the driver runs)
 *   bench emit-c TRACE MAXOPS NAME                          (a trace as a C array)
 *
 * Every measurement runs in a child process of its own, with the allocator
 * under test as that process's malloc: nothing for glibc and memkern (memkern
 * is called directly), LD_PRELOAD of the library's .so for the others. Why
 * not dlopen all of them into one process: jemalloc and mimalloc use
 * initial-exec TLS and hook process-wide state (atfork handlers, their own
 * malloc zone), tcmalloc expects to be the malloc from the first call, and
 * one allocator that corrupts memory or crashes would take the others' runs
 * with it. A child per run costs a fork and an exec (about a millisecond),
 * starts every allocator from the same empty state, lets the parent report a
 * crash or a check failure as that allocator's result and go on, and lets
 * /proc/self report the peak resident set of exactly one allocator's run.
 * The child checks (dladdr) that malloc really resolves into the library
 * it was given, so a missing or ignored preload cannot pass as that allocator.
 *
 * For each workload the driver runs, per allocator: one WL_CHECK pass (every
 * byte of every block pattern-filled and verified, footprint sampled: the
 * memory overhead), then `reps` timed passes interleaved A B C A B C ... (the
 * median, min and max of ns per call), then one WL_LAT pass (rdtsc around
 * every call: p50, p99.9, p99.99 and max), then, unless --no-ir, one scaled
 * down pass under valgrind --tool=callgrind that counts instructions only
 * inside the bench_call_* wrappers (the allocator and its callees, plus the
 * wrapper's own few instructions).
 *
 * This file is the driver's front: the command line, which workloads and
 * allocators run, the order of the passes, and the helpers every part uses.
 * The other parts are listed in bench.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

char self_exe[4096];

__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Anonymous memory the harness itself uses, touched now so it is in the baseline RSS. */
void *harness_mem(size_t bytes)
{
	if (!bytes)
		bytes = 1;
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		die("mmap %zu bytes: %s", bytes, strerror(errno));
	memset(m, 0, bytes);
	return m;
}

static bool in_list(const char *list, const char *name)
{
	if (!list)
		return true;
	size_t n = strlen(name);
	for (const char *s = list; *s;) {
		size_t l = strcspn(s, ",");
		if (l == n && !strncmp(s, name, n))
			return true;
		s += l;
		if (*s)
			s++;
	}
	return false;
}

static struct opts parse_options(int argc, char **argv, bool *quick_out)
{
	struct opts o = { .reps = 5, .permille = 1000, .ir_permille = 20, .ir = true, .seed = 42 };
	bool quick = getenv("BENCH_QUICK") && *getenv("BENCH_QUICK") && strcmp(getenv("BENCH_QUICK"), "0");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--quick")) {
			quick = true;
		} else if (!strcmp(a, "--no-ir")) {
			o.ir = false;
		} else if (!strcmp(a, "--reps") && v) {
			o.reps = atoi(v), i++;
		} else if (!strcmp(a, "--scale") && v) {
			o.permille = strtoull(v, NULL, 10), i++;
		} else if (!strcmp(a, "--ir-scale") && v) {
			o.ir_permille = strtoull(v, NULL, 10), i++;
		} else if (!strcmp(a, "--alloc") && v) {
			o.alloc_list = v, i++;
		} else if (!strcmp(a, "--workload") && v) {
			o.workload_list = v, i++;
		} else if (!strcmp(a, "--traces") && v) {
			o.traces_dir = v, i++;
		} else if (!strcmp(a, "--out") && v) {
			o.out = v, i++;
		} else if (!strcmp(a, "--seed") && v) {
			o.seed = strtoull(v, NULL, 10), i++;
		} else {
			die("usage: bench [--quick] [--reps N] [--scale PERMILLE] [--ir-scale PERMILLE] "
			    "[--alloc a,b] [--workload w,x] [--traces DIR] [--no-ir] [--seed N] [--out FILE]");
		}
	}
	if (quick) {
		o.permille = o.permille == 1000 ? 50 : o.permille;
		o.ir_permille = 5;
	}
	if (o.reps < 1 || o.reps > MAX_REPS)
		die("--reps must be 1..%d", MAX_REPS);
	if (o.ir && system("valgrind --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "bench: valgrind not found: no instruction counts\n");
		o.ir = false;
	}
	*quick_out = quick;
	return o;
}

/* The workload list: the synthetic ones, then one replay per trace in --traces. Returns the count. */
static int pick_workloads(const struct opts *o, struct wl_entry *wl, int max)
{
	int nwl = 0;
	for (size_t i = 0; i < NWORKLOADS; i++)
		if (in_list(o->workload_list, WORKLOADS[i].name))
			wl[nwl++] = (struct wl_entry){ WORKLOADS[i].name, NULL, WORKLOADS[i].what };
	if (o->traces_dir) {
		DIR *d = opendir(o->traces_dir);
		struct dirent *de;
		char *names[32];
		int nn = 0;
		while (d && (de = readdir(d)) && nn < 32) {
			size_t l = strlen(de->d_name);
			if (l > 6 && !strcmp(de->d_name + l - 6, ".trace"))
				names[nn++] = strdup(de->d_name);
		}
		if (d)
			closedir(d);
		qsort(names, nn, sizeof *names, (int (*)(const void *, const void *))strcmp);
		for (int i = 0; i < nn && nwl < max; i++) {
			char *name = malloc(64), *path = malloc(4096);
			snprintf(name, 64, "replay-%.*s", (int)(strlen(names[i]) - 6), names[i]);
			snprintf(path, 4096, "%s/%s", o->traces_dir, names[i]);
			if (!in_list(o->workload_list, name) && !in_list(o->workload_list, "replay"))
				continue;
			wl[nwl++] = (struct wl_entry){ name, path, "a recorded trace, replayed" };
		}
	}
	return nwl;
}

static int driver_main(int argc, char **argv)
{
	bool quick;
	struct opts o = parse_options(argc, argv, &quick);
	report_open(o.out);

	struct wl_entry wl[64];
	int nwl = pick_workloads(&o, wl, 64);
	/* The allocators: those named with --alloc, else all but the experiment (memkern-keep). */
	const struct alloc_desc *al[MAX_ALLOCS];
	int nal = 0;
	for (size_t i = 0; i < NALLOCS; i++)
		if (o.alloc_list ? in_list(o.alloc_list, ALLOCS[i].name) : ALLOCS[i].variant != MK_KEEP)
			al[nal++] = &ALLOCS[i];
	if (!nwl || !nal)
		die("nothing to run");

	/* One job per (workload, allocator), row by row: jobs[w * nal + a] fills res[w * nal + a]. */
	struct result *res = calloc((size_t)nwl * nal, sizeof *res);
	struct job *jobs = calloc((size_t)nwl * nal, sizeof *jobs);
	for (int w = 0; w < nwl; w++)
		for (int a = 0; a < nal; a++)
			jobs[w * nal + a] = (struct job){ al[a], wl[w].name, wl[w].trace, &res[w * nal + a] };

	fprintf(stderr, "bench: %d workloads x %d allocators, %d timed reps each, scale %llu/1000%s\n", nwl, nal,
		o.reps, (unsigned long long)o.permille, quick ? " (quick)" : "");
	for (int w = 0; w < nwl; w++)
		measure_workload(&o, wl[w].name, &jobs[w * nal], nal);
	if (o.ir) {
		fprintf(stderr, "bench: callgrind (scale %llu/1000, %ld at a time)...\n",
			(unsigned long long)o.ir_permille, sysconf(_SC_NPROCESSORS_ONLN));
		run_callgrind(&o, jobs, nwl * nal);
	}
	report(&o, wl, nwl, al, nal, res);
	return 0;
}

int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (n <= 0)
		die("readlink /proc/self/exe: %s", strerror(errno));
	self_exe[n] = 0;
	if (argc > 1 && !strcmp(argv[1], "child"))
		return child_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "emit-c"))
		return emit_c_main(argc, argv);
	return driver_main(argc, argv);
}
