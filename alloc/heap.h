/*
 * alloc/heap.h - the kmalloc core: a two-level segregated fit (TLSF) heap
 * over one caller-supplied brk region, plus page-mapped runs for large
 * requests. The kernel wraps it as kmalloc/kfree/... over kbrk; the host tests
 * wrap it over an mmap'd reservation. It never calls anything but the
 * callbacks in struct heap_env and glue.h.
 *
 * Not thread safe: the caller serialises every call on one struct heap.
 * Every function but heap_init asserts that h went through heap_init.
 *
 * Numbers:
 *   alignment   every pointer returned is 16-byte aligned
 *   overhead    8 bytes per block (one header word)
 *   min block   32 bytes (24 usable): header, two links and a foot when free
 *   lists       32 first-level classes (powers of two) x 32 second-level
 *               slices; below 512 bytes one exact list per 16 bytes
 *   large       requests >= large_threshold (default 128 KiB) get their own
 *               run from map_pages
 *   growth      the break grows by at least grow_bytes (default 64 KiB), and
 *               starts at that size
 *   trim        when the free block at the top of the break exceeds
 *               max(trim_threshold (default 128 KiB), keep), the break
 *               shrinks to the first page boundary that leaves that block
 *               >= keep (and >= 32 bytes, or no block), where keep =
 *               in_use_bytes / 4 + retain. retain learns from the heap's
 *               own history: growth that maps again what automatic trims
 *               gave back adds those bytes to it, at most peak_in_use, so
 *               a heap that drains and refills stops paying page faults
 *               from its third round on, and a one-off burst teaches it
 *               nothing. heap_trim gives retained pages back (the kernel
 *               calls it when the pmm runs short): it gives back
 *               everything above the top block's header and zeroes
 *               retain
 *   sample      with env.sample_every = N (level 0, map_pages set): one
 *               allocation in N of those the front cache does not serve,
 *               of at most page_size - 64 bytes, is a large block of one
 *               page laid out so that the block ends where the page ends
 *               (the idea of Linux's KFENCE). An overflow past its 16-byte
 *               rounding then runs into the unmapped page after it, and,
 *               as the environment never maps that address again (the
 *               kernel's klarge does not), any use after free faults too.
 *               usable_size is the size rounded up to 16 bytes.
 *   slabs       level 0, on from heap_init with env.slabs =
 *               HEAP_SLABS_ON, never with HEAP_SLABS_OFF, and with
 *               HEAP_SLABS_AUTO (the default) from the carve that makes
 *               env.slab_after (16,384) small blocks in use: blocks of
 *               up to HEAP_SMALL_BLOCK (80) bytes, cached ones included,
 *               counted in small_blocks where blocks are carved, merged,
 *               split and grown; a heap that never gets there pays an
 *               add on its carve and merge paths and a compare on its
 *               carve path (the trade is in docs/performance.md).
 *               Blocks made before the switch stay blocks. With slabs
 *               on, requests of up to
 *               HEAP_SLAB_MAX (64) bytes are objects without a header, in
 *               runs of one class each (16, 32, 48 or 64 bytes). A run is
 *               an ordinary used block of HEAP_SLAB_RUN (4 KiB) bytes
 *               whose payload starts 16 bytes past a 4 KiB boundary
 *               (HEAP_SLAB_OFF, heap_impl.h); struct heap_slab opens it
 *               (a bitmap of its free objects, its list links) and the
 *               objects follow. heap.slab_map has one bit per 4 KiB page
 *               of the first HEAP_SLAB_WINDOW (256 MiB) of the break, set
 *               for every page that is a run, so a free tells an object
 *               from a block by one bit, never by reading bytes a caller
 *               owns; the free bit of every object makes every double
 *               free of one exact. Runs with a free object wait on a list
 *               per class; a free that empties a run gives it back to the
 *               break unless it is its class's only such run (so a
 *               malloc/free pair does not map and drop a run each time);
 *               heap_get_stats, heap_trim and heap_flush_quarantine give
 *               back every empty run, and so does an allocation before
 *               the break grows or it fails, and a free that leaves only
 *               empty runs and cached blocks between a trimmable free
 *               block and the top. A run that the good fit would
 *               place past the window is looked for again among free
 *               blocks below it (64 at most); when none will do, or no
 *               run can be had at all, small requests are ordinary blocks
 *               (and the next 64 refills do not look again, unless a
 *               free leaves a free block big enough for a run).
 *               usable_size is the class size (malloc(0): 16). Why: an
 *               8-byte header and 16-byte rounding cost a 16..64-byte
 *               request 8 to 24 bytes; a run costs 64 bytes per 4 KiB
 *               (docs/performance.md, frag).
 *   cache       level 0 only: freed blocks of up to HEAP_CACHE_MAX_BLOCK bytes
 *               (whole, header included) wait on a LIFO per 16-byte class,
 *               at most HEAP_CACHE_DEPTH and HEAP_CACHE_CLASS_BYTES (but
 *               one block) per class, HEAP_CACHE_BYTES (52 KiB) in all; a
 *               per-class bound keeps every counter of a push or pop
 *               private to its class, and a malloc of that class
 *               takes one back without touching the TLSF lists. A cached
 *               block keeps its place in the chain and its header, which
 *               says used (so nothing merges with it); its first payload
 *               word links to the next on its LIFO, its second holds
 *               cache_key, a per-heap random word. A free that finds the
 *               key in a block on its LIFO is a double free. (Headers are
 *               not written on push or pop: a free right after a malloc
 *               would wait for that store to read its header back.) It is
 *               neither merged nor listed until the cache is flushed: before
 *               the break grows, when an allocation would fail, before any
 *               trim (also when only cached blocks and empty runs stand
 *               between a free block big enough to trim and the top: a
 *               cached block never pins the break), by heap_trim and by
 *               heap_flush_quarantine; the
 *               flush checks each block's neighbours as a free would (a
 *               cached free reads only the next header's flags) and
 *               reports, rather than merges, a block beside a damaged
 *               header. Counters:
 *               in struct heap a cached block is still in used_blocks and
 *               in_use_bytes (as the TLSF core sees it: carved, not free),
 *               and also in cache_count, so pushing and popping
 *               touch nothing else; peak_in_use, updated when blocks are
 *               carved, counts cached blocks as in use. heap_get_stats
 *               flushes the cache first (merging, never trimming), so every
 *               number it gives is that of the merged heap (in_use and
 *               used_blocks without the freed blocks, free_blocks,
 *               free_bytes, largest_free as without a cache).
 *               heap_walk gives cached blocks as HEAP_WALK_FREE, heap_leaks
 *               skips them, heap_check verifies them.
 *
 * The brk region. Every header sits at 8 mod 16 so every payload is
 * 16-aligned; a block's size counts its header and runs to the next header:
 *
 *   base (page aligned)                                                      brk
 *   +-----+-----+-------------+-----+------+------+-----+------+-----+--------+-----+
 *   | pad | hdr | payload ... | hdr | next | prev | ... | foot | hdr | payl...| epi |
 *   +-----+-----+-------------+-----+------+------+-----+------+-----+--------+-----+
 *      8  |<-- used block --->|<------------ free block ------>|<-- used ---->|  8
 *
 *   pad   the region's first 8 bytes, unused: they put the first header at 8 mod 16
 *   hdr   the header word, below
 *   next, prev   free-list links; exist only while the block is free
 *   foot  a free block's last word: its header's address, so the block after
 *         it can find it to merge. While the block is used that word is payload;
 *         the next header's PREV_FREE bit says which.
 *   epi   epilogue: a used header of size 0 at brk - 8 that carries the last
 *         block's PREV_FREE bit
 *
 * The header word:
 *
 *   63        40 39                                  4   3     2       1       0
 *   +-----------+-------------------------------------+-------+-------+-------+------+
 *   | check tag |  size in bytes (low 4 bits are 0)   | SPARE | LARGE | PREV_ | FREE |
 *   |           |                                     |       |       | FREE  |      |
 *   +-----------+-------------------------------------+-------+-------+-------+------+
 *   size = word & HEAP_BLK_SIZE_MASK (sizes stay below HEAP_MAX_BRK, 1 TiB)
 *   tag  = ((word << 24) ^ header address ^ heap.secret)
 *          * 0x9e3779b97f4a7c15 >> 40              (mod 2^64)
 *   Every header the heap writes carries its 24-bit tag, so heap_free can
 *   tell one from user bytes at p - 8 (a 1 in 16,777,216 chance of a false
 *   match). The shift keeps the low 40 bits (size and flags) and drops the
 *   old tag, so a whole header word can be checked as it is read. Headers
 *   left inside bigger blocks by merging are always marked FREE, so a stale
 *   one reads as a double free, never as a live block.
 *
 * A large block is one mapped run with struct heap_large ending right at the
 * payload, so its header word also sits at p - 8 (LARGE set, usable size):
 *
 *   run (page aligned)                                               run + run_bytes
 *   +---------+------+------+-----+-----------+-------+------+--------------------+
 *   | (slack) | next | prev | run | run_bytes | spare | word | payload ...        |
 *   +---------+------+------+-----+-----------+-------+------+--------------------+
 *             |<------- struct heap_large, 48 bytes -------->^ p (16 or align aligned)
 *   slack is 0 for plain malloc and at most the alignment for heap_memalign.
 *
 * Debug levels (heap_env.debug, fixed at heap_init; docs/hardening.md has
 * the table of what each catches and costs):
 *   0  the layout above. Cheap checks stay on: a free of a pointer the heap
 *      never returned and a double free are always reported.
 *   1  every block (brk or large) carries struct heap_dbg between the core
 *      payload and the pointer the caller gets, and a tail canary after the
 *      requested bytes; freed memory is poisoned and the poison verified:
 *
 *   hdr | seq | -   | size | alloc pc | free pc | canary | user bytes ... | tail canary ...  |
 *       |<------------ struct heap_dbg, 48 bytes ------->^ p             ^ p + size        ^ block end
 *       (while free: next, prev free-list links; in the quarantine: next)
 *
 *      The head canary (a word from the address and the heap's secret)
 *      catches an underflow; the tail canary (HEAP_CANARY_BYTE, at least
 *      HEAP_DBG_TAIL_MIN bytes, so an overflow by up to 8 bytes stays inside
 *      the block) catches an overflow. Both are checked on free, realloc and
 *      by heap_check. A freed block keeps its heap_dbg (for the report of a
 *      later double free) and everything after it becomes HEAP_POISON_BYTE;
 *      the poison of free memory is verified when it is handed out again and
 *      by heap_check (write after free), and a read after free sees poison.
 *      heap_usable_size returns the requested size.
 *   2  level 1 plus a quarantine: freed brk blocks wait in a FIFO, marked
 *      HEAP_BLK_QUARANTINED, until more than quarantine_bytes (default
 *      256 KiB) wait; only then are they merged and reused. A double free of
 *      a waiting block is still caught. heap_trim empties the quarantine.
 *      (Large blocks skip it: their runs are unmapped at once.)
 */
#ifndef ALLOC_HEAP_H
#define ALLOC_HEAP_H

#include "glue.h"

/* Header word bits, for heap_check, heap_walk users and the GDB helpers. */
#define HEAP_BLK_FREE       0x1ull  /* this block is on a free list */
#define HEAP_BLK_PREV_FREE  0x2ull  /* the block before it is free: its foot word is valid */
#define HEAP_BLK_LARGE      0x4ull  /* a page-mapped large block (never in the brk region) */
#define HEAP_BLK_SPARE      0x8ull  /* level 2: HEAP_BLK_QUARANTINED; clear at levels 0 and 1 */
#define HEAP_BLK_QUARANTINED HEAP_BLK_SPARE  /* a freed brk block waiting in the quarantine */
#define HEAP_BLK_SIZE_MASK  0x000000fffffffff0ull
#define HEAP_BLK_TAG_SHIFT  40
#define HEAP_TAG_MULT       0x9e3779b97f4a7c15ull

#define HEAP_ALIGN          16
#define HEAP_OVERHEAD       8
#define HEAP_MIN_BLOCK      32
#define HEAP_SL_LOG2        5
#define HEAP_SL_COUNT       (1 << HEAP_SL_LOG2)   /* second-level lists per class */
#define HEAP_FL_COUNT       32                    /* first-level classes */
#define HEAP_FL_SHIFT       (HEAP_SL_LOG2 + 4)    /* sizes below 1 << 9 share class 0 */
/* Largest brk region: block sizes must map to one of the 32 classes. */
#define HEAP_MAX_BRK        (1ull << (HEAP_FL_SHIFT + HEAP_FL_COUNT - 1))   /* 1 TiB */

#define HEAP_DEFAULT_LARGE_THRESHOLD  (128u * 1024)
#define HEAP_DEFAULT_TRIM_THRESHOLD   (128u * 1024)
#define HEAP_DEFAULT_GROW_BYTES       (64u * 1024)

/* Level 0's slabs (see "slabs" above). */
#define HEAP_SLAB_MAX       64      /* largest request served from a slab */
#define HEAP_SLAB_CLASSES   4       /* object sizes 16, 32, 48, 64 */
#define HEAP_SLAB_RUN       4096    /* a run's alignment; its block is this many whole bytes */
#define HEAP_SLAB_RUN_SHIFT 12
#define HEAP_SLAB_HDR       64      /* sizeof(struct heap_slab): run start to first object */
#define HEAP_SLAB_WINDOW    (256ull << 20)   /* runs lie in this much of the break, from its base */
#define HEAP_SLAB_MAP_WORDS (HEAP_SLAB_WINDOW / HEAP_SLAB_RUN / 64)
#define HEAP_SLAB_SALT      0x736c616273616c74ull   /* "slabsalt", mixed into a run's check word */
/*
 * heap.slabs=auto counts used blocks of up to HEAP_SMALL_BLOCK whole bytes:
 * what requests of up to HEAP_SLAB_MAX bytes take when their block is not
 * padded by an unsplittable remainder (and requests of 65..72 bytes too,
 * and small aligned ones, which slabs do not serve): a proxy, not a census.
 */
#define HEAP_SMALL_BLOCK    80
#define HEAP_SLAB_AUTO_BLOCKS 16384 /* heap.slabs=auto: slabs on once this many small blocks are in use */

/* heap_env.slabs (see "slabs" above). 0 is auto: an env that says `false` gets auto, not off. */
#define HEAP_SLABS_AUTO     0       /* off, on once the heap holds env.slab_after small blocks */
#define HEAP_SLABS_ON       1
#define HEAP_SLABS_OFF      2

/* Level 0's front cache (see "cache" above). */
#define HEAP_CACHE_MAX_BLOCK 1024   /* whole block bytes: requests up to 1016 */
#define HEAP_CACHE_CLASSES  (HEAP_CACHE_MAX_BLOCK / HEAP_ALIGN - 1)  /* 32, 48, .. 1024 */
#define HEAP_CACHE_DEPTH    32      /* blocks per class at most, */
#define HEAP_CACHE_CLASS_BYTES 1024 /* and at most this many bytes (but one block), */
#define HEAP_CACHE_BYTES    53424   /* so this many whole block bytes in all (heap_impl.h) */
#define HEAP_CACHE_HOLE     4096    /* a free block after it smaller than this does not keep a block out */

#define HEAP_MAGIC          0x68656170u   /* "heap": struct heap after heap_init */
#define HEAP_MAGIC_SLABS    0x68656173u   /* "seah": the same, level 0 with env.slabs */
/* Whether m is what heap_init leaves in struct heap's magic. */
#define HEAP_MAGIC_OK(m)    ((m) == HEAP_MAGIC || (m) == HEAP_MAGIC_SLABS)

/* Debug levels (see the top of this file). */
#define HEAP_DEBUG_MAX      2
#define HEAP_DBG_HEAD       48      /* sizeof(struct heap_dbg): core payload to user pointer */
#define HEAP_DBG_TAIL_MIN   8       /* tail canary bytes at least */
#define HEAP_POISON_BYTE    0xdf    /* what freed memory holds at levels >= 1 */
#define HEAP_CANARY_BYTE    0xcc    /* what the tail canary holds */
#define HEAP_DEFAULT_QUARANTINE_BYTES (256u * 1024)
#define HEAP_FREED_LARGE_RING 16    /* large frees remembered for double-free reports */

/* The caller of the function this is written in, for the *_at entry points. */
#define HEAP_CALLER() ((uintptr_t)__builtin_return_address(0))

/* Kinds passed to heap_env.report. */
enum heap_err {
	HEAP_ERR_INVALID_FREE = 1, /* heap_free of a pointer the heap never returned */
	HEAP_ERR_DOUBLE_FREE = 2,  /* heap_free of a block that is already free */
	HEAP_ERR_INVALID_PTR = 3,  /* heap_realloc/heap_usable_size of a pointer that is not live */
	HEAP_ERR_OVERFLOW = 4,     /* level >= 1: a tail canary was overwritten */
	HEAP_ERR_UNDERFLOW = 5,    /* a head canary or a block header was overwritten */
	HEAP_ERR_WRITE_AFTER_FREE = 6, /* level >= 1: poison in freed memory changed */
};

struct heap_env {
	/*
	 * sbrk-shaped: moves the break by delta bytes (negative shrinks) and
	 * returns the old break, or (void *)-1 when it cannot. The heap only
	 * asks for multiples of page_size. The region must be contiguous and
	 * start page aligned; nobody else may move this break.
	 */
	void *(*sbrk)(void *ctx, intptr_t delta);
	/*
	 * A fresh page-aligned run of `bytes` (a multiple of page_size), or
	 * NULL. May be NULL itself: then every request is served from the break.
	 * At debug level 0 the heap is consistent whenever it calls map_pages
	 * or remap_pages, so these may call heap_trim on the same heap (to
	 * find pages under pressure); never from sbrk.
	 */
	void *(*map_pages)(void *ctx, size_t bytes);
	/* Gives back exactly a run map_pages returned, with the same length. */
	void (*unmap_pages)(void *ctx, void *p, size_t bytes);
	/*
	 * May be NULL. Resizes a run map_pages (or this) returned, from
	 * old_bytes to new_bytes (multiples of page_size), keeping the first
	 * min(old, new) bytes, in place or by moving its pages rather than
	 * copying them (mremap; in the kernel, moving the page-table entries).
	 * Returns the run's new start, or NULL with the old run untouched.
	 * heap_realloc uses it for large blocks at debug level 0.
	 */
	void *(*remap_pages)(void *ctx, void *p, size_t old_bytes, size_t new_bytes);
	/*
	 * Called on misuse (enum heap_err) with the offending address and one
	 * line of text ending without a newline. May be NULL: misuse is then
	 * ignored silently (still without corrupting anything).
	 */
	void (*report)(void *ctx, int kind, uintptr_t addr, const char *line);
	void *ctx;                 /* passed to every callback */
	size_t page_size;          /* power of two, >= 64; 4096 on x86_64 */
	size_t large_threshold;    /* requests >= this go to map_pages; 0 = 128 KiB */
	/*
	 * When the free block at the top of the break grows beyond this and
	 * beyond a quarter of in_use_bytes, the break shrinks, leaving that
	 * block a quarter of in_use_bytes (page aligned; as small as alignment
	 * allows when nothing is in use), never below the initial size.
	 * 0 = 128 KiB. Raised to grow_bytes if smaller, so that one grow never
	 * invites an immediate trim.
	 */
	size_t trim_threshold;
	/*
	 * The break grows by at least this many bytes (rounded up to pages), so
	 * a run of small mallocs costs one sbrk per chunk, not one each. It is
	 * also the initial size of the break, taken at heap_init and never
	 * trimmed away. 0 = 64 KiB.
	 */
	size_t grow_bytes;
	/* Mixed into every header's check tag; 0 = derived from addresses. */
	uint64_t secret;
	/* Debug level 0, 1 or 2 (see the top of this file); heap_init refuses more. */
	uint32_t debug;
	/* Level 2: freed bytes (whole blocks) the quarantine holds; 0 = 256 KiB. */
	size_t quarantine_bytes;
	/*
	 * Sampled guard pages ("sample" at the top of this file); 0 = off.
	 * Level 0 with map_pages: one allocation in sample_every of those the
	 * front cache does not serve gets a page of its own.
	 */
	size_t sample_every;
	/*
	 * May be NULL. Names what an address outside the heap is, for the report
	 * of an invalid free ("a page from the pmm? use pmm_free"); writes a
	 * short phrase into buf, or leaves buf empty to say nothing.
	 */
	void (*describe_addr)(void *ctx, uintptr_t addr, char *buf, size_t size);
	/*
	 * Level 0: serve requests of up to HEAP_SLAB_MAX bytes from slabs
	 * ("slabs" at the top of this file): HEAP_SLABS_ON from the start,
	 * HEAP_SLABS_OFF never (every request is a block), HEAP_SLABS_AUTO
	 * (0, the default) from when the heap holds many small blocks.
	 */
	uint32_t slabs;
	/*
	 * HEAP_SLABS_AUTO: slabs turn on when this many small blocks are in
	 * use; 0 = HEAP_SLAB_AUTO_BLOCKS.
	 */
	size_t slab_after;
};

/*
 * Levels >= 1: the record between a block's core payload and the pointer
 * the caller gets (see the drawing at the top).
 */
struct heap_dbg {
	uint64_t seq;          /* allocation number while live; free-list or quarantine link after */
	uint64_t link;         /* 0 while live; free-list prev link while free */
	uint64_t size;         /* bytes requested */
	uint64_t alloc_pc;     /* who allocated (or last reallocated) it */
	uint64_t free_pc;      /* who freed it; 0 while live */
	uint64_t canary;       /* head canary, right below the user pointer */
};

/* A large block freed at level >= 1, remembered so a second free says so. */
struct heap_freed_large {
	uintptr_t ptr;
	size_t size;
	uintptr_t alloc_pc, free_pc;
};

/* What a free block in the brk region looks like (see the drawing above). */
struct heap_free_block {
	uint64_t word;                       /* size | flags | tag */
	struct heap_free_block *next_free;   /* same list, NULL-terminated */
	struct heap_free_block *prev_free;
	/* ...; the block's last word holds its own address (the foot) */
};

/* Header at the start of every large run; ends right where the payload starts. */
struct heap_large {
	struct heap_large *next, *prev;   /* live large blocks, newest first */
	uintptr_t run;                    /* start of the mapped run (page aligned) */
	size_t run_bytes;                 /* its length, as passed to map_pages */
	uint64_t spare;                   /* 0 for now; reserved for the debug levels */
	uint64_t word;                    /* usable size | HEAP_BLK_LARGE | tag, at p - 8 */
};

/*
 * The head of a slab run (see "slabs" at the top of this file), at its
 * start, 16 bytes past a 4 KiB boundary; objects of `size` bytes follow
 * from start + 64.
 */
struct heap_slab {
	uint64_t check;            /* start ^ heap.secret ^ HEAP_SLAB_SALT: says this is a run */
	struct heap_slab *next, *prev;   /* its class's runs with a free object, if it has one */
	uint16_t size;             /* object bytes: 16, 32, 48 or 64 */
	uint16_t cap;              /* objects it holds */
	uint16_t live;             /* objects handed out */
	uint8_t cls;               /* size / 16 - 1 */
	uint8_t words;             /* bit w set iff free_bits[w] != 0 (0: the run is full) */
	uint64_t free_bits[4];     /* bit i set: object i is free; bits >= cap clear */
};

/*
 * Heap state, allocated by the caller (static in the kernel) and filled by
 * heap_init. Laid out plainly so GDB helpers can read it; callers only read
 * it through the functions below.
 */
struct heap {
	uint32_t magic;              /* HEAP_MAGIC once initialised (HEAP_MAGIC_SLABS with slabs) */
	uint32_t debug;              /* debug level 0, 1 or 2 (env.debug) */
	struct heap_env env;         /* copy of what heap_init got, defaults filled in */
	uint64_t secret;             /* mixed into check tags */

	uintptr_t base;              /* first byte of the brk region (page aligned) */
	uintptr_t brk;               /* current break; epilogue header at brk - 8 */
	uintptr_t floor_brk;         /* break after heap_init; trimming stops here */
	uintptr_t brk_slots;         /* (brk - base - 16) / 16, for blk_slot_ok (heap_impl.h) */

	/* TLSF index: bit f of fl_bitmap set iff sl_bitmap[f] != 0; bit s of
	 * sl_bitmap[f] set iff free_lists[f][s] != NULL. */
	uint32_t fl_bitmap;
	uint32_t sl_bitmap[HEAP_FL_COUNT];
	struct heap_free_block *free_lists[HEAP_FL_COUNT][HEAP_SL_COUNT];

	struct heap_large *large_list;   /* live large blocks */

	/* Counters, kept up to date on every call (see struct heap_stats). */
	size_t in_use_bytes;
	size_t free_bytes;
	size_t used_blocks;
	size_t free_blocks;
	size_t peak_in_use;
	size_t large_blocks;
	size_t small_blocks;   /* used blocks (cached ones too) of at most HEAP_SMALL_BLOCK bytes */
	size_t large_bytes;
	size_t sbrk_calls;           /* successful sbrk calls that moved the break */

	/* Debug levels (appended so that the fields above keep their offsets). */
	uint64_t alloc_seq;          /* level >= 1: the last allocation number handed out */
	uintptr_t quarantine_head;   /* level 2: oldest waiting block (header address), 0 if none */
	uintptr_t quarantine_tail;   /* newest waiting block */
	size_t quarantine_blocks;    /* blocks waiting; not in used_blocks nor free_blocks */
	size_t quarantine_bytes;     /* their whole block bytes; not in in_use_bytes */
	struct heap_freed_large freed_large[HEAP_FREED_LARGE_RING];
	unsigned freed_large_next;   /* next slot of that ring to overwrite */

	/*
	 * Level 0's front cache: class c holds blocks of (c + 2) * 16 bytes.
	 * Cached blocks stay counted in used_blocks and in_use_bytes (the TLSF
	 * core's view: carved from the break, not free), so a push or a pop
	 * touches only these fields; see "cache" at the top of this file.
	 */
	uintptr_t cache_head[HEAP_CACHE_CLASSES];   /* header address of the newest, 0 if none */
	uint32_t cache_count[HEAP_CACHE_CLASSES];   /* blocks on each LIFO */
	uint32_t cache_limit[HEAP_CACHE_CLASSES];   /* cache_limit_for(c), set by heap_init */
	uint64_t cache_key;          /* second payload word of every cached block; random, never 0 */
	size_t cache_max_req;        /* largest request it serves (below large_threshold) */
	size_t cache_max_block;      /* block_size_for(cache_max_req): the largest block it holds */

	/* Trim retention (see "trim" at the top of this file). */
	size_t retain;               /* bytes kept mapped above in_use_bytes / 4 */
	size_t trimmed_recent;       /* bytes automatic trims gave back that growth has not mapped again */

	/* Sampled guard pages (see "sample" at the top of this file). */
	size_t sample_left;          /* carved allocations until the next sample; 0 = sampling off */
	size_t sampled_blocks;       /* how many allocations were sampled so far */

	/* Slabs (see "slabs" at the top of this file). */
	size_t slab_lim;             /* requests below this are slab objects: HEAP_SLAB_MAX + 1, or 0 (off) */
	uintptr_t slab_pg0;          /* the run page of slab_map's bit 0; 2^40 pages below the break when off */
	size_t cache_hole;           /* HEAP_CACHE_HOLE with slabs, else 0 (see free_would_merge_inside) */
	struct heap_slab *slab_partial[HEAP_SLAB_CLASSES];   /* runs with a free object, per class */
	size_t slab_runs;            /* runs (each also one used block of the break) */
	size_t slab_live[HEAP_SLAB_CLASSES];   /* objects handed out, per class */
	size_t slab_skip;            /* refills left to serve as blocks after no run fitted in the window */
	size_t slab_auto_at;         /* heap.slabs=auto, not on yet: small_blocks that turn slabs on; else SIZE_MAX */
	uint64_t slab_map[HEAP_SLAB_MAP_WORDS];   /* bit i: page slab_pg0 + i is a run */
};

struct heap_stats {
	size_t brk_bytes;      /* break - base; == in_use + free + quarantine + 16 (pad, epilogue) */
	size_t in_use_bytes;   /* whole block bytes (header included) of used brk blocks */
	size_t free_bytes;     /* whole block bytes of free brk blocks */
	size_t largest_free;   /* whole bytes of the largest free brk block on a TLSF list (0 if none) */
	size_t used_blocks;    /* used blocks in the brk region */
	size_t free_blocks;    /* free blocks in the brk region */
	size_t peak_in_use;    /* high-water mark of in_use_bytes + large_bytes */
	size_t large_blocks;   /* live page-mapped blocks */
	size_t large_bytes;    /* bytes mapped for them (whole runs) */
	size_t quarantine_blocks;  /* level 2: freed blocks waiting (in none of the above) */
	size_t quarantine_bytes;   /* their whole block bytes */
	size_t small_blocks;       /* used blocks of at most HEAP_SMALL_BLOCK bytes (heap.slabs=auto counts them) */
	size_t slabs;              /* 1: small requests are slab objects (from the start, or since auto turned them on) */
	size_t slab_runs;          /* slab runs (in used_blocks and in_use_bytes, as blocks) */
	size_t slab_objects;       /* objects live in them */
	size_t slab_bytes;         /* their bytes (class sizes) */
};

/*
 * Takes the initial break (one growth chunk) and sets up an empty heap.
 * Returns 0, or -1 if env is unusable (no sbrk, map_pages without
 * unmap_pages, page_size not a power of two >= 64, break not page aligned,
 * debug above HEAP_DEBUG_MAX) or the first sbrk fails; h is then unusable.
 * The caller keeps h alive and in place for the heap's whole life.
 */
int heap_init(struct heap *h, const struct heap_env *env);

/*
 * A 16-aligned block of at least size usable bytes, or NULL when out of
 * memory or size > PTRDIFF_MAX (nothing is changed then). heap_malloc(h, 0)
 * returns a unique minimum block (24 usable bytes; 0 at debug levels) that
 * must be freed like any other.
 */
void *heap_malloc(struct heap *h, size_t size);

/*
 * Gives back p (NULL is fine). A pointer the heap did not return, or a block
 * already freed, is reported through env.report (HEAP_ERR_INVALID_FREE /
 * HEAP_ERR_DOUBLE_FREE) and nothing changes. The check is cheap, so it is not
 * complete: a forged header with a matching tag is believed. O(1) for brk
 * blocks; a pointer outside the break is looked up in the list of live large
 * blocks (so it is never read unless it is one), O(large blocks). Only
 * when the pointer is bad does it walk the blocks, to say what it points
 * into ("interior pointer into 0x... size 64").
 * At levels >= 1 the canaries are checked first (an overwritten one is
 * reported as HEAP_ERR_OVERFLOW / HEAP_ERR_UNDERFLOW and the block is still
 * freed), the block is poisoned, and at level 2 it waits in the quarantine.
 */
void heap_free(struct heap *h, void *p);

/* heap_malloc(n * size) zeroed; NULL when n * size overflows or memory runs out. */
void *heap_calloc(struct heap *h, size_t n, size_t size);

/*
 * Resizes p keeping min(old, new) bytes of contents: in place when shrinking,
 * when the next block is free and big enough, or when p is the last block
 * below the break (the break grows); otherwise moves (malloc, copy, free).
 * p == NULL behaves as heap_malloc. size == 0 shrinks p to a minimum block
 * and returns it (as heap_malloc(0) would): it does not free p.
 * Returns NULL when out of memory or size > PTRDIFF_MAX, leaving p intact and
 * allocated; also NULL (after a HEAP_ERR_INVALID_PTR report) when p is not a
 * live block.
 */
void *heap_realloc(struct heap *h, void *p, size_t size);

/*
 * A block of at least size bytes aligned to align, freed with heap_free.
 * align must be a power of two (1 .. anything that fits); 0 or a non power of
 * two returns NULL, as does running out of memory. Alignments up to 16 cost
 * nothing extra; larger ones search the brk for size + align + 32 bytes and
 * give the leading part back as a free block, or (size >= large_threshold)
 * map a run with up to align bytes of slack.
 */
void *heap_memalign(struct heap *h, size_t align, size_t size);

/*
 * Usable bytes at p (>= what was asked for; exactly that at debug levels,
 * where the bytes after it are the canary), 0 for NULL. A pointer that is
 * not a live block is reported (HEAP_ERR_INVALID_PTR) and gives 0.
 */
size_t heap_usable_size(struct heap *h, void *p);

/*
 * The same six, told who called: the kernel's kmalloc family passes its own
 * caller (HEAP_CALLER()) so that debug reports name the code that called
 * kmalloc, not kmalloc. The plain versions above pass their own caller.
 */
void *heap_malloc_at(struct heap *h, size_t size, uintptr_t caller);
void heap_free_at(struct heap *h, void *p, uintptr_t caller);
void *heap_calloc_at(struct heap *h, size_t n, size_t size, uintptr_t caller);
void *heap_realloc_at(struct heap *h, void *p, size_t size, uintptr_t caller);
void *heap_memalign_at(struct heap *h, size_t align, size_t size, uintptr_t caller);
size_t heap_usable_size_at(struct heap *h, void *p, uintptr_t caller);

/*
 * Shrinks the break as far as the free block at its top allows (never below
 * the initial break), regardless of trim_threshold and in_use_bytes. It first
 * empties the quarantine (level 2) or the front cache (level 0). Returns the bytes given back. For leak checks
 * that want a canonical heap.
 */
size_t heap_trim(struct heap *h);

/*
 * Level 2: releases every block waiting in the quarantine (oldest first,
 * verifying its poison as it goes). Level 0: releases every block in the
 * front cache (merging each, then trimming as a free would). Returns how
 * many; 0 at level 1.
 */
size_t heap_flush_quarantine(struct heap *h);

/*
 * Fills *st from the counters; largest_free walks one free list. At level 0
 * it first flushes the front cache into the free lists (merging, never
 * trimming: the break does not move), so the numbers are those of a heap
 * without one, and two calls with nothing between agree.
 */
void heap_get_stats(struct heap *h, struct heap_stats *st);

/*
 * Checks every invariant the heap relies on: blocks chain from the first
 * header to the epilogue exactly, headers carry valid tags, no two free
 * blocks touch, PREV_FREE bits and foot words agree, every free block is on
 * the list its size maps to and every listed block is free, the bitmaps match
 * the lists, the large list is sound, the front cache is sound (every entry
 * a used block of its class carrying cache_key, every block carrying it on
 * its LIFO, the counts per class right), and all counters match.
 * Returns 0, or -1 with the first problem written into why (if why != NULL).
 * Reads only heap memory, follows no pointer it has not range-checked, and
 * bounds every list walk, so corruption gives a message, not a fault or hang.
 * Time: linear in blocks, plus a search of its list for each free block
 * (slow only when thousands of free blocks share one list).
 * At levels >= 1 it also checks every live block's canaries and the poison
 * of all free and quarantined memory (so it is linear in heap bytes), and
 * names the block and the byte: "heap_check: overflow past 0x... (size 48):
 * canary at +48 overwritten (allocated at foo+0x1c)".
 */
int heap_check(struct heap *h, char *why, size_t len);

/* Values of heap_walk's `used` argument. */
#define HEAP_WALK_FREE  0
#define HEAP_WALK_USED  1
#define HEAP_WALK_LARGE 2
#define HEAP_WALK_QUARANTINED 3   /* level 2 only: freed, waiting in the quarantine */

/*
 * Calls cb for every brk block in address order, then for every large block
 * (newest first), with the payload address (what heap_malloc returned or
 * would return), its usable bytes, and HEAP_WALK_*. cb must not call into h.
 * At debug levels, used, large and quarantined blocks are given as the
 * pointer the caller got and the size it asked for (free blocks as before).
 * At level 0 a block in the front cache is given as HEAP_WALK_FREE (its
 * payload and usable bytes), as heap_get_stats counts it.
 */
void heap_walk(struct heap *h, void (*cb)(void *ctx, void *block_ptr, size_t size, int used),
	       void *ctx);

/* One live block, for heap_leaks. */
struct heap_block_info {
	void *ptr;             /* what the allocation returned */
	size_t size;           /* bytes requested (level 0: usable bytes) */
	uintptr_t alloc_pc;    /* who allocated it (level 0: 0, not recorded) */
	uint64_t seq;          /* its allocation number, increasing (level 0: 0) */
	bool large;            /* a page-mapped large block */
};

/*
 * Calls cb for every live block (brk blocks in address order, then large
 * ones), so a leak check can list what is left and where it came from:
 * compare seq with h->alloc_seq taken before to see only the newer ones.
 * cb must not call into h. Returns the number of live blocks.
 */
size_t heap_leaks(struct heap *h, void (*cb)(void *ctx, const struct heap_block_info *b), void *ctx);

#endif /* ALLOC_HEAP_H */
