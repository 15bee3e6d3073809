/*
 * tools/bench/measure.c - the driver's side of a measurement: runs `bench
 * child` processes (child.c), reads their key=value lines, and for one
 * workload does, per allocator, the check pass (footprint overhead), the timed
 * reps interleaved across allocators (ns per call) and the latency runs
 * (quantiles, the median of LAT_RUNS). Also the small statistics the report
 * uses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* Runs a child and captures its stdout (its stderr goes to ours). Returns its wait status. */
static int run_child(const char *const *argv, const char *preload, char *out, size_t outlen)
{
	int fds[2];
	if (pipe(fds))
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if (preload)
			setenv("LD_PRELOAD", preload, 1);
		else
			unsetenv("LD_PRELOAD");
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "bench: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	size_t len = 0;
	ssize_t n;
	while ((n = read(fds[0], out + len, outlen - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = 0;
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	return st;
}

/* The number after " key=" (or "key=" at the start) in a child's output line. */
bool kv(const char *out, const char *key, double *v)
{
	char pat[64];
	snprintf(pat, sizeof pat, " %s=", key);
	const char *s = strstr(out, pat);
	if (!s && !strncmp(out, pat + 1, strlen(pat + 1)))
		s = out - 1;
	if (!s)
		return false;
	*v = strtod(s + strlen(pat), NULL);
	return true;
}

/* The rest of the line after "key=" (own_method and fail are text, and come last). */
static const char *kv_str(const char *out, const char *key, char *buf, size_t len)
{
	char pat[64];
	snprintf(pat, sizeof pat, "%s=", key);
	const char *s = strstr(out, pat);
	if (!s)
		return NULL;
	s += strlen(pat);
	size_t n = strcspn(s, "\n");
	if (n >= len)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = 0;
	return buf;
}

/* Runs one child in mode; on failure marks r failed. Returns the child's output or NULL. */
static const char *one_run(const struct opts *o, struct job *j, const char *mode, uint64_t permille)
{
	static char out[8192];
	char pm[32], seed[32];
	snprintf(pm, sizeof pm, "%llu", (unsigned long long)permille);
	snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
	const char *argv[] = { self_exe, "child", j->a->name, j->wname, mode, pm, seed, j->trace, NULL };
	int st = run_child(argv, preload_for(j->a), out, sizeof out);
	char buf[200];
	if (WIFSIGNALED(st)) {
		j->r->state = -1;
		snprintf(j->r->why, sizeof j->r->why, "%s run crashed: %s", mode, strsignal(WTERMSIG(st)));
		return NULL;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		j->r->state = -1;
		snprintf(j->r->why, sizeof j->r->why, "%s run: %s", mode,
			 kv_str(out, "fail", buf, sizeof buf) ? buf : "exited with an error");
		return NULL;
	}
	return out;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double median(const double *v, int n)
{
	double s[MAX_REPS];
	memcpy(s, v, n * sizeof *v);
	qsort(s, n, sizeof *s, cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

double vmin(const double *v, int n)
{
	double m = v[0];
	for (int i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

double vmax(const double *v, int n)
{
	double m = v[0];
	for (int i = 1; i < n; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

/* The check pass of one allocator, at a fifth of the scale: peak live bytes and the footprint. */
static void check_pass(const struct opts *o, struct job *j)
{
	uint64_t check_pm = o->permille / 5 ? o->permille / 5 : 1;
	const char *out = one_run(o, j, "check", check_pm);
	if (!out)
		return;
	double v;
	kv(out, "peak_live", &v), j->r->peak_live = (uint64_t)v;
	kv(out, "own", &v), j->r->own_bytes = (uint64_t)v;
	kv(out, "rss", &v), j->r->rss_bytes = (uint64_t)v;
	char m[128];
	j->r->own_method = strdup(kv_str(out, "own_method", m, sizeof m) ? m : "?");
	/* Below 1 MiB live the ratio says more about page granularity than the allocator. */
	bool meaningful = j->r->peak_live >= MiB;
	j->r->own_ovh = meaningful && strcmp(j->r->own_method, "none") ?
			(double)j->r->own_bytes / j->r->peak_live : 0;
	j->r->rss_ovh = meaningful ? (double)j->r->rss_bytes / j->r->peak_live : 0;
}

/* One workload (its row of jobs, one per allocator): check, timed reps, latency runs. */
void measure_workload(const struct opts *o, const char *name, struct job *row, int nal)
{
	fprintf(stderr, "bench: %-14s", name);
	for (int a = 0; a < nal; a++) {
		struct job *j = &row[a];
		if (j->a->lib && !lib_path(j->a->lib)) {
			j->r->state = -2;
			snprintf(j->r->why, sizeof j->r->why, "%s not found (Debian package %s)", j->a->lib,
				 j->a->pkg);
			continue;
		}
		j->r->state = 1;
		check_pass(o, j);
	}
	fprintf(stderr, " checked;");
	for (int rep = 0; rep < o->reps; rep++) {
		for (int a = 0; a < nal; a++) {
			struct job *j = &row[a];
			if (j->r->state != 1)
				continue;
			const char *out = one_run(o, j, "time", o->permille);
			double calls, ns;
			if (out && kv(out, "calls", &calls) && kv(out, "ns", &ns) && calls > 0)
				j->r->ns[j->r->nns++] = ns / calls;
		}
		fprintf(stderr, " %d", rep + 1);
	}
	/* Latency: LAT_RUNS interleaved runs, the median of each figure (a one-off host hiccup
	 * in one run does not become the max). */
	double lat[MAX_ALLOCS][7][LAT_RUNS];
	int nlat[MAX_ALLOCS] = { 0 };
	for (int rep = 0; rep < LAT_RUNS; rep++) {
		for (int a = 0; a < nal; a++) {
			struct job *j = &row[a];
			if (j->r->state != 1)
				continue;
			const char *out = one_run(o, j, "lat", o->permille);
			double hz, v[7] = { 0 };
			if (!out || !kv(out, "tsc_hz", &hz) || hz <= 0)
				continue;
			static const char *keys[7] = { "p50", "p99", "p999", "p9999", "max", "timer", "minflt" };
			for (int k = 0; k < 7; k++) {
				kv(out, keys[k], &v[k]);
				lat[a][k][nlat[a]] = k < 6 ? v[k] * 1e9 / hz : v[k];
			}
			kv(out, "calls", &hz);
			j->r->lat_calls = (uint64_t)hz;
			nlat[a]++;
		}
	}
	for (int a = 0; a < nal; a++) {
		struct result *r = row[a].r;
		if (!nlat[a])
			continue;
		r->p50 = median(lat[a][0], nlat[a]);
		r->p99 = median(lat[a][1], nlat[a]);
		r->p999 = median(lat[a][2], nlat[a]);
		r->p9999 = median(lat[a][3], nlat[a]);
		r->lmax = median(lat[a][4], nlat[a]);
		r->lmax_max = vmax(lat[a][4], nlat[a]);
		r->timer = median(lat[a][5], nlat[a]);
		r->lat_flt = (uint64_t)median(lat[a][6], nlat[a]);
	}
	fprintf(stderr, " latency;\n");
}
