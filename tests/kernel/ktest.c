/*
 * tests/kernel/ktest.c - the runner behind ktest.h: selection from the
 * command line, KTAP output, recovery from expected faults and panics,
 * resource accounting around each test, and the exit code for QEMU.
 */
#include "ktest.h"

#include <stdarg.h>

#include "../../kernel/arch/x86_64/cpu.h"
#include "../../kernel/cmdline.h"
#include "../../kernel/lib/string.h"
#include "../../kernel/panic.h"
#include "../../kernel/printk.h"
#include "../../kernel/kheap.h"
#include "../../kernel/pmm.h"
#include "../../kernel/vmm.h"

extern const struct ktest __ktests_start[], __ktests_end[];

struct ktest_fault ktest_last_fault;
char ktest_last_panic[256];
struct kjmp ktest_expect_jmp;

enum { EXPECT_NONE, EXPECT_FAULT, EXPECT_PANIC };
static struct {
	int kind;
	uint64_t vector, addr;
	const char *substr, *file;
	int line;
} expect;

static const struct ktest *current;
static int cur_failures, cur_skipped;
static char skip_reason[96];
static struct kjmp test_jmp;
static uint64_t seed;

/* --- captured output, so tests can match report lines ----------------- */

static char capture[8192];
static size_t capture_len;

static void capture_hook(const char *s, size_t n)
{
	if (!current)
		return;
	if (capture_len + n >= sizeof capture) {
		/* Keep the newest half: reports of interest come last. */
		size_t keep = sizeof capture / 2;
		if (capture_len > keep) {
			memmove(capture, capture + capture_len - keep, keep);
			capture_len = keep;
		}
		if (n >= sizeof capture - capture_len) {
			s += n - (sizeof capture - capture_len - 1);
			n = sizeof capture - capture_len - 1;
		}
	}
	memcpy(capture + capture_len, s, n);
	capture_len += n;
	capture[capture_len] = 0;
}

const char *ktest_output(void) { return capture; }
void ktest_output_reset(void) { capture_len = 0; capture[0] = 0; }
bool ktest_contains(const char *s, const char *sub) { return s && sub && strstr(s, sub) != NULL; }

/* --- counters ------------------------------------------------------------ */

#define MAX_COUNTERS 8
static struct { const char *name; uint64_t (*read)(void); } counters[MAX_COUNTERS];
static int ncounters;

void ktest_add_counter(const char *name, uint64_t (*read)(void))
{
	if (ncounters == MAX_COUNTERS)
		panic("ktest_add_counter: more than %d counters", MAX_COUNTERS);
	counters[ncounters].name = name;
	counters[ncounters].read = read;
	ncounters++;
}

/* What every test must leave as it found it. */
static uint64_t heap_used_blocks(void)
{
	struct heap_stats st;
	kheap_stats(&st);
	return st.used_blocks + st.large_blocks;
}

static uint64_t heap_used_bytes(void)
{
	struct heap_stats st;
	kheap_stats(&st);
	return st.in_use_bytes + st.large_bytes;
}

static void ktest_register_counters(void)
{
	ktest_add_counter("frames in use", pmm_allocated_frames);
	ktest_add_counter("page-table frames", vmm_table_frames);
	ktest_add_counter("heap blocks in use", heap_used_blocks);
	ktest_add_counter("heap bytes in use", heap_used_bytes);
}

/* --- failures ------------------------------------------------------------ */

void ktest_fail_at(const char *file, int line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	printk("    # %s:%d: %s\n", file, line, msg);
	cur_failures++;
}

/* For tests of the framework itself: a failure that was the point. */
void ktest_forgive_failures(int n)
{
	cur_failures -= n;
	printk("    # (%d failure%s above %s expected by this test)\n", n, n == 1 ? "" : "s", n == 1 ? "was" : "were");
}

void ktest_abort(void)
{
	expect.kind = EXPECT_NONE;
	kjmp_jump(&test_jmp, 1);
}

void ktest_skip(const char *reason)
{
	strlcpy(skip_reason, reason, sizeof skip_reason);
	cur_skipped = 1;
	ktest_abort();
}

bool ktest_running(void) { return current != NULL; }
uint64_t ktest_seed(void) { return seed; }

/* --- expected faults and panics ----------------------------------------- */

void ktest_expect_fault_arm(uint64_t vector, uint64_t addr, const char *file, int line)
{
	expect.kind = EXPECT_FAULT;
	expect.vector = vector;
	expect.addr = addr;
	expect.file = file;
	expect.line = line;
	ktest_last_fault = (struct ktest_fault){ UINT64_MAX, 0, 0, 0 };
}

void ktest_expect_panic_arm(const char *substr, const char *file, int line)
{
	expect.kind = EXPECT_PANIC;
	expect.substr = substr;
	expect.file = file;
	expect.line = line;
	ktest_last_panic[0] = 0;
}

void ktest_expect_missed(void)
{
	int kind = expect.kind;
	expect.kind = EXPECT_NONE;
	if (kind == EXPECT_FAULT)
		ktest_fail_at(expect.file, expect.line, "expected %s%s, but the code ran without it",
			      trap_name(expect.vector), expect.vector == VEC_PF ? " (page fault)" : "");
	else if (kind == EXPECT_PANIC)
		ktest_fail_at(expect.file, expect.line, "expected a panic with \"%s\", but none came",
			      expect.substr);
}

void ktest_fault_hook(const struct trap_frame *f)
{
	if (!current || expect.kind != EXPECT_FAULT)
		return;
	expect.kind = EXPECT_NONE;
	uint64_t cr2 = f->vector == VEC_PF ? read_cr2() : 0;
	ktest_last_fault = (struct ktest_fault){ f->vector, f->error, cr2, f->rip };
	if (f->vector != expect.vector) {
		ktest_fail_at(expect.file, expect.line, "expected %s, got %s", trap_name(expect.vector),
			      trap_name(f->vector));
		return;         /* the caller prints the full report and aborts the test */
	}
	if (f->vector == VEC_PF && expect.addr != KTEST_ANY_ADDR && cr2 != expect.addr)
		ktest_fail_at(expect.file, expect.line, "expected a page fault at 0x%lx, got CR2=0x%lx",
			      expect.addr, cr2);
	printk("    # expected %s at RIP 0x%lx, error 0x%lx%s", trap_name(f->vector), f->rip, f->error,
	       f->vector == VEC_PF ? ", CR2 " : "\n");
	if (f->vector == VEC_PF)
		printk("0x%lx\n", cr2);
	kjmp_jump(&ktest_expect_jmp, 1);
}

void ktest_unexpected_fault(const struct trap_frame *f)
{
	ktest_fail_at(current->file, 0, "unexpected %s at RIP 0x%lx (report above)", trap_name(f->vector),
		      f->rip);
	ktest_abort();
}

void ktest_panic_hook(const char *msg, const char *file, int line)
{
	if (!current || expect.kind != EXPECT_PANIC)
		return;
	expect.kind = EXPECT_NONE;
	strlcpy(ktest_last_panic, msg, sizeof ktest_last_panic);
	if (!strstr(msg, expect.substr)) {
		ktest_fail_at(expect.file, expect.line, "expected a panic with \"%s\", got \"%s\" (%s:%d)",
			      expect.substr, msg, file, line);
		ktest_abort();
	}
	printk("    # expected panic: %s\n", msg);
	kjmp_jump(&ktest_expect_jmp, 1);
}

/* --- selection ------------------------------------------------------------ */

#define MAX_PATTERNS 16
static char patterns[MAX_PATTERNS][64];
static int npatterns;
static bool pattern_used[MAX_PATTERNS];

static bool selected(const struct ktest *t)
{
	bool any = false;
	for (int i = 0; i < npatterns; i++) {
		const char *p = patterns[i];
		size_t slen = strlen(t->suite);
		bool hit;
		if (strcmp(p, "all") == 0)
			hit = !(t->flags & KTEST_EXPLICIT);
		else if (strcmp(p, t->suite) == 0)
			hit = true;
		else
			hit = strncmp(p, t->suite, slen) == 0 && p[slen] == '.' && strcmp(p + slen + 1, t->name) == 0;
		if (hit) {
			pattern_used[i] = true;
			any = true;
		}
	}
	return any;
}

static void parse_patterns(const char *spec)
{
	const char *p = spec;
	while (*p && npatterns < MAX_PATTERNS) {
		const char *e = p;
		while (*e && *e != ',')
			e++;
		size_t n = (size_t)(e - p);
		if (n >= sizeof patterns[0])
			n = sizeof patterns[0] - 1;
		if (n) {
			memcpy(patterns[npatterns], p, n);
			patterns[npatterns][n] = 0;
			npatterns++;
		}
		p = *e ? e + 1 : e;
	}
}

/* --- running ---------------------------------------------------------------- */

static int passed, failed, skipped;

/* Runs one test; returns 0 pass, 1 fail, 2 skip. */
static int run_one(const struct ktest *t, int number)
{
	uint64_t before[MAX_COUNTERS];
	kheap_trim();
	for (int i = 0; i < ncounters; i++)
		before[i] = counters[i].read();
	/* At heap.debug >= 1 every block is numbered: the ones this test leaves are named below. */
	uint64_t heap_seq = kheap()->alloc_seq;

	current = t;
	cur_failures = 0;
	cur_skipped = 0;
	expect.kind = EXPECT_NONE;
	ktest_output_reset();
	if (kjmp_set(&test_jmp) == 0)
		t->fn();
	expect.kind = EXPECT_NONE;

	if (!cur_skipped) {
		/* A heap left grown is not a leak: give its free top back first. */
		kheap_trim();
		size_t leaked = kheap_print_leaks(heap_seq, 16);
		if (leaked)
			ktest_fail_at(t->file, 0, "leak check: the test left %zu heap block%s allocated (listed above)",
				      leaked, leaked == 1 ? "" : "s");
		for (int i = 0; i < ncounters; i++) {
			uint64_t after = counters[i].read();
			if (after != before[i])
				ktest_fail_at(t->file, 0, "leak check: %s was %lu before the test, %lu after",
					      counters[i].name, before[i], after);
		}
	}
	current = NULL;

	if (cur_skipped) {
		printk("    ok %d %s # SKIP %s\n", number, t->name, skip_reason);
		return 2;
	}
	if (cur_failures) {
		printk("    not ok %d %s\n", number, t->name);
		return 1;
	}
	printk("    ok %d %s\n", number, t->name);
	return 0;
}

/*
 * Runs what spec selects (ktest= syntax) with the given seed, in the
 * machine's current state: KTAP out, the closing "N passed, N failed" line,
 * and the number of failures back. Boot-time runs (ktest_main) and the
 * shell's `test` command both come here; it may run any number of times.
 */
int ktest_run_pattern(const char *spec, uint64_t run_seed)
{
	npatterns = 0;
	memset(pattern_used, 0, sizeof pattern_used);
	passed = failed = skipped = 0;
	parse_patterns(spec);
	seed = run_seed;
	if (ncounters == 0)
		ktest_register_counters();
	printk_set_hook(capture_hook);

	/* Suites in order of first appearance; count the selected ones. */
	const struct ktest *suites[64];
	int nsuites = 0;
	for (const struct ktest *t = __ktests_start; t < __ktests_end; t++) {
		if (!selected(t))
			continue;
		int s;
		for (s = 0; s < nsuites; s++)
			if (strcmp(suites[s]->suite, t->suite) == 0)
				break;
		if (s == nsuites) {
			if (nsuites == 64)
				panic("ktest_run_pattern: more than 64 suites");
			suites[nsuites++] = t;
		}
	}

	printk("KTAP version 1\n");
	printk("# ktest=%s seed=%lu (run again with seed=%lu to repeat)\n", spec, seed, seed);
	for (int i = 0; i < npatterns; i++) {
		if (!pattern_used[i]) {
			printk("# ktest: no test matches \"%s\"\n", patterns[i]);
			failed++;
		}
	}
	printk("1..%d\n", nsuites);
	for (int s = 0; s < nsuites; s++) {
		const char *suite = suites[s]->suite;
		int n = 0, sfail = 0, spass = 0, sskip = 0;
		for (const struct ktest *t = __ktests_start; t < __ktests_end; t++)
			if (strcmp(t->suite, suite) == 0 && selected(t))
				n++;
		printk("    KTAP version 1\n    # Subtest: %s\n    1..%d\n", suite, n);
		int number = 0;
		for (const struct ktest *t = __ktests_start; t < __ktests_end; t++) {
			if (strcmp(t->suite, suite) != 0 || !selected(t))
				continue;
			int r = run_one(t, ++number);
			if (r == 0)
				spass++;
			else if (r == 1)
				sfail++;
			else
				sskip++;
		}
		passed += spass;
		failed += sfail;
		skipped += sskip;
		printk("# %s: pass:%d fail:%d skip:%d total:%d\n", suite, spass, sfail, sskip, n);
		printk("%s %d %s\n", sfail ? "not ok" : "ok", s + 1, suite);
	}
	printk_set_hook(NULL);
	if (skipped)
		printk("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	else
		printk("%d passed, %d failed\n", passed, failed);
	return failed;
}

void ktest_main(void)
{
	char spec[256];
	uint64_t run_seed;
	if (!cmdline_get("ktest", spec, sizeof spec))
		return;
	if (!cmdline_get_u64("seed", &run_seed))
		run_seed = rdtsc() & 0xffffffff;
	int nfailed = ktest_run_pattern(spec, run_seed);
	kernel_exit(nfailed ? EXIT_FAIL : EXIT_PASS);
}
