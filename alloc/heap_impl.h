/*
 * alloc/heap_impl.h - private to alloc/heap*.c: the one place that knows how
 * a block header word is packed (see the drawing in heap.h) and how a size
 * maps to a TLSF list. Everything else reads headers through these helpers.
 * Also the few internals the heap's files share (heap.c the TLSF core and
 * the hot pair, heap_brk.c growing and trimming the break, heap_large.c
 * the large blocks, heap_slab.c the slabs, heap_cache.c the front cache's
 * slow half, heap_api.c the entry points, heap_debug.c the debug levels,
 * heap_check.c the checker and walkers), each named heap_core_*,
 * heap_brk_*, heap_slab_*, heap_cache_* or heap_dbg_*.
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
_Static_assert(HEAP_MAX_BRK - 16 <= HEAP_BLK_SIZE_MASK && (HEAP_BLK_SIZE_MASK >> HEAP_BLK_TAG_SHIFT) == 0,
	       "every block size (below HEAP_MAX_BRK) must fit the size field, below the tag");

/*
 * Heap memory is read as words through this type: the same bytes are user
 * data one moment and a header or link the next, so they must not be subject
 * to type-based alias analysis.
 */
typedef uint64_t __attribute__((may_alias)) heap_word_t;

/* A block is named by the address of its header word. */
typedef uintptr_t blk_t;

#define HDR_LOW ((1ull << HEAP_BLK_TAG_SHIFT) - 1)   /* size and flags: all but the tag */

static inline uint64_t word_at(uintptr_t a) { return *(const heap_word_t *)a; }
static inline void set_word_at(uintptr_t a, uint64_t v) { *(heap_word_t *)a = v; }

/*
 * The check tag for a header at address b holding size|flags = low (heap.h
 * draws it): the top 24 bits of tag_mix's product. The word's low 40 bits
 * are shifted up 24, so a whole header word can be passed in (its old tag
 * drops out) and checked as it is read.
 */
static inline uint64_t tag_mix(const struct heap *h, uintptr_t b, uint64_t low)
{
	return ((low << (64 - HEAP_BLK_TAG_SHIFT)) ^ b ^ h->secret) * HEAP_TAG_MULT;
}

static inline uint64_t tag_for(const struct heap *h, uintptr_t b, uint64_t low)
{
	return tag_mix(h, b, low) >> HEAP_BLK_TAG_SHIFT;
}

static inline uint64_t make_word(const struct heap *h, uintptr_t b, size_t size, uint64_t flags)
{
	uint64_t low = (uint64_t)size | flags;
	return low | tag_for(h, b, low) << HEAP_BLK_TAG_SHIFT;
}

static inline bool word_tag_ok(const struct heap *h, uintptr_t b, uint64_t w)
{
	return ((tag_mix(h, b, w) ^ w) >> HEAP_BLK_TAG_SHIFT) == 0;
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

/* Every change of the break goes through here (the epilogue keeps brk 16-aligned). */
static inline void heap_set_brk(struct heap *h, uintptr_t brk)
{
	h->brk = brk;
	h->brk_slots = (brk - h->base - 16) / 16;
}

/*
 * Whether b is where a header can be, with its first payload word, below
 * the break: 8 mod 16, first block <= b, b + 16 <= brk. One compare for the
 * hot paths: rotating b - first right by 4 moves a misalignment into the
 * top bits, so only an aligned b inside the range is below brk_slots.
 */
static inline bool blk_slot_ok(const struct heap *h, blk_t b)
{
	uintptr_t off = b - heap_first_blk(h);
	return ((off >> 4) | (off << 60)) < h->brk_slots;
}

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

/* A large block's payload bytes: from the end of its header to the end of its run. */
static inline size_t large_usable(const struct heap_large *l)
{
	return l->run + l->run_bytes - (uintptr_t)(l + 1);
}

/* Whether large block l's header lies in its run (page-aligned, whole pages) with its payload after it. */
static inline bool large_fits_run(const struct heap *h, const struct heap_large *l)
{
	uintptr_t p = (uintptr_t)(l + 1);
	size_t page = h->env.page_size;

	return !((p & (HEAP_ALIGN - 1)) || (l->run & (page - 1)) || l->run_bytes % page || (uintptr_t)l < l->run ||
		 p >= l->run + l->run_bytes);
}

/*
 * Whether large block l's header is whole: it fits its run, and its word
 * carries its tag, the LARGE flag and the usable size its run gives. An
 * underflow from the payload reaches the word before the run fields and
 * the list links, so a header that passes has links the heap wrote.
 */
static inline bool large_header_ok(const struct heap *h, const struct heap_large *l)
{
	return large_fits_run(h, l) && word_tag_ok(h, (uintptr_t)&l->word, l->word) && word_is_large(l->word) &&
	       word_size(l->word) == l->run + l->run_bytes - (uintptr_t)(l + 1);
}

/* Whole block bytes for a request of n bytes; n <= PTRDIFF_MAX + 64, so no wrap. */
static inline size_t block_size_for(size_t n)
{
	size_t s = (n + HEAP_OVERHEAD + HEAP_ALIGN - 1) & ~(size_t)(HEAP_ALIGN - 1);
	return s < HEAP_MIN_BLOCK ? HEAP_MIN_BLOCK : s;
}

/*
 * Whether a used block of `size` whole bytes counts in small_blocks: the
 * blocks a slab object would replace (requests of up to HEAP_SLAB_MAX
 * bytes), which heap.slabs=auto counts (see "slabs" in heap.h).
 */
static inline size_t small_block(size_t size) { return size <= HEAP_SMALL_BLOCK; }

/* Counts blocks taken into use and keeps peak_in_use (blocks of the break, and large runs). */
static inline void note_used(struct heap *h, size_t bytes, size_t blocks)
{
	h->in_use_bytes += bytes;
	h->used_blocks += blocks;
	size_t now = h->in_use_bytes + h->large_bytes;
	if (now > h->peak_in_use)
		h->peak_in_use = now;
}

/* ----- the break's top (heap_brk.c grows and trims it) ----- */

/* The free block just below the break, or 0 if the last block is used. */
static inline blk_t top_free_block(const struct heap *h)
{
	blk_t e = heap_epilogue(h);
	return blk_prev_is_free(e) ? blk_prev_phys(e) : 0;
}

/*
 * Trim hysteresis and retention: the top free block is given back only
 * once it is bigger than trim_threshold and trim_keep, and trim_keep stays
 * mapped: a quarter of the bytes in use, so that small swings do not hand
 * pages back and fault them in again, plus retain, what this heap had to
 * map again after giving it back (see "trim" in heap.h and heap_brk_grow).
 */
static inline size_t trim_keep(const struct heap *h)
{
	return h->in_use_bytes / 4 + h->retain;
}

static inline size_t trim_limit(const struct heap *h)
{
	size_t k = trim_keep(h);
	return k > h->env.trim_threshold ? k : h->env.trim_threshold;
}


/* ----- level 0's front cache (heap_cache.c, the hot pair in heap.c) ----- */

_Static_assert(HEAP_CACHE_MAX_BLOCK % HEAP_ALIGN == 0 && HEAP_CACHE_MAX_BLOCK >= HEAP_MIN_BLOCK,
	       "cache classes are 16-byte steps from the minimum block");

/* The class of a block of size whole bytes (HEAP_MIN_BLOCK .. HEAP_CACHE_MAX_BLOCK). */
static inline unsigned cache_class(size_t size) { return (unsigned)(size / HEAP_ALIGN) - 2; }
static inline size_t cache_class_size(unsigned c) { return ((size_t)c + 2) * HEAP_ALIGN; }
/* How many blocks class c may hold: HEAP_CACHE_CLASS_BYTES of them, 1 .. HEAP_CACHE_DEPTH. */
static inline uint32_t cache_limit_for(unsigned c)
{
	size_t d = HEAP_CACHE_CLASS_BYTES / cache_class_size(c);
	return d < 1 ? 1 : d > HEAP_CACHE_DEPTH ? HEAP_CACHE_DEPTH : (uint32_t)d;
}
/* The next block on a LIFO: the cached block's first payload word. */
static inline blk_t cache_next(blk_t b) { return (blk_t)word_at(b + 8); }
/*
 * The mark of a block cached in class c, its second payload word: the
 * heap's cache_key with the class mixed in, so that a block is known to
 * be cached in its own class by the mark alone (the pop reads no header).
 */
static inline uint64_t cache_mark(const struct heap *h, unsigned c) { return h->cache_key ^ c; }
/* Whether used block b carries the mark of class c (not proof: see heap_cache_is_cached). */
static inline bool cache_marked_c(const struct heap *h, blk_t b, unsigned c)
{
	return word_at(b + 16) == cache_mark(h, c);
}
/* The same, for a block whose class its header gives (a size the cache holds, or not marked). */
static inline bool cache_marked(const struct heap *h, blk_t b)
{
	size_t size = blk_size(b);
	return size >= HEAP_MIN_BLOCK && size <= HEAP_CACHE_MAX_BLOCK && cache_marked_c(h, b, cache_class(size));
}

/* ----- debug levels: poison and canaries ----- */

#define POISON64 (0x0101010101010101ull * HEAP_POISON_BYTE)
#define CANARY64 (0x0101010101010101ull * HEAP_CANARY_BYTE)

_Static_assert(sizeof(struct heap_dbg) == HEAP_DBG_HEAD && HEAP_DBG_HEAD % HEAP_ALIGN == 0,
	       "the debug record must keep the user pointer 16-aligned");
_Static_assert(HEAP_DBG_TAIL_MIN >= 8, "an overflow by 8 bytes must stay inside the block");

static inline void poison_range(uintptr_t lo, uintptr_t hi)
{
	if (hi > lo)
		memset((void *)lo, HEAP_POISON_BYTE, hi - lo);
}

/* ----- telling a live pointer from anything else (heap.c) ----- */

enum ptr_kind { PTR_BAD, PTR_BLOCK, PTR_FREED, PTR_LARGE, PTR_SLAB, PTR_SLAB_FREED };

struct ptr_info {
	blk_t blk;                 /* PTR_BLOCK, PTR_FREED (a freed or quarantined block) */
	struct heap_large *large;  /* PTR_LARGE */
	struct heap_slab *slab;    /* PTR_SLAB, PTR_SLAB_FREED: the run */
	unsigned idx;              /* and the object's index in it */
	const char *why;           /* PTR_BAD */
};

/* ----- level 0's slabs (heap_slab.c, the hot pair in heap_slab.h) ----- */

_Static_assert(sizeof(struct heap_slab) == HEAP_SLAB_HDR, "objects start right after the run's head");
_Static_assert(HEAP_SLAB_RUN == 1 << HEAP_SLAB_RUN_SHIFT && HEAP_SLAB_MAX == HEAP_SLAB_CLASSES * 16,
	       "classes are 16-byte steps up to HEAP_SLAB_MAX");
_Static_assert((HEAP_SLAB_RUN - HEAP_OVERHEAD - HEAP_SLAB_HDR) / 16 <= 4 * 64 &&
		       (HEAP_SLAB_RUN - HEAP_OVERHEAD - HEAP_SLAB_HDR) / 16 < 256,
	       "free_bits holds every object of the smallest class, and an index fits 8 bits of units");

/*
 * Runs start HEAP_SLAB_OFF bytes past a 4 KiB boundary: where the first
 * payload of a fresh break is, so the first run needs no gap before it.
 * A run's "page" is [start - 16, start - 16 + 4 KiB).
 */
#define HEAP_SLAB_OFF 16
/* Whether the run page holding p is a slab run (p inside the break, so reading the map is safe). */
static inline bool slab_page(const struct heap *h, uintptr_t p)
{
	size_t pg = ((p - HEAP_SLAB_OFF) >> HEAP_SLAB_RUN_SHIFT) - h->slab_pg0;
	return pg < HEAP_SLAB_MAP_WORDS * 64 && ((h->slab_map[pg / 64] >> (pg % 64)) & 1);
}

static inline struct heap_slab *slab_of(uintptr_t p)
{
	return (struct heap_slab *)(((p - HEAP_SLAB_OFF) & ~(uintptr_t)(HEAP_SLAB_RUN - 1)) + HEAP_SLAB_OFF);
}
static inline bool slab_start_ok(uintptr_t r) { return ((r - HEAP_SLAB_OFF) & (HEAP_SLAB_RUN - 1)) == 0; }
static inline uint64_t slab_check_word(const struct heap *h, const struct heap_slab *s)
{
	return (uintptr_t)s ^ h->secret ^ HEAP_SLAB_SALT;
}
/* Objects of class k (size (k + 1) * 16) a run holds: all of its block's payload after the head. */
#define slab_cap_c(k) ((HEAP_SLAB_RUN - HEAP_OVERHEAD - HEAP_SLAB_HDR) / (((k) + 1) * 16))
static inline unsigned slab_cap(unsigned k) { return slab_cap_c(k); }
static inline uintptr_t slab_obj(const struct heap_slab *s, unsigned i)
{
	return (uintptr_t)s + HEAP_SLAB_HDR + (uintptr_t)i * s->size;
}

/*
 * heap_slab.c. Alloc: an object for an n-byte request (n < slab_lim) from a
 * new run, when class k has no run with a free object; or, when no run can
 * be had (memory, the window), an ordinary block. Free: what the inlined
 * free leaves (run s just became partial or empty, or anything odd:
 * classified again and reported).
 */
void *heap_slab_refill(struct heap *h, unsigned k, size_t n);
/* Turns slabs on (level 0): heap_init with HEAP_SLABS_ON, take() in heap.c with HEAP_SLABS_AUTO. */
void heap_slab_enable(struct heap *h);
void heap_slab_free_slow(struct heap *h, uintptr_t p);
void heap_slab_edge(struct heap *h, struct heap_slab *s);
/* classify's answer for p (16-aligned, on a run page): PTR_SLAB, PTR_SLAB_FREED or PTR_BAD. */
enum ptr_kind heap_slab_classify(const struct heap *h, uintptr_t p, struct ptr_info *pi);
/* Frees object pi->idx of pi->slab, classified PTR_SLAB. */
void heap_slab_free_obj(struct heap *h, struct heap_slab *s, unsigned idx);
/* Gives every empty run back (merged, never trimmed); how many. */
size_t heap_slab_release_empty(struct heap *h);
/* Only the empty runs kept as their class's one run with room (heap_slab_edge): O(classes), for the hot-ish paths. */
size_t heap_slab_release_kept(struct heap *h);
/* Whether run s is such a kept empty run (its head not checked: the callers know s is a run). */
static inline bool slab_run_kept_empty(const struct heap *h, const struct heap_slab *s)
{
	return s->live == 0 && !s->next && h->slab_partial[s->cls & 3] == s;
}
/* For reports: "(interior pointer into slab object 0x... size 48)" and the like, for p on a run page. */
void heap_slab_describe(const struct heap *h, uintptr_t p, char *buf, size_t len);
/* What heap_check's walk of the break found of the slabs. */
struct slab_tally {
	size_t runs;                          /* runs */
	size_t partial[HEAP_SLAB_CLASSES];    /* runs with a free object, per class */
	size_t live[HEAP_SLAB_CLASSES];       /* live objects, per class */
};
/* For heap_check: used block b is a run; checks it and counts it in t. 0, or -1 with the finding in why. */
int heap_slab_check_run(const struct heap *h, blk_t b, struct slab_tally *t, char *why, size_t len);
/* For heap_check: the lists, the map and the counters against what the walk found. */
int heap_slab_check_lists(const struct heap *h, const struct slab_tally *t, char *why, size_t len);
/* Whether object i of run s is free. */
static inline bool slab_obj_free(const struct heap_slab *s, unsigned i)
{
	return (s->free_bits[i / 64] >> (i % 64)) & 1;
}
/* Whether used block b is a slab run (its payload page has its map bit). */
static inline bool blk_is_slab(const struct heap *h, blk_t b)
{
	uintptr_t r = blk_payload(b);
	return slab_start_ok(r) && slab_page(h, r);
}

/*
 * The internals the files of the heap share; every other name is static.
 * heap.c: the TLSF core, which knows nothing of debug records but keeps free
 * memory poisoned at levels >= 1.
 */
/* Level 0: a block for an n-byte request from the break, or now and then a sampled page (heap.h "sample"). */
void *heap_core_carve0(struct heap *h, size_t n);
/* A used block of size whole bytes whose payload + off is aligned; NULL when out of memory. */
void *heap_core_alloc(struct heap *h, size_t size, size_t align, size_t off);
/* Level 0, align > 16: the same from a free block that ends below limit, looking at 64 at most; or NULL. */
void *heap_core_alloc_below(struct heap *h, size_t size, size_t align, size_t off, uintptr_t limit);
/* Frees used block b: merges, lists, maybe trims. At levels >= 1 b's body is already poison. */
void heap_core_free(struct heap *h, blk_t b);
/* Frees used block b: merges and lists it, never trims. */
void heap_core_release(struct heap *h, blk_t b);
/* Trims if the free block at the top is past the limit (as a free would); bytes given back. heap_brk.c. */
size_t heap_core_maybe_trim(struct heap *h);
/*
 * heap_brk.c: grows the break so that the free block at its top gains at
 * least need bytes; false with nothing changed when sbrk refuses or the
 * region would pass HEAP_MAX_BRK.
 */
bool heap_brk_grow(struct heap *h, size_t need);
/* heap.c's free lists, for heap_brk.c: link free block b in, or out. */
void heap_core_list_insert(struct heap *h, blk_t b);
void heap_core_list_remove(struct heap *h, blk_t b);
/* Cuts used block b to size whole bytes; poison_tail: poison the part given back first. */
void heap_core_shrink(struct heap *h, blk_t b, size_t size, bool poison_tail);
/* Grows used block b to size whole bytes in place; false (nothing changed) if it cannot. */
bool heap_core_grow(struct heap *h, blk_t b, size_t size);
/*
 * heap_large.c: large blocks. A sampled allocation (heap.h "sample"): a
 * one-page run whose block ends where the page ends; NULL (nothing changed)
 * if size does not fit beside the header or no page could be mapped.
 */
void *heap_core_sampled_alloc(struct heap *h, size_t size);
/* A large run with size bytes after its header, payload + off aligned to align; or NULL. */
void *heap_core_large_alloc(struct heap *h, size_t size, size_t align, size_t off);
void heap_core_large_free(struct heap *h, struct heap_large *l);
/*
 * Large block l resized to hold size bytes by env.remap_pages (contents
 * kept, header moved with its run); its new payload, or NULL with l as it was.
 */
void *heap_core_large_remap(struct heap *h, struct heap_large *l, size_t size);
/* heap_brk.c, for heap_trim: every page above the top free block's header back, retention forgotten. */
size_t heap_core_trim(struct heap *h);
/* Lays out the initial break as one free block. */
void heap_core_setup(struct heap *h);
/* What the core payload address p is (see heap.c); reads only inside the break. */
enum ptr_kind heap_core_classify(const struct heap *h, uintptr_t p, struct ptr_info *pi);

/*
 * heap_cache.c: level 0's front cache. Flush hands every cached block back
 * to the TLSF lists (merged, never trimmed) and returns how many; check
 * verifies the LIFOs for heap_check (0, or -1 with the finding in why).
 */
size_t heap_cache_flush(struct heap *h);
int heap_cache_check(const struct heap *h, char *why, size_t len);
/* The blocks on all LIFOs and their whole bytes, by the counts (slow: a loop over the classes). */
size_t heap_cache_blocks(const struct heap *h);
size_t heap_cache_bytes(const struct heap *h);
/*
 * Whether block b is on its class's LIFO (walks at most HEAP_CACHE_DEPTH
 * entries), or the LIFO is damaged before b could be ruled out.
 */
bool heap_cache_holds(const struct heap *h, blk_t b);
/*
 * Whether used brk block b (tagged header w, size fits the break) waits in
 * the front cache: level 0, a cache size, cache_key in its second payload
 * word and on its LIFO. The key alone could be user bytes.
 */
bool heap_cache_is_cached(const struct heap *h, blk_t b, uint64_t w);

/* heap_api.c: reporting misuse. */
void heap_core_report(struct heap *h, int kind, uintptr_t addr, const char *line);
/*
 * Reports p, a pointer the classifier rejected (cp: its core payload), as
 * "heap: <verb> of 0x... (interior pointer into 0x... size 64)" or "(not a
 * block the heap returned: <why>)" plus the environment's hint, with kind;
 * or, when what was overwritten is p's own block header, as
 * "heap: underflow into the header of 0x...: ..." (HEAP_ERR_UNDERFLOW).
 */
void heap_core_report_bad(struct heap *h, const char *verb, int kind, uintptr_t p, uintptr_t cp,
			  const struct ptr_info *pi);
/* Writes "foo+0x1c" (or "?" for 0) into buf. */
void heap_core_pc(uintptr_t pc, char *buf, size_t len);

/* heap_debug.c: levels >= 1. */
void *heap_dbg_alloc(struct heap *h, size_t n, size_t align, uintptr_t caller);
void heap_dbg_free(struct heap *h, uintptr_t p, uintptr_t caller);
void *heap_dbg_realloc(struct heap *h, uintptr_t p, size_t n, uintptr_t caller);
size_t heap_dbg_usable(struct heap *h, uintptr_t p, uintptr_t caller);
size_t heap_dbg_flush(struct heap *h);
/*
 * Reports a write after free if [lo, hi) of the free block at from is not
 * all poison (lo past that block's header and links).
 */
void heap_dbg_verify_free(struct heap *h, blk_t from, uintptr_t lo, uintptr_t hi);
/*
 * A header is about to be written at x, the end of free memory that runs
 * from lo (past its header and links; x - 8 is its foot): re-poisons what
 * is left below x of a freed block's record that the write cuts off.
 */
void heap_dbg_heal_cut(const struct heap *h, uintptr_t lo, uintptr_t x);
/*
 * For heap_check: checks the canaries of the live debug block whose core
 * payload is cp and whose room ends at end; or, with freed set, the poison
 * of a quarantined one. 0, or -1 with the finding in why ("heap_check: ...").
 */
int heap_dbg_check_block(const struct heap *h, uintptr_t cp, uintptr_t end, bool freed, char *why,
			 size_t len);
/* For heap_check: the poison of free block b. 0, or -1 with the finding in why. */
int heap_dbg_check_free(const struct heap *h, blk_t b, char *why, size_t len);

/* For the checkers (heap_check.c, heap_cache.c): return -1 with the reason in why. */
#define UL(x) ((unsigned long)(x))
#define CHECK_FAIL(...)                                     \
	do {                                                \
		if (why && len)                             \
			snprintf(why, len, __VA_ARGS__);    \
		return -1;                                  \
	} while (0)

#endif /* ALLOC_HEAP_IMPL_H */
