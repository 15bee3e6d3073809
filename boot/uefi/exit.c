/*
 * boot/uefi/exit.c - the last steps: the memory map, ExitBootServices, the
 * raw map in boot_info, the jump into the kernel.
 *
 * ExitBootServices takes the key of the current memory map; any allocation
 * since that map was read (including one inside the firmware, a timer event
 * for instance) changes the key and the call fails with
 * EFI_INVALID_PARAMETER. Then we fetch the map again, into the buffer we
 * already have, and retry. After the first call, even a failed one, the
 * UEFI spec allows only GetMemoryMap and ExitBootServices: so no printing
 * through ConOut and no returning to the firmware from there on. The raw
 * map the kernel gets is built from the map fetched right before the
 * successful ExitBootServices, and nothing is allocated in between, so it
 * is exactly the memory as the firmware left it.
 */
#include "loader.h"
#include "../efi_memtype.h"

#define MAP_SLACK_DESCS 32      /* allocating the buffer may split a range or two: room for more */
#define EXIT_ATTEMPTS   8

EFI_STATUS map_prepare(struct efi_map *m)
{
	ZeroMem(m, sizeof *m);
	EFI_STATUS st = BS->GetMemoryMap(&m->size, NULL, &m->key, &m->desc_size, &m->desc_version);
	if (st != EFI_BUFFER_TOO_SMALL)
		return EFI_ERROR(st) ? st : EFI_NOT_FOUND;
	if (m->desc_size < sizeof(EFI_MEMORY_DESCRIPTOR))
		return EFI_INCOMPATIBLE_VERSION;
	m->capacity = m->size + MAP_SLACK_DESCS * m->desc_size;
	st = BS->AllocatePool(EfiLoaderData, m->capacity, (void **)&m->buf);
	if (EFI_ERROR(st)) {
		m->buf = NULL;
		return st;
	}
	m->size = m->capacity;
	st = BS->GetMemoryMap(&m->size, m->buf, &m->key, &m->desc_size, &m->desc_version);
	if (!EFI_ERROR(st) && m->size < m->desc_size)
		st = EFI_NOT_FOUND;
	if (EFI_ERROR(st))
		map_free(m);
	return st;
}

void map_free(struct efi_map *m)
{
	if (m->buf)
		BS->FreePool(m->buf);
	m->buf = NULL;
}

/*
 * The firmware's map, each descriptor converted by efi_memtype_to_memmap()
 * and otherwise as given. Only if it has more descriptors than boot_info
 * holds are touching ranges of one converted type merged (and raw_source
 * says so); whatever still does not fit is left out and counted in
 * raw_dropped, which only ever hides memory from the kernel, never hands
 * it out.
 */
static void raw_map(struct boot_info *bi, const struct efi_map *m)
{
	UINTN n = m->size / m->desc_size;
	BOOLEAN merge = n > BOOTINFO_RAWMAP_MAX;
	const UINT8 *p = (const UINT8 *)m->buf;
	bi->raw_count = bi->raw_dropped = 0;
	for (UINTN i = 0; i < n; i++) {
		const EFI_MEMORY_DESCRIPTOR *d = (const void *)(p + i * m->desc_size);
		struct memmap_range r = { d->PhysicalStart, d->NumberOfPages << EFI_PAGE_SHIFT,
					  efi_memtype_to_memmap(d->Type) };
		struct memmap_range *last = bi->raw_count ? &bi->raw[bi->raw_count - 1] : NULL;
		if (merge && last && last->type == r.type && last->base + last->len == r.base) {
			last->len += r.len;
			continue;
		}
		if (bi->raw_count == BOOTINFO_RAWMAP_MAX) {
			bi->raw_dropped++;      /* the kernel warns about these */
			continue;
		}
		bi->raw[bi->raw_count++] = r;
	}
	const char *src = merge ? "UEFI (merged)" : "UEFI";
	UINTN i = 0;
	for (; src[i] && i + 1 < sizeof bi->raw_source; i++)
		bi->raw_source[i] = src[i];
	bi->raw_source[i] = 0;
}

EFI_STATUS exit_and_jump(EFI_HANDLE image, struct efi_map *m, struct boot_info *bi, UINT64 bi_pa,
			 UINT64 entry)
{
	for (unsigned attempt = 0;; attempt++) {
		m->size = m->capacity;
		EFI_STATUS st = BS->GetMemoryMap(&m->size, m->buf, &m->key, &m->desc_size, &m->desc_version);
		if (EFI_ERROR(st)) {
			if (attempt == 0)
				return fail(st, L"cannot read the UEFI memory map: %r", st);
			die_after_exit("GetMemoryMap failed after a failed ExitBootServices; halting");
		}
		st = BS->ExitBootServices(image, m->key);
		if (!EFI_ERROR(st))
			break;
		if (st != EFI_INVALID_PARAMETER)
			die_after_exit("ExitBootServices failed (not a stale map key); halting");
		if (attempt + 1 == EXIT_ATTEMPTS)
			die_after_exit("ExitBootServices kept failing: the memory map changes under us; halting");
	}

	/* Boot services are gone: the firmware's page tables, GDT and IDT are still loaded. */
	raw_map(bi, m);
	__asm__ volatile("cli\n\tjmp *%0" : : "r"(entry), "D"(bi_pa) : "memory");
	__builtin_unreachable();
}
