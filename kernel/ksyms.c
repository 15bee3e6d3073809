/*
 * kernel/ksyms.c - addresses to names, for fault reports, backtraces and
 * "allocated at foo+0x1c" in heap reports.
 *
 * The table is embedded in the kernel image itself, in the .ksyms section
 * the linker script places last. The build links twice: once with an empty
 * table, then tools/gen-ksyms turns that image's function symbols (nm) into
 * build/ksyms.S and the second link adds it. Because .ksyms comes after
 * everything else, adding it moves no other symbol, so the table is exact.
 * (An embedded table works the same under every boot path; a GRUB module
 * would need the UEFI loader to load it too.)
 */
#include "ksyms.h"

#include "lib/string.h"
#include "printk.h"

/* Emitted by tools/gen-ksyms, sorted by address. */
extern const uint64_t ksyms_count;
extern const uint64_t ksyms_addrs[];
extern const uint32_t ksyms_name_offsets[];
extern const char ksyms_names[];
extern const char __text_start[], __text_end[];

const char *ksym_lookup(uint64_t addr, uint64_t *offset)
{
	if (addr < (uint64_t)__text_start || addr >= (uint64_t)__text_end || ksyms_count == 0)
		return NULL;
	/* Binary search for the last symbol at or below addr. */
	uint64_t lo = 0, hi = ksyms_count;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (ksyms_addrs[mid] <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (ksyms_addrs[lo] > addr)
		return NULL;
	if (offset)
		*offset = addr - ksyms_addrs[lo];
	return ksyms_names + ksyms_name_offsets[lo];
}

uint64_t ksym_address(const char *name)
{
	for (uint64_t i = 0; i < ksyms_count; i++)
		if (strcmp(ksyms_names + ksyms_name_offsets[i], name) == 0)
			return ksyms_addrs[i];
	return 0;
}

void ksym_format(uint64_t addr, char *buf, size_t size)
{
	uint64_t off;
	const char *name = ksym_lookup(addr, &off);
	if (name)
		snprintf(buf, size, "%s+0x%lx", name, off);
	else
		snprintf(buf, size, "0x%lx", addr);
}

/* alloc/glue.h asks every environment for this. */
void alloc_describe_pc(uintptr_t pc, char *buf, size_t size)
{
	ksym_format(pc, buf, size);
}
