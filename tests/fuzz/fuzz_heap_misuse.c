/*
 * tests/fuzz/fuzz_heap_misuse.c - fuzz_heap's misuse checks: bogus pointers (interior,
 * misaligned, stack, static, the heap's struct, libc's, unmapped, freed earlier,
 * random) given to free, realloc and usable_size, and immediate double frees.
 * Each must be reported once, with the right kind and address, and change nothing.
 */
#include "fuzz_heap.h"

/* A pointer the heap must not accept: what it is, and which report kinds are right for it. */
struct bogus {
	uintptr_t p;
	unsigned kinds;   /* bit (1 << HEAP_ERR_*) */
	const char *what;
};

#define KIND(k) (1u << (k))

static int pick_live(struct in *in, int want_large)
{
	unsigned start = u8(in) % NSLOTS;

	for (unsigned k = 0; k < NSLOTS; k++) {
		unsigned i = (start + k) % NSLOTS;
		if (S[i].p && (want_large < 0 || S[i].large == (bool)want_large))
			return (int)i;
	}
	return -1;
}

static char static_target[256] __attribute__((aligned(64)));

/*
 * Anywhere (16-aligned) in the 4 KiB from the start of the run holding live
 * slab slot i, the pointers its map bit claims: its head, inside or past its
 * objects (not a block the heap returned), or the start of an object no slot
 * holds, which is free: a double free. (The 16 bytes before the run are
 * not its: a pointer there is judged by the header before it, which may be
 * a freed block's.)
 */
static bool gen_bogus_run(struct in *in, struct bogus *b, int i)
{
	uintptr_t s = (uintptr_t)slab_of((uintptr_t)S[i].p);
	size_t size = S[i].usable;

	b->p = s + 16 * (u16(in) % (HEAP_SLAB_RUN / 16));
	ENSURE(slab_page(&H, b->p), "slab run %#lx: %#lx is not on its page", (unsigned long)s,
	       (unsigned long)b->p);
	if (b->p < s + HEAP_SLAB_HDR) {
		b->what = "inside a slab run's head";
	} else if ((b->p - s - HEAP_SLAB_HDR) / size >= run_cap(size)) {
		b->what = "past a slab run's last object";
	} else if ((b->p - s - HEAP_SLAB_HDR) % size) {
		b->what = "inside a slab object";
	} else {
		b->kinds = KIND(HEAP_ERR_DOUBLE_FREE);
		b->what = "a free object of a slab run";
	}
	return true;
}

static bool gen_bogus_any(struct in *in, struct bogus *b, char *stack_buf)
{
	uint8_t c = u8(in);
	int i;

	b->kinds = KIND(HEAP_ERR_INVALID_FREE);
	switch (c % 12) {
	case 0: /* interior of a live brk block: p - 8 is our pattern */
		if ((i = pick_live(in, 0)) >= 0 && S[i].slab)
			return gen_bogus_run(in, b, i);
		if (i < 0 || S[i].usable <= 16)
			return false;
		b->p = (uintptr_t)S[i].p + 16 * (1 + u16(in) % ((S[i].usable - 1) / 16));
		b->what = "interior of a brk block";
		return true;
	case 1: /* misaligned */
		if ((i = pick_live(in, -1)) < 0)
			return false;
		b->p = (uintptr_t)S[i].p + 1 + u8(in) % 15;
		b->what = "misaligned";
		return true;
	case 2: /* inside or just before a large block */
		if ((i = pick_live(in, 1)) < 0)
			return false;
		switch (u8(in) % 3) {
		case 0: b->p = (uintptr_t)S[i].p + 16 * (1 + u16(in) % (S[i].usable / 16)); break;
		case 1: b->p = (uintptr_t)S[i].p - 16 * (1 + u8(in) % 3); break;
		default: b->p = (uintptr_t)S[i].p & ~(uintptr_t)(E.hpage - 1); break;
		}
		b->what = "interior of a large block";
		return true;
	case 3:
		b->p = ((uintptr_t)stack_buf + 15 + 16 * (u8(in) % 8)) & ~(uintptr_t)15;
		b->what = "stack";
		return true;
	case 4:
		b->p = (uintptr_t)static_target + 16 * (u8(in) % 16);
		b->what = "static";
		return true;
	case 5:
		b->p = (uintptr_t)&H;
		b->what = "the heap's own struct";
		return true;
	case 6: { /* something freed before (maybe long ago) that is not live again */
		if (!ring_n)
			return false;
		unsigned n = ring_n < RING ? ring_n : RING;
		b->p = ring[(ring_n - 1 - u8(in) % n) % RING];
		if (is_live(b->p))
			return false;
		b->kinds |= KIND(HEAP_ERR_DOUBLE_FREE);
		b->what = "freed earlier (delayed double free)";
		return true;
	}
	case 7: case 8: { /* anywhere in and around the break, 16-aligned, not a live block */
		size_t span = E.brk + 512;
		b->p = ((uintptr_t)E.base - 256 + (uintptr_t)(u32(in) % span)) & ~(uintptr_t)15;
		if (is_live(b->p))
			return false;
		b->kinds |= KIND(HEAP_ERR_DOUBLE_FREE);
		b->what = "somewhere in the break";
		return true;
	}
	case 9: { /* unmapped or absurd addresses: must be rejected without being read */
		static const uintptr_t odd[] = { 0x10, 0x1000, 0x7ff0, UINTPTR_MAX & ~(uintptr_t)15,
						 (uintptr_t)1 << 47, ((uintptr_t)1 << 47) - 16, 0xdead0000 };
		uint8_t k = u8(in);
		if (k & 1)
			b->p = odd[(k >> 1) % (sizeof odd / sizeof odd[0])];
		else
			b->p = (uintptr_t)E.base + E.cap + 16 * (k >> 1); /* reserved, PROT_NONE */
		b->what = "unmapped";
		return true;
	}
	case 10: { /* a pointer libc's malloc returned */
		b->p = 0;
		b->what = "libc malloc";
		return true;
	}
	default:
		b->p = u64(in) & ~(uintptr_t)15;
		if (in_brk((void *)b->p) || is_live(b->p))
			return false;
		b->what = "random";
		return true;
	}
}

/* A bogus pointer, never a live block's (a large block's page-rounded address can be its own). */
static bool gen_bogus(struct in *in, struct bogus *b, char *stack_buf)
{
	return gen_bogus_any(in, b, stack_buf) && !(b->p && is_live(b->p));
}

/* One misuse: heap_free, heap_realloc or heap_usable_size of a bogus pointer. */
void op_bogus(struct in *in, int fn)
{
	char stack_buf[160];
	struct bogus b;
	struct snapshot before;
	void *libc = NULL;

	memset(stack_buf, 0x5a, sizeof stack_buf);
	if (!gen_bogus(in, &b, stack_buf))
		return;
	if (!b.p) {
		libc = malloc(48);
		b.p = (uintptr_t)libc;
	}
	if (fn != 0)
		b.kinds = KIND(HEAP_ERR_INVALID_PTR);
	check_state("bogus pointer chosen");
	take_snapshot(&before);
	unsigned reports = E.reports;
	const char *name = fn == 0 ? "free" : fn == 1 ? "realloc" : "usable_size";
	trace("#%u bogus %s(%#lx) [%s]", op_index, name, (unsigned long)b.p, b.what);
	if (fn == 0) {
		heap_free(&H, (void *)b.p);
	} else if (fn == 1) {
		size_t size = gen_size(in);
		void *r = heap_realloc(&H, (void *)b.p, size);
		ENSURE(!r, "realloc(%#lx, %zu) of a bogus pointer (%s) returned %p", (unsigned long)b.p, size, b.what,
		       r);
	} else {
		size_t n = heap_usable_size(&H, (void *)b.p);
		ENSURE(n == 0, "usable_size(%#lx) of a bogus pointer (%s) returned %zu", (unsigned long)b.p, b.what,
		       n);
	}
	if (have_report) {
		ENSURE(E.reports == reports + 1, "bogus %s(%#lx) [%s]: %u reports, expected 1", name,
		       (unsigned long)b.p, b.what, E.reports - reports);
		ENSURE(b.kinds & KIND(E.last_kind), "bogus %s(%#lx) [%s]: reported kind %d (%s)", name,
		       (unsigned long)b.p, b.what, E.last_kind, E.last_line);
		ENSURE(E.last_addr == b.p, "bogus %s(%#lx) [%s]: report names %#lx", name, (unsigned long)b.p, b.what,
		       (unsigned long)E.last_addr);
	} else {
		ENSURE(E.reports == reports, "report called though none was installed");
	}
	same_as_snapshot(&before, "a reported misuse");
	free(libc);
}

/* Free slot i, then free it again at once: a double free the heap must see as such. */
void op_double_free(unsigned i)
{
	struct snapshot before;

	if (!S[i].p)
		return;
	uintptr_t p = (uintptr_t)S[i].p;
	bool large = S[i].large, slab = S[i].slab;
	size_t brk_before_free = E.brk;
	do_free_slot(i, "then again");
	check_state("free before a double free");
	bool trimmed = E.brk != brk_before_free;
	/*
	 * A slab object's run stays while another object of it is live, and
	 * its free bit makes the second free exact. The last object's run is
	 * given back (by the free or by heap_get_stats): p then lies in free
	 * memory, or past a trimmed break, like a block's header that was
	 * trimmed away.
	 */
	if (slab && !is_slab_ptr(p))
		trimmed = true;
	take_snapshot(&before);
	unsigned reports = E.reports;
	trace("#%u double free %#lx", op_index, (unsigned long)p);
	heap_free(&H, (void *)p);
	if (have_report) {
		/*
		 * A brk block's header stays, marked free, and still fits below
		 * the break unless the free trimmed the break: then either kind.
		 */
		int want = large ? HEAP_ERR_INVALID_FREE : HEAP_ERR_DOUBLE_FREE;
		bool kind_ok = E.last_kind == want || (trimmed && E.last_kind == HEAP_ERR_INVALID_FREE);
		ENSURE(E.reports == reports + 1 && kind_ok && E.last_addr == p,
		       "immediate double free of %#lx (%s): %u reports, kind %d (wanted %d): %s", (unsigned long)p,
		       large ? "large" : slab ? "slab object" : "brk", E.reports - reports, E.last_kind, want,
		       E.last_line);
	}
	same_as_snapshot(&before, "a double free");
}
