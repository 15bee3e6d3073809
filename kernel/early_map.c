/*
 * kernel/early_map.c - stretch the boot page tables' direct map over all RAM.
 *
 * multiboot2.S maps the first 4 GiB at DIRECT_MAP_BASE. On a machine with
 * RAM above 4 GiB, frames the pmm hands out may lie up there, and vmm_init
 * must write page tables into them before its own direct map exists. So
 * before the pmm starts, this adds 2 MiB-page directories for the rest of
 * RAM to the boot tables, in frames carved from the map below 4 GiB (and
 * reserved there, as boot data: they die with the boot tables).
 */
#include "early_map.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/paging.h"
#include "panic.h"
#include "printk.h"

extern pte_t boot_pdpt_low[PT_ENTRIES];

uint64_t early_map_all_ram(struct memmap *map)
{
	uint64_t end = memmap_usable_end(map);
	if (end <= BOOT_DIRECT_MAP_LIMIT)
		return 0;
	uint64_t first = BOOT_DIRECT_MAP_LIMIT / PAGE_1G, last = (end + PAGE_1G - 1) / PAGE_1G;
	if (last > PT_ENTRIES)
		panic("early_map_all_ram: RAM ends at 0x%lx, beyond the 512 GiB one boot PDPT can map", end);
	uint64_t bytes = (last - first) * PAGE_4K;
	uint64_t pa = memmap_find_free(map, bytes, PAGE_4K, BOOT_DIRECT_MAP_LIMIT);
	if (!pa || memmap_reserve(map, pa, bytes, MEMMAP_BOOTDATA))
		panic("early_map_all_ram: no room below 4 GiB for %lu KiB of boot page directories", bytes >> 10);
	for (uint64_t g = first; g < last; g++) {
		uint64_t pd_pa = pa + (g - first) * PAGE_4K;
		pte_t *pd = phys_to_virt(pd_pa);
		for (uint64_t i = 0; i < PT_ENTRIES; i++)
			pd[i] = (g * PAGE_1G + i * PAGE_2M) | PTE_P | PTE_W | PTE_PS;
		boot_pdpt_low[g] = pd_pa | PTE_P | PTE_W;
	}
	write_cr3(read_cr3());
	printk("early map: boot direct map extended to 0x%lx with %lu page directories at 0x%lx\n",
	       last * PAGE_1G, last - first, pa);
	return bytes;
}
