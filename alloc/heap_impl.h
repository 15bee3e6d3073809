/*
 * alloc/heap_impl.h - private to alloc/heap*.c: the one place that knows how
 * a block header word is packed (see the drawing in heap.h) and how a size
 * maps to a TLSF list. Everything else reads headers through these helpers.
 */
#ifndef ALLOC_HEAP_IMPL_H
#define ALLOC_HEAP_IMPL_H

#include "heap.h"

_Static_assert(sizeof(void *) == 8 && sizeof(size_t) == 8 && sizeof(uintptr_t) == 8,
	       "the header word packs size, flags and tag into 64 bits");
_Static_assert(sizeof(struct heap_free_block) + HEAP_OVERHEAD == HEAP_MIN_BLOCK,
	       "a minimum free block holds header, two links and the foot");
_Static_assert(sizeof(struct heap_large) % HEAP_ALIGN == 0,
	       "the large header must end 16-aligned when its run is");
_Static_assert(HEAP_FL_COUNT <= 32 && HEAP_SL_COUNT <= 32, "bitmaps are uint32_t");
_Static_assert(HEAP_MAX_BRK <= HEAP_BLK_SIZE_MASK, "every block size must fit the size field");

/*
 * Heap memory is read as words through this type: the same bytes are user
 * data one moment and a header or link the next, so they must not be subject
 * to type-based alias analysis.
 */
typedef uint64_t __attribute__((may_alias)) heap_word_t;

/* A block is named by the address of its header word. */
typedef uintptr_t blk_t;

#define LOW48 ((1ull << HEAP_BLK_TAG_SHIFT) - 1)

static inline uint64_t word_at(uintptr_t a) { return *(const heap_word_t *)a; }
static inline void set_word_at(uintptr_t a, uint64_t v) { *(heap_word_t *)a = v; }

/* The check tag for a header at address b holding size|flags = low. */
static inline uint64_t tag_for(const struct heap *h, uintptr_t b, uint64_t low)
{
	return ((low ^ b ^ h->secret) * HEAP_TAG_MULT) >> HEAP_BLK_TAG_SHIFT;
}

static inline uint64_t make_word(const struct heap *h, uintptr_t b, size_t size, uint64_t flags)
{
	uint64_t low = (uint64_t)size | flags;
	return low | tag_for(h, b, low) << HEAP_BLK_TAG_SHIFT;
}

static inline bool word_tag_ok(const struct heap *h, uintptr_t b, uint64_t w)
{
	return (w >> HEAP_BLK_TAG_SHIFT) == tag_for(h, b, w & LOW48);
}

static inline size_t word_size(uint64_t w) { return (size_t)(w & HEAP_BLK_SIZE_MASK); }
static inline bool word_is_free(uint64_t w) { return w & HEAP_BLK_FREE; }
static inline bool word_prev_is_free(uint64_t w) { return w & HEAP_BLK_PREV_FREE; }
static inline bool word_is_large(uint64_t w) { return w & HEAP_BLK_LARGE; }

static inline size_t blk_size(blk_t b) { return word_size(word_at(b)); }
static inline bool blk_is_free(blk_t b) { return word_is_free(word_at(b)); }
static inline bool blk_prev_is_free(blk_t b) { return word_prev_is_free(word_at(b)); }
static inline blk_t blk_next(blk_t b) { return b + blk_size(b); }
static inline uintptr_t blk_payload(blk_t b) { return b + HEAP_OVERHEAD; }
static inline blk_t blk_from_payload(uintptr_t p) { return p - HEAP_OVERHEAD; }

static inline void blk_write(const struct heap *h, blk_t b, size_t size, uint64_t flags)
{
	set_word_at(b, make_word(h, b, size, flags));
}

static inline void blk_set_prev_free(const struct heap *h, blk_t b, bool prev_free)
{
	uint64_t w = word_at(b);
	uint64_t flags = (w & (HEAP_BLK_FREE | HEAP_BLK_LARGE | HEAP_BLK_SPARE)) |
			 (prev_free ? HEAP_BLK_PREV_FREE : 0);
	blk_write(h, b, word_size(w), flags);
}

/* The foot: a free block's last word names its header. */
static inline uintptr_t blk_foot_addr(blk_t b) { return b + blk_size(b) - 8; }
static inline void blk_set_foot(blk_t b) { set_word_at(blk_foot_addr(b), b); }
/* Only meaningful when blk_prev_is_free(b). */
static inline blk_t blk_prev_phys(blk_t b) { return (blk_t)word_at(b - 8); }

/* Free-list links, in the payload of a free block. */
static inline blk_t blk_next_free(blk_t b) { return (blk_t)word_at(b + 8); }
static inline blk_t blk_prev_free(blk_t b) { return (blk_t)word_at(b + 16); }
static inline void blk_set_next_free(blk_t b, blk_t n) { set_word_at(b + 8, n); }
static inline void blk_set_prev_free_link(blk_t b, blk_t p) { set_word_at(b + 16, p); }

static inline blk_t heap_first_blk(const struct heap *h) { return h->base + 8; }
static inline blk_t heap_epilogue(const struct heap *h) { return h->brk - 8; }

static inline blk_t list_head(const struct heap *h, unsigned fl, unsigned sl)
{
	return (blk_t)h->free_lists[fl][sl];
}

static inline unsigned fls_size(size_t x) { return 63u - (unsigned)__builtin_clzll(x); }

/*
 * The list a free block of this size lives on. Below 1 << HEAP_FL_SHIFT one
 * list per 16 bytes (exact fit); above, class fl holds [2^(fl+8), 2^(fl+9))
 * cut into HEAP_SL_COUNT equal slices. size must be < HEAP_MAX_BRK.
 */
static inline void size_to_list(size_t size, unsigned *fl, unsigned *sl)
{
	if (size < ((size_t)1 << HEAP_FL_SHIFT)) {
		*fl = 0;
		*sl = (unsigned)(size / (((size_t)1 << HEAP_FL_SHIFT) / HEAP_SL_COUNT));
	} else {
		unsigned f = fls_size(size);
		*sl = (unsigned)(size >> (f - HEAP_SL_LOG2)) ^ (1u << HEAP_SL_LOG2);
		*fl = f - (HEAP_FL_SHIFT - 1);
	}
}

#endif /* ALLOC_HEAP_IMPL_H */
