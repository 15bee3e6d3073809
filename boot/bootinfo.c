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

int bootinfo_normalize(struct boot_info *info)
{
	int err = memmap_normalize(&info->map, info->raw, info->raw_count, max_phys());
	int e;
	/*
	 * Real-mode leftovers, the BIOS data area and the EBDA live in the first
	 * 1 MiB: never hand it out. Only its RAM is marked, so the holes (the VGA
	 * window, option ROMs) stay holes and the direct map leaves them out.
	 */
	for (unsigned i = 0; i < info->map.n && info->map.r[i].base < 0x100000; i++) {
		struct memmap_range r = info->map.r[i];
		uint64_t end = r.base + r.len < 0x100000 ? r.base + r.len : 0x100000;
		if (r.type == MEMMAP_USABLE && (e = memmap_reserve(&info->map, r.base, end - r.base, MEMMAP_LOW1M)) &&
		    !err)
			err = e;
	}
	if ((e = memmap_reserve(&info->map, info->kernel_phys_start,
				info->kernel_phys_end - info->kernel_phys_start, MEMMAP_KERNEL)) && !err)
		err = e;
	for (unsigned i = 0; i < info->module_count; i++)
		if ((e = memmap_reserve(&info->map, info->modules[i].start,
					info->modules[i].end - info->modules[i].start, MEMMAP_BOOTDATA)) && !err)
			err = e;
	if (info->bootdata_end > info->bootdata_start)
		if ((e = memmap_reserve(&info->map, info->bootdata_start,
					info->bootdata_end - info->bootdata_start, MEMMAP_BOOTDATA)) && !err)
			err = e;
	return err;
}
