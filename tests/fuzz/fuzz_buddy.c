/*
 * tests/fuzz/fuzz_buddy.c - libFuzzer harness for the page-frame buddy core (alloc/buddy.c).
 *
 * The input describes a span (its base, anywhere from 0 to the top of the
 * 52-bit physical space, and its length), the usable runs and holes in it,
 * how the usable runs are cut and in what order they are handed to
 * buddy_add_free, and then a sequence of operations: allocations of every
 * order (and of orders that do not exist), frees, exhaustion, frees of
 * (address, order) pairs made up from the shadow's state (double, wrong
 * order, misaligned, outside, reserved, not a head, bad order, or by luck a
 * real block), buddy_frame_info of any address, checks.
 *
 * The shadow is one state per frame (reserved, free, head of an allocated
 * block of order o, tail). From it the harness knows the exact answer to
 * every call, and aborts (so libFuzzer saves the input) when buddy differs:
 *   - an allocation is aligned to its size, inside the span, made of frames
 *     the shadow has free (no frame handed out twice); NO_FRAME only when no
 *     aligned run of that many free frames exists;
 *   - a free of anything but a live block returns the error buddy.h
 *     promises for the first check that fails (BAD_ORDER, OUTSIDE,
 *     MISALIGNED, RESERVED, DOUBLE_FREE, NOT_HEAD, WRONG_ORDER), reports it
 *     once with the same address and order, and changes nothing: struct
 *     buddy and every byte of the metadata are compared before and after;
 *   - buddy_get_stats counts what the shadow counts, after every operation;
 *     buddy_check passes, and the per-order free block counts equal the
 *     canonical decomposition of the shadow's free frames (immediate
 *     coalescing leaves exactly one), every few operations;
 *   - buddy_frame_info names the block the shadow says holds the address;
 *   - at the end every block is freed and the per-order free counts are
 *     back to what they were right after the span was set up.
 *
 * FUZZ_VERBOSE=1 in the environment prints every operation as it runs.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"

#include "../../alloc/buddy.h"

#define PG         BUDDY_PAGE_SIZE
#define MAX_FRAMES 6144
#define MAX_OPS    3000
#define RING       32

typedef unsigned long long ull;

/* ----- failing loudly, with the recent operations ----- */

#define TRACE_LINES 40
static char trace_ring[TRACE_LINES][200];
static unsigned trace_n, op_index;
static int verbose;

static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...)
{
	va_list ap;
	char *line = trace_ring[trace_n++ % TRACE_LINES];

	va_start(ap, fmt);
	vsnprintf(line, sizeof trace_ring[0], fmt, ap);
	va_end(ap);
	if (verbose)
		fprintf(stderr, "  %s\n", line);
}

static void fail(int line, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void fail(int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nfuzz_buddy: MISMATCH at op %u (fuzz_buddy.c:%d): ", op_index, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nfuzz_buddy: the last operations, oldest first:\n");
	for (unsigned i = trace_n > TRACE_LINES ? trace_n - TRACE_LINES : 0; i < trace_n; i++)
		fprintf(stderr, "  %s\n", trace_ring[i % TRACE_LINES]);
	fflush(stderr);
	abort();
}
#define FAIL(...) fail(__LINE__, __VA_ARGS__)
#define ENSURE(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)


/* ----- the allocator and its shadow ----- */

enum { SH_RES, SH_FREE, SH_HEAD, SH_TAIL };

static struct buddy B;
static void *meta;
static size_t meta_bytes;
static uint64_t base_pfn, nframes;
static struct {
	uint8_t st, order;
} sh[MAX_FRAMES];
static uint64_t n_free, n_res, n_alloc;

struct blk {
	uint64_t pa;
	unsigned order;
};
static struct blk live[MAX_FRAMES];
static unsigned n_live;
static struct blk ring[RING];
static unsigned ring_n;
static unsigned check_every;
static bool have_report;

static struct {
	unsigned calls;
	int err;
	uint64_t pa;
	unsigned order;
	void *ctx;
	char line[256];
} rep;

static void on_report(void *ctx, int err, uint64_t pa, unsigned order, const char *line)
{
	ENSURE(line && line[0] && !strchr(line, '\n'), "report: empty line or a newline in it");
	rep.calls++;
	rep.err = err;
	rep.pa = pa;
	rep.order = order;
	rep.ctx = ctx;
	snprintf(rep.line, sizeof rep.line, "%s", line);
	trace("    report %d: %s", err, line);
}

static uint64_t pa_of(uint64_t i) { return (base_pfn + i) * PG; }
static uint64_t span_end_pa(void) { return (base_pfn + nframes) * PG; }

static void check_stats(const char *after)
{
	struct buddy_stats st;

	buddy_get_stats(&B, &st);
	ENSURE(st.total_frames == nframes && st.free_frames == n_free && st.reserved_frames == n_res &&
		       st.allocated_frames == n_alloc,
	       "after %s: stats say %llu total, %llu free, %llu reserved, %llu allocated; shadow %llu, %llu, %llu, %llu",
	       after, (ull)st.total_frames, (ull)st.free_frames, (ull)st.reserved_frames, (ull)st.allocated_frames,
	       (ull)nframes, (ull)n_free, (ull)n_res, (ull)n_alloc);
}

/* The free blocks the shadow's free frames must form, per order (one decomposition only). */
static void canonical(uint64_t out[BUDDY_NORDERS])
{
	static bool full[BUDDY_NORDERS][1024];
	uint64_t end = base_pfn + nframes;

	memset(out, 0, BUDDY_NORDERS * sizeof out[0]);
	if (!nframes)
		return;
	for (uint64_t top = base_pfn & ~1023ull; top < end; top += 1024) {
		for (uint64_t k = 0; k < 1024; k++) {
			uint64_t pfn = top + k;
			full[0][k] = pfn >= base_pfn && pfn < end && sh[pfn - base_pfn].st == SH_FREE;
		}
		for (unsigned o = 1; o <= BUDDY_MAX_ORDER; o++)
			for (uint64_t k = 0; k < 1024; k += 1ull << o)
				full[o][k] = full[o - 1][k] && full[o - 1][k + (1ull << (o - 1))];
		for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++)
			for (uint64_t k = 0; k < 1024; k += 1ull << o)
				if (full[o][k] && (o == BUDDY_MAX_ORDER || !full[o + 1][k & ~((2ull << o) - 1)]))
					out[o]++;
	}
}

static void full_check(const char *after)
{
	char why[256] = "";
	uint64_t want[BUDDY_NORDERS];
	struct buddy_stats st;

	if (buddy_check(&B, why, sizeof why))
		FAIL("buddy_check after %s: %s", after, why);
	ENSURE(buddy_check(&B, NULL, 0) == 0, "buddy_check(NULL why) disagrees");
	canonical(want);
	buddy_get_stats(&B, &st);
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++)
		ENSURE(st.free_blocks[o] == want[o], "after %s: %llu free order-%u blocks, the free frames make %llu",
		       after, (ull)st.free_blocks[o], o, (ull)want[o]);
	check_stats(after);
}

/* Is there an aligned run of 2^order free frames in the span? */
static bool shadow_has_free_block(unsigned order)
{
	uint64_t want[BUDDY_NORDERS];

	canonical(want);
	for (unsigned o = order; o <= BUDDY_MAX_ORDER; o++)
		if (want[o])
			return true;
	return false;
}

/* The error buddy_free(pa, order) must return, in the documented order of checks; 0 = a real free. */
static int oracle(uint64_t pa, unsigned order)
{
	if (order > BUDDY_MAX_ORDER)
		return BUDDY_E_BAD_ORDER;
	uint64_t pfn = pa >> BUDDY_PAGE_SHIFT;
	if (pfn < base_pfn || pfn - base_pfn >= nframes)
		return BUDDY_E_OUTSIDE;
	if (pa & ((PG << order) - 1))
		return BUDDY_E_MISALIGNED;
	uint64_t i = pfn - base_pfn;
	switch (sh[i].st) {
	case SH_RES:  return BUDDY_E_RESERVED;
	case SH_FREE: return BUDDY_E_DOUBLE_FREE;
	case SH_TAIL: return BUDDY_E_NOT_HEAD;
	default:      return sh[i].order == order ? 0 : BUDDY_E_WRONG_ORDER;
	}
}

static void mark(uint64_t i, unsigned order, int st)
{
	for (uint64_t j = 0; j < (1ull << order); j++) {
		sh[i + j].st = (uint8_t)(st == SH_HEAD && j ? SH_TAIL : st);
		sh[i + j].order = (uint8_t)order;
	}
}

/* ----- operations ----- */

/* One buddy_alloc, checked; false when it (rightly) found nothing. */
static bool do_alloc(unsigned order)
{
	unsigned calls = rep.calls;
	uint64_t free_before = n_free;
	uint64_t pa = buddy_alloc(&B, order);

	trace("#%u alloc(order %u) -> %#llx", op_index, order, (ull)pa);
	ENSURE(rep.calls == calls, "alloc reported misuse: %s", rep.line);
	if (pa == BUDDY_NO_FRAME) {
		ENSURE(order > BUDDY_MAX_ORDER || !shadow_has_free_block(order),
		       "alloc(order %u) failed though an aligned free run of that size exists", order);
		check_stats("a failed alloc");
		return false;
	}
	ENSURE(order <= BUDDY_MAX_ORDER, "alloc(order %u) succeeded: %#llx", order, (ull)pa);
	ENSURE((pa & ((PG << order) - 1)) == 0, "alloc(order %u) returned %#llx: not aligned to its size", order,
	       (ull)pa);
	ENSURE(pa >= pa_of(0) && pa < span_end_pa() && (span_end_pa() - pa) / PG >= (1ull << order),
	       "alloc(order %u) returned %#llx outside the span [%#llx, %#llx)", order, (ull)pa, (ull)pa_of(0),
	       (ull)span_end_pa());
	uint64_t i = pa / PG - base_pfn;
	for (uint64_t j = 0; j < (1ull << order); j++)
		ENSURE(sh[i + j].st == SH_FREE, "alloc(order %u) returned %#llx: frame %#llx was not free (state %u)",
		       order, (ull)pa, (ull)pa_of(i + j), sh[i + j].st);
	mark(i, order, SH_HEAD);
	n_free -= 1ull << order;
	n_alloc += 1ull << order;
	ENSURE(free_before - n_free == (1ull << order), "bookkeeping");
	live[n_live++] = (struct blk){ pa, order };
	check_stats("alloc");
	return true;
}

static void do_free_live(unsigned k, const char *why)
{
	struct blk b = live[k];
	unsigned calls = rep.calls;

	trace("#%u free(%#llx, order %u) [%s]", op_index, (ull)b.pa, b.order, why);
	int rc = buddy_free(&B, b.pa, b.order);
	ENSURE(rc == 0, "free of the live block %#llx (order %u) returned %d (%s): %s", (ull)b.pa, b.order, rc,
	       buddy_strerror(rc), rep.line);
	ENSURE(rep.calls == calls, "a good free was reported: %s", rep.line);
	mark(b.pa / PG - base_pfn, b.order, SH_FREE);
	n_free += 1ull << b.order;
	n_alloc -= 1ull << b.order;
	live[k] = live[--n_live];
	ring[ring_n++ % RING] = b;
	check_stats("free");
}

static int find_live(uint64_t pa)
{
	for (unsigned k = 0; k < n_live; k++)
		if (live[k].pa == pa)
			return (int)k;
	return -1;
}

static void *snap_meta;

/* buddy_free(pa, order) of a made-up pair: the oracle says what must happen. */
static void do_free_any(uint64_t pa, unsigned order, const char *what)
{
	int want = oracle(pa, order);
	struct buddy before = B;

	if (want == 0) {
		int k = find_live(pa);
		ENSURE(k >= 0 && live[k].order == order, "shadow: a head at %#llx that is not a live block", (ull)pa);
		do_free_live((unsigned)k, what);
		return;
	}
	if (meta_bytes)
		memcpy(snap_meta, meta, meta_bytes);
	unsigned calls = rep.calls;
	trace("#%u bogus free(%#llx, order %u) [%s], expect %d", op_index, (ull)pa, order, what, want);
	int rc = buddy_free(&B, pa, order);
	ENSURE(rc == want, "bogus free(%#llx, order %u) [%s] returned %d (%s), expected %d (%s)", (ull)pa, order, what,
	       rc, buddy_strerror(rc), want, buddy_strerror(want));
	if (have_report) {
		ENSURE(rep.calls == calls + 1, "bogus free(%#llx, order %u): %u reports", (ull)pa, order,
		       rep.calls - calls);
		ENSURE(rep.err == want && rep.pa == pa && rep.order == order && rep.ctx == &rep,
		       "bogus free(%#llx, order %u): report says err %d pa %#llx order %u", (ull)pa, order, rep.err,
		       (ull)rep.pa, rep.order);
	} else {
		ENSURE(rep.calls == calls, "report called though none was installed");
	}
	ENSURE(memcmp(&before, &B, sizeof B) == 0, "bogus free(%#llx, order %u) changed struct buddy", (ull)pa, order);
	if (meta_bytes && memcmp(snap_meta, meta, meta_bytes) != 0) {
		size_t k = 0;
		while (((uint8_t *)snap_meta)[k] == ((uint8_t *)meta)[k])
			k++;
		FAIL("bogus free(%#llx, order %u) changed the metadata of frame %#llx", (ull)pa, order,
		     (ull)pa_of(k / sizeof(struct buddy_frame)));
	}
	check_stats("a bogus free");
}

static uint64_t pick_frame(struct in *in, int state)
{
	if (!nframes)
		return UINT64_MAX;
	uint64_t start = u16(in) % nframes;
	for (uint64_t k = 0; k < nframes; k++) {
		uint64_t i = (start + k) % nframes;
		if (state < 0 || sh[i].st == state)
			return i;
	}
	return UINT64_MAX;
}

static void op_bogus(struct in *in)
{
	uint8_t c = u8(in);
	uint64_t i;
	unsigned order = u8(in) % BUDDY_NORDERS;

	switch (c % 10) {
	case 0: /* freed earlier: a double free, unless it is live again */
		if (!ring_n)
			return;
		{
			unsigned n = ring_n < RING ? ring_n : RING;
			struct blk b = ring[(ring_n - 1 - u8(in) % n) % RING];
			do_free_any(b.pa, b.order, "freed earlier");
		}
		return;
	case 1: /* a live block with another order */
		if (!n_live)
			return;
		{
			struct blk b = live[u16(in) % n_live];
			do_free_any(b.pa, order == b.order ? (order + 1) % BUDDY_NORDERS : order, "wrong order");
		}
		return;
	case 2: /* a live block's address, off by some bytes or pages */
		if (!n_live)
			return;
		{
			struct blk b = live[u16(in) % n_live];
			uint64_t off = (c & 16) ? 1 + u16(in) % (PG - 1) : PG * (1 + u8(in) % 8);
			do_free_any((c & 32) ? b.pa - off : b.pa + off, b.order, "misaligned or next to a block");
		}
		return;
	case 3: /* a tail frame of a live block */
		if ((i = pick_frame(in, SH_TAIL)) == UINT64_MAX)
			return;
		do_free_any(pa_of(i), (c & 16) ? 0 : sh[i].order, "not the head");
		return;
	case 4: { /* outside the span */
		uint64_t k = 1 + u8(in) % 4;
		uint64_t pa;
		switch (u8(in) % 6) {
		case 0: pa = base_pfn >= k ? pa_of(0) - k * PG : UINT64_MAX & ~(PG - 1); break;
		case 1: pa = span_end_pa() + (k - 1) * PG; break;
		case 2: pa = UINT64_MAX & ~(PG - 1); break;
		case 3: pa = UINT64_MAX; break;
		case 4: pa = 0; break;
		default: pa = u64(in); break;
		}
		do_free_any(pa, order, "outside");
		return;
	}
	case 5: /* a hole */
		if ((i = pick_frame(in, SH_RES)) == UINT64_MAX)
			return;
		do_free_any(pa_of(i), (c & 16) ? 0 : order, "reserved");
		return;
	case 6: { /* orders that do not exist */
		static const unsigned bad[] = { BUDDY_NORDERS, BUDDY_NORDERS + 1, 63, 64, 255, 256, 1000, UINT32_MAX };
		uint64_t pa = n_live ? live[u16(in) % n_live].pa : pa_of(0);
		do_free_any(pa, bad[u8(in) % (sizeof bad / sizeof bad[0])], "bad order");
		return;
	}
	case 7: /* inside a free block */
		if ((i = pick_frame(in, SH_FREE)) == UINT64_MAX)
			return;
		do_free_any(pa_of(i), (c & 16) ? 0 : order, "free frame");
		return;
	default: /* any frame of the span, any order */
		if ((i = pick_frame(in, -1)) == UINT64_MAX)
			return;
		do_free_any(pa_of(i) + ((c & 16) ? u16(in) % PG : 0), order, "anywhere");
		return;
	}
}

/* buddy_frame_info(pa) against the shadow. */
static void op_info(struct in *in)
{
	uint64_t pa;
	unsigned state = 99, order = 99;
	uint64_t block = 1;

	if (nframes && (u8(in) & 3))
		pa = pa_of(u16(in) % nframes) + u16(in) % PG;
	else
		pa = u64(in);
	int rc = buddy_frame_info(&B, pa, &state, &order, &block);
	trace("#%u frame_info(%#llx) -> %d state %u order %u block %#llx", op_index, (ull)pa, rc, state, order,
	      (ull)block);
	uint64_t pfn = pa / PG;
	if (pfn < base_pfn || pfn - base_pfn >= nframes) {
		ENSURE(rc == BUDDY_E_OUTSIDE, "frame_info(%#llx) outside the span returned %d", (ull)pa, rc);
		return;
	}
	ENSURE(rc == 0, "frame_info(%#llx) returned %d", (ull)pa, rc);
	uint64_t i = pfn - base_pfn;
	unsigned want_state, want_order;
	uint64_t want_block;
	switch (sh[i].st) {
	case SH_RES:
		want_state = BUDDY_RESERVED, want_order = 0, want_block = pfn * PG;
		break;
	case SH_FREE: {
		/* The largest aligned all-free block around it is the one on a free list. */
		want_state = BUDDY_FREE_HEAD, want_order = 0, want_block = pfn * PG;
		for (int o = BUDDY_MAX_ORDER; o >= 0; o--) {
			uint64_t h = pfn & ~((1ull << o) - 1);
			bool all = h >= base_pfn && h + (1ull << o) <= base_pfn + nframes;
			for (uint64_t j = 0; all && j < (1ull << o); j++)
				all = sh[h - base_pfn + j].st == SH_FREE;
			if (all) {
				want_order = (unsigned)o, want_block = h * PG;
				break;
			}
		}
		break;
	}
	default: {
		uint64_t h = pfn & ~((1ull << sh[i].order) - 1);
		want_state = BUDDY_ALLOC_HEAD, want_order = sh[i].order, want_block = h * PG;
		ENSURE(sh[h - base_pfn].st == SH_HEAD, "shadow: no head for a tail");
		break;
	}
	}
	ENSURE(state == want_state && order == want_order && block == want_block,
	       "frame_info(%#llx): state %u order %u block %#llx; shadow says state %u order %u block %#llx",
	       (ull)pa, state, order, (ull)block, want_state, want_order, (ull)want_block);
	/* Every out pointer may be NULL. */
	ENSURE(buddy_frame_info(&B, pa, NULL, NULL, NULL) == 0, "frame_info with NULL outs failed");
}

static unsigned dump_lines;
static void dump_emit(void *ctx, const char *line)
{
	ENSURE(ctx == &dump_lines && line && !strchr(line, '\n'), "buddy_dump: bad line");
	dump_lines++;
}

/* ----- one input ----- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	for (int e = 0; e >= -8; e--)
		ENSURE(buddy_strerror(e) != NULL, "buddy_strerror(%d) is NULL", e);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned every[] = { 1, 2, 4, 8, 16, 64, 256, 1 };
	struct in in = { data, size };
	struct buddy_stats baseline;

	trace_n = op_index = 0;
	n_live = ring_n = 0;
	memset(&rep, 0, sizeof rep);

	/* The span. */
	uint8_t c0 = u8(&in), c1 = u8(&in), flags = u8(&in);
	switch (c1 % 4) {
	case 0: nframes = u8(&in) % 80; break;
	case 1: nframes = u16(&in) % 1200; break;
	case 2: nframes = u16(&in) % MAX_FRAMES; break;
	default: nframes = (1024ull * (1 + u8(&in) % 5) + (uint64_t)(int8_t)u8(&in)) % MAX_FRAMES; break;
	}
	switch (c0 % 6) {
	case 0: base_pfn = 0; break;
	case 1: base_pfn = u8(&in); break;
	case 2: base_pfn = 0x100 + u16(&in); break;
	case 3: base_pfn = (1ull << 28) + u16(&in); break;                        /* 1 TiB up */
	case 4: base_pfn = (1ull << 52) - nframes - 1 - u8(&in); break;           /* the top of 52-bit space */
	default: base_pfn = u32(&in); break;
	}
	check_every = every[(c0 >> 3) % 8];
	have_report = !(flags & 1) || !(flags & 2);

	meta_bytes = buddy_meta_bytes(nframes);
	ENSURE(meta_bytes == nframes * sizeof(struct buddy_frame), "buddy_meta_bytes(%llu) = %zu", (ull)nframes,
	       meta_bytes);
	meta = nframes ? malloc(meta_bytes) : NULL;
	snap_meta = malloc(meta_bytes + 1);
	if (meta)
		memset(meta, u8(&in), meta_bytes); /* buddy_init must not rely on zeroed metadata */
	buddy_init(&B, base_pfn * PG, nframes, meta, have_report ? on_report : NULL, &rep);
	trace("span: base %#llx, %llu frames, check every %u, report %d", (ull)(base_pfn * PG), (ull)nframes,
	      check_every, have_report);
	memset(sh, 0, nframes * sizeof sh[0]);
	n_free = n_alloc = 0;
	n_res = nframes;
	full_check("buddy_init");

	/* Usable runs and holes, cut into pieces, added in a shuffled order. */
	struct blk pieces[128];    /* .pa = first frame index, .order = frames (reused as a length) */
	uint64_t lens[128];
	unsigned npieces = 0, nruns = u8(&in) % 24;
	bool usable = flags & 4;
	uint64_t at = 0;
	for (unsigned r = 0; r <= nruns && at < nframes; r++, usable = !usable) {
		uint8_t b = u8(&in);
		uint64_t len;
		switch (b % 4) {
		case 0: len = b >> 2; break;
		case 1: len = (uint64_t)(b >> 2) * 16; break;
		case 2: len = 1 + (b >> 6); break;
		default: len = (uint64_t)(b >> 2) * 97; break;
		}
		if (r == nruns || len > nframes - at)
			len = nframes - at;
		if (!usable || !len) {
			at += len;
			continue;
		}
		uint64_t cut = (flags & 8) ? u16(&in) % (len + 1) : 0;
		if (cut && cut < len && npieces + 2 <= 128) {
			pieces[npieces].pa = at, lens[npieces++] = cut;
			pieces[npieces].pa = at + cut, lens[npieces++] = len - cut;
		} else if (npieces < 128) {
			pieces[npieces].pa = at, lens[npieces++] = len;
		}
		at += len;
	}
	for (unsigned k = npieces; k > 1; k--) {
		unsigned j = u8(&in) % k;
		struct blk tp = pieces[k - 1];
		uint64_t tl = lens[k - 1];
		pieces[k - 1] = pieces[j], lens[k - 1] = lens[j];
		pieces[j] = tp, lens[j] = tl;
	}
	for (unsigned k = 0; k < npieces; k++) {
		trace("add_free(%#llx, %llu frames)", (ull)pa_of(pieces[k].pa), (ull)lens[k]);
		buddy_add_free(&B, pa_of(pieces[k].pa), lens[k] * PG);
		for (uint64_t j = 0; j < lens[k]; j++)
			sh[pieces[k].pa + j].st = SH_FREE;
		n_free += lens[k];
		n_res -= lens[k];
		if (k % check_every == 0 || k + 1 == npieces)
			full_check("add_free");
	}
	buddy_add_free(&B, pa_of(0), 0); /* len 0 does nothing */
	full_check("setup");
	buddy_get_stats(&B, &baseline);

	while (in.n && op_index < MAX_OPS) {
		uint8_t op = u8(&in);
		op_index++;
		switch (op % 12) {
		case 0: case 1: case 2: {
			uint8_t o = u8(&in);
			do_alloc(o < 240 ? o % BUDDY_NORDERS : o == 255 ? UINT32_MAX : o);
			break;
		}
		case 3: case 4:
			if (n_live)
				do_free_live(u16(&in) % n_live, "free");
			break;
		case 5: case 6:
			op_bogus(&in);
			break;
		case 7:
			op_info(&in);
			break;
		case 8: { /* exhaust one order, then give some back */
			unsigned o = u8(&in) % BUDDY_NORDERS, keep = u8(&in);
			unsigned before = n_live;
			while (n_live < MAX_FRAMES && do_alloc(o))
				;
			while (n_live > before && keep--)
				do_free_live(n_live - 1, "after exhaustion");
			break;
		}
		case 9:
			full_check("a check op");
			dump_lines = 0;
			buddy_dump(&B, dump_emit, &dump_lines);
			ENSURE(dump_lines == BUDDY_NORDERS + 1, "buddy_dump emitted %u lines", dump_lines);
			break;
		case 10: { /* free a burst, newest first or by index */
			unsigned n = 1 + u8(&in) % 32;
			while (n-- && n_live)
				do_free_live((op & 0x80) ? n_live - 1 : u16(&in) % n_live, "burst");
			break;
		}
		default:
			/* Small blocks are the common case in a kernel. */
			do_alloc(u8(&in) % 3);
			break;
		}
		if (op_index % check_every == 0)
			full_check("the op");
	}

	/* Give everything back: the span must look as it did after setup. */
	full_check("the last op");
	while (n_live)
		do_free_live(n_live - 1, "teardown");
	full_check("teardown");
	struct buddy_stats st;
	buddy_get_stats(&B, &st);
	ENSURE(memcmp(&st, &baseline, sizeof st) == 0,
	       "teardown: stats differ from the post-setup baseline (free %llu vs %llu)", (ull)st.free_frames,
	       (ull)baseline.free_frames);
	free(meta);
	free(snap_meta);
	meta = snap_meta = NULL;
	return 0;
}
