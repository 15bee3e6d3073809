/*
 * kernel/arch/x86_64/layout.h - the virtual memory map, written down once.
 * Included by assembly and C; linker.ld repeats KERNEL_VMA and KERNEL_PHYS
 * (keep them equal). docs/paging.md draws the same table.
 *
 *   0x0000000000000000  nothing: page 0 and all low addresses unmapped after vmm_init
 *   0xffff800000000000  direct map of all physical memory (RW, NX, large pages), 32 TiB
 *   0xffffb00000000000  scratch window the vmm tests map and unmap
 *   0xffffc00000000000  kbrk heap window: mapped from its base up to the break
 *   0xffffd00000000000  large allocations, page runs with unmapped guard pages
 *   0xffffe00000000000  kernel stacks, each with an unmapped guard page below
 *   0xffffffff80000000  kernel image (text R-X, rodata R--, data/bss RW-)
 */
#ifndef ARCH_LAYOUT_H
#define ARCH_LAYOUT_H

#ifdef __ASSEMBLER__
#define LAYOUT_UL(x) x
#else
#define LAYOUT_UL(x) x##UL
#endif

#define PAGE_SHIFT        12
#define PAGE_SIZE         LAYOUT_UL(4096)

#define KERNEL_VMA        LAYOUT_UL(0xffffffff80000000)
#define KERNEL_PHYS       LAYOUT_UL(0x100000)
#define DIRECT_MAP_BASE   LAYOUT_UL(0xffff800000000000)
#define DIRECT_MAP_SIZE   LAYOUT_UL(0x0000200000000000)   /* 32 TiB */
#define HEAP_BASE         LAYOUT_UL(0xffffc00000000000)
#define HEAP_SIZE         LAYOUT_UL(0x0000100000000000)   /* 16 TiB */
#define LARGE_BASE        LAYOUT_UL(0xffffd00000000000)
#define LARGE_SIZE        LAYOUT_UL(0x0000100000000000)
#define VMM_TEST_BASE     LAYOUT_UL(0xffffb00000000000)   /* scratch window for the vmm tests */
#define VMM_TEST_SIZE     LAYOUT_UL(0x0000010000000000)
#define KSTACK_BASE       LAYOUT_UL(0xffffe00000000000)
#define KSTACK_SIZE_AREA  LAYOUT_UL(0x0000100000000000)

#define BOOT_STACK_SIZE   (16 * 1024)
#define IST_STACK_SIZE    (16 * 1024)

/* What the early boot tables map through the direct map (see multiboot2.S). */
#define BOOT_DIRECT_MAP_LIMIT LAYOUT_UL(0x100000000)

#ifndef __ASSEMBLER__
#include <stdint.h>
static inline void *phys_to_virt(uint64_t pa) { return (void *)(pa + DIRECT_MAP_BASE); }
static inline uint64_t virt_to_phys_direct(const void *va) { return (uint64_t)va - DIRECT_MAP_BASE; }
/* For addresses inside the kernel image only. */
static inline uint64_t kernel_virt_to_phys(const void *va) { return (uint64_t)va - KERNEL_VMA; }
#endif

#endif
