/*
 * tests/fuzz/fuzz_heap_ops.c - fuzz_heap's well-formed operations: sizes and
 * alignments from the input, then malloc, calloc, memalign, realloc, free,
 * trim and usable_size of a slot, each checked against the shadow.
 */
#include "fuzz_heap.h"

/* ----- generators ----- */

size_t gen_size(struct in *in)
{
	static const size_t special[] = {
		SIZE_MAX, SIZE_MAX - 7, SIZE_MAX - 15, SIZE_MAX / 2, (size_t)PTRDIFF_MAX,
		(size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX - 8, (size_t)PTRDIFF_MAX - 64,
		HEAP_MAX_BRK, HEAP_MAX_BRK - 8, HEAP_MAX_BRK - 9, HEAP_MAX_BRK - 48, HEAP_MAX_BRK + 1,
		HEAP_BLK_SIZE_MASK, HEAP_BLK_SIZE_MASK - 4096, (size_t)1 << 40, (size_t)1 << 48,
		(size_t)1 << 62, 24, 25, 496, 497, 503, 504, 505, 512, 4096 - 8, 4096, 65536 - 8, 65536,
	};
	uint8_t c = u8(in);

	switch (c % 16) {
	case 0: case 1: case 2: case 3: case 4: case 5:
		return u8(in) % 80;
	case 6: case 7: case 8:
		return u16(in) % 2048;
	case 9:
		return (size_t)u16(in) * 2;
	case 10: {
		size_t d = u8(in);
		return cfg.lt > 64 ? cfg.lt - 64 + d % 128 : d % 128;
	}
	case 11:
		return cfg.lt + u32(in) % (2 * MiB);
	case 12: {
		/* Around what the break can still give. */
		size_t room = E.cap - E.brk;
		size_t d = (size_t)u8(in) * 16;
		return (c & 0x80) ? room + d : (room > d ? room - d : 0);
	}
	case 13:
		return special[u8(in) % (sizeof special / sizeof special[0])];
	case 14:
		return u64(in);
	default: {
		unsigned sh = u8(in) % 64;
		int d = (int8_t)u8(in);
		return ((size_t)1 << sh) + (size_t)(intptr_t)d;
	}
	}
}

static size_t gen_align(struct in *in)
{
	uint8_t c = u8(in);

	switch (c % 8) {
	case 0: case 1: case 2: case 3:
		return (size_t)1 << (u8(in) % 14);             /* 1 .. 8 KiB */
	case 4:
		return (size_t)1 << (u8(in) % 64);             /* up to 2^63 */
	case 5:
		return 0;
	case 6: {
		static const size_t bad[] = { 3, 24, 48, 96, 4097, 12288, 65535, SIZE_MAX, SIZE_MAX - 1,
					      (size_t)PTRDIFF_MAX };
		return bad[u8(in) % (sizeof bad / sizeof bad[0])];
	}
	default:
		return u64(in);
	}
}

/* ----- operations ----- */

/* Frees slot i through heap_free (the caller has checked its pattern). */
void do_free_slot(unsigned i, const char *why)
{
	struct slot *s = &S[i];
	unsigned reports = E.reports;

	trace("#%u free slot %u %p (%zu usable, %s) [%s]", op_index, i, (void *)s->p, s->usable,
	      s->large ? "large" : s->slab ? "slab" : "brk", why);
	verify_slot(i, "before free");
	heap_free(&H, s->p);
	ENSURE(E.reports == reports, "free of live slot %u (%p) was reported as misuse: %s", i, (void *)s->p,
	       E.last_line);
	ring_push(s->p);
	s->p = NULL;
}

/* After an allocation call returned NULL: nothing may have changed, and it must have been allowed to fail. */
static void null_result(const struct snapshot *before, bool must, size_t size, size_t align, const char *what)
{
	same_as_snapshot(before, what);
	ENSURE(!must,
	       "%s(size %zu, align %zu) returned NULL though the environment had room (brk %zu of %zu, "
	       "mapped %zu of %zu)",
	       what, size, align, E.brk, E.cap, E.mapped, E.large_cap);
}

void op_malloc(struct in *in, unsigned i)
{
	struct snapshot before;

	if (S[i].p) {
		do_free_slot(i, "malloc into a used slot");
		check_state("free");
	}
	size_t size = gen_size(in);
	take_snapshot(&before);
	bool must = must_succeed(size, HEAP_ALIGN);
	unsigned reports = E.reports;
	char *p = heap_malloc(&H, size);
	trace("#%u malloc(%zu) -> %p", op_index, size, (void *)p);
	ENSURE(E.reports == reports, "malloc(%zu) reported misuse: %s", size, E.last_line);
	if (!p) {
		null_result(&before, must, size, HEAP_ALIGN, "malloc");
		return;
	}
	adopt(i, p, size, HEAP_ALIGN, "malloc");
	fill(&S[i]);
}

void op_calloc(struct in *in, unsigned i)
{
	static const size_t counts[] = { 0, 1, 2, 3, 7, 16, 100, 4096, SIZE_MAX, SIZE_MAX / 2 + 1,
					 (size_t)1 << 32, (size_t)1 << 33 };
	struct snapshot before;

	if (S[i].p) {
		do_free_slot(i, "calloc into a used slot");
		check_state("free");
	}
	uint8_t c = u8(in);
	size_t n = c & 1 ? counts[(c >> 1) % (sizeof counts / sizeof counts[0])] : (size_t)(c >> 1) + 1;
	size_t each = gen_size(in);
	if (n && each && c & 1 && u8(in) & 1)
		each /= n;      /* keep some products in range */
	bool overflow = each && n > SIZE_MAX / each;
	take_snapshot(&before);
	bool must = !overflow && must_succeed(n * each, HEAP_ALIGN);
	unsigned reports = E.reports;
	char *p = heap_calloc(&H, n, each);
	trace("#%u calloc(%zu, %zu) -> %p", op_index, n, each, (void *)p);
	ENSURE(E.reports == reports, "calloc reported misuse: %s", E.last_line);
	if (!p) {
		null_result(&before, must, overflow ? 0 : n * each, HEAP_ALIGN, "calloc");
		return;
	}
	ENSURE(!overflow, "calloc(%zu, %zu) overflows but returned %p", n, each, (void *)p);
	size_t size = n * each;
	adopt(i, p, size, HEAP_ALIGN, "calloc");
	size_t k = first_nonzero(p, size);
	ENSURE(k == size, "calloc(%zu, %zu) -> %p: byte %zu is 0x%02x, not zero", n, each, (void *)p, k,
	       (unsigned char)p[k]);
	fill(&S[i]);
}

void op_memalign(struct in *in, unsigned i)
{
	struct snapshot before;

	if (S[i].p) {
		do_free_slot(i, "memalign into a used slot");
		check_state("free");
	}
	size_t align = gen_align(in), size = gen_size(in);
	bool bad = !align || (align & (align - 1));
	take_snapshot(&before);
	bool must = !bad && must_succeed(size, align);
	unsigned reports = E.reports;
	char *p = heap_memalign(&H, align, size);
	trace("#%u memalign(%zu, %zu) -> %p", op_index, align, size, (void *)p);
	ENSURE(E.reports == reports, "memalign reported misuse: %s", E.last_line);
	if (!p) {
		null_result(&before, must, size, align, "memalign");
		return;
	}
	ENSURE(!bad, "memalign(%zu, %zu): a bad alignment returned %p", align, size, (void *)p);
	adopt(i, p, size, align, "memalign");
	fill(&S[i]);
}

void op_realloc(struct in *in, unsigned i)
{
	struct snapshot before;
	struct slot old = S[i];
	size_t size = gen_size(in);

	if (old.p)
		verify_slot(i, "before realloc");
	take_snapshot(&before);
	bool must = must_succeed(size, HEAP_ALIGN);
	unsigned reports = E.reports;
	char *p = heap_realloc(&H, old.p, size);
	trace("#%u realloc(slot %u %p, %zu) -> %p", op_index, i, (void *)old.p, size, (void *)p);
	ENSURE(E.reports == reports, "realloc of live slot %u (%p) reported misuse: %s", i, (void *)old.p,
	       E.last_line);
	if (!p) {
		/* The old block stays, untouched. */
		null_result(&before, must, size, HEAP_ALIGN, "realloc");
		if (old.p)
			verify_slot(i, "after a failed realloc");
		return;
	}
	if (old.p) {
		size_t keep = old.usable < size ? old.usable : size;
		verify_bytes(i, p, old.id, keep, "contents kept by realloc");
		if (p != old.p)
			ring_push(old.p);
	}
	S[i].p = NULL;
	bool in_place = old.p && p == old.p;
	adopt(i, p, size, HEAP_ALIGN,
	      old.p && old.large ? "realloc of a large block" : in_place ? "realloc in place" : "realloc");
	if (in_place && !old.large && !old.slab && goes_large(size, HEAP_ALIGN))
		ENSURE(block_bytes(size) <= old.usable + HEAP_OVERHEAD,
		       "realloc(%p, %zu) grew a brk block in place past the large threshold", (void *)p, size);
	if (old.p && old.slab) {
		/* An object keeps its place (and class) for any size its class holds, and moves for more. */
		if (size <= old.usable)
			ENSURE(in_place && S[i].slab && S[i].usable == old.usable,
			       "realloc(slab object %p of %zu bytes, %zu) -> %p (%zu usable): not kept in place",
			       (void *)old.p, old.usable, size, (void *)p, S[i].usable);
		else
			ENSURE(!in_place, "realloc(slab object %p of %zu bytes, %zu) grew it in place", (void *)old.p,
			       old.usable, size);
	}
	if (old.p && p == old.p && old.large && S[i].large) {
		/* A run kept in place: it must not be more than half empty. */
		ENSURE(size >= S[i].usable / 2, "realloc kept a run of %zu usable bytes for %zu", S[i].usable, size);
	}
	fill(&S[i]);
}

void op_trim(void)
{
	struct heap_stats a = stats();
	size_t brk = E.brk;
	unsigned reports = E.reports;
	size_t r = heap_trim(&H);
	struct heap_stats b = stats();

	trace("#%u trim -> %zu", op_index, r);
	ENSURE(E.reports == reports, "trim reported misuse");
	ENSURE(brk - E.brk == r, "trim returned %zu but the break moved by %zu", r, brk - E.brk);
	ENSURE(a.used_blocks == b.used_blocks && a.in_use_bytes == b.in_use_bytes,
	       "trim changed the used blocks");
	ENSURE(!r || !E.refuse_shrink, "trim gave back %zu bytes through a refusing sbrk", r);
}

void op_usable(unsigned i)
{
	if (!S[i].p) {
		ENSURE(heap_usable_size(&H, NULL) == 0, "usable_size(NULL) != 0");
		return;
	}
	unsigned reports = E.reports;
	size_t n = heap_usable_size(&H, S[i].p);
	trace("#%u usable_size(slot %u %p) -> %zu", op_index, i, (void *)S[i].p, n);
	ENSURE(E.reports == reports && n == S[i].usable, "usable_size of slot %u changed: %zu, was %zu", i, n,
	       S[i].usable);
	/* Use it: a fresh pattern over every usable byte. */
	verify_slot(i, "before rewrite");
	S[i].id = ++next_id;
	fill(&S[i]);
}
