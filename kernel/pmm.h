/*
 * kernel/pmm.h - physical memory: the buddy core (alloc/buddy.c) bound to the
 * machine's normalized memory map. Frames are named by physical address.
 */
#ifndef KERNEL_PMM_H
#define KERNEL_PMM_H

#include <stdbool.h>
#include <stdint.h>

#include "../alloc/buddy.h"
#include "../boot/bootinfo.h"
#include "arch/x86_64/layout.h"

#define PMM_MAX_ORDER BUDDY_MAX_ORDER

/* Below this much usable RAM memkern refuses to run, with a message (see docs). */
#define PMM_MIN_USABLE (24UL << 20)

/*
 * Carves the frame metadata from RAM itself (sized to the machine), marks it
 * reserved in info->map, and frees every usable range. Panics with a clear
 * message if the machine is too small or the map has no room for the metadata.
 */
void pmm_init(struct boot_info *info);

/*
 * A block of 2^order frames aligned to 4 KiB << order; 0 when none is free,
 * even after asking the reclaim hook (below) to give frames back.
 */
uint64_t pmm_alloc(unsigned order);
/*
 * Memory pressure: when no block of the order is free, pmm_alloc calls fn
 * once (never from inside itself) and tries again if fn gave bytes back.
 * The kernel heap registers one: it hands back the pages it keeps mapped
 * for reuse (kheap_reclaim). NULL unregisters it.
 */
void pmm_set_reclaim(size_t (*fn)(void));
/*
 * Whether at least `frames` frames are free, after asking the reclaim hook
 * once if they were not: for callers that check before they start mapping.
 */
bool pmm_ensure_free(uint64_t frames);
/* The same, zero-filled (through the direct map). 0 when none is free. */
uint64_t pmm_alloc_zeroed(unsigned order);
static inline uint64_t pmm_alloc_page(void) { return pmm_alloc(0); }
/*
 * Gives back what pmm_alloc(order) returned. Misuse (double free, a reserved
 * frame, an address outside RAM, misaligned, wrong order) panics with a line
 * naming the address; a death test can expect that panic. So does a frame
 * that pmm_alloc_owned gave to an owner ("pmm_free: frame 0x... belongs to
 * the kernel heap (kmalloc memory? use kfree)"), and a kmalloc pointer or a
 * direct-map address passed where a physical address belongs.
 */
void pmm_free(uint64_t pa, unsigned order);
static inline void pmm_free_page(uint64_t pa) { pmm_free(pa, 0); }

/*
 * Frames with an owner: the frames under the kernel heap (kbrk, klarge) and
 * the page tables' own frames are tagged, so that a pmm_free of kmalloc
 * memory or of a live page table is caught instead of handing it to the
 * next pmm_alloc. pmm_free_owned checks the tag it is given (and panics,
 * naming the real owner, on a mismatch).
 */
#define PMM_OWNER_NONE 0
#define PMM_OWNER_HEAP 1        /* the kernel heap: kbrk's break and klarge's runs */
#define PMM_OWNER_PAGETABLE 2   /* a page-table frame vmm allocated (vmm_unmap gives it back) */
uint64_t pmm_alloc_owned(unsigned order, unsigned owner);
void pmm_free_owned(uint64_t pa, unsigned order, unsigned owner);
/* The owner of the allocated block holding pa (PMM_OWNER_NONE if untagged or not allocated). */
unsigned pmm_owner(uint64_t pa);

struct pmm_info {
	uint64_t usable_frames;         /* usable in the map before the pmm carved its metadata */
	uint64_t taken_frames;          /* what the kernel took out of that at boot (metadata) */
	uint64_t meta_pa, meta_bytes;
	uint64_t init_us;               /* how long pmm_init took (TSC) */
};
const struct pmm_info *pmm_info(void);
void pmm_stats(struct buddy_stats *st);
uint64_t pmm_free_frames(void);
uint64_t pmm_allocated_frames(void);
int pmm_check(char *why, size_t len);
void pmm_dump(void);                    /* per-order free blocks and totals, to the console */
const struct buddy *pmm_buddy(void);    /* read-only view, for the shell and GDB helpers */
/* Which block holds pa (see buddy_frame_info). */
int pmm_frame_info(uint64_t pa, unsigned *state, unsigned *order, uint64_t *block_pa);

/*
 * Fault injection: make the nth pmm_alloc from now fail (1 = the next one),
 * 0 turns it off. Lets tests prove that every caller copes with running out.
 */
void pmm_fail_nth(uint64_t n);

#endif
