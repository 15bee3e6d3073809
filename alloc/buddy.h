/*
 * alloc/buddy.h - the page-frame buddy allocator core.
 *
 * Hands out naturally aligned blocks of 2^order pages (order 0..10: 4 KiB to
 * 4 MiB) from one span of physical frames. It never touches the memory it
 * manages: all its state lives in a metadata array the caller provides, one
 * struct buddy_frame per frame. So the kernel can run it before it owns the
 * page tables, and the host tests can manage physical ranges that don't exist.
 *
 * Alignment is relative to physical address 0: an order-N block starts at a
 * multiple of 4 KiB << N, whatever the span's base, so the kernel can map big
 * blocks with large pages.
 *
 * Misuse (a double free, a wrong order, ...) goes to the instance's report
 * callback with a one-line message, after the state has been checked and
 * before anything changes; a broken invariant is an ALLOC_ASSERT.
 */
#ifndef ALLOC_BUDDY_H
#define ALLOC_BUDDY_H

#include "glue.h"

#define BUDDY_PAGE_SHIFT  12
#define BUDDY_PAGE_SIZE   (1ull << BUDDY_PAGE_SHIFT)
#define BUDDY_MAX_ORDER   10
#define BUDDY_NORDERS     (BUDDY_MAX_ORDER + 1)
#define BUDDY_NO_FRAME    UINT64_MAX   /* buddy_alloc: nothing free of that order */
#define BUDDY_NONE        UINT32_MAX   /* end of a free list / no frame index */

/* Frame states. 0 is RESERVED, so a zeroed metadata array means "nothing usable". */
enum buddy_state {
	BUDDY_RESERVED = 0,   /* not RAM we may hand out (hole, firmware, kernel, ...) */
	BUDDY_FREE_HEAD,      /* first frame of a free block; .order, .next, .prev valid */
	BUDDY_FREE_TAIL,      /* any other frame of a free block */
	BUDDY_ALLOC_HEAD,     /* first frame of an allocated block; .order valid */
	BUDDY_ALLOC_TAIL,     /* any other frame of an allocated block */
};

enum buddy_error {
	BUDDY_E_OUTSIDE     = -1,  /* the address is not in the span */
	BUDDY_E_MISALIGNED  = -2,  /* not page aligned, or not aligned to the order's size */
	BUDDY_E_BAD_ORDER   = -3,  /* order > BUDDY_MAX_ORDER */
	BUDDY_E_RESERVED    = -4,  /* a frame that was never free */
	BUDDY_E_DOUBLE_FREE = -5,  /* the frame is already free */
	BUDDY_E_WRONG_ORDER = -6,  /* an allocated block, but of another order */
	BUDDY_E_NOT_HEAD    = -7,  /* inside an allocated block, not its first frame */
};

/*
 * Per-frame metadata. Free lists are linked through it by frame index. In
 * reserved frames and tails only .state means anything (the rest is left
 * as it was, to keep init cheap).
 */
struct buddy_frame {
	uint32_t next, prev;  /* free list links (free heads only), BUDDY_NONE at the ends */
	uint8_t state;        /* enum buddy_state */
	uint8_t order;        /* block order (heads only) */
	uint8_t owner;        /* allocated heads only: who holds it (buddy_set_owner); 0 = anyone */
};
_Static_assert(sizeof(struct buddy_frame) == 12, "struct buddy_frame grew: metadata is 0.3% of RAM");

/*
 * Called on misuse with an enum buddy_error, the address and order the
 * caller passed, and a line like "buddy: double free of frame 0x1234000
 * (order 0)". The state is consistent when it is called, so it may
 * longjmp or panic.
 */
typedef void (*buddy_report_fn)(void *ctx, int err, uint64_t pa, unsigned order, const char *line);

/* Fields are public so the GDB helpers can read them; only buddy.c writes them. */
struct buddy {
	uint64_t base_pfn;                   /* frame number of frames[0] */
	uint64_t nframes;                    /* frames in the span, free or not */
	struct buddy_frame *frames;          /* nframes entries */
	uint32_t free_head[BUDDY_NORDERS];   /* frame index of each free list's first block */
	uint64_t free_blocks[BUDDY_NORDERS]; /* length of each free list */
	uint64_t free_frames;                /* frames in free blocks */
	uint64_t reserved_frames;            /* frames never made free; the rest are allocated */
	buddy_report_fn report;
	void *report_ctx;
};

struct buddy_stats {
	uint64_t total_frames, free_frames, reserved_frames, allocated_frames;
	uint64_t free_blocks[BUDDY_NORDERS];
};

/* Bytes of metadata buddy_init() needs for nframes frames. */
size_t buddy_meta_bytes(uint64_t nframes);

/*
 * Sets up b over the nframes frames from base_pa, all reserved: make usable
 * memory free with buddy_add_free(). meta must hold buddy_meta_bytes(nframes)
 * bytes, 4-byte aligned, and stay with b for its life; it need not be zeroed.
 * Costs one byte store per frame (no memset of the whole array).
 * The caller guarantees base_pa is page aligned and nframes < BUDDY_NONE
 * (asserted). report may be NULL (misuse is then only returned).
 */
void buddy_init(struct buddy *b, uint64_t base_pa, uint64_t nframes, void *meta,
		buddy_report_fn report, void *report_ctx);

/*
 * Makes [pa, pa + len) free, merging with free neighbours. The caller
 * guarantees it is page aligned, inside the span and all reserved
 * (asserted: handing out the same memory twice is a kernel bug, not misuse).
 * Costs one metadata write per frame plus a few list operations per 4 MiB.
 */
void buddy_add_free(struct buddy *b, uint64_t pa, uint64_t len);

/*
 * Allocates a block of 2^order frames, aligned to 4 KiB << order. Returns its
 * physical address, or BUDDY_NO_FRAME if no block that large is free or order
 * is above BUDDY_MAX_ORDER (running out is not misuse: no report).
 */
uint64_t buddy_alloc(struct buddy *b, unsigned order);

/*
 * Frees the block at pa that buddy_alloc(order) returned, merging it with
 * free buddies. Returns 0, or a negative enum buddy_error after reporting it;
 * then nothing has changed. Checked in this order: BAD_ORDER, OUTSIDE,
 * MISALIGNED, RESERVED, DOUBLE_FREE, NOT_HEAD, WRONG_ORDER.
 */
int buddy_free(struct buddy *b, uint64_t pa, unsigned order);

/*
 * Tags the allocated block whose first frame is pa with an owner (any
 * nonzero value the environment gives a meaning: the kernel marks the heap's
 * frames, so that freeing one as a page is caught). buddy_alloc clears it.
 * Returns 0, or BUDDY_E_OUTSIDE / BUDDY_E_NOT_HEAD if pa is not the first
 * frame of an allocated block (nothing changes then).
 */
int buddy_set_owner(struct buddy *b, uint64_t pa, uint8_t owner);
/* The owner of the allocated block holding pa; 0 if untagged, free, reserved or outside. */
uint8_t buddy_owner(const struct buddy *b, uint64_t pa);

/* A short description of an enum buddy_error ("double free", ...); never NULL. */
const char *buddy_strerror(int err);

/*
 * Which block holds pa: its state (enum buddy_state of its head frame, or
 * BUDDY_RESERVED), its order (0 for reserved frames) and its first address
 * (pa's page for reserved frames). Any out pointer may be NULL.
 * Returns 0, or BUDDY_E_OUTSIDE if pa is not in the span.
 */
int buddy_frame_info(const struct buddy *b, uint64_t pa, unsigned *state, unsigned *order,
		     uint64_t *block_pa);

void buddy_get_stats(const struct buddy *b, struct buddy_stats *st);

/*
 * Walks every frame and every free list. Returns 0, or -1 with the first
 * inconsistency described in why (which may be NULL): broken links, a tail
 * without its head, a free block whose buddy is free with the same order
 * (should have merged), counts that disagree, ... O(nframes).
 */
int buddy_check(const struct buddy *b, char *why, size_t why_len);

/* Emits one line per order ("order  0 (4 KiB):     12 free blocks") and a line of totals. */
void buddy_dump(const struct buddy *b, void (*emit)(void *ctx, const char *line), void *ctx);

#endif /* ALLOC_BUDDY_H */
