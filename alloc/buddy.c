/*
 * alloc/buddy.c - the page-frame buddy allocator core (see buddy.h).
 *
 * Every frame has a state: a block's first frame is its head (which carries
 * the order and, when free, the list links), the others are its tails. Tails
 * cost a write per frame on alloc and free, and buy exact misuse reports:
 * freeing the middle of a block, or a frame inside a free block, is caught
 * without searching anything.
 *
 * Frame indices are relative to base_pfn; buddies and alignment are computed
 * on absolute frame numbers, so blocks are aligned in physical memory.
 */
#include "buddy.h"

#define ORDER_FRAMES(o) (1ull << (o))

/* glue.h's snprintf has %llx but no PRIx64. */
typedef unsigned long long ull;

static uint64_t index_pa(const struct buddy *b, uint64_t i)
{
	return (b->base_pfn + i) << BUDDY_PAGE_SHIFT;
}

/* The frame index of pa, if its frame is in the span. */
static bool pa_index(const struct buddy *b, uint64_t pa, uint64_t *i)
{
	uint64_t pfn = pa >> BUDDY_PAGE_SHIFT;

	if (pfn < b->base_pfn || pfn - b->base_pfn >= b->nframes)
		return false;
	*i = pfn - b->base_pfn;
	return true;
}

static bool frame_is_head(const struct buddy_frame *f)
{
	return f->state == BUDDY_FREE_HEAD || f->state == BUDDY_ALLOC_HEAD;
}

static bool frame_is_free(const struct buddy_frame *f)
{
	return f->state == BUDDY_FREE_HEAD || f->state == BUDDY_FREE_TAIL;
}

static void list_push(struct buddy *b, uint64_t i, unsigned order)
{
	struct buddy_frame *f = &b->frames[i];

	f->state = BUDDY_FREE_HEAD;
	f->order = (uint8_t)order;
	f->prev = BUDDY_NONE;
	f->next = b->free_head[order];
	if (f->next != BUDDY_NONE)
		b->frames[f->next].prev = (uint32_t)i;
	b->free_head[order] = (uint32_t)i;
	b->free_blocks[order]++;
}

static void list_remove(struct buddy *b, uint64_t i, unsigned order)
{
	struct buddy_frame *f = &b->frames[i];

	ALLOC_ASSERT(f->state == BUDDY_FREE_HEAD && f->order == order && "list_remove: not a free head");
	if (f->prev != BUDDY_NONE)
		b->frames[f->prev].next = f->next;
	else
		b->free_head[order] = f->next;
	if (f->next != BUDDY_NONE)
		b->frames[f->next].prev = f->prev;
	b->free_blocks[order]--;
}

/*
 * Puts the block at index i on a free list, merged with its free buddies as
 * far as they go. The caller has already marked all but its first frame
 * FREE_TAIL and counted its frames free.
 */
static void free_block(struct buddy *b, uint64_t i, unsigned order)
{
	while (order < BUDDY_MAX_ORDER) {
		uint64_t buddy_pfn = (b->base_pfn + i) ^ ORDER_FRAMES(order), bi;

		if (buddy_pfn < b->base_pfn || buddy_pfn - b->base_pfn >= b->nframes)
			break;
		bi = buddy_pfn - b->base_pfn;
		if (b->frames[bi].state != BUDDY_FREE_HEAD || b->frames[bi].order != order)
			break;
		list_remove(b, bi, order);
		/* The upper half's head becomes a tail of the merged block. */
		b->frames[bi > i ? bi : i].state = BUDDY_FREE_TAIL;
		i = bi < i ? bi : i;
		order++;
	}
	list_push(b, i, order);
}

/* The head of the block holding frame i; false if there is none (a broken invariant). */
static bool find_head(const struct buddy *b, uint64_t i, uint64_t *head)
{
	uint64_t pfn = b->base_pfn + i;

	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
		uint64_t hpfn = pfn & ~(ORDER_FRAMES(o) - 1), h;
		const struct buddy_frame *f;

		if (hpfn < b->base_pfn)
			break;
		h = hpfn - b->base_pfn;
		f = &b->frames[h];
		if (frame_is_head(f) && f->order <= BUDDY_MAX_ORDER && h + ORDER_FRAMES(f->order) > i) {
			*head = h;
			return true;
		}
	}
	return false;
}

size_t buddy_meta_bytes(uint64_t nframes)
{
	return (size_t)nframes * sizeof(struct buddy_frame);
}

void buddy_init(struct buddy *b, uint64_t base_pa, uint64_t nframes, void *meta,
		buddy_report_fn report, void *report_ctx)
{
	ALLOC_ASSERT((base_pa & (BUDDY_PAGE_SIZE - 1)) == 0 && "buddy_init: base not page aligned");
	ALLOC_ASSERT(nframes < BUDDY_NONE && "buddy_init: too many frames for 32-bit indices");
	ALLOC_ASSERT(nframes < (1ull << (64 - BUDDY_PAGE_SHIFT)) - (base_pa >> BUDDY_PAGE_SHIFT) &&
		     "buddy_init: span runs past 2^64");
	ALLOC_ASSERT((meta != NULL || nframes == 0) && "buddy_init: no metadata");
	ALLOC_ASSERT(((uintptr_t)meta & 3) == 0 && "buddy_init: metadata misaligned");

	memset(b, 0, sizeof *b);
	b->base_pfn = base_pa >> BUDDY_PAGE_SHIFT;
	b->nframes = nframes;
	b->frames = meta;
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++)
		b->free_head[o] = BUDDY_NONE;
	b->reserved_frames = nframes;
	b->report = report;
	b->report_ctx = report_ctx;
	/*
	 * Only .state is read in reserved frames and tails, so write just that:
	 * a twelfth of the stores of a memset, which counts under TCG at 2M frames.
	 */
	for (uint64_t i = 0; i < nframes; i++)
		b->frames[i].state = BUDDY_RESERVED;
}

void buddy_add_free(struct buddy *b, uint64_t pa, uint64_t len)
{
	uint64_t i, end, n = len >> BUDDY_PAGE_SHIFT;
	unsigned not_reserved = 0;

	ALLOC_ASSERT(((pa | len) & (BUDDY_PAGE_SIZE - 1)) == 0 && "buddy_add_free: not page aligned");
	if (len == 0)
		return;
	ALLOC_ASSERT(pa_index(b, pa, &i) && n <= b->nframes - i && "buddy_add_free: outside the span");
	end = i + n;

	/*
	 * One tight pass over the frames, the only per-frame work; the check is
	 * folded in rather than branched on so 2M frames stay cheap under TCG.
	 */
	for (uint64_t j = i; j < end; j++) {
		not_reserved |= b->frames[j].state;
		b->frames[j].state = BUDDY_FREE_TAIL;
	}
	ALLOC_ASSERT(not_reserved == 0 && "buddy_add_free: range is not all reserved");
	b->reserved_frames -= n;
	b->free_frames += n;

	/* Cut the range into the largest naturally aligned blocks. */
	while (i < end) {
		uint64_t pfn = b->base_pfn + i;
		unsigned o = pfn ? (unsigned)__builtin_ctzll(pfn) : BUDDY_MAX_ORDER;

		if (o > BUDDY_MAX_ORDER)
			o = BUDDY_MAX_ORDER;
		while (ORDER_FRAMES(o) > end - i)
			o--;
		free_block(b, i, o);
		i += ORDER_FRAMES(o);
	}
}

uint64_t buddy_alloc(struct buddy *b, unsigned order)
{
	unsigned o = order;
	uint64_t i;

	if (order > BUDDY_MAX_ORDER)
		return BUDDY_NO_FRAME;
	while (o <= BUDDY_MAX_ORDER && b->free_head[o] == BUDDY_NONE)
		o++;
	if (o > BUDDY_MAX_ORDER)
		return BUDDY_NO_FRAME;
	i = b->free_head[o];
	list_remove(b, i, o);
	/* Split: the upper halves go back on the lists, their frames already FREE_TAIL. */
	while (o > order) {
		o--;
		list_push(b, i + ORDER_FRAMES(o), o);
	}
	b->frames[i].state = BUDDY_ALLOC_HEAD;
	b->frames[i].order = (uint8_t)order;
	b->frames[i].owner = 0;
	for (uint64_t j = 1; j < ORDER_FRAMES(order); j++)
		b->frames[i + j].state = BUDDY_ALLOC_TAIL;
	b->free_frames -= ORDER_FRAMES(order);
	return index_pa(b, i);
}

int buddy_set_owner(struct buddy *b, uint64_t pa, uint8_t owner)
{
	uint64_t i;

	if (!pa_index(b, pa, &i))
		return BUDDY_E_OUTSIDE;
	if (b->frames[i].state != BUDDY_ALLOC_HEAD || (pa & (BUDDY_PAGE_SIZE - 1)))
		return BUDDY_E_NOT_HEAD;
	b->frames[i].owner = owner;
	return 0;
}

uint8_t buddy_owner(const struct buddy *b, uint64_t pa)
{
	uint64_t i, head;

	if (!pa_index(b, pa, &i) || b->frames[i].state == BUDDY_RESERVED || frame_is_free(&b->frames[i]))
		return 0;
	if (!find_head(b, i, &head))
		return 0;
	return b->frames[head].owner;
}

const char *buddy_strerror(int err)
{
	switch (err) {
	case 0:                   return "no error";
	case BUDDY_E_OUTSIDE:     return "address outside the managed span";
	case BUDDY_E_MISALIGNED:  return "misaligned address";
	case BUDDY_E_BAD_ORDER:   return "order too large";
	case BUDDY_E_RESERVED:    return "frame is reserved";
	case BUDDY_E_DOUBLE_FREE: return "double free";
	case BUDDY_E_WRONG_ORDER: return "freed with the wrong order";
	case BUDDY_E_NOT_HEAD:    return "not the first frame of its block";
	default:                  return "unknown buddy error";
	}
}

static int report_misuse(struct buddy *b, int err, uint64_t pa, unsigned order, const char *line)
{
	if (b->report)
		b->report(b->report_ctx, err, pa, order, line);
	return err;
}

int buddy_free(struct buddy *b, uint64_t pa, unsigned order)
{
	char line[200];
	uint64_t i, head;
	struct buddy_frame *f;

	if (order > BUDDY_MAX_ORDER) {
		snprintf(line, sizeof line, "buddy: free of 0x%llx with order %u, above the maximum %u",
			 (ull)pa, order, BUDDY_MAX_ORDER);
		return report_misuse(b, BUDDY_E_BAD_ORDER, pa, order, line);
	}
	if (!pa_index(b, pa, &i)) {
		snprintf(line, sizeof line, "buddy: free of 0x%llx outside RAM (managing 0x%llx..0x%llx)",
			 (ull)pa, (ull)index_pa(b, 0), (ull)index_pa(b, b->nframes));
		return report_misuse(b, BUDDY_E_OUTSIDE, pa, order, line);
	}
	if (pa & ((BUDDY_PAGE_SIZE << order) - 1)) {
		snprintf(line, sizeof line, "buddy: free of misaligned 0x%llx (order %u needs 0x%llx alignment)",
			 (ull)pa, order, (ull)(BUDDY_PAGE_SIZE << order));
		return report_misuse(b, BUDDY_E_MISALIGNED, pa, order, line);
	}
	f = &b->frames[i];
	if (f->state == BUDDY_RESERVED) {
		snprintf(line, sizeof line, "buddy: free of reserved frame 0x%llx (order %u)", (ull)pa, order);
		return report_misuse(b, BUDDY_E_RESERVED, pa, order, line);
	}
	if (frame_is_free(f)) {
		bool found = find_head(b, i, &head);

		ALLOC_ASSERT(found && "buddy_free: free tail without a head");
		snprintf(line, sizeof line,
			 "buddy: double free of frame 0x%llx (order %u): it is in the free order-%u block at 0x%llx",
			 (ull)pa, order, b->frames[head].order, (ull)index_pa(b, head));
		return report_misuse(b, BUDDY_E_DOUBLE_FREE, pa, order, line);
	}
	if (f->state == BUDDY_ALLOC_TAIL) {
		bool found = find_head(b, i, &head);

		ALLOC_ASSERT(found && "buddy_free: allocated tail without a head");
		snprintf(line, sizeof line,
			 "buddy: free of 0x%llx (order %u), inside the order-%u block allocated at 0x%llx",
			 (ull)pa, order, b->frames[head].order, (ull)index_pa(b, head));
		return report_misuse(b, BUDDY_E_NOT_HEAD, pa, order, line);
	}
	ALLOC_ASSERT(f->state == BUDDY_ALLOC_HEAD && "buddy_free: bad frame state");
	if (f->order != order) {
		snprintf(line, sizeof line, "buddy: free of 0x%llx with order %u, but it was allocated with order %u",
			 (ull)pa, order, f->order);
		return report_misuse(b, BUDDY_E_WRONG_ORDER, pa, order, line);
	}

	unsigned not_tail = 0;
	for (uint64_t j = 1; j < ORDER_FRAMES(order); j++) {
		not_tail |= b->frames[i + j].state ^ BUDDY_ALLOC_TAIL;
		b->frames[i + j].state = BUDDY_FREE_TAIL;
	}
	ALLOC_ASSERT(not_tail == 0 && "buddy_free: allocated block with a foreign frame");
	b->free_frames += ORDER_FRAMES(order);
	free_block(b, i, order);
	return 0;
}

int buddy_frame_info(const struct buddy *b, uint64_t pa, unsigned *state, unsigned *order,
		     uint64_t *block_pa)
{
	uint64_t i, head;
	unsigned st = BUDDY_RESERVED, ord = 0;

	if (!pa_index(b, pa, &i))
		return BUDDY_E_OUTSIDE;
	head = i;
	if (b->frames[i].state != BUDDY_RESERVED) {
		bool found = find_head(b, i, &head);

		ALLOC_ASSERT(found && "buddy_frame_info: tail without a head");
		st = b->frames[head].state;
		ord = b->frames[head].order;
	}
	if (state)
		*state = st;
	if (order)
		*order = ord;
	if (block_pa)
		*block_pa = index_pa(b, head);
	return 0;
}

void buddy_get_stats(const struct buddy *b, struct buddy_stats *st)
{
	st->total_frames = b->nframes;
	st->free_frames = b->free_frames;
	st->reserved_frames = b->reserved_frames;
	st->allocated_frames = b->nframes - b->free_frames - b->reserved_frames;
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++)
		st->free_blocks[o] = b->free_blocks[o];
}

#define CHECK_FAIL(...) do { snprintf(why, why_len, __VA_ARGS__); return -1; } while (0)

/* The free lists against the per-order counts the frame walk found. */
static int check_lists(const struct buddy *b, const uint64_t *blocks, char *why, size_t why_len)
{
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
		uint64_t count = 0;
		uint32_t prev = BUDDY_NONE;

		for (uint32_t x = b->free_head[o]; x != BUDDY_NONE; prev = x, x = b->frames[x].next) {
			const struct buddy_frame *f;

			if (x >= b->nframes)
				CHECK_FAIL("buddy: order %u list links to frame index 0x%x, outside the span", o, x);
			f = &b->frames[x];
			if (f->state != BUDDY_FREE_HEAD || f->order != o)
				CHECK_FAIL("buddy: order %u list holds 0x%llx, which is not a free order-%u head",
					   o, (ull)index_pa(b, x), o);
			if (f->prev != prev)
				CHECK_FAIL("buddy: order %u list: 0x%llx has a wrong back link", o,
					   (ull)index_pa(b, x));
			if (++count > blocks[o])
				CHECK_FAIL("buddy: order %u list is longer than the %u free blocks (a cycle?)", o,
					   (unsigned)blocks[o]);
		}
		if (count != blocks[o] || count != b->free_blocks[o])
			CHECK_FAIL("buddy: order %u: list holds %u blocks, frames say %u, counter says %u", o,
				   (unsigned)count, (unsigned)blocks[o], (unsigned)b->free_blocks[o]);
	}
	return 0;
}

int buddy_check(const struct buddy *b, char *why, size_t why_len)
{
	uint64_t blocks[BUDDY_NORDERS] = { 0 }, nfree = 0, nres = 0;
	char dummy[1];

	if (!why) {
		why = dummy;
		why_len = sizeof dummy;
	}
	for (uint64_t i = 0; i < b->nframes;) {
		const struct buddy_frame *f = &b->frames[i];
		uint64_t pfn = b->base_pfn + i, pa = index_pa(b, i);
		unsigned o = f->order, tail;

		if (f->state == BUDDY_RESERVED) {
			nres++;
			i++;
			continue;
		}
		if (!frame_is_head(f))
			CHECK_FAIL("buddy: frame 0x%llx has state %u but no head before it", (ull)pa, f->state);
		if (o > BUDDY_MAX_ORDER)
			CHECK_FAIL("buddy: block at 0x%llx has order %u", (ull)pa, o);
		if (pfn & (ORDER_FRAMES(o) - 1))
			CHECK_FAIL("buddy: order-%u block at 0x%llx is misaligned", o, (ull)pa);
		if (ORDER_FRAMES(o) > b->nframes - i)
			CHECK_FAIL("buddy: order-%u block at 0x%llx runs past the span", o, (ull)pa);
		tail = f->state == BUDDY_FREE_HEAD ? BUDDY_FREE_TAIL : BUDDY_ALLOC_TAIL;
		for (uint64_t j = 1; j < ORDER_FRAMES(o); j++)
			if (b->frames[i + j].state != tail)
				CHECK_FAIL("buddy: frame 0x%llx of the order-%u block at 0x%llx has state %u, not %u",
					   (ull)index_pa(b, i + j), o, (ull)pa, b->frames[i + j].state, tail);
		if (f->state == BUDDY_FREE_HEAD) {
			uint64_t buddy_pfn = pfn ^ ORDER_FRAMES(o);

			blocks[o]++;
			nfree += ORDER_FRAMES(o);
			if (o < BUDDY_MAX_ORDER && buddy_pfn >= b->base_pfn &&
			    buddy_pfn - b->base_pfn < b->nframes &&
			    b->frames[buddy_pfn - b->base_pfn].state == BUDDY_FREE_HEAD &&
			    b->frames[buddy_pfn - b->base_pfn].order == o)
				CHECK_FAIL("buddy: free order-%u buddies 0x%llx and 0x%llx should have merged", o,
					   (ull)pa, (ull)(buddy_pfn << BUDDY_PAGE_SHIFT));
		}
		i += ORDER_FRAMES(o);
	}
	if (nfree != b->free_frames || nres != b->reserved_frames)
		CHECK_FAIL("buddy: frames say %u free and %u reserved, counters say %u and %u",
			   (unsigned)nfree, (unsigned)nres, (unsigned)b->free_frames,
			   (unsigned)b->reserved_frames);
	return check_lists(b, blocks, why, why_len);
}

void buddy_dump(const struct buddy *b, void (*emit)(void *ctx, const char *line), void *ctx)
{
	struct buddy_stats st;
	char line[160];

	buddy_get_stats(b, &st);
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
		unsigned kib = 4u << o;

		snprintf(line, sizeof line, "order %2u (%4u %s): %7u free blocks", o,
			 kib >= 1024 ? kib / 1024 : kib, kib >= 1024 ? "MiB" : "KiB",
			 (unsigned)st.free_blocks[o]);
		emit(ctx, line);
	}
	snprintf(line, sizeof line,
		 "frames at 0x%llx..0x%llx: %u total, %u free (%u MiB), %u allocated, %u reserved",
		 (ull)index_pa(b, 0), (ull)index_pa(b, b->nframes), (unsigned)st.total_frames,
		 (unsigned)st.free_frames, (unsigned)(st.free_frames >> (20 - BUDDY_PAGE_SHIFT)),
		 (unsigned)st.allocated_frames, (unsigned)st.reserved_frames);
	emit(ctx, line);
}
