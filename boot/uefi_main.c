/*
 * boot/uefi_main.c - our own UEFI loader's struct boot_info -> kmain.
 *
 * entry64.S calls uefi_main(info_pa) on the boot stack, with the early page
 * tables mapping the first 4 GiB at DIRECT_MAP_BASE. The loader (boot/uefi/)
 * already filled a struct boot_info in pages below 4 GiB; we copy it into
 * kernel memory, so nothing after this file reads the loader's pages, make
 * sure its strings end and its counts fit, and call kmain.
 */
#include <stdint.h>

#include "../kernel/arch/x86_64/layout.h"
#include "../kernel/kmain.h"
#include "../kernel/lib/string.h"
#include "bootinfo.h"

static struct boot_info info;

extern const char __kernel_phys_start[], __kernel_end[];

__attribute__((noreturn)) void uefi_main(uint64_t info_pa);

void uefi_main(uint64_t info_pa)
{
	if (info_pa && info_pa % 8 == 0 && info_pa + sizeof info <= BOOT_DIRECT_MAP_LIMIT) {
		memcpy(&info, phys_to_virt(info_pa), sizeof info);
	} else {
		/* Nothing to read: kmain then stops with "no memory map" and says why. */
		strlcpy(info.loader, "memkern UEFI loader (boot_info out of reach of the early map)",
			sizeof info.loader);
	}

	/* A loader bug must not become a kernel overrun. */
	info.cmdline[sizeof info.cmdline - 1] = 0;
	info.loader[sizeof info.loader - 1] = 0;
	info.raw_source[sizeof info.raw_source - 1] = 0;
	if (info.raw_count > BOOTINFO_RAWMAP_MAX)
		info.raw_count = BOOTINFO_RAWMAP_MAX;
	if (info.module_count > BOOTINFO_MODULES_MAX)
		info.module_count = BOOTINFO_MODULES_MAX;

	/* The image as linked must stay reserved, whatever range the loader reported. */
	uint64_t start = (uint64_t)__kernel_phys_start, end = kernel_virt_to_phys(__kernel_end);
	if (info.kernel_phys_end <= info.kernel_phys_start) {
		info.kernel_phys_start = start;
		info.kernel_phys_end = end;
	}
	if (info.kernel_phys_start > start)
		info.kernel_phys_start = start;
	if (info.kernel_phys_end < end)
		info.kernel_phys_end = end;

	kmain(&info);
}
