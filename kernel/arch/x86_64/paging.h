/*
 * kernel/arch/x86_64/paging.h - the x86_64 4-level page-table format, written
 * down once. Everything that reads or writes a page-table entry uses these
 * names (the vmm, the fault reporter, the GDB helpers mirror them).
 *
 * A 48-bit virtual address is cut 9/9/9/9/12:
 *
 *   63      48 47     39 38     30 29     21 20     12 11          0
 *  +----------+---------+---------+---------+---------+-------------+
 *  | sign ext | PML4    | PDPT    | PD      | PT      | page offset |
 *  | of bit 47| index   | index   | index   | index   |             |
 *  +----------+---------+---------+---------+---------+-------------+
 *                  |         |         |         |
 *   CR3 -> PML4 ---+         |         |         |      512 entries of 8 bytes each,
 *          PML4E -> PDPT ----+         |         |      every table exactly one 4 KiB frame
 *                 PDPTE -> PD ---------+         |
 *                   (PS=1: a 1 GiB page)         |
 *                        PDE -> PT --------------+
 *                          (PS=1: a 2 MiB page)
 *                               PTE -> 4 KiB frame
 *
 * An entry: bit 0 present, 1 writable, 2 user, 3 write-through, 4 cache
 * disable, 5 accessed, 6 dirty (leaves), 7 PS (large page, in PDPTE/PDE),
 * 8 global, bits 12..51 the physical address of the next table or frame
 * (a large page's address must be aligned to its size), 63 no-execute.
 * Permissions combine along the walk: writable only if every level says W,
 * executable only if no level says NX.
 */
#ifndef ARCH_PAGING_H
#define ARCH_PAGING_H

#include <stdint.h>

typedef uint64_t pte_t;
_Static_assert(sizeof(pte_t) == 8, "a page-table entry is 8 bytes");

#define PT_ENTRIES      512
_Static_assert(PT_ENTRIES * sizeof(pte_t) == 4096, "a page table is one 4 KiB frame");

#define PTE_P     (1UL << 0)     /* present */
#define PTE_W     (1UL << 1)     /* writable */
#define PTE_U     (1UL << 2)     /* user accessible (memkern has no user mode) */
#define PTE_PWT   (1UL << 3)
#define PTE_PCD   (1UL << 4)
#define PTE_A     (1UL << 5)     /* accessed: set by the CPU */
#define PTE_D     (1UL << 6)     /* dirty: set by the CPU (leaves) */
#define PTE_PS    (1UL << 7)     /* page size: a 1 GiB / 2 MiB leaf at PDPT / PD level */
#define PTE_G     (1UL << 8)     /* global: survives a CR3 reload */
#define PTE_NX    (1UL << 63)    /* no execute (needs EFER.NXE) */
#define PTE_ADDR  0x000ffffffffff000UL

/* Levels, numbered as the walk goes down. */
#define LVL_PML4  4
#define LVL_PDPT  3
#define LVL_PD    2
#define LVL_PT    1

#define LEVEL_SHIFT(l)   (12 + 9 * ((l) - 1))           /* 12, 21, 30, 39 */
#define LEVEL_SIZE(l)    (1UL << LEVEL_SHIFT(l))        /* 4K, 2M, 1G, 512G */
#define PT_INDEX(va, l)  (((uint64_t)(va) >> LEVEL_SHIFT(l)) & 0x1ff)
#define PML4_INDEX(va)   PT_INDEX(va, LVL_PML4)
#define PDPT_INDEX(va)   PT_INDEX(va, LVL_PDPT)
#define PD_INDEX(va)     PT_INDEX(va, LVL_PD)
#define PTE_INDEX(va)    PT_INDEX(va, LVL_PT)
#define PAGE_OFFSET(va)  ((uint64_t)(va) & 0xfff)

#define PAGE_4K  LEVEL_SIZE(LVL_PT)
#define PAGE_2M  LEVEL_SIZE(LVL_PD)
#define PAGE_1G  LEVEL_SIZE(LVL_PDPT)

static inline uint64_t pte_addr(pte_t e) { return e & PTE_ADDR; }
static inline int pte_present(pte_t e) { return (e & PTE_P) != 0; }
/* A leaf: a PT entry, or a PDPT/PD entry with PS set. */
static inline int pte_is_leaf(pte_t e, int level) { return level == LVL_PT || (e & PTE_PS); }
/* A large page's frame address (PS entries keep PAT in bit 12). */
static inline uint64_t pte_leaf_addr(pte_t e, int level)
{
	return level == LVL_PT ? pte_addr(e) : pte_addr(e) & ~(LEVEL_SIZE(level) - 1);
}

/* Canonical: bits 63..48 copy bit 47. */
static inline int va_is_canonical(uint64_t va) { return (uint64_t)((int64_t)(va << 16) >> 16) == va; }

#endif
