/*
 * kernel/bootlog.c - what the kernel says about the machine it woke up on:
 * the loader, the command line, and the memory map as a table with totals,
 * the way Linux prints its e820 map.
 */
#include "bootlog.h"

#include "printk.h"

static void print_size(uint64_t bytes)
{
	if (bytes >= (1ULL << 30) && !(bytes & ((1ULL << 30) - 1)))
		printk("%6lu GiB", bytes >> 30);
	else if (bytes >= (1ULL << 20))
		printk("%6lu MiB", bytes >> 20);
	else
		printk("%6lu KiB", bytes >> 10);
}

void bootlog_map(const char *title, const struct memmap_range *r, unsigned n)
{
	printk("%s:\n", title);
	printk("  %-18s  %-18s  %10s  %s\n", "base", "end (exclusive)", "size", "type");
	for (unsigned i = 0; i < n; i++) {
		printk("  0x%016lx  0x%016lx  ", r[i].base, r[i].base + r[i].len);
		print_size(r[i].len);
		printk("  %s\n", memmap_type_name(r[i].type));
	}
}

void bootlog_memmap(const struct boot_info *info)
{
	printk("memory map from the boot loader (%s, %u entries, as given):\n", info->raw_source,
	       info->raw_count);
	for (unsigned i = 0; i < info->raw_count; i++)
		printk("  [mem 0x%016lx-0x%016lx] %s\n", info->raw[i].base,
		       info->raw[i].base + info->raw[i].len - 1, memmap_type_name(info->raw[i].type));
	bootlog_map("normalized memory map", info->map.r, info->map.n);
	uint64_t usable = memmap_total(&info->map, MEMMAP_USABLE);
	uint64_t reserved = 0;
	for (unsigned i = 0; i < info->map.n; i++)
		if (info->map.r[i].type != MEMMAP_USABLE)
			reserved += info->map.r[i].len;
	printk("  usable: %lu KiB (%lu MiB) in %lu pages; not usable: %lu KiB\n", usable >> 10, usable >> 20,
	       usable >> 12, reserved >> 10);
}
