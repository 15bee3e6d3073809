/*
 * tools/bench/report.c - the results as Markdown, on stdout and in --out:
 * one table per workload (speed, instructions, overhead, latency, faults),
 * the footprints in bytes under it, then memkern against its targets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

static FILE *outf;

/* Opens --out now, so a bad path fails before minutes of runs (NULL: stdout only). */
void report_open(const char *path)
{
	if (path && !(outf = fopen(path, "w")))
		die("%s: %s", path, strerror(errno));
}

static __attribute__((format(printf, 1, 2))) void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (outf) {
		va_start(ap, fmt);
		vfprintf(outf, fmt, ap);
		va_end(ap);
	}
}

static void fmt_bytes(char *buf, size_t len, uint64_t b)
{
	if (b >= 10 * MiB)
		snprintf(buf, len, "%.1f MiB", (double)b / MiB);
	else
		snprintf(buf, len, "%.0f KiB", (double)b / KiB);
}

static void table(const struct opts *o, const struct wl_entry *wl, int nwl, const struct alloc_desc *const *al,
		  int nal, const struct result *res)
{
	say("\n## Results\n\n");
	say("ns/call: median of %d interleaved runs [min .. max]; Ir/call: callgrind at %llu/1000 scale; "
	    "overhead: peak footprint / peak live requested bytes (own = the allocator's own count, "
	    "rss = peak RSS growth); latency: ns per call by rdtsc (timer cost included), median of %d runs; "
	    "faults: page faults in one latency run.\n",
	    o->reps, (unsigned long long)o->ir_permille, LAT_RUNS);
	for (int w = 0; w < nwl; w++) {
		say("\n### %s: %s\n\n", wl[w].name, wl[w].what);
		say("| allocator | ns/call | [min .. max] | Ir/call | overhead own | overhead rss | p50 | p99.9 | p99.99 | max | faults |\n");
		say("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
		for (int a = 0; a < nal; a++) {
			const struct result *r = &res[w * nal + a];
			if (r->state != 1 || !r->nns) {
				say("| %s | %s: %s | | | | | | | | | |\n", al[a]->name,
				    r->state == -2 ? "unavailable" : "**FAIL**", r->why[0] ? r->why : "no timed run");
				continue;
			}
			char ir[32] = "-";
			if (r->ir > 0)
				snprintf(ir, sizeof ir, "%.0f", r->ir);
			char peak[32];
			fmt_bytes(peak, sizeof peak, r->peak_live);
			char own[32] = "-", rss[32] = "-";
			if (r->own_ovh > 0)
				snprintf(own, sizeof own, "%.2f", r->own_ovh);
			if (r->rss_ovh > 0)
				snprintf(rss, sizeof rss, "%.2f", r->rss_ovh);
			say("| %s | %.1f | [%.1f .. %.1f] | %s | %s | %s | %.0f | %.0f | %.0f | %.0f | %llu |\n",
			    al[a]->name, median(r->ns, r->nns), vmin(r->ns, r->nns), vmax(r->ns, r->nns), ir, own,
			    rss, r->p50, r->p999, r->p9999, r->lmax, (unsigned long long)r->lat_flt);
		}
		/* peak live and the footprints, for the reader who wants the bytes */
		for (int a = 0; a < nal; a++) {
			const struct result *r = &res[w * nal + a];
			if (r->state == 1 && r->peak_live && a == 0 && r->rss_ovh > 0) {
				char pl[32];
				fmt_bytes(pl, sizeof pl, r->peak_live);
				say("\npeak live %s;", pl);
			}
			if (r->state == 1 && r->rss_ovh > 0) {
				char ob[32], rb[32];
				if (r->own_ovh > 0)
					fmt_bytes(ob, sizeof ob, r->own_bytes);
				else
					snprintf(ob, sizeof ob, "-");
				fmt_bytes(rb, sizeof rb, r->rss_bytes);
				say(" %s %s own / %s rss;", al[a]->name, ob, rb);
			}
		}
		say("\n");
	}
}

/*
 * The targets (issue 9) for one memkern configuration (name: "memkern",
 * the default, "memkern-slab" or "memkern-noslab"): never slower than glibc, overhead
 * bounds, and its latency.
 */
static void targets_for(const char *name, const struct wl_entry *wl, int nwl, const struct alloc_desc *const *al,
			int nal, const struct result *res)
{
	int mk = -1, gl = -1;
	for (int a = 0; a < nal; a++) {
		if (!strcmp(al[a]->name, name))
			mk = a;
		if (!strcmp(al[a]->name, "glibc"))
			gl = a;
	}
	if (mk < 0)
		return;
	if (!strcmp(name, "memkern"))
		say("\n## Targets\n\n");
	else
		say("\n## Targets, %s\n\n", name);
	int met = 0, missed = 0;
	for (int w = 0; w < nwl; w++) {
		const struct result *m = &res[w * nal + mk];
		bool speed = !strcmp(wl[w].name, "pairs") || !strcmp(wl[w].name, "churn") ||
			     !strcmp(wl[w].name, "realloc");
		if (speed && gl >= 0) {
			const struct result *g = &res[w * nal + gl];
			if (m->nns && g->nns) {
				double x = median(m->ns, m->nns), y = median(g->ns, g->nns);
				bool ok = x <= y;
				ok ? met++ : missed++;
				say("- %s: %s %.1f ns/call vs glibc %.1f: %s (never slower than glibc)\n",
				    wl[w].name, name, x, y, ok ? "met" : "**MISSED**");
			}
		}
		double lim = !strcmp(wl[w].name, "churn") ? 1.10 : !strcmp(wl[w].name, "frag") ? 1.20 : 0;
		if (lim > 0 && m->state == 1) {
			bool ok = m->own_ovh <= lim;
			ok ? met++ : missed++;
			say("- %s: %s overhead %.2f (own), %.2f (rss) vs target <= %.2f: %s\n", wl[w].name, name,
			    m->own_ovh, m->rss_ovh, lim, ok ? "met" : "**MISSED**");
		}
		if (m->state == 1 && m->p50 > 0 && strncmp(wl[w].name, "realloc", 7))
			say("- %s: %s latency p50 %.0f ns, p99.9 %.0f, p99.99 %.0f, max %.0f ns (worst run %.0f; "
			    "%llu page faults in %llu calls; timer cost %.0f ns included)\n",
			    wl[w].name, name, m->p50, m->p999, m->p9999, m->lmax, m->lmax_max,
			    (unsigned long long)m->lat_flt, (unsigned long long)m->lat_calls, m->timer);
	}
	say("\n%d targets met, %d missed%s%s\n", met, missed, strcmp(name, "memkern") ? " by " : "",
	    strcmp(name, "memkern") ? name : "");
}

static void targets(const struct wl_entry *wl, int nwl, const struct alloc_desc *const *al, int nal,
		    const struct result *res)
{
	targets_for("memkern-noslab", wl, nwl, al, nal, res);
	targets_for("memkern-slab", wl, nwl, al, nal, res);
	targets_for("memkern", wl, nwl, al, nal, res);   /* last: its count is the run's last line */
}

/* Writes the table and the targets, and closes --out. */
void report(const struct opts *o, const struct wl_entry *wl, int nwl, const struct alloc_desc *const *al,
	    int nal, const struct result *res)
{
	table(o, wl, nwl, al, nal, res);
	targets(wl, nwl, al, nal, res);
	if (outf)
		fclose(outf);
}
