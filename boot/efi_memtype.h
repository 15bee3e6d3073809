/*
 * boot/efi_memtype.h - UEFI memory types -> memmap types, shared by the
 * multiboot2 EFI-map path (mb2.c) and our own UEFI loader (boot/uefi/).
 * After ExitBootServices, boot services code and data are ordinary RAM;
 * runtime services must stay mapped and untouched; ACPI reclaimable is kept
 * apart from NVS; anything we do not know is reserved.
 */
#ifndef BOOT_EFI_MEMTYPE_H
#define BOOT_EFI_MEMTYPE_H

#include <stdint.h>

#include "../alloc/memmap.h"

struct efi_memory_descriptor {       /* UEFI spec 2.x, EFI_MEMORY_DESCRIPTOR */
	uint32_t type;
	uint32_t pad;
	uint64_t physical_start;
	uint64_t virtual_start;
	uint64_t number_of_pages;
	uint64_t attribute;
};

static inline uint32_t efi_memtype_to_memmap(uint32_t efi_type)
{
	switch (efi_type) {
	case 1:  /* EfiLoaderCode */
	case 2:  /* EfiLoaderData: the kernel and boot data in it are reserved by range */
	case 3:  /* EfiBootServicesCode */
	case 4:  /* EfiBootServicesData */
	case 7:  /* EfiConventionalMemory */
		return MEMMAP_USABLE;
	case 8:  /* EfiUnusableMemory */
		return MEMMAP_BAD;
	case 9:  /* EfiACPIReclaimMemory */
		return MEMMAP_ACPI_RECLAIM;
	case 10: /* EfiACPIMemoryNVS */
		return MEMMAP_ACPI_NVS;
	default: /* reserved, runtime services, MMIO, PAL code, persistent, unknown */
		return MEMMAP_RESERVED;
	}
}

#endif
