/*
 * kernel/vmm.h - virtual memory: memkern's own 4-level page tables.
 *
 * vmm_init() builds them from frames of the pmm and switches CR3: the kernel
 * image per section (text R-X, rodata R-- NX, data/bss RW- NX), a direct map
 * of all RAM at DIRECT_MAP_BASE (RW-, NX, 1 GiB or 2 MiB pages), and nothing
 * else: the boot identity map is gone, so NULL and low addresses fault.
 * After that, vmm_map/unmap/protect change single 4 KiB pages anywhere.
 */
#ifndef KERNEL_VMM_H
#define KERNEL_VMM_H

#include <stdbool.h>
#include <stdint.h>

#include "../boot/bootinfo.h"

/* Mapping flags: pages are always readable; these add rights. */
#define VMM_WRITE   (1u << 0)
#define VMM_EXEC    (1u << 1)

/* Error codes (returned negated: 0 is success). */
#define VMM_EINVAL  1    /* misaligned, non-canonical, empty or wrapping range, bad flags */
#define VMM_EEXIST  2    /* vmm_map: some page in the range is already mapped */
#define VMM_ENOENT  3    /* vmm_unmap / vmm_protect: some page in the range is not mapped */
#define VMM_ENOMEM  4    /* no frame for a page table */
const char *vmm_strerror(int err);

void vmm_init(struct boot_info *info);

/*
 * Maps npages 4 KiB pages at va to the frames at pa. va and pa must be page
 * aligned, the range canonical and entirely unmapped. Returns 0 or -VMM_E*;
 * on error nothing changed (tables allocated on the way are freed again).
 */
int vmm_map(uint64_t va, uint64_t pa, uint64_t npages, unsigned flags);
/* The same, but with 2 MiB (or 1 GiB) pages wherever va and pa are aligned to them. */
int vmm_map_large(uint64_t va, uint64_t pa, uint64_t npages, unsigned flags);
/*
 * Unmaps npages pages at va, every one of which must be mapped (4 KiB pages,
 * or parts of large pages, which are split). Frees page tables that become
 * empty and invalidates the TLB. Does not free the frames that were mapped.
 * Returns 0 or -VMM_E*; on error no translation changed (though a large page
 * at one edge may have been split before a second split ran out of frames:
 * the same mappings, one more table, freed when it empties).
 */
int vmm_unmap(uint64_t va, uint64_t npages);
/* Sets new rights on npages mapped pages (splitting large pages). 0 or
 * -VMM_E*, with the same guarantee on error as vmm_unmap. */
int vmm_protect(uint64_t va, uint64_t npages, unsigned flags);

struct vmm_translation {
	uint64_t pa;            /* physical address of va itself (offset included) */
	unsigned flags;         /* VMM_WRITE / VMM_EXEC, as the walk combines them */
	int level;              /* where the walk ended: 1 = PT (4 KiB), 2 = PD (2 MiB), 3 = PDPT (1 GiB) */
	uint64_t page_size;
};
/* Walks the tables for va. Returns 0, -VMM_EINVAL (non-canonical) or -VMM_ENOENT. */
int vmm_translate(uint64_t va, struct vmm_translation *out);

/*
 * W^X audit: walks every table and counts leaf pages that are both writable
 * and executable, printing the first few. Returns that count (0 is good).
 */
uint64_t vmm_audit_wx(bool print);

/* Mapped ranges, merged, with their rights, one line each (like Linux's ptdump). */
void vmm_dump(uint64_t from, uint64_t to);

/* Page-table frames the vmm holds now (for leak accounting). */
uint64_t vmm_table_frames(void);
uint64_t vmm_root(void);                /* physical address of the PML4 */
bool vmm_large_pages_1g(void);          /* the direct map used 1 GiB pages */

/* For fault reports, the shell and tests: the walk of va, level by level,
 * and the name of the region of the memory map it falls in. */
void vmm_print_walk(uint64_t va);
void vmm_describe_region(uint64_t va, char *buf, size_t size);

#endif
