/*
 * boot/uefi/loader.c - memkern's own UEFI loader (BOOTX64.EFI): efi_main.
 *
 * The firmware starts us from \EFI\BOOT\BOOTX64.EFI. We load
 * \memkern\kernel.elf from the same volume at its physical addresses, fill
 * a struct boot_info (boot/bootinfo.h) the way boot/mb2.c fills it for
 * GRUB, exit boot services and jump to the kernel's 64-bit entry
 * (boot/entry64.S) with the boot_info's physical address in RDI.
 *
 * Any failure before ExitBootServices prints one "memkern-uefi: error: ..."
 * line, gives back what we allocated, waits a few seconds so a person can
 * read it, and returns the error to the firmware (which tries its next boot
 * option). We never jump into a half-loaded kernel. docs/boot-uefi.md walks
 * through the steps.
 */
#include "loader.h"
#include "handoff.h"

#define CR4_LA57 (1u << 12)

static inline UINT64 read_cr4(void)
{
	UINT64 v;
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static void copy_str(char *dst, UINTN size, const char *src)
{
	UINTN i = 0;
	for (; src[i] && i + 1 < size; i++)
		dst[i] = src[i];
	dst[i] = 0;
}

struct loader {
	EFI_HANDLE image;
	EFI_LOADED_IMAGE *self;
	EFI_FILE_HANDLE root;
	struct kernel_image kernel;
	EFI_PHYSICAL_ADDRESS bi_pa;
	UINTN bi_pages;
	struct boot_info *bi;
	struct efi_map map;
};

/* The boot_info, zeroed, in pages below 4 GiB: the kernel reads it through
 * the early map of the first 4 GiB (boot/uefi_main.c). */
static EFI_STATUS alloc_boot_info(struct loader *l)
{
	l->bi_pages = EFI_SIZE_TO_PAGES(sizeof(struct boot_info));
	l->bi_pa = HANDOFF_BOOTINFO_LIMIT - 1;
	EFI_STATUS st = BS->AllocatePages(AllocateMaxAddress, EfiLoaderData, l->bi_pages, &l->bi_pa);
	if (EFI_ERROR(st)) {
		l->bi_pa = 0;
		return fail(st, L"cannot allocate %d pages below 4 GiB for the boot information: %r",
			    (int)l->bi_pages, st);
	}
	l->bi = (struct boot_info *)(UINTN)l->bi_pa;
	ZeroMem(l->bi, l->bi_pages << EFI_PAGE_SHIFT);
	return EFI_SUCCESS;
}

static EFI_STATUS run(struct loader *l)
{
	EFI_STATUS st;
	say(L"%a, on %s firmware rev 0x%x (UEFI %d.%02d)", LOADER_NAME, ST->FirmwareVendor, ST->FirmwareRevision,
	    ST->Hdr.Revision >> 16, ST->Hdr.Revision & 0xffff);

	/* entry64.S builds 4-level tables, and long mode cannot leave 5-level paging. */
	if (read_cr4() & CR4_LA57)
		return fail(EFI_UNSUPPORTED, L"the firmware runs with 5-level paging; memkern's early page tables are 4-level");

	st = BS->HandleProtocol(l->image, &gEfiLoadedImageProtocolGuid, (void **)&l->self);
	if (EFI_ERROR(st))
		return fail(st, L"cannot get our own loaded-image protocol: %r", st);
	st = file_open_boot_volume(l->self, &l->root);
	if (EFI_ERROR(st))
		return fail(st, L"cannot open the file system BOOTX64.EFI was loaded from: %r", st);

	if (EFI_ERROR((st = elf_load_kernel(l->root, KERNEL_PATH, &l->kernel))))
		return st;
	say(L"loaded kernel.elf: %d segments, 0x%lx-0x%lx, 64-bit entry at 0x%lx", l->kernel.segments,
	    l->kernel.start, l->kernel.end, l->kernel.entry);

	if (EFI_ERROR((st = alloc_boot_info(l))))
		return st;
	struct boot_info *bi = l->bi;
	copy_str(bi->loader, sizeof bi->loader, LOADER_NAME);
	copy_str(bi->raw_source, sizeof bi->raw_source, "UEFI");
	bi->kernel_phys_start = l->kernel.start;
	bi->kernel_phys_end = l->kernel.end;
	bi->bootdata_start = l->bi_pa;
	bi->bootdata_end = l->bi_pa + (l->bi_pages << EFI_PAGE_SHIFT);

	const CHAR16 *source;
	if (EFI_ERROR((st = cmdline_read(l->root, l->self, bi->cmdline, sizeof bi->cmdline, &source))))
		return st;
	if (source)
		say(L"command line (from %s): \"%a\"", source, bi->cmdline);
	else
		say(L"command line: none (no %s, and no text in the load options)", CMDLINE_PATH);

	bi->acpi_rsdp = acpi_find_rsdp(ST, &bi->acpi_rsdp_revision);
	if (bi->acpi_rsdp)
		say(L"ACPI RSDP at 0x%lx (revision %d)", bi->acpi_rsdp, bi->acpi_rsdp_revision);
	else
		say(L"no ACPI RSDP in the configuration table");
	say(L"boot information at 0x%lx-0x%lx", bi->bootdata_start, bi->bootdata_end);

	l->root->Close(l->root);
	l->root = NULL;

	if (EFI_ERROR((st = map_prepare(&l->map))))
		return fail(st, L"the firmware gives no memory map (GetMemoryMap: %r)", st);
	say(L"memory map: %d entries; exiting boot services, jumping to the kernel",
	    (int)(l->map.size / l->map.desc_size));
	return exit_and_jump(l->image, &l->map, bi, l->bi_pa, l->kernel.entry);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	InitializeLib(image, systab);
	struct loader l;
	ZeroMem(&l, sizeof l);
	l.image = image;

	EFI_STATUS st = run(&l);        /* returns only on failure */

	map_free(&l.map);
	if (l.bi_pa)
		BS->FreePages(l.bi_pa, l.bi_pages);
	elf_unload_kernel(&l.kernel);
	file_close(l.root);
	BS->Stall(FAIL_STALL_US);
	return st;
}
