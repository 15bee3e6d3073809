/*
 * boot/mb2.c - multiboot2 tags -> struct boot_info.
 *
 * multiboot2.S calls mb2_main(magic, info) on the boot stack, with the early
 * page tables mapping the first 4 GiB at DIRECT_MAP_BASE (GRUB puts the
 * information structure below 4 GiB: it hands us a 32-bit pointer). We copy
 * what the kernel needs into a struct boot_info and call kmain: nothing after
 * this file reads a multiboot2 tag.
 */
#include <stdint.h>

#include "../kernel/arch/x86_64/layout.h"
#include "../kernel/kmain.h"
#include "../kernel/lib/string.h"
#include "bootinfo.h"
#include "efi_memtype.h"

#define MB2_TAG_END        0
#define MB2_TAG_CMDLINE    1
#define MB2_TAG_LOADER     2
#define MB2_TAG_MODULE     3
#define MB2_TAG_MMAP       6
#define MB2_TAG_ACPI_OLD   14
#define MB2_TAG_ACPI_NEW   15
#define MB2_TAG_EFI_MMAP   17

/* Multiboot2 memory types: 1 usable, 3 ACPI reclaimable, 4 NVS, 5 bad, others reserved. */
static uint32_t mb2_type(uint32_t t)
{
	switch (t) {
	case 1: return MEMMAP_USABLE;
	case 3: return MEMMAP_ACPI_RECLAIM;
	case 4: return MEMMAP_ACPI_NVS;
	case 5: return MEMMAP_BAD;
	default: return MEMMAP_RESERVED;
	}
}

struct mb2_tag {
	uint32_t type, size;
};

static struct boot_info info;

static void copy_string(char *dst, size_t size, const struct mb2_tag *tag)
{
	const char *s = (const char *)(tag + 1);
	size_t max = tag->size - sizeof *tag;
	size_t n = 0;
	while (n < max && s[n])
		n++;
	if (n >= size)
		n = size - 1;
	memcpy(dst, s, n);
	dst[n] = 0;
}

static void parse(uint64_t info_pa)
{
	const uint8_t *base = phys_to_virt(info_pa);
	uint32_t total = *(const uint32_t *)base;
	const struct mb2_tag *efi_mmap = NULL, *mmap = NULL;

	info.bootdata_start = info_pa;
	info.bootdata_end = info_pa + total;

	for (uint32_t off = 8; off + sizeof(struct mb2_tag) <= total;) {
		const struct mb2_tag *tag = (const void *)(base + off);
		if (tag->type == MB2_TAG_END || tag->size < sizeof *tag)
			break;
		switch (tag->type) {
		case MB2_TAG_CMDLINE:
			copy_string(info.cmdline, sizeof info.cmdline, tag);
			break;
		case MB2_TAG_LOADER:
			copy_string(info.loader, sizeof info.loader, tag);
			break;
		case MB2_TAG_MODULE:
			if (info.module_count < BOOTINFO_MODULES_MAX) {
				const uint32_t *m = (const uint32_t *)(tag + 1);
				struct boot_module *bm = &info.modules[info.module_count++];
				bm->start = m[0];
				bm->end = m[1];
				const char *s = (const char *)(m + 2);
				size_t n = 0;
				while (n + 16 < tag->size && s[n] && n + 1 < sizeof bm->name)
					n++;
				memcpy(bm->name, s, n);
				bm->name[n] = 0;
			}
			break;
		case MB2_TAG_MMAP:
			mmap = tag;
			break;
		case MB2_TAG_EFI_MMAP:
			efi_mmap = tag;
			break;
		case MB2_TAG_ACPI_OLD:
		case MB2_TAG_ACPI_NEW:
			/* The tag holds a copy of the RSDP; it stays valid because the
			 * information structure is kept reserved as boot data. Prefer
			 * the ACPI 2.0 copy when both are given. */
			if (tag->type == MB2_TAG_ACPI_NEW || !info.acpi_rsdp) {
				info.acpi_rsdp = info_pa + off + sizeof *tag;
				info.acpi_rsdp_revision = ((const uint8_t *)(tag + 1))[15];
			}
			break;
		}
		off += (tag->size + 7) & ~7u;
	}

	/* GRUB-EFI gives both maps; the EFI one says more (boot services vs. runtime). */
	if (efi_mmap) {
		const uint32_t *h = (const uint32_t *)(efi_mmap + 1);
		uint32_t desc_size = h[0];
		const uint8_t *d = (const uint8_t *)(h + 2);
		const uint8_t *end = (const uint8_t *)efi_mmap + efi_mmap->size;
		strlcpy(info.raw_source, "multiboot2 EFI mmap", sizeof info.raw_source);
		for (; desc_size >= 40 && d + desc_size <= end; d += desc_size) {
			const struct efi_memory_descriptor *e = (const void *)d;
			if (info.raw_count == BOOTINFO_RAWMAP_MAX) {
				info.raw_dropped++;
				continue;
			}
			info.raw[info.raw_count++] = (struct memmap_range){
				e->physical_start, e->number_of_pages * 4096, efi_memtype_to_memmap(e->type) };
		}
	} else if (mmap) {
		const uint32_t *h = (const uint32_t *)(mmap + 1);
		uint32_t entry_size = h[0];
		const uint8_t *e = (const uint8_t *)(h + 2);
		const uint8_t *end = (const uint8_t *)mmap + mmap->size;
		strlcpy(info.raw_source, "multiboot2 mmap", sizeof info.raw_source);
		for (; entry_size >= 24 && e + entry_size <= end; e += entry_size) {
			const uint64_t *q = (const uint64_t *)e;
			if (info.raw_count == BOOTINFO_RAWMAP_MAX) {
				info.raw_dropped++;
				continue;
			}
			info.raw[info.raw_count++] = (struct memmap_range){ q[0], q[1],
									    mb2_type(*(const uint32_t *)(e + 16)) };
		}
	}
}

extern const char __kernel_phys_start[], __kernel_end[];

void mb2_main(uint32_t magic, uint32_t info_pa)
{
	(void)magic;            /* checked in multiboot2.S */
	parse(info_pa);
	info.kernel_phys_start = (uint64_t)__kernel_phys_start;
	info.kernel_phys_end = kernel_virt_to_phys(__kernel_end);
	kmain(&info);
}
