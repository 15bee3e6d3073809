/*
 * boot/bootinfo.c - the step every boot path shares: turn the loader's raw
 * memory map into the normalized one, with the kernel's own reservations
 * laid over it (first 1 MiB, kernel image, modules, boot data).
 */
#include "bootinfo.h"

#include "../kernel/arch/x86_64/cpu.h"

/* The CPU's physical address width: anything above it is not RAM we can use. */
static uint64_t max_phys(void)
{
	uint32_t a, b, c, d;
	cpuid(0x80000000, 0, &a, &b, &c, &d);
	if (a < 0x80000008)
		return 1ULL << 36;
	cpuid(0x80000008, 0, &a, &b, &c, &d);
	return 1ULL << (a & 0xff);
}

/* Lays one kernel reservation over the map; a full map must not go unnoticed. */
static void reserve(struct boot_info *info, uint64_t base, uint64_t len, uint32_t type, int *failed)
{
	if (len && memmap_reserve(&info->map, base, len, type))
		(*failed)++;
}

int bootinfo_normalize(struct boot_info *info, int *reserve_failures)
{
	int err = memmap_normalize(&info->map, info->raw, info->raw_count, max_phys());
	*reserve_failures = 0;

	/*
	 * Real-mode leftovers, the BIOS data area and the EBDA live in the first
	 * 1 MiB: never hand it out. Only its RAM is marked, so the holes (the VGA
	 * window, option ROMs) stay holes and the direct map leaves them out.
	 * The usable ranges are collected first: reserving changes the map.
	 */
	struct memmap_range low[8];
	unsigned nlow = 0;
	for (unsigned i = 0; i < info->map.n && info->map.r[i].base < 0x100000 && nlow < 8; i++)
		if (info->map.r[i].type == MEMMAP_USABLE)
			low[nlow++] = info->map.r[i];
	for (unsigned i = 0; i < nlow; i++) {
		uint64_t end = low[i].base + low[i].len < 0x100000 ? low[i].base + low[i].len : 0x100000;
		reserve(info, low[i].base, end - low[i].base, MEMMAP_LOW1M, reserve_failures);
	}
	reserve(info, info->kernel_phys_start, info->kernel_phys_end - info->kernel_phys_start, MEMMAP_KERNEL,
		reserve_failures);
	for (unsigned i = 0; i < info->module_count; i++)
		reserve(info, info->modules[i].start, info->modules[i].end - info->modules[i].start, MEMMAP_BOOTDATA,
			reserve_failures);
	if (info->bootdata_end > info->bootdata_start)
		reserve(info, info->bootdata_start, info->bootdata_end - info->bootdata_start, MEMMAP_BOOTDATA,
			reserve_failures);
	return err;
}
