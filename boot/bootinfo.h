/*
 * boot/bootinfo.h - struct boot_info: the only thing a boot loader hands the
 * kernel. boot/mb2.c fills it from GRUB's multiboot2 tags, boot/uefi/ from the
 * UEFI firmware; nothing after boot/ knows which. Addresses are physical.
 */
#ifndef BOOT_BOOTINFO_H
#define BOOT_BOOTINFO_H

#include <stdint.h>

#include "../alloc/memmap.h"

#define BOOTINFO_CMDLINE_MAX   512
#define BOOTINFO_LOADER_MAX    64
#define BOOTINFO_MODULES_MAX   8
/* UEFI firmware hands over ~130 descriptors at 8 GiB: room for twice that. */
#define BOOTINFO_RAWMAP_MAX    256

struct boot_module {
	uint64_t start, end;            /* physical, end exclusive */
	char name[48];
};

struct boot_info {
	/* The memory map exactly as the loader gave it (for printing and tests). */
	unsigned raw_count;
	unsigned raw_dropped;           /* entries the loader had but raw[] could not hold */
	struct memmap_range raw[BOOTINFO_RAWMAP_MAX];
	char raw_source[24];            /* "multiboot2 mmap", "multiboot2 EFI mmap", "UEFI" */

	/* The normalized map the kernel uses: filled by bootinfo_normalize(). */
	struct memmap map;

	char cmdline[BOOTINFO_CMDLINE_MAX];
	char loader[BOOTINFO_LOADER_MAX];

	uint64_t kernel_phys_start, kernel_phys_end;   /* whole loaded image */
	uint64_t bootdata_start, bootdata_end;         /* loader data we still read (0,0 if none) */

	unsigned module_count;
	struct boot_module modules[BOOTINFO_MODULES_MAX];

	uint64_t acpi_rsdp;             /* physical address of the RSDP, 0 if none */
	uint32_t acpi_rsdp_revision;
};

/*
 * Builds info->map from info->raw plus the kernel's own reservations (first
 * 1 MiB, kernel image, modules, boot data). Shared by every boot path.
 * Returns 0, or MEMMAP_E_FULL when the firmware map needed more than
 * MEMMAP_MAX ranges (the map then ends early: what is above is not used).
 * *reserve_failures counts reservations that did not fit: the caller must
 * not hand out memory then, since the kernel's own frames may look free.
 */
int bootinfo_normalize(struct boot_info *info, int *reserve_failures);

#endif
